"""The device and precision run options of inference, checked up front.

``GALRSeparation`` takes SpeechBrain's run options (``run_opts``); two are
resolved here before SpeechBrain sees them, so that a bad value gives a
one-line error instead of a traceback from deep inside torch:

* ``device``: ``cpu``, ``cuda``, ``cuda:N`` (or ``mps``, ``xpu``); the
  backend must be available here (``meta`` and other device types that
  cannot run a model are refused);
* ``precision``: ``fp32``, ``bf16``, ``fp16`` (``torch.autocast`` around the
  model, SpeechBrain's ``Pretrained`` does it) or ``auto``: bf16 on a CPU
  with fast bf16 instructions (x86 AVX512-BF16 or AMX-BF16, Arm BF16),
  bf16 on a GPU that supports it (else fp16), fp32 otherwise.

Authors
 * speechbrain-galr contributors 2026
"""

import functools

import torch

from speechbrain_galr.devices import RUNNING_DEVICES, check_device  # noqa: F401

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
"""Accepted values of the ``precision`` run option."""

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.lru_cache(maxsize=None)
def cpu_has_fast_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU has bf16 arithmetic instructions (read from the
    ``flags`` / ``Features`` lines of ``cpuinfo``; False where that file
    does not exist).

    Example
    -------
    >>> isinstance(cpu_has_fast_bf16(), bool)
    True
    """
    try:
        with open(cpuinfo, encoding="utf-8") as fin:
            text = fin.read()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


def resolve_precision(precision, device):
    """The precision to run with: ``precision`` itself, or what ``auto``
    picks on ``device``.

    Example
    -------
    >>> resolve_precision("bf16", "cpu"), resolve_precision(None, "cpu")
    ('bf16', 'fp32')
    >>> resolve_precision("auto", "cpu") in ("bf16", "fp32")
    True
    """
    if precision is None:
        return "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}: use one of "
            f"{', '.join(PRECISIONS)}"
        )
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    if kind == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if kind == "cpu" and cpu_has_fast_bf16():
        return "bf16"
    return "fp32"


def resolve_run_opts(run_opts):
    """``run_opts`` with the device checked and ``precision`` resolved.

    Example
    -------
    >>> resolve_run_opts({"device": "cpu", "precision": "fp32"})
    {'device': 'cpu', 'precision': 'fp32'}
    """
    run_opts = dict(run_opts or {})
    device = check_device(run_opts.get("device"))
    if "device" in run_opts:
        run_opts["device"] = device
    if "precision" in run_opts:
        run_opts["precision"] = resolve_precision(run_opts["precision"], device)
    return run_opts
