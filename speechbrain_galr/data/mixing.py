"""Mixing sources at given gains, and writing mixture corpora.

The core that the four corpus creators share (:func:`create_mixtures`
here, which ``demo.py`` uses, the LibriMix recipe's ``simulate_librimix.py``
and the WSJ0Music recipe's ``create_wsj0music.py``), and that dynamic
mixing (:mod:`speechbrain_galr.data.dynamic_mixing`) uses in memory:

* :func:`mix_at_gains`: the mixing rule.  Every source is scaled to unit
  mean power times its gain (in dB), and all of them together so that the
  mixture of all sources peaks at a given level.  Speaker-to-speaker ratio,
  speech-to-music ratio and speech-to-noise ratio are all gains here.
* :func:`write_mixture`: mixes with that rule and writes the mixture(s)
  and the scaled sources, one WAV per sub-folder, atomically; it returns
  the paths for the corpus' CSV row, which
  :func:`speechbrain_galr.data.corpus.write_mixtures_csv` writes (atomically
  too)
  once the corpus is complete.
* :func:`mix_sources`: random gains and peak level (wsj0-mix style).
* :func:`create_mixtures`: a fixed corpus in the wsj0-mix layout from a
  speaker-organised folder, with a speaker split (demo corpus, held-out
  validation and test sets); ``python -m speechbrain_galr.data.mixing`` is its
  command line.

Authors
 * speechbrain-galr contributors 2026
"""

import logging
import os
import sys

import numpy as np
import soundfile as sf  # noqa: F401 (the doctests write files)
import torch
from tqdm import tqdm

from speechbrain_galr.atomic_files import write_text_atomic
from speechbrain_galr.audio import write_wav
from speechbrain_galr.data.corpus import draw_speaker_crops, split_speakers
from speechbrain_galr.data.mixing_checks import (
    check_mixing_options,
    corpus_root,
    refuse_existing_splits,
    remove_splits,
    run_corpus_command,
    split_corpora,
)

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
    >>> from speechbrain_galr.data.audio_clips import power_db
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


def create_mixtures(
    speaker_folder,
    out_folder,
    num_mixtures,
    num_spks=2,
    speakers=None,
    sample_rate=8000,
    max_seconds=None,
    gain_db_range=5.0,
    seed=1234,
    replace_splits=(),
):
    """Writes a fixed mixture corpus in the wsj0-mix layout.

    ``<out_folder>/wav{sr/1000}k/min/{split}/{mix,s1,...}/<ID>.wav``, where
    each mixture mixes utterances of different random speakers of that
    split, truncated to the shortest one (wsj0-mix "min") or to a random
    ``max_seconds`` crop of each, at random gains and peak level
    (:func:`speechbrain_galr.data.mixing.write_mixture`).
    :func:`prepare_wsj0mix` reads the result.

    Arguments
    ---------
    speaker_folder : str
        Folder of ``<speaker>/<file>`` utterances.
    out_folder : str
        Corpus root (the ``<N>speakers`` folder of wsj0-mix).
    num_mixtures : dict
        Split name (e.g. ``tr``, ``cv``, ``tt``) to number of mixtures.
    num_spks : int
        Sources per mixture.
    speakers : dict or None
        Split name to list of speakers (see :func:`split_speakers`); None
        uses every speaker for every split.
    sample_rate : int
        Sample rate of the written files.
    max_seconds : float or None
        Longest mixture (a random crop of the common part).
    gain_db_range : float
        Spread of the random source gains in dB.
    seed : int
        Seed; each split has its own generator.
    replace_splits : sequence of str
        Splits whose folders under ``wav8k/min`` are removed, once the
        checks passed, before the new mixtures are written.

    Returns
    -------
    str
        The ``wav8k/min`` folder.  With ``speakers``, the split is also
        written to ``<out_folder>/speakers_<split>.txt``.

    Raises
    ------
    MixingError
        Before anything is written: an option no corpus can be made with
        (:func:`check_mixing_options`), or a split with fewer speakers
        than ``num_spks``.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for spk in ("a", "b", "c"):
    ...         os.makedirs(f"{tmp}/spk/{spk}")
    ...         noise = np.random.default_rng(0).standard_normal(4000)
    ...         sf.write(f"{tmp}/spk/{spk}/1.wav", 0.1 * noise, 8000)
    ...     root = create_mixtures(f"{tmp}/spk", f"{tmp}/mix", {"tt": 2})
    ...     sorted(os.listdir(root + "/tt")), len(os.listdir(root + "/tt/mix"))
    (['mix', 's1', 's2'], 2)
    """
    check_mixing_options(num_mixtures, num_spks, sample_rate, max_seconds)
    corpora = split_corpora(
        speaker_folder, num_mixtures, speakers, num_spks, sample_rate
    )
    root = corpus_root(out_folder, sample_rate)
    remove_splits(root, replace_splits)
    os.makedirs(root, exist_ok=True)
    if speakers is not None:
        # the speaker split, e.g. for dynamic mixing on the training part
        for split, names in speakers.items():
            path = os.path.join(out_folder, f"speakers_{split}.txt")
            write_text_atomic(path, "".join(f"{name}\n" for name in names))
    for split, count in sorted(num_mixtures.items()):
        corpus = corpora[split]
        # one generator per split name: a split is the same whether or not
        # the others are made in the same call
        rng = np.random.default_rng([seed, *split.encode()])
        max_length = None
        if max_seconds is not None:
            max_length = int(max_seconds * sample_rate)
        for index in tqdm(range(count), desc=f"mixing {split}", leave=False):
            sources, names = draw_speaker_crops(
                corpus, rng, num_spks, None, max_length
            )
            write_mixture(
                os.path.join(root, split),
                f"{index:05d}_" + "_".join(names),
                sources,
                random_gains_db(rng, num_spks, gain_db_range),
                random_peak(rng),
                sample_rate,
            )
    return root


def main(argv=None):
    """Command line of :func:`create_mixtures` with a speaker split;
    returns the exit status (errors are one ``error:`` line)."""
    import argparse

    parser = argparse.ArgumentParser(
        description="Writes a wsj0-mix-layout corpus (wav8k/min/{tr,cv,tt}) "
        "from a speaker-organised folder, splitting the sorted speakers: the "
        "last --num_test_speakers for tt, the --num_valid_speakers before "
        "them for cv, the rest for tr (speakers_<split>.txt lists them)."
    )
    parser.add_argument("speaker_folder", help="folder of <speaker>/<file>")
    parser.add_argument("out_folder", help="corpus root to write")
    parser.add_argument("--num_spks", type=int, default=2)
    parser.add_argument("--num_valid_speakers", type=int, default=20)
    parser.add_argument("--num_test_speakers", type=int, default=20)
    parser.add_argument(
        "--num_train",
        type=int,
        default=2000,
        help="training mixtures (default 2000; 0 for none, e.g. with "
        "the recipes' dynamic mixing)",
    )
    parser.add_argument("--num_valid", type=int, default=20)
    parser.add_argument("--num_test", type=int, default=100)
    parser.add_argument("--max_seconds", type=float, default=None)
    parser.add_argument("--sample_rate", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the splits that OUT already holds (without it, "
        "mixtures are never added to a split that holds some, nor a "
        "corpus of another speaker split written into OUT)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    counts = {"tr": args.num_train, "cv": args.num_valid, "tt": args.num_test}
    return run_corpus_command(_make_corpus, args, counts)


def _make_corpus(args, counts):
    check_mixing_options(
        counts, args.num_spks, args.sample_rate, args.max_seconds
    )
    speakers = split_speakers(
        args.speaker_folder, args.num_valid_speakers, args.num_test_speakers
    )
    root = corpus_root(args.out_folder, args.sample_rate)
    taken = refuse_existing_splits(
        args.out_folder, root, speakers, counts, args.overwrite
    )
    root = create_mixtures(
        args.speaker_folder,
        args.out_folder,
        {split: n for split, n in counts.items() if n > 0},
        num_spks=args.num_spks,
        speakers=speakers,
        sample_rate=args.sample_rate,
        max_seconds=args.max_seconds,
        seed=args.seed,
        replace_splits=taken,
    )
    print(root)


if __name__ == "__main__":
    sys.exit(main())
