"""Exact arithmetic as integers over one denominator (convgrad.arith): the arrays `exact`
makes, the integers they keep, and the pipeline of bench_exact.py (pad 1, ReLU, 2x2 max
pooling, MSE, learning rate) against reference.py's Fraction loops, with numerators beyond
int64, a different denominator in every entry, zeros written as -0, and tied maxima."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import arith, reference

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


# --- exact, integers, where, plus, total -------------------------------------------------

BIG = 2**70  # beyond int64

numerators = st.one_of(st.integers(-9, 9), st.integers(-BIG, BIG))
denominators = st.one_of(st.integers(1, 12), st.integers(1, BIG))


@EXAMPLES
@given(nums=st.lists(numerators, min_size=1, max_size=12), den=denominators)
def test_exact_is_each_fraction_in_lowest_terms(nums, den):
    arr = arith.exact(np.array(nums, dtype=object), den)
    for got, n in zip(arr, nums, strict=True):
        want = Fraction(n, den)
        assert got == want
        # A whole number is an int, never Fraction(n, 1), as numbers.normalize makes it.
        assert type(got) is (int if want.denominator == 1 else Fraction)
    num, common = arith.integers(arr)
    assert [Fraction(n, common) for n in num] == [Fraction(n, den) for n in nums]


def test_exact_takes_int64_and_gives_python_ints():
    arr = arith.exact(np.array([6, -4, 3, 0], dtype=np.int64), 2)
    assert arr.tolist() == [3, -2, Fraction(3, 2), 0]
    assert all(type(v) in (int, Fraction) for v in arr)


def test_an_exact_array_is_read_only_so_its_integers_cannot_go_stale():
    arr = arith.exact(objects([1, 2, 3]), 3)
    with pytest.raises(ValueError):
        arr[0] = 5
    num, den = arith.integers(arr)
    with pytest.raises(ValueError):
        num[0] = 5
    assert (num.tolist(), den) == ([1, 2, 3], 3)


def test_integers_of_an_array_made_elsewhere_find_the_smallest_denominator():
    arr = objects([Fraction(1, 3), Fraction(2, 7), 5, Fraction(-1, 6)])
    num, den = arith.integers(arr)
    assert den == 42 and num.tolist() == [14, 12, 210, -7]


def test_integers_of_views_follow_the_views_order():
    """A reshape of an exact array shares its integers; a transpose or a slice holds other
    entries, or the same in another order, and gets integers of its own."""
    arr = arith.exact(np.arange(12, dtype=object).reshape(3, 4), 5)
    fractions = np.array([[Fraction(4 * i + j, 5) for j in range(4)] for i in range(3)],
                         dtype=object)
    for view, want in ((arr.reshape(2, 6), fractions.reshape(2, 6)), (arr.T, fractions.T),
                       (arr[:, 1:3], fractions[:, 1:3]), (arr[::2], fractions[::2]),
                       (arr.reshape(4, 3)[::-1], fractions.reshape(4, 3)[::-1])):
        num, den = arith.integers(view)
        assert num.shape == view.shape
        assert [Fraction(n, den) for n in num.flat] == list(want.flat)


def test_max_pooling_hands_on_the_gradients_own_entries():
    """Windows apart: dA's entries are dY's (no Fraction made again) or 0."""
    doc = {"input": [["1/3", "2/7", "0", "-1"], ["1", "-2/7", "5/3", "1/9"]],
           "kernel": [["1"]], "activation": "relu", "pool": {"type": "max", "size": 2},
           "target": [["1/5", "-1/7"]], "loss": "mse"}
    result = convgrad.solve(json.dumps(doc), exact=True)
    pool = result.run.passes[2]  # conv, relu, pool
    d_output, d_input = pool.d_out, pool.dx
    assert d_input[0, 0, 1, 0] is d_output[0, 0, 0, 0]
    assert d_input[0, 0, 1, 2] is d_output[0, 0, 0, 1]
    # dY = 2/2 (Y - T): Y = (1, 5/3), the maxima of the windows after ReLU.
    assert result["dA"].tolist() == [[0, 0, 0, 0], [Fraction(4, 5), 0, Fraction(38, 21), 0]]


def test_where_picks_entries_and_keeps_the_integers():
    a = arith.exact(objects([1, -2, 3, 0]), 4)  # 1/4, -1/2, 3/4, 0
    b = objects([Fraction(1, 3), Fraction(2, 7), 1, Fraction(-5, 3)])
    out = arith.where(np.array([True, False, True, False]), a, b)
    assert out.tolist() == [Fraction(1, 4), Fraction(2, 7), Fraction(3, 4), Fraction(-5, 3)]
    assert out[0] is a[0]  # the same object: no new Fraction
    num, den = arith.integers(out)
    assert [Fraction(n, den) for n in num] == out.tolist()
    zeroed = arith.where(arith.positive(a), a)
    assert zeroed.tolist() == [Fraction(1, 4), 0, Fraction(3, 4), 0]


def test_positive_compares_numerators_of_huge_fractions():
    a = objects([Fraction(BIG + 1, BIG), Fraction(-1, BIG), 0, Fraction(1, 3)])
    assert arith.positive(a).tolist() == [True, False, False, True]
    assert arith.positive(arith.exact(objects([BIG, -BIG, 0]), 7)).tolist() == [
        True, False, False]


def test_plus_adds_a_bias_of_its_own_denominators_once():
    product = np.array([[1, 2], [BIG, -3]], dtype=object)
    b = np.array([[Fraction(1, 3)], [Fraction(-2, 7)]], dtype=object)
    out = arith.plus(product, 5, b)
    want = [[Fraction(1, 5) + Fraction(1, 3), Fraction(2, 5) + Fraction(1, 3)],
            [Fraction(BIG, 5) - Fraction(2, 7), Fraction(-3, 5) - Fraction(2, 7)]]
    assert out.tolist() == want


def test_total_sums_exactly():
    arr = objects([Fraction(1, 3), Fraction(2, 7), Fraction(BIG, 3), -1])
    assert arith.total(arr, axis=0)[()] == sum(arr.tolist())


@pytest.mark.parametrize("scale", [2**20, 2**30, 2**40])
def test_scaled_matmul_is_exact_past_int64(scale):
    """Entries and K chosen so that the products fit int64, or pass 2**62, or pass 2**63:
    the same exact sums, whichever way the product runs."""
    rng = np.random.default_rng(scale)
    a = objects([int(v) * scale + 1 for v in rng.integers(-9, 10, 48)]).reshape(4, 12)
    b = objects([Fraction(int(v) * scale - 1, 3) for v in rng.integers(-9, 10, 36)]
                ).reshape(12, 3)
    product, den = arith.scaled_matmul(a, b)
    for i in range(4):
        for j in range(3):
            want = sum((a[i, k] * b[k, j] for k in range(12)), Fraction(0))
            assert Fraction(product[i, j], den) == want


def test_max_abs():
    assert arith.max_abs(np.array([3, -7, 2], dtype=np.int64)) == 7
    assert arith.max_abs(objects([3, -BIG, 2])) == BIG
    assert arith.max_abs(np.zeros(0, dtype=object)) == 0


# --- the pipeline of bench_exact.py against the reference --------------------------------

# Numbers as the problem writes them: small tenths (so that pooling windows tie), -0 and
# -0.0, a third or two sevenths, and numerators far beyond int64.
entries = st.one_of(
    st.integers(-3, 3).map(lambda n: f"{n}/10"),
    st.sampled_from(["-0", "-0.0", "0", "1/3", "-2/7", "2/7", "0.5"]),
    st.builds(lambda n, d: f"{n}/{d}", st.integers(-BIG, BIG), st.integers(1, 50)),
)


@st.composite
def pipelines(draw):
    C, F = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    H, W = 2 * draw(st.integers(1, 3)), 2 * draw(st.integers(1, 3))

    def array(*shape: int) -> list:
        if not shape:
            return draw(entries)
        return [array(*shape[1:]) for _ in range(shape[0])]

    return {"input": array(C, H, W), "kernel": array(F, C, 3, 3), "bias": array(F),
            "padding": 1, "activation": "relu", "pool": {"type": "max", "size": 2},
            "target": array(F, H // 2, W // 2), "loss": "mse",
            "learning_rate": draw(entries)}


def as_fractions(nested) -> np.ndarray:
    arr = np.array(nested, dtype=object)
    return np.vectorize(lambda v: Fraction(v) if "/" in v else Fraction(v.replace("-0.0", "0")),
                        otypes=[object])(arr)


def same(got, want) -> None:
    got, want = np.asarray(got, dtype=object), np.asarray(want, dtype=object)
    assert got.shape == want.shape
    for index, v in np.ndenumerate(got):
        assert isinstance(v, (int, Fraction)) and not isinstance(v, bool)
        assert Fraction(v) == Fraction(want[index]), f"{index}: {v} != {want[index]}"


@EXAMPLES
@given(doc=pipelines())
def test_the_benchmark_pipeline_matches_the_reference_exactly(doc):
    x, w, b = as_fractions(doc["input"]), as_fractions(doc["kernel"]), as_fractions(doc["bias"])
    t, lr = as_fractions(doc["target"]), Fraction(doc["learning_rate"])
    z = reference.conv_forward(x, w, b, (1, 1), (1, 1, 1, 1), (1, 1))
    a = reference.activation_forward("relu", z)
    y = reference.pool_forward("max", a, (2, 2), (2, 2))
    dy = reference.loss_backward("mse", y, t)
    da = reference.pool_backward("max", a, dy, (2, 2), (2, 2))
    dz = reference.activation_backward("relu", z, da)
    dx, dw, db = reference.conv_backward(x, w, dz, (1, 1), (1, 1, 1, 1), (1, 1))

    result = convgrad.solve(json.dumps(doc), exact=True)
    assert Fraction(result["loss"]) == reference.loss_forward("mse", y, t)
    for key, want in (("Z", z), ("A", a), ("Y", y), ("dY", dy), ("dA", da), ("dZ", dz),
                      ("dX", dx), ("dW", dw), ("db", db), ("W_new", w - lr * dw),
                      ("b_new", b - lr * db)):
        same(result[key], want)
    # And the numbers JSON writes are those numbers, each in lowest terms.
    written = json.loads(result.json_text())["exact"]
    assert written["dX"] == [[[_text(v) for v in row] for row in c] for c in dx]


def _text(v: Fraction) -> str:
    v = Fraction(v)
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def test_ties_in_a_pooling_window_send_the_gradient_to_the_first():
    """Equal maxima written differently (1/2, 0.5, 2/4) are one number: the first gets it."""
    doc = {"input": [["1/2", "0.5"], ["2/4", "-1"]], "kernel": [["1"]], "activation": "relu",
           "pool": {"type": "max", "size": 2}, "target": [["0"]], "loss": "mse"}
    result = convgrad.solve(json.dumps(doc), exact=True)
    assert result["dX"].tolist() == [[1, 0], [0, 0]]


def test_result_arrays_are_the_users_own():
    """A run's exact arrays are read-only; the values a Result hands out can be changed,
    and changing them leaves the worked solution alone."""
    result = convgrad.solve("problems/seed_worked_example.yaml", exact=True)
    for key in ("Y", "dY", "dW", "dX"):
        assert result[key].flags.writeable
    before = result.run.y.copy()
    result["Y"][...] = 0
    assert (result.run.y == before).all()
