"""Imports point one way, along the layers that docs/architecture.md lists.

The table of layers is read from docs/architecture.md (its "Layers" block), so the
document and this test cannot disagree. Every import of a symnet module, at module
level or inside a function, must point to the same layer or a lower one, and the
module graph must have no cycle at all. Imports under ``if TYPE_CHECKING:`` never
run and are not counted.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symnet"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def read_layers(text: str) -> list[tuple[str, int]]:
    """``(pattern, layer)`` rows from the ```text block under the "## Layers" heading."""
    match = re.search(r"^## Layers\b.*?^```text\n(.*?)^```", text, re.S | re.M)
    if match is None:
        raise LookupError("docs/architecture.md has no '## Layers' section with a text block")
    rows = []
    for line in match.group(1).splitlines():
        number, _, patterns = line.partition(" ")
        if number.strip().isdigit():
            rows.extend((pattern, int(number)) for pattern in patterns.split())
    return rows


#: (pattern, layer): the first matching pattern gives a module's layer.
LAYERS = read_layers(ARCHITECTURE.read_text(encoding="utf-8"))


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


def import_graph() -> dict[str, set[str]]:
    """Every symnet module and the symnet modules it imports, anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        top, lazy = imports(path)
        name = module_name(path)
        graph[name] = {t for t, _ in top + lazy if t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's
    algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_the_architecture_document_lists_layers():
    assert LAYERS and LAYERS[0] == ("symnet.errors", 0)
    layers = sorted({layer for _, layer in LAYERS})
    assert layers == list(range(len(layers))), "layers are numbered 0, 1, 2, ... without gaps"


def test_every_module_has_a_layer():
    missing = []
    for path in MODULES:
        try:
            layer_of(module_name(path))
        except LookupError:
            missing.append(module_name(path))
    assert not missing, f"add these modules to the Layers table of docs/architecture.md: {missing}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down(path):
    importer = module_name(path)
    try:
        mine = layer_of(importer)
    except LookupError:
        pytest.skip("no layer (reported by test_every_module_has_a_layer)")
    top, lazy = imports(path)
    upward = [f"line {line}: {importer} (layer {mine}) imports {target} (layer {layer_of(target)})"
              + (" inside a function" if (target, line) in lazy else "")
              for target, line in top + lazy if target != importer and layer_of(target) > mine]
    assert not upward, "\n".join(upward)


def test_no_import_cycles_counting_imports_inside_functions():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


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


def test_the_layers_block_is_read():
    text = "# A\n## Layers\n\n```text\n0 a.b a.c\n1 a.d\n```\n"
    assert read_layers(text) == [("a.b", 0), ("a.c", 0), ("a.d", 1)]


def test_symnet_never_imports_pickle():
    # Model files are JSON only: no module may import pickle (reliability row M1).
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] not in ("pickle", "marshal", "shelve", "dill") for a in node.names), path
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in ("pickle", "marshal", "shelve", "dill"), path


#: The emitters, each one walk over a Program; a family of modules counts as one
#: (generated Python is split by concern into python_source, python_load, ...).
EMITTERS = {"symnet.emit.text": "text", "symnet.emit.latex": "latex", "symnet.emit.sympy": "sympy",
            "symnet.emit.chainrule": "chainrule", "symnet.emit.vectors": "chainrule", "symnet.emit.textbook": "chainrule",
            "symnet.emit.graphs": "graphs", "symnet.emit.matrix": "matrix"}
#: What the emitters share instead of importing each other.
SHARED = {"symnet.emit", "symnet.emit.render", "symnet.emit.printer", "symnet.emit.notation", "symnet.emit.linebreak",
          "symnet.emit.forms", "symnet.emit.plaintext"}


def emitter_of(module: str) -> str | None:
    if module.startswith("symnet.emit.python"):
        return "python"
    return EMITTERS.get(module)


def test_emitters_never_import_each_other():
    graph = import_graph()
    for module in graph:
        if module.startswith("symnet.emit.") and module not in SHARED:
            assert emitter_of(module) is not None, f"{module}: add it to EMITTERS or SHARED"
    crossing = [f"{m} imports {t}" for m, targets in graph.items() for t in targets
                if emitter_of(m) and emitter_of(t) and emitter_of(m) != emitter_of(t)]
    assert crossing == []
