"""The separation model: encoder, mask network and decoder as one module.

SpeechBrain's separation recipes and ``SepformerSeparation`` each write out
encoder -> masknet -> decoder; here it is one ``nn.Module``,
:class:`TasNet`, composed in hyperpyyaml and used by training, evaluation,
inference, export and the cost benchmark.  It adds what they leave out: the
input is padded so the last samples are encoded, the output has exactly the
input's length, and each item's frame count of a padded batch reaches a mask
network that accepts it (:class:`speechbrain_galr.nnet.galr.GALR`).

The forward pass is written for the GPU and ``torch.compile``: it neither
validates its input nor reads tensor values on the host.  Public entry
points validate with :func:`check_mixtures`.

Authors
 * speechbrain-galr contributors 2026
"""

import inspect

import torch
import torch.nn.functional as F
from torch import nn


def _unwrap(module):
    """The module itself, also when DDP or DataParallel wraps it."""
    return getattr(module, "module", module)


def encoder_geometry(encoder):
    """Window length and hop (in samples) of a dual_path ``Encoder``."""
    conv = _unwrap(encoder).conv1d
    return conv.kernel_size[0], conv.stride[0]


def num_frames(num_samples, window, hop):
    """Frames the encoder makes of ``num_samples`` after :class:`TasNet`
    pads them (the last, partial hop is kept, not dropped).

    ``num_samples`` is an int, or an integer tensor (frames of each item).

    Example
    -------
    >>> num_frames(16000, 16, 8), num_frames(3, 16, 8)
    (1999, 1)
    >>> num_frames(torch.tensor([16000, 3, 17]), 16, 8)
    tensor([1999,    1,    2])
    """
    if isinstance(num_samples, torch.Tensor):
        # ceil((n - window) / hop), at least 0, in integer tensor math
        ceil = torch.div(
            num_samples - window + hop - 1, hop, rounding_mode="floor"
        )
        return ceil.clamp(min=0) + 1
    if isinstance(num_samples, int):
        # a concrete length (eager, or torch.compile with static shapes,
        # where torch.sym_max of two ints breaks the graph)
        return max(0, -(-(num_samples - window) // hop)) + 1
    # a symbolic length: non-negative operands and sym_max, so that ONNX
    # export keeps it symbolic (its Div of sizes truncates, onnx_export.py)
    longest = torch.sym_max(num_samples, window)
    return (longest - window + hop - 1) // hop + 1


def check_mixtures(mix, lengths=None):
    """Raises a one-line ValueError if ``mix`` cannot be separated.

    The checks that :class:`TasNet` leaves out of its forward pass (they
    read tensor values, which stalls a GPU); call it at public entry points.

    Arguments
    ---------
    mix : torch.Tensor
        Mixtures ``[B, T]``.
    lengths : torch.Tensor or None
        ``[B]`` relative lengths in (0, 1], or None.

    Example
    -------
    >>> check_mixtures(torch.randn(2, 100), torch.tensor([1.0, 0.5]))
    >>> check_mixtures(torch.randn(100))
    Traceback (most recent call last):
    ...
    ValueError: mixtures must be a [B, T] tensor, got (100,)
    """
    if not torch.is_tensor(mix) or mix.dim() != 2:
        shape = tuple(mix.shape) if torch.is_tensor(mix) else type(mix)
        raise ValueError(f"mixtures must be a [B, T] tensor, got {shape}")
    if mix.shape[1] == 0:
        raise ValueError("mixtures are empty (T = 0)")
    if not torch.isfinite(mix).all():
        raise ValueError("mixtures contain NaN or Inf values")
    if lengths is None:
        return
    if not torch.is_tensor(lengths) or lengths.shape != (mix.shape[0],):
        shape = tuple(lengths.shape) if torch.is_tensor(lengths) else lengths
        raise ValueError(
            f"lengths must have shape ({mix.shape[0]},), got {shape}"
        )
    if not ((lengths > 0) & (lengths <= 1)).all():
        raise ValueError("lengths must be relative lengths in (0, 1]")


def length_keyword(masknet):
    """How ``masknet.forward`` takes each item's length: ``frame_counts``
    (integer frames, the contract of :class:`speechbrain_galr.nnet.galr.
    GALR`), ``lengths`` (SpeechBrain's relative lengths) or None."""
    parameters = inspect.signature(_unwrap(masknet).forward).parameters
    for keyword in ("frame_counts", "lengths"):
        if keyword in parameters:
            return keyword
    return None


class TasNet(nn.Module):
    """A mask-based TasNet: encoder (eq. 1), mask network, decoder (eq. 16).

    Arguments
    ---------
    encoder : speechbrain.lobes.models.dual_path.Encoder
        Waveform encoder.
    masknet : torch.nn.Module
        Mask network: ``[B, D, L]`` to ``[C, B, D, L]`` (GALR or
        ``Dual_Path_Model``).  The contract for padded batches: a forward
        with a ``frame_counts`` keyword gets each item's number of frames,
        an integer ``[B]`` tensor (GALR); one with ``lengths`` gets them
        relative to ``L`` (SpeechBrain's convention); any other, none.
    decoder : speechbrain.lobes.models.dual_path.Decoder
        Waveform decoder.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.nnet.galr import GALR
    >>> model = TasNet(
    ...     Encoder(kernel_size=16, out_channels=32),
    ...     GALR(32, 32, 16, num_blocks=1, segment_size=10,
    ...          reduced_segment_size=4),
    ...     Decoder(32, 1, kernel_size=16, stride=8, bias=False),
    ... )
    >>> model(torch.randn(2, 1001)).shape
    torch.Size([2, 1001, 2])
    >>> model(torch.randn(2, 1001), torch.tensor([1.0, 0.5])).shape
    torch.Size([2, 1001, 2])
    """

    def __init__(self, encoder, masknet, decoder):
        super().__init__()
        self.encoder = encoder
        self.masknet = masknet
        self.decoder = decoder
        self.window, self.hop = encoder_geometry(encoder)
        self.length_keyword = length_keyword(masknet)

    def forward(self, mix, lengths=None):
        """Separates a batch of mixtures.

        Arguments
        ---------
        mix : torch.Tensor
            Mixtures ``[B, T]`` (validated by :func:`check_mixtures`).
        lengths : torch.Tensor or None
            ``[B]`` relative lengths of the mixtures in (0, 1]
            (SpeechBrain's ``wav_lens``); None is the same as all ones.

        Returns
        -------
        torch.Tensor
            Estimated sources ``[B, T, C]``; samples past an item's length
            are zero.
        """
        B, T = mix.shape
        frames = num_frames(T, self.window, self.hop)
        # [B, T_pad]: zeros so that the frames cover every sample
        mix = F.pad(mix, (0, (frames - 1) * self.hop + self.window - T))
        if lengths is None:
            lengths = mix.new_ones(B)
        # [B] samples of each item
        samples = torch.round(lengths.to(mix.device).float() * T).long()
        # [B, D, L]
        mix_w = self.encoder(mix)
        # [B] frames of each item
        item_frames = num_frames(samples, self.window, self.hop)
        if self.length_keyword == "frame_counts":
            est_mask = self.masknet(mix_w, frame_counts=item_frames)
        elif self.length_keyword == "lengths":
            est_mask = self.masknet(mix_w, lengths=item_frames / frames)
        else:
            est_mask = self.masknet(mix_w)
        C = est_mask.shape[0]
        # [C, B, D, L]
        sep_h = mix_w.unsqueeze(0) * est_mask
        # [C*B, D, L] -> [C*B, T_pad]
        est = self.decoder(sep_h.reshape(C * B, *sep_h.shape[2:]))
        # [C, B, T_pad] -> [B, T, C]
        est = est.view(C, B, -1)[:, :, :T].permute(1, 2, 0)
        # [B, T, 1]: zero past each item's length
        keep = torch.arange(T, device=mix.device)[None, :] < samples[:, None]
        return est * keep.unsqueeze(-1)
