"""The verifier's SymPy reference: values and gradients from each op's own SymPy form, in high precision.

Nothing here uses symnet's derivative rules (the rows' ``partials``) or the
engine. For every op node SymPy differentiates the row's ``sympy`` form, written
in fresh argument symbols, with respect to each argument (once per op, arity and
attribute); the forms and their derivatives are evaluated in 50-digit mpmath
arithmetic by closures built from their expression trees (nothing is generated
or executed), and the verifier's own reverse accumulation combines the local
derivatives. An n-ary form that SymPy proves associative (a sum, a product) is
evaluated as a balanced fold of its 2-argument form, so the cost is linear in the
number of edges; a form that is the plain sum of its arguments (or the product of
two) is evaluated directly, one exactly rounded ``fsum`` (one product), the same
numbers without the closures. For small graphs the fully inlined elementary expression
(``symnet.emit.sympy.elementary_nodes``) is differentiated directly as well, under
a time budget (``INLINE_SECONDS``); SymPy's failures there (nested ``Piecewise``)
leave the per-node answer.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import mpmath
import sympy as sp
from mpmath.libmp import finf, fnan, fninf

from .analysis import depths, tree_sizes
from .program import Program
from .emit.sympy import elementary_nodes, leaf_symbols
from .errors import GraphError
from .ops import Op

__all__ = ["DPS", "ONE", "LocalForms", "Form", "hp", "number", "real", "absval", "time_limit", "TimeBudget",
           "leaf_value", "reference_values", "reference_adjoints", "inlined_gradients", "INLINE_MAX_TREE",
           "INLINE_MAX_KINKS", "INLINE_MAX_DEPTH"]

#: Decimal digits of every SymPy evaluation in the reference.
DPS = 50
#: The inlined expression is differentiated directly only if its tree has at most this many nodes ...
INLINE_MAX_TREE = 400
#: ... and at most this many kink ops (each ReLU is a Piecewise; nested ones multiply out) ...
INLINE_MAX_KINKS = 4
#: ... and at most this depth (SymPy's ``diff`` recurses; about 150 levels overflow the stack).
INLINE_MAX_DEPTH = 60


def hp(x: float) -> Any:
    """A float as a ``DPS``-digit mpmath number (exactly its binary value).

    >>> mpmath.nstr(hp(0.1), 40)
    '0.1000000000000000055511151231257827021182'
    """
    if type(x) is float:  # a float's 53 bits are exact at any working precision
        return _MPF(x)
    if type(x) is _MPF:  # already converted
        return x
    with mpmath.workdps(DPS):
        return mpmath.mpf(x)


def number(expr: Any) -> Any:
    """A SymPy expression as a finite real ``DPS``-digit mpf, or ``None`` (undefined,
    infinite, complex or not representable)."""
    try:
        if not expr.is_Number:
            expr = expr.evalf(DPS)
        if isinstance(expr, (sp.Float, sp.Rational)) and expr.is_finite:
            with mpmath.workdps(DPS):
                return mpmath.mpf(expr)
    except EVAL_ERRORS:
        return None
    return None


class TimeBudget(Exception):
    """A SymPy call ran past its time budget."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[bool]:
    """Run the body under a SIGALRM time limit (raising :class:`TimeBudget`); yields True if
    the limit is armed (main thread on Unix, no other timer running), else False."""
    if (threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer")
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0):  # never disturb someone else's timer
        yield False
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeBudget

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_NONFINITE = (finf, fninf, fnan)


def real(x: Any) -> Any:
    """``x`` (an mpmath or Python number) as a finite real mpf, or ``None``."""
    if type(x) is _MPF:
        return None if x._mpf_ in _NONFINITE else x
    if isinstance(x, mpmath.mpc):
        if x.imag != 0:
            return None
        x = x.real
    elif isinstance(x, (int, float)) and not isinstance(x, bool):
        x = mpmath.mpf(x)
    elif not isinstance(x, mpmath.mpf):
        try:  # a SymPy number
            x = mpmath.mpf(x)
        except (TypeError, ValueError):
            return None
    return x if mpmath.isfinite(x) else None


_MPF = type(mpmath.mpf(1))
#: The partial 1 of a sum's argument: one shared object, so ``p is ONE`` skips a multiplication.
ONE = mpmath.mpf(1)
#: What evaluating a form at numbers may raise (undefined or not representable values).
EVAL_ERRORS = (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError, AttributeError)


def _dirac(x: Any, *k: Any) -> Any:
    if x == 0:
        raise ZeroDivisionError("DiracDelta at 0")
    return mpmath.mpf(0)


def _heaviside(x: Any, h0: Any = None) -> Any:
    if x == 0:
        if h0 is None:
            raise ValueError("Heaviside(0) is undefined")
        return h0
    return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)


def _sign(x: Any) -> Any:
    return mpmath.mpf((x > 0) - (x < 0))


#: ``exp``, ``sinh``, ``cosh`` of an argument beyond this (and powers whose result would have
#: more than about this many binary digits of exponent) are undefined here: their values
#: (10**(4e8) and beyond) are representable only at a cost that grows with the argument
#: (``exp(exp(exp(w)))`` at w = 200 ran for minutes), and no float64 computation comes near them.
MAX_EXP_ARG = 1e8


def _bounded(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def bounded(x: Any) -> Any:
        if abs(x) > MAX_EXP_ARG:
            raise ValueError(f"argument {mpmath.nstr(x, 5)} beyond MAX_EXP_ARG")
        return fn(x)
    return bounded


def _power(base: Any, ex: Any) -> Any:
    b = abs(base)
    if b != 0 and b != 1 and abs(ex * mpmath.log(b)) > MAX_EXP_ARG:
        raise ValueError("a power beyond MAX_EXP_ARG")
    return mpmath.power(base, ex)


#: SymPy functions and the mpmath functions that evaluate them. A function not listed
#: here is evaluated by SymPy itself (``evalf``), which is slower but still exact.
FUNCTIONS: dict[Any, Callable[..., Any]] = {
    sp.exp: _bounded(mpmath.exp), sp.log: mpmath.log, sp.tanh: mpmath.tanh, sp.sinh: _bounded(mpmath.sinh),
    sp.cosh: _bounded(mpmath.cosh),
    sp.sin: mpmath.sin, sp.cos: mpmath.cos, sp.tan: mpmath.tan, sp.atan: mpmath.atan, sp.erf: mpmath.erf,
    sp.Abs: mpmath.fabs, sp.sign: _sign, sp.Heaviside: _heaviside, sp.DiracDelta: _dirac,
}
_RELATIONS: dict[Any, Callable[[Any, Any], bool]] = {
    sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
    sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
    sp.Equality: lambda a, b: a == b, sp.Unequality: lambda a, b: a != b,
}


def _compile(expr: Any, index: dict[Any, int]) -> Callable[[Sequence[Any]], Any]:
    """A SymPy expression as a closure over argument values (mpmath numbers); no code is
    generated or executed. Iterative over the expression tree."""
    built: dict[Any, Callable[[Sequence[Any]], Any]] = {}
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in built:
            continue
        kids = e.args if not (e.is_Atom or isinstance(e, sp.Piecewise)) else ()
        if isinstance(e, sp.Piecewise):
            kids = tuple(x for pair in e.args for x in pair)
        if not ready and kids:
            stack.append((e, True))
            stack.extend((k, False) for k in kids if k not in built)
            continue
        built[e] = _node(e, index, [built[k] for k in kids])
    return built[expr]


def _node(e: Any, index: dict[Any, int], fs: list[Callable[[Sequence[Any]], Any]]) -> Callable[[Sequence[Any]], Any]:
    if e in index:
        j = index[e]
        return lambda xs: xs[j]
    if e is sp.true or e is sp.S.true:
        return lambda xs: True
    if e is sp.false or e is sp.S.false:
        return lambda xs: False
    if e.is_Number:
        with mpmath.workdps(DPS):
            c = mpmath.mpf(int(e.p)) / int(e.q) if e.is_Rational else mpmath.mpf(e)
        return lambda xs: c
    if e.is_NumberSymbol:
        c = e
        return lambda xs: mpmath.mpf(c.evalf(mpmath.mp.dps))
    if e.is_Add:
        if len(fs) == 2:
            f0, f1 = fs
            return lambda xs: f0(xs) + f1(xs)
        return lambda xs: mpmath.fsum(f(xs) for f in fs)
    if e.is_Mul:
        if len(fs) == 2:
            g0, g1 = fs
            return lambda xs: g0(xs) * g1(xs)

        def mul(xs: Sequence[Any]) -> Any:
            out = fs[0](xs)
            for f in fs[1:]:
                out = out * f(xs)
            return out
        return mul
    if e.is_Pow:
        base, ex = fs
        if e.exp.is_Integer:
            n = int(e.exp)
            return lambda xs: base(xs) ** n if n >= 0 else 1 / base(xs) ** (-n)
        return lambda xs: _power(base(xs), ex(xs))
    if isinstance(e, sp.Piecewise):
        pairs = [(fs[2 * k], fs[2 * k + 1]) for k in range(len(e.args))]

        def piecewise(xs: Sequence[Any]) -> Any:
            for value, cond in pairs:
                if cond(xs):
                    return value(xs)
            raise ValueError("no piece of the Piecewise applies")
        return piecewise
    relation = _RELATIONS.get(type(e))
    if relation is not None:
        a, b = fs
        return lambda xs: relation(_real_or_fail(a(xs)), _real_or_fail(b(xs)))
    if isinstance(e, sp.And):
        return lambda xs: all(f(xs) for f in fs)
    if isinstance(e, sp.Or):
        return lambda xs: any(f(xs) for f in fs)
    if isinstance(e, sp.Not):
        return lambda xs: not fs[0](xs)
    fn = FUNCTIONS.get(e.func)
    if fn is not None:
        return lambda xs: fn(*(f(xs) for f in fs))
    return _by_sympy(e, index)


def _real_or_fail(x: Any) -> Any:
    if isinstance(x, mpmath.mpc):
        if x.imag != 0:
            raise TypeError("comparison of a complex value")
        return x.real
    return x


def _by_sympy(e: Any, index: dict[Any, int]) -> Callable[[Sequence[Any]], Any]:
    symbols = list(index)

    def value(xs: Sequence[Any]) -> Any:
        subs = {s: sp.Float(xs[index[s]], DPS) for s in symbols if s in e.free_symbols}
        v = number(e.xreplace(subs))
        if v is None:
            raise ValueError("undefined")
        return v
    return value


def _as_expr(e: Any) -> Any:
    if isinstance(e, sp.Basic):
        return e
    return sp.Integer(e) if isinstance(e, int) else sp.Float(e, DPS)


def _evaluator(symbols: Sequence[Any], exprs: Any) -> Callable[..., Any]:
    """Evaluators of ``exprs`` (one expression or a list) at argument values."""
    index = {s: j for j, s in enumerate(symbols)}
    if isinstance(exprs, list):
        fns = [_compile(_as_expr(e), index) for e in exprs]
        return lambda *xs: [f(xs) for f in fns]
    f = _compile(_as_expr(exprs), index)
    return lambda *xs: f(xs)


def absval(expr: Any) -> Any:
    """The magnitude of the terms of ``expr``: sums and products of absolute values.

    Evaluated at a point it bounds what a float evaluation of ``expr`` adds up, so
    ``eps * absval`` bounds its rounding error to first order (cancellation included).

    >>> a, b = sp.symbols("a b", real=True)
    >>> absval(a - b*a)
    Abs(a)*Abs(b) + Abs(a)
    """
    if expr.is_Add:
        return sp.Add(*[absval(t) for t in expr.args])
    if expr.is_Mul:
        return sp.Mul(*[absval(t) for t in expr.args])
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return absval(expr.base) ** expr.exp
    return sp.Abs(expr)


@dataclass(frozen=True)
class Form:
    """One op's SymPy form in argument symbols, and SymPy's derivative with respect to each.

    Values are computed in ``DPS``-digit mpmath arithmetic by closures built once per
    form from its expression tree (:data:`FUNCTIONS`; nothing is generated or executed).
    """

    symbols: tuple[sp.Symbol, ...]
    expr: Any
    derivatives: tuple[Any, ...]

    @property
    def shape(self) -> str:
        """``"sum"`` if the form is the plain sum of its arguments, ``"product"`` if it is the
        product of two, else ``""``: those are evaluated directly (same values, no closures)."""
        shape = self.__dict__.get("_shape")
        if shape is None:
            shape = ("sum" if self.expr == sp.Add(*self.symbols) else
                     "product" if len(self.symbols) == 2 and self.expr == sp.Mul(*self.symbols) else "")
            self.__dict__["_shape"] = shape
        return shape

    def _fn(self, key: str, build: Callable[[], Any]) -> Callable[..., Any]:
        fns = self.__dict__.setdefault("_fns", {})
        fn = fns.get(key)
        if fn is None:
            fn = fns[key] = _evaluator(self.symbols, build())
        return fn

    def value(self, xs: Sequence[Any]) -> Any:
        """The form at the argument values ``xs``, or ``None`` if undefined, infinite or complex."""
        shape = self.shape
        if shape:
            if mpmath.mp.dps == DPS:
                return real(mpmath.fsum(xs) if shape == "sum" else xs[0] * xs[1])
            with mpmath.workdps(DPS):
                return real(mpmath.fsum(xs) if shape == "sum" else xs[0] * xs[1])
        fn = self._fn("value", lambda: self.expr)
        try:
            if mpmath.mp.dps == DPS:
                return real(fn(*xs))
            with mpmath.workdps(DPS):
                return real(fn(*xs))
        except EVAL_ERRORS:
            return None

    def partials(self, xs: Sequence[Any]) -> list[Any]:
        """SymPy's local derivatives at ``xs``; ``None`` where undefined."""
        shape = self.shape
        if shape == "sum":
            return [ONE] * len(xs)
        if shape == "product":
            return [xs[1], xs[0]]
        fn = self._fn("partials", lambda: list(self.derivatives))
        try:
            if mpmath.mp.dps == DPS:
                return [real(p) for p in fn(*xs)]
            with mpmath.workdps(DPS):
                return [real(p) for p in fn(*xs)]
        except EVAL_ERRORS:
            return [None] * len(self.symbols)

    def magnitudes(self, xs: Sequence[Any]) -> tuple[Any, list[Any]] | None:
        """:func:`absval` of the form and of each derivative at ``xs`` (``None`` if undefined)."""
        shape = self.shape
        if shape == "sum":
            return mpmath.fsum(xs, absolute=True), [ONE] * len(xs)
        if shape == "product":
            a, b = abs(xs[0]), abs(xs[1])
            if mpmath.mp.dps == DPS:
                return a * b, [b, a]
            with mpmath.workdps(DPS):
                return a * b, [b, a]
        fn = self._fn("abs", lambda: [absval(self.expr)] + [absval(d) for d in self.derivatives])
        try:
            with mpmath.workdps(DPS):
                out = [real(v) for v in fn(*xs)]
        except EVAL_ERRORS:
            return None
        if any(v is None for v in out):
            return None
        return out[0], out[1:]


#: n-ary ops with more arguments than this are evaluated as a balanced fold of their
#: 2-argument form when SymPy proves the form associative (linear cost instead of the
#: quadratic cost of differentiating a form of n arguments n times).
FOLD_ABOVE = 4


class LocalForms:
    """SymPy forms of op rows, built and differentiated once per (row, arity, attr).

    >>> from symnet.ops import OPS
    >>> form = LocalForms().get(OPS["sigmoid"], 1, None)
    >>> form.expr, form.derivatives
    (1/(1 + exp(-_a1)), (exp(-_a1)/(1 + exp(-_a1))**2,))
    >>> float(form.partials([hp(0.0)])[0])
    0.25
    >>> value, partials = LocalForms().evaluate(OPS["add"], None, [hp(float(k)) for k in range(100)])
    >>> float(value), len(partials), float(partials[7])
    (4950.0, 100, 1.0)
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, str, Any], tuple[Op, Form]] = {}
        self._assoc: dict[int, tuple[Op, bool]] = {}
        self._plans: dict[int, tuple[Program, list[Any]]] = {}

    def evaluators(self, program: Program) -> list[Callable[[Sequence[Any]], tuple[Any, list[Any] | None]] | None]:
        """For every node of ``program`` (``None`` for a leaf), the function of its argument values
        that :meth:`evaluate` applies, chosen once per program: sums and products of two are
        computed directly. Call them at ``DPS`` digits (inside ``mpmath.workdps(DPS)``)."""
        hit = self._plans.get(id(program))
        if hit is not None and hit[0] is program:
            return hit[1]
        plan: list[Any] = []
        for i, op in enumerate(program.ops):
            if op is None:
                plan.append(None)
                continue
            n, attr = len(program.args[i]), program.attrs[i]
            shape = self.get(op, 2, None).shape if self.folds(op, n, attr) else self.get(op, n, attr).shape
            if shape == "sum":
                plan.append(_sum)
            elif shape == "product" and n == 2:
                plan.append(_product)
            else:
                plan.append(functools.partial(self.evaluate, op, attr))
        self._plans[id(program)] = (program, plan)
        return plan

    def get(self, row: Op, n: int, attr: Any) -> Form:
        # a formula's number carries its exact value (``1/3``, symnet.parse.Exact), which the
        # form uses: it must not share the form of the float 0.3333333333333333 (same repr)
        key = (id(row), n, repr(attr), getattr(attr, "exact", None))
        hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        symbols = tuple(sp.Dummy(f"a{j + 1}", real=True) for j in range(n))
        expr = self._expr(row, symbols, attr)
        try:
            derivatives = tuple(sp.diff(expr, s) for s in symbols)
        except Exception as exc:  # SymPy on a user op's form
            raise GraphError(f"op '{row.name}': SymPy cannot differentiate its sympy form: "
                             f"{type(exc).__name__}: {exc}") from None
        form = Form(symbols, expr, derivatives)
        self._cache[key] = (row, form)
        return form

    @staticmethod
    def _expr(row: Op, symbols: tuple[Any, ...], attr: Any) -> Any:
        try:
            expr = row.sympy(sp, symbols, attr)
        except Exception as exc:  # a user op's sympy form is user code
            raise GraphError(f"op '{row.name}': its sympy form failed: {exc}") from None
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            expr = sp.Float(expr, DPS) if isinstance(expr, float) else sp.Integer(expr)
        if not isinstance(expr, sp.Expr):
            raise GraphError(f"op '{row.name}': its sympy form must return a SymPy expression, "
                             f"got {type(expr).__name__}")
        return expr

    def associative(self, row: Op) -> bool:
        """True if the row is n-ary and its form of 3 arguments equals both folds of its 2-argument form."""
        hit = self._assoc.get(id(row))
        if hit is not None:
            return hit[1]
        ok = False
        if row.arity is None and row.min_arity <= 2:
            try:
                a, b, c = (sp.Dummy(k, real=True) for k in "abc")
                f3 = self._expr(row, (a, b, c), None)
                left = self._expr(row, (self._expr(row, (a, b), None), c), None)
                right = self._expr(row, (a, self._expr(row, (b, c), None)), None)
                ok = sp.expand(f3 - left) == 0 and sp.expand(f3 - right) == 0
            except Exception:
                ok = False
        self._assoc[id(row)] = (row, ok)
        return ok

    def folds(self, row: Op, n: int, attr: Any) -> bool:
        return n > FOLD_ABOVE and attr is None and self.associative(row)

    def evaluate(self, row: Op, attr: Any, xs: Sequence[Any]) -> tuple[Any, list[Any] | None]:
        """The value and SymPy's local partials of one op node at ``xs`` (``None`` where undefined)."""
        n = len(xs)
        if not self.folds(row, n, attr):
            form = self.get(row, n, attr)
            v = form.value(xs)
            if v is None:
                return None, None
            ps = form.partials(xs)
            return v, None if any(p is None for p in ps) else ps
        form = self.get(row, 2, None)
        if form.shape == "sum":  # the fold of a + b is the sum: one exactly rounded fsum
            v = form.value(xs)
            return (None, None) if v is None else (v, [ONE] * n)
        one = ONE
        level, groups = list(xs), [[j] for j in range(n)]
        mult = [one] * n
        while len(level) > 1:
            nxt, ngroups = [], []
            for k in range(0, len(level) - 1, 2):
                pair = [level[k], level[k + 1]]
                v = form.value(pair)
                ps = form.partials(pair)
                if v is None or ps[0] is None or ps[1] is None:
                    return None, None
                for side in (0, 1):
                    if ps[side] != 1:
                        for j in groups[k + side]:
                            mult[j] = mult[j] * ps[side]
                nxt.append(v)
                ngroups.append(groups[k] + groups[k + 1])
            if len(level) % 2:
                nxt.append(level[-1])
                ngroups.append(groups[-1])
            level, groups = nxt, ngroups
        return level[0], mult


def _sum(xs: Sequence[Any]) -> tuple[Any, list[Any]]:
    return mpmath.fsum(xs), [ONE] * len(xs)


def _product(xs: Sequence[Any]) -> tuple[Any, list[Any]]:
    return xs[0] * xs[1], [xs[1], xs[0]]


def leaf_value(program: Program, i: int) -> float | None:
    """The stored value of a constant leaf (``None`` for inputs and parameters)."""
    return program.values[i] if program.kinds[i] == "constant" else None


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
        xs = [vals[a] for a in args[i]]
        if forms.folds(op, len(xs), attrs[i]):
            v = forms.evaluate(op, attrs[i], xs)[0]
        else:
            v = forms.get(op, len(xs), attrs[i]).value(xs)
        if v is None:
            return vals, i
        vals[i] = v
    return vals, None


def reference_adjoints(program: Program, vals: Sequence[Any], output: int, forms: LocalForms,
                       partials: Callable[[int], Any] | None = None) -> tuple[list[Any], int | None]:
    """d output / d node for every node, by reverse accumulation of SymPy's local derivatives
    (``partials(i)``: node ``i``'s, if already computed at ``vals``).

    Returns the adjoints and the first node whose local derivative is undefined, if any.
    """
    zero = mpmath.mpf(0)
    adj: list[Any] = [zero] * len(program.nodes)
    adj[output] = mpmath.mpf(1)
    args, attrs, ops = program.args, program.attrs, program.ops
    with mpmath.workdps(DPS):
        for i in reversed(program.op_indices):
            g = adj[i]
            if g == 0:
                continue
            ps = (partials(i) if partials is not None else
                  forms.evaluate(ops[i], attrs[i], [vals[a] for a in args[i]])[1])
            if ps is None:
                return adj, i
            for a, p in zip(args[i], ps):
                if p is ONE:
                    adj[a] = adj[a] + g
                elif p != 0:
                    adj[a] = adj[a] + g * p
    return adj, None


#: Seconds the inlined derivative (a cross-check) may take before the let form answers alone.
INLINE_SECONDS = 2.0


def inlined_gradients(program: Program, leaves: Sequence[float], output: int,
                      wrt: Sequence[int]) -> dict[int, Any] | None:
    """SymPy's derivative of the fully inlined elementary output with respect to each leaf
    in ``wrt``, at the point; ``None`` if the graph is above the documented size limits,
    SymPy fails (nested ``Piecewise``) or the time budget ``INLINE_SECONDS`` runs out."""
    size, kinks = tree_sizes(program)
    if size[output] > INLINE_MAX_TREE or kinks[output] > INLINE_MAX_KINKS or depths(program)[output] >= INLINE_MAX_DEPTH:
        return None
    result: dict[int, Any] = {}
    try:
        with time_limit(INLINE_SECONDS) as armed:
            if not armed and size[output] > INLINE_MAX_TREE // 4:
                return None
            symbols = leaf_symbols(program)
            out = elementary_nodes(program, symbols=symbols)[output]
            subs = {symbols[i]: sp.Float(hp(leaves[i]), DPS) for i in symbols}
            for i in wrt:
                d = sp.diff(out, symbols[i])
                result[i] = number(d.xreplace(subs)) if d.free_symbols else number(d)
    except Exception:  # TimeBudget, RecursionError, SymPy's own errors on nested Piecewise: the let form answers
        return None
    return result
