"""Macros name their parameters layer first (a superscript always means the layer), as MLP does."""

from __future__ import annotations

import math
import re

import pytest

import symnet as sn
from symnet.emit.notation import latex_name
from symnet.report import latex_report


def _softmax_dense() -> sn.Network:
    sn.seed(7)
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    return sn.compile(sn.Softmax(sn.Dense([x1, x2], 3)))


def test_dense_names_follow_the_mlp_convention() -> None:
    net = _softmax_dense()
    assert net.parameter_names == ["w1_1_1", "w1_1_2", "b1_1", "w1_2_1", "w1_2_2", "b1_2", "w1_3_1", "w1_3_2", "b1_3"]
    sn.seed(7)
    mlp = sn.compile(sn.MLP(2, [3], output_activation="softmax"))
    assert net.parameter_names == mlp.parameter_names and net.parameter_values == mlp.parameter_values


def test_layer_parameters_map_to_the_names() -> None:
    pytest.importorskip("numpy")
    net = _softmax_dense()
    arrays, values = net.layer_parameters(), dict(zip(net.parameter_names, net.parameter_values))
    assert set(arrays) == {"W1", "b1"}
    for j in range(3):
        assert arrays["b1"][j] == values[f"b1_{j + 1}"]
        for i in range(2):
            assert arrays["W1"][j, i] == values[f"w1_{j + 1}_{i + 1}"]


def test_stacked_dense_layers_number_themselves_and_explicit_layers_are_kept() -> None:
    xs = [sn.Input("x1"), sn.Input("x2")]
    hidden = sn.Dense(xs, 2, "tanh")
    out = sn.Dense(hidden, 1, "sigmoid")
    names = sn.compile(out[0]).parameter_names
    assert names[:3] == ["w1_1_1", "w1_1_2", "b1_1"] and names[-3:] == ["w2_1_1", "w2_1_2", "b2_1"]
    assert sn.compile(sn.Dense(xs, 1, layer=5)[0]).parameter_names == ["w5_1_1", "w5_1_2", "b5_1"]
    assert sn.compile(sn.Linear(xs, unit=2)).parameter_names == ["w1_2_1", "w1_2_2", "b1_2"]
    assert sn.compile(sn.Linear(xs)).parameter_names == ["w1", "w2", "b"]  # one neuron: input index only


def test_every_latex_output_has_the_layer_in_the_superscript() -> None:
    net = _softmax_dense()
    texts = [net.latex(), net.latex(layers=True), net.gradient_latex(output=2),
             net.worked_example([0.3, -0.6], target=1, loss="cross_entropy", lr=0.1).latex(),
             latex_report(net, [0.3, -0.6], target=1, loss="cross_entropy", lr=0.1),
             latex_report(net, [0.3, -0.6], target=1, loss="cross_entropy", form="matrix")]
    for tex in texts:
        supers = set(re.findall(r"[wbzh]\^\{\((\d+)\)\}", tex))
        assert supers <= {"1"}, supers                 # one layer: the superscript is never a unit
    assert r"w^{(1)}_{3,2}" in texts[0] and latex_name("w1_3_2") == r"w^{(1)}_{3,2}"
    assert "w1_3_2" in net.funcify() and "W1 @ x + b1" in net.funcify(form="matrix")


def test_model_files_saved_with_the_old_names_still_load(tmp_path) -> None:
    """Files written before this naming keep their own names (the names are stored in the file)."""
    net = _softmax_dense()
    path = tmp_path / "old.json"
    sn.save(net, path)
    text = re.sub(r'"w1_(\d)_(\d)"', r'"w\1_\2"', path.read_text())
    path.write_text(re.sub(r'"b1_(\d)"', r'"b\1"', text))
    old = sn.load(path)
    assert old.parameter_names == ["w1_1", "w1_2", "b1", "w2_1", "w2_2", "b2", "w3_1", "w3_2", "b3"]
    assert old.parameter_values == net.parameter_values
    assert old.predict([0.3, -0.6]) == net.predict([0.3, -0.6])


@pytest.mark.parametrize("build", ["softmax", "stacked"])
def test_gradients_of_dense_networks_are_checked(build: str) -> None:
    sn.seed(2)
    xs = [sn.Input("x1"), sn.Input("x2")]
    if build == "softmax":
        report = sn.check_gradients(sn.compile(sn.Softmax(sn.Dense(xs, 3))), loss="cross_entropy", target=2)
    else:
        report = sn.check_gradients(sn.compile(sn.Dense(sn.Dense(xs, 2, "tanh"), 1, "sigmoid")[0]),
                                    loss="bce", target=1.0)
    assert report.ok and report.rows


def test_linear_keeps_the_users_own_parameters() -> None:
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    w, v, bias = sn.Parameter(0.5, name="w"), sn.Parameter(-2.0, name="v"), sn.Parameter(0.25, name="beta")
    net = sn.compile(sn.Linear([x1, x2], weights=[w, v], bias=bias).sigmoid())
    assert net.parameter_names == ["w", "v", "beta"] and "w x_{1} + v x_{2} + \\beta" in net.latex(layers=True)
    assert net.predict([1.0, 0.5]) == pytest.approx(1 / (1 + math.exp(-(0.5 - 1.0 + 0.25))))
    mixed = sn.compile(sn.Linear([x1, x2], weights=[w, 3.0], layer=2, unit=1))
    assert mixed.parameter_names == ["w", "w2_1_2", "b2_1"]


def test_a_linear_without_bias():
    x1, x2 = sn.Input("x1", 2.0), sn.Input("x2", -1.0)
    z = sn.Linear([x1, x2], weights=[0.5, 0.25], bias=False)
    assert [p.name for p in z.parameters] == ["w1", "w2"] and z.forward() == 0.75
    net = sn.compile(z.tanh())
    assert str(net) == "tanh(w1*x1 + w2*x2)"
    assert sn.check_gradients(net).ok
    one = sn.Linear([x1], weights=[3.0], bias=False)  # one term: the sum is the product
    assert sn.compile(one).predict([2.0]) == 6.0
    assert [p.name for p in sn.Linear([x1], bias=True).parameters] == ["w1", "b"]


def test_a_layer_over_a_hand_built_neuron_is_the_next_layer():
    """Issue 12 item 7: a superscript always means the layer, whoever built the layer below."""
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    w, b = sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    h = (w * x1 + b).tanh()  # layer 1, by hand
    net = sn.compile(sn.Dense([h, x2], 2, activation="sigmoid"))
    assert net.parameter_names == ["w", "b", "w2_1_1", "w2_1_2", "b2_1", "w2_2_1", "w2_2_2", "b2_2"]
    lines = net.latex(layers=True).splitlines()
    assert lines[1:4] == [r"z^{(1)}_{1} &= w x_{1} + b \\", r"h^{(1)}_{1} &= \tanh\left(z^{(1)}_{1}\right) \\",
                          r"z^{(2)}_{1} &= w^{(2)}_{1,1} h^{(1)}_{1} + w^{(2)}_{1,2} x_{2} + b^{(2)}_{1} \\"]
    deeper = sn.Dense([(w * h + b).tanh()], 1)  # a hand-built neuron of layer 2 below
    assert [p.name for p in sn.compile(deeper[0]).parameters][-2:] == ["w3_1_1", "b3_1"]
    assert sn.check_gradients(net).ok


def test_a_layer_over_a_linear_counts_the_linear_s_layer():
    """next_layer reads a macro through its expansion: a Linear of layer 2 (over a hand-built
    neuron) under tanh puts the next Dense at layer 3, not at 2 again."""
    from symnet.layers import next_layer

    x1 = sn.Input("x1")
    h = (sn.Parameter(0.5, name="w") * x1 + sn.Parameter(0.1, name="b")).tanh()
    lin = sn.Linear([h], unit=1)  # layer 2
    assert next_layer([lin.tanh()]) == 3 and next_layer([sn.Linear([x1], layer=1)]) == 2
    top = sn.Dense([lin.tanh()], 1)[0]
    assert [p.name for p in sn.compile(top).parameters] == ["w", "b", "w2_1_1", "b2_1", "w3_1_1", "b3_1"]
