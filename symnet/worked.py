"""Worked examples: a forward and backward pass with numbers, step by step, and exercises.

For given input values (and a target and loss), every named intermediate is shown
with its formula, the numbers substituted and its value; then the backward pass,
each adjoint as *local derivative times upstream gradient*, with numbers; then,
optionally, one step of gradient descent. Any steps can be blanked to make an
exercise sheet, whose answer key shows the same steps filled in and boxed.

>>> import symnet as sn
>>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(1.0, name="b")
>>> ex = worked_example(sn.compile(w * x + b), {"x": 2.0}, target=3.0, loss="mse", lr=0.05)
>>> [(s.part, s.key, s.value) for s in ex.steps]  # doctest: +NORMALIZE_WHITESPACE
[('forward', 'yhat', 2.0), ('loss', 'L', 1.0), ('backward', 'yhat', -2.0),
 ('backward', 'w', -4.0), ('backward', 'b', -2.0), ('update', 'w', 0.7), ('update', 'b', 1.1)]
>>> ex.loss_after
0.25
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .errors import InputError
from .graph import Node
from .losses import LOSSES, loss_by_name
from .emit import chainrule
from .analysis import intermediates
from .budgets import MAX_BLOCK_DEPTH
from .layerview import layer_view, origins
from .emit.notation import latex_name, latex_style, visible_width, wrap
from .emit.plaintext import plain_text
from .emit.render import Piece, apply_form, check_digits, format_number, number_piece, render
from .ops import PREC_ATOM
from .emit.forms import log_layers
from .emit.printer import layer_pieces
from . import engine
from .worked_batch import (BatchPass, batch_pass, bmatrix, build_samples, check_steps, history_table, is_batch,
                           loss_curve, matrix_steps, sgd_history)

__all__ = ["Step", "Blanks", "WorkedExample", "worked_example", "with_loss", "LOSS_NAMES", "PARTS"]

LOSS_NAMES = tuple(LOSSES)
PARTS = ("forward", "loss", "backward", "update")


@dataclass(frozen=True)
class Step:
    """One line of a worked example: ``left = formula = numbers = value``.

    ``part`` is one of :data:`PARTS`; ``key`` the network's name of the node or
    parameter (what ``blank=`` refers to; in matrix form ``z1``, ``h1``, ``delta1``,
    ``W1``, ``b1``; in a batch's scalar form ``L[k]`` for sample ``k``).
    """

    part: str
    key: str
    left: str
    formula: str
    numbers: str
    value: Any
    #: the value written in LaTeX when it is not one number (a ``bmatrix`` in matrix form;
    #: then ``value`` is the matrix as a tuple of rows)
    value_tex: str = ""


@dataclass
class WorkedExample:
    """The steps of one forward/backward pass (see :func:`worked_example`)."""

    steps: list[Step]
    digits: int
    lr: float | None = None
    loss_after: float | None = None
    output_name: str = "L"
    notes: list[str] = field(default_factory=list)
    #: d(mean loss)/d(parameter) by parameter name (the mean over the batch's samples)
    gradients: dict[str, float] = field(default_factory=dict)
    #: "scalar" or "matrix"
    form: str = "scalar"
    #: the number of samples (1 for a single example)
    batch: int = 1
    #: with ``steps=k``: ``(parameter values in network order, mean loss)`` before the first
    #: and after each SGD update; ``parameter_names`` names the values
    history: list[tuple[list[float], float]] = field(default_factory=list)
    parameter_names: list[str] = field(default_factory=list)
    #: with ``loss="cross_entropy"``: each sample's target class index (counting from 0,
    #: as ``target=`` gives it) and the number of classes
    target_classes: tuple[int, ...] = ()
    n_classes: int = 0
    #: the symbol of the class probabilities: ``p`` for a softmax the loss computes from the
    #: logits, else the network's output
    class_symbol: str = "p"

    def keys(self) -> list[str]:
        """The names that ``blank=`` accepts besides the part names."""
        return list(dict.fromkeys(s.key for s in self.steps))

    def blanked(self, blank: Iterable[str]) -> set[int]:
        """Indices of the steps that ``blank`` selects (parts, names, ``part:name``)."""
        blank = [blank] if isinstance(blank, str) else list(blank)
        chosen: set[int] = set()
        keys = set(self.keys())
        for item in blank:
            part, _, name = item.partition(":") if ":" in item else ("", "", item)
            if not part and name in PARTS:
                part, name = name, ""
            if (part and part not in PARTS) or (name and name not in keys):
                raise InputError(f"cannot blank {item!r}: use a part ({', '.join(PARTS)}), a name "
                                 f"({', '.join(sorted(keys))}) or part:name")
            picked = {k for k, s in enumerate(self.steps)
                      if (not part or s.part == part) and (not name or s.key == name)}
            if not picked and name:  # a typo must not silently hand out a sheet with that answer on it
                names = sorted({s.key for s in self.steps if s.part == part})
                raise InputError(f"cannot blank {item!r}: the {part} part has no step {name!r}"
                                 + (f"; its steps are {', '.join(names)}" if names else
                                    f"; this example has no {part} part"
                                    + (" (an update needs a learning rate, lr=)" if part == "update" else "")))
            chosen |= picked
        return chosen

    def blanks(self, blank: Iterable[str]) -> "Blanks":
        """What a sheet blanking ``blank`` must hide so that nothing on it answers a blanked step.

        Besides the chosen steps (:meth:`blanked`): the update of every parameter whose
        gradient is blanked (its new value is the old one minus ``lr`` times the gradient),
        and the numbers of every later step that may print a hidden value (forward values
        reappear in the loss and the backward pass, adjoints in later adjoints and the
        updates). The loss after the update and the SGD table are hidden with any blank.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> ex = worked_example(sn.compile(w * x), {"x": 2.0}, target=0.0, loss="mse", lr=0.1)
        >>> b = ex.blanks(["backward:w"])
        >>> sorted(ex.steps[k].part for k in b.steps), b.hides_gradients, b.hides_after
        (['backward', 'update'], True, True)
        """
        chosen = self.blanked(blank)
        grads = {self.steps[k].key for k in chosen if self.steps[k].part == "backward"}
        chosen |= {k for k, s in enumerate(self.steps) if s.part == "update" and s.key in grads}
        numbers: set[int] = set()
        for k, s in enumerate(self.steps):
            if k not in chosen and any(j < k and s.part in _PRINTS[self.steps[j].part] for j in chosen):
                numbers.add(k)
        return Blanks(frozenset(chosen), frozenset(numbers), frozenset(self.steps[k].part for k in chosen))

    def __str__(self) -> str:
        """The example as aligned plain text: one line per step, ``left = formula =
        numbers = value``, grouped by part, then the update's loss."""
        titles = {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass",
                  "update": "Gradient descent step" + (f" (learning rate {self.lr:g})" if self.lr else "")}
        out: list[str] = []
        for part in PARTS:
            steps = [s for s in self.steps if s.part == part]
            if not steps:
                continue
            out.append(f"{titles[part]}:")
            if part == "loss" and self.target_classes:
                out.append("  " + plain_text(self.class_sentence().replace("$", "")))
            lefts = [plain_text(s.left) for s in steps]
            width = max(len(x) for x in lefts)
            for left, s in zip(lefts, steps):
                value = (_plain_matrix(s.value, self.digits) if isinstance(s.value, (tuple, list))
                         else _plain_number(s.value, self.digits))
                out.append("  " + " = ".join([left.ljust(width)] + _plain_parts(s, value) + [value]))
        if self.loss_after is not None:
            out.append(f"After the step the loss is {_plain_number(self.loss_after, self.digits)}.")
        if len(self.history) > 1:
            losses = " -> ".join(_plain_number(loss, self.digits) for _, loss in self.history)
            out.append(f"The {'mean ' if self.batch > 1 else ''}loss over {len(self.history) - 1} steps of "
                       f"gradient descent: {losses}.")
        for note in self.notes:
            note = plain_text(note.replace("$", ""))
            out.append(note if note.startswith("Note:") else f"Note: {note}")
        return "\n".join(out)

    def _repr_latex_(self) -> str:
        """Jupyter shows the example as one display-math block: notebooks render
        ``_repr_latex_`` with MathJax, which reads math only (no ``\\noindent`` or
        ``align*`` environments), so each part is a bold title row of one ``aligned``."""
        titles = {"forward": r"\textbf{Forward pass}", "loss": r"\textbf{Loss}",
                  "backward": r"\textbf{Backward pass}",
                  "update": rf"\textbf{{Gradient descent step}}\ (\eta = {format_number(self.lr or 0.0, self.digits, latex=True)})"}
        rows: list[str] = []
        for part in PARTS:
            lines = [_line(s, False, False, self.digits, None) for s in self.steps if s.part == part]
            if lines:
                rows += [f"&{titles[part]}", *lines]
        return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"

    def latex(self, *, blank: Iterable[str] = (), key: bool = False, width: int | None = 70) -> str:
        """The example as a LaTeX fragment (text and ``align*`` blocks; needs amsmath, and with
        ``steps=`` the ``longtable`` package for the table of the steps, which breaks across pages;
        ``\\allowdisplaybreaks`` lets a long block break too).

        Steps chosen by ``blank`` show empty boxes instead of numbers; with ``key=True``
        they show the answers, boxed.
        """
        hide = self.blanks(blank)
        out: list[str] = []
        p = self.class_symbol  # the probabilities' name (p, unless the model has a p of its own)
        softmax = any(s.part == "forward" and s.left == p and isinstance(s.value, tuple) for s in self.steps)
        titles = {
            "forward": (r"\noindent\textbf{Forward pass.} Each line: the definition, the numbers substituted, "
                        r"the value." + (r" The softmax turns the logits $z$ into class probabilities, "
                           rf"${p} = \operatorname{{softmax}}\left(z\right)$ with "
                           rf"${p}_{{k}} = e^{{z_{{k}}}} / \sum_{{j}} e^{{z_{{j}}}}$." if softmax else "")),
            "loss": r"\noindent\textbf{Loss.}" + (" " + self.class_sentence() if self.target_classes else ""),
            "backward": (r"\noindent\textbf{Backward pass.} Each line: local derivative $\times$ upstream "
                         r"gradient, summed over the uses of the node; then the numbers and the value."),
            "update": (rf"\noindent\textbf{{One step of gradient descent}} with learning rate "
                       rf"$\eta = {format_number(self.lr or 0.0, self.digits, latex=True)}$: each parameter moves against its gradient."),
        }
        for part in PARTS:
            lines = [_line(s, k in hide.steps, key, self.digits, width, k in hide.numbers)
                     for k, s in enumerate(self.steps) if s.part == part]
            if not lines:
                continue
            out.append(titles[part])
            out.append("\\begin{align*}\n" + " \\\\\n".join(lines) + "\n\\end{align*}")
            if part == "update" and self.loss_after is not None and (key or not hide.hides_after):
                name = latex_name(self.output_name)
                name = rf"\bar{{{name}}}" if self.batch > 1 else name
                out.append(rf"\noindent With the new parameters the loss is ${name} = "
                           rf"{format_number(self.loss_after, self.digits, latex=True)}$.")
        if len(self.history) > 1 and (key or not hide.parts):
            out.append(rf"\noindent\textbf{{{len(self.history) - 1} steps of gradient descent}} with "
                       rf"$\eta = {format_number(self.lr or 0.0, self.digits, latex=True)}$: the parameters and the "
                       + ("mean " if self.batch > 1 else "") + "loss before each step.")
            out.append(history_table(self.parameter_names, self.history, self.digits,
                                     r"\bar{L}" if self.batch > 1 else latex_name(self.output_name), width))
        return "\n".join(out + self.notes)

    def class_sentence(self) -> str:
        r"""With cross-entropy: the target class stated in LaTeX text, with its one-hot vector
        and the loss it picks. Classes are written from 1 (``c = 3`` is ``target=2``), as
        :math:`p_c`, :math:`e_c` and the matrix form count them.

        >>> import symnet as sn
        >>> sn.seed(0)
        >>> net = sn.compile(sn.MLP(2, [3], output_activation="softmax"))
        >>> print(worked_example(net, [0.5, -1.0], target=2, loss="cross_entropy").class_sentence())
        The target is class $c = 3$ of $3$ (index 2, counting from 0), the one-hot vector $y = e_{c} = \left(0, 0, 1\right)^{\top}$, and the cross-entropy $L = -\sum_{k} y_{k} \log p_{k} = -\log p_{3}$.
        """
        if not self.target_classes:
            return ""
        p = self.class_symbol
        name = latex_name(self.output_name)
        if len(self.target_classes) == 1:
            c = self.target_classes[0]
            onehot = ", ".join("1" if k == c else "0" for k in range(self.n_classes))
            return (rf"The target is class $c = {c + 1}$ of ${self.n_classes}$ (index {c}, counting from 0), the "
                    rf"one-hot vector $y = e_{{c}} = \left({onehot}\right)^{{\top}}$, and the cross-entropy "
                    rf"${name} = -\sum_{{k}} y_{{k}} \log {p}_{{k}} = -\log {p}_{{{c + 1}}}$.")
        each = ", ".join(f"$c^{{[{k}]}} = {c + 1}$" for k, c in enumerate(self.target_classes, start=1))
        return (rf"The target classes of the samples are {each} of ${self.n_classes}$ (indices "
                rf"{', '.join(str(c) for c in self.target_classes)}, counting from 0); sample $k$ has the "
                rf"cross-entropy ${name}^{{[k]}} = -\log {p}_{{c^{{[k]}}}}$.")

    def loss_curve(self) -> str:
        """The loss per SGD step (``steps=``) as a pgfplots picture (needs ``\\usepackage{pgfplots}``)."""
        if len(self.history) < 2:
            raise InputError("a loss curve needs steps=k with k >= 1")
        return loss_curve(self.history, batch=self.batch)


#: Which parts' numbers may print the value of a step of each part (see :meth:`WorkedExample.blanks`).
_PRINTS = {"forward": ("forward", "loss", "backward"), "loss": ("forward", "loss", "backward"),
           "backward": ("backward", "update"), "update": ()}
#: Visible characters a line of matrices keeps free (:func:`symnet.emit.linebreak.visible_width`
#: counts a column gap as 1.5 characters and a minus sign as one; both print wider).
MATRIX_MARGIN = 8
#: The box a blanked derivative leaves on a sheet (room for a product of two fractions).
_FORMULA_BOX = r"\boxed{\phantom{\frac{\partial L}{\partial z} \cdot \frac{\partial L}{\partial z}}}"


@dataclass(frozen=True)
class Blanks:
    """What an exercise sheet hides (:meth:`WorkedExample.blanks`): ``steps`` (indices)
    show empty boxes for their numbers and value (and, for a derivative, its formula);
    ``numbers`` (indices) keep their value but box their numbers, which would print a
    hidden value; ``parts`` are the parts with a hidden step."""

    steps: frozenset[int]
    numbers: frozenset[int]
    parts: frozenset[str]

    @property
    def hides_values(self) -> bool:
        """Forward values or the loss are asked for (the graph must not show them)."""
        return bool(self.parts & {"forward", "loss"})

    @property
    def hides_gradients(self) -> bool:
        """Gradients are asked for (no closed-form gradients, no gradients on the graph)."""
        return "backward" in self.parts

    @property
    def hides_after(self) -> bool:
        """Gradients or updates are asked for (no loss after the update)."""
        return bool(self.parts & {"backward", "update"})


def _blank_box(text: str) -> str:
    """An empty box the size of ``text``; its numbers (and their signs) are replaced, so that
    not even the .tex source holds an answer."""
    return rf"\boxed{{\phantom{{{_NUMBER.sub('-0.000', text)}}}}}"


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _line(s: Step, blank: bool, key: bool, digits: int, width: int | None, hide_numbers: bool = False) -> str:
    value = s.value_tex or format_number(s.value, digits, latex=True)
    numbers, formula = s.numbers, s.formula
    if s.value_tex and width is not None:
        # matrices print wider than their characters (column gaps, math minus signs): keep a margin
        width -= MATRIX_MARGIN
    # a matrix's numbers get a box as tall as the matrix and a little wider (a box the size of
    # a product of matrices would not fit the line); a scalar's a box of fixed size
    scalar_box = (rf"\boxed{{\phantom{{{_NUMBER.sub('-0.000', s.value_tex)}}}\hspace{{5em}}}}" if s.value_tex
                  else r"\boxed{\phantom{-0.000 \cdot 0.000}}")
    if blank:
        value = rf"\boxed{{{value}}}" if key else _blank_box(s.value_tex or "-0.0000")
        if numbers:  # a matrix keeps its size when blanked; a scalar line gets a box of fixed size
            numbers = rf"\boxed{{{numbers}}}" if key else scalar_box
        if s.part == "backward" and not key and formula:  # the derivative itself is what is asked
            formula = _FORMULA_BOX
    elif hide_numbers and numbers and not key:  # they would print a hidden value
        numbers = scalar_box
    parts = [p for p in dict.fromkeys((formula, numbers)) if p and p not in (value, rf"\left({value}\right)")]
    sign = r"\leftarrow" if s.part == "update" else "="
    head = f"{s.left} &{sign} "
    one = head + " = ".join(parts + [value])
    if width is None or visible_width(one) <= width:
        return one
    if not parts:  # the value alone (a wide matrix)
        return head + _wrapped(value, width)
    rows = [head + _wrapped(parts[0], width)]
    rows += [f"&= {_wrapped(p, width)}" for p in parts[1:]]
    if visible_width(rows[-1].rsplit("&\\qquad ", 1)[-1] + " = " + value) <= width - 6:
        rows[-1] += f" = {value}"
    else:  # a wide value (a matrix) gets its own line
        rows.append(f"&= {_wrapped(value, width)}")
    return " \\\\\n".join(rows)


def _wrapped(tex: str, width: int) -> str:
    return " \\\\\n&\\qquad ".join(wrap(tex, width - 6))


def with_loss(network: Any, values: Any, target: Any = None, loss: str | None = None) -> tuple[Any, dict[str, float]]:
    """The network with ``loss`` put on top (see :func:`symnet.losses.attach_loss`: the
    target input is ``y``, or the first free name) and the values by name, target
    included. Without ``loss`` the network is used as it is. The network's own
    parameter values are kept; nothing is written to its nodes.
    """
    if loss is None:
        if target is not None:
            raise InputError("a target needs a loss: pass loss='mse', 'bce' or 'cross_entropy'")
        return network, dict(zip(network.input_names, network.input_values(values)))
    loss_by_name(loss, "worked example")
    if target is None:
        raise InputError(f"loss {loss!r} needs a target")
    root = network.root
    if not isinstance(root, Node):
        raise InputError("the network was compiled from a list of nodes; compile an Output to add a loss")
    feed = dict(zip(network.input_names, network.input_values(values)))
    if loss == "cross_entropy":
        return network.with_loss(loss, target), feed
    n_out = len(root.children) if root.kind == "output" else 1
    tvals = list(target) if isinstance(target, (list, tuple)) else [target]
    if len(tvals) != n_out:
        raise InputError(f"target has {len(tvals)} value(s) for {n_out} output(s)")
    for v in tvals:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise InputError(f"target {v!r} is not a finite number")
    net = network.with_loss(loss)
    feed.update(zip(net.input_names[len(network.input_names):], (float(v) for v in tvals)))
    return net, feed


def worked_example(network: Any, values: Any, target: Any = None, loss: str | None = None, *,
                   lr: float | None = None, digits: int = 4, output: int | None = None,
                   form: str = "scalar", steps: int | None = None,
                   max_block_depth: int = MAX_BLOCK_DEPTH) -> WorkedExample:
    """The worked forward/backward pass of ``network`` at ``values`` (and ``target`` for
    ``loss``), with one gradient-descent step when ``lr`` is given. Parameters are not
    changed. ``digits``: significant digits shown.

    ``values`` may be a mini-batch, a list of value sets ``[values_1, ..., values_n]``
    with ``target=[t_1, ..., t_n]``: the loss is then the mean over the samples and
    every gradient and update uses the mean gradient. ``form="matrix"`` writes a stack
    of layers with vectors and matrices (numeric ``bmatrix`` values, one column per
    sample; see :mod:`symnet.worked_batch`); other graphs keep the scalar form, with a
    note. ``steps=k`` (with ``lr``) also runs ``k`` SGD updates and records
    ``history``, shown as a table. ``gradients`` holds d(mean loss)/d(parameter).

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    >>> ex = worked_example(sn.compile(w * x), [[1.0], [3.0]], target=[0.0, 1.0], loss="mse", lr=0.1, steps=2)
    >>> ex.batch, ex.gradients, [round(loss, 4) for _, loss in ex.history]
    (2, {'w': 2.0}, [0.25, 0.05, 0.05])
    """
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0
                           or not math.isfinite(lr)):
        raise InputError(f"lr must be a finite positive number, got {lr!r}")
    check_digits(digits)
    from .emit.matrix import check_form, fallback_note

    check_form(form)
    steps = check_steps(steps, lr)
    if is_batch(values):
        samples = build_samples(network, values, target, loss, with_loss)
    else:
        samples = [with_loss(network, values, target, loss)]
    bp = batch_pass(samples, output)
    net, feed = samples[0]
    program = net.program
    view = layer_view(program)
    notes = []
    if form == "matrix" and not view:
        notes.append(rf"\noindent Note: {_escape(fallback_note(view))}.")
        form = "scalar"
    new = None
    if lr is not None:
        new = [v - lr * bp.gradients[name] for v, name in zip(net.parameter_values, net.parameter_names)]
    if form == "matrix":
        rows = [Step(*fields) for fields in matrix_steps(bp, lr, new, digits)]
        out_name = program.names[bp.samples[0].output]
    elif len(samples) == 1:
        rows, out_name = _scalar_steps(net, feed, vals=bp.samples[0].vals, output=output, digits=digits, lr=lr,
                                       max_block_depth=max_block_depth)
    else:
        rows, out_name = _batch_scalar_steps(bp, digits, lr, new)
    ex = WorkedExample(rows, digits, lr, output_name=out_name or "L", notes=notes, gradients=dict(bp.gradients),
                       form=form, batch=len(samples), parameter_names=list(net.parameter_names))
    if loss == "cross_entropy":
        ex.target_classes = tuple(int(t) for t in (target if len(samples) > 1 else [target]))
        ex.n_classes = len(network.program.outputs)
        name = softmax_name(program)
        ex.class_symbol = latex_name(name) if name is not None else r"\hat{y}"
    if new is not None:
        ex.loss_after = batch_pass(samples, output, new).loss
    if steps is not None:
        ex.history = sgd_history(samples, lr, steps, output)  # type: ignore[arg-type]
    return ex


def _escape(text: str) -> str:
    return "".join("\\" + c if c in "&%$#_{}" else c for c in text)


def _scalar_steps(net: Any, feed: dict[str, float], *, vals: Sequence[float], output: int | None, digits: int,
                  lr: float | None, max_block_depth: int = MAX_BLOCK_DEPTH) -> tuple[list[Step], str | None]:
    """One sample in scalar form: every named intermediate, every adjoint, the update."""
    program = net.program
    ch = chainrule.chain(net, output=output, exact=False, max_block_depth=max_block_depth)
    adj = engine.backward(program, vals, {ch.output: 1.0})
    steps = _forward_steps(net, vals, digits, ch.output)
    p = _softmax_step(program, vals, digits)
    if p is not None:  # before the loss
        at = next((k for k, s in enumerate(steps) if s.part == "loss"), len(steps))
        steps.insert(at, p)
    steps += _backward_steps(net, ch, vals, adj, digits)
    if lr is not None:
        for i in program.parameters:
            g, old = adj[i], vals[i]
            name = latex_name(program.names[i])
            grad = rf"\frac{{\partial {latex_name(program.names[ch.output])}}}{{\partial {name}}}"
            nums = f"{format_number(old, digits, latex=True)} - {format_number(lr, digits, latex=True)} \\cdot {_num(g, digits)}"
            steps.append(Step("update", program.names[i], name, rf"{name} - \eta {grad}", nums, old - lr * g))
    return steps, program.names[ch.output]


def _batch_scalar_steps(bp: BatchPass, digits: int, lr: float | None,
                        new: Sequence[float] | None) -> tuple[list[Step], str | None]:
    """A batch in scalar form: each sample's prediction and loss, the mean loss, each
    parameter's mean gradient from the samples' gradients, the update."""
    first = bp.samples[0]
    program = first.net.program
    lname = latex_name(program.names[first.output] or "L")
    n = bp.n
    steps: list[Step] = []
    for k, s in enumerate(bp.samples, start=1):
        p = s.net.program
        preds = _predictions(s)
        for i in preds:
            name = p.names[i] or "yhat"
            steps.append(Step("forward", f"{name}[{k}]", rf"{{{latex_name(name)}}}^{{[{k}]}}", "", "", s.vals[i]))
        steps.append(Step("loss", f"{program.names[first.output]}[{k}]", rf"{lname}^{{[{k}]}}", "", "", s.vals[s.output]))
    total = _sum_of([s.vals[s.output] for s in bp.samples], digits)
    steps.append(Step("loss", program.names[first.output] or "L", rf"\bar{{{lname}}}",
                      rf"\frac{{1}}{{{n}}} \sum_{{k=1}}^{{{n}}} {lname}^{{[k]}}",
                      rf"\frac{{1}}{{{n}}} \left({total}\right)", bp.loss))
    for k, name in enumerate(first.net.parameter_names):
        tex = latex_name(name)
        grads = _sum_of([s.adj[s.net.program.parameters[k]] for s in bp.samples], digits)
        steps.append(Step("backward", name, rf"\frac{{\partial \bar{{{lname}}}}}{{\partial {tex}}}",
                          rf"\frac{{1}}{{{n}}} \sum_{{k=1}}^{{{n}}} \frac{{\partial {lname}^{{[k]}}}}{{\partial {tex}}}",
                          rf"\frac{{1}}{{{n}}} \left({grads}\right)", bp.gradients[name]))
    if lr is not None and new is not None:
        for k, name in enumerate(first.net.parameter_names):
            tex, old, g = latex_name(name), first.vals[program.parameters[k]], bp.gradients[name]
            steps.append(Step("update", name, tex, rf"{tex} - \eta \frac{{\partial \bar{{{lname}}}}}{{\partial {tex}}}",
                              f"{format_number(old, digits, latex=True)} - {format_number(lr, digits, latex=True)} \\cdot {_num(g, digits)}", new[k]))
    return steps, program.names[first.output]


def _predictions(sample: Any) -> list[int]:
    """The model outputs below the loss: nodes marked as an output, else the loss's own operands."""
    p = sample.net.program
    view = layer_view(p)
    if view and view.outputs:
        return list(view.outputs)
    org = origins(p)
    marked = [i for i in p.op_indices if i != sample.output and org[i] is not None and org[i].role == "output"]
    return marked or [sample.output]


def _sum_of(values: Sequence[float], digits: int) -> str:
    """``a + (-b) + c``: numbers summed in LaTeX, a negative one in parentheses unless it is first."""
    return " + ".join([format_number(values[0], digits, latex=True)] + [_num(v, digits) for v in values[1:]])


def _num(v: float, digits: int) -> str:
    text = format_number(v, digits, latex=True)
    return rf"\left({text}\right)" if text.startswith("-") else text


def _forward_steps(net: Any, vals: Sequence[float], digits: int, out: int) -> list[Step]:
    program = net.program
    named = intermediates(program)
    # a cross-entropy from the logits reads -log(p_c) after the p = softmax(z) step, as the formula does
    fixed, _ = layer_pieces(program, latex_style(""), lambda i, name: latex_name(name), named)
    sym = render(program, lambda i: Piece(latex_name(program.names[i]) if program.kinds[i] != "constant"
                                          else format_number(vals[i], digits, latex=True), PREC_ATOM),
                 latex_style(""), named, lambda i: latex_name(program.names[i]), fixed=fixed)
    # the same walk with every leaf and named node replaced by its value (signs and
    # parentheses follow the number, so this cannot reuse render's named references)
    style = latex_style(r"\cdot")
    num: list[Piece | None] = [None] * len(program.nodes)
    cut = set(named)

    def ref(a: int) -> Piece:
        p = num[a]
        return number_piece(vals[a], digits, latex=True) if p is None or a in cut else p

    logs = log_layers(program)  # p_c's value: the layer's row at the loss's logits
    numbers, _ = layer_pieces(program, style, lambda i, name: _num(logs[i][0].forward(
        tuple(vals[a] for a in program.args[i]), program.attrs[i]), digits), named)
    for i in program.op_indices:
        num[i] = numbers.get(i) or apply_form(program.ops[i].latex, [ref(a) for a in program.args[i]],
                                              program.attrs[i], style)
    steps = []
    for i in named:
        origin = program.origins[i]
        part = "loss" if i == out and origin is not None and origin.role == "loss" else "forward"
        steps.append(Step(part, program.names[i], latex_name(program.names[i]), sym[i].text, num[i].text, vals[i]))
    return steps


#: Up to this many classes the worked example writes p = softmax(z) on one line with its numbers.
_INLINE_CLASSES = 4


def softmax_logits(program: Any) -> list[int] | None:
    """The logits of a cross-entropy the loss computes from them (its log-softmax node,
    marked ``loss_logits``), or None."""
    node = next((i for i in program.op_indices
                 if program.origins[i] is not None and program.origins[i].role == "loss_logits"), None)
    return None if node is None else list(program.args[node])


def logit_names(program: Any, logits: Sequence[int]) -> str:
    """The logits' LaTeX names, comma-separated, when every one is printed by name (else "")."""
    named = set(intermediates(program))
    if not all(a in named or program.ops[a] is None for a in logits):
        return ""
    return ", ".join(latex_name(program.names[a]) for a in logits)


def softmax_name(program: Any) -> str | None:
    """The name the probabilities of a cross-entropy computed from the logits print as: ``p``, or
    a fresh name when the model has a ``p`` of its own (:func:`symnet.emit.forms.log_layers`)."""
    return next((name for _, name in log_layers(program).values()), None)


def _softmax_step(program: Any, vals: Sequence[float], digits: int) -> Step | None:
    """``p = softmax(z)`` with numbers, for a cross-entropy computed from the logits
    (the loss's log-softmax node, which never names the probabilities)."""
    logits = softmax_logits(program)
    layer = next(iter(log_layers(program).values()), None)
    if logits is None or layer is None:
        return None
    row, name = layer
    z = [vals[a] for a in logits]
    p = tuple(row.forward(tuple(z), k) for k in range(len(z)))  # the row's own kernel
    names = logit_names(program, logits)
    args = names or ", ".join(format_number(v, digits, latex=True) for v in z)  # unnamed logits: their values
    if len(z) > _INLINE_CLASSES:  # too wide for one line: the probabilities as a column
        return Step("forward", name, latex_name(name), rf"\operatorname{{softmax}}\left({args}\right)", "", p,
                    bmatrix([[v] for v in p], digits))
    powers = [f"e^{{{format_number(v, digits, latex=True)}}}" for v in z]
    numbers = rf"\frac{{\left({', '.join(powers)}\right)}}{{{' + '.join(powers)}}}"
    value = r"\left(" + ", ".join(format_number(v, digits, latex=True) for v in p) + r"\right)"
    return Step("forward", name, latex_name(name), rf"\operatorname{{softmax}}\left({args}\right)", numbers, p,
                value)


def _backward_steps(net: Any, ch: chainrule.Chain, vals: Sequence[float], adj: Sequence[float],
                    digits: int) -> list[Step]:
    program = ch.program
    pr = chainrule.chain_printer(ch, "", digits, substitute=False)  # definitions in symbols; numbers next
    # each named node (and p_k of p = softmax(z)) as its value, parenthesised only where its sign
    # needs it (exp(-0.2), not exp((-0.2)))
    numbers = chainrule.printer({}, r"\cdot", digits, {s: number_piece(v, digits, latex=True)
                                                       for s, v in chainrule.symbol_values(ch, vals).items()})
    out_name = latex_name(program.names[ch.output])
    steps = []
    for v in chainrule.backward_order(ch) + list(program.parameters):
        if not any(u in ch.live for u in ch.consumers.get(v, [])) or ch.hidden(v):
            continue
        left = (chainrule.adjoint_latex(ch, v) if v in ch.locals
                else rf"\frac{{\partial {out_name}}}{{\partial {latex_name(program.names[v])}}}")
        formula = chainrule.adjoint_rhs(ch, pr, v, "")
        nums = chainrule.adjoint_rhs(ch, numbers, v, r"\cdot", lambda u: _num(adj[u], digits))
        steps.append(Step("backward", program.names[v], left, formula, nums, adj[v]))
    return steps


def _plain_parts(s: Step, value: str) -> list[str]:
    """The formula and numbers of a step in plain text, each once, and neither when it only
    repeats the value (``delta = 0.48 = 0.48``, ``= (-0.52) = -0.52``)."""
    parts: list[str] = []
    for tex in (s.formula, s.numbers):
        text = plain_text(tex) if tex else ""
        if text and text not in parts and text not in (value, f"({value})"):
            parts.append(text)
    return parts


def _plain_number(value: float, digits: int) -> str:
    return format(value, f".{digits}g")


def _plain_matrix(rows: Any, digits: int) -> str:
    if not all(isinstance(r, (tuple, list)) for r in rows):  # a vector
        return "[" + ", ".join(_plain_number(v, digits) for v in rows) + "]"
    return "[" + ", ".join("[" + ", ".join(_plain_number(v, digits) for v in row) + "]" for row in rows) + "]"
