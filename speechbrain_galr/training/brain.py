"""Training and evaluation of mask-based separation models (GALR, DPRNN).

:class:`SeparationBrain` is the ``sb.Brain`` that every separation recipe
of the project uses (WSJ0Mix, LibriMix, WSJ0Music): the recipes only build
their datasets.  It implements the training protocol of the GALR paper
(Section 3.1.3, after DPRNN): permutation-invariant training with the
negative SI-SNR loss (eq. 17), 4 s training crops, Adam, learning rate x0.96
every two epochs, early stopping after 10 epochs without a better
validation SI-SNR and gradient norms clipped at 5 (``max_grad_norm``).

It relies on SpeechBrain's machinery for the rest: ``Checkpointer``
(``ckpt_interval_minutes`` for mid-epoch checkpoints, which the
``SaveableDataLoader`` resumes exactly), non-finite loss and gradient
handling (``skip_nonfinite_grads``, ``nonfinite_patience``), mixed precision
(``precision``), DDP.  On top of it:

* ``max_train_minutes``: a wall-clock training budget, kept across
  restarts, for equal-time comparisons
  (:mod:`speechbrain_galr.training.budget`);
* ``curves.csv`` and ``training_curves.png`` in the output folder, updated
  after every epoch, and at test time ``test_results.csv`` (``snt_id, sdr,
  sdr_i, si-snr, si-snr_i`` per utterance and an ``avg`` row, scored with
  ``test_n_jobs`` processes) and ``test_examples.png``
  (:mod:`speechbrain_galr.training.results`);
* ``--compile`` (SpeechBrain's run option) lets dynamo trace ``nn.LSTM``.

The batches are SpeechBrain ``PaddedBatch``es with ``id``, ``mix_sig`` and
``s1_sig`` ... ``sC_sig`` (C = ``num_spks``).

Hyperparameters read (besides the modules and SpeechBrain's run options):
``num_spks``, ``sample_rate``, ``output_folder``, ``optimizer``,
``epoch_counter``, ``lr_scheduler`` (optional ``StepScheduler``),
``loss`` (SpeechBrain's: ``get_si_snr_with_pitwrapper``, the default, or
:func:`fixed_order_si_snr_loss` for speech/music), ``training_signal_len``
and ``limit_training_signal_len`` (random training crops of that many
samples, SpeechBrain's names), ``save_audio`` and ``n_audio_to_save``
(SpeechBrain's: the first test separations as WAVs in
``<save_folder>/audio_results``), ``ckpt_num_to_keep`` (SpeechBrain's
``num_to_keep``: the last and the best end-of-epoch checkpoints kept, 2
of each by default), ``seed``,
``max_train_minutes``, ``num_threads``, ``num_test_examples``,
``test_n_jobs`` (default 1), ``train_logger``.

Authors
 * speechbrain-galr contributors 2026
"""

import functools
import logging
import os

import speechbrain as sb
import torch
from speechbrain.core import INTRA_EPOCH_CKPT_FLAG
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.distributed import if_main_process

from speechbrain_galr.metrics import separation_scores, si_snr
from speechbrain_galr.training.budget import TrainingBudgetBrain
from speechbrain_galr.training.results import (  # noqa: F401 (re-exported)
    CURVE_COLUMNS,
    RESULT_COLUMNS,
    TestSetResults,
    append_curve,
)

logger = logging.getLogger(__name__)


def fixed_order_si_snr_loss(targets, estimates):
    """Negative SI-SNR of estimate c against source c, no permutation.

    Arguments
    ---------
    targets : torch.Tensor
        ``[B, T, C]`` sources.
    estimates : torch.Tensor
        ``[B, T, C]`` estimates.

    Returns
    -------
    torch.Tensor
        ``[B]`` loss, averaged over the sources.

    Example
    -------
    >>> refs = torch.randn(2, 800, 2)
    >>> fixed_order_si_snr_loss(refs, refs.flip(-1)).shape
    torch.Size([2])
    """
    return -si_snr(targets, estimates, permute=False).mean(-1)


class SeparationBrain(TrainingBudgetBrain):
    """Brain for mask-based separation (encoder, masknet, decoder).

    See the module docstring for the hyperparameters it reads.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.nnet.galr import GALR
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain_galr.nnet.tasnet import TasNet
    >>> model = TasNet(
    ...     Encoder(kernel_size=16, out_channels=16),
    ...     GALR(16, 16, 16, num_blocks=1, num_heads=2, segment_size=10,
    ...          reduced_segment_size=4),
    ...     Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    ... )
    >>> modules = {"model": model}
    >>> hparams = {"num_spks": 2, "training_signal_len": 400,
    ...            "limit_training_signal_len": True}
    >>> brain = SeparationBrain(modules, hparams=hparams,
    ...                         run_opts={"device": "cpu"})
    >>> batch = PaddedBatch([
    ...     {"id": "a", "mix_sig": torch.randn(800),
    ...      "s1_sig": torch.randn(800), "s2_sig": torch.randn(800)}])
    >>> est, targets = brain.compute_forward(batch, sb.Stage.TRAIN)
    >>> est.shape, targets.shape
    (torch.Size([1, 400, 2]), torch.Size([1, 400, 2]))
    >>> brain.compute_objectives((est, targets), batch, sb.Stage.TRAIN).shape
    torch.Size([])
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        threads = getattr(self.hparams, "num_threads", None)
        if threads:
            torch.set_num_threads(int(threads))
        self._epoch = 0
        self._epoch_start_steps = 0
        self._epoch_start_seconds = 0.0
        self._train_dataset = None
        self.test_results = None
        self.train_stats = {}

    # ------------------------------------------------------------------
    # data and forward pass
    def _signals(self, batch):
        """Mixtures ``[B, T]``, relative lengths ``[B]``, targets
        ``[B, T, C]``, on the device."""
        mix, mix_lens = batch.mix_sig
        sources = []
        for i in range(self.hparams.num_spks):
            key = f"s{i + 1}_sig"
            if not hasattr(batch, key):
                raise KeyError(
                    f"batch has no '{key}': a {self.hparams.num_spks}-source "
                    "batch needs mix_sig and s1_sig ... "
                    f"s{self.hparams.num_spks}_sig"
                )
            sources.append(getattr(batch, key).data)
        # [B, T, C]
        targets = torch.stack(sources, dim=-1)
        if targets.shape[:2] != mix.shape:
            raise ValueError(
                f"sources {tuple(targets.shape[:2])} and mixtures "
                f"{tuple(mix.shape)} have different lengths"
            )
        return (
            mix.to(self.device),
            mix_lens.to(self.device),
            targets.to(self.device),
        )

    def _training_crop(self, mix, mix_lens, targets):
        """A random ``training_signal_len`` crop inside every item.

        The crop start is drawn from a generator seeded by (seed, epoch,
        step), which a mid-epoch checkpoint restores, so a resumed epoch
        sees the same crops.
        """
        seg = getattr(self.hparams, "training_signal_len", None)
        T = mix.shape[1]
        limit = getattr(self.hparams, "limit_training_signal_len", False)
        if not limit or not seg or T <= int(seg):
            return mix, mix_lens, targets
        seg = int(seg)
        valid = torch.round(mix_lens * T).long()
        room = max(int(valid.min()) - seg, 0)
        generator = torch.Generator().manual_seed(
            hash((getattr(self.hparams, "seed", 0), self._epoch, self.step))
            % 2**63
        )
        start = int(torch.randint(room + 1, (1,), generator=generator))
        lens = ((valid - start).clamp(1, seg).float() / seg).to(mix_lens)
        return (
            mix[:, start : start + seg],
            lens,
            targets[:, start : start + seg],
        )

    def compute_forward(self, batch, stage):
        """Separates the batch's mixtures.

        Returns
        -------
        estimates : torch.Tensor
            ``[B, T, C]``.
        targets : torch.Tensor
            ``[B, T, C]`` (cropped like the mixtures in training).
        """
        mix, mix_lens, targets = self._signals(batch)
        if stage == sb.Stage.TRAIN:
            mix, mix_lens, targets = self._training_crop(mix, mix_lens, targets)
        elif stage == sb.Stage.TEST:
            # the test record needs the mixtures: read once, kept here
            self._test_mixtures = (mix, mix_lens)
        # the TasNet (speechbrain_galr.nnet.tasnet), called as it is so that a
        # DDP wrapper synchronises gradients; no host sync on the lengths
        estimates = self.modules.model(mix, mix_lens)
        return estimates, targets

    def compute_objectives(self, predictions, batch, stage):
        """The ``loss`` of the hparams (SpeechBrain's), by default the
        negative SI-SNR with PIT (eq. 17)."""
        estimates, targets = predictions
        estimates = estimates.float()
        loss_fn = getattr(self.hparams, "loss", get_si_snr_with_pitwrapper)
        loss = loss_fn(targets, estimates)
        if stage == sb.Stage.TEST:
            mix, mix_lens = self._test_mixtures
            self.test_results.append(
                batch.id, mix, mix_lens, targets, estimates
            )
        return loss.mean()

    # ------------------------------------------------------------------
    # training loop hooks
    def _compile(self):
        """``sb.Brain._compile``, with dynamo tracing into ``nn.LSTM``
        (``allow_rnn``; without it every LSTM of GALR and DPRNN is a graph
        break).  The flag is read when the model is first traced, so it is
        set for the process."""
        if self.compile or self.compile_module_keys:
            import torch._dynamo

            torch._dynamo.config.allow_rnn = True
        super()._compile()

    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """``sb.Brain.fit``, remembering the training set so that a
        dataset with ``set_epoch`` (dynamic mixing) gets the epoch."""
        self._train_dataset = getattr(train_set, "dataset", train_set)
        return super().fit(epoch_counter, train_set, valid_set, **kwargs)

    def on_fit_start(self):
        """``sb.Brain.on_fit_start`` (which recovers the latest checkpoint),
        checks that the checkpoints were validated on this run's
        validation set (``data_record``, a
        :class:`~speechbrain_galr.training.data_record.DataRecord`), then
        says where training resumes."""
        super().on_fit_start()
        record = getattr(self.hparams, "data_record", None)
        if record is not None:  # the checkpoints' validation set is this
            record.check()
        counter = self.hparams.epoch_counter
        if self.step > 0:
            logger.info(
                f"resuming epoch {counter.current + 1} after its batch "
                f"{self.step} (optimizer step {self.optimizer_step}, "
                f"{self.train_seconds / 60:.2f} min trained)"
            )
        elif counter.current > 0:
            logger.info(
                f"resuming after epoch {counter.current} (optimizer step "
                f"{self.optimizer_step}, {self.train_seconds / 60:.2f} min "
                "trained)"
            )
        if self.budget_exhausted:
            logger.info("the max_train_minutes budget is already spent")

    def make_dataloader(self, dataset, stage, **loader_kwargs):
        """``sb.Brain.make_dataloader``; datasets of dicts (e.g. :class:`
        speechbrain_galr.data.dynamic_mixing.DynamicMixingDataset`) are collated
        into ``PaddedBatch``es like SpeechBrain's own datasets."""
        loader_kwargs.setdefault("collate_fn", PaddedBatch)
        return super().make_dataloader(dataset, stage, **loader_kwargs)

    def on_stage_start(self, stage, epoch=None):
        """Sets the epoch of dynamic mixing; resets the test results."""
        super().on_stage_start(stage, epoch)
        self._epoch = epoch or 0
        if stage == sb.Stage.TRAIN:
            if hasattr(self._train_dataset, "set_epoch"):
                self._train_dataset.set_epoch(epoch)
            self._epoch_start_steps = self.optimizer_step
            self._epoch_start_seconds = self.train_seconds
        elif stage == sb.Stage.TEST:
            self.test_results = self._new_test_results()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs, anneals the learning rate, checkpoints, writes results."""
        stats = {"si-snr": -stage_loss}
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        if stage == sb.Stage.VALID:
            self._end_of_epoch(stats, epoch)
        elif stage == sb.Stage.TEST:
            if hasattr(self.hparams, "train_logger"):
                self.hparams.train_logger.log_stats(
                    stats_meta={
                        "Epoch loaded": self.hparams.epoch_counter.current
                    },
                    test_stats=stats,
                )
            if if_main_process():
                self.test_results.write(
                    getattr(self, "tested_checkpoint", None)
                )

    def _end_of_epoch(self, valid_stats, epoch):
        """Validation end: lr schedule, checkpoint, early stop, curves."""
        lr = self.optimizer.param_groups[0]["lr"]
        scheduler = getattr(self.hparams, "lr_scheduler", None)
        if scheduler is not None:
            # StepScheduler(e) gives the value after epoch e as decay **
            # floor((1 + e) / drop); e - 1 makes the first decay come after
            # epoch `drop` (x0.96 after epochs 2, 4, ... in the paper)
            _, next_lr = scheduler(epoch - 1)
            update_learning_rate(self.optimizer, next_lr)
        steps = self.optimizer_step - self._epoch_start_steps
        seconds = self.train_seconds - self._epoch_start_seconds
        seconds_per_step = seconds / steps if steps else float("nan")
        meta = {
            "epoch": epoch,
            "lr": lr,
            "optimizer_steps": self.optimizer_step,
            "train_minutes": round(self.train_seconds / 60, 3),
            "seconds_per_step": round(seconds_per_step, 4),
        }
        if hasattr(self.hparams, "train_logger"):
            self.hparams.train_logger.log_stats(
                stats_meta=meta,
                train_stats=self.train_stats,
                valid_stats=valid_stats,
            )
        if self.checkpointer is not None:
            self._save_epoch_checkpoint(valid_stats, epoch)
        counter = self.hparams.epoch_counter
        if hasattr(counter, "update_metric"):
            counter.update_metric(valid_stats["si-snr"])
        if if_main_process():
            row = dict(meta, **{"valid_si-snr": valid_stats["si-snr"]})
            row["train_si-snr"] = self.train_stats.get("si-snr", float("nan"))
            append_curve(self.hparams.output_folder, row)

    def _save_epoch_checkpoint(self, valid_stats, epoch):
        """Saves the end-of-epoch checkpoint as SpeechBrain's recipes do:
        its meta ``si-snr`` is the validation loss (minus the SI-SNR in dB;
        ``si-snr_is_loss`` says so), the best is kept with ``min_keys``,
        with the last ones, ``ckpt_num_to_keep`` of each (SpeechBrain's
        ``num_to_keep``; 2: one to fall back to if the newest is
        damaged).  The intra-epoch checkpoints of the
        finished epoch are removed."""
        self.checkpointer.save_and_keep_only(
            meta={
                "si-snr": -valid_stats["si-snr"],
                "si-snr_is_loss": True,
                "epoch": epoch,
            },
            min_keys=["si-snr"],
            num_to_keep=int(getattr(self.hparams, "ckpt_num_to_keep", 2)),
            ckpt_predicate=lambda ckpt: INTRA_EPOCH_CKPT_FLAG not in ckpt.meta,
        )
        self.checkpointer.delete_checkpoints(
            num_to_keep=0,
            ckpt_predicate=lambda ckpt: INTRA_EPOCH_CKPT_FLAG in ckpt.meta,
            verbosity=logging.DEBUG,
        )

    # ------------------------------------------------------------------
    # test results
    def test_metric(self):
        """The scores of one test mixture, the columns of
        ``test_results.csv``: a function ``(mixture [T], references
        [T, C], estimates [T, C]) -> dict``.

        Override to score differently (e.g. per source); every value is
        averaged into the ``avg`` row.  With ``test_n_jobs > 1`` it must be
        picklable (a module-level function or a ``functools.partial``).
        The default is :func:`speechbrain_galr.metrics.separation_scores`
        (``sdr``, ``sdr_i``, ``si-snr``, ``si-snr_i``), in fixed order when
        the ``loss`` is :func:`fixed_order_si_snr_loss`.
        """
        loss = getattr(self.hparams, "loss", None)
        permute = loss is not fixed_order_si_snr_loss
        return functools.partial(separation_scores, permute=permute)

    def _new_test_results(self):
        """The :class:`~speechbrain_galr.training.results.TestSetResults`
        of a test pass: ``test_metric``, ``test_n_jobs``,
        ``num_test_examples``, and SpeechBrain's ``save_audio`` (the first
        ``n_audio_to_save`` separations, all when null, in
        ``<save_folder>/audio_results``, by the main process)."""
        audio_folder = None
        if getattr(self.hparams, "save_audio", False) and if_main_process():
            audio_folder = os.path.join(
                getattr(
                    self.hparams, "save_folder", self.hparams.output_folder
                ),
                "audio_results",
            )
        return TestSetResults(
            self.hparams.output_folder,
            self.hparams.sample_rate,
            self.test_metric(),
            n_jobs=getattr(self.hparams, "test_n_jobs", 1),
            num_examples=getattr(self.hparams, "num_test_examples", 3),
            audio_folder=audio_folder,
            n_audio=getattr(self.hparams, "n_audio_to_save", None),
        )

    def on_evaluate_start(self, max_key=None, min_key=None):
        """``sb.Brain.on_evaluate_start``, remembering the checkpoint it
        loads (the latest one, with a warning, when none holds the key:
        no epoch finished yet), which ``test_results.yaml`` names (see
        :mod:`speechbrain_galr.training.results_record`)."""
        self.tested_checkpoint = None
        if self.checkpointer is None:
            return
        self.tested_checkpoint = self.checkpointer.recover_if_possible(
            max_key=max_key, min_key=min_key
        )
        if self.tested_checkpoint is None and (max_key or min_key):
            # e.g. a budget spent within the first epoch: not validated
            self.tested_checkpoint = self.checkpointer.recover_if_possible()
            if self.tested_checkpoint is not None:
                logger.warning(
                    f"no checkpoint holds '{max_key or min_key}' (no epoch "
                    "validated yet): testing the latest, "
                    f"{self.tested_checkpoint.path.name}"
                )
