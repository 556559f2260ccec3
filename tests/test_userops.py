"""define_op: names a formula reads otherwise are refused (the op table is shared)."""

from __future__ import annotations

import pytest

import symnet as sn
from symnet.ops import OPS


@pytest.mark.parametrize("name, kind", [
    ("e", "a constant or a keyword"), ("pi", "a constant or a keyword"), ("inf", "a constant or a keyword"),
    ("lambda", "a constant or a keyword"), ("max", "a constant or a keyword"),
    ("heaviside", "a built-in function"),
    ("x", "a variable"), ("y", "a variable"), ("L", "a variable"), ("yhat", "a variable"), ("p", "a variable"),
    ("delta", "a variable"),
])
def test_reserved_names_are_refused(name, kind):
    with pytest.raises(sn.GraphError, match=f"op name '{name}' is reserved: formulas read it as {kind}"):
        sn.define_op(name, 1, formula="a*a")
    assert name not in OPS  # nothing was registered


def test_formulas_still_read_x_after_a_refused_definition():
    with pytest.raises(sn.GraphError):
        sn.define_op("x", 1, formula="a*a")
    net = sn.compile(sn.parse("x*exp(1)", inputs=["x"]))
    assert net.predict([2.0]) == pytest.approx(2 * 2.718281828459045)
