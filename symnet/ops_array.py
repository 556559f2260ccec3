"""Array versions of the scalar kernels, for rows that offer the NumPy backend an array form.

A row's Python form calls scalar kernels (``math.tanh``, :func:`symnet.ops.relu` ...)
through a binder; its ``array`` field maps each such kernel to the function here
that computes it elementwise over NumPy arrays, with the same conventions
(``relu'(0) = 0``, ``sigmoid`` without overflow, ``bce``'s logs clamped at
``BCE_LOG_FLOOR``). Where the scalar kernel raises (the log of a non-positive
number, a probability outside [0, 1]) the array kernel returns NaN or an infinity
instead: array code checks its results once with ``isfinite`` and only then looks
for the node to blame.

NumPy is imported inside each kernel, so that importing symnet does not import
NumPy; the kernels are self-contained, so generated standalone modules carry their
source as it is.

>>> import numpy as np
>>> relu(np.array([-1.0, 0.0, 2.0])).tolist(), (relu_grad(np.array([-1.0, 0.0, 2.0])) * 1.0).tolist()
([0.0, 0.0, 2.0], [0.0, 0.0, 1.0])
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = ["exp", "log", "tanh", "sigmoid", "relu", "relu_grad", "power", "power_grad", "softmax",
           "log_softmax", "bce"]

#: ``bce`` clamps each log term at this floor (the same value as ``symnet.ops.BCE_LOG_FLOOR``).
BCE_LOG_FLOOR = -100.0


def exp(x: Any) -> Any:
    import numpy as np
    return np.exp(x)


def log(x: Any) -> Any:
    import numpy as np
    return np.log(x)


def tanh(x: Any) -> Any:
    import numpy as np
    return np.tanh(x)


def sigmoid(x: Any) -> Any:
    import numpy as np
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(x: Any) -> Any:
    import numpy as np
    return np.maximum(x, 0.0)  # NaN propagates, as in the scalar kernel


def relu_grad(x: Any) -> Any:
    """A mask: True (1) where ``x > 0``; it multiplies as 0/1."""
    return x > 0.0


def power(x: Any, p: float) -> Any:
    import numpy as np
    if p == 2.0:
        return x * x  # the same float as pow(x, 2)
    return np.power(x, p)


def power_grad(x: Any, p: float) -> Any:
    import numpy as np
    if p == 0.0:
        return np.zeros_like(x, dtype=np.float64)
    if p == 1.0:
        return np.ones_like(x, dtype=np.float64)
    if p == 2.0:
        return 2.0 * x  # the same float as 2 * pow(x, 1)
    return p * np.power(x, p - 1.0)


def softmax(zs: Sequence[Any], k: int) -> Any:
    import numpy as np
    z = np.array(np.broadcast_arrays(*zs), dtype=np.float64)
    e = np.exp(z - z.max(axis=0))
    return e[k] / e.sum(axis=0)


def log_softmax(zs: Sequence[Any], k: int) -> Any:
    import numpy as np
    z = np.array(np.broadcast_arrays(*zs), dtype=np.float64)
    m = z.max(axis=0)
    return z[k] - m - np.log(np.exp(z - m).sum(axis=0))


def bce(p: Any, t: Any) -> Any:
    """NaN where ``p`` or ``t`` is outside [0, 1] (the scalar kernel refuses them)."""
    import numpy as np
    inside = (p >= 0.0) & (p <= 1.0) & (t >= 0.0) & (t <= 1.0)
    lp = np.where(p > 0.0, np.log(np.where(p > 0.0, p, 1.0)), -np.inf)
    lq = np.where(p < 1.0, np.log(np.where(p < 1.0, 1.0 - p, 1.0)), -np.inf)
    floor = -100.0  # BCE_LOG_FLOOR, written here so that the kernel's source stands alone
    loss = -(t * np.maximum(lp, floor) + (1.0 - t) * np.maximum(lq, floor))
    return np.where(inside, loss, np.nan)
