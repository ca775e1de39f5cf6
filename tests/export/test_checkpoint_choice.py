"""Tests of the checkpoint choice of ``speechbrain_galr.export.hub``: the
best checkpoint by the stored score, either way round, an explicit one,
unreadable meta."""

import os
import shutil

import pytest
import torch
from scored_recipe import (
    MIX,
    SCORES,
    best_checkpoint_file,
    make_recipe_output,
    run_cli,
)
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_galr.export.folder import ExportError, export_model
from speechbrain_galr.inference.separator import GALRSeparation


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
    # no checkpoint has the key asked for: an error naming it
    with pytest.raises(ExportError, match="holds the meta key 'sdr'"):
        export_model(folder, str(tmp_path / "c"), max_key="sdr", verify=False)
    assert not (tmp_path / "c").exists()


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


def test_unreadable_checkpoint_meta_is_skipped(recipe, tmp_path, capsys):
    folder, outputs = recipe
    bad = tmp_path / "bad_recipe"
    shutil.copytree(folder, bad)
    best = os.path.dirname(best_checkpoint_file(str(bad), "masknet"))
    meta = os.path.join(best, "CKPT.yaml")
    with open(meta, "w") as fout:
        fout.write("si-snr: [")
    dest = export_model(str(bad), str(tmp_path / "m"), verify=False)
    model = GALRSeparation.from_hparams(source=dest)
    # the best of the others (7.0, the third)
    torch.testing.assert_close(model.separate_batch(MIX), outputs[2])
    for path in (bad / "save").glob("CKPT+*/CKPT.yaml"):
        path.write_text("")
    status, err = run_cli(["export", bad, "--out", tmp_path / "m2"], capsys)
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "no CKPT+* checkpoint" in err and "(3 unreadable)" in err
