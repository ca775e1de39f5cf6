#!/usr/bin/env python3
"""Recipe for training GALR (or DPRNN) on wsj0-2mix / wsj0-3mix.

Prepares the CSVs, trains with the protocol of the GALR paper, keeps the
checkpoint of best validation SI-SNR, and tests it: per-utterance SI-SNRi
and SDRi in ``<output_folder>/test_results.csv`` and waveforms of a few test
examples in ``<output_folder>/test_examples.png``.

To run it::

    python train.py hparams/galr.yaml --data_folder /data/wsj0-mix/2speakers
    python train.py hparams/galr.yaml --data_folder /data/wsj0-mix/3speakers \\
        --num_spks 3
    python train.py hparams/dprnn.yaml --data_folder /data/wsj0-mix/2speakers

With dynamic mixing (training mixtures made on the fly from WSJ0 si_tr_s)::

    python train.py hparams/galr.yaml --data_folder /data/wsj0-mix/2speakers \\
        --dynamic_mixing True --base_folder_dm /data/wsj0/si_tr_s

Multi-GPU (DDP)::

    torchrun --nproc_per_node=4 train.py hparams/galr.yaml --data_folder ...

A quick check that the recipe runs (a few batches, two epochs)::

    python train.py hparams/galr.yaml --data_folder ... --debug

An unknown option or a rerun into an output folder trained with another
model stops the run before it writes anything, a file missing from the
prepared CSVs stops it before training, with one ``error:`` line.

The training code is :class:`speechbrain_galr.training.brain.SeparationBrain`
and the steps of the run :func:`speechbrain_galr.training.recipe.
run_separation_recipe`; this file only says where the wsj0-mix data is.

Authors
 * speechbrain-galr contributors 2026
"""

from speechbrain_galr.data.corpus import SPLITS, prepare_wsj0mix
from speechbrain_galr.training.recipe import main


def prepare(hparams):
    """Writes the CSVs of the wsj0-mix splits the run reads."""
    splits = ("cv", "tt") if hparams["dynamic_mixing"] else SPLITS
    prepare_wsj0mix(
        data_folder=hparams["data_folder"],
        save_folder=hparams["save_folder"],
        num_spks=hparams["num_spks"],
        sample_rate=hparams["sample_rate"],
        skip_prep=hparams["skip_prep"],
        splits=splits,
    )


if __name__ == "__main__":
    # datasets: the prepared CSVs, or dynamic mixing (the default of main)
    main(prepare)
