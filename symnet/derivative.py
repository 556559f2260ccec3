"""check_derivative: is a hand-derived derivative, written as a formula, equal to SymPy's?

The model (a formula string, a node or a network) and the claim (a formula
string) are read by symnet's own parser (:func:`symnet.parse.parse`; never
``sympify`` or ``eval``) and turned into SymPy through the elementary form of
:mod:`symnet.emit.sympy`. SymPy differentiates the model. The decision:

1. a bounded symbolic test: ``expand`` and then ``cancel`` of the difference, only for
   differences of at most ``SYMBOLIC_MAX_OPS`` operations and under a time limit of
   ``SYMBOLIC_SECONDS`` (never an unbounded ``simplify``). Zero proves equality;
   anything else proves nothing;
2. numeric probes at ``points`` seeded random points, evaluated to 50 digits: every
   variable drawn from U(-2, 2) away from 0 and +-1 (0.05), the second point with
   every sign flipped, points with a kink input within 0.05 of its kink skipped,
   points where the model or its true derivative is undefined resampled (at most
   200 tries). A probe agrees when ``|claimed - true| <= 1e-10 * max(|claimed|, |true|) + 1e-12``.

Verdicts: FAIL if a probe disagrees (the counterexample is the first such point);
else UNDEFINED if the claim is not finite or not real at a probe where the true
derivative is, or if fewer than ``points`` probes could be evaluated (never PASS);
else PASS. A symbolic proof is reported (``.symbolic``) but never replaces the probes.
Models whose inlined expression exceeds ``MAX_TREE`` nodes or depth ``MAX_DEPTH``
raise ExportLimitError (check_gradients handles any size).
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import sympy as sp

from .analysis import depths, tree_sizes
from .check_ref import LocalForms, hp, number, reference_values
from .network import compile
from .parse import parse
from .program import Program
from .emit.sympy import elementary_nodes, fold_functions, leaf_symbols
from .emit.text import to_text
from .errors import ExportLimitError, FormulaError, InputError
from .graph import Input, Node, default_rng
from .network import Network

__all__ = ["check_derivative", "DerivativeVerdict", "Counterexample", "SYMBOLIC_MAX_OPS", "SYMBOLIC_SECONDS",
           "MAX_TREE", "MAX_DEPTH"]

#: The symbolic test runs only on differences with at most this many operations ...
SYMBOLIC_MAX_OPS = 400
#: ... and stops after this many seconds (main thread only; elsewhere it runs on small differences only).
SYMBOLIC_SECONDS = 2.0
#: A model whose inlined expression has more nodes than this is refused (ExportLimitError).
MAX_TREE = 20_000
#: ... or a depth above this (SymPy's ``diff`` recurses and overflows the stack at about 150).
MAX_DEPTH = 100
#: Probe agreement: ``|c - t| <= RTOL * max(|c|, |t|) + ATOL``.
RTOL, ATOL = 1e-10, 1e-12
KINK_BAND = 0.05
MAX_TRIES = 200


@dataclass(frozen=True)
class Counterexample:
    """A point where the claim and SymPy's derivative differ (``claimed`` is None where undefined)."""

    point: dict[str, float]
    claimed: float | None
    true: float | None

    def __str__(self) -> str:
        at = ", ".join(f"{k}={v:.6g}" for k, v in self.point.items())
        claimed = "undefined (not finite or not real)" if self.claimed is None else f"{self.claimed:.10g}"
        true = "undefined" if self.true is None else f"{self.true:.10g}"
        return f"at {at}: claimed = {claimed}, SymPy = {true}"


@dataclass
class DerivativeVerdict:
    """The verdict on a claimed derivative: ``correct`` is True only for PASS."""

    wrt: str
    model: str
    claimed: str
    expected: str
    expected_expr: Any
    verdict: str
    counterexample: Counterexample | None = None
    symbolic: bool | None = None
    points: list[dict[str, float]] = field(default_factory=list)
    seed: int = 0
    reason: str = ""

    @property
    def correct(self) -> bool:
        return self.verdict == "PASS"

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        head = f"d/d{self.wrt} of {self.model}: claimed {self.claimed}"
        if self.verdict == "PASS":
            how = "symbolically equal, and " if self.symbolic else ""
            return (f"{head} is correct ({how}equal at {len(self.points)} random points, seed {self.seed})\n"
                    f"  SymPy: {self.expected}")
        lines = [f"{head} is {'WRONG' if self.verdict == 'FAIL' else 'UNDEFINED'}"]
        if self.counterexample is not None:
            lines.append(f"  counterexample: {self.counterexample}")
        if self.reason:
            lines.append(f"  {self.reason}")
        lines.append(f"  expected (SymPy): {self.expected}")
        return "\n".join(lines)


def check_derivative(model: str | Node | Network, wrt: str, claimed: str | Node, *,
                     inputs: Sequence[str] | None = None, target: str | float | None = None,
                     points: int = 6, seed: int = 0, shapes: Mapping[str, tuple[int, int]] | None = None) -> Any:
    """Check a hand-derived derivative ``claimed`` of ``model`` with respect to ``wrt``.

    ``model`` is a formula string (``inputs`` names its inputs; other names are
    parameters), a node or a network. ``target``: in a formula string, a name is
    the target variable (an input of the formula); for a node or network a name
    ``y``, and for any model a number ``y``, makes the model the squared error
    ``(model - y)**2``.

    ``shapes={name: (rows, cols)}`` reads ``model`` and ``claimed`` as matrix formulas
    (``@``, ``.T``, ``sum``, ``mean``) and checks every entry of the claim; it returns a
    :class:`symnet.matrix_claims.MatrixVerdict` (see :mod:`symnet.matrix_claims`).

    >>> import symnet as sn
    >>> w, x, b = sn.Parameter(name="w"), sn.Input("x"), sn.Parameter(name="b")
    >>> v = check_derivative(w * x + b, "w", x)
    >>> v.correct, v.expected
    (True, 'x')
    >>> check_derivative((w * x + b) ** 2.0, "w", 2.0 * (w * x + b)).correct
    False
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise InputError(f"check_derivative: points must be an integer >= 2, got {points!r}")
    if shapes is not None:
        if target is not None:
            raise InputError("check_derivative: with shapes=, write the loss in the model (target= is for scalars)")
        from .matrix_claims import check_matrix_derivative

        return check_matrix_derivative(model, wrt, claimed, shapes=shapes, inputs=inputs, points=points, seed=seed,
                                       check=check_derivative)
    program, label = _model_program(model, inputs, target)
    if len(program.outputs) != 1:
        raise InputError(f"check_derivative: the model has {len(program.outputs)} outputs; check one component")
    names = {program.names[i]: i for i in program.inputs + program.parameters}
    if not isinstance(wrt, str) or wrt not in names:
        raise InputError(f"check_derivative: wrt={wrt!r} is not a variable of the model; "
                         f"its variables are {', '.join(sorted(names)) or 'none'}")
    claim_program, claim_label = _claim_program(claimed, program, names)
    out = program.outputs[0]
    size, depth = tree_sizes(program)[0][out], depths(program)[out] + 1  # levels, leaves included
    if size > MAX_TREE or depth > MAX_DEPTH or depths(claim_program)[claim_program.outputs[0]] + 1 > MAX_DEPTH:
        raise ExportLimitError(f"check_derivative: the expression is too large for SymPy (limits: {MAX_TREE} "
                               f"nodes, depth {MAX_DEPTH}; the model has {size} and {depth}); "
                               "use check_gradients, which works node by node")
    symbols = leaf_symbols(program)
    model_expr = elementary_nodes(program, symbols=symbols)[out]
    claim_expr = elementary_nodes(claim_program)[claim_program.outputs[0]]
    label = label or _short(sp.sstr(model_expr))
    claim_label = claim_label or _short(sp.sstr(claim_expr))
    try:
        expected_expr = sp.diff(model_expr, symbols[names[wrt]])
    except RecursionError:
        raise ExportLimitError("check_derivative: SymPy ran out of stack differentiating the model; "
                               "use check_gradients") from None
    verdict = DerivativeVerdict(wrt=wrt, model=label, claimed=claim_label, expected=sp.sstr(fold_functions(expected_expr)),
                                expected_expr=expected_expr, verdict="PASS", seed=seed)
    verdict.symbolic = _symbolic_zero(expected_expr - claim_expr)
    _probe(verdict, program, claim_program, expected_expr, claim_expr, points, seed)
    return verdict


# -- the model and the claim --------------------------------------------------------------


def _parse(text: str, inputs: Sequence[str]) -> Node:
    rng = default_rng()
    state = rng.getstate()  # parsed Parameters draw values; keep the user's seeded stream intact
    try:
        return parse(text, inputs=list(inputs))
    finally:
        rng.setstate(state)


def _model_program(model: Any, inputs: Sequence[str] | None, target: Any) -> tuple[Program, str]:
    ins = list(inputs or [])
    if isinstance(model, str):
        if isinstance(target, str):
            ins.append(target)
        root = _parse(model, ins)
        if target is not None and not isinstance(target, str):
            root = _squared_error(root, target)
        return compile(root).program, model.strip()
    if isinstance(model, Network):
        if model.n_outputs != 1:
            raise InputError("check_derivative: the network has several outputs; pass one of its output nodes")
        program = model.program
        if target is None:
            return program, _text(program)
        model = program.nodes[program.outputs[0]]
    if not isinstance(model, Node):
        raise InputError(f"check_derivative: model must be a formula string, a node or a network, "
                         f"got {type(model).__name__}")
    if target is not None:
        model = _squared_error(model, target)
    program = compile(model).program
    return program, _text(program)


def _text(program: Program) -> str:
    """The model as symnet writes it (terms in the order built), if that is short."""
    try:
        text = to_text(program, max_chars=200)
    except ExportLimitError:
        return ""  # labelled from its SymPy form once the size limits passed
    return text if len(text) <= 80 else ""


def _squared_error(root: Node, target: Any) -> Node:
    if isinstance(target, str):
        target = Input(target)
    elif isinstance(target, bool) or not isinstance(target, (int, float)):
        raise InputError(f"check_derivative: target must be a name or a number, got {type(target).__name__}")
    return (root - target) ** 2.0


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _claim_program(claimed: Any, program: Program, names: dict[str, int]) -> tuple[Program, str]:
    if isinstance(claimed, str):
        root = _parse(claimed, [program.names[i] for i in program.inputs])
        label = claimed.strip()
    elif isinstance(claimed, Node):
        root, label = claimed, ""
    else:
        raise InputError(f"check_derivative: claimed must be a formula string, got {type(claimed).__name__}")
    claim = compile(root).program
    unknown = [claim.names[i] for i in claim.inputs + claim.parameters if claim.names[i] not in names]
    if unknown:
        raise FormulaError(f"the claimed derivative uses {', '.join(map(repr, unknown))}, which the model does "
                           f"not have; its variables are {', '.join(sorted(names))}")
    return claim, label


# -- the symbolic test ----------------------------------------------------------------------


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[bool]:
    """Yield True if a SIGALRM time limit is armed (main thread on Unix), else False."""
    if (threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer")
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0):  # never disturb someone else's timer
        yield False
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _symbolic_zero(diff: Any) -> bool | None:
    """True if ``expand`` or ``cancel`` reduces ``diff`` to 0 within the bounds, else None."""
    try:
        ops = sp.count_ops(diff)
        with _time_limit(SYMBOLIC_SECONDS) as armed:
            if ops > (SYMBOLIC_MAX_OPS if armed else SYMBOLIC_MAX_OPS // 8):
                return None
            expanded = sp.expand(diff)
            if expanded == 0:
                return True
            return True if sp.cancel(expanded) == 0 else None
    except (_Timeout, Exception):  # proves nothing; the numeric probes decide
        return None


# -- the numeric probes ----------------------------------------------------------------------


def _draw(rng: random.Random) -> float:
    while True:
        v = rng.uniform(-2.0, 2.0)
        if abs(v) >= 0.05 and abs(abs(v) - 1.0) >= 0.05:
            return v


def _near_kink(program: Program, point: dict[str, float], forms: LocalForms) -> bool | None:
    """True if a kink input lies within KINK_BAND of its kink; None if the program is undefined."""
    leaves: list[Any] = [v if k == "constant" else None for v, k in zip(program.values, program.kinds)]
    for i in program.inputs + program.parameters:
        leaves[i] = point[program.names[i]]
    vals, bad = reference_values(program, leaves, forms)
    if bad is not None:
        return None
    for i in program.op_indices:
        op = program.ops[i]
        if op.kink is not None:
            z = op.kink(tuple(float(vals[a]) for a in program.args[i]), program.attrs[i])
            if z is not None and abs(z) < KINK_BAND:
                return True
    return False


def _probe(verdict: DerivativeVerdict, program: Program, claim: Program, expected: Any, claimed: Any,
           points: int, seed: int) -> None:
    rng = random.Random(seed)
    names = [program.names[i] for i in program.inputs + program.parameters]
    symbols = {n: sp.Symbol(n, real=True) for n in names}
    forms = LocalForms()
    undefined_claim: Counterexample | None = None
    first: dict[str, float] | None = None
    tries = 0
    while len(verdict.points) < points and tries < MAX_TRIES:
        tries += 1
        if first is not None and len(verdict.points) == 1 and tries <= MAX_TRIES // 2:
            point = {n: -v for n, v in first.items()}  # both signs of every variable
        else:
            point = {n: _draw(rng) for n in names}
        if _near_kink(program, point, forms) is not False or _near_kink(claim, point, forms):
            continue
        subs = {symbols[n]: hp(v) for n, v in point.items()}
        true = number(expected.xreplace(subs))
        if true is None:
            continue
        value = number(claimed.xreplace(subs)) if claimed.free_symbols else number(claimed)
        if first is None:
            first = point
        if value is None:
            if undefined_claim is None:
                undefined_claim = Counterexample(dict(point), None, float(true))
            continue
        verdict.points.append(dict(point))
        c, t = float(value), float(true)
        if not abs(value - true) <= RTOL * max(abs(c), abs(t)) + ATOL:
            verdict.verdict = "FAIL"
            verdict.counterexample = Counterexample(dict(point), c, t)
            return
    if undefined_claim is not None:
        verdict.verdict = "UNDEFINED"
        verdict.counterexample = undefined_claim
        verdict.reason = f"the claim {verdict.claimed} is not finite or not real where SymPy's derivative is"
    elif len(verdict.points) < points:
        verdict.verdict = "UNDEFINED"
        verdict.reason = (f"only {len(verdict.points)} of {points} points could be evaluated in {MAX_TRIES} "
                          "random tries (the derivative is undefined or on a kink elsewhere)")
