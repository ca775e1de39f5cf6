"""Tests of ``speechbrain_galr.inference.separator``: GALRSeparation's
``separate_batch``, attention weights, the source count and loading."""

import math

import pytest
import torch
from inference_helpers import tiny_hparams, tiny_model, write_wav

from speechbrain_galr.inference.separator import GALRSeparation


def test_separate_batch_is_the_tasnet_forward():
    model = tiny_model()
    mix = torch.randn(3, 2001)
    est = model.separate_batch(mix)
    assert est.shape == (3, 2001, 2)
    ref = model.mods.model(mix)
    torch.testing.assert_close(est, ref)
    torch.testing.assert_close(model(mix), est)
    assert not any(p.requires_grad for p in model.mods.parameters())


def test_separate_batch_rejects_bad_shapes():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model.separate_batch(torch.randn(2, 3, 100))
    with pytest.raises(ValueError, match="empty"):
        model.separate_batch(torch.zeros(1, 0))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model.separate_chunked(torch.randn(100))


@pytest.mark.parametrize("length", [1, 7, 200, 30000])
def test_silence_and_short_inputs_give_finite_output(length):
    model = tiny_model()
    silence = torch.zeros(1, length)
    for est in (
        model.separate_batch(silence),
        model.separate_chunked(silence, chunk_seconds=1.0),
    ):
        assert est.shape == (1, length, 2)
        assert torch.isfinite(est).all()
        assert est.abs().max() == 0
    short = torch.randn(1, length)
    assert torch.isfinite(model.separate_chunked(short, 1.0)).all()


def test_attention_weights_per_block():
    model = tiny_model(num_blocks=2)
    mix = torch.randn(2, 4000)  # 499 frames -> S = ceil(2 * 499 / 16) + 1
    est, attention = model.separate_with_attention(mix)
    torch.testing.assert_close(est, model.separate_batch(mix))
    assert len(attention) == 2
    S = math.ceil(2 * 499 / 16) + 1
    for weights in attention:
        assert weights.shape == (2, 4, 4, S, S)  # [B, Q, J, S, S]
        torch.testing.assert_close(
            weights.sum(-1), torch.ones(2, 4, 4, S), atol=1e-5, rtol=0
        )
    # keeping the weights is switched off again
    assert all(
        not block.globally.keep_attention
        for block in model.mods.model.masknet.dual_mdl
    )


def test_from_hparams_rejects_missing_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        GALRSeparation.from_hparams(source=str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="hyperparams.yaml"):
        GALRSeparation.from_hparams(source=str(tmp_path))


def test_separate_batch_converts_float64_and_rejects_integers():
    model = tiny_model()
    mix = torch.randn(2, 1000, dtype=torch.float64)
    est = model.separate_batch(mix)
    assert est.dtype == torch.float32
    torch.testing.assert_close(est, model.separate_batch(mix.float()))
    with pytest.raises(ValueError, match="floating-point"):
        model.separate_batch(torch.zeros(1, 100, dtype=torch.int16))


def test_all_sources_are_written_and_counted(tmp_path, caplog):
    path = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(4000), 8000)
    three = tiny_model(num_spks=3)
    assert three.num_sources == 3
    assert len(three.separate_file_to_folder(path, tmp_path / "a")) == 3
    # a yaml whose num_spks does not match its model (edited by hand)
    hparams = tiny_hparams()
    hparams["num_spks"] = 3
    edited = GALRSeparation(hparams["modules"], hparams)
    with caplog.at_level("WARNING"):
        assert edited.num_sources == 2
    assert "num_spks: 3" in caplog.text and "2 sources" in caplog.text
