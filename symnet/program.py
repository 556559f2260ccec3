"""compile_program(): one pass from a graph to the flat, self-contained Program every consumer walks.

The steps, in order::

    collect        iterative depth-first walk from the output(s): topological order,
                   macros replaced by their expansion, cycles rejected
    resolve_ops    every op name looked up in the op table, arity checked
    assign_names   every input, parameter and intermediate named, deterministically
    validate       the invariants every consumer relies on (a lint)

The :class:`Program` holds everything a consumer needs: kinds, op rows, children,
attributes, names, which names the user gave, leaf values and provenance
(:class:`~symnet.graph.Origin`). Compiling reads the user's nodes and never writes
to them, so compiling the same nodes into a second network changes nothing in the
first. ``Program.nodes`` keeps the node objects only as handles, so that the
node-level API (``node.forward()``, ``node.backward()``) can map results back.

Order of ``inputs`` and ``parameters``: the order in which the nodes were created
(so ``w * x + b`` has parameters ``[w, b]`` when ``w`` was made first; an ``MLP``
layer by layer, unit by unit, each weight before the bias).

Names: a name given by the user is kept. An unnamed Input becomes ``x1, x2, ...``,
an unnamed Parameter ``w1, w2, ...``; parameters made by macros keep their
structured names (``w1_2_1``: layer 1, unit 2, input 1; ``b1_2``). Intermediates
are named from their origin (``z1_2`` a neuron's weighted sum, ``h1_2`` its
activation, ``L`` the loss) or ``t1, t2, ...``. The network's prediction is
``yhat`` (LaTeX :math:`\\hat{y}`), whatever built it: the prediction a loss
compares, else the output; an MLP's last activation, or its last weighted sum
when the output layer is linear (:math:`\\hat{y} = z^{(L)}`). Several predictions
are ``yhat1, yhat2, ...`` (:math:`\\hat{y}_{1}, \\hat{y}_{2}`), numbered in output
order. Automatic stems never share a letter-and-number pattern with a name the
user gave (:func:`free_stems`: ``o`` when the user has a ``yhat``). Names never
depend on ids or hashing, so they are the same in every run.
"""

from __future__ import annotations

import gc
import re
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from operator import itemgetter
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .errors import GraphCycleError, GraphError, InputError, NameConflictError
from .graph import Node, Origin, check_name
from .ops import OPS, Op, get_op
from .provenance import derive_origins, predictions

__all__ = ["Program", "compile_program", "collect", "collector_paused", "LEAF_KINDS"]

LEAF_KINDS = ("input", "parameter", "constant")


@dataclass(frozen=True)
class Program:
    """The compiled, flat form of a network: nodes in topological order.

    Parallel tuples, one entry per node:

    * ``kinds``: ``"input"``, ``"parameter"``, ``"constant"`` or ``"op"``;
    * ``ops``: the op row (``None`` for leaves); ``args``: child indices, all smaller
      than the node's own; ``attrs``: the op's structured parameter;
    * ``names``: every input, parameter and op node named (constants: ``None``
      unless the user named them); ``given``: ``True`` where the user gave the name;
    * ``values``: leaf values (constants; parameters at compile time, or as a
      :class:`~symnet.network.Network` last set them; inputs that held a value),
      ``None`` for op nodes;
    * ``origins``: where a node came from (a macro's weighted sum, an activation,
      the output, the prediction a loss compares, the loss), else ``None``;
    * ``nodes``: the user's node objects, as handles only (no pass reads them).

    ``outputs`` are the indices of the output(s); ``inputs`` and ``parameters`` the
    leaf indices in the documented order; ``aliases`` maps macro and Output nodes to
    the index that stands for them; ``vector`` is true for an ``Output`` or a list.
    """

    nodes: tuple[Node, ...]
    kinds: tuple[str, ...]
    ops: tuple[Op | None, ...]
    args: tuple[tuple[int, ...], ...]
    attrs: tuple[Any, ...]
    names: tuple[str | None, ...]
    given: tuple[bool, ...]
    values: tuple[Any, ...]
    origins: tuple[Origin | None, ...]
    outputs: tuple[int, ...]
    inputs: tuple[int, ...]
    parameters: tuple[int, ...]
    op_indices: tuple[int, ...]
    aliases: Mapping[Node, int]
    vector: bool

    def __len__(self) -> int:
        return len(self.kinds)

    def index(self, node: Node) -> int:
        """The position of ``node`` (or of the node a macro stands for)."""
        i = self._positions().get(node)
        if i is None:
            i = self.aliases.get(node)
        if i is None:
            label = node.name
            raise GraphError(f"{'node ' + repr(label) if label else 'that node'} is not part of this network")
        return i

    def index_of_name(self, name: str) -> int:
        """The position of the node called ``name``; InputError listing the names otherwise."""
        table = self.__dict__.get("_by_name")
        if table is None:
            table = {n: i for i, n in enumerate(self.names) if n is not None}
            object.__setattr__(self, "_by_name", table)
        try:
            return table[name]
        except (KeyError, TypeError):
            known = [n for n in self.names if n is not None]
            raise InputError(f"no node named {name!r}; names are {', '.join(known[:20])}"
                             + (" ..." if len(known) > 20 else "")) from None

    def describe(self, i: int) -> str:
        """``"sigmoid 'h1_2'"``, ``"parameter 'w'"``, ``"constant 2.0"``: node ``i`` for messages."""
        op = self.ops[i]
        what = op.name if op is not None else self.kinds[i]
        if self.names[i] is not None:
            return f"{what} '{self.names[i]}'"
        return f"constant {self.values[i]!r}" if self.kinds[i] == "constant" else f"{what} node {i}"

    def with_values(self, updates: Mapping[int, float]) -> Program:
        """A copy with the leaf values at the given positions replaced."""
        values = list(self.values)
        for i, v in updates.items():
            if self.kinds[i] not in ("input", "parameter"):
                raise GraphError(f"{self.describe(i)} is not an input or a parameter")
            values[i] = v
        new = replace(self, values=tuple(values))
        pos = self.__dict__.get("_pos")
        if pos is not None:
            object.__setattr__(new, "_pos", pos)
        return new

    def with_parameter_values(self, values: Sequence[float]) -> Program:
        """A copy with every parameter's value replaced, in ``parameters`` order: floats,
        or a float64 array (the values are trusted: callers check them, as
        ``Network.set_parameters`` does, and must not change them afterwards).

        The copy's ``values`` tuple is assembled when it is first read, so that a
        training call that saves its values and the next one that takes them from its
        own buffers (``symnet.train``) do not build it at all.

        >>> import symnet as sn
        >>> p = sn.compile(sn.Parameter(1.0, name="w") * sn.Input("x")).program
        >>> q = p.with_parameter_values([3.0])
        >>> [q.values[i] for i in q.parameters], [p.values[i] for i in p.parameters]
        ([3.0], [1.0])
        """
        if len(values) != len(self.parameters):
            raise GraphError(f"{len(values)} value(s) for {len(self.parameters)} parameter(s)")
        own = self.__dict__
        # the values of every other node: this program's (or, while they are not built
        # yet, those its own were to be assembled from: no chain of programs is kept)
        pending = own.get("_pending")  # dropped only once ``values`` is set (see __getattr__)
        base = own["values"] if pending is None else pending[0]
        # a copy of the fields (as dataclasses.replace, without its checks: this runs once
        # per training call), keeping the caches that do not depend on values
        new = object.__new__(Program)
        new.__dict__.update({name: own[name] for name in _FIELDS if name in own and name != "values"})
        new.__dict__["_pending"] = (base, values)
        return new

    def __getattr__(self, name: str) -> Any:
        # reached only for attributes that are not set: ``values`` of a copy made by
        # with_parameter_values, built here on first use
        pending = self.__dict__.get("_pending") if name == "values" else None
        if pending is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        base, params = pending
        gather = self.__dict__.get("_gather")
        if gather is None:  # position k of the result: params[k'] for a parameter, else base[k]
            slot = {i: k for k, i in enumerate(self.parameters)}
            n = len(self.parameters)
            picks = [slot[k] if k in slot else n + k for k in range(len(base))]
            gather = itemgetter(*picks) if len(picks) > 1 else lambda seq: tuple(seq[k] for k in picks)
            object.__setattr__(self, "_gather", gather)
        values = gather(tuple(params.tolist() if hasattr(params, "tolist") else params) + base)
        object.__setattr__(self, "values", values)
        self.__dict__.pop("_pending", None)  # (another thread may have built them too)
        return values

    def _positions(self) -> dict[Node, int]:
        pos = self.__dict__.get("_pos")
        if pos is None:
            pos = {n: i for i, n in enumerate(self.nodes)}
            object.__setattr__(self, "_pos", pos)
        return pos


#: A Program's fields, and the caches that depend only on its structure (kept by copies
#: with new values).
_FIELDS = (*(f.name for f in fields(Program)), "_pos", "_by_name", "_gather")


def collect(roots: Sequence[Node]) -> tuple[list[Node], dict[Node, Node]]:
    """Topological order of everything below ``roots`` (iterative, children in order).

    Op nodes come in depth-first post-order; each leaf is placed when the walk
    first meets it, so leaves are ordered by first use (layer by layer in an MLP).
    Macros are replaced by their expansions; returns the order and a map from
    each macro to the node that stands for it.
    """
    order: list[Node] = []
    expanded: dict[Node, Node] = {}
    state: dict[Node, int] = {}  # 1: on the stack, 2: done
    append = order.append
    seen = state.get

    for root in roots:
        root = _target(root, expanded)
        if seen(root) == 2:
            continue
        if root.kind in LEAF_KINDS:
            state[root] = 2
            append(root)
            continue
        state[root] = 1
        stack: list[tuple[Node, Any]] = [(root, iter(root.children))]
        while stack:
            node, rest = stack[-1]
            for child in rest:
                kind = child.kind
                if kind == "macro":
                    child = _target(child, expanded)
                    kind = child.kind
                s = seen(child)
                if s is None:
                    if kind in LEAF_KINDS:  # placed when the walk first meets it
                        state[child] = 2
                        append(child)
                        continue
                    if kind == "output":
                        raise GraphError(f"an Output can only be the root; it is an operand of {node._describe()}")
                    state[child] = 1
                    stack.append((child, iter(child.children)))
                    break
                if s == 1:
                    names = [n._describe() for n, _ in stack]
                    start = next(j for j, (n, _) in enumerate(stack) if n is child)
                    raise GraphCycleError("cycle: " + " -> ".join(names[start:] + [child._describe()]))
            else:
                stack.pop()
                state[node] = 2
                append(node)
    return order, expanded


def _target(node: Node, expanded: dict[Node, Node]) -> Node:
    """The elementary node a macro stands for (itself for other nodes)."""
    start = node
    while node.kind == "macro":
        node = node.expansion()
    if start is not node:
        expanded[start] = node
    return node


def compile_program(root: Node | Sequence[Node]) -> Program:
    """The :class:`Program` of a node, an ``Output`` or a list of nodes
    (``sn.compile`` wraps it in a :class:`~symnet.network.Network`).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> p = compile_program(w * x + 1)
    >>> p.names, p.kinds, p.values
    (('w', 'x', 't1', None, 'yhat'), ('parameter', 'input', 'op', 'constant', 'op'), (2.0, None, None, 1.0, None))
    """
    roots, vector = _roots(root)
    with collector_paused():
        return _compile(roots, vector)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while compiling (and while verifying, which
    allocates millions of 50-digit numbers and no cycles either). Compiling allocates
    a few objects per node and no reference cycles, yet each allocation burst makes
    the collector rescan every node of the graph. Measured with bench/compile.py on
    a 10^5-node chain: compile costs 2.5-3.2 net.gradients() evaluations with the
    collector running, 1.6-1.8 with it paused (gc.freeze() gives 2.0, but freezes
    the caller's objects for good)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile(roots: list[Node], vector: bool) -> Program:
    order, expanded = collect(roots)
    pos = {n: i for i, n in enumerate(order)}
    outputs = tuple(pos[expanded.get(r, r)] for r in roots)
    ops, args = resolve_ops(order, pos, expanded)
    kinds = ["op" if op is not None else n.kind for n, op in zip(order, ops)]
    origins = derive_origins(kinds, ops, args, [n.origin for n in order], outputs)
    names, given = assign_names(order, ops, origins, outputs, pos, expanded,
                                predictions(ops, args, origins, outputs))
    program = _build(order, pos, ops, args, names, given, origins, outputs, expanded, vector)
    validate(program)
    return program


def _roots(root: Any) -> tuple[list[Node], bool]:
    if isinstance(root, Node):
        if root.kind == "output":
            return list(root.children), True
        return [root], False
    if isinstance(root, (list, tuple)) and root and all(isinstance(r, Node) for r in root):
        for r in root:
            if r.kind == "output":
                raise GraphError("compile() of a list: an Output cannot be an item; pass its components")
        return list(root), True
    raise GraphError(f"compile() takes a node, an Output or a list of nodes, got {type(root).__name__}")


def resolve_ops(order: Sequence[Node], pos: Mapping[Node, int],
                expanded: Mapping[Node, Node]) -> tuple[list[Op | None], list[tuple[int, ...]]]:
    """Look every op up in the table and check its arity; children become indices."""
    rows: dict[Any, Op] = {}
    ops: list[Op | None] = []
    args: list[tuple[int, ...]] = []
    index = dict(pos)
    for macro, target in expanded.items():
        index[macro] = pos[target]  # a macro operand stands for its expansion
    at = index.__getitem__
    for node in order:
        kind = node.kind
        if kind == "op":
            row = rows.get(node.op)
            if row is None:
                row = get_op(node.op if isinstance(node.op, str) else repr(node.op), node._describe())
                rows[node.op] = row
            kids = node.children
            n = len(kids)
            if n != row.arity and (row.arity is not None or n < row.min_arity):  # describe only on error
                row.check_arity(n, node._describe())
            ops.append(row)
            args.append(tuple(map(at, kids)))
        elif kind in LEAF_KINDS:
            ops.append(None)
            args.append(())
        else:
            raise GraphError(f"unexpected node kind {kind!r} in {node._describe()}")
    return ops, args


#: The stems of automatic names, by role, in order of preference: the first one
#: that no name the user gave shares a letter-and-number pattern with is used
#: (targets ``t1``, ``t2`` make temporaries ``v1, v2, ...``).
STEMS = {"sum": ("z", "s"), "activation": ("h", "a"), "output": ("yhat", "o"), "loss": ("L", "E"),
         "temporary": ("t", "v", "u", "tmp")}


def free_stems(user_names: Iterable[str]) -> dict[str, str]:
    """The stem each role uses, given the names the user gave.

    >>> free_stems(["t1", "t2", "x"])["temporary"], free_stems(["h1", "w"])["activation"]
    ('v', 'a')
    """
    names = list(user_names)
    chosen = {}
    for role, candidates in STEMS.items():
        pattern = [re.compile(rf"{re.escape(c)}(\d+(_\d+)*)?") for c in candidates]
        chosen[role] = next((c for c, rx in zip(candidates, pattern) if not any(rx.fullmatch(n) for n in names)),
                            candidates[-1])
    return chosen


def _origin_name(origin: Origin | None, stems: Mapping[str, str]) -> str | None:
    if origin is None:
        return None
    stem = stems.get(origin.role) if origin.role != "temporary" else None
    if stem is None:
        return None
    if origin.layer is not None and origin.unit is not None:
        return f"{stem}{origin.layer}_{origin.unit}"
    if origin.unit is not None:
        return f"{stem}{origin.unit}"
    return stem


class _Names:
    """Fresh names that never take a name already used."""

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.counters: dict[str, int] = {}

    def fresh(self, base: str, numbered: bool) -> str:
        taken = self.taken
        if not numbered and base not in taken:
            taken.add(base)
            return base
        k = self.counters.get(base, 1 if numbered else 2)
        sep = "" if numbered or not base[-1].isdigit() else "_"
        while f"{base}{sep}{k}" in taken:
            k += 1
        self.counters[base] = k + 1
        name = f"{base}{sep}{k}"
        taken.add(name)
        return name


def assign_names(order: Sequence[Node], ops: Sequence[Op | None], origins: Sequence[Origin | None],
                 outputs: Sequence[int], pos: Mapping[Node, int],
                 expanded: Mapping[Node, Node], preds: Sequence[int] = ()) -> tuple[list[str | None], list[bool]]:
    """A name for every non-constant node, and whether the user gave it (see the
    module docstring for the rules); ``preds``: the network's predictions
    (:func:`~symnet.provenance.predictions`), named ``yhat`` or ``yhat1, yhat2, ...``
    by their position. Nothing is written to the nodes."""
    n = len(order)
    names: list[str | None] = [None] * n
    given = [False] * n
    owner: dict[str, Node] = {}
    for i, node in enumerate(order):
        name = node._name
        if name is not None:
            other = owner.get(name)
            if other is not None and other is not node:
                raise NameConflictError(
                    f"two different nodes are named '{name}' ({other._describe()} and {node._describe()}); "
                    "names must be unique within a network")
            owner[name] = node
            names[i] = name
            given[i] = True
    # a macro's name (Linear(..., name="z")) names the node it stands for
    for macro, target in expanded.items():
        if macro._name is not None:
            i = pos[target]
            if names[i] is None:
                if macro._name in owner and owner[macro._name] is not macro:
                    raise NameConflictError(f"two different nodes are named '{macro._name}'")
                owner[macro._name] = macro
                names[i], given[i] = macro._name, True
    call_names = {row.text.symbol for row in OPS.values() if row.text.kind == "call"}
    call_names |= {row.function for row in OPS.values() if row.function}
    for name in owner:
        if name in call_names:
            raise NameConflictError(f"the name '{name}' is also a function name in formulas; choose another")
    for node in order:  # a structured name (a macro's, or a model file's hint) obeys the same rule
        if node.hint is not None and node._name is None and node.hint in call_names:
            raise NameConflictError(f"the name hint '{node.hint}' of {node.kind} is also a function name "
                                    "in formulas; choose another")
    namer = _Names(set(owner))
    fresh = namer.fresh

    leaves = sorted((i for i, nd in enumerate(order) if nd.kind in ("input", "parameter")),
                    key=lambda i: order[i].serial)
    # structured names first, so that generic numbering never takes them
    for i in leaves:
        hint = order[i].hint
        if names[i] is None and hint:
            names[i] = fresh(hint, numbered=False)
    for i in leaves:
        if names[i] is None:
            names[i] = fresh("x" if order[i].kind == "input" else "w", numbered=True)
    stems = free_stems(owner)
    temp = stems["temporary"]
    out = stems["output"]
    pred_name = {i: out if len(preds) == 1 else f"{out}{k}" for k, i in enumerate(preds, start=1)}
    taken = namer.taken
    k = 0  # the counter of temporaries t1, t2, ...: the hot path on long chains
    for i in range(n):
        if names[i] is not None or ops[i] is None:
            continue
        stem = pred_name.get(i) or _origin_name(origins[i], stems)
        if stem is not None:
            names[i] = fresh(stem, numbered=False)
            continue
        k += 1
        while f"{temp}{k}" in taken:
            k += 1
        names[i] = f"{temp}{k}"
        taken.add(names[i])
    return names, given


def _build(order: list[Node], pos: dict[Node, int], ops: list[Op | None], args: list[tuple[int, ...]],
           names: list[str | None], given: list[bool], origins: list[Origin | None], outputs: tuple[int, ...],
           expanded: dict[Node, Node], vector: bool) -> Program:
    kinds = tuple(["op" if op is not None else n.kind for n, op in zip(order, ops)])
    values = tuple([n._value if op is None else None for n, op in zip(order, ops)])
    serial = [n.serial for n in order]
    program = Program(
        nodes=tuple(order), kinds=kinds, ops=tuple(ops), args=tuple(args),
        attrs=tuple([n.attr for n in order]), names=tuple(names), given=tuple(given),
        values=values, origins=tuple(origins),
        outputs=outputs,
        inputs=tuple(sorted((i for i, k in enumerate(kinds) if k == "input"), key=serial.__getitem__)),
        parameters=tuple(sorted((i for i, k in enumerate(kinds) if k == "parameter"), key=serial.__getitem__)),
        op_indices=tuple(i for i, o in enumerate(ops) if o is not None),
        aliases={m: pos[t] for m, t in expanded.items()}, vector=vector,
    )
    object.__setattr__(program, "_pos", pos)
    return program


def validate(program: Program) -> None:
    """Check the invariants every consumer relies on (a lint, like torch.fx's)."""
    for i, args in enumerate(program.args):
        if args and not (0 <= min(args) and max(args) < i):
            bad = next(a for a in args if not 0 <= a < i)
            raise GraphError(f"node '{program.names[i]}': child index {bad} is not before it")
    for i in program.inputs + program.parameters:
        check_name(program.names[i], f"name of {program.kinds[i]}")
