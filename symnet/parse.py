"""The safe formula parser: text to a graph, with symnet's own tokenizer and an iterative parser.

Nothing here evaluates user text (no ``eval``, ``exec``, ``compile``, ``sympify``
or ``parse_expr``): a small tokenizer reads ASCII only, and an operator-precedence
(shunting-yard) parser with explicit stacks builds graph nodes directly, so
neither deep nesting nor long chains can exhaust Python's stack.

Grammar (Python's precedence)::

    formula    := line (separator line)*          separator: newline or ';'
    line       := [name '='] expression            only the last line may omit 'name ='
                                                   and may be a comma list (a vector output)
    expression := numbers, names, + - * / and ** (also written ^, a power),
                  unary - and +, parentheses, calls f(a, ...),
                  indicators a > b, a >= b, a < b, a <= b (lowest precedence)

* ``-x**2`` is ``-(x**2)``; ``**`` is right-associative; ``a + b + c`` is one n-ary sum.
* Exponents must be numeric constants with ``|p| <= 64`` (``x**(-1)``, ``x**(2*3)``,
  ``x**0.5``); arithmetic on numbers alone is folded (``2*3`` is ``6``).
* Functions are the ops of the op table that name a ``function`` in their row
  (``exp``, ``log``, ``relu``, ``sigmoid``, ``tanh``, ``softplus``, ``abs``, ``sqrt``,
  ``step``, ... and every op added with ``define_op``); an op with a numeric parameter
  takes it as an optional last argument, a numeric constant (``leaky_relu(z, 0.1)``);
  ``max(0, z)`` and ``max(z, 0)`` are the row flagged ``max_with_zero`` (``relu(z)``);
  ``heaviside(z)`` is ``step(z)``, the indicator of ``z > 0`` (0 at ``z = 0``, as
  relu'(0) = 0); ``sign(z)`` is 1, -1, or 0 at ``z = 0`` (``abs'``, as PyTorch
  computes it), so a derivative symnet prints can be pasted back as a claim.
* Indicators: ``(a > b)`` is ``step(a - b)``, ``(a >= b)`` is ``1 - step(b - a)`` (1 at
  ``a = b``), ``<`` and ``<=`` likewise; chains ``a < b < c`` are refused.
* Formulas are ASCII. Symbols pasted from documents are read as their ASCII
  operators: U+2212 MINUS SIGN and U+2013 EN DASH as ``-``, ``×``, ``·``, ``⋅`` and ``∗``
  as ``*``, ``÷`` as ``/``, ``≤`` and ``≥`` as ``<=`` and ``>=``. Any other non-ASCII
  character (a superscript ², an Arabic-Indic digit, a Greek letter) is refused with a
  FormulaError naming it, its column and the ASCII to write instead.
* ``nodes=`` maps names to existing nodes (a claim may use a model's intermediates).
* Names listed in ``inputs`` become :class:`~symnet.graph.Input` nodes, every other
  name a :class:`~symnet.graph.Parameter`, created in order of first appearance; a
  name is one node however often it is used; ``name = ...`` lines name intermediates.
* Limits (keyword arguments of :func:`parse`): ``max_length`` characters (2000),
  nesting ``max_depth`` (64: parentheses, calls and unary signs), ``max_number``
  characters in a number literal (64) and ``max_nodes`` graph nodes (10000).

Every problem raises :class:`~symnet.errors.FormulaError` whose message names the
1-based column (and line, for several lines) and shows the text with a caret; the
error also carries ``.line``, ``.col`` and ``.offset``.
"""

from __future__ import annotations

import keyword
import math
from fractions import Fraction
import numbers
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NoReturn

from .errors import FormulaError, SymnetError, shown
from .graph import RESERVED_NAMES, Constant, Input, Node, Output, Parameter, check_name
from .ops import OPS, Op, get_op

__all__ = ["parse", "Limits", "functions"]


@dataclass(frozen=True)
class Limits:
    """The bounds :func:`parse` enforces before and while reading a formula."""

    max_length: int = 2000
    max_depth: int = 64
    max_number: int = 64
    max_nodes: int = 10_000
    max_exponent: float = 64.0

    def __post_init__(self) -> None:
        for field in ("max_length", "max_depth", "max_number", "max_nodes"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise FormulaError(f"{field} must be a positive integer, got {shown(v)}")


@dataclass(frozen=True)
class Token:
    kind: str  # num, name, op, lpar, rpar, comma, eq, sep, end, error
    text: str
    pos: int
    value: float = 0.0


class Exact(float):
    """A number of a formula: its float value, and the exact rational its literal
    text stands for (``exact``), kept through folding of ``+ - * /`` and integer
    powers, so that the verifier compares ``1 + 1e-30`` as written, not as 1.0.

    The engine computes with the float, and ``==`` and ``hash`` are the float's; the
    verifier reads ``exact`` (a constant's value, an exponent of ``pow``), so a cache
    of SymPy forms keyed by an op's attribute keys on ``exact`` too: ``1/3`` must not
    share the form of the float ``0.3333333333333333``, whose exact value is its
    binary fraction.

    >>> third = Exact(1 / 3, Fraction(1, 3))
    >>> third == 1 / 3, third.exact == Fraction(1 / 3), third.exact
    (True, False, Fraction(1, 3))
    """

    __slots__ = ("exact",)

    def __new__(cls, value: float, exact: Fraction) -> Exact:
        obj = super().__new__(cls, value)
        obj.exact = exact
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle keep the exact value
        return (Exact, (float(self), self.exact))


#: A folded constant keeps its exact value while its numerator and denominator have at most
#: this many bits in all (about 600 digits); past it the constant is its float, as a Python
#: float constant is (repeated squaring, ``((1.0000001**64)**64)**64``, doubles the digits).
MAX_EXACT_BITS = 2_000


def _bits(q: Fraction) -> int:
    return q.numerator.bit_length() + q.denominator.bit_length()


def _exact_fold(fn: Any, a: Any, b: Any, power: bool) -> Fraction | None:
    """``fn`` on the exact values of two formula numbers, when both have one and the result
    stays within :data:`MAX_EXACT_BITS` (estimated before a power is computed)."""
    if not (isinstance(a, Exact) and isinstance(b, Exact)):
        return None
    try:
        if power:
            if b.exact.denominator != 1 or abs(b.exact) > 1024 or _bits(a.exact) * abs(int(b.exact)) > MAX_EXACT_BITS:
                return None
            out = a.exact ** int(b.exact)
        else:
            out = Fraction(fn(a.exact, b.exact))
        return out if _bits(out) <= MAX_EXACT_BITS else None
    except (ZeroDivisionError, TypeError, ValueError, OverflowError):
        return None


_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The subscript after a layerwise call, ``softmax(a, b)_2``.
_INDEX = re.compile(r"_[1-9][0-9]{0,8}")
#: Mathematical symbols pasted from documents, read as their ASCII operators.
UNICODE_OPERATORS = {
    "\u2212": "-",  # MINUS SIGN
    "\u2013": "-",  # EN DASH (often typeset for a minus)
    "\u00d7": "*",  # MULTIPLICATION SIGN
    "\u00b7": "*",  # MIDDLE DOT
    "\u22c5": "*",  # DOT OPERATOR
    "\u2217": "*",  # ASTERISK OPERATOR
    "\u00f7": "/",  # DIVISION SIGN
    "\u2264": "<=",  # LESS-THAN OR EQUAL TO
    "\u2265": ">=",  # GREATER-THAN OR EQUAL TO
}
#: Other non-ASCII characters with a known ASCII spelling, named in the error.
_ASCII_HINTS = {
    "\u00b2": "**2", "\u00b3": "**3", "\u221a": "sqrt(...)", "\u03c3": "sigmoid(...)", "\u2019": "nothing",
    "\u00a0": "a space", "\u2014": "-", "\u2032": "nothing (write the derivative out)",
}
_DIGITS = "0123456789"
_HINT = "\x1f"  # separates a message from a hint shown after the position
_COMPARE = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}
_SIMPLE = {"+": "op", "-": "op", "/": "op", "^": "op", "(": "lpar", ")": "rpar", ",": "comma", ";": "sep", "\n": "sep"}
_NOT_ALLOWED = {
    "@": "'@' (matrix multiplication) is not part of formulas",
    "[": "'[' is not allowed (indexing and lists are not part of formulas)",
    "]": "']' is not allowed (indexing and lists are not part of formulas)",
    "{": "'{' is not allowed", "}": "'}' is not allowed",
    "'": "quotes are not allowed (strings are not part of formulas)",
    '"': "quotes are not allowed (strings are not part of formulas)",
    "#": "'#' is not allowed (comments are not part of formulas)",
    ":": "':' is not allowed (lambdas, slices and dicts are not part of formulas)",
    "%": "'%' is not supported (no modulo in formulas)",
    "!": "'!' is not allowed (comparisons and factorials are not part of formulas)",
    "&": "bitwise operators are not part of formulas", "|": "bitwise operators are not part of formulas",
    "~": "bitwise operators are not part of formulas",
}
_BINARY = {">": (5, False), ">=": (5, False), "<": (5, False), "<=": (5, False), "+": (10, False), "-": (10, False), "*": (20, False), "/": (20, False), "**": (40, True), "^": (40, True)}
_UNARY_PREC = 30
#: Indicators ``(a > b)`` are built from this op (its value at 0 is 0).
STEP = "step"
#: Other names for op rows: ``heaviside(z)`` is ``step(z)`` (value 0 at 0).
ALIASES = {"heaviside": "step"}
#: Calls that are not rows: ``max(0, z)`` is the row flagged ``max_with_zero``.
SUGAR = ("max",)


def functions() -> dict[str, Op]:
    """The functions formulas may call: every fixed-arity op whose row names a ``function``,
    and every layerwise one (``softmax(a, b, c)_k``: output ``k`` of the layer, from 1).

    >>> sorted(name for name, row in functions().items() if row.builtin)[:6]
    ['abs', 'elu', 'erf', 'exp', 'gelu', 'leaky_relu']
    """
    table = {}
    for row in OPS.values():
        if row.function and (row.arity is not None or row.layerwise) and _NAME.fullmatch(row.function):
            table[row.function] = row
    return table


class _Source:
    """The text, for messages that point at a position."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.multiline = len(text.strip().splitlines()) > 1

    def where(self, pos: int) -> tuple[int, int]:
        line = bisect_right(self.starts, pos)
        return line, pos - self.starts[line - 1] + 1

    def error(self, pos: int, message: str) -> NoReturn:
        line, col = self.where(pos)
        at = f"line {line}, col {col}" if self.multiline else f"col {col}"
        start = self.starts[line - 1]
        end = self.text.find("\n", start)
        shown = self.text[start:] if end < 0 else self.text[start:end]
        offset = col - 1
        if len(shown) > 72:  # a window around the position
            lo = max(0, min(offset - 36, len(shown) - 72))
            shown, offset = ("..." if lo else "") + shown[lo:lo + 72], offset - lo + (3 if lo else 0)
        shown = "".join(c if " " <= c < "\x7f" else "?" for c in shown)
        message, _, hint = message.partition(_HINT)
        exc = FormulaError(f"{message} at {at}{'; ' + hint if hint else ''}\n  {shown}\n  {' ' * offset}^")
        exc.line, exc.col, exc.offset = line, col, pos  # type: ignore[attr-defined]
        raise exc


def _describe_char(c: str) -> str:
    code = ord(c)
    if code > 0x7F:
        name = unicodedata.name(c, "")
        hint = _ASCII_HINTS.get(c)
        if hint is None and unicodedata.category(c) == "Nd":
            hint = f"the ASCII digit {unicodedata.digit(c)}"
        if hint is None and unicodedata.numeric(c, None) is not None:
            hint = "ASCII digits 0-9 (** for a power, / for a fraction)"
        return (f"non-ASCII character U+{code:04X}" + (f" ({name})" if name else "")
                + f"{_HINT}formulas are ASCII: write {hint or 'it with ASCII characters'} instead")
    if code < 0x20 or code == 0x7F:
        return f"control character U+{code:04X}"
    return _NOT_ALLOWED.get(c, f"character {c!r} is not allowed")


def tokenize(source: _Source, limits: Limits) -> list[Token]:
    """The tokens of the text; a lexical error becomes a final ``error`` token, so that
    errors are reported in the order of their positions."""
    text = source.text
    n = len(text)
    out: list[Token] = []
    i = 0
    while i < n:
        c = text[i]
        if c in UNICODE_OPERATORS:
            sym = UNICODE_OPERATORS[c]
            out.append(Token("op", sym, i))
            i += 1
        elif c in " \t\r":
            i += 1
        elif c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            m = _NUMBER.match(text, i)
            assert m is not None  # the first character is a digit or '.digit'
            lit = m.group()
            nxt = text[m.end():m.end() + 1]
            if len(lit) > limits.max_number:
                return out + [Token("error", f"number literal too long ({len(lit)} > {limits.max_number} "
                                             "characters; pass max_number= to allow longer ones)", i)]
            if nxt and not nxt.isascii() and nxt not in UNICODE_OPERATORS:
                return out + [Token("error", _describe_char(nxt), m.end())]
            if nxt and (nxt.isalnum() or nxt in "_."):
                hint = f" (write {lit}*{nxt} for a product)" if nxt.isalpha() and nxt not in "eE" else ""
                return out + [Token("error", f"malformed number {lit + nxt!r}{hint}", i)]
            value = float(lit)
            if not math.isfinite(value):
                return out + [Token("error", f"number {lit!r} is out of range", i)]
            out.append(Token("num", lit, i, Exact(value, Fraction(lit))))
            i = m.end()
        elif c.isascii() and (c.isalpha() or c == "_"):
            m = _NAME.match(text, i)
            assert m is not None
            word = m.group()
            if keyword.iskeyword(word) or keyword.issoftkeyword(word):
                return out + [Token("error", f"{word!r} is a Python keyword, which formulas do not use", i)]
            out.append(Token("name", word, i))
            i = m.end()
        elif c == "*":
            if text.startswith("**", i):
                out.append(Token("op", "**", i))
                i += 2
            else:
                out.append(Token("op", "*", i))
                i += 1
        elif c == "/" and text.startswith("//", i):
            return out + [Token("error", "'//' (floor division) is not supported", i)]
        elif c in "<>":
            sym = text[i:i + 2] if text.startswith("=", i + 1) else c
            out.append(Token("op", sym, i))
            i += len(sym)
        elif c == "!" and text.startswith("!=", i):
            return out + [Token("error", "'!=' is not supported; indicators are written (a > b), (a >= b), "
                                         "(a < b) or (a <= b)", i)]
        elif c == "=":
            if text.startswith("==", i):
                return out + [Token("error", "'==' is not allowed (equality comparisons are not part of formulas; indicators are written "
                                         "(a > b), (a >= b), (a < b) or (a <= b))", i)]
            out.append(Token("eq", "=", i))
            i += 1
        elif c == "." and i + 1 < n and not text[i + 1].isascii() and text[i + 1] not in UNICODE_OPERATORS:
            return out + [Token("error", _describe_char(text[i + 1]), i + 1)]
        elif c == ".":
            return out + [Token("error", "'.' is not allowed here (attribute access is not part of formulas)", i)]
        elif c in _SIMPLE:
            out.append(Token(_SIMPLE[c], c, i))
            i += 1
        else:
            return out + [Token("error", _describe_char(c), i)]
    return out


class _Chain:
    """An n-ary sum or product still being read (``a + b + c`` becomes one node)."""

    __slots__ = ("op", "items")

    def __init__(self, op: str, items: list[Any]) -> None:
        self.op = op
        self.items = items


@dataclass
class _Pending:
    kind: str  # bin, unary, group, call, list
    tok: Token
    prec: int = 0
    right: bool = False
    base: int = 0  # call/list/group: the value-stack height when opened
    row: Op | None = None
    index: int | None = None  # a layerwise call's output index, from 1


class _Parser:
    def __init__(self, source: _Source, limits: Limits, inputs: list[str], values: dict[str, float],
                 known: Mapping[str, Node] | None = None) -> None:
        self.src = source
        self.limits = limits
        self.inputs = set(inputs)
        self.values = values
        # Inputs are made in the order given, so that a network keeps that order
        # (positional predict([...]) after a round trip through text); those the
        # formula never uses are simply not part of the graph.
        self.pending: dict[str, Node] = {}
        for name in inputs:
            if name not in self.pending:
                self.pending[name] = Input(name, values.get(name))
        self.known = dict(known or {})
        self.functions = functions()
        for alias, name in ALIASES.items():
            if alias not in self.functions and name in self.functions:
                self.functions[alias] = self.functions[name]
        self.names: dict[str, Any] = {}  # name -> Node or float
        self.kinds: dict[str, str] = {}  # name -> "input" / "parameter" / "defined" / "vector"
        self.vectors: dict[str, int] = {}  # p = softmax(...): name -> its number of outputs
        self.nodes = 0

    # -- nodes ----------------------------------------------------------------

    def count(self, k: int, tok: Token) -> None:
        self.nodes += k
        if self.nodes > self.limits.max_nodes:
            self.src.error(tok.pos, f"formula too large (more than {self.limits.max_nodes} nodes; "
                                    "pass max_nodes= to allow more)")

    def node(self, v: Any, tok: Token) -> Any:
        """A value as an operand: chains are built into one node; numbers stay numbers."""
        if isinstance(v, _Chain):
            items = [self.node(x, tok) for x in v.items]
            self.count(1 + sum(isinstance(x, float) for x in items), tok)
            return self.build(v.op, items, tok)
        return v

    def build(self, op: str, args: Iterable[Any], tok: Token, attr: Any = None) -> Node:
        try:
            return Node.apply(op, tuple(_constant(a) if isinstance(a, float) else a for a in args), attr=attr)
        except SymnetError as exc:
            self.src.error(tok.pos, str(exc))

    def as_node(self, v: Any, tok: Token) -> Node:
        v = self.node(v, tok)
        if isinstance(v, float):
            self.count(1, tok)
            return _constant(v)
        return v

    def variable(self, tok: Token) -> Any:
        name = tok.text
        if name in self.names:
            return self.names[name]
        if name in self.functions or name in SUGAR:
            self.src.error(tok.pos, f"{name!r} is a function: call it as {name}(...)")
        head = name.rpartition("_")[0]
        if name in self.vectors or (head in self.vectors and name not in self.names):
            vec = name if name in self.vectors else head
            self.src.error(tok.pos, f"{vec!r} is a vector: use its outputs {vec}_1 .. {vec}_{self.vectors[vec]}")
        if name in self.known:
            self.names[name] = self.known[name]
            self.kinds[name] = "known"
            return self.known[name]
        self.check_variable(name, tok)
        self.count(1, tok)
        if name in self.inputs:
            node: Node = self.pending[name]
            self.kinds[name] = "input"
        else:
            node = Parameter(self.values.get(name), name=name)
            self.kinds[name] = "parameter"
        self.names[name] = node
        return node

    def check_variable(self, name: str, tok: Token) -> None:
        if name in RESERVED_NAMES:
            hint = " (write exp(1) for Euler's number)" if name == "e" else ""
            self.src.error(tok.pos, f"{name!r} is a reserved name and cannot be a variable{hint}")
        try:
            check_name(name)
        except SymnetError:
            self.src.error(tok.pos, f"invalid name {name!r}: names start with a letter, then letters, "
                                    "digits or '_' (at most 64 characters)")

    # -- operators ------------------------------------------------------------------

    def fold(self, fn: Any, tok: Token, a: float, b: float) -> float:
        exact = _exact_fold(fn, a, b, fn is math.pow)
        try:
            v = float(fn(float(a), float(b)))
        except ZeroDivisionError:
            self.src.error(tok.pos, "division by zero in a constant")
        except (OverflowError, ValueError):
            v = math.nan
        if not math.isfinite(v):
            self.src.error(tok.pos, f"the constant {a:g} {tok.text} {b:g} is undefined or too large")
        return v if exact is None else Exact(v, exact)

    def compare(self, tok: Token, a: Any, b: Any) -> Any:
        """An indicator: ``(a > b)`` is ``step(a - b)``, ``(a >= b)`` is ``1 - step(b - a)``
        (``step(0) = 0``), and ``<``, ``<=`` the same with the sides swapped."""
        sym = tok.text
        a, b = self.node(a, tok), self.node(b, tok)
        if isinstance(a, float) and isinstance(b, float):
            return float({">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[sym])
        big, small = (a, b) if sym in (">", ">=") else (b, a)
        if sym in (">", "<"):  # 1[big - small > 0]
            return self.step(self.difference(big, small, tok), tok)
        return self.binary(Token("op", "-", tok.pos), 1.0, self.step(self.difference(small, big, tok), tok))

    def difference(self, a: Any, b: Any, tok: Token) -> Any:
        if isinstance(b, float) and b == 0.0:
            return a
        if isinstance(a, float) and a == 0.0:
            return self.unary(Token("op", "-", tok.pos), b)
        return self.binary(Token("op", "-", tok.pos), a, b)

    def step(self, z: Any, tok: Token) -> Node:
        row = self.functions.get(STEP)
        if row is None:  # pragma: no cover - the step row ships with symnet
            self.src.error(tok.pos, "indicators need the 'step' op, which this installation lacks")
        self.count(1 + isinstance(z, float), tok)
        return self.build(row.name, (z,), tok)

    def binary(self, tok: Token, a: Any, b: Any) -> Any:
        sym = tok.text
        if sym in _COMPARE:
            return self.compare(tok, a, b)
        if sym in ("**", "^"):
            b = self.node(b, tok)
            if not isinstance(b, float):
                self.src.error(tok.pos, f"the exponent of {sym!r} must be a numeric constant, not an expression "
                                        "with names (write exp(y*log(x)) for a variable exponent)")
            if abs(b) > self.limits.max_exponent:
                self.src.error(tok.pos, f"exponent {b:g} is out of range: exponents must be numeric constants "
                                        f"with abs(p) <= {self.limits.max_exponent:g}")
            a = self.node(a, tok)
            if isinstance(a, float):
                return self.fold(math.pow, tok, a, b)
            self.count(1, tok)
            return self.build("pow", (a,), tok, attr=b)
        if sym in ("+", "*"):
            op = "add" if sym == "+" else "mul"
            if isinstance(a, float) and isinstance(b, float):
                return self.fold((lambda x, y: x + y) if op == "add" else (lambda x, y: x * y), tok, a, b)
            if isinstance(a, _Chain) and a.op == op:
                a.items.append(self.node(b, tok))
                return a
            return _Chain(op, [self.node(a, tok), self.node(b, tok)])
        a, b = self.node(a, tok), self.node(b, tok)
        if isinstance(a, float) and isinstance(b, float):
            return self.fold((lambda x, y: x - y) if sym == "-" else (lambda x, y: x / y), tok, a, b)
        self.count(1 + isinstance(a, float) + isinstance(b, float), tok)
        return self.build("sub" if sym == "-" else "div", (a, b), tok)

    def unary(self, tok: Token, a: Any) -> Any:
        if tok.text == "+":
            return a
        a = self.node(a, tok)
        if isinstance(a, float):
            return Exact(-float(a), -a.exact) if isinstance(a, Exact) else -a
        self.count(1, tok)
        return self.build("neg", (a,), tok)

    def layer_index(self, p: _Pending, tok: Token) -> int:
        """The output index of ``softmax(a, b, c)_k``: the name token ``_k`` right after ``)``."""
        if tok.kind != "name" or not _INDEX.fullmatch(tok.text):
            self.src.error(tok.pos, f"{p.tok.text}(...) is a vector: pick output k (from 1) as {p.tok.text}(a, b, c)_k")
        return int(tok.text[1:])

    def call(self, p: _Pending, args: list[Any], close: Token) -> Any:
        name = p.tok.text
        args = [self.node(a, p.tok) for a in args]
        if name == "max":
            if len(args) == 2:
                a, b = args
                if isinstance(a, float) and isinstance(b, float):
                    return max(a, b)
                max_as = OPS.find("max_with_zero", True)
                if max_as is not None and (a == 0.0 or b == 0.0):
                    z = b if a == 0.0 else a
                    self.count(1, p.tok)
                    return self.build(max_as.name, (z,), p.tok)
            self.src.error(p.tok.pos, "max() is only supported as max(0, z) or max(z, 0), which is relu(z)")
        row = p.row
        assert row is not None
        if row.arity is None:  # a layerwise row: output p.index (from 1) of the op over the layer
            if len(args) < max(row.min_arity, 1):
                self.src.error(p.tok.pos, f"{name}() takes at least {max(row.min_arity, 1)} argument(s), got {len(args)}")
            if p.index is None or p.index > len(args):
                self.src.error(p.tok.pos, f"{name}(...)_{p.index}: the output index must be from 1 to {len(args)}")
            self.count(1 + sum(isinstance(a, float) for a in args), p.tok)
            return self.build(row.name, args, p.tok, attr=p.index - 1)
        attr = None  # the row's default
        if row.param is not None and len(args) == row.arity + 1:
            attr = args.pop()
            if not isinstance(attr, float):
                self.src.error(p.tok.pos, f"the last argument of {name}() is its {row.param}, "
                                          "which must be a numeric constant")
        if len(args) != row.arity:
            plural = "s" if row.arity != 1 else ""
            extra = f" (and optionally its {row.param})" if row.param is not None else ""
            self.src.error(p.tok.pos, f"{name}() takes {row.arity} argument{plural}{extra}, got {len(args)}")
        self.count(1 + sum(isinstance(a, float) for a in args), p.tok)
        below = get_op(args[0].op) if row.name == "log" and isinstance(args[0], Node) and args[0].kind == "op" else None
        if below is not None and below.log_op is not None:
            # log(softmax(...)_k), as a cross-entropy prints: the row's log_op computes it stably (log_softmax)
            return self.build(below.log_op, args[0].children, p.tok, attr=args[0].attr)
        return self.build(row.name, args, p.tok, attr=attr)

    # -- the expression loop ------------------------------------------------------------

    def expression(self, toks: list[Token], end: int, many: bool) -> list[Any]:
        """Read one line's expression (``many``: a comma list is allowed); iterative."""
        src, limits = self.src, self.limits
        vals: list[Any] = []
        stack: list[_Pending] = [_Pending("list", Token("end", "", end))]
        depth = 0
        expect = True
        i = 0
        toks = toks + [Token("end", "", end)]

        def reduce_to_marker() -> _Pending:
            while stack[-1].kind in ("bin", "unary"):
                pop_operator()
            return stack[-1]

        def pop_operator() -> None:
            nonlocal depth
            p = stack.pop()
            if p.kind == "unary":
                depth -= 1
                vals.append(self.unary(p.tok, vals.pop()))
            else:
                b = vals.pop()
                vals.append(self.binary(p.tok, vals.pop(), b))

        def push(p: _Pending) -> None:
            nonlocal depth
            if p.kind in ("unary", "group", "call"):
                depth += 1
                if depth > limits.max_depth:
                    src.error(p.tok.pos, f"nesting deeper than {limits.max_depth} "
                                         "(pass max_depth= to allow deeper formulas)")
            stack.append(p)

        while True:
            tok = toks[i]
            i += 1
            kind = tok.kind
            if kind == "error":
                src.error(tok.pos, tok.text)
            if expect:
                if kind == "num":
                    vals.append(tok.value)
                    expect = False
                elif kind == "name":
                    if toks[i].kind == "lpar":
                        push(self.open_call(tok, len(vals)))
                        i += 1
                    else:
                        vals.append(self.variable(tok))
                        expect = False
                elif kind == "lpar":
                    push(_Pending("group", tok, base=len(vals)))
                elif kind == "op" and tok.text in "+-":
                    push(_Pending("unary", tok, _UNARY_PREC, True))
                elif kind == "rpar" and stack[-1].kind == "call" and len(vals) == stack[-1].base:
                    p = stack.pop()
                    depth -= 1
                    vals.append(self.call(p, [], tok))
                    expect = False
                elif kind == "end":
                    after = f" after {toks[i - 2].text!r}" if i >= 2 else ""
                    src.error(tok.pos, f"the expression ends where an operand is expected{after}")
                else:
                    src.error(tok.pos, f"unexpected {tok.text!r}: expected a number, a name or '('")
                continue
            if kind == "op":
                prec, right = _BINARY[tok.text]
                while stack[-1].kind in ("bin", "unary") and (
                        stack[-1].prec > prec or (stack[-1].prec == prec and not right)):
                    if tok.text in _COMPARE and stack[-1].tok.text in _COMPARE:
                        src.error(tok.pos, "chained comparisons (a < b < c) are not supported; "
                                           "write (a < b)*(b < c)")
                    pop_operator()
                push(_Pending("bin", tok, prec, right))
                expect = True
            elif kind == "rpar":
                p = reduce_to_marker()
                if p.kind == "group":
                    stack.pop()
                    depth -= 1
                elif p.kind == "call":
                    stack.pop()
                    depth -= 1
                    args = vals[p.base:]
                    del vals[p.base:]
                    if p.row is not None and p.row.layerwise:  # softmax(a, b, c)_k: the subscript picks k
                        p.index = self.layer_index(p, toks[i])
                        i += 1
                    vals.append(self.call(p, args, tok))
                else:
                    src.error(tok.pos, "unexpected ')'")
            elif kind == "comma":
                p = reduce_to_marker()
                if p.kind == "group":
                    src.error(tok.pos, "unexpected ',' inside parentheses (tuples are not part of formulas)")
                if p.kind == "list" and not many:
                    src.error(tok.pos, "unexpected ',': a line 'name = expression' defines one value")
                expect = True
            elif kind == "end":
                p = reduce_to_marker()
                if p.kind != "list":
                    what = f"{p.tok.text}(" if p.kind == "call" else "("
                    src.error(p.tok.pos, f"unclosed {what!r}")
                return [self.node(v, tok) for v in vals]
            else:
                text = tok.text if kind != "sep" else "end of line"
                prev = toks[i - 2].text
                src.error(tok.pos, f"unexpected {text!r} after {prev!r}: an operator is missing")

    def open_call(self, tok: Token, base: int) -> _Pending:
        name = tok.text
        if name == "max":
            return _Pending("call", tok, base=base)
        row = self.functions.get(name)
        if row is None:
            known = ", ".join(sorted({*self.functions, *SUGAR}))
            self.src.error(tok.pos, f"unknown function {name!r}; known functions: {known}")
        return _Pending("call", tok, base=base, row=row)

    # -- lines --------------------------------------------------------------------------

    def program(self, toks: list[Token]) -> Any:
        lines: list[list[Token]] = [[]]
        for t in toks:
            if t.kind == "sep":
                lines.append([])
            else:
                lines[-1].append(t)
        ends = [t.pos for t in toks if t.kind == "sep"] + [len(self.src.text)]
        numbered = [(line, end) for line, end in zip(lines, ends) if line]
        if not numbered:
            raise FormulaError("empty formula")
        result: list[Any] = []
        for k, (line, end) in enumerate(numbered):
            last = k == len(numbered) - 1
            target = None
            if len(line) >= 2 and line[0].kind == "name" and line[1].kind == "eq":
                target, line = line[0], line[2:]
                self.check_target(target)
            elif not last and line[0].kind != "error":
                self.src.error(line[0].pos, "only the last line may be a bare expression; "
                                            "write 'name = expression' on the lines before it")
            layer = self.functions.get(line[0].text) if target is not None and line and line[0].kind == "name" else None
            if layer is not None and layer.layerwise and _whole_call(line):
                # p = softmax(z1, z2, z3): the vector, its outputs named p_1, p_2, p_3
                result = self.define_layer(target, layer, self.expression(line[2:-1], line[-1].pos, many=True),
                                           line[0])
                continue
            result = self.expression(line, end, many=last and target is None)
            if target is not None:
                self.define(target, result[0])
        if len(result) == 1:
            v = result[0]
            return _constant(v) if isinstance(v, float) else v
        return Output([_constant(v) if isinstance(v, float) else v for v in result])

    def check_target(self, tok: Token) -> None:
        name = tok.text
        if name in self.functions or name in SUGAR:
            self.src.error(tok.pos, f"{name!r} is a function name and cannot be assigned")
        self.check_variable(name, tok)
        if name in self.known:
            self.src.error(tok.pos, f"{name!r} is already a node of the model and cannot be assigned")
        if name in self.kinds:
            what = {"input": "an input", "parameter": "a parameter", "defined": "a name defined",
                    "known": "a node of the model", "vector": "a vector defined"}[self.kinds[name]]
            self.src.error(tok.pos, f"{name!r} is already {what} earlier; each name is defined once, before its use")
        if name in self.inputs:
            self.src.error(tok.pos, f"{name!r} is an input and cannot be assigned")

    def define_layer(self, target: Token, row: Op, args: list[Any], tok: Token) -> list[Any]:
        """``p = softmax(z1, ..., zn)``: one node per output, named ``p_1 .. p_n``; ``p`` itself
        is no value (a formula uses ``p_k``)."""
        if len(args) < max(row.min_arity, 1):
            self.src.error(tok.pos, f"{tok.text}() takes at least {max(row.min_arity, 1)} argument(s), got {len(args)}")
        name = target.text
        outs = [Token("name", f"{name}_{k + 1}", target.pos) for k in range(len(args))]
        for out in outs:
            self.check_target(out)
        self.count(len(args) * (1 + sum(isinstance(a, float) for a in args)), tok)
        nodes = [self.build(row.name, args, tok, attr=k) for k in range(len(args))]
        for out, node in zip(outs, nodes):
            self.define(out, node)
        self.kinds[name] = "vector"
        self.vectors[name] = len(args)
        return nodes

    def define(self, tok: Token, value: Any) -> None:
        name = tok.text
        if isinstance(value, Node) and value.kind == "op" and value._name is None:
            value._name = name  # a fresh node the parser built: it takes the line's name
        self.names[name] = value
        self.kinds[name] = "defined"


def _whole_call(line: list[Token]) -> bool:
    """Whether ``line`` is one call ``f( ... )`` whose parenthesis closes at its end."""
    if len(line) < 3 or line[1].kind != "lpar" or line[-1].kind != "rpar":
        return False
    depth = 0
    for k, t in enumerate(line[1:], start=1):
        depth += t.kind == "lpar"
        depth -= t.kind == "rpar"
        if depth == 0:
            return k == len(line) - 1
    return False


def _check_inputs(inputs: Any) -> list[str]:
    if inputs is None:
        return []
    if isinstance(inputs, str):
        inputs = [inputs]
    try:
        names = list(inputs)
    except TypeError:
        raise FormulaError(f"inputs must be a list of names, got {type(inputs).__name__}") from None
    for name in names:
        if not isinstance(name, str):
            raise FormulaError(f"inputs must be names (strings), got {shown(name)}")
        if name in functions() or name in SUGAR or name in ALIASES:
            raise FormulaError(f"input name {name!r} is a function name")
        try:
            check_name(name, "input name")
        except SymnetError as exc:
            raise FormulaError(str(exc)) from None
    return names


def _check_nodes(nodes: Any) -> dict[str, Node]:
    if nodes is None:
        return {}
    if not isinstance(nodes, Mapping):
        raise FormulaError(f"nodes must be a dict of name -> node, got {type(nodes).__name__}")
    for name, node in nodes.items():
        if not isinstance(name, str) or not isinstance(node, Node):
            raise FormulaError(f"nodes must map names to nodes, got {name!r:.40} -> {type(node).__name__}")
    return dict(nodes)


def _check_values(values: Any) -> dict[str, float]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise FormulaError(f"values must be a dict of name -> number, got {type(values).__name__}")
    out = {}
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise FormulaError(f"values[{shown(name)}] must be a finite number, got {shown(v)}")
        out[str(name)] = float(v)
    return out


def parse(text: str, inputs: Iterable[str] | None = None, values: Mapping[str, float] | None = None, *,
          max_length: int = 2000, max_depth: int = 64, max_number: int = 64, max_nodes: int = 10_000,
          nodes: Mapping[str, Node] | None = None) -> Node:
    """Read a formula into a graph node (an :class:`~symnet.graph.Output` for a comma list).

    Names in ``inputs`` become Inputs, the others Parameters (valued from ``values``,
    else drawn from symnet's seeded generator). See the module docstring for the
    grammar and the limits; every problem raises :class:`~symnet.errors.FormulaError`.

    >>> import symnet as sn
    >>> y = parse("sigmoid(w*x + b)", inputs=["x"], values={"w": 2.0, "b": -1.0, "x": 0.5})
    >>> y.forward(), sn.compile(y).funcify()
    (0.5, 'sigmoid(w*x + b)')
    >>> parse("z = w*x + b; max(0, z)", inputs=["x"]).compile().funcify(layers=True)
    'z = w*x + b\\nyhat = relu(z)'
    >>> parse("2*(w*x+b-y)*x)")
    Traceback (most recent call last):
    ...
    symnet.errors.FormulaError: unexpected ')' at col 14
      2*(w*x+b-y)*x)
                   ^
    """
    limits = Limits(max_length, max_depth, max_number, max_nodes)
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be a string, got {type(text).__name__}")
    if len(text) > limits.max_length:
        raise FormulaError(f"formula too long ({len(text)} > {limits.max_length} characters; "
                           "pass max_length= to allow longer formulas)")
    names = _check_inputs(inputs)
    vals = _check_values(values)
    known = _check_nodes(nodes)
    source = _Source(text)
    parser = _Parser(source, limits, names, vals, known)
    root = parser.program(tokenize(source, limits))
    unused = [name for name in vals if parser.kinds.get(name) not in ("input", "parameter")]
    if unused:
        raise FormulaError(f"values given for {', '.join(map(repr, unused))}, which the formula does not use "
                           f"as a variable")
    return root


def _constant(v: float) -> Node:
    """A Constant for a formula number; one whose literal is not exactly its float
    (``0.1``, ``1 + 1e-30``) keeps the exact rational as its ``attr``, which the
    verifier reads."""
    node = Constant(float(v))
    if isinstance(v, Exact) and Fraction(float(v)) != v.exact:
        node.attr = v.exact
    return node
