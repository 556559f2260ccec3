"""The ``symnet`` command: print formulas and gradients, check them, write reports, run the demo.

Exit status: 0 on success, 1 when a check fails (``check``, ``verify``), 2 on bad
usage or bad input, with a one-line ``error: ...`` on stderr (``--debug`` shows
the traceback). See ``symnet --help`` and ``symnet COMMAND --help``; the MODEL
argument is described in :mod:`symnet.cli_model`.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import traceback
from typing import Any, Sequence

from .cli_model import ModelSpec, define_ops, parse_assignments, parse_names, parse_target, resolve_model, with_loss
from .emit.render import check_digits
from .errors import InputError, SymnetError, shown
from .losses import LOSSES
from .network import Network
from .ops import OPS
from .progress import Progress
from .version import __version__
from .worked import PARTS

__all__ = ["main", "build_parser", "check_output_index"]

OK, FAILED, BAD_INPUT = 0, 1, 2

MODEL_HELP = ("a saved model file (*.json), a formula such as 'sigmoid(w*x + b)' (with --inputs x), "
              "or module:attribute naming a node or network in your own Python file (file.py:net)")


def _out(text: str) -> None:
    try:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader stopped (symnet ops | head): drop the rest, keep the exit status
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


# -- shared options ----------------------------------------------------------------------


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--inputs", metavar="NAMES", help="a formula's inputs, comma-separated (other names are parameters)")
    p.add_argument("--set", metavar="NAME=V,...", action="append", dest="set_values",
                   help="values of a formula's parameters, e.g. --set w=0.5,b=0")
    _op_option(p)


def _op_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--op", metavar="NAME(a,...)=FORMULA", action="append", dest="ops",
                   help="define an op by formula first, e.g. --op 'swish(a)=a*sigmoid(a)' (repeatable)")


def _loss_options(p: argparse.ArgumentParser, target_help: str) -> None:
    p.add_argument("--loss", choices=tuple(LOSSES), help="put this loss on top of the model")
    p.add_argument("--target", metavar="Y", help=target_help)


def _output_index_option(p: argparse.ArgumentParser, *aliases: str) -> None:
    """``--output-index K``: which output of a vector network (``report`` cannot use ``--output``,
    which names its file; ``grad`` keeps ``--output K`` as an alias)."""
    p.add_argument("--output-index", *aliases, type=int, metavar="K", dest="output_index",
                   help="which output of a vector network, counting from 0 (or put a loss on top with --loss)")


def check_output_index(net: Network, index: int | None, loss: str | None = None, what: str = "the command") -> None:
    """The CLI's check of ``--output-index`` (its messages name the option, not the API's ``output=k``);
    with ``--loss`` there is one output, the loss, and ``--output-index`` is refused.

    >>> import symnet as sn
    >>> check_output_index(sn.compile(sn.Softmax([sn.Input("a"), sn.Input("b")])), None)
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: the network has 2 outputs: choose one with --output-index K (0 to 1) or put a loss on top with --loss
    """
    if loss is not None:
        if index is not None:
            raise InputError(f"--output-index picks an output of a network without a loss; with --loss {what} "
                             "differentiates the loss")
        return
    n = len(net.program.outputs)
    if index is None and n > 1:
        raise InputError(f"the network has {n} outputs: choose one with --output-index K (0 to {n - 1}) "
                         "or put a loss on top with --loss")
    if index is not None and not 0 <= index < n:
        raise InputError(f"--output-index {index} is out of range: the network has {n} output(s) (0 to {n - 1})")


def _network(args: argparse.Namespace) -> Network:
    define_ops(args.ops)
    spec = ModelSpec(args.model, parse_names(args.inputs), tuple(parse_assignments(args.set_values, "--set").items()))
    return resolve_model(spec)


def _digits(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of digits, got {shown(value)}") from None
    try:
        return check_digits(n, "--digits")  # the same check as every digits= of the API
    except SymnetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _blank_list(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected comma-separated parts or names, got {shown(value)}; the parts "
                                         f"are {', '.join(PARTS)}")
    return items


# -- commands ------------------------------------------------------------------------------


def cmd_formula(args: argparse.Namespace) -> int:
    net = _network(args)
    if args.latex:
        _out(net.latex(digits=args.digits, layers=args.layers))
    elif args.sympy:
        _out(str(net.to_sympy(digits=args.digits)))
    elif args.python:
        _out(net.to_python())
    else:
        _out(net.funcify(digits=args.digits, layers=args.layers))
    return OK


def cmd_grad(args: argparse.Namespace) -> int:
    from .cli_grad import gradient_text

    net = _network(args)
    check_output_index(net, args.output_index, args.loss, "grad")
    net = with_loss(net, args.loss, parse_target(args.target, args.loss))
    _out(gradient_text(net, args.wrt, latex=args.latex, digits=args.digits, layers=args.layers or None,
                       output=args.output_index, form=args.form, sympy=args.sympy))
    return OK


def cmd_check(args: argparse.Namespace) -> int:
    from .check import check_gradients

    net = with_loss(_network(args), args.loss, parse_target(args.target, args.loss))
    at = parse_assignments(args.at) or None
    with Progress(f"checking {len(net.parameters) + len(net.inputs)} gradients"):
        report = check_gradients(net, at, points=args.points, seed=args.seed, lenient=args.lenient)
    _out(str(report))
    return OK if report.ok else FAILED


def cmd_verify(args: argparse.Namespace) -> int:
    from .derivative import check_derivative

    if args.shape:
        from .matrix_claims import parse_shape

        ignored = [opt for opt, given in (("--loss", args.loss), ("--target", args.target), ("--set", args.set_values),
                                          ("--output-index", args.output_index), ("--op", args.ops)) if given]
        if ignored:
            raise InputError(f"--shape reads MODEL as a matrix formula, which {ignored[0]} does not apply to: write "
                             "the loss in the formula, e.g. 'sum((W@x + b - y)**2)'")
        pairs = [parse_shape(text) for text in args.shape]
        names = [name for name, _ in pairs]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise InputError(f"--shape gives {twice!r} twice ({', '.join(t for t in args.shape if t.split('=')[0].strip() == twice)}); give each matrix once")
        shapes = dict(pairs)
        verdict = check_derivative(args.model, args.wrt, args.claim, shapes=shapes, inputs=parse_names(args.inputs),
                                   points=args.points, seed=args.seed)
        _out(str(verdict))
        return OK if verdict.correct else FAILED
    net = _network(args)
    check_output_index(net, args.output_index, args.loss, "the claim")
    net = with_loss(net, args.loss, parse_target(args.target, args.loss))
    verdict = check_derivative(net, args.wrt, args.claim, points=args.points, seed=args.seed,
                               output=args.output_index if net.n_outputs > 1 else None)
    _out(str(verdict))
    return OK if verdict.correct else FAILED


def _report_target(text: str | None, loss: str | None) -> Any:
    if loss is None or loss == "cross_entropy":
        return parse_target(text, loss)
    if text is None:
        raise InputError(f"--loss {loss} needs --target VALUE (comma-separated for several outputs)")
    values = [parse_target(part, loss) for part in text.split(",")]
    if any(isinstance(v, str) for v in values):
        raise InputError(f"--target must be a number here (the worked example needs its value), got {shown(text)}")
    return values[0] if len(values) == 1 else values


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    net = _network(args)
    at = parse_assignments(args.at)
    target = _report_target(args.target, args.loss)
    options: dict[str, Any] = {"exercise": args.exercise or args.blank is not None, "digits": args.digits}
    if args.blank is not None:
        options["blank"] = args.blank
    check_output_index(net, args.output_index, args.loss, "the report")
    if args.loss is None:  # with a loss the report differentiates the loss, one number
        options["output"] = args.output_index
    if args.lr is not None:
        options["lr"] = args.lr
    if args.steps is not None:
        if args.lr is None:
            raise InputError("--steps K runs K gradient-descent steps, which need a learning rate: give --lr ETA")
        options["steps"] = args.steps
    options["form"] = args.form
    if args.title is not None:
        options["title"] = args.title
    with Progress("writing the report" + (" and running pdflatex" if args.pdf else "")):
        written = write_report(net, args.output, at, target, args.loss, pdf=args.pdf, **options)
    for path in written:
        _out(f"wrote {path}")
    return OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run

    with Progress("training the two examples"):
        buffer = io.StringIO()  # collected, so that the progress line never mixes with it
        run(buffer)
    _out(buffer.getvalue())
    return OK


def cmd_convert(args: argparse.Namespace) -> int:
    from .files import save

    net = _network(args)
    save(net, args.output)
    _out(f"wrote {args.output}")
    return OK


def cmd_ops(args: argparse.Namespace) -> int:
    define_ops(args.ops)
    if args.model is not None:  # a model file or module defines the ops it uses
        resolve_model(ModelSpec(args.model))
    rows = [("op", "arity", "formula", "derivative")]
    for row in OPS.values():
        arity = f">={row.min_arity}" if row.arity is None else str(row.arity)
        rows.append((row.name, arity, row.doc or "-", row.derivative or "-"))
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    for r in rows:
        _out("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])
    return OK


# -- the parser ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every subcommand has ``--help``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    parser = argparse.ArgumentParser(
        prog="symnet", parents=[common],
        description="Neural networks as formulas: print, differentiate and check them.",
        epilog="exit status: 0 ok, 1 a check failed, 2 bad usage or input")
    parser.add_argument("--version", action="version", version=f"symnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("formula", parents=[common], help="print a network as a formula",
                       description="Print the network as text (readable back by the parser), LaTeX, SymPy or Python.")
    _model_options(p)
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--latex", action="store_true", help="LaTeX math")
    kind.add_argument("--sympy", action="store_true", help="a SymPy expression")
    kind.add_argument("--python", action="store_true", help="straight-line Python source (forward and gradient)")
    p.add_argument("--digits", type=_digits, metavar="N", help="write parameter values rounded to N digits")
    p.add_argument("--layers", action="store_true", help="one equation per neuron instead of one inline formula")
    p.set_defaults(func=cmd_formula)

    p = sub.add_parser("grad", parents=[common], help="print a derivative in closed form",
                       description="Print d output / d NAME (or d loss / d NAME with --loss).")
    _model_options(p)
    p.add_argument("--wrt", required=True, metavar="NAME", help="the parameter or input to differentiate by")
    _loss_options(p, "the target: a number (comma-separated, one per output, for a vector network), or a name "
                     "for a new input (default y, or the first free of target, y_true); a class index for "
                     "cross_entropy")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--latex", action="store_true", help="LaTeX instead of text")
    kind.add_argument("--sympy", action="store_true", help="SymPy's own text instead of symnet's")
    p.add_argument("--form", choices=("inline", "chain"),
                   help="inline (in inputs and parameters) or chain (named intermediates and adjoints)")
    p.add_argument("--digits", type=_digits, metavar="N",
                   help="substitute parameter values; every number rounded to N significant digits")
    p.add_argument("--layers", action="store_true",
                   help="one definition per line (forward intermediates, then adjoints); automatic for large networks")
    _output_index_option(p, "--output")
    p.set_defaults(func=cmd_grad)

    p = sub.add_parser("check", parents=[common], help="check every gradient against SymPy and finite differences",
                       description="Run the gradient verifier and print its table; exit 1 on a mismatch.")
    _model_options(p)
    p.add_argument("--at", action="append", metavar="NAME=V,...",
                   help="the point, e.g. --at x=1,y=0 (default: seeded random points)")
    _loss_options(p, "the target: a number, or a name for a new input given in --at; a class index for cross_entropy")
    p.add_argument("--points", type=int, default=3, metavar="N", help="random points to check (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    p.add_argument("--lenient", action="store_true", help="PyTorch's gradcheck tolerances (rtol 1e-3, atol 1e-5)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("verify", parents=[common], help="check a derivative derived by hand",
                       description="Check a hand-derived derivative against SymPy's: prints the verdict, a "
                                   "counterexample and the correct expression; exit 1 when it is wrong.")
    _model_options(p)
    p.add_argument("--wrt", required=True, metavar="NAME", help="the variable the claim differentiates by")
    p.add_argument("--claim", required=True, metavar="FORMULA", help="the derivative, e.g. '2*(w*x + b - y)*x'")
    _loss_options(p, "the target: a number (comma-separated, one per output, for a vector network), or a name "
                     "for a new input (default y, or the first free of target, y_true)")
    p.add_argument("--points", type=int, default=6, metavar="N", help="random probe points (default 6)")
    p.add_argument("--seed", type=int, default=0, help="seed of the probe points (default 0)")
    p.add_argument("--shape", action="append", metavar="NAME=RxC",
                   help="read MODEL and --claim as matrix formulas (@, .T, sum, mean); NAME is a matrix of R rows "
                        "and C columns, e.g. --shape W=2x3 (repeat for each matrix)")
    _output_index_option(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("report", parents=[common], help="write a LaTeX report (network, gradients, worked example)",
                       description="Write a standalone LaTeX document: the network, its graph, the loss, every "
                                   "gradient in closed form and a worked forward/backward example.")
    _model_options(p)
    p.add_argument("--at", action="append", required=True, metavar="NAME=V,...",
                   help="the inputs of the worked example, e.g. --at x=1,y=0")
    _loss_options(p, "the target value (comma-separated for several outputs; a class index for cross_entropy)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.tex", help="where to write the document")
    p.add_argument("--pdf", action="store_true", help="also compile it with pdflatex")
    p.add_argument("--exercise", action="store_true",
                   help="a student sheet with the backward pass and the update left blank, and its answer key "
                        "(FILE-key.tex)")
    p.add_argument("--blank", type=_blank_list, metavar="PARTS",
                   help=f"what the sheet leaves blank (implies --exercise), comma-separated: parts "
                        f"({', '.join(PARTS)}), names (w, z1_1) or part:name (backward:w); default backward,update")
    _output_index_option(p)
    p.add_argument("--lr", type=float, metavar="ETA", help="show one gradient-descent step with this learning rate")
    p.add_argument("--steps", type=int, metavar="K",
                   help="also run K gradient-descent steps (needs --lr): a table of the parameters and the loss per "
                        "step, and a pgfplots loss curve")
    p.add_argument("--form", choices=("scalar", "matrix"), default="scalar",
                   help="the worked example in scalars (default) or in layer matrices (W h + b), where the network "
                        "has layers")
    p.add_argument("--digits", type=_digits, default=4, metavar="N", help="significant digits shown (default 4)")
    p.add_argument("--title", help="the document's title")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", parents=[common], help="train the two classic examples and print their formulas",
                       description="Train Fahrenheit-to-Celsius and above-the-line-y=x, then print their formulas "
                                   "and gradients.")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("convert", parents=[common], help="save a model as a model file (JSON)",
                       description="Read MODEL (a formula, a .py model, a PyTorch module or a micrograd value) "
                                   "and save it as a symnet model file, ops defined by formula included.")
    _model_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE.json", help="where to write the model file")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("ops", parents=[common], help="list the elementary operations",
                       description="The op table: name, arity, formula and derivative of every op, the ops "
                                   "defined with --op and those a MODEL (file or module) defines included.")
    p.add_argument("model", metavar="MODEL", nargs="?", help="also list the ops this model file or module defines")
    _op_option(p)
    p.set_defaults(func=cmd_ops)
    return parser


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[0].split()) if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 a check failed, 2 bad input).

    >>> main(["ops"])
    op ... derivative
    add ... d/dx_i = 1
    ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed by argparse)
        return int(exc.code or 0)
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("error: interrupted", file=sys.stderr)
        return BAD_INPUT
    except (SymnetError, OSError, RecursionError, MemoryError) as exc:
        if debug:
            traceback.print_exc()
        label = "" if isinstance(exc, SymnetError) else f"{type(exc).__name__}: "
        print(f"error: {label}{_one_line(exc)}", file=sys.stderr)
        return BAD_INPUT
    except Exception as exc:  # a bug in symnet: still one line unless --debug
        if debug:
            traceback.print_exc()
        print(f"error: internal error {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return BAD_INPUT
