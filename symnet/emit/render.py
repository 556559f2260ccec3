"""Shared mechanics of the string emitters: precedence, parentheses, inline or named.

An emitter supplies a :class:`Style` (its brackets, its multiplication sign, how
a call and a power look) and a function that writes a leaf; :func:`render` walks
the program once, in order, and returns one :class:`Piece` per node. Nodes in
``named`` are referred to by name instead of being written inline, which keeps
the output of a deep or shared graph linear in its size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Sequence

from ..program import Program
from ..errors import ExportLimitError
from ..ops import PREC_ATOM, PREC_MUL, Form, Op, format_exponent

__all__ = ["Piece", "Style", "TEXT", "render", "apply_form", "DEFAULT_MAX_CHARS"]

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


TEXT = Style()


def _paren(style: Style, piece: Piece, need: int) -> str:
    if piece.prec < need:
        return f"{style.lparen}{piece.text}{style.rparen}"
    return piece.text


def apply_form(form: Form, operands: Sequence[Piece], attr: object, style: Style) -> Piece:
    """Write one op from its already written operands, adding only needed parentheses."""
    kind = form.kind
    if kind == "call":
        inner = ", ".join([*(o.text for o in operands), *(() if attr is None else (format_exponent(attr),))])
        return Piece(f"{form.symbol}{style.call_open}{inner}{style.call_close}", form.prec)
    if kind == "prefix":
        return Piece(f"{form.symbol}{_paren(style, operands[0], form.operand_prec)}", form.prec)
    if kind == "power":
        base = _paren(style, operands[0], form.operand_prec)
        exp = format_exponent(attr)  # type: ignore[arg-type]
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


def render(program: Program, leaf: Callable[[int], Piece], style: Style = TEXT,
           named: Collection[int] = (), name: Callable[[int], str] | None = None,
           max_chars: int = DEFAULT_MAX_CHARS) -> list[Piece | None]:
    """Write every op node, in order; nodes in ``named`` are referenced by name.

    Returns one piece per node (``None`` for leaves, which ``leaf`` writes where
    used). Raises ExportLimitError when one expression would exceed ``max_chars``.
    """
    named = frozenset(named)
    label = name or (lambda i: program.names[i] or f"t{i}")
    pieces: list[Piece | None] = [None] * len(program.nodes)

    def ref(a: int) -> Piece:
        if a in named:
            return Piece(label(a), PREC_ATOM)
        p = pieces[a]
        return leaf(a) if p is None else p

    for i in program.op_indices:
        op = program.ops[i]
        piece = apply_form(style.form(op), [ref(a) for a in program.args[i]], program.attrs[i], style)
        if len(piece.text) > max_chars:
            raise ExportLimitError(
                f"the expression of node '{program.names[i]}' is longer than {max_chars} characters; "
                "use the layered form (named intermediates) or raise max_chars")
        pieces[i] = piece
    return pieces


