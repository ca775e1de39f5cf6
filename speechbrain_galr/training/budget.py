"""A wall-clock training budget for SpeechBrain's ``Brain``.

:class:`TrainingBudgetBrain` is an ``sb.Brain`` that trains for at most
``max_train_minutes`` (a hyperparameter; null or absent: no budget), for
equal-time comparisons of models.  The training time counts the training
batches only (not validation), is saved in every checkpoint and restored
with it, so a restarted run spends only what is left; a rerun of a
finished run trains no further and adds no empty epoch.  The budget stops
training through SpeechBrain's own exit, the one of
``optimizer_step_limit``; under DDP every process stops at the same batch
(the main process's clock decides).

A budget that runs out in the middle of an epoch leaves it open, as a
killed run does: an intra-epoch checkpoint (SpeechBrain's, with the
dataloader's position) is saved after the last batch, the partial epoch is
neither validated nor counted (no learning-rate decay, no early-stop
patience, no row in the curves), and a rerun with a larger budget resumes
it at the next batch.

Authors
 * speechbrain-galr contributors 2026
"""

import logging
import time

import speechbrain as sb
import torch
import yaml
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import is_distributed_initialized

logger = logging.getLogger(__name__)


@register_checkpoint_hooks
class TrainingBudgetBrain(sb.Brain):
    """``sb.Brain`` stopping after ``max_train_minutes`` of training.

    ``train_seconds`` is the training time so far (checkpointed);
    subclasses overriding ``on_stage_start`` call this one.

    Example
    -------
    >>> class TinyBrain(TrainingBudgetBrain):
    ...     def compute_forward(self, batch, stage):
    ...         return self.modules.layer(batch)
    ...     def compute_objectives(self, output, batch, stage):
    ...         return output.pow(2).mean()
    >>> brain = TinyBrain({"layer": torch.nn.Linear(2, 1)},
    ...                   lambda params: torch.optim.SGD(params, lr=0.1),
    ...                   hparams={"max_train_minutes": 1e-9},
    ...                   run_opts={"device": "cpu", "noprogressbar": True})
    >>> brain.fit(range(1, 4), [torch.ones(2)] * 5)
    >>> brain.budget_exhausted, brain.optimizer_step
    (True, 1)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_seconds = 0.0
        self._clock = time.time()
        self.epoch_cut = False  # whether the budget stopped an epoch
        self.stopped_at_batch = 0
        self._training = False

    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """``sb.Brain.fit`` over the epochs left within the budget."""
        return super().fit(
            self._epochs_within_budget(epoch_counter),
            train_set,
            valid_set,
            **kwargs,
        )

    def _epochs_within_budget(self, epoch_counter):
        """The epochs of ``epoch_counter``, none once the budget is spent
        (a rerun of a finished run adds no empty epoch).  It is consumed
        after ``on_fit_start`` has recovered the checkpoint."""
        epochs = iter(epoch_counter)
        while not self._budget_stop():
            try:
                yield next(epochs)
            except StopIteration:
                return

    @property
    def _budget_seconds(self):
        minutes = getattr(self.hparams, "max_train_minutes", None)
        return None if minutes is None else 60.0 * float(minutes)

    @property
    def budget_exhausted(self):
        """Whether ``max_train_minutes`` of training have been done."""
        budget = self._budget_seconds
        return budget is not None and self.train_seconds >= budget

    def _budget_stop(self):
        """Whether the budget is spent, the same answer in every process
        (the main one's clock decides; a collective under DDP)."""
        if self._budget_seconds is None:
            return False
        stop = [self.budget_exhausted]
        if is_distributed_initialized():
            torch.distributed.broadcast_object_list(stop, src=0)
        return stop[0]

    @property
    def _optimizer_step_limit_exceeded(self):
        # sb.Brain stops the epoch and the epoch loop when this is True:
        # the wall-clock budget uses the same exit as optimizer_step_limit.
        # In the batch loop it is asked before a batch: True there means
        # that the epoch has batches left
        if self._budget_stop():
            if self._training:
                self.epoch_cut = True
            return True
        return super()._optimizer_step_limit_exceeded

    def _should_save_intra_epoch_ckpt(self, last_ckpt_time, steps_since_ckpt):
        """``sb.Brain``'s decision, and yes after the batch that spends the
        budget: the checkpoint holds the dataloader's position."""
        if self.checkpointer is not None and self._budget_stop():
            return True
        return super()._should_save_intra_epoch_ckpt(
            last_ckpt_time, steps_since_ckpt
        )

    def _fit_train(self, train_set, epoch, enable):
        """``sb.Brain._fit_train``, noting whether the budget cut it."""
        self.epoch_cut = False
        self._training = True
        try:
            super()._fit_train(train_set, epoch, enable)
        finally:
            self._training = False

    def _fit_valid(self, valid_set, epoch, enable):
        """``sb.Brain._fit_valid``, except after an epoch that the budget
        cut: that epoch stays open (not validated, not counted)."""
        if self.epoch_cut:
            logger.info(
                f"epoch {epoch} left open after its batch "
                f"{self.stopped_at_batch}: a rerun with a larger "
                "max_train_minutes resumes it"
            )
            return
        super()._fit_valid(valid_set, epoch, enable)

    def on_stage_start(self, stage, epoch=None):
        """Starts the training clock."""
        if stage == sb.Stage.TRAIN:
            self._clock = time.time()

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Counts training time for ``max_train_minutes``."""
        now = time.time()
        self.train_seconds += now - self._clock
        self._clock = now
        self.stopped_at_batch = self.step
        if self.budget_exhausted and should_step:
            logger.info(
                f"training budget of {self._budget_seconds / 60:g} min "
                f"reached after {self.optimizer_step} steps"
            )

    @mark_as_saver
    def _save(self, path):
        super()._save(path)
        with open(path, "a", encoding="utf-8") as f:
            f.write(yaml.dump({"train_seconds": self.train_seconds}))

    @mark_as_loader
    def _recover(self, path, end_of_epoch):
        super()._recover(path, end_of_epoch)
        with open(path, encoding="utf-8") as f:
            self.train_seconds = yaml.safe_load(f).get("train_seconds", 0.0)
