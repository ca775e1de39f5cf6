"""Cost measurements of TasNets: parameters, FLOPs, peak memory and time.

The pieces of ``python -m speechbrain_galr.benchmark`` (issue #6, Table 3
of the paper): one model builder for GALR and its two dual-path baselines
(DPRNN and a dual-path transformer), a FLOP counter built on ptflops, the
counter the paper used, and peak-memory and time measurements of inference
and of a training step.

FLOPs
-----
ptflops' ``pytorch`` backend is used, with module hooks only
(``count_functional=False``, as ptflops counted when the paper was
written): an ``nn.Linear``/convolution counts ``in x out (+ bias)`` MACs per
output position, an ``nn.LSTM`` the MACs of its gate products plus the
element-wise gate arithmetic per step and direction, ``nn.LayerNorm`` and
``nn.GroupNorm`` two per element, ``nn.MultiheadAttention`` its projections
plus ``S^2 d`` for ``QK^T``, ``S^2 d`` for ``AV``, ``S^2`` per head for the
softmax and ``S d`` for the query scaling.  ptflops' ``aten`` backend
counts neither LSTMs (``mkldnn_rnn_layer``) nor fused attention, so it is
not used.  GALR's own layers get hooks that follow the same conventions
(:func:`galr_flop_hooks`): the globally attentive layer is counted as a
whole, since it calls ``F.scaled_dot_product_attention``, which ptflops
does not see.  Residual additions, positional encodings, ReLU-free
activations (tanh, sigmoid) and the mask product are not counted, for any
model.  The figures are MACs; FLOPs are twice that.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import ctypes
import gc
import io
import json
import os
import subprocess
import sys
import threading
import time

import torch
from speechbrain.lobes.models.dual_path import (
    Decoder,
    Dual_Path_Model,
    Encoder,
    SBRNNBlock,
    SBTransformerBlock,
)
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from speechbrain_galr.galr import (
    GALR,
    GloballyAttentiveLayer,
    SegmentLayerNorm,
)
from speechbrain_galr.tasnet import TasNet

SAMPLE_RATE = 8000
# glibc returns blocks of this size or more to the system when they are
# freed (a fixed threshold: no dynamic raise), so that the peak resident
# memory of a pass is the peak of the memory in use, whatever ran before
MMAP_THRESHOLD = 128 * 1024
MODELS = ("GALR", "DPRNN", "DP-Transformer")
MIB = 2**20


def build_tasnet(
    model,
    D,
    M,
    K,
    Q=None,
    hidden=128,
    num_blocks=6,
    num_spks=2,
):
    """Builds a TasNet of Table 3 the way the recipes do.

    The encoder is SpeechBrain's ``Encoder(M, D)`` and the decoder
    ``Decoder(D, 1, M, stride=M // 2, bias=False)``; the mask networks:

    * ``"GALR"``: ``GALR(D, D, hidden, num_blocks, 8, K, Q, num_spks)``
      (J = 8 heads, Section 3.1);
    * ``"DPRNN"``: ``Dual_Path_Model`` with a Bi-LSTM ``SBRNNBlock(D,
      hidden)`` as intra and as inter block and the linear layer after each
      (the paper's DPRNN, 2.6M parameters at D=64);
    * ``"DP-Transformer"``: ``Dual_Path_Model`` with an
      ``SBTransformerBlock`` (one pre-norm layer, 4 heads as DPTNet, a
      feed-forward of 4D units, positional encoding) as intra and as inter
      block: DPTNet-like, but without DPTNet's recurrent feed-forward.

    Arguments
    ---------
    model : str
        One of ``MODELS``.
    D : int
        Encoder filters (and features in the blocks).
    M : int
        Window length in samples (hop M/2).
    K : int
        Segment size in frames.
    Q : int or None
        GALR's reduced segment size (ignored by the baselines).
    hidden : int
        Hidden units per LSTM direction (GALR and DPRNN).
    num_blocks : int
        Dual-path (or GALR) blocks.
    num_spks : int
        Number of sources.

    Returns
    -------
    TasNet

    Example
    -------
    >>> net = build_tasnet("DPRNN", 64, 16, 100)
    >>> sum(p.numel() for p in net.parameters())
    2609793
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}, expected one of {MODELS}")
    encoder = Encoder(kernel_size=M, out_channels=D)
    decoder = Decoder(D, 1, kernel_size=M, stride=M // 2, bias=False)
    if model == "GALR":
        masknet = GALR(D, D, hidden, num_blocks, 8, K, Q, num_spks)
        return TasNet(encoder, masknet, decoder)

    def block():
        if model == "DPRNN":
            return SBRNNBlock(D, hidden, 1, bidirectional=True)
        return SBTransformerBlock(
            1, D, 4, d_ffn=4 * D, use_positional_encoding=True,
            norm_before=True,
        )  # fmt: skip

    masknet = Dual_Path_Model(
        D,
        D,
        block(),
        block(),
        num_layers=num_blocks,
        norm="ln",
        K=K,
        num_spks=num_spks,
        # the linear layer after each path is DPRNN's (the Bi-LSTM's 2H
        # outputs back to D); the transformer blocks already output D
        linear_layer_after_inter_intra=model == "DPRNN",
    )
    return TasNet(encoder, masknet, decoder)


def count_parameters(module):
    """Number of trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _segment_norm_hook(module, inputs, output):
    """ptflops hook of :class:`SegmentLayerNorm`: as ``nn.LayerNorm``."""
    module.__flops__ += 2 * inputs[0].numel()


def attention_layer_macs(layer, x):
    """MACs of a :class:`GloballyAttentiveLayer` on ``x`` ``[B, S, K, D]``.

    Follows ptflops' conventions: each linear map ``in x out + out`` per
    output row (C_map and C_inv map rows, eq. 12-13), each layer norm two
    per element, and per attended sequence of S segments (J heads of D/J
    features) ``S D`` for the query scaling, ``S^2 D`` for ``QK^T``,
    ``J S^2`` for the softmax and ``S^2 D`` for the product with V (eq. 8),
    as ptflops counts ``nn.MultiheadAttention``.

    Arguments
    ---------
    layer : GloballyAttentiveLayer
        The layer.
    x : torch.Tensor
        Its input (only the shape is used).

    Returns
    -------
    int

    Example
    -------
    >>> layer = GloballyAttentiveLayer(64, 8, 100, 32)
    >>> attention_layer_macs(layer, torch.zeros(1, 21, 100, 64))
    22095360
    """
    B, S, K, D = x.shape
    J = layer.num_heads
    R = layer.reduced_segment_size or K
    macs = 0
    if layer.reduced_segment_size:
        # C_map and C_inv
        macs += B * S * (R * K * D + R * D) + B * S * (K * R * D + K * D)
    rows = B * S * R
    # LN_D (eq. 4) and LN (eq. 10)
    macs += 2 * 2 * rows * D
    # in_proj (eq. 5-7) and out_proj (eq. 9)
    macs += rows * (3 * D * D + 3 * D) + rows * (D * D + D)
    # eq. 8 on B*R sequences of S segments
    macs += B * R * (S * D + 2 * S * S * D + J * S * S)
    return macs


def _attention_layer_hook(module, inputs, output):
    """ptflops hook of :class:`GloballyAttentiveLayer`."""
    module.__flops__ += attention_layer_macs(module, inputs[0])


def galr_flop_hooks():
    """ptflops ``custom_modules_hooks`` for GALR's own layers.

    Returns
    -------
    dict
        Module class to hook; ptflops' own hooks count the Bi-LSTM, the
        linear layers, the convolutions and the norms of the mask head.
    """
    return {
        SegmentLayerNorm: _segment_norm_hook,
        GloballyAttentiveLayer: _attention_layer_hook,
    }


def count_macs(net, seconds=1.0, sample_rate=SAMPLE_RATE):
    """MACs of one forward pass on a mixture of ``seconds`` seconds.

    Counted with ptflops (pytorch backend, module hooks, with
    :func:`galr_flop_hooks`); see the module docstring for what counts.

    Arguments
    ---------
    net : TasNet
        The model (put in eval mode by ptflops).
    seconds : float
        Input duration.
    sample_rate : int
        Sampling rate of the input.

    Returns
    -------
    int
        Multiply-accumulate operations (FLOPs are twice this).

    Example
    -------
    >>> net = build_tasnet("GALR", 16, 16, 10, 4, hidden=8, num_blocks=1)
    >>> count_macs(net, 0.1) > 0
    True
    """
    from ptflops import get_model_complexity_info

    samples = int(round(seconds * sample_rate))
    if samples < 1:
        raise ValueError(f"seconds must give at least one sample: {seconds}")
    device = next(net.parameters()).device
    # ptflops prints its warnings and errors: kept for the error message
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        macs, _ = get_model_complexity_info(
            net,
            (samples,),
            input_constructor=lambda shape: {
                "mix": torch.randn(1, *shape, device=device)
            },
            as_strings=False,
            print_per_layer_stat=False,
            verbose=False,
            custom_modules_hooks=galr_flop_hooks(),
            backend="pytorch",
            backend_specific_config={"count_functional": False},
        )
    if macs is None:
        raise RuntimeError(
            f"ptflops could not count the model: {printed.getvalue()}"
        )
    return int(macs)


def training_step(net, mix, num_spks=2):
    """One training step without the optimizer: forward, loss, backward.

    The loss is SpeechBrain's permutation-invariant SI-SNR against random
    targets (the cost does not depend on their values); gradients are
    cleared first (set to None, so that their memory counts).

    Arguments
    ---------
    net : TasNet
        The model, in train mode.
    mix : torch.Tensor
        ``[B, T]`` mixtures.
    num_spks : int
        Number of sources.

    Example
    -------
    >>> net = build_tasnet("GALR", 16, 16, 10, 4, hidden=8, num_blocks=1)
    >>> training_step(net, torch.randn(1, 800))
    """
    for p in net.parameters():
        p.grad = None
    targets = torch.randn(*mix.shape, num_spks, device=mix.device)
    loss = get_si_snr_with_pitwrapper(targets, net(mix)).mean()
    loss.backward()


def inference(net, mix):
    """One forward pass without gradients.

    Example
    -------
    >>> net = build_tasnet("GALR", 16, 16, 10, 4, hidden=8, num_blocks=1)
    >>> inference(net.eval(), torch.randn(1, 800)).shape
    torch.Size([1, 800, 2])
    """
    with torch.no_grad():
        return net(mix)


def run_step(net, mode, mix):
    """Runs ``mode`` ("infer" or "train") on ``mix``, setting the mode."""
    if mode == "infer":
        net.eval()
        inference(net, mix)
    elif mode == "train":
        net.train()
        training_step(net, mix)
    else:
        raise ValueError(f"mode must be 'infer' or 'train', got {mode!r}")


# ---------------------------------------------------------------- memory


def _read_status_kib(field):
    """A ``VmXXX`` field of /proc/self/status in KiB."""
    with open("/proc/self/status") as fin:
        for line in fin:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss():
    """Resets the kernel's peak-RSS mark (VmHWM) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as fout:
        fout.write("5")


def peak_rss_method():
    """How CPU peak memory can be measured here.

    Returns
    -------
    str
        ``"vmhwm"`` where Linux lets a process reset its peak resident set
        (``/proc/self/clear_refs``, Linux >= 4.0), read exactly from
        ``/proc/self/status``; ``"sampled"`` elsewhere: the resident set
        read by psutil every millisecond during the pass (a spike shorter
        than that can be missed).
    """
    try:
        _reset_peak_rss()
        _read_status_kib("VmHWM")
        return "vmhwm"
    except (OSError, RuntimeError):
        return "sampled"


def _current_rss_bytes():
    try:
        return _read_status_kib("VmRSS") * 1024
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


class _RSSSampler(threading.Thread):
    """Reads the resident set every ``interval`` seconds until stopped."""

    def __init__(self, interval=1e-3):
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.peak = self.process.memory_info().rss
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self):
        """Stops sampling and returns the peak in bytes."""
        self.done.set()
        self.join()
        return max(self.peak, self.process.memory_info().rss)


def _release_free_memory():
    """Returns freed heap pages to the system so that RSS is live memory."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def _measure_in_this_process(spec):
    """Peak-RSS increase of each pass of ``spec`` (see ``memory_worker``)."""
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    net = build_tasnet(
        spec["model"], spec["D"], spec["M"], spec["K"], spec["Q"]
    )
    method = spec["method"]
    results = {}
    # a short pass of each mode first: libraries allocate their workspaces
    # and caches once, which is not the cost of a pass
    for mode in {mode for mode, _ in spec["passes"]}:
        run_step(net, mode, torch.randn(1, SAMPLE_RATE // 4))
    for mode, seconds in spec["passes"]:
        mix = torch.randn(1, int(seconds * SAMPLE_RATE))
        for p in net.parameters():
            p.grad = None
        _release_free_memory()
        base = _current_rss_bytes()
        if method == "vmhwm":
            _reset_peak_rss()
        else:
            sampler = _RSSSampler()
            sampler.start()
        run_step(net, mode, mix)
        if method == "vmhwm":
            peak = _read_status_kib("VmHWM") * 1024
        else:
            peak = sampler.stop()
        results[f"{mode}_{seconds:g}s"] = max(0, peak - base) / MIB
    return results


def memory_worker(argv=None):
    """Entry point of the memory subprocess: a JSON spec in, JSON out.

    The spec has ``model``, ``D``, ``M``, ``K``, ``Q``, ``threads``,
    ``method`` and ``passes`` (a list of ``[mode, seconds]``); the output,
    on the last line of stdout, maps ``"<mode>_<seconds>s"`` to the peak
    resident memory in MiB above the process's resident memory after
    imports, model build, a short warm-up pass and input creation.
    """
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(argv[0])
    print(json.dumps(_measure_in_this_process(spec)), flush=True)


def cpu_peak_memory(
    model, D, M, K, Q, passes, threads=1, method=None, timeout=1800
):
    """CPU peak memory of passes of a model, in a subprocess of its own.

    Arguments
    ---------
    model, D, M, K, Q
        The model, as for :func:`build_tasnet`.
    passes : list of (str, float)
        ``("infer" or "train", seconds)`` to measure.
    threads : int
        torch threads in the subprocess.
    method : str or None
        ``"vmhwm"`` or ``"sampled"`` (see :func:`peak_rss_method`); None
        picks the best one this machine supports.
    timeout : float
        Seconds before a subprocess is given up.

    Returns
    -------
    dict
        ``"<mode>_<seconds>s"`` to MiB.
    """
    spec = dict(
        model=model,
        D=D,
        M=M,
        K=K,
        Q=Q,
        threads=threads,
        method=method or peak_rss_method(),
        passes=[[mode, float(seconds)] for mode, seconds in passes],
    )
    proc = subprocess.run(
        [sys.executable, "-m", "speechbrain_galr.cost", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(
            os.environ,
            OMP_NUM_THREADS=str(threads),
            MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD),
        ),
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"memory subprocess for {model} D={D} M={M} K={K} failed "
            f"(exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def gpu_peak_memory(net, passes, device="cuda"):
    """GPU peak memory above the memory allocated before each pass.

    ``torch.cuda.max_memory_allocated`` after
    ``reset_peak_memory_stats``: the tensors of the pass (activations,
    gradients, workspaces), not the weights or the CUDA context.

    Arguments
    ---------
    net : TasNet
        The model, already on ``device``.
    passes : list of (str, float)
        ``("infer" or "train", seconds)``.
    device : str
        The CUDA device.

    Returns
    -------
    dict
        ``"<mode>_<seconds>s"`` to MiB.
    """
    results = {}
    for mode in {mode for mode, _ in passes}:
        run_step(net, mode, torch.randn(1, SAMPLE_RATE // 4, device=device))
    for mode, seconds in passes:
        mix = torch.randn(1, int(seconds * SAMPLE_RATE), device=device)
        for p in net.parameters():
            p.grad = None
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        run_step(net, mode, mix)
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        results[f"{mode}_{seconds:g}s"] = (peak - base) / MIB
    return results


# ---------------------------------------------------------------- time


def time_step(net, mode, mix):
    """Process CPU time and wall time of one pass, in seconds.

    On CUDA, wall time is taken between synchronisations and the CPU time
    is that of the host.

    Example
    -------
    >>> net = build_tasnet("GALR", 16, 16, 10, 4, hidden=8, num_blocks=1)
    >>> cpu, wall = time_step(net, "infer", torch.randn(1, 800))
    >>> cpu >= 0 and wall > 0
    True
    """
    cuda = mix.is_cuda
    if cuda:
        torch.cuda.synchronize(mix.device)
    cpu, wall = time.process_time(), time.perf_counter()
    run_step(net, mode, mix)
    if cuda:
        torch.cuda.synchronize(mix.device)
    return time.process_time() - cpu, time.perf_counter() - wall


if __name__ == "__main__":
    memory_worker()
