"""The engine's rounding bounds: they follow the magnitudes of the terms, not a fixed floor."""

from __future__ import annotations

import symnet as sn
from symnet import engine
from symnet.check_bound import EPS, backward_bounds, forward_bounds
from symnet.check_ref import LocalForms, reference_values


def _program(node, **values):
    p = sn.compile(node).program
    leaves = engine.leaf_template(p)
    for i in p.inputs + p.parameters:
        leaves[i] = values[p.names[i]]
    return p, leaves


def test_a_cancelling_sum_is_allowed_its_cancellation():
    x = sn.Input("x")
    p, leaves = _program((x + 1e8) - 1e8, x=0.3)
    ref, bad = reference_values(p, leaves, LocalForms())
    err = forward_bounds(p, ref, LocalForms())
    assert bad is None and 1e8 * EPS <= err[p.outputs[0]] <= 1e8 * EPS * 64


def test_tiny_gradients_get_tiny_bounds():
    x, w = sn.Input("x"), sn.Parameter(1e-9, name="w")
    p, leaves = _program(w * w * x, x=1e-9, w=1e-9)
    vals = engine.evaluate(p, leaves)
    mag, bound = backward_bounds(p, vals, p.outputs[0], LocalForms())
    w_index = p.parameters[0]
    assert 1e-19 < mag[w_index] < 1e-17 and bound[w_index] < 1e-30


def test_a_saturated_sigmoid_allows_its_output_rounding():
    z = sn.Parameter(40.0, name="z")
    p, leaves = _program(z.sigmoid(), z=40.0)
    vals = engine.evaluate(p, leaves)
    _, bound = backward_bounds(p, vals, p.outputs[0], LocalForms())
    assert 4 * bound[p.parameters[0]] > 4.25e-18  # y rounds to 1.0, so y(1 - y) = 0 against 4.25e-18
