"""The symbolic half of check_derivative: exact constants, kink regions, budgets."""

from __future__ import annotations

import sympy as sp

import symnet as sn
from symnet import check_exact
from symnet.check_ref import LocalForms


def _programs(model: str, claim: str, inputs=("x",)):
    m = sn.compile(sn.parse(model, inputs=list(inputs))).program
    c = sn.compile(sn.parse(claim, inputs=list(inputs))).program
    return m, c


def _diff(model: str, claim: str, wrt: str = "w", inputs=("x",)):
    m, c = _programs(model, claim, inputs)
    return check_exact.symbolic_difference(m, m.outputs[0], c, c.outputs[0], wrt, LocalForms())


def test_constants_are_exact_decimals():
    assert check_exact.exact_constant(0.1) == sp.Rational(1, 10)
    assert check_exact.exact_constant(2.0**60) == sp.Integer(2**60)
    assert _diff("0.1*w*x", "x/10").status == "zero"
    assert _diff("3*w", "3.0000000001", inputs=()).status == "nonzero"


def test_kinks_are_decided_region_by_region_without_nested_piecewise():
    found = _diff("relu(relu(w*x) - 1)", "x*(w*x > 1)")  # three kinks: relu(w*x), relu(. - 1), step(w*x - 1)
    assert found.status in ("zero", "nonzero") and found.regions == 8
    assert _diff("relu(w*x)", "x*step(w*x)").status == "zero"  # relu and step cut at the same place
    assert _diff("relu(w*x)", "x*step(w*x)").regions == 2


def test_budgets_skip_with_the_name_of_the_limit():
    squares = "a = x + 1; " + "; ".join(f"a{k} = a{k - 1 if k > 1 else ''}*a{k - 1 if k > 1 else ''}"
                                        for k in range(1, 30)) + "; a29"
    assert "MAX_DEGREE" in _diff("w*x", squares).reason
    relus = "relu(" * 5 + "x" + ")" * 5
    assert "MAX_REGIONS" in _diff("w*x", relus).reason
    deep = "a = x; " + "; ".join(f"a{k} = tanh(a{k - 1 if k > 1 else ''})" for k in range(1, 70)) + "; a69"
    assert "MAX_DEPTH" in _diff("w*x", deep).reason


def test_wide_sums_are_built_as_folds():
    m, c = _programs("+".join(["x"] * 500), "500", inputs=("x",))
    found = check_exact.symbolic_difference(m, m.outputs[0], c, c.outputs[0], "x", LocalForms())
    assert found.status == "zero"
    assert check_exact.degrees(LocalForms(), m)[m.outputs[0]] == 1


def test_expected_expression_survives_nested_relus():
    m = sn.compile(sn.parse("relu(relu(-w*w))")).program
    expr = check_exact.expected_expression(m, m.outputs[0], "w", LocalForms())
    assert expr is None or expr.subs(sp.Symbol("w", real=True), 0.5) == 0


def _at(model: str, claim: str, point: dict, wrt: str = "w", inputs=("x",)):
    m, c = _programs(model, claim, inputs)
    return check_exact.exact_difference_at(m, m.outputs[0], c, c.outputs[0], wrt, LocalForms(), point)


def test_the_exact_difference_at_a_point_sees_what_50_digits_cannot():
    found = _at("w", "1 + 1e-40", {"w": 0.75}, inputs=())
    assert found is not None and found.claimed - found.true == sp.Rational(1, 10**40)  # rationals: exact
    found = _at("tanh(w*x)", "x*(1 - tanh(w*x)**2)*(1 + 1e-70)", {"w": 0.3, "x": -1.2})
    assert found is not None  # transcendental: proved by evalf with error control
    assert abs(found.diff / (found.true * sp.Rational(1, 10**70)) - 1) < 1e-12


def test_an_exact_zero_at_a_point_is_never_called_nonzero():
    assert _at("w*x", "x", {"w": 0.75, "x": 1.5}) is None
    # an identity SymPy leaves unevaluated at numbers: not proved nonzero at any precision
    assert _at("w", "tanh(w)**2 + 4*exp(2*w)/(exp(2*w) + 1)**2", {"w": 1 / 3}, inputs=()) is None


def test_the_exact_difference_is_not_judged_on_a_kink():
    # relu'(0) is a convention; at w*x = 0 exactly the point proves nothing
    assert _at("relu(w*x)", "x", {"w": 0.0, "x": 2.0}) is None
    assert _at("relu(w*x)", "x", {"w": -0.5, "x": 2.0}) is not None  # beside it: the claim is wrong there


def test_a_difference_nonzero_at_an_exact_point_is_nonzero_without_simplifying():
    x, y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    nonzero = [(x + 1) ** 2 - x**2 - 2 * x, 2 * x * y - x * y, sp.exp(x) - 1 - x, sp.sqrt(2) * x - x,
               sp.Float(1e-40) * x * 0 + sp.Rational(1, 10**40) * (x - y + 1)]
    identities = [sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1, sp.exp(sp.log(x**2 + 1)) - x**2 - 1,
                  (x**2 - y**2) / (x - y) - x - y, sp.tanh(x) - (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1)]
    assert all(check_exact.nonzero_at_a_point(d) for d in nonzero)
    assert not any(check_exact.nonzero_at_a_point(d) for d in identities)
    # zero only at the chosen point proves nothing, and says so (False), never "zero"
    p = check_exact.point_values([x])[x]
    assert not check_exact.nonzero_at_a_point(x - p)
    assert check_exact.zero_test(x - p, armed=True)[0] == "nonzero"  # decided by the other steps
    assert check_exact.zero_test(identities[0], armed=True)[0] == "zero"


def test_a_wrong_claim_is_decided_without_simplify(monkeypatch):
    calls = []
    simplify = sp.simplify

    def counting(expr, *args, **kwargs):
        calls.append(expr)
        return simplify(expr, *args, **kwargs)

    monkeypatch.setattr(sp, "simplify", counting)
    wrong = _diff("w*x**2 + exp(w)", "x**2 + 2*exp(w)")
    assert wrong.status == "nonzero" and calls == []
    right = _diff("w*x**2 + tanh(w)", "x**2 + 1 - tanh(w)**2")
    assert right.status == "zero"


# -- a formula's exponent is exact, and never shares a form with its float (issue 13 item 1) --


def test_a_formula_exponent_enters_as_the_exact_rational_of_its_text():
    assert _diff("w**(1/3)", "w**(-2/3)/3", inputs=()).status == "zero"
    assert _diff("w**(1/3)", "(1/3)*w**(1/3 - 1)", inputs=()).status == "zero"
    assert _diff("w**(2/3)", "2/(3*w**(1/3))", inputs=()).status == "zero"
    assert _diff("w**(1/3)", "0.3333333333333333*w**(-0.6666666666666667)", inputs=()).status == "nonzero"
    m, _ = _programs("w**(1/3)", "w", inputs=())
    w = sp.Symbol("w", positive=True)
    vals, _ = check_exact.build(m, {"w": w}, LocalForms(), check_exact.Structure().ids(m), None)
    assert vals[m.outputs[0]] == w ** sp.Rational(1, 3)


def test_an_exact_exponent_and_its_float_do_not_share_a_cached_form():
    from symnet.ops import OPS

    exact = sn.parse("w**(1/3)").attr
    for first, second in ((exact, 1 / 3), (1 / 3, exact)):  # whichever is cached first
        forms = LocalForms()
        a, b = forms.get(OPS["pow"], 1, first), forms.get(OPS["pow"], 1, second)
        assert {a.expr.exp, b.expr.exp} == {sp.Rational(1, 3), sp.Rational(*(1 / 3).as_integer_ratio())}
    # through the verifier, one cache for both: the formula's w**(1/3) and a node built with the float
    m, claim = _programs("w**(1/3)", "w**(-2/3)/3", inputs=())
    built = sn.compile(sn.Parameter(1.0, name="w") ** (1 / 3)).program
    for order in ((m, built), (built, m)):
        forms = LocalForms()
        got = {id(p): check_exact.symbolic_difference(p, p.outputs[0], claim, claim.outputs[0], "w", forms).status
               for p in order}
        assert (got[id(m)], got[id(built)]) == ("zero", "nonzero")


def test_structural_ids_tell_an_exact_exponent_from_its_float():
    s = check_exact.Structure()
    third = sn.compile(sn.parse("w**(1/3)")).program
    decimal = sn.compile(sn.parse("w**0.3333333333333333")).program
    again = sn.compile(sn.parse("w**(2/6)")).program
    built = sn.compile(sn.Parameter(1.0, name="w") ** (1 / 3)).program
    ids = [s.ids(p)[p.outputs[0]] for p in (third, decimal, again, built)]
    assert ids[0] == ids[2] and len({ids[0], ids[1], ids[3]}) == 3
