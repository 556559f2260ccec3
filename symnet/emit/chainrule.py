"""Gradients in closed form by the chain rule over named intermediates (backprop with deltas).

The network is cut into blocks at its named intermediates (the nodes of the
layered form, :func:`symnet.analysis.intermediates`). Within a block, each op's
local derivatives are SymPy's derivatives of the op row's ``sympy`` form with
respect to its argument symbols (a one-input op whose derivative is a polynomial
of its own output, such as the sigmoid's, is written that way: ``h (1 - h)``).
Between blocks the adjoints are chained as in backpropagation: the adjoint of a
neuron's sum is :math:`\\delta^{(l)}_{j} = \\partial L / \\partial z^{(l)}_{j}`.
Nothing is parsed from strings and nothing recurses over the graph's depth.

>>> import symnet as sn
>>> x, w, b, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b"), sn.Input("y")
>>> net = sn.compile(sn.mse(w * x + b, y))
>>> gradient_sympy(net, "w")
2*x*(b + w*x - y)
>>> print(gradient_latex(net, "w"))
\\begin{aligned}
\\frac{\\partial L}{\\partial \\hat{y}} &= 2 \\left(\\hat{y} - y\\right) \\\\
\\frac{\\partial L}{\\partial w} &= x \\frac{\\partial L}{\\partial \\hat{y}}
\\end{aligned}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from ..program import Program
from ..errors import ExportLimitError, InputError
from ..graph import Node
from ..ops import Op
from ..analysis import intermediates, owners
from .latex import TIMES, aligned, format_number, latex_name
from .sympy import constant as exact_constant
from .sympy import leaf_symbols

__all__ = ["Chain", "chain", "resolve_wrt", "gradient_rows", "gradient_latex", "gradient_sympy",
           "numeric_locals", "SympyLatex", "backward_order", "adjoint_latex", "adjoint_rhs"]

#: A block (the ops between two named intermediates) larger than this is refused.
MAX_BLOCK_OPS = 400

_TEMPLATES: dict[tuple[Any, ...], tuple[tuple[sp.Dummy, ...], tuple[Any, ...], Any]] = {}
_Y = sp.Dummy("y")


def _output_polynomial(row: Op, attr: Any) -> Any:
    """``P(y)`` with ``f'(a) == P(f(a))`` for a one-input op, if such a polynomial of
    degree 1 or 2 with small rational coefficients exists (found from the row's own
    forward and partials, then confirmed by SymPy), else ``None``."""
    samples = []
    for a in (-1.7, -0.9, -0.35, 0.3, 0.8, 1.6, 2.3):
        try:
            y = float(row.forward((a,), attr))
            d = float(row.partials((a,), y, attr)[0])
        except Exception:  # noqa: BLE001 -- probing a user's op outside its domain
            continue
        if math.isfinite(y) and math.isfinite(d) and all(abs(y - s[0]) > 1e-3 for s in samples):
            samples.append((y, d))
    if len(samples) < 5:
        return None
    (y0, d0), (y1, d1), (y2, d2) = samples[:3]
    # Lagrange form of the quadratic through three points, then its coefficients
    m = [[1.0, y0, y0 * y0], [1.0, y1, y1 * y1], [1.0, y2, y2 * y2]]
    try:
        coeffs = _solve3(m, [d0, d1, d2])
    except ZeroDivisionError:
        return None
    fr = [Fraction(c).limit_denominator(12) for c in coeffs]
    if any(abs(float(c) - c0) > 1e-6 for c, c0 in zip(fr, coeffs)):
        return None
    if all(abs(float(fr[0] + fr[1] * y + fr[2] * y * y) - d) > 1e-9 * (1 + abs(d)) for y, d in samples[3:]):
        return None
    if fr[1] == 0 and fr[2] == 0:
        return None
    c0, c1, c2 = (sp.Rational(c.numerator, c.denominator) for c in fr)
    poly = _Y * (c1 + c2 * _Y) if c0 == 0 else c0 + c1 * _Y + c2 * _Y ** 2
    a = sp.Dummy("a", real=True)
    try:
        f = row.sympy(sp, (a,), attr)
        if sp.simplify(poly.xreplace({_Y: f}) - sp.diff(f, a)) != 0:
            return None
    except Exception:  # noqa: BLE001 -- a user's sympy form SymPy cannot handle
        return None
    return poly


def _solve3(m: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination for a 3x3 system (raises ZeroDivisionError if singular)."""
    a = [row[:] + [r] for row, r in zip(m, rhs)]
    for col in range(3):
        piv = max(range(col, 3), key=lambda r: abs(a[r][col]))
        if abs(a[piv][col]) < 1e-12:
            raise ZeroDivisionError
        a[col], a[piv] = a[piv], a[col]
        for r in range(3):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
    return [a[r][3] / a[r][r] for r in range(3)]


def _template(row: Op, attr: Any, n: int) -> tuple[tuple[sp.Dummy, ...], tuple[Any, ...], Any]:
    key = (row, attr, n)
    t = _TEMPLATES.get(key)
    if t is None:
        syms = tuple(sp.Dummy(f"a{k}", real=True) for k in range(n))
        f = row.sympy(sp, syms, attr)
        derivs = tuple(sp.diff(f, s) for s in syms)
        poly = _output_polynomial(row, attr) if n == 1 else None
        t = _TEMPLATES[key] = (syms, derivs, poly)
    return t


def local_partial(row: Op, attr: Any, operands: Sequence[Any], output: Any, k: int) -> Any:
    """SymPy's derivative of one op with respect to operand ``k``, at the given operand
    expressions (written through the op's ``output`` when that is simpler)."""
    syms, derivs, poly = _template(row, attr, len(operands))
    if poly is not None:
        return poly.xreplace({_Y: output})
    return derivs[k].xreplace(dict(zip(syms, operands)))


@dataclass
class Chain:
    """The chain-rule structure of a network with respect to one output.

    ``named``: the intermediates; ``symbols``: a SymPy symbol for every input,
    parameter and named intermediate; ``forward``: ``(i, expr)`` the block expression
    of each named node over symbols; ``locals``: for each named ``u``, the ``(v, du/dv)``
    of every symbol ``v`` its block uses, in order; ``consumers``: for every node, the
    named ``u`` whose blocks use it; ``live``: the named nodes the output depends on.
    """

    program: Program
    output: int
    named: tuple[int, ...]
    symbols: dict[int, Any]
    forward: list[tuple[int, Any]]
    locals: dict[int, list[tuple[int, Any]]]
    consumers: dict[int, list[int]]
    live: set[int]

    def local(self, u: int, v: int) -> Any:
        return sp.Add(*[d for w, d in self.locals[u] if w == v])


def chain(network: Any, *, output: int | None = None, exact: bool = True) -> Chain:
    """Build the :class:`Chain` of ``network`` for output number ``output``.

    ``exact``: constants as exact SymPy numbers (else floats, for printing).
    """
    program: Program = network.program
    outs = program.outputs
    if output is None:
        if len(outs) > 1:
            raise InputError(f"this network has {len(outs)} outputs: pass output=k")
        output = 0
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < len(outs):
        raise InputError(f"output index {output!r} out of range (0..{len(outs) - 1})")
    named = intermediates(program)
    symbols: dict[int, Any] = dict(leaf_symbols(program))
    for u in named:
        symbols[u] = sp.Symbol(program.names[u], real=True)
    owner = owners(program, named)
    const = exact_constant if exact else (lambda v: sp.Integer(int(v)) if float(v).is_integer() else sp.Float(v))
    exprs: list[Any] = [None] * len(program.nodes)
    blocks: dict[int, list[int]] = {u: [] for u in named}
    for i in range(len(program)):
        if program.ops[i] is None:
            exprs[i] = symbols[i] if i in symbols else const(program.values[i])
            continue
        blocks[owner[i]].append(i)
        row = program.ops[i]
        exprs[i] = row.sympy(sp, tuple(_ref(a, symbols, exprs) for a in program.args[i]),
                             program.attrs[i])
    locals_: dict[int, list[tuple[int, Any]]] = {}
    consumers: dict[int, list[int]] = {}
    for u in named:
        members = blocks[u]
        if len(members) > MAX_BLOCK_OPS:
            raise ExportLimitError(f"node '{program.names[u]}' stands for {len(members)} operations; name "
                                   f"intermediates (at most {MAX_BLOCK_OPS} per block) to differentiate it")
        adj: dict[int, Any] = {u: sp.Integer(1)}
        terms: dict[int, Any] = {}
        for i in reversed(members):
            g = adj.pop(i, None)
            if g is None:
                continue
            row, args = program.ops[i], program.args[i]
            operands = [_ref(a, symbols, exprs) for a in args]
            out = symbols[i] if i == u else exprs[i]
            for k, a in enumerate(args):
                if program.kinds[a] == "constant" and a not in symbols:
                    continue
                d = g * local_partial(row, program.attrs[i], operands, out, k)
                if a in symbols:
                    terms[a] = terms.get(a, 0) + d
                else:
                    adj[a] = adj.get(a, 0) + d
        locals_[u] = [(v, d) for v, d in terms.items()]
        for v, _ in locals_[u]:
            consumers.setdefault(v, []).append(u)
    out_index = outs[output]
    live = {out_index} if out_index in locals_ else set()
    for u in reversed(named):
        if u in live:
            live.update(v for v, _ in locals_[u] if v in locals_)
    forward = [(u, exprs[u]) for u in named]
    return Chain(program, out_index, named, symbols, forward, locals_, consumers, live)


def _ref(a: int, symbols: dict[int, Any], exprs: list[Any]) -> Any:
    return symbols[a] if a in symbols else exprs[a]


def resolve_wrt(network: Any, wrt: Any) -> list[int]:
    """Indices of the inputs/parameters named by ``wrt`` (a name, a node, a list; ``None``:
    every parameter)."""
    program: Program = network.program
    if wrt is None:
        return list(program.parameters)
    items = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    leaves = {program.names[i]: i for i in program.inputs + program.parameters}
    out = []
    for item in items:
        if isinstance(item, Node):
            i = program.index(item)
            if program.ops[i] is not None or program.kinds[i] == "constant":
                raise InputError(f"{item._describe()}: gradients are taken with respect to inputs and parameters")
        elif isinstance(item, str) and item in leaves:
            i = leaves[item]
        else:
            raise InputError(f"wrt {item!r} is not an input or parameter of this network; "
                             f"choose from {', '.join(leaves)}")
        out.append(i)
    return out


# -- LaTeX ---------------------------------------------------------------------


class SympyLatex(LatexPrinter):
    """SymPy's LaTeX printer with symnet's notation: symbols by :func:`latex_name`,
    floats by :func:`format_number`, positive terms first, 0/1 cases as an indicator."""

    def __init__(self, names: dict[Any, str], times: str = "", digits: int | None = None) -> None:
        if times not in TIMES:
            raise InputError(f"times must be one of {TIMES!r}, got {times!r}")
        mul = {"": None, r"\cdot": "dot", r"\times": "times"}[times]
        super().__init__({"symbol_names": names, "mul_symbol": mul})
        self._digits = digits

    def _print_Float(self, expr: Any) -> str:
        return format_number(float(expr), self._digits)

    def _as_ordered_terms(self, expr: Any, order: Any = None) -> list[Any]:
        terms = list(super()._as_ordered_terms(expr, order=order))
        return [t for t in terms if not t.could_extract_minus_sign()] + [t for t in terms if t.could_extract_minus_sign()]

    def _print_Piecewise(self, expr: Any) -> str:
        pieces = expr.args
        if len(pieces) == 2 and pieces[0].expr == 1 and pieces[1].expr == 0 and pieces[1].cond == sp.true:
            return rf"\mathbf{{1}}\left[{self._print(pieces[0].cond)}\right]"
        return super()._print_Piecewise(expr)


def adjoint_latex(ch: Chain, i: int) -> str:
    """The name of the output's derivative with respect to node ``i``: ``\\delta^{(l)}_{j}``
    for a neuron's sum, else ``\\frac{\\partial L}{\\partial v}``."""
    program = ch.program
    name = latex_name(program.names[i])
    origin = program.origins[i]
    if origin is not None and origin.role == "sum" and name.startswith("z") and name[1:2] in ("", "^", "_"):
        return r"\delta" + name[1:]
    return rf"\frac{{\partial {latex_name(program.names[ch.output])}}}{{\partial {name}}}"


def _term(printer: SympyLatex, local: Any, upstream: str | None, times: str) -> str:
    local = sp.factor_terms(local)
    if upstream is None:
        return printer.doprint(local)
    if local == 1:
        return upstream
    sign = ""
    if local.could_extract_minus_sign():
        sign, local = "-", -local
        if local == 1:
            return "-" + upstream
    text = printer.doprint(local)
    if precedence(local) < PRECEDENCE["Mul"]:
        text = rf"\left({text}\right)"
    return f"{sign}{text}{f' {times} ' if times else ' '}{upstream}"


def _sum(terms: Sequence[str]) -> str:
    out = terms[0] if terms else "0"
    for t in terms[1:]:
        out += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
    return out


def gradient_rows(network: Any, wrt: Any = None, *, output: int | None = None, times: str = "",
                  digits: int | None = None, ch: Chain | None = None) -> list[tuple[str, str]]:
    """``(left, right)`` LaTeX rows: the backprop chain (from the output down), then
    one row per input or parameter in ``wrt`` (``None``: every parameter)."""
    ch = ch or chain(network, output=output, exact=False)
    program = ch.program
    targets = resolve_wrt(network, wrt)
    printer = SympyLatex({s: latex_name(program.names[i]) for i, s in ch.symbols.items()}, times, digits)
    need = _needed(ch, targets)
    out_name = latex_name(program.names[ch.output])
    rows = []
    for v in backward_order(ch):
        if v not in need:
            continue
        left = adjoint_latex(ch, v)
        if left.startswith(r"\delta"):
            left += rf" = \frac{{\partial {out_name}}}{{\partial {latex_name(program.names[v])}}}"
        rows.append((left, adjoint_rhs(ch, printer, v, times)))
    for v in targets:
        left = rf"\frac{{\partial {out_name}}}{{\partial {latex_name(program.names[v])}}}"
        rows.append((left, adjoint_rhs(ch, printer, v, times)))
    return rows


def backward_order(ch: Chain) -> list[int]:
    """The live named nodes below the output, each after all its consumers: layer by
    layer from the output, unit by unit (activation before sum) when every node has a
    layer and unit, else reverse topological order."""
    program = ch.program
    nodes = [v for v in reversed(ch.named) if v != ch.output and v in ch.live]

    def key(v: int) -> tuple[int, int, int, int]:
        o = program.origins[v]
        if o is None or o.layer is None or o.unit is None:
            return (0, 0, 0, 0) if o is not None and o.role in ("loss", "output") else (2, 0, 0, -v)
        return (1, -o.layer, o.unit, 0 if o.role == "activation" else 1)

    ordered = sorted(nodes, key=key)
    seen = {ch.output}
    for v in ordered:
        if any(u not in seen for u in ch.consumers.get(v, []) if u in ch.live):
            return nodes
        seen.add(v)
    return ordered


def _needed(ch: Chain, targets: Sequence[int]) -> set[int]:
    """Named nodes on a path from a target to the output."""
    need: set[int] = set()
    frontier = [u for t in targets for u in ch.consumers.get(t, []) if u in ch.live]
    while frontier:
        u = frontier.pop()
        if u in need:
            continue
        need.add(u)
        frontier.extend(w for w in ch.consumers.get(u, []) if w in ch.live)
    return need


def adjoint_rhs(ch: Chain, printer: SympyLatex, v: int, times: str,
                upstream: Callable[[int], str] | None = None) -> str:
    """The chain-rule sum for node ``v``: local derivative times upstream adjoint, over the
    named nodes that use ``v``; ``upstream(u)`` writes an adjoint (default: its name)."""
    terms = []
    for u in sorted(ch.consumers.get(v, [])):
        if u not in ch.live:
            continue
        up = None if u == ch.output else (upstream or (lambda k: adjoint_latex(ch, k)))(u)
        terms.append(_term(printer, ch.local(u, v), up, times))
    return _sum(terms)


def gradient_latex(network: Any, wrt: Any = None, *, output: int | None = None, times: str = "",
                   digits: int | None = None, width: int | None = None, env: str = "aligned") -> str:
    """The derivative of the output (the loss) with respect to ``wrt`` in closed form,
    written with the backprop intermediates (deltas), as an ``aligned`` block.

    >>> import symnet as sn
    >>> sn.seed(0); net = sn.compile(sn.bce(sn.MLP(1, [1, 1], output_activation="sigmoid"), sn.Input("y")))
    >>> print(gradient_latex(net, "w1_1_1"))
    \\begin{aligned}
    \\frac{\\partial L}{\\partial h^{(2)}_{1}} &= \\frac{1 - y}{1 - h^{(2)}_{1}} - \\frac{y}{h^{(2)}_{1}} \\\\
    \\delta^{(2)}_{1} = \\frac{\\partial L}{\\partial z^{(2)}_{1}} &= h^{(2)}_{1} \\left(1 - h^{(2)}_{1}\\right) \\frac{\\partial L}{\\partial h^{(2)}_{1}} \\\\
    \\frac{\\partial L}{\\partial h^{(1)}_{1}} &= w^{(2)}_{1,1} \\delta^{(2)}_{1} \\\\
    \\delta^{(1)}_{1} = \\frac{\\partial L}{\\partial z^{(1)}_{1}} &= \\mathbf{1}\\left[z^{(1)}_{1} > 0\\right] \\frac{\\partial L}{\\partial h^{(1)}_{1}} \\\\
    \\frac{\\partial L}{\\partial w^{(1)}_{1,1}} &= x_{1} \\delta^{(1)}_{1}
    \\end{aligned}
    """
    return aligned(gradient_rows(network, wrt, output=output, times=times, digits=digits), width, env)


# -- SymPy -----------------------------------------------------------------------


def _adjoint_symbol(program: Program, ch: Chain, i: int, taken: set[str]) -> Any:
    name = f"d{program.names[ch.output]}_d{program.names[i]}"
    while name in taken:
        name += "_"
    taken.add(name)
    return sp.Symbol(name, real=True)


def gradient_sympy(network: Any, wrt: Any, *, output: int | None = None, let: bool = False) -> Any:
    """The derivative of the output with respect to ``wrt`` as SymPy, chained from SymPy's
    derivatives of the op rows. A single ``wrt`` gives an ``Expr`` in the inputs and
    parameters; a list gives a dict by name. ``let=True`` gives ``(definitions, result)``
    instead: ``(Symbol, Expr)`` pairs to evaluate in order (the forward intermediates,
    then the adjoints ``dL_dz1_2`` ...) and the result over them.
    """
    ch = chain(network, output=output, exact=True)
    program = ch.program
    targets = resolve_wrt(network, wrt)
    taken = {str(s) for s in ch.symbols.values()}
    adj_sym: dict[int, Any] = {ch.output: sp.Integer(1)}
    need = _needed(ch, targets)
    defs: list[tuple[Any, Any]] = [(ch.symbols[u], e) for u, e in ch.forward]
    for v in backward_order(ch):
        if v not in need:
            continue
        sym = _adjoint_symbol(program, ch, v, taken)
        defs.append((sym, _adjoint_expr(ch, v, adj_sym)))
        adj_sym[v] = sym
    results = {program.names[v]: _adjoint_expr(ch, v, adj_sym) for v in targets}
    if not let:
        resolved: dict[Any, Any] = {}
        for sym, expr in defs:
            resolved[sym] = expr.xreplace(resolved)
        results = {k: sp.factor_terms(e.xreplace(resolved)) for k, e in results.items()}
    single = not isinstance(wrt, (list, tuple))
    value = next(iter(results.values())) if single else results
    return (defs, value) if let else value


def _adjoint_expr(ch: Chain, v: int, adj_sym: dict[int, Any]) -> Any:
    total = sp.Integer(0)
    for u in sorted(ch.consumers.get(v, [])):
        if u in adj_sym:
            total += ch.local(u, v) * adj_sym[u]
    return total


# -- numbers ---------------------------------------------------------------------


def numeric_locals(ch: Chain, values: Sequence[float]) -> dict[int, dict[int, float]]:
    """For each named ``u``: ``{v: du/dv}`` at ``values`` (the program's node values),
    computed with the op rows' own ``partials`` (as the engine does)."""
    program = ch.program
    owner = owners(program, ch.named)
    blocks: dict[int, list[int]] = {u: [] for u in ch.named}
    for j in program.op_indices:
        blocks[owner[j]].append(j)
    out: dict[int, dict[int, float]] = {}
    for u in ch.named:
        adj: dict[int, float] = {u: 1.0}
        terms: dict[int, float] = {}
        for i in reversed(blocks[u]):
            g = adj.pop(i, None)
            if g is None:
                continue
            xs = tuple(values[a] for a in program.args[i])
            ps = program.ops[i].partials(xs, values[i], program.attrs[i])
            for a, p in zip(program.args[i], ps):
                if a in ch.symbols:
                    terms[a] = terms.get(a, 0.0) + g * p
                elif program.ops[a] is not None:
                    adj[a] = adj.get(a, 0.0) + g * p
        out[u] = terms
    return out
