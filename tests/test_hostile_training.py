"""Issue 16, kinds 5 and 12: training validates all its data before the first update, and
refuses writes to the parameters made while it runs, on every engine alike."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symnet as sn
from hostile import HOSTILE, contained

ENGINES = ["interpreted", "python", "numpy", "auto"]


# -- kind 5: validate all data first --------------------------------------------------------


def _model(loss):
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-0.25, name="b")
    if loss == "cross_entropy":
        return sn.Softmax([w * x + b, b * x]), (w, b)
    if loss == "bce":
        return (w * x + b).sigmoid(), (w, b)
    return w * x + b, (w, b)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("loss, bad, message", [
    ("cross_entropy", ([1.0], 7), r"target index must be an integer in \[0, 2\), got 7"),
    ("bce", ([1.0], 1.5), r"bce: targets must lie in \[0, 1\]"),
    ("mse", ([1.0], math.nan), "target: value must be finite"),
    ("mse", ([1.0, 2.0], 1.0), r"expected 1 input value\(s\) \['x'\], got 2"),
    ("mse", ([math.inf], 1.0), "input 'x': value must be finite"),
    ("mse", ("x", 1.0), r"input 'x': expected a real number, got str 'x'"),
    ("bce", ([1.0], "1"), "target: expected a real number"),
])
def test_a_bad_sample_after_good_ones_trains_nothing(engine, loss, bad, message):
    model, params = _model(loss)
    good = ([0.5], 1 if loss == "cross_entropy" else 0.75)
    data = [good, good, good, bad, good]
    with pytest.raises(sn.InputError, match=rf"train_model: data item 3: .*{message}.*nothing was trained"):
        sn.train_model(model, loss, data, epochs=3, lr=0.1, engine=engine)
    assert [p.value for p in params] == [0.5, -0.25]


@pytest.mark.parametrize("engine", ["interpreted", "python"])
def test_a_loss_pair_validates_the_inputs_of_every_sample_first(engine):
    x, w = sn.Input("x"), sn.Parameter(0.5, name="w")
    pair = (lambda p, t: (p - t) ** 2, lambda p, t: 2 * (p - t))
    with pytest.raises(sn.InputError, match=r"data item 2: input 'x'"):
        sn.train_model(w * x, pair, [([1.0], 1.0), ([2.0], 1.0), ([math.nan], 1.0)], engine=engine)
    assert w.value == 0.5


def test_training_a_network_with_bad_data_leaves_its_values():
    model, _ = _model("mse")
    net = sn.compile(model)
    before = net.parameter_values
    with pytest.raises(sn.InputError, match="data item 1"):
        sn.train_model(net, "mse", [([1.0], 1.0), ([1.0], None)], engine="interpreted")
    assert net.parameter_values == before


@pytest.mark.parametrize("engine", ["interpreted", "python", "numpy"])
@settings(max_examples=40, deadline=None)
@given(position=st.integers(0, 4), bad=HOSTILE, where=st.sampled_from(["input", "target"]))
def test_random_bad_samples_raise_only_symnet_errors_and_train_nothing(engine, position, bad, where):
    model, params = _model("mse")
    data = [([0.5], 0.75)] * 5
    data[position] = ([bad], 0.75) if where == "input" else ([0.5], bad)
    result = contained(lambda: sn.train_model(model, "mse", data, epochs=2, lr=0.1, engine=engine))
    if isinstance(result, sn.InputError):  # refused before training (a huge finite input may diverge instead)
        assert [p.value for p in params] == [0.5, -0.25]


# -- kind 12: writes to parameters during training ----------------------------------------------


class _Meddler(io.StringIO):
    """An output stream that sets a parameter whenever training prints."""

    def __init__(self, param):
        super().__init__()
        self.param = param

    def write(self, text):
        self.param.value = 100.0
        return super().write(text)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_print_stream_that_sets_a_parameter_is_refused_on_every_engine(engine):
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    data = [([v], 2 * v) for v in (-1.0, 0.5, 1.0)]
    with pytest.raises(sn.InputError, match=r"parameter 'w' was set \(to 100.0\) during training, at step 3 "
                                            r"\(epoch 1\)"):
        sn.train_model(w * x, "mse", data, epochs=5, lr=0.1, print_every=1, out=_Meddler(w), engine=engine)


@pytest.mark.parametrize("engine", ["interpreted", "python", "auto"])
def test_a_loss_pair_that_sets_a_parameter_is_refused_on_every_engine(engine):
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")

    def loss(p, t):
        w.value = 100.0
        return (p - t) ** 2

    with pytest.raises(sn.InputError, match=r"parameter 'w' was set .* at step 1 \(epoch 1\)"):
        sn.train_model(w * x, (loss, lambda p, t: 2 * (p - t)), [([1.0], 2.0)], epochs=3, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_agree_when_nothing_meddles(engine):
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    data = [([v], 2 * v) for v in (-1.0, 0.5, 1.0)]
    out = io.StringIO()
    sn.train_model(w * x, "mse", data, epochs=5, lr=0.1, print_every=1, out=out, engine=engine)
    reference = sn.Parameter(0.0, name="w")
    sn.train_model(reference * x, "mse", data, epochs=5, lr=0.1, engine="interpreted")
    assert w.value == pytest.approx(reference.value, rel=1e-12)
    assert out.getvalue().count("\n") == 5


def test_setting_values_between_two_training_calls_is_seen():
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    data = [([1.0], 2.0)]
    sn.train_model(w * x, "mse", data, epochs=1, lr=0.1)
    w.value = 100.0
    sn.train_model(w * x, "mse", data, epochs=1, lr=0.1)
    assert w.value == pytest.approx(100.0 - 0.1 * 2 * (100.0 - 2.0))
