"""Max and average pooling, with the pooling conventions of SPEC section 7.

By default (PyTorch's) there is no padding and windows that do not fit are dropped (floor);
max pooling sends each window's gradient to its first maximum in row-major order, average
pooling gives each cell dout / (ph*pw). Overlapping windows add up. The conventions:
- pool_padding: the input is padded, for max with -infinity (padding never wins), for avg
  with zeros that the divisor counts or not (avg_count_padding);
- pool_ceil: the output size rounds up, keeping a last partial window (its overhang beyond
  the padding holds nothing: -infinity for max, and no avg divisor counts it);
- max_ties: a window's gradient goes to its first maximum, its last, all of its tied maxima
  (each the whole), or is split among them equally.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import cached_property
from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convgrad import geometry
from convgrad.arith import Numbers, exact, integers, remember, zeros
from convgrad.layers.base import Index, Layer, Term
from convgrad.model import Conventions, Pool
from convgrad.model import Layer as LayerSpec
from convgrad.numbers import Number, exact_const


def pool_windows(a: np.ndarray, size: tuple[int, int], stride: tuple[int, int],
                 out: tuple[int, int]) -> np.ndarray:
    """a (N, C, Hp, Wp), already padded -> windows (N, C, OH, OW, ph*pw), each row-major."""
    N, C = a.shape[:2]
    ph, pw = size
    sh, sw = stride
    OH, OW = out
    windows = sliding_window_view(a, size, axis=(2, 3))
    windows = windows[:, :, :sh * (OH - 1) + 1:sh, :sw * (OW - 1) + 1:sw]
    return windows.reshape(N, C, OH, OW, ph * pw)


def reciprocals(counts: np.ndarray, exact: bool) -> np.ndarray:
    """1/count for each entry of an int array, exact (Fractions, by a table of the few
    counts there are) or float64."""
    if not exact:
        return 1.0 / counts
    table = np.array([0] + [exact_const(Fraction(1, k), True)
                            for k in range(1, int(counts.max(initial=0)) + 1)], dtype=object)
    return table[counts]


# What max_ties does with a tied maximum, for students (conventions_met).
TIES_WORDS = {"first": "a tied max goes to the first maximum (row by row)",
              "last": "a tied max goes to the last maximum (row by row)",
              "all": "every tied maximum gets the whole gradient",
              "split": "tied maxima share the gradient equally"}


class PoolLayer(Layer):
    """a (N, C, H, W) -> p (N, C, OH, OW), each sample alone; OH as geometry.pool_output_size
    (floor((H + pads - ph) / sh) + 1 by default)."""

    kind = "pool"

    @classmethod
    def conventions_met(cls, op: Pool, conventions: Conventions,
                        number: Callable[[Number], str]) -> list[str]:
        said = []
        if op.kind == "max":
            said.append(TIES_WORDS.get(op.ties, f"max_ties {op.ties}"))
        if any(op.pad):
            said.append(f"pooling pads {op.padding_text}"
                        + (" (with -infinity)" if op.kind == "max" else ""))
        if op.ceil:
            said.append("pooling windows in ceil mode (a last partial window counts)")
        if op.kind == "avg" and (any(op.pad) or op.ceil):
            said.append("avg pool divides by the window's cells inside the padded input"
                        if op.count_padding else "avg pool divides by the window's real cells")
        return said

    def meets(self, requirement: str) -> bool | None:
        """max_tie: a window whose maximum is tied (zeros count), where max_ties decides."""
        if requirement != "max_tie" or self.pool != "max":
            return None
        x = self.x
        shape = self.padded_shape(x.shape)
        if shape != x.shape:  # padding never wins a max
            top, left = self.pad[0], self.pad[2]
            x_pad = np.full(shape, -np.inf, dtype=x.dtype)
            x_pad[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x
            x = x_pad
        windows = pool_windows(x, self.size, self.stride, self.out_hw)
        tied = (windows == windows.max(axis=-1)[..., np.newaxis]).sum(axis=-1) > 1
        return bool(tied.any())

    def depends_on(self, key: str) -> bool | None:
        if key == "max_ties":
            return True if self.pool == "max" else None
        if key == "avg_count_padding":
            return True if self.pool == "avg" and any(self.pad) else None
        if key == "pool_ceil":
            # False where every size divides evenly: no window is left over to count or drop.
            return not all((n + self.pad[2 * axis] + self.pad[2 * axis + 1] - self.size[axis])
                           % self.stride[axis] == 0
                           for axis, n in enumerate(self.layer.in_shape[-2:]))
        return None

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Pool, layer.op)
        self.pool, self.size = op.kind, op.size
        _, H, W = layer.in_shape
        top, bottom, left, right = op.pad
        self.stride = geometry.working_stride(op.stride, layer.out_shape[-2:],
                                              (H + top + bottom, W + left + right))
        self.pad, self.ties = op.pad, op.ties
        # max: the index (row-major, 0..ph*pw-1) of each window's maximum that gets its
        # gradient (first, last) (N, C, OH, OW); or (all, split) which of its cells are tied
        # maxima (N, C, OH, OW, ph*pw) and each one's share (1, or 1/count under split).
        self.winners: np.ndarray | None = None
        self.tied: np.ndarray | None = None
        self.tie_share: np.ndarray | None = None

    @cached_property
    def out_hw(self) -> tuple[int, int]:
        _, OH, OW = self.layer.out_shape
        return OH, OW

    def padded_shape(self, x_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The input padded, and on past the bottom/right padding as far as a ceil window
        reaches: (N, C, Hp, Wp)."""
        N, C, H, W = x_shape
        (ph, pw), (sh, sw), (OH, OW) = self.size, self.stride, self.out_hw
        top, bottom, left, right = self.pad
        Hp = max(H + top + bottom, (OH - 1) * sh + ph)
        Wp = max(W + left + right, (OW - 1) * sw + pw)
        return N, C, Hp, Wp

    @cached_property
    def divisors(self) -> np.ndarray:
        """avg: the cells each window's mean divides by (OH, OW), by avg_count_padding."""
        _, H, W = self.layer.in_shape
        (ph, pw), (sh, sw), (OH, OW) = self.size, self.stride, self.out_hw
        top, bottom, left, right = self.pad
        rows = geometry.pool_window_cells(H, ph, sh, top, bottom, OH, self.op.count_padding)
        cols = geometry.pool_window_cells(W, pw, sw, left, right, OW, self.op.count_padding)
        return rows[:, np.newaxis] * cols[np.newaxis, :]

    def forward(self, x: np.ndarray) -> np.ndarray:
        N, C, H, W = x.shape
        top, left = self.pad[0], self.pad[2]
        padded_shape = self.padded_shape(x.shape)
        if padded_shape == x.shape:
            x_pad = x
        else:  # padding (and any ceil overhang): nothing a max can pick, 0 in a sum
            fill = -np.inf if self.pool == "max" else 0
            x_pad = np.full(padded_shape, fill, dtype=x.dtype)
            x_pad[:, :, top:top + H, left:left + W] = x
        windows = pool_windows(x_pad, self.size, self.stride, self.out_hw)
        if self.pool == "avg":
            return self._set_out(x, windows.sum(axis=-1) * self._shares(x))
        # Exact without padding: the order of the entries is that of their integers over
        # one denominator (arith.integers), compared without a Fraction.
        num, den = integers(x) if x.dtype == object and x_pad is x else (None, 1)
        keys = windows if num is None else pool_windows(num, self.size, self.stride,
                                                         self.out_hw)
        if self.ties in ("first", "last"):
            if self.ties == "first":
                self.winners = np.argmax(keys, axis=-1)
            else:
                self.winners = keys.shape[-1] - 1 - np.argmax(keys[..., ::-1], axis=-1)
            picked = self.winners[..., np.newaxis]
            out = np.take_along_axis(windows, picked, axis=-1)[..., 0]
            if num is not None:  # the picked entries, and their integers with them
                out = remember(out, np.take_along_axis(keys, picked, axis=-1)[..., 0], den)
        else:
            top = keys.max(axis=-1)
            self.tied = keys == top[..., np.newaxis]
            out = windows.max(axis=-1) if num is None else \
                remember(np.take_along_axis(windows, np.argmax(self.tied, axis=-1)[
                    ..., np.newaxis], axis=-1)[..., 0], top, den)
            if self.ties == "split":
                self.tie_share = reciprocals(self.tied.sum(axis=-1), x.dtype == object)
        return self._set_out(x, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, C, OH, OW) -> dx (N, C, H, W): a loop over the ph*pw offsets of a window,
        then the padding cut off."""
        ph, pw = self.size
        sh, sw = self.stride
        OH, OW = self.out_hw
        N, C, H, W = self.x.shape
        top, left = self.pad[0], self.pad[2]
        padded_shape = self.padded_shape(self.x.shape)
        # Exact max pooling routes dout's integers over their one denominator (made exact
        # once at the end), so that overlapping windows add integers, not Fractions.
        den = None
        if self.pool == "avg":
            share = dout * self._shares(dout)
        elif self.tie_share is not None:
            share = dout * self.tie_share
        elif dout.dtype == object:
            share, den = integers(dout)
        else:
            share = dout
        dx = zeros(padded_shape, share)
        nothing = zeros(dout.shape, share)
        # Windows apart (stride >= size) and one winner each: every cell gets one entry of
        # dout or none, so the exact dx is those entries themselves, picked, not made again.
        picked = zeros(padded_shape, dout) if den is not None and self.tied is None and \
            sh >= ph and sw >= pw else None
        for k in range(ph * pw):
            p, q = divmod(k, pw)
            cells = (..., slice(p, p + sh * (OH - 1) + 1, sh), slice(q, q + sw * (OW - 1) + 1, sw))
            if self.pool == "avg":
                routed = share
            elif self.tied is not None:
                routed = np.where(self.tied[..., k], share, nothing)
            else:
                routed = np.where(self.winners == k, share, nothing)
                if picked is not None:
                    picked[cells] = np.where(self.winners == k, dout, picked[cells])
            dx[cells] += routed
        if padded_shape != self.x.shape:  # what reached the padding goes nowhere
            dx = np.ascontiguousarray(dx[:, :, top:top + H, left:left + W])
            if picked is not None:
                picked = np.ascontiguousarray(picked[:, :, top:top + H, left:left + W])
        if den is not None:
            dx = exact(dx, den) if picked is None else remember(picked, dx, den)
        return self._set_dx(dout, dx)

    def _shares(self, like: np.ndarray) -> Number | np.ndarray:
        """avg: each window's 1/divisor: one number, 1/(ph*pw), when every window counts
        all of its cells, else (OH, OW)."""
        exact = like.dtype == object
        divisors = self.divisors
        whole = self.size[0] * self.size[1]
        if (divisors == whole).all():
            return exact_const(Fraction(1, whole), exact)
        return reciprocals(divisors, exact)

    def share_of(self, i: int, j: int) -> Number:
        """avg: window (i, j)'s 1/divisor, in the run's arithmetic."""
        shares = self._shares(self.x)
        return shares[i, j] if isinstance(shares, np.ndarray) else shares

    # --- terms -------------------------------------------------------------------------------

    def window_cells(self, n: int, c: int, i: int, j: int) -> list[Index | None]:
        """Each cell of window (n, c, i, j), row-major: (n, c, r, s) of the input, or None
        for padding (and a ceil window's overhang)."""
        ph, pw = self.size
        sh, sw = self.stride
        top, left = self.pad[0], self.pad[2]
        _, _, H, W = self.x.shape
        cells: list[Index | None] = []
        for u in range(ph):
            for v in range(pw):
                r, s = i * sh + u - top, j * sw + v - left
                cells.append((n, c, r, s) if 0 <= r < H and 0 <= s < W else None)
        return cells

    def out_terms(self, n: int, c: int, i: int, j: int) -> list[Index]:
        """The input cells (n, c, r, s) of window (n, c, i, j), row-major, padding left out:
        its max, or (each over the window's divisor) its mean."""
        return [cell for cell in self.window_cells(n, c, i, j) if cell is not None]

    def winner(self, n: int, c: int, i: int, j: int) -> Index:
        """Max pooling: the cell of window (n, c, i, j) that is its output (the first of its
        tied maxima under max_ties all or split)."""
        return self.winners_of(n, c, i, j)[0]

    def winners_of(self, n: int, c: int, i: int, j: int) -> list[Index]:
        """Max pooling: the cells of window (n, c, i, j) that get its gradient, row-major."""
        cells = self.window_cells(n, c, i, j)
        if self.tied is not None:
            chosen = [k for k in range(len(cells)) if self.tied[n, c, i, j, k]]
        else:
            assert self.winners is not None
            chosen = [int(self.winners[n, c, i, j])]
        return [cell for k in chosen if (cell := cells[k]) is not None]

    def tied_cells(self, n: int, c: int, i: int, j: int) -> list[Index]:
        """Max pooling: every cell of window (n, c, i, j) equal to its maximum, row-major."""
        top = self.out[n, c, i, j]
        return [cell for cell in self.out_terms(n, c, i, j) if self.x[cell] == top]

    @cached_property
    def receivers(self) -> dict[Index, list[Index]]:
        """Every input cell that gets a gradient -> the outputs whose gradient it gets, in order."""
        out: dict[Index, list[Index]] = {}
        for o in np.ndindex(*self.out.shape):
            cells = self.winners_of(*o) if self.pool == "max" else self.out_terms(*o)
            for cell in cells:
                out.setdefault(cell, []).append(o)
        return out

    def dx_terms(self, n: int, c: int, r: int, s: int) -> list[Index]:
        """dx[n,c,r,s] = the sum of dout over these outputs (each times its share: 1/divisor
        for avg, 1/ties under max_ties split)."""
        return self.receivers.get((n, c, r, s), [])

    def dx_share(self, o: Index) -> Number | None:
        """The share of output o's gradient that each of its receivers gets: None for the
        whole of it (max, but under max_ties split)."""
        if self.pool == "avg":
            return self.share_of(o[2], o[3])
        if self.tie_share is not None:
            return cast(Number, self.tie_share[o])
        return None

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            if self.pool == "max":
                return [(("x", self.winner(*index)),)]
            share = self.share_of(index[2], index[3])
            return [(share, ("x", cell)) for cell in self.out_terms(*index)]
        out: list[Term] = []
        for o in self.dx_terms(*index):
            part = self.dx_share(o)
            out.append((("dout", o),) if part is None else (("dout", o), part))
        return out
