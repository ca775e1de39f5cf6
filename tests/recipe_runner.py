"""Runs a recipe's ``train.py`` in a subprocess, as a user would."""

import subprocess
import sys


def run_train(recipe_dir, args, timeout=120):
    """``python train.py ARGS`` in ``recipe_dir``; fails the test with the
    end of its output when it exits non-zero."""
    result = subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=recipe_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
