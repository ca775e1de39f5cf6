"""Failed, killed and bad exports: the old model folder is left whole,
nothing half-written stays behind, and bad files give one-line errors
that name them (``speechbrain_galr.export.folder``, the command line and
``speechbrain_galr.inference.loading``)."""

import os
import shutil
import signal
import subprocess
import sys

import pytest
import soundfile as sf
import torch
from recipe_runner import tree_digest
from scored_recipe import (
    EXPORTED,
    MIX,
    best_checkpoint_file,
    make_recipe_output,
    run_cli,
)

import speechbrain_galr
from speechbrain_galr.export.folder import ExportError, export_model
from speechbrain_galr.export.hub import (
    MODULE_NAMES,
    ModelFileError,
)
from speechbrain_galr.inference.separator import GALRSeparation, load_model


def test_failed_overwrite_keeps_the_old_model(recipe, tmp_path, capsys):
    """A recipe copy with a changed hidden_channels, exported
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
    status, err = run_cli(
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
    new = tree_digest(os.path.dirname(best_checkpoint_file(folder, "encoder")))
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
    """Export of a bad checkpoint, separate with a bad model
    folder: exit 1, one line naming the file, nothing written."""
    folder, _ = recipe
    bad = tmp_path / "bad_recipe"
    shutil.copytree(folder, bad)
    ckpt = best_checkpoint_file(str(bad), "masknet")
    # every checkpoint damaged: a damaged best alone falls back to the
    # next best (tests/export/test_export_damaged_best.py)
    for other in (bad / "save").glob("CKPT+*/masknet.ckpt"):
        damage(other)
    status, err = run_cli(["export", bad, "--out", tmp_path / "m"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {ckpt} ") and message in err
    assert not (tmp_path / "m").exists()

    model = tmp_path / "model"
    export_model(folder, str(model))
    damage(model / "masknet.ckpt")
    wav = tmp_path / "mix.wav"
    sf.write(str(wav), MIX[0].numpy(), 8000)
    out = tmp_path / "out"
    status, err = run_cli(
        ["separate", wav, "--model", model, "--out", out], capsys
    )
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "masknet.ckpt" in err and message in err
    assert not out.exists() or not os.listdir(out)


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
    status, err = run_cli(argv, capsys)
    assert status == 1 and err.startswith(f"error: cannot parse {hparams}")
    assert len(err.strip().splitlines()) == 1
    hparams.write_text(text.replace("hidden_channels: 8", "hidden_channels: 9"))
    status, err = run_cli(argv, capsys)
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
    status, err = run_cli(["export", bad, "--out", tmp_path / "m"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: cannot parse {bad / 'hyperparams.yaml'}")
