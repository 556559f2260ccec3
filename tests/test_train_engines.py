"""Training on every engine: the compiled paths update parameters as the interpreted one."""

from __future__ import annotations

import io
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest

import symnet as sn
from symnet.train import NUMPY_MIN_WORK, choose_engine, make_trainer

HAVE_NUMPY = True
try:
    import numpy  # noqa: F401
except ImportError:  # pragma: no cover
    HAVE_NUMPY = False

ENGINES = ["python"] + (["numpy"] if HAVE_NUMPY else [])


def dataset(loss: str, n: int = 40, classes: int = 3) -> list:
    rng = random.Random(7)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(n)]
    if loss == "cross_entropy":
        return [(x, rng.randrange(classes)) for x in xs]
    if loss == "bce":
        return [(x, float(x[0] > x[1])) for x in xs]
    return [(x, math.sin(3 * x[0]) + x[1]) for x in xs]


def train(engine: str, loss: str, batch_size, shuffle: bool = False, epochs: int = 4, lr: float = 0.1):
    sn.seed(11)
    out_act = {"mse": None, "bce": "sigmoid", "cross_entropy": "softmax"}[loss]
    sizes = [6, 5, 3] if loss == "cross_entropy" else [6, 5, 1]
    model = sn.MLP(2, sizes, activation="tanh", output_activation=out_act)
    history = sn.train_model(model, loss, dataset(loss), epochs=epochs, lr=lr, batch_size=batch_size,
                             shuffle=shuffle, engine=engine)
    return history, [p.value for p in sn.compile(model).parameters]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("loss", ["mse", "bce", "cross_entropy"])
@pytest.mark.parametrize("batch_size, shuffle", [(1, False), (7, True), (None, False)])
def test_compiled_engines_update_like_the_interpreted_one(engine, loss, batch_size, shuffle):
    want_h, want_p = train("interpreted", loss, batch_size, shuffle)
    got_h, got_p = train(engine, loss, batch_size, shuffle)
    if engine == "python":  # the same operations in the same order
        assert got_h == want_h and got_p == want_p
    else:
        assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(got_h, want_h))
        assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(got_p, want_p))


def test_default_engine_is_compiled_and_matches():
    want = train("interpreted", "mse", None)
    got = train("auto", "mse", None)
    assert all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) for a, b in zip(got[1], want[1]))


def test_auto_chooses_by_work_and_loss():
    assert choose_engine("auto", ("f", "g"), 10**6, 10**6) == "python"
    assert choose_engine("auto", "mse", 1, 10) == "python"
    assert choose_engine("auto", "mse", NUMPY_MIN_WORK, 1) == ("numpy" if HAVE_NUMPY else "python")
    assert choose_engine("python", "mse", 10**6, 10**6) == "python"


def diverge(engine: str, lr: float, batch_size):
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.1, name="b")
    data = [([v], 3.0 * v) for v in (1e5, 2e5, -3e5)]
    with pytest.raises(sn.NumericalError) as info:
        sn.train_model(w * x + b, "mse", data, epochs=50, lr=lr, batch_size=batch_size, engine=engine)
    return str(info.value), w.value, b.value


@pytest.mark.parametrize("engine", ENGINES)
def test_divergence_names_the_parameter_and_step(engine):
    message, w, b = diverge(engine, 1e308, None)
    assert message == diverge("interpreted", 1e308, None)[0]
    assert "parameter 'w' at step 1" in message
    assert (w, b) == (0.5, 0.1)  # the last finite values


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("batch_size", [1, None])
def test_slow_divergence_fails_as_the_interpreted_engine_does(engine, batch_size):
    got, want = diverge(engine, 1.0, batch_size), diverge("interpreted", 1.0, batch_size)
    assert got[0] == want[0]
    assert all(math.isfinite(v) for v in got[1:])
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(got[1:], want[1:]))


@pytest.mark.parametrize("engine", ["interpreted"] + ENGINES)
def test_op_failure_during_training_is_the_engines_error(engine):
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    model = (w * x).log()
    data = [([1.0], 0.0), ([-1.0], 0.0)]
    with pytest.raises(sn.NumericalError, match="log failed at node"):
        sn.train_model(model, "mse", data, epochs=2, lr=0.1, batch_size=None, engine=engine)
    assert w.value == 1.0


def test_pair_loss_on_generated_code_is_bit_exact():
    def run(engine):
        sn.seed(3)
        model = sn.MLP(2, [4, 1], activation="relu")
        pair = (lambda p, t: (p - t) ** 2, lambda p, t: 2 * (p - t))
        h = sn.train_model(model, pair, dataset("mse", 20), epochs=3, lr=0.05, engine=engine)
        return h, [p.value for p in sn.compile(model).parameters]

    assert run("python") == run("interpreted")
    assert run("auto") == run("interpreted")


def test_engine_option_is_validated():
    x, w = sn.Input("x"), sn.Parameter(1.0, name="w")
    with pytest.raises(sn.InputError, match="engine"):
        sn.train_model(w * x, "mse", [([1.0], 1.0)], engine="gpu")
    if HAVE_NUMPY:
        with pytest.raises(sn.InputError, match="named loss"):
            sn.train_model(w * x, (lambda p, t: p, lambda p, t: 1.0), [([1.0], 1.0)], engine="numpy")


def test_printing_is_the_same_on_every_engine():
    texts = []
    for engine in ["interpreted"] + ENGINES:
        x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
        buf = io.StringIO()
        sn.train_model(w * x, "mse", [([1.0], 2.0), ([2.0], 4.0)], epochs=4, lr=0.05, print_every=2,
                       engine=engine, out=buf)
        texts.append(buf.getvalue())
    assert len(set(texts)) == 1 and texts[0].count("mean loss") == 2


def test_trainer_steps_one_batch_at_a_time():
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    t = make_trainer(w * x, "mse", [([1.0], 2.0), ([2.0], 4.0)], batch_size=None, engine="python")
    assert t.step([0, 1], 0.1, 1, 1) == 20.0
    t.finish()
    assert t.store.values == pytest.approx([1.0])
    assert w.value == 0.0  # make_trainer alone never writes to nodes; train_model(node) does


def test_training_without_numpy_uses_generated_python(tmp_path):
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import symnet as sn\n"
        "x, w = sn.Input('x'), sn.Parameter(0.0, name='w')\n"
        "h = sn.train_model(w * x, 'mse', [([float(v)], 2.0 * v) for v in range(200)], epochs=3, lr=1e-5,\n"
        "                   batch_size=None)\n"
        "assert 'numpy' not in [k for k, v in sys.modules.items() if v is not None]\n"
        "try:\n"
        "    sn.train_model(w * x, 'mse', [([1.0], 1.0)], engine='numpy')\n"
        "except sn.InputError as exc:\n"
        "    print('ok', 'NumPy' in str(exc))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok True"


def test_cross_entropy_on_raw_outputs_still_trains():
    def run(engine):
        sn.seed(2)
        model = sn.MLP(2, [3, 2], activation="tanh", output_activation="sigmoid")
        data = [([0.1, 0.2], 0), ([0.4, -0.3], 1)]
        return sn.train_model(model, "cross_entropy", data, epochs=3, lr=0.1, batch_size=None, engine=engine)

    assert run("python") == run("interpreted")


# -- a second call reuses what the first built, and still sees every change ---------------------------


needs_numpy = pytest.mark.skipif(not HAVE_NUMPY, reason="NumPy is not installed")


def _line():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(-0.25, name="b")
    return sn.compile(w * x + b)


@needs_numpy
@pytest.mark.parametrize("engine", ENGINES)
def test_two_calls_on_a_network_equal_one_call_of_two_epochs(engine):
    data = [([0.1 * k], 0.3 * k - 1.0) for k in range(20)]
    once, twice = _line(), _line()
    want = sn.train_model(once, "mse", data, epochs=2, lr=0.1, batch_size=None, engine=engine)
    got = [sn.train_model(twice, "mse", data, epochs=1, lr=0.1, batch_size=None, engine=engine)[0]
           for _ in range(2)]
    assert got == pytest.approx(want, rel=1e-12)
    assert twice.parameter_values == pytest.approx(once.parameter_values, rel=1e-12)
    twice.set_parameters([0.5, -0.25])  # set between calls: the next call starts from these
    assert sn.train_model(twice, "mse", data, epochs=1, lr=0.1, batch_size=None, engine=engine) == want[:1]


@needs_numpy
def test_the_same_data_changed_in_place_is_checked_again():
    net = _line()
    data = [([0.1 * k], 0.3 * k) for k in range(30)]
    sn.train_model(net, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy")
    for bad, message in ((math.nan, "input 'x': value must be finite"), (True, "expected a real number, got bool"),
                         ("1", "expected a real number, got str")):
        data[7][0][0] = bad  # the same list objects, one value changed
        before = net.parameter_values
        with pytest.raises(sn.InputError, match=rf"data item 7: .*{message}"):
            sn.train_model(net, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy")
        assert net.parameter_values == before
    data[7][0][0] = 0.7
    fresh = _line()
    fresh.set_parameters(net.parameter_values)
    copy = [([x[0]], t) for x, t in data]  # new objects, the same numbers
    assert (sn.train_model(net, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy")
            == sn.train_model(fresh, "mse", copy, epochs=1, lr=0.1, batch_size=None, engine="numpy"))
    data.append(([1.0], 1.0))  # one more sample
    assert len(sn.train_model(net, "mse", data, epochs=2, lr=0.1, batch_size=None, engine="numpy")) == 2


@needs_numpy
def test_training_inside_training_gets_its_own_buffers():
    net = _line()
    data = [([0.1 * k], 0.3 * k) for k in range(30)]
    inner = []

    class Nested(io.StringIO):
        def write(self, text):
            if not inner:  # the output stream trains the same network: no node is written
                inner.append(sn.train_model(net, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy"))
            return super().write(text)

    reference = _line()
    want = sn.train_model(reference, "mse", data, epochs=2, lr=0.1, batch_size=None, engine="numpy")
    got = sn.train_model(net, "mse", data, epochs=2, lr=0.1, batch_size=None, engine="numpy",
                         print_every=1, out=Nested())
    assert got == pytest.approx(want, rel=1e-12) and len(inner) == 1


@needs_numpy
def test_a_node_and_its_network_agree_after_training():
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")
    model = w * x
    data = [([float(k)], 2.0 * k) for k in range(1, 60)]
    for _ in range(3):
        sn.train_model(model, "mse", data, epochs=1, lr=1e-3, batch_size=None, engine="numpy")
        assert model.compile().parameter_values == [w.value]
    w.value = 5.0  # set between calls: seen by the next one
    sn.train_model(model, "mse", data, epochs=1, lr=1e-6, batch_size=None, engine="numpy")
    assert 4.9 < w.value < 5.0


@pytest.mark.parametrize("engine", ENGINES)
def test_an_op_defined_by_a_callable_that_sets_a_parameter_is_refused(engine):
    x, w = sn.Input("x"), sn.Parameter(0.0, name="w")

    def meddle(v):
        w.value = 100.0
        return v

    op = sn.define_op(f"meddle_{engine}", 1, forward=meddle, partials=lambda v: (1.0,), sympy=lambda v: v)
    with pytest.raises(sn.InputError, match=r"parameter 'w' was set"):
        sn.train_model(op(w * x), "mse", [([float(k)], 1.0) for k in range(80)], epochs=2, lr=0.1,
                       batch_size=None, engine=engine)


def _moons_like(n: int = 40) -> list:
    rng = random.Random(3)
    return [([rng.uniform(-1, 1), rng.uniform(-1, 1)], rng.uniform(-1, 1)) for _ in range(n)]


def _symnet_calls(run) -> int:
    """Calls of symnet's own Python functions while ``run()`` runs (counted, not timed)."""
    root = str(Path(sn.__file__).parent)
    calls = [0]

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(root):
            calls[0] += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls[0]


@needs_numpy
@pytest.mark.parametrize("on_node", [False, True])
def test_a_repeated_call_does_no_work_per_parameter(on_node):
    """A second train_model call reuses what the first built (loss networks, code, checked
    data, buffers) and writes the trained values back without a call per parameter: the
    same count of symnet function calls for 4-wide and 16-wide layers."""
    data = _moons_like()
    counts = []
    for width in (4, 16):
        sn.seed(5)
        model = sn.MLP(2, [width, width, 1])
        target = model if on_node else sn.compile(model)

        def call():
            sn.train_model(target, "mse", data, epochs=1, lr=0.05, batch_size=None, engine="numpy")

        call()
        counts.append(_symnet_calls(call))
    assert counts[0] == counts[1]


@needs_numpy
def test_repeated_node_calls_see_a_new_graph_and_values_written_in_between():
    """Two graphs share the Parameter w; training one writes w, which the other's next
    call (its structure and data cached) must start from, as must a write by the user."""
    data = _moons_like()

    def train(graph):
        return sn.train_model(graph, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy")[0]

    x1, x2 = sn.Input("x1"), sn.Input("x2")
    w, b = sn.Parameter(0.3, name="w"), sn.Parameter(-0.2, name="b")
    first, second = (w * x1 + x2).tanh(), (w * x1 + b * x2).tanh()
    got = [train(first), train(first), train(second)]
    w.value = w.value + 0.5  # a write between calls
    got.append(train(first))

    want, values = [], {"w": 0.3, "b": -0.2}  # the same calls, each on a graph built afresh
    for k, which in enumerate(("first", "first", "second", "first")):
        if k == 3:
            values["w"] += 0.5
        y1, y2 = sn.Input("x1"), sn.Input("x2")
        fw, fb = sn.Parameter(values["w"], name="w"), sn.Parameter(values["b"], name="b")
        want.append(train((fw * y1 + y2).tanh() if which == "first" else (fw * y1 + fb * y2).tanh()))
        values = {"w": fw.value, "b": fb.value}
    assert got == pytest.approx(want, rel=1e-12)
    assert [w.value, b.value] == pytest.approx([values["w"], values["b"]], rel=1e-12)
    assert first.compile().parameter_values == [w.value]  # the node's network agrees with the node
    assert second.compile().parameter_values == [w.value, b.value]


@needs_numpy
def test_a_sample_replaced_by_a_new_one_is_read_again():
    net, fresh = _line(), _line()
    data = [([0.1 * k], 0.3 * k) for k in range(30)]
    sn.train_model(net, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy")
    fresh.set_parameters(net.parameter_values)
    data[4] = ([2.5], -1.0)  # a new pair in the same list
    data[9][0][0] = 0.75  # and a value changed in place
    copy = [([x[0]], t) for x, t in data]
    assert (sn.train_model(net, "mse", data, epochs=1, lr=0.1, batch_size=None, engine="numpy")
            == sn.train_model(fresh, "mse", copy, epochs=1, lr=0.1, batch_size=None, engine="numpy"))
    assert net.parameter_values == fresh.parameter_values
