"""Start-up: `convgrad solve SEED --json`, `check` and others against `import numpy, yaml`.

Run: python benchmarks/bench_startup.py [RUNS] [--instructions]
Goal (issue 7): solve --json within 1.3 times the wall time of `python -c "import numpy, yaml"`.

Each command is run RUNS times (default 31) interleaved with the baseline, one after the
other, so that a shared machine's load falls on both alike; the figures are medians, and the
ratio is the median of each pair's ratio. The `convgrad` command is the installed script
beside this Python when there is one (as a user runs it), else `python -m convgrad`.
Byte-code is written as an installed package has it (PYTHONDONTWRITEBYTECODE is dropped for
the runs, and each command runs once before it is timed): compiling every module on every
start would be measured otherwise.

--instructions adds each command's instructions against the baseline's, counted by valgrind
(callgrind): unlike wall time, the same on a busy machine from run to run, when OpenBLAS
starts no threads (OPENBLAS_NUM_THREADS=1; their waiting is counted otherwise) and string
hashes are fixed (PYTHONHASHSEED=0).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import convgrad_command, machine

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "problems" / "seed_worked_example.yaml")
BASELINE = [sys.executable, "-c", "import numpy, yaml"]


def _command() -> list[str]:
    script = Path(sys.executable).parent / "convgrad"
    return [str(script)] if script.exists() else convgrad_command()


def _once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   check=False)
    return time.perf_counter() - start


def paired(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    """(baseline median, command median, median of the pairs' ratios), interleaved runs."""
    _once(BASELINE, env)
    _once(argv, env)
    base, mine = [], []
    for k in range(runs):
        # alternate which goes first, so that neither always follows the other
        if k % 2:
            mine.append(_once(argv, env))
            base.append(_once(BASELINE, env))
        else:
            base.append(_once(BASELINE, env))
            mine.append(_once(argv, env))
    ratio = statistics.median(m / b for m, b in zip(mine, base, strict=True))
    return statistics.median(base), statistics.median(mine), ratio


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions run by the command (valgrind's callgrind), its output discarded."""
    env = {**env, "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env=env, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    assert found, done.stderr[-500:]
    return int(found.group(1))


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--instructions"]
    counting = "--instructions" in sys.argv[1:]
    if counting and shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind")
    runs = int(args[0]) if args else 31
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    answers = Path(tempfile.mkdtemp()) / "answers.yaml"
    answers.write_text("dW: [[32, 41], [59, 68]]\ndb: 9\nloss: 23\n", encoding="utf-8")
    cg = _command()
    rows = [
        ("convgrad solve SEED --json", [*cg, "solve", SEED, "--json"]),
        ("convgrad check SEED answers.yaml", [*cg, "check", SEED, str(answers)]),
        ("convgrad solve SEED (tables)", [*cg, "solve", SEED]),
        ("convgrad --version", [*cg, "--version"]),
    ]
    print(f"machine: {machine()}")
    print(f"convgrad: {' '.join(cg)}; {runs} runs of each, interleaved with "
          "python -c 'import numpy, yaml'")
    base_count = instructions(BASELINE, env) if counting else 0
    print(f"{'command':36} {'median':>9} {'baseline':>9} {'ratio':>7}"
          + ("  instructions (ratio)" if counting else ""))
    for name, argv in rows:
        base, mine, ratio = paired(argv, runs, env)
        line = f"{name:36} {mine * 1000:6.0f} ms {base * 1000:6.0f} ms {ratio:6.2f}x"
        if counting:
            count = instructions(argv, env)
            line += f"  {count / 1e6:6.0f} M ({count / base_count:.3f}x)"
        print(line)
    if counting:
        print(f"baseline: {base_count / 1e6:.0f} M instructions")


if __name__ == "__main__":
    main()
