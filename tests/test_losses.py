"""Losses and Softmax as graph nodes: values, gradients, stability, bad targets."""

from __future__ import annotations

import io
import math

import pytest

import symnet as sn
from symnet.losses import attach_loss


def test_mse_value_and_gradient():
    p, t = sn.Input("p", 3.0), sn.Input("t", 1.0)
    loss = sn.mse(p, t)
    assert loss.forward() == 4.0
    loss.backward()
    assert p.grad == 4.0 and t.grad == -4.0


def test_mse_vector_is_the_mean():
    a, b = sn.Input("a", 1.0), sn.Input("b", 3.0)
    assert sn.mse(sn.Output([a, b]), [0.0, 1.0]).forward() == 2.5


def test_bce_is_finite_at_exact_zero_and_one():
    for p, t, expected in [(0.0, 1.0, 100.0), (1.0, 0.0, 100.0), (1.0, 1.0, 0.0)]:
        assert sn.bce(sn.Input("p", p), t).forward() == pytest.approx(expected)


def test_bce_gradient_matches_formula():
    p = sn.Input("p", 0.3)
    loss = sn.bce(p, 1.0)
    assert loss.forward() == pytest.approx(-math.log(0.3))
    loss.backward()
    assert p.grad == pytest.approx(-1 / 0.3)


def test_softmax_is_stable():
    out = sn.Softmax([sn.Constant(1000.0), sn.Constant(0.0)])
    assert out.forward() == [1.0, 0.0]
    out = sn.Softmax([sn.Constant(-1000.0), sn.Constant(-1000.0)])
    assert out.forward() == [0.5, 0.5]


def test_cross_entropy_of_softmax_has_gradient_p_minus_onehot():
    zs = [sn.Input("z1", 0.5), sn.Input("z2", -1.0), sn.Input("z3", 2.0)]
    probs = sn.Softmax(zs)
    loss = sn.cross_entropy(probs, 1)
    p = probs.forward()
    assert loss.forward() == pytest.approx(-math.log(p[1]))
    loss.backward()
    for k, z in enumerate(zs):
        assert z.grad == pytest.approx(p[k] - (1.0 if k == 1 else 0.0), abs=1e-15)


def test_cross_entropy_with_huge_logits_and_wrong_label():
    loss = sn.cross_entropy(sn.Softmax([sn.Input("a", 1000.0), sn.Input("b", 0.0)]), 1)
    assert loss.forward() == 1000.0


@pytest.mark.parametrize("call, message", [
    (lambda: sn.bce(sn.Input("p"), 1.5), "target"),
    (lambda: sn.cross_entropy(sn.Softmax([sn.Input("a"), sn.Input("b")]), 2), "target index"),
    (lambda: sn.mse(sn.Output([sn.Input("a"), sn.Input("b")]), [1.0]), "2 prediction"),
    (lambda: sn.Softmax([]), "at least one"),
])
def test_bad_loss_configuration_is_named(call, message):
    with pytest.raises(sn.SymnetError, match=message):
        call()


# -- attach_loss: the one way to put a loss on top (issue 11 item 6, issue 16 kind 6) --


def test_attach_loss_picks_a_target_name_the_model_does_not_use():
    x, y = sn.Input("x"), sn.Input("y")
    assert attach_loss(2 * x, "mse").target_names == ("y",)
    assert attach_loss(2 * x + y, "mse", taken=["x", "y"]).target_names == ("target",)
    assert attach_loss(2 * x + y, "bce", taken=["x", "y", "target"]).target_names == ("y_true",)
    two = sn.Output([x, 2 * x])
    assert attach_loss(two, "mse", taken=["x", "y1"]).target_names == ("target1", "target2")


def test_attach_loss_takes_the_users_target_name_and_refuses_a_clash():
    x = sn.Input("x")
    att = attach_loss(2 * x, "mse", target_name="label", taken=["x"])
    assert att.target_names == ("label",)
    assert sn.compile(att.node).input_names == ["x", "label"]
    with pytest.raises(sn.InputError, match="already a name"):
        attach_loss(2 * x, "mse", target_name="x", taken=["x"])
    with pytest.raises(sn.NameConflictError):
        attach_loss(2 * x, "mse", target_name="1bad")


def test_attach_loss_numbers_and_class_indices():
    x = sn.Input("x")
    assert attach_loss(2 * x, "mse", 3.0).targets == ()
    assert sn.compile(attach_loss(2 * x, "mse", 3.0).node).predict([1.0]) == 1.0
    soft = sn.Softmax([x, 2 * x])
    att = attach_loss(soft, "cross_entropy", 1)
    assert att.targets == () and sn.compile(att.node).predict([0.0]) == pytest.approx(math.log(2))
    with pytest.raises(sn.InputError, match="class index"):
        attach_loss(soft, "cross_entropy")
    with pytest.raises(sn.InputError, match="unknown loss"):
        attach_loss(2 * x, "hinge")


def test_the_prediction_a_loss_compares_is_named_yhat_and_nodes_are_untouched():
    x, y, w = sn.Input("x"), sn.Input("y"), sn.Parameter(0.5, name="w")
    pred = (w * x).sigmoid()
    net = sn.compile(sn.bce(pred, y))
    assert net.program.names[-1] == "L" and "yhat" in net.program.names
    assert pred.name is None and pred.origin is None


@pytest.mark.parametrize("engine", ["interpreted", "python", "numpy", "auto"])
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_a_model_input_named_y_trains_on_every_engine(engine, loss):
    if engine == "numpy":
        pytest.importorskip("numpy")
    x, y = sn.Input("x"), sn.Input("y")
    w = sn.Parameter(0.5, name="w")
    model = (w * x + y).sigmoid()
    data = [([1.0, 0.0], 1.0), ([-1.0, 0.0], 0.0)]
    history = sn.train_model(model, loss, data, epochs=5, lr=0.5, engine=engine, out=io.StringIO())
    assert len(history) == 5 and history[-1] < history[0]
    assert w.value > 0.5


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(deadline=None, derandomize=True, max_examples=30)
@given(st.lists(st.sampled_from(["y", "target", "y_true", "y1", "x", "t"]), min_size=1, max_size=4, unique=True),
       st.sampled_from(["mse", "bce"]))
def test_any_input_names_train_with_a_free_target_name(names, loss):
    """Kind 6: whatever the model's inputs are called, a loss finds a free target name."""
    inputs = [sn.Input(n) for n in names]
    w = sn.Parameter(0.1, name="w")
    model = (w * sn.Add(inputs)).sigmoid()
    data = [([0.5] * len(names), 1.0), ([-0.5] * len(names), 0.0)]
    history = sn.train_model(model, loss, data, epochs=2, lr=0.1, engine="interpreted", out=io.StringIO())
    assert len(history) == 2 and all(math.isfinite(h) for h in history)
    att = attach_loss(model, loss, taken=names + ["w"])
    assert not set(att.target_names) & set(names)


# -- bce's clamp (log 0 -> -100, as PyTorch's BCELoss) is never shown as textbook arithmetic --


def _saturated(x_value=80.0, target=0.0):
    x, w, b = sn.Input("x", x_value), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b")
    return sn.compile((w * x + b).sigmoid()), {"x": x_value}, target


@pytest.mark.parametrize("x_value, target, active", [
    (80.0, 0.0, True), (80.0, 0.5, True), (80.0, 1.0, False),  # log(1 - p) has weight 0 at target 1
    (-80.0, 1.0, False), (-2000.0, 1.0, True), (-2000.0, 0.0, False),  # sigmoid(-40) is 4e-18, not 0
    (30.0, 0.0, False),  # sigmoid(15) is below 1 in float64
])
def test_clamped_finds_exactly_the_active_bce_clamps(x_value, target, active):
    from symnet import engine
    from symnet.losses import clamped

    x, w = sn.Input("x", x_value), sn.Parameter(0.5, name="w")
    p = sn.compile(sn.bce((w * x).sigmoid(), target)).program
    found = clamped(p, engine.evaluate(p, engine.leaf_template(p)))
    assert bool(found) is active
    if active:
        assert p.names[found[0][0]] == "L" and "the prediction is exactly" in found[0][1]


@pytest.mark.parametrize("values, target", [({"x": 80.0}, 0.0), ([{"x": 1.0}, {"x": 80.0}], [1.0, 0.0])])
def test_a_worked_example_refuses_a_clamped_bce(values, target):
    net, _, _ = _saturated()
    with pytest.raises(sn.NumericalError, match=r"node 'L' \(bce\).*exactly 1 in float64.*clamped at -100"):
        net.worked_example(values, target=target, loss="bce", lr=0.1)
    assert net.worked_example({"x": 2.0}, target=0.0, loss="bce").gradients["w"] > 0  # inside (0, 1): fine


def test_check_gradients_blames_the_clamp_not_the_engine():
    net, _, _ = _saturated()
    report = sn.check_gradients(net.with_loss("bce", 0.0), {"x": 80.0})
    assert not report.ok  # the engine's clamped gradient 0 is not the derivative 80 of the formula
    assert any("(bce) is clamped" in line and "clamped at -100" in line for line in report.blame)
    assert not any("engine-level error" in line for line in report.blame)
    assert any("clamped at -100" in note for note in report.notes)


def test_a_clamp_does_not_hide_a_wrong_rule_elsewhere():
    import math

    import sympy

    name = "tanh_twice_losses"
    if name not in sn.OPS:  # its partial is twice the truth
        sn.define_op(name, 1, forward=math.tanh, partials=lambda a: (2 * (1 - math.tanh(a) ** 2),),
                     sympy=sympy.tanh)
    x, w, v = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.3, name="v")
    net = sn.compile(sn.bce((w * x).sigmoid(), 0.0) + sn.Node.apply(name, (v,)))
    report = sn.check_gradients(net, {"x": 80.0})
    assert any("(bce) is clamped" in line for line in report.blame)
    assert any(name in line for line in report.blame)  # the wrong partial is still named
