"""Grading many files: `convgrad check problem.yaml answers/*.yaml` on 1,000 answers files.

Run: python benchmarks/bench_check.py [N] [--case seed|decimal|all]
Goals: 1,000 answer files against one problem in about a second (issue 7); 1,000 answers
files written in decimals for a two-filter problem within 5 times the `import numpy, yaml`
floor (the teacher's loop issue), timed side by side in one run.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import convgrad_command, machine

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed_worked_example.yaml"
ANSWERS = [
    "Y: '3 4; 6 7'\nloss: 23\ndY: [[1, 2], [3, 3]]\ndW: [[32, 41], [59, 68]]\ndb: 9\n"
    "dX: '1 2 0; 2 2 2; -3 0 3'\n",
    "loss: 92\ndW: [[32, 59], [41, 68]]\ndb: -9\ndX: '1 2 0; 2 2 2; -3 0 4'\n",
    "dW[1,2]: 41\ndb: 9.0\nloss: '23'\n",
]

# A homework-sized two-filter problem in decimals: 1x6x6 input, two 3x3 filters, ReLU,
# 2x2 max pool, MSE. Its results are exact fractions with up to 8 decimals.
DECIMAL_PROBLEM = """\
name: two 3x3 filters on a 6x6 input, ReLU, 2x2 max pool, MSE
input:
  - '0.3 -1.25 0.5 2 -0.75 1.1; 1.5 0.2 -0.4 0.9 -1.6 0.05; -2 0.35 1.2 -0.15 0.8 -0.6;
     0.45 -0.9 1.75 0.6 -0.25 1.3; 1 -0.55 0.1 -1.1 2.2 0.7; -0.3 0.65 -1.4 0.25 0.95 -0.8'
kernel:
  - '0.2 -0.5 0.1; 0.4 0.3 -0.25; -0.1 0.6 0.15'
  - '-0.35 0.2 0.45; 0.1 -0.6 0.3; 0.25 0.05 -0.2'
bias: [0.1, -0.05]
activation: relu
pool: {type: max, size: 2}
target:
  - '0.5 -0.2; 0.8 0.1'
  - '0.3 0.6; -0.4 0.25'
loss: mse
""".replace(";\n     ", "; ")
DECIMAL_KEYS = ("loss", "dY", "dW", "db", "dX")


def _decimal(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _written(name: str, value: np.ndarray, places: int, as_string: bool) -> str:
    """One key of an answers file: nested YAML lists, or one matrix string per filter."""
    value = np.squeeze(value)
    if value.ndim == 0:
        return f"{name}: {_decimal(float(value), places)}\n"
    if value.ndim == 1:
        return f"{name}: [{', '.join(_decimal(float(v), places) for v in value)}]\n"
    if value.ndim == 2:
        value = value[None]
    if as_string:
        mats = ["'" + "; ".join(" ".join(_decimal(float(v), places) for v in row) for row in m)
                + "'" for m in value]
        return f"{name}:\n" + "".join(f"  - {m}\n" for m in mats)
    rows = ["[" + ", ".join("[" + ", ".join(_decimal(float(v), places) for v in row) + "]"
                            for row in m) + "]" for m in value]
    return f"{name}:\n" + "".join(f"  - {r}\n" for r in rows)


def decimal_answers(n: int) -> list[str]:
    """n answers files in decimals: most right to 6, 7 or 8 decimals (trailing zeros
    dropped, so many entries show 4 or 5), every third with a slip: one entry's sign, one
    entry off, dW rounded to 4 decimals, db doubled, dY's filters swapped."""
    import convgrad

    result = convgrad.solve(DECIMAL_PROBLEM)
    exact = {key: np.asarray(result[key], dtype=np.float64) for key in DECIMAL_KEYS}
    rng = np.random.default_rng(7)
    texts = []
    for k in range(n):
        values = {key: value.copy() for key, value in exact.items()}
        # Each student rounds to 6, 7 or 8 decimals (all within the default tolerance).
        places = dict.fromkeys(DECIMAL_KEYS, int(rng.integers(6, 9)))
        if k % 3 == 2:
            slip = k // 3 % 5
            if slip == 0:
                flat = values["dX"].reshape(-1)
                flat[rng.integers(flat.size)] *= -1
                flat[rng.integers(flat.size)] += 0.5  # and a zero entry need not be flipped
            elif slip == 1:
                flat = values["dW"].reshape(-1)
                flat[rng.integers(flat.size)] += round(float(rng.uniform(-1, 1)), 2)
            elif slip == 2:
                places["dW"] = 4
            elif slip == 3:
                values["db"] = values["db"] * 2
            else:
                values["dY"] = values["dY"][::-1].copy()
        texts.append("".join(_written(key, values[key], places[key], as_string=k % 2 == 0)
                             for key in DECIMAL_KEYS))
    return texts


def _environment() -> dict[str, str]:
    """As an installed package runs: its bytecode compiled once and kept (here in a folder
    of its own, not beside the sources), as numpy's and yaml's already are."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=tempfile.mkdtemp())
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def interleaved(commands: dict[str, list[str]], rounds: int) -> dict[str, float]:
    """Median wall time of each command, run in turn round after round (after one run of
    each to warm up), so that the load of a shared machine falls on every command alike."""
    env = _environment()
    times: dict[str, list[float]] = {name: [] for name in commands}
    for warm in [True] + [False] * rounds:
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False, env=env)
            if not warm:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(found) for name, found in times.items()}


def seed_case(n: int, folder: Path) -> None:
    files = []
    for k in range(n):
        path = folder / f"student{k:04d}.yaml"
        path.write_text(ANSWERS[k % len(ANSWERS)], encoding="utf-8")
        files.append(str(path))
    for extra in (["--summary"], ["--json"]):
        argv = [*convgrad_command(), "check", str(SEED), *files, *extra]
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, check=False)
        assert done.returncode == 1  # a third of the files have wrong answers
        best = min(interleaved({"check": argv}, 3).values())
        print(f"seed problem, {n} files, check {' '.join(extra):10} {best:6.2f} s  "
              f"({best / n * 1000:.2f} ms a file, start-up included)")


def decimal_case(n: int, folder: Path, rounds: int = 7) -> None:
    problem = folder / "problem.yaml"
    problem.write_text(DECIMAL_PROBLEM, encoding="utf-8")
    answers = folder / "answers"
    answers.mkdir()
    files = []
    for k, text in enumerate(decimal_answers(n)):
        path = answers / f"student{k:04d}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(str(path))
    argv = [*convgrad_command(), "check", str(problem), *files, "--summary"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr  # a third of the files have a slip
    tally = re.search(r"([0-9]+) all right, ([0-9]+) with wrong answers", done.stdout)
    assert tally is not None, done.stdout[-500:]
    seconds = interleaved({"floor": [sys.executable, "-c", "import numpy, yaml"],
                           "check": argv}, rounds)
    print(f"two-filter decimal problem, {n} files ({tally.group(1)} all right, "
          f"{tally.group(2)} with a slip):")
    print(f"  python -c 'import numpy, yaml'            {seconds['floor'] * 1000:7.0f} ms")
    print(f"  convgrad check problem.yaml answers/*.yaml --summary "
          f"{seconds['check'] * 1000:7.0f} ms  = {seconds['check'] / seconds['floor']:.2f}x "
          "the floor (median of interleaved runs)")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--case")]
    case = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--case=")), "all")
    n = int(args[0]) if args else 1000
    print(f"machine: {machine()}")
    if case in ("seed", "all"):
        seed_case(n, Path(tempfile.mkdtemp()))
    if case in ("decimal", "all"):
        decimal_case(n, Path(tempfile.mkdtemp()))


if __name__ == "__main__":
    main()
