#!/usr/bin/env python3
"""Peak memory, wall time and quality of separating long recordings.

**Cost** (default): builds two-speaker mixtures of the requested lengths
from real speech (utterances of the speech folder concatenated per speaker,
written to ``--work``, outside the repository), exports a GALR of the
galr-small size (D=64, M=16, K=100, Q=32; untrained weights, which cost the
same) as a model folder, and separates each mixture with the command line,
``python -m speechbrain_galr separate``, once per ``--precisions`` entry,
each run in its own process with ``--threads`` torch threads.  For each run
it reports the separation's wall time (the command's own ``done in``), the
speed as a multiple of real time, the process's peak resident memory and
CPU time (user + system, all threads, the whole process) and the load
average of the machine.  Prints a Markdown table and writes
``results.json`` and ``results.png`` to ``--work``::

    .venv/bin/python tools/measure_inference.py --data ../shared/data \\
        --minutes 1 10 --threads 2 --precisions fp32 bf16

**Quality** (``--quality MODEL_DIR``, a trained, exported model): SI-SNRi
of ``--quality-n`` mixtures of two test speakers (the last 20 of the speech
folder in numeric order: held out by the recipes' split; each source one
speaker's utterance repeated to ``--quality-seconds``), separated whole and
in chunks; with ``--precision bf16`` (or fp16) also the chunked separation
in that precision against fp32, mean and worst difference::

    .venv/bin/python tools/measure_inference.py --data ../shared/data \\
        --quality MODEL_DIR --precision bf16 --quality-n 20

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

from speechbrain_galr.atomic_files import atomic_path, write_text_atomic
from speechbrain_galr.audio import read_audio

SAMPLE_RATE = 8000
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def speech_files(data):
    """The speech utterances of the data folder, sorted by speaker."""
    root = os.path.join(data, "speech", "librispeech-251")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"speech folder not found: {root}")
    files = []
    for speaker in sorted(os.listdir(root)):
        folder = os.path.join(root, speaker)
        files += [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
    return files


def test_speakers(data, num_valid=20, num_test=20):
    """The test speakers of the recipes' split of the speech folder (the
    last ``num_test`` in numeric order: ``speechbrain_galr.data.corpus``'s
    ``split_speakers``, as ``tools/quality_study.py`` makes them), so that
    a model trained on the training speakers has never heard them."""
    from speechbrain_galr.data.corpus import split_speakers

    root = os.path.join(data, "speech", "librispeech-251")
    return split_speakers(root, num_valid, num_test)["tt"]


def speaker_streams(files, seconds, count, seed=0):
    """``count`` pairs of streams of ``seconds``: each stream concatenates
    utterances drawn at random from its half of ``files`` (even and odd
    positions, so the two streams of a pair never share a speaker when
    ``files`` holds one utterance per speaker), normalised to unit power
    and scaled by 0.05."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SAMPLE_RATE)
    halves = (files[0::2], files[1::2])
    pairs = []
    for _ in range(count):
        pair = []
        for half in halves:
            pieces, length = [], 0
            while length < total:
                path = half[rng.integers(len(half))]
                signal = read_audio(path, SAMPLE_RATE).numpy()
                pieces.append(signal / (np.std(signal) + 1e-8))
                length += len(signal)
            pair.append(np.concatenate(pieces)[:total])
        pairs.append(0.05 * np.stack(pair, axis=-1))
    return pairs


def speaker_pairs(files, seconds, count, seed=0):
    """``count`` two-speaker pairs of sources of ``seconds``, for quality:
    two different speakers' files drawn at random, each source one file
    repeated to the length (one speaker per source, as in the training
    mixtures: a source that changes speaker makes a permutation-invariant
    score meaningless), normalised to unit power, scaled by 0.05."""
    rng = np.random.default_rng(seed)
    total = int(seconds * SAMPLE_RATE)
    pairs = []
    for _ in range(count):
        pair = []
        for path in rng.choice(files, size=2, replace=False):
            signal = read_audio(path, SAMPLE_RATE).numpy()
            signal = np.tile(signal, -(-total // len(signal)))[:total]
            pair.append(signal / (np.std(signal) + 1e-8))
        pairs.append(0.05 * np.stack(pair, axis=-1))
    return pairs


def write_mixture(files, minutes, path):
    """Writes a two-speaker mixture of ``minutes`` (16-bit PCM)."""
    (pair,) = speaker_streams(files, minutes * 60, 1)
    # atomic: a killed run leaves no partial mixture for the next to reuse
    with atomic_path(path) as temp:
        sf.write(temp, pair.sum(-1), SAMPLE_RATE, "PCM_16", format="WAV")
    return path


def export_galr_small(work):
    """Exports an untrained galr-small as a model folder."""
    import torch
    from hyperpyyaml import load_hyperpyyaml, resolve_references
    from speechbrain.utils.checkpoints import Checkpointer

    import speechbrain_galr
    from speechbrain_galr.export.folder import export_model

    recipe = os.path.join(work, "recipe")
    dest = os.path.join(work, "galr-small")
    if os.path.isdir(dest):
        return dest
    os.makedirs(recipe, exist_ok=True)
    yaml_path = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
    # galr-model.yaml is galr-small: D=64, M=16, K=100, Q=32
    with open(yaml_path) as fin:
        text = fin.read()
    write_text_atomic(
        os.path.join(recipe, "hyperparams.yaml"),
        resolve_references(text).getvalue(),
    )
    torch.manual_seed(0)
    hparams = load_hyperpyyaml(text)
    saver = Checkpointer(
        os.path.join(recipe, "save"),
        {n: hparams[n] for n in ("encoder", "masknet", "decoder")},
    )
    saver.save_checkpoint(meta={"si-snr": 0.0})
    return export_model(
        recipe, dest, training_data="untrained (cost measurement)"
    )


def run_cli(mixture, model, out, precision, threads, extra=()):
    """Separates ``mixture`` with the command line in a new process;
    returns its costs."""
    env = dict(os.environ, PYTHONPATH=REPO)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    command = [sys.executable, "-m", "speechbrain_galr", "separate", mixture]
    command += ["--model", model, "--out", out, "--precision", precision]
    command += ["--quiet", "--overwrite", *extra]
    load_before = os.getloadavg()[0]
    start = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        # wait4 gives the child's own peak memory and CPU time
        _, status, usage = os.wait4(process.pid, 0)
        stdout, stderr = (f.seek(0) or f.read().decode() for f in (out, err))
    if status != 0:
        sys.exit(f"separate failed:\n{stderr}")
    done = re.search(r"done in ([0-9.]+) s", stderr)
    return {
        "precision": precision,
        "audio_s": sf.info(mixture).duration,
        "wall_s": float(done.group(1)),
        "process_s": time.time() - start,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_mib": usage.ru_maxrss / 1024,
        "load_avg": [load_before, os.getloadavg()[0]],
        "threads": threads,
        "outputs": stdout.split(),
    }


def cost(args):
    """The cost table: every length, every precision, in one run."""
    os.makedirs(args.work, exist_ok=True)
    model = export_galr_small(args.work)
    files = speech_files(args.data)
    extra = []
    for flag in ("chunk_seconds", "overlap_seconds"):
        if getattr(args, flag) is not None:
            extra += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    results = []
    for minutes in args.minutes:
        mix = os.path.join(args.work, f"mix_{minutes:g}min.wav")
        if not os.path.exists(mix):
            write_mixture(files, minutes, mix)
        for precision in args.precisions:
            print(
                f"separating {minutes:g} min, {precision} ...",
                file=sys.stderr,
                flush=True,
            )
            out = os.path.join(args.work, f"separated_{minutes:g}min")
            result = run_cli(mix, model, out, precision, args.threads, extra)
            result["minutes"] = minutes
            results.append(result)
            print(json.dumps(result), file=sys.stderr, flush=True)
    write_text_atomic(
        os.path.join(args.work, "results.json"), json.dumps(results, indent=1)
    )
    plot(results, os.path.join(args.work, "results.png"))
    print("\n".join(cost_table(results)))


def cost_table(results):
    """Markdown lines: a row per recording, a group of columns per
    precision (wall time, x real time, peak RSS, CPU time)."""
    precisions = list(dict.fromkeys(r["precision"] for r in results))
    header = "| recording |"
    for p in precisions:
        header += (
            f" {p} wall (s) | {p} x real time | {p} peak RSS (MiB) "
            f"| {p} CPU time (s) |"
        )
    lines = [header + " load average |"]
    lines.append("|" + " --- |" * (2 + 4 * len(precisions)))
    for minutes in dict.fromkeys(r["minutes"] for r in results):
        rows = {r["precision"]: r for r in results if r["minutes"] == minutes}
        line = f"| {minutes:g} min |"
        for p in precisions:
            r = rows[p]
            line += (
                f" {r['wall_s']:.1f} | {r['audio_s'] / r['wall_s']:.1f} "
                f"| {r['peak_mib']:.0f} | {r['cpu_s']:.1f} |"
            )
        loads = [x for r in rows.values() for x in r["load_avg"]]
        lines.append(line + f" {min(loads):.1f} to {max(loads):.1f} |")
    return lines


def si_snri(sources, est, mix):
    """SI-SNRi (dB) of ``[1, T, C]`` estimates (best permutation)."""
    from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

    mix_db = -get_si_snr_with_pitwrapper(
        sources, mix[..., None].expand_as(sources)
    ).mean()
    return float(-get_si_snr_with_pitwrapper(sources, est).mean() - mix_db)


def quality(args):
    """SI-SNRi of whole and chunked separation, and of the chunked
    separation in ``--precision`` against fp32, on mixtures of the test
    speakers (:func:`test_speakers`)."""
    import torch

    from speechbrain_galr.inference.separator import GALRSeparation

    models = {"fp32": GALRSeparation.from_hparams(source=args.quality)}
    if args.precision != "fp32":
        models[args.precision] = GALRSeparation.from_hparams(
            source=args.quality, run_opts={"precision": args.precision}
        )
    files = speech_files(args.data)
    test = set(test_speakers(args.data))
    files = [f for f in files if os.path.basename(os.path.dirname(f)) in test]
    # the default chunking (10 s / 2 s), a shorter overlap, shorter chunks
    chunkings = [(10.0, 2.0), (10.0, 1.0), (4.0, 1.0), (2.0, 0.5)]
    scores = {}
    pairs = speaker_pairs(files, args.quality_seconds, args.quality_n)
    for pair in pairs:
        sources = torch.from_numpy(pair)[None]  # [1, T, 2]
        mix = sources.sum(-1)
        runs = {"whole": models["fp32"].separate_batch(mix)}
        for c, o in chunkings:
            for precision, model in models.items():
                name = f"chunks {c:g} s / overlap {o:g} s, {precision}"
                runs[name] = model.separate_chunked(mix, c, o, progress=False)
        for name, est in runs.items():
            scores.setdefault(name, []).append(si_snri(sources, est, mix))
        print(
            json.dumps({k: round(v[-1], 3) for k, v in scores.items()}),
            file=sys.stderr,
            flush=True,
        )
    print(
        f"{len(pairs)} mixtures of {args.quality_seconds:g} s, test speakers, "
        f"{torch.get_num_threads()} threads"
    )
    print_quality_table(scores, "whole", "difference to whole")
    if args.precision != "fp32":
        for c, o in chunkings:
            base = f"chunks {c:g} s / overlap {o:g} s, fp32"
            diff = np.array(
                scores[base.replace("fp32", args.precision)]
            ) - np.array(scores[base])
            print(
                f"{args.precision} - fp32, chunks {c:g} s / overlap {o:g} s: "
                f"mean "
                f"{diff.mean():+.3f} dB, worst {diff.min():+.3f} dB "
                f"(largest |difference| {np.abs(diff).max():.3f} dB), "
                f"{len(diff)} mixtures"
            )


def print_quality_table(scores, reference, what):
    """Markdown table: mean SI-SNRi and the difference to ``reference``."""
    ref = np.array(scores[reference])
    print(f"| separation | SI-SNRi (dB) | {what} (dB): mean, max abs |")
    print("| --- | --- | --- |")
    for name, values in scores.items():
        diff = np.array(values) - ref
        print(
            f"| {name} | {np.mean(values):.2f} | {np.mean(diff):+.3f}, "
            f"{np.abs(diff).max():.3f} |"
        )


def plot(results, path):
    """Peak memory and wall time against the recording's length."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.5))
    FigureCanvasAgg(fig)
    mem, wall = fig.subplots(1, 2)
    for precision in dict.fromkeys(r["precision"] for r in results):
        rows = [r for r in results if r["precision"] == precision]
        minutes = [r["audio_s"] / 60 for r in rows]
        mem.plot(minutes, [r["peak_mib"] for r in rows], "o-", label=precision)
        wall.plot(minutes, [r["wall_s"] for r in rows], "o-", label=precision)
    mem.set(xlabel="recording (min)", ylabel="peak resident memory (MiB)")
    wall.set(xlabel="recording (min)", ylabel="separation wall time (s)")
    for ax in (mem, wall):
        ax.set_ylim(bottom=0)
        ax.legend()
    fig.suptitle("GALR (D=64, M=16, K=100, Q=32), chunked, CPU, CLI")
    fig.tight_layout()
    with atomic_path(path) as temp:
        fig.savefig(temp, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        default=os.path.join("..", "shared", "data"),
        help="shared data folder (default: ../shared/data, beside the "
        "checkout, when run from the checkout)",
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument(
        "--work",
        default=os.path.join(tempfile.gettempdir(), "galr-measure"),
        help="folder for the mixtures and results (default: in the "
        "system's temporary folder)",
    )
    parser.add_argument("--chunk-seconds", type=float, default=None)
    parser.add_argument("--overlap-seconds", type=float, default=None)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: default)"
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32"],
        help="precisions of the cost runs (e.g. fp32 bf16)",
    )
    parser.add_argument(
        "--quality",
        metavar="MODEL_DIR",
        help="instead: SI-SNRi of whole and chunked separation (and of "
        "--precision against fp32) with this trained model on "
        "test-speaker mixtures",
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16"],
        help="precision compared with fp32 by --quality",
    )
    parser.add_argument("--quality-seconds", type=float, default=20.0)
    parser.add_argument("--quality-n", type=int, default=20)
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.quality:
        return quality(args)
    return cost(args)


if __name__ == "__main__":
    main()
