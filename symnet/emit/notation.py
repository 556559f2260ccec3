r"""LaTeX notation shared by every LaTeX output: names (``w1_2_1`` as
:math:`w^{(1)}_{2,1}`), the multiplication sign, the style the renderer writes ops
in, and the layout of long equations (``aligned`` rows that wrap at a width).

Emitters, worked examples and reports import these; no emitter imports another.

>>> latex_name("w1_2_1"), latex_name("yhat"), latex_name("lambda_1")
('w^{(1)}_{2,1}', '\\hat{y}', '\\lambda_{1}')
"""

from __future__ import annotations

import re
from typing import Sequence

from ..errors import InputError
from ..ops import PREC_MUL
from .linebreak import visible_width, wrap
from .render import Style

__all__ = ["TIMES", "ACCENTS", "latex_name", "latex_style", "visible_width", "wrap", "aligned"]

#: The multiplication signs ``times=`` accepts: juxtaposition, a centred dot, a cross.
TIMES = ("", r"\cdot", r"\times")


#: Greek letter names written as the letter. Not ``delta``, ``eta`` and ``sigma``: symnet's own
#: notation uses those letters (the adjoints delta = dL/dz, the learning rate eta, the sigmoid
#: sigma), so a user's node of that name is written as a word, never as the same letter.
_GREEK = frozenset((
    "alpha beta gamma epsilon varepsilon zeta theta vartheta iota kappa mu nu xi "
    "lambda pi rho varrho varsigma tau upsilon phi varphi chi psi omega "
    "Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega").split())
#: Name suffixes written as accents (``yhat`` is :math:`\\hat{y}`), and their LaTeX commands.
ACCENTS = (("hat", r"\hat"), ("bar", r"\bar"), ("tilde", r"\tilde"), ("dot", r"\dot"), ("vec", r"\vec"))
_INDEXED = re.compile(r"([A-Za-z]+?)_?([0-9]+(?:_[0-9]+)*)\Z")


def _stem(stem: str) -> str:
    if stem in _GREEK:
        return "\\" + stem
    if len(stem) == 1:
        return stem
    for suffix, accent in ACCENTS:
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

    The letters symnet's notation uses (delta, eta, sigma) stay words in a user's name:

    >>> latex_name("delta"), latex_name("sigma_2")
    ('\\\\mathit{delta}', '\\\\mathit{sigma}_{2}')
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


# -- line layout (the breaking itself is symnet.emit.linebreak's) ----------------------------


def aligned(rows: Sequence[tuple[str, str]], width: int | None = None, env: str | None = "aligned") -> str:
    """Equations ``left = right`` as LaTeX lines, aligned at ``=`` inside ``env``
    (``None``: one bare ``left = right``); long right sides are broken into lines
    (:func:`symnet.emit.linebreak.wrap`), continued after a ``\\quad`` under the
    right sides, whose room is what the widest left side leaves."""
    if env is None:
        (left, right), = rows
        return f"{left} = {right}"
    lines = []
    column = max(visible_width(left) for left, _ in rows) if rows else 0.0
    for left, right in rows:
        parts = wrap(right, width, column + 2, column + 4)
        lines.append(f"{left} &= {parts[0]}")
        lines.extend(rf"&\quad {p}" for p in parts[1:])
    return f"\\begin{{{env}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"
