"""Training throughput at the training batch, and inference memory.

The measurements of ``python -m benchmarks.benchmark --throughput``
on the GPU: for one model of :func:`benchmarks.recipe_models.
build_model`, the time of a training step of the recipe on a batch of
``batch`` mixtures of ``seconds`` seconds, in fp32 and under bf16
autocast, eager and compiled (``torch.compile``), and the peak memory of
inference per second of audio.  Written for a GPU; the same code runs on
the CPU (tests, tiny settings).

A training step is what :class:`speechbrain_galr.training.brain.
SeparationBrain` does per batch: the forward pass (under autocast for
bf16), the yaml's loss (permutation-invariant SI-SNR), the backward pass,
gradient clipping to the yaml's ``max_grad_norm`` and a step of the yaml's
optimizer (Adam).  Compiled is ``torch.compile(model, fullgraph=True)``
with dynamo tracing into ``nn.LSTM`` (``allow_rnn``) where the model
compiles so, else ``torch.compile(model)`` with graph breaks (which one is
recorded); the loss and the optimizer run eagerly, as in the recipes.

Authors
 * speechbrain-galr contributors 2026
"""

import contextlib
import logging
import time

import torch
from speechbrain.nnet.losses import get_si_snr_with_pitwrapper

from benchmarks import cost, recipe_models
from benchmarks.peak_memory import peak_mib

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("eager", "compiled")


def autocast(precision, device):
    """The autocast context of ``precision`` ("fp32" or "bf16")."""
    if precision == "fp32":
        return contextlib.nullcontext()
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, torch.bfloat16)
    raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class TrainStep:
    """One training step of the recipes on a fixed batch.

    Arguments
    ---------
    hparams : dict
        Hyperparameters of :func:`benchmarks.recipe_models.load_hparams`:
        ``model``, ``optimizer``, ``max_grad_norm`` and ``loss`` (default
        SpeechBrain's PIT SI-SNR, as in ``SeparationBrain``) are used.
    precision : str
        "fp32" or "bf16" (autocast of the forward pass and the loss).
    device : str
        Where the model runs.

    Example
    -------
    >>> hparams = recipe_models.load_hparams("GALR", **recipe_models.TINY_GALR)
    >>> step = TrainStep(hparams, "bf16")
    >>> step(torch.randn(2, 800), torch.randn(2, 800, 2)).shape
    torch.Size([])
    """

    def __init__(self, hparams, precision="fp32", device="cpu"):
        self.model = hparams["model"].to(device).train()
        self.optimizer = hparams["optimizer"](self.model.parameters())
        self.max_grad_norm = hparams["max_grad_norm"]
        self.loss = hparams.get("loss") or get_si_snr_with_pitwrapper
        self.precision = precision
        self.device = device
        self.separate = self.model
        self.compiled = "eager"
        # dynamo traces into nn.LSTM: without it each LSTM of GALR and
        # DPRNN is a graph break
        self.allow_rnn = True

    def forward(self, mix):
        """The model's (compiled) forward pass: ``[B, T]`` to ``[B, T, C]``."""
        with torch._dynamo.config.patch(allow_rnn=self.allow_rnn):
            return self.separate(mix)

    def __call__(self, mix, targets):
        """Runs the step; returns the loss (a tensor: no host sync)."""
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.precision, self.device):
            estimates = self.forward(mix)
            loss = self.loss(targets, estimates).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), self.max_grad_norm
        )
        self.optimizer.step()
        return loss

    def compile(self, mix, targets, backend="inductor"):
        """Compiles the model's forward pass and runs one step with it.

        ``fullgraph=True`` first (LSTMs traced); where that fails,
        ``torch.compile(model)`` with graph breaks (LSTMs not traced).

        Returns
        -------
        str
            "fullgraph", or "graph breaks (<the fullgraph error>)".
        """
        try:
            self.separate = torch.compile(
                self.model, fullgraph=True, backend=backend
            )
            self(mix, targets)
            self.compiled = "fullgraph"
        except torch._dynamo.exc.TorchDynamoException as error:
            reason = str(error).strip().splitlines()[0][:80]
            logger.info("no full graph (%s): compiling with breaks", reason)
            self.allow_rnn = False
            self.separate = torch.compile(self.model, backend=backend)
            self(mix, targets)
            self.compiled = f"graph breaks ({type(error).__name__})"
        return self.compiled


def time_steps(step, mix, targets, steps, warmup):
    """Mean milliseconds per step of ``steps`` steps after ``warmup``."""
    for _ in range(warmup):
        step(mix, targets)
    _synchronize(mix.device)
    start = time.perf_counter()
    for _ in range(steps):
        step(mix, targets)
    _synchronize(mix.device)
    return 1000 * (time.perf_counter() - start) / steps


def inference_mib_per_second(model, seconds, precision, device):
    """Peak memory of inference on one ``seconds`` input, per second.

    Eager, in ``precision``; see :func:`benchmarks.peak_memory.
    peak_mib` for what the peak is on each device.
    """
    model.eval()
    mix = torch.randn(1, int(seconds * cost.SAMPLE_RATE), device=device)

    def infer():
        with torch.no_grad(), autocast(precision, device):
            model(mix)

    infer()  # workspaces and caches are allocated once
    return peak_mib(infer, device) / seconds


def measure_model(
    name,
    overrides,
    device,
    batch=4,
    seconds=4.0,
    steps=15,
    warmup=3,
    infer_seconds=60.0,
    precisions=PRECISIONS,
    compile_modes=COMPILE_MODES,
    backend="inductor",
):
    """Training step times and inference memory of one model.

    Arguments
    ---------
    name : str
        A model or yaml of :func:`benchmarks.recipe_models.build_model`.
    overrides : dict
        Its yaml overrides.
    device : str
        "cuda" (or "cuda:N") or "cpu".
    batch, seconds : int, float
        The training batch: ``batch`` mixtures of ``seconds`` seconds.
    steps, warmup : int
        Timed steps (their mean is reported) after untimed ones; a
        compiled mode also has one untimed step that compiles.
    infer_seconds : float
        Input of the inference memory measurement (0 skips it).
    precisions, compile_modes : tuple of str
        Of :data:`PRECISIONS` and :data:`COMPILE_MODES`.
    backend : str
        ``torch.compile`` backend ("inductor"; "eager" traces only).

    Returns
    -------
    dict
        ``step_ms_<precision>_<mode>``, ``xrt_<precision>_<mode>`` (seconds
        of audio trained on per second), ``compile_<precision>`` and
        ``infer_mib_per_s_<precision>``.
    """
    row = {}
    mix = torch.randn(batch, int(seconds * cost.SAMPLE_RATE), device=device)
    for precision in precisions:
        torch.manual_seed(0)
        hparams = recipe_models.load_hparams(name, **overrides)
        targets = torch.randn(*mix.shape, hparams["num_spks"], device=device)
        for mode in compile_modes:
            step = TrainStep(hparams, precision, device)
            if mode == "compiled":
                try:
                    how = step.compile(mix, targets, backend)
                except Exception as error:  # a failed compile is a result
                    how = f"failed ({type(error).__name__})"
                    logger.warning("%s %s: %r", name, precision, error)
                row[f"compile_{precision}"] = how
                if how.startswith("failed"):
                    torch._dynamo.reset()
                    continue
            ms = time_steps(step, mix, targets, steps, warmup)
            torch._dynamo.reset()
            row[f"step_ms_{precision}_{mode}"] = ms
            row[f"xrt_{precision}_{mode}"] = batch * seconds / (ms / 1000)
        if infer_seconds > 0:
            row[f"infer_mib_per_s_{precision}"] = inference_mib_per_second(
                hparams["model"], infer_seconds, precision, device
            )
        del hparams
        if torch.device(device).type == "cuda":
            torch.cuda.empty_cache()
    return row
