"""Shapes: padding, output sizes, "same", dilation. Pure functions of integers.

Each function works on one axis (rows or columns); callers apply it twice.
"""

from __future__ import annotations

import math

import numpy as np


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


def working_stride(stride: tuple[int, int], out: tuple[int, ...], padded: tuple[int, int]
                   ) -> tuple[int, int]:
    """The stride the arithmetic moves by: on an axis with one window (or none), where the
    stride never moves it, at most the padded input's size (`padded`), which keeps windows
    apart as the stride written does. A stride beyond the padded input is then only as
    written (and shown): taken as it is, it overflowed NumPy's int64, or made dX's phase
    planes as many as the stride squared (minutes and gigabytes for stride 10000 on a 3x4
    input). With two windows or more, the stride is within the padded input already."""
    return (stride[0] if out[0] > 1 else min(stride[0], padded[0]),
            stride[1] if out[1] > 1 else min(stride[1], padded[1]))


def working_dilation(dilation: tuple[int, int], kernel: tuple[int, ...]) -> tuple[int, int]:
    """The dilation the arithmetic spaces taps by: 1 along an axis with one tap, which it
    never spaces (dilation 2**63 on a 1x1 kernel overflowed NumPy's int64). With two taps or
    more, the dilated kernel fits the padded input, so the dilation is within it."""
    return (dilation[0] if kernel[0] > 1 else 1, dilation[1] if kernel[1] > 1 else 1)


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


def same_total(n: int, k: int, stride: int, dilation: int = 1) -> int:
    """The padding "same" needs along one axis: Ho = ceil(H / s), total = max((Ho-1)*s +
    d*(k-1) + 1 - H, 0)."""
    out = math.ceil(n / stride)
    return max((out - 1) * stride + dilated_size(k, dilation) - n, 0)


def split_padding(total: int, rule: str = "end") -> tuple[int, int] | None:
    """(before, after) of `total` by the same_padding convention: end puts the odd extra row
    or column after (TensorFlow), start before (ONNX SAME_LOWER), symmetric needs an even
    total (None when it is odd: no equal split exists)."""
    if rule == "symmetric":
        return None if total % 2 else (total // 2, total // 2)
    small, large = total // 2, total - total // 2
    return (large, small) if rule == "start" else (small, large)


def same_padding(n: int, k: int, stride: int, dilation: int, rule: str = "end"
                 ) -> tuple[int, int]:
    """Padding for "same": Ho = ceil(H / s); the odd extra row goes after (bottom/right) by
    default, before with rule "start". The "symmetric" rule's refusals are the reader's."""
    split = split_padding(same_total(n, k, stride, dilation), rule)
    assert split is not None, "an odd total under same_padding: symmetric"
    return split


def pool_output_size(n: int, size: int, stride: int, before: int = 0, after: int = 0,
                     ceil: bool = False) -> int:
    """Pooling windows along one axis of n cells padded by before and after: floor((H + pads
    - ph) / s) + 1; with ceil, rounded up instead, but a last window that would start in the
    after-padding (at or beyond before + H) is not kept (as PyTorch's ceil_mode). 0 when no
    window fits."""
    span = n + before + after - size
    if not ceil:
        return span // stride + 1 if span >= 0 else 0
    # Rounded up, a first window larger than the padded input is kept when it overhangs by
    # less than the stride (PyTorch's and Caffe's ceil((H + pads - ph) / s) + 1 is then 1).
    out = max(-(-span // stride) + 1, 0)
    if out and (out - 1) * stride >= n + before:
        out -= 1
    return out


def pool_window_cells(n: int, size: int, stride: int, before: int, after: int, out: int,
                      padding_counts: bool) -> np.ndarray:
    """For each of the `out` windows along one axis, how many of its cells an average
    counts: those inside the padded input (padding_counts; a ceil window's overhang beyond
    the padding is not) or those of the input itself. (out,) ints."""
    start = np.arange(out) * (stride if out > 1 else 1)  # see working_stride
    if padding_counts:
        return np.minimum(start + size, n + before + after) - start
    return np.minimum(start + size, n + before) - np.maximum(start, before)


def uncovered(n: int, pad_before: int, k: int, stride: int, dilation: int, out: int,
              pad_after: int = 0, mode: str = "zeros") -> list[int]:
    """0-based input positions (rows or columns) that no kernel tap ever meets.

    Tap p of output i reads padded position i*stride + p*dilation; the input
    position is that minus pad_before. Padding itself is not reported; but a padded
    position that copies an input one (mode reflect, replicate, circular: pad_source)
    meets that one, whose dX then gathers the copy's gradient.
    """
    # see working_stride: a stride or a dilation never used moves nothing
    stride, dilation = (stride if out > 1 else 1), (dilation if k > 1 else 1)
    reach = (np.arange(out)[:, np.newaxis] * stride + np.arange(k) * dilation).ravel()
    # Taps never reach past the padded input; a zeros caller may leave pad_after out.
    after = max(pad_after, int(reach.max(initial=0)) + 1 - pad_before - n, 0)
    met = np.zeros(n, dtype=bool)
    sources = pad_source(n, pad_before, after, mode)[reach]
    met[sources[sources >= 0]] = True
    return [int(pos) for pos in np.flatnonzero(~met)]


def pool_dropped(n: int, size: int, stride: int, out: int, before: int = 0) -> list[int]:
    """0-based input positions that no pooling window covers (window i covers padded
    positions i*stride .. i*stride + size - 1; the input starts at `before`)."""
    met = [False] * n
    for i in range(out):
        for p in range(size):
            pos = i * stride + p - before
            if 0 <= pos < n:
                met[pos] = True
    return [pos for pos, hit in enumerate(met) if not hit]


def pad_source(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each of the n + before + after padded positions along one axis, the input position
    (0-based) whose value it holds, or -1 for a zero (mode "zeros"), as PyTorch's padding
    modes fill it: reflect mirrors across the edge without repeating it (needs before, after
    < n), replicate repeats the edge, circular wraps around (needs before, after <= n)."""
    t = np.arange(-before, n + after)
    if mode == "reflect":
        return np.where(t < 0, -t, np.where(t >= n, 2 * (n - 1) - t, t))
    if mode == "replicate":
        return np.clip(t, 0, n - 1)
    if mode == "circular":
        return t % n
    return np.where((t >= 0) & (t < n), t, -1)
