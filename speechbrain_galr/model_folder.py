"""Reading a model folder: its hyperparameter file and its ``.ckpt`` files.

One reader for every side that opens a model or checkpoint folder
(training resumes and checks checkpoints, inference loads a hub folder,
export reads a recipe's output), each with a one-line
:class:`ModelFileError` that names the file.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import zipfile

import torch

from speechbrain_galr.errors import GALRError, one_line


class ModelFileError(GALRError):
    """Raised when a model or checkpoint file is missing, empty, corrupt
    or does not fit its definition (the message names the file)."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """Raised when a file of a model folder is missing (the message names
    the file)."""


def yaml_parser():
    """A round-trip YAML parser that keeps hyperpyyaml's tags."""
    import ruamel.yaml

    parser = ruamel.yaml.YAML()
    parser.width = 80
    return parser


def read_hparams(path, error=ModelFileError):
    """Parses a hyperparameter file, tags kept; one-line ``error`` naming
    the file when it is not a YAML mapping."""
    import ruamel.yaml

    try:
        with open(path, encoding="utf-8") as fin:
            doc = yaml_parser().load(fin)
    except (ruamel.yaml.YAMLError, UnicodeDecodeError) as err:
        problem = " ".join(str(err).split())
        raise error(f"cannot parse {path}: {problem}") from err
    if not isinstance(doc, dict):
        raise error(f"{path} is not a YAML mapping")
    return doc


def file_problem(path):
    """Why a checkpoint file cannot be loaded, or None if it looks whole.

    ``torch.save`` files are zip archives, checked entry by entry against
    their CRCs (a truncated or damaged file fails); SpeechBrain's other
    checkpoint files (``brain.ckpt``, ``counter.ckpt``, dataloader
    positions) are YAML text.

    Example
    -------
    >>> import torch
    >>> path = getfixture("tmp_path") / "layer.ckpt"
    >>> torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    >>> file_problem(path) is None
    True
    >>> _ = path.write_bytes(path.read_bytes()[:100])
    >>> file_problem(path)
    'truncated or damaged torch file (File is not a zip file)'
    """
    import yaml

    try:
        with open(path, "rb") as fin:
            head = fin.read(2)
        if not head:
            return "empty file"
        if head == b"PK":
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            return None if bad is None else f"corrupt entry {bad}"
        if head[:1] == b"\x80":
            return None  # torch's legacy pickle format: loading tells
        with open(path, encoding="utf-8") as fin:
            yaml.safe_load(fin)
    except (zipfile.BadZipFile, EOFError) as err:
        return f"truncated or damaged torch file ({one_line(err)})"
    except (UnicodeDecodeError, yaml.YAMLError):
        return "neither a torch file nor SpeechBrain's text format"
    except OSError as err:
        return one_line(err.strerror or err)
    return None


def load_state_file(path):
    """``torch.load`` of a ``.ckpt`` file, with a one-line error naming it.

    Example
    -------
    >>> path = getfixture("tmp_path") / "masknet.ckpt"
    >>> _ = path.write_bytes(b"")
    >>> load_state_file(path)
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileError: .../masknet.ckpt is empty ...
    """
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"checkpoint file not found: {path}")
    if os.path.getsize(path) == 0:
        raise ModelFileError(f"{path} is empty (0 bytes)")
    problem = file_problem(path)
    if problem is not None:
        raise ModelFileError(f"{path} is not a readable checkpoint: {problem}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a bad file
        first = " ".join(str(err).split()).split(". ")[0][:160]
        raise ModelFileError(
            f"{path} is not a readable checkpoint: {type(err).__name__}: "
            f"{first}"
        ) from err
    if not isinstance(state, dict) or not all(
        torch.is_tensor(v) for v in state.values()
    ):
        raise ModelFileError(f"{path} does not hold a module state dict")
    return state


def fetch_model_file(filename, source, savedir=None, hint=""):
    """A local path of a file of a model folder or hub repository (the
    one fetch of the loader and the onnxruntime backend).

    Raises
    ------
    ModelFileNotFoundError
        One line naming the file and ``hint`` (what would make it).

    Example
    -------
    >>> fetch_model_file("model.onnx", str(getfixture("tmp_path")), hint="x")
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileNotFoundError: model folder ...
    """
    hint = f"; {hint}" if hint else ""
    if os.path.isdir(source):
        path = os.path.join(source, filename)
        if not os.path.isfile(path):
            raise ModelFileNotFoundError(
                f"model folder {source} has no {filename}{hint}"
            )
        return path
    from speechbrain.utils.fetching import LocalStrategy, fetch

    try:
        path = fetch(
            filename,
            source=source,
            savedir=savedir,
            local_strategy=LocalStrategy.SYMLINK,
        )
    except Exception as err:  # hub and network errors of many types
        raise ModelFileNotFoundError(
            f"cannot get {filename} of {source} ({one_line(err, 200)}){hint}"
        ) from err
    return str(path)
