"""check_derivative: is a hand-derived derivative, written as a formula, equal to SymPy's?

The model (a formula string, a node or a network) and the claim (a formula string
or a node) are read by symnet's own parser (:func:`symnet.parse.parse`; never
``sympify`` or ``eval``). A claim may use the model's variables and every named
intermediate the model prints (``z1_1``, ``h1_1``, a node's own name; ``yhat`` is the output unless a
node has that name).
Nothing uses symnet's derivative rules: SymPy differentiates each op row's own
SymPy form. The decision:

1. **Symbolic** (:mod:`symnet.check_exact`): the model's derivative and the claim
   as exact SymPy expressions (decimal literals as exact rationals), one kink region
   at a time; the difference is simplified under size and time budgets. Zero in every
   region proves equality (PASS). A nonzero difference makes the claim WRONG as
   soon as a point is found where the two differ (the counterexample): a 50-digit
   probe, or, for a difference past 50 digits (``1 + 1e-40``), SymPy's exact
   difference at a probe (:func:`symnet.check_exact.exact_difference_at`).
2. **Probes** (:mod:`symnet.check_probe`): random points at unit scale, one per scale
   from 1e-3 to 1e3, mixed scales, integers, both sides of every kink of the model
   and of the claim and the linear region of every one-argument op, evaluated to 50
   digits node by node. They look for the counterexample, check the claim's domain
   and decide alone (PASS or WRONG, with a note) only when SymPy could not decide
   within its budgets.

Verdicts: ``FAIL`` (printed WRONG) with a counterexample; ``UNDEFINED`` (never PASS)
if the claim, as written and unsimplified, is undefined (complex, infinite, division
by zero, not representable) at a probe where the model's derivative is defined, or
if fewer than ``points`` probes could be evaluated; else ``PASS``. ``method`` says what
decided, ``points`` and ``seed`` how to replay it. A claim that differs from SymPy's
derivative only on a kink itself (relu'(0) = 1 instead of 0) passes with a note.
The model must have one output and the claim one component (else an error).
Models whose inlined expression exceeds ``max_nodes`` nodes or depth ``max_depth``
raise ExportLimitError (check_gradients handles any size).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

import mpmath
import sympy as sp

from .check_exact import ExactPoint, Symbolic, exact_difference_at, expected_expression, symbolic_difference
from . import engine
from .check_fd import kink_distances
from .check_probe import Probe, Value, agree, between_kinks, close, digits_apart, evaluate, landmarks, probes
from .analysis import depths, intermediates, tree_sizes
from .check_exact import SECONDS
from .check_ref import DPS, LocalForms, hp, time_limit
from .network import compile
from .parse import parse
from .program import Program, collector_paused
from .emit.chainrule import inline_text
from .emit.forms import log_layers
from .emit.sympy import fold_functions
from .emit.text import to_text
from .errors import ExportLimitError, FormulaError, InputError, SymnetError, shown
from .graph import Input, Node, default_rng
from .network import Network

__all__ = ["check_derivative", "DerivativeVerdict", "Counterexample", "Entry", "decide", "MAX_TREE", "MAX_DEPTH", "EXTRA_SEARCH"]

#: A model whose inlined expression has more nodes than this is refused (ExportLimitError) ...
MAX_TREE = 20_000
#: The longest model or claim text check_derivative reads (``max_length=``); the parser's own
#: default is 2,000 characters, and a 999-term sum ``x + x + ... + x`` has about 4,000.
MAX_LENGTH = 20_000
#: ... or a depth above this.
MAX_DEPTH = 100
#: Random probe points a check accepts (each costs one 50-digit evaluation of model and claim).
MAX_POINTS = 10_000
#: Random points tried, beyond the probes, to find where a nonzero symbolic difference shows.
EXTRA_SEARCH = 40
#: Random points drawn at most when the model is undefined at many probes.
MAX_TRIES = 200
#: Probes per kink region at which SymPy's exact difference is evaluated when it is nonzero but no
#: 50-digit value shows it.
EXACT_POINTS = 2
#: Significant digits a counterexample shows at most.
MAX_SHOWN_DIGITS = 1_000
#: Models whose inlined tree has more nodes than this show SymPy's derivative unsorted and shortened,
#: not in the chain-rule printer's textbook form (printing, not checking, would dominate the cost).
DISPLAY_TREE = 1_000
#: ``method`` of a verdict decided by the exact difference at a point.
EXACT_METHOD = "symbolic, exact at a point"


@dataclass(frozen=True)
class Counterexample:
    """A point where the claim and SymPy's derivative differ (``claimed`` is None where undefined).

    ``claimed_text`` and ``true_text`` show the values with enough digits to differ.
    """

    point: dict[str, float]
    claimed: float | None
    true: float | None
    claimed_text: str = ""
    true_text: str = ""
    abs_diff: float | None = None
    rel_diff: float | None = None
    diff_text: str = ""
    rel_text: str = ""

    def __str__(self) -> str:
        at = ", ".join(f"{k}={v:.10g}" for k, v in self.point.items())
        if self.claimed is None:
            claimed = "undefined (not finite or not real, or not representable)"
        else:
            claimed = self.claimed_text or f"{self.claimed:.10g}"
        true = "undefined" if self.true is None else (self.true_text or f"{self.true:.10g}")
        diff = ""
        if self.abs_diff is not None:
            rel = self.rel_text or format(self.rel_diff, ".3g")
            diff = f" (difference {self.diff_text or format(self.abs_diff, '.3g')}, relative {rel})"
        return f"at {at}: claimed = {claimed}, SymPy = {true}{diff}"


@dataclass
class DerivativeVerdict:
    """The verdict on a claimed derivative: ``correct`` is True only for PASS.

    ``method`` is what decided: ``"symbolic"`` (SymPy proved the difference 0),
    ``"symbolic + counterexample"`` (SymPy's difference is nonzero and a 50-digit probe
    shows it), ``"symbolic, exact at a point"`` (SymPy's difference is nonzero, and so is
    its exact value at a probe, the coordinates as exact rationals: a difference too small
    for 50 digits, like ``1 + 1e-40`` against 1) or ``"probes"`` (SymPy could not decide
    within its budgets; ``notes`` says why).
    """

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
    method: str = ""
    notes: list[str] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.verdict == "PASS"

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        head = f"d/d{self.wrt} of {self.model}: claimed {self.claimed}"
        tail = [f"  note: {n}" for n in self.notes]
        if self.verdict == "PASS":
            how = ("symbolically equal" if self.method == "symbolic" else
                   f"equal to {DPS - 12} digits at every probe")
            return "\n".join([f"{head} is correct ({how}; decided by {self.method}; {len(self.points)} probe "
                              f"points, seed {self.seed})", f"  SymPy: {self.expected}"] + tail)
        word = "WRONG" if self.verdict == "FAIL" else "UNDEFINED"
        lines = [f"{head} is {word} (decided by {self.method})"]
        if self.counterexample is not None:
            lines.append(f"  counterexample: {self.counterexample}")
        if self.reason:
            lines.append(f"  {self.reason}")
        lines.append(f"  expected (SymPy): {self.expected}")
        return "\n".join(lines + tail)


def check_derivative(model: str | Node | Network, wrt: str, claimed: str | Node, *,
                     inputs: Sequence[str] | None = None, target: str | float | None = None,
                     points: int = 6, seed: int = 0, max_nodes: int = MAX_TREE,
                     max_depth: int = MAX_DEPTH, shapes: Mapping[str, tuple[int, int]] | None = None,
                     output: int | None = None, max_length: int = MAX_LENGTH, _forms: LocalForms | None = None,
                     _variables: Collection[str] = ()) -> Any:
    """Check a hand-derived derivative ``claimed`` of ``model`` with respect to ``wrt``.

    ``model`` is a formula string (``inputs`` names its inputs; other names are
    parameters), a node or a network. ``target``: in a formula string, a name is
    the target variable (an input of the formula); for a node or network a name
    ``y``, and for any model a number ``y``, makes the model the squared error
    ``(model - y)**2``. ``output=k`` picks output ``k`` (from 0) of a network with
    several outputs (as in :meth:`symnet.Network.gradient_latex`). ``points`` random
    unit-scale probes (at least 2) come before the scaled and landmark probes.
    ``max_length``: the longest model or claim text read (characters). Errors:
    InputError (arguments), FormulaError (the texts, a claim with the wrong number of
    components or unknown names), ExportLimitError (past ``max_nodes``/``max_depth``).

    ``shapes={name: (rows, cols)}`` reads ``model`` and ``claimed`` as matrix formulas
    (``@``, ``.T``, ``sum``, ``mean``) and checks every entry of the claim; it returns a
    :class:`symnet.matrix_claims.MatrixVerdict` (see :mod:`symnet.matrix_claims`).

    >>> import symnet as sn
    >>> w, x, b = sn.Parameter(name="w"), sn.Input("x"), sn.Parameter(name="b")
    >>> v = check_derivative(w * x + b, "w", x)
    >>> v.correct, v.expected, v.method
    (True, 'x', 'symbolic')
    >>> check_derivative((w * x + b) ** 2.0, "w", 2.0 * (w * x + b)).correct
    False
    """
    for label, value, low in (("points", points, 2), ("max_nodes", max_nodes, 1), ("max_depth", max_depth, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"check_derivative: {label} must be an integer >= {low}, got {shown(value)}")
    if points > MAX_POINTS:
        raise InputError(f"check_derivative: points must be at most {MAX_POINTS}, got {shown(points)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"check_derivative: seed must be an integer, got {shown(seed)}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
        raise InputError(f"check_derivative: max_length must be a positive integer, got {shown(max_length)}")
    if shapes is not None:
        if target is not None or output is not None:
            raise InputError("check_derivative: with shapes=, write the loss in the model (target= and output= "
                             "are for scalar models)")
        from .matrix_claims import check_matrix_derivative

        forms = LocalForms()  # the op rows' SymPy forms, built once for every entry
        return check_matrix_derivative(model, wrt, claimed, shapes=shapes, inputs=inputs, points=points, seed=seed,
                                       check=lambda *a, **k: check_derivative(*a, **k, _forms=forms))
    program, label = _model_program(model, inputs, target, output, max_length)
    # a claim about one output of a network may name any variable of the network (its derivative is 0)
    whole = model.program if output is not None else program
    if len(program.outputs) != 1:
        raise InputError(f"check_derivative: the model has {len(program.outputs)} outputs; check one component")
    names = {program.names[i]: i for i in program.inputs + program.parameters}
    if not isinstance(wrt, str) or wrt not in names:
        raise InputError(f"check_derivative: wrt={shown(wrt)} is not a variable of the model; "
                         f"its variables are {', '.join(sorted(names)) or 'none'}")
    out = program.outputs[0]
    size, depth = tree_sizes(program)[0][out], depths(program)[out] + 1  # levels, leaves included
    if size > max_nodes or depth > max_depth:
        raise ExportLimitError(f"check_derivative: the model is too large for SymPy (limits: {max_nodes} nodes, "
                               f"depth {max_depth}; the model has {size} and depth {depth}); pass "
                               "larger max_nodes=/max_depth=, or use check_gradients, which works node by node")
    claim, claim_label = _claim_program(claimed, program, names, whole, _variables, max_length)
    forms = LocalForms() if _forms is None else _forms
    entry = Entry(program, out, claim, claim.outputs[0], wrt, forms)
    symbolic = symbolic_difference(program, out, claim, entry.cout, wrt, forms)
    expected_expr = expected_expression(program, out, wrt, forms, symbolic.expected)
    expected = _expected_text(expected_expr, program, wrt)
    verdict = DerivativeVerdict(wrt=wrt, model=_short(label or "the model"), claimed=_short(claim_label or "(a node)"),
                                expected=expected, expected_expr=expected_expr, verdict="PASS", seed=seed)
    verdict.symbolic = {"zero": True, "nonzero": False}.get(symbolic.status)
    with collector_paused():  # the probes allocate many 50-digit numbers and no cycles
        decide(verdict, entry, symbolic, points, seed)
    return verdict


def _expected_text(expr: Any, program: Program | None = None, wrt: str | None = None) -> str:
    big = program is not None and tree_sizes(program)[0][program.outputs[0]] > DISPLAY_TREE
    if big and expr is not None:  # SymPy's own order (sorting a wide sum costs more than the check)
        return _short(sp.sstr(expr, order="none"), 2000)
    if program is not None and expr is not None:
        try:  # symnet's one printer, in the textbook form every derivative of symnet takes
            with time_limit(SECONDS):
                return inline_text(program, wrt)
        except Exception:  # display only; SymPy's text below
            pass
    if expr is None:
        return "(not shown: past the symbolic budgets, or SymPy cannot write it as one expression)"
    try:
        if len(expr.args) > 100:  # folding exponentials back into sigmoid(...) is slow on wide sums
            return _short(sp.sstr(expr), 2000)
        with time_limit(SECONDS):
            return sp.sstr(fold_functions(expr))
    except Exception:  # display only
        return sp.sstr(expr)


# -- the decision ------------------------------------------------------------------------------


def _counterexample(point: dict[str, float], c: Value, t: Value) -> Counterexample:
    if c.value is None:
        return Counterexample(dict(point), None, float(t.value))
    ct, tt = digits_apart(c.value, t.value)
    with mpmath.workdps(DPS):
        diff = abs(c.value - t.value)
        rel = diff / max(abs(c.value), abs(t.value))
        text = mpmath.nstr(diff, 3, min_fixed=-4, max_fixed=6)
    return Counterexample(dict(point), float(c.value), float(t.value), ct, tt, float(diff), float(rel), text)


@dataclass(frozen=True)
class Entry:
    """One comparison: output ``out`` of ``model`` differentiated by ``wrt`` against output ``cout`` of
    ``claim``. A matrix-form claim compares its entries one :class:`Entry` at a time."""

    model: Program
    out: int
    claim: Program
    cout: int
    wrt: str
    forms: LocalForms = field(default_factory=LocalForms)

    _last: list[Any] = field(default_factory=lambda: [None, None], compare=False, repr=False)

    def _exact(self, point: dict[str, float]) -> dict[str, Any]:
        """The point's coordinates as mpmath numbers, converted once for the truth and the claim."""
        if self._last[0] is not point:
            self._last[:] = [point, {n: hp(v) for n, v in point.items()}]
        return self._last[1]

    def truth(self, point: dict[str, float], bounds: bool = False) -> Value:
        return evaluate(self.model, self.out, self._exact(point), self.forms, self.wrt, bounds=bounds)

    def claimed(self, point: dict[str, float], bounds: bool = False) -> Value:
        return evaluate(self.claim, self.cout, self._exact(point), self.forms, bounds=bounds)


def _same(e: Entry, point: dict[str, float], c: Value, t: Value) -> tuple[bool, Value, Value]:
    """Do the claim and the truth agree at ``point``? Quick when they agree to ``TOL_DIGITS``
    digits; otherwise both are evaluated again with their rounding bounds (cancellation)."""
    if close(c.value, t.value):
        return True, c, t
    t, c = e.truth(point, bounds=True), e.claimed(point, bounds=True)
    return agree(c.value, t.value, c.magnitude + t.magnitude), c, t


def decide(verdict: DerivativeVerdict, e: Entry, symbolic: Symbolic, points: int, seed: int) -> None:
    """Fill in ``verdict`` for one entry from the symbolic result and the probes."""
    rng = random.Random(seed)
    model, claim, wrt = e.model, e.claim, e.wrt
    names = [model.names[i] for i in model.inputs + model.parameters]
    names += [n for n in (claim.names[i] for i in claim.inputs + claim.parameters) if n not in names]  # see output=
    found = probes(names, points, rng)
    first = found[0].point
    order = [wrt] + [n for n in names if n != wrt]
    marks = landmarks(model, first, order, "the model") + landmarks(claim, first, order, "the claim")
    found += marks + between_kinks(marks, first)
    undefined: Counterexample | None = None
    witness: Counterexample | None = None
    witness_why = ""
    at_kink: list[tuple[Probe, Value, Value]] = []
    skipped = 0
    for pr in found:
        t = e.truth(pr.point)
        if t.value is None:
            skipped += 1
            continue
        c = e.claimed(pr.point)
        if pr.on_kink or t.on_kink or c.on_kink:
            # on a kink the value is a convention (relu'(0) = 0): a difference there only, and not
            # at points just beside it, is only noted; so is a claim undefined on the kink alone
            # (x*relu(w*x)/(w*x) at w*x = 0) that is defined and equal just beside it
            if c.value is None and _agrees_beside(e, pr.point, rng):
                at_kink.append((pr, c, t))
                continue
            if c.value is not None and not _same(e, pr.point, c, t)[0]:
                beside = _beside(e, pr.point, rng)
                if beside is None:
                    at_kink.append((pr, c, t))
                    continue
                pr, c, t = beside
            elif pr.on_kink:
                continue
        verdict.probes.append(pr)
        verdict.points.append(dict(pr.point))
        if c.value is None:
            if undefined is None:
                undefined = _counterexample(pr.point, c, t)
                verdict.reason = (f"the claim {verdict.claimed} is undefined where SymPy's derivative is defined "
                                  f"({c.where}; probe: {pr.why})")
            continue
        if witness is None and not _same(e, pr.point, c, t)[0]:
            witness, witness_why = _counterexample(pr.point, c, t), pr.why
    tries = 0
    while len(verdict.points) < points and tries < MAX_TRIES and undefined is None and witness is None:
        tries += 1  # the model is undefined at many probes (log(w*x)): draw more points
        scale = 10.0 ** rng.uniform(-1.0, 1.0) if tries % 2 else 1.0
        pr = Probe({n: rng.choice((-1.0, 1.0)) * scale * rng.uniform(0.05, 2.0) for n in names}, "resampled")
        t = e.truth(pr.point)
        if t.value is None or t.on_kink:
            continue
        c = e.claimed(pr.point)
        if c.on_kink:
            continue
        verdict.probes.append(pr)
        verdict.points.append(dict(pr.point))
        if c.value is None:
            undefined = _counterexample(pr.point, c, t)
            verdict.reason = (f"the claim {verdict.claimed} is undefined where SymPy's derivative is defined "
                              f"({c.where}; probe: {pr.why})")
        elif not _same(e, pr.point, c, t)[0]:
            witness, witness_why = _counterexample(pr.point, c, t), pr.why
    if undefined is not None:
        verdict.verdict, verdict.counterexample = "UNDEFINED", undefined
        verdict.method = "probes (the claim's domain, checked as written)"
        return
    exact = False
    if witness is None and symbolic.status == "nonzero":
        # SymPy's difference is not 0 but no 50-digit value shows it (a difference past
        # about 38 digits, 1 + 1e-40): the exact difference at the probes decides
        witness, witness_why = _exact_search(e, verdict.probes)
        exact = witness is not None
    if witness is None and symbolic.status == "nonzero":
        witness, witness_why = _search(e, names, rng)
    if witness is not None and symbolic.status == "zero":
        # SymPy proved the claim equal; a 50-digit disagreement is an ill-conditioned evaluation
        # (exp(exp(w)) at w = 200) unless the exact difference at that point is proved nonzero
        ex = exact_difference_at(e.model, e.out, e.claim, e.cout, e.wrt, e.forms, witness.point)
        if ex is None:
            verdict.notes.append(f"the 50-digit values differ at {', '.join(f'{k}={v:.10g}' for k, v in witness.point.items())}"
                                 " by more than their "
                                 "error estimate, but SymPy's exact difference there is 0 or not provably nonzero: "
                                 "the evaluation is ill-conditioned there; SymPy's proof decides")
            witness = None
        else:
            witness, exact = _exact_counterexample(witness.point, ex), True
    if witness is not None:
        verdict.verdict, verdict.counterexample = "FAIL", witness
        verdict.method = (EXACT_METHOD if exact else
                          "symbolic + counterexample" if symbolic.status == "nonzero" else "probes")
        verdict.reason = f"the counterexample is a probe of kind: {witness_why}"
        if exact:
            verdict.reason += (f"; SymPy's exact difference there (claim minus derivative, the point's coordinates "
                               f"as exact rationals) is {witness.diff_text}, proved nonzero")
        if symbolic.status == "skipped":
            verdict.notes.append(f"SymPy could not decide ({symbolic.reason}); the probes decided")
        elif symbolic.status == "zero":
            verdict.notes.append("SymPy simplified the difference to 0, but its exact value at the counterexample "
                                 "is proved nonzero")
        return
    if len(verdict.points) < points:
        verdict.verdict = "UNDEFINED"
        verdict.method = "probes"
        verdict.reason = (f"only {len(verdict.points)} of the {len(found)} probe points could be evaluated and "
                          f"{points} are needed (the model's derivative is undefined or on a kink elsewhere)")
        return
    if symbolic.status == "zero":
        verdict.method = "symbolic"
        if symbolic.regions > 1:
            verdict.notes.append(f"equal in each of the {symbolic.regions} regions the kinks cut the space into")
        if symbolic.opposite and not at_kink:
            verdict.notes.append("the claim and SymPy's derivative may differ on a kink itself, where its argument is "
                                 "exactly 0 (the claim writes the indicator the other way round, as z >= 0 for "
                                 "z > 0): a convention; symnet's rows take relu'(0) = 0 and step(0) = 0")
    else:
        verdict.method = "probes"
        if symbolic.status == "skipped":
            verdict.notes.append(f"SymPy could not decide ({symbolic.reason}); equal at every probe")
        else:
            verdict.notes.append("SymPy's simplified difference is not 0 in some kink region, but no probe and no "
                                 f"extra search ({EXTRA_SEARCH} points) found a point there, and its exact value at "
                                 f"{EXACT_POINTS} probes per region is 0 or not provably nonzero: the region is empty "
                                 "or a kink itself (or SymPy could not simplify an identity)")
    for pr, c, t in at_kink[:1]:
        ce = _counterexample(pr.point, c, t)
        verdict.notes.append(f"the claim differs from SymPy's derivative only on a kink: {ce} (a convention: "
                             "symnet's rows take relu'(0) = 0 and step(0) = 0)")


def _nearby(e: Entry, point: dict[str, float], rng: random.Random) -> list[tuple[Probe, Value, Value]]:
    """Two points just beside ``point`` (every variable moved by about 1e-7 of its size), with
    the claim's and the truth's values there."""
    out = []
    for _ in range(2):
        near = {n: v + rng.choice((-1.0, 1.0)) * 1e-7 * max(abs(v), 1e-3) for n, v in point.items()}
        out.append((Probe(near, "beside a kink"), e.claimed(near), e.truth(near)))
    return out


def _beside(e: Entry, point: dict[str, float], rng: random.Random) -> tuple[Probe, Value, Value] | None:
    """A point just beside ``point`` where the claim and the truth still differ, or ``None`` if
    they agree beside it (the difference is on a kink)."""
    return next(((pr, c, t) for pr, c, t in _nearby(e, point, rng) if t.value is not None
                 and c.value is not None and not _same(e, pr.point, c, t)[0]), None)


def _agrees_beside(e: Entry, point: dict[str, float], rng: random.Random) -> bool:
    """Whether the claim is defined and equal to the truth at two points just beside ``point``."""
    return all(t.value is not None and c.value is not None and _same(e, pr.point, c, t)[0]
               for pr, c, t in _nearby(e, point, rng))


def _exact_search(e: Entry, found: Sequence[Probe]) -> tuple[Counterexample | None, str]:
    """The first probe where SymPy's exact difference is proved nonzero
    (:func:`symnet.check_exact.exact_difference_at`). The difference may be nonzero in one kink
    region only, so the probes are tried region by region (grouped by the signs of every kink's
    argument): at most ``EXACT_POINTS`` per region, within ``SECONDS`` in all."""
    start = time.monotonic()
    tried: dict[Any, int] = {}
    for pr in found:
        region = _region(e, pr.point)
        if tried.get(region, 0) >= EXACT_POINTS:
            continue
        if time.monotonic() - start > SECONDS:
            break
        tried[region] = tried.get(region, 0) + 1
        ex = exact_difference_at(e.model, e.out, e.claim, e.cout, e.wrt, e.forms, pr.point)
        if ex is not None:
            return _exact_counterexample(pr.point, ex), pr.why
    return None, ""


def _region(e: Entry, point: dict[str, float]) -> tuple[int, ...] | None:
    """The signs of the kink arguments of the model and the claim at ``point`` (float64)."""
    signs: list[int] = []
    for program in (e.model, e.claim):
        leaves = engine.leaf_template(program)
        for i in program.inputs + program.parameters:
            leaves[i] = point[program.names[i]]
        try:
            vals = engine.evaluate(program, leaves)
        except (SymnetError, ArithmeticError, ValueError, TypeError):
            return None
        signs += [(z > 0) - (z < 0) for z in kink_distances(program, vals, program.op_indices).values()]
    return tuple(signs)


def _exact_counterexample(point: dict[str, float], ex: ExactPoint) -> Counterexample:
    """The counterexample with the claim and the truth written to the digits that differ."""
    c, t = (sp.Float(v.evalf(15), 15) for v in (ex.claimed, ex.true))
    diff = abs(ex.diff)
    scale = max(abs(c), abs(t))
    rel = diff / scale if scale != 0 else sp.Float(1)
    digits = min(MAX_SHOWN_DIGITS, max(DPS, int(-sp.log(rel, 10).evalf(15)) + 12))
    try:
        with time_limit(SECONDS), mpmath.workdps(digits):
            cv, tv = mpmath.mpf(ex.claimed.evalf(digits)), mpmath.mpf(ex.true.evalf(digits))
        ct, tt = digits_apart(cv, tv, digits)
    except Exception:  # display only: the 15 digits SymPy already gave
        ct, tt = sp.sstr(c), sp.sstr(t)
    text = mpmath.nstr(mpmath.mpf(diff), 3, min_fixed=-4, max_fixed=6)
    rel_text = mpmath.nstr(mpmath.mpf(rel), 3, min_fixed=-4, max_fixed=6)
    return Counterexample(dict(point), float(c), float(t), ct, tt, float(diff), float(rel), text, rel_text)


def _search(e: Entry, names: Sequence[str], rng: random.Random) -> tuple[Counterexample | None, str]:
    """More random points of mixed scales, looking for one where the two differ."""
    for k in range(EXTRA_SEARCH):
        point = {n: rng.choice((-1.0, 1.0)) * 10.0 ** rng.uniform(-3.0, 3.0 * (k + 1) / EXTRA_SEARCH)
                 for n in names}
        t = e.truth(point)
        if t.value is None or t.on_kink:
            continue
        c = e.claimed(point)
        if c.value is None or c.on_kink:
            continue
        if not _same(e, point, c, t)[0]:
            return _counterexample(point, c, t), "extra search"
    return None, ""


# -- the model and the claim --------------------------------------------------------------


def _parse(text: str, inputs: Sequence[str], known: dict[str, Node] | None = None,
           max_length: int = MAX_LENGTH) -> Node:
    rng = default_rng()
    state = rng.getstate()  # parsed Parameters draw values; keep the user's seeded stream intact
    try:
        return parse(text, inputs=list(inputs), nodes=known, max_length=max_length)
    finally:
        rng.setstate(state)


def _model_program(model: Any, inputs: Sequence[str] | None, target: Any,
                   output: int | None = None, max_length: int = MAX_LENGTH) -> tuple[Program, str]:
    if output is not None and (isinstance(output, bool) or not isinstance(output, int)):
        raise InputError(f"check_derivative: output must be an output index (an integer), got {shown(output)}")
    if output is not None and not isinstance(model, Network):
        raise InputError("check_derivative: output= picks an output of a network; this model is a "
                         f"{'formula' if isinstance(model, str) else type(model).__name__}, which has one")
    ins = list(inputs or [])
    if isinstance(model, str):
        if isinstance(target, str):
            ins.append(target)
        root = _parse(model, ins, max_length=max_length)
        if target is not None and not isinstance(target, str):
            root = _squared_error(root, target)
        return compile(root).program, model.strip()
    if isinstance(model, Network):
        n = model.n_outputs
        if output is None and n != 1:
            raise InputError(f"check_derivative: the network has {n} outputs; choose one with output=k (0 to {n - 1})")
        if output is not None and not 0 <= output < n:
            raise InputError(f"check_derivative: output={output} is out of range: the network has {n} output(s) "
                             f"(0 to {n - 1})")
        program = model.program
        if n != 1:  # output k alone, as its own network
            model = program.nodes[program.outputs[output]]
            return _model_program(model, inputs, target)
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


def _text(program: Program, what: str = "the model") -> str:
    """The model (or claim) as symnet writes it (terms in the order built), cut to 80 characters."""
    try:
        return _short(to_text(program, max_chars=200))
    except ExportLimitError:
        return f"{what} (longer than 200 characters)"


def _squared_error(root: Node, target: Any) -> Node:
    if isinstance(target, str):
        target = Input(target)
    elif isinstance(target, bool) or not isinstance(target, (int, float)):
        raise InputError(f"check_derivative: target must be a name or a number, got {type(target).__name__}")
    return (root - target) ** 2.0


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _claim_program(claimed: Any, program: Program, names: dict[str, int],
                   whole: Program | None = None, variables: Collection[str] = (),
                   max_length: int = MAX_LENGTH) -> tuple[Program, str]:
    """The claim compiled; in a formula, the model's variables and named intermediates
    (``z1_1``, ``h1_1``, ``yhat``, ...) stand for the model's own nodes. ``whole``: the network
    the model is one output of (its other variables may appear in the claim)."""
    whole = program if whole is None else whole
    allowed = set(names) | {whole.names[i] for i in whole.inputs + whole.parameters} | set(variables)
    if isinstance(claimed, str):
        known = {whole.names[i]: whole.nodes[i] for i in whole.inputs + whole.parameters}
        known.update((program.names[i], program.nodes[i]) for i in program.inputs + program.parameters)
        for i in program.op_indices:
            if program.names[i] and program.names[i] not in known:
                known[program.names[i]] = program.nodes[i]
        known.setdefault("yhat", program.nodes[program.outputs[0]])  # the output, as reports write it
        for i, (row, vec) in log_layers(program).items():  # p_k of p = softmax(z), as the formula prints it
            zs = tuple(program.nodes[a] for a in program.args[i])
            for k in range(len(zs)):
                known.setdefault(f"{vec}_{k + 1}", Node.apply(row.name, zs, attr=k))
        root = _parse(claimed, [whole.names[i] for i in whole.inputs], known, max_length)
        label = claimed.strip()
    elif isinstance(claimed, Node):
        root, label = claimed, ""
    else:
        raise InputError(f"check_derivative: claimed must be a formula string, got {type(claimed).__name__}")
    claim = compile(root).program
    if len(claim.outputs) != 1:
        raise FormulaError(f"the claimed derivative has {len(claim.outputs)} components (comma-separated), but "
                           "the derivative of a one-output model by one variable has 1")
    unknown = [claim.names[i] for i in claim.inputs + claim.parameters if claim.names[i] not in allowed]
    if unknown:
        inter = sorted({program.names[i] for i in intermediates(program)} | {"yhat"})  # the names printed
        raise FormulaError(f"the claimed derivative uses {', '.join(map(repr, unknown))}, which the model does "
                           f"not have; its variables are {', '.join(sorted(names))}"
                           + (f" and its named intermediates {', '.join(inter)}" if inter else ""))
    return claim, label or _text(claim, "the claim")


