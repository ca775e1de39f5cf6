"""Peak memory of one pass of a model, on the CPU and on a GPU.

The memory measurements of ``python -m benchmarks.benchmark``: what
one pass (inference or training step) holds at its peak above what was
held before it, weights excluded.

* GPU: ``torch.cuda.max_memory_allocated`` after
  ``reset_peak_memory_stats``, minus the memory allocated before the pass.
* CPU: the peak resident set of the process minus the resident set before
  the pass, read exactly from the kernel's ``VmHWM`` mark (reset through
  ``/proc/self/clear_refs``, Linux >= 4.0), or elsewhere sampled every
  millisecond with psutil.  Each model runs in a subprocess of its own
  (:func:`cpu_peak_memory`) in which glibc returns every freed block of
  128 KiB or more to the system, so the peak is that of the memory in use,
  whatever ran before.

Authors
 * speechbrain-galr contributors 2026
"""

import ctypes
import functools
import gc
import json
import os
import subprocess
import sys
import threading

import torch

from benchmarks import cost, recipe_models

# glibc returns blocks of this size or more to the system when they are
# freed (a fixed threshold: no dynamic raise), so that the peak resident
# memory of a pass is the peak of the memory in use, whatever ran before
MMAP_THRESHOLD = 128 * 1024
MIB = 2**20


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
        (``/proc/self/clear_refs``), read exactly from
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


def peak_mib(run, device="cpu", method=None):
    """Peak memory of ``run()`` above the memory held before it, in MiB.

    Arguments
    ---------
    run : callable
        The pass to measure (no arguments).
    device : str or torch.device
        ``"cpu"`` (resident set of this process) or a CUDA device
        (``max_memory_allocated``).
    method : str or None
        On the CPU, ``"vmhwm"`` or ``"sampled"`` (see
        :func:`peak_rss_method`); None picks the best one here.

    Returns
    -------
    float

    Example
    -------
    >>> peak_mib(lambda: torch.ones(16, 2**20).sum()) > 32
    True
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        run()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / MIB
    method = method or peak_rss_method()
    _release_free_memory()
    base = _current_rss_bytes()
    if method == "vmhwm":
        _reset_peak_rss()
        run()
        peak = _read_status_kib("VmHWM") * 1024
    else:
        sampler = _RSSSampler()
        sampler.start()
        run()
        peak = sampler.stop()
    return max(0, peak - base) / MIB


def peaks_of_passes(model, passes, device="cpu", method=None):
    """Peak memory of inference and training passes of one model.

    A short pass of each mode runs first: libraries allocate their
    workspaces and caches once, which is not the cost of a pass.

    Arguments
    ---------
    model : speechbrain_galr.nnet.tasnet.TasNet
        The model, on ``device``.
    passes : list of (str, float)
        ``("infer" or "train", seconds)`` to measure.
    device : str
        ``"cpu"`` or a CUDA device.
    method : str or None
        See :func:`peak_mib`.

    Returns
    -------
    dict
        ``"<mode>_<seconds>s"`` to MiB.
    """
    for mode in {mode for mode, _ in passes}:
        warm_up = torch.randn(1, cost.SAMPLE_RATE // 4, device=device)
        cost.run_step(model, mode, warm_up)
    results = {}
    for mode, seconds in passes:
        mix = torch.randn(1, int(seconds * cost.SAMPLE_RATE), device=device)
        for p in model.parameters():
            p.grad = None
        run = functools.partial(cost.run_step, model, mode, mix)
        results[f"{mode}_{seconds:g}s"] = peak_mib(run, device, method)
    return results


def memory_worker(argv=None):
    """Entry point of the memory subprocess: a JSON spec in, JSON out.

    The spec has ``model`` (a name or yaml of
    :func:`recipe_models.build_model`), ``overrides``, ``threads``,
    ``method`` and ``passes`` (a list of
    ``[mode, seconds]``); the output, on the last line of stdout, is the
    dict of :func:`peaks_of_passes`.
    """
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(argv[0])
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    model = recipe_models.build_model(spec["model"], **spec["overrides"])
    passes = [(mode, seconds) for mode, seconds in spec["passes"]]
    peaks = peaks_of_passes(model, passes, "cpu", spec["method"])
    print(json.dumps(peaks), flush=True)


def cpu_peak_memory(
    model, overrides, passes, threads=1, method=None, timeout=1800
):
    """CPU peak memory of passes of a model, in a subprocess of its own.

    Arguments
    ---------
    model : str
        A name or yaml of :func:`benchmarks.recipe_models.build_model`.
    overrides : dict
        Its hyperparameter overrides.
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
        overrides=overrides,
        threads=threads,
        method=method or peak_rss_method(),
        passes=[[mode, float(seconds)] for mode, seconds in passes],
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.peak_memory",
            json.dumps(spec),
        ],
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
            f"memory subprocess for {model} {overrides} failed "
            f"(exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    memory_worker()
