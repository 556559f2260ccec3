"""Running generated Python: arguments checked where they enter, non-finite values and
gradients are NumericalErrors naming the node, a TypeError is never swallowed."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn


def test_seed_list_for_a_scalar_output_and_bad_seeds():
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    fns = sn.compile(x1 * x2).codegen()
    assert fns.gradient([0.3, -0.4], None, [1.0]) == fns.gradient([0.3, -0.4])
    for bad in ("abc", [1.0, 2.0], [None], object(), [10**400]):
        with pytest.raises(sn.InputError):
            fns.gradient([0.3, -0.4], None, bad)


def test_bad_params_are_input_errors():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    fns = sn.compile(w * x).codegen()
    for bad in ([1.0, 2.0], ["a"], 5, [math.inf], [True]):
        with pytest.raises(sn.InputError):
            fns.gradient([1.0], bad)
        with pytest.raises(sn.InputError):
            fns.forward([1.0], bad)


@pytest.mark.parametrize("seed", [math.nan, math.inf, -math.inf])
def test_non_finite_seed_names_the_output(seed):
    x = sn.Input("x")
    fns = sn.compile(x.tanh()).codegen()
    with pytest.raises(sn.NumericalError, match=r"seed for output 'yhat' is (nan|inf|-inf)"):
        fns.gradient([0.5], seeds=seed)


def test_division_by_a_tiny_number_names_the_node_and_value():
    a, b = sn.Input("a"), sn.Parameter(1e-300, name="b")
    fns = sn.compile(a / b).codegen()
    with pytest.raises(sn.NumericalError, match=r"'b'.*-inf.*\(div\)"):
        fns.gradient([1.0])


def test_log_of_a_subnormal_names_the_node():
    x = sn.Input("x")
    with pytest.raises(sn.NumericalError, match=r"'x'.*inf.*\(log\)"):
        sn.compile(x.log()).codegen().gradient([1e-320])
    with pytest.raises(sn.NumericalError, match="'x'"):
        sn.compile(x.log() - x.log()).codegen().gradient([1e-320])


def test_type_error_is_not_hidden_by_a_fallback(monkeypatch):
    # A TypeError from the generated code itself is a bug: it propagates as it is,
    # and nothing re-runs the network through the engine to cover it up.
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    net = sn.compile(w * x)
    fns = net.codegen()
    engine_calls = []

    def broken(*args):
        raise TypeError("a bug in generated code")

    monkeypatch.setitem(fns._env, "forward", broken)
    monkeypatch.setattr(sn.engine, "evaluate", lambda *a, **k: engine_calls.append(a))
    with pytest.raises(TypeError, match="a bug in generated code"):
        fns.forward([1.0])
    assert engine_calls == []


def test_a_users_kernel_raising_type_error_is_a_numerical_error_naming_the_op():
    def forward(v):
        raise TypeError("a bug in the user's kernel")

    bad = sn.define_op("type_error_load_test", 1, forward=forward, partials=lambda v: (1.0,), sympy=lambda v: v)
    x = sn.Input("x")
    net = sn.compile(bad(x))
    with pytest.raises(sn.NumericalError, match="type_error_load_test") as engine_error:
        net.predict([1.0])
    with pytest.raises(sn.NumericalError, match="type_error_load_test") as generated_error:
        net.codegen().forward([1.0])
    assert str(generated_error.value) == str(engine_error.value)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.sampled_from(["div", "log", "exp", "mul", "pow"]), st.floats(allow_nan=False, allow_infinity=False))
def test_only_finite_results_or_numerical_errors(op, value):
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    root = {"div": lambda: w / x, "log": lambda: (w * x).log(), "exp": lambda: (w * x).exp(),
            "mul": lambda: w * x * 1e300, "pow": lambda: (w * x) ** -2}[op]()
    fns = sn.compile(root).codegen()
    try:
        outs, grads = fns.gradient([value])
    except sn.NumericalError:
        return
    assert all(math.isfinite(v) for v in (*outs, *grads))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_user_partial_returning_non_finite_names_the_node(bad):
    op = sn.define_op(f"bad_partial_{'nan' if bad != bad else 'inf'}_load_test", 1, forward=lambda v: 2.0 * v,
                      partials=lambda v: (bad,), sympy=lambda v: 2 * v)
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    net = sn.compile(op(w * x, name="scaled") + w)
    with pytest.raises(sn.NumericalError, match="scaled"):
        net.codegen().gradient([1.0])
    np = pytest.importorskip("numpy")
    from symnet.backends.numpy_backend import batched

    with pytest.raises(sn.NumericalError, match="scaled"):
        batched(net).gradient(np.array([[1.0], [2.0]]))
