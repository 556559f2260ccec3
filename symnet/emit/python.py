"""Python emitter: straight-line source for the forward pass and the reverse-mode gradient.

One assignment per op node in topological order, then one per adjoint in reverse
order; every shared value is computed once and referred to by name. Each op is
written from its row's ``python`` / ``python_partials`` templates (or, where a row
has none, a call of the row's own kernels), so the generated code computes what
the interpreted engine computes, in the same order: an adjoint is the sum of its
parents' contributions in the order the engine accumulates them.

>>> import symnet as sn
>>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
>>> print(to_python(sn.compile(w * x + b).program))  # doctest: +ELLIPSIS
# symnet: generated code for a network with 1 input(s), 2 parameter(s), 2 op node(s).
<BLANKLINE>
def forward(inputs, params):
    ...
    x, = inputs
    w, b = params
    t1 = w * x
    yhat = t1 + b
    return (yhat,)
...
"""

from __future__ import annotations

import ast
import builtins
import keyword
import linecache
import math
import re
from typing import Any, Callable, Sequence

from .. import engine
from ..program import Program
from ..errors import GraphError
from ..ops import RUNTIME, Op

_FIXED = ("inputs", "params", "seeds", "rows", "acc")

__all__ = ["to_python", "accumulate_source", "op_counts", "codegen", "CompiledPython", "load", "register", "Namespace",
           "Writer", "runtime_globals"]

#: Sums with more terms are split over several statements (``d = d + ...``), which
#: keeps the evaluation order and the parser's nesting depth bounded.
CHUNK = 64
#: Ops with more operands are written as a call of the row's kernel (a flat tuple)
#: rather than its infix template, whose nesting grows with the operand count.
MAX_TEMPLATE_ARITY = 256
#: Partial templates longer than this many characters per operand (the n-ary
#: product's grow quadratically) are replaced by one call of the row's kernel.
PARTIAL_CHARS_PER_OPERAND = 48

_NUMBER = r"\d+(?:\.\d*)?(?:e[+-]?\d+)?"
_ATOM = re.compile(rf"(?:[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?|{_NUMBER}|\(-{_NUMBER}\))\Z")
_CALL = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\(")


def is_atom(src: str) -> bool:
    """True for a name, an indexed name, a number literal or a call (no parentheses needed).

    >>> is_atom("d_x"), is_atom("relu_grad(z)"), is_atom("f(a) + g(b)"), is_atom("1.0 - y")
    (True, True, False, False)
    """
    if _ATOM.match(src) is not None:
        return True
    head = _CALL.match(src)
    if head is None or not src.endswith(")"):
        return False
    depth = 0
    for k in range(head.end() - 1, len(src)):
        c = src[k]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return k == len(src) - 1
    return False


def paren(src: str) -> str:
    """``src`` in parentheses unless it is an atom.

    >>> paren("1.0 - y"), paren("y")
    ('(1.0 - y)', 'y')
    """
    return src if is_atom(src) else f"({src})"


def literal(value: float) -> str:
    """A float as exact Python source (``repr`` round-trips); negatives in parentheses.

    >>> literal(0.1), literal(-2.0), literal(1e-05)
    ('0.1', '(-2.0)', '1e-05')
    """
    text = repr(float(value))
    if not math.isfinite(value):
        raise GraphError(f"cannot write the non-finite constant {value!r} as code")
    return f"({text})" if text.startswith("-") else text


def kernel_name(op: Op) -> str:
    """The global name under which generated code reaches ``op``'s row."""
    return f"op_{op.name}"


class Namespace:
    """Identifiers handed out once each, avoiding reserved names (deterministic).

    >>> ns = Namespace({"exp"})
    >>> ns.claim("x"), ns.claim("exp"), ns.claim("x")
    ('x', 'exp_2', 'x_2')
    """

    def __init__(self, reserved: Sequence[str] | set[str] | frozenset[str] = ()) -> None:
        self.taken = set(reserved)

    def claim(self, base: str) -> str:
        """A fresh identifier: ``base`` itself if free, else ``base_2``, ``base_3`` ..."""
        if not base.isidentifier() or keyword.iskeyword(base):
            raise GraphError(f"{base!r} is not a valid Python identifier")
        name, k = base, 2
        while name in self.taken:
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name


def reserved_names(program: Program) -> set[str]:
    """Names generated code needs for itself: kernels, row handles, builtins, arguments."""
    rows = {kernel_name(op) for op in program.ops if op is not None}
    return set(RUNTIME) | rows | set(dir(builtins)) | set(_FIXED)


def runtime_globals(program: Program) -> dict[str, Any]:
    """The globals generated code runs with: the scalar kernels and the op rows.

    >>> import symnet as sn
    >>> env = runtime_globals(sn.compile(sn.Input("x").relu()).program)
    >>> env["relu"](-1.0), env["op_relu"].name
    (0.0, 'relu')
    """
    env: dict[str, Any] = {"__builtins__": builtins}
    env.update(RUNTIME)
    for op in program.ops:
        if op is not None:
            env[kernel_name(op)] = op
    return env


def sum_expr(terms: Sequence[str], head: str | None = None) -> str:
    """``head + t1 + t2 ...`` evaluated left to right; a term ``-a`` is written ``- a``."""
    parts = [] if head is None else [head]
    for t in terms:
        if not parts:
            parts.append(t)
        elif t.startswith("-"):
            parts.append(f"- {t[1:]}")
        else:
            parts.append(f"+ {t}")
    return " ".join(parts)


def sum_lines(target: str, terms: Sequence[str], indent: str) -> list[str]:
    """``target = t1 + t2 + ...`` as statements of at most CHUNK terms each, evaluated
    exactly like one long left-to-right sum.

    >>> sum_lines("d", ["a", "-b", "c * w"], "")
    ['d = a - b + c * w']
    """
    lines = []
    head = None
    for start in range(0, len(terms), CHUNK):
        lines.append(f"{indent}{target} = {sum_expr(terms[start:start + CHUNK], head)}")
        head = target
    return lines


def term(g: str, p: str) -> str:
    """The contribution ``g * p`` of a parent's adjoint ``g`` through local partial ``p``,
    simplified only where the result is exactly the same float (``1.0``, ``-1.0``).

    >>> term("d_z", "1.0"), term("d_z", "-1.0"), term("d_z", "1.0 - y * y"), term("1.0", "w")
    ('d_z', '-d_z', 'd_z * (1.0 - y * y)', 'w')
    """
    if p == "1.0":
        return g
    if p == "-1.0":
        return g[1:] if g.startswith("-") else f"-{g}"
    if g == "1.0":
        return paren(p)
    return f"{g} * {paren(p)}"


class Writer:
    """Writes the statements of one network's forward and reverse passes.

    ``values[i]`` is the source that refers to node ``i``'s value (its name, or a
    literal for constants). Subclasses (the batched backend) change how an op is
    written (:meth:`expression`, :meth:`partials`) and may take over nodes in the
    reverse walk (:meth:`special`).
    """

    def __init__(self, program: Program, names: Namespace, values: list[str], env: dict[str, Any]) -> None:
        self.p = program
        self.names = names
        self.values = values
        self.env = env
        self._attr_names: dict[int, str] = {}

    # -- forward -------------------------------------------------------------

    def attr(self, i: int) -> str:
        """Source for node ``i``'s attribute: a literal, or a global holding it."""
        a = self.p.attrs[i]
        if a is None or isinstance(a, (bool, int)) or (isinstance(a, float) and math.isfinite(a)):
            return literal(a) if isinstance(a, float) else repr(a)
        name = self._attr_names.get(i)
        if name is None:  # any other attribute travels as a global, never as text
            name = self._attr_names[i] = self.names.claim(f"attr_{self.p.names[i]}")
            self.env[name] = a
        return name

    def operands(self, i: int) -> list[str]:
        return [self.values[a] for a in self.p.args[i]]

    def expression(self, i: int, operands: Sequence[str] | None = None) -> str:
        """Node ``i``'s op written over ``operands`` (default: its children's values)."""
        op = self.p.ops[i]
        o = self.operands(i) if operands is None else list(operands)
        if op.python is not None and len(o) <= MAX_TEMPLATE_ARITY:
            return op.python(o, self.p.attrs[i])
        return f"{kernel_name(op)}.forward(({', '.join(o)},), {self.attr(i)})"

    def forward(self, indent: str) -> list[str]:
        vals = self.values
        return [f"{indent}{vals[i]} = {self.expression(i)}" for i in self.p.op_indices]

    # -- reverse ---------------------------------------------------------------

    def partials(self, i: int, out: list[str], indent: str, operands: Sequence[str] | None = None,
                 y: str | None = None) -> list[str]:
        """Node ``i``'s local partials as source, one per operand (statements they need
        go to ``out``)."""
        op = self.p.ops[i]
        o = self.operands(i) if operands is None else list(operands)
        y = self.values[i] if y is None else y
        if op.python_partials is not None:  # each partial is its own expression: no nesting
            ps = op.python_partials(o, y, self.p.attrs[i])
            if len(ps) == len(o) and sum(map(len, ps)) <= PARTIAL_CHARS_PER_OPERAND * len(o) + 64:
                return list(ps)
        tmp = self.names.claim(f"pd_{self.p.names[i]}")
        out.append(f"{indent}{tmp} = {kernel_name(op)}.partials(({', '.join(o)},), {y}, {self.attr(i)})")
        return [f"{tmp}[{k}]" for k in range(len(o))]

    def needs(self, wrt: Sequence[int]) -> bytearray:
        """1 for every node on a path to a node in ``wrt`` (only they need an adjoint)."""
        p = self.p
        need = bytearray(len(p.nodes))
        for i in wrt:
            need[i] = 1
        for i in p.op_indices:
            if not need[i]:
                for a in p.args[i]:
                    if need[a]:
                        need[i] = 1
                        break
        return need

    def special(self, i: int, out: list[str], need: bytearray, terms: list[list[str]]) -> bool:
        """Write node ``i``'s reverse step some other way; True if done (here: never)."""
        return False

    def adjoint(self, i: int, ts: list[str], out: list[str], indent: str) -> str:
        """The adjoint of node ``i`` from its terms: an atom as is, else a new variable."""
        if len(ts) == 1 and is_atom(ts[0]):
            return ts[0]
        g = self.names.claim(f"d_{self.p.names[i]}")
        out.extend(sum_lines(g, ts, indent))
        return g

    def reverse(self, wrt: Sequence[int], seeds: Sequence[str], indent: str,
                leaf_sink: Callable[[int, list[str], list[str]], None]) -> list[str]:
        """Adjoint statements in reverse topological order; wanted leaves go to ``leaf_sink``.

        Each node's adjoint is the sum of its terms, one per use, in the order in which
        the engine accumulates them (parents in reverse order, children left to right).
        """
        p = self.p
        need = self.needs(wrt)
        terms: list[list[str]] = [[] for _ in range(len(p.nodes))]
        for o, s in zip(p.outputs, seeds):
            terms[o].append(s)
        wanted = frozenset(wrt)
        out: list[str] = []
        ops, args = p.ops, p.args
        for i in range(len(p.nodes) - 1, -1, -1):
            if not need[i] or self.special(i, out, need, terms):
                continue
            ts = terms[i]
            terms[i] = []
            if ops[i] is None:
                if i in wanted:
                    leaf_sink(i, ts, out)
                continue
            if not ts:
                continue  # a zero adjoint contributes nothing (the engine skips it too)
            g = self.adjoint(i, ts, out, indent)
            kids = args[i]
            if not any(need[a] for a in kids):
                continue
            for a, pa in zip(kids, self.partials(i, out, indent)):
                if need[a]:
                    terms[a].append(term(g, pa))
        return out


def _setup(program: Program) -> tuple[Namespace, list[str], dict[str, Any]]:
    names = Namespace(reserved_names(program))
    values: list[str] = [""] * len(program.nodes)
    for i, kind in enumerate(program.kinds):
        if kind == "constant":
            values[i] = literal(program.values[i])
        else:
            label = program.names[i]
            if label is None:
                raise GraphError(f"node {i} ({node._describe()}) has no name; compile the network first")
            values[i] = names.claim(label)
    return names, values, runtime_globals(program)


def _unpack(targets: Sequence[str], source: str, indent: str) -> list[str]:
    if not targets:
        return []
    return [f"{indent}{', '.join(targets)}{',' if len(targets) == 1 else ''} = {source}"]


def _tuple(items: Sequence[str]) -> str:
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


def _header(program: Program) -> str:
    return (f"# symnet: generated code for a network with {len(program.inputs)} input(s), "
            f"{len(program.parameters)} parameter(s), {len(program.op_indices)} op node(s).\n")


def build(program: Program) -> tuple[str, dict[str, Any]]:
    """The source of ``forward`` and ``gradient`` and the globals it runs with."""
    names, values, env = _setup(program)
    w = Writer(program, names, values, env)
    ins = [values[i] for i in program.inputs]
    pars = [values[i] for i in program.parameters]
    outs = [values[o] for o in program.outputs]
    leaves = _unpack(ins, "inputs", "    ") + _unpack(pars, "params", "    ")
    fwd = w.forward("    ")
    lines = [_header(program), "def forward(inputs, params):",
             '    """The outputs for one sample: inputs and params are sequences of floats in the'
             ' network\'s order."""',
             *leaves, *fwd, f"    return {_tuple(outs)}", "", ""]

    seeds = [names.claim(f"seed_{program.names[o]}" if program.names[o] else f"seed_{k}")
             for k, o in enumerate(program.outputs, start=1)]
    wrt = list(program.parameters) + list(program.inputs)
    grads: dict[int, str] = {}

    def sink(i: int, ts: list[str], out: list[str]) -> None:
        if not ts:
            grads[i] = "0.0"
            return
        grads[i] = names.claim(f"d_{values[i]}")
        out.extend(sum_lines(grads[i], ts, "    "))

    rev = w.reverse(wrt, seeds, "    ", sink)
    lines += ["def gradient(inputs, params, seeds):",
              '    """The outputs, and d(sum_k seeds[k] * output_k) / d(each parameter, then each input)."""',
              *leaves, *fwd, *_unpack(seeds, "seeds", "    "), *rev,
              f"    return {_tuple(outs)}, {_tuple([grads[i] for i in wrt])}", ""]
    return "\n".join(lines), env


def to_python(program: Program) -> str:
    """The source of two functions for a compiled network (see the module docstring):

    * ``forward(inputs, params) -> outputs``;
    * ``gradient(inputs, params, seeds) -> (outputs, grads)``, ``grads`` being the
      derivatives of ``sum_k seeds[k] * output_k`` with respect to every parameter,
      then every input, in the network's order.

    The names it uses beyond the network's own are the kernels of
    :data:`symnet.ops.RUNTIME` and ``op_<name>`` for the op rows.
    """
    return build(program)[0]


def accumulate_source(program: Program) -> tuple[str, dict[str, Any]]:
    """Source of ``accumulate(rows, params, acc)`` for a scalar loss network (training).

    For every row (the inputs of one sample), it adds the loss and its gradient with
    respect to each parameter to the running sums ``acc = (loss, *grads)``, and returns
    the new sums: the same additions, in the same order, as the interpreted trainer.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> src, env = accumulate_source(sn.compile((w * x) ** 2).program)
    >>> load(src, env, "doc")["accumulate"]([(1.0,), (3.0,)], (2.0,), (0.0, 0.0))
    (40.0, 40.0)
    """
    if len(program.outputs) != 1:
        raise GraphError(f"a loss network has one output, this one has {len(program.outputs)}")
    names, values, env = _setup(program)
    w = Writer(program, names, values, env)
    ins = [values[i] for i in program.inputs]
    pars = [values[i] for i in program.parameters]
    total = names.claim("acc_loss")
    accs = [names.claim(f"acc_{values[i]}") for i in program.parameters]
    position = {i: k for k, i in enumerate(program.parameters)}
    ind = "        "

    def sink(i: int, ts: list[str], out: list[str]) -> None:
        if not ts:
            return
        acc = accs[position[i]]
        if len(ts) <= CHUNK:
            out.append(f"{ind}{acc} += {sum_expr(ts)}")
        else:
            tmp = names.claim(f"d_{values[i]}")
            out.extend(sum_lines(tmp, ts, ind))
            out.append(f"{ind}{acc} += {tmp}")

    rev = w.reverse(program.parameters, ["1.0"], ind, sink)
    row = names.claim("row") if not ins else None
    loop = f"    for {', '.join(ins)}{',' if len(ins) == 1 else ''} in rows:" if ins else f"    for {row} in rows:"
    lines = [_header(program), "def accumulate(rows, params, acc):",
             '    """Add each row\'s loss and parameter gradient to acc = (loss, *grads)."""',
             *_unpack(pars, "params", "    "), *_unpack([total, *accs], "acc", "    "),
             loop, *w.forward(ind), f"{ind}{total} += {values[program.outputs[0]]}", *rev,
             f"    return {_tuple([total, *accs])}", ""]
    return "\n".join(lines), env


_COUNTED = (ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Call, ast.Subscript, ast.AugAssign)


def count_ops(function: ast.AST) -> int:
    """Operations in a function's body: arithmetic, comparisons, conditionals, calls,
    indexing and augmented assignments (a negative number literal is no operation)."""
    n = 0
    for node in ast.walk(function):
        if isinstance(node, _COUNTED):
            n += 1
        elif isinstance(node, ast.UnaryOp) and not isinstance(node.operand, ast.Constant):
            n += 1
    return n


def op_counts(program: Program) -> dict[str, int]:
    """Operations in the generated ``forward`` and ``gradient`` (which includes the forward
    pass); unpacking arguments and building the returned tuples are not counted.

    >>> import symnet as sn
    >>> x, w, b = sn.Input("x"), sn.Parameter(name="w"), sn.Parameter(name="b")
    >>> op_counts(sn.compile((w * x + b).relu()).program)["forward"]
    3
    """
    tree = ast.parse(to_python(program))
    counts = {fn.name: count_ops(fn) for fn in tree.body if isinstance(fn, ast.FunctionDef)}
    return {"forward": counts["forward"], "gradient": counts["gradient"]}


# ---------------------------------------------------------------------------
# Compiled functions: the source run once, registered so tracebacks show it.

_counter = iter(range(1, 1 << 62))


def register(source: str, label: str) -> str:
    """A unique file name for generated ``source``, registered with :mod:`linecache` so
    that tracebacks through the generated code show its lines."""
    filename = f"<symnet-{label}-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return filename


def load(source: str, env: dict[str, Any], label: str, only: str | None = None) -> dict[str, Any]:
    """Run generated ``source`` in ``env`` under a registered file name (``env["__file__"]``).

    With ``only``, just that function is compiled (the rest of the source stays out
    of the compiler; line numbers are kept), which halves the cost for a big network
    when only its gradient is needed.
    """
    filename = env.get("__file__") or register(source, label)
    text = source
    if only is not None:
        start = source.index(f"\ndef {only}(") + 1
        end = source.find("\n\n\ndef ", start)
        text = "\n" * source.count("\n", 0, start) + source[start:None if end < 0 else end + 1]
    exec(compile(text, filename, "exec"), env)  # generated from op rows and validated names only
    env["__file__"] = filename
    return env


class CompiledPython:
    """A network's generated ``forward`` and ``gradient``, compiled once.

    The raw generated functions are :attr:`raw_forward` and :attr:`raw_gradient`; the
    methods here add the defaults (current parameter values, seed 1 for a scalar
    output) and the error behaviour of the engine: where the generated code fails
    (an overflow, a value outside an op's domain) or produces a non-finite number, the
    interpreted engine runs instead, so a failure is a
    :class:`~symnet.errors.NumericalError` naming the node, exactly as in the engine.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> fns = sn.compile(w * x * x).codegen()
    >>> fns.forward([3.0]), fns.gradient([3.0])
    ((18.0,), ((18.0,), (9.0, 12.0)))
    >>> fns.gradient_names
    ['w', 'x']
    """

    def __init__(self, network: Any) -> None:
        self.network = network
        self.program: Program = network.program
        self.source, self._env = build(self.program)
        self.filename: str = register(self.source, "python")
        self._env["__file__"] = self.filename
        p = self.program
        self.gradient_names: list[str] = [p.names[i] for i in p.parameters + p.inputs]

    def _function(self, name: str) -> Callable[..., Any]:
        fn = self._env.get(name)
        if fn is None:  # each function is compiled on first use
            fn = load(self.source, self._env, "python", only=name)[name]
        return fn

    @property
    def raw_forward(self) -> Callable[..., tuple[float, ...]]:
        """The generated ``forward(inputs, params)``, as it is."""
        return self._function("forward")

    @property
    def raw_gradient(self) -> Callable[..., tuple[tuple[float, ...], tuple[float, ...]]]:
        """The generated ``gradient(inputs, params, seeds)``, as it is."""
        return self._function("gradient")

    def _params(self, params: Sequence[float] | None) -> Sequence[float]:
        return self.network.parameter_values if params is None else params

    def _inputs(self, inputs: Any) -> Any:
        return inputs if isinstance(inputs, (list, tuple)) else self.network.input_values(inputs)

    def forward(self, inputs: Any, params: Sequence[float] | None = None) -> tuple[float, ...]:
        """The outputs (a tuple, one per output) for one sample."""
        params = self._params(params)
        try:
            out = self.raw_forward(self._inputs(inputs), params)
            if all(map(math.isfinite, out)):
                return out
        except (ArithmeticError, ValueError, TypeError):
            pass
        vals = engine.evaluate(self.program, self.network.leaf_values(inputs, params))
        return tuple(vals[o] for o in self.program.outputs)

    def gradient(self, inputs: Any, params: Sequence[float] | None = None,
                 seeds: Any = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(outputs, grads)`` for one sample; ``grads`` follow :attr:`gradient_names`
        (every parameter, then every input). ``seeds`` weight the outputs (default:
        1 for a scalar output; required for a vector output)."""
        params = self._params(params)
        seed_map = self.network._seeds(None, seeds)  # checks them as the engine does
        if seeds is None:
            seq: tuple[float, ...] = (1.0,)
        else:
            seq = tuple(float(s) for s in seeds) if self.program.vector else (float(seeds),)
        try:
            outs, grads = self.raw_gradient(self._inputs(inputs), params, seq)
            if all(map(math.isfinite, outs)) and all(map(math.isfinite, grads)):
                return outs, grads
        except (ArithmeticError, ValueError, TypeError):
            pass
        p = self.program
        vals = engine.evaluate(p, self.network.leaf_values(inputs, params))
        adj = engine.backward(p, vals, seed_map)
        return tuple(vals[o] for o in p.outputs), tuple(adj[i] for i in p.parameters + p.inputs)


def codegen(network: Any) -> CompiledPython:
    """The network's :class:`CompiledPython`, built on first use and cached.

    >>> import symnet as sn
    >>> net = sn.compile(sn.Input("x") * 3.0)
    >>> codegen(net) is codegen(net), codegen(net).forward([2.0])
    (True, (6.0,))
    """
    cached = network._compiled.get("python")
    if cached is None:
        cached = network._compiled["python"] = CompiledPython(network)
    return cached
