"""Losses and Softmax as graph nodes: values, gradients, stability, bad targets."""

from __future__ import annotations

import math

import pytest

import symnet as sn


def test_mse_value_and_gradient():
    p, t = sn.Input("p", 3.0), sn.Input("t", 1.0)
    loss = sn.mse(p, t)
    assert loss.forward() == 4.0
    loss.backward()
    assert p.grad == 4.0 and t.grad == -4.0


def test_mse_vector_is_the_mean():
    a, b = sn.Input("a", 1.0), sn.Input("b", 3.0)
    assert sn.mse(sn.Output([a, b]), [0.0, 1.0]).forward() == 2.5


def test_bce_is_finite_at_exact_zero_and_one():
    for p, t, expected in [(0.0, 1.0, 100.0), (1.0, 0.0, 100.0), (1.0, 1.0, 0.0)]:
        assert sn.bce(sn.Input("p", p), t).forward() == pytest.approx(expected)


def test_bce_gradient_matches_formula():
    p = sn.Input("p", 0.3)
    loss = sn.bce(p, 1.0)
    assert loss.forward() == pytest.approx(-math.log(0.3))
    loss.backward()
    assert p.grad == pytest.approx(-1 / 0.3)


def test_softmax_is_stable():
    out = sn.Softmax([sn.Constant(1000.0), sn.Constant(0.0)])
    assert out.forward() == [1.0, 0.0]
    out = sn.Softmax([sn.Constant(-1000.0), sn.Constant(-1000.0)])
    assert out.forward() == [0.5, 0.5]


def test_cross_entropy_of_softmax_has_gradient_p_minus_onehot():
    zs = [sn.Input("z1", 0.5), sn.Input("z2", -1.0), sn.Input("z3", 2.0)]
    probs = sn.Softmax(zs)
    loss = sn.cross_entropy(probs, 1)
    p = probs.forward()
    assert loss.forward() == pytest.approx(-math.log(p[1]))
    loss.backward()
    for k, z in enumerate(zs):
        assert z.grad == pytest.approx(p[k] - (1.0 if k == 1 else 0.0), abs=1e-15)


def test_cross_entropy_with_huge_logits_and_wrong_label():
    loss = sn.cross_entropy(sn.Softmax([sn.Input("a", 1000.0), sn.Input("b", 0.0)]), 1)
    assert loss.forward() == 1000.0


@pytest.mark.parametrize("call, message", [
    (lambda: sn.bce(sn.Input("p"), 1.5), "target"),
    (lambda: sn.cross_entropy(sn.Softmax([sn.Input("a"), sn.Input("b")]), 2), "target index"),
    (lambda: sn.mse(sn.Output([sn.Input("a"), sn.Input("b")]), [1.0]), "2 prediction"),
    (lambda: sn.Softmax([]), "at least one"),
])
def test_bad_loss_configuration_is_named(call, message):
    with pytest.raises(sn.SymnetError, match=message):
        call()
