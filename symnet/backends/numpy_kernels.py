"""Array versions of the scalar kernels that the op rows' Python forms call, by name."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..ops import BCE_LOG_FLOOR, Op

__all__ = ["ARRAY_KERNELS", "stack_rows", "Elementwise"]


def _sigmoid(x: Any) -> Any:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))


def _relu_grad(x: Any) -> Any:
    return np.greater(x, 0.0).astype(np.float64)


def _power_grad(x: Any, p: float) -> Any:
    if p == 0.0:
        return np.zeros_like(x, dtype=np.float64)
    if p == 1.0:
        return np.ones_like(x, dtype=np.float64)
    return p * np.power(x, p - 1.0)


def _stacked(zs: Sequence[Any]) -> Any:
    return np.array(np.broadcast_arrays(*zs), dtype=np.float64)


def _softmax(zs: Sequence[Any], k: int) -> Any:
    z = _stacked(zs)
    e = np.exp(z - z.max(axis=0))
    return e[k] / e.sum(axis=0)


def _log_softmax(zs: Sequence[Any], k: int) -> Any:
    z = _stacked(zs)
    m = z.max(axis=0)
    return z[k] - m - np.log(np.exp(z - m).sum(axis=0))


def _bce(p: Any, t: Any) -> Any:
    lp = np.where(p > 0.0, np.log(np.where(p > 0.0, p, 1.0)), -np.inf)
    lq = np.where(p < 1.0, np.log(np.where(p < 1.0, 1.0 - p, 1.0)), -np.inf)
    return -(t * np.maximum(lp, BCE_LOG_FLOOR) + (1.0 - t) * np.maximum(lq, BCE_LOG_FLOOR))


#: Array versions of the scalar kernels that the rows' Python forms call, by name.
ARRAY_KERNELS: dict[str, Callable[..., Any]] = {
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": _sigmoid, "relu": lambda x: np.maximum(x, 0.0),
    "relu_grad": _relu_grad, "power": np.power, "power_grad": _power_grad, "softmax": _softmax,
    "log_softmax": _log_softmax, "bce": _bce,
}


def stack_rows(rows: Sequence[Any], n: int) -> Any:
    """A ``(len(rows), n)`` array from rows that are arrays or numbers (broadcast)."""
    out = np.empty((len(rows), n))
    for r, v in enumerate(rows):
        out[r] = v
    return out


class Elementwise:
    """A row's scalar kernels applied elementwise (for rows without an array form)."""

    def __init__(self, op: Op, attr: Any, n: int) -> None:
        self.op, self.attr, self.n = op, attr, n
        self._fwd = np.vectorize(lambda *xs: op.forward(xs, attr), otypes=[np.float64])
        self._par = np.vectorize(lambda *a: op.partials(a[:-1], a[-1], attr), otypes=[np.float64] * n)

    def forward(self, *xs: Any) -> Any:
        return self._fwd(*xs)

    def partials(self, *xs_and_y: Any) -> tuple[Any, ...]:
        out = self._par(*xs_and_y)
        return (out,) if self.n == 1 else tuple(out)
