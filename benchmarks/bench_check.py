"""Grading many files: `convgrad check problem.yaml answers/*.yaml` on 1,000 answers files.

Run: python benchmarks/bench_check.py [N]
Goal (issue 7): 1,000 answer files against one problem in about a second.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import convgrad_command, machine

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed_worked_example.yaml"
ANSWERS = [
    "Y: '3 4; 6 7'\nloss: 23\ndY: [[1, 2], [3, 3]]\ndW: [[32, 41], [59, 68]]\ndb: 9\n"
    "dX: '1 2 0; 2 2 2; -3 0 3'\n",
    "loss: 92\ndW: [[32, 59], [41, 68]]\ndb: -9\ndX: '1 2 0; 2 2 2; -3 0 4'\n",
    "dW[1,2]: 41\ndb: 9.0\nloss: '23'\n",
]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    folder = Path(tempfile.mkdtemp())
    files = []
    for k in range(n):
        path = folder / f"student{k:04d}.yaml"
        path.write_text(ANSWERS[k % len(ANSWERS)], encoding="utf-8")
        files.append(str(path))
    print(f"machine: {machine()}")
    for extra in (["--summary"], ["--json"]):
        argv = [*convgrad_command(), "check", str(SEED), *files, *extra]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - start)
        assert done.returncode == 1  # a third of the files have wrong answers
        best = min(times)
        print(f"check {n} files {' '.join(extra):10} {best:6.2f} s  "
              f"({best / n * 1000:.2f} ms a file, start-up included)")


if __name__ == "__main__":
    main()
