"""Training steps on the batched NumPy backend: the generated ``forward_vjp`` of each loss graph.

The parameters live between steps as the dict of arrays the generated code takes
(:meth:`symnet.network.Network.layer_parameters`), so a step is one call of the
same code :meth:`~symnet.network.Network.to_numpy` writes, plus one SGD update per
array.
"""

from __future__ import annotations

import math
from itertools import chain
from operator import is_
from typing import Any, Sequence

import numpy as np

from .numpy_backend import STRICT, batched

__all__ = ["NumpySteps", "Matrix", "plain_matrix", "steps_for"]

_SEQUENCES = frozenset({list, tuple})
_NUMBERS = frozenset({float, int})


class Matrix:
    """The samples of a training set as one float64 matrix per loss graph.

    ``blocks[key]`` is ``(M, members)``: ``M[r]`` holds the inputs of that loss graph
    (in its ``input_names`` order) for sample ``members[r]``; ``keys[i]`` is the key
    of sample ``i``'s graph and ``nets[key]`` the graph."""

    def __init__(self) -> None:
        self.blocks: dict[Any, tuple[Any, Sequence[int]]] = {}
        self.keys: list[Any] = []
        self.nets: dict[Any, Any] = {}
        #: filled in by the first user (:class:`symnet.backends.steps.Rows`) and kept with the memo
        self.uniform: bool | None = None
        self.op_nodes = 0
        self.steps: NumpySteps | None = None
        #: whether every loss network runs only symnet's own code (``symnet.train``), once known
        self.trusted: bool | None = None

    def rows(self) -> list[Any]:
        """Every sample's row as a list of floats, in data order."""
        out: list[Any] = [None] * len(self.keys)
        for M, members in self.blocks.values():
            for i, row in zip(members, M.tolist()):
                out[i] = row
        return out


def plain_matrix(graph: Any, data: Sequence[Any]) -> Matrix | int | None:
    """The samples checked all at once with NumPy and laid out as a :class:`Matrix`.

    Plain data is a list of ``(inputs, target)`` pairs (lists or tuples) whose inputs
    are lists or tuples of ``float``/``int`` of the model's input count, and whose
    target is a number (a class index ``int`` for cross-entropy, a list of numbers
    for a vector output). For anything else the result is None: the caller checks the
    samples one by one (dicts by name, NumPy scalars, wrong lengths, bools, strings).
    For plain data with a bad value (not finite, outside [0, 1] for BCE, a class out of
    range) the result is the index of the first bad sample, which the caller checks
    alone for the error message that names it.

    >>> import symnet as sn
    >>> from symnet.train import LossGraph
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> m = plain_matrix(LossGraph(w * x, "mse"), [([1.0], 0.5), ([2.0], 1.5)])
    >>> [M.tolist() for M, _ in m.blocks.values()]
    [[[1.0, 0.5], [2.0, 1.5]]]
    >>> plain_matrix(LossGraph(w * x, "mse"), [([1.0], 0.5), ([float("nan")], 1.5)])
    1
    """
    model = graph.model
    n, n_in, n_out = len(data), len(model.input_names), model.n_outputs
    memo = getattr(graph, "memo", None)
    if memo is not None and memo.same(data):
        return memo.matrix
    if not data or not set(map(type, data)) <= _SEQUENCES or set(map(len, data)) != {2}:
        return None
    xs, ts = zip(*data)
    if not set(map(type, xs)) <= _SEQUENCES or set(map(len, xs)) != {n_in}:
        return None
    values = [*chain.from_iterable(xs)]
    if not set(map(type, values)) <= _NUMBERS:
        return None
    found = _checked(graph, data, ts, values, n, n_in, n_out)
    if isinstance(found, Matrix) and hasattr(graph, "memo") and (n_out == 1 or graph.loss == "cross_entropy"):
        graph.memo = _Memo(data, xs, ts, values, found)
    return found


class _Memo:
    """The last plain data set laid out, and every object it was read from.

    A later call reuses the matrix only if the data hold the very same objects, item
    for item, input list for input list, number for number (``is``, not ``==``: an
    object that is the same number of another type, ``True`` for ``1.0``, is not the
    same). Lists read again each time, so changing a value in place is seen."""

    def __init__(self, data: Sequence[Any], xs: Sequence[Any], ts: Sequence[Any], values: list[Any],
                 matrix: Matrix) -> None:
        self.items, self.xs, self.ts, self.values, self.matrix = list(data), xs, ts, values, matrix
        self.n_in = len(xs[0])
        self.pairs_fixed = set(map(type, data)) == {tuple}  # tuples cannot change; lists can
        self.inputs_fixed = set(map(type, xs)) == {tuple}
        for M, _ in matrix.blocks.values():
            M.flags.writeable = False  # shared between calls: nothing may write to it

    def same(self, data: Sequence[Any]) -> bool:
        if len(data) != len(self.items) or not all(map(is_, data, self.items)):
            return False
        if self.pairs_fixed:  # the same tuples hold the same input lists and targets
            xs = self.xs
        else:
            if set(map(len, data)) != {2}:
                return False
            xs, ts = zip(*data)
            if not (all(map(is_, xs, self.xs)) and all(map(is_, ts, self.ts))):
                return False
        if self.inputs_fixed:
            return True
        return set(map(len, xs)) == {self.n_in} and all(map(is_, chain.from_iterable(xs), self.values))


def _checked(graph: Any, data: Sequence[Any], ts: Sequence[Any], values: list[Any], n: int, n_in: int,
             n_out: int) -> Matrix | int | None:
    """:func:`plain_matrix` once the inputs are known to be plain numbers."""
    model = graph.model
    ce = graph.loss == "cross_entropy"
    if ce:
        if set(map(type, ts)) != {int}:
            return None
    elif n_out == 1:
        if not set(map(type, ts)) <= _NUMBERS:
            return None
    else:
        if not set(map(type, ts)) <= _SEQUENCES or set(map(len, ts)) != {n_out}:
            return None
        ts = [*chain.from_iterable(ts)]
        if not set(map(type, ts)) <= _NUMBERS:
            return None
    try:
        X = np.fromiter(values, np.float64, n * n_in).reshape(n, n_in)
        T = np.fromiter(ts, np.int64 if ce else np.float64, len(ts)).reshape(n, -1)
    except (OverflowError, ValueError, TypeError):  # an int past the float range: checked one by one
        return None
    if ce:
        good = bool(((T >= 0) & (T < n_out)).all()) and bool(np.isfinite(X).all())
    else:
        M = np.empty((n, n_in + T.shape[1]))
        M[:, :n_in] = X
        M[:, n_in:] = T
        good = bool(np.isfinite(M).all())
        if good and graph.loss == "bce":
            good = bool(((T >= 0.0) & (T <= 1.0)).all())
    if not good:
        return _first_bad(X, T, graph.loss, n_out)
    out = Matrix()
    if ce:
        classes = T[:, 0]
        for c in np.unique(classes).tolist():
            net, _ = graph.network(c)
            members = np.flatnonzero(classes == c)
            key = id(net)
            out.nets[key] = net
            out.blocks[key] = (_columns(X[members], model.input_names, net.input_names), members.tolist())
        keys = {c: id(graph.network(c)[0]) for c in np.unique(classes).tolist()}
        out.keys = [keys[c] for c in classes.tolist()]
        return out
    net, _ = graph.network(data[0][1])
    key = id(net)
    out.nets[key] = net
    names = [*model.input_names, *(node.name for node in graph.targets)]
    out.blocks[key] = (_columns(M, names, net.input_names), range(n))
    out.keys = [key] * n
    return out


def _first_bad(X: Any, T: Any, loss: str, n_out: int) -> int:
    """The index of the first sample with a value :func:`plain_matrix` refuses."""
    ok = np.isfinite(X).all(axis=1)
    if loss == "cross_entropy":
        ok &= ((T >= 0) & (T < n_out)).all(axis=1)
    else:
        ok &= np.isfinite(T).all(axis=1)
        if loss == "bce":
            with np.errstate(invalid="ignore"):
                ok &= ((T >= 0.0) & (T <= 1.0)).all(axis=1)
    return int(np.flatnonzero(~ok)[0])


def _columns(M: Any, have: Sequence[str], want: Sequence[str]) -> Any:
    """``M``'s columns (named ``have``) in the order ``want``."""
    if list(have) == list(want):
        return M
    pos = {name: k for k, name in enumerate(have)}
    return M[:, [pos[name] for name in want]]


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
        self.n = len(rows.keys)
        self.nets = {key: batched(net) for key, net in rows.nets.items()}
        self.fns = {key: b.raw_forward_vjp for key, b in self.nets.items()}
        self.layout = next(iter(self.nets.values())).layout
        self.n_params = len(rows.graph.model.parameters)
        self.keys = keys = rows.keys
        matrix = rows.matrix
        if matrix is not None:
            self.members = {key: members for key, (_, members) in matrix.blocks.items()}
            self.X = {key: M for key, (M, _) in matrix.blocks.items()}
        else:
            self.members = {key: [] for key in self.nets}
            for i, key in enumerate(keys):
                self.members[key].append(i)
            self.X = {key: np.array([rows.rows[i] for i in idx], dtype=np.float64) for key, idx in self.members.items()}
        self._column: list[int] | None = None
        self._ones: dict[int, Any] = {}
        self._buffers: _Buffers | None = None
        self.single = len(self.nets) == 1
        self.uniform_layout = all(b.layout.keys == self.layout.keys for b in self.nets.values())

    @property
    def column(self) -> list[int]:
        """``column[i]``: the row of sample ``i`` in its graph's matrix."""
        if self._column is None:
            self._column = [0] * self.n
            for idx in self.members.values():
                for c, i in enumerate(idx):
                    self._column[i] = c
        return self._column

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

    def load(self, values: Sequence[float]) -> dict[str, Any]:
        """The parameter values as the dict of arrays the steps work on (views of one of
        two flat buffers, so that a step checks all new values with one ``isfinite``)."""
        if self._buffers is None:
            self._buffers = _Buffers.take(self.layout, self.n_params, next(iter(self.nets.values())).network)
        return self._buffers.load(values)

    #: ``load`` takes the values as :meth:`snapshot` made them (an array), not only floats
    arrays = True

    def flat(self, values: dict[str, Any]) -> tuple[float, ...]:
        """The values back in the model's parameter order."""
        return tuple(self.snapshot(values).tolist())

    def snapshot(self, values: dict[str, Any]) -> Any:
        """The values in the model's parameter order, as a new read-only float64 array
        (a later step does not change it)."""
        if self._buffers is not None and self._buffers.owns(values):
            out = self._buffers.snapshot(values)
        else:
            out = np.array(self.layout.flat(values, self.n_params), dtype=np.float64)
        out.flags.writeable = False
        return out

    def release(self) -> None:
        """Give the buffers back to the cache (the next training call reuses them)."""
        if self._buffers is not None:
            self._buffers.busy = False
            self._buffers = None

    def release_keeping(self, values: Any, views: dict[str, Any]) -> None:
        """:meth:`release`, noting that ``views`` hold ``values`` (the next load of that
        very tuple then copies nothing)."""
        if self._buffers is not None:
            self._buffers.last = (values, views)
        self.release()

    def update(self, values: dict[str, Any], grads: dict[str, Any], lr: float, n: int) -> dict[str, Any] | None:
        """``values - lr * (grads / n)`` per array (as :func:`symnet.train.sgd_step`
        computes it) in the other buffer, or None if any new value is not finite."""
        flat, views = self._buffers.other(values)
        with np.errstate(all="ignore"):
            for k, v in values.items():
                t = grads[k] / n
                t *= lr
                np.subtract(v, t, out=views[k])
            if not np.isfinite(flat).all():
                return None
        return views


def steps_for(rows: Any) -> NumpySteps:
    """The :class:`NumpySteps` of ``rows``: the one made for the same (memoized) matrix
    last time when it is not in use, else a new one."""
    matrix = rows.matrix
    if matrix is not None and matrix.steps is not None and matrix.steps._buffers is None:
        return matrix.steps
    steps = NumpySteps(rows)
    if matrix is not None:
        matrix.steps = steps
    return steps


class _Buffers:
    """Two flat float64 buffers laid out as the generated code's parameter arrays (each
    array a view of a slice), and the permutation between that layout and the model's
    parameter order. Kept on the loss network, so a second training call reuses them;
    a call that finds them in use (training inside training) makes its own."""

    def __init__(self, layout: Any, n_params: int) -> None:
        shapes = [(k, np.shape(ix)) for k, ix in layout.index.items()]
        self.size = sum(math.prod(shape) for _, shape in shapes)
        self.pairs = []
        for _ in range(2):
            flat = np.empty(self.size)
            views, start = {}, 0
            for key, shape in shapes:
                n = math.prod(shape)
                views[key] = flat[start:start + n].reshape(shape)
                start += n
            self.pairs.append((flat, views))
        perm = np.concatenate([np.ravel(ix) for ix in layout.index.values()]) if shapes else np.zeros(0, np.intp)
        self.perm = perm.astype(np.intp)
        self.full = self.size == n_params and len(set(self.perm.tolist())) == n_params
        self.inverse = np.argsort(self.perm) if self.full else None
        self.layout, self.n_params = layout, n_params
        self.busy = False
        #: (a tuple of values in the model's order, the views that hold them), from the last release
        self.last: tuple[Any, Any] = ((), None)

    @classmethod
    def take(cls, layout: Any, n_params: int, network: Any) -> _Buffers:
        cached = network._compiled.get("numpy_buffers")
        if cached is None or cached.busy or cached.layout is not layout or cached.n_params != n_params:
            cached = cls(layout, n_params)
            if "numpy_buffers" not in network._compiled:
                network._compiled["numpy_buffers"] = cached
        cached.busy = True
        return cached

    def owns(self, views: Any) -> bool:
        return views is self.pairs[0][1] or views is self.pairs[1][1]

    def other(self, views: Any) -> tuple[Any, dict[str, Any]]:
        return self.pairs[1] if views is self.pairs[0][1] else self.pairs[0]

    def load(self, values: Sequence[float]) -> dict[str, Any]:
        last, self.last = self.last, ((), None)  # from here on the buffers change
        if values is last[0]:
            return last[1]
        flat, views = self.pairs[0]
        if self.full:
            np.take(np.asarray(values, dtype=np.float64), self.perm, out=flat)
        else:
            for key, arr in self.layout.arrays(values).items():
                views[key][...] = arr
        return views

    def snapshot(self, views: dict[str, Any]) -> Any:
        """The values the views hold, in the model's order (a new array)."""
        if not self.full:
            return np.array(self.layout.flat(views, self.n_params), dtype=np.float64)
        flat = self.pairs[0][0] if views is self.pairs[0][1] else self.pairs[1][0]
        return flat[self.inverse]
