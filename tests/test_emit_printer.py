"""The one printer: every path writes a function the same way; textbook gradients equal SymPy's."""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

import symnet as sn
from symnet.cli_grad import gradient_text as cli_gradient_text
from symnet.emit.chainrule import gradient_sympy
from symnet.gradtext import gradient_text
from symnet.emit.printer import ExprPrinter
from symnet.emit.render import TEXT
from symnet.emit.sympy import display_function, elementary_nodes, leaf_symbols
from symnet.ops import OPS
from symnet.worked import worked_example

SIG = display_function(OPS["sigmoid"])


def _logistic():
    x, w, b, y = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-0.25, name="b"), sn.Input("y")
    return sn.compile(sn.bce((w * x + b).sigmoid(), y))


def test_figure_sigmoid_bce():
    net = _logistic()
    g = gradient_sympy(net, "w")
    x, w, b, y = (sp.Symbol(n, real=True) for n in "xwby")
    assert g == x * (SIG(b + w * x) - y)
    assert sp.count_ops(g) <= 8
    assert gradient_text(net, "w") == "x*(sigmoid(w*x + b) - y)"
    assert cli_gradient_text(net, "w") == "x*(sigmoid(w*x + b) - y)"
    for tex in (net.gradient_latex("w", form="inline"), gradient_text(net, "w", latex=True),
                cli_gradient_text(net, "w", latex=True, form="inline")):
        assert "e^{" not in tex and r"\exp" not in tex, tex
        assert r"\sigma\left(w x + b\right) - y" in tex, tex
    # the chain form names the neuron: delta = yhat - y, dL/dw = x delta, and no dL/dyhat line is needed
    for tex in (net.gradient_latex("w"), cli_gradient_text(net, "w", latex=True),
                gradient_text(net, "w", latex=True, form="chain")):
        assert "e^{" not in tex and r"\exp" not in tex, tex
        assert r"\delta = \frac{\partial L}{\partial z} &= \hat{y} - y" in tex, tex
        assert r"\frac{\partial L}{\partial w} &= x \delta" in tex, tex
        assert r"\partial \hat{y}}" not in tex, tex


def test_check_derivative_expected_answer_is_the_textbook_form():
    v = sn.check_derivative("sigmoid(w*x + b)", "w", "x", inputs=["x"])
    assert v.expected == "x*(1 - sigmoid(w*x + b))*sigmoid(w*x + b)"


def test_the_same_function_prints_identically_on_every_path():
    net = _logistic()
    tex = r"\sigma\left(w x + b\right)"
    text = "sigmoid(w*x + b)"
    x, w, b = (sp.Symbol(n, real=True) for n in "xwb")
    pred = sn.compile(sn.Parameter(0.5, name="w") * sn.Input("x") + sn.Parameter(-0.25, name="b")).program
    assert tex in net.latex()
    assert text in net.funcify()
    assert tex in net.gradient_latex("w", form="inline")
    assert text in gradient_text(net, "w")
    assert "z = w*x + b" in net.funcify(layers=True) and "z = w*x + b" in gradient_text(net, "w", form="chain")
    assert text in sn.check_derivative("sigmoid(w*x + b)", "w", "x", inputs=["x"]).expected
    ex = worked_example(sn.compile((sn.Parameter(0.5, name="w") * sn.Input("x")
                                    + sn.Parameter(-0.25, name="b")).sigmoid()), {"x": 1.0}, target=1.0, loss="bce")
    assert tex in ex.latex() or r"\hat{y}" in ex.latex()
    # exp and log print one way in formulas and in gradients
    e = sn.compile(((sn.Parameter(0.5, name="w") * sn.Input("x")).exp() + 1).log())
    assert r"\log\left(\exp\left(w x\right) + 1\right)" == e.latex()
    assert r"\exp\left(w x\right)" in e.gradient_latex("w", form="inline")
    assert "{" not in ExprPrinter(TEXT).doprint(sp.log(SIG(w * x + b)))
    del pred


def _models():
    sn.seed(3)
    x1, x2, y = sn.Input("x1"), sn.Input("x2"), sn.Input("y")
    return {
        "bce-sigmoid": sn.compile(sn.bce(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"), y)),
        "mse-sigmoid": sn.compile(sn.mse(sn.MLP(2, [1], output_activation="sigmoid"), y)),
        "relu": sn.compile(sn.mse(sn.MLP(2, [2, 1], activation="relu"), y)),
        "ce-softmax": sn.compile(sn.cross_entropy(sn.MLP(2, [2, 3], activation="tanh",
                                                         output_activation="softmax"), 1)),
    }


MODELS = _models()


@pytest.mark.parametrize("key", list(MODELS))
def test_every_rewrite_equals_sympys_raw_derivative(key):
    net = MODELS[key]
    p = net.program
    syms = leaf_symbols(p)
    raw_out = elementary_nodes(p, symbols=syms)[p.outputs[0]]
    rng = random.Random(1)
    for name in net.parameter_names:
        mine = gradient_sympy(net, name)
        raw = sp.diff(raw_out, sp.Symbol(name, real=True))
        for _ in range(3):
            point = {s: rng.uniform(-0.9, 0.9) for s in syms.values()}
            if "y" in {str(s) for s in point}:
                point[sp.Symbol("y", real=True)] = rng.choice([0.0, 1.0]) if key.startswith("bce") else 0.3
            a, r = float(mine.xreplace(point).evalf()), float(raw.xreplace(point).evalf())
            assert math.isclose(a, r, rel_tol=1e-9, abs_tol=1e-12), (key, name)
        # the chain form evaluates to the same number
        defs, result = gradient_sympy(net, name, form="chain")
        env = dict(point)
        for s, e in defs:
            env[s] = e.xreplace(env).evalf()
        assert math.isclose(float(result.xreplace(env).evalf()), float(raw.xreplace(point).evalf()),
                            rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("key", ["bce-sigmoid", "mse-sigmoid", "relu"])
def test_an_op_the_model_lacks_never_appears_expanded(key):
    net = MODELS[key]
    for name in net.parameter_names:
        g = gradient_sympy(net, name)
        assert not g.has(sp.exp), (key, name, g)
        assert "exp" not in gradient_text(net, name) and "e^{" not in net.gradient_latex(name)


def test_textbook_identities_in_the_chain_form():
    tex = MODELS["bce-sigmoid"].gradient_latex("w2_1_1")
    assert r"\delta^{(2)}_{1} = \frac{\partial L}{\partial z^{(2)}_{1}} &= \hat{y} - y" in tex  # yhat - y
    assert r"1 - \left(h^{(1)}_{1}\right)^{2}" in MODELS["bce-sigmoid"].gradient_latex("w1_1_1")  # tanh' = 1 - h^2
    assert r"\mathbf{1}\left[z^{(1)}_{1} > 0\right]" in MODELS["relu"].gradient_latex("w1_1_1")  # relu'
    text = gradient_text(MODELS["relu"], "w1_1_1")
    assert "step(" in text and "Piecewise" not in text
    mse = gradient_text(MODELS["mse-sigmoid"], "w1_1_1")
    assert mse.startswith("2*") and "sigmoid" in mse  # 2(yhat - y) times the inner derivative


@pytest.mark.parametrize("digits", [0, 18, 2.5, True, "3"])
def test_digits_are_validated_the_same_way_everywhere(digits):
    net = _logistic()
    for call in (lambda: net.funcify(digits=digits), lambda: net.latex(digits=digits),
                 lambda: net.to_sympy(digits=digits), lambda: gradient_text(net, "w", digits=digits),
                 lambda: net.gradient_latex("w", digits=digits)):
        with pytest.raises(sn.InputError, match="digits"):
            call()


def test_digits_round_every_number_in_every_format():
    x, w = sn.Input("x"), sn.Parameter(0.123456, name="w")
    net = sn.compile((w * x * 3.14159).sigmoid())
    assert net.funcify(digits=2) == "sigmoid(0.12*x*3.1)"
    assert str(net.to_sympy(digits=2)) == "sigmoid(0.12*x*3.1)"
    assert "0.123456" not in gradient_text(net, "w", digits=2) and "3.14159" not in gradient_text(net, "w", digits=2)
    assert "3.14159" not in gradient_text(net, "w", digits=2, latex=True)


def test_large_numbers_in_every_latex_output():
    # issue 16 kind 7: numbers in [1e15, 1e16) used to raise a raw ValueError
    import io
    from contextlib import redirect_stdout

    from symnet.cli import main
    from symnet.report import latex_report

    x, w = sn.Input("x"), sn.Parameter(3e15, name="w")
    net = sn.compile((w * x * 1e15).tanh())
    assert r"1 \cdot 10^{15}" in net.latex()
    tex = latex_report(net, {"x": 2e15}, target=0.5, loss="mse")
    assert r"x = 2 \cdot 10^{15}" in tex and r"3 \cdot 10^{15}" in tex
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["formula", "x*1e15", "--inputs", "x", "--latex"]) == 0
    assert out.getvalue().strip() == r"x \left(1 \cdot 10^{15}\right)"


def test_report_rounds_every_number():
    from symnet.report import latex_report

    x, w = sn.Input("x"), sn.Parameter(0.123456789, name="w")
    net = sn.compile((w * x * 1.23456789).sigmoid())
    tex = latex_report(net, {"x": 0.987654321}, target=0.5, loss="mse", digits=3)
    for long in ("0.123456789", "1.23456789", "0.987654321", "0.1235", "1.235", "0.9877"):
        assert long not in tex
    with pytest.raises(sn.InputError, match="digits"):
        latex_report(net, {"x": 1.0}, target=0.5, loss="mse", digits=0)


X, Y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)


@pytest.mark.parametrize("expr, text, tex", [
    (X * (SIG(X) - Y), "x*(sigmoid(x) - y)", r"x \left(\sigma\left(x\right) - y\right)"),
    (1 - sp.tanh(X) ** 2, "1 - tanh(x)**2", r"1 - \tanh\left(x\right)^{2}"),
    (sp.Piecewise((1, X > 0), (0, True)) * Y, "y*step(x)", r"y \mathbf{1}\left[x > 0\right]"),
    (-2 * X / (1 + Y), "-2*x/(y + 1)", r"-\frac{2 x}{y + 1}"),
    (sp.Rational(1, 2) - X, "1/2 - x", r"\frac{1}{2} - x"),
    (sp.exp(-X) * sp.log(1 - Y), "exp(-x)*log(1 - y)", r"\exp\left(-x\right) \log\left(1 - y\right)"),
    (sp.Float(2.5e-8) * X ** sp.Float(2.5e-8), "2.5e-08*x**2.5e-08", r"2.5 \cdot 10^{-8} x^{2.5 \cdot 10^{-8}}"),
    (-(X + Y) ** -2, "-1/(x + y)**2", r"-\frac{1}{\left(x + y\right)^{2}}"),
])
def test_printer_goldens(expr, text, tex):
    from symnet.emit.latex import latex_style

    assert ExprPrinter(TEXT).doprint(expr) == text
    assert ExprPrinter(latex_style()).doprint(expr) == tex


def test_the_printer_is_iterative():
    # a chain far deeper than Python's recursion limit prints
    e = X
    for _ in range(3000):
        e = sp.tanh(e, evaluate=False)
    assert ExprPrinter(TEXT).doprint(e).count("tanh(") == 3000


def _exprs():
    from hypothesis import strategies as st

    leaves = st.sampled_from([X, Y, sp.Integer(2), sp.Rational(1, 2), sp.Float(0.3), sp.Integer(-3)])

    def safe(build):  # SymPy may raise while building (sigmoid of zoo): such an example is skipped
        def guarded(arg):
            try:
                return build(arg)
            except Exception:
                return sp.nan
        return guarded

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(safe(lambda t: t[0] + t[1])),
            st.tuples(children, children).map(safe(lambda t: t[0] - t[1])),
            st.tuples(children, children).map(safe(lambda t: t[0] * t[1])),
            st.tuples(children, children).map(safe(lambda t: t[0] / (t[1] ** 2 + 1))),
            st.tuples(children, st.sampled_from([2, 3, -1, -2])).map(safe(lambda t: t[0] ** t[1])),
            children.map(safe(lambda c: -c)),
            children.map(safe(sp.tanh)), children.map(safe(SIG)), children.map(safe(lambda c: sp.exp(c / 4))),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def test_printed_text_reads_back_to_the_same_value():
    # the printer's precedence and signs, checked by symnet's own parser on random expressions
    from hypothesis import given, settings

    @settings(max_examples=300, deadline=None)
    @given(_exprs())
    def check(expr):
        if expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return  # not a number a network holds
        point = {X: 0.37, Y: -0.61}
        try:
            want = complex(sp.N(expr.subs(point)))
        except (TypeError, ZeroDivisionError, AttributeError):
            return
        if want.imag or not math.isfinite(want.real) or abs(want.real) > 1e12:
            return
        text = ExprPrinter(TEXT).doprint(expr)
        try:
            node = sn.parse(text, inputs=["x", "y"])
        except sn.FormulaError as exc:  # limits of the parser, not of the printer
            assert "deep" in str(exc) or "long" in str(exc), (text, exc)
            return
        try:
            net = sn.compile(node)
            got = net.predict({n: {"x": 0.37, "y": -0.61}[n] for n in net.input_names})
        except sn.NumericalError:
            return
        assert math.isclose(got, want.real, rel_tol=1e-9, abs_tol=1e-9), (text, got, want)

    check()


def test_a_coefficient_of_one_is_never_printed():
    from symnet.emit.latex import latex_style

    assert ExprPrinter(TEXT).doprint(sp.Float(1.0) * X * (SIG(X) - Y)) == "x*(sigmoid(x) - y)"
    assert ExprPrinter(latex_style()).doprint(sp.Float(-1.0) * X * Y) == "-x y"
    t, w = sn.Input("t"), sn.Parameter(0.3, name="w")
    net = sn.compile(0.5 * (t - (w * sn.Input("x")).sigmoid()) ** 2)
    assert not gradient_text(net, "w").startswith("1*")
    assert "= 1 " not in net.gradient_latex("w") and "&= 1 " not in net.gradient_latex("w", form="inline")


@pytest.mark.parametrize("build, text, tex", [
    (lambda w, x, b: 1.0 * w * x + b, "w*x + b", "w x + b"),
    (lambda w, x, b: -1.0 * (w * x + b).tanh(), "-tanh(w*x + b)", r"-\tanh\left(w x + b\right)"),
    (lambda w, x, b: (w * x + b) ** 1.0, "w*x + b", "w x + b"),
    (lambda w, x, b: x * (-1.0) * w + b, "-x*w + b", "-x w + b"),
    (lambda w, x, b: -1.0 * (w + x) * 1.0, "-(w + x)", r"-\left(w + x\right)"),
    (lambda w, x, b: (-1.0) * (-1.0) * w * x, "w*x", "w x"),
])
def test_formulas_and_gradients_never_print_a_factor_or_exponent_of_one(build, text, tex):
    # the program's renderer and the one printer alike (gradients reuse the formula's pieces)
    w, x, b = sn.Parameter(0.5, name="w"), sn.Input("x"), sn.Parameter(0.1, name="b")
    net = sn.compile(build(w, x, b))
    assert str(net) == text and net.latex() == tex
    for out in (gradient_text(net, "w"), gradient_text(net, "w", latex=True), net.gradient_latex("w"),
                net.gradient_latex("x", form="inline"), gradient_text(net, "x", form="chain")):
        assert not any(bad in out for bad in ("1*", "1 w", "1 x", "-1 ", "^{1}", "**1", r"1 \tanh")), out
    # the written formula is the same function (a product of 1s is exact in floating point)
    again = sn.compile(sn.parse(text, inputs=["x"], values={"w": 0.5, "b": 0.1} if "b" in text else {"w": 0.5}))
    assert again.predict({"x": 0.7}) == net.predict({"x": 0.7})


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex is not installed")
def test_gradients_compile_with_pdflatex():
    from symnet.report import run_pdflatex

    blocks = []
    for net in list(MODELS.values()) + [_logistic()]:
        name = net.parameter_names[0]
        blocks += [net.gradient_latex(name), net.gradient_latex(name, form="inline", width=60)]
    body = "\n".join(rf"\[ {b} \]" for b in blocks)
    pdf = run_pdflatex("\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n"
                       + body + "\n\\end{document}\n")
    assert pdf.startswith(b"%PDF")


def test_textbook_is_an_identity_on_random_expressions():
    from hypothesis import given, settings

    from symnet.emit.chainrule import textbook

    @settings(max_examples=120, deadline=None)
    @given(_exprs(), _exprs())
    def check(a, b):
        if any(e.has(sp.nan, sp.zoo, sp.oo, -sp.oo) for e in (a, b)):
            return  # gradients of finite networks hold no such numbers
        expr = a * (b + 1) / (a ** 2 + 2) + a / (1 + SIG(b)) - SIG(b) * (1 - SIG(b)) * a
        point = {X: 0.41, Y: -0.73}
        try:
            want = complex(sp.N(expr.subs(point)))
        except (TypeError, ZeroDivisionError, AttributeError):
            return
        if want.imag or not math.isfinite(want.real) or abs(want.real) > 1e9:
            return
        got = complex(sp.N(textbook(expr).subs(point)))
        assert math.isclose(got.real, want.real, rel_tol=1e-9, abs_tol=1e-9)

    check()


@pytest.mark.parametrize("key", list(MODELS))
def test_chain_form_definitions_are_the_networks_own_lines(key):
    net = MODELS[key]
    chain_text = gradient_text(net, net.parameter_names[0], form="chain").splitlines()
    layered = net.funcify(layers=True).splitlines()
    defined = [line for line in chain_text if not line.startswith(("d ", "dL_"))]
    assert defined and all(line in layered for line in defined), (defined, layered)
    if key == "ce-softmax":  # issue 12: p = softmax(z) and L = -log(p_c), in the formula as in the gradient
        assert "p = softmax(z2_1, z2_2, z2_3)" in defined and "L = -log(p_2)" in defined


def test_cli_grad_rounds_every_number_in_every_format():
    net = sn.compile((sn.Parameter(0.123456, name="w") * sn.Input("x")).sigmoid() * 0.987654)
    for options in ({}, {"latex": True}, {"sympy": True}, {"form": "chain"}, {"sympy": True, "form": "chain"},
                    {"latex": True, "form": "inline"}):
        text = cli_gradient_text(net, "w", digits=2, **options)
        assert "0.12" in text and "0.99" in text, (options, text)
        assert "0.123" not in text and "0.987" not in text, (options, text)
