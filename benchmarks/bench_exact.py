"""Exact arithmetic that scales: whole problems solved in exact fractions.

Run: python benchmarks/bench_exact.py
Goal (issue 7): a 1x28x28 input with eight 3x3 filters and a 3x32x32 input with sixteen
3x3 filters, each in well under a second, exact (padding 1, ReLU, 2x2 max pooling, MSE,
learning rate; inputs in tenths, weights in hundredths, targets in quarters).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from _timing import machine, median_seconds

import convgrad

CASES = [(1, 28, 8), (3, 32, 16), (3, 64, 16)]


def problem(C: int, H: int, F: int) -> dict:
    rng = np.random.default_rng(0)

    def fractions(shape: tuple[int, ...], den: int) -> np.ndarray:
        ints = rng.integers(-9, 10, shape)
        return np.vectorize(lambda v: Fraction(int(v), den), otypes=[object])(ints)

    return {"input": fractions((C, H, H), 10), "kernel": fractions((F, C, 3, 3), 100),
            "bias": [Fraction(1, 3)] * F, "padding": 1, "activation": "relu",
            "pool": {"type": "max", "size": 2}, "target": fractions((F, H // 2, H // 2), 4),
            "loss": "mse", "learning_rate": Fraction(1, 10)}


def main() -> None:
    print(f"machine: {machine()}")
    print(f"{'problem':34} {'multiply-adds':>14} {'exact':>10} {'float64':>10}")
    for C, H, F in CASES:
        p = problem(C, H, F)
        exact = median_seconds(lambda p=p: convgrad.solve(p, exact=True), repeat=3)
        floats = median_seconds(lambda p=p: convgrad.solve(p, exact=False), repeat=3)
        result = convgrad.solve(p, exact=True)
        assert isinstance(result["loss"], Fraction)
        print(f"{f'{C}x{H}x{H}, {F} 3x3 filters':34} {F * C * 9 * H * H:14,} "
              f"{exact * 1000:7.0f} ms {floats * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
