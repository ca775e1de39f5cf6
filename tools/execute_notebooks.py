#!/usr/bin/env python3
"""Executes the course notebooks and writes them back with their outputs.

The notebooks of ``tutorials/`` are committed executed, so that they read
well on a repository page.  This tool runs each one top to bottom in a
fresh kernel (working directory ``tutorials/``, the checkout on
``PYTHONPATH``), in full mode or with ``--fast`` (``GALR_TUTORIAL_FAST=1``),
and writes it in place atomically (a failed run leaves the file as it
was), with ``metadata["galr_course"]``: the SHA-256 of its code cells'
sources (:func:`code_hash`), the mode and the seconds it took.
``tests/tutorials/`` recomputes the hash from the committed sources: a code
cell edited without executing the notebook again fails the tests::

    .venv/bin/python tools/execute_notebooks.py tutorials/0*.ipynb
    .venv/bin/python tools/execute_notebooks.py --fast tutorials/02_*.ipynb

The outputs of the notebooks (figures, audio, recipe runs) go to
``GALR_TUTORIAL_OUT`` (default ``tutorials/course_output``, not tracked).
``OMP_WAIT_POLICY`` is ``PASSIVE`` unless set (see
:func:`kernel_environment`).

Authors
 * speechbrain-galr contributors 2026
"""

import argparse
import hashlib
import json
import os
import sys
import time

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METADATA_KEY = "galr_course"
FAST_VARIABLE = "GALR_TUTORIAL_FAST"


def code_hash(notebook):
    """SHA-256 (hex) of the sources of a notebook's code cells, in order.

    Example
    -------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(
    ...     cells=[nbformat.v4.new_code_cell("print(1)")])
    >>> code_hash(nb)[:12]
    'd153f2583dd4'
    """
    sources = [c.source for c in notebook.cells if c.cell_type == "code"]
    text = json.dumps(sources, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def kernel_environment(fast, **variables):
    """The environment of a notebook's kernel: this process's, with the
    fast mode on or off, the checkout first on ``PYTHONPATH`` and
    ``variables`` set (a value of None removes the variable).

    Example
    -------
    >>> env = kernel_environment(True, GALR_DATA=None)
    >>> env["GALR_TUTORIAL_FAST"], "GALR_DATA" in env
    ('1', False)
    """
    env = dict(os.environ)
    paths = env.get("PYTHONPATH", "").split(os.pathsep)
    env["PYTHONPATH"] = os.pathsep.join(
        [CHECKOUT] + [p for p in paths if p and p != CHECKOUT]
    )
    variables[FAST_VARIABLE] = "1" if fast else None
    # idle OpenMP threads sleep instead of spinning: on a machine whose
    # cores are busy, torch's spinning threads make a forward pass 50x
    # slower (17 s instead of 0.3 s for 4 s of audio, 2 threads, 2 cores)
    if "OMP_WAIT_POLICY" not in env:
        variables.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    for key, value in variables.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def execute(path, fast=False, timeout=1800, **variables):
    """Runs the notebook at ``path`` in a fresh kernel; returns it
    executed (not written), with ``metadata["galr_course"]`` set.

    Arguments
    ---------
    path : str
        The ``.ipynb`` file (the kernel runs in its folder).
    fast : bool
        The fast mode (``GALR_TUTORIAL_FAST=1``).
    timeout : float
        Seconds a cell may run.
    **variables
        More environment variables for the kernel (None: removed).

    Returns
    -------
    nbformat.NotebookNode
    """
    import nbformat
    from nbclient import NotebookClient

    with open(path, encoding="utf-8") as fin:
        notebook = nbformat.read(fin, as_version=4)
    folder = os.path.dirname(os.path.abspath(path))
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": folder}},
    )
    start = time.perf_counter()
    # the kernel's own environment: os.environ is left alone, so that
    # notebooks can run in parallel threads
    client.execute(env=kernel_environment(fast, **variables))
    notebook.metadata[METADATA_KEY] = {
        "code_sha256": code_hash(notebook),
        "mode": "fast" if fast else "full",
        "seconds": round(time.perf_counter() - start, 1),
    }
    return notebook


def write(notebook, path):
    """Writes ``notebook`` to ``path`` atomically."""
    import nbformat

    from speechbrain_galr.atomic_files import write_text_atomic

    write_text_atomic(path, nbformat.writes(notebook) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", help=".ipynb files")
    parser.add_argument(
        "--fast", action="store_true", help=f"run with {FAST_VARIABLE}=1"
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds per cell"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, CHECKOUT)
    for path in args.notebooks:
        notebook = execute(path, fast=args.fast, timeout=args.timeout)
        write(notebook, path)
        info = notebook.metadata[METADATA_KEY]
        print(f"{path}: {info['mode']} mode, {info['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
