"""Tests of the GALR modules (paper Section 2) and the TasNet model."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

import speechbrain_galr
from speechbrain_galr.nnet import galr_layers
from speechbrain_galr.nnet.attention import GloballyAttentiveLayer, attend
from speechbrain_galr.nnet.segments import masked_group_norm, segment_context
from speechbrain_galr.nnet.tasnet import check_mixtures

MODEL_YAML = os.path.join(speechbrain_galr.HPARAMS_DIR, "galr-model.yaml")
RECIPES = os.path.join(os.path.dirname(__file__), "..", "..", "recipes")

# the four systems of Table 2 and the normalisation options
OPTIONS = [
    dict(),
    dict(local_layer="attention", global_layer="attention"),
    dict(local_layer="lstm", global_layer="lstm"),
    dict(local_layer="attention", global_layer="lstm"),
    dict(local_norm="utterance", global_norm="utterance"),
    dict(global_layer="lstm", local_norm="utterance", global_norm="segment"),
    dict(local_layer="attention", local_norm="utterance"),
]
OPTION_IDS = ["-".join(f"{v}" for v in o.values()) or "paper" for o in OPTIONS]


def load_model(**overrides):
    """The example model file, with overrides."""
    with open(MODEL_YAML) as fin:
        return load_hyperpyyaml(fin, overrides)


def tiny(num_spks=2, reduced=4, dropout=0.0, seed=0, blocks=2, **options):
    """A small TasNet (encoder, GALR, decoder) for fast tests."""
    torch.manual_seed(seed)
    return load_model(
        num_filters=32,
        hidden_channels=16,
        num_blocks=blocks,
        num_heads=4,
        segment_size=10,
        reduced_segment_size=reduced,
        num_spks=num_spks,
        dropout=dropout,
        **options,
    )


def run(hparams, mix, lengths=None):
    return hparams["model"](mix, lengths)


def padded_batch(lengths, seed=0):
    """Mixtures of the given lengths, zero-padded into one batch."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        mix[i, :n] = torch.randn(n, generator=g)
    return mix, torch.tensor(lengths, dtype=torch.float) / max(lengths)


def assert_batch_matches_items_alone(hparams, lengths, atol=1e-5):
    model = hparams["model"].eval()
    mix, rel = padded_batch(lengths)
    with torch.no_grad():
        batch = model(mix, rel)
        for i, n in enumerate(lengths):
            alone = model(mix[i : i + 1, :n])
            torch.testing.assert_close(
                batch[i, :n], alone[0], atol=atol, rtol=1e-4
            )
            if n < max(lengths):
                assert batch[i, n:].abs().max().item() == 0


def recipe_hparams(path, tmp_path, monkeypatch, **overrides):
    """A recipe yaml loaded with its data and output folders in tmp."""
    path = os.path.join(RECIPES, path)
    # the recipe's own modules (e.g. LibriMix's noisy_mixing)
    monkeypatch.syspath_prepend(os.path.dirname(os.path.dirname(path)))
    with open(path) as fin:
        return load_hyperpyyaml(
            fin,
            dict(data_folder=str(tmp_path), output_folder=str(tmp_path))
            | overrides,
        )


@pytest.mark.parametrize(
    "path, count",
    [
        ("WSJ0Mix/separation/hparams/galr-small.yaml", 1_458_969),
        ("LibriMix/separation/hparams/galr.yaml", 2_314_341),
        ("WSJ0Music/separation/hparams/galr.yaml", 2_314_341),
        ("WSJ0Mix/separation/hparams/galr.yaml", 2_303_969),
        ("WSJ0Mix/separation/hparams/dprnn.yaml", 2_609_793),
    ],
)
def test_recipe_parameter_counts_are_the_readme_counts(
    path, count, tmp_path, monkeypatch
):
    hparams = recipe_hparams(path, tmp_path, monkeypatch)
    assert sum(p.numel() for p in hparams["model"].parameters()) == count
    # the model is the checkpoint's three modules
    assert hparams["model"].masknet is hparams["masknet"]


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
    assert_batch_matches_items_alone(tiny(num_spks=3), [1600, 1013, 377, 40])


def test_lengths_all_ones_are_no_lengths():
    hparams = tiny()
    mix = torch.randn(3, 1500)
    torch.manual_seed(1)
    with_ones = run(hparams, mix, torch.ones(3))
    torch.manual_seed(1)  # the same dropout draws
    assert torch.equal(with_ones, run(hparams, mix))


def test_every_parameter_gets_a_gradient():
    hparams = tiny(num_spks=2)
    est = run(hparams, torch.randn(2, 1500))
    est.pow(2).mean().backward()
    for name, p in hparams["model"].named_parameters():
        assert p.grad is not None, f"{name} has no gradient"
        assert p.grad.abs().sum() > 0, f"{name} gradient is 0"


@pytest.mark.parametrize("options", OPTIONS[1:], ids=OPTION_IDS[1:])
def test_options_keep_length_padding_and_gradients(options):
    hparams = tiny(reduced=4, **options)
    est = run(hparams, torch.randn(2, 1001), torch.tensor([1.0, 0.7]))
    assert est.shape == (2, 1001, 2)
    est.pow(2).mean().backward()
    for name, p in hparams["model"].named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert_batch_matches_items_alone(hparams, [1600, 1013, 377, 40])


def test_bad_options_are_named():
    for option, value in [
        ("local_layer", "gru"),
        ("global_layer", "conv"),
        ("local_norm", "batch"),
    ]:
        with pytest.raises(ValueError, match=value):
            tiny(**{option: value})


@pytest.mark.parametrize(
    "bad, lengths, message",
    [
        (torch.randn(2, 32, 50), None, r"\[B, T\]"),
        (torch.randn(1000), None, r"\[B, T\]"),
        (torch.randn(2, 0), None, "empty"),
        (torch.tensor([[0.0, float("nan"), 1.0] * 100]), None, "NaN or Inf"),
        (torch.tensor([[0.0, float("inf"), 1.0] * 100]), None, "NaN or Inf"),
        (torch.randn(2, 100), torch.tensor([1.0, 1.5]), "relative lengths"),
        (torch.randn(2, 100), torch.tensor([1.0, 0.0]), "relative lengths"),
        (torch.randn(2, 100), torch.tensor([1.0]), "shape"),
    ],
)
def test_bad_input_raises_a_clear_error(bad, lengths, message):
    with pytest.raises(ValueError, match=message):
        check_mixtures(bad, lengths)


def test_masknet_names_wrong_shapes():
    masknet = tiny()["masknet"]
    with pytest.raises(ValueError, match="32 channels"):
        masknet(torch.rand(1, 16, 100))
    with pytest.raises(ValueError, match="3-D"):
        masknet(torch.rand(1, 32, 100, 1))


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


def test_kept_weights_are_the_fused_attention():
    layer = GloballyAttentiveLayer(16, 4, 10, 4, dropout=0.0).eval()
    layer.keep_attention = True
    g = torch.randn(2, 7, 4, 16)  # [B, S, Q, D]
    context = segment_context(torch.randn(2, 7, 10, 16), torch.tensor([7, 5]))
    proj = layer.in_proj
    with torch.no_grad():
        normed = layer.frame_norm(g)  # eq. 4 with P = 0
        fused = attend(normed, proj, layer.out_proj, 4, context.attn_bias)
        layer.attend_path(g, torch.zeros(7, 16), context.attn_bias)
        weights = layer.attention  # [B, Q, J, S, S]
        # the values, [B, S, Q, D] -> [B, Q, J, S, D/J]
        value = torch.nn.functional.linear(
            normed, proj.weight[32:], proj.bias[32:]
        )
        value = value.view(2, 7, 4, 4, 4).permute(0, 2, 3, 1, 4)
        # [B, Q, J, S, D/J] -> [B, S, Q, D]
        explicit = (weights @ value).permute(0, 3, 1, 2, 4).reshape(2, 7, 4, 16)
        explicit = layer.out_proj(explicit)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-4)
    # padded segments get no weight
    assert weights[1, ..., 5:].abs().max() == 0


def test_norm_statistics_are_float32_for_half_inputs():
    # 64 features x 4000 frames: the count is inf in fp16
    x = (torch.randn(2, 64, 4000) * 30).half()
    mask = torch.ones(2, 1, 4000)
    mask[1, :, 3000:] = 0
    count = torch.tensor([256000, 192000])
    ones = torch.ones(64, 1)
    y = masked_group_norm(x, mask, count, ones, 0 * ones, 1e-8)
    assert torch.isfinite(y).all()
    ref = torch.nn.functional.group_norm(x[:1].float(), 1, eps=1e-8)
    torch.testing.assert_close(y[:1], ref, atol=1e-4, rtol=1e-4)


@pytest.fixture
def dynamo_traces_lstms():
    """Dynamo traces ``nn.LSTM`` only with ``allow_rnn`` (else a graph
    break at every LSTM)."""
    import torch._dynamo

    torch._dynamo.reset()
    with torch._dynamo.config.patch(allow_rnn=True):
        yield
    torch._dynamo.reset()


def test_full_model_compiles_in_one_graph(dynamo_traces_lstms):
    # fullgraph=True fails on any host sync or value-dependent branch;
    # aot_eager also traces the backward graph (inductor's C++ code
    # generation is torch's, and slow on 2 cores: see the recipe README)
    model = tiny(blocks=1)["model"]
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    mix, rel = padded_batch([800, 500])
    compiled(mix, rel).pow(2).mean().backward()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(mix, rel), model(mix, rel))
        torch.testing.assert_close(compiled(mix), model(mix))


@pytest.mark.parametrize("options", OPTIONS[1:], ids=OPTION_IDS[1:])
def test_every_option_compiles_in_one_graph(options, dynamo_traces_lstms):
    model = tiny(blocks=1, **options)["model"].eval()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    mix, rel = padded_batch([800, 500])
    with torch.no_grad():
        torch.testing.assert_close(compiled(mix, rel), model(mix, rel))


def si_snr_db(ref, est):
    ref, est = ref.flatten().double(), est.flatten().double()
    scale = (est @ ref) / (ref @ ref)
    noise = est - scale * ref
    return 10 * torch.log10((scale * ref).pow(2).sum() / noise.pow(2).sum())


@pytest.mark.parametrize("options", [OPTIONS[0], OPTIONS[4]], ids=str)
def test_bf16_autocast_padded_batch_is_finite_and_close(options):
    hparams = tiny(**options)
    model = hparams["model"].eval()
    mix, rel = padded_batch([1600, 1013, 377])
    with torch.no_grad():
        ref = model(mix, rel)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(mix, rel)
    assert torch.isfinite(low).all()
    # bf16 keeps 8 bits of mantissa: about 40 dB at best per operation
    assert si_snr_db(ref, low.float()) > 20


def _without_cpu_bf16_padding(monkeypatch):
    monkeypatch.setattr(galr_layers, "CPU_BF16_MULTIPLE", 1)


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16"])
def test_cpu_bf16_pads_segments_and_lstm_batch(autocast, monkeypatch):
    """oneDNN's bf16 kernels are up to 3x slower on a batch with no small
    factor: under CPU bf16 the local Bi-LSTM sees a multiple of 16
    sequences; in fp32 nothing is padded."""
    model = tiny(blocks=1)["model"].eval()
    lstm = model.masknet.dual_mdl[0].local.lstm
    seen = []
    lstm.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape[1])
    )
    mix = torch.randn(1, 1013)
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, autocast):
        model(mix)
        _without_cpu_bf16_padding(monkeypatch)
        model(mix)
    padded, sequences = seen
    assert sequences % 2 == 1  # B*S of this input: odd
    assert padded == (sequences + 15) // 16 * 16 if autocast else sequences


@pytest.mark.parametrize("options", OPTIONS, ids=OPTION_IDS)
def test_cpu_bf16_padding_changes_no_output(options, monkeypatch):
    # padded segments are masked as a padded batch's; a padded batch too
    model = tiny(**options)["model"].eval()
    mix, rel = padded_batch([1013, 377])
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        out = model(mix, rel)
        _without_cpu_bf16_padding(monkeypatch)
        unpadded = model(mix, rel)
    for item, length in enumerate([1013, 377]):
        # oneDNN blocks another batch another way: bf16 rounding differs
        est, ref = out[item, :length], unpadded[item, :length]
        assert si_snr_db(ref.float(), est.float()) > 35


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
    optimizer = torch.optim.Adam(hparams["model"].parameters(), lr=3e-3)
    baseline = -get_si_snr_with_pitwrapper(
        sources, mix.unsqueeze(-1).repeat(1, 1, 2)
    ).mean()
    for step in range(300):  # noqa: B007 (printed below)
        optimizer.zero_grad()
        loss = get_si_snr_with_pitwrapper(sources, run(hparams, mix)).mean()
        loss.backward()
        optimizer.step()
        if -loss.item() - baseline.item() > 12:
            break
    with torch.no_grad():
        si_snr = -get_si_snr_with_pitwrapper(sources, run(hparams, mix))
    improvement = si_snr.mean().item() - baseline.item()
    print(f"overfit: SI-SNRi {improvement:.1f} dB after {step + 1} steps")
    assert improvement >= 10.0, f"SI-SNRi {improvement:.1f} dB"
