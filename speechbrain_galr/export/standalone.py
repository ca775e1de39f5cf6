"""Writes ``custom_interface.py``: the package's model code in one file.

A SpeechBrain hub folder loads custom code with
``speechbrain.inference.interfaces.foreign_class(source, pymodule_file=
"custom_interface.py", classname="GALRSeparation")``: the file travels with
the model, and only ``speechbrain`` needs to be installed.
:func:`build_custom_interface` makes that file at export time from this
package's own source (no second copy is kept by hand): it starts from the
modules that define the classes an exported ``hyperparams.yaml`` names and
``GALRSeparation``, follows their imports within the package, and joins the
modules, dependencies first, with those imports taken out.

``hyperparams.yaml`` names the classes by their package path
(``speechbrain_galr.nnet.galr.GALR``), so ``GALRSeparation.from_hparams`` builds
them from the installed package; where ``speechbrain_galr`` cannot be
imported, the generated module registers itself under those module names
before SpeechBrain reads the yaml (:func:`register_package_modules`).

Authors
 * speechbrain-galr contributors 2026
"""

import ast
import importlib.util
import inspect
import sys

from speechbrain_galr.errors import GALRError

PACKAGE = "speechbrain_galr"


class StandaloneError(GALRError):
    """Raised when the package's source cannot be joined into one module
    (an import form or a name clash the generator does not handle)."""


def _read_module(name):
    """The source text and syntax tree of a package module."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise StandaloneError(f"module {name} not found")
    with open(spec.origin, encoding="utf-8") as fin:
        source = fin.read()
    return source, ast.parse(source, filename=spec.origin)


def _absolute(module_name, node):
    """The absolute module an ``ImportFrom`` node imports from."""
    if node.level == 0:
        return node.module or ""
    base = module_name.rsplit(".", node.level)[0]
    return f"{base}.{node.module}" if node.module else base


def _is_package(name):
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _is_folder(name):
    """Whether a module of this package is a package folder (its
    ``from ... import`` names are modules)."""
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def package_imports(module_name, tree):
    """The imports of ``tree`` that name this package.

    Arguments
    ---------
    module_name : str
        The module's dotted name (to resolve relative imports).
    tree : ast.Module
        Its syntax tree.

    Returns
    -------
    list of (ast.Import or ast.ImportFrom, list of str)
        Each import (at any depth, lazy ones in functions included) and
        the package modules it needs.

    Example
    -------
    >>> tree = ast.parse("from speechbrain_galr.nnet.tasnet import TasNet\\n"
    ...                  "from speechbrain_galr import audio\\n"
    ...                  "import torch\\n")
    >>> [(node.lineno, needed) for node, needed in
    ...  package_imports("speechbrain_galr.x", tree)]
    [(1, ['speechbrain_galr.nnet.tasnet']), (2, ['speechbrain_galr.audio'])]
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            needed = [a.name for a in node.names if _is_package(a.name)]
            if needed and len(needed) != len(node.names):
                raise StandaloneError(
                    f"{module_name} line {node.lineno}: import the package's "
                    "modules on a line of their own"
                )
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module_name, node)
            if _is_package(target) and _is_folder(target):
                # from speechbrain_galr.inference import module
                needed = [f"{target}.{a.name}" for a in node.names]
            else:
                needed = [target] if _is_package(target) else []
        else:
            continue
        if needed:
            found.append((node, needed))
    return found


def lazy_imports(tree):
    """The import nodes inside functions (run only when called)."""
    lazy = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lazy |= {
                id(inner)
                for inner in ast.walk(node)
                if isinstance(inner, (ast.Import, ast.ImportFrom))
            }
    return lazy


def collect_modules(roots):
    """The package modules ``roots`` need, each after its dependencies.

    Example
    -------
    Only module-level imports are followed: a package module imported
    inside a function (the onnxruntime backend, the folder loader behind
    ``from_hparams``) is left out, and calling that function without the
    package installed raises a one-line ImportError
    (:func:`_replacement`).

    >>> collect_modules(["speechbrain_galr.nnet.tasnet"])
    ['speechbrain_galr.nnet.tasnet']
    """
    ordered, visiting = [], set()

    def visit(name):
        if name in ordered:
            return
        if name in visiting:
            raise StandaloneError(f"circular import through {name}")
        visiting.add(name)
        _, tree = _read_module(name)
        lazy = lazy_imports(tree)
        for node, needed in package_imports(name, tree):
            if id(node) in lazy:
                continue  # what a hub folder needs is imported up front
            for target in needed:
                visit(target)
        visiting.discard(name)
        ordered.append(name)

    for root in roots:
        visit(root)
    return ordered


MISSING_PACKAGE = (
    'raise ImportError("this needs the speechbrain_galr package '
    "(pip install speechbrain-galr); custom_interface.py holds only "
    'what separating with a hub folder needs")\n'
)


def _replacement(node, left_out=()):
    """Lines that stand for a stripped import.

    A name imported from a module is defined in the joined file already
    (``alias = name`` for ``name as alias``); an imported module becomes a
    :class:`JoinedModule` that reads the joined file's names.  An import
    nested in a block leaves ``pass``.
    """
    indent = " " * node.col_offset
    if left_out:
        return [f"{indent}{MISSING_PACKAGE}"]
    lines = []
    imports_modules = isinstance(node, ast.Import) or (
        node.level == 0 and _is_folder(node.module)
    )
    for alias in node.names:
        if imports_modules:
            name = alias.asname or alias.name.rsplit(".", 1)[-1]
            if isinstance(node, ast.Import) and not alias.asname:
                raise StandaloneError(
                    f"line {node.lineno}: write `import {alias.name} as "
                    "<name>` or `from ... import ...`"
                )
            lines.append(f"{indent}{name} = JoinedModule()\n")
        elif alias.asname and alias.asname != alias.name:
            lines.append(f"{indent}{alias.asname} = {alias.name}\n")
    if not lines and node.col_offset > 0:
        lines = [f"{indent}pass\n"]
    return lines


class JoinedModule:
    """Stands for a package module in the joined file: its attributes are
    the file's global names (looked up when used)."""

    def __getattr__(self, name):
        try:
            return globals()[name]
        except KeyError:
            raise AttributeError(name) from None


def _docstrings(tree):
    """The docstring nodes of a module's classes and functions, each with
    whether it is its body's only statement."""
    found = []
    for node in ast.walk(tree):
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(
                getattr(first, "value", None), ast.Constant
            ):
                if isinstance(first.value.value, str):
                    found.append((first, len(node.body) == 1))
    return found


def strip_module(name, modules=None):
    """A module's source without its docstrings and package imports
    (imports of package modules not in ``modules`` raise ImportError).

    Returns
    -------
    body : str
        The source to paste.
    future : list of str
        Its ``from __future__`` lines (they must open the joined file).
    tree : ast.Module
        The module's syntax tree (for :func:`_bindings`).
    """
    source, tree = _read_module(name)
    lines = source.splitlines(keepends=True)

    def left_out(needed):
        return modules is not None and any(t not in modules for t in needed)

    edits = [
        (node, _replacement(node, left_out(needed)))
        for node, needed in package_imports(name, tree)
    ]
    for node, alone in _docstrings(tree):
        indent = " " * node.col_offset
        edits.append((node, [f"{indent}pass\n"] if alone else []))
    future = []
    first = tree.body[0] if tree.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        edits.append((first, []))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            future.append(ast.get_source_segment(source, node) + "\n")
            edits.append((node, []))
    for node, replacement in sorted(edits, key=lambda e: -e[0].lineno):
        lines[node.lineno - 1 : node.end_lineno] = replacement
    return "".join(lines), future, tree


def _bindings(name, tree, source):
    """Top-level names a module binds, each with what it binds them to
    (the code of a definition, the dotted path of an import); the
    package's own imports are left out (they are joined).

    Example
    -------
    >>> code = ("import numpy as np\\nfrom torch import nn\\n"
    ...         "from speechbrain_galr.nnet.tasnet import TasNet\\nK = 3\\n")
    >>> _bindings("speechbrain_galr.x", ast.parse(code), code)
    {'np': 'numpy', 'nn': 'torch.nn', 'K': 'K = 3'}
    """
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound = {node.name: ast.get_source_segment(source, node)}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            code = ast.get_source_segment(source, node)
            nodes = (
                node.targets if isinstance(node, ast.Assign) else [node.target]
            )
            bound = {t.id: code for t in nodes if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import):
            bound = {
                a.asname or a.name.split(".")[0]: a.name
                if a.asname
                else a.name.split(".")[0]
                for a in node.names
                if not _is_package(a.name)
            }
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(name, node)
            if _is_package(target) or target == "__future__":
                continue
            bound = {
                a.asname or a.name: f"{target}.{a.name}" for a in node.names
            }
        else:
            continue
        names.update(bound)
    return names


def register_package_modules(namespace, module_names):
    """Makes ``namespace`` importable under the package's module names.

    Called by the generated ``custom_interface.py`` when the package is
    not installed, so that ``!new:speechbrain_galr.nnet.galr.GALR`` in
    ``hyperparams.yaml`` finds the classes defined in the file.
    """
    import types

    def package(name):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = []  # a package (its submodules are set below)
            sys.modules[name] = module
            if "." in name:
                parent, _, leaf = name.rpartition(".")
                setattr(package(parent), leaf, module)
        return sys.modules[name]

    for name in module_names:
        module = types.ModuleType(name)
        module.__dict__.update(namespace)
        module.__name__ = name
        sys.modules[name] = module
        parent, _, leaf = name.rpartition(".")
        setattr(package(parent), leaf, module)


HEADER = '''"""GALR speech separation in one file for SpeechBrain foreign_class.

Made by speechbrain_galr.export.standalone from speechbrain_galr {version}
(modules: {modules}).  Do not edit: export the model again instead.

    from speechbrain.inference.interfaces import foreign_class
    model = foreign_class(source="<this folder>",
                          pymodule_file="custom_interface.py",
                          classname="GALRSeparation")
    est_sources = model.separate_file("mixture.wav")  # [1, T, C]
"""
'''


def build_custom_interface(roots, version="unknown"):
    """The text of ``custom_interface.py`` for the given root modules.

    Arguments
    ---------
    roots : list of str
        Package modules whose classes the file must hold (those the hub
        ``hyperparams.yaml`` names and the one of ``GALRSeparation``).
    version : str
        The package version, written in the header.

    Returns
    -------
    str
        Python source that imports only the standard library and
        third-party packages.

    Example
    -------
    >>> text = build_custom_interface(["speechbrain_galr.nnet.tasnet"])
    >>> namespace = {}
    >>> exec(compile(text, "custom_interface.py", "exec"), namespace)
    >>> "TasNet" in namespace, "\\nfrom speechbrain_galr." in text
    (True, False)
    """
    modules = collect_modules(roots)
    futures, bodies, owners = [], [], {}
    for name in modules:
        body, future, tree = strip_module(name, modules)
        source, _ = _read_module(name)
        for bound, meaning in _bindings(name, tree, source).items():
            owner = owners.setdefault(bound, (name, meaning))
            if owner[1] != meaning:
                raise StandaloneError(
                    f"{bound} means different things in {owner[0]} and "
                    f"{name}; rename one so the modules can share one file"
                )
        futures += [line for line in future if line not in futures]
        bodies.append(f"\n# {'-' * 20} {name} {'-' * 20}\n{body.strip()}\n")
    joined = inspect.getsource(JoinedModule)
    footer = (
        f"\n# {'-' * 20} package names {'-' * 20}\n\n"
        + inspect.getsource(register_package_modules)
        + "\n\ntry:\n"
        + f"    import {PACKAGE}  # noqa: F401\n"
        + "except ImportError:\n"
        + f"    register_package_modules(dict(globals()), {modules!r})\n"
    )
    header = HEADER.format(version=version, modules=", ".join(modules))
    return (
        header
        + "".join(futures)
        + "\nimport sys\n\n\n"
        + joined
        + "".join(bodies)
        + footer
    )
