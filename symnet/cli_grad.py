"""``symnet grad``: a derivative of a network in closed form, as text, LaTeX or SymPy.

Everything comes from the chain-rule emitter (:mod:`symnet.emit.chainrule`) and is
written by the one printer (:mod:`symnet.gradtext`), in one of two forms:
``inline`` (in the inputs and parameters, with the model's functions by name) or
``chain`` (the forward intermediates and the adjoints, one definition per line,
linear in the size of the network; chosen automatically for large networks).
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from .emit.chainrule import gradient_sympy
from .gradtext import GRADIENT_FORMS
from .gradtext import gradient_text as write_gradient
from .emit.render import check_digits
from .emit.textbook import round_numbers, substitute
from .errors import ExportLimitError, InputError, shown
from .network import Network

__all__ = ["gradient_text", "INLINE_MAX_OPS", "MAX_CHARS"]

#: Networks with more op nodes than this are written in the chain form unless asked otherwise.
INLINE_MAX_OPS = 24
#: Longest derivative printed.
MAX_CHARS = 200_000


def _rounded(expr: Any, values: dict[Any, float], digits: int) -> Any:
    """``expr`` with the parameter values put in and every Float rounded to ``digits``."""
    # a number times a sum stays a product: 2*(yhat - 0.78), not 2*yhat - 1.6
    return round_numbers(substitute(expr, {s: sp.Float(v) for s, v in values.items()}), digits)


def _sympy(net: Network, wrt: str, form: str, digits: int | None, output: int | None) -> str:
    result: Any = gradient_sympy(net, wrt, output=output, form=form, exact=False)  # constants as written
    p = net.program
    values = {sp.Symbol(p.names[i], real=True): p.values[i] for i in p.parameters} if digits is not None else {}
    show = (lambda e: str(_rounded(e, values, digits))) if digits is not None else str
    if form == "chain":
        defs, res = result
        out = p.names[p.outputs[output or 0]]
        return "\n".join([f"{s} = {show(e)}" for s, e in defs] + [f"d {out} / d {wrt} = {show(res)}"])
    return show(result)


def gradient_text(net: Network, wrt: str, *, latex: bool = False, digits: int | None = None,
                  layers: bool | None = None, output: int | None = None, form: str | None = None,
                  sympy: bool = False) -> str:
    """d output / d ``wrt`` as text, LaTeX (``latex=True``) or SymPy's own text
    (``sympy=True``), in ``form`` ``"inline"`` or ``"chain"`` (``layers=True`` is
    ``"chain"``; default: inline for small networks). With ``digits`` the parameters
    are replaced by their values and every number is rounded to that many significant
    digits. ``output`` picks one output of a vector network (counting from 0).

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
    >>> print(gradient_text(sn.compile((w * x + b) ** 2), "w"))
    2*x*(w*x + b)
    >>> print(gradient_text(sn.compile((w * x + b) ** 2), "w", layers=True))
    yhat = (w*x + b)**2
    d yhat / d w = 2*x*(w*x + b)
    >>> print(gradient_text(sn.compile((w * x + b) ** 2), "w", digits=3))
    2*x*(0.5*x + 1)
    """
    check_digits(digits)
    p = net.program
    if len(p.outputs) > 1 and output is None:
        raise InputError(f"the network has {len(p.outputs)} outputs: pass output=k "
                         f"(0 to {len(p.outputs) - 1}) or put a loss on top")
    if output is not None and not 0 <= output < len(p.outputs):
        raise InputError(f"output={output} is out of range: the network has {len(p.outputs)} output(s)")
    if latex and digits is not None and form is None:
        form = "inline"  # parameter values substituted, as in the text form
    if latex and form != "inline":
        text = net.gradient_latex(wrt, digits=digits, output=output)  # chain form: backprop with deltas
        form = "chain"
    if form is None:
        form = "chain" if layers or (layers is None and len(p.op_indices) > INLINE_MAX_OPS) else "inline"
    if form not in GRADIENT_FORMS:
        raise InputError(f"--form must be one of {', '.join(GRADIENT_FORMS)}, got {shown(form)}")
    if sympy:
        text = _sympy(net, wrt, form, digits, output)
    elif latex and form == "chain":
        pass
    else:
        text = write_gradient(net, wrt, form=form, latex=latex, digits=digits, output=output)
    if len(text) > MAX_CHARS:
        raise ExportLimitError(f"the derivative is longer than {MAX_CHARS} characters; "
                               "try --form chain, or 'symnet check' for its values")
    return text
