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
