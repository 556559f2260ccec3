"""Gradients written out: text, LaTeX and SymPy, inline or chained, through the one printer.

Two forms, from the API and the command line (``symnet grad --form``):

* ``"inline"``: the derivative in the inputs and parameters, with the model's own
  functions by name (``x*(sigmoid(w*x + b) - y)``);
* ``"chain"``: one definition per named intermediate (the forward pass), then
  one per adjoint (backprop, ``dL_dz1_1 = ...``), then the derivative over them.

Both are the textbook forms of :mod:`symnet.emit.chainrule` and are written by
:class:`symnet.emit.printer.ExprPrinter`, so sub-expressions that are nodes of
the network print as the network's formula prints them. ``digits`` writes the
parameters as their values and rounds every number to that many significant
digits, in every format.

>>> import symnet as sn
>>> x, w, b, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b"), sn.Input("y")
>>> net = sn.compile(sn.bce((w * x + b).sigmoid(), y))
>>> gradient_text(net, "w")
'x*(sigmoid(w*x + b) - y)'
>>> gradient_text(net, "w", latex=True)
'x \\\\left(\\\\sigma\\\\left(w x + b\\\\right) - y\\\\right)'
>>> gradient_text(net, "w", digits=2)
'x*(sigmoid(0.5*x + 0.25) - y)'
"""

from __future__ import annotations

from typing import Any

from .errors import InputError
from .emit.chainrule import _program, _values, chain, gradient_latex, gradient_sympy, inline_text, known_pieces, resolve_wrt
from .emit.vectors import layer_text
from .emit.printer import ExprPrinter
from .emit.textbook import substitute
from .emit.render import TEXT, check_digits

__all__ = ["GRADIENT_FORMS", "gradient_text", "gradient_expr"]

#: The forms :func:`gradient_text` writes.
GRADIENT_FORMS = ("inline", "chain")


def gradient_expr(network: Any, wrt: str, *, output: int | None = None, form: str = "inline",
                  digits: int | None = None) -> Any:
    """The derivative as SymPy in the given form: an ``Expr`` (``"inline"``) or
    ``(definitions, result)`` (``"chain"``). Constants are Floats, as printed;
    ``digits`` rounds every number to that many significant digits (InputError for a
    bad ``digits``, as everywhere).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> gradient_expr(sn.compile(sn.mse(w * x, 0.778)), "w", digits=2)
    2*x*(w*x - 0.78)
    """
    check_digits(digits)
    if form not in GRADIENT_FORMS:
        raise InputError(f"form must be one of {', '.join(GRADIENT_FORMS)}, got {form!r}")
    return gradient_sympy(network, wrt, output=output, let=form == "chain", exact=False, digits=digits)


def gradient_text(network: Any, wrt: str, *, form: str = "inline", latex: bool = False,
                  digits: int | None = None, output: int | None = None, times: str = "") -> str:
    """d output / d ``wrt`` written as text (``latex=False``) or LaTeX, in ``form``
    (:data:`GRADIENT_FORMS`). ``digits``: parameters as values, every number rounded.

    Raises InputError for an unknown ``wrt``, form or ``digits``; ExportLimitError
    past the chain rule's block limit.
    """
    check_digits(digits)
    if form not in GRADIENT_FORMS:
        raise InputError(f"form must be one of {', '.join(GRADIENT_FORMS)}, got {form!r}")
    resolve_wrt(network, [wrt])
    if form == "inline":
        return inline_text(network, wrt, latex=latex, digits=digits, output=output, times=times)
    if latex:  # the chain in LaTeX is backprop with deltas, as gradient_latex writes it
        return gradient_latex(network, [wrt], output=output, times=times, digits=digits)
    program = _program(network)
    values = _values(program, digits)
    defs, result = gradient_expr(network, wrt, output=output, form="chain")
    ch = chain(network, output=output, exact=False)
    pr = ExprPrinter(TEXT, None, digits, known_pieces(program, TEXT, digits, ch.named, values))
    layer_of = {s: layer for layer in ch.layers for s in layer.symbols}
    lines = []
    for s, e in defs:
        layer = layer_of.get(s)
        if layer is None:
            lines.append(f"{pr.doprint(s)} = {pr.doprint(substitute(e, values))}")
        elif s == layer.symbols[0]:  # p_1 .. p_n as one vector: p = softmax(z1, z2, z3)
            lines.append(f"{layer.name} = {layer_text(pr, layer)}")
    lines.append(f"d {program.names[ch.output]} / d {wrt} = {pr.doprint(substitute(result, values))}")
    return "\n".join(lines)
