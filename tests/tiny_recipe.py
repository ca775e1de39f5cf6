"""A tiny GALR recipe output and the in-process command line, shared by
the tests of the CLI, the export and the ONNX backend."""

import contextlib
import io
import os

import torch
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.checkpoints import Checkpointer

import speechbrain_galr
import speechbrain_galr.__main__ as cli

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
"""The package's model yaml (the hub models' hyperparameters)."""

TINY = dict(
    num_filters=16,
    hidden_channels=8,
    num_blocks=1,
    num_heads=2,
    segment_size=10,
    reduced_segment_size=4,
)
"""Overrides of :data:`MODEL_YAML` for a model that runs in milliseconds."""


def run_main(*args):
    """Runs the command line in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(args))
    return status, out.getvalue(), err.getvalue()


def write_tiny_recipe_output(folder):
    """Writes a recipe output folder with one checkpoint of a tiny GALR
    (seeded): ``hyperparams.yaml`` and ``save/CKPT+...``."""
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
