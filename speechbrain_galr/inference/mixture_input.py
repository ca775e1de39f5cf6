"""Mixtures given to the Python API, checked once at its entry points.

``GALRSeparation.separate_batch`` and ``separate_chunked`` take ``[B, T]``
tensors; a NumPy array or a list of samples is converted, and what cannot
be separated (not numbers, an empty batch, NaN values, lengths out of
(0, 1]) is a one-line :class:`MixtureError` (the network's own
:func:`speechbrain_galr.nnet.tasnet.check_mixtures` raises a plain
ValueError: the network imports nothing else of the package).

Authors
 * speechbrain-galr contributors 2026
"""

from speechbrain_galr.errors import GALRError
from speechbrain_galr.nnet.tasnet import as_mixtures, check_mixtures


class MixtureError(GALRError):
    """Mixtures (or lengths) given to the API that cannot be separated."""


def checked_mixtures(mix, lengths=None):
    """``mix`` and ``lengths`` as checked tensors, or a one-line
    :class:`MixtureError`.

    Example
    -------
    >>> import torch
    >>> checked_mixtures([[0.1, 0.2]])[0]
    tensor([[0.1000, 0.2000]])
    >>> checked_mixtures(torch.zeros(0, 8))
    Traceback (most recent call last):
    ...
    speechbrain_galr.inference.mixture_input.MixtureError: no mixtures to \
separate (an empty batch, B = 0)
    """
    try:
        mix, lengths = as_mixtures(mix, lengths)
        if not mix.is_floating_point():
            raise ValueError(
                f"mixtures must be floating-point samples, got {mix.dtype}"
            )
        check_mixtures(mix, lengths)
    except ValueError as err:
        raise MixtureError(str(err)) from None
    return mix, lengths
