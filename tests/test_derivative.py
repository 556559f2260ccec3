"""Hand-derived derivatives: right ones pass, wrong ones fail with a counterexample."""

from __future__ import annotations

import math

import pytest

import symnet as sn
from symnet.derivative import check_derivative


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


#: (model, wrt, claimed, inputs): hand-derived and right, written in different forms.
RIGHT = [
    ("sigmoid(z)", "z", "exp(-z)/(1+exp(-z))**2", []),
    ("sigmoid(z)", "z", "sigmoid(z)*(1-sigmoid(z))", []),
    ("sigmoid(w*x+b)", "w", "sigmoid(w*x+b)*(1-sigmoid(w*x+b))*x", ["x"]),
    ("sigmoid(w*x+b)", "x", "w*exp(-(w*x+b))/(1+exp(-(w*x+b)))**2", ["x"]),
    ("(w*x + b - y)**2", "w", "2*x*(w*x+b-y)", ["x", "y"]),
    ("(w*x + b - y)**2", "w", "2*(w*x+b-y)*x", ["x", "y"]),
    ("(w*x + b - y)**2", "b", "2*(w*x + b) - 2*y", ["x", "y"]),
    ("tanh(w*x)", "w", "x*(1 - tanh(w*x)**2)", ["x"]),
    ("log(1 + exp(w*x))", "w", "x*sigmoid(w*x)", ["x"]),
    ("-(y*log(sigmoid(w*x)) + (1-y)*log(1-sigmoid(w*x)))", "w", "(sigmoid(w*x) - y)*x", ["x", "y"]),
    ("w*relu(x)", "w", "relu(x)", ["x"]),
    ("relu(w*x)", "w", "x*relu(w*x)/(w*x)", ["x"]),
    ("x/w", "w", "-x/w**2", ["x"]),
    ("exp(2*w)", "w", "2*exp(w)**2", []),
]

#: (model, wrt, claimed, inputs, what is wrong)
WRONG = [
    ("(w*x + b - y)**2", "w", "(w*x+b-y)*x", ["x", "y"], "missing factor 2"),
    ("(w*x + b - y)**2", "w", "-2*(w*x+b-y)*x", ["x", "y"], "sign error"),
    ("(w*x + b - y)**2", "w", "2*(w*x+b-y)", ["x", "y"], "missing chain factor x"),
    ("sigmoid(w*x+b)", "w", "sigmoid(w*x+b)*(1-sigmoid(w*x+b))", ["x"], "missing chain factor x"),
    ("sigmoid(z)", "z", "sigmoid(z)*sigmoid(z)", [], "s*s matches only at z = 0"),
    ("tanh(z)", "z", "1 - tanh(z)", [], "1-t matches only at z = 0"),
    ("tanh(w*x)", "w", "x*(1 - tanh(w*x))**2", ["x"], "square misplaced"),
    ("log(w*x)", "w", "1/(w*x)", ["x"], "missing chain factor x"),
    ("relu(z)", "z", "1", [], "true only for z > 0"),
    ("x/w", "w", "x/w**2", ["x"], "sign error"),
]


@pytest.mark.parametrize("model, wrt, claimed, inputs", RIGHT, ids=[c for _, _, c, _ in RIGHT])
def test_right_claims_pass(model, wrt, claimed, inputs):
    v = check_derivative(model, wrt, claimed, inputs=inputs)
    assert v.correct and v.verdict == "PASS" and v.counterexample is None, str(v)
    assert len(v.points) == 6


@pytest.mark.parametrize("model, wrt, claimed, inputs, why", WRONG, ids=[w for *_, w in WRONG])
def test_wrong_claims_fail_with_a_counterexample(model, wrt, claimed, inputs, why):
    v = check_derivative(model, wrt, claimed, inputs=inputs)
    assert not v.correct and v.verdict == "FAIL", str(v)
    ce = v.counterexample
    assert ce is not None and ce.claimed is not None and ce.true is not None
    assert abs(ce.claimed - ce.true) > 1e-6
    assert "is WRONG" in str(v) and "counterexample: at " in str(v) and f"expected (SymPy): {v.expected}" in str(v)


def test_counterexample_values_are_the_formulas_at_the_point():
    v = check_derivative("(w*x + b - y)**2", "w", "2*(w*x+b-y)", inputs=["x", "y"])
    p = v.counterexample.point
    assert sorted(p) == ["b", "w", "x", "y"]
    r = p["w"] * p["x"] + p["b"] - p["y"]
    assert v.counterexample.claimed == pytest.approx(2 * r, rel=1e-12)
    assert v.counterexample.true == pytest.approx(2 * r * p["x"], rel=1e-12)
    assert v.expected == "2*x*(b + w*x - y)"


def test_relu_counterexample_is_on_the_negative_side():
    v = check_derivative("relu(z)", "z", "1")
    assert v.counterexample.point["z"] < 0 and v.counterexample.true == 0.0
    assert v.expected == "Piecewise((1, z > 0), (0, True))"


def test_sigmoid_special_point_does_not_hide_a_wrong_rule():
    v = check_derivative("sigmoid(z)", "z", "sigmoid(z)**2")
    z = v.counterexample.point["z"]
    assert abs(z) >= 0.05 and v.counterexample.true == pytest.approx(sigmoid(z) * (1 - sigmoid(z)))


def test_points_use_both_signs():
    v = check_derivative("w*x", "w", "x", inputs=["x"])
    assert v.points[1] == {k: -val for k, val in v.points[0].items()}
    for name in ("w", "x"):
        assert all(0.05 <= abs(p[name]) <= 2 and abs(abs(p[name]) - 1) >= 0.05 for p in v.points)


@pytest.mark.parametrize("claimed, bit", [("x/(w-w)", "not finite"), ("(w-2)**0.5", "not finite or not real")])
def test_undefined_claims_are_never_passed(claimed, bit):
    v = check_derivative("w*x", "w", claimed, inputs=["x"])
    assert v.verdict == "UNDEFINED" and not v.correct and not v
    assert v.counterexample.claimed is None and bit in str(v)


def test_a_model_undefined_everywhere_is_undefined():
    v = check_derivative("log(w - w - 1)", "w", "0")
    assert v.verdict == "UNDEFINED" and "could be evaluated" in v.reason


def test_user_op_in_a_formula():
    try:
        sn.define_op("cube_user", 1, forward=lambda x: x**3, partials=lambda x: (3 * x * x,),
                     sympy=lambda x: x**3)
        assert check_derivative("cube_user(w*x)", "w", "3*w**2*x**3", inputs=["x"]).correct
        assert not check_derivative("cube_user(w*x)", "w", "3*w**2*x**2", inputs=["x"]).correct
    finally:
        sn.OPS.pop("cube_user", None)


def test_target_names_an_input_of_a_loss_formula():
    v = check_derivative("(w*x + b - t)**2", "b", "2*(w*x + b - t)", inputs=["x"], target="t")
    assert v.correct


def test_nodes_networks_and_targets():
    x, w, b = sn.Input("x"), sn.Parameter(0.3, name="w"), sn.Parameter(0.1, name="b")
    assert check_derivative(w * x + b, "w", "x").correct
    assert check_derivative(sn.compile((w * x + b).tanh()), "b", "1 - tanh(w*x + b)**2").correct
    assert check_derivative(w * x + b, "w", "2*(w*x + b - y)*x", target="y").correct
    assert check_derivative(w * x + b, "b", "2*(w*x + b - 0.5)", target=0.5).correct
    assert not check_derivative(w * x + b, "b", "2*(w*x + b + 0.5)", target=0.5).correct


def test_a_deep_model_is_refused_with_a_clear_error():
    x, w = sn.Input("x"), sn.Parameter(0.9, name="w")
    h = x
    for _ in range(200):
        h = (h * w).tanh()
    with pytest.raises(sn.ExportLimitError, match="depth 100"):
        check_derivative(h, "w", "x")


def test_verdict_string_and_determinism():
    a = check_derivative("sigmoid(w*x+b)", "w", "sigmoid(w*x+b)*(1-sigmoid(w*x+b))", inputs=["x"], seed=3)
    b = check_derivative("sigmoid(w*x+b)", "w", "sigmoid(w*x+b)*(1-sigmoid(w*x+b))", inputs=["x"], seed=3)
    assert str(a) == str(b) and a.seed == 3
    lines = str(a).splitlines()
    assert lines[0] == "d/dw of sigmoid(w*x+b): claimed sigmoid(w*x+b)*(1-sigmoid(w*x+b)) is WRONG"
    assert lines[1].startswith("  counterexample: at x=")
    assert lines[-1] == "  expected (SymPy): x*exp(-b - w*x)/(exp(-b - w*x) + 1)**2"
    ok = str(check_derivative("w*x", "w", "x", inputs=["x"]))
    assert ok.startswith("d/dw of w*x: claimed x is correct (symbolically equal, and equal at 6 random points")


def test_parsing_does_not_disturb_the_seeded_parameter_stream():
    sn.seed(11)
    first = sn.Parameter().value
    sn.seed(11)
    check_derivative("w*x + b", "w", "x", inputs=["x"])
    assert sn.Parameter().value == first


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model="w*x", wrt="q", claimed="x"), sn.InputError, "not a variable of the model"),
    (dict(model="w*x", wrt="w", claimed="x + q"), sn.FormulaError, "'q'"),
    (dict(model="w*x", wrt="w", claimed="__import__('os').system('true')"), sn.FormulaError, None),
    (dict(model="w*x", wrt="w", claimed="x", points=1), sn.InputError, "points"),
    (dict(model=3.0, wrt="w", claimed="x"), sn.InputError, "formula string, a node or a network"),
    (dict(model="w*x, w", wrt="w", claimed="x"), sn.InputError, "2 outputs"),
])
def test_bad_arguments(kwargs, error, match):
    kwargs.setdefault("inputs", ["x"])
    with pytest.raises(error, match=match):
        check_derivative(**kwargs)
