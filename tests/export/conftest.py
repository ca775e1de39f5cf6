"""Fixtures shared by the tests of ``speechbrain_galr.export``."""

import pytest
from scored_recipe import make_recipe_output


@pytest.fixture(scope="session")
def recipe(tmp_path_factory):
    """(folder, outputs): a recipe output with three scored checkpoints and
    each checkpoint's output on MIX.  Session scope: the tests only read
    it (they copy it before they change it)."""
    folder = str(tmp_path_factory.mktemp("recipe") / "results")
    return folder, make_recipe_output(folder)
