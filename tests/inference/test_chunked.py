"""Tests of ``speechbrain_galr.inference.chunked``: the alignment of the
sources across chunks, chunked against whole separation, and the checks of
the chunk settings."""

import pytest
import torch
from inference_helpers import (
    si_snr_pit,
    synthetic_sources,
    tiny_model,
    write_wav,
)

from speechbrain_galr.inference.chunked import ChunkedSeparator, align_sources


@pytest.mark.parametrize("num_spks", [2, 3])
def test_align_sources_finds_each_items_permutation(num_spks):
    reference = torch.randn(4, 200, num_spks)
    orders = [torch.randperm(num_spks) for _ in range(4)]
    estimate = torch.stack(
        [3.0 * reference[b][:, order] for b, order in enumerate(orders)]
    )
    aligned = align_sources(reference, estimate)
    torch.testing.assert_close(aligned, 3.0 * reference)


class ShuffledOracle:
    """A 'model' that returns the true sources of the chunk it is given,
    in a random order per chunk, as a network trained with PIT may."""

    def __init__(self, mixture, sources, seed=0):
        self.mixture, self.sources = mixture, sources
        self.generator = torch.Generator().manual_seed(seed)
        self.calls = []

    def __call__(self, chunk):
        # find where the chunk starts (the mixture is a unique ramp)
        start = int(torch.searchsorted(self.mixture[0], chunk[0, 0]))
        self.calls.append((start, chunk.shape[1]))
        true = self.sources[:, start : start + chunk.shape[1]]
        C = true.shape[-1]
        order = torch.randperm(C, generator=self.generator)
        return true[:, :, order]


@pytest.mark.parametrize("length", [50, 300, 301, 1000, 1234])
@pytest.mark.parametrize("block", [None, 1, 97])
def test_chunked_separator_aligns_sources_across_chunks(length, block):
    mixture = torch.arange(float(length))[None]  # [1, T], increasing
    sources = torch.randn(1, length, 3)
    oracle = ShuffledOracle(mixture, sources)
    chunked = ChunkedSeparator(oracle, chunk_size=300, overlap=100)
    blocks = [mixture] if block is None else mixture.split(block, dim=1)
    out = [chunked.push(b) for b in blocks] + [chunked.flush()]
    out = torch.cat([o for o in out if o.shape[1] > 0], dim=1)
    assert out.shape == (1, length, 3)
    # the first chunk fixes the order; the others are aligned to it
    first_order = align_sources(out[:, :50], sources)
    torch.testing.assert_close(out, first_order, atol=1e-5, rtol=0)
    # every chunk but a lone short one is a full chunk
    assert all(n == min(300, length) for _, n in oracle.calls)


def test_chunked_separator_rejects_bad_settings():
    with pytest.raises(ValueError, match="overlap"):
        ChunkedSeparator(lambda x: x, chunk_size=100, overlap=60)
    with pytest.raises(ValueError, match="overlap"):
        ChunkedSeparator(lambda x: x, chunk_size=100, overlap=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkedSeparator(lambda x: x, chunk_size=1, overlap=0)


def test_chunked_matches_whole_within_half_a_db(trained):
    generator = torch.Generator().manual_seed(7)
    sources = synthetic_sources(1, 6 * 8000, generator)  # [1, T, 2]
    mix = sources.sum(-1)
    whole = trained.separate_batch(mix)
    chunked = trained.separate_chunked(
        mix, chunk_seconds=1.5, overlap_seconds=0.5
    )
    assert chunked.shape == whole.shape
    whole_db = si_snr_pit(sources, whole)
    chunked_db = si_snr_pit(sources, chunked)
    assert whole_db > 5, "the tiny model did not learn to separate"
    assert abs(chunked_db - whole_db) < 0.5, (whole_db, chunked_db)

    # the same with the real model's outputs shuffled chunk by chunk:
    # the alignment must undo it
    orders = torch.Generator().manual_seed(3)

    def shuffled(chunk):
        est = trained.separate_batch(chunk)
        return est[:, :, torch.randperm(2, generator=orders)]

    separator = ChunkedSeparator(shuffled, chunk_size=12000, overlap=4000)
    out = torch.cat([separator.push(mix), separator.flush()], dim=1)
    assert abs(si_snr_pit(sources, out) - whole_db) < 0.5


@pytest.mark.parametrize(
    "chunk, overlap, words",
    [
        (-5, None, "chunk length"),
        (0.001, None, "chunk length"),
        (float("nan"), None, "chunk length"),
        (float("inf"), None, "chunk length"),
        (1.0, 0.6, "half the chunk length"),
        (1.0, 0.0, "chunk overlap"),
        (1.0, float("nan"), "chunk overlap"),
    ],
)
def test_chunk_settings_are_checked(tmp_path, chunk, overlap, words):
    model = tiny_model()
    mix = torch.randn(1, 8000)
    with pytest.raises(ValueError, match=words):
        model.separate_chunked(mix, chunk, overlap)
    path = write_wav(tmp_path / "mix.wav", 0.3 * torch.randn(8000), 8000)
    with pytest.raises(ValueError, match=words):
        model.separate_file_to_folder(path, tmp_path / "out", chunk, overlap)
    assert not (tmp_path / "out").exists()
