#!/usr/bin/env python3
"""Peak memory and wall time of chunked separation of long recordings.

Builds two-speaker mixtures of the requested lengths from real speech
(utterances of the speech folder concatenated per speaker, written to
``--work``, outside the repository), exports a GALR of the galr-small size
(D=64, M=16, K=100, Q=32; untrained weights, which cost the same) as a
model folder, and separates each mixture with
``GALRSeparation.separate_file_to_folder`` in its own subprocess, which
reports its peak resident memory (``ru_maxrss``), its resident memory after
loading the model (the baseline), and the wall time and CPU time (user +
system, all threads) of the separation with the load average of the machine
(wall time depends on what else runs; CPU time much less).
Prints a Markdown table and writes ``results.json`` and ``results.png`` to
``--work``::

    .venv/bin/python tools/measure_inference.py \\
        --data ../shared/data --minutes 1 5 10 --work ../measure-runs

With ``--quality MODEL_DIR`` (a trained, exported model) it compares the
SI-SNRi of whole and chunked separation on mixtures of the test speakers
instead::

    .venv/bin/python tools/measure_inference.py --quality MODEL_DIR

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

SAMPLE_RATE = 8000


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


def write_mixture(files, minutes, path, seed=0):
    """Writes a two-speaker mixture of ``minutes``: each speaker stream
    concatenates utterances of its half of the speakers, the streams are
    normalised to the same level and summed."""
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * SAMPLE_RATE)
    halves = (files[0::2], files[1::2])
    streams = []
    for half in halves:
        order = rng.permutation(len(half))
        pieces, length, i = [], 0, 0
        while length < total:
            signal, rate = sf.read(half[order[i % len(half)]], dtype="float32")
            if rate != SAMPLE_RATE:
                raise ValueError(f"{half[order[i]]}: {rate} Hz, not 8 kHz")
            pieces.append(signal / (np.std(signal) + 1e-8))
            length += len(signal)
            i += 1
        streams.append(np.concatenate(pieces)[:total])
    mixture = 0.05 * (streams[0] + streams[1])
    sf.write(path, mixture, SAMPLE_RATE, subtype="PCM_16")
    return path


def export_galr_small(work):
    """Exports an untrained galr-small as a model folder."""
    import torch
    from hyperpyyaml import load_hyperpyyaml, resolve_references
    from speechbrain.utils.checkpoints import Checkpointer

    import speechbrain_galr
    from speechbrain_galr.export import export_model

    recipe = os.path.join(work, "recipe")
    dest = os.path.join(work, "galr-small")
    if os.path.isdir(dest):
        return dest
    os.makedirs(recipe, exist_ok=True)
    yaml_path = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
    # galr-model.yaml is galr-small: D=64, M=16, K=100, Q=32
    with open(yaml_path) as fin:
        text = fin.read()
    with open(os.path.join(recipe, "hyperparams.yaml"), "w") as fout:
        fout.write(resolve_references(text).getvalue())
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


def rss_mib():
    """Current resident memory of this process in MiB."""
    with open("/proc/self/status") as fin:
        for line in fin:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(args):
    """Separates one file and prints a JSON line of its costs."""
    import torch

    from speechbrain_galr.inference import GALRSeparation

    if args.threads:
        torch.set_num_threads(args.threads)
    model = GALRSeparation.from_hparams(source=args.model)
    baseline = rss_mib()
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.time()
    paths = model.separate_file_to_folder(
        args.child,
        args.out,
        chunk_seconds=args.chunk_seconds,
        overlap_seconds=args.overlap_seconds,
        progress=False,
    )
    wall = time.time() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage.ru_utime + usage.ru_stime) - (
        cpu_before.ru_utime + cpu_before.ru_stime
    )
    peak = usage.ru_maxrss / 1024
    seconds = sf.info(args.child).duration
    print(
        json.dumps(
            {
                "audio_s": seconds,
                "wall_s": wall,
                "cpu_s": cpu,
                "load_avg": [load_before, os.getloadavg()[0]],
                "baseline_mib": baseline,
                "peak_mib": peak,
                "outputs": paths,
                "threads": torch.get_num_threads(),
            }
        )
    )


def speaker_streams(files, seconds, count, seed=0):
    """``count`` pairs of streams of ``seconds``: each stream concatenates
    utterances drawn at random from its half of ``files`` (even and odd
    positions, so the two streams of a pair never share a speaker when
    ``files`` holds one utterance per speaker)."""
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
                signal, _ = sf.read(path, dtype="float32")
                pieces.append(signal / (np.std(signal) + 1e-8))
                length += len(signal)
            pair.append(np.concatenate(pieces)[:total])
        pairs.append(0.05 * np.stack(pair, axis=-1))
    return pairs


def quality(args):
    """SI-SNRi of whole against chunked separation, on mixtures of the
    test speakers (the last 20 of the speech folder, sorted by id)."""
    import torch
    from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

    from speechbrain_galr.inference import GALRSeparation

    model = GALRSeparation.from_hparams(source=args.quality)
    files = speech_files(args.data)
    speakers = sorted({os.path.basename(os.path.dirname(f)) for f in files})
    test = set(speakers[-20:])
    files = [f for f in files if os.path.basename(os.path.dirname(f)) in test]
    settings = [("whole", None)] + [
        (f"chunks {c:g} s / overlap {o:g} s", (c, o))
        for c, o in ((10.0, 2.0), (4.0, 1.0), (2.0, 0.5))
    ]
    scores = {name: [] for name, _ in settings}
    for pair in speaker_streams(files, args.quality_seconds, args.quality_n):
        sources = torch.from_numpy(pair)[None]  # [1, T, 2]
        mix = sources.sum(-1)
        mix_db = -get_si_snr_with_pitwrapper(
            sources, mix[..., None].expand_as(sources)
        ).mean()
        for name, chunking in settings:
            if chunking is None:
                est = model.separate_batch(mix)
            else:
                est = model.separate_chunked(mix, *chunking, progress=False)
            est_db = -get_si_snr_with_pitwrapper(sources, est).mean()
            scores[name].append(float(est_db - mix_db))
        print(
            json.dumps({k: round(v[-1], 3) for k, v in scores.items()}),
            file=sys.stderr,
            flush=True,
        )
    whole = np.array(scores["whole"])
    print(
        f"{args.quality_n} mixtures of {args.quality_seconds:g} s, "
        "test speakers"
    )
    print("| separation | SI-SNRi (dB) | difference to whole (dB), max |")
    print("| --- | --- | --- |")
    for name, values in scores.items():
        diff = np.array(values) - whole
        print(
            f"| {name} | {np.mean(values):.2f} | {np.mean(diff):+.2f}, "
            f"{np.abs(diff).max():.2f} |"
        )


def plot(results, path):
    """Peak memory and wall time against the recording's length."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["audio_s"] / 60 for r in results]
    fig, (mem, wall) = plt.subplots(1, 2, figsize=(10, 3.5))
    mem.plot(minutes, [r["peak_mib"] for r in results], "o-", label="peak")
    mem.plot(
        minutes, [r["baseline_mib"] for r in results], "s--", label="model"
    )
    mem.set(xlabel="recording (min)", ylabel="resident memory (MiB)")
    mem.set_ylim(bottom=0)
    mem.legend()
    wall.plot(minutes, [r["wall_s"] for r in results], "o-")
    wall.set(xlabel="recording (min)", ylabel="wall time (s)")
    wall.set_ylim(bottom=0)
    fig.suptitle("GALR (D=64, M=16, K=100, Q=32), chunked, CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


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
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--quality",
        metavar="MODEL_DIR",
        help="instead: compare chunked and whole separation with this "
        "(trained) model on test-speaker mixtures",
    )
    parser.add_argument("--quality-seconds", type=float, default=12.0)
    parser.add_argument("--quality-n", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.quality:
        return quality(args)
    os.makedirs(args.work, exist_ok=True)
    model = export_galr_small(args.work)
    files = speech_files(args.data)
    results = []
    for minutes in args.minutes:
        mix = os.path.join(args.work, f"mix_{minutes:g}min.wav")
        if not os.path.exists(mix):
            write_mixture(files, minutes, mix)
        command = [
            sys.executable,
            __file__,
            "--child",
            mix,
            "--model",
            model,
            "--out",
            os.path.join(args.work, f"separated_{minutes:g}min"),
            "--threads",
            str(args.threads),
        ]
        for flag in ("chunk_seconds", "overlap_seconds"):
            if getattr(args, flag) is not None:
                command += [
                    f"--{flag.replace('_', '-')}",
                    str(args.__dict__[flag]),
                ]
        print(f"separating {minutes:g} min ...", file=sys.stderr, flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"child failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["minutes"] = minutes
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    with open(os.path.join(args.work, "results.json"), "w") as fout:
        json.dump(results, fout, indent=1)
    plot(results, os.path.join(args.work, "results.png"))
    print(
        "| recording | peak RSS (MiB) | RSS after model load (MiB) "
        "| wall time (s) | CPU time (s) | CPU s per audio s "
        "| load average |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['minutes']:g} min | {r['peak_mib']:.0f} "
            f"| {r['baseline_mib']:.0f} | {r['wall_s']:.1f} "
            f"| {r['cpu_s']:.1f} | {r['cpu_s'] / r['audio_s']:.2f} "
            f"| {r['load_avg'][0]:.1f} to {r['load_avg'][1]:.1f} |"
        )


if __name__ == "__main__":
    main()
