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
    assert {"z1_1", "h1_1", "z2_16", "h2_16", "yhat"} <= names and "z3_1" not in names


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


def _op_names(net):
    return [net.program.names[i] for i in net.program.op_indices]


@pytest.mark.parametrize("build, expected", [
    # the output activation of an MLP, alone or under a loss
    (lambda: sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"), ["yhat"]),
    (lambda: sn.bce(sn.MLP(2, [2, 1], activation="tanh", output_activation="sigmoid"), sn.Input("y")),
     ["yhat", "L"]),
    # a linear output layer: yhat is the last weighted sum
    (lambda: sn.mse(sn.MLP(2, [3, 1], activation="relu"), sn.Input("y")), ["yhat", "L"]),
    (lambda: sn.Dense([sn.Input("x1"), sn.Input("x2")], 1, activation="sigmoid"), ["yhat"]),
    # several outputs: yhat1, yhat2 in output order
    (lambda: sn.MLP(2, [2, 2], activation="tanh"), ["yhat1", "yhat2"]),
    (lambda: sn.mse(sn.MLP(2, [2, 2], output_activation="sigmoid"), [sn.Input("y1"), sn.Input("y2")]),
     ["yhat1", "yhat2", "L"]),
])
def test_the_prediction_is_named_yhat(build, expected):
    sn.seed(0)
    net = sn.compile(build())
    names = _op_names(net)
    assert [n for n in names if n.startswith("yhat") or n == "L"] == expected
    assert not any(n.startswith("h2_") or n.startswith("z3_") for n in names)
    if len(expected) > 1 and expected[1] == "yhat2":
        assert r"\hat{y}_{1} &= " in net.latex(layers=True) and r"\hat{y}_{2} &= " in net.latex(layers=True)
    elif "yhat" in expected:
        assert "\n" + r"\hat{y} &= " in net.latex(layers=True)


def test_the_prediction_keeps_the_users_name_and_never_takes_one():
    sn.seed(0)
    x = sn.Input("x")
    named = sn.compile(sn.mse(sn.Dense([x], 1, activation="tanh"), sn.Input("y")))
    assert "yhat" in _op_names(named)
    w, b = sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b")
    user = sn.compile(sn.mse(sn.Tanh([w * x + b], name="guess"), sn.Input("y")))
    assert "guess" in _op_names(user) and "yhat" not in _op_names(user)
    # a user's node called yhat (or yhat1) moves the automatic names to o, o1, o2
    taken = sn.Parameter(1.0, name="yhat")
    net = sn.compile(sn.mse(sn.MLP(2, [2, 1], output_activation="sigmoid"), sn.Input("y")) + 0 * taken)
    assert "o" in _op_names(net) and net.program.names.count("yhat") == 1
    taken = sn.Parameter(1.0, name="yhat1")
    net = sn.compile(sn.mse(sn.MLP(2, [2, 2]), [sn.Input("y1"), sn.Input("y2")]) + 0 * taken)
    assert {"o1", "o2"} <= set(_op_names(net)) and net.program.names.count("yhat1") == 1


def test_parameter_values_copy_is_built_on_first_read_and_keeps_no_chain():
    import gc
    import weakref

    np = pytest.importorskip("numpy")

    x, w, b = sn.Input("x"), sn.Parameter(1.0, name="w"), sn.Parameter(2.0, name="b")
    p = sn.compile(w * x + b + 0.5).program
    q = p.with_parameter_values([3.0, 4.0])
    r = q.with_parameter_values(np.array([5.0, 6.0]))  # an array of floats is taken too
    ref = weakref.ref(q)
    del q
    gc.collect()
    assert ref() is None  # r does not keep q alive (nor p's values through it)
    got = r.values
    assert [got[i] for i in r.parameters] == [5.0, 6.0] and all(type(got[i]) is float for i in r.parameters)
    assert [v for k, v in enumerate(got) if k not in r.parameters] == \
        [v for k, v in enumerate(p.values) if k not in p.parameters]
    assert [p.values[i] for i in p.parameters] == [1.0, 2.0]
    with pytest.raises(AttributeError):
        r.no_such_field
    with pytest.raises(sn.GraphError):
        p.with_parameter_values([1.0])
