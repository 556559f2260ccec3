"""from_torch: same outputs and gradients as PyTorch in float64, names by layer, clear refusals."""

from __future__ import annotations

import subprocess
import sys

import pytest

import symnet as sn
from symnet.errors import GraphError, InputError, NumericalError

torch = pytest.importorskip("torch")
nn = torch.nn


def linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def torch_grads(model, x, output=0):
    """d output / d (every parameter and input), keyed by symnet's names."""
    model = model.double()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    model.zero_grad()
    out = model(xt.unsqueeze(0)).reshape(-1)  # a batch of one: Flatten needs it
    out[output].backward()
    grads = {}
    for k, lin in enumerate(linears(model), start=1):
        for j in range(lin.out_features):
            for i in range(lin.in_features):
                grads[f"w{k}_{j + 1}_{i + 1}"] = lin.weight.grad[j, i].item()
            if lin.bias is not None:  # a bias-free layer gets a bias parameter 0.0 in symnet
                grads[f"b{k}_{j + 1}"] = lin.bias.grad[j].item()
    for i, g in enumerate(xt.grad.tolist(), start=1):
        grads[f"x{i}"] = g
    return out.detach().tolist(), grads


MODELS = {
    "relu": lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)),
    "sigmoid-tanh": lambda: nn.Sequential(nn.Flatten(), nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid()),
    "softmax": lambda: nn.Sequential(nn.Linear(2, 3), nn.Identity(), nn.Sigmoid(), nn.Linear(3, 3), nn.Softmax(dim=-1)),
    "nested": lambda: nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Linear(2, 1, bias=False)),
    "float32": lambda: nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_outputs_and_gradients_match_pytorch(name):
    torch.manual_seed(7)
    model = MODELS[name]()
    net = sn.from_torch(model)  # imported while float32: the widening is exact
    n_in = len(net.inputs)
    x = [0.3, -1.2, 0.7][:n_in]
    outs, _ = torch_grads(model, x)
    got = net.predict(x)
    got = got if isinstance(got, list) else [got]
    assert got == pytest.approx(outs, rel=1e-13, abs=1e-15)
    for k in range(len(outs)):
        _, expected = torch_grads(model, x, output=k)
        mine = net.gradients(x, output=k if net.n_outputs > 1 else None)
        assert set(expected) <= set(mine)
        for key, g in expected.items():
            assert mine[key] == pytest.approx(g, rel=1e-12, abs=1e-14), key


def test_weights_are_exact_and_named_by_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    net = sn.from_torch(model)
    assert net.parameter_names == ["w1_1_1", "w1_1_2", "b1_1", "w1_2_1", "w1_2_2", "b1_2", "w2_1_1", "w2_1_2", "b2_1"]
    values = dict(zip(net.parameter_names, (p.value for p in net.parameters)))
    assert values["w1_2_1"] == float(model[0].weight[1, 0].item())
    assert values["b2_1"] == float(model[2].bias[0].item())
    assert net.input_names == ["x1", "x2"]


def test_saved_and_reloaded_import_keeps_everything(tmp_path):
    torch.manual_seed(1)
    net = sn.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1)))
    sn.save(net, tmp_path / "t.json")
    back = sn.load(tmp_path / "t.json")
    assert back.program.names == net.program.names
    assert back.predict([1.0, 2.0]) == net.predict([1.0, 2.0])


@pytest.mark.parametrize("model, match", [
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)), r"module 1 \(Dropout\): unsupported module"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Conv1d(1, 1, 1))), r"module 1\.1 \(Conv1d\)"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(2, 1)), r"module 1 \(Linear\): expects 2 inputs"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1)), "dim=1"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Linear(2, 1)), "pass n_inputs"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU()), r"module 1 \(LeakyReLU\)"),
])
def test_unsupported_modules_are_named(model, match):
    with pytest.raises(GraphError, match=match):
        sn.from_torch(model())


def test_leading_activation_with_n_inputs():
    model = nn.Sequential(nn.Tanh(), nn.Linear(2, 1))
    net = sn.from_torch(model, n_inputs=2)
    x = torch.tensor([0.5, -0.25], dtype=torch.float64)
    assert net.predict([0.5, -0.25]) == pytest.approx(model.double()(x).item(), rel=1e-14)


def test_non_modules_and_non_finite_weights():
    with pytest.raises(InputError, match="expects a torch.nn.Sequential"):
        sn.from_torch("Linear(2, 1)")
    model = nn.Sequential(nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight[0, 1] = float("nan")
    with pytest.raises(NumericalError, match=r"module 0 \(Linear\) weight"):
        sn.from_torch(model)


def test_import_symnet_does_not_import_torch():
    code = "import sys, symnet; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
