"""Tests for the SymPy emitter: display, elementary and let forms against the engine."""

from __future__ import annotations

import time

import math

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
from randgraph import random_dag
from symnet.emit.sympy import FORMS, display_function, to_sympy
from symnet.ops import OPS

DPS = 30


def evaluate(result, form, values):
    """A to_sympy result as floats (a list for a Matrix) at ``values`` (name -> float)."""
    env = {}
    if form == "let":
        defs, out = result
        for sym, expr in defs:
            env.setdefault(sym, None)
    else:
        defs, out = [], result
    free = set().union(*(e.free_symbols for _, e in defs), out.free_symbols)
    subs = {s: sp.Float(values[s.name], DPS) for s in free if s.name in values}
    for sym, expr in defs:
        # doit() first: SymPy 1.14 evaluates the unevaluated 3/2 + -3/2 to 0.e-160, and then
        # 3/2 - 0.e-160 - 0.e-160 to 2.0
        subs[sym] = sp.N(expr.xreplace(subs).doit(), DPS)
    done = sp.N(out.xreplace(subs).doit(), DPS)
    if isinstance(done, sp.MatrixBase):
        return [float(v) for v in done]
    return float(done)


def leaf_values(net, inputs):
    values = {p.name: p.value for p in net.parameters}
    values.update(inputs)
    return values


def close(a, b):
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_forms():
    assert FORMS == ("display", "elementary", "let")


@settings(deadline=None, derandomize=True, max_examples=40)
@given(st.data(), st.sampled_from(FORMS), st.booleans())
def test_values_equal_the_engine_on_random_graphs(data, form, numeric):
    dag = random_dag(data.draw)
    net = sn.compile(dag.root)
    try:
        result = to_sympy(net.program, numeric=numeric, form=form)
    except sn.ExportLimitError:
        assert form == "elementary"  # too many nested Piecewise: documented, the let form works
        return
    inputs = {k: v for k, v in dag.inputs.items() if k in net.input_names}
    assert close(evaluate(result, form, leaf_values(net, inputs)), net.predict(inputs))
    expr = result[1] if form == "let" else result
    if numeric:
        names = {s.name for s in expr.free_symbols}
        if form == "let":
            names = set().union(*({s.name for s in e.free_symbols} for _, e in result[0])) | names
        assert not names & set(net.parameter_names)


def test_random_graphs_cover_every_builtin_op():
    from randgraph import OP_NAMES

    assert set(OP_NAMES) == {name for name, row in OPS.items() if row.builtin}


@settings(deadline=None, derandomize=True, max_examples=25)
@given(st.data())
def test_elementary_form_has_only_sympys_own_functions(data):
    dag = random_dag(data.draw)
    try:
        expr = to_sympy(sn.compile(dag.root).program, form="elementary")
    except sn.ExportLimitError:
        return
    for f in expr.atoms(sp.Function):
        assert type(f).__module__.startswith("sympy."), type(f)
        assert not isinstance(type(f), sp.core.function.UndefinedFunction)


def test_symbols_are_real_and_named_as_the_network_names_them():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [2, 1]))
    expr = net.to_sympy()
    names = sorted(s.name for s in expr.free_symbols)
    assert names == sorted(net.input_names + net.parameter_names)
    assert all(s.is_real for s in expr.free_symbols)
    defs, out = net.to_sympy(form="let")
    assert [str(s) for s, _ in defs] == ["z1_1", "h1_1", "z1_2", "h1_2", "yhat"] and out == defs[-1][0]
    assert all(s.is_real for s, _ in defs)


def test_display_and_elementary_golden():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
    net = sn.compile((w * x + b).sigmoid())
    assert str(net.to_sympy()) == "sigmoid(b + w*x)"
    assert str(net.to_sympy(form="elementary")) == "1/(1 + exp(-(b + w*x)))"
    assert str(net.to_sympy(numeric=True)) == "sigmoid(x/2 + 2)"
    assert sp.latex(net.to_sympy()) == r"\sigma\left(b + w x\right)"
    relu = sn.compile((w * x).relu().tanh().exp().log())
    assert str(relu.to_sympy()) == "log(exp(tanh(relu(w*x))))"
    assert sp.latex(relu.to_sympy()).count(r"\operatorname{ReLU}\left(w x\right)") == 1


def test_display_numbers():
    x = sn.Input("x")
    p = sn.Parameter(0.1, name="p")
    net = sn.compile(p * x + sn.Constant(0.25) + sn.Constant(3.0))
    assert str(net.to_sympy(numeric=True)) == "0.1*x + 1/4 + 3"
    assert str(net.to_sympy()) == "p*x + 1/4 + 3"
    assert net.to_sympy(numeric=True, form="elementary").xreplace({sp.Symbol("x", real=True): 1}) \
        == sp.Rational(*(0.1).as_integer_ratio()) + sp.Rational(13, 4)


def test_display_functions_evaluate_differentiate_and_rewrite():
    z = sp.Symbol("z", real=True)
    sig = display_function(OPS["sigmoid"])
    relu = display_function(OPS["relu"])
    assert display_function(OPS["tanh"]) is sp.tanh and display_function(OPS["exp"]) is sp.exp
    assert display_function(OPS["add"]) is None
    # softmax is a function of (k, z_1, ..., z_n): issue 12 writes it by name (p_k - 1[k = c])
    assert display_function(OPS["softmax"]).__name__ == "softmax"
    assert display_function(OPS["log_softmax"]) is None  # written as log(softmax(...)_k)
    assert float(sig(sp.Float(0.3)).evalf(20)) == pytest.approx(OPS["sigmoid"].forward((0.3,), None))
    assert float(relu(sp.Float(-0.3)).evalf()) == 0.0 and float(relu(sp.Float(0.3)).evalf()) == 0.3
    # the derivative is written with the function itself (the row's output_derivative) ...
    assert sig(z).diff(z) == sig(z) * (1 - sig(z))
    # ... and equals SymPy's derivative of the elementary form
    assert sp.simplify(sig(z).diff(z).rewrite("elementary") - sp.exp(-z) / (1 + sp.exp(-z)) ** 2) == 0
    assert relu(z).diff(z) == sp.Piecewise((1, z > 0), (0, True))
    assert sig(z).rewrite(sp.exp) == 1 / (1 + sp.exp(-z))
    assert sig(z).rewrite("elementary") == 1 / (1 + sp.exp(-z))
    assert sig(z).free_symbols == {z} and str(sig(z)) == "sigmoid(z)"


def test_user_ops_get_a_display_function_and_their_own_elementary_form():
    cube = sn.define_op("sympy_test_cube", 1, forward=lambda v: v ** 3, partials=lambda v: (3 * v * v,),
                        sympy=lambda e: e ** 3, replace=True)
    x = sn.Input("x")
    net = sn.compile(cube(x) + 1)
    assert str(net.to_sympy()) == "sympy_test_cube(x) + 1"
    assert sp.simplify(net.to_sympy(form="elementary") - sp.Symbol("x", real=True) ** 3 - 1) == 0
    assert float(net.to_sympy().xreplace({sp.Symbol("x", real=True): 2}).evalf()) == 9.0


def test_vector_outputs_are_matrices():
    a, b = sn.Input("a"), sn.Input("b")
    net = sn.compile(sn.Softmax([a, 2 * b]))
    for form in ("display", "elementary"):
        m = net.to_sympy(form=form)
        assert isinstance(m, sp.MatrixBase) and m.shape == (2, 1)
        assert close(evaluate(m, form, {"a": 0.3, "b": -0.2}), net.predict([0.3, -0.2]))
    defs, out = net.to_sympy(form="let")
    assert isinstance(out, sp.MatrixBase) and out.shape == (2, 1)
    assert [str(s) for s in out] == ["yhat1", "yhat2"]


def test_mlp_converts_well_under_a_second():
    sn.seed(1)
    net = sn.compile(sn.MLP(2, [8, 8, 8, 8, 1]))
    for form in ("display", "let"):
        start = time.perf_counter()
        result = net.to_sympy(form=form)
        assert time.perf_counter() - start < 0.5, form
    assert close(evaluate(result, "let", leaf_values(net, {"x1": 0.3, "x2": -0.6})), net.predict([0.3, -0.6]))
    with pytest.raises(sn.ExportLimitError, match="max_kinks=4.*form='let'"):
        net.to_sympy(form="elementary")


def test_elementary_form_of_a_wide_relu_layer_is_fine():
    sn.seed(2)
    net = sn.compile(sn.MLP(3, [16, 1]))
    expr = net.to_sympy(form="elementary")
    assert len(expr.atoms(sp.Piecewise)) == 16
    assert close(evaluate(expr, "elementary", leaf_values(net, {"x1": 0.1, "x2": 0.2, "x3": -0.3})),
                 net.predict([0.1, 0.2, -0.3]))


def test_elementary_form_is_differentiable_by_sympy():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
    expr = sn.compile(((w * x + b).tanh() - 1) ** 2).to_sympy(form="elementary")
    ws, xs = sp.Symbol("w", real=True), sp.Symbol("x", real=True)
    d = sp.diff(expr, ws)
    at = {ws: 0.5, xs: 1.5, sp.Symbol("b", real=True): 2.0}
    import math

    t = math.tanh(0.5 * 1.5 + 2.0)
    assert float(d.xreplace(at)) == pytest.approx(2 * (t - 1) * (1 - t * t) * 1.5)


def test_deep_chain_let_form_and_a_clear_limit_for_inline_forms():
    x = sn.Input("x", 0.25)
    h = x
    for i in range(100_000):
        h = -h if i % 2 else h + x
    net = sn.compile(h)
    defs, out = net.to_sympy(form="let")
    assert len(defs) == 100_000 // 12 + 1 and out == defs[-1][0]
    for form in ("display", "elementary"):
        with pytest.raises(sn.ExportLimitError, match="100000 operations deep.*max_depth=100.*form='let'"):
            net.to_sympy(form=form)
    shallow = sn.compile(x.tanh().tanh())
    with pytest.raises(sn.ExportLimitError, match="max_depth=1"):
        shallow.to_sympy(max_depth=1)


def test_let_form_of_a_shorter_chain_evaluates_like_the_engine():
    x = sn.Input("x", 0.25)
    h = x
    for i in range(300):
        h = (h * 0.5).tanh() if i % 2 else h + x
    net = sn.compile(h)
    result = net.to_sympy(form="let")
    assert close(evaluate(result, "let", {"x": 0.25}), net.predict([0.25]))


@pytest.mark.parametrize("kwargs, message", [
    ({"form": "latex"}, "unknown SymPy form 'latex'"),
    ({"numeric": "yes"}, "numeric must be True or False"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(sn.SymnetError, match=message):
        sn.compile(sn.Input("x") * 2).to_sympy(**kwargs)


def test_fold_functions_names_builtin_forms_and_ignores_user_patterns(monkeypatch):
    import sympy as sp

    import symnet.emit.sympy as emit_sympy
    import symnet.ops as ops_module

    table = ops_module.OpTable(*ops_module.OPS.values())
    monkeypatch.setattr(ops_module, "OPS", table)
    monkeypatch.setattr(emit_sympy, "OPS", table)
    # a user op whose SymPy form is the identity must not rewrite everything
    sn.define_op("ident_fold", 1, forward=lambda x: x, partials=lambda x: (1.0,), sympy=lambda x: x)
    z = sp.Symbol("z", real=True)
    s = 1 / (1 + sp.exp(-2 * z))
    expr = 2 * s * (1 - s)
    folded = emit_sympy.fold_functions(expr)
    assert str(folded) == "2*(1 - sigmoid(2*z))*sigmoid(2*z)"
    assert sp.simplify(folded.rewrite("elementary") - expr) == 0


@pytest.mark.parametrize("module", ["math", "numpy", "mpmath"])
def test_lambdify_understands_display_functions(module):
    # issue 16 kind 10: sympy.lambdify(symbols, net.to_sympy()) works
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-0.2, name="b")
    net = sn.compile(((w * x + b).relu() + (w * x).sigmoid()).tanh())
    expr = net.to_sympy()
    syms = [sp.Symbol(n, real=True) for n in ("x", "w", "b")]
    f = sp.lambdify(syms, expr, modules=module)
    for xv in (-1.5, 0.3, 2.0):
        assert float(f(xv, 0.5, -0.2)) == pytest.approx(net.predict([xv]), rel=1e-12)
    assert float(expr.evalf(subs={syms[0]: 2.0, syms[1]: 0.5, syms[2]: -0.2})) == pytest.approx(net.predict([2.0]))
    assert not expr.rewrite(sp.exp).atoms(sp.Function) - expr.rewrite(sp.exp).atoms(sp.exp, sp.tanh, sp.Piecewise)


def test_lambdify_numpy_on_arrays():
    np = pytest.importorskip("numpy")

    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    net = sn.compile((w * x).relu().sigmoid())
    f = sp.lambdify([sp.Symbol("x", real=True), sp.Symbol("w", real=True)], net.to_sympy(), modules="numpy")
    xs = np.array([-2.0, 0.0, 3.0])
    assert np.allclose(f(xs, 0.5), [net.predict([v]) for v in xs])


def test_new_rows_get_display_functions_for_free():
    # a throwaway op gets a SymPy function that lambdify, evalf, diff and rewrite understand
    sq = sn.define_op("printer_test_softsq", 1, forward=lambda v: math.log(1 + v * v),
                      partials=lambda v: (2 * v / (1 + v * v),), sympy=lambda e: sp.log(1 + e ** 2),
                      replace=True)
    x = sn.Input("x")
    net = sn.compile(sq(x))
    expr = net.to_sympy()
    z = sp.Symbol("x", real=True)
    assert str(expr) == "printer_test_softsq(x)"
    assert float(sp.lambdify([z], expr, "math")(0.7)) == pytest.approx(math.log(1.49))
    assert sp.simplify(expr.diff(z).rewrite("elementary") - 2 * z / (1 + z ** 2)) == 0
    assert expr.rewrite(sp.exp) == sp.log(1 + z ** 2)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_softmax_display_function_differentiates_as_its_elementary_form(n):
    from symnet.emit.forms import display as display_op
    zs = sp.symbols(f"z1:{n + 1}", real=True)
    point = {z: sp.Rational(7 * k - 9, 5) for k, z in enumerate(zs)}
    for k in range(n):
        p = display_op(OPS["softmax"], zs, k)
        assert str(p) == f"softmax({', '.join(map(str, zs))})_{k + 1}" and not p.has(sp.exp)
        assert sp.latex(p) == rf"\operatorname{{softmax}}\left({', '.join(map(sp.latex, zs))}\right)_{{{k + 1}}}"
        assert p.rewrite("elementary") == OPS["softmax"].sympy(sp, zs, k)
        log_p = display_op(OPS["log_softmax"], zs, k)
        assert log_p == sp.log(p)
        for j, z in enumerate(zs):
            # the row's layer_derivative: p_k (1[k = j] - p_j), written with the function itself ...
            pj = display_op(OPS["softmax"], zs, j)
            assert p.diff(z) == p * ((1 if j == k else 0) - pj)
            # ... and cross-entropy on it: d(-log p_k)/dz_j = p_j - 1[k = j], with nothing to cancel
            assert -log_p.diff(z) == pj - (1 if j == k else 0)
            for mine, raw in ((p.diff(z), OPS["softmax"].sympy(sp, zs, k).diff(z)),
                              (log_p.diff(z), OPS["log_softmax"].sympy(sp, zs, k).diff(z))):
                a, b = mine.xreplace(point).evalf(30), raw.xreplace(point).evalf(30)
                assert abs(a - b) < sp.Float("1e-28", 30)
    assert float(display_op(OPS["softmax"], (sp.Integer(1000), sp.Integer(0)), 1).evalf(30)) == pytest.approx(
        OPS["softmax"].forward((1000.0, 0.0), 1), abs=1e-300)
