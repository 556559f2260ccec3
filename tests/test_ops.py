"""The op table: every row's forward and partials against SymPy and finite differences,
the numerical conventions, and a user-defined op running through the engine."""

from __future__ import annotations

import dataclasses
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
    "step": (1, [None], [NONZERO]),
    "sign": (1, [None], [NONZERO]),
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


STATED = [pytest.param(name, attr, id=f"{name}-{attr}") for name in BUILTIN if OPS[name].display_derivative
          for attr in DOMAINS[name][1]]


@pytest.mark.parametrize("name, attr", STATED)
def test_stated_derivative_equals_sympys_raw_derivative(name, attr):
    # Each row's textbook derivative (softplus: sigmoid(a); elu: 1[a > 0] + (y + alpha) 1[a <= 0])
    # is confirmed, and it equals SymPy's derivative of the elementary form at sample points
    # and on both sides of the kink, and the row's own partials.
    from symnet.emit.forms import row_derivative

    row = OPS[name]
    found = row_derivative(row, attr)
    assert found is not None, name
    a, y, d = found
    f = row.sympy(sp, (a,), attr)
    raw = sp.diff(f, a)
    written = d.xreplace({y: f}).rewrite("elementary")
    for (v,) in list(_points(name, attr)) + [(-0.5,), (0.5,), (2.5,)]:
        point = {a: _exact(v)}
        want = float(raw.xreplace(point).evalf(30))
        got = float(written.xreplace(point).evalf(30))
        assert _close(got, want, 1e-13, 1e-15), (name, attr, v, got, want)
        assert _close(got, row.partials((v,), row.forward((v,), attr), attr)[0], 1e-12, 1e-14)
    assert not d.has(sp.exp) and not d.has(sp.log)  # no op the model lacks is expanded


def test_a_wrong_stated_derivative_is_refused():
    from symnet.emit.forms import row_derivative

    wrong = dataclasses.replace(OPS["softplus"], display_derivative=lambda sp_, a, y, t, f: f("tanh")(a))
    assert row_derivative(wrong) is None


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


# -- sugar and parser functions come from the rows (issue 11 item 5) -----------------


def test_new_rows_have_their_sugar_parser_function_and_mlp_activation():
    x = sn.Input("x", -0.5)
    for node, name, attr in [(x.leaky_relu(0.1), "leaky_relu", 0.1), (x.leaky_relu(), "leaky_relu", None),
                             (x.softplus(), "softplus", None), (x.softplus(threshold=20.0), "softplus", 20.0),
                             (x.elu(), "elu", None), (x.elu(alpha=0.5), "elu", 0.5), (x.gelu(), "gelu", None),
                             (x.silu(), "silu", None), (x.erf(), "erf", None), (abs(x), "abs", None),
                             (x.abs(), "abs", None), ((x * x).sqrt(), "sqrt", None)]:
        assert (node.op, node.attr) == (name, attr)
        text = sn.compile(node).funcify()
        back = sn.parse(text, inputs=["x"], values={"x": -0.5})
        assert back.op == name and back.attr == attr and back.forward() == node.forward(), text
    assert sn.parse("leaky_relu(x, 0.1)", inputs=["x"]).attr == 0.1
    with pytest.raises(sn.FormulaError, match="its alpha, which must be a numeric constant"):
        sn.parse("leaky_relu(x, y)", inputs=["x", "y"])
    with pytest.raises(sn.FormulaError, match=r"gelu\(\) takes 1 argument, got 2"):
        sn.parse("gelu(x, 2)", inputs=["x"])
    with pytest.raises(sn.OperandError, match="must be a number, not a node"):
        x.leaky_relu(x)
    for act in ("leaky_relu", "softplus", "elu", "gelu", "silu", "abs"):
        sn.seed(0)
        net = sn.compile(sn.MLP(2, [3, 1], activation=act))
        assert f"{act}(" in net.funcify() and sn.check_gradients(net, points=1).ok, act


def test_conventions_at_the_kinks_follow_pytorch():
    assert OPS["abs"].partials((0.0,), 0.0, None) == (0.0,)
    assert OPS["leaky_relu"].partials((0.0,), 0.0, 0.2) == (0.2,)
    assert OPS["elu"].partials((0.0,), 0.0, 0.5) == (0.5,)
    assert OPS["softplus"].forward((25.0,), 20.0) == 25.0 and OPS["softplus"].partials((25.0,), 25.0, 20.0) == (1.0,)
    assert OPS["softplus"].forward((800.0,), None) == 800.0  # no overflow without a threshold
    x = sn.Input("x", 0.0)
    y = x.sqrt()
    assert y.forward() == 0.0
    with pytest.raises(sn.NumericalError, match="derivative of sqrt"):
        sn.compile(y).gradients([0.0])
    with pytest.raises(sn.NumericalError, match="sqrt"):
        sn.Input("x", -1.0).sqrt().forward()


@pytest.fixture
def throwaway():
    """A row added straight to the table, with sugar fields and nothing else."""
    row = sn.ops.Op("cubic_throwaway", 1, lambda xs, a: xs[0] ** 3, lambda xs, y, a: (3 * xs[0] ** 2,),
                    lambda sp_, e, a: e[0] ** 3, text=sn.ops.call("cubic_throwaway"),
                    latex=sn.ops.call(r"\operatorname{cubic}"), doc="a**3", derivative="3 a**2",
                    method="cubic", function="cubic_throwaway")
    OPS[row.name] = row
    yield row
    del OPS[row.name]


def test_a_throwaway_row_gets_sugar_and_a_parser_function_with_no_other_edit(throwaway):
    x = sn.Input("x", 2.0)
    y = x.cubic()
    assert y.op == "cubic_throwaway" and y.forward() == 8.0
    net = sn.compile(y + 1)
    assert net.funcify() == "cubic_throwaway(x) + 1"
    back = sn.parse(net.funcify(), inputs=["x"], values={"x": 2.0})
    assert back.forward() == 9.0
    assert sn.compile(back).gradients([2.0]) == {"x": 12.0}
    assert "cubic" in dir(x)
    del OPS[throwaway.name]
    with pytest.raises(AttributeError):
        x.cubic()
    with pytest.raises(sn.FormulaError, match="unknown function 'cubic_throwaway'"):
        sn.parse("cubic_throwaway(x)", inputs=["x"])
    OPS[throwaway.name] = throwaway


def test_a_throwaway_binary_row_claims_an_operator(throwaway):
    row = sn.ops.Op("hypot_throwaway", 2, lambda xs, a: math.hypot(*xs),
                    lambda xs, y, a: (xs[0] / y, xs[1] / y), lambda sp_, e, a: sp_.sqrt(e[0] ** 2 + e[1] ** 2),
                    text=sn.ops.call("hypot_throwaway"), latex=sn.ops.call(r"\operatorname{hypot}"),
                    operator="matmul", function="hypot_throwaway")
    OPS[row.name] = row
    try:
        a, b = sn.Input("a", 3.0), sn.Input("b", 4.0)
        assert (a @ b).forward() == 5.0 and (a @ 4.0).forward() == 5.0 and (3.0 @ b).forward() == 5.0
        assert sn.compile(a @ b).gradients([3.0, 4.0]) == {"a": 0.6, "b": 0.8}
    finally:
        del OPS[row.name]
    with pytest.raises(TypeError):
        a @ b  # no row claims '@' any more


# -- ops defined by a formula ---------------------------------------------------------


@pytest.fixture
def formula_ops():
    names = ["swish_fx", "bump_fx", "kinked_fx"]
    yield {
        "swish": sn.define_op("swish_fx", 1, formula="a*sigmoid(a)", method="swish_fx"),
        "bump": sn.define_op("bump_fx", 2, formula="a*exp(-b**2) + log(1 + a**2)/2"),
        "kinked": sn.define_op("kinked_fx", 1, formula="relu(a - 1) + abs(a)"),
    }
    for name in names:
        OPS.pop(name, None)


def test_formula_ops_forward_partials_and_sympy_agree(formula_ops):
    rng = random.Random(5)
    for name, arity in (("swish_fx", 1), ("bump_fx", 2), ("kinked_fx", 1)):
        row = OPS[name]
        syms = sp.symbols(f"a0:{arity}", real=True)
        expr = row.sympy(sp, tuple(syms), None)
        for _ in range(POINTS):
            xs = tuple(rng.choice([-1, 1]) * rng.uniform(0.2, 2.5) for _ in range(arity))
            if name == "kinked_fx" and abs(xs[0] - 1.0) < 0.1:
                continue
            point = {s: _exact(v) for s, v in zip(syms, xs)}
            y = row.forward(xs, None)
            assert _close(y, float(expr.xreplace(point).evalf(30)), 1e-13, 1e-15)
            for p, s in zip(row.partials(xs, y, None), syms):
                assert _close(p, float(sp.diff(expr, s).xreplace(point).evalf(30)), 1e-12, 1e-14), (name, xs)
    assert OPS["kinked_fx"].kink is not None and OPS["swish_fx"].kink is None
    assert OPS["kinked_fx"].kink((1.25,), None) == pytest.approx(0.25)
    x, w = sn.Input("x", 0.7), sn.Parameter(-0.4, name="w")
    y = formula_ops["bump"](x.swish_fx(), w) + formula_ops["kinked"](w * x)
    report = sn.check_gradients(y.compile(), {"x": 0.7})
    assert report.ok, str(report)


def test_formula_ops_reject_bad_formulas_and_mixed_definitions():
    with pytest.raises(sn.FormulaError, match="only its operands a and numbers, not parameter 'w'"):
        sn.define_op("bad_fx", 1, formula="w*a")
    with pytest.raises(sn.FormulaError, match="op 'bad_fx'"):
        sn.define_op("bad_fx", 1, formula="a +* 2")
    with pytest.raises(sn.SymnetError, match="either formula= or forward"):
        sn.define_op("bad_fx", 1, formula="a", forward=abs)
    with pytest.raises(sn.SymnetError, match="callable"):
        sn.define_op("bad_fx", 1)
    with pytest.raises(sn.SymnetError, match="method 'value'"):
        sn.define_op("bad_fx", 1, formula="a", method="value")
    assert "bad_fx" not in OPS


def test_sign_row_is_abs_derivative_with_zero_at_zero_and_propagates_nan():
    row = OPS["sign"]
    assert [row.forward((v,), None) for v in (-2.0, 0.0, 3.0)] == [-1.0, 0.0, 1.0]
    assert [OPS["abs"].partials((v,), abs(v), None)[0] for v in (-2.0, 0.0, 3.0)] == [-1.0, 0.0, 1.0]
    assert math.isnan(row.forward((math.nan,), None))
    assert row.partials((0.5,), 1.0, None) == (0.0,)
