"""Mixing sources at given gains, and writing mixture corpora.

The core that the four corpus creators share
(:func:`speechbrain_galr.data.create_mixtures`, which ``demo.py`` uses, the
LibriMix recipe's ``simulate_librimix.py`` and the WSJ0Music recipe's
``create_wsj0music.py``), and that dynamic mixing uses in memory:

* :func:`mix_at_gains`: the mixing rule.  Every source is scaled to unit
  mean power times its gain (in dB), and all of them together so that the
  mixture of all sources peaks at a given level.  Speaker-to-speaker ratio,
  speech-to-music ratio and speech-to-noise ratio are all gains here.
* :func:`write_mixture`: mixes with that rule and writes the mixture(s)
  and the scaled sources, one WAV per sub-folder, atomically; it returns
  the paths for the corpus' CSV row, which :func:`write_mixtures_csv`
  writes (atomically too) once the corpus is complete.
* :func:`mix_sources`: random gains and peak level (wsj0-mix style).

Authors
 * speechbrain-galr contributors 2026
"""

import csv
import logging
import os

import torch

from speechbrain_galr.audio import write_wav
from speechbrain_galr.files import atomic_write

logger = logging.getLogger(__name__)

MAX_PEAK = 0.9
"""Largest mixture peak; mixtures peak at a random level in
``[MAX_PEAK / 2, MAX_PEAK]``."""


def mix_at_gains(sources, gains_db, peak=None):
    """Scales sources to unit power times their gains and mixes them.

    Arguments
    ---------
    sources : array_like
        ``[C, T]`` sources, none silent.
    gains_db : sequence of float
        ``[C]`` gain of each source in dB over unit mean power: the
        power ratio of sources i and j is ``gains_db[i] - gains_db[j]``.
    peak : float or None
        Peak of the mixture after scaling everything together; None
        leaves the sources at their gains.

    Returns
    -------
    mixture : torch.Tensor
        ``[T]`` float32, the sum of the sources.
    sources : torch.Tensor
        ``[C, T]`` float32 scaled sources.

    Example
    -------
    >>> from speechbrain_galr.audio_clips import power_db
    >>> speech, music = torch.randn(800), 3 * torch.randn(800)
    >>> mix, src = mix_at_gains(torch.stack([speech, music]), [0.0, -3.0], 0.5)
    >>> round(power_db(src[0]) - power_db(src[1]), 2), round(float(
    ...     mix.abs().max()), 2)
    (3.0, 0.5)
    """
    sources = torch.as_tensor(sources).double()
    gains_db = torch.as_tensor(gains_db, dtype=torch.float64)
    if sources.dim() != 2 or gains_db.shape != sources.shape[:1]:
        raise ValueError(
            f"expected sources [C, T] and gains [C], got "
            f"{tuple(sources.shape)} and {tuple(gains_db.shape)}"
        )
    # [C, 1] root mean power of each source
    rms = sources.pow(2).mean(dim=1, keepdim=True).sqrt()
    if (rms == 0).any():
        raise ValueError("cannot mix a silent source (power 0)")
    sources = sources / rms * 10 ** (gains_db[:, None] / 20)
    mixture = sources.sum(0)
    if peak is not None:
        scale = peak / max(float(mixture.abs().max()), 1e-8)
        mixture, sources = mixture * scale, sources * scale
    return mixture.float(), sources.float()


def random_gains_db(rng, num_sources, gain_db_range=5.0):
    """Gains uniform in ``[-gain_db_range / 2, gain_db_range / 2]`` dB, so
    that two sources differ by up to ``gain_db_range`` dB (wsj0-mix: 0 to
    5 dB)."""
    return rng.uniform(-gain_db_range / 2, gain_db_range / 2, num_sources)


def random_peak(rng, max_peak=MAX_PEAK):
    """A mixture peak level uniform in ``[max_peak / 2, max_peak]``."""
    return float(rng.uniform(max_peak / 2, max_peak))


def mix_sources(sources, rng, gain_db_range=5.0, max_peak=MAX_PEAK):
    """Mixes sources with random gains (:func:`random_gains_db`) to a random
    peak level (:func:`random_peak`), by :func:`mix_at_gains`.

    Arguments
    ---------
    sources : array_like
        ``[C, T]`` sources.
    rng : numpy.random.Generator
        Random generator.
    gain_db_range : float
        Spread of the source gains in dB.
    max_peak : float
        Largest mixture peak.

    Returns
    -------
    mixture : torch.Tensor
        ``[T]``.
    sources : torch.Tensor
        ``[C, T]`` scaled sources (they sum to the mixture).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mix, srcs = mix_sources(rng.standard_normal((2, 100)), rng)
    >>> mix.shape, srcs.shape, bool(torch.allclose(srcs.sum(0), mix))
    (torch.Size([100]), torch.Size([2, 100]), True)
    """
    gains = random_gains_db(rng, len(sources), gain_db_range)
    return mix_at_gains(sources, gains, random_peak(rng, max_peak))


def source_layout(num_sources, mixture="mix"):
    """The sub-folders of a corpus: the mixture of all sources, then
    ``s1`` ... ``sC``, as :func:`write_mixture` takes them.

    Example
    -------
    >>> source_layout(2)
    {'mix': [0, 1], 's1': [0], 's2': [1]}
    """
    layout = {mixture: list(range(num_sources))}
    layout.update({f"s{i + 1}": [i] for i in range(num_sources)})
    return layout


def write_mixture(
    folder, name, sources, gains_db, peak, sample_rate, layout=None
):
    """Mixes sources at given gains and writes the WAVs of one mixture.

    The sources are mixed by :func:`mix_at_gains` (the mixture of all of
    them peaks at ``peak``); then, for every sub-folder of ``layout``, the
    sum of the listed scaled sources is written to
    ``<folder>/<sub-folder>/<name>.wav`` (32-bit float, atomically).

    Arguments
    ---------
    folder : str
        Split folder (the sub-folders are created).
    name : str
        File name without ``.wav``: the mixture ID.
    sources : array_like
        ``[C, T]`` sources.
    gains_db : sequence of float
        ``[C]`` gains (see :func:`mix_at_gains`).
    peak : float
        Peak of the mixture of all sources.
    sample_rate : int
        Sample rate of the files.
    layout : dict or None
        Sub-folder name to the indices of the sources summed into its
        file; None for :func:`source_layout` (``mix``, ``s1`` ... ``sC``).

    Returns
    -------
    signals : dict
        Sub-folder name to its ``[T]`` signal.
    paths : dict
        Sub-folder name to the absolute path written (for the CSV row).

    Example
    -------
    >>> folder = str(getfixture("tmp_path"))
    >>> signals, paths = write_mixture(
    ...     folder, "m1", torch.randn(2, 800), [0.0, -2.0], 0.8, 8000)
    >>> sorted(paths), os.path.isfile(paths["s2"])
    (['mix', 's1', 's2'], True)
    """
    mixture, scaled = mix_at_gains(sources, gains_db, peak)
    if layout is None:
        layout = source_layout(len(scaled))
    signals, paths = {}, {}
    for sub, indices in layout.items():
        signals[sub] = scaled[list(indices)].sum(0)
        paths[sub] = os.path.abspath(os.path.join(folder, sub, f"{name}.wav"))
        os.makedirs(os.path.dirname(paths[sub]), exist_ok=True)
        write_wav(paths[sub], signals[sub], sample_rate, subtype="FLOAT")
    return signals, paths


def write_mixtures_csv(path, rows):
    """Writes ``rows`` (dicts, one per mixture; the columns are the keys of
    the first) to the CSV ``path`` atomically and logs how many there are.

    Example
    -------
    >>> path = str(getfixture("tmp_path") / "m.csv")
    >>> write_mixtures_csv(path, [{"ID": "a", "duration": 1.5}])
    >>> open(path).read().split()
    ['ID,duration', 'a,1.5']
    """
    if not rows:
        raise ValueError(f"no mixtures to write to {path}")
    with atomic_write(path, newline="") as fout:
        writer = csv.DictWriter(fout, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    logger.info(f"{path}: {len(rows)} mixtures")
