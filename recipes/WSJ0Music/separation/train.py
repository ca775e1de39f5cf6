#!/usr/bin/env python3
"""Recipe for training GALR (or DPRNN) to separate speech from music.

The paper's WSJ0-music task (Sections 3.1.1 and 3.2.6): speech mixed with
music at 8 kHz, speech-to-music ratio uniform in [0, 5] dB.  Make the
corpus first with ``create_wsj0music.py`` (from WSJ0 ``si_tr_s`` or any
speaker-organised speech folder, and any folder of music files), then::

    python train.py hparams/galr.yaml --data_folder /path/to/wsj0music
    python train.py hparams/dprnn.yaml --data_folder /path/to/wsj0music

With dynamic mixing (new training mixtures every epoch, from the training
speakers and tracks of the corpus)::

    python train.py hparams/galr.yaml --data_folder /path/to/wsj0music \\
        --dynamic_mixing True

The outputs have a fixed order, speech then music, so training uses the
SI-SNR of each output against its own source (``loss:
!name:speechbrain_galr.training.brain.fixed_order_si_snr_loss``), and the
test set is scored per source: ``test_results.csv`` has speech and music
SI-SNRi and SDRi for every mixture, and their means.

The training code is :class:`speechbrain_galr.training.brain.SeparationBrain`
(:class:`speech_music.SpeechMusicBrain` for the per-source scores) and the
steps of the run :func:`speechbrain_galr.training.recipe.run_separation_recipe`.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from speech_music import SpeechMusicBrain, read_splits  # noqa: E402

from speechbrain_galr.data.corpus import prepare_wsj0mix  # noqa: E402
from speechbrain_galr.training.recipe import (  # noqa: E402
    csv_or_dynamic_datasets,
    main,
)


def prepare(hparams):
    """Writes the CSVs of the corpus (wsj0-mix layout, s1 speech, s2
    music); the training CSV only without dynamic mixing."""
    splits = ("cv", "tt") if hparams["dynamic_mixing"] else ("tr", "cv", "tt")
    prepare_wsj0mix(
        data_folder=hparams["data_folder"],
        save_folder=hparams["save_folder"],
        num_spks=2,
        sample_rate=hparams["sample_rate"],
        skip_prep=hparams["skip_prep"],
        splits=splits,
    )


def dynamic_mixing_dataset(hparams):
    """Training mixtures made on the fly from the corpus's training
    speakers and music tracks."""
    corpus = read_splits(hparams["data_folder"])
    tracks = [
        os.path.join(corpus["music_folder"], track)
        for track in corpus["tracks"]["tr"]
    ]
    return hparams["dm_dataset"](
        speech=corpus["speech_folder"],
        music=tracks,
        speakers=corpus["speakers"]["tr"],
    )


def build_datasets(hparams):
    """Training (CSV or dynamic mixing), validation and test datasets."""
    return csv_or_dynamic_datasets(
        hparams, make_dm_dataset=dynamic_mixing_dataset
    )


if __name__ == "__main__":
    main(prepare, build_datasets, brain_class=SpeechMusicBrain)
