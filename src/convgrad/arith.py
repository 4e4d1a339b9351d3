"""The arithmetic of a run, shared by every layer and loss: float64 or exact, the same code.

Exact arrays are object arrays of int/Fraction. Elementwise NumPy operations already work
on them; the one place where the two modes differ is a matrix product, which runs exact
products as one integer matmul (`matmul`, `scaled_matmul`). `Numbers` turns a problem's
numbers into the run's arithmetic and names the key of one that float64 cannot hold.

Integers over one denominator: an operation on Fractions costs a gcd and a new object per
entry, so the layers work on an exact array's integers over one common denominator
(`integers`) and make Fractions once per entry of a result (`exact`). An exact array
made that way (or picked from one: `where`, `remember`) keeps its integers, read-only,
so that the next layer gets them without a pass over the entries: ReLU and max pooling
compare numerators (one denominator, positive: the order is the numerators'), the loss
subtracts them, conv multiplies them.
"""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from convgrad.numbers import Number, exact_const, normalize, to_exact, to_float

# int64 holds a sum of integers when its bound (max |entry| times the number of terms) is
# below this; past it, Python ints (exact at any size).
INT64_BOUND = 2**62


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


def scaled_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None
                  ) -> tuple[np.ndarray, int]:
    """a (..., M, K) @ b (..., K, N) as (product (..., M, N), denominator): a @ b == product /
    denominator.

    Callers that go on adding (dW over the samples, the dX scatter) keep the product and
    divide once at the end. In float64 the product is a @ b and the denominator 1; exact,
    the product holds Python ints, whatever their size. out (the product's shape and
    arithmetic): where the product goes, an array the caller reuses (float64: BLAS writes
    it there, without a fresh array to fault in page by page).
    """
    if a.dtype != object and b.dtype != object:
        return np.matmul(a, b, out=out), 1
    product, denominator = _scaled_matmul(a, b)
    if out is None:
        return product, denominator
    out[...] = product
    return out, denominator


def _scaled_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """scaled_matmul of exact operands."""
    ia, da = integers(to_exact(a))
    ib, db = integers(to_exact(b))
    max_a, max_b = max_abs(ia), max_abs(ib)
    if max_a == 0 or max_b == 0:
        # A zero operand (a zero filter, a gradient zeroed by ReLU) gives zeros, however
        # large the other side's numbers are.
        shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        return np.zeros(shape, dtype=object), 1
    # Every entry of the product and every partial sum is at most K * max_a * max_b; with
    # both maxima >= 1 that bound also keeps each operand's entries within int64.
    if max_a * max_b * a.shape[-1] < INT64_BOUND:
        product = (ia.astype(np.int64) @ ib.astype(np.int64)).astype(object)
    else:
        product = ia @ ib  # Python ints: exact at any size
    return product, da * db


def integers(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """arr = ints / denominator: an exact array (ints, Fractions) as Python ints (an object
    array, arr's shape) over one positive denominator; a float64 array as it is, over 1.

    An array that `exact`, `remember` or `where` made gives the integers it was made from
    (read-only; the denominator not always the smallest); any other, the smallest common
    denominator, found entry by entry. Products of such integers add up without a gcd
    each, and one division at the end gives the exact sum (the dX scatter).
    """
    if arr.dtype != object:
        return arr, 1
    entry = _known.get(id(arr))
    if entry is not None and entry[0]() is arr:
        return entry[1], entry[2]
    base = arr.base
    if isinstance(base, np.ndarray) and _same_entries(arr, base):
        entry = _known.get(id(base))
        if entry is not None and entry[0]() is base:  # a reshape of a known array
            return entry[1].reshape(arr.shape), entry[2]
    denominators = {v.denominator for v in arr.flat}
    common = math.lcm(*denominators) if denominators else 1
    if common == 1:
        return arr, 1
    scale = np.frompyfunc(lambda v: v.numerator * (common // v.denominator), 1, 1)
    return np.asarray(scale(arr), dtype=object).reshape(arr.shape), common


def _same_entries(view: np.ndarray, base: np.ndarray) -> bool:
    """Whether view holds base's entries in base's order (a reshape, nothing left out)."""
    return (view.size == base.size and view.flags.c_contiguous and base.flags.c_contiguous
            and view.ctypes.data == base.ctypes.data)


def max_abs(arr: np.ndarray) -> int:
    """The largest |entry| of an integer array (int64 or Python ints), 0 when it is empty."""
    if arr.size == 0:
        return 0
    return max(abs(int(arr.max())), abs(int(arr.min())))


def divide(arr: np.ndarray, denominator: int) -> np.ndarray:
    """arr (ints) / denominator, entry by entry: ints where they divide, else Fractions (see
    `exact`); a float64 array (over 1) as it is."""
    if arr.dtype.kind == "f":
        return arr
    return exact(arr, denominator)


# The integers behind the exact arrays that `exact`, `remember` and `where` made, by the
# array's id: (a weak reference to the array, its integers, their denominator). Both arrays
# are read-only, so the pair cannot go stale; an entry leaves with its array.
_known: dict[int, tuple[weakref.ref[np.ndarray], np.ndarray, int]] = {}

_fraction = np.frompyfunc(Fraction, 2, 1)


def exact(num: np.ndarray, den: int) -> np.ndarray:
    """num (ints: int64 or Python ints, any shape) / den (> 0) -> an exact array (object,
    num's shape) in lowest terms: an int where den divides the entry, else a Fraction.

    One Fraction is made per entry that needs one, and none for the others; the array is
    read-only and keeps num and den for `integers`.
    """
    num = np.asarray(num)
    if num.dtype != object:
        num = num.astype(object)  # Python ints: the sums below are exact at any size
    if den == 1:
        return remember(num.copy(), num, 1)
    whole = np.asarray(num % den == 0, dtype=bool)  # (a 0-d array gives a bool)
    out = np.empty(num.shape, dtype=object)
    out[whole] = num[whole] // den
    out[~whole] = _fraction(num[~whole], den)
    return remember(out, num, den)


def remember(arr: np.ndarray, num: np.ndarray, den: int) -> np.ndarray:
    """arr (an exact array in lowest terms, ints where whole) whose entries are num / den:
    arr, read-only, known to `integers` from now on. num: Python ints, arr's shape."""
    if arr.base is not None:  # a view: its base could still change under it
        arr = arr.copy()
    if num.base is not None or num.flags.writeable:
        num = num.copy()
        num.flags.writeable = False
    arr.flags.writeable = False
    key = id(arr)
    _known[key] = (weakref.ref(arr, functools.partial(_forget, key)), num, den)
    return arr


def _forget(key: int, _: object) -> None:
    entry = _known.get(key)
    if entry is not None and entry[0]() is None:  # (not an array that took the id since)
        del _known[key]


def known(arr: np.ndarray) -> bool:
    """Whether arr is an exact array whose integers `integers` has without a pass."""
    entry = _known.get(id(arr))
    return entry is not None and entry[0]() is arr


def normalized(arr: np.ndarray) -> np.ndarray:
    """numbers.normalize (Fractions with denominator 1 become ints), skipped for an array
    that `exact` made: it is in lowest terms already."""
    return arr if known(arr) else normalize(arr)


def positive(arr: np.ndarray) -> np.ndarray:
    """arr > 0, a boolean array: for an exact array, from its numerators (the denominator is
    positive), without a comparison of Fractions."""
    if arr.dtype != object:
        return arr > 0
    return integers(arr)[0] > 0


def where(condition: np.ndarray, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """np.where(condition, a, b), b zeros when None, in a's arithmetic: exact arrays pick
    their entries (no new Fraction) and keep their integers over one denominator."""
    if a.dtype != object:
        return np.where(condition, a, 0.0 if b is None else b)
    # The picked entries must be as `exact` makes them (ints where whole) to be remembered.
    a = normalized(a)
    b_arr = zeros(a.shape, a) if b is None else normalized(b)
    out = np.where(condition, a, b_arr)
    na, da = integers(a)
    nb, db = (b_arr, 1) if b is None else integers(b_arr)
    common = math.lcm(da, db)
    na = na if common == da else na * (common // da)
    nb = nb if common == db else nb * (common // db)
    return remember(out, np.where(condition, na, nb), common)


def plus(product: np.ndarray, denominator: int, b: np.ndarray) -> np.ndarray:
    """product / denominator + b (b broadcasts against product): the result made exact once,
    not a Fraction per entry for the quotient and again for the sum."""
    if product.dtype != object and b.dtype != object:
        if denominator != 1:
            product /= denominator
        product += b  # float64: in place, as the pass made it
        return product
    nb, db = integers(b)
    common = math.lcm(denominator, db)
    return exact(product * (common // denominator) + nb * (common // db), common)


def total(arr: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    """arr.sum(axis): exact arrays as a sum of their integers, divided once."""
    if arr.dtype != object:
        return arr.sum(axis=axis)
    num, den = integers(arr)
    return exact(num.sum(axis=axis), den)


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
