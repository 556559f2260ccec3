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
from symnet.emit.python_guard import ERRORS  # noqa: E402
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


# -- to_numpy(): the standalone module in layer form ---------------------------------------------


def test_layer_parameters_follow_the_parameter_names():
    sn.seed(3)
    net = sn.compile(sn.MLP(2, [3, 1]))
    arrays = net.layer_parameters()
    assert list(arrays) == ["W1", "b1", "W2", "b2"]
    assert arrays["W1"].shape == (3, 2) and arrays["b1"].shape == (3,) and arrays["W2"].shape == (1, 3)
    values = dict(zip(net.parameter_names, (p.value for p in net.parameters)))
    for j in range(3):
        assert arrays["b1"][j] == values[f"b1_{j + 1}"]
        for i in range(2):
            assert arrays["W1"][j, i] == values[f"w1_{j + 1}_{i + 1}"]


def _standalone(net):
    env: dict = {}
    exec(net.to_numpy(), env)
    return env


@pytest.mark.parametrize("seed", range(8))
def test_to_numpy_runs_standalone_and_equals_the_engine(seed):
    rng = random.Random(seed)
    sn.seed(seed)
    act = rng.choice(["relu", "tanh", "sigmoid"])
    n_in = rng.randint(1, 3)
    sizes = [rng.randint(1, 6) for _ in range(rng.randint(1, 3))]
    kind = rng.choice(["model", "mse", "bce", "softmax", "ce"])
    if kind in ("softmax", "ce"):
        model = sn.MLP(n_in, sizes + [3], activation=act, output_activation="softmax")
        root = model if kind == "softmax" else sn.cross_entropy(model, rng.randrange(3))
    else:
        model = sn.MLP(n_in, sizes + [1], activation=act, output_activation="sigmoid")
        root = model if kind == "model" else getattr(sn, kind)(model, sn.Input("y"))
    net = sn.compile(root)
    n_x = len(net.inputs)
    X = [[rng.uniform(-2, 2) for _ in range(n_in)] + [rng.random() for _ in range(n_x - n_in)] for _ in range(7)]
    env = _standalone(net)
    params = net.layer_parameters()
    out = env["forward"](X, params)
    assert out.shape == (7, len(net.program.outputs))
    G = np.array([[rng.uniform(-1, 1) for _ in net.program.outputs] for _ in X])
    grads = env["vjp"](X, params, G)
    assert set(grads) == set(params)
    want = {n: 0.0 for n in net.parameter_names}
    for x, g, row in zip(X, G, out):
        preds = net.predict(x)
        preds = preds if isinstance(preds, list) else [preds]
        assert np.allclose(row, preds, rtol=1e-12, atol=1e-14)
        for n, v in net.gradients(x, seed=list(g) if len(g) > 1 else float(g[0])).items():
            if n in want:
                want[n] += v
    flat = batched(net).layout.flat(grads, len(net.parameters))
    scale = max([1.0] + [abs(v) for v in want.values()])
    assert np.allclose(flat, [want[n] for n in net.parameter_names], rtol=0, atol=1e-12 * scale)


def test_to_numpy_length_does_not_grow_with_width():
    sn.seed(0)
    small = sn.compile(sn.mse(sn.MLP(2, [4, 4, 1]), sn.Input("y"))).to_numpy()
    wide = sn.compile(sn.mse(sn.MLP(2, [64, 64, 1]), sn.Input("y"))).to_numpy()
    assert len(wide.splitlines()) <= 1.2 * len(small.splitlines())
    from symnet.emit.python_guard import numpy_guard

    guard = numpy_guard(["x1", "x2", "y"], {"W1": (64, 2)}, ["L"])  # argument checks: the same at any width
    assert len(wide.splitlines()) - len(guard.splitlines()) < 90  # the kernels, forward and vjp


def test_to_numpy_names_come_from_the_model():
    sn.seed(0)
    src = sn.compile(sn.MLP(2, [4, 4, 1], activation="tanh")).to_numpy()
    for line in ("    z1 = np.dot(W1, X)", "    h1 = tanh(z1)", "    dW1 = np.dot(dz1, X.T)",
                 "    db2 = dz2.sum(axis=1)"):
        assert line in src, line
    assert src.count(ERRORS) == 1  # symnet only through the guarded import of its error classes
    assert "symnet" not in src.replace("# symnet:", "").replace(ERRORS, "")


def test_array_bce_refuses_probabilities_outside_zero_one():
    p = sn.Input("p")
    net = sn.compile(sn.bce(p, 1.0))
    with pytest.raises(sn.NumericalError, match=r"\(bce\).*1\.5"):
        batched(net).forward([[0.5], [1.5]])
    with pytest.raises(sn.NumericalError, match=r"\(bce\)"):
        batched(net).gradient([[-0.5]])


def test_non_finite_gradients_and_seeds_are_numerical_errors():
    x, b = sn.Input("x"), sn.Parameter(1e-300, name="b")
    with pytest.raises(sn.NumericalError, match=r"'b'.*-inf"):
        batched(sn.compile(x / b)).gradient([[1.0]])
    w = sn.Parameter(1e-320, name="w")
    with pytest.raises(sn.NumericalError, match=r"inf.*\(log\)"):
        batched(sn.compile((w * x).log())).gradient([[1.0]])
    with pytest.raises(sn.NumericalError, match="nan"):
        batched(sn.compile(x * w)).gradient([[1.0]], seeds=math.nan)


def test_training_runs_the_to_numpy_code():
    sn.seed(1)
    model = sn.MLP(2, [4, 1], activation="tanh")
    data = [([0.1 * k, -0.2 * k], 0.05 * k) for k in range(8)]
    from symnet.train import loss_graph, make_trainer

    trainer = make_trainer(model, "mse", data, batch_size=None, engine="numpy")
    loss_net = next(iter(trainer.steps.nets.values())).network
    assert trainer.steps.fns[next(iter(trainer.steps.fns))] is batched(loss_net).raw_forward_vjp
    env = _standalone(loss_net)
    X = np.array([list(x) + [t] for x, t in data])
    want = env["vjp"](X, loss_net.layer_parameters(), np.ones((8, 1)))
    loss, grads = trainer.steps(list(range(8)), trainer.steps.load([p.value for p in loss_net.parameters]))
    assert all(np.array_equal(grads[k], want[k]) for k in want)
    assert loss_graph(model, "mse") is not None


@settings(deadline=None, derandomize=True, max_examples=40)
@given(st.sampled_from(["div", "log", "exp", "mul", "pow", "bce"]),
       st.lists(st.floats(-1e308, 1e308), min_size=1, max_size=4))
def test_batched_results_are_finite_or_numerical_errors(op, xs):
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    root = {"div": lambda: w / x, "log": lambda: (w * x).log(), "exp": lambda: (w * x).exp(),
            "mul": lambda: w * x * 1e300, "pow": lambda: (w * x) ** -2, "bce": lambda: sn.bce(w * x, 1.0)}[op]()
    try:
        out, G = batched(sn.compile(root)).gradient([[v] for v in xs])
    except sn.NumericalError:
        return
    assert np.isfinite(out).all() and np.isfinite(G).all()


def test_bce_domain_agrees_between_engines():
    p = sn.Input("p")
    net = sn.compile(sn.bce(p, 1.0))
    for value in (1.5, -0.5):
        engine_refuses = python_refuses = False
        try:
            net.gradients([value])
        except sn.NumericalError:
            engine_refuses = True
        try:
            net.codegen().gradient([value])
        except sn.NumericalError:
            python_refuses = True
        assert python_refuses == engine_refuses
        with pytest.raises(sn.NumericalError, match="bce"):
            batched(net).gradient([[value]])


@settings(deadline=None, derandomize=True, max_examples=30)
@given(st.integers(0, 10**9), st.integers(1, 25))
def test_standalone_modules_of_random_graphs_equal_the_in_process_code(seed, size):
    net, xs = random_graph(seed, size)
    env: dict = {}
    exec(net.to_numpy(), env)
    X = np.array([xs, [v * 1.1 for v in xs]])
    params = net.layer_parameters()
    with np.errstate(all="ignore"):  # the same generated code, unchecked
        got = env["_sn_forward_vjp"](X, params, np.ones((2, 1)))
        want = batched(net).raw_forward_vjp(X, params, np.ones((2, 1)))
    assert np.array_equal(got[0], want[0], equal_nan=True)
    assert all(np.array_equal(got[1][k], want[1][k], equal_nan=True) for k in want[1])
    try:  # the checked function: the same numbers, or a NumericalError where the in-process one fails
        want_checked = batched(net).vjp(X, params, np.ones((2, 1)))
    except sn.NumericalError:
        with pytest.raises(sn.NumericalError):
            env["forward_vjp"](X, params, np.ones((2, 1)))
    else:
        got_checked = env["forward_vjp"](X, params, np.ones((2, 1)))
        assert np.array_equal(got_checked[0], want_checked[0])
    env = {}
    exec(net.to_python(), env)
    ps = [p for p in net.parameter_values]
    try:
        want_py = net.codegen().raw_gradient(xs, ps, (1.0,))
    except (ArithmeticError, ValueError) as exc:
        with pytest.raises(type(exc)):
            env["_sn_gradient"](xs, ps)
        with pytest.raises(sn.NumericalError, match=r"computing \w+ \(line \d+ of _sn_gradient\) failed"):
            env["gradient"](xs, ps)
        return
    assert env["_sn_gradient"](xs, ps) == want_py
    if all(map(math.isfinite, want_py[0] + want_py[1])):
        assert env["gradient"](xs, ps) == want_py
    else:
        with pytest.raises(sn.NumericalError, match="not a finite number"):
            env["gradient"](xs, ps)


def test_a_failure_hidden_inside_the_batch_is_still_an_error():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    net = sn.compile((w * x).log().relu() * w)  # relu(log(0)) = relu(-inf) = 0 hides the failure
    with pytest.raises(sn.NumericalError, match="log"):
        batched(net).gradient([[0.0], [1.0]])
    with pytest.raises(sn.NumericalError, match="log"):
        batched(net).forward([[0.0]])
    data = [([0.0], 1.0), ([1.0], 2.0)]
    with pytest.raises(sn.NumericalError):
        sn.train_model(net, "mse", data, epochs=1, batch_size=None, engine="numpy")
