"""The layer view: layers, index grids, activation, input vector and loss read from provenance."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.layerview import layer_view
from symnet.layers import activate
from symnet.worked import with_loss


def _view(root):
    return layer_view(sn.compile(root).program)


@pytest.mark.parametrize("sizes,act", [([3, 1], "tanh"), ([4, 3, 2], "relu"), ([1], None), ([2, 2, 2, 1], "sigmoid")])
def test_mlp_layers_shapes_and_grids(sizes, act):
    sn.seed(3)
    v = _view(sn.MLP(2, sizes, activation=act))
    assert v and v.reason == ""
    fan_in = 2
    for l, (layer, units) in enumerate(zip(v.layers, sizes), start=1):
        assert layer.index == l and layer.shape == (units, fan_in)
        last = l == len(sizes)
        assert (layer.activation.name if layer.activation else None) == (None if last else act)
        assert v.weight_names(l) == [[f"w{l}_{j}_{i}" for i in range(1, fan_in + 1)] for j in range(1, units + 1)]
        assert v.bias_names(l) == [f"b{l}_{j}" for j in range(1, units + 1)]
        fan_in = units
    assert v.input_names == ["x1", "x2"]
    assert v.layers[1 if len(sizes) > 1 else 0].inputs == (v.layers[0].outputs if len(sizes) > 1 else v.inputs)
    grids = v.parameter_grids()
    assert list(grids) == [f"{k}{l}" for l in range(1, len(sizes) + 1) for k in "Wb"]
    # every parameter of the network appears exactly once in the grids
    flat = [i for g in grids.values() for row in g for i in (row if isinstance(row, tuple) else (row,))]
    assert sorted(flat) == sorted(v.program.parameters)


def test_losses_on_top():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [3, 1], activation="tanh"))
    lnet, _ = with_loss(net, [0.1, 0.2], 0.5, "mse")
    v = layer_view(lnet.program)
    assert v and v.loss == lnet.program.outputs[0] and v.target_class is None
    assert [lnet.program.names[i] for i in v.targets] == ["y"]
    soft = sn.compile(sn.MLP(2, [3, 3], activation="relu", output_activation="softmax"))
    assert len(layer_view(soft.program).head) == 3
    cnet, _ = with_loss(soft, [0.1, 0.2], 2, "cross_entropy")
    v = layer_view(cnet.program)
    assert v and v.target_class == 2 and v.outputs == () and v.targets == ()


def test_cached_once_per_program():
    net = sn.compile(sn.MLP(2, [2, 1]))
    assert layer_view(net.program) is layer_view(net.program)


def test_no_provenance_falls_back_with_reason():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    v = _view(w * x)
    assert not v and "no layer provenance" in v.reason


def test_skip_connection_is_not_a_layer_stack():
    xs = [sn.Input("x1"), sn.Input("x2")]
    h = sn.Dense(xs, 2, "tanh", layer=1)
    out = sn.Dense(h, 1, None, layer=2)[0]
    v = _view(out + h[0])  # h1_1 read from outside the stack
    assert not v and "inside the layer stack" in v.reason


def test_mixed_activations_and_missing_layer_rejected():
    xs = [sn.Input("x1"), sn.Input("x2")]
    z1 = sn.Linear(xs, layer=1, unit=1)
    z2 = sn.Linear(xs, layer=1, unit=2)
    h1, h2 = activate(z1, "tanh"), activate(z2, "relu")
    h1.origin, h2.origin = sn.Origin("activation", 1, 1), sn.Origin("activation", 1, 2)
    assert "different activations" in _view(sn.Output([h1, h2])).reason
    lonely = sn.Linear(xs, layer=2, unit=1)
    assert "not numbered" in _view(lonely).reason
