"""The argument checks and error handling written into standalone generated modules.

``net.to_python()`` and ``net.to_numpy()`` write modules that run without symnet.
Their public functions check their arguments and turn failures inside the
generated code into errors that say what went wrong and where:

* the error classes are symnet's own (:class:`symnet.errors.InputError` for a bad
  argument, :class:`symnet.errors.NumericalError` for a value that overflows or
  leaves an op's domain) when symnet can be imported, and module-local classes of the
  same names (subclasses of ``ValueError`` and ``ArithmeticError``) when it cannot:
  the module imports symnet only inside ``try``/``except ImportError``;
* a bad argument (a wrong count, a missing, extra or misnamed parameter, a wrong
  shape, a value that is not a finite real number) raises ``InputError`` naming it;
* a failure inside the generated code raises ``NumericalError`` naming the variable
  being computed (a node ``h1_1``, or an adjoint ``d_h1_1``) and its line.

The texts here are fixed: they do not grow with the network. This module writes
source only and imports nothing from symnet.

>>> env = {}
>>> exec(ERRORS, env)
>>> issubclass(env["InputError"], ValueError), issubclass(env["NumericalError"], ArithmeticError)
(True, True)
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["ERRORS", "GLOBALS", "python_guard", "numpy_guard"]

#: The error classes: symnet's when it is installed, the module's own otherwise.
ERRORS = '''\
try:  # symnet's errors when symnet is installed; this module also runs without symnet
    from symnet.errors import InputError, NumericalError
except ImportError:  # the module's own classes of the same names
    InputError = type("InputError", (ValueError,), {"__doc__": "A bad argument (count, name, shape, type, value)."})
    NumericalError = type("NumericalError", (ArithmeticError,), {"__doc__": "A value overflowed or left a domain."})
'''

# Both modules: the variable being computed when the generated code failed, and its line.
_FAILURE = '''\
def _sn_failed(exc, fn):
    """The NumericalError for ``exc`` raised in ``fn``, naming the variable it was computing and the line."""
    tb, at = exc.__traceback__, None
    while tb is not None:
        at, tb = (tb if tb.tb_frame.f_code is fn.__code__ else at), tb.tb_next
    name = next((i.argval for i in _sn_dis.get_instructions(fn.__code__)
                 if at is not None and i.offset > at.tb_lasti and i.opname == "STORE_FAST"), "a value")
    line = f" (line {at.tb_lineno} of {fn.__name__})" if at is not None else ""
    return NumericalError(f"computing {name}{line} failed: {type(exc).__name__}: {exc}")
'''

_PYTHON = '''\
def _sn_floats(values, names, what):
    """``values`` (a sequence, or a dict by name) as floats in the order of ``names``."""
    if isinstance(values, dict):
        unknown, missing = [k for k in values if k not in names], [n for n in names if n not in values]
        if unknown or missing:
            raise InputError(f"{what}s: unknown name(s) {unknown[:5]}, missing {missing[:5]}; "
                             f"expected {list(names[:8])}{' ...' if len(names) > 8 else ''}")
        values = [values[n] for n in names]
    elif isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InputError(f"{what}s must be a sequence of {len(names)} number(s), got {type(values).__name__}")
    if len(values) != len(names):
        raise InputError(f"expected {len(names)} {what}(s) {list(names[:8])}, got {len(values)}")
    out = []
    for name, v in zip(names, values):
        if type(v) is not float:
            if isinstance(v, bool) or not isinstance(v, _sn_numbers.Real):
                raise InputError(f"{what} '{name}': expected a real number, got {type(v).__name__}")
            try:
                v = float(v)
            except OverflowError:
                raise InputError(f"{what} '{name}': the integer is too large for a float") from None
        if v - v != 0.0:
            raise InputError(f"{what} '{name}': value must be finite, got {v!r}")
        out.append(v)
    return out


def _sn_run(fn, *args):
    """``fn(*args)``, with every result a finite float, or NumericalError naming where it failed."""
    try:
        result = fn(*args)
    except (ArithmeticError, ValueError) as exc:  # math: overflow, a value outside a function's domain
        raise _sn_failed(exc, fn) from None
    flat = result if fn is _sn_forward else result[0] + result[1]
    if all(v - v == 0.0 for v in flat):
        return result
    seen, found, old = {}, [], _sn_sys.gettrace()

    def line(frame, event, arg):  # run again line by line: the first variable that is not finite
        for k, v in frame.f_locals.items():
            if type(v) is float and seen.get(k) is not v:
                seen[k] = v
                if v - v != 0.0 and not found:
                    found.append(f"{k} = {v!r}")
        return None if found else line

    _sn_sys.settrace(lambda frame, event, arg: line if frame.f_code is fn.__code__ else None)
    try:
        fn(*args)
    finally:
        _sn_sys.settrace(old)
    what = found[0] if found else "a result"
    raise NumericalError(f"{what} in {fn.__name__}: not a finite number (a value overflowed or became NaN)")


def forward(inputs, params):
    """The outputs (a tuple, one per output) for one sample: ``inputs`` and ``params``
    are sequences of numbers in the order of INPUT_NAMES and PARAMETER_NAMES (or dicts
    by name). Raises InputError for a bad argument, NumericalError naming the variable
    and line where a value overflows or leaves an op's domain."""
    return _sn_run(_sn_forward, _sn_floats(inputs, INPUT_NAMES, "input"),
                   _sn_floats(params, PARAMETER_NAMES, "parameter"))


def gradient(inputs, params, seeds=None):
    """``(outputs, grads)`` for one sample: ``grads`` are the derivatives of
    ``sum_k seeds[k] * output_k`` with respect to every parameter, then every input
    (PARAMETER_NAMES + INPUT_NAMES). ``seeds``: one number per output (default 1 for a
    single output). Errors as for ``forward``."""
    if seeds is None:
        if len(OUTPUT_NAMES) != 1:
            raise InputError(f"this network has {len(OUTPUT_NAMES)} outputs: pass seeds, one per output")
        seeds = (1.0,)
    elif isinstance(seeds, _sn_numbers.Real) and not isinstance(seeds, bool):
        seeds = (seeds,)
    return _sn_run(_sn_gradient, _sn_floats(inputs, INPUT_NAMES, "input"),
                   _sn_floats(params, PARAMETER_NAMES, "parameter"), _sn_floats(seeds, OUTPUT_NAMES, "seed"))
'''

_NUMPY = '''\
def _sn_array(a, shape, what, names=()):  # a as a float64 array of shape (None: any size), all finite
    if _sn_np.iscomplexobj(a):  # float() of a complex array drops the imaginary part with a warning only
        raise _sn_bad(what, " must be real numbers, not complex")
    try:
        a = _sn_np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise _sn_bad(what, f" must be an array of numbers: {exc}") from None
    if a.shape != shape and (shape[0] is not None or a.ndim != 2 or a.shape[1] != shape[1]):
        raise _sn_bad(what, f" has shape {a.shape}, expected {str(shape).replace('None', 'n')}"
                      + f": one column per input {list(names)}" * bool(names))
    v = float(_sn_np.vdot(a, a))  # not finite if a value is not (or, rarely, if the sum overflows)
    if v - v != 0.0 and not _sn_np.isfinite(a).all():
        at = tuple(int(i) for i in _sn_np.argwhere(~_sn_np.isfinite(a))[0])
        raise _sn_bad(what, f"{list(at)}{f' (input {names[at[-1]]!r})' if names else ''} is {a[at]}: not finite")
    return a


def _sn_bad(what, message):  # the InputError about argument what: "X", "G" or a key of params
    return InputError(f"{what if what in ('X', 'G') else 'params[%r]' % what}{message}")


def _sn_run(fn, X, params, *G):  # fn on the checked arguments; a failure inside it names its line
    X = _sn_array(X, (None, len(INPUT_NAMES)), "X", INPUT_NAMES)
    if not isinstance(params, dict) or params.keys() != PARAMETER_SHAPES.keys():
        raise InputError(f"params must be a dict of the arrays {list(PARAMETER_SHAPES)}, got "
                         + (str(sorted(map(str, params))) if isinstance(params, dict) else type(params).__name__))
    P = {k: _sn_array(params[k], s, k) for k, s in PARAMETER_SHAPES.items()}
    G = [_sn_array(g, (len(X), len(OUTPUT_NAMES)), "G") for g in G]
    try:
        with _sn_np.errstate(divide="raise", invalid="raise", over="raise", under="ignore"):
            out = fn(X, P, *G)
    except (ArithmeticError, ValueError) as exc:  # an overflow, or a value outside an op's domain
        raise _sn_failed(exc, fn) from None
    Y = out[0] if isinstance(out, tuple) else out  # a kernel marks a value outside its op's domain with NaN
    for i, j in _sn_np.argwhere(~_sn_np.isfinite(Y))[:1]:
        raise NumericalError(f"output {OUTPUT_NAMES[j]!r} of sample {i} is {Y[i, j]}: not finite (a value outside "
                             "an op's domain, such as a bce target outside [0, 1], or an overflow)")
    return out


def forward(X, params):
    """Outputs (n, outputs) for X (n, inputs) and params (a dict of the arrays of PARAMETER_SHAPES)."""
    return _sn_run(_sn_forward, X, params)


def forward_vjp(X, params, G):
    """(forward(X, params), vjp(X, params, G)) in one pass."""
    return _sn_run(_sn_forward_vjp, X, params, G)


def vjp(X, params, G):
    """The gradient of sum(G * forward(X, params)) for each array of params (G: the outputs' shape)."""
    return _sn_run(_sn_forward_vjp, X, params, G)[1]
'''

#: Every global name the guard defines: generated code must not bind another object to one.
GLOBALS = ("InputError", "NumericalError", "INPUT_NAMES", "PARAMETER_NAMES", "OUTPUT_NAMES", "PARAMETER_SHAPES",
           "forward", "gradient", "forward_vjp", "vjp", "_sn_failed", "_sn_floats", "_sn_run", "_sn_array",
           "_sn_bad", "_sn_forward", "_sn_gradient", "_sn_forward_vjp", "_sn_dis", "_sn_sys", "_sn_numbers",
           "_sn_math", "_sn_np")


def _names(label: str, names: Sequence[str]) -> str:
    return f"{label} = {tuple(names)!r}"


def python_guard(inputs: Sequence[str], parameters: Sequence[str], outputs: Sequence[str]) -> str:
    """The guard of a ``to_python()`` module: its imports, error classes, the names of
    its inputs, parameters and outputs, and the checked ``forward`` and ``gradient``
    that call the generated ``_sn_forward`` and ``_sn_gradient``."""
    return "\n".join(["import dis as _sn_dis", "import numbers as _sn_numbers", "import sys as _sn_sys", "",
                      ERRORS, "", _names("INPUT_NAMES", inputs), _names("PARAMETER_NAMES", parameters),
                      _names("OUTPUT_NAMES", outputs), "", "", _FAILURE, "", _PYTHON])


def numpy_guard(inputs: Sequence[str], shapes: dict[str, tuple[int, ...]], outputs: Sequence[str]) -> str:
    """The guard of a ``to_numpy()`` module (as :func:`python_guard`): ``shapes`` gives
    each array of ``params`` its shape."""
    shape_text = ", ".join(f"{k!r}: {tuple(s)!r}" for k, s in shapes.items())
    return "\n".join(["import dis as _sn_dis", "import numpy as _sn_np",
                      ERRORS, "", _names("INPUT_NAMES", inputs), _names("OUTPUT_NAMES", outputs),
                      f"PARAMETER_SHAPES = {{{shape_text}}}", "", "", _FAILURE, "", _NUMPY])
