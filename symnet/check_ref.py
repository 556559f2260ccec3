"""The verifier's SymPy reference: values and gradients from each op's own SymPy form, in high precision.

Nothing here uses symnet's derivative rules (the rows' ``partials``) or the
engine. For every op node SymPy differentiates the row's ``sympy`` form, written
in fresh argument symbols, with respect to each argument (once per op, arity and
attribute); the forms and their derivatives are evaluated by ``xreplace`` with
50-digit SymPy Floats, and the verifier's own reverse accumulation combines the
local derivatives. The cost is linear in the number of edges. For small graphs
the fully inlined elementary expression (``symnet.emit.sympy.elementary_nodes``)
is differentiated directly as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sympy as sp

from .analysis import depths, tree_sizes
from .program import Program
from .emit.sympy import elementary_nodes, leaf_symbols
from .errors import GraphError
from .ops import Op

__all__ = ["DPS", "LocalForms", "Form", "hp", "number", "reference_values", "reference_adjoints",
           "inlined_gradients", "INLINE_MAX_TREE", "INLINE_MAX_KINKS", "INLINE_MAX_DEPTH"]

#: Decimal digits of every SymPy evaluation in the reference.
DPS = 50
#: The inlined expression is differentiated directly only if its tree has at most this many nodes ...
INLINE_MAX_TREE = 400
#: ... and at most this many kink ops (each ReLU is a Piecewise; nested ones multiply out) ...
INLINE_MAX_KINKS = 4
#: ... and at most this depth (SymPy's ``diff`` recurses; about 150 levels overflow the stack).
INLINE_MAX_DEPTH = 60


def hp(x: float) -> sp.Float:
    """A float as a 50-digit SymPy Float (exactly its binary value).

    >>> hp(0.1)
    0.10000000000000000555111512312578270211815834045410
    """
    return sp.Float(x, DPS)


def number(expr: Any) -> Any:
    """``expr`` as a finite real SymPy number, or ``None`` (undefined, infinite or complex)."""
    if not expr.is_Number:
        expr = expr.evalf(DPS)
    if isinstance(expr, (sp.Float, sp.Rational)) and expr.is_finite:
        return expr
    return None


@dataclass(frozen=True)
class Form:
    """One op's SymPy form in argument symbols, and SymPy's derivative with respect to each."""

    symbols: tuple[sp.Symbol, ...]
    expr: Any
    derivatives: tuple[Any, ...]

    def value(self, xs: Sequence[Any]) -> Any:
        """The form at the argument values ``xs`` (SymPy numbers), or ``None`` if undefined."""
        return number(self.expr.xreplace(dict(zip(self.symbols, xs))))

    def partials(self, xs: Sequence[Any]) -> list[Any]:
        """SymPy's local derivatives at ``xs``; ``None`` where undefined."""
        subs = dict(zip(self.symbols, xs))
        return [number(d.xreplace(subs)) if d.free_symbols else number(d) for d in self.derivatives]


class LocalForms:
    """SymPy forms of op rows, built and differentiated once per (row, arity, attr).

    >>> from symnet.ops import OPS
    >>> form = LocalForms().get(OPS["sigmoid"], 1, None)
    >>> form.expr, form.derivatives
    (1/(1 + exp(-_a1)), (exp(-_a1)/(1 + exp(-_a1))**2,))
    >>> float(form.partials([hp(0.0)])[0])
    0.25
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, str], tuple[Op, Form]] = {}

    def get(self, row: Op, n: int, attr: Any) -> Form:
        key = (id(row), n, repr(attr))
        hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        symbols = tuple(sp.Dummy(f"a{j + 1}", real=True) for j in range(n))
        try:
            expr = row.sympy(sp, symbols, attr)
        except Exception as exc:  # a user op's sympy form is user code
            raise GraphError(f"op '{row.name}': its sympy form failed: {exc}") from None
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            expr = sp.Float(expr, DPS) if isinstance(expr, float) else sp.Integer(expr)
        if not isinstance(expr, sp.Expr):
            raise GraphError(f"op '{row.name}': its sympy form must return a SymPy expression, "
                             f"got {type(expr).__name__}")
        form = Form(symbols, expr, tuple(sp.diff(expr, s) for s in symbols))
        self._cache[key] = (row, form)
        return form


def reference_values(program: Program, leaves: Sequence[Any], forms: LocalForms) -> tuple[list[Any], int | None]:
    """Every node's value from the SymPy forms, starting from the leaf values (floats).

    Returns the values and the index of the first node where a form is undefined
    (``None`` if none is).
    """
    vals: list[Any] = [None] * len(program.nodes)
    args, attrs = program.args, program.attrs
    for i, op in enumerate(program.ops):
        if op is None:
            vals[i] = hp(leaves[i])
            continue
        v = forms.get(op, len(args[i]), attrs[i]).value([vals[a] for a in args[i]])
        if v is None:
            return vals, i
        vals[i] = v
    return vals, None


def reference_adjoints(program: Program, vals: Sequence[Any], output: int,
                       forms: LocalForms) -> tuple[list[Any], int | None]:
    """d output / d node for every node, by reverse accumulation of SymPy's local derivatives.

    Returns the adjoints and the first node whose local derivative is undefined, if any.
    """
    zero = sp.Integer(0)
    adj: list[Any] = [zero] * len(program.nodes)
    adj[output] = sp.Integer(1)
    args, attrs, ops = program.args, program.attrs, program.ops
    for i in reversed(program.op_indices):
        g = adj[i]
        if g == 0:
            continue
        ps = forms.get(ops[i], len(args[i]), attrs[i]).partials([vals[a] for a in args[i]])
        for a, p in zip(args[i], ps):
            if p is None:
                return adj, i
            if p != 0:
                adj[a] = adj[a] + g * p
    return adj, None


def inlined_gradients(program: Program, leaves: Sequence[float], output: int,
                      wrt: Sequence[int]) -> dict[int, Any] | None:
    """SymPy's derivative of the fully inlined elementary output with respect to each leaf
    in ``wrt``, at the point; ``None`` if the graph is above the documented size limits."""
    size, kinks = tree_sizes(program)
    if size[output] > INLINE_MAX_TREE or kinks[output] > INLINE_MAX_KINKS or depths(program)[output] >= INLINE_MAX_DEPTH:
        return None
    symbols = leaf_symbols(program)
    exprs = elementary_nodes(program, symbols=symbols)
    out = exprs[output]
    subs = {symbols[i]: hp(leaves[i]) for i in symbols}
    result: dict[int, Any] = {}
    try:
        for i in wrt:
            d = sp.diff(out, symbols[i])
            result[i] = number(d.xreplace(subs)) if d.free_symbols else number(d)
    except RecursionError:  # the let form still answers
        return None
    return result
