"""Dense (fully connected), as PyTorch's Linear: y = w x + b, w (M, N) written out x in."""

from __future__ import annotations

from typing import cast

import numpy as np

from convgrad.arith import Numbers, matmul
from convgrad.layers.base import Index, ParamLayer, Term
from convgrad.model import Dense
from convgrad.model import Layer as LayerSpec


class DenseLayer(ParamLayer):
    """x (N,), w (M, N), b (M,) -> y (M,)."""

    kind = "dense"

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Dense, layer.op)
        self.w = num.param(op.w, layer.name, "weights", "weights")
        self.b = num.param(op.b, layer.name, "bias", "bias")

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._set_out(x, matmul(self.w, x.reshape(-1, 1)).reshape(-1) + self.b)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (M,) -> dx (N,) = w^T dout; dw (M, N) = dout x^T, db (M,) = dout."""
        dx = matmul(self.w.T, dout.reshape(-1, 1)).reshape(-1)
        self._set_grads(matmul(dout.reshape(-1, 1), self.x.reshape(1, -1)), dout.copy())
        return self._set_dx(dout, dx)

    # --- terms -------------------------------------------------------------------------------

    def out_terms(self, m: int) -> tuple[list[tuple[Index, Index]], Index]:
        """y[m] = sum of w[w_index] * x[x_index] + b[bias_index]: the (x_index, w_index)
        pairs of row m, and (m,)."""
        N = self.w.shape[1]
        return [((n,), (m, n)) for n in range(N)], (m,)

    def dw_terms(self, m: int, n: int) -> list[tuple[Index, Index]]:
        """dw[m,n] = dout[m] * x[n]."""
        return [((m,), (n,))]

    def db_terms(self, m: int) -> list[Index]:
        """db[m] = dout[m]."""
        return [(m,)]

    def dx_terms(self, n: int) -> list[tuple[Index, Index]]:
        """dx[n] = sum over the outputs m of dout[m] * w[m, n] (column n of w)."""
        M = self.w.shape[0]
        return [((m,), (m, n)) for m in range(M)]

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            pairs, bias = self.out_terms(*index)
            return [(("w", w), ("x", x)) for x, w in pairs] + [(("b", bias),)]
        if of == "dw":
            return [(("dout", o), ("x", x)) for o, x in self.dw_terms(*index)]
        if of == "db":
            return [(("dout", o),) for o in self.db_terms(*index)]
        return [(("dout", o), ("w", w)) for o, w in self.dx_terms(*index)]
