"""The padded-batch contract between TasNet and its mask network: GALR
gets integer frame counts; SpeechBrain's relative lengths still work."""

import torch
from speechbrain.lobes.models.dual_path import Decoder, Encoder

from speechbrain_galr.nnet.galr import GALR
from speechbrain_galr.nnet.tasnet import TasNet, length_keyword, num_frames


def tiny_tasnet():
    torch.manual_seed(0)
    return TasNet(
        Encoder(kernel_size=16, out_channels=16),
        GALR(16, 16, 8, num_blocks=1, segment_size=10, reduced_segment_size=4),
        Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    ).eval()


def test_galr_takes_frame_counts_and_relative_lengths_alike():
    model = tiny_tasnet()
    assert length_keyword(model.masknet) == "frame_counts"
    x = torch.randn(3, 16, 57)  # [B, D, L]
    counts = torch.tensor([57, 30, 7])
    with torch.no_grad():
        by_counts = model.masknet(x, frame_counts=counts)
        by_lengths = model.masknet(x, lengths=counts / 57)
    assert torch.equal(by_counts, by_lengths)


def test_tasnet_passes_each_items_frame_count(monkeypatch):
    model = tiny_tasnet()
    seen = {}
    forward = model.masknet.forward

    def spy(x, lengths=None, frame_counts=None):
        seen.update(lengths=lengths, frame_counts=frame_counts)
        return forward(x, lengths=lengths, frame_counts=frame_counts)

    monkeypatch.setattr(model.masknet, "forward", spy)
    mix = torch.randn(2, 1001)
    with torch.no_grad():
        model(mix, torch.tensor([1.0, 0.5]))
    assert seen["lengths"] is None
    expected = num_frames(torch.tensor([1001, 500]), 16, 8)
    assert torch.equal(seen["frame_counts"], expected)


def test_a_masknet_without_the_keyword_gets_relative_lengths():
    class Relative(torch.nn.Module):
        def forward(self, x, lengths=None):
            return x[None]

    assert length_keyword(Relative()) == "lengths"
    assert length_keyword(torch.nn.Identity()) is None
