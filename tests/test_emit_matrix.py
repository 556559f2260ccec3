"""The matrix form: golden LaTeX/text, and every formula it writes checked against the engine,
SymPy's derivative of the loss and central finite differences."""

from __future__ import annotations

import math

import pytest
import sympy as sp

import symnet as sn
from symnet import engine
from symnet.emit.matrix import matrix_gradient_latex, matrix_latex, matrix_text, output_delta, top_sympy
from symnet.layerview import layer_view
from symnet.worked import with_loss

np = pytest.importorskip("numpy")  # the independent oracle: NumPy matrix algebra

CASES = [  # sizes, hidden activation, output activation, target, loss
    ([3, 1], "tanh", None, 0.5, "mse"),
    ([3, 2], "sigmoid", "sigmoid", [0.0, 1.0], "mse"),
    ([4, 3, 1], "relu", "sigmoid", 1.0, "bce"),
    ([3, 3], "tanh", "softmax", 2, "cross_entropy"),
    ([2, 2], "relu", "relu", [0.3, -0.2], "mse"),
    ([3, 2, 1], None, None, 0.2, "mse"),  # hidden layers without activation: delta = W^T delta
]


def _lossnet(sizes, act, out_act, target, loss, seed=4):
    sn.seed(seed)
    net = sn.compile(sn.MLP(2, sizes, activation=act, output_activation=out_act))
    return with_loss(net, [0.7, -1.3], target, loss)


def _grid(vals, grid):
    return np.array([[vals[i] for i in row] for row in grid])


def _col(vals, idx):
    return np.array([vals[i] for i in idx])


def _hand_built(loss_kind):
    """A 2-2-1 tanh network written by hand (terms in varied order), with its loss."""
    x1, x2, y = sn.Input("x1"), sn.Input("x2"), sn.Input("y")
    a = [sn.Parameter(0.3 * k - 1.1, name=f"a{k}") for k in range(9)]
    h1 = (a[0] * x1 + a[1] * x2 + a[2]).tanh()
    h2 = (x2 * a[4] + a[3] * x1 + a[5]).tanh()
    out = a[6] * h1 + a[7] * h2 + a[8]
    root = (out - y) ** 2 if loss_kind == "hand" else sn.mse(out, y)
    return sn.compile(root), {"x1": 0.7, "x2": -1.3, "y": 0.4}


@pytest.mark.parametrize("loss_kind", ["hand", "mse"])
def test_hand_built_networks_have_the_matrix_form(loss_kind):
    lnet, feed = _hand_built(loss_kind)
    view = layer_view(lnet.program)
    assert view, view.reason
    assert [[lnet.program.names[i] for i in row] for row in view.layers[0].weights] == [["a0", "a1"], ["a3", "a4"]]
    assert [lnet.program.names[i] for i in view.layers[1].weights[0]] == ["a6", "a7"]
    assert "z2 = W2 @ h1 + b2" in lnet.funcify(form="matrix")
    _formulas_hold(lnet, feed)


@pytest.mark.parametrize("case", CASES)
def test_backprop_formulas_hold_numerically(case):
    _formulas_hold(*_lossnet(*case))


def _formulas_hold(lnet, feed):
    p = lnet.program
    view = layer_view(p)
    assert view
    vals = lnet.forward_values(feed)
    adj = engine.backward(p, vals, {p.outputs[0]: 1.0})
    deltas = {layer.index: _col(adj, layer.sums) for layer in view.layers}
    last = view.layers[-1]
    # delta^(L): p - e_c for softmax + cross-entropy, else the SymPy entries of output_delta
    if view.target_class is not None:
        z = _col(vals, last.sums)
        prob = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_allclose(deltas[last.index], prob - np.eye(len(z))[view.target_class], atol=1e-12)
    else:
        _, preds, symbols = top_sympy(view)
        subs = {s: vals[i] for i, s in symbols.items()}
        subs.update({sp.Symbol("z" if last.units == 1 else f"z{j}", real=True): vals[i]
                     for j, i in enumerate(last.sums, start=1)})
        got = [float(e.subs(subs)) for e in output_delta(view)]
        np.testing.assert_allclose(deltas[last.index], got, rtol=1e-12, atol=1e-12)
    # the recursion delta^(l) = (W^(l+1)^T delta^(l+1)) * f'(z^(l)), with f' from the op row's partials
    for layer, above in zip(view.layers[:-1], view.layers[1:]):
        W = _grid(vals, above.weights)
        fprime = np.array([layer.activation.partials((vals[z],), vals[h], None)[0]
                           for z, h in zip(layer.sums, layer.activations)]) if layer.activation else 1.0
        np.testing.assert_allclose(deltas[layer.index], (W.T @ deltas[above.index]) * fprime, rtol=1e-12, atol=1e-15)
    # dL/dW = delta h_prev^T and dL/db = delta, against the engine and finite differences
    for layer in view.layers:
        dW = np.outer(deltas[layer.index], _col(vals, layer.inputs))
        np.testing.assert_allclose(_grid(adj, layer.weights), dW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(_col(adj, layer.biases), deltas[layer.index], rtol=1e-12, atol=1e-15)
    params = [vals[i] for i in p.parameters]
    for k, i in enumerate(p.parameters):
        h = 1e-6
        up, down = list(params), list(params)
        up[k] += h
        down[k] -= h
        fd = (engine.evaluate(p, lnet.leaf_values(feed, up))[p.outputs[0]]
              - engine.evaluate(p, lnet.leaf_values(feed, down))[p.outputs[0]]) / (2 * h)
        assert math.isclose(adj[i], fd, rel_tol=1e-5, abs_tol=1e-7), p.names[i]


def test_output_delta_is_sympys_derivative_of_the_loss():
    # the delta^(L) printed for mse + sigmoid is d/dz of the loss written from SymPy's own functions
    lnet, _ = _lossnet([3, 2], "sigmoid", "sigmoid", [0.0, 1.0], "mse")
    view = layer_view(lnet.program)
    z1, z2, y1, y2 = sp.symbols("z1 z2 y1 y2", real=True)
    sig = lambda z: 1 / (1 + sp.exp(-z))  # noqa: E731
    loss = ((sig(z1) - y1) ** 2 + (sig(z2) - y2) ** 2) / 2
    entries = output_delta(view)
    for z, e in zip((z1, z2), entries):
        j = 1 if z == z1 else 2
        written = e.subs({sp.Symbol(f"yhat{j}", real=True): sig(z), sp.Symbol(f"z{j}", real=True): z})
        assert sp.simplify(written - sp.diff(loss, z)) == 0


def test_golden_forward_latex_and_text():
    lnet, _ = _lossnet([3, 1], "tanh", None, 0.5, "mse")
    tex = lnet.latex(form="matrix")
    assert tex.splitlines()[1:] == [
        r"x &= \left(x_{1}, x_{2}\right)^{\top} \in \mathbb{R}^{2} \\",
        r"z^{(1)} &= W^{(1)} x + b^{(1)}, \quad W^{(1)} \in \mathbb{R}^{3 \times 2},\ b^{(1)}, z^{(1)} \in \mathbb{R}^{3} \\",
        r"h^{(1)} &= \tanh\left(z^{(1)}\right) \\",
        r"z^{(2)} &= W^{(2)} h^{(1)} + b^{(2)}, \quad W^{(2)} \in \mathbb{R}^{1 \times 3},\ b^{(2)}, z^{(2)} \in \mathbb{R}^{1} \\",
        r"\hat{y} &= z^{(2)} \\",
        r"L &= \left(\hat{y} - y\right)^{2}",
        r"\end{aligned}",
    ]
    assert lnet.funcify(form="matrix") == (
        "x = [x1, x2]\nz1 = W1 @ x + b1\nh1 = tanh(z1)\nz2 = W2 @ h1 + b2\nyhat = z2\nL = (yhat - y)**2")


def test_golden_gradient_latex():
    lnet, _ = _lossnet([4, 3, 1], "relu", "sigmoid", 1.0, "bce")
    lines = lnet.gradient_latex(form="matrix").splitlines()
    assert lines[1] == (r"\delta^{(3)} = \frac{\partial L}{\partial z^{(3)}} &= \nabla_{\hat{y}} L \odot "
                        r"\sigma'\left(z^{(3)}\right) = \hat{y} - y \\")
    assert lines[2] == (r"\delta^{(2)} &= \left(\left(W^{(3)}\right)^{\top} \delta^{(3)}\right) \odot "
                        r"\operatorname{ReLU}'\left(z^{(2)}\right), \quad \operatorname{ReLU}'\left(z^{(2)}\right) = "
                        r"\mathbf{1}\left[z^{(2)} > 0\right] \\")
    assert r"\frac{\partial L}{\partial W^{(2)}} &= \delta^{(2)} \left(h^{(1)}\right)^{\top} \in \mathbb{R}^{3 \times 4} \\" in lines
    assert r"\frac{\partial L}{\partial W^{(1)}} &= \delta^{(1)} x^{\top} \in \mathbb{R}^{4 \times 2} \\" in lines
    assert r"\frac{\partial L}{\partial b^{(3)}} &= \delta^{(3)} \in \mathbb{R}^{1}" in lines
    soft, _ = _lossnet([3, 3], "tanh", "softmax", 2, "cross_entropy")
    assert r"&= p - e_{c}, \quad c = 3" in soft.gradient_latex(form="matrix")
    assert "L = -log(p[2])" in soft.funcify(form="matrix")


def test_scalar_fallback_with_note():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    net = sn.compile((w * x).tanh())
    tex = net.latex(form="matrix")
    assert tex.startswith("% no matrix form (the graph has no layer provenance") and tex.endswith(net.latex(layers="auto"))
    assert net.gradient_latex(form="matrix").endswith(net.gradient_latex())
    assert net.funcify(form="matrix").splitlines()[1:] == net.funcify(layers=True).splitlines()
    sn.seed(1)
    mse_softmax, _ = with_loss(sn.compile(sn.MLP(2, [2, 2], output_activation="softmax")), [1.0, 2.0], [0.0, 1.0], "mse")
    assert "softmax output with a loss other than cross-entropy" in mse_softmax.gradient_latex(form="matrix")


def test_form_is_checked():
    net = sn.compile(sn.MLP(2, [2, 1]))
    for call in (lambda: net.latex(form="tensor"), lambda: net.funcify(form=1), lambda: net.gradient_latex(form="x")):
        with pytest.raises(sn.InputError, match="form must be one of"):
            call()
    with pytest.raises(sn.InputError, match="leave wrt=None"):
        net.gradient_latex("w1_1_1", form="matrix")
    with pytest.raises(sn.InputError, match="takes times= and width= only; got digits="):
        net.latex(form="matrix", digits=3)
    with pytest.raises(sn.InputError, match="takes times= and width= only; got output="):
        net.gradient_latex(form="matrix", output=0)
    with pytest.raises(sn.InputError, match="takes no other options"):
        net.funcify(digits=2, form="matrix")
    with pytest.raises(sn.InputError, match="times must be one of"):
        net.latex(form="matrix", times="*")


def test_deep_and_wide_stays_linear():
    sn.seed(0)
    net = sn.compile(sn.MLP(3, [64] * 12 + [1], activation="tanh"))
    assert len(matrix_latex(net).splitlines()) == 2 + 12 * 2 + 1 + 2
    assert len(matrix_gradient_latex(net).splitlines()) == 1 + 1 + 12 + 26 + 1
    assert matrix_text(net.program).count("@") == 13


@pytest.mark.skipif(not __import__("shutil").which("pdflatex"), reason="pdflatex is not installed")
@pytest.mark.parametrize("case", CASES)
def test_matrix_latex_compiles(case, tmp_path):
    import subprocess

    lnet, _ = _lossnet(*case)
    body = "\n".join(f"\\[\n{t}\n\\]" for t in (lnet.latex(form="matrix"), lnet.gradient_latex(form="matrix")))
    doc = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\n\\end{document}\n"
    (tmp_path / "m.tex").write_text(doc)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "m.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_linear_hidden_layers_read_z():
    lnet, _ = _lossnet([3, 2, 1], None, None, 0.2, "mse")
    assert r"z^{(2)} &= W^{(2)} z^{(1)} + b^{(2)}" in lnet.latex(form="matrix")
    grad = lnet.gradient_latex(form="matrix")
    assert r"\delta^{(1)} &= \left(W^{(2)}\right)^{\top} \delta^{(2)} \\" in grad and r"\odot" not in grad
    assert r"\delta^{(2)} \left(z^{(1)}\right)^{\top}" in grad
    assert "z2 = W2 @ z1 + b2" in lnet.funcify(form="matrix")
