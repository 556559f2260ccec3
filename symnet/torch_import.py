"""Import a PyTorch model (a ``Sequential`` or a module whose forward is a chain) as a symnet network.

PyTorch is imported only when :func:`from_torch` runs (the ``symnet[torch]``
extra); ``import symnet`` never imports it.

The model is imported in eval mode, as it computes on batch-shaped input
``(batch, features)``; symnet's network is the function of one sample. Supported:

* ``Linear``: each output unit becomes a :class:`~symnet.layers.Linear` neuron,
  named like the MLP macro (weights ``w{layer}_{unit}_{input}``, bias
  ``b{layer}_{unit}``, layers counted over the ``Linear`` modules from 1; a
  ``Linear`` without bias gets none either);
* every activation an op row names as its ``torch`` module (``ReLU``, ``Sigmoid``,
  ``Tanh``, ``LeakyReLU``, ``ELU``, ``SiLU``; the row's ``torch_param`` copies
  ``negative_slope`` or ``alpha``), and ``Softmax``/``LogSoftmax`` over the feature
  dimension (``dim=1``, ``-1`` or ``None``);
* ``Softplus(beta, threshold)`` as ``softplus(beta*z, threshold)/beta`` (PyTorch's
  definition: ``z`` where ``beta*z > threshold``); ``GELU()`` as the ``gelu`` op and
  ``GELU(approximate="tanh")`` as ``0.5*z*(1 + tanh(sqrt(2/pi)*(z + 0.044715*z**3)))``;
  ``Hardtanh(lo, hi)`` (and ``ReLU6``) as ``hi - relu(hi - lo - relu(z - lo))``, whose
  derivative is 0 at both ends, as PyTorch's;
* ``Identity``, ``Flatten`` (no-ops on ``(batch, features)``), and ``Dropout``,
  ``AlphaDropout`` and ``FeatureAlphaDropout`` in eval mode (the identity; in training
  mode they are refused: call ``model.eval()`` first);
* nested ``Sequential``, and any ``nn.Module`` whose ``forward`` is a chain of these
  (modules, ``torch.relu``, ``F.leaky_relu(x, 0.1)``, ``x.softmax(dim=1)``, ...): it is
  traced with :func:`torch.fx.symbolic_trace`.

Anything else raises :class:`~symnet.errors.GraphError` naming the module and its
index (or the traced node). Weights are copied as exact float64 values (float32
widens to float64 exactly), so outputs and gradients equal PyTorch's in float64 to
rounding.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .network import compile as compile_graph
from .errors import GraphError, InputError, NumericalError, shown
from .graph import Constant, Input, Node, Origin, Output
from .layers import Linear
from .network import Network
from .ops import OPS, Op

__all__ = ["from_torch"]

PASSTHROUGH = ("Identity", "Flatten")
DROPOUTS = ("Dropout", "AlphaDropout", "FeatureAlphaDropout")
SUPPORTED = ("Linear, ReLU, Sigmoid, Tanh, LeakyReLU, ELU, SiLU, GELU, Softplus, Hardtanh, ReLU6, Softmax, "
             "LogSoftmax, Dropout, AlphaDropout, Identity, Flatten, Sequential, and modules whose forward "
             "is a chain of these")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise InputError("from_torch needs PyTorch: pip install 'symnet[torch]'") from None
    return torch


# -- the model as a list of leaf modules ----------------------------------------------


def _modules(torch: Any, module: Any) -> list[tuple[str, Any]]:
    """The leaf modules in the order they run, each with where it sits (an index path,
    or a traced node's name)."""
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise InputError(f"from_torch expects a torch.nn.Sequential or Module, got {type(module).__name__}")
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", module)]
    while stack:
        index, m = stack.pop()
        if isinstance(m, nn.Sequential):
            prefix = f"{index}." if index else ""
            stack.extend((f"{prefix}{k}", c) for k, c in reversed(list(enumerate(m))))
        elif not isinstance(m, nn.Module) or _is_leaf(torch, m):  # a step a trace made, or torch.nn's own
            out.append((index or "0", m))
        else:
            traced = _trace(torch, m, index)
            stack.extend(reversed(traced))
    return out


def _is_leaf(torch: Any, m: Any) -> bool:
    # torch.nn's own modules (other than containers) are leaves; user classes are traced
    return type(m).__module__.startswith("torch.nn.") and not isinstance(m, torch.nn.Sequential)


def _trace(torch: Any, module: Any, index: str) -> list[tuple[str, Any]]:
    """The chain a custom module's forward runs, as modules (functions become their
    module equivalents), through torch.fx."""
    import torch.fx

    name = type(module).__name__
    try:
        graph = torch.fx.symbolic_trace(module).graph
    except Exception as exc:  # tracing runs the user's forward: any error is theirs
        raise GraphError(f"module {index or '0'} ({name}): torch.fx cannot trace its forward: "
                         f"{type(exc).__name__}: {exc}") from None
    prefix = f"{index}." if index else ""
    out: list[tuple[str, Any]] = []
    previous = None
    for node in graph.nodes:
        where = f"module {index or '0'} ({name}), traced node '{node.name}'"
        if node.op == "placeholder":
            if previous is not None:
                raise GraphError(f"{where}: from_torch imports a forward with one input tensor")
            previous = node
            continue
        if node.op == "output":
            if node.args[0] is not previous:
                raise GraphError(f"{where}: the forward must return the last value of its chain")
            break
        tensors = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, torch.fx.Node)]
        if not node.args or node.args[0] is not previous or len(tensors) != 1:
            raise GraphError(f"{where}: from_torch imports a chain, in which each step uses only the "
                             f"previous value ({node.format_node()})")
        if node.op == "call_module":
            out.append((f"{prefix}{node.target}", module.get_submodule(node.target)))
        elif node.op in ("call_function", "call_method"):
            out.append((f"{prefix}{node.name}", _as_module(torch, node, where)))
        else:
            raise GraphError(f"{where}: unsupported step {node.op} ({node.format_node()})")
        previous = node
    return out


def _functions(torch: Any) -> dict[Any, tuple[Callable[..., Any], tuple[tuple[str, Any], ...]]]:
    """PyTorch functions and tensor methods -> (the module computing the same, its
    arguments after the input with their defaults, as the function takes them)."""
    nn, F = torch.nn, torch.nn.functional
    table: dict[Any, tuple[Callable[..., Any], tuple[tuple[str, Any], ...]]] = {}
    for keys, factory, params in [
        ((F.relu, torch.relu, "relu"), lambda **k: nn.ReLU(), (("inplace", False),)),
        ((torch.sigmoid, F.sigmoid, "sigmoid"), lambda **k: nn.Sigmoid(), ()),
        ((torch.tanh, F.tanh, "tanh"), lambda **k: nn.Tanh(), ()),
        ((F.leaky_relu,), lambda negative_slope, **k: nn.LeakyReLU(negative_slope),
         (("negative_slope", 0.01), ("inplace", False))),
        ((F.elu,), lambda alpha, **k: nn.ELU(alpha), (("alpha", 1.0), ("inplace", False))),
        ((F.silu,), lambda **k: nn.SiLU(), (("inplace", False),)),
        ((F.gelu,), lambda approximate, **k: nn.GELU(approximate=approximate), (("approximate", "none"),)),
        ((F.softplus,), lambda beta, threshold, **k: nn.Softplus(beta, threshold),
         (("beta", 1.0), ("threshold", 20.0))),
        ((F.hardtanh,), lambda min_val, max_val, **k: nn.Hardtanh(min_val, max_val),
         (("min_val", -1.0), ("max_val", 1.0), ("inplace", False))),
        ((F.relu6,), lambda **k: nn.ReLU6(), (("inplace", False),)),
        ((F.softmax, torch.softmax, "softmax"), lambda dim, **k: nn.Softmax(dim),
         (("dim", None), ("_stacklevel", 3), ("dtype", None))),
        ((F.log_softmax, torch.log_softmax, "log_softmax"), lambda dim, **k: nn.LogSoftmax(dim),
         (("dim", None), ("_stacklevel", 3), ("dtype", None))),
        ((F.dropout, F.alpha_dropout), lambda p, training, **k: _Dropout(training),
         (("p", 0.5), ("training", True), ("inplace", False))),
        ((torch.flatten, "flatten"), lambda start_dim, end_dim: _Flatten(start_dim, end_dim),
         (("start_dim", 0), ("end_dim", -1))),
    ]:
        for key in keys:
            table[key] = (factory, params)
    return table


class _Dropout:
    """A functional dropout step: the identity, unless it runs in training mode."""

    def __init__(self, training: bool) -> None:
        self.training = bool(training)


class _Flatten:
    def __init__(self, start_dim: int, end_dim: int) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim


def _as_module(torch: Any, node: Any, where: str) -> Any:
    entry = _functions(torch).get(node.target)
    if entry is None:
        label = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", node.target)
        raise GraphError(f"{where}: unsupported function {label!r}; from_torch supports {SUPPORTED}")
    factory, params = entry
    args = list(node.args[1:])
    if len(args) > len(params):
        raise GraphError(f"{where}: too many arguments ({node.format_node()})")
    bound = {name: default for name, default in params}
    for (name, _), value in zip(params, args):
        bound[name] = value
    for key, value in node.kwargs.items():
        if key not in bound:
            raise GraphError(f"{where}: unexpected argument {key!r} ({node.format_node()})")
        bound[key] = value
    return factory(**bound)


# -- building the graph -----------------------------------------------------------------


def _floats(tensor: Any, what: str) -> list[Any]:
    values = tensor.detach().to(device="cpu").double().tolist()
    flat = values if not values or not isinstance(values[0], list) else [v for row in values for v in row]
    for v in flat:
        if not math.isfinite(v):
            raise NumericalError(f"{what} holds a non-finite value {v!r}")
    return values


def _number(value: Any, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GraphError(f"{what} must be a number, got {value!r:.40}") from None
    if not math.isfinite(v):
        raise NumericalError(f"{what} must be finite, got {shown(v)}")
    return v


def _elementwise(current: list[Node], depth: int, build: Callable[[Node], Node]) -> list[Node]:
    outs = []
    for j, z in enumerate(current, start=1):
        h = build(z)
        h.origin = Origin("activation", depth or None, j)
        outs.append(h)
    return outs


def _row_activation(row: Op, m: Any, where: str) -> Callable[[Node], Node]:
    attr = None
    if row.torch_param is not None:
        v = _number(getattr(m, row.torch_param), f"{where} {row.torch_param}")
        attr = None if v == row.param_default else v
    return lambda z: Node.apply(row.name, (z,), attr=attr)


def _softplus(m: Any, where: str) -> Callable[[Node], Node]:
    beta = _number(m.beta, f"{where} beta")
    threshold = _number(m.threshold, f"{where} threshold")
    if beta == 0.0:
        raise GraphError(f"{where}: beta must not be 0")
    if beta == 1.0:
        return lambda z: Node.apply("softplus", (z,), attr=threshold)
    return lambda z: Node.apply("div", (Node.apply("softplus", (Node.apply("mul", (Constant(beta), z)),),
                                                   attr=threshold), Constant(beta)))


def _gelu_tanh(z: Node) -> Node:
    # PyTorch: 0.5 * x * (1 + tanh(kBeta * (x + kKappa * x^3))), kBeta = sqrt(2/pi)
    k_beta = math.sqrt(2.0) * (2.0 / math.sqrt(math.pi)) * 0.5
    inner = Node.apply("mul", (Constant(k_beta), Node.apply("add", (z, Node.apply(
        "mul", (Constant(0.044715), Node.apply("pow", (z,), attr=3.0)))))))
    return Node.apply("mul", (Constant(0.5), z, Node.apply("add", (Constant(1.0), Node.apply("tanh", (inner,))))))


def _hardtanh(m: Any, where: str) -> Callable[[Node], Node]:
    lo, hi = _number(m.min_val, f"{where} min_val"), _number(m.max_val, f"{where} max_val")
    if not lo < hi:
        raise GraphError(f"{where}: min_val must be below max_val, got {lo} and {hi}")

    def build(z: Node) -> Node:
        # hi - relu(hi - lo - relu(z - lo)): z clamped to [lo, hi], derivative 0 at both ends
        inner = Node.apply("relu", (Node.apply("sub", (z, Constant(lo))),))
        return Node.apply("sub", (Constant(hi), Node.apply("relu", (Node.apply("sub", (Constant(hi - lo), inner)),))))

    return build


def _feature_dim(m: Any, where: str) -> None:
    dim = getattr(m, "dim", None)
    if dim not in (None, 1, -1):
        raise GraphError(f"{where}: symnet imports a softmax over the features of a batch-shaped input "
                         f"(dim=1 or -1), got dim={dim}; dim=0 would mix the samples of a batch")


def from_torch(module: Any, n_inputs: int | None = None) -> Network:
    """A symnet network computing the same function as a PyTorch model, in eval mode.

    ``module`` is an ``nn.Sequential`` or an ``nn.Module`` whose forward is a chain of
    supported steps (see the module docstring). Inputs are ``x1 .. xn``; ``n_inputs``
    is needed only when the model does not start with a ``Linear``. One output gives a
    scalar network, several a vector. Raises :class:`~symnet.errors.GraphError` for an
    unsupported step or a dropout in training mode, :class:`~symnet.errors.InputError`
    for a non-module, :class:`~symnet.errors.NumericalError` for non-finite weights.

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
            raise InputError(f"n_inputs must be a positive integer, got {shown(n_inputs)}")
        current = [Input(f"x{i}") for i in range(1, n_inputs + 1)]
    depth = 0
    for index, m in layers:
        kind = type(m).__name__.lstrip("_")
        where = f"module {index} ({kind})"
        if isinstance(m, nn.Linear):
            if current is None:
                current = [Input(f"x{i}") for i in range(1, m.in_features + 1)]
            if m.in_features != len(current):
                raise GraphError(f"{where}: expects {m.in_features} inputs but the previous layer gives {len(current)}")
            depth += 1
            weights = _floats(m.weight, f"{where} weight")
            bias = _floats(m.bias, f"{where} bias") if m.bias is not None else [False] * m.out_features
            current = [Linear(current, layer=depth, unit=j, weights=weights[j - 1], bias=bias[j - 1])
                       for j in range(1, m.out_features + 1)]
            continue
        if type(m).__name__ in DROPOUTS or isinstance(m, _Dropout):
            if m.training:
                raise GraphError(f"{where} is in training mode, where it zeroes random units; call "
                                 "model.eval() first (symnet imports the eval-mode function, in which "
                                 "dropout is the identity)")
            continue
        if isinstance(m, _Flatten) or (type(m).__name__ in PASSTHROUGH and type(m) in (nn.Identity, nn.Flatten)):
            continue
        if current is None:
            raise GraphError(f"{where}: the model does not start with a Linear; pass n_inputs=")
        row = OPS.find("torch", type(m).__name__) if type(m).__module__.startswith("torch.nn.") else None
        if row is not None and row.layerwise:
            _feature_dim(m, where)
            outs = []
            for k in range(len(current)):
                p = Node.apply(row.name, current, attr=k)
                p.origin = Origin("output", None, k + 1)
                outs.append(p)
            current = outs
        elif row is not None and row.arity == 1:
            current = _elementwise(current, depth, _row_activation(row, m, where))
        elif isinstance(m, nn.Softplus):
            current = _elementwise(current, depth, _softplus(m, where))
        elif isinstance(m, nn.GELU):
            if m.approximate not in ("none", "tanh"):
                raise GraphError(f"{where}: unknown approximate={m.approximate!r}")
            build = _gelu_tanh if m.approximate == "tanh" else (lambda z: Node.apply("gelu", (z,)))
            current = _elementwise(current, depth, build)
        elif isinstance(m, nn.Hardtanh):
            current = _elementwise(current, depth, _hardtanh(m, where))
        else:
            raise GraphError(f"{where}: unsupported module; from_torch supports {SUPPORTED}")
    if current is None:
        raise GraphError("from_torch: the model has no layers; pass n_inputs= for an empty model")
    return compile_graph(current[0] if len(current) == 1 else Output(current))
