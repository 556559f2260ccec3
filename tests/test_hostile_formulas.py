"""Hostile inputs, part 3: formula strings (F1-F20) for the parser and the hand-derivative
checker, one test per row of research/reliability.md part (b); the parser fuzzed with
arbitrary text; printing and parsing back a random network gives the same values.

A teacher pasting students' formulas must never run their code: the sentinel
tests try to create a file from formula text through every door (the parser, the
derivative checker's model and claim, the command line) and assert it never
appears.
"""

from __future__ import annotations

import ast
import math
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from randgraph import random_dag

import symnet as sn
from symnet.cli import main

MODEL = "(w*x + b - y)**2"  # d/dw = 2*(w*x + b - y)*x
INPUTS = ["x", "y"]


def parse_error(text, **options):
    with pytest.raises(sn.FormulaError) as info:
        sn.parse(text, inputs=INPUTS, **options)
    assert isinstance(info.value, ValueError)
    return str(info.value)


# -- F1-F5: code never runs ---------------------------------------------------------------

SENTINEL = "SENTINEL_CREATED"
CODE = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"open('{SENTINEL}', 'w')",
    f"exec(\"open('{SENTINEL}', 'w')\")",
    f"eval(\"open('{SENTINEL}', 'w')\")",
    f"().__class__.__mro__[1].__subclasses__()[0]('{SENTINEL}')",
    f"x.__new__.__globals__['__builtins__']['open']('{SENTINEL}', 'w')",
    f"(lambda: open('{SENTINEL}', 'w'))()",
    f"[open('{SENTINEL}', 'w') for c in (1,)]",
    f"f'{{open(\"{SENTINEL}\", \"w\")}}'",
    f"x; import os; os.system('touch {SENTINEL}')",
    f"x\nopen('{SENTINEL}', 'w')",
]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not (tmp_path / SENTINEL).exists(), "a formula ran code"


@pytest.mark.parametrize("text", CODE)
def test_f1_to_f5_code_in_formulas_never_runs(sandbox, text, capsys):
    parse_error(text)
    with pytest.raises(sn.FormulaError):
        sn.check_derivative(text, wrt="x", claimed="1", inputs=INPUTS)
    with pytest.raises(sn.FormulaError):
        sn.check_derivative(MODEL, wrt="w", claimed=text, inputs=INPUTS)
    assert main(["formula", text, "--inputs", "x,y"]) == 2
    assert main(["verify", MODEL, "--inputs", "x,y", "--wrt", "w", "--claim", text]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error: ") == 2


@pytest.mark.parametrize("text, message", [
    ("__import__('os').system('id')", "unknown function '__import__'"),
    ("().__class__.__mro__[1].__subclasses__()", "unexpected '\\)'.*col 2"),
    ("x.__new__.__globals__['__builtins__']", "'\\.' is not allowed.*attribute access.*col 2"),
    ("x.real", "'\\.' is not allowed.*col 2"),
    ("w.__class__", "'\\.' is not allowed.*col 2"),
    ("(lambda: 1)()", "'lambda' is a Python keyword"),
    ("[c for c in ()]", "'\\[' is not allowed"),
    ("f'{x}'", "quotes are not allowed"),
    ("x if x else 1", "'if' is a Python keyword"),
    ("x==1", "comparisons"),
    ("x != 1", "indicators are written"),
    ("x@x", "'@'"),
    ("x; import os", "only the last line may be a bare expression"),
    ("x\n+1", "line 1"),
])
def test_f1_to_f5_messages_name_the_construct_or_column(text, message):
    import re

    assert re.search(message, parse_error(text)), parse_error(text)


def test_f1_symnet_never_evaluates_text():
    # no eval/exec/sympify/parse_expr on user text anywhere in symnet; the one exec
    # compiles generated code (emit/python_load.py) from op rows and validated names
    package = Path(sn.__file__).parent
    allowed_exec = {package / "emit" / "python_load.py"}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                assert name not in ("eval", "sympify", "parse_expr", "lambdify", "literal_eval", "__import__"), \
                    f"{path.name}:{node.lineno} calls {name}"
                builtin_compile = name == "compile" and (len(node.args) >= 3 or any(k.arg == "mode" for k in node.keywords))
                if isinstance(f, ast.Name) and (name == "exec" or builtin_compile):
                    assert path in allowed_exec, f"{path.name}:{node.lineno} calls {name}"


# -- F6-F11: limits ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["9**9**9**9", "2**10**7", "x**(10**100)", "x**65", "x**-65", "2**x"])
def test_f6_f7_exponents_are_small_numeric_constants(text):
    message = parse_error(text)
    assert "exponent" in message


@pytest.mark.parametrize("text", ["factorial(10**6)", "gamma(x)", "sin(x)", "Max(x, 1)"])
def test_f7_only_known_functions(text):
    assert "unknown function" in parse_error(text)


@pytest.mark.parametrize("depth", [65, 201, 10_000])
def test_f8_deep_nesting_is_refused(depth):
    text = "(" * depth + "x" + ")" * depth
    message = parse_error(text, max_length=10 ** 6)
    assert "nesting deeper than 64" in message and "max_depth=" in message
    assert sn.parse("(" * 64 + "x" + ")" * 64, inputs=INPUTS).forward is not None


@pytest.mark.parametrize("text", ["-" * 10_000 + "x", "+".join(["x"] * 100_000), "1" * 5000])
def test_f9_to_f11_long_formulas_are_refused_before_parsing(text):
    message = parse_error(text)
    assert "formula too long" in message and "> 2000 characters" in message and "max_length=" in message


def test_f10_the_node_cap_applies_below_the_length_cap():
    text = "+".join(f"x*{i}" for i in range(3000))  # a name is one node: vary the terms
    message = parse_error(text, max_length=10 ** 5, max_nodes=1000)
    assert "1000" in message and "max_nodes=" in message


def test_f11_long_number_literals_are_refused():
    message = parse_error("1" * 5000, max_length=10 ** 5)
    assert "number literal too long (5000 > 64" in message and "max_number=" in message
    assert sn.parse("1" * 64, inputs=[]).forward() == float("1" * 64)


@pytest.mark.parametrize("text, message", [
    ("", "empty formula"), ("   ", "empty formula"), ("\n\t ", "empty formula"),
    ("\x00x", "control character U\\+0000 at col 1"),
    ("2*(w*x+b-y)*x)", "unexpected '\\)' at col 14"),
    ("2*(w*x+b-y*x", "col"),
    ("w*", "col 3"),
])
def test_f12_empty_and_malformed_formulas(text, message):
    import re

    got = parse_error(text)
    assert re.search(message, got), got


def test_f12_surrounding_whitespace_is_stripped():
    node = sn.parse("  \n w*x  \n", inputs=["x"], values={"w": 2.0, "x": 3.0})
    assert node.forward() == 6.0


# -- F13-F15: names and characters -------------------------------------------------------


@pytest.mark.parametrize("name", ["X", "I", "E", "N", "S", "gamma", "Q", "O"])
def test_f13_unknown_names_in_a_claim_are_refused_listing_the_known(name):
    with pytest.raises(sn.FormulaError) as info:
        sn.check_derivative(MODEL, wrt="w", claimed=f"{name}*x", inputs=INPUTS)
    message = str(info.value)
    assert f"'{name}'" in message and "b, w, x, y" in message


@pytest.mark.parametrize("name", ["I", "E", "N", "S", "gamma"])
def test_f13_names_never_resolve_to_sympy_globals(name):
    # in a model formula every unknown name is a plain parameter, never SymPy's I, E, ...
    node = sn.parse(f"{name}*x", inputs=["x"], values={name: 2.0, "x": 3.0})
    assert node.forward() == 6.0
    assert sn.compile(node).parameter_names == [name]


@pytest.mark.parametrize("name", ["lambda", "pi", "e", "inf", "nan", "import"])
def test_f13_reserved_words_are_refused(name):
    assert repr(name) in parse_error(f"{name}*x") or name in parse_error(f"{name}*x")


@pytest.mark.parametrize("text, code", [
    ("ｘ", "U+FF58"), ("х", "U+0445"), ("∂x", "U+2202"), ("x\u200b", "U+200B"),
    ("x*.\u0663", "U+0663"), (".\u00b2", "U+00B2"), ("x\u00b2", "U+00B2"), ("3\u0663", "U+0663"), ("\u03c3(z)", "U+03C3"),
])
def test_f14_non_ascii_is_reported_never_folded(text, code):
    message = parse_error(text)
    assert "non-ASCII" in message and code in message and "col" in message


def test_f15_caret_means_power_and_is_echoed_as_double_star():
    node = sn.parse("x^2", inputs=["x"], values={"x": 3.0})
    assert node.forward() == 9.0
    assert sn.compile(node).funcify() == "x**2"
    assert sn.parse("2^3^2", inputs=[]).forward() == 2.0 ** 9  # right-associative, like **


# -- F16-F20: the hand-derivative checker's verdicts ------------------------------------


@pytest.mark.parametrize("claim", ["1/(x-x)", "log(w-w)", "1/(w-w) + x"])
def test_f16_a_claim_undefined_everywhere_is_never_pass(claim):
    verdict = sn.check_derivative("w*x", wrt="w", claimed=claim, inputs=["x"])
    assert verdict.verdict == "UNDEFINED" and not verdict.correct
    assert "not finite" in str(verdict)


def test_f16_points_where_the_model_is_undefined_are_resampled():
    # log(w*x) is undefined wherever w*x <= 0, about half of all random points
    verdict = sn.check_derivative("log(w*x)", wrt="w", claimed="1/w", inputs=["x"])
    assert verdict.verdict == "PASS"
    assert len(verdict.points) >= 5
    assert all(p["w"] * p["x"] > 0 for p in verdict.points)
    # and the claims are still probed on both signs
    assert any(p["w"] < 0 for p in verdict.points) and any(p["w"] > 0 for p in verdict.points)


def test_f17_complex_values_are_undefined_not_compared():
    verdict = sn.check_derivative("w", wrt="w", claimed="(w-2)**0.5", inputs=[])
    assert verdict.verdict == "UNDEFINED"
    assert "not real" in str(verdict)


@pytest.mark.parametrize("model, claim", [
    ("sigmoid(z)", "sigmoid(z)*sigmoid(z)"),  # s**2: equal to s*(1-s) at z = 0
    ("tanh(z)", "1 - tanh(z)"),  # equal to 1 - t**2 at z = 0
    ("exp(z)", "z*exp(z)"),  # equal at z = 1
    ("(w*z - 1)**2", "2*(w*z - 1)"),  # the chain factor z dropped: equal at z = 1
])
def test_f18_wrong_rules_that_agree_at_special_points_fail(model, claim):
    wrt = "w" if "w" in model else "z"
    verdict = sn.check_derivative(model, wrt=wrt, claimed=claim, inputs=["z"])
    assert verdict.verdict == "FAIL" and not verdict.correct
    example = verdict.counterexample
    assert example is not None and example.claimed != example.true
    assert "claimed = " in str(example) and "SymPy = " in str(example)
    assert verdict.expected


def test_f18_probe_points_are_seeded_random_of_both_signs_and_every_scale():
    verdict = sn.check_derivative("sigmoid(z)", wrt="z", claimed="sigmoid(z)*(1 - sigmoid(z))", inputs=["z"])
    assert verdict.verdict == "PASS"
    zs = [p["z"] for p in verdict.points]
    assert len(zs) >= 5
    assert any(z > 0 for z in zs) and any(z < 0 for z in zs)
    unit = [p.point["z"] for p in verdict.probes if p.why == "random"]
    assert all(abs(z) >= 0.05 and abs(abs(z) - 1) >= 0.05 for z in unit)  # wrong rules agree at 0 and +-1
    assert min(map(abs, zs)) < 2e-3 and max(map(abs, zs)) > 999  # scales 1e-3 .. 1e3
    assert any("linear region" in p.why for p in verdict.probes)  # sigmoid's argument at 0
    again = sn.check_derivative("sigmoid(z)", wrt="z", claimed="sigmoid(z)*(1 - sigmoid(z))", inputs=["z"])
    assert [p["z"] for p in again.points] == zs


@pytest.mark.parametrize("claim", ["2*x*(w*x+b-y)", "2*(w*x+b-y)*x", "2*w*x^2 + 2*b*x - 2*x*y", "(w*x+b-y)*x*2"])
def test_f19_equivalent_rewrites_pass(claim):
    verdict = sn.check_derivative(MODEL, wrt="w", claimed=claim, inputs=INPUTS)
    assert verdict.verdict == "PASS" and verdict.correct


def test_f20_a_kinked_claim_fails_with_a_counterexample_on_the_other_side():
    verdict = sn.check_derivative("relu(z)", wrt="z", claimed="1", inputs=["z"])
    assert verdict.verdict == "FAIL"
    example = verdict.counterexample
    assert example.point["z"] < 0 and (example.claimed, example.true) == (1.0, 0.0)
    assert all(p["z"] != 0 for p in verdict.points)  # never on the kink itself
    sides = [p.point["z"] for p in verdict.probes if p.why.startswith("kink of")]
    assert sides and min(sides) < 0 < max(sides) and max(map(abs, sides)) < 1e-6  # both sides, close to it


# -- fuzzing and round trips -----------------------------------------------------------------


FORMULA_ALPHABET = st.sampled_from(list("xyzwb0123456789.+-*/^(),;=e _") + ["**", "exp(", "log(", "relu(",
                                                                          "sigmoid(", "tanh(", "max(", "\n"])


@settings(deadline=None, derandomize=True, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), st.lists(FORMULA_ALPHABET, max_size=40).map("".join)))
def test_fuzz_the_parser_accepts_or_raises_a_formula_error(text):
    try:
        node = sn.parse(text, inputs=["x", "y"])
    except sn.FormulaError:
        return
    assert isinstance(node, sn.Node)


@settings(deadline=None, derandomize=True, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_printed_formulas_parse_back_to_the_same_values(data):
    dag = random_dag(data.draw)
    net = sn.compile(dag.root)
    text = net.funcify()
    values = {name: dag.inputs[name] for name in net.input_names}
    params = {net.program.names[i]: net.program.nodes[i].value for i in net.program.parameters}
    back = sn.parse(text, inputs=net.input_names, values={**params, **values})
    again = sn.compile(back)
    a, b = net.predict(values), again.predict(values)
    assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12), (text, a, b)
    assert sorted(again.parameter_names) == sorted(net.parameter_names)


@settings(deadline=None, derandomize=True, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_latex_export_of_random_networks_never_crashes(data):
    dag = random_dag(data.draw)
    net = sn.compile(dag.root)
    for options in ({}, {"layers": True}, {"digits": 3}):
        text = net.latex(**options)
        assert isinstance(text, str) and text
        assert text.count("{") == text.count("}")


# -- issue 16 kind 11: formulas pasted from documents ---------------------------------------------

PASTED_ALPHABET = st.sampled_from(list("xwb0123456789.+-*/()^ ") + [
    "\u2212", "\u00d7", "\u00b7", "\u22c5", "\u00f7", "\u2013", "\u00b2", "\u00b3", "\u0663", "\u06f3", "\uff13",
    "\u00bd", "\u03c3", "\u221a", "\u00a0", "\u2032", "\u200b", "\ufeff", "\u2264", "\u2265", "sigmoid(", "tanh(",
    "relu(", "(x > 0)", "step(", "sqrt(", "abs("])


@settings(deadline=None, derandomize=True, max_examples=300)
@given(st.lists(PASTED_ALPHABET, min_size=1, max_size=24).map("".join))
def test_pasted_text_parses_or_names_the_character(text):
    try:
        sn.parse(text, inputs=["x"])
    except sn.FormulaError as exc:
        message = str(exc)
        bad = [c for c in text if not c.isascii() and c not in "\u2212\u00d7\u00b7\u22c5\u00f7\u2013\u2264\u2265"]
        if bad and "non-ASCII" in message:
            assert f"U+{ord(bad[0]):04X}" in message and "col" in message
    if any(not c.isascii() and unicodedata.numeric(c, None) is not None for c in text):
        with pytest.raises(sn.FormulaError):  # a non-ASCII digit is never read as a number
            sn.parse(text, inputs=["x"])


@settings(deadline=None, derandomize=True, max_examples=40)
@given(st.lists(PASTED_ALPHABET, min_size=1, max_size=16).map("".join))
def test_pasted_claims_give_a_verdict_or_a_symnet_error(text):
    try:
        verdict = sn.check_derivative("w*x", wrt="w", claimed=text, inputs=["x"])
    except sn.SymnetError:
        return
    assert verdict.verdict in ("PASS", "FAIL", "UNDEFINED")


def test_constant_folding_stays_bounded():
    """Exact folding of literals stops at parse.MAX_EXACT_BITS (repeated squaring doubles the digits;
    it hung for minutes): past it the constant is its float, as a Python float constant is."""
    from fractions import Fraction

    def constant_attrs(text):  # a literal's exact value, or None once the fold has dropped it
        p = sn.compile(sn.parse(text, inputs=["x"])).program
        return [p.attrs[i] for i in range(len(p.nodes)) if p.kinds[i] == "constant"]

    net = sn.compile(sn.parse("x*((((1.0000001**64)**64)**64)**64)", inputs=["x"]))
    assert net.predict([1.0]) == pytest.approx(1.0000001 ** (64 ** 4), rel=1e-9)
    assert constant_attrs("x*((((1.0000001**64)**64)**64)**64)") == [None]  # past MAX_EXACT_BITS: its float
    assert constant_attrs("x*(1/3)**3") == [Fraction(1, 27)]  # a small fold stays exact
    lines = ["a0 = 1.0000001"] + [f"a{k} = a{k - 1}*a{k - 1}" for k in range(1, 31)] + ["x*a30"]
    net = sn.compile(sn.parse("\n".join(lines), inputs=["x"]))  # returns at once (30 squarings)
    assert net.predict([1.0]) == pytest.approx(1.0000001 ** (2 ** 30), rel=1e-6)
    v = sn.check_derivative("w*x", "w", "x*((((1.0000001**64)**64)**64)**64)", inputs=["x"])
    assert v.verdict == "FAIL"
    assert sn.check_derivative("w*(1/3)**3", "w", "1/27").verdict == "PASS"  # small folds stay exact
    assert sn.check_derivative("w*(1/3)**3", "w", "0.037037037037037035").verdict == "FAIL"
