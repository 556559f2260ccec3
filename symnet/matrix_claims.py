"""Matrix-form claims: check a hand-derived gradient such as ``dL/dW = 2*(W@x + b - y) @ x.T``.

Both the model and the claim are matrix expressions over names of given shapes
(``shapes={"W": (2, 3), "x": (3, 1)}``; other names are scalars). They are read
with the formula parser's own tokenizer (:func:`symnet.parse.tokenize`; nothing is
evaluated or sympified) extended by two tokens, ``@`` (matrix product) and the
postfix ``.T`` (transpose), and expanded into scalar graphs, one per entry:
``W`` becomes the leaves ``W_1_1 .. W_2_3``. The grammar, in Python's precedence::

    expr := expr ('+' | '-') expr                 elementwise, with NumPy broadcasting
          | expr ('*' | '/' | '@') expr           '*' '/' elementwise, '@' the matrix product
          | ('-' | '+') expr | expr '**' number   elementwise power (also '^')
          | f(expr)                               an elementwise function of the op table
          | sum(expr) | mean(expr)               all entries, to a 1x1 result
          | expr '.T' | name | number | '(' expr ')'

An entry can also be named alone, ``W_2_3`` for ``W[2, 3]`` (1-based). The model must be 1x1 (a loss); the claim must have the shape of ``wrt``. Entry
``[i, j]`` of the claim is checked against SymPy's derivative of the model with
respect to ``wrt[i, j]`` by :func:`symnet.derivative.check_derivative`, the same
verdict (symbolic test, 50-digit probes, counterexample) as a scalar claim. When
the model is a sum (``sum``, ``mean``, ``+``), an entry is checked on the terms
that hold it, leaving out terms that are polynomials without it (their derivative
is 0, they are defined everywhere and have no kink): the same derivative on a model
a fraction of the size, which makes a 10x10 ``W`` a matter of seconds (see
:class:`_Summands` and ``bench/matrix_claims.py``); each entry's verdict then
names that smaller model. A shape mismatch is a
:class:`~symnet.errors.FormulaError` naming both shapes and the column of the
operator.

>>> import symnet as sn
>>> v = sn.check_derivative("sum((W@x + b - y)**2)", "W", "2*(W@x + b - y) @ x.T",
...                         shapes={"W": (2, 3), "x": (3, 1), "b": (2, 1), "y": (2, 1)}, inputs=["x", "y"])
>>> v.verdict, v.shape
('PASS', (2, 3))
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import FormulaError, InputError, SymnetError
from .graph import RESERVED_NAMES, Input, Node, Parameter, check_name
from .ops import get_op

__all__ = ["MatrixVerdict", "check_matrix_derivative", "read_matrix", "parse_shape", "MAX_ENTRIES", "MAX_NODES"]

#: A name's shape may have at most this many entries, and so may any intermediate (each
#: entry of a claim is one scalar verdict, 30-60 ms: 256 entries take seconds).
MAX_ENTRIES = 256
#: Reading one formula may build at most this many scalar operations.
MAX_NODES = 50_000

_TRANSPOSE = re.compile(r"\.T(?![A-Za-z0-9_])")


@dataclass
class MatrixVerdict:
    """The verdict on a matrix-form claim: PASS only if every entry passes.

    ``entries`` maps ``(i, j)`` (1-based) to the entry's
    :class:`~symnet.derivative.DerivativeVerdict`; ``failed`` is the first entry, in
    row-major order, that is not PASS. The check stops at the first WRONG entry, so a
    wrong claim's ``entries`` end there; a correct claim has every entry.
    """

    wrt: str
    model: str
    claimed: str
    shape: tuple[int, int]
    entries: dict[tuple[int, int], Any] = field(default_factory=dict)
    verdict: str = "PASS"
    failed: tuple[int, int] | None = None

    @property
    def correct(self) -> bool:
        return self.verdict == "PASS"

    def __bool__(self) -> bool:
        return self.correct

    @property
    def counterexample(self) -> Any:
        """The counterexample of the first failing entry (``None`` if there is none)."""
        return None if self.failed is None else self.entries[self.failed].counterexample

    @property
    def expected(self) -> list[list[str]]:
        """SymPy's derivative, entry by entry (rows of strings; ``""`` for an entry not checked
        because an earlier one was WRONG)."""
        r, c = self.shape
        return [[self.entries[(i, j)].expected if (i, j) in self.entries else "" for j in range(1, c + 1)]
                for i in range(1, r + 1)]

    def entry_name(self, ij: tuple[int, int]) -> str:
        """``dL/dW[1,2]``: the derivative of the loss by one entry of ``wrt``."""
        return f"dL/d{self.wrt}[{ij[0]},{ij[1]}]"

    def __str__(self) -> str:
        r, c = self.shape
        head = f"d/d{self.wrt} ({r}x{c}) of {self.model}: claimed {self.claimed}"
        if self.correct:
            first = next(iter(self.entries.values()))
            methods = sorted({e.method for e in self.entries.values() if e.method})
            return (f"{head} is correct (all {r * c} entries equal SymPy's; decided by {', '.join(methods)}; "
                    f"{len(first.points)} probe points, seed {first.seed})")
        assert self.failed is not None
        bad = self.entries[self.failed]
        lines = [f"{head} is {'WRONG' if self.verdict == 'FAIL' else 'UNDEFINED'}",
                 f"  entry {self.entry_name(self.failed)}: claimed {bad.claimed}"]
        if bad.counterexample is not None:
            lines.append(f"  counterexample: {bad.counterexample}")
        if bad.reason:
            lines.append(f"  {bad.reason}")
        lines.append(f"  expected (SymPy): {bad.expected}")
        return "\n".join(lines)


# -- shapes ---------------------------------------------------------------------------------

def parse_shape(text: str) -> tuple[str, tuple[int, int]]:
    """``"W=2x3"`` -> ``("W", (2, 3))`` (the command line's ``--shape``).

    >>> parse_shape("W=2x3"), parse_shape("x = 3 x 1")
    (('W', (2, 3)), ('x', (3, 1)))
    """
    m = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", str(text))
    if m is None:
        raise InputError(f"a shape is NAME=ROWSxCOLS, e.g. W=2x3; got {text!r}")
    return m.group(1), (int(m.group(2)), int(m.group(3)))


def _check_shapes(shapes: Any) -> dict[str, tuple[int, int]]:
    if not isinstance(shapes, Mapping):
        raise InputError(f"shapes must be a dict of name -> (rows, cols), got {type(shapes).__name__}")
    out = {}
    for name, shape in shapes.items():
        check_name(name, "shape name")
        ok = (isinstance(shape, (tuple, list)) and len(shape) == 2
              and all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 1 for d in shape))
        if not ok:
            raise InputError(f"shape of {name!r} must be (rows, cols) with positive integers, got {shape!r}")
        r, c = int(shape[0]), int(shape[1])
        if r * c > MAX_ENTRIES:
            raise InputError(f"shape of {name!r} is {r}x{c}: at most {MAX_ENTRIES} entries")
        out[name] = (r, c)
    return out


# -- matrices of scalar graphs ------------------------------------------------------------------

@dataclass(frozen=True)
class _M:
    """A matrix of scalar graph nodes or numbers, row-major."""

    rows: int
    cols: int
    cells: tuple[Any, ...]

    def at(self, i: int, j: int) -> Any:
        return self.cells[i * self.cols + j]

    @property
    def shape(self) -> str:
        return f"{self.rows}x{self.cols}"


def _scalar(v: Any) -> _M:
    return _M(1, 1, (v,))


def _fold(op: str, args: Sequence[Any], attr: Any) -> float | None:
    """The value of an op on numbers alone (the row's own forward), if finite."""
    if not all(isinstance(a, float) for a in args):
        return None
    try:
        v = get_op(op).forward(tuple(args), attr)
    except (ArithmeticError, ValueError):
        return None
    return float(v) if math.isfinite(v) else None


class _Reader:
    """Recursive descent over the tokens; nesting is bounded by ``max_depth``."""

    def __init__(self, text: str, leaves: dict[str, _M], scalars: dict[str, Node], make_scalar: Any,
                 max_depth: int = 64) -> None:
        from .parse import Limits, Token, _Source, functions, tokenize

        if not isinstance(text, str):
            raise FormulaError(f"a matrix formula must be a string, got {type(text).__name__}")
        limits = Limits()
        if len(text) > limits.max_length:
            raise FormulaError(f"formula too long ({len(text)} > {limits.max_length} characters)")
        self.source = _Source(text)
        extra = [Token("op", "@", m.start()) for m in re.finditer("@", text)]
        extra += [Token("post", ".T", m.start()) for m in _TRANSPOSE.finditer(text)]
        masked = list(text)
        for t in extra:
            masked[t.pos:t.pos + len(t.text)] = " " * len(t.text)
        toks = tokenize(_Source("".join(masked)), limits)
        if toks and toks[-1].kind == "error":
            extra = [t for t in extra if t.pos < toks[-1].pos]
        self.toks = sorted(toks + extra, key=lambda t: t.pos)
        self.k = 0
        self.nodes = 0
        self.depth = 0
        self.max_depth = max_depth
        self.leaves, self.scalars, self.make_scalar = leaves, scalars, make_scalar
        self.functions = functions()
        self.end = Token("end", "", len(text))

    # -- helpers
    def apply(self, op: str, args: Sequence[Any], attr: Any = None) -> Any:
        """One scalar op node (numbers folded), counted against ``MAX_NODES``."""
        v = _fold(op, args, attr)
        if v is not None:
            return v
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.fail(self.toks[min(self.k, len(self.toks)) - 1] if self.toks else self.end,
                      f"the expansion needs more than {MAX_NODES} scalar operations")
        return Node.apply(op, tuple(args), attr)

    def peek(self) -> Any:
        return self.toks[self.k] if self.k < len(self.toks) else self.end

    def take(self) -> Any:
        t = self.peek()
        if t.kind == "error":
            self.source.error(t.pos, t.text)
        self.k += 1
        return t

    def fail(self, tok: Any, message: str) -> Any:
        self.source.error(tok.pos, message)

    def deeper(self, tok: Any) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            self.fail(tok, f"nesting deeper than {self.max_depth}")

    # -- grammar
    def read(self) -> _M:
        m = self.expr()
        t = self.peek()
        if t.kind != "end":
            if t.kind == "error":
                self.take()
            self.fail(t, f"unexpected {t.text!r}")
        return m

    def expr(self) -> _M:
        left = self.term()
        while self.peek().kind == "op" and self.peek().text in "+-":
            tok = self.take()
            left = self.elementwise("add" if tok.text == "+" else "sub", left, self.term(), tok)
        return left

    def term(self) -> _M:
        left = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/", "@"):
            tok = self.take()
            right = self.unary()
            if tok.text == "@":
                left = self.matmul(left, right, tok)
            else:
                left = self.elementwise("mul" if tok.text == "*" else "div", left, right, tok)
        return left

    def unary(self) -> _M:
        t = self.peek()
        if t.kind == "op" and t.text in "+-":
            self.take()
            self.deeper(t)
            m = self.unary()
            self.depth -= 1
            return m if t.text == "+" else _M(m.rows, m.cols, tuple(self.apply("neg", (c,)) for c in m.cells))
        return self.power()

    def power(self) -> _M:
        base = self.postfix()
        t = self.peek()
        if t.kind == "op" and t.text in ("**", "^"):
            self.take()
            self.deeper(t)
            exp = self.unary()
            self.depth -= 1
            if exp.rows * exp.cols != 1 or not isinstance(exp.cells[0], float):
                self.fail(t, "an exponent must be a number")
            p = exp.cells[0]
            if abs(p) > 64:
                self.fail(t, f"exponent {p:g} is out of range (|p| <= 64)")
            return _M(base.rows, base.cols, tuple(self.apply("pow", (c,), p) for c in base.cells))
        return base

    def postfix(self) -> _M:
        m = self.atom()
        while self.peek().kind == "post":
            self.take()
            m = _M(m.cols, m.rows, tuple(m.at(i, j) for j in range(m.cols) for i in range(m.rows)))
        return m

    def atom(self) -> _M:
        t = self.take()
        if t.kind == "num":
            return _scalar(float(t.value))
        if t.kind == "lpar":
            self.deeper(t)
            m = self.expr()
            self.depth -= 1
            self.expect("rpar", ")")
            return m
        if t.kind == "name":
            if self.peek().kind == "lpar":
                return self.call(t)
            return self.variable(t)
        self.fail(t, "expected a number, a name or '('" if t.kind != "end" else "the formula ends too early")
        raise AssertionError  # unreachable: fail raises

    def expect(self, kind: str, text: str) -> None:
        t = self.peek()
        if t.kind != kind:
            self.fail(t, f"expected {text!r}")
        self.take()

    def call(self, name: Any) -> _M:
        self.take()  # '('
        self.deeper(name)
        arg = self.expr()
        self.depth -= 1
        self.expect("rpar", ")")
        if name.text in ("sum", "mean"):
            total = arg.cells[0] if len(arg.cells) == 1 else self.apply("add", arg.cells)
            if name.text == "mean" and len(arg.cells) > 1:
                total = self.apply("div", (total, float(len(arg.cells))))
            return _scalar(total)
        row = self.functions.get(name.text)
        if row is None or row.arity != 1:
            known = ", ".join(sorted(["sum", "mean", *(n for n, r in self.functions.items() if r.arity == 1)]))
            self.fail(name, f"unknown function {name.text!r}; matrix formulas know {known}")
        return _M(arg.rows, arg.cols, tuple(self.apply(row.name, (c,)) for c in arg.cells))

    def variable(self, t: Any) -> _M:
        m = self.leaves.get(t.text)
        if m is not None:
            return m
        if t.text in RESERVED_NAMES or t.text in ("sum", "mean"):
            self.fail(t, f"{t.text!r} is a reserved name")
        node = self.scalars.get(t.text)
        if node is None:
            node = self.scalars[t.text] = self.make_scalar(t.text)
        return _scalar(node)

    # -- operations with shapes
    def elementwise(self, op: str, a: _M, b: _M, tok: Any) -> _M:
        rows, cols = _broadcast(a.rows, b.rows), _broadcast(a.cols, b.cols)
        if rows is None or cols is None:
            self.fail(tok, f"shapes {a.shape} and {b.shape} do not fit elementwise {tok.text!r} "
                           "(equal sizes, or 1 in a dimension to broadcast)")
        _limit(rows * cols, tok, self)
        cells = tuple(self.apply(op, (a.at(i if a.rows > 1 else 0, j if a.cols > 1 else 0),
                                  b.at(i if b.rows > 1 else 0, j if b.cols > 1 else 0)))
                      for i in range(rows) for j in range(cols))
        return _M(rows, cols, cells)

    def matmul(self, a: _M, b: _M, tok: Any) -> _M:
        if a.cols != b.rows:
            self.fail(tok, f"shapes {a.shape} and {b.shape} do not fit '@' (the left's {a.cols} column(s) "
                           f"must equal the right's {b.rows} row(s))")
        _limit(a.rows * b.cols, tok, self)
        cells = []
        for i in range(a.rows):
            for j in range(b.cols):
                terms = [self.apply("mul", (a.at(i, k), b.at(k, j))) for k in range(a.cols)]
                cells.append(terms[0] if len(terms) == 1 else self.apply("add", terms))
        return _M(a.rows, b.cols, tuple(cells))


def _broadcast(m: int, n: int) -> int | None:
    if m == n or n == 1:
        return m
    return n if m == 1 else None


def _limit(entries: int, tok: Any, reader: _Reader) -> None:
    if entries > MAX_ENTRIES:
        reader.fail(tok, f"the result would have {entries} entries (at most {MAX_ENTRIES})")


def read_matrix(text: str, shapes: Mapping[str, tuple[int, int]], inputs: Iterable[str] = (),
                leaves: dict[str, _M] | None = None, scalars: dict[str, Node] | None = None) -> _M:
    """Read a matrix formula into a matrix of scalar graphs (leaves shared through
    ``leaves``/``scalars`` when given, so that a model and a claim use the same nodes).

    >>> m = read_matrix("W @ x", {"W": (2, 3), "x": (3, 1)}, inputs=["x"])
    >>> (m.rows, m.cols), str(m.cells[0].compile())
    ((2, 1), 'W_1_1*x_1_1 + W_1_2*x_2_1 + W_1_3*x_3_1')
    """
    ins = set(inputs)
    shapes = _check_shapes(shapes)
    leaves = {} if leaves is None else leaves
    scalars = {} if scalars is None else scalars

    for name, (r, c) in shapes.items():
        if name not in leaves:
            kind = Input if name in ins else (lambda n: Parameter(0.0, name=n))
            leaves[name] = _M(r, c, tuple(kind(f"{name}_{i}_{j}") for i in range(1, r + 1) for j in range(1, c + 1)))
    # an entry can be named on its own: W_2_3 is W[2, 3] (1-based)
    entries = {n.name: n for m in leaves.values() for n in m.cells if isinstance(n, Node)}

    def make_scalar(name: str) -> Node:
        if name in entries:
            return entries[name]
        return Input(name) if name in ins else Parameter(0.0, name=name)

    return _Reader(text, leaves, scalars, make_scalar).read()


def check_matrix_derivative(model: str, wrt: str, claimed: str, *, shapes: Mapping[str, tuple[int, int]],
                            inputs: Sequence[str] | None = None, points: int = 6, seed: int = 0,
                            check: Callable[..., Any] | None = None) -> MatrixVerdict:
    """Check a matrix-form claim ``claimed`` = d ``model`` / d ``wrt`` entry by entry
    (see the module docstring). ``model`` must be 1x1; ``wrt`` a name in ``shapes`` or
    a scalar of the model; ``inputs`` the names that are inputs (others are parameters).
    Raises FormulaError for unreadable formulas and shape errors, InputError for a
    bad ``wrt`` or ``shapes``. ``check(model_node, wrt_name, claim_node, points=, seed=, _variables=)``
    is the scalar verdict (:func:`symnet.derivative.check_derivative`, which passes
    itself: this module sits below the verifier and does not import it).
    """
    if check is None:
        raise InputError("check_matrix_derivative needs the scalar verdict: call sn.check_derivative(..., shapes=...)")

    for what, text in (("model", model), ("claimed", claimed)):
        if not isinstance(text, str):
            raise InputError(f"with shapes=, {what} must be a matrix formula string, got {type(text).__name__}")
    ins = list(inputs or [])
    shapes = _check_shapes(shapes)
    leaves: dict[str, _M] = {}
    scalars: dict[str, Node] = {}
    loss = read_matrix(model, shapes, ins, leaves, scalars)
    if (loss.rows, loss.cols) != (1, 1):
        raise FormulaError(f"the model is {loss.shape}; a loss must be 1x1 (wrap it in sum(...) or mean(...))")
    claim = read_matrix(claimed, shapes, ins, leaves, scalars)
    if wrt in shapes:
        target = leaves[wrt]
    elif isinstance(wrt, str) and wrt in scalars:
        target = _scalar(scalars[wrt])
    else:
        raise InputError(f"check_derivative: wrt={wrt!r} is not a name of the model; shapes are given for "
                         f"{', '.join(sorted(shapes)) or 'none'}")
    if (claim.rows, claim.cols) != (target.rows, target.cols):
        raise FormulaError(f"the claim is {claim.shape} but {wrt} is {target.shape}: the gradient has the shape "
                           f"of the variable at col 1\n  {claimed}\n  ^")
    root = loss.cells[0]
    if isinstance(root, float):
        raise FormulaError("the model is a constant; it has no derivative to check")
    verdict = MatrixVerdict(wrt, model.strip(), claimed.strip(), (target.rows, target.cols))
    parts = _Summands(root)
    # an entry is checked on the terms that hold it; its claim may still name any variable
    variables = frozenset(n.name for m in leaves.values() for n in m.cells if isinstance(n, Node)) | set(scalars)
    for k, (entry, c) in enumerate(zip(target.cells, claim.cells)):
        ij = (k // target.cols + 1, k % target.cols + 1)
        name = entry.name
        m = parts.model_for(entry)
        try:
            v = check(m, name, c if isinstance(c, Node) else _constant(c), points=points, seed=seed,
                      _variables=variables)
        except SymnetError as exc:
            raise type(exc)(f"entry {verdict.entry_name(ij)}: {exc}") from None
        verdict.entries[ij] = v
        if v.verdict != "PASS" and verdict.failed is None:
            verdict.failed = ij
            verdict.verdict = v.verdict
        elif v.verdict == "FAIL" and verdict.verdict != "FAIL":
            verdict.failed, verdict.verdict = ij, "FAIL"
        if verdict.verdict == "FAIL":  # one wrong entry decides; the rest would only cost time
            break
    return verdict


class _Summands:
    """The model as a sum, for checking one entry at a time on the terms that hold it.

    A loss such as ``sum((W@x + b - y)**2)`` is a sum of terms, one per row, and
    ``W[i, j]`` occurs in one of them: the derivative by ``W[i, j]`` is that term's
    derivative, exactly. Checking each entry against the terms that hold it (instead
    of the whole sum) gives the same derivative, the same symbolic test and the same
    probes of the claim, on a model a fraction of the size. A term is left out only
    if it is a polynomial (``+ - *``, ``**`` by a whole number >= 0): defined
    everywhere and without kinks, so leaving it out changes no domain and no kink
    the verdict looks at. Otherwise the entry is checked on the whole model.
    """

    _POLYNOMIAL = frozenset({"add", "sub", "mul", "neg"})

    def __init__(self, root: Node) -> None:
        self.root = root
        self.scale: Node | None = None  # mean(...): the sum divided by this constant
        top = root
        if root.op == "div" and root.children[1].kind == "constant" and root.children[0].op == "add":
            top, self.scale = root.children
        self.terms: list[Node] = []
        stack = [top] if top.op == "add" else []
        while stack:  # nested sums are one sum
            n = stack.pop()
            if n.op == "add":
                stack.extend(reversed(n.children))
            else:
                self.terms.append(n)
        self.leaves = [_leaf_ids(t) for t in self.terms]
        self.polynomial = [_polynomial(t, self._POLYNOMIAL) for t in self.terms]

    def model_for(self, entry: Node) -> Node:
        """The model to check ``d model / d entry`` on: the terms that hold ``entry``, with
        the polynomial terms that do not left out (the whole model otherwise)."""
        if not _uses(self.root, entry):
            return self.root + 0.0 * entry  # an entry the loss ignores: d/d = 0
        if len(self.terms) < 2:
            return self.root
        kept = [t for t, ids in zip(self.terms, self.leaves) if id(entry) in ids]
        if len(kept) == len(self.terms) or not all(p for t, p in zip(self.terms, self.polynomial)
                                                   if t not in kept):
            return self.root
        total = kept[0] if len(kept) == 1 else Node.apply("add", tuple(kept))
        return total if self.scale is None else Node.apply("div", (total, self.scale))


def _leaf_ids(root: Node) -> set[int]:
    """The ids of the leaves below ``root`` (iterative walk)."""
    seen, stack, out = set(), [root], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if n.children:
            stack.extend(n.children)
        else:
            out.add(id(n))
    return out


def _polynomial(root: Node, ops: frozenset[str]) -> bool:
    """Whether every op below ``root`` is one of ``ops`` or a power by a whole number >= 0."""
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if id(n) in seen or not n.children:
            continue
        seen.add(id(n))
        p = n.attr
        if n.op not in ops and not (n.op == "pow" and isinstance(p, float) and p >= 0 and p.is_integer()):
            return False
        stack.extend(n.children)
    return True


def _constant(v: float) -> Node:
    from .graph import Constant

    return Constant(v)


def _uses(root: Node, leaf: Node) -> bool:
    """Whether ``leaf`` is below ``root`` (iterative walk)."""
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if n is leaf:
            return True
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(n.children)
    return False
