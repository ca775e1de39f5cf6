"""Where the modules of the flat 0.1 layout went, and the aliases that
keep their old import paths working.

The package was one folder of modules; it is now layered (``nnet``,
``data``, ``training``, ``inference``, ``export``; the benchmark moved out
to the checkout's ``benchmarks/``).  Run folders, exported model folders
and user code written before name classes by their old paths (a recipe
run's ``hyperparams.yaml`` says ``!new:speechbrain_galr.galr.GALR``), so
:func:`install` registers a finder that imports each old name as the
module that replaced it (the same module object, so a class keeps one
identity).  The three old modules whose names are now packages
(``inference``, ``export``, ``data``) forward their old attributes from
the package (see each package's ``__getattr__``).  A benchmark module
imported by its old path raises a one-line error naming the new command.

Example
-------
>>> import importlib
>>> old = importlib.import_module("speechbrain_galr.galr")
>>> old is importlib.import_module("speechbrain_galr.nnet.galr")
True
>>> importlib.import_module("speechbrain_galr.table3")
Traceback (most recent call last):
...
ModuleNotFoundError: speechbrain_galr.table3 moved out of the package to ...

Authors
 * speechbrain-galr contributors 2026
"""

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "speechbrain_galr.galr": "speechbrain_galr.nnet.galr",
    "speechbrain_galr.galr_layers": "speechbrain_galr.nnet.galr_layers",
    "speechbrain_galr.attention": "speechbrain_galr.nnet.attention",
    "speechbrain_galr.segments": "speechbrain_galr.nnet.segments",
    "speechbrain_galr.tasnet": "speechbrain_galr.nnet.tasnet",
    "speechbrain_galr.audio_clips": "speechbrain_galr.data.audio_clips",
    "speechbrain_galr.dynamic_mixing": "speechbrain_galr.data.dynamic_mixing",
    "speechbrain_galr.mixing": "speechbrain_galr.data.mixing",
    "speechbrain_galr.demo": "speechbrain_galr.data.demo_corpus",
    "speechbrain_galr.separation": "speechbrain_galr.training.brain",
    "speechbrain_galr.separation_results": "speechbrain_galr.training.results",
    "speechbrain_galr.training_budget": "speechbrain_galr.training.budget",
    "speechbrain_galr.recipe": "speechbrain_galr.training.recipe",
    "speechbrain_galr.recipe_options": "speechbrain_galr.training.options",
    "speechbrain_galr.checkpoints": "speechbrain_galr.training.checkpoints",
    "speechbrain_galr.plotting": "speechbrain_galr.training.plotting",
    "speechbrain_galr.results_record": "speechbrain_galr.training.results_record",  # noqa: E501
    "speechbrain_galr.chunked": "speechbrain_galr.inference.chunked",
    "speechbrain_galr.file_separation": "speechbrain_galr.inference.file_separation",  # noqa: E501
    "speechbrain_galr.run_options": "speechbrain_galr.inference.run_options",
    "speechbrain_galr.user_paths": "speechbrain_galr.inference.user_paths",
    "speechbrain_galr.loading": "speechbrain_galr.inference.loading",
    "speechbrain_galr.source_figure": "speechbrain_galr.inference.source_figure",  # noqa: E501
    "speechbrain_galr.hub": "speechbrain_galr.export.hub",
    "speechbrain_galr.standalone": "speechbrain_galr.export.standalone",
    "speechbrain_galr.model_card": "speechbrain_galr.export.model_card",
    "speechbrain_galr.onnx_export": "speechbrain_galr.export.onnx",
    "speechbrain_galr.files": "speechbrain_galr.atomic_files",
}
"""Old module path -> the module that holds its code now."""

MOVED_OUT = {
    "speechbrain_galr.benchmark": "benchmarks.benchmark",
    "speechbrain_galr.benchmark_report": "benchmarks.report",
    "speechbrain_galr.cost": "benchmarks.cost",
    "speechbrain_galr.peak_memory": "benchmarks.peak_memory",
    "speechbrain_galr.recipe_models": "benchmarks.recipe_models",
    "speechbrain_galr.table3": "benchmarks.table3",
    "speechbrain_galr.throughput": "benchmarks.throughput",
    "speechbrain_galr.throughput_report": "benchmarks.throughput_report",
    "speechbrain_galr.onnx_benchmark": "benchmarks.onnx_benchmark",
}
"""Old module path -> its place in the checkout's ``benchmarks/`` folder
(not installed: it builds its models from the recipes' yaml files)."""

FORMER_MODULES = {
    "speechbrain_galr.inference": "speechbrain_galr.inference.separator",
    "speechbrain_galr.export": "speechbrain_galr.export.folder",
    "speechbrain_galr.data": "speechbrain_galr.data.corpus",
}
"""Old modules whose names are packages now -> the module holding the
names they defined (forwarded by the packages' ``__getattr__``)."""


class _AliasLoader(importlib.abc.Loader):
    """Loads an old module name as the module that replaced it."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        return None  # a throwaway module, replaced in exec_module

    def exec_module(self, module):
        # importlib returns what sys.modules holds after exec_module
        sys.modules[module.__name__] = importlib.import_module(self.target)

    def get_code(self, fullname):
        """The new module's code (``python -m OLD_NAME`` runs it)."""
        spec = importlib.util.find_spec(self.target)
        return spec.loader.get_code(self.target)


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED` and :data:`MOVED_OUT`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_OUT:
            new = MOVED_OUT[fullname]
            raise ModuleNotFoundError(
                f"{fullname} moved out of the package to {new}: run "
                f"`python -m {new}` from the root of a checkout"
            )
        if fullname not in MOVED:
            return None
        # the new module's file as origin: ``python -m OLD_NAME`` sets
        # sys.argv[0] to it (None ended argparse's help in a TypeError)
        new_spec = importlib.util.find_spec(MOVED[fullname])
        return importlib.util.spec_from_loader(
            fullname,
            _AliasLoader(MOVED[fullname]),
            origin=getattr(new_spec, "origin", None),
        )


def forward_former_name(package, name):
    """An attribute of the old module a package replaced (its
    ``__getattr__``); AttributeError as usual for any other name."""
    module = importlib.import_module(FORMER_MODULES[package])
    try:
        return getattr(module, name)
    except AttributeError:
        raise AttributeError(
            f"module {package!r} has no attribute {name!r}"
        ) from None


def install():
    """Registers the finder of the old module paths (once)."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
