"""Cost per node of every pass, for chains and MLPs from 10^3 to 10^6 nodes.

Passes: ``compile`` (sn.compile: walk, names, flat program), ``forward`` and
``backward`` (the interpreted engine over the program), ``codegen`` (writing the
Python source of the network and compiling its gradient function with CPython),
and ``generated`` (one call of that generated gradient). Graphs:

* chain: ``y = tanh(y * c)`` repeated, two op nodes per step (a single path, depth n/2);
* MLP: ``MLP(k, [k, k, 1])`` with ReLU, about 4 k^2 nodes (wide n-ary sums).

Then the verifier (``symnet.check.check_gradients`` with an MSE loss, one point) over
growing MLPs, if it exists. Times are CPU time of this process (``time.process_time``,
so that other processes on a shared machine count less), with Python's garbage
collector on as usual. Repetitions shrink with size (one at 10^6); the whole
run takes a few minutes and, at 10^6 nodes, several GB of memory for CPython's
compiler (``--max 100000`` stops earlier).

    python bench/scaling.py
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import statistics
import sys
import time
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import symnet as sn  # noqa: E402
from symnet import engine  # noqa: E402
from symnet.emit.python import CompiledPython  # noqa: E402

SIZES = (1_000, 10_000, 100_000, 1_000_000)


def chain(n: int) -> sn.Node:
    x, c = sn.Input("x"), sn.Constant(0.999)
    y: sn.Node = x
    for _ in range(max(1, (n - 2) // 2)):
        y = (y * c).tanh()
    return y


def mlp(n: int) -> sn.Node:
    k = max(2, round(math.sqrt(n / 4)))
    sn.seed(0)
    return sn.MLP(k, [k, k, 1])


def repeat(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(reps):
        gc.collect()
        t0 = time.process_time()
        result = fn()
        times.append(time.process_time() - t0)
    return statistics.median(times), result


def fmt(seconds: float) -> str:
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def passes(kind: str, build: Callable[[int], sn.Node], n: int, rows: list[tuple[str, int, str, float]]) -> None:
    reps = 5 if n <= 1_000 else 3 if n <= 100_000 else 1
    gc.collect()
    t0 = time.process_time()
    root = build(n)
    built = time.process_time() - t0
    t_compile, net = repeat(lambda: sn.compile(root), reps)
    nodes = len(net.program.nodes)
    p = net.program
    leaves = net.leaf_values([0.5] * len(p.inputs))
    t_fwd, values = repeat(lambda: engine.evaluate(p, list(leaves)), reps)
    t_bwd, _ = repeat(lambda: engine.backward(p, values, {p.outputs[0]: 1.0}), reps)

    def codegen() -> Any:
        fns = CompiledPython(net)
        fns.raw_gradient  # noqa: B018 - compiles the gradient
        return fns

    t_gen, fns = repeat(codegen, 1 if n > 10_000 else reps)
    ins = [0.5] * len(p.inputs)
    params = [node._value for node in net.parameters]
    t_run, _ = repeat(lambda: fns.raw_gradient(ins, params, (1.0,)), reps)
    for name, t in (("build graph", built), ("compile", t_compile), ("forward", t_fwd), ("backward", t_bwd),
                    ("codegen", t_gen), ("generated", t_run)):
        rows.append((kind, nodes, name, t))
        print(f"  {kind:<6} {nodes:>9,} nodes  {name:<12} {fmt(t):>10}  {t / nodes * 1e9:9.0f} ns/node", flush=True)
    del fns, net, root, values
    gc.collect()


def verifier(limit: float) -> None:
    try:
        from symnet.check import check_gradients
    except ImportError:
        print("\nverifier: symnet.check.check_gradients not available")
        return
    print("\nverifier: check_gradients(MLP(2, sizes), loss='mse', target=1.0, points=1)")
    for sizes in ([4, 4, 1], [8, 8, 1], [16, 16, 1], [32, 32, 1], [64, 64, 1], [8, 8, 8, 1], [16, 16, 16, 1]):
        sn.seed(0)
        model = sn.MLP(2, sizes)
        n_params = len(sn.compile(model).parameters)
        t, report = repeat(lambda: check_gradients(model, loss="mse", target=1.0, points=1), 1)
        print(f"  MLP(2, {sizes}) {n_params:>6} parameters  {fmt(t):>9}  {t / n_params * 1e6:8.0f} us/parameter  "
              f"ok={report.ok}", flush=True)
        if t > limit:
            print(f"  (stopped: over {limit:g} s)")
            break


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max", type=int, default=SIZES[-1], help="largest graph size (nodes)")
    ap.add_argument("--verifier-limit", type=float, default=60.0, help="stop the verifier sweep after this (s)")
    args = ap.parse_args(argv)
    rows: list[tuple[str, int, str, float]] = []
    print("CPU time per node (median of 5 / 3 / 3 / 1 repetitions at 10^3 / 10^4 / 10^5 / 10^6 nodes)")
    for kind, build in (("chain", chain), ("MLP", mlp)):
        for n in SIZES:
            if n <= args.max:
                passes(kind, build, n, rows)
    print("\nlinearity: ns/node at each size, and largest / smallest")
    for kind in ("chain", "MLP"):
        for name in ("build graph", "compile", "forward", "backward", "codegen", "generated"):
            per = [(nodes, t / nodes * 1e9) for k, nodes, nm, t in rows if k == kind and nm == name]
            if per:
                cells = "  ".join(f"{v:7.0f}" for _, v in per)
                print(f"  {kind:<6} {name:<12} {cells}   x{per[-1][1] / per[0][1]:.2f}")
    verifier(args.verifier_limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
