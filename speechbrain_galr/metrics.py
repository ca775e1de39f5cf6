"""Separation metrics: SI-SNR, SDR, and the one permutation search.

* :func:`pairwise_si_snr`: SI-SNR (paper eq. 17 without the minus sign) of
  every reference against every estimate, with SpeechBrain's
  ``cal_si_snr``.
* :func:`best_permutation`: for a batch of ``[C, C]`` score matrices, the
  order of the estimates with the highest summed score.  Every place that
  matches estimates to references uses it: test scoring, figures, and the
  chunk alignment of long-signal separation (with a similarity score).
* :func:`sdr`: BSS-eval v3 SDR (512-tap distortion filters, Vincent et al.
  2006) in float64 and torch, batched, which agrees with
  ``mir_eval.separation.bss_eval_sources`` to 1e-6 dB on our test
  mixtures (``tests/test_metrics.py``).
* :func:`separation_scores`: SDR, SDRi, SI-SNR, SI-SNRi of one separated
  mixture, with the best permutation (two-speaker separation) or in fixed
  order (speech/music), optionally per named source;
  :func:`separation_metric_stats` gathers them over a test set with
  SpeechBrain's ``MetricStats``.

Authors
 * speechbrain-galr contributors 2026
"""

import functools
import itertools

import torch
from speechbrain.nnet.losses import cal_si_snr
from speechbrain.utils.metric_stats import MetricStats

FILTER_LENGTH = 512
"""Taps of the distortion filters of BSS-eval (mir_eval's value)."""

SCORE_KEYS = ("sdr", "sdr_i", "si-snr", "si-snr_i")
"""The scores of :func:`separation_scores`, in ``test_results.csv`` order."""


def pairwise_si_snr(references, estimates):
    """SI-SNR in dB of every reference against every estimate.

    Arguments
    ---------
    references : torch.Tensor
        ``[B, T, C]`` sources.
    estimates : torch.Tensor
        ``[B, T, C]`` estimates.

    Returns
    -------
    torch.Tensor
        ``[B, C, C]``: entry ``(b, c, d)`` is the SI-SNR of estimate ``d``
        against reference ``c``.

    Example
    -------
    >>> refs = torch.randn(3, 800, 2)
    >>> scores = pairwise_si_snr(refs, refs.flip(-1))
    >>> scores.shape, bool((scores[:, 0, 1] > 100).all())
    (torch.Size([3, 2, 2]), True)
    """
    B, T, C = references.shape
    # [B, T, C, C]: reference c in dim 2, estimate d in dim 3
    refs = references[..., :, None].expand(B, T, C, C)
    ests = estimates[..., None, :].expand(B, T, C, C)
    # [T, B, C * C]: cal_si_snr's layout; it masks the estimates in place,
    # so they are copied by reshape (contiguous)
    refs = refs.permute(1, 0, 2, 3).reshape(T, B, C * C)
    ests = ests.permute(1, 0, 2, 3).reshape(T, B, C * C).clone()
    # [1, B, C * C] negated -> [B, C, C]
    return -cal_si_snr(refs, ests)[0].reshape(B, C, C)


def best_permutation(scores):
    """The order of the estimates that maximises the summed score.

    The one permutation search of the package: score matrices from
    :func:`pairwise_si_snr` (test scores, figures) or from a similarity
    (chunk alignment) all go through it.  All ``C!`` orders are compared at
    once, for the whole batch, on the device of ``scores`` (no host sync).

    Arguments
    ---------
    scores : torch.Tensor
        ``[B, C, C]``: entry ``(b, c, d)`` scores estimate ``d`` as the
        estimate of reference ``c`` (higher is better).

    Returns
    -------
    torch.LongTensor
        ``[B, C]``: for each reference ``c``, the index of its estimate.

    Example
    -------
    >>> scores = torch.tensor([[[0.0, 9.0, 1.0],
    ...                         [1.0, 0.0, 8.0],
    ...                         [7.0, 1.0, 0.0]]])
    >>> best_permutation(scores).tolist()
    [[1, 2, 0]]
    """
    num = scores.shape[-1]
    # [C!, C]
    orders = torch.tensor(
        list(itertools.permutations(range(num))), device=scores.device
    )
    rows = torch.arange(num, device=scores.device)
    # [B, C!]: summed score of every order
    totals = scores[:, rows, orders].sum(dim=-1)
    return orders[totals.argmax(dim=-1)]


def permute_sources(estimates, order):
    """Reorders the sources (last dim) of ``[B, T, C]`` by ``[B, C]``.

    Example
    -------
    >>> est = torch.arange(6.0).reshape(1, 2, 3)
    >>> permute_sources(est, torch.tensor([[2, 0, 1]])).tolist()
    [[[2.0, 0.0, 1.0], [5.0, 3.0, 4.0]]]
    """
    index = order[:, None, :].expand(-1, estimates.shape[1], -1)
    return estimates.gather(2, index)


def si_snr(references, estimates, permute=True):
    """SI-SNR in dB of each source, best permutation or fixed order.

    Arguments
    ---------
    references : torch.Tensor
        ``[B, T, C]`` sources.
    estimates : torch.Tensor
        ``[B, T, C]`` estimates.
    permute : bool
        Match the estimates to the references with
        :func:`best_permutation` (False: estimate c is for reference c).

    Returns
    -------
    torch.Tensor
        ``[B, C]`` SI-SNR of reference c and its estimate.

    Example
    -------
    >>> refs = torch.randn(3, 800, 2)
    >>> est = refs.flip(-1) + 0.01 * torch.randn(3, 800, 2)
    >>> bool((si_snr(refs, est) > 30).all()), bool((si_snr(refs, est, False)
    ...                                             < 0).all())
    (True, True)
    """
    scores = pairwise_si_snr(references, estimates)
    num = scores.shape[-1]
    if permute:
        order = best_permutation(scores)
    else:
        order = torch.arange(num, device=scores.device).expand(len(scores), -1)
    return scores.gather(2, order[..., None])[..., 0]


def sdr(references, estimates):
    """BSS-eval SDR in dB of estimate c against reference c (fixed order).

    ``SDR = 10 log10(|s_target|^2 / |estimate - s_target|^2)`` with
    ``s_target`` the estimate projected on the 512 delayed copies of its
    reference, as ``mir_eval.separation.bss_eval_sources`` computes it:
    the Gram matrix of the delayed copies is the Toeplitz matrix of the
    reference's autocorrelation, the right-hand side the cross-correlation
    of reference and estimate (both by FFT), and ``|s_target|^2 = b' G^-1 b``
    (float64).  The system is solved by Cholesky: torch 2.11's batched LU
    solve on the CPU can fail ("DLASWP") or hang with several threads,
    which is why ``fast_bss_eval`` (same method, LU) is not used.

    Arguments
    ---------
    references : torch.Tensor
        ``[..., C, T]`` sources (BSS-eval's layout, sources first).
    estimates : torch.Tensor
        ``[..., C, T]`` estimates in the order of the references.

    Returns
    -------
    torch.Tensor
        ``[..., C]`` float64.

    Example
    -------
    >>> refs = torch.randn(2, 4000)
    >>> sdr(refs, refs + 0.1 * torch.randn(2, 4000)).shape
    torch.Size([2])
    """
    refs = references.detach().double().cpu()
    ests = estimates.detach().double().cpu()
    taps = FILTER_LENGTH
    n_fft = 1 << (refs.shape[-1] + taps - 1).bit_length()
    ref_f = torch.fft.rfft(refs, n_fft)
    # [..., C, taps]: autocorrelation and cross-correlation at lags 0..L-1
    autocorr = torch.fft.irfft(ref_f.abs() ** 2, n_fft)[..., :taps]
    xcorr = torch.fft.irfft(ref_f.conj() * torch.fft.rfft(ests, n_fft), n_fft)
    xcorr = xcorr[..., :taps, None]
    lags = torch.arange(taps)
    # [..., C, taps, taps]: Toeplitz Gram matrix of the delayed references
    gram = autocorr[..., (lags[:, None] - lags[None, :]).abs()]
    factor = torch.linalg.cholesky(gram)
    target = (xcorr * torch.cholesky_solve(xcorr, factor)).sum((-2, -1))
    # the distortion energy, kept positive where rounding makes it <= 0
    distortion = (ests.pow(2).sum(-1) - target).clamp_min(1e-300)
    return 10 * torch.log10(target / distortion)


def check_sources(mixture, references, estimates):
    """Raises a ValueError naming the problem unless ``mixture [T]``,
    ``references [T, C]`` and ``estimates [T, C]`` can be scored (same
    length, finite, no silent reference: BSS-eval is undefined for one)."""
    if mixture.dim() != 1 or references.dim() != 2:
        raise ValueError(
            f"expected mixture [T] and references [T, C], got "
            f"{tuple(mixture.shape)} and {tuple(references.shape)}"
        )
    num_samples, num = references.shape
    if estimates.shape != references.shape or len(mixture) != num_samples:
        raise ValueError(
            f"estimates {tuple(estimates.shape)} and mixture "
            f"{tuple(mixture.shape)} must have the shapes [T, {num}] and [T] "
            f"of the references {tuple(references.shape)}"
        )
    for name, signal in (("mixture", mixture), ("estimates", estimates)):
        if not torch.isfinite(signal).all():
            raise ValueError(f"{name} contain NaN or Inf values")
    silent = (references == 0).all(dim=0).nonzero()[:, 0].tolist()
    if silent:
        raise ValueError(
            f"reference source(s) {silent} are all zeros; BSS-eval is "
            "undefined for silent sources"
        )


def separation_scores(
    mixture, references, estimates, permute=True, source_names=None
):
    """SDR, SDRi, SI-SNR and SI-SNRi of one separated mixture.

    The estimates are matched to the references by the best SI-SNR
    permutation (:func:`best_permutation`), or taken in their order with
    ``permute=False`` (speech then music); SDR is then computed for the
    same pairs.  The improvements are over the mixture taken as the
    estimate of every source.

    Arguments
    ---------
    mixture : torch.Tensor
        ``[T]`` mixture.
    references : torch.Tensor
        ``[T, C]`` true sources.
    estimates : torch.Tensor
        ``[T, C]`` estimates.
    permute : bool
        Search the best estimate order (False: fixed order).
    source_names : sequence of str or None
        Names of the C sources: adds ``<name>_si-snr``, ``<name>_si-snr_i``,
        ``<name>_sdr``, ``<name>_sdr_i`` before the means.

    Returns
    -------
    dict
        ``sdr``, ``sdr_i``, ``si-snr``, ``si-snr_i`` (dB, mean over the
        sources), after the per-source scores when ``source_names``.

    Example
    -------
    >>> refs = torch.randn(1600, 2)
    >>> mix = refs.sum(-1)
    >>> scores = separation_scores(mix, refs, refs + 0.1 * torch.randn(1600, 2))
    >>> sorted(scores), scores["si-snr_i"] > 15
    (['sdr', 'sdr_i', 'si-snr', 'si-snr_i'], True)
    """
    check_sources(mixture, references, estimates)
    num = references.shape[-1]
    if source_names is not None and len(source_names) != num:
        raise ValueError(f"{len(source_names)} source names for {num} sources")
    references = references.detach().float().cpu()
    estimates = estimates.detach().float().cpu()
    # [2, T, C]: the estimates, and the mixture as the estimate of each source
    mix_as_est = mixture.detach().float().cpu()[:, None].expand(-1, num)
    candidates = torch.stack([estimates, mix_as_est])
    refs = references[None].expand_as(candidates)
    # [2, C, C] SI-SNRs; [2, C] orders (the mixture's is any: all alike)
    pairs = pairwise_si_snr(refs, candidates)
    order = torch.arange(num).repeat(2, 1)
    if permute:
        order[0] = best_permutation(pairs[:1])[0]
    # [2, C] each, in the order of the references
    si_snrs = pairs.gather(2, order[..., None])[..., 0]
    matched = permute_sources(candidates, order)
    sdrs = sdr(refs.transpose(1, 2), matched.transpose(1, 2)).float()
    per_source = {"si-snr": si_snrs[0], "si-snr_i": si_snrs[0] - si_snrs[1]}
    per_source.update({"sdr": sdrs[0], "sdr_i": sdrs[0] - sdrs[1]})
    scores = {}
    for index, name in enumerate(source_names or ()):
        for key in ("si-snr", "si-snr_i", "sdr", "sdr_i"):
            scores[f"{name}_{key}"] = float(per_source[key][index])
    for key in SCORE_KEYS:
        scores[key] = float(per_source[key].mean())
    return scores


def score_packed(scores, estimates, mixture_and_references):
    """``scores(mixture, references, estimates)`` of one utterance whose
    mixture and references come packed as ``[T, 1 + C]`` (mixture first):
    ``MetricStats`` hands a metric one prediction and one target."""
    return scores(
        mixture_and_references[:, 0], mixture_and_references[:, 1:], estimates
    )


def separation_metric_stats(scores=separation_scores, n_jobs=1):
    """A ``MetricStats`` that scores test utterances one by one.

    Append batches with ``stats.append(ids, predict=estimates [B, T, C],
    target=torch.cat([mixture[..., None], references], -1), lengths=...)``
    (relative lengths); ``stats.scores`` then holds one dict per utterance.

    Arguments
    ---------
    scores : callable
        ``(mixture [T], references [T, C], estimates [T, C]) -> dict``,
        e.g. :func:`separation_scores`; with ``n_jobs > 1`` it must be
        picklable (a module-level function or a ``functools.partial``).
    n_jobs : int
        Processes scoring in parallel (joblib), 1 for none.  Beware that
        SpeechBrain's parallel evaluation retries a batch forever when a
        worker fails.

    Example
    -------
    >>> refs = torch.randn(2, 1600, 2)
    >>> stats = separation_metric_stats()
    >>> stats.append(["a", "b"], predict=refs.flip(-1),
    ...              target=torch.cat([refs.sum(-1, keepdim=True), refs], -1),
    ...              lengths=torch.tensor([1.0, 0.5]))
    >>> stats.ids, [round(s["si-snr"]) > 100 for s in stats.scores]
    (['a', 'b'], [True, True])
    """
    return MetricStats(
        metric=functools.partial(score_packed, scores),
        n_jobs=n_jobs,
        batch_eval=False,
    )
