"""Batched NumPy backend: layer blocks from provenance, equal to the engine to rounding."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")

import symnet as sn  # noqa: E402
from symnet.backends.layers import find_layers  # noqa: E402
from symnet.backends.numpy_backend import batched, to_numpy_source  # noqa: E402
from test_emit_python import random_graph  # noqa: E402


def close(a: float, b: float, tol: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def engine_sums(net: sn.Network, X: list[list[float]], seeds=None):
    outs, grads = [], [0.0] * len(net.parameters)
    for x in X:
        outs.append(net.predict(x))
        g = net.gradients(x, seed=seeds)
        for k, name in enumerate(net.parameter_names):
            grads[k] += g[name]
    return outs, grads


def check(net: sn.Network, X: list[list[float]], tol: float = 1e-12, seeds=None) -> None:
    fast = batched(net)
    want_out, want_g = engine_sums(net, X, seeds)
    out, G = fast.gradient(X, seeds=seeds)
    assert out.shape == (len(X), len(net.program.outputs))
    for row, want in zip(out, want_out):
        for a, b in zip(row, want if isinstance(want, list) else [want]):
            assert close(a, b, tol), (a, b)
    scale = max([1.0] + [abs(g) for g in want_g])
    for a, b in zip(G, want_g):
        assert abs(a - b) <= tol * scale, (a, b)
    fwd = fast.forward(X)
    assert np.array_equal(fwd, out) or np.allclose(fwd, out, rtol=1e-15, atol=0)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("loss", [None, "mse", "bce"])
def test_mlp_matches_engine(activation, loss):
    sn.seed(4)
    model = sn.MLP(3, [7, 5, 1], activation=activation, output_activation="sigmoid")
    root = model if loss is None else getattr(sn, loss)(model, sn.Input("y"))
    net = sn.compile(root)
    rng = random.Random(0)
    X = [[rng.uniform(-2, 2) for _ in range(3)] + ([rng.random()] if loss else []) for _ in range(25)]
    check(net, X)
    src = to_numpy_source(net.program)
    assert src.count("np.dot(") >= 3  # each layer is a matrix product, not one op per neuron


def test_softmax_output_and_cross_entropy():
    sn.seed(5)
    probs = sn.MLP(2, [6, 3], activation="tanh", output_activation="softmax")
    rng = random.Random(1)
    X = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(10)]
    check(sn.compile(probs), X, seeds=[1.0, 0.5, -2.0])
    check(sn.compile(sn.cross_entropy(probs, 1)), X)


def test_layers_found_from_provenance():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [16, 16, 1]))
    blocks, acts = find_layers(net.program)
    assert [(len(b.sums), len(b.inputs)) for b in blocks] == [(16, 2), (16, 16), (1, 16)]
    assert [len(a.nodes) for a in acts] == [16, 16]


def test_hand_built_graph_falls_back_to_elementwise():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-0.25, name="b")
    net = sn.compile((w * x + b).tanh() * w)
    assert find_layers(net.program) == ([], [])
    check(net, [[0.1 * k] for k in range(-5, 6)])


def test_layer_with_interleaved_parameters_is_one_matrix():
    xs = [sn.Input("a"), sn.Input("c")]
    u1 = sn.Linear(xs, layer=1, unit=1)
    other = sn.Parameter(0.3, name="other")
    u2 = sn.Linear(xs, layer=1, unit=2)
    net = sn.compile((u1.relu() + u2.relu()) * other)
    blocks, _ = find_layers(net.program)
    assert len(blocks) == 1 and len(blocks[0].sums) == 2
    assert "np.dot(W1, X)" in to_numpy_source(net.program)
    arrays = net.layer_parameters()
    assert arrays["W1"].shape == (2, 2) and float(arrays["other"]) == 0.3
    check(net, [[0.3, -0.2], [1.0, 0.5], [-0.7, 0.9]])


def test_user_op_runs_elementwise():
    sq = sn.define_op("square_numpy_test", 1, forward=lambda v: v * v, partials=lambda v: (2 * v,),
                      sympy=lambda v: v ** 2)
    x, w = sn.Input("x"), sn.Parameter(1.5, name="w")
    net = sn.compile(sq(w * x) + w)
    check(net, [[0.5], [1.0], [-2.0]])


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.integers(0, 10**9), st.integers(1, 30))
def test_random_graphs_match_engine_or_raise_the_same_error(seed, size):
    net, xs = random_graph(seed, size)
    rng = random.Random(seed)
    X = [[v * rng.uniform(0.8, 1.2) for v in xs] for _ in range(4)]
    try:
        want = engine_sums(net, X)
    except sn.NumericalError as exc:
        with pytest.raises(sn.NumericalError) as info:
            batched(net).gradient(X)
        assert str(info.value) == str(exc)
        return
    out, G = batched(net).gradient(X)
    for row, w in zip(out[:, 0], want[0]):
        assert close(row, w, 1e-12)
    scale = max([1.0] + [abs(g) for g in want[1]])
    for a, b in zip(G, want[1]):
        assert abs(a - b) <= 1e-12 * scale


def test_numerical_error_names_the_node():
    x = sn.Input("x")
    net = sn.compile((x - 1.0).log())
    with pytest.raises(sn.NumericalError, match="log"):
        batched(net).forward([[2.0], [0.5]])
    with pytest.raises(sn.NumericalError, match="log"):
        batched(net).gradient([[2.0], [0.5]])


def test_bad_input_shape():
    x = sn.Input("x")
    net = sn.compile(x * 2.0)
    with pytest.raises(sn.InputError, match="shape"):
        batched(net).forward([[1.0, 2.0]])
    with pytest.raises(sn.InputError, match="finite"):
        batched(net).forward([[math.inf]])
    assert batched(net).forward([1.0, 2.0]).tolist() == [[2.0], [4.0]]
