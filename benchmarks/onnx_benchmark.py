"""onnxruntime against PyTorch: CPU inference time per second of audio.

``python -m benchmarks.onnx_benchmark --out docs/benchmark`` builds
the GALR models of ``galr-small.yaml`` and ``galr.yaml`` (random weights:
time does not depend on them), exports each with
:func:`speechbrain_galr.export.onnx.export_onnx`, and times the PyTorch
model and the onnxruntime session on the same input with the same number
of threads (``torch.set_num_threads`` and onnxruntime's intra-op threads),
the two backends interleaved and the medians taken, since the machine may
be shared.  It prints a table and writes ``onnx.md``, ``onnx.csv`` and
``onnx.png`` to the output folder.

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
from hyperpyyaml import load_hyperpyyaml

from benchmarks.report import machine, new_figure, save_figure, write_csv
from speechbrain_galr import HPARAMS_DIR
from speechbrain_galr.atomic_files import write_text_atomic
from speechbrain_galr.export.onnx import OPSET, export_onnx
from speechbrain_galr.inference.onnx_runtime import (
    OnnxTasNet,
    import_optional,
)

SAMPLE_RATE = 8000
CONFIGS = {
    # name: galr-model.yaml overrides (the recipes' model sections)
    "galr-small": {},
    "galr": {
        "num_filters": 128,
        "window_length": 4,
        "segment_size": 200,
        "reduced_segment_size": 8,
    },
}
COLUMNS = [
    "model",
    "threads",
    "seconds",
    "torch_ms_per_s",
    "ort_ms_per_s",
    "ratio",
    "torch_cpu_ms_per_s",
    "ort_cpu_ms_per_s",
    "max_abs_err",
]


def build_model(name):
    """The TasNet of a configuration of :data:`CONFIGS`, in eval mode."""
    with open(os.path.join(HPARAMS_DIR, "galr-model.yaml")) as fin:
        hparams = load_hyperpyyaml(fin, CONFIGS[name])
    return hparams["model"].eval()


def _timed(fn, mix):
    """Wall-clock and process CPU seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(mix)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def compare(model, session, mix, threads, repeats):
    """Times both backends, interleaved (the order alternating).

    Returns
    -------
    dict
        Medians in ms per second of audio and the largest absolute
        difference of the outputs.
    """
    torch.set_num_threads(threads)
    times = {"torch": [], "ort": []}
    calls = {"torch": model, "ort": session}
    with torch.inference_mode():
        expected, got = model(mix), session(mix)  # warm-up
        for rep in range(repeats):
            order = ["torch", "ort"] if rep % 2 == 0 else ["ort", "torch"]
            for backend in order:
                wall, cpu, _ = _timed(calls[backend], mix)
                times[backend].append((wall, cpu))
    seconds = mix.shape[1] / SAMPLE_RATE
    row = {"threads": threads, "seconds": seconds}
    for backend, values in times.items():
        wall, cpu = np.median(np.array(values), axis=0) * 1000 / seconds
        row[f"{backend}_ms_per_s"] = float(wall)
        row[f"{backend}_cpu_ms_per_s"] = float(cpu)
    row["ratio"] = row["ort_ms_per_s"] / row["torch_ms_per_s"]
    row["max_abs_err"] = float((got - expected).abs().max())
    return row


def markdown(rows, args, export_errors):
    """The report: settings, table, equality figures."""
    lines = [
        "# ONNX export: onnxruntime against PyTorch on the CPU",
        "",
        f"- command: `OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY', '')} "
        f"python -m benchmarks.onnx_benchmark "
        f"--seconds {args.seconds:g} --repeats {args.repeats} --threads "
        f"{' '.join(map(str, args.threads))}`",
        f"- date: {time.strftime('%Y-%m-%d')}",
        f"- machine: {machine()}; torch {torch.__version__}, onnxruntime "
        f"{import_optional('onnxruntime').__version__}, opset {OPSET}",
        f"- input: one {args.seconds:g} s mixture at 8 kHz, random weights;"
        f" wall-clock medians of {args.repeats} runs, the backends "
        "interleaved; the same number of threads for both "
        "(`torch.set_num_threads`, onnxruntime `intra_op_num_threads`)",
        f"- idle threads: OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY', '(unset: spinning)')} for "
        "torch's OpenMP threads, onnxruntime's spinning set to match "
        "(on a busy machine spinning threads slow torch down most)",
        f"- load average at the start: {args.load_start}, at the end: "
        f"{os.getloadavg()[0]:.1f} (the machine was shared)",
        "",
        "| model | threads | PyTorch ms per s | onnxruntime ms per s | "
        "ORT / PyTorch | PyTorch CPU ms per s | ORT CPU ms per s | "
        "max abs error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['threads']} | "
            f"{row['torch_ms_per_s']:.1f} | {row['ort_ms_per_s']:.1f} | "
            f"{row['ratio']:.3f} | {row['torch_cpu_ms_per_s']:.1f} | "
            f"{row['ort_cpu_ms_per_s']:.1f} | {row['max_abs_err']:.1e} |"
        )
    lines += [
        "",
        "Export check (largest absolute error against PyTorch, "
        "batch 2, lengths of every residue class of the padding):",
        "",
    ]
    for name, errors in export_errors.items():
        lines.append(f"- {name}: {max(errors):.1e}")
    return "\n".join(lines) + "\n"


def plot(rows, path):
    """Bars of ms per second of audio, per model and thread count."""
    labels = [f"{r['model']}\n{r['threads']} thread(s)" for r in rows]
    x = np.arange(len(rows))
    fig, ax = new_figure(figsize=(2 + 1.6 * len(rows), 4))
    ax.bar(x - 0.2, [r["torch_ms_per_s"] for r in rows], 0.4, label="PyTorch")
    ax.bar(x + 0.2, [r["ort_ms_per_s"] for r in rows], 0.4, label="onnxruntime")
    for i, row in enumerate(rows):
        top = max(row["torch_ms_per_s"], row["ort_ms_per_s"])
        ax.annotate(
            f"ORT/PT {row['ratio']:.2f}",
            (i, top * 1.05),
            ha="center",
            fontsize=9,
        )
    ax.set_xticks(x, labels)
    ax.set_ylim(0, max(r["ort_ms_per_s"] for r in rows) * 1.15)
    ax.set_ylabel("ms per second of audio (wall)")
    ax.legend()
    save_figure(fig, path)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.onnx_benchmark",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument("--out", default="docs/benchmark", help="folder")
    parser.add_argument(
        "--models", nargs="+", default=list(CONFIGS), choices=list(CONFIGS)
    )
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.load_start = f"{os.getloadavg()[0]:.1f}"
    os.makedirs(args.out, exist_ok=True)
    mix = torch.randn(
        1,
        round(args.seconds * SAMPLE_RATE),
        generator=torch.Generator().manual_seed(0),
    )
    rows, export_errors = [], {}
    for name in args.models:
        model = build_model(name)
        path = os.path.join(args.out, f".{name}.onnx")
        print(f"exporting {name}...", file=sys.stderr, flush=True)
        export_errors[name] = export_onnx(model, path)
        for threads in args.threads:
            session = OnnxTasNet(path, threads=threads)
            row = {
                "model": name,
                **compare(model, session, mix, threads, args.repeats),
            }
            rows.append(row)
            print(
                " ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in row.items()
                ),
                flush=True,
            )
        os.remove(path)
    text = markdown(rows, args, export_errors)
    print(text)
    write_text_atomic(os.path.join(args.out, "onnx.md"), text)
    csv_rows = [{**r, "max_abs_err": f"{r['max_abs_err']:.2e}"} for r in rows]
    write_csv(csv_rows, os.path.join(args.out, "onnx.csv"), COLUMNS)
    plot(rows, os.path.join(args.out, "onnx.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
