"""``python -m speechbrain_galr separate MIXTURE --streaming``: a causal
GALR over a file, or raw PCM on standard input, block by block.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import sys

import numpy as np
import torch

from speechbrain_galr.audio import (
    StreamResampler,
    audio_info,
    open_audio,
    read_blocks,
)
from speechbrain_galr.errors import GALRError
from speechbrain_galr.inference.file_separation import (
    _errors_name,
    _publish,
    _RawSources,
    work_folder,
)
from speechbrain_galr.inference.output_set import output_lock

RAW_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
"""Raw PCM sample formats of standard input: 16-bit integers or 32-bit
floats, little-endian, mono, at the model's rate."""


def add_streaming_arguments(sep):
    """The ``separate --streaming`` arguments."""
    sep.add_argument(
        "--streaming",
        action="store_true",
        help="separate as a live stream, block by block, with a causal "
        "model (e.g. trained with hparams/galr-causal.yaml) on one CPU "
        "thread: constant delay, the model's algorithmic latency (printed "
        "with the real-time factor); MIXTURE - reads raw PCM from "
        "standard input",
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

    from_stdin = args.mixture == "-"
    mixture = None if from_stdin else GALRSeparation._fetch(args.mixture, None)
    name = "stdin" if from_stdin else input_name(mixture)
    outputs = OutputSet(args.out, name, args.overwrite)
    run_opts = dict(run_opts, precision="fp32")
    model = GALRSeparation.from_hparams(
        args.model, savedir=args.savedir, run_opts=run_opts
    )
    # a stream is a series of small steps: more threads only add wake-ups
    torch.set_num_threads(1)
    separator = model.stream()
    rate = model.sample_rate
    block = max(1, round(args.block_ms * rate / 1000))
    if from_stdin:
        blocks, file_rate = stdin_blocks(block, args.raw_format), rate
    else:
        blocks = file_blocks(mixture, block, rate)
        file_rate = audio_info(mixture, warn_truncated=False)[1]
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

    paths = stream_to_folder(separator, blocks, outputs, report, rate=file_rate)
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


def stdin_blocks(block_samples, raw_format="s16le", stdin=None):
    """Reads raw mono PCM from standard input, block by block.

    Yields
    ------
    torch.Tensor
        ``[n]`` float32 samples in [-1, 1] (int16 scaled by 1/32768).
    """
    dtype = RAW_FORMATS[raw_format]
    stream = stdin if stdin is not None else sys.stdin.buffer
    leftover = b""
    while True:
        data = leftover + stream.read(block_samples * dtype.itemsize)
        if len(data) < dtype.itemsize:
            return
        whole = len(data) - len(data) % dtype.itemsize
        data, leftover = data[:whole], data[whole:]
        samples = np.frombuffer(data, dtype=dtype).astype(np.float32)
        if dtype.kind == "i":
            samples /= 32768.0
        yield torch.from_numpy(samples)


def file_blocks(path, block_samples, model_rate):
    """Reads an audio file block by block as mono at ``model_rate``
    (resampled as it streams when the file's rate differs).

    Yields
    ------
    torch.Tensor
        ``[n]`` float32 samples.
    """
    with open_audio(path) as audio:
        resampler = None
        if audio.samplerate != model_rate:
            resampler = StreamResampler(audio.samplerate, model_rate)
        block = max(1, round(block_samples * audio.samplerate / model_rate))
        for samples in read_blocks(audio, block):
            if resampler is None:
                yield samples
            else:
                yield resampler.push(samples[:, None])[:, 0]
        if resampler is not None:
            yield resampler.flush()[:, 0]


def stream_to_folder(separator, blocks, outputs, report=None, rate=None):
    """Streams ``blocks`` through ``separator`` into one wav per source.

    The sources are appended to files in a work folder of
    ``outputs.out_dir`` as they come, then put in place as one set (peak-
    normalised to -0.1 dBFS, as ``separate``), with the rules of
    :class:`~speechbrain_galr.inference.file_separation.OutputSet`.

    Arguments
    ---------
    separator : StreamSeparator
        A fresh stream.
    blocks : iterable of torch.Tensor
        ``[n]`` input samples at the model's rate (:func:`file_blocks`,
        :func:`stdin_blocks`).
    outputs : speechbrain_galr.inference.file_separation.OutputSet
        Where the sources go.
    report : callable or None
        Called with the separator after every second of input (progress).
    rate : int or None
        The input file's rate: the sources are resampled to it as they
        come (None: the model's rate).

    Returns
    -------
    list of str
        The written files.
    """
    model_rate, out_dir = separator.sample_rate, outputs.out_dir
    rate = rate or model_rate
    to_file = None
    if rate != model_rate:
        channels = separator.stream.galr.num_spks
        to_file = StreamResampler(model_rate, rate, channels)
    os.makedirs(out_dir, exist_ok=True)
    with (
        output_lock(out_dir, outputs.name),
        work_folder(out_dir) as work,
        _errors_name(out_dir),
    ):
        raw = _RawSources(work, rate)

        def write(sources):
            raw.write(to_file.push(sources) if to_file else sources)

        try:
            next_report = 1.0
            for block in blocks:
                write(separator.process(block))
                if report is not None and (
                    separator.received_seconds >= next_report
                ):
                    report(separator)
                    next_report = separator.received_seconds + 1.0
            if separator.stream.received == 0:
                raise GALRError("the input stream is empty")
            write(separator.flush())
            if to_file is not None:
                raw.write(to_file.flush())
            return _publish(raw, outputs, 8 * rate, "peak", None, work)
        finally:
            raw.close()
