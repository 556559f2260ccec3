"""Issue 16, kind 3: losses refuse values outside their domain. BCE takes a probability
and a target in [0, 1] and refuses anything else, as PyTorch's BCELoss does ("all
elements of input should be between 0 and 1"), naming the node and the value, in the
API, every engine and the command line."""

from __future__ import annotations

import importlib.util
import math
import re
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
from hostile import contained

ENGINES = ["interpreted", "python", "numpy"]


def _bce_net():
    p = sn.Input("p")
    return sn.compile(sn.bce(p, 1.0))


# -- the examples of the issue ------------------------------------------------------------


@pytest.mark.parametrize("p", [1.5, -0.5, 1.0000001, -1e-300, 1e300])
def test_bce_refuses_a_prediction_outside_0_1(p):
    net = _bce_net()
    message = rf"bce failed at node 'L' \(bce\) with inputs p={re.escape(repr(p))}.*prediction {re.escape(repr(p))} is outside"
    with pytest.raises(sn.NumericalError, match=message):
        net.predict([p])
    with pytest.raises(sn.NumericalError, match=message):
        net.gradients([p])
    with pytest.raises(sn.NumericalError, match=message):
        net.codegen().gradient([p])
    if importlib.util.find_spec("numpy"):  # the batched NumPy engine, when NumPy is installed
        from symnet.backends.numpy_backend import batched

        with pytest.raises(sn.NumericalError, match=message):
            batched(net).forward([[p]])


def test_bce_on_the_boundary_is_still_clamped_like_pytorch():
    net = _bce_net()
    assert net.predict([0.0]) == 100.0
    assert net.predict([1.0]) == 0.0


@pytest.mark.parametrize("target", [2, -1.0, 1.5])
def test_bce_refuses_a_target_outside_0_1(target):
    p = sn.Input("p", 0.5)
    with pytest.raises(sn.InputError, match=rf"bce: target must lie in \[0, 1\], got {float(target)!r}|{target!r}"):
        sn.bce(p, target)
    with pytest.raises(sn.InputError, match="bce: target must lie in"):
        sn.compile(p.sigmoid()).with_loss("bce", target)
    # a target that is an input gets its value at run time: the kernel refuses it
    y = sn.Input("y")
    net = sn.compile(sn.bce(p, y))
    with pytest.raises(sn.NumericalError, match=rf"the target {float(target)!r} is outside \[0, 1\]"):
        net.predict([0.5, target])


@pytest.mark.parametrize("engine", ENGINES + ["auto"])
def test_training_bce_on_a_linear_output_refuses_instead_of_diverging(engine):
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    data = [([1.0], 1.0), ([-1.0], 0.0), ([2.0], 1.0), ([-2.0], 0.0)]
    with pytest.raises(sn.NumericalError, match=r"prediction .* is outside \[0, 1\] \(put a sigmoid on the output\)"):
        sn.train_model(w * x + b, "bce", data, epochs=200, lr=0.5, engine=engine)
    assert abs(w.value) < 10 and abs(b.value) < 10


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "symnet", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("command", [
    ["check", "sigmoid(w*x + b)", "--inputs", "x"],
    ["verify", "sigmoid(w*x + b)", "--inputs", "x", "--wrt", "w", "--claim", "x"],
])
@pytest.mark.parametrize("target", ["2", "-1", "1.5"])
def test_the_cli_refuses_a_bce_target_outside_0_1_like_the_api(command, target):
    proc = _cli(*command, "--loss", "bce", "--target", target)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bce: target must lie in [0, 1]" in proc.stderr


def test_the_cli_accepts_a_bce_target_in_0_1():
    proc = _cli("check", "sigmoid(w*x + b)", "--inputs", "x", "--loss", "bce", "--target", "1")
    assert proc.returncode == 0, proc.stderr


# -- more of the same kind ----------------------------------------------------------------


def test_training_with_a_bce_target_outside_0_1_trains_nothing():
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    for engine in ENGINES:
        with pytest.raises(sn.InputError, match=r"data item 1: bce: targets must lie in \[0, 1\]"):
            sn.train_model((w * x).sigmoid(), "bce", [([1.0], 1.0), ([1.0], 2.0)], engine=engine)
        assert w.value == 0.5


def test_bce_through_a_sigmoid_trains_on_every_engine_alike():
    results = []
    for engine in [e for e in ENGINES if e != "numpy" or importlib.util.find_spec("numpy")]:
        x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
        data = [([1.0], 1.0), ([-1.0], 0.0), ([2.0], 1.0), ([-2.0], 0.0)]
        sn.train_model((w * x + b).sigmoid(), "bce", data, epochs=20, lr=0.5, engine=engine)
        results.append((w.value, b.value))
    for other in results[1:]:
        assert other == pytest.approx(results[0], rel=1e-12)


# -- hypothesis: random predictions and targets, in and out of the domain -------------------

values = st.one_of(st.floats(-2.0, 3.0), st.sampled_from([0.0, 1.0, -0.0, 5e-324, 1 - 1e-16, 1e308, -1e308]))


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=60, deadline=None)
@given(p=values, t=values)
def test_random_bce_values_are_finite_or_refused(engine, p, t):
    pn, tn = sn.Input("p"), sn.Input("t")
    net = sn.compile(sn.bce(pn, tn))
    if engine == "interpreted":
        result = contained(lambda: (net.predict([p, t]), net.gradients([p, t])))
    elif engine == "python":
        result = contained(lambda: net.codegen().gradient([p, t]))
    else:
        from symnet.backends.numpy_backend import batched

        result = contained(lambda: [float(v) for v in batched(net).forward([[p, t]]).ravel()])
    inside = 0.0 <= p <= 1.0 and 0.0 <= t <= 1.0
    assert isinstance(result, sn.SymnetError) != inside or (inside and isinstance(result, sn.NumericalError)
                                                            and "gradient" in str(result))
    if isinstance(result, sn.SymnetError):
        assert "at node 'L'" in str(result)
