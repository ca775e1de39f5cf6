"""Tiny GALR separators, synthetic sources and wav helpers shared by the
tests of ``speechbrain_galr.inference`` (the ``trained`` model is a fixture
in this folder's ``conftest.py``)."""

import math
import os

import numpy as np
import soundfile as sf
import torch
from hyperpyyaml import load_hyperpyyaml

import speechbrain_galr
from speechbrain_galr.inference.separator import GALRSeparation

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
TINY = dict(
    num_filters=32,
    hidden_channels=16,
    num_blocks=1,
    num_heads=4,
    segment_size=16,
    reduced_segment_size=4,
    dropout=0.0,
)


def tiny_hparams(seed=0, **overrides):
    """A small GALR TasNet from the package's model yaml."""
    torch.manual_seed(seed)
    with open(MODEL_YAML) as fin:
        return load_hyperpyyaml(fin, {**TINY, **overrides})


def tiny_model(seed=0, **overrides):
    """A :class:`GALRSeparation` of :func:`tiny_hparams`."""
    hparams = tiny_hparams(seed, **overrides)
    return GALRSeparation(hparams["modules"], hparams)


def synthetic_sources(batch, length, generator, rate=8000):
    """[B, T, 2]: a low harmonic source and a high warbling tone, both with
    slowly varying pitch and level, easy to separate."""
    t = torch.arange(length) / rate

    def rand(*shape):
        return torch.rand(*shape, generator=generator)

    drift = 1 + 0.2 * torch.sin(2 * math.pi * 0.15 * rand(batch, 1) * t)
    f0 = (100 + 150 * rand(batch, 1)) * drift
    phase = 2 * math.pi * torch.cumsum(f0 / rate, dim=1)
    low = sum(torch.sin(k * phase + 6 * rand(batch, 1)) / k for k in (1, 2, 3))
    low = low * (0.6 + 0.4 * torch.sin(2 * math.pi * rand(batch, 1) * t))
    f1 = (2000 + 1500 * rand(batch, 1)) * drift
    high = torch.sin(2 * math.pi * torch.cumsum(f1 / rate, dim=1))
    high = high * (0.6 + 0.4 * torch.cos(2 * math.pi * rand(batch, 1) * t))
    return 0.3 * torch.stack([low, high], dim=-1)


def si_snr_pit(sources, est):
    """Mean SI-SNR (dB) of est [B, T, C] against sources [B, T, C] under
    the best permutation (per item)."""
    from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

    return float(-get_si_snr_with_pitwrapper(sources, est).mean())


def tiny_model_with(**run_opts):
    """A :class:`GALRSeparation` of :func:`tiny_hparams` with ``run_opts``
    (device, precision)."""
    hparams = tiny_hparams()
    return GALRSeparation(hparams["modules"], hparams, run_opts=run_opts)


def write_wav(path, signal, rate):
    """Writes a [T] or [T, channels] float signal as 16-bit wav."""
    sf.write(str(path), np.asarray(signal), rate, subtype="PCM_16")
    return str(path)


def wav_bytes(folder):
    """{name: bytes} of the files of a folder (hidden ones included)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
