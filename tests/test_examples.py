"""The two article examples (examples/*.py) and the built-in demo reach their targets."""

from __future__ import annotations

import importlib.util
import io
import random
import subprocess
import sys
from pathlib import Path

import pytest

import symnet as sn

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [0, 1])
def test_fahrenheit_learns_the_conversion(seed):
    fahrenheit = load("fahrenheit")
    net, losses = fahrenheit.train(seed=seed)
    w, b = net.parameters
    assert (w.name, b.name) == ("w", "b")
    assert abs(w.value - 5 / 9) < 1e-3
    assert abs(b.value - (-160 / 9)) < 1e-3
    assert losses[-1] < 1e-6 < losses[0]
    assert abs(net.predict([212.0]) - 100.0) < 1e-2


def test_fahrenheit_pair_and_named_loss_agree():
    # The article's (loss, gradient) pair trains exactly like the "mse" loss graph.
    fahrenheit = load("fahrenheit")
    _, by_pair = fahrenheit.train(seed=3, epochs=20)
    sn.seed(3)
    f, w, b = sn.Input("F"), sn.Parameter(name="w"), sn.Parameter(name="b")
    data = [([v], fahrenheit.celsius(v)) for v in fahrenheit.FAHRENHEIT]
    by_name = sn.train_model(w * f + b, "mse", data, epochs=20, lr=1e-3)
    assert by_pair == pytest.approx(by_name, rel=1e-12)


def test_above_line_classifies_fresh_points():
    above_line = load("above_line")
    net, losses = above_line.train(seed=0)
    fresh = above_line.make_points(1000, random.Random(2024))
    assert above_line.accuracy(net, fresh) >= 0.97
    assert losses[-1] < losses[0]
    assert net.predict([-0.5, 0.5]) > 0.9 and net.predict([0.5, -0.5]) < 0.1


def test_example_scripts_run_as_programs():
    for name, expected in (("fahrenheit", "learned w = 0.5555"), ("above_line", "accuracy on 1000 fresh points")):
        result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True,
                                timeout=120, cwd=EXAMPLES.parent,
                                env={"PYTHONPATH": str(EXAMPLES.parent), "PATH": ""})
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout


def test_demo_trains_both_examples_and_prints_formulas_and_gradients():
    from symnet import demo

    out = io.StringIO()
    demo.run(out)
    text = out.getvalue()
    assert "C = w*F + b" in text
    assert "C = 0.5556*F - 17.78" in text
    assert "d/dw = 100" in text and "d/db = 1" in text
    assert "sigmoid(" in text and "relu(" in text
    accuracy = float(text.split("accuracy on 1000 fresh points: ")[1].split("%")[0])
    assert accuracy >= 97.0
    assert "d/dx1 = " in text


def test_demo_output_is_deterministic():
    from symnet import demo

    first, second = io.StringIO(), io.StringIO()
    demo.run(first)
    demo.run(second)
    assert first.getvalue() == second.getvalue()
