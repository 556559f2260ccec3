"""Hypothesis-driven random DAGs over every builtin op, for the property tests.

``random_dag(draw)`` builds a graph of 1-3 inputs, 1-3 parameters and a few op
nodes whose children are drawn from everything built so far (so nodes are
shared). Values are tracked while building, and each op's inputs are kept inside
its domain and away from its special points: a log or a fractional power gets a
positive operand (negated or shifted if need be), a divisor is kept away from 0,
a ReLU away from its kink, and large values pass through tanh before they reach
exp, a product or a BCE logit. The root sums every node that nothing else uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

import symnet as sn
from symnet.graph import Node
from symnet.ops import OPS

#: Every builtin op the generator draws from (tests assert it covers the table).
OP_NAMES = ("add", "mul", "sub", "neg", "div", "pow", "exp", "log", "relu", "sigmoid", "tanh",
            "softmax", "log_softmax", "bce", "leaky_relu", "softplus", "elu", "erf", "gelu", "silu", "abs",
            "sqrt", "step", "sign")
EXPONENTS = (2.0, 3.0, -1.0, 0.5, 1.5, -0.5)
LEAF_VALUES = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)


@dataclass
class Dag:
    root: Node
    inputs: dict[str, float]
    nodes: list[Node] = field(default_factory=list)
    ops_used: set[str] = field(default_factory=set)


class _Builder:
    def __init__(self) -> None:
        self.values: dict[int, float] = {}
        self.nodes: list[Node] = []
        self.ops_used: set[str] = set()

    def value(self, node: Node) -> float:
        return self.values[id(node)]

    def leaf(self, node: Node) -> Node:
        self.values[id(node)] = node.value
        self.nodes.append(node)
        return node

    def make(self, op: str, children: list[Node], attr=None) -> Node:
        node = Node.apply(op, children, attr=attr)
        for c in node.children:
            if id(c) not in self.values:  # a Constant made from a number
                self.values[id(c)] = c.value
        self.values[id(node)] = OPS[op].forward(tuple(self.value(c) for c in node.children), attr)
        self.nodes.append(node)
        self.ops_used.add(op)
        return node

    def bounded(self, node: Node, limit: float) -> Node:
        return node if abs(self.value(node)) <= limit else self.make("tanh", [node])

    def positive(self, node: Node) -> Node:
        v = self.value(node)
        if v > 0.1:
            return node
        if v < -0.1:
            return self.make("neg", [node])
        return self.make("add", [node, 1.0])

    def nonzero(self, node: Node) -> Node:
        return node if abs(self.value(node)) > 0.1 else self.make("add", [node, 1.0])


def random_dag(draw, *, max_ops: int = 10) -> Dag:
    """Draw a random DAG (use inside ``@given(st.data())`` as ``random_dag(data.draw)``)."""
    b = _Builder()
    n_inputs = draw(st.integers(1, 3))
    n_params = draw(st.integers(1, 3))
    inputs = {}
    for i in range(1, n_inputs + 1):
        v = draw(LEAF_VALUES)
        inputs[f"x{i}"] = v
        b.leaf(sn.Input(f"x{i}", v))
    for i in range(1, n_params + 1):
        b.leaf(sn.Parameter(draw(LEAF_VALUES), name=f"p{i}"))

    def pick() -> Node:
        return b.nodes[draw(st.integers(0, len(b.nodes) - 1))]

    for _ in range(draw(st.integers(2, max_ops))):
        op = draw(st.sampled_from(OP_NAMES))
        if op in ("add", "mul"):
            kids = [pick() for _ in range(draw(st.integers(2, 3)))]
            if op == "mul":
                kids = [b.bounded(k, 3.0) for k in kids]
            node = b.make(op, kids)
        elif op == "sub":
            node = b.make(op, [pick(), pick()])
        elif op in ("neg", "sigmoid", "tanh"):
            node = b.make(op, [pick()])
        elif op == "div":
            node = b.make(op, [pick(), b.nonzero(pick())])
        elif op == "pow":
            p = draw(st.sampled_from(EXPONENTS))
            base = b.bounded(pick(), 3.0)
            if not float(p).is_integer():
                base = b.positive(base)
            elif p < 0:
                base = b.nonzero(base)
            node = b.make(op, [base], attr=p)
        elif op == "exp":
            node = b.make(op, [b.bounded(pick(), 5.0)])
        elif op == "log":
            node = b.make(op, [b.positive(pick())])
        elif op in ("relu", "leaky_relu", "elu", "abs", "step", "sign"):  # a kink at 0
            z = pick()
            if abs(b.value(z)) < 0.05:
                z = b.make("add", [z, 0.5])
            attr = draw(st.sampled_from([None, 0.1, 0.5])) if op in ("leaky_relu", "elu") else None
            node = b.make(op, [z], attr=attr)
        elif op in ("softplus", "erf", "gelu", "silu"):
            node = b.make(op, [pick()])
        elif op == "sqrt":
            node = b.make(op, [b.positive(pick())])
        elif op in ("softmax", "log_softmax"):
            kids = [pick() for _ in range(draw(st.integers(2, 3)))]
            node = b.make(op, kids, attr=draw(st.integers(0, len(kids) - 1)))
        elif op == "bce":
            p = b.make("sigmoid", [b.bounded(pick(), 10.0)])
            t = b.make("sigmoid", [pick()]) if draw(st.booleans()) else sn.Constant(draw(st.sampled_from([0.0, 1.0, 0.25])))
            node = b.make(op, [p, t])
        else:  # pragma: no cover - OP_NAMES and this chain must agree
            raise AssertionError(op)
        b.bounded(node, 30.0)

    used = {id(c) for n in b.nodes for c in n.children}
    sinks = [n for n in b.nodes if n.kind == "op" and id(n) not in used]
    root = sinks[0] if len(sinks) == 1 else b.make("add", sinks)
    return Dag(root=root, inputs=inputs, nodes=b.nodes, ops_used=b.ops_used)
