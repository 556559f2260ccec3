"""compile(): ordering, naming, macro expansion and validation."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.program import collect


def test_order_is_topological_and_leaves_precede_first_use():
    x, w, b = sn.Input("x"), sn.Parameter(1.0, name="w"), sn.Parameter(2.0, name="b")
    net = sn.compile(w * x + b)
    p = net.program
    for i, args in enumerate(p.args):
        assert all(a < i for a in args)
    assert [p.names[i] for i in range(len(p.nodes))] == ["w", "x", "t1", "b", "yhat"]


def test_inputs_and_parameters_follow_creation_order():
    b, w = sn.Parameter(0.0, name="b"), sn.Parameter(0.0, name="w")
    x2, x1 = sn.Input("x2"), sn.Input("x1")
    net = sn.compile(w * x1 + b * x2)
    assert [n.name for n in net.parameters] == ["b", "w"]
    assert [n.name for n in net.inputs] == ["x2", "x1"]


def test_unnamed_leaves_are_numbered_deterministically():
    a, c = sn.Parameter(1.0), sn.Parameter(2.0)
    u = sn.Input()
    net = sn.compile(a * u + c)
    assert net.parameter_names == ["w1", "w2"]
    assert net.input_names == ["x1"]
    assert a.name is None  # the network names it; compiling never writes to the node
    assert list(net.named_parameters()) == ["w1", "w2"] and net.named_parameters()["w1"] is a


def test_generic_numbering_skips_names_taken_by_the_user():
    a, b = sn.Parameter(1.0, name="w1"), sn.Parameter(2.0)
    net = sn.compile(a + b)
    assert net.parameter_names == ["w1", "w2"]


def test_mlp_has_structured_names_and_337_parameters():
    net = sn.compile(sn.MLP(2, [16, 16, 1]))
    assert len(net.parameters) == 337
    assert net.parameter_names[:5] == ["w1_1_1", "w1_1_2", "b1_1", "w1_2_1", "w1_2_2"]
    assert net.parameter_names[-1] == "b3_1"
    names = set(net.program.names)
    assert {"z1_1", "h1_1", "z2_16", "h2_16", "z3_1"} <= names


def test_weighted_sum_is_one_nary_add():
    x1, x2, x3 = sn.Input("x1"), sn.Input("x2"), sn.Input("x3")
    net = sn.compile(sn.Linear([x1, x2, x3]))
    p = net.program
    out = p.outputs[0]
    assert p.ops[out].name == "add" and len(p.args[out]) == 4
    assert len(net.parameters) == 4


def test_duplicate_names_are_rejected_with_both_nodes_named():
    a, b = sn.Input("x"), sn.Input("x")
    with pytest.raises(sn.NameConflictError, match="'x'"):
        sn.compile(a + b)


def test_name_that_is_a_formula_function_is_rejected():
    with pytest.raises(sn.NameConflictError, match="relu"):
        sn.compile(sn.Input("relu") + 1)


@pytest.mark.parametrize("bad", ["1x", "_x", "a-b", "", "x" * 65, "lambda", "é"])
def test_invalid_names_are_rejected_at_creation(bad):
    with pytest.raises(sn.NameConflictError):
        sn.Input(bad)


def test_cycle_is_reported_with_its_path():
    a = sn.Input("a")
    b = a + 1.0
    c = b * 2.0
    object.__setattr__(b, "children", (c, b.children[1]))  # forge a cycle
    with pytest.raises(sn.GraphCycleError, match="cycle"):
        sn.compile(c)


def test_unknown_op_is_reported():
    x = sn.Input("x")
    n = x + 1.0
    n.op = "no_such_op"
    with pytest.raises(sn.UnknownOpError, match="no_such_op"):
        sn.compile(n)


def test_output_cannot_be_an_operand():
    out = sn.Output([sn.Input("a"), sn.Input("b")])
    with pytest.raises(sn.GraphError):
        out + 1.0


def test_macro_expansion_and_aliases():
    x = sn.Input("x", 2.0)
    lin = sn.Linear([x], weights=[3.0], bias=1.0)
    assert lin.forward() == 7.0
    net = lin.compile()
    assert net.program.index(lin) == net.program.outputs[0]


def test_collect_handles_a_deep_chain_without_recursion():
    x = sn.Input("x")
    node = x
    for _ in range(20_000):
        node = node * 1.0
    order, _ = collect([node])
    assert order[-1] is node and len(order) == 40_001


def test_user_macro():
    class Square(sn.Macro):
        def expand(self):
            (a,) = self.children
            return a * a

    x = sn.Input("x", 3.0)
    sq = Square([x])
    assert sq.forward() == 9.0
    sq.backward()
    assert x.grad == 6.0
