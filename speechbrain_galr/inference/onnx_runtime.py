"""The onnxruntime backend: a model folder's ``model.onnx`` run with the
call signature of the PyTorch model.

:class:`OnnxTasNet` runs a file written by
:func:`speechbrain_galr.export.onnx.export_onnx` (input ``mix``
``[batch, samples]``, output ``sources`` ``[batch, samples, C]``), so the
chunked long-file path
(:class:`speechbrain_galr.inference.chunked.ChunkedSeparator`) and
``GALRSeparation`` take either backend.  onnxruntime is optional
(``pip install 'speechbrain-galr[onnx]'``); without it
:class:`OnnxUnavailableError` is raised, a one-line error.

Authors
 * speechbrain-galr contributors 2026
"""

import importlib
import os

import numpy as np

from speechbrain_galr.errors import GALRError, one_line
from speechbrain_galr.model_folder import fetch_model_file

ONNX_FILE = "model.onnx"
"""File name of the ONNX model in an exported model folder."""
INPUT_NAME, OUTPUT_NAME = "mix", "sources"
INSTALL_HINT = "pip install 'speechbrain-galr[onnx]'"


class OnnxUnavailableError(GALRError, ImportError):
    """Raised when onnx, onnxscript or onnxruntime is not installed (a
    GALRError too, so the command line prints it as one line)."""


def import_optional(name):
    """Imports one of the optional ONNX packages with a one-line error.

    Arguments
    ---------
    name : str
        ``onnx``, ``onnxscript`` or ``onnxruntime``.

    Returns
    -------
    module

    Example
    -------
    >>> import_optional("onnx_package_that_is_not_there")
    Traceback (most recent call last):
    ...
    speechbrain_galr.inference.onnx_runtime.OnnxUnavailableError: ...
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise OnnxUnavailableError(
            f"{name} is not installed; ONNX export and the onnxruntime "
            f"backend need onnx, onnxscript and onnxruntime: {INSTALL_HINT}"
        ) from err


def find_onnx_file(source, savedir=None):
    """The ``model.onnx`` of a model folder or hub repository.

    Arguments
    ---------
    source : str
        A local model folder or a hub id.
    savedir : str or None
        Where SpeechBrain's ``fetch`` keeps a downloaded file.

    Returns
    -------
    str
        A local path.

    Example
    -------
    >>> find_onnx_file(getfixture("tmp_path"))
    Traceback (most recent call last):
    ...
    speechbrain_galr.model_folder.ModelFileNotFoundError: model folder ...
    """
    hint = (
        "export it with `python -m speechbrain_galr export RECIPE_OUTPUT "
        "--out FOLDER --onnx`"
    )
    return fetch_model_file(ONNX_FILE, os.fspath(source), savedir, hint)


class OnnxTasNet:
    """An exported separation model run by onnxruntime.

    Called as the PyTorch model: ``[B, T]`` mixtures (a torch tensor or a
    NumPy array) in, ``[B, T, C]`` sources of the same kind out.  The
    model call itself does not use torch.

    Arguments
    ---------
    path : str
        The ``.onnx`` file written by :func:`export_onnx`.
    threads : int or None
        onnxruntime's intra-op threads (None: its default, one per core).
    providers : list of str or None
        onnxruntime execution providers (default: CPU).
    spinning : bool or None
        Whether idle intra-op threads spin (onnxruntime's default); None
        follows ``OMP_WAIT_POLICY`` as torch's OpenMP threads do (no
        spinning where it is ``PASSIVE``).

    Example
    -------
    >>> model = OnnxTasNet("model.onnx")  # doctest: +SKIP
    >>> model(np.zeros((2, 8000), np.float32)).shape  # doctest: +SKIP
    (2, 8000, 2)
    """

    def __init__(self, path, threads=None, providers=None, spinning=None):
        ort = import_optional("onnxruntime")
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ONNX model not found: {path}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        if spinning is None:
            policy = os.environ.get("OMP_WAIT_POLICY", "")
            spinning = policy.upper() != "PASSIVE"
        if not spinning:
            options.add_session_config_entry(
                "session.intra_op.allow_spinning", "0"
            )
        try:
            self.session = ort.InferenceSession(
                path, options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own types
            raise ValueError(
                f"cannot load ONNX model {path}: {one_line(err, 200)}"
            ) from err
        self.path = path
        self.num_spks = self.session.get_outputs()[0].shape[-1]

    def run(self, mix):
        """Separates a ``[B, T]`` float32 NumPy array (no checks)."""
        return self.session.run(None, {INPUT_NAME: mix})[0]

    def __call__(self, mix, lengths=None):
        """Separates ``[B, T]`` mixtures; returns ``[B, T, C]`` sources.

        With ``lengths`` (relative, as the PyTorch model takes them), each
        item is separated alone over its own samples, which is what the
        PyTorch model computes for a padded batch; samples past an item's
        length are zero.
        """
        is_tensor = hasattr(mix, "detach")
        array = mix.detach().cpu().numpy() if is_tensor else np.asarray(mix)
        if array.ndim != 2 or array.shape[1] == 0:
            raise ValueError(
                f"mixtures must be a non-empty [B, T] array, got shape "
                f"{array.shape}"
            )
        if not np.isfinite(array).all():
            raise ValueError("mixtures contain NaN or Inf values")
        array = np.ascontiguousarray(array, dtype=np.float32)
        if lengths is None:
            out = self.run(array)
        else:
            out = self._run_items(array, lengths)
        if not is_tensor:
            return out
        import torch

        return torch.from_numpy(out).to(device=mix.device, dtype=mix.dtype)

    def _run_items(self, array, lengths):
        """Each item alone over its ``round(length * T)`` samples."""
        if hasattr(lengths, "detach"):
            lengths = lengths.detach().cpu().numpy()
        lengths = np.asarray(lengths, dtype=np.float64)
        if lengths.shape != (array.shape[0],):
            raise ValueError(
                f"lengths must have shape ({array.shape[0]},), got "
                f"{lengths.shape}"
            )
        if not ((lengths > 0) & (lengths <= 1)).all():
            raise ValueError("lengths must be relative lengths in (0, 1]")
        B, T = array.shape
        out = np.zeros((B, T, self.num_spks), np.float32)
        for item, samples in enumerate(np.round(lengths * T).astype(int)):
            out[item, :samples] = self.run(array[item : item + 1, :samples])
        return out
