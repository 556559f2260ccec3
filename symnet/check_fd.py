"""The verifier's second reference: central finite differences in float64, with kink detection.

Each leaf ``theta_i`` is moved by ``h_i = 1e-6 * |theta_i|`` (``1e-6`` at 0: the step follows the
variable's scale) both ways and
only the op nodes downstream of it are recomputed with the rows' ``forward``.
A kink op (a row with ``kink``, e.g. ReLU) downstream whose signed distance ``z``
from its non-differentiable point satisfies ``|z| <= 10 * dz + 1e-12``, where
``dz`` is how far the step moves ``z`` (about ``|dz/dtheta_i| * h_i``), makes the
difference quotient meaningless: the leaf is reported as being on that kink.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .program import Program

__all__ = ["FDResult", "finite_difference", "kink_distances", "STEP"]

#: Relative step of the central difference (absolute at theta = 0).
STEP = 1e-6
#: A kink is too close when ``|z| <= KINK_FACTOR * (shift of z over the step) + KINK_FLOOR``.
KINK_FACTOR = 10.0
KINK_FLOOR = 1e-12


@dataclass(frozen=True)
class FDResult:
    """The central difference for one leaf and one output (``value`` is None if undefined)."""

    value: float | None
    step: float
    kink: tuple[int, float] | None = None  # (node index, z) of the closest offending kink
    error: str = ""


def kink_distances(program: Program, values: Sequence[float], nodes: Sequence[int]) -> dict[int, float]:
    """``{node: signed distance from its kink}`` for the kink ops among ``nodes``."""
    out: dict[int, float] = {}
    for i in nodes:
        op = program.ops[i]
        if op is not None and op.kink is not None:
            z = op.kink(tuple(values[a] for a in program.args[i]), program.attrs[i])
            if z is not None:
                out[i] = float(z)
    return out


def _shifted(program: Program, base: Sequence[float], leaf: int, value: float, nodes: Sequence[int]) -> list[float]:
    vals = list(base)
    vals[leaf] = value
    args, ops, attrs = program.args, program.ops, program.attrs
    for i in nodes:
        vals[i] = ops[i].forward(tuple(vals[a] for a in args[i]), attrs[i])
    return vals


def finite_difference(program: Program, base: Sequence[float], leaf: int, outputs: Sequence[int],
                      nodes: Sequence[int]) -> list[FDResult]:
    """Central differences of each output with respect to ``leaf`` (``nodes``: its downstream ops)."""
    theta = base[leaf]
    h = STEP * (abs(theta) if theta != 0 else 1.0)
    hi, lo = theta + h, theta - h
    try:
        plus = _shifted(program, base, leaf, hi, nodes)
        minus = _shifted(program, base, leaf, lo, nodes)
    except (ArithmeticError, ValueError) as exc:
        return [FDResult(None, h, None, f"forward fails at {theta!r} +/- {h:.1e}: {exc}")] * len(outputs)
    kink: tuple[int, float] | None = None
    z0 = kink_distances(program, base, nodes)
    if z0:
        zp = kink_distances(program, plus, list(z0))
        zm = kink_distances(program, minus, list(z0))
        for i, z in z0.items():
            shift = max(abs(zp[i] - z), abs(zm[i] - z))
            if abs(z) <= KINK_FACTOR * shift + KINK_FLOOR and (kink is None or abs(z) < abs(kink[1])):
                kink = (i, z)
    results = []
    for o in outputs:
        d = (plus[o] - minus[o]) / (hi - lo)
        if math.isfinite(d):
            results.append(FDResult(d, h, kink))
        else:
            results.append(FDResult(None, h, kink, "finite difference is not finite"))
    return results
