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
        --dynamic_mixing True --dm_folder /data/wsj0/si_tr_s

Multi-GPU (DDP)::

    torchrun --nproc_per_node=4 train.py hparams/galr.yaml --data_folder ...

The training code is :class:`speechbrain_galr.separation.SeparationBrain`;
this file only builds the wsj0-mix datasets.

Authors
 * speechbrain-galr contributors 2026
"""

import logging
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from speechbrain_galr.data import SPLITS, prepare_wsj0mix
from speechbrain_galr.separation import SeparationBrain

logger = logging.getLogger(__name__)


def dataio_prep(hparams):
    """The training, validation and test datasets of the recipe.

    The validation and test sets (and the training set without dynamic
    mixing) read the CSVs of :func:`prepare_wsj0mix`; items have ``id``,
    ``mix_sig`` and ``s1_sig`` ... ``sC_sig``.
    """
    num_spks = hparams["num_spks"]
    source_keys = [f"s{i + 1}" for i in range(num_spks)]

    @sb.utils.data_pipeline.takes("mix_wav", *[f"{k}_wav" for k in source_keys])
    @sb.utils.data_pipeline.provides(
        "mix_sig", *[f"{k}_sig" for k in source_keys]
    )
    def audio_pipeline(mix_wav, *source_wavs):
        yield sb.dataio.dataio.read_audio(mix_wav)
        for wav in source_wavs:
            yield sb.dataio.dataio.read_audio(wav)

    def csv_dataset(csv_path):
        dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(csv_path)
        dataset.add_dynamic_item(audio_pipeline)
        dataset.set_output_keys(
            ["id", "mix_sig"] + [f"{k}_sig" for k in source_keys]
        )
        return dataset

    if hparams["dynamic_mixing"]:
        if not hparams["dm_folder"]:
            raise ValueError(
                "dynamic_mixing needs --dm_folder, a <speaker>/<file> folder"
            )
        train_data = hparams["dm_dataset"]()
    else:
        train_data = csv_dataset(hparams["train_data"])
    return (
        train_data,
        csv_dataset(hparams["valid_data"]),
        csv_dataset(hparams["test_data"]),
    )


def main(argv):
    """Prepare, train, test."""
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)

    # DDP: one process per GPU (torchrun); no-op otherwise
    sb.utils.distributed.ddp_init_group(run_opts)

    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )

    # CSVs are written by the main process only; the others wait for it
    splits = ("cv", "tt") if hparams["dynamic_mixing"] else SPLITS
    run_on_main(
        prepare_wsj0mix,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "num_spks": hparams["num_spks"],
            "sample_rate": hparams["sample_rate"],
            "skip_prep": hparams["skip_prep"],
            "splits": splits,
        },
    )
    train_data, valid_data, test_data = dataio_prep(hparams)

    separator = SeparationBrain(
        modules=hparams["modules"],
        opt_class=hparams["optimizer"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    separator.fit(
        separator.hparams.epoch_counter,
        train_data,
        valid_data,
        train_loader_kwargs=hparams["dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    separator.evaluate(
        test_data,
        max_key="si-snr",
        test_loader_kwargs=hparams["test_dataloader_opts"],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
