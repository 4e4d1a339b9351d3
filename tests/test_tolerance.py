"""check's verdict per entry: decided in float64 over whole arrays, exactly as in rationals.

`Tolerance.same_all` compares in float64 and hands an entry to exact rationals only when its
difference lies within a few rounding errors of the tolerance's edge. These tests hold it
to the rule as SPEC section 3 writes it, worked here in Fractions (|given - expected| <=
atol + rtol*|expected|, each value the exact number it holds): random values, and values
placed exactly on the edge, one float64 ulp either side of it and 10^-40 either side of it;
ints beyond 2**53, values beyond float64's range and below its normal range.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from convgrad.grade import Tolerance
from tests.conftest import long_run

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Derandomized, so that every run of the suite checks the same values; the long run below
# (pytest -m slow) explores new ones each time.
PROPERTY = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
PROPERTY_LONG = settings(PROPERTY, max_examples=20000, derandomize=False)


def written(value: float) -> Fraction:
    """A tolerance as it is written (1e-6 on the command line, in SPEC and in Moodle's
    fields): the decimal its float prints as, 10^-6, not the float's binary value."""
    return Fraction(repr(value))


def rule(given: object, expected: object, tolerance: Tolerance) -> bool:
    """SPEC section 3's rule in exact rationals (a given or expected float is the binary value
    it holds; atol and rtol are the decimals they are written as)."""
    g, e = Fraction(given), Fraction(expected)  # type: ignore[arg-type]
    if tolerance.mode == "exact":
        return g == e
    return abs(g - e) <= written(tolerance.atol) + written(tolerance.rtol) * abs(e)


def verdicts(tolerance: Tolerance, pairs: list[tuple[object, object]],
             float_expected: bool = False) -> list[bool]:
    given = np.empty(len(pairs), dtype=object)
    given[:] = [g for g, _ in pairs]
    if float_expected:  # a float problem's results are float64 arrays
        expected = np.array([float(e) for _, e in pairs], dtype=np.float64)  # type: ignore
    else:
        expected = np.empty(len(pairs), dtype=object)
        expected[:] = [e for _, e in pairs]
    found = tolerance.same_all(given, expected)
    assert found.shape == (len(pairs),) and found.dtype == bool
    return [bool(v) for v in found]


# Numbers as answers and results hold them: ints (beyond 2**53 too), decimals, fractions
# such as 1/3, floats of every size (subnormals too), and values float64 cannot hold.
DECIMALS = st.builds(lambda k, p: Fraction(k, 10**p), st.integers(-10**15, 10**15),
                     st.integers(0, 18))
NUMBERS = st.one_of(
    st.integers(-2**70, 2**70),
    st.sampled_from([0, 2**53, 2**53 + 1, -(2**53 + 1), 2**64 + 1, 10**400, -10**400,
                     Fraction(1, 3), Fraction(-2, 3), Fraction(1, 10**400),
                     Fraction(10**400 + 1, 3), 5e-324, 2.2250738585072014e-308, 1.7e308]),
    DECIMALS,
    st.fractions(max_denominator=10**9),
    st.builds(Fraction, st.integers(-10**30, 10**30), st.integers(1, 10**30)),
    st.floats(allow_nan=False, allow_infinity=False),
)
TOLERANCES = st.one_of(
    st.just(Tolerance()),
    st.just(Tolerance("exact")),
    st.builds(lambda r, a: Tolerance("tol", r, a),
              st.sampled_from([0.0, 1e-6, 1e-3, 0.01, 0.5, 1e-300]) | st.floats(0, 10),
              st.sampled_from([0.0, 1e-6, 1e-9, 0.5, 5e-324, 1e-310]) | st.floats(0, 10)),
)


@st.composite
def near_the_edge(draw: st.DrawFn) -> tuple[object, object, Tolerance]:
    """(given, expected, tolerance) with given on the tolerance's edge or just beside it."""
    tolerance = draw(TOLERANCES)
    expected = draw(NUMBERS)
    e = Fraction(expected)
    bound = (0 if tolerance.mode == "exact"
             else written(tolerance.atol) + written(tolerance.rtol) * abs(e))
    edge = e + draw(st.sampled_from([1, -1])) * bound
    how = draw(st.sampled_from(["on", "nearest float", "ulp up", "ulp down", "just inside",
                                "just outside"]))
    given: object = edge
    if how == "just inside":
        given = edge - (1 if edge > e else -1) * Fraction(1, 10**40)
    elif how == "just outside":
        given = edge + (1 if edge >= e else -1) * Fraction(1, 10**40)
    elif how != "on":
        try:
            nearest = float(edge)
        except OverflowError:
            nearest = 1.7976931348623157e308 if edge > 0 else -1.7976931348623157e308
        given = {"nearest float": nearest, "ulp up": math.nextafter(nearest, math.inf),
                 "ulp down": math.nextafter(nearest, -math.inf)}[how]
        if not math.isfinite(given):  # type: ignore[arg-type]
            given = nearest
    return given, expected, tolerance


@PROPERTY
@given(case=near_the_edge())
def test_at_the_edge_the_fast_verdict_is_the_exact_one(case):
    given_value, expected, tolerance = case
    assert verdicts(tolerance, [(given_value, expected)]) == [rule(given_value, expected,
                                                                  tolerance)]


@PROPERTY
@given(tolerance=TOLERANCES, pairs=st.lists(st.tuples(NUMBERS, NUMBERS), min_size=1,
                                             max_size=12))
def test_random_values_get_the_exact_verdict(tolerance, pairs):
    assert verdicts(tolerance, pairs) == [rule(g, e, tolerance) for g, e in pairs]


@PROPERTY
@given(cases=st.lists(near_the_edge(), min_size=1, max_size=12), tolerance=TOLERANCES)
def test_a_whole_array_near_the_edge_gets_the_exact_verdicts(cases, tolerance):
    # The edge of each case's own tolerance is near the edge of another's: mixed arrays.
    pairs = [(g, e) for g, e, _ in cases]
    assert verdicts(tolerance, pairs) == [rule(g, e, tolerance) for g, e in pairs]


@PROPERTY
@given(case=near_the_edge())
def test_a_float_problem_s_expected_values_get_the_exact_verdict(case):
    given_value, expected, tolerance = case
    try:
        held = float(Fraction(expected))  # a float problem holds float64 results
    except OverflowError:
        return
    assert verdicts(tolerance, [(given_value, held)], float_expected=True) == \
        [rule(given_value, held, tolerance)]


# `-m slow` asks for it; a plain run of the suite leaves it out.
@long_run
@PROPERTY_LONG
@given(case=near_the_edge())
def test_at_the_edge_the_fast_verdict_is_the_exact_one_long_run(case):
    given_value, expected, tolerance = case
    assert verdicts(tolerance, [(given_value, expected)]) == [rule(given_value, expected,
                                                                  tolerance)]


@PROPERTY
@given(mode=st.sampled_from(["decimals", "sig_figs"]), digits=st.integers(0, 12),
       pairs=st.lists(st.tuples(NUMBERS, DECIMALS), min_size=1, max_size=8))
def test_decimals_and_sig_figs_decide_as_one_entry_at_a_time(mode, digits, pairs):
    tolerance = Tolerance(mode, digits=max(digits, 1 if mode == "sig_figs" else 0))
    pairs = [(g, e) for g, e in pairs if abs(Fraction(g)) < 10**30]  # rounding's own range
    if pairs:
        assert verdicts(tolerance, pairs) == [tolerance.same(g, e) for g, e in pairs]


# Hand-placed edges, each from both sides. The default tolerance for 23 is 1e-6 + 23e-6 =
# 0.000024 exactly: SPEC writes the decimals 1e-6, as Moodle's fields and the command line do.
TOL_23 = Fraction(24, 10**6)


@pytest.mark.parametrize(("given_value", "expected", "tolerance", "right"), [
    (23 + TOL_23, 23, Tolerance(), True),
    (23 + TOL_23 + Fraction(1, 10**30), 23, Tolerance(), False),
    (23 - TOL_23, 23, Tolerance(), True),
    (23 - TOL_23 - Fraction(1, 10**30), 23, Tolerance(), False),
    # The decimal on the edge is right, from either side; one 10^-25 beyond it is not.
    (Fraction("23.000024"), 23, Tolerance(), True),
    (Fraction("22.999976"), 23, Tolerance(), True),
    (Fraction("23.0000240000000000000000001"), 23, Tolerance(), False),
    (Fraction("22.000023"), 22, Tolerance(), True),
    (Fraction("22.0000230000000000000000001"), 22, Tolerance(), False),
    # 13/8: 1e-6 + 1e-6 * 1.625 = 0.000002625, so 1.625002625 is on the edge; a 0 result
    # takes 0.000001 and no more.
    (Fraction("1.625002625"), Fraction(13, 8), Tolerance(), True),
    (Fraction("1.6250026251"), Fraction(13, 8), Tolerance(), False),
    (Fraction("0.000001"), 0, Tolerance(), True),
    (Fraction("-0.000001"), 0, Tolerance(), True),
    (Fraction("0.0000010001"), 0, Tolerance(), False),
    # --atol 0.1 is a tenth: 1.1 for 1 is on the edge, 1.1 + 10^-30 beyond it.
    (Fraction("1.1"), 1, Tolerance("tol", 0.0, 0.1), True),
    (Fraction("1.1") + Fraction(1, 10**30), 1, Tolerance("tol", 0.0, 0.1), False),
    # 1/3 and its decimals: exact 1/3 is right under --exact, 0.3333 never is.
    (Fraction(1, 3), Fraction(1, 3), Tolerance("exact"), True),
    (Fraction("0.3333333333333333"), Fraction(1, 3), Tolerance("exact"), False),
    (float(Fraction(1, 3)), Fraction(1, 3), Tolerance("exact"), False),
    (Fraction("0.3333"), Fraction(1, 3), Tolerance(), False),
    (Fraction("0.333333"), Fraction(1, 3), Tolerance(), True),
    (Fraction(1, 3) + Fraction(1, 10**4), Fraction(1, 3), Tolerance("tol", 0.0, 1e-4), True),
    (Fraction(1, 3) + Fraction(1, 10**4) + Fraction(1, 10**40), Fraction(1, 3),
     Tolerance("tol", 0.0, 1e-4), False),
    # Ints beyond 2**53: float64 holds 2**60 + 1 as 2**60, the exact rule does not.
    (2**60, 2**60 + 1, Tolerance("exact"), False),
    (2**60 + 1, 2**60 + 1, Tolerance("exact"), True),
    (2**60, 2**60 + 1, Tolerance("tol", 0.0, 0.0), False),
    (2**60, 2**60 + 1, Tolerance("tol", 0.0, 1.0), True),
    (2**60 - 1, 2**60 + 1, Tolerance("tol", 0.0, 1.0), False),
    # Beyond float64's range and below its normal range.
    (10**400, 10**400, Tolerance(), True),
    (10**400 + 1, 10**400, Tolerance("tol", 0.0, 0.0), False),
    # rtol 1e-6 of 10^400 is 10^394.
    (10**400 + 10**394, 10**400, Tolerance(), True),
    (10**400 + 10**394 + 1, 10**400, Tolerance(), False),
    (Fraction(1, 10**400), 0, Tolerance("tol", 0.0, 0.0), False),
    (Fraction(1, 10**400), 0, Tolerance("tol", 0.0, 5e-324), True),
    (5e-324, 0, Tolerance("tol", 0.0, 5e-324), True),
    (1e-323, 0, Tolerance("tol", 0.0, 5e-324), False),
    (1e-300 + 1e-306, 1e-300, Tolerance("tol", 1e-6, 0.0), True),
])
def test_hand_placed_edges(given_value, expected, tolerance, right):
    assert rule(given_value, expected, tolerance) is right  # the cases are what they say
    assert verdicts(tolerance, [(given_value, expected)]) == [right]
    assert tolerance.same(given_value, expected) is right
