"""Import a micrograd graph (micrograd's ``Value`` or any clone of it) as a symnet network.

Anything with ``data``, ``grad``, ``_prev`` and ``_op`` is a node: micrograd's own
``Value``, the backprop articles' ``MyTensor``, :class:`symnet.micrograd.Value`. The
graph is walked iteratively (no recursion limit) from the root.

* Leaves listed in ``inputs`` become :class:`~symnet.graph.Input` nodes and leaves in
  ``parameters`` :class:`~symnet.graph.Parameter` nodes, in the order given, valued
  by their ``data``; every other leaf is a :class:`~symnet.graph.Constant`.
* ``_op`` names the op: micrograd's ``+``, ``*``, ``**k`` and ``ReLU``, or any
  function name of symnet's op table (``tanh``, ``exp``, ``log``, ``sigmoid``, ...).
  ``x + x`` and ``x * x`` keep a single child in micrograd's ``_prev``; they are read
  as such. Non-commutative ops (``-``, ``/``) need their children in order, which a
  ``_prev`` set does not keep; a ``_children`` tuple or list, if the class has one,
  gives the order (symnet's own Values keep it).
* A ``label`` that is a valid symnet name, used once, names its node; inputs without
  one are ``x1, x2, ...``.
* Every op node's value is recomputed and must agree with its ``data`` (to 1e-9
  relative): a misread op or stale data raise :class:`~symnet.errors.GraphError`
  naming the node.

The children of ``+`` and ``*`` in a ``_prev`` set come in no fixed order; they are
sorted (op nodes first, by label, op and value; then parameters and inputs in
the order given; then constants by label and value) so that the same graph prints the same way in
every run.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from .network import compile as compile_graph
from .errors import GraphError, InputError, SymnetError
from .graph import Constant, Input, Node, Output, Parameter, check_name
from .micrograd.engine import op_from_micrograd
from .network import Network

__all__ = ["from_micrograd"]

_FIELDS = ("data", "grad", "_prev", "_op")


def _is_value(obj: Any) -> bool:
    return all(hasattr(obj, f) for f in _FIELDS)


def _children(v: Any, rank: dict[int, tuple[Any, ...]], where: str) -> tuple[Any, ...]:
    if isinstance(v, Node):
        return v.children
    ordered = getattr(v, "_children", None)
    if isinstance(ordered, (tuple, list)):
        return tuple(ordered)
    prev = v._prev
    try:
        kids = list(prev)
    except TypeError:
        raise GraphError(f"{where}: _prev must be a collection of values, got {type(prev).__name__}") from None
    if isinstance(prev, (tuple, list)):
        return tuple(kids)
    op = v._op
    if len(kids) > 1 and op not in ("+", "*"):
        raise GraphError(f"{where}: op {op!r} needs its children in order, but _prev is a set; "
                         "give the class an ordered _children tuple")
    return tuple(sorted(kids, key=lambda c: rank.get(id(c), (0,))))


def _label(v: Any) -> str:
    label = getattr(v, "label", "")
    return label if isinstance(label, str) else ""


def _data(v: Any, where: str) -> float:
    d = v.data
    try:
        x = float(d)
    except (TypeError, ValueError):
        raise GraphError(f"{where}: data {d!r:.40} is not a number") from None
    if not math.isfinite(x):
        raise GraphError(f"{where}: data {x!r} is not finite")
    return x


def _describe(v: Any) -> str:
    label = _label(v)
    return f"value {label!r}" if label else f"value with data {getattr(v, 'data', '?')!r:.30} (op {v._op!r})"


def from_micrograd(root: Any, inputs: Sequence[Any] = (), parameters: Sequence[Any] = ()) -> Network:
    """A symnet network computing the micrograd graph below ``root`` (a Value or a list).

    ``inputs`` and ``parameters`` are leaf Values, in the order the network lists them.
    Raises :class:`~symnet.errors.InputError` for arguments that are not micrograd
    values or not leaves of the graph, :class:`~symnet.errors.GraphError` for an
    unknown op or a node whose data disagrees with its op.

    >>> import symnet as sn
    >>> from symnet.micrograd import Value
    >>> x, w, b = Value(2.0, label="x"), Value(-0.5, label="w"), Value(0.25, label="b")
    >>> y = (w * x + b).tanh()
    >>> net = sn.from_micrograd(y, inputs=[x], parameters=[w, b])
    >>> net.funcify(), net.input_names, net.parameter_names
    ('tanh(w*x + b)', ['x'], ['w', 'b'])
    """
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    if not roots:
        raise InputError("from_micrograd: root is an empty list")
    for what, items in (("root", roots), ("inputs", inputs), ("parameters", parameters)):
        for k, v in enumerate(items):
            if not _is_value(v):
                raise InputError(f"from_micrograd: {what}[{k}] is a {type(v).__name__}, not a micrograd value "
                                 f"(it needs {', '.join(_FIELDS)})")
    built: dict[int, Node] = {}
    rank: dict[int, tuple[Any, ...]] = {}
    for group, items in ((2, inputs), (1, parameters)):
        for k, v in enumerate(items):
            if id(v) in rank:
                raise InputError(f"from_micrograd: {_describe(v)} is given twice")
            rank[id(v)] = (group, k)

    # which labels can be names: valid, and used by one value only
    labels: dict[str, list[int]] = {}
    order: list[Any] = []
    seen: set[int] = set()
    stack = list(reversed(roots))
    while stack:  # every value once, any order: for labels and ranks
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        order.append(v)
        if _label(v):
            labels.setdefault(_label(v), []).append(id(v))
        prev = v._prev if not isinstance(v, Node) else v.children
        try:
            stack.extend(c for c in prev if id(c) not in seen)
        except TypeError:
            raise GraphError(f"{_describe(v)}: _prev must be a collection of values") from None
    for v in order:
        if id(v) not in rank:
            key = (_label(v), str(v._op), _data(v, _describe(v)))
            rank[id(v)] = (3, *key) if not _prev_of(v) else (0, *key)
    for group, items in (("inputs", inputs), ("parameters", parameters)):
        for v in items:
            if id(v) not in seen:
                raise InputError(f"from_micrograd: {group} lists {_describe(v)}, which the root does not use")
            if _prev_of(v):
                raise InputError(f"from_micrograd: {group} lists {_describe(v)}, which is not a leaf (op {v._op!r})")

    def name_for(v: Any) -> str | None:
        label = _label(v)
        if not label or len(labels.get(label, ())) != 1:
            return None
        try:
            check_name(label)
        except SymnetError:
            return None
        return label

    values: dict[int, float] = {}  # every value as recomputed, to check each op against its data
    for k, v in enumerate(inputs, start=1):
        values[id(v)] = _data(v, _describe(v))
        built[id(v)] = Input(name_for(v) or f"x{k}", values[id(v)])
    for v in parameters:
        values[id(v)] = _data(v, _describe(v))
        built[id(v)] = Parameter(values[id(v)], name=name_for(v))

    # iterative post-order: children before parents
    walk: list[tuple[Any, int, tuple[Any, ...]]] = [(r, 0, ()) for r in reversed(roots)]
    while walk:
        v, k, kids = walk.pop()
        if id(v) in built:
            continue
        where = _describe(v)
        if k == 0:
            kids = _children(v, rank, where) if _prev_of(v) else ()
        if k < len(kids):
            walk.append((v, k + 1, kids))
            if id(kids[k]) not in built:
                walk.append((kids[k], 0, ()))
            continue
        if not kids:
            values[id(v)] = _data(v, where)
            built[id(v)] = Constant(values[id(v)], name=name_for(v))
            continue
        row, attr = op_from_micrograd(v._op, len(kids), where)
        if row.name in ("add", "mul") and len(kids) == 1:
            kids = kids * 2
        if row.name == "add" and len(kids) == 2 and not name_for(v):
            kept = [c for c in kids if not _sum_start(c, rank)]
            if len(kept) == 1:  # Python's sum() starts at 0: 0 + a is a, as micrograd prints it
                want = _data(v, where)
                if values[id(kept[0])] == want:
                    values[id(v)], built[id(v)] = want, built[id(kept[0])]
                    continue
        try:
            node = Node.apply(row.name, tuple(built[id(c)] for c in kids), attr=attr, name=name_for(v))
        except SymnetError as exc:
            raise GraphError(f"{where}: {exc}") from None
        want = _data(v, where)
        try:
            got = row.forward(tuple(values[id(c)] for c in kids), attr)
        except (ArithmeticError, ValueError) as exc:
            raise GraphError(f"{where}: op {v._op!r} fails on its children's data: {exc}") from None
        if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            raise GraphError(f"{where}: op {v._op!r} of its children gives {got!r}, but its data is {want!r} "
                             "(an op symnet reads differently, or data changed after the graph was built)")
        values[id(v)] = got
        built[id(v)] = node
    outs = [built[id(r)] for r in roots]
    return compile_graph(outs[0] if len(outs) == 1 else Output(outs))


def _sum_start(v: Any, rank: dict[int, tuple[Any, ...]]) -> bool:
    """Whether ``v`` is the start value of Python's ``sum()``: an unlabelled constant 0
    (not an input or parameter) with no children."""
    return rank[id(v)][0] == 3 and not rank[id(v)][1] and rank[id(v)][3] == 0.0  # (3, label, op, data)


def _prev_of(v: Any) -> bool:
    prev = v.children if isinstance(v, Node) else v._prev
    try:
        return len(prev) > 0
    except TypeError:
        return bool(prev)

