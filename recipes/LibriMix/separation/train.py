#!/usr/bin/env python3
"""Recipe for training GALR (or DPRNN) on Libri2Mix / Libri3Mix.

Prepares the CSVs of the official LibriMix layout (``prepare_librimix.py``),
trains with the protocol of the GALR paper (PIT, negative SI-SNR), keeps the
checkpoint of best validation SI-SNR and tests it: per-utterance SI-SNRi
and SDRi in ``<output_folder>/test_results.csv``, test waveforms in
``test_examples.png``, training curves in ``training_curves.png``.

To run it::

    python train.py hparams/galr.yaml --data_folder /path/to/Libri2Mix
    python train.py hparams/galr.yaml --data_folder /path/to/Libri3Mix \\
        --num_spks 3
    python train.py hparams/galr.yaml --data_folder /path/to/Libri2Mix \\
        --train_sets "[train-100]" --mixture_type mix_both
    python train.py hparams/dprnn.yaml --data_folder /path/to/Libri2Mix

With dynamic mixing (training mixtures made on the fly from LibriSpeech
speaker folders, optionally with noise)::

    python train.py hparams/galr.yaml --data_folder /path/to/Libri2Mix \\
        --dynamic_mixing True \\
        --base_folder_dm /path/to/LibriSpeech/train-clean-360 \\
        --dm_noise_folder /path/to/wham_noise/tr

The training code is :class:`speechbrain_galr.training.brain.SeparationBrain`
and the steps of the run :func:`speechbrain_galr.training.recipe.
run_separation_recipe`; this file only says where the LibriMix data is.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from prepare_librimix import prepare_librimix  # noqa: E402

from speechbrain_galr.training.recipe import (  # noqa: E402
    csv_or_dynamic_datasets,
    main,
)


def prepare(hparams):
    """Writes the train, valid and test CSVs."""
    prepare_librimix(
        data_folder=hparams["data_folder"],
        save_folder=hparams["save_folder"],
        num_spks=hparams["num_spks"],
        train_sets=hparams["train_sets"],
        valid_set=hparams["valid_set"],
        test_set=hparams["test_set"],
        mixture_type=hparams["mixture_type"],
        sample_rate=hparams["sample_rate"],
        skip_prep=hparams["skip_prep"],
    )


def build_datasets(hparams):
    """Training (CSV or dynamic mixing), validation and test datasets."""
    extra = ("noise",) if hparams["mixture_type"] == "mix_both" else ()
    return csv_or_dynamic_datasets(
        hparams,
        extra,
        "a LibriSpeech split (<speaker>/<chapter>/<file>) or any "
        "<speaker>/<file> folder",
    )


if __name__ == "__main__":
    main(prepare, build_datasets)
