"""The keys a recipe's yaml may hold, so that a mistyped one is an error.

``load_hyperpyyaml`` accepts any top-level key, and a key that nothing
reads (``max_train_minute: 0.05`` for ``max_train_minutes``) is silently
ignored: the run goes on without the setting.  :func:`check_yaml_keys`
refuses a key that no code reads (:data:`CODE_KEYS`, SpeechBrain's run
options) and that no other key refers to (``!ref``, ``!copy``), naming the
closest known key.  Keys starting with ``__`` (hyperpyyaml's ``!apply``
side effects, e.g. ``__set_seed``) are allowed.

Authors
 * speechbrain-galr contributors 2026
"""

import dataclasses

import ruamel.yaml
from speechbrain.utils.run_opts import RunOptions

from speechbrain_galr.training.options import RecipeError, _refs, close_match

CODE_KEYS = frozenset(
    """
    base_folder_dm checkpointer ckpt_num_to_keep data_folder dataloader_opts
    dm_dataset dynamic_mixing epoch_counter limit_training_signal_len loss
    lr_scheduler max_train_minutes mixture_type modules n_audio_to_save
    num_spks num_test_examples num_threads optimizer output_folder
    sample_rate save_audio save_folder seed skip_prep test_data
    test_dataloader_opts test_n_jobs test_set train_data train_logger
    train_sets training_signal_len valid_data valid_dataloader_opts
    valid_set
    """.split()
)
"""The keys that :class:`~speechbrain_galr.training.brain.SeparationBrain`
and the recipes' ``train.py`` read."""

RUN_OPTION_KEYS = frozenset(
    field.name for field in dataclasses.fields(RunOptions)
)
"""SpeechBrain's run options, which the ``Brain`` reads from the yaml."""


def unknown_keys(document, extra_keys=()):
    """The top-level keys of a yaml document that nothing reads.

    Arguments
    ---------
    document : dict
        The yaml, as ``ruamel.yaml`` loads it (tags kept).
    extra_keys : iterable of str
        Keys that the caller's own code reads.

    Returns
    -------
    list of str
        In the order of the document.

    Example
    -------
    >>> doc = ruamel.yaml.YAML().load(
    ...     "lr: 0.1\\nmax_train_minute: 1\\n"
    ...     "optimizer: !name:torch.optim.Adam\\n  lr: !ref <lr>\\n")
    >>> unknown_keys(doc)
    ['max_train_minute']
    """
    referenced = set().union(*(_refs(value) for value in document.values()))
    known = CODE_KEYS | RUN_OPTION_KEYS | referenced | set(extra_keys)
    return [
        key
        for key in document
        if key not in known and not str(key).startswith("__")
    ]


def check_yaml_keys(hparams_file, extra_keys=()):
    """Refuses a recipe yaml with a key that nothing reads.

    Arguments
    ---------
    hparams_file : str
        The recipe's yaml.
    extra_keys : iterable of str
        Keys that a custom recipe's code reads.

    Raises
    ------
    RecipeError
        Naming the first unknown key and the closest known one.
    """
    try:
        with open(hparams_file, encoding="utf-8") as fin:
            document = ruamel.yaml.YAML().load(fin)
    except Exception:  # noqa: BLE001 (load_recipe_hparams says why)
        return
    if not isinstance(document, dict):
        return
    unknown = unknown_keys(document, extra_keys)
    if unknown:
        known = (CODE_KEYS | set(document)) - set(unknown)
        raise RecipeError(
            f"unknown key '{unknown[0]}' in {hparams_file}"
            f"{close_match(unknown[0], known)}: no code reads it and no "
            "other key refers to it"
        )
