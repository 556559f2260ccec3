"""Kernels bound by object, and standalone generated modules: a new row alone works in
generated Python and in the NumPy backend; to_python() runs in a fresh namespace."""

from __future__ import annotations

import math
import random

import pytest

import symnet as sn
from symnet.emit.python_guard import ERRORS
from symnet.emit.python_kernels import prelude
from symnet.ops import OPS, Op, call

np = pytest.importorskip("numpy")


# -- a throwaway row, defined here with nothing else edited ------------------------------------


def cube3(x):
    return x * x * x + 0.5 * x


def cube3_grad(x):
    return 3.0 * x * x + 0.5


def cube3_array(x):
    return x * x * x + 0.5 * x


def cube3_grad_array(x):
    return 3.0 * x * x + 0.5


WITH_FORMS = Op(
    "cube3_throwaway", 1, forward=lambda xs, a: cube3(xs[0]), partials=lambda xs, y, a: (cube3_grad(xs[0]),),
    sympy=lambda sp, e, a: e[0] ** 3 + e[0] / 2, text=call("cube3_throwaway"), latex=call(r"\operatorname{c}"),
    python=lambda o, a, k: f"{k(cube3)}({o[0]})", python_partials=lambda o, y, a, k: (f"{k(cube3_grad)}({o[0]})",),
    array={cube3: cube3_array, cube3_grad: cube3_grad_array}, builtin=False)

BARE = Op(
    "cube3_bare", 1, forward=lambda xs, a: cube3(xs[0]), partials=lambda xs, y, a: (cube3_grad(xs[0]),),
    sympy=lambda sp, e, a: e[0] ** 3 + e[0] / 2, text=call("cube3_bare"), latex=call(r"\operatorname{c}"),
    builtin=False)


@pytest.fixture(params=[WITH_FORMS, BARE], ids=["python-forms", "no-forms"])
def row(request):
    OPS[request.param.name] = request.param
    try:
        yield request.param
    finally:
        del OPS[request.param.name]


def _net(row):
    sn.seed(2)
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    w, b = sn.Parameter(0.7, name="w"), sn.Parameter(-0.2, name="b")
    hidden = sn.Node.apply(row.name, [w * x1 + b])
    return sn.compile(sn.Node.apply(row.name, [hidden * x2]) + hidden)


def test_new_row_runs_in_generated_python_and_numpy(row):
    net = _net(row)
    xs = [0.4, -1.3]
    want = net.gradients(xs)
    outs, grads = net.codegen().gradient(xs)
    assert outs == (net.predict(xs),)
    assert list(grads) == list(want.values())
    env: dict = {}
    exec(net.to_python(), env)  # standalone: the row's kernels are written out
    assert env["gradient"](xs, [0.7, -0.2]) == (outs, grads)
    from symnet.backends.numpy_backend import batched

    X = [xs, [1.0, 0.5], [-0.3, 0.2]]
    out, G = batched(net).gradient(X)
    sums = [sum(net.gradients(x)[n] for x in X) for n in net.parameter_names]
    assert np.allclose(G, sums, rtol=1e-13, atol=1e-13)
    assert np.allclose(out[:, 0], [net.predict(x) for x in X], rtol=1e-13)
    assert ("cube3_array(" in net.to_numpy()) == (row is WITH_FORMS)
    env = {}
    exec(net.to_numpy(), env)
    grads = env["vjp"](X, net.layer_parameters(), np.ones((3, 1)))
    assert np.allclose([float(grads["w"]), float(grads["b"])], sums, rtol=1e-13)


def test_standalone_python_imports_no_symnet():
    sn.seed(1)
    net = sn.compile(sn.cross_entropy(sn.MLP(2, [4, 3], activation="sigmoid", output_activation="softmax"), 2))
    src = net.to_python()
    assert src.count(ERRORS) == 1  # symnet only through the guarded import of its error classes
    assert "symnet" not in src.replace("# symnet:", "").replace(ERRORS, "")
    env: dict = {}
    exec(src, env)
    params = [p.value for p in net.parameters]
    assert env["gradient"]([0.3, -0.7], params) == net.codegen().raw_gradient([0.3, -0.7], params, (1.0,))
    assert env["forward"]([0.3, -0.7], params) == (net.predict([0.3, -0.7]),)


@pytest.mark.parametrize("seed", range(6))
def test_standalone_python_equals_engine_on_random_mlps_and_losses(seed):
    rng = random.Random(seed)
    sn.seed(seed)
    act = rng.choice(["relu", "tanh", "sigmoid"])
    sizes = [rng.randint(1, 5) for _ in range(rng.randint(1, 2))]
    loss = rng.choice(["mse", "bce", "ce", None])
    n_in = rng.randint(1, 3)
    if loss == "ce":
        root = sn.cross_entropy(sn.MLP(n_in, sizes + [3], activation=act, output_activation="softmax"), 1)
    else:
        model = sn.MLP(n_in, sizes + [1], activation=act, output_activation="sigmoid")
        root = model if loss is None else getattr(sn, loss)(model, sn.Input("y"))
    net = sn.compile(root)
    env: dict = {}
    exec(net.to_python(), env)
    xs = [rng.uniform(-2, 2) for _ in range(n_in)] + ([rng.random()] if loss in ("mse", "bce") else [])
    outs, grads = env["gradient"](xs, [p.value for p in net.parameters])
    want = net.gradients(xs)
    assert outs == (net.predict(xs),)
    assert list(grads) == [want[n] for n in net.parameter_names + net.input_names]


def test_vector_output_needs_seeds_in_standalone_code():
    a, b = sn.Input("a"), sn.Input("b")
    env: dict = {}
    exec(sn.compile(sn.Output([a * b, (a + b).tanh()])).to_python(), env)
    outs, grads = env["gradient"]([1.0, 2.0], [], (1.0, 0.0))
    assert outs[0] == 2.0 and grads == (2.0, 1.0)
    with pytest.raises(sn.InputError, match="this network has 2 outputs: pass seeds"):
        env["gradient"]([1.0, 2.0], [])


def test_kernels_and_user_names_do_not_clash():
    power, relu_grad, math_ = sn.Input("power"), sn.Parameter(0.5, name="relu_grad"), sn.Parameter(2.0, name="math")
    net = sn.compile(((power * relu_grad).relu() ** 2).sigmoid() * math_)
    env: dict = {}
    exec(net.to_python(), env)
    assert env["gradient"]([1.5], [0.5, 2.0]) == net.codegen().gradient([1.5])
    assert list(net.codegen().gradient([1.5])[1]) == list(net.gradients([1.5]).values())


def test_define_op_runs_standalone():
    sq = sn.define_op("square_standalone_test", 1, forward=lambda v: v * v, partials=lambda v: (2 * v,),
                      sympy=lambda v: v ** 2)
    x, w = sn.Input("x"), sn.Parameter(1.5, name="w")
    net = sn.compile(sq(w * x).sigmoid())
    env: dict = {}
    exec(net.to_python(), env)
    assert env["gradient"]([0.5], [1.5]) == net.codegen().gradient([0.5])


def test_prelude_writes_imports_for_c_functions_and_source_for_python_ones():
    text = prelude([("exp", math.exp), ("cube", cube3)])
    assert "from math import exp" in text and "    def cube3(x):" in text and "cube = _make_cube()" in text
    with pytest.raises(sn.GraphError, match="standalone"):
        prelude([("thing", object())])
