"""The steps that every separation recipe's ``train.py`` takes.

A recipe differs from another in how it prepares its data and builds its
datasets; the rest (the command line, the experiment folder, DDP,
:class:`~speechbrain_galr.training.brain.SeparationBrain`, training, testing
the best-validation checkpoint) is :func:`run_separation_recipe`, which
:func:`main` runs with one-line errors.  Reading a CSV of mixtures and
sources is :func:`separation_csv_dataset`: its paths may start with
``$data_root`` (SpeechBrain's ``replacements``, the ``data_folder``), and
every file it lists is checked before training starts.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import shutil
import sys

import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.utils.distributed import if_main_process, run_on_main

from speechbrain_galr.audio import (
    AudioInputError,
    open_audio,
    read_audio,
    read_blocks,
)
from speechbrain_galr.training.brain import SeparationBrain
from speechbrain_galr.training.checkpoints import CheckpointError
from speechbrain_galr.training.data_record import (
    DataMismatchError,
    DataRecord,
    dataset_digest,
)
from speechbrain_galr.training.hparam_keys import check_yaml_keys
from speechbrain_galr.training.options import (
    RecipeDataError,
    RecipeError,
    check_rerun,
    check_something_to_test,
    load_recipe_hparams,
    one_line,
    parse_recipe_arguments,
    resolved_hparams,
    save_hyperparams,
)


def _missing_files(rows, columns, csv_path):
    """Raises a :class:`RecipeDataError` if a file the rows list is
    missing."""
    missing = [
        row[column]
        for row in rows
        for column in columns
        if not os.path.isfile(row[column])
    ]
    if missing:
        raise RecipeDataError(
            f"{len(missing)} file(s) listed in {csv_path} do not exist, "
            f"e.g. {missing[0]} (was the corpus moved or changed after the "
            "preparation? check --data_folder, or prepare again without "
            "--skip_prep)"
        )


FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")
"""soundfile subtypes that can hold NaN or Inf samples (integer PCM, FLAC
and the compressed formats cannot)."""


def _nonfinite_files(rows, columns, csv_path):
    """Raises a :class:`RecipeDataError` naming a file the rows list that
    holds NaN or Inf samples; only floating-point files are read."""
    paths = sorted({row[column] for row in rows for column in columns})
    bad = []
    for path in paths:
        try:
            if sf.info(path).subtype not in FLOAT_SUBTYPES:
                continue
            with open_audio(path) as audio:
                for _ in read_blocks(audio, 1 << 18):
                    pass
        except AudioInputError as err:
            if "NaN or Inf" not in str(err):
                raise RecipeDataError(one_line(err)) from err
            bad.append(path)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise RecipeDataError(f"{path}: {one_line(err)}") from err
    if bad:
        raise RecipeDataError(
            f"{len(bad)} file(s) listed in {csv_path} hold NaN or Inf "
            f"samples, e.g. {bad[0]} (repair or remove them and prepare "
            "the data again)"
        )


def separation_csv_dataset(
    csv_path, num_spks, extra_sources=(), data_root=None
):
    """A dataset of the mixtures of a CSV (``mix_wav``, ``s1_wav``...).

    Every file the CSV lists is checked to exist first, and the
    floating-point ones to hold no NaN or Inf sample, so that a corpus
    changed after its preparation stops the recipe before training (not
    in the middle of an epoch), with an error that names a file.

    Arguments
    ---------
    csv_path : str
        CSV with ``ID``, ``duration``, ``mix_wav`` and ``s1_wav`` ...
        ``sC_wav`` columns (as written by
        :func:`speechbrain_galr.data.corpus.prepare_wsj0mix`).
    num_spks : int
        Number of sources C.
    extra_sources : tuple of str
        Other signals to read, e.g. ``("noise",)`` for a ``noise_wav``
        column read as ``noise_sig``.
    data_root : str or None
        What ``$data_root`` in the paths stands for (the ``data_folder``).

    Returns
    -------
    speechbrain.dataio.dataset.DynamicItemDataset
        Items with ``id``, ``mix_sig``, ``s1_sig`` ... ``sC_sig``.

    Raises
    ------
    RecipeDataError
        The CSV or a file it lists does not exist, or a file holds NaN or
        Inf samples.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmp_path")
    >>> for name in ("mix", "s1", "s2"):
    ...     sf.write(str(tmp / f"{name}.wav"), np.zeros(800), 8000)
    >>> _ = (tmp / "data.csv").write_text(
    ...     "ID,duration,mix_wav,s1_wav,s2_wav\\n"
    ...     "a,0.1,$data_root/mix.wav,$data_root/s1.wav,$data_root/s2.wav\\n")
    >>> data = separation_csv_dataset(str(tmp / "data.csv"), 2,
    ...                               data_root=str(tmp))
    >>> sorted(data[0]), data[0]["s2_sig"].shape
    (['id', 'mix_sig', 's1_sig', 's2_sig'], torch.Size([800]))
    >>> (tmp / "s2.wav").unlink()
    >>> separation_csv_dataset(str(tmp / "data.csv"), 2, data_root=str(tmp))
    Traceback (most recent call last):
     ...
    speechbrain_galr.training.options.RecipeDataError: 1 file(s) listed in ...
    """
    if not os.path.isfile(csv_path):
        raise RecipeDataError(
            f"prepared CSV not found: {csv_path} (prepare the data: run "
            "without --skip_prep)"
        )
    keys = ["mix"] + [f"s{i + 1}" for i in range(num_spks)]
    keys += list(extra_sources)

    @sb.utils.data_pipeline.takes(*[f"{key}_wav" for key in keys])
    @sb.utils.data_pipeline.provides(*[f"{key}_sig" for key in keys])
    def audio_pipeline(*wavs):
        for wav in wavs:
            # the package's one reader: mono (channels averaged), [T]
            yield read_audio(wav)

    replacements = {"data_root": data_root} if data_root else None
    try:
        dataset = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path, replacements=replacements
        )
    except (KeyError, ValueError) as err:  # malformed, $variable unset
        raise RecipeDataError(
            f"cannot read {csv_path}: {type(err).__name__}: {one_line(err)}"
        ) from err
    columns = [f"{key}_wav" for key in keys]
    rows = list(dataset.data.values())
    if not rows:
        raise RecipeDataError(f"{csv_path} lists no mixtures")
    absent = [column for column in columns if column not in rows[0]]
    if absent:
        raise RecipeDataError(
            f"{csv_path} has no column(s) {absent} ({num_spks} sources)"
        )
    _missing_files(rows, columns, csv_path)
    _nonfinite_files(rows, columns, csv_path)
    dataset.add_dynamic_item(audio_pipeline)
    dataset.set_output_keys(["id"] + [f"{key}_sig" for key in keys])
    return dataset


def csv_or_dynamic_datasets(
    hparams,
    extra_sources=(),
    dm_folder_help="a <speaker>/<file> folder",
    make_dm_dataset=None,
):
    """The training, validation and test sets of a recipe whose training
    mixtures are read from a CSV or, with ``dynamic_mixing``, made on the
    fly by ``hparams["dm_dataset"]`` from the speakers of
    ``base_folder_dm``.

    Arguments
    ---------
    hparams : dict
        With ``num_spks``, ``data_folder`` (``$data_root`` of the CSVs),
        ``dynamic_mixing``, ``base_folder_dm``, ``dm_dataset`` (a callable
        returning the dataset) and the ``train_data``, ``valid_data`` and
        ``test_data`` CSV paths.
    extra_sources : tuple of str
        Other signals the CSVs hold (see :func:`separation_csv_dataset`).
    dm_folder_help : str
        What ``base_folder_dm`` should be, for the error when it is missing.
    make_dm_dataset : callable or None
        ``make_dm_dataset(hparams)`` returns the dynamic-mixing training
        set, for recipes that build it otherwise (None: the above).

    Returns
    -------
    tuple
        Training, validation and test datasets.
    """

    def csv_dataset(path):
        return separation_csv_dataset(
            path, hparams["num_spks"], extra_sources, hparams["data_folder"]
        )

    if hparams["dynamic_mixing"] and make_dm_dataset is not None:
        train_data = make_dm_dataset(hparams)
    elif hparams["dynamic_mixing"]:
        folder = hparams["base_folder_dm"]
        if not folder or not os.path.isdir(folder):
            raise RecipeError(
                "dynamic_mixing needs --base_folder_dm, "
                f"{dm_folder_help}; got {folder}"
            )
        train_data = hparams["dm_dataset"]()
    else:
        train_data = csv_dataset(hparams["train_data"])
    return (
        train_data,
        csv_dataset(hparams["valid_data"]),
        csv_dataset(hparams["test_data"]),
    )


def _data_step(step, *args):
    """Runs a data preparation step; its errors about the data (missing
    folders, wrong sample rates) become :class:`RecipeDataError`."""
    try:
        return step(*args)
    except RecipeError:
        raise
    except (OSError, ValueError) as err:
        raise RecipeDataError(one_line(err)) from err


def run_separation_recipe(
    argv,
    prepare,
    build_datasets=None,
    brain_class=SeparationBrain,
    known_keys=(),
):
    """Prepares the data, trains, and tests a separation model.

    Before anything is written, the options and hyperparameters are
    checked (:mod:`speechbrain_galr.training.options`), and so is a rerun
    into an output folder that holds a run (:func:`check_rerun`); the
    datasets check the files they list before training.

    Arguments
    ---------
    argv : list of str
        The command line (hparams file, then SpeechBrain options and
        overrides).
    prepare : callable
        ``prepare(hparams)`` writes the data files (CSVs); it runs on the
        main process only, the others wait for it.
    build_datasets : callable or None
        ``build_datasets(hparams)`` returns the training, validation and
        test datasets; None: :func:`csv_or_dynamic_datasets` (the prepared
        CSVs, or dynamic mixing).
    brain_class : type
        ``SeparationBrain`` or a subclass.
    known_keys : iterable of str
        The yaml keys that ``prepare``, ``build_datasets`` or
        ``brain_class`` read besides those of
        :data:`~speechbrain_galr.training.hparam_keys.CODE_KEYS` (a key
        that nothing reads or refers to is refused as mistyped).

    Returns
    -------
    SeparationBrain
        The trained and tested brain.
    """
    hparams_file, run_opts, overrides = parse_recipe_arguments(argv)
    # before the yaml builds its objects, which make the output folders
    check_yaml_keys(hparams_file, known_keys)
    resolved = resolved_hparams(hparams_file, overrides)
    if resolved is not None:
        check_something_to_test(resolved, run_opts)
    hparams = load_recipe_hparams(hparams_file, overrides)
    check_rerun(hparams_file, overrides, hparams)
    check_something_to_test(hparams, run_opts)

    # DDP: one process per GPU (torchrun); no-op otherwise
    sb.utils.distributed.ddp_init_group(run_opts)
    output_folder = hparams["output_folder"]
    if if_main_process():
        save_hyperparams(hparams_file, overrides, output_folder)
    sb.create_experiment_directory(experiment_directory=output_folder)
    # SpeechBrain copied this module; copy the recipe's train.py too
    script = getattr(sys.modules["__main__"], "__file__", None)
    if script and if_main_process():
        shutil.copy(script, output_folder)
    run_on_main(_data_step, args=[prepare, hparams])
    build_datasets = build_datasets or csv_or_dynamic_datasets
    train_data, valid_data, test_data = _data_step(build_datasets, hparams)
    if hasattr(valid_data, "data") and hparams.get("checkpointer"):
        # which validation set the checkpoints' scores are on
        record = DataRecord(hparams["data_folder"], dataset_digest(valid_data))
        hparams["checkpointer"].add_recoverable(
            "data", record, optional_load=True
        )
        hparams["data_record"] = record

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
    # the checkpoints store SpeechBrain's loss, minus the SI-SNR
    brain.evaluate(
        test_data,
        min_key="si-snr",
        test_loader_kwargs=hparams["test_dataloader_opts"],
    )
    return brain


def main(
    prepare,
    build_datasets=None,
    brain_class=SeparationBrain,
    argv=None,
    known_keys=(),
):
    """A recipe's command line: :func:`run_separation_recipe`, whose
    errors about options, data and checkpoints are printed as one
    ``error:`` line (exit status 2 for options, 1 for data).

    Arguments
    ---------
    prepare, build_datasets, brain_class, known_keys
        See :func:`run_separation_recipe`.
    argv : list of str or None
        The command line; ``sys.argv[1:]`` by default.
    """
    argv = sys.argv[1:] if argv is None else argv
    try:
        brain = run_separation_recipe(
            argv, prepare, build_datasets, brain_class, known_keys
        )
    except (RecipeError, CheckpointError, DataMismatchError) as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        sys.exit(getattr(err, "exit_code", 1))
    # after a run that ended well on this process only: a barrier after
    # an error on one process would wait for the others for ever
    close_process_group()
    return brain


def close_process_group():
    """Destroys the DDP process group (torchrun) before the interpreter
    exits: left to the exit, gloo's threads now and then abort a worker
    after its work is done ("terminate called without an active
    exception", exit status -6), and torchrun then fails the run."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # every process done with its collectives before any tears down
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
