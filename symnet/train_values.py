"""The values ``train_model`` trains: :class:`ParameterValues` (one flat list, or the
array the NumPy steps left, in the model network's ``parameters`` order), the guard
that refuses writes to the Parameter nodes while user code runs during training,
and the SGD update of the interpreted engine with its errors (:mod:`symnet.train`).

>>> import symnet as sn
>>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
>>> store = ParameterValues(sn.compile(w * x))
>>> updated(store, [4.0], 0.25, 1)
[1.0]
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .errors import InputError, NumericalError
from .graph import Node
from .network import Network

__all__ = ["ParameterValues", "WriteGuard", "NoGuard", "NO_GUARD", "updated", "stopped", "check_loss"]


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


class NoGuard:
    """The guard of a training run in which no user code can run (see :func:`symnet.train.make_trainer`)."""

    def check(self, step: int, epoch: int) -> None:
        pass


NO_GUARD = NoGuard()


class WriteGuard:
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


def updated(store: ParameterValues, grads: Sequence[float], lr: float, step: int) -> list[float]:
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


def stopped(exc: BaseException, store: ParameterValues, step: int, epoch: int) -> NumericalError:
    """The error for a step whose forward or backward pass failed: where, why, and the
    parameter most likely to blame (the largest in magnitude)."""
    culprit = ""
    if store.values:
        k = max(range(len(store.values)), key=lambda j: abs(store.values[j]))
        culprit = f"; the largest parameter is '{store.net.parameter_names[k]}' = {store.values[k]!r}"
    return NumericalError(f"training stopped at step {step} (epoch {epoch}): {exc}{culprit}; "
                          "parameters keep their last finite values")


def check_loss(loss_sum: float, step: int, epoch: int) -> None:
    if not math.isfinite(loss_sum):
        raise NumericalError(f"training diverged: non-finite loss at step {step} (epoch {epoch}); "
                             "parameters keep their last finite values")
