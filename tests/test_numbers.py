"""Numbers as written: the exact parse, the fast path for large integer matrices, printing."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convgrad.numbers import (
    BadValue,
    FoldedText,
    exact_decimal,
    exact_text,
    format_number,
    parse_array,
    parse_number,
    quick_number,
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


@pytest.mark.parametrize("text, where", [
    (",", ()), (" , ", ()), (", ; ,", (0,)), ("1 2; ,", (1,)), ("," * 1200, ()),
    ("1 2; " + "," * 1200, (1,)),
])
def test_separators_without_numbers_are_no_matrix(text, where):
    # "," was a vector of no entries (an IndexError), ", ; ," a 2x0 matrix that solved.
    with pytest.raises(BadValue, match="no numbers") as info:
        parse_array(text)
    assert info.value.path == where


@pytest.mark.parametrize("short", ["1 0; 0 1,", ", 1 0; 0 1", "1 -2 3,", "7", "-7,"])
def test_a_long_integer_matrix_string_reads_as_its_short_twin(short):
    # Spaces beyond 1,000 characters send a string to the NumPy path: a comma at a row's end
    # was int(''), and one number came back as a Python int, not an array.
    long = short.replace(" ", " " * 1000) if " " in short else short + " " * 1000
    assert len(long) > 1000
    fast, careful = parse_array(long), parse_array(short)
    assert isinstance(fast, np.ndarray) and fast.dtype == object
    assert fast.shape == careful.shape and fast.tolist() == careful.tolist()


def test_printing():
    assert exact_text(Fraction(-7, 2)) == "-7/2" and exact_text(23) == "23"
    assert format_number(Fraction(1, 3)) == "1/3" and format_number(0.1 + 0.2) == "0.3"
    assert format_number(-0.0) == "0"


def test_full_width_separators_and_spaced_fractions_are_read():
    # Typed on a Chinese keyboard: '，' and '；' mean ',' and ';'; "1 / 3" is one entry.
    got = parse_array("1，2； 3，4 / 2")
    assert got.tolist() == [[1, 2], [3, 2]]
    assert parse_array("1 / 3  2").tolist() == [Fraction(1, 3), 2]


# --- YAML 1.2 numbers, ASCII digits (SPEC section 1) ------------------------------------


@pytest.mark.parametrize("text, value", [
    ("010", 10), ("-007", -7), ("0x10", 16), ("0x1f", 31), ("0o17", 15), ("-0x10", -16),
    ("1.", 1), (".5", Fraction(1, 2)), ("-1.25e1", Fraction(-25, 2)), ("2E-2", Fraction(1, 50)),
    ("0x10/0o10", 2), ("010/4", Fraction(5, 2)),
])
def test_yaml_1_2_integer_and_decimal_forms(text, value):
    got = parse_number(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text, value", [
    ("１２", 12), ("－３", -3), ("−3", -3), ("１．５", Fraction(3, 2)), ("１／３", Fraction(1, 3)),
])
def test_full_width_digits_and_the_minus_sign_are_the_ascii_ones(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text, words", [
    ("2²", ["'²'", "superscript two", "0-9"]),
    ("①", ["circled digit one", "0-9"]),
    ("٣", ["arabic-indic digit three", "0-9"]),
    ("१२", ["devanagari digit one"]),
    ("½", ["vulgar fraction one half"]),
    ("⁻1", ["superscript minus"]),
    ("1/²", ["superscript two"]),
    ("1_000", ["without '_'", "1000"]),
    ("1:30", ["base-60"]),
    ("1:30.5", ["base-60"]),
    ("0b101", ["0b", "write 5"]),
    ("-0b11", ["write -3"]),
    ("0X10", ["'0X10' is not a number"]),
    ("0o8", ["'0o8' is not a number"]),
    ("0x", ["'0x' is not a number"]),
    ("--1", ["'--1' is not a number"]),
    ("1e", ["'1e' is not a number"]),
    (".", ["'.' is not a number"]),
])
def test_numbers_that_are_not_yaml_1_2_or_not_ascii_say_why(text, words):
    with pytest.raises(BadValue) as info:
        parse_number(text)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_unicode_digits_never_crash_any_path():
    # str.isdigit() takes these and int() refuses some of them: every path must say why.
    for digit in ["²", "①", "٣", "߃", "๓", "𝟑", "₃"]:
        for text in [digit, f"1{digit}", f"-{digit}", f"1/{digit}", f"{digit}.5"]:
            with pytest.raises(BadValue, match="0-9"):
                parse_number(text)
        with pytest.raises(BadValue, match="0-9") as info:
            parse_array(f"1 2; 3 {digit}")
        assert info.value.path == (1, 1)
        long_text = "; ".join(" ".join(["12"] * 30) for _ in range(30))
        with pytest.raises(BadValue, match="0-9") as info:
            parse_array(long_text + f"; {' '.join(['12'] * 29)} 1{digit}")
        assert info.value.path == (30, 29)


def test_full_width_matrix_string():
    assert parse_array("１ ２；３ －４").tolist() == [[1, 2], [3, -4]]


@pytest.mark.parametrize("typo", ["--1", "1-2", "-", "+-3", "5+"])
def test_sign_typos_in_a_long_integer_matrix_say_which_entry(typo):
    # Longer than 1,000 characters: the NumPy path must hand it to the careful one.
    rows = [["5"] * 40 for _ in range(40)]
    rows[6][2] = typo
    text = "; ".join(" ".join(row) for row in rows)
    assert len(text) > 1000
    with pytest.raises(BadValue) as info:
        parse_array(text)
    assert f"'{typo}'" in str(info.value) and info.value.path == (6, 2)  # row 7, column 3


def test_sign_typo_in_a_short_matrix_is_the_same_error():
    with pytest.raises(BadValue, match="'--1' is not a number") as info:
        parse_array("1 0; --1 1")
    assert info.value.path == (1, 0)


def test_large_signed_integer_matrix_takes_the_fast_path_unchanged():
    rng = np.random.default_rng(5)
    grid = rng.integers(-999, 1000, (30, 40))
    text = "; ".join(" ".join(f"+{v}" if v > 0 and i % 2 else str(v) for i, v in enumerate(row))
                     for row in grid)
    assert parse_array(text).tolist() == grid.tolist()


def test_folded_text_is_not_a_matrix():
    with pytest.raises(BadValue, match="several lines") as info:
        parse_array(FoldedText("1 2 3 4 5 6"))
    assert "';'" in str(info.value) and "'|'" in str(info.value)
    with pytest.raises(BadValue) as info:
        parse_array(["1 2; 3 4", FoldedText("1 2 3 4")])
    assert info.value.path == (1,)
    # Anywhere else it is a string like any other.
    assert FoldedText("a name") == "a name"


def test_quick_number_agrees_with_the_careful_parse():
    rng = np.random.default_rng(11)
    for _ in range(300):
        digits = str(rng.integers(0, 10**6))
        forms = [digits, f"-{digits}", f"{digits}.{rng.integers(0, 999):03d}",
                 f"-.{digits}", f"{digits}e{rng.integers(-20, 20)}", f"+{digits}.5E-3"]
        for text in forms:
            quick = quick_number(text)
            assert quick is not None, text
            assert quick == Fraction(text) and type(quick) is type(parse_number(text)), text
    for text in ["1/3", "0x10", "1_0", "--1", "", "-", ".", "e5", "1e", "1e2000", "²"]:
        assert quick_number(text) is None, text


def test_exact_decimal_is_the_rational_it_spells():
    for text in ["0.1", "-1.5e-3", ".5", "2.", "1e3", "007.50", "+3"]:
        assert exact_decimal(text) == Fraction(text)
    with pytest.raises(BadValue, match="exponent"):
        exact_decimal("1e1001")
    for text in ["1_0", "٣", "1.2.3", "0x10"]:
        with pytest.raises(BadValue, match="not a number"):
            exact_decimal(text)


@pytest.mark.parametrize("value, expected", [
    ([1, Fraction(1, 2), -3], [1, Fraction(1, 2), -3]),
    ([[1, Fraction(-3, 4)], [2**70, 0]], [[1, Fraction(-3, 4)], [2**70, 0]]),
    ([[[1, 2]], [[3, Fraction(5, 2)]]], [[[1, 2]], [[3, Fraction(5, 2)]]]),
    ([Fraction(4, 2), 1.5], [2, Fraction(3, 2)]),            # the general path, same values
    ([[1, "1/2"], [0.25, 3]], [[1, Fraction(1, 2)], [Fraction(1, 4), 3]]),
])
def test_lists_of_numbers_read_as_written(value, expected):
    # A list of ints and Fractions takes a path without a parse per entry: the same array,
    # ints as ints (never a Fraction with denominator 1).
    got = parse_array(value)
    assert got.dtype == object and got.shape == np.shape(np.array(expected, dtype=object))
    assert [(v, type(v)) for v in got.flat] == \
        [(v, type(v)) for v in np.array(expected, dtype=object).flat]


@pytest.mark.parametrize("value, where", [
    ([[1, 2], [3]], (1,)), ([1, True], (1,)), ([[1, 2], [3, None]], (1, 1)),
    ([[1, 2], 3], (1,)), ([[1, 2], []], (1,)),
])
def test_lists_that_are_not_matrices_say_where(value, where):
    with pytest.raises(BadValue) as info:
        parse_array(value)
    assert info.value.path == where


def test_decimals_read_again_are_the_same_numbers():
    # The second reading of a text comes from a cache: the same value, and a number not read
    # quickly stays None (for the careful parse to say why).
    for text, value in (("0.424375", Fraction(424375, 10**6)), ("-12", -12), ("1e3", 1000),
                        ("x", None), ("1/3", None)):
        assert quick_number(text) == value and quick_number(text) == value
        assert type(quick_number(text)) is type(value)


def test_a_lazy_pattern_is_compiled_when_first_used_and_answers_as_re():
    import re

    from convgrad.numbers import lazy_pattern

    lazy = lazy_pattern(r"[+-]?[0-9]+(x)?", re.IGNORECASE)
    assert "fullmatch" not in vars(lazy)  # nothing compiled yet
    same = re.compile(r"[+-]?[0-9]+(x)?", re.IGNORECASE)
    for text in ("12", "-3X", "a1", "", "1x2"):
        assert bool(lazy.fullmatch(text)) == bool(same.fullmatch(text)), text
        assert lazy.split(text) == same.split(text)
        assert lazy.sub("#", text) == same.sub("#", text)
    assert vars(lazy)["fullmatch"].__self__.pattern == same.pattern  # the compiled one's
    assert (lazy.pattern, lazy.flags) == (same.pattern, re.IGNORECASE)


@pytest.mark.parametrize(("value", "places"), [
    (Fraction(5), 0), (Fraction(3, 4), 2), (Fraction(-1, 8), 3), (Fraction(7, 20), 2),
    (Fraction(1, 10**320), 320), (Fraction(1, 2**70), 70), (Fraction(1, 3), None),
    (Fraction(1, 6), None), (Fraction(-13, 1250), 4)])
def test_decimal_places_of_a_fraction(value, places):
    from convgrad.numbers import decimal_places

    assert decimal_places(value) == places
