"""An exported model's ``custom_interface.py`` in a Python with SpeechBrain
but neither soxr nor this package: a file at another rate than the model's
ends in one error line that says ``pip install soxr`` (it was a bare
``ModuleNotFoundError: No module named 'soxr'``)."""

import subprocess
import sys

import numpy as np
import soundfile as sf
from tiny_recipe import write_tiny_recipe_output

from speechbrain_galr.export.folder import export_model

WITHOUT_SOXR = """
import importlib.abc, sys


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("speechbrain_galr", "soxr"):
            raise ModuleNotFoundError(f"No module named {name!r}")


sys.meta_path.insert(0, Block())
from speechbrain.inference.interfaces import foreign_class

model = foreign_class(source=sys.argv[1], pymodule_file="custom_interface.py",
                      classname="GALRSeparation")
print(tuple(model.separate_file(sys.argv[2]).shape))  # at 8 kHz: no soxr
try:
    model.separate_file(sys.argv[3])
except ImportError as err:
    print(f"{type(err).__name__}: {err}")
"""


def test_other_rate_without_soxr_says_pip_install_soxr(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_tiny_recipe_output(run)
    model = export_model(str(run), str(tmp_path / "model"))
    noise = np.random.default_rng(0).normal(0, 0.1, 1600)
    sf.write(str(tmp_path / "at8k.wav"), noise[:800], 8000)
    sf.write(str(tmp_path / "at16k.wav"), noise, 16000)
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_SOXR, model,
         str(tmp_path / "at8k.wav"), str(tmp_path / "at16k.wav")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "(1, 800, 2)"
    expected = "ResamplerUnavailableError: resampling from 16000 Hz to 8000 Hz"
    assert lines[1].startswith(expected + " needs the soxr package")
    assert "pip install soxr" in lines[1] and len(lines) == 2
