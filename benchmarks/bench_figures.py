"""The five speed figures of the README's table in one run, each beside its yardstick.

Run: python benchmarks/bench_figures.py [--rounds N]

1. float64 forward + backward of a conv layer (64x56x56 with 64 3x3 filters, pad 1; and
   3x224x224 with 64 7x7 filters, stride 2, pad 3) against PyTorch (2 threads) when it is
   installed, and as a share of the machine's float64 matmul rate (4096x4096 `a @ b`);
2. `convgrad solve SEED --json`, the whole command, against `python -c "import numpy, yaml"`;
3. an exact solve of a 3x32x32 input with sixteen 3x3 filters (pad 1, ReLU, max pool, MSE,
   update) against the same pipeline in NumPy float64 einsums;
4. `convgrad explain` of a 3x32x32 problem (sixteen 3x3 filters, ReLU, max pool, MSE): lines;
5. `convgrad solve --terms all` of the same problem: MB/s.

Each pair is measured in turns (the machine's load falls on both alike) and its ratio is the
median of the pairs' ratios. To compare with another convgrad, run this script again with
PYTHONPATH=PATH/TO/OTHER/src: the yardsticks make the two runs comparable.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import bench_engine
import bench_exact
import bench_render
import bench_startup
import numpy as np
from _timing import convgrad_command, machine

import convgrad


def engine(rounds: int) -> None:
    try:
        import torch
    except ImportError:
        torch = None
    rate = bench_engine.matmul_rate()
    rng = np.random.default_rng(0)
    for name, N, xs, ws, stride, pad in bench_engine.LAYERS[:2]:
        x, w, b = rng.normal(size=(N, *xs)), rng.normal(size=ws), rng.normal(size=ws[0])
        ours = partial(bench_engine.convgrad_pass, x, w, b, stride, pad)
        share = bench_engine.pass_flop(N, xs, ws, stride, pad) / rate
        if torch is None:
            seconds = bench_engine.median_time(ours, rounds)
            print(f"1. {name:36} {seconds * 1000:7.1f} ms  {share / seconds:4.0%} of matmul "
                  "(PyTorch not installed)")
            continue
        torch.set_num_threads(2)
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        theirs = partial(bench_engine.torch_pass, torch, tx, tw, tb, stride, pad)
        mine, them, ratio = bench_engine.paired(ours, theirs, rounds)
        print(f"1. {name:36} {mine * 1000:7.1f} ms  PyTorch {them * 1000:6.1f} ms  "
              f"{ratio:4.2f}x  {share / mine:4.0%} of matmul (PyTorch {share / them:4.0%})")


def startup(rounds: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    argv = [*bench_startup._command(), "solve", bench_startup.SEED, "--json"]
    base, mine, ratio = bench_startup.paired(argv, rounds, env)
    print(f"2. solve SEED --json                  {mine * 1000:7.0f} ms  import numpy, yaml "
          f"{base * 1000:4.0f} ms  {ratio:4.2f}x")


def exact(rounds: int) -> None:
    p = bench_exact.problem(3, 32, 16)
    arrays = [np.asarray(p[k], dtype=np.float64) for k in ("input", "kernel", "bias", "target")]
    lr = float(p["learning_rate"])
    ours = theirs = float("inf")
    for _ in range(rounds):  # the best of each, in turns
        start = time.perf_counter()
        convgrad.solve(p, exact=True)
        middle = time.perf_counter()
        for _ in range(5):
            bench_exact.yardstick(*arrays, lr)
        ours = min(ours, middle - start)
        theirs = min(theirs, (time.perf_counter() - middle) / 5)
    print(f"3. exact 3x32x32, 16 3x3 filters       {ours * 1000:7.0f} ms  einsum yardstick "
          f"{theirs * 1000:4.1f} ms  {ours / theirs:4.1f}x")


def large_output(rounds: int) -> None:
    path = Path(tempfile.mkdtemp()) / "conv_relu_pool.yaml"
    path.write_text(bench_render.conv_relu_pool_problem(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    _, text = bench_render.timed([*convgrad_command(), "explain", str(path)], env)
    print(f"4. explain 3x32x32, 16 3x3 filters     {len(text.splitlines()):,} lines")
    seconds = []
    for _ in range(rounds):
        took, out = bench_render.timed([*convgrad_command(), "solve", str(path), "--terms",
                                        "all"], env)
        seconds.append(took)
    median = statistics.median(seconds)
    print(f"5. solve --terms all, same problem     {len(out) / 1e6:.1f} MB in {median:.2f} s, "
          f"{len(out) / 1e6 / median:.1f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="pairs per figure (default 9)")
    rounds = parser.parse_args().rounds
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {machine()}; load {load:.1f}; convgrad from "
          f"{Path(convgrad.__file__).parent}")
    engine(rounds)
    startup(max(rounds, 21))
    exact(rounds)
    large_output(3)


if __name__ == "__main__":
    main()
