"""``python -m speechbrain_galr separate MIXTURE --streaming``: a causal
GALR over a file, or raw PCM on standard input, block by block.

Authors
 * speechbrain-galr contributors 2026
"""

import sys


def add_streaming_arguments(sep):
    """The ``separate --streaming`` arguments."""
    sep.add_argument(
        "--streaming",
        action="store_true",
        help="separate as a live stream, block by block, with a causal "
        "model (e.g. trained with hparams/galr-causal.yaml): constant "
        "delay, the model's algorithmic latency (printed with the "
        "real-time factor); MIXTURE - reads raw PCM from standard input",
    )
    sep.add_argument(
        "--block-ms",
        type=float,
        default=10.0,
        help="with --streaming: milliseconds of audio per block (default 10)",
    )
    sep.add_argument(
        "--raw-format",
        default="s16le",
        choices=("s16le", "f32le"),
        help="with --streaming and MIXTURE -: the samples on standard input "
        "(mono, at the model's rate; default s16le)",
    )


def stream_command(args, run_opts):
    """Runs ``separate --streaming``: a causal model over a file or raw
    PCM on standard input (MIXTURE ``-``), block by block; prints the
    latency and the real-time factor."""
    from speechbrain_galr.inference.file_separation import (
        OutputSet,
        input_name,
    )
    from speechbrain_galr.inference.separator import GALRSeparation
    from speechbrain_galr.inference.streaming import (
        file_blocks,
        stdin_blocks,
        stream_to_folder,
    )

    from_stdin = args.mixture == "-"
    mixture = None if from_stdin else GALRSeparation._fetch(args.mixture, None)
    name = "stdin" if from_stdin else input_name(mixture)
    outputs = OutputSet(args.out, name, args.overwrite)
    run_opts = dict(run_opts, precision="fp32")
    model = GALRSeparation.from_hparams(
        args.model, savedir=args.savedir, run_opts=run_opts
    )
    separator = model.stream()
    rate = model.sample_rate
    block = max(1, round(args.block_ms * rate / 1000))
    if from_stdin:
        blocks = stdin_blocks(block, args.raw_format)
    else:
        blocks = file_blocks(mixture, block, rate)
    print(
        f"streaming {args.mixture} in blocks of {block} samples "
        f"({1000 * block / rate:g} ms) into {model.num_sources} sources; "
        f"algorithmic latency {separator.latency_samples} samples "
        f"({separator.latency_ms:.1f} ms)",
        file=sys.stderr,
    )

    def report(stream):
        if not args.quiet:
            print(
                f"\r{stream.received_seconds:7.1f} s in, real-time factor "
                f"{stream.real_time_factor:.3f}",
                end="",
                file=sys.stderr,
            )

    paths = stream_to_folder(separator, blocks, outputs, report)
    print(
        f"\n{separator.received_seconds:.1f} s streamed; latency "
        f"{separator.latency_ms:.1f} ms; compute "
        f"{1000 * separator.real_time_factor * block / rate:.2f} ms per "
        f"block; real-time factor {separator.real_time_factor:.3f} "
        f"({1 / max(separator.real_time_factor, 1e-9):.0f}x real time)",
        file=sys.stderr,
    )
    for path in paths:
        print(path)
    return 0
