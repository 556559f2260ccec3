"""Worked examples print everywhere: aligned plain text (str), LaTeX for Jupyter, and
the gradient report as HTML (issue 12 item 8)."""

from __future__ import annotations

import re

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
    backward = [ln for ln in lines if "(dL)/(d" in ln.split("=")[0]]
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


def test_repr_latex_is_the_latex_fragment():
    ex = _logistic().worked_example({"x": 2.0}, target=1.0, loss="bce")
    assert ex._repr_latex_() == ex.latex()


def test_gradient_report_has_an_html_table_with_a_row_per_gradient():
    report = sn.check_gradients(_logistic(), {"x": 2.0})
    page = report._repr_html_()
    assert page.startswith("<p>gradient check ok") and page.count("<tr>") == len(report.rows) + 1
    assert "<script" not in page


def test_plain_text_names_every_op_as_its_row_writes_it():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
    text = str(sn.compile((w * x + b).relu().tanh()).worked_example({"x": 2.0}, target=1.0, loss="mse"))
    assert "relu(z) = relu(2) = 2" in text and "tanh(h)" in text and "operatorname" not in text
