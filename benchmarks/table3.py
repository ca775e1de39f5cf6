"""Measuring Table 3 of the paper: the rows, and their cost on the CPU and
the GPU.

The measuring half of ``python -m benchmarks.benchmark`` (its report
is :mod:`benchmarks.report`): for each (model, D, M, K, Q)
row, parameters and FLOPs (:mod:`benchmarks.cost`), peak memory
(:mod:`benchmarks.peak_memory`) and time per second of audio of
inference and of a training step, the models of each segmentation timed
in turn.

Authors
 * speechbrain-galr contributors 2026
"""

import logging
import statistics

import torch
from tqdm import tqdm

from benchmarks import cost, peak_memory, recipe_models, report

logger = logging.getLogger(__name__)

MEMORY_PASSES = (("infer", 1), ("infer", 4), ("train", 1), ("train", 4))
# the rows of the GPU cost targets: D=64, M=16 for the three models, then the
# paper's best GALR and DPRNN at the same segmentation


def configurations(quick=False, d128_baselines=False):
    """The (model, D, M, K, Q) rows of Table 3 to measure.

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
    segmentations = report.SEGMENTATIONS[:1] if quick else report.SEGMENTATIONS
    rows = []
    for D in (64,) if quick else (64, 128):
        for M, K, Q in segmentations:
            rows.append(("GALR", D, M, K, Q))
            if D == 64 or d128_baselines:
                rows.append(("DPRNN", D, M, K, None))
                rows.append(("DP-Transformer", D, M, K, None))
    return rows


def row_overrides(row, extra):
    """The yaml overrides of a row: its D, M, K, Q, then ``extra``."""
    return {**recipe_models.table3_overrides(*report.config_key(row)), **extra}


def build_row_model(row, extra, device="cpu"):
    """The model of a row (seeded), on ``device``."""
    torch.manual_seed(0)
    return recipe_models.build_model(
        row["model"], **row_overrides(row, extra)
    ).to(device)


def measure_static(rows, extra):
    """Parameters and FLOPs of a 1 s input, in place."""
    for row in tqdm(rows, desc="params and FLOPs", leave=False):
        net = build_row_model(row, extra)
        row["params"] = cost.count_parameters(net)
        macs = cost.count_macs(net, seconds=1.0)
        row["gmacs_1s"] = macs / 1e9
        row["gflops_1s"] = 2 * macs / 1e9
        paper = report.PAPER_TABLE_3.get(report.config_key(row))
        if paper is not None:
            row["paper_model"], row["paper_params"] = paper[0], paper[1]
            row["paper_mib"], row["paper_gflops"] = paper[2], paper[3]


def measure_cpu_memory(rows, extra, threads, method, passes=MEMORY_PASSES):
    """CPU peak memory of every row, each model in its own subprocess."""
    for row in tqdm(rows, desc="CPU peak memory", leave=False):
        peaks = peak_memory.cpu_peak_memory(
            row["model"], row_overrides(row, extra), passes, threads, method
        )
        for name, mib in peaks.items():
            row[f"cpu_peak_mib_{name}"] = mib
        logger.info(
            "%s D=%d M=%d K=%d: CPU peak %s",
            *report.config_key(row)[:4],
            ", ".join(f"{k} {v:.0f} MiB" for k, v in peaks.items()),
        )


def _groups(rows):
    """Rows grouped by (D, M, K): the models compared with each other."""
    groups = {}
    for row in rows:
        groups.setdefault((row["D"], row["M"], row["K"]), []).append(row)
    return list(groups.values())


def _time_group(nets, mix, repeats):
    """Times of each net and mode, the nets in a rotating order."""
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
    return times


def measure_time(rows, extra, device, seconds, repeats, prefix):
    """Median time per second of audio of inference and of a training step.

    Within each (D, M, K) group the models run in turn, in a rotating
    order, ``repeats`` times, so that load from other processes hits them
    alike; each has one untimed pass of each mode first.  Rows get
    ``<prefix>_ms_per_s_<mode>`` (process CPU time on the CPU, synchronised
    wall time on the GPU) and, on the CPU, ``cpu_wall_ms_per_s_<mode>``.
    """
    for group in tqdm(_groups(rows), desc=f"{prefix} time", leave=False):
        nets = [build_row_model(row, extra, device) for row in group]
        mix = torch.randn(1, int(seconds * cost.SAMPLE_RATE), device=device)
        times = _time_group(nets, mix, repeats)
        for i, row in enumerate(group):
            for mode in ("infer", "train"):
                cpu = statistics.median(t[0] for t in times[(i, mode)])
                wall = statistics.median(t[1] for t in times[(i, mode)])
                if device != "cpu":
                    row[f"gpu_ms_per_s_{mode}"] = 1000 * wall / seconds
                else:
                    row[f"cpu_ms_per_s_{mode}"] = 1000 * cpu / seconds
                    row[f"cpu_wall_ms_per_s_{mode}"] = 1000 * wall / seconds
            logger.info(
                "%s D=%d M=%d K=%d on %s: %s",
                *report.config_key(row)[:4],
                device,
                ", ".join(
                    f"{k} {v:.1f}"
                    for k, v in row.items()
                    if k.startswith(f"{prefix}_") and "ms_per_s" in k
                ),
            )
        del nets
        if device != "cpu":
            torch.cuda.empty_cache()


def measure_gpu_memory(rows, extra, device, passes=MEMORY_PASSES):
    """GPU peak memory of every row (``torch.cuda.max_memory_allocated``)."""
    name = torch.cuda.get_device_name(device)
    for row in tqdm(rows, desc="GPU peak memory", leave=False):
        net = build_row_model(row, extra, device)
        peaks = peak_memory.peaks_of_passes(net, passes, device)
        for key, mib in peaks.items():
            row[f"gpu_peak_mib_{key}"] = mib
        row["gpu_name"] = name
        del net
        torch.cuda.empty_cache()
