"""Checkpoints that a killed run cannot leave half-written, and recovery
that survives a damaged one.

SpeechBrain's ``Checkpointer`` writes a checkpoint's ``CKPT.yaml`` first and
its ``.ckpt`` files after it, in the folder that recovery reads: a run
killed while saving (SIGKILL, out of memory, a pre-empted job) leaves a
checkpoint that looks complete, is picked as the latest, and fails to load
(``EOFError``), so the rerun cannot resume.  :class:`AtomicCheckpointer`
writes into a hidden folder and renames it into place once every file is
written.  Under DDP the main process writes and renames; the rename is a
collective (SpeechBrain's ``main_process_only``, which broadcasts), so every
process lists the same checkpoints afterwards and runs the same collectives
in ``delete_checkpoints`` (a process that listed one checkpoint fewer would
skip one and wait forever).

A checkpoint damaged afterwards (a truncated or corrupt ``.ckpt``, an
unreadable ``CKPT.yaml``) is reported with the file's name and recovery
falls back to the next checkpoint in order (the previous one, or the next
best); the recipes keep the last two end-of-epoch checkpoints and the best
two (SpeechBrain's ``num_to_keep``) so that there is one to fall back to.

Authors
 * speechbrain-galr contributors 2026
"""

import logging
import os
import shutil

import yaml
from speechbrain.utils.checkpoints import (
    METAFNAME,
    Checkpoint,
    Checkpointer,
)
from speechbrain.utils.distributed import if_main_process, main_process_only

from speechbrain_galr.errors import GALRError, one_line
from speechbrain_galr.model_folder import file_problem

logger = logging.getLogger(__name__)

PARTIAL_PREFIX = ".partial-"
"""Name prefix of a checkpoint folder still being written."""


class CheckpointError(GALRError, RuntimeError):
    """A checkpoint cannot be loaded; the message names the file."""


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
        # a collective: under DDP every process waits for the rename, so
        # that all of them list the same checkpoints afterwards (and run
        # the same collectives in delete_checkpoints)
        final = self._move_into_place(ckpt, end_of_epoch, verbosity)
        return final if if_main_process() else None

    @main_process_only
    def _move_into_place(self, ckpt, end_of_epoch, verbosity):
        """Renames the main process's partial folder into place; the
        checkpoint, broadcast to every process."""
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

    def list_checkpoints(self):
        """``Checkpointer.list_checkpoints``, leaving out (with a warning
        naming the file) checkpoints whose ``CKPT.yaml`` cannot be read."""
        checkpoints = []
        for ckpt_dir in self._list_checkpoint_dirs():
            try:
                (ckpt,) = self._construct_checkpoint_objects([ckpt_dir])
                if not isinstance(ckpt.meta, dict) or not {
                    "unixtime",
                    "end-of-epoch",
                } <= set(ckpt.meta):
                    raise ValueError("not a checkpoint's meta")
            except (OSError, ValueError, yaml.YAMLError) as err:
                self._warn_once(
                    ckpt_dir,
                    f"checkpoint {ckpt_dir / METAFNAME} cannot be read "
                    f"({one_line(err)}); leaving that checkpoint out",
                )
                continue
            checkpoints.append(ckpt)
        return checkpoints

    def _warn_once(self, key, message):
        warned = self.__dict__.setdefault("_warned", set())
        if key not in warned:
            warned.add(key)
            logger.warning(message)

    def load_checkpoint(self, checkpoint):
        """``Checkpointer.load_checkpoint``, after checking every file.

        Raises
        ------
        CheckpointError
            Naming the file that is damaged or fails to load.
        """
        for name, path in sorted(checkpoint.paramfiles.items()):
            if name in self.recoverables:
                problem = file_problem(path)
                if problem:
                    raise CheckpointError(f"{path}: {problem}")
        try:
            super().load_checkpoint(checkpoint)
        except (RuntimeError, EOFError, OSError, ValueError) as err:
            raise CheckpointError(
                f"cannot load {checkpoint.path}: {one_line(err)}"
            ) from err

    def recover_if_possible(
        self,
        importance_key=None,
        max_key=None,
        min_key=None,
        ckpt_predicate=None,
    ):
        """``Checkpointer.recover_if_possible`` (same arguments), falling
        back to the next checkpoint in order (the previous one, or the next
        best) when one cannot be loaded; the folders of killed saves are
        removed first.

        Returns
        -------
        Checkpoint or None
            The checkpoint loaded; None when there is none.

        Raises
        ------
        CheckpointError
            No checkpoint can be loaded (the message names the newest
            problem).
        """
        self._remove_partial()
        candidates = self.find_checkpoints(
            importance_key, max_key, min_key, ckpt_predicate
        )
        if not candidates:
            logger.info("Would load a checkpoint here, but none found yet.")
            return None
        problems = []
        for index, ckpt in enumerate(candidates):
            try:
                self.load_checkpoint(ckpt)
                return ckpt
            except CheckpointError as err:
                problems.append(str(err))
                if index + 1 < len(candidates):
                    logger.warning(
                        f"{err}; loading the next checkpoint instead, "
                        f"{candidates[index + 1].path.name}"
                    )
        raise CheckpointError(
            f"none of the {len(candidates)} checkpoint(s) in "
            f"{self.checkpoints_dir} can be loaded: {problems[0]}"
        )
