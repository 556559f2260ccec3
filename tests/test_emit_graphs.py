"""Graph drawings: DOT and Mermaid text, the named view, the TikZ layout."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.emit.graphs import layout, op_symbol, to_dot, to_mermaid, to_tikz, view


def _linear() -> sn.Network:
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-1.0, name="b")
    return sn.compile(w * x + b)


DOT = """digraph symnet {
  rankdir=LR;
  node [fontname="Helvetica", fontsize=11];
  n0 [label="w = 0.5\\ngrad 2", shape=box];
  n1 [label="x = 2", shape=box];
  n2 [label="t1: mul = 1", shape=ellipse];
  n3 [label="b = -1", shape=box];
  n4 [label="yhat: add = 0", shape=ellipse];
  n0 -> n2;
  n1 -> n2;
  n2 -> n4;
  n3 -> n4;
}"""


def test_dot_golden() -> None:
    net = _linear()
    text = to_dot(net, {"x": 2.0}, grads=[2.0, 0.5, 1.0, 1.0, 1.0])
    assert text.replace("\\ngrad 0.5", "").replace("\\ngrad 1", "") == DOT
    assert net.to_dot({"x": 2.0}) == to_dot(net, {"x": 2.0})


def test_mermaid_golden() -> None:
    assert _linear().to_mermaid({"x": 2.0}) == "\n".join([
        "flowchart LR", '  n0["w = 0.5"]', '  n1["x = 2"]', '  n2(["t1: mul = 1"])', '  n3["b = -1"]',
        '  n4(["yhat: add = 0"])', "  n0 --> n2", "  n1 --> n2", "  n2 --> n4", "  n3 --> n4"])


def test_without_values_inputs_are_bare() -> None:
    assert '  n1 [label="x", shape=box];' in _linear().to_dot()


def test_named_view_of_mlp() -> None:
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [3, 1]))
    v = view(net.program, "named")
    names = [net.program.names[i] for i in v.nodes]
    assert names == ["x1", "x2", "z1_1", "h1_1", "z1_2", "h1_2", "z1_3", "h1_3", "yhat"]
    edges = {(net.program.names[a], net.program.names[b]) for a, b in v.edges}
    assert ("x1", "z1_1") in edges and ("h1_3", "yhat") in edges and len(edges) == 6 + 3 + 3
    pos = layout(v)
    cols = {net.program.names[i]: c for i, (c, _) in pos.items()}
    assert cols == {"x1": 0, "x2": 0, "z1_1": 1, "z1_2": 1, "z1_3": 1, "h1_1": 2, "h1_2": 2, "h1_3": 2, "yhat": 3}
    assert "level" in str(pytest.raises(sn.InputError, view, net.program, "everything").value)


def test_sources_sit_next_to_their_first_use() -> None:
    net = _linear()
    pos = layout(view(net.program))
    assert pos[3][0] == pos[2][0]          # b is drawn beside w*x, one column before the sum


def test_op_symbols_come_from_rows() -> None:
    x = sn.Input("x")
    net = sn.compile(sn.bce((x * 2).sigmoid() ** 2, 1.0))
    assert [op_symbol(net.program, i) for i in net.program.op_indices] == [
        r"\times", r"\sigma", r"(\cdot)^{2}", r"\operatorname{bce}"]


def test_tikz_is_deterministic_and_refuses_huge_graphs() -> None:
    sn.seed(1)
    net = sn.compile(sn.MLP(2, [3, 1]))
    a = to_tikz(net, [0.5, 0.5], level="named")
    assert a == to_tikz(net, [0.5, 0.5], level="named") and a.count(r"\node") == 9
    with pytest.raises(sn.InputError, match="too large"):
        to_tikz(sn.compile(sn.MLP(2, [30, 1])), [0.0, 0.0], level="named")


def test_deep_chain() -> None:
    x = sn.Input("x")
    node = x
    for _ in range(5000):
        node = node * 1.0001
    assert to_mermaid(sn.compile(node)).count("-->") == 10000


def test_plain_text_drawings_write_plain_numbers():
    # issue 11 item 4: DOT and Mermaid labels are plain text, never LaTeX numbers
    from symnet.emit.graphs import to_dot, to_mermaid

    x, w = sn.Input("x"), sn.Parameter(1e-7, name="w")
    net = sn.compile(w * x)
    for text in (to_dot(net, {"x": 2.0}), to_mermaid(net, {"x": 2.0})):
        assert "w = 1e-07" in text
        assert "cdot" not in text
