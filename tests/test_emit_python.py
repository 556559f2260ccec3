"""Generated Python: equal to the engine on random graphs of every op, cheap gradient,
readable source, errors as NumericalError, tracebacks through generated lines."""

from __future__ import annotations

import ast
import math
import random
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
from symnet.emit.python_load import load
from symnet.emit.python_source import CHUNK, op_counts, to_python
from symnet.emit.python_train import accumulate_source
from symnet.ops import OPS

BUILTIN = sorted(name for name, row in OPS.items() if row.builtin)

# The structured parameter of the ops that have one (tests may name ops; emitters may not).
ATTRS = {
    "pow": lambda rng, n: rng.choice([2.0, 3.0, 1.0, 0.0, -1.0, 0.5, -2.0]),
    "softmax": lambda rng, n: rng.randrange(n),
    "log_softmax": lambda rng, n: rng.randrange(n),
    "leaky_relu": lambda rng, n: rng.choice([None, 0.2]),
    "elu": lambda rng, n: rng.choice([None, 0.5]),
    "softplus": lambda rng, n: rng.choice([None, 1.0]),
}
# Operands kept inside an op's domain: sqrt'(0) is infinite and raises in the engine even
# for a derivative that only an input needs, which the batched backend (parameters
# only) never computes.
INSIDE = {"sqrt": lambda k: sn.Node.apply("add", (sn.Node.apply("mul", (k, k)), 0.25))}


def close(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


def assert_matches_engine(net: sn.Network, xs: list[float]) -> None:
    """The generated gradient gives the engine's output and every one of its gradients."""
    outs, grads = net.codegen().gradient(xs)
    want = net.gradients(xs)
    assert close(outs[0], net.predict(xs))
    assert all(close(g, want[n]) for n, g in zip(net.codegen().gradient_names, grads))
    assert len(grads) == len(want)


def random_graph(seed: int, size: int, outputs: int = 1) -> tuple[sn.Network, list[float]]:
    """A random DAG over 1-3 inputs, parameters and constants using every builtin op."""
    rng = random.Random(seed)
    inputs = [sn.Input(f"x{k}") for k in range(1, rng.randint(1, 3) + 1)]
    pool: list[sn.Node] = list(inputs)
    pool += [sn.Parameter(rng.uniform(-1.5, 1.5), name=f"p{k}") for k in range(1, rng.randint(1, 3) + 1)]
    pool.append(sn.Constant(rng.choice([2.0, -0.5, 3.0])))
    for k in range(size):
        name = BUILTIN[k % len(BUILTIN)] if k < len(BUILTIN) else rng.choice(BUILTIN)
        row = OPS[name]
        n = row.arity if row.arity is not None else rng.randint(row.min_arity, 4)
        kids = [rng.choice(pool[-6:]) if rng.random() < 0.6 else rng.choice(pool) for _ in range(n)]
        attr = ATTRS[name](rng, n) if name in ATTRS else None
        if name in INSIDE:
            kids = [INSIDE[name](k) for k in kids]
        if name == "bce":  # a probability and a target in [0, 1]: bce refuses anything else
            kids = [k.sigmoid() for k in kids]
        pool.append(sn.Node.apply(name, kids, attr=attr))
    roots = pool[-outputs:]
    net = sn.compile(roots[0] if outputs == 1 else sn.Output(roots))
    return net, [rng.uniform(0.1, 1.2) for _ in net.inputs]


def engine_or_error(fn):
    try:
        return fn(), None
    except sn.NumericalError as exc:
        return None, exc


@settings(deadline=None, derandomize=True, max_examples=150)
@given(st.integers(0, 10**9), st.integers(1, 40), st.integers(1, 2))
def test_generated_code_equals_engine_on_random_graphs(seed, size, outputs):
    net, xs = random_graph(seed, size, outputs)
    seeds = [1.0, -0.75][:outputs]
    fns = net.codegen()
    want, err = engine_or_error(lambda: net.gradients(xs, seed=seeds if outputs > 1 else None))
    got, err2 = engine_or_error(lambda: fns.gradient(xs, seeds=seeds if outputs > 1 else None))
    assert (err is None) == (err2 is None)
    if err is not None:
        assert str(err) == str(err2)
        return
    outs, grads = got
    for a, b in zip(outs, [net.predict(xs)] if outputs == 1 else net.predict(xs)):
        assert close(a, b)
    assert len(grads) == len(want)
    for name, g in zip(fns.gradient_names, grads):
        assert close(g, want[name]), (name, g, want[name])


def test_raw_functions_are_bit_exact_on_an_mlp_with_mse():
    sn.seed(3)
    y = sn.Input("y")
    net = sn.compile(sn.mse(sn.MLP(2, [8, 8, 1], activation="tanh"), y))
    fns = net.codegen()
    params = [p.value for p in net.parameters]
    rng = random.Random(0)
    for _ in range(20):
        xs = [rng.uniform(-2, 2) for _ in range(3)]
        outs, grads = fns.raw_gradient(xs, params, (1.0,))
        want = net.gradients(xs)
        assert outs == (net.predict(xs),)
        assert list(grads) == list(want.values())


def test_source_is_straight_line_readable_and_named_like_the_network():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
    net = sn.compile((w * x + b).sigmoid())
    src = net.to_python()
    assert src == to_python(net.program)
    tree = ast.parse(src)
    fns = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert {"forward", "gradient"} <= {f.name for f in fns}  # the checked functions (symnet.emit.python_guard)
    assert [f.name for f in fns][-2:] == ["_sn_forward", "_sn_gradient"]  # the generated code they run
    for fn in fns[-2:]:
        assert not any(isinstance(n, (ast.For, ast.While, ast.Lambda, ast.FunctionDef)) for n in ast.walk(fn)
                       if n is not fn)
    assert "    yhat = sigmoid(t2)" in src or "sigmoid(" in src
    assert "    d_w = " in src and "return (yhat,), (d_w, d_b, d_x)" in src


def test_shared_value_is_computed_once():
    x = sn.Input("x")
    s = (x * x).exp()
    net = sn.compile(s + s * s)
    src = net.to_python()
    body = src.split("def _sn_gradient")[0]
    assert body.count("exp(") == 1


def test_output_is_deterministic():
    texts = []
    for _ in range(2):
        sn.seed(5)
        texts.append(sn.compile(sn.mse(sn.MLP(2, [3, 1]), sn.Input("y"))).to_python())
    assert texts[0] == texts[1]


def test_names_clashing_with_kernels_are_renamed():
    power, relu_grad = sn.Input("power"), sn.Parameter(2.0, name="relu_grad")
    net = sn.compile((power * relu_grad).relu() ** 2)
    out, grads = net.codegen().gradient([1.5])
    assert out == (net.predict([1.5]),)
    assert list(grads) == list(net.gradients([1.5]).values())


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["mse", "bce", None])
def test_gradient_costs_at_most_four_forwards(activation, loss):
    sn.seed(0)
    model = sn.MLP(3, [6, 5, 1], activation=activation, output_activation="sigmoid")
    root = model if loss is None else getattr(sn, loss)(model, sn.Input("y"))
    counts = sn.compile(root).op_counts()
    assert counts == op_counts(sn.compile(root).program)
    assert counts["gradient"] <= 4 * counts["forward"], counts


def test_gradient_cost_bound_on_cross_entropy_and_chains():
    sn.seed(0)
    counts = sn.compile(sn.cross_entropy(sn.MLP(4, [8, 3], activation="tanh", output_activation="softmax"), 1)).op_counts()
    assert counts["gradient"] <= 4 * counts["forward"], counts
    for act in ("relu", "sigmoid", "tanh", "exp"):
        y = sn.Input("x")
        for _ in range(50):
            y = getattr(y * 0.5 + 0.1, act)()
        counts = sn.compile(y).op_counts()
        assert counts["gradient"] <= 4 * counts["forward"], (act, counts)


def test_cross_entropy_softmax_network():
    sn.seed(1)
    logits = sn.MLP(2, [4, 3], activation="tanh", output_activation="softmax")
    net = sn.compile(sn.cross_entropy(logits, 2))
    xs = [0.3, -0.7]
    assert_matches_engine(net, xs)


def test_failure_is_a_numerical_error_naming_the_node():
    x = sn.Input("x")
    net = sn.compile((x * 3.0).log())
    fns = net.codegen()
    with pytest.raises(sn.NumericalError, match="log") as info:
        fns.forward([-1.0])
    assert "'yhat'" in str(info.value) or "yhat" in str(info.value)
    with pytest.raises(sn.NumericalError):
        fns.gradient([-1.0])
    # a silent overflow to inf is caught too
    big = sn.compile(sn.Input("a") * 1e300 * 1e300)
    with pytest.raises(sn.NumericalError, match="overflow"):
        big.codegen().forward([10.0])


def test_traceback_shows_generated_lines():
    x = sn.Input("x")
    fns = sn.compile((x + 1.0).log()).codegen()
    try:
        fns.raw_forward([-5.0], [])
    except ValueError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
    else:  # pragma: no cover
        pytest.fail("log of a negative number should raise")
    gen = [f for f in frames if f.filename == fns.filename]
    assert gen and gen[0].line == "yhat = log(t1)"


def test_bad_inputs_raise_input_error():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    fns = sn.compile(w * x).codegen()
    with pytest.raises(sn.InputError):
        fns.forward([1.0, 2.0])
    with pytest.raises(sn.InputError):
        fns.gradient([math.nan])
    assert fns.forward({"x": 2.0}) == (2.0,)


def test_vector_output_needs_seeds():
    a, b = sn.Input("a"), sn.Input("b")
    net = sn.compile(sn.Output([a * b, a + b]))
    fns = net.codegen()
    with pytest.raises(sn.InputError):
        fns.gradient([1.0, 2.0])
    outs, grads = fns.gradient([1.0, 2.0], seeds=[1.0, 2.0])
    assert outs == (2.0, 3.0) and grads == (4.0, 3.0)


def test_codegen_is_cached():
    x = sn.Input("x")
    net = sn.compile(x * 2.0)
    assert net.codegen() is net.codegen()


def test_wide_sums_and_products_compile():
    xs = [sn.Input(f"x{k}") for k in range(1, 3 * CHUNK + 2)]
    p = sn.Parameter(1.0, name="p")
    wide = sn.Add([x * p for x in xs] + [sn.Multiply(xs[:300])])
    net = sn.compile(wide)
    vals = [1.0 + k / 1000 for k in range(len(xs))]
    assert_matches_engine(net, vals)


def test_long_chain_compiles_without_recursion():
    x = sn.Input("x")
    y = x
    for _ in range(3000):
        y = (y * 0.999).tanh()
    net = sn.compile(y)
    outs, grads = net.codegen().gradient([0.5])
    assert close(outs[0], net.predict([0.5]))
    assert close(grads[0], net.gradients([0.5])["x"])


def test_accumulate_matches_the_interpreted_sums():
    sn.seed(2)
    net = sn.compile(sn.mse(sn.MLP(2, [4, 1]), sn.Input("y")))
    src, env = accumulate_source(net.program)
    acc = load(src, env, "test")["accumulate"]
    rows = [(0.1 * k, -0.2 * k, 1.0) for k in range(5)]
    params = [p.value for p in net.parameters]
    got = acc(rows, params, (0.0,) * (len(params) + 1))
    total, sums = 0.0, [0.0] * len(params)
    for r in rows:
        total += net.predict(list(r))
        for k, g in enumerate(list(net.gradients(list(r)).values())[:len(params)]):
            sums[k] += g
    assert got == (total, *sums)


def test_user_defined_op_uses_its_kernels():
    cube = sn.define_op("cube_emit_test", 1, forward=lambda x: x ** 3, partials=lambda x: (3 * x * x,),
                        sympy=lambda x: x ** 3)
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    net = sn.compile(cube(w * x) + x)
    assert "op_cube_emit_test.forward" in net.to_python()
    outs, grads = net.codegen().gradient([2.0])
    assert outs == (net.predict([2.0]),)
    assert list(grads) == list(net.gradients([2.0]).values())
