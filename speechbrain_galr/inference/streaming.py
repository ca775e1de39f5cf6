"""Live separation with a causal GALR: ``GALRSeparation.stream()`` and
``python -m speechbrain_galr separate FILE --streaming``.

:class:`StreamSeparator` feeds a causal model
(:class:`speechbrain_galr.nnet.streaming.StreamingTasNet`) block by block
and returns each block's separated audio with a constant delay, the
model's algorithmic latency; it times its own compute, so that the real-
time factor of a stream can be printed next to the latency.
:func:`stream_to_folder` runs it on a file or on raw PCM from standard
input, appending the sources to their files as they come.

The speaker order of a stream never changes by construction: one model
with one state runs over the whole stream, so there are no chunks whose
sources would need aligning (the offline ``separate`` aligns them); what
keeps a speaker on the same output is the causal model itself, as
permutation-invariant training makes it keep the order over a training
utterance.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import sys
import time

import numpy as np
import torch

from speechbrain_galr.audio import StreamResampler, open_audio, read_blocks
from speechbrain_galr.errors import GALRError
from speechbrain_galr.inference.file_separation import (
    _errors_name,
    _publish,
    _RawSources,
    work_folder,
)
from speechbrain_galr.inference.output_set import output_lock
from speechbrain_galr.nnet.streaming import StreamingTasNet

RAW_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
"""Raw PCM sample formats of standard input: 16-bit integers or 32-bit
floats, little-endian, mono, at the model's rate."""


class StreamSeparator:
    """Separates a stream block by block with a causal model.

    Arguments
    ---------
    model : speechbrain_galr.nnet.tasnet.TasNet
        A TasNet with a causal GALR (e.g. trained with
        ``hparams/galr-causal.yaml``), in eval mode.
    sample_rate : int
        The model's sample rate.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.nnet.galr import GALR
    >>> from speechbrain_galr.nnet.tasnet import TasNet
    >>> model = TasNet(
    ...     Encoder(kernel_size=16, out_channels=16),
    ...     GALR(16, 16, 8, num_blocks=1, num_heads=2, segment_size=10,
    ...          causal=True, attention_window=4),
    ...     Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    ... ).eval()
    >>> stream = StreamSeparator(model, 8000)
    >>> stream.latency_ms
    10.875
    >>> blocks = [stream.process(torch.randn(80)) for _ in range(3)]
    >>> [tuple(b.shape) for b in blocks]  # [n, C]
    [(0, 2), (73, 2), (80, 2)]
    """

    def __init__(self, model, sample_rate):
        try:
            self.stream = StreamingTasNet(model)
        except ValueError as err:
            raise GALRError(f"cannot stream this model: {err}") from err
        self.sample_rate = sample_rate
        self.compute_seconds = 0.0

    @property
    def latency_samples(self):
        """Samples between an input sample and the last output sample that
        depends on it (the delay of every output sample)."""
        return self.stream.latency_samples

    @property
    def latency_ms(self):
        """:attr:`latency_samples` in milliseconds."""
        return 1000 * self.latency_samples / self.sample_rate

    @property
    def received_seconds(self):
        """Seconds of input taken so far."""
        return self.stream.received / self.sample_rate

    @property
    def real_time_factor(self):
        """Compute time per second of input so far (below 1: faster than
        real time)."""
        return self.compute_seconds / max(self.received_seconds, 1e-9)

    def process(self, block):
        """Takes the next samples (``[n]``, tensor or array) and returns
        the output samples now ``latency_samples`` old, ``[m, C]``."""
        start = time.perf_counter()
        try:
            out = self.stream.process(torch.as_tensor(block))[0]
        except ValueError as err:
            raise GALRError(str(err)) from err
        self.compute_seconds += time.perf_counter() - start
        return out

    def flush(self):
        """Ends the stream; returns its last ``latency_samples`` output
        samples (the whole-signal model's, with its end padding)."""
        start = time.perf_counter()
        out = self.stream.flush()[0]
        self.compute_seconds += time.perf_counter() - start
        return out

    def reset(self):
        """Starts a new stream with the same model."""
        self.stream.reset()
        self.compute_seconds = 0.0


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


def stream_to_folder(separator, blocks, outputs, report=None):
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

    Returns
    -------
    list of str
        The written files.
    """
    rate, out_dir = separator.sample_rate, outputs.out_dir
    os.makedirs(out_dir, exist_ok=True)
    with (
        output_lock(out_dir, outputs.name),
        work_folder(out_dir) as work,
        _errors_name(out_dir),
    ):
        raw = _RawSources(work, rate)
        try:
            next_report = 1.0
            for block in blocks:
                raw.write(separator.process(block))
                if report is not None and (
                    separator.received_seconds >= next_report
                ):
                    report(separator)
                    next_report = separator.received_seconds + 1.0
            if separator.stream.received == 0:
                raise GALRError("the input stream is empty")
            raw.write(separator.flush())
            return _publish(raw, outputs, 8 * rate, "peak", None, work)
        finally:
            raw.close()
