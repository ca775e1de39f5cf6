"""The package's layers: imports run one way only, and no module imports
itself back through others (checked on the source, every import, also
those inside functions)."""

import ast
import pathlib

import speechbrain_galr

PACKAGE = "speechbrain_galr"
ROOT = pathlib.Path(speechbrain_galr.__file__).parent
LAYERS = [
    "nnet",
    "data",
    "training",
    "inference",
    "export",
    "streaming_cli",
    "__main__",
]
"""Subpackages from the lowest to the highest; the shared modules at the
top of the package are below them all, the command line above them all
(``streaming_cli`` is the part of it that ``separate --streaming`` runs)."""


def module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules():
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name, path, known):
    """The package modules ``name`` imports (any import statement)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.rsplit(".", node.level)[0]
                base = f"{package}.{base}" if base else package
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def layer(name):
    """-1 for the shared modules, else the index in LAYERS."""
    parts = name.split(".")
    if len(parts) == 1:
        return -1
    if parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return -1


def import_graph():
    modules = package_modules()
    return {n: imports_of(n, p, modules) for n, p in modules.items()}


def test_imports_only_run_downward():
    graph = import_graph()
    upward = [
        f"{n} -> {t}"
        for n, targets in graph.items()
        for t in targets
        if layer(t) > layer(n) and t != PACKAGE
    ]
    assert upward == []
    # the network imports nothing else of the package
    nnet = [
        f"{n} -> {t}"
        for n, targets in graph.items()
        if layer(n) == 0
        for t in targets
        if layer(t) != 0 and t != PACKAGE
    ]
    assert nnet == []


def test_no_import_cycles():
    graph = import_graph()
    # packages' __init__ are not edges of a cycle: a module importing its
    # own package's __init__ is how Python imports a submodule
    graph = {
        n: {t for t in ts if not n.startswith(t + ".")}
        for n, ts in graph.items()
    }
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_graph_sees_known_edges():
    # a test of the walker itself: edges that exist must be found
    graph = import_graph()
    assert (
        "speechbrain_galr.nnet.attention" in graph["speechbrain_galr.nnet.galr"]
    )
    assert (
        "speechbrain_galr.inference.onnx_runtime"
        in graph["speechbrain_galr.export.onnx"]
    )
    assert layer("speechbrain_galr.export.onnx") > layer(
        "speechbrain_galr.inference.chunked"
    )
