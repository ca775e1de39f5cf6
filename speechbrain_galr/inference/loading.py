"""Loading a model folder: the one way from a user's model source to a
ready separator, with one-line errors that name the bad file.

:func:`load_pretrained` is SpeechBrain's ``from_hparams``
(``speechbrain.inference.interfaces.pretrained_from_hparams``) with three
changes: the source is resolved once
(:func:`speechbrain_galr.inference.user_paths.resolve_source`), its
``hyperparams.yaml`` is read once (hyperpyyaml builds the modules from that
text), and the ``.ckpt`` files are loaded only for the PyTorch backend
(with ``backend="onnxruntime"`` the folder's ``model.onnx`` runs the model
and no checkpoint is read).  A failure is explained after it happens
(which file is missing, empty, damaged or does not fit the yaml), as a
:class:`speechbrain_galr.model_folder.ModelFileError`.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import re

from speechbrain_galr.errors import one_line
from speechbrain_galr.inference.savedir import prepare_savedir
from speechbrain_galr.inference.user_paths import resolve_source
from speechbrain_galr.model_folder import (
    ModelFileError,
    ModelFileNotFoundError,
    fetch_model_file,
    file_problem,
)

HPARAMS_FILE = "hyperparams.yaml"
BACKENDS = ("torch", "onnxruntime")
"""What runs the model: PyTorch (the ``.ckpt`` files) or onnxruntime (the
folder's ``model.onnx``, written by ``export --onnx``)."""

SIZE_MISMATCH = re.compile(
    r"size mismatch for (\S+): copying a param with shape "
    r"torch.Size\((\[.*?\])\) from checkpoint, the shape in current model "
    r"is torch.Size\((\[.*?\])\)"
)


def _load_problem(err):
    """The first parameter a ``load_state_dict`` error names, shortly."""
    found = SIZE_MISMATCH.search(str(err))
    if found is None:
        return one_line(err, 200)
    name, saved, built = found.groups()
    return f"{name} is {saved} in the .ckpt file, {built} by the yaml"


def _fetch(filename, source, savedir):
    """A local path of a file of a model folder or hub repository."""
    return fetch_model_file(
        filename,
        source,
        savedir,
        hint="export a recipe with `python -m speechbrain_galr export`",
    )


def _not_a_folder(source):
    """The error text for a model source that is an existing file (it was
    taken for a hub id: retries, then "check your connection")."""
    hint = "the folder that holds hyperparams.yaml and the .ckpt files"
    if os.path.basename(source) == HPARAMS_FILE:
        hint = f"its folder, {os.path.dirname(source) or '.'}"
    return f"model {source} is a file, not a model folder: give {hint}"


def build_hparams(path, overrides=None):
    """Reads a model's ``hyperparams.yaml`` once and builds it.

    Returns
    -------
    hparams : dict
        The built hyperparameters (modules included).
    pretrainer : speechbrain.utils.parameter_transfer.Pretrainer
        Its ``pretrainer``, with at least one loadable.

    Example
    -------
    >>> path = getfixture("tmp_path") / "hyperparams.yaml"
    >>> _ = path.write_text("sample_rate: -8000\\nmodules: {}\\n")
    >>> build_hparams(str(path))
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileError: .../hyperparams.yaml: \
sample_rate must be a whole number > 0, got -8000
    """
    import ruamel.yaml
    from hyperpyyaml import load_hyperpyyaml

    try:
        with open(path, encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, overrides or {})
    except (ruamel.yaml.YAMLError, UnicodeDecodeError) as err:
        raise ModelFileError(f"cannot parse {path}: {one_line(err)}") from err
    except Exception as err:  # yaml, import and constructor errors
        raise ModelFileError(
            f"the model defined in {path} cannot be built: "
            f"{type(err).__name__}: {one_line(err)}"
        ) from err
    if not isinstance(hparams, dict):
        raise ModelFileError(f"{path} is not a YAML mapping")
    check_model_hparams(hparams, path)
    pretrainer = hparams.get("pretrainer")
    if not getattr(pretrainer, "loadables", None):
        raise ModelFileError(f"{path} has no pretrainer with loadables")
    return hparams, pretrainer


def check_model_hparams(hparams, path):
    """Raises a :class:`ModelFileError` naming ``path`` when its built
    hyperparameters cannot make a separator: ``sample_rate`` and
    ``num_spks`` must be whole numbers > 0, ``modules`` must hold the
    ``model`` (or, as folders exported before it existed, the
    ``encoder``, ``masknet`` and ``decoder``).

    Example
    -------
    >>> check_model_hparams({"sample_rate": "eight"}, "m/hyperparams.yaml")
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileError: m/hyperparams.yaml: \
sample_rate must be a whole number > 0, got 'eight'
    """
    for key in ("sample_rate", "num_spks"):
        value = hparams.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ModelFileError(
                f"{path}: {key} must be a whole number > 0, got {value!r}"
            )
    modules = hparams.get("modules")
    parts = ("encoder", "masknet", "decoder")
    if not isinstance(modules, dict) or not (
        "model" in modules or all(name in modules for name in parts)
    ):
        found = sorted(modules) if isinstance(modules, dict) else modules
        raise ModelFileError(
            f"{path}: modules must hold the model (or its encoder, masknet "
            f"and decoder), got {found}"
        )


def _checkpoint_problem(source, pretrainer, err):
    """The one-line error for a failed ``load_collected``: the first
    loadable whose file is missing or damaged, else the mismatch."""
    for name in pretrainer.loadables:
        path = str(pretrainer.paths.get(name, f"{name}.ckpt"))
        if not os.path.isfile(path):
            return ModelFileNotFoundError(f"checkpoint file not found: {path}")
        if os.path.getsize(path) == 0:
            return ModelFileError(f"{path} is empty (0 bytes)")
        problem = file_problem(path)
        if problem is not None:
            return ModelFileError(
                f"{path} is not a readable checkpoint: {problem}"
            )
    if isinstance(err, RuntimeError) and "state_dict" in str(err):
        return ModelFileError(
            f"the .ckpt files of {source} do not fit its {HPARAMS_FILE} "
            f"(a changed setting?): {_load_problem(err)}"
        )
    return ModelFileError(
        f"cannot load the checkpoints of {source}: "
        f"{type(err).__name__}: {one_line(err)}"
    )


def load_weights(pretrainer, source, savedir=None):
    """Collects and loads the ``.ckpt`` files of a pretrainer (once)."""
    from speechbrain.utils.fetching import LocalStrategy

    pretrainer.set_collect_in(savedir)
    try:
        pretrainer.collect_files(
            default_source=source, local_strategy=LocalStrategy.SYMLINK
        )
        pretrainer.load_collected()
    except ModelFileError:
        raise
    except Exception as err:  # fetch, torch.load and load_state_dict
        if not getattr(pretrainer, "paths", None):
            pretrainer.paths = {
                name: os.path.join(source, f"{name}.ckpt")
                for name in pretrainer.loadables
            }
        raise _checkpoint_problem(source, pretrainer, err) from err


def load_pretrained(
    cls,
    source,
    savedir=None,
    run_opts=None,
    overrides=None,
    backend="torch",
    onnx_threads=None,
):
    """Builds ``cls`` (a SpeechBrain ``Pretrained``) from a model folder or
    hub repository, each file read once.

    Arguments
    ---------
    cls : type
        ``GALRSeparation`` (or a subclass).
    source : str
        A model folder written by ``export``, or a hub id.
    savedir : str or None
        Where SpeechBrain keeps links to fetched files.
    run_opts : dict or None
        ``{"device": ..., "precision": ...}``.
    overrides : dict or None
        hyperpyyaml overrides.
    backend : str
        ``torch`` (the ``.ckpt`` files) or ``onnxruntime`` (``model.onnx``;
        no checkpoint is loaded).
    onnx_threads : int or None
        onnxruntime's intra-op threads.

    Returns
    -------
    cls instance

    Raises
    ------
    ModelFileError
        Naming the missing, unparsable, empty or corrupt file.

    Example
    -------
    >>> from speechbrain_galr.inference.separator import GALRSeparation
    >>> load_pretrained(GALRSeparation, getfixture("tmp_path"))
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileNotFoundError: model folder ...
    """
    if backend not in BACKENDS:
        raise ModelFileError(
            f"backend must be one of {BACKENDS}, not {backend}"
        )
    source = resolve_source(source, "model folder")
    if os.path.exists(source) and not os.path.isdir(source):
        raise ModelFileError(_not_a_folder(source))
    args = (cls, source, savedir, run_opts, overrides, backend, onnx_threads)
    for _ in range(LOAD_ATTEMPTS):
        folder = _folder_identity(source)
        model = _load_once(*args)
        if _folder_identity(source) == folder:
            return model
        # an export --overwrite swapped the folder while its files were
        # read: the yaml and the weights may be of two models; again
    raise ModelFileError(
        f"model folder {source} was replaced {LOAD_ATTEMPTS} times while "
        "it was loaded (an export into it?); try again when it is done"
    )


LOAD_ATTEMPTS = 3
"""Loads of a model folder that an export replaces meanwhile."""


def _folder_identity(source):
    """(device, inode) of a local model folder, which an export
    ``--overwrite`` changes (it swaps in a new folder); None otherwise."""
    try:
        info = os.stat(source)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _load_once(
    cls, source, savedir, run_opts, overrides, backend, onnx_threads
):
    """One load of :func:`load_pretrained`."""
    prepare_savedir(source, savedir)
    onnx_file = None
    if backend == "onnxruntime":
        from speechbrain_galr.inference.onnx_runtime import find_onnx_file

        onnx_file = find_onnx_file(source, savedir)  # before building
    hparams, pretrainer = build_hparams(
        _fetch(HPARAMS_FILE, source, savedir), overrides
    )
    hparams["savedir"] = savedir
    if onnx_file is None:
        load_weights(pretrainer, source, savedir)
    model = cls(modules=hparams["modules"], hparams=hparams, run_opts=run_opts)
    if onnx_file is not None:
        model.use_onnxruntime(onnx_file, threads=onnx_threads)
    return model
