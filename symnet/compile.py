"""compile(): one pass from a graph to the flat, ordered Program every consumer walks.

The steps, in order::

    collect        iterative depth-first walk from the output(s): topological order,
                   macros replaced by their expansion, cycles rejected
    resolve_ops    every op name looked up in the op table, arity checked
    assign_names   every input, parameter and intermediate named, deterministically
    validate       duplicate names rejected

Order of ``inputs`` and ``parameters``: the order of first use, in the
topological order of a depth-first walk from the output, children left to right. For ``w * x + b`` that is
inputs ``[x]`` and parameters ``[w, b]``; for ``MLP`` layer by layer, unit by unit,
each weight before its input and the bias last.

Names: a name given by the user is kept. An unnamed Input becomes ``x1, x2, ...``,
an unnamed Parameter ``w1, w2, ...``; parameters made by macros keep their
structured names (``w1_2_1``: layer 1, unit 2, input 1; ``b1_2``). Intermediates
are named from their origin (``z1_2`` a neuron's weighted sum, ``h1_2`` its
activation, ``yhat`` the output, ``L`` the loss) or ``t1, t2, ...``. Names never
depend on ids or hashing, so they are the same in every run.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Sequence

from .errors import GraphCycleError, GraphError, NameConflictError
from .graph import Macro, Node, Origin, check_name
from .ops import OPS, Op, get_op

__all__ = ["Program", "compile", "collect"]

LEAF_KINDS = ("input", "parameter", "constant")


@dataclass(frozen=True)
class Program:
    """The compiled, flat form of a network: nodes in topological order.

    Parallel tuples, one entry per node: ``nodes``, ``ops`` (the op row, ``None`` for
    leaves), ``args`` (child indices), ``attrs``, ``names``. ``outputs`` are the
    indices of the output(s); ``inputs`` and ``parameters`` the leaf indices in the
    documented order; ``aliases`` maps macro and Output nodes to the index that
    stands for them.
    """

    nodes: tuple[Node, ...]
    ops: tuple[Op | None, ...]
    args: tuple[tuple[int, ...], ...]
    attrs: tuple[Any, ...]
    names: tuple[str | None, ...]
    outputs: tuple[int, ...]
    inputs: tuple[int, ...]
    parameters: tuple[int, ...]
    op_indices: tuple[int, ...]
    aliases: Mapping[Node, int]
    vector: bool

    def __len__(self) -> int:
        return len(self.nodes)

    def index(self, node: Node) -> int:
        """The position of ``node`` (or of the node a macro stands for)."""
        i = self._positions().get(node)
        if i is None:
            i = self.aliases.get(node)
        if i is None:
            raise GraphError(f"{node._describe()} is not part of this network")
        return i

    def _positions(self) -> dict[Node, int]:
        pos = self.__dict__.get("_pos")
        if pos is None:
            pos = {n: i for i, n in enumerate(self.nodes)}
            object.__setattr__(self, "_pos", pos)
        return pos


def collect(roots: Sequence[Node]) -> tuple[list[Node], dict[Node, Node]]:
    """Topological order of everything below ``roots`` (iterative, children in order).

    Op nodes come in depth-first post-order; each leaf is placed just before the
    first op that uses it, so leaves are ordered by first use (layer by layer in an
    MLP). Macros are replaced by their expansions; returns the order and a map
    from each macro to the node that stands for it.
    """
    order: list[Node] = []
    expanded: dict[Node, Node] = {}
    state: dict[Node, int] = {}  # 1: on the stack, 2: done
    placed: set[Node] = set()  # leaves already in the order
    append = order.append

    def effective(node: Node) -> tuple[Node, ...]:
        if node.kind == "macro":
            target = node.expansion()
            expanded[node] = target
            return (target,)
        return node.children

    for root in roots:
        if state.get(root) == 2:
            continue
        state[root] = 1
        stack: list[list[Any]] = [[root, effective(root), 0]]
        while stack:
            top = stack[-1]
            node, kids, i = top
            if i < len(kids):
                top[2] = i + 1
                child = kids[i]
                s = state.get(child, 0)
                if s == 0:
                    if child.kind == "output":
                        raise GraphError(f"an Output can only be the root; it is an operand of {node._describe()}")
                    state[child] = 1
                    stack.append([child, effective(child), 0])
                elif s == 1:
                    names = [n._describe() for n, _, _ in stack]
                    start = next(j for j, (n, _, _) in enumerate(stack) if n is child)
                    raise GraphCycleError("cycle: " + " -> ".join(names[start:] + [child._describe()]))
            else:
                stack.pop()
                state[node] = 2
                kind = node.kind
                if kind == "op":
                    for child in node.children:
                        if child.kind == "macro":
                            child = _target(child)
                        if child.kind in LEAF_KINDS and child not in placed:
                            placed.add(child)
                            append(child)
                    append(node)
                # leaves are placed just before their first use; macros stand for their expansion
        if root.kind in LEAF_KINDS and root not in placed:
            placed.add(root)
            append(root)
    return order, expanded


def compile(root: Node | Sequence[Node]) -> Any:
    """Compile a node (or an ``Output``, or a list of nodes) into a Network.

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(2.0, name="w"), sn.Parameter(1.0, name="b")
    >>> net = sn.compile(w * x + b)
    >>> [p.name for p in net.parameters], [i.name for i in net.inputs]
    (['w', 'b'], ['x'])
    >>> net.predict([3.0])
    7.0
    """
    from .network import Network

    roots, vector = _roots(root)
    with _collector_paused():
        order, expanded = collect(roots)
        ops, args, attrs = resolve_ops(order)
        names = assign_names(order, ops, roots)
        program = _build(order, ops, args, attrs, names, roots, expanded, root, vector)
        validate(program)
    return Network(program, root)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector: compiling allocates many objects but
    no reference cycles, and the collector's repeated scans of a large graph would
    cost more than the compile itself (30-40 % on a million-node chain)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _roots(root: Any) -> tuple[list[Node], bool]:
    if isinstance(root, Node):
        if root.kind == "output":
            return list(root.children), True
        return [root], False
    if isinstance(root, (list, tuple)) and root and all(isinstance(r, Node) for r in root):
        return list(root), True
    raise GraphError(f"compile() takes a node, an Output or a list of nodes, got {type(root).__name__}")


def resolve_ops(order: Sequence[Node]) -> tuple[list[Op | None], list[tuple[int, ...]], list[Any]]:
    """Look every op up in the table and check its arity; children become indices."""
    pos = {n: i for i, n in enumerate(order)}
    rows: dict[Any, Op] = {}
    ops: list[Op | None] = []
    args: list[tuple[int, ...]] = []
    attrs: list[Any] = []
    for node in order:
        if node.kind in LEAF_KINDS:
            ops.append(None)
            args.append(())
        elif node.kind == "op":
            row = rows.get(node.op)
            if row is None:
                row = get_op(node.op, node._describe()) if isinstance(node.op, str) else get_op(repr(node.op), node._describe())
                rows[node.op] = row
            kids = node.children
            n = len(kids)
            if n != row.arity and (row.arity is not None or n < row.min_arity):  # describe only on error
                row.check_arity(n, node._describe())
            ops.append(row)
            args.append(tuple([pos[c] if c.kind != "macro" else pos[_target(c)] for c in kids]))
        else:
            raise GraphError(f"unexpected node kind {node.kind!r} in {node._describe()}")
        attrs.append(node.attr)
    return ops, args, attrs


def _target(node: Node) -> Node:
    while isinstance(node, Macro):
        node = node.expansion()
    return node


def _origin_name(origin: Origin | None) -> str | None:
    if origin is None:
        return None
    stem = {"sum": "z", "activation": "h", "output": "yhat", "loss": "L"}.get(origin.role)
    if stem is None:
        return None
    if origin.layer is not None and origin.unit is not None:
        return f"{stem}{origin.layer}_{origin.unit}"
    if origin.unit is not None:
        return f"{stem}{origin.unit}"
    return stem


def assign_names(order: Sequence[Node], ops: Sequence[Op | None], roots: Sequence[Node]) -> list[str | None]:
    """A name for every non-constant node; see the module docstring for the rules."""
    names: list[str | None] = [None] * len(order)
    owner: dict[str, Node] = {}
    for i, node in enumerate(order):
        if node._name is not None:
            other = owner.get(node._name)
            if other is not None and other is not node:
                raise NameConflictError(
                    f"two different nodes are named '{node._name}' ({other._describe()} and {node._describe()}); "
                    "names must be unique within a network")
            owner[node._name] = node
            names[i] = node._name
    call_names = {row.text.symbol for row in OPS.values() if row.text.kind == "call"}
    for name in owner:
        if name in call_names:
            raise NameConflictError(f"the name '{name}' is also a function name in formulas; choose another")
    taken = set(owner)

    counters: dict[str, int] = {}

    def fresh(base: str, numbered: bool) -> str:
        if not numbered and base not in taken:
            taken.add(base)
            return base
        k = counters.get(base, 1 if numbered else 2)
        sep = "" if numbered or not base[-1].isdigit() else "_"
        while f"{base}{sep}{k}" in taken:
            k += 1
        counters[base] = k + 1
        taken.add(f"{base}{sep}{k}")
        return f"{base}{sep}{k}"

    root_ids = {id(r) for r in roots}
    leaves = sorted((i for i, n in enumerate(order) if n.kind in ("input", "parameter")), key=lambda i: order[i].serial)
    # structured names first, so that generic numbering never takes them
    for i in leaves:
        node = order[i]
        if names[i] is None and node.hint:
            names[i] = fresh(node.hint, numbered=False)
    for i in leaves:
        node = order[i]
        if names[i] is None:
            names[i] = fresh("x" if node.kind == "input" else "w", numbered=True)
    for i, node in enumerate(order):
        if names[i] is not None or node.kind != "op":
            continue
        stem = _origin_name(node.origin)
        if stem is None and id(node) in root_ids and len(roots) == 1:
            stem = "yhat"
        names[i] = fresh(stem, numbered=False) if stem else fresh("t", numbered=True)
    for node, name in zip(order, names):
        if node._name is None:
            node._auto = name
    return names


def _build(order: list[Node], ops: list[Op | None], args: list[tuple[int, ...]], attrs: list[Any],
           names: list[str | None], roots: list[Node], expanded: dict[Node, Node], root: Any,
           vector: bool) -> Program:
    pos = {n: i for i, n in enumerate(order)}
    aliases: dict[Node, int] = {m: pos[_target(t)] for m, t in expanded.items()}
    outputs = tuple(pos[_target(r)] for r in roots)
    return Program(
        nodes=tuple(order), ops=tuple(ops), args=tuple(args), attrs=tuple(attrs), names=tuple(names),
        outputs=outputs,
        inputs=tuple(sorted((i for i, n in enumerate(order) if n.kind == "input"), key=lambda i: order[i].serial)),
        parameters=tuple(sorted((i for i, n in enumerate(order) if n.kind == "parameter"),
                                key=lambda i: order[i].serial)),
        op_indices=tuple(i for i, o in enumerate(ops) if o is not None),
        aliases=aliases, vector=vector,
    )


def validate(program: Program) -> None:
    """Check the invariants every consumer relies on (a lint, like torch.fx's)."""
    for i, (op, args) in enumerate(zip(program.ops, program.args)):
        for a in args:
            if not 0 <= a < i:
                raise GraphError(f"node '{program.names[i]}': child index {a} is not before it")
    for i in program.inputs + program.parameters:
        check_name(program.names[i], f"name of {program.nodes[i].kind}")
