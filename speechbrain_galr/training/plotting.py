"""Figures of separation runs: test examples and training curves.

Figures are ``matplotlib.figure.Figure`` objects made by :func:`new_figure`
and written by :func:`save_figure`, atomically: no pyplot, so no GUI
backend is chosen or needed, and importing this module imports no
matplotlib at all (it is imported when a figure is drawn).  From the
command line, ``python -m speechbrain_galr.training.plotting OUT.png
LABEL=RUN/curves.csv ...`` draws the curves of several runs on one figure
(e.g. GALR vs DPRNN).

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import csv
import logging
import os

import numpy as np
import torch

from speechbrain_galr.atomic_files import atomic_path
from speechbrain_galr.metrics import best_permutation, pairwise_si_snr


def new_figure(**figure_kwargs):
    """A matplotlib ``Figure`` outside pyplot (any backend, no GUI).

    Arguments
    ---------
    **figure_kwargs
        Passed to ``matplotlib.figure.Figure`` (``figsize``...).

    Example
    -------
    >>> fig = new_figure(figsize=(2, 1))
    >>> type(fig).__name__, len(fig.subplots(1, 2))
    ('Figure', 2)
    """
    from matplotlib.figure import Figure

    # its font search logs pages at DEBUG level into SpeechBrain's log.txt
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    return Figure(**figure_kwargs)


def save_figure(fig, path, dpi=110):
    """Lays out ``fig`` and writes it to ``path`` atomically (PNG, PDF...
    by the file name)."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)


def plot_examples(examples, sample_rate, path):
    """Waveforms of separated examples: one row per example, the mixture
    and, per source, the reference (grey) under its matched estimate.

    Arguments
    ---------
    examples : list of tuple
        ``(name, mixture [T], estimates [T, C], references [T, C])``
        (arrays or tensors).
    sample_rate : int
        Sample rate (for the time axis).
    path : str
        PNG file to write.

    Example
    -------
    >>> import tempfile
    >>> refs = np.random.default_rng(0).standard_normal((800, 2))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     plot_examples([("a", refs.sum(1), refs, refs)], 8000,
    ...                   tmp + "/ex.png")
    ...     os.path.getsize(tmp + "/ex.png") > 0
    True
    """
    if not examples:
        raise ValueError("no examples to plot")
    num_spks = examples[0][2].shape[1]
    fig = new_figure(figsize=(4 * (1 + num_spks), 2.2 * len(examples)))
    axes = fig.subplots(len(examples), 1 + num_spks, squeeze=False)
    for row, (name, mixture, estimates, references) in enumerate(examples):
        estimates = torch.as_tensor(np.asarray(estimates)).float()
        references = torch.as_tensor(np.asarray(references)).float()
        time_axis = np.arange(len(mixture)) / sample_rate
        axes[row, 0].plot(time_axis, mixture, lw=0.5, color="black")
        axes[row, 0].set_title(f"{name[:40]}: mixture", fontsize=8)
        # [1, C, C] -> order [C] and SI-SNR of each matched pair
        pairs = pairwise_si_snr(references[None], estimates[None])
        order = best_permutation(pairs)[0]
        for c in range(num_spks):
            ax = axes[row, 1 + c]
            ax.plot(time_axis, references[:, c], lw=0.5, color="0.6")
            ax.plot(
                time_axis, estimates[:, order[c]], lw=0.5, color="C0", alpha=0.8
            )
            score = float(pairs[0, c, order[c]])
            ax.set_title(f"source {c + 1}: SI-SNR {score:.1f} dB", fontsize=8)
            if row == 0 and c == 0:
                ax.legend(["reference", "estimate"], fontsize=7)
        for ax in axes[row]:
            ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=8)
    save_figure(fig, path)


def read_curves(path):
    """Rows of a ``curves.csv`` written by ``SeparationBrain``, as floats."""
    with open(path) as f:
        return [
            {k: float(v) for k, v in row.items()} for row in csv.DictReader(f)
        ]


def plot_training_curves(runs, path):
    """Training and validation SI-SNR against optimizer steps and minutes.

    Arguments
    ---------
    runs : dict
        Label to ``curves.csv`` path.
    path : str
        PNG file to write.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with open(tmp + "/curves.csv", "w") as f:
    ...         _ = f.write("epoch,optimizer_steps,train_minutes,"
    ...                     "train_si-snr,valid_si-snr\\n1,10,0.5,1.0,2.0\\n")
    ...     plot_training_curves({"run": tmp + "/curves.csv"}, tmp + "/c.png")
    ...     os.path.getsize(tmp + "/c.png") > 0
    True
    """
    fig = new_figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for index, (label, csv_path) in enumerate(runs.items()):
        rows = read_curves(csv_path)
        color = f"C{index}"
        for ax, x_key in zip(axes, ("optimizer_steps", "train_minutes")):
            x = [r[x_key] for r in rows]
            train = [r["train_si-snr"] for r in rows]
            valid = [r["valid_si-snr"] for r in rows]
            ax.plot(x, train, "--", color=color, label=f"{label} train")
            ax.plot(x, valid, "o-", ms=3, color=color, label=f"{label} valid")
    axes[0].set_xlabel("optimizer steps")
    axes[1].set_xlabel("training time (min)")
    for ax in axes:
        ax.set_ylabel("SI-SNR (dB)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    save_figure(fig, path)


def main(argv=None):
    """Command line: several runs' curves on one PNG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument(
        "runs", nargs="+", help="LABEL=path/to/curves.csv, one per run"
    )
    args = parser.parse_args(argv)
    runs = {}
    for run in args.runs:
        label, sep, csv_path = run.partition("=")
        if not sep or not os.path.isfile(csv_path):
            parser.error(f"expected LABEL=existing/curves.csv, got {run}")
        runs[label] = csv_path
    plot_training_curves(runs, args.out)
    print(args.out)


if __name__ == "__main__":
    main()
