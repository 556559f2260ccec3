"""Hostile inputs and faults, part 1: numerics (N1-N9), graph structure and export (G1-G8)
and the gradient checker's own faults (C1-C7), one test per row of
research/reliability.md part (b) (parametrized where rows share a shape).

The common contract: every failure is a SymnetError whose message names the
offending node, parameter or value; no RecursionError, OverflowError,
ZeroDivisionError or KeyError reaches the user; nothing the user had is lost.
"""

from __future__ import annotations

import decimal
import fractions
import io
import math
import os
import struct
import subprocess
import sys
import warnings

import pytest

import symnet as sn
import symnet.engine
from symnet.check import check_gradients
from symnet.graph import Node

# -- N: numerics and engine ------------------------------------------------------------


@pytest.mark.parametrize("op, z, value", [
    ("sigmoid", 1000.0, 1.0), ("sigmoid", -1000.0, 0.0), ("tanh", 1000.0, 1.0), ("tanh", -1000.0, -1.0),
])
def test_n1_saturation_is_exact_and_silent(op, z, value):
    x = sn.Input("x", z)
    node = Node.apply(op, [x])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert node.forward() == value
        node.backward()
    assert x.grad == 0.0


def test_n2_exp_overflow_names_the_node_and_its_input():
    x = sn.Input("x", 710.0)
    e = sn.Exp([x], name="e3")
    with pytest.raises(sn.NumericalError) as info:
        e.forward()
    message = str(info.value)
    assert "'e3'" in message and "exp" in message and "x=710.0" in message
    assert isinstance(info.value, ArithmeticError)


@pytest.mark.parametrize("value", [0.0, -1.0, -0.0])
def test_n3_log_of_non_positive_names_the_node(value):
    x = sn.Input("x", value)
    node = sn.Log([x], name="l1")
    with pytest.raises(sn.NumericalError, match=r"'l1'.*non-positive"):
        node.forward()


def test_n4_bce_on_a_saturated_probability_is_clamped_like_pytorch():
    # sigmoid(40) rounds to exactly 1.0; -log(1 - p) is clamped at 100 (PyTorch's BCELoss)
    z = sn.Input("z", 40.0)
    loss = sn.bce(z.sigmoid(), 0.0)
    assert loss.forward() == 100.0
    loss.backward()
    assert math.isfinite(z.grad)
    # away from saturation the loss and its gradient are the exact ones: sigma(z) - y
    z.value = 3.0
    p = 1 / (1 + math.exp(-3.0))
    assert loss.forward() == pytest.approx(-math.log(1 - p), rel=1e-14)
    loss.backward()
    assert z.grad == pytest.approx(p - 0.0, rel=1e-12)


def test_n5_softmax_and_cross_entropy_on_extreme_logits():
    assert sn.Softmax([sn.Constant(1000.0), sn.Constant(0.0)]).forward() == [1.0, 0.0]
    assert sn.Softmax([sn.Constant(-1000.0), sn.Constant(-1000.0)]).forward() == [0.5, 0.5]
    a, b = sn.Input("a", 1000.0), sn.Input("b", 0.0)
    ce = sn.cross_entropy(sn.Softmax([a, b]), 1)  # the wrong label, with full confidence
    assert ce.forward() == 1000.0
    ce.backward()
    assert (a.grad, b.grad) == (1.0, -1.0)  # softmax - onehot


def test_n6_nan_never_appears_silently():
    # ReLU lets NaN through instead of hiding it ...
    assert math.isnan(sn.OPS["relu"].forward((math.nan,), None))
    # ... and NaN cannot enter: inputs are checked, and the first node that would
    # produce a non-finite value from finite inputs is named
    x = sn.Input("x", 1.0)
    with pytest.raises(sn.InputError, match="input 'x'.*finite"):
        x.value = math.nan
    x.value = 1e308
    big = sn.Multiply([x, 10.0], name="big")
    out = (big - big).relu()
    with pytest.raises(sn.NumericalError, match=r"overflow.*'big'"):
        out.forward()


@pytest.mark.parametrize("build, message", [
    (lambda p: sn.bce(p, 1.5), r"bce.*\[0, 1\].*1\.5"),
    (lambda p: sn.bce(p, -0.5), r"bce.*\[0, 1\].*-0\.5"),
    (lambda p: sn.cross_entropy(sn.Softmax([p, p * 2.0]), 2), r"cross_entropy.*\[0, 2\).*2"),
    (lambda p: sn.cross_entropy(sn.Softmax([p, p * 2.0]), -1), r"cross_entropy.*-1"),
    (lambda p: sn.cross_entropy(sn.Softmax([p, p * 2.0]), 0.5), r"cross_entropy.*0\.5"),
    (lambda p: sn.mse(sn.Output([p, p * 2.0]), [1.0, 2.0, 3.0]), r"mse: 2 prediction.*3 target"),
    (lambda p: sn.Softmax([]), r"Softmax needs at least one"),
])
def test_n7_bad_loss_arguments_name_the_loss_and_value(build, message):
    p = sn.Input("p", 0.5)
    with pytest.raises(sn.SymnetError, match=message) as info:
        build(p)
    assert isinstance(info.value, ValueError)


def test_n7_bad_targets_in_training_data_are_refused():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    model = (w * x).sigmoid()
    with pytest.raises(sn.InputError, match=r"bce.*\[0, 1\]"):
        sn.train_model(model, "bce", [([1.0], 2.0)], epochs=1, lr=0.1, out=io.StringIO())
    assert w.value == 0.5


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=math.nan), "lr"), (dict(lr=math.inf), "lr"), (dict(lr=0.0), "lr"), (dict(lr=-0.1), "lr"),
    (dict(lr="0.1"), "lr"), (dict(epochs=-1), "epochs"), (dict(epochs=2.5), "epochs"),
    (dict(print_every=0), "print_every"),
])
def test_n8_bad_training_configuration_fails_before_training(kwargs, message):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    options = dict(epochs=3, lr=0.1)
    options.update(kwargs)
    with pytest.raises(sn.InputError, match=message) as info:
        sn.train_model(w * x, "mse", [([1.0], 2.0)], out=io.StringIO(), **options)
    assert isinstance(info.value, ValueError)
    assert w.value == 0.5


def _diverging(engine="auto"):
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    data = [([10.0], 1.0), ([-7.0], 2.0)]  # lr = 1 on unscaled inputs: every step overshoots
    with pytest.raises(sn.NumericalError) as info:
        sn.train_model(w * x + b, "mse", data, epochs=500, lr=1.0, out=io.StringIO(), engine=engine)
    return info.value, (w, b)


@pytest.mark.parametrize("engine", ["interpreted", "python", "numpy", "auto"])
def test_n9_diverging_training_stops_with_finite_parameters(engine):
    if engine == "numpy":
        pytest.importorskip("numpy")
    error, params = _diverging(engine)
    assert all(math.isfinite(p.value) for p in params)
    assert "'L'" in str(error) or "diverged" in str(error)


def test_n9_diverging_training_names_the_parameter_and_the_step():
    error, params = _diverging()
    message = str(error)
    assert "step" in message and ("'w'" in message or "'b'" in message), message


def test_n9_non_finite_gradient_is_refused_before_the_update():
    # sgd_step itself: a non-finite gradient names the parameter and step and changes nothing
    from symnet.train import sgd_step

    w, v = sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="v")
    with pytest.raises(sn.NumericalError, match=r"'v'.*step 812"):
        sgd_step([w, v], [1.0, math.inf], 0.1, step=812)
    assert (w.value, v.value) == (0.5, 0.25)


def test_n9_overflow_in_the_article_style_loss_is_a_numerical_error():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    pair = (lambda p, t: (p - t) ** 2, lambda p, t: 2 * (p - t))
    with pytest.raises(sn.NumericalError, match="step"):
        sn.train_model(w * x, pair, [([10.0], 1.0), ([-7.0], 2.0)], epochs=500, lr=1.0, out=io.StringIO())


# -- G: graph structure and export --------------------------------------------------------


def _chain(n):
    x = sn.Input("x", 0.5)
    node = x
    for i in range(n):
        node = node.tanh() if i % 1000 == 0 else -node
    return x, node


def test_g1_a_100000_node_chain_forward_backward_save_load(default_recursion_limit, tmp_path):
    x, out = _chain(100_000)
    value = out.forward()
    out.backward()
    assert value == math.tanh(math.tanh(0.5)) * 0 + value  # finite, computed
    grad = x.grad
    assert grad != 0.0 and math.isfinite(grad)
    path = tmp_path / "chain.json"
    sn.save(out, path)
    net = sn.load(path)
    assert len(net.program.op_indices) == 100_000
    assert net.predict([0.5]) == value
    assert net.gradients([0.5])["x"] == grad


def test_g2_deep_chain_export_and_check_work_without_recursion(default_recursion_limit):
    x, out = _chain(3000)
    net = out.compile()
    # a chain's inline form grows linearly: the iterative printers write it whole
    assert net.latex().count(r"\tanh") == 3
    assert net.funcify().count("tanh(") == 3
    x, out = _chain(20_000)
    report = check_gradients(out, {"x": 0.5})  # per-node (let form) reference, no recursion
    assert report.ok, str(report)


def test_g2_deep_chain_sympy_export_raises_export_limit(default_recursion_limit):
    _, out = _chain(3000)
    with pytest.raises(sn.ExportLimitError, match="depth") as info:
        out.compile().to_sympy()
    assert "limit" in str(info.value)


def _lattice(depth):
    x = sn.Input("x", 0.3)
    ws = [sn.Parameter(0.1 * (i + 1), name=f"w{i}") for i in range(2 * depth)]
    a, b = x, x
    for d in range(depth):
        a, b = (a * ws[2 * d] + b * ws[2 * d + 1]).tanh(), (a * ws[2 * d + 1] - b * ws[2 * d]).tanh()
    return a + b


def test_g3_wide_shared_dag_latex_names_intermediates_or_hits_the_cap():
    net = _lattice(16).compile()
    with pytest.raises(sn.ExportLimitError, match="layered form"):
        net.latex()
    layered = net.latex(layers=True)
    assert len(layered) < 20_000  # linear in the number of nodes, not 2**16
    assert layered.count(r"\tanh") == 32


def test_g4_symbolic_forms_are_built_without_auto_evaluation():
    from symnet.emit.sympy import elementary_nodes

    x = sn.Input("x")
    program = sn.compile(x + x).program
    assert str(elementary_nodes(program)[program.outputs[0]]) == "x + x"  # not 2*x
    node = x
    for _ in range(11):
        node = (node * 0.5 + 0.1).tanh()
    program = sn.compile(node).program
    import sympy as sp

    assert elementary_nodes(program)[program.outputs[0]].count(sp.tanh) == 11


def test_g5_diamond_gradient_is_exact():
    x = sn.Input("x", 1.0)
    b = x + x
    c = b + b
    c.backward()
    assert x.grad == 4.0
    assert sn.compile(c).gradients([1.0]) == {"x": 4.0}


def test_g6_backward_twice_is_bit_identical():
    sn.seed(4)
    net = sn.MLP(2, [3, 3, 1], activation="tanh", output_activation="sigmoid")
    program = net.compile().program
    for k, x in enumerate(net.compile().inputs):
        x.value = 0.7 - k
    net.backward()
    first = [struct.pack("<d", n.grad) for n in program.nodes]
    net.backward()
    assert [struct.pack("<d", n.grad) for n in program.nodes] == first


_G7_SCRIPT = """
import symnet as sn
from symnet.check import check_gradients
sn.seed(3)
net = sn.compile(sn.MLP(3, [4, 2], activation="relu", output_activation="softmax"))
print(net.parameter_names, net.input_names)
print(sorted(net.gradients([0.1, -0.2, 0.3], output=1).items()))
print(list(net.gradients([0.1, -0.2, 0.3], output=0).values()))
print(net.latex(layers=True))
print(check_gradients(net, loss="cross_entropy", target=1, points=2).table())
"""


def test_g7_results_do_not_depend_on_hash_seeds():
    outputs = set()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for hashseed in ("0", "1", "12345"):
        env = {"PYTHONHASHSEED": hashseed, "PYTHONPATH": root, "PATH": os.environ.get("PATH", "")}
        result = subprocess.run([sys.executable, "-c", _G7_SCRIPT], capture_output=True, text=True,
                                env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_g8_a_parameter_without_a_path_gets_zero_and_a_note():
    x, w, v = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="v")
    out = sn.Output([w * x, v * x])
    net = out.compile()
    grads = net.gradients({"x": 2.0}, output=0)
    assert grads["v"] == 0.0 and grads["w"] == 2.0
    report = check_gradients(out, {"x": 2.0})
    row = next(r for r in report.rows if r.output == net.program.names[net.program.outputs[0]] and r.name == "v")
    assert row.engine == 0.0 and row.verdict == "PASS" and "no path" in row.note


# -- C: the gradient checker's own faults -----------------------------------------------------


def test_c1_relu_on_or_near_its_kink_is_skipped_not_failed():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    out = sn.ReLU([w * x - 0.5], name="r2") * 3.0
    for x_value in (0.5, 0.5 + 3e-7):
        report = check_gradients(out, {"x": x_value})
        assert report.ok, str(report)
        assert report.verdict("w") == "KINK"
        assert "`r2`" in report.kinks[0].note and "finite difference skipped" in report.kinks[0].note
        row = next(r for r in report.rows if r.name == "w")
        assert row.engine == row.sympy  # engine vs SymPy still compared: same ReLU'(0) = 0 convention


def test_c2_tiny_true_gradients_raise_no_false_alarm():
    x, w = sn.Input("x"), sn.Parameter(1e-12, name="w")
    out = w * x + (x * 3.0).tanh() * 1e3  # a large output next to a 1e-12 gradient
    report = check_gradients(out, {"x": 0.7})
    assert report.ok, str(report)
    assert report.verdict("w") == "PASS"


def test_c3_saturated_sigmoid_passes():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    report = check_gradients((w * x).sigmoid(), {"x": 30.0})
    assert report.ok, str(report)
    assert 0 < abs(next(r.engine for r in report.rows if r.name == "w")) < 1e-11


def test_c4_a_planted_wrong_derivative_fails_with_a_table(monkeypatch):
    import dataclasses

    monkeypatch.setitem(sn.OPS, "sigmoid", dataclasses.replace(sn.OPS["sigmoid"], partials=lambda xs, y, a: (y,)))
    x, w = sn.Input("x"), sn.Parameter(0.8, name="w")
    report = check_gradients((w * x).sigmoid(), {"x": 1.3})
    assert not report.ok
    text = str(report)
    for column in ("name", "engine", "sympy", "finite diff", "abs err", "rel err", "verdict"):
        assert column in text
    assert "FAIL" in text and "gradient mismatch for d yhat / d w" in text
    with pytest.raises(sn.GradCheckError):
        check_gradients((w * x).sigmoid(), {"x": 1.3}, raise_on_fail=True)


def test_c5_a_non_reentrant_backward_fails(monkeypatch):
    real = symnet.engine.backward
    calls = []

    def drifting(program, values, seeds):
        calls.append(1)
        return [g * (1 + 1e-15 * len(calls)) for g in real(program, values, seeds)]

    monkeypatch.setattr(symnet.engine, "backward", drifting)
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    report = check_gradients((w * x).tanh(), {"x": 2.0})
    assert not report.ok and not report.reentrant
    assert report.first_failure.startswith("backward not reentrant")


def test_c6_reference_values_beyond_float_range_are_not_engine_errors():
    # d sigmoid(z)/dz at z = -800 is about 1e-348 (0.0 in float64); SymPy's formula
    # exp(-z)/(1 + exp(-z))**2 overflows in floats but not at 50 digits
    x, w = sn.Input("x"), sn.Parameter(-1.0, name="w")
    report = check_gradients((w * x).sigmoid(), {"x": 800.0})
    assert report.ok, str(report)
    assert next(r.sympy for r in report.rows if r.name == "w") == 0.0


@pytest.mark.parametrize("bad", [decimal.Decimal("0.5"), fractions.Fraction(1, 2), "0.5", True, 10 ** 400])
def test_c7_the_checker_needs_float64_values(bad):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    with pytest.raises(sn.InputError, match="'x'") as info:
        check_gradients(w * x, {"x": bad})
    assert isinstance(info.value, (ValueError, TypeError))


def test_c7_numpy_float32_is_refused():
    np = pytest.importorskip("numpy")
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    with pytest.raises(sn.InputError, match="float64"):
        check_gradients(w * x, {"x": np.float32(0.5)})
