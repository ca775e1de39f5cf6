"""pytest setup shared by the tests and the doctests.

The recipes, the command line, the benchmark and the notebook are tested in
subprocesses; they must import ``speechbrain_galr`` from this checkout, not
from whichever checkout ``tools/setup.sh`` last registered in the shared
virtual environment.
"""

import os

ROOT = os.path.dirname(os.path.abspath(__file__))
_inherited = os.environ.get("PYTHONPATH", "").split(os.pathsep)
_paths = [ROOT] + [path for path in _inherited if path]
os.environ["PYTHONPATH"] = os.pathsep.join(_paths)
