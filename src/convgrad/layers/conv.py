"""Convolution (cross-correlation, as every framework): forward by im2col and one matmul,
dW by one matmul with the same columns, dX by the same kind of product over dout (stride
1) or by scattering dout through the kernel offsets into phase planes. The whole batch goes
through each matmul at once: one batched matmul over the samples' columns. Backward makes
dX in the buffer of forward's windows, and hands it on to the next layer's forward pass.

Z[n,f,i,j] = b[f] + sum over c,p,q of x_pad[n, g*C/G + c, i*sh + p*dh, j*sw + q*dw] * w[f,c,p,q]
(SPEC section 2, per sample), c running over the C/G channels of filter f's group
g = f // (F/G) (PyTorch's Conv2d(groups=G); G = 1: every channel); with flip, w is rotated
180 degrees first and dW is still reported for w as written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property
from typing import ClassVar, cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convgrad import geometry
from convgrad.arith import Numbers, divide, integers, plus, scaled_matmul, total, zeros
from convgrad.layers.base import Grid, Index, ParamLayer, Term
from convgrad.model import Conv, Conventions
from convgrad.model import Layer as LayerSpec
from convgrad.numbers import Number


def pad_input(x: np.ndarray, pad: tuple[int, int, int, int], mode: str = "zeros") -> np.ndarray:
    """x (..., H, W) -> x_pad (..., H + top + bottom, W + left + right): a batch (N, C, H, W)
    or one sample (C, H, W), with zeros around, or (mode reflect, replicate, circular) with
    copies of input cells, as geometry.pad_source maps them."""
    *lead, H, W = x.shape
    top, bottom, left, right = pad
    if not any(pad):
        return x
    if mode != "zeros":
        rows = geometry.pad_source(H, top, bottom, mode)
        cols = geometry.pad_source(W, left, right, mode)
        return x[..., rows[:, np.newaxis], cols]
    x_pad = zeros((*lead, H + top + bottom, W + left + right), x)
    x_pad[..., top:top + H, left:left + W] = x
    return x_pad


def unpad(dx_pad: np.ndarray, pad: tuple[int, int, int, int], mode: str = "zeros"
          ) -> np.ndarray:
    """The gradient of pad_input: dx_pad (..., Hp, Wp) -> dx (..., H, W). A padded cell that
    copies an input cell (reflect, replicate, circular) hands its gradient to that cell;
    zeros padding's gradient is dropped."""
    *_, Hp, Wp = dx_pad.shape
    top, bottom, left, right = pad
    H, W = Hp - top - bottom, Wp - left - right
    if mode == "zeros" or not any(pad):
        return dx_pad[..., top:top + H, left:left + W]
    # Rows first: the inner rows as they are, then each padding row added to the row it
    # copies (np.add.at adds every copy, when several pad rows copy the same row); then
    # the columns likewise. Only the padding is scattered, never the whole array.
    # (np.add.at indexes the first axis: each pass moves its axis there, as views.)
    border = np.r_[0:top, top + H:Hp]
    rows = dx_pad[..., top:top + H, :].copy()
    np.add.at(np.moveaxis(rows, -2, 0), geometry.pad_source(H, top, bottom, mode)[border],
              np.moveaxis(dx_pad[..., border, :], -2, 0))
    border = np.r_[0:left, left + W:Wp]
    dx = rows[..., left:left + W].copy()
    np.add.at(np.moveaxis(dx, -1, 0), geometry.pad_source(W, left, right, mode)[border],
              np.moveaxis(rows[..., border], -1, 0))
    return dx


# --- buffers ----------------------------------------------------------------------------


def scratch(spare: np.ndarray | None, shape: tuple[int, ...], like: np.ndarray) -> np.ndarray:
    """An array of `shape` in like's arithmetic, its entries not set: the first entries of
    spare (a flat array a pass has finished with) when it is large enough and of that
    arithmetic, else a new one. Reusing a buffer spares the page faults of fresh memory,
    which cost about as much as a copy."""
    dtype = object if like.dtype == object else np.float64
    size = math.prod(shape)
    if spare is not None and spare.dtype == dtype and spare.size >= size:
        return spare[:size].reshape(shape)
    return np.empty(shape, dtype=dtype)


# The buffer of a float64 layer's windows, handed back when its backward pass is done and
# taken by the next layer's forward pass (this run's or the next one's), so that a run of
# same-sized layers writes its windows into memory already faulted in. One buffer is kept,
# of at most this many entries (64 MB).
SPARE_ENTRIES = 2**23
_spares: list[np.ndarray] = []


def take_spare() -> np.ndarray | None:
    """The buffer handed back last (see hand_back), now the caller's; None if there is none."""
    try:
        return _spares.pop()
    except IndexError:  # (pop is atomic: two runs on two threads never share a buffer)
        return None


def hand_back(arr: np.ndarray) -> None:
    """Keeps the memory under arr (float64, a pass done with it) for the next take_spare:
    the whole buffer arr was cut from, unless it is larger than SPARE_ENTRIES."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    if arr.dtype == np.float64 and arr.flags.c_contiguous and arr.size <= SPARE_ENTRIES:
        _spares[:] = [arr.reshape(-1)]


# --- the passes --------------------------------------------------------------------------

# Every kernel row is unrolled at once when the full im2col matrix has at most this many
# entries (32 MB in float64): one product with C/G*KH*KW rows runs faster than KH shorter
# ones whose partial outputs are then added up, for the price of KH times the copying.
FULL_UNROLL_ENTRIES = 2**22


def kernel_rows_per_block(Cg: int, Fg: int, KH: int, KW: int, positions: int) -> int:
    """How many kernel rows im2col unrolls together for `positions` outputs (every
    sample's): KH (every offset; one product with C/G*KH*KW rows) or 1 (only the columns;
    KH products, each with C/G*KW rows, added up).

    Every row at once while the full matrix stays within FULL_UNROLL_ENTRIES, or when a
    row's block is too short for BLAS to run near its best (64) or shorter than the output
    it adds to; one row at a time otherwise, which copies KH times less of the input.
    """
    if Cg * KH * KW * positions <= FULL_UNROLL_ENTRIES or Cg * KW < max(64, Fg):
        return KH
    return 1


def im2col(x_pad: np.ndarray, KH: int, KW: int, stride: tuple[int, int],
           dilation: tuple[int, int], OH: int, OW: int, u: int,
           spare: np.ndarray | None = None) -> np.ndarray:
    """x_pad (N, C, Hp, Wp) -> cols (N, C, u, KW, A, Hq, OW), kernel rows unrolled u at a
    time (u = 1 or KH, see kernel_rows_per_block): cols[n, c, r, q, a, t, j] =
    x_pad[n, c, t*sh + a + r*dh, j*sw + q*dw], the rows split by their phase a modulo the
    stride (A phases: 1 when u = KH) and rows past x_pad's last left zero (never read).
    cols is made in spare (else in the buffer take_spare gives) when it is large enough
    (see scratch).

    The block of kernel rows k*u .. k*u + u - 1 then reads its windows at rows t = i +
    k*u*dh // sh of phase k*u*dh % sh, consecutive: `window_rows` gives them as a view
    (N, C*u*KW, OH*OW), rows (c, r, q), that BLAS takes as it is, and the output is the
    sum over the blocks of the kernel's rows times that view.
    """
    N, C, Hp, _ = x_pad.shape
    sh, sw = stride
    dh, dw = dilation
    A = 1 if u == KH else sh
    Hq = OH + (KH - u) * dh // sh
    windows = sliding_window_view(x_pad, (dh * (u - 1) + 1, dw * (KW - 1) + 1), axis=(2, 3))
    windows = windows[:, :, :, :sw * (OW - 1) + 1:sw, ::dh, ::dw]  # (N, C, ., OW, u, KW)
    if spare is None and x_pad.dtype != object:
        spare = take_spare()
    cols = scratch(spare, (N, C, u, KW, A, Hq, OW), x_pad)
    for a in range(A):  # one copy per phase: one with stride 1
        phase = windows[:, :, a::sh][:, :, :Hq]
        rows = phase.shape[2]
        if rows:
            cols[:, :, :, :, a, :rows] = phase.transpose(0, 1, 4, 5, 2, 3)
        if rows < Hq:
            cols[:, :, :, :, a, rows:] = 0
    return cols


def unroll_zero_padded(x: np.ndarray, top: int, left: int, KH: int, KW: int,
                       stride: tuple[int, int], dilation: tuple[int, int], OH: int, OW: int,
                       spare: np.ndarray | None = None) -> np.ndarray:
    """im2col with every kernel row at once (u = KH) of x (N, C, H, W) padded with zeros
    (top rows above, left columns before; a negative one crops), without the padded copy:
    cols (N, C, KH, KW, 1, OH, OW), cols[n, c, p, q, 0, i, j] = x[n, c, i*sh + p*dh - top,
    j*sw + q*dw - left], 0 where that cell is outside x. Per kernel offset, the outputs
    whose tap falls on x get one copy and the others zeros (a loop over the offsets)."""
    N, C, H, W = x.shape
    sh, sw = stride
    dh, dw = dilation
    if spare is None and x.dtype != object:
        spare = take_spare()
    cols = scratch(spare, (N, C, KH, KW, 1, OH, OW), x)

    def reach(first: int, step: int, n: int, count: int) -> tuple[int, int]:
        """The outputs lo:hi whose cell first + i*step is in 0:n."""
        lo = min(count, max(0, -(first // step)))
        hi = max(lo, min(count, -(-(n - first) // step)))
        return lo, hi

    for p in range(KH):
        r = p * dh - top
        i0, i1 = reach(r, sh, H, OH)
        for q in range(KW):
            s = q * dw - left
            j0, j1 = reach(s, sw, W, OW)
            tap = cols[:, :, p, q, 0]
            tap[:, :, :i0] = 0
            tap[:, :, i1:] = 0
            tap[:, :, i0:i1, :j0] = 0
            tap[:, :, i0:i1, j1:] = 0
            if i0 < i1 and j0 < j1:
                tap[:, :, i0:i1, j0:j1] = x[:, :, r + i0 * sh:r + (i1 - 1) * sh + 1:sh,
                                           s + j0 * sw:s + (j1 - 1) * sw + 1:sw]
    return cols


def window_rows(cols: np.ndarray, k: int, sh: int, dh: int, OH: int) -> np.ndarray:
    """cols (N, C, u, KW, A, Hq, OW) -> the windows of the k-th block of u kernel rows,
    (N, C*u*KW, OH*OW): row (c, r, q), column i*OW + j holds
    x_pad[n, c, i*sh + (k*u + r)*dh, j*sw + q*dw]. A view."""
    N, C, u, KW, _, _, OW = cols.shape
    shift = k * u * dh
    return cols[:, :, :, :, shift % sh, shift // sh:shift // sh + OH].reshape(
        N, C * u * KW, OH * OW)


def correlate(cols: np.ndarray, w: np.ndarray, sh: int, dh: int, groups: int, OH: int
              ) -> np.ndarray:
    """cols (N, C, u, KW, A, Hq, OW) of x_pad (im2col), w (F, C/G, KH, KW) -> the
    correlation (N, F, OH*OW) of x_pad with w (G = groups): per block of u kernel rows, one
    batched matmul, that block of the kernel (G, F/G, C/G*u*KW) against every sample's and
    every group's windows (N, G, C/G*u*KW, OH*OW), already in the output's order; the
    blocks' products added up. BLAS writes the first block's product into the result and
    the others into one reused array. Exact operands must be integers (see
    arith.integers): the result is then integers too."""
    F, Cg, KH, KW = w.shape
    N, _, u, _, _, _, OW = cols.shape
    G = groups
    # (block, group, filter, then (c, r, q)): each block's rows in window_rows' order.
    w_rows = w.reshape(G, F // G, Cg, KH // u, u, KW).transpose(3, 0, 1, 2, 4, 5).reshape(
        KH // u, G, F // G, Cg * u * KW)
    like = cols if cols.dtype == object else w
    out = scratch(None, (N, G, F // G, OH * OW), like)
    part = out if u == KH else scratch(None, out.shape, like)
    for k in range(KH // u):
        windows = window_rows(cols, k, sh, dh, OH).reshape(N, G, Cg * u * KW, OH * OW)
        product = scaled_matmul(w_rows[k], windows, out=out if k == 0 else part)[0]
        if k:
            out += product
    return out.reshape(N, F, OH * OW)


def bias_gradient(dout: np.ndarray) -> np.ndarray:
    """dout (N, F, OH, OW) -> db (F,), the sum over the samples and output positions. In
    float64 one BLAS product of dout's rows with a column of ones: faster than NumPy's sum
    over the axes (0, 2, 3), which runs on one thread through strided loops. (A dout not
    laid out in one block is copied into one by the reshape.)"""
    if dout.dtype == object:
        return total(dout, axis=(0, 2, 3))
    N, F, OH, OW = dout.shape
    sums = dout.reshape(N * F, OH * OW) @ np.ones(OH * OW)
    return sums.reshape(N, F).sum(axis=0)


# One sample's dW, dout (F/G, OH*OW) times the windows transposed (OH*OW, rows), is made
# transposed, the windows times dout transposed, when the windows have fewer rows than
# this: OpenBLAS ran that orientation 6-20% faster for 27 to 147 rows (64 or 128 filters,
# 3136 or 12544 positions; 7x7 kernels on 3 channels: 147 rows), 3-26% slower from 288.
DW_TRANSPOSED_ROWS = 256


# dX by the scatter is computed a few kernel offsets at a time when the product of every
# offset does not fit in the buffer forward's windows leave: enough offsets that the
# product has about this many rows (BLAS runs near its best from about a hundred rows).
DX_ROWS = 128


def kernel_depends_on(w: np.ndarray, key: str) -> bool | None:
    """Layer.depends_on for a layer with a kernel w: (..., KH, KW), a conv's or a transposed
    conv's: kernel_layout always; conv (flip or not) unless the kernel is 1x1, which flipping
    leaves as it is; None for any other key."""
    if key == "kernel_layout":
        return True
    if key == "conv":
        return w.shape[-2:] != (1, 1)
    return None


# Where same_padding puts an odd total of padding, for students (conventions_met).
SAME_WORDS = {"end": "the odd extra row/column at the bottom/right",
              "start": "the odd extra row/column at the top/left",
              "symmetric": "equal on both sides"}


class ConvLayer(ParamLayer):
    """x (N, C, H, W), w (F, C/G, KH, KW), b (F,) -> out (N, F, OH, OW), G = groups."""

    kind = "conv"
    walk_steps: ClassVar[dict[str, tuple[str, ...]]] = {
        "conv": ("padding",), "conv_weights": ("bias",), "conv_input": ("uncovered",)}

    @classmethod
    def conventions_met(cls, op: Conv, conventions: Conventions,
                        number: Callable[[Number], str]) -> list[str]:
        said = ["convolution (the kernel is flipped)" if op.flip
                else "cross-correlation (the kernel is not flipped)"]
        if op.padding_text == "same":
            said.append(f"padding same: {SAME_WORDS.get(conventions.same_padding, '')}")
        return said

    def meets(self, requirement: str) -> bool | None:
        """uncovered: an input cell that no window reads (its dL/dx is 0)."""
        if requirement != "uncovered":
            return None
        H, W = self.x.shape[-2:]
        KH, KW = self.w.shape[-2:]
        OH, OW = self.out.shape[-2:]
        (sh, sw), (dh, dw) = self.stride, self.dilation
        top, bottom, left, right = self.pad
        # A padded cell that copies an input cell (reflect, replicate, circular) reads it.
        return bool(geometry.uncovered(H, top, KH, sh, dh, OH, bottom, self.mode)) \
            or bool(geometry.uncovered(W, left, KW, sw, dw, OW, right, self.mode))

    def depends_on(self, key: str) -> bool | None:
        return kernel_depends_on(self.w, key)

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Conv, layer.op)
        self.w = num.param(op.w, layer.name, "kernel", "kernel")
        self.b = num.param(op.b, layer.name, "bias", "bias")
        self.pad, self.flip = op.pad, op.flip
        self.dilation = geometry.working_dilation(op.dilation, op.w.shape[-2:])
        _, H, W = layer.in_shape
        top, bottom, left, right = op.pad
        self.stride = geometry.working_stride(op.stride, layer.out_shape[-2:],
                                              (H + top + bottom, W + left + right))
        self.groups, self.mode = op.groups, op.padding_mode
        # The im2col windows (N, C, u, KW, A, Hq, OW) as integers over one denominator
        # (exact; float64: as they are, over 1), kept for dW; None once backward has reused
        # their buffer.
        self.cols: np.ndarray | None = None
        self.cols_denominator = 1

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(self.op.kernel_shape)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return () if self.op.bias_scalar and self.b.shape == (1,) else tuple(self.b.shape)

    def _w_eff(self) -> np.ndarray:
        """The kernel as the taps use it: w rotated 180 degrees with flip."""
        return self.w[:, :, ::-1, ::-1] if self.flip else self.w

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C, H, W) -> z (N, F, OH, OW); keeps cols (see im2col) for dW.

        Per block of kernel rows (all of them, or one at a time: kernel_rows_per_block),
        one batched matmul: that block of the kernel (G, F/G, C/G*u*KW) against every
        sample's and every group's windows (N, G, C/G*u*KW, OH*OW) gives its part of z as
        (N, G, F/G, OH*OW), already in z's order; z is the sum of the parts.
        Exact: the products are integers over one denominator, divided once.
        """
        w = self._w_eff()
        F, _, _, _ = w.shape
        N, _, _, _ = x.shape
        _, OH, OW = self.layer.out_shape
        self.cols = self._unroll(x)
        w_ints, w_denominator = integers(w)
        z = correlate(self.cols, w_ints, self.stride[0], self.dilation[0], self.groups, OH)
        z = plus(z.reshape(N, F, OH, OW), w_denominator * self.cols_denominator,
                 self.b.reshape(1, F, 1, 1))
        return self._set_out(x, z)

    def _unroll(self, x: np.ndarray, spare: np.ndarray | None = None) -> np.ndarray:
        """x (N, C, H, W) -> its im2col windows (see im2col) as integers over
        cols_denominator (exact; float64: as they are, over 1), made in spare if it fits."""
        F, Cg, KH, KW = self.w.shape
        N, _, _, _ = x.shape
        _, OH, OW = self.layer.out_shape
        u = kernel_rows_per_block(Cg, F // self.groups, KH, KW, N * OH * OW)
        if u == KH and self.mode == "zeros":
            x_ints, self.cols_denominator = integers(x)
            top, _, left, _ = self.pad
            return unroll_zero_padded(x_ints, top, left, KH, KW, self.stride, self.dilation,
                                      OH, OW, spare)
        x_pad, self.cols_denominator = integers(pad_input(x, self.pad, self.mode))
        return im2col(x_pad, KH, KW, self.stride, self.dilation, OH, OW, u, spare)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, F, OH, OW) -> dx (N, C, H, W); sets dw (F, C/G, KH, KW) and db (F,), each
        summed over the samples.

        dW is the correlation of the input windows with dout: per block of kernel rows,
        dout times that block's windows transposed, one batched matmul over the samples and
        groups (written into dW itself for one sample), then the sum over the samples. dX
        is the gradient of x_pad with the padding dropped: with stride 1 a correlation of
        dout with the kernel turned round (_dx_gather), otherwise (or when the kernel holds
        an inf or a NaN, which the gather would multiply by dout's padding) dout scattered
        through each kernel offset (_dx_scatter). Either works in the buffer of forward's
        windows, done with once dW has them: forward's windows are dropped then, and made
        again if backward runs once more. Loops run over kernel blocks and offsets, never
        over output pixels or samples.
        """
        w = self._w_eff()
        F, Cg, KH, KW = w.shape
        N, _, OH, OW = dout.shape
        G = self.groups
        Fg = F // G
        sh, sw = self.stride
        dh = self.dilation[0]
        _, C, H, W = self.x.shape
        top, bottom, left, right = self.pad
        Hp, Wp = H + top + bottom, W + left + right
        db = bias_gradient(dout)
        douts, d_denominator = integers(dout.reshape(N, G, Fg, OH * OW))
        cols = self.cols if self.cols is not None else self._unroll(self.x)
        u = cols.shape[2]
        dw = scratch(None, (KH // u, G, Fg, Cg * u * KW), douts)
        transposed = N == 1 and Cg * u * KW < DW_TRANSPOSED_ROWS
        if transposed:
            dw_t = scratch(None, (KH // u, G, Cg * u * KW, Fg), douts)
        for k in range(KH // u):
            windows = window_rows(cols, k, sh, dh, OH).reshape(N, G, Cg * u * KW, OH * OW)
            if transposed:
                scaled_matmul(windows[0], douts[0].swapaxes(-1, -2), out=dw_t[k])
                dw[k] = dw_t[k].swapaxes(-1, -2)
            elif N == 1:
                scaled_matmul(douts[0], windows[0].swapaxes(-1, -2), out=dw[k])
            else:
                dw[k] = scaled_matmul(douts, windows.swapaxes(-1, -2))[0].sum(axis=0)
        dw = divide(dw, d_denominator * self.cols_denominator)
        dw = np.ascontiguousarray(dw.reshape(KH // u, F, Cg, u, KW).transpose(
            1, 2, 0, 3, 4)).reshape(F, Cg, KH, KW)
        self.cols, spare = None, cols.reshape(-1)
        # Exact: integers over one common denominator, divided once at the end.
        w_ints, w_denominator = integers(w)
        # Zero padding: only the cells that hold input, no unpad. Other modes fold the
        # padding's gradient back onto the cells it copied, so they need all of dx_pad.
        zeros_mode = self.mode == "zeros"
        region = (top, left, H, W) if zeros_mode else (0, 0, Hp, Wp)
        if (sh, sw) == (1, 1) and (w_ints.dtype == object or np.isfinite(w_ints).all()):
            dx = self._dx_gather(douts.reshape(N, F, OH, OW), w_ints, region, spare)
        else:
            dx = self._dx_scatter(douts, w_ints, Hp, Wp, region, spare)
        dx = (dx.reshape(N, C, H, W) if zeros_mode
              else unpad(dx.reshape(N, C, Hp, Wp), self.pad, self.mode))
        hand_back(spare)
        dx = divide(dx, w_denominator * d_denominator)
        # dW is reported for W as written: un-rotate it when the kernel was flipped.
        self._set_grads(dw[:, :, ::-1, ::-1] if self.flip else dw, db)
        return self._set_dx(dout, dx)

    def _dx_gather(self, dout: np.ndarray, w: np.ndarray, region: tuple[int, int, int, int],
                   spare: np.ndarray) -> np.ndarray:
        """Stride 1: dout (N, F, OH, OW), w (F, C/G, KH, KW) as the taps use it, region
        (r0, s0, Hr, Wr) of x_pad -> dx_pad[..., r0:r0 + Hr, s0:s0 + Wr] as (N, C, Hr*Wr),
        the correlation of dout, padded by the kernel's span less one on every side, with
        the kernel rotated 180 degrees and its filters and channels swapped: dx_pad[r] =
        sum over p of dout[r - p*dh] * w[p] gathers each entry's taps, so they add up
        inside the matmuls (as in the forward pass), not in KH*KW passes over dx_pad. The
        windows of the padded dout are made in spare when they fit."""
        F, Cg, KH, KW = w.shape
        N, _, OH, OW = dout.shape
        G = self.groups
        dh, dw = self.dilation
        r0, s0, Hr, Wr = region
        ph, pw = (KH - 1) * dh, (KW - 1) * dw  # the padding of dout
        w_t = w.reshape(G, F // G, Cg, KH, KW).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
        w_t = w_t.reshape(G * Cg, F // G, KH, KW)
        u = kernel_rows_per_block(F // G, Cg, KH, KW, N * Hr * Wr)
        if u == KH:
            cols = unroll_zero_padded(dout, ph - r0, pw - s0, KH, KW, (1, 1), self.dilation,
                                      Hr, Wr, spare)
        else:
            d_pad = zeros((N, F, OH + 2 * ph, OW + 2 * pw), dout)
            d_pad[:, :, ph:ph + OH, pw:pw + OW] = dout
            cols = im2col(d_pad[:, :, r0:r0 + Hr + ph, s0:s0 + Wr + pw], KH, KW, (1, 1),
                          self.dilation, Hr, Wr, u, spare)
        return correlate(cols, w_t, 1, dh, G, Hr)

    def _dx_scatter(self, dout: np.ndarray, w: np.ndarray, Hp: int, Wp: int,
                    region: tuple[int, int, int, int], spare: np.ndarray) -> np.ndarray:
        """dout (N, G, F/G, OH*OW), w (F, C/G, KH, KW) as the taps use it, region
        (r0, s0, Hr, Wr) of x_pad (Hp, Wp) -> dx_pad[..., r0:r0 + Hr, s0:s0 + Wr] as
        (N, G, C/G, Hr, Wr): each kernel offset (p, q) scatters dout through its weights
        into the cells its taps read, adding up where windows overlap.

        The cells are added in x_pad's phase planes (rows and columns split by their
        phase modulo the stride: one plane with stride 1), where the cells an offset's
        taps read are one block with unit steps, (p*dh // sh, q*dw // sw) from the corner
        of plane (p*dh % sh, q*dw % sw): with dout's rows padded by zeros to the planes'
        width, one run of the plane laid flat. The first offset to meet a plane writes its
        run and zeros around it, the others add. The planes' cells in the region are laid
        into dx at the end (stride 1: the region of the one plane, a view).
        The padded dout goes into spare's last entries and the product, the kernel's rows
        times the padded dout, into the rest (forward's windows, as large as the product
        of every offset when they unrolled every kernel row, less the padded dout): a few
        offsets at a time when it does not fit (see step)."""
        F, Cg, KH, KW = w.shape
        N, G, Fg, L = dout.shape
        _, _, OH, OW = self.out.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        r0, s0, Hr, Wr = region
        Hq, Wq = -(-Hp // sh), -(-Wp // sw)
        # dout's rows padded with zeros to the planes' width Wq: the cells offset (t, s)'s
        # taps read are then one run of its plane laid flat, from Wq*t + s, as long as the
        # padded dout (Lw = OH*Wq), and each offset adds one long run per channel, not OH
        # short rows (twice as fast in NumPy). The padding's products, zeros, fall on cells
        # outside the offset's block; a plane's flat tail takes those past its last row.
        Lw = OH * Wq
        span = Hq * Wq + (KW - 1) * dw // sw
        # Rows ordered (p, q, c), so that each kernel offset's block of rows is contiguous.
        w_rows = w.reshape(G, Fg, Cg, KH, KW).transpose(0, 3, 4, 2, 1).reshape(
            G, KH * KW * Cg, Fg)
        in_spare = spare.dtype == np.float64 and dout.dtype != object
        size = N * G * Fg * Lw
        if in_spare and spare.size >= size:  # the padded dout in spare's last entries
            d_pad = spare[spare.size - size:].reshape(N, G, Fg, OH, Wq)
            spare = spare[:spare.size - size]
        else:
            d_pad = scratch(None, (N, G, Fg, OH, Wq), dout)
        d_pad[..., :OW] = dout.reshape(N, G, Fg, OH, OW)
        d_pad[..., OW:] = 0
        d_rows = d_pad.reshape(N, G, Fg, Lw)
        # 0 * inf is NaN: with an inf or a NaN in the kernel the padding's products are
        # set back to 0.
        finite = w.dtype == object or bool(np.isfinite(w).all())
        planes = scratch(None, (N, G, Cg, sh, sw, span), dout)
        met = np.zeros((sh, sw), dtype=bool)  # the planes an offset has written
        fits = spare.size // (N * G * Cg * Lw) if in_spare else 0
        # The offsets whose product spare holds, when they make at least half of DX_ROWS
        # rows (a product in memory already faulted in, in two or three parts, rather than
        # one in fresh memory); else DX_ROWS rows' worth, in a new array.
        step = min(KH * KW, max(1, fits if 2 * fits * Cg >= DX_ROWS else DX_ROWS // Cg))
        buffer = scratch(spare, (N * G * step * Cg * Lw,), planes)

        for first in range(0, KH * KW, step):
            last = min(first + step, KH * KW)
            out = buffer[:N * G * (last - first) * Cg * Lw].reshape(N, G, (last - first) * Cg, Lw)
            scaled_matmul(w_rows[:, first * Cg:last * Cg], d_rows, out=out)
            if not finite:
                out.reshape(N, G, (last - first) * Cg, OH, Wq)[..., OW:] = 0
            part = out.reshape(N, G, last - first, Cg, Lw)
            for offset in range(first, last):
                p, q = divmod(offset, KW)
                (t, a), (s, b) = divmod(p * dh, sh), divmod(q * dw, sw)
                plane, at = planes[:, :, :, a, b], t * Wq + s
                if met[a, b]:
                    plane[..., at:at + Lw] += part[:, :, offset - first]
                    continue
                met[a, b] = True
                # (+ 0: a product of -0.0 becomes 0.0, as in a sum started from 0.)
                np.add(part[:, :, offset - first], 0, out=plane[..., at:at + Lw])
                plane[..., :at] = 0
                plane[..., at + Lw:] = 0
        for a, b in zip(*np.nonzero(~met), strict=True):  # planes no tap reads
            planes[:, :, :, a, b] = 0
        planes = planes[..., :Hq * Wq].reshape(N, G, Cg, sh, sw, Hq, Wq)
        if (sh, sw) == (1, 1):
            return planes.reshape(N, G, Cg, Hp, Wp)[..., r0:r0 + Hr, s0:s0 + Wr]
        dx = scratch(None, (N, G, Cg, Hr, Wr), planes)
        for a in range(sh):
            for b in range(sw):
                # The region's rows r0 + k0, r0 + k0 + sh, ... are plane a's, from its row
                # (r0 + k0) // sh; likewise the columns.
                k0, m0 = (a - r0) % sh, (b - s0) % sw
                i0, j0 = (r0 + k0) // sh, (s0 + m0) // sw
                dx[..., k0::sh, m0::sw] = planes[:, :, :, a, b,
                                                 i0:i0 + len(range(k0, Hr, sh)),
                                                 j0:j0 + len(range(m0, Wr, sw))]
        return dx

    # --- terms: the index maps of the code above, one entry at a time ------------------------

    @property
    def samples(self) -> int:
        return int(self.x.shape[0])

    def _tap(self, p: int, q: int) -> tuple[int, int]:
        """The weight (row, column) as written that kernel offset (p, q) multiplies."""
        _, _, KH, KW = self.w.shape
        return (KH - 1 - p, KW - 1 - q) if self.flip else (p, q)

    def _channels(self, f: int) -> range:
        """The input channels filter f reads: those of its group."""
        F, Cg = self.w.shape[:2]
        g = f // (F // self.groups)
        return range(g * Cg, (g + 1) * Cg)

    def _filters(self, c: int) -> range:
        """The filters that read input channel c: those of its group."""
        F, Cg = self.w.shape[:2]
        Fg = F // self.groups
        g = c // Cg
        return range(g * Fg, (g + 1) * Fg)

    # The maps below are read from tables made once per layer (the padding lookup, which
    # input row and column each kernel offset reads at each output position), not worked
    # out again per entry: solve --terms all asks for every entry's terms, 16,384 outputs
    # of 27 taps for one 32x32 map of sixteen 3x3 filters.

    @cached_property
    def _sources(self) -> tuple[np.ndarray, np.ndarray]:
        """For each row (Hp,) and each column (Wp,) of x_pad, the input row or column it holds
        (-1: a zero of the padding), as pad_input fills it."""
        _, H, W = self.layer.in_shape
        top, bottom, left, right = self.pad
        return (geometry.pad_source(H, top, bottom, self.mode),
                geometry.pad_source(W, left, right, self.mode))

    @cached_property
    def _reads(self) -> tuple[np.ndarray, np.ndarray]:
        """rows (OH, KH): the input row that kernel row p reads at output row i (the one a
        padded row copies; -1 on zeros padding), rows[i, p] = source of x_pad row
        i*sh + p*dh; cols (OW, KW) likewise for the columns."""
        _, _, KH, KW = self.w.shape
        _, OH, OW = self.layer.out_shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        sources_r, sources_c = self._sources
        return (sources_r[np.arange(OH)[:, np.newaxis] * sh + np.arange(KH) * dh],
                sources_c[np.arange(OW)[:, np.newaxis] * sw + np.arange(KW) * dw])

    @cached_property
    def _window_cells(self) -> np.ndarray:
        """(OH, OW, KH*KW): the cell r*W + s of one input channel that each kernel offset
        (p, q) reads at each output position, in (p, q) order; -1 on zeros padding."""
        _, _, KH, KW = self.w.shape
        _, _, W = self.layer.in_shape
        rows, cols = self._reads
        cells = rows[:, np.newaxis, :, np.newaxis] * W + cols[np.newaxis, :, np.newaxis, :]
        cells[(rows < 0)[:, np.newaxis, :, np.newaxis] |
              (cols < 0)[np.newaxis, :, np.newaxis, :]] = -1
        return cells.reshape(len(rows), len(cols), KH * KW)

    @cached_property
    def _sample_cells(self) -> np.ndarray:
        """(G, OH, OW, C/G*KH*KW): the cell of one sample's x (C, H, W), flat, that each tap
        of group g's filters reads at each output position, in (c, p, q) order over the
        group's channels; -1 on zeros padding. As large as one sample's im2col columns."""
        _, Cg, KH, KW = self.w.shape
        C, H, W = self.layer.in_shape
        cells = self._window_cells  # (OH, OW, KH*KW)
        planes = np.arange(C).reshape(self.groups, 1, 1, Cg, 1) * (H * W)
        at = np.where(cells[:, :, np.newaxis] < 0, -1, planes + cells[:, :, np.newaxis])
        at = at.reshape(self.groups, *cells.shape[:2], Cg * KH * KW)
        at.flags.writeable = False  # out_map hands out its rows
        return at

    @cached_property
    def _weight_cells(self) -> np.ndarray:
        """(F, C/G*KH*KW): the cell of w (F, C/G, KH, KW), flat, that each tap of filter f
        multiplies, in (c, p, q) order: (c, p', q'), p' and q' as _tap maps them."""
        F, Cg, KH, KW = self.w.shape
        taps = np.arange(F * Cg * KH * KW).reshape(F, Cg, KH, KW)
        cells = (taps[:, :, ::-1, ::-1] if self.flip else taps).reshape(F, Cg * KH * KW)
        cells.flags.writeable = False  # out_map hands out its rows
        return cells

    @cached_property
    def _hits(self) -> tuple[list[tuple[np.ndarray, np.ndarray]],
                             list[tuple[np.ndarray, np.ndarray]]]:
        """For each input row r: (i, p'), the output rows and the kernel rows as written
        whose taps read row r or a padded copy of it, ordered by i then p'; likewise for
        each input column (j, q'). The inverse of _reads."""
        _, _, KH, KW = self.w.shape
        _, H, W = self.layer.in_shape

        def inverse(reads: np.ndarray, size: int, kernel: int
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
            out, taps = np.nonzero(reads[np.newaxis] == np.arange(size)[:, None, None])[1:]
            if self.flip:
                taps = kernel - 1 - taps
            counts = np.bincount(reads[reads >= 0], minlength=size)
            hits = []
            for o, t in zip(np.split(out, np.cumsum(counts)[:-1]),
                            np.split(taps, np.cumsum(counts)[:-1]), strict=True):
                order = np.lexsort((t, o))
                hits.append((o[order], t[order]))
            return hits

        rows, cols = self._reads
        return inverse(rows, H, KH), inverse(cols, W, KW)

    def padded_window(self, n: int, f: int, i: int, j: int) -> list[Index]:
        """The cells of x_pad (N, C, Hp, Wp) under output (n, f, i, j), in (c, p, q) order:
        the channels of f's group."""
        _, _, KH, KW = self.w.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return [(n, c, i * sh + p * dh, j * sw + q * dw)
                for c in self._channels(f) for p in range(KH) for q in range(KW)]

    def out_map(self, n: int, f: int, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        """z[n,f,i,j] = sum over k of x.flat[x_at[k]] * w.flat[w_at[k]] + b[f]: the flat
        indices x_at into x (N, C, H, W) and w_at into w (F, C/G, KH, KW), each
        (C/G*KH*KW,), in (c, p, q) order over the channels of f's group. x_at is the input
        cell under the tap, or the one a padded cell copies; -1 on zeros padding."""
        F = self.w.shape[0]
        x_at = self._sample_cells[f // (F // self.groups), i, j]
        if n:  # the same cells of sample n
            x_at = np.where(x_at < 0, -1, x_at + n * math.prod(self.layer.in_shape))
        return x_at, self._weight_cells[f]

    def out_terms(self, n: int, f: int, i: int, j: int
                  ) -> tuple[list[tuple[Index | None, Index]], Index]:
        """z[n,f,i,j] = sum of x[x_index] * w[w_index] + b[bias_index]: the (x_index, w_index)
        pairs in (c, p, q) order over the channels of f's group, and (f,). x_index (n, c, r, s)
        is the input cell under the tap, or the one a padded cell copies (reflect,
        replicate, circular); None where the tap falls on zeros padding. (out_map's
        indices, unravelled.)"""
        x_at, w_at = self.out_map(n, f, i, j)
        xs = _unravelled(np.maximum(x_at, 0), self.x.shape)
        ws = _unravelled(w_at, self.w.shape)
        return [(x if at >= 0 else None, w)
                for at, x, w in zip(x_at.tolist(), xs, ws, strict=True)], (f,)

    def _tap_rows(self, p: int, q: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(i, r, j, s): the output rows i whose kernel row for weight (p, q) as written
        reads an input row or a padded copy of one, and that row r; likewise the columns."""
        rows, cols = self._reads
        pe, qe = self._tap(p, q)
        i, j = np.flatnonzero(rows[:, pe] >= 0), np.flatnonzero(cols[:, qe] >= 0)
        return i, rows[i, pe], j, cols[j, qe]

    def dw_map(self, f: int, c: int, p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
        """dw[f,c,p,q] = sum over k of dout.flat[dout_at[k]] * x.flat[x_at[k]]: flat indices
        into dout (N, F, OH, OW) and x (N, C, H, W), in dw_terms' order (sample, then
        output row, then output column)."""
        F = self.w.shape[0]
        C, H, W = self.layer.in_shape
        _, OH, OW = self.layer.out_shape
        i, r, j, s = self._tap_rows(p, q)
        n = np.arange(self.samples)[:, np.newaxis, np.newaxis]
        channel = self._channels(f).start + c
        dout_at = ((n * F + f) * OH + i[:, np.newaxis]) * OW + j
        x_at = ((n * C + channel) * H + r[:, np.newaxis]) * W + s
        return dout_at.ravel(), x_at.ravel()

    def dw_terms(self, f: int, c: int, p: int, q: int) -> Grid[tuple[Index, Index]]:
        """dw[f,c,p,q] (w as written; c counts within f's group) = sum of dout[dout_index] *
        x[x_index]: one pair per output of every sample whose window put this weight on an
        input cell or on a padded copy of one (zeros padding adds 0), sample by sample."""
        i, r, j, s = self._tap_rows(p, q)
        channel = self._channels(f).start + c
        rows = [(n, i_, r_) for n in range(self.samples)
                for i_, r_ in zip(i.tolist(), r.tolist(), strict=True)]
        cols = list(zip(j.tolist(), s.tolist(), strict=True))
        return Grid(rows, cols, lambda row, col: ((row[0], f, row[1], col[0]),
                                                  (row[0], channel, row[2], col[1])))

    def db_map(self, f: int) -> np.ndarray:
        """db[f] = sum over k of dout.flat[dout_at[k]]: (N*OH*OW,) flat indices into dout
        (N, F, OH, OW), in db_terms' order."""
        F = self.w.shape[0]
        _, OH, OW = self.layer.out_shape
        starts = (np.arange(self.samples) * F + f) * (OH * OW)
        return (starts[:, np.newaxis] + np.arange(OH * OW)).ravel()

    def db_terms(self, f: int) -> Grid[Index]:
        """db[f] = the sum of dout[n, f, i, j] over every sample and output position, in order."""
        _, OH, OW = self.layer.out_shape
        rows = [(n, i) for n in range(self.samples) for i in range(OH)]
        return Grid(rows, range(OW), lambda row, j: (row[0], f, row[1], j))

    def dx_map(self, n: int, c: int, r: int, s: int) -> tuple[np.ndarray, np.ndarray]:
        """dx[n,c,r,s] = sum over k of dout.flat[dout_at[k]] * w.flat[w_at[k]]: flat indices
        into dout (N, F, OH, OW) and w (F, C/G, KH, KW) over every tap of sample n (of the
        filters of c's group) on input (r, s) or on a padded cell that copies it, ordered
        by (f, i, j, p, q), output then weight; empty for an input no tap meets."""
        F, Cg, KH, KW = self.w.shape
        _, OH, OW = self.layer.out_shape
        (rows, kernel_rows), (cols, kernel_cols) = self._hits[0][r], self._hits[1][s]
        # every (i, p) with every (j, q), ordered by (i, j, p, q)
        i, p = np.repeat(rows, len(cols)), np.repeat(kernel_rows, len(cols))
        j, q = np.tile(cols, len(rows)), np.tile(kernel_cols, len(rows))
        order = np.lexsort((q, p, j, i))
        i, j, p, q = i[order], j[order], p[order], q[order]
        filters = np.arange(self._filters(c).start, self._filters(c).stop)[:, np.newaxis]
        dout_at = ((n * F + filters) * OH + i) * OW + j
        w_at = ((filters * Cg + c % Cg) * KH + p) * KW + q
        return dout_at.ravel(), w_at.ravel()

    def dx_terms(self, n: int, c: int, r: int, s: int) -> list[tuple[Index, Index]]:
        """dx[n,c,r,s] = sum of dout[dout_index] * w[w_index] over every tap of sample n (of
        the filters of c's group) on input (r, s) or on a padded cell that copies it, in the
        order of the outputs; [] for an input no tap meets. (dx_map's indices, unravelled.)"""
        dout_at, w_at = self.dx_map(n, c, r, s)
        return list(zip(_unravelled(dout_at, self.out.shape), _unravelled(w_at, self.w.shape),
                        strict=True))

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            taps, bias = self.out_terms(*index)
            return [(("x", x), ("w", w)) for x, w in taps if x is not None] + [(("b", bias),)]
        if of == "dw":
            return [(("dout", o), ("x", x)) for o, x in self.dw_terms(*index)]
        if of == "db":
            return [(("dout", o),) for o in self.db_terms(*index)]
        return [(("dout", o), ("w", w)) for o, w in self.dx_terms(*index)]


def _unravelled(flat: np.ndarray, shape: tuple[int, ...]) -> list[Index]:
    """Flat indices (K,) into an array of `shape` -> their K index tuples (plain ints)."""
    return list(zip(*(axis.tolist() for axis in np.unravel_index(flat, shape)), strict=True))
