"""The numeric half of check_derivative: probe points where the function lives, 50-digit values.

Probe points (all seeded by one ``random.Random(seed)``):

* ``points`` random points at unit scale, every variable from U(-2, 2) away from
  0 and +-1 (0.05), the second one with every sign flipped;
* one point per scale ``1e-3, 1e-2, 0.1, 10, 100, 1e3`` (each variable ``+-s * U(1, 2)``),
  two points of mixed scales (each variable ``+-10**U(-3, 3)``) and two integer points
  (each variable from -3..3 without 0);
* landmarks: for every op with a kink and every one-argument op (at most
  ``LANDMARK_NODES`` of each program), the root of its kink distance (or argument)
  along the variable, found from the first random point by a scan over
  ``+-1e-3 .. +-1e15`` and bisection: two points on both sides of each kink, and the
  root itself for a smooth op (where sigmoid, tanh and exp are in their linear region).

Values are computed node by node from each op row's SymPy form in ``DPS``-digit
mpmath arithmetic (:mod:`symnet.check_ref`); the derivative is accumulated in forward
mode; constants are the exact decimals of their text. A node whose form is
undefined, infinite, complex or not representable (``exp(exp(exp(1000)))``) makes the
value undefined. Each value carries a first-order bound on its rounding error,
``10**-DPS`` times the magnitudes of the terms each op adds up (:func:`symnet.check_ref.absval`),
carried along the graph; two values agree when they differ by at most
``SAFETY = 10**12`` times the sum of their bounds (about 38 digits of the terms).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Sequence

import mpmath
from fractions import Fraction

from . import engine
from .check_bound import local_magnitudes
from .check_ref import DPS, ONE, LocalForms, hp
from .program import Program
from .errors import SymnetError

__all__ = ["Probe", "Value", "probes", "landmarks", "between_kinks", "evaluate", "agree", "close", "TOL_DIGITS", "SAFETY", "LANDMARK_NODES",
           "SCALES", "digits_apart"]

#: Agreement to this many significant digits of the terms involved ...
TOL_DIGITS = DPS - 12
#: ... that is, within this factor of the first-order bound on the 50-digit rounding error.
SAFETY = 10 ** (DPS - TOL_DIGITS)
#: Kinks and one-argument ops whose roots are located, per program.
LANDMARK_NODES = 12
#: Float evaluations spent locating roots, at most this many op evaluations in total.
LANDMARK_WORK = 300_000
SCALES = (1e-3, 1e-2, 1e-1, 1e1, 1e2, 1e3)
_GRID = sorted([s * g for s in (1.0, -1.0) for g in (1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 1e3,
                                                    1e4, 1e5, 1e6, 1e8, 1e10, 1e12, 1e15)])


@dataclass(frozen=True)
class Probe:
    """A point and why it was chosen (``"random"``, ``"scale 1e+03"``, ``"kink of `h` ..."``)."""

    point: dict[str, float]
    why: str
    on_kink: bool = False  # the root of a kink itself: used only to note a convention at the kink


@dataclass(frozen=True)
class Value:
    """A 50-digit value (``None`` if undefined), a bound on its rounding error (``magnitude``),
    and whether a kink's argument is exactly 0 at this point."""

    value: Any
    magnitude: Any
    on_kink: bool
    where: str = ""


def _draw(rng: random.Random) -> float:
    while True:
        v = rng.uniform(-2.0, 2.0)
        if abs(v) >= 0.05 and abs(abs(v) - 1.0) >= 0.05:
            return v


def probes(names: Sequence[str], points: int, rng: random.Random) -> list[Probe]:
    """The random, scaled and integer probes (landmarks come from :func:`landmarks`)."""
    out: list[Probe] = []
    first: dict[str, float] = {}
    for k in range(points):
        if k == 1:
            point = {n: -v for n, v in first.items()}
        else:
            point = {n: _draw(rng) for n in names}
        first = first or point
        out.append(Probe(point, "random"))
    for s in SCALES:
        out.append(Probe({n: rng.choice((-1.0, 1.0)) * s * rng.uniform(1.0, 2.0) for n in names}, f"scale {s:g}"))
    for _ in range(2):
        out.append(Probe({n: rng.choice((-1.0, 1.0)) * 10.0 ** rng.uniform(-3.0, 3.0) for n in names},
                         "mixed scales"))
    for _ in range(2):
        out.append(Probe({n: float(rng.choice((-3, -2, -1, 1, 2, 3))) for n in names}, "integers"))
    return out


def _distance(program: Program, vals: Sequence[Any], i: int) -> float | None:
    op = program.ops[i]
    xs = tuple(vals[a] for a in program.args[i])
    if any(x is None for x in xs):
        return None
    try:
        z = op.kink(xs, program.attrs[i]) if op.kink is not None else xs[op.pole] if op.pole is not None else xs[0]
    except Exception:  # a user's kink function
        return None
    return None if z is None or not math.isfinite(z) else float(z)


class _Floats:
    """Float64 evaluation of one program at points given by name (for locating roots)."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.slots = {program.names[i]: i for i in program.inputs + program.parameters}
        self.work = 0

    def run(self, point: dict[str, float]) -> list[Any] | None:
        p = self.program
        leaves = engine.leaf_template(p)
        for name, i in self.slots.items():
            leaves[i] = point[name]
        self.work += len(p.op_indices)
        try:
            return engine.evaluate(p, leaves)
        except (SymnetError, ArithmeticError, ValueError, TypeError):
            return None


def landmarks(program: Program, base: dict[str, float], order: Sequence[str], label: str) -> list[Probe]:
    """Points on both sides of every kink and at the root of every one-argument op's argument."""
    p = program
    kinks = [i for i in p.op_indices if p.ops[i].kink is not None]
    smooth = [i for i in p.op_indices if p.ops[i].kink is None and len(p.args[i]) == 1
              and p.kinds[p.args[i][0]] != "constant"]
    # a denominator's root: where a claim such as x*w/w is undefined though it simplifies away
    smooth += [i for i in p.op_indices if p.ops[i].pole is not None and p.kinds[p.args[i][p.ops[i].pole]] != "constant"]
    nodes = kinks[:LANDMARK_NODES] + smooth[:LANDMARK_NODES]
    floats = _Floats(p)
    out: list[Probe] = []
    pending = list(nodes)
    for var in [v for v in order if v in floats.slots][:3]:
        if not pending or floats.work > LANDMARK_WORK:
            break
        grid = [(g, floats.run({**base, var: g})) for g in _GRID]
        found: list[int] = []
        roots: list[float] = []
        for i in _twice(pending, found):
            if i is None:  # the second pass: the roots found join the grid, so a kink that lives
                grid = sorted(grid + [(r, floats.run({**base, var: r})) for r in roots])  # near another is seen
                continue
            zs = [(g, z) for g, vals in grid if vals is not None and (z := _distance(p, vals, i)) is not None]
            bracket = next(((a, za, b, zb) for (a, za), (b, zb) in zip(zs, zs[1:]) if (za < 0) != (zb < 0)), None)
            if bracket is None or floats.work > LANDMARK_WORK:
                continue
            root = _bisect(floats, base, var, i, *bracket)
            if root is None:
                continue
            found.append(i)
            roots.append(root)
            name = p.names[i] or f"#{i}"
            what = (f"{'kink' if p.ops[i].kink is not None else 'singular point' if p.ops[i].pole is not None else 'linear region'}"
                    f" of `{name}` ({p.ops[i].name}) in {label}")
            if p.ops[i].kink is not None:
                step = 1e-4 * max(abs(root), 1e-3)
                out.append(Probe({**base, var: root - step}, f"{what}, {var} below the root {root:.6g}"))
                out.append(Probe({**base, var: root + step}, f"{what}, {var} above the root {root:.6g}"))
                out.append(Probe({**base, var: root}, f"{what}, {var} at the root", on_kink=True))
            else:
                out.append(Probe({**base, var: root}, f"{what}, {var} = {root:.6g}"))
        pending = [i for i in pending if i not in found]
    return out


def _twice(pending: list[int], found: list[int]) -> Any:
    """The pending nodes, then ``None`` (a marker), then those still not found."""
    yield from pending
    yield None
    yield from [i for i in pending if i not in found]


def between_kinks(found: Sequence[Probe], base: dict[str, float]) -> list[Probe]:
    """Points halfway between neighbouring kink roots along each variable (of the model and
    the claim together): a claim that differs from the truth only between two close kinks
    (``relu(w - 1e-7)`` against ``(w > 0)``) differs there, where no other probe may fall."""
    roots: dict[str, set[float]] = {}
    for pr in found:
        if pr.on_kink:
            moved = [n for n, v in pr.point.items() if v != base.get(n)]
            if len(moved) == 1:
                roots.setdefault(moved[0], set()).add(pr.point[moved[0]])
    out = []
    for var in sorted(roots):
        rs = sorted(roots[var])
        for a, b in zip(rs, rs[1:]):
            m = a + (b - a) / 2
            if a < m < b:
                out.append(Probe({**base, var: m}, f"between the kinks at {var} = {a:.6g} and {b:.6g}"))
    return out


def _bisect(floats: _Floats, base: dict[str, float], var: str, i: int, a: float, za: float, b: float,
            zb: float) -> float | None:
    for _ in range(80):
        # secant step, kept inside the bracket; bisection when it stalls
        m = b - zb * (b - a) / (zb - za) if zb != za else 0.5 * (a + b)
        if not (min(a, b) < m < max(a, b)):
            m = 0.5 * (a + b)
        vals = floats.run({**base, var: m})
        zm = None if vals is None else _distance(floats.program, vals, i)
        if zm is None:  # undefined exactly there: the op's pole (a divisor's root), else give up
            return m if floats.program.ops[i].pole is not None else None
        if zm == 0 or abs(b - a) <= 4 * math.ulp(max(abs(a), abs(b))):
            return m
        if (zm < 0) == (za < 0):
            # Illinois: halve the stale end's weight so the secant keeps converging
            a, za, zb = m, zm, zb / 2
        else:
            b, zb, za = m, zm, za / 2
        if floats.work > LANDMARK_WORK:
            return m
    return 0.5 * (a + b)


def _leaf(program: Program, i: int, point: dict[str, float]) -> Any:
    if program.kinds[i] == "constant":  # as check_exact.exact_constant: integers exactly, else the decimal text
        exact = program.attrs[i]  # a formula literal that is not exactly its float (symnet.parse)
        if isinstance(exact, Fraction):
            return mpmath.mpf(exact.numerator) / exact.denominator
        v = float(program.values[i])
        return mpmath.mpf(int(v)) if v.is_integer() else mpmath.mpf(repr(v))  # the exact decimal of the literal
    return hp(point[program.names[i]])


def _undefined(program: Program, i: int, on_kink: bool, derivative: bool) -> Value:
    op = program.ops[i]
    if derivative:
        return Value(None, mpmath.mpf(0), on_kink, f"SymPy's derivative at node `{program.names[i] or i}` "
                                                   f"({op.name}) is undefined")
    return Value(None, mpmath.mpf(0), on_kink, f"node `{program.names[i] or i}` ({op.name}) is undefined "
                                               "(not finite, not real or not representable)")


def _crosses_kink(program: Program, i: int, xs: Sequence[Any], tang: Sequence[Any], wrt: str | None) -> bool:
    """Is op node ``i`` on its kink (and, for a derivative, moving across it)?"""
    args = program.args[i]
    if wrt is not None and not any(tang[a] is not None and tang[a] != 0 for a in args):
        return False
    try:
        z = program.ops[i].kink(tuple(float(x) for x in xs), program.attrs[i])
    except Exception:  # a user's kink function
        return False
    return z == 0


def evaluate(program: Program, out: int, point: dict[str, float], forms: LocalForms,
             wrt: str | None = None, bounds: bool = True) -> Value:
    """The value of node ``out`` at ``point`` (with ``wrt``: its derivative by that variable),
    with a first-order bound on its ``DPS``-digit rounding error (``magnitude``; with
    ``bounds=False`` the bound is not computed and is 0).

    Each node's value and SymPy's local partials are computed once; a tangent is ``None``
    where the node does not depend on ``wrt`` (its terms are skipped, so the cost is linear
    in the edges that carry the derivative)."""
    n = len(program.nodes)
    vals: list[Any] = [None] * n
    tang: list[Any] = [None] * n  # d node / d wrt; None where it does not depend on wrt
    err: list[Any] = [None] * n  # rounding bound of the value (or, with wrt, of the derivative)
    verr: list[Any] = [None] * n
    zero = mpmath.mpf(0)
    on_kink = False
    leaves: dict[str, Any] = {}
    ops, kinds, names, all_args = program.ops, program.kinds, program.names, program.args
    plan = forms.evaluators(program)
    with mpmath.workdps(DPS):
        eps = mpmath.mpf(10) ** -DPS
        for i, op in enumerate(ops):
            if op is None:
                if kinds[i] == "constant":
                    vals[i] = _leaf(program, i, point)
                else:
                    name = names[i]
                    v = leaves.get(name)
                    if v is None:
                        v = leaves[name] = hp(point[name])
                    vals[i] = v
                    if wrt is not None and name == wrt:
                        tang[i] = ONE
                if bounds:
                    err[i] = verr[i] = eps * abs(vals[i]) if kinds[i] == "constant" else zero
                    if wrt is not None:
                        err[i] = zero
                continue
            args = all_args[i]
            xs = [vals[a] for a in args]
            if op.kink is not None and _crosses_kink(program, i, xs, tang, wrt):
                on_kink = True  # on the kink, and (for a derivative) moving across it
            v, ps = plan[i](xs)
            if v is None:
                return _undefined(program, i, on_kink, False)
            vals[i] = v
            if not bounds:
                if wrt is not None:
                    if ps is None:
                        return _undefined(program, i, on_kink, True)
                    terms = []
                    for q, a in zip(ps, args):
                        ta = tang[a]
                        if ta is not None:
                            terms.append(q if ta is ONE else ta if q is ONE else q * ta)
                    tang[i] = (None if not terms else terms[0] if len(terms) == 1 else
                               terms[0] + terms[1] if len(terms) == 2 else mpmath.fsum(terms))
                continue
            mags = None if ps is None else local_magnitudes(forms, program, i, xs)
            if ps is None or mags is None:
                if wrt is not None:
                    return _undefined(program, i, on_kink, True)
                # a value where the op's derivative is not (sqrt at 0): its arguments' errors do not matter
                err[i] = verr[i] = eps * abs(v) + mpmath.fsum(verr[a] for a in args)
                continue
            verr[i] = eps * mags[0] + mpmath.fsum(abs(p) * verr[a] for p, a in zip(ps, args))
            if wrt is None:
                err[i] = verr[i]
                continue
            ts = [zero if tang[a] is None else tang[a] for a in args]
            tang[i] = mpmath.fsum(p * t for p, t in zip(ps, ts) if t != 0)
            # the partials' own rounding and their arguments' errors, plus the sum's
            err[i] = mpmath.fsum(abs(p) * err[a] + eps * (dm + abs(p)) * abs(t)
                                 for p, dm, a, t in zip(ps, mags[1], args, ts))
    bound = err[out] if bounds else zero
    if wrt is None:
        return Value(vals[out], bound, on_kink)
    return Value(zero if tang[out] is None else tang[out], bound, on_kink)


def close(c: Any, t: Any) -> bool:
    """True if ``c`` and ``t`` agree to ``TOL_DIGITS`` significant digits of themselves (a quick
    test; values that differ more may still agree within their rounding bounds, see :func:`agree`)."""
    with mpmath.workdps(DPS):
        return abs(c - t) <= mpmath.mpf(10) ** -TOL_DIGITS * max(abs(c), abs(t))


def agree(c: Any, t: Any, bound: Any) -> bool:
    """True if ``c`` and ``t`` differ by at most ``SAFETY`` times ``bound``, the sum of their
    evaluations' rounding bounds (about ``TOL_DIGITS`` digits of the terms they add up)."""
    with mpmath.workdps(DPS):
        return abs(c - t) <= SAFETY * bound


def digits_apart(c: Any, t: Any, dps: int = DPS) -> tuple[str, str]:
    """``c`` and ``t`` written with enough significant digits to show that they differ
    (at least 10, at most ``dps``, the digits they carry).

    >>> digits_apart(mpmath.mpf(1) / 3, mpmath.mpf(1) / 3 + mpmath.mpf(10) ** -13)
    ('0.33333333333333', '0.33333333333343')
    """
    with mpmath.workdps(dps):
        for k in range(10, dps + 1):
            a, b = mpmath.nstr(c, k, min_fixed=-4, max_fixed=8), mpmath.nstr(t, k, min_fixed=-4, max_fixed=8)
            if a != b:
                return (mpmath.nstr(c, min(k + 1, dps), min_fixed=-4, max_fixed=8),
                        mpmath.nstr(t, min(k + 1, dps), min_fixed=-4, max_fixed=8))
        return mpmath.nstr(c, dps), mpmath.nstr(t, dps)
