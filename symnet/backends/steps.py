"""Compiled training steps: generated Python per loss graph, and the trainer that keeps
the parameter values flat between steps (see :mod:`symnet.train`, which makes them).

A step computes the summed loss and gradient of a batch on a compiled path and
updates the values as :func:`symnet.train.sgd_step` would. If anything goes wrong
(an exception, a non-finite number), the step is handed to the interpreted trainer,
so errors, and the values the parameters keep, are exactly the interpreted ones.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

from ..emit.python_load import load
from ..emit.python_train import accumulate_source
from ..network import Network

__all__ = ["Rows", "ListUpdate", "PythonSteps", "Compiled", "PairPython"]


_NUMPY_ROWS: list[Any] = []


def _plain_matrix() -> Callable[..., Any] | None:
    """:func:`symnet.backends.numpy_train.plain_matrix`, or None without NumPy (looked up once)."""
    if not _NUMPY_ROWS:
        try:
            from .numpy_train import plain_matrix
        except ImportError:
            plain_matrix = None
        _NUMPY_ROWS.append(plain_matrix)
    return _NUMPY_ROWS[0]


class Rows:
    """Every sample as a tuple of the loss graph's input values, with the key of the
    loss graph it needs (one graph, or one per class for cross-entropy). ``uniform``
    is False when some loss graph does not use exactly the model's parameters (a
    cross-entropy on outputs that are not a softmax); compiled steps need it True.

    >>> import symnet as sn
    >>> from symnet.train import LossGraph
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> rows = Rows(LossGraph(w * x, "mse"), [([1.0], 0.5), ([2.0], 1.5)])
    >>> rows.rows, rows.uniform
    ([(1.0, 0.5), (2.0, 1.5)], True)
    """

    def __init__(self, graph: Any, data: Sequence[tuple[Any, Any]], check: Callable[[int], None] | None = None,
                 matrix: bool = False, pairs: Callable[[], None] | None = None) -> None:
        self.graph = graph
        self.keys: list[Any] = []
        self._rows: list[Any] | None = []
        self.nets: dict[Any, Network] = {}
        #: the samples as NumPy matrices (see :func:`symnet.backends.numpy_train.plain_matrix`), when made
        self.matrix: Any = None
        #: whether every sample was a plain list of numbers (no user object was read)
        self.plain = True
        self.uniform = True
        if matrix and self._matrix(graph, data, check):
            return  # every item was an (inputs, target) pair
        params = list(graph.model.parameters)
        if pairs is not None:
            pairs()
        if self._plain(graph, data):
            return
        self.plain = False
        if check is not None:
            check(0)  # each sample in turn: raises the error that names the first bad one
        for x, t in data:
            net, tvals = graph.network(t)
            key = id(net)  # one key per loss graph
            if key not in self.nets:
                self.uniform = self.uniform and list(net.parameters) == params
                self.nets[key] = net
            feed = graph.inputs_for(net, x, tvals)
            self.keys.append(key)
            self._rows.append(tuple(feed[name] for name in net.input_names))
        self.op_nodes = max(len(n.program.op_indices) for n in self.nets.values())

    @property
    def rows(self) -> list[Any]:
        """Every sample as a sequence of its loss graph's input values, in data order."""
        if self._rows is None:
            self._rows = self.matrix.rows()
        return self._rows

    def _matrix(self, graph: Any, data: Sequence[tuple[Any, Any]], check: Callable[[int], None] | None) -> bool:
        """Plain data checked and laid out with NumPy at once (when NumPy is installed)."""
        plain_matrix = _plain_matrix()
        if plain_matrix is None:
            return False
        found = plain_matrix(graph, data)
        if isinstance(found, int):  # the data are pairs, with a bad value in that one
            if check is not None:
                check(found)  # raises the error naming that sample
            return False
        if found is None:
            return False
        self.matrix = found
        self.nets = found.nets
        self.keys = found.keys
        self._rows = None
        if found.uniform is None:
            params = list(graph.model.parameters)
            found.uniform = all(list(net.parameters) == params for net in self.nets.values())
            found.op_nodes = max(len(n.program.op_indices) for n in self.nets.values())
        self.uniform, self.op_nodes = found.uniform, found.op_nodes
        return True

    def _plain(self, graph: Any, data: Sequence[tuple[Any, Any]]) -> bool:
        """The common case at list speed: a loss with one graph (not cross-entropy), every
        sample a list or tuple of finite floats and a finite float target (in [0, 1] for
        bce). Anything else (names, ints, bad values) goes through the checks one by one."""
        if graph.loss == "cross_entropy" or not data or graph.model.n_outputs != 1:
            return False
        n_in = len(graph.model.input_names)
        rows = []
        isfinite = math.isfinite
        for item in data:
            x, t = item
            if type(t) is not float or type(x) not in (list, tuple) or len(x) != n_in or not isfinite(t):
                return False
            for v in x:
                if type(v) is not float or not isfinite(v):
                    return False
            rows.append((*x, t))
        if graph.loss == "bce" and not all(0.0 <= r[-1] <= 1.0 for r in rows):
            return False
        net, _ = graph.network(data[0][1])
        order = [*graph.model.input_names, *(node.name for node in graph.targets)]
        if list(net.input_names) != order:
            pos = {name: k for k, name in enumerate(order)}
            perm = [pos[name] for name in net.input_names]
            rows = [tuple(r[k] for k in perm) for r in rows]
        key = id(net)
        self.nets[key] = net
        self.uniform = list(net.parameters) == list(graph.model.parameters)
        self.keys = [key] * len(rows)
        self._rows = rows
        self.op_nodes = len(net.program.op_indices)
        return True

    def runs(self, indices: Sequence[int]) -> list[tuple[Any, list[int]]]:
        """The indices cut into runs of samples that share a loss graph, in order."""
        out: list[tuple[Any, list[int]]] = []
        keys = self.keys
        for i in indices:
            if out and out[-1][0] == keys[i]:
                out[-1][1].append(i)
            else:
                out.append((keys[i], [i]))
        return out


class ListUpdate:
    """Parameter values as a list of floats, updated as :func:`sgd_step` updates them."""

    @staticmethod
    def load(values: Sequence[float]) -> list[float]:
        return list(values)

    @staticmethod
    def update(values: Sequence[float], grads: Sequence[float], lr: float, n: int) -> list[float] | None:
        """The new values, or None if any is not finite (the sum of finite floats can only
        overflow, which at worst sends a good step to the interpreted engine)."""
        new = [v - lr * (g / n) for v, g in zip(values, grads)]
        return new if math.isfinite(sum(new)) else None


class PythonSteps(ListUpdate):
    """Loss and gradient sums from the generated ``accumulate`` function of each loss graph:
    the same operations, in the same order, as the interpreted trainer."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.fns: dict[Any, Callable[..., tuple[float, ...]]] = {}
        for key, net in rows.nets.items():
            fn = net._compiled.get("accumulate")
            if fn is None:
                src, env = accumulate_source(net.program)
                fn = net._compiled["accumulate"] = load(src, env, "train")["accumulate"]
            self.fns[key] = fn
        self.zero = (0.0,) * (len(rows.graph.model.parameters) + 1)

    def __call__(self, indices: Sequence[int], params: Sequence[float]) -> tuple[float, Sequence[float]]:
        acc = self.zero
        rows = self.rows.rows
        for key, run in self.rows.runs(indices):
            acc = self.fns[key]([rows[i] for i in run], params, acc)
        return acc[0], acc[1:]


class Compiled:
    """A trainer over a compiled path: parameter values live in a flat list (or array)
    between steps; a step with a non-finite number or a failure is re-run by the
    interpreted trainer, which raises exactly what it would have raised.

    ``steps(indices, values) -> (loss_sum, grad_sums)`` computes, ``steps.load`` and
    ``steps.update`` hold and update the values. ``interpreted`` is the interpreted
    trainer, or a function that makes it (it is only needed when a step goes wrong)."""

    def __init__(self, interpreted: Any, store: Any, steps: Any) -> None:
        self._interpreted = interpreted if hasattr(interpreted, "step") else None
        self._make = None if self._interpreted is not None else interpreted
        self.store = store
        self.steps = steps
        self.values: Any = None
        self._load()

    @property
    def interpreted(self) -> Any:
        if self._interpreted is None:
            self._interpreted = self._make()
        return self._interpreted

    def _load(self) -> None:
        self.values = self.steps.load(self.store.raw() if getattr(self.steps, "arrays", False) else self.store.values)

    def _sync(self) -> None:
        flat = getattr(self.steps, "flat", None)
        self.store.values = list(self.values) if flat is None else flat(self.values)

    def finish(self) -> None:
        """Make the store's values current (and let the steps' buffers go; a later step
        loads the values again)."""
        if self.values is None:
            return
        snapshot = getattr(self.steps, "snapshot", None)
        if snapshot is None:
            self._sync()
            return
        self.store.values = kept = snapshot(self.values)  # read as floats only if needed
        self.steps.release_keeping(kept, self.values)
        self.values = None

    def step(self, indices: Sequence[int], lr: float, step: int, epoch: int) -> float:
        if self.values is None:
            self._load()
        try:
            loss_sum, grads = self.steps(indices, self.values)
        except (ArithmeticError, ValueError, TypeError):  # the interpreted re-run names the cause
            loss_sum, grads = math.nan, None
        if math.isfinite(loss_sum):
            new = self.steps.update(self.values, grads, lr, len(indices))
            if new is not None:
                self.values = new
                return float(loss_sum)
        # something went wrong: let the interpreted trainer redo this step from here
        self._sync()
        loss_sum = self.interpreted.step(indices, lr, step, epoch)
        self._load()
        return loss_sum


class _PairSteps(ListUpdate):
    def __init__(self, fn: Callable[..., tuple[float, list[float]]]) -> None:
        self.fn = fn

    def __call__(self, indices: Sequence[int], params: Sequence[float]) -> tuple[float, list[float]]:
        return self.fn(indices, params)


class PairPython:
    """The articles' ``(loss_fn, loss_grad_fn)`` form on generated code: per sample, the
    forward pass, the user's functions, then the gradient seeded with their result."""

    def __init__(self, interpreted: Any, net: Network, pair: tuple[Any, ...], data: Sequence[tuple[Any, Any]]) -> None:
        self.net = net
        self.fns = self.net.codegen()
        self.pair = pair
        self.data = data
        self.inputs = [self.net.input_values(x) for x, _ in data]
        self.compiled = Compiled(interpreted, interpreted.store, _PairSteps(self._steps))

    def _steps(self, indices: Sequence[int], params: Sequence[float]) -> tuple[float, list[float]]:
        loss_fn, loss_grad_fn = self.pair
        vector = self.net.program.vector
        n_params = len(params)
        grads = [0.0] * n_params
        total = 0.0
        for i in indices:
            outs = self.fns.raw_forward(self.inputs[i], params)
            pred = list(outs) if vector else outs[0]
            t = self.data[i][1]
            total += float(loss_fn(pred, t))
            g = loss_grad_fn(pred, t)
            self.net._seeds(None, g)  # validates the seed's shape as the engine does
            seeds = tuple(float(v) for v in g) if vector else (float(g),)
            _, gs = self.fns.raw_gradient(self.inputs[i], params, seeds)
            for k in range(n_params):
                grads[k] += gs[k]
        return total, grads

    def step(self, indices: Sequence[int], lr: float, step: int, epoch: int) -> float:
        return self.compiled.step(indices, lr, step, epoch)

    def finish(self) -> None:
        self.compiled.finish()
