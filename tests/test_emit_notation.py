"""symnet.emit.notation: names as a textbook writes them, never confused with symnet's own letters."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.emit.notation import latex_name


@pytest.mark.parametrize("name, tex", [
    ("x1", "x_{1}"), ("w1_2_1", "w^{(1)}_{2,1}"), ("yhat", r"\hat{y}"), ("theta", r"\theta"),
    ("alpha_3", r"\alpha_{3}"), ("lr", r"\mathit{lr}"),
    ("delta", r"\mathit{delta}"), ("eta", r"\mathit{eta}"), ("sigma", r"\mathit{sigma}"),
    ("sigma2", r"\mathit{sigma}_{2}"), ("Sigma", r"\Sigma"),
])
def test_latex_names(name, tex):
    assert latex_name(name) == tex


def test_a_user_named_delta_or_sigma_is_not_the_adjoint_or_the_sigmoid():
    x, w, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Input("y")
    delta, sigma = sn.Parameter(0.1, name="delta"), sn.Parameter(0.2, name="sigma")
    net = sn.compile(sn.bce((w * x + delta + sigma).sigmoid(), y))
    tex = net.gradient_latex()
    assert r"\delta" not in tex  # with a node named delta, the adjoints are written dL/dz
    assert r"\frac{\partial L}{\partial \mathit{delta}} &= \frac{\partial L}{\partial z}" in tex
    text = str(net.worked_example({"x": 1.0, "y": 1.0}))
    assert "dL/ddelta = dL/dz = " in text and "\ndelta" not in text.replace("  ", "")  # plain text: no clash
    assert r"\sigma\left(w x + \mathit{delta} + \mathit{sigma}\right)" in net.latex()
