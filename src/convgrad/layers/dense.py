"""Dense (fully connected), as PyTorch's Linear: y = x w^T + b for a batch of rows x, w (M, K)
written out x in."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from convgrad.arith import Numbers, matmul
from convgrad.layers.base import Index, ParamLayer, Term
from convgrad.model import Conventions, Dense
from convgrad.model import Layer as LayerSpec
from convgrad.numbers import Number


class DenseLayer(ParamLayer):
    """x (N, K), w (M, K), b (M,) -> y (N, M)."""

    kind = "dense"

    @classmethod
    def conventions_met(cls, op: Dense, conventions: Conventions,
                        number: Callable[[Number], str]) -> list[str]:
        form = {"out_in": "y = W x + b, W out x in", "in_out": "y = x W + b, W in x out"}
        return [f"dense: {form.get(conventions.dense_weights, conventions.dense_weights)}"]

    def depends_on(self, key: str) -> bool | None:
        return True if key == "dense_weights" else None

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Dense, layer.op)
        self.w = num.param(op.w, layer.name, "weights", "weights")
        self.b = num.param(op.b, layer.name, "bias", "bias")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, K) -> y (N, M) = x w^T + b, one matmul for the batch (as w x^T, the samples as
        columns: the product a single sample has always had)."""
        return self._set_out(x, matmul(self.w, x.T).T + self.b)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (N, M) -> dx (N, K) = dout w; dw (M, K) = dout^T x and db (M,) = the sum of
        dout over the samples."""
        dx = matmul(self.w.T, dout.T).T
        self._set_grads(matmul(dout.T, self.x), dout.sum(axis=0))
        return self._set_dx(dout, dx)

    # --- terms -------------------------------------------------------------------------------

    @property
    def samples(self) -> int:
        return int(self.x.shape[0])

    def out_terms(self, n: int, m: int) -> tuple[list[tuple[Index, Index]], Index]:
        """y[n,m] = sum of w[w_index] * x[x_index] + b[bias_index]: the (x_index, w_index)
        pairs ((n, k), (m, k)) of row m, and (m,)."""
        K = self.w.shape[1]
        return [((n, k), (m, k)) for k in range(K)], (m,)

    def dw_terms(self, m: int, k: int) -> list[tuple[Index, Index]]:
        """dw[m,k] = sum over the samples n of dout[n, m] * x[n, k]."""
        return [((n, m), (n, k)) for n in range(self.samples)]

    def db_terms(self, m: int) -> list[Index]:
        """db[m] = sum over the samples n of dout[n, m]."""
        return [(n, m) for n in range(self.samples)]

    def dx_terms(self, n: int, k: int) -> list[tuple[Index, Index]]:
        """dx[n,k] = sum over the outputs m of dout[n, m] * w[m, k] (column k of w)."""
        M = self.w.shape[0]
        return [((n, m), (m, k)) for m in range(M)]

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            pairs, bias = self.out_terms(*index)
            return [(("w", w), ("x", x)) for x, w in pairs] + [(("b", bias),)]
        if of == "dw":
            return [(("dout", o), ("x", x)) for o, x in self.dw_terms(*index)]
        if of == "db":
            return [(("dout", o),) for o in self.db_terms(*index)]
        return [(("dout", o), ("w", w)) for o, w in self.dx_terms(*index)]
