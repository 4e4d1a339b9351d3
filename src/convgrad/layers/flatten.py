"""Flatten: each sample's C x H x W maps -> one vector, row-major in the flatten convention's
order (SPEC section 7): CHW, channel, then row, then column (PyTorch's); or HWC, row, then
column, then channel (Keras' Flatten on NHWC maps: the channel runs fastest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from convgrad.layers.base import Index, Layer, Term
from convgrad.model import Conventions, Flatten
from convgrad.numbers import Number


class FlattenLayer(Layer):
    """x (N, C, H, W) -> out (N, C*H*W); the gradient is folded back the same way."""

    kind = "flatten"

    @classmethod
    def conventions_met(cls, op: Flatten, conventions: Conventions,
                        number: Callable[[Number], str]) -> list[str]:
        order = {"CHW": "channel, then row, then column", "HWC": "row, then column, then channel"}
        return [f"flatten: {order.get(op.order, op.order)}"]

    def depends_on(self, key: str) -> bool | None:
        # One channel reads the same in either order.
        return self.layer.in_shape[0] > 1 if key == "flatten" else None

    @property
    def axes(self) -> tuple[int, ...]:
        """The order of one sample's axes (C, H, W) in which flatten reads them: (1, 2, 0)
        for HWC; a vector, or CHW, as it is."""
        ndim = len(self.layer.in_shape)
        if cast(Flatten, self.layer.op).order == "HWC" and ndim == 3:
            return (1, 2, 0)
        return tuple(range(ndim))

    @property
    def laid_shape(self) -> tuple[int, ...]:
        """One sample's shape in flatten's order: (H, W, C) for HWC."""
        return tuple(self.layer.in_shape[a] for a in self.axes)

    def forward(self, x: np.ndarray) -> np.ndarray:
        axes = (0, *(a + 1 for a in self.axes))
        return self._set_out(x, x.transpose(axes).reshape(x.shape[0], -1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        # Unflatten into flatten's order, then put the axes back: the inverse permutation.
        back = (0, *(int(a) + 1 for a in np.argsort(self.axes)))
        dx = dout.reshape(dout.shape[0], *self.laid_shape).transpose(back)
        return self._set_dx(dout, np.ascontiguousarray(dx))

    # --- terms -------------------------------------------------------------------------------

    def out_terms(self, n: int, k: int) -> Index:
        """out[n, k] = x[index]: the input entry (n, c, h, w) at flat position k of sample n
        (k = (c*H + h)*W + w for CHW, (h*W + w)*C + c for HWC)."""
        laid = np.unravel_index(k, self.laid_shape)
        cell = [0] * len(laid)
        for position, axis in enumerate(self.axes):
            cell[axis] = int(laid[position])
        return (n, *cell)

    def dx_terms(self, index: Index) -> Index:
        """dx[index] = dout[(n, k)]: the output entry that x[index] = x[n, c, h, w] became."""
        n, *cell = index
        laid = tuple(cell[axis] for axis in self.axes)
        return (n, int(np.ravel_multi_index(laid, self.laid_shape)))

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            return [(("x", self.out_terms(*index)),)]
        return [(("dout", self.dx_terms(index)),)]
