"""ONNX export of the separation model and an onnxruntime backend.

:func:`export_onnx` writes a :class:`speechbrain_galr.tasnet.TasNet` as
``model.onnx``: input ``mix`` ``[batch, samples]``, output ``sources``
``[batch, samples, C]``, both axes dynamic, the output exactly as long as
the input, as PyTorch gives it.  :class:`OnnxTasNet` runs such a file
through onnxruntime with the call signature of the PyTorch model, so the
chunked long-file path (:class:`speechbrain_galr.chunked.ChunkedSeparator`)
and ``GALRSeparation`` take either backend.

The graph comes from ``torch.export`` (non-strict, ``Dim.AUTO`` axes, so
the padding arithmetic of the encoder and of GALR's segmentation stays
symbolic in the number of samples) and torch's ONNX translator
(``torch.onnx.export(..., dynamo=True)``, which needs ``onnxscript``).
What needed care:

* integer shape arithmetic: the translator turns ``//`` of symbolic sizes
  into ONNX ``Div``, which truncates, so ``-(-a // b)`` is floor, not
  ceil, for a positive ``a`` (onnxscript issue 2342); the model writes
  ceilings as ``(a + b - 1) // b`` and ``max`` of sizes as
  ``torch.sym_max``.  :func:`export_onnx` checks lengths of every residue
  class that this could break against PyTorch before it keeps a file.
* value checks: a Python branch on tensor values (``if not
  torch.isfinite(x).all()``) cannot be traced; the model has none (they
  are in :func:`speechbrain_galr.tasnet.check_mixtures`, and
  :class:`OnnxTasNet` checks its input itself).
* example shapes: axes of size 0 or 1 and lengths that fill the last
  frame or segment exactly get specialised by ``torch.export``; the
  example input is ``[2, 12345]``, which is neither.
* attention: ``F.scaled_dot_product_attention`` becomes ONNX
  ``Attention`` (opset >= 23); onnxruntime's kernel rejects GALR's
  ``[B, 1, 1, S]`` key mask at opsets 23 and 24 (it wants the query axis
  spelled out) and runs it at opset 25, the newest opset torch's
  translator writes (26 and up fail in its version conversion).
* the Bi-LSTM (ONNX ``LSTM``, both directions in one node), ``unfold``
  (``Gather``/``Slice``), ``fold`` (``Col2Im``) and ``pad`` (``Pad``)
  translate as they are.

onnx, onnxscript and onnxruntime are optional (``pip install
'speechbrain-galr[onnx]'``); without them these functions raise
:class:`OnnxUnavailableError`, a one-line error.

Authors
 * speechbrain-galr contributors 2026
"""

import importlib
import logging
import os
import warnings

import numpy as np

ONNX_FILE = "model.onnx"
"""File name of the ONNX model in an exported model folder."""
OPSET = 25
"""ONNX opset of the export (see :func:`export_onnx`)."""
EXAMPLE_SHAPE = (2, 12345)
"""Example input of ``torch.export``: no axis of size 0 or 1, a length
that fills no frame or segment exactly (shapes stay symbolic)."""
TOLERANCE = 1e-4
"""Largest absolute difference to PyTorch of a small model (the tests)."""
CHECK_TOLERANCE = 1e-3
"""Largest difference to PyTorch, relative to the peak output (at least
1), that :func:`export_onnx` accepts: fp32 rounding in a deep model stays
far below it (about 1e-4 for galr.yaml with random weights), a wrong
shape formula goes far above it (1e-2 to 1e-1)."""
INPUT_NAME, OUTPUT_NAME = "mix", "sources"
AXIS_NAMES = ("batch", "samples")
INSTALL_HINT = "pip install 'speechbrain-galr[onnx]'"


class OnnxUnavailableError(ImportError, ValueError):
    """Raised when onnx, onnxscript or onnxruntime is not installed (a
    ValueError too, so the command line prints it as one line)."""


class OnnxExportError(ValueError):
    """Raised when an exported graph does not match the PyTorch model."""


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
    speechbrain_galr.onnx_export.OnnxUnavailableError: onnx_package_...
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise OnnxUnavailableError(
            f"{name} is not installed; ONNX export and the onnxruntime "
            f"backend need onnx, onnxscript and onnxruntime: {INSTALL_HINT}"
        ) from err


def _name_axes(proto):
    """Names the input's dynamic axes ``batch`` and ``samples`` wherever
    the graph uses their symbols (torch.export calls them ``s12``...)."""
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    rename = {d.dim_param: new for d, new in zip(dims, AXIS_NAMES)}
    values = [*proto.graph.input, *proto.graph.output]
    for value in [*values, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in rename:
                dim.dim_param = rename[dim.dim_param]


def _check_lengths(model):
    """Input lengths that cover the cases a wrong shape formula breaks:
    one frame, an exact fill, and one sample past it."""
    window, hop = model.window, model.hop
    return [1, window + 7 * hop, window + 7 * hop + 1, 8000 + 3]


def onnx_errors(model, session, shapes, seed=0, return_peaks=False):
    """Largest absolute differences of an ONNX session to the model.

    Arguments
    ---------
    model : torch.nn.Module
        The PyTorch model (``[B, T]`` to ``[B, T, C]``), in eval mode.
    session : OnnxTasNet
        The exported model.
    shapes : list of tuple
        ``(batch, samples)`` inputs to compare on (random normal).
    seed : int
        Seed of the inputs.
    return_peaks : bool
        Also return the peak absolute PyTorch output of each shape.

    Returns
    -------
    list of float
        One maximum absolute error per shape (and the peaks).
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    errors, peaks = [], []
    for shape in shapes:
        mix = torch.randn(*shape, generator=generator)
        with torch.inference_mode():
            expected = model(mix)
        got = session(mix)
        if got.shape != expected.shape:
            raise OnnxExportError(
                f"the ONNX model gives shape {tuple(got.shape)} for input "
                f"{tuple(shape)}, PyTorch {tuple(expected.shape)}"
            )
        errors.append(float((got - expected).abs().max()))
        peaks.append(float(expected.abs().max()))
    return (errors, peaks) if return_peaks else errors


def export_onnx(model, path, opset=OPSET, check=True):
    """Exports a separation model to an ONNX file.

    Arguments
    ---------
    model : speechbrain_galr.tasnet.TasNet
        ``[B, T]`` mixtures to ``[B, T, C]`` sources (its training mode is
        kept; the export is of eval mode).
    path : str
        The ``.onnx`` file to write (atomically).
    opset : int
        ONNX opset (default :data:`OPSET`, 25: the newest that torch's
        translator writes and onnxruntime runs GALR's masked attention
        at; 18 to 22 work too, with attention as MatMul and Softmax).
    check : bool
        Check the graph with ``onnx.checker`` and compare it with PyTorch
        on lengths of every residue class of the padding arithmetic
        (raises :class:`OnnxExportError` above :data:`CHECK_TOLERANCE`).

    Returns
    -------
    list of float
        The largest absolute errors of the check (empty without check).

    Example
    -------
    >>> from speechbrain_galr.tasnet import TasNet
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.galr import GALR
    >>> model = TasNet(Encoder(16, 16), GALR(16, 16, 8, num_blocks=1,
    ...     num_heads=2, segment_size=10, reduced_segment_size=4),
    ...     Decoder(16, 1, kernel_size=16, stride=8, bias=False))
    >>> path = getfixture("tmp_path") / "model.onnx"
    >>> errors = export_onnx(model, path)  # doctest: +SKIP
    >>> OnnxTasNet(path)(torch.randn(1, 8000)).shape  # doctest: +SKIP
    torch.Size([1, 8000, 2])
    """

    from speechbrain_galr.files import atomic_path

    onnx = import_optional("onnx")
    import_optional("onnxscript")
    import_optional("onnxruntime")
    training = model.training
    model.eval()
    try:
        proto = onnx_graph(model, opset)
        with atomic_path(path) as tmp:
            onnx.save(proto, tmp)
            return _check_file(model, tmp, opset) if check else []
    finally:
        model.train(training)


def _one_line(err, limit=300):
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def onnx_graph(model, opset=OPSET):
    """The ONNX graph (``onnx.ModelProto``) of a model in eval mode, axes
    named (see :func:`export_onnx`); torch's progress messages and
    warnings about its own internals are kept quiet."""
    import torch

    example = torch.randn(*EXAMPLE_SHAPE)
    auto = torch.export.Dim.AUTO
    registry_log = logging.getLogger(
        "torch.onnx._internal.exporter._registration"
    )
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)  # "torchvision is not installed"
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            try:
                program = torch.export.export(
                    model,
                    (example,),
                    dynamic_shapes=({0: auto, 1: auto},),
                    strict=False,
                )
            except Exception as err:  # torch.export's many error types
                raise OnnxExportError(
                    f"torch.export cannot trace the model: {_one_line(err)}"
                ) from err
            onnx_program = torch.onnx.export(
                program,
                (example,),
                dynamo=True,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                optimize=True,
                verbose=False,
            )
    finally:
        registry_log.setLevel(level)
    proto = onnx_program.model_proto
    _name_axes(proto)
    return proto


def _check_file(model, path, opset):
    """Runs ``onnx.checker`` and compares the file with the model on
    lengths of every residue class of the padding arithmetic."""
    import onnx

    onnx.checker.check_model(path, full_check=True)
    shapes = [(2, n) for n in _check_lengths(model)]
    try:
        errors, peaks = onnx_errors(
            model, OnnxTasNet(path), shapes, return_peaks=True
        )
    except OnnxExportError:
        raise
    except Exception as err:  # onnxruntime's Fail and others
        raise OnnxExportError(
            f"onnxruntime cannot run the exported model (opset {opset}): "
            f"{_one_line(err)}"
        ) from err
    limit = CHECK_TOLERANCE * max(1.0, *peaks)
    if max(errors) > limit:
        raise OnnxExportError(
            f"the ONNX model differs from PyTorch by up to "
            f"{max(errors):.2e} (> {limit:.2g}) on inputs of shape "
            f"{shapes}; not written"
        )
    return errors


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
    FileNotFoundError: model folder ... has no model.onnx; ...
    """
    source = os.fspath(source)
    hint = (
        "export it with `python -m speechbrain_galr export RECIPE_OUTPUT "
        "--out FOLDER --onnx`"
    )
    if os.path.isdir(source):
        path = os.path.join(source, ONNX_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"model folder {source} has no {ONNX_FILE}; {hint}"
            )
        return path
    from speechbrain.utils.fetching import LocalStrategy, fetch

    try:
        path = fetch(
            ONNX_FILE,
            source=source,
            savedir=savedir,
            local_strategy=LocalStrategy.SYMLINK,
        )
    except Exception as err:  # hub and network errors of many types
        raise FileNotFoundError(
            f"cannot get {ONNX_FILE} of {source} ({_one_line(err, 200)}); "
            f"{hint}"
        ) from err
    return str(path)


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
                f"cannot load ONNX model {path}: {_one_line(err, 200)}"
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
