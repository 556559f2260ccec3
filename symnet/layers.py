"""Macros: Linear (one neuron), Dense (a layer of them) and MLP, and how to write your own.

A macro is a node that stands for a small graph of elementary ops and is
expanded when the network is compiled. To define one, subclass
:class:`~symnet.graph.Macro` and implement ``expand()``::

    class Square(sn.Macro):
        def expand(self):
            (x,) = self.children
            return x * x

The parameters a macro makes get structured names, the layer first, as an MLP
names them: the weight of unit ``j`` of layer ``l`` from input ``i`` is ``wl_j_i``
(LaTeX :math:`w^{(l)}_{j,i}`, entry ``W{l}[j-1, i-1]`` of :meth:`Network.layer_parameters`)
and its bias ``bl_j`` (:math:`b^{(l)}_{j}`); a superscript always means the layer. A
:func:`Dense` or a :class:`Linear` given a unit but no layer takes the layer after the
deepest layer among its inputs (1 over plain inputs). The nodes a macro builds carry an
:class:`~symnet.graph.Origin`, so that printers can name intermediates (``z1_2``,
``h1_2``) and the batched backend can see layers.

>>> import symnet as sn
>>> x1, x2 = sn.Input("x1"), sn.Input("x2")
>>> hidden = sn.Dense([x1, x2], 2, "tanh")
>>> [p.name for p in sn.compile(sn.Softmax(sn.Dense(hidden, 3))).parameters][-3:]
['w2_3_1', 'w2_3_2', 'b2_3']
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence

from .errors import GraphError, shown
from .graph import Input, Macro, Node, Origin, Output, Parameter
from .ops import OPS, get_op
from .provenance import neuron_depths

__all__ = ["Linear", "Dense", "MLP", "activate"]


class Linear(Macro):
    """One neuron without activation: ``sum_i w_i * x_i + b``, with ``len(inputs) + 1``
    parameters; the sum is one n-ary add.

    >>> import symnet as sn
    >>> x1, x2 = sn.Input("x1", 1.0), sn.Input("x2", 2.0)
    >>> z = sn.Linear([x1, x2], weights=[0.5, -1.0], bias=0.25)
    >>> z.forward(), [p.name for p in z.parameters]
    (-1.25, ['w1', 'w2', 'b'])

    ``weights`` and ``bias`` may also be the user's own Parameter nodes, which keep their names:

    >>> w, b = sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b0")
    >>> [p.name for p in sn.Linear([x1], weights=[w], bias=b).parameters]
    ['w', 'b0']

    ``bias=False`` leaves the bias out (``sum_i w_i * x_i``, as PyTorch's
    ``nn.Linear(..., bias=False)``); such a layer has no matrix form
    (:meth:`symnet.Network.latex` with ``form="matrix"`` falls back to scalars):

    >>> z = sn.Linear([x1, x2], weights=[0.5, -1.0], bias=False)
    >>> z.forward(), [p.name for p in z.parameters]
    (-1.5, ['w1', 'w2'])
    """

    __slots__ = ("weights", "bias", "layer", "unit")

    def __init__(self, inputs: Sequence[Any], *, layer: int | None = None, unit: int | None = None,
                 weights: Sequence[float | Parameter] | None = None,
                 bias: float | Parameter | bool | None = None,
                 rng: random.Random | None = None, name: str | None = None) -> None:
        super().__init__(inputs, name=name)
        if not self.children:
            raise GraphError("Linear needs at least one input")
        n = len(self.children)
        if weights is not None and len(weights) != n:
            raise GraphError(f"Linear: {len(weights)} weight(s) for {n} input(s)")
        if unit is not None and layer is None:
            layer = next_layer(self.children)
        self.layer, self.unit = layer, unit
        stem = "".join(f"{k}_" for k in (layer, unit) if k is not None)
        self.weights = [_parameter(None if weights is None else weights[i], f"w{stem}{i + 1}", rng) for i in range(n)]
        if bias is True:
            bias = None  # a bias, initialised like the weights
        self.bias = None if bias is False else _parameter(bias, f"b{stem[:-1]}" if stem else "b", rng)

    @property
    def parameters(self) -> list[Parameter]:
        return [*self.weights] if self.bias is None else [*self.weights, self.bias]

    def expand(self) -> Node:
        products = [Node.apply("mul", (w, x)) for w, x in zip(self.weights, self.children)]
        for p in products:
            p.origin = Origin("product", self.layer, self.unit)
        terms = products if self.bias is None else (*products, self.bias)
        z = Node.apply("add", tuple(terms), name=self._name)
        z.origin = Origin("sum", self.layer, self.unit)
        return z


def _parameter(value: Any, hint: str, rng: random.Random | None) -> Parameter:
    """The user's own Parameter as it is (its name kept), or a new one named by ``hint``."""
    if isinstance(value, Parameter):
        return value
    p = Parameter(value, rng=rng)
    p.hint = hint
    return p


def next_layer(inputs: Sequence[Any]) -> int:
    """The layer number of a layer over ``inputs``: one more than the deepest neuron among
    them or below them, whether a macro made it or it was built by hand (an activation over a
    weighted sum, :func:`symnet.provenance.neurons`); 1 over plain inputs.

    >>> import symnet as sn
    >>> x1, x2 = sn.Input("x1"), sn.Input("x2")
    >>> h = (sn.Parameter(0.5, name="w") * x1 + sn.Parameter(0.1, name="b")).tanh()  # a neuron by hand
    >>> next_layer([h, x2]), [p.name for p in sn.Linear([h, x2], unit=1).parameters]
    (2, ['w2_1_1', 'w2_1_2', 'b2_1'])
    """
    marked = [o.layer for x in inputs if (o := getattr(x, "origin", None)) is not None and o.layer is not None
              and o.role in ("sum", "activation")]
    order: list[Node] = []  # the nodes below the inputs, macros expanded, children first (iterative)
    index: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(_expanded(x), False) for x in inputs if isinstance(x, Node)]
    while stack:
        node, done = stack.pop()
        if id(node) in index:
            continue
        if done:
            index[id(node)] = len(order)
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in map(_expanded, node.children) if id(c) not in index)
    ops = [OPS.get(n.op) if n.kind == "op" and isinstance(n.op, str) else None for n in order]
    args = [tuple(index[id(_expanded(c))] for c in n.children) for n in order]
    below = neuron_depths([n.kind for n in order], ops, args, [getattr(n, "origin", None) for n in order])
    built = [below[index[id(_expanded(x))]] for x in inputs if isinstance(x, Node)]
    return 1 + max(marked + built, default=0)


def _expanded(node: Node) -> Node:
    """The elementary node a macro stands for (its expansion, which carries the layer marks)."""
    while node.kind == "macro":
        node = node.expansion()
    return node


def activate(z: Node, activation: str | Callable[[Node], Node] | None, where: str = "activation") -> Node:
    """Apply an activation given by op name (``"relu"``, ``"sigmoid"``, ``"tanh"``, any
    one-input op), by a callable, or ``None`` for none."""
    if activation is None or activation in ("linear", "identity"):
        return z
    if callable(activation):
        out = activation(z)
        if not isinstance(out, Node):
            raise GraphError(f"{where}: the activation callable must return a node")
        return out
    row = get_op(activation, where) if isinstance(activation, str) else None
    if row is None or row.arity != 1:
        raise GraphError(f"{where}: {shown(activation)} is not a one-input op")
    return Node.apply(activation, (z,))


def Dense(inputs: Sequence[Any], units: int, activation: str | Callable[[Node], Node] | None = None, *,
          layer: int | None = None, rng: random.Random | None = None) -> list[Node]:
    """A layer of ``units`` neurons over the same inputs; returns the list of their outputs.

    ``layer`` numbers the layer in the parameter names (``w{layer}_{unit}_{input}``,
    ``b{layer}_{unit}``); by default the layer after the deepest one among ``inputs``.
    """
    if not isinstance(units, int) or isinstance(units, bool) or units < 1:
        raise GraphError(f"Dense: units must be a positive integer, got {shown(units)}")
    if layer is None:
        layer = next_layer(inputs)
    outs = []
    for j in range(1, units + 1):
        z = Linear(inputs, layer=layer, unit=j, rng=rng)
        h = activate(z, activation, f"Dense unit {j}")
        if h is not z:
            h.origin = Origin("activation", layer, j)
        outs.append(h)
    return outs


def MLP(n_inputs: int | Sequence[Node], sizes: Sequence[int], activation: str | None = "relu",
        output_activation: str | None = None, *, rng: random.Random | None = None) -> Node:
    """A multi-layer perceptron on inputs ``x1 .. xn`` (or the given Input nodes).

    Hidden layers use ``activation``, the name of any one-input op (``"relu"``,
    ``"tanh"``, ``"leaky_relu"``, ``"gelu"``, ``"silu"``, ...) or a callable (``lambda z:
    z.leaky_relu(0.1)``); the last layer uses ``output_activation``, which may also be a
    row flagged ``layerwise`` (``"softmax"`` makes a probability vector, ``"log_softmax"``
    its logarithm). One output unit gives a node,
    several give an :class:`Output`.

    >>> import symnet as sn
    >>> len(sn.compile(sn.MLP(2, [16, 16, 1])).parameters)
    337
    """
    if isinstance(n_inputs, int) and not isinstance(n_inputs, bool):
        if n_inputs < 1:
            raise GraphError(f"MLP: n_inputs must be positive, got {n_inputs}")
        xs: list[Node] = [Input(f"x{i}") for i in range(1, n_inputs + 1)]
    elif isinstance(n_inputs, (list, tuple)):
        xs = list(n_inputs)
    else:
        raise GraphError(f"MLP: n_inputs must be a positive integer or a list of Input nodes, "
                         f"got {type(n_inputs).__name__}")
    if not isinstance(sizes, (list, tuple)):
        raise GraphError(f"MLP: sizes must be a list of layer sizes, got {type(sizes).__name__}")
    sizes = list(sizes)
    if not sizes:
        raise GraphError("MLP: sizes must list at least one layer")
    layer_in: list[Node] = xs
    for depth, units in enumerate(sizes, start=1):
        last = depth == len(sizes)
        act = output_activation if last else activation
        row = get_op(act, f"MLP layer {depth}") if isinstance(act, str) and act not in ("linear", "identity") else None
        if last and row is not None and row.layerwise:  # softmax: one op over the whole layer
            zs = Dense(layer_in, units, None, layer=depth, rng=rng)
            outs = []
            for k in range(units):
                p = Node.apply(row.name, zs, attr=k)
                p.origin = Origin("output", None, k + 1)
                outs.append(p)
            return Output(outs)
        layer_in = Dense(layer_in, units, act, layer=depth, rng=rng)
    return layer_in[0] if len(layer_in) == 1 else Output(layer_in)
