"""The losses of SPEC sections 2 and 6: each one's value L and gradient dL/dY, side by side.

y is the last layer's output and t the target, of the same shape, the batch axis first:
(N, ...). Reductions as PyTorch's defaults: mse, mae and bce average over every element
(y.size, the samples too), sse and half_sse sum. The distribution losses (cross_entropy on
logits, nll on log-probabilities, cross_entropy_probs on probabilities) sum t·(...) over a
group -- one sample's outputs, or with `over: channels` the channels at one position of
N x C x H x W maps -- and average over the groups (the samples, or N·H·W positions), as
PyTorch's CrossEntropyLoss and NLLLoss. mse, sse, half_sse, mae and nll are rational (exact
arrays stay exact); bce, cross_entropy and cross_entropy_probs are float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from convgrad.arith import exact, integers
from convgrad.errors import NLL_NOT_LOG, Notice
from convgrad.numbers import Number, exact_const, to_float

if TYPE_CHECKING:
    from convgrad.layers import Layer
    from convgrad.model import Problem


class Loss(NamedTuple):
    """value(y, t, over) -> L, gradient(y, t, over) -> dL/dY (y's shape); over: all | channels,
    what a distribution loss sums over (the others ignore it)."""

    value: Callable[[np.ndarray, np.ndarray, str], Number]
    gradient: Callable[[np.ndarray, np.ndarray, str], np.ndarray]


def _inv_n(y: np.ndarray) -> Number:
    return exact_const(Fraction(1, y.size), y.dtype == object)


# The squared losses, exact: y - t as integers over one denominator D (arith.integers), so
# that L is one Fraction, sum(d*d) / (D*D) times its factor, and dL/dy is made exact once
# per entry: no Fraction per entry along the way.

def _difference(y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, int]:
    """Exact y - t (N, ...) as (integers (Python ints), D > 0): y - t == integers / D."""
    ny, dy = integers(y)
    nt, dt = integers(t)
    common = math.lcm(dy, dt)
    return ny * (common // dy) - nt * (common // dt), common


def _squares(y: np.ndarray, t: np.ndarray, factor: Fraction) -> Number:
    """factor * sum (y - t)^2, exact."""
    d, common = _difference(y, t)
    return _scalar(Fraction(int((d * d).sum()), common * common) * factor)


def _scaled_difference(y: np.ndarray, t: np.ndarray, factor: Fraction) -> np.ndarray:
    """factor * (y - t), exact, each entry made once."""
    d, common = _difference(y, t)
    return exact(d * factor.numerator, common * factor.denominator)


# mse: L = (1/N) sum (y - t)^2, dL/dy = 2/N (y - t)

def _mse(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    if y.dtype == object:
        return _squares(y, t, Fraction(1, y.size))
    d = y - t
    return _scalar((d * d).sum() * _inv_n(y))


def _mse_gradient(y: np.ndarray, t: np.ndarray, over: str = "all") -> np.ndarray:
    if y.dtype == object:
        return _scaled_difference(y, t, Fraction(2, y.size))
    return (y - t) * (2 * _inv_n(y))


# sse: L = sum (y - t)^2, dL/dy = 2 (y - t)

def _sse(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    if y.dtype == object:
        return _squares(y, t, Fraction(1))
    d = y - t
    return _scalar((d * d).sum())


def _sse_gradient(y: np.ndarray, t: np.ndarray, over: str = "all") -> np.ndarray:
    if y.dtype == object:
        return _scaled_difference(y, t, Fraction(2))
    return (y - t) * 2


# half_sse: L = 1/2 sum (y - t)^2, dL/dy = y - t

def _half_sse(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    if y.dtype == object:
        return _squares(y, t, Fraction(1, 2))
    d = y - t
    return _scalar((d * d).sum() * 0.5)


def _half_sse_gradient(y: np.ndarray, t: np.ndarray, over: str = "all") -> np.ndarray:
    if y.dtype == object:
        return _scaled_difference(y, t, Fraction(1))
    return (y - t) * 1


# mae: L = (1/N) sum |y - t|, dL/dy = sign(y - t) / N

def _mae(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    return _scalar(np.abs(y - t).sum() * _inv_n(y))


def _mae_gradient(y: np.ndarray, t: np.ndarray, over: str = "all", kink: Number = 0
                  ) -> np.ndarray:
    d = y - t
    # d|u|/du = sign(u), and at u = 0 the kink convention's value (0 as PyTorch).
    at_zero: Any = exact_const(kink, y.dtype == object) if kink else 0
    sign = np.where(d > 0, 1, np.where(d < 0, -1, at_zero))
    return (sign * _inv_n(y)).astype(y.dtype)


# bce: L = -(1/N) sum [t log y + (1 - t) log(1 - y)], every y in (0, 1)

def _bce(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    yf, tf = to_float(y), to_float(t)
    return float(-(tf * np.log(yf) + (1 - tf) * np.log1p(-yf)).sum() / y.size)


def _bce_gradient(y: np.ndarray, t: np.ndarray, over: str = "all") -> np.ndarray:
    yf, tf = to_float(y), to_float(t)
    return (yf - tf) / (yf * (1 - yf)) / y.size


# The distribution losses: L = -1/G · Σ over the G groups of Σ t·f(y), f the log of softmax
# (cross_entropy), y itself (nll, y already log-probabilities) or ln y (cross_entropy_probs).
# A term with t = 0 adds 0 (not 0·-inf = nan where softmax or y underflows to 0).

def _cross_entropy(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    yf, tf = to_float(y), to_float(t)
    return _mean_of_groups(np.where(tf != 0, tf * log_softmax(yf, over), 0), over)


def _cross_entropy_gradient(y: np.ndarray, t: np.ndarray, over: str = "all") -> np.ndarray:
    yf, tf = to_float(y), to_float(t)
    # (softmax(y) * sum(t) - t) / G over each group; sum(t) is 1 for a distribution.
    total = tf.sum(axis=group_axes(y, over), keepdims=True)
    return (np.exp(log_softmax(yf, over)) * total - tf) / groups(y, over)


def _nll(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    return _mean_of_groups(t * y, over)


def _nll_gradient(y: np.ndarray, t: np.ndarray, over: str = "all") -> np.ndarray:
    return (t * exact_const(Fraction(-1, groups(y, over)), y.dtype == object)).astype(y.dtype)


def _cross_entropy_probs(y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    yf, tf = to_float(y), to_float(t)
    with np.errstate(divide="ignore"):  # ln 0 where t = 0: that term is dropped
        return _mean_of_groups(np.where(tf != 0, tf * np.log(yf), 0), over)


def _cross_entropy_probs_gradient(y: np.ndarray, t: np.ndarray, over: str = "all"
                                  ) -> np.ndarray:
    yf, tf = to_float(y), to_float(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tf != 0, -tf / yf, 0.0) / groups(y, over)


LOSSES: dict[str, Loss] = {
    "mse": Loss(_mse, _mse_gradient),
    "sse": Loss(_sse, _sse_gradient),
    "half_sse": Loss(_half_sse, _half_sse_gradient),
    "mae": Loss(_mae, _mae_gradient),
    "bce": Loss(_bce, _bce_gradient),
    "cross_entropy": Loss(_cross_entropy, _cross_entropy_gradient),
    "nll": Loss(_nll, _nll_gradient),
    "cross_entropy_probs": Loss(_cross_entropy_probs, _cross_entropy_probs_gradient),
}


def value(name: str, y: np.ndarray, t: np.ndarray, over: str = "all") -> Number:
    """L for output y and target t of the same shape (N, ...)."""
    return LOSSES[name].value(y, t, over)


def gradient(name: str, y: np.ndarray, t: np.ndarray, over: str = "all", kink: Number = 0
             ) -> np.ndarray:
    """dL/dY, the same shape as y. kink: d|u|/du at u = 0 (SPEC section 7), for mae, the
    one loss with a kink."""
    if name == "mae":
        return _mae_gradient(y, t, over, kink)
    return LOSSES[name].gradient(y, t, over)


def check_domain(problem: Problem, last: Layer, y: np.ndarray, t: np.ndarray) -> Notice | None:
    """ProblemError when the loss is not defined at y (bce needs every y in (0, 1),
    cross_entropy_probs probabilities, nonzero where t is); a Notice when nll is given
    outputs that cannot be log-probabilities (above 0): a likely slip, but a defined loss.

    last: the layer that made y; a sigmoid there gets a hint about saturation.
    """
    # Each test is one comparison over the whole array (a NaN fails every one of them), and
    # the first entry that fails it is named.
    if problem.loss == "cross_entropy_probs":
        outside = _first(~(_holds(y >= 0) & _holds(y <= 1))
                         | (_holds(y == 0) & ~_holds(t == 0)))
        if outside is not None:
            i, v = outside, y.flat[outside]
            why = "is 0 where its target is not (ln 0)" if v == 0 else \
                f"is {float(v):.6g}, not a probability"
            raise problem.error("loss", f"cross_entropy_probs needs probabilities, but output "
                                f"{i + 1} (row-major) {why}; end the network with a softmax "
                                "layer, or use cross_entropy on the logits")
        return None
    if problem.loss == "nll":
        above = _first(_holds(y > 0))
        if above is not None:
            return Notice(NLL_NOT_LOG, (
                f"nll takes log-probabilities (every output <= 0), but output {above + 1} "
                f"(row-major) is {float(y.flat[above]):.6g}; end the network with "
                "log_softmax, or use cross_entropy_probs for probabilities"))
        return None
    if problem.loss != "bce":
        return None
    outside = _first(~(_holds(y > 0) & _holds(y < 1)))
    if outside is None:
        return None
    i, v = outside, y.flat[outside]
    if last.layer.type == "sigmoid":
        z = float(last.x.flat[i])
        raise problem.error("loss", f"bce needs every output strictly between 0 and 1, "
                            f"but output {i + 1} (row-major) is the sigmoid of "
                            f"{z:.6g}, which is exactly {float(v):g} in float64; use "
                            "smaller numbers so that the sigmoid does not saturate")
    raise problem.error("loss", f"bce needs every output strictly between 0 and 1, but "
                        f"output {i + 1} (row-major) is {float(v):.6g}; add "
                        "activation: sigmoid, or use mse")


def _holds(comparison: np.ndarray) -> np.ndarray:
    """A comparison's result as booleans (an exact array's comparisons give objects)."""
    return np.asarray(comparison, dtype=bool)


def _first(flags: np.ndarray) -> int | None:
    """The row-major index of flags' first true entry; None when none is."""
    at = np.flatnonzero(flags)
    return int(at[0]) if at.size else None


def group_axes(y: np.ndarray, over: str) -> tuple[int, ...]:
    """The axes a distribution loss sums over in y (N, ...): a sample's (all but the first),
    or with over channels the channel axis (y (N, C, ...))."""
    return (1,) if over == "channels" else tuple(range(1, y.ndim))


def groups(y: np.ndarray, over: str) -> int:
    """How many distributions y holds: its samples, or with over channels its positions
    (N·H·W), the count the loss is averaged over."""
    return y.size // y.shape[1] if over == "channels" else len(y)


def log_softmax(y: np.ndarray, over: str = "all") -> np.ndarray:
    """log softmax over each group of y (N, ...), float64."""
    axes = group_axes(y, over)
    shifted = y - y.max(axis=axes, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))


def _mean_of_groups(terms: np.ndarray, over: str) -> Number:
    """-1/G · the sum of every term: each group's sum, averaged over the G groups."""
    total = terms.sum() * exact_const(Fraction(-1, groups(terms, over)), terms.dtype == object)
    return _scalar(total) if terms.dtype == object else float(0.0 + total)  # never -0.0


def _scalar(value: Any) -> Number:
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
