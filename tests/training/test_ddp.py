"""The WSJ0Mix recipe under ``torchrun`` with two gloo processes on the
CPU, as users scale out: enough epochs and mid-epoch checkpoints to delete
many checkpoints (every deletion is a collective of SpeechBrain's
``Checkpointer``), then a resume under ``torchrun``.

A hang fails the test at the subprocess timeout (torchrun and its workers
are stopped)."""

import csv
import os
import re
import signal
import subprocess
import sys
import tempfile

import pytest
import yaml

from speechbrain_galr.data.demo_corpus import make_demo_corpus

ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
RECIPE = os.path.join(ROOT, "recipes", "WSJ0Mix", "separation")
NUM_TRAIN = 8
"""Training mixtures: 4 batches of one per process and epoch."""

TINY_RUN = [
    "--num_blocks", "1", "--num_filters", "16", "--hidden_channels", "16",
    "--num_heads", "2", "--segment_size", "20", "--reduced_segment_size",
    "4", "--training_signal_len", "2000", "--num_workers", "0",
    "--num_threads", "1", "--noprogressbar", "--save_audio", "False",
    "--num_test_examples", "1", "--distributed_backend", "gloo",
    "--device", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny wsj0-2mix: 8 training, 2 validation, 2 test mixtures."""
    folder = tmp_path_factory.mktemp("ddp_corpus")
    make_demo_corpus(
        str(folder),
        num_spks=2,
        num_speakers=10,
        utterances_per_speaker=2,
        num_mixtures=(NUM_TRAIN, 2, 2),
        num_valid_speakers=3,
        num_test_speakers=3,
        max_seconds=0.5,
    )
    return str(folder / "2speakers")


def run_torchrun(args, timeout=150):
    """``torchrun --standalone --nproc_per_node=2 train.py ARGS`` in the
    recipe folder; past ``timeout`` (a hang) torchrun and its workers are
    stopped and the test fails."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "train.py", *args]  # fmt: skip
    log = tempfile.TemporaryFile("w+")  # not a pipe that workers hold open
    proc = subprocess.Popen(
        command, cwd=RECIPE, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # torchrun passes SIGTERM on to its workers (each in its own
        # session), and kills them after a grace period
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    log.seek(0)
    output = log.read()
    log.close()
    if proc.returncode == -signal.SIGTERM or "got signal: 15" in output:
        pytest.fail(f"torchrun hung for {timeout} s:\n{output[-3000:]}")
    assert proc.returncode == 0, output[-3000:]
    return output


def _curves(out):
    with open(os.path.join(out, "curves.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _checkpoints(save_folder):
    """{name: meta} of the checkpoint folders; other names listed."""
    metas, others = {}, []
    for name in sorted(os.listdir(save_folder)):
        path = os.path.join(save_folder, name)
        if name.startswith("CKPT+"):
            with open(os.path.join(path, "CKPT.yaml")) as f:
                metas[name] = yaml.safe_load(f)
        elif os.path.isdir(path):
            others.append(name)
    return metas, others


def test_torchrun_deletes_checkpoints_and_resumes(corpus, tmp_path):
    """Six epochs with a mid-epoch checkpoint after every batch (30 saves,
    28 deletions) finish; each save writes one checkpoint (not one per
    process); the processes share the training set; a rerun under
    torchrun with more epochs resumes after the last one."""
    out = str(tmp_path / "run")
    args = ["hparams/galr-small.yaml", "--data_folder", corpus,
            "--output_folder", out, *TINY_RUN, "--N_epochs", "6",
            "--ckpt_interval_minutes", "0", "--ckpt_interval_steps",
            "1"]  # fmt: skip
    run_torchrun(args)
    curves = _curves(out)
    # each process trains on its half of the 8 mixtures: 4 steps an epoch
    assert [int(row["epoch"]) for row in curves] == [1, 2, 3, 4, 5, 6]
    assert [int(row["optimizer_steps"]) for row in curves] == [
        4, 8, 12, 16, 20, 24
    ]  # fmt: skip
    # one checkpoint per save: 6 x (4 mid-epoch + 1 end-of-epoch), all
    # written by the main process, and only the last two epochs' are left
    with open(os.path.join(out, "log.txt")) as f:
        saves = [ln for ln in f if " - Saved an " in ln]
    assert len(saves) == 30
    metas, others = _checkpoints(os.path.join(out, "save"))
    assert sorted(meta["epoch"] for meta in metas.values()) == [5, 6]
    assert all(meta["end-of-epoch"] for meta in metas.values())
    assert others == []  # no .partial- folder left
    assert os.path.isfile(os.path.join(out, "test_results.csv"))

    # resumed under torchrun: epoch 7 only, from the checkpoint of epoch 6
    output = run_torchrun(args[:-6] + ["--N_epochs", "7"])
    assert "resuming after epoch 6 (optimizer step 24" in output
    curves = _curves(out)
    assert [int(row["epoch"]) for row in curves] == [1, 2, 3, 4, 5, 6, 7]
    assert int(curves[-1]["optimizer_steps"]) == 28
    metas, others = _checkpoints(os.path.join(out, "save"))
    assert sorted(meta["epoch"] for meta in metas.values()) == [6, 7]


def test_torchrun_budget_stop_resumes_mid_epoch(corpus, tmp_path):
    """A max_train_minutes budget spent mid-epoch under torchrun leaves the
    epoch open with one intra-epoch checkpoint; the rerun under torchrun
    with a larger budget resumes it at the next batch and finishes it with
    half of the 40 dynamically mixed mixtures per process."""
    out = str(tmp_path / "run")
    speakers = os.path.join(os.path.dirname(corpus), "speakers")
    args = ["hparams/galr-small.yaml", "--data_folder", corpus,
            "--output_folder", out, *TINY_RUN, "--N_epochs", "1",
            "--dynamic_mixing", "True", "--base_folder_dm", speakers,
            "--dm_mixtures_per_epoch", "40", "--ckpt_interval_minutes",
            "0"]  # fmt: skip
    output = run_torchrun(args + ["--max_train_minutes", "0.003"])
    stop = re.search(r"epoch 1 left open after its batch (\d+)", output)
    assert stop and 1 <= int(stop[1]) < 20, output[-3000:]
    metas, _ = _checkpoints(os.path.join(out, "save"))
    ends = [meta["end-of-epoch"] for meta in metas.values()]
    assert ends == [False], output[-3000:]
    output = run_torchrun(args + ["--max_train_minutes", "10"])
    resumed = f"resuming epoch 1 after its batch {stop[1]} "
    assert resumed in output, output[-3000:]
    steps = [int(row["optimizer_steps"]) for row in _curves(out)]
    assert steps == [20], output[-3000:]
