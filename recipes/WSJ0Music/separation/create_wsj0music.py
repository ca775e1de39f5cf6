#!/usr/bin/env python3
"""Creates a fixed speech-music corpus (the paper's WSJ0-music task).

Speech from WSJ0 (``si_tr_s``) or any speaker-organised folder
(``<speaker>/<file>`` or ``<speaker>/<chapter>/<file>``) is mixed with music
from any folder of audio files (any sample rate, any channel count) at
8 kHz, with a speech-to-music ratio uniform in [0, 5] dB.  Speakers and
music tracks are split between training, validation and test, so no
speaker or track of the test set is heard in training.

The corpus has the wsj0-mix layout that
:func:`speechbrain_galr.data.corpus.prepare_wsj0mix` reads, the speech as ``s1``
and the music as ``s2``::

    <out>/wav8k/min/{tr,cv,tt}/{mix,s1,s2}/<ID>.wav
    <out>/metadata.csv   one row per mixture: split, ID, duration, speech
                         file and offset, music file and offset, SMR, level
    <out>/splits.json    the speakers and tracks of each split (dynamic
                         mixing draws from the training ones)

The same command with the same seed writes the same corpus.

Usage::

    python create_wsj0music.py --speech-folder wsj0/si_tr_s \\
        --music-folder music/ --out-folder wsj0music --num-train 20000 \\
        --num-valid 5000 --num-test 3000

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import json
import logging
import os
import sys

import numpy as np
import torch
from tqdm import tqdm

from speechbrain_galr.atomic_files import write_text_atomic
from speechbrain_galr.data.audio_clips import (
    ClipFolder,
    count_or_fraction,
    list_audio_files,
    split_names,
)
from speechbrain_galr.data.corpus import (
    SPLITS,
    SpeakerCorpus,
    split_speakers,
    write_mixtures_csv,
)
from speechbrain_galr.data.mixing import (
    random_peak,
    write_mixture,
)
from speechbrain_galr.data.mixing_checks import (
    check_mixing_options,
    run_corpus_command,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speech_music import (  # noqa: E402
    SPLITS_FILE,
    draw_speech,
    speech_music_gains,
)

logger = logging.getLogger(__name__)

METADATA_FILE = "metadata.csv"
"""The per-mixture metadata of a corpus."""


def create_wsj0music(
    speech_folder,
    music_folder,
    out_folder,
    num_mixtures,
    sample_rate=8000,
    max_seconds=None,
    smr_db=(0.0, 5.0),
    valid_speakers=0.1,
    test_speakers=0.1,
    valid_tracks=0.1,
    test_tracks=0.1,
    seed=1234,
):
    """Writes the corpus; see the module documentation for the layout.

    Arguments
    ---------
    speech_folder : str
        Speaker-organised speech folder.
    music_folder : str
        Folder of music files (searched recursively).
    out_folder : str
        Corpus folder to create.
    num_mixtures : dict
        ``tr``, ``cv``, ``tt`` to the number of mixtures of the split.
    sample_rate : int
        Sample rate of the corpus.
    max_seconds : float or None
        Longest mixture: longer utterances are cropped at random.  None
        keeps whole utterances.
    smr_db : tuple of float
        Range of the speech-to-music ratio in dB.
    valid_speakers, test_speakers : int or float
        Speakers of the validation and test splits (count or fraction).
    valid_tracks, test_tracks : int or float
        Music tracks of the validation and test splits (count or fraction).
    seed : int
        Seed; each split has its own generator.

    Returns
    -------
    str
        Path of the metadata CSV.

    Raises
    ------
    ValueError
        Before anything is written: a missing or empty folder, too few
        speakers or tracks for the splits, a bad option value
        (:class:`~speechbrain_galr.data.mixing_checks.MixingOptionError`).
    """
    unknown = sorted(set(num_mixtures) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown splits {unknown}, expected {SPLITS}")
    if smr_db[0] > smr_db[1]:
        raise ValueError(f"smr_db must be (low, high), got {smr_db}")
    check_mixing_options(
        num_mixtures, 2, sample_rate, max_seconds, separator="-"
    )
    tracks = list_audio_files(music_folder, what="music")
    speakers = split_speakers(speech_folder, valid_speakers, test_speakers)
    track_split = split_names(
        [os.path.relpath(t, music_folder) for t in tracks],
        valid_tracks,
        test_tracks,
    )
    root = os.path.join(out_folder, f"wav{sample_rate // 1000}k", "min")
    rows = []
    for split_index, split in enumerate(SPLITS):
        count = int(num_mixtures.get(split, 0))
        if count <= 0:
            continue
        speech = SpeakerCorpus(speech_folder, speakers[split], sample_rate)
        music = ClipFolder(
            [os.path.join(music_folder, t) for t in track_split[split]],
            sample_rate,
            "music",
        )
        rng = np.random.default_rng([seed, split_index])
        max_samples = None
        if max_seconds is not None:
            max_samples = int(round(max_seconds * sample_rate))
        for index in tqdm(range(count), desc=f"WSJ0Music {split}"):
            signal, (speech_path, speech_start) = draw_speech(
                speech, rng, max_samples
            )
            music_crop, track, music_start = music.crop(rng, signal.numel())
            smr = float(rng.uniform(*smr_db))
            speech_name = os.path.splitext(os.path.basename(speech_path))[0]
            mix_id = f"{split}_{index:05d}_{speech_name}"
            signals, paths = write_mixture(
                os.path.join(root, split),
                mix_id,
                torch.stack([signal, music_crop]),
                speech_music_gains(smr),
                random_peak(rng),
                sample_rate,
            )
            rows.append(
                {
                    "split": split,
                    "ID": mix_id,
                    "duration": signal.numel() / sample_rate,
                    "mix_wav": os.path.relpath(paths["mix"], root),
                    "speech_wav": os.path.relpath(paths["s1"], root),
                    "music_wav": os.path.relpath(paths["s2"], root),
                    "speech_file": os.path.relpath(speech_path, speech_folder),
                    "speech_start": speech_start,
                    "music_file": os.path.relpath(
                        music.files[track], music_folder
                    ),
                    "music_start": music_start,
                    "smr_db": round(smr, 4),
                    "peak": round(float(signals["mix"].abs().max()), 4),
                }
            )
    if not rows:
        raise ValueError("no mixtures requested (all counts are zero)")
    metadata = os.path.join(out_folder, METADATA_FILE)
    write_mixtures_csv(metadata, rows)
    splits = {
        "speech_folder": os.path.abspath(speech_folder),
        "music_folder": os.path.abspath(music_folder),
        "sample_rate": sample_rate,
        "smr_db": list(smr_db),
        "seed": seed,
        "speakers": speakers,
        "tracks": track_split,
    }
    splits_path = os.path.join(out_folder, SPLITS_FILE)
    write_text_atomic(splits_path, json.dumps(splits, indent=1))
    logger.info(f"{len(rows)} mixtures written to {root}, metadata {metadata}")
    return metadata


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--speech-folder", required=True)
    parser.add_argument("--music-folder", required=True)
    parser.add_argument("--out-folder", required=True)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-valid", type=int, default=5000)
    parser.add_argument("--num-test", type=int, default=3000)
    parser.add_argument("--sample-rate", type=int, default=8000)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="crop longer utterances to this length (default: keep whole)",
    )
    parser.add_argument(
        "--smr-db",
        type=float,
        nargs=2,
        default=(0.0, 5.0),
        metavar=("LO", "HI"),
    )
    for split in ("valid", "test"):
        for what in ("speakers", "tracks"):
            parser.add_argument(
                f"--{split}-{what}",
                type=count_or_fraction,
                default=0.1,
                help=f"{what} of the {split} split: count or fraction",
            )
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_corpus_command(
        create_wsj0music,
        args.speech_folder,
        args.music_folder,
        args.out_folder,
        {"tr": args.num_train, "cv": args.num_valid, "tt": args.num_test},
        sample_rate=args.sample_rate,
        max_seconds=args.max_seconds,
        smr_db=tuple(args.smr_db),
        valid_speakers=args.valid_speakers,
        test_speakers=args.test_speakers,
        valid_tracks=args.valid_tracks,
        test_tracks=args.test_tracks,
        seed=args.seed,
    )


if __name__ == "__main__":
    sys.exit(main())
