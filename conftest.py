"""pytest setup shared by the tests and the doctests.

The recipes, the command line, the benchmark and the notebook are tested in
subprocesses; they must import ``speechbrain_galr`` from this checkout, not
from whichever checkout ``tools/setup.sh`` last registered in the shared
virtual environment.
"""

import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
# the tests' shared helpers (recipe_runner, tiny_recipe, tool_runner) sit in
# tests/, above the test folders that mirror the package
sys.path.insert(0, os.path.join(ROOT, "tests"))
_inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
_paths = [ROOT] + [path for path in _inherited if path]
os.environ["PYTHONPATH"] = os.pathsep.join(_paths)
