"""Time check_gradients (SymPy let form + finite differences) on growing MLPs with an MSE loss.

Run ``python bench/verify.py`` (``--points N``, ``--sizes 4,4,1 8,8,1``). Prints, per
network, the parameter and op-node counts, the time of the whole check at one
point, and the time per parameter x node, which stays roughly flat if the cost is
linear in parameters x nodes (it is in fact close to linear in nodes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symnet as sn  # noqa: E402
from symnet.check import check_gradients  # noqa: E402

DEFAULT_SIZES = ("4,4,1", "8,8,1", "16,16,1", "8,8,8,1", "32,32,1", "16,16,16,1")


def run(sizes: list[list[int]], points: int, repeat: int) -> list[dict]:
    rows = []
    for hidden in sizes:
        sn.seed(0)
        net = sn.compile(sn.MLP(2, hidden))
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            report = check_gradients(net, loss="mse", target=1.0, points=points, seed=0)
            best = min(best, time.perf_counter() - start)
        loss_net = sn.compile(sn.mse(net.root, 1.0))
        n_params, n_ops = len(loss_net.parameters), len(loss_net.program.op_indices)
        rows.append(dict(sizes=hidden, params=n_params, ops=n_ops, seconds=best, ok=report.ok,
                         per_pn=best / (n_params * n_ops)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="*", default=list(DEFAULT_SIZES), help="layer sizes, e.g. 16,16,1")
    ap.add_argument("--points", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = ap.parse_args(argv)
    sizes = [[int(k) for k in s.split(",")] for s in args.sizes]
    print(f"check_gradients, MLP(2, sizes) + MSE, {args.points} point(s), best of {args.repeat}")
    print(f"{'sizes':>14} {'params':>7} {'op nodes':>9} {'seconds':>9} {'us/(param*node)':>16}  ok")
    for r in run(sizes, args.points, args.repeat):
        print(f"{str(r['sizes']):>14} {r['params']:>7} {r['ops']:>9} {r['seconds']:>9.3f} "
              f"{r['per_pn'] * 1e6:>16.3f}  {r['ok']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
