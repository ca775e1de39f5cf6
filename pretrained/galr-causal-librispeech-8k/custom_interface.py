"""GALR speech separation in one file for SpeechBrain foreign_class.

Made by speechbrain_galr.export.standalone from speechbrain_galr 0.1.0
(modules: speechbrain_galr.nnet.attention_ring, speechbrain_galr.nnet.segments, speechbrain_galr.nnet.attention, speechbrain_galr.nnet.galr_layers, speechbrain_galr.nnet.galr, speechbrain_galr.nnet.tasnet, speechbrain_galr.atomic_files, speechbrain_galr.errors, speechbrain_galr.audio, speechbrain_galr.metrics, speechbrain_galr.inference.chunked, speechbrain_galr.inference.output_scale, speechbrain_galr.inference.output_set, speechbrain_galr.inference.file_separation, speechbrain_galr.inference.mixture_input, speechbrain_galr.devices, speechbrain_galr.inference.run_options, speechbrain_galr.nnet.frame_maps, speechbrain_galr.nnet.streaming, speechbrain_galr.inference.streaming, speechbrain_galr.inference.user_paths, speechbrain_galr.inference.separator).  Do not edit: export the model again instead.

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source="<this folder>",
                          pymodule_file="custom_interface.py",
                          classname="GALRSeparation")
    est_sources = model.separate_file("mixture.wav")  # [1, T, C]
"""

import sys


class JoinedModule:
    """Stands for a package module in the joined file: its attributes are
    the file's global names (looked up when used)."""

    def __getattr__(self, name):
        try:
            return globals()[name]
        except KeyError:
            raise AttributeError(name) from None

# -------------------- speechbrain_galr.nnet.attention_ring --------------------
import torch
import torch.nn.functional as F


def attend_ring(g, key, value, slot, bias, in_proj, out_proj, num_heads):
    B, _, M, D = g.shape
    J = num_heads
    # [B, 1, M, 3D] -> each [B, M*J, 1, D/J]
    qkv = F.linear(g, in_proj.weight, in_proj.bias).view(B, 1, M, 3, J, -1)
    query, new_key, new_value = (
        t.reshape(B, 1, M * J, D // J).transpose(1, 2) for t in qkv.unbind(3)
    )
    key.index_copy_(2, slot, new_key.to(key.dtype))
    value.index_copy_(2, slot, new_value.to(value.dtype))
    attn = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
    # [B, M*J, 1, D/J] -> [B, 1, M, D]: the concat of eq. 9
    return out_proj(attn.transpose(1, 2).reshape(B, 1, M, D))


class AttentionRing:

    def __init__(self, layers, batch, rows, num_heads, dim, window, like):
        self.window = window
        capacity = window or 16
        shape = (batch, rows * num_heads, capacity, dim // num_heads)
        self.keys = [like.new_zeros(shape) for _ in range(layers)]
        self.values = [like.new_zeros(shape) for _ in range(layers)]
        self.bias = like.new_full((1, 1, 1, capacity), float("-inf"))
        self.slot = torch.zeros(1, dtype=torch.long, device=like.device)
        self.filled = 0
        self._next = 0

    def prepare(self):
        capacity = self.bias.shape[-1]
        if self.window is None and self._next == capacity:
            self.keys = [_doubled(k, 0.0, 2) for k in self.keys]
            self.values = [_doubled(v, 0.0, 2) for v in self.values]
            self.bias = _doubled(self.bias, float("-inf"), 3)
        self.slot.fill_(self._next)
        self.bias[..., self._next] = 0.0
        return [
            (key, value, self.slot, self.bias)
            for key, value in zip(self.keys, self.values)
        ]

    def advance(self):
        self.filled = min(self.filled + 1, self.window or self.filled + 1)
        self._next += 1
        if self.window is not None:
            self._next %= self.window


def _doubled(store, fill, axis):
    return torch.cat([store, torch.full_like(store, fill)], dim=axis)

# -------------------- speechbrain_galr.nnet.segments --------------------
import math
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("segment", "utterance")


class SegmentContext(NamedTuple):

    valid: torch.Tensor
    counts: torch.Tensor
    attn_bias: torch.Tensor
    segment_pos: torch.Tensor
    frame_pos: Optional[torch.Tensor] = None


def segment_context(
    x, counts=None, frame_pos=False, causal=False, attention_window=None
):
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
    step = torch.arange(length, device=device)
    # [S, S]: query index minus key index
    lag = step[:, None] - step[None, :]
    allowed = lag >= 0
    if window is not None:
        allowed = allowed & (lag < window)
    bias = torch.zeros(length, length, device=device)
    return bias.masked_fill(~allowed, float("-inf"))


def masked_group_norm(x, mask, count, weight, bias, eps):
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

    def forward(self, x):
        y = F.layer_norm(
            x.float(), self.normalized_shape, self.weight, self.bias, self.eps
        )
        return y.to(x.dtype)


class FeatureAffineNorm(nn.Module):

    def __init__(self, num_features, eps=1e-8):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))


class SegmentLayerNorm(FeatureAffineNorm):

    def forward(self, x, context=None):
        y = F.layer_norm(x.float(), x.shape[-2:], eps=self.eps)
        return (y * self.weight + self.bias).to(x.dtype)


class UtteranceNorm(FeatureAffineNorm):

    def forward(self, x, context=None):
        if context is None:
            context = segment_context(x)
        B, S, R, D = x.shape
        # [B, S, 1, 1]
        mask = context.valid[:, :, None, None]
        count = context.counts * (R * D)
        y = masked_group_norm(x, mask, count, self.weight, self.bias, self.eps)
        return y.to(x.dtype)


def make_norm(kind, num_features, eps=1e-8):
    if kind == "segment":
        return SegmentLayerNorm(num_features, eps)
    if kind == "utterance":
        return UtteranceNorm(num_features, eps)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class SegmentMap(nn.Module):

    def __init__(self, in_rows, out_rows):
        super().__init__()
        self.linear = nn.Linear(in_rows, out_rows)

    def forward(self, x):
        # [B, S, out_rows, D]: einsum makes one product of the rows and the
        # weight, without broadcasting the weight over B x S (a broadcast
        # matmul or bmm does, and sums B x S weight gradients in backward)
        out = torch.einsum("oi,bsid->bsod", self.linear.weight, x)
        return out + self.linear.bias.to(out.dtype)[:, None]

    def map_segment(self, x):
        return torch.matmul(self.linear.weight, x) + self.linear.bias[:, None]


def sinusoidal_encoding(length, dim, device=None):
    position = torch.arange(length, device=device, dtype=torch.float32)
    freq = torch.exp(
        torch.arange(0, dim, 2, device=device, dtype=torch.float32)
        * (-math.log(10000.0) / dim)
    )
    angle = position[:, None] * freq[None, :]
    # [length, dim/2, 2] -> [length, dim]: sin on even, cos on odd features
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)

# -------------------- speechbrain_galr.nnet.attention --------------------
import math

import torch
import torch.nn.functional as F
from torch import nn



def attend(g, in_proj, out_proj, num_heads, attn_bias=None, dropout_p=0.0):
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
        if context is None:
            context = segment_context(x)
        # [B, S, Q, D] (eq. 12) or [B, S, K, D] (eq. 4)
        rows = self.c_map(x) if self.reduced_segment_size else x
        g = self.attend_path(rows, context.segment_pos, context.attn_bias)
        # eq. 10; the residual with L_hat is added by the block
        g_hat = self.segment_norm(g, context)
        return self.c_inv(g_hat) if self.reduced_segment_size else g_hat

    def forward_step(self, x, ring):
        # [B, 1, Q, D] (eq. 12) or [B, 1, K, D] (eq. 4)
        reduced = self.reduced_segment_size
        rows = self.c_map.map_segment(x) if reduced else x
        g = self.frame_norm(rows)
        attn = attend_ring(
            g, *ring, self.in_proj, self.out_proj, self.num_heads
        )
        # eq. 10 (dropout is off in inference)
        g_hat = self.segment_norm(g + attn)
        return self.c_inv.map_segment(g_hat) if reduced else g_hat


class LocallyAttentiveLayer(AttentiveLayer):

    def forward(self, x, context=None):
        if context is None:
            context = segment_context(x, frame_pos=True)
        B, S, K, D = x.shape
        # [B*S, K, 1, D]: a free view, one sequence of K frames per segment
        local = self.attend_path(x.view(B * S, K, 1, D), context.frame_pos)
        return self.segment_norm(local.view(B, S, K, D), context) + x

# -------------------- speechbrain_galr.nnet.galr_layers --------------------
import torch
from torch import nn


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
    if x.device.type != "cpu":
        return False
    if x.dtype == torch.bfloat16:
        return True
    return (
        torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
    )


def cpu_bf16_padding(n, x):
    return (-n) % CPU_BF16_MULTIPLE if cpu_bf16(x) else 0


def run_lstm(lstm, seq, head=None):
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

    def __init__(self, input_size, hidden_size, eps=1e-8, norm="segment"):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, bidirectional=True)
        self.linear = nn.Linear(2 * hidden_size, input_size)
        self.norm = make_norm(norm, input_size, eps)

    def forward(self, x, context=None):
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
    if kind not in builders:
        raise ValueError(
            f"{option} must be one of {tuple(builders)}, got {kind!r}"
        )
    return builders[kind]()


class GALRBlock(nn.Module):

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
        if context is None:
            context = segment_context(x, frame_pos=True)
        local = self.local(x, context)
        # eq. 11 / eq. 13
        return self.globally(local, context) + local

    def forward_step(self, x, ring, context):
        local = self.local(x, context)
        # eq. 11 / eq. 13
        return self.globally.forward_step(local, ring) + local

# -------------------- speechbrain_galr.nnet.galr --------------------
import torch
import torch.nn.functional as F
from speechbrain.lobes.models.dual_path import Dual_Path_Model
from torch import nn


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
        return [
            block.globally
            for block in self.dual_mdl
            if isinstance(block.globally, GloballyAttentiveLayer)
        ]

    def keep_attention(self, keep=True):
        for layer in self._attentive_blocks():
            layer.keep_attention = keep
            layer.attention = None

    def attention_weights(self):
        return [layer.attention for layer in self._attentive_blocks()]

    def forward(self, x, lengths=None, frame_counts=None):
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
        if not self.causal:
            return None
        return (self.K - 1) * hop + window - 1

    def bottleneck(self, x, frame_mask=None, frames=None):
        if self.causal:
            norm = self.norm
            # [B, L, D_in]: each frame over D_in, statistics in float32
            y = F.layer_norm(
                x.float().transpose(1, 2),
                norm.weight.shape,
                norm.weight,
                norm.bias,
                norm.eps,
            )
            # [B, D_in, L], zero past each item's frames
            y = y.transpose(1, 2).to(x.dtype)
            if frame_mask is not None:
                y = y * frame_mask
            return self.conv1d(y)
        return self.conv1d(self._input_norm(x, frame_mask, frames))

    def mask_rows(self, x):
        conv = self.conv2d
        D = x.shape[-1]
        return F.linear(self.prelu(x), conv.weight.view(-1, D), conv.bias)

    def frame_masks(self, x):
        # eq. 14
        x = self.output(x) * self.output_gate(x)
        # eq. 15
        return self.activation(self.end_conv1x1(x))

    def _masks(self, x, frame_mask):
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

# -------------------- speechbrain_galr.nnet.tasnet --------------------
import inspect

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _unwrap(module):
    return getattr(module, "module", module)


def encoder_geometry(encoder):
    conv = _unwrap(encoder).conv1d
    return conv.kernel_size[0], conv.stride[0]


def num_frames(num_samples, window, hop):
    if isinstance(num_samples, torch.Tensor):
        # ceil((n - window) / hop), at least 0, in integer tensor math
        ceil = torch.div(
            num_samples - window + hop - 1, hop, rounding_mode="floor"
        )
        return ceil.clamp(min=0) + 1
    if isinstance(num_samples, int):
        # a concrete length (eager, or torch.compile with static shapes,
        # where torch.sym_max of two ints breaks the graph)
        return max(0, -(-(num_samples - window) // hop)) + 1
    # a symbolic length: non-negative operands and sym_max, so that ONNX
    # export keeps it symbolic (its Div of sizes truncates, onnx_export.py)
    longest = torch.sym_max(num_samples, window)
    return (longest - window + hop - 1) // hop + 1


def as_mixtures(mix, lengths=None):
    mix = _as_tensor(mix, "mixtures")
    if lengths is not None:
        lengths = _as_tensor(lengths, "lengths")
        if not lengths.is_floating_point():
            lengths = lengths.float()
    return mix, lengths


def _as_tensor(value, what):
    if torch.is_tensor(value):
        return value
    if isinstance(value, (np.ndarray, list, tuple)):
        try:
            return torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"{what} must be a tensor or an array of numbers, got a "
                f"{type(value).__name__} that is not one ({err})"
            ) from err
    raise ValueError(
        f"{what} must be a tensor (or a NumPy array), got "
        f"{type(value).__name__}"
    )


def check_mixtures(mix, lengths=None):
    if not torch.is_tensor(mix) or mix.dim() != 2:
        shape = tuple(mix.shape) if torch.is_tensor(mix) else type(mix)
        raise ValueError(f"mixtures must be a [B, T] tensor, got {shape}")
    if mix.shape[0] == 0:
        raise ValueError("no mixtures to separate (an empty batch, B = 0)")
    if mix.shape[1] == 0:
        raise ValueError("mixtures are empty (T = 0)")
    if not torch.isfinite(mix).all():
        raise ValueError("mixtures contain NaN or Inf values")
    if lengths is None:
        return
    if not torch.is_tensor(lengths) or lengths.shape != (mix.shape[0],):
        shape = tuple(lengths.shape) if torch.is_tensor(lengths) else lengths
        raise ValueError(
            f"lengths must have shape ({mix.shape[0]},), got {shape}"
        )
    if not ((lengths > 0) & (lengths <= 1)).all():
        raise ValueError(
            "lengths must be relative lengths in (0, 1] (samples / T), got "
            f"{[round(float(v), 4) for v in lengths[:4]]}"
        )


def length_keyword(masknet):
    parameters = inspect.signature(_unwrap(masknet).forward).parameters
    for keyword in ("frame_counts", "lengths"):
        if keyword in parameters:
            return keyword
    return None


class TasNet(nn.Module):

    def __init__(self, encoder, masknet, decoder):
        super().__init__()
        self.encoder = encoder
        self.masknet = masknet
        self.decoder = decoder
        self.window, self.hop = encoder_geometry(encoder)
        self.length_keyword = length_keyword(masknet)

    def forward(self, mix, lengths=None):
        B, T = mix.shape
        frames = num_frames(T, self.window, self.hop)
        # [B, T_pad]: zeros so that the frames cover every sample
        mix = F.pad(mix, (0, (frames - 1) * self.hop + self.window - T))
        if lengths is None:
            lengths = mix.new_ones(B)
        # [B] samples of each item
        samples = torch.round(lengths.to(mix.device).float() * T).long()
        # [B, D, L]
        mix_w = self.encoder(mix)
        # [B] frames of each item
        item_frames = num_frames(samples, self.window, self.hop)
        if self.length_keyword == "frame_counts":
            est_mask = self.masknet(mix_w, frame_counts=item_frames)
        elif self.length_keyword == "lengths":
            est_mask = self.masknet(mix_w, lengths=item_frames / frames)
        else:
            est_mask = self.masknet(mix_w)
        C = est_mask.shape[0]
        # [C, B, D, L]
        sep_h = mix_w.unsqueeze(0) * est_mask
        # [C*B, D, L] -> [C*B, T_pad]
        est = self.decoder(sep_h.reshape(C * B, *sep_h.shape[2:]))
        # [C, B, T_pad] -> [B, T, C]
        est = est.view(C, B, -1)[:, :, :T].permute(1, 2, 0)
        # [B, T, 1]: zero past each item's length
        keep = torch.arange(T, device=mix.device)[None, :] < samples[:, None]
        return est * keep.unsqueeze(-1)

# -------------------- speechbrain_galr.atomic_files --------------------
import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
import threading

TEMP_PREFIX = ".galr-tmp-"

_UMASK_LOCK = threading.Lock()


def current_umask():
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_mode(path, folder=False):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return (0o777 if folder else 0o666) & ~current_umask()


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, suffix=None, temp_folder=None):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(
        prefix=TEMP_PREFIX, suffix=suffix, dir=temp_folder or folder
    )
    os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, new_mode(path))
        os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="w", **open_kwargs):
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()


def write_text_atomic(path, text):
    with atomic_write(path, encoding="utf-8") as handle:
        handle.write(text)


RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
"""Flags of Linux ``renameat2``."""


def _renameat2(first, second, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    status = renameat2(
        at_fdcwd,
        os.fsencode(first),
        at_fdcwd,
        os.fsencode(second),
        flags,
    )
    if status == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), second)


def _rename_exchange(first, second):
    return _renameat2(first, second, RENAME_EXCHANGE)


def rename_no_replace(source, dest):
    source, dest = os.fspath(source), os.fspath(dest)
    try:
        if _renameat2(source, dest, RENAME_NOREPLACE):
            return
    except OSError as err:
        if err.errno == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, err.strerror, dest) from None
        raise
    if os.path.lexists(dest):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dest)
    os.rename(source, dest)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_folders(folder, prefix):
    for name in os.listdir(folder):
        if not name.startswith(prefix):
            continue
        # <prefix><pid>-<random>, the random part of mkdtemp has no "-"
        parts = name[len(prefix) :].split("-")
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        if not _pid_alive(int(parts[0])):
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)


def make_temp_folder(parent, prefix):
    remove_stale_temp_folders(parent, prefix)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent)


def _fsync_tree(folder):
    for root, _, files in os.walk(folder):
        for file_name in files:
            path = os.path.join(root, file_name)
            if not os.path.islink(path):
                with contextlib.suppress(PermissionError):  # a user's
                    _fsync_file(path)
        _fsync_folder(root)


def _put_in_place(staging, path, replace):
    if not replace:
        try:
            os.rmdir(path)  # an empty folder only; not a link, not a file
        except FileNotFoundError:
            pass
        except OSError:
            raise FileExistsError(
                errno.EEXIST, "exists and is not an empty folder", path
            ) from None
        rename_no_replace(staging, path)
        return staging
    if not os.path.lexists(path):
        rename_no_replace(staging, path)
    elif _rename_exchange(staging, path):
        pass  # `staging` now holds the old folder
    else:
        os.rename(path, staging + ".old")
        os.rename(staging, path)
        return staging + ".old"
    return staging


@contextlib.contextmanager
def atomic_folder(path, replace=True):
    path = os.path.abspath(os.fspath(path))
    if os.path.islink(path):
        path = os.path.realpath(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    staging = make_temp_folder(parent, f"{TEMP_PREFIX}{name}-")
    try:
        yield staging
        _fsync_tree(staging)
        os.chmod(staging, new_mode(path, folder=True))
        staging = _put_in_place(staging, path, replace)
        _fsync_folder(parent)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

# -------------------- speechbrain_galr.errors --------------------
class GALRError(ValueError):
    pass


def one_line(err, limit=300):
    text = " ".join(str(err).split())
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."

# -------------------- speechbrain_galr.audio --------------------
import collections
import math
import os
import stat
import struct

import numpy as np
import soundfile as sf
import torch
from speechbrain.utils.logger import get_logger


logger = get_logger(__name__)

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
"""File name endings read as audio (what soundfile decodes)."""

AudioInfo = collections.namedtuple(
    "AudioInfo", ["frames", "sample_rate", "channels"]
)
"""Length (samples per channel), sample rate (Hz) and channel count."""


class AudioInputError(GALRError):
    pass


class AudioNotFoundError(AudioInputError, FileNotFoundError):
    pass


class ResamplerUnavailableError(GALRError, ImportError):
    pass


def _import_soxr(orig_freq, new_freq):
    try:
        import soxr
    except ImportError as err:
        raise ResamplerUnavailableError(
            f"resampling from {orig_freq} Hz to {new_freq} Hz needs the "
            "soxr package, which is not installed: pip install soxr (or "
            "give audio at the model's rate)"
        ) from err
    return soxr


def check_audio_path(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioNotFoundError(f"audio file not found: {path}")
    if os.path.isdir(path):
        raise AudioInputError(f"expected an audio file, got a folder: {path}")
    if not stat.S_ISREG(os.stat(path).st_mode):
        # a FIFO or a piped /dev/stdin: its size says 0, and the reader
        # needs to seek (header, length, a second pass)
        raise AudioInputError(
            f"cannot read audio file {path}: it is a pipe or a device, not "
            "a regular file; save the audio to a file first"
        )
    if os.path.getsize(path) == 0:
        raise AudioInputError(
            f"cannot read audio file {path}: it is empty (0 bytes)"
        )
    try:
        with open(path, "rb"):
            pass
    except PermissionError as err:
        raise AudioInputError(
            f"cannot read audio file {path}: permission denied"
        ) from err


def sound_write_problem(err):
    text = getattr(err, "error_string", None) or str(err)
    if "System error" in text:
        code = sf._ffi.errno  # errno of libsndfile's failed call
        if code:
            return os.strerror(code)
    return text


def _wav_header_frames(path):
    with open(path, "rb") as fin:
        head = fin.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = fin.read(8)
            if len(chunk) < 8:
                return None
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"fmt ":
                fmt = fin.read(size + size % 2)
                block_align = struct.unpack("<H", fmt[12:14])[0]
            elif name == b"data":
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                fin.seek(size + size % 2, os.SEEK_CUR)


def _warn_if_truncated(path, frames, rate):
    claimed = _wav_header_frames(path)
    if claimed is not None and claimed > frames:
        logger.warning(
            f"warning: {path} is truncated: its header claims "
            f"{claimed / rate:.2f} s ({claimed} samples), the file holds "
            f"{frames / rate:.2f} s ({frames} samples); using what it holds"
        )


def _soundfile_error(path, err):
    return AudioInputError(
        f"cannot read audio file {path}: not audio that soundfile decodes "
        f"({err})"
    )


def audio_info(path, warn_truncated=True):
    path = os.fspath(path)
    check_audio_path(path)
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _soundfile_error(path, err) from err
    if info.frames <= 0:
        raise AudioInputError(
            f"cannot read audio file {path}: it has no samples"
        )
    if warn_truncated:
        _warn_if_truncated(path, info.frames, info.samplerate)
    return AudioInfo(int(info.frames), int(info.samplerate), info.channels)


def open_audio(path):
    audio_info(path)
    try:
        return sf.SoundFile(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _soundfile_error(path, err) from err


def to_mono(samples, name="audio"):
    if not np.isfinite(samples).all():
        raise AudioInputError(f"audio file contains NaN or Inf values: {name}")
    return torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))


def read_blocks(audio, block_frames):
    while True:
        # [n, channels]
        block = audio.read(block_frames, dtype="float32", always_2d=True)
        if block.shape[0] == 0:
            return
        yield to_mono(block, audio.name)


def read_audio(path, sample_rate=None, start=0, num_samples=None, info=None):
    path = os.fspath(path)
    frames, file_rate, _ = info or audio_info(path)
    sample_rate = sample_rate or file_rate
    ratio = file_rate / sample_rate
    file_start = int(math.floor(start * ratio))
    file_stop = frames
    if num_samples is not None:
        file_stop = min(frames, int(math.ceil((start + num_samples) * ratio)))
    try:
        data, _ = sf.read(
            path,
            start=file_start,
            stop=file_stop,
            dtype="float32",
            always_2d=True,
        )
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioInputError(
            f"cannot decode audio file {path}: {err}"
        ) from err
    if data.shape[0] == 0:
        raise AudioInputError(
            f"no samples in {path} from sample {start} at {sample_rate} Hz "
            f"(the file has {frames} samples at {file_rate} Hz)"
        )
    signal = resample(to_mono(data, path), file_rate, sample_rate)
    return signal if num_samples is None else signal[:num_samples]


def load_mono(path):
    info = audio_info(path)
    return read_audio(path, info=info), info.sample_rate


def resampled_length(num_samples, orig_freq, new_freq):
    return -(-num_samples * new_freq // orig_freq)


class StreamResampler:

    def __init__(self, orig_freq, new_freq, channels=1):
        if orig_freq <= 0 or new_freq <= 0:
            raise ValueError(
                f"sample rates must be positive, got {orig_freq}, {new_freq}"
            )
        self.orig_freq, self.new_freq = int(orig_freq), int(new_freq)
        self.channels = channels
        self._stream = None
        self._count_in = self._count_out = 0

    def push(self, block, last=False):
        if self.orig_freq == self.new_freq:
            return block
        if self._stream is None:
            # imported here: custom_interface.py of an exported model must
            # load with only speechbrain installed (soxr is needed only for
            # files at another rate)
            soxr = _import_soxr(self.orig_freq, self.new_freq)

            self._stream = soxr.ResampleStream(
                self.orig_freq, self.new_freq, self.channels, dtype="float32"
            )
            self._count_in = self._count_out = 0
        samples = block.detach().cpu().float().numpy()
        self._count_in += samples.shape[0]
        if last:
            # zeros after the end, so that soxr's rounding gives at least
            # ceil(T * new / orig) samples; the extra ones are cut
            pad = math.ceil(self.orig_freq / self.new_freq) + 1
            samples = np.concatenate(
                [samples, np.zeros((pad, self.channels), np.float32)]
            )
        out = self._stream.resample_chunk(samples, last=last)
        if last:
            total = resampled_length(
                self._count_in, self.orig_freq, self.new_freq
            )
            out = out[: max(0, total - self._count_out)]
            self._stream = None
        self._count_out += out.shape[0]
        return torch.from_numpy(np.ascontiguousarray(out)).to(block.dtype)

    def flush(self):
        if self._stream is None:
            return torch.zeros(0, self.channels)
        return self.push(torch.zeros(0, self.channels), last=True)


def resample(signal, orig_freq, new_freq):
    if orig_freq == new_freq:
        return signal
    # [T, channels]
    frames = signal if signal.dim() == 2 else signal[:, None]
    resampler = StreamResampler(orig_freq, new_freq, frames.shape[1])
    out = resampler.push(frames, last=True)
    return out if signal.dim() == 2 else out[:, 0]


def write_wav(path, signal, sample_rate, subtype="PCM_16"):
    if torch.is_tensor(signal):
        signal = signal.detach().cpu().numpy()
    with atomic_path(path) as tmp:
        try:
            sf.write(tmp, signal, sample_rate, subtype=subtype, format="WAV")
        except sf.LibsndfileError as err:
            raise OSError(
                f"cannot write {path}: {sound_write_problem(err)}"
            ) from err

# -------------------- speechbrain_galr.metrics --------------------
import functools
import itertools

import torch
from speechbrain.nnet.losses import cal_si_snr
from speechbrain.utils.metric_stats import MetricStats

FILTER_LENGTH = 512
"""Taps of the distortion filters of BSS-eval (mir_eval's value)."""

SCORE_KEYS = ("sdr", "sdr_i", "si-snr", "si-snr_i")
"""The scores of :func:`separation_scores`, in ``test_results.csv`` order."""


def pairwise_si_snr(references, estimates):
    B, T, C = references.shape
    # [B, T, C, C]: reference c in dim 2, estimate d in dim 3
    refs = references[..., :, None].expand(B, T, C, C)
    ests = estimates[..., None, :].expand(B, T, C, C)
    # [T, B, C * C]: cal_si_snr's layout; it masks the estimates in place,
    # so they are copied by reshape (contiguous)
    refs = refs.permute(1, 0, 2, 3).reshape(T, B, C * C)
    ests = ests.permute(1, 0, 2, 3).reshape(T, B, C * C).clone()
    # [1, B, C * C] negated -> [B, C, C]
    return -cal_si_snr(refs, ests)[0].reshape(B, C, C)


def best_permutation(scores):
    num = scores.shape[-1]
    # [C!, C]
    orders = torch.tensor(
        list(itertools.permutations(range(num))), device=scores.device
    )
    rows = torch.arange(num, device=scores.device)
    # [B, C!]: summed score of every order
    totals = scores[:, rows, orders].sum(dim=-1)
    return orders[totals.argmax(dim=-1)]


def permute_sources(estimates, order):
    index = order[:, None, :].expand(-1, estimates.shape[1], -1)
    return estimates.gather(2, index)


def si_snr(references, estimates, permute=True):
    scores = pairwise_si_snr(references, estimates)
    num = scores.shape[-1]
    if permute:
        order = best_permutation(scores)
    else:
        order = torch.arange(num, device=scores.device).expand(len(scores), -1)
    return scores.gather(2, order[..., None])[..., 0]


def sdr(references, estimates):
    refs = references.detach().double().cpu()
    ests = estimates.detach().double().cpu()
    taps = FILTER_LENGTH
    n_fft = 1 << (refs.shape[-1] + taps - 1).bit_length()
    ref_f = torch.fft.rfft(refs, n_fft)
    # [..., C, taps]: autocorrelation and cross-correlation at lags 0..L-1
    autocorr = torch.fft.irfft(ref_f.abs() ** 2, n_fft)[..., :taps]
    xcorr = torch.fft.irfft(ref_f.conj() * torch.fft.rfft(ests, n_fft), n_fft)
    xcorr = xcorr[..., :taps, None]
    lags = torch.arange(taps)
    # [..., C, taps, taps]: Toeplitz Gram matrix of the delayed references
    gram = autocorr[..., (lags[:, None] - lags[None, :]).abs()]
    factor = torch.linalg.cholesky(gram)
    target = (xcorr * torch.cholesky_solve(xcorr, factor)).sum((-2, -1))
    # the distortion energy, kept positive where rounding makes it <= 0
    distortion = (ests.pow(2).sum(-1) - target).clamp_min(1e-300)
    return 10 * torch.log10(target / distortion)


def check_sources(mixture, references, estimates):
    if mixture.dim() != 1 or references.dim() != 2:
        raise ValueError(
            f"expected mixture [T] and references [T, C], got "
            f"{tuple(mixture.shape)} and {tuple(references.shape)}"
        )
    num_samples, num = references.shape
    if estimates.shape != references.shape or len(mixture) != num_samples:
        raise ValueError(
            f"estimates {tuple(estimates.shape)} and mixture "
            f"{tuple(mixture.shape)} must have the shapes [T, {num}] and [T] "
            f"of the references {tuple(references.shape)}"
        )
    for name, signal in (("mixture", mixture), ("estimates", estimates)):
        if not torch.isfinite(signal).all():
            raise ValueError(f"{name} contain NaN or Inf values")
    silent = (references == 0).all(dim=0).nonzero()[:, 0].tolist()
    if silent:
        raise ValueError(
            f"reference source(s) {silent} are all zeros; BSS-eval is "
            "undefined for silent sources"
        )


def separation_scores(
    mixture, references, estimates, permute=True, source_names=None
):
    check_sources(mixture, references, estimates)
    num = references.shape[-1]
    if source_names is not None and len(source_names) != num:
        raise ValueError(f"{len(source_names)} source names for {num} sources")
    references = references.detach().float().cpu()
    estimates = estimates.detach().float().cpu()
    # [2, T, C]: the estimates, and the mixture as the estimate of each source
    mix_as_est = mixture.detach().float().cpu()[:, None].expand(-1, num)
    candidates = torch.stack([estimates, mix_as_est])
    refs = references[None].expand_as(candidates)
    # [2, C, C] SI-SNRs; [2, C] orders (the mixture's is any: all alike)
    pairs = pairwise_si_snr(refs, candidates)
    order = torch.arange(num).repeat(2, 1)
    if permute:
        order[0] = best_permutation(pairs[:1])[0]
    # [2, C] each, in the order of the references
    si_snrs = pairs.gather(2, order[..., None])[..., 0]
    matched = permute_sources(candidates, order)
    sdrs = sdr(refs.transpose(1, 2), matched.transpose(1, 2)).float()
    per_source = {"si-snr": si_snrs[0], "si-snr_i": si_snrs[0] - si_snrs[1]}
    per_source.update({"sdr": sdrs[0], "sdr_i": sdrs[0] - sdrs[1]})
    scores = {}
    for index, name in enumerate(source_names or ()):
        for key in ("si-snr", "si-snr_i", "sdr", "sdr_i"):
            scores[f"{name}_{key}"] = float(per_source[key][index])
    for key in SCORE_KEYS:
        scores[key] = float(per_source[key].mean())
    return scores


def score_packed(scores, estimates, mixture_and_references):
    return scores(
        mixture_and_references[:, 0], mixture_and_references[:, 1:], estimates
    )


def separation_metric_stats(scores=separation_scores, n_jobs=1):
    return MetricStats(
        metric=functools.partial(score_packed, scores),
        n_jobs=n_jobs,
        batch_eval=False,
    )

# -------------------- speechbrain_galr.inference.chunked --------------------
import math

import torch
from tqdm import tqdm


MIN_CHUNK_SECONDS = 0.1
"""Shortest chunk accepted (the model sees too little context below)."""

MIN_OVERLAP_SECONDS = 0.02
"""Shortest overlap accepted (the sources are aligned on it)."""


DEFAULT_CHUNK_SECONDS = 10.0
"""Chunk length when none is given; the overlap's default is then 2 s."""


class ChunkSettings:

    def __init__(self, chunk_seconds=None, overlap_seconds=None):
        if chunk_seconds is None:
            chunk_seconds = DEFAULT_CHUNK_SECONDS
        self.chunk_seconds, self.overlap_seconds = check_chunk_seconds(
            chunk_seconds, overlap_seconds
        )

    def samples(self, sample_rate):
        chunk = round(self.chunk_seconds * sample_rate)
        overlap = round(self.overlap_seconds * sample_rate)
        return chunk, max(1, min(overlap, chunk // 2))

    def __repr__(self):
        return (
            f"ChunkSettings({self.chunk_seconds:g}, {self.overlap_seconds:g})"
        )


def chunk_lengths(sample_rate, chunk_seconds, overlap_seconds=None):
    return ChunkSettings(chunk_seconds, overlap_seconds).samples(sample_rate)


def shows_progress(total, chunk, overlap):
    return total is not None and total > chunk + 3 * (chunk - overlap)


def check_chunk_seconds(chunk_seconds, overlap_seconds=None):
    if not _is_number(chunk_seconds) or chunk_seconds < MIN_CHUNK_SECONDS:
        raise ValueError(
            "chunk length must be a number of seconds >= "
            f"{MIN_CHUNK_SECONDS:g}, got {chunk_seconds}"
        )
    if overlap_seconds is None:
        return chunk_seconds, min(2.0, chunk_seconds / 4)
    if not _is_number(overlap_seconds) or not (
        MIN_OVERLAP_SECONDS <= overlap_seconds <= chunk_seconds / 2
    ):
        raise ValueError(
            f"chunk overlap must be a number of seconds from "
            f"{MIN_OVERLAP_SECONDS:g} to half the chunk length "
            f"({chunk_seconds / 2:g}), got {overlap_seconds}"
        )
    return chunk_seconds, overlap_seconds


def _is_number(value):
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def align_sources(reference, estimate):
    n = reference.shape[1]
    head = estimate[:, :n]
    ref = reference / (reference.norm(dim=1, keepdim=True) + 1e-8)
    head = head / (head.norm(dim=1, keepdim=True) + 1e-8)
    # [B, C, C]: similarity of reference source c and estimated source d
    similarity = torch.einsum("bnc,bnd->bcd", ref, head)
    return permute_sources(estimate, best_permutation(similarity))


class ChunkedSeparator:

    def __init__(
        self, separate_fn, chunk_size, overlap, total=None, progress=False
    ):
        if chunk_size < 2:
            raise ValueError(f"chunk_size must be >= 2, got {chunk_size}")
        if not 1 <= overlap <= chunk_size // 2:
            raise ValueError(
                f"overlap must be in [1, chunk_size // 2 = {chunk_size // 2}]"
                f" (the sources are aligned on it), got {overlap}"
            )
        self.separate_fn = separate_fn
        self.chunk_size = chunk_size
        self.overlap = overlap
        self.hop = chunk_size - overlap
        steps = torch.arange(overlap, dtype=torch.float32) + 0.5
        # [n]: raised-cosine fade-in; the fade-out is 1 - fade_in
        self.fade_in = 0.5 - 0.5 * torch.cos(math.pi * steps / overlap)
        self._pending = None  # [B, n] input not yet fully separated
        self._history = None  # [B, hop] input just before _pending
        self._tail = None  # [B, overlap, C] estimates of _pending[:, :ov]
        self._bar = None
        if progress:
            chunks = None
            if total is not None:
                chunks = max(1, -(-max(total - overlap, 1) // self.hop))
            self._bar = tqdm(total=chunks, unit="chunk", desc="separating")

    def _separate(self, chunk):
        est = self.separate_fn(chunk)
        if self._bar is not None:
            self._bar.update(1)
        return est

    def _merge(self, est, final):
        ov = self.overlap
        if self._tail is not None:
            est = align_sources(self._tail, est)
            fade_in = self.fade_in.to(est)[None, :, None]
            head = self._tail * (1 - fade_in) + est[:, :ov] * fade_in
            est = torch.cat([head, est[:, ov:]], dim=1)
        if final:
            self._tail = None
            return est
        self._tail = est[:, self.hop :]
        return est[:, : self.hop]

    def push(self, block):
        if block.dim() != 2:
            raise ValueError(
                f"expected a [B, n] block, got shape {tuple(block.shape)}"
            )
        pending = block if self._pending is None else self._pending
        if self._pending is not None:
            pending = torch.cat([pending, block], dim=1)
        outputs = []
        while pending.shape[1] >= self.chunk_size:
            est = self._separate(pending[:, : self.chunk_size])
            outputs.append(self._merge(est, final=False))
            self._history = pending[:, : self.hop]
            pending = pending[:, self.hop :]
        self._pending = pending
        if not outputs:
            return block.new_zeros(block.shape[0], 0, 0)
        return torch.cat(outputs, dim=1)

    def flush(self):
        pending = self._pending
        self._pending = None
        try:
            if pending is None or pending.shape[1] == 0:
                return torch.zeros(0, 0, 0)
            if self._tail is None:
                # the whole input was shorter than one chunk
                return self._merge(self._separate(pending), final=True)
            if pending.shape[1] <= self.overlap:
                # the previous chunk already covered these samples
                tail, self._tail = self._tail, None
                return tail[:, : pending.shape[1]]
            # extend the last chunk back to a full chunk
            extra = min(self.chunk_size - pending.shape[1], self.hop)
            if extra > 0:
                pending = torch.cat([self._history[:, -extra:], pending], 1)
            est = self._separate(pending)[:, extra:]
            return self._merge(est, final=True)
        finally:
            self.close()

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def separate(self, mix):
        out = [self.push(mix), self.flush()]
        return torch.cat([o for o in out if o.shape[1] > 0], dim=1)

# -------------------- speechbrain_galr.inference.output_scale --------------------
import math

import torch
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

PEAK = 0.99
"""Peak of a peak-normalised source (-0.09 dBFS); also the highest peak
written at the mixture's scale (16-bit PCM clips at 1)."""

SCALES = ("peak", "mixture")


def check_scale(scale):
    if scale not in SCALES:
        raise ValueError(f"scale is one of {SCALES}, not {scale!r}")


def source_gains(peaks, scale="peak", fit=None, name="the input"):
    peaks = peaks.double()
    if scale == "peak":
        return [PEAK / p if p > 1e-8 else 1.0 for p in peaks.tolist()]
    check_scale(scale)
    gains = fit.gains() if fit is not None else torch.ones_like(peaks)
    highest = float((gains.abs() * peaks).max()) if peaks.numel() else 0.0
    if highest > PEAK:
        logger.warning(
            f"warning: at the mixture's scale a source of {name} would "
            f"clip (peak {20 * math.log10(highest):+.1f} dBFS); all "
            f"sources scaled down together by "
            f"{20 * math.log10(highest / PEAK):.1f} dB"
        )
        gains = gains * (PEAK / highest)
    return gains.tolist()

# -------------------- speechbrain_galr.inference.output_set --------------------
import contextlib
import os
import re

from speechbrain.utils.logger import get_logger


logger = get_logger(__name__)

LOCK_PREFIX = ".galr-lock-"
"""Name prefix of the lock file of an input name (``.galr-lock-mix``)."""


class OutputsBusyError(FileExistsError):
    pass


def output_names(name, num_sources, plot=False):
    names = [f"{name}_source{i + 1}.wav" for i in range(num_sources)]
    return names + ([f"{name}_sources.png"] if plot else [])


def is_output_of(file_name, name):
    pattern = re.escape(name) + r"_(source[1-9][0-9]*\.wav|sources\.png)"
    return re.fullmatch(pattern, file_name) is not None


def existing_outputs(out_dir, name):
    try:
        names = os.listdir(out_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        os.path.join(out_dir, n) for n in names if is_output_of(n, name)
    )


def _read_pid(path):
    try:
        with open(path, encoding="ascii") as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _create_lock(path):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpid()}\n")
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: O_EXCL
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
        return True
    finally:
        os.remove(tmp)


def _remove_dead_lock(path, pid):
    aside = f"{path}.{os.getpid()}.dead"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return  # another run removed it first
    if _read_pid(aside) == pid:
        os.remove(aside)
        return
    with contextlib.suppress(OSError):  # a live run's: put it back
        rename_no_replace(aside, path)


def remove_dead_locks(out_dir):
    for entry in os.listdir(out_dir):
        helper = re.search(r"\.[0-9]+\.(tmp|dead)$", entry)  # in use
        if entry.startswith(LOCK_PREFIX) and not helper:
            path = os.path.join(out_dir, entry)
            pid = _read_pid(path)
            if pid and pid != os.getpid() and not _pid_alive(pid):
                _remove_dead_lock(path, pid)


@contextlib.contextmanager
def output_lock(out_dir, name):
    path = os.path.join(out_dir, f"{LOCK_PREFIX}{name}")
    remove_dead_locks(out_dir)
    for _ in range(3):
        if _create_lock(path):
            break
        pid = _read_pid(path)
        if pid == os.getpid() or (pid and _pid_alive(pid)):
            raise OutputsBusyError(
                f"another run (process {pid}) is writing the outputs of "
                f"{name!r} in {out_dir}; wait for it to end (or remove "
                f"{path} if that process is not a separate run)"
            )
        _remove_dead_lock(path, pid)  # left by a killed run
    else:
        raise OutputsBusyError(f"cannot take the lock {path}")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)


def check_writable(out_dir):
    if not out_dir:
        raise FileNotFoundError("the output folder is an empty path ('')")
    if os.path.islink(out_dir) and not os.path.exists(out_dir):
        raise FileNotFoundError(
            f"output folder {out_dir} is a link to {os.readlink(out_dir)}, "
            "which does not exist: create it, or give another folder"
        )
    existing = os.path.abspath(out_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise FileExistsError(
            f"cannot make output folder {out_dir}: {existing} is a file"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write to output folder {out_dir}: permission denied "
            f"on {existing}"
        )


def check_outputs(out_dir, name, overwrite=False):
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise FileExistsError(f"output folder is a file: {out_dir}")
    check_writable(out_dir)
    found = existing_outputs(out_dir, name)
    if found and not overwrite:
        raise FileExistsError(
            f"{found[0]} exists ({len(found)} output(s) of {name!r} in "
            f"{out_dir}); pass --overwrite (overwrite=True) to replace them"
        )
    for path in found:
        if os.path.isdir(path) and not os.path.islink(path):
            raise FileExistsError(
                f"{path} is a folder, not an output of an earlier run; "
                "move it away first"
            )


def _put_back(placed, backups):
    for path in placed:
        with contextlib.suppress(OSError):
            os.remove(path)
    for path, backup in backups.items():
        with contextlib.suppress(OSError):
            os.replace(backup, path)


def replace_outputs(out_dir, name, staged, backup_dir, overwrite=False):
    check_outputs(out_dir, name, overwrite)
    old = existing_outputs(out_dir, name)
    backups, placed, paths = {}, [], []
    try:
        for path in old:  # kept until the new set is in place
            backup = os.path.join(backup_dir, os.path.basename(path))
            try:
                os.link(path, backup, follow_symlinks=False)
            except OSError:
                os.replace(path, backup)
            backups[path] = backup
        for file_name, tmp in staged.items():
            path = os.path.join(out_dir, file_name)
            if overwrite:
                os.replace(tmp, path)
            else:
                rename_no_replace(tmp, path)
            placed.append(path)
            paths.append(path)
    except BaseException:
        _put_back(placed, backups)
        raise
    stale = [p for p in old if p not in paths]
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    if stale:
        logger.warning(
            f"--overwrite: removed {len(stale)} output(s) of an earlier run "
            f"that this run does not write: {', '.join(stale)}"
        )
    return paths

# -------------------- speechbrain_galr.inference.file_separation --------------------
import contextlib
import os
import shutil

import soundfile as sf
import torch


WORK_PREFIX = ".galr-work-"
"""Name prefix of the hidden work folders (followed by the process id)."""


def input_name(path):
    return os.path.splitext(os.path.basename(str(path)))[0]


class OutputSet:

    def __init__(self, out_dir, name, overwrite=False, plot=False):
        self.out_dir = os.fspath(out_dir)
        self.name = name
        self.overwrite = overwrite
        self.plot = plot
        check_outputs(self.out_dir, name, overwrite)


@contextlib.contextmanager
def work_folder(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    path = make_temp_folder(out_dir, WORK_PREFIX)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _errors_name(out_dir):
    try:
        yield
    except sf.LibsndfileError as err:
        raise OSError(
            f"cannot write the separated sources to {out_dir}: "
            f"{sound_write_problem(err)}"
        ) from err
    except OSError as err:
        if err.filename is None or WORK_PREFIX not in str(err.filename):
            raise
        raise OSError(
            f"cannot write the separated sources to {out_dir}: {err.strerror}"
        ) from err


class _RawSources:

    def __init__(self, folder, rate):
        self.folder, self.rate = folder, rate
        self.files, self.peaks = [], None

    def write(self, est):
        if est.shape[0] == 0:
            return
        if not self.files:
            for i in range(est.shape[1]):
                path = os.path.join(self.folder, f"raw{i}.wav")
                self.files.append(
                    sf.SoundFile(path, "w", self.rate, 1, "FLOAT")
                )
            self.peaks = torch.zeros(est.shape[1])
        self.peaks = torch.maximum(self.peaks, est.abs().amax(dim=0))
        for i, out in enumerate(self.files):
            out.write(est[:, i].numpy())

    def close(self):
        for out in self.files:
            out.close()

    def stage(self, name, block, gains):
        self.close()
        staged = {}
        names = output_names(name, len(self.files))
        for i, gain in enumerate(gains):
            staged[names[i]] = os.path.join(self.folder, names[i])
            raw = os.path.join(self.folder, f"raw{i}.wav")
            with (
                sf.SoundFile(raw) as fin,
                sf.SoundFile(
                    staged[names[i]], "w", self.rate, 1, "PCM_16", format="WAV"
                ) as fout,
            ):
                for samples in fin.blocks(block, dtype="float32"):
                    fout.write(samples * gain)
        return staged


def _publish(raw, outputs, block, scale, fit, work):
    peaks = raw.peaks if raw.peaks is not None else torch.zeros(0)
    gains = source_gains(peaks, scale, fit, outputs.name)
    staged = raw.stage(outputs.name, block, gains)
    if outputs.plot:
        raise ImportError("this needs the speechbrain_galr package (pip install speechbrain-galr); custom_interface.py holds only what separating with a hub folder needs")

        png = f"{outputs.name}_sources.png"
        plot_sources(list(staged.values()), os.path.join(work, png))
        staged[png] = os.path.join(work, png)
    old = os.path.join(work, "earlier-run")
    os.mkdir(old)
    return replace_outputs(
        outputs.out_dir, outputs.name, staged, old, outputs.overwrite
    )


def separate_file_to_folder(
    separate_fn,
    model_rate,
    path,
    outputs,
    chunk_size,
    overlap,
    device="cpu",
    progress=None,
    block_seconds=30.0,
    scale="peak",
):
    out_dir, name = outputs.out_dir, outputs.name
    check_scale(scale)
    fit = None
    if scale == "mixture":
        raise ImportError("this needs the speechbrain_galr package (pip install speechbrain-galr); custom_interface.py holds only what separating with a hub folder needs")

        fit = MixtureFit()
    os.makedirs(out_dir, exist_ok=True)
    with (
        open_audio(path) as audio,
        output_lock(out_dir, name),
        work_folder(out_dir) as work,
    ):
        rate = audio.samplerate
        total = -(-audio.frames * model_rate // rate)
        to_model = StreamResampler(rate, model_rate)
        if progress is None:
            progress = shows_progress(total, chunk_size, overlap)
        chunked = ChunkedSeparator(
            separate_fn, chunk_size, overlap, total=total, progress=progress
        )
        raw = _RawSources(work, rate)
        # the round trip through the model's rate may add a sample
        remaining = audio.frames
        to_file = None

        def write(est):
            nonlocal remaining, to_file
            if est is None:
                est = to_file.flush() if to_file is not None else est
            elif est.shape[0] > 0:
                if to_file is None:
                    channels = est.shape[1]
                    to_file = StreamResampler(model_rate, rate, channels)
                est = to_file.push(est.float().cpu())
            if est is not None:
                raw.write(est[:remaining])
                if fit is not None:
                    fit.push_sources(est[:remaining])
                remaining -= min(remaining, est.shape[0])

        try:
            with _errors_name(out_dir):
                block = max(1, round(block_seconds * rate))
                for samples in read_blocks(audio, block):
                    if fit is not None:
                        fit.push_mixture(samples)
                    # [n, 1] at the model's rate
                    resampled = to_model.push(samples[:, None])
                    write(chunked.push(resampled.T.to(device))[0])
                write(chunked.push(to_model.flush().T.to(device))[0])
                final = chunked.flush()
                if final.shape[1] > 0:
                    write(final[0])
                write(None)
                return _publish(raw, outputs, block, scale, fit, work)
        finally:
            chunked.close()
            raw.close()

# -------------------- speechbrain_galr.inference.mixture_input --------------------
class MixtureError(GALRError):
    pass


def checked_mixtures(mix, lengths=None):
    try:
        mix, lengths = as_mixtures(mix, lengths)
        if not mix.is_floating_point():
            raise ValueError(
                f"mixtures must be floating-point samples, got {mix.dtype}"
            )
        check_mixtures(mix, lengths)
    except ValueError as err:
        raise MixtureError(str(err)) from None
    return mix, lengths

# -------------------- speechbrain_galr.devices --------------------
import torch

RUNNING_DEVICES = {
    "cpu": "the CPU",
    "cuda": "CUDA",
    "mps": "MPS (Apple GPU)",
    "xpu": "XPU (Intel GPU)",
}
"""Device types that run the model (``meta`` holds no data, ``xla`` and
others need code this package does not have)."""


def _available(kind):
    if kind == "mps":
        return bool(torch.backends.mps.is_available())
    return bool(getattr(torch, "xpu", None) and torch.xpu.is_available())


def check_device(device):
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"unknown device {device!r}: use cpu, cuda or cuda:N"
        ) from err
    if parsed.type not in RUNNING_DEVICES:
        raise ValueError(
            f"device {device!r} cannot run the model: use cpu, cuda or cuda:N"
        )
    if parsed.type in ("mps", "xpu") and not _available(parsed.type):
        raise ValueError(
            f"device {device!r} asked for, but {RUNNING_DEVICES[parsed.type]} "
            "is not available here (or torch was built without it): use cpu"
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} asked for, but CUDA is not available "
                "here (no GPU, or torch built without CUDA): use cpu"
            )
        if parsed.index is not None and parsed.index >= (
            torch.cuda.device_count()
        ):
            raise ValueError(
                f"device {device!r} asked for, but there are only "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    return str(device)

# -------------------- speechbrain_galr.inference.run_options --------------------
import functools

import torch


PRECISIONS = ("fp32", "bf16", "fp16", "auto")
"""Accepted values of the ``precision`` run option."""

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16(cpuinfo="/proc/cpuinfo"):
    try:
        with open(cpuinfo, encoding="utf-8") as fin:
            text = fin.read()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def resolve_precision(precision, device):
    if precision is None:
        return "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}: use one of "
            f"{', '.join(PRECISIONS)}"
        )
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if kind == "cpu" and cpu_has_fast_bf16():
        return "bf16"
    return "fp32"


def resolve_run_opts(run_opts):
    run_opts = dict(run_opts or {})
    device = check_device(run_opts.get("device"))
    if "device" in run_opts:
        run_opts["device"] = device
    if "precision" in run_opts:
        run_opts["precision"] = resolve_precision(run_opts["precision"], device)
    return run_opts

# -------------------- speechbrain_galr.nnet.frame_maps --------------------
import torch
import torch.nn.functional as F


def check_frame_geometry(model):
    encoder = getattr(model.encoder, "conv1d", None)
    decoder = model.decoder
    if (
        encoder is None
        or encoder.in_channels != 1
        or not hasattr(decoder, "weight")
        or decoder.weight.shape[1] != 1
        or decoder.bias is not None
        or model.window != 2 * model.hop
    ):
        raise ValueError(
            "streaming needs SpeechBrain's dual_path Encoder and Decoder "
            "(one channel, hop = window / 2, no decoder bias)"
        )


def encode(model, samples, frames):
    conv = model.encoder.conv1d
    # [B, frames, M]: a view of the samples
    windows = samples.unfold(1, model.window, model.hop)[:, :frames]
    return F.relu(F.linear(windows, conv.weight[:, 0], conv.bias))


def bottleneck(galr, encoded):
    norm = galr.norm
    y = F.layer_norm(
        encoded.float(), norm.weight.shape, norm.weight, norm.bias, norm.eps
    )
    return F.linear(y.to(encoded.dtype), galr.conv1d.weight[:, :, 0])


def frame_masks(galr, rows):
    out, gate = galr.output[0], galr.output_gate[0]
    # eq. 14
    x = torch.tanh(F.linear(rows, out.weight[:, :, 0], out.bias))
    x = x * torch.sigmoid(F.linear(rows, gate.weight[:, :, 0], gate.bias))
    # eq. 15
    return F.relu(F.linear(x, galr.end_conv1x1.weight[:, :, 0]))


def decode(model, masked, tail):
    B, n, C, _ = masked.shape
    hop = model.hop
    # [B, n, C, M]: each frame's M output samples
    frames = F.linear(masked, model.decoder.weight[:, 0].t())
    first, second = frames[..., :hop], frames[..., hop:]
    # frame f's first half overlaps frame f - 1's second half
    previous = torch.cat([tail[:, None], second[:, :-1]], dim=1)
    # [B, n, C, hop] -> [B, n * hop, C]
    samples = (first + previous).permute(0, 1, 3, 2).reshape(B, n * hop, C)
    return samples, second[:, -1]

# -------------------- speechbrain_galr.nnet.streaming --------------------
import warnings

import torch
from torch import nn

frame_maps = JoinedModule()


class StreamingTasNet:

    def __init__(self, model, batch_size=1, trace=True):
        model = _unwrap(model)
        galr = _unwrap(model.masknet)
        if not getattr(galr, "causal", False):
            raise ValueError(
                "streaming needs a causal GALR (masknet causal: True, e.g. "
                "hparams/galr-causal.yaml)"
            )
        if model.training:
            raise ValueError("streaming runs a model in eval mode")
        frame_maps.check_frame_geometry(model)
        self.model, self.galr = model, galr
        self.window, self.hop = model.window, model.hop
        self.segment_size = galr.K
        self.latency_samples = galr.latency_samples(self.window, self.hop)
        self.batch_size = batch_size
        self.trace = trace and galr.attention_window is not None
        self.reset()

    def reset(self):
        B, galr = self.batch_size, self.galr
        param = galr.conv1d.weight
        D, P = param.shape[0], self.segment_size // 2
        C = galr.num_spks

        def zeros(*shape):
            return torch.zeros(shape, dtype=param.dtype, device=param.device)

        # [B, n] input from the start of the next encoder frame
        self._pending = zeros(B, 0)
        # [B, n, D_in] encoder frames not yet masked
        self._encoded = zeros(B, 0, param.shape[1])
        # [B, n, D] bottleneck frames from the start of the segment being
        # filled; the first segment starts P zero frames early (as GALR
        # pads the front of a whole signal)
        self._features = zeros(B, P, D)
        self._feature_frames = P
        # every block's keys and values of the segments attended
        globally = galr.dual_mdl[0].globally
        self._ring = AttentionRing(
            len(galr.dual_mdl),
            B,
            globally.reduced_segment_size or galr.K,
            globally.num_heads,
            D,
            galr.attention_window,
            param,
        )
        # [B, P, C*D] mask rows of the last segment's second half
        self._mask_tail = zeros(B, P, C * D)
        self._segments = 0
        # [B, C, hop] decoder overlap-add tail
        self._decoded_tail = zeros(B, C, self.hop)
        # [B, n, C] final output samples not yet returned
        self._ready = zeros(B, 0, C)
        self.received = 0
        self.emitted = 0
        context = segment_context(
            zeros(B, 1, galr.K, D), frame_pos=galr.local_layer == "attention"
        )
        self._step = SegmentStep(galr, context)
        if self.trace:
            self._step = self._step.traced(zeros(B, 1, galr.K, D), self._ring)

    def process(self, block):
        block = self._as_block(block)
        with torch.inference_mode():
            self._pending = torch.cat([self._pending, block], dim=1)
            self.received += block.shape[1]
            self._encode_full_frames()
            self._run_segments()
        return self._emit(max(0, self.received - self.latency_samples))

    def flush(self):
        T = self.received
        if T == 0:
            return self._ready[:, :0]
        window, hop, K = self.window, self.hop, self.segment_size
        frames = num_frames(T, window, hop)
        encoded = self._feature_frames - K // 2
        with torch.inference_mode():
            if frames > encoded:
                # [B, samples of the missing frames]: zeros, as TasNet pads
                need = (frames - encoded - 1) * hop + window
                self._pending = torch.nn.functional.pad(
                    self._pending, (0, need - self._pending.shape[1])
                )
            self._encode_full_frames(all_frames=True)
            # zero frames up to the last of GALR's S segments
            S = (2 * frames + K - 1) // K + 1
            missing = (S - 1) * (K // 2) + K - self._feature_frames
            self._features = torch.nn.functional.pad(
                self._features, (0, 0, 0, missing)
            )
            self._run_segments()
            # [B, C, hop] -> [B, hop, C]: the last frame's overlap-add
            # tail is final too
            tail = self._decoded_tail.transpose(1, 2)
            self._ready = torch.cat([self._ready, tail], 1)
        return self._emit(T)

    def _as_block(self, block):
        block = torch.as_tensor(block)
        if block.dim() == 1 and self.batch_size == 1:
            block = block[None]
        if block.dim() != 2 or block.shape[0] != self.batch_size:
            raise ValueError(
                f"a block must be [{self.batch_size}, n] samples, got "
                f"shape {tuple(block.shape)}"
            )
        return block.to(self._pending.dtype).to(self._pending.device)

    def _encode_full_frames(self, all_frames=False):
        window, hop = self.window, self.hop
        count = (self._pending.shape[1] - window) // hop + 1
        if count <= 0:
            return
        if not all_frames and self._features.shape[1] + count < (
            self.segment_size
        ):
            return
        # [B, count, D_in]
        encoded = frame_maps.encode(self.model, self._pending, count)
        self._pending = self._pending[:, count * hop :]
        self._encoded = torch.cat([self._encoded, encoded], dim=1)
        # [B, count, D]
        features = frame_maps.bottleneck(self.galr, encoded)
        self._features = torch.cat([self._features, features], dim=1)
        self._feature_frames += count

    def _run_segments(self):
        K = self.segment_size
        while self._features.shape[1] >= K:
            # [B, 1, K, D]
            x = self._features[:, None, :K]
            self._features = self._features[:, K // 2 :]
            rings = self._ring.prepare()
            rows = self._step(
                x, self._ring.keys, self._ring.values, *rings[0][2:]
            )
            self._ring.advance()
            self._overlap_add(rows[:, 0])

    def _overlap_add(self, rows):
        P = self.segment_size // 2
        complete = self._mask_tail + rows[:, :P]
        self._mask_tail = rows[:, P:]
        self._segments += 1
        if self._segments == 1:
            # frames -P..-1: GALR's front padding
            return
        n = min(P, self._encoded.shape[1])
        if n == 0:
            return
        B, C = self.batch_size, self.galr.num_spks
        # [B, n, C, D]
        complete = complete[:, :n].view(B, n, C, -1)
        masks = frame_maps.frame_masks(self.galr, complete)
        # [B, n, C, D_in]: masks times the encoder frames (eq. 16)
        masked = masks * self._encoded[:, :n, None]
        self._encoded = self._encoded[:, n:]
        samples, self._decoded_tail = frame_maps.decode(
            self.model, masked, self._decoded_tail
        )
        self._ready = torch.cat([self._ready, samples], dim=1)

    def _emit(self, until):
        count = until - self.emitted
        if count > self._ready.shape[1]:
            raise RuntimeError(
                f"stream output {self.emitted}+{count} is not ready "
                f"({self._ready.shape[1]} samples)"
            )
        out = self._ready[:, :count]
        self._ready = self._ready[:, count:]
        self.emitted += count
        return out


class SegmentStep(nn.Module):

    def __init__(self, galr, context):
        super().__init__()
        self.galr = galr
        self.context = context

    def forward(self, x, keys, values, slot, bias):
        for block, key, value in zip(self.galr.dual_mdl, keys, values):
            x = block.forward_step(x, (key, value, slot, bias), self.context)
        return self.galr.mask_rows(x)

    def traced(self, x, ring):
        keys = [k.clone() for k in ring.keys]
        values = [v.clone() for v in ring.values]
        inputs = (x, keys, values, ring.slot.clone(), ring.bias.clone())
        with torch.inference_mode(False), torch.no_grad():
            with warnings.catch_warnings():
                # torch 2.11 marks TorchScript deprecated (for torch.compile,
                # whose compile takes far longer than a stream's set-up)
                warnings.simplefilter("ignore", DeprecationWarning)
                traced = torch.jit.trace(self.eval(), inputs, check_trace=False)
                frozen = torch.jit.freeze(traced)
                return torch.jit.optimize_for_inference(frozen)

# -------------------- speechbrain_galr.inference.streaming --------------------
import time

import torch



class StreamSeparator:

    def __init__(self, model, sample_rate, trace=True):
        try:
            self.stream = StreamingTasNet(model, trace=trace)
        except ValueError as err:
            raise GALRError(f"cannot stream this model: {err}") from err
        self.sample_rate = sample_rate
        self.compute_seconds = 0.0

    @property
    def latency_samples(self):
        return self.stream.latency_samples

    @property
    def latency_ms(self):
        return 1000 * self.latency_samples / self.sample_rate

    @property
    def received_seconds(self):
        return self.stream.received / self.sample_rate

    @property
    def real_time_factor(self):
        return self.compute_seconds / max(self.received_seconds, 1e-9)

    def process(self, block):
        start = time.perf_counter()
        try:
            out = self.stream.process(torch.as_tensor(block))[0]
        except ValueError as err:
            raise GALRError(str(err)) from err
        self.compute_seconds += time.perf_counter() - start
        return out

    def flush(self):
        start = time.perf_counter()
        out = self.stream.flush()[0]
        self.compute_seconds += time.perf_counter() - start
        return out

    def reset(self):
        self.stream.reset()
        self.compute_seconds = 0.0

# -------------------- speechbrain_galr.inference.user_paths --------------------
import hashlib
import os

HUB_TIMEOUT_S = 5.0
"""Seconds the hub look-up of :func:`resolve_source` may take."""


def looks_local(path, hub_parts):
    if "://" in path:
        return False
    if path.startswith((".", "/", "~")) or "\\" in path:
        return True
    parts = path.split("/")
    if len(parts) != hub_parts or not all(parts):
        return True
    return os.path.exists(parts[0])


def _check_hub_entry(path, hub_parts):
    from huggingface_hub import HfApi, constants, errors

    if constants.HF_HUB_OFFLINE:
        return None  # the fetcher reads the local cache
    parts = path.split("/")
    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        info = HfApi().model_info(repo, timeout=HUB_TIMEOUT_S)
    except errors.RepositoryNotFoundError:
        return f"no hub repository {repo}"
    except Exception as err:  # network errors of several libraries
        return f"the hub could not be reached ({type(err).__name__}: {err})"
    names = {s.rfilename for s in info.siblings or []}
    if hub_parts == 3 and filename not in names:
        return f"hub repository {repo} has no file {filename}"
    return None


def resolve_source(path, what="model folder", error=FileNotFoundError):
    path = os.fspath(path)
    if os.path.exists(path) or "://" in path:
        return path
    hub_parts = 3 if what == "audio file" else 2
    if looks_local(path, hub_parts):
        raise error(f"{what} not found: {path}")
    problem = _check_hub_entry(path, hub_parts)
    if problem is not None:
        raise error(
            f"{what} not found: {path} (no such local path; as a hub id: "
            f"{problem})"
        )
    return path


def url_download_folder(url, savedir=None):
    if savedir is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache"
        )
        savedir = os.path.join(cache, "speechbrain_galr", "downloads")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return os.path.join(os.fspath(savedir), digest)

# -------------------- speechbrain_galr.inference.separator --------------------
import os

import torch
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.data_utils import split_path
from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch
from speechbrain.utils.logger import get_logger

file_separation = JoinedModule()

logger = get_logger(__name__)
URL_FETCH = FetchConfig(overwrite=True)


def _peak_normalize(sources, eps=1e-8):
    peak = sources.abs().amax(dim=1, keepdim=True)
    return sources / peak.clamp(min=eps)


class GALRSeparation(Pretrained):

    HPARAMS_NEEDED = ["sample_rate", "num_spks"]
    MODULES_NEEDED = ["model"]
    """The :class:`speechbrain_galr.nnet.tasnet.TasNet`; ``from_hparams`` is
    SpeechBrain's own: the ``pretrainer`` of a hub folder loads
    ``encoder.ckpt``, ``masknet.ckpt``, ``decoder.ckpt`` from ``source``."""

    chunk_seconds = DEFAULT_CHUNK_SECONDS
    """Chunk length of chunked separation; inputs up to this length are
    separated whole by :meth:`separate_file`."""
    overlap_seconds = 2.0
    """Samples shared by consecutive chunks, in seconds."""

    def __init__(self, modules=None, hparams=None, run_opts=None, **kwargs):
        super().__init__(modules, hparams, resolve_run_opts(run_opts), **kwargs)
        self._num_sources = None
        self._onnx_model = None

    @classmethod
    def from_hparams(
        cls,
        source,
        hparams_file="hyperparams.yaml",
        savedir=None,
        run_opts=None,
        overrides=None,
        backend="torch",
        onnx_threads=None,
        **kwargs,
    ):
        raise ImportError("this needs the speechbrain_galr package (pip install speechbrain-galr); custom_interface.py holds only what separating with a hub folder needs")

        if hparams_file != HPARAMS_FILE or kwargs:
            if backend != "torch":
                raise ValueError(f"backend {backend!r} needs {HPARAMS_FILE}")
            raise ImportError("this needs the speechbrain_galr package (pip install speechbrain-galr); custom_interface.py holds only what separating with a hub folder needs")

            source = resolve_source(source, "model folder")
            prepare_savedir(source, savedir)
            return super().from_hparams(
                source,
                hparams_file,
                savedir=savedir,
                run_opts=run_opts,
                overrides=overrides or {},
                **kwargs,
            )
        return load_pretrained(
            cls, source, savedir, run_opts, overrides, backend, onnx_threads
        )

    @property
    def sample_rate(self):
        return int(self.hparams.sample_rate)

    @property
    def num_sources(self):
        if self._num_sources is None:
            model = self._model()
            found = getattr(model, "num_spks", None)  # OnnxTasNet
            if found is None:
                found = model.masknet.num_spks
            self._num_sources = int(found)
            if self._num_sources != int(self.hparams.num_spks):
                logger.warning(
                    f"warning: the model's hyperparams.yaml says num_spks: "
                    f"{self.hparams.num_spks}, but the model gives "
                    f"{self._num_sources} sources; writing all "
                    f"{self._num_sources}"
                )
        return self._num_sources

    def separate_batch(self, mix, lengths=None):
        mix, lengths = checked_mixtures(mix, lengths)
        mix = mix.to(self.device, torch.float32)
        if lengths is not None:
            lengths = lengths.to(self.device)
        with torch.no_grad(), self.inference_ctx:
            est = self._model()(mix, lengths)
        return est.float()

    def use_onnxruntime(self, path, threads=None):
        raise ImportError("this needs the speechbrain_galr package (pip install speechbrain-galr); custom_interface.py holds only what separating with a hub folder needs")

        self._onnx_model = OnnxTasNet(path, threads=threads)
        self._num_sources = None
        return self

    def _model(self):
        if self._onnx_model is not None:
            return self._onnx_model
        if "model" in self.mods:
            return self.mods.model
        return TasNet(self.mods.encoder, self.mods.masknet, self.mods.decoder)

    def separate_chunked(
        self, mix, chunk_seconds=None, overlap_seconds=None, progress=None
    ):
        mix, _ = checked_mixtures(mix)  # [B, T], not empty, finite
        chunked = self.chunked_separator(
            mix.shape[1],
            self.chunking(chunk_seconds, overlap_seconds),
            progress,
        )
        return chunked.separate(mix)

    def chunking(self, chunk_seconds=None, overlap_seconds=None):
        if isinstance(chunk_seconds, ChunkSettings):
            return chunk_seconds
        if chunk_seconds is None:
            chunk_seconds = self.chunk_seconds
            if overlap_seconds is None:
                overlap_seconds = self.overlap_seconds
        return ChunkSettings(chunk_seconds, overlap_seconds)

    def chunked_separator(self, total, settings, progress=None):
        chunk, overlap = settings.samples(self.sample_rate)
        if progress is None:
            progress = shows_progress(total, chunk, overlap)
        return ChunkedSeparator(
            self.separate_batch, chunk, overlap, total=total, progress=progress
        )

    @staticmethod
    def _fetch(path, savedir):
        if not isinstance(path, (str, os.PathLike)):
            raise AudioInputError(
                f"an audio file path is expected, got {type(path).__name__} "
                "(separate samples with separate_batch)"
            )
        path = os.fspath(path)
        if os.path.exists(path):
            return path  # a local file: nothing to resolve
        path = resolve_source(path, "audio file", AudioNotFoundError)
        source, filename = split_path(path)
        config = FetchConfig()
        if "://" in path:  # downloaded afresh into a folder of its own
            savedir, config = url_download_folder(path, savedir), URL_FETCH
        try:
            local = fetch(
                filename,
                source=source,
                savedir=savedir,
                local_strategy=LocalStrategy.SYMLINK,
                fetch_config=config,
            )
        except Exception as err:
            raise AudioNotFoundError(
                f"audio file not found: {path} (fetching it failed: {err})"
            ) from err
        return str(local)

    def separate_file(
        self, path, savedir=None, chunk_seconds=None, normalize=True
    ):
        signal = read_audio(self._fetch(path, savedir), self.sample_rate)
        # [1, T]
        mix = signal[None].to(self.device)
        settings = self.chunking(chunk_seconds)
        chunk, _ = settings.samples(self.sample_rate)
        if mix.shape[1] <= chunk:
            est = self.separate_batch(mix)
        else:
            est = self.separate_chunked(mix, settings)
        return _peak_normalize(est) if normalize else est

    def separate_file_to_folder(
        self,
        path,
        out_dir,
        chunk_seconds=None,
        overlap_seconds=None,
        block_seconds=30.0,
        progress=None,
        overwrite=False,
        scale="peak",
        plot=False,
    ):
        path = self._fetch(path, None)
        outputs = out_dir
        if not isinstance(outputs, OutputSet):
            outputs = OutputSet(out_dir, input_name(path), overwrite, plot)
        chunk, overlap = self.chunking(chunk_seconds, overlap_seconds).samples(
            self.sample_rate
        )
        return file_separation.separate_file_to_folder(
            self.separate_batch,
            self.sample_rate,
            path,
            outputs,
            chunk,
            overlap,
            device=self.device,
            progress=progress,
            block_seconds=block_seconds,
            scale=scale,
        )

    def separate_with_attention(self, mix):
        masknet = self._model().masknet
        if not hasattr(masknet, "keep_attention"):
            raise TypeError(
                f"the mask network ({type(masknet).__name__}) does not keep "
                "attention weights; a GALR mask network does"
            )
        masknet.keep_attention(True)
        try:
            est = self.separate_batch(mix)
            attention = [a.cpu() for a in masknet.attention_weights()]
        finally:
            masknet.keep_attention(False)
        return est, attention

    def stream(self):
        if self._onnx_model is not None:
            raise GALRError("streaming runs the torch backend, not onnxruntime")
        return StreamSeparator(self._model(), self.sample_rate)

    def forward(self, mix):
        return self.separate_batch(mix)


def load_model(source, savedir=None, run_opts=None, backend="torch"):
    return GALRSeparation.from_hparams(
        source, savedir=savedir, run_opts=run_opts, backend=backend
    )

# -------------------- package names --------------------

def register_package_modules(namespace, module_names):
    """Makes ``namespace`` importable under the package's module names.

    Called by the generated ``custom_interface.py`` when the package is
    not installed, so that ``!new:speechbrain_galr.nnet.galr.GALR`` in
    ``hyperparams.yaml`` finds the classes defined in the file.
    """
    import types

    def package(name):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = []  # a package (its submodules are set below)
            sys.modules[name] = module
            if "." in name:
                parent, _, leaf = name.rpartition(".")
                setattr(package(parent), leaf, module)
        return sys.modules[name]

    for name in module_names:
        module = types.ModuleType(name)
        module.__dict__.update(namespace)
        module.__name__ = name
        sys.modules[name] = module
        parent, _, leaf = name.rpartition(".")
        setattr(package(parent), leaf, module)


try:
    import speechbrain_galr  # noqa: F401
except ImportError:
    register_package_modules(dict(globals()), ['speechbrain_galr.nnet.attention_ring', 'speechbrain_galr.nnet.segments', 'speechbrain_galr.nnet.attention', 'speechbrain_galr.nnet.galr_layers', 'speechbrain_galr.nnet.galr', 'speechbrain_galr.nnet.tasnet', 'speechbrain_galr.atomic_files', 'speechbrain_galr.errors', 'speechbrain_galr.audio', 'speechbrain_galr.metrics', 'speechbrain_galr.inference.chunked', 'speechbrain_galr.inference.output_scale', 'speechbrain_galr.inference.output_set', 'speechbrain_galr.inference.file_separation', 'speechbrain_galr.inference.mixture_input', 'speechbrain_galr.devices', 'speechbrain_galr.inference.run_options', 'speechbrain_galr.nnet.frame_maps', 'speechbrain_galr.nnet.streaming', 'speechbrain_galr.inference.streaming', 'speechbrain_galr.inference.user_paths', 'speechbrain_galr.inference.separator'])
