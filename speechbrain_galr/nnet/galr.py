"""GALR: globally attentive, locally recurrent networks for separation.

The mask network of Lam et al., "Effective low-cost time-domain audio
separation using globally attentive locally recurrent networks" (SLT 2021),
Section 2, as a SpeechBrain module that hyperpyyaml files compose.  Its
blocks are in :mod:`speechbrain_galr.nnet.galr_layers`, the norms, row maps and
positional encoding they share in :mod:`speechbrain_galr.nnet.segments`.

Layout
------
The dual-path blocks of :mod:`speechbrain.lobes.models.dual_path` exchange
``[B, N, K, S]`` tensors and permute them twice per path.  The GALR blocks
exchange ``[B, S, K, D]`` tensors instead (batch, segment, frame in the
segment, feature), so that a block makes no layout copies; :class:`GALR`
converts to this layout once before the blocks and once after them.

The forward pass is written for the GPU and ``torch.compile``: no host
syncs and no branch on tensor values; padded batches are handled by masks.

Authors
 * speechbrain-galr contributors 2026
"""

import torch
import torch.nn.functional as F
from speechbrain.lobes.models.dual_path import Dual_Path_Model
from torch import nn

from speechbrain_galr.nnet.attention import GloballyAttentiveLayer
from speechbrain_galr.nnet.galr_layers import (
    GALRBlock,
    LocallyRecurrentLayer,
    cpu_bf16_padding,
)
from speechbrain_galr.nnet.segments import (
    SegmentLayerNorm,
    SegmentMap,
    masked_group_norm,
    segment_context,
    sinusoidal_encoding,
)

__all__ = [
    "GALR",
    "GALRBlock",
    "GloballyAttentiveLayer",
    "LocallyRecurrentLayer",
    "SegmentLayerNorm",
    "SegmentMap",
    "sinusoidal_encoding",
]


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
    alone.  Lengths are not validated here (that would stall the GPU):
    :func:`speechbrain_galr.nnet.tasnet.check_mixtures` does it at the boundary.

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
        Dropout on the attention outputs (eq. 10).
    local_layer : str
        "lstm" (the paper's GALR) or "attention" (Table 2).
    global_layer : str
        "attention" (the paper's GALR) or "lstm" (Table 2).
    local_norm : str
        ``LN`` of eq. 3: "segment" (each segment's K x D) or "utterance"
        (GroupNorm(1, D) over D x K x S, as the author's code).
    global_norm : str
        ``LN`` of eq. 10, the same choices.
    attention_dropout : float
        Dropout on the attention probabilities (the author's code: 0.1).
    causal : bool
        A causal GALR for streaming (the paper's GALR is not): the input
        layer norm normalises each frame over D, a segment attends only to
        itself and earlier segments (and its attention gets no positional
        encoding: the mask orders the segments), and both norms must be
        "segment".  The local Bi-LSTM and the maps of eq. 12-13 stay: they
        read one segment, complete before it is processed.  An output
        sample then depends on no input later than
        :meth:`latency_samples` ahead (:mod:`speechbrain_galr.nnet.streaming`
        runs it block by block).
    attention_window : int or None
        With ``causal``: how many segments a segment attends to, itself
        included (None: all earlier ones).  Bounds the cost per segment
        and the memory of an endless stream.

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
        local_layer="lstm",
        global_layer="attention",
        local_norm="segment",
        global_norm="segment",
        attention_dropout=0.0,
        causal=False,
        attention_window=None,
    ):
        if segment_size % 2:
            raise ValueError(f"segment_size must be even, got {segment_size}")
        _check_causal(
            causal, attention_window, local_norm, global_norm, global_layer
        )
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
        self.local_layer = local_layer
        self.causal = causal
        self.attention_window = attention_window
        self.dual_mdl = nn.ModuleList(
            GALRBlock(
                out_channels,
                hidden_channels,
                num_heads,
                segment_size,
                reduced_segment_size,
                dropout,
                local_layer=local_layer,
                global_layer=global_layer,
                local_norm=local_norm,
                global_norm=global_norm,
                attention_dropout=attention_dropout,
            )
            for _ in range(num_blocks)
        )

    def _attentive_blocks(self):
        """The global layers that attend (all but Table 2's global LSTM)."""
        return [
            block.globally
            for block in self.dual_mdl
            if isinstance(block.globally, GloballyAttentiveLayer)
        ]

    def keep_attention(self, keep=True):
        """Makes every block keep its attention weights (see Fig. 3).

        After a forward pass, ``self.attention_weights()`` lists them.
        """
        for layer in self._attentive_blocks():
            layer.keep_attention = keep
            layer.attention = None

    def attention_weights(self):
        """The softmax weights of eq. 8 of the last forward pass.

        Returns
        -------
        list of torch.Tensor
            One ``[B, rows, J, S, S]`` tensor per block (rows is Q or K).
        """
        return [layer.attention for layer in self._attentive_blocks()]

    def forward(self, x, lengths=None, frame_counts=None):
        """Estimates the masks.

        Arguments
        ---------
        x : torch.Tensor
            Encoder output ``[B, D, L]``.
        lengths : torch.Tensor or None
            ``[B]`` relative lengths in (0, 1] of each item's frames
            (SpeechBrain's convention, for use in other recipes), or None.
        frame_counts : torch.Tensor or None
            ``[B]`` integer frames of each item (what
            :class:`~speechbrain_galr.nnet.tasnet.TasNet` passes); takes
            precedence over ``lengths``.  Neither: every item spans all L
            frames.

        Returns
        -------
        torch.Tensor
            Masks ``[C, B, D, L]``.
        """
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"GALR expects a 3-D [B, D, L] tensor with {self.in_channels} "
                f"channels on axis 1, got shape {tuple(x.shape)}"
            )
        B, _, L = x.shape
        K, hop = self.K, self.K // 2
        # [B] own frames of each item
        if frame_counts is not None:
            frames = frame_counts.to(x.device).long().clamp(1, L)
        elif lengths is not None:
            frames = torch.round(lengths.to(x.device).float() * L).long()
            frames = frames.clamp(1, L)
        else:
            frames = torch.full((B,), L, device=x.device)
        # [B, 1, L]
        frame_mask = (
            torch.arange(L, device=x.device)[None, None, :]
            < frames[:, None, None]
        )
        # [B, D, L]
        x = self.bottleneck(x, frame_mask, frames)
        # S = ceil(2L/K) + 1 half-overlapping segments (Section 2.1.2)
        S = (2 * L + K - 1) // K + 1  # no -(-a // b): see onnx_export.py
        # under CPU bf16, padding segments up to a multiple of 16 (masked
        # like a padded batch's) make oneDNN's kernels 10 % faster
        S += cpu_bf16_padding(S, x)
        padded = (S - 1) * hop + K
        # [B, D, hop + L + rest]
        x = F.pad(x, (hop, padded - hop - L))
        # [B, S, K, D]: unfold is a view; one copy makes it contiguous
        x = x.unfold(2, K, hop).permute(0, 2, 3, 1).contiguous()
        # [B]: segments that each item alone would have
        counts = torch.div(2 * frames + K - 1, K, rounding_mode="floor") + 1
        context = segment_context(
            x,
            counts,
            frame_pos=self.local_layer == "attention",
            causal=self.causal,
            attention_window=self.attention_window,
        )
        for block in self.dual_mdl:
            x = block(x, context)
        return self._masks(x, frame_mask)

    def latency_samples(self, window, hop):
        """Samples between an input sample and the last output sample that
        depends on it, for a causal GALR behind an encoder of ``window``
        and ``hop`` samples (None if not causal).

        An output sample n needs the encoder frames up to ``n // hop``; a
        frame is final once the later of its two half-overlapping segments
        is complete, at most K - 1 frames after it; that frame reads
        ``window`` samples from its start.  Hence
        ``(K - 1) * hop + window - 1``, reached at the first sample of
        every segment hop.

        Example
        -------
        >>> GALR(64, 64, segment_size=50, causal=True).latency_samples(16, 8)
        407
        """
        if not self.causal:
            return None
        return (self.K - 1) * hop + window - 1

    def bottleneck(self, x, frame_mask=None, frames=None):
        """The input layer norm and 1x1 bottleneck: ``[B, D_in, L]`` to
        ``[B, D, L]``, zero past each item's frames (``frame_mask``
        ``[B, 1, L]``, ``frames`` ``[B]``); a causal model normalises each
        frame alone (:meth:`causal_bottleneck`)."""
        if self.causal:
            # [B, L, D_in] -> [B, D, L]
            y = self.causal_bottleneck(x.transpose(1, 2)).transpose(1, 2)
            return y if frame_mask is None else y * frame_mask
        return self.conv1d(self._input_norm(x, frame_mask, frames))

    def causal_bottleneck(self, frames):
        """The causal input norm (each frame over D_in, statistics in
        float32) and the 1x1 bottleneck (no bias), frame-major:
        ``[B, n, D_in]`` to ``[B, n, D]``; a stream calls it on the few
        frames it takes at a time."""
        norm = self.norm
        y = F.layer_norm(
            frames.float(), norm.weight.shape, norm.weight, norm.bias, norm.eps
        )
        return F.linear(y.to(frames.dtype), self.conv1d.weight[:, :, 0])

    def mask_rows(self, x):
        """The PReLU and 1x1 2D convolution to C copies of Section 2.3.1 on
        the blocks' output ``[B, S, K, D]``, as a linear map over D in the
        blocks' layout (no permute copy before it): ``[B, S, K, C*D]``."""
        conv = self.conv2d
        D = x.shape[-1]
        return F.linear(self.prelu(x), conv.weight.view(-1, D), conv.bias)

    def frame_masks(self, x):
        """The per-frame end of the mask estimation: ``[B*C, D, L]`` after
        overlap-add to masks ``[B*C, D_in, L]`` (eq. 14-15)."""
        # eq. 14
        x = self.output(x) * self.output_gate(x)
        # eq. 15
        return self.activation(self.end_conv1x1(x))

    def _masks(self, x, frame_mask):
        """Mask estimation (Section 2.3.1): ``[B, S, K, D]`` to masks
        ``[C, B, D_in, L]``, zero past each item's frames."""
        B, S, K, D = x.shape
        C, hop = self.num_spks, K // 2
        L = frame_mask.shape[-1]
        # [B, S, K, C*D]
        x = self.mask_rows(x)
        # [B, S, K, C, D] -> [B*C, D*K, S]: the columns that fold adds up
        x = (
            x.view(B, S, K, C, D)
            .permute(0, 3, 4, 2, 1)
            .reshape(B * C, D * K, S)
        )
        padded = (S - 1) * hop + K
        # [B*C, D, padded] -> [B*C, D, L] (OverlapAdd of Section 2.3.1)
        x = F.fold(x, (1, padded), (1, K), stride=(1, hop))
        x = x.view(B * C, D, padded)[:, :, hop : hop + L]
        # [B*C, D_in, L]
        x = self.frame_masks(x)
        # [C, B, D_in, L]
        x = x.view(B, C, -1, L).transpose(0, 1)
        return x * frame_mask

    def _input_norm(self, x, frame_mask, frames):
        """The input layer norm (GroupNorm(1, D) over D x L), restricted
        to each item's frames, statistics in float32."""
        norm = self.norm
        y = masked_group_norm(
            x,
            frame_mask.float(),
            frames * x.shape[1],
            norm.weight[:, None],
            norm.bias[:, None],
            norm.eps,
        )
        return y.to(x.dtype)


def _check_causal(causal, window, local_norm, global_norm, global_layer):
    """Raises a one-line ValueError for options a causal GALR cannot
    take, or a window without ``causal``."""
    if window is not None and not causal:
        raise ValueError("attention_window needs causal=True")
    if window is not None and (not isinstance(window, int) or window < 1):
        raise ValueError(
            f"attention_window must be a positive integer, got {window!r}"
        )
    if not causal:
        return
    if "utterance" in (local_norm, global_norm):
        raise ValueError(
            "a causal GALR needs local_norm and global_norm 'segment' (an "
            "'utterance' norm reads the whole recording)"
        )
    if global_layer != "attention":
        raise ValueError(
            "a causal GALR needs global_layer 'attention' (the global "
            "Bi-LSTM reads later segments)"
        )
