"""A recipe's command line and hyperparameters, checked before any work.

:func:`parse_recipe_arguments` is ``speechbrain.parse_arguments`` with
fractional ``--ckpt_interval_minutes`` (SpeechBrain parses it as whole
minutes); :func:`load_recipe_hparams` is ``load_hyperpyyaml`` whose errors
(unknown or renamed options, a yaml that does not build) are one line;
:func:`check_rerun` stops a rerun into an output folder whose run was made
with other model hyperparameters, before anything is written there;
:func:`save_hyperparams` writes ``hyperparams.yaml`` as SpeechBrain does,
atomically.

Authors
 * speechbrain-galr contributors 2026
"""

import difflib
import math
import os
import re
from datetime import date

import ruamel.yaml
import speechbrain as sb
import yaml
from hyperpyyaml import load_hyperpyyaml, resolve_references

from speechbrain_galr.atomic_files import write_text_atomic
from speechbrain_galr.errors import GALRError

RENAMED_OPTIONS = {
    "segment_seconds": "training_signal_len (in samples: 32000 is 4 s at "
    "8 kHz; limit_training_signal_len turns the crops on)",
    "dm_folder": "base_folder_dm",
    "use_pit": "loss (speechbrain.nnet.losses.get_si_snr_with_pitwrapper, "
    "or speechbrain_galr.training.brain.fixed_order_si_snr_loss)",
}
"""Options of earlier versions of the recipes and the SpeechBrain names
that replaced them; using an old name is an error that names the new one."""

FRACTIONAL_RUN_OPTIONS = ("ckpt_interval_minutes",)
"""SpeechBrain run options parsed as integers that the recipes take as
numbers: ``--ckpt_interval_minutes 0.5`` saves every 30 s."""


RECIPE_HELP = """\
Separation recipe (speechbrain_galr): train.py HPARAMS_FILE [options]
Every key of the hparams file is an option (--key value).  Run options as
SpeechBrain's below, except that --ckpt_interval_minutes takes fractions of
a minute (0.5: a mid-epoch checkpoint every 30 s).  Renamed options (the
old names are refused): dm_folder is base_folder_dm, segment_seconds is
training_signal_len (samples), use_pit is the yaml's loss.  A bad option, a
yaml key that nothing reads or refers to (a mistyped one), a rerun into an
output folder trained with other model hyperparameters, or --test_only /
--max_train_minutes 0 with no checkpoint to test, stops the run before it
writes anything; a file missing from the prepared CSVs or holding NaN
samples, or a resume on other validation data than the checkpoints', stops
it before training; each with one 'error:' line (exit status 2 for
options, 1 for data).  A budget spent mid-epoch leaves the epoch open: the
same command with a larger --max_train_minutes resumes it.
"""
"""Printed before SpeechBrain's ``--help``."""


class RecipeError(GALRError):
    """A problem with a recipe's options or hyperparameters; the command
    line prints it as one ``error:`` line and exits with ``exit_code``."""

    exit_code = 2


class RecipeDataError(RecipeError):
    """A problem with a recipe's data (missing or unreadable files)."""

    exit_code = 1


def one_line(err):
    """An exception's message on one line."""
    return " ".join(str(err).split())


def _pop_option(argv, name):
    """``argv`` without ``--name VALUE`` / ``--name=VALUE``, and VALUE (the
    last one given) or None."""
    flag = f"--{name}"
    rest, value, index = [], None, 0
    while index < len(argv):
        arg = argv[index]
        if arg == flag:
            if index + 1 >= len(argv):
                raise RecipeError(f"{flag} needs a value")
            value = argv[index + 1]
            index += 2
            continue
        if arg.startswith(flag + "="):
            value = arg[len(flag) + 1 :]
        else:
            rest.append(arg)
        index += 1
    return rest, value


def _minutes(name, text):
    """A number of minutes >= 0 (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise RecipeError(
            f"--{name} must be a number of minutes >= 0 (fractions allowed, "
            f"e.g. 0.5), got {text!r}"
        )
    return value


def parse_recipe_arguments(argv):
    """``speechbrain.parse_arguments``, taking fractional minutes.

    ``--ckpt_interval_minutes`` becomes a hyperparameter override (the
    ``Brain`` reads the run option from the hparams when it is not given
    on the command line), so that ``0.5`` means every 30 seconds.

    Arguments
    ---------
    argv : list of str
        The hparams file, then SpeechBrain options and overrides.

    Returns
    -------
    tuple
        ``(hparams_file, run_opts, overrides)`` as
        ``speechbrain.parse_arguments``.

    Example
    -------
    >>> _, run_opts, overrides = parse_recipe_arguments(
    ...     ["hparams.yaml", "--ckpt_interval_minutes=0.25", "--seed", "3"])
    >>> print(overrides)
    seed: 3
    ckpt_interval_minutes: 0.25
    >>> "ckpt_interval_minutes" in run_opts.overridden_args
    False
    """
    if {"-h", "--help"} & set(argv):
        print(RECIPE_HELP)  # then SpeechBrain's parser prints its help
    extra = []
    for name in FRACTIONAL_RUN_OPTIONS:
        argv, value = _pop_option(argv, name)
        if value is not None:
            extra.append(f"{name}: {_minutes(name, value)!r}")
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    overrides = "\n".join(([overrides] if overrides else []) + extra)
    return hparams_file, run_opts, overrides


def close_match(key, candidates):
    """`` (did you mean X?)`` for the closest candidate, or ``""``.

    Example
    -------
    >>> close_match("max_train_minute", ["max_train_minutes", "lr"])
    ' (did you mean max_train_minutes?)'
    """
    matches = difflib.get_close_matches(str(key), sorted(candidates), n=1)
    return f" (did you mean {matches[0]}?)" if matches else ""


def _yaml_keys(hparams_file):
    try:
        with open(hparams_file, encoding="utf-8") as fin:
            document = ruamel.yaml.YAML().load(fin)
    except Exception:  # noqa: BLE001 (only for a suggestion)
        return []
    return list(document) if isinstance(document, dict) else []


def _override_keys(overrides):
    try:
        parsed = yaml.safe_load(overrides) if overrides else None
    except yaml.YAMLError:
        return []  # hyperpyyaml reports it
    return list(parsed) if isinstance(parsed, dict) else []


def _renamed(key):
    return f"'{key}' was renamed: use {RENAMED_OPTIONS[key]}"


def load_recipe_hparams(hparams_file, overrides):
    """``load_hyperpyyaml`` of a recipe, with one-line errors.

    Arguments
    ---------
    hparams_file : str
        The recipe's yaml.
    overrides : str
        Overrides from the command line (yaml text).

    Returns
    -------
    dict
        The hyperparameters, objects built.

    Raises
    ------
    RecipeError
        The file is missing, an option is unknown or renamed (see
        :data:`RENAMED_OPTIONS`), or the yaml does not build.

    Example
    -------
    >>> path = getfixture("tmp_path") / "h.yaml"
    >>> _ = path.write_text("num_spks: 2\\n")
    >>> load_recipe_hparams(str(path), "num_spks: 3")["num_spks"]
    3
    >>> load_recipe_hparams(str(path), "segment_seconds: 2")
    Traceback (most recent call last):
     ...
    speechbrain_galr.training.options.RecipeError: 'segment_seconds' was ...
    """
    if not os.path.isfile(hparams_file):
        raise RecipeError(f"hyperparameter file not found: {hparams_file}")
    for key in _override_keys(overrides):
        if key in RENAMED_OPTIONS:
            raise RecipeError(_renamed(key))
    try:
        with open(hparams_file, encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, overrides)
    except KeyError as err:
        unknown = re.search(r"Override '([^']+)' not found", str(err))
        if unknown:
            hint = close_match(unknown[1], _yaml_keys(hparams_file))
            raise RecipeError(
                f"unknown option --{unknown[1]}: {hparams_file} has no such "
                f"key{hint}"
            ) from err
        raise RecipeError(f"cannot load {hparams_file}: {err}") from err
    except Exception as err:  # yaml syntax, module arguments, imports
        raise RecipeError(
            f"cannot load {hparams_file} with these options: "
            f"{type(err).__name__}: {one_line(err)}"
        ) from err
    for key in RENAMED_OPTIONS:
        if key in hparams:
            raise RecipeError(f"{hparams_file}: {_renamed(key)}")
    return hparams


# ----------------------------------------------------------------------
# reruns into an existing output folder
_REF = re.compile(r"<([^<>\[\].]+)")


def _refs(node):
    """Top-level keys that ``!ref`` / ``!copy`` scalars below ``node``
    name."""
    if isinstance(node, ruamel.yaml.comments.TaggedScalar):
        return set(_REF.findall(str(node.value)))
    if isinstance(node, dict):
        return set().union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def model_keys(document, root="modules"):
    """The top-level keys that the model is built from: those that
    ``root`` refers to, directly or through other keys.

    Example
    -------
    >>> doc = ruamel.yaml.YAML().load(
    ...     "a: 4\\nlr: 0.1\\nb: !ref <a> // 2\\n"
    ...     "enc: !new:torch.nn.Linear\\n  in_features: !ref <b>\\n"
    ...     "modules:\\n  enc: !ref <enc>\\n")
    >>> sorted(model_keys(doc))
    ['a', 'b', 'enc']
    """
    todo, seen = list(_refs(document.get(root))), set()
    while todo:
        key = todo.pop()
        if key in seen or key not in document:
            continue
        seen.add(key)
        todo.extend(_refs(document[key]))
    return seen


def _plain(node):
    """Comparable plain form of a resolved yaml node (tags kept)."""
    tag = getattr(getattr(node, "tag", None), "value", None)
    if isinstance(node, dict):
        value = {key: _plain(item) for key, item in node.items()}
    elif isinstance(node, list):
        value = [_plain(item) for item in node]
    elif isinstance(node, ruamel.yaml.comments.TaggedScalar):
        value = node.value
    else:
        return node
    return (tag, value) if tag else value


def _is_leaf(value):
    return not isinstance(value, (dict, tuple)) and not (
        isinstance(value, list) and any(isinstance(v, tuple) for v in value)
    )


def _has_checkpoints(save_folder):
    """Whether ``save_folder`` holds a SpeechBrain checkpoint."""
    if not os.path.isdir(save_folder):
        return False
    return any(
        name.startswith("CKPT+")
        and os.path.isfile(os.path.join(save_folder, name, "CKPT.yaml"))
        for name in os.listdir(save_folder)
    )


def check_rerun(hparams_file, overrides, hparams):
    """Stops a run whose model differs from the one already trained in
    its output folder.

    When ``<output_folder>/hyperparams.yaml`` exists and ``save_folder``
    holds checkpoints, the values of the model's hyperparameters (the keys
    that ``modules`` is built from, :func:`model_keys`) must be those saved:
    otherwise the run would rewrite ``hyperparams.yaml`` and then fail to
    load the checkpoints, leaving a folder that cannot be exported.
    Other keys (epochs, budget, data folders) may change.

    Arguments
    ---------
    hparams_file : str
        The recipe's yaml.
    overrides : str
        The command-line overrides.
    hparams : dict
        The loaded hyperparameters (``output_folder``, ``save_folder``).

    Raises
    ------
    RecipeError
        Naming the keys that differ, their saved and new values.
    """
    folder = hparams["output_folder"]
    saved_path = os.path.join(folder, "hyperparams.yaml")
    save_folder = hparams.get("save_folder", os.path.join(folder, "save"))
    if not os.path.isfile(saved_path) or not _has_checkpoints(save_folder):
        return
    parser = ruamel.yaml.YAML()
    with open(hparams_file, encoding="utf-8") as fin:
        keys = model_keys(parser.load(fin))
    with open(hparams_file, encoding="utf-8") as fin:
        new = parser.load(resolve_references(fin, overrides))
    try:
        with open(saved_path, encoding="utf-8") as fin:
            saved = parser.load(fin)
    except (OSError, ruamel.yaml.YAMLError, UnicodeDecodeError) as err:
        raise RecipeError(
            f"cannot read {saved_path} of the run in {folder}: "
            f"{one_line(err)}; use another --output_folder"
        ) from err
    missing = "(none)"
    changes = []
    for key in sorted(keys):
        old_value = _plain(saved.get(key, missing))
        new_value = _plain(new.get(key, missing))
        if _is_leaf(new_value) and _is_leaf(old_value):
            if old_value != new_value:
                changes.append(f"{key} (saved {old_value}, now {new_value})")
    if changes:
        raise RecipeError(
            f"{folder} holds a run trained with other model "
            f"hyperparameters: {', '.join(changes)}; rerun with the saved "
            "values to resume it, or give a new --output_folder"
        )


def resolved_hparams(hparams_file, overrides):
    """The recipe's yaml with the overrides and references resolved, as
    plain values, without building any object (which could write, e.g.
    a ``Checkpointer``'s folder); None if it does not resolve
    (:func:`load_recipe_hparams` says why)."""
    try:
        with open(hparams_file, encoding="utf-8") as fin:
            resolved = resolve_references(fin, overrides)
        return ruamel.yaml.YAML().load(resolved)
    except Exception:  # noqa: BLE001 (reported when loaded)
        return None


def check_something_to_test(hparams, run_opts):
    """Stops a run that would test a model it never trained: ``--test_only``
    or ``max_train_minutes: 0`` with no checkpoint in ``save_folder``.

    Raises
    ------
    RecipeError
        Saying why there is nothing to test.

    Arguments
    ---------
    hparams : dict
        The hyperparameters, built or as :func:`resolved_hparams` (then
        nothing has been written yet).
    run_opts : dict
        SpeechBrain's run options.

    Example
    -------
    >>> folder = str(getfixture("tmp_path"))
    >>> check_something_to_test({"save_folder": folder}, {})
    >>> check_something_to_test({"save_folder": folder}, {"test_only": True})
    Traceback (most recent call last):
     ...
    speechbrain_galr.training.options.RecipeError: nothing to test: ...
    """
    save_folder = hparams.get(
        "save_folder", os.path.join(hparams.get("output_folder", ""), "save")
    )
    if _has_checkpoints(save_folder):
        return
    if run_opts.get("test_only") or hparams.get("test_only"):
        why = "--test_only trains nothing"
    elif hparams.get("max_train_minutes") == 0:
        why = "--max_train_minutes 0 trains nothing"
    else:
        return
    raise RecipeError(
        f"nothing to test: {why} and {save_folder} holds no checkpoint "
        "(train first, or give the --output_folder of a trained run)"
    )


def save_hyperparams(hparams_file, overrides, output_folder):
    """Writes ``<output_folder>/hyperparams.yaml`` (references resolved,
    overrides applied, as ``speechbrain.create_experiment_directory``
    does), atomically."""
    with open(hparams_file, encoding="utf-8") as fin:
        resolved = resolve_references(fin, overrides).getvalue()
    header = (
        f"# Generated {date.today()} from:\n"
        f"# {os.path.abspath(hparams_file)}\n# yamllint disable\n"
    )
    os.makedirs(output_folder, exist_ok=True)
    write_text_atomic(
        os.path.join(output_folder, "hyperparams.yaml"), header + resolved
    )
