"""Printing large problems.

Run: python benchmarks/bench_render.py [--before PATH/TO/OLD/src]

1. `convgrad solve` of a 3x224x224 input, 64 7x7 filters, stride 2. Goal (issue 7): with
   --terms auto the whole command prints in about a second. The problem file is written with
   matrix strings (one string per channel), the fast form for large data.
2. A 3x32x32 input, sixteen 3x3 filters, padding 1, ReLU, 2x2 max pooling, MSE (the speed
   issue's problem): `convgrad explain` in at most 2,000 lines (each step cut to its region),
   and `convgrad solve --terms all` (16 MB of text) at 5 MB/s or more.

3. A 16x64x64 input, sixteen 3x3x16 filters, padding 1, dL/dY of ones: the HTML a notebook
   shows (`Result._repr_html_`). Goal: under a second and about 200 KB (it took 82 s and
   7.4 MB when every dL/dw named its 8,192 cells).

With --before, the second and third problems are also run by the convgrad whose source is PATH
(PYTHONPATH=PATH), interleaved run by run with this one (which goes first alternates), and
the medians of the pairs' ratios are printed. Byte-code is written as an installed package
has it (PYTHONDONTWRITEBYTECODE is dropped for the runs; each command runs once untimed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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


def conv_relu_pool_problem() -> str:
    """The speed issue's problem: 3x32x32, 16 3x3 filters, pad 1, ReLU, 2x2 max pool, MSE."""
    rng = np.random.default_rng(0)
    x = rng.integers(-9, 10, (3, 32, 32))
    w = rng.integers(-9, 10, (16, 3, 3, 3))
    t = rng.integers(-9, 10, (16, 16, 16))
    kernel = "\n".join("  - [" + ", ".join(
        '"' + "; ".join(" ".join(map(str, r)) for r in c) + '"' for c in f) + "]" for f in w)
    return (f"input:\n{matrix_strings(x)}\nkernel:\n{kernel}\nbias: {[1] * 16}\n"
            "padding: 1\nactivation: relu\npool: {type: max, size: 2}\n"
            f"target:\n{matrix_strings(t)}\nloss: mse\n")


# Byte-code is written and read as an installed package has it: without
# PYTHONDONTWRITEBYTECODE, and after a first run that is not timed (each run would compile
# every module otherwise).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=True, env=env)
    return time.perf_counter() - start, done.stdout


def conv_relu_pool(before: str | None, repeat: int = 5) -> None:
    path = Path(tempfile.mkdtemp()) / "conv_relu_pool.yaml"
    path.write_text(conv_relu_pool_problem(), encoding="utf-8")
    runs = {"this": ENV} if before is None else {
        "this": ENV, "before": {**ENV, "PYTHONPATH": before}}
    for what in ("explain", "solve"):
        argv = [*convgrad_command(), what, str(path)]
        if what == "solve":
            argv += ["--terms", "all"]
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        out = {name: timed(argv, env)[1] for name, env in runs.items()}  # not timed
        for k in range(repeat):  # interleaved: the machine's load moves both alike
            # alternate which goes first, so that neither always follows the other
            for name, env in (runs.items() if k % 2 == 0 else reversed(runs.items())):
                took, out[name] = timed(argv, env)
                seconds[name].append(took)
        for name in runs:
            median = statistics.median(seconds[name])
            size = len(out[name])
            if what == "explain":
                print(f"{name:6} explain 3x32x32    {median:6.2f} s, "
                      f"{len(out[name].splitlines()):,} lines")
            else:
                print(f"{name:6} solve --terms all  {median:6.2f} s, {size / 1e6:.1f} MB, "
                      f"{size / 1e6 / median:.1f} MB/s")
        if before is not None:
            # the median of each pair's ratio
            ratio = statistics.median(b / t for b, t in zip(seconds["before"], seconds["this"],
                                                             strict=True))
            same = "same bytes" if out["this"] == out["before"] else "different bytes"
            print(f"       {what}: {ratio:.2f}x faster than before (median of {repeat} "
                  f"paired runs; {same})")


# The notebook's view of a medium problem, timed inside the process: the solve and the
# imports are not the figure.
NOTEBOOK = """
import time
import numpy as np
import convgrad
import convgrad.render.html  # as after a first view: the modules are loaded
rng = np.random.default_rng(0)
result = convgrad.solve({
    "input": rng.integers(-3, 4, (16, 64, 64)).tolist(),
    "kernel": rng.integers(-2, 3, (16, 16, 3, 3)).tolist(), "bias": [0] * 16,
    "padding": 1, "grad_output": np.ones((16, 64, 64), dtype=int).tolist()})
start = time.perf_counter()
div = result._repr_html_()
print(time.perf_counter() - start, len(div.encode()))
"""


def notebook_html(before: str | None, repeat: int = 5) -> None:
    runs = {"this": ENV} if before is None else {
        "this": ENV, "before": {**ENV, "PYTHONPATH": before}}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    size: dict[str, int] = {}
    for k in range(repeat):  # interleaved, which goes first alternating, as above
        for name, env in (runs.items() if k % 2 == 0 else reversed(runs.items())):
            done = subprocess.run([sys.executable, "-c", NOTEBOOK], capture_output=True,
                                  check=True, env=env, text=True)
            took, length = done.stdout.split()
            seconds[name].append(float(took))
            size[name] = int(length)
    for name in runs:
        print(f"{name:6} notebook html 16x64x64 {statistics.median(seconds[name]):7.3f} s, "
              f"{size[name] / 1e3:,.0f} KB")
    if before is not None:
        ratio = statistics.median(b / t for b, t in zip(seconds["before"], seconds["this"],
                                                         strict=True))
        print(f"       notebook html: {ratio:,.0f}x faster than before (median of {repeat} "
              "paired runs)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="the src folder of another convgrad to compare with")
    parser.add_argument("--only", choices=["image", "conv_relu_pool", "notebook_html"])
    parser.add_argument("--repeat", type=int, default=5, help="paired runs of each command")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.only in (None, "conv_relu_pool"):
        conv_relu_pool(args.before, args.repeat)
    if args.only in (None, "notebook_html"):
        notebook_html(args.before, args.repeat)
    if args.only in (None, "image"):
        image()


def image() -> None:
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
    print(f"problem file: {path.stat().st_size / 2**20:.1f} MiB")
    for terms in ("auto", "none"):
        argv = [*convgrad_command(), "solve", str(path), "--terms", terms]
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=ENV)  # not timed
        seconds, out = timed(argv, ENV)
        print(f"solve --terms {terms:5} {seconds:6.2f} s, {len(out.splitlines()):,} "
              "lines printed")
    seconds, _ = timed([*convgrad_command(), "solve", str(path), "--json"], ENV)
    print(f"solve --json       {seconds:6.2f} s")


if __name__ == "__main__":
    main()
