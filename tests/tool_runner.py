"""Loads and runs the scripts of ``tools/`` as users run them, shared by
the tests of the quality study and of the inference measurements."""

import importlib.util
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tool_path(name):
    """The path of ``tools/<name>.py``."""
    return os.path.join(REPO, "tools", f"{name}.py")


def load_tool(name):
    """``tools/<name>.py`` imported as a module (for its functions)."""
    spec = importlib.util.spec_from_file_location(name, tool_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(name, *args, timeout=300):
    """Runs ``python tools/<name>.py ARGS`` in a new process, the checkout
    on its path; returns the ``subprocess.CompletedProcess``."""
    return subprocess.run(
        [sys.executable, tool_path(name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
