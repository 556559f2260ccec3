"""Network: a compiled graph, with prediction, gradients and every emitter as methods."""

from __future__ import annotations

import math
import numbers
from typing import Any, Mapping, Sequence

from . import engine
from .program import Program, compile_program
from .errors import InputError, NumericalError, SymnetError, shown
from .graph import Node, leaf_writes, write_values
from .losses import attach_loss

__all__ = ["Network", "compile", "NodeSession", "finite_value", "seeds_for", "summarise_lines"]

#: ``str(network)`` writes the formula inline up to this many characters.
STR_INLINE_CHARS = 80
#: ``str(network)`` writes at most this many lines (the first and the last ones).
STR_MAX_LINES = 40


def summarise_lines(text: str, everything: str, limit: int = STR_MAX_LINES) -> str:
    """``text`` if it has at most ``limit`` lines, else its first and last lines around
    one line saying how many were left out and that ``everything`` gives them all.

    >>> print(summarise_lines("\\n".join(f"t{k} = {k}" for k in range(100)), "f()", limit=6))
    t0 = 0
    t1 = 1
    t2 = 2
    ... 95 lines left out (100 in all); f() writes them all
    t98 = 98
    t99 = 99
    """
    lines = text.split("\n")
    if len(lines) <= limit:
        return text
    head, tail = lines[: limit // 2], lines[len(lines) - (limit - limit // 2 - 1):]
    left_out = len(lines) - len(head) - len(tail)
    note = f"... {left_out:,} lines left out ({len(lines):,} in all); {everything} writes them all"
    return "\n".join(head + [note] + tail)


def compile(root: Node | Sequence[Node]) -> Network:
    """Compile a node (or an ``Output``, or a list of nodes) into a :class:`Network`.

    The network holds its own copy of the parameter values; the nodes are read,
    never written (see :func:`symnet.program.compile_program` for the order and
    the names).

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(2.0, name="w"), sn.Parameter(1.0, name="b")
    >>> net = sn.compile(w * x + b)
    >>> net.parameter_names, net.input_names
    (['w', 'b'], ['x'])
    >>> net.predict([3.0])
    7.0
    """
    return Network(compile_program(root), root)


class Network:
    """A compiled network. Build one with ``sn.compile(node)`` or ``node.compile()``.

    ``inputs`` and ``parameters`` are the leaf nodes in the documented order (see
    :mod:`symnet.program`); ``input_names`` and ``parameter_names`` name every one.

    A network holds its own parameter values, copied from the Parameter nodes when
    it was compiled. Evaluating, printing and training a network read and write
    those values, never the nodes: setting ``w.value`` afterwards changes the next
    network compiled from ``w``, not this one. What writes to nodes:
    ``train_model(node, ...)`` (a node, not a Network) writes the trained values
    back to its Parameter nodes, ``node.forward()`` writes ``.value`` and
    ``node.backward()`` writes ``.grad``; :meth:`write_parameters` writes on request.
    """

    def __init__(self, program: Program, root: Any = None) -> None:
        self.program = program
        self.root = root
        self.inputs: list[Node] = [program.nodes[i] for i in program.inputs]
        self.parameters: list[Node] = [program.nodes[i] for i in program.parameters]
        self._compiled: dict[Any, Any] = {}

    # -- parameter values ----------------------------------------------------

    @property
    def parameter_values(self) -> list[float]:
        """The network's parameter values, in ``parameters`` order."""
        values = self.program.values
        return [values[i] for i in self.program.parameters]

    def named_parameters(self) -> dict[str, Node]:
        """``{name: Parameter node}`` in the documented order.

        >>> import symnet as sn
        >>> x = sn.Input("x"); w = sn.Parameter(2.0)
        >>> list(sn.compile(w * x).named_parameters())
        ['w1']
        """
        return dict(zip(self.parameter_names, self.parameters))

    def set_parameters(self, values: Any) -> None:
        """Set this network's parameter values from a list in ``parameters`` order or
        a dict by name (a dict may give some of them). The nodes are not changed.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> net = sn.compile(w * x); net.set_parameters({"w": 3.0})
        >>> net.predict([1.0]), w.value
        (3.0, 2.0)
        """
        p = self.program
        names = self.parameter_names
        if isinstance(values, Mapping):
            unknown = [k for k in values if k not in names]
            if unknown:
                raise InputError(f"unknown parameter name(s) {', '.join(map(repr, unknown))}; parameters are {names}")
            pairs = [(p.parameters[names.index(k)], k, v) for k, v in values.items()]
        else:
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise InputError(f"parameter values must be a list or a dict by name, got {type(values).__name__}")
            seq = list(values)
            if len(seq) != len(names):
                raise InputError(f"expected {len(names)} parameter value(s), got {len(seq)}")
            pairs = list(zip(p.parameters, names, seq))
        updates = {i: finite_value(v, f"parameter '{name}'") for i, name, v in pairs}
        self.program = p.with_values(updates)

    def write_parameters(self) -> None:
        """Write this network's parameter values to its Parameter nodes (``p.value = v``)."""
        for node, v in zip(self.parameters, self.parameter_values):
            node.value = v

    def with_loss(self, loss: str, target: Any = None, *, target_name: str | None = None) -> Network:
        """A new network: this one with ``loss`` on top (see
        :func:`symnet.losses.attach_loss`), keeping this network's parameter values.

        For ``mse`` and ``bce`` the target becomes a new input (``y``, or the first
        free name, or ``target_name``), listed after this network's inputs; a number
        makes it a constant. For ``cross_entropy`` ``target`` is the class index.

        >>> import symnet as sn
        >>> x, y, w = sn.Input("x"), sn.Input("y"), sn.Parameter(0.5, name="w")
        >>> net = sn.compile(w * x + y).with_loss("mse")
        >>> net.input_names, net.predict({"x": 2.0, "y": 0.0, "target": 1.0})
        (['x', 'y', 'target'], 0.0)
        """
        root = self.root
        if not isinstance(root, Node):
            raise InputError("this network was compiled from a list of nodes; compile an Output to add a loss")
        p = self.program  # the names the user gave and the leaves' (automatic op names such as z move aside)
        taken = [n for n, given, kind in zip(p.names, p.given, p.kinds)
                 if n is not None and (given or kind in ("input", "parameter"))]
        att = attach_loss(root, loss, target, taken=taken, target_name=target_name)
        net = compile(att.node)
        mine = dict(zip(self.parameter_names, self.parameter_values))
        net.set_parameters({n: mine[n] for n in net.parameter_names if n in mine})
        return net

    # -- names -------------------------------------------------------------

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
        return [finite_value(v, f"input '{name}'") for name, v in zip(names, seq)]

    def leaf_values(self, values: Any, parameters: Sequence[float] | None = None) -> list[Any]:
        """The full value list of the program with inputs and parameters filled in
        (the network's own parameter values unless ``parameters`` are given)."""
        p = self.program
        vals = list(p.values)
        for i, v in zip(p.inputs, self.input_values(values)):
            vals[i] = v
        if parameters is not None:
            for i, v in zip(p.parameters, parameters):
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
        return seeds_for(self.program, output, seed)

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

    def funcify(self, digits: int | None = None, layers: bool = False, *, form: str = "scalar",
                **options: Any) -> str:
        """The network as a formula that :func:`symnet.parse` reads back; ``digits=`` writes
        parameter values rounded to that many significant digits, ``layers=True`` one
        ``name = expr`` line per named intermediate (see :func:`symnet.emit.text.to_text`).

        >>> import symnet as sn
        >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
        >>> sn.compile(w * x + b).funcify(), sn.compile(w * x + b).funcify(digits=3)
        ('w*x + b', '0.5*x + 2')

        ``form="matrix"`` writes a stack of layers with vectors and matrices
        (``z1 = W1 @ x + b1``; see :func:`symnet.emit.matrix.matrix_text`).
        """
        from .emit.matrix import check_form
        from .emit.text import to_text

        if check_form(form) == "matrix":
            from .emit.matrix import matrix_text

            if digits is not None or layers or options:
                raise InputError("funcify(form='matrix') takes no other options (it writes names, not values)")
            return matrix_text(self.program, lambda: to_text(self.program, layers=True))
        return to_text(self.program, digits, layers, **options)

    def __str__(self) -> str:
        """The formula (``funcify()``), or one line per named intermediate when the
        inline formula would be longer than ``STR_INLINE_CHARS`` characters. Past
        ``STR_MAX_LINES`` lines the middle is left out, with a line that says how many
        and how to print them all (``print(net.funcify(layers=True))``).

        >>> import symnet as sn
        >>> x = sn.Input("x")
        >>> print(sn.compile(2 * x + 1))
        2*x + 1
        >>> print(sn.compile(sn.MLP(2, [2, 1], activation="tanh")))
        z1_1 = w1_1_1*x1 + w1_1_2*x2 + b1_1
        h1_1 = tanh(z1_1)
        z1_2 = w1_2_1*x1 + w1_2_2*x2 + b1_2
        h1_2 = tanh(z1_2)
        yhat = w2_1_1*h1_1 + w2_1_2*h1_2 + b2_1
        """
        from .errors import ExportLimitError

        try:
            return self.funcify(max_chars=STR_INLINE_CHARS)
        except ExportLimitError:
            return summarise_lines(self.funcify(layers=True), "print(net.funcify(layers=True))")

    # -- generated Python (symnet.emit.python) ---------------------------------

    def to_python(self) -> str:
        """A standalone module (no symnet import) with straight-line ``forward(inputs, params)``
        and ``gradient(inputs, params, seeds=(1.0,))``; see :func:`symnet.emit.python_source.to_python`.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> "    t1 = w * x" in sn.compile(w * x + 1).to_python()
        True
        """
        from .emit.python_source import to_python

        return to_python(self.program)

    def to_numpy(self) -> str:
        """A standalone NumPy module in layer form: ``forward(X, params)`` (X of shape
        (n, n_inputs) gives (n, n_outputs)) and ``vjp(X, params, G)`` (the gradient of
        ``sum(G * forward(X, params))`` for each array of :meth:`layer_parameters`).
        See :func:`symnet.backends.numpy_backend.to_numpy`.

        >>> import symnet as sn
        >>> sn.seed(0)
        >>> net = sn.compile(sn.MLP(2, [4, 1]))
        >>> "    z1 = np.dot(W1, X)" in net.to_numpy()
        True
        """
        from .backends.numpy_backend import to_numpy

        return to_numpy(self.program)

    def layer_parameters(self) -> dict[str, Any]:
        """The parameter values as NumPy arrays in layer form: ``{"W1": (out, in) array,
        "b1": (out,) array, ...}`` with ``W1[j, i]`` the parameter ``w1_{j+1}_{i+1}`` and
        ``b1[j]`` the parameter ``b1_{j+1}``; parameters outside the layers Linear, Dense
        and MLP built appear under their own names (0-d arrays).

        >>> import symnet as sn
        >>> sn.seed(0)
        >>> net = sn.compile(sn.MLP(2, [3, 1]))
        >>> {k: v.shape for k, v in net.layer_parameters().items()}
        {'W1': (3, 2), 'b1': (3,), 'W2': (1, 3), 'b2': (1,)}
        """
        from .backends.numpy_backend import layer_parameters

        return layer_parameters(self)

    def codegen(self) -> Any:
        """The generated functions, compiled once (see :class:`symnet.emit.python_load.CompiledPython`).

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> sn.compile(w * x).codegen().gradient([3.0])
        ((6.0,), (3.0, 2.0))
        """
        from .emit.python_load import codegen

        return codegen(self)

    def op_counts(self) -> dict[str, int]:
        """Operations in the generated forward pass and gradient.

        >>> import symnet as sn
        >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
        >>> sn.compile(w * x).op_counts()
        {'forward': 1, 'gradient': 3}
        """
        from .emit.python_source import op_counts

        return op_counts(self.program)

    # -- LaTeX (symnet.emit.latex) -------------------------------------------

    def latex(self, *, form: str = "scalar", **options: Any) -> str:
        """The network as LaTeX: inline, or one ``aligned`` equation per neuron with
        ``layers=True``; options as for :func:`symnet.emit.latex.to_latex`
        (``digits``, ``symbols_only``, ``times``, ``layers``, ``width``, ``equation``).
        ``form="matrix"``: ``z^{(l)} = W^{(l)} h^{(l-1)} + b^{(l)}`` per layer with shapes
        (options ``times``, ``width``; see :func:`symnet.emit.matrix.matrix_latex`).

        >>> import symnet as sn
        >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(2.0, name="b")
        >>> sn.compile(w * x + b).latex(), sn.compile(w * x + b).latex(digits=2, times=r"\\cdot")
        ('w x + b', '0.5 \\\\cdot x + 2')
        """
        from .emit.latex import to_latex
        from .emit.matrix import check_form


        if check_form(form) == "matrix":
            from .emit.matrix import matrix_latex

            return matrix_latex(self, scalar=lambda times, width: to_latex(self, times=times, layers="auto",
                                                                           width=width), **options)
        return to_latex(self, **options)

    def _repr_latex_(self) -> str | None:
        from .emit.latex import repr_latex

        return repr_latex(self)

    def gradient_latex(self, wrt: Any = None, *, form: str = "scalar", **options: Any) -> str:
        """d output / d ``wrt`` (a name, node or list; ``None``: every parameter) as LaTeX,
        written with the backprop chain (deltas ``\\delta^{(l)}_{j} = \\partial L/\\partial z^{(l)}_{j}``);
        options as for :func:`symnet.emit.chainrule.gradient_latex` (``times``, ``digits``,
        ``width``, ``output``). ``form`` is ``"scalar"`` (also ``"chain"``), ``"inline"`` (each
        gradient in the inputs and parameters) or ``"matrix"``.

        >>> import symnet as sn
        >>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b")
        >>> print(sn.compile((w * x + b).sigmoid()).gradient_latex("w"))
        \\begin{aligned}
        \\delta = \\frac{\\partial \\hat{y}}{\\partial z} &= \\hat{y} \\left(1 - \\hat{y}\\right) \\\\
        \\frac{\\partial \\hat{y}}{\\partial w} &= x \\delta
        \\end{aligned}
        """
        from .emit.matrix import check_form

        if form in ("chain", "inline"):  # the scalar form's two shapes (symnet.emit.chainrule)
            from .emit.chainrule import gradient_latex as scalar_gradient_latex

            return scalar_gradient_latex(self, wrt, form=form, **options)
        if check_form(form) == "matrix":
            from .emit.matrix import matrix_gradient_latex

            if wrt is not None:
                raise InputError("gradient_latex(form='matrix') writes every layer's gradient; leave wrt=None")
            from .emit.chainrule import gradient_latex as scalar_gradients

            return matrix_gradient_latex(self, scalar=lambda times, width: scalar_gradients(self, times=times,
                                                                                           width=width), **options)
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
        SGD step with ``lr=``); ``.latex(blank=..., key=...)`` writes it. ``values`` may be a
        mini-batch (a list of value sets, with a list of targets); ``form="matrix"`` writes
        vectors and matrices; ``steps=k`` runs k SGD updates. See
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


def finite_value(v: Any, where: str, nonfinite: type[SymnetError] = InputError) -> float:
    """``v`` as a finite float. A value that is not a real number, or an integer too
    large for a float, raises InputError naming ``where``; a NaN or an infinity raises
    ``nonfinite`` (InputError by default).

    >>> finite_value(10**400, "lr")
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: lr: an integer of 401 digits is too large for a float
    """
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise InputError(f"{where}: expected a real number, got {type(v).__name__} {shown(v, 40)}")
    try:
        f = float(v)
    except (OverflowError, ValueError, TypeError):
        raise InputError(f"{where}: {shown(v)} is too large for a float") from None
    if not math.isfinite(f):
        raise nonfinite(f"{where}: value must be finite, got {f!r}")
    return f



def seeds_for(program: Program, output: Any, seed: Any) -> dict[int, float]:
    """The seeds of a reverse pass: ``seed`` (one finite number per output), else 1
    for output ``output`` (required when there are several)."""
    outs = program.outputs
    if seed is not None:
        if not program.vector or isinstance(seed, numbers.Real):
            seed = [seed]
        if isinstance(seed, (str, bytes)) or not hasattr(seed, "__iter__"):
            raise InputError(f"seed must be a number or a list of numbers, got {type(seed).__name__}")
        seed = list(seed)
        if len(seed) != len(outs):
            raise InputError(f"seed has {len(seed)} value(s) for {len(outs)} output(s)")
        seeds: dict[int, float] = {}
        for k, (i, s) in enumerate(zip(outs, seed)):
            v = finite_value(s, f"seed {k} (of output '{program.names[i]}')", NumericalError)
            seeds[i] = seeds.get(i, 0.0) + v
        return seeds
    if output is None:
        if program.vector and len(outs) > 1:
            raise InputError(f"this network has {len(outs)} outputs: pass output=k or a seed per output")
        output = 0
    if isinstance(output, bool) or not isinstance(output, numbers.Integral) or not 0 <= output < len(outs):
        raise InputError(f"output must be an integer index in 0..{len(outs) - 1}, got {shown(output, 40)}")
    return {outs[int(output)]: 1.0}


class NodeSession:
    """The node-level API of one root node: ``node.forward()``, ``node.backward()``
    and ``node.compile()``. The structure is compiled once; leaf values are read
    from the nodes at each call (only what changed is recomputed), and the results
    are written back as ``.value`` and ``.grad``, as the articles' API expects.
    """

    def __init__(self, root: Node) -> None:
        self.root = root
        self.program = compile_program(root)
        self.cache = engine.Cache(self.program)
        self._network: Network | None = None
        #: :func:`symnet.graph.leaf_writes` when the leaves were last read
        self._seen = -1
        nodes = self.program.nodes
        #: the leaves' versions when their values were read (here, by the compiler)
        self._versions = [nodes[i]._version for i in self.program.inputs + self.program.parameters]

    def network(self) -> Network:
        """The root's Network, with the values of leaves that changed since the last call
        (none can have changed while no leaf anywhere was written: then nothing is read)."""
        seen = leaf_writes()
        if seen == self._seen:
            return self._network  # type: ignore[return-value]
        p = self.program
        leaves = p.inputs + p.parameters
        nodes = p.nodes
        if self._network is None:
            self._network = Network(p, self.root)
        # a leaf written since the compiler or the last call read it (also when the network
        # is built only now, the session having been made by forward())
        changed = {i: nodes[i]._value for i, was in zip(leaves, self._versions)
                   if nodes[i]._version != was and nodes[i]._value is not None}
        if changed:
            self._network.program = self._network.program.with_values(changed)
        self._versions = [nodes[i]._version for i in leaves]
        self._seen = seen
        return self._network

    def write_parameters(self, values: Sequence[float]) -> None:
        """Set every Parameter node below the root to ``values`` (in the network's
        ``parameters`` order, trusted finite) and the network to the same values, in
        one write (``train_model(node)`` saving what it trained)."""
        current = self._seen == leaf_writes()
        net = self.network()
        version = write_values(net.parameters, values)
        net.program = net.program.with_parameter_values(values)
        if current and leaf_writes() == version + 1:  # no other write came before or between
            n_in = len(self.program.inputs)
            self._versions[n_in:] = [version] * (len(self._versions) - n_in)
            self._seen = version + 1

    def forward(self) -> Any:
        p = self.program
        vals = self.cache.forward()
        nodes = p.nodes
        for i in p.op_indices:
            nodes[i]._value = vals[i]
        for node, i in p.aliases.items():
            node._value = vals[i]
        outs = [vals[i] for i in p.outputs]
        if p.vector:
            if isinstance(self.root, Node):
                self.root._value = outs
            return outs
        return outs[0]

    def backward(self, seed: Any = None) -> None:
        self.forward()
        p = self.program
        adj = engine.backward(p, self.cache.values, seeds_for(p, None, seed))
        for node, g in zip(p.nodes, adj):
            node.grad = g
        for node, i in p.aliases.items():
            node.grad = adj[i]
