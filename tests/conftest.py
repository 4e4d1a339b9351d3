from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
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
