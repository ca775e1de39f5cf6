"""SeparationBrain in-process: loss, lr schedule, time budget, results."""

import csv

import pytest
import soundfile
import speechbrain as sb
import torch
import yaml
from speechbrain.lobes.models.dual_path import Decoder, Encoder
from speechbrain.nnet.schedulers import StepScheduler
from speechbrain.utils.epoch_loop import EpochCounter

from speechbrain_galr.nnet.galr import GALR
from speechbrain_galr.nnet.tasnet import TasNet
from speechbrain_galr.training.brain import (
    SeparationBrain,
    fixed_order_si_snr_loss,
)
from speechbrain_galr.training.checkpoints import (
    AtomicCheckpointer,
    CheckpointError,
)


@pytest.fixture(autouse=True)
def restore_torch_threads():
    """The brains below set one torch thread (num_threads: fastest for tiny
    models on a busy CPU); other tests get theirs back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _items(num, length=400, num_spks=2):
    generator = torch.Generator().manual_seed(0)
    items = []
    for i in range(num):
        sources = torch.randn(num_spks, length, generator=generator)
        item = {"id": f"utt{i}", "mix_sig": sources.sum(0)}
        for c in range(num_spks):
            item[f"s{c + 1}_sig"] = sources[c]
        items.append(item)
    return items


def _brain(tmp_path, epochs, **extra):
    modules = {
        "encoder": Encoder(kernel_size=16, out_channels=16),
        "masknet": GALR(16, 16, 16, num_blocks=1, num_heads=2,
                        segment_size=10, reduced_segment_size=4),
        "decoder": Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    }  # fmt: skip
    model = TasNet(**modules)
    counter = EpochCounter(epochs)
    hparams = {
        "num_spks": 2,
        "sample_rate": 8000,
        "output_folder": str(tmp_path),
        "epoch_counter": counter,
        "lr_scheduler": StepScheduler(1e-3, 0.96, 2),
        "training_signal_len": 200,
        "limit_training_signal_len": True,
        "save_folder": str(tmp_path / "save"),
        "num_test_examples": 1,
        "num_threads": 1,
        **extra,
    }
    checkpointer = AtomicCheckpointer(
        str(tmp_path / "save"), {"counter": counter, **modules}
    )
    return SeparationBrain(
        {"model": model},
        opt_class=lambda params: torch.optim.Adam(params, lr=1e-3),
        hparams=hparams,
        run_opts={"device": "cpu", "noprogressbar": True},
        checkpointer=checkpointer,
    )


def test_fixed_order_loss_is_not_permutation_invariant():
    refs = torch.randn(2, 500, 2)
    swapped = refs.flip(-1)
    pit = sb.nnet.losses.get_si_snr_with_pitwrapper(refs, swapped.clone())
    fixed = fixed_order_si_snr_loss(refs, swapped)
    assert (pit < -50).all() and (fixed > 0).all()


def test_lr_decays_every_two_epochs_and_curves(tmp_path):
    brain = _brain(tmp_path, epochs=4)
    brain.fit(brain.hparams.epoch_counter, _items(2), _items(1))
    with open(tmp_path / "curves.csv") as f:
        rows = list(csv.DictReader(f))
    # lr used in epochs 1..4: x0.96 after epochs 2 and 4
    assert [float(r["lr"]) for r in rows] == pytest.approx(
        [1e-3, 1e-3, 0.96e-3, 0.96e-3]
    )
    assert brain.optimizer.param_groups[0]["lr"] == pytest.approx(0.9216e-3)
    assert [int(r["optimizer_steps"]) for r in rows] == [2, 4, 6, 8]
    assert (tmp_path / "training_curves.png").stat().st_size > 0


def test_time_budget_stops_training(tmp_path):
    brain = _brain(tmp_path, epochs=1000, max_train_minutes=0.002)
    brain.fit(brain.hparams.epoch_counter, _items(4), _items(1))
    assert brain.budget_exhausted
    assert 1 <= brain.optimizer_step < 4000
    assert brain.train_seconds >= 0.12


def test_rerun_after_the_budget_adds_no_epoch(tmp_path):
    brain = _brain(tmp_path, epochs=1000, max_train_minutes=0.002)
    brain.fit(brain.hparams.epoch_counter, _items(4), _items(1))
    with open(tmp_path / "curves.csv") as f:
        epochs_done = len(list(csv.DictReader(f)))
    rerun = _brain(tmp_path, epochs=1000, max_train_minutes=0.002)
    rerun.fit(rerun.hparams.epoch_counter, _items(4), _items(1))
    assert rerun.budget_exhausted
    assert rerun.optimizer_step == brain.optimizer_step
    with open(tmp_path / "curves.csv") as f:
        assert len(list(csv.DictReader(f))) == epochs_done


def test_test_scores_hook_sets_result_columns(tmp_path):
    class OneScoreBrain(SeparationBrain):
        def test_metric(self):
            return lambda mix, refs, est: {"energy": float(est.pow(2).mean())}

    brain = _brain(tmp_path, epochs=1)
    brain.__class__ = OneScoreBrain
    brain.evaluate(_items(3), test_loader_kwargs={"batch_size": 2})
    with open(tmp_path / "test_results.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["snt_id", "energy"]
    assert [r["snt_id"] for r in rows] == ["utt0", "utt1", "utt2", "avg"]
    assert (tmp_path / "test_examples.png").stat().st_size > 0


def _checkpoints(tmp_path):
    """The checkpoints, oldest first (by their meta's time: SpeechBrain's
    folder names are not in time order when a name is reused in the same
    second after a deletion)."""
    return sorted(
        (tmp_path / "save").glob("CKPT+*"),
        key=lambda ckpt: _meta(ckpt)["unixtime"],
    )


def _meta(ckpt):
    return yaml.safe_load((ckpt / "CKPT.yaml").read_text())


def test_keeps_the_last_two_checkpoints_and_the_best(tmp_path):
    """SpeechBrain's meta (the loss, min_keys); num_to_keep 2 keeps the
    last two and the best two, one to fall back to."""
    brain = _brain(tmp_path, epochs=4)
    brain.fit(brain.hparams.epoch_counter, _items(2), _items(1))
    metas = [_meta(c) for c in _checkpoints(tmp_path)]
    epochs = [m["epoch"] for m in metas]
    assert epochs[-2:] == [3, 4]
    with open(tmp_path / "curves.csv") as f:
        valid = {
            int(r["epoch"]): float(r["valid_si-snr"]) for r in csv.DictReader(f)
        }
    best_two = sorted(valid, key=valid.get)[-2:]
    assert set(epochs) == {3, 4} | set(best_two)
    for meta in metas:
        assert meta["si-snr_is_loss"] is True
        assert meta["si-snr"] == pytest.approx(-valid[meta["epoch"]])


def test_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, caplog):
    """The newest checkpoint's masknet.ckpt is truncated;
    the warning names the file and training resumes from the previous
    checkpoint; with every checkpoint damaged, the error names a file."""
    brain = _brain(tmp_path, epochs=2)
    brain.fit(brain.hparams.epoch_counter, _items(2), _items(1))
    older, newest = _checkpoints(tmp_path)
    damaged = newest / "masknet.ckpt"
    damaged.write_bytes(damaged.read_bytes()[:200])
    rerun = _brain(tmp_path, epochs=3)
    with caplog.at_level("WARNING"):
        rerun.fit(rerun.hparams.epoch_counter, _items(2), _items(1))
    assert str(damaged) in caplog.text and older.name in caplog.text
    with open(tmp_path / "curves.csv") as f:
        # epoch 2 redone from epoch 1's checkpoint, then epoch 3
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]
    for ckpt in _checkpoints(tmp_path):
        (ckpt / "encoder.ckpt").write_bytes(b"")
    again = _brain(tmp_path, epochs=4)
    with pytest.raises(CheckpointError, match=r"encoder\.ckpt: empty file"):
        again.fit(again.hparams.epoch_counter, _items(2), _items(1))


def test_unreadable_checkpoint_meta_is_left_out(tmp_path, caplog):
    brain = _brain(tmp_path, epochs=2)
    brain.fit(brain.hparams.epoch_counter, _items(2), _items(1))
    older, newest = _checkpoints(tmp_path)
    (newest / "CKPT.yaml").write_text("end-of-epoch: [")
    with caplog.at_level("WARNING"):
        found = brain.checkpointer.recover_if_possible()
    assert found.path == older
    assert str(newest / "CKPT.yaml") in caplog.text


def test_loss_and_crops_come_from_the_hparams(tmp_path):
    batch = sb.dataio.batch.PaddedBatch(_items(2))
    brain = _brain(tmp_path, epochs=1, loss=fixed_order_si_snr_loss)
    est, targets = brain.compute_forward(batch, sb.Stage.TRAIN)
    assert est.shape == (2, 200, 2)
    swapped = (targets.flip(-1), targets)
    assert brain.compute_objectives(swapped, batch, sb.Stage.VALID) > 0
    uncropped = _brain(tmp_path, epochs=1, limit_training_signal_len=False)
    est, _ = uncropped.compute_forward(batch, sb.Stage.TRAIN)
    assert est.shape == (2, 400, 2)
    # the default is SpeechBrain's PIT loss
    assert uncropped.compute_objectives(swapped, batch, sb.Stage.VALID) < -50


def test_save_audio_writes_the_first_test_separations(tmp_path):
    brain = _brain(tmp_path, epochs=1, save_audio=True, n_audio_to_save=2)
    brain.evaluate(_items(3), test_loader_kwargs={"batch_size": 2})
    folder = tmp_path / "save" / "audio_results"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        f"itemutt{i}_{kind}.wav"
        for i in (0, 1)
        for kind in ("mix", "source1", "source1hat", "source2", "source2hat")
    )
    audio, rate = soundfile.read(folder / "itemutt1_source2.wav")
    assert rate == 8000 and audio.shape == (400,)
    assert abs(audio).max() == pytest.approx(1.0, abs=1e-4)
