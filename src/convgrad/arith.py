"""The arithmetic of a run, shared by every layer and loss: float64 or exact, the same code.

Exact arrays are object arrays of int/Fraction. Elementwise NumPy operations already work
on them; the one place where the two modes differ is a matrix product, which runs exact
products as one integer matmul (`matmul`, `scaled_matmul`). `Numbers` turns a problem's
numbers into the run's arithmetic and names the key of one that float64 cannot hold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from convgrad.numbers import Number, exact_const, to_exact, to_float


def zeros(shape: tuple[int, ...], like: np.ndarray) -> np.ndarray:
    """Zeros of the arithmetic of `like`: int 0 in an object array, or float64."""
    return np.zeros(shape, dtype=object if like.dtype == object else np.float64)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (..., M, K) @ b (..., K, N) -> (..., M, N), the leading axes broadcast as NumPy's
    matmul does; exact for object arrays: scale each side to integers, one integer matmul,
    divide once.

    Fraction-by-Fraction products cost a gcd each; scaling to a common
    denominator keeps the inner loop in machine integers (int64 when the bound
    allows, Python ints when it does not).
    """
    if a.dtype != object and b.dtype != object:
        return a @ b
    product, denominator = scaled_matmul(a, b)
    return divide(product, denominator)


def scaled_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """a (..., M, K) @ b (..., K, N) as (product (..., M, N), denominator): a @ b == product /
    denominator.

    Callers that go on adding (dW over the samples, the dX scatter) keep the product and
    divide once at the end. In float64 the product is a @ b and the denominator 1; exact,
    the product holds Python ints, whatever their size.
    """
    if a.dtype != object and b.dtype != object:
        return a @ b, 1
    ia, da = integers(to_exact(a))
    ib, db = integers(to_exact(b))
    max_a, max_b = _max_abs(ia), _max_abs(ib)
    if max_a == 0 or max_b == 0:
        # A zero operand (a zero filter, a gradient zeroed by ReLU) gives zeros, however
        # large the other side's numbers are.
        shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        return np.zeros(shape, dtype=object), 1
    # Every entry of the product and every partial sum is at most K * max_a * max_b; with
    # both maxima >= 1 that bound also keeps each operand's entries within int64.
    if max_a * max_b * a.shape[-1] < 2**63:
        product = (ia.astype(np.int64) @ ib.astype(np.int64)).astype(object)
    else:
        product = ia @ ib  # Python ints: exact at any size
    return product, da * db


def integers(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """arr = ints / denominator, with the smallest common denominator: an exact array (ints,
    Fractions) as Python ints over one denominator; a float64 array as it is, over 1.

    Products of such integers add up without a gcd each, and one division at the end
    gives the exact sum (the dX scatter).
    """
    if arr.dtype != object:
        return arr, 1
    denominators = {v.denominator for v in arr.flat}
    common = math.lcm(*denominators) if denominators else 1
    if common == 1:
        return arr, 1
    scale = np.frompyfunc(lambda v: v.numerator * (common // v.denominator), 1, 1)
    return np.asarray(scale(arr), dtype=object).reshape(arr.shape), common


def _max_abs(arr: np.ndarray) -> int:
    return max((abs(int(v)) for v in arr.flat), default=0)


def divide(arr: np.ndarray, denominator: int) -> np.ndarray:
    """arr (object ints) / denominator, entry by entry: ints where they divide, else Fractions."""
    if denominator == 1:
        return arr
    quotient = np.frompyfunc(lambda n: _int_or_fraction(n, denominator), 1, 1)
    return np.asarray(quotient(arr), dtype=object).reshape(arr.shape)


def _int_or_fraction(n: int, d: int) -> Number:
    f = Fraction(n, d)
    return f.numerator if f.denominator == 1 else f


class Numbers:
    """A problem's numbers in the run's arithmetic: object arrays of int/Fraction, or float64.

    too_large(key, what) is the error for a number that float64 cannot hold (1e400 written
    exactly); `single` says whether the problem is in the single-layer form, where a layer's
    parameters have keys of their own (kernel, bias) rather than a place in `layers`.
    """

    def __init__(self, exact: bool, single: bool,
                 too_large: Callable[[str, str], Exception]) -> None:
        self.exact, self.single, self.too_large = exact, single, too_large

    def array(self, arr: np.ndarray, key: str, what: str = "") -> np.ndarray:
        if self.exact:
            return to_exact(arr)
        try:
            return to_float(arr)
        except OverflowError:
            raise self.too_large(key, what) from None

    def const(self, value: Number, key: str) -> Number:
        try:
            return exact_const(value, self.exact)
        except OverflowError:
            raise self.too_large(key, "") from None

    def param(self, arr: np.ndarray, layer: str, key: str, word: str) -> np.ndarray:
        """A layer's array: named by its own key in the single-layer form (kernel), else by
        `layers` and the layer (conv2's kernel)."""
        if self.single:
            return self.array(arr, key)
        return self.array(arr, "layers", f"{layer}'s {word}")

    def param_const(self, value: Number, key: str) -> Number:
        """A layer's constant (a leaky slope), named as `param` names arrays."""
        return self.const(value, key if self.single else "layers")
