"""Training: SGD over a loss graph, and train_model, the loop of the articles.

``train_model(model, loss, data, epochs=..., lr=..., print_every=...)`` takes a
loss name (``"mse"``, ``"bce"``, ``"cross_entropy"``) or the articles' pair of
callables ``(loss_fn, loss_grad_fn)``, and returns the mean loss of every epoch.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence, TextIO

from . import engine
from .compile import compile as compile_graph
from .errors import InputError, NumericalError
from .graph import Input, Node
from .losses import bce, cross_entropy, mse
from .network import Network

__all__ = ["train_model", "sgd_step", "LossGraph", "LOSSES"]

LOSSES: dict[str, Callable[[Any, Any], Node]] = {"mse": mse, "bce": bce, "cross_entropy": cross_entropy}


def _model_root(model: Any) -> Any:
    if isinstance(model, Network):
        return model.root
    if isinstance(model, Node):
        return model
    raise InputError(f"model must be a node or a compiled Network, got {type(model).__name__}")


class LossGraph:
    """The model with a named loss on top, compiled once per target shape.

    For ``mse`` and ``bce`` the target is an input (``y``, or ``y1 .. yk`` for a
    vector output); for ``cross_entropy`` the class index is part of the graph, so
    one graph is compiled per class that occurs.
    """

    def __init__(self, model: Any, loss: str) -> None:
        if loss not in LOSSES:
            raise InputError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        self.root = _model_root(model)
        self.loss = loss
        self.model = self.root.compile() if isinstance(self.root, Node) else compile_graph(self.root)
        self._nets: dict[Any, Network] = {}
        self.targets: list[Input] = []

    def network(self, target: Any) -> tuple[Network, list[float]]:
        """The compiled loss graph for this target and the target's input values."""
        n_out = self.model.n_outputs
        if self.loss == "cross_entropy":
            if isinstance(target, bool) or not isinstance(target, numbers.Integral):
                raise InputError(f"cross_entropy: target must be a class index, got {target!r}")
            key: Any = int(target)
            tvals: list[float] = []
        else:
            tvals = _target_values(target, n_out)
            key = "y"
        net = self._nets.get(key)
        if net is None:
            root = self.root
            if self.loss == "cross_entropy":
                node = cross_entropy(root, key)
            else:
                if not self.targets:
                    self.targets = [Input("y")] if n_out == 1 else [Input(f"y{k}") for k in range(1, n_out + 1)]
                tgt = self.targets[0] if n_out == 1 else list(self.targets)
                node = LOSSES[self.loss](root, tgt)
            net = compile_graph(node)
            self._nets[key] = net
        return net, tvals

    def inputs_for(self, net: Network, x: Any, tvals: Sequence[float]) -> dict[str, float]:
        names = self.model.input_names
        xs = self.model.input_values(x)
        feed = dict(zip(names, xs))
        for node, v in zip(self.targets, tvals):
            feed[node.name] = v
        if self.loss == "bce" and not all(0.0 <= v <= 1.0 for v in tvals):
            raise InputError(f"bce: targets must lie in [0, 1], got {list(tvals)}")
        return feed


def _target_values(target: Any, n_out: int) -> list[float]:
    vals = list(target) if isinstance(target, (list, tuple)) else [target]
    if len(vals) != n_out:
        raise InputError(f"target {target!r} has {len(vals)} value(s) for {n_out} output(s)")
    out = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise InputError(f"target {v!r} is not a finite number")
        out.append(float(v))
    return out


def sgd_step(parameters: Sequence[Node], grads: Sequence[float], lr: float, step: int = 0) -> None:
    """``p.value -= lr * g`` for every parameter; refuses (and changes nothing) if any
    gradient or new value would be non-finite."""
    new = []
    for p, g in zip(parameters, grads):
        v = p._value - lr * g
        if not (math.isfinite(g) and math.isfinite(v)):
            raise NumericalError(f"training diverged: non-finite gradient or value for parameter '{p.name}' "
                                 f"at step {step} (gradient {g!r}); parameters keep their last finite values")
        new.append(v)
    for p, v in zip(parameters, new):
        p.value = v


@dataclass(frozen=True)
class _Config:
    epochs: int
    lr: float
    print_every: int | None
    batch_size: int | None


def _check_config(epochs: Any, lr: Any, print_every: Any, batch_size: Any) -> _Config:
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise InputError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise InputError(f"lr must be a finite positive number, got {lr!r}")
    if print_every is not None and (not isinstance(print_every, numbers.Integral) or print_every < 1):
        raise InputError(f"print_every must be a positive integer or None, got {print_every!r}")
    if batch_size is not None and (not isinstance(batch_size, numbers.Integral) or batch_size < 1):
        raise InputError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    return _Config(int(epochs), float(lr), print_every, batch_size)


def _batches(n: int, size: int | None) -> Iterable[range]:
    size = n if size is None else size
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def train_model(model: Any, loss: Any, data: Sequence[tuple[Any, Any]], epochs: int = 100, lr: float = 0.01,
                print_every: int | None = None, *, batch_size: int | None = 1, shuffle: bool = False,
                rng: random.Random | None = None, engine: str = "interpreted",
                out: TextIO | None = None) -> list[float]:
    """Train the model's parameters by SGD and return the mean loss of each epoch.

    ``data`` is a list of ``(inputs, target)`` pairs; inputs as for ``predict``. Each
    batch (``batch_size`` samples; ``None`` = the whole data set) makes one update
    with the mean gradient. Every ``print_every`` epochs the mean loss is printed.

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.0, name="w"), sn.Parameter(0.0, name="b")
    >>> data = [([v], 2 * v + 1) for v in (-1.0, 0.0, 1.0, 2.0)]
    >>> losses = sn.train_model(w * x + b, "mse", data, epochs=300, lr=0.05)
    >>> round(w.value, 3), round(b.value, 3)
    (2.0, 1.0)
    """
    cfg = _check_config(epochs, lr, print_every, batch_size)
    data = list(data)
    if not data:
        raise InputError("train_model: data is empty")
    for k, item in enumerate(data):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(f"train_model: data item {k} must be an (inputs, target) pair, got {item!r:.60}")
    step_fn = _pair_step(model, loss) if isinstance(loss, tuple) else _graph_step(model, loss)
    out = sys.stdout if out is None else out
    order = list(range(len(data)))
    history: list[float] = []
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        if shuffle:
            (rng or random.Random(epoch)).shuffle(order)
        total = 0.0
        for batch in _batches(len(order), cfg.batch_size):
            loss_sum, params, grads = step_fn([data[order[i]] for i in batch])
            step += 1
            if not math.isfinite(loss_sum):
                raise NumericalError(f"training diverged: non-finite loss at step {step} (epoch {epoch}); "
                                     "parameters keep their last finite values")
            sgd_step(params, [g / len(batch) for g in grads], cfg.lr, step)
            total += loss_sum
        history.append(total / len(data))
        if cfg.print_every and epoch % cfg.print_every == 0:
            print(f"epoch {epoch:>5}  mean loss {history[-1]:.6g}", file=out)
    return history


StepFn = Callable[[list[tuple[Any, Any]]], tuple[float, list[Node], list[float]]]


def _graph_step(model: Any, loss: str) -> StepFn:
    graph = LossGraph(model, loss)
    params = graph.model.parameters

    def step(batch: list[tuple[Any, Any]]) -> tuple[float, list[Node], list[float]]:
        grads = {id(p): 0.0 for p in params}
        total = 0.0
        for x, t in batch:
            net, tvals = graph.network(t)
            vals = net.forward_values(graph.inputs_for(net, x, tvals))
            root = net.program.outputs[0]
            total += vals[root]
            adj = engine.backward(net.program, vals, {root: 1.0})
            for i in net.program.parameters:
                key = id(net.program.nodes[i])
                if key in grads:
                    grads[key] += adj[i]
        return total, params, [grads[id(p)] for p in params]

    return step


def _pair_step(model: Any, pair: tuple[Any, ...]) -> StepFn:
    if len(pair) != 2 or not all(callable(f) for f in pair):
        raise InputError("loss must be a name or a (loss_fn, loss_grad_fn) pair of callables")
    loss_fn, loss_grad_fn = pair
    root = _model_root(model)
    net = root.compile() if isinstance(root, Node) else compile_graph(root)
    p = net.program

    def step(batch: list[tuple[Any, Any]]) -> tuple[float, list[Node], list[float]]:
        grads = [0.0] * len(p.parameters)
        total = 0.0
        for x, t in batch:
            vals = net.forward_values(x)
            outs = [vals[i] for i in p.outputs]
            pred = outs if p.vector else outs[0]
            total += float(loss_fn(pred, t))
            g = loss_grad_fn(pred, t)
            adj = engine.backward(p, vals, net._seeds(None, g))
            for k, i in enumerate(p.parameters):
                grads[k] += adj[i]
        return total, net.parameters, grads

    return step
