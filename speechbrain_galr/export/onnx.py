"""ONNX export of the separation model, checked against PyTorch.

:func:`export_onnx` writes a :class:`speechbrain_galr.nnet.tasnet.TasNet` as
``model.onnx``: input ``mix`` ``[batch, samples]``, output ``sources``
``[batch, samples, C]``, both axes dynamic, the output exactly as long as
the input, as PyTorch gives it.
:class:`speechbrain_galr.inference.onnx_runtime.OnnxTasNet` runs such a
file through onnxruntime with the call signature of the PyTorch model, so the
chunked long-file path
(:class:`speechbrain_galr.inference.chunked.ChunkedSeparator`)
and ``GALRSeparation`` take either backend.

The graph comes from ``torch.export`` (non-strict, ``Dim.AUTO`` axes, so
the padding arithmetic of the encoder and of GALR's segmentation stays
symbolic in the number of samples) and torch's ONNX translator
(``torch.onnx.export(..., dynamo=True)``, which needs ``onnxscript``).
What needed care:

* integer shape arithmetic: the translator turns ``//`` of symbolic sizes
  into ONNX ``Div``, which truncates, so ``-(-a // b)`` is floor, not
  ceil, for a positive ``a`` (an onnxscript bug, #2342); the model writes
  ceilings as ``(a + b - 1) // b`` and ``max`` of sizes as
  ``torch.sym_max``.  :func:`export_onnx` checks lengths of every residue
  class that this could break against PyTorch before it keeps a file.
* value checks: a Python branch on tensor values (``if not
  torch.isfinite(x).all()``) cannot be traced; the model has none (they
  are in :func:`speechbrain_galr.nnet.tasnet.check_mixtures`, and
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

import logging
import warnings

from speechbrain_galr.errors import GALRError, one_line
from speechbrain_galr.inference.onnx_runtime import (
    INPUT_NAME,
    OUTPUT_NAME,
    OnnxTasNet,
    import_optional,
)

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
AXIS_NAMES = ("batch", "samples")


class OnnxExportError(GALRError):
    """Raised when an exported graph does not match the PyTorch model."""


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
    model : speechbrain_galr.nnet.tasnet.TasNet
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
    >>> from speechbrain_galr.nnet.tasnet import TasNet
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.nnet.galr import GALR
    >>> model = TasNet(Encoder(16, 16), GALR(16, 16, 8, num_blocks=1,
    ...     num_heads=2, segment_size=10, reduced_segment_size=4),
    ...     Decoder(16, 1, kernel_size=16, stride=8, bias=False))
    >>> path = getfixture("tmp_path") / "model.onnx"
    >>> errors = export_onnx(model, path)  # doctest: +SKIP
    >>> OnnxTasNet(path)(torch.randn(1, 8000)).shape  # doctest: +SKIP
    torch.Size([1, 8000, 2])
    """

    from speechbrain_galr.atomic_files import atomic_path

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
                    f"torch.export cannot trace the model: {one_line(err)}"
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
            f"{one_line(err)}"
        ) from err
    limit = CHECK_TOLERANCE * max(1.0, *peaks)
    if max(errors) > limit:
        raise OnnxExportError(
            f"the ONNX model differs from PyTorch by up to "
            f"{max(errors):.2e} (> {limit:.2g}) on inputs of shape "
            f"{shapes}; not written"
        )
    return errors
