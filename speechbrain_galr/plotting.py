"""Figures of separation runs: test examples and training curves.

Both write PNG files with matplotlib's Agg backend.  From the command line,
``python -m speechbrain_galr.plotting OUT.png LABEL=RUN/curves.csv ...``
draws the curves of several runs on one figure (e.g. GALR vs DPRNN).

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import csv
import itertools
import logging
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# its font search logs pages at DEBUG level into SpeechBrain's log.txt
logging.getLogger("matplotlib").setLevel(logging.WARNING)


def _si_snr_db(reference, estimate):
    """SI-SNR in dB of two 1-D arrays (for ordering the plotted sources)."""
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    scale = np.dot(estimate, reference) / (np.dot(reference, reference) + 1e-8)
    target = scale * reference
    noise = estimate - target
    return 10 * np.log10((target**2).sum() / ((noise**2).sum() + 1e-8) + 1e-8)


def best_permutation(references, estimates):
    """Order of the estimates ``[T, C]`` that best matches the references
    ``[T, C]`` by mean SI-SNR.

    Example
    -------
    >>> refs = np.random.default_rng(0).standard_normal((100, 2))
    >>> best_permutation(refs, refs[:, ::-1])
    [1, 0]
    """
    num = references.shape[1]
    return list(
        max(
            itertools.permutations(range(num)),
            key=lambda perm: np.mean(
                [
                    _si_snr_db(references[:, c], estimates[:, perm[c]])
                    for c in range(num)
                ]
            ),
        )
    )


def plot_examples(examples, sample_rate, path):
    """Waveforms of separated examples: one row per example, the mixture
    and, per source, the reference (grey) under its estimate.

    Arguments
    ---------
    examples : list of tuple
        ``(name, mixture [T], estimates [T, C], references [T, C])``.
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
    fig, axes = plt.subplots(
        len(examples),
        1 + num_spks,
        figsize=(4 * (1 + num_spks), 2.2 * len(examples)),
        squeeze=False,
    )
    for row, (name, mixture, estimates, references) in enumerate(examples):
        time_axis = np.arange(len(mixture)) / sample_rate
        axes[row, 0].plot(time_axis, mixture, lw=0.5, color="black")
        axes[row, 0].set_title(f"{name[:40]}: mixture", fontsize=8)
        perm = best_permutation(references, estimates)
        for c in range(num_spks):
            est = estimates[:, perm[c]]
            ref = references[:, c]
            score = _si_snr_db(ref, est)
            ax = axes[row, 1 + c]
            ax.plot(time_axis, ref, lw=0.5, color="0.6", label="reference")
            ax.plot(
                time_axis, est, lw=0.5, color="C0", alpha=0.8, label="estimate"
            )
            ax.set_title(f"source {c + 1}: SI-SNR {score:.1f} dB", fontsize=8)
            if row == 0 and c == 0:
                ax.legend(fontsize=7, loc="upper right")
        for ax in axes[row]:
            ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for index, (label, csv_path) in enumerate(runs.items()):
        rows = read_curves(csv_path)
        color = f"C{index}"
        for ax, x_key in zip(axes, ("optimizer_steps", "train_minutes")):
            x = [r[x_key] for r in rows]
            ax.plot(
                x,
                [r["train_si-snr"] for r in rows],
                "--",
                color=color,
                label=f"{label} train",
            )
            ax.plot(
                x,
                [r["valid_si-snr"] for r in rows],
                "o-",
                ms=3,
                color=color,
                label=f"{label} valid",
            )
    axes[0].set_xlabel("optimizer steps")
    axes[1].set_xlabel("training time (min)")
    for ax in axes:
        ax.set_ylabel("SI-SNR (dB)")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
