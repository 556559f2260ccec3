"""Hostile inputs and faults, part 2: model files (M1-M13), saving and the command line
(S1-S5), one test per row of research/reliability.md part (b), plus fuzzing of the
loader (arbitrary bytes and text: success or a SymnetError, nothing else).
"""

from __future__ import annotations

import copy
import errno
import json
import math
import os
import pickle
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from randgraph import random_dag

import symnet as sn
import symnet.fileio
from symnet import files
from symnet.cli import main


def document():
    """A valid model file for ``w*x + b`` as a Python object."""
    return {
        "format": "symnet", "version": 1,
        "nodes": [
            {"kind": "input", "name": "x"},
            {"kind": "parameter", "name": "w", "value": 0.5},
            {"kind": "op", "op": "mul", "children": [1, 0]},
            {"kind": "parameter", "name": "w3", "value": 0.25},
            {"kind": "op", "op": "add", "children": [2, 3]},
        ],
        "outputs": [4],
    }


def text_of(doc):
    return json.dumps(doc)


def load_text(tmp_path, text, name="model.json", **options):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return sn.load(path, **options), path


def test_the_valid_document_loads(tmp_path):
    net, _ = load_text(tmp_path, text_of(document()))
    assert net.predict({"x": 2.0}) == 1.25


# -- M: loading model files -------------------------------------------------------------


class Sentinel:
    """Unpickling this would create a file: the proof that code ran."""

    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_m1_a_pickle_is_refused_and_never_unpickled(tmp_path):
    Sentinel.path = str(tmp_path / "PWNED")
    blob = pickle.dumps(Sentinel())
    for data in (blob, b"\x80\x04" + blob, b"[1, 2]", b"GIF89a", b""):
        with pytest.raises(sn.ModelFileError, match='not a symnet model.*"format": "symnet"'):
            load_text(tmp_path, data)
    assert not (tmp_path / "PWNED").exists()
    for path in sorted(os.listdir(os.path.dirname(files.__file__))):
        if path.endswith(".py"):
            source = open(os.path.join(os.path.dirname(files.__file__), path), encoding="utf-8").read()
            assert "import pickle" not in source and "from pickle" not in source, path


def test_m1_a_json_object_of_another_format_is_refused(tmp_path):
    with pytest.raises(sn.ModelFileError, match="not a symnet model"):
        load_text(tmp_path, '{"format": "keras", "version": 1}')


def test_m2_a_truncated_file_names_line_and_column(tmp_path):
    text = files.dumps(sn.MLP(2, [3, 1]))
    with pytest.raises(sn.ModelFileError) as info:
        load_text(tmp_path, text[: len(text) // 2], name="cut.json")
    message = str(info.value)
    assert "cut.json" in message and "invalid JSON at line" in message and "column" in message
    assert "truncated" in message


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_m3_non_finite_values_name_the_parameter(tmp_path, token):
    text = text_of(document()).replace('"value": 0.25', f'"value": {token}')
    with pytest.raises(sn.ModelFileError, match=rf"parameter 'w3'.*{token}.*not a finite number"):
        load_text(tmp_path, text)


@pytest.mark.parametrize("text, message", [
    ('{"format": "symnet", "format": "symnet", "version": 1, "nodes": [], "outputs": []}', "duplicate key 'format'"),
    (text_of(document()).replace('"name": "w3", "value": 0.25', '"name": "w3", "value": 0.25, "value": 9.0'),
     "duplicate key 'value'"),
])
def test_m4_duplicate_keys_are_refused(tmp_path, text, message):
    with pytest.raises(sn.ModelFileError, match=message):
        load_text(tmp_path, text)


def test_m4_duplicate_node_names_are_refused(tmp_path):
    doc = document()
    doc["nodes"][3]["name"] = "w"
    with pytest.raises(sn.ModelFileError, match="name 'w' is already used by node 1"):
        load_text(tmp_path, text_of(doc))


@pytest.mark.parametrize("children, message", [
    ([2, 9], r"node 4 \(op 'add'\): child 1 refers to unknown node 9"),
    ([2, -1], "child 1 refers to unknown node -1"),
    ([2, "q9"], "child 1 refers to unknown node 'q9'"),
    ([2, 3.0], "child 1 refers to unknown node 3.0"),
])
def test_m5_edges_to_missing_nodes_are_named(tmp_path, children, message):
    doc = document()
    doc["nodes"][4]["children"] = children
    with pytest.raises(sn.ModelFileError, match=message):
        load_text(tmp_path, text_of(doc))


@pytest.mark.parametrize("edit", [
    lambda nodes: nodes[2].update(children=[1, 4]),  # mul -> add -> mul
    lambda nodes: nodes[4].update(children=[4, 3]),  # a self-loop
])
def test_m6_cycles_are_found_and_shown(tmp_path, edit):
    doc = document()
    edit(doc["nodes"])
    with pytest.raises(sn.GraphCycleError, match=r"cycle: node \d .* -> node \d"):
        load_text(tmp_path, text_of(doc))


@pytest.mark.parametrize("edit, error, message", [
    (lambda n: n[4].update(children=[2]), None, "add"),  # n-ary add with 1 child is allowed
    (lambda n: n.append({"kind": "op", "op": "sigmoid", "children": [2, 3]}), sn.ArityError,
     r"node 5 \(op 'sigmoid'\).*takes 1 child, got 2"),
    (lambda n: n.append({"kind": "op", "op": "sub", "children": [2]}), sn.ArityError, "takes 2 children"),
    (lambda n: n.append({"kind": "op", "op": "Eval", "children": [2]}), sn.UnknownOpError, "unknown op 'Eval'"),
    (lambda n: n.append({"kind": "op", "op": "__import__", "children": [2]}), sn.UnknownOpError,
     "unknown op '__import__'"),
    (lambda n: n.append({"kind": "op", "op": "__class__", "children": []}), sn.UnknownOpError, "unknown op"),
])
def test_m7_arity_and_unknown_ops(tmp_path, edit, error, message):
    doc = document()
    edit(doc["nodes"])
    if error is None:
        net, _ = load_text(tmp_path, text_of(doc))
        assert net.predict({"x": 2.0}) == 1.0
        return
    with pytest.raises(error, match=message):
        load_text(tmp_path, text_of(doc))


def test_m8_deeply_nested_json_is_refused(tmp_path):
    for depth in (100_000, 1_000_000):
        text = '{"format": "symnet", "version": 1, "nodes": ' + "[" * depth + "]" * depth + ', "outputs": [0]}'
        with pytest.raises(sn.ModelFileError) as info:
            load_text(tmp_path, text)
        assert "nested" in str(info.value) or "'nodes'" in str(info.value)


def test_m8_large_files_are_refused_before_reading(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:  # a sparse file: no disk space used
        fh.write(b"{")
        fh.truncate(files.MAX_FILE_BYTES + 1)
    with pytest.raises(sn.ModelFileError, match=r"huge.json: file too large.*max_bytes="):
        sn.load(path)
    small = tmp_path / "small.json"
    small.write_text(text_of(document()))
    with pytest.raises(sn.ModelFileError, match="limit is 100"):
        sn.load(small, max_bytes=100)
    assert sn.load(small, max_bytes=10_000).predict({"x": 0.0}) == 0.25


@pytest.mark.parametrize("version, message", [
    (None, "missing 'version'.*reads version 1"),
    (99, "unsupported format version 99 .this symnet reads version 1"),
    ("1", "unsupported format version '1'"),
    (1.0, "unsupported format version 1.0"),
    (0, "unsupported format version 0"),
])
def test_m9_missing_or_future_versions(tmp_path, version, message):
    doc = document()
    if version is None:
        del doc["version"]
    else:
        doc["version"] = version
    with pytest.raises(sn.ModelFileError, match=message):
        load_text(tmp_path, text_of(doc))


@pytest.mark.parametrize("name", ['__import__("os").getpid()', "a}\\input{x.tex}", "lambda", "_private", "x y",
                                  "", "é", "x" * 65, 7, None])
@pytest.mark.parametrize("field", ["name", "hint"])
def test_m10_names_carrying_code_or_tex_are_refused(tmp_path, name, field):
    doc = document()
    del doc["nodes"][0]["name"]
    doc["nodes"][0][field] = name
    with pytest.raises(sn.ModelFileError, match=rf"node 0.*invalid {field}"):
        load_text(tmp_path, text_of(doc))


@pytest.mark.parametrize("where", ["value", "version", "child", "attr"])
def test_m11_huge_integers_are_refused(tmp_path, where):
    big = "1" * 5000
    doc = document()
    marker = "987654321.5"
    if where == "value":
        doc["nodes"][3]["value"] = float(marker)
    elif where == "version":
        doc["version"] = float(marker)
    elif where == "child":
        doc["nodes"][4]["children"] = [2, float(marker)]
    else:
        doc["nodes"].append({"kind": "op", "op": "pow", "children": [4], "attr": float(marker)})
    with pytest.raises(sn.ModelFileError, match="5000-digit integer"):
        load_text(tmp_path, text_of(doc).replace(marker, big))


@pytest.mark.parametrize("data, message", [
    (b"\xef\xbb\xbf" + text_of(document()).encode(), "not UTF-8 JSON.*byte-order mark"),
    (text_of(document()).encode("utf-16"), "not UTF-8 JSON"),
    (text_of(document()).encode("utf-16-le"), "not UTF-8 JSON"),
    (text_of(document()).replace('"x"', '"\u00ff"').encode("latin-1"), "not UTF-8 JSON.*invalid byte"),
])
def test_m12_wrong_encodings_are_refused(tmp_path, data, message):
    with pytest.raises(sn.ModelFileError, match=message):
        load_text(tmp_path, data)


def test_m13_stored_values_are_checked_against_a_recompute(tmp_path):
    path = tmp_path / "m.json"
    sn.save(sn.Parameter(0.5, name="w") * sn.Input("x"), path)
    doc = json.loads(path.read_text())
    assert "check" in doc
    doc["nodes"][[n.get("name") for n in doc["nodes"]].index("w")]["value"] = 0.75  # edited by hand
    path.write_text(json.dumps(doc))
    with pytest.raises(sn.ModelFileError, match=r"stored output 0 is .* but the network recomputes"):
        sn.load(path)
    assert sn.load(path, verify=False).parameters[0].value == 0.75


@settings(deadline=None, derandomize=True, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_fuzz_arbitrary_bytes_load_or_raise_a_symnet_error(data):
    try:
        files.loads(data)
    except sn.SymnetError:
        pass


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-3, 12), st.floats(allow_nan=False),
                      st.text(max_size=8), st.sampled_from(["add", "mul", "tanh", "pow", "softmax", "input", "op"]))


@settings(deadline=None, derandomize=True, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_structured_documents_load_or_raise_a_symnet_error(data):
    # start from a valid file and damage one place with arbitrary JSON
    doc = copy.deepcopy(document())
    node = data.draw(st.integers(0, len(doc["nodes"]) - 1))
    key = data.draw(st.sampled_from(["kind", "op", "children", "attr", "name", "hint", "value", "origin", "junk"]))
    value = data.draw(st.one_of(JSON_LEAF, st.lists(JSON_LEAF, max_size=3),
                                st.dictionaries(st.text(max_size=5), JSON_LEAF, max_size=3)))
    doc["nodes"][node][key] = value
    try:
        net = files.loads(json.dumps(doc))
    except sn.SymnetError:
        return
    assert isinstance(net, sn.Network)


# -- S: saving and the command line ---------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    """A model file holding a good network, and its bytes."""
    path = tmp_path / "net.json"
    sn.save(sn.Parameter(0.5, name="w") * sn.Input("x") + 1.0, path)
    return path, path.read_bytes()


def _leftovers(folder, keep):
    return sorted(p for p in os.listdir(folder) if p != keep)


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
@pytest.mark.parametrize("fault", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device"),
                                   PermissionError(errno.EACCES, "Permission denied")],
                         ids=["interrupt", "ENOSPC", "EACCES"])
def test_s1_an_interrupted_save_leaves_the_previous_file(monkeypatch, saved, where, fault):
    path, before = saved

    def boom(*args, **kwargs):
        raise fault

    if where == "write":
        real_fdopen = os.fdopen

        class Failing:
            def __init__(self, fh):
                self.fh = fh

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.fh.close()

            def write(self, data):
                self.fh.write(data[: len(data) // 2])
                raise fault

            def __getattr__(self, name):
                return getattr(self.fh, name)

        monkeypatch.setattr(symnet.fileio.os, "fdopen", lambda *a, **k: Failing(real_fdopen(*a, **k)))
    elif where == "fsync":
        monkeypatch.setattr(symnet.fileio.os, "fsync", boom)
    else:
        monkeypatch.setattr(symnet.fileio.os, "replace", boom)

    other = sn.Parameter(7.0, name="v") * sn.Input("x")
    expected = KeyboardInterrupt if isinstance(fault, KeyboardInterrupt) else sn.ModelFileError
    with pytest.raises(expected) as info:
        sn.save(other, path)
    if expected is sn.ModelFileError:
        assert str(path) in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(path.parent, path.name) == []  # the temporary file is gone
    assert sn.load(path).predict({"x": 2.0}) == 2.0


def test_s1_an_interrupted_report_write_exits_2_and_keeps_the_old_file(monkeypatch, tmp_path, capsys):
    model = tmp_path / "net.json"
    sn.save(sn.Parameter(0.5, name="w") * sn.Input("x"), model)
    out = tmp_path / "report.tex"
    out.write_text("previous report\n")
    monkeypatch.setattr(symnet.fileio.os, "replace",
                        lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    code = main(["report", str(model), "--at", "x=1", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err and str(out) in err
    assert out.read_text() == "previous report\n"
    assert _leftovers(tmp_path, "report.tex") == ["net.json"]


def test_s2_a_directory_or_a_missing_folder_is_refused(tmp_path):
    model = sn.Parameter(0.5, name="w") * sn.Input("x")
    folder = tmp_path / "dir.json"
    folder.mkdir()
    with pytest.raises(sn.ModelFileError, match="dir.json.*is a directory"):
        sn.save(model, folder)
    with pytest.raises(sn.ModelFileError, match="missing.*does not exist"):
        sn.save(model, tmp_path / "missing" / "net.json")
    assert sorted(os.listdir(tmp_path)) == ["dir.json"]
    assert os.listdir(folder) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_s3_a_non_finite_network_is_never_saved(saved, bad):
    path, before = saved
    w2 = sn.Parameter(0.5, name="w2")
    model = w2 * sn.Input("x")
    w2._value = bad  # what diverged training would leave without the engine's guards
    with pytest.raises(sn.NumericalError, match="'w2'") as info:
        sn.save(model, path)
    assert "nothing was written" in str(info.value)
    assert path.read_bytes() == before
    assert _leftovers(path.parent, path.name) == []


SPECIAL_FLOATS = [0.1, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1 / 3, -2.5e-17, 123456789.123]


@pytest.mark.parametrize("value", SPECIAL_FLOATS)
def test_s4_floats_round_trip_bit_for_bit(tmp_path, value):
    path = tmp_path / "f.json"
    w = sn.Parameter(value, name="w")
    sn.save(w * sn.Input("x") + sn.Constant(value), path)
    net = sn.load(path)
    assert struct.pack("<d", net.parameters[0].value) == struct.pack("<d", value)
    constants = [n.value for n in net.program.nodes if n.kind == "constant"]
    assert [struct.pack("<d", c) for c in constants] == [struct.pack("<d", value)]


@settings(deadline=None, derandomize=True, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_s4_random_networks_round_trip_exactly(data):
    dag = random_dag(data.draw)
    net = sn.compile(dag.root)
    inputs = {name: dag.inputs[name] for name in net.input_names}
    text = files.dumps(net)
    back = files.loads(text)
    assert files.dumps(back) == text  # same topology, names and values
    assert back.input_names == net.input_names and back.parameter_names == net.parameter_names
    assert struct.pack("<d", back.predict(inputs)) == struct.pack("<d", net.predict(inputs))
    g1, g2 = net.gradients(inputs), back.gradients(inputs)
    assert list(g1) == list(g2)
    assert all(struct.pack("<d", g1[k]) == struct.pack("<d", g2[k]) for k in g1)


@pytest.mark.parametrize("argv", [
    [], ["nonsense"], ["formula"], ["check", "x", "--points", "many"], ["formula", "m.json", "--digits", "99"],
    ["grad", "m.json"],
])
def test_s5_usage_errors_exit_2_with_a_usage_message(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err


def test_s5_missing_and_unreadable_files_exit_2_with_one_line(tmp_path, capsys):
    unreadable = tmp_path / "locked.json"
    unreadable.write_text("{}")
    unreadable.chmod(0)
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x80\x04garbage")
    cases = [str(tmp_path / "missing.json"), str(garbage), str(tmp_path)]
    if not os.access(unreadable, os.R_OK):  # root can read anything
        cases.append(str(unreadable))
    for model in cases:
        assert main(["formula", model]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_s5_debug_shows_the_traceback(tmp_path, capsys):
    assert main(["formula", str(tmp_path / "missing.json"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
