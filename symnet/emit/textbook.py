"""Gradients put in a textbook's shape, and the substitutions that keep that shape.

:func:`textbook` rewrites a derivative the chain rule produced into the form a
textbook prints: what a loss and the activation below it multiply in and divide
out is cancelled (sigmoid with BCE: ``yhat - y``), common factors are pulled out
and signs are placed as in ``(yhat - y)/(yhat (1 - yhat))``. Every rewrite is an
identity; the model's functions are kept whole (treated as symbols), so no op is
expanded. :func:`substitute` replaces sub-expressions without SymPy's
distribution of a number over a sum (``2 (yhat - 0.778)`` stays a product), and
:func:`round_numbers` rounds every number as the one number formatter does.
Every walk is iterative (no recursion over an expression's depth).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.core.mul import _keep_coeff

from .forms import layer_functions
from .render import check_digits, format_number

__all__ = ["textbook", "substitute", "round_numbers"]


def _at_most(expr: Any, limit: int) -> bool:
    """Whether ``expr`` has at most ``limit`` nodes (stops counting past the limit)."""
    for k, _ in enumerate(sp.preorder_traversal(expr)):
        if k >= limit:
            return False
    return True


def _shorter(expr: Any, other: Any) -> Any:
    return other if sp.count_ops(other) < sp.count_ops(expr) else expr


def textbook(expr: Any, max_ops: int = 150) -> Any:
    """``expr`` as a textbook writes it: factors the chain rule multiplies in and the next
    op divides out again are cancelled (sigmoid with BCE: ``x (sigmoid(z) - y)``), and
    common factors are pulled out. The model's functions are kept as they are (treated as
    symbols), so no op is expanded. An identity: only the printed shape changes.

    >>> s = sp.Function("s")(sp.Symbol("z"))
    >>> x, y = sp.symbols("x y")
    >>> textbook(x * s * (1 - s) * ((1 - y) / (1 - s) - y / s))
    x*(-y + s(z))
    """
    expr = expr if isinstance(expr, sp.Basic) else sp.Integer(expr)
    if not _at_most(expr, 4 * max_ops):
        return expr  # too large to reshape cheaply: left as the chain rule wrote it
    if sp.count_ops(expr) > max_ops:
        return _shorter(expr, sp.factor_terms(expr))
    calls = sorted(expr.atoms(sp.Function), key=sp.default_sort_key)
    dummies = {c: sp.Dummy(f"f{k}") for k, c in enumerate(calls)}
    plain = substitute(expr, dummies)
    best = _shorter(plain, sp.factor_terms(plain))
    if any(p.exp.is_negative and p.base.free_symbols for p in plain.atoms(sp.Pow)):
        for tried in (_cancel_factors(plain), sp.factor_terms(sp.cancel(plain))):
            if sp.count_ops(tried) < sp.count_ops(best):
                best = tried
    return substitute(_sign_into_sum(best), {d: c for c, d in dummies.items()})


def _cancel_factors(expr: Any) -> Any:
    """A product with each divisor that equals a factor of the numerator, or its negation,
    cancelled, without expanding anything (``(1 - s)(y - s)/(s - 1)`` is ``-(y - s)``);
    other expressions unchanged."""
    if not expr.is_Mul:
        return expr
    num: list[Any] = []
    den: list[Any] = []
    for f in expr.args:
        base, e = f.as_base_exp()
        if e.is_Integer and e < 0:
            den.extend([base] * int(-e))
        else:
            num.append(f)
    sign = 1
    kept: list[Any] = []
    for d in den:
        for k, n in enumerate(num):
            if n == d or (n.is_Add and sp.expand(n + d) == 0):
                sign = sign if n == d else -sign
                del num[k]
                break
        else:
            kept.append(d)
    return sp.Mul(sign, *num) / sp.Mul(*kept)


def _negated(total: Any) -> Any:
    return sp.Add(*[-t for t in total.args])


def _sign_into_sum(expr: Any) -> Any:
    """Signs placed as textbooks write them, each change a pair of negations: a divisor
    ``s - 1`` is written ``1 - s`` with a sum of the numerator negated too
    (``(y - s)/(s (s - 1))`` is ``(s - y)/(s (1 - s))``); then a negated product with a
    sum among its factors is written with that sum negated instead (``-x (y - s)`` is
    ``x (s - y)``), as textbooks write the error ``yhat - y``."""
    if not expr.is_Mul:
        return expr
    factors = list(expr.args)
    for k, f in enumerate(factors):
        if not (f.is_Pow and f.exp == -1 and f.base.is_Add
                and any(t.is_Number and t < 0 for t in f.base.args)):
            continue
        partner = next((j for j, g in enumerate(factors) if g.is_Add), None)
        if partner is None:
            continue
        factors[k] = sp.Pow(_negated(f.base), -1)
        factors[partner] = _negated(factors[partner])
    if factors != list(expr.args):
        expr = sp.Mul(*factors)
    if not expr.is_Mul or not expr.could_extract_minus_sign():
        return expr
    coeff, factors = expr.as_coeff_mul()
    if coeff >= 0:
        return expr
    sums = [f for f in factors if f.is_Add]
    if not sums:
        return expr
    pick = next((f for f in sums if f.could_extract_minus_sign()), sums[0])
    flipped = _negated(pick)
    rest = list(factors)
    rest[rest.index(pick)] = flipped
    return _keep_coeff(-coeff, sp.Mul(*rest)) if -coeff != 1 else sp.Mul(*rest)


def substitute(expr: Any, mapping: Any) -> Any:
    """``expr.xreplace(mapping)``, except that a number times a sum stays a product
    (``2 (yhat - 0.778)`` with ``yhat`` replaced is ``2 (w x - 0.778)``, where SymPy
    would distribute the 2). Iterative: no recursion over the expression's depth.

    >>> a, x = sp.symbols("a x")
    >>> substitute(sp.Mul(2, a - sp.Float(0.5), evaluate=False), {a: x})
    2*(x - 0.5)
    """
    if not mapping or not isinstance(expr, sp.Basic):
        return expr
    return _rebuild(expr, lambda e: mapping.get(e), ())


def _rebuild(expr: Any, leaf: Any, exact: Any) -> Any:
    # post-order over ``expr``: ``leaf(e)`` replaces a sub-expression (None: keep going);
    # ``exact(e)`` are the argument positions of ``e`` left as they are
    memo: dict[Any, Any] = {}
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in memo:
            continue
        new = leaf(e)
        if new is not None:
            memo[e] = new
            continue
        if not e.args or e.is_Atom:
            memo[e] = e
            continue
        keep = exact(e) if exact else ()
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for k, a in enumerate(e.args) if k not in keep and a not in memo)
            continue
        args = [a if k in keep else memo[a] for k, a in enumerate(e.args)]
        if args == list(e.args):
            memo[e] = e
        elif e.is_Mul and len(args) == 2 and any(a.is_Rational for a in args) and any(a.is_Add for a in args):
            number, other = (args[0], args[1]) if args[0].is_Rational else (args[1], args[0])
            memo[e] = _keep_coeff(number, other)
        else:
            memo[e] = e.func(*args)
    return memo[expr]


def round_numbers(expr: Any, digits: int | None) -> Any:
    """``expr`` with every number rounded to ``digits`` significant digits, as the one
    number formatter rounds (:func:`symnet.emit.render.format_number`), checked by
    :func:`~symnet.emit.render.check_digits`; exponents and a layer function's output
    index are structure and stay exact (``x**(1/2)``, ``softmax(0, a, b)``). Integers
    that round to themselves stay integers; ``None`` returns ``expr`` unchanged.

    >>> x = sp.Symbol("x")
    >>> round_numbers(sp.Rational(389, 500) * x + sp.Rational(1, 3) + x ** sp.Rational(1, 2), 2)
    sqrt(x) + 0.78*x + 0.33
    """
    check_digits(digits)
    if digits is None or not isinstance(expr, sp.Basic):
        return expr
    return _rebuild(expr, lambda e: _rounded(e, digits) if e.is_Number else None, _exact_args)


def _exact_args(e: Any) -> set[int]:
    """Positions of ``e``'s arguments that are structure, not values: a power's numeric
    exponent, a layer function's output index."""
    if e.is_Pow and e.exp.is_Number:
        return {1}
    if isinstance(e, sp.Function) and type(e) in layer_functions().values():
        return {0}
    return set()


def _rounded(n: Any, digits: int) -> Any:
    if not n.is_finite:
        return n
    text = format_number(float(n), digits)
    v = float(text)
    if v.is_integer() and abs(v) < 1e16:
        return sp.Integer(int(v))
    return sp.Float(text, digits)
