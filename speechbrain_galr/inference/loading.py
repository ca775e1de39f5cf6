"""Loads a model folder with one-line errors that name the bad file.

``GALRSeparation.from_hparams`` is SpeechBrain's own loader; when a file of
the folder is missing, empty, truncated or does not fit
``hyperparams.yaml``, it fails deep inside torch or hyperpyyaml.
:func:`load_model`, used by the command line, first checks the files of a
local folder (:func:`check_model_folder`) and turns what still fails into a
:class:`speechbrain_galr.model_folder.ModelFileError` naming the folder.

Authors
 * speechbrain-galr contributors 2026
"""

import os
import re

from speechbrain_galr.errors import one_line
from speechbrain_galr.model_folder import (
    ModelFileError,
    load_state_file,
    read_hparams,
)

HPARAMS_FILE = "hyperparams.yaml"


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


def check_model_folder(folder):
    """Checks a local model folder's ``hyperparams.yaml`` and the ``.ckpt``
    file of every loadable of its pretrainer.

    Raises
    ------
    ModelFileError
        Naming the missing, unparsable, empty or corrupt file.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> check_model_folder(folder)
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileError: model folder ... has no ...
    """
    folder = str(folder)
    path = os.path.join(folder, HPARAMS_FILE)
    if not os.path.isfile(path):
        raise ModelFileError(
            f"model folder {folder} has no {HPARAMS_FILE} (export a recipe "
            "with `python -m speechbrain_galr export`)"
        )
    hparams = read_hparams(path)
    pretrainer = hparams.get("pretrainer")
    loadables = (
        pretrainer.get("loadables") if hasattr(pretrainer, "get") else None
    )
    if not isinstance(loadables, dict):
        raise ModelFileError(f"{path} has no pretrainer with loadables")
    paths = pretrainer.get("paths") or {}
    for name in loadables:
        if name in paths:
            continue  # fetched from elsewhere by SpeechBrain
        load_state_file(os.path.join(folder, f"{name}.ckpt"))


def load_model(source, savedir=None, run_opts=None):
    """``GALRSeparation.from_hparams`` with one-line errors.

    Arguments
    ---------
    source : str
        A model folder written by ``export`` or a hub id.
    savedir : str or None
        Passed to ``from_hparams``.
    run_opts : dict or None
        Passed to ``from_hparams`` (``{"device": "cuda"}``).

    Returns
    -------
    speechbrain_galr.inference.separator.GALRSeparation

    Raises
    ------
    ModelFileError
        When a file of the folder is bad or the model does not load.
    """
    from speechbrain_galr.inference.separator import GALRSeparation

    source = str(source)
    if os.path.isdir(source):
        check_model_folder(source)
    try:
        return GALRSeparation.from_hparams(
            source=source, savedir=savedir, run_opts=run_opts or {}
        )
    except ModelFileError:
        raise
    except RuntimeError as err:
        if "state_dict" not in str(err):
            raise
        raise ModelFileError(
            f"the .ckpt files of {source} do not fit its {HPARAMS_FILE} "
            f"(a changed setting?): {_load_problem(err)}"
        ) from err
    except (ImportError, AttributeError, TypeError, KeyError) as err:
        raise ModelFileError(
            f"the model defined in {source}/{HPARAMS_FILE} cannot be built: "
            f"{type(err).__name__}: {one_line(err)}"
        ) from err
