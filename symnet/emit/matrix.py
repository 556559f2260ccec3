"""The matrix form: a layered network and its backprop written with vectors and matrices.

Reads the one :func:`~symnet.layerview.layer_view` of the program. The forward
pass is written as in Goodfellow, Bengio and Courville, *Deep Learning* (2016),
section 6.5.4, and CS231n's notes: :math:`z^{(l)} = W^{(l)} h^{(l-1)} + b^{(l)}`,
:math:`h^{(l)} = f(z^{(l)})`, :math:`h^{(0)} = x`, with ``W^{(l)}[j, i]`` the
parameter ``w{l}_{j+1}_{i+1}``. The backward pass with deltas
:math:`\\delta^{(l)} = \\partial L / \\partial z^{(l)}` (column vectors):

* :math:`\\delta^{(L)} = \\nabla_{\\hat{y}} L \\odot f'(z^{(L)})` for the output
  layer (its entries are SymPy's derivatives of the loss's op rows, simplified),
  and :math:`\\delta^{(L)} = p - e_c` for softmax with cross-entropy on class c;
* :math:`\\delta^{(l)} = ((W^{(l+1)})^{\\top} \\delta^{(l+1)}) \\odot f'(z^{(l)})`;
* :math:`\\partial L / \\partial W^{(l)} = \\delta^{(l)} (h^{(l-1)})^{\\top}` and
  :math:`\\partial L / \\partial b^{(l)} = \\delta^{(l)}`.

A graph that is not a stack of layers has no matrix form: the scalar form is
written instead, after a note (a ``%`` comment line in LaTeX) giving the reason.

>>> import symnet as sn
>>> sn.seed(0)
>>> print(matrix_text(sn.compile(sn.MLP(2, [3, 1], activation="tanh")).program))
x = [x1, x2]
z1 = W1 @ x + b1
h1 = tanh(z1)
z2 = W2 @ h1 + b2
yhat = z2
"""

from __future__ import annotations

from typing import Any, Callable

import sympy as sp

from ..program import Program
from ..errors import GraphError, InputError, shown
from ..layerview import Layer, LayerView, layer_view
from ..ops import PREC_ATOM, Op
from .forms import local_partial
from .printer import latex_printer
from .notation import aligned, latex_name, latex_style
from .render import format_number
from .render import TEXT, Piece, apply_form, render

__all__ = ["FORMS", "check_form", "matrix_latex", "matrix_gradient_latex", "matrix_text", "fallback_note",
           "activation_latex", "activation_text", "derivative_latex", "top_sympy", "output_delta"]

#: The values ``form=`` accepts wherever a view has a matrix form.
FORMS = ("scalar", "matrix")


def check_form(form: Any) -> str:
    """``form`` if it is one of :data:`FORMS`, else InputError."""
    if form not in FORMS:
        raise InputError(f"form must be one of {', '.join(map(repr, FORMS))}, got {shown(form)}")
    return form


def fallback_note(view: LayerView) -> str:
    """The note written before the scalar form when there is no layer view."""
    return f"no matrix form ({view.reason}); written in scalar form"


# -- names ------------------------------------------------------------------------

def _vec(stem: str, l: int) -> str:
    return f"{stem}^{{({l})}}"


def _prev(view: LayerView, l: int) -> str:
    """LaTeX of layer ``l``'s input vector: ``x`` for layer 1, else ``h^{(l-1)}``
    (``z^{(l-1)}`` when layer ``l - 1`` has no activation)."""
    return "x" if l == 1 else _out_latex(view.layers[l - 2])


def _prev_text(view: LayerView, l: int) -> str:
    if l == 1:
        return "x"
    return f"{'h' if view.layers[l - 2].activation is not None else 'z'}{l - 1}"


def _out_latex(layer: Layer) -> str:
    return _vec("h" if layer.activation is not None else "z", layer.index)


def activation_latex(row: Op, arg: str, times: str = "") -> str:
    """``f(arg)`` in LaTeX, from the row's own LaTeX form (``\\tanh\\left(z\\right)``)."""
    return apply_form(row.latex, [Piece(arg, PREC_ATOM)], None, latex_style(times)).text


def activation_text(row: Op, arg: str) -> str:
    """``f(arg)`` as text, from the row's text form (``tanh(z1)``)."""
    return apply_form(row.text, [Piece(arg, PREC_ATOM)], None, TEXT).text


def derivative_latex(row: Op, layer: int) -> tuple[str, str]:
    """``(f'(z^{(l)}), its value elementwise)``; the value is SymPy's derivative of the
    row written through the activation ``h^{(l)}`` when that is simpler (``1 - h^2``)."""
    z, h = sp.Symbol("z", real=True), sp.Symbol("h", real=True)
    name = row.latex.symbol if row.latex.kind == "call" else f"f_{{{layer}}}"
    head = rf"{name}'\left({_vec('z', layer)}\right)"
    value = local_partial(row, None, (z,), h, 0)
    printer = latex_printer({z: _vec("z", layer), h: _vec("h", layer)})
    return head, printer.doprint(sp.factor_terms(value))


# -- the loss on top, in SymPy ------------------------------------------------------------

def top_sympy(view: LayerView) -> tuple[Any, list[Any], dict[int, Any]]:
    """The loss as SymPy over one symbol per entry of the prediction (``yhat1..``;
    the last sums for cross-entropy on logits) and per target. Returns
    ``(loss, prediction symbols, symbols by program index)``."""
    program = view.program
    last = view.layers[-1]
    pred = last.sums if view.target_class is not None else last.outputs
    k = len(pred)
    stem = "z" if view.target_class is not None else "yhat"
    symbols: dict[int, Any] = {i: sp.Symbol(stem if k == 1 else f"{stem}{j}", real=True)
                               for j, i in enumerate(pred, start=1)}
    for i in view.targets:
        symbols[i] = sp.Symbol(program.names[i] or f"t{i}", real=True)
    exprs: dict[int, Any] = dict(symbols)

    def ref(a: int) -> Any:
        if a in exprs:
            return exprs[a]
        return sp.nsimplify(program.values[a], rational=True)  # a constant of the loss

    for i in view.loss_nodes:
        exprs[i] = program.ops[i].sympy(sp, tuple(ref(a) for a in program.args[i]), program.attrs[i])
    return exprs[view.loss], [symbols[i] for i in pred], symbols


def output_delta(view: LayerView) -> list[Any]:
    """The entries of :math:`\\delta^{(L)}` as SymPy expressions over the prediction
    symbols of :func:`top_sympy` (``yhat_j`` standing for ``h^{(L)}_j``, ``z_j`` for ``z^{(L)}_j``)
    and the targets."""
    last = view.layers[-1]
    if view.loss is None:
        loss_grad = [sp.Integer(1)] * last.units
        preds = [sp.Symbol("yhat" if last.units == 1 else f"yhat{j}", real=True) for j in range(1, last.units + 1)]
    else:
        loss, preds, _ = top_sympy(view)
        loss_grad = [sp.diff(loss, s) for s in preds]
    out = []
    for j, (g, s) in enumerate(zip(loss_grad, preds), start=1):
        z = sp.Symbol("z" if last.units == 1 else f"z{j}", real=True)
        g = sp.factor_terms(sp.cancel(g)) if not g.has(sp.Piecewise) else g
        if last.activation is not None:
            f = sp.factor_terms(local_partial(last.activation, None, (z,), s, 0))
            both = sp.cancel(g * f) if not (g * f).has(sp.Piecewise) else g * f
            # keep the product of the two factors unless they cancel into something shorter (bce + sigmoid)
            g = sp.factor_terms(both) if sp.count_ops(both) < sp.count_ops(g) + sp.count_ops(f) else g * f
        out.append(g)
    return out


def _why_not(view: LayerView) -> str:
    """Why the backward pass has no matrix form even though the layers were found ('' if it has)."""
    if view.head and view.target_class is None and view.loss is not None:
        return "a softmax output with a loss other than cross-entropy"
    if view.loss is None and (len(view.layers[-1].outputs) != 1 or view.head):
        return "several outputs and no loss"
    return ""


# -- LaTeX ----------------------------------------------------------------------------

def _R(*dims: int) -> str:
    return r"\mathbb{R}^{" + r" \times ".join(map(str, dims)) + "}"


def _column(items: list[str]) -> str:
    return r"\left(" + ", ".join(items) + r"\right)^{\top}"


def _scalar_fallback(network: Any, view: LayerView, text: str) -> str:
    return f"% {fallback_note(view)}\n{text}"


def _fallback(scalar: Callable[..., str] | None) -> Callable[..., str]:
    """The scalar form's writer a caller passed: this emitter never calls another one."""
    if scalar is None:
        raise GraphError("this graph has no layer structure; pass scalar= (the scalar form's writer), "
                         "as Network.latex(form='matrix') does")
    return scalar


def _only(options: dict[str, Any], where: str) -> None:
    if options:
        raise InputError(f"{where}(form='matrix') takes times= and width= only; got {', '.join(sorted(options))}=")


def matrix_latex(network: Any, *, times: str = "", width: int | None = None,
                 scalar: Callable[..., str] | None = None, **options: Any) -> str:
    """The forward pass (and the loss) in matrix form, as an ``aligned`` block, with
    every vector's and matrix's shape; the scalar form after a note when the graph
    is not a stack of layers.

    >>> import symnet as sn
    >>> sn.seed(0)
    >>> print(matrix_latex(sn.compile(sn.MLP(2, [3, 1], activation="tanh"))))
    \\begin{aligned}
    x &= \\left(x_{1}, x_{2}\\right)^{\\top} \\in \\mathbb{R}^{2} \\\\
    z^{(1)} &= W^{(1)} x + b^{(1)}, \\quad W^{(1)} \\in \\mathbb{R}^{3 \\times 2},\\ b^{(1)}, z^{(1)} \\in \\mathbb{R}^{3} \\\\
    h^{(1)} &= \\tanh\\left(z^{(1)}\\right) \\\\
    z^{(2)} &= W^{(2)} h^{(1)} + b^{(2)}, \\quad W^{(2)} \\in \\mathbb{R}^{1 \\times 3},\\ b^{(2)}, z^{(2)} \\in \\mathbb{R}^{1} \\\\
    \\hat{y} &= z^{(2)}
    \\end{aligned}
    """
    _only(options, "latex")
    latex_style(times)
    view = layer_view(network.program)
    if not view:
        return _scalar_fallback(network, view, _fallback(scalar)(times=times, width=width))
    program = network.program
    rows = [("x", rf"{_column([latex_name(n) for n in view.input_names])} \in {_R(view.layers[0].fan_in)}")]
    for layer in view.layers:
        l, (u, n) = layer.index, layer.shape
        rows.append((_vec("z", l), rf"{_vec('W', l)} {_prev(view, l)} + {_vec('b', l)}, \quad {_vec('W', l)} \in {_R(u, n)},"
                                   rf"\ {_vec('b', l)}, {_vec('z', l)} \in {_R(u)}"))
        if layer.activation is not None:
            rows.append((_vec("h", l), activation_latex(layer.activation, _vec("z", l), times)))
    last = view.layers[-1]
    if view.head or view.target_class is not None:
        rows.append(("p", rf"\operatorname{{softmax}}\left({_vec('z', last.index)}\right), \quad "
                          r"p_{j} = \frac{e^{z_{j}}}{\sum_{k} e^{z_{k}}}"))
    else:
        rows.append((r"\hat{y}", _out_latex(last)))
    if view.loss is not None:
        rows.append((latex_name(program.names[view.loss] or "L"), _loss_latex(view, times)))
    return aligned(rows, width)


def _loss_latex(view: LayerView, times: str) -> str:
    program = view.program
    if view.target_class is not None:
        return rf"-\log p_{{c}}, \quad c = {view.target_class + 1}"
    last = view.layers[-1]
    k = len(view.outputs)
    label: dict[int, str] = {}
    pred = view.head or last.outputs
    for j, i in enumerate(pred, start=1):
        label[i] = ("p" if view.head else r"\hat{y}") + (f"_{{{j}}}" if k > 1 else "")
    named = [i for layer in view.layers for i in (*layer.sums, *layer.activations)] + list(view.head)

    def leaf(i: int) -> Piece:
        if program.kinds[i] == "constant" and program.names[i] is None:
            return Piece(format_number(program.values[i], latex=True), PREC_ATOM)
        return Piece(latex_name(program.names[i] or f"t{i}"), PREC_ATOM)

    pieces = render(program, leaf, latex_style(times), named, lambda i: label.get(i, latex_name(program.names[i] or "")))
    return pieces[view.loss].text  # type: ignore[union-attr]


def matrix_gradient_latex(network: Any, *, times: str = "", width: int | None = None,
                          scalar: Callable[..., str] | None = None, **options: Any) -> str:
    """Backprop in matrix form: :math:`\\delta^{(L)}`, the recursion for every hidden
    layer, and :math:`\\partial L / \\partial W^{(l)}`, :math:`\\partial L / \\partial b^{(l)}`
    with their shapes; the scalar chain rule after a note when there is no matrix form.

    >>> import symnet as sn
    >>> sn.seed(0)
    >>> net = sn.compile(sn.MLP(2, [3, 3], activation="relu", output_activation="softmax"))
    >>> from symnet.worked import with_loss
    >>> print(matrix_gradient_latex(with_loss(net, [0.5, -1.0], 1, "cross_entropy")[0]).splitlines()[1])
    \\delta^{(2)} = \\frac{\\partial L}{\\partial z^{(2)}} &= p - e_{c}, \\quad c = 2 \\\\
    """
    _only(options, "gradient_latex")
    latex_style(times)
    program = network.program
    view = layer_view(program)
    reason = _why_not(view) if view else ""
    if not view or reason:
        if reason:
            view = LayerView(program, reason=reason)
        return _scalar_fallback(network, view, _fallback(scalar)(times=times, width=width))
    loss = latex_name(program.names[view.loss if view.loss is not None else program.outputs[0]] or "L")
    L = len(view.layers)
    last = view.layers[-1]
    d_last = rf"\delta^{{({L})}} = \frac{{\partial {loss}}}{{\partial {_vec('z', L)}}}"
    rows: list[tuple[str, str]] = []
    if view.target_class is not None:
        rows.append((d_last, rf"p - e_{{c}}, \quad c = {view.target_class + 1}"))
    else:
        entries = output_delta(view)
        names = {sp.Symbol("yhat" if last.units == 1 else f"yhat{j}", real=True):
                 r"\hat{y}" + (f"_{{{j}}}" if last.units > 1 else "") for j in range(1, last.units + 1)}
        names.update({sp.Symbol(program.names[i] or "", real=True): latex_name(program.names[i] or "")
                      for i in view.targets})
        names.update({sp.Symbol("z" if last.units == 1 else f"z{j}", real=True):
                      _vec("z", L) + (f"_{{{j}}}" if last.units > 1 else "") for j in range(1, last.units + 1)})
        printer = latex_printer(names, times)
        value = [printer.doprint(e) for e in entries]
        shown = value[0] if len(value) == 1 else r"\begin{bmatrix} " + r" \\ ".join(value) + r" \end{bmatrix}"
        grad = rf"\nabla_{{\hat{{y}}}} {loss}" if view.loss is not None else r"\mathbf{1}"
        generic = grad + (rf" \odot {derivative_latex(last.activation, L)[0]}" if last.activation else "")
        rows.append((d_last, f"{generic} = {shown}"))
    for layer in reversed(view.layers[:-1]):
        l = layer.index
        back = rf"\left({_vec('W', l + 1)}\right)^{{\top}} {_vec(chr(92) + 'delta', l + 1)}"
        if layer.activation is not None:
            head, value = derivative_latex(layer.activation, l)
            rows.append((rf"\delta^{{({l})}}", rf"\left({back}\right) \odot {head}, \quad {head} = {value}"))
        else:
            rows.append((rf"\delta^{{({l})}}", back))
    for layer in view.layers:
        l, (u, n) = layer.index, layer.shape
        prev = "x" if l == 1 else rf"\left({_prev(view, l)}\right)"
        rows.append((rf"\frac{{\partial {loss}}}{{\partial {_vec('W', l)}}}",
                     rf"\delta^{{({l})}} {prev}^{{\top}} \in {_R(u, n)}"))
        rows.append((rf"\frac{{\partial {loss}}}{{\partial {_vec('b', l)}}}", rf"\delta^{{({l})}} \in {_R(u)}"))
    return aligned(rows, width)


# -- text ---------------------------------------------------------------------------------

def matrix_text(program: Program, scalar: Callable[[], str] | None = None) -> str:
    """The forward pass in matrix form as text (``z1 = W1 @ x + b1``), or, after a note,
    ``scalar()`` (the caller's layered scalar text) when the graph is not a stack of
    layers (see :func:`fallback_note`)."""
    view = layer_view(program)
    if not view:
        return f"# {fallback_note(view)}\n{_fallback(scalar)()}"
    lines = [f"x = [{', '.join(view.input_names)}]"]
    for layer in view.layers:
        l = layer.index
        lines.append(f"z{l} = W{l} @ {_prev_text(view, l)} + b{l}")
        if layer.activation is not None:
            lines.append(f"h{l} = {activation_text(layer.activation, f'z{l}')}")
    last = view.layers[-1]
    out = f"{'h' if last.activation is not None else 'z'}{last.index}"
    if view.head or view.target_class is not None:
        lines.append(f"p = softmax(z{last.index})")
    else:
        lines.append(f"yhat = {out}")
    if view.loss is not None:
        lines.append(f"{program.names[view.loss] or 'L'} = {_loss_text(view)}")
    return "\n".join(lines)


def _loss_text(view: LayerView) -> str:
    program = view.program
    if view.target_class is not None:
        return f"-log(p[{view.target_class}])"
    k = len(view.outputs)
    stem = "p" if view.head else "yhat"
    label = {i: stem + (f"[{j}]" if k > 1 else "") for j, i in enumerate(view.head or view.layers[-1].outputs)}
    named = [i for layer in view.layers for i in (*layer.sums, *layer.activations)] + list(view.head)
    leaf: Callable[[int], Piece] = lambda i: Piece(  # noqa: E731
        program.names[i] if program.names[i] is not None else _text_number(program.values[i]), PREC_ATOM)
    pieces = render(program, leaf, TEXT, named, lambda i: label.get(i, program.names[i] or ""))
    return pieces[view.loss].text  # type: ignore[union-attr]


def _text_number(v: float) -> str:
    return format_number(v)
