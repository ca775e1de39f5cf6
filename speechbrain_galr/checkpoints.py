"""Checkpoints that a killed run cannot leave half-written.

SpeechBrain's ``Checkpointer`` writes a checkpoint's ``CKPT.yaml`` first and
its ``.ckpt`` files after it, in the folder that recovery reads: a run
killed while saving (SIGKILL, out of memory, a pre-empted job) leaves a
checkpoint that looks complete, is picked as the latest, and fails to load
(``EOFError``), so the rerun cannot resume.  :class:`AtomicCheckpointer`
writes into a hidden folder and renames it into place once every file is
written.

Authors
 * speechbrain-galr contributors 2026
"""

import logging
import os
import shutil

from speechbrain.utils.checkpoints import Checkpoint, Checkpointer
from speechbrain.utils.distributed import if_main_process

logger = logging.getLogger(__name__)

PARTIAL_PREFIX = ".partial-"
"""Name prefix of a checkpoint folder still being written."""


class AtomicCheckpointer(Checkpointer):
    """A ``Checkpointer`` whose checkpoints appear whole or not at all.

    Same arguments and behaviour as
    :class:`speechbrain.utils.checkpoints.Checkpointer`; a checkpoint is
    written to ``<checkpoints_dir>/.partial-CKPT+...`` and renamed to
    ``CKPT+...`` when complete.  Leftovers of a save that was killed are
    removed at the next save or recovery.

    Example
    -------
    >>> import torch
    >>> tmp = getfixture("tmp_path")
    >>> model = torch.nn.Linear(2, 2)
    >>> checkpointer = AtomicCheckpointer(tmp, {"model": model})
    >>> ckpt = checkpointer.save_checkpoint(meta={"si-snr": 3.0})
    >>> ckpt.path.name.startswith("CKPT+"), ckpt.paramfiles["model"].exists()
    (True, True)
    >>> (tmp / ".partial-CKPT+killed").mkdir()  # a save that was killed
    >>> checkpointer.recover_if_possible().meta["si-snr"]
    3.0
    >>> sorted(p.name.startswith("CKPT+") for p in tmp.iterdir())
    [True]
    """

    def _new_checkpoint_dirpath(self):
        self._final_dir = super()._new_checkpoint_dirpath()
        return self._partial(self._final_dir)

    def _custom_checkpoint_dirpath(self, name):
        self._final_dir = super()._custom_checkpoint_dirpath(name)
        return self._partial(self._final_dir)

    @staticmethod
    def _partial(final_dir):
        return final_dir.with_name(PARTIAL_PREFIX + final_dir.name)

    def _remove_partial(self):
        """Removes the folders of saves that were killed."""
        if not if_main_process() or not self.checkpoints_dir.is_dir():
            return
        for path in self.checkpoints_dir.iterdir():
            if path.name.startswith(PARTIAL_PREFIX):
                shutil.rmtree(path, ignore_errors=True)

    def save_checkpoint(
        self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO
    ):
        """``Checkpointer.save_checkpoint``, renamed into place at the end.

        See :meth:`speechbrain.utils.checkpoints.Checkpointer.
        save_checkpoint` for the arguments.
        """
        self._remove_partial()
        # the parent logs the partial folder: log the final one instead
        ckpt = super().save_checkpoint(
            meta or {}, end_of_epoch, name, logging.DEBUG
        )
        if ckpt is None:  # not the main process: it wrote nothing
            return None
        final_dir = self._final_dir
        if final_dir.exists():  # a custom name saved again
            shutil.rmtree(final_dir)
        os.replace(ckpt.path, final_dir)
        kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
        logger.log(verbosity, f"Saved an {kind} checkpoint in {final_dir}")
        paramfiles = {
            key: final_dir / path.name for key, path in ckpt.paramfiles.items()
        }
        return Checkpoint(final_dir, ckpt.meta, paramfiles)

    def recover_if_possible(self, *args, **kwargs):
        """``Checkpointer.recover_if_possible``, after removing the folders
        of killed saves (see its arguments)."""
        self._remove_partial()
        return super().recover_if_possible(*args, **kwargs)
