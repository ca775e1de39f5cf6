"""custom_interface.py holds what separating with a hub folder needs: the
model's modules and ``GALRSeparation`` with what it imports up front, no
docstrings; what is imported only inside a function (the onnxruntime
backend, the folder loader) is left out with a one-line ImportError."""

import ast

import pytest

from speechbrain_galr.export.folder import INTERFACE_MODULE
from speechbrain_galr.export.standalone import build_custom_interface

ROOTS = [
    "speechbrain_galr.nnet.galr",
    "speechbrain_galr.nnet.tasnet",
    INTERFACE_MODULE,
]


@pytest.fixture(scope="module")
def interface():
    text = build_custom_interface(ROOTS)
    namespace = {"__name__": "custom_interface"}
    exec(compile(text, "custom_interface.py", "exec"), namespace)
    return text, namespace


def test_left_out_modules_and_docstrings(interface):
    text, _ = interface
    header = text.split('"""', 2)[1]
    modules = header.split("(modules: ")[1].split(")")[0].split(", ")
    assert "speechbrain_galr.inference.separator" in modules
    for module in modules:
        assert "onnx" not in module and "loading" not in module
        assert not module.startswith("speechbrain_galr.export")
    tree = ast.parse(text)
    with_docstrings = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        and ast.get_docstring(node) is not None
    ]
    # only the glue the generator adds keeps its docstrings
    glue = {"JoinedModule", "register_package_modules", "package"}
    with_docstrings = [name for name in with_docstrings if name not in glue]
    assert with_docstrings == []
    # 135 KB at the flat layout, docstrings and lazy modules included; 89
    # KB in layers; 103 KB with the streaming classes (StreamSeparator,
    # StreamingTasNet and their ring attention and frame maps, 14 KB)
    assert len(text.encode()) < 110_000


def test_left_out_features_raise_one_line_import_errors(interface):
    _, namespace = interface
    separation = namespace["GALRSeparation"]
    with pytest.raises(ImportError, match="pip install speechbrain-galr"):
        separation.use_onnxruntime(object(), "model.onnx")
    with pytest.raises(ImportError, match="pip install speechbrain-galr"):
        separation.from_hparams("some/folder")
