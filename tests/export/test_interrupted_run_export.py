"""A run interrupted mid-epoch: its newest checkpoint holds no score, and
the export still ranks the others by their own convention (the loss)."""

import torch
from speechbrain.utils.checkpoints import Checkpointer

from speechbrain_galr.export.hub import find_checkpoint


def test_newest_checkpoint_without_a_score_does_not_flip_the_ranking(
    tmp_path,
):
    saver = Checkpointer(str(tmp_path), {"encoder": torch.nn.Linear(2, 2)})
    for epoch, loss in ((1, -1.50), (2, -1.83)):  # SI-SNR 1.50, 1.83 dB
        saver.save_checkpoint(
            meta={"epoch": epoch, "si-snr": loss, "si-snr_is_loss": True}
        )
    saver.save_checkpoint(meta={"end-of-epoch": False})  # SIGINT mid-epoch
    assert find_checkpoint(str(tmp_path)).meta["epoch"] == 2
