"""The data side of train_model: loss graphs, argument checks, sample checks."""

from __future__ import annotations

import math

import pytest

import symnet as sn
from symnet.train_data import (LossGraph, batches, check_config, check_pairs, check_samples, loss_graph,
                               model_network)


def _model():
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    return sn.Output([sn.Parameter(0.5, name="a") * x1, sn.Parameter(-0.5, name="b") * x2])


def test_loss_graphs_are_compiled_once_per_target_shape_and_kept_on_the_model():
    net = sn.compile(_model())
    graph = loss_graph(net, "mse")
    assert loss_graph(net, "mse") is graph and loss_graph(net, "bce") is not graph
    first, tvals = graph.network([1.0, 2.0])
    assert graph.network([3.0, 4.0])[0] is first and tvals == [1.0, 2.0]
    ce = LossGraph(net, "cross_entropy")
    assert ce.network(0)[0] is not ce.network(1)[0] and ce.network(1)[0] is ce.network(1)[0]


@pytest.mark.parametrize("target, message", [([1.0], r"1 value\(s\) for 2 output"), ([1.0, math.inf], "finite")])
def test_a_bad_target_is_an_input_error(target, message):
    with pytest.raises(sn.InputError, match=message):
        LossGraph(_model(), "mse").network(target)


def test_cross_entropy_targets_are_class_indices():
    for bad in (1.0, True, "1"):
        with pytest.raises(sn.InputError, match="class index"):
            LossGraph(_model(), "cross_entropy").network(bad)


@pytest.mark.parametrize("args, message", [((-1, 0.1, None, 1), "epochs"), ((1, 0.0, None, 1), "lr"),
                                           ((1, math.nan, None, 1), "lr"), ((1, 0.1, 0, 1), "print_every"),
                                           ((1, 0.1, None, 0), "batch_size"), ((True, 0.1, None, 1), "epochs")])
def test_bad_settings_are_named(args, message):
    with pytest.raises(sn.InputError, match=message):
        check_config(*args)


def test_settings_of_other_number_types_are_converted():
    cfg = check_config(2, 1, 5, None)
    assert (cfg.epochs, cfg.lr, cfg.print_every, cfg.batch_size) == (2, 1.0, 5, None) and type(cfg.lr) is float


def test_batches_cover_the_data_in_order():
    assert list(batches(7, 3)) == [range(0, 3), range(3, 6), range(6, 7)] and list(batches(4, None)) == [range(4)]


def test_the_first_bad_sample_is_named():
    check_pairs([([1.0], 1.0), ((2.0,), 2.0)])
    with pytest.raises(sn.InputError, match="data item 1 must be an"):
        check_pairs([([1.0], 1.0), [[1.0]], "xy"])
    net = sn.compile(_model())
    data = [([1.0, 2.0], [0.0, 1.0]), ([1.0, math.nan], [0.0, 1.0]), ([1.0], [0.0, 1.0])]
    with pytest.raises(sn.InputError, match=r"data item 1: .*nothing was trained"):
        check_samples(loss_graph(net, "mse"), net, data, 0)
    with pytest.raises(sn.InputError, match=r"data item 2: "):
        check_samples(loss_graph(net, "mse"), net, data, 2)


def test_a_model_is_a_node_or_a_network():
    model = _model()
    assert model_network(model) is model.compile()
    with pytest.raises(sn.InputError, match="node or a compiled Network"):
        model_network("w * x")
