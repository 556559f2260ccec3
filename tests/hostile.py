"""Shared helpers of the hostile-argument tests (tests/test_hostile_*.py): strategies that
draw values of the wrong type or range, and the contract every public call must keep."""

from __future__ import annotations

import decimal
import fractions
import math
from typing import Any, Callable

from hypothesis import strategies as st

import symnet as sn

#: Values of the wrong type or range for a number, a name, a path, a list or a flag.
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([10**400, -(10**400), 10**309, 2**1024, 10**5000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0]),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "abc", "1e400", "nan", "a\x00b", "__import__('os')", "x", "w", "mse", "10"]),
    st.binary(max_size=12),
    st.builds(bytearray, st.binary(max_size=8)),
    st.builds(memoryview, st.binary(max_size=8)),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([decimal.Decimal("NaN"), decimal.Decimal("1e400"), fractions.Fraction(1, 3), object(),
                     {"x": math.nan}, [math.inf], (1.0, "a"), {1, 2}, range(3), Ellipsis, float, print]),
)


def finite_results(value: Any) -> None:
    """Assert that every float reachable in ``value`` (a number, or lists, tuples and dict
    values of them) is finite."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, float):
            assert math.isfinite(v), f"non-finite value {v!r} returned"
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())


def contained(call: Callable[[], Any]) -> Any:
    """Run ``call``: it either returns finite results or raises a SymnetError. Any other
    exception propagates and fails the test. Returns the result, or the error."""
    try:
        result = call()
    except sn.SymnetError as exc:
        return exc
    finite_results(result)
    return result
