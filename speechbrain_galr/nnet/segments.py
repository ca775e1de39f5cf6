"""Operations on segmented features: norms, row maps, positional encoding.

The GALR blocks (:mod:`speechbrain_galr.nnet.galr_layers`) exchange
``[B, S, K, D]`` tensors (batch, segment, frame in the segment, feature).
This module holds what they share: the layer norms of eq. 3 and eq. 10
(per segment, or per utterance as the author's code), the low-dimension
maps of eq. 12-13, the sinusoidal positional encoding, and
:class:`SegmentContext`, the masks and encodings of one forward pass, made
once by :class:`speechbrain_galr.nnet.galr.GALR` and read by every block.

Statistics are computed in float32 whatever the input's dtype (autocast
gives bf16 or fp16 activations), and a padded batch's statistics cover each
item's own segments only.

Authors
 * speechbrain-galr contributors 2026
"""

import math
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("segment", "utterance")


class SegmentContext(NamedTuple):
    """What every block of one forward pass needs besides the features.

    Attributes
    ----------
    valid : torch.Tensor
        ``[B, S]`` float32, 1 for an item's own segments, 0 for padding.
    counts : torch.Tensor
        ``[B]`` int64, number of own segments of each item.
    attn_bias : torch.Tensor
        ``[B, 1, 1, S]`` float32 additive attention mask: 0 for own
        segments, -inf for padding (float, so SDPA keeps its fused kernels);
        ``[B, 1, S, S]`` for a causal model (:func:`causal_attention_bias`).
    segment_pos : torch.Tensor
        ``[S, D]`` positional encoding of the segments (eq. 4); zeros for a
        causal model, whose mask orders the segments.
    frame_pos : torch.Tensor or None
        ``[K, D]`` positional encoding of the frames of a segment (only for
        an attentive local layer).
    """

    valid: torch.Tensor
    counts: torch.Tensor
    attn_bias: torch.Tensor
    segment_pos: torch.Tensor
    frame_pos: Optional[torch.Tensor] = None


def segment_context(
    x, counts=None, frame_pos=False, causal=False, attention_window=None
):
    """The :class:`SegmentContext` of segmented features ``x``.

    Arguments
    ---------
    x : torch.Tensor
        ``[B, S, K, D]`` features.
    counts : torch.Tensor or None
        ``[B]`` own segments per item; None when all S are.
    frame_pos : bool
        Whether to make the frames' positional encoding too.
    causal : bool
        Whether a segment attends only to itself and earlier segments
        (:func:`causal_attention_bias`); its segments then get no
        positional encoding.
    attention_window : int or None
        With ``causal``, the segments a segment attends to (itself
        included); None: all earlier ones.

    Example
    -------
    >>> x = torch.randn(2, 5, 10, 16)
    >>> ctx = segment_context(x, torch.tensor([5, 3]))
    >>> ctx.valid[1], ctx.attn_bias.shape
    (tensor([1., 1., 1., 0., 0.]), torch.Size([2, 1, 1, 5]))
    """
    B, S, K, D = x.shape
    if counts is None:
        counts = torch.full((B,), S, device=x.device)
    # [B, S]
    valid = torch.arange(S, device=x.device)[None, :] < counts[:, None]
    # [B, 1, 1, S]
    attn_bias = torch.zeros(valid.shape, device=x.device)
    attn_bias = attn_bias.masked_fill(~valid, float("-inf"))[:, None, None]
    if causal:
        # [B, 1, S, S]
        attn_bias = attn_bias + causal_attention_bias(
            S, attention_window, x.device
        )
        segment_pos = torch.zeros(S, D, device=x.device)
    else:
        segment_pos = sinusoidal_encoding(S, D, x.device)
    return SegmentContext(
        valid=valid.float(),
        counts=counts,
        attn_bias=attn_bias,
        segment_pos=segment_pos,
        frame_pos=sinusoidal_encoding(K, D, x.device) if frame_pos else None,
    )


def causal_attention_bias(length, window=None, device=None):
    """Additive mask of causal attention across ``length`` segments.

    Query segment ``s`` attends to key segments ``j`` with
    ``s - window < j <= s`` (all ``j <= s`` when ``window`` is None): no
    segment reads a later one, so a causal GALR's output at a frame waits
    only for the end of the segments that hold the frame, and with a
    window the attention of an endless stream costs the same per segment.

    Returns
    -------
    torch.Tensor
        ``[length, length]`` float32: 0 where attended, -inf elsewhere.

    Example
    -------
    >>> causal_attention_bias(4, window=2)
    tensor([[0., -inf, -inf, -inf],
            [0., 0., -inf, -inf],
            [-inf, 0., 0., -inf],
            [-inf, -inf, 0., 0.]])
    """
    step = torch.arange(length, device=device)
    # [S, S]: query index minus key index
    lag = step[:, None] - step[None, :]
    allowed = lag >= 0
    if window is not None:
        allowed = allowed & (lag < window)
    bias = torch.zeros(length, length, device=device)
    return bias.masked_fill(~allowed, float("-inf"))


def masked_group_norm(x, mask, count, weight, bias, eps):
    """GroupNorm(1) over all but the batch axis, masked, in float32.

    One pass for the statistics (sums of x and x^2 in float32) and one
    fused multiply-add for normalisation and affine map, so that the
    padded-batch norm costs about what ``nn.GroupNorm`` costs.

    Arguments
    ---------
    x : torch.Tensor
        ``[B, ...]`` features.
    mask : torch.Tensor
        Broadcastable to ``x``: 1 for elements in the statistics, 0 for
        padding (set to 0 in the output).
    count : torch.Tensor
        ``[B]`` number of elements in each item's statistics.
    weight, bias : torch.Tensor
        Affine gain and bias, broadcastable to ``x`` without the batch.
    eps : float
        Added to the variance.

    Returns
    -------
    torch.Tensor
        Float32, the shape of ``x``.

    Example
    -------
    >>> x = torch.randn(2, 4, 6).half() * 100
    >>> ones = torch.ones(4, 1)
    >>> y = masked_group_norm(x, torch.ones(2, 1, 6), torch.tensor([24, 24]),
    ...                       ones, 0 * ones, 1e-8)
    >>> y.dtype, bool(y.isfinite().all())
    (torch.float32, True)
    """
    x = x.float()
    dims = tuple(range(1, x.dim()))
    view = (-1,) + (1,) * (x.dim() - 1)
    count = count.float().view(view)
    masked = x * mask
    mean = masked.sum(dim=dims, keepdim=True) / count
    var = masked.pow(2).sum(dim=dims, keepdim=True) / count - mean.pow(2)
    scale = weight * torch.rsqrt(var.clamp(min=0) + eps)
    return torch.addcmul(bias - mean * scale, x, scale) * mask


class FrameLayerNorm(nn.LayerNorm):
    """``LN_D`` of eq. 4 and eq. 12: layer norm over D, statistics in fp32.

    Example
    -------
    >>> norm = FrameLayerNorm(16)
    >>> norm(torch.randn(2, 5, 10, 16).bfloat16()).dtype
    torch.bfloat16
    """

    def forward(self, x):
        """Normalises the last axis of ``x``; returns ``x``'s dtype."""
        y = F.layer_norm(
            x.float(), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return y.to(x.dtype)


class FeatureAffineNorm(nn.Module):
    """The parameters the norms of eq. 3 and eq. 10 share: ``eps`` and an
    affine gain and bias per feature (2D parameters, as the sizes of Table 3
    imply).  :class:`SegmentLayerNorm` and :class:`UtteranceNorm` differ in
    what their statistics span.

    Arguments
    ---------
    num_features : int
        Feature dimension D (the last axis).
    eps : float
        Added to the variance.

    Example
    -------
    >>> sum(p.numel() for p in FeatureAffineNorm(64).parameters())
    128
    """

    def __init__(self, num_features, eps=1e-8):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))


class SegmentLayerNorm(FeatureAffineNorm):
    """Layer normalisation over each segment, with one gain per feature.

    The ``LN`` of eq. 3 and eq. 10 with ``local_norm`` / ``global_norm``
    ``"segment"``.  The paper distinguishes it from ``LN_D`` (eq. 4,
    "applied only along the feature dimension D"), so LN normalises more
    than D; this normalises each segment's whole ``rows x D`` matrix (K rows
    in eq. 3, Q rows in eq. 10).  Statistics never mix segments, so padded
    segments of a batch do not change the others.

    Example
    -------
    >>> norm = SegmentLayerNorm(64)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> norm(x).shape
    torch.Size([2, 5, 100, 64])
    """

    def forward(self, x, context=None):
        """Normalises ``x`` of shape ``[..., rows, D]`` per segment."""
        y = F.layer_norm(x.float(), x.shape[-2:], eps=self.eps)
        return (y * self.weight + self.bias).to(x.dtype)


class UtteranceNorm(FeatureAffineNorm):
    """GroupNorm(1, D) over each utterance's ``S x rows x D`` features.

    The ``LN`` of eq. 3 and eq. 10 with ``local_norm`` / ``global_norm``
    ``"utterance"``: the ``nn.GroupNorm(1, D)`` of the first author's GALR
    code and of SpeechBrain's ``Dual_Path_Model`` (norm="ln"), restricted to
    each item's own segments, so that a padded batch normalises every item
    as when it is alone.

    Example
    -------
    >>> norm = UtteranceNorm(64)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> norm(x, segment_context(x, torch.tensor([5, 2]))).shape
    torch.Size([2, 5, 100, 64])
    """

    def forward(self, x, context=None):
        """Normalises ``x`` ``[B, S, rows, D]`` over each item's segments."""
        if context is None:
            context = segment_context(x)
        B, S, R, D = x.shape
        # [B, S, 1, 1]
        mask = context.valid[:, :, None, None]
        count = context.counts * (R * D)
        y = masked_group_norm(x, mask, count, self.weight, self.bias, self.eps)
        return y.to(x.dtype)


def make_norm(kind, num_features, eps=1e-8):
    """The norm of eq. 3 / eq. 10 named ``kind`` ("segment"/"utterance")."""
    if kind == "segment":
        return SegmentLayerNorm(num_features, eps)
    if kind == "utterance":
        return UtteranceNorm(num_features, eps)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class SegmentMap(nn.Module):
    """Affine map of the rows of each segment: ``C_map`` and ``C_inv``.

    Implements the low-dimension segment representation of Section 2.2.3:
    ``C(X) = W X + b`` acting on the K (or Q) rows of every segment, with
    ``W`` of shape ``[out_rows, in_rows]`` and ``b`` of shape ``[out_rows]``,
    that is ``out_rows x (in_rows + 1)`` parameters as in the paper.

    Arguments
    ---------
    in_rows : int
        Rows per segment at the input (K for C_map, Q for C_inv).
    out_rows : int
        Rows per segment at the output (Q for C_map, K for C_inv).

    Example
    -------
    >>> c_map = SegmentMap(100, 32)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> c_map(x).shape
    torch.Size([2, 5, 32, 64])
    """

    def __init__(self, in_rows, out_rows):
        super().__init__()
        self.linear = nn.Linear(in_rows, out_rows)

    def forward(self, x):
        """Maps ``[B, S, in_rows, D]`` to ``[B, S, out_rows, D]``."""
        # [B, S, out_rows, D]: einsum makes one product of the rows and the
        # weight, without broadcasting the weight over B x S (a broadcast
        # matmul or bmm does, and sums B x S weight gradients in backward)
        out = torch.einsum("oi,bsid->bsod", self.linear.weight, x)
        return out + self.linear.bias.to(out.dtype)[:, None]


def sinusoidal_encoding(length, dim, device=None):
    """Sinusoidal positional encoding of Vaswani et al. (the P of eq. 4).

    Computed on the fly (float32), so any number of segments works
    (SpeechBrain's ``PositionalEncoding`` stores a table of fixed length).

    Arguments
    ---------
    length : int
        Number of positions.
    dim : int
        Feature dimension D (even).
    device : torch.device
        Where to create it.

    Returns
    -------
    torch.Tensor
        ``[length, dim]``.

    Example
    -------
    >>> sinusoidal_encoding(7, 64).shape
    torch.Size([7, 64])
    """
    position = torch.arange(length, device=device, dtype=torch.float32)
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32)
        * (-math.log(10000.0) / dim)
    )
    angle = position[:, None] * freq[None, :]
    # [length, dim/2, 2] -> [length, dim]: sin on even, cos on odd features
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)
