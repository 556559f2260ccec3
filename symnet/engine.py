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

__all__ = ["evaluate", "backward", "Cache"]


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

    Every node's adjoint accumulates over all its parents, in a fixed order.
    """
    adj = [0.0] * len(program.nodes)
    for i, s in seeds.items():
        adj[i] += s
    args, ops, attrs = program.args, program.ops, program.attrs
    for i in reversed(program.op_indices):
        g = adj[i]
        if g == 0.0:
            continue
        xs = tuple(values[a] for a in args[i])
        try:
            ps = ops[i].partials(xs, values[i], attrs[i])
        except (ArithmeticError, ValueError) as exc:
            raise _fail(program, i, xs, exc, f"derivative of {ops[i].name} undefined") from None
        for a, p in zip(args[i], ps):
            adj[a] += g * p
    return adj


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
