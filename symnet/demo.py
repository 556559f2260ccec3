"""The built-in demo (``symnet demo``): train the two article examples, print formulas and gradients.

>>> import io
>>> from symnet.demo import run
>>> out = io.StringIO(); run(out)
>>> "w*F + b" in out.getvalue()
True
"""

from __future__ import annotations

import random
import sys
from typing import Any, TextIO

from .graph import Input, Parameter, seed
from .layers import MLP
from .network import Network
from .train import train_model

__all__ = ["run", "fahrenheit", "above_line"]


def _gradients(net: Network, values: Any, per_line: int = 4) -> str:
    items = [f"d/d{name} = {g:.6g}" for name, g in net.gradients(values).items()]
    lines = [", ".join(items[k:k + per_line]) for k in range(0, len(items), per_line)]
    return "\n      ".join(lines)


def fahrenheit(epochs: int = 1000, lr: float = 1e-3) -> Network:
    """A linear model ``w*F + b`` trained on exact Fahrenheit-to-Celsius pairs."""
    seed(0)
    f = Input("F")
    w, b = Parameter(name="w"), Parameter(name="b")
    data = [([float(v)], (v - 32.0) * 5.0 / 9.0) for v in range(-40, 41, 8)]
    train_model(w * f + b, "mse", data, epochs=epochs, lr=lr)
    return (w * f + b).compile()


def above_line(n_train: int = 400) -> tuple[Network, float]:
    """A 2-4-1 ReLU/sigmoid network that learns whether a point lies above y = x;
    returns it with its accuracy on 1000 fresh points."""
    seed(0)
    model = MLP(2, [4, 1], activation="relu", output_activation="sigmoid")
    rng = random.Random(0)

    def points(n: int, rng: random.Random) -> list[tuple[list[float], float]]:
        out = []
        for _ in range(n):
            x, y = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
            out.append(([x, y], 1.0 if y > x else 0.0))
        return out

    data = points(n_train, rng)
    for phase, (epochs, lr) in enumerate(((30, 0.1), (10, 0.01))):
        train_model(model, "bce", data, epochs=epochs, lr=lr, shuffle=True, rng=random.Random(phase + 1))
    net = model.compile()
    fresh = points(1000, random.Random(12345))
    right = sum((net.predict(xy) > 0.5) == (t == 1.0) for xy, t in fresh)
    return net, right / len(fresh)


def run(out: TextIO | None = None) -> None:
    """Train both article examples with fixed seeds and print their formulas and gradients."""
    out = sys.stdout if out is None else out

    print("1. Fahrenheit to Celsius: a linear model learns C = w*F + b", file=out)
    net = fahrenheit()
    w, b = net.parameters
    print(f"   model:    C = {net.funcify()}", file=out)
    print(f"   learned:  C = {net.funcify(digits=4)}   (exact: 5/9 = {5 / 9:.4g}, -160/9 = {-160 / 9:.4g})",
          file=out)
    print("   gradients of the output at F = 100:", file=out)
    print(f"      {_gradients(net, {'F': 100.0})}", file=out)
    print(file=out)

    print("2. Above or below the line y = x: a 2-4-1 ReLU/sigmoid network", file=out)
    net, acc = above_line()
    print(f"   model:    yhat = {net.funcify()}", file=out)
    print(f"   learned:  yhat = {net.funcify(digits=2)}", file=out)
    print(f"   accuracy on 1000 fresh points: {acc:.1%}", file=out)
    print("   gradients of the output at (x1, x2) = (0.2, 0.3):", file=out)
    print(f"      {_gradients(net, [0.2, 0.3])}", file=out)
