"""Time of a matrix-form claim check, by the size of the weight matrix.

The model is the squared error of a linear layer, ``sum((W@x + b - y)**2)``, with
``W`` of shape (n, n) and ``x``, ``b``, ``y`` of shape (n, 1); the claims, checked
with respect to ``W``, are the correct ``2*(W@x + b - y) @ x.T`` and the wrong
``(W@x + b - y) @ x.T`` (every entry off by a factor 2, so every entry is decided
and the first one fails). Each check compares all n*n entries with the scalar
verdict (:func:`symnet.check_derivative`); the time is wall-clock, median of
``--repeat`` runs, in one process.

    python bench/matrix_claims.py            # n = 2, 4, 6, 8, 10 (about a minute)
    python bench/matrix_claims.py --sizes 10 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import symnet as sn  # noqa: E402

MODEL = "sum((W@x + b - y)**2)"
CLAIMS = {"correct": "2*(W@x + b - y) @ x.T", "wrong": "(W@x + b - y) @ x.T"}


def check(n: int, claim: str) -> tuple[float, object]:
    shapes = {"W": (n, n), "x": (n, 1), "b": (n, 1), "y": (n, 1)}
    t0 = time.perf_counter()
    verdict = sn.check_derivative(MODEL, "W", claim, shapes=shapes, inputs=["x", "y"])
    return time.perf_counter() - t0, verdict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 6, 8, 10])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"model {MODEL}, by W; Python {platform.python_version()}, {os.cpu_count()} CPU(s)")
    print(f"{'n':>3} {'entries':>7} {'claim':>8} {'verdict':>8} {'median':>9} {'min-max':>17} {'per entry':>10}")
    for n in args.sizes:
        for label, claim in CLAIMS.items():
            times, verdict = [], None
            for _ in range(args.repeat):
                t, verdict = check(n, claim)
                times.append(t)
            med = statistics.median(times)
            failed = "" if verdict.failed is None else f" {verdict.entry_name(verdict.failed)}"
            print(f"{n:>3} {n * n:>7} {label:>8} {verdict.verdict:>8} {med:>8.2f}s "
                  f"{min(times):>7.2f}-{max(times):.2f}s {med / (n * n) * 1e3:>8.1f}ms{failed}")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
