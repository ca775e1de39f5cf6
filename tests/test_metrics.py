"""SI-SNR, the permutation search and SDR of speechbrain_galr.metrics,
against SpeechBrain's PIT SI-SNR and mir_eval's BSS-eval."""

import itertools
import warnings

import mir_eval
import numpy as np
import pytest
import torch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from speechbrain_galr.metrics import (
    best_permutation,
    permute_sources,
    sdr,
    separation_metric_stats,
    separation_scores,
    si_snr,
)


def _mir_eval(refs, ests, compute_permutation):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval's deprecation notice
        return mir_eval.separation.bss_eval_sources(
            refs, ests, compute_permutation=compute_permutation
        )


def _speech_like(num_sources, rng, length=3000):
    """Noise bursts under different envelopes, ``[C, T]`` float64."""
    t = np.arange(length) / 8000
    envelopes = 1.1 + np.sin(
        2 * np.pi * (1 + np.arange(num_sources))[:, None] * t
    )
    return rng.standard_normal((num_sources, length)) * envelopes


def _estimates(refs, rng):
    """Imperfect estimates: leakage, filtering, noise."""
    num = len(refs)
    ests = []
    for i in range(num):
        leak = 0.3 * refs[(i + 1) % num]
        filtered = np.convolve(refs[i], [1.0, -0.4, 0.2], mode="same")
        ests.append(filtered + leak + 0.1 * rng.standard_normal(refs.shape[1]))
    return np.stack(ests)


@pytest.mark.parametrize("num_sources", [2, 3])
def test_sdr_matches_mir_eval(num_sources):
    rng = np.random.default_rng(num_sources)
    refs = _speech_like(num_sources, rng)
    ests = _estimates(refs, rng)
    theirs = _mir_eval(refs, ests, False)[0]
    ours = sdr(torch.from_numpy(refs), torch.from_numpy(ests))
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-6)
    # batched: [2, C, T] gives each item's values
    batch = sdr(
        torch.from_numpy(np.stack([refs, refs])),
        torch.from_numpy(np.stack([ests, refs + 0.5 * ests])),
    )
    np.testing.assert_allclose(batch[0].numpy(), theirs, atol=1e-6)
    assert (batch[1] > batch[0]).all()


def test_best_permutation_is_the_exhaustive_maximum():
    generator = torch.Generator().manual_seed(0)
    for num in (1, 2, 3, 4):
        scores = torch.randn(5, num, num, generator=generator)
        order = best_permutation(scores)
        for b in range(5):
            best = max(
                itertools.permutations(range(num)),
                key=lambda p: sum(
                    float(scores[b, c, p[c]]) for c in range(num)
                ),
            )
            assert order[b].tolist() == list(best)


def test_si_snr_agrees_with_speechbrain_pit():
    rng = np.random.default_rng(0)
    refs = torch.from_numpy(rng.standard_normal((4, 1000, 3))).float()
    # every item of the batch in another order, with noise
    orders = torch.tensor([[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]])
    noisy = refs + 0.3 * torch.randn(4, 1000, 3)
    ests = permute_sources(noisy, orders)
    ours = si_snr(refs, ests)
    theirs = -get_si_snr_with_pitwrapper(refs, ests.clone())
    torch.testing.assert_close(ours.mean(-1), theirs, atol=1e-4, rtol=0)
    # the inverse orders put the estimates back
    inverse = best_permutation(
        -((refs[..., :, None] - ests[..., None, :]) ** 2).sum(1)
    )
    torch.testing.assert_close(permute_sources(ests, inverse), noisy)
    # in fixed order, the swapped sources score badly
    assert (si_snr(refs, ests, permute=False)[1:] < 0).any()


def test_separation_scores_improvements_and_mir_eval():
    rng = np.random.default_rng(1)
    refs = torch.from_numpy(rng.standard_normal((4000, 2))).float()
    mix = refs.sum(-1)
    # the mixture itself as estimate improves nothing
    same = separation_scores(mix, refs, mix[:, None].repeat(1, 2))
    assert abs(same["si-snr_i"]) < 1e-3 and abs(same["sdr_i"]) < 1e-6
    good = separation_scores(
        mix, refs, refs.flip(-1) + 0.05 * torch.randn(4000, 2)
    )
    assert good["si-snr_i"] > 20 and good["sdr_i"] > 20
    ests = 2 * refs.flip(-1) + 0.3 * torch.randn(4000, 2)
    theirs = _mir_eval(refs.t().numpy(), ests.t().numpy(), True)
    ours = separation_scores(mix, refs, ests)
    assert ours["sdr"] == pytest.approx(np.mean(theirs[0]), abs=1e-3)
    # fixed order with names: per-source columns, means after them
    named = separation_scores(
        mix, refs, ests.flip(-1), permute=False, source_names=["a", "b"]
    )
    assert list(named)[:4] == ["a_si-snr", "a_si-snr_i", "a_sdr", "a_sdr_i"]
    assert named["sdr"] == pytest.approx(ours["sdr"], abs=1e-4)
    assert named["si-snr"] == pytest.approx(ours["si-snr"], abs=1e-4)
    swapped = separation_scores(mix, refs, ests, permute=False)
    assert swapped["si-snr"] < 0 < ours["si-snr"]


def test_separation_scores_errors_name_the_problem():
    refs = torch.randn(100, 2)
    with pytest.raises(ValueError, match=r"\[T, 2\]"):
        separation_scores(refs.sum(-1), refs, refs[:, :1])
    silent = refs.clone()
    silent[:, 1] = 0
    with pytest.raises(ValueError, match="all zeros"):
        separation_scores(refs.sum(-1), silent, refs)
    with pytest.raises(ValueError, match="NaN"):
        separation_scores(refs.sum(-1), refs, refs * np.nan)
    with pytest.raises(ValueError, match="source names"):
        separation_scores(refs.sum(-1), refs, refs, source_names=["a"])


def test_metric_stats_scores_each_utterance_at_its_length():
    refs = torch.randn(3, 2000, 2)
    refs[1, 1000:] = 0  # padding of a shorter utterance
    mix = refs.sum(-1)
    ests = refs.flip(-1) + 0.1 * torch.randn(3, 2000, 2)
    lengths = torch.tensor([1.0, 0.5, 1.0])
    stats = separation_metric_stats()
    packed = torch.cat([mix[..., None], refs], dim=-1)
    stats.append(["a", "b", "c"], predict=ests, target=packed, lengths=lengths)
    assert stats.ids == ["a", "b", "c"]
    expected = separation_scores(mix[1, :1000], refs[1, :1000], ests[1, :1000])
    assert stats.scores[1] == pytest.approx(expected)


def test_metric_stats_in_parallel_jobs_gives_the_same_scores():
    refs = torch.randn(2, 1600, 2)
    packed = torch.cat([refs.sum(-1, keepdim=True), refs], dim=-1)
    ests = refs + 0.2 * torch.randn(2, 1600, 2)
    both = []
    for n_jobs in (1, 2):
        stats = separation_metric_stats(n_jobs=n_jobs)
        stats.append(["a", "b"], predict=ests, target=packed)
        both.append(stats.scores)
    assert both[1] == [pytest.approx(row, abs=1e-5) for row in both[0]]


def test_sdr_is_right_whatever_the_torch_threads():
    # torch's batched CPU LU solve fails with several threads; sdr() must
    # neither fail nor change the caller's thread count
    rng = np.random.default_rng(5)
    refs = torch.from_numpy(_speech_like(2, rng))
    ests = torch.from_numpy(_estimates(refs.numpy(), rng))
    expected = _mir_eval(refs.numpy(), ests.numpy(), False)[0]
    threads = torch.get_num_threads()
    try:
        for count in (1, 2, 1):
            torch.set_num_threads(count)
            np.testing.assert_allclose(sdr(refs, ests), expected, atol=1e-6)
            assert torch.get_num_threads() == count
    finally:
        torch.set_num_threads(threads)
