"""Numbers as written: the exact parse, the fast path for large integer matrices, printing."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convgrad.numbers import (
    BadValue,
    exact_text,
    format_number,
    parse_array,
    parse_number,
)


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("-2/5", Fraction(-2, 5)), ("0.1", Fraction(1, 10)), ("1e-3", Fraction(1, 1000)),
    (" 1.5/2 ", Fraction(3, 4)), ("\u22123", -3), ("+7", 7)])
def test_numbers_are_the_rationals_they_spell(text, value):
    got = parse_number(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text", ["1/0", "nan", "inf", "x", "1/2/3", "", "1e5000", "9" * 1001])
def test_bad_numbers_say_why(text):
    with pytest.raises(BadValue):
        parse_number(text)


def test_large_integer_matrix_string_matches_the_careful_parse():
    rng = np.random.default_rng(3)
    grid = rng.integers(-300, 300, (40, 50))
    text = "; ".join(" ".join(str(v) for v in row) for row in grid)
    assert len(text) > 1000  # takes the NumPy path
    fast = parse_array(text)
    assert fast.dtype == object and fast.shape == (40, 50)
    assert all(type(v) is int for v in fast.flat)
    assert np.array_equal(fast, grid.astype(object))
    # The same numbers with one decimal take the careful path, entry by entry.
    slow = parse_array(text + " ; " + " ".join(["0.5"] * 50))
    assert slow.shape == (41, 50) and slow[40, 0] == Fraction(1, 2)
    assert np.array_equal(slow[:40], grid.astype(object))


@pytest.mark.parametrize("tail, message", [(" 1", "ragged"), (" 99999999999999999999", "ragged")])
def test_large_integer_matrix_errors_come_from_the_careful_path(tail, message):
    text = "; ".join(" ".join("1" for _ in range(30)) for _ in range(30)) + tail
    with pytest.raises(BadValue, match=message):
        parse_array(text)


def test_printing():
    assert exact_text(Fraction(-7, 2)) == "-7/2" and exact_text(23) == "23"
    assert format_number(Fraction(1, 3)) == "1/3" and format_number(0.1 + 0.2) == "0.3"
    assert format_number(-0.0) == "0"


def test_full_width_separators_and_spaced_fractions_are_read():
    # Typed on a Chinese keyboard: '，' and '；' mean ',' and ';'; "1 / 3" is one entry.
    got = parse_array("1，2； 3，4 / 2")
    assert got.tolist() == [[1, 2], [3, 2]]
    assert parse_array("1 / 3  2").tolist() == [Fraction(1, 3), 2]
