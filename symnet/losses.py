"""Loss builders (MSE, binary and categorical cross-entropy) and Softmax, as graph nodes.

Losses are ordinary nodes, so their gradients are printed, checked and compiled
like everything else.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from .errors import GraphError, InputError, shown
from .graph import Constant, Input, Node, Origin, Output, as_node, check_name
from .ops import get_op

__all__ = ["Softmax", "mse", "bce", "cross_entropy", "LOSSES", "loss_by_name", "attach_loss", "Attached",
           "TARGET_NAMES", "clamped"]


def _components(pred: Any) -> list[Node]:
    if isinstance(pred, Node) and pred.kind == "output":
        return list(pred.children)
    if isinstance(pred, (list, tuple)):
        return [as_node(p, "prediction") for p in pred]
    return [as_node(pred, "prediction")]


def _term(op: str, children: Sequence[Any], attr: Any = None, role: str = "loss_term") -> Node:
    """A node the loss builder makes, marked with its role: ``loss`` for the loss
    itself, ``loss_term`` for the others, ``loss_logits`` where the operands are
    logits. The compiler tells the predictions a loss compares (and names them
    ``yhat``) by these marks; the user's nodes are never marked."""
    node = Node.apply(op, children, attr=attr)
    node.origin = Origin(role)
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
    if len(ps) == 1:
        return _term("pow", (_term("sub", (ps[0], ts[0])),), 2.0, role="loss")
    terms = [_term("pow", (_term("sub", (p, t)),), 2.0) for p, t in zip(ps, ts)]
    return _term("div", (_term("add", terms), float(len(terms))), role="loss")


def bce(pred: Any, target: Any) -> Node:
    """Binary cross-entropy of a probability against a target in [0, 1]; finite even
    for predictions of exactly 0 or 1 (each log is clamped at -100, as in PyTorch)."""
    (p,) = _one(pred, "bce")
    value = target.value if isinstance(target, Node) and target.kind == "constant" else target
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not 0 <= value <= 1:
        raise InputError(f"bce: target must lie in [0, 1], got {shown(value)}")
    return _term("bce", (p, as_node(target, "bce target")), role="loss")


def clamped(program: Any, vals: Sequence[float]) -> list[tuple[int, str]]:
    """``(node, why)`` for the nodes of ``program`` (a :class:`symnet.program.Program`) whose
    value at the forward values ``vals`` is their row's documented clamp, not its formula
    (the row's ``clamp`` field: ``bce`` at a prediction of exactly 0 or 1, where the engine's
    log is floored at -100 and its gradient is the clamped one, as PyTorch's ``BCELoss``).

    >>> import symnet as sn
    >>> from symnet import engine
    >>> x, w = sn.Input("x", 80.0), sn.Parameter(0.5, name="w")
    >>> p = sn.compile(sn.bce((w * x).sigmoid(), 0.0)).program
    >>> [(p.names[i], why[:35]) for i, why in clamped(p, engine.evaluate(p, engine.leaf_template(p)))]
    [('L', 'the prediction is exactly 1 in floa')]
    """
    out = []
    for i in program.op_indices:
        row = program.ops[i]
        if row.clamp is not None:
            why = row.clamp(tuple(vals[a] for a in program.args[i]), program.attrs[i])
            if why is not None:
                out.append((i, why))
    return out


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
        raise InputError(f"cross_entropy: target index must be an integer in [0, {k}), got {shown(target_index)}")
    t = int(target_index)
    first = comps[0]
    row = get_op(first.op) if first.kind == "op" else None
    if (row is not None and row.log_op is not None and len(comps) == len(first.children)
            and all(c.kind == "op" and c.op == first.op and c.children == first.children and c.attr == k
                    for k, c in enumerate(comps))):
        # the row's log_op computes log(p_t) from the same operands stably (log_softmax)
        return _term("neg", (_term(row.log_op, first.children, t, role="loss_logits"),), role="loss")
    return _term("neg", (_term("log", (comps[t],)),), role="loss")


#: The losses by name, as ``train_model``, ``check_gradients``, the reports and the
#: command line accept them.
LOSSES: dict[str, Callable[[Any, Any], Node]] = {"mse": mse, "bce": bce, "cross_entropy": cross_entropy}


def loss_by_name(name: Any, where: str = "loss") -> Callable[[Any, Any], Node]:
    """The loss builder called ``name``; InputError listing the known ones otherwise."""
    fn = LOSSES.get(name) if isinstance(name, str) else None
    if fn is None:
        raise InputError(f"{where}: unknown loss {shown(name)}; choose one of {', '.join(LOSSES)}")
    return fn


#: Names a loss's target input takes, the first one the model does not use.
TARGET_NAMES = ("y", "target", "y_true")


@dataclass(frozen=True)
class Attached:
    """A loss put on top of a model: the loss node, its target inputs (none for
    ``cross_entropy``, whose class index is part of the graph) and their names."""

    node: Node
    targets: tuple[Node, ...]

    @property
    def target_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.targets)


def attach_loss(root: Any, loss: str, target: Any = None, *, taken: Iterable[str] = (),
                target_name: str | None = None) -> Attached:
    """Put the loss called ``loss`` on top of ``root`` (a node or an Output): the one
    way training, worked examples, the verifier and the command line do it.

    * ``cross_entropy``: ``target`` is the class index (required; part of the graph).
    * ``mse``, ``bce``: the target of each output is an Input, named ``target_name``
      when given (``name1 .. namek`` for k outputs), else the first of
      :data:`TARGET_NAMES` that is not in ``taken`` (the model's names), so a
      model with an input ``y`` gets a target ``target``. ``target`` may be a
      string (the name to use), ``None``, or numbers, which become Constants.

    Raises InputError for an unknown loss, a missing class index or a target name
    that clashes with ``taken``.

    >>> import symnet as sn
    >>> x, y = sn.Input("x"), sn.Input("y")
    >>> att = attach_loss(2 * x + y, "mse", taken=["x", "y"])
    >>> att.target_names, sn.compile(att.node).funcify()
    (('target',), '(2*x + y - target)**2')
    """
    build = loss_by_name(loss, "attach_loss")
    comps = _components(root)
    if loss == "cross_entropy":
        if target is None:
            raise InputError("cross_entropy needs the target class index")
        return Attached(build(root, target), ())
    taken = set(taken)
    if target is not None and not isinstance(target, str):
        values = list(target) if isinstance(target, (list, tuple)) else [target]
        if len(values) != len(comps):
            raise InputError(f"{loss}: {len(values)} target value(s) for {len(comps)} output(s)")
        consts = [Constant(v) for v in values]
        return Attached(build(root if len(comps) == 1 else comps, consts[0] if len(consts) == 1 else consts), ())
    stem = target if isinstance(target, str) else target_name
    if stem is not None:
        check_name(stem, "target name")
    else:
        stem = next((n for n in TARGET_NAMES if n not in taken and not any(
            f"{n}{k}" in taken for k in range(1, len(comps) + 1))), "y_target")
    names = [stem] if len(comps) == 1 else [f"{stem}{k}" for k in range(1, len(comps) + 1)]
    clash = [n for n in names if n in taken]
    if clash:
        raise InputError(f"{loss}: the target name {clash[0]!r} is already a name in the model; choose another")
    targets = tuple(Input(n) for n in names)
    node = build(root if len(comps) == 1 else comps, targets[0] if len(targets) == 1 else list(targets))
    return Attached(node, targets)
