"""Worked examples over a mini-batch, in matrix form, and over several SGD steps.

Every number comes from the engine: each sample's forward values and its
reverse-mode adjoints on the network with the loss on top. The batch loss is the
mean :math:`\\bar{L} = \\frac{1}{n} \\sum_k L^{[k]}` and its gradient the mean of the
samples' gradients. In matrix form the samples are the columns (CS231n's and
Goodfellow et al.'s convention, section 6.5.7):
:math:`Z^{(l)} = W^{(l)} H^{(l-1)} + b^{(l)} \\mathbf{1}^{\\top}`,
:math:`\\Delta^{(l)} = ((W^{(l+1)})^{\\top} \\Delta^{(l+1)}) \\odot f'(Z^{(l)})` with one
column :math:`\\delta^{(l)[k]} = \\partial L^{[k]} / \\partial z^{(l)[k]}` per sample, and
:math:`\\partial \\bar{L} / \\partial W^{(l)} = \\frac{1}{n} \\Delta^{(l)} (H^{(l-1)})^{\\top}`,
:math:`\\partial \\bar{L} / \\partial b^{(l)} = \\frac{1}{n} \\Delta^{(l)} \\mathbf{1}`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from . import engine
from .emit.notation import latex_name
from .emit.render import format_number
from .emit.matrix import activation_latex, derivative_latex
from .errors import InputError, NumericalError
from .losses import clamped
from .layerview import LayerView, layer_view

__all__ = ["Sample", "BatchPass", "is_batch", "batch_pass", "sgd_history", "bmatrix", "history_table",
           "matrix_steps", "loss_curve"]


@dataclass(frozen=True)
class Sample:
    """One sample's loss network, its values by name, every node's value and adjoint."""

    net: Any
    feed: dict[str, float]
    vals: list[float]
    adj: list[float]
    output: int


@dataclass(frozen=True)
class BatchPass:
    """The samples of one pass, the mean loss and the mean gradient by parameter name."""

    samples: tuple[Sample, ...]
    loss: float
    gradients: dict[str, float]

    @property
    def n(self) -> int:
        return len(self.samples)


def is_batch(values: Any) -> bool:
    """``values`` is a mini-batch: a non-empty list of value sets (lists or dicts).

    >>> is_batch([[1.0, 2.0], [3.0, 4.0]]), is_batch([1.0, 2.0]), is_batch({"x": 1.0})
    (True, False, False)
    """
    return (isinstance(values, (list, tuple)) and len(values) > 0
            and all(isinstance(v, (list, tuple, Mapping)) for v in values))


def build_samples(network: Any, values: Any, target: Any, loss: str | None,
                  with_loss: Any) -> list[tuple[Any, dict[str, float]]]:
    """The loss network and feed of every sample (``target`` one entry per sample)."""
    n = len(values)
    if loss is not None or target is not None:
        if not isinstance(target, (list, tuple)) or len(target) != n:
            got = len(target) if isinstance(target, (list, tuple)) else type(target).__name__
            raise InputError(f"a batch of {n} samples needs a list of {n} targets (target=[t_1, ..., t_{n}]), got {got}")
    out = []
    for k, v in enumerate(values):
        try:
            out.append(with_loss(network, v, None if target is None else target[k], loss))
        except InputError as exc:
            raise InputError(f"sample {k + 1}: {exc}") from None
    # every sample's loss network has the same parameters in the same order (the mean
    # gradient adds them up by position)
    first = out[0][0].parameter_names
    for k, (net, _) in enumerate(out[1:], start=2):
        if net.parameter_names != first:
            raise InputError(f"sample {k}: its loss network has parameters {net.parameter_names}, not {first}")
    return out


def batch_pass(samples: Sequence[tuple[Any, dict[str, float]]], output: int | None = None,
               params: Sequence[float] | None = None) -> BatchPass:
    """Forward and backward passes for every sample (parameters overridden by ``params``)."""
    done = []
    for net, feed in samples:
        p = net.program
        outs = p.outputs
        if output is None and len(outs) > 1:
            raise InputError(f"the network has {len(outs)} outputs: pass output=k or a loss")
        out = outs[output or 0] if output is None or 0 <= output < len(outs) else None
        if out is None:
            raise InputError(f"output index {output!r} out of range (0..{len(outs) - 1})")
        vals = engine.evaluate(p, net.leaf_values(feed, params))
        for i, why in clamped(p, vals):
            where = f"sample {len(done) + 1}" if len(samples) > 1 else "this point"
            raise NumericalError(f"node '{p.names[i]}' ({p.ops[i].name}): at {where} {why}; a worked example there "
                                 "would contradict its own arithmetic. Choose a point where it is not clamped")
        adj = engine.backward(p, vals, {out: 1.0})
        done.append(Sample(net, feed, vals, adj, out))
    n = len(done)
    names = done[0].net.parameter_names
    grads = {name: math.fsum(s.adj[i] for s in done for i in [s.net.program.parameters[k]]) / n
             for k, name in enumerate(names)}
    return BatchPass(tuple(done), math.fsum(s.vals[s.output] for s in done) / n, grads)


def sgd_history(samples: Sequence[tuple[Any, dict[str, float]]], lr: float, steps: int,
                output: int | None = None) -> list[tuple[list[float], float]]:
    """``(parameters, mean loss)`` before the first update and after each of ``steps``
    plain SGD updates ``theta <- theta - lr * mean gradient``. Parameters are not changed."""
    net = samples[0][0]
    params = list(net.parameter_values)
    names = net.parameter_names
    history = []
    for step in range(steps + 1):
        bp = batch_pass(samples, output, params)
        history.append((list(params), bp.loss))
        if step < steps:
            params = [v - lr * bp.gradients[name] for v, name in zip(params, names)]
            if not all(math.isfinite(v) for v in params):
                raise InputError(f"SGD step {step + 1} made a parameter non-finite; use a smaller lr")
    return history


# -- LaTeX pieces ---------------------------------------------------------------------

def bmatrix(rows: Sequence[Sequence[float]], digits: int | None = 4) -> str:
    """A numeric matrix as a LaTeX ``bmatrix``.

    >>> bmatrix([[1.0, -0.5], [0.25, 2.0]])
    '\\\\begin{bmatrix} 1 & -0.5 \\\\\\\\ 0.25 & 2 \\\\end{bmatrix}'
    """
    body = r" \\ ".join(" & ".join(format_number(v, digits, latex=True) for v in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def history_table(names: Sequence[str], history: Sequence[tuple[Sequence[float], float]], digits: int = 4,
                  loss_name: str = r"\bar{L}", width: int | None = None) -> str:
    """The parameters and the loss per SGD step as ``longtable`` blocks (they break across
    pages; needs ``\\usepackage{longtable}``). One column per step and one row per
    parameter when the steps fit across a line of ``width`` visible characters (``None``:
    up to 7 steps); else one row per step, with the parameters (and the loss) in groups of
    as many columns as fit, one table per group."""
    heads = [f"${latex_name(n)}$" for n in names] + [f"${loss_name}$"]
    cells = [[format_number(v, digits, latex=True) for v in params] + [format_number(loss, digits, latex=True)]
             for params, loss in history]
    across = 7 if width is None else max(1, (width - 10) // (digits + 7))  # a number is up to digits + 7 wide
    steps = len(history)
    if steps <= across:
        return _longtable("parameter", [str(k) for k in range(steps)],
                          [(h, [cells[k][r] for k in range(steps)]) for r, h in enumerate(heads)])
    return "\n".join(_longtable("step", heads[start:start + across],
                                [(str(k), row[start:start + across]) for k, row in enumerate(cells)])
                     for start in range(0, len(heads), across))


def _longtable(corner: str, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A small-print ``longtable``, its head repeated on every page it runs onto."""
    head = f"{corner} & " + " & ".join(columns) + r" \\ \hline"
    body = [f"{label} & " + " & ".join(f"${c}$" for c in cells) + r" \\" for label, cells in rows]
    return ("\\begingroup\\small\n\\begin{longtable}{" + "l" + "r" * len(columns) + "}\n" + head + "\n\\endhead\n"
            + "\n".join(body) + "\n\\end{longtable}\n\\endgroup")


def loss_curve(history: Sequence[tuple[Sequence[float], float]], digits: int = 6, batch: int = 1) -> str:
    """A pgfplots ``tikzpicture`` of the loss per SGD step (needs ``\\usepackage{pgfplots}``);
    the mean loss over the samples of a mini-batch of ``batch`` > 1."""
    coords = " ".join(f"({k},{loss:.{digits}g})" for k, (_, loss) in enumerate(history))
    return ("\\begin{tikzpicture}\n\\begin{axis}[width=10cm, height=6cm, xlabel={SGD step}, "
            f"ylabel={{{'mean loss' if batch > 1 else 'loss'}}}, grid=major]\n"
            f"\\addplot[mark=*] coordinates {{{coords}}};\n\\end{{axis}}\n\\end{{tikzpicture}}")


# -- the matrix view ------------------------------------------------------------------------

def _cols(bp: BatchPass, views: Sequence[LayerView], pick: Any, table: str = "vals") -> list[list[float]]:
    """Rows of a matrix with one column per sample: ``pick(view)`` gives the node indices."""
    columns = [[getattr(s, table)[i] for i in pick(v)] for s, v in zip(bp.samples, views)]
    return [list(r) for r in zip(*columns)]


def matrix_steps(bp: BatchPass, lr: float | None, new_params: Sequence[float] | None,
                 digits: int) -> list[tuple[Any, ...]]:
    """The worked pass in matrix form: the fields of :class:`symnet.worked.Step`, one tuple
    per line ``(part, key, left, formula, numbers, value, value_tex)``; a matrix value is
    a tuple of rows, written as a ``bmatrix``."""

    def Step(*fields: Any) -> tuple[Any, ...]:  # noqa: N802 - reads like the dataclass it feeds
        return fields

    views = [layer_view(s.net.program) for s in bp.samples]
    view = views[0]
    n = bp.n
    batch = n > 1
    big = (lambda s: s.upper()) if batch else (lambda s: s)
    vals0, prog = bp.samples[0].vals, bp.samples[0].net.program
    steps: list[tuple[Any, ...]] = []

    def mat(rows: Sequence[Sequence[float]]) -> str:
        return bmatrix(rows, digits)

    def step(part: str, key: str, left: str, formula: str, nums: str, rows: Sequence[Sequence[float]]) -> None:
        steps.append(Step(part, key, left, formula, nums, tuple(tuple(r) for r in rows), mat(rows)))

    X = _cols(bp, views, lambda v: v.inputs)
    step("forward", "x", big("x"), "", "", X)
    # the prediction (no softmax on top): yhat = h^(L), or yhat = z^(L) for a linear output layer
    yhat = None if view.head or view.target_class is not None else r"\hat{Y}" if batch else r"\hat{y}"
    for li, layer in enumerate(view.layers):
        l = layer.index
        top = yhat if li == len(view.layers) - 1 else None
        W = [[vals0[i] for i in row] for row in layer.weights]
        b = [[vals0[i]] for i in layer.biases]
        prev = big("x") if l == 1 else _out(view, l - 1, big)
        prev_rows = X if l == 1 else _cols(bp, views, lambda v, li=li: v.layers[li - 1].outputs)
        Z = _cols(bp, views, lambda v, li=li: v.layers[li].sums)
        ones = r" \mathbf{1}^{\top}" if batch else ""
        zname = big("z") + f"^{{({l})}}"
        step("forward", f"z{l}", f"{top} = {zname}" if top and layer.activation is None else zname,
             rf"W^{{({l})}} {prev} + b^{{({l})}}{ones}",
             f"{mat(W)} {mat(prev_rows)} + {mat(b)}{ones}", Z)
        if layer.activation is not None:
            H = _cols(bp, views, lambda v, li=li: v.layers[li].activations)
            zl = big("z") + f"^{{({l})}}"
            step("forward", f"h{l}", top or big("h") + f"^{{({l})}}", activation_latex(layer.activation, zl),
                 activation_latex(layer.activation, mat(Z)), H)
    last = view.layers[-1]
    if view.target_class is not None:
        P = [[_probability(s, v, j) for s, v in zip(bp.samples, views)] for j in range(last.units)]
        step("forward", "p", big("p"), rf"\operatorname{{softmax}}\left({big('z')}^{{({last.index})}}\right)", "", P)
    losses = [[s.vals[s.output] for s in bp.samples]]
    lname = latex_name(prog.names[bp.samples[0].output] or "L")
    if batch:
        step("loss", "L", rf"\left({lname}^{{[1]}}, \dots, {lname}^{{[{n}]}}\right)", "", "", losses)
        steps.append(Step("loss", "Lbar", rf"\bar{{{lname}}}", rf"\frac{{1}}{{{n}}} \sum_{{k=1}}^{{{n}}} {lname}^{{[k]}}",
                        "", bp.loss))
    else:
        c = view.target_class
        steps.append(Step("loss", "L", lname, "" if c is None else rf"-\log p_{{{c + 1}}}", "", bp.loss))
    # backward: one delta column per sample, straight from the engine's adjoints of the sums
    D = {layer.index: _cols(bp, views, lambda v, li=li: v.layers[li].sums, "adj")
         for li, layer in enumerate(view.layers)}
    dl = big(r"\delta") if not batch else r"\Delta"
    L = last.index
    if view.target_class is not None:
        E = [[1.0 if j == v.target_class else 0.0 for v in views] for j in range(last.units)]
        step("backward", f"delta{L}", f"{dl}^{{({L})}}", rf"{big('p')} - {big('e')}_{{c}}",
             f"{mat(P)} - {mat(E)}", D[L])
    else:
        step("backward", f"delta{L}", f"{dl}^{{({L})}}",
             rf"\frac{{\partial {lname}}}{{\partial {big('z')}^{{({L})}}}}", "", D[L])
    for li in range(len(view.layers) - 2, -1, -1):
        layer, above = view.layers[li], view.layers[li + 1]
        l = layer.index
        Wt = [[vals0[above.weights[j][i]] for j in range(above.units)] for i in range(above.fan_in)]
        back = rf"\left(W^{{({l + 1})}}\right)^{{\top}} {dl}^{{({l + 1})}}"
        nums = f"{mat(Wt)} {mat(D[l + 1])}"
        if layer.activation is not None:
            head, _ = derivative_latex(layer.activation, l)
            head = head.replace("z^{", big("z") + "^{")
            row = layer.activation
            Fp = [[row.partials((s.vals[z],), s.vals[h], None)[0] for s, v in zip(bp.samples, views)
                   for z, h in [(v.layers[li].sums[j], v.layers[li].activations[j])]] for j in range(layer.units)]
            back, nums = rf"\left({back}\right) \odot {head}", rf"\left({nums}\right) \odot {mat(Fp)}"
        step("backward", f"delta{l}", f"{dl}^{{({l})}}", back, nums, D[l])
    mean = rf"\frac{{1}}{{{n}}} " if batch else ""
    for li, layer in enumerate(view.layers):
        l = layer.index
        prev_rows = X if l == 1 else _cols(bp, views, lambda v, li=li: v.layers[li - 1].outputs)
        prev = big("x") if l == 1 else rf"\left({_out(view, l - 1, big)}\right)"
        dW = [[bp.gradients[prog.names[i]] for i in row] for row in layer.weights]
        db = [[bp.gradients[prog.names[i]]] for i in layer.biases]
        step("backward", f"W{l}", rf"\frac{{\partial {_bar(lname, batch)}}}{{\partial W^{{({l})}}}}",
             rf"{mean}{dl}^{{({l})}} {prev}^{{\top}}", f"{mean}{mat(D[l])} {mat(_transpose(prev_rows))}", dW)
        ones = r" \mathbf{1}" if batch else ""
        step("backward", f"b{l}", rf"\frac{{\partial {_bar(lname, batch)}}}{{\partial b^{{({l})}}}}",
             rf"{mean}{dl}^{{({l})}}{ones}", f"{mean}{mat(D[l])}{ones}" if batch else "", db)
    if lr is not None and new_params is not None:
        new = {prog.names[i]: v for i, v in zip(prog.parameters, new_params)}
        for layer in view.layers:
            l = layer.index
            for stem, grid in (("W", layer.weights), ("b", tuple((i,) for i in layer.biases))):
                old = [[vals0[i] for i in row] for row in grid]
                g = [[bp.gradients[prog.names[i]] for i in row] for row in grid]
                upd = [[new[prog.names[i]] for i in row] for row in grid]
                step("update", f"{stem}{l}", f"{stem}^{{({l})}}",
                     rf"{stem}^{{({l})}} - \eta \frac{{\partial {_bar(lname, batch)}}}{{\partial {stem}^{{({l})}}}}",
                     rf"{mat(old)} - {format_number(lr, latex=True)} {mat(g)}", upd)
    return steps


def _out(view: LayerView, l: int, big: Any) -> str:
    """``h^{(l)}`` (``H`` for a batch), or ``z^{(l)}`` when layer ``l`` has no activation."""
    return big("h" if view.layers[l - 1].activation is not None else "z") + f"^{{({l})}}"


def _bar(name: str, batch: bool) -> str:
    return rf"\bar{{{name}}}" if batch else name


def _transpose(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    return [list(r) for r in zip(*rows)]


def _probability(sample: Sample, view: LayerView, j: int) -> float:
    """``p_j``: exp of the loss's own log-softmax row at class ``j`` (no second softmax kernel)."""
    ls = view.loss_nodes[0]
    row, p = view.program.ops[ls], view.program
    return math.exp(row.forward(tuple(sample.vals[a] for a in p.args[ls]), j))


def check_steps(steps: Any, lr: Any) -> int | None:
    """``steps`` if it is None or a positive integer (then ``lr`` is required)."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or not 1 <= steps <= 10_000:
        raise InputError(f"steps must be an integer from 1 to 10000, got {steps!r}")
    if lr is None:
        raise InputError("steps= needs a learning rate: pass lr=")
    return int(steps)
