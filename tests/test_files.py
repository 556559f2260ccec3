"""Model files: bit-exact round trips, the hostile-file rows M1-M13 and the saving faults S1-S3."""

from __future__ import annotations

import errno
import json
import math
import os
import pathlib
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symnet as sn
from symnet import files
from symnet.errors import (
    ArityError,
    GraphCycleError,
    ModelFileError,
    NumericalError,
    SymnetError,
    UnknownOpError,
)

HEADER = '{"format": "symnet", "version": 1, '


def doc(nodes, outputs=(0,), **extra) -> str:
    body = {"format": "symnet", "version": 1, "nodes": nodes, "outputs": list(outputs), **extra}
    return json.dumps(body)


def bits(v: float) -> bytes:
    return struct.pack("<d", v)


def leaves(net):
    return [(n.kind, bits(n._value) if n._value is not None else None) for n in net.program.nodes if n.op is None]


def assert_same(a, b) -> None:
    pa, pb = a.program, b.program
    assert pa.names == pb.names
    assert pa.args == pb.args and pa.outputs == pb.outputs and pa.vector == pb.vector
    assert [o and o.name for o in pa.ops] == [o and o.name for o in pb.ops]
    assert [repr(x) for x in pa.attrs] == [repr(x) for x in pb.attrs]
    assert leaves(a) == leaves(b)
    assert [n.origin for n in pa.nodes] == [n.origin for n in pb.nodes]


# -- round trips ---------------------------------------------------------------


def test_round_trip_mlp_softmax(tmp_path):
    sn.seed(3)
    net = sn.compile(sn.MLP(3, [4, 3], activation="tanh", output_activation="softmax"))
    path = tmp_path / "m.json"
    sn.save(net, path)
    back = sn.load(path)
    assert_same(net, back)
    assert back.predict([0.1, -2.0, 3.0]) == net.predict([0.1, -2.0, 3.0])
    assert back.gradients([0.1, -2.0, 3.0], output=1) == net.gradients([0.1, -2.0, 3.0], output=1)
    # writing the loaded network again gives the same bytes
    sn.save(back, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_round_trip_awkward_floats_and_shared_nodes(tmp_path):
    x = sn.Input("x", 0.1)
    values = [0.1, -0.0, 5e-324, 1.7976931348623157e308, 1 / 3, -2.5e-300, 123456789.123456789]
    ps = [sn.Parameter(v, name=f"p{i}") for i, v in enumerate(values)]
    shared = ps[0] * x
    y = shared + shared * ps[4] + sn.Constant(-0.0) + ps[1] + ps[2] * ps[5] + ps[3] * 0.0 + ps[6] ** -1.5
    sn.save(y, tmp_path / "f.json")
    back = sn.load(tmp_path / "f.json")
    assert_same(y.compile(), back)
    by_name = {p.name: p.value for p in back.parameters}
    for i, v in enumerate(values):
        assert bits(by_name[f"p{i}"]) == bits(v)
    assert back.inputs[0].value == 0.1


def test_round_trip_keeps_names_hints_and_loss(tmp_path):
    x, t = sn.Input(), sn.Input("y")
    w = sn.Parameter(0.25)
    loss = sn.mse((w * x).sigmoid(), t)
    net = sn.compile(loss)
    sn.save(net, tmp_path / "l.json")
    back = sn.load(tmp_path / "l.json")
    assert back.program.names == net.program.names == ("w1", "x1", "t1", "yhat", "y", "t2", "L")
    recs = json.loads((tmp_path / "l.json").read_text())["nodes"]
    assert recs[:3] == [{"kind": "input", "hint": "x1"}, {"kind": "input", "name": "y"},
                        {"kind": "parameter", "hint": "w1", "value": 0.25}]
    assert {"kind": "input", "name": "y"} in recs


def test_save_a_node_list_and_custom_op(tmp_path):
    cube = sn.define_op("cube_files_test", 1, formula="a**3")
    x = sn.Input("x")
    sn.save([cube(x), x * 2], tmp_path / "v.json")
    back = sn.load(tmp_path / "v.json")
    assert back.predict([2.0]) == [8.0, 4.0]


def test_an_op_defined_by_callables_cannot_be_saved(tmp_path):
    cube = sn.define_op("cube_callable_files_test", 1, forward=lambda v: v ** 3, partials=lambda v: (3 * v * v,),
                        sympy=lambda e: e ** 3)
    with pytest.raises(sn.ModelFileError, match=r"op 'cube_callable_files_test' is defined by Python callables.*"
                                                 r"formula=") as info:
        sn.save(cube(sn.Input("x")), tmp_path / "c.json")
    assert "nothing was written" in str(info.value) and not (tmp_path / "c.json").exists()


def test_ops_defined_by_formula_load_in_a_fresh_process_and_clash_clearly(tmp_path):
    swish = sn.define_op("swish_files_test", 1, formula="a*sigmoid(a)")
    twice = sn.define_op("twice_files_test", 2, formula="swish_files_test(a) + 2*b")
    x, w = sn.Input("x", 0.3), sn.Parameter(0.7, name="w")
    y = twice(swish(w * x), x)
    path = tmp_path / "f.json"
    sn.save(y, path)
    script = (f"import symnet as sn; n = sn.load({str(path)!r}); "
              "print(n.funcify(), repr(n.predict([0.3])), repr(n.gradients([0.3])['w']))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=os.getcwd())
    net = y.compile()
    assert out.stdout.split() == ["twice_files_test(swish_files_test(w*x),", "x)", repr(net.predict([0.3])),
                                  repr(net.gradients([0.3])["w"])], out.stderr
    text = path.read_text().replace("a*sigmoid(a)", "a*tanh(a)")
    with pytest.raises(sn.ModelFileError, match="defines op 'swish_files_test' as 'a\\*tanh\\(a\\)'.*defined "
                                                "differently"):
        sn.files.loads(text)
    for bad, message in [('"ops": [{"name": "q"}]', "exactly the fields"),
                         ('"ops": [{"name": "qq", "arity": 1, "formula": "__import__(a)"}]', "unknown function"),
                         ('"ops": [{"name": "tanh", "arity": 1, "formula": "a"}]', "built-in op"),
                         ('"ops": 3', "expected a list")]:
        start = text.index('"ops": ')
        end = text.index("\n", start)
        broken = text[:start] + bad + "," + text[end:]
        with pytest.raises(sn.ModelFileError, match=message):
            sn.files.loads(broken)


def test_long_chain_round_trip(tmp_path):
    x = sn.Input("x")
    node = x
    for i in range(20_000):
        node = node * 0.5 if i % 2 else node + 1.0
    sn.save(node, tmp_path / "chain.json")
    back = sn.load(tmp_path / "chain.json")
    assert back.predict([1.0]) == node.compile().predict([1.0])


UNARY = ["neg", "exp", "tanh", "sigmoid", "relu"]
NARY = ["add", "mul", "sub"]
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=True)


@st.composite
def random_graph(draw):
    n_in = draw(st.integers(1, 3))
    nodes = [sn.Input(f"x{i}", draw(finite)) for i in range(n_in)]
    nodes += [sn.Parameter(draw(finite)) for _ in range(draw(st.integers(0, 3)))]
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["unary", "nary", "pow", "const"]))
        pick = st.sampled_from(nodes)
        if kind == "unary":
            nodes.append(sn.graph.Node.apply(draw(st.sampled_from(UNARY)), (draw(pick),)))
        elif kind == "nary":
            op = draw(st.sampled_from(NARY))
            k = 2 if op == "sub" else draw(st.integers(1, 3))
            nodes.append(sn.graph.Node.apply(op, tuple(draw(pick) for _ in range(k))))
        elif kind == "pow":
            nodes.append(draw(pick) ** draw(st.sampled_from([2.0, 3.0, -1.0, 0.5])))
        else:
            nodes.append(draw(pick) * sn.Constant(draw(finite)))
    roots = draw(st.lists(st.sampled_from(nodes[n_in:] or nodes), min_size=1, max_size=3))
    return roots[0] if len(roots) == 1 else sn.Output(roots)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_property_round_trip_is_bit_exact(root):
    net = sn.compile(root)
    text = files.dumps(net)
    back = files.loads(text)
    assert_same(net, back)
    assert files.dumps(back) == text
    try:
        expected = net.predict({n: v.value for n, v in zip(net.input_names, net.inputs)})
    except SymnetError:
        return
    got = back.predict({n: v.value for n, v in zip(back.input_names, back.inputs)})
    assert repr(got) == repr(expected)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
                 st.text(max_size=200).map(lambda s: (HEADER + s).encode("utf-8", "surrogatepass"))))
def test_fuzz_loader_only_loads_or_raises_symnet_error(data):
    try:
        files.loads(data, source="fuzz.json")
    except SymnetError:
        pass


# -- M1-M13: hostile and malformed files -------------------------------------------


def load_bytes(tmp_path, data: bytes | str, **kw):
    path = tmp_path / "model.json"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return sn.load(path, **kw)


# a classic pickle that would run os.system("touch ...") if anything unpickled it
PICKLE = b"\x80\x02cposix\nsystem\nq\x00X\x14\x00\x00\x00touch /tmp/symnet-pwnq\x01\x85q\x02Rq\x03."


@pytest.mark.parametrize("data", [PICKLE, b"", b"   ", b"[1, 2]", b'"symnet"', b"null", b"PK\x03\x04zip"])
def test_m1_not_a_model(tmp_path, data):
    with pytest.raises(ModelFileError, match="not a symnet model"):
        load_bytes(tmp_path, data)
    assert not os.path.exists("/tmp/symnet-pwn")


def test_m1_wrong_format_field(tmp_path):
    with pytest.raises(ModelFileError, match="not a symnet model"):
        load_bytes(tmp_path, '{"format": "keras", "version": 1}')


def test_m1_symnet_never_imports_pickle():
    root = pathlib.Path(sn.__file__).parent
    for path in root.rglob("*.py"):
        for line in path.read_text().splitlines():
            code = line.split("#")[0].split()
            assert not ({"pickle", "marshal", "shelve"} & set(code[1:2])), f"{path.name}: {line.strip()}"
    loader = pathlib.Path(files.__file__).read_text()
    for word in ("eval(", "exec(", "getattr(", "__import__(", "importlib"):
        assert word not in loader


def test_m2_truncated(tmp_path):
    sn.save(sn.MLP(2, [2, 1]), tmp_path / "good.json")
    good = (tmp_path / "good.json").read_bytes()
    for cut in (1, len(good) // 3, len(good) // 2, len(good) - 3):
        with pytest.raises(ModelFileError, match=r"invalid JSON at line \d+ column \d+.*truncated"):
            load_bytes(tmp_path, good[:cut])


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_m3_non_finite_values(tmp_path, token):
    text = HEADER + '"nodes": [{"kind": "parameter", "name": "w3", "value": %s}], "outputs": [0]}' % token
    with pytest.raises(ModelFileError, match=r"node 0 \(parameter 'w3'\) 'value': .* is not a finite number"):
        load_bytes(tmp_path, text)


def test_m3_non_finite_in_check_and_attr(tmp_path):
    nodes = [{"kind": "input", "name": "x"}, {"kind": "op", "op": "pow", "children": [0], "attr": 2.0}]
    text = doc(nodes, [1]).replace("2.0", "NaN")
    with pytest.raises(ModelFileError, match=r"node 1 \(op 'pow'\) 'attr'.*NaN"):
        load_bytes(tmp_path, text)


@pytest.mark.parametrize("text, where", [
    (HEADER + '"version": 1, "nodes": [], "outputs": []}', "'version'"),
    (HEADER + '"nodes": [{"kind": "parameter", "value": 1.0, "value": 2.0}], "outputs": [0]}', "'value'"),
])
def test_m4_duplicate_keys(tmp_path, text, where):
    with pytest.raises(ModelFileError, match=f"duplicate key {where}"):
        load_bytes(tmp_path, text)


def test_m4_duplicate_names(tmp_path):
    nodes = [{"kind": "parameter", "name": "w1", "value": 1.0}, {"kind": "parameter", "name": "w1", "value": 2.0},
             {"kind": "op", "op": "add", "children": [0, 1]}]
    with pytest.raises(ModelFileError, match="node 1: name 'w1' is already used by node 0"):
        load_bytes(tmp_path, doc(nodes, [2]))


@pytest.mark.parametrize("children, outputs, match", [
    ([0, 9], [1], r"node 1 \(op 'add'\): child 1 refers to unknown node 9"),
    ([0, -1], [1], "child 1 refers to unknown node -1"),
    ([0, "x"], [1], "child 1 refers to unknown node 'x'"),
    ([0, 0], [5], r"'outputs'\[0\]: refers to unknown node 5"),
])
def test_m5_dangling_references(tmp_path, children, outputs, match):
    nodes = [{"kind": "input", "name": "x"}, {"kind": "op", "op": "add", "children": children}]
    with pytest.raises(ModelFileError, match=match):
        load_bytes(tmp_path, doc(nodes, outputs))


def test_m6_cycles(tmp_path):
    nodes = [{"kind": "input", "name": "x"}, {"kind": "op", "op": "add", "children": [0, 2]},
             {"kind": "op", "op": "tanh", "children": [1]}]
    with pytest.raises(GraphCycleError, match=r"cycle: node 1 \(add\) -> node 2 \(tanh\) -> node 1"):
        load_bytes(tmp_path, doc(nodes, [2]))
    self_loop = [{"kind": "input", "name": "x"}, {"kind": "op", "op": "add", "children": [0, 1]}]
    with pytest.raises(GraphCycleError, match=r"node 1 \(add\) -> node 1"):
        load_bytes(tmp_path, doc(self_loop, [1]))


def test_m6_out_of_order_without_cycle(tmp_path):
    nodes = [{"kind": "op", "op": "tanh", "children": [1]}, {"kind": "input", "name": "x"}]
    with pytest.raises(ModelFileError, match="topological order"):
        load_bytes(tmp_path, doc(nodes, [0]))


@pytest.mark.parametrize("op, n, error", [
    ("add", 0, ArityError), ("sigmoid", 2, ArityError), ("sub", 3, ArityError),
    ("Eval", 1, UnknownOpError), ("__import__", 1, UnknownOpError), ("__class__", 1, UnknownOpError),
])
def test_m7_arity_and_unknown_ops(tmp_path, op, n, error):
    nodes = [{"kind": "input", "name": "x"}, {"kind": "op", "op": op, "children": [0] * n}]
    with pytest.raises(error, match=r"model\.json: node 1"):
        load_bytes(tmp_path, doc(nodes, [1]))


@pytest.mark.parametrize("attr, op, n", [(None, "pow", 1), (3, "softmax", 2), (1.0, "softmax", 2), ("2", "pow", 1),
                                         (-1, "softmax", 2), (True, "pow", 1)])
def test_m7_bad_attrs(tmp_path, attr, op, n):
    nodes = [{"kind": "input", "name": "x"}, {"kind": "op", "op": op, "children": [0] * n, "attr": attr}]
    with pytest.raises(ModelFileError, match=r"node 1 \(op "):
        load_bytes(tmp_path, doc(nodes, [1]))


def test_m8_deep_nesting_and_size_cap(tmp_path):
    with pytest.raises(ModelFileError, match="too deeply nested"):
        load_bytes(tmp_path, HEADER + '"nodes": ' + "[" * 100_000)
    with pytest.raises(ModelFileError, match="too deeply nested"):
        load_bytes(tmp_path, "{" + '"a":{' * 100_000)
    sn.save(sn.MLP(2, [3, 1]), tmp_path / "m.json")
    size = (tmp_path / "m.json").stat().st_size
    with pytest.raises(ModelFileError, match=f"file too large \\({size} bytes; the limit is 100"):
        sn.load(tmp_path / "m.json", max_bytes=100)
    assert sn.load(tmp_path / "m.json", max_bytes=size).n_outputs == 1


def test_m8_size_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:  # a sparse 1 GB file: nothing may read it
        fh.truncate(1 << 30)
    with pytest.raises(ModelFileError, match="file too large"):
        sn.load(path)


@pytest.mark.parametrize("version, match", [
    (None, "missing 'version'"), (99, "unsupported format version 99 .this symnet reads version 1"),
    ("1", "unsupported format version '1'"), (0, "version 0"), (1.0, "version 1.0"),
])
def test_m9_versions(tmp_path, version, match):
    body = {"format": "symnet", "nodes": [{"kind": "input", "name": "x"}], "outputs": [0]}
    if version is not None:
        body["version"] = version
    with pytest.raises(ModelFileError, match=match):
        load_bytes(tmp_path, json.dumps(body))


@pytest.mark.parametrize("name", ['__import__("os").getpid()', "a}\\input{x.tex}", "lambda", "_x", "", "x" * 65,
                                  "é", 7, None])
@pytest.mark.parametrize("field", ["name", "hint"])
def test_m10_invalid_names(tmp_path, name, field):
    nodes = [{"kind": "parameter", field: name, "value": 1.0}]
    with pytest.raises(ModelFileError, match=f"node 0: invalid {field}"):
        load_bytes(tmp_path, doc(nodes))


def test_m10_function_name_clash(tmp_path):
    nodes = [{"kind": "parameter", "name": "sigmoid", "value": 1.0}]
    with pytest.raises(ModelFileError, match="model.json: .*'sigmoid'"):
        load_bytes(tmp_path, doc(nodes))


@pytest.mark.parametrize("where", ["version", "value", "child", "output"])
def test_m11_huge_integers(tmp_path, where):
    big = "9" * 5000
    nodes = '[{"kind": "input", "name": "x"}, {"kind": "op", "op": "tanh", "children": [%s]}, ' \
            '{"kind": "parameter", "name": "w", "value": %s}]'
    text = '{"format": "symnet", "version": %s, "nodes": %s, "outputs": [%s]}' % (
        big if where == "version" else "1",
        nodes % (big if where == "child" else "0", big if where == "value" else "1"),
        big if where == "output" else "1")
    with pytest.raises(ModelFileError, match="5000-digit integer"):
        load_bytes(tmp_path, text)


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbf" + doc([{"kind": "input", "name": "x"}]).encode(),
    doc([{"kind": "input", "name": "x"}]).encode("utf-16"),
    doc([{"kind": "input", "name": "x"}]).encode("utf-16-le"),
    HEADER.encode() + b'"nodes": [{"kind": "input", "name": "x\xff"}], "outputs": [0]}',
])
def test_m12_not_utf8(tmp_path, data):
    with pytest.raises(ModelFileError, match="not UTF-8 JSON|not a symnet model"):
        load_bytes(tmp_path, data)


def test_m13_integrity_record(tmp_path):
    w = sn.Parameter(0.5, name="w")
    x = sn.Input("x")
    sn.save(w * x + 1.0, tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    assert '"check": {"at":{"x":0.5},"outputs":[1.25]}' in text
    tampered = text.replace('"value":0.5', '"value":0.75')
    with pytest.raises(ModelFileError, match=r"'check': stored output 0 is 1.25 but the network recomputes 1.375"):
        load_bytes(tmp_path, tampered)
    assert load_bytes(tmp_path, tampered, verify=False).parameters[0].value == 0.75


@pytest.mark.parametrize("text, match", [
    (doc([{"kind": "input", "name": "x", "extra": 1}]), "node 0: unknown field 'extra'"),
    (doc([{"kind": "macro"}]), "node 0: 'kind' must be one of"),
    (doc([{"kind": "parameter", "name": "w"}]), r"node 0 \(parameter 'w'\): missing 'value'"),
    (doc([{"kind": "parameter", "name": "w", "value": "1"}]), "'value': expected a number"),
    (doc([{"kind": "input", "name": "x", "children": [0]}]), "an input has no 'children'"),
    (doc([{"kind": "input", "name": "x"}, {"kind": "op", "op": "tanh", "children": [0], "value": 1.0}], [1]),
     "an op node has no 'value'"),
    (doc([{"kind": "input", "name": "x"}], [0, 0], vector=False), "needs \"vector\": true"),
    (doc([{"kind": "input", "name": "x"}], [0], bonus=1), "unknown field 'bonus'"),
    (doc([]), "'nodes': expected a non-empty list"),
    (doc([{"kind": "input", "name": "x"}], []), "'outputs': expected a non-empty list"),
    (doc([{"kind": "input", "name": "x", "origin": {"role": "sum", "layer": 0}}]), "'layer' must be a positive"),
    (doc([{"kind": "input", "name": "x"}], check={"at": {}, "outputs": [1.0]}), "'check': cannot recompute"),
])
def test_schema_errors_name_the_place(tmp_path, text, match):
    with pytest.raises(ModelFileError, match=match):
        load_bytes(tmp_path, text)


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read .*nope.json"):
        sn.load(tmp_path / "nope.json")
    with pytest.raises(ModelFileError, match="is a directory"):
        sn.load(tmp_path)


# -- S1-S3: saving never damages the previous file -------------------------------------


@pytest.fixture
def saved(tmp_path):
    w = sn.Parameter(0.5, name="w")
    node = w * sn.Input("x")
    path = tmp_path / "net.json"
    sn.save(node, path)
    return path, path.read_bytes(), w, node


def assert_untouched(path, before) -> None:
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("fault", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device"),
                                   PermissionError(errno.EACCES, "Permission denied")])
@pytest.mark.parametrize("where", ["replace", "fsync"])
def test_s1_interrupted_save_keeps_previous_file(saved, monkeypatch, fault, where):
    path, before, w, node = saved
    w.value = 0.75

    def boom(*args, **kwargs):
        raise fault

    monkeypatch.setattr(os, where, boom)
    expected = KeyboardInterrupt if isinstance(fault, KeyboardInterrupt) else ModelFileError
    with pytest.raises(expected) as info:
        sn.save(node, path)
    monkeypatch.undo()
    if expected is ModelFileError:
        assert str(path) in str(info.value)
    assert_untouched(path, before)


def test_s2_directory_or_missing_parent(tmp_path):
    node = sn.Input("x") * 2
    with pytest.raises(ModelFileError, match="is a directory"):
        sn.save(node, tmp_path)
    with pytest.raises(ModelFileError, match="does not exist"):
        sn.save(node, tmp_path / "missing" / "net.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_s3_refuses_non_finite(saved, bad):
    path, before, w, node = saved
    from symnet.graph import write_values

    write_values([w], [bad])  # as left by a write that bypassed the checks (write_values trusts its values)
    with pytest.raises(NumericalError, match=r"net.json: refusing to save non-finite parameter 'w' .*nothing was written"):
        sn.save(node, path)
    assert_untouched(path, before)


def test_save_rejects_non_models(tmp_path):
    with pytest.raises(SymnetError, match="save\\(\\) takes a Network"):
        sn.save("w*x", tmp_path / "a.json")
