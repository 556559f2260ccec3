"""Worked examples print everywhere: aligned plain text (str), LaTeX for Jupyter, and
the gradient report as HTML (issue 12 item 8)."""

from __future__ import annotations

import re

import pytest

import symnet as sn


def _logistic():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
    return sn.compile((w * x + b).sigmoid())


def test_str_is_aligned_plain_text_with_every_step_and_its_value():
    ex = _logistic().worked_example({"x": 2.0}, target=1.0, loss="bce", lr=0.1)
    text = str(ex)
    assert "\\" not in text and "{" not in text  # no LaTeX left
    assert text.splitlines()[0] == "Forward pass:"
    for step in ex.steps:
        assert format(step.value, ".4g") in text
    lines = [ln for ln in text.splitlines() if ln.startswith("  ")]
    backward = [ln for ln in lines if ln.split("=")[0].strip().startswith("dL/d")]  # dL/dw, as printed
    assert backward and len({ln.index("=") for ln in backward}) == 1  # the = signs line up in a part
    assert "After the step the loss is" in text


def test_matrix_and_batch_examples_print_matrices_as_nested_lists():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [2, 1], activation="tanh"))
    ex = net.worked_example([{"x1": 0.5, "x2": -1.0}, {"x1": 0.1, "x2": 0.3}], target=[1.0, 0.0], loss="mse",
                            form="matrix")
    text = str(ex)
    assert "bmatrix" not in text and "\\" not in text
    assert re.search(r"X\s+= \[\[0\.5, 0\.1\], \[-1, 0\.3\]\]", text)


def test_repr_latex_is_display_math_with_every_line():
    """Notebooks render _repr_latex_ with MathJax, which reads math only: one aligned block in $$."""
    ex = _logistic().worked_example({"x": 2.0}, target=1.0, loss="bce", lr=0.1)
    tex = ex._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}") and tex.endswith("\\end{aligned}$$") and tex.count("$$") == 2
    for text_mode in ("\\noindent", "align*", "\\begin{align}", "$\\eta"):
        assert text_mode not in tex
    body = ex.latex(width=None)
    for line in re.findall(r"^.* &(?:=|\\leftarrow) .*$", body, re.M):  # every step of the fragment
        assert line.rstrip(" \\") in tex
    assert tex.count("\\textbf{") == 4  # forward, loss, backward, update


def test_gradient_report_has_an_html_table_with_a_row_per_gradient():
    report = sn.check_gradients(_logistic(), {"x": 2.0})
    page = report._repr_html_()
    assert page.startswith("<p>gradient check ok") and page.count("<tr>") == len(report.rows) + 1
    assert "<script" not in page


def test_plain_text_names_every_op_as_its_row_writes_it():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
    text = str(sn.compile((w * x + b).relu().tanh()).worked_example({"x": 2.0}, target=1.0, loss="mse"))
    assert "relu(z) = relu(2) = 2" in text and "tanh(h)" in text and "operatorname" not in text


# -- the plain text reads cleanly (issue 12 item 8, its polish) --------------------------------

def _gallery_networks():
    """The gallery's six networks (docs/gallery.md), each with a point, a target and a loss,
    and a mini-batch of two samples."""
    x = sn.Input("x")
    w, b = sn.Parameter(0.5, name="w"), sn.Parameter(-1.0, name="b")
    yield "logistic", sn.compile((w * x + b).sigmoid()), {"x": 2.0}, 1.0, "bce", [{"x": 2.0}, {"x": -1.0}], [1.0, 0.0]
    yield "linear", sn.compile(w * x + b), {"x": 2.0}, 3.0, "mse", [{"x": 2.0}, {"x": -1.0}], [3.0, 0.0]
    sn.seed(0)
    mlp = sn.compile(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"))
    yield "mlp", mlp, [0.5, -1.0], 1.0, "bce", [[0.5, -1.0], [1.0, 2.0]], [1.0, 0.0]
    sn.seed(1)
    classifier = sn.compile(sn.Softmax(sn.Dense([sn.Input("x1"), sn.Input("x2")], 3)))
    yield "softmax", classifier, [0.2, -0.4], 2, "cross_entropy", [[0.2, -0.4], [1.0, 0.5]], [2, 0]
    sn.seed(2)
    relu = sn.compile(sn.MLP(2, [3, 1], activation="relu"))
    yield "relu", relu, [0.5, -1.0], 1.0, "mse", [[0.5, -1.0], [1.0, 2.0]], [1.0, 0.0]
    i1, i2, t1, t2 = sn.Input("i1"), sn.Input("i2"), sn.Input("t1"), sn.Input("t2")
    ws = [sn.Parameter(v, name=f"w{k}") for k, v in enumerate([0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55], 1)]
    b1, b2 = sn.Parameter(0.35, name="b1"), sn.Parameter(0.6, name="b2")
    h1, h2 = (ws[0] * i1 + ws[1] * i2 + b1).tanh(), (ws[2] * i1 + ws[3] * i2 + b1).tanh()
    o1, o2 = (ws[4] * h1 + ws[5] * h2 + b2).sigmoid(), (ws[6] * h1 + ws[7] * h2 + b2).sigmoid()
    hand = sn.compile(0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2)
    point = {"i1": 0.05, "i2": 0.1, "t1": 0.01, "t2": 0.99}
    yield "hand", hand, point, None, None, [point, dict(point, i1=0.5)], None


def _examples():
    for name, net, point, target, loss, batch, targets in _gallery_networks():
        for form in ("scalar", "matrix"):
            yield f"{name}-{form}", net.worked_example(point, target=target, loss=loss, lr=0.5, form=form)
            yield f"{name}-{form}-batch", net.worked_example(batch, target=targets, loss=loss, lr=0.5, form=form)
            yield f"{name}-{form}-steps", net.worked_example(point, target=target, loss=loss, lr=0.5, form=form,
                                                             steps=2)


NAMES = [f"{net}-{form}{kind}" for net in ("logistic", "linear", "mlp", "softmax", "relu", "hand")
         for form in ("scalar", "matrix") for kind in ("", "-batch", "-steps")]
LATEX_LEFT = re.compile(r"\\|mathbb|mathbf|operatorname|mathit|\bleft\b|\bright\b|[{}]|frac|partial")


@pytest.fixture(scope="module")
def examples():
    built = dict(_examples())
    assert sorted(built) == sorted(NAMES)
    return built


@pytest.mark.parametrize("name", NAMES)
def test_plain_text_of_every_gallery_example_has_no_latex_left(examples, name):
    text = str(examples[name])
    assert not [ln for ln in text.splitlines() if LATEX_LEFT.search(ln)], text


@pytest.mark.parametrize("name", NAMES)
def test_plain_text_repeats_no_value_and_doubles_no_parentheses(examples, name):
    text = str(examples[name])
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(" = ")]
        for a, b in zip(parts[1:], parts[2:]):
            assert a != b and a != f"({b})", line  # delta = 0.48 = 0.48, (-0.52) = -0.52
        assert not re.search(r"\(\(-?[\d.]+(e[-+]?\d+)?\)\)", line), line  # exp((-0.2))
        assert "(d" not in line.split(" = ")[0], line  # dL/dw, not (dL)/(dw)


def test_plain_text_reads_like_a_textbook(examples):
    text = str(examples["relu-scalar"])
    lines = {ln.split(" = ", 1)[0].strip(): ln.split(" = ", 1)[1] for ln in text.splitlines() if " = " in ln}
    assert lines["delta^(1)_1"] == "1[z^(1)_1 > 0] dL/dh^(1)_1 = 1[-1.327 > 0] * (-0.7098) = 0"
    assert lines["dL/db^(2)_1"] == "dL/dyhat = -3.323"  # the value once, not "= (-3.323) = -3.323"
    assert lines["yhat"].startswith("w^(2)_1,1 h^(1)_1 + ")  # the linear output is yhat
    softmax = str(examples["softmax-scalar"])
    assert re.search(r"\n  dL/db\^\(1\)_1 += delta\^\(1\)_1 = 0\.4809\n", softmax)
    x, w, b = sn.Input("x"), sn.Parameter(-0.5, name="w"), sn.Parameter(0.25, name="b")
    soft = str(sn.compile((w * x + b).softplus()).worked_example({"x": 2.0}, target=1.0, loss="mse"))
    assert "= sigmoid(-0.75) * (-1.226) = -0.3934" in soft  # a negative value: one pair; softplus' = sigmoid
    batch = str(examples["mlp-scalar-batch"])
    assert "= 1/2 sum_(k=1)^2 dL^[k]/dw^(1)_1,1 = 1/2 (-0.1313 + 0.06107) = -0.03513" in batch
    matrix = str(examples["mlp-matrix-batch"])
    assert re.search(r"\n  Yhat += sigmoid\(Z\^\(2\)\) = sigmoid\(\[\[-0\.06059, 0\.6917\]\]\) = "
                     r"\[\[0\.4849, 0\.6663\]\]\n", matrix)  # the output is Yhat
    assert "dLbar/dW^(1) = 1/2 Delta^(1) X^T" in matrix


def test_steps_print_the_loss_after_each_step(examples):
    ex = examples["mlp-scalar-steps"]
    losses = [format(loss, ".4g") for _, loss in ex.history]
    assert len(losses) == 3 and f"loss over 2 steps of gradient descent: {' -> '.join(losses)}." in str(ex)


def test_notes_print_as_plain_text(examples):
    text = str(examples["logistic-matrix"])
    assert "Note: no matrix form" in text and "Note: Note" not in text and "noindent" not in text
