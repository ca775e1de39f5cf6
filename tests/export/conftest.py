"""Fixtures shared by the tests of ``speechbrain_galr.export``."""

import pytest
from scored_recipe import make_recipe_output

# fixtures/ holds a model folder exported by an older version, kept as it
# was written: its custom_interface.py is not a test module
collect_ignore = ["fixtures"]


@pytest.fixture(scope="session")
def recipe(tmp_path_factory):
    """(folder, outputs): a recipe output with three scored checkpoints and
    each checkpoint's output on MIX.  Session scope: the tests only read
    it (they copy it before they change it)."""
    folder = str(tmp_path_factory.mktemp("recipe") / "results")
    return folder, make_recipe_output(folder)
