"""Chunked, order-aligned separation of long signals in bounded memory.

A recording too long to separate at once is cut into overlapping chunks;
each chunk is separated on its own, the order of its sources is aligned
with the previous chunk's on the samples they share (a network trained
with permutation-invariant training may emit the speakers in any order),
and the shared samples are cross-faded (overlap-add with a raised-cosine
window).  Memory then depends on the chunk length, not on the recording's.

Authors
 * speechbrain-galr contributors 2026
"""

import math

import torch
from tqdm import tqdm

from speechbrain_galr.metrics import best_permutation, permute_sources

MIN_CHUNK_SECONDS = 0.1
"""Shortest chunk accepted (the model sees too little context below)."""

MIN_OVERLAP_SECONDS = 0.02
"""Shortest overlap accepted (the sources are aligned on it)."""


DEFAULT_CHUNK_SECONDS = 10.0
"""Chunk length when none is given; the overlap's default is then 2 s."""


class ChunkSettings:
    """Chunk length and overlap in seconds, checked once, at construction
    (:func:`check_chunk_seconds`); :meth:`samples` converts them for a
    sample rate without checking again.

    Arguments
    ---------
    chunk_seconds : float or None
        Chunk length, at least :data:`MIN_CHUNK_SECONDS` (None: 10 s).
    overlap_seconds : float or None
        Overlap of consecutive chunks, at least :data:`MIN_OVERLAP_SECONDS`
        and at most half a chunk; None for ``min(2, chunk_seconds / 4)``.

    Example
    -------
    >>> settings = ChunkSettings(1.0, 0.5)
    >>> settings.samples(8000), ChunkSettings().samples(8000)
    ((8000, 4000), (80000, 16000))
    """

    def __init__(self, chunk_seconds=None, overlap_seconds=None):
        if chunk_seconds is None:
            chunk_seconds = DEFAULT_CHUNK_SECONDS
        self.chunk_seconds, self.overlap_seconds = check_chunk_seconds(
            chunk_seconds, overlap_seconds
        )

    def samples(self, sample_rate):
        """``(chunk, overlap)`` in samples at ``sample_rate``."""
        chunk = round(self.chunk_seconds * sample_rate)
        overlap = round(self.overlap_seconds * sample_rate)
        return chunk, max(1, min(overlap, chunk // 2))

    def __repr__(self):
        return (
            f"ChunkSettings({self.chunk_seconds:g}, {self.overlap_seconds:g})"
        )


def chunk_lengths(sample_rate, chunk_seconds, overlap_seconds=None):
    """Checks the chunk settings and converts them to samples.

    Returns
    -------
    tuple of int
        ``(chunk, overlap)`` in samples.

    Raises
    ------
    ValueError
        One line naming the setting and the accepted range.

    Example
    -------
    >>> chunk_lengths(8000, 10), chunk_lengths(8000, 1.0, 0.5)
    ((80000, 16000), (8000, 4000))
    >>> chunk_lengths(8000, -5)
    Traceback (most recent call last):
    ...
    ValueError: chunk length must be a number of seconds >= 0.1, got -5
    """
    return ChunkSettings(chunk_seconds, overlap_seconds).samples(sample_rate)


def shows_progress(total, chunk, overlap):
    """Whether a progress bar is worth showing: more than 4 chunks."""
    return total is not None and total > chunk + 3 * (chunk - overlap)


def check_chunk_seconds(chunk_seconds, overlap_seconds=None):
    """Checks chunk settings in seconds; returns them, the overlap's
    default (``min(2, chunk_seconds / 4)``) filled in.

    Example
    -------
    >>> check_chunk_seconds(4.0)
    (4.0, 1.0)
    >>> check_chunk_seconds(1.0, 0.8)
    Traceback (most recent call last):
    ...
    ValueError: chunk overlap must be ... (0.5), got 0.8
    """
    if not _is_number(chunk_seconds) or chunk_seconds < MIN_CHUNK_SECONDS:
        raise ValueError(
            "chunk length must be a number of seconds >= "
            f"{MIN_CHUNK_SECONDS:g}, got {chunk_seconds}"
        )
    if overlap_seconds is None:
        return chunk_seconds, min(2.0, chunk_seconds / 4)
    if not _is_number(overlap_seconds) or not (
        MIN_OVERLAP_SECONDS <= overlap_seconds <= chunk_seconds / 2
    ):
        raise ValueError(
            f"chunk overlap must be a number of seconds from "
            f"{MIN_OVERLAP_SECONDS:g} to half the chunk length "
            f"({chunk_seconds / 2:g}), got {overlap_seconds}"
        )
    return chunk_seconds, overlap_seconds


def _is_number(value):
    """Whether ``value`` is a finite real number."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def align_sources(reference, estimate):
    """Reorders the sources of ``estimate`` to best match ``reference``.

    For every item of the batch, the permutation of the C sources with the
    highest summed cosine similarity to the reference is applied (the
    package's one permutation search,
    :func:`speechbrain_galr.metrics.best_permutation`).  Used on
    the overlap of two consecutive chunks, where both hold estimates of the
    same samples.

    Arguments
    ---------
    reference : torch.Tensor
        ``[B, n, C]`` sources in the wanted order.
    estimate : torch.Tensor
        ``[B, m, C]`` sources whose first n samples cover the same signal
        as ``reference`` (m >= n).

    Returns
    -------
    torch.Tensor
        ``estimate`` with its sources reordered, ``[B, m, C]``.

    Example
    -------
    >>> ref = torch.randn(2, 100, 3)
    >>> est = torch.cat([ref, torch.randn(2, 50, 3)], dim=1)[:, :, [2, 0, 1]]
    >>> aligned = align_sources(ref, est)
    >>> aligned.shape, bool((aligned[:, :100] == ref).all())
    (torch.Size([2, 150, 3]), True)
    """
    n = reference.shape[1]
    head = estimate[:, :n]
    ref = reference / (reference.norm(dim=1, keepdim=True) + 1e-8)
    head = head / (head.norm(dim=1, keepdim=True) + 1e-8)
    # [B, C, C]: similarity of reference source c and estimated source d
    similarity = torch.einsum("bnc,bnd->bcd", ref, head)
    return permute_sources(estimate, best_permutation(similarity))


class ChunkedSeparator:
    """Separates a long signal in overlapping chunks, in bounded memory.

    Samples are pushed in blocks of any size.  Every ``chunk_size`` samples
    (successive chunks share ``overlap`` samples) the chunk is separated
    with ``separate_fn``, its sources are put in the order of the previous
    chunk's (:func:`align_sources` on the shared samples), and the shared
    samples are cross-faded with a raised-cosine window.  :meth:`push`
    returns the output samples that are final; :meth:`flush` separates the
    remainder (extended back to a full chunk with already-seen samples, so
    the last chunk is not a short one) and returns the rest.  The output
    has exactly as many samples as the input.

    Arguments
    ---------
    separate_fn : callable
        Maps a ``[B, n]`` tensor to its ``[B, n, C]`` sources.
    chunk_size : int
        Samples per chunk.
    overlap : int
        Samples shared by consecutive chunks, at most ``chunk_size // 2``.
    total : int or None
        Expected number of input samples, for the progress bar.
    progress : bool
        Whether to show a progress bar (tqdm) over the chunks.

    Example
    -------
    >>> sources = torch.randn(1, 1000, 2)
    >>> def fake_model(mix):  # returns the true sources of the chunk
    ...     start = int(torch.nonzero(mix[0, :1] == mixture[0])[0])
    ...     return sources[:, start : start + mix.shape[1]]
    >>> mixture = torch.arange(1000.0)[None]  # [B, T]
    >>> chunked = ChunkedSeparator(fake_model, chunk_size=300, overlap=100)
    >>> out = torch.cat([chunked.push(mixture), chunked.flush()], dim=1)
    >>> out.shape, bool(torch.allclose(out, sources, atol=1e-6))
    (torch.Size([1, 1000, 2]), True)
    """

    def __init__(
        self, separate_fn, chunk_size, overlap, total=None, progress=False
    ):
        if chunk_size < 2:
            raise ValueError(f"chunk_size must be >= 2, got {chunk_size}")
        if not 1 <= overlap <= chunk_size // 2:
            raise ValueError(
                f"overlap must be in [1, chunk_size // 2 = {chunk_size // 2}]"
                f" (the sources are aligned on it), got {overlap}"
            )
        self.separate_fn = separate_fn
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.hop = chunk_size - overlap
        steps = torch.arange(overlap, dtype=torch.float32) + 0.5
        # [n]: raised-cosine fade-in; the fade-out is 1 - fade_in
        self.fade_in = 0.5 - 0.5 * torch.cos(math.pi * steps / overlap)
        self._pending = None  # [B, n] input not yet fully separated
        self._history = None  # [B, hop] input just before _pending
        self._tail = None  # [B, overlap, C] estimates of _pending[:, :ov]
        self._bar = None
        if progress:
            chunks = None
            if total is not None:
                chunks = max(1, -(-max(total - overlap, 1) // self.hop))
            self._bar = tqdm(total=chunks, unit="chunk", desc="separating")

    def _separate(self, chunk):
        """Runs the model on one ``[B, n]`` chunk."""
        est = self.separate_fn(chunk)
        if self._bar is not None:
            self._bar.update(1)
        return est

    def _merge(self, est, final):
        """Aligns ``est`` to the previous chunk, cross-fades, and returns
        the samples that are final."""
        ov = self.overlap
        if self._tail is not None:
            est = align_sources(self._tail, est)
            fade_in = self.fade_in.to(est)[None, :, None]
            head = self._tail * (1 - fade_in) + est[:, :ov] * fade_in
            est = torch.cat([head, est[:, ov:]], dim=1)
        if final:
            self._tail = None
            return est
        self._tail = est[:, self.hop :]
        return est[:, : self.hop]

    def push(self, block):
        """Adds ``[B, n]`` samples; returns the new final ``[B, m, C]``
        output (m may be 0)."""
        if block.dim() != 2:
            raise ValueError(
                f"expected a [B, n] block, got shape {tuple(block.shape)}"
            )
        pending = block if self._pending is None else self._pending
        if self._pending is not None:
            pending = torch.cat([pending, block], dim=1)
        outputs = []
        while pending.shape[1] >= self.chunk_size:
            est = self._separate(pending[:, : self.chunk_size])
            outputs.append(self._merge(est, final=False))
            self._history = pending[:, : self.hop]
            pending = pending[:, self.hop :]
        self._pending = pending
        if not outputs:
            return block.new_zeros(block.shape[0], 0, 0)
        return torch.cat(outputs, dim=1)

    def flush(self):
        """Separates what is left; returns the last ``[B, m, C]`` output."""
        pending = self._pending
        self._pending = None
        try:
            if pending is None or pending.shape[1] == 0:
                return torch.zeros(0, 0, 0)
            if self._tail is None:
                # the whole input was shorter than one chunk
                return self._merge(self._separate(pending), final=True)
            if pending.shape[1] <= self.overlap:
                # the previous chunk already covered these samples
                tail, self._tail = self._tail, None
                return tail[:, : pending.shape[1]]
            # extend the last chunk back to a full chunk
            extra = min(self.chunk_size - pending.shape[1], self.hop)
            if extra > 0:
                pending = torch.cat([self._history[:, -extra:], pending], 1)
            est = self._separate(pending)[:, extra:]
            return self._merge(est, final=True)
        finally:
            self.close()

    def close(self):
        """Closes the progress bar (also when separation stops early)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def separate(self, mix):
        """Separates a whole ``[B, T]`` tensor chunk by chunk.

        Example
        -------
        >>> chunked = ChunkedSeparator(lambda x: x[..., None], 300, 100)
        >>> chunked.separate(torch.randn(2, 1000)).shape
        torch.Size([2, 1000, 1])
        """
        out = [self.push(mix), self.flush()]
        return torch.cat([o for o in out if o.shape[1] > 0], dim=1)
