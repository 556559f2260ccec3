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
* ``kink(xs, attr)`` -- for ops with a non-differentiable point, the signed distance
  of the input from it (ReLU: its input), else ``None``;
* ``method``, ``operator``, ``function`` -- the sugar the row gets, generated from
  the table: ``node.<method>(...)`` on every node, the Python operator protocol
  ``operator`` (``"add"``: ``a + b`` and ``1 + a``; ``"neg"``: ``-a``; ``"abs"``:
  ``abs(a)``) and the function name formulas call (see :mod:`symnet.parse`);
* ``param``, ``param_default`` -- the name and default of the op's numeric
  parameter (``leaky_relu``'s ``alpha``), which methods take as their argument and
  formulas as a last numeric argument (``leaky_relu(z, 0.1)``);
* traits, flags that consumers test instead of op names: ``sum`` and ``product``
  (the n-ary add and multiply a neuron is made of), ``activation`` (a neuron's
  nonlinearity: a hand-built neuron is recognised by it, see
  :mod:`symnet.provenance`), ``max_with_zero`` (the op is
  ``max(0, a)``, as formulas may write it), ``log_op`` (the row computing the log
  of this one stably: ``softmax`` -> ``log_softmax``) and ``layerwise`` (the op reads
  a whole layer and its ``attr`` picks the unit: an MLP's output activation);
* ``torch``, ``torch_param`` -- the ``torch.nn`` module this op is, and the module
  attribute that holds the op's parameter (``LeakyReLU.negative_slope``), for
  :func:`symnet.from_torch`.
* ``output_derivative(sp, y)`` -- optional, for a one-input op: its derivative written
  in its own output ``y`` (sigmoid: ``y (1 - y)``), as textbooks write it; gradients
  are printed that way (checked against SymPy's derivative of the ``sympy`` form).
* ``display_derivative(sp, a, y, attr, f)`` -- optional, for a one-input op: its
  derivative at the operand ``a`` written with the model's own functions, as
  textbooks write it: ``f("sigmoid")`` is the display function of another row
  (softplus: ``sigmoid(a)``), ``y`` the op's own output (elu: ``y + alpha`` where
  ``a <= 0``), and an indicator is ``Piecewise((1, cond), (0, True))`` (leaky ReLU:
  ``1[a > 0] + alpha 1[a <= 0]``); checked against SymPy's derivative of the
  ``sympy`` form, which the verifier keeps using.
* ``layer_derivative(sp, p, k, j)`` -- optional, for a ``layerwise`` op: the derivative
  of output ``k`` with respect to operand ``j`` written in the layer's outputs ``p``
  (softmax: ``p_k (1[k = j] - p_j)``, Bishop, *Pattern Recognition and Machine
  Learning*, eq. 4.106); ``layer_symbol`` names those outputs in the chain form of a
  gradient when the network does not (softmax: ``p``). Such an op is written by name
  with its output as a subscript, ``softmax(a, b, c)_2`` (counted from 1), which
  :func:`symnet.parse` reads; log-softmax, the ``log_op`` of softmax, is written
  ``log(softmax(a, b, c)_2)`` and displayed as that log (so that cross-entropy on
  softmax differentiates to ``p_k - 1[k = c]``).

* ``negates`` -- for an op that adds its operands with signs, the operands it subtracts
  (``sub``: ``(1,)``, ``neg``: ``(0,)``): a hand-built neuron's ``w x - b`` is a weighted
  sum, and ``-z`` cuts the space where ``z`` does (:mod:`symnet.check_exact`).
* ``pole`` -- the operand whose zero leaves the op undefined (``div``: its divisor, 1);
  the verifier probes a claim there (:mod:`symnet.check_probe`).
* ``clamp(xs, attr)`` -- for an op whose value follows a documented clamp instead of its
  formula at some inputs (``bce``: a log of 0 floored at -100, as PyTorch's ``BCELoss``),
  why it is clamped at ``xs``, else ``None``; worked examples refuse such a point and
  gradient checks blame the clamp (:func:`symnet.losses.clamped`).

``attr`` is the op's structured parameter: the exponent of ``pow``, the output
index of ``softmax``, the slope of ``leaky_relu``; ``None`` for most ops.

Conventions, each as PyTorch computes it (``torch/csrc/autograd/FunctionsManual.cpp``
and ``aten/src/ATen/native/Activation.cpp``): ``relu'(0) = 0`` (also JAX);
``leaky_relu'(0) = alpha`` and ``elu'(0) = alpha`` (both take the ``x <= 0`` branch
there); ``abs'(0) = 0`` (the sign function); ``softplus(x, threshold)`` is ``x``
where ``x > threshold`` (PyTorch's ``threshold``; ``beta`` is a scaling of the input
and output, see :func:`symnet.torch_import.from_torch`); ``gelu`` is the exact form
``x * Phi(x) = x/2 * (1 + erf(x/sqrt(2)))`` (Hendrycks and Gimpel 2016); ``silu(x) =
x * sigmoid(x)`` (Elfwing et al. 2018); ``sqrt'(0)`` is infinite and raises like a
division by zero. ``sigmoid`` and ``tanh`` saturate to exact 0/1 (-1/1) without overflow; ``exp`` overflow, ``log`` of a
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
    "register",
    "OpTable",
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
    ``word`` marks a LaTeX symbol that prints as an upright word as wide as its
    letters (``\\log``, ``\\exp``), for layout estimates. ``identity`` is the operand an
    infix form leaves out (the product's ``1``: ``1 w x`` is written ``w x``, and a
    factor ``-1`` as a minus sign).
    """

    kind: str
    symbol: str = ""
    prec: int = PREC_CALL
    operand_prec: int = 0
    right_prec: int = 0
    render: Callable[[Sequence[str], Any], str] | None = None
    word: bool = False
    identity: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("infix", "prefix", "call", "power", "template"):
            raise GraphError(f"unknown form kind {self.kind!r}")
        if self.kind == "template" and self.render is None:
            raise GraphError("a template form needs a render function")


def infix(symbol: str, prec: int, left: int | None = None, right: int | None = None,
          identity: str | None = None) -> Form:
    """An infix form; by default every operand needs at least the op's own precedence;
    ``identity``: see :class:`Form`."""
    return Form("infix", symbol, prec, prec if left is None else left, prec if right is None else right,
                identity=identity)


def call(name: str, word: bool = False) -> Form:
    """A function-call form ``name(a, b, ...)``; ``word``: see :class:`Form`."""
    return Form("call", name, PREC_CALL, word=word)


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
    method: str | None = None
    operator: str | None = None
    function: str | None = None
    param: str | None = None
    param_default: float | None = None
    sum: bool = False
    product: bool = False
    activation: bool = False
    max_with_zero: bool = False
    log_op: str | None = None
    layerwise: bool = False
    torch: str | None = None
    torch_param: str | None = None
    formula: str | None = None
    output_derivative: Callable[[Any, Any], Any] | None = None
    layer_derivative: Callable[[Any, Sequence[Any], int, int], Any] | None = None
    layer_symbol: str | None = None
    display_derivative: Callable[[Any, Any, Any, Any, Callable[[str], Any]], Any] | None = None
    negates: tuple[int, ...] = ()
    pole: int | None = None
    clamp: Callable[[tuple[float, ...], Any], str | None] | None = None

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


def bce_domain(p: float, t: float) -> None:
    """Refuse a prediction or a target outside [0, 1] (ValueError; the engine names the
    node), as PyTorch's ``BCELoss`` does: BCE takes a probability, such as a sigmoid's
    output, not a logit or a linear output."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bce takes a probability: the prediction {p!r} is outside [0, 1] "
                         "(put a sigmoid on the output)")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"bce: the target {t!r} is outside [0, 1]")


def bce(p: float, t: float) -> float:
    bce_domain(p, t)
    lp = math.log(p) if p > 0.0 else -math.inf
    lq = math.log(1.0 - p) if p < 1.0 else -math.inf
    return -(t * max(lp, BCE_LOG_FLOOR) + (1.0 - t) * max(lq, BCE_LOG_FLOOR))


def bce_clamp(p: float, t: float) -> str | None:
    """Why ``bce(p, t)`` is its clamp rather than its formula, or ``None``: a prediction of
    exactly 0 or 1 whose log term the target weights (that log is ``log 0``, floored)."""
    if (p == 1.0 and t != 1.0) or (p == 0.0 and t != 0.0):
        return (f"the prediction is exactly {p:g} in float64 (a sigmoid of a logit beyond about 37 rounds to 1), "
                f"where the log is clamped at {BCE_LOG_FLOOR:g}, as in PyTorch's BCELoss, and the gradient is 0 "
                "instead of the formula's")
    return None


def bce_partials(p: float, t: float) -> tuple[float, float]:
    bce_domain(p, t)
    lp = math.log(p) if p > 0.0 else -math.inf
    lq = math.log(1.0 - p) if p < 1.0 else -math.inf
    dp = (p - t) / max(p * (1.0 - p), BCE_EPS)
    dt = -(max(lp, BCE_LOG_FLOOR) - max(lq, BCE_LOG_FLOOR))
    return (dp, dt)


def _param(attr: Any, default: float) -> float:
    return default if attr is None else attr


def leaky_relu(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * x


def leaky_relu_grad(x: float, alpha: float) -> float:
    return 1.0 if x > 0.0 else alpha


def softplus(x: float, threshold: float | None) -> float:
    if threshold is not None and x > threshold:
        return x
    # log(1 + e^x) without overflow: x + log1p(e^-x) for positive x
    return x + math.log1p(math.exp(-x)) if x > 0.0 else math.log1p(math.exp(x))


def softplus_grad(x: float, threshold: float | None) -> float:
    if threshold is not None and x > threshold:
        return 1.0
    return sigmoid(x)


def elu(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * math.expm1(x)


def elu_grad(x: float, alpha: float) -> float:
    return 1.0 if x > 0.0 else alpha * math.exp(x)


_SQRT1_2 = 0.7071067811865476  # 1/sqrt(2), M_SQRT1_2
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2*pi)
_TWO_OVER_SQRTPI = 1.1283791670955126  # 2/sqrt(pi), M_2_SQRTPI


def gelu(x: float) -> float:
    # PyTorch's exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))
    return x * 0.5 * (1.0 + math.erf(x * _SQRT1_2))


def gelu_grad(x: float) -> float:
    # Phi(x) + x * phi(x)
    return 0.5 * (1.0 + math.erf(x * _SQRT1_2)) + x * math.exp(-0.5 * x * x) * _INV_SQRT_2PI


def silu(x: float) -> float:
    return x * sigmoid(x)


def silu_grad(x: float) -> float:
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def abs_grad(x: float) -> float:
    # the sign of x, 0 at 0 (PyTorch's abs backward uses sgn)
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def sign(x: float) -> float:
    # 1, -1, or 0 at 0 (abs' as PyTorch computes it); NaN propagates
    return x if x != x else abs_grad(x)


def sqrt(x: float) -> float:
    if x < 0.0:
        raise ValueError(f"sqrt of negative value {x!r}")
    return math.sqrt(x)


def sqrt_grad(y: float) -> float:
    if y == 0.0:  # raise also when y is a NumPy float, which would give inf
        raise ZeroDivisionError("the derivative of sqrt at 0 is infinite")
    return 0.5 / y


def _piecewise_linear(sp: Any, a: Any, neg: Any) -> Any:
    return sp.Piecewise((a, a > 0), (neg, True))


def _sympy_number(sp: Any, value: float) -> Any:
    """An exact SymPy number for a float (integers stay integers): a formula's number
    carries the exact rational of its text as ``.exact`` (``1/3``, see
    :class:`symnet.parse.Exact`); any other float is its own binary value."""
    exact = getattr(value, "exact", None)
    if exact is not None:
        return sp.Rational(exact.numerator, exact.denominator)
    if float(value).is_integer():
        return sp.Integer(int(value))
    num, den = float(value).as_integer_ratio()
    return sp.Rational(num, den)


def _sympy_decimal(sp: Any, value: float) -> Any:
    """The shortest decimal that reads back as ``value`` (0.1 is 1/10), exact in SymPy.

    For an op's parameter (a slope, a threshold): it prints as the user wrote it, and
    differs from the binary value by less than one unit in its last place.
    """
    return sp.Rational(repr(float(value)))


def format_exponent(p: float) -> str:
    """An exponent as written in formulas: ``2`` for 2.0, ``0.5``, ``-1``."""
    return str(int(p)) if float(p).is_integer() and abs(p) < 1e15 else repr(float(p))


def _indicator(sp: Any, cond: Any) -> Any:
    """``1[cond]``: 1 where ``cond`` holds, else 0 (printed ``step(a)`` for ``a > 0``)."""
    return sp.Piecewise((1, cond), (0, True))


def _softplus_derivative(sp: Any, a: Any, y: Any, t: Any, f: Callable[[str], Any]) -> Any:
    # sigmoid(a); above PyTorch's threshold the op is a itself, of slope 1
    if t is None:
        return f("sigmoid")(a)
    t = _sympy_decimal(sp, t)
    return _indicator(sp, a > t) + f("sigmoid")(a) * _indicator(sp, a <= t)


def _silu_derivative(sp: Any, a: Any, y: Any, attr: Any, f: Callable[[str], Any]) -> Any:
    s = f("sigmoid")(a)  # s (1 + a (1 - s)), Elfwing et al. 2018
    return s * (1 + a * (1 - s))


# softmax by name, output k counted from 1 as a subscript; k None: the whole vector
def _softmax_display_text(operands: Sequence[str], k: Any) -> str:
    return f"softmax({', '.join(operands)})" + ("" if k is None else f"_{int(k) + 1}")


def _softmax_display_latex(operands: Sequence[str], k: Any) -> str:
    return rf"\operatorname{{softmax}}\left({', '.join(operands)}\right)" + ("" if k is None else f"_{{{int(k) + 1}}}")


def _softmax_derivative(sp: Any, p: Sequence[Any], k: int, j: int) -> Any:
    return p[k] * ((1 if j == k else 0) - p[j])


def _bce_text(operands: Sequence[str], _: Any) -> str:
    p, t = operands
    return f"-({t}*log({p}) + (1 - {t})*log(1 - {p}))"


def _bce_latex(operands: Sequence[str], _: Any) -> str:
    p, t = operands
    return rf"-\left({t} \log\left({p}\right) + \left(1 - {t}\right) \log\left(1 - {p}\right)\right)"


class OpTable(dict):  # type: ignore[type-arg]
    """The op table: a dict of rows by name that also finds rows by a sugar field.

    ``find("method", "relu")`` is the row whose ``method`` is ``"relu"``; the index
    behind it is rebuilt whenever the table changes (``define_op``, or a test that
    adds a row), so sugar and the parser follow the table with no other edit.
    """

    def __init__(self, *rows: Op) -> None:
        super().__init__()
        self._indexes: dict[str, dict[Any, Op]] = {}
        for row in rows:
            if row.name in self:
                raise GraphError(f"op '{row.name}' is defined twice")
            self[row.name] = row

    def _changed(self) -> None:
        self._indexes = {}

    def __setitem__(self, key: str, value: Op) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def pop(self, *args: Any) -> Any:
        out = super().pop(*args)
        self._changed()
        return out

    def popitem(self) -> Any:
        out = super().popitem()
        self._changed()
        return out

    def setdefault(self, key: str, default: Any = None) -> Any:
        out = super().setdefault(key, default)
        self._changed()
        return out

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def find(self, field_name: str, value: Any) -> Op | None:
        """The first row (in table order) whose ``field_name`` equals ``value``, or None."""
        index = self._indexes.get(field_name)
        if index is None:
            index = {}
            for row in self.values():
                key = getattr(row, field_name)
                if key is not None and key is not False:
                    index.setdefault(key, row)
            self._indexes[field_name] = index
        return index.get(value)


#: The op table. ``define_op`` adds rows; nothing else writes to it.
OPS: OpTable = OpTable(
    Op("add", None, lambda xs, a: add(*xs), lambda xs, y, a: (1.0,) * len(xs),
       lambda sp, e, a: sp.Add(*e, evaluate=False) if len(e) > 1 else e[0],
       text=infix(" + ", PREC_ADD, right=PREC_ADD + 1), latex=infix(" + ", PREC_ADD, right=PREC_ADD + 1),
       doc="n-ary sum", derivative="d/dx_i = 1", min_arity=1,
       python=lambda o, a, k: " + ".join(o), python_partials=lambda o, y, a, k: ("1.0",) * len(o),
       operator="add", sum=True),
    Op("mul", None, lambda xs, a: mul(*xs), lambda xs, y, a: mul_partials(xs),
       lambda sp, e, a: sp.Mul(*e, evaluate=False) if len(e) > 1 else e[0],
       text=infix("*", PREC_MUL, right=PREC_MUL + 1, identity="1"),
       latex=infix("{times}", PREC_MUL, right=PREC_MUL + 1, identity="1"),
       doc="n-ary product", derivative="d/dx_i = product of the other factors", min_arity=1,
       python=lambda o, a, k: " * ".join(o),
       python_partials=lambda o, y, a, k: tuple(" * ".join(o[:i] + o[i + 1:]) or "1.0" for i in range(len(o))),
       operator="mul", product=True),
    Op("sub", 2, lambda xs, a: xs[0] - xs[1], lambda xs, y, a: (1.0, -1.0),
       lambda sp, e, a: e[0] - e[1],
       text=infix(" - ", PREC_ADD, right=PREC_ADD + 1), latex=infix(" - ", PREC_ADD, right=PREC_ADD + 1),
       doc="a - b", derivative="d/da = 1, d/db = -1",
       python=lambda o, a, k: f"{o[0]} - {o[1]}", python_partials=lambda o, y, a, k: ("1.0", "-1.0"),
       operator="sub", negates=(1,)),
    Op("neg", 1, lambda xs, a: -xs[0], lambda xs, y, a: (-1.0,),
       lambda sp, e, a: -e[0],
       text=Form("prefix", "-", PREC_NEG, PREC_POW + 1), latex=Form("prefix", "-", PREC_NEG, PREC_POW + 1),
       doc="-a", derivative="-1",
       python=lambda o, a, k: f"-{o[0]}", python_partials=lambda o, y, a, k: ("-1.0",), operator="neg",
       negates=(0,)),
    Op("div", 2, lambda xs, a: div(xs[0], xs[1]), lambda xs, y, a: (1.0 / xs[1], -y / xs[1]),
       lambda sp, e, a: e[0] / e[1],
       text=infix("/", PREC_MUL, right=PREC_MUL + 1),
       latex=template(lambda o, a: rf"\frac{{{o[0]}}}{{{o[1]}}}", PREC_CALL),
       doc="a / b", derivative="d/da = 1/b, d/db = -a/b**2",
       python=lambda o, a, k: f"{o[0]} / {o[1]}",
       python_partials=lambda o, y, a, k: (f"1.0 / {o[1]}", f"-{y} / {o[1]}"), operator="truediv", pole=1),
    Op("pow", 1, lambda xs, p: power(xs[0], p), lambda xs, y, p: (power_grad(xs[0], p),),
       lambda sp, e, p: sp.Pow(e[0], _sympy_number(sp, p), evaluate=False),
       text=Form("power", "**", PREC_POW, PREC_POW + 1),
       latex=Form("power", "^", PREC_POW, PREC_POW + 1),
       doc="a ** p for a number p", derivative="p * a**(p - 1)",
       python=lambda o, p, k: f"{k(power)}({o[0]}, {float(p)!r})",
       python_partials=lambda o, y, p, k: (f"{k(power_grad)}({o[0]}, {float(p)!r})",),
       array={power: ops_array.power, power_grad: ops_array.power_grad}, operator="pow", param="exponent"),
    Op("exp", 1, lambda xs, a: math.exp(xs[0]), lambda xs, y, a: (y,),
       lambda sp, e, a: sp.exp(e[0]),
       text=call("exp"), latex=call(r"\exp", word=True), doc="e ** a", derivative="exp(a)",
       output_derivative=lambda sp, y: y,
       python=lambda o, a, k: f"{k(math.exp)}({o[0]})", python_partials=lambda o, y, a, k: (y,),
       array={math.exp: ops_array.exp}, method="exp", function="exp"),
    Op("log", 1, lambda xs, a: log(xs[0]), lambda xs, y, a: (1.0 / xs[0],),
       lambda sp, e, a: sp.log(e[0]),
       text=call("log"), latex=call(r"\log", word=True), doc="natural logarithm", derivative="1/a",
       python=lambda o, a, k: f"{k(log)}({o[0]})", python_partials=lambda o, y, a, k: (f"1.0 / {o[0]}",),
       array={log: ops_array.log}, method="log", function="log"),
    Op("relu", 1, lambda xs, a: relu(xs[0]), lambda xs, y, a: (relu_grad(xs[0]),),
       lambda sp, e, a: sp.Piecewise((e[0], e[0] > 0), (0, True)),
       text=call("relu"), latex=call(r"\operatorname{ReLU}"),
       doc="max(0, a)", derivative="1 if a > 0 else 0 (0 at a = 0)",
       python=lambda o, a, k: f"{k(relu)}({o[0]})", python_partials=lambda o, y, a, k: (f"{k(relu_grad)}({o[0]})",),
       kink=lambda xs, a: xs[0], array={relu: ops_array.relu, relu_grad: ops_array.relu_grad},
       method="relu", function="relu", torch="ReLU", max_with_zero=True, activation=True),
    Op("sigmoid", 1, lambda xs, a: sigmoid(xs[0]), lambda xs, y, a: (y * (1.0 - y),),
       lambda sp, e, a: 1 / (1 + sp.exp(-e[0])),
       text=call("sigmoid"), latex=call(r"\sigma"),
       doc="1 / (1 + exp(-a))", derivative="sigmoid(a) * (1 - sigmoid(a))",
       output_derivative=lambda sp, y: y * (1 - y),
       python=lambda o, a, k: f"{k(sigmoid)}({o[0]})", python_partials=lambda o, y, a, k: (f"{y} * (1.0 - {y})",),
       array={sigmoid: ops_array.sigmoid}, method="sigmoid", function="sigmoid", torch="Sigmoid", activation=True),
    Op("tanh", 1, lambda xs, a: math.tanh(xs[0]), lambda xs, y, a: (1.0 - y * y,),
       lambda sp, e, a: sp.tanh(e[0]),
       text=call("tanh"), latex=call(r"\tanh", word=True), doc="hyperbolic tangent", derivative="1 - tanh(a)**2",
       output_derivative=lambda sp, y: 1 - y ** 2,
       python=lambda o, a, k: f"{k(math.tanh)}({o[0]})", python_partials=lambda o, y, a, k: (f"1.0 - {y} * {y}",),
       array={math.tanh: ops_array.tanh}, method="tanh", function="tanh", torch="Tanh", activation=True),
    Op("softmax", None, lambda xs, k: softmax(xs, k), lambda xs, y, k: softmax_partials(xs, k),
       lambda sp, e, k: sp.exp(e[k]) / sp.Add(*[sp.exp(z) for z in e]),
       text=template(_softmax_display_text, PREC_CALL), latex=template(_softmax_display_latex, PREC_CALL),
       doc="k-th softmax output exp(z_k) / sum_j exp(z_j) (shifted by the max)",
       derivative="p_k * (delta_kj - p_j)",
       python=lambda o, c, k: f"{k(softmax)}(({', '.join(o)},), {c})",
       python_partials=lambda o, y, c, k: tuple(
           f"{y} * ({'1.0' if j == c else '0.0'} - {k(softmax)}(({', '.join(o)},), {j}))" for j in range(len(o))),
       array={softmax: ops_array.softmax}, log_op="log_softmax", layerwise=True, torch="Softmax",
       layer_derivative=_softmax_derivative, layer_symbol="p", function="softmax"),
    Op("log_softmax", None, lambda xs, k: log_softmax(xs, k), lambda xs, y, k: log_softmax_partials(xs, k),
       lambda sp, e, k: e[k] - sp.log(sp.Add(*[sp.exp(z) for z in e])),
       text=template(lambda o, k: f"log({_softmax_display_text(o, k)})", PREC_CALL),
       latex=template(lambda o, k: rf"\log\left({_softmax_display_latex(o, k)}\right)", PREC_CALL),
       doc="log of the k-th softmax output (stable)", derivative="delta_kj - p_j",
       python=lambda o, c, k: f"{k(log_softmax)}(({', '.join(o)},), {c})",
       python_partials=lambda o, y, c, k: tuple(
           f"{'1.0' if j == c else '0.0'} - {k(softmax)}(({', '.join(o)},), {j})" for j in range(len(o))),
       array={log_softmax: ops_array.log_softmax, softmax: ops_array.softmax}, layerwise=True, torch="LogSoftmax"),
    Op("leaky_relu", 1, lambda xs, a: leaky_relu(xs[0], _param(a, 0.01)),
       lambda xs, y, a: (leaky_relu_grad(xs[0], _param(a, 0.01)),),
       lambda sp, e, a: _piecewise_linear(sp, e[0], _sympy_decimal(sp, _param(a, 0.01)) * e[0]),
       text=call("leaky_relu"), latex=call(r"\operatorname{LeakyReLU}"),
       doc="a if a > 0 else alpha * a (alpha defaults to 0.01)",
       derivative="1 if a > 0 else alpha (alpha at a = 0, as in PyTorch)",
       kink=lambda xs, a: xs[0], method="leaky_relu", function="leaky_relu", torch="LeakyReLU", torch_param="negative_slope", param="alpha", param_default=0.01,
       activation=True,
       display_derivative=lambda sp, a, y, al, f: (_indicator(sp, a > 0)
                                                   + _sympy_decimal(sp, _param(al, 0.01)) * _indicator(sp, a <= 0))),
    Op("softplus", 1, lambda xs, t: softplus(xs[0], t), lambda xs, y, t: (softplus_grad(xs[0], t),),
       lambda sp, e, t: (sp.log(1 + sp.exp(e[0])) if t is None
                         else sp.Piecewise((e[0], e[0] > _sympy_decimal(sp, t)), (sp.log(1 + sp.exp(e[0])), True))),
       text=call("softplus"), latex=call(r"\operatorname{softplus}"),
       doc="log(1 + exp(a)); with a threshold t, a where a > t (PyTorch's threshold)",
       derivative="sigmoid(a) (1 above the threshold)",
       kink=lambda xs, t: math.inf if t is None else xs[0] - t,
       method="softplus", function="softplus", param="threshold", activation=True,
       display_derivative=_softplus_derivative),
    Op("elu", 1, lambda xs, a: elu(xs[0], _param(a, 1.0)), lambda xs, y, a: (elu_grad(xs[0], _param(a, 1.0)),),
       lambda sp, e, a: _piecewise_linear(sp, e[0], _sympy_decimal(sp, _param(a, 1.0)) * (sp.exp(e[0]) - 1)),
       text=call("elu"), latex=call(r"\operatorname{ELU}"),
       doc="a if a > 0 else alpha * (exp(a) - 1) (alpha defaults to 1)",
       derivative="1 if a > 0 else alpha * exp(a) (alpha at a = 0, as in PyTorch)",
       kink=lambda xs, a: xs[0], method="elu", function="elu", torch="ELU", torch_param="alpha", param="alpha", param_default=1.0,
       activation=True,
       display_derivative=lambda sp, a, y, al, f: (_indicator(sp, a > 0)
                                                   + (y + _sympy_decimal(sp, _param(al, 1.0))) * _indicator(sp, a <= 0))),
    Op("erf", 1, lambda xs, a: math.erf(xs[0]), lambda xs, y, a: (_TWO_OVER_SQRTPI * math.exp(-xs[0] * xs[0]),),
       lambda sp, e, a: sp.erf(e[0]),
       text=call("erf"), latex=call(r"\operatorname{erf}"),
       doc="the error function", derivative="2/sqrt(pi) * exp(-a**2)",
       method="erf", function="erf"),
    Op("gelu", 1, lambda xs, a: gelu(xs[0]), lambda xs, y, a: (gelu_grad(xs[0]),),
       lambda sp, e, a: e[0] / 2 * (1 + sp.erf(e[0] / sp.sqrt(2))),
       text=call("gelu"), latex=call(r"\operatorname{GELU}"),
       doc="a/2 * (1 + erf(a/sqrt(2))), the exact GELU",
       derivative="Phi(a) + a * phi(a) (normal CDF and density)",
       method="gelu", function="gelu", activation=True),
    Op("silu", 1, lambda xs, a: silu(xs[0]), lambda xs, y, a: (silu_grad(xs[0]),),
       lambda sp, e, a: e[0] / (1 + sp.exp(-e[0])),
       text=call("silu"), latex=call(r"\operatorname{SiLU}"),
       doc="a * sigmoid(a) (also called swish)", derivative="s * (1 + a * (1 - s)), s = sigmoid(a)",
       method="silu", function="silu", torch="SiLU", activation=True, display_derivative=_silu_derivative),
    Op("abs", 1, lambda xs, a: abs(xs[0]), lambda xs, y, a: (abs_grad(xs[0]),),
       lambda sp, e, a: sp.Abs(e[0]),
       text=call("abs"), latex=template(lambda o, a: rf"\left|{o[0]}\right|", PREC_ATOM),
       doc="|a|", derivative="sign(a) (0 at a = 0, as in PyTorch)",
       kink=lambda xs, a: xs[0], method="abs", operator="abs", function="abs",
       display_derivative=lambda sp, a, y, attr, f: f("sign")(a)),
    Op("sign", 1, lambda xs, a: sign(xs[0]), lambda xs, y, a: (0.0,),
       lambda sp, e, a: sp.sign(e[0]),
       text=call("sign"), latex=call(r"\operatorname{sign}"),
       doc="the sign of a: 1, -1, or 0 at a = 0 (abs' as PyTorch computes it)",
       derivative="0 (undefined at a = 0)", kink=lambda xs, a: xs[0], method="sign", function="sign",
       display_derivative=lambda sp, a, y, attr, f: sp.Integer(0)),
    Op("sqrt", 1, lambda xs, a: sqrt(xs[0]), lambda xs, y, a: (sqrt_grad(y),),
       lambda sp, e, a: sp.sqrt(e[0]),
       text=call("sqrt"), latex=template(lambda o, a: rf"\sqrt{{{o[0]}}}", PREC_ATOM),
       doc="square root (a >= 0)", derivative="1 / (2 sqrt(a)) (infinite at 0: raises)",
       method="sqrt", function="sqrt"),
    Op("bce", 2, lambda xs, a: bce(xs[0], xs[1]), lambda xs, y, a: bce_partials(xs[0], xs[1]),
       lambda sp, e, a: -(e[1] * sp.log(e[0]) + (1 - e[1]) * sp.log(1 - e[0])),
       text=template(_bce_text, PREC_NEG, PREC_MUL + 1), latex=template(_bce_latex, PREC_NEG, PREC_CALL),
       doc="binary cross-entropy of a probability p against a target t (logs clamped at -100)",
       derivative="d/dp = (p - t) / (p (1 - p))",
       python=lambda o, a, k: f"{k(bce)}({o[0]}, {o[1]})", python_partials=None, array={bce: ops_array.bce},
       clamp=lambda xs, a: bce_clamp(xs[0], xs[1])),
    Op("step", 1, lambda xs, a: 1.0 if xs[0] > 0 else 0.0, lambda xs, y, a: (0.0,),
       lambda sp, e, a: sp.Piecewise((1, e[0] > 0), (0, True)),
       text=call("step"), latex=template(lambda o, a: rf"\mathbf{{1}}\left[{o[0]} > 0\right]", PREC_ATOM),
       doc="the indicator of a > 0 (the Heaviside step with value 0 at 0, as relu'(0) = 0)",
       derivative="0 (undefined at a = 0)", kink=lambda xs, a: xs[0], function="step"),
)

def get_op(name: str, where: str = "") -> Op:
    """The row for ``name``; :class:`UnknownOpError` (naming ``where``) if there is none."""
    try:
        return OPS[name]
    except (KeyError, TypeError):
        prefix = f"{where}: " if where else ""
        raise UnknownOpError(f"{prefix}unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def register(row: Op, replace: bool = False) -> Op:
    """Add a user row to the table (what :func:`symnet.define_op` does once it has built it).

    The name must be an identifier; a built-in row is never replaced, a user row only
    with ``replace=True``; a ``method`` may not shadow an attribute of nodes (checked
    by the caller, which knows the node class).
    """
    name = row.name
    if not isinstance(name, str) or not name or not name[0].isalpha() or not set(name) <= _IDENT_CHARS:
        raise GraphError(f"op name {name!r} must be an identifier starting with a letter")
    if row.builtin:
        raise GraphError(f"op {name!r}: only user rows (builtin=False) can be registered")
    if name in OPS and (OPS[name].builtin or not replace):
        raise GraphError(f"op {name!r} already exists" + ("" if OPS[name].builtin else "; pass replace=True"))
    if row.function is not None:
        other = OPS.find("function", row.function)
        if other is not None and other.name != name:
            raise GraphError(f"op {name!r}: the function name {row.function!r} is already op '{other.name}'")
    if row.method is not None:
        other = OPS.find("method", row.method)
        if other is not None and other.name != name:
            raise GraphError(f"op {name!r}: the method name {row.method!r} is already op '{other.name}'")
    OPS[name] = row
    return row
