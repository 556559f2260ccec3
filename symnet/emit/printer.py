"""The one printer: a SymPy expression written with the op rows' forms.

symnet writes a network's formula by walking its compiled program
(:func:`symnet.emit.render.render`); gradients, worked backward passes and the
verifier's expected answers are SymPy expressions. Both are written by the same
machinery: :class:`ExprPrinter` maps each SymPy head to the op row that writes it
(``Add`` to ``add``, ``Mul`` to ``mul`` and ``div``, ``Pow`` to ``pow``, a
function to the row whose ``sympy`` form is that function) and hands the written
operands to :func:`symnet.emit.render.apply_form` with the same :class:`Style`,
precedence table and number formatter as the program's own renderer. So
``sigmoid`` is ``\\sigma\\left(...\\right)`` and ``exp`` is ``\\exp\\left(...\\right)`` in
every LaTeX output, and a number prints the same in a formula and in a gradient.

``known`` maps sub-expressions to pieces already written (the network's own
nodes, rendered from the program), so a sub-expression that is a node of the
network prints exactly as the network's formula prints it (terms in the order
they were built, ``w x + b`` rather than SymPy's ``b + w x``).

The walk is iterative (no recursion over the expression's depth). A SymPy head
that no row writes (there are none in symnet's own outputs) falls back to
SymPy's own printer.

>>> import sympy as sp
>>> from symnet.emit.render import TEXT
>>> x, y = sp.symbols("x y", real=True)
>>> ExprPrinter(TEXT).doprint(-2 * x * sp.exp(-x) / (1 + y) + sp.Rational(1, 2))
'1/2 - 2*x*exp(-x)/(y + 1)'
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

import sympy as sp

from ..ops import OPS, PREC_ATOM, PREC_MUL, PREC_NEG, PREC_POW, Op
from .notation import latex_style
from .render import Piece, Style, apply_form, check_digits, number_piece
from .forms import display_function, log_layers
from ..analysis import owners

__all__ = ["ExprPrinter", "row_of", "latex_printer", "layer_pieces"]

_HEADS: dict[str, Any] = {"key": None, "table": {}}


def _heads() -> dict[Any, Op]:
    """SymPy head -> op row: a function class whose application over the row's operands
    is the row's display or SymPy form; ``("pow", p)`` for a row that is a fixed power."""
    key = tuple(id(op) for op in OPS.values())
    if _HEADS["key"] == key:
        return _HEADS["table"]
    table: dict[Any, Op] = {}
    for op in OPS.values():
        if op.arity is None:
            if op.layerwise and (fn := display_function(op)) is not None:
                table.setdefault(fn, op)  # softmax(a, b, c)_k: the index is the function's first argument
            continue
        fn = display_function(op)
        if fn is not None:
            table.setdefault(fn, op)
        if not op.builtin:  # a user's pattern (a**2, say) must not take over how built-in forms print
            continue
        dummies = tuple(sp.Dummy(f"a{k}", real=True) for k in range(op.arity))
        try:
            probe = op.sympy(sp, dummies, None)
        except Exception:  # noqa: BLE001 -- a row that needs its attribute
            continue
        if isinstance(probe, sp.Function) and probe.args == dummies:
            table.setdefault(type(probe), op)
        elif isinstance(probe, sp.Piecewise) and op.arity == 1:
            table.setdefault(("piecewise", op.name), op)  # matched by value (see _piecewise_row)
        elif (isinstance(probe, sp.Pow) and op.arity == 1 and probe.base == dummies[0]
              and probe.exp.is_Number and probe.exp not in (-1, 1)):
            table.setdefault(("pow", probe.exp), op)
    _HEADS["key"], _HEADS["table"] = key, table
    return table


def row_of(expr: Any) -> Op | None:
    """The op row that writes ``expr``'s head, or ``None``."""
    heads = _heads()
    if isinstance(expr, sp.Pow) and expr.exp.is_Number:
        return heads.get(("pow", expr.exp))
    return heads.get(getattr(expr, "func", None))


def _piecewise_row(expr: Any) -> tuple[Op, Any] | None:
    """``(row, operand)`` when ``expr`` is a one-input row's Piecewise form over one operand
    (``step``: ``Piecewise((1, z > 0), (0, True))`` is ``step(z)``), else ``None``."""
    cond = expr.args[0].cond
    if not isinstance(cond, sp.core.relational.Relational) or cond.rhs != 0:
        return None
    for key, op in _heads().items():
        if isinstance(key, tuple) and key[0] == "piecewise":
            try:
                if op.sympy(sp, (cond.lhs,), None) == expr:
                    return op, cond.lhs
            except Exception:  # noqa: BLE001 -- a row that cannot be written over this operand
                continue
    return None


_RELATIONS = {sp.StrictGreaterThan: (">", ">"), sp.GreaterThan: (">=", r"\geq"),
              sp.StrictLessThan: ("<", "<"), sp.LessThan: ("<=", r"\leq")}


class ExprPrinter:
    """Writes SymPy expressions in one :class:`~symnet.emit.render.Style` from the op rows.

    ``name(symbol)`` writes a symbol (default: its name); ``digits`` rounds floats;
    ``known`` maps sub-expressions to pieces written already (see the module docstring).
    """

    def __init__(self, style: Style, name: Callable[[Any], str] | Mapping[Any, str] | None = None,
                 digits: int | None = None, known: Mapping[Any, Piece] | None = None) -> None:
        self.style = style
        if name is None:
            self._name: Callable[[Any], str] = lambda s: s.name
        elif callable(name):
            self._name = name
        else:
            names = dict(name)
            self._name = lambda s: names.get(s, s.name)
        self.digits = digits
        self.known = dict(known or {})
        self._add, self._mul = OPS["add"], OPS["mul"]
        self._div, self._pow, self._neg, self._exp = OPS["div"], OPS["pow"], OPS["neg"], OPS["exp"]

    # -- entry points --------------------------------------------------------------

    def doprint(self, expr: Any) -> str:
        """``expr`` written in this printer's style."""
        return self.piece(expr).text

    def piece(self, expr: Any) -> Piece:
        """``expr`` written, with the precedence of its outermost operation."""
        memo: dict[Any, Piece] = {}
        plans: dict[Any, tuple[list[Any], Callable[[list[Piece]], Piece]]] = {}
        expr = expr if isinstance(expr, sp.Basic) else sp.Integer(expr)
        stack: list[tuple[Any, bool]] = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in memo:
                continue
            if e in self.known:
                memo[e] = self.known[e]
                continue
            plan = plans.get(e)
            if plan is None:
                plan = plans[e] = self._plan(e)
            if ready:
                memo[e] = plan[1]([memo[c] for c in plan[0]])
                continue
            stack.append((e, True))
            stack.extend((c, False) for c in plan[0] if c not in memo)
        return memo[expr]

    # -- one head ----------------------------------------------------------------------

    def _form(self, op: Op, pieces: list[Piece], attr: Any = None) -> Piece:
        return apply_form(self.style.form(op), pieces, attr, self.style)

    def _exponent(self, p: Any) -> Any:
        """A rational exponent exactly (``w**(2/3)``, see :func:`symnet.emit.render.apply_form`),
        else its float."""
        return Fraction(int(p.p), int(p.q)) if p.is_Rational else float(p)

    def _number(self, value: Any) -> Piece:
        return number_piece(float(value), self.digits, self.style.latex)

    def _negate(self, p: Piece) -> Piece:
        if p.prec >= PREC_POW and not p.text.startswith("-"):
            return Piece("-" + p.text, PREC_NEG)
        return self._form(self._neg, [p])

    def _plan(self, e: Any) -> tuple[list[Any], Callable[[list[Piece]], Piece]]:
        if e.is_Symbol:
            return [], lambda _: Piece(self._name(e), PREC_ATOM)
        if e.is_Number:
            return self._plan_number(e)
        if e is sp.E:  # e = exp(1), written by the exp row
            return [sp.Integer(1)], lambda ps: self._form(self._exp, ps)
        if e is sp.pi:  # an exact constant keeps its name (erf' = 2 exp(-a^2)/sqrt(pi))
            return [], lambda _: Piece(r"\pi" if self.style.latex else "pi", PREC_ATOM)
        if e.is_NumberSymbol:  # other constants: their value
            return [], lambda _: self._number(float(e))
        if e.is_Add:
            terms = list(e.as_ordered_terms())
            terms = ([t for t in terms if not t.could_extract_minus_sign()]
                     + [t for t in terms if t.could_extract_minus_sign()])
            return terms, lambda ps: self._form(self._add, ps)
        if e.is_Mul or (e.is_Pow and e.exp.is_Number and e.exp < 0):
            return self._plan_product(e)
        if isinstance(e, sp.Piecewise) and (found := _piecewise_row(e)) is not None:
            row_pw, operand = found
            return [operand], lambda ps: self._form(row_pw, ps)
        if isinstance(e, sp.Piecewise) and len(e.args) == 2 and e.args[0].expr == 1 \
                and e.args[1].expr == 0 and e.args[1].cond == sp.true:
            return [e.args[0].cond], lambda ps: Piece(self.style.indicator.format(cond=ps[0].text), PREC_ATOM)
        if type(e) in _RELATIONS:
            sign = _RELATIONS[type(e)][1 if self.style.latex else 0]
            return [e.lhs, e.rhs], lambda ps: Piece(f"{ps[0].text} {sign} {ps[1].text}", 0)
        row = row_of(e)
        if row is not None and row.layerwise:  # softmax(a, b, c)_k: the output index k is the first argument
            return list(e.args[1:]), lambda ps: self._form(row, ps, int(e.args[0]))
        if row is not None and row.param and row.arity is not None and len(e.args) == row.arity + 1:
            # a display function's last argument is the op's parameter: leaky_relu(z, 0.1)
            return list(e.args[:-1]), lambda ps: self._form(row, ps, float(e.args[-1]))
        if row is not None:
            args = [e.base] if e.is_Pow else list(e.args)
            return args, lambda ps: self._form(row, ps)
        if e.is_Pow and e.base == sp.E:
            return [e.exp], lambda ps: self._form(self._exp, ps)
        if e.is_Pow and e.exp.is_Number:
            return [e.base], lambda ps: self._form(self._pow, ps, self._exponent(e.exp))
        text = sp.latex(e) if self.style.latex else sp.sstr(e)
        return [], lambda _: Piece(text, 0)

    def _plan_number(self, e: Any) -> tuple[list[Any], Callable[[list[Piece]], Piece]]:
        if e.is_Rational and not e.is_Integer:
            p, q = abs(e.p), e.q
            neg = e.p < 0

            def frac(_: list[Piece]) -> Piece:
                out = self._form(self._div, [self._number(p), self._number(q)])
                return self._negate(out) if neg else out

            return [], frac
        return [], lambda _: self._number(e)

    def _plan_product(self, e: Any) -> tuple[list[Any], Callable[[list[Piece]], Piece]]:
        coeff, factors = e.as_coeff_mul() if e.is_Mul else (sp.Integer(1), (e,))
        for f in factors:
            if f.is_Number:  # an unevaluated product may hold more numbers (1.0 * x)
                coeff *= f
        factors = tuple(f for f in factors if not f.is_Number)
        neg = coeff < 0
        coeff = -coeff if neg else coeff
        if coeff.is_Float and float(coeff) == 1.0:
            coeff = sp.Integer(1)  # a coefficient of 1 (0.5 * 2.0) is never printed
        num: list[Any] = []
        den: list[Any] = []
        for f in factors:
            if f.is_Pow and f.exp.is_Number and f.exp < 0:
                den.append(f.base if f.exp == -1 else sp.Pow(f.base, -f.exp))
            else:
                num.append(f)
        lead: list[Piece] = []
        if coeff.is_Rational and not coeff.is_Integer and (num or den):
            if coeff.p != 1:
                lead.append(self._number(coeff.p))
            den.insert(0, sp.Integer(coeff.q))
        elif coeff != 1:
            lead.append(self._number(coeff))
        n_num = len(num)
        sign_outside = self.style.form(self._div).prec > PREC_MUL

        def combine(ps: list[Piece]) -> Piece:
            tops = (lead + ps[:n_num]) or [self._number(1)]
            bottoms = ps[n_num:]
            if neg and not (bottoms and sign_outside):
                tops[0] = self._negate(tops[0])
            top = self._form(self._mul, tops) if len(tops) > 1 else tops[0]
            if not bottoms:
                out = top
            else:
                bottom = self._form(self._mul, bottoms) if len(bottoms) > 1 else bottoms[0]
                out = self._form(self._div, [top, bottom])
                if neg and sign_outside:
                    out = self._negate(out)
            return out

        return num + den, combine


def layer_pieces(program: Any, style: Style, label: Callable[[int, str], str],
                 named: Sequence[int]) -> tuple[dict[int, Piece], dict[int, list[tuple[Op, str, tuple[int, ...]]]]]:
    """How a layered formula writes a cross-entropy computed from the logits, as the chain
    form of its gradients does: each log-softmax node (:func:`symnet.emit.forms.log_layers`)
    as ``log(p_3)``, and a line ``p = softmax(z1, z2, z3)`` before the named node whose
    line first uses it. Returns the nodes' pieces (for :func:`symnet.emit.render.render`'s
    ``fixed``) and, per named node, the ``(row, name, operands)`` of the vectors to define
    before its line. ``label(i, "p_3")`` writes output ``p_3``, read by node ``i``, in ``style``."""
    logs = log_layers(program)
    if not logs:
        return {}, {}
    log_row = row_of(sp.log(sp.Symbol("a")))
    owner = owners(program, named)
    fixed: dict[int, Piece] = {}
    before: dict[int, list[tuple[Op, str, tuple[int, ...]]]] = {}
    seen: set[str] = set()
    for i, (row, name) in logs.items():
        k = Piece(label(i, f"{name}_{program.attrs[i] + 1}"), PREC_ATOM)
        fixed[i] = apply_form(style.form(log_row), [k], None, style) if log_row is not None else k
        if name not in seen and owner[i] >= 0:
            seen.add(name)
            before.setdefault(owner[i], []).append((row, name, tuple(program.args[i])))
    return fixed, before


def latex_printer(names: Any, times: str = "", digits: int | None = None, known: Any = None) -> ExprPrinter:
    """The LaTeX printer of gradients: the one row-driven printer in the LaTeX style
    with the chosen multiplication sign; ``names`` maps symbols to LaTeX."""
    check_digits(digits)
    return ExprPrinter(latex_style(times), names, digits, known)
