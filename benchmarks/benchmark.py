"""The cost benchmark: GALR against DPRNN and a dual-path transformer.

Two measurements, one command:

* Table 3 of the paper:
  ``python -m benchmarks.benchmark --out DIR`` measures, for every
  configuration of Table 3 (D in {64, 128}; M, K, Q as in the table), the
  parameters, the FLOPs of a 1 s input at 8 kHz (ptflops), the peak memory
  of a forward pass and of a training step on 1 s and 4 s inputs (CPU, and
  GPU when there is one) and the time per second of audio of inference and
  of a training step, and writes ``DIR/cost.csv``, ``DIR/cost.md`` (the
  table with the ratios to DPRNN beside the paper's) and ``DIR/cost.png``.
  ``--quick`` measures one configuration per model (a smoke test).
* Training throughput on the GPU: ``... --throughput --out DIR`` times a
  training step of the recipes at the training batch (``--train-batch``
  mixtures of ``--train-seconds``) in fp32 and bf16, eager and compiled,
  and the peak memory of inference per second of audio, on the GPU
  (``--device cpu`` runs the same code on the CPU), and writes
  ``DIR/throughput.csv``, ``.md`` and ``.png``.

The models are the recipes' yamls (:func:`benchmarks.cost.
build_model`); ``--override KEY=VALUE`` changes a hyperparameter of all of
them.  What is counted and how is in :mod:`benchmarks.cost`,
:mod:`benchmarks.peak_memory`, :mod:`benchmarks.throughput`
and in the notes of the reports.

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import datetime
import logging
import os
import sys

import ruamel.yaml
import torch
from tqdm import tqdm

from benchmarks import (
    cost,
    peak_memory,
    recipe_models,
    report,
    table3,
    throughput,
    throughput_report,
)
from benchmarks.report import config_key
from speechbrain_galr.atomic_files import write_text_atomic

logger = logging.getLogger(__name__)

THROUGHPUT_ROWS = (
    ("GALR", 64, 16, 100, 32),
    ("DPRNN", 64, 16, 100, None),
    ("DP-Transformer", 64, 16, 100, None),
    ("GALR", 128, 4, 200, 8),
    ("DPRNN", 64, 4, 200, None),
)


def run_table3(args, settings):
    """Measures Table 3 and writes cost.csv, cost.md and cost.png."""
    method = (
        peak_memory.peak_rss_method()
        if args.memory_method == "auto"
        else args.memory_method
    )
    rows = [
        dict(zip(("model", "D", "M", "K", "Q"), key))
        for key in table3.configurations(args.quick, args.d128_baselines)
    ]
    logger.info("measuring %d models", len(rows))
    # --quick: the 1 s passes only
    passes = [p for p in table3.MEMORY_PASSES if not args.quick or p[1] == 1]
    extra = args.override
    table3.measure_static(rows, extra)
    table3.measure_cpu_memory(rows, extra, args.threads, method, passes)
    table3.measure_time(rows, extra, "cpu", args.seconds, args.repeats, "cpu")
    columns = list(report.CSV_COLUMNS)
    if torch.cuda.is_available() and not args.cpu_only:
        table3.measure_gpu_memory(rows, extra, "cuda", passes)
        table3.measure_time(
            rows, extra, "cuda", args.seconds, args.repeats, "gpu"
        )
        columns += report.GPU_COLUMNS
    else:
        logger.info("no GPU: CPU measurements only")
    settings.update(
        threads=args.threads,
        repeats=args.repeats,
        seconds=args.seconds,
        memory_method=method,
    )
    report.write_csv(rows, os.path.join(args.out, "cost.csv"), columns)
    path = os.path.join(args.out, "cost.md")
    write_text_atomic(path, report.markdown(rows, settings))
    report.plot(rows, os.path.join(args.out, "cost.png"))
    logger.info("wrote cost.csv, cost.md and cost.png in %s", args.out)
    for text, ok in report.targets(rows):
        logger.info("%s: %s", "met" if ok else "NOT met", text)
    return rows


# ------------------------------------------------------------ throughput


def run_throughput(args, settings):
    """Measures training throughput; writes throughput.csv, .md and .png.

    The files are rewritten after each measurement, so a run cut short
    keeps what it measured.
    """
    device = args.device
    keys = THROUGHPUT_ROWS[:3] if args.quick else THROUGHPUT_ROWS
    settings.update(
        device_name=(
            torch.cuda.get_device_name(device)
            if device != "cpu"
            else report.machine()
        ),
        batch=args.train_batch,
        seconds=args.train_seconds,
        steps=args.steps,
        warmup=args.warmup,
        backend=args.compile_backend,
        infer_seconds=args.infer_seconds,
    )
    rows = []
    for key in keys:
        row = dict(zip(("model", "D", "M", "K", "Q"), key))
        row.update(device=device, batch=args.train_batch)
        row.update(seconds=args.train_seconds)
        row["params"] = cost.count_parameters(
            table3.build_row_model(row, args.override)
        )
        rows.append(row)
    # every row eager first (with the inference memory), then compiled:
    # a run cut short by compilation time still has every eager figure
    passes = [(row, mode) for mode in args.compile_modes for row in rows]
    for row, mode in tqdm(passes, desc=f"throughput on {device}"):
        row.update(
            throughput.measure_model(
                row["model"],
                table3.row_overrides(row, args.override),
                device,
                batch=args.train_batch,
                seconds=args.train_seconds,
                steps=args.steps,
                warmup=args.warmup,
                infer_seconds=(
                    args.infer_seconds if mode == args.compile_modes[0] else 0
                ),
                precisions=args.precisions,
                compile_modes=(mode,),
                backend=args.compile_backend,
            )
        )
        logger.info(
            "%s D=%d M=%d: %s", *config_key(row)[:3], _step_summary(row)
        )
        _write_throughput(rows, settings, args.out)
    logger.info("wrote throughput.csv, .md and .png in %s", args.out)
    for text, ok in throughput_report.targets(rows):
        logger.info("%s: %s", "met" if ok else "NOT met", text)
    return rows


def _write_throughput(rows, settings, out):
    """throughput.csv, .md and .png of the rows measured so far."""
    path = os.path.join(out, "throughput")
    report.write_csv(rows, path + ".csv", throughput_report.COLUMNS)
    text = throughput_report.markdown(rows, settings)
    write_text_atomic(path + ".md", text)
    throughput_report.plot(rows, path + ".png")


def _step_summary(row):
    return ", ".join(
        f"{c[8:]} {row[c]:.1f} ms"
        for c in throughput_report.STEP_COLUMNS
        if row.get(c) is not None
    )


# ------------------------------------------------------------ main


def _override(text):
    """``KEY=VALUE`` to ``(key, value)``, the value read as yaml."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, ruamel.yaml.YAML(typ="safe").load(value)


def _names(choices):
    def parse(text):
        names = tuple(text.split(","))
        if not set(names) <= set(choices):
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}"
            )
        return names

    return parse


def build_parser():
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.benchmark",
        description=__doc__.split("\n\n")[0],
    )
    add = parser.add_argument
    add("--out", required=True, help="output folder")
    add(
        "--quick",
        action="store_true",
        help="D=64, M=16, K=100, Q=32 only, one row per model (and for "
        "Table 3, memory of 1 s passes only)",
    )
    add(
        "--override",
        type=_override,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a yaml hyperparameter of every model, e.g. num_blocks=1 "
        "(repeatable)",
    )
    _add_table3_options(parser.add_argument_group("Table 3 (the default)"))
    _add_throughput_options(
        parser.add_argument_group("training throughput (--throughput)")
    )
    return parser


def _add_table3_options(group):
    """Options of the Table 3 measurement."""
    group.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the least noisy on a shared "
        "machine)",
    )
    group.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timed runs per model and mode (default 5, 3 with --quick)",
    )
    group.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="input duration of the timed runs (default 1)",
    )
    group.add_argument(
        "--d128-baselines",
        action="store_true",
        help="also DPRNN and the transformer at D=128 (Table 3 has them at "
        "D=64 only; this adds about 60 %% to the run time)",
    )
    group.add_argument("--cpu-only", action="store_true", help="ignore any GPU")
    group.add_argument(
        "--memory-method",
        choices=("auto", "vmhwm", "sampled"),
        default="auto",
        help="how CPU peak memory is read (see benchmarks.peak_memory)",
    )


def _add_throughput_options(group):
    """Options of the training-throughput measurement."""
    group.add_argument(
        "--throughput",
        action="store_true",
        help="measure training throughput instead of Table 3",
    )
    group.add_argument(
        "--device",
        default="auto",
        help="cuda, cuda:N or cpu (default: cuda where there is one)",
    )
    group.add_argument(
        "--train-batch",
        type=int,
        default=4,
        help="mixtures per training batch (default 4)",
    )
    group.add_argument(
        "--train-seconds",
        type=float,
        default=4.0,
        help="seconds per training mixture (default 4: the recipes' crops)",
    )
    group.add_argument(
        "--steps", type=int, default=15, help="timed steps (default 15)"
    )
    group.add_argument(
        "--warmup", type=int, default=3, help="untimed steps (default 3)"
    )
    group.add_argument(
        "--infer-seconds",
        type=float,
        default=60.0,
        help="input of the inference memory measurement (0: none)",
    )
    group.add_argument(
        "--precisions",
        type=_names(throughput.PRECISIONS),
        default=throughput.PRECISIONS,
        help="comma-separated (default fp32,bf16)",
    )
    group.add_argument(
        "--compile-modes",
        type=_names(throughput.COMPILE_MODES),
        default=throughput.COMPILE_MODES,
        help="comma-separated (default eager,compiled)",
    )
    group.add_argument(
        "--compile-backend",
        default="inductor",
        help="torch.compile backend (eager: dynamo tracing only, for tests)",
    )


def check_args(args):
    """Raises a one-line ValueError for impossible settings; fills in the
    defaults that depend on others."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise NotADirectoryError(f"--out {args.out} is a file, not a folder")
    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    args.repeats = args.repeats or (3 if args.quick else 5)
    if args.repeats < 1 or args.seconds <= 0:
        raise ValueError("--repeats must be >= 1 and --seconds > 0")
    if min(args.train_batch, args.steps) < 1 or args.warmup < 0:
        raise ValueError("--train-batch and --steps >= 1, --warmup >= 0")
    if args.train_seconds <= 0 or args.infer_seconds < 0:
        raise ValueError("--train-seconds > 0 and --infer-seconds >= 0")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {args.device}: no CUDA GPU here")
    if args.device != "cpu" and not args.device.startswith("cuda"):
        raise ValueError(f"--device must be cpu or cuda[:N], not {args.device}")
    args.override = dict(args.override)
    per_row = sorted(
        set(args.override)
        & set(recipe_models.table3_overrides("GALR", *[1] * 4))
    )
    if per_row:
        raise ValueError(f"--override {', '.join(per_row)}: set by each row")
    for name in recipe_models.MODELS:
        try:
            recipe_models.load_hparams(name, **args.override)
        except ValueError:
            raise
        except Exception as error:
            raise ValueError(
                f"--override: {name} cannot be built ({error})"
            ) from error


def run(args):
    """Measures Table 3 or the training throughput; returns the rows."""
    check_args(args)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    argv = getattr(args, "argv", [])
    settings = dict(
        command="python -m benchmarks.benchmark " + " ".join(argv),
        date=datetime.date.today().isoformat(),
    )
    if args.throughput:
        return run_throughput(args, settings)
    return run_table3(args, settings)


def main(argv=None):
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        check_args(args)
    except (ValueError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    run(args)


if __name__ == "__main__":
    main()
