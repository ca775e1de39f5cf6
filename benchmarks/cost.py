"""Cost of TasNets: their parameters, FLOPs and measured passes.

The pieces of ``python -m benchmarks.benchmark`` (Table 3 of the
paper) that are not memory (:mod:`benchmarks.peak_memory`) or
training throughput (:mod:`benchmarks.throughput`): a FLOP counter
built on ptflops, the counter the paper used, and the inference and
training passes that are measured, of the models of
:mod:`benchmarks.recipe_models`.

FLOPs
-----
ptflops' ``pytorch`` backend is used, with module hooks only
(``count_functional=False``, as ptflops counted when the paper was
written): an ``nn.Linear``/convolution counts ``in x out (+ bias)`` MACs per
output position, an ``nn.LSTM`` the MACs of its gate products plus the
element-wise gate arithmetic per step and direction, ``nn.LayerNorm`` and
``nn.GroupNorm`` two per element, ``nn.MultiheadAttention`` its projections
plus ``S^2 d`` for ``QK^T``, ``S^2 d`` for ``AV``, ``S^2`` per head for the
softmax and ``S d`` for the query scaling.  ptflops' ``aten`` backend
counts neither LSTMs (``mkldnn_rnn_layer``) nor fused attention, so it is
not used.  GALR's own layers get hooks that follow the same conventions
(:func:`galr_flop_hooks`): the globally attentive layer is counted as a
whole, since it calls ``F.scaled_dot_product_attention``, which ptflops
does not see.  Residual additions, positional encodings, ReLU-free
activations (tanh, sigmoid) and the mask product are not counted, for any
model.  The figures are MACs; FLOPs are twice that.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import io
import time

import torch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from benchmarks.recipe_models import TINY_GALR, build_model  # noqa: F401 (examples)
from speechbrain_galr.nnet.attention import LocallyAttentiveLayer
from speechbrain_galr.nnet.galr import (
    GALR,
    GloballyAttentiveLayer,
    SegmentLayerNorm,
)
from speechbrain_galr.nnet.segments import SegmentMap, UtteranceNorm

SAMPLE_RATE = 8000


def count_parameters(module):
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _segment_norm_hook(module, inputs, output):
    """ptflops hook of :class:`SegmentLayerNorm`: as ``nn.LayerNorm``."""
    module.__flops__ += 2 * inputs[0].numel()


def attention_layer_macs(layer, x):
    """MACs of a :class:`GloballyAttentiveLayer` on ``x`` ``[B, S, K, D]``.

    Follows ptflops' conventions: each linear map ``in x out + out`` per
    output row (C_map and C_inv map rows, eq. 12-13), each layer norm two
    per element, and per attended sequence of S segments (J heads of D/J
    features) ``S D`` for the query scaling, ``S^2 D`` for ``QK^T``,
    ``J S^2`` for the softmax and ``S^2 D`` for the product with V (eq. 8),
    as ptflops counts ``nn.MultiheadAttention``.

    Arguments
    ---------
    layer : GloballyAttentiveLayer
        The layer.
    x : torch.Tensor
        Its input (only the shape is used).

    Returns
    -------
    int

    Example
    -------
    >>> layer = GloballyAttentiveLayer(64, 8, 100, 32)
    >>> attention_layer_macs(layer, torch.zeros(1, 21, 100, 64))
    22095360
    """
    B, S, K, D = x.shape
    J = layer.num_heads
    reduced = getattr(layer, "reduced_segment_size", None)
    R = reduced or K
    macs = 0
    if reduced:
        # C_map and C_inv
        macs += B * S * (R * K * D + R * D) + B * S * (K * R * D + K * D)
    rows = B * S * R
    # LN_D (eq. 4) and LN (eq. 10)
    macs += 2 * 2 * rows * D
    # in_proj (eq. 5-7) and out_proj (eq. 9)
    macs += rows * (3 * D * D + 3 * D) + rows * (D * D + D)
    # eq. 8 on B*R sequences of S segments
    macs += B * R * (S * D + 2 * S * S * D + J * S * S)
    return macs


def _attention_layer_hook(module, inputs, output):
    """ptflops hook of :class:`GloballyAttentiveLayer`."""
    module.__flops__ += attention_layer_macs(module, inputs[0])


def _local_attention_hook(module, inputs, output):
    """ptflops hook of :class:`LocallyAttentiveLayer` (Table 2): the
    attention of :func:`attention_layer_macs` over the K frames of each
    of the B x S segments, one row each."""
    B, S, K, D = inputs[0].shape
    x = inputs[0].reshape(B * S, K, 1, D)
    module.__flops__ += attention_layer_macs(module, x)


def _segment_map_hook(module, inputs, output):
    """ptflops hook of :class:`SegmentMap` (C_map, C_inv) where no
    attention hook counts it (Table 2's global Bi-LSTM): as a linear map
    of the rows, ``in x out + out`` per output row and feature."""
    B, S, R, D = inputs[0].shape
    out_rows = output.shape[2]
    module.__flops__ += B * S * D * (R * out_rows + out_rows)


def galr_flop_hooks():
    """ptflops ``custom_modules_hooks`` for GALR's own layers.

    Returns
    -------
    dict
        Module class to hook; ptflops' own hooks count the Bi-LSTM, the
        linear layers, the convolutions and the norms of the mask head.
    """
    return {
        SegmentLayerNorm: _segment_norm_hook,
        UtteranceNorm: _segment_norm_hook,
        SegmentMap: _segment_map_hook,
        GloballyAttentiveLayer: _attention_layer_hook,
        LocallyAttentiveLayer: _local_attention_hook,
    }


def _count_mask_head(masknet):
    """Counts GALR's mask-head 1x1 ``Conv2d`` where ptflops cannot see it.

    GALR's forward may apply that convolution through its weight (a linear
    map in the blocks' layout) instead of calling the module; then these
    torch hooks add to the module's ptflops counter what ptflops counts
    for an ``nn.Conv2d`` (``in x out + out`` per output position, over the
    S x K positions of the segments).

    Returns
    -------
    list
        The hook handles, to remove.
    """
    conv = masknet.conv2d
    called = []

    def add_if_not_called(module, inputs, output):
        if called or not hasattr(conv, "__flops__"):
            return
        B, _, L = inputs[0].shape
        S = -(-2 * L // module.K) + 1
        per_position = conv.in_channels * conv.out_channels + conv.out_channels
        conv.__flops__ += B * S * module.K * per_position

    return [
        masknet.register_forward_pre_hook(lambda *_: called.clear()),
        conv.register_forward_hook(lambda *_: called.append(True)),
        masknet.register_forward_hook(add_if_not_called),
    ]


def count_macs(net, seconds=1.0, sample_rate=SAMPLE_RATE):
    """MACs of one forward pass on a mixture of ``seconds`` seconds.

    Counted with ptflops (pytorch backend, module hooks, with
    :func:`galr_flop_hooks`); see the module docstring for what counts.

    Arguments
    ---------
    net : speechbrain_galr.nnet.tasnet.TasNet
        The model (put in eval mode by ptflops).
    seconds : float
        Input duration.
    sample_rate : int
        Sampling rate of the input.

    Returns
    -------
    int
        Multiply-accumulate operations (FLOPs are twice this).

    Example
    -------
    >>> net = build_model("GALR", **TINY_GALR)
    >>> count_macs(net, 0.1) > 0
    True
    """
    from ptflops import get_model_complexity_info

    samples = int(round(seconds * sample_rate))
    if samples < 1:
        raise ValueError(f"seconds must give at least one sample: {seconds}")
    device = next(net.parameters()).device
    handles = [
        handle
        for module in net.modules()
        if isinstance(module, GALR)
        for handle in _count_mask_head(module)
    ]
    # ptflops prints its warnings and errors: kept for the error message
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        macs, _ = get_model_complexity_info(
            net,
            (samples,),
            input_constructor=lambda shape: {
                "mix": torch.randn(1, *shape, device=device)
            },
            as_strings=False,
            print_per_layer_stat=False,
            verbose=False,
            custom_modules_hooks=galr_flop_hooks(),
            backend="pytorch",
            backend_specific_config={"count_functional": False},
        )
    for handle in handles:
        handle.remove()
    if macs is None:
        raise RuntimeError(
            f"ptflops could not count the model: {printed.getvalue()}"
        )
    return int(macs)


def training_step(net, mix, num_spks=2):
    """One training step without the optimizer: forward, loss, backward.

    The loss is SpeechBrain's permutation-invariant SI-SNR against random
    targets (the cost does not depend on their values); gradients are
    cleared first (set to None, so that their memory counts).

    Arguments
    ---------
    net : speechbrain_galr.nnet.tasnet.TasNet
        The model, in train mode.
    mix : torch.Tensor
        ``[B, T]`` mixtures.
    num_spks : int
        Number of sources.

    Example
    -------
    >>> net = build_model("GALR", **TINY_GALR)
    >>> training_step(net, torch.randn(1, 800))
    """
    for p in net.parameters():
        p.grad = None
    targets = torch.randn(*mix.shape, num_spks, device=mix.device)
    loss = get_si_snr_with_pitwrapper(targets, net(mix)).mean()
    loss.backward()


def inference(net, mix):
    """One forward pass without gradients.

    Example
    -------
    >>> net = build_model("GALR", **TINY_GALR)
    >>> inference(net.eval(), torch.randn(1, 800)).shape
    torch.Size([1, 800, 2])
    """
    with torch.no_grad():
        return net(mix)


def run_step(net, mode, mix):
    """Runs ``mode`` ("infer" or "train") on ``mix``, setting the mode."""
    if mode == "infer":
        net.eval()
        inference(net, mix)
    elif mode == "train":
        net.train()
        training_step(net, mix)
    else:
        raise ValueError(f"mode must be 'infer' or 'train', got {mode!r}")


# ---------------------------------------------------------------- time


def time_step(net, mode, mix):
    """Process CPU time and wall time of one pass, in seconds.

    On CUDA, wall time is taken between synchronisations and the CPU time
    is that of the host.

    Example
    -------
    >>> net = build_model("GALR", **TINY_GALR)
    >>> cpu, wall = time_step(net, "infer", torch.randn(1, 800))
    >>> cpu >= 0 and wall > 0
    True
    """
    cuda = mix.is_cuda
    if cuda:
        torch.cuda.synchronize(mix.device)
    cpu, wall = time.process_time(), time.perf_counter()
    run_step(net, mode, mix)
    if cuda:
        torch.cuda.synchronize(mix.device)
    return time.process_time() - cpu, time.perf_counter() - wall
