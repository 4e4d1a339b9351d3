"""softmax (SPEC section 6): y_i = e^(x_i) / sum over the group of e^(x_j), float64 only.

The group of an entry is, with dim channels, the channels at its position of a sample's
C x H x W maps, as PyTorch's Softmax(dim=1) on N x C x H x W; with dim all, every value of
its sample (a vector's default). Backward is the Jacobian product
dx_j = sum_i dout_i y_i (delta_ij - y_j), that is y * (dout - sum over the group of dout * y).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from convgrad.arith import Numbers
from convgrad.layers.base import FunctionLayer, Index
from convgrad.model import Layer as LayerSpec
from convgrad.model import Softmax
from convgrad.numbers import Number, to_float


class SoftmaxLayer(FunctionLayer):
    """x (N, C, H, W) or (N, K) -> y, the same shape; no parameters."""

    kind = "softmax"

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = cast(Softmax, layer.op)
        self.dim = self.op.dim

    def _axis(self) -> int | tuple[int, ...]:
        """The axes of a group: the channels, or every axis of a sample."""
        return 1 if self.dim == "channels" else tuple(range(1, len(self.layer.in_shape) + 1))

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = to_float(x)
        # Shifted by each group's largest value: every exponent is <= 0, nothing overflows.
        e = np.exp(x - x.max(axis=self._axis(), keepdims=True))
        return self._set_out(x, e / e.sum(axis=self._axis(), keepdims=True))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (x's shape) -> dx = y * (dout - sum over the group of dout * y)."""
        y = self.out
        dout = to_float(dout)
        return self._set_dx(dout, y * (dout - (dout * y).sum(axis=self._axis(), keepdims=True)))

    # --- terms -------------------------------------------------------------------------------

    def group(self, index: Index) -> list[Index]:
        """The entries softmax normalises together with `index` (n first), row-major."""
        if self.dim == "channels":
            n, _, i, j = index
            return [(n, c, i, j) for c in range(self.layer.in_shape[0])]
        return [(index[0], *i) for i in np.ndindex(*self.layer.in_shape)]

    def out_terms(self, index: Index) -> tuple[list[Index], int]:
        """y[index] = softmax(x[group])_k: the group's inputs and k, index's place in it."""
        group = self.group(index)
        return group, group.index(index)

    def dx_terms(self, index: Index) -> list[tuple[Index, Number]]:
        """dx[j] = sum over the group of dout[i] * dy_i/dx_j, dy_i/dx_j = y_i (delta_ij - y_j):
        [(i, dy_i/dx_j)]."""
        y = self.out
        return [(i, float(y[i] * ((i == index) - y[index]))) for i in self.group(index)]

    def facts(self) -> dict[str, Any]:
        """What the words of this layer (render/words.py: fact.softmax ...) are filled in with."""
        n = len(self.group((0,) * (len(self.layer.in_shape) + 1)))
        return {"dim": self.dim, "n": n, "groups": int(np.prod(self.layer.in_shape)) // n}


class LogSoftmaxLayer(SoftmaxLayer):
    """log_softmax (SPEC section 6), as PyTorch's LogSoftmax: y_i = x_i - log Σ_j e^(x_j)
    over the same groups as softmax; x (N, C, H, W) or (N, K) -> y, the same shape.

    Backward: dy_i/dx_j = δ_ij - softmax(x)_j, so dx_j = dout_j - softmax_j · Σ_i dout_i.
    """

    kind = "log_softmax"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = to_float(x)
        # Shifted by each group's largest value: every exponent is <= 0, nothing overflows,
        # and the log of the sum (>= 1) loses nothing.
        shifted = x - x.max(axis=self._axis(), keepdims=True)
        e = np.exp(shifted)
        total = e.sum(axis=self._axis(), keepdims=True)
        self.p = e / total  # softmax(x), which the backward pass needs
        return self._set_out(x, shifted - np.log(total))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (x's shape) -> dx = dout - softmax(x) · (sum over the group of dout)."""
        dout = to_float(dout)
        return self._set_dx(dout, dout - self.p * dout.sum(axis=self._axis(), keepdims=True))

    def dx_terms(self, index: Index) -> list[tuple[Index, Number]]:
        """dx[j] = sum over the group of dout[i] * dy_i/dx_j, dy_i/dx_j = δ_ij - softmax_j."""
        p = float(self.p[index])
        return [(i, float((i == index) - p)) for i in self.group(index)]
