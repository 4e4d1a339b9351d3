"""Start-up: `convgrad solve SEED --json`, `check` and others against `import numpy, yaml`.

Run: python benchmarks/bench_startup.py
Goal (issue 7): solve --json within 1.5 times the wall time of importing numpy and yaml.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _timing import command_seconds, convgrad_command, machine

ROOT = Path(__file__).resolve().parent.parent
SEED = str(ROOT / "problems" / "seed_worked_example.yaml")


def main() -> None:
    answers = Path(tempfile.mkdtemp()) / "answers.yaml"
    answers.write_text("dW: [[32, 41], [59, 68]]\ndb: 9\nloss: 23\n", encoding="utf-8")
    cg = convgrad_command()
    rows = [
        ("python -c 'import numpy, yaml'", [sys.executable, "-c", "import numpy, yaml"]),
        ("convgrad solve SEED --json", [*cg, "solve", SEED, "--json"]),
        ("convgrad check SEED answers.yaml", [*cg, "check", SEED, str(answers)]),
        ("convgrad solve SEED (tables)", [*cg, "solve", SEED]),
        ("convgrad --version", [*cg, "--version"]),
    ]
    base = None
    print(f"machine: {machine()}")
    print(f"{'command':40} {'median':>9} {'ratio':>7}")
    for name, argv in rows:
        seconds = command_seconds(argv)
        base = base or seconds
        print(f"{name:40} {seconds * 1000:7.0f} ms {seconds / base:6.2f}x")


if __name__ == "__main__":
    main()
