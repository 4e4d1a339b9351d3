"""Transposed convolution, as PyTorch's ConvTranspose2d: each input entry spreads its kernel
over the output (the scatter that is a convolution's dX), and dX is the correlation of dout
with the kernel (a convolution's forward).

out[n, f, i*sh + p*dh - ph, j*sw + q*dw - pw] += x[n, c, i, j] * w[c, f - g*F/groups, p, q]
for every input (c, i, j) of group g = c // (C/groups), filter f of that group and kernel
offset (p, q); rows and columns outside 0..Ho-1, 0..Wo-1 are cut off, and b[f] is added to
every output of filter f. Ho = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1
(geometry.conv_transpose_output_size).

The layer works on a batch: x (N, C, H, W) -> out (N, F, Ho, Wo), and every index of its
terms names the sample first.
"""

from __future__ import annotations

from typing import ClassVar, cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convgrad import geometry
from convgrad.arith import Numbers, divide, matmul, scaled_matmul, zeros
from convgrad.layers.base import Grid, Index, ParamLayer, Term
from convgrad.layers.conv import kernel_depends_on
from convgrad.model import ConvTranspose
from convgrad.model import Layer as LayerSpec


class ConvTransposeLayer(ParamLayer):
    """x (N, C, H, W), w (C, F/groups, KH, KW), b (F,) -> out (N, F, OH, OW)."""

    kind = "conv_transpose"
    # Its padding crops the output, so no padded input to show first.
    walk_steps: ClassVar[dict[str, tuple[str, ...]]] = {
        "conv_transpose_weights": ("bias",), "conv_transpose_input": ("uncovered",)}

    def depends_on(self, key: str) -> bool | None:
        return kernel_depends_on(self.w, key)

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(ConvTranspose, layer.op)
        self.w = num.param(op.w, layer.name, "kernel", "kernel")
        self.b = num.param(op.b, layer.name, "bias", "bias")
        self.stride, self.pad, self.dilation = op.stride, op.pad, op.dilation
        self.output_padding, self.groups = op.output_padding, op.groups

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(self.op.kernel_shape)

    @property
    def bias_shape(self) -> tuple[int, ...]:
        return () if self.op.bias_scalar and self.b.shape == (1,) else tuple(self.b.shape)

    # --- shapes ------------------------------------------------------------------------------

    def _sizes(self, H: int, W: int) -> tuple[int, int, int, int]:
        """(OH, OW, HB, WB): the output, and the buffer the kernels are spread over before the
        padding is cut off: every tap of every input lands inside it (rows 0 .. (H-1)*sh +
        dh*(KH-1)), and it reaches the output's last row even when output_padding passes
        the padding (those rows get no tap)."""
        _, _, KH, KW = self.w.shape
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.pad, self.dilation
        oh, ow = self.output_padding
        OH = geometry.conv_transpose_output_size(H, ph, KH, sh, dh, oh)
        OW = geometry.conv_transpose_output_size(W, pw, KW, sw, dw, ow)
        HB = (H - 1) * sh + geometry.dilated_size(KH, dh) + max(0, oh - ph)
        WB = (W - 1) * sw + geometry.dilated_size(KW, dw) + max(0, ow - pw)
        return OH, OW, HB, WB

    # --- forward and backward ----------------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C, H, W) -> out (N, F, OH, OW).

        Per group, one matmul gives every input entry times every kernel tap, for the whole
        batch: rows (p, q, f), columns (n, i, j). Each kernel offset's block is then added
        into the buffer at the rows and columns that offset reaches (a loop over the KH*KW
        offsets, never over pixels or samples), and the padding is cut off.
        """
        C, Fg, KH, KW = self.w.shape
        N, _, H, W = x.shape
        G = self.groups
        Cg, F = C // G, Fg * G
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.pad, self.dilation
        OH, OW, HB, WB = self._sizes(H, W)
        # (F, N, HB, WB): each offset's block (Fg, N, H, W) is added in one piece.
        buf = zeros((F, N, HB, WB), x)
        for g in range(G):
            wg = self.w[g * Cg:(g + 1) * Cg].transpose(2, 3, 1, 0).reshape(KH * KW * Fg, Cg)
            xg = x[:, g * Cg:(g + 1) * Cg].transpose(1, 0, 2, 3).reshape(Cg, N * H * W)
            if x.dtype == object or wg.dtype == object:
                # Exact: spread the integers of one common denominator, divide once.
                cols, denominator = scaled_matmul(wg, xg)
            else:
                cols, denominator = wg @ xg, 1
            cols = cols.reshape(KH, KW, Fg, N, H, W)
            part = buf[g * Fg:(g + 1) * Fg]
            for p in range(KH):
                for q in range(KW):
                    part[:, :, p * dh:p * dh + sh * (H - 1) + 1:sh,
                         q * dw:q * dw + sw * (W - 1) + 1:sw] += cols[p, q]
            if denominator != 1:
                buf[g * Fg:(g + 1) * Fg] = divide(part, denominator)
        out = buf[:, :, ph:ph + OH, pw:pw + OW].transpose(1, 0, 2, 3) + \
            self.b.reshape(1, F, 1, 1)
        return self._set_out(x, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, F, OH, OW) -> dx (N, C, H, W); sets dw (C, F/groups, KH, KW), db (F,).

        dout is put back into the uncut buffer (zeros where the padding was cut), and the
        window of each input (i, j) -- the buffer cells its kernel taps reached -- is taken
        as in a convolution's im2col: columns (n, i, j), rows (f, p, q). Per group, dX is
        the kernel times those columns (a correlation of dout with w) and dW the input times
        them: one matmul each for the whole batch.
        """
        C, Fg, KH, KW = self.w.shape
        N, _, H, W = self.x.shape
        G = self.groups
        Cg, F = C // G, Fg * G
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.pad, self.dilation
        OH, OW, HB, WB = self._sizes(H, W)
        db = dout.sum(axis=(0, 2, 3))
        buf = zeros((N, F, HB, WB), dout)
        buf[:, :, ph:ph + OH, pw:pw + OW] = dout
        windows = sliding_window_view(buf, (geometry.dilated_size(KH, dh),
                                            geometry.dilated_size(KW, dw)), axis=(2, 3))
        windows = windows[:, :, :sh * (H - 1) + 1:sh, :sw * (W - 1) + 1:sw, ::dh, ::dw]
        dx = zeros((N, C, H, W), dout)
        dw_ = zeros((C, Fg, KH, KW), dout)
        for g in range(G):
            # (Fg, KH, KW, N, H, W): rows in the order of w's (f, p, q)
            cols = windows[:, g * Fg:(g + 1) * Fg].transpose(1, 4, 5, 0, 2, 3).reshape(
                Fg * KH * KW, N * H * W)
            wg = self.w[g * Cg:(g + 1) * Cg].reshape(Cg, Fg * KH * KW)
            xg = self.x[:, g * Cg:(g + 1) * Cg].transpose(1, 0, 2, 3).reshape(Cg, N * H * W)
            dx[:, g * Cg:(g + 1) * Cg] = matmul(wg, cols).reshape(Cg, N, H, W).transpose(
                1, 0, 2, 3)
            dw_[g * Cg:(g + 1) * Cg] = matmul(xg, cols.T).reshape(Cg, Fg, KH, KW)
        self._set_grads(dw_, db)
        return self._set_dx(dout, dx)

    # --- terms: the index maps of the code above, one entry at a time ------------------------

    def _group(self, f: int) -> tuple[range, int]:
        """The input channels filter f reads, and f's place among its group's filters."""
        C, Fg, _, _ = self.w.shape
        Cg = C // self.groups
        g, fl = divmod(f, Fg)
        return range(g * Cg, (g + 1) * Cg), fl

    def _reach(self, out: int, n_in: int, k: int, axis: int) -> list[tuple[int, int]]:
        """The (input position, kernel offset) pairs along one axis whose tap lands on output
        position `out`: i*stride + p*dilation - pad == out."""
        stride, pad, dil = self.stride[axis], self.pad[axis], self.dilation[axis]
        pairs = []
        for p in range(k):
            i, rem = divmod(out + pad - p * dil, stride)
            if not rem and 0 <= i < n_in:
                pairs.append((i, p))
        return pairs

    def out_terms(self, n: int, f: int, r: int, s: int
                  ) -> tuple[list[tuple[Index, Index]], Index]:
        """out[n,f,r,s] = sum of x[x_index] * w[w_index] + b[f]: the (x_index, w_index) pairs
        of every input entry whose kernel reaches (r, s), in (c, p, q) order, and (f,)."""
        _, _, KH, KW = self.w.shape
        _, H, W = self.layer.in_shape
        channels, fl = self._group(f)
        rows, cols = self._reach(r, H, KH, 0), self._reach(s, W, KW, 1)
        return [((n, c, i, j), (c, fl, p, q)) for c in channels
                for i, p in rows for j, q in cols], (f,)

    def dx_terms(self, n: int, c: int, i: int, j: int) -> list[tuple[Index, Index]]:
        """dx[n,c,i,j] = sum of dout[dout_index] * w[w_index] over the outputs that input's
        kernel reached (cut-off taps add nothing), in (f, p, q) order."""
        _, Fg, KH, KW = self.w.shape
        _, OH, OW = self.layer.out_shape
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.pad, self.dilation
        g = c // (self.w.shape[0] // self.groups)
        return [((n, g * Fg + fl, r, s), (c, fl, p, q)) for fl in range(Fg)
                for p in range(KH) if 0 <= (r := i * sh + p * dh - ph) < OH
                for q in range(KW) if 0 <= (s := j * sw + q * dw - pw) < OW]

    def dw_terms(self, c: int, fl: int, p: int, q: int) -> Grid[tuple[Index, Index]]:
        """dw[c,fl,p,q] = sum of dout[dout_index] * x[x_index]: one pair per input entry of
        channel c (every sample) whose tap (p, q) lands inside the output, sample by sample
        and row-major."""
        N = self.x.shape[0]
        _, H, W = self.layer.in_shape
        _, OH, OW = self.layer.out_shape
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.pad, self.dilation
        f = c // (self.w.shape[0] // self.groups) * self.w.shape[1] + fl
        rows = [(n, i, r) for n in range(N) for i in range(H)
                if 0 <= (r := i * sh + p * dh - ph) < OH]
        cols = [(j, s) for j in range(W) if 0 <= (s := j * sw + q * dw - pw) < OW]
        return Grid(rows, cols, lambda row, col: ((row[0], f, row[2], col[1]),
                                                  (row[0], c, row[1], col[0])))

    def db_terms(self, f: int) -> Grid[Index]:
        """db[f] = the sum of dout[n, f, r, s] over every sample and output position."""
        N = self.x.shape[0]
        _, OH, OW = self.layer.out_shape
        rows = [(n, r) for n in range(N) for r in range(OH)]
        return Grid(rows, range(OW), lambda row, s: (row[0], f, row[1], s))

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            pairs, bias = self.out_terms(*index)
            return [(("x", x), ("w", w)) for x, w in pairs] + [(("b", bias),)]
        if of == "dw":
            return [(("dout", o), ("x", x)) for o, x in self.dw_terms(*index)]
        if of == "db":
            return [(("dout", o),) for o in self.db_terms(*index)]
        return [(("dout", o), ("w", w)) for o, w in self.dx_terms(*index)]

