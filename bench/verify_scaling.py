"""Per-edge cost of the verifier on one wide node: an ``Add`` of n terms ``p_i * x``.

Run ``python bench/verify_scaling.py`` (``--terms 100 1000 10000 100000``). For each n
it times ``check_gradients`` at one given point and ``check_derivative`` of the same
model by ``x`` (claim: the sum of the ``p_i``), and prints the time per edge (the graph
has about 3n edges). Linear cost shows as a flat per-edge column; before issue 13
``check_gradients`` was quadratic (0.77 s at n = 250, 48 s at n = 2,000). A warm-up
check of a 10-term sum runs first, so one-off costs (SymPy building each op's form)
stay out of the rows; ``--repeat k`` keeps the best of k runs (a shared machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symnet as sn  # noqa: E402
from symnet.check import check_gradients  # noqa: E402
from symnet.derivative import check_derivative  # noqa: E402


def model(n: int) -> tuple[sn.Node, sn.Node, sn.Input]:
    x = sn.Input("x")
    ps = [sn.Parameter(0.1 * (i % 7 + 1), name=f"p{i}") for i in range(n)]
    return sn.Add([p * x for p in ps]), sn.Add(ps), x


def _timed(fn, repeat: int) -> tuple[float, object]:
    """The best wall time of ``repeat`` runs, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(terms: list[int], derivative: bool, repeat: int = 1) -> list[dict]:
    warm, claim, _ = model(10)  # one-off costs (SymPy building each op's form) stay out of the rows
    check_gradients(warm, {"x": 0.7})
    check_derivative(warm, "x", claim)
    rows = []
    for n in terms:
        root, claim, _ = model(n)
        edges = sum(len(a) for a in sn.compile(root).program.args)
        grad, report = _timed(lambda: check_gradients(root, {"x": 0.7}), repeat)
        row = dict(n=n, edges=edges, grad=grad, grad_ok=report.ok, deriv=None, deriv_ok=None)
        if derivative:
            deriv, v = _timed(lambda: check_derivative(root, "x", claim, max_nodes=10**7), repeat)
            row.update(deriv=deriv, deriv_ok=v.correct, method=v.method)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terms", nargs="*", type=int, default=[100, 1000, 10_000, 100_000])
    ap.add_argument("--no-derivative", action="store_true", help="time check_gradients only")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs per row")
    args = ap.parse_args(argv)
    print(f"{'terms':>7} {'edges':>7} {'check_gradients':>16} {'us/edge':>8} {'check_derivative':>17} "
          f"{'us/edge':>8}  method")
    for r in run(args.terms, not args.no_derivative, args.repeat):
        d = "-" if r["deriv"] is None else f"{r['deriv']:.3f} s"
        de = "-" if r["deriv"] is None else f"{r['deriv'] / r['edges'] * 1e6:.1f}"
        print(f"{r['n']:>7} {r['edges']:>7} {r['grad']:>14.3f} s {r['grad'] / r['edges'] * 1e6:>8.1f} "
              f"{d:>17} {de:>8}  {r.get('method', '')} ok={r['grad_ok']},{r['deriv_ok']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
