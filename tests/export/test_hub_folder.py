"""Tests of ``speechbrain_galr.export.folder``: what an export writes, the
hub ``hyperparams.yaml``, and that the folder loads and reproduces the
recipe's checkpoint."""

import os
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch
from hyperpyyaml import load_hyperpyyaml
from scored_recipe import (
    EXPORTED,
    MIX,
    SCORES,
    TINY,
)
from speechbrain.utils.checkpoints import Checkpointer
from speechbrain.utils.parameter_transfer import Pretrainer

from speechbrain_galr.export.folder import ExportError, export_model
from speechbrain_galr.export.hub import (
    MODULE_NAMES,
)
from speechbrain_galr.inference.separator import GALRSeparation


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


def test_exported_folder_can_be_moved(recipe, tmp_path):
    folder, outputs = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    moved = str(tmp_path / "elsewhere")
    shutil.move(dest, moved)
    model = GALRSeparation.from_hparams(
        source=moved, savedir=str(tmp_path / "cache")
    )
    torch.testing.assert_close(model.separate_batch(MIX), outputs[1])


def test_separate_file_of_exported_model_handles_other_rates(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(folder, str(tmp_path / "model"))
    model = GALRSeparation.from_hparams(source=dest)
    stereo = np.random.default_rng(0).normal(0, 0.2, (44100, 2))
    path = str(tmp_path / "stereo.wav")
    sf.write(path, stereo, 44100)
    est = model.separate_file(path)
    assert est.shape == (1, 8000, 2) and torch.isfinite(est).all()


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
