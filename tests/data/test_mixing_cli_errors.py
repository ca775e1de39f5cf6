"""``python -m speechbrain_galr.data.mixing`` on bad options and folders:
one ``error:`` line before anything is written (these were tracebacks of
argparse, NumPy or the audio reader), a training split by default, and no
second corpus silently merged into the folder of a first."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from speechbrain_galr.data import demo_corpus, mixing
from speechbrain_galr.data.mixing import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
SMALL = "--num_valid_speakers 2 --num_test_speakers 2 --num_valid 1 "
SMALL = (SMALL + "--num_test 1 --max_seconds 0.2").split()


@pytest.fixture(scope="module")
def speakers(tmp_path_factory):
    """Eight speakers of two 0.3 s noise utterances each."""
    folder = tmp_path_factory.mktemp("speakers")
    rng = np.random.default_rng(0)
    for spk in range(8):
        os.makedirs(folder / f"spk{spk}")
        for utt in range(2):
            noise = 0.1 * rng.standard_normal(2400)
            sf.write(str(folder / f"spk{spk}" / f"u{utt}.wav"), noise, 8000)
    return str(folder)


def _run(capsys, *argv):
    status = main(list(argv))
    return status, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    "options, status, message",
    [
        (["--num_spks", "0"], 2, "--num_spks must be a whole number >= 2"),
        (["--num_spks", "30"], 1, "--num_spks 30 mixes 30 different"),
        (["--sample_rate", "0"], 2, "--sample_rate must be"),
        (["--max_seconds", "0"], 2, "--max_seconds must be at least one"),
        (["--num_train", "-1"], 2, "the number of tr mixtures must be >= 0"),
        (["--num_test_speakers", "7"], 1, "8 names are too few"),
    ],
)
def test_bad_options_are_one_line_before_writing(
    speakers, tmp_path, capsys, options, status, message
):
    out = tmp_path / "out"
    got, lines = _run(capsys, speakers, str(out), *SMALL, *options)
    assert got == status
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert message in lines[0]
    assert not out.exists()


def test_missing_and_empty_speaker_folders(tmp_path, capsys):
    status, lines = _run(capsys, str(tmp_path / "nosuch"), str(tmp_path / "o"))
    assert (status, lines) == (
        1,
        [f"error: speaker folder not found: {tmp_path / 'nosuch'}"],
    )
    (tmp_path / "empty").mkdir()
    status, lines = _run(capsys, str(tmp_path / "empty"), str(tmp_path / "o"))
    assert status == 1 and len(lines) == 1
    assert "no speaker sub-folders in" in lines[0]
    assert not (tmp_path / "o").exists()


def _mixtures(out, split):
    folder = os.path.join(out, "wav8k", "min", split, "mix")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_one_liner_makes_a_training_split(
    speakers, tmp_path, capsys, monkeypatch
):
    """``mixing SPEAKERS OUT`` (the README's one-liner) made no tr split,
    and the recipes need one."""
    made = {}

    def record(speaker_folder, out_folder, num_mixtures, **kwargs):
        made.update(num_mixtures)
        return out_folder

    monkeypatch.setattr(mixing, "create_mixtures", record)
    held_out = "--num_valid_speakers 2 --num_test_speakers 2".split()
    assert _run(capsys, speakers, str(tmp_path / "out"), *held_out)[0] == 0
    assert made == {"tr": 2000, "cv": 20, "tt": 100}


def test_second_corpus_into_one_folder_is_refused(speakers, tmp_path, capsys):
    out = str(tmp_path / "corpus")
    small = [*SMALL, "--num_train", "2"]
    assert _run(capsys, speakers, out, *small)[0] == 0
    first = {split: _mixtures(out, split) for split in ("tr", "cv", "tt")}
    # another seed: its mixtures were added to the first corpus'
    status, lines = _run(capsys, speakers, out, *small, "--seed", "7")
    assert status == 1 and len(lines) == 1
    assert "holds tr, cv, tt mixtures" in lines[0]
    assert "--overwrite" in lines[0]
    # another speaker split, only a test set: refused as well
    test_only = "--num_train 0 --num_valid 0 --num_test_speakers 3".split()
    status, lines = _run(capsys, speakers, out, *small, *test_only)
    assert status == 1 and "of another speaker split" in lines[0]
    assert {s: _mixtures(out, s) for s in first} == first
    # --overwrite replaces the splits
    status, _ = _run(capsys, speakers, out, *small, "--overwrite", "--seed=7")
    assert status == 0
    assert len(_mixtures(out, "tr")) == 2
    assert _mixtures(out, "tr") != first["tr"]


def test_old_module_path_runs_as_a_command(tmp_path):
    """``python -m speechbrain_galr.mixing`` (the path before the package
    was layered, in the issue's commands) ran into a TypeError of argparse:
    runpy gave it no file name."""
    proc = subprocess.run(
        [sys.executable, "-m", "speechbrain_galr.mixing", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "speaker_folder" in proc.stdout


@pytest.mark.parametrize(
    "options, message",
    [
        (["--num_spks", "0"], "--num_spks must be a whole number >= 2"),
        (["--num_speakers", "1"], "--num_speakers 1: 1 names are too few"),
        (["--max_seconds", "0"], "--max_seconds must be at least one"),
        (["--utterances_per_speaker", "0"], "--utterances_per_speaker must"),
    ],
)
def test_demo_corpus_options_are_one_line(tmp_path, capsys, options, message):
    """``python -m speechbrain_galr.data.demo_corpus`` made its synthetic
    speakers, then stopped with a traceback."""
    out = tmp_path / "demo"
    assert demo_corpus.main(["--out", str(out), *options]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert message in lines[0]
    assert not out.exists()
