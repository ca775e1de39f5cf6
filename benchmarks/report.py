"""The report of the cost benchmark of Table 3: CSV, Markdown, PNG.

What :mod:`benchmarks.benchmark` measured, written out: one CSV row
per model and configuration, the Markdown table with the ratios to DPRNN
beside the paper's, the checks against Table 3's ratios, and a figure.
The helpers
(ratios to DPRNN, CSV writing, machine description) serve the throughput
report (:mod:`benchmarks.throughput_report`) too.

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import os
import platform

from speechbrain_galr.atomic_files import atomic_path, atomic_write

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


def config_key(row):
    """``(model, D, M, K, Q)`` of a row."""
    return (row["model"], row["D"], row["M"], row["K"], row["Q"])


def fmt(value, digits=2):
    """A table cell: ``-`` for nothing, text as is, numbers rounded."""
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


def ratio(rows, row, column, reference_column=None):
    """``row[column]`` divided by ``reference_column`` (default: the same
    column) of :func:`reference_row`, or None.

    Example
    -------
    >>> rows = [dict(model="DPRNN", D=64, M=16, K=100, x=4.0),
    ...         dict(model="GALR", D=64, M=16, K=100, x=2.0)]
    >>> ratio(rows, rows[1], "x")
    0.5
    """
    ref = reference_row(rows, row)
    reference_column = reference_column or column
    if ref is None or not ref.get(reference_column):
        return None
    if row.get(column) in (None, ""):
        return None
    return row[column] / ref[reference_column]


def _paper_ratio(row, index):
    """The paper's ratio to DPRNN (D=64, same M, K) of a Table 3 figure."""
    paper = PAPER_TABLE_3.get(config_key(row))
    ref = PAPER_TABLE_3.get(("DPRNN", 64, row["M"], row["K"], None))
    if paper is None or ref is None:
        return None
    return paper[index] / ref[index]


def write_csv(rows, path, columns):
    """One row per model and configuration (atomically written)."""
    with atomic_write(path, newline="") as fout:
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


def new_figure(rows=1, cols=1, **kwargs):
    """A matplotlib figure and its axes (``Figure.subplots``), without
    pyplot's global state or a display."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(rows, cols, **kwargs)


def save_figure(fig, path, dpi=100):
    """Writes ``fig`` to ``path`` atomically."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)


def machine():
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


def versions():
    from importlib.metadata import version

    return ", ".join(
        f"{name} {version(name)}"
        for name in ("torch", "speechbrain", "ptflops")
    )


def targets(rows):
    """The cost targets of GALR D=64, M=16 against DPRNN (paper Table 3).

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
    galr = next(
        (r for r in rows if config_key(r) == ("GALR", 64, 16, 100, 32)), None
    )
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


def settings_lines(settings, title):
    """The title and the run's settings, as Markdown lines."""
    return [
        f"# {title}",
        "",
        f"- command: `{settings['command']}`",
        f"- date: {settings['date']}",
        f"- machine: {machine()}; {versions()}",
    ]


def _main_table_row(rows, r):
    """One row of the main table: ours, the ratios, the paper's."""
    paper_params = r.get("paper_params")
    # the paper's model where it is not ours (DPTNet)
    other = (
        f" {r['paper_model']}"
        if r.get("paper_model") not in (None, r["model"])
        else ""
    )
    flops_paper = _paper_ratio(r, 3)
    mib_paper = _paper_ratio(r, 2)
    cells = [
        r["model"],
        str(r["D"]),
        str(r["M"]),
        str(r["K"]),
        str(r["Q"] or "-"),
        f"{r['params'] / 1e6:.2f}M"
        + (f" [{paper_params / 1e6:.1f}M]" if paper_params else ""),
        fmt(r["gflops_1s"])
        + (f" [{r['paper_gflops']:g}{other}]" if r.get("paper_gflops") else ""),
        fmt(ratio(rows, r, "gflops_1s"), 3)
        + (f" [{flops_paper:.3f}{other}]" if flops_paper else ""),
        fmt(r.get("cpu_peak_mib_train_1s"), 0),
        fmt(ratio(rows, r, "cpu_peak_mib_train_1s"), 3)
        + (
            f" [{r['paper_mib']:g}, {mib_paper:.3f}{other}]"
            if mib_paper
            else ""
        ),
        fmt(r.get("cpu_ms_per_s_infer"), 1),
        fmt(ratio(rows, r, "cpu_ms_per_s_infer"), 3),
        fmt(r.get("cpu_ms_per_s_train"), 1),
        fmt(ratio(rows, r, "cpu_ms_per_s_train"), 3),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(rows, settings):
    """The report: settings, notes, the main table, all measurements."""
    gpu = next((r["gpu_name"] for r in rows if r.get("gpu_name")), None)
    lines = settings_lines(
        settings, "Cost of GALR, DPRNN and a dual-path transformer (Table 3)"
    ) + [
        f"- CPU: {settings['threads']} torch thread(s); times are medians "
        f"of {settings['repeats']} runs on a {settings['seconds']:g} s "
        "input, the models of each configuration interleaved",
        f"- GPU: {gpu or 'none on this machine (no GPU columns)'}",
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
    lines += [_main_table_row(rows, r) for r in rows]
    checks = targets(rows)
    if checks:
        lines += [
            "",
            "## Cost targets (GALR D=64, M=16, K=100, Q=32, paper Table 3)",
        ]
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
            + " | ".join(fmt(r.get(c), 0 if "mib" in c else 1) for c in columns)
            + " |"
        )
    lines += ["", "## What is measured", ""] + NOTES
    return "\n".join(lines) + "\n"


NOTES = [
    "- **Models**: built from the recipe yamls by "
    "`benchmarks.recipe_models.build_model` (the `model` of "
    "`recipes/WSJ0Mix/separation/hparams/galr-small.yaml`, `dprnn.yaml` and "
    "`sepformer-small.yaml`, with `num_filters` (D), `window_length` (M), "
    "`segment_size` (K) and `reduced_segment_size` (Q) overridden): encoder "
    "`Encoder(M, D)`, decoder `Decoder(D, 1, M, stride=M//2, bias=False)`; "
    "GALR `GALR(D, D, 128, 6, 8, K, Q, 2)`; DPRNN `Dual_Path_Model` with "
    "Bi-LSTM `SBRNNBlock(D, 128)` intra and inter blocks, 6 layers, the "
    "linear layer after each; DP-Transformer (a small SepFormer) "
    "`Dual_Path_Model` with `SBTransformerBlock(1, D, 4 heads, d_ffn=4D, "
    "positional encoding, pre-norm)` intra and inter blocks, 6 layers "
    "(DPTNet-like: DPTNet's feed-forward is a Bi-LSTM).  All are a "
    "`speechbrain_galr.nnet.tasnet.TasNet`, the recipes' model.",
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


def _plot_panel(ax, rows, column, paper_column, labels):
    """One panel: ``column`` per configuration, a line per model and D,
    the paper's figures as open markers."""
    markers = {"GALR": "o", "DPRNN": "s", "DP-Transformer": "^"}
    for model, D in sorted({(r["model"], r["D"]) for r in rows}):
        mine = [r for r in rows if (r["model"], r["D"]) == (model, D)]
        points = [
            (labels.index((r["M"], r["K"])), r[column])
            for r in mine
            if r.get(column) is not None
        ]
        if not points:
            continue
        line = ax.plot(
            *zip(*points),
            marker=markers.get(model, "x"),
            linestyle="-" if D == 64 else "--",
            label=f"{model} D={D}",
        )[0]
        paper = [
            (labels.index((r["M"], r["K"])), r[paper_column])
            for r in mine
            if paper_column
            and r.get(paper_column)
            and r.get("paper_model") == model
        ]
        if paper:
            ax.plot(
                *zip(*paper),
                marker=markers.get(model, "x"),
                linestyle="none",
                markerfacecolor="none",
                color=line.get_color(),
                markersize=10,
            )


def plot(rows, path):
    """Cost against configuration: FLOPs, memory and times per model."""
    from matplotlib import ticker
    from matplotlib.figure import Figure

    labels = [
        (M, K)
        for M, K, _ in SEGMENTATIONS
        if any((r["M"], r["K"]) == (M, K) for r in rows)
    ]
    memory = "gpu" if any(r.get("gpu_name") for r in rows) else "cpu"
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
    fig = Figure(figsize=(11, 8))
    axes = fig.subplots(2, 2)
    for ax, (column, title, paper_column) in zip(axes.flat, panels):
        _plot_panel(ax, rows, column, paper_column, labels)
        ax.set_title(title)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels([f"M={M}, K={K}" for M, K in labels])
        ax.set_yscale("log")
        formatter = ticker.FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(formatter)
        ax.yaxis.set_minor_formatter(formatter)
        ax.grid(True, which="both", alpha=0.3)
    axes.flat[0].plot(
        [], [], "ko", markerfacecolor="none", label="paper (Table 3)"
    )
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("GALR (Q = 32, 16, 8) against dual-path baselines")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
