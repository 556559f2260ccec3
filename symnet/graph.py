"""Graph nodes: leaves (Input, Parameter, Constant), op nodes, macros and outputs.

A node is its kind, its op name, an ordered tuple of children, a structured op
parameter (``attr``) and a name. Nodes hold no closures. ``.value`` and ``.grad``
are results that the engine's passes write back after computing into fresh lists.

>>> import symnet as sn
>>> x, w, b = sn.Input("x", 3.0), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
>>> y = w * x + b
>>> y.forward()
1.75
>>> y.backward(); w.grad, x.grad, b.grad
(3.0, 0.5, 1.0)
"""

from __future__ import annotations

import itertools
import keyword
import math
import numbers
import random
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from .errors import GraphError, InputError, NameConflictError, OperandError, shown
from .ops import OPS, Op, get_op

__all__ = [
    "Node", "Input", "Parameter", "Constant", "Output", "Macro", "Origin",
    "Add", "Multiply", "Subtract", "Negate", "Divide", "Power", "Exp", "Log", "ReLU", "Sigmoid", "Tanh",
    "seed", "default_rng", "as_node", "check_name", "use_node_sessions",
]

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
#: Names a leaf may not take: Python keywords and the function names of formulas.
RESERVED_NAMES = frozenset(keyword.kwlist) | {"max", "min", "abs", "e", "pi", "inf", "nan"}

_rng = random.Random()

#: Makes the node-level evaluation of a root node (``node.forward()``, ``.backward()``,
#: ``.compile()``). This module sits below the compiler, so it never imports it: the
#: package's ``__init__`` passes :class:`symnet.network.NodeSession` to
#: :func:`use_node_sessions` (dependency injection, so that imports point one way).
_node_sessions: Callable[[Node], Any] | None = None


def use_node_sessions(factory: Callable[[Node], Any]) -> None:
    """Set the factory of node-level evaluations (called once, by ``symnet/__init__``)."""
    global _node_sessions
    _node_sessions = factory
# Creation order of nodes: the documented order of a network's inputs and parameters.
_serials = itertools.count()

#: The serial of the last write to a leaf's value. Every write gives the leaf this new
#: serial as its version, so versions only grow, and a cache that saw this serial has
#: seen every write made so far (see :func:`leaf_writes`).
_last_write = 0


def leaf_writes() -> int:
    """The serial of the last ``.value`` assignment to any Input or Parameter: while it is
    unchanged, no leaf anywhere has a new value (a cache may skip reading them).

    >>> import symnet as sn
    >>> w = sn.Parameter(1.0)
    >>> before = leaf_writes(); w.value = 2.0
    >>> leaf_writes() > before, w._version == leaf_writes()
    (True, True)
    """
    return _last_write


def write_values(leaves: Sequence[Node], values: Sequence[float]) -> int:
    """``leaf.value = v`` for each pair, as one write: every leaf takes the same new
    version, which is returned (:func:`leaf_writes` is then past it). The values are trusted (the caller checked them finite,
    as training does for every value it makes) and the leaves are Inputs or Parameters.

    >>> import symnet as sn
    >>> a, b = sn.Parameter(1.0), sn.Parameter(2.0)
    >>> v = write_values([a, b], [3.0, 4.0]); (a.value, b.value), a._version == b._version == v < leaf_writes()
    ((3.0, 4.0), True)
    """
    global _last_write
    _last_write += 1
    version = _last_write
    for leaf, v in zip(leaves, values):
        leaf._value = v
        leaf._version = version
    # published again once every value is in place: a cache that read the leaves while
    # this loop ran (another thread) sees a newer serial and reads them again
    _last_write += 1
    return version


def seed(n: int | None) -> None:
    """Seed the generator that initialises unvalued Parameters (reproducible runs).

    >>> import symnet as sn
    >>> sn.seed(0); a = sn.Parameter().value
    >>> sn.seed(0); a == sn.Parameter().value
    True
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise InputError(f"seed must be an integer or None, got {type(n).__name__} {shown(n)}")
    _rng.seed(n)


def default_rng() -> random.Random:
    """The generator ``Parameter()`` draws from; ``seed`` resets it."""
    return _rng


def check_name(name: Any, what: str = "name") -> str:
    """Return ``name`` if it is a valid symnet name, else raise NameConflictError.

    A name is an ASCII identifier: a letter, then letters, digits or ``_``, at
    most 64 characters, not a Python keyword nor a formula function name.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise NameConflictError(
            f"invalid {what} {shown(name, 70)}: use a letter followed by letters, digits or '_' (at most 64 characters)"
        )
    if name in RESERVED_NAMES:
        raise NameConflictError(f"invalid {what} {name!r}: it is a reserved word")
    return name


def _finite(value: Any, where: str) -> float:
    if type(value) is float and value - value == 0.0:  # fast path: a finite float
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OperandError(f"{where}: expected a real number, got {type(value).__name__} {shown(value, 60)}")
    try:
        v = float(value)
    except OverflowError:  # an int beyond the float range (10**400)
        raise InputError(f"{where}: {shown(value)} is too large for a float") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: value must be finite, got {v!r}")
    return v



@dataclass(frozen=True)
class Origin:
    """Where a node came from when a macro or loss built it (for names and layer-wise code).

    ``role`` is one of ``"sum"`` (a neuron's pre-activation), ``"activation"``,
    ``"product"``, ``"output"`` or ``"loss"``; ``layer`` and ``unit`` count from 1.
    """

    role: str
    layer: int | None = None
    unit: int | None = None


def method_row(method: str) -> Op | None:
    """The op row whose ``method`` field is ``method`` (``"relu"``), or None."""
    return OPS.find("method", method)


def operator_row(protocol: str) -> Op | None:
    """The op row that claims the Python operator ``protocol`` (``"add"``, ``"neg"``), or None."""
    return OPS.find("operator", protocol)


def _param_value(row: Op, value: Any, where: str) -> Any:
    if isinstance(value, Node):
        raise OperandError(f"{where}: the {row.param} of '{row.name}' must be a number, not a node")
    return _finite(value, f"{where}: {row.param} of '{row.name}'")


def _binary(protocol: str, reflected: bool = False) -> Any:
    symbol = _SYMBOLS.get(protocol, protocol)

    def method(self: Node, other: Any) -> Any:
        row = operator_row(protocol)
        if row is None:
            return NotImplemented
        if row.param is not None:  # the other operand is the op's number: x ** 2
            if reflected:
                article = "an" if row.param[0] in "aeiou" else "a"
                raise OperandError(f"{self._describe()}: a node cannot be {article} {row.param} (of {symbol})"
                                   + ("; write exp(x*log(base))" if protocol == "pow" else ""))
            if isinstance(other, Node):
                raise OperandError(f"{self._describe()}: the {row.param} of {symbol} must be a number, not a node"
                                   + (" (write exp(y*log(x)) for a variable exponent)" if protocol == "pow" else ""))
            return type(self)._build(row.name, (self,), attr=_finite(other, f"{row.param} of {symbol}"))
        return type(self)._build(row.name, (other, self) if reflected else (self, other))

    method.__name__ = f"__{'r' if reflected else ''}{protocol}__"
    return method


def _unary(protocol: str) -> Any:
    def method(self: Node) -> Any:
        row = operator_row(protocol)
        if row is None:
            raise OperandError(f"{self._describe()}: no op is written {_SYMBOLS.get(protocol, protocol)!r}")
        return type(self)._build(row.name, (self,))

    method.__name__ = f"__{protocol}__"
    return method


class _Method:
    """``node.<method>``: the op row's sugar bound to a node (see :meth:`Node.__getattr__`)."""

    __slots__ = ("row", "node")

    def __init__(self, row: Op, node: Node) -> None:
        self.row, self.node = row, node

    @property
    def __name__(self) -> str:  # noqa: A003 - what a bound method reports
        return self.row.method or self.row.name

    @property
    def __doc__(self) -> str:  # type: ignore[override]
        return f"'{self.row.name}' of this node: {self.row.doc}"

    def __call__(self, *others: Any, name: str | None = None, **param: Any) -> Node:
        row, node = self.row, self.node
        if not others and not param:  # the common case: z.relu()
            return type(node)._build(row.name, (node,), name=name)
        where = f"{node._describe()}.{row.method}()"
        attr = None  # the row's default
        if row.param is not None:
            extra = (row.arity or 1) - 1
            if len(others) > extra:  # the number after the other operands: z.leaky_relu(0.1)
                if len(others) > extra + 1 or param:
                    raise OperandError(f"{where}: too many arguments")
                attr = _param_value(row, others[-1], where)
                others = others[:-1]
            elif param:
                unknown = [k for k in param if k != row.param]
                if unknown:
                    raise OperandError(f"{where}: unexpected argument {unknown[0]!r}; '{row.name}' takes {row.param}=")
                attr = _param_value(row, param[row.param], where)
        elif param:
            raise OperandError(f"{where}: unexpected argument {next(iter(param))!r}")
        return type(node)._build(row.name, (node, *others), attr=attr, name=name)


#: How each slot of the operator protocol is written, for messages.
_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "matmul": "@",
            "pow": "**", "neg": "unary -", "abs": "abs()", "invert": "~"}


class Node:
    """A node of a computation graph. Build nodes with the leaf classes, the op
    classes (``Add([a, b])``), arithmetic (``w * x + b``) or methods (``z.relu()``)."""

    __slots__ = ("kind", "op", "children", "attr", "_name", "hint", "_value", "_version",
                 "grad", "origin", "_network", "serial", "__weakref__")

    def __init__(self, kind: str, op: str | None = None, children: Sequence[Node] = (),
                 attr: Any = None, name: str | None = None) -> None:
        self.kind = kind
        self.op = op
        self.children: tuple[Node, ...] = tuple(children)
        self.attr = attr
        self._name = None if name is None else check_name(name)
        self.hint: str | None = None
        self._value: Any = None
        self._version = 0
        self.grad: float | None = None
        self.origin: Origin | None = None
        self._network: Any = None
        self.serial = next(_serials)

    # -- construction ------------------------------------------------------

    @staticmethod
    def apply(op: str, children: Iterable[Any], attr: Any = None, name: str | None = None) -> Node:
        """Build an op node from children (nodes or numbers), checking the arity."""
        row = get_op(op)
        if type(children) is not tuple:
            children = _as_sequence(children, op)
        kids = tuple([c if isinstance(c, Node) else as_node(c, f"operand {i + 1} of '{op}'")
                      for i, c in enumerate(children)])
        n = len(kids)
        if n != row.arity and (row.arity is not None or n < row.min_arity):  # format only on error
            row.check_arity(n, f"'{op}' node" + (f" '{name}'" if name else ""))
        for k in kids:
            if k.kind == "output":
                raise GraphError(f"'{op}': an Output (vector) cannot be an operand; use one of its components")
        cls = _OP_CLASSES.get(op, Node)
        node = Node.__new__(cls)
        Node.__init__(node, "op", op, kids, attr, name)
        return node

    @classmethod
    def _build(cls, op: str, children: Iterable[Any], attr: Any = None, name: str | None = None) -> Node:
        """What the generated sugar builds: :meth:`apply` (a subclass may build its own kind)."""
        return Node.apply(op, children, attr=attr, name=name)

    # -- names and values --------------------------------------------------

    @property
    def name(self) -> str | None:
        """The node's name: the one given, else the structured name a macro suggested
        (``w1_2_1``), else ``None``. A network may name an unnamed node differently
        (``x1``, ``w1``, ``t3``): see ``Network.parameter_names`` and
        ``Network.named_parameters()``; compiling never writes to a node."""
        return self._name if self._name is not None else self.hint

    @property
    def value(self) -> Any:
        """A leaf's value; for other nodes, the value the last forward pass computed."""
        return self._value

    @value.setter
    def value(self, v: Any) -> None:
        if self.kind not in ("input", "parameter"):
            raise GraphError(f"cannot set the value of {self._describe()}: only Inputs and Parameters hold values")
        # a finite float is taken as it is (no message built); anything else is checked
        # the value first, then the serial: a cache that sees the new serial reads the new value
        self._value = v if type(v) is float and v - v == 0.0 else _finite(v, self._describe())
        global _last_write
        _last_write += 1
        self._version = _last_write

    def _describe(self) -> str:
        label = self._name or self.hint
        what = self.op if self.kind == "op" else self.kind
        return f"{what} '{label}'" if label else f"{what} node"

    # -- passes (implemented in compile/engine; imported lazily to keep imports one-way)

    def _session(self) -> Any:
        """The node-level evaluation of this node (its program compiled once and kept)."""
        if self._network is None:
            if _node_sessions is None:
                raise GraphError("the node-level API is not wired: import symnet")
            self._network = _node_sessions(self)
        return self._network

    def compile(self) -> Any:
        """The :class:`~symnet.network.Network` of this node, with the leaves' current
        values (the structure is compiled once and kept; values are read again when a
        leaf changed since the last call)."""
        return self._session().network()

    def forward(self) -> Any:
        """Compute and return this node's value from the leaves' current values, and
        write ``.value`` on every op node below. Nodes whose inputs did not change
        since the last call reuse their cached value."""
        return self._session().forward()

    def backward(self, seed: Any = None) -> None:
        """Set ``.grad`` on every node below to d(this node)/d(that node).

        Each call starts afresh (no stale accumulation). It uses the cached forward
        values, computing only what changed since the last forward pass. For an
        Output, ``seed`` gives the upstream gradient of each component.
        """
        self._session().backward(seed)

    def predict(self, values: Any = None) -> Any:
        """Shortcut for ``self.compile().predict(values)``."""
        return self.compile().predict(values)

    # -- sugar, generated from the op table ------------------------------------
    # Each slot of Python's operator protocol asks the table which row claims it (the
    # row's ``operator`` field); methods such as ``z.relu()`` are looked up by the
    # row's ``method`` field. No op is named here.

    __add__, __radd__ = _binary("add"), _binary("add", reflected=True)
    __sub__, __rsub__ = _binary("sub"), _binary("sub", reflected=True)
    __mul__, __rmul__ = _binary("mul"), _binary("mul", reflected=True)
    __truediv__, __rtruediv__ = _binary("truediv"), _binary("truediv", reflected=True)
    __floordiv__, __rfloordiv__ = _binary("floordiv"), _binary("floordiv", reflected=True)
    __mod__, __rmod__ = _binary("mod"), _binary("mod", reflected=True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", reflected=True)
    __pow__, __rpow__ = _binary("pow"), _binary("pow", reflected=True)
    __neg__, __abs__, __invert__ = _unary("neg"), _unary("abs"), _unary("invert")

    def __pos__(self) -> Node:
        return self

    def __getattr__(self, attribute: str) -> Any:
        # only called when normal lookup fails: the methods of the op rows
        row = None if attribute.startswith("__") else method_row(attribute)
        if row is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {attribute!r}")
        return _Method(row, self)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(r.method for r in OPS.values() if r.method)})

    # nodes compare by identity; ``==`` must stay usable in dicts and sets of nodes
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return format_tree(self)


def _as_sequence(children: Any, op: str) -> Sequence[Any]:
    if isinstance(children, Node):
        return (children,)
    if isinstance(children, (list, tuple)):
        return children
    if isinstance(children, (set, frozenset, dict)):
        raise OperandError(f"'{op}': children must be an ordered list or tuple, not a {type(children).__name__}")
    if isinstance(children, numbers.Real):
        return (children,)
    raise OperandError(f"'{op}': children must be a list of nodes or numbers, got {type(children).__name__}")


def as_node(value: Any, where: str = "operand") -> Node:
    """A node as is, a real number as a Constant; anything else raises OperandError."""
    if isinstance(value, Node):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OperandError(f"{where}: expected a node or a number, got {type(value).__name__} {shown(value, 60)}")
    return Constant(value)


class Input(Node):
    """A named input of the network: ``Input("x", 3.0)``."""

    __slots__ = ()

    def __init__(self, name: str | None = None, value: float | None = None) -> None:
        super().__init__("input", name=name)
        if value is not None:
            self.value = value


class Parameter(Node):
    """A trainable value; drawn from uniform(-1, 1) (see :func:`seed`) when not given."""

    __slots__ = ()

    def __init__(self, value: float | None = None, name: str | None = None, *,
                 rng: random.Random | None = None) -> None:
        super().__init__("parameter", name=name)
        self.value = (rng or _rng).uniform(-1.0, 1.0) if value is None else value


class Constant(Node):
    """A fixed number in the graph."""

    __slots__ = ()

    def __init__(self, value: float, name: str | None = None) -> None:
        super().__init__("constant", name=name)
        self._value = _finite(value, "Constant")


class Output(Node):
    """A vector output made of several nodes: ``Output([y1, y2])``."""

    __slots__ = ()

    def __init__(self, children: Sequence[Node], name: str | None = None) -> None:
        kids = tuple(as_node(c, f"component {i + 1} of Output") for i, c in enumerate(_as_sequence(children, "Output")))
        if not kids:
            raise GraphError("Output needs at least one component")
        for k in kids:
            if k.kind == "output":
                raise GraphError("an Output cannot contain another Output")
        super().__init__("output", None, kids, name=name)

    def __len__(self) -> int:
        return len(self.children)

    def __getitem__(self, i: int) -> Node:
        return self.children[i]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.children)


class _MacroType(type):
    """Expands a macro as soon as its constructor returns, so that the expansion is
    part of the macro from then on and compiling only reads it."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        macro = super().__call__(*args, **kwargs)
        out = macro.expand()
        if not isinstance(out, Node) or out.kind == "output":
            raise GraphError(f"macro {cls.__name__}.expand() must return a single node, got {shown(out, 60)}")
        macro._expansion = out
        return macro


class Macro(Node, metaclass=_MacroType):
    """A node that stands for a small graph of elementary ops.

    Subclasses implement :meth:`expand`, returning a node built from
    ``self.children`` (and any parameters the macro made). It is called once, when
    the macro's constructor returns; compiling reads the result. See
    :mod:`symnet.layers` for Linear, Dense and MLP.
    """

    __slots__ = ("_expansion",)

    def __init__(self, children: Sequence[Any], name: str | None = None) -> None:
        kids = tuple(as_node(c, f"input {i + 1} of {type(self).__name__}")
                     for i, c in enumerate(_as_sequence(children, type(self).__name__)))
        super().__init__("macro", type(self).__name__, kids, name=name)
        self._expansion: Node | None = None

    def expand(self) -> Node:  # pragma: no cover - abstract
        raise NotImplementedError

    def expansion(self) -> Node:
        """The elementary node this macro stands for."""
        if self._expansion is None:
            raise GraphError(f"macro {type(self).__name__} is used before its constructor returned")
        return self._expansion


def _op_class(cls_name: str, op: str, doc: str) -> type:
    def __init__(self: Node, children: Any, name: str | None = None) -> None:
        # messages are formatted only on error: graphs of millions of nodes are built here
        kids = tuple([c if isinstance(c, Node) else as_node(c, f"operand {i + 1} of '{op}'")
                      for i, c in enumerate(_as_sequence(children, op))])
        row = get_op(op)
        n = len(kids)
        if n != row.arity and (row.arity is not None or n < row.min_arity):
            row.check_arity(n, f"'{op}' node" + (f" '{name}'" if name else ""))
        Node.__init__(self, "op", op, kids, None, name)

    return type(cls_name, (Node,), {"__slots__": (), "__init__": __init__, "__doc__": doc})


Add = _op_class("Add", "add", "the n-ary sum of its children, Add([a, b, c]).")
Multiply = _op_class("Multiply", "mul", "the n-ary product of its children, Multiply([w, x]).")
Subtract = _op_class("Subtract", "sub", "Subtract([a, b]) is a - b.")
Negate = _op_class("Negate", "neg", "Negate([a]) is -a.")
Divide = _op_class("Divide", "div", "Divide([a, b]) is a / b.")
Exp = _op_class("Exp", "exp", "Exp([a]) is e**a.")
Log = _op_class("Log", "log", "Log([a]) is the natural logarithm of a.")
ReLU = _op_class("ReLU", "relu", "ReLU([z]) is max(0, z); its derivative at 0 is taken as 0.")
Sigmoid = _op_class("Sigmoid", "sigmoid", "Sigmoid([z]) is 1 / (1 + exp(-z)).")
Tanh = _op_class("Tanh", "tanh", "Tanh([z]) is the hyperbolic tangent.")


class Power(Node):
    """Power: ``Power([x], 2.0)`` is ``x ** 2``; the exponent is a number."""

    __slots__ = ()

    def __init__(self, children: Any, exponent: float, name: str | None = None) -> None:
        kids = tuple(as_node(c, "operand of 'pow'") for c in _as_sequence(children, "pow"))
        get_op("pow").check_arity(len(kids), "'pow' node")
        Node.__init__(self, "op", "pow", kids, _finite(exponent, "exponent of Power"), name)


_OP_CLASSES: dict[str, type] = {
    "add": Add, "mul": Multiply, "sub": Subtract, "neg": Negate, "div": Divide, "exp": Exp,
    "log": Log, "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "pow": Power,
}


_REPR_LIMIT = 40


def format_tree(root: Node, limit: int = _REPR_LIMIT) -> str:
    """``Add(Multiply(Parameter(w=0.5), Input(x=3.0)), Parameter(b=0.25))``, cut after
    ``limit`` nodes with ``...`` so large graphs stay short (iterative)."""
    parts: list[str] = []
    count = 0
    # stack items: a node to open, or a literal string to emit
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        node: Node = item
        count += 1
        if count > limit:
            # one "..." stands for every cut sibling: "Add(a, b, ...)", not "..., ..., ..."
            if len(parts) >= 2 and parts[-1] == ", " and parts[-2] == "...":
                parts.pop()
            else:
                parts.append("...")
            continue
        label = node._name
        if node.kind in ("input", "parameter", "constant"):
            cls = type(node).__name__
            val = "?" if node._value is None else repr(node._value)
            parts.append(f"{cls}({label}={val})" if label else f"{cls}({val})")
            continue
        cls = type(node).__name__ if type(node) is not Node else node.op or node.kind
        parts.append(f"{cls}(")
        extras = "" if node.attr is None else f", {node.attr!r}"
        if label:
            extras += f", name={label!r}"
        tail = extras + ")"
        stack.append(tail)
        for j, child in enumerate(reversed(node.children)):
            stack.append(child)
            if j < len(node.children) - 1:
                stack.append(", ")
    return "".join(parts)
