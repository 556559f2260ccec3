"""Worked examples over mini-batches, in matrix form and over several SGD steps: every number
against the engine, SymPy's derivative of the mean loss and central finite differences."""

from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest
import sympy as sp

import symnet as sn
from symnet.emit.render import format_number
from symnet.emit.sympy import elementary_nodes, leaf_symbols
from symnet.worked import with_loss
from symnet.worked_batch import build_samples

np = pytest.importorskip("numpy")  # the independent oracle: NumPy matrix algebra

BATCH = [[0.5, -1.0], [1.0, 2.0], [-0.3, 0.4]]


def _net(out_act=None, sizes=(3, 1), seed=2):
    sn.seed(seed)
    return sn.compile(sn.MLP(2, list(sizes), activation="tanh", output_activation=out_act))


def _mean_loss_sympy(net, values, targets, loss):
    """The mean loss as one SymPy expression in the parameter symbols, built from SymPy's own functions."""
    total, symbols = 0, None
    for v, t in zip(values, targets):
        lnet, feed = with_loss(net, v, t, loss)
        p = lnet.program
        syms = leaf_symbols(p)
        expr = elementary_nodes(p, symbols=syms)[p.outputs[0]]
        expr = expr.subs({syms[i]: feed[p.names[i]] for i in p.inputs})
        total += expr
        symbols = {p.names[i]: syms[i] for i in p.parameters}
    return total / len(values), symbols


def _fd(net, values, targets, loss, name, h=1e-6):
    samples = build_samples(net, values, targets, loss, with_loss)
    k = net.parameter_names.index(name)
    base = [n.value for n in net.parameters]

    def mean(params):
        from symnet.worked_batch import batch_pass

        return batch_pass(samples, None, params).loss

    up, down = list(base), list(base)
    up[k] += h
    down[k] -= h
    return (mean(up) - mean(down)) / (2 * h)


@pytest.mark.parametrize("form", ["scalar", "matrix"])
@pytest.mark.parametrize("case", [(None, [0.5, -0.2, 0.1], "mse"), ("sigmoid", [1.0, 0.0, 1.0], "bce")])
def test_batch_gradients_are_the_mean_gradient(form, case):
    out_act, targets, loss = case
    net = _net(out_act)
    ex = net.worked_example(BATCH, target=targets, loss=loss, form=form)
    assert ex.batch == 3 and ex.form == form and list(ex.gradients) == net.parameter_names
    mean_loss, symbols = _mean_loss_sympy(net, BATCH, targets, loss)
    point = {symbols[n]: p.value for n, p in zip(net.parameter_names, net.parameters)}
    for name, g in ex.gradients.items():
        exact = float(sp.diff(mean_loss, symbols[name]).subs(point))
        assert math.isclose(g, exact, rel_tol=1e-9, abs_tol=1e-12), name
        assert math.isclose(g, _fd(net, BATCH, targets, loss, name), rel_tol=1e-5, abs_tol=1e-8), name
    lbar = [s for s in ex.steps if s.part == "loss"][-1]
    assert math.isclose(lbar.value, float(mean_loss.subs(point)), rel_tol=1e-12)


def test_single_sample_batch_equals_the_single_example():
    net = _net()
    one = net.worked_example([0.5, -1.0], target=0.3, loss="mse", lr=0.1)
    batch = net.worked_example([[0.5, -1.0]], target=[0.3], loss="mse", lr=0.1)
    assert one.gradients == batch.gradients
    assert one.loss_after == batch.loss_after
    lnet, feed = with_loss(net, [0.5, -1.0], 0.3, "mse")
    assert one.gradients == {k: v for k, v in lnet.gradients(feed).items() if k in net.parameter_names}


def _mat(ex, key):
    (step,) = [s for s in ex.steps if s.key == key]
    return np.array(step.value, dtype=float)


@pytest.mark.parametrize("values,targets", [([0.5, -1.0], 0.4), (BATCH, [0.5, -0.2, 0.1])])
def test_matrix_steps_are_consistent_and_match_the_engine(values, targets):
    net = _net(sizes=(3, 2, 1))
    ex = net.worked_example(values, target=targets, loss="mse", form="matrix", lr=0.05)
    n = ex.batch
    X = _mat(ex, "x")
    assert X.shape == (2, n)
    value = {p.name: p.value for p in net.parameters}
    Ws = {l: np.array([[value[f"w{l}_{j}_{i}"] for i in range(1, fan + 1)] for j in range(1, units + 1)])
          for l, (units, fan) in {1: (3, 2), 2: (2, 3), 3: (1, 2)}.items()}
    bs = {l: np.array([[value[f"b{l}_{j}"]] for j in range(1, u + 1)]) for l, u in {1: 3, 2: 2, 3: 1}.items()}
    H = X
    for l in (1, 2, 3):
        Z = _mat(ex, f"z{l}")
        np.testing.assert_allclose(Z, Ws[l] @ H + bs[l], rtol=1e-12, atol=1e-14)
        H = _mat(ex, f"h{l}") if l < 3 else Z
        if l < 3:
            np.testing.assert_allclose(H, np.tanh(Z), rtol=1e-12)
    # the deltas: the recursion holds on the shown matrices, and dW, db are the batch means
    D3 = _mat(ex, "delta3")
    targets_row = np.array([targets] if n > 1 else [[targets]], dtype=float)
    np.testing.assert_allclose(D3, 2 * (H - targets_row), rtol=1e-12)
    D2 = _mat(ex, "delta2")
    np.testing.assert_allclose(D2, (Ws[3].T @ D3) * (1 - _mat(ex, "h2") ** 2), rtol=1e-12, atol=1e-15)
    D1 = _mat(ex, "delta1")
    np.testing.assert_allclose(D1, (Ws[2].T @ D2) * (1 - _mat(ex, "h1") ** 2), rtol=1e-12, atol=1e-15)
    for l, D, prev in ((1, D1, X), (2, D2, _mat(ex, "h1")), (3, D3, _mat(ex, "h2"))):
        dW = np.array([[ex.gradients[f"w{l}_{j}_{i}"] for i in range(1, prev.shape[0] + 1)]
                       for j in range(1, D.shape[0] + 1)])
        np.testing.assert_allclose(dW, D @ prev.T / n, rtol=1e-12, atol=1e-15)
        db = np.array([ex.gradients[f"b{l}_{j}"] for j in range(1, D.shape[0] + 1)])
        np.testing.assert_allclose(db, D.mean(axis=1), rtol=1e-12, atol=1e-15)
    updates = [s for s in ex.steps if s.part == "update" and s.key == "W1"]
    np.testing.assert_allclose(np.array(updates[0].value), Ws[1] - 0.05 * (D1 @ X.T / n), rtol=1e-12)
    tex = ex.latex()
    assert r"\begin{bmatrix}" in tex and ("\\Delta^{(1)}" in tex) == (n > 1)
    if n > 1:
        assert r"Z^{(1)} &= W^{(1)} X + b^{(1)} \mathbf{1}^{\top}" in tex
        assert r"\frac{\partial \bar{L}}{\partial W^{(1)}} &= \frac{1}{3} \Delta^{(1)} X^{\top}" in tex
    else:
        assert r"z^{(1)} &= W^{(1)} x + b^{(1)}" in tex


def test_softmax_cross_entropy_batch_shows_p_minus_e():
    net = _net("softmax", sizes=(3, 3))
    ex = net.worked_example(BATCH, target=[0, 2, 1], loss="cross_entropy", form="matrix")
    P, D = _mat(ex, "p"), _mat(ex, "delta2")
    np.testing.assert_allclose(P.sum(axis=0), 1.0)
    np.testing.assert_allclose(D, P - np.eye(3)[:, [0, 2, 1]], atol=1e-12)
    assert r"\Delta^{(2)} &= P - E_{c}" in ex.latex()


def test_steps_are_sgd_updates_with_a_table():
    net = _net()
    ex = net.worked_example(BATCH, target=[0.5, -0.2, 0.1], loss="mse", lr=0.1, steps=4)
    assert len(ex.history) == 5
    samples = build_samples(net, BATCH, [0.5, -0.2, 0.1], "mse", with_loss)
    from symnet.worked_batch import batch_pass

    for (before, loss), (after, _) in zip(ex.history, ex.history[1:]):
        bp = batch_pass(samples, None, before)
        assert loss == bp.loss
        assert after == [v - 0.1 * bp.gradients[n] for v, n in zip(before, net.parameter_names)]
    assert ex.history[1][1] == ex.loss_after
    assert ex.history[-1][1] < ex.history[0][1]  # a small step on this batch lowers the loss
    assert [p.value for p in net.parameters] == ex.history[0][0]  # the network is not changed
    tex = ex.latex()
    assert r"\textbf{4 steps of gradient descent}" in tex and r"\begin{longtable}{lrrrrr}" in tex
    assert "coordinates {(0," in ex.loss_curve()


def test_bad_batch_input_is_an_input_error():
    net = _net()
    with pytest.raises(sn.InputError, match="a batch of 3 samples needs a list of 3 targets"):
        net.worked_example(BATCH, target=[0.5], loss="mse")
    with pytest.raises(sn.InputError, match="sample 2: expected 2 input value"):
        net.worked_example([[0.5, 1.0], [1.0]], target=[0.1, 0.2], loss="mse")
    with pytest.raises(sn.InputError, match="steps= needs a learning rate"):
        net.worked_example(BATCH, target=[0.5, 0.1, 0.2], loss="mse", steps=2)
    with pytest.raises(sn.InputError, match="steps must be an integer"):
        net.worked_example(BATCH, target=[0.5, 0.1, 0.2], loss="mse", lr=0.1, steps=0)
    with pytest.raises(sn.InputError, match="form must be one of"):
        net.worked_example(BATCH, target=[0.5, 0.1, 0.2], loss="mse", form="tensor")
    with pytest.raises(sn.InputError, match="loss curve needs steps"):
        net.worked_example([0.5, 1.0], target=0.5, loss="mse").loss_curve()


def test_matrix_form_falls_back_with_a_note():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    ex = sn.compile((w * x).tanh()).worked_example([[1.0], [2.0]], target=[0.0, 1.0], loss="mse", form="matrix")
    assert ex.form == "scalar" and "no matrix form" in ex.latex()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("form", ["scalar", "matrix"])
def test_report_with_steps_and_loss_curve_compiles(form, tmp_path):
    net = _net("softmax", sizes=(3, 3)) if form == "matrix" else _net()
    target, loss = (1, "cross_entropy") if form == "matrix" else (0.5, "mse")
    tex = net.latex_report([0.5, -1.0], target=target, loss=loss, lr=0.1, steps=3, form=form)
    assert r"\usepackage{pgfplots}" in tex and r"\addplot" in tex
    assert (r"&= p - e_{c}, \quad c = 2" in tex) == (form == "matrix")
    assert (r"z^{(1)} &= W^{(1)} x + b^{(1)}" in tex) == (form == "matrix")
    batch = net.worked_example(BATCH, target=[1, 0, 2] if form == "matrix" else [0.5, 0.1, 0.2], loss=loss,
                               lr=0.1, steps=2, form=form).latex()
    tex = tex.replace(r"\end{document}", batch + "\n\\end{document}")
    whole = net.latex_report(BATCH, target=[1, 0, 2] if form == "matrix" else [0.5, 0.1, 0.2], loss=loss, lr=0.1,
                             steps=2, form=form)
    assert "the first of the batch's 3 samples" in whole and r"\addplot" in whole
    tex = tex.replace(r"\end{document}", whole[whole.index(r"\section*{Worked example}"):])
    (tmp_path / "r.tex").write_text(tex)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:]


def _visible(tex):
    """``tex`` without its ``\\phantom{...}`` groups."""
    out, k = [], 0
    while True:
        start = tex.find(r"\phantom{", k)
        if start < 0:
            return "".join(out) + tex[k:]
        out.append(tex[k:start])
        depth, j = 0, start + len(r"\phantom")
        while True:
            depth += {"{": 1, "}": -1}.get(tex[j], 0)
            j += 1
            if depth == 0:
                break
        k = j


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_matrix_exercise_sheet_and_key_compile(tmp_path):
    net = _net(sizes=(2, 1))
    ex = net.worked_example(BATCH[:2], target=[0.5, -0.2], loss="mse", lr=0.1, form="matrix")
    sheet, key = ex.latex(blank=["backward", "update"]), ex.latex(blank=["backward", "update"], key=True)
    answers = [s.value_tex for s in ex.steps if s.part == "backward"]
    backward = sheet[sheet.index(r"\textbf{Backward pass.}"):]
    assert "bmatrix" in backward and "bmatrix" not in _visible(backward)  # matrices only as invisible size holders
    assert all(rf"\boxed{{{a}}}" in key for a in answers)
    for name, body in (("sheet", sheet), ("key", key)):
        doc = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n" + body + "\n\\end{document}\n"
        (tmp_path / f"{name}.tex").write_text(doc)
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_wide_matrices_fit_the_report(tmp_path):
    """A batch of five 6-input samples at 8 digits: every matrix line fits the page (a
    value-only line no longer raises IndexError; a wide value gets its own line)."""
    from symnet.report import latex_report

    sn.seed(4)
    net = sn.compile(sn.MLP(6, [6, 1], activation="tanh"))
    tex = latex_report(net, [[0.1, -0.2, 0.3, 1.0, 2.0, -1.5]] * 5, [1.0] * 5, "mse", lr=0.5, digits=8, form="matrix")
    (tmp_path / "r.tex").write_text(tex)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Overfull \\hbox" not in (tmp_path / "r.log").read_text(encoding="latin-1")


def test_history_table_breaks_across_pages_and_splits_wide_rows():
    from symnet.worked_batch import history_table

    names = [f"w{k}" for k in range(1, 26)]  # 25 parameters and the loss: 26 columns
    history = [([k + j / 100 for j in range(25)], 1.0 / (k + 1)) for k in range(11)]
    tex = history_table(names, history, 4, "L", width=78)
    tables = tex.split(r"\end{longtable}")[:-1]
    across = (78 - 10) // (4 + 7)
    assert len(tables) == -(-26 // across)  # ceil: the columns in groups that fit the line
    for table in tables:
        spec = re.search(r"\\begin\{longtable\}\{(l(r+))\}", table).group(2)
        assert len(spec) <= across and r"\endhead" in table  # the head repeats on every page
        assert table.count(r"\\") == 1 + len(history)  # one row per step
    for params, loss in history:
        for v in params + [loss]:
            assert f"${format_number(v, 4, latex=True)}$" in tex
    few = history_table(["w", "b"], history[:3], 4, "L", width=78)
    assert few.count(r"\begin{longtable}{lrrr}") == 1 and few.count(r"\\") == 4  # steps across, a row each
