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
            if lin.bias is not None:  # a bias-free layer has no bias parameter in symnet either
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
        assert set(expected) == set(mine)  # the same parameters: no bias where PyTorch has none
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


def test_a_bias_free_linear_has_no_bias_parameter():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Tanh(), nn.Linear(2, 1))
    net = sn.from_torch(model)
    assert net.parameter_names == ["w1_1_1", "w1_1_2", "w1_2_1", "w1_2_2", "w2_1_1", "w2_1_2", "b2_1"]
    assert "tanh(w1_1_1*x1 + w1_1_2*x2)" in str(net)
    assert sn.check_gradients(net).ok
    tex = net.latex(form="matrix")  # no W h + b form: the scalar form, with a note saying why
    assert tex.startswith("% no matrix form (neuron 'z1_1' is not a weighted sum plus one bias)")
    assert r"z^{(1)}_{1} &= w^{(1)}_{1,1} x_{1} + w^{(1)}_{1,2} x_{2} \\" in tex


def test_saved_and_reloaded_import_keeps_everything(tmp_path):
    torch.manual_seed(1)
    net = sn.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1)))
    sn.save(net, tmp_path / "t.json")
    back = sn.load(tmp_path / "t.json")
    assert back.program.names == net.program.names
    assert back.predict([1.0, 2.0]) == net.predict([1.0, 2.0])


@pytest.mark.parametrize("model, match", [
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)), r"module 1 \(Dropout\) is in training mode.*eval\(\)"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Conv1d(1, 1, 1))), r"module 1\.1 \(Conv1d\)"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(2, 1)), r"module 1 \(Linear\): expects 2 inputs"),
    (lambda: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)), r"dim=1 or -1\), got dim=0"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Linear(2, 1)), "pass n_inputs"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.PReLU()), r"module 1 \(PReLU\): unsupported module"),
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
    with pytest.raises(InputError, match="expects a torch.nn.Sequential or Module"):
        sn.from_torch("Linear(2, 1)")
    model = nn.Sequential(nn.Linear(2, 1))
    with torch.no_grad():
        model[0].weight[0, 1] = float("nan")
    with pytest.raises(NumericalError, match=r"module 0 \(Linear\) weight"):
        sn.from_torch(model)


def test_import_symnet_does_not_import_torch():
    code = "import sys, symnet; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- what people train (issue 15): eval mode, batch-shaped softmax, more activations, fx --


class Chain(nn.Module):
    """A forward written as a chain of modules, functions and tensor methods."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(4, 3)

    def forward(self, x):
        x = torch.nn.functional.leaky_relu(self.fc1(x), 0.2)
        x = self.drop(x)
        x = torch.nn.functional.dropout(x, p=0.3, training=self.training)
        x = torch.tanh(x).relu()
        return torch.nn.functional.log_softmax(self.fc2(x), dim=1)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 3), nn.GELU(approximate="tanh"))

    def forward(self, x):
        return self.body(x).softmax(dim=-1)


USED = {
    "softmax-dim1": lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 3), nn.Softmax(dim=1)),
    "logsoftmax": lambda: nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3), nn.LogSoftmax(dim=-1)),
    "dropouts": lambda: nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.ReLU(), nn.AlphaDropout(0.1),
                                      nn.Identity(), nn.Linear(3, 1)),
    "leaky-elu-silu": lambda: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2), nn.Linear(3, 3), nn.ELU(0.7),
                                            nn.Linear(3, 3), nn.SiLU(), nn.Linear(3, 1)),
    "defaults": lambda: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(), nn.Linear(3, 3), nn.ELU(), nn.Linear(3, 1)),
    "softplus": lambda: nn.Sequential(nn.Linear(3, 4), nn.Softplus(), nn.Linear(4, 4),
                                      nn.Softplus(beta=2.0, threshold=1.5), nn.Linear(4, 1)),
    "gelu": lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 4), nn.GELU(approximate="tanh"),
                                  nn.Linear(4, 2)),
    "hardtanh": lambda: nn.Sequential(nn.Linear(3, 5), nn.Hardtanh(-0.5, 0.75), nn.Linear(5, 4), nn.ReLU6(),
                                      nn.Linear(4, 1)),
    "fx-chain": Chain,
    "fx-nested": lambda: nn.Sequential(Block(), nn.Linear(3, 1)),
}


@pytest.mark.parametrize("name", sorted(USED))
def test_models_people_train_match_pytorch_in_float64(name):
    torch.manual_seed(11)
    model = USED[name]().eval()
    with torch.no_grad():  # large weights: reach the kinks, thresholds and flat parts
        for lin in linears(model):
            lin.weight.mul_(3.0)
    net = sn.from_torch(model)
    n_in = len(net.inputs)
    for x in ([0.3, -1.2, 0.7][:n_in], [-0.9, 0.4, 1.1][:n_in], [1.3, 0.8, -0.2][:n_in]):
        outs, _ = torch_grads(model, x)
        got = net.predict(x)
        got = got if isinstance(got, list) else [got]
        assert got == pytest.approx(outs, rel=1e-12, abs=1e-12)
        for k in range(len(outs)):
            _, expected = torch_grads(model, x, output=k)
            mine = net.gradients(x, output=k if net.n_outputs > 1 else None)
            assert set(expected) <= set(mine)
            for key, g in expected.items():
                assert mine[key] == pytest.approx(g, rel=1e-12, abs=1e-12), (key, x)


def test_softplus_threshold_is_pytorchs():
    # beta*z above the threshold: PyTorch returns z itself, and its derivative is 1
    model = nn.Sequential(nn.Linear(1, 1), nn.Softplus(beta=2.0, threshold=1.0)).eval()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(0.0)
    net = sn.from_torch(model)
    for x in (0.2, 0.5001, 3.0):
        outs, grads = torch_grads(model, [x])
        assert net.predict([x]) == pytest.approx(outs[0], rel=1e-15)
        assert net.gradients([x])["x1"] == pytest.approx(grads["x1"], rel=1e-15)
    assert net.funcify() == "softplus(2*(w1_1_1*x1 + b1_1), 1)/2"


def test_activations_keep_their_parameters_and_print_them():
    model = nn.Sequential(nn.Linear(1, 1), nn.LeakyReLU(0.2), nn.Linear(1, 1), nn.ELU(), nn.Linear(1, 1), nn.GELU())
    text = sn.from_torch(model).funcify()
    assert "leaky_relu(w1_1_1*x1 + b1_1, 0.2)" in text
    assert "elu(w2_1_1*leaky_relu" in text and "gelu(" in text


def test_dropout_in_training_mode_is_refused_in_a_traced_module():
    with pytest.raises(GraphError, match=r"training mode.*model\.eval\(\)"):
        sn.from_torch(Chain())  # a fresh module is in training mode
    sn.from_torch(Chain().eval())


def test_a_forward_that_is_not_a_chain_is_refused_with_the_node():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) + x

    with pytest.raises(GraphError, match=r"module 0 \(Residual\), traced node 'add'.*chain"):
        sn.from_torch(Residual())

    class Unknown(nn.Module):
        def forward(self, x):
            return torch.nn.functional.hardswish(x)

    with pytest.raises(GraphError, match="unsupported function 'hardswish'"):
        sn.from_torch(Unknown(), n_inputs=2)


def test_hardtanh_at_both_ends_and_relu6_match_pytorch():
    model = nn.Sequential(nn.Linear(1, 1), nn.Hardtanh(-0.5, 0.75), nn.Linear(1, 1), nn.ReLU6()).eval()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(0.0)
        model[2].weight.fill_(8.0)
        model[2].bias.fill_(0.0)
    net = sn.from_torch(model)
    for x in (-0.5, 0.75, 0.3, -2.0, 2.0):  # both ends of Hardtanh exactly, and 6 = 8 * 0.75 for ReLU6
        outs, grads = torch_grads(model, [x])
        assert net.predict([x]) == pytest.approx(outs[0], abs=1e-15)
        mine = net.gradients([x])
        for key, g in grads.items():
            assert mine[key] == pytest.approx(g, abs=1e-15), (x, key)
