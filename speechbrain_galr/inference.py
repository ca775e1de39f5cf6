"""Ready-to-use GALR separation, for short clips and for long recordings.

:class:`GALRSeparation` is a SpeechBrain ``Pretrained`` interface with the
API of ``speechbrain.inference.separation.SepformerSeparation``
(``from_hparams``, ``separate_batch``, ``separate_file``, ``forward``), plus:

* chunked separation (:class:`ChunkedSeparator`): the recording is cut into
  overlapping chunks, each chunk is separated on its own, the order of its
  sources is aligned with the previous chunk on the overlap
  (:func:`align_sources`) and the chunks are cross-faded.  Memory then
  depends on the chunk length, not on the recording's;
* :meth:`GALRSeparation.separate_file_to_folder`, which streams a file of
  any length, sample rate and channel count from disk to one wav per
  source at the input's sample rate (:class:`StreamResampler` resamples
  block by block with the result of a whole-signal resampling);
* :meth:`GALRSeparation.separate_with_attention`, which also returns the
  attention weights of every block (the paper's Fig. 3).

Authors
 * speechbrain-galr contributors 2026
"""

import math
import os
import tempfile
from itertools import permutations

import numpy as np
import soundfile as sf
import torch
import torchaudio
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import split_path
from speechbrain.utils.fetching import LocalStrategy, fetch
from speechbrain.utils.logger import get_logger
from tqdm import tqdm

from speechbrain_galr.tasnet import TasNet, check_mixtures

logger = get_logger(__name__)


class AudioInputError(ValueError):
    """Raised when an input recording cannot be separated (the message
    says why: missing, empty, not audio, NaN values...)."""


def open_audio(path):
    """Opens an audio file for block reading, checking that it is usable.

    Arguments
    ---------
    path : str
        Path of a file that libsndfile reads (wav, flac, ogg, mp3...).

    Returns
    -------
    soundfile.SoundFile
        The open file (the caller closes it).

    Raises
    ------
    AudioInputError
        If the file is missing, a folder, empty, not audio, or has no
        samples.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> path = str(tmpdir / "noise.wav")
    >>> sf.write(path, np.zeros((800, 2)), 16000)
    >>> with open_audio(path) as audio:
    ...     print(audio.frames, audio.channels, audio.samplerate)
    800 2 16000
    """
    path = str(path)
    if not os.path.exists(path):
        raise AudioInputError(f"audio file not found: {path}")
    if os.path.isdir(path):
        raise AudioInputError(f"expected an audio file, got a folder: {path}")
    if os.path.getsize(path) == 0:
        raise AudioInputError(f"audio file is empty (0 bytes): {path}")
    try:
        audio = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioInputError(
            f"not an audio file that soundfile can read: {path} ({err})"
        ) from err
    if audio.frames <= 0:
        audio.close()
        raise AudioInputError(f"audio file has no samples: {path}")
    return audio


def read_mono_blocks(audio, block_frames):
    """Reads an open file block by block, averaging its channels.

    Arguments
    ---------
    audio : soundfile.SoundFile
        File opened by :func:`open_audio`.
    block_frames : int
        Frames per block (the last block may be shorter).

    Yields
    ------
    torch.Tensor
        ``[n]`` float32 samples.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> path = str(tmpdir / "stereo.wav")
    >>> sf.write(path, np.ones((1000, 2)) * [0.5, -0.25], 8000)
    >>> with open_audio(path) as audio:
    ...     blocks = list(read_mono_blocks(audio, 400))
    >>> [b.shape[0] for b in blocks], float(blocks[0][0])
    ([400, 400, 200], 0.125)
    """
    while True:
        # [n, channels]
        block = audio.read(block_frames, dtype="float32", always_2d=True)
        if block.shape[0] == 0:
            return
        if not np.isfinite(block).all():
            raise AudioInputError(
                f"audio file contains NaN or Inf values: {audio.name}"
            )
        yield torch.from_numpy(block.mean(axis=1))


def load_mono(path):
    """Loads a whole audio file as a mono signal (channels averaged).

    Arguments
    ---------
    path : str
        Audio file.

    Returns
    -------
    signal : torch.Tensor
        ``[T]`` float32 samples.
    sample_rate : int
        The file's sample rate.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> path = str(tmpdir / "stereo.wav")
    >>> sf.write(path, np.ones((1000, 2)) * [0.5, -0.25], 44100)
    >>> signal, rate = load_mono(path)
    >>> signal.shape, rate
    (torch.Size([1000]), 44100)
    """
    with open_audio(path) as audio:
        blocks = list(read_mono_blocks(audio, max(audio.frames, 1)))
        return torch.cat(blocks), audio.samplerate


class StreamResampler:
    """Resamples a signal that arrives block by block.

    Each call of :meth:`push` returns the output samples that can be
    computed so far; :meth:`flush` returns the rest.  Blocks are resampled
    with ``torchaudio.functional.resample`` together with enough context on
    both sides, cut at whole periods of the rate ratio, so the concatenated
    output equals the resampling of the whole signal (to float rounding),
    with ``ceil(T * new_freq / orig_freq)`` samples, and memory does not
    grow with the signal's length.

    Arguments
    ---------
    orig_freq : int
        Input sample rate.
    new_freq : int
        Output sample rate.

    Example
    -------
    >>> signal = torch.randn(44100, 2)  # [T, channels]
    >>> resampler = StreamResampler(44100, 8000)
    >>> out = [resampler.push(b) for b in signal.split(10000)]
    >>> out = torch.cat(out + [resampler.flush()])
    >>> whole = torchaudio.functional.resample(signal.T, 44100, 8000).T
    >>> out.shape, bool((out - whole).abs().max() < 1e-5)
    (torch.Size([8000, 2]), True)
    """

    def __init__(self, orig_freq, new_freq):
        if orig_freq <= 0 or new_freq <= 0:
            raise ValueError(
                f"sample rates must be positive, got {orig_freq}, {new_freq}"
            )
        gcd = math.gcd(int(orig_freq), int(new_freq))
        self.orig_freq = int(orig_freq)
        self.new_freq = int(new_freq)
        # one period: `period_in` input samples give `period_out` outputs
        self.period_in = self.orig_freq // gcd
        self.period_out = self.new_freq // gcd
        # half-width of torchaudio's sinc kernel in input samples
        # (lowpass_filter_width=6, rolloff=0.99), rounded up to periods
        base = min(self.period_in, self.period_out) * 0.99
        width = math.ceil(6 * self.period_in / base)
        self.context = math.ceil((width + 1) / self.period_in) * self.period_in
        self._left = None
        self._pending = None
        # the sinc kernel is computed once
        self._resampler = torchaudio.transforms.Resample(
            self.period_in, self.period_out
        )

    def _resample(self, block):
        """Resamples ``[n, channels]`` (or returns it as is)."""
        if self.period_in == self.period_out:
            return block
        resampler = self._resampler.to(block.device)
        return resampler(block.T.float()).T.to(block.dtype)

    def push(self, block):
        """Adds ``[n, channels]`` input samples; returns the new output."""
        if self._pending is None:
            self._pending = block[:0]
            self._left = block[:0]
        if self.period_in == self.period_out:
            return block
        pending = torch.cat([self._pending, block])
        # keep `context` samples back as the right context
        usable = (pending.shape[0] - self.context) // self.period_in
        usable *= self.period_in
        if usable <= 0:
            self._pending = pending
            return block[:0]
        segment = torch.cat([self._left, pending[: usable + self.context]])
        start = self._left.shape[0] // self.period_in * self.period_out
        count = usable // self.period_in * self.period_out
        out = self._resample(segment)[start : start + count]
        self._left = torch.cat([self._left, pending[:usable]])[-self.context :]
        self._pending = pending[usable:]
        return out

    def flush(self):
        """Returns the last output samples; the resampler is then reset."""
        pending, left = self._pending, self._left
        self._pending = self._left = None
        if pending is None:
            return torch.zeros(0, 1)
        if pending.shape[0] == 0:
            return pending
        segment = torch.cat([left, pending])
        start = left.shape[0] // self.period_in * self.period_out
        count = -(-pending.shape[0] * self.period_out // self.period_in)
        return self._resample(segment)[start : start + count]


def align_sources(reference, estimate):
    """Reorders the sources of ``estimate`` to best match ``reference``.

    For every item of the batch, the permutation of the C sources with the
    highest summed cosine similarity to the reference is applied.  Used on
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
    n, C = reference.shape[1], reference.shape[2]
    head = estimate[:, :n]
    ref = reference / (reference.norm(dim=1, keepdim=True) + 1e-8)
    head = head / (head.norm(dim=1, keepdim=True) + 1e-8)
    # [B, C, C]: similarity of reference source c and estimated source d
    similarity = torch.einsum("bnc,bnd->bcd", ref, head)
    orders = torch.tensor(list(permutations(range(C))), device=ref.device)
    rows = torch.arange(C, device=ref.device)
    # [B, C!]
    scores = similarity[:, rows, orders].sum(dim=-1)
    # [B, C]: for each item, which estimated source goes to place c
    chosen = orders[scores.argmax(dim=-1)]
    index = chosen[:, None, :].expand(-1, estimate.shape[1], -1)
    return estimate.gather(2, index)


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
            if self._bar is not None:
                self._bar.close()
                self._bar = None


def _looks_remote(path, slashes):
    """Whether a path that does not exist locally names a URL or a hub
    entry (``owner/repo`` for 1 slash, ``owner/repo/file`` for 2)."""
    if "://" in path:
        return True
    if path.startswith((".", "/", "~")) or "\\" in path:
        return False
    return path.count("/") == slashes


def _peak_normalize(sources, eps=1e-8):
    """Scales each source of ``[B, T, C]`` to a peak of 1 (silent ones are
    left as they are)."""
    peak = sources.abs().amax(dim=1, keepdim=True)
    return sources / peak.clamp(min=eps)


class GALRSeparation(Pretrained):
    """A ready-to-use GALR separation model.

    The API of SpeechBrain's ``SepformerSeparation``: build it with
    ``GALRSeparation.from_hparams(source=..., savedir=...)`` from a folder
    written by :mod:`speechbrain_galr.export` (or a hub repository with the
    same files), then call :meth:`separate_batch` on ``[B, T]`` tensors at
    the model's sample rate or :meth:`separate_file` on a file of any rate
    and channel count.  Long inputs are separated in chunks
    (:meth:`separate_chunked`, :meth:`separate_file_to_folder`).

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> from speechbrain_galr import HPARAMS_DIR
    >>> with open(os.path.join(HPARAMS_DIR, "galr-model.yaml")) as fin:
    ...     hparams = load_hyperpyyaml(fin, {"num_filters": 16,
    ...         "hidden_channels": 8, "num_blocks": 1, "num_heads": 2,
    ...         "segment_size": 10, "reduced_segment_size": 4})
    >>> model = GALRSeparation(hparams["modules"], hparams)
    >>> mix = torch.randn(2, 4000)  # [B, T]
    >>> model.separate_batch(mix).shape
    torch.Size([2, 4000, 2])
    >>> model.separate_chunked(mix, chunk_seconds=0.2).shape
    torch.Size([2, 4000, 2])
    """

    HPARAMS_NEEDED = ["sample_rate", "num_spks"]
    MODULES_NEEDED = ["encoder", "masknet", "decoder"]

    chunk_seconds = 10.0
    """Chunk length of chunked separation; inputs up to this length are
    separated whole by :meth:`separate_file`."""
    overlap_seconds = 2.0
    """Samples shared by consecutive chunks, in seconds."""

    @classmethod
    def from_hparams(cls, source, hparams_file="hyperparams.yaml", **kwargs):
        """Loads a model folder (or hub repository) as SpeechBrain does.

        A folder written by :func:`speechbrain_galr.export.export_model`
        names its checkpoint files relative to ``pretrained_path``; when
        ``source`` is a local folder, ``pretrained_path`` is pointed at it,
        so the folder can be moved or copied.

        Arguments
        ---------
        source : str
            Local folder or hub id with ``hyperparams.yaml`` and the
            ``encoder.ckpt``, ``masknet.ckpt`` and ``decoder.ckpt`` files.
        hparams_file : str
            Name of the hyperparameter file in ``source``.
        **kwargs : dict
            Passed on to SpeechBrain's ``pretrained_from_hparams``
            (``savedir``, ``overrides``, ``run_opts``...).

        Returns
        -------
        GALRSeparation
        """
        source_str = str(source)
        if not os.path.exists(source_str) and not _looks_remote(source_str, 1):
            raise FileNotFoundError(f"model folder not found: {source}")
        if os.path.isdir(source_str):
            hparams_path = os.path.join(source_str, hparams_file)
            if not os.path.isfile(hparams_path):
                raise FileNotFoundError(
                    f"model folder {source} has no {hparams_file}; export a "
                    "recipe with `python -m speechbrain_galr export`"
                )
            with open(hparams_path, encoding="utf-8") as fin:
                has_path = any(
                    line.startswith("pretrained_path:") for line in fin
                )
            overrides = dict(kwargs.pop("overrides", None) or {})
            if has_path:
                overrides.setdefault(
                    "pretrained_path", os.path.abspath(source_str)
                )
            kwargs["overrides"] = overrides
        return super().from_hparams(source, hparams_file, **kwargs)

    @property
    def sample_rate(self):
        """The model's sample rate in Hz."""
        return int(self.hparams.sample_rate)

    def separate_batch(self, mix, lengths=None):
        """Separates a batch of mixtures at the model's sample rate.

        Arguments
        ---------
        mix : torch.Tensor
            ``[B, T]`` mixtures.
        lengths : torch.Tensor or None
            ``[B]`` relative lengths of padded mixtures, or None.

        Returns
        -------
        torch.Tensor
            ``[B, T, C]`` estimated sources.
        """
        mix = mix.to(self.device)
        if lengths is not None:
            lengths = lengths.to(self.device)
        check_mixtures(mix, lengths)
        with torch.no_grad():
            return self._model()(mix, lengths)

    def _model(self):
        """The hparams' TasNet ``model``, or one made of the three modules
        (hub folders exported before the ``model`` entry existed)."""
        if "model" in self.mods:
            return self.mods.model
        return TasNet(self.mods.encoder, self.mods.masknet, self.mods.decoder)

    def separate_chunked(
        self, mix, chunk_seconds=None, overlap_seconds=None, progress=None
    ):
        """Separates long mixtures chunk by chunk (see
        :class:`ChunkedSeparator`); peak memory depends on the chunk length.

        Arguments
        ---------
        mix : torch.Tensor
            ``[B, T]`` mixtures at the model's sample rate.
        chunk_seconds : float or None
            Chunk length (default :attr:`chunk_seconds`).
        overlap_seconds : float or None
            Overlap of consecutive chunks (default :attr:`overlap_seconds`,
            at most half a chunk).
        progress : bool or None
            Progress bar; by default shown from 4 chunks on.

        Returns
        -------
        torch.Tensor
            ``[B, T, C]`` estimated sources.
        """
        if not torch.is_tensor(mix) or mix.dim() != 2:
            shape = tuple(mix.shape) if torch.is_tensor(mix) else type(mix)
            raise ValueError(f"mixtures must be a [B, T] tensor, got {shape}")
        chunked = self._chunked_separator(
            mix.shape[1], chunk_seconds, overlap_seconds, progress
        )
        out = [chunked.push(mix), chunked.flush()]
        return torch.cat([o for o in out if o.shape[1] > 0], dim=1)

    def _chunked_separator(self, total, chunk_seconds, overlap_seconds, bar):
        """A :class:`ChunkedSeparator` for ``total`` samples."""
        chunk_seconds = chunk_seconds or self.chunk_seconds
        if overlap_seconds is None:
            overlap_seconds = min(self.overlap_seconds, chunk_seconds / 4)
        chunk = max(2, round(chunk_seconds * self.sample_rate))
        overlap = round(overlap_seconds * self.sample_rate)
        overlap = min(max(overlap, 1), chunk // 2)
        if bar is None:
            bar = total > chunk + 3 * (chunk - overlap)
        return ChunkedSeparator(
            self.separate_batch, chunk, overlap, total=total, progress=bar
        )

    def _fetch(self, path, savedir):
        """Local path of ``path`` (fetched when it is a URL or hub file)."""
        path = str(path)
        if os.path.exists(path) or not _looks_remote(path, 2):
            return path
        source, filename = split_path(path)
        try:
            return str(
                fetch(
                    filename,
                    source=source,
                    savedir=savedir,
                    local_strategy=LocalStrategy.SYMLINK,
                )
            )
        except Exception as err:
            raise AudioInputError(
                f"audio file not found: {path} (not a local file, and "
                f"fetching it failed: {err})"
            ) from err

    def separate_file(
        self, path, savedir=None, chunk_seconds=None, normalize=True
    ):
        """Separates the sources of an audio file.

        The file may have any sample rate and number of channels: channels
        are averaged and the signal is resampled to the model's rate.
        Recordings longer than ``chunk_seconds`` are separated in chunks.

        Arguments
        ---------
        path : str
            Audio file (local path, URL or hub file, as SpeechBrain's).
        savedir : str or None
            Where to store a downloaded file.
        chunk_seconds : float or None
            Chunk length for long files (default :attr:`chunk_seconds`).
        normalize : bool
            Scale each source to a peak of 1, as ``SepformerSeparation``
            does (silent sources stay silent).

        Returns
        -------
        torch.Tensor
            ``[1, T, C]`` sources at the model's sample rate.
        """
        signal, rate = load_mono(self._fetch(path, savedir))
        if rate != self.sample_rate:
            logger.info(
                f"Resampling the audio from {rate} Hz to {self.sample_rate} Hz"
            )
            signal = torchaudio.functional.resample(
                signal, rate, self.sample_rate
            )
        # [1, T]
        mix = signal[None].to(self.device)
        chunk = round((chunk_seconds or self.chunk_seconds) * self.sample_rate)
        if mix.shape[1] <= chunk:
            est = self.separate_batch(mix)
        else:
            est = self.separate_chunked(mix, chunk_seconds)
        return _peak_normalize(est) if normalize else est

    def separate_file_to_folder(
        self,
        path,
        out_dir,
        chunk_seconds=None,
        overlap_seconds=None,
        block_seconds=30.0,
        progress=None,
    ):
        """Separates an audio file of any length into one wav per source.

        The file is read, resampled to the model's rate, separated in
        chunks (:class:`ChunkedSeparator`), resampled back to the file's
        rate and written block by block, so memory does not grow with the
        file's length.  Each source is then scaled to a peak of 0.99 and
        written as 16-bit PCM ``<name>_source<i>.wav``.

        Arguments
        ---------
        path : str
            Audio file (any rate and channel count).
        out_dir : str
            Output folder (created).
        chunk_seconds : float or None
            Chunk length (default :attr:`chunk_seconds`).
        overlap_seconds : float or None
            Overlap of chunks (default :attr:`overlap_seconds`).
        block_seconds : float
            Seconds of audio read from disk at a time.
        progress : bool or None
            Progress bar; by default shown for files of more than 4 chunks.

        Returns
        -------
        list of str
            The written files, one per source.
        """
        os.makedirs(out_dir, exist_ok=True)
        name = os.path.splitext(os.path.basename(str(path)))[0]
        with open_audio(self._fetch(path, None)) as audio:
            rate = audio.samplerate
            total = -(-audio.frames * self.sample_rate // rate)
            to_model = StreamResampler(rate, self.sample_rate)
            to_file = StreamResampler(self.sample_rate, rate)
            chunked = self._chunked_separator(
                total, chunk_seconds, overlap_seconds, progress
            )
            writers, peaks = [], None
            # the round trip through the model's rate may add a sample
            remaining = audio.frames
            tmp_dir = tempfile.mkdtemp(prefix=".galr-", dir=out_dir)
            try:

                def write(est):
                    """Writes ``[1, n, C]`` model-rate output."""
                    nonlocal peaks, remaining
                    if est.shape[1] == 0:
                        return
                    # [n, C] at the file's rate
                    est = to_file.push(est[0].cpu())[:remaining]
                    remaining -= est.shape[0]
                    if not writers:
                        for i in range(est.shape[1]):
                            tmp = os.path.join(tmp_dir, f"{i}.wav")
                            writers.append(
                                sf.SoundFile(tmp, "w", rate, 1, "FLOAT")
                            )
                        peaks = torch.zeros(est.shape[1])
                    if est.shape[0] > 0:
                        peaks = torch.maximum(peaks, est.abs().amax(dim=0))
                        for i, writer in enumerate(writers):
                            writer.write(est[:, i].numpy())

                block = max(1, round(block_seconds * rate))
                for samples in read_mono_blocks(audio, block):
                    # [n, 1] at the model's rate
                    resampled = to_model.push(samples[:, None])
                    write(chunked.push(resampled.T.to(self.device)))
                write(chunked.push(to_model.flush().T.to(self.device)))
                write(chunked.flush())
                tail = to_file.flush()[:remaining]
                if tail.shape[0] > 0:
                    peaks = torch.maximum(peaks, tail.abs().amax(dim=0))
                    for i, writer in enumerate(writers):
                        writer.write(tail[:, i].numpy())
                for writer in writers:
                    writer.close()
                return self._normalize_wavs(
                    tmp_dir, out_dir, name, peaks, rate, block
                )
            finally:
                for writer in writers:
                    writer.close()
                for leftover in os.listdir(tmp_dir):
                    os.remove(os.path.join(tmp_dir, leftover))
                os.rmdir(tmp_dir)

    @staticmethod
    def _normalize_wavs(tmp_dir, out_dir, name, peaks, rate, block):
        """Rewrites the raw sources as peak-normalised 16-bit wavs."""
        paths = []
        for i, peak in enumerate(peaks.tolist()):
            gain = 0.99 / peak if peak > 1e-8 else 1.0
            path = os.path.join(out_dir, f"{name}_source{i + 1}.wav")
            with sf.SoundFile(os.path.join(tmp_dir, f"{i}.wav")) as fin:
                with sf.SoundFile(path, "w", rate, 1, "PCM_16") as fout:
                    for samples in fin.blocks(block, dtype="float32"):
                        fout.write(samples * gain)
            paths.append(path)
        return paths

    def separate_with_attention(self, mix):
        """Separates ``[B, T]`` mixtures and returns the attention weights.

        Returns
        -------
        est_sources : torch.Tensor
            ``[B, T, C]``.
        attention : list of torch.Tensor
            One ``[B, rows, J, S, S]`` tensor per GALR block: the softmax
            weights of eq. 8 (row r, head j: how much segment s attends to
            segment s'), as in the paper's Fig. 3.
        """
        masknet = self._model().masknet
        if not hasattr(masknet, "keep_attention"):
            raise TypeError(
                f"the mask network ({type(masknet).__name__}) does not keep "
                "attention weights; a GALR mask network does"
            )
        masknet.keep_attention(True)
        try:
            est = self.separate_batch(mix)
            attention = [a.cpu() for a in masknet.attention_weights()]
        finally:
            masknet.keep_attention(False)
        return est, attention

    def forward(self, mix):
        """Separates ``[B, T]`` mixtures (see :meth:`separate_batch`)."""
        return self.separate_batch(mix)
