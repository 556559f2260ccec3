"""compile() against one net.gradients() evaluation of the same network, in one run,
and the memory a compiled network costs per node.

Issue 11 asks that compiling a 10^5-node chain cost at most 3 evaluations of its
gradient. Both are measured here side by side, in the same process, with CPU time
(``time.process_time``, so that other processes on a shared machine count less),
as the median of several repetitions; the ratio is what is reported. Memory is
``tracemalloc``'s peak while compiling, and the size the compiled network keeps
alive afterwards, both divided by the number of nodes.

Graphs: a chain ``y = 0.999*y + w`` (three nodes a step, a single path) and an
``MLP(k, [k, k, 1])`` with ReLU (wide n-ary sums).

    python bench/compile.py            # 10^4 and 10^5 nodes
    python bench/compile.py --max 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from typing import Any, Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import symnet as sn  # noqa: E402


def chain(n_nodes: int) -> tuple[Any, dict[str, float]]:
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    y = x
    for _ in range(n_nodes // 3):
        y = 0.999 * y + w
    return y, {"x": 1.0}


def mlp(n_nodes: int) -> tuple[Any, dict[str, float]]:
    k = max(2, int((n_nodes / 4) ** 0.5))
    sn.seed(0)
    return sn.MLP(k, [k, k, 1]), {f"x{i}": 0.1 * i for i in range(1, k + 1)}


def cpu(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def measure(build: Callable[[int], tuple[Any, dict[str, float]]], n_nodes: int, repeat: int) -> dict[str, Any]:
    root, values = build(n_nodes)
    net = sn.compile(root)
    t_compile = cpu(lambda: sn.compile(root), repeat)
    t_grad = cpu(lambda: net.gradients(values), repeat)
    tracemalloc.start()
    kept = sn.compile(root)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(kept.program)
    return {"nodes": n, "compile_s": t_compile, "gradients_s": t_grad, "ratio": t_compile / t_grad,
            "peak_bytes_per_node": peak / n, "kept_bytes_per_node": current / n}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100_000, help="largest graph, in nodes")
    args = parser.parse_args(argv)
    sizes = [s for s in (10_000, 100_000, 1_000_000) if s <= args.max]
    print(f"{'graph':<6} {'nodes':>9} {'compile':>9} {'gradients':>10} {'ratio':>6} "
          f"{'peak B/node':>12} {'kept B/node':>12}")
    for name, build in (("chain", chain), ("mlp", mlp)):
        for size in sizes:
            r = measure(build, size, repeat=5 if size <= 100_000 else 1)
            print(f"{name:<6} {r['nodes']:>9} {r['compile_s']:>8.3f}s {r['gradients_s']:>9.3f}s {r['ratio']:>6.2f} "
                  f"{r['peak_bytes_per_node']:>12.0f} {r['kept_bytes_per_node']:>12.0f}")


if __name__ == "__main__":
    main()
