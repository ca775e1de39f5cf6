"""Fixtures shared by the tests of ``speechbrain_galr.export``."""

import pytest
from scored_recipe import make_recipe_output

# fixtures/ holds a model folder exported by an older version, kept as it
# was written: its custom_interface.py is not a test module.
# This file is not collected for doctests: --doctest-modules
# imports each conftest.py once more as a module named "conftest", which
# clashes with another folder's conftest.py when both folders are given
# on one command line ("import file mismatch").
collect_ignore = ["fixtures", "conftest.py"]


@pytest.fixture(scope="session")
def recipe(tmp_path_factory):
    """(folder, outputs): a recipe output with three scored checkpoints and
    each checkpoint's output on MIX.  Session scope: the tests only read
    it (they copy it before they change it)."""
    folder = str(tmp_path_factory.mktemp("recipe") / "results")
    return folder, make_recipe_output(folder)
