"""check_gradients: every gradient the engine backpropagates, checked against SymPy and finite differences.

For every parameter and input, at every point, the report compares three numbers:

* **engine** -- the gradient the engine's reverse pass computes in float64;
* **sympy** -- SymPy's own derivative, evaluated to 50 digits (:mod:`symnet.check_ref`):
  each op's ``sympy`` form is differentiated by SymPy and the local derivatives
  are accumulated in 50-digit arithmetic along the graph (the *let form*; cost
  linear in the number of edges). Graphs whose inlined expression has at most
  ``INLINE_MAX_TREE`` (400) nodes, ``INLINE_MAX_KINKS`` (4) kink ops and depth
  ``INLINE_MAX_DEPTH`` (60) are also differentiated whole, and that value is the
  one shown. Forward values are computed from the SymPy forms too, so a wrong
  forward rule is caught;
* **finite diff** -- a central difference of the engine's forward values in
  float64 with step ``h_i = 1e-6 * |theta_i|`` (``1e-6`` at 0; :mod:`symnet.check_fd`),
  for the leaves whose downstream fits ``FD_WORK_BUDGET`` op evaluations per point.

Tolerances (``L`` is the checked output's value):

* engine vs SymPy: ``|a - s| <= 4 * B + shift`` (plus the optional ``sympy_atol +
  sympy_rtol * |s|``), where ``B`` is a first-order bound on the engine's float64
  rounding from the magnitudes of the terms summed along each path and ``shift``
  is how much the engine's rounded forward values move SymPy's derivative
  (:mod:`symnet.check_bound`); the forward value likewise;
* engine vs finite difference: ``|a - n| <= atol * max(1, |L|) + rtol * max(|a|, |n|)``
  with ``rtol = 1e-5``, ``atol = 1e-7`` (``lenient=True``: PyTorch's ``1e-3``, ``1e-5``).
  The finite difference is a witness: when engine and SymPy agree and it does not,
  the row passes with the note "finite differences unreliable here" and an
  estimated condition. It never makes a row FAIL.

Kinks: if a kink op (a row with ``kink``: ReLU) downstream of ``theta_i`` lies
within ``10 * |dz/dtheta_i| * h_i + 1e-12`` of its kink, the finite difference is
skipped and the row is ``KINK``, naming the node; engine and SymPy are still
compared (both take ReLU'(0) = 0: the row's SymPy form is a ``Piecewise``). A
``KINK`` row is not a failure.

Points: the given ``values`` (inputs by name or in order; parameter names may be
included to override the current values), or ``points`` seeded random points
where every input and parameter is drawn from U(-2, 2), rejecting values within
0.05 of 0 and +-1, points where the network is undefined, and points with a
kink input within 1e-3 of its kink. The seed is in the report.

Verdicts: PASS, FAIL, KINK, UNDEFINED (not computable at the point). On a failure
the report's ``blame`` names the op node whose forward value or local partial
disagrees with SymPy, or the node whose gradient the engine accumulated wrongly.
The backward pass is also run twice and must be bit-identical.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import engine, losses
from .check_blame import accumulation_blame, fmt, local_blame
from .analysis import consumers, depths, downstream, tree_sizes
from .check_fd import FDResult, finite_difference, kink_distances
from .check_bound import Locals, backward_bounds, forward_bounds
from .check_ref import INLINE_MAX_DEPTH, INLINE_MAX_KINKS, INLINE_MAX_TREE, LocalForms, hp, \
    inlined_gradients, reference_adjoints, reference_values
from .check_report import ForwardRow, GradientReport, GradRow, Tolerances
from .network import compile
from .program import Program, collector_paused
from .errors import GradCheckError, InputError, NumericalError, shown
from .losses import clamped
from .graph import Node
from .network import Network

__all__ = ["check_gradients", "GradientReport", "GradRow", "ForwardRow", "Tolerances", "LOSSES"]

#: The losses ``check_gradients(..., loss=...)`` can put on top of the model.
LOSSES = losses.LOSSES
#: Random points a check accepts (each costs a 50-digit reference evaluation).
MAX_POINTS = 10_000
#: Random points: attempts per point, and the band around kinks that sampling avoids.
MAX_TRIES = 100
SAMPLE_KINK_BAND = 1e-3
#: Finite differences per point stop once the recomputed ops' total arity passes this (cost stays linear).
FD_WORK_BUDGET = 200_000


def check_gradients(net_or_node: Network | Node, values: Any = None, *, loss: str | None = None,
                    target: Any = None, points: int = 3, seed: int = 0, rtol: float | None = None,
                    atol: float | None = None, lenient: bool = False,
                    raise_on_fail: bool = False) -> GradientReport:
    """Check every gradient of a network (or node) against SymPy and finite differences.

    ``loss`` (``"mse"``, ``"bce"``, ``"cross_entropy"``) with ``target`` puts that loss
    on top of the model. ``values`` gives the point; without it ``points`` seeded
    random points are used. ``rtol``/``atol`` override the finite-difference
    tolerances (finite numbers >= 0, else InputError). With ``raise_on_fail`` a
    failed check raises ``GradCheckError``.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> report = check_gradients(w * x * x, {"x": 3.0})
    >>> report.ok, [(r.name, r.engine, r.sympy, r.verdict) for r in report.rows]
    (True, [('w', 9.0, 9.0, 'PASS'), ('x', 3.0, 3.0, 'PASS')])
    >>> check_gradients(sn.MLP(2, [3, 1]), loss="mse", target=1.0).ok
    True
    """
    program = _program(net_or_node, loss, target)
    tol = Tolerances.lenient() if lenient else Tolerances()
    if rtol is not None or atol is not None:
        tol = Tolerances(tol.sympy_rtol, tol.sympy_atol, tol.fd_rtol if rtol is None else rtol,
                         tol.fd_atol if atol is None else atol)
    ctx = _Context(program, tol)
    if values is not None:
        chosen = [(leaves, _evaluate(program, leaves), "") for leaves in _given_points(program, values)]
        used_seed = None
    else:
        if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
            raise InputError(f"check_gradients: points must be an integer from 1 to {MAX_POINTS}, got {shown(points)}")
        rng = random.Random(seed)
        chosen = [_random_point(program, rng) for _ in range(points)]
        used_seed = seed
    report = GradientReport(rows=[], forward=[], points=[], seed=used_seed, tolerances=tol,
                            reference=ctx.reference_label(),
                            inputs=tuple(program.names[i] for i in program.inputs))
    failing: tuple[int, list[float]] | None = None
    with collector_paused():  # millions of 50-digit numbers, no cycles: 25% faster at 10^5 terms
        for k, (leaves, vals, why) in enumerate(chosen, start=1):
            report.points.append({program.names[i]: leaves[i] for i in ctx.leaves})
            bad = ctx.check_point(k, leaves, vals, why, report)
            if bad and failing is None and vals is not None:
                failing = (k, vals)
    first = next((v for _, v, _ in chosen if v is not None), None)
    if first is not None and program.outputs:
        _reentrancy(program, first, report)
    if not report.ok:
        report.blame = _blame(ctx, report, failing)
    if raise_on_fail and not report.ok:
        err = GradCheckError("\n".join([report.first_failure or "gradient check failed"] + report.blame))
        err.report = report  # type: ignore[attr-defined]
        raise err
    return report


# -- the model -------------------------------------------------------------------------


def _program(model: Any, loss: str | None, target: Any) -> Program:
    if isinstance(model, Network):
        if loss is None:
            return model.program
        root = model.root
        if root is None:
            raise InputError("check_gradients: this network has no root node to put a loss on")
    elif isinstance(model, Node):
        root = model
    else:
        raise InputError(f"check_gradients takes a network or a node, got {type(model).__name__}")
    if loss is None:
        if target is not None:
            raise InputError("check_gradients: a target needs a loss (loss='mse', 'bce' or 'cross_entropy')")
        return compile(root).program
    fn = losses.loss_by_name(loss, "check_gradients")
    if target is None:
        raise InputError(f"check_gradients: loss={shown(loss)} needs a target")
    if loss != "cross_entropy":
        for j, t in enumerate(target if isinstance(target, (list, tuple)) else [target]):
            _float64(t, f"target {j + 1}" if isinstance(target, (list, tuple)) else "target")
    return compile(fn(root, target)).program


def _float64(v: Any, where: str) -> float:
    # C7: the checker works in float64; Decimal, Fraction or float32 values are refused, not rounded.
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError(f"check_gradients works in float64 only: {where} is a {type(v).__name__} "
                         f"({v!r:.40}); pass a Python float")
    try:
        f = float(v)
    except OverflowError:
        raise InputError(f"check_gradients: {where} = {v!r:.40} does not fit in a float64") from None
    if not math.isfinite(f):
        raise InputError(f"check_gradients: {where} must be finite, got {f!r}")
    return f


def _given_points(program: Program, values: Any) -> list[list[Any]]:
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, Mapping) for v in values):
        return [_given_point(program, v) for v in values]
    return [_given_point(program, values)]


def _given_point(program: Program, values: Any) -> list[Any]:
    leaves = engine.leaf_template(program)
    for i in program.parameters:
        leaves[i] = program.values[i]
    inputs = [program.names[i] for i in program.inputs]
    by_name = {program.names[i]: i for i in program.inputs + program.parameters}
    if isinstance(values, Mapping):
        unknown = [k for k in values if k not in by_name]
        if unknown:
            raise InputError(f"check_gradients: unknown name(s) {', '.join(map(repr, unknown))}; "
                             f"inputs are {inputs}, parameters {[program.names[i] for i in program.parameters]}")
        missing = [n for n in inputs if n not in values]
        if missing:
            raise InputError(f"check_gradients: missing value(s) for input(s) {', '.join(map(repr, missing))}")
        for name, v in values.items():
            leaves[by_name[name]] = _float64(v, f"{'input' if name in inputs else 'parameter'} '{name}'")
        return leaves
    if isinstance(values, (int, float)) and not isinstance(values, bool) and len(inputs) == 1:
        values = [values]
    if not isinstance(values, (list, tuple)):
        if len(inputs) == 1:
            _float64(values, f"input '{inputs[0]}'")
        raise InputError(f"check_gradients: values must be a dict by name or a list, got {type(values).__name__}")
    if len(values) != len(inputs):
        raise InputError(f"check_gradients: expected {len(inputs)} input value(s) {inputs}, got {len(values)}")
    for i, v in zip(program.inputs, values):
        leaves[i] = _float64(v, f"input '{program.names[i]}'")
    return leaves


def _evaluate(program: Program, leaves: list[Any]) -> list[float]:
    return engine.evaluate(program, list(leaves))


def _draw(rng: random.Random) -> float:
    while True:
        v = rng.uniform(-2.0, 2.0)
        if abs(v) >= 0.05 and abs(abs(v) - 1.0) >= 0.05:
            return v


def _random_point(program: Program, rng: random.Random) -> tuple[list[Any], list[float] | None, str]:
    """A random point (leaves, engine values, reason it is imperfect or '')."""
    fallback = None
    why = ""
    leaves: list[Any] = []
    for _ in range(MAX_TRIES):
        leaves = engine.leaf_template(program)
        for i in program.inputs + program.parameters:
            leaves[i] = _draw(rng)
        try:
            vals = _evaluate(program, leaves)
        except NumericalError as exc:
            why = str(exc)
            continue
        z = kink_distances(program, vals, program.op_indices)
        if all(abs(d) >= SAMPLE_KINK_BAND for d in z.values()):
            return leaves, vals, ""
        if fallback is None:
            fallback = (leaves, vals, "")
    if fallback is not None:
        return fallback
    return leaves, None, f"no defined point in {MAX_TRIES} random tries; last: {why}"


# -- one point ------------------------------------------------------------------------


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


@dataclass
class _Context:
    program: Program
    tol: Tolerances
    forms: LocalForms = field(default_factory=LocalForms)

    def __post_init__(self) -> None:
        p = self.program
        self.leaves = list(p.parameters) + list(p.inputs)
        self.users = consumers(p)
        self._down: dict[int, list[int]] = {}
        size, kinks = tree_sizes(p)
        depth = depths(p)
        self.inline = all(size[o] <= INLINE_MAX_TREE and kinks[o] <= INLINE_MAX_KINKS
                          and depth[o] < INLINE_MAX_DEPTH for o in p.outputs)  # depths count leaves as 0

    def reference_label(self) -> str:
        if self.inline:
            return ("SymPy's derivative of the fully inlined elementary expression, cross-checked with the "
                    "per-node let form; 50 digits")
        return ("SymPy's derivative of each op's SymPy form, accumulated along the graph (let form); 50 digits "
                f"(the graph is above the inline limit of {INLINE_MAX_TREE} nodes, {INLINE_MAX_KINKS} kinks "
                f"or depth {INLINE_MAX_DEPTH})")

    def name(self, i: int) -> str:
        return self.program.names[i] or f"#{i}"

    def check_point(self, k: int, leaves: list[Any], vals: list[float] | None, why: str,
                    report: GradientReport) -> bool:
        """Add the rows of point ``k`` to the report; True if anything failed."""
        p, tol = self.program, self.tol
        if vals is None:
            for o in p.outputs:
                report.forward.append(ForwardRow(k, self.name(o), None, None, False, why))
                report.rows.extend(GradRow(k, self.name(o), self.name(i), p.kinds[i], None, None, None,
                                           None, None, None, "UNDEFINED", why) for i in self.leaves)
            return True
        for i, why in clamped(p, vals):
            note = (f"at point #{k} node '{self.name(i)}' ({p.ops[i].name}) is clamped: {why}; the engine's values "
                    "there are the clamped ones, and SymPy's 50-digit reference differs")
            if note not in report.notes:
                report.notes.append(note)
        ref, bad = reference_values(p, leaves, self.forms)
        undefined = "" if bad is None else f"SymPy form undefined at node `{self.name(bad)}` ({p.ops[bad].name})"
        # SymPy's local partials, computed once per point at the reference and at the engine's values
        at_ref = Locals(p, ref, self.forms)
        at_engine = Locals(p, [hp(v) for v in vals], self.forms)
        fwd_err = forward_bounds(p, ref, self.forms, at_ref) if bad is None else None
        fds = self._finite_differences(vals, report)
        branch = self._branch_mismatch(vals, ref) if bad is None else set()
        failed = False
        for n_out, o in enumerate(p.outputs):
            lv = vals[o]
            ls = None if bad is not None else float(ref[o])
            fwd_ok = ls is not None and abs(lv - ref[o]) <= 4 * fwd_err[o] + tol.extra(ls)
            report.forward.append(ForwardRow(k, self.name(o), lv, ls, fwd_ok, undefined))
            failed |= not fwd_ok
            try:
                adj: list[float] | None = engine.backward(p, vals, {o: 1.0})
                engine_err = ""
            except Exception as exc:  # a broken rule may raise anything; report it, do not crash
                adj, engine_err = None, f"engine backward raised {type(exc).__name__}: {exc}"
            sym = self._sympy_gradients(leaves, at_ref, o, report) if bad is None else {}
            allowed = self._allowed(vals, at_engine, o, sym) if sym and adj is not None else {}
            for i in self.leaves:
                fd = fds[i][n_out] if i in fds else None
                row = self._row(k, o, i, None if adj is None else adj[i], sym.get(i), fd, allowed.get(i),
                                None if fwd_err is None else fwd_err[o], engine_err or undefined, branch, lv)
                failed |= row.verdict in ("FAIL", "UNDEFINED")
                report.rows.append(row)
        return failed

    def _finite_differences(self, vals: list[float], report: GradientReport) -> dict[int, list[FDResult]]:
        """Central differences for the leaves whose downstream fits the work budget (a witness only)."""
        p = self.program
        out: dict[int, list[FDResult]] = {}
        work = 0
        for i in self.leaves:
            down = self.downstream(i, FD_WORK_BUDGET - work)
            if down is None:
                note = (f"finite differences skipped for {len(self.leaves) - len(out)} of {len(self.leaves)} "
                        f"leaves (work budget FD_WORK_BUDGET = {FD_WORK_BUDGET} op evaluations per point); "
                        "the SymPy reference still checks every gradient")
                if note not in report.notes:
                    report.notes.append(note)
                break
            work += sum(len(p.args[j]) for j in down)
            out[i] = finite_difference(p, vals, i, p.outputs, down)
        return out

    def downstream(self, i: int, budget: float = math.inf) -> list[int] | None:
        """The op nodes downstream of leaf ``i`` (``None`` if their total arity passes ``budget``)."""
        hit = self._down.get(i)
        if hit is None:
            hit = downstream(self.users, i)
            self._down[i] = hit
        if budget != math.inf and sum(len(self.program.args[j]) for j in hit) > budget:
            return None
        return hit

    def _allowed(self, vals: list[float], at: Locals, o: int, sym: dict[int, Any]) -> dict[int, Any]:
        """The engine's allowed deviation from SymPy for every leaf: 4 x the rounding bound
        (:mod:`symnet.check_bound`) plus how much the engine's rounded forward values move
        SymPy's own derivative (``at``: SymPy's local partials at the engine's values)."""
        p = self.program
        _, bound = backward_bounds(p, vals, o, self.forms, at)
        at_engine, bad = reference_adjoints(p, at.vals, o, self.forms, at.partials)
        out = {}
        for i in self.leaves:
            shift = abs(at_engine[i] - sym[i]) if bad is None and sym.get(i) is not None else 0
            out[i] = 4 * bound[i] + shift
        return out

    def _sympy_gradients(self, leaves: list[Any], at: Locals, o: int, report: GradientReport) -> dict[int, Any]:
        p = self.program
        adj, bad = reference_adjoints(p, at.vals, o, self.forms, at.partials)
        let = {i: None if bad is not None else adj[i] for i in self.leaves}
        if not self.inline:
            return let
        whole = inlined_gradients(p, leaves, o, self.leaves) or {}
        for i, s in whole.items():
            t = let.get(i)
            if s is not None and t is not None and abs(s - t) > 1e-30 * max(1, abs(s)):
                note = (f"internal: the inlined and let-form SymPy derivatives of {self.name(o)} by {self.name(i)} "
                        f"differ ({fmt(s)} vs {fmt(t)})")
                if note not in report.notes:
                    report.notes.append(note)
        return {i: whole.get(i, let[i]) if whole.get(i) is not None else let[i] for i in self.leaves}

    def _branch_mismatch(self, vals: list[float], ref: list[Any]) -> set[int]:
        """Kink nodes on different sides of the kink in float64 and in the 50-digit reference."""
        p = self.program
        out = set()
        for i, z in kink_distances(p, vals, p.op_indices).items():
            zr = p.ops[i].kink(tuple(float(ref[a]) for a in p.args[i]), p.attrs[i])
            if zr is not None and _sign(z) != _sign(float(zr)):
                out.add(i)
        return out

    def _row(self, k: int, o: int, i: int, a: float | None, s: Any, fd: FDResult | None, allowed: Any,
             fwd_err: Any, reason: str, branch: set[int], scale: float) -> GradRow:
        p, tol = self.program, self.tol
        args = (k, self.name(o), self.name(i), p.kinds[i])
        n = None if fd is None else fd.value
        if a is None or s is None:
            return GradRow(*args, a, None if s is None else float(s), n, None, None, None, "UNDEFINED",
                           reason or "SymPy's derivative is undefined here")
        sf = float(s)
        abs_err = abs(a - sf) if math.isfinite(a) else math.inf
        rel_err = abs_err / abs(sf) if sf != 0 else (0.0 if abs_err == 0 else math.inf)
        fd_err = None if n is None else abs(a - n)
        out = (a, sf, n, abs_err, rel_err, fd_err)
        limit = float(allowed) + tol.extra(sf) if allowed is not None else tol.extra(sf)
        if not (math.isfinite(a) and abs(a - s) <= limit):
            crossed = [j for j in (self.downstream(i) or []) if j in branch]
            if crossed:
                j = crossed[0]
                return GradRow(*args, *out, "KINK", f"{p.ops[j].name} at node `{self.name(j)}` is on its kink "
                               "within rounding; engine and SymPy take different sides")
            return GradRow(*args, *out, "FAIL",
                           f"|engine - sympy| = {abs_err:.2e} > tol {limit:.2e} (engine rounding bound)")
        if fd is not None and fd.kink is not None:
            j, z = fd.kink
            return GradRow(*args, *out, "KINK",
                           f"{p.ops[j].name} at node `{self.name(j)}`, |z|={abs(z):.1e}: finite difference skipped")
        if fd is None:
            return GradRow(*args, *out, "PASS", "finite difference skipped (work budget)")
        if n is None:
            return GradRow(*args, *out, "PASS", f"finite difference not available ({fd.error or 'undefined'})")
        if not fd_err <= tol.fd_tol(a, n, scale):
            noise = float(fwd_err) / fd.step if fwd_err is not None else math.inf
            cond = noise / max(abs(a), abs(n), 1e-300)
            return GradRow(*args, *out, "PASS",
                           f"finite differences unreliable here: they disagree by {fd_err:.2e}, while engine and "
                           f"SymPy agree; estimated condition (rounding of the output {float(fwd_err or 0):.1e} "
                           f"over the step {fd.step:.1e}, relative to the gradient) {cond:.1e}")
        return GradRow(*args, *out, "PASS", "" if i in self._reaching(o) else "no path to the output")

    def _reaching(self, o: int) -> set[int]:
        cache = self.__dict__.setdefault("_reach", {})
        if o not in cache:
            marked, stack = {o}, [o]
            while stack:
                for a in self.program.args[stack.pop()]:
                    if a not in marked:
                        marked.add(a)
                        stack.append(a)
            cache[o] = {i for i in self.leaves if i in marked}
        return cache[o]


# -- whole-report checks ----------------------------------------------------------------


def _reentrancy(program: Program, vals: list[float], report: GradientReport) -> None:
    seeds = {program.outputs[0]: 1.0}
    try:
        a = engine.backward(program, vals, seeds)
        b = engine.backward(program, vals, seeds)
    except Exception:  # already reported as UNDEFINED rows
        return
    diff = [j for j, (x, y) in enumerate(zip(a, b)) if not (x == y or (x != x and y != y))]
    if diff or len(a) != len(b):
        worst = max((abs(a[j] - b[j]) for j in diff), default=math.inf)
        report.reentrant = False
        report.notes.append(f"backward not reentrant: two passes differ at {len(diff)} node(s), "
                            f"first `{program.names[diff[0]] if diff else '?'}` (max diff {worst:.3g})")


def _blame(ctx: _Context, report: GradientReport, failing: tuple[int, list[float]] | None) -> list[str]:
    p = ctx.program
    out: list[str] = []
    if not report.reentrant:
        out.append(next(n for n in report.notes if n.startswith("backward not reentrant")))
    if failing is None:
        return out
    k, vals = failing
    # a documented clamp of the engine explains a mismatch, but a wrong rule elsewhere is still named
    out += [f"at point #{k} node '{ctx.name(i)}' ({p.ops[i].name}) is clamped: {why}; SymPy differentiates "
            "the formula (the true gradient)" for i, why in clamped(p, vals)[:1]]
    local = local_blame(p, vals, ctx.forms)
    if local:
        return out + local
    fails = [r for r in report.rows if r.point == k and r.verdict == "FAIL"]
    outputs = [o for o in p.outputs if any(r.output == ctx.name(o) for r in fails)]
    for o in outputs:
        try:
            adj = engine.backward(p, vals, {o: 1.0})
        except Exception:
            continue
        msg = accumulation_blame(p, vals, adj, o, max(1.0, abs(vals[o])))
        if msg:
            out.append(msg)
    if out or not fails:
        return out
    return [f"at point #{k} every op's forward value and local partials agree with SymPy and the engine's "
            "accumulation replays correctly, yet the totals differ: an engine-level error"]
