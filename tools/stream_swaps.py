#!/usr/bin/env python3
"""Speaker swaps of a streamed causal model on long real mixtures.

For pairs of speakers (held-out ones: a quality study's
``corpus/speakers_tt.txt``), each speaker's recordings are joined (and
repeated) into one ``--seconds`` long source, the two sources are mixed
at equal power, and the mixture is streamed through the model folder's
causal GALR in 10 ms blocks (``GALRSeparation.stream()``).  In every
``--window`` seconds where both speakers speak and one output order
matches the references better than the other by ``--margin`` dB, that
order is noted; a swap is a change of it from one such window to the
next.
Prints a table (and writes it with ``--out``)::

    python tools/stream_swaps.py MODEL_FOLDER \\
        ../shared/data/speech/librispeech-251 \\
        --speakers STUDY/corpus/speakers_tt.txt --pairs 5 --seconds 60

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import os
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from speechbrain_galr.atomic_files import write_text_atomic  # noqa: E402
from speechbrain_galr.audio import load_mono, resample  # noqa: E402
from speechbrain_galr.data.corpus import (  # noqa: E402
    _audio_files_below,
    read_speaker_list,
)
from speechbrain_galr.metrics import pairwise_si_snr  # noqa: E402


def speaker_signal(folder, speaker, seconds, rate):
    """The speaker's recordings joined, repeated if they are shorter than
    ``seconds`` (the corpus has about 15 s per speaker), cut to it."""
    root = os.path.join(folder, speaker)
    pieces = []
    for name in _audio_files_below(root):
        signal, file_rate = load_mono(os.path.join(root, name))
        if file_rate != rate:
            signal = resample(signal, file_rate, rate)
        pieces.append(signal)
    if not pieces:
        raise SystemExit(f"speaker {speaker} has no recordings in {folder}")
    joined = torch.cat(pieces)
    repeats = int(seconds * rate // len(joined)) + 1
    return joined.repeat(repeats)[: int(seconds * rate)]


def stream(model, mix, block):
    """The model's streamed output for ``mix``, ``[T, C]``."""
    separator = model.stream()
    outputs = [
        separator.process(mix[start : start + block])
        for start in range(0, len(mix), block)
    ]
    return torch.cat(outputs + [separator.flush()]), separator


def window_orders(references, estimates, window, margin=3.0):
    """The best output order of each window where both references are
    active (RMS above a tenth of their own RMS) and one order beats the
    other by ``margin`` dB of mean SI-SNR (where it does not, the model
    separates too little in that window for an order to mean anything)."""
    active = references.pow(2).mean(0).sqrt() / 10
    orders = []
    for start in range(0, len(references) - window + 1, window):
        ref = references[start : start + window]
        if (ref.pow(2).mean(0).sqrt() < active).any():
            continue
        # [C, C]: SI-SNR of estimate d against reference c
        scores = pairwise_si_snr(
            ref[None], estimates[start : start + window][None]
        )[0]
        straight = float(scores.diagonal().mean())
        crossed = float(scores.flip(1).diagonal().mean())
        if abs(straight - crossed) >= margin:
            orders.append(0 if straight > crossed else 1)
    return orders


def measure_pair(model, folder, pair, args):
    rate = model.sample_rate
    first, second = (
        speaker_signal(folder, s, args.seconds, rate) for s in pair
    )
    second = second * first.norm() / second.norm()
    references = torch.stack([first, second], dim=-1)
    mix = references.sum(-1)
    estimates, separator = stream(
        model, mix, round(rate * args.block_ms / 1000)
    )
    orders = window_orders(
        references, estimates, int(args.window * rate), args.margin
    )
    swaps = sum(a != b for a, b in zip(orders, orders[1:]))
    majority = max(orders.count(0), orders.count(1)) / max(len(orders), 1)
    order = 0 if orders.count(0) >= orders.count(1) else 1
    whole = pairwise_si_snr(references[None], estimates[None])[0]
    mix_scores = pairwise_si_snr(
        references[None], torch.stack([mix, mix], -1)[None]
    )[0]
    chosen = whole.diagonal() if order == 0 else whole.flip(1).diagonal()
    return {
        "pair": "+".join(pair),
        "seconds": args.seconds,
        "windows": len(orders),
        "swaps": swaps,
        "majority": majority,
        "si_snri": float((chosen - mix_scores.diagonal()).mean()),
        "rtf": separator.real_time_factor,
    }


def table(rows, args, latency_ms):
    lines = [
        f"Streamed in {args.block_ms:g} ms blocks, algorithmic latency "
        f"{latency_ms:.1f} ms; windows of {args.window:g} s where both "
        f"speakers are active and one output order beats the other by "
        f"{args.margin:g} dB of SI-SNR",
        "",
        "| speakers | seconds | windows | swaps | windows in the majority "
        "order | SI-SNRi over the stream (dB) | real-time factor |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['pair']} | {r['seconds']:g} | {r['windows']} | "
            f"{r['swaps']} | {100 * r['majority']:.0f} % | "
            f"{r['si_snri']:.2f} | {r['rtf']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="causal model folder")
    parser.add_argument("speaker_folder", help="folder of <speaker>/<files>")
    parser.add_argument("--speakers", required=True, help="speaker list file")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--block-ms", type=float, default=10.0)
    parser.add_argument(
        "--margin", type=float, default=3.0, help="dB between the orders"
    )
    parser.add_argument("--out", help="markdown file for the table")
    args = parser.parse_args(argv)
    from speechbrain_galr.inference.separator import GALRSeparation

    torch.set_num_threads(1)
    model = GALRSeparation.from_hparams(args.model)
    speakers = read_speaker_list(args.speakers)
    pairs = [
        tuple(speakers[2 * i : 2 * i + 2])
        for i in range(min(args.pairs, len(speakers) // 2))
    ]
    rows = []
    for pair in pairs:
        rows.append(measure_pair(model, args.speaker_folder, pair, args))
        print(rows[-1], flush=True)
    text = table(rows, args, model.stream().latency_ms)
    print(text)
    if args.out:
        write_text_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
