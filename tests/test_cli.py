"""Tests of the command line: ``python -m speechbrain_galr``."""

import contextlib
import doctest
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.checkpoints import Checkpointer

import speechbrain_galr
import speechbrain_galr.__main__ as cli

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
TINY = dict(
    num_filters=16,
    hidden_channels=8,
    num_blocks=1,
    num_heads=2,
    segment_size=10,
    reduced_segment_size=4,
)


def python_m(*args):
    """Runs ``python -m speechbrain_galr ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "speechbrain_galr", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def run_main(*args):
    """Runs the command line in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def recipe_output(tmp_path_factory):
    """A recipe output folder with one checkpoint of a tiny GALR."""
    folder = tmp_path_factory.mktemp("recipe")
    with open(MODEL_YAML) as fin:
        text = fin.read()
    (folder / "hyperparams.yaml").write_text(
        resolve_references(text, TINY).getvalue()
    )
    torch.manual_seed(0)
    hparams = load_hyperpyyaml(text, TINY)
    recoverables = {n: hparams[n] for n in ("encoder", "masknet", "decoder")}
    Checkpointer(str(folder / "save"), recoverables).save_checkpoint(
        meta={"si-snr": 3.0}
    )
    return folder


@pytest.fixture(scope="module")
def model_dir(recipe_output, tmp_path_factory):
    dest = tmp_path_factory.mktemp("exported") / "model"
    status, out, err = run_main(
        "export", str(recipe_output), "--out", str(dest)
    )
    assert status == 0, err
    assert str(dest / "hyperparams.yaml") in out
    return dest


def test_help_lists_the_subcommands():
    result = python_m("--help")
    assert result.returncode == 0
    assert "separate" in result.stdout and "export" in result.stdout
    result = python_m("separate", "--help")
    assert result.returncode == 0
    for option in ("--model", "--out", "--chunk-seconds", "mixture"):
        assert option in result.stdout


def test_separate_writes_one_wav_per_source_at_input_rate(model_dir, tmp_path):
    mixture = str(tmp_path / "meeting.wav")
    rng = np.random.default_rng(0)
    sf.write(mixture, rng.normal(0, 0.2, (int(44100 * 1.3), 2)), 44100)
    out = tmp_path / "separated"
    result = python_m(
        "separate",
        mixture,
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--chunk-seconds",
        "0.5",
        "--plot",
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(os.listdir(out)) == [
        "meeting_source1.wav",
        "meeting_source2.wav",
        "meeting_sources.png",
    ]
    for name in ("meeting_source1.wav", "meeting_source2.wav"):
        info = sf.info(str(out / name))
        assert (info.samplerate, info.channels) == (44100, 1)
        assert info.frames == int(44100 * 1.3)
        assert str(out / name) in result.stdout


def bad_mixtures(tmp_path):
    """(path, words the error must contain) for each kind of bad input."""
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_samples = str(tmp_path / "no_samples.wav")
    sf.write(no_samples, np.zeros(0), 16000)
    return [
        (str(tmp_path / "missing.wav"), "not found"),
        (str(text), "not audio"),
        (str(empty), "empty"),
        (no_samples, "no samples"),
    ]


def test_bad_input_gives_a_message_and_non_zero_exit(model_dir, tmp_path):
    for path, words in bad_mixtures(tmp_path):
        status, out, err = run_main(
            "separate", path, "--model", str(model_dir), "--out", "o"
        )
        assert status == 1, (path, out, err)
        assert err.startswith("error: ") and words in err, err
        assert "Traceback" not in err
    # a model folder that does not exist
    good = str(tmp_path / "good.wav")
    sf.write(good, np.zeros(800), 8000)
    status, _, err = run_main(
        "separate", good, "--model", str(tmp_path / "nomodel"), "--out", "o"
    )
    assert status == 1 and "model folder not found" in err
    # export of a folder that is not a recipe output
    status, _, err = run_main("export", str(tmp_path), "--out", "m")
    assert status == 1 and "hyperparams.yaml" in err


def test_bad_input_in_a_real_process(model_dir, tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    result = python_m(
        "separate", str(empty), "--model", str(model_dir), "--out", "o"
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: cannot read audio file")
    assert "empty (0 bytes)" in result.stderr
    assert "Traceback" not in result.stderr
    result = python_m("separate")  # missing arguments: argparse's exit 2
    assert result.returncode == 2 and "required" in result.stderr


def test_silence_separates_without_nan(model_dir, tmp_path):
    silence = str(tmp_path / "silence.wav")
    sf.write(silence, np.zeros((1600, 2)), 16000)
    status, out, err = run_main(
        "separate",
        silence,
        "--model",
        str(model_dir),
        "--out",
        str(tmp_path / "out"),
        "--quiet",
    )
    assert status == 0, err
    for path in out.split():
        samples, rate = sf.read(path)
        assert rate == 16000 and len(samples) == 1600
        assert np.isfinite(samples).all() and not samples.any()


def test_main_docstring_example():
    result = doctest.testmod(cli)
    assert result.attempted > 0 and result.failed == 0
