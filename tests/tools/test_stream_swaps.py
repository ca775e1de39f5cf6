"""tools/stream_swaps.py: a swap is a change of the best output order
between windows where both speakers are active."""

import torch
from tool_runner import load_tool

swaps = load_tool("stream_swaps")


def test_window_orders_find_the_order_of_each_window():
    generator = torch.Generator().manual_seed(0)
    references = torch.randn(8000, 2, generator=generator)
    estimates = references.clone()
    estimates[4000:] = references[4000:].flip(-1)  # swapped from 0.5 s on
    orders = swaps.window_orders(references, estimates, 1000)
    assert orders == [0, 0, 0, 0, 1, 1, 1, 1]


def test_windows_with_one_silent_speaker_are_left_out():
    references = torch.randn(4000, 2, generator=torch.Generator())
    references[:2000, 1] = 0
    orders = swaps.window_orders(references, references, 1000)
    assert orders == [0, 0]


def test_windows_without_a_clear_order_are_left_out():
    """Where the estimates are half of each reference, neither order wins
    by 3 dB: the window says nothing about swaps."""
    references = torch.randn(2000, 2, generator=torch.Generator())
    mixed = references.sum(-1, keepdim=True).expand(-1, 2)
    assert swaps.window_orders(references, mixed, 1000) == []
