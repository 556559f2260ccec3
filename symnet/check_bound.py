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

from .check_ref import DPS, LocalForms, hp
from .program import Program

__all__ = ["EPS", "LOCAL_ULPS", "DENORM", "local_magnitudes", "output_rounding", "forward_bounds", "backward_bounds"]

#: float64 unit roundoff.
EPS = 2.0 ** -53
#: The spacing of float64 subnormals: the absolute error of a result that underflows.
DENORM = 2.0 ** -1074
#: Rounding of one op evaluation, in units of ``eps`` times the magnitude of its terms.
LOCAL_ULPS = 8


def local_magnitudes(forms: LocalForms, program: Program, i: int, xs: Sequence[Any]) -> tuple[Any, list[Any]] | None:
    """(|terms| of the value, [|terms| of each partial]) of op node ``i`` at ``xs``."""
    op, attr = program.ops[i], program.attrs[i]
    n = len(xs)
    if forms.folds(op, n, attr):  # a wide associative op: n - 1 roundings of the fold
        ps = forms.evaluate(op, attr, xs)[1]
        if ps is None:
            return None
        value = mpmath.fsum(abs(p * x) for p, x in zip(ps, xs)) * (n - 1)
        return value, [abs(p) * n for p in ps]
    return forms.get(op, n, attr).magnitudes(xs)


def forward_bounds(program: Program, vals: Sequence[Any], forms: LocalForms) -> list[Any]:
    """A first-order bound on the float64 rounding error of every node's value
    (``vals``: the 50-digit reference values; leaves are exact)."""
    eps = mpmath.mpf(EPS)
    err: list[Any] = [mpmath.mpf(0)] * len(program.nodes)
    with mpmath.workdps(DPS):
        for i in program.op_indices:
            xs = [vals[a] for a in program.args[i]]
            mags = local_magnitudes(forms, program, i, xs)
            ps = forms.evaluate(program.ops[i], program.attrs[i], xs)[1]
            if mags is None or ps is None:
                err[i] = mpmath.inf
                continue
            err[i] = LOCAL_ULPS * eps * mags[0] + DENORM + mpmath.fsum(abs(p) * err[a] for p, a in zip(ps, program.args[i]))
    return err


def backward_bounds(program: Program, engine_vals: Sequence[float], output: int,
                    forms: LocalForms) -> tuple[list[Any], list[Any]]:
    """``(M, B)`` for every node: the magnitude of the path products summed into d output / d node,
    and a first-order bound on the engine's rounding error of that gradient, at the engine's
    own forward values."""
    eps = mpmath.mpf(EPS)
    n = len(program.nodes)
    zero = mpmath.mpf(0)
    mag: list[Any] = [zero] * n
    bound: list[Any] = [zero] * n
    mag[output] = mpmath.mpf(1)
    with mpmath.workdps(DPS):
        for i in reversed(program.op_indices):
            m, b = mag[i], bound[i]
            if m == 0:
                continue
            xs = [hp(engine_vals[a]) for a in program.args[i]]
            op, attr = program.ops[i], program.attrs[i]
            ps = forms.evaluate(op, attr, xs)[1]
            mags = local_magnitudes(forms, program, i, xs)
            if ps is None or mags is None:
                for a in program.args[i]:
                    bound[a] = mpmath.inf
                continue
            dps = [LOCAL_ULPS * eps * t for t in mags[1]]
            if len(xs) == 1 and ps[0] != 0:
                dps[0] += output_rounding(forms, program, i, xs, ps[0], engine_vals[i])
            for a, p, dp in zip(program.args[i], ps, dps):
                mag[a] += m * abs(p)
                bound[a] += b * abs(p) + m * (dp + 2 * eps * abs(p)) + 2 * DENORM
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
