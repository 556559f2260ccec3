"""The data side of ``train_model``: the model's loss graphs and the checks of its
arguments and samples (:mod:`symnet.train` runs the loop).

:class:`LossGraph` puts a named loss on the model (:func:`symnet.losses.attach_loss`)
and compiles it once per target shape; :func:`loss_graph` keeps it on the compiled
model, so a later call reuses the loss networks and their generated code.
:func:`check_config` checks ``epochs``, ``lr``, ``print_every`` and ``batch_size``;
:func:`check_pairs` and :func:`check_samples` check the samples one by one, naming
the first bad item (plain data is checked all at once by
:func:`symnet.backends.numpy_train.plain_matrix` first).

>>> import symnet as sn
>>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
>>> net, targets = LossGraph(w * x, "mse").network(0.5)
>>> net.input_names, targets
(['x', 'y'], [0.5])
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .errors import InputError, SymnetError, shown
from .graph import Node
from .losses import attach_loss, loss_by_name
from .network import Network, compile as compile_graph, finite_value

__all__ = ["LossGraph", "loss_graph", "model_network", "model_root", "target_values", "Config", "check_config",
           "batches", "check_pairs", "check_samples"]


def model_network(model: Any) -> Network:
    if isinstance(model, Network):
        return model
    if isinstance(model, Node):
        return model.compile()
    raise InputError(f"model must be a node or a compiled Network, got {type(model).__name__}")


def model_root(model: Any) -> Any:
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
        loss_by_name(loss, "train_model")
        self.root = model_root(model)
        self.loss = loss
        self.model = model_network(model)
        self._nets: dict[Any, Network] = {}
        self.targets: tuple[Node, ...] = ()
        #: the last plain data set laid out for NumPy (see symnet.backends.numpy_train.plain_matrix)
        self.memo: Any = None

    def network(self, target: Any) -> tuple[Network, list[float]]:
        """The compiled loss graph for this target and the target's input values."""
        n_out = self.model.n_outputs
        if self.loss == "cross_entropy":
            if isinstance(target, bool) or not isinstance(target, numbers.Integral):
                raise InputError(f"cross_entropy: target must be a class index, got {shown(target)}")
            key: Any = int(target)
            tvals: list[float] = []
        else:
            tvals = target_values(target, n_out)
            key = "y"
        net = self._nets.get(key)
        if net is None:
            if self.loss == "cross_entropy":
                node = attach_loss(self.root, self.loss, key).node
            else:
                att = attach_loss(self.root, self.loss, taken=[n for n in self.model.program.names if n])
                self.targets = att.targets
                node = att.node
            net = compile_graph(node)
            self._nets[key] = net
        return net, tvals

    def inputs_for(self, net: Network, x: Any, tvals: Sequence[float]) -> dict[str, float]:
        names = self.model.input_names
        xs = self.model.input_values(x)
        feed = dict(zip(names, xs))
        for node, v in zip(self.targets, tvals):
            feed[node.name] = v  # the target's name: y, or the first free one (attach_loss)
        if self.loss == "bce" and not all(0.0 <= v <= 1.0 for v in tvals):
            raise InputError(f"bce: targets must lie in [0, 1], got {list(tvals)}")
        return feed


def target_values(target: Any, n_out: int) -> list[float]:
    vals = list(target) if isinstance(target, (list, tuple)) else [target]
    if len(vals) != n_out:
        raise InputError(f"target {shown(target)} has {len(vals)} value(s) for {n_out} output(s)")
    return [finite_value(v, "target") for v in vals]


@dataclass(frozen=True)
class Config:
    epochs: int
    lr: float
    print_every: int | None
    batch_size: int | None


def check_config(epochs: Any, lr: Any, print_every: Any, batch_size: Any) -> Config:
    if (type(epochs) is int and epochs >= 0 and type(lr) is float and 0.0 < lr < math.inf and print_every is None
            and (batch_size is None or type(batch_size) is int and batch_size >= 1)):
        return Config(epochs, lr, None, batch_size)  # the common case, without the general checks below
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise InputError(f"epochs must be a non-negative integer, got {shown(epochs)}")
    lr = finite_value(lr, "lr", InputError)
    if lr <= 0:
        raise InputError(f"lr must be a finite positive number, got {lr!r}")
    if print_every is not None and (not isinstance(print_every, numbers.Integral) or print_every < 1):
        raise InputError(f"print_every must be a positive integer or None, got {shown(print_every)}")
    if batch_size is not None and (not isinstance(batch_size, numbers.Integral) or batch_size < 1):
        raise InputError(f"batch_size must be a positive integer or None, got {shown(batch_size)}")
    return Config(int(epochs), float(lr), print_every, batch_size)


def batches(n: int, size: int | None) -> Iterable[range]:
    size = n if size is None else size
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


PAIRS = frozenset({list, tuple})


def check_pairs(data: Sequence[Any]) -> None:
    """Every item of ``data`` is an ``(inputs, target)`` pair, or InputError names the first that is not."""
    if set(map(type, data)) <= PAIRS and set(map(len, data)) == {2}:
        return
    for k, item in enumerate(data):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(f"train_model: data item {k} must be an (inputs, target) pair, got {shown(item, 60)}")


def check_samples(graph: LossGraph | None, net: Network, data: Sequence[tuple[Any, Any]], start: int) -> None:
    """:func:`check_data` from item ``start`` on."""
    for k in range(start, len(data)):
        x, t = data[k]
        try:
            if graph is None:
                net.input_values(x)
            else:
                loss_net, tvals = graph.network(t)
                graph.inputs_for(loss_net, x, tvals)
        except SymnetError as exc:
            raise type(exc)(f"train_model: data item {k}: {exc}; nothing was trained") from None


def loss_graph(model: Any, loss: str) -> LossGraph:
    """The model's :class:`LossGraph` for a named loss, cached on the compiled model so
    that training again reuses the compiled (and generated) loss networks."""
    net = model_network(model)
    key = ("loss", loss)
    graph = net._compiled.get(key) if isinstance(loss, str) else None
    if graph is None:
        graph = LossGraph(model, loss)
        net._compiled[key] = graph
    return graph
