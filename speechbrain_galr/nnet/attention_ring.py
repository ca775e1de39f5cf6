"""The attention memory of a stream: keys and values in a ring.

A causal GALR streamed segment by segment
(:mod:`speechbrain_galr.nnet.streaming`) attends, in every block, from the
newest segment to itself and the earlier segments of its window (eq. 5-9
with the causal mask).  :class:`AttentionRing` keeps the keys and values
(eq. 6-7) of those segments for every block, in the layout
:func:`~torch.nn.functional.scaled_dot_product_attention` reads, with an
additive mask of the filled places; :func:`attend_ring` writes the newest
segment's keys and values over the oldest, in place, and attends.  A step
is then a function of fixed-shape tensors, which the stream traces once
(TorchScript) to cut the dispatch cost of its small operations.

The order of the places does not matter: attention sums over them, and a
causal GALR encodes no position.

Authors
 * speechbrain-galr contributors 2026
"""

import torch
import torch.nn.functional as F


def attend_ring(g, key, value, slot, bias, in_proj, out_proj, num_heads):
    """Eq. 5-9 for the rows of the newest position of a stream.

    Arguments
    ---------
    g : torch.Tensor
        ``[B, 1, M, D]`` rows of the new position.
    key, value : torch.Tensor
        ``[B, M*J, N, D/J]`` stored keys and values; the new position's
        are written at ``slot`` (in place).
    slot : torch.Tensor
        ``[1]`` int64: the place of the new position.
    bias : torch.Tensor
        ``[1, 1, 1, N]`` float: 0 for filled places (``slot`` included),
        -inf for empty ones.
    in_proj, out_proj : torch.nn.Linear
        ``D -> 3D`` query, key and value projections and eq. 9's output.
    num_heads : int
        Heads J.

    Returns
    -------
    torch.Tensor
        ``[B, 1, M, D]``.

    Example
    -------
    >>> proj, out = torch.nn.Linear(16, 48), torch.nn.Linear(16, 16)
    >>> ring = AttentionRing(1, 2, 3, 4, 16, window=5, like=torch.ones(1))
    >>> ring.prepare()
    >>> attend_ring(torch.randn(2, 1, 3, 16), ring.keys[0], ring.values[0],
    ...             ring.slot, ring.bias, proj, out, 4).shape
    torch.Size([2, 1, 3, 16])
    """
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
    """Every block's keys and values of the last ``window`` segments.

    Arguments
    ---------
    layers : int
        Attentive blocks.
    batch, rows, num_heads, dim : int
        B, rows (Q or K), J and D of the attended ``[B, N, rows, D]``.
    window : int or None
        Positions kept; None: all (the store doubles when full, and a
        stream's memory grows).
    like : torch.Tensor
        Gives the dtype and device.

    Example
    -------
    >>> ring = AttentionRing(2, 1, 3, 4, 16, window=5, like=torch.ones(1))
    >>> for _ in range(7):
    ...     ring.prepare()
    ...     ring.advance()
    >>> ring.keys[0].shape, ring.filled  # [B, rows*J, window, D/J]
    (torch.Size([1, 12, 5, 4]), 5)
    """

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
        """Makes room for the next position (doubling an unbounded store
        that is full) and opens its place: ``slot`` and ``bias`` then
        describe the step to come."""
        capacity = self.bias.shape[-1]
        if self.window is None and self._next == capacity:
            self.keys = [_doubled(k, 0.0, 2) for k in self.keys]
            self.values = [_doubled(v, 0.0, 2) for v in self.values]
            self.bias = _doubled(self.bias, float("-inf"), 3)
        self.slot.fill_(self._next)
        self.bias[..., self._next] = 0.0

    def advance(self):
        """Moves on after a step: the next position overwrites the oldest
        once the window is full."""
        self.filled = min(self.filled + 1, self.window or self.filled + 1)
        self._next += 1
        if self.window is not None:
            self._next %= self.window


def _doubled(store, fill, axis):
    """``store`` with as many places again on ``axis``, set to ``fill``."""
    return torch.cat([store, torch.full_like(store, fill)], dim=axis)
