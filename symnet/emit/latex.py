"""LaTeX emitter: a network in conventional notation, inline or one equation per neuron.

Built from symnet's own compiled graph through :mod:`symnet.emit.render` (never by
re-printing SymPy), so terms keep the order in which they were built and numbers
are rounded as asked. Names are mapped to notation from their structure alone:
``x1`` is :math:`x_{1}`, ``w1_2_1`` is :math:`w^{(1)}_{2,1}` (layer 1, unit 2,
input 1), ``yhat`` is :math:`\\hat{y}`, ``theta`` is :math:`\\theta`. Ops are
written from the ``latex`` form of their row in the op table.

>>> import symnet as sn
>>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-2.0, name="b")
>>> net = sn.compile((w * x + b).sigmoid())
>>> to_latex(net)
'\\\\sigma\\\\left(w x + b\\\\right)'
>>> to_latex(net, digits=3, times=r"\\cdot")
'\\\\sigma\\\\left(0.5 \\\\cdot x - 2\\\\right)'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..program import Program
from ..errors import ExportLimitError, InputError
from ..ops import PREC_ATOM
from ..analysis import intermediates, uses
from .notation import TIMES, aligned, latex_name, latex_style, visible_width, wrap
from .printer import layer_pieces
from .render import DEFAULT_MAX_CHARS, Piece, apply_form, check_digits, number_piece, render

#: ``layers="auto"`` keeps the inline form only up to this many characters of LaTeX.
AUTO_INLINE_CHARS = 160

__all__ = [
    "LatexOptions", "latex_name", "latex_style", "intermediates", "equations",
    "to_latex", "aligned", "wrap", "visible_width", "repr_latex", "TIMES",
]

@dataclass(frozen=True)
class LatexOptions:
    """How :func:`to_latex` writes a network (validated on construction).

    ``digits``: significant digits of printed numbers; ``symbols_only``: parameters as
    symbols (``None``: symbols unless ``digits`` is given); ``times``: one of
    :data:`TIMES`; ``layers``: ``False`` inline, ``True`` one equation per named
    intermediate, ``"auto"`` inline when short; ``width``: break equations longer
    than about this many visible characters (``None``: never).
    """

    digits: int | None = None
    symbols_only: bool | None = None
    times: str = ""
    layers: bool | str = False
    width: int | None = None
    max_chars: int = DEFAULT_MAX_CHARS

    def __post_init__(self) -> None:
        check_digits(self.digits)
        latex_style(self.times)
        if self.layers not in (False, True, "auto"):
            raise InputError(f"layers must be False, True or 'auto', got {self.layers!r}")
        if self.symbols_only not in (None, True, False):
            raise InputError(f"symbols_only must be True, False or None, got {self.symbols_only!r}")
        if self.width is not None and (isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 10):
            raise InputError(f"width must be an integer of at least 10 or None, got {self.width!r}")

    @property
    def symbols(self) -> bool:
        return self.digits is None if self.symbols_only is None else self.symbols_only


def leaf_writer(program: Program, opts: LatexOptions) -> Any:
    """The function that writes a leaf: a name, or its value when values are asked for."""

    def leaf(i: int) -> Piece:
        kind = program.kinds[i]
        if kind == "input" or (kind == "parameter" and opts.symbols) or (
                kind == "constant" and program.given[i] and opts.symbols):
            return Piece(latex_name(program.names[i]), PREC_ATOM)
        return number_piece(program.values[i], opts.digits, latex=True)

    return leaf


def equations(network: Any, opts: LatexOptions | None = None,
              named: Sequence[int] | None = None) -> list[tuple[str, str]]:
    """``(left, right)`` LaTeX of every named intermediate, in order (the layered form)."""
    opts = opts or LatexOptions()
    program: Program = network.program
    named = intermediates(program) if named is None else tuple(named)
    style = latex_style(opts.times)
    # a cross-entropy from the logits reads L = -\log(p_3) after p = softmax(z), as its gradients do
    fixed, before = layer_pieces(program, style, lambda i, name: latex_name(name), named)
    leaf = leaf_writer(program, opts)
    pieces = render(program, leaf, style, named, lambda i: latex_name(program.names[i]), opts.max_chars, fixed)
    rows = []
    for i in named:
        for row, name, args in before.get(i, ()):
            operands = [Piece(latex_name(program.names[a]), PREC_ATOM) if a in named
                        else pieces[a] or leaf(a) for a in args]
            rows.append((latex_name(name), apply_form(style.form(row), operands, None, style).text))
        if pieces[i] is not None:
            rows.append((latex_name(program.names[i]), pieces[i].text))
    return rows


def _inline(network: Any, opts: LatexOptions, max_chars: int) -> list[str]:
    program: Program = network.program
    leaf = leaf_writer(program, opts)
    pieces = render(program, leaf, latex_style(opts.times), (), None, max_chars)
    return [leaf(o).text if pieces[o] is None else pieces[o].text for o in program.outputs]


def _shared(program: Program) -> bool:
    count = uses(program)
    return any(count[i] > 1 for i in program.op_indices)


def to_latex(network: Any, *, digits: int | None = None, symbols_only: bool | None = None,
             times: str = "", layers: bool | str = False, width: int | None = None,
             equation: bool = False, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The network as LaTeX math (no ``$``): inline, or an ``aligned`` block with one
    equation per neuron (``layers=True``; ``"auto"`` picks inline for short formulas).

    ``equation=True`` puts the output's name in front of an inline formula. A vector
    output is a column ``bmatrix``. See :class:`LatexOptions` for the other options.

    >>> import symnet as sn
    >>> sn.seed(0); net = sn.compile(sn.MLP(2, [1], activation="relu"))
    >>> to_latex(net)
    'w^{(1)}_{1,1} x_{1} + w^{(1)}_{1,2} x_{2} + b^{(1)}_{1}'
    >>> print(to_latex(sn.compile(sn.MLP(1, [1, 1])), layers=True))
    \\begin{aligned}
    z^{(1)}_{1} &= w^{(1)}_{1,1} x_{1} + b^{(1)}_{1} \\\\
    h^{(1)}_{1} &= \\operatorname{ReLU}\\left(z^{(1)}_{1}\\right) \\\\
    \\hat{y} &= w^{(2)}_{1,1} h^{(1)}_{1} + b^{(2)}_{1}
    \\end{aligned}
    """
    opts = LatexOptions(digits, symbols_only, times, layers, width, max_chars)
    program: Program = network.program
    layered = opts.layers is True
    if opts.layers == "auto":
        layered = _shared(program)
        if not layered:
            try:
                layered = sum(map(len, _inline(network, opts, AUTO_INLINE_CHARS))) > AUTO_INLINE_CHARS
            except ExportLimitError:
                layered = True
    if layered:
        return aligned(equations(network, opts), opts.width)
    exprs = _inline(network, opts, opts.max_chars)
    if len(exprs) == 1 and not program.vector:
        if equation:
            return aligned([(latex_name(program.names[program.outputs[0]] or "yhat"), exprs[0])], opts.width, env=None)
        return exprs[0]
    return r"\begin{bmatrix} " + r" \\ ".join(exprs) + r" \end{bmatrix}"


def repr_latex(network: Any, limit: int = 20_000) -> str | None:
    """What Jupyter shows: the formula in display math, or ``None`` (plain repr) when
    it cannot be written or is longer than ``limit`` characters."""
    from ..errors import SymnetError

    try:
        body = to_latex(network, layers="auto", equation=True, max_chars=limit)
    except SymnetError:
        return None
    if len(body) > limit:
        return None
    return f"$$ {body} $$" if body.startswith(r"\begin") else f"$\\displaystyle {body}$"
