"""Flatten: each sample's C x H x W maps -> one vector, channel, then row, then column
(row-major)."""

from __future__ import annotations

import numpy as np

from convgrad.layers.base import Index, Layer, Term


class FlattenLayer(Layer):
    """x (N, C, H, W) -> out (N, C*H*W); the gradient is folded back the same way."""

    kind = "flatten"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._set_out(x, x.reshape(x.shape[0], -1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._set_dx(dout, dout.reshape(self.x.shape))

    # --- terms -------------------------------------------------------------------------------

    def out_terms(self, n: int, k: int) -> Index:
        """out[n, k] = x[index]: the input entry (n, c, h, w) at flat position k of sample n."""
        return (n, *(int(i) for i in np.unravel_index(k, self.layer.in_shape)))

    def dx_terms(self, index: Index) -> Index:
        """dx[index] = dout[(n, k)]: the output entry that x[index] = x[n, c, h, w] became."""
        n, *cell = index
        return (n, int(np.ravel_multi_index(tuple(cell), self.layer.in_shape)))

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            return [(("x", self.out_terms(*index)),)]
        return [(("dout", self.dx_terms(index)),)]
