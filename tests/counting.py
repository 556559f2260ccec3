"""Deterministic work counts for the verifier's linear-cost tests (no timers in tests)."""

from __future__ import annotations

import os
import sys

import sympy

import symnet as sn


def wide_sum(n: int):
    """An Add of n terms p_i * x, and the sum of the p_i (its derivative by x)."""
    x = sn.Input("x")
    ps = [sn.Parameter(0.1 * (i % 7 + 1), name=f"p{i}") for i in range(n)]
    return sn.Add([p * x for p in ps]), sn.Add(ps)


def verifier_calls(run, skip=()) -> tuple[int, int]:
    """(calls of symnet's own functions, calls of sympy.diff) while ``run()`` runs, counted
    with sys.setprofile: deterministic, unlike a timer."""
    root = os.path.dirname(sn.__file__)
    calls = [0, 0]
    diff = sympy.diff

    def counting_diff(*args, **kwargs):
        calls[1] += 1
        return diff(*args, **kwargs)

    def profile(frame, event, arg):
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(root) and os.path.basename(name) not in skip:
                calls[0] += 1

    sympy.diff = counting_diff
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
        sympy.diff = diff
    return calls[0], calls[1]
