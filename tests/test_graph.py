"""Graph building: seed style and operator style build the same graph; names, repr,
and errors that name the node."""

from __future__ import annotations

import math

import pytest

import symnet as sn
from symnet.graph import Node
from symnet.program import collect


def shape(node):
    """The structure of a graph: kinds, ops, attrs, children in order; leaves by
    identity (Inputs, Parameters) or value (Constants)."""
    seen = {}
    out = []
    for n in collect([node])[0]:
        if n.kind == "constant":
            key = ("constant", n.value)
        elif n.kind in ("input", "parameter"):
            key = (n.kind, id(n))
        else:
            key = (type(n).__name__, n.kind, n.op, n.attr, tuple(seen[id(c)] for c in n.children))
        seen[id(n)] = len(out)
        out.append(key)
    return out


@pytest.fixture
def leaves():
    return sn.Input("x", 3.0), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")


def test_add_of_a_list(leaves):
    x, w, b = leaves
    assert shape(sn.Add([x, w, b])) == shape(Node.apply("add", (x, w, b)))
    assert sn.Add([x, w, b]).children == (x, w, b)


@pytest.mark.parametrize(
    "operator, seed",
    [
        (lambda x, w, b: w * x + b, lambda x, w, b: sn.Add([sn.Multiply([w, x]), b])),
        (lambda x, w, b: 2 - x, lambda x, w, b: sn.Subtract([sn.Constant(2), x])),
        (lambda x, w, b: x - 2, lambda x, w, b: sn.Subtract([x, sn.Constant(2)])),
        (lambda x, w, b: 1 / x, lambda x, w, b: sn.Divide([sn.Constant(1), x])),
        (lambda x, w, b: x / 3, lambda x, w, b: sn.Divide([x, 3])),
        (lambda x, w, b: 2 * x, lambda x, w, b: sn.Multiply([2.0, x])),
        (lambda x, w, b: x * 2, lambda x, w, b: sn.Multiply([x, 2.0])),
        (lambda x, w, b: 2 + x, lambda x, w, b: sn.Add([2.0, x])),
        (lambda x, w, b: x + 2, lambda x, w, b: sn.Add([x, 2.0])),
        (lambda x, w, b: -x, lambda x, w, b: sn.Negate([x])),
        (lambda x, w, b: x ** 2, lambda x, w, b: sn.Power([x], 2)),
        (lambda x, w, b: x ** -0.5, lambda x, w, b: sn.Power([x], -0.5)),
        (lambda x, w, b: x.relu(), lambda x, w, b: sn.ReLU([x])),
        (lambda x, w, b: x.sigmoid(), lambda x, w, b: sn.Sigmoid([x])),
        (lambda x, w, b: x.tanh(), lambda x, w, b: sn.Tanh([x])),
        (lambda x, w, b: x.exp(), lambda x, w, b: sn.Exp([x])),
        (lambda x, w, b: x.log(), lambda x, w, b: sn.Log([x])),
        (lambda x, w, b: (w * x + b).sigmoid() * 2 - w / b,
         lambda x, w, b: sn.Subtract([sn.Multiply([sn.Sigmoid([sn.Add([sn.Multiply([w, x]), b])]), 2]),
                                      sn.Divide([w, b])])),
    ],
)
def test_operator_style_builds_the_seed_style_graph(leaves, operator, seed):
    a, c = operator(*leaves), seed(*leaves)
    assert shape(a) == shape(c)
    assert type(a) is type(c)
    assert a.forward() == c.forward()


def test_unary_plus_is_the_node_itself(leaves):
    x, _, _ = leaves
    assert +x is x


def test_numbers_on_the_left_become_constants_in_order(leaves):
    x, _, _ = leaves
    node = 2 - x
    first, second = node.children
    assert first.kind == "constant" and first.value == 2.0 and second is x
    assert (2 - x).forward() == -1.0 and (x - 2).forward() == 1.0
    assert (1 / x).forward() == 1 / 3 and (6 / x).forward() == 2.0


def test_children_are_ordered_tuples(leaves):
    x, w, b = leaves
    node = sn.Add([b, w, x])
    assert isinstance(node.children, tuple)
    assert node.children == (b, w, x)
    assert isinstance((w * x).children, tuple)


def test_n_ary_add_is_one_node(leaves):
    x, w, b = leaves
    node = sn.Add([x, w, b, 4.0])
    assert len(node.children) == 4
    assert node.forward() == 3.0 + 0.5 + 0.25 + 4.0


# -- repr ------------------------------------------------------------------


def test_repr_shows_the_tree_with_names_and_values(leaves):
    x, w, b = leaves
    assert repr(w * x + b) == "Add(Multiply(Parameter(w=0.5), Input(x=3.0)), Parameter(b=0.25))"
    assert repr(x ** 2) == "Power(Input(x=3.0), 2.0)"
    assert repr(sn.Sigmoid([x], name="s")) == "Sigmoid(Input(x=3.0), name='s')"
    assert repr(sn.Input("u")) == "Input(u=?)"


def test_repr_stays_short_for_wide_graphs():
    xs = [sn.Input(f"x{i}", float(i)) for i in range(2000)]
    text = repr(sn.Add(xs))
    assert text.startswith("Add(Input(x0=0.0), Input(x1=1.0)")
    assert text.endswith("...)")
    assert len(text) < 1000


def test_repr_stays_short_for_deep_graphs():
    n = sn.Input("x", 1.0)
    for _ in range(20000):
        n = n * 2.0
    text = repr(n)
    assert "..." in text
    assert len(text) < 2000


def test_repr_of_a_nested_cut_marks_every_level():
    xs = [sn.Input(f"x{i}", 1.0) for i in range(60)]
    text = repr(sn.Add([sn.Multiply(xs), sn.Input("z", 2.0)]))
    assert text.endswith("...), ...)")


# -- errors that name the node ---------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda a, b: sn.Sigmoid([a, b], name="s1"), r"'s1'.*takes 1 child, got 2"),
        (lambda a, b: sn.ReLU([], name="r1"), r"'r1'.*got 0"),
        (lambda a, b: sn.Subtract([a], name="d1"), r"'d1'.*takes 2 children, got 1"),
        (lambda a, b: sn.Add([], name="s2"), r"'s2'.*at least 1"),
        (lambda a, b: sn.Divide([a, b, a]), r"'div'.*takes 2 children, got 3"),
    ],
)
def test_wrong_arity_names_the_node(build, message):
    a, b = sn.Input("a", 1.0), sn.Input("b", 2.0)
    with pytest.raises(sn.ArityError, match=message) as info:
        build(a, b)
    assert isinstance(info.value, sn.SymnetError)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda a: a + "1", r"operand 2 of 'add'.*str"),
        (lambda a: "1" * a, r"operand 1 of 'mul'.*str"),
        (lambda a: a * None, r"operand 2 of 'mul'.*NoneType"),
        (lambda a: sn.Add([a, object()]), r"operand 2 of 'add'.*object"),
        (lambda a: sn.Multiply([a, True]), r"operand 2 of 'mul'.*bool"),
        (lambda a: sn.Add({a, sn.Input("c")}), r"'add'.*ordered list.*set"),
        (lambda a: sn.Multiply(frozenset([a])), r"'mul'.*ordered list.*frozenset"),
        (lambda a: sn.Add({"a": a}), r"'add'.*dict"),
        (lambda a: a ** a, r"input 'a'.*exponent.*number"),
        (lambda a: 2 ** a, r"input 'a'.*cannot be an exponent"),
        (lambda a: a ** "2", r"exponent of \*\*.*str"),
    ],
)
def test_bad_operands_name_the_operand(build, message):
    a = sn.Input("a", 1.0)
    with pytest.raises(sn.OperandError, match=message) as info:
        build(a)
    assert isinstance(info.value, sn.SymnetError) and isinstance(info.value, TypeError)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused(value):
    a = sn.Input("a", 1.0)
    with pytest.raises(sn.SymnetError, match="finite"):
        a + value
    with pytest.raises(sn.SymnetError, match="input 'a'.*finite"):
        a.value = value
    with pytest.raises(sn.SymnetError, match="finite"):
        sn.Parameter(value, name="p")


def test_only_leaves_hold_assignable_values():
    a = sn.Input("a", 1.0)
    with pytest.raises(sn.GraphError, match="only Inputs and Parameters"):
        (a + 1).value = 3.0


@pytest.mark.parametrize("name", ["1x", "_x", "x y", "lambda", "exp(x)", "", "x" * 65, "ｘ", 3])
def test_invalid_names_are_refused(name):
    with pytest.raises(sn.NameConflictError, match="invalid"):
        sn.Input(name)


def test_a_cycle_is_refused_naming_its_nodes():
    a = sn.Input("a", 1.0)
    b = sn.Add([a, 1.0], name="u")
    c = sn.Multiply([b, 2.0], name="v")
    b.children = (c, a)  # only reachable by tampering: nodes are built bottom-up
    with pytest.raises(sn.GraphCycleError, match=r"'u'.*'v'.*'u'|'v'.*'u'.*'v'"):
        sn.compile(c)
    with pytest.raises(sn.GraphCycleError):
        collect([c])


def test_parameters_are_reproducible_under_seed():
    sn.seed(7)
    first = [sn.Parameter().value for _ in range(5)]
    sn.seed(7)
    second = [sn.Parameter().value for _ in range(5)]
    sn.seed(8)
    third = [sn.Parameter().value for _ in range(5)]
    assert first == second
    assert first != third
    assert all(-1.0 <= v <= 1.0 for v in first + third)
    assert len(set(first)) == 5


def test_given_parameter_values_do_not_consume_the_generator():
    sn.seed(3)
    sn.Parameter(0.5)
    a = sn.Parameter().value
    sn.seed(3)
    b = sn.Parameter().value
    assert a == b


def test_macros_are_reproducible_under_seed():
    sn.seed(11)
    first = [p.value for p in sn.compile(sn.MLP(2, [3, 1])).parameters]
    sn.seed(11)
    second = [p.value for p in sn.compile(sn.MLP(2, [3, 1])).parameters]
    assert first == second and len(first) == 13


def test_every_leaf_write_takes_a_new_larger_version():
    from symnet.graph import leaf_writes, write_values

    a, b = sn.Parameter(1.0), sn.Parameter(2.0)
    seen = [a._version, b._version]
    a.value = 3.0
    assert a._version == leaf_writes() > seen[0] and b._version == seen[1]
    version = write_values([a, b], [4.0, 5.0])
    assert version < leaf_writes() and a._version == b._version == version > seen[0]
    assert (a.value, b.value) == (4.0, 5.0)


def test_a_bulk_write_is_seen_by_every_cache_of_the_nodes():
    from symnet.graph import write_values

    x, w = sn.Input("x", 2.0), sn.Parameter(1.0, name="w")
    first, second = w * x, (w * x).tanh()
    assert first.forward() == 2.0 and first.compile().parameter_values == [1.0]
    second.forward()
    write_values([w], [3.0])
    assert first.forward() == 6.0  # the node-level cache re-reads the leaf
    assert first.compile().parameter_values == [3.0] and second.compile().parameter_values == [3.0]
    w.value = 4.0  # a single write after the bulk one is seen too
    assert first.compile().parameter_values == [4.0] and second.forward() == pytest.approx(math.tanh(8.0))
