"""Hand-built networks are named like MLPs: neurons recognised by structure, named by
layer, outputs yhat, a hand-written error L, and automatic names that never look
like the user's (issue 12 item 3)."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.program import free_stems


def two_two_two():
    """The classic hand-built 2-2-2 network: tanh hidden units sharing one bias,
    sigmoid outputs sharing another, targets t1 and t2 as inputs, and the error
    0.5*(t1 - o1)**2 + 0.5*(t2 - o2)**2."""
    i1, i2 = sn.Input("i1", 0.05), sn.Input("i2", 0.10)
    t1, t2 = sn.Input("t1", 0.01), sn.Input("t2", 0.99)
    w = [sn.Parameter(v, name=f"w{k}") for k, v in enumerate((0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55), 1)]
    b1, b2 = sn.Parameter(0.35, name="b1"), sn.Parameter(0.6, name="b2")
    h1 = (w[0] * i1 + w[1] * i2 + b1).tanh()
    h2 = (w[2] * i1 + w[3] * i2 + b1).tanh()
    o1 = (w[4] * h1 + w[5] * h2 + b2).sigmoid()
    o2 = (w[6] * h1 + w[7] * h2 + b2).sigmoid()
    return 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2, (o1, o2)


def test_the_hand_built_network_reads_like_an_mlp():
    error, _ = two_two_two()
    net = sn.compile(error)
    assert net.funcify(layers=True).splitlines() == [
        "z1_1 = w1*i1 + w2*i2 + b1", "h1_1 = tanh(z1_1)",
        "z1_2 = w3*i1 + w4*i2 + b1", "h1_2 = tanh(z1_2)",
        "z2_1 = w5*h1_1 + w6*h1_2 + b2", "yhat1 = sigmoid(z2_1)",
        "z2_2 = w7*h1_1 + w8*h1_2 + b2", "yhat2 = sigmoid(z2_2)",
        "L = 0.5*(t1 - yhat1)**2 + 0.5*(t2 - yhat2)**2",
    ]


def test_automatic_temporaries_never_look_like_the_users_names():
    error, _ = two_two_two()
    names = [n for n in sn.compile(error).program.names if n]
    assert not any(n.startswith("t") and n not in ("t1", "t2") for n in names)
    assert any(n.startswith("v") for n in names)  # the temporaries took the next stem


def test_outputs_of_a_hand_built_vector_network_are_yhat():
    _, (o1, o2) = two_two_two()
    names = sn.compile(sn.Output([o1, o2])).program.names
    assert {"yhat1", "yhat2", "h1_1", "h1_2", "z2_1", "z2_2"} <= set(names)


def test_one_neuron_is_z_and_yhat():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    assert sn.compile((w * x + b).sigmoid()).funcify(layers=True) == "z = w*x + b\nyhat = sigmoid(z)"


def test_the_users_names_win():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    z = sn.Add([w * x, b], name="pre")
    h = sn.Tanh([z], name="act")
    h2 = sn.Sigmoid([sn.Parameter(0.3, name="v") * h + sn.Parameter(0.0, name="c")])
    names = sn.compile(h2).program.names
    assert {"pre", "act"} <= set(names) and "yhat" in names and "z2_1" in names


def test_not_every_activation_is_a_neuron():
    x, y = sn.Input("x"), sn.Input("y")
    names = sn.compile((x * y).tanh()).program.names  # no parameter: not a weighted sum
    assert "h" not in names and "z" not in names
    names = sn.compile((x + 1.0).relu()).program.names
    assert "z" not in names


def test_macro_networks_keep_their_names():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"))
    assert [net.program.names[i] for i in net.program.op_indices if net.program.names[i][0] in "zh"] == [
        "z1_1", "h1_1", "z1_2", "h1_2", "z2_1"]
    assert net.program.names[net.program.outputs[0]] == "yhat"  # the output is the prediction


@pytest.mark.parametrize("user, role, stem", [
    (["t1", "t2"], "temporary", "v"), (["t"], "temporary", "v"), (["t1", "v3"], "temporary", "u"),
    (["tx", "t_a"], "temporary", "t"), (["h1"], "activation", "a"), (["z2_1"], "sum", "s"),
    (["yhat"], "output", "o"), (["L"], "loss", "E"), ([], "activation", "h"),
])
def test_free_stems(user, role, stem):
    assert free_stems(user)[role] == stem


def test_names_are_the_same_in_every_compile():
    first = sn.compile(two_two_two()[0]).program.names
    assert first == sn.compile(two_two_two()[0]).program.names


def test_hand_built_neurons_with_a_bias_subtracted_are_recognised():
    x, w, v, b, c = (sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.2, name="v"),
                     sn.Parameter(0.1, name="b"), sn.Parameter(0.3, name="c"))
    assert sn.compile((w * x - b).tanh()).funcify(layers=True).splitlines() == ["z = w*x - b", "yhat = tanh(z)"]
    net = sn.compile((v * (w * x - b).tanh() - c).sigmoid())  # two layers
    assert net.funcify(layers=True).splitlines() == ["z1_1 = w*x - b", "h1_1 = tanh(z1_1)", "z2_1 = v*h1_1 - c",
                                                     "yhat = sigmoid(z2_1)"]


def test_a_neuron_reading_an_expression_of_neurons_is_one_layer_above_them():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    y = x
    for _ in range(3):
        y = (y * w + b).tanh() + 0.001  # each tanh reads the one below through "+ 0.001"
    lines = sn.compile(y).funcify(layers=True).splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["z1_1", "h1_1", "z2_1", "h2_1", "z3_1", "h3_1", "yhat"]
