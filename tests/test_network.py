"""Network: predict and gradients, input validation, the cached node-level API."""

from __future__ import annotations

import math

import pytest

import symnet as sn


@pytest.fixture
def affine():
    x, w, b = sn.Input("x"), sn.Parameter(2.0, name="w"), sn.Parameter(1.0, name="b")
    return sn.compile(w * x + b)


def test_predict_list_dict_and_scalar(affine):
    assert affine.predict([3.0]) == 7.0
    assert affine.predict({"x": 3.0}) == 7.0
    assert affine.predict(3.0) == 7.0


@pytest.mark.parametrize(
    "values, message",
    [([1.0, 2.0], "expected 1 input"), ({"y": 1.0}, "unknown input name"), ({}, "missing value"),
     ([math.nan], "finite"), (["3"], "real number"), (object(), "list or a dict")],
)
def test_predict_rejects_bad_values_naming_them(affine, values, message):
    with pytest.raises(sn.InputError, match=message):
        affine.predict(values)


def test_gradients_cover_parameters_then_inputs(affine):
    g = affine.gradients({"x": 3.0})
    assert list(g) == ["w", "b", "x"]
    assert g == {"w": 3.0, "b": 1.0, "x": 2.0}


def test_vector_output_predict_and_gradients():
    z1, z2 = sn.Input("z1"), sn.Input("z2")
    net = sn.compile(sn.Softmax([z1, z2]))
    p = net.predict([0.0, 0.0])
    assert p == [0.5, 0.5]
    with pytest.raises(sn.InputError, match="outputs"):
        net.gradients([0.0, 0.0])
    g = net.gradients([0.0, 0.0], output=0)
    assert g["z1"] == pytest.approx(0.25) and g["z2"] == pytest.approx(-0.25)


def test_network_holds_its_own_parameter_values(affine):
    before = affine.predict([1.0])
    affine.parameters[0].value = 10.0  # the node changes; the compiled network does not
    assert affine.predict([1.0]) == before
    again = sn.compile(affine.root)
    assert again.predict([1.0]) == 10.0 + affine.parameter_values[1]
    affine.set_parameters({affine.parameter_names[0]: 10.0})
    assert affine.predict([1.0]) == again.predict([1.0])


def test_compiling_twice_never_changes_the_first_network():
    x, a, c = sn.Input(), sn.Parameter(1.0), sn.Parameter(2.0)
    first = sn.compile(a * x + c)
    text = first.funcify()
    sn.compile(c * x + a)  # the same nodes, numbered the other way round
    assert first.funcify() == text == "w1*x1 + w2"
    assert (a.name, c.name, x.name) == (None, None, None)  # compiling never writes names


def test_set_parameters_is_validated(affine):
    with pytest.raises(sn.InputError, match="unknown parameter"):
        affine.set_parameters({"nope": 1.0})
    with pytest.raises(sn.InputError, match="finite"):
        affine.set_parameters([float("nan"), 1.0])
    with pytest.raises(sn.InputError, match="expected 2"):
        affine.set_parameters([1.0])
    with pytest.raises(sn.InputError, match="too large"):
        affine.set_parameters([10**400, 1.0])


def test_node_compile_sees_changed_leaves():
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    y = w * x
    assert y.compile().predict([1.0]) == 2.0
    w.value = 5.0
    assert y.compile().predict([1.0]) == 5.0


def test_backward_is_idempotent_and_does_not_rerun_forward():
    x, w = sn.Input("x", 2.0), sn.Parameter(3.0, name="w")
    y = (w * x).tanh()
    y.backward()
    first = (w.grad, x.grad)
    y.backward()
    assert (w.grad, x.grad) == first


def test_numerical_errors_name_the_node():
    x = sn.Input("x", -1.0)
    y = sn.Log([x])
    with pytest.raises(sn.NumericalError, match="log"):
        y.forward()
    big = sn.Input("big", 1000.0)
    with pytest.raises(sn.NumericalError, match="exp"):
        big.exp().forward()


def test_repr_mentions_sizes(affine):
    assert "2 parameter(s)" in repr(affine)


def test_str_is_the_formula_or_its_layers():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
    assert str(sn.compile((w * x + b).sigmoid())) == "sigmoid(w*x + b)"
    deep = str(sn.compile(sn.MLP(3, [4, 4, 1])))
    lines = deep.splitlines()
    assert lines[0] == "z1_1 = w1_1_1*x1 + w1_1_2*x2 + w1_1_3*x3 + b1_1"
    assert lines[-1] == "yhat = w3_1_1*h2_1 + w3_1_2*h2_2 + w3_1_3*h2_3 + w3_1_4*h2_4 + b3_1"
    assert len(lines) == 17


@pytest.mark.parametrize("target, sum_name, prediction", [("z", "s", "yhat"), ("yhat", "z", "o"), ("y", "z", "yhat")])
def test_a_target_may_take_a_name_symnet_would_give_automatically(target, sum_name, prediction):
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    net = sn.compile((w * x + b).sigmoid()).with_loss("mse", target)
    assert net.input_names == ["x", target]
    assert net.funcify(layers=True).splitlines() == [f"{sum_name} = w*x + b", f"{prediction} = sigmoid({sum_name})",
                                                     f"L = ({prediction} - {target})**2"]
    with pytest.raises(sn.InputError, match="already a name in the model"):
        net.with_loss("mse", "x")  # a name the user gave is still refused
