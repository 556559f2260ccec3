"""The engine: cached forward, backward by the chain rule over shared nodes, deep
chains without recursion, bounded work per pass, and random DAGs against SymPy's
own derivatives and against torch.autograd."""

from __future__ import annotations

import math
import struct
from collections import Counter

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from randgraph import OP_NAMES, random_dag

import symnet as sn
from symnet.emit.sympy import elementary_nodes, leaf_symbols
from symnet.program import collect
from symnet.ops import OPS

# -- counting ops ----------------------------------------------------------


@pytest.fixture
def counting():
    """``make(label, arity, scale)`` registers an op that adds its inputs times ``scale``
    and counts, per label, how often its forward and its partials run."""
    forwards: Counter = Counter()
    partials: Counter = Counter()
    names = []

    def make(label, arity=1, scale=1.0):
        name = f"count_{label}"

        def forward(*xs):
            forwards[label] += 1
            return scale * sum(xs)

        def partial(*xs):
            partials[label] += 1
            return (scale,) * len(xs)

        ctor = sn.define_op(name, arity, forward=forward, partials=partial,
                            sympy=lambda *es: scale * sp.Add(*es))
        names.append(name)
        return ctor

    make.forwards = forwards
    make.partials = partials
    yield make
    for name in names:
        OPS.pop(name, None)


def _bits(x):
    return struct.pack("<d", x)


# -- caching -----------------------------------------------------------------


def test_changing_an_input_recomputes_exactly_the_nodes_above_it(counting):
    A, B, D = counting("A"), counting("B"), counting("D")
    C, E = counting("C", 2), counting("E", 2)
    x, y, z = sn.Input("x", 1.0), sn.Input("y", 2.0), sn.Input("z", 3.0)
    a, b, d = A(x), B(y), D(z)
    c = C(a, b)
    e = E(c, d)
    assert e.forward() == 6.0
    assert counting.forwards == Counter("ABCDE")

    counting.forwards.clear()
    assert e.forward() == 6.0
    assert counting.forwards == Counter()  # nothing changed: nothing recomputed

    y.value = 10.0
    assert e.forward() == 14.0
    assert counting.forwards == Counter("BCE")
    assert (a.value, b.value, c.value, d.value) == (1.0, 10.0, 11.0, 3.0)

    counting.forwards.clear()
    z.value = 0.0
    assert e.forward() == 11.0
    assert counting.forwards == Counter("DE")

    counting.forwards.clear()
    x.value = 2.0
    z.value = 1.0
    assert e.forward() == 13.0
    assert counting.forwards == Counter("ACDE")


def test_changing_a_parameter_recomputes_the_nodes_above_it(counting):
    A, B = counting("A", 2), counting("B", 2)
    x, w, v = sn.Input("x", 1.0), sn.Parameter(2.0, name="w"), sn.Parameter(3.0, name="v")
    a = A(x, w)
    out = B(a, v)
    out.forward()
    counting.forwards.clear()
    v.value = 4.0
    assert out.forward() == 7.0
    assert counting.forwards == Counter("B")


def test_a_subgraph_keeps_its_own_cache(counting):
    A, B = counting("A"), counting("B")
    x = sn.Input("x", 1.0)
    a = A(x)
    b = B(a)
    assert b.forward() == 1.0
    x.value = 5.0
    assert a.forward() == 5.0  # the subgraph sees the change too
    assert b.forward() == 5.0


def test_backward_never_reruns_the_forward_pass(counting):
    A, B = counting("A", 1, 2.0), counting("B", 2, 3.0)
    x = sn.Input("x", 1.0)
    a = A(x)
    b = B(a, x)
    b.forward()
    counting.forwards.clear()
    b.backward()
    b.backward()
    assert counting.forwards == Counter()
    assert counting.partials == Counter({"A": 2, "B": 2})
    assert x.grad == 3.0 * 2.0 + 3.0


def test_backward_after_a_change_uses_the_new_values():
    x, w = sn.Input("x", 2.0), sn.Parameter(3.0, name="w")
    y = w * x * x
    y.backward()
    assert (w.grad, x.grad) == (4.0, 12.0)
    x.value = 1.0
    y.backward()
    assert (w.grad, x.grad) == (1.0, 6.0)
    assert y.value == 3.0


# -- backward ------------------------------------------------------------------


def test_backward_sets_grad_on_every_node():
    x, w, b = sn.Input("x", 3.0), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
    wx = w * x
    z = wx + b
    y = z.sigmoid()
    y.backward()
    s = y.value
    assert y.grad == 1.0
    assert z.grad == s * (1 - s)
    assert wx.grad == z.grad and b.grad == z.grad
    assert w.grad == z.grad * 3.0 and x.grad == z.grad * 0.5
    for node in collect([y])[0]:
        assert isinstance(node.grad, float)


def test_article_shared_nodes_accumulate():
    a, b = sn.Input("a", 3.0), sn.Input("b", 5.0)
    d = a - b
    e = a + b
    f = d + e
    f.backward()
    assert a.grad == 2.0
    assert b.grad == 0.0
    assert (d.grad, e.grad, f.grad) == (1.0, 1.0, 1.0)


def test_diamond_counts_every_path():
    x = sn.Input("x", 1.5)
    a = x
    b = a + a
    c = b + b
    c.backward()
    assert c.forward() == 6.0
    assert x.grad == 4.0
    assert b.grad == 2.0


def test_constant_and_unused_leaves_get_zero_gradient():
    x, w = sn.Input("x", 2.0), sn.Parameter(1.0, name="w")
    y = w * 3.0 + 0.0 * x
    y.backward()
    assert x.grad == 0.0 and w.grad == 3.0
    assert y.children[0].children[1].grad == 1.0  # the Constant 3.0: d y / d 3.0 = w


def test_backward_is_idempotent_bit_for_bit():
    sn.seed(5)
    net = sn.MLP(3, [4, 4, 1], activation="tanh", output_activation="sigmoid")
    for i, x in enumerate(net.compile().inputs):
        x.value = 0.3 * (i + 1) - 0.7
    net.backward()
    nodes = list(net.compile().program.nodes)
    first = [_bits(n.grad) for n in nodes]
    net.backward()
    second = [_bits(n.grad) for n in nodes]
    assert first == second
    assert any(n.grad != 0.0 for n in nodes if n.kind == "parameter")


def test_node_backward_agrees_with_network_gradients():
    sn.seed(2)
    net = sn.MLP(2, [3, 1], activation="relu", output_activation="sigmoid")
    compiled = net.compile()
    x1, x2 = compiled.inputs
    x1.value, x2.value = 0.4, -1.3
    net.backward()
    grads = compiled.gradients({"x1": 0.4, "x2": -1.3})
    for node in compiled.parameters + compiled.inputs:
        assert _bits(node.grad) == _bits(grads[node.name])


def test_vector_output_backward_takes_a_seed_per_component():
    x = sn.Input("x", 2.0)
    out = sn.Output([x * 3.0, x * x])
    assert out.forward() == [6.0, 4.0]
    out.backward([1.0, 0.5])
    assert x.grad == 3.0 + 0.5 * 4.0
    with pytest.raises(sn.InputError, match="2 output"):
        out.backward()


# -- depth and work --------------------------------------------------------------


@pytest.mark.slow
def test_a_chain_of_a_million_nodes_runs_without_recursion(default_recursion_limit):
    x = sn.Input("x", 0.5)
    one, k = sn.Constant(1.0), sn.Constant(1.0)
    n = x
    for _ in range(500_000):  # two op nodes per step
        n = sn.Multiply([sn.Add([n, one]), k])
    assert n.forward() == 0.5 + 500_000
    n.backward()
    assert x.grad == 1.0
    assert one.grad == 500_000.0
    assert len(n.compile().program.op_indices) == 1_000_000


@pytest.mark.parametrize("depth", [8, 60])
def test_one_forward_and_backward_evaluate_each_node_once(counting, depth):
    # A ladder of diamonds: every level uses the previous one twice, so a naive
    # recursive evaluation would do 2**depth work.
    left, right, join = counting("L", 1, 0.5), counting("R", 1, 0.5), counting("J", 2)
    x = sn.Input("x", 3.0)
    a = x
    for _ in range(depth):
        a = join(left(a), right(a))
    assert a.forward() == 3.0
    a.backward()
    assert x.grad == 1.0
    assert counting.forwards == Counter({"L": depth, "R": depth, "J": depth})
    assert counting.partials == Counter({"L": depth, "R": depth, "J": depth})


# -- random DAGs against SymPy and torch ---------------------------------------


def test_random_dags_draw_every_builtin_op():
    assert sorted(OP_NAMES) == sorted(name for name, row in OPS.items() if row.builtin)


def _exact(v):
    return sp.Rational(*float(v).as_integer_ratio())


def _engine_and_sympy(dag):
    net = sn.compile(dag.root)
    dag.inputs = {name: dag.inputs[name] for name in net.input_names}
    grads = net.gradients(dag.inputs)
    program = net.program
    symbols = leaf_symbols(program)
    expr = elementary_nodes(program, symbols=symbols)[program.outputs[0]]
    point = {symbols[i]: _exact(program.nodes[i].value if program.nodes[i].kind == "parameter"
                                else dag.inputs[program.names[i]])
             for i in program.inputs + program.parameters}
    value = float(expr.xreplace(point).evalf(30))
    reference = {program.names[i]: float(sp.diff(expr, symbols[i]).xreplace(point).evalf(30))
                 for i in program.inputs + program.parameters}
    return net, grads, value, reference


@settings(deadline=None, derandomize=True, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_dag_gradients_match_sympy(data):
    dag = random_dag(data.draw)
    net, grads, value, reference = _engine_and_sympy(dag)
    out = net.predict(dag.inputs)
    assert math.isclose(out, value, rel_tol=1e-12, abs_tol=1e-12)
    scale = max(1.0, abs(value))
    for name, s in reference.items():
        a = grads[name]
        assert abs(a - s) <= 1e-12 * scale + 1e-10 * abs(s), (name, a, s, net.funcify())
    # the node-level API computes the same numbers, bit for bit
    dag.root.backward()
    for node in net.parameters + net.inputs:
        assert _bits(node.grad) == _bits(grads[node.name])


@settings(deadline=None, derandomize=True, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_dag_gradients_match_finite_differences(data):
    # an oracle independent of both the engine's rules and SymPy: central differences
    # of the forward pass, with a loose mixed tolerance (the DAGs keep ReLUs 0.05 away
    # from their kink, far beyond the step)
    from symnet import engine

    dag = random_dag(data.draw)
    net = sn.compile(dag.root)
    inputs = {name: dag.inputs[name] for name in net.input_names}
    program = net.program
    grads = net.gradients(inputs)
    params = [program.nodes[i].value for i in program.parameters]
    out = program.outputs[0]
    base = engine.evaluate(program, net.leaf_values(inputs, params))[out]
    scale = max(1.0, abs(base))
    for k, i in enumerate(list(program.parameters) + list(program.inputs)):
        name = program.names[i]
        theta = params[k] if k < len(params) else inputs[name]
        h = 1e-6 * max(1.0, abs(theta))
        sides = []
        for step in (h, -h):
            p, v = list(params), dict(inputs)
            if k < len(params):
                p[k] = theta + step
            else:
                v[name] = theta + step
            sides.append(engine.evaluate(program, net.leaf_values(v, p))[out])
        fd = (sides[0] - sides[1]) / (2 * h)
        a = grads[name]
        assert abs(a - fd) <= 1e-7 * scale + 1e-5 * max(abs(a), abs(fd)), (name, a, fd, net.funcify())


def _torch_value(torch, row_name, xs, attr):
    F = torch.nn.functional
    if row_name == "add":
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out
    if row_name == "mul":
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out
    table = {
        "sub": lambda: xs[0] - xs[1],
        "neg": lambda: -xs[0],
        "div": lambda: xs[0] / xs[1],
        "pow": lambda: xs[0] ** attr,
        "exp": lambda: torch.exp(xs[0]),
        "log": lambda: torch.log(xs[0]),
        "relu": lambda: torch.relu(xs[0]),
        "sigmoid": lambda: torch.sigmoid(xs[0]),
        "tanh": lambda: torch.tanh(xs[0]),
        "softmax": lambda: torch.softmax(torch.stack(xs), 0)[attr],
        "log_softmax": lambda: torch.log_softmax(torch.stack(xs), 0)[attr],
        "bce": lambda: F.binary_cross_entropy(xs[0], xs[1]),
        "leaky_relu": lambda: F.leaky_relu(xs[0], 0.01 if attr is None else attr),
        "softplus": lambda: F.softplus(xs[0], threshold=math.inf if attr is None else attr),
        "elu": lambda: F.elu(xs[0], 1.0 if attr is None else attr),
        "erf": lambda: torch.erf(xs[0]),
        "gelu": lambda: F.gelu(xs[0]),
        "silu": lambda: F.silu(xs[0]),
        "abs": lambda: torch.abs(xs[0]),
        "sqrt": lambda: torch.sqrt(xs[0]),
        "step": lambda: 0 * xs[0] + (xs[0] > 0).to(xs[0].dtype),
        "sign": lambda: torch.sign(xs[0]),  # its gradient is 0, as the sign row's
    }
    return table[row_name]()


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.data())
def test_random_dag_gradients_match_torch_autograd(data):
    torch = pytest.importorskip("torch")
    dag = random_dag(data.draw)
    net = sn.compile(dag.root)
    dag.inputs = {name: dag.inputs[name] for name in net.input_names}
    grads = net.gradients(dag.inputs)
    program = net.program
    tensors = []
    leaves = {}
    for i, node in enumerate(program.nodes):
        op = program.ops[i]
        if op is None:
            v = dag.inputs[program.names[i]] if node.kind == "input" else node.value
            t = torch.tensor(v, dtype=torch.float64, requires_grad=node.kind != "constant")
            if node.kind != "constant":
                leaves[program.names[i]] = t
        else:
            t = _torch_value(torch, op.name, [tensors[a] for a in program.args[i]], program.attrs[i])
        tensors.append(t)
    out = tensors[program.outputs[0]]
    out.backward()
    assert math.isclose(out.item(), net.predict(dag.inputs), rel_tol=1e-12, abs_tol=1e-12)
    scale = max(1.0, abs(out.item()))
    for name, t in leaves.items():
        reference = 0.0 if t.grad is None else t.grad.item()
        assert abs(grads[name] - reference) <= 1e-12 * scale + 1e-10 * abs(reference), (name, grads[name], reference)


def test_torch_table_covers_every_builtin_op():
    torch = pytest.importorskip("torch")
    xs = [torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.6, dtype=torch.float64)]
    for name in OP_NAMES:
        n = 1 if OPS[name].arity == 1 else 2
        attr = 2.0 if name == "pow" else (0 if name in ("softmax", "log_softmax") else None)
        y = _torch_value(torch, name, xs[:n], attr)
        assert math.isclose(y.item(), OPS[name].forward(tuple(x.item() for x in xs[:n]), attr), rel_tol=1e-12)
