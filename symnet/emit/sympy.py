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

from typing import Any, Callable, Sequence

import sympy as sp

from ..program import Program
from ..errors import ExportLimitError, SymnetError
from ..ops import OPS
from ..analysis import layer_nodes
from ..budgets import MAX_SIZE, check_inline_size
from .forms import (_display, _display_number, _elementary, constant, display, display_function, leaf_symbols,
                    output_derivative)
from .render import check_digits, format_number

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
             max_size: int = MAX_SIZE, digits: int | None = None) -> Any:
    """The network as SymPy: an ``Expr`` (a ``Matrix`` column for vector outputs), or for
    ``form="let"`` the pair ``(definitions, output)``.

    ``numeric=True`` substitutes the parameters' current values (exact rationals in the
    elementary and let forms, Floats in the display form). ``digits`` (checked as every
    ``digits=`` is) writes the parameters as their values and every number as a Float of
    that many significant digits, as ``funcify(digits=)`` does. ``form`` is ``"display"``,
    ``"elementary"`` or ``"let"`` (see the module docstring). Past ``max_depth`` /
    ``max_kinks`` or ``max_size`` (nodes of the inlined tree, :mod:`symnet.budgets`) an
    inlined form raises :class:`~symnet.errors.ExportLimitError`.

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
        check_inline_size(program, max_size, what=f"the {form} SymPy form")
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
    except KeyError:
        # SymPy 1.14 fails ("pop from an empty set") folding a Piecewise whose condition
        # holds another Piecewise with no free symbol left (relu(relu(-w*w)) with numbers
        # substituted); the let and display forms never nest them.
        raise ExportLimitError(f"SymPy cannot write the {form} form of this network: it nests one kink "
                               "op's Piecewise inside another's condition; use form='let' or "
                               "form='display'") from None


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
