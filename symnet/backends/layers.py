"""Layers recovered from a compiled program's provenance, for backends that batch them.

The Linear, Dense and MLP macros mark what they build with an
:class:`~symnet.graph.Origin`: each neuron's n-ary sum has role ``"sum"``, its
products role ``"product"`` and its activation role ``"activation"``. This module
groups those nodes back into layers: every neuron of a layer reads the same inputs,
so the layer is ``Z = W @ A + b`` for a weight matrix gathered from the parameters,
and the activations of all its units are one elementwise op on ``Z``.

Roles are only candidates: a neuron is accepted when its structure says the same
(a row flagged ``sum`` over rows flagged ``product`` of a parameter and an input,
each product, weight and bias used nowhere else). Anything else stays a scalar
node, so a hand-made or unusual graph is still computed correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..program import Program
from ..analysis import uses as count_uses
from ..ops import Op

__all__ = ["Block", "Activation", "find_layers"]


@dataclass(frozen=True)
class Block:
    """A layer's pre-activations: row ``r`` is node ``sums[r]``, computed as
    ``sum_c weights[r][c] * inputs[c] + biases[r]`` (indices into the program)."""

    layer: int | None
    sums: tuple[int, ...]
    inputs: tuple[int, ...]
    weights: tuple[tuple[int, ...], ...]
    biases: tuple[int, ...]
    products: tuple[int, ...]


@dataclass(frozen=True)
class Activation:
    """One unary op applied to every row of a block: row ``r`` is node ``nodes[r]``."""

    block: Block
    nodes: tuple[int, ...]


def _is_product(op: Op | None) -> bool:
    return op is not None and op.product and op.arity in (None, 2)


def _is_sum(op: Op | None) -> bool:
    return op is not None and op.sum and op.arity is None


def _neuron(program: Program, i: int, uses: list[int]) -> tuple[tuple[int, ...], tuple[int, ...], int,
                                                                tuple[int, ...]] | None:
    """``(inputs, weights, bias, products)`` if node ``i`` is a neuron's sum, else None."""
    kinds, ops, args = program.kinds, program.ops, program.args
    kids = args[i]
    if not _is_sum(ops[i]) or len(kids) < 2 or kinds[kids[-1]] != "parameter" or uses[kids[-1]] != 1:
        return None
    inputs, weights = [], []
    for p in kids[:-1]:
        origin = program.origins[p]
        if origin is None or origin.role != "product" or uses[p] != 1 or not _is_product(ops[p]):
            return None
        if len(args[p]) != 2 or kinds[args[p][0]] != "parameter" or uses[args[p][0]] != 1:
            return None
        weights.append(args[p][0])
        inputs.append(args[p][1])
    return tuple(inputs), tuple(weights), kids[-1], kids[:-1]


def find_layers(program: Program) -> tuple[list[Block], list[Activation]]:
    """The layers (blocks of neurons over the same inputs) and their activations.

    >>> import symnet as sn
    >>> sn.seed(0)
    >>> blocks, acts = find_layers(sn.compile(sn.MLP(2, [3, 1])).program)
    >>> [(len(b.sums), len(b.inputs)) for b in blocks], [len(a.nodes) for a in acts]
    ([(3, 2), (1, 3)], [3])
    """
    uses = count_uses(program)
    groups: dict[Any, list[tuple[int, tuple[int, ...], int, tuple[int, ...]]]] = {}
    for i in program.op_indices:
        origin = program.origins[i]
        if origin is None or origin.role != "sum":
            continue
        found = _neuron(program, i, uses)
        if found is None:
            continue
        inputs, weights, bias, products = found
        groups.setdefault((origin.layer, inputs), []).append((i, weights, bias, products))
    blocks = [Block(layer, tuple(u[0] for u in units), inputs, tuple(u[1] for u in units),
                    tuple(u[2] for u in units), tuple(p for u in units for p in u[3]))
              for (layer, inputs), units in groups.items()]

    consumers: dict[int, list[int]] = {}
    for i in program.op_indices:
        origin = program.origins[i]
        if origin is not None and origin.role == "activation" and len(program.args[i]) == 1:
            consumers.setdefault(program.args[i][0], []).append(i)
    acts = []
    for block in blocks:
        chosen = []
        for s in block.sums:
            cands = consumers.get(s, [])
            if not cands:
                break
            chosen.append(cands[0])
        if len(chosen) != len(block.sums):
            continue
        first = chosen[0]
        if all(program.ops[c] is program.ops[first] and program.attrs[c] == program.attrs[first] for c in chosen):
            acts.append(Activation(block, tuple(chosen)))
    return blocks, acts
