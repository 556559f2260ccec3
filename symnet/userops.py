"""Ops users define: from a formula (saved with the model) or from Python callables.

``define_op(name, arity, formula="a*sigmoid(a)")`` reads the formula with symnet's
safe parser (:mod:`symnet.parse`; nothing is evaluated) over the operands ``a, b,
c, d, f, g, ...`` (``e`` is skipped: it is Euler's number in formulas) and numbers.
The op's forward pass, its local partials (reverse mode over the formula's own
ops) and its SymPy form (the rows' SymPy forms composed) all come from that one
formula, so the verifier checks the op against SymPy like any built-in one, and
the formula is written into model files so that :func:`symnet.load` rebuilds the
op in a fresh process.
"""

from __future__ import annotations

import numbers
import string
from typing import Any, Callable, Sequence

from .errors import FormulaError, GraphError, SymnetError, shown
from .graph import RESERVED_NAMES, Node
from .ops import OPS, Op, call, get_op, register
from .parse import ALIASES, SUGAR, parse

__all__ = ["define_op", "operand_names", "formula_row"]

#: Operand names of a formula op, in order (``e`` is Euler's number, not an operand).
OPERANDS = tuple(c for c in string.ascii_lowercase if c != "e")


def operand_names(arity: int) -> tuple[str, ...]:
    """The names a formula over ``arity`` operands uses.

    >>> operand_names(5)
    ('a', 'b', 'c', 'd', 'f')
    """
    return OPERANDS[:arity]


class _Tape:
    """A formula as a straight-line program over op rows: slots ``0 .. arity-1`` are
    the operands, then one slot per constant and per op node, in order."""

    def __init__(self, name: str, arity: int, root: Node) -> None:
        self.arity = arity
        self.constants: list[tuple[int, float]] = []
        self.steps: list[tuple[Op, tuple[int, ...], Any, int]] = []
        slot: dict[int, int] = {}
        operands = operand_names(arity)
        size = arity
        # iterative post-order: children before parents
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, k = stack.pop()
            if id(node) in slot:
                continue
            if node.kind == "op" and k < len(node.children):
                stack.append((node, k + 1))
                child = node.children[k]
                if id(child) not in slot:
                    stack.append((child, 0))
                continue
            if node.kind == "input":
                slot[id(node)] = operands.index(node.name)
            elif node.kind == "constant":
                slot[id(node)] = size
                self.constants.append((size, float(node.value)))
                size += 1
            elif node.kind == "op":
                row = get_op(node.op, f"formula of op '{name}'")
                self.steps.append((row, tuple(slot[id(c)] for c in node.children), node.attr, size))
                slot[id(node)] = size
                size += 1
            else:
                raise FormulaError(f"op '{name}': the formula may use only its operands "
                                   f"{', '.join(operands)} and numbers, not {node.kind} '{node.name}'")
        self.size = size
        self.out = slot[id(root)]

    def values(self, xs: Sequence[float]) -> list[float]:
        vals: list[Any] = [0.0] * self.size
        vals[:self.arity] = xs
        for k, v in self.constants:
            vals[k] = v
        for row, args, attr, k in self.steps:
            vals[k] = row.forward(tuple(vals[a] for a in args), attr)
        return vals

    def forward(self, xs: Sequence[float]) -> float:
        return self.values(xs)[self.out]

    def partials(self, xs: Sequence[float]) -> tuple[float, ...]:
        vals = self.values(xs)
        adj = [0.0] * self.size
        adj[self.out] = 1.0
        for row, args, attr, k in reversed(self.steps):
            if adj[k] == 0.0:
                continue
            ps = row.partials(tuple(vals[a] for a in args), vals[k], attr)
            for a, p in zip(args, ps):
                adj[a] += adj[k] * p
        return tuple(adj[:self.arity])

    def sympy(self, sp: Any, exprs: Sequence[Any]) -> Any:
        vals: list[Any] = [None] * self.size
        vals[:self.arity] = exprs
        for k, v in self.constants:
            num, den = v.as_integer_ratio()
            vals[k] = sp.Rational(num, den)
        for row, args, attr, k in self.steps:
            vals[k] = row.sympy(sp, tuple(vals[a] for a in args), attr)
        return vals[self.out]

    def kink(self, xs: Sequence[float]) -> float:
        """The signed distance of the nearest inner kink op from its kink."""
        vals = self.values(xs)
        best = float("inf")
        for row, args, attr, _ in self.steps:
            if row.kink is not None:
                d = row.kink(tuple(vals[a] for a in args), attr)
                if abs(d) < abs(best):
                    best = d
        return best


def formula_row(name: str, arity: int, formula: str, text: str | None = None, latex: str | None = None,
                method: str | None = None) -> Op:
    """The op row a formula defines (not yet in the table); FormulaError if it is malformed.

    >>> row = formula_row("swish_doc", 1, "a*sigmoid(a)")
    >>> row.forward((0.0,), None), row.partials((0.0,), 0.0, None)
    (0.0, (0.5,))
    """
    if not isinstance(arity, int) or isinstance(arity, bool) or not 1 <= arity <= len(OPERANDS):
        raise GraphError(f"op {name!r}: arity must be an integer from 1 to {len(OPERANDS)}, got {shown(arity)}")
    if not isinstance(formula, str):
        raise FormulaError(f"op {name!r}: formula must be a string, got {type(formula).__name__}")
    try:
        root = parse(formula, inputs=list(operand_names(arity)))
    except FormulaError as exc:
        raise FormulaError(f"op {name!r}: {exc}") from None
    if root.kind == "output":
        raise FormulaError(f"op {name!r}: the formula must give one value, not a list")
    tape = _Tape(name, arity, root)
    has_kink = any(row.kink is not None for row, _, _, _ in tape.steps)
    return Op(
        name, arity,
        forward=lambda xs, a: tape.forward(xs),
        partials=lambda xs, y, a: tape.partials(xs),
        sympy=lambda sp, e, a: tape.sympy(sp, e),
        text=call(text or name),
        latex=call(latex or rf"\operatorname{{{name}}}"),
        doc=f"user-defined: {formula.strip()}",
        derivative="from the formula",
        builtin=False,
        kink=(lambda xs, a: tape.kink(xs)) if has_kink else None,
        method=method,
        function=text or name,
        formula=formula.strip(),
    )


def _callable_row(name: str, arity: int, forward: Any, partials: Any, sympy: Any, text: str | None,
                  latex: str | None, kink: Any, method: str | None) -> Op:
    if not isinstance(arity, int) or isinstance(arity, bool) or arity < 1:
        raise GraphError(f"op {name!r}: arity must be a positive integer, got {shown(arity)}")
    for label, fn in (("forward", forward), ("partials", partials), ("sympy", sympy)):
        if not callable(fn):
            raise GraphError(f"op {name!r}: {label} must be callable (or pass formula=)")
    if kink is not None and not callable(kink):
        raise GraphError(f"op {name!r}: kink must be callable or None")

    def _forward(xs: tuple[float, ...], attr: Any) -> float:
        return _real(_call(forward, xs, "forward"), f"op {name!r}: forward")

    def _partials(xs: tuple[float, ...], y: float, attr: Any) -> tuple[float, ...]:
        got = _call(partials, xs, "partials")
        if not isinstance(got, (tuple, list)) or len(got) != len(xs):
            if isinstance(got, (tuple, list)):
                raise ValueError(f"op {name!r}: partials returned {len(got)} values for {len(xs)} inputs")
            raise ValueError(f"op {name!r}: partials must return a tuple of {len(xs)} number(s), "
                             f"got {type(got).__name__} {shown(got)}")
        return tuple(_real(p, f"op {name!r}: partial {k}") for k, p in enumerate(got))

    return Op(
        name, arity,
        forward=_forward,
        partials=_partials,
        sympy=lambda sp, e, a: sympy(*e),
        text=call(text or name),
        latex=call(latex or rf"\operatorname{{{name}}}"),
        doc="user-defined op",
        derivative="user-defined partials",
        builtin=False,
        kink=None if kink is None else (lambda xs, a: kink(*xs)),
        method=method,
        function=text or name,
    )


#: Names symnet prints for nodes (inputs ``x``, targets ``y``, sums ``z``, activations ``h``,
#: probabilities ``p``, the prediction ``yhat``, the loss ``L``, deltas, the learning rate):
#: an op of that name would make formulas read them as functions.
SYMNET_NAMES = frozenset({"x", "y", "z", "h", "p", "L", "yhat", "delta", "eta"})


def define_op(
    name: str,
    arity: int,
    forward: Callable[..., float] | None = None,
    partials: Callable[..., Sequence[float]] | None = None,
    sympy: Callable[..., Any] | None = None,
    text: str | None = None,
    latex: str | None = None,
    *,
    formula: str | None = None,
    replace: bool = False,
    kink: Callable[..., float] | None = None,
    method: str | None = None,
) -> Callable[..., Node]:
    """Add a user-defined elementary op to the table and return its node constructor.

    Either ``formula``, a formula over the operands ``a, b, c, ...`` in symnet's safe
    formula language (forward, partials and SymPy form all derive from it, and model
    files carry it), or three callables: ``forward(*xs) -> float``, ``partials(*xs) ->
    tuple`` with one local derivative per child and ``sympy(*exprs) -> sympy.Expr``
    written with SymPy's own functions (a network using such an op cannot be saved).
    ``text`` is the function name formulas and printouts use (default ``name``),
    ``latex`` its LaTeX symbol; ``method`` also gives nodes a method
    (``z.swish()``); ``kink(*xs)`` gives the signed distance of the inputs from a
    non-differentiable point (the verifier then skips finite differences there).

    Raises :class:`~symnet.errors.GraphError` for a clash or a bad row and
    :class:`~symnet.errors.FormulaError` for a bad formula.

    >>> import symnet as sn
    >>> swish = sn.define_op("swish_doc", 1, formula="a*sigmoid(a)")
    >>> x = sn.Input("x", 0.0)
    >>> y = swish(x)
    >>> y.forward(), sn.compile(y).gradients([0.0])["x"]
    (0.0, 0.5)
    >>> sq = sn.define_op("square_doc", 1, forward=lambda x: x * x,
    ...                   partials=lambda x: (2 * x,), sympy=lambda x: x**2)
    >>> sq(sn.Input("x", 3.0)).forward()
    9.0
    """
    if not isinstance(name, str):
        raise GraphError(f"op name {shown(name)} must be an identifier starting with a letter")
    if name in RESERVED_NAMES or name in ALIASES or name in SUGAR or name in SYMNET_NAMES:
        raise GraphError(f"op name {name!r} is reserved: formulas read it as "
                         + ("a constant or a keyword" if name in RESERVED_NAMES else
                            "a built-in function" if name in ALIASES or name in SUGAR else
                            "a variable (symnet prints it for its own nodes: inputs, targets, layers, the loss)")
                         + "; the op table is shared by every formula, so choose another name")
    if method is not None and (not isinstance(method, str) or not method.isidentifier()
                               or method.startswith("_") or hasattr(Node, method)):
        raise GraphError(f"op {name!r}: method {method!r} must be an identifier that nodes do not already have")
    if formula is not None:
        if forward is not None or partials is not None or sympy is not None or kink is not None:
            raise GraphError(f"op {name!r}: give either formula= or forward/partials/sympy, not both")
        row = formula_row(name, arity, formula, text, latex, method)
    else:
        row = _callable_row(name, arity, forward, partials, sympy, text, latex, kink, method)
    register(row, replace)

    def constructor(*children: Any, name: str | None = None) -> Node:
        if len(children) == 1 and isinstance(children[0], (list, tuple)):
            children = tuple(children[0])
        return Node.apply(row.name, children, name=name)

    constructor.__name__ = name
    constructor.__doc__ = f"Build a '{name}' node (user-defined op)."
    return constructor


def ensure_formula_op(name: Any, arity: Any, formula: Any, where: str) -> Op:
    """The row for an op a model file defines by formula: defined now if absent, the
    existing one if it has the same formula; ModelFileError-worthy clashes raise SymnetError."""
    if not isinstance(name, str) or not isinstance(formula, str):
        raise FormulaError(f"{where}: an op needs a string name and formula")
    existing = OPS.get(name)
    if existing is not None:
        if existing.formula is not None and existing.formula == formula.strip() and existing.arity == arity:
            return existing
        what = "a built-in op" if existing.builtin else "an op defined differently in this session"
        raise GraphError(f"{where}: the file defines op {name!r} as {formula!r:.80}, but {name!r} is {what}")
    try:
        row = formula_row(name, arity, formula)
    except SymnetError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return register(row)


def _user_ops_in(formula: str, arity: int) -> list[str]:
    """The user ops a formula calls (by op name, in order of first use)."""
    root = parse(formula, inputs=list(operand_names(arity)))
    found: list[str] = []
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind == "op" and not OPS[node.op].builtin and node.op not in found:
            found.append(node.op)
        stack.extend(node.children)
    return found


def saved_ops(rows: Sequence[Op], where: str) -> list[dict[str, Any]]:
    """The ``"ops"`` records of a model file for the user rows a network uses, each op
    after the ops its formula calls. An op defined by callables cannot be saved:
    :class:`~symnet.errors.ModelFileError` names it and points to ``formula=``.

    >>> import symnet as sn
    >>> _ = sn.define_op("swish_saved", 1, formula="a*sigmoid(a)")
    >>> saved_ops([sn.OPS["swish_saved"]], "m.json")
    [{'name': 'swish_saved', 'arity': 1, 'formula': 'a*sigmoid(a)'}]
    """
    from .errors import ModelFileError

    out: list[dict[str, Any]] = []
    done: set[str] = set()
    for top in rows:
        stack: list[tuple[Op, bool]] = [(top, False)]
        while stack:
            row, expanded = stack.pop()
            if row.name in done or row.builtin:
                continue
            if row.formula is None:
                raise ModelFileError(f"{where}: op '{row.name}' is defined by Python callables, which a model "
                                     f"file cannot carry; define it with define_op('{row.name}', {row.arity}, "
                                     "formula=...) to save it")
            if expanded:
                done.add(row.name)
                out.append({"name": row.name, "arity": row.arity, "formula": row.formula})
                continue
            stack.append((row, True))
            stack.extend((OPS[name], False) for name in reversed(_user_ops_in(row.formula, row.arity or 1)))
    return out


def _call(fn: Callable[..., Any], xs: tuple[float, ...], what: str) -> Any:
    """Call a user function; a TypeError inside it becomes a ValueError, which the
    engine reports as a NumericalError naming the node."""
    try:
        return fn(*xs)
    except TypeError as exc:
        raise ValueError(f"{what} raised TypeError: {exc}") from None


def _real(value: Any, what: str) -> float:
    """A user function's result as a float: a real number, else ValueError (the engine
    turns it into a NumericalError naming the node). NaN and infinities pass here: the
    engine refuses them with the node's name."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} returned {type(value).__name__} {shown(value)}, expected a real number")
    return float(value)  # OverflowError for a huge int: an ArithmeticError, reported by the engine
