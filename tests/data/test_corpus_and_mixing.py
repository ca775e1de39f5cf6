"""wsj0-mix preparation errors, dynamic mixing and create_mixtures."""

import csv
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_galr.data.corpus import prepare_wsj0mix, split_speakers
from speechbrain_galr.data.dynamic_mixing import DynamicMixingDataset
from speechbrain_galr.data.mixing import create_mixtures


def _speaker_folder(root, num_speakers=5, utts=2, sample_rate=8000):
    """Noise "utterances" of different lengths, one folder per speaker."""
    rng = np.random.default_rng(0)
    for s in range(num_speakers):
        os.makedirs(root / f"{s + 1}", exist_ok=True)
        for u in range(utts):
            length = int(sample_rate * rng.uniform(0.3, 0.8))
            audio = 0.1 * rng.standard_normal(length)
            sf.write(root / f"{s + 1}" / f"{s + 1}-{u}.wav", audio, sample_rate)
    return str(root)


@pytest.fixture
def corpus(tmp_path):
    speakers = _speaker_folder(tmp_path / "speakers", num_speakers=7)
    split = split_speakers(speakers, 2, 2)
    create_mixtures(
        speakers,
        str(tmp_path / "2speakers"),
        {"tr": 3, "cv": 2, "tt": 2},
        speakers=split,
    )
    return tmp_path


def test_split_speakers_numeric_order(tmp_path):
    folder = _speaker_folder(tmp_path, num_speakers=12, utts=1)
    split = split_speakers(folder, 2, 3)
    # numeric ids in numeric order: 10, 11, 12 are the last three
    assert split == {
        "tr": [str(i) for i in range(1, 8)],
        "cv": ["8", "9"],
        "tt": ["10", "11", "12"],
    }
    with pytest.raises(ValueError, match="too few"):
        split_speakers(folder, 6, 6)


def test_create_mixtures_and_prepare(corpus):
    root = corpus / "2speakers" / "wav8k" / "min"
    for split, count in (("tr", 3), ("cv", 2), ("tt", 2)):
        names = sorted(os.listdir(root / split / "mix"))
        assert len(names) == count
        for name in names:
            mix, rate = sf.read(root / split / "mix" / name)
            s1, _ = sf.read(root / split / "s1" / name)
            s2, _ = sf.read(root / split / "s2" / name)
            assert rate == 8000 and mix.shape == s1.shape == s2.shape
            np.testing.assert_allclose(mix, s1 + s2, atol=1e-6)
    # test mixtures only use the test speakers (the last two: 6 and 7)
    with open(corpus / "2speakers" / "speakers_tt.txt") as f:
        assert f.read().split() == ["6", "7"]
    for name in os.listdir(root / "tt" / "mix"):
        spks = {part.split("-")[0] for part in name[6:-4].split("_")}
        assert spks == {"6", "7"}
    paths = prepare_wsj0mix(str(corpus / "2speakers"), str(corpus / "csv"))
    with open(paths["cv"]) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert set(rows[0]) == {"ID", "duration", "mix_wav", "s1_wav", "s2_wav"}
    # the paths are relative to $data_root, the data_folder
    s2_path = rows[0]["s2_wav"].replace("$data_root", str(corpus / "2speakers"))
    assert os.path.isfile(s2_path) and float(rows[0]["duration"]) > 0


def test_prepare_errors_name_what_is_missing(corpus, tmp_path):
    data = str(corpus / "2speakers")
    # wsj0-3mix expected but there is no s3 folder
    with pytest.raises(FileNotFoundError, match=r"tr/s3"):
        prepare_wsj0mix(data, str(tmp_path / "a"), num_spks=3)
    # a missing source file is named
    tt_s2 = corpus / "2speakers" / "wav8k" / "min" / "tt" / "s2"
    victim = sorted(os.listdir(tt_s2))[0]
    os.remove(tt_s2 / victim)
    with pytest.raises(FileNotFoundError, match=victim[:10]):
        prepare_wsj0mix(data, str(tmp_path / "b"))
    # wrong sample rate
    cv_s1 = corpus / "2speakers" / "wav8k" / "min" / "cv" / "s1"
    resampled = sorted(os.listdir(cv_s1))[0]
    audio, _ = sf.read(cv_s1 / resampled)
    sf.write(cv_s1 / resampled, audio, 16000)
    with pytest.raises(ValueError, match="16000 Hz, expected 8000"):
        prepare_wsj0mix(data, str(tmp_path / "c"), splits=("cv",))
    # corrupt audio
    tr_mix = corpus / "2speakers" / "wav8k" / "min" / "tr" / "mix"
    bad = sorted(os.listdir(tr_mix))[0]
    (tr_mix / bad).write_bytes(b"not audio")
    with pytest.raises(ValueError, match="cannot read audio file"):
        prepare_wsj0mix(data, str(tmp_path / "d"), splits=("tr",))


def test_dynamic_mixing_reproducible(tmp_path):
    folder = _speaker_folder(tmp_path, num_speakers=4, utts=3)
    data = DynamicMixingDataset(folder, 6, segment_seconds=0.5, seed=3)
    again = DynamicMixingDataset(folder, 6, segment_seconds=0.5, seed=3)
    other_seed = DynamicMixingDataset(folder, 6, segment_seconds=0.5, seed=4)
    items = [data[i] for i in range(6)]
    for i in (4, 0, 5):  # any order gives the same items
        assert torch.equal(items[i]["mix_sig"], again[i]["mix_sig"])
    assert not torch.equal(items[0]["mix_sig"], other_seed[0]["mix_sig"])
    for item in items:
        assert item["mix_sig"].shape == (4000,)
        torch.testing.assert_close(
            item["mix_sig"], item["s1_sig"] + item["s2_sig"]
        )
    data.set_epoch(1)
    assert not torch.equal(items[0]["mix_sig"], data[0]["mix_sig"])
    data.set_epoch(0)
    assert torch.equal(items[0]["mix_sig"], data[0]["mix_sig"])


def test_dynamic_mixing_same_with_dataloader_workers(tmp_path):
    folder = _speaker_folder(tmp_path, num_speakers=4, utts=2)
    data = DynamicMixingDataset(folder, 4, segment_seconds=0.25, seed=1)

    def mixtures(workers):
        loader = torch.utils.data.DataLoader(
            data, batch_size=2, num_workers=workers
        )
        return torch.cat([batch["mix_sig"] for batch in loader])

    assert torch.equal(mixtures(0), mixtures(2))


def test_dynamic_mixing_errors(tmp_path):
    folder = _speaker_folder(tmp_path / "two", num_speakers=2, utts=1)
    with pytest.raises(ValueError, match="2 speakers cannot make 3-speaker"):
        DynamicMixingDataset(folder, 4, num_spks=3)
    with pytest.raises(FileNotFoundError, match="speaker folder not found"):
        DynamicMixingDataset(str(tmp_path / "nowhere"), 4)
    with pytest.raises(ValueError, match="not found in"):
        DynamicMixingDataset(folder, 4, speakers=["1", "99"])
    empty = tmp_path / "empty" / "1"
    os.makedirs(empty)
    (empty / "x.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot read audio file"):
        DynamicMixingDataset(str(tmp_path / "empty"), 4)


def test_csv_dataset_reads_a_stereo_file_as_mono(tmp_path):
    # SpeechBrain's read_audio keeps the channels ([T, 2]), which the model
    # refuses; the recipes read with the package's one reader (mean)
    from speechbrain_galr.training.recipe import separation_csv_dataset

    stereo = np.stack([np.full(800, 0.25), np.full(800, -0.75)], axis=1)
    sf.write(str(tmp_path / "mix.wav"), stereo, 8000)
    for name in ("s1", "s2"):
        sf.write(str(tmp_path / f"{name}.wav"), np.zeros(800), 8000)
    (tmp_path / "data.csv").write_text(
        "ID,duration,mix_wav,s1_wav,s2_wav\n"
        "a,0.1,$data_root/mix.wav,$data_root/s1.wav,$data_root/s2.wav\n"
    )
    item = separation_csv_dataset(
        str(tmp_path / "data.csv"), 2, data_root=str(tmp_path)
    )[0]
    assert item["mix_sig"].shape == (800,)
    assert torch.allclose(item["mix_sig"], torch.full((800,), -0.25))
