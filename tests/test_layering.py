"""Imports point one way along the pipeline:

    errors -> ops -> graph -> layers/losses/parse -> compile -> engine and emitters
    -> network -> files/backends/worked -> check/derivative -> train -> report -> cli/demo

Module-level imports may only point to the same layer or a lower one. Imports
inside functions may point upward only in the two facades users hold (``Node``
methods in graph.py, ``Network`` methods in network.py, which reach every pass
lazily) or where listed in LAZY_UPWARD, each for a documented reason.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symnet"

#: (pattern, layer): the first matching pattern gives a module's layer.
LAYERS = [
    ("symnet.errors", 0),
    ("symnet.progress", 0),
    ("symnet.ops", 1),
    ("symnet.fileio", 1),
    ("symnet.graph", 2),
    ("symnet.layers", 3),
    ("symnet.losses", 3),
    ("symnet.parse", 3),
    ("symnet.compile", 4),
    ("symnet.engine", 5),
    ("symnet.emit", 5),
    ("symnet.emit.*", 5),
    ("symnet.network", 6),
    ("symnet.files", 7),
    ("symnet.files_read", 7),
    ("symnet.torch_import", 7),
    ("symnet.backends", 7),
    ("symnet.backends.*", 7),
    ("symnet.worked", 7),
    ("symnet.check_report", 0),
    ("symnet.check*", 8),
    ("symnet.derivative", 8),
    ("symnet.train", 9),
    ("symnet.report", 10),
    ("symnet.demo", 11),
    ("symnet.cli*", 11),
    ("symnet", 12),
    ("symnet.__main__", 12),
]

#: Imports inside functions that point upward, and why they are allowed.
LAZY_UPWARD = {
    # Node.compile/forward/backward/predict compile the graph they belong to.
    ("symnet.graph", "symnet.compile"),
    # define_op returns a constructor of graph nodes.
    ("symnet.ops", "symnet.graph"),
    # compile() wraps the Program in a Network, the object users hold.
    ("symnet.compile", "symnet.network"),
    # the saved file records the version of symnet that wrote it
    ("symnet.files", "symnet"),
}
#: Modules whose methods are the user's entry points to every later pass.
FACADES = {"symnet.graph", "symnet.network"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    for pattern, layer in LAYERS:
        if fnmatch.fnmatchcase(module, pattern):
            return layer
    raise LookupError(module)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or (PACKAGE.parent / rel / "__init__.py").exists()


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "symnet"]
    if node.level == 0:
        base = node.module or ""
    else:
        parts = importer.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    if base.split(".")[0] != "symnet":
        return []
    targets = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        targets.append(sub if _is_module(sub) else base)
    return targets


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(module-level, function-level) imports of symnet modules: (target, line)."""
    return imports_of(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def imports_of(source: str, importer: str, is_package: bool) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    tree = ast.parse(source)
    top: list[tuple[str, int]] = []
    lazy: list[tuple[str, int]] = []
    # iterative walk; statements under def/lambda/class bodies of functions are "lazy"
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]
    while stack:
        node, in_function = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _resolve(importer, is_package, node):
                (lazy if in_function else top).append((target, node.lineno))
            continue
        if isinstance(node, ast.If) and _type_checking(node):
            continue  # typing-only imports never run
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            stack.append((child, inner))
    return top, lazy


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    missing = []
    for path in MODULES:
        try:
            layer_of(module_name(path))
        except LookupError:
            missing.append(module_name(path))
    assert not missing, f"add these modules to LAYERS in tests/test_layering.py: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_module_level_imports_point_down(path):
    importer = module_name(path)
    try:
        mine = layer_of(importer)
    except LookupError:
        pytest.skip("no layer (reported by test_every_module_has_a_layer)")
    top, lazy = imports(path)
    upward = [f"line {line}: {importer} (layer {mine}) imports {target} (layer {layer_of(target)})"
              for target, line in top if target != importer and layer_of(target) > mine]
    assert not upward, "\n".join(upward)
    lazy_upward = [f"line {line}: {importer} imports {target} inside a function"
                   for target, line in lazy
                   if layer_of(target) > mine and importer not in FACADES
                   and (importer, target) not in LAZY_UPWARD]
    assert not lazy_upward, "\n".join(lazy_upward) + "\n(if this is intended, add it to LAZY_UPWARD with a reason)"


def test_the_walk_sees_imports_in_blocks_and_functions():
    source = (
        "import os\n"
        "from .network import Network\n"
        "try:\n    from . import train\nexcept ImportError:\n    pass\n"
        "if TYPE_CHECKING:\n    from .cli import main\n"
        "class A:\n    def f(self):\n        from .check import check_gradients\n"
        "        from ..elsewhere import thing\n"
    )
    top, lazy = imports_of(source, "symnet.graph", False)
    assert sorted(top) == [("symnet.network", 2), ("symnet.train", 4)]
    assert lazy == [("symnet.check", 11)]
    assert layer_of("symnet.train") > layer_of("symnet.graph")


def test_symnet_never_imports_pickle():
    # Model files are JSON only: no module may import pickle (reliability row M1).
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] not in ("pickle", "marshal", "shelve", "dill") for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in ("pickle", "marshal", "shelve", "dill"), path
