"""symnet.emit.plaintext: the LaTeX of worked examples read back as plain text."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.emit.plaintext import plain_text


@pytest.mark.parametrize("tex, text", [
    (r"\frac{\partial L}{\partial w^{(1)}_{1,1}}", "dL/dw^(1)_1,1"),  # one term each side: no parentheses
    (r"\frac{\partial \bar{L}}{\partial W^{(1)}}", "dLbar/dW^(1)"),
    (r"\frac{1 - y}{1 - \hat{y}}", "(1 - y)/(1 - yhat)"),
    (r"\frac{1}{2} \sum_{k=1}^{2} L^{[k]}", "1/2 sum_(k=1)^2 L^[k]"),
    (r"\mathbb{1}[z^{(1)}_{1} > 0] \cdot \left(-0.5\right)", "1[z^(1)_1 > 0] * (-0.5)"),
    (r"\exp\left(\left(-0.2\right)\right)", "exp(-0.2)"),  # doubled parentheses collapse
    (r"\sigma\left(z\right) + \sigma", "sigmoid(z) + sigma"),  # a called row; the Greek letter alone
    (r"\operatorname{ReLU}\left(x\right) + \operatorname{softmax}\left(z\right)", "relu(x) + softmax(z)"),
    (r"\left(\left(W^{(2)}\right)^{\top} \Delta^{(2)}\right) \odot \tanh'\left(Z^{(1)}\right)",
     "((W^(2))^T Delta^(2)) * tanh'(Z^(1))"),
    (r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix} \mathbf{1}^{\top}", "[[1, 2], [3, 4]] 1^T"),
    (r"\hat{y}_{1} - t_{1}", "yhat_1 - t_1"),
    (r"\mathit{lr} \eta \mathit{my\_rate}", "lr eta my_rate"),
    (r"\theta_{1} \leq \alpha_{\mathrm{max}}", "theta_1 <= alpha_max"),
    (r"x \in \mathbb{R}^{3 \times 2}", "x in R^(3 * 2)"),
    (r"e^{-0.1953}", "e^-0.1953"),
])
def test_plain_text(tex, text):
    assert plain_text(tex) == text


def test_an_unbalanced_fragment_ends_and_leaves_no_backslash_or_brace():
    for tex in (r"\frac{a}{b \left(", r"\hat{y", r"x_{1", r"\begin{bmatrix} 1 & 2"):
        out = plain_text(tex)
        assert not set(out) & set("\\{}"), (tex, out)


def test_a_square_root_reads_as_a_call():
    assert plain_text(r"\frac{x \left(\hat{y} - y\right)}{\sqrt{w x}} = \sqrt{2}") == "(x (yhat - y))/sqrt(w x) = sqrt(2)"
    x, w, y = sn.Input("x"), sn.Parameter(2.0, name="w"), sn.Input("y")
    text = str(sn.compile(sn.mse(sn.Node.apply("sqrt", (w * x,)), y)).worked_example({"x": 1.0, "y": 0.0}))
    assert "yhat = sqrt(w x) = sqrt(2 * 1) = 1.414" in text and "sqrtw" not in text
