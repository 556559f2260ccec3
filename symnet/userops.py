"""User-defined ops: ``define_op`` adds a row to the op table and returns its node constructor.

This module sits above the graph (it builds nodes), so the op table itself never
imports the graph.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .errors import GraphError
from .graph import Node
from .ops import OPS, Op, call

__all__ = ["define_op"]

_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def define_op(
    name: str,
    arity: int,
    forward: Callable[..., float],
    partials: Callable[..., Sequence[float]],
    sympy: Callable[..., Any],
    text: str | None = None,
    latex: str | None = None,
    *,
    replace: bool = False,
    kink: Callable[..., float] | None = None,
) -> Callable[..., Any]:
    """Add a user-defined elementary op to the table and return its node constructor.

    ``forward(*xs) -> float``; ``partials(*xs) -> tuple`` with one local derivative per
    child; ``sympy(*exprs) -> sympy.Expr`` written with SymPy's own functions. The op
    then works in the engine, every emitter and the verifier, which checks the
    hand-written ``partials`` against SymPy's derivative of ``sympy``. ``kink(*xs)``, if
    the op has a non-differentiable point, gives the signed distance of the inputs from it
    (the verifier then skips finite differences there).

    >>> import symnet as sn
    >>> sq = sn.define_op("square_doc", 1, forward=lambda x: x * x,
    ...                   partials=lambda x: (2 * x,), sympy=lambda x: x**2)
    >>> x = sn.Input("x", 3.0)
    >>> sq(x).forward()
    9.0
    """
    if not isinstance(name, str) or not name or not name[0].isalpha() or not set(name) <= _IDENT_CHARS:
        raise GraphError(f"op name {name!r} must be an identifier starting with a letter")
    if name in OPS and (OPS[name].builtin or not replace):
        raise GraphError(f"op {name!r} already exists" + ("" if OPS[name].builtin else "; pass replace=True"))
    if not isinstance(arity, int) or isinstance(arity, bool) or arity < 1:
        raise GraphError(f"op {name!r}: arity must be a positive integer, got {arity!r}")
    for label, fn in (("forward", forward), ("partials", partials), ("sympy", sympy)):
        if not callable(fn):
            raise GraphError(f"op {name!r}: {label} must be callable")
    if kink is not None and not callable(kink):
        raise GraphError(f"op {name!r}: kink must be callable or None")

    def _partials(xs: tuple[float, ...], y: float, attr: Any) -> tuple[float, ...]:
        out = tuple(float(p) for p in partials(*xs))
        if len(out) != len(xs):
            raise GraphError(f"op {name!r}: partials returned {len(out)} values for {len(xs)} inputs")
        return out

    row = Op(
        name, arity,
        forward=lambda xs, a: float(forward(*xs)),
        partials=_partials,
        sympy=lambda sp, e, a: sympy(*e),
        text=call(text or name),
        latex=call(latex or rf"\operatorname{{{name}}}"),
        doc="user-defined op",
        derivative="user-defined partials",
        builtin=False,
        kink=None if kink is None else (lambda xs, a: kink(*xs)),
    )
    OPS[name] = row

    def constructor(*children: Any, name: str | None = None) -> Node:
        if len(children) == 1 and isinstance(children[0], (list, tuple)):
            children = tuple(children[0])
        return Node.apply(row.name, children, name=name)

    constructor.__name__ = name
    constructor.__doc__ = f"Build a '{name}' node (user-defined op)."
    return constructor
