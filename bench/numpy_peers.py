"""symnet's generated NumPy code against array-code peers, on the moons MLP, in one run.

The network is micrograd's ``MLP(2, [16, 16, 1])`` (ReLU hidden layers, linear output,
337 parameters) with micrograd's initial weights (``random.seed(1337)``, rebuilt here
without importing micrograd), on 100 moons points (``bench/moons.py``'s generator),
loss ``mean((score - y)**2)``, one full-batch SGD step ``p -= lr * grad``. Each
implementation does forward, backward and update, in float64 on the CPU:

* hand-written NumPy, batched per layer (the reference);
* symnet: the module ``net.to_numpy()`` writes for the loss network, run from its
  source in a fresh namespace: its generated code as it is (``_sn_forward_vjp`` + one
  update per array), and its checked entry point (``forward_vjp``: the arguments
  checked, NumPy's floating-point errors raised); the same code as ``symnet.train``
  runs it (a ``make_trainer(..., engine="numpy")`` step); and whole
  ``train_model(..., epochs=1)`` calls on the network and on its root node, each
  reported as a ratio to one training step;
* tangent-ad (source-to-source AD of a NumPy loss; its generated gradient source);
* JAX on the CPU: ``jax.jit`` of ``value_and_grad`` and the update (its jaxpr);
* PyTorch eager, batched, one intra-op thread.

All start from the same weights; the parameters after three steps are compared to
the hand-written NumPy ones before timing. Prints the median time per step (min-max,
n), each one's ratio to hand-written NumPy and symnet's ratio to each peer, and the
lines of generated code of each (symnet's module, tangent's gradient source, JAX's
jaxpr; PyTorch eager generates none). A peer that cannot be imported is reported as
such and skipped.

    python bench/numpy_peers.py            # about a minute
    python bench/numpy_peers.py --quick

tangent 0.1.9 needs ``gast==0.2.2`` (newer gast removed ``gast.Num``) and imports
TensorFlow's tracing module; ``--tangent-path DIR`` puts a directory holding gast
0.2.2 first on ``sys.path`` (``pip install --target DIR gast==0.2.2``), and
TensorFlow is hidden from tangent here, which it then does not need.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import platform
import random
import statistics
import sys
import time
import types
from typing import Any, Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import symnet as sn  # noqa: E402
import moons  # noqa: E402
from moons import LR, SIZES, make_moons  # noqa: E402
from moons import _layers as layers_of  # noqa: E402
from symnet.train import ParameterValues, make_trainer  # noqa: E402


def micrograd_init(seed: int = 1337) -> list[float]:
    """micrograd's initial weights: ``random.uniform(-1, 1)`` per weight then bias, neuron
    by neuron, layer by layer (micrograd/nn.py, Neuron.__init__)."""
    random.seed(seed)
    out, n_in = [], 2
    for n_out in SIZES:
        for _ in range(n_out):
            out += [random.uniform(-1, 1) for _ in range(n_in)] + [random.uniform(-1, 1)]
        n_in = n_out
    return out


def as_list(layers: list[tuple[Any, Any]]) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float64) for W, b in layers for a in (W, b)]


# -- implementations: each returns (step, params) with params() a list of arrays W1, b1, ... ------


def numpy_impl(X: Any, y: Any, init: list[float]) -> tuple[Callable[[], float], Callable[[], list]]:
    """The hand-written NumPy step of bench/moons.py, its parameters as arrays."""
    step, flat = moons.numpy_impl(X, y, init)
    return step, lambda: as_list(layers_of(flat()))


def symnet_model(init: list[float]) -> tuple[Any, Any]:
    model = sn.MLP(2, SIZES)
    for p, v in zip(sn.compile(model).parameters, init):
        p.value = v
    return model, sn.compile(model)


def symnet_module_impl(X: Any, y: Any, init: list[float], *, checked: bool = True
                       ) -> tuple[Callable[[], float], Callable[[], list], int]:
    """The to_numpy() module of the loss network, exec'd from its source: its checked
    ``forward_vjp`` (arguments checked, NumPy's floating-point errors raised), or with
    ``checked=False`` the generated code it runs, ``_sn_forward_vjp``, as it is."""
    model, net = symnet_model(init)
    loss_net = sn.compile(sn.mse(model, sn.Input("y")))
    source = loss_net.to_numpy()
    env: dict[str, Any] = {}
    exec(compile(source, "<symnet to_numpy>", "exec"), env)  # our own generated module
    forward_vjp = env["forward_vjp" if checked else "_sn_forward_vjp"]
    params = loss_net.layer_parameters()
    XY = np.column_stack([X, y]) if loss_net.input_names[-1] == "y" else np.column_stack([y, X])
    G = np.full((X.shape[0], 1), 1.0 / X.shape[0])  # d(mean loss) / d(each sample's loss)

    def step() -> float:
        out, grads = forward_vjp(XY, params, G)
        for k, g in grads.items():
            params[k] -= LR * g
        return float(out.sum()) / X.shape[0]

    return step, lambda: [params[k] for k in params], len(source.splitlines())


def symnet_train_impl(X: Any, y: Any, init: list[float]) -> tuple[Callable[[], float], Callable[[], list]]:
    model, net = symnet_model(init)
    store = ParameterValues(net)
    trainer = make_trainer(model, "mse", list(zip(X.tolist(), y.tolist())), batch_size=None, engine="numpy",
                           store=store)
    everything = list(range(X.shape[0]))
    count = [0]

    def step() -> float:
        count[0] += 1
        return trainer.step(everything, LR, count[0], 1) / len(everything)

    def params() -> list:
        trainer.finish()
        return as_list(layers_of(list(store.values)))

    return step, params


def symnet_train_model_impl(X: Any, y: Any, init: list[float], *, node: bool = False
                            ) -> tuple[Callable[[], float], Callable[[], list]]:
    """One whole ``train_model(..., epochs=1)`` call per step: on the compiled network
    (it trains the network's own values), or with ``node=True`` on the MLP's root node
    (which also writes the 337 trained values to the Parameter nodes)."""
    model, net = symnet_model(init)
    data = list(zip(X.tolist(), y.tolist()))
    target = model if node else net

    def step() -> float:
        return sn.train_model(target, "mse", data, epochs=1, lr=LR, batch_size=None, engine="numpy")[0]

    values = (lambda: [p.value for p in net.parameters]) if node else (lambda: net.parameter_values)
    return step, lambda: as_list(layers_of(values()))


CALLS = (("train_model(network, epochs=1) call", False), ("train_model(node, epochs=1) call", True))


def side_by_side(X: Any, y: Any, init: list[float], n: int) -> dict[str, list[float]]:
    """One training step, one ``train_model(network, epochs=1)`` call and one
    ``train_model(node, epochs=1)`` call (each on its own copy of the network), timed in
    turn ``n`` times: a change of load on the shared machine moves all three alike, so
    their ratios are steadier than those of medians timed one after the other."""
    steps = {"step": symnet_train_impl(X, y, init)[0]}
    for label, node in CALLS:
        steps[label] = symnet_train_model_impl(X, y, init, node=node)[0]
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(3):
        for f in steps.values():
            f()
    for _ in range(n):
        for k, f in steps.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return times


def _hide_tensorflow() -> None:
    """tangent imports TensorFlow's tracing helpers at import time; give it stubs (unused here)."""
    for name in ("tensorflow", "tensorflow.python", "tensorflow.python.eager", "tensorflow.python.eager.backprop"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["tensorflow.python.eager.backprop"].make_vjp = None  # type: ignore[attr-defined]
    stub = types.ModuleType("tangent.tf_extensions")  # TensorFlow's op gradients: not needed for NumPy
    stub.__all__ = []  # type: ignore[attr-defined]
    sys.modules["tangent.tf_extensions"] = stub


def tangent_loss(W1, b1, W2, b2, W3, b3, A0, Y, zero, n):
    # tangent 0.1.9 on Python 3.11 cannot name number literals in calls: constants are arguments;
    # biases are (out, 1) columns (tangent has no adjoint for expand_dims)
    H1 = np.maximum(np.dot(W1, A0) + b1, zero)
    H2 = np.maximum(np.dot(W2, H1) + b2, zero)
    D = np.dot(W3, H2) + b3 - Y
    return np.sum(D * D) / n


def tangent_impl(X: Any, y: Any, init: list[float]) -> tuple[Callable[[], float], Callable[[], list], int]:
    import tangent

    grad = tangent.grad(tangent_loss, wrt=(0, 1, 2, 3, 4, 5), preserve_result=True, verbose=0)
    try:
        lines = len(inspect.getsource(grad).splitlines())
    except (OSError, TypeError):
        lines = -1
    arrays = [a if a.ndim == 2 else a[:, None].copy() for a in as_list(layers_of(init))]
    A0, Y, n = X.T.copy(), y[None, :].copy(), float(X.shape[0])

    def step() -> float:
        *grads, loss = grad(*arrays, A0, Y, 0.0, n, 1.0)
        for a, g in zip(arrays, grads):
            a -= LR * g
        return float(loss)

    return step, lambda: [a if k % 2 == 0 else a[:, 0] for k, a in enumerate(arrays)], lines


def jax_impl(X: Any, y: Any, init: list[float]) -> tuple[Callable[[], float], Callable[[], list], int]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def loss(params: list[Any], A0: Any, Y: Any) -> Any:
        h = A0
        for k in range(0, len(params), 2):
            h = params[k] @ h + params[k + 1][:, None]
            if k < len(params) - 2:
                h = jnp.maximum(h, 0.0)
        return jnp.mean((h - Y) ** 2)

    def update(params: list[Any], A0: Any, Y: Any) -> tuple[list[Any], Any]:
        value, grads = jax.value_and_grad(loss)(params, A0, Y)
        return [p - LR * g for p, g in zip(params, grads)], value

    jitted = jax.jit(update)
    state = [jnp.asarray(a) for a in as_list(layers_of(init))]
    A0, Y = jnp.asarray(X.T), jnp.asarray(y[None, :])
    lines = len(str(jax.make_jaxpr(update)(state, A0, Y)).splitlines())
    holder = [state]

    def step() -> float:
        holder[0], value = jitted(holder[0], A0, Y)
        return float(value)  # waits for the result

    return step, lambda: [np.asarray(a) for a in holder[0]], lines


def torch_impl(X: Any, y: Any, init: list[float]) -> tuple[Callable[[], float], Callable[[], list]]:
    import torch

    torch.set_num_threads(1)
    layers = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in layers_of(init)]
    A0 = torch.tensor(X)
    Y = torch.tensor(y)[:, None]

    def step() -> float:
        h = A0
        for k, (W, b) in enumerate(layers):
            h = h @ W.T + b
            if k < len(layers) - 1:
                h = torch.relu(h)
        loss = ((h - Y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            for W, b in layers:
                W -= LR * W.grad
                b -= LR * b.grad
                W.grad = None
                b.grad = None
        return loss.item()

    return step, lambda: [t.detach().numpy() for W, b in layers for t in (W, b)]


# -- measuring ----------------------------------------------------------------------------------


def timed(step: Callable[[], float], n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--seed", type=int, default=1337, help="seed of the moons data")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--tangent-path", default=None, help="a directory with gast 0.2.2, first on sys.path for tangent")
    args = ap.parse_args(argv)
    n_rep = 400 if args.quick else 3000

    X, y = (np.array(a, dtype=np.float64) for a in make_moons(args.samples, 0.1, args.seed))
    init = micrograd_init()
    lines: dict[str, Any] = {}
    impls: list[tuple[str, Callable[[], tuple]]] = [
        ("hand-written NumPy", lambda: numpy_impl(X, y, init)),
        ("symnet to_numpy() generated code", lambda: symnet_module_impl(X, y, init, checked=False)),
        ("symnet to_numpy() checked forward_vjp", lambda: symnet_module_impl(X, y, init)),
        ("symnet training step (same code)", lambda: symnet_train_impl(X, y, init)),
    ]
    skipped: dict[str, str] = {}
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    if args.tangent_path:
        sys.path.insert(0, args.tangent_path)
    try:
        try:
            import tangent  # noqa: F401  -- tangent-ad 0.4 imports without TensorFlow
        except ImportError:  # tangent 0.1.9 imports TensorFlow's tracing module
            for name in [m for m in sys.modules if m == "tangent" or m.startswith("tangent.")]:
                del sys.modules[name]
            _hide_tensorflow()
            import tangent  # noqa: F401

        versions.append(f"tangent {getattr(tangent, '__version__', '0.1.9')}")
        impls.append(("tangent-ad generated NumPy", lambda: tangent_impl(X, y, init)))
    except Exception as exc:  # noqa: BLE001 -- any failure to import a peer is reported, not fatal
        skipped["tangent-ad"] = f"{type(exc).__name__}: {exc}"
    try:
        import jax

        versions.append(f"jax {jax.__version__} ({jax.default_backend()})")
        impls.append(("JAX jit (CPU)", lambda: jax_impl(X, y, init)))
    except Exception as exc:  # noqa: BLE001
        skipped["jax"] = f"{type(exc).__name__}: {exc}"
    try:
        import torch

        versions.append(f"torch {torch.__version__}")
        impls.append(("PyTorch eager (1 thread)", lambda: torch_impl(X, y, init)))
    except Exception as exc:  # noqa: BLE001
        skipped["torch"] = f"{type(exc).__name__}: {exc}"

    print(f"moons step: MLP(2, {SIZES}), {len(init)} parameters, {len(X)} samples, MSE, SGD lr={LR}, float64")
    print(", ".join(versions) + f", {os.cpu_count()} CPU(s), {platform.machine()}")
    for peer, why in skipped.items():
        print(f"  skipped {peer}: {why}")

    # the same computation everywhere: parameters after three steps
    made: dict[str, tuple] = {}
    ref = None
    print("\nafter 3 steps, max |param - hand-written NumPy|:")
    for name, make in impls:
        try:
            made[name] = make()
        except Exception as exc:  # noqa: BLE001
            print(f"  {name:<36} failed: {type(exc).__name__}: {exc}")
            continue
        step, params = made[name][0], made[name][1]
        for _ in range(3):
            step()
        got = [np.asarray(a) for a in params()]
        if ref is None:
            ref = got
        print(f"  {name:<36} {max(float(np.max(np.abs(a - b))) for a, b in zip(got, ref)):.1e}")
        if len(made[name]) > 2:
            lines[name] = made[name][2]
    fresh = {name: make() for name, make in impls if name in made}

    results: dict[str, list[float]] = {}
    print("\nmedian time per step (min-max, n):")
    for name, made_ in fresh.items():
        times = timed(made_[0], n_rep)
        results[name] = times
        print(f"  {name:<36} {fmt(statistics.median(times)):>10}  ({fmt(min(times))} - {fmt(max(times))}, n={n_rep})")
        sys.stdout.flush()
    med = {name: statistics.median(t) for name, t in results.items()}
    calls = {}
    for label, node in CALLS:
        step_once, _ = symnet_train_model_impl(X, y, init, node=node)
        call = calls[label] = timed(step_once, max(200, n_rep // 3))
        print(f"  {'symnet ' + label:<36} {fmt(statistics.median(call)):>10}  "
              f"({fmt(min(call))} - {fmt(max(call))}, n={len(call)})")
    side = side_by_side(X, y, init, max(300, n_rep // 2))

    ref_t = med["hand-written NumPy"]
    ours = med["symnet to_numpy() generated code"]
    checked = med["symnet to_numpy() checked forward_vjp"]
    print("\nratios (median / median):")
    print(f"  {'':<36} {'/ hand NumPy':>12} {'symnet / it':>12}")
    for name, m in med.items():
        print(f"  {name:<36} {m / ref_t:>12.3g} {ours / m:>12.3g}")

    lines["symnet to_numpy() generated code"] = lines.get("symnet to_numpy() checked forward_vjp")
    print("\nlines of generated code:")
    for name in med:
        n = lines.get(name)
        text = ("none (eager; nothing generated)" if name.startswith("PyTorch") else
                "n/a (written by hand)" if name.startswith("hand") else
                "the to_numpy() module above" if name.startswith(("symnet training", "symnet to_numpy() checked"))
                else
                "source not available" if n == -1 else str(n))
        print(f"  {name:<36} {text}")

    one_step = med["symnet training step (same code)"]
    print("\ntrain_model(epochs=1) call / one training step (median / median):")
    print(f"  {'':<44} {'timed apart':>12} {'side by side':>13}")
    ratios = {}
    for label, call in calls.items():
        ratios[label] = statistics.median(side[label]) / statistics.median(side["step"])
        print(f"  {label:<44} {statistics.median(call) / one_step:12.3g} {ratios[label]:13.3g}")
    print(f"  (side by side: one step, one call on the network, one on the node, in turn, "
          f"n={len(side['step'])}; step median {fmt(statistics.median(side['step']))})")
    print("\ngoals:")
    goals = [("symnet generated NumPy step at most 1.2x hand-written NumPy", ours / ref_t, 1.2),
             ("  (the same with checked arguments, forward_vjp; no goal)", checked / ref_t, math.inf)]
    goals += [(f"{label} at most 2x one step (side by side)", ratios[label], 2.0) for label, _ in CALLS]
    goals += [(f"symnet faster than {name}", ours / med[name], 1.0) for name in med
              if not name.startswith(("symnet", "hand"))]
    for label, value, bound in goals:
        verdict = "" if bound == math.inf else "met" if value <= bound else "MISSED"
        print(f"  {label:<60} {value:8.3g}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
