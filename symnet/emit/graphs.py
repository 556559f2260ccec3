"""Drawings of the computation graph: Graphviz DOT text, a Mermaid flowchart, TikZ.

Two views: ``"ops"`` shows every node (inputs, parameters, constants and each
elementary op); ``"named"`` shows only the inputs and the named intermediates
(:func:`symnet.emit.latex.intermediates`: neurons' sums and activations, the
output, the loss), which is how a neural network is usually drawn. The TikZ
drawing is placed by symnet itself (columns by longest path, rows ordered by
their predecessors), so it needs no graph-drawing library and compiles with
pdflatex. Output is deterministic.

>>> import symnet as sn
>>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
>>> print(to_mermaid(sn.compile(w * x)))
flowchart LR
  n0["w = 0.5"]
  n1["x"]
  n2(["yhat: mul"])
  n0 --> n2
  n1 --> n2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from ..program import Program
from ..errors import InputError, shown
from ..analysis import intermediates
from .notation import latex_name
from .render import format_number

__all__ = ["View", "view", "layout", "to_dot", "to_mermaid", "to_tikz", "op_symbol"]

VIEWS = ("ops", "named")


@dataclass(frozen=True)
class View:
    """The nodes (program indices, in order) and edges ``(from, to)`` of one drawing."""

    nodes: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]


def view(program: Program, level: str = "ops") -> View:
    """The nodes and edges of the ``"ops"`` or ``"named"`` view."""
    if level == "ops":
        edges = tuple((a, i) for i in program.op_indices for a in program.args[i])
        return View(tuple(range(len(program.nodes))), edges)
    if level != "named":
        raise InputError(f"level must be one of {VIEWS}, got {shown(level)}")
    named = intermediates(program)
    owner = [-1] * len(program.nodes)
    for u in named:
        owner[u] = u
    for i in reversed(program.op_indices):
        for a in program.args[i]:
            if program.ops[a] is not None and owner[a] < 0:
                owner[a] = owner[i]
    keep = set(named) | set(program.inputs)
    seen: dict[tuple[int, int], None] = {}
    for i in program.op_indices:
        for a in program.args[i]:
            if a in keep and owner[i] != a:
                seen[(a, owner[i])] = None
    return View(tuple(i for i in range(len(program.nodes)) if i in keep), tuple(seen))


def layout(v: View) -> dict[int, tuple[int, int]]:
    """``{node: (column, row)}``: columns by longest path from the sources, each source
    one column before its first consumer, rows ordered by their predecessors' rows."""
    preds: dict[int, list[int]] = {n: [] for n in v.nodes}
    succs: dict[int, list[int]] = {n: [] for n in v.nodes}
    for a, b in v.edges:
        preds[b].append(a)
        succs[a].append(b)
    col: dict[int, int] = {}
    for n in v.nodes:  # program order is topological
        col[n] = 1 + max((col[p] for p in preds[n]), default=-1)
    for n in reversed(v.nodes):
        if not preds[n] and succs[n]:
            col[n] = min(col[s] for s in succs[n]) - 1
    shift = min(col.values(), default=0)
    columns: dict[int, list[int]] = {}
    for n in v.nodes:
        columns.setdefault(col[n] - shift, []).append(n)
    pos: dict[int, tuple[int, int]] = {}
    for c in sorted(columns):
        members = columns[c]

        def key(n: int) -> tuple[float, int]:
            rows = [pos[p][1] for p in preds[n] if p in pos]
            return (sum(rows) / len(rows) if rows else float(n), n)

        if c > 0:
            members = sorted(members, key=key)
        for r, n in enumerate(members):
            pos[n] = (c, r)
    return pos


def op_symbol(program: Program, i: int) -> str:
    """A short LaTeX label of node ``i``'s op, read from its row's ``latex`` form."""
    op = program.ops[i]
    if op is None:
        return ""
    form = op.latex
    if form.kind == "power":
        return rf"(\cdot)^{{{format_number(program.attrs[i], latex=True)}}}"
    if form.kind == "template":
        return rf"\operatorname{{{op.name.replace('_', '-')}}}"
    symbol = form.symbol.replace("{times}", r"\times").strip()
    return symbol


def _value_list(network: Any, values: Any) -> list[Any]:
    program = network.program
    if values is None:
        return [v if k in ("parameter", "constant") else None for v, k in zip(program.values, program.kinds)]
    if isinstance(values, list) and len(values) == len(program.nodes):
        return values
    return network.forward_values(values)


def _plain(program: Program, i: int, vals: Sequence[Any], grads: Sequence[float] | None, digits: int) -> list[str]:
    name = program.names[i] or format_number(program.values[i], digits)
    head = f"{name}: {program.ops[i].name}" if program.ops[i] is not None else name
    if vals[i] is not None and not (program.kinds[i] == "constant" and program.names[i] is None):
        head += f" = {format_number(vals[i], digits)}"
    lines = [head]
    if grads is not None:
        lines.append(f"grad {format_number(grads[i], digits)}")
    return lines


def to_dot(network: Any, values: Any = None, *, grads: Sequence[float] | None = None, level: str = "ops",
           digits: int = 4) -> str:
    """Graphviz DOT text (no Graphviz needed to produce it): one box per leaf, one
    ellipse per op, labelled with names, values (``values``: inputs by name or list)
    and optionally gradients (``grads``: one per program node).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> print(to_dot(sn.compile(w * x), {"x": 2.0}))
    digraph symnet {
      rankdir=LR;
      node [fontname="Helvetica", fontsize=11];
      n0 [label="w = 0.5", shape=box];
      n1 [label="x = 2", shape=box];
      n2 [label="yhat: mul = 1", shape=ellipse];
      n0 -> n2;
      n1 -> n2;
    }
    """
    program: Program = network.program
    vals = _value_list(network, values)
    v = view(program, level)
    lines = ["digraph symnet {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
    for i in v.nodes:
        label = "\\n".join(_plain(program, i, vals, grads, digits))
        shape = "box" if program.ops[i] is None else "ellipse"
        lines.append(f'  n{i} [label="{label}", shape={shape}];')
    lines += [f"  n{a} -> n{b};" for a, b in v.edges]
    lines.append("}")
    return "\n".join(lines)


def to_mermaid(network: Any, values: Any = None, *, grads: Sequence[float] | None = None, level: str = "ops",
               digits: int = 4) -> str:
    """A Mermaid ``flowchart`` for Markdown: leaves as boxes, ops as rounded nodes."""
    program: Program = network.program
    vals = _value_list(network, values)
    v = view(program, level)
    lines = ["flowchart LR"]
    for i in v.nodes:
        label = "<br/>".join(_plain(program, i, vals, grads, digits))
        lines.append(f'  n{i}["{label}"]' if program.ops[i] is None else f'  n{i}(["{label}"])')
    lines += [f"  n{a} --> n{b}" for a, b in v.edges]
    return "\n".join(lines)


#: The TikZ drawing is refused beyond this many columns or rows (use the named view).
MAX_COLUMNS, MAX_ROWS = 12, 18


def to_tikz(network: Any, values: Any = None, *, grads: Sequence[float] | None = None, level: str = "ops",
            digits: int = 3, width_cm: float = 16.0) -> str:
    """A ``tikzpicture`` of the graph, laid out in columns that fit ``width_cm``; each
    node shows its name (and op), its value and, in red, its gradient.

    Raises InputError when the view has more than :data:`MAX_COLUMNS` columns or
    :data:`MAX_ROWS` rows (too large to read on a page).
    """
    program: Program = network.program
    vals = _value_list(network, values)
    v = view(program, level)
    pos = layout(v)
    ncols = 1 + max((c for c, _ in pos.values()), default=0)
    nrows = 1 + max((r for _, r in pos.values()), default=0)
    if ncols > MAX_COLUMNS or nrows > MAX_ROWS:
        raise InputError(f"the graph has {ncols} columns and {nrows} rows in the {level!r} view: too large to draw")
    col_sep = min(2.8, width_cm / max(ncols - 1, 1))
    row_sep = 1.6 if grads is not None else 1.25
    height: dict[int, int] = {}
    for c, _ in pos.values():
        height[c] = height.get(c, 0) + 1
    out = [r"\begin{tikzpicture}[>=stealth, font=\scriptsize,",
           r"  leaf/.style={draw, rectangle, fill=gray!12, align=center, inner sep=2pt},",
           r"  op/.style={draw, rounded corners=3pt, fill=blue!6, align=center, inner sep=2pt}]"]
    for i in v.nodes:
        c, r = pos[i]
        x = round(c * col_sep, 3)
        y = round(-(r - (height[c] - 1) / 2) * row_sep, 3) + 0.0
        out.append(rf"\node[{'leaf' if program.ops[i] is None else 'op'}] (n{i}) at ({x}, {y}) "
                   rf"{{{_tikz_label(program, i, vals, grads, digits, level)}}};")
    for a, b in v.edges:
        out.append(rf"\draw[->, gray!70!black] (n{a}) -- (n{b});")
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _tikz_label(program: Program, i: int, vals: Sequence[Any], grads: Sequence[float] | None, digits: int,
                level: str) -> str:
    if program.kinds[i] == "constant" and program.names[i] is None:
        return f"${format_number(program.values[i], digits, latex=True)}$"
    name = latex_name(program.names[i])
    sym = op_symbol(program, i) if level == "ops" else ""
    lines = [f"${name}\\colon {sym}$" if sym else f"${name}$"]
    if vals[i] is not None:
        lines.append(f"${format_number(vals[i], digits, latex=True)}$")
    if grads is not None:
        lines.append(rf"\textcolor{{red!70!black}}{{${format_number(grads[i], digits, latex=True)}$}}")
    return r"\\".join(lines)
