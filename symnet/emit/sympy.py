"""SymPy emitter: a network as SymPy expressions, built programmatically from the op rows.

Two forms:

* the **elementary** form uses only SymPy's own functions (each row's ``sympy``
  field: ``exp``, ``log``, ``tanh``, ``Piecewise`` ...), so SymPy can differentiate
  it without knowing any of symnet's derivative rules -- the verifier's oracle;
* the **let** form is an ordered list of ``(Symbol, Expr)`` definitions, one per op
  node, plus the output symbol(s); it stays linear in the network's size however
  deep or shared the graph is.

Symbols are ``real=True`` and named as the network names its inputs, parameters
and intermediates. Nothing is parsed from strings.
"""

from __future__ import annotations

from typing import Any, Sequence

import sympy as sp

from ..compile import Program

__all__ = ["leaf_symbols", "constant", "elementary_nodes", "let_form"]


def constant(value: float) -> sp.Expr:
    """A float as an exact SymPy number (integers stay integers)."""
    if float(value).is_integer():
        return sp.Integer(int(value))
    num, den = float(value).as_integer_ratio()
    return sp.Rational(num, den)


def leaf_symbols(program: Program) -> dict[int, sp.Symbol]:
    """A real Symbol for every input and parameter, named as the network names it."""
    return {i: sp.Symbol(program.names[i], real=True) for i in program.inputs + program.parameters}


def _leaf(program: Program, i: int, symbols: dict[int, sp.Symbol], numeric: bool) -> sp.Expr:
    node = program.nodes[i]
    if node.kind == "constant" or (numeric and node.kind == "parameter"):
        return constant(node._value)
    return symbols[i]


def elementary_nodes(program: Program, *, numeric: bool = False,
                     symbols: dict[int, sp.Symbol] | None = None) -> list[Any]:
    """The elementary SymPy expression of every node, inlined (SymPy shares subtrees).

    With ``numeric=True`` parameters are replaced by their exact current values.
    """
    symbols = leaf_symbols(program) if symbols is None else symbols
    exprs: list[Any] = [None] * len(program.nodes)
    for i, op in enumerate(program.ops):
        if op is None:
            exprs[i] = _leaf(program, i, symbols, numeric)
        else:
            exprs[i] = op.sympy(sp, tuple(exprs[a] for a in program.args[i]), program.attrs[i])
    return exprs


def let_form(program: Program, *, numeric: bool = False,
             symbols: dict[int, sp.Symbol] | None = None) -> tuple[list[tuple[sp.Symbol, Any]], list[Any]]:
    """``(definitions, outputs)``: one ``(Symbol, elementary Expr)`` per op node, in order,
    each over leaf symbols and earlier definitions; ``outputs`` are the output symbols."""
    symbols = leaf_symbols(program) if symbols is None else dict(symbols)
    refs: list[Any] = [None] * len(program.nodes)
    defs: list[tuple[sp.Symbol, Any]] = []
    for i, op in enumerate(program.ops):
        if op is None:
            refs[i] = _leaf(program, i, symbols, numeric)
            continue
        sym = sp.Symbol(program.names[i] or f"t{i}", real=True)
        defs.append((sym, op.sympy(sp, tuple(refs[a] for a in program.args[i]), program.attrs[i])))
        refs[i] = sym
    return defs, [refs[o] for o in program.outputs]


