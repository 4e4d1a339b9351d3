"""Convolution (cross-correlation, as every framework): forward by im2col and one matmul,
dW by one matmul with the same columns, dX by scattering dout through the kernel offsets.
The whole batch goes through each matmul at once: the columns of every sample side by side.

Z[n,f,i,j] = b[f] + sum over c,p,q of x_pad[n, g*C/G + c, i*sh + p*dh, j*sw + q*dw] * w[f,c,p,q]
(SPEC section 2, per sample), c running over the C/G channels of filter f's group
g = f // (F/G) (PyTorch's Conv2d(groups=G); G = 1: every channel); with flip, w is rotated
180 degrees first and dW is still reported for w as written.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convgrad import geometry
from convgrad.arith import (
    Numbers,
    divide,
    grouped_matmul,
    grouped_scaled_matmul,
    zeros,
)
from convgrad.layers.base import Grid, Index, ParamLayer, Term
from convgrad.model import Conv
from convgrad.model import Layer as LayerSpec


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


def im2col(x_pad: np.ndarray, KH: int, KW: int, stride: tuple[int, int],
           dilation: tuple[int, int], OH: int, OW: int) -> np.ndarray:
    """x_pad (N, C, Hp, Wp) -> cols (C*KH*KW, N*OH*OW): column (n*OH + i)*OW + j is the window
    of output (n, ., i, j).

    Rows run over (c, p, q) in the order of w.reshape(F, -1), so one matmul with the kernel
    gives every output of every sample at once.
    """
    N, C = x_pad.shape[:2]
    sh, sw = stride
    dh, dw = dilation
    windows = sliding_window_view(x_pad, (dh * (KH - 1) + 1, dw * (KW - 1) + 1), axis=(2, 3))
    windows = windows[:, :, :sh * (OH - 1) + 1:sh, :sw * (OW - 1) + 1:sw, ::dh, ::dw]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * OH * OW)


class ConvLayer(ParamLayer):
    """x (N, C, H, W), w (F, C/G, KH, KW), b (F,) -> out (N, F, OH, OW), G = groups."""

    kind = "conv"

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Conv, layer.op)
        self.w = num.param(op.w, layer.name, "kernel", "kernel")
        self.b = num.param(op.b, layer.name, "bias", "bias")
        self.stride, self.pad, self.dilation, self.flip = op.stride, op.pad, op.dilation, op.flip
        self.groups, self.mode = op.groups, op.padding_mode
        self.cols: np.ndarray  # the im2col matrix (C*KH*KW, N*OH*OW), kept for dW

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
        """x (N, C, H, W) -> z (N, F, OH, OW); keeps cols (C*KH*KW, N*OH*OW) for dW.

        The rows of cols run over (c, p, q), so each group's channels are one block of rows:
        one matmul per group (NumPy's batched matmul in float64) for the whole batch.
        """
        w = self._w_eff()
        F, Cg, KH, KW = w.shape
        N, C, H, W = x.shape
        G = self.groups
        top, bottom, left, right = self.pad
        OH = geometry.conv_output_size(H, top, bottom, KH, self.stride[0], self.dilation[0])
        OW = geometry.conv_output_size(W, left, right, KW, self.stride[1], self.dilation[1])
        x_pad = pad_input(x, self.pad, self.mode)
        self.cols = im2col(x_pad, KH, KW, self.stride, self.dilation, OH, OW)
        z = grouped_matmul(w.reshape(G, F // G, Cg * KH * KW),
                           self.cols.reshape(G, Cg * KH * KW, N * OH * OW))
        z = z.reshape(F, N, OH, OW)
        return self._set_out(x, z.transpose(1, 0, 2, 3) + self.b.reshape(1, F, 1, 1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, F, OH, OW) -> dx (N, C, H, W); sets dw (F, C/G, KH, KW) and db (F,), each
        summed over the samples.

        dW is the correlation of the input windows with dout: one matmul per group with
        cols. dX scatters dout through each kernel offset (p, q) into dx_pad, adding up
        where windows overlap, then drops the padding: a loop over the KH*KW offsets, never
        over output pixels or samples.
        """
        w = self._w_eff()
        F, Cg, KH, KW = w.shape
        N, _, OH, OW = dout.shape
        G = self.groups
        Fg = F // G
        sh, sw = self.stride
        dh, dw_ = self.dilation
        top, bottom, left, right = self.pad
        _, C, H, W = self.x.shape
        # Columns in the order of cols: sample, then row, then column.
        dout2 = dout.transpose(1, 0, 2, 3).reshape(G, Fg, N * OH * OW)
        db = dout2.reshape(F, -1).sum(axis=1)
        cols = self.cols.reshape(G, Cg * KH * KW, N * OH * OW)
        dw = grouped_matmul(dout2, cols.transpose(0, 2, 1)).reshape(F, Cg, KH, KW)
        # Rows ordered (p, q, c), so that each kernel offset's block of dcols is contiguous.
        w2t = w.reshape(G, Fg, Cg, KH, KW).transpose(0, 3, 4, 2, 1).reshape(G, KH * KW * Cg, Fg)
        if dout2.dtype == object:
            # Exact: scatter the integers of one common denominator, divide once at the end.
            dcols, denominator = grouped_scaled_matmul(w2t, dout2)
        else:
            dcols, denominator = w2t @ dout2, 1
        dcols = dcols.reshape(G, KH, KW, Cg, N, OH, OW)
        # Group, then channel first, as dcols: each offset's block adds in without a transpose.
        dx_pad = zeros((G, Cg, N, H + top + bottom, W + left + right), dcols)
        for p in range(KH):
            for q in range(KW):
                dx_pad[..., p * dh:p * dh + sh * (OH - 1) + 1:sh,
                       q * dw_:q * dw_ + sw * (OW - 1) + 1:sw] += dcols[:, p, q]
        dx_pad = dx_pad.reshape(C, N, H + top + bottom, W + left + right)
        dx = unpad(dx_pad, self.pad, self.mode).transpose(1, 0, 2, 3)
        if denominator != 1:
            dx = divide(dx, denominator)
        # dW is reported for W as written: un-rotate it when the kernel was flipped.
        self._set_grads(dw[:, :, ::-1, ::-1] if self.flip else dw, db)
        return self._set_dx(dout, dx)

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

    def _sources(self) -> tuple[np.ndarray, np.ndarray]:
        """For each row and each column of x_pad, the input row or column it holds (-1: a
        zero of the padding), as pad_input fills it."""
        _, H, W = self.layer.in_shape
        top, bottom, left, right = self.pad
        return (geometry.pad_source(H, top, bottom, self.mode),
                geometry.pad_source(W, left, right, self.mode))

    def padded_window(self, n: int, f: int, i: int, j: int) -> list[Index]:
        """The cells of x_pad (N, C, Hp, Wp) under output (n, f, i, j), in (c, p, q) order:
        the channels of f's group."""
        _, _, KH, KW = self.w.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return [(n, c, i * sh + p * dh, j * sw + q * dw)
                for c in self._channels(f) for p in range(KH) for q in range(KW)]

    def out_terms(self, n: int, f: int, i: int, j: int
                  ) -> tuple[list[tuple[Index | None, Index]], Index]:
        """z[n,f,i,j] = sum of x[x_index] * w[w_index] + b[bias_index]: the (x_index, w_index)
        pairs in (c, p, q) order over the channels of f's group, and (f,). x_index (n, c, r, s)
        is the input cell under the tap, or the one a padded cell copies (reflect,
        replicate, circular); None where the tap falls on zeros padding."""
        _, _, KH, KW = self.w.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        rows, cols = self._sources()
        channels = self._channels(f)
        taps: list[tuple[Index | None, Index]] = []
        for c in channels:
            for p in range(KH):
                r = int(rows[i * sh + p * dh])
                for q in range(KW):
                    s = int(cols[j * sw + q * dw])
                    taps.append(((n, c, r, s) if r >= 0 and s >= 0 else None,
                                 (f, c - channels.start, *self._tap(p, q))))
        return taps, (f,)

    def dw_terms(self, f: int, c: int, p: int, q: int) -> Grid[tuple[Index, Index]]:
        """dw[f,c,p,q] (w as written; c counts within f's group) = sum of dout[dout_index] *
        x[x_index]: one pair per output of every sample whose window put this weight on an
        input cell or on a padded copy of one (zeros padding adds 0), sample by sample."""
        _, OH, OW = self.layer.out_shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        sources_r, sources_c = self._sources()
        pe, qe = self._tap(p, q)
        channel = self._channels(f).start + c
        rows = [(n, i, r) for n in range(self.samples) for i in range(OH)
                if (r := int(sources_r[i * sh + pe * dh])) >= 0]
        cols = [(j, s) for j in range(OW) if (s := int(sources_c[j * sw + qe * dw])) >= 0]
        return Grid(rows, cols, lambda row, col: ((row[0], f, row[1], col[0]),
                                                  (row[0], channel, row[2], col[1])))

    def db_terms(self, f: int) -> Grid[Index]:
        """db[f] = the sum of dout[n, f, i, j] over every sample and output position, in order."""
        _, OH, OW = self.layer.out_shape
        rows = [(n, i) for n in range(self.samples) for i in range(OH)]
        return Grid(rows, range(OW), lambda row, j: (row[0], f, row[1], j))

    def dx_terms(self, n: int, c: int, r: int, s: int) -> list[tuple[Index, Index]]:
        """dx[n,c,r,s] = sum of dout[dout_index] * w[w_index] over every tap of sample n (of
        the filters of c's group) on input (r, s) or on a padded cell that copies it, in the
        order of the outputs; [] for an input no tap meets."""
        _, Cg, KH, KW = self.w.shape
        _, OH, OW = self.layer.out_shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        sources_r, sources_c = self._sources()
        # The rows and columns of x_pad that hold this input cell: its own, and its copies.
        rows = np.flatnonzero(sources_r == r).tolist()
        cols = np.flatnonzero(sources_c == s).tolist()
        cw = c % Cg  # the channel within its group, as w counts it
        met = []  # (f, i, j, p, q): output (n, f, i, j) met this input through weight (p, q)
        for f in self._filters(c):
            for t in rows:
                for p in range(KH):
                    i, rem = divmod(t - p * dh, sh)
                    if rem or not 0 <= i < OH:
                        continue
                    for u in cols:
                        for q in range(KW):
                            j, rem = divmod(u - q * dw, sw)
                            if not rem and 0 <= j < OW:
                                met.append((f, i, j, *self._tap(p, q)))
        met.sort()
        return [((n, f, i, j), (f, cw, p, q)) for f, i, j, p, q in met]

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            taps, bias = self.out_terms(*index)
            return [(("x", x), ("w", w)) for x, w in taps if x is not None] + [(("b", bias),)]
        if of == "dw":
            return [(("dout", o), ("x", x)) for o, x in self.dw_terms(*index)]
        if of == "db":
            return [(("dout", o),) for o in self.db_terms(*index)]
        return [(("dout", o), ("w", w)) for o, w in self.dx_terms(*index)]
