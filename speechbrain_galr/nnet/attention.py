"""The attentive layers of GALR (eq. 4-13) and Table 2's local attention.

:func:`attend` is the multi-head self-attention of eq. 5-9 along one axis
of ``[B, N, M, D]`` features: query, key and value come from one product
and torch's fused kernel reads them as ``[B, M*J, N, D/J]`` strided views,
without copies.  :class:`AttentiveLayer` adds eq. 4 and eq. 10 around it;
:class:`GloballyAttentiveLayer` attends across the segments (the paper's
global path), :class:`LocallyAttentiveLayer` across the frames of each
segment (the "local attention" of Table 2).

Authors
 * speechbrain-galr contributors 2026
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from speechbrain_galr.nnet.attention_ring import attend_ring
from speechbrain_galr.nnet.segments import (
    FrameLayerNorm,
    SegmentMap,
    make_norm,
    segment_context,
)


def attend(g, in_proj, out_proj, num_heads, attn_bias=None, dropout_p=0.0):
    """Multi-head self-attention along axis 1 of ``g`` (eq. 5-9).

    Arguments
    ---------
    g : torch.Tensor
        ``[B, N, M, D]``: for each of the B x M rows, a sequence of N
        positions is attended.
    in_proj : torch.nn.Linear
        ``D -> 3D`` query, key and value projections (rows ``[q; k; v]``).
    out_proj : torch.nn.Linear
        ``D -> D`` output projection (eq. 9).
    num_heads : int
        Heads J.
    attn_bias : torch.Tensor or None
        ``[B, 1, 1, N]`` additive mask (-inf: not attended).
    dropout_p : float
        Dropout on the attention probabilities.

    Returns
    -------
    torch.Tensor
        ``[B, N, M, D]``.

    Example
    -------
    >>> proj, out = nn.Linear(16, 48), nn.Linear(16, 16)
    >>> attend(torch.randn(2, 7, 3, 16), proj, out, 4).shape
    torch.Size([2, 7, 3, 16])
    """
    B, N, M, D = g.shape
    J = num_heads
    # in_proj's output rows [3, J, D/J] reordered to [J, 3, D/J] (a copy of
    # the small weight, not of the activations): one product then yields
    # query, key and value of all heads as strided views
    weight = in_proj.weight.view(3, J, D // J, D).transpose(0, 1)
    bias = in_proj.bias.view(3, J, D // J).transpose(0, 1)
    qkv = F.linear(g, weight.reshape(3 * D, D), bias.reshape(3 * D))
    # [B, N, M*J, 3, D/J]
    qkv = qkv.view(B, N, M * J, 3, D // J)
    # each [B, M*J, N, D/J]: one sequence along N per row and head (unbind:
    # its backward stacks the three gradients in one copy)
    query, key, value = (t.transpose(1, 2) for t in qkv.unbind(3))
    if attn_bias is not None:
        attn_bias = attn_bias.to(query.dtype)
    # eq. 8 with torch's fused kernel
    attn = F.scaled_dot_product_attention(
        query, key, value, attn_mask=attn_bias, dropout_p=dropout_p
    )
    # [B, M*J, N, D/J] -> [B, N, M, D]: the concat of eq. 9
    return out_proj(attn.transpose(1, 2).reshape(B, N, M, D))


def attention_weights(g, in_proj, num_heads, attn_bias=None):
    """The softmax weights of eq. 8 that :func:`attend` uses (Fig. 3).

    Returns
    -------
    torch.Tensor
        ``[B, M, J, N, N]`` for ``g`` of shape ``[B, N, M, D]``.
    """
    B, N, M, D = g.shape
    J = num_heads
    # [B, N, M, 2, J, D/J]: query and key
    qk = F.linear(g, in_proj.weight[: 2 * D], in_proj.bias[: 2 * D])
    qk = qk.view(B, N, M, 2, J, D // J)
    # each [B, M, J, N, D/J]
    query, key = (qk[:, :, :, i].permute(0, 2, 3, 1, 4) for i in range(2))
    scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(D // J)
    if attn_bias is not None:
        # [B, 1, 1, 1, N]
        scores = scores + attn_bias[:, None].to(scores.dtype)
    return scores.softmax(dim=-1)


class AttentiveLayer(nn.Module):
    """Eq. 4-10 along axis 1 of ``[B, N, M, D]``: the attentive core.

    ``G = LN_D(X) + P`` (eq. 4), ``A`` the multi-head self-attention of G
    (eq. 5-9), ``G + Dropout(A)`` (eq. 10, before its norm).  The global
    layer attends across segments, the local one across a segment's frames.

    Arguments
    ---------
    input_size : int
        Feature dimension D (divisible by ``num_heads``, even).
    num_heads : int
        Attention heads J.
    dropout : float
        Dropout on the attention output A (eq. 10).
    attention_dropout : float
        Dropout on the attention probabilities (the author's code has it).
    norm : str
        ``LN`` of eq. 10: "segment" or "utterance".
    eps : float
        Epsilon of the layer norms.
    """

    def __init__(
        self,
        input_size,
        num_heads,
        dropout=0.1,
        attention_dropout=0.0,
        norm="segment",
        eps=1e-8,
    ):
        super().__init__()
        if input_size % num_heads or input_size % 2:
            raise ValueError(
                f"input_size ({input_size}) must be even and divisible by "
                f"num_heads ({num_heads})"
            )
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.frame_norm = FrameLayerNorm(input_size, eps=eps)
        self.in_proj = nn.Linear(input_size, 3 * input_size)
        self.out_proj = nn.Linear(input_size, input_size)
        self.dropout = nn.Dropout(dropout)
        self.segment_norm = make_norm(norm, input_size, eps)
        # When True, forward keeps the softmax weights of eq. 8 in
        # ``self.attention`` ([B, M, J, N, N]) for inspection (Fig. 3).
        self.keep_attention = False
        self.attention = None

    def attend_path(self, rows, pos, attn_bias=None):
        """``G + Dropout(A)`` for ``rows`` ``[B, N, M, D]``, P ``[N, D]``."""
        # eq. 4 / eq. 12: LN_D, then P indexed by the attended position
        g = self.frame_norm(rows) + pos[:, None, :].to(rows.dtype)
        if self.keep_attention:
            weights = attention_weights(
                g, self.in_proj, self.num_heads, attn_bias
            )
            self.attention = weights.detach()
        dropout_p = self.attention_dropout if self.training else 0.0
        attn = attend(
            g, self.in_proj, self.out_proj, self.num_heads, attn_bias, dropout_p
        )
        # eq. 10 before its LN
        return g + self.dropout(attn)


class GloballyAttentiveLayer(AttentiveLayer):
    """The globally attentive layer of a GALR block (eq. 4-13).

    For every row of the segments, the sequence of that row across the S
    segments goes through J-head self-attention whose weights all rows
    share.  With ``reduced_segment_size`` Q the K rows are first mapped to Q
    rows (C_map, eq. 12) and back afterwards (C_inv, eq. 13); without it,
    the full-K form of eq. 4 and eq. 11.

    Choices where the paper is silent or ambiguous:

    * eq. 5-7 write each head's projection as ``W_j (W x + b)``; the product
      of two linear maps is one linear map, so query, key and value are
      each one ``D x D`` projection with bias split into J heads, and eq. 9
      is a ``D x D`` output projection with bias (the usual multi-head
      attention).  The model sizes of Table 3 imply this: the factored form
      would add ``3 D^2`` parameters per block (2.6M instead of 2.3M).
    * P is the Transformer's sinusoid indexed by the segment.
    * ``LN`` of eq. 10 normalises each segment (``norm="segment"``) or the
      whole utterance (``"utterance"``, as the author's code); ``LN_D`` of
      eq. 4 and 12 each frame over D.
    * eq. 13 writes ``C_inv(G)``; we apply C_inv to ``G_hat`` of eq. 10, as
      the full-K form (eq. 11) does, or the attention output is unused.
    * dropout (0.1 in the paper) acts on the attention output A (eq. 10);
      ``attention_dropout`` adds the author's dropout on the probabilities.

    Arguments
    ---------
    input_size : int
        Feature dimension D (divisible by ``num_heads``, even).
    num_heads : int
        Attention heads J.
    segment_size : int
        Frames per segment K.
    reduced_segment_size : int or None
        Rows Q after C_map; None for no low-dimension map.
    dropout : float
        Dropout on the attention output (eq. 10).
    eps : float
        Epsilon of the layer norms.
    norm : str
        ``LN`` of eq. 10: "segment" or "utterance".
    attention_dropout : float
        Dropout on the attention probabilities.

    Example
    -------
    >>> layer = GloballyAttentiveLayer(64, 8, 100, 32)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> layer(x).shape
    torch.Size([2, 5, 100, 64])
    """

    def __init__(
        self,
        input_size,
        num_heads,
        segment_size,
        reduced_segment_size=None,
        dropout=0.1,
        eps=1e-8,
        norm="segment",
        attention_dropout=0.0,
    ):
        super().__init__(
            input_size, num_heads, dropout, attention_dropout, norm, eps
        )
        self.reduced_segment_size = reduced_segment_size
        if reduced_segment_size is not None:
            self.c_map = SegmentMap(segment_size, reduced_segment_size)
            self.c_inv = SegmentMap(reduced_segment_size, segment_size)

    def forward(self, x, context=None):
        """``C_inv(G_hat)`` (eq. 13) or ``G_hat`` (eq. 11) of ``x``
        ``[B, S, K, D]``; padded segments (``context``) are not attended."""
        if context is None:
            context = segment_context(x)
        # [B, S, Q, D] (eq. 12) or [B, S, K, D] (eq. 4)
        rows = self.c_map(x) if self.reduced_segment_size else x
        g = self.attend_path(rows, context.segment_pos, context.attn_bias)
        # eq. 10; the residual with L_hat is added by the block
        g_hat = self.segment_norm(g, context)
        return self.c_inv(g_hat) if self.reduced_segment_size else g_hat

    def forward_step(self, x, ring):
        """The causal layer on the newest segment of a stream.

        Arguments
        ---------
        x : torch.Tensor
            ``[B, 1, K, D]``: the newest segment.
        ring : tuple of torch.Tensor
            ``(key, value, slot, bias)`` of this layer's
            :class:`~speechbrain_galr.nnet.attention_ring.AttentionRing`:
            the keys and values of the segments it attends to, where the
            new segment's go, and which are filled.

        Returns
        -------
        torch.Tensor
            The output for ``x``, as :meth:`forward` of a causal model
            (no positional encoding) gives it at that segment.
        """
        # [B, 1, Q, D] (eq. 12) or [B, 1, K, D] (eq. 4)
        reduced = self.reduced_segment_size
        rows = self.c_map(x) if reduced else x
        g = self.frame_norm(rows)
        attn = attend_ring(
            g, *ring, self.in_proj, self.out_proj, self.num_heads
        )
        # eq. 10 (dropout is off in inference)
        g_hat = self.segment_norm(g + attn)
        return self.c_inv(g_hat) if reduced else g_hat


class LocallyAttentiveLayer(AttentiveLayer):
    """Self-attention inside each segment: Table 2's "local attention".

    The attentive core of eq. 4-10 along the K frames of each segment (P
    indexed by the frame), normalised as eq. 3 and added to the input:
    ``L_hat = LN(LN_D(T) + P + Dropout(A)) + T``.

    Example
    -------
    >>> layer = LocallyAttentiveLayer(64, 8)
    >>> layer(torch.randn(2, 5, 100, 64)).shape
    torch.Size([2, 5, 100, 64])
    """

    def forward(self, x, context=None):
        """Returns ``L_hat`` for ``x`` of shape ``[B, S, K, D]``."""
        if context is None:
            context = segment_context(x, frame_pos=True)
        B, S, K, D = x.shape
        # [B*S, K, 1, D]: a free view, one sequence of K frames per segment
        local = self.attend_path(x.view(B * S, K, 1, D), context.frame_pos)
        return self.segment_norm(local.view(B, S, K, D), context) + x
