"""The cost benchmark of Table 3: GALR against DPRNN and a dual-path
transformer (issue #6).

``python -m speechbrain_galr.benchmark --out DIR`` measures, for every
configuration of Table 3 (D in {64, 128}; M, K, Q as in the table), the
parameters, the FLOPs of a 1 s input at 8 kHz (ptflops), the peak memory of
a forward pass and of a training step on 1 s and 4 s inputs (CPU, and GPU
when there is one) and the time per second of audio of inference and of a
training step, and writes ``DIR/cost.csv``, ``DIR/cost.md`` (the table with
the ratios to DPRNN beside the paper's) and ``DIR/cost.png``.  ``--quick``
measures one configuration per model (a smoke test).

What is counted and how is in :mod:`speechbrain_galr.cost` and in the
notes of ``cost.md``.

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import csv
import datetime
import logging
import os
import platform
import statistics
import sys

import torch
from tqdm import tqdm

from speechbrain_galr import cost

logger = logging.getLogger(__name__)

# Table 3 of the paper: (model, D, M, K, Q) -> (size, runtime memory MiB on
# the GPU, "GFLOPs" of a 1 s input).  DPTNet sits beside our dual-path
# transformer, which is DPTNet-like but not DPTNet.
PAPER_TABLE_3 = {
    ("DP-Transformer", 64, 16, 100, None): ("DPTNet", 2.8e6, 419, 12.6),
    ("DPRNN", 64, 16, 100, None): ("DPRNN", 2.6e6, 231, 10.7),
    ("DPRNN", 64, 8, 150, None): ("DPRNN", 2.6e6, 456, 22.2),
    ("DPRNN", 64, 4, 200, None): ("DPRNN", 2.6e6, 929, 42.3),
    ("GALR", 64, 16, 100, 32): ("GALR", 1.5e6, 161, 5.6),
    ("GALR", 64, 8, 150, 16): ("GALR", 1.5e6, 309, 11.5),
    ("GALR", 64, 4, 200, 8): ("GALR", 1.5e6, 594, 21.4),
    ("GALR", 128, 16, 100, 32): ("GALR", 2.3e6, 186, 8.3),
    ("GALR", 128, 8, 150, 16): ("GALR", 2.3e6, 363, 16.5),
    ("GALR", 128, 4, 200, 8): ("GALR", 2.3e6, 730, 30.8),
}
# (M, K, Q) of Table 3
SEGMENTATIONS = ((16, 100, 32), (8, 150, 16), (4, 200, 8))
MEMORY_PASSES = (("infer", 1), ("infer", 4), ("train", 1), ("train", 4))
CSV_COLUMNS = [
    "model",
    "D",
    "M",
    "K",
    "Q",
    "params",
    "gmacs_1s",
    "gflops_1s",
    "cpu_peak_mib_infer_1s",
    "cpu_peak_mib_infer_4s",
    "cpu_peak_mib_train_1s",
    "cpu_peak_mib_train_4s",
    "cpu_ms_per_s_infer",
    "cpu_ms_per_s_train",
    "cpu_wall_ms_per_s_infer",
    "cpu_wall_ms_per_s_train",
    "paper_model",
    "paper_params",
    "paper_gflops",
    "paper_mib",
]
GPU_COLUMNS = [
    "gpu_peak_mib_infer_1s",
    "gpu_peak_mib_infer_4s",
    "gpu_peak_mib_train_1s",
    "gpu_peak_mib_train_4s",
    "gpu_ms_per_s_infer",
    "gpu_ms_per_s_train",
    "gpu_name",
]


def configurations(quick=False, d128_baselines=False):
    """The (model, D, M, K, Q) rows to measure.

    Arguments
    ---------
    quick : bool
        Only D=64, M=16, K=100, Q=32, one row per model.
    d128_baselines : bool
        Also DPRNN and the transformer at D=128 (Table 3 has them at D=64
        only).

    Returns
    -------
    list of tuple

    Example
    -------
    >>> configurations(quick=True)[0]
    ('GALR', 64, 16, 100, 32)
    >>> len(configurations()), len(configurations(d128_baselines=True))
    (12, 18)
    """
    segmentations = SEGMENTATIONS[:1] if quick else SEGMENTATIONS
    rows = []
    for D in (64,) if quick else (64, 128):
        for M, K, Q in segmentations:
            rows.append(("GALR", D, M, K, Q))
            if D == 64 or d128_baselines:
                rows.append(("DPRNN", D, M, K, None))
                rows.append(("DP-Transformer", D, M, K, None))
    return rows


def _key(row):
    return (row["model"], row["D"], row["M"], row["K"], row["Q"])


def _fmt(value, digits=2):
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.{digits}f}"


def reference_row(rows, row):
    """The DPRNN row at D=64 with the same M and K (the paper's reference),
    or None."""
    for other in rows:
        if (
            other["model"] == "DPRNN"
            and other["D"] == 64
            and (other["M"], other["K"]) == (row["M"], row["K"])
        ):
            return other
    return None


def ratio(rows, row, column):
    """``row[column]`` divided by that of :func:`reference_row`, or None.

    Example
    -------
    >>> rows = [dict(model="DPRNN", D=64, M=16, K=100, x=4.0),
    ...         dict(model="GALR", D=64, M=16, K=100, x=2.0)]
    >>> ratio(rows, rows[1], "x")
    0.5
    """
    ref = reference_row(rows, row)
    if ref is None or not ref.get(column) or row.get(column) in (None, ""):
        return None
    return row[column] / ref[column]


def _paper_ratio(row, index):
    """The paper's ratio to DPRNN (D=64, same M, K) of a Table 3 figure."""
    paper = PAPER_TABLE_3.get(_key(row))
    ref = PAPER_TABLE_3.get(("DPRNN", 64, row["M"], row["K"], None))
    if paper is None or ref is None:
        return None
    return paper[index] / ref[index]


# ------------------------------------------------------------ measuring


def measure_static(rows):
    """Parameters and FLOPs of a 1 s input, in place."""
    for row in tqdm(rows, desc="params and FLOPs", leave=False):
        torch.manual_seed(0)
        net = cost.build_tasnet(*_key(row))
        row["params"] = cost.count_parameters(net)
        macs = cost.count_macs(net, seconds=1.0)
        row["gmacs_1s"] = macs / 1e9
        row["gflops_1s"] = 2 * macs / 1e9
        paper = PAPER_TABLE_3.get(_key(row))
        if paper is not None:
            row["paper_model"], row["paper_params"] = paper[0], paper[1]
            row["paper_mib"], row["paper_gflops"] = paper[2], paper[3]


def measure_cpu_memory(rows, threads, method, passes=MEMORY_PASSES):
    """CPU peak memory of every row, each model in its own subprocess."""
    for row in tqdm(rows, desc="CPU peak memory", leave=False):
        peaks = cost.cpu_peak_memory(
            *_key(row), passes, threads=threads, method=method
        )
        for name, mib in peaks.items():
            row[f"cpu_peak_mib_{name}"] = mib
        logger.info(
            "%s D=%d M=%d K=%d: CPU peak %s",
            *_key(row)[:4],
            ", ".join(f"{k} {v:.0f} MiB" for k, v in peaks.items()),
        )


def _groups(rows):
    """Rows grouped by (D, M, K): the models compared with each other."""
    groups = {}
    for row in rows:
        groups.setdefault((row["D"], row["M"], row["K"]), []).append(row)
    return list(groups.values())


def measure_time(rows, device, seconds, repeats, prefix):
    """Median time per second of audio of inference and of a training step.

    Within each (D, M, K) group the models run in turn, in a rotating
    order, ``repeats`` times, so that load from other processes hits them
    alike; each has one untimed pass of each mode first.

    Arguments
    ---------
    rows : list of dict
        Updated in place with ``<prefix>_ms_per_s_<mode>`` (process CPU time
        on the CPU, synchronised wall time on the GPU) and, on the CPU,
        ``cpu_wall_ms_per_s_<mode>``.
    device : str
        ``"cpu"`` or a CUDA device.
    seconds : float
        Input duration.
    repeats : int
        Timed runs per model and mode.
    prefix : str
        ``"cpu"`` or ``"gpu"``.
    """
    cuda = device != "cpu"
    for group in tqdm(_groups(rows), desc=f"{prefix} time", leave=False):
        nets = []
        for row in group:
            torch.manual_seed(0)
            nets.append(cost.build_tasnet(*_key(row)).to(device))
        mix = torch.randn(1, int(seconds * cost.SAMPLE_RATE), device=device)
        times = {}
        for net in nets:
            for mode in ("infer", "train"):
                cost.run_step(net, mode, mix)
        for rep in range(repeats):
            order = list(range(len(nets)))
            order = order[rep % len(order) :] + order[: rep % len(order)]
            for i in order:
                for mode in ("infer", "train"):
                    cpu, wall = cost.time_step(nets[i], mode, mix)
                    times.setdefault((i, mode), []).append((cpu, wall))
        for i, row in enumerate(group):
            for mode in ("infer", "train"):
                cpu = statistics.median(t[0] for t in times[(i, mode)])
                wall = statistics.median(t[1] for t in times[(i, mode)])
                if cuda:
                    row[f"gpu_ms_per_s_{mode}"] = 1000 * wall / seconds
                else:
                    row[f"cpu_ms_per_s_{mode}"] = 1000 * cpu / seconds
                    row[f"cpu_wall_ms_per_s_{mode}"] = 1000 * wall / seconds
            logger.info(
                "%s D=%d M=%d K=%d on %s: %s",
                *_key(row)[:4],
                device,
                ", ".join(
                    f"{k} {v:.1f}"
                    for k, v in row.items()
                    if k.startswith(f"{prefix}_") and "ms_per_s" in k
                ),
            )
        del nets
        if cuda:
            torch.cuda.empty_cache()


def measure_gpu_memory(rows, device, passes=MEMORY_PASSES):
    """GPU peak memory of every row (``torch.cuda.max_memory_allocated``)."""
    name = torch.cuda.get_device_name(device)
    for row in tqdm(rows, desc="GPU peak memory", leave=False):
        torch.manual_seed(0)
        net = cost.build_tasnet(*_key(row)).to(device)
        for key, mib in cost.gpu_peak_memory(net, passes, device).items():
            row[f"gpu_peak_mib_{key}"] = mib
        row["gpu_name"] = name
        del net
        torch.cuda.empty_cache()


# ------------------------------------------------------------ writing


def write_csv(rows, path, columns):
    """One row per model and configuration."""
    with open(path, "w", newline="") as fout:
        writer = csv.DictWriter(fout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: (f"{v:.4f}" if isinstance(v, float) else v)
                    for k, v in row.items()
                    if v is not None
                }
            )


def _machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fin:
            for line in fin:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs"


def _versions():
    from importlib.metadata import version

    return ", ".join(
        f"{name} {version(name)}"
        for name in ("torch", "speechbrain", "ptflops")
    )


def targets(rows):
    """The checks of issue #6 on GALR D=64, M=16 against DPRNN.

    The FLOPs ratio against the paper's 0.52, the training-step memory
    ratio (the paper's runtime memory, 161 MiB for GALR on 1 s, is that of
    training: inference needs a few MiB) against 0.64, and the CPU
    inference time against DPRNN's.

    Returns
    -------
    list of (str, bool)
        Each check and whether it holds; empty if GALR or DPRNN at D=64,
        M=16 was not measured.
    """
    galr = next((r for r in rows if _key(r) == ("GALR", 64, 16, 100, 32)), None)
    if galr is None or reference_row(rows, galr) is None:
        return []
    checks = []
    flops = ratio(rows, galr, "gflops_1s")
    checks.append(
        (f"FLOPs ratio {flops:.3f} <= the paper's 0.52", flops <= 0.52)
    )
    for device in ("cpu", "gpu"):
        value = ratio(rows, galr, f"{device}_peak_mib_train_1s")
        if value is not None:
            checks.append(
                (
                    f"{device.upper()} memory ratio (training step, 1 s) "
                    f"{value:.3f} <= 0.64",
                    value <= 0.64,
                )
            )
    value = ratio(rows, galr, "cpu_ms_per_s_infer")
    if value is not None:
        checks.append(
            (f"CPU inference time ratio {value:.3f} <= 1", value <= 1.0)
        )
    return checks


def markdown(rows, settings):
    """The report: settings, notes, the main table, all measurements."""
    gpu = any(r.get("gpu_name") for r in rows)
    lines = [
        "# Cost of GALR, DPRNN and a dual-path transformer (Table 3)",
        "",
        f"- command: `{settings['command']}`",
        f"- date: {settings['date']}",
        f"- machine: {_machine()}; {_versions()}",
        f"- CPU: {settings['threads']} torch thread(s); times are medians "
        f"of {settings['repeats']} runs on a {settings['seconds']:g} s "
        "input, the models of each configuration interleaved",
        "- GPU: "
        + (
            next(r["gpu_name"] for r in rows if r.get("gpu_name"))
            if gpu
            else "none on this machine (no GPU columns)"
        ),
        f"- CPU peak memory method: {settings['memory_method']}",
        "",
        "## Main table",
        "",
        "Ratios are to DPRNN at D=64 with the same M and K, as in the "
        "paper; the paper's figures and ratios are in brackets.  GFLOPs are "
        "2 x ptflops MACs of a 1 s input at 8 kHz.  Memory: the CPU peak "
        "resident memory of a training step (forward and backward) on a "
        "1 s input; the paper's is runtime memory on a GPU, which it does "
        "not describe further.",
        "",
        "| model | D | M | K | Q | params [paper] | GFLOPs 1 s [paper] | "
        "FLOPs / DPRNN [paper] | CPU MiB train 1 s | / DPRNN [paper MiB, "
        "ratio] | CPU ms per s infer | / DPRNN | CPU ms per s train | "
        "/ DPRNN |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        paper_params = r.get("paper_params")
        # the paper's model where it is not ours (DPTNet)
        other = (
            f" {r['paper_model']}"
            if r.get("paper_model") not in (None, r["model"])
            else ""
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    r["model"],
                    str(r["D"]),
                    str(r["M"]),
                    str(r["K"]),
                    str(r["Q"] or "-"),
                    f"{r['params'] / 1e6:.2f}M"
                    + (f" [{paper_params / 1e6:.1f}M]" if paper_params else ""),
                    _fmt(r["gflops_1s"])
                    + (
                        f" [{r['paper_gflops']:g}{other}]"
                        if r.get("paper_gflops")
                        else ""
                    ),
                    _fmt(ratio(rows, r, "gflops_1s"), 3)
                    + (
                        f" [{_paper_ratio(r, 3):.3f}{other}]"
                        if _paper_ratio(r, 3)
                        else ""
                    ),
                    _fmt(r.get("cpu_peak_mib_train_1s"), 0),
                    _fmt(ratio(rows, r, "cpu_peak_mib_train_1s"), 3)
                    + (
                        f" [{r['paper_mib']:g}, {_paper_ratio(r, 2):.3f}"
                        f"{other}]"
                        if _paper_ratio(r, 2)
                        else ""
                    ),
                    _fmt(r.get("cpu_ms_per_s_infer"), 1),
                    _fmt(ratio(rows, r, "cpu_ms_per_s_infer"), 3),
                    _fmt(r.get("cpu_ms_per_s_train"), 1),
                    _fmt(ratio(rows, r, "cpu_ms_per_s_train"), 3),
                ]
            )
            + " |"
        )
    checks = targets(rows)
    if checks:
        lines += ["", "## Targets of issue #6 (GALR D=64, M=16, K=100, Q=32)"]
        lines += [""] + [
            f"- {'met' if ok else 'NOT met'}: {text}" for text, ok in checks
        ]
    columns = [c for c in CSV_COLUMNS if c.startswith("cpu_")]
    if gpu:
        columns += [c for c in GPU_COLUMNS if c != "gpu_name"]
    lines += [
        "",
        "## All measurements",
        "",
        "Peak memory in MiB above the memory before the pass; times in ms "
        "per second of audio (`cpu_ms`: process CPU time, `cpu_wall_ms`: "
        "wall-clock time; `gpu_ms`: wall-clock between synchronisations).",
        "",
        "| model | D | M | K | "
        + " | ".join(c.replace("_", " ") for c in columns)
        + " |",
        "|---|---|---|---|" + "---|" * len(columns),
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['D']} | {r['M']} | {r['K']} | "
            + " | ".join(
                _fmt(r.get(c), 0 if "mib" in c else 1) for c in columns
            )
            + " |"
        )
    lines += ["", "## What is measured", ""] + NOTES
    return "\n".join(lines) + "\n"


NOTES = [
    "- **Models** (`speechbrain_galr.cost.build_tasnet`, as the recipes "
    "build them): encoder `Encoder(M, D)`, decoder `Decoder(D, 1, M, "
    "stride=M//2, bias=False)`; GALR `GALR(D, D, 128, 6, 8, K, Q, 2)`; "
    "DPRNN `Dual_Path_Model` with Bi-LSTM `SBRNNBlock(D, 128)` intra and "
    "inter blocks, 6 layers, the linear layer after each; DP-Transformer "
    "`Dual_Path_Model` with `SBTransformerBlock(1, D, 4 heads, d_ffn=4D, "
    "positional encoding, pre-norm)` intra and inter blocks, 6 layers "
    "(DPTNet-like: DPTNet's feed-forward is a Bi-LSTM).  All run through "
    "`speechbrain_galr.tasnet.separate`.",
    "- **FLOPs**: ptflops (the paper's counter), pytorch backend, module "
    "hooks (`count_functional=False`).  Counted: convolutions, linear "
    "layers, LSTMs (gate products and gate arithmetic, per step and "
    "direction), layer and group norms (2 per element), PReLU/ReLU (1 per "
    "element), `nn.MultiheadAttention` (projections, `QK^T`, softmax, `AV`, "
    "query scaling), and through our hooks GALR's segment norms and its "
    "globally attentive layer (C_map, C_inv, LN_D, projections and the "
    "attention of eq. 8 counted as for `nn.MultiheadAttention`, since "
    "`F.scaled_dot_product_attention` is invisible to ptflops).  Not "
    "counted, for every model: residual additions, positional encodings, "
    "tanh/sigmoid gates and the mask product.  ptflops reports MACs; "
    "`gflops_1s` is 2 x MACs.  Table 3's figures are within 8 % of 2 x "
    "our MACs for all nine of its rows (about 2 x our MACs, not our MACs), "
    "so the paper's GFLOPs are FLOPs = 2 x MACs; the ratios do not depend "
    "on this.  ptflops' aten backend is not used: it counts neither LSTMs "
    "(`mkldnn_rnn_layer`) nor fused attention.",
    "- **CPU peak memory**: each model in its own subprocess; peak resident "
    "set (VmHWM, reset through `/proc/self/clear_refs` before each pass; "
    "where Linux does not offer that, the resident set sampled every "
    "millisecond with psutil) minus the resident set just before the "
    "pass (after imports, model build, one 0.25 s warm-up pass of each mode, "
    "`malloc_trim` and input creation).  glibc is told to return every "
    "freed block of 128 KiB or more to the system "
    "(`MALLOC_MMAP_THRESHOLD_=131072`), so that the peak is that of the "
    "memory in use (as `max_memory_allocated` on a GPU), whatever ran "
    "before; only touched pages count, so oneDNN's LSTM workspaces count "
    "for what is written.  A training step is forward, PIT SI-SNR loss and "
    "backward with the gradients (no optimizer state).",
    "- **GPU peak memory**: `torch.cuda.max_memory_allocated` minus the "
    "memory allocated before the pass (weights excluded).",
    "- **Time**: process CPU time (`time.process_time`) per second of "
    "audio, median over runs; the wall-clock time is in the full table.",
]


def plot(rows, path):
    """Cost against configuration: FLOPs, memory and times per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    labels = []
    for M, K, _ in SEGMENTATIONS:
        if any((r["M"], r["K"]) == (M, K) for r in rows):
            labels.append((M, K))
    memory = "cpu"
    if any(r.get("gpu_name") for r in rows):
        memory = "gpu"
    panels = [
        ("gflops_1s", "GFLOPs, 1 s input (2 x MACs)", "paper_gflops"),
        (
            f"{memory}_peak_mib_train_1s",
            f"{memory.upper()} peak MiB, training step, 1 s "
            "(paper: GPU runtime)",
            "paper_mib",
        ),
        ("cpu_ms_per_s_infer", "CPU ms per s of audio, inference", None),
        ("cpu_ms_per_s_train", "CPU ms per s of audio, training", None),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    series = sorted({(r["model"], r["D"]) for r in rows})
    markers = {"GALR": "o", "DPRNN": "s", "DP-Transformer": "^"}
    for ax, (column, title, paper_column) in zip(axes.flat, panels):
        for model, D in series:
            points = [
                (labels.index((r["M"], r["K"])), r.get(column))
                for r in rows
                if (r["model"], r["D"]) == (model, D)
                and r.get(column) is not None
            ]
            if not points:
                continue
            x, y = zip(*points)
            line = ax.plot(
                x,
                y,
                marker=markers[model],
                linestyle="-" if D == 64 else "--",
                label=f"{model} D={D}",
            )[0]
            paper = [
                (labels.index((r["M"], r["K"])), r.get(paper_column))
                for r in rows
                if paper_column
                and (r["model"], r["D"]) == (model, D)
                and r.get(paper_column)
                and r["paper_model"] == model
            ]
            if paper:
                px, py = zip(*paper)
                ax.plot(
                    px,
                    py,
                    marker=markers[model],
                    linestyle="none",
                    markerfacecolor="none",
                    color=line.get_color(),
                    markersize=10,
                )
        ax.set_title(title)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([f"M={M}, K={K}" for M, K in labels])
        ax.set_yscale("log")
        for axis in (
            ax.yaxis.set_major_formatter,
            ax.yaxis.set_minor_formatter,
        ):
            axis(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(True, which="both", alpha=0.3)
    axes.flat[0].plot(
        [], [], "ko", markerfacecolor="none", label="paper (Table 3)"
    )
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("GALR (Q = 32, 16, 8) against dual-path baselines")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------ main


def build_parser():
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m speechbrain_galr.benchmark",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one configuration (D=64, M=16, K=100, Q=32) per model, "
        "memory of 1 s passes only",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the least noisy on a shared "
        "machine)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per model and mode (default 5, 3 with --quick)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="input duration of the timed runs (default 1)",
    )
    parser.add_argument(
        "--d128-baselines",
        action="store_true",
        help="also DPRNN and the transformer at D=128 (Table 3 has them at "
        "D=64 only; this adds about 60 %% to the run time)",
    )
    parser.add_argument(
        "--cpu-only", action="store_true", help="ignore any GPU"
    )
    parser.add_argument(
        "--memory-method",
        choices=("auto", "vmhwm", "sampled"),
        default="auto",
        help="how CPU peak memory is read (see speechbrain_galr.cost)",
    )
    return parser


def run(args):
    """Measures everything and writes the three files; returns the rows."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise NotADirectoryError(f"--out {args.out} is a file, not a folder")
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    repeats = args.repeats or (3 if args.quick else 5)
    seconds = args.seconds or 1.0
    if repeats < 1 or seconds <= 0:
        raise ValueError("--repeats must be >= 1 and --seconds > 0")
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    method = (
        cost.peak_rss_method()
        if args.memory_method == "auto"
        else args.memory_method
    )
    rows = [
        dict(zip(("model", "D", "M", "K", "Q"), key))
        for key in configurations(args.quick, args.d128_baselines)
    ]
    logger.info("measuring %d models", len(rows))
    # --quick: the 1 s passes only
    passes = [p for p in MEMORY_PASSES if not args.quick or p[1] == 1]
    measure_static(rows)
    measure_cpu_memory(rows, args.threads, method, passes)
    measure_time(rows, "cpu", seconds, repeats, "cpu")
    columns = list(CSV_COLUMNS)
    if torch.cuda.is_available() and not args.cpu_only:
        device = "cuda"
        measure_gpu_memory(rows, device, passes)
        measure_time(rows, device, seconds, repeats, "gpu")
        columns += GPU_COLUMNS
    else:
        logger.info("no GPU: CPU measurements only")
    settings = dict(
        command="python -m speechbrain_galr.benchmark " + " ".join(args.argv),
        date=datetime.date.today().isoformat(),
        threads=args.threads,
        repeats=repeats,
        seconds=seconds,
        memory_method=method,
    )
    write_csv(rows, os.path.join(args.out, "cost.csv"), columns)
    with open(os.path.join(args.out, "cost.md"), "w") as fout:
        fout.write(markdown(rows, settings))
    plot(rows, os.path.join(args.out, "cost.png"))
    logger.info("wrote cost.csv, cost.md and cost.png in %s", args.out)
    return rows


def main(argv=None):
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for text, ok in targets(run(args)):
        logger.info("%s: %s", "met" if ok else "NOT met", text)


if __name__ == "__main__":
    main()
