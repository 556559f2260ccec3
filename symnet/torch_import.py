"""Import a small PyTorch ``nn.Sequential`` (Linear and activations) as a symnet network.

PyTorch is imported only when :func:`from_torch` runs (the ``symnet[torch]``
extra); ``import symnet`` never imports it.

Supported modules, in any order: ``Linear`` (each output unit becomes a
:class:`~symnet.layers.Linear` neuron, named like the MLP macro: weights
``w{layer}_{unit}_{input}``, bias ``b{layer}_{unit}``, layers counted over the
``Linear`` modules from 1; a ``Linear`` without bias gets a bias parameter of
0.0), ``ReLU``, ``Sigmoid``, ``Tanh``, ``Softmax`` (over the single vector
dimension: ``dim`` 0, -1 or ``None``), ``Identity`` and ``Flatten`` (no-ops on a
1-D input), and nested ``Sequential``. Anything else raises
:class:`~symnet.errors.GraphError` naming the module and its index. Weights are
copied as exact float64 values (float32 widens to float64 exactly).
"""

from __future__ import annotations

import math
from typing import Any

from .network import compile as compile_graph
from .errors import GraphError, InputError, NumericalError
from .graph import Input, Node, Origin, Output
from .layers import Linear, activate
from .losses import Softmax
from .network import Network

__all__ = ["from_torch"]

#: torch activation class name -> symnet op name (a one-input op of the op table).
ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}
PASSTHROUGH = ("Identity", "Flatten")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise InputError("from_torch needs PyTorch: pip install 'symnet[torch]'") from None
    return torch


def _modules(torch: Any, module: Any) -> list[tuple[str, Any]]:
    """The leaf modules of (nested) Sequentials, in order, each with its index path."""
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise InputError(f"from_torch expects a torch.nn.Sequential, got {type(module).__name__}")
    if not isinstance(module, nn.Sequential):
        return [("0", module)]
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [(str(k), m) for k, m in reversed(list(enumerate(module)))]
    while stack:
        index, m = stack.pop()
        if isinstance(m, nn.Sequential):
            stack.extend((f"{index}.{k}", c) for k, c in reversed(list(enumerate(m))))
        else:
            out.append((index, m))
    return out


def _floats(tensor: Any, what: str) -> list[Any]:
    values = tensor.detach().to(device="cpu").double().tolist()
    flat = values if not values or not isinstance(values[0], list) else [v for row in values for v in row]
    for v in flat:
        if not math.isfinite(v):
            raise NumericalError(f"{what} holds a non-finite value {v!r}")
    return values


def from_torch(module: Any, n_inputs: int | None = None) -> Network:
    """A symnet network computing the same function as a PyTorch ``nn.Sequential``.

    Inputs are ``x1 .. xn``; ``n_inputs`` is needed only when the model does not
    start with a ``Linear``. One output gives a scalar network, several a vector.

    >>> import pytest, symnet as sn
    >>> torch = pytest.importorskip("torch")
    >>> torch.manual_seed(0) and None
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    >>> net = sn.from_torch(model)
    >>> net.parameter_names[:4], len(net.parameters)
    (['w1_1_1', 'w1_1_2', 'b1_1', 'w1_2_1'], 13)
    >>> x = torch.tensor([0.5, -1.0], dtype=torch.float64)
    >>> abs(net.predict([0.5, -1.0]) - model.double()(x).item()) < 1e-15
    True
    """
    torch = _torch()
    nn = torch.nn
    layers = _modules(torch, module)
    current: list[Node] | None = None
    if n_inputs is not None:
        if isinstance(n_inputs, bool) or not isinstance(n_inputs, int) or n_inputs < 1:
            raise InputError(f"n_inputs must be a positive integer, got {n_inputs!r}")
        current = [Input(f"x{i}") for i in range(1, n_inputs + 1)]
    depth = 0
    for index, m in layers:
        kind = type(m).__name__
        where = f"module {index} ({kind})"
        if isinstance(m, nn.Linear):
            if current is None:
                current = [Input(f"x{i}") for i in range(1, m.in_features + 1)]
            if m.in_features != len(current):
                raise GraphError(f"{where}: expects {m.in_features} inputs but the previous layer gives {len(current)}")
            depth += 1
            weights = _floats(m.weight, f"{where} weight")
            bias = _floats(m.bias, f"{where} bias") if m.bias is not None else [0.0] * m.out_features
            current = [Linear(current, layer=depth, unit=j, weights=weights[j - 1], bias=bias[j - 1])
                       for j in range(1, m.out_features + 1)]
            continue
        if kind in PASSTHROUGH and type(m) in (nn.Identity, nn.Flatten):
            continue
        if current is None:
            raise GraphError(f"{where}: the model does not start with a Linear; pass n_inputs=")
        if type(m) in (nn.ReLU, nn.Sigmoid, nn.Tanh):
            outs = []
            for j, z in enumerate(current, start=1):
                h = activate(z, ACTIVATIONS[kind], where)
                h.origin = Origin("activation", depth or None, j)
                outs.append(h)
            current = outs
        elif type(m) is nn.Softmax:
            if m.dim not in (None, 0, -1):
                raise GraphError(f"{where}: only a softmax over the vector (dim 0, -1 or None) is supported, got dim={m.dim}")
            current = list(Softmax(current).children)
        else:
            supported = "Linear, ReLU, Sigmoid, Tanh, Softmax, Identity, Flatten, Sequential"
            raise GraphError(f"{where}: unsupported module; from_torch supports {supported}")
    if current is None:
        raise GraphError("from_torch: the model has no layers; pass n_inputs= for an empty model")
    return compile_graph(current[0] if len(current) == 1 else Output(current))
