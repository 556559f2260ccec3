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
\delta^{(2)}_{1} = \frac{\partial L}{\partial z^{(2)}_{1}} &= \hat{y} - y \\
\frac{\partial L}{\partial h^{(1)}_{1}} &= w^{(2)}_{1,1} \delta^{(2)}_{1} \\
\delta^{(1)}_{1} = \frac{\partial L}{\partial z^{(1)}_{1}} &= \mathbf{1}\left[z^{(1)}_{1} > 0\right] \frac{\partial L}{\partial h^{(1)}_{1}} \\
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
    (lambda x, w: (w * x).tanh(), "w", r"x \left(1 - \hat{y}^{2}\right)"),  # a lone term w x is no neuron
    (lambda x, w: (w * x).exp(), "w", r"x \hat{y}"),
    (lambda x, w: (w * x).log(), "w", r"\frac{1}{w}"),
    (lambda x, w: w / x, "x", r"-\frac{w}{x^{2}}"),
    (lambda x, w: (w - x) ** 3, "x", r"-3 \left(w - x\right)^{2}"),
    (lambda x, w: w * x * 0.5, "w", "0.5 x"),
])
def test_local_derivatives(build, wrt: str, rhs: str) -> None:
    x, w = sn.Input("x"), sn.Parameter(0.3, name="w")
    assert gradient_rows(sn.compile(build(x, w)), wrt)[-1][1] == rhs


@pytest.mark.parametrize("build, z", [
    (lambda x, w, b: (w * x - b).tanh(), "w x - b"),  # a bias subtracted
    (lambda x, w, b: (w * x + b).tanh(), "w x + b"),
])
def test_an_activation_over_a_weighted_sum_is_a_neuron(build, z: str) -> None:
    """Issue 12 item 3: recognised whether or not a macro made it (w x - b included)."""
    x, w, b = sn.Input("x"), sn.Parameter(0.3, name="w"), sn.Parameter(0.1, name="b")
    net = sn.compile(build(x, w, b))
    assert net.latex(layers=True).splitlines()[1] == rf"z &= {z} \\"
    rows = gradient_rows(net, "w")
    assert rows[0] == (r"\delta = \frac{\partial \hat{y}}{\partial z}", r"1 - \hat{y}^{2}")
    assert rows[-1][1] == r"x \delta"


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


# -- softmax with cross-entropy: p = softmax(z), deltas p_k - 1[k = c] (issue 12) -----------------


def _classifier(n_classes: int, target: int | None, seed: int = 3) -> sn.Network:
    sn.seed(seed)
    net = sn.compile(sn.Softmax(sn.Dense([sn.Input("x1"), sn.Input("x2")], n_classes)))
    return net if target is None else net.with_loss("cross_entropy", target)


CLASSIFIERS = [(n, c) for n in (2, 3, 4) for c in range(n)]


def _agree_at_random_points(net: sn.Network, mine: sp.Expr, name: str, output: int = 0, seed: int = 0) -> None:
    p = net.program
    theirs = sp.diff(elementary_nodes(p)[p.outputs[output]], sp.Symbol(name, real=True))
    rng = random.Random(seed)
    for _ in range(3):
        point = {s: sp.Rational(rng.randint(-300, 300), 100) for s in leaf_symbols(p).values()}
        a, b = mine.xreplace(point).evalf(30), theirs.xreplace(point).evalf(30)
        assert abs(a - b) <= sp.Float("1e-25", 30) * (1 + abs(b)), (name, a, b)


@pytest.mark.parametrize("n, c", CLASSIFIERS)
def test_cross_entropy_on_softmax_equals_sympys_raw_derivative(n: int, c: int) -> None:
    net = _classifier(n, c)
    for name in net.parameter_names:
        mine = gradient_sympy(net, name)
        assert not mine.has(sp.exp) and not mine.has(sp.log), mine
        _agree_at_random_points(net, mine, name)


@pytest.mark.parametrize("n, c", CLASSIFIERS)
def test_cross_entropy_deltas_are_p_minus_one_hot(n: int, c: int) -> None:
    net = _classifier(n, c)
    defs, _ = gradient_sympy(net, net.parameter_names, form="chain")
    by_name = {str(s): e for s, e in defs}
    p = [sp.Symbol(f"p_{k + 1}", real=True) for k in range(n)]
    softmax = by_name["p_1"].func
    assert [by_name[f"p_{k + 1}"] for k in range(n)] == [softmax(sp.Integer(k), *(
        sp.Symbol(f"z1_{j + 1}", real=True) for j in range(n))) for k in range(n)]
    assert by_name["L"] == -sp.log(p[c])
    for k in range(n):
        assert by_name[f"dL_dz1_{k + 1}"] == p[k] - (1 if k == c else 0)
    # evaluated in order, the chain gives the engine's gradients
    values = {"x1": 0.35, "x2": -1.2}
    env = {sp.Symbol(k, real=True): v for k, v in values.items()}
    env.update({sp.Symbol(q.name, real=True): q.value for q in net.parameters})
    for sym, expr in defs:
        env[sym] = sp.Float(sp.sympify(expr).xreplace(env).evalf(30), 30)
    engine = net.gradients(values)
    for k in range(n):
        z = [float(env[sp.Symbol(f"z1_{j + 1}", real=True)]) for j in range(n)]
        top = max(z)
        pk = math.exp(z[k] - top) / math.fsum(math.exp(v - top) for v in z)
        assert math.isclose(float(env[sp.Symbol(f"dL_dz1_{k + 1}", real=True)]), pk - (k == c), rel_tol=1e-12, abs_tol=1e-15)
        assert math.isclose(engine[f"b1_{k + 1}"], pk - (k == c), rel_tol=1e-9, abs_tol=1e-12)



@pytest.mark.parametrize("n, c", [(3, 2), (4, 0), (2, 1)])
def test_softmax_gradients_print_without_exp(n: int, c: int) -> None:
    from symnet.gradtext import gradient_text
    net = _classifier(n, c)
    name = f"w1_{c + 1}_1"
    chain_text = gradient_text(net, name, form="chain")
    assert f"p = softmax({', '.join(f'z1_{k + 1}' for k in range(n))})" in chain_text
    assert f"L = -log(p_{c + 1})" in chain_text and f"dL_dz1_{c + 1} = p_{c + 1} - 1" in chain_text
    inline = gradient_text(net, name)
    assert inline.startswith("x1*(softmax(w1_1_1*x1 + w1_1_2*x2 + b1_1, ") and inline.endswith(f")_{c + 1} - 1)")
    tex = gradient_latex(net)
    assert rf"\delta^{{(1)}}_{{{c + 1}}} = \frac{{\partial L}}{{\partial z^{{(1)}}_{{{c + 1}}}}} &= p_{{{c + 1}}} - 1" in tex
    assert tex.count(r"p &= \operatorname{softmax}\left(") == 1
    inline_tex = gradient_latex(net, form="inline")
    assert r"\operatorname{softmax}\left(" in inline_tex and rf"\right)_{{{c + 1}}} - 1" in inline_tex
    for text in (chain_text, inline, tex, inline_tex, gradient_text(net, name, form="chain", latex=True)):
        assert "exp" not in text and "e^{" not in text, text


def test_softmax_outputs_differentiate_through_their_own_names() -> None:
    net = _classifier(3, None)
    defs, result = gradient_sympy(net, "w1_3_1", output=0, form="chain")
    by_name = {str(s): e for s, e in defs}
    yhat = [sp.Symbol(f"yhat{k}", real=True) for k in (1, 2, 3)]
    assert by_name["dyhat1_dz1_3"] == -yhat[0] * yhat[2]  # p_k (1[k = j] - p_j), p named yhat
    assert "p_1" not in by_name  # the network names its probabilities: no second name
    for k in range(3):
        for name in ("w1_1_1", "b1_3", "w1_2_2"):
            mine = gradient_sympy(net, name, output=k)
            assert not mine.has(sp.exp)
            _agree_at_random_points(net, mine, name, output=k, seed=k)
    tex = gradient_latex(net, output=0)
    assert r"\hat{y}_{1} \left(1 - \hat{y}_{1}\right)" in tex or r"\left(1 - \hat{y}_{1}\right) \hat{y}_{1}" in tex


def test_softmax_mlp_with_cross_entropy() -> None:
    net, values = NETS["ce"]
    tex = gradient_latex(net)
    assert r"p &= \operatorname{softmax}\left(z^{(2)}_{1}, z^{(2)}_{2}, z^{(2)}_{3}\right)" in tex
    assert r"&= p_{3} - 1" in tex and r"&= p_{1} \\" in tex and "exp" not in tex
    for name in ("w1_1_1", "w2_3_2", "b2_1"):
        _agree_at_random_points(net, gradient_sympy(net, name), name)


# -- every one-input row's derivative with the model's own functions ----------------------

#: one-input rows a formula can call, with the functions their textbook derivative may use
#: beyond the row itself (erf' = 2 exp(-a^2)/sqrt(pi) has no form without exp)
ACTIVATIONS = {"relu": (), "sigmoid": (), "tanh": (), "leaky_relu": (), "softplus": ("sigmoid",),
               "elu": (), "erf": ("exp",), "gelu": ("exp", "erf"), "silu": ("sigmoid",), "abs": ("sign",),
               "sqrt": (), "exp": (), "log": (), "step": (), "sign": ()}


@pytest.mark.parametrize("formula", [f"{name}(w*x + b)" for name in ACTIVATIONS]
                         + ["leaky_relu(w*x + b, 0.2)", "elu(w*x + b, 0.5)", "softplus(w*x + b, 1.5)"])
def test_every_row_differentiates_with_the_models_own_functions(formula: str) -> None:
    from symnet.gradtext import gradient_text
    from symnet.parse import parse
    name = formula.split("(")[0]
    net = sn.compile(parse(formula, inputs=["x"], values={"w": 0.7, "b": 0.4}))
    allowed = {name, *ACTIVATIONS[name]}
    for wrt in ("w", "b", "x"):
        mine = gradient_sympy(net, wrt)
        _agree_at_random_points(net, mine, wrt)
        assert not mine.has(sp.Piecewise) or name not in ("leaky_relu", "elu", "softplus") or all(
            e.args[0].expr == 1 and e.args[1] == (0, True) for e in mine.atoms(sp.Piecewise)), mine
        for f in ("exp", "log", "erf", "sigmoid", "sign", "tanh"):
            if f not in allowed:
                text = gradient_text(net, wrt)
                assert f"{f}(" not in text.replace(f"{name}(", ""), (formula, text)
        for text in (gradient_text(net, wrt), gradient_text(net, wrt, latex=True),
                     gradient_text(net, wrt, form="chain"), gradient_latex(net, wrt)):
            for bad in ("Piecewise", "cases", "e^{", "3.14159", "sign}{", "mathbb"):
                assert bad not in text, (formula, bad, text)


@pytest.mark.parametrize("formula, text", [
    ("softplus(w*x + b)", "x*sigmoid(w*x + b)"),
    ("abs(w*x)", "x*sign(w*x)"),
    ("leaky_relu(w*x + b, 0.2)", "x*((w*x + b <= 0)/5 + step(w*x + b))"),
    ("elu(w*x + b)", "x*((elu(w*x + b) + 1)*(w*x + b <= 0) + step(w*x + b))"),
    ("silu(w*x + b)", "x*((1 - sigmoid(w*x + b))*(w*x + b) + 1)*sigmoid(w*x + b)"),
    ("erf(w*x)", "2*x*exp(-w**2*x**2)/sqrt(pi)"),
])
def test_textbook_derivatives_of_activations(formula: str, text: str) -> None:
    from symnet.gradtext import gradient_text
    from symnet.parse import parse
    net = sn.compile(parse(formula, inputs=["x"], values={"w": 0.7, "b": 0.4} if "+ b" in formula else {"w": 0.7}))
    assert gradient_text(net, "w") == text
    if "pi" not in text:  # formulas have no constant pi
        assert sn.check_derivative(net, "w", text).correct  # symnet's answer pastes back as a claim


def test_abs_derivative_prints_sign_through_the_one_printer_and_parses_back() -> None:
    from symnet.gradtext import gradient_text
    from symnet.parse import parse
    net = sn.compile(parse("abs(w*x)", inputs=["x"], values={"w": 0.7}))
    assert gradient_text(net, "w", latex=True) == r"x \operatorname{sign}\left(w x\right)"
    assert sn.check_derivative(net, "w", gradient_text(net, "w")).correct


# -- digits on the SymPy path; a number times a sum stays a product ----------------------


def _mse_numeric_target(activation: str | None = None) -> sn.Network:
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.123456, name="b")
    z = w * x + b
    return sn.compile(sn.mse(getattr(z, activation)() if activation else z, 0.778))


@pytest.mark.parametrize("digits", [1, 2, 5])
def test_gradient_sympy_and_gradient_expr_round_every_number(digits: int) -> None:
    from symnet.gradtext import gradient_expr
    for net in (_mse_numeric_target(), _mse_numeric_target("sigmoid"), NETS["shared"][0]):
        for got in (net.gradient_sympy("w" if "w" in net.parameter_names else "c", digits=digits),
                    gradient_expr(net, "w" if "w" in net.parameter_names else "c", digits=digits)):
            numbers = [n for n in got.atoms(sp.Number) if not n.is_Integer]
            for n in numbers:
                assert n.is_Float and len(sp.sstr(abs(n)).replace("0.", "").replace(".", "").lstrip("0")) <= digits, (got, n)
        defs, result = gradient_expr(net, net.parameter_names[0], form="chain", digits=digits)
        for _, e in defs + [(None, result)]:
            assert all(n.is_Integer or n.is_Float for n in sp.sympify(e).atoms(sp.Number)), e
    exact = _mse_numeric_target().gradient_sympy("w")
    assert _mse_numeric_target().gradient_sympy("w", digits=3) == 2 * X_ * (W_ * X_ + sp.Symbol("b", real=True)
                                                                            - sp.Float("0.778", 3))
    assert sp.Abs(exact - _mse_numeric_target().gradient_sympy("w", digits=17)).xreplace({X_: 1, W_: 1, B_: 0}) < 1e-15


@pytest.mark.parametrize("bad", [0, 18, 2.0, "2", True])
def test_bad_digits_on_the_sympy_path_is_an_input_error(bad: object) -> None:
    from symnet.gradtext import gradient_expr
    net = _mse_numeric_target()
    with pytest.raises(sn.InputError, match="digits"):
        net.gradient_sympy("w", digits=bad)
    with pytest.raises(sn.InputError, match="digits"):
        gradient_expr(net, "w", digits=bad)


def test_mse_with_a_numeric_target_keeps_two_times_the_error() -> None:
    from symnet.gradtext import gradient_text
    net = _mse_numeric_target()
    chain_text = gradient_text(net, "w", form="chain")
    assert "L = (yhat - 0.778)**2" in chain_text and "dL_dyhat = 2*(yhat - 0.778)" in chain_text
    assert gradient_text(net, "w") == "2*x*(w*x + b - 0.778)"
    assert r"&= 2 \left(\hat{y} - 0.778\right)" in net.gradient_latex("w")
    sig = _mse_numeric_target("sigmoid")
    assert "(sigmoid(w*x + b) - 0.778)" in gradient_text(sig, "w")
    from symnet.cli_grad import gradient_text as cli_text
    assert "dL_dyhat = 2*(yhat - 0.78)" in cli_text(sig, "w", sympy=True, form="chain", digits=2)
    for n in (net, sig):
        for name in n.parameter_names:
            _agree_at_random_points(n, gradient_sympy(n, name), name)


X_, W_, B_ = sp.symbols("x w b", real=True)


def _hand_built() -> sn.Network:
    i1, i2, t1, t2 = sn.Input("i1"), sn.Input("i2"), sn.Input("t1"), sn.Input("t2")
    w = [sn.Parameter(v, name=f"w{k}") for k, v in enumerate([0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55], 1)]
    b1, b2 = sn.Parameter(0.35, name="b1"), sn.Parameter(0.6, name="b2")
    h1 = (w[0] * i1 + w[1] * i2 + b1).tanh()
    h2 = (w[2] * i1 + w[3] * i2 + b1).tanh()
    o1 = (w[4] * h1 + w[5] * h2 + b2).sigmoid()
    o2 = (w[6] * h1 + w[7] * h2 + b2).sigmoid()
    return sn.compile(0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2)


def test_backward_lines_go_layer_by_layer_from_the_output_in_unit_order() -> None:
    from symnet.gradtext import gradient_text
    net = _hand_built()
    tex = net.gradient_latex("b1")
    lefts = [line.split("&=")[0].strip() for line in tex.splitlines() if "&=" in line]
    assert lefts[:4] == [r"\frac{\partial L}{\partial \hat{y}_{1}}",
                         r"\delta^{(2)}_{1} = \frac{\partial L}{\partial z^{(2)}_{1}}",
                         r"\frac{\partial L}{\partial \hat{y}_{2}}",
                         r"\delta^{(2)}_{2} = \frac{\partial L}{\partial z^{(2)}_{2}}"]
    assert [s.split(" = ")[0] for s in gradient_text(net, "b1", form="chain").splitlines() if s.startswith("dL_")] == [
        "dL_dyhat1", "dL_dz2_1", "dL_dyhat2", "dL_dz2_2", "dL_dh1_1", "dL_dz1_1", "dL_dh1_2", "dL_dz1_2"]
    for name in net.parameter_names:
        _agree_at_random_points(net, gradient_sympy(net, name), name)


def test_a_formula_op_differentiates_through_its_own_functions_and_fuses_with_bce() -> None:
    # swish defined by a formula, under sigmoid + BCE: the fused (yhat - y) and no exp
    from symnet.gradtext import gradient_text
    sw = sn.define_op("swish_chain_test", 1, formula="a*sigmoid(a)", replace=True)
    try:
        x, w, b, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b"), sn.Input("y")
        for net in (sn.compile(sn.bce(sw(w * x + b).sigmoid(), y)), sn.compile(sn.bce(sw(w * x + b), y)),
                    sn.compile(sn.mse(sw(w * x + b), y))):
            for name in ("w", "b"):
                mine = gradient_sympy(net, name)
                assert not mine.has(sp.exp), mine
                _agree_at_random_points(net, mine, name)
                for text in (gradient_text(net, name), gradient_text(net, name, form="chain"),
                             net.gradient_latex(name), net.gradient_latex(name, form="inline")):
                    assert "exp" not in text and "e^{" not in text, text
        fused = sn.compile(sn.bce(sw(w * x + b).sigmoid(), y))
        assert gradient_text(fused, "w").startswith("x*(sigmoid(swish_chain_test(w*x + b)) - y)*")
        assert r"x \left(\hat{y} - y\right)" in fused.gradient_latex("w")
    finally:
        sn.OPS.pop("swish_chain_test", None)


def test_bce_on_a_probability_reads_yhat_minus_y_over_yhat_one_minus_yhat() -> None:
    from symnet.gradtext import gradient_text
    x, w, b, y = sn.Input("x"), sn.Parameter(0.3, name="w"), sn.Parameter(0.1, name="b"), sn.Input("y")
    net = sn.compile(sn.bce(w * x + b, y))
    assert "dL_dyhat = (yhat - y)/(yhat*(1 - yhat))" in gradient_text(net, "w", form="chain")
    assert r"&= \frac{\hat{y} - y}{\hat{y} \left(1 - \hat{y}\right)}" in net.gradient_latex("w")
    for name in ("w", "b"):
        p = net.program
        mine = gradient_sympy(net, name)
        theirs = sp.diff(elementary_nodes(p)[p.outputs[0]], sp.Symbol(name, real=True))
        point = {sp.Symbol("x", real=True): sp.Rational(1, 2), sp.Symbol("y", real=True): sp.Rational(1, 3),
                 sp.Symbol("w", real=True): sp.Rational(2, 5), sp.Symbol("b", real=True): sp.Rational(1, 10)}
        assert sp.simplify(mine.xreplace(point) - theirs.xreplace(point)) == 0
