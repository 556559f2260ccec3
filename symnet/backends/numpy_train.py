"""Training steps on the batched NumPy backend: the generated ``forward_vjp`` of each loss graph.

The parameters live between steps as the dict of arrays the generated code takes
(:meth:`symnet.network.Network.layer_parameters`), so a step is one call of the
same code :meth:`~symnet.network.Network.to_numpy` writes, plus one SGD update per
array.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .numpy_backend import STRICT, batched

__all__ = ["NumpySteps"]


class NumpySteps:
    """``steps(indices, P) -> (loss_sum, grads)`` over samples of a training set.

    ``rows`` holds every sample as a tuple of its loss graph's inputs and the key of
    that graph (see ``symnet.train``); the inputs of each graph are kept as one
    ``(n_samples, n_inputs)`` matrix, and a batch is a selection of its rows.

    >>> import symnet as sn
    >>> from symnet.train import LossGraph
    >>> from symnet.backends.steps import Rows
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> rows = Rows(LossGraph(w * x, "mse"), [([1.0], 0.0), ([2.0], 0.0)])
    >>> steps = NumpySteps(rows)
    >>> loss, grads = steps([0, 1], steps.load([2.0]))
    >>> float(loss), float(grads["w"])
    (20.0, 20.0)
    """

    def __init__(self, rows: Any) -> None:
        self.n = len(rows.rows)
        self.nets = {key: batched(net) for key, net in rows.nets.items()}
        self.fns = {key: b.raw_forward_vjp for key, b in self.nets.items()}
        self.layout = next(iter(self.nets.values())).layout
        self.n_params = len(rows.graph.model.parameters)
        keys = rows.keys
        self.column = [0] * self.n
        self.members: dict[Any, list[int]] = {key: [] for key in self.nets}
        for i, key in enumerate(keys):
            self.column[i] = len(self.members[key])
            self.members[key].append(i)
        self.keys = keys
        self.X = {key: np.array([rows.rows[i] for i in idx], dtype=np.float64) for key, idx in self.members.items()}
        self._ones: dict[int, Any] = {}
        self.single = len(self.nets) == 1
        self.uniform_layout = all(b.layout.keys == self.layout.keys for b in self.nets.values())

    def _seeds(self, b: int) -> Any:
        s = self._ones.get(b)
        if s is None:
            s = self._ones[b] = np.ones((b, 1))
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
        with np.errstate(**STRICT):  # a failure raises; the trainer then redoes the step interpreted
            for key, idx in groups:
                X = self.X[key]
                if idx is not None:
                    X = X[[self.column[i] for i in idx]]
                params = P if self.uniform_layout else self.nets[key].layout.arrays(self.flat(P))
                out, g = self.fns[key](X, params, self._seeds(X.shape[0]))
                if not self.uniform_layout:
                    g = self.layout.arrays(self.nets[key].layout.flat(g, self.n_params))
                total += float(out.sum())
                G = g if G is None else {k: G[k] + g[k] for k in G}
        return total, G

    def _buffer(self) -> tuple[Any, dict[str, Any]]:
        """One flat array and the dict of its views, shaped as the generated code takes them."""
        shapes = [(k, np.shape(ix)) for k, ix in self.layout.index.items()]
        flat = np.empty(sum(math.prod(shape) for _, shape in shapes))
        views, start = {}, 0
        for key, shape in shapes:
            size = math.prod(shape)
            views[key] = flat[start:start + size].reshape(shape)
            start += size
        return flat, views

    def load(self, values: Sequence[float]) -> dict[str, Any]:
        """The parameter values as the dict of arrays the steps work on (views of one of
        two flat buffers, so that a step checks all new values with one ``isfinite``)."""
        if not hasattr(self, "_buffers"):
            self._buffers = [self._buffer(), self._buffer()]
        flat, views = self._buffers[0]
        for key, arr in self.layout.arrays(values).items():
            views[key][...] = arr
        return views

    def flat(self, values: dict[str, Any]) -> list[float]:
        """The values back in the model's parameter order."""
        return [float(v) for v in self.layout.flat(values, self.n_params)]

    def update(self, values: dict[str, Any], grads: dict[str, Any], lr: float, n: int) -> dict[str, Any] | None:
        """``values - lr * (grads / n)`` per array (as :func:`symnet.train.sgd_step`
        computes it) in the other buffer, or None if any new value is not finite."""
        flat, views = self._buffers[1] if self._buffers[0][1] is values else self._buffers[0]
        with np.errstate(all="ignore"):
            for k, v in values.items():
                t = grads[k] / n
                t *= lr
                np.subtract(v, t, out=views[k])
            if not np.isfinite(flat).all():
                return None
        return views
