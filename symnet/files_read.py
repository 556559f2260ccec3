"""Reading model files: strict JSON hooks, the schema check and the graph builder (see :mod:`symnet.files`)."""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

from .network import compile as compile_graph
from .fileio import read_regular_file
from .errors import GraphCycleError, ModelFileError, SymnetError, UnknownOpError, shown
from .graph import Constant, Input, Node, Origin, Output, Parameter, check_name
from .network import Network
from .userops import ensure_formula_op
from .ops import OPS

__all__ = ["read_bytes", "parse_document", "Decoder", "FORMAT", "VERSION", "MAX_FILE_BYTES", "MAX_INT_DIGITS"]

FORMAT = "symnet"
VERSION = 1
#: Files larger than this are refused before they are read (``load(..., max_bytes=...)``).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Integers with more digits than this are refused (indices, versions and attrs are small).
MAX_INT_DIGITS = 18

_KINDS = ("input", "parameter", "constant", "op")
_TOP_FIELDS = ("format", "version", "generator", "ops", "nodes", "outputs", "vector", "check")
_OP_FIELDS = ("name", "arity", "formula")
_NODE_FIELDS = ("kind", "op", "children", "attr", "name", "hint", "value", "origin")
_ORIGIN_FIELDS = ("role", "layer", "unit")


class _Bad:
    """A number the reader refuses (NaN, Infinity, 1e400, a huge integer), kept as a
    marker so that the schema check can say where it was."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token


def _parse_float(s: str) -> Any:
    v = float(s)
    return v if math.isfinite(v) else _Bad(s if len(s) <= 24 else s[:20] + "...")


def _parse_int(s: str) -> Any:
    digits = len(s) - (s[0] == "-")
    if digits > MAX_INT_DIGITS:
        return _Bad(f"a {digits}-digit integer")
    return int(s)


def _parse_constant(s: str) -> Any:
    return _Bad(s)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ModelFileError(f"duplicate key {shown(key, 60)} in a JSON object")
        out[key] = value
    return out


def read_bytes(path: str, max_bytes: int) -> bytes:
    """The bytes of ``path``, refusing files over ``max_bytes`` before reading them and
    anything that is not a regular file (see :func:`symnet.fileio.read_regular_file`).

    >>> read_bytes("/nonexistent/m.json", 100)
    Traceback (most recent call last):
    ...
    symnet.errors.ModelFileError: cannot read /nonexistent/m.json: No such file or directory
    """
    return read_regular_file(path, max_bytes)


def parse_document(data: bytes | str, source: str) -> Any:
    """The JSON document in ``data``: strict UTF-8, finite numbers, no duplicate keys.

    >>> parse_document(b'{"a": 1, "a": 2}', "m.json")
    Traceback (most recent call last):
    ...
    symnet.errors.ModelFileError: m.json: duplicate key 'a' in a JSON object
    """
    if isinstance(data, str):
        text = data
    else:
        if data[:3] == b"\xef\xbb\xbf" or data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ModelFileError(f"{source}: file is not UTF-8 JSON (it starts with a byte-order mark)")
        head = data.lstrip(b" \t\r\n")[:1]
        if head != b"{":
            raise ModelFileError(f'{source}: not a symnet model (expected a JSON object with "format": "symnet")')
        if b"\x00" in data:
            raise ModelFileError(f"{source}: file is not UTF-8 JSON (it holds NUL bytes: UTF-16 or binary?)")
        try:
            text = data.decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"{source}: file is not UTF-8 JSON (invalid byte at offset {exc.start})") from None
    if text.lstrip(" \t\r\n")[:1] != "{":
        raise ModelFileError(f'{source}: not a symnet model (expected a JSON object with "format": "symnet")')
    try:
        return json.loads(text, parse_float=_parse_float, parse_int=_parse_int,
                          parse_constant=_parse_constant, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        end = len(text.rstrip())
        cut = exc.pos >= end or exc.msg.startswith("Unterminated") or not text[:end].endswith("}")
        hint = " (truncated file?)" if cut else ""
        raise ModelFileError(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
    except ModelFileError as exc:
        raise ModelFileError(f"{source}: {exc}") from None
    except (RecursionError, MemoryError):
        raise ModelFileError(f"{source}: file too large or too deeply nested") from None
    except ValueError as exc:  # e.g. an integer the hooks could not see
        raise ModelFileError(f"{source}: invalid JSON: {exc}") from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Decoder:
    """Validates a parsed model document and builds its graph (one pass, no recursion).

    >>> doc = parse_document('{"format": "symnet", "version": 1, "nodes": [{"kind": "input"}], "outputs": [0]}', "m")
    >>> Decoder(doc, "m.json").network(verify=True).input_names
    ['x1']
    """

    def __init__(self, doc: Any, source: str) -> None:
        self.doc = doc
        self.source = source

    def fail(self, where: str, msg: str) -> ModelFileError:
        return ModelFileError(f"{self.source}: {where}: {msg}" if where else f"{self.source}: {msg}")

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, _Bad):
            raise self.fail(where, f"{value.token} is not a finite number")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where, f"expected a number, got {_describe(value)}")
        return float(value)

    def header(self) -> tuple[list[Any], list[int], bool]:
        doc = self.doc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise self.fail("", 'not a symnet model (expected a JSON object with "format": "symnet")')
        if "version" not in doc:
            raise self.fail("", f"missing 'version' (this symnet reads version {VERSION})")
        version = doc["version"]
        if not _is_int(version) or version != VERSION:
            text = version.token if isinstance(version, _Bad) else shown(version)
            raise self.fail("", f"unsupported format version {text:.40} (this symnet reads version {VERSION})")
        unknown = [k for k in doc if k not in _TOP_FIELDS]
        if unknown:
            raise self.fail("", f"unknown field {shown(unknown[0], 60)} (fields are {', '.join(_TOP_FIELDS)})")
        if "generator" in doc and not isinstance(doc["generator"], str):
            raise self.fail("'generator'", "expected a string")
        nodes = doc.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            raise self.fail("'nodes'", "expected a non-empty list of nodes")
        outputs = doc.get("outputs")
        if not isinstance(outputs, list) or not outputs:
            raise self.fail("'outputs'", "expected a non-empty list of node indices")
        for k, o in enumerate(outputs):
            if not _is_int(o) or not 0 <= o < len(nodes):
                raise self.fail(f"'outputs'[{k}]", f"refers to unknown node {_describe(o)} (the file has {len(nodes)} nodes)")
        vector = doc.get("vector", len(outputs) > 1)
        if not isinstance(vector, bool):
            raise self.fail("'vector'", "expected true or false")
        if not vector and len(outputs) != 1:
            raise self.fail("'outputs'", "a network with several outputs needs \"vector\": true")
        return nodes, outputs, vector

    def network(self, verify: bool) -> Network:
        nodes, outputs, vector = self.header()
        self.user_ops()
        specs = [self.node_spec(i, rec, len(nodes)) for i, rec in enumerate(nodes)]
        self.check_order(specs)
        built: list[Node] = []
        names: dict[str, int] = {}
        for i, spec in enumerate(specs):
            name = spec.get("name")
            if name is not None:
                if name in names:
                    raise self.fail(f"node {i}", f"name '{name}' is already used by node {names[name]}")
                names[name] = i
            built.append(self.build(i, spec, built))
        root: Any = Output([built[o] for o in outputs]) if vector else built[outputs[0]]
        try:
            net = compile_graph(root)
        except SymnetError as exc:
            raise ModelFileError(f"{self.source}: {exc}") from None
        if verify and "check" in self.doc:
            self.verify(net)
        return net

    def user_ops(self) -> None:
        """Define the ops the file carries by formula (read by the safe parser; nothing runs)."""
        ops = self.doc.get("ops", [])
        if not isinstance(ops, list):
            raise self.fail("'ops'", f"expected a list of ops, got {_describe(ops)}")
        for k, rec in enumerate(ops):
            where = f"'ops'[{k}]"
            if not isinstance(rec, dict) or sorted(rec) != sorted(_OP_FIELDS):
                raise self.fail(where, f"expected an object with exactly the fields {', '.join(_OP_FIELDS)}")
            if not _is_int(rec["arity"]):
                raise self.fail(where, f"arity must be an integer, got {_describe(rec['arity'])}")
            try:
                ensure_formula_op(rec["name"], rec["arity"], rec["formula"], where)
            except SymnetError as exc:
                raise ModelFileError(f"{self.source}: {exc}") from None

    def node_spec(self, i: int, rec: Any, n: int) -> dict[str, Any]:
        where = f"node {i}"
        if not isinstance(rec, dict):
            raise self.fail(where, f"expected an object, got {_describe(rec)}")
        unknown = [k for k in rec if k not in _NODE_FIELDS]
        if unknown:
            raise self.fail(where, f"unknown field {shown(unknown[0], 60)} (fields are {', '.join(_NODE_FIELDS)})")
        kind = rec.get("kind")
        if kind not in _KINDS:
            raise self.fail(where, f"'kind' must be one of {', '.join(_KINDS)}, got {_describe(kind)}")
        spec: dict[str, Any] = {"kind": kind}
        for field in ("name", "hint"):
            if field in rec:
                try:
                    spec[field] = check_name(rec[field], field)
                except SymnetError as exc:
                    raise self.fail(where, str(exc)) from None
        if "hint" in rec and (kind not in ("input", "parameter") or "name" in rec):
            raise self.fail(where, "'hint' is only for unnamed inputs and parameters")
        what = f"op {shown(rec['op'], 30)}" if kind == "op" and isinstance(rec.get("op"), str) else kind
        label = f"{where} ({what} '{spec['name']}')" if "name" in spec else f"{where} ({what})"
        if kind == "op":
            self.op_spec(i, rec, n, spec, label)
        else:
            for field in ("op", "children", "attr"):
                if field in rec:
                    raise self.fail(label, f"{'an' if kind == 'input' else 'a'} {kind} has no '{field}'")
            if "value" in rec:
                spec["value"] = self.number(rec["value"], f"{label} 'value'")
            elif kind != "input":
                raise self.fail(label, "missing 'value'")
        if "origin" in rec:
            spec["origin"] = self.origin(rec["origin"], f"{label} 'origin'")
        return spec

    def op_spec(self, i: int, rec: dict[str, Any], n: int, spec: dict[str, Any], label: str) -> None:
        if "value" in rec:
            raise self.fail(label, "an op node has no 'value' (it is computed)")
        op = rec.get("op")
        if not isinstance(op, str):
            raise self.fail(label, f"'op' must be an op name, got {_describe(op)}")
        row = OPS.get(op)
        if row is None:
            raise UnknownOpError(f"{self.source}: {label}: unknown op {shown(op, 60)}; known ops: {', '.join(sorted(OPS))}")
        children = rec.get("children")
        if not isinstance(children, list):
            raise self.fail(label, f"'children' must be a list of node indices, got {_describe(children)}")
        for k, c in enumerate(children):
            if not _is_int(c) or not 0 <= c < n:
                raise self.fail(label, f"child {k} refers to unknown node {_describe(c)} (the file has {n} nodes)")
        row.check_arity(len(children), f"{self.source}: {label}")  # ArityError naming the node
        attr = rec.get("attr")
        if attr is not None:
            if isinstance(attr, _Bad) or not (_is_int(attr) and attr >= 0 or isinstance(attr, float)):
                raise self.fail(f"{label} 'attr'", f"expected a finite float or a non-negative integer, got {_describe(attr)}")
        if row.builtin:
            # probe the row with in-domain values: a wrong attr (a missing exponent, an
            # index out of range) fails here, not later in the engine
            try:
                row.forward((1.0,) * len(children), attr)
            except (TypeError, IndexError, KeyError, ValueError, ArithmeticError):
                raise self.fail(label, f"attr {_describe(attr)} is not valid for op '{op}'") from None
        elif attr is not None:
            raise self.fail(label, f"op '{op}' takes no 'attr'")
        spec.update(op=op, children=children, attr=attr)

    def origin(self, rec: Any, where: str) -> Origin:
        if not isinstance(rec, dict) or any(k not in _ORIGIN_FIELDS for k in rec):
            raise self.fail(where, 'expected {"role": ..., "layer": ..., "unit": ...}')
        role = rec.get("role")
        if not isinstance(role, str) or not role.isidentifier() or not role.isascii() or len(role) > 32:
            raise self.fail(where, f"'role' must be a short identifier, got {_describe(role)}")
        layer, unit = rec.get("layer"), rec.get("unit")
        for field, v in (("layer", layer), ("unit", unit)):
            if v is not None and not (_is_int(v) and v >= 1):
                raise self.fail(where, f"'{field}' must be a positive integer or null, got {_describe(v)}")
        return Origin(role, layer, unit)

    def check_order(self, specs: Sequence[dict[str, Any]]) -> None:
        """Children must come before their parents; otherwise find a cycle (iteratively)."""
        late = [(i, c) for i, s in enumerate(specs) for c in s.get("children", ()) if c >= i]
        if not late:
            return
        state = [0] * len(specs)  # 0 new, 1 on the stack, 2 done
        for start in range(len(specs)):
            if state[start]:
                continue
            stack: list[list[int]] = [[start, 0]]
            state[start] = 1
            while stack:
                top = stack[-1]
                node, k = top
                kids = specs[node].get("children", ())
                if k < len(kids):
                    top[1] = k + 1
                    c = kids[k]
                    if state[c] == 1:
                        path = [s[0] for s in stack]
                        cycle = path[path.index(c):] + [c]
                        path_text = " -> ".join(f"node {j} ({specs[j].get('op', specs[j]['kind'])})" for j in cycle[:12])
                        raise GraphCycleError(f"{self.source}: cycle: {path_text}{' ...' if len(cycle) > 12 else ''}")
                    if state[c] == 0:
                        state[c] = 1
                        stack.append([c, 0])
                else:
                    state[node] = 2
                    stack.pop()
        i, c = late[0]
        raise self.fail(f"node {i}", f"child node {c} comes after it; nodes must be in topological order")

    def build(self, i: int, spec: dict[str, Any], built: Sequence[Node]) -> Node:
        kind, name = spec["kind"], spec.get("name")
        try:
            if kind == "op":
                node = Node.apply(spec["op"], tuple(built[c] for c in spec["children"]), attr=spec["attr"], name=name)
            elif kind == "input":
                node = Input(name, spec.get("value"))
            elif kind == "parameter":
                node = Parameter(spec["value"], name=name)
            else:
                node = Constant(spec["value"], name=name)
        except SymnetError as exc:
            raise self.fail(f"node {i}", str(exc)) from None
        if "hint" in spec:
            node.hint = spec["hint"]
        if "origin" in spec:
            node.origin = spec["origin"]
        return node

    def verify(self, net: Network) -> None:
        check = self.doc["check"]
        if not isinstance(check, dict) or set(check) != {"at", "outputs"} or not isinstance(check["at"], dict) \
                or not isinstance(check["outputs"], list):
            raise self.fail("'check'", 'expected {"at": {input: value}, "outputs": [value, ...]}')
        at = {k: self.number(v, f"'check' 'at' {shown(k, 40)}") for k, v in check["at"].items()}
        stored = [self.number(v, f"'check' 'outputs'[{k}]") for k, v in enumerate(check["outputs"])]
        try:
            vals = net.forward_values(at)
        except SymnetError as exc:
            raise self.fail("'check'", f"cannot recompute the stored outputs: {exc}") from None
        got = [vals[i] for i in net.program.outputs]
        if len(got) != len(stored):
            raise self.fail("'check'", f"{len(stored)} stored output(s) for {len(got)} output(s)")
        for k, (s, g) in enumerate(zip(stored, got)):
            if not math.isclose(s, g, rel_tol=1e-9, abs_tol=1e-12):
                raise self.fail("'check'", f"stored output {k} is {s!r} but the network recomputes {g!r} "
                                f"at {at}; the file's values were changed or damaged (load with verify=False to "
                                "skip this check)")


def _describe(value: Any) -> str:
    if isinstance(value, _Bad):
        return value.token
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    if value is None:
        return "null"
    return f"{shown(value, 40)}"
