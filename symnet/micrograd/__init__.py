"""micrograd's API on symnet: ``from symnet.micrograd import Value`` (or ``.engine``, ``.nn``).

See :mod:`symnet.micrograd.engine` for ``Value`` and how its gradients accumulate,
and :mod:`symnet.micrograd.nn` for ``Neuron``, ``Layer`` and ``MLP``. A graph of
Values is a symnet graph: ``sn.compile(value)`` prints, checks and reports it.
"""

from __future__ import annotations

from . import engine, nn
from .engine import Value

__all__ = ["Value", "engine", "nn"]
