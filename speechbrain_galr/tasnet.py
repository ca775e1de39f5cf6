"""The TasNet forward pass shared by training, evaluation and inference.

SpeechBrain's separation recipes and ``SepformerSeparation`` each write out
encoder -> masknet -> decoder; here it is written once, with what they leave
out: the input is padded so the last samples are encoded, the output has
exactly the input's length, and relative lengths of a padded batch reach a
mask network that accepts them (:class:`speechbrain_galr.galr.GALR`).

Authors
 * speechbrain-galr contributors 2026
"""

import inspect

import torch
import torch.nn.functional as F


def _unwrap(module):
    """The module itself, also when DDP or DataParallel wraps it."""
    return getattr(module, "module", module)


def encoder_geometry(encoder):
    """Window length and hop (in samples) of a dual_path ``Encoder``."""
    conv = _unwrap(encoder).conv1d
    return conv.kernel_size[0], conv.stride[0]


def num_frames(num_samples, window, hop):
    """Frames the encoder makes of ``num_samples`` after :func:`separate`
    pads them (the last, partial hop is kept, not dropped).

    Example
    -------
    >>> num_frames(16000, 16, 8), num_frames(3, 16, 8)
    (1999, 1)
    """
    return max(0, -(-(num_samples - window) // hop)) + 1


def _accepts_lengths(masknet):
    """Whether ``masknet.forward`` takes relative ``lengths``."""
    forward = _unwrap(masknet).forward
    return "lengths" in inspect.signature(forward).parameters


def separate(encoder, masknet, decoder, mix, lengths=None):
    """Separates a batch of mixtures with a mask-based TasNet.

    Arguments
    ---------
    encoder : speechbrain.lobes.models.dual_path.Encoder
        Waveform encoder (eq. 1).
    masknet : torch.nn.Module
        Mask network: ``[B, D, L]`` to ``[C, B, D, L]`` (GALR or
        ``Dual_Path_Model``).
    decoder : speechbrain.lobes.models.dual_path.Decoder
        Waveform decoder (eq. 16).
    mix : torch.Tensor
        Mixtures ``[B, T]``.
    lengths : torch.Tensor or None
        ``[B]`` relative lengths of the mixtures (SpeechBrain's
        ``wav_lens``), or None when all span T samples.

    Returns
    -------
    torch.Tensor
        Estimated sources ``[B, T, C]``; samples past an item's length are
        zero.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.galr import GALR
    >>> encoder = Encoder(kernel_size=16, out_channels=32)
    >>> masknet = GALR(32, 32, 16, num_blocks=1, segment_size=10,
    ...                reduced_segment_size=4)
    >>> decoder = Decoder(32, 1, kernel_size=16, stride=8, bias=False)
    >>> separate(encoder, masknet, decoder, torch.randn(2, 1001)).shape
    torch.Size([2, 1001, 2])
    """
    if not torch.is_tensor(mix) or mix.dim() != 2:
        shape = tuple(mix.shape) if torch.is_tensor(mix) else type(mix)
        raise ValueError(f"mixtures must be a [B, T] tensor, got {shape}")
    if mix.shape[1] == 0:
        raise ValueError("mixtures are empty (T = 0)")
    if not torch.isfinite(mix).all():
        raise ValueError("mixtures contain NaN or Inf values")
    B, T = mix.shape
    window, hop = encoder_geometry(encoder)
    frames = num_frames(T, window, hop)
    # [B, T_pad]: zeros so that the frames cover every sample
    mix = F.pad(mix, (0, (frames - 1) * hop + window - T))
    # [B, D, L]
    mix_w = encoder(mix)
    if lengths is not None and _accepts_lengths(masknet):
        samples = torch.round(lengths.to(mix.device) * T).long()
        item_frames = torch.tensor(
            [num_frames(int(n), window, hop) for n in samples],
            device=mix.device,
        )
        est_mask = masknet(mix_w, lengths=item_frames / frames)
    else:
        est_mask = masknet(mix_w)
    C = est_mask.shape[0]
    # [C, B, D, L]
    sep_h = mix_w.unsqueeze(0) * est_mask
    # [C*B, D, L] -> [C*B, T_pad]
    est = decoder(sep_h.reshape(C * B, *sep_h.shape[2:]))
    # [C, B, T_pad] -> [B, T, C]
    est = est.view(C, B, -1)[:, :, :T].permute(1, 2, 0)
    if lengths is not None:
        samples = torch.round(lengths.to(mix.device) * T).long()
        keep = torch.arange(T, device=mix.device)[None, :] < samples[:, None]
        est = est * keep.unsqueeze(-1)
    return est
