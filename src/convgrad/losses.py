"""The losses of SPEC section 2: each one's value L and gradient dL/dY, side by side.

y is the last layer's output and t the target, of the same shape, the batch axis first:
(N, ...). Reductions as PyTorch's defaults: mse, mae and bce average over every element
(y.size, the samples too), sse and half_sse sum, and cross_entropy is taken per sample
(softmax over that sample's outputs) and averaged over the batch. mse, sse, half_sse and mae
are rational (exact arrays stay exact); bce and cross_entropy are float64.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from convgrad.numbers import Number, exact_const, to_float

if TYPE_CHECKING:
    from convgrad.layers import Layer
    from convgrad.model import Problem


class Loss(NamedTuple):
    """value(y, t) -> L, gradient(y, t) -> dL/dY (y's shape)."""

    value: Callable[[np.ndarray, np.ndarray], Number]
    gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _inv_n(y: np.ndarray) -> Number:
    return exact_const(Fraction(1, y.size), y.dtype == object)


# mse: L = (1/N) sum (y - t)^2, dL/dy = 2/N (y - t)

def _mse(y: np.ndarray, t: np.ndarray) -> Number:
    d = y - t
    return _scalar((d * d).sum() * _inv_n(y))


def _mse_gradient(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (y - t) * (2 * _inv_n(y))


# sse: L = sum (y - t)^2, dL/dy = 2 (y - t)

def _sse(y: np.ndarray, t: np.ndarray) -> Number:
    d = y - t
    return _scalar((d * d).sum())


def _sse_gradient(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (y - t) * 2


# half_sse: L = 1/2 sum (y - t)^2, dL/dy = y - t

def _half_sse(y: np.ndarray, t: np.ndarray) -> Number:
    d = y - t
    return _scalar((d * d).sum() * exact_const(Fraction(1, 2), y.dtype == object))


def _half_sse_gradient(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (y - t) * 1


# mae: L = (1/N) sum |y - t|, dL/dy = sign(y - t) / N

def _mae(y: np.ndarray, t: np.ndarray) -> Number:
    return _scalar(np.abs(y - t).sum() * _inv_n(y))


def _mae_gradient(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    d = y - t
    # d|u|/du = sign(u), and 0 at u = 0 as PyTorch.
    sign = np.where(d > 0, 1, np.where(d < 0, -1, 0))
    return (sign * _inv_n(y)).astype(y.dtype)


# bce: L = -(1/N) sum [t log y + (1 - t) log(1 - y)], every y in (0, 1)

def _bce(y: np.ndarray, t: np.ndarray) -> Number:
    yf, tf = to_float(y), to_float(t)
    return float(-(tf * np.log(yf) + (1 - tf) * np.log1p(-yf)).sum() / y.size)


def _bce_gradient(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    yf, tf = to_float(y), to_float(t)
    return (yf - tf) / (yf * (1 - yf)) / y.size


# cross_entropy: per sample, softmax over every element of that sample's y,
# L_n = -sum t log softmax(y_n); L = the mean of L_n over the N samples

def _cross_entropy(y: np.ndarray, t: np.ndarray) -> Number:
    yf, tf = to_float(y), to_float(t)
    # An output far below the largest has log softmax -inf in float64 (its softmax is 0);
    # a target of 0 there adds 0 to the loss, not 0 * -inf = nan.
    per_sample = np.where(tf != 0, tf * _log_softmax(yf), 0).sum(axis=_sample_axes(y))
    return float(0.0 - per_sample.sum() / len(y))  # never -0.0


def _cross_entropy_gradient(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    yf, tf = to_float(y), to_float(t)
    # (softmax(y_n) * sum(t_n) - t_n) / N; sum(t_n) is 1 for a distribution.
    total = tf.sum(axis=_sample_axes(y), keepdims=True)
    return (np.exp(_log_softmax(yf)) * total - tf) / len(y)


LOSSES: dict[str, Loss] = {
    "mse": Loss(_mse, _mse_gradient),
    "sse": Loss(_sse, _sse_gradient),
    "half_sse": Loss(_half_sse, _half_sse_gradient),
    "mae": Loss(_mae, _mae_gradient),
    "bce": Loss(_bce, _bce_gradient),
    "cross_entropy": Loss(_cross_entropy, _cross_entropy_gradient),
}


def value(name: str, y: np.ndarray, t: np.ndarray) -> Number:
    """L for output y and target t of the same shape (N, ...)."""
    return LOSSES[name].value(y, t)


def gradient(name: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dL/dY, the same shape as y."""
    return LOSSES[name].gradient(y, t)


def check_domain(problem: Problem, last: Layer, y: np.ndarray) -> None:
    """ProblemError when the loss is not defined at y (bce needs every y in (0, 1)).

    last: the layer that made y; a sigmoid there gets a hint about saturation.
    """
    if problem.loss != "bce":
        return
    outside = [(i, v) for i, v in enumerate(y.flat) if not 0 < v < 1]
    if not outside:
        return
    i, v = outside[0]
    if last.layer.type == "sigmoid":
        z = float(last.x.flat[i])
        raise problem.error("loss", f"bce needs every output strictly between 0 and 1, "
                            f"but output {i + 1} (row-major) is the sigmoid of "
                            f"{z:.6g}, which is exactly {float(v):g} in float64; use "
                            "smaller numbers so that the sigmoid does not saturate")
    raise problem.error("loss", f"bce needs every output strictly between 0 and 1, but "
                        f"output {i + 1} (row-major) is {float(v):.6g}; add "
                        "activation: sigmoid, or use mse")


def _sample_axes(y: np.ndarray) -> tuple[int, ...]:
    """The axes of one sample of y (N, ...): all but the first."""
    return tuple(range(1, y.ndim))


def _log_softmax(y: np.ndarray) -> np.ndarray:
    """log softmax over each sample of y (N, ...)."""
    axes = _sample_axes(y)
    shifted = y - y.max(axis=axes, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))


def _scalar(value: Any) -> Number:
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
