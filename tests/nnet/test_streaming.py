"""StreamingTasNet: a causal GALR block by block gives the whole-signal
causal model's output (fp32, within 1e-5) for any block size, with a
constant delay and a state that does not grow with the stream."""

import pytest
import torch
from test_causal_galr import CONFIGS, causal_model

from speechbrain_galr.nnet.streaming import StreamingTasNet


def stream_through(stream, mix, sizes):
    """Feeds ``mix`` ``[B, T]`` in blocks of ``sizes`` (an int, or a
    generator of random sizes); returns the output and each block's
    output length."""
    outputs, lengths, start = [], [], 0
    while start < mix.shape[1]:
        size = sizes if isinstance(sizes, int) else next(sizes)
        out = stream.process(mix[:, start : start + size])
        outputs.append(out)
        lengths.append((min(start + size, mix.shape[1]), out.shape[1]))
        start += size
    outputs.append(stream.flush())
    return torch.cat(outputs, dim=1), lengths


def random_sizes(seed=3):
    generator = torch.Generator().manual_seed(seed)
    while True:
        yield int(torch.randint(1, 900, (1,), generator=generator))


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("block", [1, 80, 8000, "random"])
def test_stream_equals_whole_signal_model(config, block):
    model = causal_model(**config)
    # a 1 s block: several of them; else 0.5 s
    length = 20123 if block == 8000 else 4123
    mix = torch.randn(1, length, generator=torch.Generator())
    with torch.no_grad():
        whole = model(mix)
    stream = StreamingTasNet(model)
    sizes = random_sizes() if block == "random" else block
    streamed, lengths = stream_through(stream, mix, sizes)
    assert streamed.shape == whole.shape
    assert float((streamed - whole).abs().max()) <= 1e-5
    # constant delay: after n input samples, n - latency output samples
    emitted = 0
    for received, count in lengths:
        emitted += count
        assert emitted == max(0, received - stream.latency_samples)


@pytest.mark.parametrize("trace", [True, False])
def test_traced_and_eager_steps_give_the_whole_signal_output(trace):
    """The frozen TorchScript step (the default with a window) and eager
    PyTorch compute the same."""
    model = causal_model(**CONFIGS[2])
    mix = torch.randn(1, 2500)
    with torch.no_grad():
        whole = model(mix)
    stream = StreamingTasNet(model, trace=trace)
    assert stream.trace == trace
    streamed, _ = stream_through(stream, mix, 80)
    assert float((streamed - whole).abs().max()) <= 1e-5


def test_streams_of_a_batch_are_separated_side_by_side():
    model = causal_model(**CONFIGS[0])
    mix = torch.randn(2, 3001)
    with torch.no_grad():
        whole = model(mix)
    streamed, _ = stream_through(StreamingTasNet(model, batch_size=2), mix, 77)
    assert float((streamed - whole).abs().max()) <= 1e-5


def test_short_streams_and_reset():
    """A stream shorter than the encoder window, an empty one, and a
    second stream after reset() (the state starts afresh)."""
    model = causal_model(**CONFIGS[0])
    stream = StreamingTasNet(model)
    assert stream.flush().shape == (1, 0, 2)
    for length in (3, 700):
        stream.reset()
        mix = torch.randn(1, length)
        with torch.no_grad():
            whole = model(mix)
        streamed, _ = stream_through(stream, mix, 50)
        assert float((streamed - whole).abs().max()) <= 1e-5


def _state_size(stream):
    tensors = [
        stream._pending,
        stream._encoded,
        stream._features,
        stream._mask_tail,
        stream._decoded_tail,
        stream._ready,
    ]
    tensors += stream._ring.keys + stream._ring.values + [stream._ring.bias]
    return sum(t.numel() for t in tensors)


def test_state_does_not_grow_with_the_stream():
    """With an attention window, the state of a stream of 10 s is no
    larger in its second half than in its first (the benchmark measures
    memory and time per block over 30 minutes)."""
    model = causal_model(window=16, K=20, Q=4, W=3, local="lstm")
    stream = StreamingTasNet(model)
    sizes = []
    for _ in range(100):
        stream.process(torch.randn(800))
        sizes.append(_state_size(stream))
    assert max(sizes[50:]) <= max(sizes[:50])


def test_refuses_offline_models_training_mode_and_bad_blocks():
    with pytest.raises(ValueError, match="needs a causal GALR"):
        StreamingTasNet(causal_model(**CONFIGS[0], causal=False))
    with pytest.raises(ValueError, match="eval mode"):
        StreamingTasNet(causal_model(**CONFIGS[0]).train())
    stream = StreamingTasNet(causal_model(**CONFIGS[0]))
    with pytest.raises(ValueError, match=r"a block must be \[1, n\]"):
        stream.process(torch.zeros(2, 10))
