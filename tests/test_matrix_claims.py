"""Matrix-form claims: reading, expansion to scalar graphs, per-entry verdicts, shape errors, hostile text."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import symnet as sn
from symnet.matrix_claims import MatrixVerdict, check_matrix_derivative, parse_shape, read_matrix

SHAPES = {"W": (2, 3), "x": (3, 1), "b": (2, 1), "y": (2, 1)}
MODEL = "sum((W@x + b - y)**2)"


def _check(claim, model=MODEL, wrt="W", shapes=SHAPES, **kw):
    return sn.check_derivative(model, wrt, claim, shapes=shapes, inputs=["x", "y"], **kw)


def test_the_three_examples_of_the_issue():
    ok = _check("2*(W@x + b - y) @ x.T")
    assert isinstance(ok, MatrixVerdict) and ok.verdict == "PASS" and ok.shape == (2, 3) and len(ok.entries) == 6
    wrong = _check("(W@x + b - y) @ x.T")
    assert wrong.verdict == "FAIL" and not wrong and wrong.failed == (1, 1)
    assert "entry dL/dW[1,1]" in str(wrong) and "counterexample" in str(wrong)
    assert all(v.verdict == "FAIL" for v in wrong.entries.values())
    assert wrong.counterexample is wrong.entries[(1, 1)].counterexample and ok.counterexample is None
    assert ok.expected[1][2] == "2*x_3_1*(W_2_1*x_1_1 + W_2_2*x_2_1 + W_2_3*x_3_1 + b_2_1 - y_2_1)"
    with pytest.raises(sn.FormulaError) as err:
        _check("2*(W@x + b - y) @ x")
    msg = str(err.value)
    assert "2x1" in msg and "3x1" in msg and "col 17" in msg and err.value.col == 17


def test_a_single_wrong_entry_is_named():
    # the model has an extra W[2,3]**2 (entries can be named alone), so only entry [2,3] of the claim is wrong
    v = _check("2*(W@x + b - y) @ x.T", model=MODEL + " + W_2_3**2")
    assert v.verdict == "FAIL" and v.failed == (2, 3)
    assert [ij for ij, e in v.entries.items() if not e.correct] == [(2, 3)]
    assert "entry dL/dW[2,3]" in str(v)
    assert _check("2*(W@x + b - y) @ x.T + 2*W*0 + 0*b @ (0*x.T)", model=MODEL).correct


def test_mean_transpose_functions_and_scalars():
    assert _check("(W@x + b - y) @ x.T", model="mean((W@x + b - y)**2)").correct  # mean over 2 entries halves it
    assert not _check("2*(W@x + b - y) @ x.T", model="mean((W@x + b - y)**2)").correct
    assert _check("(x @ (W@x + b - y).T).T * 2").correct
    s = {"W": (2, 3), "x": (3, 1), "b": (2, 1)}
    v = sn.check_derivative("sum(tanh(W@x + b))", "W", "(1 - tanh(W@x + b)**2) @ x.T", shapes=s, inputs=["x"])
    assert v.correct
    v = sn.check_derivative("sum(sigmoid(W@x + b))", "b", "sigmoid(W@x+b) * (1 - sigmoid(W@x+b))", shapes=s, inputs=["x"])
    assert v.correct
    # a scalar weight decay term c (1x1) broadcasts over W
    v = sn.check_derivative("sum(W**2)*c/2", "W", "c*W", shapes={"W": (2, 2)})
    assert v.correct
    assert sn.check_derivative("sum(W**2)*c/2", "c", "sum(W**2)/2", shapes={"W": (2, 2)}).correct


def test_an_entry_the_loss_ignores_has_derivative_zero():
    v = sn.check_derivative("W_dummy + sum(x)", "W", "0*W", shapes={"W": (1, 2), "x": (2, 1)})
    assert v.correct
    assert not sn.check_derivative("W_dummy + sum(x)", "W", "1 + 0*W", shapes={"W": (1, 2), "x": (2, 1)}).correct


def test_expansion_is_numpy_matrix_algebra():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    W, x, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 1)), rng.normal(size=(2, 1))
    m = read_matrix("tanh(W @ x + b).T @ W / 2 - 1", {"W": (2, 3), "x": (3, 1), "b": (2, 1)}, inputs=["x"])
    assert (m.rows, m.cols) == (1, 3)
    values = {f"{n}_{i + 1}_{j + 1}": float(a[i, j]) for n, a in (("W", W), ("x", x), ("b", b))
              for i in range(a.shape[0]) for j in range(a.shape[1])}
    got = []
    for cell in m.cells:
        net = sn.compile(cell)
        net.set_parameters({n: values[n] for n in net.parameter_names})
        got.append(net.predict({k: values[k] for k in net.input_names}))
    np.testing.assert_allclose(got, (np.tanh(W @ x + b).T @ W / 2 - 1).ravel(), rtol=1e-12)


@pytest.mark.parametrize("claim,needle", [
    ("2*(W@x + b - y)", "the claim is 2x1 but W is 2x3"),
    ("W + x", "shapes 2x3 and 3x1 do not fit elementwise '+'"),
    ("x.T @ W", "shapes 1x3 and 2x3 do not fit '@'"),
    ("W ** W", "an exponent must be a number"),
    ("foo(W)", "unknown function 'foo'"),
    ("W.", "'.' is not allowed"),
    ("W @@ x", "expected a number, a name or '('"),
    ("(W", "expected ')'"),
    ("__import__('os').system('true')", "quotes are not allowed"),
    ("W.__class__", "'.' is not allowed"),
    ("W; x", "unexpected"),
    ("(" * 80 + "W" + ")" * 80, "nesting deeper than 64"),
    ("W" + " + W" * 700, "too long"),
])
def test_bad_claims_are_formula_errors(claim, needle):
    with pytest.raises(sn.FormulaError, match=re.escape(needle)):
        _check(claim)


def test_bad_arguments():
    with pytest.raises(sn.InputError, match="wrt='V' is not a name"):
        _check("W", wrt="V")
    with pytest.raises(sn.FormulaError, match="the model is 2x1; a loss must be 1x1"):
        _check("W", model="W@x")
    with pytest.raises(sn.InputError, match="shape of 'W' must be"):
        _check("W", shapes={"W": (2, 0)})
    with pytest.raises(sn.InputError, match="at most 256 entries"):
        _check("W", shapes={"W": (100, 100)})
    with pytest.raises(sn.InputError, match="target= and output= are for scalar models"):
        sn.check_derivative(MODEL, "W", "W", shapes=SHAPES, target="y")
    with pytest.raises(sn.InputError, match="target= and output= are for scalar models"):
        sn.check_derivative(MODEL, "W", "W", shapes=SHAPES, output=0)  # it was ignored
    with pytest.raises(sn.InputError, match="max_length must be a positive integer"):
        sn.check_derivative(MODEL, "W", "W", shapes=SHAPES, max_length=0)
    with pytest.raises(sn.InputError, match="NAME=ROWSxCOLS"):
        parse_shape("W=2by3")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "symnet", "verify", *args], capture_output=True, text=True, timeout=120)


def test_cli_verify_with_shapes():
    shape = ["--shape", "W=2x3", "--shape", "x=3x1", "--shape", "b=2x1", "--shape", "y=2x1", "--inputs", "x,y"]
    ok = _cli(MODEL, "--wrt", "W", "--claim", "2*(W@x + b - y) @ x.T", *shape)
    assert ok.returncode == 0 and "is correct" in ok.stdout
    bad = _cli(MODEL, "--wrt", "W", "--claim", "(W@x + b - y) @ x.T", *shape)
    assert bad.returncode == 1 and "dL/dW[1,1]" in bad.stdout
    err = _cli(MODEL, "--wrt", "W", "--claim", "2*(W@x + b - y) @ x", *shape)
    assert err.returncode == 2 and "2x1 and 3x1" in err.stderr and "col 17" in err.stderr


def test_the_module_needs_the_scalar_verdict_passed_in():
    with pytest.raises(sn.InputError, match="needs the scalar verdict"):
        check_matrix_derivative(MODEL, "W", "W", shapes=SHAPES)
    calls = []

    def fake(model, wrt, claim, points, seed, **extra):  # records the entries the verifier is asked about
        calls.append(wrt)
        return sn.check_derivative(model, wrt, claim, points=points, seed=seed, **extra)

    v = check_matrix_derivative(MODEL, "b", "2*(W@x + b - y)", shapes=SHAPES, inputs=["x", "y"], check=fake)
    assert v.correct and calls == ["b_1_1", "b_2_1"]


# -- each entry on the terms that hold it -----------------------------------------------------------


def _entry_models(model, claim, shapes, wrt="W", inputs=("x",)):
    seen = {}

    def record(m, name, c, points, seed, **extra):  # the scalar verdict, and the model it was asked about
        seen[name] = m
        return sn.check_derivative(m, name, c, points=points, seed=seed, **extra)

    v = check_matrix_derivative(model, wrt, claim, shapes=shapes, inputs=list(inputs), check=record)
    return v, seen


def test_each_entry_is_checked_on_the_polynomial_terms_that_hold_it():
    shapes = {"W": (3, 3), "x": (3, 1)}
    v, seen = _entry_models("sum((W@x)**2)", "2*(W@x) @ x.T", shapes)
    assert v.correct
    whole = read_matrix("sum((W@x)**2)", shapes, ["x"]).cells[0]
    for (i, j), entry in v.entries.items():
        leaves = {n.name for n in sn.compile(seen[f"W_{i}_{j}"]).parameters}
        assert leaves == {f"W_{i}_{k}" for k in (1, 2, 3)}  # row i's term only
        # the same derivative as on the whole model, to the symbol
        full = sn.check_derivative(whole, f"W_{i}_{j}", sn.compile(seen[f"W_{i}_{j}"]).root)
        assert entry.expected_expr == full.expected_expr


def test_a_term_that_is_not_a_polynomial_keeps_the_whole_model():
    shapes = {"W": (2, 2), "x": (2, 1)}
    v, seen = _entry_models("sum((W@x)**2) + log(c)", "2*(W@x) @ x.T", shapes)
    assert v.correct and all("log(c)" in e.model for e in v.entries.values())
    v, seen = _entry_models("sum(relu(W@x))", "step(W@x) @ x.T", shapes)  # kinks in every term
    assert v.correct and all(len(sn.compile(m).parameters) == 4 for m in seen.values())
    v, seen = _entry_models("sum(relu(W@x)) + sum(W**2)", "step(W@x) @ x.T + 2*W", shapes)
    assert v.correct and all(len(sn.compile(m).parameters) == 4 for m in seen.values())


def test_a_wrong_entry_among_many_is_named():
    n = 6
    shapes = {"W": (n, n), "x": (n, 1), "b": (n, 1), "y": (n, 1)}
    model = "sum((W@x + b - y)**2) + W_2_3**3"  # one entry has an extra term
    v = sn.check_derivative(model, "W", "2*(W@x + b - y) @ x.T", shapes=shapes, inputs=["x", "y"])
    assert v.verdict == "FAIL" and v.failed == (2, 3)
    assert [ij for ij, e in v.entries.items() if e.verdict != "PASS"] == [(2, 3)]
    assert "entry dL/dW[2,3]" in str(v) and "3*W_2_3**2" in str(v)
    mean = sn.check_derivative("mean((W@x + b - y)**2)", "W", f"2*(W@x + b - y) @ x.T / {n}", shapes=shapes,
                               inputs=["x", "y"])
    assert mean.correct


def test_a_claim_may_name_a_variable_the_entry_does_not_hold():
    shapes = {"W": (2, 3), "x": (3, 1), "b": (2, 1)}
    ok = sn.check_derivative("sum(W@x + b)", "W", "x.T + 0*b", shapes=shapes, inputs=["x"])
    assert ok.correct  # b is a variable of the model, though not of the terms that hold W[i, j]
    wrong = sn.check_derivative("sum(W@x + b)", "W", "x.T + (W@x + b)", shapes=shapes, inputs=["x"])
    assert wrong.verdict == "FAIL" and wrong.failed == (1, 1)


def test_a_wrong_claim_stops_at_its_first_wrong_entry():
    shapes = {"W": (4, 4), "x": (4, 1), "b": (4, 1), "y": (4, 1)}
    v = sn.check_derivative("sum((W@x + b - y)**2)", "W", "(W@x + b - y) @ x.T", shapes=shapes, inputs=["x", "y"])
    assert v.verdict == "FAIL" and v.failed == (1, 1) and list(v.entries) == [(1, 1)]
    assert v.expected[0][0] and v.expected[3][3] == ""  # entries after the first wrong one are not checked
    assert "entry dL/dW[1,1]: claimed " in str(v) and "the model" not in str(v).splitlines()[1]


def test_shapes_are_bounded():
    from symnet.matrix_claims import MAX_ENTRIES

    with pytest.raises(sn.InputError, match=f"at most {MAX_ENTRIES} entries"):
        sn.check_derivative("sum(W@x)", "W", "x.T", shapes={"W": (20, 20), "x": (20, 1)}, inputs=["x"])
