"""One full-batch training step of micrograd's moons demo network, in every implementation.

The network is micrograd's ``MLP(2, [16, 16, 1])`` (ReLU hidden layers, linear output,
337 parameters) with micrograd's own initial weights (``random.seed(1337)``), on 100
moons points made here with NumPy (``--seed``, noise 0.1, labels -1/+1). The loss is
the **mean squared error** ``mean((y - score)**2)`` (not the demo's SVM loss and L2
term), followed by one SGD update ``p -= lr * grad``. Implementations:

* micrograd 0.1.0 from PyPI, as people run it (Python's garbage collector on), and
  with the collector off inside the step (it then collects between steps, untimed);
* PyTorch eager (if importable), one 0-d float64 tensor per weight (scalar), and
  batched float64 matrices, with one intra-op thread;
* hand-written NumPy, batched per layer;
* symnet: the interpreted engine, generated straight-line Python, batched NumPy
  (each a ``symnet.train.make_trainer`` step over the whole batch, as ``train_model``
  runs it).

All start from the same weights; the first-step losses and the parameters after a
few steps are compared before timing. Prints the median time per step of each
(min-max, n) and the ratios to symnet's three paths, all from one run.

    python bench/moons.py            # about a minute
    python bench/moons.py --quick    # fewer repetitions
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import statistics
import sys
import time
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import symnet as sn  # noqa: E402
from symnet.train import make_trainer  # noqa: E402

SIZES = [16, 16, 1]
LR = 0.05


def make_moons(n: int, noise: float, seed: int) -> tuple[list[list[float]], list[float]]:
    """Two interleaving half circles (as scikit-learn's make_moons), labels -1 / +1, shuffled."""
    rng = np.random.RandomState(seed)
    n_out, n_in = n - n // 2, n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.vstack([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                   np.column_stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5])])
    y = np.hstack([-np.ones(n_out), np.ones(n_in)])
    X += rng.normal(scale=noise, size=X.shape)
    order = rng.permutation(n)
    return X[order].tolist(), y[order].tolist()


def micrograd_weights(seed: int = 1337) -> tuple[Any, list[float]]:
    from micrograd.nn import MLP

    random.seed(seed)
    model = MLP(2, SIZES)
    return model, [p.data for p in model.parameters()]


# -- the implementations: each returns step() -> loss, and params() -> list[float] ------------


def micrograd_impl(X: list[list[float]], y: list[float], gc_off: bool) -> tuple[Callable[[], float], Callable]:
    from micrograd.engine import Value

    model, _ = micrograd_weights()

    def step() -> float:
        if gc_off:
            gc.disable()
        try:
            inputs = [list(map(Value, row)) for row in X]
            scores = list(map(model, inputs))
            losses = [(yi - si) ** 2 for yi, si in zip(y, scores)]
            loss = sum(losses) * (1.0 / len(losses))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= LR * p.grad
            return loss.data
        finally:
            if gc_off:
                gc.enable()

    return step, lambda: [p.data for p in model.parameters()]


def _layers(params: list[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights (out, in) and biases (out,) from micrograd's order: per neuron, w then b."""
    out, k, n_in = [], 0, 2
    for n_out in SIZES:
        block = np.array(params[k:k + n_out * (n_in + 1)]).reshape(n_out, n_in + 1)
        out.append((block[:, :n_in].copy(), block[:, n_in].copy()))
        k += n_out * (n_in + 1)
        n_in = n_out
    return out


def _flat(layers: list[tuple[Any, Any]]) -> list[float]:
    flat: list[float] = []
    for W, b in layers:
        for row, c in zip(np.asarray(W).tolist(), np.asarray(b).tolist()):
            flat += row + [c]
    return flat


def numpy_impl(X: list[list[float]], y: list[float], init: list[float]) -> tuple[Callable[[], float], Callable]:
    layers = _layers(init)
    A0 = np.array(X).T  # (2, n)
    Y = np.array(y)[None, :]
    n = A0.shape[1]

    def step() -> float:
        (W1, b1), (W2, b2), (W3, b3) = layers
        Z1 = np.dot(W1, A0) + b1[:, None]
        H1 = np.maximum(Z1, 0.0)
        Z2 = np.dot(W2, H1) + b2[:, None]
        H2 = np.maximum(Z2, 0.0)
        S = np.dot(W3, H2) + b3[:, None]
        D = S - Y
        loss = float((D * D).sum() / n)
        dS = D * (2.0 / n)
        dW3, db3 = np.dot(dS, H2.T), dS.sum(axis=1)
        dZ2 = np.dot(W3.T, dS) * (Z2 > 0.0)
        dW2, db2 = np.dot(dZ2, H1.T), dZ2.sum(axis=1)
        dZ1 = np.dot(W2.T, dZ2) * (Z1 > 0.0)
        dW1, db1 = np.dot(dZ1, A0.T), dZ1.sum(axis=1)
        for (W, b), (dW, db) in zip(layers, ((dW1, db1), (dW2, db2), (dW3, db3))):
            W -= LR * dW
            b -= LR * db
        return loss

    return step, lambda: _flat(layers)


def torch_batched_impl(X: list[list[float]], y: list[float], init: list[float]) -> tuple[Callable[[], float], Callable]:
    import torch

    layers = [(torch.tensor(W, dtype=torch.float64, requires_grad=True),
               torch.tensor(b, dtype=torch.float64, requires_grad=True)) for W, b in _layers(init)]
    A0 = torch.tensor(X, dtype=torch.float64)
    Y = torch.tensor(y, dtype=torch.float64)[:, None]

    def step() -> float:
        h = A0
        for k, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if k < len(layers) - 1:
                h = torch.relu(h)
        loss = ((Y - h) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for W, b in layers:
                W -= LR * W.grad
                b -= LR * b.grad
                W.grad = None
                b.grad = None
        return loss.item()

    return step, lambda: _flat([(W.detach().numpy(), b.detach().numpy()) for W, b in layers])


def torch_scalar_impl(X: list[list[float]], y: list[float], init: list[float]) -> tuple[Callable[[], float], Callable]:
    import torch

    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in init]
    neurons, k, n_in = [], 0, 2
    for layer, n_out in enumerate(SIZES):
        units = []
        for _ in range(n_out):
            units.append((params[k:k + n_in], params[k + n_in]))
            k += n_in + 1
        neurons.append(units)
        n_in = n_out
    rows = [[torch.tensor(v, dtype=torch.float64) for v in row] for row in X]

    def step() -> float:
        losses = []
        for row, target in zip(rows, y):
            h = row
            for depth, units in enumerate(neurons):
                out = [sum((w * x for w, x in zip(ws, h)), b) for ws, b in units]
                h = [torch.relu(o) for o in out] if depth < len(neurons) - 1 else out
            losses.append((target - h[0]) ** 2)
        loss = sum(losses) * (1.0 / len(losses))
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None
        return loss.item()

    return step, lambda: [p.item() for p in params]


def symnet_impl(X: list[list[float]], y: list[float], init: list[float], engine: str
                ) -> tuple[Callable[[], float], Callable]:
    model = sn.MLP(2, SIZES)
    net = sn.compile(model)
    for p, v in zip(net.parameters, init):
        p.value = v
    trainer = make_trainer(model, "mse", list(zip(X, y)), batch_size=None, engine=engine)
    everything = list(range(len(X)))
    count = [0]

    def step() -> float:
        count[0] += 1
        return trainer.step(everything, LR, count[0], 1) / len(everything)

    def params() -> list[float]:
        trainer.finish()
        return [p.value for p in net.parameters]

    return step, params


# -- measuring -----------------------------------------------------------------------------


def timed(step: Callable[[], float], n: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def fmt(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--seed", type=int, default=1337, help="seed of the moons data")
    ap.add_argument("--samples", type=int, default=100)
    args = ap.parse_args(argv)
    q = 0.3 if args.quick else 1.0

    X, y = make_moons(args.samples, 0.1, args.seed)
    _, init = micrograd_weights()
    impls: list[tuple[str, Callable[[], tuple[Callable[[], float], Callable]], int]] = [
        ("micrograd 0.1.0, as run (GC on)", lambda: micrograd_impl(X, y, gc_off=False), 5),
        ("micrograd 0.1.0, GC off in the step", lambda: micrograd_impl(X, y, gc_off=True), 10),
    ]
    try:
        import torch

        torch.set_num_threads(1)
        impls += [("PyTorch eager, scalar tensors (float64)", lambda: torch_scalar_impl(X, y, init), 3),
                  ("PyTorch eager, batched (float64, 1 thread)", lambda: torch_batched_impl(X, y, init), 500)]
        torch_version = torch.__version__
    except ImportError:
        torch_version = "not installed"
    impls += [
        ("hand-written NumPy, batched", lambda: numpy_impl(X, y, init), 2000),
        ("symnet interpreted engine", lambda: symnet_impl(X, y, init, "interpreted"), 10),
        ("symnet generated Python", lambda: symnet_impl(X, y, init, "python"), 100),
        ("symnet batched NumPy", lambda: symnet_impl(X, y, init, "numpy"), 2000),
    ]

    import micrograd

    print(f"moons step: MLP(2, {SIZES}), {len(init)} parameters, {len(X)} samples, MSE loss, SGD lr={LR}")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch_version}, "
          f"micrograd {getattr(micrograd, '__version__', '0.1.0')}, {os.cpu_count()} CPU(s), {platform.machine()}")

    # the same computation everywhere: first loss, and parameters after three steps
    check = {}
    for name, make, _ in impls:
        step, params = make()
        first = step()
        step(), step()
        check[name] = (first, params())
    ref_loss, ref_params = check[impls[0][0]]
    print(f"\nfirst-step loss (micrograd): {ref_loss!r}")
    for name, (loss, params) in check.items():
        dp = max(abs(a - b) for a, b in zip(params, ref_params))
        print(f"  {name:<44} |loss - micrograd| {abs(loss - ref_loss):.1e}   max |param - micrograd| "
              f"after 3 steps {dp:.1e}")

    results = {}
    print("\nmedian time per step (min-max, n):")
    for name, make, n in impls:
        step, _ = make()
        times = timed(step, max(3, int(n * q)))
        results[name] = times
        print(f"  {name:<44} {fmt(statistics.median(times)):>10}  ({fmt(min(times))} - {fmt(max(times))}, "
              f"n={len(times)})")
        sys.stdout.flush()

    med = {name: statistics.median(t) for name, t in results.items()}
    ours = ["symnet interpreted engine", "symnet generated Python", "symnet batched NumPy"]
    print("\nratios (median / median; > 1 means that row is slower than symnet's path):")
    print(f"  {'':<44} {'/ interpreted':>14} {'/ generated Py':>15} {'/ NumPy path':>13}")
    for name in med:
        print(f"  {name:<44} " + " ".join(f"{med[name] / med[o]:>14.3g}" for o in ours))

    mg = med[impls[0][0]]
    print("\ntargets:")
    goals = [
        ("generated Python >= 300x faster than micrograd as run", mg / med["symnet generated Python"], 300, ">="),
        ("interpreted engine >= 3x faster than micrograd as run", mg / med["symnet interpreted engine"], 3, ">="),
        ("NumPy path within 3x of hand-written NumPy", med["symnet batched NumPy"] / med["hand-written NumPy, batched"],
         3, "<="),
    ]
    if "PyTorch eager, batched (float64, 1 thread)" in med:
        goals.append(("NumPy path at most PyTorch eager batched",
                      med["symnet batched NumPy"] / med["PyTorch eager, batched (float64, 1 thread)"], 1, "<="))
    for label, value, bound, op in goals:
        ok = value >= bound if op == ">=" else value <= bound
        print(f"  {label:<56} {value:10.3g}  {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
