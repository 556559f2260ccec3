"""Gradients in closed form by the chain rule over named intermediates (backprop with deltas).

The network is cut into blocks at its named intermediates (the nodes of the
layered form, :func:`symnet.analysis.intermediates`). Within a block, each op's
local derivatives are SymPy's derivatives of the op's display form (the model's own
functions by name, :func:`symnet.emit.sympy.display`); a row that states its
derivative through its own output (``output_derivative``: sigmoid ``y (1 - y)``,
tanh ``1 - y^2``) is written that way. Between blocks the adjoints are chained as
in backpropagation: the adjoint of a neuron's sum is
:math:`\\delta^{(l)}_{j} = \\partial L / \\partial z^{(l)}_{j}`. Every derivative is
then put in a textbook's shape (:func:`textbook`), which cancels what a loss and
the activation below it multiply in and divide out (sigmoid with BCE:
:math:`\\hat{y} - y`). Nothing is parsed from strings and nothing recurses over the
graph's depth. Printing goes through the one printer (:mod:`symnet.emit.printer`).

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

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sympy as sp

from ..program import Program
from ..errors import ExportLimitError, InputError
from ..graph import Node
from ..ops import PREC_ATOM
from ..analysis import intermediates, owners
from ..budgets import MAX_BLOCK_DEPTH, MAX_SIZE, check_block_depth, check_inline_size
from .notation import aligned, latex_name, latex_style
from .printer import ExprPrinter, latex_printer
from ..ops import PREC_MUL
from .render import TEXT, Piece, Style, check_digits, number_piece, render
from .forms import constant as exact_constant
from .forms import display, leaf_symbols, local_partial
from .textbook import round_numbers, substitute, textbook
from .vectors import Layer, find_layers, layer_rows, symbol_values

__all__ = ["Chain", "chain", "resolve_wrt", "gradient_rows", "gradient_latex", "gradient_sympy",
           "numeric_locals", "printer", "chain_printer", "backward_order", "adjoint_latex", "adjoint_rhs",
           "textbook", "local_partial", "Layer", "forward_definitions", "layer_rows", "symbol_values"]

#: A user's name that reads as the adjoints' delta (then they are written as dL/dz instead).
_DELTA = re.compile(r"delta(\d+(_\d+)*)?")

#: A block (the ops between two named intermediates) larger than this is refused.
MAX_BLOCK_OPS = 400

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
    exprs: list[Any] = field(default_factory=list, repr=False)
    layers: list[Layer] = field(default_factory=list)
    _tidy: dict[tuple[int, int], Any] = field(default_factory=dict, repr=False)
    _terms: dict[int, list[tuple[int, Any]]] = field(default_factory=dict, repr=False)
    #: a node the user named delta (delta1, delta_2, ...): the adjoints are not written as deltas
    user_delta: bool = False

    def terms(self, v: int) -> list[tuple[int, Any]]:
        """The chain rule for node ``v``: ``(u, du/dv)`` over the live named ``u`` using it,
        the adjoint of ``v`` being the sum of ``du/dv`` times the adjoint of ``u``.

        A consumer ``u`` whose own adjoint is a closed expression (its only live consumer
        is the output) is multiplied in when the product is shorter than the two apart
        (sigmoid with BCE: :math:`\\delta = \\hat{y} - y` instead of
        :math:`\\hat{y}(1 - \\hat{y})\\,\\partial L/\\partial \\hat{y}`); such a term has
        ``u`` = the output, and ``u``'s own row is left out when every use is fused
        (:meth:`hidden`).
        """
        if v in self._terms:
            return self._terms[v]
        out = []
        for u in sorted(self.consumers.get(v, [])):
            if u not in self.live:
                continue
            local = self.local(u, v)
            ups = [w for w in self.consumers.get(u, []) if w in self.live]
            if u != self.output and ups == [self.output]:
                above = self.local(self.output, u)
                fused = textbook(local * above)
                if sp.count_ops(fused) < sp.count_ops(local) + sp.count_ops(above):
                    out.append((self.output, fused))
                    continue
            out.append((u, local))
        self._terms[v] = out
        return out

    def hidden(self, u: int) -> bool:
        """Whether every use of ``u``'s adjoint was fused into the node below (see :meth:`terms`)."""
        below = [v for v, users in self.consumers.items() if u in users]
        return bool(below) and all(all(w != u for w, _ in self.terms(v)) for v in below)

    def local(self, u: int, v: int) -> Any:
        """du/dv, as a textbook writes it (:func:`textbook`)."""
        key = (u, v)
        if key not in self._tidy:
            self._tidy[key] = textbook(sp.Add(*[d for w, d in self.locals[u] if w == v]))
        return self._tidy[key]


def chain(network: Any, *, output: int | None = None, exact: bool = True,
          max_block_depth: int = MAX_BLOCK_DEPTH) -> Chain:
    """Build the :class:`Chain` of ``network`` for output number ``output``.

    ``exact``: constants as exact SymPy numbers (else floats, for printing).
    """
    program: Program = getattr(network, "program", network)
    outs = program.outputs
    if output is None:
        if len(outs) > 1:
            raise InputError(f"this network has {len(outs)} outputs: pass output=k")
        output = 0
    if isinstance(output, bool) or not isinstance(output, int) or not 0 <= output < len(outs):
        raise InputError(f"output index {output!r} out of range (0..{len(outs) - 1})")
    named = intermediates(program)
    check_block_depth(program, max_block_depth, named=named)  # SymPy recurses once per nested op
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
        exprs[i] = display(row, tuple(_ref(a, symbols, exprs) for a in program.args[i]), program.attrs[i])
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
    layers, by_name = find_layers(program, named, symbols, exprs, locals_)
    forward = [(u, exprs[u] if by_name.get(exprs[u]) is symbols[u] else exprs[u].xreplace(by_name))
               for u in named]
    for u in named:
        locals_[u] = [(v, d.xreplace(by_name)) for v, d in locals_[u]]
    user_delta = any(given and name is not None and _DELTA.fullmatch(name)
                     for name, given in zip(program.names, program.given))
    return Chain(program, out_index, named, symbols, forward, locals_, consumers, live, exprs, layers,
                 user_delta=user_delta)


def _ref(a: int, symbols: dict[int, Any], exprs: list[Any]) -> Any:
    return symbols[a] if a in symbols else exprs[a]


def resolve_wrt(network: Any, wrt: Any) -> list[int]:
    """Indices of the inputs/parameters named by ``wrt`` (a name, a node, a list; ``None``:
    every parameter)."""
    program: Program = getattr(network, "program", network)
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


# -- printing ---------------------------------------------------------------------


#: The LaTeX printer of gradients (:func:`symnet.emit.printer.latex_printer`).
printer = latex_printer


def _program(network: Any) -> Program:
    return network if isinstance(network, Program) else network.program


def _values(program: Program, digits: int | None) -> dict[Any, Any]:
    """Parameter symbol -> its value, when ``digits`` asks for values."""
    if digits is None:
        return {}
    return {sp.Symbol(program.names[i], real=True): sp.Float(program.values[i], 17) for i in program.parameters}


def known_pieces(program: Program, style: Style, digits: int | None, named: tuple[int, ...] = (),
                 values: dict[Any, Any] | None = None, substitute: bool = True) -> dict[Any, Piece]:
    """Every op node of ``program`` written by the program's renderer, keyed by its display
    SymPy expression (over the leaves and the ``named`` nodes' symbols): what makes a
    sub-expression of a gradient, and a named node's definition, print exactly as the
    network's formula prints it. With ``digits``, parameters print as their values rounded
    to ``digits`` unless ``substitute`` is False (a worked example's definitions)."""
    latex = style.latex
    values = values or {}
    name = (lambda i: latex_name(program.names[i])) if latex else (lambda i: program.names[i])
    symbols: dict[int, Any] = dict(leaf_symbols(program))
    for u in named:
        symbols[u] = sp.Symbol(program.names[u], real=True)

    def leaf(i: int) -> Piece:
        kind = program.kinds[i]
        if kind == "input" or (kind == "parameter" and (digits is None or not substitute)):
            return Piece(name(i), PREC_ATOM)
        return number_piece(program.values[i], digits, latex)

    pieces = render(program, leaf, style, named, name)
    exprs: list[Any] = [None] * len(program.nodes)
    out: dict[Any, Piece] = {}
    for i, op in enumerate(program.ops):
        if op is None:
            s = symbols.get(i)
            exprs[i] = s.xreplace(values) if s is not None else sp.Float(program.values[i])
            continue
        expr = display(op, tuple(symbols[a] if a in named else exprs[a] for a in program.args[i]),
                       program.attrs[i])
        exprs[i] = expr
        if not expr.is_Atom and pieces[i] is not None:
            out.setdefault(expr, pieces[i])
    return out


def chain_printer(ch: Chain, times: str = "", digits: int | None = None, substitute: bool = True) -> ExprPrinter:
    """The LaTeX printer of a chain's gradients: named symbols in notation, network nodes
    as the network's formula writes them (parameters as their values with ``digits``, unless
    ``substitute`` is False)."""
    program = ch.program
    names = {s: latex_name(program.names[i]) for i, s in ch.symbols.items()}
    names.update({s: latex_name(s.name) for layer in ch.layers for s in layer.symbols})
    return printer(names, times, digits, known_pieces(program, latex_style(times), digits, ch.named,
                                                      substitute=substitute))


def inline_text(network: Any, wrt: str, *, latex: bool = False, digits: int | None = None,
                output: int | None = None, times: str = "", max_block_depth: int = MAX_BLOCK_DEPTH) -> str:
    """d output / d ``wrt`` in the inputs and parameters, written as text or LaTeX by the
    one printer; ``digits``: parameters as their values, every number rounded."""
    check_digits(digits)
    program = _program(network)
    style = latex_style(times) if latex else TEXT
    values = _values(program, digits)
    name = (lambda s: latex_name(s.name)) if latex else None
    expr = substitute(gradient_sympy(network, wrt, output=output, exact=False,
                                     max_block_depth=max_block_depth), values)
    known = known_pieces(program, style, digits, (), values)
    return ExprPrinter(style, name, digits, known).doprint(textbook(expr) if values else expr)


def adjoint_latex(ch: Chain, i: int) -> str:
    """The name of the output's derivative with respect to node ``i``: ``\\delta^{(l)}_{j}``
    for a neuron's sum, else ``\\frac{\\partial L}{\\partial v}``."""
    program = ch.program
    name = latex_name(program.names[i])
    origin = program.origins[i]
    if (origin is not None and origin.role == "sum" and name.startswith("z") and name[1:2] in ("", "^", "_")
            and not ch.user_delta):
        return r"\delta" + name[1:]
    return rf"\frac{{\partial {latex_name(program.names[ch.output])}}}{{\partial {name}}}"


def _term(pr: ExprPrinter, local: Any, upstream: str | None, times: str) -> str:
    if upstream is None:
        return pr.doprint(local)
    if local == 1:
        return upstream
    sign = ""
    if not local.is_Add and local.could_extract_minus_sign():  # -2 x, not 1 - h^2
        sign, local = "-", -local
        if local == 1:
            return "-" + upstream
    piece = pr.piece(local)
    text = piece.text if piece.prec >= PREC_MUL else rf"\left({piece.text}\right)"
    return f"{sign}{text}{f' {times} ' if times else ' '}{upstream}"


def _sum(terms: Sequence[str]) -> str:
    out = terms[0] if terms else "0"
    for t in terms[1:]:
        out += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
    return out


def gradient_rows(network: Any, wrt: Any = None, *, output: int | None = None, times: str = "",
                  digits: int | None = None, ch: Chain | None = None,
                  max_block_depth: int = MAX_BLOCK_DEPTH, layers: bool = False) -> list[tuple[str, str]]:
    """``(left, right)`` LaTeX rows: the backprop chain (from the output down), then
    one row per input or parameter in ``wrt`` (``None``: every parameter); ``layers``:
    first the named vectors the rows read (``p = softmax(z)``, see :class:`Layer`)."""
    ch = ch or chain(network, output=output, exact=False, max_block_depth=max_block_depth)
    program = ch.program
    targets = resolve_wrt(network, wrt)
    pr = chain_printer(ch, times, digits)
    need = _needed(ch, targets)
    out_name = latex_name(program.names[ch.output])
    shown = [v for v in backward_order(ch) if v in need and not ch.hidden(v)]
    rows = layer_rows(ch, pr, shown + list(targets)) if layers else []  # p = softmax(z) where the adjoints read p
    for v in shown:
        left = adjoint_latex(ch, v)
        if left.startswith(r"\delta"):
            left += rf" = \frac{{\partial {out_name}}}{{\partial {latex_name(program.names[v])}}}"
        rows.append((left, adjoint_rhs(ch, pr, v, times)))
    for v in targets:
        left = rf"\frac{{\partial {out_name}}}{{\partial {latex_name(program.names[v])}}}"
        rows.append((left, adjoint_rhs(ch, pr, v, times)))
    return rows


def backward_order(ch: Chain) -> list[int]:
    """The live named nodes below the output, each after all its consumers: layer by
    layer from the output, unit by unit in unit order (activation before sum; the
    network's outputs ``yhat1``, ``yhat2`` are the top layer's activations) when every
    node has a layer and unit, else reverse topological order."""
    program = ch.program
    nodes = [v for v in reversed(ch.named) if v != ch.output and v in ch.live]
    layers = [o.layer for o in (program.origins[v] for v in nodes) if o is not None and o.layer is not None]
    top = max(layers, default=0)

    def key(v: int) -> tuple[int, int, int, int]:
        o = program.origins[v]
        if o is not None and o.role == "output" and o.layer is None and o.unit is not None:
            return (1, -top, o.unit, 0)  # a network's output k is the activation of unit k of the top layer
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


def adjoint_rhs(ch: Chain, pr: ExprPrinter, v: int, times: str,
                upstream: Callable[[int], str] | None = None) -> str:
    """The chain-rule sum for node ``v``: local derivative times upstream adjoint, over the
    named nodes that use ``v``; ``upstream(u)`` writes an adjoint (default: its name)."""
    terms = []
    for u, local in ch.terms(v):
        up = None if u == ch.output else (upstream or (lambda k: adjoint_latex(ch, k)))(u)
        terms.append(_term(pr, local, up, times))
    return _sum(terms)


def gradient_latex(network: Any, wrt: Any = None, *, output: int | None = None, times: str = "",
                   digits: int | None = None, width: int | None = None, env: str = "aligned",
                   form: str = "chain", max_block_depth: int = MAX_BLOCK_DEPTH) -> str:
    """The derivative of the output (the loss) with respect to ``wrt`` in closed form,
    written with the backprop intermediates (deltas), as an ``aligned`` block;
    ``form="inline"`` writes each derivative in the inputs and parameters instead.

    >>> import symnet as sn
    >>> sn.seed(0); net = sn.compile(sn.bce(sn.MLP(1, [1, 1], output_activation="sigmoid"), sn.Input("y")))
    >>> print(gradient_latex(net, "w1_1_1"))
    \\begin{aligned}
    \\delta^{(2)}_{1} = \\frac{\\partial L}{\\partial z^{(2)}_{1}} &= \\hat{y} - y \\\\
    \\frac{\\partial L}{\\partial h^{(1)}_{1}} &= w^{(2)}_{1,1} \\delta^{(2)}_{1} \\\\
    \\delta^{(1)}_{1} = \\frac{\\partial L}{\\partial z^{(1)}_{1}} &= \\mathbf{1}\\left[z^{(1)}_{1} > 0\\right] \\frac{\\partial L}{\\partial h^{(1)}_{1}} \\\\
    \\frac{\\partial L}{\\partial w^{(1)}_{1,1}} &= x_{1} \\delta^{(1)}_{1}
    \\end{aligned}
    """
    if form == "inline":
        program = getattr(network, "program", network)
        ch = chain(network, output=output, exact=False, max_block_depth=max_block_depth)
        out_name = latex_name(program.names[ch.output])
        rows = [(rf"\frac{{\partial {out_name}}}{{\partial {latex_name(program.names[v])}}}",
                 inline_text(network, program.names[v], latex=True, digits=digits, output=output, times=times,
                             max_block_depth=max_block_depth))
                for v in resolve_wrt(network, wrt)]
        return aligned(rows, width, env)
    if form not in ("chain", "scalar"):
        raise InputError(f"form must be 'inline' or 'chain', got {form!r}")
    return aligned(gradient_rows(network, wrt, output=output, times=times, digits=digits,
                                 max_block_depth=max_block_depth, layers=True), width, env)


# -- SymPy -----------------------------------------------------------------------


def _adjoint_symbol(program: Program, ch: Chain, i: int, taken: set[str]) -> Any:
    name = f"d{program.names[ch.output]}_d{program.names[i]}"
    while name in taken:
        name += "_"
    taken.add(name)
    return sp.Symbol(name, real=True)


def gradient_sympy(network: Any, wrt: Any, *, output: int | None = None, let: bool = False,
                   form: str | None = None, exact: bool = True, max_block_depth: int = MAX_BLOCK_DEPTH,
                   max_size: int = MAX_SIZE, digits: int | None = None) -> Any:
    """The derivative of the output with respect to ``wrt`` as SymPy, chained from the
    derivatives of the op rows and written as a textbook writes it (the model's own
    functions by name; see :func:`textbook` and :meth:`Chain.terms`).

    ``form="inline"`` (the default): a single ``wrt`` gives an ``Expr`` in the inputs and
    parameters, a list a dict by name. ``form="chain"`` (or ``let=True``) gives
    ``(definitions, result)`` instead: ``(Symbol, Expr)`` pairs to evaluate in order (the
    forward intermediates, then the adjoints ``dL_dz1_2`` ...) and the result over them.
    ``exact=False`` keeps constants as Floats (for printing). ``digits`` rounds every
    number of the result (and of the definitions) to that many significant digits
    (:func:`symnet.emit.textbook.round_numbers`; checked by
    :func:`symnet.emit.render.check_digits`, :class:`~symnet.errors.InputError` otherwise).

    >>> import symnet as sn
    >>> x, w, b, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b"), sn.Input("y")
    >>> g = gradient_sympy(sn.compile(sn.bce((w * x + b).sigmoid(), y)), "w")
    >>> g, g.has(sp.exp)
    (x*(-y + sigmoid(b + w*x)), False)
    """
    if form not in (None, "inline", "chain"):
        raise InputError(f"form must be 'inline' or 'chain', got {form!r}")
    check_digits(digits)
    let = let or form == "chain"
    ch = chain(network, output=output, exact=exact, max_block_depth=max_block_depth)
    if not let:  # written inline, every shared node is written out at each use
        check_inline_size(ch.program, max_size, what="the inline gradient", instead="let=True")
    program = ch.program
    targets = resolve_wrt(network, wrt)
    taken = {str(s) for s in ch.symbols.values()}
    adj_sym: dict[int, Any] = {ch.output: sp.Integer(1)}
    need = _needed(ch, targets)
    defs = forward_definitions(ch)
    for v in backward_order(ch):
        if v not in need or ch.hidden(v):
            continue
        sym = _adjoint_symbol(program, ch, v, taken)
        defs.append((sym, _adjoint_expr(ch, v, adj_sym)))
        adj_sym[v] = sym
    results = {program.names[v]: _adjoint_expr(ch, v, adj_sym) for v in targets}
    if not let:
        resolved: dict[Any, Any] = {}
        for sym, expr in defs:
            resolved[sym] = substitute(expr, resolved)
        results = {k: textbook(substitute(e, resolved)) for k, e in results.items()}
    if digits is not None:
        results = {k: round_numbers(e, digits) for k, e in results.items()}
        defs = [(sym, round_numbers(e, digits)) for sym, e in defs]
    single = not isinstance(wrt, (list, tuple))
    value = next(iter(results.values())) if single else results
    return (defs, value) if let else value


def forward_definitions(ch: Chain) -> list[tuple[Any, Any]]:
    """The forward pass as ``(Symbol, Expr)`` pairs in order: each named node, with each
    :class:`Layer` (``p_k = softmax(...)_k``) before the first node that uses it."""
    defs: list[tuple[Any, Any]] = []
    for u, e in ch.forward:
        for layer in ch.layers:
            if layer.before == u:
                defs.extend(layer.definitions())
        defs.append((ch.symbols[u], e))
    return defs


def _adjoint_expr(ch: Chain, v: int, adj_sym: dict[int, Any]) -> Any:
    if v == ch.output:  # d y / d y, also when the output is the leaf itself (the model `w`)
        return sp.Integer(1)
    total = sp.Integer(0)
    for u, local in ch.terms(v):
        total += local * adj_sym[u]
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
