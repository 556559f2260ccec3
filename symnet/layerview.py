"""The layer view: the layers of a compiled network, derived once from the Program's macro provenance.

``Linear``/``Dense``/``MLP`` expand into scalar ops but leave an
:class:`~symnet.graph.Origin` on what they build (a neuron's products, its sum
``z``, its activation ``h``; the loss on top). :func:`layer_view` reads those
origins back, in one walk over the program, into the textbook picture

.. math::  z^{(l)} = W^{(l)} h^{(l-1)} + b^{(l)}, \\qquad h^{(l)} = f(z^{(l)}), \\qquad h^{(0)} = x

with the parameters as index grids (``weights[j][i]`` is the program index of
``W^{(l)}[j, i]``, the parameter named ``w{l}_{j+1}_{i+1}``). Every view in
matrix form reads this one structure: the LaTeX and text emitters
(:mod:`symnet.emit.matrix`), the worked examples (:mod:`symnet.worked`) and
generated array code.

The view is exact or absent: when the graph is not a plain stack of layers (a
skip connection, a shared parameter, a layer missing units, different
activations within a layer, no provenance at all) :func:`layer_view` returns a
view with no layers and ``reason`` saying why, and callers fall back to the
scalar form.

>>> import symnet as sn
>>> sn.seed(0)
>>> v = layer_view(sn.compile(sn.MLP(2, [3, 1], activation="tanh")).program)
>>> [(l.index, l.shape, l.activation.name if l.activation else None) for l in v.layers]
[(1, (3, 2), 'tanh'), (2, (1, 3), None)]
>>> v.input_names, v.weight_names(1)[0], v.loss is None
(['x1', 'x2'], ['w1_1_1', 'w1_1_2'], True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .program import Program
from .analysis import uses
from .graph import Origin
from .ops import Op

__all__ = ["Layer", "LayerView", "layer_view", "origins"]

# The op rows carry no trait (yet) saying "this is the softmax of its operands" or
# "this is the log of the softmax", so the softmax head and the cross-entropy on
# logits are recognised by row name here, in this one place only.
_SOFTMAX = "softmax"
_LOG_SOFTMAX = "log_softmax"
_NEG = "neg"


@dataclass(frozen=True)
class Layer:
    """One dense layer ``z = W h_prev + b``, ``h = f(z)``; indices are program positions.

    ``weights[j][i]``: the weight from input ``i`` to unit ``j`` (0-based), shape
    ``(units, fan_in)``; ``biases[j]``; ``inputs``: the layer's input vector (the
    previous layer's ``outputs``, or the network inputs for layer 1); ``sums``:
    ``z``; ``activations``: ``h`` (empty when the layer has no activation, then
    ``outputs`` is ``sums``); ``activation``: the op row of ``f`` or ``None``;
    ``members``: the other op nodes of the weighted sums (products, inner sums).
    """

    index: int
    weights: tuple[tuple[int, ...], ...]
    biases: tuple[int, ...]
    inputs: tuple[int, ...]
    sums: tuple[int, ...]
    activations: tuple[int, ...]
    activation: Op | None
    members: tuple[int, ...] = ()

    @property
    def units(self) -> int:
        return len(self.sums)

    @property
    def fan_in(self) -> int:
        return len(self.inputs)

    @property
    def shape(self) -> tuple[int, int]:
        """The shape of ``W``: (units, fan_in)."""
        return (self.units, self.fan_in)

    @property
    def outputs(self) -> tuple[int, ...]:
        return self.activations or self.sums


@dataclass(frozen=True)
class LayerView:
    """The layers of a program, what is on top of them, or why there is no layer view.

    ``inputs``: the input vector ``x`` (layer 1's inputs); ``head``: softmax output
    nodes over the last layer's sums (empty if none is in the program);
    ``outputs``: the prediction vector ``yhat`` (the head, else the last layer's
    outputs; empty when the loss is computed from the logits); ``loss``: the index
    of the loss node, ``None`` without a loss; ``loss_nodes``: the op nodes above
    the layers, in program order; ``targets``: the input leaves the loss reads
    besides the layers; ``target_class``: for cross-entropy on the softmax of the
    last layer's sums, the class index ``c`` (then ``delta^(L) = p - e_c``).
    """

    program: Program
    layers: tuple[Layer, ...] = ()
    inputs: tuple[int, ...] = ()
    head: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    loss: int | None = None
    loss_nodes: tuple[int, ...] = ()
    targets: tuple[int, ...] = ()
    target_class: int | None = None
    reason: str = ""

    def __bool__(self) -> bool:
        return bool(self.layers)

    @property
    def input_names(self) -> list[str]:
        return [self.program.names[i] or "" for i in self.inputs]

    def weight_names(self, layer: int) -> list[list[str]]:
        """The parameter names of ``W^{(layer)}`` as a grid (rows: units)."""
        names = self.program.names
        return [[names[i] or "" for i in row] for row in self.layers[layer - 1].weights]

    def bias_names(self, layer: int) -> list[str]:
        return [self.program.names[i] or "" for i in self.layers[layer - 1].biases]

    def parameter_grids(self) -> dict[str, tuple[tuple[int, ...], ...] | tuple[int, ...]]:
        """``{"W1": index grid (out, in), "b1": indices (out,), ...}`` in layer order."""
        out: dict[str, Any] = {}
        for layer in self.layers:
            out[f"W{layer.index}"] = layer.weights
            out[f"b{layer.index}"] = layer.biases
        return out


def origins(program: Program) -> tuple[Origin | None, ...]:
    """The origin of every node of ``program`` (``program.origins``)."""
    return program.origins


class _NoView(Exception):
    """Internal: the graph is not a plain stack of layers (the message says why)."""


def layer_view(program: Program) -> LayerView:
    """The layer view of ``program`` (computed once per program and cached).

    Returns a :class:`LayerView`; it is falsy, with ``reason`` set, when the
    program is not a stack of dense layers built by ``Linear``/``Dense``/``MLP``.
    """
    cached = program.__dict__.get("_layer_view")
    if cached is None:
        try:
            cached = _derive(program)
        except _NoView as e:
            cached = LayerView(program, reason=str(e))
        object.__setattr__(program, "_layer_view", cached)
    return cached


def _derive(program: Program) -> LayerView:
    org = origins(program)
    kinds = program.kinds
    sums: dict[int, dict[int, int]] = {}
    acts: dict[int, dict[int, int]] = {}
    for i in program.op_indices:
        o = org[i]
        if o is None:
            continue
        if o.role == "output" and program.ops[i].activation and len(program.args[i]) == 1:
            # a neuron's activation marked as the prediction a hand-written loss compares
            z = org[program.args[i][0]]
            if z is not None and z.role == "sum" and z.layer is not None and z.unit is not None:
                acts.setdefault(z.layer, {})[z.unit] = i
            continue
        if o.layer is None or o.unit is None:
            continue
        if o.role == "sum":
            sums.setdefault(o.layer, {})[o.unit] = i
        elif o.role == "activation":
            acts.setdefault(o.layer, {})[o.unit] = i
    if not sums:
        raise _NoView("the graph has no layer provenance (no Linear/Dense/MLP with layer numbers)")
    if sorted(sums) != list(range(1, len(sums) + 1)):
        raise _NoView(f"layers {sorted(sums)} are not numbered 1..{len(sums)}")
    layers: list[Layer] = []
    claimed: dict[int, str] = {}  # node index -> what it is in the view (to catch sharing)
    prev: tuple[int, ...] | None = None
    count = uses(program)
    for l in range(1, len(sums) + 2):
        if l <= len(sums):
            layer = _layer(program, org, count, l, sums[l], acts.get(l, {}))
        else:
            extra = _output_layer(program, org, count, layers[-1])
            if extra is None:
                break
            layer = extra
        if prev is not None and set(layer.inputs) != set(prev):
            raise _NoView(f"layer {l} does not read exactly the outputs of layer {l - 1}")
        for i in (*layer.sums, *layer.activations, *layer.biases, *(w for row in layer.weights for w in row)):
            if i in claimed:
                raise _NoView(f"'{program.names[i]}' is used in two places of the layer stack")
            claimed[i] = "layer"
        if prev is not None and layer.inputs != prev:  # the same inputs, in another order: align W
            order = [layer.inputs.index(x) for x in prev]
            layer = replace(layer, inputs=prev, weights=tuple(tuple(row[k] for k in order) for row in layer.weights))
        layers.append(layer)
        prev = layer.outputs
    return _top(program, kinds, tuple(layers))


def _weighted_sum(program: Program, org: tuple[Origin | None, ...], count: list[int], z: int,
                  where: tuple[int | None, int | None]) -> tuple[list[int], list[tuple[int, int]], int]:
    """``(op nodes inside, [(weight, input)] in term order, bias)`` of the weighted sum at
    ``z``: a tree of sums (inner ones unmarked and used once) over products of one
    Parameter and one input, plus one Parameter bias -- what ``Linear`` builds, or the
    same written by hand (``w1*x1 + w2*x2 + b``)."""
    kinds, ops, args = program.kinds, program.ops, program.args
    members: list[int] = []
    pairs: list[tuple[int, int]] = []
    biases: list[int] = []
    stack = [z]
    while stack:
        i = stack.pop()
        row, o = ops[i], org[i]
        if row is None:
            if kinds[i] != "parameter":
                raise _NoView(f"neuron '{program.names[z]}' adds '{program.names[i]}' without a weight")
            biases.append(i)
        elif row.sum and (i == z or (o is None and count[i] == 1)):
            if i != z:
                members.append(i)
            stack.extend(reversed(args[i]))
        elif (row.product and len(args[i]) == 2 and count[i] == 1
              and (o is None or (o.role == "product" and (o.layer, o.unit) == where))):
            a, b = args[i]
            if kinds[b] == "parameter" and kinds[a] != "parameter":
                a, b = b, a
            if kinds[a] != "parameter" or kinds[b] == "parameter":
                raise _NoView(f"neuron '{program.names[z]}': '{program.names[i]}' is not a weight times an input")
            members.append(i)
            pairs.append((a, b))
        else:
            raise _NoView(f"neuron '{program.names[z]}' is not a weighted sum plus a bias")
    if len(biases) != 1 or not pairs:
        raise _NoView(f"neuron '{program.names[z]}' is not a weighted sum plus one bias")
    return members, pairs, biases[0]


def _layer(program: Program, org: tuple[Origin | None, ...], count: list[int], l: int,
           units: dict[int, int], acts: dict[int, int]) -> Layer:
    if sorted(units) != list(range(1, len(units) + 1)):
        raise _NoView(f"layer {l} has units {sorted(units)}, not 1..{len(units)}")
    weights, biases, sums, rows, members = [], [], [], [], []
    inputs: tuple[int, ...] | None = None
    for j in range(1, len(units) + 1):
        z = units[j]
        inside, pairs, bias = _weighted_sum(program, org, count, z, (l, j))
        by_input = {x: w for w, x in pairs}
        if len(by_input) != len(pairs):
            raise _NoView(f"neuron '{program.names[z]}' reads one input twice")
        if inputs is None:
            inputs = tuple(x for _, x in pairs)
        elif set(by_input) != set(inputs):
            raise _NoView(f"the units of layer {l} read different inputs")
        weights.append(tuple(by_input[x] for x in inputs))  # aligned with unit 1's input order
        biases.append(bias)
        sums.append(z)
        members.extend(inside)
        a = acts.get(j)
        if a is not None:
            if program.args[a] != (z,):
                raise _NoView(f"activation '{program.names[a]}' does not act on '{program.names[z]}' alone")
            rows.append(a)
    if rows and len(rows) != len(units):
        raise _NoView(f"layer {l}: some units have an activation and some do not")
    ops = {program.ops[a] for a in rows}
    if len(ops) > 1:
        raise _NoView(f"layer {l}: units have different activations")
    if any(program.attrs[a] is not None for a in rows):
        raise _NoView(f"layer {l}: the activation takes a parameter")
    return Layer(l, tuple(weights), tuple(biases), inputs or (), tuple(sums), tuple(rows),
                 program.ops[rows[0]] if rows else None, tuple(members))


def _leaves_of_products(program: Program, z: int) -> list[int]:
    """The operands of the products directly inside the sum tree at ``z`` (a cheap look)."""
    out, stack = [], [z]
    while stack:
        i = stack.pop()
        row = program.ops[i]
        if row is None:
            continue
        if row.sum:
            stack.extend(program.args[i])
        elif row.product:
            out.extend(program.args[i])
    return out


def _output_layer(program: Program, org: tuple[Origin | None, ...], count: list[int],
                  last: Layer) -> Layer | None:
    """A hand-built output layer without activation: unmarked weighted sums over all of the
    last layer's outputs (:mod:`symnet.provenance` marks only neurons with an activation)."""
    def unmarked_sum(i: int) -> bool:
        o = org[i]
        return bool(program.ops[i].sum) and (o is None or (o.role == "output" and o.layer is None))

    inner = {a for i in program.op_indices if program.ops[i].sum for a in program.args[i]
             if program.ops[a] is not None and unmarked_sum(a) and count[a] == 1}
    tops = set(last.outputs)
    units: dict[int, int] = {}
    for i in program.op_indices:
        if not unmarked_sum(i) or i in inner or not any(a in tops for a in _leaves_of_products(program, i)):
            continue
        try:
            _, pairs, _ = _weighted_sum(program, org, count, i, (None, None))
        except _NoView:
            return None  # a sum over the last layer that is not a neuron: no output layer to add
        if {x for _, x in pairs} != tops:
            return None
        units[len(units) + 1] = i
    if not units:
        return None
    return _layer(program, org, count, last.index + 1, units, {})


def _top(program: Program, kinds: tuple[str, ...], layers: tuple[Layer, ...]) -> LayerView:
    """What sits on the last layer: a softmax head, a loss; checks nothing else reads the layers."""
    last = layers[-1]
    inside: set[int] = set()
    for layer in layers:
        inside.update(layer.sums, layer.activations, layer.members)
    # who may read what: a layer's nodes are read only inside the stack, except the last outputs
    allowed_tops = set(last.outputs) | (set(last.sums) if not last.activations else set())
    above = [i for i in program.op_indices if i not in inside]
    above_set = set(above)
    for i in above:
        for a in program.args[i]:
            if a in inside and a not in allowed_tops:
                raise _NoView(f"'{program.names[i]}' reads '{program.names[a]}' from inside the layer stack")
            if kinds[a] == "parameter":
                raise _NoView(f"'{program.names[i]}' above the layers uses parameter '{program.names[a]}'")
    layer_inputs = set(layers[0].inputs)
    for i in inside:
        for a in program.args[i]:
            if a in above_set:
                raise _NoView(f"layer node '{program.names[i]}' reads '{program.names[a]}' from above the layers")
    # the softmax head: softmax rows over exactly the last sums, one per class in order
    head = tuple(i for i in above if program.ops[i].name == _SOFTMAX and program.args[i] == last.sums)
    if head and [program.attrs[i] for i in head] != list(range(len(head))):
        head = ()
    outs = program.outputs
    if set(outs) <= set(last.outputs) or (head and set(outs) <= set(head)):
        if tuple(outs) not in (last.outputs, head):
            raise _NoView("the outputs are not the last layer's units in order")
        rest = [i for i in above if i not in head]
        if rest:
            raise _NoView(f"'{program.names[rest[0]]}' is computed but is not an output")
        return LayerView(program, layers, layers[0].inputs, head, head or last.outputs)
    if len(outs) != 1:
        raise _NoView("several outputs that are not the last layer's units")
    loss = outs[0]
    loss_nodes = tuple(i for i in above if i not in head)
    targets = []
    for i in loss_nodes:
        for a in program.args[i]:
            if kinds[a] == "input" and a not in layer_inputs and a not in targets:
                targets.append(a)
            elif kinds[a] == "input" and a in layer_inputs:
                raise _NoView(f"the loss reads the network input '{program.names[a]}'")
    target_class = None
    if len(loss_nodes) == 2:
        neg, ls = loss, loss_nodes[0]
        row = program.ops[ls]
        if (row.name == _LOG_SOFTMAX and program.args[ls] == last.sums and program.args[neg] == (ls,)
                and program.ops[neg].name == _NEG
                and not last.activations and isinstance(program.attrs[ls], int)):
            target_class = program.attrs[ls]
    prediction = head or (() if target_class is not None else last.outputs)
    return LayerView(program, layers, layers[0].inputs, head, prediction, loss, loss_nodes, tuple(targets),
                     target_class)
