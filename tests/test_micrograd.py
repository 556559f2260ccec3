"""symnet.micrograd (micrograd's API on symnet's engine) and from_micrograd (any micrograd-like graph)."""

from __future__ import annotations

import math
import random
import subprocess
import sys

import pytest

import symnet as sn
from symnet.errors import GraphError, InputError
from symnet.micrograd import Value
from symnet.micrograd.nn import MLP, Layer, Neuron

README = '''
from symnet.micrograd.engine import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numerical value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numerical value of dg/db
'''


def test_micrograds_readme_example_runs_with_only_its_import_changed():
    out = subprocess.run([sys.executable, "-c", README], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["24.7041", "138.8338", "645.5773"]


def _readme_graph(V):
    a, b = V(-4.0), V(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g


def test_same_values_and_gradients_as_micrograd_itself():
    engine = pytest.importorskip("micrograd.engine")
    a, b, g = _readme_graph(Value)
    ra, rb, rg = _readme_graph(engine.Value)
    g.backward()
    rg.backward()
    assert g.data == pytest.approx(rg.data, rel=1e-13)
    assert (a.grad, b.grad) == pytest.approx((ra.grad, rb.grad), rel=1e-12)
    # and from_micrograd reads micrograd's own graph: same function, same gradients
    net = sn.from_micrograd(rg, parameters=[ra, rb])
    assert net.predict() == pytest.approx(rg.data, rel=1e-13)
    grads = net.gradients()
    assert [grads[n] for n in net.parameter_names] == pytest.approx([ra.grad, rb.grad], rel=1e-12)


def test_hand_built_values_as_in_the_backprop_articles():
    # the articles build ops by hand: Value(t, (self,), 'tanh') with their own _backward,
    # which symnet does not need: the op row gives the derivative
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    o = Value(math.tanh(n.data), (n,), "tanh", label="o")
    o.backward()
    assert round(o.data, 4) == 0.7071
    assert (round(x1.grad, 4), round(w1.grad, 4), round(x2.grad, 4), round(w2.grad, 4)) == (-1.5, 1.0, 0.5, 0.0)
    assert o._op == "tanh" and n._op == "+" and (x1 * w1)._op == "*" and (x1**2)._op == "**2"
    assert (x1 * w1)._prev == {x1, w1}
    with pytest.raises(GraphError, match="unknown op 'mystery'"):
        Value(1.0, (n,), "mystery")


class MyTensor:
    """A micrograd clone of the kind the articles write: data, grad, _prev (a set), _op, label."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data, self.grad, self._prev, self._op, self.label = data, 0.0, set(_children), _op, label

    def __add__(self, other):
        other = other if isinstance(other, MyTensor) else MyTensor(other)
        return MyTensor(self.data + other.data, (self, other), "+")

    def __mul__(self, other):
        other = other if isinstance(other, MyTensor) else MyTensor(other)
        return MyTensor(self.data * other.data, (self, other), "*")

    def __pow__(self, k):
        return MyTensor(self.data ** k, (self,), f"**{k}")

    def sigmoid(self):
        return MyTensor(1 / (1 + math.exp(-self.data)), (self,), "sigmoid")


def test_from_micrograd_reads_a_clone_with_inputs_parameters_constants_and_labels():
    x = MyTensor(-2.0, label="x")
    w = MyTensor(0.5, label="w")
    b = MyTensor(1.5, label="b")
    z = (w * x + b) * 3
    z.label = "z"
    y = (z.sigmoid() + w * w) ** 2
    net = sn.from_micrograd(y, inputs=[x], parameters=[b, w])
    assert net.input_names == ["x"] and net.parameter_names == ["b", "w"]
    assert net.funcify(layers=True) == "z = (w*x + b)*3\nyhat = (w*w + sigmoid(z))**2"
    assert net.predict([-2.0]) == pytest.approx(y.data, rel=1e-15)
    g = net.gradients([-2.0])
    s = 1 / (1 + math.exp(-z.data))
    outer = 2 * (s + 0.25)
    assert g["w"] == pytest.approx(outer * (s * (1 - s) * 3 * -2.0 + 2 * 0.5), rel=1e-13)
    assert g["b"] == pytest.approx(outer * s * (1 - s) * 3, rel=1e-13)
    assert sn.check_gradients(net, {"x": -2.0}).ok
    # the same graph prints the same way however the sets iterate
    assert sn.from_micrograd(y, inputs=[x], parameters=[b, w]).funcify() == net.funcify()


def test_from_micrograd_drops_the_zero_that_python_sum_starts_from():
    x1, x2 = Value(1.0, label="x1"), Value(2.0, label="x2")
    w1, w2 = Value(0.5, label="w1"), Value(-0.3, label="w2")
    s = sum([w1 * x1, w2 * x2])  # 0 + w1*x1 + w2*x2 in micrograd's graph
    loss = sum([(1 + -s).relu(), (1 + s).relu()]) * (1.0 / 2)
    net = sn.from_micrograd(loss, inputs=[x1, x2], parameters=[w1, w2])
    assert net.funcify() == "(relu(1 - (w1*x1 + w2*x2)) + relu(1 + (w1*x1 + w2*x2)))*0.5"
    assert net.predict([1.0, 2.0]) == pytest.approx(loss.data, rel=1e-15)
    loss.backward()
    g = net.gradients([1.0, 2.0])
    assert (g["w1"], g["w2"]) == (pytest.approx(w1.grad, rel=1e-15), pytest.approx(w2.grad, rel=1e-15))
    assert sn.check_gradients(net, {"x1": 1.0, "x2": 2.0}).ok
    # a zero that is a parameter, an input or labelled is the user's and stays
    b = Value(0.0, label="b")
    assert sn.from_micrograd(b + w1 * x1, inputs=[x1], parameters=[b, w1]).funcify() == "b + w1*x1"
    c = Value(0.0, label="c")
    assert sn.from_micrograd(c + w1, parameters=[w1]).funcify() == "0 + w1"  # constants print as values


def test_from_micrograd_refuses_what_it_cannot_read():
    x, w = MyTensor(1.0, label="x"), MyTensor(2.0, label="w")
    y = w * x
    with pytest.raises(InputError, match="not a micrograd value"):
        sn.from_micrograd(y, inputs=[1.0])
    with pytest.raises(InputError, match="which the root does not use"):
        sn.from_micrograd(y, inputs=[MyTensor(3.0, label="q")])
    with pytest.raises(InputError, match="not a leaf"):
        sn.from_micrograd(y + 1, inputs=[y])
    bad = MyTensor(5.0, (x, w), "*", label="bad")  # data disagrees with its op
    with pytest.raises(GraphError, match=r"value 'bad': op '\*' of its children gives 2.0, but its data is 5.0"):
        sn.from_micrograd(bad)
    minus = MyTensor(-1.0, (x, w), "-")
    with pytest.raises(GraphError, match="needs its children in order"):
        sn.from_micrograd(minus)


def test_gradients_accumulate_as_in_micrograd():
    a = Value(3.0)
    y = a * a + 1
    y.backward()
    assert a.grad == 6.0
    y.backward()
    assert a.grad == 12.0 and y.grad == 1.0  # accumulated, like micrograd; the root is set to 1
    a.grad = 0.0
    y.backward()
    assert a.grad == 6.0


def test_no_recursion_limit(default_recursion_limit):
    x = Value(0.5)
    y = x
    for _ in range(5_000):
        y = (y * 0.9999).tanh() + 0.0001
    y.backward()
    assert math.isfinite(x.grad) and x.grad != 0.0
    clone = MyTensor(0.5)
    z = clone
    for _ in range(5_000):
        z = z * 1.0 + 0.0
    assert sn.from_micrograd(z, inputs=[clone]).gradients([0.5])["x1"] == 1.0


def test_compile_prints_checks_and_reports_a_value_graph(tmp_path):
    x, w, b = Value(1.5, label="x"), Value(-0.5, label="w"), Value(0.1, label="b")
    y = (w * x + b).sigmoid()
    net = sn.compile(y)
    assert net.funcify() == "sigmoid(w*x + b)"
    assert sn.check_gradients(net).ok
    from symnet.report import write_report

    written = write_report(net, tmp_path / "r.tex", {})
    assert "sigma" in (tmp_path / "r.tex").read_text() and written


def test_nn_trains_like_micrograd():
    random.seed(1337)
    model = MLP(2, [8, 8, 1])
    assert len(model.parameters()) == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    assert str(Neuron(3, nonlin=False)) == "LinearNeuron(3)" and str(Layer(2, 1)) == "Layer of [ReLUNeuron(2)]"
    xs = [[2.0, 3.0], [3.0, -1.0], [0.5, 1.0], [1.0, 1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]

    def loss():
        return sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))

    first = loss().data
    for _ in range(20):
        total = loss()
        model.zero_grad()
        assert all(p.grad == 0.0 for p in model.parameters())
        total.backward()
        for p in model.parameters():
            p.data += -0.01 * p.grad
    assert loss().data < first


def test_nn_equals_micrograds_nn_with_the_same_seed():
    mg_nn = pytest.importorskip("micrograd.nn")
    random.seed(7)
    mine = MLP(3, [4, 4, 1])
    random.seed(7)
    theirs = mg_nn.MLP(3, [4, 4, 1])
    assert [p.data for p in mine.parameters()] == [p.data for p in theirs.parameters()]
    x = [0.5, -1.0, 2.0]
    out, ref = mine(x), theirs(x)
    assert out.data == pytest.approx(ref.data, rel=1e-13)
    out.backward()
    ref.backward()
    assert [p.grad for p in mine.parameters()] == pytest.approx([p.grad for p in theirs.parameters()], rel=1e-12)
