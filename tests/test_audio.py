"""Tests of ``speechbrain_galr.audio``: block resampling."""

import math

import pytest
import torch

from speechbrain_galr.audio import StreamResampler, resample


@pytest.mark.parametrize(
    "orig, new", [(44100, 8000), (16000, 8000), (8000, 44100), (8000, 8000)]
)
@pytest.mark.parametrize("length, block", [(1013, 50), (22063, 777)])
def test_stream_resampler_equals_whole_resampling(orig, new, length, block):
    signal = torch.randn(length, 2)  # [T, channels]
    resampler = StreamResampler(orig, new, channels=2)
    out = [resampler.push(b) for b in signal.split(block)]
    out = torch.cat(out + [resampler.flush()])
    whole = resample(signal, orig, new)
    assert out.shape == whole.shape
    assert out.shape[0] == math.ceil(signal.shape[0] * new / orig)
    torch.testing.assert_close(out, whole, atol=2e-5, rtol=0)
