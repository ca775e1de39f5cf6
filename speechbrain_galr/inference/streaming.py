"""Live separation with a causal GALR: ``GALRSeparation.stream()``.

:class:`StreamSeparator` feeds a causal model
(:class:`speechbrain_galr.nnet.streaming.StreamingTasNet`) block by block
and returns each block's separated audio with a constant delay, the
model's algorithmic latency; it times its own compute, so that the real-
time factor of a stream can be printed next to the latency.
:mod:`speechbrain_galr.streaming_cli` runs it on a file or on raw PCM
from standard input (``separate --streaming``).

The speaker order of a stream never changes by construction: one model
with one state runs over the whole stream, so there are no chunks whose
sources would need aligning (the offline ``separate`` aligns them); what
keeps a speaker on the same output is the causal model itself, as
permutation-invariant training makes it keep the order over a training
utterance.

Authors
 * speechbrain-galr contributors 2026
"""

import time

import torch

from speechbrain_galr.errors import GALRError
from speechbrain_galr.nnet.streaming import StreamingTasNet


class StreamSeparator:
    """Separates a stream block by block with a causal model.

    Arguments
    ---------
    model : speechbrain_galr.nnet.tasnet.TasNet
        A TasNet with a causal GALR (e.g. trained with
        ``hparams/galr-causal.yaml``), in eval mode.
    sample_rate : int
        The model's sample rate.
    trace : bool
        See :class:`~speechbrain_galr.nnet.streaming.StreamingTasNet`.

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

    def __init__(self, model, sample_rate, trace=True):
        try:
            self.stream = StreamingTasNet(model, trace=trace)
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
