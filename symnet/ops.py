"""The op table: everything symnet knows about an elementary operation, one row per op.

The engine, every emitter, the verifier and the command line read these rows
and name no op themselves. A row holds

* ``arity`` -- the number of children, or ``None`` for n-ary ops (at least ``min_arity``);
* ``forward(xs, attr) -> float`` -- the value from the children's values;
* ``partials(xs, y, attr) -> tuple`` -- the local derivative with respect to each
  child, given the children's values ``xs`` and the op's own value ``y``;
* ``sympy(sp, exprs, attr) -> sympy.Expr`` -- the op written with SymPy's own
  functions only (``exp``, ``log``, ``tanh``, ``Piecewise`` ...), so that SymPy can
  differentiate it without knowing any of symnet's derivative rules;
* ``text``, ``latex`` -- how the op is written (a :class:`Form`);
* ``python(operands, attr, bind)``, ``python_partials(operands, y, attr, bind)`` -- the
  op and its partials as Python source over operand names, for generated
  straight-line code (``None``: call ``forward`` / ``partials``); a kernel the source
  calls is written ``bind(function)``, which binds that function object into the
  generated code and returns the name it has there (no name table);
* ``array`` -- optional NumPy versions of the kernels the Python forms bind
  (``{scalar kernel: array kernel}``, see :mod:`symnet.ops_array`): the NumPy
  backend writes the same source with these bound instead;
* ``sum``, ``product`` -- traits: the row is the n-ary sum / product a neuron is made of;
* ``kink(xs, attr)`` -- for ops with a non-differentiable point, the signed distance
  of the input from it (ReLU: its input), else ``None``.

``attr`` is the op's structured parameter: the exponent of ``pow``, the output
index of ``softmax``; ``None`` for most ops.

Conventions: ``relu'(0) = 0`` (as in PyTorch and JAX); ``sigmoid`` and ``tanh``
saturate to exact 0/1 (-1/1) without overflow; ``exp`` overflow, ``log`` of a
non-positive number and division by zero raise, and the engine turns that into a
:class:`~symnet.errors.NumericalError` naming the node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from . import ops_array
from .errors import ArityError, GraphError, UnknownOpError

__all__ = [
    "Op",
    "Form",
    "OPS",
    "get_op",
    "PREC_ADD",
    "PREC_MUL",
    "PREC_NEG",
    "PREC_POW",
    "PREC_CALL",
    "PREC_ATOM",
    "BCE_LOG_FLOOR",
]

# The shared precedence scale: higher binds tighter.
PREC_ADD = 10
PREC_MUL = 20
PREC_NEG = 30
PREC_POW = 40
PREC_CALL = 50
PREC_ATOM = 60

#: ``bce`` clamps each log term at this floor (as PyTorch does), so predictions of
#: exactly 0 or 1 give a finite loss.
BCE_LOG_FLOOR = -100.0
#: ``bce`` divides its gradient by ``max(p * (1 - p), BCE_EPS)``.
BCE_EPS = 1e-12


@dataclass(frozen=True)
class Form:
    """How an op is written in one notation.

    ``kind`` is one of

    * ``"infix"``: operands joined by ``symbol``; the first operand needs precedence
      at least ``operand_prec``, the others at least ``right_prec``;
    * ``"prefix"``: ``symbol`` then the operand (precedence at least ``operand_prec``);
    * ``"call"``: ``symbol(operand, ...)``;
    * ``"power"``: the operand (precedence at least ``operand_prec``) raised to the
      op's ``attr``;
    * ``"template"``: ``render(operands, attr)`` builds the string; every operand
      with precedence below ``operand_prec`` is parenthesised first.

    ``prec`` is the precedence of the whole written form. In LaTeX forms the infix
    symbol ``{times}`` stands for the multiplication sign the caller chose.
    """

    kind: str
    symbol: str = ""
    prec: int = PREC_CALL
    operand_prec: int = 0
    right_prec: int = 0
    render: Callable[[Sequence[str], Any], str] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("infix", "prefix", "call", "power", "template"):
            raise GraphError(f"unknown form kind {self.kind!r}")
        if self.kind == "template" and self.render is None:
            raise GraphError("a template form needs a render function")


def infix(symbol: str, prec: int, left: int | None = None, right: int | None = None) -> Form:
    """An infix form; by default every operand needs at least the op's own precedence."""
    return Form("infix", symbol, prec, prec if left is None else left, prec if right is None else right)


def call(name: str) -> Form:
    """A function-call form ``name(a, b, ...)``."""
    return Form("call", name, PREC_CALL)


def template(render: Callable[[Sequence[str], Any], str], prec: int, operand_prec: int = 0) -> Form:
    """A form built by ``render(operands, attr)``."""
    return Form("template", "", prec, operand_prec, render=render)


@dataclass(frozen=True)
class Op:
    """One row of the op table (see the module docstring for the fields)."""

    name: str
    arity: int | None
    forward: Callable[[tuple[float, ...], Any], float]
    partials: Callable[[tuple[float, ...], float, Any], tuple[float, ...]]
    sympy: Callable[[Any, tuple[Any, ...], Any], Any]
    text: Form
    latex: Form
    doc: str = ""
    derivative: str = ""
    min_arity: int = 1
    python: Callable[[Sequence[str], Any, Callable[[Callable[..., Any]], str]], str] | None = None
    python_partials: Callable[[Sequence[str], str, Any, Callable[[Callable[..., Any]], str]],
                              tuple[str, ...]] | None = None
    kink: Callable[[tuple[float, ...], Any], float] | None = None
    builtin: bool = field(default=True, compare=False)
    array: Mapping[Callable[..., Any], Callable[..., Any]] | None = field(default=None, compare=False)
    sum: bool = False
    product: bool = False

    def check_arity(self, n: int, where: str) -> None:
        """Raise :class:`ArityError` naming ``where`` unless ``n`` children fit this op."""
        if self.arity is None:
            if n < self.min_arity:
                raise ArityError(f"{where}: '{self.name}' takes at least {self.min_arity} children, got {n}")
        elif n != self.arity:
            raise ArityError(f"{where}: '{self.name}' takes {self.arity} child{'ren' if self.arity != 1 else ''}, got {n}")


# ---------------------------------------------------------------------------
# Scalar kernels. The generated Python code calls these same functions, so the
# engine and the generated code agree bit for bit.


def add(*xs: float) -> float:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def mul(*xs: float) -> float:
    total = xs[0]
    for x in xs[1:]:
        total = total * x
    return total


def mul_partials(xs: Sequence[float]) -> tuple[float, ...]:
    """Product of all the other factors, for each factor (exact when one is 0)."""
    n = len(xs)
    if n == 1:
        return (1.0,)
    if n == 2:
        return (xs[1], xs[0])
    prefix = [1.0] * n
    for i in range(1, n):
        prefix[i] = prefix[i - 1] * xs[i - 1]
    out = [0.0] * n
    suffix = 1.0
    for i in range(n - 1, -1, -1):
        out[i] = prefix[i] * suffix
        suffix = suffix * xs[i]
    return tuple(out)


def sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    if x != x:
        return x
    e = math.exp(x)
    return e / (1.0 + e)


def relu(x: float) -> float:
    # NaN propagates (max(0.0, nan) would hide it).
    return x if (x > 0.0 or x != x) else 0.0


def relu_grad(x: float) -> float:
    return 1.0 if x > 0.0 else 0.0


def power(x: float, p: float) -> float:
    # math.pow raises instead of returning a complex number or a wrong 0.
    return math.pow(x, p)


def power_grad(x: float, p: float) -> float:
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    return p * math.pow(x, p - 1.0)


def log(x: float) -> float:
    if not x > 0.0:
        raise ValueError(f"log of non-positive value {x!r}")
    return math.log(x)


def div(a: float, b: float) -> float:
    return a / b


def softmax(zs: Sequence[float], k: int) -> float:
    m = max(zs)
    es = [math.exp(z - m) for z in zs]
    return es[k] / math.fsum(es)


def softmax_partials(zs: Sequence[float], k: int) -> tuple[float, ...]:
    m = max(zs)
    es = [math.exp(z - m) for z in zs]
    s = math.fsum(es)
    ps = [e / s for e in es]
    pk = ps[k]
    return tuple(pk * ((1.0 if j == k else 0.0) - pj) for j, pj in enumerate(ps))


def log_softmax(zs: Sequence[float], k: int) -> float:
    m = max(zs)
    return zs[k] - m - math.log(math.fsum(math.exp(z - m) for z in zs))


def log_softmax_partials(zs: Sequence[float], k: int) -> tuple[float, ...]:
    m = max(zs)
    es = [math.exp(z - m) for z in zs]
    s = math.fsum(es)
    return tuple((1.0 if j == k else 0.0) - e / s for j, e in enumerate(es))


def bce(p: float, t: float) -> float:
    lp = math.log(p) if p > 0.0 else -math.inf
    lq = math.log(1.0 - p) if p < 1.0 else -math.inf
    return -(t * max(lp, BCE_LOG_FLOOR) + (1.0 - t) * max(lq, BCE_LOG_FLOOR))


def bce_partials(p: float, t: float) -> tuple[float, float]:
    lp = math.log(p) if p > 0.0 else -math.inf
    lq = math.log(1.0 - p) if p < 1.0 else -math.inf
    dp = (p - t) / max(p * (1.0 - p), BCE_EPS)
    dt = -(max(lp, BCE_LOG_FLOOR) - max(lq, BCE_LOG_FLOOR))
    return (dp, dt)


def _sympy_number(sp: Any, value: float) -> Any:
    """An exact SymPy number for a float (integers stay integers)."""
    if float(value).is_integer():
        return sp.Integer(int(value))
    num, den = float(value).as_integer_ratio()
    return sp.Rational(num, den)


def format_exponent(p: float) -> str:
    """An exponent as written in formulas: ``2`` for 2.0, ``0.5``, ``-1``."""
    return str(int(p)) if float(p).is_integer() and abs(p) < 1e15 else repr(float(p))


def _softmax_text(operands: Sequence[str], k: Any) -> str:
    return f"exp({operands[k]})/({' + '.join(f'exp({o})' for o in operands)})"


def _log_softmax_text(operands: Sequence[str], k: Any) -> str:
    return f"{operands[k]} - log({' + '.join(f'exp({o})' for o in operands)})"


def _softmax_latex(operands: Sequence[str], k: Any) -> str:
    return rf"\frac{{e^{{{operands[k]}}}}}{{{' + '.join(f'e^{{{o}}}' for o in operands)}}}"


def _log_softmax_latex(operands: Sequence[str], k: Any) -> str:
    return rf"{operands[k]} - \log\left({' + '.join(f'e^{{{o}}}' for o in operands)}\right)"


def _bce_text(operands: Sequence[str], _: Any) -> str:
    p, t = operands
    return f"-({t}*log({p}) + (1 - {t})*log(1 - {p}))"


def _bce_latex(operands: Sequence[str], _: Any) -> str:
    p, t = operands
    return rf"-\left({t} \log {p} + \left(1 - {t}\right) \log\left(1 - {p}\right)\right)"


def _table(*rows: Op) -> dict[str, Op]:
    table: dict[str, Op] = {}
    for row in rows:
        if row.name in table:
            raise GraphError(f"op '{row.name}' is defined twice")
        table[row.name] = row
    return table


#: The op table. ``define_op`` adds rows; nothing else writes to it.
OPS: dict[str, Op] = _table(
    Op("add", None, lambda xs, a: add(*xs), lambda xs, y, a: (1.0,) * len(xs),
       lambda sp, e, a: sp.Add(*e, evaluate=False) if len(e) > 1 else e[0],
       text=infix(" + ", PREC_ADD), latex=infix(" + ", PREC_ADD),
       doc="n-ary sum", derivative="d/dx_i = 1", min_arity=1,
       python=lambda o, a, k: " + ".join(o), python_partials=lambda o, y, a, k: ("1.0",) * len(o), sum=True),
    Op("mul", None, lambda xs, a: mul(*xs), lambda xs, y, a: mul_partials(xs),
       lambda sp, e, a: sp.Mul(*e, evaluate=False) if len(e) > 1 else e[0],
       text=infix("*", PREC_MUL), latex=infix("{times}", PREC_MUL),
       doc="n-ary product", derivative="d/dx_i = product of the other factors", min_arity=1,
       python=lambda o, a, k: " * ".join(o),
       python_partials=lambda o, y, a, k: tuple(" * ".join(o[:i] + o[i + 1:]) or "1.0" for i in range(len(o))),
       product=True),
    Op("sub", 2, lambda xs, a: xs[0] - xs[1], lambda xs, y, a: (1.0, -1.0),
       lambda sp, e, a: e[0] - e[1],
       text=infix(" - ", PREC_ADD, right=PREC_ADD + 1), latex=infix(" - ", PREC_ADD, right=PREC_ADD + 1),
       doc="a - b", derivative="d/da = 1, d/db = -1",
       python=lambda o, a, k: f"{o[0]} - {o[1]}", python_partials=lambda o, y, a, k: ("1.0", "-1.0")),
    Op("neg", 1, lambda xs, a: -xs[0], lambda xs, y, a: (-1.0,),
       lambda sp, e, a: -e[0],
       text=Form("prefix", "-", PREC_NEG, PREC_POW + 1), latex=Form("prefix", "-", PREC_NEG, PREC_POW + 1),
       doc="-a", derivative="-1",
       python=lambda o, a, k: f"-{o[0]}", python_partials=lambda o, y, a, k: ("-1.0",)),
    Op("div", 2, lambda xs, a: div(xs[0], xs[1]), lambda xs, y, a: (1.0 / xs[1], -y / xs[1]),
       lambda sp, e, a: e[0] / e[1],
       text=infix("/", PREC_MUL, right=PREC_MUL + 1),
       latex=template(lambda o, a: rf"\frac{{{o[0]}}}{{{o[1]}}}", PREC_CALL),
       doc="a / b", derivative="d/da = 1/b, d/db = -a/b**2",
       python=lambda o, a, k: f"{o[0]} / {o[1]}",
       python_partials=lambda o, y, a, k: (f"1.0 / {o[1]}", f"-{y} / {o[1]}")),
    Op("pow", 1, lambda xs, p: power(xs[0], p), lambda xs, y, p: (power_grad(xs[0], p),),
       lambda sp, e, p: sp.Pow(e[0], _sympy_number(sp, p), evaluate=False),
       text=Form("power", "**", PREC_POW, PREC_POW + 1),
       latex=Form("power", "^", PREC_POW, PREC_POW + 1),
       doc="a ** p for a number p", derivative="p * a**(p - 1)",
       python=lambda o, p, k: f"{k(power)}({o[0]}, {float(p)!r})",
       python_partials=lambda o, y, p, k: (f"{k(power_grad)}({o[0]}, {float(p)!r})",),
       array={power: ops_array.power, power_grad: ops_array.power_grad}),
    Op("exp", 1, lambda xs, a: math.exp(xs[0]), lambda xs, y, a: (y,),
       lambda sp, e, a: sp.exp(e[0]),
       text=call("exp"), latex=call(r"\exp"), doc="e ** a", derivative="exp(a)",
       python=lambda o, a, k: f"{k(math.exp)}({o[0]})", python_partials=lambda o, y, a, k: (y,),
       array={math.exp: ops_array.exp}),
    Op("log", 1, lambda xs, a: log(xs[0]), lambda xs, y, a: (1.0 / xs[0],),
       lambda sp, e, a: sp.log(e[0]),
       text=call("log"), latex=call(r"\log"), doc="natural logarithm", derivative="1/a",
       python=lambda o, a, k: f"{k(log)}({o[0]})", python_partials=lambda o, y, a, k: (f"1.0 / {o[0]}",),
       array={log: ops_array.log}),
    Op("relu", 1, lambda xs, a: relu(xs[0]), lambda xs, y, a: (relu_grad(xs[0]),),
       lambda sp, e, a: sp.Piecewise((e[0], e[0] > 0), (0, True)),
       text=call("relu"), latex=call(r"\operatorname{ReLU}"),
       doc="max(0, a)", derivative="1 if a > 0 else 0 (0 at a = 0)",
       python=lambda o, a, k: f"{k(relu)}({o[0]})", python_partials=lambda o, y, a, k: (f"{k(relu_grad)}({o[0]})",),
       kink=lambda xs, a: xs[0], array={relu: ops_array.relu, relu_grad: ops_array.relu_grad}),
    Op("sigmoid", 1, lambda xs, a: sigmoid(xs[0]), lambda xs, y, a: (y * (1.0 - y),),
       lambda sp, e, a: 1 / (1 + sp.exp(-e[0])),
       text=call("sigmoid"), latex=call(r"\sigma"),
       doc="1 / (1 + exp(-a))", derivative="sigmoid(a) * (1 - sigmoid(a))",
       python=lambda o, a, k: f"{k(sigmoid)}({o[0]})", python_partials=lambda o, y, a, k: (f"{y} * (1.0 - {y})",),
       array={sigmoid: ops_array.sigmoid}),
    Op("tanh", 1, lambda xs, a: math.tanh(xs[0]), lambda xs, y, a: (1.0 - y * y,),
       lambda sp, e, a: sp.tanh(e[0]),
       text=call("tanh"), latex=call(r"\tanh"), doc="hyperbolic tangent", derivative="1 - tanh(a)**2",
       python=lambda o, a, k: f"{k(math.tanh)}({o[0]})", python_partials=lambda o, y, a, k: (f"1.0 - {y} * {y}",),
       array={math.tanh: ops_array.tanh}),
    Op("softmax", None, lambda xs, k: softmax(xs, k), lambda xs, y, k: softmax_partials(xs, k),
       lambda sp, e, k: sp.exp(e[k]) / sp.Add(*[sp.exp(z) for z in e]),
       text=template(_softmax_text, PREC_MUL), latex=template(_softmax_latex, PREC_CALL),
       doc="k-th softmax output exp(z_k) / sum_j exp(z_j) (shifted by the max)",
       derivative="p_k * (delta_kj - p_j)",
       python=lambda o, c, k: f"{k(softmax)}(({', '.join(o)},), {c})",
       python_partials=lambda o, y, c, k: tuple(
           f"{y} * ({'1.0' if j == c else '0.0'} - {k(softmax)}(({', '.join(o)},), {j}))" for j in range(len(o))),
       array={softmax: ops_array.softmax}),
    Op("log_softmax", None, lambda xs, k: log_softmax(xs, k), lambda xs, y, k: log_softmax_partials(xs, k),
       lambda sp, e, k: e[k] - sp.log(sp.Add(*[sp.exp(z) for z in e])),
       text=template(_log_softmax_text, PREC_ADD, PREC_ADD),
       latex=template(_log_softmax_latex, PREC_ADD, PREC_ADD),
       doc="log of the k-th softmax output (stable)", derivative="delta_kj - p_j",
       python=lambda o, c, k: f"{k(log_softmax)}(({', '.join(o)},), {c})",
       python_partials=lambda o, y, c, k: tuple(
           f"{'1.0' if j == c else '0.0'} - {k(softmax)}(({', '.join(o)},), {j})" for j in range(len(o))),
       array={log_softmax: ops_array.log_softmax, softmax: ops_array.softmax}),
    Op("bce", 2, lambda xs, a: bce(xs[0], xs[1]), lambda xs, y, a: bce_partials(xs[0], xs[1]),
       lambda sp, e, a: -(e[1] * sp.log(e[0]) + (1 - e[1]) * sp.log(1 - e[0])),
       text=template(_bce_text, PREC_NEG, PREC_MUL + 1), latex=template(_bce_latex, PREC_NEG, PREC_CALL),
       doc="binary cross-entropy of a probability p against a target t (logs clamped at -100)",
       derivative="d/dp = (p - t) / (p (1 - p))",
       python=lambda o, a, k: f"{k(bce)}({o[0]}, {o[1]})", python_partials=None, array={bce: ops_array.bce}),
)

def get_op(name: str, where: str = "") -> Op:
    """The row for ``name``; :class:`UnknownOpError` (naming ``where``) if there is none."""
    try:
        return OPS[name]
    except (KeyError, TypeError):
        prefix = f"{where}: " if where else ""
        raise UnknownOpError(f"{prefix}unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None
