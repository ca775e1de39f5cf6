"""A causal GALR separator run on a stream, block by block.

:class:`StreamingTasNet` takes audio in blocks of any size and returns the
separated audio of every block with a constant delay, the algorithmic
latency of the model (:meth:`speechbrain_galr.nnet.galr.GALR.
latency_samples`).  Its output is the causal model's output on the whole
signal (:class:`speechbrain_galr.nnet.tasnet.TasNet`), computed segment by
segment from a state whose size does not grow with the stream:

* the input samples of the encoder frame being filled;
* the encoder frames not yet masked and the bottleneck frames of the
  segment being filled (at most K of each);
* each block's attention memory: the keys and values (eq. 6-7) of the
  last ``attention_window`` segments;
* the second half of the last segment's mask rows (the overlap-add of
  Section 2.3.1) and the decoder's overlap-add tail (eq. 16).

Authors
 * speechbrain-galr contributors 2026
"""

import warnings

import torch
from torch import nn

from speechbrain_galr.nnet import frame_maps
from speechbrain_galr.nnet.attention_ring import AttentionRing
from speechbrain_galr.nnet.segments import segment_context
from speechbrain_galr.nnet.tasnet import _unwrap, num_frames


class StreamingTasNet:
    """Separates a stream block by block with a causal GALR TasNet.

    Arguments
    ---------
    model : speechbrain_galr.nnet.tasnet.TasNet
        A TasNet whose mask network is a GALR with ``causal=True``.
    batch_size : int
        Streams separated side by side (blocks are ``[batch_size, n]``).
    trace : bool
        Run the blocks of a segment as a frozen TorchScript trace (made
        once here; the same arithmetic, about 30 % less time per segment on
        a CPU) when the model has an attention window; the stream then
        reads the model's weights as they are now, and runs fp32 whatever
        the autocast state.  False: eager PyTorch (autocast applies).

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Encoder, Decoder
    >>> from speechbrain_galr.nnet.galr import GALR
    >>> from speechbrain_galr.nnet.tasnet import TasNet
    >>> model = TasNet(
    ...     Encoder(kernel_size=8, out_channels=16),
    ...     GALR(16, 16, 8, num_blocks=1, num_heads=2, segment_size=10,
    ...          causal=True, attention_window=4),
    ...     Decoder(16, 1, kernel_size=8, stride=4, bias=False),
    ... ).eval()
    >>> stream = StreamingTasNet(model)
    >>> stream.latency_samples
    43
    >>> stream.process(torch.randn(80)).shape  # [B, n, C]
    torch.Size([1, 37, 2])
    >>> stream.flush().shape  # the last 43 samples
    torch.Size([1, 43, 2])
    """

    def __init__(self, model, batch_size=1, trace=True):
        model = _unwrap(model)
        galr = _unwrap(model.masknet)
        if not getattr(galr, "causal", False):
            raise ValueError(
                "streaming needs a causal GALR (masknet causal: True, e.g. "
                "hparams/galr-causal.yaml)"
            )
        if model.training:
            raise ValueError("streaming runs a model in eval mode")
        frame_maps.check_frame_geometry(model)
        self.model, self.galr = model, galr
        self.window, self.hop = model.window, model.hop
        self.segment_size = galr.K
        self.latency_samples = galr.latency_samples(self.window, self.hop)
        self.batch_size = batch_size
        self.trace = trace and galr.attention_window is not None
        self.reset()
        # the step reads the stream's state as inputs: made once
        weight = galr.conv1d.weight
        # [B, 1, K, D]
        segment = weight.new_zeros(batch_size, 1, galr.K, weight.shape[0])
        context = segment_context(
            segment, frame_pos=galr.local_layer == "attention"
        )
        self._step = SegmentStep(galr, context)
        if self.trace:
            self._step = self._step.traced(segment, self._ring)

    def reset(self):
        """Starts a new stream."""
        B, galr = self.batch_size, self.galr
        param = galr.conv1d.weight
        D, P = param.shape[0], self.segment_size // 2
        C = galr.num_spks

        def zeros(*shape):
            return torch.zeros(shape, dtype=param.dtype, device=param.device)

        # [B, n] input from the start of the next encoder frame
        self._pending = zeros(B, 0)
        # [B, n, D_in] encoder frames not yet masked
        self._encoded = zeros(B, 0, param.shape[1])
        # [B, n, D] bottleneck frames from the start of the segment being
        # filled; the first segment starts P zero frames early (as GALR
        # pads the front of a whole signal)
        self._features = zeros(B, P, D)
        self._feature_frames = P
        # every block's keys and values of the segments attended
        globally = galr.dual_mdl[0].globally
        self._ring = AttentionRing(
            len(galr.dual_mdl),
            B,
            globally.reduced_segment_size or galr.K,
            globally.num_heads,
            D,
            galr.attention_window,
            param,
        )
        # [B, P, C*D] mask rows of the last segment's second half
        self._mask_tail = zeros(B, P, C * D)
        self._segments = 0
        # [B, C, hop] decoder overlap-add tail
        self._decoded_tail = zeros(B, C, self.hop)
        # [B, n, C] final output samples not yet returned
        self._ready = zeros(B, 0, C)
        self.received = 0
        self.emitted = 0

    def process(self, block):
        """Takes the next ``[B, n]`` (or ``[n]`` for one stream) input
        samples; returns the output samples now ``latency_samples`` old,
        ``[B, m, C]`` (m is 0 until the latency has passed)."""
        block = self._as_block(block)
        with torch.inference_mode():
            self._pending = torch.cat([self._pending, block], dim=1)
            self.received += block.shape[1]
            self._encode_full_frames()
            self._run_segments()
        return self._emit(max(0, self.received - self.latency_samples))

    def flush(self):
        """Ends the stream: pads it as the whole-signal model pads its
        input and returns the remaining ``[B, m, C]`` output samples."""
        T = self.received
        if T == 0:
            return self._ready[:, :0]
        window, hop, K = self.window, self.hop, self.segment_size
        frames = num_frames(T, window, hop)
        encoded = self._feature_frames - K // 2
        with torch.inference_mode():
            if frames > encoded:
                # [B, samples of the missing frames]: zeros, as TasNet pads
                need = (frames - encoded - 1) * hop + window
                self._pending = torch.nn.functional.pad(
                    self._pending, (0, need - self._pending.shape[1])
                )
            self._encode_full_frames(all_frames=True)
            # zero frames up to the last of GALR's S segments
            S = (2 * frames + K - 1) // K + 1
            missing = (S - 1) * (K // 2) + K - self._feature_frames
            self._features = torch.nn.functional.pad(
                self._features, (0, 0, 0, missing)
            )
            self._run_segments()
            # [B, C, hop] -> [B, hop, C]: the last frame's overlap-add
            # tail is final too
            tail = self._decoded_tail.transpose(1, 2)
            self._ready = torch.cat([self._ready, tail], 1)
        return self._emit(T)

    def _as_block(self, block):
        """``block`` as a float ``[B, n]`` tensor, or a one-line error."""
        block = torch.as_tensor(block)
        if block.dim() == 1 and self.batch_size == 1:
            block = block[None]
        if block.dim() != 2 or block.shape[0] != self.batch_size:
            raise ValueError(
                f"a block must be [{self.batch_size}, n] samples, got "
                f"shape {tuple(block.shape)}"
            )
        return block.to(self._pending.dtype).to(self._pending.device)

    def _encode_full_frames(self, all_frames=False):
        """Encodes the complete frames of the pending input once they
        complete a segment (every one with ``all_frames``): one encoder
        call per segment, not per block, and the same output."""
        window, hop = self.window, self.hop
        count = (self._pending.shape[1] - window) // hop + 1
        if count <= 0:
            return
        if not all_frames and self._features.shape[1] + count < (
            self.segment_size
        ):
            return
        # [B, count, D_in]
        encoded = frame_maps.encode(self.model, self._pending, count)
        self._pending = self._pending[:, count * hop :]
        self._encoded = torch.cat([self._encoded, encoded], dim=1)
        # [B, count, D]
        features = self.galr.causal_bottleneck(encoded)
        self._features = torch.cat([self._features, features], dim=1)
        self._feature_frames += count

    def _run_segments(self):
        """Runs every complete segment through the blocks and the mask
        head, and decodes the frames it completes."""
        K = self.segment_size
        while self._features.shape[1] >= K:
            # [B, 1, K, D]
            x = self._features[:, None, :K]
            self._features = self._features[:, K // 2 :]
            ring = self._ring
            ring.prepare()
            rows = self._step(x, ring.keys, ring.values, ring.slot, ring.bias)
            ring.advance()
            self._overlap_add(rows[:, 0])

    def _overlap_add(self, rows):
        """Adds a segment's mask rows ``[B, K, C*D]`` to the overlap-add
        and decodes the P frames that are now complete."""
        P = self.segment_size // 2
        complete = self._mask_tail + rows[:, :P]
        self._mask_tail = rows[:, P:]
        self._segments += 1
        if self._segments == 1:
            # frames -P..-1: GALR's front padding
            return
        n = min(P, self._encoded.shape[1])
        if n == 0:
            return
        B, C = self.batch_size, self.galr.num_spks
        # [B, n, C, D]
        complete = complete[:, :n].view(B, n, C, -1)
        masks = frame_maps.frame_masks(self.galr, complete)
        # [B, n, C, D_in]: masks times the encoder frames (eq. 16)
        masked = masks * self._encoded[:, :n, None]
        self._encoded = self._encoded[:, n:]
        samples, self._decoded_tail = frame_maps.decode(
            self.model, masked, self._decoded_tail
        )
        self._ready = torch.cat([self._ready, samples], dim=1)

    def _emit(self, until):
        """Returns the output samples up to sample ``until``."""
        count = until - self.emitted
        if count > self._ready.shape[1]:
            raise RuntimeError(
                f"stream output {self.emitted}+{count} is not ready "
                f"({self._ready.shape[1]} samples)"
            )
        out = self._ready[:, :count]
        self._ready = self._ready[:, count:]
        self.emitted += count
        return out


class SegmentStep(nn.Module):
    """The blocks and the mask rows of a causal GALR on one segment.

    ``forward(x, keys, values, slot, bias)``: ``x`` ``[B, 1, K, D]``, the
    per-block keys and values of an :class:`~speechbrain_galr.nnet.
    attention_ring.AttentionRing` (updated in place), the new segment's
    ``slot`` and the ring's ``bias``; returns the mask rows ``[B, 1, K,
    C*D]`` (:meth:`~speechbrain_galr.nnet.galr.GALR.mask_rows`).

    Arguments
    ---------
    galr : speechbrain_galr.nnet.galr.GALR
        A causal GALR.
    context : speechbrain_galr.nnet.segments.SegmentContext
        Of one segment (the local layers read it).
    """

    def __init__(self, galr, context):
        super().__init__()
        self.galr = galr
        self.context = context

    def forward(self, x, keys, values, slot, bias):
        for block, key, value in zip(self.galr.dual_mdl, keys, values):
            x = block.forward_step(x, (key, value, slot, bias), self.context)
        return self.galr.mask_rows(x)

    def traced(self, x, ring):
        """This step as a frozen TorchScript trace for inputs shaped as
        ``x`` and ``ring``'s, run twice (the ring is left as it was)."""
        keys = [k.clone() for k in ring.keys]
        values = [v.clone() for v in ring.values]
        inputs = (x, keys, values, ring.slot.clone(), ring.bias.clone())
        with torch.inference_mode(False), torch.no_grad():
            with warnings.catch_warnings():
                # torch 2.11 marks TorchScript deprecated (for torch.compile,
                # whose compile takes far longer than a stream's set-up)
                warnings.simplefilter("ignore", DeprecationWarning)
                traced = torch.jit.trace(self.eval(), inputs, check_trace=False)
                frozen = torch.jit.freeze(traced)
                step = torch.jit.optimize_for_inference(frozen)
            # the profiling executor specialises the graph on its first
            # runs (25 ms instead of 2): done here, not on a live stream
            for _ in range(2):
                step(*inputs)
            return step
