"""The op table: every row's forward and partials against SymPy and finite differences,
the numerical conventions, and a user-defined op running through the engine."""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

import symnet as sn
from symnet.ops import OPS

# How to sample each builtin row: the number of children, the exponents or output
# indices (``attr``) to try, and a sampler for the children's values that stays
# inside the op's domain and away from its special points (kinks, 0, saturation).


def _uniform(lo, hi):
    return lambda rng: rng.uniform(lo, hi)


def _away_from_zero(lo, hi, gap=0.1):
    def draw(rng):
        while True:
            v = rng.uniform(lo, hi)
            if abs(v) >= gap:
                return v
    return draw


WIDE = _uniform(-3.0, 3.0)
NONZERO = _away_from_zero(-3.0, 3.0)
POSITIVE = _uniform(0.1, 4.0)
PROBABILITY = _uniform(0.05, 0.95)

#: name -> (number of children, attrs, one sampler per child)
DOMAINS = {
    "add": (3, [None], [WIDE, WIDE, WIDE]),
    "mul": (3, [None], [WIDE, WIDE, WIDE]),
    "sub": (2, [None], [WIDE, WIDE]),
    "neg": (1, [None], [WIDE]),
    "div": (2, [None], [WIDE, NONZERO]),
    "pow": (1, [2.0, 3.0, 0.5, -1.0, 1.5], [POSITIVE]),
    "exp": (1, [None], [WIDE]),
    "log": (1, [None], [POSITIVE]),
    "relu": (1, [None], [NONZERO]),
    "sigmoid": (1, [None], [WIDE]),
    "tanh": (1, [None], [WIDE]),
    "softmax": (3, [0, 1, 2], [WIDE, WIDE, WIDE]),
    "log_softmax": (3, [0, 1, 2], [WIDE, WIDE, WIDE]),
    "bce": (2, [None], [PROBABILITY, _uniform(0.0, 1.0)]),
    "leaky_relu": (1, [None, 0.1, 0.2], [NONZERO]),
    "softplus": (1, [None, 2.0, 20.0], [_away_from_zero(-30.0, 30.0, 0.1)]),
    "elu": (1, [None, 1.0, 0.5], [NONZERO]),
    "erf": (1, [None], [WIDE]),
    "gelu": (1, [None], [WIDE]),
    "silu": (1, [None], [WIDE]),
    "abs": (1, [None], [NONZERO]),
    "sqrt": (1, [None], [POSITIVE]),
}

BUILTIN = sorted(name for name, row in OPS.items() if row.builtin)
POINTS = 5


def test_every_builtin_row_has_sampling_domain():
    # A new row without sampling data here would silently go untested.
    assert sorted(DOMAINS) == BUILTIN


def _cases():
    for name in BUILTIN:
        _, attrs, _ = DOMAINS[name]
        for attr in attrs:
            yield pytest.param(name, attr, id=f"{name}-{attr}" if attr is not None else name)


def _points(name, attr):
    n, _, samplers = DOMAINS[name]
    rng = random.Random(f"{name}/{attr}")
    for _ in range(POINTS):
        yield tuple(draw(rng) for draw in samplers)


def _exact(v):
    return sp.Rational(*float(v).as_integer_ratio())


def _close(a, b, rtol, atol):
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


@pytest.mark.parametrize("name, attr", list(_cases()))
def test_row_forward_and_partials(name, attr):
    row = OPS[name]
    n, _, _ = DOMAINS[name]
    syms = sp.symbols(f"a0:{n}", real=True)
    expr = row.sympy(sp, tuple(syms), attr)
    derivs = [sp.diff(expr, s) for s in syms]
    for xs in _points(name, attr):
        point = {s: _exact(v) for s, v in zip(syms, xs)}
        y = row.forward(xs, attr)
        assert isinstance(y, float)
        reference = float(expr.xreplace(point).evalf(30))
        assert _close(y, reference, 1e-13, 1e-15), (name, xs, y, reference)

        partials = row.partials(xs, y, attr)
        assert len(partials) == n
        for k, (p, d) in enumerate(zip(partials, derivs)):
            symbolic = float(d.xreplace(point).evalf(30))
            assert _close(p, symbolic, 1e-12, 1e-14), (name, k, xs, p, symbolic)

            h = 1e-6 * max(1.0, abs(xs[k]))
            up = list(xs)
            down = list(xs)
            up[k] += h
            down[k] -= h
            fd = (row.forward(tuple(up), attr) - row.forward(tuple(down), attr)) / (2 * h)
            assert _close(p, fd, 1e-5, 1e-7), (name, k, xs, p, fd)


def test_every_row_has_notation_and_documentation():
    for name in BUILTIN:
        row = OPS[name]
        assert row.doc and row.derivative, name
        assert row.text.kind and row.latex.kind, name


# -- numerical conventions ---------------------------------------------------


@pytest.mark.parametrize("z, expected", [(1000.0, 1.0), (-1000.0, 0.0), (800.0, 1.0), (-800.0, 0.0)])
def test_sigmoid_saturates_exactly_without_overflow(z, expected):
    x = sn.Input("x", z)
    s = sn.Sigmoid([x])
    assert s.forward() == expected
    s.backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("z, expected", [(1000.0, 1.0), (-1000.0, -1.0)])
def test_tanh_saturates_exactly(z, expected):
    x = sn.Input("x", z)
    t = x.tanh()
    assert t.forward() == expected
    t.backward()
    assert x.grad == 0.0


@pytest.mark.parametrize("value", [0.0, -1.0, -1e-300])
def test_log_of_non_positive_value_names_the_node(value):
    x = sn.Input("x", value)
    node = sn.Log([x], name="l1")
    with pytest.raises(sn.NumericalError, match=r"'l1'") as info:
        node.forward()
    assert "log" in str(info.value)
    assert isinstance(info.value, sn.SymnetError) and isinstance(info.value, ArithmeticError)


def test_log_error_names_an_unnamed_node_by_its_assigned_name():
    x = sn.Input("x", -2.0)
    out = (x.log() + 1.0) * 2.0
    with pytest.raises(sn.NumericalError) as info:
        out.forward()
    message = str(info.value)
    assert "'t1'" in message and "x=-2.0" in message


@pytest.mark.parametrize("value", [710.0, 1e6])
def test_exp_overflow_raises_numerical_error(value):
    x = sn.Input("x", value)
    e = sn.Exp([x], name="e3")
    with pytest.raises(sn.NumericalError, match="'e3'"):
        e.forward()


def test_exp_underflow_is_a_plain_zero():
    x = sn.Input("x", -1000.0)
    e = x.exp()
    assert e.forward() == 0.0


def test_overflow_inside_a_product_is_reported():
    x = sn.Input("x", 1e200)
    y = x * x
    with pytest.raises(sn.NumericalError, match="overflow"):
        y.forward()


def test_division_by_zero_is_a_numerical_error():
    x = sn.Input("x", 0.0)
    y = sn.Divide([1.0, x], name="q")
    with pytest.raises(sn.NumericalError, match="'q'"):
        y.forward()


def test_negative_base_with_fractional_exponent_is_a_numerical_error():
    x = sn.Input("x", -8.0)
    y = sn.Power([x], 1 / 3, name="root")
    with pytest.raises(sn.NumericalError, match="'root'"):
        y.forward()


def test_relu_derivative_at_zero_is_zero():
    x = sn.Input("x", 0.0)
    r = sn.ReLU([x])
    assert r.forward() == 0.0
    r.backward()
    assert x.grad == 0.0
    assert OPS["relu"].partials((0.0,), 0.0, None) == (0.0,)
    assert "0 at a = 0" in OPS["relu"].derivative


def test_relu_propagates_nan():
    nan = math.nan
    assert math.isnan(OPS["relu"].forward((nan,), None))
    assert OPS["relu"].forward((-0.5,), None) == 0.0
    assert OPS["relu"].forward((0.5,), None) == 0.5


def test_sigmoid_propagates_nan():
    assert math.isnan(OPS["sigmoid"].forward((math.nan,), None))


# -- a user-defined op -------------------------------------------------------


@pytest.fixture
def cube():
    name = "cube_test_ops"
    ctor = sn.define_op(name, 1, forward=lambda x: x ** 3, partials=lambda x: (3 * x * x,),
                        sympy=lambda x: x ** 3)
    yield ctor
    OPS.pop(name, None)


def test_define_op_runs_in_the_engine(cube):
    x, w = sn.Input("x", 2.0), sn.Parameter(0.5, name="w")
    y = cube(w * x) + x
    assert y.forward() == 3.0  # (0.5 * 2) ** 3 + 2
    y.backward()
    assert w.grad == 3 * 1.0 ** 2 * 2.0
    assert x.grad == 3 * 1.0 ** 2 * 0.5 + 1.0
    net = y.compile()
    assert net.gradients({"x": 2.0}) == {"w": 6.0, "x": 2.5}
    row = OPS["cube_test_ops"]
    assert not row.builtin
    assert row.forward((2.0,), None) == 8.0


def test_define_op_rejects_clashes_and_bad_rows(cube):
    with pytest.raises(sn.SymnetError, match="already exists"):
        sn.define_op("cube_test_ops", 1, forward=abs, partials=abs, sympy=abs)
    with pytest.raises(sn.SymnetError, match="already exists"):
        sn.define_op("exp", 1, forward=abs, partials=abs, sympy=abs)
    with pytest.raises(sn.SymnetError, match="identifier"):
        sn.define_op("bad name", 1, forward=abs, partials=abs, sympy=abs)
    with pytest.raises(sn.SymnetError, match="callable"):
        sn.define_op("needs_callables", 1, forward=1, partials=abs, sympy=abs)
    assert "needs_callables" not in OPS
    with pytest.raises(sn.ArityError):
        cube([sn.Input("a"), sn.Input("b")])


def test_define_op_partials_of_the_wrong_length_are_reported():
    name = "badlen_test_ops"
    ctor = sn.define_op(name, 1, forward=lambda x: x, partials=lambda x: (1.0, 2.0), sympy=lambda x: x)
    try:
        x = sn.Input("x", 1.0)
        y = ctor(x)
        with pytest.raises(sn.SymnetError, match="2 values for 1 input"):
            y.backward()
    finally:
        OPS.pop(name, None)
