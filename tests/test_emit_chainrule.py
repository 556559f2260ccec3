"""Closed-form gradients: chained SymPy derivatives agree with the engine and with SymPy's diff."""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

import symnet as sn
from symnet.emit.chainrule import chain, gradient_latex, gradient_rows, gradient_sympy, numeric_locals
from symnet.emit.sympy import elementary_nodes, leaf_symbols


def _nets() -> dict[str, tuple[sn.Network, dict[str, float]]]:
    sn.seed(1)
    out = {}
    mlp = sn.MLP(2, [3, 1], output_activation="sigmoid")
    out["bce"] = (sn.compile(sn.bce(mlp, sn.Input("y"))), {"x1": 0.4, "x2": -0.7, "y": 1.0})
    out["mse"] = (sn.compile(sn.mse(sn.MLP(2, [2, 2, 1], activation="tanh"), sn.Input("y"))),
                  {"x1": 0.3, "x2": 0.9, "y": -0.5})
    out["ce"] = (sn.compile(sn.cross_entropy(sn.MLP(2, [3, 3], output_activation="softmax"), 2)),
                 {"x1": 0.2, "x2": -1.1})
    x, w, c = sn.Input("x"), sn.Parameter(0.7, name="w"), sn.Parameter(1.3, name="c")
    s = (w * x).sigmoid()
    out["shared"] = (sn.compile(s * s + (s + c).log() - x / c + (w - x) ** 3 - (c * x).exp() + (-w).tanh()),
                     {"x": 0.6})
    return out


NETS = _nets()


@pytest.mark.parametrize("key", list(NETS))
def test_sympy_gradient_matches_engine(key: str) -> None:
    net, values = NETS[key]
    engine = net.gradients(values)
    names = net.parameter_names
    grads = gradient_sympy(net, names)
    subs = {sp.Symbol(n, real=True): v for n, v in values.items()}
    subs.update({sp.Symbol(p.name, real=True): p.value for p in net.parameters})
    for name in names:
        got = float(grads[name].xreplace(subs).evalf())
        assert math.isclose(got, engine[name], rel_tol=1e-9, abs_tol=1e-12), name


@pytest.mark.parametrize("key", ["mse", "shared"])
def test_sympy_gradient_equals_sympys_own_diff(key: str) -> None:
    net, _ = NETS[key]
    p = net.program
    expr = elementary_nodes(p)[p.outputs[0]]
    syms = leaf_symbols(p)
    rng = random.Random(0)
    for name in net.parameter_names[:4]:
        mine = gradient_sympy(net, name)
        theirs = sp.diff(expr, sp.Symbol(name, real=True))
        for _ in range(3):
            point = {s: rng.uniform(0.2, 0.9) for s in syms.values()}
            assert math.isclose(float(mine.xreplace(point)), float(theirs.xreplace(point)), rel_tol=1e-9)


def test_let_form_evaluates_in_order() -> None:
    net, values = NETS["bce"]
    defs, result = gradient_sympy(net, "w1_2_1", let=True)
    env = {sp.Symbol(n, real=True): v for n, v in values.items()}
    env.update({sp.Symbol(q.name, real=True): q.value for q in net.parameters})
    for sym, expr in defs:
        env[sym] = float(expr.xreplace(env).evalf())
    assert [str(s) for s, _ in defs][-3:] == ["dL_dz2_1", "dL_dh1_2", "dL_dz1_2"]
    assert math.isclose(float(result.xreplace(env)), net.gradients(values)["w1_2_1"], rel_tol=1e-9)


def test_numeric_locals_chain_to_engine_gradients() -> None:
    net, values = NETS["shared"]
    ch = chain(net)
    vals = net.forward_values(values)
    loc = numeric_locals(ch, vals)
    adj = {ch.output: 1.0}
    for v in reversed(ch.named):
        if v != ch.output:
            adj[v] = sum(adj[u] * loc[u][v] for u in ch.consumers[v])
    g = net.gradients(values)
    w = net.program.index(net.parameters[0])
    assert math.isclose(sum(adj[u] * loc[u][w] for u in ch.consumers[w]), g["w"], rel_tol=1e-12)


BCE_ALL = r"""\begin{aligned}
\delta^{(2)}_{1} = \frac{\partial L}{\partial z^{(2)}_{1}} &= h^{(2)}_{1} - y \\
\frac{\partial L}{\partial h^{(1)}_{1}} &= w^{(2)}_{1,1} \delta^{(2)}_{1} \\
\delta^{(1)}_{1} = \frac{\partial L}{\partial z^{(1)}_{1}} &= \mathbb{1}[z^{(1)}_{1} > 0] \frac{\partial L}{\partial h^{(1)}_{1}} \\
\frac{\partial L}{\partial w^{(1)}_{1,1}} &= x_{1} \delta^{(1)}_{1} \\
\frac{\partial L}{\partial b^{(1)}_{1}} &= \delta^{(1)}_{1} \\
\frac{\partial L}{\partial w^{(2)}_{1,1}} &= h^{(1)}_{1} \delta^{(2)}_{1} \\
\frac{\partial L}{\partial b^{(2)}_{1}} &= \delta^{(2)}_{1}
\end{aligned}"""


def test_delta_notation_golden() -> None:
    net = sn.compile(sn.bce(sn.MLP(1, [1, 1], output_activation="sigmoid"), sn.Input("y")))
    assert gradient_latex(net) == BCE_ALL


@pytest.mark.parametrize("times, row", [
    ("", r"x_{1} \delta^{(1)}_{1}"), (r"\cdot", r"x_{1} \cdot \delta^{(1)}_{1}"),
    (r"\times", r"x_{1} \times \delta^{(1)}_{1}"),
])
def test_times_option(times: str, row: str) -> None:
    net = sn.compile(sn.bce(sn.MLP(1, [1, 1], output_activation="sigmoid"), sn.Input("y")))
    assert gradient_rows(net, "w1_1_1", times=times)[-1][1] == row


@pytest.mark.parametrize("build, wrt, rhs", [
    (lambda x, w: (w * x).tanh(), "w", r"x \left(1 - \hat{y}^{2}\right)"),
    (lambda x, w: (w * x).exp(), "w", r"x \hat{y}"),
    (lambda x, w: (w * x).log(), "w", r"\frac{1}{w}"),
    (lambda x, w: w / x, "x", r"-\frac{w}{x^{2}}"),
    (lambda x, w: (w - x) ** 3, "x", r"-3 \left(w - x\right)^{2}"),
    (lambda x, w: w * x * 0.5, "w", "0.5 x"),
])
def test_local_derivatives(build, wrt: str, rhs: str) -> None:
    x, w = sn.Input("x"), sn.Parameter(0.3, name="w")
    assert gradient_rows(sn.compile(build(x, w)), wrt)[-1][1] == rhs


def test_cross_entropy_chain_has_one_delta_per_logit() -> None:
    net, _ = NETS["ce"]
    text = gradient_latex(net, "w1_1_1")
    for k in (1, 2, 3):
        assert text.count(rf"\delta^{{(2)}}_{{{k}}} = \frac{{\partial L}}{{\partial z^{{(2)}}_{{{k}}}}} &= ") == 1
    assert text.count(r"\delta^{(1)}_{1} = ") == 1
    assert "w^{(1)}_{2,1}" not in gradient_latex(net, "w2_1_1")


def test_bad_wrt() -> None:
    net, _ = NETS["mse"]
    with pytest.raises(sn.InputError, match="not an input or parameter"):
        gradient_sympy(net, "nope")
    with pytest.raises(sn.InputError):
        gradient_latex(sn.compile(sn.Output([sn.Input("a") + 1, sn.Input("b") * 2])))


def test_the_derivative_of_a_bare_variable_by_itself_is_one():
    w = sn.Parameter(0.5, name="w")
    assert gradient_sympy(sn.compile(w), "w") == 1
    assert gradient_sympy(sn.compile(w), "w", form="chain")[1] == 1
