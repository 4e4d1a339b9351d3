from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = sorted((ROOT / "problems").glob("*.yaml"))


@pytest.fixture
def seed_example() -> Path:
    return ROOT / "problems" / "seed_worked_example.yaml"


@dataclass
class Run:
    """What one convgrad command line did: its exit code, standard output and error."""

    returncode: int
    stdout: str
    stderr: str
    args: list[str]

    def __repr__(self) -> str:
        return (f"<convgrad {' '.join(self.args)}: exit {self.returncode}, stdout "
                f"{self.stdout[:300]!r}, stderr {self.stderr[:600]!r}>")


# Answers to the seed worked example: right, and with one wrong entry.
def long_run(test: Callable[..., None]) -> Callable[..., None]:
    """A test that runs only when `-m slow` asks for it: marked slow, and skipped in a plain
    run of the suite (which would otherwise run it, having no -m)."""
    skip = pytest.mark.skipif("'slow' not in config.getoption('markexpr') or "
                              "'not slow' in config.getoption('markexpr')",
                              reason="a long run: pytest -m slow")
    return pytest.mark.slow(skip(test))


RIGHT = "dW: [[32, 41], [59, 68]]\ndb: 9\n"
WRONG = "dW: [[32, 41], [59, 0]]\ndb: 9\n"

# A problem whose results are thirds, worked by hand: Y = X/3, L = sum Y^2, so
# dY = 2Y = [[2/3, 4/3], [2, 8/3]] and db = sum dY = 20/3 (the exports' decimal answers).
THIRDS = """\
input: [[1, 2], [3, 4]]
kernel: [[1/3]]
bias: 0
target: [[0, 0], [0, 0]]
loss: sse
graded: [dY, db]
"""


def no_traceback(run: Run) -> None:
    for text in (run.stdout, run.stderr):
        assert "Traceback" not in text and "Exception ignored" not in text, run


def one_line(run: Run) -> str:
    no_traceback(run)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and run.stderr.endswith("\n"), run
    return lines[0]


@pytest.fixture
def answers(tmp_path: Path) -> dict[str, Path]:
    files = {"right": tmp_path / "right.yaml", "wrong": tmp_path / "wrong.yaml",
             "broken": tmp_path / "broken.yaml"}
    files["right"].write_text(RIGHT, encoding="utf-8")
    files["wrong"].write_text(WRONG, encoding="utf-8")
    files["broken"].write_text("dW: [[1, 2]\n", encoding="utf-8")
    return files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_main(*args: object, stdin: str | bytes | IO[bytes] = b"",
             cwd: Path | None = None) -> Run:
    """`convgrad ARGS` in this process, through main(argv), as a script runs it: standard
    output and error captured (not a terminal), `stdin` as standard input (text, bytes, or
    an open binary file or pipe)."""
    from convgrad.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with _standard_input(stdin), _inside(cwd), redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return Run(code, out.getvalue(), err.getvalue(), argv)


@contextmanager
def _standard_input(stdin: str | bytes | IO[bytes]) -> Iterator[None]:
    """`stdin` as sys.stdin, bytes underneath as a pipe has."""
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    raw = io.BytesIO(data) if isinstance(data, bytes) else data
    saved, sys.stdin = sys.stdin, io.TextIOWrapper(raw, encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin.detach()  # the caller's file stays open
        sys.stdin = saved


@contextmanager
def _inside(cwd: Path | None) -> Iterator[None]:
    here = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
