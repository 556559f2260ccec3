"""A standalone LaTeX document: the network, its graph, the loss, every gradient, a worked example.

The document uses only the article class and packages from texlive-latex-base,
-recommended and -pictures (amsmath, amssymb, geometry, tikz), and compiles with
pdflatex. :func:`write_report` writes it atomically and, with ``pdf=True``, runs
``pdflatex`` in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Any, Iterable, Sequence

from . import engine
from .budgets import MAX_BLOCK_DEPTH
from .emit import chainrule
from .emit.graphs import to_tikz
from .emit.latex import equations, LatexOptions, to_latex
from .emit.notation import aligned, latex_name
from .emit.render import check_digits, format_number
from .errors import InputError, SymnetError
from .fileio import atomic_write_many, check_path, check_targets
from .layerview import layer_view
from .worked_batch import is_batch
from .worked import logit_names, softmax_logits, worked_example, with_loss

__all__ = ["latex_report", "write_report", "run_pdflatex", "PREAMBLE"]

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{longtable}
\usepackage{tikz}
\usepackage{graphicx}
\newsavebox{\symnetbox}
% a drawing wider than the line is scaled down to it (never up)
\newcommand{\symnetfit}[1]{\sbox{\symnetbox}{#1}\ifdim\wd\symnetbox>\linewidth
  \resizebox{\linewidth}{!}{\usebox{\symnetbox}}\else\usebox{\symnetbox}\fi}
\allowdisplaybreaks
\setlength{\jot}{6pt}
\setlength{\parindent}{0pt}
\setlength{\parskip}{4pt}
"""

#: Added to the preamble when the report draws a loss curve (``steps=``).
PGFPLOTS = "\\usepackage{pgfplots}\n\\pgfplotsset{compat=1.16}\n"

#: Visible characters of one display line (11pt, 17 cm).
WIDTH = 78
#: Draw every elementary op up to this many nodes; above, neurons only.
OPS_VIEW_NODES = 16
#: List parameter values in a table up to this many parameters.
TABLE_PARAMETERS = 64


def _escape_text(text: str) -> str:
    out = []
    for ch in str(text):
        if ch in "&%$#_{}":
            out.append("\\" + ch)
        elif ch in "~^\\":
            out.append({"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}[ch])
        elif ch.isprintable():
            out.append(ch)
    return "".join(out)


def latex_report(network: Any, values: Any, target: Any = None, loss: str | None = None, *,
                 lr: float | None = None, exercise: bool = False, key: bool = False,
                 blank: Iterable[str] | None = None, title: str | None = None, digits: int = 4,
                 times: str = "", steps: int | None = None, form: str = "scalar", output: int | None = None,
                 max_block_depth: int = MAX_BLOCK_DEPTH) -> str:
    """A complete ``.tex`` document for ``network`` at input ``values`` (with ``target``
    and ``loss`` put on top when given): the equations, a TikZ drawing of the graph with
    values and gradients, the loss, every gradient in closed form and a worked example
    (one SGD step with ``lr``). ``exercise=True`` blanks the ``blank`` steps (default:
    the backward pass and the update; ``blank`` alone implies ``exercise``; see
    :meth:`~symnet.worked.WorkedExample.blanked` for what it accepts) for a student
    sheet: nothing on it answers a blanked step (no closed-form gradients, no gradients
    on the graph, no update or loss after it, see :meth:`~symnet.worked.WorkedExample.blanks`);
    ``key=True`` gives its answer key, with everything. A network with several outputs
    and no loss needs ``output=k`` (counting from 0). ``steps=k`` (with ``lr``) adds a
    table of k SGD updates and a pgfplots curve of the loss; ``form="matrix"`` writes
    the worked example with matrices.

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b")
    >>> tex = latex_report(sn.compile(w * x + b), {"x": 2.0}, target=1.0, loss="mse")
    >>> tex.startswith(r"\\documentclass") and tex.rstrip().endswith(r"\\end{document}")
    True
    """
    check_digits(digits)  # every number of the document is rounded to these digits
    exercise = exercise or blank is not None
    ex = worked_example(network, values, target, loss, lr=lr, digits=digits, steps=steps, form=form,
                        output=output, max_block_depth=max_block_depth)
    if is_batch(values):  # the drawing and the introduction show the first sample of the batch
        values, target = values[0], (target[0] if isinstance(target, (list, tuple)) else target)
    net, feed = with_loss(network, values, target, loss)
    program = net.program
    vals = net.forward_values(feed)
    out = program.outputs[output or 0]  # worked_example checked output against the outputs
    if exercise and blank is None:
        blank = ["backward", "update"]
    blank = list(blank or ()) if exercise else []
    hide = ex.blanks(blank)
    # the key shows everything; a sheet nothing that answers a blanked step
    hide_values, hide_grads = (hide.hides_values, hide.hides_gradients) if not key else (False, False)
    heading = title or ("Backpropagation exercise" if exercise else "A network, its gradients and a worked example")
    if exercise:
        heading += " (answer key)" if key else ""
    preamble = PREAMBLE + (PGFPLOTS if len(ex.history) > 1 else "")
    body = [preamble, r"\begin{document}", rf"{{\Large\bfseries {_escape_text(heading)}}}\par\medskip",
            _intro(net, feed, network, digits, ex)
            + (f" (the first of the batch's {ex.batch} samples)" if ex.batch > 1 else "")]

    body.append(r"\section*{The network}")
    matrix = form == "matrix" and bool(layer_view(program))
    rows = equations(net, LatexOptions(digits=digits, symbols_only=True, times=times, width=WIDTH))
    softmax = bool(ex.target_classes) and ex.class_symbol != r"\hat{y}"  # cross-entropy from the logits
    if softmax and len(rows) > 1:  # the probabilities the loss reads, with their definition, before the loss
        p_row = _softmax_row(program, ex.class_symbol)
        rows = [row for row in rows if row[0] != p_row[0]]  # the equations' own p = softmax(z) line
        rows.insert(len(rows) - 1, p_row)
    if matrix:
        body.append("The layers in matrix form ($W^{(l)}[j, i]$ is the weight from input $i$ to unit $j$):")
        body.append(rf"\[ {net.latex(form='matrix', times=times)} \]")
    elif len(rows) > 1:
        body.append("The equations, one per named intermediate"
                    + (" (a neuron's weighted sum $z$, its activation $h$):" if _has_neurons(net) else ":"))
        body.append(aligned(rows, WIDTH, "align*"))
    else:
        body.append(rf"\[ {to_latex(net, digits=digits, symbols_only=True, times=times, equation=True, width=WIDTH)} \]")
    if softmax and not matrix:
        body.append(_softmax_note(ex))
    body.append(_parameter_table(net, digits))

    body.append(r"\section*{The computation graph}")
    body.append(_graph(net, vals, out, digits, hide_values, hide_grads))

    if out is not None:
        body.append(r"\section*{Gradients}")
        rows = chainrule.gradient_rows(net, None, output=output, times=times, digits=digits,
                                       max_block_depth=max_block_depth)
        if hide_grads:
            body.append(_derive_box(net, out, rows))
        elif matrix:
            body.append(r"Backpropagation in matrix form, with $\delta^{(l)} = \partial L / \partial z^{(l)}$ "
                        r"and $\odot$ the elementwise product:")
            body.append(rf"\[ {net.gradient_latex(form='matrix', times=times)} \]")
        else:
            body.append(_gradient_intro(net, out, rows))
            body.append(aligned(rows, WIDTH, "align*"))

    body.append(r"\section*{Worked example}")
    body.append(ex.latex(blank=blank, key=key, width=WIDTH))
    if len(ex.history) > 1 and (key or not hide.parts):  # the curve shows the losses after each update
        body.append("The loss over the SGD steps:\n\n\\begin{center}\n" + ex.loss_curve() + "\n\\end{center}")
    body.append(r"\end{document}")
    return "\n\n".join(body) + "\n"


def _derive_box(net: Any, out: int, rows: Sequence[tuple[str, str]]) -> str:
    """What an exercise sheet shows instead of the closed-form gradients: the task and room for it
    (the left sides only say what the symbols mean, never a derivative)."""
    name = latex_name(net.program.names[out])
    return (_delta_note(name, rows)
            + rf"Derive $\partial {name} / \partial \theta$ for every parameter $\theta$ yourself: backpropagate "
            rf"from the output ${name}$ down, each step a local derivative times the gradient flowing from above "
            "(the worked example below asks for every step).\\par\\medskip\n"
            "\\noindent\\framebox[\\dimexpr\\linewidth-2\\fboxsep-2\\fboxrule\\relax]{\\rule{0pt}{5cm}}")


def _softmax_row(program: Any, p: str) -> tuple[str, str]:
    """``p = softmax(z)`` as an equation row, in the logits' names (``p``: the probabilities' LaTeX name)."""
    names = logit_names(program, softmax_logits(program) or []) or "z"
    return (p, rf"\operatorname{{softmax}}\left({names}\right), \quad "
               rf"{p}_{{k}} = \frac{{e^{{z_{{k}}}}}}{{\sum_{{j}} e^{{z_{{j}}}}}}")


def _softmax_note(ex: Any) -> str:
    """The class the cross-entropy picks from the probabilities ``p``."""
    c = ex.target_classes[0] + 1
    name = latex_name(ex.output_name)
    p = ex.class_symbol
    return (rf"The loss is the cross-entropy of the class probabilities ${p}$ (the softmax of the logits $z$) "
            rf"against the target class $c = {c}$, one-hot $y = e_{{c}}$: ${name} = -\sum_{{k}} y_{{k}} \log {p}_{{k}} "
            rf"= -\log {p}_{{{c}}}$.")


def _has_neurons(net: Any) -> bool:
    return any(o is not None and o.role == "sum" for o in net.program.origins)


def _intro(net: Any, feed: dict[str, float], model: Any, digits: int, ex: Any) -> str:
    p = net.program
    own = set(_model_network(model).input_names)
    n_inputs = sum(1 for name in feed if name in own)
    ins = ", ".join(f"${latex_name(n)} = {format_number(v, digits, latex=True)}$" for n, v in feed.items() if n in own)
    targets = ", ".join(f"${latex_name(n)} = {format_number(v, digits, latex=True)}$" for n, v in feed.items() if n not in own)
    if ex.target_classes:  # cross-entropy: the class is part of the graph, not an input
        c = ex.target_classes[0]
        targets = rf"class $c = {c + 1}$ of ${ex.n_classes}$ (index {c}, counting from 0)"
    uses = f"The example uses {ins}" + (f" and the target {targets}." if targets else ".")
    return (f"The network has {n_inputs} input(s), {len(p.parameters)} parameter(s) and "
            f"{len(p.op_indices)} elementary operation(s). {uses}")


def _model_network(model: Any) -> Any:
    return model if hasattr(model, "program") else model.compile()


def _parameter_table(net: Any, digits: int) -> str:
    p = net.program
    if not p.parameters:
        return ""
    if len(p.parameters) > TABLE_PARAMETERS:
        return (f"The {len(p.parameters)} parameter values are too many to list here; the worked example "
                "below shows each one where it is used.")
    cells = [f"${latex_name(p.names[i])}$ & ${format_number(p.values[i], digits, latex=True)}$" for i in p.parameters]
    per_row = 4
    rows = [" & ".join(cells[k:k + per_row]) for k in range(0, len(cells), per_row)]
    return ("Parameter values:\n\n\\begin{center}\\small\\renewcommand{\\arraystretch}{1.5}\n"
            "\\begin{tabular}{" + "r@{${}={}$}l@{\\hspace{2em}}" * per_row + "}\n"
            + " \\\\\n".join(rows) + "\n\\end{tabular}\n\\end{center}")


def _graph(net: Any, vals: Sequence[float], out: int | None, digits: int, hide_values: bool,
           hide_grads: bool) -> str:
    p = net.program
    grads = None
    if out is not None and not hide_grads:
        grads = engine.backward(p, vals, {out: 1.0})
    shown = [v if (not hide_values or p.kinds[i] in ("parameter", "constant", "input")) else None
             for i, v in enumerate(vals)]
    level = "ops" if len(p.nodes) <= OPS_VIEW_NODES else "named"
    try:
        pic = to_tikz(net, shown, grads=grads, level=level, digits=min(digits, 3))
    except InputError as exc:
        return (f"The graph is too large to draw on a page ({_escape_text(str(exc))}); "
                "\\texttt{net.to\\_dot()} gives it as Graphviz text.")
    what = ("every elementary operation" if level == "ops"
            else "the inputs and the named intermediates (parameters are left out)")
    legend = "its name, its value" + (r" and, in red, the gradient of the output with respect to it" if grads else "")
    return (f"The drawing shows {what}; each node gives {legend}.\n\n"
            "\\begin{center}\n\\symnetfit{" + pic + "}\n\\end{center}")


def _delta_note(name: str, rows: Sequence[tuple[str, str]]) -> str:
    return (rf"$\delta^{{(l)}}_{{j}}$ is $\partial {name} / \partial z^{{(l)}}_{{j}}$ for neuron $j$ of layer $l$. "
            if any(left.startswith(r"\delta") for left, _ in rows) else "")


def _gradient_intro(net: Any, out: int, rows: Sequence[tuple[str, str]]) -> str:
    name = latex_name(net.program.names[out])
    delta = _delta_note(name, rows)
    return (rf"Backpropagation from the output ${name}$ down: each line multiplies a local derivative by the "
            rf"gradient flowing from above, summed over the uses of the node. {delta}"
            rf"The last lines give the gradient with respect to every parameter.")


#: pdflatex runs again while its log asks for it (longtable aligns its columns across pages
#: from the widths of the run before), at most this many times in all.
PDFLATEX_RUNS = 3


def run_pdflatex(tex: str, *, timeout: float = 120.0) -> bytes:
    """Compile ``tex`` with ``pdflatex -halt-on-error`` in a temporary folder and return
    the PDF (run again while the log says "Rerun", at most :data:`PDFLATEX_RUNS` times);
    a failure raises SymnetError with the end of the log."""
    exe = shutil.which("pdflatex")
    if exe is None:
        raise SymnetError("pdflatex was not found; install texlive-latex-base, texlive-latex-recommended "
                          "and texlive-pictures (or write the .tex file only)")
    with tempfile.TemporaryDirectory(prefix="symnet-tex-") as tmp:
        with open(os.path.join(tmp, "report.tex"), "w", encoding="utf-8") as fh:
            fh.write(tex)
        cmd = [exe, "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape", "report.tex"]
        for _ in range(PDFLATEX_RUNS):
            try:
                proc = subprocess.run(cmd, cwd=tmp, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise SymnetError(f"pdflatex did not finish within {timeout:g} s") from None
            if proc.returncode != 0 or b"Rerun" not in proc.stdout:
                break
        pdf = os.path.join(tmp, "report.pdf")
        if proc.returncode != 0 or not os.path.exists(pdf):
            log = proc.stdout.decode("utf-8", "replace").strip().splitlines()
            tail = "\n".join(log[-25:])
            raise SymnetError(f"pdflatex failed (exit code {proc.returncode}); end of its log:\n{tail}")
        with open(pdf, "rb") as fh:
            return fh.read()


def write_report(network: Any, path: str | os.PathLike[str], values: Any, target: Any = None,
                 loss: str | None = None, *, pdf: bool = False, **options: Any) -> list[str]:
    """Write :func:`latex_report` to ``path`` (atomically) and return the paths written.

    With ``exercise=True`` (or ``blank=``, which implies it) the student sheet goes to
    ``path`` and its answer key next to it (``name-key.tex``). With ``pdf=True`` each
    document is also compiled with pdflatex to a ``.pdf`` beside it. All or nothing:
    every document is built (and compiled) first, then every file is written to a
    temporary file, and the targets are replaced only when all of that succeeded; on any failure (a bad argument, pdflatex missing or
    failing, a target that is a folder) no existing file changes.
    """
    target_path = check_path(path)
    stem, _ = os.path.splitext(target_path)
    if options.get("blank") is not None:
        options["exercise"] = True  # blank alone asks for a sheet (and so its key)
    paths = [target_path] + ([f"{stem}-key.tex"] if options.get("exercise") else [])
    check_targets(paths + ([os.path.splitext(p)[0] + ".pdf" for p in paths] if pdf else []))  # before any work
    options.pop("key", None)
    docs = [(target_path, latex_report(network, values, target, loss, **options))]
    if options.get("exercise"):
        docs.append((f"{stem}-key.tex", latex_report(network, values, target, loss, key=True, **options)))
    files = [(p, t.encode("utf-8")) for p, t in docs]
    if pdf:
        files += [(os.path.splitext(p)[0] + ".pdf", run_pdflatex(t)) for p, t in docs]
    atomic_write_many(files)  # all or nothing: a failure leaves every target as it was
    return [p for p, _ in files]
