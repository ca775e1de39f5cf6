"""An offline demo corpus: synthetic "speakers" mixed in the wsj0-mix layout.

Each synthetic speaker has its own pitch range, vocal-tract length (which
scales its formants) and syllable rate.  An utterance is a sequence of
voiced syllables: a harmonic source following a gliding pitch contour, with
harmonic amplitudes shaped by the formants of a random vowel, under a
syllable-rate envelope, plus a little breath noise.  Nothing is downloaded,
so the recipes can be run end to end on a fresh machine::

    python -m speechbrain_galr.data.demo_corpus --out demo_data

writes ``demo_data/speakers/<speaker>/<utt>.wav`` and, from them, with
:func:`speechbrain_galr.data.mixing.create_mixtures`,
``demo_data/2speakers/wav8k/min/{tr,cv,tt}/{mix,s1,s2}`` with different
speakers in training, validation and test.

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import logging
import os
import sys

import numpy as np
from tqdm import tqdm

from speechbrain_galr.audio import write_wav
from speechbrain_galr.data.audio_clips import split_names
from speechbrain_galr.data.corpus import split_speakers
from speechbrain_galr.data.mixing import create_mixtures
from speechbrain_galr.data.mixing_checks import (
    MixingOptionError,
    check_mixing_options,
    run_corpus_command,
)

logger = logging.getLogger(__name__)

# (F1, F2, F3) in Hz of a few vowels of an adult male voice
VOWEL_FORMANTS = np.array(
    [
        [730, 1090, 2440],  # a
        [530, 1840, 2480],  # e
        [270, 2290, 3010],  # i
        [570, 840, 2410],  # o
        [300, 870, 2240],  # u
        [660, 1720, 2410],  # ae
        [490, 1350, 1690],  # er
    ],
    dtype=np.float64,
)
FORMANT_BANDWIDTHS = np.array([90.0, 110.0, 170.0])


def random_speaker(rng):
    """Parameters of a synthetic speaker.

    Returns
    -------
    dict
        ``f0`` (median pitch, Hz), ``f0_range`` (relative spread),
        ``tract`` (formant scale, >1 for shorter vocal tracts),
        ``syllable_rate`` (Hz).

    Example
    -------
    >>> sorted(random_speaker(np.random.default_rng(0)))
    ['f0', 'f0_range', 'syllable_rate', 'tract']
    """
    female = rng.random() < 0.5
    return {
        "f0": float(rng.uniform(170, 260) if female else rng.uniform(85, 150)),
        "f0_range": float(rng.uniform(0.1, 0.3)),
        "tract": float(
            rng.uniform(1.1, 1.25) if female else rng.uniform(0.9, 1.05)
        ),
        "syllable_rate": float(rng.uniform(3.0, 6.0)),
    }


def synthesize_utterance(speaker, seconds, rng, sample_rate=8000):
    """A synthetic voiced utterance of ``speaker``.

    Arguments
    ---------
    speaker : dict
        From :func:`random_speaker`.
    seconds : float
        Duration.
    rng : numpy.random.Generator
        Random generator.
    sample_rate : int
        Sample rate.

    Returns
    -------
    numpy.ndarray
        float32 ``[round(seconds * sample_rate)]``, peak 0.5.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> synthesize_utterance(random_speaker(rng), 0.5, rng).shape
    (4000,)
    """
    num = int(round(seconds * sample_rate))
    # syllable boundaries at the speaker's rate, with jitter
    bounds = [0]
    while bounds[-1] < num:
        length = sample_rate / speaker["syllable_rate"] * rng.uniform(0.6, 1.4)
        bounds.append(bounds[-1] + max(int(length), 40))
    f0 = np.empty(num)
    envelope = np.zeros(num)
    formants = np.empty((num, 3))
    for start, stop in zip(bounds[:-1], bounds[1:]):
        stop_c = min(stop, num)
        n = stop_c - start
        pos = np.arange(n) / max(stop - start, 1)
        # gliding pitch around the speaker's median
        level = speaker["f0"] * np.exp(rng.normal(0, speaker["f0_range"] / 2))
        glide = rng.uniform(-0.15, 0.15)
        f0[start:stop_c] = level * (1 + glide * (pos - 0.5))
        vowel = VOWEL_FORMANTS[rng.integers(len(VOWEL_FORMANTS))]
        formants[start:stop_c] = vowel * speaker["tract"]
        # a pause now and then, else a sin^2 syllable envelope
        if rng.random() > 0.15:
            envelope[start:stop_c] = np.sin(np.pi * pos) ** 2 * rng.uniform(
                0.4, 1.0
            )
    # smooth the formant jumps between syllables (about 20 ms)
    width = max(1, sample_rate // 50)
    kernel = np.ones(width) / width
    for i in range(3):
        formants[:, i] = np.convolve(
            np.pad(
                formants[:, i], (width // 2, width - width // 2 - 1), "edge"
            ),
            kernel,
            mode="valid",
        )
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = np.zeros(num)
    nyquist = sample_rate / 2
    for k in range(1, int(nyquist / f0.min()) + 1):
        freq = k * f0
        # formant resonances evaluated at the harmonic frequency
        gain = np.zeros(num)
        for i in range(3):
            gain += 1.0 / (
                1 + ((freq - formants[:, i]) / FORMANT_BANDWIDTHS[i]) ** 2
            )
        gain *= (freq < nyquist * 0.95) / k**0.5
        voiced += gain * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    breath = rng.standard_normal(num) * 0.02
    signal = (voiced / (np.abs(voiced).max() + 1e-8) + breath) * envelope
    signal += rng.standard_normal(num) * 1e-3
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


def make_speakers(
    out_folder,
    num_speakers=20,
    utterances_per_speaker=8,
    min_seconds=2.0,
    max_seconds=5.0,
    sample_rate=8000,
    seed=0,
):
    """Writes ``<out_folder>/<speaker>/<speaker>_<utt>.wav`` files.

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     make_speakers(tmp, 2, 1, 0.5, 0.5)
    ...     sorted(os.listdir(tmp)), os.listdir(tmp + "/spk00")
    (['spk00', 'spk01'], ['spk00_u0.wav'])
    """
    rng = np.random.default_rng(seed)
    for s in tqdm(range(num_speakers), desc="synthetic speakers", leave=False):
        speaker = random_speaker(rng)
        name = f"spk{s:02d}"
        os.makedirs(os.path.join(out_folder, name), exist_ok=True)
        for u in range(utterances_per_speaker):
            seconds = rng.uniform(min_seconds, max_seconds)
            audio = synthesize_utterance(speaker, seconds, rng, sample_rate)
            path = os.path.join(out_folder, name, f"{name}_u{u}.wav")
            write_wav(path, audio, sample_rate, subtype="FLOAT")


def make_demo_corpus(
    out_folder,
    num_spks=2,
    num_speakers=20,
    utterances_per_speaker=8,
    num_mixtures=(200, 20, 20),
    num_valid_speakers=4,
    num_test_speakers=4,
    max_seconds=4.0,
    seed=0,
):
    """Synthetic speakers, then a wsj0-mix-layout corpus of them.

    Arguments
    ---------
    out_folder : str
        Writes ``speakers/`` and ``<num_spks>speakers/`` under it.
    num_spks : int
        Sources per mixture.
    num_speakers : int
        Synthetic speakers.
    utterances_per_speaker : int
        Utterances (2 to 5 s) per speaker.
    num_mixtures : tuple of int
        Mixtures in tr, cv and tt.
    num_valid_speakers, num_test_speakers : int
        Speakers held out for cv and tt (the rest are for tr).
    max_seconds : float
        Longest mixture.
    seed : int
        Seed.

    Returns
    -------
    str
        The ``<num_spks>speakers`` folder (the recipes' ``data_folder``).

    Example
    -------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = make_demo_corpus(
    ...         tmp, num_speakers=7, utterances_per_speaker=1,
    ...         num_mixtures=(2, 1, 1), num_valid_speakers=2,
    ...         num_test_speakers=2, max_seconds=0.5)
    ...     sorted(os.listdir(root + "/wav8k/min"))
    ['cv', 'tr', 'tt']
    """
    # before any file is written: options no corpus can be made with
    check_mixing_options(
        dict(zip(("tr", "cv", "tt"), num_mixtures)), num_spks, 8000, max_seconds
    )
    try:
        split_names(
            range(num_speakers), num_valid_speakers, num_test_speakers, 2
        )
    except ValueError as err:
        raise MixingOptionError(
            f"--num_speakers {num_speakers}: {err}"
        ) from None
    if utterances_per_speaker < 1:
        raise MixingOptionError(
            "--utterances_per_speaker must be >= 1, got "
            f"{utterances_per_speaker}"
        )
    speaker_folder = os.path.join(out_folder, "speakers")
    if not os.path.isdir(speaker_folder):
        make_speakers(
            speaker_folder, num_speakers, utterances_per_speaker, seed=seed
        )
    data_folder = os.path.join(out_folder, f"{num_spks}speakers")
    speakers = split_speakers(
        speaker_folder, num_valid_speakers, num_test_speakers
    )
    create_mixtures(
        speaker_folder,
        data_folder,
        dict(zip(("tr", "cv", "tt"), num_mixtures)),
        num_spks=num_spks,
        speakers=speakers,
        max_seconds=max_seconds,
        seed=seed,
    )
    return data_folder


def main(argv=None):
    """Command line of :func:`make_demo_corpus`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write")
    parser.add_argument("--num_spks", type=int, default=2)
    parser.add_argument("--num_speakers", type=int, default=20)
    parser.add_argument("--utterances_per_speaker", type=int, default=8)
    parser.add_argument(
        "--num_mixtures",
        type=int,
        nargs=3,
        default=(200, 20, 20),
        metavar=("TR", "CV", "TT"),
    )
    parser.add_argument("--max_seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    def make():
        root = make_demo_corpus(
            args.out,
            num_spks=args.num_spks,
            num_speakers=args.num_speakers,
            utterances_per_speaker=args.utterances_per_speaker,
            num_mixtures=tuple(args.num_mixtures),
            max_seconds=args.max_seconds,
            seed=args.seed,
        )
        print(root)

    return run_corpus_command(make)


if __name__ == "__main__":
    sys.exit(main())
