"""Source of the objects generated code binds, so that an emitted module runs on its own.

In process, generated code gets its kernels by object (:class:`~symnet.emit.python_source.Binder`).
A standalone module needs them as source instead. :func:`prelude` writes, for every
bound name, either an import (functions implemented in C: ``math.tanh``,
``numpy.exp``) or the function's own source (``def`` or ``lambda``, found through
:mod:`inspect` and :mod:`ast`), followed recursively by whatever globals that
source reads (modules, numbers, other functions; free variables of a closure are
passed to a small factory). Nothing from symnet is imported: the output runs with
the standard library (and NumPy when an array kernel uses it).

>>> import math
>>> from symnet import ops
>>> print(prelude([("tanh", math.tanh), ("relu", ops.relu)]))
from __future__ import annotations
from math import tanh
<BLANKLINE>
<BLANKLINE>
def relu(x: float) -> float:
    # NaN propagates (max(0.0, nan) would hide it).
    return x if (x > 0.0 or x != x) else 0.0
"""

from __future__ import annotations

import ast
import builtins
import dis
import inspect
import linecache
import sys
import textwrap
import types
from typing import Any, Sequence

from ..errors import GraphError

__all__ = ["prelude"]

_PLAIN = (int, float, bool, str, type(None))


def _globals_read(code: types.CodeType) -> list[str]:
    """The global names a code object (and the code nested in it) loads, in order."""
    out: list[str] = []
    stack = [code]
    while stack:
        c = stack.pop()
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval not in out:
                out.append(ins.argval)
        stack.extend(k for k in reversed(c.co_consts) if isinstance(k, types.CodeType))
    return out


_FILES: dict[str, tuple[str, dict[int, list[ast.Lambda]]]] = {}


def _lambdas(filename: str) -> tuple[str, dict[int, list[ast.Lambda]]] | None:
    """The file's text and its ``lambda`` expressions by first line (parsed once while
    the text stays the same)."""
    text = "".join(linecache.getlines(filename))
    if not text:
        return None
    cached = _FILES.get(filename)
    if cached is None or cached[0] != text:
        by_line: dict[int, list[ast.Lambda]] = {}
        try:
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Lambda):
                    by_line.setdefault(node.lineno, []).append(node)
        except SyntaxError:
            pass
        cached = _FILES[filename] = (text, by_line)
    return cached


def _lambda_source(fn: types.FunctionType) -> str | None:
    """The text of the ``lambda`` expression that made ``fn``, located by its code positions."""
    code = fn.__code__
    found = _lambdas(code.co_filename)
    if found is None:
        return None
    text, by_line = found
    key = (code, len(text))
    if key in _LAMBDA_TEXT:
        return _LAMBDA_TEXT[key]
    _LAMBDA_TEXT[key] = out = _find_lambda(code, text, by_line)
    return out


_LAMBDA_TEXT: dict[tuple[types.CodeType, int], str | None] = {}


def _find_lambda(code: types.CodeType, text: str, by_line: dict[int, list[ast.Lambda]]) -> str | None:
    spans = [(a, b, c, d) for a, b, c, d in code.co_positions()
             if a is not None and c is not None and (c, d) != (0, 0)]  # (0, 0): RESUME and cell set-up
    if not spans:
        return None
    best = None
    for node in by_line.get(code.co_firstlineno, ()):
        start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
        if all(start <= (a, c) and (b, d) <= end for a, b, c, d in spans):
            size = (node.end_lineno - node.lineno, node.end_col_offset - node.col_offset)
            if best is None or size < best[0]:
                best = (size, node)
    if best is None:
        return None
    return ast.get_source_segment(text, best[1])


def _def_source(fn: types.FunctionType) -> str | None:
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef) or tree.body[0].decorator_list:
        return None
    if tree.body[0].name != fn.__name__:
        return None
    return text.rstrip("\n")


class _Module:
    """The module being written: one definition per global name."""

    def __init__(self, bound: Sequence[tuple[str, Any]]) -> None:
        self.imports: list[str] = []
        self.blocks: list[str] = []
        self.names: dict[str, Any] = dict(bound)  # the bound names are fixed: the code uses them
        self.pending = {name for name, _ in bound}

    def _same(self, name: str, obj: Any) -> bool:
        have = self.names.get(name, _MISSING)
        return have is obj or (isinstance(obj, _PLAIN) and type(have) is type(obj) and have == obj)

    def _claim(self, name: str, obj: Any) -> bool:
        """True if ``name`` must still be defined; raises if it is taken by something else."""
        if name in self.pending and self._same(name, obj):
            self.pending.discard(name)
            return True
        if name not in self.names:
            self.names[name] = obj
            return True
        if self._same(name, obj):
            return False
        raise GraphError(f"generated code needs two different objects named {name!r}; "
                         "rename one of the functions or use net.codegen()")

    def name_for(self, dep: str, obj: Any, who: str) -> str:
        """The global name under which ``obj`` (read as ``dep`` by some source) is defined:
        ``dep`` itself if free (or already ``obj``), else a fresh name."""
        if dep not in self.names or self._same(dep, obj):
            self.define(dep, obj, who)
            return dep
        for name, have in self.names.items():
            if have is obj and name not in self.pending:
                return name
        k = 2
        while f"{dep}_{k}" in self.names:
            k += 1
        self.define(f"{dep}_{k}", obj, who)
        return f"{dep}_{k}"

    def define(self, name: str, obj: Any, who: str) -> None:
        if not self._claim(name, obj):
            return
        if isinstance(obj, _PLAIN):
            self.blocks.append(f"{name} = {obj!r}")
        elif isinstance(obj, types.ModuleType):
            self._import_module(name, obj, who)
        elif isinstance(obj, type) and issubclass(obj, BaseException):
            base = next(b for b in obj.__mro__ if b.__module__ == "builtins")
            self.blocks.append(f"class {name}({base.__name__}):\n    pass")
        elif isinstance(obj, types.FunctionType):
            self._function(name, obj, who)
        elif callable(obj) and self._importable(obj):
            mod, attr = obj.__module__, obj.__name__
            self.imports.append(f"from {mod} import {attr}" + ("" if attr == name else f" as {name}"))
        else:
            raise GraphError(f"{who}: a {type(obj).__name__} object cannot be written as standalone source; "
                             "use net.codegen()")

    @staticmethod
    def _importable(obj: Any) -> bool:
        mod, attr = getattr(obj, "__module__", None), getattr(obj, "__name__", None)
        if not mod or not attr or mod.split(".")[0] == "symnet" or mod not in sys.modules:
            return False
        return getattr(sys.modules[mod], attr, None) is obj and not isinstance(obj, types.FunctionType)

    def _import_module(self, name: str, mod: types.ModuleType, who: str) -> None:
        real = mod.__name__
        if real.split(".")[0] == "symnet":
            raise GraphError(f"{who}: uses the module {real}; it cannot stand alone")
        self.imports.append(f"import {real}" if real == name else f"import {real} as {name}")

    def _function(self, name: str, fn: types.FunctionType, who: str) -> None:
        is_lambda = fn.__name__ == "<lambda>"
        text = _lambda_source(fn) if is_lambda else _def_source(fn)
        if text is None:
            raise GraphError(f"{who}: the source of {fn.__qualname__} is not available, so it cannot "
                             "stand alone; use net.codegen()")
        params, args = [], []
        for dep in _globals_read(fn.__code__):
            if dep in fn.__globals__:
                got = self.name_for(dep, fn.__globals__[dep], who)
                if got != dep:  # defined under another name: handed in through the factory
                    params.append(dep)
                    args.append(got)
            elif not hasattr(builtins, dep):
                raise GraphError(f"{who}: {fn.__qualname__} reads the undefined name {dep!r}")
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            val = cell.cell_contents
            params.append(var)
            if isinstance(val, _PLAIN):
                args.append(repr(val))
            else:
                own = getattr(val, "__name__", var)
                args.append(self.name_for(own if isinstance(own, str) and own.isidentifier() else f"_{name}_{var}",
                                          val, who))
        if params or (not is_lambda and fn.__name__ != name):
            # a closure, globals defined under other names, or a def bound under another
            # name: a factory takes what the source reads and returns the function
            body = (f"    return {text}" if is_lambda
                    else textwrap.indent(text, "    ") + f"\n    return {fn.__name__}")
            self.blocks.append(f"def _make_{name}({', '.join(params)}):\n{body}\n\n\n"
                               f"{name} = _make_{name}({', '.join(args)})")
        elif is_lambda:
            self.blocks.append(f"{name} = {text}")
        else:
            self.blocks.append(text)


_MISSING = object()


def prelude(bound: Sequence[tuple[str, Any]]) -> str:
    """Imports and definitions that give every ``(name, object)`` in ``bound`` its value.

    Raises :class:`~symnet.errors.GraphError` naming the object when one cannot be
    written as standalone source.
    """
    mod = _Module(bound)
    for name, obj in bound:
        who = f"op '{obj.name}'" if hasattr(obj, "forward") and hasattr(obj, "name") else f"'{name}'"
        if hasattr(obj, "forward") and hasattr(obj, "partials") and hasattr(obj, "arity"):
            _row(mod, name, obj)
        else:
            mod.define(name, obj, who)
    text = "\n".join(["from __future__ import annotations", *dict.fromkeys(mod.imports)])
    return text + "".join(f"\n\n\n{block}" for block in mod.blocks)


def _row(mod: _Module, name: str, op: Any) -> None:
    """An op row the code calls as ``row.forward(xs, attr)`` / ``row.partials(xs, y, attr)``:
    written as a small class holding the row's two kernels."""
    who = f"op '{op.name}'"
    fwd, par = f"_{name}_forward", f"_{name}_partials"
    mod.define(fwd, op.forward, who)
    mod.define(par, op.partials, who)
    if mod._claim(name, op):
        mod.blocks.append(f"class {name}:\n    forward = staticmethod({fwd})\n    partials = staticmethod({par})")
