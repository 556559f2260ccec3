"""``symnet grad``: a derivative of a network in closed form, as text or LaTeX.

Both come from the chain-rule emitter (:mod:`symnet.emit.chainrule`): LaTeX is
written with the backprop intermediates (deltas); text is one inline SymPy
expression for small networks, and for larger ones (or with ``layers=True``) the
*let form*: the forward intermediates and the adjoints, one definition per line,
so that the output stays linear in the size of the network.
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .emit.sympy import fold_functions
from .errors import ExportLimitError, InputError
from .network import Network

__all__ = ["gradient_text", "INLINE_MAX_OPS", "MAX_CHARS"]

#: Networks with more op nodes than this are written in the let form.
INLINE_MAX_OPS = 24
#: Longest derivative printed.
MAX_CHARS = 200_000


def _values(net: Network, digits: int | None) -> dict[Any, Any]:
    if digits is None:
        return {}
    p = net.program
    return {sp.Symbol(p.names[i], real=True): sp.Float(repr(p.values[i]), 17) for i in p.parameters}


def _show(expr: Any, values: dict[Any, Any], digits: int | None) -> str:
    expr = fold_functions(expr)
    if values:
        expr = expr.subs(values).evalf(max(digits or 1, 1))
    return str(expr)


def gradient_text(net: Network, wrt: str, *, latex: bool = False, digits: int | None = None,
                  layers: bool | None = None, output: int | None = None) -> str:
    """d output / d ``wrt`` as text or LaTeX; with ``digits`` the parameters are replaced
    by their values, rounded to that many significant digits. ``output`` picks one
    output of a vector network (counting from 0).

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
    >>> print(gradient_text(sn.compile((w * x + b) ** 2), "w"))
    2*x*(b + w*x)
    >>> print(gradient_text(sn.compile((w * x + b) ** 2), "w", layers=True))
    yhat = (b + w*x)**2
    d yhat / d w = x*(2*b + 2*w*x)
    >>> print(gradient_text(sn.compile((w * x + b) ** 2), "w", digits=3))
    2.0*x*(0.5*x + 1.0)
    """
    p = net.program
    if len(p.outputs) > 1 and output is None:
        raise InputError(f"the network has {len(p.outputs)} outputs: choose one with --output K "
                         f"(0 to {len(p.outputs) - 1}) or put a loss on top with --loss")
    if output is not None and not 0 <= output < len(p.outputs):
        raise InputError(f"--output {output} is out of range: the network has {len(p.outputs)} output(s)")
    if latex:
        return net.gradient_latex(wrt, digits=digits, output=output)
    values = _values(net, digits)
    if layers is None:
        layers = len(p.op_indices) > INLINE_MAX_OPS
    if not layers:
        text = _show(net.gradient_sympy(wrt, output=output), values, digits)
    else:
        defs, result = net.gradient_sympy(wrt, let=True, output=output)
        out = p.names[p.outputs[0 if output is None else output]]
        lines = [f"{s} = {_show(e, values, digits)}" for s, e in defs]
        lines.append(f"d {out} / d {wrt} = {_show(result, values, digits)}")
        text = "\n".join(lines)
    if len(text) > MAX_CHARS:
        raise ExportLimitError(f"the derivative is longer than {MAX_CHARS} characters; "
                               "try --layers, or 'symnet check' for its values")
    return text
