#!/usr/bin/env python3
"""Builds a corpus in the LibriMix layout from a speaker-organised folder.

For trying the recipe where LibriMix itself cannot be generated: the
utterances of a speaker-organised folder (LibriSpeech's
``<speaker>/<chapter>/<file>.flac`` or a flat ``<speaker>/<file>``) are
mixed as LibriMix mixes them ("min" mode: the sources start together and
are cut to the shortest one) and written in the folder layout of the
official generation scripts, metadata CSVs included::

    <out>/Libri2Mix/wav8k/min/metadata/mixture_<split>_mix_clean.csv
    <out>/Libri2Mix/wav8k/min/metadata/mixture_<split>_mix_both.csv
    <out>/Libri2Mix/wav8k/min/<split>/{mix_clean,s1,s2[,s3]}/<ID>.wav
    <out>/Libri2Mix/wav8k/min/<split>/{mix_both,noise}/<ID>.wav  (--noise)

Speakers are split between the training splits (``train-100`` or
``train-360``), ``dev`` and ``test``, so test speakers are unseen, as in
LibriMix.  The sources are scaled to unit power times a random gain within
5 dB of each other (speaker-to-speaker ratio in [-5, 5] dB, as the paper's
"SNRs between 0 dB and 5 dB"), the noise of ``mix_both`` to a
speech-to-noise ratio uniform in ``--snr-db``, all mixed and written by
:func:`speechbrain_galr.data.mixing.write_mixture` (the noisy mixture, or the
clean one without noise, peaks at a random level).  The same command with
the same seed writes the same corpus.

Usage::

    python simulate_librimix.py --speech-folder LibriSpeech/train-clean-100 \\
        --out-folder data --num-spks 2 --noise-folder noise/ \\
        --num-train 2000 --num-dev 200 --num-test 200

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import logging
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from speechbrain_galr.data.audio_clips import (
    ClipFolder,
    count_or_fraction,
    power_db,
    split_names,
)
from speechbrain_galr.data.corpus import (
    SpeakerCorpus,
    split_speakers,
    write_mixtures_csv,
)
from speechbrain_galr.data.mixing import (
    mix_at_gains,
    random_gains_db,
    random_peak,
    source_layout,
    write_mixture,
)
from speechbrain_galr.data.mixing_checks import (
    check_mixing_options,
    run_corpus_command,
)

logger = logging.getLogger(__name__)

SPLIT_SPEAKERS = {
    "train-360": "tr",
    "train-100": "tr",
    "dev": "cv",
    "test": "tt",
}
"""LibriMix split to the speaker split it draws from."""


def simulate_librimix(
    speech_folder,
    out_folder,
    num_mixtures,
    num_spks=2,
    noise_folder=None,
    sample_rate=8000,
    max_seconds=None,
    snr_db=(0.0, 10.0),
    valid_speakers=0.1,
    test_speakers=0.1,
    valid_noise=0.1,
    test_noise=0.1,
    seed=1234,
):
    """Writes the corpus; see the module documentation for the layout.

    Arguments
    ---------
    speech_folder : str
        Speaker-organised speech folder.
    out_folder : str
        Where ``Libri{num_spks}Mix`` is created.
    num_mixtures : dict
        LibriMix split (``train-360``, ``train-100``, ``dev``, ``test``) to
        its number of mixtures.
    num_spks : int
        Speakers per mixture (2 or 3).
    noise_folder : str or None
        Folder of noise recordings for ``mix_both``; None writes only
        ``mix_clean``.
    sample_rate : int
        Sample rate of the corpus.
    max_seconds : float or None
        Longest mixture (a random crop of the common part); None keeps the
        length of the shortest utterance.
    snr_db : tuple of float
        Range of the speech-to-noise ratio of ``mix_both`` in dB.
    valid_speakers, test_speakers : int or float
        Speakers of ``dev`` and ``test``: count or fraction.
    valid_noise, test_noise : int or float
        Noise files of ``dev`` and ``test``: count or fraction (with fewer
        than 3 noise files, every split uses all of them).
    seed : int
        Seed; each split has its own generator.

    Returns
    -------
    str
        The ``Libri{num_spks}Mix`` folder.
    """
    unknown = sorted(set(num_mixtures) - set(SPLIT_SPEAKERS))
    if unknown:
        raise ValueError(
            f"unknown LibriMix splits {unknown}, expected some of "
            f"{sorted(SPLIT_SPEAKERS)}"
        )
    check_mixing_options(
        num_mixtures, num_spks, sample_rate, max_seconds, separator="-"
    )
    speakers = split_speakers(speech_folder, valid_speakers, test_speakers)
    for split, count in num_mixtures.items():
        names = speakers[SPLIT_SPEAKERS[split]]
        if count and len(names) < num_spks:
            raise ValueError(
                f"the {split} split has {len(names)} speakers, fewer than "
                f"the {num_spks} of a mixture"
            )
    noise_split = None
    if noise_folder is not None:
        noise_files = ClipFolder(noise_folder, sample_rate, "noise").files
        if len(noise_files) < 3:
            logger.warning(
                f"{len(noise_files)} noise file(s) in {noise_folder}: "
                "train, dev and test share them"
            )
            noise_split = {key: noise_files for key in ("tr", "cv", "tt")}
        else:
            noise_split = split_names(noise_files, valid_noise, test_noise)
    corpus_folder = os.path.join(out_folder, f"Libri{num_spks}Mix")
    root = os.path.join(corpus_folder, f"wav{sample_rate // 1000}k", "min")
    os.makedirs(os.path.join(root, "metadata"), exist_ok=True)
    max_samples = None
    if max_seconds is not None:
        max_samples = int(round(max_seconds * sample_rate))
    for split_index, split in enumerate(sorted(num_mixtures)):
        count = int(num_mixtures[split])
        if count <= 0:
            continue
        group = SPLIT_SPEAKERS[split]
        speech = SpeakerCorpus(speech_folder, speakers[group], sample_rate)
        if len(speech.speakers) < num_spks:
            raise ValueError(
                f"the {split} split has {len(speech.speakers)} speakers, "
                f"fewer than the {num_spks} of a mixture"
            )
        noise = None
        if noise_split is not None:
            noise = ClipFolder(noise_split[group], sample_rate, "noise")
        rng = np.random.default_rng([seed, split_index])
        _write_split(
            root,
            split,
            count,
            speech,
            noise,
            num_spks,
            rng,
            {
                "sample_rate": sample_rate,
                "max_samples": max_samples,
                "snr_db": snr_db,
            },
        )
    return corpus_folder


def _draw_sources(speech, num_spks, rng, max_samples):
    """Utterances of different speakers, cut to the shortest ("min")."""
    spks = rng.choice(len(speech.speakers), num_spks, replace=False)
    utts = [int(rng.integers(len(speech.files[s]))) for s in spks]
    length = min(speech.num_samples(s, u) for s, u in zip(spks, utts))
    start = 0
    if max_samples is not None and length > max_samples:
        start = int(rng.integers(length - max_samples + 1))
        length = max_samples
    # [C, T]
    sources = np.stack(
        [speech.read(s, u, start, length) for s, u in zip(spks, utts)]
    )
    names = [
        os.path.splitext(os.path.basename(speech.files[s][u][0]))[0]
        for s, u in zip(spks, utts)
    ]
    return sources, "_".join(names)


def _draw_new_sources(speech, num_spks, rng, max_samples, used_ids):
    """:func:`_draw_sources` until the mixture ID is new."""
    for _attempt in range(100):
        sources, mix_id = _draw_sources(speech, num_spks, rng, max_samples)
        if mix_id not in used_ids:
            used_ids.add(mix_id)
            return sources, mix_id
    raise ValueError(
        f"cannot draw {len(used_ids) + 1} different {num_spks}-speaker "
        f"mixtures from {len(speech.speakers)} speakers"
    )


def _noise_gain_db(sources, gains_db, snr_db):
    """Gain (dB) of a noise source, in the unit-power scale of
    :func:`mix_at_gains`, that puts it ``snr_db`` below the speech mixture."""
    speech_mixture, _ = mix_at_gains(sources, gains_db)
    return power_db(speech_mixture) - snr_db


def _write_split(root, split, count, speech, noise, num_spks, rng, opts):
    """Writes the mixtures and metadata CSVs of one split."""
    # sub-folder: the sources summed in it (the noise is source C)
    layout = source_layout(num_spks, "mix_clean")
    if noise is not None:
        layout.update(
            {"mix_both": list(range(num_spks + 1)), "noise": [num_spks]}
        )
    clean_rows, noisy_rows, used_ids = [], [], set()
    for _ in tqdm(range(count), desc=f"LibriMix {split}"):
        sources, mix_id = _draw_new_sources(
            speech, num_spks, rng, opts["max_samples"], used_ids
        )
        gains = list(random_gains_db(rng, num_spks))
        if noise is not None:
            crop, _, _ = noise.crop(rng, sources.shape[-1])
            snr = rng.uniform(*opts["snr_db"])
            gains.append(_noise_gain_db(sources, gains, snr))
            sources = torch.cat([torch.as_tensor(sources), crop[None]])
        _, paths = write_mixture(
            os.path.join(root, split),
            mix_id,
            sources,
            gains,
            random_peak(rng),
            opts["sample_rate"],
            layout,
        )
        row = {"mixture_ID": mix_id, "mixture_path": paths["mix_clean"]}
        for i in range(num_spks):
            row[f"source_{i + 1}_path"] = paths[f"s{i + 1}"]
        row["length"] = sources.shape[-1]
        clean_rows.append(row)
        if noise is not None:
            noisy_row = {k: v for k, v in row.items() if k != "length"}
            noisy_row["mixture_path"] = paths["mix_both"]
            noisy_row["noise_path"] = paths["noise"]
            noisy_row["length"] = row["length"]
            noisy_rows.append(noisy_row)
    for mixture_type, rows in (
        ("mix_clean", clean_rows),
        ("mix_both", noisy_rows),
    ):
        if not rows:
            continue
        path = os.path.join(
            root, "metadata", f"mixture_{split}_{mixture_type}.csv"
        )
        write_mixtures_csv(path, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--speech-folder", required=True)
    parser.add_argument("--out-folder", required=True)
    parser.add_argument("--num-spks", type=int, default=2)
    parser.add_argument("--noise-folder", default=None)
    parser.add_argument(
        "--train-split", default="train-100", choices=["train-100", "train-360"]
    )
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--num-dev", type=int, default=200)
    parser.add_argument("--num-test", type=int, default=200)
    parser.add_argument("--sample-rate", type=int, default=8000)
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument(
        "--snr-db",
        type=float,
        nargs=2,
        default=(0.0, 10.0),
        metavar=("LO", "HI"),
    )
    parser.add_argument("--valid-speakers", type=count_or_fraction, default=0.1)
    parser.add_argument("--test-speakers", type=count_or_fraction, default=0.1)
    parser.add_argument("--valid-noise", type=count_or_fraction, default=0.1)
    parser.add_argument("--test-noise", type=count_or_fraction, default=0.1)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def make():
        folder = simulate_librimix(
            args.speech_folder,
            args.out_folder,
            {
                args.train_split: args.num_train,
                "dev": args.num_dev,
                "test": args.num_test,
            },
            num_spks=args.num_spks,
            noise_folder=args.noise_folder,
            sample_rate=args.sample_rate,
            max_seconds=args.max_seconds,
            snr_db=tuple(args.snr_db),
            valid_speakers=args.valid_speakers,
            test_speakers=args.test_speakers,
            valid_noise=args.valid_noise,
            test_noise=args.test_noise,
            seed=args.seed,
        )
        logger.info(f"corpus written to {folder}")

    return run_corpus_command(make)


if __name__ == "__main__":
    sys.exit(main())
