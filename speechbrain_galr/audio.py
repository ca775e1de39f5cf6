"""Reading, resampling and writing audio: the one audio module.

Every reader of the package goes through here, so that all of them accept
the same files and treat them the same way:

* files: whatever libsndfile decodes (:data:`AUDIO_EXTENSIONS`), checked
  with errors that name the file and the problem (:class:`AudioInputError`);
  a WAV file shorter than its header claims is read as far as it goes, with
  a warning (:func:`audio_info`);
* channels: **the channels of a multi-channel file are averaged** (the
  mean of the channels, the rule of SpeechBrain's ``AudioNormalizer``);
* reading: whole or cropped (:func:`read_audio`, which decodes only the
  crop) or streamed block by block (:func:`open_audio` and
  :func:`read_blocks`);
* resampling: ``soxr`` (the SoX resampler, high quality), the same for a
  whole signal (:func:`resample`) and for a stream (:class:`StreamResampler`,
  whose blocks join into exactly the whole-signal result), with
  ``ceil(T * new_rate / rate)`` output samples;
* writing: atomic (:func:`write_wav`, through
:mod:`speechbrain_galr.atomic_files`).

Authors
 * speechbrain-galr contributors 2026
"""

import collections
import math
import os
import stat
import struct

import numpy as np
import soundfile as sf
import torch
from speechbrain.utils.logger import get_logger

from speechbrain_galr.atomic_files import atomic_path
from speechbrain_galr.errors import GALRError

logger = get_logger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
"""File name endings read as audio (what soundfile decodes)."""

AudioInfo = collections.namedtuple(
    "AudioInfo", ["frames", "sample_rate", "channels"]
)
"""Length (samples per channel), sample rate (Hz) and channel count."""


class AudioInputError(GALRError):
    """Raised when an audio file cannot be used (the message names the file
    and says why: missing, empty, not audio, NaN values...)."""


class AudioNotFoundError(AudioInputError, FileNotFoundError):
    """Raised when an audio file does not exist."""


class ResamplerUnavailableError(GALRError, ImportError):
    """Raised when a signal must be resampled and ``soxr`` is not
    installed (an exported model's ``custom_interface.py`` loads with
    SpeechBrain alone, which does not install it)."""


def _import_soxr(orig_freq, new_freq):
    """``soxr``, or a one-line error that says how to install it."""
    try:
        import soxr
    except ImportError as err:
        raise ResamplerUnavailableError(
            f"resampling from {orig_freq} Hz to {new_freq} Hz needs the "
            "soxr package, which is not installed: pip install soxr (or "
            "give audio at the model's rate)"
        ) from err
    return soxr


def check_audio_path(path):
    """Raises :class:`AudioInputError` unless ``path`` is a non-empty file.

    Example
    -------
    >>> check_audio_path("no/such.wav")
    Traceback (most recent call last):
    ...
    speechbrain_galr.audio.AudioNotFoundError: audio file not found: no/such.wav
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioNotFoundError(f"audio file not found: {path}")
    if os.path.isdir(path):
        raise AudioInputError(f"expected an audio file, got a folder: {path}")
    if not stat.S_ISREG(os.stat(path).st_mode):
        # a FIFO or a piped /dev/stdin: its size says 0, and the reader
        # needs to seek (header, length, a second pass)
        raise AudioInputError(
            f"cannot read audio file {path}: it is a pipe or a device, not "
            "a regular file; save the audio to a file first"
        )
    if os.path.getsize(path) == 0:
        raise AudioInputError(
            f"cannot read audio file {path}: it is empty (0 bytes)"
        )
    try:
        with open(path, "rb"):
            pass
    except PermissionError as err:
        raise AudioInputError(
            f"cannot read audio file {path}: permission denied"
        ) from err


def sound_write_problem(err):
    """What a failed soundfile write says, with libsndfile's "System
    error." replaced by the system's reason (ENOSPC: "No space left on
    device"), which libsndfile leaves in errno.

    Example
    -------
    >>> try:
    ...     sf.SoundFile("/dev/full", "w", 8000, 1, format="WAV")
    ... except sf.LibsndfileError as err:
    ...     print(sound_write_problem(err))
    No space left on device
    """
    text = getattr(err, "error_string", None) or str(err)
    if "System error" in text:
        code = sf._ffi.errno  # errno of libsndfile's failed call
        if code:
            return os.strerror(code)
    return text


def _wav_header_frames(path):
    """Frames that a WAV file's header claims (None if not a WAV file or
    if the header leaves the length open)."""
    with open(path, "rb") as fin:
        head = fin.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = fin.read(8)
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = fin.read(size + size % 2)
                block_align = struct.unpack("<H", fmt[12:14])[0]
            elif name == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                fin.seek(size + size % 2, os.SEEK_CUR)


def _warn_if_truncated(path, frames, rate):
    """Warns when a WAV header claims more samples than the file holds."""
    claimed = _wav_header_frames(path)
    if claimed is not None and claimed > frames:
        logger.warning(
            f"warning: {path} is truncated: its header claims "
            f"{claimed / rate:.2f} s ({claimed} samples), the file holds "
            f"{frames / rate:.2f} s ({frames} samples); using what it holds"
        )


def _soundfile_error(path, err):
    """The error for a file that libsndfile cannot open."""
    return AudioInputError(
        f"cannot read audio file {path}: not audio that soundfile decodes "
        f"({err})"
    )


def audio_info(path, warn_truncated=True):
    """Length, sample rate and channel count of an audio file.

    Arguments
    ---------
    path : str
        Audio file.
    warn_truncated : bool
        Warn when a WAV header claims more samples than the file holds
        (False where the file is read, and warned about, later).

    Returns
    -------
    AudioInfo
        ``(frames, sample_rate, channels)`` at the file's own rate.

    Raises
    ------
    AudioInputError
        If the file is missing, empty, not audio or has no samples.

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "tone.wav")
    >>> sf.write(path, np.zeros((1600, 2)), 16000)
    >>> audio_info(path)
    AudioInfo(frames=1600, sample_rate=16000, channels=2)
    """
    path = os.fspath(path)
    check_audio_path(path)
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _soundfile_error(path, err) from err
    if info.frames <= 0:
        raise AudioInputError(
            f"cannot read audio file {path}: it has no samples"
        )
    if warn_truncated:
        _warn_if_truncated(path, info.frames, info.samplerate)
    return AudioInfo(int(info.frames), int(info.samplerate), info.channels)


def open_audio(path):
    """Opens an audio file for block reading, checking that it is usable.

    Arguments
    ---------
    path : str
        Audio file.

    Returns
    -------
    soundfile.SoundFile
        The open file (the caller closes it).

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "noise.wav")
    >>> sf.write(path, np.zeros((800, 2)), 16000)
    >>> with open_audio(path) as audio:
    ...     print(audio.frames, audio.channels, audio.samplerate)
    800 2 16000
    """
    audio_info(path)
    try:
        return sf.SoundFile(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _soundfile_error(path, err) from err


def to_mono(samples, name="audio"):
    """The channel rule: ``[n, channels]`` samples to ``[n]`` float32, the
    mean of the channels; NaN or Inf samples raise an error naming
    ``name``.

    Example
    -------
    >>> to_mono(np.array([[0.5, -0.25], [1.0, 0.0]], dtype=np.float32))
    tensor([0.1250, 0.5000])
    """
    if not np.isfinite(samples).all():
        raise AudioInputError(f"audio file contains NaN or Inf values: {name}")
    return torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))


def read_blocks(audio, block_frames):
    """Reads an open file block by block, as mono (:func:`to_mono`).

    Arguments
    ---------
    audio : soundfile.SoundFile
        File opened by :func:`open_audio`.
    block_frames : int
        Frames per block (the last block may be shorter).

    Yields
    ------
    torch.Tensor
        ``[n]`` float32 samples at the file's rate.

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "stereo.wav")
    >>> sf.write(path, np.ones((1000, 2)) * [0.5, -0.25], 8000)
    >>> with open_audio(path) as audio:
    ...     blocks = list(read_blocks(audio, 400))
    >>> [b.shape[0] for b in blocks], float(blocks[0][0])
    ([400, 400, 200], 0.125)
    """
    while True:
        # [n, channels]
        block = audio.read(block_frames, dtype="float32", always_2d=True)
        if block.shape[0] == 0:
            return
        yield to_mono(block, audio.name)


def read_audio(path, sample_rate=None, start=0, num_samples=None, info=None):
    """Reads a whole audio file, or a crop of it, as mono.

    Channels are averaged (:func:`to_mono`) and the signal is resampled
    when ``sample_rate`` differs from the file's.  ``start`` and
    ``num_samples`` count samples at ``sample_rate``; only the crop (and
    a sample of margin) is decoded.

    Arguments
    ---------
    path : str
        Audio file of any rate and channel count.
    sample_rate : int or None
        Rate of the result in Hz; None for the file's own rate.
    start : int
        First sample to return.
    num_samples : int or None
        Samples to return (fewer if the file ends first); None for all.
    info : AudioInfo or None
        The file's :func:`audio_info`, where the caller has it already
        (corpora keep it), so that the file is not inspected again.

    Returns
    -------
    torch.Tensor
        ``[T]`` float32 waveform.

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "stereo.wav")
    >>> sf.write(path, 0.1 * np.ones((32000, 2)), 16000)
    >>> read_audio(path).shape, read_audio(path, 8000, 100, 800).shape
    (torch.Size([32000]), torch.Size([800]))
    """
    path = os.fspath(path)
    frames, file_rate, _ = info or audio_info(path)
    sample_rate = sample_rate or file_rate
    ratio = file_rate / sample_rate
    file_start = int(math.floor(start * ratio))
    file_stop = frames
    if num_samples is not None:
        file_stop = min(frames, int(math.ceil((start + num_samples) * ratio)))
    try:
        data, _ = sf.read(
            path,
            start=file_start,
            stop=file_stop,
            dtype="float32",
            always_2d=True,
        )
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioInputError(
            f"cannot decode audio file {path}: {err}"
        ) from err
    if data.shape[0] == 0:
        raise AudioInputError(
            f"no samples in {path} from sample {start} at {sample_rate} Hz "
            f"(the file has {frames} samples at {file_rate} Hz)"
        )
    signal = resample(to_mono(data, path), file_rate, sample_rate)
    return signal if num_samples is None else signal[:num_samples]


def load_mono(path):
    """Reads a whole audio file as mono at its own rate.

    Returns
    -------
    signal : torch.Tensor
        ``[T]`` float32 samples.
    sample_rate : int
        The file's sample rate.

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "stereo.wav")
    >>> sf.write(path, np.ones((1000, 2)) * [0.5, -0.25], 44100)
    >>> signal, rate = load_mono(path)
    >>> signal.shape, rate
    (torch.Size([1000]), 44100)
    """
    info = audio_info(path)
    return read_audio(path, info=info), info.sample_rate


def resampled_length(num_samples, orig_freq, new_freq):
    """Samples of a signal of ``num_samples`` resampled to ``new_freq``.

    Example
    -------
    >>> resampled_length(1, 44100, 8000), resampled_length(44100, 44100, 8000)
    (1, 8000)
    """
    return -(-num_samples * new_freq // orig_freq)


class StreamResampler:
    """Resamples a signal that arrives block by block (``soxr``).

    :meth:`push` returns the output samples computed so far and
    :meth:`flush` the rest; the concatenated output equals
    :func:`resample` of the whole signal, ``ceil(T * new_freq /
    orig_freq)`` samples, and memory does not grow with the signal.

    Arguments
    ---------
    orig_freq : int
        Input sample rate.
    new_freq : int
        Output sample rate.
    channels : int
        Channels of the ``[n, channels]`` blocks.

    Example
    -------
    >>> signal = torch.randn(44100, 2)  # [T, channels]
    >>> resampler = StreamResampler(44100, 8000, channels=2)
    >>> out = [resampler.push(b) for b in signal.split(10000)]
    >>> out = torch.cat(out + [resampler.flush()])
    >>> out.shape, bool((out - resample(signal, 44100, 8000)).abs().max() == 0)
    (torch.Size([8000, 2]), True)
    """

    def __init__(self, orig_freq, new_freq, channels=1):
        if orig_freq <= 0 or new_freq <= 0:
            raise ValueError(
                f"sample rates must be positive, got {orig_freq}, {new_freq}"
            )
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)
        self.channels = channels
        self._stream = None
        self._count_in = self._count_out = 0

    def push(self, block, last=False):
        """Adds ``[n, channels]`` samples; returns the new output."""
        if self.orig_freq == self.new_freq:
            return block
        if self._stream is None:
            # imported here: custom_interface.py of an exported model must
            # load with only speechbrain installed (soxr is needed only for
            # files at another rate)
            soxr = _import_soxr(self.orig_freq, self.new_freq)

            self._stream = soxr.ResampleStream(
                self.orig_freq, self.new_freq, self.channels, dtype="float32"
            )
            self._count_in = self._count_out = 0
        samples = block.detach().cpu().float().numpy()
        self._count_in += samples.shape[0]
        if last:
            # zeros after the end, so that soxr's rounding gives at least
            # ceil(T * new / orig) samples; the extra ones are cut
            pad = math.ceil(self.orig_freq / self.new_freq) + 1
            samples = np.concatenate(
                [samples, np.zeros((pad, self.channels), np.float32)]
            )
        out = self._stream.resample_chunk(samples, last=last)
        if last:
            total = resampled_length(
                self._count_in, self.orig_freq, self.new_freq
            )
            out = out[: max(0, total - self._count_out)]
            self._stream = None
        self._count_out += out.shape[0]
        return torch.from_numpy(np.ascontiguousarray(out)).to(block.dtype)

    def flush(self):
        """Returns the last output samples; the resampler is then reset."""
        if self._stream is None:
            return torch.zeros(0, self.channels)
        return self.push(torch.zeros(0, self.channels), last=True)


def resample(signal, orig_freq, new_freq):
    """Resamples ``[T]`` or ``[T, channels]`` with ``soxr``, to
    ``ceil(T * new_freq / orig_freq)`` samples.

    Example
    -------
    >>> resample(torch.randn(1000), 16000, 8000).shape
    torch.Size([500])
    """
    if orig_freq == new_freq:
        return signal
    # [T, channels]
    frames = signal if signal.dim() == 2 else signal[:, None]
    resampler = StreamResampler(orig_freq, new_freq, frames.shape[1])
    out = resampler.push(frames, last=True)
    return out if signal.dim() == 2 else out[:, 0]


def write_wav(path, signal, sample_rate, subtype="PCM_16"):
    """Writes ``[T]`` or ``[T, channels]`` samples to a WAV file atomically
    (a kill leaves the old file or the new one, never a partial one).

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "out.wav")
    >>> write_wav(path, torch.zeros(800), 8000)
    >>> audio_info(path)
    AudioInfo(frames=800, sample_rate=8000, channels=1)
    """
    if torch.is_tensor(signal):
        signal = signal.detach().cpu().numpy()
    with atomic_path(path) as tmp:
        try:
            sf.write(tmp, signal, sample_rate, subtype=subtype, format="WAV")
        except sf.LibsndfileError as err:
            raise OSError(
                f"cannot write {path}: {sound_write_problem(err)}"
            ) from err
