"""Training: SGD over a loss graph, and train_model, the loop of the articles.

``train_model(model, loss, data, epochs=..., lr=..., print_every=...)`` takes a
loss name (``"mse"``, ``"bce"``, ``"cross_entropy"``) or the articles' pair of
callables ``(loss_fn, loss_grad_fn)``, and returns the mean loss of every epoch.

Engines (``engine=``): ``"interpreted"`` walks the compiled graph with the scalar
engine; ``"python"`` runs generated straight-line code (bit for bit the same
updates); ``"numpy"`` runs the batched NumPy backend (the same to rounding);
``"auto"`` picks the fastest that is available. Every engine updates one flat
list of parameter values (:class:`ParameterValues`); a step whose numbers go wrong
on a compiled engine is re-run by the interpreted engine, so errors are exactly the
interpreted ones.

Where the trained values go: ``train_model(network, ...)`` sets the network's own
parameter values (its nodes are not touched); ``train_model(node, ...)`` trains
``node.compile()`` and writes the values back to the Parameter nodes, as the
articles' examples expect. Either happens when training ends, and also when it
stops with an error (the last finite values are kept).

Before the first update every sample is validated (inputs, target, BCE's range,
the class index), on every engine: plain data (lists of numbers) all at once with
NumPy when it is installed, anything else one sample at a time; the error names the
first bad item either way. While training runs, no engine reads the Parameter
nodes: setting ``w.value`` from a loss pair or the ``out`` stream raises
InputError (on every engine alike) rather than being silently lost.

A second call on the same model reuses what the first one built: the loss
networks, their generated code, the NumPy buffers and, when the data are the very
same objects, their checked matrix (see
:func:`symnet.backends.numpy_train.plain_matrix`). Writing back is one pass: for a
node, each Parameter node's value is assigned once (:func:`symnet.graph.write_values`)
and its network takes the same values. On the NumPy path (MLP 2-16-16-1, 100
samples) a ``train_model(network, ..., epochs=1)`` call costs about 1.5 training
steps and ``train_model(node, ..., epochs=1)`` about 1.8 (``bench/numpy_peers.py``).
"""

from __future__ import annotations

import math
import random
import sys
from typing import Any, Callable, Protocol, Sequence, TextIO

from . import engine
from .backends.steps import Compiled, PairPython, PythonSteps, Rows
from .errors import InputError, NumericalError, shown
from .graph import Node
from .losses import LOSSES
from .network import Network, finite_value
from .train_data import (LossGraph, batches, check_config, check_pairs, check_samples, loss_graph,
                         model_network)
from .train_values import NO_GUARD, ParameterValues, WriteGuard, check_loss, stopped, updated

__all__ = ["train_model", "sgd_step", "LossGraph", "LOSSES", "ENGINES", "Stepper", "Trainer", "make_trainer", "choose_engine",
           "loss_graph", "ParameterValues"]


def sgd_step(parameters: Sequence[Node], grads: Sequence[float], lr: float, step: int = 0) -> None:
    """``p.value -= lr * g`` for every parameter; refuses (and changes nothing) if any
    gradient or new value would be non-finite."""
    new = []
    for p, g in zip(parameters, grads):
        v = p.value - lr * g
        if not (math.isfinite(g) and math.isfinite(v)):
            raise NumericalError(f"training diverged: non-finite gradient or value for parameter '{p.name}' "
                                 f"at step {step} (gradient {g!r}); parameters keep their last finite values")
        new.append(v)
    for p, v in zip(parameters, new):
        p.value = v


def train_model(model: Any, loss: Any, data: Sequence[tuple[Any, Any]], epochs: int = 100, lr: float = 0.01,
                print_every: int | None = None, *, batch_size: int | None = 1, shuffle: bool = False,
                rng: random.Random | None = None, engine: str = "auto",
                out: TextIO | None = None) -> list[float]:
    """Train the model's parameters by SGD and return the mean loss of each epoch.

    ``data`` is a list of ``(inputs, target)`` pairs; inputs as for ``predict``. For
    ``"mse"`` and ``"bce"`` the target feeds an input of the loss graph named ``y``,
    or, when the model has its own ``y``, the first free name of ``target`` and
    ``y_true`` (:func:`symnet.losses.attach_loss`). Each
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
    cfg = check_config(epochs, lr, print_every, batch_size)
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {shown(engine)}")
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InputError(f"train_model: data must be a list of (inputs, target) pairs, got {type(data).__name__}")
    data = list(data)
    if not data:
        raise InputError("train_model: data is empty")
    net = model_network(model)
    store = ParameterValues(net)
    trainer, user_code = _make_trainer(model, loss, data, batch_size=cfg.batch_size, engine=engine, store=store)
    out = sys.stdout if out is None else out
    order: Sequence[int] = list(range(len(data))) if shuffle else range(len(data))  # a slice of a range is a range
    history: list[float] = []
    step = 0
    user_code = user_code or bool(cfg.print_every) or (shuffle and rng is not None and type(rng) is not random.Random)
    guard = WriteGuard(net) if user_code else NO_GUARD
    try:
        for epoch in range(1, cfg.epochs + 1):
            if shuffle:
                (rng or random.Random(epoch)).shuffle(order)
            total = 0.0
            for batch in batches(len(order), cfg.batch_size):
                step += 1
                total += trainer.step(order[batch.start:batch.stop], cfg.lr, step, epoch)
                guard.check(step, epoch)  # a loss pair's callbacks ran inside the step
            history.append(total / len(data))
            if cfg.print_every and epoch % cfg.print_every == 0:
                print(f"epoch {epoch:>5}  mean loss {history[-1]:.6g}", file=out)
                guard.check(step, epoch)  # the output stream is the user's code too
    finally:
        trainer.finish()
        store.save(model if isinstance(model, Node) else None)
    return history


ENGINES = ("auto", "interpreted", "python", "numpy")

#: ``engine="auto"`` uses NumPy (when installed) once a step's work, batch size times
#: op nodes in the loss graph, reaches this; below it array overheads dominate and
#: generated Python is faster.
NUMPY_MIN_WORK = 4096


_NUMPY: list[bool] = []


def _numpy_available() -> bool:
    if not _NUMPY:  # looked up once
        try:
            import numpy  # noqa: F401
        except ImportError:
            _NUMPY.append(False)
        else:
            _NUMPY.append(True)
    return _NUMPY[0]


_STEPS_FOR: list[Callable[[Any], Any]] = []


def _numpy_steps() -> Callable[[Any], Any]:
    """:func:`symnet.backends.numpy_train.steps_for` (imported on first use: NumPy is optional)."""
    if not _STEPS_FOR:
        from .backends.numpy_train import steps_for

        _STEPS_FOR.append(steps_for)
    return _STEPS_FOR[0]


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
                 engine: str = "auto", store: ParameterValues | None = None) -> Stepper:
    """The object that makes one SGD step on a batch of ``data`` (see :class:`Stepper`),
    updating ``store`` (by default, a new one for the model's network).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    >>> store = ParameterValues(sn.compile(w * x))
    >>> t = make_trainer(w * x, "mse", [([1.0], 2.0)], engine="python", store=store)
    >>> t.step([0], 0.25, 1, 1), t.step([0], 0.25, 2, 1)
    (4.0, 1.0)
    >>> t.finish(); store.values, w.value
    ([1.5], 0.0)
    """
    return _make_trainer(model, loss, data, batch_size=batch_size, engine=engine, store=store)[0]


def _make_trainer(model: Any, loss: Any, data: Sequence[tuple[Any, Any]], *, batch_size: int | None,
                  engine: str, store: ParameterValues | None) -> tuple[Stepper, bool]:
    """The trainer, and whether user code may run while it trains (a loss pair, an op
    defined by a Python callable, samples that are not plain lists of numbers): only
    then does ``train_model`` watch the Parameter nodes for writes."""
    store = ParameterValues(model_network(model)) if store is None else store
    if isinstance(loss, tuple) or engine == "interpreted":
        check_pairs(data)
        interpreted = Trainer(_pair_step(model, loss, store) if isinstance(loss, tuple)
                              else _graph_step(model, loss, store), data, store)
        check_data(interpreted, data)
        if engine == "interpreted":
            return interpreted, True
        if engine == "numpy":
            raise InputError("engine='numpy' needs a named loss ('mse', 'bce', 'cross_entropy')")
        return PairPython(interpreted, store.net, loss, data), True
    graph = loss_graph(store.net, loss)

    def interpreted() -> Trainer:
        return Trainer(_graph_step(model, loss, store), data, store)

    def check(start: int) -> None:
        check_samples(graph, store.net, data, start)

    numpy_ok = engine in ("auto", "numpy") and _numpy_available()
    rows = Rows(graph, data, check=check, matrix=numpy_ok, pairs=lambda: check_pairs(data))
    user_code = rows.matrix is None and not rows.plain or not _all_trusted(rows)
    if not rows.uniform:
        return interpreted(), user_code  # a loss graph without some parameters: only the engine maps them
    batch = len(data) if batch_size is None else min(batch_size, len(data))
    engine = choose_engine(engine, loss, batch, rows.op_nodes)
    if engine == "numpy":
        if not numpy_ok:
            raise InputError("engine='numpy' needs NumPy: pip install 'symnet[numpy]'")
        return Compiled(interpreted, store, _numpy_steps()(rows)), user_code
    return Compiled(interpreted, store, PythonSteps(rows)), user_code


def _all_trusted(rows: Rows) -> bool:
    """Whether every loss network of ``rows`` runs only symnet's own code (kept with the
    laid-out data when there is one)."""
    matrix = rows.matrix
    trusted = None if matrix is None else matrix.trusted
    if trusted is None:
        trusted = all(_trusted(n) for n in rows.nets.values())
        if matrix is not None:
            matrix.trusted = trusted
    return trusted


def _trusted(net: Network) -> bool:
    """Whether every op of the network is symnet's own code (a built-in row, or one
    defined by a formula), cached on the network."""
    trusted = net._compiled.get("trusted")
    if trusted is None:
        rows = {id(r): r for r in net.program.ops if r is not None}
        trusted = net._compiled["trusted"] = all(r.builtin or r.formula for r in rows.values())
    return trusted


def check_data(trainer: Trainer, data: Sequence[tuple[Any, Any]]) -> None:
    """Validate every sample before the first update, on every engine: its inputs (as
    for ``predict``) and, for a named loss, its target (a finite number, in [0, 1] for
    ``bce``, a class index in range for ``cross_entropy``). The error names the item.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> sn.train_model((w * x).sigmoid(), "bce", [([1.0], 1.0), ([2.0], 1.5)], engine="interpreted")
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: train_model: data item 1: bce: targets must lie in [0, 1], got [1.5]; nothing was trained
    """
    check_samples(trainer.graph, trainer.store.net, data, 0)


class Stepper(Protocol):
    """What a trainer does: ``step(indices, lr, step, epoch)`` updates the parameters
    from the mean gradient over ``data[i] for i in indices`` and returns the summed
    loss; ``finish()`` makes the :class:`ParameterValues` current."""

    def step(self, indices: Sequence[int], lr: float, step: int, epoch: int) -> float: ...

    def finish(self) -> None: ...


class Trainer:
    """A :class:`Stepper` on the interpreted engine (the reference the others follow)."""

    def __init__(self, step_fn: StepFn, data: Sequence[tuple[Any, Any]], store: ParameterValues) -> None:
        self.step_fn = step_fn
        self.data = data
        self.store = store
        self.graph = getattr(step_fn, "graph", None)

    def step(self, indices: Sequence[int], lr: float, step: int, epoch: int) -> float:
        try:
            loss_sum, grads = self.step_fn([self.data[i] for i in indices])
        except ArithmeticError as exc:  # an op of the engine, or an overflow in the user's loss
            raise stopped(exc, self.store, step, epoch) from None
        check_loss(loss_sum, step, epoch)
        self.store.values = updated(self.store, [g / len(indices) for g in grads], lr, step)
        return loss_sum

    def finish(self) -> None:
        pass


StepFn = Callable[[list[tuple[Any, Any]]], tuple[float, list[float]]]


def _graph_step(model: Any, loss: str, store: ParameterValues) -> StepFn:
    graph = loss_graph(store.net, loss)
    slots: dict[int, list[int]] = {}

    def step(batch: list[tuple[Any, Any]]) -> tuple[float, list[float]]:
        grads = [0.0] * len(store.values)
        total = 0.0
        for x, t in batch:
            net, tvals = graph.network(t)
            p = net.program
            where = slots.get(id(net))
            if where is None:
                where = slots[id(net)] = store.slots(p)
            params = [store.values[k] for k in where]
            vals = engine.evaluate(p, net.leaf_values(graph.inputs_for(net, x, tvals), params))
            root = p.outputs[0]
            total += vals[root]
            adj = engine.backward(p, vals, {root: 1.0})
            for i, k in zip(p.parameters, where):
                grads[k] += adj[i]
        return total, grads

    step.graph = graph  # type: ignore[attr-defined]
    return step


def _pair_step(model: Any, pair: tuple[Any, ...], store: ParameterValues) -> StepFn:
    if len(pair) != 2 or not all(callable(f) for f in pair):
        raise InputError("loss must be a name or a (loss_fn, loss_grad_fn) pair of callables")
    loss_fn, loss_grad_fn = pair
    net = store.net
    p = net.program

    def step(batch: list[tuple[Any, Any]]) -> tuple[float, list[float]]:
        grads = [0.0] * len(p.parameters)
        total = 0.0
        for x, t in batch:
            vals = engine.evaluate(p, net.leaf_values(x, store.values))
            outs = [vals[i] for i in p.outputs]
            pred = outs if p.vector else outs[0]
            total += finite_value(loss_fn(pred, t), "loss_fn(prediction, target) returned", NumericalError)
            g = loss_grad_fn(pred, t)
            adj = engine.backward(p, vals, net._seeds(None, g))
            for k, i in enumerate(p.parameters):
                grads[k] += adj[i]
        return total, grads

    return step
