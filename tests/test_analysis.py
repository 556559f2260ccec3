"""symnet.analysis: the analyses every consumer shares, checked on small programs and
on graphs too deep for recursion."""

from __future__ import annotations

import symnet as sn
from symnet import analysis


def _diamond():
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    z = w * x
    return sn.compile(z.tanh() + z * z).program


def test_uses_count_operands_and_outputs():
    p = _diamond()
    count = analysis.uses(p)
    z = p.index_of_name("t1")
    assert count[z] == 3  # tanh(z), z*z (twice)
    assert count[p.outputs[0]] == 1


def test_consumers_list_each_user_once_in_order():
    p = _diamond()
    z = p.index_of_name("t1")
    users = analysis.consumers(p)[z]
    assert users == sorted(users) and len(users) == 2
    assert all(p.ops[u] is not None for u in users)


def test_depth_and_tree_size_of_a_diamond_chain_grow_as_they_should():
    x = sn.Input("x")
    y = x
    for _ in range(40):
        y = y + y  # a diamond per level: the inlined tree doubles each time
    p = sn.compile(y).program
    out = p.outputs[0]
    assert analysis.depths(p)[out] == 40
    size, kinks = analysis.tree_sizes(p)
    assert size[out] == analysis.SIZE_CAP and kinks[out] == 0  # 2**41 - 1, capped
    assert size[p.args[out][0] - 0] <= size[out]
    small = sn.compile(sn.Input("x") + sn.Input("x2")).program
    assert analysis.tree_sizes(small)[0][small.outputs[0]] == 3


def test_tree_sizes_count_kinks():
    x = sn.Input("x")
    p = sn.compile((x.relu() + x).relu()).program
    assert analysis.tree_sizes(p)[1][p.outputs[0]] == 2


def test_intermediates_are_outputs_shared_nodes_named_nodes_and_neurons():
    p = _diamond()
    assert [p.names[i] for i in analysis.intermediates(p)] == ["t1", "yhat"]
    net = sn.compile(sn.MLP(2, [2, 1], activation="tanh"))
    names = [net.program.names[i] for i in analysis.intermediates(net.program)]
    assert names == ["z1_1", "h1_1", "z1_2", "h1_2", "yhat"]  # a linear output layer: yhat = z^(2)_1


def test_owners_put_each_op_in_the_block_of_the_named_node_that_uses_it():
    x = sn.Input("x")
    p = sn.compile(((x * 2.0) + 1.0).tanh()).program
    named = [p.outputs[0]]
    owner = analysis.owners(p, named)
    assert all(owner[i] == p.outputs[0] for i in p.op_indices)
    assert all(owner[i] == -1 for i in p.inputs)


def test_downstream_follows_every_path_once():
    p = _diamond()
    x = p.inputs[0]
    assert analysis.downstream(analysis.consumers(p), x) == list(p.op_indices)


def test_a_long_chain_needs_no_recursion():
    x = sn.Input("x")
    y = x
    for _ in range(200_000):
        y = y + 1.0
    p = sn.compile(y).program
    assert analysis.depths(p)[p.outputs[0]] == 200_000
    assert len(analysis.downstream(analysis.consumers(p), p.inputs[0])) == 200_000
