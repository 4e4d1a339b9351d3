"""Shapes: padding, output sizes, "same", dilation. Pure functions of integers.

Each function works on one axis (rows or columns); callers apply it twice.
"""

from __future__ import annotations

import math


def dilated_size(k: int, dilation: int) -> int:
    """The span of a kernel of k taps spaced `dilation` apart: d*(k-1) + 1."""
    return dilation * (k - 1) + 1


def conv_output_size(n: int, pad_before: int, pad_after: int, k: int, stride: int,
                     dilation: int) -> int:
    """Ho = floor((H + pad_top + pad_bottom - dh*(kh-1) - 1) / sh) + 1 (SPEC section 2).

    Returns 0 or less when the dilated kernel does not fit the padded input.
    """
    span = n + pad_before + pad_after - dilated_size(k, dilation)
    if span < 0:
        return 0
    return span // stride + 1


def conv_transpose_output_size(n: int, pad: int, k: int, stride: int, dilation: int,
                               output_padding: int) -> int:
    """Ho = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1 (SPEC section 6, ConvTranspose2d):
    input row i spreads its kernel over rows i*sh + p*dh - ph, p < kh, of the output; the
    padding is cut from both ends, output_padding added at the end. 0 or less: no output."""
    return (n - 1) * stride - 2 * pad + dilated_size(k, dilation) + output_padding


def conv_transpose_unreached(n: int, pad: int, k: int, stride: int, dilation: int,
                             out: int) -> list[int]:
    """0-based input positions of a transposed convolution whose every tap falls on the
    padding that is cut off: they reach no output, and their dX entries are 0."""
    return [i for i in range(n)
            if not any(0 <= i * stride + p * dilation - pad < out for p in range(k))]


def same_padding(n: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """Padding for "same": Ho = ceil(H / s); the odd extra row goes after (bottom/right)."""
    out = math.ceil(n / stride)
    total = max((out - 1) * stride + dilated_size(k, dilation) - n, 0)
    return total // 2, total - total // 2


def pool_output_size(n: int, size: int, stride: int) -> int:
    """Windows that do not fit are dropped: floor((H - ph) / s) + 1, 0 when none fits."""
    if n < size:
        return 0
    return (n - size) // stride + 1


def uncovered(n: int, pad_before: int, k: int, stride: int, dilation: int, out: int) -> list[int]:
    """0-based input positions (rows or columns) that no kernel tap ever meets.

    Tap p of output i reads padded position i*stride + p*dilation; the input
    position is that minus pad_before. Padding itself is not reported.
    """
    met = [False] * n
    for p in range(k):
        for i in range(out):
            pos = i * stride + p * dilation - pad_before
            if 0 <= pos < n:
                met[pos] = True
    return [pos for pos, hit in enumerate(met) if not hit]


def pool_dropped(n: int, size: int, stride: int, out: int) -> list[int]:
    """0-based input positions that no pooling window covers."""
    met = [False] * n
    for i in range(out):
        for p in range(size):
            met[i * stride + p] = True
    return [pos for pos, hit in enumerate(met) if not hit]
