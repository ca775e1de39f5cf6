"""A tiny recipe output with three scored checkpoints, as the separation
recipes leave it, and the in-process command line: shared by the tests of
``speechbrain_galr.export`` (the ``recipe`` fixture is in this folder's
``conftest.py``)."""

import os

import torch
import yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references
from speechbrain.utils.checkpoints import Checkpointer

import speechbrain_galr
from speechbrain_galr.__main__ import main
from speechbrain_galr.training.results_record import write_results_record

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
TINY = dict(
    num_filters=16,
    hidden_channels=8,
    num_blocks=2,
    num_heads=2,
    segment_size=10,
    reduced_segment_size=4,
)
# training settings a recipe has besides the model
RECIPE_EXTRA = """
seed: 1234
data_folder: /data/wsj0-mix/2speakers
output_folder: !ref results/galr/<seed>
save_folder: !ref <output_folder>/save
train_data: !ref <save_folder>/wsj_tr.csv
N_epochs: 200
lr: 0.001
optimizer: !name:torch.optim.Adam
    lr: !ref <lr>
epoch_counter: !new:speechbrain.utils.epoch_loop.EpochCounter
    limit: !ref <N_epochs>
checkpointer: !new:speechbrain.utils.checkpoints.Checkpointer
    checkpoints_dir: !ref <save_folder>
    recoverables:
        encoder: !ref <encoder>
        masknet: !ref <masknet>
        decoder: !ref <decoder>
        counter: !ref <epoch_counter>
"""
SCORES = [4.0, 9.5, 7.0]  # validation SI-SNR (dB) of the three checkpoints
# how checkpoint meta and brain.ckpt look, by who wrote them
STYLES = {
    # speechbrain_galr's recipes: SpeechBrain's loss, said so in the meta
    "recipe": ({"si-snr_is_loss": True}, -1, {"train_seconds": 12.0}),
    # speechbrain_galr's recipes before they stored the loss
    "older recipe": ({}, 1, {"train_seconds": 12.0}),
    # SpeechBrain's recipes: the loss, min_keys, its Brain's state
    "speechbrain": ({}, -1, {"step": 10, "avg_train_loss": -5.0}),
}
MIX = torch.sin(torch.arange(3000) * 0.05)[None] + 0.1 * torch.randn(
    1, 3000, generator=torch.Generator().manual_seed(0)
)

EXPORTED = [
    "README.md",
    "custom_interface.py",
    "decoder.ckpt",
    "encoder.ckpt",
    "hyperparams.yaml",
    "masknet.ckpt",
]


BLOCK_PACKAGE = """
import importlib.abc, sys
import torch


class BlockPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "speechbrain_galr":
            raise ImportError(f"{name} is blocked in this test")


sys.meta_path.insert(0, BlockPackage())
from speechbrain.inference.interfaces import foreign_class

model = foreign_class(source=sys.argv[1],
                      pymodule_file="custom_interface.py",
                      classname="GALRSeparation")
"""
"""The start of a script that loads the model folder ``sys.argv[1]`` with
``foreign_class`` in a process where ``speechbrain_galr`` cannot be
imported."""


def make_recipe_output(folder, scores=SCORES, style="recipe", **model):
    """A recipe output folder as the recipes leave it: the resolved
    hyperparams.yaml, one checkpoint per validation SI-SNR in ``scores``
    (different weights; meta and brain.ckpt as ``style`` writes them), and
    test_results.csv of the best one; ``model`` overrides the model's
    hyperparameters.  Returns each checkpoint's output on MIX."""
    extra_meta, sign, brain_state = STYLES[style]
    with open(MODEL_YAML) as fin:
        text = fin.read() + RECIPE_EXTRA
    overrides = {**TINY, **model, "output_folder": str(folder)}
    os.makedirs(folder)
    # what create_experiment_directory writes
    with open(os.path.join(folder, "hyperparams.yaml"), "w") as fout:
        fout.write("# yamllint disable\n")
        fout.write(resolve_references(text, overrides).getvalue())
    hparams = load_hyperpyyaml(text, overrides)
    outputs, checkpoints = [], []
    for epoch, score in enumerate(scores, start=1):
        torch.manual_seed(epoch)
        for param in hparams["model"].parameters():
            torch.nn.init.normal_(param, std=0.3)
        hparams["epoch_counter"].current = epoch
        ckpt = hparams["checkpointer"].save_checkpoint(
            meta={"si-snr": sign * score, **extra_meta, "epoch": epoch}
        )
        (ckpt.path / "brain.ckpt").write_text(yaml.safe_dump(brain_state))
        checkpoints.append(ckpt)
        with torch.no_grad():
            outputs.append(hparams["model"].eval()(MIX))
    with open(os.path.join(folder, "test_results.csv"), "w") as fout:
        fout.write("snt_id,sdr,sdr_i,si-snr,si-snr_i\n")
        fout.write("a,10.0,10.5,9.0,9.25\nb,12.0,12.5,11.0,11.75\n")
        fout.write("avg,11.0,11.5,10.0,10.5\n")
    best = checkpoints[scores.index(max(scores))]
    write_results_record(folder, best)
    return outputs


def best_checkpoint_file(folder, name):
    """The ``name``.ckpt file of the best (lowest loss) checkpoint."""
    checkpoints = Checkpointer(os.path.join(folder, "save")).list_checkpoints()
    best = min(checkpoints, key=lambda c: c.meta["si-snr"])  # the loss
    return best.paramfiles[name]


def run_cli(argv, capsys):
    """Runs the command line in this process: (status, stderr)."""
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.err
