"""Run many convgrad command lines in this one process, and report each as a JSON line.

test_bad_input.py runs the whole bad-input corpus through this script under a 2 GiB
address-space cap: one process for every file, instead of one per file. Standard input is a
JSON list of cases, each {"args": [...], "stdin": text, "stdin_path": a file to read as
standard input (either or neither), "timeout": seconds}. For each case this writes a line
{"started": args}, then {"args", "returncode", "stdout", "stderr", "seconds"}, where
returncode is main(args)'s, or null when the case was stopped after its timeout (a hang).
A run that Python cannot stop (a hang in C) is named by its "started" line alone.

Run: python tests/batch.py < cases.json
"""

from __future__ import annotations

import io
import json
import signal
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from typing import Any


class Hang(BaseException):
    """A case ran past its timeout (a BaseException: convgrad does not catch it)."""


def _hang(signum: int, frame: Any) -> None:
    raise Hang


def run(case: dict[str, Any]) -> dict[str, Any]:
    from convgrad.cli import main

    if case.get("stdin_path"):
        raw: Any = open(case["stdin_path"], "rb")  # noqa: SIM115 (closed below)
    else:
        raw = io.BytesIO((case.get("stdin") or "").encode("utf-8"))
    saved, sys.stdin = sys.stdin, io.TextIOWrapper(raw, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = None
    started = time.monotonic()
    signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, float(case.get("timeout", 20)))
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(case["args"]))
    except Hang:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdin.close()
        sys.stdin = saved
    return {"args": case["args"], "returncode": code, "stdout": out.getvalue(),
            "stderr": err.getvalue(), "seconds": time.monotonic() - started}


def main() -> None:
    report = sys.stdout
    for case in json.load(sys.stdin):
        print(json.dumps({"started": case["args"]}), file=report, flush=True)
        print(json.dumps(run(case)), file=report, flush=True)


if __name__ == "__main__":
    main()
