"""Blame for a failed gradient check: which op's rule, or which accumulation, is wrong.

Each op node's engine forward value and local partials (the row's ``forward`` and
``partials`` at the engine's own input values) are compared with the row's SymPy
form and SymPy's derivative of it at the same values. If every local rule agrees,
the engine's adjoints are replayed from the engine's own local partials (with
exactly summed contributions); the first node whose adjoint differs is where the
accumulation went wrong.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .check_bound import DENORM, EPS, LOCAL_ULPS, output_rounding, local_magnitudes
from .check_ref import LocalForms, hp
from .program import Program

__all__ = ["local_blame", "accumulation_blame", "fmt", "LOCAL_RTOL", "LOCAL_ATOL"]

#: Tolerance of one local rule (one rounding step in float64): ``|e - s| <= LOCAL_ATOL + LOCAL_RTOL * scale``.
LOCAL_RTOL = 1e-9
LOCAL_ATOL = 1e-12


def fmt(x: Any) -> str:
    """A number for messages: up to 10 significant digits.

    >>> fmt(0.19661193324148185), fmt(None)
    ('0.1966119332', 'undefined')
    """
    if x is None:
        return "undefined"
    try:
        return f"{float(x):.10g}"
    except (TypeError, ValueError):
        return repr(x)


def _label(program: Program, i: int) -> str:
    name = program.names[i]
    return f"`{name}`" if name else f"#{i}"


def _what(program: Program, i: int) -> str:
    op = program.ops[i]
    return op.name if op is not None else program.kinds[i]


def _arg_label(program: Program, i: int, j: int) -> str:
    args = program.args[i]
    a = args[j]
    name = program.names[a] if program.kinds[a] != "constant" else None
    if name and args.count(a) == 1:
        return name
    return f"(argument {j + 1}{': ' + name if name else ''})"


def local_blame(program: Program, values: Sequence[float], forms: LocalForms, limit: int = 8) -> list[str]:
    """One message per op node whose engine forward value or local partial disagrees
    with SymPy at the engine's own input values (at most ``limit``, in graph order).

    Allowed: the rounding of one evaluation, ``LOCAL_ULPS * eps`` times the magnitude of
    the terms of the SymPy form (and, for a one-argument op, the effect of rounding its
    output on a rule written in the output), as in :mod:`symnet.check_bound`."""
    out: list[str] = []
    args, ops, attrs = program.args, program.ops, program.attrs
    eps = EPS * LOCAL_ULPS
    for i in program.op_indices:
        op = ops[i]
        xs = tuple(values[a] for a in args[i])
        hxs = [hp(x) for x in xs]
        head = f"node {_label(program, i)} ({op.name})"
        s, sym_ps = forms.evaluate(op, attrs[i], hxs)
        mags = local_magnitudes(forms, program, i, hxs) if sym_ps is not None else None
        y = values[i]
        if s is not None:
            room = eps * float(mags[0]) if mags is not None else eps * abs(float(s))
            if not abs(y - float(s)) <= room + DENORM:
                out.append(f"{head}: engine forward = {fmt(y)}, SymPy = {fmt(s)}")
        ps: tuple[Any, ...] | None
        try:
            ps = tuple(op.partials(xs, y, attrs[i]))
        except Exception as exc:  # a wrong rule may raise anything
            out.append(f"{head}: engine partials raise {type(exc).__name__}: {exc}")
            ps = None
        if ps is not None and len(ps) != len(xs):
            out.append(f"{head}: engine gives {len(ps)} partials for {len(xs)} arguments")
        elif ps is not None and sym_ps is not None:
            for j, (p, d) in enumerate(zip(ps, sym_ps)):
                room = eps * float(mags[1][j]) if mags is not None else eps * abs(float(d))
                if len(xs) == 1 and d != 0:
                    room += float(output_rounding(forms, program, i, hxs, d, y))
                if not (isinstance(p, (int, float)) and abs(p - float(d)) <= room + DENORM):
                    out.append(f"{head}: engine d/d{_arg_label(program, i, j)} = {fmt(p)}, SymPy = {fmt(d)}")
        if len(out) >= limit:
            break
    return out[:limit]


def accumulation_blame(program: Program, values: Sequence[float], engine_adj: Sequence[float],
                       output: int, scale: float) -> str | None:
    """Replay the reverse pass from the engine's own local partials, summing each node's
    contributions exactly; name the first node (in backward order) whose engine
    adjoint differs, or return ``None``."""
    n = len(program.nodes)
    contrib: list[list[tuple[float, int]]] = [[] for _ in range(n)]
    args, ops, attrs = program.args, program.ops, program.attrs

    def check(i: int) -> str | None:
        parts = [c for c, _ in contrib[i]] + ([1.0] if i == output else [])
        g = math.fsum(parts)
        bound = LOCAL_ATOL * scale + LOCAL_RTOL * math.fsum(abs(c) for c in parts)
        e = engine_adj[i]
        if abs(e - g) <= bound:
            return None
        uses = ", ".join(f"{_label(program, j)} ({_what(program, j)}) gives {fmt(c)}" for c, j in contrib[i][:4])
        more = f" and {len(contrib[i]) - 4} more" if len(contrib[i]) > 4 else ""
        seed = " plus the seed 1" if i == output else ""
        return (f"accumulation: node {_label(program, i)} ({_what(program, i)}) has engine gradient {fmt(e)}, "
                f"but its {len(contrib[i])} use(s) ({uses}{more}){seed} sum to {fmt(g)}; "
                "every local partial agrees with SymPy, so the engine combines them wrongly")

    adj = [0.0] * n
    for i in reversed(program.op_indices):
        msg = check(i)
        if msg is not None:
            return msg
        adj[i] = g = engine_adj[i]
        if g == 0.0:
            continue
        try:
            ps = ops[i].partials(tuple(values[a] for a in args[i]), values[i], attrs[i])
        except Exception:
            continue
        for a, p in zip(args[i], ps):
            contrib[a].append((g * p, i))
    for i in range(n):
        if ops[i] is None and program.kinds[i] != "constant":
            msg = check(i)
            if msg is not None:
                return msg
    return None
