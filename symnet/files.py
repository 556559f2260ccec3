"""Save and load networks as versioned JSON, exact to the last bit of every value.

A model file is one JSON object (UTF-8, no byte-order mark)::

    {
     "format": "symnet",               required, exactly this string
     "version": 1,                     required, the schema version (this module reads 1)
     "generator": "symnet 0.1.0",      optional, who wrote the file
     "ops": [{"name": "swish",         optional, the ops defined with define_op(...,
              "arity": 1,               formula=) that the nodes use, each after the
              "formula": "a*sigmoid(a)"}],  ops it calls; loading defines them
     "nodes": [ NODE, ... ],           required, non-empty, in topological order; the
                                       inputs and parameters keep their file order
     "outputs": [3],                   required, indices of the output node(s)
     "vector": false,                  optional, true for an Output (vector) network
     "check": {"at": {"x": 0.5},       optional integrity record: the outputs the writer
               "outputs": [1.75]}      computed at the point "at" (input name -> value)
    }

Every NODE is an object with these fields (no others)::

    "kind"      "input" | "parameter" | "constant" | "op"                  (required)
    "op"        op name, a key of the op table ``OPS``                     (op nodes)
    "children"  indices of earlier nodes, in order: every index is smaller
                than the node's own, so the file cannot describe a cycle   (op nodes)
    "attr"      the op's parameter: the exponent of "pow" (a float), the
                output index of "softmax" (a non-negative integer)        (op nodes, optional)
    "name"      a name the user gave                                       (optional)
    "hint"      the name symnet assigned to an unnamed input or parameter
                (``w1_2_1``, ``x1``); it keeps names stable on reload      (optional)
    "value"     a finite number: required for parameters and constants,
                optional for inputs, absent for op nodes
    "origin"    {"role": "sum", "layer": 1, "unit": 2}: where a macro or a
                loss built the node (layer structure for the printers)     (optional)

Floats are written with ``repr`` and read back ``==`` (bit for bit, ``-0.0``
included). Names follow :func:`symnet.graph.check_name`.

Reading is strict and executes nothing: the file is read as bytes with a size
cap (``MAX_FILE_BYTES``, 64 MB; pass ``max_bytes=`` to raise it), decoded as
strict UTF-8 and parsed by :mod:`json` with hooks that reject ``NaN``,
``Infinity``, out-of-range floats (``1e400``), integers longer than
``MAX_INT_DIGITS`` digits and duplicate keys. Ops are looked up in the op table
(a dict), never by attribute or ``eval``. Every failure is a
:class:`~symnet.errors.SymnetError` naming the file and the place:
``ModelFileError`` for a malformed file, ``UnknownOpError``, ``ArityError`` and
``GraphCycleError`` for a bad graph. Writes are atomic (see :mod:`symnet.fileio`).

>>> import os, tempfile, symnet as sn
>>> x, w = sn.Input("x"), sn.Parameter(0.1, name="w")
>>> path = os.path.join(tempfile.mkdtemp(), "net.json")
>>> sn.save(w * x + 1, path)
>>> net = sn.load(path)
>>> net.parameters[0].value == 0.1, net.predict({"x": 2.0})
(True, 1.2)
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from .network import compile as compile_graph
from .errors import InputError, ModelFileError, NumericalError, SymnetError, shown
from .fileio import atomic_write_bytes, check_path
from .files_read import FORMAT, MAX_FILE_BYTES, MAX_INT_DIGITS, VERSION, Decoder, parse_document, read_bytes
from .graph import Node
from .network import Network
from .userops import saved_ops
from .version import __version__

__all__ = ["save", "load", "dumps", "loads", "FORMAT", "VERSION", "MAX_FILE_BYTES", "MAX_INT_DIGITS"]

#: The point at which unvalued inputs are probed for the integrity record.
_PROBE = 0.5


# ---------------------------------------------------------------------------
# writing


def _as_network(model: Any) -> Network:
    if isinstance(model, Network):
        return model
    if isinstance(model, Node):
        return model.compile()
    if isinstance(model, (list, tuple)) and model and all(isinstance(m, Node) for m in model):
        return compile_graph(list(model))
    raise InputError(f"save() takes a Network, a node or a list of nodes, got {type(model).__name__}")


def _number_out(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelFileError(f"cannot save {what}: value {shown(value, 40)} is not a number")
    v = float(value)
    if not math.isfinite(v):
        raise NumericalError(f"refusing to save non-finite {what} (value {v!r})")
    return v


def _attr_out(attr: Any, what: str) -> int | float:
    if isinstance(attr, int) and not isinstance(attr, bool) and 0 <= attr and len(str(attr)) <= MAX_INT_DIGITS:
        return attr
    if isinstance(attr, float) and math.isfinite(attr):
        return attr
    raise ModelFileError(f"cannot save {what}: its attr {shown(attr, 40)} is not a finite float or a small "
                         "non-negative integer")


def _encode(net: Network) -> dict[str, Any]:
    p = net.program
    # Inputs and parameters first, in the network's order (so that a loaded network
    # orders them the same way), then constants and ops in the program's order.
    leaves = list(p.inputs + p.parameters)
    order = leaves + [i for i in range(len(p)) if p.kinds[i] not in ("input", "parameter")]
    position = {i: k for k, i in enumerate(order)}
    records: list[dict[str, Any]] = []
    for i in order:
        kind = p.kinds[i]
        rec: dict[str, Any] = {"kind": kind}
        label = f"{kind} '{p.names[i]}'" if p.names[i] else f"{kind} (node {i})"
        op = p.ops[i]
        if op is not None:
            rec["op"] = op.name
            rec["children"] = [position[a] for a in p.args[i]]
            if p.attrs[i] is not None:
                rec["attr"] = _attr_out(p.attrs[i], label)
        if p.given[i]:
            rec["name"] = p.names[i]
        elif kind in ("input", "parameter"):
            rec["hint"] = p.names[i]
        value = p.values[i]
        if op is None and (value is not None or kind != "input"):
            rec["value"] = _number_out(value, label)
        o = p.origins[i]
        if o is not None:
            rec["origin"] = {"role": o.role, "layer": o.layer, "unit": o.unit}
        records.append(rec)
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "generator": f"symnet {_version()}"}
    user_rows = list({row.name: row for row in p.ops if row is not None and not row.builtin}.values())
    if user_rows:  # ops defined by formula travel with the model
        doc["ops"] = saved_ops(user_rows, "cannot save the network")
    doc.update({"nodes": records, "outputs": [position[o] for o in p.outputs], "vector": p.vector})
    check = _integrity(net)
    if check is not None:
        doc["check"] = check
    return doc


def _version() -> str:
    return __version__


def _integrity(net: Network) -> dict[str, Any] | None:
    p = net.program
    at = {p.names[i]: (p.values[i] if p.values[i] is not None else _PROBE) for i in p.inputs}
    try:
        vals = net.forward_values(at)
    except (SymnetError, ArithmeticError, ValueError, TypeError):
        return None  # undefined at the probe point: no integrity record
    outs = [vals[i] for i in net.program.outputs]
    if not all(isinstance(v, float) and math.isfinite(v) for v in outs):
        return None
    return {"at": at, "outputs": outs}


def dumps(model: Any) -> str:
    """The model file's text for a network or node (one node per line).

    >>> import symnet as sn
    >>> print(sn.files.dumps(2 * sn.Input("x")), end="")
    {
     "format": "symnet",
     "version": 1,
     "generator": "symnet ...",
     "nodes": [
      {"kind":"input","name":"x"},
      {"kind":"constant","value":2.0},
      {"kind":"op","op":"mul","children":[1,0]}
     ],
     "outputs": [2],
     "vector": false,
     "check": {"at":{"x":0.5},"outputs":[1.0]}
    }
    """
    doc = _encode(_as_network(model))
    lines = ["{"]
    for key, value in doc.items():
        if key == "nodes":
            body = ",\n".join("  " + _json(rec) for rec in value)
            lines.append(f' "nodes": [\n{body}\n ],')
        else:
            lines.append(f" {_json(key)}: {_json(value)},")
    lines[-1] = lines[-1].rstrip(",")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _json(value: Any) -> str:
    # json writes floats with repr: they read back bit for bit; no spaces after ',' and
    # ':' keeps a node at about 40 bytes (a chain of 10**6 nodes is about 45 MB)
    return json.dumps(value, allow_nan=False, ensure_ascii=True, separators=(",", ":"))


def save(model: Any, path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> None:
    """Save a network (or a node, compiled on the fly) to ``path`` as a model file.

    The write is atomic: on any failure the previous file stays byte-identical.
    A file larger than ``max_bytes`` (by default ``MAX_FILE_BYTES``, the limit of
    :func:`load`) is refused, so that what ``save`` writes ``load`` reads back with
    the same settings; a node takes about 40 bytes (10**6 nodes: about 50 MB).
    Non-finite values are refused with :class:`~symnet.errors.NumericalError`
    naming the parameter, before anything is written.

    >>> import os, tempfile, symnet as sn
    >>> path = os.path.join(tempfile.mkdtemp(), "m.json")
    >>> sn.save(sn.Input("x").exp(), path)
    >>> sn.load(path).predict([0.0])
    1.0
    """
    target = check_path(path)
    limit = _max_bytes(max_bytes)
    try:
        text = dumps(model)
    except SymnetError as exc:
        raise type(exc)(f"{target}: {exc}; nothing was written") from None
    data = text.encode("utf-8")
    if len(data) > limit:
        raise ModelFileError(f"{target}: the model file would be {len(data)} bytes, over the {limit} bytes that "
                             "load() reads by default; pass max_bytes= to save() and to load(); nothing was written")
    atomic_write_bytes(target, data)


# ---------------------------------------------------------------------------
# reading (the strict reader lives in symnet.files_read)


def load(path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES, verify: bool = True) -> Network:
    """Load a network saved by :func:`save`.

    With ``verify=True`` a stored integrity record (outputs at a point) is
    recomputed and must agree. See the module docstring for the schema and errors.

    >>> import os, tempfile, symnet as sn
    >>> path = os.path.join(tempfile.mkdtemp(), "m.json")
    >>> sn.save(sn.MLP(2, [3, 1]), path)
    >>> sn.load(path).parameter_names[:3]
    ['w1_1_1', 'w1_1_2', 'b1_1']
    """
    source = check_path(path)
    limit = _max_bytes(max_bytes)
    if not isinstance(verify, bool):
        raise InputError(f"verify must be True or False, got {shown(verify, 40)}")
    return loads(read_bytes(source, limit), source=source, verify=verify)


def _max_bytes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"max_bytes must be a positive integer (a number of bytes), got {shown(value, 40)}")
    return value


def loads(data: bytes | str, *, source: str = "<string>", verify: bool = True) -> Network:
    """Load a network from the bytes (or text) of a model file; ``source`` names it in errors.

    >>> import symnet as sn
    >>> sn.files.loads('{"format": "symnet", "version": 1, "nodes": [{"kind": "input", "name": "x"}, '
    ...                '{"kind": "op", "op": "tanh", "children": [0]}], "outputs": [1]}').predict([0.0])
    0.0
    """
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, (str, bytes)):
        raise InputError(f"loads() takes the text or bytes of a model file, got {type(data).__name__}; "
                         "to read a file use sn.load(path)")
    if not isinstance(source, str):
        raise InputError(f"source must be a string, got {type(source).__name__}")
    doc = parse_document(data, source)
    return Decoder(doc, source).network(verify)
