"""The op rows as SymPy: exact constants, leaf symbols, display functions (one SymPy
function per row, named as the row prints: ``sigmoid``, ``relu``), the derivatives
rows state through their own output (sigmoid: ``y (1 - y)``) and the local partials
built from them.

Shared by the SymPy, chain-rule and matrix emitters and the verifier, so that no
emitter imports another.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import sympy as sp
from sympy.core.mul import _keep_coeff
from mpmath.libmp import prec_to_dps

from ..errors import InputError
from ..ops import OPS, Op, _sympy_decimal
from ..program import Program

__all__ = ["constant", "leaf_symbols", "display_function", "output_derivative", "row_derivative", "display",
           "local_partial",
           "layer_functions", "log_layers", "fresh_layer_name"]


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
    key = (op, attr, getattr(attr, "exact", None))  # a formula's 1/3 is not the float 0.333... (parse.Exact)
    if key not in _OUTPUT_DERIVATIVE:
        _OUTPUT_DERIVATIVE[key] = _find_output_derivative(op, attr)
    poly = _OUTPUT_DERIVATIVE[key]
    return None if poly is None else (_Y, poly)


_OUTPUT_DERIVATIVE: dict[tuple[Op, Any, Any], Any] = {}
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


def row_derivative(op: Op, attr: Any = None) -> Any:
    """``(a, y, D)``: Dummies ``a`` (the operand) and ``y`` (the op's output) and the
    derivative ``D`` the row states with the model's own functions (its
    ``display_derivative``: softplus ``sigmoid(a)``, elu ``1[a > 0] + (y + alpha) 1[a <= 0]``),
    or ``None`` when the row states none or SymPy cannot confirm it equals the derivative
    of the row's ``sympy`` form (a Dirac delta at a kink counts as 0 there: the kink's
    value is the row's convention).

    >>> from symnet.ops import OPS
    >>> a, y, d = row_derivative(OPS["softplus"]); d.xreplace({a: sp.Symbol("z")})
    sigmoid(z)
    """
    key = (op, attr, getattr(attr, "exact", None))  # as in output_derivative
    if key not in _ROW_DERIVATIVE:
        _ROW_DERIVATIVE[key] = _find_row_derivative(op, attr)
    found = _ROW_DERIVATIVE[key]
    return None if found is None else (_A, _Y, found)


_ROW_DERIVATIVE: dict[tuple[Op, Any], Any] = {}
_A = sp.Dummy("a", real=True)


def _named(name: str) -> Any:
    fn = display_function(OPS[name])
    if fn is None:
        raise InputError(f"op '{name}' has no display function to state a derivative with")
    return fn


def _find_row_derivative(row: Op, attr: Any) -> Any:
    stated = getattr(row, "display_derivative", None)
    if row.arity != 1 or stated is None:
        return None
    try:
        d = stated(sp, _A, _Y, attr, _named)
        f = row.sympy(sp, (_A,), attr)
        truth = sp.diff(f, _A).replace(sp.DiracDelta, lambda *args: sp.Integer(0))
        claim = d.xreplace({_Y: f}).rewrite("elementary")
        if sp.simplify(sp.piecewise_fold(claim - truth)) != 0:
            return None
    except Exception:  # noqa: BLE001 -- a user's row SymPy cannot handle: SymPy's derivative instead
        return None
    return d


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


def _make_layer_function(op: Op) -> Any:
    """A layerwise row (softmax) as a SymPy function of ``(k, a_1, ..., a_n)``: output ``k``
    (from 0) of the op over the layer ``a``, differentiated by the row's ``layer_derivative``."""
    rule = op.layer_derivative

    def elementary(self: Any) -> Any:
        return op.sympy(sp, tuple(self.args[1:]), int(self.args[0]))

    def eval_(cls: Any, k: Any, *args: Any) -> Any:
        if not (isinstance(k, sp.Integer) and 0 <= int(k) < len(args)):
            raise InputError(f"{op.name}: the output index must be an integer from 0 to {len(args) - 1}, got {k}")
        return None

    def _eval_evalf(self: Any, prec: int) -> Any:
        if not all(a.is_number for a in self.args):
            return None
        return elementary(self).evalf(prec_to_dps(prec))

    def fdiff(self: Any, argindex: int = 1) -> Any:
        if not 2 <= argindex <= len(self.args):  # the index is no variable
            raise sp.ArgumentIndexError(self, argindex)
        zs = self.args[1:]
        p = [type(self)(sp.Integer(i), *zs) for i in range(len(zs))]
        return rule(sp, p, int(self.args[0]), argindex - 2)

    def _eval_rewrite_as_elementary(self: Any, *args: Any, **kwargs: Any) -> Any:
        return op.sympy(sp, tuple(args[1:]), int(args[0]))

    # SymPy's printers write it as the row's own text and LaTeX forms do (softmax(a, b)_1)
    def _written(form: Any, printer: Any, self: Any) -> str:
        args = [printer._print(a) for a in self.args[1:]]
        if form.kind == "template":
            return form.render(args, int(self.args[0]))  # type: ignore[no-any-return]
        return f"{form.symbol}({', '.join(args)})_{int(self.args[0]) + 1}"

    def _latex(self: Any, printer: Any, exp: Any = None) -> str:
        out = _written(op.latex, printer, self)
        return out if exp is None else rf"\left({out}\right)^{{{exp}}}"

    def _sympystr(self: Any, printer: Any) -> str:
        return _written(op.text, printer, self)

    def _code(self: Any, printer: Any) -> str:
        return printer._print(elementary(self))

    namespace = {"nargs": None, "eval": classmethod(eval_), "_eval_evalf": _eval_evalf, "fdiff": fdiff,
                 "_eval_rewrite_as_elementary": _eval_rewrite_as_elementary,
                 "_eval_rewrite_as_exp": _eval_rewrite_as_elementary, "_latex": _latex, "_sympystr": _sympystr,
                 "_pythoncode": _code, "_numpycode": _code, "_lambdacode": _code, "_mpmathcode": _code,
                 "__doc__": f"symnet op '{op.name}' ({op.doc}) as a named SymPy function of (k, a_1, ..., a_n), "
                            "k counted from 0."}
    return type(op.name, (sp.Function,), namespace)


def _formula_display(op: Op, operands: Sequence[Any]) -> Any:
    """A row defined by a formula (:func:`symnet.define_op` with ``formula=``) written over
    ``operands`` with the display functions of the ops the formula calls (``a*sigmoid(a)``),
    or ``None`` for a row without a formula. Iterative: no recursion over the formula."""
    if not op.formula or op.arity is None:
        return None
    from ..parse import parse  # noqa: PLC0415 -- parse sits below emit; only user rows need it
    from ..userops import operand_names  # noqa: PLC0415

    names = operand_names(op.arity)
    try:
        root = parse(op.formula, inputs=list(names))
    except Exception:  # noqa: BLE001 -- a formula the table no longer reads: use the SymPy form
        return None
    done: dict[int, Any] = {}
    stack: list[Any] = [root]
    while stack:
        node = stack[-1]
        if id(node) in done:
            stack.pop()
            continue
        if node.kind == "input":
            done[id(node)] = operands[names.index(node.name)]
        elif node.kind == "constant":
            done[id(node)] = constant(node.value)
        elif node.kind == "op":
            waiting = [c for c in node.children if id(c) not in done]
            if waiting:
                stack.extend(waiting)
                continue
            done[id(node)] = display(OPS[node.op], tuple(done[id(c)] for c in node.children), node.attr)
        else:
            return None
        stack.pop()
    return done[id(root)]


def _make_display_function(op: Op) -> Any:
    if op.layerwise and op.layer_derivative is not None:
        return _make_layer_function(op)
    form = op.text
    name = form.symbol
    if form.kind != "call" or op.arity is None or not name.isidentifier():
        return None
    dummies = tuple(sp.Dummy(f"a{k}", real=True) for k in range(op.arity))
    arity = op.arity
    try:
        probe = op.sympy(sp, dummies, None)
    except Exception:  # a row that cannot be written over plain symbols: no display function
        return None
    if isinstance(probe, sp.Function) and type(probe).__name__ == name and probe.args == dummies:
        return type(probe)
    tex = _latex_symbol(op, name)

    def split(args: Sequence[Any]) -> tuple[tuple[Any, ...], Any]:
        # an op's numeric parameter (leaky_relu's alpha) is an optional last argument
        return tuple(args[:arity]), (float(args[arity]) if len(args) > arity else None)

    def elementary(self: Any) -> Any:
        operands, attr = split(self.args)
        return op.sympy(sp, operands, attr)

    def _eval_evalf(self: Any, prec: int) -> Any:
        if not all(a.is_number for a in self.args):
            return None
        return elementary(self).evalf(prec_to_dps(prec))

    def fdiff(self: Any, argindex: int = 1) -> Any:
        if not 1 <= argindex <= len(dummies):
            raise sp.ArgumentIndexError(self, argindex)
        operands, attr = split(self.args)
        stated = _stated_derivative(op, attr, operands, self)
        if stated is not None:  # sigmoid(a)*(1 - sigmoid(a)); softplus: sigmoid(a)
            return stated
        written = _formula_display(op, dummies) if attr is None else None
        # an op defined by a formula differentiates through the formula's own functions
        # (swish = a*sigmoid(a): sigmoid stays sigmoid), others through their SymPy form
        d = sp.diff(written if written is not None else op.sympy(sp, dummies, attr), dummies[argindex - 1])
        return d.xreplace(dict(zip(dummies, operands)))

    def _eval_rewrite_as_elementary(self: Any, *args: Any, **kwargs: Any) -> Any:
        operands, attr = split(args)
        return op.sympy(sp, operands, attr)

    def _latex(self: Any, printer: Any, exp: Any = None) -> str:
        operands, attr = split(self.args)
        inner = ", ".join([printer._print(a) for a in operands] + ([] if attr is None else [repr(attr)]))
        out = rf"{tex}\left({inner}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _code(self: Any, printer: Any) -> str:
        # lambdify (math, numpy, mpmath, ...): the elementary form, in the target's own functions
        return printer._print(elementary(self))

    namespace = {"nargs": (arity, arity + 1) if op.param else arity, "_eval_evalf": _eval_evalf, "fdiff": fdiff,
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
    layered = _layer_display(op, args, attr)
    if layered is not None:
        return layered
    fn = _display_call(op, args, attr)
    if fn is not None:
        return fn
    out = op.sympy(sp, tuple(args), attr)
    # rows build sums, products and powers unevaluated; SymPy's canonical form is wanted here
    return out.func(*out.args) if isinstance(out, sp.Basic) and out.args else out


def layer_functions() -> dict[Op, Any]:
    """Every layerwise row with a display function (softmax) and that function."""
    out = {}
    for row in OPS.values():
        if row.layerwise and row.layer_derivative is not None:
            fn = display_function(row)
            if fn is not None:
                out[row] = fn
    return out


def fresh_layer_name(base: str, n: int, taken: set[str]) -> str:
    """``base``, else its capital, else ``base`` doubled (``p``, ``P``, ``pp``, ``ppp``, ...), the
    first whose ``name``, ``name_1 .. name_n`` no name in ``taken`` uses; the chosen names are
    added to ``taken``. Never a trailing number, which :func:`latex_name` would read as an index
    (``p2_3`` is :math:`p^{(2)}_{3}`, a layer)."""
    name, k = base, 1
    while name in taken or any(f"{name}_{j + 1}" in taken for j in range(n)):
        k += 1
        name = base.upper() if k == 2 and base.upper() != base else base * k
    taken.update([name] + [f"{name}_{j + 1}" for j in range(n)])
    return name


def log_layers(program: Program) -> dict[int, tuple[Op, str]]:
    """The nodes whose row is the ``log_op`` of a layerwise row with a ``layer_symbol``
    (log-softmax, a cross-entropy computed from the logits), each with that row and the
    name its outputs get when printed (``p``: the loss reads ``-log(p_3)`` after
    ``p = softmax(z1, z2, z3)``); one name per operand list, in node order.

    >>> import symnet as sn
    >>> a, b = sn.Input("a"), sn.Input("b")
    >>> [(i, row.name, name) for i, (row, name) in log_layers(sn.compile(sn.cross_entropy(sn.Softmax([a, b]), 0)).program).items()]
    [(2, 'softmax', 'p')]
    """
    rows = {row.log_op: row for row in layer_functions() if row.log_op and row.layer_symbol}
    taken = {n for n in program.names if n}
    by_args: dict[tuple[int, ...], str] = {}
    out: dict[int, tuple[Op, str]] = {}
    for i in program.op_indices:
        row = rows.get(program.ops[i].name)  # type: ignore[union-attr]
        if row is None or not isinstance(program.attrs[i], int):
            continue
        args = tuple(program.args[i])
        if args not in by_args:
            by_args[args] = fresh_layer_name(row.layer_symbol, len(args), taken)  # type: ignore[arg-type]
        out[i] = (row, by_args[args])
    return out


def _layer_display(op: Op, args: Sequence[Any], attr: Any) -> Any:
    """A layerwise op by name: its display function at output ``attr``; a row that is the
    ``log_op`` of one (log-softmax) as the log of that row's display function (so that
    cross-entropy on softmax differentiates to ``p_k - 1[k = c]``); else ``None``."""
    if not op.layerwise or not isinstance(attr, int) or isinstance(attr, bool):
        return None
    row = op if op.layer_derivative is not None else _log_of(op)
    fn = display_function(row) if row is not None else None
    if fn is None:
        return None
    out = fn(sp.Integer(attr), *args)
    return out if row is op else sp.log(out)


def _log_of(op: Op) -> Op | None:
    """The row whose ``log_op`` is ``op`` (log-softmax: softmax), or ``None``."""
    for row in OPS.values():
        if row.log_op == op.name and row.layer_derivative is not None:
            return row
    return None


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



def _display(op: Op, args: tuple[Any, ...], attr: Any) -> Any:
    layered = _layer_display(op, args, attr)
    if layered is not None:
        return layered
    fn = _display_call(op, args, attr)
    return fn if fn is not None else _elementary(op, args, attr)


def _display_call(op: Op, args: Sequence[Any], attr: Any) -> Any:
    """The op's display function over ``args`` (its parameter, if set, as a last exact
    argument: ``leaky_relu(z, 1/10)``), or ``None``."""
    if attr is not None and (not op.param or isinstance(attr, bool) or not isinstance(attr, (int, float))):
        return None
    fn = display_function(op)
    if fn is None:
        return None
    if attr is None:
        return fn(*args)
    return fn(*args, _sympy_decimal(sp, attr))


# -- limits ---------------------------------------------------------------------


_TEMPLATES: dict[tuple[Any, ...], tuple[tuple[sp.Dummy, ...], tuple[Any, ...], Any]] = {}


def _template(row: Op, attr: Any, n: int) -> tuple[tuple[sp.Dummy, ...], tuple[Any, ...], Any]:
    key = (row, attr, getattr(attr, "exact", None), n)  # as in output_derivative
    t = _TEMPLATES.get(key)
    if t is None:
        syms = tuple(sp.Dummy(f"a{k}", real=True) for k in range(n))
        f = display(row, syms, attr)
        derivs = _derivatives(f, syms)
        t = _TEMPLATES[key] = (syms, derivs, output_derivative(row, attr) if n == 1 else None)
    return t


def _derivatives(f: Any, syms: tuple[Any, ...]) -> tuple[Any, ...]:
    """``d f / d s`` for every ``s`` in ``syms``. A sum is differentiated term by term, each
    term by the symbols it holds, so a wide sum costs its size, not size times width."""
    if not isinstance(f, sp.Add) or len(syms) <= 4:
        return tuple(sp.diff(f, s) for s in syms)
    terms: dict[Any, list[Any]] = {s: [] for s in syms}
    for term in f.args:
        for s in term.free_symbols:
            if s in terms:
                terms[s].append(term)
    return tuple(sp.Add(*[sp.diff(t, s) for t in terms[s]]) for s in syms)


def local_partial(row: Op, attr: Any, operands: Sequence[Any], output: Any, k: int) -> Any:
    """The derivative of one op with respect to operand ``k``, at the given operand
    expressions: SymPy's derivative of the row's display form (the model's own functions),
    written through the op's ``output`` when the row states its derivative that way
    (sigmoid: ``y (1 - y)``, tanh: ``1 - y^2``)."""
    if len(operands) == 1:
        stated = _stated_derivative(row, attr, operands, output)
        if stated is not None:
            return stated
    syms, derivs, _ = _template(row, attr, len(operands))
    coeff, rest = derivs[k].as_coeff_Mul()
    if coeff.is_Rational and coeff not in (1, -1, 0) and not rest.is_Number:
        # a number times a sum stays a product, as textbooks write it: 2 (yhat - 0.778), not
        # SymPy's distributed 2 yhat - 1.556
        return _keep_coeff(coeff, rest.xreplace(dict(zip(syms, operands))))
    return derivs[k].xreplace(dict(zip(syms, operands)))


def _stated_derivative(row: Op, attr: Any, operands: Sequence[Any], output: Any) -> Any:
    """A one-input row's derivative as the row states it, through its ``output``
    (sigmoid: ``y (1 - y)``) or with the model's own functions (softplus: ``sigmoid(a)``),
    at ``operands``; ``None`` if it states neither."""
    by_output = output_derivative(row, attr)
    if by_output is not None:
        y, poly = by_output
        return poly.xreplace({y: output})
    stated = row_derivative(row, attr)
    if stated is not None:
        a, y, d = stated
        return d.xreplace({a: operands[0], y: output})
    return None
