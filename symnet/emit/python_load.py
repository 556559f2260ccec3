"""Loading and running generated Python: compile the source once, check arguments and results.

:class:`CompiledPython` runs the functions of :mod:`symnet.emit.python_source` with
their kernels bound by object. It checks arguments where they enter (an
:class:`~symnet.errors.InputError` naming the argument), and results with one cheap
test: the sum of all outputs and gradients is finite. Only when that test fails, or
a kernel raises an arithmetic error (``ArithmeticError``, or the ``ValueError`` that
:mod:`math` raises outside a function's domain), does :func:`locate` walk the
program to find the node to blame and raise a :class:`~symnet.errors.NumericalError`
naming it and the value. Any other exception (a ``TypeError`` is a bug) propagates
as it is.
"""

from __future__ import annotations

import linecache
import numbers
from typing import Any, Callable, Sequence

from .. import engine
from ..program import Program
from ..errors import InputError, NumericalError
from .python_source import build

__all__ = ["register", "load", "CompiledPython", "codegen", "locate", "NUMERIC_ERRORS"]

#: What a kernel raises for a number it cannot handle (overflow, division by zero,
#: ``math`` domain errors). Nothing else is caught.
NUMERIC_ERRORS = (ArithmeticError, ValueError)

_counter = iter(range(1, 1 << 62))


def register(source: str, label: str) -> str:
    """A unique file name for generated ``source``, registered with :mod:`linecache` so
    that tracebacks through the generated code show its lines."""
    filename = f"<symnet-{label}-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return filename


def load(source: str, env: dict[str, Any], label: str, only: str | None = None) -> dict[str, Any]:
    """Run generated ``source`` in ``env`` under a registered file name (``env["__file__"]``).

    With ``only``, just that function is compiled (the rest of the source stays out
    of the compiler; line numbers are kept), which halves the cost for a big network
    when only its gradient is needed.
    """
    filename = env.get("__file__") or register(source, label)
    text = source
    if only is not None:
        start = source.index(f"\ndef {only}(") + 1 if not source.startswith(f"def {only}(") else 0
        end = source.find("\n\n\ndef ", start)
        text = "\n" * source.count("\n", 0, start) + source[start:None if end < 0 else end + 1]
    exec(compile(text, filename, "exec"), env)  # generated from op rows and validated names only
    env["__file__"] = filename
    return env


def _finite(x: float) -> bool:
    return x - x == 0.0


def locate(program: Program, values: list[Any], seeds: dict[int, float] | None) -> NumericalError | None:
    """The error for the first node whose value, or whose gradient contribution, is not
    finite (evaluation order forward, then reverse order backward); None if there is none.
    The engine raises its own :class:`NumericalError` where an op fails.
    """
    p = program
    vals = engine.evaluate(p, values)
    for i in p.op_indices:
        if not _finite(vals[i]):
            return NumericalError(f"node '{p.names[i]}' ({p.ops[i].name}) is {vals[i]!r}: not a finite number")
    if seeds is None:
        return None
    adj = engine.backward(p, vals, seeds)
    for j in reversed(p.op_indices):
        g = adj[j]
        if g == 0.0 or not _finite(g):
            continue
        kids = p.args[j]
        partials = p.ops[j].partials(tuple(vals[a] for a in kids), vals[j], p.attrs[j])
        for a, d in zip(kids, partials):
            if not _finite(g * d):
                return NumericalError(
                    f"the gradient at '{p.names[a]}' is not finite: {g!r} * {d!r} = {g * d!r} through "
                    f"node '{p.names[j]}' ({p.ops[j].name}) = {vals[j]!r}")
    for i, g in enumerate(adj):
        if not _finite(g):
            return NumericalError(f"the gradient at '{p.names[i]}' is {g!r}: not a finite number")
    return None


def _real(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what}: expected a real number, got {type(value).__name__} {value!r:.40}")
    try:
        return float(value)
    except OverflowError:
        raise InputError(f"{what}: {value!r:.40} is too large for a float") from None


class CompiledPython:
    """A network's generated ``forward`` and ``gradient``, compiled once.

    The raw generated functions are :attr:`raw_forward` and :attr:`raw_gradient`; the
    methods here check their arguments (:class:`~symnet.errors.InputError`), add the
    defaults (current parameter values, seed 1 for a scalar output), and raise a
    :class:`~symnet.errors.NumericalError` naming the node where a value or a gradient
    is not finite (an overflow, a value outside an op's domain, a non-finite seed).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> fns = sn.compile(w * x * x).codegen()
    >>> fns.forward([3.0]), fns.gradient([3.0])
    ((18.0,), ((18.0,), (9.0, 12.0)))
    >>> fns.gradient_names
    ['w', 'x']
    """

    def __init__(self, network: Any) -> None:
        self.network = network
        self.program: Program = network.program
        self.source, binder = build(self.program)
        self._env = binder.env
        self.filename: str = register(self.source, "python")
        self._env["__file__"] = self.filename
        p = self.program
        self.gradient_names: list[str] = [p.names[i] for i in p.parameters + p.inputs]

    def _function(self, name: str) -> Callable[..., Any]:
        fn = self._env.get(name)
        if fn is None:  # each function is compiled on first use
            fn = load(self.source, self._env, "python", only=name)[name]
        return fn

    @property
    def raw_forward(self) -> Callable[..., tuple[float, ...]]:
        """The generated ``forward(inputs, params)``, as it is."""
        return self._function("forward")

    @property
    def raw_gradient(self) -> Callable[..., tuple[tuple[float, ...], tuple[float, ...]]]:
        """The generated ``gradient(inputs, params, seeds)``, as it is."""
        return self._function("gradient")

    def _params(self, params: Any) -> list[float]:
        if params is None:
            return list(self.network.parameter_values)
        names = self.network.parameter_names
        if isinstance(params, (str, bytes)) or not hasattr(params, "__len__"):
            raise InputError(f"params must be a sequence of {len(names)} number(s), got {type(params).__name__}")
        if len(params) != len(names):
            raise InputError(f"expected {len(names)} parameter value(s) {names[:8]}, got {len(params)}")
        out = [_real(v, f"parameter '{n}'") for n, v in zip(names, params)]
        for n, v in zip(names, out):
            if not _finite(v):
                raise InputError(f"parameter '{n}': value must be finite, got {v!r}")
        return out

    def _seeds(self, seeds: Any) -> tuple[float, ...]:
        p = self.program
        n = len(p.outputs)
        if seeds is None:
            if n > 1:
                raise InputError(f"this network has {n} outputs: pass a seed per output")
            return (1.0,)
        if isinstance(seeds, numbers.Real) and n == 1:
            seq: tuple[float, ...] = (_real(seeds, "seed"),)
        elif isinstance(seeds, (list, tuple)):
            if len(seeds) != n:
                raise InputError(f"seeds has {len(seeds)} value(s) for {n} output(s)")
            seq = tuple(_real(s, f"seed {k}") for k, s in enumerate(seeds))
        else:
            raise InputError(f"seeds must be a number or a list of {n}, got {type(seeds).__name__}")
        for o, s in zip(p.outputs, seq):
            if not _finite(s):
                raise NumericalError(f"the seed for output '{p.names[o]}' is {s!r}: not a finite number")
        return seq

    def _failure(self, inputs: list[float], params: list[float], seeds: tuple[float, ...] | None,
                 cause: BaseException | None) -> NumericalError:
        p = self.program
        seed_map: dict[int, float] | None = None
        if seeds is not None:
            seed_map = {}
            for o, s in zip(p.outputs, seeds):
                seed_map[o] = seed_map.get(o, 0.0) + s
        try:
            err = locate(p, self.network.leaf_values(inputs, params), seed_map)
        except NumericalError as exc:
            return exc
        if err is not None:
            return err
        return NumericalError(f"generated code failed ({cause}) where the engine did not; please report this")

    def forward(self, inputs: Any, params: Sequence[float] | None = None) -> tuple[float, ...]:
        """The outputs (a tuple, one per output) for one sample."""
        xs, ps = self.network.input_values(inputs), self._params(params)
        try:
            out = self.raw_forward(xs, ps)
        except NUMERIC_ERRORS as exc:
            raise self._failure(xs, ps, None, exc) from None
        if not _finite(sum(out)) and not all(map(_finite, out)):
            raise self._failure(xs, ps, None, None)
        return out

    def gradient(self, inputs: Any, params: Sequence[float] | None = None,
                 seeds: Any = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(outputs, grads)`` for one sample; ``grads`` follow :attr:`gradient_names`
        (every parameter, then every input). ``seeds`` weight the outputs (default:
        1 for a scalar output; required for a vector output): a number, or a list
        with one per output."""
        xs, ps, seq = self.network.input_values(inputs), self._params(params), self._seeds(seeds)
        try:
            outs, grads = self.raw_gradient(xs, ps, seq)
        except NUMERIC_ERRORS as exc:
            raise self._failure(xs, ps, seq, exc) from None
        if _finite(sum(outs) + sum(grads)) or (all(map(_finite, outs)) and all(map(_finite, grads))):
            return outs, grads
        raise self._failure(xs, ps, seq, None)


def codegen(network: Any) -> CompiledPython:
    """The network's :class:`CompiledPython`, built on first use and cached.

    >>> import symnet as sn
    >>> net = sn.compile(sn.Input("x") * 3.0)
    >>> codegen(net) is codegen(net), codegen(net).forward([2.0])
    (True, (6.0,))
    """
    cached = network._compiled.get("python")
    if cached is None:
        cached = network._compiled["python"] = CompiledPython(network)
    return cached
