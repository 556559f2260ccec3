"""Python source generation: straight-line code for the forward pass and the reverse-mode gradient.

One assignment per op node in topological order, then one per adjoint in reverse
order; every shared value is computed once and referred to by name. Each op is
written from its row's ``python`` / ``python_partials`` forms, or, where a row has
none, as a call of the row's own ``forward`` / ``partials``. Kernels are bound by
object: a form writes ``bind(math.tanh)``, which puts that function into the
generated code's globals under a fresh name and returns the name, so a new row
needs no entry in any table. :func:`to_python` adds the source of every bound
object (:mod:`symnet.emit.python_kernels`), so its module runs on its own.

The generated code computes what the interpreted engine computes, in the same
order: an adjoint is the sum of its parents' contributions in the order the engine
accumulates them.

>>> import symnet as sn
>>> x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.25, name="b")
>>> print(function_source(sn.compile(w * x + b).program))  # doctest: +ELLIPSIS
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
import math
import re
from typing import Any, Callable, Sequence

from ..program import Program
from ..errors import GraphError
from .python_guard import GLOBALS, python_guard

__all__ = ["to_python", "function_source", "build", "op_counts", "Namespace", "Binder", "Writer", "CHUNK",
           "literal", "is_atom", "paren", "sum_expr", "sum_lines", "term", "reserved_names", "setup"]

_FIXED = ("inputs", "params", "seeds", "rows", "acc")

#: Sums with more terms are split over several statements (``d = d + ...``), which
#: keeps the evaluation order and the parser's nesting depth bounded.
CHUNK = 64
#: Ops with more operands are written as a call of the row's kernel (a flat tuple)
#: rather than its infix form, whose nesting grows with the operand count.
MAX_TEMPLATE_ARITY = 256
#: Partial forms longer than this many characters per operand (the n-ary
#: product's grow quadratically) are replaced by one call of the row's kernel.
PARTIAL_CHARS_PER_OPERAND = 48

_NUMBER = r"\d+(?:\.\d*)?(?:e[+-]?\d+)?"
_ATOM = re.compile(rf"(?:[A-Za-z_][A-Za-z0-9_]*(?:\[[^\[\]]+\])?|{_NUMBER}|\(-{_NUMBER}\))\Z")
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


class Binder:
    """Binds objects (kernels, op rows, attributes) into generated code by object.

    ``binder(obj)`` returns the name ``obj`` has in the generated code's globals,
    claiming a fresh one (from the object's ``__name__``, or ``base``) the first time;
    ``swap`` replaces objects on the way in (the NumPy backend binds each row's array
    kernels in place of its scalar ones). ``bound`` lists ``(name, object)`` in order.

    >>> import math
    >>> env = {}
    >>> bind = Binder(Namespace({"x"}), env)
    >>> bind(math.tanh), bind(math.tanh), env["tanh"] is math.tanh
    ('tanh', 'tanh', True)
    """

    def __init__(self, names: Namespace, env: dict[str, Any],
                 swap: Callable[[Any], Any] | None = None) -> None:
        self.names = names
        self.env = env
        self.swap = swap
        self.bound: list[tuple[str, Any]] = []
        self._by_id: dict[int, str] = {}

    def __call__(self, obj: Any, base: str | None = None) -> str:
        if self.swap is not None:
            obj = self.swap(obj)
        name = self._by_id.get(id(obj))
        if name is None:
            stem = base or getattr(obj, "__name__", "") or "kernel"
            if not stem.isidentifier() or keyword.iskeyword(stem):
                stem = "kernel"  # a lambda's "<lambda>"
            name = self._by_id[id(obj)] = self.names.claim(stem)
            self.env[name] = obj
            self.bound.append((name, obj))
        return name


def reserved_names() -> set[str]:
    """Names generated code needs for itself: builtins, its arguments, and the globals
    of a standalone module's guard (:data:`symnet.emit.python_guard.GLOBALS`)."""
    return set(dir(builtins)) | set(_FIXED) | set(GLOBALS)


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
    literal for constants); ``bind`` binds kernels and rows by object. Subclasses
    (the batched backend) change how an op is written (:meth:`expression`,
    :meth:`partials`) and may take over nodes in the reverse walk (:meth:`special`).
    """

    def __init__(self, program: Program, names: Namespace, values: list[str], bind: Binder) -> None:
        self.p = program
        self.names = names
        self.values = values
        self.bind = bind

    # -- forward -------------------------------------------------------------

    def attr(self, i: int) -> str:
        """Source for node ``i``'s attribute: a literal, or a bound global holding it."""
        a = self.p.attrs[i]
        if a is None or isinstance(a, (bool, int)) or (isinstance(a, float) and math.isfinite(a)):
            return literal(a) if isinstance(a, float) else repr(a)
        return self.bind(a, f"attr_{self.label(i)}")  # never written as text

    def label(self, i: int) -> str:
        """The stem of the names the code gives node ``i`` (its value, adjoint, partials)."""
        return self.p.names[i] or f"node{i}"

    def row(self, i: int) -> str:
        """The name of node ``i``'s op row in the generated code."""
        op = self.p.ops[i]
        return self.bind(op, f"op_{op.name}")

    def operands(self, i: int) -> list[str]:
        return [self.values[a] for a in self.p.args[i]]

    def expression(self, i: int, operands: Sequence[str] | None = None) -> str:
        """Node ``i``'s op written over ``operands`` (default: its children's values)."""
        op = self.p.ops[i]
        o = self.operands(i) if operands is None else list(operands)
        if op.python is not None and len(o) <= MAX_TEMPLATE_ARITY:
            return op.python(o, self.p.attrs[i], self.bind)
        return f"{self.row(i)}.forward(({', '.join(o)},), {self.attr(i)})"

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
            ps = op.python_partials(o, y, self.p.attrs[i], self.bind)
            if len(ps) == len(o) and sum(map(len, ps)) <= PARTIAL_CHARS_PER_OPERAND * len(o) + 64:
                return list(ps)
        tmp = self.names.claim(f"pd_{self.label(i)}")
        out.append(f"{indent}{tmp} = {self.row(i)}.partials(({', '.join(o)},), {y}, {self.attr(i)})")
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
        g = self.names.claim(f"d_{self.label(i)}")
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


def setup(program: Program, reserved: set[str] | None = None) -> tuple[Namespace, list[str], Binder]:
    """A namespace, the value source of every node (names, constants as literals) and a binder."""
    names = Namespace(reserved_names() if reserved is None else reserved)
    values: list[str] = [""] * len(program.nodes)
    for i, kind in enumerate(program.kinds):
        if kind == "constant":
            values[i] = literal(program.values[i])
        else:
            label = program.names[i]
            if label is None:
                raise GraphError(f"node {i} ({program.nodes[i]._describe()}) has no name; compile the network first")
            values[i] = names.claim(label)
    env: dict[str, Any] = {"__builtins__": builtins}
    return names, values, Binder(names, env)


def unpack(targets: Sequence[str], source: str, indent: str) -> list[str]:
    if not targets:
        return []
    return [f"{indent}{', '.join(targets)}{',' if len(targets) == 1 else ''} = {source}"]


def tuple_source(items: Sequence[str]) -> str:
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


def header(program: Program, what: str = "generated code") -> str:
    return (f"# symnet: {what} for a network with {len(program.inputs)} input(s), "
            f"{len(program.parameters)} parameter(s), {len(program.op_indices)} op node(s).\n")


def build(program: Program, prefix: str = "") -> tuple[str, Binder]:
    """The source of ``forward`` and ``gradient`` (named with ``prefix`` in front) and the
    binder holding their globals."""
    names, values, bind = setup(program)
    w = Writer(program, names, values, bind)
    ins = [values[i] for i in program.inputs]
    pars = [values[i] for i in program.parameters]
    outs = [values[o] for o in program.outputs]
    leaves = unpack(ins, "inputs", "    ") + unpack(pars, "params", "    ")
    fwd = w.forward("    ")
    doc = not prefix  # a standalone module documents its checked functions instead
    lines = [f"def {prefix}forward(inputs, params):",
             *['    """The outputs for one sample: inputs and params are sequences of floats in the'
               ' network\'s order."""'] * doc,
             *leaves, *fwd, f"    return {tuple_source(outs)}", "", ""]

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
    default = "=(1.0,)" if len(program.outputs) == 1 else ""
    lines += [f"def {prefix}gradient(inputs, params, seeds{default}):",
              *['    """The outputs, and d(sum_k seeds[k] * output_k) / d(each parameter, then each input)."""'] * doc,
              *leaves, *fwd, *unpack(seeds, "seeds", "    "), *rev,
              f"    return {tuple_source(outs)}, {tuple_source([grads[i] for i in wrt])}", ""]
    return "\n".join(lines), bind


def function_source(program: Program) -> str:
    """Only the two generated functions (what :class:`~symnet.emit.python_load.CompiledPython`
    runs, with its kernels bound by object)."""
    return build(program)[0]


def to_python(program: Program) -> str:
    """A standalone module for a compiled network (imports included; symnet is not needed):

    * ``forward(inputs, params) -> outputs`` (a tuple, one per output);
    * ``gradient(inputs, params, seeds=None) -> (outputs, grads)``, ``grads`` being the
      derivatives of ``sum_k seeds[k] * output_k`` with respect to every parameter,
      then every input, in the network's order (``parameter_names + input_names``).
      ``seeds`` defaults to 1 for a scalar output and is required for a vector output.

    ``inputs`` and ``params`` are sequences of numbers (or dicts by name); the module's
    ``INPUT_NAMES``, ``PARAMETER_NAMES`` and ``OUTPUT_NAMES`` give the order. Both
    functions check their arguments and raise ``InputError`` naming a bad one, and
    ``NumericalError`` naming the variable and line where a value overflows or leaves
    an op's domain: symnet's classes when symnet is installed, the module's own
    otherwise (see :mod:`symnet.emit.python_guard`). The unchecked generated functions
    are ``_sn_forward`` and ``_sn_gradient``.

    The kernels the code calls are written out in front of it. Raises
    :class:`~symnet.errors.GraphError` naming the op when one of its kernels has no
    source that can stand alone (a ``define_op`` closure over an object that cannot be
    written as source); :meth:`~symnet.network.Network.codegen` runs such code in
    process.

    >>> import symnet as sn
    >>> x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    >>> env = {}
    >>> exec(to_python(sn.compile((w * x).tanh()).program), env)
    >>> env["gradient"]([0.5], [2.0])[1] == sn.compile((w * x).tanh()).codegen().gradient([0.5])[1]
    True
    >>> env["forward"]([0.5], {"v": 2.0})
    Traceback (most recent call last):
    ...
    symnet.errors.InputError: parameters: unknown name(s) ['v'], missing ['w']; expected ['w']
    """
    from .python_kernels import prelude

    source, bind = build(program, "_sn_")
    p = program
    guard = python_guard([p.names[i] for i in p.inputs], [p.names[i] for i in p.parameters],
                         [p.names[i] or f"output {k}" for k, i in enumerate(p.outputs)])
    return f"{header(program)}{prelude(bind.bound)}\n\n\n{guard}\n\n{source}"


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
    tree = ast.parse(function_source(program))
    counts = {fn.name: count_ops(fn) for fn in tree.body if isinstance(fn, ast.FunctionDef)}
    return {"forward": counts["forward"], "gradient": counts["gradient"]}
