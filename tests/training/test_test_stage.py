"""The TEST stage reads each batch's signals once."""

from test_brain import _brain, _items

from speechbrain_galr.training.brain import SeparationBrain


def test_each_test_batch_is_read_once(tmp_path, monkeypatch):
    reads = []
    original = SeparationBrain._signals

    def counted(self, batch):
        reads.append(tuple(batch.id))
        return original(self, batch)

    monkeypatch.setattr(SeparationBrain, "_signals", counted)
    brain = _brain(tmp_path, 1)
    brain.evaluate(_items(4), test_loader_kwargs={"batch_size": 2})
    assert reads == [("utt0", "utt1"), ("utt2", "utt3")]
    assert len(brain.test_results.stats.ids) == 4
