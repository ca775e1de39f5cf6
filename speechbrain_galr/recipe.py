"""The steps that every separation recipe's ``train.py`` takes.

A recipe differs from another in how it prepares its data and builds its
datasets; the rest (reading the hparams file, DDP, the experiment folder,
:class:`~speechbrain_galr.separation.SeparationBrain`, training on the
best-validation checkpoint, testing) is :func:`run_separation_recipe`, and
reading a CSV of mixtures and sources is :func:`separation_csv_dataset`.

Authors
 * speechbrain-galr contributors 2026
"""

import shutil
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_galr.separation import SeparationBrain


def separation_csv_dataset(csv_path, num_spks, extra_sources=()):
    """A dataset of the mixtures of a CSV (``mix_wav``, ``s1_wav``...).

    Arguments
    ---------
    csv_path : str
        CSV with ``ID``, ``duration``, ``mix_wav`` and ``s1_wav`` ...
        ``sC_wav`` columns (as written by
        :func:`speechbrain_galr.data.prepare_wsj0mix`).
    num_spks : int
        Number of sources C.
    extra_sources : tuple of str
        Other signals to read, e.g. ``("noise",)`` for a ``noise_wav``
        column read as ``noise_sig``.

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id``, ``mix_sig``, ``s1_sig`` ... ``sC_sig``.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmp_path")
    >>> for name in ("mix", "s1", "s2"):
    ...     sf.write(str(tmp / f"{name}.wav"), np.zeros(800), 8000)
    >>> _ = (tmp / "data.csv").write_text(
    ...     "ID,duration,mix_wav,s1_wav,s2_wav\\n"
    ...     f"a,0.1,{tmp}/mix.wav,{tmp}/s1.wav,{tmp}/s2.wav\\n")
    >>> data = separation_csv_dataset(str(tmp / "data.csv"), 2)
    >>> sorted(data[0]), data[0]["s2_sig"].shape
    (['id', 'mix_sig', 's1_sig', 's2_sig'], torch.Size([800]))
    """
    keys = ["mix"] + [f"s{i + 1}" for i in range(num_spks)]
    keys += list(extra_sources)

    @sb.utils.data_pipeline.takes(*[f"{key}_wav" for key in keys])
    @sb.utils.data_pipeline.provides(*[f"{key}_sig" for key in keys])
    def audio_pipeline(*wavs):
        for wav in wavs:
            yield sb.dataio.dataio.read_audio(wav)

    dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(csv_path)
    dataset.add_dynamic_item(audio_pipeline)
    dataset.set_output_keys(["id"] + [f"{key}_sig" for key in keys])
    return dataset


def csv_or_dynamic_datasets(
    hparams, extra_sources=(), dm_folder_help="a <speaker>/<file> folder"
):
    """The training, validation and test sets of a recipe whose training
    mixtures are read from a CSV or, with ``dynamic_mixing``, made on the
    fly by ``hparams["dm_dataset"]`` from the speakers of ``dm_folder``.

    Arguments
    ---------
    hparams : dict
        With ``num_spks``, ``dynamic_mixing``, ``dm_folder``, ``dm_dataset``
        (a callable returning the dataset) and the ``train_data``,
        ``valid_data`` and ``test_data`` CSV paths.
    extra_sources : tuple of str
        Other signals the CSVs hold (see :func:`separation_csv_dataset`).
    dm_folder_help : str
        What ``dm_folder`` should be, for the error when it is missing.

    Returns
    -------
    tuple
        Training, validation and test datasets.
    """

    def csv_dataset(path):
        return separation_csv_dataset(path, hparams["num_spks"], extra_sources)

    if hparams["dynamic_mixing"]:
        if not hparams["dm_folder"]:
            raise ValueError(
                f"dynamic_mixing needs --dm_folder, {dm_folder_help}"
            )
        train_data = hparams["dm_dataset"]()
    else:
        train_data = csv_dataset(hparams["train_data"])
    return (
        train_data,
        csv_dataset(hparams["valid_data"]),
        csv_dataset(hparams["test_data"]),
    )


def run_separation_recipe(
    argv, prepare, build_datasets, brain_class=SeparationBrain
):
    """Prepares the data, trains, and tests a separation model.

    Arguments
    ---------
    argv : list of str
        The command line (hparams file, then SpeechBrain options and
        overrides).
    prepare : callable
        ``prepare(hparams)`` writes the data files (CSVs); it runs on the
        main process only, the others wait for it.
    build_datasets : callable
        ``build_datasets(hparams)`` returns the training, validation and
        test datasets.
    brain_class : type
        ``SeparationBrain`` or a subclass.

    Returns
    -------
    SeparationBrain
        The trained and tested brain.
    """
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
    # SpeechBrain saved this module; save the recipe's train.py too
    script = getattr(sys.modules["__main__"], "__file__", None)
    if script and if_main_process():
        shutil.copy(script, hparams["output_folder"])
    run_on_main(prepare, args=[hparams])
    train_data, valid_data, test_data = build_datasets(hparams)

    brain = brain_class(
        modules=hparams["modules"],
        opt_class=hparams["optimizer"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        train_data,
        valid_data,
        train_loader_kwargs=hparams["dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    brain.evaluate(
        test_data,
        max_key="si-snr",
        test_loader_kwargs=hparams["test_dataloader_opts"],
    )
    return brain
