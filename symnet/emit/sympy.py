"""SymPy emitter: a network as SymPy expressions, built programmatically from the op rows.

Three forms (:func:`to_sympy`):

* the **display** form writes every call-form op whose row has no SymPy function
  of the same name as a named SymPy function (``sigmoid(z)``, ``relu(z)``, a user
  op's name) that SymPy can still evaluate, differentiate and print in LaTeX
  (``\\sigma``, ``\\operatorname{ReLU}``), and everything else from the row's
  ``sympy`` field;
* the **elementary** form uses only SymPy's own functions (each row's ``sympy``
  field: ``exp``, ``log``, ``tanh``, ``Piecewise`` ...), so SymPy can differentiate
  it without knowing any of symnet's derivative rules -- the verifier's oracle;
* the **let** form is an ordered list of ``(Symbol, Expr)`` definitions plus the
  output; it stays linear in the network's size however deep or shared the graph is.

Symbols are ``real=True`` and named as the network names its inputs, parameters
and intermediates. Nothing is parsed from strings. Expressions are built with
SymPy's automatic evaluation off (``evaluate=False``), except for ops with a
kink (their rows build ``Piecewise``, which SymPy must fold), so building is
linear in the number of nodes.

Limits (SymPy itself recurses over expression depth): an inlined form deeper
than ``max_depth`` operations, or an elementary form with more than
``max_kinks`` kink ops nested under one kink op (each nested ``Piecewise``
multiplies SymPy's work), raises :class:`~symnet.errors.ExportLimitError`; the
let form has neither limit.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable, Sequence

import sympy as sp
from mpmath.libmp import prec_to_dps

from ..program import Program
from ..errors import ExportLimitError, SymnetError
from ..ops import OPS, Op
from .render import check_digits, format_number
from .text import layer_nodes

__all__ = ["leaf_symbols", "constant", "elementary_nodes", "let_form", "to_sympy", "display_function", "fold_functions",
           "output_derivative", "display",
           "FORMS", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_KINKS", "LET_DEPTH"]

#: The forms :func:`to_sympy` writes.
FORMS = ("display", "elementary", "let")
#: Inlined forms deeper than this many operations raise ExportLimitError (SymPy's
#: printers and ``diff`` recurse; about 110 levels already fail at the default
#: recursion limit).
DEFAULT_MAX_DEPTH = 100
#: The elementary form allows at most this many kink ops (tree count) below any kink op.
DEFAULT_MAX_KINKS = 4
#: A let-form definition inlines at most this many levels of unnamed operations.
LET_DEPTH = 12


def constant(value: float) -> sp.Expr:
    """A float as an exact SymPy number (integers stay integers).

    >>> constant(2.0), constant(0.5)
    (2, 1/2)
    """
    if float(value).is_integer():
        return sp.Integer(int(value))
    num, den = float(value).as_integer_ratio()
    return sp.Rational(num, den)


def _display_number(value: float) -> sp.Expr:
    """Integers and short binary fractions exactly (``1/2``), other values as Floats."""
    v = float(value)
    if v.is_integer() or v.as_integer_ratio()[1] <= 64:
        return constant(v)
    return sp.Float(v)


def leaf_symbols(program: Program) -> dict[int, sp.Symbol]:
    """A real Symbol for every input and parameter, named as the network names it."""
    return {i: sp.Symbol(program.names[i], real=True) for i in program.inputs + program.parameters}


def _leaf(program: Program, i: int, symbols: dict[int, sp.Symbol], numeric: bool,
          number: Callable[[float], sp.Expr] = constant) -> sp.Expr:
    kind = program.kinds[i]
    if kind == "constant" or (numeric and kind == "parameter"):
        return number(program.values[i])
    return symbols[i]


def elementary_nodes(program: Program, *, numeric: bool = False,
                     symbols: dict[int, sp.Symbol] | None = None) -> list[Any]:
    """The elementary SymPy expression of every node, inlined (SymPy shares subtrees).

    Built with SymPy's automatic evaluation, as each row's ``sympy`` field does by
    default; :func:`to_sympy` with ``form="elementary"`` builds the same expressions
    without it, which is much faster on large graphs. With ``numeric=True``
    parameters are replaced by their exact current values.
    """
    symbols = leaf_symbols(program) if symbols is None else symbols
    exprs: list[Any] = [None] * len(program.nodes)
    for i, op in enumerate(program.ops):
        if op is None:
            exprs[i] = _leaf(program, i, symbols, numeric)
        else:
            exprs[i] = op.sympy(sp, tuple(exprs[a] for a in program.args[i]), program.attrs[i])
    return exprs


def _flat(expr: Any) -> Any:
    # Unevaluated sums and products of sums and products print with needless parentheses
    # ("(a + b) + c"); merge one level (the children are already flat).
    cls = type(expr)
    if (cls is sp.Add or cls is sp.Mul) and any(type(a) is cls for a in expr.args):
        args: list[Any] = []
        for a in expr.args:
            args.extend(a.args if type(a) is cls else (a,))
        return cls(*args, evaluate=False)
    return expr


def _elementary(op: Op, args: tuple[Any, ...], attr: Any) -> Any:
    # Piecewise forms (ops with a kink) must be folded by SymPy; the rest is built as written.
    if op.kink is not None:
        with sp.evaluate(True):
            return op.sympy(sp, args, attr)
    return _flat(op.sympy(sp, args, attr))


def let_form(program: Program, *, numeric: bool = False,
             symbols: dict[int, sp.Symbol] | None = None,
             named: Sequence[int] | None = None,
             digits: int | None = None) -> tuple[list[tuple[sp.Symbol, Any]], list[Any]]:
    """``(definitions, outputs)``: one ``(Symbol, elementary Expr)`` per named op node, in
    order, each over leaf symbols and earlier definitions; ``outputs`` are the output
    expressions (the output's symbol when it is named).

    ``named`` lists the op nodes that get a definition (default: every op node);
    the others are written inline where they are used.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> let_form(sn.compile((w * x).tanh()).program)
    ([(t1, w*x), (yhat, tanh(t1))], [yhat])
    """
    symbols = leaf_symbols(program) if symbols is None else dict(symbols)
    keep = set(program.op_indices if named is None else named)
    refs: list[Any] = [None] * len(program.nodes)
    defs: list[tuple[sp.Symbol, Any]] = []
    with sp.evaluate(False):
        for i, op in enumerate(program.ops):
            if op is None:
                refs[i] = _leaf(program, i, symbols, numeric,
                                constant if digits is None else _rounded_number(digits))
                continue
            expr = _elementary(op, tuple(refs[a] for a in program.args[i]), program.attrs[i])
            if i in keep:
                sym = sp.Symbol(program.names[i] or f"t{i}", real=True)
                defs.append((sym, expr))
                refs[i] = sym
            else:
                refs[i] = expr
    return defs, [refs[o] for o in program.outputs]


# -- display functions ------------------------------------------------------------

_DISPLAY: dict[str, tuple[Op, Any]] = {}


def _latex_symbol(op: Op, fallback: str) -> str:
    return op.latex.symbol if op.latex.kind == "call" and op.latex.symbol else rf"\operatorname{{{fallback}}}"


def display_function(op: Op) -> Any:
    """The SymPy function the display form writes for a call-form op, or ``None``.

    An op whose row already is SymPy's function of the same name (``exp``, ``log``,
    ``tanh``) gets that function; another fixed-arity call-form op gets a SymPy
    function named by its text symbol, which evaluates numerically, differentiates
    and rewrites (``expr.rewrite("elementary")``) through the row's ``sympy`` field
    and prints in LaTeX with the row's LaTeX symbol.

    >>> from symnet.ops import OPS
    >>> f = display_function(OPS["sigmoid"])
    >>> f(sp.Integer(0)).evalf(5), f(sp.Symbol("z")).rewrite("elementary")
    (0.50000, 1/(1 + exp(-z)))
    """
    cached = _DISPLAY.get(op.name)
    if cached is not None and cached[0] is op:
        return cached[1]
    fn = _make_display_function(op)
    _DISPLAY[op.name] = (op, fn)
    return fn


def output_derivative(op: Op, attr: Any = None) -> Any:
    """``(y, P)``: a Dummy ``y`` and the polynomial ``P(y)`` with ``f'(a) == P(f(a))`` for a
    one-input op, or ``None``.

    Taken from the row's ``output_derivative`` field when it states one (sigmoid:
    ``y (1 - y)``), else found from the row's own ``forward`` and ``partials`` (a
    polynomial of degree 1 or 2 with small rational coefficients); either way confirmed
    by SymPy against the derivative of the row's ``sympy`` form.

    >>> from symnet.ops import OPS
    >>> y, p = output_derivative(OPS["tanh"]); p.xreplace({y: sp.Symbol("h")})
    1 - h**2
    """
    key = (op, attr)
    if key not in _OUTPUT_DERIVATIVE:
        _OUTPUT_DERIVATIVE[key] = _find_output_derivative(op, attr)
    poly = _OUTPUT_DERIVATIVE[key]
    return None if poly is None else (_Y, poly)


_OUTPUT_DERIVATIVE: dict[tuple[Op, Any], Any] = {}
_Y = sp.Dummy("y")


def _find_output_derivative(row: Op, attr: Any) -> Any:
    if row.arity != 1:
        return None
    stated = getattr(row, "output_derivative", None)
    if stated is not None:
        poly = stated(sp, _Y)
    else:
        poly = _probe_polynomial(row, attr)
    if poly is None:
        return None
    a = sp.Dummy("a", real=True)
    try:
        f = row.sympy(sp, (a,), attr)
        if sp.simplify(poly.xreplace({_Y: f}) - sp.diff(f, a)) != 0:
            return None
    except Exception:  # noqa: BLE001 -- a user's sympy form SymPy cannot handle
        return None
    return poly


def _probe_polynomial(row: Op, attr: Any) -> Any:
    samples = []
    for a in (-1.7, -0.9, -0.35, 0.3, 0.8, 1.6, 2.3):
        try:
            y = float(row.forward((a,), attr))
            d = float(row.partials((a,), y, attr)[0])
        except Exception:  # noqa: BLE001 -- probing a user's op outside its domain
            continue
        if math.isfinite(y) and math.isfinite(d) and all(abs(y - s[0]) > 1e-3 for s in samples):
            samples.append((y, d))
    if len(samples) < 5:
        return None
    try:
        coeffs = [float(c) for c in sp.Matrix([[1, y, y * y] for y, _ in samples[:3]]).LUsolve(
            sp.Matrix([d for _, d in samples[:3]]))]
    except (ValueError, ZeroDivisionError, TypeError):
        return None
    fr = [Fraction(c).limit_denominator(12) for c in coeffs]
    if any(abs(float(c) - c0) > 1e-6 for c, c0 in zip(fr, coeffs)):
        return None
    if all(abs(float(fr[0] + fr[1] * y + fr[2] * y * y) - d) > 1e-9 * (1 + abs(d)) for y, d in samples[3:]):
        return None
    if fr[1] == 0 and fr[2] == 0:
        return None
    c0, c1, c2 = (sp.Rational(c.numerator, c.denominator) for c in fr)
    return _Y * (c1 + c2 * _Y) if c0 == 0 else c0 + c1 * _Y + c2 * _Y ** 2


def _make_display_function(op: Op) -> Any:
    form = op.text
    name = form.symbol
    if form.kind != "call" or op.arity is None or not name.isidentifier():
        return None
    dummies = tuple(sp.Dummy(f"a{k}", real=True) for k in range(op.arity))
    try:
        probe = op.sympy(sp, dummies, None)
    except Exception:  # a row that cannot be written over plain symbols: no display function
        return None
    if isinstance(probe, sp.Function) and type(probe).__name__ == name and probe.args == dummies:
        return type(probe)
    tex = _latex_symbol(op, name)

    def elementary(self: Any) -> Any:
        return op.sympy(sp, tuple(self.args), None)

    def _eval_evalf(self: Any, prec: int) -> Any:
        if not all(a.is_number for a in self.args):
            return None
        return elementary(self).evalf(prec_to_dps(prec))

    def fdiff(self: Any, argindex: int = 1) -> Any:
        if not 1 <= argindex <= len(dummies):
            raise sp.ArgumentIndexError(self, argindex)
        by_output = output_derivative(op)
        if by_output is not None:  # written with the function itself: sigmoid(a)*(1 - sigmoid(a))
            y, poly = by_output
            return poly.xreplace({y: self})
        d = sp.diff(probe, dummies[argindex - 1])
        return d.xreplace(dict(zip(dummies, self.args)))

    def _eval_rewrite_as_elementary(self: Any, *args: Any, **kwargs: Any) -> Any:
        return op.sympy(sp, tuple(args), None)

    def _latex(self: Any, printer: Any, exp: Any = None) -> str:
        inner = ", ".join(printer._print(a) for a in self.args)
        out = rf"{tex}\left({inner}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _code(self: Any, printer: Any) -> str:
        # lambdify (math, numpy, mpmath, ...): the elementary form, in the target's own functions
        return printer._print(elementary(self))

    namespace = {"nargs": op.arity, "_eval_evalf": _eval_evalf, "fdiff": fdiff,
                 "_eval_rewrite_as_elementary": _eval_rewrite_as_elementary,
                 "_eval_rewrite_as_exp": _eval_rewrite_as_elementary, "_latex": _latex,
                 "_pythoncode": _code, "_numpycode": _code, "_lambdacode": _code, "_mpmathcode": _code,
                 "__doc__": f"symnet op '{op.name}' ({op.doc}) as a named SymPy function."}
    return type(name, (sp.Function,), namespace)


def display(op: Op, args: Sequence[Any], attr: Any = None) -> Any:
    """One op in the display form, built by SymPy with its usual evaluation: the op's
    named function (:func:`display_function`) when it has one, else its ``sympy`` form.

    >>> from symnet.ops import OPS
    >>> z = sp.Symbol("z")
    >>> display(OPS["sigmoid"], (z,)), display(OPS["add"], (z, 1))
    (sigmoid(z), z + 1)
    """
    fn = display_function(op) if attr is None else None
    if fn is not None:
        return fn(*args)
    out = op.sympy(sp, tuple(args), attr)
    # rows build sums, products and powers unevaluated; SymPy's canonical form is wanted here
    return out.func(*out.args) if isinstance(out, sp.Basic) and out.args else out


def _display(op: Op, args: tuple[Any, ...], attr: Any) -> Any:
    fn = display_function(op) if attr is None else None
    return fn(*args) if fn is not None else _elementary(op, args, attr)


# -- limits ---------------------------------------------------------------------


def _check_limits(program: Program, max_depth: int, max_kinks: int | None, form: str) -> None:
    depth = [0] * len(program.nodes)
    kinks = [0] * len(program.nodes)
    cap = 1 << 30
    for i in program.op_indices:
        args = program.args[i]
        depth[i] = 1 + max((depth[a] for a in args), default=0)
        below = min(cap, sum(kinks[a] for a in args))
        op = program.ops[i]
        if op.kink is not None:  # type: ignore[union-attr]
            if max_kinks is not None and below > max_kinks:
                raise ExportLimitError(
                    f"the elementary SymPy form of node '{program.names[i]}' nests {below} kink op(s) "
                    f"(Piecewise) under it, past the limit max_kinks={max_kinks} (SymPy's work grows "
                    "exponentially with them); use form='let' or form='display', or pass a larger max_kinks")
            below = min(cap, below + 1)
        kinks[i] = below
    for o in program.outputs:
        if depth[o] > max_depth:
            raise ExportLimitError(
                f"the {form} SymPy expression of output '{program.names[o]}' is {depth[o]} operations deep, "
                f"past the export limit max_depth={max_depth} (SymPy recurses over depth); "
                "use form='let' (named intermediates, any depth) or pass a larger max_depth "
                "together with a higher sys.setrecursionlimit")


def _let_names(program: Program) -> list[int]:
    """The op nodes the let form defines: those of the layered text form, and every kink
    op, so that no Piecewise nests inside another."""
    return layer_nodes(program, LET_DEPTH, lambda i: program.ops[i].kink is not None)  # type: ignore[union-attr]


def _pack(program: Program, outs: list[Any]) -> Any:
    return sp.Matrix(len(outs), 1, outs) if program.vector else outs[0]


def _rounded_number(digits: int) -> Callable[[float], sp.Expr]:
    def number(value: float) -> sp.Expr:
        text = format_number(value, digits)
        v = float(text)
        return sp.Integer(int(v)) if v.is_integer() and abs(v) < 1e16 else sp.Float(text, digits)

    return number


def to_sympy(program: Program, numeric: bool = False, form: str = "display", *,
             max_depth: int = DEFAULT_MAX_DEPTH, max_kinks: int = DEFAULT_MAX_KINKS,
             digits: int | None = None) -> Any:
    """The network as SymPy: an ``Expr`` (a ``Matrix`` column for vector outputs), or for
    ``form="let"`` the pair ``(definitions, output)``.

    ``numeric=True`` substitutes the parameters' current values (exact rationals in the
    elementary and let forms, Floats in the display form). ``digits`` (checked as every
    ``digits=`` is) writes the parameters as their values and every number as a Float of
    that many significant digits, as ``funcify(digits=)`` does. ``form`` is ``"display"``,
    ``"elementary"`` or ``"let"`` (see the module docstring). Past ``max_depth`` /
    ``max_kinks`` an inlined form raises :class:`~symnet.errors.ExportLimitError`.

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
    >>> p = sn.compile((w * x + b).sigmoid()).program
    >>> to_sympy(p), to_sympy(p, numeric=True, form="elementary")
    (sigmoid(b + w*x), 1/(1 + exp(-(x/2 + 2))))
    >>> to_sympy(p, form="let")
    ([(z, b + w*x), (yhat, 1/(1 + exp(-z)))], yhat)
    """
    if form not in FORMS:
        raise SymnetError(f"unknown SymPy form {form!r}; use one of {', '.join(FORMS)}")
    if not isinstance(numeric, bool):
        raise SymnetError(f"numeric must be True or False, got {numeric!r}")
    check_digits(digits)
    numeric = numeric or digits is not None
    try:
        if form == "let":
            defs, outs = let_form(program, numeric=numeric, named=_let_names(program), digits=digits)
            return defs, _pack(program, outs)
        _check_limits(program, max_depth, max_kinks if form == "elementary" else None, form)
        write_op = _display if form == "display" else _elementary
        number = _display_number if form == "display" else constant
        if digits is not None:
            number = _rounded_number(digits)
        symbols = leaf_symbols(program)
        exprs: list[Any] = [None] * len(program.nodes)
        with sp.evaluate(False):
            for i, op in enumerate(program.ops):
                if op is None:
                    exprs[i] = _leaf(program, i, symbols, numeric, number)
                else:
                    exprs[i] = write_op(op, tuple(exprs[a] for a in program.args[i]), program.attrs[i])
        return _pack(program, [exprs[o] for o in program.outputs])
    except RecursionError:
        raise ExportLimitError(
            f"SymPy ran out of recursion depth building the {form} form; use form='let' "
            "or a higher sys.setrecursionlimit") from None


def fold_functions(expr: Any) -> Any:
    """Write each sub-expression that is a built-in one-input op's elementary form as
    that op's named function, so that derivatives read as a textbook writes them. Every
    rewrite is an identity; it changes how the expression prints, not its value.

    >>> z = sp.Symbol("z", real=True)
    >>> fold_functions((1 - 1 / (1 + sp.exp(-z))) / (1 + sp.exp(-z)))
    (1 - sigmoid(z))*sigmoid(z)
    """
    for op in OPS.values():
        # built-in rows only: a user's SymPy form may be any pattern (even the identity),
        # and replacing by it could rewrite everything
        if not op.builtin or op.text.kind != "call" or op.arity != 1:
            continue
        fn = display_function(op)
        if fn is None:
            continue
        a = sp.Wild("a", properties=[lambda e: not e.is_number])  # silu(0) is 0: never fold a number
        pattern = op.sympy(sp, (a,), None)
        if getattr(pattern, "func", None) is fn:
            continue  # exp, log, tanh: SymPy's function already is the named one
        expr = expr.replace(pattern, fn(a))
    return expr
