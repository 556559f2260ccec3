"""Network: a compiled graph, with prediction, gradients and every emitter as methods."""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

from . import engine
from .compile import Program
from .errors import InputError
from .graph import Node

__all__ = ["Network"]

#: ``str(network)`` writes the formula inline up to this many characters.
STR_INLINE_CHARS = 80


class Network:
    """A compiled network. Build one with ``sn.compile(node)`` or ``node.compile()``.

    ``inputs`` and ``parameters`` are the leaf nodes in the documented order (see
    :mod:`symnet.compile`); every one of them is named.
    """

    def __init__(self, program: Program, root: Any = None) -> None:
        self.program = program
        self.root = root
        self.inputs: list[Node] = [program.nodes[i] for i in program.inputs]
        self.parameters: list[Node] = [program.nodes[i] for i in program.parameters]
        self._cache = engine.Cache(program)
        self._compiled: dict[str, Any] = {}

    # -- names -------------------------------------------------------------

    def name_of(self, node: Node) -> str | None:
        """The name this network gives ``node``."""
        return self.program.names[self.program.index(node)]

    @property
    def input_names(self) -> list[str]:
        return [self.program.names[i] for i in self.program.inputs]

    @property
    def parameter_names(self) -> list[str]:
        return [self.program.names[i] for i in self.program.parameters]

    @property
    def n_outputs(self) -> int:
        return len(self.program.outputs)

    def __repr__(self) -> str:
        return (f"<Network: {len(self.inputs)} input(s) {self.input_names[:8]}, "
                f"{len(self.parameters)} parameter(s), {len(self.program.op_indices)} op node(s), "
                f"{self.n_outputs} output(s)>")

    # -- evaluation ----------------------------------------------------------

    def input_values(self, values: Any) -> list[float]:
        """Input values as a list in ``inputs`` order, from a list or a dict by name."""
        names = self.input_names
        if values is None:
            values = []
        if isinstance(values, Mapping):
            unknown = [k for k in values if k not in names]
            if unknown:
                raise InputError(f"unknown input name(s) {', '.join(map(repr, unknown))}; inputs are {names}")
            missing = [n for n in names if n not in values]
            if missing:
                raise InputError(f"missing value(s) for input(s) {', '.join(map(repr, missing))}")
            seq = [values[n] for n in names]
        elif isinstance(values, numbers.Real) and not isinstance(values, bool) and len(names) == 1:
            seq = [values]
        else:
            try:
                seq = list(values)
            except TypeError:
                raise InputError(f"input values must be a list or a dict by name, got {type(values).__name__}") from None
            if len(seq) != len(names):
                raise InputError(f"expected {len(names)} input value(s) {names}, got {len(seq)}")
        out = []
        for name, v in zip(names, seq):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise InputError(f"input '{name}': expected a real number, got {type(v).__name__} {v!r:.40}")
            f = float(v)
            if not math.isfinite(f):
                raise InputError(f"input '{name}': value must be finite, got {f!r}")
            out.append(f)
        return out

    def leaf_values(self, values: Any, parameters: Sequence[float] | None = None) -> list[Any]:
        """The full value list of the program with inputs and parameters filled in."""
        p = self.program
        vals = engine.leaf_template(p)
        for i, v in zip(p.inputs, self.input_values(values)):
            vals[i] = v
        params = [n._value for n in self.parameters] if parameters is None else parameters
        for i, v in zip(p.parameters, params):
            vals[i] = v
        return vals

    def forward_values(self, values: Any) -> list[Any]:
        """Every node's value for the given inputs (current parameter values)."""
        return engine.evaluate(self.program, self.leaf_values(values))

    def predict(self, values: Any = None) -> Any:
        """The output for the given inputs: a float, or a list for vector outputs.

        >>> import symnet as sn
        >>> x = sn.Input("x"); net = sn.compile(2 * x + 1)
        >>> net.predict([3.0]), net.predict({"x": 3.0})
        (7.0, 7.0)
        """
        vals = self.forward_values(values)
        outs = [vals[i] for i in self.program.outputs]
        return outs if self.program.vector else outs[0]

    def _seeds(self, output: int | None, seed: Any) -> dict[int, float]:
        outs = self.program.outputs
        if seed is not None:
            if not self.program.vector:
                seed = [seed]
            seed = list(seed)
            if len(seed) != len(outs):
                raise InputError(f"seed has {len(seed)} value(s) for {len(outs)} output(s)")
            seeds: dict[int, float] = {}
            for i, s in zip(outs, seed):
                seeds[i] = seeds.get(i, 0.0) + float(s)
            return seeds
        if output is None:
            if self.program.vector and len(outs) > 1:
                raise InputError(f"this network has {len(outs)} outputs: pass output=k or a seed per output")
            output = 0
        if not 0 <= output < len(outs):
            raise InputError(f"output index {output} out of range (0..{len(outs) - 1})")
        return {outs[output]: 1.0}

    def gradients(self, values: Any = None, *, output: int | None = None, seed: Any = None) -> dict[str, float]:
        """``{name: d output / d name}`` for every parameter and every input.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> sn.compile(w * x * x).gradients({"x": 3.0})
        {'w': 9.0, 'x': 12.0}
        """
        vals = self.forward_values(values)
        adj = engine.backward(self.program, vals, self._seeds(output, seed))
        p = self.program
        return {p.names[i]: adj[i] for i in p.parameters + p.inputs}

    # -- SymPy (symnet.emit.sympy) ----------------------------------------------

    def to_sympy(self, numeric: bool = False, form: str = "display", **options: Any) -> Any:
        """The network as SymPy: an ``Expr`` (a ``Matrix`` for vector outputs); ``form`` is
        ``"display"``, ``"elementary"`` or ``"let"`` (``(definitions, output)``); options
        as for :func:`symnet.emit.sympy.to_sympy` (``max_depth``, ``max_kinks``).

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> net = sn.compile((w * x).relu())
        >>> net.to_sympy(), net.to_sympy(numeric=True, form="elementary")
        (relu(w*x), Piecewise((x/2, x > 0), (0, True)))
        """
        from .emit.sympy import to_sympy

        return to_sympy(self.program, numeric, form, **options)

    # -- text (symnet.emit.text) -------------------------------------------------

    def funcify(self, digits: int | None = None, layers: bool = False, **options: Any) -> str:
        """The network as a formula that :func:`symnet.parse` reads back; ``digits=`` writes
        parameter values rounded to that many significant digits, ``layers=True`` one
        ``name = expr`` line per named intermediate (see :func:`symnet.emit.text.to_text`).

        >>> import symnet as sn
        >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
        >>> sn.compile(w * x + b).funcify(), sn.compile(w * x + b).funcify(digits=3)
        ('w*x + b', '0.5*x + 2')
        """
        from .emit.text import to_text

        return to_text(self.program, digits, layers, **options)

    def __str__(self) -> str:
        """The formula (``funcify()``), or one line per named intermediate when the
        inline formula would be longer than ``STR_INLINE_CHARS`` characters.

        >>> import symnet as sn
        >>> x = sn.Input("x")
        >>> print(sn.compile(2 * x + 1))
        2*x + 1
        >>> print(sn.compile(sn.MLP(2, [2, 1], activation="tanh")))
        z1_1 = w1_1_1*x1 + w1_1_2*x2 + b1_1
        h1_1 = tanh(z1_1)
        z1_2 = w1_2_1*x1 + w1_2_2*x2 + b1_2
        h1_2 = tanh(z1_2)
        z2_1 = w2_1_1*h1_1 + w2_1_2*h1_2 + b2_1
        """
        from .errors import ExportLimitError

        try:
            return self.funcify(max_chars=STR_INLINE_CHARS)
        except ExportLimitError:
            return self.funcify(layers=True)

    # -- generated Python (symnet.emit.python) ---------------------------------

    def to_python(self) -> str:
        """Straight-line source of ``forward`` and ``gradient`` for this network.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> "    t1 = w * x" in sn.compile(w * x + 1).to_python()
        True
        """
        from .emit.python import to_python

        return to_python(self.program)

    def codegen(self) -> Any:
        """The generated functions, compiled once (see :class:`symnet.emit.python.CompiledPython`).

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> sn.compile(w * x).codegen().gradient([3.0])
        ((6.0,), (3.0, 2.0))
        """
        from .emit.python import codegen

        return codegen(self)

    def op_counts(self) -> dict[str, int]:
        """Operations in the generated forward pass and gradient.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> sn.compile(w * x).op_counts()
        {'forward': 1, 'gradient': 3}
        """
        from .emit.python import op_counts

        return op_counts(self.program)

    # -- LaTeX (symnet.emit.latex) -------------------------------------------

    def latex(self, **options: Any) -> str:
        """The network as LaTeX: inline, or one ``aligned`` equation per neuron with
        ``layers=True``; options as for :func:`symnet.emit.latex.to_latex`
        (``digits``, ``symbols_only``, ``times``, ``layers``, ``width``, ``equation``).

        >>> import symnet as sn
        >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
        >>> sn.compile(w * x + b).latex(), sn.compile(w * x + b).latex(digits=2, times=r"\\cdot")
        ('w x + b', '0.5 \\\\cdot x + 2')
        """
        from .emit.latex import to_latex

        return to_latex(self, **options)

    def _repr_latex_(self) -> str | None:
        from .emit.latex import repr_latex

        return repr_latex(self)

    def gradient_latex(self, wrt: Any = None, **options: Any) -> str:
        """d output / d ``wrt`` (a name, node or list; ``None``: every parameter) as LaTeX,
        written with the backprop chain (deltas ``\\delta^{(l)}_{j} = \\partial L/\\partial z^{(l)}_{j}``);
        options as for :func:`symnet.emit.chainrule.gradient_latex` (``times``, ``digits``,
        ``width``, ``output``).

        >>> import symnet as sn
        >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b")
        >>> print(sn.compile((w * x + b).sigmoid()).gradient_latex("w"))
        \\begin{aligned}
        \\frac{\\partial \\hat{y}}{\\partial w} &= x \\hat{y} \\left(1 - \\hat{y}\\right)
        \\end{aligned}
        """
        from .emit.chainrule import gradient_latex

        return gradient_latex(self, wrt, **options)

    def gradient_sympy(self, wrt: Any, **options: Any) -> Any:
        """d output / d ``wrt`` as a SymPy expression (a dict by name for a list of ``wrt``),
        chained from SymPy's derivatives of the op rows; ``let=True`` gives the
        ``(definitions, result)`` form (see :func:`symnet.emit.chainrule.gradient_sympy`).

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> sn.compile((w * x) ** 2).gradient_sympy("w")
        2*w*x**2
        """
        from .emit.chainrule import gradient_sympy

        return gradient_sympy(self, wrt, **options)

    def worked_example(self, values: Any, target: Any = None, loss: str | None = None, **options: Any) -> Any:
        """The forward and backward pass at ``values`` step by step, with numbers (and one
        SGD step with ``lr=``); ``.latex(blank=..., key=...)`` writes it. See
        :func:`symnet.worked.worked_example`.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> ex = sn.compile(w * x).worked_example({"x": 2.0}, target=0.0, loss="mse")
        >>> [(s.key, s.value) for s in ex.steps]
        [('yhat', 1.0), ('L', 1.0), ('yhat', 2.0), ('w', 4.0)]
        """
        from .worked import worked_example

        return worked_example(self, values, target, loss, **options)

    def latex_report(self, values: Any, target: Any = None, loss: str | None = None, **options: Any) -> str:
        """A complete ``.tex`` document (equations, TikZ graph, loss, every gradient, worked
        example); options ``lr``, ``exercise``, ``key``, ``blank``, ``title``, ``digits``,
        ``times`` as for :func:`symnet.report.latex_report`. To write it (and a PDF) use
        :func:`symnet.report.write_report`.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> sn.compile(w * x).latex_report({"x": 2.0}, target=0.0, loss="mse").count(r"\\section*")
        4
        """
        from .report import latex_report

        return latex_report(self, values, target, loss, **options)

    # -- graph drawings (symnet.emit.graphs) ---------------------------------------

    def to_dot(self, values: Any = None, **options: Any) -> str:
        """Graphviz DOT text of the graph (names, values; ``level="named"`` for neurons only).

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> sn.compile(w * x).to_dot().splitlines()[0]
        'digraph symnet {'
        """
        from .emit.graphs import to_dot

        return to_dot(self, values, **options)

    def to_mermaid(self, values: Any = None, **options: Any) -> str:
        """A Mermaid flowchart of the graph for Markdown (options as for :meth:`to_dot`).

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
        >>> sn.compile(w * x).to_mermaid().splitlines()[0]
        'flowchart LR'
        """
        from .emit.graphs import to_mermaid

        return to_mermaid(self, values, **options)

    # -- the node-level API (cached forward, backward writing .grad) ----------

    def forward_cached(self) -> Any:
        vals = self._cache.forward()
        outs = [vals[i] for i in self.program.outputs]
        for node, i in self.program.aliases.items():
            node._value = vals[i]
        if self.program.vector:
            if isinstance(self.root, Node):
                self.root._value = outs
            return outs
        return outs[0]

    def backward_cached(self, seed: Any = None) -> None:
        self.forward_cached()
        p = self.program
        adj = engine.backward(p, self._cache.values, self._seeds(None, seed))
        for node, g in zip(p.nodes, adj):
            node.grad = g
        for node, i in p.aliases.items():
            node.grad = adj[i]
