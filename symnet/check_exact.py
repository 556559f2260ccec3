"""The symbolic half of check_derivative: exact SymPy expressions, node by node, under budgets.

Expressions are built from each op row's own SymPy form (never from symnet's
derivative rules), one node at a time: a node's value is its form with the
arguments' expressions put in, and its derivative with respect to the variable
is the forward-mode sum ``sum_j d(form)/d(a_j) * d(a_j)`` (SymPy differentiates the
form in fresh argument symbols, once per op). Constants enter as the exact
rational of their shortest decimal text (``0.1`` is ``1/10``, not the float
nearest to it).

Kinks never build nested ``Piecewise``: a form that is a ``Piecewise`` (ReLU, step)
is replaced by one of its pieces, chosen per *region*. Structurally equal kink
nodes (same op, same arguments) in the model and the claim share their choice.
With ``k`` two-piece kinks there are ``2**k`` regions, at most ``MAX_REGIONS``.

Budgets, each a module constant named in the reason when it stops the test:
``MAX_DEPTH`` (graph depth), ``MAX_TREE`` (inlined tree size), ``MAX_DEGREE``
(an estimate of the polynomial degree, which stops repeated squaring before SymPy
multiplies huge integers), ``MAX_OPS`` (operations in the difference) and
``SECONDS`` (a SIGALRM time limit; off the main thread the sizes are divided by 8
instead). Past any budget the result is ``("skipped", reason)`` and the numeric
probes decide.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Sequence

from fractions import Fraction

import sympy as sp
from sympy.core.evalf import PrecisionExhausted

from .analysis import depths, tree_sizes
from .check_ref import LocalForms, TimeBudget, time_limit
from .program import Program

__all__ = ["exact_constant", "Structure", "build", "zero_test", "Symbolic", "symbolic_difference",
           "ExactPoint", "exact_difference_at", "kink_cut", "MAX_REGIONS", "MAX_DEPTH", "MAX_TREE", "MAX_DEGREE", "MAX_OPS",
           "SECONDS", "MAX_EXACT_DIGITS", "nonzero_at_a_point", "point_values", "POINT_DIGITS", "ROUGH_ZERO"]

MAX_REGIONS = 16
MAX_DEPTH = 60
MAX_TREE = 20_000
MAX_DEGREE = 256
MAX_OPS = 5_000
SECONDS = 2.0
#: Above this many inlined nodes the expected derivative is built node by node (forward mode,
#: linear in the edges) instead of by ``diff`` of the whole expression (one pass per term).
DIFF_WHOLE_TREE = 400
#: Working digits SymPy's ``evalf`` may use to tell an exact difference at a point from 0.
MAX_EXACT_DIGITS = 5_000


def exact_constant(value: float) -> sp.Rational:
    """A float constant as the exact rational of its shortest decimal text.

    >>> exact_constant(0.1), exact_constant(1e-13), exact_constant(3.0000000001)
    (1/10, 1/10000000000000, 30000000001/10000000000)
    """
    v = float(value)
    if v.is_integer():
        return sp.Integer(int(v))
    return sp.Rational(repr(v))


class Structure:
    """Structural ids of nodes across programs: equal ids mean the same op on the same
    arguments (leaves by name, constants by value), so a kink in the claim written as
    in the model is recognised as the same kink."""

    def __init__(self) -> None:
        self._ids: dict[Any, int] = {}

    def ids(self, program: Program) -> list[int]:
        out: list[int] = []
        for i, op in enumerate(program.ops):
            if op is None:
                key: Any = (("const", program.values[i], program.attrs[i]) if program.kinds[i] == "constant"
                            else ("leaf", program.names[i]))
            else:
                attr = program.attrs[i]  # with a formula number's exact value (w**(1/3) is not w**0.333...)
                key = (op.name, repr(attr), getattr(attr, "exact", None), tuple(out[a] for a in program.args[i]))
            out.append(self._ids.setdefault(key, len(self._ids)))
        return out


def _pieces(forms: LocalForms, program: Program, i: int) -> list[tuple[Any, Any]] | None:
    """The pieces ``(expr, condition)`` of a node whose form is a Piecewise, else None."""
    form = forms.get(program.ops[i], len(program.args[i]), program.attrs[i])
    cache = form.__dict__.setdefault("_pieces", {})
    if "p" not in cache:
        folded = sp.piecewise_fold(form.expr)
        cache["p"] = [(e, c) for e, c in folded.args] if isinstance(folded, sp.Piecewise) else None
    return cache["p"]


def _piece_derivatives(form: Any, k: int, expr: Any) -> tuple[Any, ...]:
    cache = form.__dict__.setdefault("_piece_d", {})
    if k not in cache:
        cache[k] = tuple(sp.diff(expr, s) for s in form.symbols)
    return cache[k]


def kink_key(program: Program, ids: Sequence[int], i: int, pieces: list[tuple[Any, Any]]) -> Any:
    """Kinks that cut the space the same way share a region choice: the same arguments
    (structurally) and the same piece conditions (relu(z) and step(z) both cut at z > 0).
    See :func:`kink_cut` for the kinks a sign apart."""
    return kink_cut(program, ids, i, pieces)[0]


def _at_zero(cond: Any) -> bool:
    """Whether a piece condition is ``a > 0`` for the form's argument symbol ``a``."""
    return isinstance(cond, sp.StrictGreaterThan) and cond.rhs == 0 and isinstance(cond.lhs, sp.Symbol)


def kink_cut(program: Program, ids: Sequence[int], i: int, pieces: list[tuple[Any, Any]]) -> tuple[Any, bool]:
    """``(key, flipped)``: the region choice a kink shares, and whether its pieces are in the
    opposite order. A two-piece kink at ``u > 0`` (relu, step) cuts the space where ``-u``
    and ``b - a`` for ``u = a - b`` cut it too, with the sides swapped: the claim's
    ``(z >= 0)``, read as ``1 - step(-z)``, shares the model's ``relu(z)`` cut (they differ
    only on the kink ``z = 0`` itself, which has no volume)."""
    args = program.args[i]
    if len(args) != 1 or len(pieces) != 2 or pieces[1][1] is not sp.true or not _at_zero(pieces[0][1]):
        return (tuple(ids[a] for a in args), tuple(sp.sstr(c) for _, c in pieces)), False
    a, flipped = args[0], False
    while program.ops[a] is not None and program.ops[a].negates == (0,) and len(program.args[a]) == 1:  # -z
        a, flipped = program.args[a][0], not flipped
    op = program.ops[a]
    if op is not None and op.negates == (1,) and len(program.args[a]) == 2:  # a - b
        u, v = (ids[k] for k in program.args[a])
        return ("cut", "difference", min(u, v), max(u, v)), flipped != (u > v)
    return ("cut", ids[a]), flipped


def kinks(forms: LocalForms, program: Program, ids: Sequence[int]) -> dict[Any, int]:
    """``{kink key: number of pieces}`` of the Piecewise nodes of ``program``."""
    out = {}
    for i in program.op_indices:
        if forms.folds(program.ops[i], len(program.args[i]), program.attrs[i]):
            continue
        ps = _pieces(forms, program, i)
        if ps is not None:
            out[kink_key(program, ids, i, ps)] = len(ps)
    return out


def _opposite(forms: LocalForms, model: Program, mids: Sequence[int], claim: Program, cids: Sequence[int]) -> bool:
    """Whether a kink cut appears in the model and in the claim with its sides swapped."""
    sides: dict[Any, set[bool]] = {}
    for program, ids in ((model, mids), (claim, cids)):
        for i in program.op_indices:
            if forms.folds(program.ops[i], len(program.args[i]), program.attrs[i]):
                continue
            ps = _pieces(forms, program, i)
            if ps is not None:
                key, flipped = kink_cut(program, ids, i, ps)
                sides.setdefault(key, set()).add(flipped)
    return any(len(s) > 1 for s in sides.values())


def degrees(forms: LocalForms, program: Program) -> list[int]:
    """An estimate of each node's polynomial degree in the leaves (capped), to refuse
    expressions whose expansion would be huge before SymPy builds them."""
    cap = 10**6
    deg = [0 if kind == "constant" else 1 for kind in program.kinds]

    def rule(form: Any, ds: Sequence[int]) -> int:
        cache = form.__dict__.setdefault("_monoms", {})
        if "m" not in cache:
            try:
                cache["m"] = sp.Poly(form.expr, *form.symbols).monoms() if len(form.symbols) <= 8 else None
            except (sp.PolynomialError, sp.GeneratorsNeeded, ValueError, TypeError):
                cache["m"] = None
        monoms = cache["m"]
        if monoms is None:
            return min(cap, sum(ds) or 1)
        return min(cap, max((sum(e * d for e, d in zip(m, ds)) for m in monoms), default=0))

    for i in program.op_indices:
        args, op, attr = program.args[i], program.ops[i], program.attrs[i]
        ds = [deg[a] for a in args]
        if forms.folds(op, len(args), attr):
            pair = forms.get(op, 2, None)
            while len(ds) > 1:
                ds = [rule(pair, ds[k:k + 2]) if k + 1 < len(ds) else ds[k] for k in range(0, len(ds), 2)]
            deg[i] = ds[0]
        else:
            deg[i] = rule(forms.get(op, len(args), attr), ds)
    return deg


def build(program: Program, symbols: dict[str, Any], forms: LocalForms, ids: Sequence[int],
          choice: dict[int, int] | None, wrt: Any = None) -> tuple[list[Any], list[Any] | None]:
    """SymPy value (and, with ``wrt``, derivative) expressions of every node of ``program``.

    ``symbols`` maps each leaf name to its expression: a Symbol, or an exact number
    (then every node is an exact number and each Piecewise picks its piece itself).
    ``wrt`` is the variable's name (or its Symbol). ``choice`` maps a kink's structural
    id to the piece used; ``None`` keeps the whole Piecewise (for display, and at numbers:
    with symbols nested kinks then build nested Piecewise).
    """
    n = len(program.nodes)
    wrt_name = None if wrt is None else (wrt if isinstance(wrt, str) else wrt.name)
    vals: list[Any] = [None] * n
    ders: list[Any] | None = [sp.Integer(0)] * n if wrt is not None else None
    for i, op in enumerate(program.ops):
        if op is None:
            if program.kinds[i] == "constant":
                exact = program.attrs[i]  # a formula's literal, exactly (symnet.parse)
                vals[i] = (sp.Rational(exact.numerator, exact.denominator) if isinstance(exact, Fraction)
                           else exact_constant(program.values[i]))
            else:
                vals[i] = symbols[program.names[i]]
                if ders is not None and program.names[i] == wrt_name:
                    ders[i] = sp.Integer(1)
            continue
        args = program.args[i]
        if forms.folds(op, len(args), program.attrs[i]):
            vals[i], d = _fold(forms.get(op, 2, None), [vals[a] for a in args],
                               None if ders is None else [ders[a] for a in args])
            if ders is not None:
                ders[i] = d
            continue
        form = forms.get(op, len(args), program.attrs[i])
        expr, derivs = form.expr, form.derivatives
        if choice is not None:
            pieces = _pieces(forms, program, i)
            if pieces is not None:
                key, flipped = kink_cut(program, ids, i, pieces)
                k = 1 - choice[key] if flipped else choice[key]
                expr = pieces[k][0]
                derivs = _piece_derivatives(form, k, expr)
        subs = dict(zip(form.symbols, (vals[a] for a in args)))
        vals[i] = expr.xreplace(subs)
        if ders is not None:
            terms = [d.xreplace(subs) * ders[a] for d, a in zip(derivs, args) if ders[a] != 0]
            ders[i] = sp.Add(*terms) if terms else sp.Integer(0)
    return vals, ders


def _fold(pair: Any, vals: list[Any], ders: list[Any] | None) -> tuple[Any, Any]:
    """A wide associative op as a balanced fold of its 2-argument form (value, derivative)."""
    zero = sp.Integer(0)
    if pair.shape == "sum":  # the fold of a + b is the sum: SymPy flattens it once
        return sp.Add(*vals), (None if ders is None else sp.Add(*[d for d in ders if d != 0]))
    ds: list[Any] = ders if ders is not None else [zero] * len(vals)
    while len(vals) > 1:
        nv, nd = [], []
        for k in range(0, len(vals) - 1, 2):
            subs = {pair.symbols[0]: vals[k], pair.symbols[1]: vals[k + 1]}
            nv.append(pair.expr.xreplace(subs))
            terms = [p.xreplace(subs) * d for p, d in zip(pair.derivatives, ds[k:k + 2]) if d != 0]
            nd.append(sp.Add(*terms) if terms else zero)
        if len(vals) % 2:
            nv.append(vals[-1])
            nd.append(ds[-1])
        vals, ds = nv, nd
    return vals[0], ds[0]


def zero_test(diff: Any, armed: bool) -> tuple[str, Any]:
    """``("zero", 0)``, ``("nonzero", difference)`` or ``("skipped", reason)`` for one difference
    (call inside :func:`time_limit`). Nonzero is decided first by the exact value at one point
    (:func:`nonzero_at_a_point`); otherwise ``expand``, ``cancel``, a rewrite in ``exp`` and,
    when armed, ``simplify`` try to prove zero, and the last form they reach is returned."""
    limit = MAX_OPS if armed else MAX_OPS // 8
    ops = sp.count_ops(diff)
    if ops > limit:
        return "skipped", f"the difference has {ops} operations (budget MAX_OPS = {limit})"
    if diff == 0:
        return "zero", sp.Integer(0)
    if nonzero_at_a_point(diff):  # not 0 at one point, so no simplification can make it 0
        return "nonzero", diff
    steps = [sp.expand, lambda e: sp.cancel(sp.expand(e)), lambda e: sp.cancel(sp.expand(e.rewrite(sp.exp)))]
    if armed:
        steps.append(sp.simplify)
    last = diff
    for step in steps:
        last = step(diff)
        if last == 0:
            return "zero", sp.Integer(0)
    return "nonzero", last


#: Digits ``evalf`` may use when :func:`nonzero_at_a_point` meets an irrational value.
POINT_DIGITS = 60
#: An irrational value that ``evalf`` puts within this of 0 (without error control) is not
#: proved nonzero at the point (an identity, left to the other steps, or a tiny difference).
ROUGH_ZERO = 1e-9


def point_values(symbols: Sequence[Any]) -> dict[Any, Any]:
    """Exact rationals for the symbols of a zero test (any values serve: each is only ever
    used to prove a difference nonzero), distinct and away from 0, +-1 and small integers.

    >>> x, y = sp.symbols("x y")
    >>> point_values([y, x])
    {x: 7/11, y: 13/29}
    """
    ordered = sorted(symbols, key=lambda s: s.name)
    return {s: sp.Rational(6 * k + 7, 2 * k * k + 16 * k + 11) for k, s in enumerate(ordered)}


def nonzero_at_a_point(diff: Any) -> bool:
    """True only if ``diff`` is proved to take a nonzero real value at the exact rational
    point of :func:`point_values`: the value is a nonzero rational, or ``evalf`` with error
    control (``strict=True``, at most ``POINT_DIGITS`` digits) gives a nonzero finite real
    (tried only when a plain ``evalf`` puts it farther than ``ROUGH_ZERO`` from 0).
    A transformation of SymPy's (``expand``, ``cancel``, ``simplify``) keeps the value of an
    expression where it is defined, so such a difference never simplifies to 0. False
    means nothing (0 there, undefined, complex, or not decided in those digits).

    >>> x = sp.Symbol("x", real=True)
    >>> nonzero_at_a_point(2 * x - x), nonzero_at_a_point(sp.sin(x)**2 + sp.cos(x)**2 - 1)
    (True, False)
    """
    try:
        value = diff.xreplace(point_values(diff.free_symbols))
        if value.is_Rational:
            return value != 0
        if not value.is_number:
            return False
        rough = value.evalf(15, maxn=20)  # no proof; a value that looks like 0 is left to the other steps
        if not (rough.is_Float and abs(rough) > ROUGH_ZERO):
            return False
        approx = value.evalf(15, strict=True, maxn=POINT_DIGITS)
        return bool(approx.is_Float and approx != 0 and approx.is_finite)
    except (TimeBudget, RecursionError):  # the caller's budgets
        raise
    except Exception:  # PrecisionExhausted, SymPy's own failures: not decided here
        return False


class _NodeByNode(Exception):
    """Build the expected derivative node by node."""


@dataclass
class Symbolic:
    """What the symbolic test found: ``status`` is ``"zero"`` (proved equal in every region),
    ``"nonzero"`` (some region's simplified difference is not 0) or ``"skipped"``;
    ``expected`` is the model's derivative it built when the model has no kinks."""

    status: str
    reason: str = ""
    expected: Any = None
    nonzero: list[tuple[dict[int, int], Any]] | None = None
    regions: int = 1
    #: a cut the model and the claim share with opposite sides (``relu(z)`` and ``(z >= 0)``):
    #: the two may differ on the kink itself
    opposite: bool = False


def symbolic_difference(model: Program, out: int, claim: Program, claim_out: int, wrt_name: str,
                        forms: LocalForms) -> Symbolic:
    """Decide symbolically whether d model/d wrt equals the claim (region by region)."""
    size = tree_sizes(model)[0][out] + tree_sizes(claim)[0][claim_out]
    depth = max(depths(model)[out], depths(claim)[claim_out]) + 1  # levels, leaves included
    if depth > MAX_DEPTH:
        return Symbolic("skipped", f"the expressions are {depth} deep (budget MAX_DEPTH = {MAX_DEPTH})")
    structure = Structure()
    mids, cids = structure.ids(model), structure.ids(claim)
    cuts = {**kinks(forms, model, mids), **kinks(forms, claim, cids)}
    regions = 1
    for k in cuts.values():
        regions *= k
    if regions > MAX_REGIONS:
        return Symbolic("skipped", f"{len(cuts)} kinks make {regions} regions (budget MAX_REGIONS = {MAX_REGIONS})")
    deg = max(degrees(forms, model)[out] + 1, degrees(forms, claim)[claim_out])
    if deg > MAX_DEGREE:
        return Symbolic("skipped", f"the expressions have degree about {deg} (budget MAX_DEGREE = {MAX_DEGREE})")
    names = {model.names[i] for i in model.inputs + model.parameters}
    names |= {claim.names[i] for i in claim.inputs + claim.parameters}
    symbols = {n: sp.Symbol(n, real=True) for n in sorted(names)}
    wrt = symbols[wrt_name]
    found = Symbolic("zero", regions=regions, opposite=_opposite(forms, model, mids, claim, cids))
    try:
        with time_limit(SECONDS) as armed:
            if size > (MAX_TREE if armed else MAX_TREE // 8):
                return Symbolic("skipped", f"the expressions have {size} nodes (budget MAX_TREE = {MAX_TREE})")
            keys = sorted(cuts, key=repr)
            for combo in itertools.product(*(range(cuts[k]) for k in keys)):
                choice = dict(zip(keys, combo))
                _, ders = build(model, symbols, forms, mids, choice, wrt)
                cvals, _ = build(claim, symbols, forms, cids, choice)
                if regions == 1:  # no kinks: this is SymPy's derivative, node by node
                    found.expected = ders[out]
                status, rest = zero_test(cvals[claim_out] - ders[out], armed)
                if status == "skipped":
                    return Symbolic("skipped", rest)
                if status == "nonzero":
                    found.status = "nonzero"
                    found.nonzero = (found.nonzero or []) + [(choice, rest)]
    except TimeBudget:
        return Symbolic("skipped", f"SymPy ran past the time budget (SECONDS = {SECONDS})")
    except RecursionError:
        return Symbolic("skipped", "SymPy ran out of stack (the expressions are too deep)")
    except Exception as exc:  # SymPy's own failures prove nothing; the probes decide
        return Symbolic("skipped", f"SymPy failed ({type(exc).__name__})")
    return found


def expected_expression(model: Program, out: int, wrt_name: str, forms: LocalForms,
                        node_by_node: Any = None) -> Any:
    """SymPy's derivative of the model as one expression (kinks as Piecewise), or ``None``
    when it is past the budgets or SymPy fails on it. ``node_by_node``: the derivative
    already built node by node (:attr:`Symbolic.expected`), used above ``DIFF_WHOLE_TREE``."""
    size = tree_sizes(model)[0][out]
    if depths(model)[out] + 1 > MAX_DEPTH or size > MAX_TREE:
        return None
    if size > DIFF_WHOLE_TREE and node_by_node is not None:
        return node_by_node
    if degrees(forms, model)[out] > MAX_DEGREE:
        return None
    symbols = {model.names[i]: sp.Symbol(model.names[i], real=True) for i in model.inputs + model.parameters}
    try:
        with time_limit(SECONDS):
            try:  # SymPy's derivative of the whole expression reads best; node by node is linear
                if size > DIFF_WHOLE_TREE:
                    raise _NodeByNode
                whole = build(model, symbols, forms, Structure().ids(model), None)[0][out]
                return sp.diff(whole, symbols[wrt_name])
            except TimeBudget:
                raise
            except Exception:  # nested Piecewise: build node by node instead
                _, ders = build(model, symbols, forms, Structure().ids(model), None, symbols[wrt_name])
                return ders[out]
    except Exception:  # TimeBudget, nested Piecewise errors, RecursionError: no display form
        return None


@dataclass(frozen=True)
class ExactPoint:
    """The claim and SymPy's derivative at a point, as exact SymPy numbers, whose difference
    ``claimed - true`` is proved nonzero; ``diff`` is that difference to 15 correct digits."""

    claimed: Any
    true: Any
    diff: Any


def exact_difference_at(model: Program, out: int, claim: Program, claim_out: int, wrt_name: str,
                        forms: LocalForms, point: dict[str, float]) -> ExactPoint | None:
    """The claim minus d model/d ``wrt_name`` at ``point``, every coordinate taken as the exact
    rational of its float and every node's SymPy form evaluated exactly (each Piecewise picks
    its own piece). Returns an :class:`ExactPoint` if the difference is proved nonzero: exactly
    (a rational), or by ``evalf`` with error control (``strict=True``) at up to
    ``MAX_EXACT_DIGITS`` working digits. Returns ``None`` when it is 0, not proved nonzero in
    that budget or within ``SECONDS``, undefined, or when a kink op sits exactly on its kink
    there (its value is a convention).

    >>> import symnet as sn
    >>> from symnet.check_ref import LocalForms
    >>> m = sn.compile(sn.parse("w")).program
    >>> c = sn.compile(sn.parse("1 + 1e-40")).program
    >>> exact_difference_at(m, m.outputs[0], c, c.outputs[0], "w", LocalForms(), {"w": 0.5}).diff
    1.00000000000000e-40
    """
    values = {n: sp.Rational(v) for n, v in point.items()}  # the float's exact binary value
    structure = Structure()
    try:
        with time_limit(SECONDS):
            mvals, ders = build(model, values, forms, structure.ids(model), None, wrt_name)
            cvals, _ = build(claim, values, forms, structure.ids(claim), None)
            for program, vals in ((model, mvals), (claim, cvals)):
                if _on_a_kink(program, vals):
                    return None
            true, claimed = ders[out], cvals[claim_out]
            diff = claimed - true
            if not diff.is_number:
                return None
            if diff.is_Rational:
                return ExactPoint(claimed, true, sp.Float(diff, 15)) if diff != 0 else None
            digits = 100
            while digits <= MAX_EXACT_DIGITS:
                try:
                    value = diff.evalf(15, strict=True, maxn=digits)
                except PrecisionExhausted:
                    digits *= 4
                    continue
                if value.is_Float and value != 0 and value.is_finite:
                    return ExactPoint(claimed, true, value)
                return None
    except Exception:  # TimeBudget, RecursionError, SymPy's own failures: not proved, the probes decide
        return None
    return None


def _on_a_kink(program: Program, vals: Sequence[Any]) -> bool:
    """True if a kink op's argument is on its kink (or too close to tell in float64)."""
    for i in program.op_indices:
        op = program.ops[i]
        if op.kink is None:
            continue
        try:
            z = op.kink(tuple(float(vals[a].evalf(30)) for a in program.args[i]), program.attrs[i])
        except Exception:  # undefined or a user's kink function: cannot tell
            return True
        if z == 0:  # as the probes judge it (symnet.check_probe.evaluate)
            return True
    return False
