#!/usr/bin/env python3
"""Equal-budget quality study of separation models on held-out speakers.

Trains a list of configurations of the WSJ0Mix recipe
(``recipes/WSJ0Mix/separation/train.py``) one after another, never two at
once, each for the same wall-clock training budget (``max_train_minutes``)
on the same data: training mixtures made on the fly (dynamic mixing) from
the training speakers of a ``<speaker>/<file>`` folder, fixed validation
and test mixtures of held-out speakers made once by
:func:`speechbrain_galr.data.mixing.create_mixtures`.  The recipe tests each
run's
best checkpoint on the test speakers; this tool gathers the results in a
table (``<results>.md``, ``<results>.csv``) and draws the validation curves
(``<results>.png``)::

    python tools/quality_study.py ../shared/data/speech/librispeech-251 \\
        study --max_train_minutes 18 \\
        galr-segment:galr-small.yaml:local_norm=segment,global_norm=segment \\
        dprnn:dprnn.yaml

A configuration is ``NAME:HPARAMS[:KEY=VALUE,...]``: HPARAMS is a file of
the recipe's ``hparams/`` folder (or a path), KEY=VALUE are overrides of
it.  ``--set KEY=VALUE`` overrides every configuration.  Each run lives in
``<out>/runs/<NAME>`` (its output folder, log in ``<out>/logs/<NAME>.txt``);
a run that already has ``test_results.csv`` is not run again, so a
stopped study goes on where it stopped.

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_galr.atomic_files import (  # noqa: E402
    atomic_path,
    atomic_write,
    write_text_atomic,
)

RECIPE = os.path.join(REPO, "recipes", "WSJ0Mix", "separation")
TABLE_COLUMNS = [
    "config",
    "params",
    "device",
    "budget_min",
    "epochs",
    "steps",
    "seconds_per_step",
    "load_1min",
    "best_valid_si-snr",
    "test_si-snri",
    "test_sdri",
]
"""Columns of ``<results>.csv`` (the markdown table has the same ones)."""

# the recipe's dynamic-mixing options, by role; the first name that the
# hparams file has is used (SpeechBrain's names, then the older ones)
DM_OPTIONS = {
    "folder": ("base_folder_dm", "dm_folder"),
    "speakers": ("dm_speakers",),
    "mixtures": ("dm_mixtures_per_epoch",),
}


@dataclass
class Config:
    """One configuration of the study: a name, an hparams file of the
    recipe and its overrides (``{key: value}`` strings)."""

    name: str
    hparams: str
    overrides: dict = field(default_factory=dict)


def parse_overrides(text):
    """``"a=1,b=x"`` -> ``{"a": "1", "b": "x"}``; ``""`` -> ``{}``.

    Example
    -------
    >>> parse_overrides("local_norm=utterance,num_blocks=2")
    {'local_norm': 'utterance', 'num_blocks': '2'}
    """
    overrides = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            raise ValueError(f"override {item!r} is not KEY=VALUE")
        overrides[key.strip()] = value.strip()
    return overrides


def parse_config(text):
    """A :class:`Config` from ``NAME:HPARAMS[:KEY=VALUE,...]``.

    Example
    -------
    >>> parse_config("galr:galr-small.yaml:local_norm=utterance")
    Config(name='galr', hparams='galr-small.yaml', overrides={'local_norm': \
'utterance'})
    """
    name, _, rest = text.partition(":")
    hparams, _, overrides = rest.partition(":")
    if not re.fullmatch(r"[\w.+-]+", name) or not hparams:
        raise ValueError(
            f"configuration {text!r} is not NAME:HPARAMS[:KEY=VALUE,...] "
            "(NAME of letters, digits, '.', '_', '+', '-')"
        )
    path = hparams
    if not os.path.isfile(path):
        path = os.path.join(RECIPE, "hparams", hparams)
    if not os.path.isfile(path):
        raise ValueError(f"configuration {name}: no hparams file {hparams}")
    return Config(name, os.path.abspath(path), parse_overrides(overrides))


def make_heldout_corpus(speaker_folder, corpus_folder, args):
    """Fixed validation and test mixtures of held-out speakers (made once;
    an existing complete corpus is reused), and the training speakers'
    list for dynamic mixing.

    Returns
    -------
    str
        The file listing the training speakers.
    """
    from speechbrain_galr.data.corpus import split_speakers
    from speechbrain_galr.data.mixing import create_mixtures

    root = os.path.join(corpus_folder, "wav8k", "min")
    splits = {
        "cv": (args.num_valid, args.valid_seconds),
        "tt": (args.num_test, None),
    }
    speakers = split_speakers(
        speaker_folder, args.num_valid_speakers, args.num_test_speakers
    )
    for split, (count, max_seconds) in splits.items():
        folder = os.path.join(root, split, "mix")
        if os.path.isdir(folder) and len(os.listdir(folder)) == count:
            print(f"reusing the {count} {split} mixtures of {corpus_folder}")
            continue
        create_mixtures(
            speaker_folder,
            corpus_folder,
            {split: count},
            speakers={split: speakers[split]},
            max_seconds=max_seconds,
            seed=args.seed,
        )
    speaker_list = os.path.join(corpus_folder, "speakers_tr.txt")
    write_text_atomic(speaker_list, "".join(f"{s}\n" for s in speakers["tr"]))
    print(
        f"speakers: {len(speakers['tr'])} training (dynamic mixing), "
        f"{len(speakers['cv'])} validation ({args.num_valid} mixtures), "
        f"{len(speakers['tt'])} test ({args.num_test} mixtures)"
    )
    return speaker_list


def _top_level_keys(hparams_path):
    with open(hparams_path, encoding="utf-8") as f:
        return set(re.findall(r"^([A-Za-z_]\w*):", f.read(), re.MULTILINE))


def train_command(config, args, corpus_folder, speaker_list, run_folder):
    """The ``train.py`` command line of one configuration."""
    keys = _top_level_keys(config.hparams)
    dm = {}
    for role, names in DM_OPTIONS.items():
        found = [name for name in names if name in keys]
        if not found:
            raise ValueError(
                f"{config.hparams} has none of {names}: not a dynamic-mixing "
                "WSJ0Mix hparams file"
            )
        dm[role] = found[0]
    options = {
        "data_folder": corpus_folder,
        "output_folder": run_folder,
        "dynamic_mixing": "True",
        dm["folder"]: os.path.abspath(args.speaker_folder),
        dm["speakers"]: speaker_list,
        dm["mixtures"]: str(args.mixtures_per_epoch),
        "max_train_minutes": str(args.max_train_minutes),
        "num_threads": "1",
        "num_workers": "0",
        **args.set,
        **config.overrides,
    }
    command = [sys.executable, "train.py", config.hparams, "--noprogressbar"]
    command += ["--device", args.device]
    for key, value in options.items():
        command += [f"--{key}", value]
    return command


def _read_csv(path):
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_config(command, run_folder, log_path):
    """Runs ``train.py`` and prints each epoch as it ends.

    Returns
    -------
    list of float
        The 1-minute load average, sampled every few seconds.
    """
    loads, printed = [], 0
    curves = os.path.join(run_folder, "curves.csv")
    with open(log_path, "a", encoding="utf-8") as log:
        # the recipe runs the code of this checkout, installed or not
        path = os.environ.get("PYTHONPATH")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [REPO, path])),
        }
        proc = subprocess.Popen(
            command,
            cwd=RECIPE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while True:
            finished = proc.poll() is not None
            loads.append(os.getloadavg()[0])
            rows = _read_csv(curves)
            for row in rows[printed:]:
                print(
                    f"  epoch {row['epoch']}: {row['optimizer_steps']} steps"
                    f", {float(row['train_minutes']):.1f} min, valid "
                    f"SI-SNR {float(row['valid_si-snr']):.2f} dB",
                    flush=True,
                )
            printed = len(rows)
            if finished:
                break
            time.sleep(5)
    if proc.returncode != 0:
        raise RuntimeError(
            f"train.py exited with {proc.returncode}, see {log_path}"
        )
    return loads


def count_parameters(run_folder):
    """Trainable parameters of the modules of a run's ``hyperparams.yaml``."""
    from hyperpyyaml import load_hyperpyyaml

    with open(os.path.join(run_folder, "hyperparams.yaml")) as f:
        hparams = load_hyperpyyaml(f)
    params = {
        id(p): p.numel()
        for module in hparams["modules"].values()
        for p in module.parameters()
        if p.requires_grad
    }
    return sum(params.values())


def describe_device(device, threads):
    """``cpu, 1 thread`` or the GPU's name."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return f"{device}, {threads} thread" + ("s" if threads != "1" else "")


def summarize_run(config, run_folder, args, facts_path):
    """The table row of a finished run (``facts_path``: its JSON of
    ``params`` and ``load_1min``, written when it ran)."""
    curves = _read_csv(os.path.join(run_folder, "curves.csv"))
    tests = _read_csv(os.path.join(run_folder, "test_results.csv"))
    if not curves or not tests or tests[-1]["snt_id"] != "avg":
        raise RuntimeError(f"{run_folder}: no curves or test results")
    last, avg = curves[-1], tests[-1]
    steps = int(last["optimizer_steps"])
    valid = [float(row["valid_si-snr"]) for row in curves]
    threads = {**args.set, **config.overrides}.get("num_threads", "1")
    with open(facts_path) as f:
        facts = json.load(f)
    return {
        "config": config.name,
        "params": facts["params"],
        "device": describe_device(args.device, threads),
        "budget_min": f"{args.max_train_minutes:g}",
        "epochs": last["epoch"],
        "steps": steps,
        "seconds_per_step": f"{60 * float(last['train_minutes']) / steps:.2f}",
        "load_1min": f"{facts['load_1min']:.1f}",
        "best_valid_si-snr": f"{max(valid):.2f}",
        "test_si-snri": f"{float(avg['si-snr_i']):.2f}",
        "test_sdri": f"{float(avg['sdr_i']):.2f}",
    }


def write_results(rows, curves, results):
    """``<results>.csv``, ``<results>.md`` and ``<results>.png``."""
    from speechbrain_galr.training.plotting import plot_training_curves

    with atomic_write(results + ".csv", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |"]
    lines.append("|" + " --- |" * len(TABLE_COLUMNS))
    for row in rows:
        cells = {**row, "params": f"{row['params'] / 1e6:.2f}M"}
        lines.append("| " + " | ".join(str(cells[c]) for c in TABLE_COLUMNS))
        lines[-1] += " |"
    write_text_atomic(results + ".md", "\n".join(lines) + "\n")
    with atomic_path(results + ".png") as tmp:
        plot_training_curves(curves, tmp)


def _key_value(text):
    try:
        return parse_overrides(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Configurations: NAME:HPARAMS[:KEY=VALUE,...]",
    )
    parser.add_argument("speaker_folder", help="folder of <speaker>/<file>")
    parser.add_argument("out", help="study folder (corpus, runs, logs)")
    parser.add_argument("configs", nargs="+", help="NAME:HPARAMS[:K=V,...]")
    parser.add_argument("--max_train_minutes", type=float, required=True)
    parser.add_argument(
        "--results", help="results path prefix (default <out>/study)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--mixtures_per_epoch", type=int, default=100)
    parser.add_argument("--num_valid_speakers", type=int, default=20)
    parser.add_argument("--num_test_speakers", type=int, default=20)
    parser.add_argument("--num_valid", type=int, default=20)
    parser.add_argument("--num_test", type=int, default=100)
    parser.add_argument("--valid_seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--set",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE[,...]",
        help="overrides of every configuration",
    )
    args = parser.parse_args(argv)
    args.set = {k: v for item in args.set for k, v in item.items()}
    if args.max_train_minutes <= 0:
        parser.error("--max_train_minutes must be positive")
    if not os.path.isdir(args.speaker_folder):
        parser.error(f"speaker folder not found: {args.speaker_folder}")
    try:
        args.configs = [parse_config(text) for text in args.configs]
    except ValueError as error:
        parser.error(str(error))
    names = [config.name for config in args.configs]
    if len(set(names)) != len(names):
        parser.error(f"configuration names repeat: {names}")
    args.out = os.path.abspath(args.out)
    args.results = os.path.abspath(
        args.results or os.path.join(args.out, "study")
    )
    return args


def main(argv=None):
    """Command line: see the module docstring."""
    args = parse_args(argv)
    for sub in ("runs", "logs"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    corpus = os.path.join(args.out, "corpus")
    try:
        speaker_list = make_heldout_corpus(args.speaker_folder, corpus, args)
    except (OSError, ValueError) as error:
        sys.exit(f"error: {error}")
    rows, curves = [], {}
    for index, config in enumerate(args.configs, 1):
        run_folder = os.path.join(args.out, "runs", config.name)
        log_path = os.path.join(args.out, "logs", config.name + ".txt")
        # facts counted with the code the run used (a later checkout may
        # no longer build an older run's hyperparams.yaml)
        facts_path = os.path.join(args.out, "logs", config.name + ".json")
        head = f"[{index}/{len(args.configs)}] {config.name}"
        if os.path.isfile(os.path.join(run_folder, "test_results.csv")):
            print(f"{head}: done already, reusing {run_folder}")
        else:
            print(
                f"{head}: training {args.max_train_minutes:g} min, then "
                f"testing (log: {log_path})",
                flush=True,
            )
            start = time.time()
            try:
                command = train_command(
                    config, args, corpus, speaker_list, run_folder
                )
                loads = run_config(command, run_folder, log_path)
            except (RuntimeError, ValueError) as error:
                sys.exit(f"error: {config.name}: {error}")
            print(f"  done in {(time.time() - start) / 60:.1f} min")
            facts = {
                "params": count_parameters(run_folder),
                "load_1min": sum(loads) / len(loads),
            }
            write_text_atomic(facts_path, json.dumps(facts) + "\n")
        rows.append(summarize_run(config, run_folder, args, facts_path))
        curves[config.name] = os.path.join(run_folder, "curves.csv")
        write_results(rows, curves, args.results)
        print("  " + ", ".join(f"{k} {v}" for k, v in rows[-1].items()))
    print(f"results: {args.results}.md .csv .png")


if __name__ == "__main__":
    main()
