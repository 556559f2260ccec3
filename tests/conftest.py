"""Fixtures shared by the tests."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture
def default_recursion_limit():
    """Run at CPython's default recursion limit, whatever a plugin may have set."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(before)


try:
    import numpy  # noqa: F401
    HAVE_NUMPY = True
except ImportError:  # NumPy is optional: what needs it skips, with the reason
    HAVE_NUMPY = False

#: Doctests of the library that run NumPy code.
NUMPY_DOCTESTS = ("symnet.network.Network.layer_parameters", "symnet.network.Network.to_numpy", "symnet.ops_array")


def pytest_collection_modifyitems(config, items):
    """Without NumPy, skip the cases parametrized with the "numpy" engine and the doctests that run
    NumPy code (the README: tests that need an optional module skip with a reason)."""
    if HAVE_NUMPY:
        return
    skip = pytest.mark.skip(reason="needs NumPy (pip install numpy)")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        doctest_name = getattr(getattr(item, "dtest", None), "name", "")
        if "numpy" in params.values() or doctest_name in NUMPY_DOCTESTS:
            item.add_marker(skip)
