"""The gains that put separated sources at the mixture's scale
(``separate --keep-scale``, :mod:`speechbrain_galr.inference.output_scale`),
accumulated while the sources are written, in bounded memory.  Imported
only when asked for, so that the one-file ``custom_interface.py`` of an
exported model stays small (there, ``scale="mixture"`` is a one-line
ImportError).

Authors
 * speechbrain-galr contributors 2026
"""

import torch


class MixtureFit:
    """Accumulates, while sources are written, what is needed for the
    gains that make their sum closest to the mixture: the ``[C, C]``
    products of the sources and their ``[C]`` products with the mixture
    (float64), aligned through a queue of mixture samples (the sources
    come out later than the mixture goes in).

    Example
    -------
    >>> fit = MixtureFit()
    >>> s = torch.randn(1000, 2)
    >>> fit.push_mixture(0.5 * s[:, 0] + 2.0 * s[:, 1])
    >>> fit.push_sources(s[:600])
    >>> fit.push_sources(s[600:])
    >>> [round(g, 3) for g in fit.gains().tolist()]
    [0.5, 2.0]
    """

    def __init__(self):
        self.queue = []
        self.gram = None
        self.cross = None

    def push_mixture(self, samples):
        """Appends ``[n]`` mixture samples (the file's rate)."""
        if samples.numel():
            self.queue.append(samples.reshape(-1).double())

    def _pop_mixture(self, count):
        taken = []
        while count > 0 and self.queue:
            head = self.queue[0]
            taken.append(head[:count])
            if head.shape[0] <= count:
                self.queue.pop(0)
            else:
                self.queue[0] = head[count:]
            count -= taken[-1].shape[0]
        return (
            torch.cat(taken) if taken else torch.zeros(0, dtype=torch.float64)
        )

    def push_sources(self, est):
        """Adds ``[n, C]`` source samples aligned with the next ``n``
        mixture samples."""
        if est.shape[0] == 0:
            return
        est = est.double()
        mix = self._pop_mixture(est.shape[0])
        est = est[: mix.shape[0]]
        if self.gram is None:
            channels = est.shape[1]
            self.gram = torch.zeros(channels, channels, dtype=torch.float64)
            self.cross = torch.zeros(channels, dtype=torch.float64)
        self.gram += est.T @ est
        self.cross += est.T @ mix

    def gains(self):
        """``[C]`` gains minimising ``|mix - sum_i gain_i * source_i|^2``
        (a tiny ridge keeps silent sources at gain 0)."""
        if self.gram is None:
            return torch.ones(0, dtype=torch.float64)
        ridge = 1e-9 * (self.gram.diagonal().sum() + 1e-12)
        eye = torch.eye(self.gram.shape[0], dtype=torch.float64)
        return torch.linalg.solve(self.gram + ridge * eye, self.cross)
