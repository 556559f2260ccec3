"""Reports and snippets compile with real pdflatex (skipped, with the reason, where it is missing)."""

from __future__ import annotations

import math
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
from symnet.report import PREAMBLE, WIDTH, latex_report, run_pdflatex, write_report
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
        "softmax-dense": latex_report(_dense_softmax(3), [0.2, -0.4], target=2, loss="cross_entropy", lr=0.1),
        "softmax-six": latex_report(_dense_softmax(6), [0.2, -0.4], target=4, loss="cross_entropy", lr=0.1),
        "exercise-partial": latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5,
                                         blank=["backward:w2_1_1", "forward:z1_2"]),
        "exercise-matrix": latex_report(classifier(), [0.3, 0.8], target=1.0, loss="bce", lr=0.5, exercise=True,
                                        form="matrix"),
        "exercise-softmax": latex_report(_dense_softmax(3), [0.2, -0.4], target=0, loss="cross_entropy", lr=0.1,
                                         exercise=True),
        # long reports: the table of 30 SGD steps, and a wide network's 25 parameters over 10 steps,
        # in scalar and matrix form, must break across pages and fit the line
        "steps-30": latex_report(_mlp221(), [0.5, -1.0], target=1.0, loss="bce", lr=0.5, steps=30),
        "wide-steps-10": latex_report(_mlp281(), [0.5, -1.0], target=1.0, loss="bce", lr=0.5, steps=10),
        # a worked example alone (no pgfplots), its table of 80 steps longer than a page
        "steps-80": PREAMBLE + "\\begin{document}\n" + worked_example(
            _mlp221(), [0.5, -1.0], target=1.0, loss="bce", lr=0.5, steps=80).latex(width=WIDTH) + "\n\\end{document}\n",
        "wide-matrix-steps-10": latex_report(_mlp281(), [[0.5, -1.0], [1.0, 2.0]], target=[1.0, 0.0], loss="bce",
                                             lr=0.5, steps=10, form="matrix"),
        # graphs wider than the line are scaled down to it: long names, a 4-4-4-1 MLP
        "long-names": latex_report(_long_names(), {"x": 1.0, "y": 1.0}),
        "mlp4441": latex_report(sn.compile(sn.mse(sn.MLP(4, [4, 4, 1]), sn.Input("y"))),
                                {"x1": 0.1, "x2": 0.2, "x3": 0.3, "x4": 0.4, "y": 1.0}),
    }


def _long_names() -> sn.Network:
    x, y = sn.Input("x"), sn.Input("y")
    w = sn.Parameter(0.5, name="weight_for_the_first_input_feature")
    b = sn.Parameter(0.1, name="bias_of_the_only_neuron_here")
    return sn.compile(sn.bce((w * x + b).sigmoid(), y))


def _mlp221() -> sn.Network:
    sn.seed(0)
    return sn.compile(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"))


def _mlp281() -> sn.Network:
    sn.seed(0)
    return sn.compile(sn.MLP(2, [8, 1], activation="tanh", output_activation="sigmoid"))


def _dense_softmax(classes: int) -> sn.Network:
    sn.seed(6)
    return sn.compile(sn.Softmax(sn.Dense([sn.Input("x1"), sn.Input("x2")], classes)))


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
        "worked-repr": _wrap(worked_example(net, [0.3, 0.8], target=0.0, loss="bce", lr=0.1)._repr_latex_()),
    }


def _compile(tex: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "t.tex"), "w", encoding="utf-8") as fh:
            fh.write(tex)
        proc = subprocess.run([PDFLATEX, "-halt-on-error", "-interaction=nonstopmode", "t.tex"], cwd=tmp,
                              capture_output=True, stdin=subprocess.DEVNULL, timeout=180)
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
                                                         "softmax", "softmax-dense", "exercise-partial",
                                                         "exercise-matrix", "exercise-softmax", "steps-30",
                                                         "steps-80", "wide-steps-10", "wide-matrix-steps-10")])
def test_documents_compile_without_overfull_lines(compiled: dict, name: str) -> None:
    code, log = compiled[name]
    assert code == 0, log[-3000:]
    assert "Overfull \\hbox" not in log, re.findall(r"Overfull.*", log)
    assert "Overfull \\vbox" not in log, re.findall(r"Overfull.*", log)  # nothing runs past the page's foot


@needs_tex
def test_six_classes_compile() -> None:
    """p = softmax(z) of many classes is a column; (the loss and the deltas of six logits are long lines
    the layout work of issue 12 item 3 breaks)."""
    code, log = _compile(documents()["softmax-six"])
    assert code == 0, log[-3000:]


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


# -- exercise sheets never leak an answer ------------------------------------------------------------
# Every value a blanked step asks for is computed here independently (SymPy for the gradients, the
# updated parameters and the loss after the update; the engine's adjoints for the deltas, which are
# cross-checked against SymPy where a neuron has a bias of its own), written every way the document
# could print it, and looked for among the numbers of the sheet (none may be there) and of the key
# (each must be there, so the scan can fail).


def _neuron_case() -> tuple:
    x, w, b = sn.Input("x"), sn.Parameter(0.37, name="w"), sn.Parameter(-0.21, name="b")
    return sn.compile((w * x + b).sigmoid()), {"x": 1.7}, 1.0, "bce"


def _mlp221_case() -> tuple:
    sn.seed(3)
    return sn.compile(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid")), [0.31, -0.77], 0.62, "mse"


def _softmax_case() -> tuple:
    sn.seed(4)
    return sn.compile(sn.MLP(2, [3], output_activation="softmax")), [0.43, -0.29], 1, "cross_entropy"


def _hand_built_case() -> tuple:
    """The 2-2-2 network of issue 12 built by hand: shared biases, targets as inputs, its own error."""
    i1, i2, t1, t2 = sn.Input("i1"), sn.Input("i2"), sn.Input("t1"), sn.Input("t2")
    w = [sn.Parameter(v, name=f"w{k}") for k, v in enumerate((0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55), 1)]
    b1, b2 = sn.Parameter(0.35, name="b1"), sn.Parameter(0.6, name="b2")
    h1, h2 = (w[0] * i1 + w[1] * i2 + b1).tanh(), (w[2] * i1 + w[3] * i2 + b1).tanh()
    o1, o2 = (w[4] * h1 + w[5] * h2 + b2).sigmoid(), (w[6] * h1 + w[7] * h2 + b2).sigmoid()
    error = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
    return sn.compile(error), {"i1": 0.05, "i2": 0.1, "t1": 0.01, "t2": 0.99}, None, None


LEAK_CASES = {"neuron-bce": _neuron_case, "mlp221-mse": _mlp221_case, "softmax-ce": _softmax_case,
              "hand-built": _hand_built_case}
LR = 0.35


def _answers(model, values, target, loss, lr: float) -> tuple[dict[str, float], dict[str, float]]:
    """(values asked for by the backward pass and the update, by a label; values a sheet shows by right)."""
    import sympy as sp

    from symnet import engine
    from symnet.analysis import intermediates
    from symnet.worked import with_loss

    net, feed = with_loss(model, values, target, loss)
    p = net.program
    expr = net.to_sympy(form="elementary")
    sym = {s.name: s for s in expr.free_symbols}
    point = {sym[n]: v for n, v in feed.items() if n in sym}
    params = dict(zip(net.parameter_names, net.parameter_values))
    at = {**point, **{sym[n]: v for n, v in params.items() if n in sym}}
    grads = {n: float(sp.diff(expr, sym[n]).subs(at)) if n in sym else 0.0 for n in params}
    new = {n: params[n] - lr * grads[n] for n in params}
    after = float(expr.subs({**point, **{sym[n]: v for n, v in new.items() if n in sym}}))
    vals = net.forward_values(feed)
    adj = engine.backward(p, vals, {p.outputs[0]: 1.0})
    named = [i for i in intermediates(p) if i != p.outputs[0]]
    for i in named:  # a neuron's delta equals the gradient of its own bias
        own = [a for a in p.args[i] if p.kinds[a] == "parameter" and p.names[a] in grads]
        if p.ops[i].name == "add" and len(own) == 1 and sum(a == own[0] for j in p.op_indices for a in p.args[j]) == 1:
            assert adj[i] == pytest.approx(grads[p.names[own[0]]], rel=1e-9)
    asked = {f"d/d{n}": g for n, g in grads.items()}
    asked.update({f"delta {p.names[i]}": adj[i] for i in named})
    asked.update({f"new {n}": v for n, v in new.items()})
    asked["loss after the update"] = after
    shown = {f"value {p.names[i]}": vals[i] for i in range(len(p.nodes))}
    shown.update({f"input {n}": v for n, v in feed.items()})
    if loss == "cross_entropy":  # the probabilities the sheet shows as p = softmax(z)
        z = [vals[i] for i in p.args[next(i for i in p.op_indices if p.ops[i].name == "log_softmax")]]
        shown.update({f"p{k}": math.exp(v) / sum(map(math.exp, z)) for k, v in enumerate(z, 1)})
    return asked, shown


def _printed(value: float, digits: int = 4) -> set[str]:
    """Every unsigned way a document could print ``value`` (its digits, the graph's 3 digits, rounded)."""
    from symnet.emit.render import format_number

    v = abs(value)
    out = {format_number(v, d, latex=latex) for d in (digits, 3) for latex in (False, True)}
    out |= {f"{v:.{digits}g}", f"{v:.3g}", f"{v:.{digits}f}".rstrip("0").rstrip("."), repr(v)}
    return {t for t in out if len(t.replace(".", "").lstrip("0")) >= 2}  # one digit would match anything


def _numbers(tex: str) -> set[str]:
    """The numbers of a document's body (not the preamble, not the drawing's coordinates)."""
    body = tex[tex.index(r"\begin{document}"):]
    body = re.sub(r"at \([^)]*\)", "", body).replace(r"\arraystretch}{1.5}", "")
    return set(re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", body))


@pytest.mark.parametrize("case", sorted(LEAK_CASES))
@pytest.mark.parametrize("blank, form", [(None, "scalar"), (["backward", "update"], "scalar"), (["update"], "scalar"),
                                         (None, "matrix")])
def test_exercise_sheet_shows_no_blanked_value(case: str, blank, form: str) -> None:
    model, values, target, loss = LEAK_CASES[case]()
    asked, shown = _answers(model, values, target, loss, LR)
    if blank == ["update"]:  # the gradients stay on the sheet; the updates and the loss after them do not
        asked = {k: v for k, v in asked.items() if k.startswith("new ") or k.startswith("loss after")}
        shown.update({k: v for k, v in _answers(model, values, target, loss, LR)[0].items() if k.startswith("d")})
    legit = set().union(*(_printed(v) for v in shown.values())) | _printed(LR)
    kw = dict(lr=LR, exercise=True, blank=blank, form=form)
    sheet = _numbers(latex_report(model, values, target, loss, **kw))
    key = _numbers(latex_report(model, values, target, loss, key=True, **kw))
    scanned = 0
    for label, value in asked.items():
        forms = _printed(value)
        if not forms or forms & legit:  # a value the sheet shows for another reason (softmax: delta_k = p_k)
            continue
        scanned += 1
        assert not forms & sheet, f"{case}: the sheet prints {label} = {value!r} as {sorted(forms & sheet)}"
        assert forms & key, f"{case}: the key does not print {label} = {value!r}"
    assert scanned >= (len(asked) // 2 if blank != ["update"] else 3), (case, scanned, len(asked))


def test_blanking_one_gradient_hides_its_update_and_the_loss_after() -> None:
    model, values, target, loss = _neuron_case()
    asked, _ = _answers(model, values, target, loss, LR)
    sheet = latex_report(model, values, target, loss, lr=LR, blank=["backward:w"])
    numbers = _numbers(sheet)
    for label in ("d/dw", "new w", "loss after the update"):
        assert not _printed(asked[label]) & numbers, label
    assert _printed(asked["d/db"]) & numbers and _printed(asked["new b"]) & numbers  # the rest stays
    assert "Derive" in sheet and r"\frac{\partial L}{\partial w} &= x" not in sheet


def test_blanking_the_forward_pass_hides_every_forward_value() -> None:
    model, values, target, loss = _mlp221_case()
    from symnet.analysis import intermediates
    from symnet.worked import with_loss

    net, feed = with_loss(model, values, target, loss)
    vals, p = net.forward_values(feed), net.program
    asked = {p.names[i]: vals[i] for i in intermediates(p) if i != p.outputs[0]}
    sheet = _numbers(latex_report(model, values, target, loss, lr=LR, blank=["forward"]))
    key = _numbers(latex_report(model, values, target, loss, lr=LR, blank=["forward"], key=True))
    for name, value in asked.items():
        assert not _printed(value) & sheet and _printed(value) & key, name


def test_sheet_replaces_closed_form_gradients_and_the_key_keeps_them() -> None:
    model, values, target, loss = _neuron_case()
    sheet = latex_report(model, values, target, loss, lr=LR, exercise=True)
    key = latex_report(model, values, target, loss, lr=LR, exercise=True, key=True)
    grads = sheet[sheet.index(r"\section*{Gradients}"):sheet.index(r"\section*{Worked example}")]
    assert r"\framebox" in grads and r"\hat{y} - y" not in sheet and "loss is" not in sheet
    assert r"\hat{y} - y" in key and "With the new parameters the loss is" in key


def test_vector_network_without_a_loss_needs_output_k_and_output_k_works() -> None:
    """The API's message names output=k (the CLI's names --output-index, see test_cli), and it exists."""
    sn.seed(5)
    net = sn.compile(sn.MLP(2, [2, 3], output_activation="softmax"))
    for build in (latex_report, worked_example):
        with pytest.raises(sn.InputError, match=r"3 outputs: pass output=k"):
            build(net, [0.2, -0.4])
        with pytest.raises(sn.InputError, match="out of range"):
            build(net, [0.2, -0.4], output=3)
    tex = latex_report(net, [0.2, -0.4], output=1, lr=0.1)
    ex = worked_example(net, [0.2, -0.4], output=1)
    assert r"Backpropagation from the output $\hat{y}_{2}$ down" in tex
    grads = net.gradients([0.2, -0.4], output=1)
    assert ex.output_name == "yhat2" and ex.gradients == pytest.approx({n: grads[n] for n in ex.gradients})


@pytest.mark.parametrize("digits", [2, 6])
def test_exercise_sheet_shows_no_blanked_value_at_other_digits(digits: int) -> None:
    model, values, target, loss = _mlp221_case()
    asked, shown = _answers(model, values, target, loss, LR)
    legit = set().union(*(_printed(v, digits) for v in shown.values())) | _printed(LR, digits)
    sheet = _numbers(latex_report(model, values, target, loss, lr=LR, exercise=True, digits=digits))
    key = _numbers(latex_report(model, values, target, loss, lr=LR, exercise=True, key=True, digits=digits))
    from symnet.emit.render import format_number

    scanned = [label for label, v in asked.items()  # values the key prints with two digits or more
               if format_number(abs(v), digits) in _printed(v, digits) and not _printed(v, digits) & legit]
    for label in scanned:
        forms = _printed(asked[label], digits)
        assert not forms & sheet and forms & key, label
    assert len(scanned) >= len(asked) // 2


def test_softmax_report_defines_p_once():
    sn.seed(1)
    clf = sn.compile(sn.Softmax(sn.Dense([sn.Input("x1"), sn.Input("x2")], 3)))
    tex = clf.latex_report([0.2, -0.4], target=2, loss="cross_entropy")
    network, _, rest = tex.partition(r"\section*{The computation graph}")
    # the equations' own p line is replaced by the report's, with its definition; the gradients read p
    assert network.count(r"p &= \operatorname{softmax}") == 1 and r"L &= -\log\left(p_{3}\right)" in network
    assert r"&= p_{3} - 1" in rest and "exp" not in rest.partition(r"\section*{Worked example}")[0]


@pytest.mark.skipif(PDFLATEX is None, reason="pdflatex is not installed")
def test_pdflatex_runs_again_while_the_log_asks(monkeypatch):
    """longtable aligns its columns from the run before: one run leaves the header misaligned."""
    import subprocess as sp

    from symnet import report

    runs = []
    real = sp.run

    def counting(*args, **kwargs):
        proc = real(*args, **kwargs)
        runs.append(b"Rerun" in proc.stdout)
        return proc

    monkeypatch.setattr(report.subprocess, "run", counting)
    tex = latex_report(_mlp221(), [0.5, -1.0], target=1.0, loss="bce", lr=0.5, steps=3)
    assert report.run_pdflatex(tex).startswith(b"%PDF")
    assert len(runs) >= 2 and runs[0] and not runs[-1]  # asked once, then settled


def test_the_loss_curve_says_mean_only_for_a_batch():
    one = worked_example(_mlp221(), [0.5, -1.0], target=1.0, loss="bce", lr=0.5, steps=2).loss_curve()
    batch = worked_example(_mlp221(), [[0.5, -1.0], [1.0, 2.0]], target=[1.0, 0.0], loss="bce", lr=0.5,
                           steps=2).loss_curve()
    assert "ylabel={loss}" in one and "ylabel={mean loss}" in batch
