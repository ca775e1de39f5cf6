"""Tests of ``speechbrain_galr.export.model_card``: the settings, the
exported checkpoint and the test results only when they are its own."""

import os
import shutil

import yaml
from scored_recipe import (
    TINY,
)
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_galr.export.folder import export_model


def test_model_card_lists_explicit_settings_and_results(recipe, tmp_path):
    folder, _ = recipe
    dest = export_model(
        folder, str(tmp_path / "model"), training_data="Synthetic tones."
    )
    with open(os.path.join(dest, "README.md")) as fin:
        card = fin.read()
    assert card.startswith("---\n")
    assert "Synthetic tones." in card
    # paths by their last folder: the trainer's own paths stay private
    assert "| data_folder | .../2speakers |" in card
    assert "/data/wsj0-mix" not in card
    assert "| N_epochs | 200 |" in card
    assert f"| hidden_channels | {TINY['hidden_channels']} |" in card
    # paths of the run are not settings
    assert "save_folder" not in card and "train_data" not in card
    assert "Average over 2 test mixtures" in card
    assert "| SI-SNRi (dB) | 10.50 |" in card
    assert "epoch 2, validation SI-SNR 9.50 dB" in card
    assert "foreign_class" in card and "GALRSeparation.from_hparams" in card


def test_stale_test_results_are_not_paired_with_a_newer_checkpoint(
    recipe, tmp_path
):
    """A resumed run trained further and crashed before its
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
