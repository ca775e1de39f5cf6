"""The device a model runs on, checked before any work (training and
inference): ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``xpu`` where that
backend is available; anything else is a one-line ValueError instead of a
traceback from deep inside torch (``--device meta``: "Tensor.item() cannot
be called on meta tensors"; ``--device cuda`` without a GPU: "Found no
NVIDIA driver").

Authors
 * speechbrain-galr contributors 2026
"""

import torch

RUNNING_DEVICES = {
    "cpu": "the CPU",
    "cuda": "CUDA",
    "mps": "MPS (Apple GPU)",
    "xpu": "XPU (Intel GPU)",
}
"""Device types that run the model (``meta`` holds no data, ``xla`` and
others need code this package does not have)."""


def _available(kind):
    """Whether the ``mps`` or ``xpu`` backend of torch can run here."""
    if kind == "mps":
        return bool(torch.backends.mps.is_available())
    return bool(getattr(torch, "xpu", None) and torch.xpu.is_available())


def check_device(device):
    """Returns ``device`` as a string, or raises a one-line ValueError:
    unknown, unable to run a model (``meta``), or not available here.

    Example
    -------
    >>> check_device("cpu")
    'cpu'
    >>> check_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'gpu': use cpu, cuda or cuda:N
    >>> check_device("meta")
    Traceback (most recent call last):
    ...
    ValueError: device 'meta' cannot run the model: use cpu, cuda or cuda:N
    """
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"unknown device {device!r}: use cpu, cuda or cuda:N"
        ) from err
    if parsed.type not in RUNNING_DEVICES:
        raise ValueError(
            f"device {device!r} cannot run the model: use cpu, cuda or cuda:N"
        )
    if parsed.type in ("mps", "xpu") and not _available(parsed.type):
        raise ValueError(
            f"device {device!r} asked for, but {RUNNING_DEVICES[parsed.type]} "
            "is not available here (or torch was built without it): use cpu"
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {device!r} asked for, but CUDA is not available "
                "here (no GPU, or torch built without CUDA): use cpu"
            )
        if parsed.index is not None and parsed.index >= (
            torch.cuda.device_count()
        ):
            raise ValueError(
                f"device {device!r} asked for, but there are only "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    return str(device)
