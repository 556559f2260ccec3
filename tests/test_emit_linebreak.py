"""Line breaking of long LaTeX equations (symnet.emit.linebreak): what is kept, where it
breaks, and that every line stands on its own."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symnet as sn
from symnet.emit.linebreak import _candidates, visible_width, wrap

from randgraph import random_dag

MARKERS = re.compile(r"\\left\. |\\left\.| \\right\.|\\right\.")


def _balanced(line: str) -> bool:
    lefts = len(re.findall(r"\\left[(\[.]", line))
    rights = len(re.findall(r"\\right[)\].]", line))
    opened = 0
    for m in re.finditer(r"\\left[(\[.]|\\right[)\].]", line):
        opened += 1 if m.group().startswith(r"\left") else -1
        if opened < 0:
            return False
    return lefts == rights and line.count("{") == line.count("}") and line.count("[") == line.count("]") \
        and line.count(r"\begin") == line.count(r"\end")


def _unbroken(lines: list[str]) -> str:
    return "".join(MARKERS.sub("", line) for line in lines).replace(" ", "")


def _long_gradients(width: int) -> list[tuple[str, list[str], float]]:
    sn.seed(3)
    net = sn.compile(sn.bce(sn.MLP(2, [3, 2, 1], activation="tanh", output_activation="sigmoid"), sn.Input("y")))
    out = []
    for name in ("w1_1_1", "b2_1", "w3_1_1"):
        rhs = net.gradient_latex(name, form="inline").splitlines()[1].split("&= ", 1)[1]
        out.append((rhs, wrap(rhs, width), width))
    return out


def test_short_lines_are_left_alone() -> None:
    assert wrap(r"w x + b", 40) == [r"w x + b"]
    assert wrap(r"w x + b", None) == [r"w x + b"]


def test_top_level_signs_come_first() -> None:
    assert wrap(r"a b + c d + e f", 8, rest=0) == [r"a b + c d", r"+ e f"]
    # a factor break is used only when a term alone is too wide
    assert wrap(r"a b c d e f g h", 6, rest=0) == [r"a b c d e f", r"g h"]


def test_parentheses_are_broken_outermost_first_and_each_line_balanced() -> None:
    lines = wrap(r"x \left(a + \tanh\left(b + c\right) + d + e\right)", 16, rest=0)
    assert lines == [r"x \left(a + \tanh\left(b + c\right) \right.", r"\left. + d + e\right)"]
    assert all(_balanced(line) for line in lines)


def test_braces_brackets_and_environments_are_never_broken() -> None:
    for tex in (r"\frac{a + b}{c} + \mathbf{1}\left[z > 0\right] + x^{a + b + c}",
                r"\begin{bmatrix} a + b & c + d \end{bmatrix} + e + f",
                r"\mathbf{1}\left[a + b + c > 0\right] + d"):
        for at, _, _ in _candidates(tex):
            before = tex[:at]
            assert before.count("{") == before.count("}") and before.count("[") == before.count("]"), (tex, at)
            assert before.count(r"\begin") == before.count(r"\end")


def test_a_fraction_too_wide_is_slashed_and_then_broken() -> None:
    tex = r"\frac{a_{1} + a_{2} + a_{3} + a_{4}}{b_{1} + b_{2} + b_{3} + b_{4} + b_{5} + b_{6}}"
    assert visible_width(tex) == pytest.approx(6 * 1.6 + 5 * 2)
    lines = wrap(tex, 14, rest=0)
    assert len(lines) > 1 and all(_balanced(line) for line in lines)
    assert r"\frac" not in "".join(lines) and r"\right) /" in "".join(lines)


def test_a_matrix_is_as_wide_as_its_widest_row_and_set_small_when_too_wide() -> None:
    small = r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}"
    wide = r"\begin{bmatrix} " + " & ".join(["-0.12345678"] * 8) + r" \\ 1 & 2 \end{bmatrix}"
    assert visible_width(small) == pytest.approx(2 + 1.5 + 1.5)
    assert visible_width(wide) == pytest.approx(8 * 11 + 7 * 1.5 + 1.5)
    assert wrap(f"A = {small}", 20) == [f"A = {small}"]
    lines = wrap(rf"x + {wide}", 80)
    assert lines[-1].startswith(r"+ \left[\begin{smallmatrix}") and r"\end{smallmatrix}\right]" in lines[-1]
    assert "bmatrix" not in "".join(lines)


@pytest.mark.parametrize("width", [30, 50, 78])
def test_long_gradients_fit_where_they_can_and_keep_every_symbol(width: int) -> None:
    for rhs, lines, room in _long_gradients(width):
        assert len(lines) > 1 and all(_balanced(line) for line in lines)
        assert _unbroken(lines) == rhs.replace(" ", "")
        for n, line in enumerate(lines):
            if visible_width(line) > room - (4 if n else 0):
                assert not _candidates(MARKERS.sub("", line)), line  # too wide only when it cannot break


def test_aligned_rows_leave_room_for_the_widest_left_side() -> None:
    from symnet.emit.notation import aligned

    rows = [(r"\frac{\partial L}{\partial w^{(1)}_{1,1}}", " + ".join(f"a_{{{k}}}" for k in range(30))), ("c", "d")]
    text = aligned(rows, 40)
    column = visible_width(rows[0][0])
    for line in text.splitlines()[1:-1]:
        body = line.split("&= ", 1)[-1].replace(r"&\quad ", "").rstrip(" \\")
        assert visible_width(body) <= 40 - column - 2


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_networks_break_into_balanced_lines(data) -> None:
    dag = random_dag(data.draw)
    try:
        tex = sn.compile(dag.root).latex()
    except sn.ExportLimitError:
        return
    width = data.draw(st.integers(12, 80))
    lines = wrap(tex, width)
    assert all(_balanced(line) for line in lines)
    if r"\frac" not in tex:
        assert _unbroken(lines) == tex.replace(" ", "")
    assert wrap(tex, width) == lines  # deterministic
