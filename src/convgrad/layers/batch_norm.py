"""Batch normalisation (SPEC section 6), as PyTorch's BatchNorm2d on maps (N, C, H, W) and
BatchNorm1d on vectors (N, K): per channel c (axis 1),

    out = gamma[c] * xhat + beta[c],   xhat = (x - mean[c]) / sigma[c],   sigma = sqrt(var + eps)

In train mode mean and var are the batch's, over every axis but the channel's (N, H, W; the
biased variance, dividing by the M values of the channel); in eval mode they are the
running_mean and running_var given. Float64 only: sigma is a square root.

Backward, train mode: mean and var depend on every x of the channel, so

    dx = gamma / sigma * (dout - mean(dout) - xhat * mean(dout * xhat))

three terms, the means over the channel's M values; in eval mode only the first is left,
dx = gamma / sigma * dout. dgamma = sum of dout * xhat, dbeta = sum of dout, over the channel.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from convgrad.arith import Numbers
from convgrad.layers.base import Index, Layer, Param, Term
from convgrad.model import BatchNorm
from convgrad.model import Layer as LayerSpec
from convgrad.numbers import Number, normalize, to_float


class BatchNormLayer(Layer):
    """x (N, C, H, W) or (N, K) -> out, the same shape; gamma, beta (C,)."""

    kind = "batch_norm"
    expanded = ("out", "dgamma", "dbeta", "dx")

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(BatchNorm, layer.op)
        self.mode = op.mode
        self.gamma = to_float(num.param(op.gamma, layer.name, "gamma", "gamma"))
        self.beta = to_float(num.param(op.beta, layer.name, "beta", "beta"))
        self.eps = float(num.param_const(op.eps, "eps"))
        self.running_mean = to_float(num.param(op.running_mean, layer.name, "running_mean",
                                               "running_mean"))
        self.running_var = to_float(num.param(op.running_var, layer.name, "running_var",
                                              "running_var"))
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        self.gamma_new: np.ndarray | None = None
        self.beta_new: np.ndarray | None = None
        # The pieces of the passes, kept for the walkthrough: statistics (C,) ...
        self.mean: np.ndarray
        self.var: np.ndarray
        self.sigma: np.ndarray
        # ... and x's shape: xhat, and the three terms of dx (gamma / sigma times
        # first - second - third; second and third are None in eval mode).
        self.xhat: np.ndarray
        self.first: np.ndarray | None = None
        self.second: np.ndarray | None = None
        self.third: np.ndarray | None = None

    # --- shapes ------------------------------------------------------------------------------

    def _axes(self, ndim: int) -> tuple[int, ...]:
        """Every axis but the channel's: the ones the statistics run over."""
        return (0, *range(2, ndim))

    def _per_channel(self, v: np.ndarray, ndim: int) -> np.ndarray:
        """v (C,) shaped to broadcast along axis 1 of an array of ndim axes."""
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def _count(self) -> int:
        """M: the values of one channel, over the batch and the positions."""
        return self.x.size // self.x.shape[1]

    # --- forward and backward ----------------------------------------------------------------

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C, ...) -> out, x's shape; keeps mean, var, sigma (C,) and xhat."""
        x = to_float(x)
        axes = self._axes(x.ndim)
        if self.mode == "train":
            self.mean = x.mean(axis=axes)
            self.var = ((x - self._per_channel(self.mean, x.ndim)) ** 2).mean(axis=axes)
        else:
            self.mean, self.var = self.running_mean, self.running_var
        self.sigma = np.sqrt(self.var + self.eps)
        self.xhat = (x - self._per_channel(self.mean, x.ndim)) / \
            self._per_channel(self.sigma, x.ndim)
        out = self._per_channel(self.gamma, x.ndim) * self.xhat + \
            self._per_channel(self.beta, x.ndim)
        return self._set_out(x, out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout (x's shape) -> dx; sets dgamma, dbeta (C,) and the three terms of dx."""
        dout = to_float(dout)
        nd = dout.ndim
        axes = self._axes(nd)
        self.dgamma = (dout * self.xhat).sum(axis=axes)
        self.dbeta = dout.sum(axis=axes)
        scale = self._per_channel(self.gamma / self.sigma, nd)
        self.first = dout
        if self.mode == "eval":
            # The running statistics do not depend on x: dout is the only path back.
            return self._set_dx(dout, scale * dout)
        M = self._count()
        self.second = np.broadcast_to(self._per_channel(self.dbeta / M, nd), dout.shape)
        self.third = self.xhat * self._per_channel(self.dgamma / M, nd)
        return self._set_dx(dout, scale * (self.first - self.second - self.third))

    def update(self, lr: Number) -> None:
        assert self.dgamma is not None and self.dbeta is not None
        self.gamma_new = normalize(self.gamma - lr * self.dgamma)
        self.beta_new = normalize(self.beta - lr * self.dbeta)

    def params(self) -> list[Param]:
        C = self.gamma.shape
        return [Param("gamma", self.gamma, C, self.dgamma, self.gamma_new, "dgamma",
                      "gamma_new"),
                Param("beta", self.beta, C, self.dbeta, self.beta_new, "dbeta", "beta_new")]

    def arrays(self) -> dict[str, np.ndarray]:
        """The base arrays, the parameters', and xhat, which the terms of out and dx use."""
        return {**super().arrays(), "xhat": self.xhat}

    # --- terms: the index maps of the code above, one entry at a time ------------------------

    def group(self, c: int) -> list[Index]:
        """The entries of channel c, sample first then row-major: the M values that mean and
        var run over."""
        shape = self.x.shape
        return [(n, c, *rest) for n in range(shape[0]) for rest in np.ndindex(*shape[2:])]

    def out_terms(self, index: Index) -> tuple[Index, Index]:
        """out[index] = gamma[c] * xhat[index] + beta[c]: (index, (c,))."""
        return index, (index[1],)

    def dgamma_terms(self, c: int) -> list[Index]:
        """dgamma[c] = sum of dout[m] * xhat[m] over the channel's entries m."""
        return self.group(c)

    def dbeta_terms(self, c: int) -> list[Index]:
        """dbeta[c] = sum of dout[m] over the channel's entries m."""
        return self.group(c)

    def dx_terms(self, index: Index) -> tuple[float, list[Index]]:
        """dx[index] = gamma[c]/sigma[c] * (dout[index] - sum over m of dout[m] / M
        - xhat[index] * sum over m of dout[m] * xhat[m] / M): (1/sigma[c], the channel's
        entries m); in eval mode no m (dx = gamma[c]/sigma[c] * dout[index])."""
        c = index[1]
        return 1 / float(self.sigma[c]), [] if self.mode == "eval" else self.group(c)

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "out":
            entry, channel = self.out_terms(index)
            return [(("gamma", channel), ("xhat", entry)), (("beta", channel),)]
        if of == "dgamma":
            return [(("dout", m), ("xhat", m)) for m in self.dgamma_terms(*index)]
        if of == "dbeta":
            return [(("dout", m),) for m in self.dbeta_terms(*index)]
        inv_sigma, group = self.dx_terms(index)
        gamma = ("gamma", (index[1],))
        share = -inv_sigma / len(group) if group else 0.0
        return ([(gamma, inv_sigma, ("dout", index))]
                + [(gamma, share, ("dout", m)) for m in group]
                + [(gamma, share, ("xhat", index), ("xhat", m), ("dout", m)) for m in group])

