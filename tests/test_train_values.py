"""The values train_model trains: the flat store, the write guard, the update and its errors."""

from __future__ import annotations

import math

import pytest

import symnet as sn
from symnet.train_values import ParameterValues, WriteGuard, check_loss, stopped, updated


def _net():
    x, w, b = sn.Input("x"), sn.Parameter(2.0, name="w"), sn.Parameter(-1.0, name="b")
    return w * x + b, w, b


def test_the_store_reads_the_network_and_saves_to_it_without_touching_the_nodes():
    root, w, b = _net()
    net = sn.compile(root)
    store = ParameterValues(net)
    assert store.values == [2.0, -1.0]
    store.values = [3.0, 4.0]
    store.save()
    assert net.parameter_values == [3.0, 4.0] and (w.value, b.value) == (2.0, -1.0)
    again = ParameterValues(net)  # the values the last call saved, not read again
    assert again.raw() is store.raw() and again.values == (3.0, 4.0)


def test_saving_for_a_node_writes_the_nodes_and_their_network_at_once():
    root, w, b = _net()
    store = ParameterValues(root.compile())
    store.values = [5.0, 6.0]
    store.save(root)
    assert (w.value, b.value) == (5.0, 6.0) and root.compile().parameter_values == [5.0, 6.0]
    assert sn.compile(root).parameter_values == [5.0, 6.0]
    root.children[0].children[1].value = 2.0  # x: the node-level cache sees the new w and b
    assert root.forward() == 16.0


def test_an_array_of_values_is_read_as_floats():
    np = pytest.importorskip("numpy")
    root, w, b = _net()
    net = sn.compile(root)
    store = ParameterValues(net)
    store.values = np.array([7.0, 8.0])
    assert store.values == (7.0, 8.0) and all(type(v) is float for v in store.values)


def test_the_update_refuses_a_non_finite_value_and_names_the_parameter():
    store = ParameterValues(sn.compile(_net()[0]))
    assert updated(store, [1.0, -2.0], 0.5, 1) == [1.5, 0.0]
    with pytest.raises(sn.NumericalError, match="parameter 'b' at step 3"):
        updated(store, [0.0, math.inf], 0.5, 3)
    with pytest.raises(sn.NumericalError, match="non-finite loss at step 2"):
        check_loss(math.nan, 2, 1)
    err = stopped(OverflowError("math range error"), store, 4, 2)
    assert "step 4 (epoch 2)" in str(err) and "largest parameter is 'w' = 2.0" in str(err)


def test_the_guard_refuses_a_write_made_during_training():
    root, w, b = _net()
    guard = WriteGuard(sn.compile(root))
    guard.check(1, 1)
    b.value = 0.5
    with pytest.raises(sn.InputError, match=r"parameter 'b' was set \(to 0.5\) during training, at step 2"):
        guard.check(2, 1)
