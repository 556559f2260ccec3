"""Fahrenheit to Celsius: a linear model ``w*F + b`` learns ``w = 5/9`` and ``b = -160/9``.

The first example of the articles. The data are exact conversions of
temperatures from -40 F to 40 F (among them -40 F = -40 C and 32 F = 0 C);
inputs are not rescaled, so the learned weight and bias are the conversion
constants themselves. Inputs centred on 0 keep the weight and the bias learning
at comparable speeds, which is what makes plain per-sample SGD converge in a
few hundred epochs.

Run it: ``python examples/fahrenheit.py``.
"""

from __future__ import annotations

import sys
from typing import TextIO

import symnet as sn

FAHRENHEIT = [float(f) for f in range(-40, 41, 8)]


def celsius(f: float) -> float:
    return (f - 32.0) * 5.0 / 9.0


def mse_loss(pred: float, target: float) -> float:
    """The article's loss function: squared error of one prediction."""
    return (pred - target) ** 2


def mse_grad(pred: float, target: float) -> float:
    """The article's loss gradient: d loss / d pred."""
    return 2.0 * (pred - target)


def train(seed: int = 0, epochs: int = 1000, lr: float = 1e-3, print_every: int | None = None,
          out: TextIO | None = None) -> tuple[sn.Network, list[float]]:
    """Build ``w*F + b`` with random initial values and train it; returns the network
    and the mean loss of every epoch."""
    sn.seed(seed)
    f = sn.Input("F")
    w, b = sn.Parameter(name="w"), sn.Parameter(name="b")
    model = w * f + b
    data = [([v], celsius(v)) for v in FAHRENHEIT]
    # The articles' style: a (loss, gradient of the loss) pair of plain functions.
    losses = sn.train_model(model, (mse_loss, mse_grad), data, epochs=epochs, lr=lr,
                            print_every=print_every, out=out)
    return model.compile(), losses


def main(out: TextIO = sys.stdout) -> None:
    net, losses = train(print_every=200, out=out)
    w, b = net.parameters
    print(f"learned w = {w.value:.6f}  (5/9    = {5 / 9:.6f})", file=out)
    print(f"learned b = {b.value:.6f}  (-160/9 = {-160 / 9:.6f})", file=out)
    print(f"100 F -> {net.predict([100.0]):.3f} C", file=out)


if __name__ == "__main__":
    main()
