"""The row is the op (issue 11 item 5): a throwaway row added to the table, and an op
made by define_op(formula=), each driven through every consumer with no other edit."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.ops import OPS


@pytest.fixture
def cube_row():
    row = sn.ops.Op("cube_everywhere", 1, lambda xs, a: xs[0] ** 3, lambda xs, y, a: (3 * xs[0] ** 2,),
                    lambda sp_, e, a: e[0] ** 3, text=sn.ops.call("cube_everywhere"),
                    latex=sn.ops.call(r"\operatorname{cube}"), doc="a**3", derivative="3 a**2",
                    method="cube_everywhere", function="cube_everywhere")
    OPS[row.name] = row
    yield lambda node: node.cube_everywhere()
    del OPS[row.name]


@pytest.fixture
def swish_op():
    return sn.define_op("swish_everywhere", 1, formula="a*sigmoid(a)", replace=True)


def _model(make):
    x, w, b = sn.Input("x"), sn.Parameter(0.7, name="w"), sn.Parameter(-0.2, name="b")
    return sn.compile(make(w * x + b) * 0.5 + 1.0)


def _fd(net, values, name, h=1e-6):
    up, down = dict(values), dict(values)
    if name in net.input_names:
        up[name] += h
        down[name] -= h
        return (net.predict(up) - net.predict(down)) / (2 * h)
    k = net.parameter_names.index(name)
    base = net.parameter_values
    plus, minus = list(base), list(base)
    plus[k] += h
    minus[k] -= h
    net.set_parameters(plus)
    a = net.predict(values)
    net.set_parameters(minus)
    c = net.predict(values)
    net.set_parameters(base)
    return (a - c) / (2 * h)


@pytest.mark.parametrize("which", ["cube_row", "swish_op"])
def test_every_consumer_takes_the_new_op(which, request, tmp_path):
    make = request.getfixturevalue(which)
    net = _model(make)
    values = {"x": 0.9}
    value = net.predict(values)
    grads = net.gradients(values)
    for name, g in grads.items():  # engine against finite differences
        assert g == pytest.approx(_fd(net, values, name), rel=1e-6, abs=1e-9)

    text = net.funcify()  # text, and the parser reads it back
    op_name = "cube_everywhere" if which == "cube_row" else "swish_everywhere"
    assert op_name in text
    back = sn.compile(sn.parse(text, inputs=["x"], values={"w": 0.7, "b": -0.2}))
    assert back.predict(values) == pytest.approx(value, rel=1e-15)

    assert net.latex()  # LaTeX, inline and layered
    assert net.latex(layers=True)
    for form in ("display", "elementary"):  # SymPy, every form, evaluates like the engine
        expr = net.to_sympy(numeric=True, form=form)
        assert float(expr.subs({s: 0.9 for s in expr.free_symbols})) == pytest.approx(value, rel=1e-12)
    defs, out = net.to_sympy(form="let")
    assert defs

    g = net.gradient_sympy("w")  # gradients in closed form equal the engine's
    subs = {s: {"x": 0.9, "w": 0.7, "b": -0.2}[s.name] for s in g.free_symbols}
    assert float(g.subs(subs)) == pytest.approx(grads["w"], rel=1e-12)
    assert "partial" in net.gradient_latex("w")

    example = net.worked_example(values, target=2.0, loss="mse", lr=0.1)  # worked example and report
    assert example.gradients["w"] == pytest.approx(2 * (value - 2.0) * grads["w"], rel=1e-12)
    assert r"\documentclass" in net.latex_report(values, target=2.0, loss="mse")

    fns = net.codegen()  # generated Python
    outs, gs = fns.gradient([0.9])
    assert outs[0] == value and gs[0] == pytest.approx(grads["w"], rel=1e-14)

    numpy = pytest.importorskip("numpy")  # the batched NumPy backend
    from symnet.backends.numpy_backend import batched

    batch = batched(net)
    X = numpy.array([[0.9], [0.1]])
    assert batch.forward(X)[0, 0] == pytest.approx(value, rel=1e-14)

    report = sn.check_gradients(net, values)  # the verifier
    assert report.ok
    claim_ok = sn.check_derivative(text, wrt="w", claimed=str(net.gradient_sympy("w")), inputs=["x"])
    assert claim_ok.correct

    path = tmp_path / "m.json"  # files
    sn.save(net, path)
    assert sn.load(path).predict(values) == value

    from symnet.cli import main  # the command line

    assert main(["formula", str(path)]) == 0


def test_removing_the_row_removes_the_op_everywhere(cube_row):
    net = _model(cube_row)
    row = OPS["cube_everywhere"]
    del OPS["cube_everywhere"]
    try:
        with pytest.raises(sn.FormulaError, match="unknown function"):
            sn.parse(net.funcify(), inputs=["x"])
        with pytest.raises(AttributeError):
            sn.Input("x").cube_everywhere()
    finally:
        OPS["cube_everywhere"] = row
