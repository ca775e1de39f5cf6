"""Tests of the WSJ0Music recipe: corpus creation, dynamic mixing, and a
smoke run of ``train.py`` on a tiny generated corpus."""

import csv
import json
import os
import sys

import mir_eval
import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_galr.data.audio_clips import power_db
from speechbrain_galr.data.demo_corpus import make_speakers

RECIPE = os.path.join(
    os.path.dirname(__file__), "..", "..", "recipes", "WSJ0Music", "separation"
)
sys.path.insert(0, os.path.abspath(RECIPE))

from create_wsj0music import create_wsj0music, main  # noqa: E402
from recipe_runner import (  # noqa: E402
    read_recipe_rows,
    run_debug_row,
    shared_samples,
    write_music,
)
from speech_music import (  # noqa: E402
    SpeechMusicDataset,
    read_splits,
    speech_music_scores,
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A speaker folder (8 synthetic speakers) and a music folder."""
    root = tmp_path_factory.mktemp("wsj0music_sources")
    make_speakers(str(root / "speech"), 8, 2, 1.0, 2.0, seed=3)
    write_music(str(root / "music"))
    return str(root / "speech"), str(root / "music")


def read_metadata(folder):
    with open(os.path.join(folder, "metadata.csv")) as fin:
        return list(csv.DictReader(fin))


def test_corpus_layout_smr_and_splits(sources, tmp_path):
    speech, music = sources
    out = str(tmp_path / "corpus")
    create_wsj0music(
        speech,
        music,
        out,
        {"tr": 6, "cv": 2, "tt": 2},
        max_seconds=1.0,
        valid_speakers=2,
        test_speakers=2,
        valid_tracks=1,
        test_tracks=1,
    )
    rows = read_metadata(out)
    assert [r["split"] for r in rows] == ["tr"] * 6 + ["cv"] * 2 + ["tt"] * 2
    splits = read_splits(out)
    for split in ("tr", "cv", "tt"):
        others = {"tr", "cv", "tt"} - {split}
        for key in ("speakers", "tracks"):
            assert not set(splits[key][split]) & {
                name for o in others for name in splits[key][o]
            }
    root = os.path.join(out, "wav8k", "min")
    for row in rows:
        mix, rate = sf.read(os.path.join(root, row["mix_wav"]))
        speech_sig, _ = sf.read(os.path.join(root, row["speech_wav"]))
        music_sig, _ = sf.read(os.path.join(root, row["music_wav"]))
        assert rate == 8000 and mix.ndim == 1
        assert len(mix) == round(float(row["duration"]) * 8000) <= 8000
        np.testing.assert_allclose(speech_sig + music_sig, mix, atol=1e-6)
        smr = power_db(torch.from_numpy(speech_sig)) - power_db(
            torch.from_numpy(music_sig)
        )
        assert 0 <= float(row["smr_db"]) <= 5
        assert abs(smr - float(row["smr_db"])) < 1e-3
        # the speech comes from a speaker of the row's split
        speaker = row["speech_file"].split("/")[0]
        assert speaker in splits["speakers"][row["split"]]
        assert row["music_file"] in splits["tracks"][row["split"]]
        assert np.abs(mix).max() <= 0.9 + 1e-6


def test_corpus_is_reproducible(sources, tmp_path):
    speech, music = sources
    args = ["--speech-folder", speech, "--music-folder", music]
    args += ["--num-train", "3", "--num-valid", "1", "--num-test", "1"]
    args += ["--max-seconds", "0.5", "--valid-speakers", "2"]
    args += ["--test-speakers", "2", "--valid-tracks", "1"]
    args += ["--test-tracks", "1"]
    main(args + ["--out-folder", str(tmp_path / "a")])
    main(args + ["--out-folder", str(tmp_path / "b")])
    main(args + ["--out-folder", str(tmp_path / "c"), "--seed", "7"])
    rows_a, rows_b = (
        read_metadata(tmp_path / "a"),
        read_metadata(tmp_path / "b"),
    )
    assert rows_a == rows_b
    assert rows_a != read_metadata(tmp_path / "c")
    for row in rows_a:
        path = os.path.join("wav8k", "min", row["mix_wav"])
        a, _ = sf.read(str(tmp_path / "a" / path))
        b, _ = sf.read(str(tmp_path / "b" / path))
        np.testing.assert_array_equal(a, b)


def test_creation_errors_name_the_problem(sources, tmp_path):
    speech, music = sources
    with pytest.raises(FileNotFoundError, match="music folder not found"):
        create_wsj0music(speech, str(tmp_path / "none"), str(tmp_path), {})
    empty = tmp_path / "empty_music"
    empty.mkdir()
    with pytest.raises(ValueError, match="no music files"):
        create_wsj0music(speech, str(empty), str(tmp_path), {"tr": 1})
    (empty / "broken.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="broken.wav"):
        create_wsj0music(
            speech,
            str(empty),
            str(tmp_path),
            {"tr": 1},
            8000,
            None,
            (0.0, 5.0),
            2,
            2,
            0,
            0,
        )
    with pytest.raises(ValueError, match="unknown splits"):
        create_wsj0music(speech, music, str(tmp_path), {"train": 1})
    with pytest.raises(FileNotFoundError, match="corpus made by"):
        read_splits(str(tmp_path))


def test_dynamic_mixing_order_and_smr(sources):
    speech, music = sources
    data = SpeechMusicDataset(speech, music, 4, segment_seconds=0.5, seed=5)
    again = SpeechMusicDataset(speech, music, 4, segment_seconds=0.5, seed=5)
    for index in range(4):
        item, same = data[index], again[index]
        assert item["mix_sig"].shape == (4000,)
        torch.testing.assert_close(item["mix_sig"], same["mix_sig"])
        torch.testing.assert_close(
            item["s1_sig"] + item["s2_sig"], item["mix_sig"]
        )
        smr = power_db(item["s1_sig"]) - power_db(item["s2_sig"])
        assert -1e-3 < smr < 5 + 1e-3
    data.set_epoch(1)
    assert not torch.equal(data[0]["mix_sig"], again[0]["mix_sig"])
    with pytest.raises(IndexError):
        data[4]


def test_splits_file_lists_training_sources(sources, tmp_path):
    speech, music = sources
    out = str(tmp_path / "corpus")
    create_wsj0music(
        speech,
        music,
        out,
        {"tr": 1},
        max_seconds=0.5,
        valid_speakers=2,
        test_speakers=2,
        valid_tracks=1,
        test_tracks=1,
    )
    with open(os.path.join(out, "splits.json")) as fin:
        splits = json.load(fin)
    assert len(splits["speakers"]["tr"]) == 4
    assert len(splits["tracks"]["tr"]) == 3
    assert splits["smr_db"] == [0.0, 5.0]


ROWS = read_recipe_rows("WSJ0Music")


@pytest.mark.parametrize("recipe_id", sorted(ROWS))
def test_debug_row(recipe_id, tmp_path_factory):
    """Every row of tests/recipes/WSJ0Music.csv runs with --debug (the
    corpus's CSVs; dynamic mixing) and scores speech and music apart."""
    row = ROWS[recipe_id]
    samples = shared_samples(tmp_path_factory)
    out = str(tmp_path_factory.mktemp("wsj0music_runs") / recipe_id)
    run_debug_row(row, samples, out)
    with open(os.path.join(out, "test_results.csv")) as fin:
        rows = list(csv.DictReader(fin))
    assert [r["snt_id"] for r in rows][-1] == "avg" and len(rows) == 3
    for source in ("speech", "music"):
        for metric in ("si-snr_i", "sdr_i"):
            assert np.isfinite(float(rows[-1][f"{source}_{metric}"]))
    # the average columns are the means of the per-source ones
    for r in rows:
        for metric in ("si-snr_i", "sdr_i"):
            mean = (
                float(r[f"speech_{metric}"]) + float(r[f"music_{metric}"])
            ) / 2
            assert abs(float(r[metric]) - mean) < 1e-4
    # the fixed-order loss is the yaml's; dynamic mixing needs no train CSV
    with open(os.path.join(out, "hyperparams.yaml")) as fin:
        assert "training.brain.fixed_order_si_snr_loss" in fin.read()
    dynamic = "--dynamic_mixing=True" in row["test_debug_flags"]
    train_csv = os.path.join(out, "save", "wsj_tr.csv")
    assert os.path.isfile(train_csv) == (not dynamic)


def test_per_source_scores_are_fixed_order():
    rng = np.random.default_rng(0)
    refs = torch.from_numpy(rng.standard_normal((4000, 2))).float()
    mixture = refs.sum(-1)
    noise = 0.3 * torch.from_numpy(rng.standard_normal((4000, 2))).float()
    estimates = refs + noise
    scores = speech_music_scores(mixture, refs, estimates)
    sdr, _, _, _ = mir_eval.separation.bss_eval_sources(
        refs.t().double().numpy(), estimates.t().double().numpy(), False
    )
    sdr_mix, _, _, _ = mir_eval.separation.bss_eval_sources(
        refs.t().double().numpy(),
        mixture[None].expand(2, -1).double().numpy(),
        False,
    )
    for index, name in enumerate(("speech", "music")):
        assert abs(scores[f"{name}_sdr"] - sdr[index]) < 1e-3
        assert abs(scores[f"{name}_sdr_i"] - (sdr - sdr_mix)[index]) < 1e-3
        assert scores[f"{name}_si-snr_i"] > 5
    assert (
        abs(
            scores["si-snr_i"]
            - (scores["speech_si-snr_i"] + scores["music_si-snr_i"]) / 2
        )
        < 1e-6
    )
    # swapped outputs are scored as they are, not re-ordered
    swapped = speech_music_scores(mixture, refs, estimates.flip(-1))
    assert swapped["speech_si-snr"] < 0 and swapped["music_si-snr"] < 0
    with pytest.raises(ValueError, match=r"\[T, 2\]"):
        speech_music_scores(mixture, refs, estimates[:, :1])
