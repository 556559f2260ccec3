"""The symnet command: every subcommand, exit codes 0/1/2, one-line errors, model arguments."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap

import pytest

import symnet as sn
from symnet.cli import main
from symnet.emit.render import format_number
from symnet.progress import Progress

HAS_PARSE = hasattr(sn, "parse")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def model_file(tmp_path):
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
    path = tmp_path / "net.json"
    sn.save((w * x + b).sigmoid(), path)
    return str(path)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    code = """
        import symnet as sn
        x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        square = (w * x) ** 2
        net = sn.compile(square)
        nets = {"a": 1}
        not_a_model = 42
    """
    path = tmp_path / "mymodel.py"
    path.write_text(textwrap.dedent(code))
    monkeypatch.chdir(tmp_path)
    return path


# -- help and usage ------------------------------------------------------------------------

COMMANDS = ["formula", "grad", "check", "verify", "report", "demo", "ops"]


@pytest.mark.parametrize("command", [c for c in COMMANDS])
def test_every_subcommand_has_help(capsys, command):
    from symnet.cli import build_parser

    known = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    if command not in known:
        pytest.skip(f"'{command}' is not wired yet (its API has not landed)")
    code, out, err = run(capsys, command, "--help")
    assert code == 0 and f"usage: symnet {command}" in out and err == ""


def test_top_level_help_and_usage_errors(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "formula" in out and "exit status" in out
    code, _, err = run(capsys)
    assert code == 2 and "required: COMMAND" in err
    code, _, err = run(capsys, "nonsense")
    assert code == 2 and "invalid choice" in err
    code, _, err = run(capsys, "formula", "x.json", "--digits", "many")
    assert code == 2 and "expected a whole number of digits" in err
    code, _, err = run(capsys, "formula", "x.json", "--latex", "--sympy")
    assert code == 2 and "not allowed with" in err


def test_python_m_symnet_help():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(sn.__file__)))
    done = subprocess.run([sys.executable, "-m", "symnet", "--help"], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "usage: symnet" in done.stdout


# -- model arguments and errors ----------------------------------------------------------------


def test_missing_file_is_one_line_error(capsys, tmp_path):
    code, out, err = run(capsys, "formula", str(tmp_path / "nope.json"), "--latex")
    assert code == 2 and out == ""
    assert "cannot read" in one_line_error(err)


def test_malformed_file_is_one_line_error(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "symnet", "version": 99}')
    code, _, err = run(capsys, "check", str(path))
    assert code == 2 and "unsupported format version 99" in one_line_error(err)


def test_debug_shows_traceback(capsys, tmp_path):
    code, _, err = run(capsys, "formula", str(tmp_path / "nope.json"), "--latex", "--debug")
    assert code == 2 and "Traceback" in err and err.strip().endswith("No such file or directory")


def test_module_attribute_models(capsys, user_module):
    code, out, _ = run(capsys, "formula", "mymodel.py:square", "--latex")
    assert code == 0 and out.strip() == r"\left(w x\right)^{2}"
    code, out, _ = run(capsys, "formula", "mymodel:net", "--latex")
    assert code == 0 and out.strip() == r"\left(w x\right)^{2}"
    for spec, message in [("mymodel.py:missing", "has no attribute 'missing'"),
                          ("mymodel.py:not_a_model", "is a int, not a symnet node"),
                          ("nosuchmodule:net", "cannot import module 'nosuchmodule'"),
                          ("nofile.py:net", "no such Python file 'nofile.py'")]:
        code, _, err = run(capsys, "formula", spec, "--latex")
        assert code == 2 and message in one_line_error(err), spec


def test_user_module_that_fails_on_import(capsys, tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "formula", "broken.py:net")
    assert code == 2 and "importing 'broken.py' failed: RuntimeError: boom" in one_line_error(err)


@pytest.mark.parametrize("argv, message", [
    (["check", "{model}", "--at", "x"], "expected NAME=VALUE pairs"),
    (["check", "{model}", "--at", "x=nan"], "'nan' is not a finite number"),
    (["check", "{model}", "--at", "x=1,x=2"], "'x' is given twice"),
    (["check", "{model}", "--target", "1"], "--target needs --loss"),
    (["grad", "{model}", "--wrt", "q"], "'q' is not an input or parameter"),
    (["grad", "{model}", "--wrt", "w", "--loss", "cross_entropy", "--target", "a"], "CLASS_INDEX"),
])
def test_bad_options_are_one_line_errors(capsys, model_file, argv, message):
    code, _, err = run(capsys, *[a.format(model=model_file) for a in argv])
    assert code == 2 and message in one_line_error(err)


# -- formula strings ------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_PARSE, reason="symnet.parse has not landed")
def test_formula_string_models(capsys):
    code, out, _ = run(capsys, "formula", "sigmoid(w*x + b)", "--inputs", "x", "--latex")
    assert code == 0 and out == "\\sigma\\left(w x + b\\right)\n"
    code, out, _ = run(capsys, "formula", "sigmoid(w*x + b)", "--inputs", "x", "--set", "w=0.5,b=1", "--digits", "3")
    assert code == 0 and out == "sigmoid(0.5*x + 1)\n"
    first = run(capsys, "formula", "tanh(w*x)", "--inputs", "x", "--digits", "6")
    assert first == run(capsys, "formula", "tanh(w*x)", "--inputs", "x", "--digits", "6")  # deterministic


@pytest.mark.skipif(not HAS_PARSE, reason="symnet.parse has not landed")
@pytest.mark.parametrize("formula", ["__import__('os').system('touch pwned')", "x.__class__", "w*x +", "exec(x)",
                                     "(" * 500 + "x" + ")" * 500, "x" * 5000, "lambda: 1"])
def test_hostile_formulas_are_one_line_errors(capsys, tmp_path, monkeypatch, formula):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "formula", formula, "--inputs", "x")
    assert code == 2 and out == "" and one_line_error(err)
    assert not (tmp_path / "pwned").exists()


def test_set_changes_parameters_of_files_and_modules(capsys, model_file, user_module):
    code, out, _ = run(capsys, "formula", model_file, "--set", "w=2,b=0", "--digits", "3")
    assert code == 0 and out == "sigmoid(2*x + 0)\n"
    code, _, err = run(capsys, "formula", model_file, "--set", "q=1")
    assert code == 2 and "'q' is not a parameter of the model" in one_line_error(err)
    code, _, err = run(capsys, "formula", "mymodel.py:net", "--inputs", "x")
    assert code == 2 and "--inputs is only for formula strings" in one_line_error(err)


# -- formula -----------------------------------------------------------------------------------


def test_formula_latex_from_file(capsys, model_file):
    code, out, err = run(capsys, "formula", model_file, "--latex")
    assert (code, out, err) == (0, "\\sigma\\left(w x + b\\right)\n", "")
    code, out, _ = run(capsys, "formula", model_file, "--latex", "--digits", "2")
    assert code == 0 and out.strip() == r"\sigma\left(0.5 x + 0.25\right)"


# -- grad ---------------------------------------------------------------------------------------


def test_grad_text_and_latex(capsys, model_file):
    code, out, _ = run(capsys, "grad", model_file, "--wrt", "b")
    assert code == 0 and out == "(1 - sigmoid(w*x + b))*sigmoid(w*x + b)\n"  # written with the op's name
    code, out, _ = run(capsys, "grad", model_file, "--wrt", "w", "--loss", "mse", "--target", "t", "--latex")
    assert code == 0 and "t" in out and "\\" in out


def test_grad_with_numeric_target(capsys, user_module):
    code, out, _ = run(capsys, "grad", "mymodel.py:square", "--wrt", "w", "--loss", "mse", "--target", "1")
    assert code == 0 and out.strip() == "4*w*x**2*((w*x)**2 - 1)"
    code, out, _ = run(capsys, "grad", "mymodel.py:square", "--wrt", "w", "--loss", "mse", "--target", "1",
                       "--digits", "3")
    assert code == 0 and out.strip() == "8*x**2*((2*x)**2 - 1)"


def test_grad_of_a_deep_network_uses_the_let_form(capsys, tmp_path):
    sn.seed(1)
    path = tmp_path / "deep.json"
    sn.save(sn.MLP(2, [3] * 12 + [1], activation="tanh"), path)
    code, out, _ = run(capsys, "grad", str(path), "--wrt", "w1_1_1", "--loss", "mse")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("z1_1 = ") and lines[-1].startswith("d L / d w1_1_1 = ")
    code, out, _ = run(capsys, "grad", str(path), "--wrt", "b13_1", "--latex")
    assert code == 0 and out.startswith("\\begin{aligned}")


def test_grad_of_a_vector_network_needs_an_output(capsys, tmp_path):
    sn.seed(2)
    path = tmp_path / "vec.json"
    sn.save(sn.MLP(2, [2, 3], output_activation="softmax"), path)
    code, _, err = run(capsys, "grad", str(path), "--wrt", "b2_1")
    assert code == 2 and "choose one with --output-index K (0 to 2)" in one_line_error(err)
    code, out, _ = run(capsys, "grad", str(path), "--wrt", "b2_1", "--output-index", "2", "--latex")
    assert code == 0 and "\\hat{y}_{3}" in out
    code, alias, _ = run(capsys, "grad", str(path), "--wrt", "b2_1", "--output", "2", "--latex")  # the old spelling
    assert code == 0 and alias == out
    code, _, err = run(capsys, "grad", str(path), "--wrt", "b2_1", "--output-index", "3")
    assert code == 2 and "--output-index 3 is out of range" in one_line_error(err)
    code, out, _ = run(capsys, "grad", str(path), "--wrt", "b2_1", "--loss", "cross_entropy", "--target", "0")
    assert code == 0 and out.strip()


# -- check ---------------------------------------------------------------------------------------


def test_check_passes_with_table(capsys, model_file):
    code, out, err = run(capsys, "check", model_file, "--at", "x=1.5")
    assert code == 0 and err == ""
    assert "gradient check ok" in out and "PASS" in out and "FAIL" not in out


def test_check_with_loss_and_random_points(capsys, model_file):
    code, out, _ = run(capsys, "check", model_file, "--loss", "bce", "--target", "1", "--points", "2", "--seed", "4")
    assert code == 0 and "seed 4" in out


def test_check_fails_with_exit_1_on_a_wrong_derivative(capsys, user_module, monkeypatch):
    name = "badsq_cli"
    if name not in sn.OPS:
        sn.define_op(name, 1, forward=lambda v: v * v, partials=lambda v: (3 * v,), sympy=lambda e: e ** 2)
    (user_module.parent / "wrong.py").write_text(textwrap.dedent(f"""
        import symnet as sn
        x, w = sn.Input("x"), sn.Parameter(0.7, name="w")
        net = sn.graph.Node.apply("{name}", (w * x,))
    """))
    code, out, err = run(capsys, "check", "wrong.py:net", "--at", "x=1.3")
    assert code == 1 and "FAIL" in out and err == ""


# -- verify -------------------------------------------------------------------------------------------

needs_parse = pytest.mark.skipif(not HAS_PARSE, reason="symnet.parse has not landed")


@needs_parse
def test_verify_right_and_wrong_claims(capsys, model_file):
    code, out, _ = run(capsys, "verify", "w*x + b", "--inputs", "x", "--wrt", "w", "--claim", "x")
    assert code == 0 and "correct" in out
    code, out, err = run(capsys, "verify", "w*x + b", "--inputs", "x", "--loss", "mse", "--wrt", "w",
                         "--claim", "(w*x + b - y)*x")
    assert code == 1 and "WRONG" in out and "counterexample" in out and err == ""
    code, out, _ = run(capsys, "verify", "w*x + b", "--inputs", "x", "--loss", "mse", "--wrt", "w",
                       "--claim", "2*(w*x + b - y)*x")
    assert code == 0


@needs_parse
def test_verify_hostile_claim_is_refused(capsys, model_file, tmp_path):
    sentinel = tmp_path / "pwned"
    claim = f"__import__('os').system('touch {sentinel}')"
    code, _, err = run(capsys, "verify", model_file, "--wrt", "w", "--claim", claim)
    assert code == 2 and one_line_error(err) and not sentinel.exists()


# -- report -------------------------------------------------------------------------------------------


def test_report_writes_tex_and_exercise(capsys, model_file, tmp_path):
    out_tex = tmp_path / "out.tex"
    code, out, err = run(capsys, "report", model_file, "--at", "x=2", "--loss", "mse", "--target", "1",
                         "-o", str(out_tex), "--lr", "0.1")
    assert code == 0 and out == f"wrote {out_tex}\n" and err == ""
    tex = out_tex.read_text()
    assert tex.startswith("\\documentclass") and "\\end{document}" in tex
    code, out, _ = run(capsys, "report", model_file, "--at", "x=2", "-o", str(tmp_path / "ex.tex"), "--exercise")
    assert code == 0 and (tmp_path / "ex-key.tex").exists()


def test_report_needs_numeric_target(capsys, model_file, tmp_path):
    code, _, err = run(capsys, "report", model_file, "--at", "x=2", "--loss", "mse", "--target", "t",
                       "-o", str(tmp_path / "r.tex"))
    assert code == 2 and "--target must be a number" in one_line_error(err)
    assert not (tmp_path / "r.tex").exists()


def test_report_blank_writes_a_sheet_and_its_key(capsys, model_file, tmp_path):
    sheet = tmp_path / "sheet.tex"
    code, out, err = run(capsys, "report", model_file, "--at", "x=2", "--loss", "mse", "--target", "1",
                         "--lr", "0.1", "-o", str(sheet), "--blank", "backward:w,update")
    assert code == 0 and err == "" and out.split() == ["wrote", str(sheet), "wrote", str(tmp_path / "sheet-key.tex")]
    loss_net, feed = sn.worked.with_loss(sn.load(model_file), {"x": 2.0}, 1.0, "mse")
    grad_w = format_number(loss_net.gradients(feed)["w"], 4, latex=True)
    assert grad_w not in sheet.read_text() and rf"\boxed{{{grad_w}}}" in (tmp_path / "sheet-key.tex").read_text()


@pytest.mark.parametrize("blank, message", [
    ("nope", "cannot blank 'nope': use a part (forward, loss, backward, update), a name (L, b, w, yhat, z)"),
    ("sideways:w", "cannot blank 'sideways:w': use a part (forward, loss, backward, update)"),
    ("backward,", "the parts are forward, loss, backward, update"),
])
def test_report_bad_blank_names_the_valid_parts(capsys, model_file, tmp_path, blank, message):
    code, _, err = run(capsys, "report", model_file, "--at", "x=2", "--loss", "mse", "--target", "1",
                       "-o", str(tmp_path / "s.tex"), "--blank", blank)
    assert code == 2 and message in err
    assert os.listdir(tmp_path) == ["net.json"]  # nothing written


def test_report_of_a_vector_network_takes_an_output_index(capsys, tmp_path):
    sn.seed(2)
    path = tmp_path / "vec.json"
    sn.save(sn.MLP(2, [2, 3], output_activation="softmax"), path)
    args = ("report", str(path), "--at", "x1=0.5,x2=-1", "-o", str(tmp_path / "r.tex"))
    code, _, err = run(capsys, *args)
    assert code == 2 and "choose one with --output-index K (0 to 2) or put a loss on top with --loss" in one_line_error(err)
    code, out, _ = run(capsys, *args, "--output-index", "2")
    tex = (tmp_path / "r.tex").read_text()
    assert code == 0 and r"Backpropagation from the output $\hat{y}_{3}$ down" in tex
    code, _, err = run(capsys, *args, "--output-index", "3")
    assert code == 2 and "--output-index 3 is out of range: the network has 3 output(s) (0 to 2)" in err
    code, _, err = run(capsys, *args, "--output-index", "1", "--loss", "cross_entropy", "--target", "1")
    assert code == 2 and "with --loss the report differentiates the loss" in err


def test_every_option_an_error_message_names_exists(capsys, tmp_path):
    """The CLI's errors name CLI options (never the API's output=k), and each named option is accepted."""
    from symnet.cli import build_parser

    sn.seed(2)
    path = tmp_path / "vec.json"
    sn.save(sn.MLP(2, [2, 3], output_activation="softmax"), path)
    report = ["report", str(path), "--at", "x1=0.5,x2=-1", "-o", str(tmp_path / "r.tex")]
    runs = [["grad", str(path), "--wrt", "b2_1"], ["grad", str(path), "--wrt", "b2_1", "--output-index", "7"],
            report, report + ["--output-index", "3"], report + ["--output-index", "0", "--loss", "mse", "--target", "1"],
            report + ["--loss", "mse"], report + ["--loss", "mse", "--target", "t"],
            ["verify", str(path), "--wrt", "b2_1", "--claim", "0"],
            ["verify", str(path), "--wrt", "b2_1", "--claim", "0", "--output-index", "3"],
            ["verify", str(path), "--wrt", "b2_1", "--claim", "0", "--output-index", "0", "--loss", "mse"]]
    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    for argv in runs:
        code, _, err = run(capsys, *argv)
        message = one_line_error(err)
        named = re.findall(r"--[a-z][a-z-]*", message)
        assert code == 2 and named and "output=k" not in message, message
        accepted = {o for a in subparsers[argv[0]]._actions for o in a.option_strings}
        assert set(named) <= accepted, (argv, named)


@pytest.mark.skipif(__import__("shutil").which("pdflatex") is None, reason="pdflatex not installed")
def test_report_pdf(capsys, model_file, tmp_path):
    code, out, _ = run(capsys, "report", model_file, "--at", "x=2", "-o", str(tmp_path / "r.tex"), "--pdf")
    assert code == 0 and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


# -- demo ----------------------------------------------------------------------------------------------


def test_demo_prints_formulas_and_gradients(capsys):
    code, out, err = run(capsys, "demo")
    assert code == 0 and err == ""
    assert "Fahrenheit" in out and "w*F + b" in out and "d/dw" in out and "relu" in out


# -- ops --------------------------------------------------------------------------------------------


def test_ops_table_lists_every_op(capsys):
    code, out, _ = run(capsys, "ops")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["op", "arity", "formula", "derivative"]
    for name, row in sn.OPS.items():
        line = next(line for line in lines if line.split()[0] == name)
        assert row.derivative in line and row.doc in line


# -- progress ----------------------------------------------------------------------------------------


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_only_on_a_terminal():
    tty = FakeTTY()
    with Progress("train", total=4, stream=tty, interval=0) as bar:
        for _ in range(4):
            bar.advance()
    assert "train [########################] 4/4" in tty.getvalue()
    assert tty.getvalue().endswith("\r")  # the line is erased
    piped = io.StringIO()
    with Progress("train", total=4, stream=piped) as bar:
        bar.advance(4)
    assert piped.getvalue() == ""


def test_spinner_without_total():
    tty = FakeTTY()
    with Progress("checking", stream=tty, interval=0.01):
        import time

        time.sleep(0.1)
    assert "checking" in tty.getvalue()


def test_check_is_quiet_when_piped(capsys, model_file):
    code, _, err = run(capsys, "check", model_file, "--at", "x=1")
    assert code == 0 and err == ""


# -- issue 15: --version, convert, ops by formula, torch modules and micrograd values ----


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"symnet {sn.__version__}"


def test_convert_a_formula_with_an_op_defined_by_formula_and_load_it_in_a_fresh_process(capsys, tmp_path):
    path = tmp_path / "m.json"
    code, out, _ = run(capsys, "convert", "swish_cli_a(w*x) + abs(x)", "--inputs", "x", "--set", "w=2",
                       "--op", "swish_cli_a(a)=a*sigmoid(a)", "-o", str(path))
    assert code == 0 and out.strip() == f"wrote {path}"
    script = f"import symnet as sn; print(sn.load({str(path)!r}).funcify())"
    fresh = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=os.getcwd())
    assert fresh.stdout.strip() == "swish_cli_a(w*x) + abs(x)", fresh.stderr
    fresh = subprocess.run([sys.executable, "-m", "symnet", "ops", str(path)], capture_output=True, text=True,
                           cwd=os.getcwd())
    assert "swish_cli_a  1      user-defined: a*sigmoid(a)" in fresh.stdout, fresh.stderr
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0


def test_ops_lists_user_ops_and_bad_op_options_are_one_line_errors(capsys):
    code, out, _ = run(capsys, "ops", "--op", "bump_cli(a, b)=a*exp(-b**2)")
    assert code == 0 and "bump_cli" in out and "leaky_relu" in out and "gelu" in out
    for spec, message in [("bump_cli2(x)=x", "operands must be a"), ("nothing", "expected NAME"),
                          ("tanh(a)=a", "built-in op"), ("bump_cli(a, b)=a", "defined differently")]:
        code, _, err = run(capsys, "ops", "--op", spec)
        assert code == 2 and message in one_line_error(err), (spec, err)


def test_callable_ops_cannot_be_converted(capsys, tmp_path):
    py = tmp_path / "cube_model.py"
    py.write_text(textwrap.dedent("""
        import symnet as sn
        cube = sn.define_op("cube_cli_model", 1, forward=lambda v: v ** 3, partials=lambda v: (3 * v * v,),
                            sympy=lambda e: e ** 3)
        net = cube(sn.Input("x"))
    """))
    code, _, err = run(capsys, "convert", f"{py}:net", "-o", str(tmp_path / "c.json"))
    assert code == 2 and "op 'cube_cli_model' is defined by Python callables" in one_line_error(err)
    assert "formula=" in err and not (tmp_path / "c.json").exists()


def test_torch_module_and_micrograd_value_from_a_python_file(capsys, tmp_path):
    pytest.importorskip("torch")
    py = tmp_path / "tmodel.py"
    py.write_text(textwrap.dedent("""
        import torch
        from torch import nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.1), nn.Linear(3, 2), nn.Softmax(dim=1)).eval()
        broken = nn.Sequential(nn.Linear(2, 2), nn.Conv1d(1, 1, 1))

        from symnet.micrograd import Value
        x, w, b = Value(0.5, label="x"), Value(-1.5, label="w"), Value(0.25, label="b")
        value = (w * x + b).tanh()
    """))
    code, out, _ = run(capsys, "formula", f"{py}:net", "--layers")
    assert code == 0 and "leaky_relu(z1_1, 0.1)" in out
    code, out, _ = run(capsys, "check", f"{py}:net")
    assert code == 0 and "FAIL" not in out
    code, out, _ = run(capsys, "grad", f"{py}:value", "--wrt", "w")
    assert code == 0 and "tanh" in out
    code, out, _ = run(capsys, "formula", f"{py}:value")
    assert code == 0 and out.strip() == "tanh(w*x + b)"
    code, _, err = run(capsys, "formula", f"{py}:broken")
    assert code == 2 and "module 1 (Conv1d): unsupported module" in one_line_error(err)
    path = tmp_path / "t.json"
    code, out, _ = run(capsys, "convert", f"{py}:net", "-o", str(path))
    assert code == 0 and sn.load(path).n_outputs == 2
    code, out, _ = run(capsys, "report", f"{py}:value", "--at", "", "-o", str(tmp_path / "r.tex"))  # no inputs
    assert code == 0 and (tmp_path / "r.tex").exists()


def test_verify_of_a_vector_network_takes_an_output_index(capsys, tmp_path):
    sn.seed(2)
    path = tmp_path / "vec.json"
    sn.save(sn.MLP(2, [2, 2], activation="tanh"), path)
    args = ("verify", str(path), "--wrt", "b2_2")
    code, _, err = run(capsys, *args, "--claim", "1")
    assert code == 2 and "choose one with --output-index K (0 to 1)" in one_line_error(err)
    code, out, _ = run(capsys, *args, "--claim", "1", "--output-index", "1")  # d(z2_2)/d(b2_2) = 1
    assert code == 0 and " is correct" in out.splitlines()[0]
    code, _, err = run(capsys, *args, "--claim", "0", "--output-index", "0")  # output 0 does not use b2_2
    assert code == 2 and "wrt='b2_2' is not a variable of the model" in one_line_error(err)
    claim = "w2_1_2*x1*(1 - tanh(w1_1_1*x1 + w1_1_2*x2 + b1_1)**2)"  # a wrong weight
    code, out, _ = run(capsys, "verify", str(path), "--wrt", "w1_1_1", "--claim", claim, "--output-index", "0")
    assert code == 1 and "WRONG" in out and "expected (SymPy): w2_1_1*x1*" in out
    assert out.startswith("d/dw1_1_1 of w2_1_1*tanh(")  # the model, never the derivative, labels the verdict
    right = "w2_2_1*x1*(1 - tanh(w1_1_1*x1 + w1_1_2*x2 + b1_1)**2)"
    code, out, _ = run(capsys, "verify", str(path), "--wrt", "w1_1_1", "--claim", right, "--output-index", "1")
    assert code == 0 and " is correct" in out.splitlines()[0]


def test_a_vector_network_takes_one_target_per_output(capsys, tmp_path):
    sn.seed(2)
    path = tmp_path / "vec.json"
    sn.save(sn.MLP(2, [2, 3], output_activation="sigmoid"), path)
    args = ("grad", str(path), "--wrt", "b2_1", "--loss", "mse")
    code, _, err = run(capsys, *args, "--target", "1")  # never silently the target of every output
    assert code == 2 and "--target gives 1 value(s) for the network's 3 output(s); give 3" in one_line_error(err)
    code, out, _ = run(capsys, *args, "--target", "0,1,0", "--form", "inline")
    net = sn.load(path).with_loss("mse", [0.0, 1.0, 0.0])
    from symnet.gradtext import gradient_text
    assert code == 0 and out.strip() == gradient_text(net, "b2_1")  # the CLI and the API agree
    code, _, err = run(capsys, *args, "--target", "0,1")
    assert code == 2 and "gives 2 value(s)" in err


def test_the_default_target_name_avoids_the_model_s_names(capsys):
    code, out, err = run(capsys, "grad", "sigmoid(w*y + b)", "--inputs", "y", "--wrt", "w", "--loss", "mse")
    assert code == 0 and "target" in out and "'y'" not in err  # y is the model's input: the target is 'target'
    code, _, err = run(capsys, "grad", "w*x", "--inputs", "x", "--wrt", "w", "--latex", "--sympy")
    assert code == 2 and "not allowed with argument" in err  # one output kind at a time


@pytest.mark.parametrize("extra, message", [
    (["--loss", "bce", "--target", "7"], "which --loss does not apply to"),
    (["--set", "b=1"], "which --set does not apply to"),
    (["--shape", "W=3x2"], "--shape gives 'W' twice (W=2x3, W=3x2)"),
])
def test_verify_with_shapes_refuses_what_it_would_ignore(capsys, extra, message):
    args = ["verify", "sum(W@x + b)", "--inputs", "x", "--wrt", "W", "--claim", "x.T + 0*W",
            "--shape", "W=2x3", "--shape", "x=3x1", "--shape", "b=2x1"]
    code, _, err = run(capsys, *args, *extra)
    assert code == 2 and message in one_line_error(err)


def test_report_takes_steps_and_the_matrix_form(capsys, tmp_path):
    sn.seed(0)
    path = tmp_path / "mlp.json"
    sn.save(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"), path)
    args = ("report", str(path), "--at", "x1=0.5,x2=-1", "--loss", "bce", "--target", "1")
    code, out, _ = run(capsys, *args, "--lr", "0.5", "--steps", "4", "--form", "matrix", "-o", str(tmp_path / "r.tex"))
    tex = (tmp_path / "r.tex").read_text()
    assert code == 0 and "\\usepackage{pgfplots}" in tex and "4 steps of gradient descent" in tex
    assert "bmatrix" in tex and "W^{(1)}" in tex
    code, _, err = run(capsys, *args, "--steps", "4", "-o", str(tmp_path / "s.tex"))
    assert code == 2 and "give --lr ETA" in one_line_error(err) and not (tmp_path / "s.tex").exists()
    code, _, err = run(capsys, *args, "--form", "tensor", "-o", str(tmp_path / "s.tex"))
    assert code == 2 and "invalid choice" in err


def test_grad_refuses_an_output_index_with_a_loss(capsys):
    """As verify and report do: with --loss there is one output, the loss."""
    code, _, err = run(capsys, "grad", "w*x", "--inputs", "x", "--wrt", "w", "--loss", "mse", "--target", "1",
                       "--output-index", "0")
    assert code == 2 and "with --loss grad differentiates the loss" in one_line_error(err)
