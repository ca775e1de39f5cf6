"""A recipe's checkpoint as a SpeechBrain hub folder: what goes in it.

A separation recipe leaves in its output folder the resolved
``hyperparams.yaml`` (written by SpeechBrain's
``create_experiment_directory``) and checkpoints ``save/CKPT+*/`` with
``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt`` and a ``CKPT.yaml``
holding the validation meta.  This module reads them
(:func:`load_recipe_hparams`, :func:`find_checkpoint`,
:func:`load_checkpoint_states`; :func:`load_best_checkpoint` falls back to
the next best checkpoint when the best is damaged) and writes the hub
``hyperparams.yaml`` (:func:`build_hub_hparams`) in the layout of
SpeechBrain's hub models (``speechbrain/sepformer-wsj02mix``): the
modules, ``modules`` and a plain ``Pretrainer`` whose loadables SpeechBrain
fetches from the ``source`` folder or repository itself.

Authors
 * speechbrain-galr contributors 2026
"""

import difflib
import io
import os
import pathlib

import yaml
from ruamel.yaml.comments import (
    CommentedMap,
    CommentedSeq,
    Tag,
    TaggedScalar,
)
from speechbrain.utils.checkpoints import Checkpoint
from speechbrain.utils.logger import get_logger

from speechbrain_galr.model_folder import (
    ModelFileError,
    load_state_file,
    read_hparams,
    yaml_parser,
)

MODULE_NAMES = ("encoder", "masknet", "decoder")
"""The recoverables a recipe checkpoint must hold: the pretrainer's
loadables and the hub folder's ``.ckpt`` files."""

SCORE_KEY = "si-snr"
"""Checkpoint meta key of the validation result, in both conventions:
speechbrain_galr's recipes store the validation SI-SNR in dB there (higher
is better, ``max_keys``); SpeechBrain's recipes store the validation loss,
the negative SI-SNR (lower is better, ``min_keys``)."""

PACKAGE_TAG = "speechbrain_galr."

logger = get_logger(__name__)


class ExportError(ModelFileError):
    """Raised when a recipe output folder cannot be exported (the message
    names the file and the problem)."""


def load_recipe_hparams(path):
    """Reads a recipe's resolved ``hyperparams.yaml`` without building it.

    Arguments
    ---------
    path : str
        The file (``<output_folder>/hyperparams.yaml``).

    Returns
    -------
    ruamel.yaml.comments.CommentedMap
        The document, ``!new:`` and other tags kept as they are.

    Example
    -------
    >>> path = getfixture("tmp_path") / "hyperparams.yaml"
    >>> _ = path.write_text("num_spks: 2\\nencoder: !new:torch.nn.Identity\\n")
    >>> doc = load_recipe_hparams(str(path))
    >>> doc["num_spks"], doc["encoder"].tag.value
    (2, '!new:torch.nn.Identity')
    >>> _ = path.write_text("num_spks: [2\\n")
    >>> load_recipe_hparams(str(path))
    Traceback (most recent call last):
    ...
    speechbrain_galr.export.hub.ExportError: cannot parse ...
    """
    if not os.path.isfile(path):
        raise ExportError(f"recipe hyperparameter file not found: {path}")
    return read_hparams(path, ExportError)


def score_direction(checkpoint):
    """Whether a checkpoint's ``si-snr`` meta is a score or a loss.

    speechbrain_galr's ``SeparationBrain`` records ``train_seconds`` in the
    checkpoint's ``brain.ckpt``; a ``brain.ckpt`` without it was written by
    SpeechBrain's own ``Brain`` (its recipes store the loss).  Checkpoints
    with no ``brain.ckpt`` are read as this package documents them (the
    SI-SNR in dB).  The recipes now store SpeechBrain's loss too, and say
    so in the meta (``si-snr_is_loss: true``).

    Returns
    -------
    str
        ``"max"`` or ``"min"``.
    """
    if checkpoint.meta.get("si-snr_is_loss"):
        return "min"
    brain = checkpoint.paramfiles.get("brain")
    if brain is None:
        return "max"
    try:
        with open(brain, encoding="utf-8") as fin:
            state = yaml.safe_load(fin)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return "max"
    is_ours = isinstance(state, dict) and "train_seconds" in state
    return "max" if is_ours else "min"


def validation_si_snr(checkpoint):
    """The validation SI-SNR in dB a checkpoint's meta records, whichever
    way round it is stored (:func:`score_direction`); None without one."""
    value = checkpoint.meta.get(SCORE_KEY)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return -value if score_direction(checkpoint) == "min" else value


def _read_meta(path):
    """A checkpoint's ``CKPT.yaml`` as a dict, or None when unreadable."""
    try:
        with open(path, encoding="utf-8") as fin:
            meta = yaml.safe_load(fin)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return meta if isinstance(meta, dict) else None


def list_checkpoints(save_folder):
    """The ``CKPT+*`` checkpoints of a folder, as SpeechBrain lists them;
    one whose ``CKPT.yaml`` cannot be read is skipped with a warning.

    Example
    -------
    >>> import torch
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> tmp = getfixture("tmp_path")
    >>> saver = Checkpointer(tmp, {"encoder": torch.nn.Linear(2, 2)})
    >>> good = saver.save_checkpoint(meta={"si-snr": 3.0}, name="a")
    >>> bad = saver.save_checkpoint(meta={"si-snr": 5.0}, name="b")
    >>> _ = (bad.path / "CKPT.yaml").write_text("")
    >>> [c.path.name for c in list_checkpoints(tmp)]
    ['CKPT+a']
    """
    if not os.path.isdir(save_folder):
        raise ExportError(f"checkpoint folder not found: {save_folder}")
    checkpoints, unreadable = [], []
    for path in sorted(pathlib.Path(save_folder).glob("CKPT+*")):
        if not path.is_dir():
            continue
        meta = _read_meta(path / "CKPT.yaml")
        if meta is None:
            unreadable.append(str(path / "CKPT.yaml"))
            continue
        meta.setdefault("unixtime", 0)
        paramfiles = {f.stem: f for f in path.glob("*.ckpt")}
        checkpoints.append(Checkpoint(path, meta, paramfiles))
    for bad in unreadable:
        logger.warning(f"skipping a checkpoint: {bad} cannot be read")
    if not checkpoints:
        found = f" ({len(unreadable)} unreadable)" if unreadable else ""
        raise ExportError(f"no CKPT+* checkpoint in {save_folder}{found}")
    return checkpoints


def find_checkpoint(save_folder, max_key=None, min_key=None):
    """Picks the best checkpoint of a recipe by its validation meta.

    Arguments
    ---------
    save_folder : str
        The recipe's ``save`` folder, with ``CKPT+*`` checkpoints.
    max_key : str or None
        Meta key to maximise.
    min_key : str or None
        Meta key to minimise.  With neither, ``si-snr`` is maximised or
        minimised as the checkpoints' writer meant it
        (:func:`score_direction`).

    Returns
    -------
    speechbrain.utils.checkpoints.Checkpoint
        When no checkpoint has ``si-snr`` (neither key given), the newest
        one.

    Raises
    ------
    ExportError
        Both keys are given, or no checkpoint holds the key given.

    Example
    -------
    >>> import torch
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> tmp = str(getfixture("tmp_path"))
    >>> saver = Checkpointer(tmp, {"encoder": torch.nn.Linear(2, 2)})
    >>> for si_snr in [3.0, 5.0, 4.0]:
    ...     _ = saver.save_checkpoint(meta={"si-snr": si_snr})
    >>> find_checkpoint(tmp).meta["si-snr"]
    5.0
    >>> find_checkpoint(tmp, min_key="si-snr").meta["si-snr"]
    3.0
    >>> find_checkpoint(tmp, max_key="si_snr")
    Traceback (most recent call last):
     ...
    speechbrain_galr.export.hub.ExportError: no checkpoint in ... holds ...
    """
    return ranked_checkpoints(save_folder, max_key, min_key)[0]


def ranked_checkpoints(save_folder, max_key=None, min_key=None):
    """The checkpoints of :func:`find_checkpoint`, best first: those with
    the key, by its value (see the example of :func:`load_best_checkpoint`);
    when no key is given and none has ``si-snr``, all of them, newest
    first."""
    if max_key is not None and min_key is not None:
        raise ExportError(
            f"give a key to maximise or one to minimise, not both (max "
            f"{max_key!r}, min {min_key!r})"
        )
    asked = max_key is not None or min_key is not None
    checkpoints = list_checkpoints(save_folder)
    newest_first = sorted(
        checkpoints, key=lambda c: c.meta["unixtime"], reverse=True
    )
    if max_key is None and min_key is None:
        # the convention of the newest checkpoint that holds a score (a
        # mid-epoch checkpoint of an interrupted run holds none)
        holders = [c for c in newest_first if SCORE_KEY in c.meta]
        if score_direction((holders or newest_first)[0]) == "max":
            max_key = SCORE_KEY
        else:
            min_key = SCORE_KEY
    key = min_key if min_key is not None else max_key
    scored = [
        c for c in newest_first if isinstance(c.meta.get(key), (int, float))
    ]
    if not scored and asked:
        raise ExportError(_missing_key_message(save_folder, key, checkpoints))
    if not scored:
        return newest_first
    sign = 1 if min_key is not None else -1
    return sorted(scored, key=lambda c: sign * c.meta[key])


def load_best_checkpoint(save_folder, max_key=None, min_key=None):
    """The best checkpoint that loads, and its module states: when the
    best is damaged (a missing, empty or truncated ``.ckpt``), the next
    best, with a warning naming the damage and the checkpoint exported
    instead (as training's ``recover_if_possible`` falls back).

    Arguments
    ---------
    save_folder, max_key, min_key
        As :func:`find_checkpoint`.

    Returns
    -------
    checkpoint : speechbrain.utils.checkpoints.Checkpoint
    states : dict
        :func:`load_checkpoint_states` of it.

    Raises
    ------
    ModelFileError
        None of them loads: the best one's problem, and how many others
        failed.

    Example
    -------
    >>> import torch
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> tmp = getfixture("tmp_path")
    >>> modules = {n: torch.nn.Linear(2, 2) for n in MODULE_NAMES}
    >>> saver = Checkpointer(tmp, modules)
    >>> for si_snr in [3.0, 5.0]:
    ...     _ = saver.save_checkpoint(meta={"si-snr": si_snr})
    >>> best = ranked_checkpoints(tmp)[0]
    >>> _ = (best.path / "masknet.ckpt").write_bytes(b"")
    >>> load_best_checkpoint(tmp)[0].meta["si-snr"]
    3.0
    """
    ranked = ranked_checkpoints(save_folder, max_key, min_key)
    problems = []
    for checkpoint in ranked:
        try:
            states = load_checkpoint_states(checkpoint)
        except ModelFileError as err:
            problems.append(str(err))
            continue
        for problem in problems:
            logger.warning(
                f"skipping a damaged checkpoint: {problem}; exporting the "
                f"next best, {checkpoint.path.name}"
            )
        return checkpoint, states
    others = ""
    if len(ranked) > 1:
        others = (
            f" (none of the other {len(ranked) - 1} checkpoint(s) in "
            f"{save_folder} loads either)"
        )
    raise ExportError(problems[0] + others)


def _missing_key_message(save_folder, key, checkpoints):
    """Which numeric meta keys the checkpoints hold, the closest first."""
    keys = sorted(
        {
            name
            for c in checkpoints
            for name, value in c.meta.items()
            if isinstance(value, (int, float))
            and not isinstance(value, bool)
            and name != "unixtime"
        }
    )
    close = difflib.get_close_matches(str(key), keys, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (
        f"no checkpoint in {save_folder} holds the meta key {key!r} "
        f"(they hold: {', '.join(keys) or 'none'}){hint}"
    )


def find_named_checkpoint(path):
    """The checkpoint of a ``CKPT+*`` folder given by path."""
    path = os.path.abspath(str(path))
    save_folder, name = os.path.split(path.rstrip(os.sep))
    for checkpoint in list_checkpoints(save_folder):
        if checkpoint.path.name == name:
            return checkpoint
    raise ExportError(f"not a SpeechBrain checkpoint: {path}")


def load_checkpoint_states(checkpoint):
    """Loads the module states of a checkpoint, checking every file.

    Returns
    -------
    dict
        ``{module name: state dict}`` for :data:`MODULE_NAMES`.

    Raises
    ------
    ModelFileError
        Naming the file that is missing, empty, truncated or not a state
        dict.
    """
    missing = [n for n in MODULE_NAMES if n not in checkpoint.paramfiles]
    if missing:
        raise ExportError(
            f"checkpoint {checkpoint.path} has no "
            + ", ".join(f"{n}.ckpt" for n in missing)
        )
    states = {}
    for name in MODULE_NAMES:
        states[name] = load_state_file(checkpoint.paramfiles[name])
    return states


def _ref(text):
    """A hyperpyyaml ``!ref`` scalar."""
    return TaggedScalar(value=text, tag="!ref")


def _tagged_map(tag, items):
    node = CommentedMap(items)
    node.yaml_set_ctag(Tag(suffix=tag))
    return node


def _plain_copy(node, memo):
    """A copy of a recipe's yaml node without its comments and anchors
    (a node used twice in it stays one node)."""
    if id(node) in memo:
        return memo[id(node)]
    if isinstance(node, CommentedMap):
        copy = CommentedMap()
        items = node.items()
    elif isinstance(node, CommentedSeq):
        copy = CommentedSeq()
        items = enumerate(node)
    else:
        return node
    memo[id(node)] = copy
    if node.tag.value is not None:
        copy.yaml_set_ctag(Tag(suffix=node.tag.value))
    for key, value in items:
        if isinstance(copy, CommentedSeq):
            copy.append(_plain_copy(value, memo))
        else:
            copy[key] = _plain_copy(value, memo)
    return copy


def build_hub_hparams(recipe, header=""):
    """The hub ``hyperparams.yaml`` text for a recipe's model.

    It holds ``sample_rate``, ``num_spks``, the recipe's ``encoder``,
    ``masknet`` and ``decoder`` (with the recipe's values), the
    :class:`speechbrain_galr.nnet.tasnet.TasNet` ``model`` made of them,
    ``modules`` and a ``pretrainer`` whose loadables SpeechBrain fetches
    as ``<name>.ckpt`` from the folder or repository it loads.

    Arguments
    ---------
    recipe : ruamel.yaml.comments.CommentedMap
        The recipe's resolved hyperparameters (:func:`load_recipe_hparams`).
    header : str
        Comment lines put at the top.

    Example
    -------
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> recipe = yaml_parser().load(
    ...     "sample_rate: 8000\\nnum_spks: 2\\nlr: 0.001\\n"
    ...     "encoder: !new:speechbrain.lobes.models.dual_path.Encoder\\n"
    ...     "    kernel_size: 16\\n    out_channels: 8\\n"
    ...     "masknet: !new:torch.nn.Identity\\n"
    ...     "decoder: !new:torch.nn.Identity\\n")
    >>> hub = load_hyperpyyaml(build_hub_hparams(recipe))
    >>> sorted(hub["modules"]), hub["num_spks"], "lr" in hub
    (['model'], 2, False)
    >>> sorted(hub["pretrainer"].loadables), hub["pretrainer"].paths
    (['decoder', 'encoder', 'masknet'], {})
    """
    missing = [
        key
        for key in ("sample_rate", "num_spks") + MODULE_NAMES
        if key not in recipe
    ]
    if missing:
        raise ExportError(
            f"the recipe's hyperparameters lack {', '.join(missing)}"
        )
    hub = CommentedMap()
    hub["sample_rate"] = recipe["sample_rate"]
    hub["num_spks"] = recipe["num_spks"]
    memo = {}
    for name in MODULE_NAMES:
        hub[name] = _plain_copy(recipe[name], memo)
    hub["model"] = _tagged_map(
        "!new:speechbrain_galr.nnet.tasnet.TasNet",
        [(n, _ref(f"<{n}>")) for n in MODULE_NAMES],
    )
    hub["modules"] = CommentedMap(model=_ref("<model>"))
    hub["pretrainer"] = _tagged_map(
        "!new:speechbrain.utils.parameter_transfer.Pretrainer",
        [
            (
                "loadables",
                CommentedMap((n, _ref(f"<{n}>")) for n in MODULE_NAMES),
            )
        ],
    )
    text = io.StringIO()
    yaml_parser().dump(hub, text)
    return header + text.getvalue()


def package_modules(hparams_text):
    """The package modules whose classes a hyperparameter text names.

    Example
    -------
    >>> package_modules("m: !new:speechbrain_galr.nnet.galr.GALR\\n"
    ...                 "e: !new:speechbrain.lobes.models.dual_path.Encoder")
    ['speechbrain_galr.nnet.galr']
    """
    modules = set()
    for word in hparams_text.split():
        for tag in ("!new:", "!name:", "!apply:"):
            if word.startswith(tag + PACKAGE_TAG):
                modules.add(word[len(tag) :].rsplit(".", 1)[0])
    return sorted(modules)
