"""Separation metrics: BSS-eval SDR/SIR/SAR and SI-SNR improvements.

:func:`bss_eval_sources` computes what ``mir_eval.separation.
bss_eval_sources`` computes (BSS-eval v3, Vincent et al. 2006): each
estimate is projected by least squares onto the delayed copies (0 to 511
samples) of its reference and of all references; the projections split it
into target, interference and artifacts.  It is written with NumPy and
SciPy alone, so the package does not need mir_eval, and computes the Gram
matrix of the references once, factorised (Cholesky), for all the
estimates of the same references (mir_eval recomputes and solves it for
every estimate-reference pair).  ``tests/test_metrics.py`` checks it
against mir_eval.

Authors
 * speechbrain-galr contributors 2026
"""

import itertools

import numpy as np
import torch
from scipy.linalg import toeplitz
from scipy.signal import fftconvolve
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

FILTER_LENGTH = 512
"""Taps of the distortion filters of BSS-eval (mir_eval's value)."""


def _safe_db(num, den):
    """``10 log10(num / den)``, +inf where ``den`` is zero (as mir_eval)."""
    if den == 0:
        return np.inf
    return 10 * np.log10(num / den)


def _check_sources(reference_sources, estimated_sources):
    """Returns both as float64 ``[C, T]`` arrays or raises a named error."""
    refs = np.asarray(reference_sources, dtype=np.float64)
    ests = np.asarray(estimated_sources, dtype=np.float64)
    if refs.ndim == 1:
        refs, ests = refs[None], ests.reshape(1, -1)
    if refs.shape != ests.shape:
        raise ValueError(
            f"reference sources {refs.shape} and estimated sources "
            f"{ests.shape} must have the same [C, T] shape"
        )
    if refs.ndim != 2 or refs.shape[1] == 0:
        raise ValueError(
            f"sources must be a non-empty [C, T] array, got {refs.shape}"
        )
    if not (np.isfinite(refs).all() and np.isfinite(ests).all()):
        raise ValueError("sources contain NaN or Inf values")
    for name, arr in (("reference", refs), ("estimated", ests)):
        silent = np.flatnonzero(~np.any(arr != 0, axis=1))
        if silent.size:
            raise ValueError(
                f"{name} source(s) {silent.tolist()} are all zeros; "
                "BSS-eval is undefined for silent sources"
            )
    return refs, ests


def _delayed_correlation(x_fft, y_fft, flen):
    """Correlations ``sum_t x[t + d] y[t]`` for d = 0 and d = -1..-(flen-1)
    (first column of the Toeplitz block), from zero-padded FFTs."""
    corr = np.real(np.fft.ifft(x_fft * np.conj(y_fft)))
    return corr, np.hstack((corr[0], corr[-1:-flen:-1]))


class ReferenceProjector:
    """Least-squares projections on delayed copies of reference sources.

    Holds the Gram matrix of the references' delayed copies and its
    Cholesky factors (all references together, and each alone), so that
    any number of estimates of the same references (e.g. a model's output
    and the mixture) are scored without refactoring.

    Arguments
    ---------
    reference_sources : numpy.ndarray
        ``[C, T]`` float64 references.
    filter_length : int
        Taps of the distortion filters.
    """

    def __init__(self, reference_sources, filter_length=FILTER_LENGTH):
        self.refs = reference_sources
        nsrc, nsampl = reference_sources.shape
        flen = self.flen = filter_length
        self.n_fft = int(2 ** np.ceil(np.log2(nsampl + flen - 1.0)))
        self.ref_fft = np.fft.fft(reference_sources, n=self.n_fft, axis=1)
        # Gram matrix of the delayed references: [C*flen, C*flen]
        gram = np.zeros((nsrc * flen, nsrc * flen))
        for i in range(nsrc):
            for j in range(i + 1):
                corr, first_col = _delayed_correlation(
                    self.ref_fft[i], self.ref_fft[j], flen
                )
                block = toeplitz(first_col, r=corr[:flen])
                gram[i * flen : (i + 1) * flen, j * flen : (j + 1) * flen] = (
                    block
                )
                gram[j * flen : (j + 1) * flen, i * flen : (i + 1) * flen] = (
                    block.T
                )
        self.full = _Solver(gram)
        self.own = [
            _Solver(gram[j * flen : (j + 1) * flen, j * flen : (j + 1) * flen])
            for j in range(nsrc)
        ]

    def scores(self, estimated_sources, pairs):
        """SDR, SIR, SAR ``[C, C]`` (estimate, reference) for ``pairs``."""
        nsrc, nsampl = self.refs.shape
        flen = self.flen
        out_len = nsampl + flen - 1
        est_fft = np.fft.fft(estimated_sources, n=self.n_fft, axis=1)
        sdr = np.full((nsrc, nsrc), np.nan)
        sir = np.full((nsrc, nsrc), np.nan)
        sar = np.full((nsrc, nsrc), np.nan)
        for k in range(nsrc):
            # inner products of estimate k with every delayed reference
            rhs = np.concatenate(
                [
                    _delayed_correlation(self.ref_fft[i], est_fft[k], flen)[1]
                    for i in range(nsrc)
                ]
            )
            filters = self.full(rhs).reshape(nsrc, flen)
            full_proj = np.zeros(out_len)
            for i in range(nsrc):
                full_proj += fftconvolve(filters[i], self.refs[i])[:out_len]
            est_pad = np.zeros(out_len)
            est_pad[:nsampl] = estimated_sources[k]
            e_artif = est_pad - full_proj
            for j in pairs[k]:
                own = self.own[j](rhs[j * flen : (j + 1) * flen])
                s_filt = fftconvolve(own, self.refs[j])[:out_len]
                e_interf = full_proj - s_filt
                num = np.sum(s_filt**2)
                sdr[k, j] = _safe_db(num, np.sum((e_interf + e_artif) ** 2))
                sir[k, j] = _safe_db(num, np.sum(e_interf**2))
                sar[k, j] = _safe_db(np.sum(full_proj**2), np.sum(e_artif**2))
        return sdr, sir, sar


class _Solver:
    """Solves ``G x = b`` for a symmetric Gram matrix G: Cholesky factor
    computed once (with torch, whose thread count the training sets; a
    multi-threaded OpenBLAS is very slow on a busy machine), least squares
    (mir_eval's fallback) if G is singular.
    """

    def __init__(self, gram):
        self.gram = torch.from_numpy(gram)
        factor, info = torch.linalg.cholesky_ex(self.gram)
        self.factor = factor if int(info) == 0 else None

    def __call__(self, rhs):
        rhs = torch.from_numpy(np.ascontiguousarray(rhs))[:, None]
        if self.factor is not None:
            return torch.cholesky_solve(rhs, self.factor)[:, 0].numpy()
        return torch.linalg.lstsq(self.gram, rhs).solution[:, 0].numpy()


def bss_eval_sources(
    reference_sources,
    estimated_sources,
    compute_permutation=True,
    filter_length=FILTER_LENGTH,
    projector=None,
):
    """BSS-eval v3 SDR, SIR and SAR of estimated sources.

    Same definition and results as ``mir_eval.separation.
    bss_eval_sources`` (with its fixed 512-tap distortion filters):
    ``SDR = 10 log10(|s_filt|^2 / |e_interf + e_artif|^2)`` where
    ``s_filt`` is the estimate projected on the delayed copies of its
    reference.  With ``compute_permutation`` the estimates are matched to
    the references by the permutation of best mean SIR, as mir_eval does.

    Arguments
    ---------
    reference_sources : array_like
        ``[C, T]`` true sources (or ``[T]`` for one source).
    estimated_sources : array_like
        ``[C, T]`` estimates.
    compute_permutation : bool
        Whether to search the best estimate-to-reference matching.
    filter_length : int
        Taps of the distortion filters (512 in BSS-eval).
    projector : ReferenceProjector or None
        Reuse the factorised Gram matrix of these references (built when
        None).

    Returns
    -------
    sdr, sir, sar : numpy.ndarray
        ``[C]`` values in dB, for reference ``j`` and its matched estimate.
    perm : numpy.ndarray
        ``[C]`` index of the estimate matched with each reference.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> refs = rng.standard_normal((2, 8000))
    >>> ests = refs[::-1] + 0.1 * rng.standard_normal((2, 8000))
    >>> sdr, sir, sar, perm = bss_eval_sources(refs, ests)
    >>> sdr.shape, perm.tolist(), bool((sdr > 15).all())
    ((2,), [1, 0], True)
    """
    refs, ests = _check_sources(reference_sources, estimated_sources)
    nsrc = refs.shape[0]
    if projector is None:
        projector = ReferenceProjector(refs, filter_length)
    dum = np.arange(nsrc)
    if not compute_permutation:
        sdr, sir, sar = projector.scores(ests, [[k] for k in range(nsrc)])
        return sdr[dum, dum], sir[dum, dum], sar[dum, dum], dum
    sdr, sir, sar = projector.scores(ests, [list(dum)] * nsrc)
    perms = list(itertools.permutations(range(nsrc)))
    mean_sir = [np.mean(sir[list(perm), dum]) for perm in perms]
    best = np.asarray(perms[int(np.argmax(mean_sir))])
    return sdr[best, dum], sir[best, dum], sar[best, dum], best


def si_snr(references, estimates):
    """Permutation-invariant SI-SNR in dB (eq. 17 without the minus sign).

    Arguments
    ---------
    references : torch.Tensor
        ``[B, T, C]`` sources.
    estimates : torch.Tensor
        ``[B, T, C]`` estimates.

    Returns
    -------
    torch.Tensor
        ``[B]`` SI-SNR averaged over the sources, best permutation.

    Example
    -------
    >>> refs = torch.randn(3, 800, 2)
    >>> si_snr(refs, refs.flip(-1) + 0.01 * torch.randn(3, 800, 2)).shape
    torch.Size([3])
    """
    return -get_si_snr_with_pitwrapper(references, estimates.clone())


def separation_scores(mixture, references, estimates):
    """SDR, SDRi, SI-SNR and SI-SNRi of one separated mixture.

    Arguments
    ---------
    mixture : torch.Tensor
        ``[T]`` mixture.
    references : torch.Tensor
        ``[T, C]`` true sources.
    estimates : torch.Tensor
        ``[T, C]`` estimates (any order; SI-SNR uses the best permutation,
        SDR the permutation of best SIR, as the SepFormer recipe does).

    Returns
    -------
    dict
        ``sdr``, ``sdr_i``, ``si-snr``, ``si-snr_i`` (dB, mean over sources).

    Example
    -------
    >>> refs = torch.randn(1600, 2)
    >>> mix = refs.sum(-1)
    >>> scores = separation_scores(mix, refs, refs + 0.1 * torch.randn(1600, 2))
    >>> sorted(scores), scores["si-snr_i"] > 15
    (['sdr', 'sdr_i', 'si-snr', 'si-snr_i'], True)
    """
    if mixture.dim() != 1 or references.dim() != 2:
        raise ValueError(
            f"expected mixture [T] and references [T, C], got "
            f"{tuple(mixture.shape)} and {tuple(references.shape)}"
        )
    if estimates.shape != references.shape:
        raise ValueError(
            f"estimates {tuple(estimates.shape)} and references "
            f"{tuple(references.shape)} must have the same [T, C] shape"
        )
    num_spks = references.shape[-1]
    references = references.detach().float().cpu()
    estimates = estimates.detach().float().cpu()
    # [1, T, C]: the mixture as the estimate of every source
    mix_as_est = mixture.detach().float().cpu()[None, :, None]
    mix_as_est = mix_as_est.expand(1, -1, num_spks).contiguous()
    sisnr = float(si_snr(references[None], estimates[None])[0])
    sisnr_mix = float(si_snr(references[None], mix_as_est)[0])
    refs_np, _ = _check_sources(references.t().numpy(), references.t().numpy())
    projector = ReferenceProjector(refs_np)
    sdr, _, _, _ = bss_eval_sources(
        refs_np, estimates.t().numpy(), projector=projector
    )
    sdr_mix, _, _, _ = bss_eval_sources(
        refs_np, mix_as_est[0].t().numpy(), projector=projector
    )
    return {
        "sdr": float(sdr.mean()),
        "sdr_i": float(sdr.mean() - sdr_mix.mean()),
        "si-snr": sisnr,
        "si-snr_i": sisnr - sisnr_mix,
    }
