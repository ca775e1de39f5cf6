"""Tests of the GALR modules (paper Section 2) and the TasNet forward pass."""

import os
import time

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

import speechbrain_galr
from speechbrain_galr.galr import GloballyAttentiveLayer
from speechbrain_galr.tasnet import check_mixtures

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")


def load_model(**overrides):
    """The example model file, with overrides."""
    with open(MODEL_YAML) as fin:
        return load_hyperpyyaml(fin, overrides)


def tiny(num_spks=2, reduced=4, dropout=0.0, seed=0):
    """A small TasNet (encoder, GALR, decoder) for fast tests."""
    torch.manual_seed(seed)
    return load_model(
        num_filters=32,
        hidden_channels=16,
        num_blocks=2,
        num_heads=4,
        segment_size=10,
        reduced_segment_size=reduced,
        num_spks=num_spks,
        dropout=dropout,
    )


def run(hparams, mix, lengths=None):
    return hparams["model"](mix, lengths)


def num_params(hparams):
    return sum(
        p.numel() for m in hparams["modules"].values() for p in m.parameters()
    )


@pytest.mark.parametrize(
    "overrides, paper_size",
    [
        ({}, 1.5e6),  # D=64, M=16, K=100, Q=32
        (
            dict(
                num_filters=128,
                window_length=8,
                segment_size=150,
                reduced_segment_size=16,
            ),
            2.3e6,
        ),
    ],
)
def test_parameter_counts_match_table_3(overrides, paper_size):
    count = num_params(load_model(**overrides))
    assert abs(count - paper_size) / paper_size < 0.05, count


@pytest.mark.parametrize("num_spks", [2, 3])
@pytest.mark.parametrize("length", [1, 7, 8, 100, 163, 999, 2001])
def test_output_has_input_length(num_spks, length):
    # 2001 samples is not a multiple of the hop (8); 100 samples make 12
    # frames, shorter than one segment (10 frames x hop); 1 sample is
    # shorter than one window
    hparams = tiny(num_spks)
    est = run(hparams, torch.randn(2, length))
    assert est.shape == (2, length, num_spks)
    assert torch.isfinite(est).all()


def test_full_segment_form_without_low_dimension_map():
    hparams = tiny(reduced=None)
    masknet = hparams["masknet"]
    assert not hasattr(masknet.dual_mdl[0].globally, "c_map")
    assert run(hparams, torch.randn(1, 1234)).shape == (1, 1234, 2)


def test_padded_batch_matches_items_alone_in_eval():
    hparams = tiny(num_spks=3)
    for module in hparams["modules"].values():
        module.eval()
    lengths = [1600, 1013, 377, 40]
    mix = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        mix[i, :n] = torch.randn(n)
    rel = torch.tensor(lengths, dtype=torch.float) / max(lengths)
    with torch.no_grad():
        batch = run(hparams, mix, rel)
        for i, n in enumerate(lengths):
            alone = run(hparams, mix[i : i + 1, :n])
            torch.testing.assert_close(
                batch[i, :n], alone[0], atol=1e-5, rtol=1e-4
            )
            if n < max(lengths):
                assert batch[i, n:].abs().max().item() == 0


def test_every_parameter_gets_a_gradient():
    hparams = tiny(num_spks=2)
    est = run(hparams, torch.randn(2, 1500))
    est.pow(2).mean().backward()
    for name, module in hparams["modules"].items():
        for pname, p in module.named_parameters():
            assert p.grad is not None, f"{name}.{pname} has no gradient"
            assert p.grad.abs().sum() > 0, f"{name}.{pname} gradient is 0"


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(2, 32, 50), "3-D tensor"),  # [B, D, L] given to separate
        (torch.randn(1000), "3-D tensor"),  # missing batch axis
        (torch.randn(2, 0), "empty"),
        (torch.tensor([[0.0, float("nan"), 1.0] * 100]), "NaN or Inf"),
        (torch.tensor([[0.0, float("inf"), 1.0] * 100]), "NaN or Inf"),
    ],
)
def test_bad_input_raises_a_clear_error(bad, message):
    hparams = tiny()
    with pytest.raises(ValueError, match=r"\[B, T\]|empty|NaN"):
        check_mixtures(bad)
    masknet = hparams["masknet"]
    if bad.dim() != 2:
        with pytest.raises(ValueError, match=message):
            masknet(bad if bad.dim() != 3 else bad[:, :, :, None])


def test_masknet_names_wrong_channels_and_non_finite_features():
    masknet = tiny()["masknet"]
    with pytest.raises(ValueError, match="32 channels"):
        masknet(torch.rand(1, 16, 100))
    features = torch.rand(1, 32, 100)
    features[0, 3, 7] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        masknet(features)
    with pytest.raises(ValueError, match="relative lengths"):
        masknet(torch.rand(2, 32, 100), lengths=torch.tensor([1.0, 1.5]))


def test_attention_weights_can_be_kept():
    hparams = tiny()
    masknet = hparams["masknet"].eval()
    masknet.keep_attention()
    with torch.no_grad():
        run(hparams, torch.randn(1, 2000))
    weights = masknet.attention_weights()
    assert len(weights) == 2
    # [B, Q, J, S, S] with S = ceil(2 * 249 / 10) + 1 = 51; rows sum to one
    assert weights[0].shape == (1, 4, 4, 51, 51)
    torch.testing.assert_close(
        weights[0].sum(-1), torch.ones_like(weights[0].sum(-1))
    )
    masknet.keep_attention(False)
    with torch.no_grad():
        run(hparams, torch.randn(1, 2000))
    assert masknet.attention_weights() == [None, None]


def test_explicit_and_fused_attention_agree():
    layer = GloballyAttentiveLayer(16, 4, 10, 4, dropout=0.0).eval()
    x = torch.randn(2, 7, 10, 16)
    mask = torch.ones(2, 7, dtype=torch.bool)
    mask[1, 5:] = False
    with torch.no_grad():
        fused = layer(x, mask)
        layer.keep_attention = True
        explicit = layer(x, mask)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-4)


def synthetic_sources(length=4000, sample_rate=8000):
    """Two different synthetic sources: a harmonic tone with vibrato, and a
    chirped pulse train with a noise burst envelope."""
    t = torch.arange(length) / sample_rate
    f0 = 140 + 20 * torch.sin(2 * torch.pi * 3 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / sample_rate
    voiced = sum(torch.sin(h * phase) / h for h in range(1, 6))
    voiced = voiced * (0.6 + 0.4 * torch.sin(2 * torch.pi * 2 * t))
    g = torch.Generator().manual_seed(1)
    chirp = torch.sin(2 * torch.pi * (600 * t + 900 * t**2))
    noise = torch.randn(length, generator=g) * 0.3
    other = (chirp + noise) * (torch.sin(2 * torch.pi * 5 * t) > 0)
    sources = torch.stack([voiced, other], dim=-1)
    return sources / sources.std(dim=0, keepdim=True)


def test_tiny_galr_overfits_one_mixture():
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    sources = synthetic_sources().unsqueeze(0)  # [1, T, 2]
    mix = sources.sum(-1)
    torch.manual_seed(0)
    hparams = load_model(
        num_filters=32,
        hidden_channels=32,
        num_blocks=2,
        num_heads=4,
        segment_size=20,
        reduced_segment_size=8,
        dropout=0.0,
    )
    params = [p for m in hparams["modules"].values() for p in m.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-3)
    baseline = -get_si_snr_with_pitwrapper(
        sources, mix.unsqueeze(-1).repeat(1, 1, 2)
    ).mean()
    start = time.time()
    for _ in range(300):
        optimizer.zero_grad()
        loss = get_si_snr_with_pitwrapper(sources, run(hparams, mix)).mean()
        loss.backward()
        optimizer.step()
        if -loss.item() - baseline.item() > 12 or time.time() - start > 50:
            break
    with torch.no_grad():
        si_snr = -get_si_snr_with_pitwrapper(sources, run(hparams, mix))
    improvement = si_snr.mean().item() - baseline.item()
    seconds = time.time() - start
    print(f"overfit: SI-SNRi {improvement:.1f} dB in {seconds:.1f} s")
    assert improvement >= 10.0, f"SI-SNRi {improvement:.1f} dB"
