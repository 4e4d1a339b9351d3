"""Max and average pooling, no padding; windows that do not fit are dropped (floor).

Max pooling sends each window's gradient to its first maximum in row-major order; average
pooling gives each cell dout / (ph*pw). Overlapping windows add up.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cached_property
from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convgrad import geometry
from convgrad.arith import Numbers, zeros
from convgrad.layers.base import Index, Layer, Term
from convgrad.model import Layer as LayerSpec
from convgrad.model import Pool
from convgrad.numbers import Number, exact_const


def pool_windows(a: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """a (N, C, H, W) -> windows (N, C, OH, OW, ph*pw), each row-major; windows that do not
    fit drop."""
    N, C, H, W = a.shape
    ph, pw = size
    sh, sw = stride
    OH, OW = geometry.pool_output_size(H, ph, sh), geometry.pool_output_size(W, pw, sw)
    windows = sliding_window_view(a, size, axis=(2, 3))
    windows = windows[:, :, :sh * (OH - 1) + 1:sh, :sw * (OW - 1) + 1:sw]
    return windows.reshape(N, C, OH, OW, ph * pw)


class PoolLayer(Layer):
    """a (N, C, H, W) -> p (N, C, OH, OW), OH = (H - ph) // sh + 1, each sample alone."""

    kind = "pool"

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Pool, layer.op)
        self.pool, self.size, self.stride = op.kind, op.size, op.stride
        # max: the index (row-major, 0..ph*pw-1) of each window's first maximum (N, C, OH, OW)
        self.winners: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        windows = pool_windows(x, self.size, self.stride)
        if self.pool == "max":
            self.winners = np.argmax(windows, axis=-1)
            out = np.take_along_axis(windows, self.winners[..., np.newaxis], axis=-1)[..., 0]
        else:
            out = windows.sum(axis=-1) * self._share(x)
        return self._set_out(x, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, C, OH, OW) -> dx (N, C, H, W): a loop over the ph*pw offsets of a window."""
        ph, pw = self.size
        sh, sw = self.stride
        _, _, OH, OW = dout.shape
        dx = zeros(self.x.shape, dout)
        nothing = zeros(dout.shape, dout)
        if self.pool == "avg":
            share = dout * self._share(dout)
        for k in range(ph * pw):
            p, q = divmod(k, pw)
            routed = np.where(self.winners == k, dout, nothing) if self.pool == "max" else share
            dx[..., p:p + sh * (OH - 1) + 1:sh, q:q + sw * (OW - 1) + 1:sw] += routed
        return self._set_dx(dout, dx)

    def _share(self, like: np.ndarray) -> Number:
        return exact_const(Fraction(1, self.size[0] * self.size[1]), like.dtype == object)

    # --- terms -------------------------------------------------------------------------------

    def out_terms(self, n: int, c: int, i: int, j: int) -> list[Index]:
        """The cells (n, c, r, s) of window (n, c, i, j), row-major: its max, or its mean."""
        ph, pw = self.size
        sh, sw = self.stride
        return [(n, c, i * sh + u, j * sw + v) for u in range(ph) for v in range(pw)]

    def winner(self, n: int, c: int, i: int, j: int) -> Index:
        """Max pooling: the cell of window (n, c, i, j) that is its output and gets its
        gradient."""
        assert self.winners is not None
        return self.out_terms(n, c, i, j)[int(self.winners[n, c, i, j])]

    @cached_property
    def receivers(self) -> dict[Index, list[Index]]:
        """Every input cell that gets a gradient -> the outputs whose gradient it gets, in order."""
        out: dict[Index, list[Index]] = {}
        for o in np.ndindex(*self.out.shape):
            cells = [self.winner(*o)] if self.pool == "max" else self.out_terms(*o)
            for cell in cells:
                out.setdefault(cell, []).append(o)
        return out

    def dx_terms(self, n: int, c: int, r: int, s: int) -> list[Index]:
        """dx[n,c,r,s] = the sum of dout over these outputs (each times 1/(ph*pw) for avg)."""
        return self.receivers.get((n, c, r, s), [])

    def terms(self, of: str, index: Index) -> list[Term]:
        share = self._share(self.x)
        if of == "out":
            if self.pool == "max":
                return [(("x", self.winner(*index)),)]
            return [(share, ("x", cell)) for cell in self.out_terms(*index)]
        if self.pool == "max":
            return [(("dout", o),) for o in self.dx_terms(*index)]
        return [(("dout", o), share) for o in self.dx_terms(*index)]
