"""The WSJ0Mix recipe run as a user runs it (a subprocess): the debug rows of
``tests/recipes/WSJ0Mix.csv`` on a tiny generated wsj0-mix corpus, a killed
run that resumes, and the errors that stop a run before it writes
anything."""

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import yaml
from recipe_runner import (
    read_recipe_rows,
    run_debug_row,
    run_recipe_row,
    shared_samples,
    tree_digest,
)
from speechbrain.core import INTRA_EPOCH_CKPT_FLAG

from speechbrain_galr.training.brain import CURVE_COLUMNS, RESULT_COLUMNS
from speechbrain_galr.training.options import parse_recipe_arguments
from speechbrain_galr.training.recipe import main

RECIPE = os.path.join(
    os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ),
    "recipes",
    "WSJ0Mix",
    "separation",
)
ROWS = read_recipe_rows("WSJ0Mix")
FIRST = sorted(ROWS)[0]  # galr.yaml on 2 speakers


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """The folder holding ``samples/`` (tests/recipe_runner.py)."""
    return shared_samples(tmp_path_factory)


@pytest.fixture(scope="module")
def debug_runs(samples, tmp_path_factory):
    """Output folders of the rows, each run once, when a test needs it."""
    outputs = {}

    def run(recipe_id):
        if recipe_id not in outputs:
            out = str(tmp_path_factory.mktemp("runs") / recipe_id)
            # the run succeeds and writes its row's file_exists files
            outputs[recipe_id] = run_debug_row(ROWS[recipe_id], samples, out)
        return outputs[recipe_id]

    return run


def _read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _checkpoint_metas(save_folder):
    metas = []
    for name in sorted(os.listdir(save_folder)):
        if name.startswith("CKPT+"):
            with open(os.path.join(save_folder, name, "CKPT.yaml")) as f:
                metas.append(yaml.safe_load(f))
    return metas


@pytest.mark.parametrize("recipe_id", sorted(ROWS))
def test_debug_row(debug_runs, recipe_id):
    """Every row of tests/recipes/WSJ0Mix.csv runs with --debug and writes
    its files; results, curves, checkpoints and test audio are whole."""
    out = debug_runs(recipe_id)  # checks the row's file_exists files
    # per-utterance results (2 test batches in debug mode) and their mean
    columns, rows = _read_csv(os.path.join(out, "test_results.csv"))
    assert columns == RESULT_COLUMNS
    assert len(rows) == 3 and rows[-1]["snt_id"] == "avg"
    for key in RESULT_COLUMNS[1:]:
        values = [float(r[key]) for r in rows[:-1]]
        assert np.isfinite(values).all()
        assert float(rows[-1][key]) == pytest.approx(np.mean(values))
    for png in ("test_examples.png", "training_curves.png"):
        with open(os.path.join(out, png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # two debug epochs of two batches
    columns, curves = _read_csv(os.path.join(out, "curves.csv"))
    assert columns == CURVE_COLUMNS
    assert [int(r["optimizer_steps"]) for r in curves] == [2, 4]
    # checkpoints store SpeechBrain's loss (minus the SI-SNR), both kept
    metas = _checkpoint_metas(os.path.join(out, "save"))
    assert [m["epoch"] for m in metas] == [1, 2]
    for meta, curve in zip(metas, curves, strict=True):
        assert meta["si-snr_is_loss"] is True
        assert meta["si-snr"] == pytest.approx(-float(curve["valid_si-snr"]))
    ckpt = os.path.join(out, "save", sorted(os.listdir(out + "/save"))[0])
    for name in ("encoder", "masknet", "decoder", "optimizer", "counter"):
        assert os.path.isfile(os.path.join(ckpt, f"{name}.ckpt"))
    # prepared CSVs: paths relative to $data_root
    with open(os.path.join(out, "save", "wsj_tt.csv")) as f:
        test_rows = list(csv.DictReader(f))
    assert all(r["mix_wav"].startswith("$data_root/") for r in test_rows)
    # test separations, peak-normalised, as SpeechBrain's save_audio
    audio = os.path.join(out, "save", "audio_results")
    with open(os.path.join(out, "hyperparams.yaml")) as f:
        num_spks = int(re.search(r"^num_spks: (\d+)", f.read(), re.M)[1])
    names = sorted(os.listdir(audio))
    assert len(names) == 2 * (1 + 2 * num_spks)
    for snt_id in (r["snt_id"] for r in rows[:-1]):
        assert f"item{snt_id}_source{num_spks}hat.wav" in names
    signal_, rate = sf.read(os.path.join(audio, names[0]))
    assert rate == 8000 and np.abs(signal_).max() == pytest.approx(1, 1e-3)


def test_fractional_checkpoint_interval():
    """--ckpt_interval_minutes takes fractions (SpeechBrain parses whole
    minutes): it becomes a hyperparameter the Brain reads."""
    _, run_opts, overrides = parse_recipe_arguments(
        ["h.yaml", "--ckpt_interval_minutes", "0.5", "--seed=3"]
    )
    assert yaml.safe_load(overrides) == {
        "seed": 3,
        "ckpt_interval_minutes": 0.5,
    }
    assert "ckpt_interval_minutes" not in run_opts.overridden_args
    assert "--ckpt_interval_minutes=0.5" in ROWS[FIRST]["test_debug_flags"]


def test_help_documents_fractional_minutes(capsys):
    with pytest.raises(SystemExit) as stop:
        parse_recipe_arguments(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "--ckpt_interval_minutes takes fractions" in out
    assert "--ckpt_interval_minutes" in out.split("usage:")[1]


def _run_error(command, cwd):
    """Runs a command that must fail; its exit status and stderr."""
    proc = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stderr


def _error_line(stderr):
    """The one ``error:`` line a failed run printed last (SpeechBrain may
    print notices at import), with no traceback."""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert lines[-1].startswith("error: "), stderr[-2000:]
    assert [ln for ln in lines if ln.startswith("error")] == lines[-1:]
    return lines[-1]


def test_rerun_with_another_model_stops_before_writing(
    debug_runs, samples, tmp_path
):
    """A rerun into a finished run's folder with another
    model size is refused with one line naming the keys, and nothing in
    the folder changes (hyperparams.yaml, checkpoints, results)."""
    out = str(tmp_path / "run")
    shutil.copytree(debug_runs(FIRST), out)
    before = tree_digest(out)
    row = dict(ROWS[FIRST])
    row["test_debug_flags"] = row["test_debug_flags"].replace(
        "--hidden_channels=16", "--hidden_channels=32"
    )
    proc = run_recipe_row(row, samples, out)
    assert proc.returncode == 2
    assert "hidden_channels (saved 16, now 32)" in _error_line(proc.stderr)
    assert tree_digest(out) == before


def test_missing_test_file_stops_before_training(debug_runs, samples, tmp_path):
    """A file listed by the prepared test CSV that is
    gone is reported, with its path, before any training."""
    prepared = os.path.join(debug_runs(FIRST), "save")
    data_folder = os.path.join(samples, "samples", "wsj0mix", "2speakers")
    test_csv = tmp_path / "wsj_tt.csv"
    with open(os.path.join(prepared, "wsj_tt.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    gone = rows[1]["s2_wav"].replace("/s2/", "/s2_removed/")
    rows[1]["s2_wav"] = gone
    with open(test_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path / "run"
    status, stderr = _run_error(
        [
            sys.executable,
            "train.py",
            "hparams/galr.yaml",
            "--data_folder",
            data_folder,
            "--skip_prep=True",
            "--train_data",
            os.path.join(prepared, "wsj_tr.csv"),
            "--valid_data",
            os.path.join(prepared, "wsj_cv.csv"),
            "--test_data",
            str(test_csv),
            "--output_folder",
            str(out),
        ],  # fmt: skip
        RECIPE,
    )
    assert status == 1
    line = _error_line(stderr)
    assert line.startswith("error: 1 file(s) listed in " + str(test_csv))
    assert "s2_removed" in line
    # nothing was trained
    assert not any(p.startswith("CKPT") for p in os.listdir(out / "save"))
    assert not (out / "test_results.csv").exists()


@pytest.mark.parametrize(
    "option, message",
    [
        ("--segment_seconds=2", "'segment_seconds' was renamed: use "
         "training_signal_len"),
        ("--dm_folder=x", "'dm_folder' was renamed: use base_folder_dm"),
        ("--no_such_key=1", "unknown option --no_such_key"),
        ("--ckpt_interval_minutes=-1", "--ckpt_interval_minutes must be"),
    ],
)  # fmt: skip
def test_option_errors_are_one_line(tmp_path, capsys, option, message):
    """The recipes' command line (recipe.main, in this process) stops on a
    bad option with one line and exit status 2, before writing anything."""
    out = tmp_path / "run"
    argv = [os.path.join(RECIPE, "hparams", "galr.yaml"), "--data_folder",
            str(tmp_path), "--output_folder", str(out), option]  # fmt: skip
    with pytest.raises(SystemExit) as stop:
        main(_never_called, _never_called, argv=argv)
    assert stop.value.code == 2
    assert message in _error_line(capsys.readouterr().err)
    assert not out.exists()


def _never_called(hparams):
    raise AssertionError("the recipe went past the option checks")


def _intra_epoch_step(save_folder):
    """Batch index of the mid-epoch checkpoint, or None."""
    if not os.path.isdir(save_folder):
        return None
    for name in os.listdir(save_folder):
        meta = os.path.join(save_folder, name, "CKPT.yaml")
        brain = os.path.join(save_folder, name, "brain.ckpt")
        if os.path.isfile(meta) and os.path.isfile(brain):
            try:
                with open(meta) as f:
                    if not yaml.safe_load(f).get(INTRA_EPOCH_CKPT_FLAG):
                        continue
                with open(brain) as f:
                    return yaml.safe_load(f)["step"]
            except (OSError, TypeError, yaml.YAMLError):
                return None  # being written
    return None


def test_killed_run_resumes_from_checkpoint(samples, tmp_path):
    # checkpoint after every batch; no dropout, so that a resumed run must
    # reproduce an uninterrupted one exactly
    data = os.path.join(samples, "samples", "wsj0mix")
    # fmt: off
    command = [
        sys.executable, "train.py", "hparams/galr-small.yaml",
        "--data_folder", os.path.join(data, "2speakers"),
        "--num_filters", "16", "--hidden_channels", "16", "--num_blocks",
        "1", "--num_heads", "2", "--segment_size", "20",
        "--reduced_segment_size", "4", "--num_workers", "0",
        "--num_threads", "1", "--noprogressbar", "--training_signal_len",
        "4000", "--num_test_examples", "2", "--save_audio", "False",
        "--N_epochs", "1", "--ckpt_interval_minutes", "0",
        "--ckpt_interval_steps", "1", "--dropout", "0",
        "--dm_mixtures_per_epoch", "40", "--dynamic_mixing", "True",
        "--base_folder_dm", os.path.join(data, "speakers"),
    ]
    # fmt: on
    whole = str(tmp_path / "whole")
    proc = subprocess.run(
        command + ["--output_folder", whole],
        cwd=RECIPE, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]

    killed = str(tmp_path / "killed")
    command += ["--output_folder", killed]
    proc = subprocess.Popen(
        command,
        cwd=RECIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    step = None
    deadline = time.time() + 60  # a bound on the wait, not a timing check
    while time.time() < deadline and proc.poll() is None:
        step = _intra_epoch_step(os.path.join(killed, "save"))
        if step is not None and step >= 3:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert step is not None and 3 <= step < 40, "not killed mid-epoch"
    assert not os.path.exists(os.path.join(killed, "test_results.csv"))

    proc = subprocess.run(
        command, cwd=RECIPE, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming epoch 1 after its batch" in proc.stdout + proc.stderr
    # same training as the uninterrupted run: same curves, same results
    for name in ("curves.csv", "test_results.csv"):
        _, resumed = _read_csv(os.path.join(killed, name))
        _, reference = _read_csv(os.path.join(whole, name))
        assert len(resumed) == len(reference) > 0
        for a, b in zip(resumed, reference, strict=True):
            for key in a:
                if key in ("train_minutes", "seconds_per_step", "snt_id"):
                    continue
                assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-4)
