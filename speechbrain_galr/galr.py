"""GALR: globally attentive, locally recurrent networks for separation.

The layers of Lam et al., "Effective low-cost time-domain audio separation
using globally attentive locally recurrent networks" (SLT 2021), Section 2,
as SpeechBrain ``nnet``-style modules that hyperpyyaml files compose.

Layout
------
The dual-path blocks of :mod:`speechbrain.lobes.models.dual_path` exchange
``[B, N, K, S]`` tensors and permute them twice per path.  The GALR blocks
here exchange ``[B, S, K, D]`` tensors instead (batch, segment, frame in the
segment, feature): the Bi-LSTM reads ``[B*S, K, D]`` as a free view, the
maps over the K rows (eq. 12-13) are a single broadcast matrix product, the
attention projections act on the last axis and their outputs are read by
torch's fused attention kernel as ``[B, rows*J, S, D/J]`` strided views, so
a block makes no layout copies (the dual-path blocks make four).
:class:`GALR` converts to this layout once before the blocks and once after
them.

Authors
 * speechbrain-galr contributors 2026
"""

import math

import torch
import torch.nn.functional as F
from speechbrain.lobes.models.dual_path import Dual_Path_Model
from torch import nn


def _check_input(x, dims, name, size=None):
    """Raises a ValueError naming the problem if ``x`` is not usable."""
    if not torch.is_tensor(x):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x)}")
    if x.dim() != dims:
        raise ValueError(
            f"{name} expects a {dims}-D tensor, got shape {tuple(x.shape)}"
        )
    if size is not None and x.shape[-1] != size:
        raise ValueError(
            f"{name} expects {size} features on the last axis, "
            f"got shape {tuple(x.shape)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} got an input with NaN or Inf values")


class SegmentLayerNorm(nn.Module):
    """Layer normalisation over each segment, with one gain per feature.

    This is the ``LN`` of eq. 3 and eq. 10.  The paper distinguishes it from
    ``LN_D`` (eq. 4, "applied only along the feature dimension D"), so LN
    normalises more than D; we normalise each segment's whole ``rows x D``
    matrix (K rows in eq. 3, Q rows in eq. 10).  Statistics never mix
    segments, so zero-padded segments of a batch do not change the result of
    the others, and the affine gain and bias are per feature (2D parameters),
    which is what the sizes of Table 3 imply.

    Arguments
    ---------
    num_features : int
        Feature dimension D (the last axis).
    eps : float
        Added to the variance.

    Example
    -------
    >>> norm = SegmentLayerNorm(64)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> norm(x).shape
    torch.Size([2, 5, 100, 64])
    """

    def __init__(self, num_features, eps=1e-8):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x):
        """Normalises ``x`` of shape ``[..., rows, D]`` per segment."""
        x = F.layer_norm(x, x.shape[-2:], eps=self.eps)
        return x * self.weight + self.bias


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
        """Maps ``[..., in_rows, D]`` to ``[..., out_rows, D]``."""
        # [B, S, out_rows, D]: one broadcast product, no transposes
        return torch.matmul(self.linear.weight, x) + self.linear.bias[:, None]


def sinusoidal_encoding(length, dim, device=None, dtype=None):
    """Sinusoidal positional encoding of Vaswani et al. (the P of eq. 4).

    Computed on the fly, so any number of segments works (SpeechBrain's
    ``PositionalEncoding`` stores a table of fixed maximum length).

    Arguments
    ---------
    length : int
        Number of positions (segments).
    dim : int
        Feature dimension D (even).
    device : torch.device
        Where to create it.
    dtype : torch.dtype
        Floating type of the result.

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
    enc = torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)
    return enc.to(dtype or torch.get_default_dtype())


class LocallyRecurrentLayer(nn.Module):
    """The locally recurrent layer of a GALR block (eq. 2-3).

    A Bi-LSTM with H hidden units per direction runs over the K frames of
    each segment; a linear layer (R, Y) maps its 2H outputs back to D; the
    result is layer-normalised per segment (:class:`SegmentLayerNorm`) and
    added to the input:  ``L_hat = LN(R BiLSTM(T) + Y) + T``.

    Arguments
    ---------
    input_size : int
        Feature dimension D.
    hidden_size : int
        Hidden units H of each LSTM direction.
    eps : float
        Epsilon of the layer norm.

    Example
    -------
    >>> layer = LocallyRecurrentLayer(64, 128)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> layer(x).shape
    torch.Size([2, 5, 100, 64])
    """

    def __init__(self, input_size, hidden_size, eps=1e-8):
        super().__init__()
        self.lstm = nn.LSTM(
            input_size, hidden_size, batch_first=True, bidirectional=True
        )
        self.linear = nn.Linear(2 * hidden_size, input_size)
        self.norm = SegmentLayerNorm(input_size, eps=eps)

    def forward(self, x):
        """Returns ``L_hat`` for ``x`` of shape ``[B, S, K, D]``."""
        B, S, K, D = x.shape
        # [B*S, K, D]: every segment is an independent sequence (eq. 2)
        local = x.reshape(B * S, K, D)
        # [B*S, K, 2H]
        local, _ = self.lstm(local)
        # [B, S, K, D]
        local = self.linear(local).view(B, S, K, D)
        # eq. 3
        return self.norm(local) + x


class GloballyAttentiveLayer(nn.Module):
    """The globally attentive layer of a GALR block (eq. 4-13).

    For every row of the segments, the sequence of that row across the S
    segments goes through J-head self-attention whose weights are shared by
    all rows.  With ``reduced_segment_size`` Q set, the K rows are first
    mapped to Q rows (C_map, eq. 12) and back afterwards (C_inv, eq. 13);
    with it unset the full-K form of eq. 4 and eq. 11 is used.

    Choices where the paper is silent or ambiguous:

    * eq. 5-7 write each head's projection as ``W_j (W x + b)``; the product
      of two linear maps is one linear map, so each of query, key and value
      is one ``D x D`` projection with bias whose output is split into J
      heads, and eq. 9 is a ``D x D`` output projection with bias (the usual
      multi-head attention).  This is what the model sizes of Table 3 imply:
      the factored form would add ``3 D^2`` parameters per block and give
      2.6M instead of 2.3M for D=128.
    * the positional encoding P is the sinusoid of the Transformer, indexed
      by the segment (the position along the attended sequence) and the
      same for every row.
    * ``LN`` of eq. 10 normalises each segment (:class:`SegmentLayerNorm`),
      ``LN_D`` of eq. 4 and 12 each frame over D (``nn.LayerNorm``).
    * eq. 13 writes ``C_inv(G)``; we apply C_inv to ``G_hat`` of eq. 10, as
      the full-K form (eq. 11) does, since otherwise the attention output
      would be unused.
    * dropout (0.1 in the paper) is applied to the attention output A
      (eq. 10), not to the attention probabilities.

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
        Dropout rate on the attention output (eq. 10).
    eps : float
        Epsilon of the layer norms.

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
    ):
        super().__init__()
        if input_size % num_heads:
            raise ValueError(
                f"input_size ({input_size}) must be divisible by "
                f"num_heads ({num_heads})"
            )
        if input_size % 2:
            raise ValueError(f"input_size must be even, got {input_size}")
        self.num_heads = num_heads
        self.segment_size = segment_size
        self.reduced_segment_size = reduced_segment_size
        if reduced_segment_size is not None:
            self.c_map = SegmentMap(segment_size, reduced_segment_size)
            self.c_inv = SegmentMap(reduced_segment_size, segment_size)
        self.frame_norm = nn.LayerNorm(input_size, eps=eps)
        self.in_proj = nn.Linear(input_size, 3 * input_size)
        self.out_proj = nn.Linear(input_size, input_size)
        self.dropout = nn.Dropout(dropout)
        self.segment_norm = SegmentLayerNorm(input_size, eps=eps)
        # When True, forward keeps the softmax weights of eq. 8 in
        # ``self.attention`` ([B, rows, J, S, S]) for inspection (Fig. 3).
        self.keep_attention = False
        self.attention = None

    def forward(self, x, segment_mask=None):
        """Returns ``T^(n+1)`` for ``L_hat`` of shape ``[B, S, K, D]``.

        Arguments
        ---------
        x : torch.Tensor
            Output of the locally recurrent layer, ``[B, S, K, D]``.
        segment_mask : torch.Tensor or None
            ``[B, S]`` booleans, False for segments that are padding of a
            shorter item of the batch; they are not attended to.

        Returns
        -------
        torch.Tensor
            ``[B, S, K, D]``.
        """
        B, S, K, D = x.shape
        J = self.num_heads
        # [B, S, Q, D] (eq. 12) or [B, S, K, D] (eq. 4)
        rows = self.c_map(x) if self.reduced_segment_size else x
        R = rows.shape[2]
        # eq. 4 / eq. 12: LN_D, then P indexed by segment
        pos = sinusoidal_encoding(S, D, x.device, x.dtype)
        g = self.frame_norm(rows) + pos[:, None, :]
        # eq. 5-7: query, key and value, each [B, S, R, D] from a third of
        # in_proj, viewed as [B, R*J, S, D/J]: one sequence across segments
        # per row and head, 4-D and without copies, so that torch's fused
        # attention kernels apply
        query, key, value = (
            F.linear(g, weight, bias).view(B, S, R * J, D // J).transpose(1, 2)
            for weight, bias in zip(
                self.in_proj.weight.chunk(3), self.in_proj.bias.chunk(3)
            )
        )
        mask = None
        if segment_mask is not None:
            # [B, 1, 1, S], True where a key may be attended to
            mask = segment_mask[:, None, None, :]
        if self.keep_attention:
            # eq. 8 written out, to keep the softmax weights
            scores = query @ key.transpose(-1, -2) / math.sqrt(D // J)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            # [B, R*J, S, S]
            weights = scores.softmax(dim=-1)
            self.attention = weights.detach().view(B, R, J, S, S)
            attn = weights @ value
        else:
            # eq. 8 with torch's fused kernel
            attn = F.scaled_dot_product_attention(
                query, key, value, attn_mask=mask
            )
        # [B, R*J, S, D/J] -> [B, S, R, D]: concat of eq. 9 (a view: the
        # fused kernel writes its output in this order)
        attn = attn.transpose(1, 2).reshape(B, S, R, D)
        # eq. 9-10
        g_hat = self.segment_norm(g + self.dropout(self.out_proj(attn)))
        # eq. 13 (low-dimension) or eq. 11 (full K); the residual with
        # L_hat is added by the caller
        return self.c_inv(g_hat) if self.reduced_segment_size else g_hat


class GALRBlock(nn.Module):
    """One GALR block: locally recurrent, then globally attentive layer.

    ``T^(n+1) = C_inv(G_hat^(n)) + L_hat^(n)`` (eq. 11 and 13).

    Arguments
    ---------
    input_size : int
        Feature dimension D.
    hidden_size : int
        Hidden units H per Bi-LSTM direction.
    num_heads : int
        Attention heads J.
    segment_size : int
        Frames per segment K.
    reduced_segment_size : int or None
        Rows Q of the low-dimension segment representation; None for none.
    dropout : float
        Dropout on the attention output.
    eps : float
        Epsilon of the layer norms.

    Example
    -------
    >>> block = GALRBlock(64, 128, 8, 100, 32)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> block(x).shape
    torch.Size([2, 5, 100, 64])
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_heads,
        segment_size,
        reduced_segment_size=None,
        dropout=0.1,
        eps=1e-8,
    ):
        super().__init__()
        self.local = LocallyRecurrentLayer(input_size, hidden_size, eps)
        self.globally = GloballyAttentiveLayer(
            input_size,
            num_heads,
            segment_size,
            reduced_segment_size,
            dropout,
            eps,
        )

    def forward(self, x, segment_mask=None):
        """Processes ``x`` of shape ``[B, S, K, D]``; see the layers."""
        local = self.local(x)
        # eq. 11 / eq. 13
        return self.globally(local, segment_mask) + local


class GALR(Dual_Path_Model):
    """The GALR mask network (Section 2.2-2.3.1).

    Takes the encoder output ``[B, D, L]`` (SpeechBrain's dual_path
    ``Encoder``) and returns one ReLU mask per source, ``[C, B, D, L]``, for
    SpeechBrain's dual_path ``Decoder``, exactly as ``Dual_Path_Model`` does,
    so it drops into a SepFormer or DPRNN recipe in its place.

    It is a ``Dual_Path_Model`` whose dual-path blocks are GALR blocks: the
    input layer norm and bottleneck, and the mask estimation of Section
    2.3.1 (PReLU, 2D convolution to C copies, overlap-add, tanh- and
    sigmoid-gated 1D convolutions of eq. 14, the 1D convolution and ReLU of
    eq. 15) are SpeechBrain's own layers.  Segmentation is redone because
    the paper asks for ``S = ceil(2I/K) + 1`` half-overlapping segments
    (SpeechBrain's ``_Segmentation`` makes up to one more, all padding) and
    because ``Tensor.unfold`` and ``F.fold`` produce and overlap-add the
    ``[B, S, K, D]`` layout of the blocks without extra copies.

    With ``lengths`` (relative, as SpeechBrain passes ``wav_lens``), each
    item of a padded batch is normalised, attended and masked over its own
    frames only, so in eval mode it gets the same masks as when separated
    alone.

    Arguments
    ---------
    in_channels : int
        Channels of the encoder output (D in the paper).
    out_channels : int
        Features inside the GALR blocks (D in the paper; the 1x1 bottleneck
        maps ``in_channels`` to it).
    hidden_channels : int
        Hidden units H per Bi-LSTM direction.
    num_blocks : int
        Number of GALR blocks N.
    num_heads : int
        Attention heads J.
    segment_size : int
        Frames per segment K (even).
    reduced_segment_size : int or None
        Rows Q of the low-dimension segment representation (eq. 12-13);
        None for the full-K form.
    num_spks : int
        Number of sources C.
    dropout : float
        Dropout on the attention outputs.

    Example
    -------
    >>> masknet = GALR(64, 64, hidden_channels=32, num_blocks=2,
    ...                segment_size=20, reduced_segment_size=8)
    >>> x = torch.rand(3, 64, 450)  # [B, D, L]
    >>> masknet(x).shape
    torch.Size([2, 3, 64, 450])
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        hidden_channels=128,
        num_blocks=6,
        num_heads=8,
        segment_size=100,
        reduced_segment_size=None,
        num_spks=2,
        dropout=0.1,
    ):
        if segment_size % 2:
            raise ValueError(f"segment_size must be even, got {segment_size}")
        # Dual_Path_Model builds the norm, bottleneck and mask head; its
        # dual-path blocks are replaced by GALR blocks below.
        super().__init__(
            in_channels,
            out_channels,
            intra_model=None,
            inter_model=None,
            num_layers=0,
            norm="ln",
            K=segment_size,
            num_spks=num_spks,
        )
        self.num_layers = num_blocks
        self.in_channels = in_channels
        self.dual_mdl = nn.ModuleList(
            GALRBlock(
                out_channels,
                hidden_channels,
                num_heads,
                segment_size,
                reduced_segment_size,
                dropout,
            )
            for _ in range(num_blocks)
        )

    def keep_attention(self, keep=True):
        """Makes every block keep its attention weights (see Fig. 3).

        After a forward pass, ``self.attention_weights()`` lists them.
        """
        for block in self.dual_mdl:
            block.globally.keep_attention = keep
            block.globally.attention = None

    def attention_weights(self):
        """The softmax weights of eq. 8 of the last forward pass.

        Returns
        -------
        list of torch.Tensor
            One ``[B, rows, J, S, S]`` tensor per block (rows is Q or K).
        """
        return [block.globally.attention for block in self.dual_mdl]

    def forward(self, x, lengths=None):
        """Estimates the masks.

        Arguments
        ---------
        x : torch.Tensor
            Encoder output ``[B, D, L]``.
        lengths : torch.Tensor or None
            ``[B]`` relative lengths in (0, 1] of each item's frames, or None
            when every item spans all L frames.

        Returns
        -------
        torch.Tensor
            Masks ``[C, B, D, L]``.
        """
        _check_input(x, 3, "GALR", None)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"GALR expects {self.in_channels} channels on axis 1 "
                f"([B, D, L]), got shape {tuple(x.shape)}"
            )
        B, _, L = x.shape
        K, hop = self.K, self.K // 2
        frames = self._frame_counts(lengths, B, L, x.device)
        frame_mask = None
        if lengths is not None:
            # [B, 1, L]
            frame_mask = (
                torch.arange(L, device=x.device)[None, :] < frames[:, None]
            ).unsqueeze(1)
        # [B, D, L]
        x = self.conv1d(self._input_norm(x, frame_mask, frames))
        # S = ceil(2L/K) + 1 half-overlapping segments (Section 2.1.2)
        S = -(-2 * L // K) + 1
        padded = (S - 1) * hop + K
        # [B, D, hop + L + rest]
        x = F.pad(x, (hop, padded - hop - L))
        # [B, S, K, D]: unfold is a view; one copy makes it contiguous
        x = x.unfold(2, K, hop).permute(0, 2, 3, 1).contiguous()
        segment_mask = None
        if lengths is not None:
            # [B, S]: segments that a shorter item alone would have
            seg_counts = -(-2 * frames // K) + 1
            segment_mask = (
                torch.arange(S, device=x.device)[None, :] < seg_counts[:, None]
            )
        for block in self.dual_mdl:
            x = block(x, segment_mask)
        # [B, D, K, S]
        x = self.prelu(x.permute(0, 3, 2, 1))
        # [B, C*D, K, S]
        x = self.conv2d(x)
        D = x.shape[1] // self.num_spks
        # [B*C, D*K, S]: the columns that fold overlap-adds
        x = x.reshape(B * self.num_spks, D * K, S)
        # [B*C, D, padded] -> [B*C, D, L] (OverlapAdd of Section 2.3.1)
        x = F.fold(x, (1, padded), (1, K), stride=(1, hop))
        x = x.view(B * self.num_spks, D, padded)[:, :, hop : hop + L]
        # eq. 14
        x = self.output(x) * self.output_gate(x)
        # [B*C, D_in, L], eq. 15
        x = self.activation(self.end_conv1x1(x))
        # [C, B, D_in, L]
        x = x.view(B, self.num_spks, -1, L).transpose(0, 1)
        if frame_mask is not None:
            x = x * frame_mask
        return x

    @staticmethod
    def _frame_counts(lengths, batch, num_frames, device):
        """Number of valid frames of each item, ``[B]`` integers."""
        if lengths is None:
            return torch.full((batch,), num_frames, device=device)
        if lengths.shape != (batch,):
            raise ValueError(
                f"lengths must have shape ({batch},), got "
                f"{tuple(lengths.shape)}"
            )
        if (lengths <= 0).any() or (lengths > 1).any():
            raise ValueError("lengths must be relative lengths in (0, 1]")
        frames = torch.round(lengths.to(device) * num_frames).long()
        return frames.clamp(1, num_frames)

    def _input_norm(self, x, frame_mask, frames):
        """The input layer norm over (D, L), restricted to valid frames."""
        if frame_mask is None:
            return self.norm(x)
        norm = self.norm
        count = frames.to(x.dtype) * x.shape[1]
        mean = (x * frame_mask).sum(dim=(1, 2)) / count
        centred = (x - mean[:, None, None]) * frame_mask
        var = centred.pow(2).sum(dim=(1, 2)) / count
        x = centred / torch.sqrt(var[:, None, None] + norm.eps)
        x = x * norm.weight[None, :, None] + norm.bias[None, :, None]
        return x * frame_mask
