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

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..program import Program
from ..errors import ExportLimitError, InputError
from ..ops import OPS, PREC_ATOM, PREC_MUL
from ..analysis import intermediates, uses
from .render import DEFAULT_MAX_CHARS, Piece, Style, check_digits, number_piece, render

__all__ = [
    "LatexOptions", "latex_name", "latex_style", "intermediates", "equations",
    "to_latex", "aligned", "wrap", "visible_width", "repr_latex", "TIMES",
]

#: The multiplication signs ``times=`` accepts: juxtaposition, a centred dot, a cross.
TIMES = ("", r"\cdot", r"\times")

#: ``layers="auto"`` keeps the inline form only up to this many characters of LaTeX.
AUTO_INLINE_CHARS = 160

_GREEK = frozenset((
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa mu nu xi "
    "lambda pi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega").split())
_ACCENTS = (("hat", r"\hat"), ("bar", r"\bar"), ("tilde", r"\tilde"), ("dot", r"\dot"), ("vec", r"\vec"))
_INDEXED = re.compile(r"([A-Za-z]+?)_?([0-9]+(?:_[0-9]+)*)\Z")


def _stem(stem: str) -> str:
    if stem in _GREEK:
        return "\\" + stem
    if len(stem) == 1:
        return stem
    for suffix, accent in _ACCENTS:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return f"{accent}{{{_stem(stem[:-len(suffix)])}}}"
    return rf"\mathit{{{stem}}}"


def latex_name(name: str) -> str:
    """Conventional notation for a symnet name, read from the name's structure.

    Trailing numbers become indices: one number a subscript, several numbers a
    parenthesised layer superscript and the rest as subscripts. Greek letter
    names become Greek letters; a ``hat``/``bar``/``tilde`` suffix an accent.

    >>> [latex_name(n) for n in ("x1", "w1_2_1", "b2_1", "yhat", "theta", "w", "alpha_3", "lr")]
    ['x_{1}', 'w^{(1)}_{2,1}', 'b^{(2)}_{1}', '\\\\hat{y}', '\\\\theta', 'w', '\\\\alpha_{3}', '\\\\mathit{lr}']
    """
    m = _INDEXED.match(name)
    if m:
        stem, nums = _stem(m.group(1)), m.group(2).split("_")
        if len(nums) == 1:
            return f"{stem}_{{{nums[0]}}}"
        return f"{stem}^{{({nums[0]})}}_{{{','.join(nums[1:])}}}"
    if name.isalpha():
        return _stem(name)
    head, _, tail = name.partition("_")
    if head.isalpha() and tail and "_" not in tail:
        sub = tail if len(tail) == 1 or tail.isdigit() else rf"\mathrm{{{tail}}}"
        return f"{_stem(head)}_{{{sub}}}"
    return r"\mathit{" + name.replace("_", r"\_") + "}"


def _power(base: str, exp: str) -> str:
    if base.startswith(r"\frac"):
        return rf"\left({base}\right)^{{{exp}}}"
    if "^" in base and not base.endswith(r"\right)"):
        return rf"\left({base}\right)^{{{exp}}}"  # a name with a superscript (the layer): no double superscript
    return f"{base}^{{{exp}}}"


def latex_style(times: str = "") -> Style:
    """The render style of LaTeX with the chosen multiplication sign (see :data:`TIMES`)."""
    if times not in TIMES:
        raise InputError(f"times must be one of {TIMES!r}, got {times!r}")
    sign = f" {times} " if times else " "
    return Style(lparen=r"\left(", rparen=r"\right)", call_open=r"\left(", call_close=r"\right)",
                 times=sign, digit_times=r" \cdot " if not times else None, power=_power,
                 negative_exponent="{exp}", form=lambda op: op.latex, minus_prec=PREC_MUL, latex=True,
                 indicator=r"\mathbf{{1}}\left[{cond}\right]")


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
    pieces = render(program, leaf_writer(program, opts), latex_style(opts.times), named,
                    lambda i: latex_name(program.names[i]), opts.max_chars)
    return [(latex_name(program.names[i]), pieces[i].text) for i in named if pieces[i] is not None]


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
    z^{(2)}_{1} &= w^{(2)}_{1,1} h^{(1)}_{1} + b^{(2)}_{1}
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


# -- line layout -----------------------------------------------------------------

_TOKEN = re.compile(r"\\left[(\[]|\\right[)\]]|\\[A-Za-z]+|[{}]|\s[+-]\s|.", re.S)


def visible_width(tex: str) -> float:
    """A rough printed width of LaTeX math in characters (scripts count 0.6, commands 1).

    >>> visible_width(r"w^{(1)}_{2,1} x_{1}")
    6.2
    """
    width = 0.0
    words = _WORDS | _op_words()
    stack: list[float] = []
    weight, script = 1.0, 1.0
    for tok in _TOKEN.findall(tex):
        if tok in ("^", "_"):
            script = 0.6
            continue
        w = weight * script
        script = 1.0
        if tok == "{":
            stack.append(weight)
            weight = w
        elif tok == "}":
            weight = stack.pop() if stack else 1.0
        elif tok in _SILENT or tok.isspace():
            pass
        elif tok == r"\quad":
            width += 2.0
        elif tok in words:
            width += (len(tok) - 1) * w
        elif len(tok) == 3 and tok[1] in "+-":
            width += 2.0 * w
        else:
            width += w
    return round(width, 2)


_WORDS = frozenset((r"\sin", r"\cos", r"\max", r"\min", r"\ln"))


def _op_words() -> set[str]:
    """The LaTeX symbols op rows mark as words (``\\log``, ``\\exp``, ``\\tanh``)."""
    return {row.latex.symbol for row in OPS.values() if row.latex.word}
_SILENT = frozenset((r"\left", r"\right", r"\operatorname", r"\mathit", r"\mathrm", r"\frac", r"\hat",
                     r"\bar", r"\tilde", r"\dot", r"\vec", r"\displaystyle"))


def _terms(rhs: str) -> list[str]:
    """Split at top-level binary plus and minus signs (each later term keeps its sign)."""
    out, depth, start = [], 0, 0
    for m in _TOKEN.finditer(rhs):
        tok = m.group()
        if tok in ("{", "[", r"\left(", r"\left["):  # never break inside a group, parentheses or an indicator
            depth += 1
        elif tok in ("}", "]", r"\right)", r"\right]"):
            depth -= 1
        elif depth == 0 and len(tok) == 3 and tok[1] in "+-" and m.start() > start:
            out.append(rhs[start:m.start()])
            start = m.start() + 1
    out.append(rhs[start:])
    return out


def wrap(rhs: str, width: int | None, first: float = 0.0) -> list[str]:
    """Lines of at most about ``width`` visible characters, broken before top-level
    ``+``/``-`` signs; the first line has ``first`` characters less room."""
    if width is None or visible_width(rhs) + first <= width:
        return [rhs]
    lines, current, room = [], "", width - first
    for term in _terms(rhs):
        if current and visible_width(current) + visible_width(term) > room:
            lines.append(current)
            current, room = term, width - 4
        else:
            current = f"{current} {term}" if current else term
    lines.append(current)
    return lines


def aligned(rows: Sequence[tuple[str, str]], width: int | None = None, env: str | None = "aligned") -> str:
    """Equations ``left = right`` as LaTeX lines, aligned at ``=`` inside ``env``
    (``None``: one bare ``left = right``); long right sides are broken into lines."""
    if env is None:
        (left, right), = rows
        return f"{left} = {right}"
    lines = []
    for left, right in rows:
        parts = wrap(right, width, visible_width(left) + 2)
        lines.append(f"{left} &= {parts[0]}")
        lines.extend(rf"&\quad {p}" for p in parts[1:])
    return f"\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"


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
