"""Symbolic exports under budgets: deep chains, residual chains and diamonds are
refused at once with an ExportLimitError naming the limit and its keyword, never a
RecursionError or a hang (issue 16 kind 4)."""

from __future__ import annotations

import pytest

import symnet as sn


def tanh_chain(n):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    y = x
    for _ in range(n):
        y = (y * w).tanh()
    return sn.compile(y)


def residual_chain(n):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    y = x
    for _ in range(n):
        y = (y * w).tanh() + 0.5 * y
    return sn.compile(y)


def diamond(n):
    x = sn.Input("x")
    y = x
    for _ in range(n):
        y = y + y
    return sn.compile(y)


@pytest.mark.parametrize("call", [
    lambda net: net.gradient_latex("w"),
    lambda net: net.gradient_sympy("w"),
    lambda net: net.gradient_sympy("w", let=True),
    lambda net: net.worked_example({"x": 0.5}),
    lambda net: net.latex_report({"x": 0.5}),
])
def test_a_deep_block_is_refused_naming_max_block_depth(call):
    with pytest.raises(sn.ExportLimitError, match="max_block_depth=48"):
        call(tanh_chain(250))


def test_the_limit_can_be_raised_and_the_result_is_right():
    net = tanh_chain(30)  # 60 nested ops
    with pytest.raises(sn.ExportLimitError, match="max_block_depth"):
        net.gradient_sympy("w")
    expr = net.gradient_sympy("w", max_block_depth=64)
    value = float(expr.subs({s: 0.5 for s in expr.free_symbols if s.name in ("w", "x")}))
    assert value == pytest.approx(net.gradients({"x": 0.5})["w"], rel=1e-9)


@pytest.mark.parametrize("build", [lambda: residual_chain(20), lambda: diamond(60)])
def test_an_exponential_inline_form_is_refused_naming_max_size(build):
    net = build()
    with pytest.raises(sn.ExportLimitError, match="max_size=200000"):
        net.to_sympy()
    with pytest.raises(sn.ExportLimitError, match="max_size"):
        net.to_sympy(form="elementary")
    let = net.to_sympy(form="let")  # the let form names every shared node: linear
    assert len(let[0]) <= len(net.program)


def test_the_inline_gradient_of_a_residual_chain_points_to_let():
    net = residual_chain(20)
    with pytest.raises(sn.ExportLimitError, match="let=True"):
        net.gradient_sympy("w")
    defs, result = net.gradient_sympy("w", let=True)
    assert defs


def test_bad_budget_values_are_input_errors():
    net = tanh_chain(3)
    with pytest.raises(sn.InputError, match="max_size"):
        net.to_sympy(max_size=0)
    with pytest.raises(sn.InputError, match="max_block_depth"):
        net.gradient_latex("w", max_block_depth="10")


def test_the_command_line_refuses_with_its_own_error(tmp_path, capsys):
    from symnet.cli import main

    path = tmp_path / "res.json"
    sn.save(residual_chain(20), path)
    code = main(["formula", str(path), "--sympy"])
    assert code != 0
    assert "max_size" in capsys.readouterr().err


def test_nested_relu_never_leaks_a_key_error():
    w = sn.Parameter(0.5, name="w")
    net = sn.compile((-(w * w)).relu().relu())
    assert str(net.to_sympy()) == "relu(relu(-w*w))"
    with pytest.raises(sn.ExportLimitError, match="form='let'"):
        net.to_sympy(form="elementary")
    assert net.gradient_sympy("w") == 0
    assert sn.check_derivative("relu(relu(-w*w))", wrt="w", claimed="0").correct


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(deadline=None, derandomize=True, max_examples=25)
@given(st.lists(st.sampled_from(["tanh", "residual", "double", "add"]), min_size=1, max_size=120))
def test_random_deep_graphs_export_or_refuse_cleanly(steps):
    """Kind 4: any chain of these steps either exports or raises ExportLimitError, at once."""
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    y = x
    for s in steps:
        y = {"tanh": lambda v: (v * w).tanh(), "residual": lambda v: (v * w).tanh() + 0.5 * v,
             "double": lambda v: v + v, "add": lambda v: v + 0.001}[s](y)
    net = sn.compile(y * w)  # w is always a parameter of the network
    for call in (lambda: net.to_sympy(), lambda: net.gradient_sympy("w"), lambda: net.gradient_latex("w"),
                 lambda: net.to_sympy(form="let"), lambda: net.latex(layers=True)):
        try:
            call()
        except sn.ExportLimitError as exc:
            assert "max_" in str(exc) or "form=" in str(exc) or "layers" in str(exc)


def test_the_budgets_hold_in_the_emitters_themselves_not_only_in_network_methods():
    from symnet.emit import chainrule
    from symnet.emit.sympy import to_sympy

    with pytest.raises(sn.ExportLimitError, match="max_block_depth"):
        chainrule.gradient_latex(tanh_chain(250), "w")
    with pytest.raises(sn.ExportLimitError, match="max_size"):
        to_sympy(diamond(60).program)
    w = sn.Parameter(0.5, name="w")
    with pytest.raises(sn.ExportLimitError, match="form='let'"):
        to_sympy(sn.compile((-(w * w)).relu().relu()).program, form="elementary")
    example = tanh_chain(30).worked_example({"x": 0.5}, max_block_depth=64)  # the limit raised, all the way down
    assert example.steps[-1].value == pytest.approx(tanh_chain(30).gradients({"x": 0.5})["w"], rel=1e-12)
