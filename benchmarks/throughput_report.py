"""The report of the training-throughput benchmark: CSV, Markdown, PNG.

What ``python -m benchmarks.benchmark --throughput`` measured
(:mod:`benchmarks.throughput`), written out: one CSV row per model
and configuration, a Markdown table (ms per training step and x real time
in fp32 and bf16, eager and compiled, ratios to DPRNN in eager fp32,
inference memory per second of audio), the GPU cost targets checked,
and a figure.

Authors
 * speechbrain-galr contributors 2026
"""

from benchmarks.report import (
    config_key,
    fmt,
    reference_row,
    settings_lines,
)
from benchmarks.throughput import COMPILE_MODES, PRECISIONS
from speechbrain_galr.atomic_files import atomic_path

MODES = [(p, m) for p in PRECISIONS for m in COMPILE_MODES]
STEP_COLUMNS = [f"step_ms_{p}_{m}" for p, m in MODES]
COLUMNS = (
    ["model", "D", "M", "K", "Q", "params", "device", "batch", "seconds"]
    + STEP_COLUMNS
    + [f"xrt_{p}_{m}" for p, m in MODES]
    + [f"compile_{p}" for p in PRECISIONS]
    + [f"infer_mib_per_s_{p}" for p in PRECISIONS]
)
# DPRNN as users run it today: SpeechBrain's Dual_Path_Model, eager fp32
BASELINE = "step_ms_fp32_eager"


def best_mode(row):
    """``(ms, "precision mode")`` of the fastest step measured, or None.

    Example
    -------
    >>> best_mode({"step_ms_fp32_eager": 9.0, "step_ms_bf16_compiled": 4.0})
    (4.0, 'bf16 compiled')
    """
    measured = [
        (row[f"step_ms_{p}_{m}"], f"{p} {m}")
        for p, m in MODES
        if row.get(f"step_ms_{p}_{m}") is not None
    ]
    return min(measured) if measured else None


def _find(rows, key):
    return next((r for r in rows if config_key(r) == key), None)


def _speedup_checks(galr):
    """bf16 against fp32 steps of one GALR row (>= 1.5 x faster)."""
    checks = []
    for mode in COMPILE_MODES:
        fp32 = galr.get(f"step_ms_fp32_{mode}")
        bf16 = galr.get(f"step_ms_bf16_{mode}")
        if fp32 and bf16:
            speedup = fp32 / bf16
            checks.append(
                (
                    f"GALR D={galr['D']}, M={galr['M']}, {mode}: bf16 step "
                    f"{speedup:.2f} x faster than fp32 (>= 1.5)",
                    speedup >= 1.5,
                )
            )
    return checks


def targets(rows):
    """The GPU cost targets, checked on what was measured.

    GALR in its best mode against DPRNN (D=64, same M, K) in eager fp32, at
    D=64, M=16 and for the paper's best GALR (D=128, M=4, K=200, Q=8)
    against DPRNN at M=4 (<= 0.5); GALR's bf16 step against its fp32 step
    (>= 1.5 x faster).  DPRNN's own best mode is reported beside.

    Returns
    -------
    list of (str, bool)
    """
    checks = []
    for key in (("GALR", 64, 16, 100, 32), ("GALR", 128, 4, 200, 8)):
        galr = _find(rows, key)
        if galr is None:
            continue
        best = best_mode(galr)
        dprnn = reference_row(rows, galr)
        if best and dprnn and dprnn.get(BASELINE):
            value = best[0] / dprnn[BASELINE]
            dprnn_best = best_mode(dprnn)
            checks.append(
                (
                    f"GALR D={key[1]}, M={key[2]} ({best[1]}) / DPRNN D=64, "
                    f"M={key[2]} (fp32 eager) {value:.3f} <= 0.5; against "
                    f"DPRNN's best ({dprnn_best[1]}): "
                    f"{best[0] / dprnn_best[0]:.3f}",
                    value <= 0.5,
                )
            )
        checks += _speedup_checks(galr)
    return checks


def _table_row(rows, r):
    best = best_mode(r)
    ref = reference_row(rows, r)
    to_baseline = None
    if best and ref and ref.get(BASELINE):
        to_baseline = best[0] / ref[BASELINE]
    cells = [r["model"], str(r["D"]), str(r["M"]), str(r["K"])]
    cells += [str(r["Q"] or "-")]
    cells += [fmt(r.get(c), 1) for c in STEP_COLUMNS]
    cells += [
        best[1] if best else "-",
        fmt(to_baseline, 3),
        fmt(r.get("xrt_" + best[1].replace(" ", "_")) if best else None, 1),
        fmt(r.get("infer_mib_per_s_fp32"), 1),
        fmt(r.get("infer_mib_per_s_bf16"), 1),
        " / ".join(fmt(r.get(f"compile_{p}")) for p in PRECISIONS),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown(rows, settings):
    """The report: settings, the table, the GPU cost targets, notes."""
    lines = settings_lines(
        settings, "Training throughput of GALR and dual-path baselines"
    ) + [
        f"- device: {settings['device_name']}",
        f"- training batch: {settings['batch']} x {settings['seconds']:g} s; "
        f"mean of {settings['steps']} steps after {settings['warmup']} "
        f"warm-up steps; torch.compile backend {settings['backend']}",
        f"- inference memory: one {settings['infer_seconds']:g} s input",
        "",
        "## Training step",
        "",
        "Milliseconds per training step in each precision and mode; best: "
        "the fastest of them, its ratio to DPRNN (D=64, same M and K) in "
        "eager fp32, as SpeechBrain's DPRNN is run today, and its x real "
        "time (seconds of audio trained on per second).  Inference: peak "
        "memory per second of audio (eager).  Compiled as: fp32 / bf16.",
        "",
        "| model | D | M | K | Q | "
        + " | ".join(f"{p} {m} ms" for p, m in MODES)
        + " | best | best / DPRNN fp32 eager | best x real time | "
        "infer MiB/s fp32 | infer MiB/s bf16 | compiled as |",
        "|---|---|---|---|---|" + "---|" * (len(MODES) + 6),
    ]
    lines += [_table_row(rows, r) for r in rows]
    checks = targets(rows)
    if checks:
        lines += ["", "## Targets: GALR against DPRNN (Table 3 cost)", ""]
        lines += [f"- {'met' if ok else 'NOT met'}: {t}" for t, ok in checks]
    lines += ["", "## What is measured", ""] + NOTES
    return "\n".join(lines) + "\n"


NOTES = [
    "- **Models**: the `model` of the recipe yamls "
    "(`benchmarks.recipe_models.build_model`: galr-small.yaml, "
    "dprnn.yaml, sepformer-small.yaml with D, M, K, Q overridden).",
    "- **Training step** (`benchmarks.throughput.TrainStep`), as "
    "`SeparationBrain` does it: forward (under `torch.autocast` for "
    "bf16), SpeechBrain's PIT SI-SNR loss, backward, gradient clipping to "
    "the yaml's `max_grad_norm`, a step of the yaml's optimizer (Adam); "
    "random mixtures and targets (the cost does not depend on values).  "
    "Time: wall clock over the timed steps between synchronisations.",
    "- **Compiled**: `torch.compile(model, fullgraph=True)` with dynamo "
    "tracing into `nn.LSTM` (`allow_rnn=True`: without it each LSTM of "
    "GALR and DPRNN is a graph break) where it compiles so (`fullgraph`), "
    "else `torch.compile(model)` (`graph breaks`); the loss and the "
    "optimizer run eagerly.  The first compiled step (compilation) is not "
    "timed.",
    "- **Inference memory**: eager, no gradients; the peak above the "
    "memory held before the pass (weights excluded), per second of the "
    "input: `torch.cuda.max_memory_allocated` on a GPU, the peak resident "
    "set on the CPU (see `benchmarks.peak_memory`).",
]


def plot(rows, path):
    """Ms per training step per mode, and inference MiB per second."""
    from matplotlib import ticker
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5))
    steps, memory = fig.subplots(1, 2, width_ratios=(2, 1))
    labels = [f"{r['model']}\nD={r['D']} M={r['M']}" for r in rows]
    modes = [
        (p, m) for p, m in MODES if any(r.get(f"step_ms_{p}_{m}") for r in rows)
    ]
    width = 0.8 / max(1, len(modes))
    for i, (p, m) in enumerate(modes):
        x = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(rows))]
        y = [r.get(f"step_ms_{p}_{m}") or 0 for r in rows]
        steps.bar(x, y, width, label=f"{p} {m}")
    steps.set_ylabel("ms per training step (lower is faster)")
    steps.set_yscale("log")
    formatter = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    steps.yaxis.set_major_formatter(formatter)
    steps.yaxis.set_minor_formatter(formatter)
    steps.legend(fontsize=8)
    width = 0.8 / len(PRECISIONS)
    for i, p in enumerate(PRECISIONS):
        x = [j + (i - 0.5) * width for j in range(len(rows))]
        y = [r.get(f"infer_mib_per_s_{p}") or 0 for r in rows]
        memory.bar(x, y, width, label=p)
    memory.set_ylabel("inference peak MiB per s of audio")
    memory.legend(fontsize=8)
    for ax in (steps, memory):
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    batch = rows[0].get("batch") if rows else ""
    seconds = rows[0].get("seconds") if rows else ""
    device = rows[0].get("device") if rows else ""
    fig.suptitle(
        f"Training step at batch {batch} x {seconds} s and inference "
        f"memory on {device}"
    )
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
