"""Reports and snippets compile with real pdflatex (skipped, with the reason, where it is missing)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest

import symnet as sn
from symnet.emit.chainrule import gradient_latex
from symnet.emit.graphs import to_tikz
from symnet.report import latex_report, run_pdflatex, write_report
from symnet.worked import worked_example

PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex is not installed (CI installs texlive-latex-base, texlive-latex-recommended, texlive-pictures)")


def celsius() -> sn.Network:
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-10.0, name="b")
    return sn.compile(w * x + b)


def classifier() -> sn.Network:
    sn.seed(0)
    return sn.compile(sn.MLP(2, [4, 1], output_activation="sigmoid"))


def mlp441() -> sn.Network:
    sn.seed(0)
    return sn.compile(sn.MLP(2, [4, 4, 1]))


def documents() -> dict[str, str]:
    sn.seed(5)
    softmax = sn.compile(sn.MLP(2, [3, 3], output_activation="softmax"))
    return {
        "celsius": latex_report(celsius(), {"x": 100.0}, target=37.78, loss="mse", lr=1e-5),
        "classifier": latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5),
        "mlp441": latex_report(mlp441(), [0.5, -1.0]),
        "exercise": latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5, exercise=True),
        "key": latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5, exercise=True, key=True,
                            title="Sheet 3 & friends: 100% #1 ~ {braces}"),
        "softmax": latex_report(softmax, [0.2, -0.4], target=2, loss="cross_entropy", times=r"\cdot"),
    }


def _wrap(body: str, tikz: bool = False) -> str:
    return ("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n" + ("\\usepackage{tikz}\n" if tikz else "")
            + "\\begin{document}\n" + body + "\n\\end{document}\n")


def snippets() -> dict[str, str]:
    x, w, b = sn.Input("x"), sn.Parameter(-0.5, name="w"), sn.Parameter(1e-7, name="theta")
    every_op = sn.compile(((w * x + b).sigmoid() - (x / w).tanh() * (-x).exp() + (x * x).log() - 2 * x) ** -1
                          + (x * 3).relu() ** 0.5)
    net = classifier()
    loss = sn.compile(sn.bce(sn.MLP(2, [2, 1], output_activation="sigmoid"), sn.Input("y")))
    sn.seed(1)
    vec = sn.compile(sn.Softmax([x * w, x + b, x]))
    cross, dot = r"\times", r"\cdot"
    return {
        "inline": _wrap(rf"\[ {every_op.latex()} \]"),
        "inline-values": _wrap(rf"\[ {every_op.latex(digits=3, times=cross)} \]"),
        "layered": _wrap(rf"\[ {net.latex(layers=True, width=60, times=dot)} \]"),
        "vector": _wrap(rf"\[ {vec.latex()} \]"),
        "gradients": _wrap(rf"\[ {gradient_latex(loss, width=60)} \]"),
        "gradient-every-op": _wrap(rf"\[ {gradient_latex(every_op, ['w', 'theta', 'x'])} \]"),
        "worked": _wrap(worked_example(net, [0.3, 0.8], target=0.0, loss="bce", lr=0.1).latex(blank=["backward"])),
        "tikz": _wrap(to_tikz(celsius(), {"x": 2.0}, grads=[1.0] * 5), tikz=True),
        "repr": _wrap(net._repr_latex_() or ""),
    }


def _compile(tex: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "t.tex"), "w", encoding="utf-8") as fh:
            fh.write(tex)
        proc = subprocess.run([PDFLATEX, "-halt-on-error", "-interaction=nonstopmode", "t.tex"], cwd=tmp,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
        with open(os.path.join(tmp, "t.log"), encoding="latin-1") as fh:
            return proc.returncode, fh.read()


@pytest.fixture(scope="module")
def compiled() -> dict[str, tuple[int, str]]:
    """Every document and snippet compiled once, in parallel."""
    jobs = {f"doc:{k}": v for k, v in documents().items()}
    jobs.update({f"snippet:{k}": v for k, v in snippets().items()})
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        results = dict(zip(jobs, pool.map(_compile, jobs.values())))
    return results


@needs_tex
@pytest.mark.parametrize("name", [f"doc:{k}" for k in ("celsius", "classifier", "mlp441", "exercise", "key",
                                                         "softmax")])
def test_documents_compile_without_overfull_lines(compiled: dict, name: str) -> None:
    code, log = compiled[name]
    assert code == 0, log[-3000:]
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull.*", log)


@needs_tex
@pytest.mark.parametrize("name", [f"snippet:{k}" for k in ("inline", "inline-values", "layered", "vector",
                                                             "gradients", "gradient-every-op", "worked", "tikz",
                                                             "repr")])
def test_snippets_compile(compiled: dict, name: str) -> None:
    code, log = compiled[name]
    assert code == 0, log[-3000:]


def test_report_structure() -> None:
    tex = latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5)
    for needle in (r"\usepackage{tikz}", r"\section*{The network}", r"\section*{The computation graph}",
                   r"\section*{Gradients}", r"\section*{Worked example}", r"\delta^{(2)}_{1} = ",
                   r"\begin{tikzpicture}", r"\leftarrow"):
        assert needle in tex
    assert r"\usepackage{tikz}" in tex and "usetikzlibrary{graphdrawing" not in tex


def test_exercise_hides_what_it_asks() -> None:
    sheet = latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5, exercise=True)
    key = latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5, exercise=True, key=True)
    assert "-0.4346" not in sheet and "-0.4346" in key and r"\phantom" in sheet and "answer key" in key
    assert "red!70!black" not in sheet                       # the graph shows no gradients either


def test_big_network_graph_is_omitted_with_a_note() -> None:
    sn.seed(0)
    tex = latex_report(sn.compile(sn.MLP(2, [20, 1])), [0.1, 0.2])
    assert r"\begin{tikzpicture}" not in tex and "too large to draw" in tex


@needs_tex
def test_write_report_with_pdf(tmp_path) -> None:
    out = tmp_path / "celsius.tex"
    paths = write_report(celsius(), out, {"x": 100.0}, target=37.78, loss="mse", pdf=True)
    assert paths == [str(out), str(tmp_path / "celsius.pdf")]
    assert (tmp_path / "celsius.pdf").read_bytes().startswith(b"%PDF")
    paths = write_report(celsius(), tmp_path / "sheet.tex", {"x": 1.0}, target=2.0, loss="mse", exercise=True)
    assert [os.path.basename(p) for p in paths] == ["sheet.tex", "sheet-key.tex"]
    assert sorted(os.listdir(tmp_path)) == ["celsius.pdf", "celsius.tex", "sheet-key.tex", "sheet.tex"]


@needs_tex
def test_pdflatex_failure_reports_the_log_and_writes_nothing(tmp_path, monkeypatch) -> None:
    with pytest.raises(sn.SymnetError, match="pdflatex failed") as err:
        run_pdflatex("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}")
    assert "Undefined control sequence" in str(err.value)
    import symnet.report as report
    monkeypatch.setattr(report, "latex_report", lambda *a, **k: "\\documentclass{article}\\begin{document}\\bad")
    with pytest.raises(sn.SymnetError):
        write_report(celsius(), tmp_path / "r.tex", {"x": 1.0}, pdf=True)
    assert os.listdir(tmp_path) == []


def test_missing_pdflatex_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(sn.SymnetError, match="pdflatex was not found"):
        run_pdflatex("x")
