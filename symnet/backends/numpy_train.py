"""Training steps on the batched NumPy backend: loss and gradient sums of a batch."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .numpy_backend import batched

__all__ = ["NumpySteps"]


class NumpySteps:
    """``steps(indices, P) -> (loss_sum, grad_sum)`` over samples of a training set.

    ``rows`` holds every sample as a tuple of its loss graph's inputs and the key of
    that graph (see ``symnet.train``); the inputs of each graph are kept as one
    ``(n_inputs, n_samples)`` matrix, and a batch is a selection of its columns.

    >>> import symnet as sn
    >>> from symnet.train import LossGraph
    >>> from symnet.backends.steps import Rows
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> rows = Rows(LossGraph(w * x, "mse"), [([1.0], 0.0), ([2.0], 0.0)])
    >>> loss, grads = NumpySteps(rows)([0, 1], np.array([2.0]))
    >>> float(loss), grads.tolist()
    (20.0, [20.0])
    """

    def __init__(self, rows: Any) -> None:
        self.n = len(rows.rows)
        self.nets = {key: batched(net) for key, net in rows.nets.items()}
        keys = rows.keys
        self.column = [0] * self.n
        self.members: dict[Any, list[int]] = {key: [] for key in self.nets}
        for i, key in enumerate(keys):
            self.column[i] = len(self.members[key])
            self.members[key].append(i)
        self.keys = keys
        self.X = {key: np.ascontiguousarray(np.array([rows.rows[i] for i in idx], dtype=np.float64).T)
                  for key, idx in self.members.items()}
        self._ones: dict[int, Any] = {}
        self.single = len(self.nets) == 1

    def _seeds(self, b: int) -> Any:
        s = self._ones.get(b)
        if s is None:
            s = self._ones[b] = np.ones((1, b))
        return s

    def __call__(self, indices: Sequence[int], P: Any) -> tuple[float, Any]:
        if self.single:
            (key,) = self.nets
            groups = [(key, None if len(indices) == self.n else indices)]
        else:
            by_key: dict[Any, list[int]] = {}
            for i in indices:
                by_key.setdefault(self.keys[i], []).append(i)
            groups = [(k, None if len(v) == len(self.members[k]) else v) for k, v in by_key.items()]
        total, G = 0.0, None
        with np.errstate(all="ignore"):
            for key, idx in groups:
                X = self.X[key]
                if idx is not None:
                    X = X[:, [self.column[i] for i in idx]]
                b = X.shape[1]
                out, g = self.nets[key].raw_gradient(X, P, b, self._seeds(b))
                total += float(out[0].sum())
                G = g if G is None else G + g
        return total, G

    @staticmethod
    def load(values: Sequence[float]) -> Any:
        """The parameter values as the array the steps work on."""
        return np.array(values, dtype=np.float64)

    @staticmethod
    def update(values: Any, grads: Any, lr: float, n: int) -> Any:
        """``values - lr * (grads / n)`` (as :func:`symnet.train.sgd_step` computes it),
        or None if any new value is not finite."""
        with np.errstate(all="ignore"):
            new = values - lr * (grads / n)
        return new if np.isfinite(new).all() else None
