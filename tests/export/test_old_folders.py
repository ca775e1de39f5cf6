"""A model folder exported before the package was split into layers still
loads and separates as the code that exported it did.

``fixtures/exported-before-layers`` was exported by commit 92d0ab5 (the
flat package; see ``fixtures/README.md``): its ``hyperparams.yaml`` names
the classes by their old module paths (``speechbrain_galr.galr.GALR``),
which the package maps to the modules that hold them now
(``speechbrain_galr.moved``), and its ``custom_interface.py`` is the old
code, joined.  ``fixtures/separated-before-layers.npz`` holds a fixed input
and what the old code's ``separate_batch`` made of it.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from recipe_runner import tree_digest

from speechbrain_galr.inference.separator import GALRSeparation
from speechbrain_galr.nnet.galr import GALR
from speechbrain_galr.nnet.tasnet import TasNet

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
OLD_FOLDER = FIXTURES / "exported-before-layers"
OLD_OUTPUT = FIXTURES / "separated-before-layers.npz"
TOLERANCE = 1e-5
"""Largest absolute difference allowed from the old code's output."""


@pytest.fixture
def old_folder(tmp_path):
    """A copy of the fixture folder, files copied by content (loading
    links or writes beside the files it loads); the fixtures are checked
    unchanged afterwards."""
    before = tree_digest(FIXTURES)
    folder = tmp_path / "exported-before-layers"
    shutil.copytree(OLD_FOLDER, folder, copy_function=shutil.copyfile)
    yield folder
    assert tree_digest(FIXTURES) == before, "a test changed the fixtures"


def stored_outputs():
    """{name: tensor} of the stored input and the old code's output."""
    with np.load(OLD_OUTPUT) as data:
        return {name: torch.from_numpy(data[name]) for name in data.files}


def assert_reproduces(outputs):
    """``outputs`` (``separated``, ``separated_padded``) equal the old
    code's within :data:`TOLERANCE`."""
    stored = stored_outputs()
    for name in ("separated", "separated_padded"):
        assert outputs[name].shape == stored[name].shape == (2, 1600, 2)
        difference = float((outputs[name] - stored[name]).abs().max())
        assert difference < TOLERANCE, (name, difference)


def separate(model):
    """The fixed input through ``model.separate_batch``: whole, and
    padded with relative lengths."""
    stored = stored_outputs()
    padded = model.separate_batch(stored["padded_mixture"], stored["lengths"])
    return {
        "separated": model.separate_batch(stored["mixture"]),
        "separated_padded": padded,
    }


def test_the_fixture_names_the_old_module_paths():
    text = (OLD_FOLDER / "hyperparams.yaml").read_text()
    assert "masknet: !new:speechbrain_galr.galr.GALR" in text
    assert "model: !new:speechbrain_galr.tasnet.TasNet" in text
    assert "speechbrain_galr 0.1.0" in text
    # the model separates: its outputs are not silence
    assert stored_outputs()["separated"].abs().max() > 0.01


def test_from_hparams_loads_an_old_folder_and_reproduces_it(
    old_folder, tmp_path
):
    model = GALRSeparation.from_hparams(
        source=str(old_folder), savedir=str(tmp_path / "savedir")
    )
    # the old paths give the classes of the new layout
    assert type(model.mods.model) is TasNet
    assert type(model.mods.model.masknet) is GALR
    assert_reproduces(separate(model))


def test_foreign_class_loads_an_old_folder_with_the_package(
    old_folder, tmp_path, monkeypatch
):
    from speechbrain.inference.interfaces import foreign_class

    monkeypatch.setattr(sys, "path", list(sys.path))  # foreign_class adds
    model = foreign_class(
        source=str(old_folder),
        pymodule_file="custom_interface.py",
        classname="GALRSeparation",
        savedir=str(tmp_path / "savedir"),
    )
    # the interface from the folder's file, the model from the package
    assert type(model).__module__ == "custom_interface"
    assert type(model.mods.model.masknet) is GALR
    assert_reproduces(separate(model))


FOREIGN_LOAD_BLOCKED = """
import importlib.abc
import sys

import numpy as np
import torch


class BlockPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "speechbrain_galr":
            raise ImportError(f"{name} is blocked in this test")


sys.meta_path.insert(0, BlockPackage())
from speechbrain.inference.interfaces import foreign_class

folder, savedir, stored, result = sys.argv[1:]
model = foreign_class(source=folder, pymodule_file="custom_interface.py",
                      classname="GALRSeparation", savedir=savedir)
# the classes came from custom_interface.py, not from an installed package
assert not hasattr(sys.modules["speechbrain_galr"], "__file__")
assert type(model).__module__ == "custom_interface"
data = np.load(stored)
mixture = torch.from_numpy(data["padded_mixture"])
padded = model.separate_batch(mixture, torch.from_numpy(data["lengths"]))
whole = model.separate_batch(torch.from_numpy(data["mixture"]))
np.savez(result, separated=whole.numpy(), separated_padded=padded.numpy())
"""


def test_foreign_class_loads_an_old_folder_without_the_package(
    old_folder, tmp_path
):
    script = tmp_path / "foreign.py"
    script.write_text(FOREIGN_LOAD_BLOCKED)
    result = tmp_path / "foreign.npz"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    argv = [old_folder, tmp_path / "savedir", OLD_OUTPUT, result]
    proc = subprocess.run(
        [sys.executable, str(script), *map(str, argv)],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(result) as data:
        assert_reproduces({k: torch.from_numpy(data[k]) for k in data.files})
