"""The WSJ0Mix recipe end to end, run as a user runs it (a subprocess), on a
tiny generated corpus in the wsj0-mix layout, with tiny models."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from speechbrain.core import INTRA_EPOCH_CKPT_FLAG

from speechbrain_galr.demo import make_demo_corpus
from speechbrain_galr.separation import CURVE_COLUMNS, RESULT_COLUMNS

RECIPE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "recipes",
    "WSJ0Mix",
    "separation",
)
TINY = {
    "galr": [
        "--num_filters", "16", "--hidden_channels", "16", "--num_blocks",
        "1", "--num_heads", "2", "--segment_size", "20",
        "--reduced_segment_size", "4",
    ],
    "dprnn": [
        "--num_filters", "16", "--hidden_channels", "16", "--num_blocks",
        "1", "--segment_size", "20",
    ],
}  # fmt: skip
COMMON = [
    "--num_workers", "0", "--num_threads", "1", "--noprogressbar",
    "--segment_seconds", "0.5", "--num_test_examples", "2",
]  # fmt: skip
NUM_TRAIN = 6


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """wsj0-2mix and wsj0-3mix layouts of synthetic speakers."""
    root = str(tmp_path_factory.mktemp("demo"))
    return {
        num_spks: make_demo_corpus(
            root,
            num_spks=num_spks,
            num_speakers=10,
            utterances_per_speaker=2,
            num_mixtures=(NUM_TRAIN, 2, 2),
            num_valid_speakers=3,
            num_test_speakers=3,
            max_seconds=1.0,
        )
        for num_spks in (2, 3)
    }


def _command(model, data_folder, output_folder, num_spks, *extra):
    hparams = "galr-small.yaml" if model == "galr" else "dprnn.yaml"
    return [
        sys.executable, "train.py", f"hparams/{hparams}",
        "--data_folder", data_folder, "--output_folder", output_folder,
        "--num_spks", str(num_spks), *TINY[model], *COMMON, *extra,
    ]  # fmt: skip


def _run(command, timeout=120):
    proc = subprocess.run(
        command, cwd=RECIPE, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _read_csv(path):
    with open(path) as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


@pytest.mark.parametrize("model", ["galr", "dprnn"])
@pytest.mark.parametrize("num_spks", [2, 3])
def test_recipe_end_to_end(corpora, tmp_path, model, num_spks):
    out = str(tmp_path / "out")
    start = time.time()
    _run(_command(model, corpora[num_spks], out, num_spks, "--N_epochs", "2"))
    assert time.time() - start < 60
    # per-utterance results and their mean
    columns, rows = _read_csv(os.path.join(out, "test_results.csv"))
    assert columns == RESULT_COLUMNS
    assert len(rows) == 3 and rows[-1]["snt_id"] == "avg"
    for key in RESULT_COLUMNS[1:]:
        values = [float(row[key]) for row in rows[:-1]]
        assert np.isfinite(values).all()
        assert float(rows[-1][key]) == pytest.approx(np.mean(values))
    # figures
    for png in ("test_examples.png", "training_curves.png"):
        with open(os.path.join(out, png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    # two epochs of NUM_TRAIN steps each
    columns, curves = _read_csv(os.path.join(out, "curves.csv"))
    assert columns == CURVE_COLUMNS
    assert [int(r["epoch"]) for r in curves] == [1, 2]
    assert [int(r["optimizer_steps"]) for r in curves] == [6, 12]
    # what the inference code reads
    with open(os.path.join(out, "hyperparams.yaml")) as f:
        assert f"num_spks: {num_spks}" in f.read()
    ckpts = [d for d in os.listdir(os.path.join(out, "save")) if "CKPT" in d]
    assert ckpts
    saved = os.listdir(os.path.join(out, "save", ckpts[0]))
    for name in ("encoder", "masknet", "decoder", "optimizer", "counter"):
        assert f"{name}.ckpt" in saved


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


def test_killed_run_resumes_from_checkpoint(corpora, tmp_path):
    # checkpoint after every batch; no dropout, so that a resumed run must
    # reproduce an uninterrupted one exactly
    extra = [
        "--N_epochs", "1", "--ckpt_interval_minutes", "0",
        "--ckpt_interval_steps", "1", "--dropout", "0",
        "--dm_mixtures_per_epoch", "40", "--dynamic_mixing", "True",
        "--dm_folder", os.path.join(os.path.dirname(corpora[2]), "speakers"),
    ]  # fmt: skip
    whole = str(tmp_path / "whole")
    _run(_command("galr", corpora[2], whole, 2, *extra))

    killed = str(tmp_path / "killed")
    command = _command("galr", corpora[2], killed, 2, *extra)
    proc = subprocess.Popen(
        command,
        cwd=RECIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    step = None
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        step = _intra_epoch_step(os.path.join(killed, "save"))
        if step is not None and step >= 3:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert step is not None and 3 <= step < 40, "not killed mid-epoch"
    assert not os.path.exists(os.path.join(killed, "test_results.csv"))

    log = _run(command)
    assert "resuming epoch 1 after its batch" in log
    # same training as the uninterrupted run: same curves, same results
    for name in ("curves.csv", "test_results.csv"):
        _, resumed = _read_csv(os.path.join(killed, name))
        _, reference = _read_csv(os.path.join(whole, name))
        for a, b in zip(resumed, reference):
            for key in a:
                if key in ("train_minutes", "seconds_per_step", "snt_id"):
                    continue
                assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-4)
