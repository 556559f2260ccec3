"""The interpreted engine: forward and reverse passes over a compiled Program.

Both passes read only the op rows (``forward`` and ``partials``) and compute into
fresh lists; nothing here names an op. A failing op (overflow, a value outside
its domain, a non-finite result) raises NumericalError naming the node and its
inputs.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from .program import Program
from .errors import InputError, NumericalError

__all__ = ["evaluate", "backward", "Cache", "nonfinite_gradient", "nonfinite_seed"]


def _fail(program: Program, i: int, xs: tuple[float, ...], exc: BaseException | None, what: str) -> NumericalError:
    name = program.names[i] or "?"
    op = program.ops[i]
    ins = ", ".join(f"{program.names[a] or 'const'}={x!r}" for a, x in zip(program.args[i], xs))
    reason = f": {exc}" if exc is not None else ""
    label = op.name if op is not None else program.kinds[i]
    return NumericalError(f"{what} at node '{name}' ({label}) with inputs {ins}{reason}")


def _apply(program: Program, i: int, xs: tuple[float, ...]) -> float:
    op = program.ops[i]
    try:
        y = op.forward(xs, program.attrs[i])
    except (ArithmeticError, ValueError) as exc:
        raise _fail(program, i, xs, exc, f"{op.name} failed") from None
    if not math.isfinite(y) and all(math.isfinite(x) for x in xs):
        raise _fail(program, i, xs, None, f"{op.name} overflowed to {y!r}")
    return y


def leaf_template(program: Program) -> list[Any]:
    """A value list with the program's leaf values filled in and every op slot ``None``."""
    return list(program.values)


def evaluate(program: Program, values: list[Any]) -> list[Any]:
    """Fill ``values`` (leaves already set) with every op's value, in order."""
    args = program.args
    for i in program.op_indices:
        values[i] = _apply(program, i, tuple(values[a] for a in args[i]))
    return values


def backward(program: Program, values: Sequence[float], seeds: Mapping[int, float]) -> list[float]:
    """Reverse-mode pass: the adjoint of every node, given the seeds of the outputs.

    Every node's adjoint accumulates over all its parents, in a fixed order. A
    non-finite seed, local partial or adjoint raises NumericalError naming the node
    where it arose and the value (see :func:`nonfinite_gradient`), as ``pow`` does for
    ``x**-1`` at 1e-320: a gradient is never returned as ``inf`` or ``nan``.
    """
    adj = [0.0] * len(program.nodes)
    for i, s in seeds.items():
        if s - s != 0.0:
            raise nonfinite_seed(program, i, s)
        adj[i] += s
    args, ops, attrs = program.args, program.ops, program.attrs
    for i in reversed(program.op_indices):
        g = adj[i]
        if g == 0.0:
            continue
        xs = tuple(values[a] for a in args[i])
        if g - g != 0.0:  # inf or nan: the sum of the parents' contributions overflowed
            raise nonfinite_gradient(program, i, xs, None, g)
        try:
            ps = ops[i].partials(xs, values[i], attrs[i])
        except (ArithmeticError, ValueError) as exc:
            raise _fail(program, i, xs, exc, f"derivative of {ops[i].name} undefined") from None
        for k, (a, p) in enumerate(zip(args[i], ps)):
            d = g * p
            if d - d != 0.0:
                raise nonfinite_gradient(program, i, xs, k, p if p - p != 0.0 else d)
            adj[a] += d
    for i in program.inputs + program.parameters:
        if adj[i] - adj[i] != 0.0:
            raise NumericalError(f"the gradient with respect to {program.describe(i)} overflowed to {adj[i]!r}")
    return adj


def nonfinite_seed(program: Program, i: int, seed: float) -> NumericalError:
    """The error for a non-finite seed of output node ``i`` (shared with generated code)."""
    return NumericalError(f"the seed of output '{program.names[i] or '?'}' is {seed!r}; seeds must be finite")


def nonfinite_gradient(program: Program, i: int, xs: tuple[float, ...], k: int | None, value: float) -> NumericalError:
    """The error for a non-finite gradient at op node ``i``: its ``k``-th local partial
    (or, with ``k=None``, the gradient reaching the node) is ``value``. Every engine
    raises this; the generated Python and NumPy paths re-run a failing sample through
    :func:`backward` to get it (see ``symnet.emit.python`` and ``symnet.backends``)."""
    if k is None:
        return _fail(program, i, xs, None, f"the gradient reaching {program.ops[i].name} overflowed to {value!r}")
    arg = program.names[program.args[i][k]] or "const"
    return _fail(program, i, xs, None, f"the gradient of {program.ops[i].name} with respect to '{arg}' is {value!r}")


class Cache:
    """Forward values kept between calls for the node-level API, recomputed only
    where a leaf changed. It reads the leaf nodes' current values (the program's
    node handles); nothing else in the engine looks at nodes.

    A leaf counts as changed when its ``.value`` was assigned since the last pass
    (each assignment bumps the node's version); an op node is recomputed only if
    one of its children changed.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        self.values: list[Any] = [None] * len(program.nodes)
        self.versions: list[int] = [-1] * len(program.nodes)
        self.fresh = False

    def forward(self) -> list[Any]:
        program = self.program
        values, versions = self.values, self.versions
        dirty = bytearray(len(program.nodes))
        nodes, kinds = program.nodes, program.kinds
        for i, kind in enumerate(kinds):
            if kind == "constant":
                if versions[i] < 0:
                    values[i] = program.values[i]
                    versions[i] = 0
                    dirty[i] = 1
            elif kind != "op":
                node = nodes[i]  # the node-level API reads the leaves' current values
                if node._version != versions[i]:
                    if node._value is None:
                        raise InputError(f"{program.describe(i)} has no value; set .value first")
                    values[i] = node._value
                    versions[i] = node._version
                    dirty[i] = 1
        everything = not self.fresh
        args = program.args
        for i in program.op_indices:
            if everything or any(dirty[a] for a in args[i]):
                values[i] = _apply(program, i, tuple(values[a] for a in args[i]))
                dirty[i] = 1
        self.fresh = True
        return values
