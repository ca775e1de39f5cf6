"""The per-frame maps of a GALR TasNet as matrix products, frame-major.

A stream (:mod:`speechbrain_galr.nnet.streaming`) takes a few frames at a
time; for them, the 1-D convolutions of the encoder (eq. 1), the mask head
(eq. 14-15) and the decoder (eq. 16) are
small matrix products over ``[B, n, features]`` frames, with one dispatch
each and no layout copies (convolutions over ``[B, features, n]`` cost
several times more per call at this size).  The arithmetic is the
convolutions': window ``M`` and hop ``M / 2``, as SpeechBrain's dual_path
``Encoder`` and ``Decoder`` have in the recipes.

Authors
 * speechbrain-galr contributors 2026
"""

import torch
import torch.nn.functional as F


def check_frame_geometry(model):
    """Raises a one-line ValueError unless the encoder and decoder are
    convolutions with hop = window / 2 and no decoder bias."""
    encoder = getattr(model.encoder, "conv1d", None)
    decoder = model.decoder
    if (
        encoder is None
        or encoder.in_channels != 1
        or not hasattr(decoder, "weight")
        or decoder.weight.shape[1] != 1
        or decoder.bias is not None
        or model.window != 2 * model.hop
    ):
        raise ValueError(
            "streaming needs SpeechBrain's dual_path Encoder and Decoder "
            "(one channel, hop = window / 2, no decoder bias)"
        )


def encode(model, samples, frames):
    """Encoder (eq. 1): ``frames`` frames of ``samples`` ``[B, L]`` to
    ``[B, frames, D_in]`` (ReLU of the filter bank)."""
    conv = model.encoder.conv1d
    # [B, frames, M]: a view of the samples
    windows = samples.unfold(1, model.window, model.hop)[:, :frames]
    return F.relu(F.linear(windows, conv.weight[:, 0], conv.bias))


def frame_masks(galr, rows):
    """Eq. 14-15 on overlap-added mask rows ``[B, n, C, D]``: masks
    ``[B, n, C, D_in]``."""
    out, gate = galr.output[0], galr.output_gate[0]
    # eq. 14
    x = torch.tanh(F.linear(rows, out.weight[:, :, 0], out.bias))
    x = x * torch.sigmoid(F.linear(rows, gate.weight[:, :, 0], gate.bias))
    # eq. 15
    return F.relu(F.linear(x, galr.end_conv1x1.weight[:, :, 0]))


def decode(model, masked, tail):
    """Decoder (eq. 16) of ``[B, n, C, D_in]`` masked frames, added to the
    previous frame's overlap ``tail`` ``[B, C, hop]``.

    Returns
    -------
    samples : torch.Tensor
        ``[B, n * hop, C]``, complete.
    tail : torch.Tensor
        ``[B, C, hop]``: the last frame's second half, for the next call.
    """
    B, n, C, _ = masked.shape
    hop = model.hop
    # [B, n, C, M]: each frame's M output samples
    frames = F.linear(masked, model.decoder.weight[:, 0].t())
    first, second = frames[..., :hop], frames[..., hop:]
    # frame f's first half overlaps frame f - 1's second half
    previous = torch.cat([tail[:, None], second[:, :-1]], dim=1)
    # [B, n, C, hop] -> [B, n * hop, C]
    samples = (first + previous).permute(0, 1, 3, 2).reshape(B, n * hop, C)
    return samples, second[:, -1]
