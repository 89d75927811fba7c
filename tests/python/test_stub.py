"""python/fregan/_core.pyi names every member of the native module, and nothing the module lacks."""
import ast
from pathlib import Path

from fregan import _core

STUB = Path(__file__).resolve().parents[2] / "python" / "fregan" / "_core.pyi"


def _stub():
    """The stub's top-level names and, for each class, the names it defines."""
    top, classes = set(), {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.ClassDef):
            top.add(node.name)
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
    return top, classes


def _public(names):
    return {n for n in names if not n.startswith("_")}


def test_stub_names_exactly_the_module_members():
    top, _ = _stub()
    module = _public(dir(_core)) | {"__version__"}
    assert module - top == set(), "members of fregan._core missing from _core.pyi"
    assert top - module == set(), "names in _core.pyi that fregan._core does not have"


def test_stub_classes_name_exactly_their_methods_and_properties():
    _, classes = _stub()
    for name, stubbed in classes.items():
        cls = getattr(_core, name)
        native = set(vars(cls))
        assert _public(native) == _public(stubbed), name
        assert stubbed - _public(stubbed) <= native, f"{name}: special methods in the stub that the class lacks"
