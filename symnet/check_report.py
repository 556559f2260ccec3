"""The gradient check's result: tolerances, one row per leaf and point, and the printed table."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError

__all__ = ["Tolerances", "GradRow", "ForwardRow", "GradientReport", "VERDICTS"]

#: Row verdicts. KINK: finite differences skipped at a non-differentiable point (not a failure).
VERDICTS = ("PASS", "FAIL", "KINK", "UNDEFINED")


@dataclass(frozen=True)
class Tolerances:
    """Comparison tolerances (see :mod:`symnet.check` for the formulas).

    Engine against SymPy uses the engine's own rounding bound (:mod:`symnet.check_bound`);
    ``sympy_rtol`` and ``sympy_atol`` add slack on top of it (0 by default).
    ``fd_rtol`` and ``fd_atol`` judge whether the finite difference, a witness only,
    agrees. Every field must be a finite number >= 0 (else :class:`InputError`).

    >>> Tolerances(fd_rtol=float("nan"))
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: tolerance fd_rtol must be a finite number >= 0, got nan
    """

    sympy_rtol: float = 0.0
    sympy_atol: float = 0.0
    fd_rtol: float = 1e-5
    fd_atol: float = 1e-7

    def __post_init__(self) -> None:
        for name in ("sympy_rtol", "sympy_atol", "fd_rtol", "fd_atol"):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            try:
                ok = ok and math.isfinite(float(v)) and float(v) >= 0
            except OverflowError:
                ok = False
            if not ok:
                raise InputError(f"tolerance {name} must be a finite number >= 0, got {v!r:.40}")

    @classmethod
    def lenient(cls) -> Tolerances:
        """PyTorch's gradcheck defaults for the finite-difference comparison."""
        return cls(fd_rtol=1e-3, fd_atol=1e-5)

    def extra(self, s: float) -> float:
        """The user's slack on top of the rounding bound, for a SymPy value ``s``."""
        return self.sympy_atol + self.sympy_rtol * abs(s)

    def fd_tol(self, a: float, n: float, scale: float) -> float:
        return self.fd_atol * max(1.0, abs(scale)) + self.fd_rtol * max(abs(a), abs(n))


@dataclass(frozen=True)
class GradRow:
    """d ``output`` / d ``name`` at point number ``point`` (counted from 1)."""

    point: int
    output: str
    name: str
    kind: str
    engine: float | None
    sympy: float | None
    fd: float | None
    abs_err: float | None
    rel_err: float | None
    fd_err: float | None
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class ForwardRow:
    """The output's value at a point: the engine's against the SymPy form's."""

    point: int
    output: str
    engine: float | None
    sympy: float | None
    ok: bool
    note: str = ""


def _num(x: float | None, spec: str = ".10g") -> str:
    return "-" if x is None else format(x, spec)


@dataclass
class GradientReport:
    """What :func:`symnet.check.check_gradients` found. ``ok`` is true when every row is
    PASS or KINK, every forward value agrees and the backward pass is reentrant."""

    rows: list[GradRow]
    forward: list[ForwardRow]
    points: list[dict[str, float]]
    seed: int | None
    blame: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reentrant: bool = True
    reference: str = ""
    tolerances: Tolerances = field(default_factory=Tolerances)
    inputs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return (self.reentrant and all(f.ok for f in self.forward)
                and all(r.verdict in ("PASS", "KINK") for r in self.rows))

    @property
    def failures(self) -> list[GradRow]:
        """The rows that are FAIL or UNDEFINED."""
        return [r for r in self.rows if r.verdict in ("FAIL", "UNDEFINED")]

    @property
    def kinks(self) -> list[GradRow]:
        return [r for r in self.rows if r.verdict == "KINK"]

    def verdict(self, name: str, point: int = 1, output: str | None = None) -> str:
        """The verdict of d output / d ``name`` at ``point``."""
        for r in self.rows:
            if r.name == name and r.point == point and (output is None or r.output == output):
                return r.verdict
        raise InputError(f"no row for d {output or 'output'} / d {name} at point #{point}; "
                         f"names: {', '.join(dict.fromkeys(r.name for r in self.rows))}")

    @property
    def first_failure(self) -> str | None:
        """The first failure, in the style of PyTorch's gradcheck."""
        if not self.reentrant:
            return next((n for n in self.notes if n.startswith("backward not reentrant")), "backward not reentrant")
        for f in self.forward:
            if not f.ok:
                return (f"forward mismatch for {f.output} at point #{f.point}: engine={_num(f.engine)}, "
                        f"sympy={_num(f.sympy)}{'; ' + f.note if f.note else ''}")
        for r in self.rows:
            if r.verdict == "FAIL":
                return (f"gradient mismatch for d {r.output} / d {r.name} at point #{r.point}: "
                        f"engine={_num(r.engine)}, sympy={_num(r.sympy)}, finite-diff={_num(r.fd)}; {r.note}")
            if r.verdict == "UNDEFINED":
                return f"gradient undefined for d {r.output} / d {r.name} at point #{r.point}: {r.note}"
        return None

    def table(self) -> str:
        """The rows as an aligned text table."""
        several = len({r.output for r in self.rows}) > 1
        head = ["pt"] + (["of"] if several else []) + ["name", "engine", "sympy", "finite diff",
                                                     "abs err", "rel err", "fd err", "verdict"]
        body = []
        for r in self.rows:
            shown = r.note and (r.verdict != "PASS" or r.note.startswith("finite differences unreliable"))
            verdict = r.verdict + (f" ({r.note})" if shown else "")
            body.append([str(r.point)] + ([r.output] if several else []) + [
                r.name, _num(r.engine), _num(r.sympy), _num(r.fd),
                _num(r.abs_err, ".1e"), _num(r.rel_err, ".1e"), _num(r.fd_err, ".1e"), verdict])
        widths = [max(len(row[k]) for row in [head] + body) for k in range(len(head) - 1)]
        numeric = {k for k, h in enumerate(head) if h not in ("name", "of", "verdict")}
        lines = []
        for row in [head] + body:
            cells = [c.rjust(w) if k in numeric else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells + [row[-1]]).rstrip())
        return "\n".join(lines)

    def __str__(self) -> str:
        status = "ok" if self.ok else "FAILED"
        counts = {v: sum(r.verdict == v for r in self.rows) for v in ("PASS", "FAIL", "KINK", "UNDEFINED")}
        summary = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        seed = f"random points, seed {self.seed}" if self.seed is not None else "given point(s)"
        lines = [f"gradient check {status}: {len(self.points)} point(s) ({seed}); {summary or 'no rows'}",
                 f"reference: {self.reference}"]
        for k, p in enumerate(self.points, start=1):
            shown = [f"{n}={p[n]:.6g}" for n in self.inputs if n in p]
            others = len(p) - len(shown)
            if others and others <= 6:
                shown += [f"{n}={v:.6g}" for n, v in p.items() if n not in self.inputs]
            elif others:
                shown.append(f"{others} parameter values (see .points)")
            lines.append(f"point #{k}: {', '.join(shown) or '(no leaves)'}")
        for f in self.forward:
            mark = "ok" if f.ok else "MISMATCH"
            lines.append(f"forward {f.output} at #{f.point}: engine {_num(f.engine)}, sympy {_num(f.sympy)}  {mark}")
        if self.rows:
            lines.append(self.table())
        first = self.first_failure
        if first:
            lines.append(first)
        if self.blame:
            lines.append("blame:")
            lines.extend(f"  {b}" for b in self.blame)
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(str(self))

    def _repr_html_(self) -> str:
        """The report as an HTML table, for Jupyter: the summary, then one row per
        gradient (failed rows in bold)."""
        head = ["point", "output", "name", "engine", "SymPy", "finite diff", "abs err", "rel err", "verdict"]
        rows = []
        for r in self.rows:
            cells = [str(r.point), r.output, r.name, _num(r.engine), _num(r.sympy), _num(r.fd),
                     _num(r.abs_err, ".1e"), _num(r.rel_err, ".1e"), r.verdict + (f" ({r.note})" if r.note else "")]
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            rows.append(f"<tr style=\"font-weight:bold\">{tds}</tr>" if r.verdict == "FAIL" else f"<tr>{tds}</tr>")
        summary = html.escape(str(self).splitlines()[0])
        ths = "".join(f"<th>{h}</th>" for h in head)
        return (f"<p>{summary}</p><table><thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
