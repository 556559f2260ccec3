"""Tests for the safe formula parser: the grammar, positions in messages, limits and hostile input."""

from __future__ import annotations

import ast
import builtins
import inspect
import math
from fractions import Fraction
import time

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
import symnet.parse as parse_module
from symnet.parse import functions, parse


def value(text, inputs=("x",), point=None, **values):
    node = parse(text, inputs=list(inputs), values=values or None)
    return sn.compile(node).predict(point if point is not None else {n: 0.5 for n in inputs})


# -- the grammar -----------------------------------------------------------------------------

GOOD = [
    # text, expected funcify (names kept), value at x = 0.5 with w = 2, b = -1
    ("w*x + b", "w*x + b", 0.0),
    ("w * x+b", "w*x + b", 0.0),
    ("sigmoid(w*x + b)", "sigmoid(w*x + b)", 0.5),
    ("-x**2", "-(x**2)", -0.25),
    ("(-x)**2", "(-x)**2", 0.25),
    ("x^2", "x**2", 0.25),
    ("x**-1", "x**(-1)", 2.0),
    ("x**(-1)", "x**(-1)", 2.0),
    ("x**(2*3)", "x**6", 0.015625),
    ("x**0.5", "x**0.5", math.sqrt(0.5)),
    ("x**2**-1", "x**0.5", math.sqrt(0.5)),
    ("2**3**2 * x", "512*x", 256.0),
    ("-2**2 + x", "-4 + x", -3.5),
    ("+x", "x", 0.5),
    ("- -x", "-(-x)", 0.5),
    ("x - w - b", "x - w - b", -0.5),
    ("x - (w - b)", "x - (w - b)", -2.5),
    ("x/w/b", "x/w/b", -0.25),
    ("x/(w*b)", "x/(w*b)", -0.25),
    ("x + w + b + x", "x + w + b + x", 2.0),
    ("max(0, w*x + b)", "relu(w*x + b)", 0.0),
    ("max(w*x - b, 0.0)", "relu(w*x - b)", 2.0),
    ("relu(x) + tanh(x) - exp(x)*log(x)", "relu(x) + tanh(x) - exp(x)*log(x)",
     0.5 + math.tanh(0.5) - math.exp(0.5) * math.log(0.5)),
    ("1e-3*x + .5 + 5. + 1E+2", "0.001*x + 0.5 + 5 + 100", 105.5005),
    ("2*(w*x + b - 1)*x", "2*(w*x + b - 1)*x", -1.0),
    ("  w*x  ", "w*x", 1.0),
]


@pytest.mark.parametrize("text, printed, expected", GOOD, ids=[g[0] for g in GOOD])
def test_good_formulas(text, printed, expected):
    values = {k: v for k, v in (("w", 2.0), ("b", -1.0)) if k in text}
    net = sn.compile(parse(text, inputs=["x"], values=values))
    assert net.funcify() == printed
    assert net.predict({"x": 0.5}) == pytest.approx(expected, rel=1e-12)


def test_a_sum_and_a_product_are_each_one_n_ary_node():
    node = parse("a + b + c + d", inputs=["a", "b", "c", "d"])
    assert node.op == "add" and len(node.children) == 4
    node = parse("a*b*c", inputs=["a", "b", "c"])
    assert node.op == "mul" and len(node.children) == 3


def test_a_name_is_one_node_and_nodes_come_in_order_of_first_appearance():
    node = parse("w*x + b*x + w", inputs=["x"])
    net = sn.compile(node)
    assert net.parameter_names == ["w", "b"] and net.input_names == ["x"]
    w1, x1 = node.children[0].children
    assert node.children[2] is w1 and node.children[1].children[1] is x1


def test_inputs_and_values():
    node = parse("w*x + b", inputs=["x"], values={"w": 3.0, "b": 0.5, "x": 2.0})
    assert node.forward() == 6.5
    net = sn.compile(node)
    assert [type(n).__name__ for n in net.inputs + net.parameters] == ["Input", "Parameter", "Parameter"]


def test_unvalued_parameters_come_from_the_seeded_generator():
    sn.seed(11)
    first = [p.value for p in sn.compile(parse("a*x + b", inputs=["x"])).parameters]
    sn.seed(11)
    assert [p.value for p in sn.compile(parse("a*x + b", inputs=["x"])).parameters] == first
    assert all(-1.0 <= v <= 1.0 for v in first)


def test_constants_fold():
    assert isinstance(parse("2*3 - 1/4"), sn.Constant) and parse("2*3 - 1/4").value == 5.75
    assert parse("-(2)").value == -2.0


def test_functions_come_from_the_op_table_including_user_ops():
    assert {"exp", "log", "relu", "sigmoid", "tanh"} <= set(functions())
    sn.define_op("parse_test_cube", 1, forward=lambda v: v ** 3, partials=lambda v: (3 * v * v,),
                 sympy=lambda e: e ** 3, text="cube3", replace=True)
    assert "cube3" in functions()
    assert value("cube3(x) + 1") == pytest.approx(1.125)
    with pytest.raises(sn.FormulaError, match="known functions: .*cube3"):
        parse("cube4(x)")


def test_layered_text_lines_and_semicolons():
    text = "z = w*x + b\nh = relu(z)\nyhat = 2*h + z"
    node = parse(text, inputs=["x"], values={"w": 2.0, "b": 1.0, "x": 1.0})
    assert node.name == "yhat" and node.forward() == 9.0
    assert sn.compile(node).funcify(layers=True) == text
    same = parse("z = w*x + b; h = relu(z); 2*h + z", inputs=["x"], values={"w": 2.0, "b": 1.0, "x": 1.0})
    assert same.forward() == 9.0
    assert parse("a = x\n\n  ;\nb = a*a\nb\n", inputs=["x"]).op == "mul"


def test_a_comma_list_on_the_last_line_is_a_vector_output():
    out = parse("h = w*x\nh, sigmoid(h), 2", inputs=["x"], values={"w": 1.0, "x": 0.0})
    assert isinstance(out, sn.Output) and len(out) == 3
    assert sn.compile(out).predict([0.0]) == [0.0, 0.5, 2.0]


def test_a_line_that_names_a_leaf_or_a_number_is_an_alias():
    node = parse("c = 2\nv = x\nc*v", inputs=["x"], values={"x": 3.0})
    assert sn.compile(node).funcify() == "2*x" and node.forward() == 6.0


# -- errors: positions ------------------------------------------------------------------------

POSITIONS = [
    ("2*(w*x+b-y)*x)", 14, "unexpected '\\)'"),
    ("w*x + ", 7, "ends where an operand is expected after '\\+'"),
    ("relu(x", 1, "unclosed 'relu\\('"),
    ("(x + 1", 1, "unclosed '\\('"),
    ("x + * 2", 5, "unexpected '\\*'"),
    ("x y", 3, "unexpected 'y' after 'x'"),
    ("foo(x) + 1", 1, "unknown function 'foo'; known functions: .*exp.*log.*max.*relu.*sigmoid.*tanh"),
    ("x + __class__", 5, "invalid name '__class__'"),
    ("x + 1.5.2", 5, "malformed number"),
    ("w*x + 2b", 7, "malformed number '2b' \\(write 2\\*b for a product\\)"),
    ("x**y", 2, "exponent of '\\*\\*' must be a numeric constant"),
    ("sigmoid(x, x)", 1, "sigmoid\\(\\) takes 1 argument, got 2"),
    ("x = 2", 1, "'x' is an input"),
]


@pytest.mark.parametrize("text, col, message", POSITIONS, ids=[p[0] for p in POSITIONS])
def test_errors_name_the_column_and_draw_a_caret(text, col, message):
    with pytest.raises(sn.FormulaError, match=message) as info:
        parse(text, inputs=["x"])
    err = info.value
    first, shown, caret = str(err).split("\n")
    assert first.endswith(f" at col {col}")
    assert shown == "  " + text and caret == "  " + " " * (col - 1) + "^"
    assert (err.line, err.col, err.offset) == (1, col, col - 1)


def test_errors_in_layered_text_name_the_line():
    with pytest.raises(sn.FormulaError) as info:
        parse("z = w*x\nh = relu(z))\nh", inputs=["x"])
    assert str(info.value).splitlines() == ["unexpected ')' at line 2, col 12", "  h = relu(z))", "             ^"]
    assert (info.value.line, info.value.col) == (2, 12)


def test_a_long_line_shows_a_window_around_the_error():
    text = "x + " * 200 + "(" + " + x" * 200
    with pytest.raises(sn.FormulaError) as info:
        parse(text, inputs=["x"])
    lines = str(info.value).splitlines()
    assert lines[0] == "unclosed '(' at col 801"
    assert lines[1].startswith("  ...") and len(lines[1]) <= 2 + 75
    assert lines[1][lines[2].index("^")] == "("


@pytest.mark.parametrize("text, message", [
    ("z = x\nz = 2*x\nz", "'z' is already a name defined earlier"),
    ("h = relu(z)\nz = w*x\nh", "'z' is already a parameter"),
    ("relu = x\nrelu", "'relu' is a function name"),
    ("x\ny", "only the last line may be a bare expression"),
    ("a = x, x\na", "defines one value"),
    ("w = = 1", "unexpected '='"),
    ("relu", "'relu' is a function: call it as relu\\(...\\)"),
    ("max(x, w)", "max\\(\\) is only supported as max\\(0, z\\) or max\\(z, 0\\)"),
    ("(x, w)", "tuples are not part of formulas"),
    ("relu()", "takes 1 argument, got 0"),
    ("relu(x,)", "unexpected '\\)'"),
    ("1/0 + x", "division by zero"),
    ("(-8)**(1/3)*x", "undefined or too large"),
    ("1e999*x", "out of range"),
    ("x**65", "exponent 65 is out of range"),
    ("x**-64.5", "exponent -64.5 is out of range"),
])
def test_more_errors(text, message):
    with pytest.raises(sn.FormulaError, match=message):
        parse(text, inputs=["x"])


@pytest.mark.parametrize("kwargs, message", [
    ({"inputs": 3}, "inputs must be a list of names"),
    ({"inputs": ["x", 2]}, "inputs must be names"),
    ({"inputs": ["2x"]}, "invalid input name"),
    ({"inputs": ["lambda"]}, "reserved"),
    ({"inputs": ["relu"]}, "function name"),
    ({"values": [1, 2]}, "values must be a dict"),
    ({"values": {"w": float("nan")}}, "must be a finite number"),
    ({"values": {"w": True}}, "must be a finite number"),
    ({"values": {"q": 1.0}}, "values given for 'q', which the formula does not use"),
    ({"max_depth": 0}, "max_depth must be a positive integer"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(sn.FormulaError, match=message):
        parse("w*x", **kwargs)


def test_not_a_string():
    with pytest.raises(sn.FormulaError, match="must be a string"):
        parse(b"x")  # type: ignore[arg-type]


# -- limits -------------------------------------------------------------------------------------


def test_limits_are_configurable():
    deep = "(" * 70 + "x" + ")" * 70
    with pytest.raises(sn.FormulaError, match="nesting deeper than 64"):
        parse(deep, inputs=["x"])
    assert parse(deep, inputs=["x"], max_depth=100).name == "x"
    with pytest.raises(sn.FormulaError, match=r"formula too long \(2001 > 2000"):
        parse("x" + " " * 2000, inputs=["x"])
    assert parse("x" + " " * 2000, inputs=["x"], max_length=3000).name == "x"
    with pytest.raises(sn.FormulaError, match="number literal too long"):
        parse("1" * 70)
    assert parse("1" * 70, max_number=80).value == float("1" * 70)
    with pytest.raises(sn.FormulaError, match="more than 10 nodes"):
        parse("x*w + x*b + x*c + x*d + x*e1", inputs=["x"], max_nodes=10)


def test_long_chains_and_sums_parse_without_recursion():
    n = 40_000
    node = parse("+".join(["x"] * n), inputs=["x"], max_length=10**6)
    assert len(node.children) == n
    chain = "-" * 5000 + "x"
    assert parse(chain, inputs=["x"], max_length=10**6, max_depth=10**4).op == "neg"
    power = "x" + "**1" * 5000
    assert parse(power, inputs=["x"], max_length=10**6).attr == 1.0


# -- hostile strings (reliability.md F1-F15) ------------------------------------------------------

HOSTILE = [
    ("__import__('os').system('id')", "unknown function '__import__'"),
    ("().__class__.__mro__[1].__subclasses__()", "unexpected '\\)'"),
    ("x.__new__.__globals__['__builtins__']['__import__']('os').getcwd()", "'.' is not allowed"),
    ("x.real", "'\\.' is not allowed here \\(attribute access.* at col 2"),
    ("w.__class__", "attribute access"),
    ("(lambda: 1)()", "'lambda' is a Python keyword"),
    ("[c for c in ()]", "'\\[' is not allowed"),
    ("f'{x}'", "quotes are not allowed"),
    ("x if x else 1", "'if' is a Python keyword"),
    ("x==1", "'==' is not allowed"),
    ("x@x", "'@'"),
    ("x; import os", "only the last line may be a bare expression"),
    ("a = 1; import os", "'import' is a Python keyword"),
    ("x\n+1", "only the last line may be a bare expression"),
    ("9**9**9**9", "exponents must be numeric constants with abs\\(p\\) <= 64"),
    ("2**10**7", "exponents must be numeric constants with abs\\(p\\) <= 64"),
    ("x**(10**100)", "exponent 100 is out of range"),
    ("factorial(10**6)", "unknown function 'factorial'"),
    ("(" * 201 + "x" + ")" * 201, "nesting deeper than 64"),
    ("(" * 10_000 + "x" + ")" * 10_000, "formula too long \\(20001 > 2000"),
    ("-" * 10_000 + "x", "formula too long \\(10001 > 2000"),
    ("+".join(["x"] * 100_000), "formula too long"),
    ("1" * 5000, "formula too long"),
    ("", "empty formula"),
    ("   ", "empty formula"),
    ("\n;\n", "empty formula"),
    ("\x00x", "control character U\\+0000 at col 1"),
    ("2*(w*x+b-y)*x)", "unexpected '\\)' at col 14"),
    ("pi*x", "'pi' is a reserved name"),
    ("e**x", "'e' is a reserved name"),
    ("lambda", "'lambda' is a Python keyword"),
    ("ｘ", "non-ASCII character U\\+FF58 \\(FULLWIDTH LATIN SMALL LETTER X\\) at col 1"),
    ("х + 1", "non-ASCII character U\\+0445"),
    ("∂x", "non-ASCII character U\\+2202"),
    ("x\u200b + 1", "non-ASCII character U\\+200B \\(ZERO WIDTH SPACE\\) at col 2"),
    ("x // 2", "floor division"),
    ("x % 2", "modulo"),
    ("x < 1 < y", "chained comparisons"),
    ("#x", "comments"),
    ("{x}", "'\\{' is not allowed"),
    ("x:1", "':' is not allowed"),
    ("not x", "'not' is a Python keyword"),
    ("x and y", "'and' is a Python keyword"),
]


@pytest.mark.parametrize("text, message", HOSTILE, ids=[repr(h[0][:30]) for h in HOSTILE])
def test_hostile_strings_get_a_clear_error_in_milliseconds(text, message):
    start = time.perf_counter()
    with pytest.raises(sn.FormulaError, match=message):
        parse(text, inputs=["x"])
    assert time.perf_counter() - start < 0.05


def test_number_literal_limit_when_the_length_is_allowed():
    with pytest.raises(sn.FormulaError, match=r"number literal too long \(5000 > 64 characters; pass max_number= to allow longer ones\) at col 1"):
        parse("1" * 5000, max_length=10_000)


def test_names_resolve_only_through_symnets_own_table():
    # SymPy would read these as the imaginary unit, Euler's number, ...; here they are parameters
    net = sn.compile(parse("I*x + E + N + S + gamma + X", inputs=["x"]))
    assert net.parameter_names == ["I", "E", "N", "S", "gamma", "X"]


def test_no_code_runs_sentinel(tmp_path, monkeypatch):
    sentinel = tmp_path / "sentinel"
    attacks = [
        f"__import__('os').system('touch {sentinel}')",
        f"x.__class__.__init__.__globals__['os'].system('touch {sentinel}')",
        f"open('{sentinel}', 'w')",
        f"exec(\"open('{sentinel}', 'w')\")",
        f"eval(\"open('{sentinel}', 'w')\")",
    ]

    def forbidden(*args, **kwargs):
        raise AssertionError("the parser must not evaluate text")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    monkeypatch.setattr(sympy, "sympify", forbidden)
    monkeypatch.setattr(sympy, "parse_expr", forbidden, raising=False)
    for attack in attacks:
        with pytest.raises(sn.FormulaError):
            parse(attack, inputs=["x"])
    assert parse("sigmoid(w*x + b)", inputs=["x"]).op == "sigmoid"  # still works with them gone
    assert not sentinel.exists()


def test_the_parser_source_calls_no_evaluator():
    tree = ast.parse(inspect.getsource(parse_module))
    called = {n.func.id if isinstance(n.func, ast.Name) else getattr(n.func, "attr", "")
              for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not called & {"eval", "exec", "compile", "sympify", "parse_expr", "__import__", "lambdify"}
    imported = {alias.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for alias in n.names}
    assert "sympy" not in imported and not any(m.startswith("sympy") for m in imported)


@settings(deadline=None, derandomize=True, max_examples=300)
@given(st.text(alphabet="xwb12.e()+-*/^,;=\n _rlu", max_size=40))
def test_fuzz_any_text_gives_a_node_or_a_formula_error(text):
    try:
        node = parse(text, inputs=["x"])
    except sn.FormulaError as exc:
        assert " at " in str(exc) or "empty" in str(exc) or "values" in str(exc)
        return
    assert isinstance(node, sn.Node)


# -- formulas pasted from documents (issue 16, kind 11) ------------------------------------------


@pytest.mark.parametrize("pasted, ascii_", [
    ("x \u2212 1", "x - 1"), ("x \u00d7 w", "x*w"), ("x \u00b7 w", "x*w"), ("x\u22c5w", "x*w"),
    ("x \u2217 w", "x*w"), ("x \u00f7 w", "x/w"), ("w\u00d7x \u2212 b", "w*x - b"), ("\u2212x", "-x"),
    ("(x \u2265 w)", "(x >= w)"), ("(x \u2264 w)", "(x <= w)"), ("x \u2013 1", "x - 1"),
])
def test_pasted_mathematical_symbols_read_as_ascii(pasted, ascii_):
    vals = {k: v for k, v in {"x": 0.7, "w": 1.9, "b": 0.3}.items() if k in ascii_}
    a = sn.compile(sn.parse(pasted, inputs=["x"], values=vals))
    b = sn.compile(sn.parse(ascii_, inputs=["x"], values=vals))
    assert a.funcify() == b.funcify() and a.predict([0.7]) == b.predict([0.7])


@pytest.mark.parametrize("text, code, col, hint", [
    ("x*.\u0663", "U+0663", 4, "the ASCII digit 3"),          # Arabic-Indic digit: never read as 0.3
    (".\u00b2", "U+00B2", 2, "**2"),                          # superscript two: no AssertionError
    ("x\u00b2", "U+00B2", 2, "**2"),
    ("x\u00b3 + 1", "U+00B3", 2, "**3"),
    ("2\u0663", "U+0663", 2, "the ASCII digit 3"),
    ("\u0663", "U+0663", 1, "the ASCII digit 3"),
    ("\u00bd*x", "U+00BD", 1, "ASCII digits"),                # vulgar fraction one half
    ("\u03c3(z)", "U+03C3", 1, "sigmoid(...)"),
    ("\u221a(x)", "U+221A", 1, "sqrt(...)"),
    ("x\u00a0+ 1", "U+00A0", 2, "a space"),
    ("w\u2032", "U+2032", 2, "nothing"),
])
def test_every_other_non_ascii_character_is_named_with_its_column(text, code, col, hint):
    with pytest.raises(sn.FormulaError) as info:
        sn.parse(text)
    message = str(info.value)
    assert code in message and f"col {col}" in message and hint in message, message
    assert info.value.col == col


def test_digits_are_ascii_only():
    for digit in ("\u0663", "\u06f3", "\u0969", "\uff13", "\u00b2", "\u2083"):
        with pytest.raises(sn.FormulaError, match="non-ASCII"):
            sn.parse(f"x*{digit}")
        with pytest.raises(sn.FormulaError, match="non-ASCII"):
            sn.parse(f"x*.{digit}")
        with pytest.raises(sn.FormulaError, match="non-ASCII"):
            sn.parse(f"1{digit}")


# -- claims in the taught notation (issue 12, item 2) ---------------------------------------------


@pytest.mark.parametrize("text, at, value", [
    ("step(z)", 0.5, 1.0), ("step(z)", 0.0, 0.0), ("step(z)", -0.5, 0.0),
    ("heaviside(z)", 0.0, 0.0), ("heaviside(z)", 2.0, 1.0),
    ("(z > 0)", 0.0, 0.0), ("(z >= 0)", 0.0, 1.0), ("(z < 0)", 0.0, 0.0), ("(z <= 0)", 0.0, 1.0),
    ("(z > 1)", 1.5, 1.0), ("(1 > z)", 1.5, 0.0), ("(z >= 1)*3", 1.0, 3.0), ("2*(z + 1 > 0)", -0.5, 2.0),
    ("sqrt(z)", 2.25, 1.5), ("abs(z)", -2.5, 2.5), ("abs(z)", 2.5, 2.5), ("sqrt(4)*z", 1.5, 3.0),
])
def test_indicators_step_sqrt_and_abs(text, at, value):
    node = sn.parse(text, inputs=["z"], values={"z": at})
    assert node.forward() == value


def test_comparisons_bind_loosest_and_do_not_chain():
    node = sn.parse("z + 1 > 2*w", inputs=["z"], values={"z": 1.5, "w": 1.0})
    assert node.forward() == 1.0
    with pytest.raises(sn.FormulaError, match="chained comparisons"):
        sn.parse("0 < z < 1")
    with pytest.raises(sn.FormulaError, match="'==' is not allowed"):
        sn.parse("(z == 0)")


def test_nodes_stand_for_existing_nodes():
    x, w = sn.Input("x", 2.0), sn.Parameter(3.0, name="w")
    z = (w * x).tanh()
    claim = sn.parse("1 - h**2", nodes={"h": z})
    assert claim.forward() == pytest.approx(1 - math.tanh(6.0) ** 2)
    with pytest.raises(sn.FormulaError, match="already a node of the model"):
        sn.parse("h = 2; h", nodes={"h": z})
    with pytest.raises(sn.FormulaError, match="nodes must"):
        sn.parse("h", nodes={"h": 3.0})


def test_softmax_is_read_by_name_with_its_output_as_a_subscript():
    # issue 12: symnet writes softmax by name, softmax(a, b, c)_k (k from 1), and reads it back
    net = sn.compile(sn.parse("softmax(a, 2*b, c)_3 + log(softmax(a, b)_1)", inputs=["a", "b", "c"]))
    assert net.funcify() == "softmax(a, 2*b, c)_3 + log(softmax(a, b)_1)"
    a, b, c = 0.1, -0.7, 1.3
    want = math.exp(c) / (math.exp(a) + math.exp(2 * b) + math.exp(c)) + math.log(math.exp(a) / (math.exp(a) + math.exp(b)))
    assert net.predict({"a": a, "b": b, "c": c}) == pytest.approx(want, rel=1e-12)
    sn.seed(2)
    clf = sn.compile(sn.Softmax(sn.Dense([sn.Input("x1"), sn.Input("x2")], 3)))
    for model in (clf, clf.with_loss("cross_entropy", 1)):
        text = model.funcify(layers=True)
        again = sn.compile(sn.parse(text, inputs=model.input_names,
                                    values={p.name: p.value for p in model.parameters}))
        assert again.funcify(layers=True) == text
        point = {n: 0.3 - 0.2 * i for i, n in enumerate(model.input_names)}
        assert again.predict(point) == pytest.approx(model.predict(point), rel=1e-12)


@pytest.mark.parametrize("text, message", [
    ("softmax(a, b)", "is a vector: pick output k"),
    ("softmax(a, b) + 1", "is a vector: pick output k"),
    ("softmax(a, b)_3", "output index must be from 1 to 2"),
    ("softmax(a, b)_0", "is a vector: pick output k"),
    ("softmax()_1", "at least 1 argument"),
    ("softmax(a, b) _x", "is a vector: pick output k"),
    ("a _1", "operator is missing"),
])
def test_softmax_subscript_errors(text, message):
    with pytest.raises(sn.FormulaError, match=message):
        sn.parse(text, inputs=["a", "b"])


def test_a_softmax_vector_is_defined_by_name_and_used_by_its_outputs():
    # the layered form of a cross-entropy from the logits: p = softmax(z), L = -log(p_c)
    text = "z1 = 2*a\nz2 = a - b\np = softmax(z1, z2, b)\nL = -log(p_2)"
    net = sn.compile(sn.parse(text, inputs=["a", "b"]))
    assert net.funcify(layers=True) == text
    ops = [n.op for n in net.program.nodes if n.kind == "op"]
    assert "log_softmax" in ops and "log" not in ops  # log of a softmax output: the row's stable log_op
    a, b = 800.0, -3.0  # large logits: the stable form has no overflow or log(0)
    z = [2 * a, a - b, b]
    assert net.predict({"a": a, "b": b}) == pytest.approx(-(z[1] - max(z) - math.log(sum(math.exp(v - max(z)) for v in z))))
    two = sn.compile(sn.parse("p = softmax(a, b)", inputs=["a", "b"]))
    assert two.funcify(layers=True) == "p_1 = softmax(a, b)_1\np_2 = softmax(a, b)_2\np_1, p_2"
    assert sum(two.predict({"a": 0.3, "b": -0.1})) == pytest.approx(1.0)


@pytest.mark.parametrize("text, message", [
    ("p = softmax(a, b)\np + 1", "'p' is a vector: use its outputs p_1 .. p_2"),
    ("p = softmax(a, b)\np_3", "'p' is a vector: use its outputs p_1 .. p_2"),
    ("p_1 = a\np = softmax(a, b)\np_1", "'p_1' is already a name defined"),
    ("p = softmax(a, b)\np = a\np_1", "'p' is already a vector defined"),
    ("p = softmax()\np_1", "operand is expected"),
    ("p = softmax(a, b) + 1\np_1", "is a vector: pick output k"),
])
def test_softmax_vector_errors(text, message):
    with pytest.raises(sn.FormulaError, match=message):
        sn.parse(text, inputs=["a", "b"])


# -- a formula's exponent keeps the exact rational of its text (issue 13 item 1) --------------


@pytest.mark.parametrize("text, exact, value", [
    ("w**(1/3)", Fraction(1, 3), 1 / 3), ("w**0.1", Fraction(1, 10), 0.1), ("w**(-2/3)", Fraction(-2, 3), -2 / 3),
    ("w**(1/3 - 1)", Fraction(-2, 3), 1 / 3 - 1), ("w^-0.5", Fraction(-1, 2), -0.5),
    ("w**(2**-3/3)", Fraction(1, 24), 2**-3 / 3),
])
def test_an_exponent_carries_the_exact_rational_of_its_text(text, exact, value):
    node = parse(text)
    assert node.op == "pow"
    assert float(node.attr) == value  # the engine's float: the arithmetic of the floats, as before
    assert node.attr.exact == exact


def test_an_exact_number_compares_as_its_float():
    third = parse("w**(1/3)").attr
    # ==, hash and order are the float's (attr == 0.1 reads as a user expects); the exact value is apart
    assert third == 1 / 3 and hash(third) == hash(1 / 3) and third < 0.34 and abs(third) == 1 / 3
    assert third.exact == Fraction(1, 3) != Fraction(1 / 3)
    assert parse("w**0.1").attr == 0.1


def test_gradient_exports_never_mix_an_exact_exponent_with_its_float():
    w = sn.Parameter(1.0, name="w")
    formula, built = sn.compile(parse("w**(1/3)")), sn.compile(w ** (1 / 3))
    binary = sympy.Rational(*(1 / 3).as_integer_ratio())
    for first, second in ((formula, built), (built, formula)):  # whichever fills the caches first
        a, b = first.gradient_sympy("w"), second.gradient_sympy("w")
        assert a != b
    ws = sympy.Symbol("w", real=True)
    assert formula.gradient_sympy("w") == ws ** sympy.Rational(-2, 3) / 3
    assert built.gradient_sympy("w") == binary * ws ** (binary - 1)
    assert formula.gradient_latex("w").count("w^{2/3}") == 1
    assert "0.666" in built.gradient_latex("w")


def test_an_exact_number_survives_copy_and_pickle():
    import copy
    import pickle

    node = parse("w**(1/3)")
    for twin in (copy.deepcopy(node), pickle.loads(pickle.dumps(node.attr)), copy.copy(node.attr)):
        attr = twin.attr if isinstance(twin, sn.Node) else twin
        assert attr.exact == Fraction(1, 3) and float(attr) == 1 / 3


def test_a_fractional_exponent_prints_and_reads_back_as_written():
    for text, latex in (("w**(1/3)", "w^{1/3}"), ("w**(-1/3)", "w^{-1/3}"), ("(w + 1)**(2/7)", r"\left(w + 1\right)^{2/7}")):
        net = sn.compile(parse(text))
        assert net.funcify() == text and net.latex().endswith(latex)
        assert parse(net.funcify()).attr.exact == parse(text).attr.exact
    # decimal exponents and Python floats print as before
    assert sn.compile(parse("w**0.1")).funcify() == "w**0.1"
    assert sn.compile(sn.Parameter(1.0, name="w") ** (1 / 3)).funcify() == "w**0.3333333333333333"
