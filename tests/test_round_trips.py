"""What funcify writes, parse reads back: the same grouping (float evaluation order),
the same input order, and names that a formula can carry (issue 16 kind 9)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

import symnet as sn


def round_trip(node):
    net = sn.compile(node)
    text = net.funcify()
    back = sn.compile(sn.parse(text, inputs=net.input_names))
    return net, back, text


@pytest.mark.parametrize("build, text", [
    (lambda a, b, c: a + (b + c), "a + (b + c)"),
    (lambda a, b, c: (a + b) + c, "a + b + c"),
    (lambda a, b, c: a * (b * c), "a*(b*c)"),
    (lambda a, b, c: c * (a / b), "c*(a/b)"),
    (lambda a, b, c: a - (b - c), "a - (b - c)"),
    (lambda a, b, c: a + b * c + (a + b), "a + b*c + (a + b)"),
])
def test_grouping_is_kept(build, text):
    a, b, c = sn.Input("a"), sn.Input("b"), sn.Input("c")
    net, back, written = round_trip(build(a, b, c))
    assert written == text and back.funcify() == text


@pytest.mark.parametrize("build, values", [
    (lambda a, b, c: a + (b + c), [1.0, 1e16, -1e16]),       # 1.0, not 0.0
    (lambda a, b, c: a * (b * c), [1e200, 1e200, 1e-200]),   # no overflow
    (lambda a, b, c: c * (a / b), [1e300, 1e10, 1e10]),      # (c*a)/b would overflow
])
def test_float_evaluation_order_survives_the_round_trip(build, values):
    a, b, c = sn.Input("a"), sn.Input("b"), sn.Input("c")
    net, back, _ = round_trip(build(a, b, c))
    assert back.predict(values) == net.predict(values)


def test_input_order_is_kept_for_positional_predict():
    a, b, c = sn.Input("a"), sn.Input("b"), sn.Input("c")
    net, back, _ = round_trip(c * (a / b))
    assert back.input_names == net.input_names == ["a", "b", "c"]
    assert back.predict([2.0, 4.0, 3.0]) == net.predict([2.0, 4.0, 3.0]) == 1.5


def test_a_model_file_hint_obeys_the_name_rules(tmp_path):
    x, w = sn.Input("x"), sn.Parameter(0.5)
    path = tmp_path / "m.json"
    sn.save(w * x, path)
    text = path.read_text()
    assert '"w1"' in text
    path.write_text(text.replace('"w1"', '"sigmoid"'))
    with pytest.raises(sn.ModelFileError, match="function name"):
        sn.load(path)


_ops = st.sampled_from(["add", "mul", "sub", "div"])


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.lists(st.tuples(_ops, st.integers(0, 10), st.integers(0, 10)), min_size=1, max_size=8),
       st.lists(st.floats(-1e3, 1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-3), min_size=3, max_size=3))
def test_random_arithmetic_round_trips_bit_for_bit(steps, values):
    a, b, c = sn.Input("a"), sn.Input("b"), sn.Input("c")
    pool = [a, b, c]
    for op, i, j in steps:
        pool.append(sn.Node.apply(op, (pool[i % len(pool)], pool[j % len(pool)])))
    net, back, text = round_trip(pool[-1])
    try:
        expected = net.predict(dict(zip(net.input_names, values[: len(net.input_names)])))
    except sn.NumericalError:
        return
    got = back.predict(dict(zip(back.input_names, values[: len(back.input_names)])))
    assert got == expected, text
