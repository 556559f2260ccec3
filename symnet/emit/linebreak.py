r"""Line breaking of long LaTeX equations: a width estimate and breaks that keep the
formula readable.

An equation wider than the page is broken the way a textbook breaks it: first
before a top-level ``+`` or ``-``, then between the factors of a product (at a
juxtaposition or ``\cdot``), and only if a single factor is still too wide,
inside its parentheses, outermost first. A parenthesis opened on one line and
closed on another becomes ``\left( ... \right.`` and ``\left. ... \right)``,
the usual TeX idiom, so each line is balanced on its own (amsmath's ``aligned``
and ``align*`` typeset each line as one box). Braces (``\frac`` arguments,
scripts) and plain brackets (indicators) are never broken; a fraction too wide
for a line is written as a slashed quotient so that its parts can be broken.
Lines are filled greedily, so the result is deterministic.

Widths are estimates in characters of an italic letter (scripts 0.6, a
fraction as wide as its wider part); :data:`symnet.report.WIDTH` says how many
fit on a page.

>>> wrap(r"a b + c d", 5, rest=0)
['a b', '+ c d']
>>> wrap(r"x \left(a + b\right) \left(c + d\right)", 10, rest=0)
['x \\left(a + b\\right)', '\\left(c + d\\right)']
>>> wrap(r"\left(a + b + c + d\right)", 8, rest=0)
['\\left(a + b + c \\right.', '\\left. + d\\right)']
"""

from __future__ import annotations

import re

from ..ops import OPS

__all__ = ["visible_width", "wrap"]

_TOKEN = re.compile(r"\\left[(\[.]|\\right[)\].]|\\[A-Za-z]+|[{}]|\s[+-]\s|\s\\(?:cdot|times)\s|.", re.S)
_OPEN = (r"\left(", r"\left[", r"\left.")
_CLOSE = (r"\right)", r"\right]", r"\right.")
_WORDS = frozenset((r"\sin", r"\cos", r"\max", r"\min", r"\ln"))
_SILENT = frozenset((r"\left", r"\right", r"\operatorname", r"\mathit", r"\mathrm", r"\hat",
                     r"\bar", r"\tilde", r"\dot", r"\vec", r"\displaystyle", r"\left.", r"\right.", r"\frac"))
_RELATIONS = frozenset(("=", "<", ">", ",", r"\le", r"\ge", r"\leq", r"\geq", r"\neq", r"\in", r"\quad"))
#: Deepest parenthesis level a line is broken inside.
MAX_DEPTH = 8
#: A line ends at the best place to break among those that fill at least this share of it.
MIN_FILL = 0.25


def _op_words() -> set[str]:
    """The LaTeX symbols op rows mark as words (``\\log``, ``\\exp``, ``\\tanh``)."""
    return {row.latex.symbol for row in OPS.values() if row.latex.word}


def visible_width(tex: str) -> float:
    """A rough printed width of LaTeX math in characters (scripts count 0.6, commands 1,
    a ``\\frac`` the wider of its two parts).

    >>> visible_width(r"w^{(1)}_{2,1} x_{1}")
    6.2
    >>> visible_width(r"\\frac{\\partial L}{\\partial w_{1}}")
    2.6
    """
    matrices = 0.0
    for m in _MATRIX.finditer(tex):
        matrices += _matrix_width(m.group(2), m.group(1) == "smallmatrix")
    tex = _MATRIX.sub(" ", tex)
    words = _WORDS | _op_words()
    # one frame per open brace group: [width so far, weight, role]; role "num"/"den" for \frac's parts
    frames: list[list] = [[0.0, 1.0, None]]
    script, frac = 1.0, 0
    for tok in _TOKEN.findall(tex):
        top = frames[-1]
        if tok in ("^", "_"):
            script = 0.6
            continue
        w = top[1] * script
        script = 1.0
        if tok == r"\frac":
            frac = 2
        elif tok == "{":
            role = ("num" if frac == 2 else "den") if frac else None
            frac = max(frac - 1, 0)
            frames.append([0.0, w, role])
        elif tok == "}":
            if len(frames) == 1:
                continue
            done = frames.pop()
            if done[2] == "num":
                frames[-1].append(done[0])  # kept until the denominator closes
            elif done[2] == "den":
                num = frames[-1].pop() if len(frames[-1]) > 3 else 0.0
                frames[-1][0] += max(num, done[0])
            else:
                frames[-1][0] += done[0]
        elif tok in _SILENT or tok.isspace():
            pass
        elif tok == r"\quad":
            top[0] += 2.0
        elif tok in words:
            top[0] += (len(tok) - 1) * w
        elif len(tok) == 3 and tok[1] in "+-":
            top[0] += 2.0 * w
        elif tok.strip() in (r"\cdot", r"\times"):
            top[0] += w
        else:
            top[0] += w
    while len(frames) > 1:
        done = frames.pop()
        frames[-1][0] += done[0]
    return round(frames[0][0] + matrices, 2)


_MATRIX = re.compile(r"\\begin\{([bpv]?matrix|smallmatrix)\}(.*?)\\end\{\1\}", re.S)


def _matrix_width(body: str, small: bool) -> float:
    """A matrix is as wide as its widest row, with a gap between columns and its brackets;
    a ``smallmatrix`` is set in script size."""
    rows = [[visible_width(cell) for cell in row.split("&")] for row in body.split("\\\\")]
    widest = max(sum(row) + 1.5 * (len(row) - 1) for row in rows)
    return round(widest * 0.7 + 1.0 if small else widest + 1.5, 2)


def _shrink(line: str) -> str:
    """Every ``bmatrix`` of ``line`` as a bracketed ``smallmatrix`` (amsmath), for a line that
    is too wide even when broken."""
    return re.sub(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}",
                  lambda m: rf"\left[\begin{{smallmatrix}}{m.group(1)}\end{{smallmatrix}}\right]", line, flags=re.S)


# -- break candidates ---------------------------------------------------------------


def _candidates(tex: str) -> list[tuple[int, int, int]]:
    """``(offset, depth, kind)`` of every place a line may break: kind 0 before a binary
    ``+``/``-``, kind 1 between two factors (a juxtaposition or ``\\cdot``); depth counts
    the enclosing ``\\left(`` groups. Nothing inside braces, plain brackets or environments."""
    out = []
    depth, braces, brackets, envs = 0, 0, 0, 0
    toks = list(_TOKEN.finditer(tex))
    for n, m in enumerate(toks):
        tok = m.group()
        if tok in (r"\begin", r"\end"):  # never inside an environment (a matrix)
            envs += 1 if tok == r"\begin" else -1
        elif envs:
            continue
        elif tok == "{":
            braces += 1
        elif tok == "}":
            braces -= 1
        elif braces:
            continue
        elif tok in ("[", r"\left["):  # an indicator's condition stays whole
            brackets += 1
        elif tok in ("]", r"\right]"):
            brackets -= 1
        elif brackets:
            continue
        elif tok in _OPEN:
            depth += 1
        elif tok in _CLOSE:
            depth -= 1
        elif len(tok) == 3 and tok[1] in "+-" and n > 0:
            out.append((m.start(), depth, 0))
        elif tok.strip() in (r"\cdot", r"\times"):
            out.append((m.start(), depth, 1))
        elif tok == " " and 0 < n < len(toks) - 1:
            before, after = toks[n - 1].group(), toks[n + 1].group()
            if before not in _OPEN and after not in _CLOSE and not after.isspace() and \
                    before not in _RELATIONS and after not in _RELATIONS and after[:1] not in "^_)],":
                out.append((m.start(), depth, 1))  # juxtaposition: a new factor starts here
    return out


def _balanced(line: str) -> str:
    """``line`` with ``\\left.``/``\\right.`` added for the groups it opens or closes but
    does not contain both ends of."""
    unopened, opened = 0, 0
    for tok in _TOKEN.findall(line):
        if tok in _OPEN:
            opened += 1
        elif tok in _CLOSE:
            if opened:
                opened -= 1
            else:
                unopened += 1
    return r"\left. " * unopened + line + r" \right." * opened


def _unfrac(tex: str, room: float) -> str:
    """Each top-level ``\\frac{a}{b}`` wider than ``room`` as ``\\left(a\\right) / \\left(b\\right)``
    (parentheses only around a part that is not a single factor)."""
    out, i = [], 0
    for m in re.finditer(r"\\frac\{", tex):
        if m.start() < i:
            continue
        parts, j = [], m.end() - 1
        for _ in range(2):
            start, level = j, 0
            while j < len(tex):
                level += {"{": 1, "}": -1}.get(tex[j], 0)
                j += 1
                if level == 0:
                    break
            parts.append(tex[start + 1:j - 1])
        if len(parts) < 2 or visible_width(tex[m.start():j]) <= room:
            continue
        shown = [p if not _candidates(p) else rf"\left({p}\right)" for p in parts]
        out.append(tex[i:m.start()] + f"{shown[0]} / {shown[1]}")
        i = j
    return "".join(out) + tex[i:]


def wrap(rhs: str, width: int | None, first: float = 0.0, rest: float = 4.0) -> list[str]:
    """Lines of at most about ``width`` visible characters: the first has ``first``
    characters less room, the others ``rest`` less. Breaks before top-level ``+``/``-``
    first, then between factors, then inside parentheses (outermost first); each line
    is balanced with ``\\left.``/``\\right.``. A part that cannot be broken stays whole.
    """
    if width is None or visible_width(rhs) + first <= width:
        return [rhs]
    rhs = _unfrac(rhs, width - max(first, rest))
    cands = _candidates(rhs)
    rooms = (width - first, width - rest)
    active: dict[int, tuple[int, int]] = {}
    lines = [(0, len(rhs))]
    for depth in range(MAX_DEPTH + 1):
        for kind in (0, 1):
            at = [c for c, d, k in cands if d == depth and k == kind]
            wide = [ln for n, ln in enumerate(lines) if not _fits(rhs, ln, rooms[n > 0])]
            if not wide:
                return _texts(rhs, lines, rooms)
            active.update((c, (depth, kind)) for c in at if any(a < c < b for a, b in wide))
            lines = _fill(rhs, active, rooms)
    return _texts(rhs, lines, rooms)


def _texts(rhs: str, lines: list[tuple[int, int]], rooms: tuple[float, float]) -> list[str]:
    out = [_balanced(rhs[a:b].strip()) for a, b in lines]
    return [_shrink(t) if visible_width(t) > rooms[n > 0] else t for n, t in enumerate(out)]


def _fits(rhs: str, line: tuple[int, int], room: float) -> bool:
    return visible_width(_balanced(rhs[line[0]:line[1]].strip())) <= room


def _fill(rhs: str, cuts: dict[int, tuple[int, int]], rooms: tuple[float, float]) -> list[tuple[int, int]]:
    """Lines broken only at ``cuts`` (offset -> rank ``(depth, kind)``). Each line ends at
    the best-ranked cut among those where it still fits and is at least
    :data:`MIN_FILL` full (the furthest on a tie), so a term is not split from its
    sign nor a factor from its product when a better place is at hand."""
    out: list[tuple[int, int]] = []
    order = sorted(cuts)
    start = 0
    while True:
        room = rooms[bool(out)]
        if _fits(rhs, (start, len(rhs)), room):
            out.append((start, len(rhs)))
            return out
        fitting = []
        for c in order:
            if c <= start:
                continue
            if fitting and not _fits(rhs, (start, c), room):
                break
            fitting.append(c)
        if not fitting:  # nothing can be broken here: the rest stays on one line
            out.append((start, len(rhs)))
            return out
        full = [c for c in fitting if visible_width(rhs[start:c]) >= MIN_FILL * room] or fitting[-1:]
        end = min(full, key=lambda c: (cuts[c], -c))
        out.append((start, end))
        start = end
