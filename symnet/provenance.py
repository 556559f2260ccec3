"""Where each node of a program came from: its Origin, given or recognised.

Macros and loss builders mark the nodes they make (:class:`~symnet.graph.Origin`).
A network built by hand, with seed-style constructors or operators, carries no
marks; this module recognises the same structure in it, so that it is named and
printed like an MLP:

* a **neuron** is an activation (a row with the ``activation`` trait) over a
  **weighted sum**: a tree of sums (inner ones used once, unnamed) whose terms
  are products with a Parameter factor, and Parameters (biases);
* a neuron's **layer** is one more than the deepest neuron among its inputs;
  units are numbered in program order within a layer;
* the **output**: a neuron whose activation is the program's output, or the
  predictions a loss compares;
* a hand-built **loss**: an output that is not a neuron, computed from the top
  neurons and from inputs that no neuron reads (the targets).

Given marks always win; names the user gave are kept by the namer. Every pass is
one iterative walk over the program order.
"""

from __future__ import annotations

from typing import Sequence

from .graph import Origin
from .ops import Op

__all__ = ["derive_origins", "loss_predictions", "neurons", "neuron_depths", "predictions", "LOSS_ROLES"]

#: The roles of the nodes a loss builder (or the recogniser of a hand-built loss) marks.
LOSS_ROLES = ("loss", "loss_term", "loss_logits")


def derive_origins(kinds: Sequence[str], ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
                   origins: Sequence[Origin | None], outputs: Sequence[int]) -> list[Origin | None]:
    """Every node's origin: the marks the builders left, the predictions a loss
    compares (``Origin("output")``), and hand-built neurons, outputs and losses."""
    out = list(origins)
    loss_predictions(ops, args, out)
    layer_of, recognised = neurons(kinds, ops, args, out)
    _outputs_and_loss(kinds, ops, args, out, outputs, layer_of, recognised)
    return out


def loss_predictions(ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
                     origins: list[Origin | None]) -> None:
    """Mark the predictions a loss builder compares ``Origin("output")``, in place.

    A loss builder (:mod:`symnet.losses`) marks the node it returns ``loss`` and the
    other nodes it builds ``loss_term`` (``loss_logits`` where the operands are
    logits, not predictions); an unmarked op operand of those is a prediction,
    numbered in order when there are several.
    """
    preds: list[int] = []
    for i in range(len(ops) - 1, -1, -1):
        o = origins[i]
        if o is not None and o.role in ("loss", "loss_term"):
            for a in args[i]:
                if ops[a] is not None and origins[a] is None and a not in preds:
                    preds.append(a)
    _number(sorted(preds), "output", origins)


def predictions(ops: Sequence[Op | None], args: Sequence[tuple[int, ...]], origins: Sequence[Origin | None],
                outputs: Sequence[int]) -> list[int]:
    """The network's predictions, the nodes named ``yhat`` (``yhat1, yhat2, ...`` when
    there are several): the nodes marked ``output``, the predictions a loss compares
    (whatever built them: an MLP's last activation, or its last weighted sum when the
    output layer is linear), else the output(s) of the network. A loss that reads
    logits (``loss_logits``) compares no prediction. Order: the outputs in their
    order, then the others in program order.

    >>> from symnet.ops import OPS
    >>> ops = [None, None, OPS["mul"], OPS["sigmoid"]]
    >>> predictions(ops, [(), (), (0, 1), (2,)], [None, None, Origin("sum"), Origin("activation")], [3])
    [3]
    """
    found = {i for i, o in enumerate(origins) if o is not None and o.role == "output"}
    for i, o in enumerate(origins):
        if o is not None and o.role in ("loss", "loss_term"):
            # unmarked ones are marked ``output`` already (:func:`loss_predictions`)
            found.update(a for a in args[i] if origins[a] is not None and origins[a].role in ("sum", "activation"))
    if not found:  # a network without a loss: its outputs
        found.update(i for i in outputs
                     if ops[i] is not None and (origins[i] is None or origins[i].role not in LOSS_ROLES))
    first = [i for i in dict.fromkeys(outputs) if i in found]
    return first + sorted(found.difference(first))


def _number(indices: Sequence[int], role: str, origins: list[Origin | None]) -> None:
    if len(indices) == 1:
        origins[indices[0]] = Origin(role)
    else:
        for k, i in enumerate(indices, start=1):
            origins[i] = Origin(role, None, k)


def _weighted_sum(z: int, kinds: Sequence[str], ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
                  origins: Sequence[Origin | None], uses: Sequence[int]) -> list[int] | None:
    """The inputs of the weighted sum at ``z`` (the non-parameter factors of its
    products), or None if ``z`` is not one."""
    inputs: list[int] = []
    products = 0
    stack = [z]
    while stack:
        i = stack.pop()
        row = ops[i]
        if row is None:
            if kinds[i] != "parameter":  # a bias is a parameter; a bare input is not a weighted term
                return None
            continue
        if (row.sum or row.negates) and (i == z or (uses[i] == 1 and origins[i] is None)):
            stack.extend(args[i])  # w x - b: a bias subtracted is a bias
            continue
        if row.product and len(args[i]) >= 2 and any(kinds[a] == "parameter" for a in args[i]):
            products += 1
            inputs.extend(a for a in args[i] if kinds[a] != "parameter")
            continue
        return None
    return inputs if products else None


def neurons(kinds: Sequence[str], ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
            origins: list[Origin | None]) -> tuple[dict[int, int], list[int]]:
    """Recognise hand-built neurons and mark their sums and activations, in place;
    returns ``{activation: layer}`` for every neuron, marked before or now, and the
    activations recognised now."""
    layer_of, recognised, _ = _neurons(kinds, ops, args, origins)
    return layer_of, recognised


def _neurons(kinds: Sequence[str], ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
             origins: list[Origin | None]) -> tuple[dict[int, int], list[int], list[int]]:
    """:func:`neurons`, and the deepest neuron layer at or below each node."""
    uses = [0] * len(ops)
    for a_list in args:
        for a in a_list:
            uses[a] += 1
    layer_of: dict[int, int] = {}
    below = [0] * len(ops)  # the deepest neuron layer at or below each node (in topological order)
    found: list[tuple[int, int, int]] = []  # (activation, sum, layer) of unmarked neurons
    for i, row in enumerate(ops):
        if row is None:
            continue
        below[i] = max((below[a] for a in args[i]), default=0)
        o = origins[i]
        if o is not None and o.role == "activation" and o.layer is not None:
            layer_of[i] = below[i] = o.layer
            continue
        if o is not None and o.role == "sum" and o.layer is not None:  # a layer's sum (Linear): its layer
            below[i] = max(below[i], o.layer)
        if not row.activation or len(args[i]) != 1 or (o is not None and o.role != "output"):
            continue
        z = args[i][0]
        # the weighted sum: w1 x1 + ... + b or w x - b (a lone term w x is not taken for a neuron: a
        # chain tanh(w tanh(w ...)) stays one block, as deep formulas are)
        if origins[z] is not None or ops[z] is None or not (ops[z].sum or ops[z].negates):
            continue
        inputs = _weighted_sum(z, kinds, ops, args, origins, uses)
        if inputs is None:
            continue
        layer = 1 + max((below[a] for a in inputs), default=0)  # one more than the neurons it reads
        layer_of[i] = below[i] = layer
        found.append((i, z, layer))
    if len(found) == 1 and len(layer_of) == 1:
        # one neuron (logistic regression): z and its activation, no indices
        i, z, _ = found[0]
        origins[z] = Origin("sum")
        if origins[i] is None:
            origins[i] = Origin("activation")
        return layer_of, [i], below
    units: dict[int, int] = {}
    for i, z, layer in found:
        units[layer] = units.get(layer, 0) + 1
        origins[z] = Origin("sum", layer, units[layer])
        if origins[i] is None:
            origins[i] = Origin("activation", layer, units[layer])
    return layer_of, [i for i, _, _ in found], below


def neuron_depths(kinds: Sequence[str], ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
                  origins: Sequence[Origin | None]) -> list[int]:
    """The deepest neuron layer at or below each node (0 below every neuron), neurons made by
    a macro or by hand alike (:func:`neurons`; ``origins`` is not changed). A layer macro
    numbers itself one above its inputs' depth (:func:`symnet.layers.next_layer`)."""
    return _neurons(kinds, ops, args, list(origins))[2]


def _outputs_and_loss(kinds: Sequence[str], ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
                      origins: list[Origin | None], outputs: Sequence[int], layer_of: dict[int, int],
                      recognised: Sequence[int]) -> None:
    """Name a hand-built network's output neurons and its loss."""
    hand_built = [i for i in recognised if origins[i] is not None and origins[i].role == "activation"
                  and i in set(outputs)]
    if hand_built and len(outputs) == len(hand_built):
        _number(sorted(hand_built), "output", origins)
        return
    if len(outputs) != 1:
        return
    root = outputs[0]
    if origins[root] is not None or ops[root] is None or root in layer_of:
        return
    # walk down from the root through nodes that belong to no neuron
    reached_neurons: list[int] = []
    reached_inputs: list[int] = []
    seen = {root}
    stack = [root]
    while stack:
        i = stack.pop()
        for a in args[i]:
            if a in seen:
                continue
            seen.add(a)
            if a in layer_of:
                reached_neurons.append(a)
            elif kinds[a] == "input":
                reached_inputs.append(a)
            elif ops[a] is not None and origins[a] is None:
                stack.append(a)
    if not reached_neurons or not reached_inputs:
        return
    read_by_neurons = _inputs_read_by_neurons(ops, args, layer_of)
    if all(t in read_by_neurons for t in reached_inputs):
        return
    origins[root] = Origin("loss")
    top = [a for a in sorted(reached_neurons) if a in set(recognised) and origins[a].role == "activation"]
    _number(top, "output", origins)


def _inputs_read_by_neurons(ops: Sequence[Op | None], args: Sequence[tuple[int, ...]],
                            layer_of: dict[int, int]) -> set[int]:
    """The leaves below any neuron's activation."""
    below: set[int] = set()
    stack = list(layer_of)
    seen = set(stack)
    while stack:
        i = stack.pop()
        for a in args[i]:
            if a not in seen:
                seen.add(a)
                if ops[a] is None:
                    below.add(a)
                else:
                    stack.append(a)
    return below
