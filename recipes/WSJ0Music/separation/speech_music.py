"""Speech-music mixtures of the WSJ0Music recipe (paper Section 3.1.1).

One mixture is a speech utterance plus a crop of a music track of the same
length, the music scaled to a speech-to-music ratio (SMR) drawn uniformly
in [0, 5] dB, then both scaled together to a random peak level.  The
sources are always in the same order, speech then music, so the network is
trained without permutation invariance.

The mixing rule is :func:`speechbrain_galr.data.mixing.mix_at_gains` with the
gains of :func:`speech_music_gains`: the fixed corpus of
``create_wsj0music.py`` writes its mixtures with it, and
:class:`SpeechMusicDataset`, the dynamic mixing of training, makes them
with it (:func:`mix_speech_music`).

Authors
 * speechbrain-galr contributors 2026
"""

import json
import os

import numpy as np
import torch

from speechbrain_galr.data.audio_clips import ClipFolder
from speechbrain_galr.data.corpus import SpeakerCorpus
from speechbrain_galr.data.dynamic_mixing import EpochSeededDataset
from speechbrain_galr.data.mixing import mix_at_gains, random_peak
from speechbrain_galr.metrics import separation_scores
from speechbrain_galr.training.brain import SeparationBrain

SOURCE_NAMES = ("speech", "music")
"""The sources in output order: ``s1`` is speech, ``s2`` is music."""

SPLITS_FILE = "splits.json"
"""File of a corpus folder naming the speakers and tracks of each split."""


def speech_music_gains(smr_db):
    """Gains (dB) of speech and music for a speech-to-music ratio, as
    :func:`speechbrain_galr.data.mixing.mix_at_gains` takes them.

    Example
    -------
    >>> speech_music_gains(3.0)
    [0.0, -3.0]
    """
    return [0.0, -float(smr_db)]


def mix_speech_music(speech, music, smr_db, rng):
    """Mixes speech and music at a speech-to-music ratio, to a random peak
    level (:func:`speechbrain_galr.data.mixing.random_peak`).

    Arguments
    ---------
    speech : torch.Tensor
        ``[T]`` speech.
    music : torch.Tensor
        ``[T]`` music (same length).
    smr_db : float
        Speech-to-music ratio in dB (mean powers).
    rng : numpy.random.Generator
        Draws the peak level of the mixture.

    Returns
    -------
    mixture : torch.Tensor
        ``[T]``.
    sources : torch.Tensor
        ``[2, T]`` speech and music, summing to the mixture.

    Example
    -------
    >>> from speechbrain_galr.data.audio_clips import power_db
    >>> rng = np.random.default_rng(0)
    >>> speech, music = torch.randn(800), torch.randn(800)
    >>> mix, src = mix_speech_music(speech, music, 3.0, rng)
    >>> mix.shape, src.shape, round(power_db(src[0]) - power_db(src[1]), 2)
    (torch.Size([800]), torch.Size([2, 800]), 3.0)
    """
    if speech.shape != music.shape or speech.dim() != 1:
        raise ValueError(
            f"speech {tuple(speech.shape)} and music {tuple(music.shape)} "
            "must be [T] signals of the same length"
        )
    # [2, T]
    sources = torch.stack([speech, music])
    return mix_at_gains(sources, speech_music_gains(smr_db), random_peak(rng))


def read_splits(corpus_folder):
    """The speakers and music tracks of each split of a created corpus.

    Arguments
    ---------
    corpus_folder : str
        Output folder of ``create_wsj0music.py``.

    Returns
    -------
    dict
        ``speech_folder``, ``music_folder``, ``speakers`` and ``tracks``
        (split name to list), as written by the creation script.
    """
    path = os.path.join(corpus_folder, SPLITS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: {corpus_folder} is not a corpus made by "
            "create_wsj0music.py"
        )
    with open(path) as fin:
        return json.load(fin)


class SpeechMusicDataset(EpochSeededDataset):
    """Speech-music mixtures made on the fly (dynamic mixing).

    Item ``i`` of epoch ``e`` is drawn with a generator seeded by
    ``(seed, e, i)``, as :class:`speechbrain_galr.data.dynamic_mixing.
    DynamicMixingDataset` does: a random utterance of a random speaker,
    cropped to ``segment_seconds`` (zero-padded when shorter), a random
    non-silent crop of a random track, and an SMR uniform in ``smr_db``.
    Items are dicts with ``id``, ``mix_sig``, ``s1_sig`` (speech) and
    ``s2_sig`` (music).

    Arguments
    ---------
    speech : str or SpeakerCorpus
        Speaker-organised speech folder, or its corpus.
    music : str, list of str or ClipFolder
        Music folder, list of track files, or their ClipFolder.
    num_mixtures : int
        Items per epoch.
    segment_seconds : float
        Mixture length.
    sample_rate : int
        Sample rate.
    smr_db : tuple of float
        Range of the speech-to-music ratio in dB.
    speakers : list of str or None
        Speakers to use (e.g. the training split); None for all.
    seed : int
        Base seed.

    Example
    -------
    >>> import soundfile as sf
    >>> folder = getfixture("tmp_path")
    >>> rng = np.random.default_rng(0)
    >>> for spk in ("a", "b"):
    ...     os.makedirs(folder / "speech" / spk)
    ...     sf.write(str(folder / "speech" / spk / "1.wav"),
    ...              0.1 * rng.standard_normal(9000), 8000)
    >>> os.makedirs(folder / "music")
    >>> sf.write(str(folder / "music" / "song.wav"),
    ...          0.1 * rng.standard_normal((30000, 2)), 16000)
    >>> data = SpeechMusicDataset(str(folder / "speech"),
    ...                           str(folder / "music"), 3, 1.0)
    >>> item = data[0]
    >>> len(data), item["mix_sig"].shape, item["s2_sig"].shape
    (3, torch.Size([8000]), torch.Size([8000]))
    """

    def __init__(
        self,
        speech,
        music,
        num_mixtures,
        segment_seconds=4.0,
        sample_rate=8000,
        smr_db=(0.0, 5.0),
        speakers=None,
        seed=1234,
    ):
        self.speech = SpeakerCorpus.of(speech, speakers, sample_rate)
        if isinstance(music, ClipFolder):
            self.music = music
        else:
            self.music = ClipFolder(music, sample_rate, "music")
        super().__init__(num_mixtures, segment_seconds, sample_rate, seed)
        if smr_db[0] > smr_db[1]:
            raise ValueError(f"smr_db must be (low, high), got {smr_db}")
        self.smr_db = tuple(smr_db)

    def draw(self, rng):
        """A speech crop and a music crop mixed at a random SMR."""
        speech, _ = draw_speech(self.speech, rng, self.segment_samples)
        speech = pad_randomly(speech, self.segment_samples, rng)
        music, _, _ = self.music.crop(rng, self.segment_samples)
        smr = rng.uniform(*self.smr_db)
        mixture, sources = mix_speech_music(speech, music, smr, rng)
        return {
            "mix_sig": mixture,
            "s1_sig": sources[0],
            "s2_sig": sources[1],
        }


def draw_speech(corpus, rng, max_samples=None):
    """A random utterance of a random speaker, cropped at random to
    ``max_samples`` when longer.

    Returns
    -------
    speech : torch.Tensor
        ``[T]`` with ``T <= max_samples``.
    origin : tuple
        ``(path, start)``: the file and the first sample taken from it.
    """
    spk = int(rng.integers(len(corpus.speakers)))
    utt = int(rng.integers(len(corpus.files[spk])))
    size = corpus.num_samples(spk, utt)
    start, length = 0, size
    if max_samples is not None and size > max_samples:
        start = int(rng.integers(size - max_samples + 1))
        length = max_samples
    speech = torch.from_numpy(
        np.ascontiguousarray(corpus.read(spk, utt, start, length))
    )
    path = corpus.files[spk][utt][0]
    if speech.numel() == 0 or not speech.abs().max() > 0:
        raise ValueError(f"silent or empty speech in {path}")
    return speech, (path, start)


def pad_randomly(signal, length, rng):
    """Zero-pads ``signal`` to ``length`` at a random place."""
    if signal.numel() >= length:
        return signal[:length]
    offset = int(rng.integers(length - signal.numel() + 1))
    return torch.nn.functional.pad(
        signal, (offset, length - signal.numel() - offset)
    )


def speech_music_scores(mixture, references, estimates):
    """Per-source SI-SNR(i) and SDR(i) of a speech-music separation.

    The fixed-order case of :func:`speechbrain_galr.metrics.
    separation_scores`: the estimates are taken in their order (speech,
    then music), no permutation is searched; the improvements are over the
    mixture taken as the estimate of each source.

    Arguments
    ---------
    mixture : torch.Tensor
        ``[T]`` mixture.
    references : torch.Tensor
        ``[T, 2]`` speech and music.
    estimates : torch.Tensor
        ``[T, 2]`` estimated speech and music.

    Returns
    -------
    dict
        ``speech_si-snr``, ``speech_si-snr_i``, ``speech_sdr``,
        ``speech_sdr_i``, the same for ``music_``, and their means ``sdr``,
        ``sdr_i``, ``si-snr``, ``si-snr_i`` (dB).

    Example
    -------
    >>> refs = torch.randn(1600, 2)
    >>> est = refs + 0.1 * torch.randn(1600, 2)
    >>> scores = speech_music_scores(refs.sum(-1), refs, est)
    >>> scores["speech_si-snr_i"] > 15, len(scores)
    (True, 12)
    >>> speech_music_scores(refs.sum(-1), refs, est.flip(-1))["si-snr"] < 0
    True
    """
    return separation_scores(
        mixture, references, estimates, permute=False, source_names=SOURCE_NAMES
    )


class SpeechMusicBrain(SeparationBrain):
    """``SeparationBrain`` scoring the test set per source, in fixed order.

    ``test_results.csv`` gets the columns of :func:`speech_music_scores`:
    speech and music SI-SNR(i) and SDR(i), and their means.
    """

    def test_metric(self):
        """Scores of one test mixture (see :func:`speech_music_scores`)."""
        return speech_music_scores
