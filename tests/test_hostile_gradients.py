"""Issue 16, kind 2: a non-finite gradient or seed is a NumericalError naming the node and
the value, in the interpreted engine, the API and the generated-code paths (which re-run a
failing sample through the engine); never an ``inf`` or ``nan`` returned silently."""

from __future__ import annotations

import importlib.util
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
from hostile import contained, finite_results

ENGINES = ["interpreted", "python", "numpy"]


def _gradients(net, values, engine, seed=None):
    """Gradients of a network of one input ``a`` and one parameter ``b`` at ``values``."""
    net.set_parameters([values[1]])
    if engine == "interpreted":
        return net.gradients(values[:1], seed=seed)
    if engine == "python":
        return net.codegen().gradient(values[:1], seeds=seed)
    from symnet.backends.numpy_backend import batched

    return batched(net).gradient([values[:1]], seeds=None if seed is None else [[seed]])


def _ab():
    return sn.Input("a"), sn.Parameter(1.0, name="b")


# -- the examples of the issue ------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("build, values, match", [
    (lambda a, b: sn.Divide([a, b], name="q"), [1.0, 1e-300],
     r"gradient of div with respect to 'b' is -inf at node 'q' \(div\) with inputs a=1.0, b=1e-300"),
    (lambda a, b: sn.Log([b], name="l1") * a, [1.0, 1e-320],
     r"gradient of log with respect to 'b' is inf at node 'l1' \(log\) with inputs b=1e-320"),
    (lambda a, b: sn.Log([b], name="l1") - sn.Log([b], name="l2") + a, [1.0, 1e-320],
     r"gradient of log with respect to 'b' is inf at node 'l[12]'"),
], ids=["a/b", "log", "log-log"])
def test_non_finite_gradients_raise_naming_the_node_and_value(engine, build, values, match):
    net = sn.compile(build(*_ab()))
    with pytest.raises(sn.NumericalError, match=match):
        _gradients(net, values, engine)


def test_x_to_the_minus_one_raises_at_the_same_points():
    """Consistent with ``x**-1``: 1/x raises exactly where x**-1 raises."""
    x = sn.Input("x")
    for v in (1e-320, 5e-324):
        with pytest.raises(sn.NumericalError, match="at node"):
            sn.compile(x ** -1).gradients([v])
        with pytest.raises(sn.NumericalError, match="at node"):
            sn.compile(1.0 / x).gradients([v])


@pytest.mark.parametrize("seed", [math.nan, math.inf, -math.inf])
def test_non_finite_seeds_are_refused(seed):
    x = sn.Input("x", 1.0)
    y = x * 2.0
    with pytest.raises(sn.NumericalError, match=r"seed 0 \(of output 'yhat'\): value must be finite"):
        sn.compile(y).gradients([1.0], seed=seed)
    with pytest.raises(sn.NumericalError, match="value must be finite"):
        y.backward(seed=seed)
    with pytest.raises(sn.NumericalError, match=r"seed .*'yhat'.* (is )?(nan|-?inf)|value must be finite"):
        sn.compile(y).codegen().gradient([1.0], seeds=seed)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_user_op_partial_that_is_not_finite_is_refused(bad):
    name = "hostile_grad_op"
    ctor = sn.define_op(name, 1, forward=lambda x: x, partials=lambda x: (bad,), sympy=lambda e: e, replace=True)
    try:
        x = sn.Input("x", 2.0)
        y = ctor(x, name="u")
        with pytest.raises(sn.NumericalError, match=rf"gradient of {name} with respect to 'x' is {bad!r} at node 'u'"):
            y.backward()
        with pytest.raises(sn.NumericalError, match="at node 'u'"):
            sn.compile(y).codegen().gradient([2.0])
    finally:
        sn.OPS.pop(name, None)


# -- more of the same kind ----------------------------------------------------------------


def test_an_adjoint_that_overflows_in_a_sum_names_the_node():
    """Two finite contributions whose sum overflows: the gradient reaching the node is inf."""
    x = sn.Input("x")
    t = sn.Tanh([x], name="t")
    net = sn.compile(t * 1e308 + t * 1e308)
    assert math.isfinite(net.predict([1e-10]))
    with pytest.raises(sn.NumericalError, match=r"gradient reaching tanh overflowed to inf at node 't'"):
        net.gradients([1e-10])
    with pytest.raises(sn.NumericalError, match=r"at node 't'"):
        net.codegen().gradient([1e-10])


def test_gradients_of_a_training_step_that_overflow_stop_training():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    for engine in [e for e in ENGINES if e != "numpy" or importlib.util.find_spec("numpy")]:
        with pytest.raises(sn.NumericalError, match="gradient of log with respect to .* is inf"):
            sn.train_model(sn.Log([w * x]), "mse", [([1e-320], -736.0)], epochs=1, engine=engine)
        assert w.value == 1.0


def test_finite_gradients_are_unchanged():
    a, b = sn.Input("a"), sn.Input("b")
    assert sn.compile(a / b).gradients([1.0, 2.0]) == {"a": 0.5, "b": -0.25}
    assert sn.compile(sn.Log([a])).gradients([1e-300]) == {"a": 1.0 / 1e-300}


# -- hypothesis: random graphs at overflowing values ----------------------------------------

_OPS = ["add", "mul", "div", "log", "exp", "tanh", "sigmoid", "pow"]


@st.composite
def chains(draw):
    """A random expression of an input and a parameter, and values that push it towards overflow."""
    a, b = _ab()
    pool = [a, b]
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(_OPS))
        u, v = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        if op in ("add", "mul", "div"):
            node = sn.Node.apply(op, (u, v))
        elif op == "pow":
            node = u ** draw(st.sampled_from([-3.0, -1.0, 0.5, 2.0, 3.0]))
        else:
            node = sn.Node.apply(op, (u,))
        pool.append(node)
    extreme = st.sampled_from([1e-320, 5e-324, 1e-300, 1e-160, 1e154, 1e300, 1e308, -1e308, 0.0, -1e-320, 1.0])
    return pool[-1], [draw(extreme), draw(extreme)]


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=80, deadline=None)
@given(case=chains(), seed=st.sampled_from([None, 1.0, 1e308, -1e-320, math.nan, math.inf]))
def test_random_graphs_at_overflowing_values_never_return_non_finite_gradients(engine, case, seed):
    out, values = case
    try:
        net = sn.compile(out)
    except sn.SymnetError:
        return
    result = contained(lambda: _gradients(net, values, engine, seed))
    if not isinstance(result, sn.SymnetError) and engine == "numpy":
        finite_results([float(v) for v in result[1].ravel()])
