"""The numeric half of check_derivative: probes, 50-digit values and their rounding bounds."""

from __future__ import annotations

import random

import mpmath

import symnet as sn
from symnet import check_probe
from symnet.check_ref import LocalForms


def test_probes_cover_scales_signs_and_integers():
    found = check_probe.probes(["w", "x"], 6, random.Random(0))
    assert found[1].point == {k: -v for k, v in found[0].point.items()}
    mags = [abs(v) for p in found for v in p.point.values()]
    assert min(mags) < 2e-3 and max(mags) > 1e3
    assert any(all(float(v).is_integer() for v in p.point.values()) for p in found)


def test_landmarks_step_both_ways_off_every_kink():
    p = sn.compile(sn.parse("relu(w*x - 5)", inputs=["x"])).program
    found = check_probe.landmarks(p, {"w": 0.5, "x": 2.0}, ["w", "x"], "the model")
    sides = [q.point["w"] * 2.0 - 5 for q in found if not q.on_kink]
    assert min(sides) < 0 < max(sides) and max(map(abs, sides)) < 1e-3
    assert [q.point["w"] for q in found if q.on_kink] == [2.5]


def test_values_carry_a_rounding_bound_from_the_terms():
    p = sn.compile(sn.parse("(x + 1e20) - 1e20", inputs=["x"])).program
    v = check_probe.evaluate(p, p.outputs[0], {"x": 0.5}, LocalForms())
    assert v.value == mpmath.mpf("0.5")
    assert 1e20 * 1e-51 < v.magnitude < 1e20 * 1e-48  # the cancelled terms set the bound, not the result
    small = sn.compile(sn.parse("1e-300*x", inputs=["x"])).program
    v = check_probe.evaluate(small, small.outputs[0], {"x": 2.0}, LocalForms(), "x")
    with mpmath.workdps(50):
        assert abs(v.value - mpmath.mpf("1e-300")) < mpmath.mpf("1e-345") and v.magnitude < mpmath.mpf("1e-340")


def test_undefined_and_unrepresentable_values_are_none():
    for text in ("log(-x*x - 1)", "exp(exp(exp(1000)))*x", "x/(x - x)", "sqrt(-x*x - 1)"):
        p = sn.compile(sn.parse(text, inputs=["x"])).program
        assert check_probe.evaluate(p, p.outputs[0], {"x": 0.5}, LocalForms()).value is None, text


def test_digits_apart_shows_the_first_differing_digit():
    with mpmath.workdps(50):
        a, b = check_probe.digits_apart(mpmath.mpf(3), mpmath.mpf(3) + mpmath.mpf(10) ** -30)
    assert a != b and len(b.replace(".", "")) >= 31
