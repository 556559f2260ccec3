"""Error bounds of the float64 engine, from the magnitudes of the terms it adds up.

The gradient checker compares the engine (float64) with SymPy's derivative
evaluated to 50 digits. The difference allowed is not a fixed ``atol``: it is a
first-order bound on the engine's own rounding, derived from the computation.

* **forward**: a node's value carries the rounding of its own evaluation,
  ``C * eps * |terms|`` (``|terms|`` is :func:`symnet.check_ref.absval` of the op's
  SymPy form at the point, so cancellation is accounted for), plus its arguments'
  errors times the local partials: ``E_i = C eps |terms_i| + sum_j |d_ij| E_j``.
* **backward**: along every path from the output the engine multiplies local
  partials and sums the products. With ``M`` the sum over paths of the products of
  ``|partial|`` (the magnitude of the terms summed) and each partial's own error
  ``dp = C eps |terms of the partial| (+ for a one-argument op the effect of its
  output's rounding, when the rule uses the output as sigmoid' = y (1 - y) does)``,
  ``B_a += B_g |p| + M_g (dp + 2 eps |p|)`` in reverse order.

``eps`` is the float64 unit roundoff ``2**-53`` and ``C = LOCAL_ULPS``; every operation
may also underflow by ``DENORM = 2**-1074``. Forward
errors moving the local partials are taken into account exactly, by evaluating
SymPy's local derivatives also at the engine's own forward values.
"""

from __future__ import annotations

from typing import Any, Sequence

import mpmath

from .check_ref import DPS, ONE, LocalForms, hp
from .program import Program

__all__ = ["EPS", "LOCAL_ULPS", "DENORM", "Locals", "local_magnitudes", "output_rounding", "forward_bounds", "backward_bounds"]

#: float64 unit roundoff.
EPS = 2.0 ** -53
#: The spacing of float64 subnormals: the absolute error of a result that underflows.
DENORM = 2.0 ** -1074
#: Rounding of one op evaluation, in units of ``eps`` times the magnitude of its terms.
LOCAL_ULPS = 8


def local_magnitudes(forms: LocalForms, program: Program, i: int, xs: Sequence[Any],
                     partials: Sequence[Any] | None = None) -> tuple[Any, list[Any]] | None:
    """(|terms| of the value, [|terms| of each partial]) of op node ``i`` at ``xs``
    (``partials``: SymPy's local partials there, if already computed)."""
    op, attr = program.ops[i], program.attrs[i]
    n = len(xs)
    if forms.folds(op, n, attr):  # a wide associative op: n - 1 roundings of the fold
        ps = partials if partials is not None else forms.evaluate(op, attr, xs)[1]
        if ps is None:
            return None
        with mpmath.workdps(DPS):
            if all(p is ONE for p in ps):  # a sum
                return mpmath.fsum(xs, absolute=True) * (n - 1), [mpmath.mpf(n)] * n
            value = mpmath.fsum(abs(p * x) for p, x in zip(ps, xs)) * (n - 1)
            return value, [abs(p) * n for p in ps]
    return forms.get(op, n, attr).magnitudes(xs)


class Locals:
    """SymPy's local partials and term magnitudes of every op node at given node values
    (``vals``, 50-digit), each computed once when first asked for: the forward bound, the
    backward bound and the reference adjoints of every output share them.

    >>> import symnet as sn
    >>> from symnet.check_ref import hp
    >>> x = sn.Input("x"); p = sn.compile(x * x + x).program
    >>> at = Locals(p, [hp(3.0), hp(9.0), hp(12.0)], LocalForms())
    >>> [float(v) for v in at.partials(1)], at.partials(1) is at.partials(1)
    ([3.0, 3.0], True)
    """

    def __init__(self, program: Program, vals: Sequence[Any], forms: LocalForms) -> None:
        self.program, self.vals, self.forms = program, vals, forms
        self._ps: dict[int, Any] = {}
        self._mags: dict[int, Any] = {}

    def args(self, i: int) -> list[Any]:
        return [self.vals[a] for a in self.program.args[i]]

    def partials(self, i: int) -> list[Any] | None:
        """SymPy's local partials of node ``i`` (``None`` where undefined)."""
        if i not in self._ps:
            p = self.program
            self._ps[i] = self.forms.evaluate(p.ops[i], p.attrs[i], self.args(i))[1]
        return self._ps[i]

    def magnitudes(self, i: int) -> tuple[Any, list[Any]] | None:
        """:func:`local_magnitudes` of node ``i``."""
        if i not in self._mags:
            self._mags[i] = local_magnitudes(self.forms, self.program, i, self.args(i), self.partials(i))
        return self._mags[i]


def forward_bounds(program: Program, vals: Sequence[Any], forms: LocalForms, at: Locals | None = None) -> list[Any]:
    """A first-order bound on the float64 rounding error of every node's value
    (``vals``: the 50-digit reference values; leaves are exact; ``at``: their :class:`Locals`)."""
    at = at or Locals(program, vals, forms)
    eps = mpmath.mpf(EPS)
    err: list[Any] = [mpmath.mpf(0)] * len(program.nodes)
    denorm = mpmath.mpf(DENORM)
    with mpmath.workdps(DPS):
        for i in program.op_indices:
            mags = at.magnitudes(i)
            ps = at.partials(i)
            if mags is None or ps is None:
                err[i] = mpmath.inf
                continue
            err[i] = LOCAL_ULPS * eps * mags[0] + denorm + mpmath.fsum(abs(p) * err[a] for p, a in zip(ps, program.args[i])
                                                                      if err[a])
    return err


def backward_bounds(program: Program, engine_vals: Sequence[float], output: int,
                    forms: LocalForms, at: Locals | None = None) -> tuple[list[Any], list[Any]]:
    """``(M, B)`` for every node: the magnitude of the path products summed into d output / d node,
    and a first-order bound on the engine's rounding error of that gradient, at the engine's
    own forward values (``at``: their :class:`Locals`, the values as 50-digit numbers)."""
    at = at or Locals(program, [hp(v) for v in engine_vals], forms)
    eps = mpmath.mpf(EPS)
    n = len(program.nodes)
    zero = mpmath.mpf(0)
    mag: list[Any] = [zero] * n
    bound: list[Any] = [zero] * n
    mag[output] = mpmath.mpf(1)
    with mpmath.workdps(DPS):
        ulps, eps2, denorm2 = LOCAL_ULPS * eps, 2 * eps, mpmath.mpf(2 * DENORM)
        for i in reversed(program.op_indices):
            m, b = mag[i], bound[i]
            if not m:
                continue
            ps = at.partials(i)
            mags = at.magnitudes(i)
            if ps is None or mags is None:
                for a in program.args[i]:
                    bound[a] = mpmath.inf
                continue
            if all(p is ONE for p in ps) and all(t is mags[1][0] for t in mags[1]):
                # a sum: every argument gets the same terms (one evaluation per node, not per edge)
                add = b + m * (ulps * mags[1][0] + eps2) + denorm2
                for a in program.args[i]:
                    mag[a] += m
                    bound[a] += add
                continue
            dps = [ulps * t for t in mags[1]]
            if len(ps) == 1 and ps[0] != 0:
                dps[0] += output_rounding(forms, program, i, at.args(i), ps[0], engine_vals[i])
            for a, p, dp in zip(program.args[i], ps, dps):
                q = abs(p)
                mag[a] += m * q
                bound[a] += b * q + m * (dp + eps2 * q) + denorm2
    return mag, bound


def output_rounding(forms: LocalForms, program: Program, i: int, xs: Sequence[Any], p: Any, y: float) -> Any:
    """How much a one-argument op's partial moves when its output is rounded: a rule written
    in the output (sigmoid' = y (1 - y)) sees the argument shifted by about ``eps |y| / |p|``."""
    form = forms.get(program.ops[i], 1, program.attrs[i])
    shift = LOCAL_ULPS * mpmath.mpf(EPS) * abs(mpmath.mpf(y)) / abs(p)
    worst = mpmath.mpf(0)
    for x in (xs[0] + shift, xs[0] - shift):
        q = form.partials([x])[0]
        if q is None:
            return mpmath.inf
        worst = max(worst, abs(q - p))
    return worst
