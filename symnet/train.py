"""Training: SGD over a loss graph, and train_model, the loop of the articles.

``train_model(model, loss, data, epochs=..., lr=..., print_every=...)`` takes a
loss name (``"mse"``, ``"bce"``, ``"cross_entropy"``) or the articles' pair of
callables ``(loss_fn, loss_grad_fn)``, and returns the mean loss of every epoch.

Engines (``engine=``): ``"interpreted"`` walks the compiled graph with the scalar
engine; ``"python"`` runs generated straight-line code (bit for bit the same
updates); ``"numpy"`` runs the batched NumPy backend (the same to rounding);
``"auto"`` picks the fastest that is available. The compiled engines keep the
parameter values in a flat list between steps and write them back to the
parameters' ``.value`` when training ends or fails; a step whose numbers go wrong
is re-run by the interpreted engine, so errors are exactly the interpreted ones.
"""

from __future__ import annotations

import math
import numbers
import random
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence, TextIO

from . import engine
from .compile import compile as compile_graph
from .errors import InputError, NumericalError
from .graph import Input, Node
from .losses import LOSSES, cross_entropy, loss_by_name
from .network import Network

__all__ = ["train_model", "sgd_step", "LossGraph", "LOSSES", "ENGINES", "Stepper", "Trainer", "make_trainer", "choose_engine",
           "loss_graph"]

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
        loss_by_name(loss, "train_model")
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
                rng: random.Random | None = None, engine: str = "auto",
                out: TextIO | None = None) -> list[float]:
    """Train the model's parameters by SGD and return the mean loss of each epoch.

    ``data`` is a list of ``(inputs, target)`` pairs; inputs as for ``predict``. Each
    batch (``batch_size`` samples; ``None`` = the whole data set) makes one update
    with the mean gradient. Every ``print_every`` epochs the mean loss is printed.
    ``engine`` is ``"auto"`` (the default: the fastest compiled path available, see
    :func:`choose_engine`), ``"python"``, ``"numpy"`` or ``"interpreted"``.

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.0, name="w"), sn.Parameter(0.0, name="b")
    >>> data = [([v], 2 * v + 1) for v in (-1.0, 0.0, 1.0, 2.0)]
    >>> losses = sn.train_model(w * x + b, "mse", data, epochs=300, lr=0.05)
    >>> round(w.value, 3), round(b.value, 3)
    (2.0, 1.0)
    """
    cfg = _check_config(epochs, lr, print_every, batch_size)
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    data = list(data)
    if not data:
        raise InputError("train_model: data is empty")
    for k, item in enumerate(data):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(f"train_model: data item {k} must be an (inputs, target) pair, got {item!r:.60}")
    trainer = make_trainer(model, loss, data, batch_size=cfg.batch_size, engine=engine)
    out = sys.stdout if out is None else out
    order = list(range(len(data)))
    history: list[float] = []
    step = 0
    try:
        for epoch in range(1, cfg.epochs + 1):
            if shuffle:
                (rng or random.Random(epoch)).shuffle(order)
            total = 0.0
            for batch in _batches(len(order), cfg.batch_size):
                step += 1
                total += trainer.step([order[i] for i in batch], cfg.lr, step, epoch)
            history.append(total / len(data))
            if cfg.print_every and epoch % cfg.print_every == 0:
                print(f"epoch {epoch:>5}  mean loss {history[-1]:.6g}", file=out)
    finally:
        trainer.finish()
    return history


ENGINES = ("auto", "interpreted", "python", "numpy")

#: ``engine="auto"`` uses NumPy (when installed) once a step's work, batch size times
#: op nodes in the loss graph, reaches this; below it array overheads dominate and
#: generated Python is faster.
NUMPY_MIN_WORK = 4096


def _numpy_available() -> bool:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def choose_engine(engine: str, loss: Any, batch: int, op_nodes: int) -> str:
    """The engine ``engine="auto"`` stands for (other values are returned as they are).

    >>> choose_engine("auto", ("f", "g"), 100, 1000)
    'python'
    >>> choose_engine("interpreted", "mse", 100, 1000)
    'interpreted'
    """
    if engine != "auto":
        return engine
    if isinstance(loss, str) and batch * op_nodes >= NUMPY_MIN_WORK and _numpy_available():
        return "numpy"
    return "python"


def make_trainer(model: Any, loss: Any, data: Sequence[tuple[Any, Any]], *, batch_size: int | None = 1,
                 engine: str = "auto") -> Stepper:
    """The object that makes one SGD step on a batch of ``data`` (see :class:`Stepper`).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    >>> t = make_trainer(w * x, "mse", [([1.0], 2.0)], engine="python")
    >>> t.step([0], 0.25, 1, 1), t.step([0], 0.25, 2, 1)
    (4.0, 1.0)
    >>> t.finish(); w.value
    1.5
    """
    from .backends.steps import Compiled, PairPython, PythonSteps, Rows

    interpreted = Trainer(_pair_step(model, loss) if isinstance(loss, tuple) else _graph_step(model, loss), data)
    if engine == "interpreted":
        return interpreted
    if isinstance(loss, tuple):
        if engine == "numpy":
            raise InputError("engine='numpy' needs a named loss ('mse', 'bce', 'cross_entropy')")
        root = _model_root(model)
        net = root.compile() if isinstance(root, Node) else compile_graph(root)
        return PairPython(interpreted, net, loss, data)
    graph: LossGraph = interpreted.graph
    rows = Rows(graph, data)
    if not rows.uniform:
        return interpreted  # a loss graph without some parameters: only the engine maps them
    batch = len(data) if batch_size is None else min(batch_size, len(data))
    engine = choose_engine(engine, loss, batch, rows.op_nodes)
    if engine == "numpy":
        if not _numpy_available():
            raise InputError("engine='numpy' needs NumPy: pip install 'symnet[numpy]'")
        from .backends.numpy_train import NumpySteps

        return Compiled(interpreted, graph.model.parameters, NumpySteps(rows))
    return Compiled(interpreted, graph.model.parameters, PythonSteps(rows))


class Stepper(Protocol):
    """What a trainer does: ``step(indices, lr, step, epoch)`` updates the parameters
    from the mean gradient over ``data[i] for i in indices`` and returns the summed
    loss; ``finish()`` makes the parameters' ``.value`` current."""

    def step(self, indices: Sequence[int], lr: float, step: int, epoch: int) -> float: ...

    def finish(self) -> None: ...


class Trainer:
    """A :class:`Stepper` on the interpreted engine (the reference the others follow)."""

    def __init__(self, step_fn: StepFn, data: Sequence[tuple[Any, Any]]) -> None:
        self.step_fn = step_fn
        self.data = data
        self.graph = getattr(step_fn, "graph", None)
        self.params: list[Node] = list(getattr(step_fn, "params", ()))

    def step(self, indices: Sequence[int], lr: float, step: int, epoch: int) -> float:
        try:
            loss_sum, params, grads = self.step_fn([self.data[i] for i in indices])
        except ArithmeticError as exc:  # an op of the engine, or an overflow in the user's loss
            raise _stopped(exc, self.params, step, epoch) from None
        _check_loss(loss_sum, step, epoch)
        sgd_step(params, [g / len(indices) for g in grads], lr, step)
        return loss_sum

    def finish(self) -> None:
        pass


def _stopped(exc: BaseException, params: Sequence[Node], step: int, epoch: int) -> NumericalError:
    """The error for a step whose forward or backward pass failed: where, why, and the
    parameter most likely to blame (the largest in magnitude)."""
    culprit = ""
    if params:
        big = max(params, key=lambda p: abs(p._value))
        culprit = f"; the largest parameter is '{big.name}' = {big._value!r}"
    return NumericalError(f"training diverged at step {step} (epoch {epoch}): {exc}{culprit}; "
                          "parameters keep their last finite values")


def _check_loss(loss_sum: float, step: int, epoch: int) -> None:
    if not math.isfinite(loss_sum):
        raise NumericalError(f"training diverged: non-finite loss at step {step} (epoch {epoch}); "
                             "parameters keep their last finite values")


StepFn = Callable[[list[tuple[Any, Any]]], tuple[float, list[Node], list[float]]]


def loss_graph(model: Any, loss: str) -> LossGraph:
    """The model's :class:`LossGraph` for a named loss, cached on the compiled model so
    that training again reuses the compiled (and generated) loss networks."""
    root = _model_root(model)
    net = root.compile() if isinstance(root, Node) else compile_graph(root)
    key = ("loss", loss)
    graph = net._compiled.get(key) if isinstance(loss, str) else None
    if graph is None:
        graph = LossGraph(model, loss)
        net._compiled[key] = graph
    return graph


def _graph_step(model: Any, loss: str) -> StepFn:
    graph = loss_graph(model, loss)
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

    step.graph = graph  # type: ignore[attr-defined]
    step.params = params  # type: ignore[attr-defined]
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

    step.params = net.parameters  # type: ignore[attr-defined]
    return step
