"""Shared mechanics of the string emitters: precedence, parentheses, inline or named.

An emitter supplies a :class:`Style` (its brackets, its multiplication sign, how
a call and a power look) and a function that writes a leaf; :func:`render` walks
the program once, in order, and returns one :class:`Piece` per node. Nodes in
``named`` are referred to by name instead of being written inline, which keeps
the output of a deep or shared graph linear in its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Callable, Collection, Mapping, Sequence

from ..program import Program
from ..errors import ExportLimitError, InputError, shown
from ..ops import PREC_ATOM, PREC_MUL, PREC_NEG, Form, Op

__all__ = ["Piece", "Style", "TEXT", "render", "apply_form", "DEFAULT_MAX_CHARS",
           "format_number", "number_piece", "check_digits", "MAX_DIGITS"]

#: ``digits=`` (significant digits of printed numbers) accepts 1 to this many.
MAX_DIGITS = 17


def check_digits(digits: object, what: str = "digits") -> int | None:
    """``digits`` if it is ``None`` or an integer from 1 to :data:`MAX_DIGITS`, else
    :class:`~symnet.errors.InputError`: the one check every ``digits=`` and ``--digits`` uses.

    >>> check_digits(3), check_digits(None)
    (3, None)
    """
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int)
                               or not 1 <= digits <= MAX_DIGITS):
        raise InputError(f"{what} must be an integer from 1 to {MAX_DIGITS} or None, got {shown(digits)}")
    return digits


def _rounded(v: float, digits: int | None) -> float:
    """``v`` rounded to ``digits`` significant digits; toward zero when rounding to
    nearest would overflow (1.7976931348623157e308 to 3 digits is 1.79e308, not inf)."""
    if digits is None:
        return v
    r = float(f"{v:.{digits - 1}e}")
    if math.isinf(r):
        with localcontext() as ctx:
            ctx.prec, ctx.rounding = digits, ROUND_DOWN
            r = float(+Decimal(repr(v)))
    return r


def format_number(value: float, digits: int | None = None, latex: bool = False) -> str:
    """A number as written in every output of symnet (the one number formatter).

    Rounded to ``digits`` significant digits if given (checked by :func:`check_digits`),
    then written in its shortest form that reads back exactly. As text (``latex=False``)
    that is Python's ``repr`` (``1e-07``), integers below 1e16 in full; as LaTeX,
    magnitudes below 1e-4 or from 1e15 on are ``m \\cdot 10^{e}``. Non-finite numbers
    raise :class:`~symnet.errors.InputError`.

    >>> format_number(0.5), format_number(0.6888437, 3), format_number(-1e-07), format_number(1234.5, 2)
    ('0.5', '0.689', '-1e-07', '1200')
    >>> format_number(-1e-07, latex=True), format_number(2e15, latex=True)
    ('-1 \\\\cdot 10^{-7}', '2 \\\\cdot 10^{15}')
    """
    check_digits(digits)
    v = float(value)
    if not math.isfinite(v):
        raise InputError(f"cannot write the non-finite number {v!r}")
    v = _rounded(v, digits)
    if v == 0.0:
        return "0"
    small = abs(v) < (1e15 if latex else 1e16)
    if v.is_integer() and small:
        return str(int(v))
    text = repr(v)
    if not latex or ("e" not in text and small):
        return text
    if abs(v) >= 1e-4 and small:  # repr chose an exponent LaTeX readers do not need
        return f"{v:.{MAX_DIGITS}f}".rstrip("0").rstrip(".")
    sign, figures, exponent = Decimal(text).normalize().as_tuple()
    mantissa = str(figures[0]) + ("." + "".join(map(str, figures[1:])) if len(figures) > 1 else "")
    power = len(figures) - 1 + int(exponent)
    return rf"{'-' if sign else ''}{mantissa} \cdot 10^{{{power}}}"


def number_piece(value: float, digits: int | None = None, latex: bool = False) -> Piece:
    """A number as a written piece, with the precedence its sign or product needs."""
    text = format_number(value, digits, latex)
    prec = PREC_MUL if "\\cdot" in text else PREC_NEG if text.startswith("-") else PREC_ATOM
    return Piece(text, prec)

#: Inline expressions longer than this raise ExportLimitError (use the layered form).
DEFAULT_MAX_CHARS = 200_000


@dataclass(frozen=True)
class Piece:
    """A written expression and the precedence of its outermost operation."""

    text: str
    prec: int


@dataclass(frozen=True)
class Style:
    """What differs between notations, beyond each op's own form."""

    lparen: str = "("
    rparen: str = ")"
    call_open: str = "("
    call_close: str = ")"
    times: str = "*"
    #: the sign used instead of ``times`` before a factor that starts with a digit
    #: (juxtaposed numbers would merge: ``2 3``); ``None``: always ``times``
    digit_times: str | None = None
    #: a format string over ``{base}`` and ``{exp}``, or a function ``(base, exp) -> str``
    power: str | Callable[[str, str], str] = "{base}**{exp}"
    negative_exponent: str = "({exp})"
    form: Callable[[Op], Form] = lambda op: op.text
    #: ``a + (-b)`` is written ``a - b`` when ``-b`` binds at least this tightly. A
    #: product or quotient whose first factor is negated qualifies: ``a + (-2)*x``
    #: and ``a - 2*x`` are equal (negation is exact in floating point).
    minus_prec: int = PREC_MUL
    #: numbers as LaTeX (``2 \cdot 10^{-8}``) rather than plain text (``2e-08``)
    latex: bool = False
    #: how a 0/1 indicator of a condition is written (over ``{cond}``)
    indicator: str = "({cond})"


TEXT = Style()


def _paren(style: Style, piece: Piece, need: int) -> str:
    if piece.prec < need:
        return f"{style.lparen}{piece.text}{style.rparen}"
    return piece.text


def _exponent(value: Any, style: Style) -> str:
    """An exponent as written: a fraction that no decimal writes exactly as the fraction
    (``w**(1/3)``, ``w^{-2/3}``): a formula's number carries it as ``.exact`` (see
    :class:`symnet.parse.Exact`), a SymPy exponent is passed as a ``Fraction``. Any
    other exponent (a float's binary value, ``0.1`` from a formula) is its shortest decimal.

    >>> _exponent(Fraction(1, 3), TEXT), _exponent(Fraction(-2, 3), TEXT), _exponent(0.5, TEXT)
    ('(1/3)', '-2/3', '0.5')
    """
    exact = value if isinstance(value, Fraction) else getattr(value, "exact", None)
    if isinstance(exact, Fraction) and exact.denominator < 10**15:
        q = exact.denominator
        while q % 2 == 0:
            q //= 2
        while q % 5 == 0:
            q //= 5
        if q != 1:
            text = f"{exact.numerator}/{exact.denominator}"
            return text if style.latex or exact < 0 else f"{style.lparen}{text}{style.rparen}"
    return format_number(float(value), None, style.latex)


def apply_form(form: Form, operands: Sequence[Piece], attr: object, style: Style) -> Piece:
    """Write one op from its already written operands, adding only needed parentheses."""
    kind = form.kind
    if kind == "call":
        inner = ", ".join([*(o.text for o in operands), *(() if attr is None else (format_number(attr, None, style.latex),))])
        return Piece(f"{form.symbol}{style.call_open}{inner}{style.call_close}", form.prec)
    if kind == "prefix":
        return Piece(f"{form.symbol}{_paren(style, operands[0], form.operand_prec)}", form.prec)
    if kind == "power":
        if attr == 1:  # an exponent of 1 is never written
            return operands[0]
        base = _paren(style, operands[0], form.operand_prec)
        exp = _exponent(attr, style)
        if exp.startswith("-"):
            exp = style.negative_exponent.format(exp=exp)
        text = style.power(base, exp) if callable(style.power) else style.power.format(base=base, exp=exp)
        return Piece(text, form.prec)
    if kind == "template":
        parts = [_paren(style, o, form.operand_prec) for o in operands]
        return Piece(form.render(parts, attr), form.prec)  # type: ignore[misc]
    # infix
    symbol = form.symbol.replace("{times}", style.times)
    out = [_paren(style, operands[0], form.operand_prec)]
    for o in operands[1:]:
        text = _paren(style, o, form.right_prec)
        if text.startswith("-"):
            if symbol == " + " and o.prec >= style.minus_prec:
                # a + (-b) reads as a - b
                out.append(" - " + text[1:])
                continue
            text = f"{style.lparen}{text}{style.rparen}"
        if style.digit_times is not None and text[:1].isdigit() and "{times}" in form.symbol:
            out.append(form.symbol.replace("{times}", style.digit_times) + text)
            continue
        out.append(symbol + text)
    return Piece("".join(out), form.prec)


def _without_identity(form: Form, operands: Sequence[Piece], units: Sequence[int], attr: object,
                      style: Style) -> Piece:
    """An infix form written without the operands that are constants equal to its
    identity (``units``: 1, or -1 for the identity negated, else 0): ``1 w x`` is ``w x``,
    and ``-1 x`` is ``-x``."""
    kept = [o for o, u in zip(operands, units) if not u]
    negate = sum(u == -1 for u in units) % 2 == 1
    if not kept:
        return Piece(f"-{form.identity}", PREC_NEG) if negate else Piece(str(form.identity), PREC_ATOM)
    out = kept[0] if len(kept) == 1 else apply_form(form, kept, attr, style)
    if not negate:
        return out
    if out.text.startswith("-") or out.prec < form.prec:
        return Piece(f"-{style.lparen}{out.text}{style.rparen}", PREC_NEG)
    return Piece(f"-{out.text}", PREC_NEG)


def _unit(program: Program, a: int, form: Form) -> int:
    """1 or -1 when node ``a`` is a constant equal to ``form``'s identity or its negation, else 0."""
    if form.identity is None or program.kinds[a] != "constant" or program.ops[a] is not None:
        return 0
    value = program.values[a]
    return 1 if value == float(form.identity) else -1 if value == -float(form.identity) else 0


def render(program: Program, leaf: Callable[[int], Piece], style: Style = TEXT,
           named: Collection[int] = (), name: Callable[[int], str] | None = None,
           max_chars: int = DEFAULT_MAX_CHARS, fixed: Mapping[int, Piece] | None = None) -> list[Piece | None]:
    """Write every op node, in order; nodes in ``named`` are referenced by name, nodes in
    ``fixed`` are written as the piece given there (``log(p_3)`` for a log-softmax).

    Returns one piece per node (``None`` for leaves, which ``leaf`` writes where
    used). Raises ExportLimitError when one expression would exceed ``max_chars``.
    """
    fixed = fixed or {}
    named = frozenset(named)
    label = name or (lambda i: program.names[i] or f"t{i}")
    pieces: list[Piece | None] = [None] * len(program.nodes)

    def ref(a: int) -> Piece:
        if a in named:
            return Piece(label(a), PREC_ATOM)
        p = pieces[a]
        return leaf(a) if p is None else p

    for i in program.op_indices:
        if i in fixed:
            pieces[i] = fixed[i]
            continue
        op = program.ops[i]
        form = style.form(op)
        operands = [ref(a) for a in program.args[i]]
        units = [_unit(program, a, form) for a in program.args[i]]
        if any(units) and len(operands) > 1:  # a coefficient of 1 is never written
            piece = _without_identity(form, operands, units, program.attrs[i], style)
        else:
            piece = apply_form(form, operands, program.attrs[i], style)
        if len(piece.text) > max_chars:
            raise ExportLimitError(
                f"the expression of node '{program.names[i]}' is longer than {max_chars} characters; "
                "use the layered form (named intermediates) or raise max_chars")
        pieces[i] = piece
    return pieces
