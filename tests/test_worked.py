"""Worked examples: numbers agree with the engine, blanks and answer keys, losses added on top."""

from __future__ import annotations

import math

import pytest

import symnet as sn
from symnet.emit.render import format_number
from symnet.worked import worked_example, with_loss


def _celsius() -> sn.Network:
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-17.0, name="b")
    return sn.compile(w * x + b)


def _classifier() -> sn.Network:
    sn.seed(0)
    return sn.compile(sn.MLP(2, [4, 1], output_activation="sigmoid"))


def test_values_match_engine() -> None:
    net = _classifier()
    ex = worked_example(net, [0.3, 0.8], target=1.0, loss="bce", lr=0.5)
    loss_net, feed = with_loss(net, [0.3, 0.8], 1.0, "bce")
    grads = loss_net.gradients(feed)
    back = {s.key: s.value for s in ex.steps if s.part == "backward"}
    for name in net.parameter_names:
        assert back[name] == grads[name]
    loss = next(s for s in ex.steps if s.part == "loss")
    assert loss.key == "L" and math.isclose(loss.value, loss_net.predict(feed))
    updates = {s.key: s.value for s in ex.steps if s.part == "update"}
    assert updates["b2_1"] == pytest.approx(net.parameters[-1].value - 0.5 * grads["b2_1"])
    assert ex.loss_after < loss.value


def test_parameters_are_not_changed() -> None:
    net = _celsius()
    before = [p.value for p in net.parameters]
    worked_example(net, {"x": 100.0}, target=37.78, loss="mse", lr=1e-4)
    assert [p.value for p in net.parameters] == before


CELSIUS = r"""\noindent\textbf{Forward pass.} Each line: the definition, the numbers substituted, the value.
\begin{align*}
\hat{y} &= w x + b = 0.5 \cdot 100 - 17 = 33
\end{align*}
\noindent\textbf{Loss.}
\begin{align*}
L &= \left(\hat{y} - y\right)^{2} = \left(33 - 37.78\right)^{2} = 22.85
\end{align*}
\noindent\textbf{Backward pass.} Each line: local derivative $\times$ upstream gradient, summed over the uses of the node; then the numbers and the value.
\begin{align*}
\frac{\partial L}{\partial \hat{y}} &= 2 \left(\hat{y} - y\right) = 2 \cdot \left(33 - 37.78\right) = -9.56 \\
\frac{\partial L}{\partial w} &= x \frac{\partial L}{\partial \hat{y}} = 100 \cdot \left(-9.56\right) = -956 \\
\frac{\partial L}{\partial b} &= \frac{\partial L}{\partial \hat{y}} = -9.56
\end{align*}"""


def test_golden_linear_example() -> None:
    ex = worked_example(_celsius(), {"x": 100.0}, target=37.78, loss="mse")
    assert ex.latex() == CELSIUS


def test_blank_and_key() -> None:
    ex = worked_example(_celsius(), {"x": 100.0}, target=37.78, loss="mse", lr=1e-5)
    assert ex.loss_after < 22.85
    sheet = ex.latex(blank=["backward", "update"])
    key = ex.latex(blank=["backward", "update"], key=True)
    assert "-956" not in sheet and r"\boxed{-956}" in key and r"\phantom" in sheet
    assert "33" in sheet                                     # the forward pass stays
    only = ex.latex(blank=["forward:yhat", "update:w"])
    assert r"0.5 \cdot 100 - 17" not in only and r"\boxed{\phantom" in only and "-956" in only
    by_name = ex.blanked(["b"])
    assert {ex.steps[k].part for k in by_name} == {"backward", "update"}


@pytest.mark.parametrize("bad", [["nothing"], ["sideways:w"], ["forward:nope"]])
def test_bad_blank(bad: list[str]) -> None:
    ex = worked_example(_celsius(), {"x": 1.0}, target=1.0, loss="mse")
    with pytest.raises(sn.InputError, match="cannot blank"):
        ex.latex(blank=bad)


@pytest.mark.parametrize("bad, message", [
    (["update:yhat"], "the update part has no step 'yhat'; its steps are b, w"),  # a name of another part
    (["loss:w"], "the loss part has no step 'w'; its steps are L"),
    (["backward", "forward:L"], "the forward part has no step 'L'"),  # one bad item among good ones
])
def test_a_blank_that_selects_nothing_is_refused(bad: list[str], message: str) -> None:
    """A typo never hands out an "exercise" with nothing blanked and every answer on it."""
    ex = worked_example(_celsius(), {"x": 1.0}, target=1.0, loss="mse", lr=0.1)
    with pytest.raises(sn.InputError) as info:
        ex.latex(blank=bad)
    assert message in str(info.value)
    no_update = worked_example(_celsius(), {"x": 1.0}, target=1.0, loss="mse")
    with pytest.raises(sn.InputError, match="this example has no update part"):
        no_update.latex(blank=["update:w"])
    assert no_update.blanked(["update"]) == set()  # a whole part that is absent hides nothing, and leaks nothing


def test_cross_entropy_and_vector_targets() -> None:
    sn.seed(2)
    ex = worked_example(sn.compile(sn.MLP(2, [3], output_activation="softmax")), [0.1, 0.2], target=1,
                        loss="cross_entropy")
    assert [s.key for s in ex.steps if s.part == "loss"] == ["L"]
    sn.seed(2)
    two = sn.compile(sn.MLP(2, [2]))
    ex = worked_example(two, [0.1, 0.2], target=[1.0, 0.0], loss="mse")
    assert {"y1", "y2"} <= set(with_loss(two, [0.1, 0.2], [1.0, 0.0], "mse")[1])
    assert ex.steps[-1].part == "backward"


@pytest.mark.parametrize("kwargs, match", [
    ({"target": 1.0}, "needs a loss"), ({"loss": "hinge", "target": 1.0}, "unknown loss"),
    ({"loss": "mse"}, "needs a target"), ({"loss": "mse", "target": [1.0, 2.0]}, "2 value"),
    ({"loss": "mse", "target": 1.0, "lr": -1.0}, "lr must be"),
])
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(sn.InputError, match=match):
        worked_example(_celsius(), {"x": 1.0}, **kwargs)


def test_network_already_with_loss() -> None:
    x, w, y = sn.Input("x"), sn.Parameter(2.0, name="w"), sn.Input("y")
    ex = worked_example(sn.compile(sn.mse(w * x, y)), {"x": 1.0, "y": 0.0})
    assert [s.key for s in ex.steps] == ["yhat", "L", "yhat", "w"]  # the prediction a loss compares is yhat
    assert ex.steps[-1].value == 4.0


def test_blanking_a_gradient_blanks_what_would_answer_it() -> None:
    ex = worked_example(_celsius(), {"x": 100.0}, target=37.78, loss="mse", lr=1e-5)
    hide = ex.blanks(["backward:w"])
    assert {(ex.steps[k].part, ex.steps[k].key) for k in hide.steps} == {("backward", "w"), ("update", "w")}
    assert {(ex.steps[k].part, ex.steps[k].key) for k in hide.numbers} == {("backward", "b"), ("update", "b")}
    assert hide.hides_gradients and hide.hides_after and not hide.hides_values
    sheet, key = ex.latex(blank=["backward:w"]), ex.latex(blank=["backward:w"], key=True)
    new_w = format_number(0.5 + 1e-5 * 956, 4, latex=True)
    for answer in ("-956", new_w, "the loss is"):
        assert answer not in sheet and answer in key
    assert "x \\frac{\\partial L}{\\partial \\hat{y}}" not in sheet  # the derivative asked for is a box
    assert "= -9.56" in sheet                                       # d/db stays, its numbers boxed


def test_sgd_table_is_hidden_on_a_sheet() -> None:
    ex = worked_example(_celsius(), {"x": 100.0}, target=37.78, loss="mse", lr=1e-5, steps=2)
    assert "steps of gradient descent" in ex.latex() and "steps of gradient descent" in ex.latex(blank=["update"], key=True)
    assert "steps of gradient descent" not in ex.latex(blank=["update"])


def test_cross_entropy_states_the_class_and_shows_p() -> None:
    sn.seed(2)
    net = sn.compile(sn.MLP(2, [3], output_activation="softmax"))
    ex = worked_example(net, [0.1, 0.2], target=1, loss="cross_entropy", lr=0.1)
    loss_net, feed = with_loss(net, [0.1, 0.2], 1, "cross_entropy")
    vals, p = loss_net.forward_values(feed), loss_net.program
    z = [vals[i] for i in p.op_indices if p.names[i] in ("z1_1", "z1_2", "z1_3")]
    probs = [math.exp(v) / sum(math.exp(u) for u in z) for v in z]
    step = next(s for s in ex.steps if s.key == "p")
    forward = [s.key for s in ex.steps if s.part == "forward"]
    assert step.part == "forward" and forward[-1] == "p" and step.value == pytest.approx(probs, rel=1e-12)
    assert ex.target_classes == (1,) and ex.n_classes == 3
    tex = ex.latex()
    assert r"The target is class $c = 2$ of $3$ (index 1, counting from 0)" in tex
    assert r"e_{c} = \left(0, 1, 0\right)^{\top}" in tex and r"-\log p_{2}" in tex
    assert r"p_{k} = e^{z_{k}} / \sum_{j} e^{z_{j}}" in tex
    assert tex.index(r"p &= \operatorname{softmax}") < tex.index(r"\textbf{Loss.}")
    text = str(ex)
    assert "p       = softmax(z^(1)_1, z^(1)_2, z^(1)_3)" in text and "class c = 2 of 3" in text
    assert -math.log(probs[1]) == pytest.approx(next(s.value for s in ex.steps if s.key == "L"))


@pytest.mark.parametrize("target", [0, 1, 2])
def test_softmax_cross_entropy_steps_read_p(target):
    # issue 12: L = -log(p_c) with p's value, and the deltas p_k - 1[k = c] with p_k's value
    sn.seed(1)
    clf = sn.compile(sn.Softmax(sn.Dense([sn.Input("x1"), sn.Input("x2")], 3)))
    text = str(clf.worked_example([0.2, -0.4], target=target, loss="cross_entropy", lr=0.5))
    net = clf.with_loss("cross_entropy", target)
    vals = net.forward_values({"x1": 0.2, "x2": -0.4})
    z = [vals[a] for a in net.program.args[net.program.op_indices[-2]]]
    p = [math.exp(v - max(z)) / math.fsum(math.exp(u - max(z)) for u in z) for v in z]
    c = target + 1
    assert f"L = -log(p_{c}) = -log({p[target]:.4g}) = " in text
    grads = net.gradients({"x1": 0.2, "x2": -0.4})
    lines = [" ".join(line.split()) for line in text.splitlines()]
    for k in range(3):
        # p_k's value alone is the delta's value: printed once (p_2 = 0.3567, not p_2 = 0.3567 = 0.3567)
        rhs = f"p_{k + 1} - 1 = {p[k]:.4g} - 1 = " if k == target else f"p_{k + 1} = "
        assert f"delta^(1)_{k + 1} = {rhs}{format(p[k] - (k == target), '.4g')}" in lines, text
        assert grads[f"b1_{k + 1}"] == pytest.approx(p[k] - (k == target), rel=1e-12)
    assert "exp" not in text.split("Loss:")[1]


def test_a_definition_is_written_in_symbols_whatever_op_it_holds() -> None:
    """The definition column holds symbols; the numbers column holds the numbers (a formula op's
    local derivative printed its argument with the parameter values in: 3 x (0.5 x + 0.1)^2)."""
    cube = "cube_defn" if "cube_defn" in sn.OPS else sn.define_op("cube_defn", 1, formula="a*a*a").__name__
    x, w, b, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b"), sn.Input("y")
    for model in (sn.Node.apply(cube, (w * x + b,)), 1 / (1 + (-(w * x + b)).exp())):
        ex = worked_example(sn.compile(sn.mse(model, y)), {"x": 2.0, "y": 1.0})
        for step in ex.steps:
            if step.part == "backward" and step.key in ("w", "b"):
                assert "0.5" not in step.formula and "w x + b" in step.formula, step.formula
                assert "0.5" in step.numbers  # the values appear where the numbers are put in


def test_softmax_probabilities_take_a_fresh_name_beside_a_user_p() -> None:
    """One name for the probabilities in the worked example, the loss, the deltas and the report:
    P when the model has an input p (it printed p = softmax(...) beside -log p^(2)_3)."""
    p, q = sn.Input("p"), sn.Input("q")
    net = sn.compile(sn.Softmax(sn.Dense([p, q], 3)))
    ex = worked_example(net, {"p": 0.2, "q": -0.4}, target=2, loss="cross_entropy", lr=0.1)
    text = str(ex)
    assert "  P       = softmax(" in text and "L = -log(P_3) = " in text and "delta^(1)_3   = P_3 - 1" in text
    assert "p_2" not in text and "p^(2)" not in text
    assert ex.class_symbol == "P" and sum(ex.steps[3].value) == pytest.approx(1.0)
    assert r"P_{k} = e^{z_{k}}" in ex.latex()
