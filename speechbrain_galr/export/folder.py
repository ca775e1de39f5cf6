"""Exports a trained recipe checkpoint as a SpeechBrain hub folder.

:func:`export_model` turns the best checkpoint of a separation recipe's
output folder into the layout of a SpeechBrain hub repository
(``speechbrain/sepformer-wsj02mix``):

* ``hyperparams.yaml``: the model and a plain ``Pretrainer``
  (:func:`speechbrain_galr.export.hub.build_hub_hparams`);
* ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt``;
* ``custom_interface.py``, the package's model code in one file, made now
  from the package's source (:mod:`speechbrain_galr.export.standalone`), so that
  with only ``speechbrain`` installed ``foreign_class(source=folder,
  pymodule_file="custom_interface.py", classname="GALRSeparation")`` loads
  the model; with the package installed,
  ``GALRSeparation.from_hparams(source=folder)`` does;
* ``README.md``, the model card (:mod:`speechbrain_galr.export.model_card`), and
  ``test_results.csv`` when it is the test of the exported checkpoint.

The folder is written beside its destination, loaded and checked against
the checkpoint, and only then put in place in one rename
(:func:`speechbrain_galr.atomic_files.atomic_folder`): a failed or killed export
leaves the previous model folder as it was.

What is on disk afterwards (the policies of ``cp`` and ``mkdir``):

* only :data:`EXPORTED_FILES` are written, the optimizer and other states
  of the checkpoint are not copied;
* files get ``0o666 & ~umask``, the folder ``0o777 & ~umask``; an
  overwrite keeps the modes the user set on the folder and its files, and
  keeps the files and links the user added (links as links);
* without ``overwrite`` the folder is put in place by an exclusive rename,
  so a concurrent export into the same destination is refused, not
  replaced; a destination that is, contains or is inside the recipe
  output folder (or the checkpoint) is refused, and ``overwrite`` replaces
  a model folder only (one with ``hyperparams.yaml``), not any non-empty
  folder (``--out ~``);
* a destination that is a link to a folder: the folder is replaced, the
  link kept.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import shutil
import sys
from importlib.metadata import PackageNotFoundError, version

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_galr.atomic_files import (
    TEMP_PREFIX,
    atomic_folder,
    atomic_path,
    new_mode,
    write_text_atomic,
)
from speechbrain_galr.errors import one_line
from speechbrain_galr.export.hub import (
    MODULE_NAMES,
    ExportError,
    build_hub_hparams,
    find_named_checkpoint,
    load_best_checkpoint,
    load_checkpoint_states,
    load_recipe_hparams,
    package_modules,
)
from speechbrain_galr.export.model_card import (
    build_model_card,
    read_test_results,
)
from speechbrain_galr.export.standalone import build_custom_interface
from speechbrain_galr.training.results_record import RESULTS_FILE, results_for

__all__ = ["ExportError", "export_model"]

logger = get_logger(__name__)

INTERFACE_FILE = "custom_interface.py"
INTERFACE_CLASS = "GALRSeparation"
INTERFACE_MODULE = "speechbrain_galr.inference.separator"
"""Where ``GALRSeparation`` is defined (a root of ``custom_interface.py``)."""

EXPORTED_FILES = (
    "hyperparams.yaml",
    INTERFACE_FILE,
    "README.md",
    RESULTS_FILE,
    "model.onnx",  # export --onnx (an old one would not fit new weights)
) + tuple(f"{name}.ckpt" for name in MODULE_NAMES)
"""The files an export writes; others in an overwritten folder are kept."""


def _package_version():
    try:
        return version("speechbrain-galr")
    except PackageNotFoundError:
        return "(not installed)"


def _state_difference(built, saved):
    """How a built module's state differs from a saved one ("" if not)."""
    only_saved = sorted(set(saved) - set(built))
    only_built = sorted(set(built) - set(saved))
    shapes = [
        key
        for key in sorted(set(built) & set(saved))
        if built[key].shape != saved[key].shape
    ]
    count = len(only_saved) + len(only_built) + len(shapes)
    more = f" (and {count - 1} more)" if count > 1 else ""
    if shapes:
        key = shapes[0]
        return (
            f"{key} is {list(saved[key].shape)} in the .ckpt file, "
            f"{list(built[key].shape)} by the yaml{more}"
        )
    if only_saved:
        return f"{only_saved[0]} is in the .ckpt file only{more}"
    if only_built:
        return f"{only_built[0]} is missing from the .ckpt file{more}"
    return ""


def check_definition(hparams_text, states, source):
    """Builds the hub model and checks it fits the checkpoint's states.

    Raises
    ------
    ExportError
        When the definition cannot be built, or a module's parameter
        names or shapes differ from its ``.ckpt`` file.
    """
    try:
        hparams = load_hyperpyyaml(hparams_text)
    except Exception as err:  # any error of a class the yaml names
        raise ExportError(
            f"the model defined in {source} cannot be built: "
            f"{type(err).__name__}: {one_line(err)}"
        ) from err
    for name in MODULE_NAMES:
        problem = _state_difference(hparams[name].state_dict(), states[name])
        if problem:
            raise ExportError(
                f"{name}.ckpt does not fit the model defined in {source} "
                f"(a changed setting?): {problem}"
            )
    return hparams


def verify_folder(folder, states):
    """Loads ``folder`` as a user of the hub folder does (``foreign_class``
    with its ``custom_interface.py``) and checks the loaded weights."""
    from speechbrain.inference.interfaces import foreign_class

    path_before = list(sys.path)
    try:
        model = foreign_class(
            source=folder,
            pymodule_file=INTERFACE_FILE,
            classname=INTERFACE_CLASS,
        )
    finally:
        sys.path[:] = path_before
    tasnet = model.mods.model
    for name in MODULE_NAMES:
        loaded = getattr(tasnet, name).state_dict()
        for key, value in states[name].items():
            if not torch.equal(value, loaded[key].cpu()):
                raise ExportError(f"{name}.{key} was not loaded correctly")
    return model


def _copy_file(source, dest):
    with atomic_path(dest) as tmp:
        shutil.copy2(source, tmp)


def _keep_file(source, target):
    """Puts a user's file into the new folder as it is: a link stays a
    link, a file is hard-linked (the same file, mode and owner), or
    copied with its mode where a hard link cannot be made."""
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _keep_modes(old_folder, new_folder):
    """Gives each new file the mode its owner had set on the file of the
    same name in the folder it replaces."""
    for name in os.listdir(new_folder):
        old = os.path.join(old_folder, name)
        if os.path.isfile(old) and not os.path.islink(old):
            os.chmod(os.path.join(new_folder, name), new_mode(old))


def _keep_user_files(old_folder, new_folder):
    """Moves what a user added to an overwritten folder into the new one
    (links as links, folders with their content)."""
    if not os.path.isdir(old_folder):
        return
    for name in os.listdir(old_folder):
        if name in EXPORTED_FILES:
            continue
        source = os.path.join(old_folder, name)
        target = os.path.join(new_folder, name)
        if os.path.isdir(source) and not os.path.islink(source):
            shutil.copytree(
                source, target, symlinks=True, copy_function=_keep_file
            )
        else:
            _keep_file(source, target)


def _relation(path, folder):
    """How ``path`` stands to ``folder`` ("is", "is inside", "contains"),
    both resolved; None when apart."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    if path == folder:
        return "is"
    common = os.path.commonpath([path, folder])
    if common == folder:
        return "is inside"
    if common == path:
        return "contains"
    return None


def _check_destination(dest, overwrite, sources):
    """Refuses a destination that is not a folder, that is not empty
    without ``overwrite``, or that is, contains or is inside one of
    ``sources`` (what, folder): writing it would destroy the run."""
    for what, folder in sources:
        relation = _relation(dest, folder)
        if relation is not None:
            raise ExportError(
                f"destination {dest} {relation} {what} {folder}; export "
                "to a folder outside it"
            )
    if os.path.islink(dest) and not os.path.exists(dest):
        raise ExportError(
            f"destination {dest} is a link to a missing {os.readlink(dest)}"
        )
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ExportError(f"destination {dest} exists and is not a folder")
    if not os.path.isdir(dest) or not os.listdir(dest):
        return
    if not overwrite:
        raise ExportError(
            f"destination {dest} exists and is not empty (use --overwrite "
            "to replace the model in it)"
        )
    if not os.path.isfile(os.path.join(dest, "hyperparams.yaml")):
        raise ExportError(
            f"destination {dest} is not empty and is not a model folder (no "
            "hyperparams.yaml); --overwrite replaces model folders only"
        )


def _choose_checkpoint(output_folder, checkpoint, max_key, min_key):
    """The checkpoint to export and its states: the one named (a path, or
    a bare ``CKPT+...`` name of the run's ``save`` folder), or the best
    that loads (a damaged best falls back to the next, with a
    warning)."""
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        in_save = os.path.join(output_folder, "save", checkpoint)
        if not os.path.exists(checkpoint) and os.path.isdir(in_save):
            checkpoint = in_save  # a bare CKPT+... name, as ls save/ shows
        if not os.path.isdir(checkpoint):
            raise ExportError(
                f"checkpoint not found: {checkpoint} (give a CKPT+* folder "
                f"of {os.path.join(output_folder, 'save')}, by path or name)"
            )
        found = find_named_checkpoint(checkpoint)
        return found, load_checkpoint_states(found)
    return load_best_checkpoint(
        os.path.join(output_folder, "save"), max_key, min_key
    )


def _folder_contents(output_folder, recipe, found, states, training_data):
    """The texts and the files to copy of an export, by file name; checks
    that the recipe's definition fits the checkpoint first."""
    # the run's folder name only: the trainer's own paths are not published
    run_name = os.path.basename(os.path.abspath(output_folder))
    header = (
        "# GALR separation model exported by speechbrain_galr "
        f"{_package_version()}\n# from .../{run_name}, "
        f"checkpoint {found.path.name}.\n# Load it with foreign_class("
        f'source=<this folder>, pymodule_file="{INTERFACE_FILE}", '
        f'classname="{INTERFACE_CLASS}")\n# (see README.md).\n\n'
    )
    hparams_text = build_hub_hparams(recipe, header=header)
    recipe_yaml = os.path.join(output_folder, "hyperparams.yaml")
    check_definition(hparams_text, states, recipe_yaml)
    roots = package_modules(hparams_text) + [INTERFACE_MODULE]
    results_path, not_tested = results_for(output_folder, found)
    results = read_test_results(results_path) if results_path else None
    params = sum(
        value.numel()
        for state in states.values()
        for value in state.values()
        if value.is_floating_point()
    )
    texts = {
        "hyperparams.yaml": hparams_text,
        INTERFACE_FILE: build_custom_interface(roots, _package_version()),
        "README.md": build_model_card(
            recipe, found, params, results, not_tested, training_data
        ),
    }
    copies = {f"{n}.ckpt": found.paramfiles[n] for n in MODULE_NAMES}
    if results_path:
        copies[RESULTS_FILE] = results_path
    return texts, copies


def export_model(
    output_folder,
    dest,
    checkpoint=None,
    max_key=None,
    min_key=None,
    training_data=None,
    overwrite=False,
    verify=True,
    onnx=False,
):
    """Exports a recipe's best checkpoint as a hub folder.

    Arguments
    ---------
    output_folder : str
        The recipe's output folder (``hyperparams.yaml``, ``save/``,
        ``test_results.csv``).
    dest : str
        Folder to write.
    checkpoint : str or None
        A ``CKPT+*`` folder to export instead of the best one.
    max_key, min_key : str or None
        Checkpoint meta key to maximise or minimise; by default ``si-snr``
        read as its writer meant it (a score in this package's recipes, a
        loss in SpeechBrain's:
        :func:`speechbrain_galr.export.hub.find_checkpoint`).
    training_data : str or None
        Description of the training data for the model card.
    overwrite : bool
        Replace the model in an existing ``dest`` (other files in it are
        kept).
    verify : bool
        Load the new folder and check its weights before it replaces
        ``dest``.
    onnx : bool
        Also write ``model.onnx``
        (:func:`speechbrain_galr.export.onnx.export_onnx`, checked
        against the loaded PyTorch model).

    Returns
    -------
    str
        ``dest``.

    Example
    -------
    >>> from speechbrain.utils.checkpoints import Checkpointer
    >>> from speechbrain_galr import HPARAMS_DIR
    >>> from hyperpyyaml import resolve_references
    >>> tmp = getfixture("tmp_path")
    >>> small = {"num_filters": 16, "hidden_channels": 8, "num_blocks": 1,
    ...          "num_heads": 2, "segment_size": 10,
    ...          "reduced_segment_size": 4}
    >>> with open(os.path.join(HPARAMS_DIR, "galr-model.yaml")) as fin:
    ...     text = fin.read()
    >>> os.makedirs(tmp / "recipe")  # what create_experiment_directory does
    >>> _ = (tmp / "recipe" / "hyperparams.yaml").write_text(
    ...     resolve_references(text, small).getvalue())
    >>> hparams = load_hyperpyyaml(text, small)
    >>> saver = Checkpointer(tmp / "recipe" / "save",
    ...                      {n: hparams[n] for n in MODULE_NAMES})
    >>> _ = saver.save_checkpoint(meta={"si-snr": 1.5})
    >>> dest = export_model(tmp / "recipe", tmp / "model")
    >>> sorted(os.listdir(dest))  # doctest: +NORMALIZE_WHITESPACE
    ['README.md', 'custom_interface.py', 'decoder.ckpt', 'encoder.ckpt',
     'hyperparams.yaml', 'masknet.ckpt']
    """
    if onnx:  # before any work: the optional packages are there
        from speechbrain_galr.inference.onnx_runtime import import_optional

        for package in ("onnx", "onnxscript", "onnxruntime"):
            import_optional(package)
    if not str(dest).strip():
        raise ExportError("destination (--out) is empty; name a folder")
    output_folder, dest = str(output_folder), os.path.abspath(str(dest))
    if not os.path.isdir(output_folder):
        raise ExportError(f"recipe output folder not found: {output_folder}")
    recipe = load_recipe_hparams(
        os.path.join(output_folder, "hyperparams.yaml")
    )
    found, states = _choose_checkpoint(
        output_folder, checkpoint, max_key, min_key
    )
    sources = [
        ("the recipe output folder", output_folder),
        ("the checkpoint", str(found.path)),
    ]
    _check_destination(dest, overwrite, sources)
    texts, copies = _folder_contents(
        output_folder, recipe, found, states, training_data
    )
    try:
        _write_folder(dest, texts, copies, states, overwrite, onnx, verify)
    except FileExistsError as err:
        if os.path.realpath(err.filename or "") != os.path.realpath(dest):
            raise
        raise ExportError(
            f"destination {dest} was written by another process during "
            "this export; it was left as it is (use --overwrite to "
            "replace it)"
        ) from err
    except OSError as err:
        if TEMP_PREFIX not in str(err.filename):
            raise
        raise ExportError(  # the staging folder means nothing to a user
            f"cannot write the model to {dest}: {err.strerror}; {dest} was "
            "left as it was"
        ) from err
    logger.info(f"exported {found.path} to {dest}")
    return dest


def _write_folder(dest, texts, copies, states, overwrite, onnx, verify):
    """Writes the export beside ``dest``, checks it and puts it in place
    (replacing ``dest`` only with ``overwrite``)."""
    with atomic_folder(dest, replace=overwrite) as staging:
        for name, text in texts.items():
            write_text_atomic(os.path.join(staging, name), text)
        for name, source in copies.items():
            _copy_file(source, os.path.join(staging, name))
        if verify or onnx:
            try:
                loaded = verify_folder(staging, states)
            except Exception as err:
                raise ExportError(
                    f"the exported model does not load "
                    f"({type(err).__name__}: {one_line(err)}); {dest} was "
                    "left as it was"
                ) from err
        if onnx:
            from speechbrain_galr.export.onnx import export_onnx
            from speechbrain_galr.inference.onnx_runtime import ONNX_FILE

            export_onnx(loaded.mods.model, os.path.join(staging, ONNX_FILE))
        _keep_modes(dest, staging)
        _keep_user_files(dest, staging)
