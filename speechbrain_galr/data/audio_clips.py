"""Folders of audio clips (music, noise) and signal levels for mixing.

What the corpus creation scripts and the dynamic mixing of the LibriMix
and WSJ0Music recipes have in common, besides the speech side that
:mod:`speechbrain_galr.data.corpus` handles
(:class:`~speechbrain_galr.data.corpus.
SpeakerCorpus`): a folder of music tracks or noise recordings of any sample
rate and channel count from which non-silent crops of a given length are
drawn (:class:`ClipFolder`), a train/valid/test split of such clips
(:func:`split_names`), and scaling one signal against another to a ratio in
dB (:func:`scale_to_ratio`: speech-to-music ratio, signal-to-noise ratio).

Authors
 * speechbrain-galr contributors 2026
"""

import math
import os

import numpy as np
import soundfile as sf  # noqa: F401 (the doctests write files)
import torch  # noqa: F401 (the doctests make tensors)

from speechbrain_galr.audio import (  # noqa: F401 (audio_info: public API)
    AUDIO_EXTENSIONS,
    audio_info,
    read_audio,
)

SILENCE_DB = -60.0
"""Mean power (dB re full scale) below which a signal counts as silent."""


def _check_folder(folder, what):
    """Raises FileNotFoundError naming ``what`` if ``folder`` is missing."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what} folder not found: {folder}")


def list_audio_files(folder, extensions=AUDIO_EXTENSIONS, what="audio"):
    """Sorted paths of the audio files anywhere below ``folder``.

    Arguments
    ---------
    folder : str
        Folder to search (recursively).
    extensions : tuple of str
        File name endings to keep (case-insensitive).
    what : str
        What the folder holds, for error messages.

    Returns
    -------
    list of str

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> for name in ["b.flac", "a.wav", "notes.txt"]:
    ...     _ = (folder / name).write_bytes(b"")
    >>> [os.path.basename(p) for p in list_audio_files(str(folder))]
    ['a.wav', 'b.flac']
    """
    _check_folder(folder, what)
    endings = tuple(ext.lower() for ext in extensions)
    paths = [
        os.path.join(root, name)
        for root, _, names in os.walk(folder, followlinks=True)
        for name in names
        if name.lower().endswith(endings)
    ]
    if not paths:
        raise ValueError(
            f"no {what} files ({', '.join(endings)}) found in {folder}"
        )
    return sorted(paths)


def split_names(names, num_valid, num_test, min_train=1, sort_key=None):
    """Splits sorted names into ``tr``, ``cv`` and ``tt`` (in that order).

    The first names are for training, the next ``num_valid`` for
    validation and the last ``num_test`` for testing, so that music tracks
    (or noise recordings) of one split never appear in another; the keys
    are those of the wsj0-mix subsets
    (:data:`speechbrain_galr.data.corpus.SPLITS`).

    Arguments
    ---------
    names : list of str
        Names to split; sorted here (by ``sort_key`` if given).
    num_valid : int or float
        Names for validation: a count, or a fraction in (0, 1).
    num_test : int or float
        Names for testing: a count, or a fraction in (0, 1).
    min_train : int
        Fewest names left for training.
    sort_key : callable or None
        Sort key of the names.

    Returns
    -------
    dict
        ``{"tr": [...], "cv": [...], "tt": [...]}``.

    Example
    -------
    >>> split_names(["c", "a", "d", "b", "e"], 1, 0.2)
    {'tr': ['a', 'b', 'c'], 'cv': ['d'], 'tt': ['e']}
    """
    names = sorted(names, key=sort_key)
    valid = split_count(num_valid, len(names), "num_valid")
    test = split_count(num_test, len(names), "num_test")
    train = len(names) - valid - test
    if train < min_train:
        raise ValueError(
            f"{len(names)} names are too few for {valid} validation, "
            f"{test} test and {min_train} training names"
        )
    return {
        "tr": names[:train],
        "cv": names[train : train + valid],
        "tt": names[train + valid :],
    }


def split_count(value, total, what="count"):
    """A count, or a fraction in (0, 1) of ``total`` (at least 1).

    Example
    -------
    >>> split_count(3, 50), split_count(0.1, 251)
    (3, 25)
    """
    if isinstance(value, float) and 0 < value < 1:
        return max(1, round(value * total))
    if value < 0 or value != int(value):
        raise ValueError(
            f"{what} must be a count or a fraction in (0, 1), got {value}"
        )
    return int(value)


def count_or_fraction(text):
    """argparse type of :func:`split_count` values: ``3`` is a count,
    ``0.1`` a fraction.

    Example
    -------
    >>> count_or_fraction("3"), count_or_fraction("0.1")
    (3, 0.1)
    """
    value = float(text)
    return int(value) if value >= 1 or value == 0 else value


def load_audio(path, sample_rate, offset=0, num_samples=None, info=None):
    """Reads (part of) an audio file as mono at ``sample_rate``: the
    package's one reader, :func:`speechbrain_galr.audio.read_audio`
    (``offset`` and ``num_samples`` count samples at ``sample_rate``;
    ``info``, the file's known :func:`audio_info`, spares inspecting it).

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "stereo.wav")
    >>> sf.write(path, 0.1 * np.ones((32000, 2)), 16000)
    >>> load_audio(path, 8000).shape, load_audio(path, 8000, 100, 800).shape
    (torch.Size([16000]), torch.Size([800]))
    """
    return read_audio(path, sample_rate, offset, num_samples, info).contiguous()


def power_db(signal):
    """Mean power of a signal in dB (re full scale).

    Example
    -------
    >>> round(power_db(torch.ones(100) * 0.1), 2)
    -20.0
    """
    return 10 * math.log10(float(signal.double().pow(2).mean()) + 1e-20)


def is_silent(signal, threshold_db=SILENCE_DB):
    """Whether the mean power of ``signal`` is below ``threshold_db``."""
    return signal.numel() == 0 or power_db(signal) < threshold_db


def scale_to_db(signal, level_db):
    """Scales ``signal`` to the mean power ``level_db`` (dB re full scale).

    Example
    -------
    >>> round(power_db(scale_to_db(torch.randn(800), -25.0)), 2)
    -25.0
    """
    if is_silent(signal, -200.0):
        raise ValueError("cannot set the level of a silent signal")
    return signal * 10 ** ((level_db - power_db(signal)) / 20)


def scale_to_ratio(target, interference, ratio_db):
    """Scales ``interference`` so that target-to-interference is ratio_db.

    ``10 log10(P_target / P_interference) = ratio_db`` after scaling, with
    ``P`` the mean power: the speech-to-music ratio (SMR) of a speech-music
    mixture, or the SNR of a speaker against another or against noise.

    Arguments
    ---------
    target : torch.Tensor
        ``[T]`` reference signal (unchanged).
    interference : torch.Tensor
        ``[T]`` signal to scale.
    ratio_db : float
        Wanted ratio in dB.

    Returns
    -------
    torch.Tensor
        The scaled ``interference``.

    Example
    -------
    >>> speech, music = torch.randn(800), 3 * torch.randn(800)
    >>> music = scale_to_ratio(speech, music, 5.0)
    >>> round(power_db(speech) - power_db(music), 2)
    5.0
    """
    return scale_to_db(interference, power_db(target) - ratio_db)


def fit_length(signal, length, offset=0):
    """``length`` samples of ``signal`` from ``offset``, tiled if too short.

    A signal shorter than ``length`` is repeated end to end (music or noise
    shorter than the speech it is mixed with).

    Example
    -------
    >>> fit_length(torch.arange(3.0), 7).tolist()
    [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]
    >>> fit_length(torch.arange(10.0), 3, offset=4).tolist()
    [4.0, 5.0, 6.0]
    """
    if signal.numel() == 0:
        raise ValueError("cannot fit the length of an empty signal")
    if offset + length <= signal.numel():
        return signal[offset : offset + length]
    reps = -(-(offset + length) // signal.numel())
    return signal.repeat(reps)[offset : offset + length]


class ClipFolder:
    """Audio clips (music tracks, noise recordings) to draw crops from.

    Only the file headers are read at construction.  Files may have any
    sample rate and channel count: crops are mono (channel mean) at
    ``sample_rate``.  A crop longer than its clip tiles the clip; a crop
    that is silent (e.g. a pause in a track) is drawn again.

    Arguments
    ---------
    clips : str or list of str
        Folder searched recursively for audio files, or a list of files.
    sample_rate : int
        Rate of the crops in Hz.
    what : str
        What the clips are (``music``, ``noise``), for error messages.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> tone = 0.1 * np.sin(np.arange(44100) * 0.05)
    >>> sf.write(str(folder / "track.flac"), np.stack([tone, tone], 1), 44100)
    >>> music = ClipFolder(str(folder), 8000, "music")
    >>> music.num_samples
    [8000]
    >>> crop, index, offset = music.crop(np.random.default_rng(0), 12000)
    >>> crop.shape, index
    (torch.Size([12000]), 0)
    """

    def __init__(self, clips, sample_rate=8000, what="audio"):
        if isinstance(clips, str):
            clips = list_audio_files(clips, what=what)
        if not clips:
            raise ValueError(f"no {what} files given")
        self.sample_rate = sample_rate
        self.what = what
        self.files = list(clips)
        self.num_samples = []
        self.infos = []
        for path in self.files:
            info = audio_info(path)
            samples = info.frames * sample_rate // info.sample_rate
            if samples == 0:
                raise ValueError(f"{what} file is empty: {path}")
            self.infos.append(info)
            self.num_samples.append(int(samples))

    def __len__(self):
        return len(self.files)

    def read(self, index, offset=0, length=None):
        """``length`` samples of clip ``index`` from ``offset``, tiled
        (wrapping to the start of the clip) when the clip ends first."""
        path, info = self.files[index], self.infos[index]
        if length is None:
            return load_audio(path, self.sample_rate, info=info)
        if offset + length <= self.num_samples[index]:
            return load_audio(path, self.sample_rate, offset, length, info)
        clip = load_audio(path, self.sample_rate, info=info)
        return fit_length(clip, length, offset)

    def crop(self, rng, length, index=None, max_tries=20):
        """A random non-silent crop of ``length`` samples.

        Arguments
        ---------
        rng : numpy.random.Generator or int
            Draws the clip (unless ``index`` is given) and the offset (an
            int seeds a new generator).
        length : int
            Samples of the crop.
        index : int or None
            Clip to crop; None for a random one.
        max_tries : int
            Draws before giving up on finding a non-silent crop.

        Returns
        -------
        crop : torch.Tensor
            ``[length]``.
        index : int
            Clip it comes from.
        offset : int
            Its first sample in the clip.
        """
        if length < 1:
            raise ValueError(f"crop length must be positive, got {length}")
        rng = np.random.default_rng(rng)
        for _ in range(max_tries):
            clip = int(rng.integers(len(self))) if index is None else index
            total = self.num_samples[clip]
            offset = int(rng.integers(max(1, total - length + 1)))
            if total < length:
                offset = int(rng.integers(total))
            signal = self.read(clip, offset, length)
            if not is_silent(signal):
                return signal, clip, offset
        where = self.files[index] if index is not None else "the files"
        raise ValueError(
            f"no non-silent {length}-sample {self.what} crop found in "
            f"{max_tries} draws from {where}"
        )
