"""The outputs of a layerwise op named as a vector in the chain form of a gradient.

Softmax with cross-entropy reads, as a textbook writes it, ``p = softmax(z1, z2, z3)``,
``L = -log(p_3)`` and the deltas ``p_k - 1[k = c]``: the probabilities get a name
when the network does not name them. The names come from the op rows
(``layer_symbol``; the derivative itself is the row's ``layer_derivative``, see
:mod:`symnet.emit.forms`); nothing here names an op. Used by
:mod:`symnet.emit.chainrule`, which re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import sympy as sp

from ..program import Program
from .forms import fresh_layer_name, layer_functions
from .notation import latex_name
from .printer import ExprPrinter
from .render import apply_form

__all__ = ["Layer", "find_layers", "layer_text", "layer_rows", "symbol_values"]


@dataclass(frozen=True)
class Layer:
    """A layerwise op's outputs the network does not name, named in the chain form
    (softmax: ``p = softmax(z1, z2, z3)``, its outputs ``p_1, p_2, p_3``).

    ``row``: the op; ``name``: the vector's name (the row's ``layer_symbol``);
    ``symbols``: one per output, in order; ``operands``: the op's operands (SymPy, over
    the chain's symbols); ``before``: the named node whose definition first uses it.
    """

    row: Any
    name: str
    symbols: tuple[Any, ...]
    operands: tuple[Any, ...]
    before: int

    def definitions(self) -> list[tuple[Any, Any]]:
        """``(p_k, softmax(...)_k)`` for every output, in order."""
        fn = layer_functions()[self.row]
        return [(s, fn(sp.Integer(k), *self.operands)) for k, s in enumerate(self.symbols)]

    def values(self, env: dict[Any, float]) -> dict[Any, float]:
        """Each output's value, the operands evaluated at ``env`` (symbol -> value) and the
        op computed by its row's own ``forward`` (as the engine does)."""
        zs = tuple(float(o.xreplace(env)) for o in self.operands)
        return {s: float(self.row.forward(zs, k)) for k, s in enumerate(self.symbols)}


def find_layers(program: Program, named: tuple[int, ...], symbols: dict[int, Any], exprs: list[Any],
            locals_: dict[int, list[tuple[int, Any]]]) -> tuple[list[Layer], dict[Any, Any]]:
    """The layerwise ops' outputs in the chain's expressions, each by name: a named node's
    symbol where the network names that output (a classifier's ``yhat1``), else one
    :class:`Layer` per operand list, named by the row's ``layer_symbol`` (softmax: ``p``),
    so derivatives read ``p_k - 1``. Returns the layers and call -> symbol."""
    heads = layer_functions()
    by_name: dict[Any, Any] = {}
    for u in named:
        if type(exprs[u]) in heads.values():
            by_name.setdefault(exprs[u], symbols[u])
    taken = {program.names[i] for i in range(len(program))} | {str(s) for s in symbols.values()}
    layers: list[Layer] = []
    rows = {fn: row for row, fn in heads.items()}
    for u in named:
        calls: list[Any] = []
        for e in [exprs[u]] + [d for _, d in locals_[u]]:
            calls.extend(c for c in e.atoms(*rows) if c not in by_name)
        for call in sorted(set(calls), key=sp.default_sort_key):
            if call in by_name:
                continue
            row, operands = rows[type(call)], tuple(call.args[1:])
            name = fresh_layer_name(row.layer_symbol or row.name, len(operands), taken)
            syms = tuple(sp.Symbol(f"{name}_{k + 1}", real=True) for k in range(len(operands)))
            layer = Layer(row, name, syms, operands, u)
            layers.append(layer)
            for (_, c), s in zip(layer.definitions(), syms):
                by_name[c] = s
    return layers, by_name


def layer_text(pr: ExprPrinter, layer: Layer) -> str:
    """The right side of ``p = softmax(z1, z2, z3)``: the layer's row over its operands,
    written by ``pr`` (no output index: the whole vector)."""
    return apply_form(pr.style.form(layer.row), [pr.piece(o) for o in layer.operands], None, pr.style).text


def layer_rows(ch: Any, pr: ExprPrinter, used: Sequence[int] | None = None) -> list[tuple[str, str]]:
    r"""``(p, \operatorname{softmax}(...))`` LaTeX rows for the chain's layers; with ``used``
    only those whose outputs the adjoints of the nodes in ``used`` read."""
    rows = []
    for layer in ch.layers:
        if used is not None:
            syms = set(layer.symbols)
            if not any(syms & d.free_symbols for v in used for _, d in ch.terms(v)):
                continue
        rows.append((latex_name(layer.name), layer_text(pr, layer)))
    return rows


def symbol_values(ch: Any, vals: Sequence[float]) -> dict[Any, float]:
    """Every symbol of the chain at the program's node values ``vals``: inputs, parameters,
    named nodes and the outputs of its :class:`Layer` s."""
    env = {s: float(vals[i]) for i, s in ch.symbols.items()}
    for layer in ch.layers:
        env.update(layer.values(env))
    return env
