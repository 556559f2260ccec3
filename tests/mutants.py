"""Planted faults shared by the verifier's tests: a reverse pass with a wrong accumulation."""

from __future__ import annotations

from typing import Any, Callable


def wrong_backward(combine: Callable[[float, float, float], float]) -> Callable[..., list[float]]:
    """The engine's reverse pass with its accumulation step ``adj += g * p`` replaced by
    ``adj = combine(adj, g, p)``."""
    def backward(program: Any, values: Any, seeds: Any) -> list[float]:
        adj = [0.0] * len(program.nodes)
        for i, s in seeds.items():
            adj[i] += s
        for i in reversed(program.op_indices):
            g = adj[i]
            if g == 0.0:
                continue
            ps = program.ops[i].partials(tuple(values[a] for a in program.args[i]), values[i], program.attrs[i])
            for a, p in zip(program.args[i], ps):
                adj[a] = combine(adj[a], g, p)
        return adj
    return backward
