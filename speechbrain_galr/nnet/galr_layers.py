"""The layers of a GALR block (paper Section 2.2) and their Table 2 swaps.

A GALR block is a locally recurrent layer (a Bi-LSTM inside each segment,
eq. 2-3) followed by a globally attentive layer (self-attention across the
segments, eq. 4-13).  Table 2 of the paper swaps Bi-LSTM and attention in
either path; :class:`GALRBlock` builds any of the four systems from
``local_layer`` ("lstm" or "attention") and ``global_layer`` ("attention"
or "lstm").

Layout: every layer takes and returns ``[B, S, K, D]`` (batch, segment,
frame in the segment, feature) and reads a
:class:`speechbrain_galr.nnet.segments.SegmentContext` (masks and positional
encodings made once per forward pass).  The local Bi-LSTM runs time-major
(``[K, B*S, D]``), so that its output feeds the linear map as one matrix
product; under CPU bf16 autocast its batch is padded (:func:`run_lstm`).
Query, key and value come from one product and are read by torch's fused
attention kernel as strided views (:mod:`speechbrain_galr.nnet.attention`).

Authors
 * speechbrain-galr contributors 2026
"""

import torch
from torch import nn

from speechbrain_galr.nnet.attention import (
    GloballyAttentiveLayer,
    LocallyAttentiveLayer,
)
from speechbrain_galr.nnet.segments import (
    SegmentMap,
    make_norm,
    segment_context,
)

LOCAL_LAYERS = ("lstm", "attention")
GLOBAL_LAYERS = ("attention", "lstm")


CPU_BF16_MULTIPLE = 16
"""Under CPU bf16 autocast, LSTM batches and GALR's segments are padded to
a multiple of this (:func:`cpu_bf16_padding`).

oneDNN's bf16 kernels split the batch into blocks that divide it: a batch
of sequences with no small factor (a prime number of segments, 2 x a
prime) runs 2-3x slower.  Measured, Bi-LSTM(64, 128) over 100 steps, 2
threads, ms per 200 sequences: 191: 50, 192: 16, 197: 51, 200: 14, 201: 29,
202: 34, 208: 13.  fp32 shows no such effect.  GALR's attention and the
rest of its block gain too: galr-small, 10 s, 2 threads, 201 segments
unpadded against 208, 23.6 -> 22.0 ms per second of audio."""


def cpu_bf16(x):
    """Whether ``x`` goes through a CPU LSTM in bf16 (a static property of
    the device, dtype and autocast state, not of the data)."""
    if x.device.type != "cpu":
        return False
    if x.dtype == torch.bfloat16:
        return True
    return (
        torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    )


def cpu_bf16_padding(n, x):
    """How many items to add to ``n`` to reach a multiple of
    :data:`CPU_BF16_MULTIPLE` when ``x`` runs in CPU bf16 (else 0).

    Example
    -------
    >>> cpu_bf16_padding(201, torch.zeros(1, dtype=torch.bfloat16))
    7
    >>> cpu_bf16_padding(201, torch.zeros(1))
    0
    """
    return (-n) % CPU_BF16_MULTIPLE if cpu_bf16(x) else 0


def run_lstm(lstm, seq, head=None):
    """``head`` (e.g. a linear map; None: identity) of the outputs of
    ``lstm`` for ``seq`` (``[N, T, D]`` if the LSTM is batch-first, else
    ``[T, N, D]``), the batch padded with zero sequences to a multiple of
    :data:`CPU_BF16_MULTIPLE` under CPU bf16.

    The sequences of a batch are independent, so the padding changes no
    output.  ``head`` runs before the padding is cut off, on the
    contiguous LSTM output (on a cut, non-contiguous one a linear map
    falls back to a batched product with a broadcast weight copy).

    Example
    -------
    >>> lstm = nn.LSTM(4, 3)
    >>> seq = torch.randn(7, 5, 4)  # [T, N, D]
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     out = run_lstm(lstm, seq)
    >>> out.shape, out.dtype
    (torch.Size([7, 5, 3]), torch.bfloat16)
    """
    dim = 0 if lstm.batch_first else 1
    n = seq.shape[dim]
    pad = cpu_bf16_padding(n, seq)
    if pad:
        # zero sequences appended along the batch axis
        seq = nn.functional.pad(seq, (0, 0) * (2 - dim) + (0, pad))
    out, _ = lstm(seq)
    if head is not None:
        out = head(out)
    return out.narrow(dim, 0, n)


class LocallyRecurrentLayer(nn.Module):
    """The locally recurrent layer of a GALR block (eq. 2-3).

    A Bi-LSTM with H hidden units per direction runs over the K frames of
    each segment; a linear layer (R, Y) maps its 2H outputs back to D; the
    result is normalised (``norm``: per segment or per utterance) and added
    to the input:  ``L_hat = LN(R BiLSTM(T) + Y) + T``.

    Arguments
    ---------
    input_size : int
        Feature dimension D.
    hidden_size : int
        Hidden units H of each LSTM direction.
    eps : float
        Epsilon of the layer norm.
    norm : str
        ``LN`` of eq. 3: "segment" or "utterance".

    Example
    -------
    >>> layer = LocallyRecurrentLayer(64, 128)
    >>> x = torch.randn(2, 5, 100, 64)  # [B, S, K, D]
    >>> layer(x).shape
    torch.Size([2, 5, 100, 64])
    """

    def __init__(self, input_size, hidden_size, eps=1e-8, norm="segment"):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, bidirectional=True)
        self.linear = nn.Linear(2 * hidden_size, input_size)
        self.norm = make_norm(norm, input_size, eps)

    def forward(self, x, context=None):
        """Returns ``L_hat`` for ``x`` of shape ``[B, S, K, D]``."""
        B, S, K, D = x.shape
        # [K, B*S, D]: every segment is an independent sequence (eq. 2)
        seq = x.view(B * S, K, D).transpose(0, 1)
        # [K, B*S, D]: one matrix product over the contiguous LSTM output
        local = run_lstm(self.lstm, seq, self.linear)
        # [K, B*S, D] -> [B, S, K, D]
        local = local.transpose(0, 1).reshape(B, S, K, D)
        # eq. 3
        return self.norm(local, context) + x


class GloballyRecurrentLayer(nn.Module):
    """A Bi-LSTM across the segments: Table 2's "global Bi-LSTM".

    DPRNN's inter-segment path in the place of the globally attentive
    layer: for every row (after C_map when Q is set), a Bi-LSTM runs across
    the segments, a linear layer maps back to D, and the result is
    normalised as eq. 10 (then C_inv, eq. 13).  Each item's backward
    direction starts at its own last segment, so a padded batch gives what
    its items give alone.  The two directions are two LSTMs (the parameters
    of one bidirectional LSTM).

    Arguments
    ---------
    input_size : int
        Feature dimension D.
    hidden_size : int
        Hidden units H of each direction.
    segment_size : int
        Frames per segment K.
    reduced_segment_size : int or None
        Rows Q after C_map; None for no low-dimension map.
    eps : float
        Epsilon of the layer norm.
    norm : str
        "segment" or "utterance".

    Example
    -------
    >>> layer = GloballyRecurrentLayer(64, 32, 100, 16)
    >>> layer(torch.randn(2, 5, 100, 64)).shape
    torch.Size([2, 5, 100, 64])
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        segment_size,
        reduced_segment_size=None,
        eps=1e-8,
        norm="segment",
    ):
        super().__init__()
        self.lstm_forward = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.lstm_backward = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.linear = nn.Linear(2 * hidden_size, input_size)
        self.norm = make_norm(norm, input_size, eps)
        self.reduced_segment_size = reduced_segment_size
        if reduced_segment_size is not None:
            self.c_map = SegmentMap(segment_size, reduced_segment_size)
            self.c_inv = SegmentMap(reduced_segment_size, segment_size)

    def forward(self, x, context=None):
        """Processes ``x`` ``[B, S, K, D]`` across segments."""
        if context is None:
            context = segment_context(x)
        B, S = x.shape[:2]
        rows = self.c_map(x) if self.reduced_segment_size else x
        R, D = rows.shape[2:]
        # [B*R, S, D]: one sequence across the segments per row
        seq = rows.transpose(1, 2).reshape(B * R, S, D)
        # [B*R, S, 1]: s -> n-1-s on an item's n own segments, s on the
        # padding; reversing twice is the identity
        step = torch.arange(S, device=x.device)
        own = context.valid > 0
        rev = torch.where(own, context.counts[:, None] - 1 - step, step)
        rev = rev.repeat_interleave(R, dim=0)[..., None]
        ahead = run_lstm(self.lstm_forward, seq)
        back = run_lstm(
            self.lstm_backward, seq.gather(1, rev.expand(-1, -1, D))
        )
        back = back.gather(1, rev.expand(-1, -1, back.shape[-1]))
        # [B*R, S, D] -> [B, S, R, D]
        out = self.linear(torch.cat([ahead, back], dim=-1))
        out = out.view(B, R, S, D).transpose(1, 2)
        g_hat = self.norm(out, context)
        return self.c_inv(g_hat) if self.reduced_segment_size else g_hat


def _build_layer(option, kind, builders):
    """``builders[kind]()``, or a ValueError naming ``option`` and the
    choices (the keys of ``builders``)."""
    if kind not in builders:
        raise ValueError(
            f"{option} must be one of {tuple(builders)}, got {kind!r}"
        )
    return builders[kind]()


class GALRBlock(nn.Module):
    """One GALR block: a local layer, then a global layer.

    ``T^(n+1) = C_inv(G_hat^(n)) + L_hat^(n)`` (eq. 11 and 13).  The paper's
    block is ``local_layer="lstm"``, ``global_layer="attention"``; the other
    three combinations are the systems of Table 2.

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
    local_layer : str
        "lstm" (eq. 2-3) or "attention".
    global_layer : str
        "attention" (eq. 4-13) or "lstm".
    local_norm : str
        ``LN`` of eq. 3: "segment" or "utterance".
    global_norm : str
        ``LN`` of eq. 10: "segment" or "utterance".
    attention_dropout : float
        Dropout on the attention probabilities.

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
        local_layer="lstm",
        global_layer="attention",
        local_norm="segment",
        global_norm="segment",
        attention_dropout=0.0,
    ):
        super().__init__()
        D, Q = input_size, reduced_segment_size
        self.local = _build_layer(
            "local_layer",
            local_layer,
            {
                "lstm": lambda: LocallyRecurrentLayer(
                    D, hidden_size, eps, local_norm
                ),
                "attention": lambda: LocallyAttentiveLayer(
                    D, num_heads, dropout, attention_dropout, local_norm, eps
                ),
            },
        )
        self.globally = _build_layer(
            "global_layer",
            global_layer,
            {
                "attention": lambda: GloballyAttentiveLayer(
                    D,
                    num_heads,
                    segment_size,
                    Q,
                    dropout,
                    eps,
                    global_norm,
                    attention_dropout,
                ),
                "lstm": lambda: GloballyRecurrentLayer(
                    D, hidden_size, segment_size, Q, eps, global_norm
                ),
            },
        )

    def forward(self, x, context=None):
        """Processes ``x`` of shape ``[B, S, K, D]``; see the layers."""
        if context is None:
            context = segment_context(x, frame_pos=True)
        local = self.local(x, context)
        # eq. 11 / eq. 13
        return self.globally(local, context) + local

    def forward_step(self, x, ring, context):
        """The causal block on the newest segment ``x`` ``[B, 1, K, D]`` of
        a stream, with its global layer's attention ``ring`` (keys and
        values updated in place; :meth:`GloballyAttentiveLayer.
        forward_step`)."""
        local = self.local(x, context)
        # eq. 11 / eq. 13
        return self.globally.forward_step(local, ring) + local
