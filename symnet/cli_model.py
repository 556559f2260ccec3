"""The command line's arguments: a MODEL (file, formula or module:attribute), points and targets.

A MODEL argument is one of

* a saved model file, any argument ending in ``.json`` (read with :func:`symnet.load`);
  ``--set w=0.5`` changes parameter values of a saved or imported model too;
* ``module:attribute`` naming a node, a network, a PyTorch model (imported with
  :func:`symnet.from_torch`) or a micrograd value (:func:`symnet.from_micrograd`:
  its labelled leaves become parameters, the other leaves constants) in the user's
  own Python code: ``path/to/file.py:net`` imports that file, ``package.module:net`` imports the
  module from the current folder or the installed packages (this runs the user's
  own code, at their explicit request; attributes may be dotted, ``m:nets.small``);
* otherwise a formula string, read by symnet's own safe parser with ``--inputs``
  naming the inputs (every other name is a parameter, valued by ``--set``; the
  others are drawn from the generator seeded with 0, so every run agrees).

``--op "swish(a)=a*sigmoid(a)"`` defines an op by formula (see
:func:`symnet.define_op`) before the model is read, so formula strings can call it.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from .network import compile as compile_graph
from .errors import InputError, SymnetError, shown
from .graph import Node, seed
from .network import Network

__all__ = ["ModelSpec", "resolve_model", "define_ops", "parse_assignments", "parse_names", "parse_target", "model_root", "with_loss"]

_MODULE_ATTR = re.compile(r"(?P<module>[^:\s]+):(?P<attr>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\Z")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for: the MODEL text, the formula's inputs and parameter values."""

    text: str
    inputs: tuple[str, ...] = ()
    values: tuple[tuple[str, float], ...] = ()


def parse_names(text: str | None) -> tuple[str, ...]:
    """``"x,y"`` -> ``("x", "y")``; names are checked when the model is built.

    >>> parse_names("x, y"), parse_names(None)
    (('x', 'y'), ())
    """
    if not text:
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _number(text: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"{where}: {shown(text.strip(), 40)} is not a number") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: {shown(text.strip(), 40)} is not a finite number")
    return v


def parse_assignments(texts: Sequence[str] | None, option: str = "--at") -> dict[str, float]:
    """``["x=1,y=0"]`` -> ``{"x": 1.0, "y": 0.0}`` (several options merge; a name twice is an error).

    >>> parse_assignments(["x=1, y=-0.5", "w=2"])
    {'x': 1.0, 'y': -0.5, 'w': 2.0}
    """
    out: dict[str, float] = {}
    for text in texts or ():
        for part in text.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or not _NAME.match(name):
                raise InputError(f"{option}: expected NAME=VALUE pairs separated by commas, got {shown(part.strip(), 40)}")
            if name in out:
                raise InputError(f"{option}: {name!r} is given twice")
            out[name] = _number(value, f"{option} {name}")
    return out


def parse_target(text: str | None, loss: str | None) -> Any:
    """A ``--target``: a number, comma-separated numbers (one per output of a vector
    network), a class index for cross-entropy, or a name (a new input). Without
    ``--target`` the loss's target is a new input named ``y`` (or ``target``,
    ``y_true``: the first name the model does not use; :func:`symnet.losses.attach_loss`).

    >>> parse_target("1.5", "mse"), parse_target("0,1,0", "mse"), parse_target("2", "cross_entropy")
    (1.5, [0.0, 1.0, 0.0], 2)
    >>> parse_target("t", "mse"), parse_target(None, "mse") is None
    ('t', True)
    """
    if loss is None:
        if text is not None:
            raise InputError("--target needs --loss")
        return None
    if loss == "cross_entropy":
        if text is None or not text.strip().isdigit() or not text.strip().isascii() or len(text.strip()) > 18:
            raise InputError(f"--loss cross_entropy needs --target CLASS_INDEX (0, 1, ...), got {shown(text, 40)}")
        return int(text)
    if text is None:
        return None
    if "," in text:
        return [_number(part, "--target") for part in text.split(",")]
    if _NAME.match(text.strip()):
        return text.strip()
    return _number(text, "--target")


def resolve_model(spec: ModelSpec) -> Network:
    """The network a MODEL argument names (see the module docstring).

    >>> resolve_model(ModelSpec("symnet.layers:Linear"))
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: 'symnet.layers:Linear' is a class, not a symnet node or network, a PyTorch module or a micrograd value
    """
    text = spec.text
    if not text.strip():
        raise InputError("MODEL is empty: give a .json file, a formula or module:attribute")
    match = _MODULE_ATTR.match(text)
    if not text.lower().endswith(".json") and not match:
        return _formula(spec)
    if spec.inputs:
        raise InputError("--inputs is only for formula strings; a saved or imported model names its own inputs")
    if match:
        net = _as_network(_import_attribute(match["module"], match["attr"]), text)
    else:
        from .files import load

        net = load(text)
    _set_parameters(net, dict(spec.values))
    return net


def _set_parameters(net: Network, values: dict[str, float]) -> None:
    names = net.parameter_names
    unknown = [k for k in values if k not in names]
    if unknown:
        raise InputError(f"--set: {unknown[0]!r} is not a parameter of the model; "
                         f"its parameters are {', '.join(names) or '(none)'}")
    net.set_parameters(values)


def _formula(spec: ModelSpec) -> Network:
    from .parse import parse

    values = dict(spec.values)
    seed(0)  # parameters without a value are drawn from the generator: the same in every run
    try:
        node = parse(spec.text, inputs=list(spec.inputs), values=values or None)
    except SymnetError as exc:
        if os.path.isfile(spec.text):
            raise InputError(f"{exc} (a model file name must end in .json)") from None
        raise
    return _as_network(node, spec.text)


def _import_attribute(module: str, attr: str) -> Any:
    if module.endswith(".py") or "/" in module or os.sep in module:
        obj = _import_file(module)
    else:
        here = os.getcwd()
        if here not in sys.path:
            sys.path.insert(0, here)
        try:
            obj = importlib.import_module(module)
        except ImportError as exc:
            raise InputError(f"cannot import module {module!r}: {exc}") from None
        except Exception as exc:  # the user's own code failed while importing
            raise InputError(f"importing {module!r} failed: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise InputError(f"{module!r} has no attribute {attr!r}") from None
    return obj


def _import_file(path: str) -> Any:
    if not os.path.isfile(path):
        raise InputError(f"no such Python file {path!r}")
    stem = os.path.splitext(os.path.basename(path))[0]
    name = "symnet_user_" + re.sub(r"\W", "_", stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.modules[name] = module
    sys.path.insert(0, folder)  # so that the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's own code failed while importing
        sys.modules.pop(name, None)
        raise InputError(f"importing {path!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    return module


_OP_SPEC = re.compile(r"\s*(?P<name>[A-Za-z][A-Za-z0-9_]*)\s*\((?P<args>[^()]*)\)\s*=(?P<formula>.+)\Z", re.S)


def define_ops(texts: Sequence[str] | None) -> list[str]:
    """Define the ops of ``--op NAME(a, b)=FORMULA`` options; returns their names.

    >>> define_ops(["swish_cli(a) = a*sigmoid(a)"])
    ['swish_cli']
    """
    from .userops import ensure_formula_op, operand_names

    names = []
    for text in texts or ():
        m = _OP_SPEC.match(text)
        if m is None:
            raise InputError(f"--op: expected NAME(a, b, ...)=FORMULA, got {text!r:.60}")
        args = tuple(a.strip() for a in m["args"].split(",")) if m["args"].strip() else ()
        if not args or args != operand_names(len(args)):
            raise InputError(f"--op {m['name']}: the operands must be {', '.join(operand_names(max(1, len(args))))} "
                             f"in this order, got ({m['args'].strip()})")
        ensure_formula_op(m["name"], len(args), m["formula"], f"--op {m['name']}")
        names.append(m["name"])
    return names


def _is_torch_module(obj: Any) -> bool:
    # without importing torch: a class named Module from torch.nn in the object's MRO
    return any(c.__name__ == "Module" and c.__module__.startswith("torch.nn") for c in type(obj).__mro__)


def _is_micrograd_value(obj: Any) -> bool:
    return all(hasattr(obj, f) for f in ("data", "grad", "_prev", "_op"))


def _labelled_leaves(root: Any) -> list[Any]:
    """The leaves with a label below a micrograd value, by label then discovery (iterative)."""
    seen, out, stack = set(), [], [root]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        kids = list(v._prev)
        if not kids and getattr(v, "label", ""):
            out.append(v)
        stack.extend(kids)
    return sorted(out, key=lambda v: str(v.label))


def _as_network(obj: Any, text: str) -> Network:
    if isinstance(obj, Network):
        return obj
    if isinstance(obj, Node):
        return obj.compile()
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(o, Node) for o in obj):
        return compile_graph(list(obj))
    if _is_torch_module(obj):
        from .torch_import import from_torch

        return from_torch(obj)
    if _is_micrograd_value(obj):
        from .from_micrograd import from_micrograd

        return from_micrograd(obj, parameters=_labelled_leaves(obj))
    what = "class" if isinstance(obj, type) else type(obj).__name__
    raise InputError(f"{text!r} is a {what}, not a symnet node or network, a PyTorch module or a micrograd value")


def model_root(net: Network) -> Any:
    """The graph a network was compiled from (a node, an Output or a list of nodes)."""
    root = net.root
    if root is None:
        raise InputError("this network does not keep its graph; build it with sn.compile(node)")
    return root


def with_loss(net: Network, loss: str | None, target: Any) -> Network:
    """The network with ``loss`` on top; a named target becomes a new input of that name.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> with_loss(sn.compile(w * x), "mse", "y").input_names
    ['x', 'y']
    """
    if loss is None:
        return net
    model_root(net)
    if isinstance(target, str) and (target in net.input_names or target in net.parameter_names):
        raise InputError(f"--target {target!r} is already a name in the model; choose another")
    n = net.n_outputs
    if loss != "cross_entropy" and target is not None and not isinstance(target, str):
        given = len(target) if isinstance(target, list) else 1
        if given != n:
            raise InputError(f"--target gives {given} value(s) for the network's {n} output(s); give {n}, "
                             f"comma-separated (e.g. --target {','.join(['0'] * n)}), or a name for new inputs")
    return net.with_loss(loss, target)
