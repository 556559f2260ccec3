"""Above or below the line y = x: a small ReLU/sigmoid network learns to classify points.

The second example of the articles. Points are drawn uniformly from the square
[-1, 1] x [-1, 1] and labelled 1 when they lie above the line y = x. A network
with one hidden layer of four ReLU units and a sigmoid output is trained with
binary cross-entropy, then tested on fresh points it has never seen (it gets
about 99% right).

Run it: ``python examples/above_line.py``.
"""

from __future__ import annotations

import random
import sys
from typing import TextIO

import symnet as sn


def label(x: float, y: float) -> float:
    return 1.0 if y > x else 0.0


def make_points(n: int, rng: random.Random) -> list[tuple[list[float], float]]:
    points = []
    for _ in range(n):
        x, y = rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)
        points.append(([x, y], label(x, y)))
    return points


def build(hidden: int = 4) -> sn.Node:
    """Two inputs, ``hidden`` ReLU units, one sigmoid output."""
    return sn.MLP(2, [hidden, 1], activation="relu", output_activation="sigmoid")


def accuracy(net: sn.Network, points: list[tuple[list[float], float]]) -> float:
    right = sum((net.predict(xy) > 0.5) == (target == 1.0) for xy, target in points)
    return right / len(points)


def train(seed: int = 0, n_train: int = 400, epochs: tuple[int, int] = (30, 10),
          lr: tuple[float, float] = (0.1, 0.01), print_every: int | None = None,
          out: TextIO | None = None) -> tuple[sn.Network, list[float]]:
    """Build and train the classifier; returns the network and the per-epoch mean losses.

    Training runs in two phases, a larger learning rate then a smaller one: the
    second phase settles the boundary that per-sample SGD keeps nudging.
    """
    sn.seed(seed)
    model = build()
    data = make_points(n_train, random.Random(seed))
    losses: list[float] = []
    for phase, (n_epochs, rate) in enumerate(zip(epochs, lr)):
        if print_every:
            print(f"phase {phase + 1}: {n_epochs} epochs at lr={rate}", file=out or sys.stdout)
        losses += sn.train_model(model, "bce", data, epochs=n_epochs, lr=rate, print_every=print_every,
                                 shuffle=True, rng=random.Random(seed + 1 + phase), out=out)
    return model.compile(), losses


def main(out: TextIO = sys.stdout) -> None:
    net, _ = train(print_every=5, out=out)
    fresh = make_points(1000, random.Random(12345))
    print(f"accuracy on 1000 fresh points: {accuracy(net, fresh):.1%}", file=out)
    for xy in ([-0.5, 0.5], [0.5, -0.5], [0.2, 0.3], [0.3, 0.2]):
        print(f"point {xy}: P(above) = {net.predict(xy):.3f}", file=out)


if __name__ == "__main__":
    main()
