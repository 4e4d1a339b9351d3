"""Flatten: C x H x W maps -> one vector, channel, then row, then column (row-major)."""

from __future__ import annotations

import numpy as np

from convgrad.layers.base import Index, Layer, Term


class FlattenLayer(Layer):
    """x (C, H, W) -> out (C*H*W,); the gradient is folded back the same way."""

    kind = "flatten"

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._set_out(x, x.reshape(-1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._set_dx(dout, dout.reshape(self.x.shape))

    # --- terms -------------------------------------------------------------------------------

    def out_terms(self, n: int) -> Index:
        """out[n] = x[index]: the input entry at flat position n."""
        return tuple(int(i) for i in np.unravel_index(n, self.layer.in_shape))

    def dx_terms(self, index: Index) -> Index:
        """dx[index] = dout[(n,)]: the output entry that x[index] became."""
        return (int(np.ravel_multi_index(index, self.layer.in_shape)),)

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            return [(("x", self.out_terms(*index)),)]
        return [(("dout", self.dx_terms(index)),)]
