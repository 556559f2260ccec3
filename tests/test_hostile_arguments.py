"""Issue 16, kind 1: arguments are checked where they enter; no raw Python exception
(OverflowError, TypeError, ValueError, AttributeError) escapes a public entry point."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symnet as sn
from symnet import files
from hostile import HOSTILE, contained

BIG = 10**400


def _net():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    return sn.compile(w * x + 1.0)


# -- the examples of the issue -------------------------------------------------------


@pytest.mark.parametrize("build", [
    lambda: sn.Input("x", BIG),
    lambda: sn.Parameter(BIG),
    lambda: sn.Input("x") * BIG,
    lambda: BIG + sn.Input("x"),
    lambda: sn.Input("x") ** BIG,
    lambda: sn.Constant(-BIG),
], ids=["Input", "Parameter", "mul", "radd", "pow", "Constant"])
def test_huge_integers_are_refused_where_they_enter(build):
    with pytest.raises(sn.InputError, match=r"too large for a float"):
        build()


def test_predict_and_training_refuse_huge_integers():
    net = _net()
    with pytest.raises(sn.InputError, match="input 'x'.*too large for a float"):
        net.predict([BIG])
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    with pytest.raises(sn.InputError, match="lr: .*too large for a float"):
        sn.train_model(w * x, "mse", [([1.0], 1.0)], lr=BIG)
    with pytest.raises(sn.InputError, match="target: .*too large"):
        sn.train_model(w * x, "mse", [([1.0], BIG)], engine="interpreted")
    assert w.value == 0.5


@pytest.mark.parametrize("path", [123, None, "a\x00.json", b"m.json", 1.5, ["m.json"], ""])
def test_load_refuses_a_path_that_is_not_a_file_name(path):
    with pytest.raises(sn.InputError, match="path"):
        sn.load(path)


@pytest.mark.parametrize("path", [123, b"path", None, "a\x00b.json"])
def test_save_refuses_a_path_that_is_not_a_file_name(path, tmp_path):
    with pytest.raises(sn.InputError, match="path"):
        sn.save(_net(), path)


@pytest.mark.parametrize("data", [123, None, 1.5, ["{}"], object()])
def test_loads_refuses_what_is_not_text_or_bytes(data):
    with pytest.raises(sn.InputError, match="loads\\(\\) takes the text or bytes"):
        files.loads(data)


def test_loads_reads_any_bytes_like_object():
    text = files.dumps(_net())
    for data in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
        assert files.loads(data).predict([2.0]) == 2.0
    with pytest.raises(sn.ModelFileError, match="not a symnet model"):
        files.loads(memoryview(b"[1, 2]"))


@pytest.mark.parametrize("max_bytes", ["10", 0, -5, 1.5, None, True])
def test_load_refuses_a_bad_max_bytes(max_bytes, tmp_path):
    sn.save(_net(), tmp_path / "m.json")
    with pytest.raises(sn.InputError, match="max_bytes must be a positive integer"):
        sn.load(tmp_path / "m.json", max_bytes=max_bytes)
    with pytest.raises(sn.InputError, match="verify must be True or False"):
        sn.load(tmp_path / "m.json", verify="no")


def test_gradients_refuse_a_bad_seed_or_output():
    net = _net()
    with pytest.raises(sn.InputError, match="seed 0 .*expected a real number, got str 'abc'"):
        net.gradients([1.0], seed="abc")
    with pytest.raises(sn.InputError, match="output must be an integer index"):
        net.gradients([1.0], output="a")
    with pytest.raises(sn.InputError, match="seed 0 .*too large"):
        net.gradients([1.0], seed=BIG)


@pytest.mark.parametrize("forward, partials, message", [
    (lambda x: None, lambda x: (1.0,), "forward returned NoneType None, expected a real number"),
    (lambda x: 1j, lambda x: (1.0,), "forward returned complex 1j"),
    (lambda x: "1.0", lambda x: (1.0,), "forward returned str"),
    (lambda x: x, lambda x: 1.0, "partials must return a tuple of 1 number.*got float 1.0"),
    (lambda x: x, lambda x: None, "partials must return a tuple of 1 number.*got NoneType"),
    (lambda x: x, lambda x: (None,), "partial 0 returned NoneType"),
    (lambda x: x, lambda x: (1j,), "partial 0 returned complex"),
    (lambda x: x + "a", lambda x: (1.0,), "forward raised TypeError"),
])
def test_define_op_results_of_the_wrong_type_name_the_node(forward, partials, message):
    name = f"hostile_op_{abs(hash(message)) % 10**8}"
    ctor = sn.define_op(name, 1, forward=forward, partials=partials, sympy=lambda e: e)
    try:
        x = sn.Input("x", 2.0)
        y = ctor(x, name="u")
        with pytest.raises(sn.NumericalError, match=rf"at node 'u' \({name}\) with inputs x=2.0: .*{message}"):
            sn.compile(y).gradients([2.0])
        with pytest.raises(sn.NumericalError, match=message):
            y.backward()
    finally:
        sn.OPS.pop(name, None)


@pytest.mark.parametrize("engine", ["interpreted", "python", "auto"])
@pytest.mark.parametrize("bad", ["abc", None, 1j, [1.0], BIG])
def test_a_loss_pair_returning_a_non_number_is_refused(engine, bad):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    pair = (lambda p, t: bad, lambda p, t: 2 * (p - t))
    with pytest.raises(sn.InputError, match="loss_fn\\(prediction, target\\) returned"):
        sn.train_model(w * x, pair, [([1.0], 1.0)], epochs=2, engine=engine)
    assert w.value == 0.5


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "symnet", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_cli_refuses_a_5000_digit_target(loss):
    big = "9" * 5000
    proc = _cli("verify", "w*x", "--inputs", "x", "--wrt", "w", "--claim", "x", "--loss", loss, "--target", big)
    assert proc.returncode == 2
    assert "internal error" not in proc.stderr and "--target" in proc.stderr


# -- more of the same kind -------------------------------------------------------------


def test_set_parameters_and_names_refuse_bad_values():
    net = _net()
    with pytest.raises(sn.InputError, match="parameter 'w'.*too large"):
        net.set_parameters([BIG])
    with pytest.raises(sn.InputError, match="parameter values must be a list or a dict"):
        net.set_parameters("w")
    with pytest.raises(sn.NameConflictError):
        sn.Parameter(0.5, name=123)
    with pytest.raises(sn.InputError, match="engine must be one of"):
        sn.train_model(_net(), "mse", [([1.0], 1.0)], engine=None)


# -- hypothesis: random wrong arguments for every public entry point ----------------------

_NET = _net()


_TMP = tempfile.mkdtemp(prefix="symnet-hostile-")


def _inside(v):
    """A path drawn as text, kept inside a temporary folder (never written elsewhere)."""
    if isinstance(v, str) and v and "\x00" not in v:
        return os.path.join(_TMP, v.replace("/", "_").replace(os.sep, "_"))
    return v


def _huge(v):
    return isinstance(v, int) and abs(v) > 1000 or isinstance(v, (list, tuple)) and any(_huge(u) for u in v)

_X = sn.Input("hx", 1.0)

ENTRY_POINTS = {
    "Input value": lambda v: sn.Input("x", v),
    "Input name": lambda v: sn.Input(v),
    "Parameter value": lambda v: sn.Parameter(v),
    "Parameter name": lambda v: sn.Parameter(0.5, name=v),
    "Constant": lambda v: sn.Constant(v),
    "add": lambda v: _X + v,
    "rsub": lambda v: v - _X,
    "mul": lambda v: _X * v,
    "div": lambda v: _X / v,
    "pow": lambda v: _X ** v,
    "Add": lambda v: sn.Add([_X, v]),
    "value=": lambda v: setattr(sn.Input("x"), "value", v),
    "predict": lambda v: _NET.predict(v),
    "predict [v]": lambda v: _NET.predict([v]),
    "predict {x: v}": lambda v: _NET.predict({"x": v}),
    "gradients": lambda v: _NET.gradients(v),
    "gradients seed": lambda v: _NET.gradients([1.0], seed=v),
    "gradients output": lambda v: _NET.gradients([1.0], output=v),
    "set_parameters": lambda v: _net().set_parameters(v),
    "set_parameters dict": lambda v: _net().set_parameters({"w": v}),
    "backward seed": lambda v: (sn.Input("x", 1.0) * 2.0).backward(seed=v),
    "mse target": lambda v: sn.mse(_X, v),
    "bce target": lambda v: sn.bce(_X.sigmoid(), v),
    "cross_entropy target": lambda v: sn.cross_entropy(sn.Softmax([_X, _X * 2.0]), v),
    # (a huge layer size is a huge model, not a wrong argument: sizes are drawn below 1000)
    "MLP sizes": lambda v: sn.MLP(2, v) if not _huge(v) else None,
    "MLP inputs": lambda v: sn.MLP(v, [1]) if not _huge(v) else None,
    "compile": lambda v: sn.compile(v),
    "save path": lambda v: sn.save(_NET, _inside(v)),
    "save model": lambda v: sn.save(v, os.path.join(_TMP, "never.json")),
    "load path": lambda v: sn.load(v),
    "load max_bytes": lambda v: sn.load(__file__, max_bytes=v),
    "loads": lambda v: files.loads(v),
    "train lr": lambda v: sn.train_model(_net(), "mse", [([1.0], 1.0)], epochs=1, lr=v),
    # (a huge number of epochs is a long run, not a wrong argument)
    "train epochs": lambda v: sn.train_model(_net(), "mse", [([1.0], 1.0)], epochs=v) if not _huge(v) else None,
    "train loss": lambda v: sn.train_model(_net(), v, [([1.0], 1.0)], epochs=1),
    "train data": lambda v: sn.train_model(_net(), "mse", v, epochs=1),
    "train sample": lambda v: sn.train_model(_net(), "mse", [([v], 1.0)], epochs=1),
    "train target": lambda v: sn.train_model(_net(), "mse", [([1.0], v)], epochs=1),
    "train batch_size": lambda v: sn.train_model(_net(), "mse", [([1.0], 1.0)], epochs=1, batch_size=v),
    "train print_every": lambda v: sn.train_model(_net(), "mse", [([1.0], 1.0)], epochs=1, print_every=v),
    "train engine": lambda v: sn.train_model(_net(), "mse", [([1.0], 1.0)], epochs=1, engine=v),
    "train loss pair": lambda v: sn.train_model(_net(), (lambda p, t: v, lambda p, t: v), [([1.0], 1.0)], epochs=1),
    "parse": lambda v: sn.parse(v),
    "parse inputs": lambda v: sn.parse("w*x", inputs=v),
    "seed": lambda v: sn.seed(v),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE)
def test_random_wrong_arguments_raise_only_symnet_errors(entry, value):
    contained(lambda: ENTRY_POINTS[entry](value))


@settings(max_examples=40, deadline=None)
@given(forward=HOSTILE, partial=HOSTILE)
def test_random_user_op_results_raise_only_symnet_errors(forward, partial):
    name = "hostile_random_op"
    ctor = sn.define_op(name, 1, forward=lambda x: forward, partials=lambda x: (partial,),
                        sympy=lambda e: e, replace=True)
    try:
        net = sn.compile(ctor(sn.Input("x")))
        contained(lambda: net.predict([1.0]))
        contained(lambda: net.gradients([1.0]))
        contained(lambda: net.codegen().gradient([1.0]))
    finally:
        sn.OPS.pop(name, None)


@settings(max_examples=30, deadline=None)
@given(text=st.text(alphabet="0123456789-.e", min_size=1, max_size=40) | st.sampled_from(["9" * 5000, "1e400"]))
def test_random_cli_targets_never_cause_an_internal_error(text):
    from symnet.cli_model import parse_target

    for loss in ("mse", "bce", "cross_entropy"):
        contained(lambda: parse_target(text, loss))


# -- messages show a bounded form of what the user passed (errors.shown), never a raw repr --


@pytest.mark.parametrize("call, shown_as", [
    (lambda: sn.check_derivative("w*x", wrt=BIG, claimed="x", inputs=["x"]), "wrt=an integer of 401 digits"),
    (lambda: sn.check_derivative("w*x", wrt="w", claimed="x", inputs=["x"], seed="s" * 5000), "seed must be"),
    (lambda: sn.check_derivative("w*x", wrt="w", claimed="x", inputs=["x"], points=BIG), "an integer of 401 digits"),
    (lambda: sn.parse("w*x", inputs=[BIG]), "an integer of 401 digits"),
    (lambda: sn.check_gradients(_net(), points=list(range(5000))), "points must be an integer"),
    (lambda: sn.check_gradients(_net(), loss=["mse"] * 5000, target=None), "check_gradients"),
])
def test_error_messages_bound_what_they_show(call, shown_as):
    with pytest.raises(sn.SymnetError) as info:
        call()
    assert shown_as in str(info.value)
    assert len(str(info.value)) < 400  # a bounded message, whatever was passed
