"""The causal GALR (``causal=True``): no output sample depends on input
more than ``latency_samples`` ahead, the stated latency is reached, the
options a causal model cannot take are refused, and the offline model is
unchanged."""

import pytest
import torch
from speechbrain.lobes.models.dual_path import Decoder, Encoder

from speechbrain_galr.nnet.galr import GALR
from speechbrain_galr.nnet.segments import causal_attention_bias
from speechbrain_galr.nnet.tasnet import TasNet

CONFIGS = [
    # window M, segment K, rows Q, attention window W, local layer
    dict(window=16, K=10, Q=4, W=3, local="lstm"),
    dict(window=8, K=20, Q=None, W=None, local="lstm"),
    dict(window=8, K=8, Q=2, W=5, local="attention"),
]


def causal_model(window, K, Q, W, local, causal=True, seed=0):
    torch.manual_seed(seed)
    return TasNet(
        Encoder(kernel_size=window, out_channels=16),
        GALR(
            16,
            16,
            8,
            num_blocks=2,
            num_heads=2,
            segment_size=K,
            reduced_segment_size=Q,
            local_layer=local,
            local_norm="segment",
            global_norm="segment",
            causal=causal,
            attention_window=W if causal else None,
        ),
        Decoder(16, 1, kernel_size=window, stride=window // 2, bias=False),
    ).eval()


def latency(model):
    return model.masknet.latency_samples(model.window, model.hop)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_no_output_depends_on_input_beyond_the_latency(config):
    """Changing the input from sample t on changes no output sample
    before t - latency, for random t."""
    model = causal_model(**config)
    lag = latency(model)
    generator = torch.Generator().manual_seed(1)
    mix = torch.randn(1, 1500, generator=generator)
    with torch.no_grad():
        reference = model(mix)
        for t in torch.randint(lag + 1, 1500, (5,), generator=generator):
            changed = mix.clone()
            changed[:, t:] = torch.randn(1, 1500 - t, generator=generator)
            diff = (model(changed) - reference).abs().amax(dim=(0, 2))
            assert float(diff[: t - lag].max()) == 0.0, (int(t), lag)
            # and the change does reach the output (it is not ignored)
            assert float(diff[t - lag :].max()) > 0


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_the_stated_latency_is_reached(config):
    """At the first sample of a segment hop, the output depends on the
    input exactly ``latency_samples`` later: the latency is not an
    overestimate."""
    model = causal_model(**config)
    lag = latency(model)
    segment_hop = model.masknet.K // 2 * model.hop
    n = 3 * segment_hop  # an output sample at the start of a segment hop
    mix = torch.randn(1, n + lag + 200, generator=torch.Generator())
    with torch.no_grad():
        reference = model(mix)
        changed = mix.clone()
        changed[:, n + lag] += 1.0
        diff = (model(changed) - reference).abs().amax(dim=(0, 2))
    assert float(diff[n]) > 0
    assert float(diff[:n].max()) == 0.0


def test_latency_formula_of_the_shipped_configs():
    """(K - 1) * hop + window - 1 samples: 62.9 ms and 18.9 ms at 8 kHz
    for hparams/galr-causal.yaml and galr-causal-20ms.yaml."""
    assert GALR(8, 8, segment_size=62, causal=True).latency_samples(
        16, 8
    ) == pytest.approx(0.064 * 8000, abs=10)
    assert GALR(8, 8, segment_size=62, causal=True).latency_samples(16, 8) == (
        503
    )
    assert GALR(8, 8, segment_size=18, causal=True).latency_samples(16, 8) == (
        151
    )
    assert GALR(8, 8).latency_samples(16, 8) is None


def test_padded_batch_items_get_their_own_outputs():
    """A causal model's padded batch gives each item what it gets alone."""
    model = causal_model(**CONFIGS[0])
    mix = torch.randn(2, 1200)
    with torch.no_grad():
        batch = model(mix, torch.tensor([1.0, 0.5]))
        alone = model(mix[1:, :600])
    torch.testing.assert_close(batch[1, :600], alone[0], atol=1e-5, rtol=0)


def test_attention_mask_is_causal_and_windowed():
    bias = causal_attention_bias(6, window=3)
    allowed = bias == 0
    for query in range(6):
        assert allowed[query].nonzero().flatten().tolist() == list(
            range(max(0, query - 2), query + 1)
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(causal=True), "local_norm and global_norm 'segment'"),
        (
            dict(
                causal=True,
                local_norm="segment",
                global_norm="segment",
                global_layer="lstm",
            ),
            "global_layer 'attention'",
        ),
        (dict(attention_window=4), "needs causal=True"),
        (
            dict(causal=True, attention_window=0, local_norm="segment"),
            "positive integer",
        ),
    ],
)
def test_options_a_causal_model_cannot_take_are_refused(kwargs, message):
    kwargs.setdefault("local_norm", "utterance")
    with pytest.raises(ValueError, match=message):
        GALR(16, 16, 8, segment_size=10, **kwargs)


def test_the_offline_model_is_unchanged_by_the_options():
    """causal=False (the default) builds the same parameters and gives the
    same output as a model built without the options; a causal model of
    the same size has the same parameters (it only computes differently)."""
    offline = causal_model(**CONFIGS[0], causal=False)
    causal = causal_model(**CONFIGS[0])
    torch.manual_seed(0)
    plain = TasNet(
        Encoder(kernel_size=16, out_channels=16),
        GALR(
            16,
            16,
            8,
            num_blocks=2,
            num_heads=2,
            segment_size=10,
            reduced_segment_size=4,
            local_norm="segment",
            global_norm="segment",
        ),
        Decoder(16, 1, kernel_size=16, stride=8, bias=False),
    ).eval()
    names = [n for n, _ in plain.named_parameters()]
    assert [n for n, _ in offline.named_parameters()] == names
    assert [n for n, _ in causal.named_parameters()] == names
    mix = torch.randn(2, 900)
    with torch.no_grad():
        assert torch.equal(offline(mix), plain(mix))
