"""The level at which separated sources are written.

Two policies (``separate --keep-scale`` picks the second):

* ``"peak"`` (default, as SpeechBrain's ``separate_file``, which scales to
  a peak of 1): each source is scaled on its own to a peak of
  :data:`PEAK` (-0.1 dBFS), so a quiet recording comes out at full scale
  and the sources no longer sum to the mixture;
* ``"mixture"``: the sources keep the mixture's scale.  A model trained
  with the scale-invariant SI-SNR gives no scale of its own, so each
  source gets the one gain that makes the sum of the sources closest to
  the mixture (least squares over the whole file,
  :class:`~speechbrain_galr.inference.mixture_fit.MixtureFit`); if a
  source would then clip, all are scaled down together by one gain, with
  a warning, so their levels stay comparable.

Authors
 * speechbrain-galr contributors 2026
"""

import math

import torch
from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

PEAK = 0.99
"""Peak of a peak-normalised source (-0.09 dBFS); also the highest peak
written at the mixture's scale (16-bit PCM clips at 1)."""

SCALES = ("peak", "mixture")


def check_scale(scale):
    """Raises ValueError unless ``scale`` is one of :data:`SCALES`.

    Example
    -------
    >>> check_scale("loud")
    Traceback (most recent call last):
    ...
    ValueError: scale is one of ('peak', 'mixture'), not 'loud'
    """
    if scale not in SCALES:
        raise ValueError(f"scale is one of {SCALES}, not {scale!r}")


def source_gains(peaks, scale="peak", fit=None, name="the input"):
    """The gain of each source when it is written.

    Arguments
    ---------
    peaks : torch.Tensor
        ``[C]`` peak magnitudes of the sources as the model gave them.
    scale : str
        ``"peak"`` or ``"mixture"`` (module docstring).
    fit : speechbrain_galr.inference.mixture_fit.MixtureFit or None
        The fit of the sources to the mixture (for ``"mixture"``).
    name : str
        The input, for the warning.

    Returns
    -------
    list of float

    Example
    -------
    >>> source_gains(torch.tensor([0.5, 0.0]))
    [1.98, 1.0]
    """
    peaks = peaks.double()
    if scale == "peak":
        return [PEAK / p if p > 1e-8 else 1.0 for p in peaks.tolist()]
    check_scale(scale)
    gains = fit.gains() if fit is not None else torch.ones_like(peaks)
    highest = float((gains.abs() * peaks).max()) if peaks.numel() else 0.0
    if highest > PEAK:
        logger.warning(
            f"warning: at the mixture's scale a source of {name} would "
            f"clip (peak {20 * math.log10(highest):+.1f} dBFS); all "
            f"sources scaled down together by "
            f"{20 * math.log10(highest / PEAK):.1f} dB"
        )
        gains = gains * (PEAK / highest)
    return gains.tolist()
