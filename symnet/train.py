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
:func:`symnet.backends.numpy_train.plain_matrix`). On the NumPy path a
``train_model(network, ..., epochs=1)`` call costs about two training steps
(``bench/numpy_peers.py``).
"""

from __future__ import annotations

import math
import numbers
import random
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, Sequence, TextIO

from . import engine
from .backends.steps import Compiled, PairPython, PythonSteps, Rows
from .errors import InputError, NumericalError, SymnetError, shown
from .graph import Node
from .losses import LOSSES, attach_loss, loss_by_name
from .network import Network, compile as compile_graph, finite_value

__all__ = ["train_model", "sgd_step", "LossGraph", "LOSSES", "ENGINES", "Stepper", "Trainer", "make_trainer", "choose_engine",
           "loss_graph", "ParameterValues"]

def _model_network(model: Any) -> Network:
    if isinstance(model, Network):
        return model
    if isinstance(model, Node):
        return model.compile()
    raise InputError(f"model must be a node or a compiled Network, got {type(model).__name__}")


class ParameterValues:
    """The values being trained, in the model network's ``parameters`` order: one
    flat list that every engine of a ``train_model`` call reads and updates.

    ``slots(program)`` maps a loss program's parameters to positions in the list
    (loss graphs share the model's Parameter nodes)."""

    def __init__(self, net: Network) -> None:
        self.net = net
        memo = net._compiled.get("trained")
        # what the last training call saved, if the network still holds exactly those values
        self._values: Any = memo[1] if memo is not None and memo[0] is net.program else None
        self._slot: dict[int, int] | None = None

    @property
    def values(self) -> Sequence[float]:
        """The values, as floats (read from the network, or from the array the NumPy
        steps left, on first use)."""
        v = self._values
        if v is None:
            v = self._values = self.net.parameter_values
        elif type(v) is not tuple and type(v) is not list:
            v = self._values = tuple(v.tolist())
        return v

    @values.setter
    def values(self, v: Sequence[float]) -> None:
        self._values = v

    def raw(self) -> Any:
        """The values as they are held: a sequence of floats, or the read-only float64
        array in which the NumPy steps left them (:meth:`~symnet.backends.numpy_train.NumpySteps.snapshot`)."""
        return self.values if self._values is None else self._values

    def slots(self, program: Any) -> list[int]:
        if self._slot is None:  # only the interpreted engine needs it
            self._slot = {id(node): k for k, node in enumerate(self.net.parameters)}
        return [self._slot[id(program.nodes[i])] for i in program.parameters]

    def save(self, node: Node | None = None) -> None:
        """Write the values to the model network; for ``train_model(node)`` (``node``
        given, the network being ``node.compile()``), to its Parameter nodes and the
        network at once."""
        # every value was checked finite when the step that made it was taken
        values = self.raw()
        if type(values) is list:
            values = self._values = tuple(values)  # a list may change later; the network keeps these
        if node is None:  # the network's values tuple is assembled when first read
            self.net.program = self.net.program.with_parameter_values(values)
        else:  # the nodes and their network (this one) in one write
            node._session().write_parameters(values if type(values) is tuple else values.tolist())
        self.net._compiled["trained"] = (self.net.program, values)


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
        self.model = _model_network(model)
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
            tvals = _target_values(target, n_out)
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


def _target_values(target: Any, n_out: int) -> list[float]:
    vals = list(target) if isinstance(target, (list, tuple)) else [target]
    if len(vals) != n_out:
        raise InputError(f"target {shown(target)} has {len(vals)} value(s) for {n_out} output(s)")
    return [finite_value(v, "target") for v in vals]


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


@dataclass(frozen=True)
class _Config:
    epochs: int
    lr: float
    print_every: int | None
    batch_size: int | None


def _check_config(epochs: Any, lr: Any, print_every: Any, batch_size: Any) -> _Config:
    if (type(epochs) is int and epochs >= 0 and type(lr) is float and 0.0 < lr < math.inf and print_every is None
            and (batch_size is None or type(batch_size) is int and batch_size >= 1)):
        return _Config(epochs, lr, None, batch_size)  # the common case, without the general checks below
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise InputError(f"epochs must be a non-negative integer, got {shown(epochs)}")
    lr = finite_value(lr, "lr", InputError)
    if lr <= 0:
        raise InputError(f"lr must be a finite positive number, got {lr!r}")
    if print_every is not None and (not isinstance(print_every, numbers.Integral) or print_every < 1):
        raise InputError(f"print_every must be a positive integer or None, got {shown(print_every)}")
    if batch_size is not None and (not isinstance(batch_size, numbers.Integral) or batch_size < 1):
        raise InputError(f"batch_size must be a positive integer or None, got {shown(batch_size)}")
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
    cfg = _check_config(epochs, lr, print_every, batch_size)
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(map(repr, ENGINES))}, got {shown(engine)}")
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise InputError(f"train_model: data must be a list of (inputs, target) pairs, got {type(data).__name__}")
    data = list(data)
    if not data:
        raise InputError("train_model: data is empty")
    net = _model_network(model)
    store = ParameterValues(net)
    trainer, user_code = _make_trainer(model, loss, data, batch_size=cfg.batch_size, engine=engine, store=store)
    out = sys.stdout if out is None else out
    order: Sequence[int] = list(range(len(data))) if shuffle else range(len(data))  # a slice of a range is a range
    history: list[float] = []
    step = 0
    user_code = user_code or bool(cfg.print_every) or (shuffle and rng is not None and type(rng) is not random.Random)
    guard = _WriteGuard(net) if user_code else _NO_GUARD
    try:
        for epoch in range(1, cfg.epochs + 1):
            if shuffle:
                (rng or random.Random(epoch)).shuffle(order)
            total = 0.0
            for batch in _batches(len(order), cfg.batch_size):
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


_PAIRS = frozenset({list, tuple})


def _check_pairs(data: Sequence[Any]) -> None:
    """Every item of ``data`` is an ``(inputs, target)`` pair, or InputError names the first that is not."""
    if set(map(type, data)) <= _PAIRS and set(map(len, data)) == {2}:
        return
    for k, item in enumerate(data):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise InputError(f"train_model: data item {k} must be an (inputs, target) pair, got {shown(item, 60)}")


class _NoGuard:
    """The guard of a training run in which no user code can run (see :func:`_make_trainer`)."""

    def check(self, step: int, epoch: int) -> None:
        pass


_NO_GUARD = _NoGuard()


class _WriteGuard:
    """Refuses writes to the model's Parameter nodes while it trains (used when user
    code can run during training: a loss pair, the ``out`` stream, a custom ``rng``,
    an op defined by a Python callable, samples that are not plain numbers).

    Every engine trains the values of one :class:`ParameterValues` list and reads no
    node until training ends (then ``train_model(node)`` writes them back). A
    ``w.value = ...`` made by the user's code during training (a loss pair's
    functions, the ``out`` stream) would be silently lost, so it raises InputError
    instead, on every engine alike.
    """

    def __init__(self, net: Network) -> None:
        self.nodes = net.parameters
        self.names = net.parameter_names
        self.versions = [p._version for p in self.nodes]

    def check(self, step: int, epoch: int) -> None:
        if [p._version for p in self.nodes] == self.versions:
            return
        k = next(k for k, p in enumerate(self.nodes) if p._version != self.versions[k])
        raise InputError(
            f"parameter '{self.names[k]}' was set (to {self.nodes[k].value!r}) during training, at step {step} "
            f"(epoch {epoch}): train_model trains its own copy of the parameter values and writes them back "
            "when it ends, so a change made by a callback or the output stream would be lost; set values "
            "before or after train_model (or between two calls)")


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
    store = ParameterValues(_model_network(model)) if store is None else store
    if isinstance(loss, tuple) or engine == "interpreted":
        _check_pairs(data)
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
        _check_samples(graph, store.net, data, start)

    numpy_ok = engine in ("auto", "numpy") and _numpy_available()
    rows = Rows(graph, data, check=check, matrix=numpy_ok, pairs=lambda: _check_pairs(data))
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
    _check_samples(trainer.graph, trainer.store.net, data, 0)


def _check_samples(graph: LossGraph | None, net: Network, data: Sequence[tuple[Any, Any]], start: int) -> None:
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
            raise _stopped(exc, self.store, step, epoch) from None
        _check_loss(loss_sum, step, epoch)
        self.store.values = _updated(self.store, [g / len(indices) for g in grads], lr, step)
        return loss_sum

    def finish(self) -> None:
        pass


def _updated(store: ParameterValues, grads: Sequence[float], lr: float, step: int) -> list[float]:
    """The values after one SGD step; refuses (changing nothing) if any gradient or
    new value would be non-finite."""
    new = []
    for k, (v, g) in enumerate(zip(store.values, grads)):
        u = v - lr * g
        if not (math.isfinite(g) and math.isfinite(u)):
            raise NumericalError(f"training diverged: non-finite gradient or value for parameter "
                                 f"'{store.net.parameter_names[k]}' at step {step} (gradient {g!r}); "
                                 "parameters keep their last finite values")
        new.append(u)
    return new


def _stopped(exc: BaseException, store: ParameterValues, step: int, epoch: int) -> NumericalError:
    """The error for a step whose forward or backward pass failed: where, why, and the
    parameter most likely to blame (the largest in magnitude)."""
    culprit = ""
    if store.values:
        k = max(range(len(store.values)), key=lambda j: abs(store.values[j]))
        culprit = f"; the largest parameter is '{store.net.parameter_names[k]}' = {store.values[k]!r}"
    return NumericalError(f"training stopped at step {step} (epoch {epoch}): {exc}{culprit}; "
                          "parameters keep their last finite values")


def _check_loss(loss_sum: float, step: int, epoch: int) -> None:
    if not math.isfinite(loss_sum):
        raise NumericalError(f"training diverged: non-finite loss at step {step} (epoch {epoch}); "
                             "parameters keep their last finite values")


StepFn = Callable[[list[tuple[Any, Any]]], tuple[float, list[float]]]


def loss_graph(model: Any, loss: str) -> LossGraph:
    """The model's :class:`LossGraph` for a named loss, cached on the compiled model so
    that training again reuses the compiled (and generated) loss networks."""
    net = _model_network(model)
    key = ("loss", loss)
    graph = net._compiled.get(key) if isinstance(loss, str) else None
    if graph is None:
        graph = LossGraph(model, loss)
        net._compiled[key] = graph
    return graph


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
