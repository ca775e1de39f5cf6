"""Dynamic mixing: new training mixtures every epoch, made on the fly.

* :class:`EpochSeededDataset`: the base, reproducible and resumable (item
  ``i`` of epoch ``e`` is drawn from a generator seeded by
  ``(seed, e, i)``).
* :class:`DynamicMixingDataset`: mixtures of random different speakers of
  a :class:`~speechbrain_galr.data.corpus.SpeakerCorpus`, mixed by the rule of
  the
  fixed corpora (:func:`speechbrain_galr.data.mixing.mix_sources`).

Authors
 * speechbrain-galr contributors 2026
"""

import os  # noqa: F401 (the doctests make folders)

import numpy as np
import soundfile as sf  # noqa: F401 (the doctests write files)
import torch

from speechbrain_galr.data.corpus import SpeakerCorpus, draw_speaker_crops
from speechbrain_galr.data.mixing import mix_sources


class EpochSeededDataset(torch.utils.data.Dataset):
    """Base of the dynamic-mixing datasets: new mixtures every epoch,
    reproducible and resumable.

    Item ``i`` of epoch ``e`` is made by :meth:`draw` with a generator
    seeded by ``(seed, e, i)``: the same seed gives the same mixtures
    whatever the number of dataloader workers, and an epoch resumed from a
    mid-epoch checkpoint continues with the mixtures it would have seen.
    Call :meth:`set_epoch` at the start of an epoch (``SeparationBrain``
    does) to get new mixtures every epoch.

    Arguments
    ---------
    num_mixtures : int
        Items per epoch.
    segment_seconds : float
        Mixture length.
    sample_rate : int
        Sample rate.
    seed : int
        Base seed.
    """

    def __init__(self, num_mixtures, segment_seconds, sample_rate, seed):
        if num_mixtures < 1 or segment_seconds <= 0:
            raise ValueError(
                "num_mixtures and segment_seconds must be positive, got "
                f"{num_mixtures} and {segment_seconds}"
            )
        self.num_mixtures = int(num_mixtures)
        self.segment_samples = int(round(segment_seconds * sample_rate))
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch):
        """Selects the mixtures of epoch ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_mixtures

    def __getitem__(self, index):
        if not 0 <= index < self.num_mixtures:
            raise IndexError(f"index {index} out of range {self.num_mixtures}")
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        return {"id": f"dm{self.epoch}_{index}", **self.draw(rng)}

    def draw(self, rng):
        """One item's signals (``mix_sig``, ``s1_sig``...) from ``rng``."""
        raise NotImplementedError


class DynamicMixingDataset(EpochSeededDataset):
    """Mixtures made on the fly from a speaker-organised folder.

    Item ``i`` of epoch ``e`` mixes crops of ``num_spks`` different random
    speakers, drawn with a generator seeded by ``(seed, e, i)``
    (:class:`EpochSeededDataset`).

    Items are dicts with ``id``, ``mix_sig`` and ``s1_sig`` ... ``sC_sig``
    (float tensors ``[T]``), the keys of the CSV datasets of the recipes, so
    SpeechBrain's ``PaddedBatch`` collates them.

    Arguments
    ---------
    folder : str or SpeakerCorpus
        Speaker-organised folder (``<speaker>/<file>``) or its corpus.
    num_mixtures : int
        Items per epoch.
    num_spks : int
        Sources per mixture.
    segment_seconds : float
        Mixture length; shorter utterances are zero-padded.
    sample_rate : int
        Sample rate.
    gain_db_range : float
        Spread of the random source gains in dB.
    speakers : list of str or None
        Speakers to use (e.g. a training split); None for all.
    seed : int
        Base seed.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for spk in ("a", "b", "c"):
    ...         os.makedirs(f"{tmp}/{spk}")
    ...         noise = np.random.default_rng(0).standard_normal(9000)
    ...         sf.write(f"{tmp}/{spk}/1.wav", 0.1 * noise, 8000)
    ...     data = DynamicMixingDataset(tmp, num_mixtures=4, segment_seconds=1)
    ...     item = data[0]
    ...     len(data), item["mix_sig"].shape, item["s2_sig"].shape
    (4, torch.Size([8000]), torch.Size([8000]))
    """

    def __init__(
        self,
        folder,
        num_mixtures,
        num_spks=2,
        segment_seconds=4.0,
        sample_rate=8000,
        gain_db_range=5.0,
        speakers=None,
        seed=1234,
    ):
        self.corpus = SpeakerCorpus.of(folder, speakers, sample_rate)
        if len(self.corpus.speakers) < num_spks:
            raise ValueError(
                f"{len(self.corpus.speakers)} speakers cannot make "
                f"{num_spks}-speaker mixtures of different speakers"
            )
        super().__init__(num_mixtures, segment_seconds, sample_rate, seed)
        self.num_spks = num_spks
        self.gain_db_range = gain_db_range

    def draw(self, rng):
        """A mixture of ``num_spks`` speakers and its sources."""
        sources, _ = draw_speaker_crops(
            self.corpus, rng, self.num_spks, self.segment_samples
        )
        mixture, sources = mix_sources(sources, rng, self.gain_db_range)
        item = {"mix_sig": mixture}
        for i, source in enumerate(sources):
            item[f"s{i + 1}_sig"] = source
        return item
