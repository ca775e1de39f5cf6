"""Tests of the LibriMix recipe: the LibriMix-layout corpus builder, the
preparation of the official layout, noisy dynamic mixing, and a smoke run
of ``train.py`` on a tiny generated corpus."""

import csv
import os
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_galr.data.audio_clips import power_db
from speechbrain_galr.data.demo_corpus import make_speakers

RECIPE = os.path.join(
    os.path.dirname(__file__), "..", "..", "recipes", "LibriMix", "separation"
)
sys.path.insert(0, os.path.abspath(RECIPE))

from noisy_mixing import NoisyDynamicMixingDataset, add_noise  # noqa: E402
from prepare_librimix import prepare_librimix  # noqa: E402
from recipe_runner import (  # noqa: E402
    read_recipe_rows,
    run_debug_row,
    shared_samples,
    write_noise,
)
from simulate_librimix import main as simulate_main  # noqa: E402
from simulate_librimix import simulate_librimix  # noqa: E402


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Speaker folder (8 synthetic speakers) and a noise folder."""
    root = tmp_path_factory.mktemp("librimix_sources")
    make_speakers(str(root / "speech"), 8, 2, 1.0, 2.0, seed=4)
    write_noise(str(root / "noise"))
    return str(root / "speech"), str(root / "noise")


@pytest.fixture(scope="module")
def libri2mix(sources, tmp_path_factory):
    """A tiny Libri2Mix-layout corpus with mix_clean and mix_both."""
    speech, noise = sources
    out = tmp_path_factory.mktemp("librimix_corpus")
    return simulate_librimix(
        speech,
        str(out),
        {"train-100": 6, "dev": 2, "test": 2},
        noise_folder=noise,
        max_seconds=1.0,
        valid_speakers=2,
        test_speakers=2,
    )


def read_csv(path):
    with open(path, newline="") as fin:
        return list(csv.DictReader(fin))


def test_simulated_layout_matches_librimix(libri2mix):
    root = os.path.join(libri2mix, "wav8k", "min")
    assert os.path.basename(libri2mix) == "Libri2Mix"
    assert sorted(os.listdir(os.path.join(root, "metadata"))) == [
        f"mixture_{split}_{kind}.csv"
        for split in ("dev", "test", "train-100")
        for kind in ("mix_both", "mix_clean")
    ]
    for split in ("train-100", "dev", "test"):
        assert sorted(os.listdir(os.path.join(root, split))) == [
            "mix_both",
            "mix_clean",
            "noise",
            "s1",
            "s2",
        ]
        clean = read_csv(
            os.path.join(root, "metadata", f"mixture_{split}_mix_clean.csv")
        )
        noisy = read_csv(
            os.path.join(root, "metadata", f"mixture_{split}_mix_both.csv")
        )
        assert list(clean[0]) == [
            "mixture_ID",
            "mixture_path",
            "source_1_path",
            "source_2_path",
            "length",
        ]
        assert list(noisy[0])[-2:] == ["noise_path", "length"]
        for row, noisy_row in zip(clean, noisy):
            s1, rate = sf.read(row["source_1_path"])
            s2, _ = sf.read(row["source_2_path"])
            mix, _ = sf.read(row["mixture_path"])
            both, _ = sf.read(noisy_row["mixture_path"])
            noise, _ = sf.read(noisy_row["noise_path"])
            assert rate == 8000 and len(mix) == int(row["length"]) <= 8000
            np.testing.assert_allclose(s1 + s2, mix, atol=1e-5)
            np.testing.assert_allclose(mix + noise, both, atol=1e-5)
            # speaker-to-speaker ratio within 5 dB
            ratio = power_db(torch.from_numpy(s1)) - power_db(
                torch.from_numpy(s2)
            )
            assert abs(ratio) <= 5 + 1e-3
            speakers = [
                name.split("_")[0]
                for name in row["mixture_ID"].split("_u")[:-1]
            ]
            assert len(set(speakers)) == 2


def test_simulation_supports_chapter_folders_and_is_reproducible(
    sources, tmp_path
):
    speech, _ = sources
    # LibriSpeech layout: <speaker>/<chapter>/<file>
    nested = tmp_path / "LibriSpeech"
    for speaker in os.listdir(speech):
        (nested / speaker / "1234").mkdir(parents=True)
        for name in os.listdir(os.path.join(speech, speaker)):
            shutil.copy(
                os.path.join(speech, speaker, name),
                nested / speaker / "1234" / name,
            )
    args = ["--speech-folder", str(nested), "--num-train", "3"]
    args += ["--num-dev", "1", "--num-test", "1", "--max-seconds", "0.5"]
    args += ["--valid-speakers", "2", "--test-speakers", "2"]
    simulate_main(args + ["--out-folder", str(tmp_path / "a")])
    simulate_main(args + ["--out-folder", str(tmp_path / "b")])
    meta = os.path.join("Libri2Mix", "wav8k", "min", "metadata")
    assert sorted(os.listdir(tmp_path / "a" / meta)) == [
        "mixture_dev_mix_clean.csv",
        "mixture_test_mix_clean.csv",
        "mixture_train-100_mix_clean.csv",
    ]
    for name in os.listdir(tmp_path / "a" / meta):
        rows_a = read_csv(tmp_path / "a" / meta / name)
        rows_b = read_csv(tmp_path / "b" / meta / name)
        assert [r["mixture_ID"] for r in rows_a] == [
            r["mixture_ID"] for r in rows_b
        ]
        for row_a, row_b in zip(rows_a, rows_b):
            a, _ = sf.read(row_a["mixture_path"])
            b, _ = sf.read(row_b["mixture_path"])
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mixture_type", ["mix_clean", "mix_both"])
def test_prepare_official_layout(libri2mix, tmp_path, mixture_type):
    paths = prepare_librimix(
        libri2mix,
        str(tmp_path),
        train_sets=["train-100"],
        mixture_type=mixture_type,
    )
    rows = {stage: read_csv(path) for stage, path in paths.items()}
    assert [len(rows[s]) for s in ("train", "valid", "test")] == [6, 2, 2]
    columns = ["ID", "duration", "mix_wav", "s1_wav", "s2_wav"]
    if mixture_type == "mix_both":
        columns.append("noise_wav")
    assert list(rows["train"][0]) == columns
    for row in rows["test"]:
        # SpeechBrain's $data_root, replaced by data_folder when read
        assert row["mix_wav"].startswith("$data_root/wav8k/min/test/")
        assert f"/test/{mixture_type}/" in row["mix_wav"]
        path = row["mix_wav"].replace("$data_root", libri2mix)
        assert float(row["duration"]) == sf.info(path).duration
    # the wav8k/min folder is accepted too, and the metadata is optional
    root = os.path.join(libri2mix, "wav8k", "min")
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    shutil.rmtree(moved / "metadata")
    again = prepare_librimix(
        str(moved),
        str(tmp_path / "again"),
        train_sets=["train-100"],
        mixture_type=mixture_type,
    )
    assert len(read_csv(again["train"])) == 6


def test_prepare_errors_name_what_is_missing(libri2mix, tmp_path):
    root = tmp_path / "Libri2Mix"
    shutil.copytree(libri2mix, root)
    subset = root / "wav8k" / "min"
    with pytest.raises(FileNotFoundError, match="train-360/mix_clean"):
        prepare_librimix(str(root), str(tmp_path / "csv"))
    with pytest.raises(FileNotFoundError, match=r"dev/s3"):
        prepare_librimix(
            str(root),
            str(tmp_path / "csv"),
            num_spks=3,
            train_sets="train-100",
        )
    with pytest.raises(ValueError, match="mixture_type"):
        prepare_librimix(str(root), str(tmp_path), mixture_type="mix")
    shutil.rmtree(subset / "dev" / "mix_both")
    with pytest.raises(FileNotFoundError, match="only mix_clean"):
        prepare_librimix(
            str(root),
            str(tmp_path / "csv"),
            train_sets="train-100",
            mixture_type="mix_both",
        )
    first = sorted(os.listdir(subset / "test" / "s2"))[0]
    os.remove(subset / "test" / "s2" / first)
    with pytest.raises(FileNotFoundError, match="1 file.*" + first):
        prepare_librimix(
            str(root), str(tmp_path / "csv"), train_sets="train-100"
        )
    (subset / "dev" / "s3").mkdir()
    with pytest.raises(ValueError, match="Libri3Mix"):
        prepare_librimix(
            str(root), str(tmp_path / "csv"), train_sets="train-100"
        )


def test_libri3mix_layout_and_preparation(tmp_path):
    speech = str(tmp_path / "speech")
    make_speakers(speech, 9, 1, 0.6, 0.8, seed=5)
    corpus = simulate_librimix(
        speech,
        str(tmp_path),
        {"train-360": 3, "dev": 1, "test": 1},
        num_spks=3,
        max_seconds=0.5,
        valid_speakers=3,
        test_speakers=3,
    )
    assert os.path.basename(corpus) == "Libri3Mix"
    paths = prepare_librimix(corpus, str(tmp_path / "csv"), num_spks=3)
    rows = read_csv(paths["train"])
    assert len(rows) == 3
    assert list(rows[0])[-3:] == ["s1_wav", "s2_wav", "s3_wav"]
    with pytest.raises(ValueError, match="Libri3Mix corpus"):
        prepare_librimix(corpus, str(tmp_path / "csv2"), num_spks=2)


def test_prepare_rejects_wrong_sample_rate(libri2mix, tmp_path):
    root = tmp_path / "Libri2Mix"
    shutil.copytree(libri2mix, root)
    mix_folder = root / "wav8k" / "min" / "dev" / "mix_clean"
    for name in os.listdir(mix_folder):
        audio, _ = sf.read(mix_folder / name)
        sf.write(mix_folder / name, audio, 16000)
    with pytest.raises(ValueError, match="16000 Hz"):
        prepare_librimix(
            str(root), str(tmp_path / "csv"), train_sets="train-100"
        )


def test_noisy_dynamic_mixing(sources):
    speech, noise = sources
    data = NoisyDynamicMixingDataset(
        speech, 3, noise=noise, snr_db=(2.0, 2.0), segment_seconds=0.5
    )
    clean = NoisyDynamicMixingDataset(speech, 3, segment_seconds=0.5)
    for index in range(3):
        item = data[index]
        torch.testing.assert_close(
            item["s1_sig"] + item["s2_sig"] + item["noise_sig"],
            item["mix_sig"],
        )
        snr = power_db(item["s1_sig"] + item["s2_sig"]) - power_db(
            item["noise_sig"]
        )
        assert abs(snr - 2.0) < 1e-3
        assert "noise_sig" not in clean[index]
        # the same speech as without noise (up to the anti-clipping gain)
        ratio = item["s1_sig"] / clean[index]["s1_sig"]
        assert torch.allclose(
            ratio[clean[index]["s1_sig"].abs() > 1e-3],
            ratio[clean[index]["s1_sig"].abs() > 1e-3][0],
            atol=1e-4,
        )


def test_add_noise_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        add_noise(torch.ones(10), torch.ones(2, 10), torch.ones(9), 5.0)


ROWS = read_recipe_rows("LibriMix")


@pytest.mark.parametrize("recipe_id", sorted(ROWS))
def test_debug_row(recipe_id, tmp_path_factory):
    """Every row of tests/recipes/LibriMix.csv runs with --debug on the
    tiny corpus (noisy mix_both mixtures from the CSVs; dynamic mixing
    with noise) and writes its files and finite results."""
    row = ROWS[recipe_id]
    samples = shared_samples(tmp_path_factory)
    out = str(tmp_path_factory.mktemp("librimix_runs") / recipe_id)
    run_debug_row(row, samples, out)
    rows = read_csv(os.path.join(out, "test_results.csv"))
    assert [r["snt_id"] for r in rows][-1] == "avg" and len(rows) == 3
    for r in rows:
        assert all(np.isfinite(float(r[k])) for k in r if k != "snt_id")
    curves = read_csv(os.path.join(out, "curves.csv"))
    assert [int(c["optimizer_steps"]) for c in curves] == [2, 4]
    if "mix_both" in row["test_debug_flags"]:
        train = read_csv(
            os.path.join(out, "save", "libri2mix_mix_both_train.csv")
        )
        assert len(train) == 6
        assert all("/mix_both/" in r["mix_wav"] for r in train)
        assert all(r["noise_wav"].startswith("$data_root/") for r in train)
