"""Tests of the export of recipe checkpoints to SpeechBrain hub folders."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references
from recipe_runner import tree_digest
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.parameter_transfer import Pretrainer

import speechbrain_galr
from speechbrain_galr.__main__ import main
from speechbrain_galr.export.folder import ExportError, export_model
from speechbrain_galr.export.hub import (
    MODULE_NAMES,
    ModelFileError,
    list_checkpoints,
    score_direction,
)
from speechbrain_galr.inference.separator import GALRSeparation, load_model
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
REPO = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
EXPORTED = [
    "README.md",
    "custom_interface.py",
    "decoder.ckpt",
    "encoder.ckpt",
    "hyperparams.yaml",
    "masknet.ckpt",
]


def make_recipe_output(folder, scores=SCORES, style="recipe"):
    """A recipe output folder as the recipes leave it: the resolved
    hyperparams.yaml, one checkpoint per validation SI-SNR in ``scores``
    (different weights; meta and brain.ckpt as ``style`` writes them), and
    test_results.csv of the best one.  Returns each checkpoint's output on
    MIX."""
    extra_meta, sign, brain_state = STYLES[style]
    with open(MODEL_YAML) as fin:
        text = fin.read() + RECIPE_EXTRA
    overrides = {**TINY, "output_folder": str(folder)}
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


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("recipe") / "results")
    return folder, make_recipe_output(folder)


def test_export_picks_the_best_checkpoint_and_reproduces_it(recipe, tmp_path):
    folder, outputs = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    assert sorted(os.listdir(dest)) == sorted(EXPORTED + ["test_results.csv"])
    model = GALRSeparation.from_hparams(source=dest)
    best = outputs[SCORES.index(max(SCORES))]
    torch.testing.assert_close(model.separate_batch(MIX), best)
    # and through a file, as a user separates
    path = str(tmp_path / "mix.wav")
    sf.write(path, MIX[0].numpy(), 8000, subtype="FLOAT")
    est = model.separate_file(path, normalize=False)
    torch.testing.assert_close(est, best)


def test_hub_hyperparams_are_speechbrain_style(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    with open(os.path.join(dest, "hyperparams.yaml")) as fin:
        text = fin.read()
    # no path keys of our own: SpeechBrain's Pretrainer falls back to the
    # folder or repository it loads
    assert "pretrained_path" not in text and "paths:" not in text
    hub = load_hyperpyyaml(text)
    assert sorted(hub["modules"]) == ["model"]
    assert hub["sample_rate"] == 8000 and hub["num_spks"] == 2
    assert isinstance(hub["pretrainer"], Pretrainer)
    assert sorted(hub["pretrainer"].loadables) == sorted(MODULE_NAMES)
    assert hub["pretrainer"].loadables["masknet"] is hub["model"].masknet
    # the recipe's values, and nothing of its training machinery
    assert hub["masknet"].num_layers == TINY["num_blocks"]
    assert hub["encoder"].conv1d.out_channels == TINY["num_filters"]
    for key in ("optimizer", "checkpointer", "epoch_counter", "data_folder"):
        assert key not in hub


def test_model_card_lists_explicit_settings_and_results(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(
        folder, str(tmp_path / "model"), training_data="Synthetic tones."
    )
    with open(os.path.join(dest, "README.md")) as fin:
        card = fin.read()
    assert card.startswith("---\n")
    assert "Synthetic tones." in card
    assert "| data_folder | /data/wsj0-mix/2speakers |" in card
    assert "| N_epochs | 200 |" in card
    assert f"| hidden_channels | {TINY['hidden_channels']} |" in card
    # paths of the run are not settings
    assert "save_folder" not in card and "train_data" not in card
    assert "Average over 2 test mixtures" in card
    assert "| SI-SNRi (dB) | 10.50 |" in card
    assert "epoch 2, validation SI-SNR 9.50 dB" in card
    assert "foreign_class" in card and "GALRSeparation.from_hparams" in card


def test_exported_folder_can_be_moved(recipe, tmp_path):
    folder, outputs = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    moved = str(tmp_path / "elsewhere")
    shutil.move(dest, moved)
    model = GALRSeparation.from_hparams(
        source=moved, savedir=str(tmp_path / "cache")
    )
    torch.testing.assert_close(model.separate_batch(MIX), outputs[1])


def test_checkpoint_choice(recipe, tmp_path):
    folder, outputs = recipe
    # the test loads each folder itself: no verification load
    # the stored loss maximised: the worst
    lowest = export_model(
        folder, str(tmp_path / "a"), max_key="si-snr", verify=False
    )
    model = GALRSeparation.from_hparams(source=lowest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[0])
    # an explicit checkpoint
    checkpoints = Checkpointer(os.path.join(folder, "save")).list_checkpoints()
    last = max(checkpoints, key=lambda c: c.meta["epoch"])
    dest = export_model(
        folder, str(tmp_path / "b"), checkpoint=last.path, verify=False
    )
    model = GALRSeparation.from_hparams(source=dest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[2])
    # no checkpoint has the key: the newest one
    dest = export_model(
        folder, str(tmp_path / "c"), max_key="sdr", verify=False
    )
    model = GALRSeparation.from_hparams(source=dest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[2])


@pytest.mark.parametrize("style", ["speechbrain", "older recipe"])
def test_checkpoints_written_either_way_round_export_the_best(tmp_path, style):
    """SpeechBrain's recipes store the validation loss (-SI-SNR) as
    ``si-snr`` and keep checkpoints with min_keys (their brain.ckpt has no
    train_seconds); this package's recipes stored the SI-SNR before they
    stored the loss too (with si-snr_is_loss)."""
    folder = str(tmp_path / "recipe")
    outputs = make_recipe_output(folder, SCORES, style)
    dest = export_model(folder, str(tmp_path / "model"), verify=False)
    model = GALRSeparation.from_hparams(source=dest)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[1])
    card = (tmp_path / "model" / "README.md").read_text()
    assert "epoch 2, validation SI-SNR 9.50 dB" in card


def test_export_errors_name_the_problem(recipe, tmp_path):
    folder, _ = recipe
    with pytest.raises(ExportError, match="output folder not found"):
        export_model(str(tmp_path / "nowhere"), str(tmp_path / "m"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ExportError, match="hyperparameter file not found"):
        export_model(str(empty), str(tmp_path / "m"))
    shutil.copy(os.path.join(folder, "hyperparams.yaml"), empty)
    with pytest.raises(ExportError, match="checkpoint folder not found"):
        export_model(str(empty), str(tmp_path / "m"))
    (empty / "save").mkdir()
    with pytest.raises(ExportError, match="no CKPT"):
        export_model(str(empty), str(tmp_path / "m"))
    # a checkpoint without the mask network
    saver = Checkpointer(
        str(empty / "save"), {"encoder": torch.nn.Linear(1, 1)}
    )
    saver.save_checkpoint(meta={"si-snr": 1.0})
    with pytest.raises(ExportError, match="masknet.ckpt"):
        export_model(str(empty), str(tmp_path / "m"))
    # an existing folder is not overwritten unless asked
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "hyperparams.yaml").write_text("{}\n")  # a model folder
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export_model(folder, str(dest))
    export_model(folder, str(dest), overwrite=True)
    assert (dest / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(dest)) == sorted(
        EXPORTED + ["notes.txt", "test_results.csv"]
    )
    # a recipe without the model definitions
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "hyperparams.yaml").write_text("sample_rate: 8000\nnum_spks: 2\n")
    with pytest.raises(ExportError, match="lack encoder, masknet, decoder"):
        export_model(str(bare), str(tmp_path / "m2"))
    assert not os.path.exists(tmp_path / "m") and not (tmp_path / "m2").exists()


# --- issue 14: bad input and kills leave the old model whole ---------------


def _best_checkpoint_file(folder, name):
    checkpoints = Checkpointer(os.path.join(folder, "save")).list_checkpoints()
    best = min(checkpoints, key=lambda c: c.meta["si-snr"])  # the loss
    return best.paramfiles[name]


def _cli(argv, capsys):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.err


def test_failed_overwrite_keeps_the_old_model(recipe, tmp_path, capsys):
    """Issue 14.1: a recipe copy with a changed hidden_channels, exported
    with --overwrite onto a model folder, fails with one line and leaves
    the old model (and nothing else) as it was."""
    folder, outputs = recipe
    dest = tmp_path / "model"
    export_model(folder, str(dest))
    (dest / "notes.txt").write_text("mine")
    before = tree_digest(dest)
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    text = (changed / "hyperparams.yaml").read_text()
    (changed / "hyperparams.yaml").write_text(
        text.replace("hidden_channels: 8", "hidden_channels: 12")
    )
    status, err = _cli(
        ["export", changed, "--out", dest, "--overwrite"], capsys
    )
    assert status == 1
    assert err.startswith("error: masknet.ckpt does not fit the model")
    assert "hyperparams.yaml" in err and len(err.strip().splitlines()) == 1
    assert tree_digest(dest) == before
    assert sorted(os.listdir(tmp_path)) == ["changed", "model"]
    model = GALRSeparation.from_hparams(source=str(dest))
    torch.testing.assert_close(model.separate_batch(MIX), outputs[1])


def test_failed_verification_keeps_the_old_model(recipe, tmp_path, monkeypatch):
    folder, _ = recipe
    dest = tmp_path / "model"
    export_model(folder, str(dest))
    before = tree_digest(dest)

    def broken(folder, states):
        raise RuntimeError("simulated load failure")

    monkeypatch.setattr(speechbrain_galr.export.folder, "verify_folder", broken)
    with pytest.raises(ExportError, match="does not load .*left as it was"):
        export_model(folder, str(dest), overwrite=True)
    assert tree_digest(dest) == before
    assert os.listdir(tmp_path) == ["model"]  # no staging folder left


KILLED_EXPORT = """
import os, signal, sys
import speechbrain_galr.export.folder as export
import speechbrain_galr.atomic_files as files
point = sys.argv[3]

def kill(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "staged":  # all new files written, before the check
    export.verify_folder = kill
else:  # the new folder in place, the old one not yet removed
    files.shutil = type("S", (), {"rmtree": staticmethod(kill)})
export.export_model(sys.argv[1], sys.argv[2], overwrite=True)
"""


@pytest.mark.parametrize("point", ["staged", "swapped"])
def test_killed_export_leaves_a_complete_model(recipe, tmp_path, point):
    """kill -9 while the new export is staged leaves the old folder, right
    after the swap the new one; the next export removes the leftovers."""
    folder, _ = recipe
    other = tmp_path / "other"
    make_recipe_output(str(other), [1.0])
    dest = tmp_path / "model"
    export_model(str(other), str(dest))
    old = tree_digest(dest)
    new = tree_digest(os.path.dirname(_best_checkpoint_file(folder, "encoder")))
    script = tmp_path / "killed.py"
    script.write_text(KILLED_EXPORT)
    proc = subprocess.run(
        [sys.executable, str(script), folder, str(dest), point],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    after = tree_digest(dest)
    if point == "staged":
        assert after == old
    else:  # the new export, complete
        assert sorted(after) == sorted(EXPORTED + ["test_results.csv"])
        for name in MODULE_NAMES:
            assert after[f"{name}.ckpt"] == new[f"{name}.ckpt"]
    leftovers = [n for n in os.listdir(tmp_path) if n.startswith(".galr")]
    assert len(leftovers) == 1
    export_model(folder, str(dest), overwrite=True)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".galr")]


def test_stale_test_results_are_not_paired_with_a_newer_checkpoint(
    recipe, tmp_path
):
    """Issue 14.3: a resumed run trained further and crashed before its
    test: test_results.csv is the test of an older checkpoint."""
    folder, _ = recipe
    resumed = tmp_path / "resumed"
    shutil.copytree(folder, resumed)
    saver = Checkpointer(str(resumed / "save"))
    best = min(saver.list_checkpoints(), key=lambda c: c.meta["si-snr"])
    newer = resumed / "save" / "CKPT+newer"
    shutil.copytree(best.path, newer)
    meta = yaml.safe_load((newer / "CKPT.yaml").read_text())
    meta.update({"si-snr": -12.0, "unixtime": meta["unixtime"] + 60})
    (newer / "CKPT.yaml").write_text(yaml.safe_dump(meta))
    dest = export_model(str(resumed), str(tmp_path / "model"))
    card = (tmp_path / "model" / "README.md").read_text()
    assert "CKPT+newer" in card
    assert "This checkpoint was not tested" in card
    assert "SI-SNRi" not in card.split("## Test results")[1].split("##")[0]
    assert "test_results.csv" not in os.listdir(dest)
    # results that name no checkpoint are not trusted either
    os.remove(resumed / "test_results.yaml")
    shutil.rmtree(newer)
    export_model(str(resumed), str(tmp_path / "model2"))
    card = (tmp_path / "model2" / "README.md").read_text()
    assert "not tested: test_results.csv does not say which" in card


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable"),
        (lambda p: p.write_bytes(os.urandom(3000)), "not a readable"),
    ],
    ids=["empty", "truncated", "corrupt"],
)
def test_bad_checkpoint_files_give_one_line_errors(
    recipe, tmp_path, capsys, damage, message
):
    """Issue 14.5: export of a bad checkpoint, separate with a bad model
    folder: exit 1, one line naming the file, nothing written."""
    folder, _ = recipe
    bad = tmp_path / "bad_recipe"
    shutil.copytree(folder, bad)
    ckpt = _best_checkpoint_file(str(bad), "masknet")
    damage(ckpt)
    status, err = _cli(["export", bad, "--out", tmp_path / "m"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {ckpt} ") and message in err
    assert not (tmp_path / "m").exists()

    model = tmp_path / "model"
    export_model(folder, str(model))
    damage(model / "masknet.ckpt")
    wav = tmp_path / "mix.wav"
    sf.write(str(wav), MIX[0].numpy(), 8000)
    out = tmp_path / "out"
    status, err = _cli(
        ["separate", wav, "--model", model, "--out", out], capsys
    )
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "masknet.ckpt" in err and message in err
    assert not out.exists() or not os.listdir(out)


def test_unreadable_checkpoint_meta_is_skipped(recipe, tmp_path, capsys):
    folder, outputs = recipe
    bad = tmp_path / "bad_recipe"
    shutil.copytree(folder, bad)
    best = os.path.dirname(_best_checkpoint_file(str(bad), "masknet"))
    meta = os.path.join(best, "CKPT.yaml")
    with open(meta, "w") as fout:
        fout.write("si-snr: [")
    dest = export_model(str(bad), str(tmp_path / "m"), verify=False)
    model = GALRSeparation.from_hparams(source=dest)
    # the best of the others (7.0, the third)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[2])
    for path in (bad / "save").glob("CKPT+*/CKPT.yaml"):
        path.write_text("")
    status, err = _cli(["export", bad, "--out", tmp_path / "m2"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "no CKPT+* checkpoint" in err and "(3 unreadable)" in err


def test_bad_model_yaml_gives_one_line_errors(recipe, tmp_path, capsys):
    folder, _ = recipe
    model = tmp_path / "model"
    export_model(folder, str(model))
    wav = tmp_path / "mix.wav"
    sf.write(str(wav), MIX[0].numpy(), 8000)
    hparams = model / "hyperparams.yaml"
    text = hparams.read_text()
    argv = ["separate", wav, "--model", model, "--out", tmp_path / "out"]
    hparams.write_text(text.replace("num_spks: 2", "num_spks: [2"))
    status, err = _cli(argv, capsys)
    assert status == 1 and err.startswith(f"error: cannot parse {hparams}")
    assert len(err.strip().splitlines()) == 1
    hparams.write_text(text.replace("hidden_channels: 8", "hidden_channels: 9"))
    status, err = _cli(argv, capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "do not fit its hyperparams.yaml" in err and str(model) in err
    hparams.unlink()
    with pytest.raises(ModelFileError, match="has no hyperparams.yaml"):
        load_model(str(model))


def test_malformed_recipe_yaml_gives_one_line_error(recipe, tmp_path, capsys):
    folder, _ = recipe
    bad = tmp_path / "bad_recipe"
    shutil.copytree(folder, bad)
    (bad / "hyperparams.yaml").write_text(
        "encoder: !new:torch.nn.Linear\n  - ["
    )
    status, err = _cli(["export", bad, "--out", tmp_path / "m"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: cannot parse {bad / 'hyperparams.yaml'}")


def test_custom_interface_needs_only_speechbrain(recipe, tmp_path):
    """custom_interface.py imports nothing but the standard library and
    what installing speechbrain installs."""
    import ast
    import importlib.metadata

    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    with open(os.path.join(dest, "custom_interface.py")) as fin:
        tree = ast.parse(fin.read())
    required = {"speechbrain", "torch", "torchaudio"}
    for requirement in importlib.metadata.requires("speechbrain"):
        if "extra ==" not in requirement:
            name = requirement.split(";")[0].split(">")[0].split("=")[0]
            required.add(name.strip().replace("-", "_").lower())
    imported = set()
    for node in tree.body:  # module level: what loading the file needs
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party <= required | {"speechbrain_galr"}, third_party
    # the package itself only in the guarded fallback at the end
    assert "speechbrain_galr" not in third_party or any(
        isinstance(node, ast.Try) for node in tree.body
    )


def test_separate_file_of_exported_model_handles_other_rates(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    model = GALRSeparation.from_hparams(source=dest)
    stereo = np.random.default_rng(0).normal(0, 0.2, (44100, 2))
    path = str(tmp_path / "stereo.wav")
    sf.write(path, stereo, 44100)
    est = model.separate_file(path)
    assert est.shape == (1, 8000, 2) and torch.isfinite(est).all()


# --- end to end with the WSJ0Mix recipe -----------------------------------

RECIPE = os.path.join(REPO, "recipes", "WSJ0Mix", "separation")

FOREIGN_LOAD = """
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
est = model.separate_file(sys.argv[2], normalize=False)
# the classes came from custom_interface.py, not from an installed package
assert not hasattr(sys.modules["speechbrain_galr"], "__file__")
assert type(model).__module__ == "custom_interface"
torch.save(est, sys.argv[3])
"""


def test_recipe_run_export_and_foreign_class_reproduce_its_results(tmp_path):
    """Trains the WSJ0Mix recipe for a tiny run, exports it, and checks that
    the exported model separates the recipe's test mixtures from their
    files as the recipe's own test did (test_results.csv): loaded with
    from_hparams, and with foreign_class in a process where
    speechbrain_galr cannot be imported."""
    from speechbrain_galr.audio import load_mono
    from speechbrain_galr.data.demo_corpus import make_demo_corpus
    from speechbrain_galr.metrics import separation_scores

    corpus = make_demo_corpus(
        str(tmp_path / "corpus"),
        num_speakers=8,
        utterances_per_speaker=1,
        num_mixtures=(4, 2, 2),
        num_valid_speakers=2,
        num_test_speakers=2,
        max_seconds=1.0,
    )
    out = str(tmp_path / "recipe_output")
    # fmt: off
    command = [
        sys.executable, "train.py", "hparams/galr-small.yaml",
        "--data_folder", corpus, "--output_folder", out,
        "--num_filters", "16", "--hidden_channels", "16",
        "--num_blocks", "1", "--num_heads", "2", "--segment_size", "20",
        "--reduced_segment_size", "4", "--N_epochs", "2",
        "--num_workers", "0",
        "--num_threads", "1", "--noprogressbar", "--num_test_examples", "1",
    ]
    # fmt: on
    proc = subprocess.run(
        command, cwd=RECIPE, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # the recipe stores SpeechBrain's loss (si-snr_is_loss), minimised
    checkpoints = list_checkpoints(os.path.join(out, "save"))
    assert {score_direction(c) for c in checkpoints} == {"min"}
    dest = export_model(out, str(tmp_path / "model"))
    with open(os.path.join(dest, "README.md")) as fin:
        card = fin.read()
    with open(os.path.join(out, "test_results.csv")) as fin:
        rows = list(csv.DictReader(fin))
    avg = rows[-1]
    assert f"| SI-SNRi (dB) | {float(avg['si-snr_i']):.2f} |" in card
    assert f"| data_folder | {corpus} |" in card

    model = GALRSeparation.from_hparams(source=dest)
    with open(os.path.join(out, "save", "wsj_tt.csv")) as fin:
        # the prepared CSV's paths start with $data_root (SpeechBrain's)
        items = {
            row["ID"]: {
                key: value.replace("$data_root", corpus)
                for key, value in row.items()
            }
            for row in csv.DictReader(fin)
        }
    assert len(rows) - 1 == len(items) == 2
    for row in rows[:-1]:
        item = items[row["snt_id"]]
        est = model.separate_file(item["mix_wav"])[0]  # [T, C]
        mixture, _ = load_mono(item["mix_wav"])
        references = torch.stack(
            [load_mono(item[f"s{c}_wav"])[0] for c in (1, 2)], dim=-1
        )
        scores = separation_scores(mixture, references, est)
        for key in ("si-snr", "si-snr_i", "sdr", "sdr_i"):
            assert scores[key] == pytest.approx(float(row[key]), abs=0.01)

    # foreign_class, with speechbrain_galr blocked, run outside the checkout
    row = rows[0]
    item = items[row["snt_id"]]
    script = tmp_path / "foreign.py"
    script.write_text(textwrap.dedent(FOREIGN_LOAD))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = str(tmp_path / "foreign.pt")
    proc = subprocess.run(
        [sys.executable, str(script), dest, item["mix_wav"], result],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    foreign = torch.load(result)[0]
    torch.testing.assert_close(
        foreign, model.separate_file(item["mix_wav"], normalize=False)[0]
    )
    mixture, _ = load_mono(item["mix_wav"])
    references = torch.stack(
        [load_mono(item[f"s{c}_wav"])[0] for c in (1, 2)], dim=-1
    )
    scores = separation_scores(mixture, references, foreign)
    print(
        f"foreign_class SI-SNR {scores['si-snr']:.4f} dB, recipe test "
        f"{float(row['si-snr']):.4f} dB, difference "
        f"{abs(scores['si-snr'] - float(row['si-snr'])):.2e} dB"
    )
    assert scores["si-snr"] == pytest.approx(float(row["si-snr"]), abs=0.01)
