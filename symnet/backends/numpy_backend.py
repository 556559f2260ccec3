"""Batched NumPy code in layer form: ``forward(X, params)`` and ``vjp(X, params, G)`` for a whole batch.

Layers that the Linear, Dense and MLP macros built (found from their provenance by
:func:`symnet.backends.layers.find_layers`) become matrix operations on the
arrays of :func:`layer_parameters` (``W1`` of shape (out, in), ``b1`` of shape
(out,)): ``z1 = W1 @ x + b1`` and one elementwise activation ``h1 = f(z1)``
forward; ``dW1 = dz1 @ x.T``, ``db1 = dz1.sum(1)`` and ``dx = W1.T @ dz1`` backward
(the standard matrix-form backpropagation, e.g. Goodfellow et al., *Deep Learning*,
section 6.5). Inside, arrays hold one column per sample. Every other node is one
array operation written from its row's Python form with the row's array kernels
bound in place of its scalar ones (:attr:`symnet.ops.Op.array`); a row without them
runs its scalar kernels at every position (slower, still exact).

Matrix products sum in a different order than the scalar engine, so results agree
with it to rounding (about 1e-15 relative), not bit for bit. A failure (overflow, a
value outside an op's domain) stops the batch (NumPy's floating-point errors raise,
see :data:`STRICT`) or shows as a non-finite number that one ``isfinite`` check over
the results finds; only then is the program walked, sample by sample, to raise a
:class:`~symnet.errors.NumericalError` naming the node.

>>> import symnet as sn
>>> sn.seed(0)
>>> net = sn.compile(sn.MLP(2, [4, 1]))
>>> fast = batched(net)
>>> X = [[0.5, -1.0], [1.5, 2.0], [0.0, 0.25]]
>>> [round(v, 12) for v in fast.forward(X)[:, 0]] == [round(net.predict(x), 12) for x in X]
True
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..program import Program
from ..emit.python_guard import numpy_guard
from ..emit.python_kernels import prelude
from ..emit.python_load import load, locate
from ..emit.python_source import CHUNK, MAX_TEMPLATE_ARITY, Binder, Namespace, Writer, is_atom, literal, paren
from ..emit.python_source import reserved_names, sum_expr, sum_lines, term
from ..errors import InputError, NumericalError
from ..ops import Op
from .layers import Block, find_layers
from .numpy_kernels import elementwise, elementwise_partials, stack_rows

__all__ = ["batched", "BatchedNetwork", "to_numpy", "to_numpy_source", "layer_parameters"]


_FIXED = ("X", "params", "G", "B", "out", "grads")


class _Writer(Writer):
    """Writes ``forward(X, params)`` and ``forward_vjp(X, params, G)`` for one program:
    the scalar writer's walk, with layers as matrix operations and ops over arrays."""

    def __init__(self, program: Program) -> None:
        p = program
        names = Namespace(reserved_names() | set(_FIXED))
        bind = Binder(names, {"__builtins__": __builtins__})
        super().__init__(p, names, [""] * len(p.nodes), bind)
        self.np = bind(np, "np")
        self.blocks, self.acts = find_layers(p)
        n = len(p.nodes)
        self.group: list[Any] = [None] * n  # the Block or Activation a node is a row of
        self.folded = bytearray(n)  # products, weights and biases computed inside a block
        self.var: dict[int, str] = {}  # id(group) -> its matrix variable
        self.anchor: dict[int, Any] = {}  # first row index -> group
        self.mats: dict[int, list[str]] = {}  # id(group) -> whole-matrix adjoint terms
        self.block_inputs: dict[int, str] = {}  # id(block) -> the matrix it reads
        self._kernels: dict[Any, bool] = {}
        #: the arrays of ``params``: key -> ("W", block) / ("b", block) / ("p", parameter index)
        self.keys: dict[str, tuple[str, Any]] = {}
        self.local: dict[str, str] = {}  # key -> its variable in the code
        self.grad_of: dict[str, str] = {}  # key -> its gradient's variable
        in_pos = {i: k for k, i in enumerate(p.inputs)}
        for i, kind in enumerate(p.kinds):
            if kind == "constant":
                self.values[i] = literal(p.values[i])
            elif kind == "input":
                self.values[i] = f"X[{in_pos[i]}]"
        for block in self.blocks:
            layer = "" if block.layer is None else block.layer
            for kind in ("W", "b"):
                key = names.claim(f"{kind}{layer}")
                self.keys[key] = (kind, block)
                self.local[key] = key
            self._adopt(block, block.sums, "z", block.layer)
            for q in block.products:
                self.folded[q] = 1
        for act in self.acts:
            self._adopt(act, act.nodes, "h", act.block.layer)
        in_block = {w for b in self.blocks for row in b.weights for w in row}
        in_block.update(c for b in self.blocks for c in b.biases)
        for i in p.parameters:
            if i not in in_block:
                key = names.claim(p.names[i])
                self.keys[key] = ("p", i)
                self.local[key] = self.values[i] = key
        counts: dict[str, int] = {}
        self.labels: dict[int, str] = {}
        for i in p.op_indices:
            if not self.values[i]:
                self.labels[i] = self.values[i] = names.claim(self._label(i, counts))

    def label(self, i: int) -> str:
        return self.labels.get(i) or super().label(i)

    def _label(self, i: int, counts: dict[str, int]) -> str:
        """The model's name for node ``i``: the user's, or its role's (``yhat``, ``L``);
        a node with neither is named after its op (``sub1``), never ``t1`` beside a ``t``."""
        p = self.p
        name = p.names[i]
        if p.given[i] or not (name[:1] == "t" and name[1:].isdigit()):  # compile's fallback is t1, t2 ...
            return name
        stem = p.ops[i].name
        counts[stem] = counts.get(stem, 0) + 1
        return f"{stem}{counts[stem]}"

    def _adopt(self, group: Any, rows: Sequence[int], stem: str, layer: int | None) -> None:
        var = self.names.claim(f"{stem}{'' if layer is None else layer}")
        self.var[id(group)] = var
        self.anchor[min(rows)] = group
        for r, i in enumerate(rows):
            self.group[i] = group
            self.values[i] = f"{var}[{r}]"

    # -- op forms over arrays ------------------------------------------------

    def _usable(self, op: Op, n: int, attr: Any, partials: bool) -> bool:
        """True if every kernel the row's form binds has an array version on the row."""
        key = (id(op), n, repr(attr), partials)
        ok = self._kernels.get(key)
        if ok is None:
            form = op.python_partials if partials else op.python
            ok = form is not None and (partials or n <= MAX_TEMPLATE_ARITY)
            if ok:
                seen: list[Any] = []

                def probe(fn: Any, base: str | None = None) -> str:
                    seen.append(fn)
                    return "k"

                dummy = [f"a{k}" for k in range(n)]
                form(dummy, "y", attr, probe) if partials else form(dummy, attr, probe)
                ok = all(fn in (op.array or {}) for fn in seen)
            self._kernels[key] = ok
        return ok

    def _array_bind(self, op: Op) -> Callable[..., str]:
        table = op.array or {}
        return lambda fn, base=None: self.bind(table[fn], base)

    def expression(self, i: int, operands: Sequence[str] | None = None) -> str:
        o = self.operands(i) if operands is None else list(operands)
        op, attr = self.p.ops[i], self.p.attrs[i]
        if self._usable(op, len(o), attr, False):
            return op.python(o, attr, self._array_bind(op))
        return f"{self.bind(elementwise)}({self.row(i)}.forward, {self.attr(i)}, {', '.join(o)})"

    def partials(self, i: int, out: list[str], indent: str, operands: Sequence[str] | None = None,
                 y: str | None = None) -> list[str]:
        o = self.operands(i) if operands is None else list(operands)
        y = self.values[i] if y is None else y
        op, attr = self.p.ops[i], self.p.attrs[i]
        if self._usable(op, len(o), attr, True):
            return list(op.python_partials(o, y, attr, self._array_bind(op)))
        tmp = self.names.claim(f"pd_{self.label(i)}")
        out.append(f"{indent}{tmp} = {self.bind(elementwise_partials)}({self.row(i)}.partials, {self.attr(i)}, "
                   f"{y}, {', '.join(o)})")
        return [f"{tmp}[{k}]" for k in range(len(o))]

    # -- layers --------------------------------------------------------------

    def block_input(self, block: Block, out: list[str]) -> str:
        """Source of the ``(n_inputs, B)`` matrix a block reads: X or an earlier layer's
        matrix (or a run of its rows) where it can, else the rows stacked."""
        p, xs = self.p, block.inputs
        pos = {i: k for k, i in enumerate(p.inputs)}
        if all(x in pos for x in xs):
            ks = [pos[x] for x in xs]
            if ks == list(range(ks[0], ks[0] + len(ks))):
                return f"X[{ks[0]}:{ks[-1] + 1}]" if len(ks) < len(p.inputs) else "X"
        src = self.group[xs[0]]
        if src is not None and all(self.group[x] is src for x in xs):
            rows = [int(self.values[x].rsplit("[", 1)[1][:-1]) for x in xs]
            var = self.var[id(src)]
            n_rows = len(src.sums) if isinstance(src, Block) else len(src.nodes)
            if rows == list(range(rows[0], rows[0] + len(rows))):
                return var if len(rows) == n_rows else f"{var}[{rows[0]}:{rows[-1] + 1}]"
        name = self.names.claim("a")
        out.append(f"    {name} = {self.bind(stack_rows)}(({', '.join(self.values[x] for x in xs)},), B)")
        return name

    def _key(self, kind: str, block: Block) -> str:
        return next(k for k, v in self.keys.items() if v[0] == kind and v[1] is block)

    def block_forward(self, block: Block, out: list[str]) -> None:
        """``z = W @ a + b`` (b broadcast over the samples)."""
        W, b, Z = self._key("W", block), self._key("b", block), self.var[id(block)]
        A = self.block_input(block, out)
        self.block_inputs[id(block)] = A
        out.append(f"    {Z} = {self.np}.dot({W}, {A})")
        out.append(f"    {Z} += {b}[:, None]")

    def block_backward(self, block: Block, dZ: str, out: list[str], need: bytearray,
                       terms: list[list[str]]) -> None:
        """``dW = dz @ a.T`` and ``db = dz.sum(1)``; ``da = W.T @ dz`` to the inputs."""
        W, b = self._key("W", block), self._key("b", block)
        A = self.block_inputs[id(block)]
        dW, db = self.names.claim(f"d{W}"), self.names.claim(f"d{b}")
        out.append(f"    {dW} = {self.np}.dot({dZ}, {A}.T)")
        out.append(f"    {db} = {dZ}.sum(axis=1)")
        self.grad_of[W], self.grad_of[b] = dW, db
        if not any(need[x] for x in block.inputs):
            return
        dA = self.names.claim(f"d{A.split('[')[0]}")
        out.append(f"    {dA} = {self.np}.dot({W}.T, {dZ})")
        src = self.group[block.inputs[0]]
        if src is not None and A == self.var[id(src)]:  # the whole matrix of an earlier layer
            self.mats.setdefault(id(src), []).append(dA)
            return
        for r, x in enumerate(block.inputs):
            if need[x]:
                terms[x].append(f"{dA}[{r}]")

    def group_backward(self, group: Any, out: list[str], need: bytearray, terms: list[list[str]]) -> None:
        """The adjoint matrix of a layer (whole-matrix terms plus terms of single rows),
        then the layer's own backward step."""
        rows = group.sums if isinstance(group, Block) else group.nodes
        var = self.var[id(group)]
        ms = self.mats.pop(id(group), [])
        row_terms = [terms[r] for r in rows]
        if not ms and not any(row_terms):
            return
        if ms and len(ms) == 1 and is_atom(ms[0]) and not any(row_terms):
            d = ms[0]
        else:
            d = self.names.claim(f"d{var}")
        if ms:
            if len(ms) == 1 and is_atom(ms[0]):
                if d != ms[0]:
                    out.append(f"    {d} = {ms[0]}.copy()")
            else:
                out.extend(sum_lines(d, ms, "    "))
            for r, ts in enumerate(row_terms):
                if ts:
                    out.append(f"    {d}[{r}] += {sum_expr(ts)}")
        elif len(row_terms) == 1:  # an adjoint depends on a seed: always an array of B values
            out.append(f"    {d} = {paren(sum_expr(row_terms[0]))}[None, :]")
        else:
            cells = ', '.join(sum_expr(ts) if ts else '0.0' for ts in row_terms)
            out.append(f"    {d} = {self.bind(stack_rows)}(({cells},), B)")
        if isinstance(group, Block):
            self.block_backward(group, d, out, need, terms)
            return
        z = self.var[id(group.block)]
        (pz,) = self.partials(group.nodes[0], out, "    ", [z], var)
        self.mats.setdefault(id(group.block), []).append(term(d, pz))

    # -- the walks ---------------------------------------------------------------

    def unpack_params(self) -> list[str]:
        if not self.keys:
            return []
        targets = ", ".join(self.local[k] for k in self.keys)
        return [f"    {targets}{',' if len(self.keys) == 1 else ''} = "
                f"{', '.join(f'params[{k!r}]' for k in self.keys)}{',' if len(self.keys) == 1 else ''}"]

    def forward_lines(self) -> list[str]:
        p, out = self.p, []
        for i in p.op_indices:
            if self.folded[i]:
                continue
            group = self.group[i]
            if group is None:
                out.append(f"    {self.values[i]} = {self.expression(i)}")
            elif self.anchor.get(i) is group:
                if isinstance(group, Block):
                    self.block_forward(group, out)
                else:
                    out.append(f"    {self.var[id(group)]} = {self.expression(i, [self.var[id(group.block)]])}")
        return out

    def outputs(self) -> list[str]:
        outs = [self.values[o] for o in self.p.outputs]
        if len(outs) == 1 and not outs[0].startswith(("X[", "(")) and outs[0][0].isalpha():
            var = outs[0].split("[")[0]
            if outs[0] == f"{var}[0]" and self._rows(var) == 1:
                return [f"    out = {var}"]
        lines = [f"    out = {self.np}.empty(({len(outs)}, B))"]
        lines += [f"    out[{k}] = {v}" for k, v in enumerate(outs)]
        return lines

    def _rows(self, var: str) -> int:
        for group in (*self.blocks, *self.acts):
            if self.var[id(group)] == var:
                return len(group.sums) if isinstance(group, Block) else len(group.nodes)
        return -1

    def special(self, i: int, out: list[str], need: bytearray, terms: list[list[str]]) -> bool:
        if self.folded[i]:
            return True
        group = self.group[i]
        if group is None:
            return False
        if self.anchor.get(i) is group:  # every use of every row is behind us now
            self.group_backward(group, out, need, terms)
        return True

    def reverse_lines(self) -> list[str]:
        pkey = {v[1]: k for k, v in self.keys.items() if v[0] == "p"}

        def sink(i: int, ts: list[str], out: list[str]) -> None:
            if i not in pkey or not ts:
                return
            if len(ts) > CHUNK:
                tmp = self.names.claim(f"d_{self.label(i)}")
                out.extend(sum_lines(tmp, ts, "    "))
                ts = [tmp]
            g = self.names.claim(f"d{pkey[i]}")
            out.append(f"    {g} = {self.np}.sum({sum_expr(ts)})")
            self.grad_of[pkey[i]] = g

        seeds = [f"G[{k}]" for k in range(len(self.p.outputs))]
        rev = self.reverse(self.p.parameters, seeds, "    ", sink)
        items = []
        for k in self.keys:
            g = self.grad_of.get(k)
            items.append(f"{k!r}: {g if g else f'{self.np}.zeros_like({self.local[k]}, dtype=float)'}")
        return [*rev, f"    grads = {{{', '.join(items)}}}"]


#: A division by zero, an invalid operation or an overflow anywhere in the batch (not
#: only in the results: relu(log(0)) hides a -inf) stops the batch, which is then
#: walked to name the node; underflow is not an error (as in the scalar engine).
STRICT = {"divide": "raise", "invalid": "raise", "over": "raise", "under": "ignore"}


def _source(program: Program, prefix: str = "") -> tuple[str, Binder, _Writer]:
    """``forward``, ``forward_vjp`` (named with ``prefix`` in front) and, without a
    prefix, ``vjp``; with one, the standalone module's guard defines the checked ones."""
    w = _Writer(program)
    n_out = len(program.outputs)
    fwd = w.forward_lines()
    start = [f"    B, X = len(X), {w.np}.asarray(X, dtype=float).T", *w.unpack_params()]
    doc = not prefix  # the standalone module documents its checked functions instead
    lines = [f"def {prefix}forward(X, params):",
             *[f'    """Outputs (n, {n_out}) for inputs X (n, {len(program.inputs)}) and the arrays of'
               ' layer_parameters()."""'] * doc,
             *start, *fwd, *w.outputs(), "    return out.T", "", "",
             f"def {prefix}forward_vjp(X, params, G):",
             *['    """(forward(X, params), vjp(X, params, G)) in one pass."""'] * doc,
             *start, f"    G = {w.np}.asarray(G, dtype=float).reshape(B, {n_out}).T",
             *fwd, *w.outputs(), *w.reverse_lines(), "    return out.T, grads", ""]
    if not prefix:
        lines += ["", "def vjp(X, params, G):",
                  '    """The gradient of sum(G * forward(X, params)) for each array of params (a dict)."""',
                  "    return forward_vjp(X, params, G)[1]", ""]
    return "\n".join(lines), w.bind, w


def _trace_source(w: _Writer) -> str:
    """``trace(X, params)``: the forward pass returning every local (to find a bad node)."""
    start = [f"    B, X = len(X), {w.np}.asarray(X, dtype=float).T", *w.unpack_params()]
    return "\n".join(["def trace(X, params):", *start, *w.forward_lines(), "    return locals()", ""])


def _header(program: Program, w: _Writer) -> str:
    return (f"# symnet: NumPy code in layer form for a network with {len(program.inputs)} input(s), "
            f"{len(program.parameters)} parameter(s) in {len(w.keys)} array(s), "
            f"{len(program.op_indices)} op node(s), {len(w.blocks)} layer(s).\n")


def to_numpy(program: Program) -> str:
    """A standalone NumPy module for the network (it imports NumPy; symnet is not needed):

    * ``forward(X, params)``: ``X`` of shape (n, n_inputs) gives (n, n_outputs);
    * ``vjp(X, params, G)``: ``G`` of shape (n, n_outputs) gives a dict with the gradient
      of ``sum(G * forward(X, params))`` for each array of ``params``;
    * ``forward_vjp(X, params, G)``: both at once.

    ``params`` is the dict of :func:`layer_parameters` (the module's ``PARAMETER_SHAPES``
    gives each array's shape; ``INPUT_NAMES`` the columns of ``X``). The functions check
    their arguments and raise ``InputError`` naming a bad one (a missing, extra or
    misnamed array, a wrong shape, a value that is not finite), and ``NumericalError``
    naming the variable and line where a value overflows or leaves an op's domain:
    symnet's classes when symnet is installed, the module's own otherwise (see
    :mod:`symnet.emit.python_guard`). The unchecked generated functions are
    ``_sn_forward`` and ``_sn_forward_vjp``. Raises :class:`~symnet.errors.GraphError`
    when an op's kernels have no standalone source.

    >>> import symnet as sn
    >>> sn.seed(0)
    >>> net = sn.compile(sn.MLP(2, [3, 1], activation="tanh"))
    >>> env = {}
    >>> exec(to_numpy(net.program), env)
    >>> out = env["forward"]([[0.5, -1.0]], net.layer_parameters())
    >>> out.shape, round(float(out[0, 0]), 12) == round(net.predict([0.5, -1.0]), 12)
    ((1, 1), True)
    >>> env["forward"]([[0.5, -1.0, 2.0]], net.layer_parameters())
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: X has shape (1, 3), expected (n, 2): one column per input ['x1', 'x2']
    """
    source, bind, w = _source(program, "_sn_")
    shapes = {k: np.shape(ix) for k, ix in Layout(program, w.keys).index.items()}
    guard = numpy_guard([program.names[i] for i in program.inputs], shapes,
                        [program.names[i] or f"output {k}" for k, i in enumerate(program.outputs)])
    return f"{_header(program, w)}{prelude(bind.bound)}\n\n\n{guard}\n\n{source}"


def to_numpy_source(program: Program) -> str:
    """Only the generated functions (what :class:`BatchedNetwork` runs, kernels bound by object).

    >>> import symnet as sn
    >>> sn.seed(0)
    >>> src = to_numpy_source(sn.compile(sn.MLP(2, [3, 1])).program)
    >>> "    z1 = np.dot(W1, X)" in src, "    h1 = relu(z1)" in src
    (True, True)
    """
    return _source(program)[0]


class Layout:
    """Where each parameter sits in the arrays of :func:`layer_parameters`."""

    def __init__(self, program: Program, keys: dict[str, tuple[str, Any]]) -> None:
        pos = {i: k for k, i in enumerate(program.parameters)}
        self.keys = list(keys)
        self.index: dict[str, Any] = {}
        for key, (kind, what) in keys.items():
            if kind == "W":
                self.index[key] = np.array([[pos[w] for w in row] for row in what.weights], dtype=np.intp)
            elif kind == "b":
                self.index[key] = np.array([pos[c] for c in what.biases], dtype=np.intp)
            else:
                self.index[key] = pos[what]

    def arrays(self, flat: Any) -> dict[str, Any]:
        """The dict of arrays from values in the network's parameter order."""
        flat = np.asarray(flat, dtype=np.float64)
        return {k: (flat[ix] if not isinstance(ix, int) else np.float64(flat[ix])) for k, ix in self.index.items()}

    def flat(self, arrays: dict[str, Any], n: int) -> Any:
        """Values in the network's parameter order from the dict of arrays."""
        out = np.zeros(n)
        for k, ix in self.index.items():
            out[ix] = arrays[k]
        return out


class BatchedNetwork:
    """A network's batched forward pass, VJP and gradient (samples as rows).

    ``forward(X)`` takes ``X`` of shape ``(n_samples, n_inputs)`` and returns the outputs,
    shape ``(n_samples, n_outputs)``; ``vjp(X, G)`` the dict of gradients of
    ``sum(G * forward(X))``; ``gradient(X)`` returns ``(outputs, grads)`` where ``grads``
    is the sum over the batch of each parameter's derivative (weighted by ``seeds``,
    one per output, default 1), in the network's parameter order. ``params`` (a dict
    as :meth:`layer_parameters` gives, or values in parameter order) default to the
    parameters' current values.
    """

    def __init__(self, network: Any) -> None:
        self.network = network
        self.program: Program = network.program
        self.source, bind, w = _source(self.program)
        self.load_env = dict(bind.env)
        env = load(self.source, bind.env, "numpy")
        self.filename: str = env["__file__"]
        self.raw_forward: Callable[..., Any] = env["forward"]
        self.raw_forward_vjp: Callable[..., Any] = env["forward_vjp"]
        self.layout = Layout(self.program, w.keys)
        self._writer = w
        self._trace: Callable[..., dict[str, Any]] | None = None

    def layer_parameters(self, values: Any = None) -> dict[str, Any]:
        """``{"W1": (out, in) array, "b1": (out,) array, ...}``; parameters outside the
        layers by their own names (0-d)."""
        if values is None:
            values = self.network.parameter_values
        return self.layout.arrays(values)

    def _params(self, params: Any) -> dict[str, Any]:
        if params is None or not isinstance(params, dict):
            if params is not None and len(params) != len(self.program.parameters):
                raise InputError(f"expected {len(self.program.parameters)} parameter values, got {len(params)}")
            return self.layer_parameters(params)
        missing = [k for k in self.layout.keys if k not in params]
        if missing:
            raise InputError(f"params has no array {missing[0]!r}; expected {self.layout.keys}")
        out = {}
        for k in self.layout.keys:
            a = np.asarray(params[k], dtype=np.float64)
            ix = self.layout.index[k]
            want = () if isinstance(ix, int) else ix.shape
            if a.shape != want:
                raise InputError(f"params[{k!r}] has shape {a.shape}, expected {want}")
            if not np.isfinite(a).all():
                raise InputError(f"params[{k!r}] has a non-finite value")
            out[k] = a
        return out

    def _inputs(self, X: Any) -> Any:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"inputs must be an array of numbers: {exc}") from None
        n_in = len(self.program.inputs)
        if X.ndim == 1 and n_in == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != n_in:
            raise InputError(f"expected inputs of shape (n_samples, {n_in}), got {X.shape}")
        if not np.isfinite(X).all():
            raise InputError("input values must be finite")
        return X

    def _seeds(self, G: Any, B: int) -> Any:
        n_out = len(self.program.outputs)
        if G is None:
            if n_out > 1:
                raise InputError(f"this network has {n_out} outputs: pass a seed per output")
            return np.ones((B, 1))
        try:
            G = np.asarray(G, dtype=np.float64)
            G = np.broadcast_to(G.reshape(-1, n_out) if G.ndim <= 1 else G, (B, n_out))
        except (TypeError, ValueError) as exc:
            raise InputError(f"seeds must broadcast to shape ({B}, {n_out}): {exc}") from None
        if not np.isfinite(G).all():
            bad = G[~np.isfinite(G)][0]
            raise NumericalError(f"a seed is {float(bad)!r}: not a finite number")
        return G

    def forward(self, X: Any, params: Any = None) -> Any:
        """The outputs for every sample, shape ``(n_samples, n_outputs)``."""
        X, P = self._inputs(X), self._params(params)
        try:
            with np.errstate(**STRICT):
                out = self.raw_forward(X, P)
        except (ArithmeticError, ValueError):  # a floating-point failure in the batch, or a kernel's domain
            raise self._failure(X, P, None) from None
        if not np.isfinite(out).all():
            raise self._failure(X, P, None)
        return out

    def vjp(self, X: Any, params: Any = None, G: Any = None) -> tuple[Any, dict[str, Any]]:
        """``(outputs, grads)``: the outputs, and the dict of gradients of
        ``sum(G * forward(X, params))`` (``G`` default: ones, for a scalar output)."""
        X, P = self._inputs(X), self._params(params)
        G = self._seeds(G, X.shape[0])
        try:
            with np.errstate(**STRICT):
                out, grads = self.raw_forward_vjp(X, P, G)
        except (ArithmeticError, ValueError):  # a floating-point failure in the batch, or a kernel's domain
            raise self._failure(X, P, G) from None
        total = float(out.sum()) + math.fsum(float(g.sum()) for g in grads.values())
        if not math.isfinite(total) and not (np.isfinite(out).all()
                                             and all(np.isfinite(g).all() for g in grads.values())):
            raise self._failure(X, P, G)
        return out, grads

    def gradient(self, X: Any, params: Any = None, seeds: Any = None) -> tuple[Any, Any]:
        """``(outputs, grads)``: outputs as for :meth:`forward`, and the batch sum of the
        derivative of ``sum_k seeds[k] * output_k`` with respect to every parameter, in
        the network's parameter order."""
        out, grads = self.vjp(X, params, seeds)
        return out, self.layout.flat(grads, len(self.program.parameters))

    def _forward_failure(self, X: Any, P: dict[str, Any]) -> NumericalError | None:
        """The first op node (in program order) whose array of values holds a non-finite
        number: an array kernel returns NaN where the scalar kernel refuses its input."""
        w = self._writer
        if self._trace is None:
            src = _trace_source(w)
            self._trace = load(src, dict(self.load_env), "numpy-trace")["trace"]
        with np.errstate(all="ignore"):
            local = self._trace(X, P)
        for i in self.program.op_indices:
            if w.folded[i]:
                continue
            ref = w.values[i]
            var, _, row = ref.partition("[")
            if var not in local:
                continue
            arr = np.asarray(local[var] if not row else local[var][int(row[:-1])])
            bad = ~np.isfinite(arr)
            if bad.any():
                s = int(np.argmax(bad.reshape(-1))) if arr.ndim else 0
                inputs = dict(zip(self.network.input_names, X[s].tolist()))
                return NumericalError(f"node '{self.program.names[i]}' ({self.program.ops[i].name}) is "
                                      f"{float(arr.reshape(-1)[s])!r} at sample {s} {inputs}: not a finite number")
        return None

    def _failure(self, X: Any, P: dict[str, Any], G: Any) -> NumericalError:
        """The error naming the node, from the first sample where something is not finite."""
        p, net = self.program, self.network
        for_sample = self._forward_failure(X, P)  # an array kernel's NaN where the engine computes
        values = [float(v) for v in self.layout.flat(P, len(p.parameters))]
        for s in range(X.shape[0]):
            seeds = None
            if G is not None:
                seeds = {}
                for o, w in zip(p.outputs, G[s]):
                    seeds[o] = seeds.get(o, 0.0) + float(w)
            try:
                err = locate(p, net.leaf_values([float(v) for v in X[s]], values), seeds)
            except NumericalError as exc:
                return exc
            if err is not None:
                return err
        if for_sample is not None:
            return for_sample
        return NumericalError("a batch sum is not finite although every sample is (an overflow in the sum)")


def batched(network: Any) -> BatchedNetwork:
    """The network's :class:`BatchedNetwork`, built on first use and cached."""
    cached = network._compiled.get("numpy")
    if cached is None:
        cached = network._compiled["numpy"] = BatchedNetwork(network)
    return cached


def layer_parameters(network: Any) -> dict[str, Any]:
    """The network's parameter values as the arrays of its NumPy code (see
    :meth:`symnet.network.Network.layer_parameters`)."""
    return batched(network).layer_parameters()
