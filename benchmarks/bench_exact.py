"""Exact arithmetic that scales: whole problems solved in exact fractions.

Run: python benchmarks/bench_exact.py
Goal (issue 7): a 1x28x28 input with eight 3x3 filters and a 3x32x32 input with sixteen
3x3 filters, each in well under a second, exact (padding 1, ReLU, 2x2 max pooling, MSE,
learning rate; inputs in tenths, weights in hundredths, targets in quarters).

The yardstick: the same forward and backward pass written in plain NumPy float64 with
einsum over the windows (conv, ReLU, max pool, MSE, dW, db, dX, the update), timed in the
same run; "x yardstick" is the exact solve's time over the yardstick's.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from _timing import machine, median_seconds
from numpy.lib.stride_tricks import sliding_window_view

import convgrad

CASES = [(1, 28, 8), (3, 32, 16), (3, 64, 16)]
ROUNDS = 7


def problem(C: int, H: int, F: int) -> dict:
    rng = np.random.default_rng(0)

    def fractions(shape: tuple[int, ...], den: int) -> np.ndarray:
        ints = rng.integers(-9, 10, shape)
        return np.vectorize(lambda v: Fraction(int(v), den), otypes=[object])(ints)

    return {"input": fractions((C, H, H), 10), "kernel": fractions((F, C, 3, 3), 100),
            "bias": [Fraction(1, 3)] * F, "padding": 1, "activation": "relu",
            "pool": {"type": "max", "size": 2}, "target": fractions((F, H // 2, H // 2), 4),
            "loss": "mse", "learning_rate": Fraction(1, 10)}


def yardstick(x: np.ndarray, w: np.ndarray, b: np.ndarray, t: np.ndarray, lr: float
              ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pipeline in float64 einsums: x (C, H, W), w (F, C, 3, 3), b (F,), t (F, H/2, W/2)
    -> (loss, dw, db, dx, w_new, b_new). Pad 1, ReLU, 2x2 max pool, MSE."""
    F, C, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    windows = sliding_window_view(x_pad, (KH, KW), axis=(1, 2))  # (C, H, W, KH, KW)
    z = np.einsum("chwpq,fcpq->fhw", windows, w) + b[:, None, None]
    a = np.maximum(z, 0)
    _, H, W = a.shape
    blocks = a.reshape(F, H // 2, 2, W // 2, 2).transpose(0, 1, 3, 2, 4).reshape(
        F, H // 2, W // 2, 4)
    first = blocks.argmax(axis=-1)
    y = np.take_along_axis(blocks, first[..., None], axis=-1)[..., 0]
    diff = y - t
    loss = float((diff * diff).mean())
    dy = diff * (2 / y.size)
    d_blocks = np.zeros_like(blocks)
    np.put_along_axis(d_blocks, first[..., None], dy[..., None], axis=-1)
    da = d_blocks.reshape(F, H // 2, W // 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(F, H, W)
    dz = da * (z > 0)
    dw = np.einsum("chwpq,fhw->fcpq", windows, dz)
    db = dz.sum(axis=(1, 2))
    dz_pad = np.pad(dz, ((0, 0), (KH - 1 - 1, KH - 1 - 1), (KW - 1 - 1, KW - 1 - 1)))
    d_windows = sliding_window_view(dz_pad, (KH, KW), axis=(1, 2))  # (F, H, W, KH, KW)
    dx = np.einsum("fhwpq,fcpq->chw", d_windows, w[:, :, ::-1, ::-1])
    return loss, dw, db, dx, w - lr * dw, b - lr * db


def main() -> None:
    print(f"machine: {machine()}")
    print(f"{'problem':34} {'multiply-adds':>14} {'exact':>10} {'float64':>10} "
          f"{'yardstick':>10} {'x yardstick':>12}")
    for C, H, F in CASES:
        p = problem(C, H, F)
        arrays = [np.asarray(p[key], dtype=np.float64) for key in ("input", "kernel", "bias",
                                                                    "target")]
        lr = float(p["learning_rate"])
        # Interleaved, so that a busy moment of the machine falls on all three alike; the
        # best of ROUNDS rounds of each.
        exact = floats = einsum = float("inf")
        for _ in range(ROUNDS):
            exact = min(exact, median_seconds(lambda p=p: convgrad.solve(p, exact=True),
                                              repeat=1))
            floats = min(floats, median_seconds(lambda p=p: convgrad.solve(p, exact=False),
                                                repeat=1))
            einsum = min(einsum, median_seconds(lambda a=arrays, lr=lr: yardstick(*a, lr),
                                                repeat=5))
        result = convgrad.solve(p, exact=True)
        assert isinstance(result["loss"], Fraction)
        # The yardstick computes the same numbers: a check that it is the same pipeline.
        # (dW and dX only nearly: where two cells of a pooling window are equal exactly,
        # float64 rounding may pick the other one.)
        loss, dw, db, _, _, _ = yardstick(*arrays, lr)
        assert np.isclose(loss, float(result["loss"]))
        assert np.allclose(db, result["db"].astype(np.float64))
        assert np.allclose(dw, result["dW"].astype(np.float64), atol=1e-2)
        print(f"{f'{C}x{H}x{H}, {F} 3x3 filters':34} {F * C * 9 * H * H:14,} "
              f"{exact * 1000:7.0f} ms {floats * 1000:7.0f} ms {einsum * 1000:7.1f} ms "
              f"{exact / einsum:11.0f}x")


if __name__ == "__main__":
    main()
