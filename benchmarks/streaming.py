"""Streaming benchmark: latency, compute per block and real-time factor.

``python -m benchmarks.streaming --out DIR`` measures, in one run:

* for each causal config (``hparams/galr-causal.yaml``, 62.9 ms, and
  ``galr-causal-20ms.yaml``, 18.9 ms) streamed in blocks of ``--block-ms``
  (:class:`speechbrain_galr.inference.streaming.StreamSeparator`), and for
  the offline ``galr-small.yaml`` in 10 s chunks with 2 s overlaps (how
  ``separate`` runs long files), on 1 and 2 CPU threads, fp32 and (where
  the CPU has bf16 instructions) bf16 autocast: the algorithmic latency,
  the compute time per block (mean, 99th percentile) and the real-time
  factor, into ``DIR/streaming.csv``, ``streaming.md`` and
  ``streaming.png``;
* with ``--long-minutes N``: galr-causal streamed for N minutes of audio on
  one thread, the process's memory (RSS) and the compute per block each
  minute, into ``DIR/streaming_long.csv`` and ``streaming_long.png``;
* with ``--study DIR``: the latency against SI-SNRi figure of an
  equal-budget quality study (``tools/quality_study.py``), into
  ``DIR/latency_quality.png``.

The input is a real two-speaker mixture (``tests/quality/data/mix.wav``,
or ``--mixture``) repeated to the length needed; the models are the
recipes' yamls with random weights (the cost does not depend on them).

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import csv
import os
import re
import sys
import time

import numpy as np
import psutil
import torch

from benchmarks.recipe_models import HPARAMS_FOLDER, build_model
from benchmarks.report import machine, new_figure, save_figure, write_csv
from speechbrain_galr.atomic_files import write_text_atomic
from speechbrain_galr.audio import load_mono
from speechbrain_galr.inference.streaming import StreamSeparator

RATE = 8000
CAUSAL = ("galr-causal", "galr-causal-20ms")
OFFLINE = "galr-small"
CHUNK_SECONDS, OVERLAP_SECONDS = 10.0, 2.0
COLUMNS = [
    "model",
    "mode",
    "threads",
    "precision",
    "latency_ms",
    "block_ms",
    "compute_ms_per_block",
    "p99_ms_per_block",
    "real_time_factor",
    "times_real_time",
]
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(name):
    """The model of ``hparams/<name>.yaml`` (seeded random weights)."""
    torch.manual_seed(0)
    path = os.path.join(HPARAMS_FOLDER, f"{name}.yaml")
    return build_model(path).eval()


def input_signal(path, seconds):
    """``seconds`` of the mixture at ``path``, repeated as needed."""
    mix, rate = load_mono(path)
    if rate != RATE:
        raise SystemExit(f"{path}: expected {RATE} Hz, got {rate}")
    repeats = int(np.ceil(seconds * RATE / len(mix)))
    return mix.repeat(repeats)[: int(seconds * RATE)]


def precision_context(precision):
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def time_stream(model, mix, block, precision):
    """Streams ``mix`` in blocks of ``block`` samples; returns the latency
    in samples and each block's compute seconds."""
    # the frozen TorchScript step is fp32: bf16 autocast runs eagerly
    stream = StreamSeparator(model, RATE, trace=precision == "fp32")
    # warm-up: one second, then a fresh stream
    with precision_context(precision):
        for start in range(0, RATE, block):
            stream.process(mix[start : start + block])
    stream.reset()
    times = []
    with precision_context(precision):
        for start in range(0, len(mix), block):
            tic = time.perf_counter()
            stream.process(mix[start : start + block])
            times.append(time.perf_counter() - tic)
    return stream.latency_samples, np.array(times)


def time_chunks(model, mix, precision):
    """The offline model on ``CHUNK_SECONDS`` chunks every ``CHUNK -
    OVERLAP`` seconds; returns each chunk's compute seconds."""
    chunk = int(CHUNK_SECONDS * RATE)
    step = chunk - int(OVERLAP_SECONDS * RATE)
    times = []
    with torch.inference_mode(), precision_context(precision):
        model(mix[None, :chunk])  # warm-up
        for start in range(0, len(mix) - chunk + 1, step):
            tic = time.perf_counter()
            model(mix[None, start : start + chunk])
            times.append(time.perf_counter() - tic)
    return np.array(times), step


def measure(args, mix):
    """Rows of :data:`COLUMNS` for every model, thread count, precision."""
    precisions = ["fp32"] + (["bf16"] if has_bf16() else [])
    block = max(1, round(args.block_ms * RATE / 1000))
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for precision in precisions:
            for name in CAUSAL:
                latency, times = time_stream(build(name), mix, block, precision)
                rows.append(
                    _row(
                        name,
                        "stream",
                        threads,
                        precision,
                        latency,
                        block,
                        times,
                        block,
                    )  # fmt: skip
                )
                print(_summary(rows[-1]), flush=True)
            times, step = time_chunks(build(OFFLINE), mix, precision)
            chunk = int(CHUNK_SECONDS * RATE)
            rows.append(
                _row(
                    OFFLINE,
                    "10 s chunks",
                    threads,
                    precision,
                    chunk,
                    step,
                    times,
                    step,
                )  # fmt: skip
            )
            print(_summary(rows[-1]), flush=True)
    return rows


def _row(name, mode, threads, precision, latency, block, times, samples):
    rtf = times.sum() / (len(times) * samples / RATE)
    return {
        "model": name,
        "mode": mode,
        "threads": threads,
        "precision": precision,
        "latency_ms": round(1000 * latency / RATE, 2),
        "block_ms": round(1000 * block / RATE, 2),
        "compute_ms_per_block": round(1000 * times.mean(), 3),
        "p99_ms_per_block": round(1000 * np.percentile(times, 99), 3),
        "real_time_factor": round(rtf, 4),
        "times_real_time": round(1 / rtf, 1),
    }


def _summary(row):
    return (
        f"{row['model']:>17} {row['mode']:>11} {row['threads']} thread(s) "
        f"{row['precision']}: latency {row['latency_ms']:.1f} ms, "
        f"{row['compute_ms_per_block']:.2f} ms per {row['block_ms']:g} ms "
        f"block, {row['times_real_time']:g}x real time"
    )


def has_bf16():
    """Whether the CPU has bf16 instructions (AVX512-BF16 or AMX)."""
    try:
        with open("/proc/cpuinfo") as fin:
            flags = fin.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def long_run(args, mix_path):
    """galr-causal over ``args.long_minutes`` of audio, one thread, fp32:
    RSS and compute per block each minute."""
    torch.set_num_threads(1)
    block = max(1, round(args.block_ms * RATE / 1000))
    stream = StreamSeparator(build("galr-causal"), RATE)
    minute = input_signal(mix_path, 60)
    process = psutil.Process()
    rows = []
    for index in range(args.long_minutes):
        times = []
        for start in range(0, len(minute), block):
            tic = time.perf_counter()
            stream.process(minute[start : start + block])
            times.append(time.perf_counter() - tic)
        times = np.array(times)
        rows.append(
            {
                "minute": index + 1,
                "rss_mib": round(process.memory_info().rss / 2**20, 1),
                "compute_ms_per_block": round(1000 * times.mean(), 3),
                "p99_ms_per_block": round(1000 * np.percentile(times, 99), 3),
            }
        )
        print(
            f"minute {index + 1}: RSS {rows[-1]['rss_mib']} MiB, "
            f"{rows[-1]['compute_ms_per_block']:.3f} ms per block",
            flush=True,
        )
    return rows


def markdown(rows, args):
    lines = [
        "# Streaming: latency, compute per block, real-time factor",
        "",
        f"- command: `python -m benchmarks.streaming --seconds "
        f"{args.seconds:g} --block-ms {args.block_ms:g}`",
        f"- date: {time.strftime('%Y-%m-%d')}; machine: {machine()}; "
        f"load average at the end {os.getloadavg()[0]:.1f}",
        "- input: a real two-speaker mixture at 8 kHz, repeated; models "
        "of the recipes' yamls, random weights",
        "- latency: algorithmic, (K - 1) * M/2 + M - 1 samples for a causal "
        "GALR; for the offline model a chunk's first sample waits for the "
        "whole 10 s chunk",
        "",
        "| model | mode | threads | precision | latency (ms) | block (ms) "
        "| compute per block (ms) | p99 (ms) | real-time factor | x real "
        "time |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def plot_rows(rows, path):
    """Bars of x real time per model, threads and precision."""
    labels = [
        f"{r['model']}\n{r['mode']}\n{r['threads']}t {r['precision']}"
        for r in rows
    ]
    fig, ax = new_figure(figsize=(2 + 1.2 * len(rows), 4.5))
    bars = ax.bar(range(len(rows)), [r["times_real_time"] for r in rows])
    for bar, r in zip(bars, rows):
        ax.annotate(
            f"{r['latency_ms']:g} ms",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.axhline(10, color="gray", linestyle="--", label="10x real time")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("x real time (audio seconds per compute second)")
    ax.set_title("Streaming speed on the CPU (labels: algorithmic latency)")
    ax.legend()
    save_figure(fig, path)


def plot_long(rows, path):
    """RSS and compute per block against the minute of the stream."""
    minutes = [r["minute"] for r in rows]
    fig, (top, bottom) = new_figure(2, 1, figsize=(7, 5), sharex=True)
    top.plot(minutes, [r["rss_mib"] for r in rows], marker="o")
    top.set_ylabel("process RSS (MiB)")
    top.set_ylim(bottom=0)
    top.set_title("galr-causal streamed for 30 minutes (1 thread, fp32)")
    bottom.plot(minutes, [r["compute_ms_per_block"] for r in rows],
                marker="o", label="mean")  # fmt: skip
    bottom.plot(minutes, [r["p99_ms_per_block"] for r in rows],
                marker="x", label="99th percentile")  # fmt: skip
    bottom.set_ylabel("compute per 10 ms block (ms)")
    bottom.set_xlabel("minute of the stream")
    bottom.set_ylim(bottom=0)
    bottom.legend()
    save_figure(fig, path)


def plot_study(study, path):
    """SI-SNRi against algorithmic latency for the runs of a study."""
    with open(os.path.join(study, "study.csv")) as fin:
        results = list(csv.DictReader(fin))
    fig, ax = new_figure(figsize=(7, 4.5))
    for row in results:
        hp = _top_level_values(
            os.path.join(study, "runs", row["config"], "hyperparams.yaml")
        )
        window, K = int(hp["window_length"]), int(hp["segment_size"])
        if hp.get("causal", "").lower() == "true":
            latency = 1000 * ((K - 1) * window // 2 + window - 1) / RATE
            marker = "o"
        else:
            latency, marker = 1000 * CHUNK_SECONDS, "s"
        gain = float(row["test_si-snri"])
        ax.scatter(latency, gain, marker=marker, s=60)
        ax.annotate(row["config"], (latency, gain), xytext=(5, 5),
                    textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.margins(x=0.25)
    ax.set_xlabel("algorithmic latency (ms, log; offline: 10 s chunks)")
    ax.set_ylabel("test SI-SNRi (dB), held-out speakers")
    ax.set_title("Latency against quality at an equal training budget")
    ax.grid(True, alpha=0.3)
    save_figure(fig, path)


def _top_level_values(path):
    """The plain ``key: value`` lines at the top of a yaml file, as text
    (a run's hyperparams.yaml holds tags that only hyperpyyaml reads)."""
    values = {}
    with open(path) as fin:
        for line in fin:
            match = re.match(r"^(\w+):\s*([^#\s][^#]*?)\s*(#.*)?$", line)
            if match:
                values[match[1]] = match[2]
    return values


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.streaming",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--out", default="docs/benchmark", help="folder")
    parser.add_argument(
        "--mixture",
        default=os.path.join(CHECKOUT, "tests", "quality", "data", "mix.wav"),
        help="8 kHz mixture to stream (repeated as needed)",
    )
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--block-ms", type=float, default=10.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--long-minutes", type=int, default=0)
    parser.add_argument("--study", help="quality study folder to plot")
    parser.add_argument(
        "--skip-table", action="store_true", help="only --long / --study"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if not args.skip_table:
        seconds = max(args.seconds, CHUNK_SECONDS + 1)
        rows = measure(args, input_signal(args.mixture, seconds))
        write_csv(rows, os.path.join(args.out, "streaming.csv"), COLUMNS)
        write_text_atomic(
            os.path.join(args.out, "streaming.md"), markdown(rows, args)
        )
        plot_rows(rows, os.path.join(args.out, "streaming.png"))
        print(markdown(rows, args))
    if args.long_minutes:
        rows = long_run(args, args.mixture)
        columns = list(rows[0])
        write_csv(rows, os.path.join(args.out, "streaming_long.csv"), columns)
        plot_long(rows, os.path.join(args.out, "streaming_long.png"))
    if args.study:
        plot_study(args.study, os.path.join(args.out, "latency_quality.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
