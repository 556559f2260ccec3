"""``Value``: micrograd's scalar autograd API, backed by symnet's graph and engine.

A :class:`Value` is a symnet :class:`~symnet.graph.Node`, so everything symnet does
with nodes works on it: ``sn.compile(value)`` prints, checks and reports the graph.
What micrograd users write keeps working: ``Value(data, _children=(), _op='',
label='')``, ``.data``, ``.grad``, ``.backward()``, ``+ - * / **``, the reversed
operators, ``relu()``, ``tanh()``, ``exp()`` (and every other op row's method:
``sigmoid()``, ``log()``, ``softplus()``, ...), ``_prev`` and ``_op``. A Value built
by hand from its children, as in the backprop articles (``Value(t, (self,),
'tanh')``), takes its op from ``_op`` (micrograd's spelling or a symnet function
name) and needs no ``_backward`` closure: the op row gives the derivative.

Gradient accumulation follows micrograd: ``backward()`` sets the root's grad to 1
and *adds* each node's derivative to its ``.grad``, so a second ``backward()``
doubles the grads unless you zero them first (``Module.zero_grad()``, or ``v.grad
= 0``). symnet's own ``Node.backward()`` instead starts afresh on every call. The
derivatives come from one iterative reverse pass of symnet's engine, so graphs of
any depth work (micrograd's recursive topological sort stops near depth 1000).

>>> from symnet.micrograd import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = (a * b + 1).tanh()
>>> c.backward(); round(a.grad, 6), round(b.grad, 6)
(-0.000545, 0.000363)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable

from ..network import compile as compile_graph
from ..engine import backward as engine_backward
from ..errors import GraphError, NumericalError, OperandError, SymnetError
from ..graph import Node, check_name
from ..ops import OPS, Op, format_exponent, get_op

__all__ = ["Value", "MICROGRAD_OPS", "op_from_micrograd", "micrograd_symbol"]

#: micrograd's spellings of ops that are not a symnet function name (``**k`` is ``pow``).
MICROGRAD_OPS = {"+": "add", "*": "mul", "-": "sub", "/": "div", "ReLU": "relu", "neg": "neg"}
_SYMBOLS = {"add": "+", "mul": "*", "sub": "-", "div": "/", "relu": "ReLU"}


def op_from_micrograd(op: Any, n_children: int, where: str) -> tuple[Op, Any]:
    """The op row and attr a micrograd ``_op`` label names (``"+"``, ``"**2"``, ``"tanh"``).

    >>> op_from_micrograd("**-1", 1, "v")[0].name, op_from_micrograd("**-1", 1, "v")[1]
    ('pow', -1.0)
    """
    if not isinstance(op, str):
        raise GraphError(f"{where}: _op must be a string, got {type(op).__name__}")
    if op.startswith("**") or op.startswith("^"):
        text = op[2:] if op.startswith("**") else op[1:]
        try:
            p = float(text)
        except ValueError:
            raise GraphError(f"{where}: cannot read the exponent of _op {op!r}") from None
        if not math.isfinite(p):
            raise GraphError(f"{where}: the exponent of _op {op!r} is not finite")
        return get_op("pow"), p
    name = MICROGRAD_OPS.get(op)
    row = OPS.get(name) if name else OPS.find("function", op) or OPS.find("function", op.lower())
    if row is None:
        known = sorted({*MICROGRAD_OPS, "**k", *(r.function for r in OPS.values() if r.function)})
        raise GraphError(f"{where}: unknown op {op!r}; known: {', '.join(known)}")
    return row, None


def micrograd_symbol(row: Op, attr: Any) -> str:
    """How micrograd labels an op: ``+``, ``*``, ``**2``, ``ReLU``; other ops by their name."""
    if row.name == "pow":
        return "**" + format_exponent(attr)
    return _SYMBOLS.get(row.name, row.function or row.name)


def _number(x: Any, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise OperandError(f"{where}: expected a number, got {type(x).__name__} {x!r:.40}")
    v = float(x)
    if not math.isfinite(v):
        raise NumericalError(f"{where}: value must be finite, got {v!r}")
    return v


class Value(Node):
    """A scalar with a gradient, as in micrograd (see the module docstring).

    ``Value(data)`` is a leaf (a parameter of the graph); ``Value(data, children,
    op)`` an op node whose op is read from ``op``. ``label`` names the node in
    symnet's printouts when it is a valid name.
    """

    __slots__ = ("label",)

    def __init__(self, data: Any, _children: Iterable[Any] = (), _op: str = "", label: str = "") -> None:
        kids = tuple(_children)
        for k, c in enumerate(kids):
            if not isinstance(c, Node):
                raise OperandError(f"Value: child {k + 1} must be a Value, got {type(c).__name__}")
        value = _number(data, "Value data")
        if kids:
            row, attr = op_from_micrograd(_op, len(kids), "Value")
            if row.name in ("add", "mul") and len(kids) == 1:  # x + x and x * x have one child in _prev
                kids = kids * 2
            row.check_arity(len(kids), f"Value with _op {_op!r}")
            Node.__init__(self, "op", row.name, kids, attr, _name_of(label))
        else:
            Node.__init__(self, "parameter", None, (), None, _name_of(label))
        self._value = value
        self.grad = 0.0
        self.label = label

    @classmethod
    def _build(cls, op: str, children: Iterable[Any], attr: Any = None, name: str | None = None) -> Node:
        kids = tuple(c if isinstance(c, Node) else _constant(c) for c in children)
        row = get_op(op)
        xs = tuple(c._value for c in kids)
        try:
            data = row.forward(xs, attr)
        except (ArithmeticError, ValueError) as exc:
            raise NumericalError(f"{op} failed on {', '.join(map(repr, xs))}: {exc}") from None
        out = Value.__new__(Value)
        Node.__init__(out, "op", op, kids, attr, name)
        out._value = data
        out.grad = 0.0
        out.label = ""
        return out

    # -- micrograd's attributes ------------------------------------------------

    @property
    def data(self) -> float:
        return self._value

    @data.setter
    def data(self, v: Any) -> None:
        if self.kind == "parameter":
            self.value = v  # checked, and marks the leaf as changed for symnet's caches
        else:
            self._value = _number(v, "Value data")

    @property
    def _prev(self) -> set[Node]:
        return set(self.children)

    @property
    def _op(self) -> str:
        if self.kind != "op":
            return ""
        return micrograd_symbol(get_op(self.op), self.attr)

    def backward(self, seed: Any = None) -> None:
        """Add d(self)/d(node) to every node's ``.grad`` (and set this one's to 1), as
        micrograd does; derivatives come from symnet's engine (iterative, any depth)."""
        net = compile_graph(self)
        p = net.program
        vals = net.forward_values([])
        adj = engine_backward(p, vals, {p.outputs[0]: 1.0})
        for i, node in enumerate(p.nodes):
            if node is not self and isinstance(node, Value):
                node.grad += adj[i]
        self.grad = 1.0

    def __repr__(self) -> str:
        return f"Value(data={self._value}, grad={self.grad})"


def _constant(x: Any) -> Value:
    """A number used as an operand: a leaf Value that is a constant of the graph."""
    v = Value.__new__(Value)
    Node.__init__(v, "constant")
    v._value = _number(x, "operand")
    v.grad = 0.0
    v.label = ""
    return v


def _name_of(label: Any) -> str | None:
    if not label:
        return None
    try:
        return check_name(label)
    except SymnetError:
        return None  # 'x1*w1' or 'e' is a fine label but not a symnet name
