"""Engine speed: float64 forward + backward of one conv layer, convgrad against PyTorch.

Run: python benchmarks/bench_engine.py     (PyTorch side by side when it is installed)
Goal: at most 0.8 times PyTorch's CPU float64 time (torch.set_num_threads(2), the same
passes: forward, dW, db, dX) on one image of each layer below, and at least 40% of the
machine's float64 matmul rate (a 4096x4096 `a @ b`, measured here); a batch of 8 within
PyTorch's time. Layers: 64x56x56 input with 64 3x3 filters, padding 1; 3x224x224 input
with 64 7x7 filters, stride 2, padding 3; a batch of eight 64x56x56 images through the
first layer. convgrad and PyTorch run in turns (paired), each after a rest that lets the
other library's threads go to sleep and half a second of untimed runs (see turn), and the
ratio is the median of the pairs' ratios: the machine may be shared. Also the peak memory
of one pass against its arrays' size (input, kernel, output, and their gradients).

    python benchmarks/bench_engine.py --cold

times each turn's first run after the rest and one untimed run instead: a pass as a
program that runs it once meets the machine, on virtual machines with its second core
still slow (see WARM).

    python benchmarks/bench_engine.py --threads 1 --cpu-time

runs both on one thread (NumPy's BLAS too) and times each pass by the process's CPU time:
the comparison to use when other programs load the machine, where threads that wait for
one another inflate wall times by more than the work.

    python benchmarks/bench_engine.py --products

also times each pass's three matrix products alone, in the shapes the engine gives them:
what the pass takes beyond them is its copies and adds. Where PyTorch is installed, the same
products on the same operands through PyTorch's BLAS, side by side: how much of the gap
between the passes is the BLAS library rather than the engine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--threads", type=int, default=2, help="threads for PyTorch and NumPy's BLAS")
ARGS.add_argument("--cpu-time", action="store_true",
                  help="time by the process's CPU time (with --threads 1)")
ARGS.add_argument("--cold", action="store_true",
                  help="time the run after one untimed run, not after half a second of them")
ARGS.add_argument("--products", action="store_true",
                  help="also time the pass's three matrix products alone, in its shapes")
OPTIONS = ARGS.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    # Read by the BLAS libraries when they load: set before NumPy is imported.
    os.environ.setdefault(_name, str(OPTIONS.threads))
CLOCK = time.process_time if OPTIONS.cpu_time else time.perf_counter

import numpy as np  # noqa: E402
from _timing import machine  # noqa: E402

from convgrad.arith import Numbers  # noqa: E402
from convgrad.layers import ConvLayer, conv  # noqa: E402
from convgrad.model import Conv, Layer  # noqa: E402

LAYERS = [  # name, batch size N, one sample's shape, kernel, stride, padding
    ("64x56x56, 64 3x3, pad 1", 1, (64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1)),
    ("3x224x224, 64 7x7, stride 2, pad 3", 1, (3, 224, 224), (64, 3, 7, 7), (2, 2),
     (3, 3, 3, 3)),
    ("8 x 64x56x56, 64 3x3, pad 1", 8, (64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1)),
]


def conv_layer(x, w, b, stride, pad):  # type: ignore[no-untyped-def]
    """The conv layer of a run on x (N, C, H, W), in float64, as the engine makes it."""
    F, _, KH, KW = w.shape
    OH = (x.shape[2] + pad[0] + pad[1] - KH) // stride[0] + 1
    OW = (x.shape[3] + pad[2] + pad[3] - KW) // stride[1] + 1
    op = Conv(w=w, b=b, stride=stride, pad=pad, dilation=(1, 1), flip=False,
              kernel_shape=w.shape, bias_scalar=False, padding_text=str(pad[0]))
    numbers = Numbers(exact=False, single=False, too_large=lambda key, what: ValueError(key))
    return ConvLayer(Layer("conv1", "conv", op, x.shape[1:], (F, OH, OW)), numbers)


def convgrad_pass(x, w, b, stride, pad):  # type: ignore[no-untyped-def]
    layer = conv_layer(x, w, b, stride, pad)
    z = layer.forward(x)
    dz = np.ones_like(z)  # dL/dZ of L = sum(Z)
    dx = layer.backward(dz)
    return dx, layer.dw, layer.db


def torch_pass(torch, x, w, b, stride, pad):  # type: ignore[no-untyped-def]
    z = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad[0])
    z.sum().backward()
    x.grad = w.grad = b.grad = None


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """The median of repeated runs of fn, in seconds of CLOCK, after one run to warm up."""
    fn()
    times = []
    for _ in range(repeat):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return statistics.median(times)


def matmul_rate() -> float:
    """The machine's float64 matmul rate, FLOP/s: a 4096x4096 `a @ b`, median of 3."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4096, 4096)), rng.normal(size=(4096, 4096))
    return 2 * 4096**3 / median_time(lambda: a @ b, repeat=3)


def pass_flop(N: int, xs: tuple[int, ...], ws: tuple[int, ...], stride: tuple[int, int],
              pad: tuple[int, ...]) -> int:
    """The multiply-adds (2 FLOP each) of forward, dW and dX: 3 * N*F*C*KH*KW*OH*OW."""
    F, C, KH, KW = ws
    OH = (xs[1] + pad[0] + pad[1] - KH) // stride[0] + 1
    OW = (xs[2] + pad[2] + pad[3] - KW) // stride[1] + 1
    return 3 * 2 * N * F * C * KH * KW * OH * OW


# Seconds of rest before each turn of a pair: after a call, OpenBLAS's and PyTorch's OpenMP
# worker threads spin for a while before they sleep, and a pass that starts while the other
# library's threads still spin shares the cores with them (on 2 cores, turns without the
# rest measured each library at 1.5-4 times its time alone).
REST = 0.2
# Seconds of runs, untimed, after the rest: the library's threads awake and its memory in
# use, as in a program that runs the pass over and over (a training loop). On the virtual
# machines we measure on, a core that has been idle also runs at about half speed for the
# first few tenths of a second of load: two processes copying 1 MB arrays side by side took
# 2.1 ms each back to back and 4.9 ms after 0.2 s idle. One run after the rest did not
# reach the steady state; 0.5 s of them did.
WARM = 0.5
# Timed runs per turn: the turn's time is their median.
RUNS = 5


def turn(fn: Callable[[], object]) -> float:
    """After REST seconds of rest and WARM seconds of runs, the median of RUNS timed runs of
    fn (s); with --cold, after the rest and one run, one timed run."""
    time.sleep(REST)
    end = time.perf_counter() + (0 if OPTIONS.cold else WARM)
    while True:
        fn()
        if time.perf_counter() > end:
            break
    times = []
    for _ in range(1 if OPTIONS.cold else RUNS):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return statistics.median(times)


def paired(ours: Callable[[], object], theirs: Callable[[], object], repeat: int
           ) -> tuple[float, float, float]:
    """(our median s, their median s, median of our/their per pair), run in turns (see
    turn)."""
    pairs = []
    for _ in range(repeat):
        pairs.append((turn(ours), turn(theirs)))
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[0] / p[1] for p in pairs))


def products_time(N: int, xs: tuple[int, ...], ws: tuple[int, ...], stride: tuple[int, int],
                  pad: tuple[int, ...], library: Callable[[np.ndarray], object] = np.asarray
                  ) -> float:
    """The median time (s) of the three matrix products of a pass alone, in the shapes the
    engine gives them (random operands, made beforehand): forward, the kernel (F, C*KH*KW)
    times each sample's windows (C*KH*KW, OH*OW); dW, dout times the windows transposed;
    dX, the kernel turned round (C, F*KH*KW) times dout's windows (F*KH*KW, H*W) with
    stride 1, the kernel's rows (KH*KW*C, F) times dout (F, OH*OW) otherwise. What the pass
    takes beyond them is the copies into windows and the adds. library makes the operands
    its arrays: NumPy's (its BLAS, OpenBLAS in NumPy's wheels) or torch.from_numpy
    (PyTorch's, MKL in its x86 wheels), to compare the BLAS libraries on these shapes."""
    F, C, KH, KW = ws
    OH = (xs[1] + pad[0] + pad[1] - KH) // stride[0] + 1
    OW = (xs[2] + pad[2] + pad[3] - KW) // stride[1] + 1
    K, L, HW = C * KH * KW, OH * OW, xs[1] * xs[2]
    rng = np.random.default_rng(2)
    w, cols, dout = rng.normal(size=(F, K)), rng.normal(size=(N, K, L)), rng.normal(
        size=(N, F, L))
    if stride == (1, 1):
        w_dx, d_cols = rng.normal(size=(C, F * KH * KW)), rng.normal(size=(N, F * KH * KW, HW))
    else:
        w_dx, d_cols = rng.normal(size=(K, F)), dout
    w, cols, dout, w_dx, d_cols = map(library, (w, cols, dout, w_dx, d_cols))

    def products() -> None:
        w @ cols
        if N == 1 and K < conv.DW_TRANSPOSED_ROWS:  # the orientation the engine picks
            cols[0] @ dout[0].T
        else:
            dout @ cols.swapaxes(-1, -2)
        w_dx @ d_cols

    return median_time(products, repeat=15)


def main() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"machine: {machine()}")
    if torch is not None:
        torch.set_num_threads(OPTIONS.threads)
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("PyTorch is not installed: convgrad's figures only (pip install torch to compare)")
    rate = matmul_rate()
    print(f"float64 matmul rate (4096x4096 a @ b): {rate / 1e9:.0f} GFLOP/s; "
          f"NumPy's BLAS on {os.environ['OPENBLAS_NUM_THREADS']} threads, "
          f"{'CPU' if OPTIONS.cpu_time else 'wall'} time")
    print(f"{'layer':38} {'convgrad':>10} {'PyTorch':>10} {'ratio':>7} {'% matmul':>9} "
          f"{'peak/arrays':>12}")
    for name, N, xs, ws, stride, pad in LAYERS:
        x, w, b = rng.normal(size=(N, *xs)), rng.normal(size=ws), rng.normal(size=ws[0])
        ours_pass = partial(convgrad_pass, x, w, b, stride, pad)
        theirs_text, ratio_text = "-", "-"
        if torch is not None:
            tx = torch.tensor(x, requires_grad=True)
            tw = torch.tensor(w, requires_grad=True)
            tb = torch.tensor(b, requires_grad=True)
            ours, theirs, ratio = paired(
                ours_pass, partial(torch_pass, torch, tx, tw, tb, stride, pad),
                repeat=15 if N == 1 else 7)
            theirs_text, ratio_text = f"{theirs * 1000:.1f} ms", f"{ratio:.2f}x"
        else:
            ours = median_time(ours_pass, repeat=7)
        share = pass_flop(N, xs, ws, stride, pad) / ours / rate
        # The buffer the last pass handed on, let go, so that this pass's windows count (a
        # convgrad before the buffer had none: PYTHONPATH=<its src> runs this script too).
        while getattr(conv, "take_spare", lambda: None)() is not None:
            pass
        tracemalloc.start()
        dx, dw, db = convgrad_pass(x, w, b, stride, pad)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        arrays = x.nbytes + w.nbytes + dx.nbytes + dw.nbytes + 2 * 8 * N * ws[0] * (
            (xs[1] + 2 * pad[0] - ws[2]) // stride[0] + 1) ** 2
        print(f"{name:38} {ours * 1000:7.1f} ms {theirs_text:>10} {ratio_text:>7} "
              f"{share:8.0%} {peak / arrays:11.1f}x")
        if OPTIONS.products:
            alone = products_time(N, xs, ws, stride, pad)
            theirs_text = ratio_text = ""
            if torch is not None:
                theirs = products_time(N, xs, ws, stride, pad, torch.from_numpy)
                theirs_text, ratio_text = f"{theirs * 1000:.1f} ms", f"{alone / theirs:.2f}x"
            print(f"  {'its three products alone':36} {alone * 1000:7.1f} ms "
                  f"{theirs_text:>10} {ratio_text:>7} "
                  f"{pass_flop(N, xs, ws, stride, pad) / alone / rate:8.0%}")


if __name__ == "__main__":
    main()
