"""BSS-eval SDR of speechbrain_galr.metrics against mir_eval."""

import warnings

import mir_eval
import numpy as np
import pytest
import torch

from speechbrain_galr.metrics import bss_eval_sources, separation_scores


def _mir_eval(refs, ests, compute_permutation):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval's deprecation notice
        return mir_eval.separation.bss_eval_sources(
            refs, ests, compute_permutation=compute_permutation
        )


def _estimates(refs, rng):
    """Imperfect estimates: leakage, filtering, noise, and a permutation."""
    num = len(refs)
    ests = []
    for i in range(num):
        leak = 0.3 * refs[(i + 1) % num]
        filtered = np.convolve(refs[i], [1.0, -0.4, 0.2], mode="same")
        ests.append(filtered + leak + 0.1 * rng.standard_normal(refs.shape[1]))
    return np.stack(ests)[::-1].copy()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The Gram solves are small: one thread is fastest on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# mir_eval recomputes a (C*512)^2 system per pair: 3-source permutations
# (9 pairs) would dominate the test time, so 3 sources without
@pytest.mark.parametrize(
    "num_sources, compute_permutation", [(2, True), (2, False), (3, False)]
)
def test_bss_eval_matches_mir_eval(num_sources, compute_permutation):
    rng = np.random.default_rng(num_sources)
    # speech-like references: noise bursts under different envelopes
    t = np.arange(3000) / 8000
    refs = rng.standard_normal((num_sources, 3000)) * (
        1.1 + np.sin(2 * np.pi * (1 + np.arange(num_sources))[:, None] * t)
    )
    ests = _estimates(refs, rng)
    ours = bss_eval_sources(refs, ests, compute_permutation)
    theirs = _mir_eval(refs, ests, compute_permutation)
    for name, a, b in zip(("sdr", "sir", "sar"), ours[:3], theirs[:3]):
        np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(ours[3], theirs[3])


def test_bss_eval_finds_permutation_and_improves_with_quality():
    rng = np.random.default_rng(0)
    refs = rng.standard_normal((2, 4000))
    noisy = refs[::-1] + 0.5 * rng.standard_normal((2, 4000))
    cleaner = refs[::-1] + 0.05 * rng.standard_normal((2, 4000))
    sdr_noisy, _, _, perm = bss_eval_sources(refs, noisy)
    sdr_clean, _, _, _ = bss_eval_sources(refs, cleaner)
    assert perm.tolist() == [1, 0]
    assert (sdr_clean > sdr_noisy + 15).all()


def test_bss_eval_errors_name_the_problem():
    refs = np.random.default_rng(0).standard_normal((2, 100))
    with pytest.raises(ValueError, match="same"):
        bss_eval_sources(refs, refs[:, :50])
    silent = refs.copy()
    silent[1] = 0
    with pytest.raises(ValueError, match="all zeros"):
        bss_eval_sources(refs, silent)
    with pytest.raises(ValueError, match="NaN"):
        bss_eval_sources(refs, refs * np.nan)


def test_separation_scores_improvements():
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
    assert ours["sdr"] == pytest.approx(np.mean(theirs[0]), abs=1e-6)
