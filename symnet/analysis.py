"""What several consumers derive from a Program, computed once, in one place.

Each function is one iterative pass over the program's topological order (no
recursion over depth) and returns plain lists indexed like the program:

* :func:`uses` -- how many times each node is an operand (outputs count once more);
* :func:`consumers` -- the op nodes that use each node;
* :func:`depths` -- the depth of each node's expression tree (leaves are 0);
* :func:`tree_sizes` -- size and kink count of each node's fully inlined tree;
* :func:`intermediates` -- the op nodes every layered output names;
* :func:`owners` -- which named intermediate's block each op node belongs to;
* :func:`downstream` -- the op nodes whose value depends on a node.

Emitters, the verifier and the backends import these; they never import each other
for them.

>>> import symnet as sn
>>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
>>> z = w * x
>>> p = sn.compile(z.tanh() + z).program
>>> p.names
('w', 'x', 't1', 't2', 'yhat')
>>> uses(p), depths(p), [p.names[i] for i in intermediates(p)]
([1, 1, 2, 1, 1], [0, 0, 1, 2, 3], ['t1', 'yhat'])
"""

from __future__ import annotations

from typing import Callable, Sequence

from .errors import InputError, shown
from .program import Program

__all__ = ["uses", "consumers", "depths", "tree_sizes", "intermediates", "NAMED_ROLES", "owners", "downstream",
           "layer_nodes", "LAYER_DEPTH"]

#: Origins whose nodes every layered output names: a neuron's weighted sum, its
#: activation, the output (or the prediction a loss compares) and the loss.
NAMED_ROLES = ("sum", "activation", "output", "loss")

#: Sizes past this are reported as this (the counts stay small integers).
SIZE_CAP = 1 << 30


def uses(program: Program) -> list[int]:
    """How many times each node is used as an operand; each output counts once more."""
    count = [0] * len(program)
    for args in program.args:
        for a in args:
            count[a] += 1
    for o in program.outputs:
        count[o] += 1
    return count


def consumers(program: Program) -> list[list[int]]:
    """For every node, the op nodes that use it (each once, in order)."""
    users: list[list[int]] = [[] for _ in range(len(program))]
    for i in program.op_indices:
        seen = -1
        for a in sorted(program.args[i]):
            if a != seen:
                users[a].append(i)
                seen = a
    return users


def depths(program: Program) -> list[int]:
    """The number of ops on the longest path from a leaf to each node (leaves are 0)."""
    depth = [0] * len(program)
    args = program.args
    for i in program.op_indices:
        depth[i] = 1 + max((depth[a] for a in args[i]), default=0)
    return depth


def tree_sizes(program: Program) -> tuple[list[int], list[int]]:
    """Size (nodes) and kink count of every node's fully inlined expression tree,
    capped at :data:`SIZE_CAP` (an inlined DAG grows exponentially with depth)."""
    size = [1] * len(program)
    kinks = [0] * len(program)
    for i in program.op_indices:
        args = program.args[i]
        size[i] = min(SIZE_CAP, 1 + sum(size[a] for a in args))
        kinks[i] = min(SIZE_CAP, (program.ops[i].kink is not None) + sum(kinks[a] for a in args))
    return size, kinks


def intermediates(program: Program) -> tuple[int, ...]:
    """The op nodes that get a name (and an equation) in the layered form, in order.

    The rule every layered output of symnet shares (equations, gradients, worked
    examples, graph drawings): the outputs, every node a macro or loss marked with
    one of :data:`NAMED_ROLES`, every node the user named, and every node used more
    than once (so nothing is written twice).
    """
    count = uses(program)
    outputs = set(program.outputs)
    out = []
    for i in program.op_indices:
        origin = program.origins[i]
        if (i in outputs or count[i] > 1 or program.given[i]
                or (origin is not None and origin.role in NAMED_ROLES)):
            out.append(i)
    return tuple(out)


def owners(program: Program, named: Sequence[int]) -> list[int]:
    """For each op node, the named node whose block it belongs to: itself if named,
    else the owner of a node that uses it (-1 for leaves and unreachable nodes)."""
    owner = [-1] * len(program)
    for u in named:
        owner[u] = u
    for i in reversed(program.op_indices):
        if owner[i] < 0:
            continue
        for a in program.args[i]:
            if program.ops[a] is not None and owner[a] < 0:
                owner[a] = owner[i]
    return owner


def downstream(users: Sequence[Sequence[int]], node: int) -> list[int]:
    """The op nodes whose value depends on ``node``, in topological (index) order;
    ``users`` is :func:`consumers` of the program.

    >>> import symnet as sn
    >>> x = sn.Input("x"); p = sn.compile((x * 2.0).exp() + 1.0).program
    >>> downstream(consumers(p), p.inputs[0]), len(p)
    ([2, 3, 5], 6)
    """
    marked = {node}
    stack = [node]
    while stack:
        for j in users[stack.pop()]:
            if j not in marked:
                marked.add(j)
                stack.append(j)
    marked.discard(node)
    return sorted(marked)


#: line stays well inside the parser's default nesting limit.
LAYER_DEPTH = 12


def layer_nodes(program: Program, max_depth: int = LAYER_DEPTH,
                also: Callable[[int], bool] | None = None) -> list[int]:
    """The op nodes the layered form writes on lines of their own, in order: the shared
    layered rule's intermediates, every node ``also(i)`` selects, and enough others that
    no line nests deeper than ``max_depth`` operations.

    >>> import symnet as sn
    >>> x = sn.Input("x"); y = (x * 2).tanh()
    >>> p = sn.compile(y + y).program
    >>> [p.names[i] for i in layer_nodes(p)]
    ['t2', 'yhat']
    """
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise InputError(f"max_depth must be a positive integer, got {shown(max_depth)}")
    named = set(intermediates(program))
    depth = [0] * len(program.nodes)
    for i in program.op_indices:
        d = 1 + max((depth[a] for a in program.args[i]), default=0)
        if i in named or d >= max_depth or (also is not None and also(i)):
            named.add(i)
            d = 0
        depth[i] = d
    return sorted(named)

