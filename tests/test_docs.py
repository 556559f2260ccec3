"""Every code example in README.md and docs/*.md runs, and shown output matches.

Conventions for examples (one namespace and one scratch folder per Markdown file,
blocks run top to bottom):

* ```` ```python ```` with ``>>>`` prompts: a doctest (ELLIPSIS, NORMALIZE_WHITESPACE);
* ```` ```python ```` without prompts: run as a script; ``print`` output is not compared;
* ```` ```python file=NAME.py ````: written to ``NAME.py`` in the scratch folder (a
  model file for ``symnet NAME.py:attribute``), not run;
* ``needs=MODULE`` after the language (```` ```python needs=torch ````): the block is
  skipped when that optional module is not installed (CI installs them all);
* ```` ```console ```` / ```` ```sh ````: lines starting with ``$ symnet`` (or ``symnet``)
  run through :func:`symnet.cli.main`; the lines after a ``$`` command, up to the
  next ``$`` line, are its expected output (``...`` matches anything). A trailing
  ``# exit N`` comment states the expected exit status (default 0). Other shell
  lines (``pip install ...``) are not run.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import pathlib
import re
import runpy
import shlex
from dataclasses import dataclass

import pytest

from symnet.cli import main

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass
class Block:
    lang: str
    options: dict[str, str]
    code: str
    line: int


def blocks(text: str) -> list[Block]:
    out = []
    for m in FENCE.finditer(text):
        info = m.group(1).split()
        lang = info[0].lower() if info else ""
        options = dict(part.split("=", 1) for part in info[1:] if "=" in part)
        out.append(Block(lang, options, m.group(2), text.count("\n", 0, m.start()) + 2))
    return out


def run_python(block: Block, ns: dict, where: str, folder: pathlib.Path) -> None:
    if "file" in block.options:
        (folder / block.options["file"]).write_text(block.code)
        return
    if re.search(r"^\s*>>> ", block.code, re.M):
        test = doctest.DocTestParser().get_doctest(block.code, ns, where, where, block.line)
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        report = io.StringIO()
        runner.run(test, out=report.write, clear_globs=False)
        ns.update(test.globs)  # DocTest works on a copy of the namespace
        assert runner.failures == 0, report.getvalue()
        return
    script = folder / f"_block_{block.line}.py"
    script.write_text(block.code)
    with contextlib.redirect_stdout(io.StringIO()):
        ns.update(runpy.run_path(str(script), init_globals=ns, run_name="__doc_example__"))
    script.unlink()


def shell_commands(block: Block) -> list[tuple[str, list[str] | None, int]]:
    """``(command, expected output lines or None, expected exit status)`` per symnet line."""
    lines = block.code.splitlines()
    prompted = any(line.startswith("$ ") for line in lines)
    out: list[tuple[str, list[str] | None, int]] = []
    current: list[str] | None = None
    for line in lines:
        command = line[2:] if prompted and line.startswith("$ ") else (line if not prompted else None)
        if command is not None:
            current = None
            if command.startswith("symnet ") or command == "symnet":
                current = [] if prompted else None
                status = re.search(r"#\s*exit\s+(\d+)\s*$", command)
                out.append((command, current, int(status.group(1)) if status else 0))
        elif current is not None:
            current.append(line)
    return out


def run_shell(block: Block, where: str) -> None:
    for command, expected, status in shell_commands(block):
        argv = shlex.split(command, comments=True)[1:]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
        assert code == status, f"{where}: `{command}` exited {code}, expected {status}\n{stderr.getvalue()}"
        if expected:
            want = "\n".join(expected).rstrip() + "\n"
            got = stdout.getvalue().rstrip() + "\n"
            checker = doctest.OutputChecker()
            assert checker.check_output(want, got, FLAGS), \
                f"{where}: `{command}` printed\n{got}\nexpected\n{want}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_examples_run(page, tmp_path, monkeypatch):
    import symnet as sn

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sn.seed(0)
    ops = dict(sn.OPS)  # pages may define ops of their own: leave the table as it was
    ns: dict = {}
    try:
        for block in blocks(page.read_text()):
            where = f"{page.name}:{block.line}"
            needs = block.options.get("needs")
            if needs and importlib.util.find_spec(needs) is None:
                continue
            if block.lang in ("python", "py", "pycon"):
                run_python(block, ns, where, tmp_path)
            elif block.lang in ("console", "sh", "bash", "shell"):
                run_shell(block, where)
    finally:
        sn.OPS.clear()
        sn.OPS.update(ops)


def test_every_page_is_collected():
    names = {p.name for p in PAGES}
    for required in ("getting-started.md", "formulas.md", "checking-gradients.md", "latex.md", "extending.md",
                     "architecture.md", "files.md", "cli.md", "gallery.md"):
        assert required in names


def test_shell_parser():
    block = Block("console", {}, "$ symnet ops  # exit 0\nop arity\n...\n$ ls\nfoo\n$ symnet x --y # exit 2\n", 1)
    assert shell_commands(block) == [("symnet ops  # exit 0", ["op arity", "..."], 0), ("symnet x --y # exit 2", [], 2)]
    plain = Block("sh", {}, "pip install . && symnet demo\nsymnet ops\n", 1)
    assert shell_commands(plain) == [("symnet ops", None, 0)]
