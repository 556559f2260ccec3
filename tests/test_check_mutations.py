"""Mutation tests of the verifier: plant a plausible wrong derivative, the checker must fail
and blame the right node.

Each mutant replaces one op row's local partials (``dataclasses.replace`` on the
row in ``symnet.ops.OPS``), or the engine's reverse pass itself, and is checked on
a model where that op sits in general position, at three seeded random points
(the checker draws every input and parameter from U(-2, 2) away from 0 and +-1,
where several wrong rules agree with the right one). Before planting, the same
check must pass: the failure is the mutant's doing.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

import symnet as sn
import symnet.engine
from symnet.check import check_gradients
from symnet.ops import OPS, power
from mutants import wrong_backward

# -- models: (root, loss, target) -------------------------------------------------------


def mlp(sizes, activation, output_activation=None):
    def build():
        sn.seed(1)
        return sn.MLP(2, sizes, activation=activation, output_activation=output_activation)
    return build


def affine():
    x, w, b = sn.Input("x"), sn.Parameter(name="w"), sn.Parameter(name="b")
    return w * x + b


def exp_model():
    x, w, b, v = sn.Input("x"), sn.Parameter(name="w"), sn.Parameter(name="b"), sn.Parameter(name="v")
    return v * (w * x + b).exp()


def log_model():
    x, w, b, v = sn.Input("x"), sn.Parameter(name="w"), sn.Parameter(name="b"), sn.Parameter(name="v")
    return v * ((w * x + b) ** 2 + 0.5).log()


def softmax_model():
    x, w, u, b = sn.Input("x"), sn.Parameter(name="w"), sn.Parameter(name="u"), sn.Parameter(name="b")
    return sn.Softmax([w * x, u * x + b, b])


MODELS = {
    "sigmoid": (mlp([3, 1], "sigmoid", "sigmoid"), "bce", 1.0),
    "tanh": (mlp([3, 1], "tanh"), "mse", 0.5),
    "exp": (exp_model, "mse", 0.3),
    "log": (log_model, "mse", 0.3),
    "mul": (mlp([2, 1], "tanh"), "mse", 0.5),
    "add": (mlp([2, 1], "tanh"), "mse", 0.5),
    "pow": (affine, "mse", 0.7),
    "relu": (mlp([3, 1], "relu"), "mse", 0.5),
    "log_softmax": (mlp([3, 3], "tanh", "softmax"), "cross_entropy", 1),
    "softmax": (softmax_model, None, None),
    "bce": (mlp([2, 1], "tanh", "sigmoid"), "bce", 0.25),  # t = 0 would hide p + t vs p - t
}


def _softmax_no_onehot(xs, y, k):
    # p_k * (delta_kj - p_j) with the delta dropped
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    s = math.fsum(es)
    return tuple(-y * e / s for e in es)


def _log_softmax_no_onehot(xs, y, k):
    # (delta_kj - p_j) with the delta dropped: softmax-CE' = softmax
    m = max(xs)
    es = [math.exp(x - m) for x in xs]
    s = math.fsum(es)
    return tuple(-e / s for e in es)


#: (op, what the wrong rule says, the wrong partials(xs, y, attr))
MUTANTS = [
    ("sigmoid", "s' = s", lambda xs, y, a: (y,)),
    ("sigmoid", "s' = s**2", lambda xs, y, a: (y * y,)),
    ("sigmoid", "s' = 1 - s", lambda xs, y, a: (1.0 - y,)),
    ("tanh", "t' = 1 - t", lambda xs, y, a: (1.0 - y,)),
    ("tanh", "t' = 1 + t**2", lambda xs, y, a: (1.0 + y * y,)),
    ("exp", "exp' = x * e**x", lambda xs, y, a: (xs[0] * y,)),
    ("log", "log' = -1/x", lambda xs, y, a: (-1.0 / xs[0],)),
    ("log", "log' = 1/x**2", lambda xs, y, a: (1.0 / xs[0] ** 2,)),
    ("mul", "swapped operands", lambda xs, y, a: tuple(xs) if len(xs) == 2 else tuple(reversed(xs))),
    ("add", "add' = 2", lambda xs, y, a: (2.0,) * len(xs)),
    ("pow", "MSE without its factor 2", lambda xs, y, p: (power(xs[0], p - 1.0),)),
    ("relu", "relu' = 1", lambda xs, y, a: (1.0,)),
    ("log_softmax", "softmax-CE' without the one-hot", _log_softmax_no_onehot),
    ("softmax", "softmax' without the one-hot", _softmax_no_onehot),
    ("bce", "bce' = (p + t) / (p (1 - p))", lambda xs, y, a: ((xs[0] + xs[1]) / (xs[0] * (1 - xs[0])), 0.0)),
]

BLAMED = re.compile(r"node `([^`]+)` \((\w+)\)")


def run_check(op, seed):
    build, loss, target = MODELS[op]
    root = build()
    return root, check_gradients(root, loss=loss, target=target, points=3, seed=seed)


def names_to_ops(root, op):
    build, loss, target = MODELS[op]
    graph = root if loss is None else {"mse": sn.mse, "bce": sn.bce, "cross_entropy": sn.cross_entropy}[loss](root, target)
    program = sn.compile(graph).program
    return {program.names[i]: (program.ops[i].name if program.ops[i] else program.nodes[i].kind)
            for i in range(len(program.nodes))}


def test_every_model_uses_its_op():
    for op in MODELS:
        root = MODELS[op][0]()
        assert op in names_to_ops(root, op).values(), op
    assert {m[0] for m in MUTANTS} == set(MODELS)


@pytest.mark.parametrize("seed", [0])
@pytest.mark.parametrize("op, rule, partials", MUTANTS, ids=[f"{op}:{rule}" for op, rule, _ in MUTANTS])
def test_planted_wrong_rule_fails_and_blames_the_op(monkeypatch, op, rule, partials, seed):
    _, clean = run_check(op, seed)
    assert clean.ok, str(clean)

    monkeypatch.setitem(OPS, op, dataclasses.replace(OPS[op], partials=partials))
    root, report = run_check(op, seed)
    assert not report.ok, f"{rule} went undetected:\n{report}"
    assert any(r.verdict == "FAIL" for r in report.rows)
    assert report.first_failure and report.first_failure.startswith("gradient mismatch")
    # the culprit: every blamed node is an instance of the mutated op
    assert report.blame, str(report)
    ops_by_name = names_to_ops(root, op)
    for line in report.blame:
        match = BLAMED.search(line)
        assert match, line
        name, blamed_op = match.groups()
        assert blamed_op == op and ops_by_name[name] == op, line
    assert "engine d/d" in report.blame[0] and "SymPy = " in report.blame[0]
    # the same points are replayable from the seed in the report
    assert report.seed == seed


def test_a_correct_rule_passes_and_a_planted_kink_is_flagged():
    x, w = sn.Input("x"), sn.Parameter(2.0, name="w")
    report = check_gradients((w * x).relu() * w, {"x": 0.0})
    assert report.ok
    assert report.verdict("w") == "KINK" and "relu" in report.kinks[0].note
    assert check_gradients((w * x).relu() * w, {"x": 0.5}).verdict("w") == "PASS"


# -- the engine's accumulation itself ----------------------------------------------------


ENGINE_MUTANTS = [
    ("upstream gradient dropped", lambda old, g, p: old + p),
    ("= instead of +=", lambda old, g, p: g * p),
]


def _engine_model():
    sn.seed(3)
    return sn.MLP(2, [3, 2], activation="tanh", output_activation="softmax")


@pytest.mark.parametrize("seed", [0, 7])
def test_the_correct_accumulation_passes(seed):
    assert check_gradients(_engine_model(), loss="cross_entropy", target=0, points=3, seed=seed).ok


@pytest.mark.parametrize("rule, combine", ENGINE_MUTANTS, ids=[r for r, _ in ENGINE_MUTANTS])
@pytest.mark.parametrize("seed", [0, 7])
def test_wrong_accumulation_fails_and_is_blamed_on_the_engine(monkeypatch, rule, combine, seed):
    root = _engine_model()
    monkeypatch.setattr(symnet.engine, "backward", wrong_backward(combine))
    report = check_gradients(root, loss="cross_entropy", target=0, points=3, seed=seed)
    assert not report.ok, f"{rule} went undetected"
    assert len(report.blame) == 1 and report.blame[0].startswith("accumulation: node `"), report.blame
    assert "every local partial agrees with SymPy" in report.blame[0]
    name = BLAMED.search(report.blame[0]).group(1)
    program = sn.compile(sn.cross_entropy(root, 0)).program
    index = program.names.index(name)
    uses = sum(a == index for args in program.args for a in args)
    if rule == "= instead of +=":
        # overwriting only shows where contributions meet: the culprit is a shared node
        assert uses >= 2, (name, uses)


def test_the_real_engine_is_restored_after_monkeypatching():
    # guards against a mutant leaking into other tests through module state
    assert symnet.engine.backward.__module__ == "symnet.engine"
    assert all(row.builtin for row in OPS.values() if row.name in {m[0] for m in MUTANTS})
