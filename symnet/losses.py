"""Loss builders (MSE, binary and categorical cross-entropy) and Softmax, as graph nodes.

Losses are ordinary nodes, so their gradients are printed, checked and compiled
like everything else.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

from .errors import GraphError, InputError
from .graph import Node, Origin, Output, as_node

__all__ = ["Softmax", "mse", "bce", "cross_entropy", "LOSSES", "loss_by_name"]


def _components(pred: Any) -> list[Node]:
    if isinstance(pred, Node) and pred.kind == "output":
        return list(pred.children)
    if isinstance(pred, (list, tuple)):
        return [as_node(p, "prediction") for p in pred]
    return [as_node(pred, "prediction")]


def _loss(node: Node) -> Node:
    node.origin = Origin("loss")
    return node


def Softmax(logits: Sequence[Any]) -> Output:
    """The softmax of the logits as an Output (stable for large logits).

    >>> import symnet as sn
    >>> [round(p, 4) for p in sn.Softmax([sn.Constant(1000.0), sn.Constant(0.0)]).forward()]
    [1.0, 0.0]
    """
    zs = [as_node(z, f"logit {i + 1}") for i, z in enumerate(logits)]
    if not zs:
        raise GraphError("Softmax needs at least one logit")
    probs = []
    for k in range(len(zs)):
        p = Node.apply("softmax", zs, attr=k)
        p.origin = Origin("output", None, k + 1)
        probs.append(p)
    return Output(probs)


def mse(pred: Any, target: Any) -> Node:
    """Squared error ``(pred - target)**2``; for vectors the mean over components."""
    ps = _components(pred)
    ts = _components(target) if isinstance(target, (list, tuple, Output)) else [as_node(target, "target")]
    if len(ps) != len(ts):
        raise InputError(f"mse: {len(ps)} prediction(s) but {len(ts)} target(s)")
    terms = [Node.apply("pow", (Node.apply("sub", (p, t)),), attr=2.0) for p, t in zip(ps, ts)]
    if len(terms) == 1:
        return _loss(terms[0])
    return _loss(Node.apply("div", (Node.apply("add", terms), float(len(terms)))))


def bce(pred: Any, target: Any) -> Node:
    """Binary cross-entropy of a probability against a target in [0, 1]; finite even
    for predictions of exactly 0 or 1 (each log is clamped at -100, as in PyTorch)."""
    (p,) = _one(pred, "bce")
    if isinstance(target, numbers.Real) and not isinstance(target, bool) and not 0.0 <= float(target) <= 1.0:
        raise InputError(f"bce: target must lie in [0, 1], got {target!r}")
    return _loss(Node.apply("bce", (p, as_node(target, "bce target"))))


def _one(pred: Any, what: str) -> list[Node]:
    ps = _components(pred)
    if len(ps) != 1:
        raise InputError(f"{what}: expects one prediction, got {len(ps)}")
    return ps


def cross_entropy(output: Any, target_index: int) -> Node:
    """Categorical cross-entropy ``-log p[target_index]``.

    On a :func:`Softmax` output it is computed from the logits (stable: logits of
    1000 work) and its gradient with respect to the logits is ``p - onehot``.
    """
    comps = _components(output)
    k = len(comps)
    if isinstance(target_index, bool) or not isinstance(target_index, numbers.Integral) or not 0 <= target_index < k:
        raise InputError(f"cross_entropy: target index must be an integer in [0, {k}), got {target_index!r}")
    t = int(target_index)
    first = comps[0]
    if all(c.kind == "op" and c.op == "softmax" and c.children == first.children for c in comps) and len(comps) == len(first.children):
        return _loss(Node.apply("neg", (Node.apply("log_softmax", first.children, attr=t),)))
    return _loss(Node.apply("neg", (Node.apply("log", (comps[t],)),)))


#: The losses by name, as ``train_model``, ``check_gradients``, the reports and the
#: command line accept them.
LOSSES: dict[str, Callable[[Any, Any], Node]] = {"mse": mse, "bce": bce, "cross_entropy": cross_entropy}


def loss_by_name(name: Any, where: str = "loss") -> Callable[[Any, Any], Node]:
    """The loss builder called ``name``; InputError listing the known ones otherwise."""
    fn = LOSSES.get(name) if isinstance(name, str) else None
    if fn is None:
        raise InputError(f"{where}: unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return fn
