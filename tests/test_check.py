"""The gradient verifier: passes on random DAGs, fails with the right blame on planted bugs."""

from __future__ import annotations

import dataclasses
import decimal
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
import symnet.engine
from symnet.check import check_gradients
from symnet.graph import Node
from symnet.ops import OPS
from mutants import wrong_backward

# -- random DAGs over every builtin op -------------------------------------------------

BUILTINS = ("add", "mul", "sub", "neg", "div", "pow", "exp", "log", "relu", "sigmoid", "tanh",
            "softmax", "log_softmax", "bce", "leaky_relu", "softplus", "elu", "erf", "gelu", "silu", "abs", "sqrt",
            "step", "sign")


@st.composite
def dags(draw):
    """A DAG whose children are drawn from every node built so far (shared nodes), kept in
    each op's domain at the leaves' values; returns (root, input values, ops used)."""
    xs = [sn.Input(f"x{i}", draw(st.sampled_from([-1.7, -0.6, 0.4, 1.3]))) for i in (1, 2)]
    ws = [sn.Parameter(draw(st.sampled_from([-1.4, -0.3, 0.7, 1.6])), name=f"w{i}") for i in (1, 2)]
    pool: list[Node] = [*xs, *ws]
    used = []

    def pick() -> Node:
        return pool[draw(st.integers(0, len(pool) - 1))]

    def val(n: Node) -> float:
        return n.forward()

    def positive(n: Node) -> Node:  # for log, fractional powers and divisors
        return n * n + 0.5

    for _ in range(draw(st.integers(2, 7))):
        op = draw(st.sampled_from(BUILTINS))
        if op in ("add", "mul"):
            kids = [pick() for _ in range(draw(st.integers(1, 3)))]
            node = Node.apply(op, [k.tanh() if op == "mul" else k for k in kids])
        elif op == "sub":
            node = pick() - pick()
        elif op in ("neg", "sigmoid", "tanh"):
            node = Node.apply(op, [pick()])
        elif op == "div":
            node = pick() / positive(pick().tanh())
        elif op == "pow":
            p = draw(st.sampled_from([2.0, 3.0, -1.0, 0.5, 1.5]))
            node = positive(pick().tanh()) ** p
        elif op == "exp":
            node = pick().tanh().exp()
        elif op == "log":
            node = positive(pick()).log()
        elif op == "relu":
            z = pick()
            node = (z + 0.25).relu() if abs(val(z) + 0.25) > 1e-3 else z.relu()
        elif op in ("leaky_relu", "elu", "abs"):  # kinks at 0, reached through the sugar
            z = pick()
            z = z + 0.25 if abs(val(z) + 0.25) > 1e-3 else z
            node = abs(z) if op == "abs" else getattr(z, op)(draw(st.sampled_from([0.1, 0.5])))
        elif op in ("softplus", "erf", "gelu", "silu"):
            node = getattr(pick(), op)()
        elif op == "sqrt":
            node = positive(pick().tanh()).sqrt()
        elif op in ("step", "sign"):
            z = pick()
            node = Node.apply(op, [z + 0.25 if abs(val(z) + 0.25) > 1e-3 else z])
        elif op in ("softmax", "log_softmax"):
            kids = [pick().tanh() for _ in range(draw(st.integers(1, 3)))]
            node = Node.apply(op, kids, attr=draw(st.integers(0, len(kids) - 1)))
        else:  # bce
            node = Node.apply("bce", [pick().sigmoid(), pick().sigmoid()])
        used.append(op)
        pool.append(node.tanh() if abs(val(node)) > 20 else node)
    root = sn.Add(pool[4:]) if len(pool) > 5 else pool[-1]
    return root, {x.name: x.value for x in sn.compile(root).inputs}, tuple(used)


@settings(deadline=None, derandomize=True, max_examples=40)
@given(dags())
def test_random_dags_pass(dag):
    root, values, _ = dag
    report = check_gradients(root, values)
    assert not [r for r in report.rows if r.verdict == "FAIL"], str(report)
    assert report.ok, str(report)


def test_every_builtin_op_is_drawn():
    assert set(BUILTINS) == {name for name, row in OPS.items() if row.builtin}


def test_random_points_pass_and_record_the_seed():
    sn.seed(3)
    report = check_gradients(sn.MLP(2, [3, 2, 1], activation="tanh"), loss="mse", target=0.5, points=2, seed=7)
    assert report.ok and report.seed == 7 and len(report.points) == 2
    again = check_gradients(sn.MLP(2, [3, 2, 1], activation="tanh"), loss="mse", target=0.5, points=2, seed=7)
    assert [p["x1"] for p in again.points] == [p["x1"] for p in report.points]


def test_shared_node_accumulates():
    a, b = sn.Parameter(1.5, name="a"), sn.Parameter(-0.5, name="b")
    f = (a - b) + (a + b)
    report = check_gradients(f, {})
    assert report.ok
    assert [(r.name, r.engine, r.sympy) for r in report.rows] == [("a", 2.0, 2.0), ("b", 0.0, 0.0)]


# -- planted bugs: each must FAIL and blame the op and the node -------------------------


def _net():
    """Every builtin op once, at a point where every wrong rule below shows."""
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    w, v = sn.Parameter(0.8, name="w"), sn.Parameter(-0.6, name="v")
    z = w * x1 + v * x2
    probs = [Node.apply("softmax", [z, x2 * v, w], attr=k) for k in range(3)]
    parts = [
        z.sigmoid(), z.tanh(), (z * 0.5).exp(), (z * z + 0.3).log(), (z - 2.0).relu(), -(z / (x1 * x1 + 1.0)),
        (z - x2) ** 3.0, probs[1] * 2.0, -Node.apply("log_softmax", [z, v], attr=0),
        Node.apply("bce", [z.sigmoid(), sn.Constant(0.25)]),
    ]
    return sn.Add(parts), {"x1": 1.3, "x2": -0.7}


def _patched(name, **fields):
    return dataclasses.replace(OPS[name], **fields)


PLANTED = [
    ("sigmoid", "s", dict(partials=lambda xs, y, a: (y,))),
    ("sigmoid", "s**2", dict(partials=lambda xs, y, a: (y * y,))),
    ("sigmoid", "1-s", dict(partials=lambda xs, y, a: (1.0 - y,))),
    ("tanh", "1-t", dict(partials=lambda xs, y, a: (1.0 - y,))),
    ("tanh", "1+t**2", dict(partials=lambda xs, y, a: (1.0 + y * y,))),
    ("exp", "x*e**x", dict(partials=lambda xs, y, a: (xs[0] * y,))),
    ("log", "-1/x", dict(partials=lambda xs, y, a: (-1.0 / xs[0],))),
    ("log", "1/x**2", dict(partials=lambda xs, y, a: (1.0 / xs[0] ** 2,))),
    ("mul", "swapped", dict(partials=lambda xs, y, a: tuple(xs) if len(xs) == 2 else (1.0,) * len(xs))),
    ("add", "2", dict(partials=lambda xs, y, a: (2.0,) * len(xs))),
    ("sub", "sign", dict(partials=lambda xs, y, a: (1.0, 1.0))),
    ("neg", "sign", dict(partials=lambda xs, y, a: (1.0,))),
    ("div", "d/db sign", dict(partials=lambda xs, y, a: (1.0 / xs[1], y / xs[1]))),
    ("pow", "missing factor", dict(partials=lambda xs, y, p: (xs[0] ** (p - 1.0),))),
    ("relu", "always 1", dict(partials=lambda xs, y, a: (1.0,))),
    ("softmax", "one-hot dropped", dict(partials=lambda xs, y, k: tuple(-y * math.exp(x) for x in xs))),
    ("log_softmax", "one-hot dropped", dict(partials=lambda xs, y, k: (-0.5,) * len(xs))),
    ("bce", "sigma+y", dict(partials=lambda xs, y, a: (xs[0] + xs[1], 0.0))),
]


@pytest.mark.parametrize("op, mutant, fields", PLANTED, ids=[f"{o}:{m}" for o, m, _ in PLANTED])
def test_planted_wrong_partials_fail_with_blame(monkeypatch, op, mutant, fields):
    monkeypatch.setitem(OPS, op, _patched(op, **fields))
    root, values = _net()
    report = check_gradients(root, values)
    assert not report.ok
    assert any(r.verdict == "FAIL" for r in report.rows)
    assert report.blame and all(f"({op}):" in b for b in report.blame), report.blame
    assert "engine d/d" in report.blame[0] and "SymPy = " in report.blame[0]
    with pytest.raises(sn.GradCheckError, match=rf"\({op}\)"):
        check_gradients(root, values, raise_on_fail=True)


@pytest.mark.parametrize("partials", [lambda xs, y, a: 1 / 0, lambda xs, y, a: None, lambda xs, y, a: ()])
def test_a_broken_rule_is_reported_not_raised(monkeypatch, partials):
    monkeypatch.setitem(OPS, "tanh", _patched("tanh", partials=partials))
    x = sn.Input("x")
    report = check_gradients((x * 2.0).tanh(), {"x": 0.5})
    assert not report.ok and report.blame[0].startswith("node `yhat` (tanh): engine ")


def test_blame_names_the_node_and_its_argument(monkeypatch):
    monkeypatch.setitem(OPS, "sigmoid", _patched("sigmoid", partials=lambda xs, y, a: (0.25,)))
    sn.seed(0)
    report = check_gradients(sn.MLP(2, [2, 1], activation="sigmoid"), {"x1": 0.5, "x2": -1.5})
    assert report.blame[0].startswith("node `h1_1` (sigmoid): engine d/dz1_1 = 0.25, SymPy = 0.")


def test_wrong_forward_rule_is_caught(monkeypatch):
    monkeypatch.setitem(OPS, "tanh", _patched("tanh", forward=lambda xs, a: math.tanh(xs[0]) * 1.001))
    root, values = _net()
    report = check_gradients(root, values)
    assert not report.ok and not all(f.ok for f in report.forward)
    assert any(b.startswith("node `") and "(tanh): engine forward = " in b for b in report.blame)
    assert report.first_failure.startswith("forward mismatch")


@pytest.mark.parametrize("combine, why", [
    (lambda old, g, p: g * p, "= instead of +="),
    (lambda old, g, p: old + p, "upstream gradient forgotten"),
])
def test_wrong_accumulation_is_blamed_on_the_engine(monkeypatch, combine, why):
    monkeypatch.setattr(symnet.engine, "backward", wrong_backward(combine))
    a, b = sn.Parameter(1.5, name="a"), sn.Parameter(0.5, name="b")
    report = check_gradients(((a - b) * (a + b) * 3.0).tanh(), {})
    assert not report.ok
    assert len(report.blame) == 1 and report.blame[0].startswith("accumulation: node `")
    assert "every local partial agrees with SymPy" in report.blame[0]


def test_shared_node_accumulation_names_the_shared_node(monkeypatch):
    monkeypatch.setattr(symnet.engine, "backward", wrong_backward(lambda old, g, p: g * p))
    a, b = sn.Parameter(1.5, name="a"), sn.Parameter(0.5, name="b")
    report = check_gradients((a - b) + (a + b), {})
    assert report.blame[0].startswith("accumulation: node `a` (parameter) has engine gradient 1,")
    assert "sum to 2" in report.blame[0]


def test_nonreentrant_backward_fails(monkeypatch):
    real = symnet.engine.backward
    calls = []

    def drifting(program, values, seeds):
        calls.append(1)
        adj = real(program, values, seeds)
        return [g + 1e-15 * len(calls) for g in adj]

    monkeypatch.setattr(symnet.engine, "backward", drifting)
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    report = check_gradients((w * x).sigmoid(), {"x": 2.0})
    assert not report.reentrant and not report.ok
    assert report.first_failure.startswith("backward not reentrant")


def test_user_op_with_wrong_derivative_is_blamed(request):
    x, w = sn.Input("x"), sn.Parameter(0.7, name="w")
    names = []
    try:
        for name, partials, ok in [("square_two", lambda x: (2,), False), ("square_x", lambda x: (x,), False),
                                   ("square_fixed", lambda x: (2 * x,), True)]:
            names.append(name)
            sq = sn.define_op(name, 1, forward=lambda x: x * x, partials=partials, sympy=lambda x: x**2)
            report = check_gradients(sq(w * x) + w, {"x": 1.3})
            assert report.ok is ok, str(report)
            if not ok:
                assert report.blame == [f"node `t2` ({name}): engine d/dt1 = {partials(0.91)[0]:.10g}, "
                                        "SymPy = 1.82"]
    finally:
        for name in names:
            OPS.pop(name, None)


def test_user_op_with_a_kink():
    try:
        absolute = sn.define_op("abs_user", 1, forward=abs, partials=lambda x: (1.0 if x >= 0 else -1.0,),
                                sympy=lambda x: x * (2 * __import__("sympy").Heaviside(x, 1) - 1),
                                kink=lambda x: x)
        x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
        assert check_gradients(absolute(w * x - 1.0), {"x": 2.5}).ok
        report = check_gradients(absolute(w * x - 1.0), {"x": 1.0})
        assert report.ok and report.verdict("w") == "KINK"
    finally:
        OPS.pop("abs_user", None)


# -- kinks, tiny gradients, tolerances ---------------------------------------------------


def test_relu_on_its_kink_is_flagged_not_failed():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-1.0, name="b")
    report = check_gradients((w * x + b).relu() * 3.0, {"x": 2.0})
    assert report.ok
    assert [r.verdict for r in report.rows] == ["KINK"] * 3
    assert "relu at node `h`, |z|=0.0e+00" in report.rows[0].note and report.rows[0].engine == 0.0 == report.rows[0].sympy


def test_relu_within_the_step_of_its_kink_is_flagged():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    report = check_gradients((w * x - 1.0 + 3e-7).relu(), {"x": 1.0})
    assert report.ok and report.verdict("w") == "KINK"
    assert check_gradients((w * x - 1.0 + 1e-3).relu(), {"x": 1.0}).verdict("w") == "PASS"


@pytest.mark.parametrize("z", [30.0, -30.0, 36.0])
def test_saturated_and_tiny_gradients_pass(z):
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    report = check_gradients((w * x).sigmoid(), {"x": z})
    assert report.ok, str(report)
    assert abs(report.rows[0].engine) < 1e-11


def test_tiny_gradient_next_to_a_large_loss_passes():
    x, w = sn.Input("x"), sn.Parameter(1e-7, name="w")
    assert check_gradients((w * x) ** 2.0 + (x * 100.0).exp(), {"x": 3.0}).ok


def test_lenient_and_custom_tolerances():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    report = check_gradients((w * x).tanh(), {"x": 1.0}, lenient=True)
    assert report.ok and report.tolerances.fd_rtol == 1e-3
    assert check_gradients((w * x).tanh(), {"x": 1.0}, rtol=1e-4, atol=1e-6).tolerances.fd_atol == 1e-6


# -- losses, vector outputs, networks ------------------------------------------------------


def test_losses_on_top_of_the_model():
    sn.seed(5)
    mlp = sn.MLP(2, [3, 1], activation="tanh", output_activation="sigmoid")
    assert check_gradients(mlp, {"x1": 0.3, "x2": -1.2}, loss="bce", target=1.0).ok
    soft = sn.MLP(2, [3, 3], activation="tanh", output_activation="softmax")
    report = check_gradients(sn.compile(soft), loss="cross_entropy", target=2, points=1)
    assert report.ok and {r.output for r in report.rows} == {"L"}
    assert check_gradients(sn.MLP(2, [2, 2]), loss="mse", target=[0.5, -0.5], points=1).ok


def test_vector_output_checks_every_component():
    x, w = sn.Input("x"), sn.Parameter(0.3, name="w")
    report = check_gradients(sn.Output([(w * x).tanh(), w * x * x]), {"x": 1.5})
    assert report.ok and len(report.rows) == 4
    assert len({r.output for r in report.rows}) == 2 and " of " in str(report).splitlines()[5]


def test_disconnected_parameter_gets_zero():
    x, w, u = sn.Input("x"), sn.Parameter(0.3, name="w"), sn.Parameter(0.1, name="u")
    report = check_gradients(w * x + u * 0.0, {"x": 1.5})
    assert report.ok and report.rows[1].engine == 0.0 and report.rows[1].name == "u"


def test_values_may_override_parameters_and_do_not_mutate():
    x, w = sn.Input("x"), sn.Parameter(0.3, name="w")
    report = check_gradients((w * x).sigmoid(), {"x": 1.5, "w": -2.0})
    assert report.points == [{"w": -2.0, "x": 1.5}] and w.value == 0.3


def test_deep_chain_uses_the_let_form_without_recursion():
    x, w = sn.Input("x"), sn.Parameter(0.9, name="w")
    h = x
    for _ in range(2000):
        h = (h * w + 0.1).tanh()
    report = check_gradients(h, {"x": 0.5})
    assert report.ok and "let form" in report.reference


def test_scale_337_parameters():
    sn.seed(0)
    report = check_gradients(sn.MLP(2, [16, 16, 1]), {"x1": 0.3, "x2": -0.7}, loss="mse", target=1.0)
    assert report.ok and len(report.rows) == 339
    assert "let form" in report.reference


# -- bad input and the report --------------------------------------------------------------


@pytest.mark.parametrize("bad", [decimal.Decimal("0.5"), "0.5", True])
def test_non_float64_values_are_refused(bad):
    x = sn.Input("x")
    with pytest.raises(sn.InputError, match="float64|finite|values"):
        check_gradients(x * x, {"x": bad})


def test_float32_is_refused():
    np = pytest.importorskip("numpy")
    x = sn.Input("x")
    with pytest.raises(sn.InputError, match="float64 only: input 'x' is a float32"):
        check_gradients(x * x, {"x": np.float32(0.5)})
    assert check_gradients(x * x, {"x": np.float64(0.5)}).ok


@pytest.mark.parametrize("kwargs, match", [
    (dict(loss="hinge", target=1.0), "unknown loss"),
    (dict(loss="mse"), "needs a target"),
    (dict(target=1.0), "a target needs a loss"),
    (dict(values={"q": 1.0}), "unknown name"),
    (dict(values=[1.0, 2.0]), "expected 1 input"),
    (dict(points=0), "from 1 to"),
])
def test_bad_arguments(kwargs, match):
    x = sn.Input("x")
    with pytest.raises(sn.SymnetError, match=match):
        check_gradients(x * x, **kwargs)


def test_undefined_point_is_reported_not_passed():
    x = sn.Input("x")
    report = check_gradients((x - x - 1.0).log(), points=1)
    assert not report.ok and report.rows[0].verdict == "UNDEFINED"
    with pytest.raises(sn.NumericalError, match="log"):
        check_gradients((x - x - 1.0).log(), {"x": 1.0})


def test_report_string_format(monkeypatch):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    good = str(check_gradients((w * x).sigmoid(), {"x": 2.0}))
    lines = good.splitlines()
    assert lines[0] == "gradient check ok: 1 point(s) (given point(s)); 2 PASS"
    assert lines[2] == "point #1: x=2, w=0.5"
    assert lines[4].split() == ["pt", "name", "engine", "sympy", "finite", "diff", "abs", "err", "rel", "err",
                                "fd", "err", "verdict"]
    assert lines[4].index("verdict") == lines[5].index("PASS") == lines[6].index("PASS")
    assert good == str(check_gradients((w * x).sigmoid(), {"x": 2.0}))  # deterministic
    monkeypatch.setitem(OPS, "sigmoid", _patched("sigmoid", partials=lambda xs, y, a: (y,)))
    bad = str(check_gradients((w * x).sigmoid(), {"x": 2.0}))
    assert bad.startswith("gradient check FAILED: 1 point(s) (given point(s)); 2 FAIL")
    assert "gradient mismatch for d yhat / d w at point #1: engine=1.462117157, sympy=0.3932238665, " \
           "finite-diff=0.3932238664; |engine - sympy| = 1.07e+00 > tol 5.89e-15 (engine rounding bound)" in bad
    assert bad.splitlines()[-2:] == ["blame:", "  node `yhat` (sigmoid): engine d/dt1 = 0.7310585786, "
                                     "SymPy = 0.1966119332"]


# -- issue 13: tolerances that scale, finite differences as a witness, linear cost -------------------


@pytest.mark.parametrize("build, at", [
    (lambda x: 1.0 / x, 1e-4),
    (lambda x: (x + 1e8) - 1e8, 0.3),
    (lambda x: (1e6 * x).tanh(), 1e-7),
    (lambda x: (x * 1e-8).exp() * 1e12 - 1e12, 2.0),
])
def test_badly_conditioned_points_are_not_false_alarms(build, at):
    x = sn.Input("x")
    report = check_gradients(build(x), {"x": at})
    assert report.ok and report.verdict("x") == "PASS", str(report)


def test_an_unreliable_finite_difference_is_named_with_its_condition():
    x = sn.Input("x")
    report = check_gradients((x + 1e8) - 1e8, {"x": 0.3})
    row = report.rows[0]
    assert row.verdict == "PASS" and row.note.startswith("finite differences unreliable here")
    assert "condition" in row.note and "finite differences unreliable here" in str(report)


def test_a_user_op_wrong_by_a_relative_1e_6_on_tiny_values_fails():
    import sympy

    tiny = sn.define_op("tiny_wrong_partial", 1, forward=lambda v: 1e-9 * v * v,
                        partials=lambda v: (2e-9 * v * (1 + 1e-6),),
                        sympy=lambda e: sympy.Rational(1, 10**9) * e**2)
    try:
        x, w = sn.Input("x"), sn.Parameter(0.8, name="w")
        report = check_gradients(tiny(w * x), {"x": 1.3})
        assert not report.ok and report.verdict("w") == "FAIL", str(report)
        assert "engine rounding bound" in report.first_failure
        assert any("tiny_wrong_partial" in b for b in report.blame)
    finally:
        sn.OPS.pop("tiny_wrong_partial", None)


def test_the_engine_bound_follows_the_terms_not_a_floor():
    # gradients around 1e-20 are compared to their own magnitude: a fixed atol of 1e-12 would pass anything
    x, w = sn.Input("x"), sn.Parameter(1e-10, name="w")
    report = check_gradients((w * w * x).exp(), {"x": 1e-10})
    assert report.ok
    row = next(r for r in report.rows if r.name == "w")
    assert abs(row.sympy) < 1e-15 and row.abs_err <= 1e-30


@pytest.mark.parametrize("kwargs", [dict(rtol=float("nan")), dict(atol=-1.0), dict(rtol=float("inf")),
                                    dict(atol="1e-3"), dict(rtol=True)])
def test_tolerance_arguments_are_validated(kwargs):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    with pytest.raises(sn.InputError, match="tolerance"):
        check_gradients(w * x, {"x": 1.0}, **kwargs)


def test_nested_relus_are_checked_without_sympy_errors():
    w = sn.Parameter(0.8, name="w")
    report = check_gradients((-(w * w)).relu().relu(), {})
    assert report.ok and report.rows[0].engine == 0.0
    report = check_gradients(((w * w - 0.25).relu() - 0.1).relu().relu(), {})
    assert report.ok, str(report)


def test_a_wide_sum_is_checked():  # its cost: the call counts below, and bench/verify_scaling.py
    x = sn.Input("x")
    ps = [sn.Parameter(0.1 * (i % 7 + 1), name=f"p{i}") for i in range(2000)]
    report = check_gradients(sn.Add([p * x for p in ps]), {"x": 0.7})
    assert report.ok and len(report.rows) == 2001
    assert any("FD_WORK_BUDGET" in n for n in report.notes)
    assert report.verdict("x") == "PASS" and report.rows[-1].sympy == pytest.approx(sum(p.value for p in ps))


def test_the_finite_difference_step_follows_the_variable():
    from symnet.check_fd import STEP, finite_difference

    x = sn.Input("x")
    p = sn.compile((x * 1e6).tanh()).program
    from symnet import engine

    vals = engine.evaluate(p, [1e-7 if node.kind == "input" else node._value for node in p.nodes])
    fd = finite_difference(p, vals, p.inputs[0], p.outputs, list(p.op_indices))[0]
    assert fd.step == pytest.approx(STEP * 1e-7)
    assert fd.value == pytest.approx(1e6 * (1 - math.tanh(0.1) ** 2), rel=1e-4)


# -- linear cost (issue 13 item 7); the times are in bench/verify_scaling.py --


def test_check_gradients_work_is_linear_in_the_width_of_a_sum():
    from counting import verifier_calls, wide_sum

    # finite differences (check_fd) are a witness capped at FD_WORK_BUDGET per point, so left out
    counts = []
    for n in (150, 300, 600):
        root, _ = wide_sum(n)
        counts.append(verifier_calls(lambda: check_gradients(root, {"x": 0.7}), skip=("check_fd.py",)))
    (a, da), (b, db), (c, dc) = counts
    assert b / a <= 2.1 and c / b <= 2.1, counts  # quadratic work would give 4
    assert da == db == dc, counts  # SymPy differentiates each op's form once, whatever the width
