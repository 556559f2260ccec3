r"""The LaTeX of a worked example read back as plain text, as ``str(WorkedExample)`` prints it.

A worked example's steps are written once, in LaTeX, by the one printer, the op rows
and the notation (:mod:`symnet.emit.printer`, :mod:`symnet.emit.notation`; the
backward lines come from :mod:`symnet.emit.chainrule`, which writes LaTeX only).
This module turns that LaTeX into the text a textbook prints in plain type, in
fixed passes over the string (each group innermost first, by a loop, never by
recursion):

1. a ``bmatrix`` becomes nested lists ``[[a, b], [c, d]]``;
2. each op row's LaTeX function, where it is called, becomes its text name
   (``\sigma\left(z\right)`` is ``sigmoid(z)``, ``\operatorname{ReLU}`` is ``relu``), read
   from the op table (``\sigma`` alone is the Greek letter ``sigma``);
3. fonts and accents: ``\mathbb{1}[z > 0]`` is ``1[z > 0]``, ``\hat{y}`` is ``yhat``
   (the inverse of :func:`~symnet.emit.notation.latex_name`), ``\operatorname{softmax}``
   is ``softmax``;
4. the symbols of :data:`SYMBOLS` (``\cdot`` is ``*``, ``\partial`` is ``d``, ``\top``
   is ``T``, ``\leq`` is ``<=``);
5. ``\frac{a}{b}`` is ``a/b``, a part in parentheses only when it is more than one term
   (``dL/dw``, ``(1 - y)/(1 - yhat)``), then any other command by its name (``\delta``
   is ``delta``);
6. sub- and superscripts lose their braces, or keep them as parentheses when they
   hold more than one term (``sum_(k=1)^2``);
7. doubled parentheses are collapsed and spaces normalised.

>>> plain_text(r"\frac{\partial L}{\partial w^{(1)}_{1,1}} = x_{1} \delta^{(1)}_{1}")
'dL/dw^(1)_1,1 = x_1 delta^(1)_1'
>>> plain_text(r"\mathbb{1}[z^{(1)}_{1} > 0] \cdot \exp\left(\left(-0.5\right)\right)")
'1[z^(1)_1 > 0] * exp(-0.5)'
"""

from __future__ import annotations

import re

from ..ops import OPS
from .notation import ACCENTS

__all__ = ["plain_text", "SYMBOLS"]

#: LaTeX symbols of the worked examples and the notation, and their plain text (longest
#: first where one is a prefix of another).
SYMBOLS = (
    ("\\left", ""), ("\\right", ""), ("\\bigl", ""), ("\\bigr", ""), ("\\cdot", "*"), ("\\times", "*"),
    ("\\odot", "*"), ("\\top", "T"), ("\\prime", "'"), ("\\partial ", "d"), ("\\partial", "d"), ("\\nabla", "grad"),
    ("\\sum", "sum"), ("\\prod", "prod"), ("\\leq", "<="), ("\\geq", ">="), ("\\neq", "!="), ("\\in", "in"),
    ("\\ldots", "..."), ("\\dots", "..."), ("\\cdots", "..."), ("\\leftarrow", "<-"), ("\\to", "->"),
    ("\\infty", "inf"), ("\\quad", "  "), ("\\qquad", "  "), ("\\noindent", ""), ("\\_", "_"),
    ("\\,", " "), ("\\;", " "), ("\\:", " "), ("\\!", ""), ("\\ ", " "),
)
#: Commands whose one argument is shown as it is.
_FONTS = ("mathbb", "mathbf", "mathrm", "mathit", "mathsf", "mathcal", "operatorname", "text", "textbf",
          "textit", "boldsymbol", "mathnormal")
_ACCENT_NAMES = tuple(suffix for suffix, _ in ACCENTS)  # \hat{y} is yhat, as latex_name reads it
#: Commands whose one argument is a function's argument: ``\sqrt{w x}`` is ``sqrt(w x)``.
_CALLS = ("sqrt",)
_GROUP = re.compile(r"\\(" + "|".join(_FONTS + _ACCENT_NAMES + _CALLS) + r")\{")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_SCRIPT = re.compile(r"[_^]\{")


def _op_words() -> list[tuple[str, str]]:
    """Each row's LaTeX function name and its text name (``\\sigma`` -> ``sigmoid``), longest
    first, read from the op table so that a new row needs no edit here."""
    pairs = {row.latex.symbol: row.text.symbol for row in OPS.values()
             if row.latex.kind == "call" and row.text.kind == "call" and row.latex.symbol.startswith("\\")}
    return sorted(pairs.items(), key=lambda p: -len(p[0]))


def _closing(text: str, open_at: int) -> int:
    """The index of the brace closing the one at ``open_at`` (-1 if none)."""
    depth = 0
    for k in range(open_at, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _one_term(text: str, separators: str = " +*/=") -> bool:
    """True when ``text`` needs no parentheses as an operand: no sign and none of
    ``separators`` outside brackets."""
    depth = 0
    for k, c in enumerate(text):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and (c in separators or (c == "-" and k == 0)):
            return False
    return bool(text)


def _matrices(text: str) -> str:
    while "\\begin{bmatrix}" in text:  # a matrix as [[a, b], [c, d]]
        start = text.rfind("\\begin{bmatrix}")
        end = text.find("\\end{bmatrix}", start)
        if end < 0:
            break
        body = text[start + len("\\begin{bmatrix}"):end]
        rows = [", ".join(c.strip() for c in row.split("&")) for row in body.split("\\\\")]
        text = text[:start] + "[" + ", ".join(f"[{r}]" for r in rows) + "]" + text[end + len("\\end{bmatrix}"):]
    return text


def _groups(text: str) -> str:
    """Fonts shown as their content, accents as a suffix (``\\hat{y}`` is ``yhat``)."""
    while True:
        found = list(_GROUP.finditer(text))
        if not found:
            return text
        m = found[-1]  # the last opening is innermost or after every other
        end = _closing(text, m.end() - 1)
        if end < 0:
            return text
        inner = text[m.end():end]
        if m.group(1) in _ACCENT_NAMES:
            inner += m.group(1)
        elif m.group(1) in _CALLS:
            inner = f"{m.group(1)}({inner})"
        text = text[:m.start()] + inner + text[end + 1:]


def _fractions(text: str) -> str:
    while "\\frac{" in text:  # innermost first
        start = text.rfind("\\frac{")
        a_end = _closing(text, start + 5)
        b_end = _closing(text, a_end + 1) if a_end >= 0 else -1
        if b_end < 0:
            break
        num, den = text[start + 6:a_end].strip(), text[a_end + 2:b_end].strip()
        num = num if _one_term(num) else f"({num})"
        den = den if _one_term(den) else f"({den})"
        text = text[:start] + f"{num}/{den}" + text[b_end + 1:]
    return text


def _scripts(text: str) -> str:
    while True:
        m = _SCRIPT.search(text)
        if m is None:
            return text
        end = _closing(text, m.end() - 1)
        if end < 0:
            return text
        inner = text[m.end():end].strip()
        simple = _one_term(inner.removeprefix("-"), " +*/=")  # w^(1)_1,1 and e^-0.2 need none
        text = text[:m.start() + 1] + (inner if simple else f"({inner})") + text[end + 1:]


def _collapse_parentheses(text: str) -> str:
    """``((a))`` as ``(a)``: a pair that holds exactly one other pair and nothing else."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for k, c in enumerate(text):
        if c == "(":
            stack.append(k)
        elif c == ")" and stack:
            pairs[stack.pop()] = k
    drop: set[int] = set()
    for open_at, close_at in pairs.items():
        inner = pairs.get(open_at + 1)
        if inner is not None and inner == close_at - 1:
            drop.update((open_at, close_at))
    return "".join(c for k, c in enumerate(text) if k not in drop)


def plain_text(tex: str) -> str:
    """A LaTeX fragment of a worked example as readable plain text (see the module docstring)."""
    text = _matrices(tex)
    for a, b in _op_words():  # a function is called (or primed): \sigma alone is the Greek letter
        text = re.sub(re.escape(a) + r"(?=\\left\(|\(|')", lambda _m, b=b: b, text)
    text = _groups(text)
    for a, b in sorted(SYMBOLS, key=lambda p: -len(p[0])):
        text = re.sub(re.escape(a) + (r"(?![A-Za-z])" if a[-1].isalpha() else ""), lambda _m, b=b: b, text)
    text = _fractions(text)
    text = _COMMAND.sub(r"\1", text)
    text = _scripts(text)
    text = text.replace("{", "").replace("}", "").replace("\\", "")
    return " ".join(_collapse_parentheses(text).split())
