"""Helpers that batched NumPy code calls: gathering rows, and rows without array kernels.

Each is a self-contained function (NumPy imported inside), bound into generated
code by object and written out as source in standalone modules.

>>> import numpy as np
>>> stack_rows((np.array([1.0, 2.0]), 3.0), 2).tolist()
[[1.0, 2.0], [3.0, 3.0]]
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = ["stack_rows", "elementwise", "elementwise_partials"]


def stack_rows(rows: Sequence[Any], n: int) -> Any:
    """A ``(len(rows), n)`` array from rows that are arrays or numbers (broadcast)."""
    import numpy as np
    out = np.empty((len(rows), n))
    for r, v in enumerate(rows):
        out[r] = v
    return out


def elementwise(forward: Callable[..., float], attr: Any, *xs: Any) -> Any:
    """A row's scalar ``forward(xs, attr)`` at every position of the broadcast operands
    (for rows that offer no array kernel: slower, still exact)."""
    import numpy as np
    arrays = np.broadcast_arrays(*[np.asarray(x, dtype=np.float64) for x in xs])
    out = np.empty(arrays[0].shape)
    flat = [a.ravel() for a in arrays]
    for k in range(out.size):
        out.flat[k] = forward(tuple(float(a[k]) for a in flat), attr)
    return out


def elementwise_partials(partials: Callable[..., Sequence[float]], attr: Any, y: Any, *xs: Any) -> tuple[Any, ...]:
    """A row's scalar ``partials(xs, y, attr)`` at every position: one array per operand."""
    import numpy as np
    arrays = np.broadcast_arrays(*[np.asarray(x, dtype=np.float64) for x in xs], np.asarray(y, dtype=np.float64))
    shape = arrays[0].shape
    flat = [a.ravel() for a in arrays]
    outs = [np.empty(shape) for _ in xs]
    for k in range(flat[0].size):
        ps = partials(tuple(float(a[k]) for a in flat[:-1]), float(flat[-1][k]), attr)
        for o, p in zip(outs, ps):
            o.flat[k] = p
    return tuple(outs)
