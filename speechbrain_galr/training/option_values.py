"""The values of a recipe's numeric options, checked before any work.

A recipe takes every key of its yaml as an option, and the yaml takes
what it is given: ``--batch_size 0`` or ``--lr abc`` loaded fine and
then stopped the run with a traceback of PyTorch's data loader or
optimizer, after the output folder was made.  :func:`check_option_values`
checks the keys of :data:`OPTION_RULES` that a recipe's hyperparameters
hold and names the first bad one; :func:`check_override_values` checks
those given on the command line before the yaml builds its objects (a
``--num_heads 0`` would otherwise stop the build with a bare
``ZeroDivisionError``).

Authors
 * speechbrain-galr contributors 2026
"""

import math
import numbers

import ruamel.yaml

from speechbrain_galr.errors import GALRError

POSITIVE_INT = ("a whole number >= 1", int, 1, False)
COUNT = ("a whole number >= 0", int, 0, False)
POSITIVE = ("a number > 0", float, 0, True)
NON_NEGATIVE = ("a number >= 0", float, 0, False)

OPTION_RULES = {
    "batch_size": POSITIVE_INT,
    "num_workers": COUNT,
    "num_spks": POSITIVE_INT,
    "sample_rate": POSITIVE_INT,
    "N_epochs": COUNT,
    "training_signal_len": POSITIVE_INT,
    "window_length": POSITIVE_INT,
    "num_filters": POSITIVE_INT,
    "hidden_channels": POSITIVE_INT,
    "num_blocks": POSITIVE_INT,
    "num_heads": POSITIVE_INT,
    "segment_size": POSITIVE_INT,
    "reduced_segment_size": POSITIVE_INT,
    "lr": POSITIVE,
    "weight_decay": NON_NEGATIVE,
    "lr_decay": POSITIVE,
    "lr_decay_epochs": POSITIVE_INT,
    "early_stop_patience": COUNT,
    "max_grad_norm": POSITIVE,
    "num_test_examples": COUNT,
    "n_audio_to_save": COUNT,
    "dm_mixtures_per_epoch": POSITIVE_INT,
}
"""``{key: (what it must be, type, lowest value, lowest excluded)}``; a
key absent from the hyperparameters, or null where the yaml allows it
(``reduced_segment_size``, ``n_audio_to_save``), is not checked."""

NULLABLE = {"reduced_segment_size", "n_audio_to_save"}
"""Keys whose null means "none" (full-K attention, every test mixture)."""


class OptionValueError(GALRError):
    """A recipe option whose value the run cannot use."""


def _fits(value, kind, lowest, exclusive):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if kind is int and value != int(value):
        return False
    if not math.isfinite(value):
        return False
    return value > lowest if exclusive else value >= lowest


def check_option_values(hparams):
    """Raises :class:`OptionValueError` naming the first option of
    :data:`OPTION_RULES` whose value does not fit.

    Arguments
    ---------
    hparams : dict
        A recipe's loaded hyperparameters.

    Raises
    ------
    OptionValueError
        E.g. ``--batch_size must be a whole number >= 1, got 0``.

    Example
    -------
    >>> check_option_values({"batch_size": 4, "lr": 1e-3, "other": "x"})
    >>> check_option_values({"lr": "abc"})
    Traceback (most recent call last):
     ...
    speechbrain_galr.training.option_values.OptionValueError: --lr must be \
a number > 0, got 'abc'
    """
    for key, (what, kind, lowest, exclusive) in OPTION_RULES.items():
        if key not in hparams:
            continue
        value = hparams[key]
        if value is None and key in NULLABLE:
            continue
        if not _fits(value, kind, lowest, exclusive):
            raise OptionValueError(f"--{key} must be {what}, got {value!r}")


def check_override_values(overrides):
    """:func:`check_option_values` of the plain values of command-line
    overrides (yaml text); tagged values (``!ref``...) and overrides that
    are not yaml are left to the loader.

    Example
    -------
    >>> check_override_values("lr: 1e-3\\nbatch_size: !ref <x>")
    >>> check_override_values("num_heads: 0")
    Traceback (most recent call last):
     ...
    speechbrain_galr.training.option_values.OptionValueError: --num_heads \
must be a whole number >= 1, got 0
    """
    try:
        parsed = ruamel.yaml.YAML().load(overrides) if overrides else None
    except ruamel.yaml.YAMLError:
        return  # hyperpyyaml reports it
    if not isinstance(parsed, dict):
        return
    check_option_values(
        {
            key: value
            for key, value in parsed.items()
            if not hasattr(value, "tag") or not value.tag.value
        }
    )
