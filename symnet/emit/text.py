"""Text emitter (``funcify``): a network as a readable formula that :func:`symnet.parse` reads back.

One walk over the compiled program with the shared precedence rules of
:mod:`symnet.emit.render` (style ``TEXT``), so parentheses appear only where
they are needed (``w*x + b``, ``a - (b - c)``, ``-(x**2)`` but ``(-x)**2``) and
terms stay in the order they were built. Inputs and parameters are written by
name; with ``digits=`` parameters are written as their values rounded to that
many significant digits. Numbers are written in their shortest exact form
(``2``, ``0.5``, ``1e-07``).

With ``layers=True`` every named intermediate gets its own line ``name = expr``
(the last line is the output), so a deep or shared network prints in size
linear in its node count: the nodes of the shared layered rule
(:func:`symnet.emit.latex.intermediates`: neurons' sums and activations,
outputs, losses, user-named and shared nodes) and, in long chains, every node
whose inline expression would nest deeper than ``max_depth`` operations. A
vector output is written as a comma-separated list, on the last line when
layered.
"""

from __future__ import annotations


from ..program import Program
from ..ops import PREC_ATOM
from ..analysis import LAYER_DEPTH, layer_nodes
from .printer import layer_pieces
from .render import DEFAULT_MAX_CHARS, TEXT, Piece, apply_form, check_digits, number_piece, render

__all__ = ["to_text"]

#: In the layered form no line nests deeper than this many operations, so that every




def to_text(program: Program, digits: int | None = None, layers: bool = False, *,
            max_chars: int = DEFAULT_MAX_CHARS, max_depth: int = LAYER_DEPTH) -> str:
    """The network as text; ``layers=True`` gives one ``name = expr`` line per named
    intermediate. An inline expression longer than ``max_chars`` raises
    :class:`~symnet.errors.ExportLimitError` (use ``layers=True``).

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.5123, name="w"), sn.Parameter(-2.0, name="b")
    >>> p = sn.compile((w * x + b).sigmoid()).program
    >>> to_text(p), to_text(p, digits=2)
    ('sigmoid(w*x + b)', 'sigmoid(0.51*x - 2)')
    >>> print(to_text(sn.compile(sn.MLP(1, [1, 1])).program, layers=True))
    z1_1 = w1_1_1*x1 + b1_1
    h1_1 = relu(z1_1)
    yhat = w2_1_1*h1_1 + b2_1
    """
    check_digits(digits)
    names = program.names

    def leaf(i: int) -> Piece:
        kind = program.kinds[i]
        if kind == "input" or (kind == "parameter" and digits is None):
            return Piece(names[i] or f"t{i}", PREC_ATOM)
        return number_piece(program.values[i], digits)

    named = layer_nodes(program, max_depth) if layers else []
    named_set = frozenset(named)
    # a cross-entropy from the logits reads L = -log(p_3) after p = softmax(z1, z2, z3), as its gradients do
    fixed, before = layer_pieces(program, TEXT, lambda i, name: name, named) if layers else ({}, {})
    pieces = render(program, leaf, TEXT, named, None, max_chars, fixed)

    def ref(i: int) -> str:
        if i in named_set:
            return names[i] or f"t{i}"
        p = pieces[i]
        return leaf(i).text if p is None else p.text

    lines = []
    for i in named:
        for row, name, args in before.get(i, ()):
            operands = [Piece(ref(a), PREC_ATOM) for a in args]
            lines.append(f"{name} = {apply_form(TEXT.form(row), operands, None, TEXT).text}")
        lines.append(f"{names[i]} = {pieces[i].text}")  # type: ignore[union-attr]
    outs = [ref(o) for o in program.outputs]
    if not layers:
        return ", ".join(outs)
    if program.vector or not lines or program.outputs[0] != named[-1]:
        lines.append(", ".join(outs))
    return "\n".join(lines)

