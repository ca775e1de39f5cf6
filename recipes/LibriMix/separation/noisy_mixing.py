"""Noise for LibriMix mixtures: the ``mix_both`` mixtures, on the fly too.

:func:`add_noise` adds a noise crop to a clean mixture at a given
speech-to-noise ratio; ``simulate_librimix.py`` uses it for the
``mix_both`` mixtures of a Libri2Mix-layout corpus and
:class:`NoisyDynamicMixingDataset` for dynamic mixing with noise.

Authors
 * speechbrain-galr contributors 2026
"""

import numpy as np
import torch

from speechbrain_galr.data.audio_clips import ClipFolder, scale_to_ratio
from speechbrain_galr.data.dynamic_mixing import DynamicMixingDataset


def add_noise(mixture, sources, noise, snr_db, peak=0.9):
    """Adds noise to a clean mixture at a speech-to-noise ratio.

    The noise is scaled so that ``10 log10(P_mixture / P_noise)`` is
    ``snr_db``; if the noisy mixture would peak above ``peak``, all the
    signals are scaled down together (they still sum to the mixture).

    Arguments
    ---------
    mixture : torch.Tensor
        ``[T]`` clean mixture.
    sources : torch.Tensor
        ``[C, T]`` its sources.
    noise : torch.Tensor
        ``[T]`` noise crop.
    snr_db : float
        Speech-to-noise ratio in dB.
    peak : float
        Largest peak of the noisy mixture.

    Returns
    -------
    noisy : torch.Tensor
        ``[T]`` mixture plus noise.
    sources : torch.Tensor
        ``[C, T]`` (scaled like the mixture).
    noise : torch.Tensor
        ``[T]`` the scaled noise.

    Example
    -------
    >>> from speechbrain_galr.data.audio_clips import power_db
    >>> sources = 0.1 * torch.randn(2, 800)
    >>> noisy, sources, noise = add_noise(
    ...     sources.sum(0), sources, torch.randn(800), 5.0)
    >>> noisy.shape, round(power_db(sources.sum(0)) - power_db(noise), 2)
    (torch.Size([800]), 5.0)
    """
    if noise.shape != mixture.shape or sources.shape[-1] != mixture.shape[-1]:
        raise ValueError(
            f"mixture {tuple(mixture.shape)}, sources {tuple(sources.shape)} "
            f"and noise {tuple(noise.shape)} must have the same length"
        )
    noise = scale_to_ratio(mixture, noise, snr_db)
    noisy = mixture + noise
    scale = min(1.0, peak / float(noisy.abs().max()))
    return noisy * scale, sources * scale, noise * scale


class NoisyDynamicMixingDataset(DynamicMixingDataset):
    """Dynamic mixing (:class:`speechbrain_galr.data.dynamic_mixing.
    DynamicMixingDataset`) with noise from a folder added to every mixture.

    The noise of item ``i`` of epoch ``e`` is a random non-silent crop of a
    random file of ``noise``, at a speech-to-noise ratio drawn uniformly in
    ``snr_db``, from a generator seeded by ``(seed, e, i, 1)``.  Items get a
    ``noise_sig``; the targets stay the clean sources.  Without ``noise``
    this is the plain dataset.

    Arguments
    ---------
    folder : str or SpeakerCorpus
        Speaker-organised speech folder.
    num_mixtures : int
        Items per epoch.
    noise : str, list of str, ClipFolder or None
        Noise folder, files, or their ClipFolder; None for clean mixtures.
    snr_db : tuple of float
        Range of the speech-to-noise ratio in dB.
    **kwargs
        The other arguments of ``DynamicMixingDataset`` (``num_spks``,
        ``segment_seconds``, ``sample_rate``, ``speakers``, ``seed``...).

    Example
    -------
    >>> import os, soundfile as sf
    >>> tmp = getfixture("tmp_path")
    >>> rng = np.random.default_rng(0)
    >>> for spk in ("a", "b"):
    ...     os.makedirs(tmp / "speech" / spk)
    ...     sf.write(str(tmp / "speech" / spk / "1.wav"),
    ...              0.1 * rng.standard_normal(9000), 8000)
    >>> os.makedirs(tmp / "noise")
    >>> sf.write(str(tmp / "noise" / "hum.wav"),
    ...          0.1 * rng.standard_normal(3000), 8000)
    >>> data = NoisyDynamicMixingDataset(
    ...     str(tmp / "speech"), 2, noise=str(tmp / "noise"),
    ...     segment_seconds=1.0)
    >>> item = data[1]
    >>> item["mix_sig"].shape, item["noise_sig"].shape
    (torch.Size([8000]), torch.Size([8000]))
    """

    def __init__(
        self, folder, num_mixtures, noise=None, snr_db=(0.0, 10.0), **kwargs
    ):
        super().__init__(folder, num_mixtures, **kwargs)
        if noise is not None and not isinstance(noise, ClipFolder):
            noise = ClipFolder(noise, self.corpus.sample_rate, "noise")
        if snr_db[0] > snr_db[1]:
            raise ValueError(f"snr_db must be (low, high), got {snr_db}")
        self.noise = noise
        self.snr_db = tuple(snr_db)

    def __getitem__(self, index):
        item = super().__getitem__(index)
        if self.noise is None:
            return item
        rng = np.random.default_rng([self.seed, self.epoch, int(index), 1])
        keys = [f"s{i + 1}_sig" for i in range(self.num_spks)]
        mixture = item["mix_sig"]
        noise, _, _ = self.noise.crop(rng, mixture.numel())
        # [C, T]
        sources = torch.stack([item[key] for key in keys])
        noisy, sources, noise = add_noise(
            mixture, sources, noise, rng.uniform(*self.snr_db)
        )
        item["mix_sig"] = noisy
        for key, source in zip(keys, sources):
            item[key] = source
        item["noise_sig"] = noise
        return item
