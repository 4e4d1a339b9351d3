"""Printing a large problem: `convgrad solve` of a 3x224x224 input, 64 7x7 filters, stride 2.

Run: python benchmarks/bench_render.py
Goal (issue 7): with --terms auto the whole command prints in about a second. The problem
file is written with matrix strings (one string per channel), the fast form for large data.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import convgrad_command, machine


def matrix_strings(arr: np.ndarray) -> str:
    lines = []
    for plane in arr.reshape(-1, *arr.shape[-2:]):
        lines.append('  - "' + "; ".join(" ".join(map(str, row)) for row in plane) + '"')
    return "\n".join(lines)


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 224, 224))  # an image: 8-bit pixels
    w = rng.integers(-3, 4, (64, 3, 7, 7))
    dy = rng.integers(-2, 3, (64, 112, 112))
    def channels(f: np.ndarray) -> str:  # one filter: a matrix string per channel
        return ", ".join('"' + "; ".join(" ".join(map(str, r)) for r in c) + '"' for c in f)

    kernel = "\n".join(f"  - [{channels(f)}]" for f in w)
    text = (f"input:\n{matrix_strings(x)}\nkernel:\n{kernel}\nstride: 2\npadding: 3\n"
            f"grad_output:\n{matrix_strings(dy)}\n")
    path = Path(tempfile.mkdtemp()) / "large.yaml"
    path.write_text(text, encoding="utf-8")
    print(f"machine: {machine()}")
    print(f"problem file: {path.stat().st_size / 2**20:.1f} MiB")
    for terms in ("auto", "none"):
        argv = [*convgrad_command(), "solve", str(path), "--terms", terms]
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - start
        print(f"solve --terms {terms:5} {seconds:6.2f} s, {len(done.stdout.splitlines()):,} "
              "lines printed")
    start = time.perf_counter()
    subprocess.run([*convgrad_command(), "solve", str(path), "--json"],
                   stdout=subprocess.DEVNULL, check=True)
    print(f"solve --json       {time.perf_counter() - start:6.2f} s")


if __name__ == "__main__":
    main()
