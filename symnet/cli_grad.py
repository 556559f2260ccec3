"""``symnet grad``: a derivative of a network in closed form, differentiated by SymPy.

The network is written with SymPy's own functions (:mod:`symnet.emit.sympy`) and
SymPy differentiates it. Depth and output size are capped (``MAX_DEPTH``,
``MAX_CHARS``): past them an :class:`~symnet.errors.ExportLimitError` says so.
"""

from __future__ import annotations

import sympy as sp

from .compile import Program
from .emit.sympy import elementary_nodes, leaf_symbols
from .errors import ExportLimitError, InputError
from .network import Network

__all__ = ["gradient_expr", "gradient_text", "MAX_DEPTH", "MAX_CHARS"]

#: Longest chain of ops SymPy is asked to differentiate (SymPy itself recurses).
MAX_DEPTH = 60
#: Longest derivative printed.
MAX_CHARS = 200_000


def _depth(program: Program) -> int:
    depth = [0] * len(program.nodes)
    for i in program.op_indices:
        depth[i] = 1 + max((depth[a] for a in program.args[i]), default=0)
    return max(depth, default=0)


def gradient_expr(net: Network, wrt: str, *, numeric: bool = False) -> sp.Expr:
    """d output / d ``wrt`` as a SymPy expression (parameter values substituted if ``numeric``).

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
    >>> gradient_expr(sn.compile((w * x + b) ** 2), "w")
    2*x*(b + w*x)
    """
    p = net.program
    index = {p.names[i]: i for i in p.parameters + p.inputs}
    if wrt not in index:
        raise InputError(f"--wrt {wrt!r} is not a parameter or input of the network; "
                         f"choose one of {', '.join(index) or '(none)'}")
    if len(p.outputs) != 1:
        raise InputError(f"the network has {len(p.outputs)} outputs; put a loss on top (--loss) to get one number")
    depth = _depth(p)
    if depth > MAX_DEPTH:
        raise ExportLimitError(f"the network is {depth} ops deep, over the symbolic limit of {MAX_DEPTH}; "
                               "use 'symnet check' for its gradients as numbers")
    symbols = leaf_symbols(p)
    expr = elementary_nodes(p, symbols=symbols)[p.outputs[0]]
    d = sp.diff(expr, symbols[index[wrt]])
    if numeric:
        d = d.subs({symbols[i]: sp.Float(repr(p.nodes[i]._value), 17) for i in p.parameters})
    return d


def gradient_text(net: Network, wrt: str, *, latex: bool = False, digits: int | None = None) -> str:
    """The derivative as text (SymPy's notation) or LaTeX; with ``digits`` the
    parameters are replaced by their values, rounded to that many significant digits.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> gradient_text(sn.compile((w * x).sigmoid()), "w")
    'x*exp(-w*x)/(1 + exp(-w*x))**2'
    >>> gradient_text(sn.compile(w * x * x), "x", latex=True, digits=3)
    '1.0 x'
    """
    d = gradient_expr(net, wrt, numeric=digits is not None)
    if digits is not None:
        d = d.evalf(max(digits, 1))
    text = sp.latex(d) if latex else sp.sstr(d, order="none")
    if len(text) > MAX_CHARS:
        raise ExportLimitError(f"the derivative is longer than {MAX_CHARS} characters; "
                               "use 'symnet check' for its values")
    return text
