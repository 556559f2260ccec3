"""Issue 16, kinds 8 and 13: files and outputs. Every command writes all its files or none;
reads refuse what is not a regular file; what ``save`` writes with default settings
``load`` reads with default settings; ``print(net)`` of a big model is summarised."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symnet as sn
from symnet import files
from symnet.report import write_report
from hostile import HOSTILE, contained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "symnet", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def _neuron():
    x, w, b = sn.Input("x"), sn.Parameter(0.5, name="w"), sn.Parameter(0.0, name="b")
    return sn.compile((w * x + b).sigmoid())


REPORT = ["report", "sigmoid(w*x + b)", "--inputs", "x", "--set", "w=0.5,b=0", "--at", "x=1"]


@pytest.fixture
def sheet(tmp_path):
    path = tmp_path / "sheet.tex"
    path.write_text("ORIGINAL\n")
    return path


def _untouched(folder, sheet):
    assert sheet.read_text() == "ORIGINAL\n"
    assert not [p for p in os.listdir(folder) if p.startswith(".symnet-")], "a temporary file was left behind"


# -- kind 8, the examples of the issue ------------------------------------------------------


def test_report_with_a_bad_target_leaves_the_sheet(sheet):
    proc = _cli(*REPORT, "--loss", "bce", "--target", "2", "-o", str(sheet))
    assert proc.returncode == 2
    _untouched(sheet.parent, sheet)


def test_report_pdf_without_pdflatex_leaves_the_sheet(sheet):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    proc = _cli(*REPORT, "--pdf", "-o", str(sheet), env=env)
    assert proc.returncode == 2 and "pdflatex was not found" in proc.stderr
    _untouched(sheet.parent, sheet)


def test_report_exercise_with_the_key_path_a_folder_leaves_the_sheet(sheet):
    (sheet.parent / "sheet-key.tex").mkdir()
    proc = _cli(*REPORT, "--exercise", "--loss", "mse", "--target", "1", "-o", str(sheet))
    assert proc.returncode == 2 and "sheet-key.tex': is a directory" in proc.stderr
    _untouched(sheet.parent, sheet)


def test_report_pdf_with_the_pdf_path_a_folder_leaves_the_sheet_and_runs_nothing(sheet, monkeypatch):
    (sheet.parent / "sheet.pdf").mkdir()
    import symnet.report

    def never(tex, **_):
        raise AssertionError("pdflatex ran although a target cannot be written")

    monkeypatch.setattr(symnet.report, "run_pdflatex", never)
    with pytest.raises(sn.ModelFileError, match="sheet.pdf': is a directory"):
        write_report(_neuron(), sheet, {"x": 1.0}, pdf=True)
    _untouched(sheet.parent, sheet)


def test_report_writes_every_file_when_all_succeed(sheet, monkeypatch):
    import symnet.report

    monkeypatch.setattr(symnet.report, "run_pdflatex", lambda tex, **_: b"%PDF-fake " + tex[:20].encode())
    written = write_report(_neuron(), sheet, {"x": 1.0}, 1.0, "mse", pdf=True, exercise=True)
    names = sorted(os.path.basename(p) for p in written)
    assert names == ["sheet-key.pdf", "sheet-key.tex", "sheet.pdf", "sheet.tex"]
    assert sheet.read_text().startswith("\\documentclass")


def test_a_failing_pdf_compilation_writes_nothing(sheet, monkeypatch):
    import symnet.report

    calls = []

    def second_fails(tex, **_):
        calls.append(tex)
        if len(calls) == 2:
            raise sn.SymnetError("pdflatex failed (exit code 1)")
        return b"%PDF-fake"

    monkeypatch.setattr(symnet.report, "run_pdflatex", second_fails)
    with pytest.raises(sn.SymnetError, match="pdflatex failed"):
        write_report(_neuron(), sheet, {"x": 1.0}, 1.0, "mse", pdf=True, exercise=True)
    _untouched(sheet.parent, sheet)
    assert sorted(os.listdir(sheet.parent)) == ["sheet.tex"]


def _within(seconds, call):
    """Run ``call`` in a thread: its result or error, or a failure if it blocks."""
    box = {}

    def run():
        try:
            box["result"] = call()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call blocked"
    return box


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_load_refuses_a_fifo_instead_of_hanging(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    box = _within(20, lambda: sn.load(fifo))
    assert isinstance(box.get("error"), sn.ModelFileError)
    assert "not a regular file (a FIFO)" in str(box["error"])
    proc = _cli("formula", str(fifo))
    assert proc.returncode == 2 and "not a regular file" in proc.stderr


def test_load_refuses_a_device_and_a_folder(tmp_path):
    with pytest.raises(sn.ModelFileError, match="not a regular file"):
        sn.load(os.devnull)
    with pytest.raises(sn.ModelFileError, match="is a directory"):
        sn.load(tmp_path)


def test_save_writes_about_40_bytes_a_node_and_load_reads_it_with_defaults(tmp_path):
    """Measured: a chain of 10**6 nodes (y = tanh(y*w)) saves as 49 MB, under the 64 MB
    that load reads by default. Here the same per-node size on 20,000 nodes."""
    x, w = sn.Input("x", 0.5), sn.Parameter(0.5, name="w")
    y = x
    for _ in range(10_000):
        y = (y * w).tanh()
    path = tmp_path / "chain.json"
    sn.save(y, path)
    nodes = 2 + 20_000
    assert os.path.getsize(path) / nodes < 50
    assert sn.load(path).predict([0.5]) == y.compile().predict([0.5])


def test_save_refuses_what_load_would_refuse_and_both_take_max_bytes(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("OLD")
    net = _neuron()
    size = len(files.dumps(net).encode())
    with pytest.raises(sn.ModelFileError, match=rf"would be {size} bytes, over the {size - 1} bytes that load\(\) "
                                                r"reads by default; pass max_bytes= to save\(\) and to load\(\)"):
        sn.save(net, path, max_bytes=size - 1)
    assert path.read_text() == "OLD"
    sn.save(net, path, max_bytes=size)
    assert sn.load(path, max_bytes=size).predict([1.0]) == net.predict([1.0])
    with pytest.raises(sn.ModelFileError, match="file too large"):
        sn.load(path, max_bytes=size - 1)
    assert files.MAX_FILE_BYTES == 64 * 1024 * 1024


# -- kind 8, hypothesis: random targets never lose an existing file ---------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=HOSTILE, pdf=st.booleans())
def test_random_report_targets_raise_only_symnet_errors_and_keep_the_sheet(tmp_path, monkeypatch, target, pdf):
    import symnet.report

    monkeypatch.setattr(symnet.report, "run_pdflatex", lambda tex, **_: b"%PDF-fake")
    sheet = tmp_path / "keep.tex"
    sheet.write_text("ORIGINAL\n")
    if isinstance(target, str) and target and "\x00" not in target:
        target = str(tmp_path / "out" / target.replace("/", "_"))  # a folder that does not exist: refused
    result = contained(lambda: write_report(_neuron(), target, {"x": 1.0}, pdf=pdf))
    assert isinstance(result, sn.SymnetError)
    assert sheet.read_text() == "ORIGINAL\n"


# -- kind 13: print(net) of a big model --------------------------------------------------------


def _chain(n):
    x, w = sn.Input("x", 0.5), sn.Parameter(0.5, name="w")
    y = x
    for _ in range(n):
        y = (y * w).tanh() + 0.001
    return sn.compile(y)


def test_print_of_a_big_chain_is_summarised_and_says_how_to_get_everything():
    net = _chain(3000)
    text = str(net)
    everything = net.funcify(layers=True).split("\n")
    lines = text.split("\n")
    assert len(lines) <= 40 < len(everything)
    assert f"lines left out ({len(everything):,} in all); print(net.funcify(layers=True)) writes them all" in text
    assert lines[0] == everything[0] and lines[-1] == everything[-1]


def test_print_of_a_small_model_is_complete():
    net = sn.compile(sn.MLP(2, [2, 1], activation="tanh"))
    assert str(net) == net.funcify(layers=True)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 400))
def test_random_chain_lengths_print_at_most_40_lines(n):
    net = _chain(n)
    text = str(net)
    assert len(text.split("\n")) <= 40
    if "lines left out" not in text:
        assert text in (net.funcify(layers=True), net.funcify())
