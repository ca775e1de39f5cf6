"""What a separation training writes in its output folder.

:class:`~speechbrain_galr.training.brain.SeparationBrain` decides when; this
module writes:

* after every epoch, :func:`append_curve`: a row of ``curves.csv``
  (:data:`CURVE_COLUMNS`) and ``training_curves.png``;
* at test time, :class:`TestSetResults`: per-utterance scores gathered by
  a SpeechBrain ``MetricStats`` (:func:`speechbrain_galr.metrics.
  separation_metric_stats`), written as ``test_results.csv`` with an
  ``avg`` row (:data:`RESULT_COLUMNS` by default), ``test_results.yaml``
  (:mod:`speechbrain_galr.training.results_record`), ``test_examples.png``, and
  optionally the first separations as WAVs (SpeechBrain's ``save_audio``).

Every file is written atomically.

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import logging
import os

import numpy as np
import torch

from speechbrain_galr.atomic_files import atomic_write
from speechbrain_galr.audio import write_wav
from speechbrain_galr.metrics import separation_metric_stats
from speechbrain_galr.training.plotting import (
    plot_examples,
    plot_training_curves,
)
from speechbrain_galr.training.results_record import write_results_record

logger = logging.getLogger(__name__)

RESULT_COLUMNS = ["snt_id", "sdr", "sdr_i", "si-snr", "si-snr_i"]
"""Default columns of ``test_results.csv``."""

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


def append_curve(folder, row):
    """Adds an epoch's ``row`` (:data:`CURVE_COLUMNS`) to ``curves.csv`` of
    ``folder``, replacing the rows of that epoch and later ones (a resumed
    run redoes them), and redraws ``training_curves.png``.

    Example
    -------
    >>> import tempfile
    >>> row = dict(epoch=1, optimizer_steps=10, train_minutes=0.5,
    ...            seconds_per_step=3.0, lr=1e-3, **{"train_si-snr": 1.0,
    ...            "valid_si-snr": 2.0})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     append_curve(tmp, row)
    ...     append_curve(tmp, dict(row, epoch=2))
    ...     append_curve(tmp, dict(row, epoch=2))
    ...     with open(os.path.join(tmp, "curves.csv")) as f:
    ...         [r["epoch"] for r in csv.DictReader(f)]
    ['1', '2']
    """
    path = os.path.join(folder, "curves.csv")
    rows = []
    if os.path.isfile(path):
        with open(path) as f:
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


class TestSetResults:
    """The scores, example waveforms and audio of one test-set pass.

    Arguments
    ---------
    output_folder : str
        Where ``test_results.csv``, ``test_results.yaml`` and
        ``test_examples.png`` go.
    sample_rate : int
        Of the signals.
    metric : callable
        ``(mixture [T], references [T, C], estimates [T, C]) -> dict`` of
        one utterance (the csv's columns), e.g.
        :func:`speechbrain_galr.metrics.separation_scores`.
    n_jobs : int
        Processes scoring in parallel (``MetricStats``).
    num_examples : int
        Test mixtures drawn in ``test_examples.png``.
    audio_folder : str or None
        Where the first separations go as peak-normalised WAVs
        (``item<id>_mix.wav``, ``item<id>_source<c>.wav``,
        ``item<id>_source<c>hat.wav``); None for none.
    n_audio : int or None
        How many mixtures go to ``audio_folder`` (None: all).

    Example
    -------
    >>> import tempfile
    >>> from speechbrain_galr.metrics import separation_scores
    >>> refs = torch.randn(2, 1600, 2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     results = TestSetResults(tmp, 8000, separation_scores)
    ...     results.append(["a", "b"], refs.sum(-1), torch.ones(2),
    ...                    refs, refs.flip(-1))
    ...     means = results.write(checkpoint=None)
    ...     with open(os.path.join(tmp, "test_results.csv")) as f:
    ...         rows = list(csv.DictReader(f))
    >>> list(rows[0]) == RESULT_COLUMNS, [r["snt_id"] for r in rows]
    (True, ['a', 'b', 'avg'])
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        output_folder,
        sample_rate,
        metric,
        n_jobs=1,
        num_examples=3,
        audio_folder=None,
        n_audio=None,
    ):
        self.output_folder = output_folder
        self.sample_rate = sample_rate
        self.stats = separation_metric_stats(metric, n_jobs)
        self.num_examples = num_examples
        self.examples = []
        self.audio_folder = audio_folder
        self.n_audio = n_audio
        self.audio_saved = 0

    def append(self, ids, mix, mix_lens, targets, estimates):
        """Scores a batch: mixtures ``[B, T]``, relative lengths ``[B]``,
        references and estimates ``[B, T, C]``; keeps the first examples
        and writes the first WAVs (call it on the main process only when
        ``audio_folder`` is set)."""
        # [B, T, 1 + C]: MetricStats hands the metric one target per item
        packed = torch.cat([mix[..., None], targets], dim=-1)
        self.stats.append(
            ids, predict=estimates, target=packed, lengths=mix_lens
        )
        for b, snt_id in enumerate(ids):
            length = int(round(float(mix_lens[b]) * mix.shape[1]))
            if len(self.examples) < self.num_examples:
                self.examples.append(
                    (
                        snt_id,
                        mix[b, :length].cpu().numpy(),
                        estimates[b, :length].detach().cpu().numpy(),
                        targets[b, :length].cpu().numpy(),
                    )
                )
            if self.audio_folder is not None and (
                self.n_audio is None or self.audio_saved < self.n_audio
            ):
                self._save_audio(
                    snt_id,
                    mix[b, :length],
                    targets[b, :length],
                    estimates[b, :length],
                )

    def _save_audio(self, snt_id, mix, targets, estimates):
        """The mixture ``[T]``, sources and estimates ``[T, C]`` of one
        utterance, each peak-normalised, as WAVs in ``audio_folder``."""
        os.makedirs(self.audio_folder, exist_ok=True)
        signals = {"mix": mix}
        for c in range(targets.shape[-1]):
            signals[f"source{c + 1}"] = targets[:, c]
            signals[f"source{c + 1}hat"] = estimates[:, c]
        for name, signal in signals.items():
            signal = signal.detach().float().cpu()
            peak = signal.abs().max().clamp(min=1e-8)
            write_wav(
                os.path.join(self.audio_folder, f"item{snt_id}_{name}.wav"),
                signal / peak,
                self.sample_rate,
            )
        self.audio_saved += 1

    def write(self, checkpoint):
        """Writes ``test_results.csv`` (an ``avg`` row last),
        ``test_results.yaml`` naming the tested ``checkpoint`` (or None)
        and ``test_examples.png``; returns the averages (None when no
        utterance was scored)."""
        if not self.stats.ids:
            return None
        scores = self.stats.scores
        columns = ["snt_id", *scores[0]]
        means = {
            key: float(np.mean([row[key] for row in scores]))
            for key in columns[1:]
        }
        path = os.path.join(self.output_folder, "test_results.csv")
        with atomic_write(path, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for snt_id, row in zip(self.stats.ids, scores, strict=True):
                writer.writerow({"snt_id": snt_id, **row})
            writer.writerow({"snt_id": "avg", **means})
        write_results_record(self.output_folder, checkpoint)
        logger.info(
            f"{len(scores)} test mixtures: "
            + ", ".join(f"{k} {v:.2f} dB" for k, v in means.items())
            + f" (written to {path})"
        )
        if self.examples:
            plot_examples(
                self.examples,
                self.sample_rate,
                os.path.join(self.output_folder, "test_examples.png"),
            )
        return means
