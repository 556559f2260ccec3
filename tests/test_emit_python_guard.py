"""Standalone generated modules check their arguments and name failures (issue 14 item 3):
symnet's error classes when symnet is importable, the module's own fallback classes when not."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest

import symnet as sn
from symnet.emit.python_guard import ERRORS

np = pytest.importorskip("numpy")


def _model():
    x1, x2 = sn.Input("x1"), sn.Input("x2")
    w, b = sn.Parameter(0.5, name="w"), sn.Parameter(-0.25, name="b")
    return sn.compile((w * x1 + b * x2).tanh() * w)


def _module(source: str) -> dict:
    env: dict = {}
    exec(source, env)  # symnet's own generated code
    return env


# -- in process: symnet's classes ----------------------------------------------------------------


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m["forward"]([0.5], [0.5, -0.25]), sn.InputError, r"expected 2 input\(s\) \['x1', 'x2'\], got 1"),
    (lambda m: m["forward"]([0.5, "a"], [0.5, -0.25]), sn.InputError, "input 'x2': expected a real number, got str"),
    (lambda m: m["forward"]([0.5, True], [0.5, -0.25]), sn.InputError, "input 'x2': expected a real number, got bool"),
    (lambda m: m["forward"]([0.5, math.inf], [0.5, -0.25]), sn.InputError, "input 'x2': value must be finite, got inf"),
    (lambda m: m["forward"]([0.5, 10**400], [0.5, -0.25]), sn.InputError, "input 'x2': the integer is too large"),
    (lambda m: m["forward"]([0.5, 1.0], [0.5]), sn.InputError, r"expected 2 parameter\(s\) \['w', 'b'\], got 1"),
    (lambda m: m["forward"]([0.5, 1.0], {"w": 0.5, "c": 1.0}), sn.InputError,
     r"parameters: unknown name\(s\) \['c'\], missing \['b'\]"),
    (lambda m: m["forward"]([0.5, 1.0], 3.0), sn.InputError, "parameters must be a sequence of 2 number"),
    (lambda m: m["gradient"]([0.5, 1.0], [0.5, -0.25], [1.0, 2.0]), sn.InputError, r"expected 1 seed\(s\)"),
    (lambda m: m["gradient"]([0.5, 1.0], [0.5, -0.25], math.nan), sn.InputError, "seed 'yhat': value must be finite"),
])
def test_python_module_names_a_bad_argument(call, error, message):
    with pytest.raises(error, match=message):
        call(_module(_model().to_python()))


def test_python_module_accepts_what_the_network_accepts():
    net = _model()
    m = _module(net.to_python())
    want = net.codegen().gradient([0.5, 2.0])
    assert m["gradient"]([0.5, 2], {"b": -0.25, "w": 0.5}) == want  # ints, and params by name
    assert m["gradient"]([0.5, 2.0], (0.5, -0.25), 1) == want
    assert m["INPUT_NAMES"] == ("x1", "x2") and m["PARAMETER_NAMES"] == ("w", "b")


def test_python_module_names_the_variable_and_line_of_a_math_failure():
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    net = sn.compile((w * x).log() * 3.0)
    m = _module(net.to_python())
    with pytest.raises(sn.NumericalError, match=r"computing \w+ \(line \d+ of _sn_forward\) failed: ValueError"):
        m["forward"]([-1.0], [2.0])
    with pytest.raises(sn.NumericalError, match=r"computing \w+ \(line \d+ of _sn_gradient\) failed"):
        m["gradient"]([-1.0], [2.0])
    with pytest.raises(ValueError):  # the generated code itself, unchecked
        m["_sn_forward"]([-1.0], [2.0])


def test_python_module_names_the_first_value_that_overflows():
    x, w = sn.Input("x"), sn.Parameter(1e200, name="w")
    h = sn.Node.apply("mul", [w, x], name="h")
    net = sn.compile(h * 1.0 + 1.0)
    m = _module(net.to_python())
    with pytest.raises(sn.NumericalError, match=r"h = inf in _sn_forward: not a finite number"):
        m["forward"]([1e200], [1e200])
    assert m["forward"]([2.0], [3.0]) == (7.0,)


def test_codegen_gradient_with_default_params_and_a_seed_list():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [3, 1]))
    outs, grads = net.codegen().gradient([0.3, -0.4], None, [1.0])
    want = net.gradients([0.3, -0.4])
    assert outs == (net.predict([0.3, -0.4]),)
    assert list(grads) == [want[n] for n in net.parameter_names + net.input_names]
    for args in ([[0.3], None, [1.0]], [[0.3, -0.4], None, [1.0, 2.0]], [[0.3, -0.4], None, "1"],
                 [[0.3, -0.4], 5, [1.0]], [[0.3, "x"], None, [1.0]], [[0.3, -0.4], None, [math.inf]]):
        with pytest.raises(sn.SymnetError):
            net.codegen().gradient(*args)


# -- the NumPy module ---------------------------------------------------------------------------


def _layers():
    sn.seed(2)
    net = sn.compile(sn.MLP(2, [3, 1], activation="tanh"))
    return net, _module(net.to_numpy()), net.layer_parameters()


@pytest.mark.parametrize("change, message", [
    (lambda X, P: ([[0.5, 1.0, 2.0]], P), r"X has shape \(1, 3\), expected \(n, 2\): one column per input"),
    (lambda X, P: ([0.5, 1.0], P), r"X has shape \(2,\), expected \(n, 2\)"),
    (lambda X, P: ([[0.5, "a"]], P), "X must be an array of numbers"),
    (lambda X, P: ([[0.5, 1.0], [0.5, math.nan]], P), r"X\[1, 1\] \(input 'x2'\) is nan: not finite"),
    (lambda X, P: (X, {k: v for k, v in P.items() if k != "b2"}), r"params must be a dict of the arrays "
                                                                   r"\['W1', 'b1', 'W2', 'b2'\], got \['W1', 'W2', 'b1'\]"),
    (lambda X, P: (X, {**P, "W3": P["W2"]}), r"got \['W1', 'W2', 'W3', 'b1', 'b2'\]"),
    (lambda X, P: (X, {**{k: v for k, v in P.items() if k != "W2"}, "w2": P["W2"]}), r"got \['W1', 'b1', 'b2', 'w2'\]"),
    (lambda X, P: (X, list(P.values())), "params must be a dict of the arrays .* got list"),
    (lambda X, P: (X, {**P, "W1": P["W1"].T}), r"params\['W1'\] has shape \(2, 3\), expected \(3, 2\)"),
    (lambda X, P: (X, {**P, "b1": np.array([0.0, np.inf, 0.0])}), r"params\['b1'\]\[1\] is inf: not finite"),
    (lambda X, P: (np.array([[0.5 + 1j, 1.0]]), P), "X must be real numbers, not complex"),  # not a warning
])
def test_numpy_module_names_a_bad_argument(change, message):
    net, m, P = _layers()
    X, params = change([[0.5, 1.0]], P)
    for call in (lambda: m["forward"](X, params), lambda: m["vjp"](X, params, np.ones((len(X), 1)))):
        with pytest.raises(sn.InputError, match=message):
            call()


def test_numpy_module_checks_the_seeds_and_agrees_with_the_network():
    net, m, P = _layers()
    X = [[0.5, 1.0], [-1.0, 2.0]]
    with pytest.raises(sn.InputError, match=r"G has shape \(2,\), expected \(2, 1\)"):
        m["vjp"](X, P, [1.0, 1.0])
    with pytest.raises(sn.InputError, match=r"G\[0, 0\] is nan"):
        m["vjp"](X, P, [[math.nan], [1.0]])
    out, grads = m["forward_vjp"](X, P, [[1.0], [1.0]])
    assert np.allclose(out[:, 0], [net.predict(x) for x in X], rtol=1e-13)
    want = {n: sum(net.gradients(x)[n] for x in X) for n in net.parameter_names}
    assert math.isclose(float(grads["b2"][0]), want["b2_1"], rel_tol=1e-13)
    assert m["PARAMETER_SHAPES"] == {"W1": (3, 2), "b1": (3,), "W2": (1, 3), "b2": (1,)}


def test_numpy_module_names_the_variable_and_line_of_a_math_failure():
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    net = sn.compile((w * x).log() * 1e300 * 1e300)
    m = _module(net.to_numpy())
    with pytest.raises(sn.NumericalError, match=r"computing \w+ \(line \d+ of _sn_forward\) failed: "
                                                 r"FloatingPointError: invalid value encountered in log"):
        m["forward"]([[-1.0]], net.layer_parameters())
    with pytest.raises(sn.NumericalError, match=r"computing yhat \(line \d+ of _sn_forward_vjp\) failed: "
                                                 r"FloatingPointError: overflow"):
        m["forward_vjp"]([[1.0]], net.layer_parameters(), [[1.0]])


# -- without symnet: the module's own classes --------------------------------------------------------


_BLOCK = textwrap.dedent("""
    import sys

    class _NoSymnet:
        def find_spec(self, name, path=None, target=None):
            if name == "symnet" or name.startswith("symnet."):
                raise ImportError("symnet is hidden in this test")
            return None

    sys.meta_path.insert(0, _NoSymnet())
    env = {"__name__": "generated"}
    exec(open(sys.argv[1]).read(), env)
    assert "symnet" not in sys.modules
""")


def _run_without_symnet(tmp_path, source: str, script: str) -> str:
    path = tmp_path / "generated.py"
    path.write_text(source)
    done = subprocess.run([sys.executable, "-I", "-c", _BLOCK + textwrap.dedent(script), str(path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_python_module_runs_without_symnet_and_raises_its_own_classes(tmp_path):
    net = _model()
    out = _run_without_symnet(tmp_path, net.to_python(), """
        print(env["gradient"]([0.5, 2.0], [0.5, -0.25]))
        for args in (([0.5], [0.5, -0.25]), ([0.5, float("nan")], [0.5, -0.25])):
            try:
                env["forward"](*args)
            except ValueError as exc:
                print(type(exc).__name__, type(exc).__module__, isinstance(exc, env["InputError"]), exc)
    """)
    lines = out.splitlines()
    assert lines[0] == repr(net.codegen().gradient([0.5, 2.0]))
    assert lines[1] == "InputError generated True expected 2 input(s) ['x1', 'x2'], got 1"
    assert lines[2] == "InputError generated True input 'x2': value must be finite, got nan"


def test_numpy_module_runs_without_symnet_and_raises_its_own_classes(tmp_path):
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    net = sn.compile((w * x).log())
    out = _run_without_symnet(tmp_path, net.to_numpy(), """
        import numpy as np
        P = {"w": np.array(2.0)}
        print(env["forward"]([[1.5]], P)[0, 0])
        for call in (lambda: env["forward"]([[1.0]], {"v": np.array(2.0)}),
                     lambda: env["forward"]([[-1.0]], P)):
            try:
                call()
            except (ValueError, ArithmeticError) as exc:
                print(type(exc).__name__, type(exc).__mro__[1].__name__, exc)
    """)
    lines = out.splitlines()
    assert float(lines[0]) == pytest.approx(math.log(3.0))
    assert lines[1] == "InputError ValueError params must be a dict of the arrays ['w'], got ['v']"
    assert lines[2].startswith("NumericalError ArithmeticError computing ")
    assert "FloatingPointError: invalid value encountered in log" in lines[2]


def test_the_guard_is_the_only_mention_of_symnet():
    src = _model().to_python() + sn.compile(sn.MLP(2, [3, 1])).to_numpy()
    assert src.count(ERRORS) == 2
    assert "symnet" not in src.replace("# symnet:", "").replace(ERRORS, "")


def test_numpy_forward_refuses_a_value_outside_an_op_domain_as_vjp_does():
    sn.seed(0)
    net = sn.compile(sn.MLP(2, [3, 1], output_activation="sigmoid")).with_loss("bce", "y")
    m, P = _module(net.to_numpy()), net.layer_parameters()
    X = np.array([[0.5, -1.0, 1.0], [0.5, -1.0, 2.0]])  # sample 1: a bce target of 2, outside [0, 1]
    for call in (lambda: m["forward"](X, P), lambda: m["vjp"](X, P, np.ones((2, 1)))):
        with pytest.raises(sn.NumericalError):
            call()
    with pytest.raises(sn.NumericalError, match=r"output 'L' of sample 1 is nan: not finite"):
        m["forward"](X, P)
    assert np.isfinite(m["forward"](X[:1], P)).all()
