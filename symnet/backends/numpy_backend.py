"""Batched NumPy backend: forward pass and parameter gradient over a whole batch at once.

The generated code works on arrays with one entry per sample. Layers that the
Linear, Dense and MLP macros built (found by :func:`symnet.backends.layers.find_layers`)
become matrix operations: ``Z = W @ A + b`` and one elementwise activation forward,
``dW = dZ @ A.T``, ``db = dZ.sum(1)`` and ``dA = W.T @ dZ`` backward. Every other node
is one array operation written from its row's Python form, with the scalar kernels of
:data:`symnet.ops.RUNTIME` replaced by the array kernels of :data:`ARRAY_KERNELS`; a row
whose form needs a kernel with no array version runs its own scalar kernels
elementwise (``numpy.vectorize``: slower, still correct).

Matrix products sum in a different order than the scalar engine, so results agree
with it to rounding (about 1e-15 relative), not bit for bit. A failure (overflow, a
value outside an op's domain) shows as a non-finite number; the batch is then
re-run by the interpreted engine, sample by sample, which raises the engine's
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

import ast
from typing import Any, Callable, Sequence

import numpy as np

from .. import engine
from ..program import Program
from ..emit.python import CHUNK, MAX_TEMPLATE_ARITY, Namespace, Writer, is_atom, literal, load, reserved_names
from ..emit.python import sum_expr, sum_lines, term
from ..errors import InputError
from ..ops import Op
from .layers import Block, find_layers
from .numpy_kernels import ARRAY_KERNELS, Elementwise, stack_rows

__all__ = ["batched", "BatchedNetwork", "to_numpy_source"]


_FIXED = ("X", "P", "B", "G", "np", "seeds", "out", "stack_rows")


class _Writer(Writer):
    """Writes ``forward(X, P, B)`` and ``gradient(X, P, B, seeds)`` for one program:
    the scalar writer's walk, with layers as matrix operations and ops over arrays."""

    def __init__(self, program: Program) -> None:
        p = program
        names = Namespace(reserved_names(p) | set(ARRAY_KERNELS) | set(_FIXED))
        env: dict[str, Any] = {"__builtins__": __builtins__, "np": np, "stack_rows": stack_rows}
        env.update(ARRAY_KERNELS)
        super().__init__(p, names, [""] * len(p.nodes), env)
        self.blocks, self.acts = find_layers(p)
        n = len(p.nodes)
        self.group: list[Any] = [None] * n  # the Block or Activation a node is a row of
        self.folded = bytearray(n)  # products computed inside a block
        self.var: dict[int, str] = {}  # id(group) -> its matrix variable
        self.anchor: dict[int, Any] = {}  # first row index -> group
        self.mats: dict[int, list[str]] = {}  # id(group) -> whole-matrix adjoint terms
        self._layouts: dict[int, tuple[str, str, tuple[Any, ...]]] = {}
        self._kernels: dict[Any, bool] = {}
        in_pos = {i: k for k, i in enumerate(p.inputs)}
        self.par_pos = {i: k for k, i in enumerate(p.parameters)}
        for i, kind in enumerate(p.kinds):
            if p.ops[i] is None:
                self.values[i] = (literal(p.values[i]) if kind == "constant" else
                                  f"X[{in_pos[i]}]" if kind == "input" else f"P[{self.par_pos[i]}]")
        for block in self.blocks:
            self._adopt(block, block.sums, "Z", block.layer)
            for q in block.products:
                self.folded[q] = 1
        for act in self.acts:
            self._adopt(act, act.nodes, "H", act.block.layer)
        for i in p.op_indices:
            if not self.values[i]:
                self.values[i] = names.claim(p.names[i])

    def _adopt(self, group: Any, rows: Sequence[int], stem: str, layer: int | None) -> None:
        var = self.names.claim(f"{stem}{'' if layer is None else layer}")
        self.var[id(group)] = var
        self.anchor[min(rows)] = group
        for r, i in enumerate(rows):
            self.group[i] = group
            self.values[i] = f"{var}[{r}]"

    # -- op forms over arrays ------------------------------------------------

    @staticmethod
    def _array_form(src: str) -> bool:
        """True if every function the source calls has an array kernel."""
        try:
            tree = ast.parse(src, mode="eval")
        except SyntaxError:
            return False
        return all(isinstance(node.func, ast.Name) and node.func.id in ARRAY_KERNELS
                   for node in ast.walk(tree) if isinstance(node, ast.Call))

    def _usable(self, op: Op, n: int, attr: Any, partials: bool) -> bool:
        key = (op.name, n, repr(attr), partials)
        ok = self._kernels.get(key)
        if ok is None:
            dummy = [f"a{k}" for k in range(n)]
            if partials:
                ok = op.python_partials is not None and all(
                    self._array_form(s) for s in op.python_partials(dummy, "y", attr))
            else:
                ok = op.python is not None and n <= MAX_TEMPLATE_ARITY and self._array_form(op.python(dummy, attr))
            self._kernels[key] = ok
        return ok

    def _elementwise(self, i: int) -> str:
        name = self.names.claim(f"ew_{self.p.names[i]}")
        self.env[name] = Elementwise(self.p.ops[i], self.p.attrs[i], len(self.p.args[i]))
        return name

    def expression(self, i: int, operands: Sequence[str] | None = None) -> str:
        o = self.operands(i) if operands is None else list(operands)
        op, attr = self.p.ops[i], self.p.attrs[i]
        if self._usable(op, len(o), attr, False):
            return op.python(o, attr)
        return f"{self._elementwise(i)}.forward({', '.join(o)})"

    def partials(self, i: int, out: list[str], indent: str, operands: Sequence[str] | None = None,
                 y: str | None = None) -> list[str]:
        o = self.operands(i) if operands is None else list(operands)
        y = self.values[i] if y is None else y
        op, attr = self.p.ops[i], self.p.attrs[i]
        if self._usable(op, len(o), attr, True):
            return list(op.python_partials(o, y, attr))
        tmp = self.names.claim(f"pd_{self.p.names[i]}")
        out.append(f"{indent}{tmp} = {self._elementwise(i)}.partials({', '.join(o)}, {y})")
        return [f"{tmp}[{k}]" for k in range(len(o))]

    # -- layers --------------------------------------------------------------

    def _index(self, stem: str, rows: Any) -> str:
        name = self.names.claim(stem)
        self.env[name] = np.array(rows, dtype=np.intp)
        return name

    def block_input(self, block: Block, out: list[str]) -> str:
        """Source of the ``(n_inputs, B)`` matrix a block reads: a slice of X or of an
        earlier layer's matrix where it can, else the rows stacked."""
        p, xs = self.p, block.inputs
        pos = {i: k for k, i in enumerate(p.inputs)}
        if all(x in pos for x in xs):
            ks = [pos[x] for x in xs]
            if ks == list(range(ks[0], ks[0] + len(ks))):
                return f"X[{ks[0]}:{ks[-1] + 1}]" if len(ks) < len(p.inputs) else "X"
            return f"X[{self._index('iX', ks)}]"
        src = self.group[xs[0]]
        if src is not None and all(self.group[x] is src for x in xs):
            rows = [int(self.values[x].rsplit("[", 1)[1][:-1]) for x in xs]
            var = self.var[id(src)]
            n_rows = len(src.sums) if isinstance(src, Block) else len(src.nodes)
            if rows == list(range(rows[0], rows[0] + len(rows))):
                return var if len(rows) == n_rows else f"{var}[{rows[0]}:{rows[-1] + 1}]"
        name = self.names.claim("A")
        out.append(f"    {name} = stack_rows(({', '.join(self.values[x] for x in xs)},), B)")
        return name

    def block_forward(self, block: Block, out: list[str]) -> None:
        """``Z = W @ A + b``. When the layer's parameters lie in ``P`` as one run, unit by
        unit (weights then bias, as the macros make them), W and b are views of it."""
        par, k, n = self.par_pos, len(block.sums), len(block.inputs)
        layer = "" if block.layer is None else block.layer
        W, Z = self.names.claim(f"W{layer}"), self.var[id(block)]
        A = self.block_input(block, out)
        grid = [[par[w] for w in row] + [par[c]] for row, c in zip(block.weights, block.biases)]
        start = grid[0][0]
        if [v for row in grid for v in row] == list(range(start, start + k * (n + 1))):
            Wb = self.names.claim(f"Wb{layer}")
            out.append(f"    {Wb} = P[{start}:{start + k * (n + 1)}].reshape({k}, {n + 1})")
            out.append(f"    {W} = {Wb}[:, :{n}]")
            out.append(f"    {Z} = np.dot({W}, {A})")
            out.append(f"    {Z} += {Wb}[:, {n}:]")
            self._layouts[id(block)] = (W, A, (start, k, n))
            return
        iW = self._index(f"i{W}", [row[:-1] for row in grid])
        ib = self._index(f"ib{layer}", [row[-1:] for row in grid])
        out.append(f"    {W} = P[{iW}]")
        out.append(f"    {Z} = np.dot({W}, {A})")
        out.append(f"    {Z} += P[{ib}]")
        self._layouts[id(block)] = (W, A, (iW, ib))

    def block_backward(self, block: Block, dZ: str, out: list[str], need: bytearray,
                       terms: list[list[str]]) -> None:
        """``dW = dZ @ A.T`` and ``db = dZ.sum(1)`` into G; ``dA = W.T @ dZ`` to the inputs."""
        W, A, where = self._layouts[id(block)]
        if isinstance(where[0], int):
            start, k, n = where
            Gb = self.names.claim(f"G{W[1:]}")
            out.append(f"    {Gb} = G[{start}:{start + k * (n + 1)}].reshape({k}, {n + 1})")
            out.append(f"    {Gb}[:, :{n}] += np.dot({dZ}, {A}.T)")
            out.append(f"    {Gb}[:, {n}] += {dZ}.sum(axis=1)")
        else:
            iW, ib = where
            for idx, val in ((iW, f"np.dot({dZ}, {A}.T)"), (ib, f"{dZ}.sum(axis=1, keepdims=True)")):
                flat = self.env[idx].ravel().tolist()
                out.append(f"    G[{idx}] += {val}" if len(set(flat)) == len(flat) else f"    np.add.at(G, {idx}, {val})")
        if not any(need[x] for x in block.inputs):
            return
        dA = self.names.claim(f"d{A.split('[')[0]}")
        out.append(f"    {dA} = np.dot({W}.T, {dZ})")
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
        else:
            out.append(f"    {d} = stack_rows(({', '.join(sum_expr(ts) if ts else '0.0' for ts in row_terms)},), B)")
        if isinstance(group, Block):
            self.block_backward(group, d, out, need, terms)
            return
        z = self.var[id(group.block)]
        (pz,) = self.partials(group.nodes[0], out, "    ", [z], var)
        self.mats.setdefault(id(group.block), []).append(term(d, pz))

    # -- the walks ---------------------------------------------------------------

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
        lines = [f"    out = np.empty(({len(self.p.outputs)}, B))"]
        lines += [f"    out[{k}] = {self.values[o]}" for k, o in enumerate(self.p.outputs)]
        return lines

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
        def sink(i: int, ts: list[str], out: list[str]) -> None:
            if ts:
                if len(ts) > CHUNK:
                    tmp = self.names.claim(f"d_{self.p.names[i]}")
                    out.extend(sum_lines(tmp, ts, "    "))
                    ts = [tmp]
                out.append(f"    G[{self.par_pos[i]}] += ({sum_expr(ts)}).sum()")

        seeds = [f"seeds[{k}]" for k in range(len(self.p.outputs))]
        return [f"    G = np.zeros({len(self.p.parameters)})",
                *self.reverse(self.p.parameters, seeds, "    ", sink)]


#: A division by zero, an invalid operation or an overflow anywhere in the batch (not
#: only in the outputs: relu(log(0)) hides a -inf) sends the batch to the engine, which
#: raises its NumericalError naming the node or computes what it can.
_STRICT = {"divide": "raise", "invalid": "raise", "over": "raise", "under": "ignore"}


def _source(program: Program) -> tuple[str, dict[str, Any]]:
    w = _Writer(program)
    fwd = w.forward_lines()
    header = (f"# symnet: batched NumPy code for a network with {len(program.inputs)} input(s), "
              f"{len(program.parameters)} parameter(s), {len(program.op_indices)} op node(s), "
              f"{len(w.blocks)} layer block(s).\n")
    lines = [header, "def forward(X, P, B):",
             '    """Outputs (n_outputs, B) for inputs X (n_inputs, B) and parameters P."""',
             *fwd, *w.outputs(), "    return out", "", "",
             "def gradient(X, P, B, seeds):",
             '    """Outputs, and the batch sum of d(sum_k seeds[k] * output_k) / d(each parameter)."""',
             *fwd, *w.outputs(), *w.reverse_lines(), "    return out, G", ""]
    return "\n".join(lines), w.env


def to_numpy_source(program: Program) -> str:
    """The source of the batched ``forward`` and ``gradient`` (for reading).

    >>> import symnet as sn
    >>> sn.seed(0)
    >>> src = to_numpy_source(sn.compile(sn.MLP(2, [3, 1])).program)
    >>> "    Z1 = np.dot(W1, X)" in src, "    H1 = relu(Z1)" in src
    (True, True)
    """
    return _source(program)[0]


class BatchedNetwork:
    """A network's batched forward pass and gradient (samples as rows).

    ``forward(X)`` takes ``X`` of shape ``(n_samples, n_inputs)`` and returns the outputs,
    shape ``(n_samples, n_outputs)``; ``gradient(X)`` returns ``(outputs, grads)`` where
    ``grads`` is the sum over the batch of each parameter's derivative (weighted by
    ``seeds``, one per output, default 1), in the network's parameter order.
    ``params`` default to the parameters' current values.
    """

    def __init__(self, network: Any) -> None:
        self.network = network
        self.program: Program = network.program
        self.source, env = _source(self.program)
        env = load(self.source, env, "numpy")
        self.filename: str = env["__file__"]
        self.raw_forward: Callable[..., Any] = env["forward"]
        self.raw_gradient: Callable[..., Any] = env["gradient"]

    def _params(self, params: Any) -> Any:
        if params is None:
            params = self.network.parameter_values
        return np.asarray(params, dtype=np.float64)

    def _inputs(self, X: Any) -> Any:
        X = np.asarray(X, dtype=np.float64)
        n_in = len(self.program.inputs)
        if X.ndim == 1 and n_in == 1:
            X = X[:, None]
        if X.ndim != 2 or X.shape[1] != n_in:
            raise InputError(f"expected inputs of shape (n_samples, {n_in}), got {X.shape}")
        if not np.isfinite(X).all():
            raise InputError("input values must be finite")
        return np.ascontiguousarray(X.T)

    def forward(self, X: Any, params: Any = None) -> Any:
        """The outputs for every sample, shape ``(n_samples, n_outputs)``."""
        Xt, P = self._inputs(X), self._params(params)
        try:
            with np.errstate(**_STRICT):
                out = self.raw_forward(Xt, P, Xt.shape[1])
            if np.isfinite(out).all():
                return out.T
        except (ArithmeticError, ValueError):
            pass
        return self._engine(Xt, P, None)[0].T

    def gradient(self, X: Any, params: Any = None, seeds: Any = None) -> tuple[Any, Any]:
        """``(outputs, grads)``: outputs as for :meth:`forward`, and the batch sum of the
        derivative of ``sum_k seeds[k] * output_k`` with respect to every parameter."""
        Xt, P = self._inputs(X), self._params(params)
        B = Xt.shape[1]
        n_out = len(self.program.outputs)
        if seeds is None:
            if n_out > 1:
                raise InputError(f"this network has {n_out} outputs: pass a seed per output")
            seeds = np.ones((1, B))
        else:
            seeds = np.broadcast_to(np.asarray(seeds, dtype=np.float64).reshape(n_out, -1), (n_out, B))
        try:
            with np.errstate(**_STRICT):
                out, G = self.raw_gradient(Xt, P, B, seeds)
            if np.isfinite(out).all() and np.isfinite(G).all():
                return out.T, G
        except (ArithmeticError, ValueError):
            pass
        out, G = self._engine(Xt, P, seeds)
        return out.T, G

    def _engine(self, Xt: Any, P: Any, seeds: Any) -> tuple[Any, Any]:
        """The interpreted engine, sample by sample: raises its NumericalError, or returns
        what it computes."""
        p, net = self.program, self.network
        params = [float(v) for v in P]
        outs = np.empty((len(p.outputs), Xt.shape[1]))
        G = np.zeros(len(p.parameters))
        for s in range(Xt.shape[1]):
            vals = engine.evaluate(p, net.leaf_values([float(v) for v in Xt[:, s]], params))
            outs[:, s] = [vals[o] for o in p.outputs]
            if seeds is not None:
                seed_map: dict[int, float] = {}
                for o, w in zip(p.outputs, seeds[:, s]):
                    seed_map[o] = seed_map.get(o, 0.0) + float(w)
                adj = engine.backward(p, vals, seed_map)
                G += [adj[i] for i in p.parameters]
        return outs, G


def batched(network: Any) -> BatchedNetwork:
    """The network's :class:`BatchedNetwork`, built on first use and cached."""
    cached = network._compiled.get("numpy")
    if cached is None:
        cached = network._compiled["numpy"] = BatchedNetwork(network)
    return cached

