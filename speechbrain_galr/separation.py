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
  restarts, for equal-time comparisons;
* ``curves.csv`` and ``training_curves.png`` in the output folder, updated
  after every epoch;
* at test time, ``test_results.csv`` (``snt_id, sdr, sdr_i, si-snr,
  si-snr_i`` per utterance and an ``avg`` row, scored by a SpeechBrain
  ``MetricStats`` with ``test_n_jobs`` processes; see
  :mod:`speechbrain_galr.metrics`) and ``test_examples.png``.

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

import csv
import functools
import logging
import os
import time

import numpy as np
import speechbrain as sb
import torch
import yaml
from speechbrain.core import INTRA_EPOCH_CKPT_FLAG
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import (
    if_main_process,
    is_distributed_initialized,
)

from speechbrain_galr.audio import write_wav
from speechbrain_galr.files import atomic_write
from speechbrain_galr.metrics import (
    separation_metric_stats,
    separation_scores,
    si_snr,
)
from speechbrain_galr.plotting import plot_examples, plot_training_curves
from speechbrain_galr.results_record import write_results_record

logger = logging.getLogger(__name__)

RESULT_COLUMNS = ["snt_id", "sdr", "sdr_i", "si-snr", "si-snr_i"]
"""Columns of ``test_results.csv``."""

CURVE_COLUMNS = [
    "epoch",
    "optimizer_steps",
    "train_minutes",
    "seconds_per_step",
    "lr",
    "train_si-snr",
    "valid_si-snr",
]
"""Columns of ``curves.csv`` (one row per epoch)."""


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


@register_checkpoint_hooks
class SeparationBrain(sb.Brain):
    """Brain for mask-based separation (encoder, masknet, decoder).

    See the module docstring for the hyperparameters it reads.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.galr import GALR
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> from speechbrain_galr.tasnet import TasNet
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
        self.train_seconds = 0.0
        self._epoch = 0
        self._clock = time.time()
        self._epoch_start_steps = 0
        self._epoch_start_seconds = 0.0
        self._train_dataset = None
        self.test_stats = None
        self._test_examples = []
        self._audio_saved = 0
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
        # the TasNet (speechbrain_galr.tasnet), called as it is so that a
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
            self._score_test_batch(batch, estimates, targets)
            self._save_test_audio(batch, estimates, targets)
        return loss.mean()

    # ------------------------------------------------------------------
    # training loop hooks
    def fit(self, epoch_counter, train_set, valid_set=None, **kwargs):
        """``sb.Brain.fit``, remembering the training set so that a
        dataset with ``set_epoch`` (dynamic mixing) gets the epoch."""
        self._train_dataset = getattr(train_set, "dataset", train_set)
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
        while not self.budget_exhausted:
            try:
                yield next(epochs)
            except StopIteration:
                return

    def on_fit_start(self):
        """``sb.Brain.on_fit_start`` (which recovers the latest checkpoint),
        then says where training resumes."""
        super().on_fit_start()
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
        speechbrain_galr.dynamic_mixing.DynamicMixingDataset`) are collated
        into ``PaddedBatch``es like SpeechBrain's own datasets."""
        loader_kwargs.setdefault("collate_fn", PaddedBatch)
        return super().make_dataloader(dataset, stage, **loader_kwargs)

    @property
    def _budget_seconds(self):
        minutes = getattr(self.hparams, "max_train_minutes", None)
        return None if minutes is None else 60.0 * float(minutes)

    @property
    def budget_exhausted(self):
        """Whether ``max_train_minutes`` of training have been done."""
        budget = self._budget_seconds
        return budget is not None and self.train_seconds >= budget

    @property
    def _optimizer_step_limit_exceeded(self):
        # sb.Brain stops the epoch and the epoch loop when this is True:
        # the wall-clock budget uses the same exit as optimizer_step_limit
        if self._budget_seconds is not None:
            stop = [self.budget_exhausted]
            if is_distributed_initialized():
                # every process stops at the same batch: the main one's clock
                torch.distributed.broadcast_object_list(stop, src=0)
            if stop[0]:
                return True
        return super()._optimizer_step_limit_exceeded

    def on_stage_start(self, stage, epoch=None):
        """Sets the epoch of dynamic mixing; resets the test results."""
        self._epoch = epoch or 0
        if stage == sb.Stage.TRAIN:
            if hasattr(self._train_dataset, "set_epoch"):
                self._train_dataset.set_epoch(epoch)
            self._clock = time.time()
            self._epoch_start_steps = self.optimizer_step
            self._epoch_start_seconds = self.train_seconds
        elif stage == sb.Stage.TEST:
            self.test_stats = separation_metric_stats(
                self.test_metric(), getattr(self.hparams, "test_n_jobs", 1)
            )
            self._test_examples = []
            self._audio_saved = 0

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Counts training time for ``max_train_minutes``."""
        now = time.time()
        self.train_seconds += now - self._clock
        self._clock = now
        if self.budget_exhausted and should_step:
            logger.info(
                f"training budget of {self._budget_seconds / 60:g} min "
                f"reached after {self.optimizer_step} steps"
            )

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
            self._write_test_results()

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
            self._append_curve(meta, valid_stats)

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

    def _append_curve(self, meta, valid_stats):
        """Adds the epoch to ``curves.csv`` and redraws the PNG."""
        folder = self.hparams.output_folder
        path = os.path.join(folder, "curves.csv")
        row = dict(meta)
        row["train_si-snr"] = self.train_stats.get("si-snr", float("nan"))
        row["valid_si-snr"] = valid_stats["si-snr"]
        rows = []
        if os.path.isfile(path):
            with open(path) as f:
                # a resumed run rewrites the epochs it redoes
                rows = [
                    r
                    for r in csv.DictReader(f)
                    if int(r["epoch"]) < int(row["epoch"])
                ]
        rows.append({k: row[k] for k in CURVE_COLUMNS})
        with atomic_write(path, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CURVE_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        plot_training_curves(
            {os.path.basename(os.path.normpath(folder)): path},
            os.path.join(folder, "training_curves.png"),
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

    def _score_test_batch(self, batch, estimates, targets):
        """Per-utterance scores (``test_stats``), examples for the PNG."""
        mix, mix_lens, _ = self._signals(batch)
        # [B, T, 1 + C]: MetricStats hands the metric one target per item
        packed = torch.cat([mix[..., None], targets], dim=-1)
        self.test_stats.append(
            batch.id, predict=estimates, target=packed, lengths=mix_lens
        )
        num_examples = getattr(self.hparams, "num_test_examples", 3)
        for b, snt_id in enumerate(batch.id):
            if len(self._test_examples) >= num_examples:
                break
            length = int(round(float(mix_lens[b]) * mix.shape[1]))
            self._test_examples.append(
                (
                    snt_id,
                    mix[b, :length].cpu().numpy(),
                    estimates[b, :length].detach().cpu().numpy(),
                    targets[b, :length].cpu().numpy(),
                )
            )

    def _save_test_audio(self, batch, estimates, targets):
        """SpeechBrain's ``save_audio``: the mixture, sources and estimates
        of the first ``n_audio_to_save`` test mixtures (all when null),
        each peak-normalised, as ``item<id>_mix.wav``,
        ``item<id>_source<c>.wav`` and ``item<id>_source<c>hat.wav`` in
        ``<save_folder>/audio_results``."""
        if not getattr(self.hparams, "save_audio", False):
            return
        limit = getattr(self.hparams, "n_audio_to_save", None)
        if not if_main_process() or (
            limit is not None and self._audio_saved >= limit
        ):
            return
        folder = os.path.join(
            getattr(self.hparams, "save_folder", self.hparams.output_folder),
            "audio_results",
        )
        os.makedirs(folder, exist_ok=True)
        mix, mix_lens, _ = self._signals(batch)
        for b, snt_id in enumerate(batch.id):
            if limit is not None and self._audio_saved >= limit:
                break
            length = int(round(float(mix_lens[b]) * mix.shape[1]))
            signals = {"mix": mix[b, :length]}
            for c in range(targets.shape[-1]):
                signals[f"source{c + 1}"] = targets[b, :length, c]
                signals[f"source{c + 1}hat"] = estimates[b, :length, c]
            for name, signal in signals.items():
                signal = signal.detach().float().cpu()
                peak = signal.abs().max().clamp(min=1e-8)
                write_wav(
                    os.path.join(folder, f"item{snt_id}_{name}.wav"),
                    signal / peak,
                    self.hparams.sample_rate,
                )
            self._audio_saved += 1

    def on_evaluate_start(self, max_key=None, min_key=None):
        """``sb.Brain.on_evaluate_start``, remembering the checkpoint it
        loads, which ``test_results.yaml`` names (see
        :mod:`speechbrain_galr.results_record`)."""
        self.tested_checkpoint = None
        if self.checkpointer is not None:
            self.tested_checkpoint = self.checkpointer.recover_if_possible(
                max_key=max_key, min_key=min_key
            )

    def _write_test_results(self):
        """``test_results.csv`` with an ``avg`` row, ``test_examples.png``."""
        stats = self.test_stats
        if stats is None or not stats.ids or not if_main_process():
            return
        folder = self.hparams.output_folder
        scores = stats.scores
        columns = ["snt_id", *scores[0]]
        means = {
            key: float(np.mean([row[key] for row in scores]))
            for key in columns[1:]
        }
        path = os.path.join(folder, "test_results.csv")
        with atomic_write(path, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for snt_id, row in zip(stats.ids, scores, strict=True):
                writer.writerow({"snt_id": snt_id, **row})
            writer.writerow({"snt_id": "avg", **means})
        # which checkpoint these results are the test of (for export)
        write_results_record(folder, getattr(self, "tested_checkpoint", None))
        logger.info(
            f"{len(scores)} test mixtures: "
            + ", ".join(f"{k} {v:.2f} dB" for k, v in means.items())
            + f" (written to {path})"
        )
        plot_examples(
            self._test_examples,
            self.hparams.sample_rate,
            os.path.join(folder, "test_examples.png"),
        )

    # ------------------------------------------------------------------
    # checkpointed training time
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
