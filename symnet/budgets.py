"""Budgets of the symbolic exports: checked on the Program, before SymPy sees anything.

SymPy's cost grows with the size of an inlined expression tree (exponentially with
depth when a DAG is inlined: a residual chain or a diamond doubles at each level)
and its recursion with the nesting of one expression. Both are computed here in
one iterative pass, so an export that would not finish, or would exhaust Python's
recursion limit, is refused at once with an :class:`~symnet.errors.ExportLimitError`
that names the limit and the keyword that raises it.
"""

from __future__ import annotations

from typing import Sequence

from .analysis import intermediates, tree_sizes
from .errors import ExportLimitError, InputError, shown
from .program import Program

__all__ = ["MAX_SIZE", "MAX_BLOCK_DEPTH", "check_inline_size", "check_block_depth", "block_depths"]

#: Nodes of a fully inlined expression tree that the inline SymPy forms accept
#: (an MLP(2, [64, 64, 1]) inlines to about 45,000).
MAX_SIZE = 200_000
#: Operations nested between two named intermediates that the chain-rule forms
#: accept (SymPy recurses once per level; an MLP's blocks nest 3 deep).
MAX_BLOCK_DEPTH = 48


def _limit(value: object, keyword: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{keyword} must be a positive integer, got {shown(value)}")
    return value


def check_inline_size(program: Program, max_size: int = MAX_SIZE, *, what: str = "the inline form",
                      instead: str = "form='let'") -> None:
    """Refuse when an output's fully inlined tree has more than ``max_size`` nodes.

    >>> import symnet as sn
    >>> x = sn.Input("x"); y = x
    >>> for _ in range(40): y = y + y
    >>> check_inline_size(sn.compile(y).program)
    Traceback (most recent call last):
    ...
    symnet.errors.ExportLimitError: the inline form of output 'yhat' would have 1073741824 or more nodes (a shared node is written out at every use), past max_size=200000; use form='let', or pass a larger max_size
    """
    _limit(max_size, "max_size")
    size, _ = tree_sizes(program)
    for o in program.outputs:
        if size[o] > max_size:
            raise ExportLimitError(
                f"{what} of output '{program.names[o]}' would have {size[o]} or more nodes (a shared node is "
                f"written out at every use), past max_size={max_size}; use {instead}, or pass a larger max_size")


def block_depths(program: Program, named: Sequence[int]) -> list[int]:
    """For every node, the number of ops nested below it down to the leaves or the
    nearest named intermediates (named nodes below start a block of their own)."""
    cut = set(named)
    depth = [0] * len(program)
    for i in program.op_indices:
        depth[i] = 1 + max((depth[a] if a not in cut else 0 for a in program.args[i]), default=0)
    return depth


def check_block_depth(program: Program, max_block_depth: int = MAX_BLOCK_DEPTH, *,
                      named: Sequence[int] | None = None) -> None:
    """Refuse when one block of the chain rule (the ops between named intermediates)
    nests more than ``max_block_depth`` operations.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> y = x
    >>> for _ in range(100): y = (y * w).tanh()
    >>> check_block_depth(sn.compile(y).program)
    Traceback (most recent call last):
    ...
    symnet.errors.ExportLimitError: node 'yhat' nests 200 operations between named intermediates, past max_block_depth=48; name intermediate nodes (name=...) or use the engine's numbers (net.gradients) instead, or pass a larger max_block_depth
    """
    _limit(max_block_depth, "max_block_depth")
    named = intermediates(program) if named is None else named
    depth = block_depths(program, named)
    for u in named:
        if depth[u] > max_block_depth:
            raise ExportLimitError(
                f"node '{program.names[u]}' nests {depth[u]} operations between named intermediates, past "
                f"max_block_depth={max_block_depth}; name intermediate nodes (name=...) or use the engine's "
                "numbers (net.gradients) instead, or pass a larger max_block_depth")
