"""The gallery (docs/gallery.md): every gradient it prints or returns is right, and
every network's report compiles with pdflatex with no line past the margin.

The networks are the gallery's own: its code blocks run here (as tests/test_docs.py
runs them) and the networks are taken from the page's namespace. Each gradient,
in both forms and as SymPy from the API (``gradient_expr``) and as printed text
(``gradient_text``, read back with :func:`symnet.parse`), is compared at a few
random points with SymPy's raw derivative: ``sympy.diff`` of the network's
elementary formula, with none of symnet's rewrites.
"""

from __future__ import annotations

import os
import pathlib
import random
import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import sympy

import symnet as sn
from symnet.gradtext import GRADIENT_FORMS, gradient_expr, gradient_text
from symnet.report import PREAMBLE, WIDTH, latex_report

from test_docs import blocks, run_python
from test_report import _compile  # pdflatex with its log, as the report tests compile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "gallery.md"
#: The gallery's networks (names in the page's namespace), in the page's order.
NETWORKS = ("logistic", "linear", "mlp", "softmax", "relu", "hand")
#: Where each network's report is written: the gallery's worked-example points.
POINTS = {
    "logistic": {"x": 2.0, "y": 1.0},
    "linear": {"x": 2.0, "y": 3.0},
    "mlp": [0.5, -1.0, 1.0],
    "softmax": [0.2, -0.4],
    "relu": [0.5, -1.0, 2.0],
    "hand": {"i1": 0.05, "i2": 0.10, "t1": 0.01, "t2": 0.99},
}
PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex is not installed (CI installs texlive-latex-base, texlive-latex-recommended, texlive-pictures)")


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> dict[str, sn.Network]:
    """The page's networks, built by running its code blocks top to bottom."""
    folder = tmp_path_factory.mktemp("gallery")
    cwd = os.getcwd()
    os.chdir(folder)  # the page writes a report file
    try:
        ns: dict = {}
        for block in blocks(PAGE.read_text()):
            if block.lang == "python":
                run_python(block, ns, f"gallery.md:{block.line}", folder)
    finally:
        os.chdir(cwd)
    return {name: ns[name] for name in NETWORKS + ("classifier",)}


def _subject(gallery: dict, name: str) -> tuple[sn.Network, int | None, str | None]:
    """What the page gives a worked example or a report: the network, target and loss
    (the softmax classifier takes its loss there, as a user would give it)."""
    if name == "softmax":
        return gallery["classifier"], 2, "cross_entropy"
    return gallery[name], None, None


def test_the_page_has_every_network_in_order() -> None:
    text = PAGE.read_text()
    heads = [m.start() for m in re.finditer(r"^## ", text, re.M)]
    where = [text.index(f">>> {name} = ") for name in NETWORKS]
    assert where == sorted(where) and len(heads) >= len(NETWORKS) + 1


def test_the_rendered_page_is_there() -> None:
    images = re.findall(r"!\[[^\]]*\]\((img/[^)]+)\)", PAGE.read_text())
    assert images, "the gallery shows a rendered page"
    for image in images:
        assert (PAGE.parent / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _points(net: sn.Network, n: int, seed: int) -> list[dict[str, float]]:
    rng = random.Random(seed)
    names = net.input_names + net.parameter_names
    return [{k: rng.uniform(-1.5, 1.5) if not k.startswith(("y", "t")) else rng.uniform(0.05, 0.95) for k in names}
            for _ in range(n)]


def _value(expr, point: dict[str, float]) -> float:
    subs = {s: sympy.Float(point[s.name], 30) for s in expr.free_symbols}
    return float(sympy.N(expr.xreplace(subs), 30))


def _unchain(defs, result):
    """The chain form's ``(definitions, result)`` with every definition substituted back."""
    for symbol, expr in reversed(defs):
        result = result.xreplace({symbol: expr})
    return result


def _read_back(text: str, net: sn.Network) -> sn.Network:
    """A printed gradient (inline, or the chain's lines) as a network of every name."""
    lines = text.splitlines()
    *defs, last = lines
    statements = defs + [last.split(" = ", 1)[1] if last.startswith("d ") else last]
    return sn.compile(sn.parse("; ".join(statements), inputs=net.input_names + net.parameter_names,
                               max_length=1_000_000, max_nodes=1_000_000))


@pytest.mark.parametrize("name", NETWORKS)
def test_every_gradient_matches_sympys_raw_derivative(gallery, name) -> None:
    net = gallery[name]
    elementary = net.to_sympy(form="elementary")
    symbols = {s.name: s for s in elementary.free_symbols}
    points = _points(net, 3, seed=len(name))
    checked = 0
    for p in net.parameter_names:
        raw = sympy.diff(elementary, symbols[p])
        inline = gradient_expr(net, p, form="inline")
        chained = _unchain(*gradient_expr(net, p, form="chain"))
        printed = {form: _read_back(gradient_text(net, p, form=form), net) for form in GRADIENT_FORMS}
        for point in points:
            want = _value(raw, point)
            got = [_value(inline, point), _value(chained, point)]
            got += [printed[form].predict({k: point[k] for k in printed[form].input_names}) for form in GRADIENT_FORMS]
            for g in got:
                assert g == pytest.approx(want, rel=1e-9, abs=1e-12), (name, p, point)
            checked += 1
    assert checked == 3 * len(net.parameter_names)


@pytest.mark.parametrize("name", NETWORKS)
def test_worked_step_matches_sympys_raw_derivative(gallery, name) -> None:
    net = gallery[name]
    point = POINTS[name]
    network, target, loss = _subject(gallery, name)
    ex = network.worked_example(point, target, loss, lr=0.5)
    feed = dict(zip(net.input_names, point)) if isinstance(point, list) else dict(point)
    feed.update(zip(net.parameter_names, net.parameter_values))
    elementary = net.to_sympy(form="elementary")
    symbols = {s.name: s for s in elementary.free_symbols}
    for p in net.parameter_names:
        assert ex.gradients[p] == pytest.approx(_value(sympy.diff(elementary, symbols[p]), feed), rel=1e-9, abs=1e-12)


# -- the reports compile with no overfull line ---------------------------------------


def _documents(gallery: dict[str, sn.Network]) -> dict[str, str]:
    """Each network's report, its exercise sheet, and both forms of every gradient at
    the report's width."""
    docs = {}
    for name in NETWORKS:
        net = gallery[name]
        network, target, loss = _subject(gallery, name)
        docs[f"{name}:report"] = latex_report(network, POINTS[name], target, loss, lr=0.5)
        docs[f"{name}:exercise"] = latex_report(network, POINTS[name], target, loss, lr=0.5, exercise=True)
        gradients = [net.gradient_latex(form=form, width=WIDTH, env="align*") for form in ("chain", "inline")]
        docs[f"{name}:gradients"] = (PREAMBLE + "\\begin{document}\n" + "\n\n".join(gradients)
                                     + "\n\\end{document}\n")
    return docs


@pytest.fixture(scope="module")
def compiled(gallery) -> dict[str, tuple[int, str]]:
    jobs = _documents(gallery)
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(jobs, pool.map(_compile, jobs.values())))


@needs_tex
@pytest.mark.parametrize("name", NETWORKS)
def test_reports_compile_with_no_overfull_line(compiled, name) -> None:
    for kind in ("report", "exercise", "gradients"):
        code, log = compiled[f"{name}:{kind}"]
        assert code == 0, (kind, log[-3000:])
        assert not re.search(r"^! ", log, re.M), (kind, log[-3000:])
        assert "Overfull \\hbox" not in log, (kind, re.findall(r"Overfull.*\n.*", log))
