"""Tests of the command line: ``python -m speechbrain_galr``."""

import doctest
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_recipe import run_main, write_tiny_recipe_output

import speechbrain_galr.__main__ as cli


def python_m(*args):
    """Runs ``python -m speechbrain_galr ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "speechbrain_galr", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def recipe_output(tmp_path_factory):
    """A recipe output folder with one checkpoint of a tiny GALR."""
    return write_tiny_recipe_output(tmp_path_factory.mktemp("recipe"))


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


# --- what is left on disk, checked options ------------------------------------


def separate_args(mixture, model_dir, out, *extra):
    return ["separate", str(mixture), "--model", str(model_dir)] + [
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def test_separate_does_not_overwrite_without_asking(model_dir, tmp_path):
    mixture = tmp_path / "mix.wav"
    sf.write(str(mixture), np.random.default_rng(1).normal(0, 0.2, 8000), 8000)
    out = tmp_path / "out"
    status, _, err = run_main(*separate_args(mixture, model_dir, out))
    assert status == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    ogg = tmp_path / "again" / "mix.flac"  # another input, the same name
    ogg.parent.mkdir()
    sf.write(str(ogg), np.zeros(4000), 8000)
    for path in (mixture, ogg):
        status, _, err = run_main(*separate_args(path, model_dir, out))
        assert (
            status == 1 and err.startswith("error: ") and "--overwrite" in err
        )
        assert len(err.strip().splitlines()) == 1
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    status, out_text, err = run_main(
        *separate_args(ogg, model_dir, out, "--overwrite")
    )
    assert status == 0, err
    assert sorted(os.listdir(out)) == sorted(before)
    assert sf.info(str(out / "mix_source1.wav")).frames == 4000


@pytest.mark.parametrize(
    "options, words",
    [
        (["--chunk-seconds", "-5"], "chunk length"),
        (["--chunk-seconds", "0.001"], "chunk length"),
        (["--chunk-seconds", "nan"], "chunk length"),
        (["--chunk-seconds", "1", "--overlap-seconds", "0.8"], "half the"),
        (["--overlap-seconds", "0"], "chunk overlap"),
        (["--device", "gpu"], "unknown device 'gpu'"),
    ],
)
def test_bad_option_values_exit_2_with_one_line(tmp_path, options, words):
    mixture = tmp_path / "mix.wav"
    sf.write(str(mixture), np.zeros(800), 8000)
    status, _, err = run_main(
        *separate_args(mixture, tmp_path / "m", tmp_path / "o", *options)
    )
    assert status == 2 and err.startswith("error: ") and words in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")
def test_cuda_without_cuda_exits_2(tmp_path):
    mixture = tmp_path / "mix.wav"
    sf.write(str(mixture), np.zeros(800), 8000)
    args = separate_args(mixture, "m", tmp_path / "o", "--device", "cuda")
    status, _, err = run_main(*args)
    assert status == 2 and "CUDA is not available" in err


def test_missing_local_model_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    from speechbrain_galr.inference import user_paths

    def no_hub(*args):
        raise AssertionError("the hub was asked about a local path")

    monkeypatch.setattr(user_paths, "_check_hub_entry", no_hub)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    sf.write("mix.wav", np.zeros(800), 8000)
    status, _, err = run_main(
        *separate_args("mix.wav", "models/my-galr", "out")
    )
    assert status == 1 and err.strip() == (
        "error: model folder not found: models/my-galr"
    )
    (tmp_path / "a").mkdir()
    status, _, err = run_main(*separate_args("a/b/c.wav", "models/x", "out"))
    assert status == 1 and "audio file not found: a/b/c.wav" in err


def wait_for(predicate, process, timeout=120):
    """Polls until ``predicate()`` or the process ends."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate() and process.poll() is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sigterm_and_kill_leave_complete_outputs_only(
    model_dir, tmp_path, monkeypatch
):
    import signal

    from speechbrain_galr.inference import file_separation

    mixture = str(tmp_path / "long.wav")
    rng = np.random.default_rng(2)
    sf.write(mixture, rng.normal(0, 0.1, 2 * 60 * 8000), 8000, "PCM_16")
    out = tmp_path / "out"
    out.mkdir()
    old = {}
    for i in (1, 2):  # outputs of an earlier run
        sf.write(str(out / f"long_source{i}.wav"), np.zeros(100), 8000)
        old[f"long_source{i}.wav"] = (out / f"long_source{i}.wav").read_bytes()

    def work_folders():
        return [p for p in out.iterdir() if p.name.startswith(".galr")]

    def outputs():
        return {
            p.name: p.read_bytes()
            for p in out.iterdir()
            if not p.name.startswith(".")
        }

    args = separate_args(mixture, model_dir, out, "--overwrite")
    # SIGTERM in the middle of the separation (sent to this process)
    real_write = file_separation._RawSources.write

    def write_then_terminate(self, est):
        real_write(self, est)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(
        file_separation._RawSources, "write", write_then_terminate
    )
    status, _, err = run_main(*args)
    monkeypatch.undo()
    assert status == 128 + signal.SIGTERM and "terminated" in err
    assert outputs() == old and work_folders() == []
    # kill -9 of a real process: the old outputs stay, complete
    process = subprocess.Popen(
        [sys.executable, "-m", "speechbrain_galr", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for(work_folders, process)
    process.kill()
    process.communicate(timeout=120)
    assert outputs() == old
    # its work folder (and lock file) are removed by the next run into
    # the folder
    assert sorted(p.name[:11] for p in work_folders()) == [
        ".galr-lock-",
        ".galr-work-",
    ]
    short = tmp_path / "short.wav"
    sf.write(str(short), np.zeros(800), 8000)
    status, _, err = run_main(*separate_args(short, model_dir, out))
    assert status == 0, err
    assert work_folders() == []


def test_a_truncated_mixture_is_warned_about_once(model_dir, tmp_path, caplog):
    mixture = tmp_path / "cut.wav"
    sf.write(str(mixture), np.random.default_rng(2).normal(0, 0.2, 8000), 8000)
    data = mixture.read_bytes()
    mixture.write_bytes(data[: len(data) - 8000])  # half of the samples
    with caplog.at_level("WARNING"):
        status, _, err = run_main(
            *separate_args(mixture, model_dir, tmp_path / "out")
        )
    assert status == 0, err
    warnings = [r for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
