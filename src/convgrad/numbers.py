"""Numbers as users write them, and as convgrad prints them.

A problem's numbers are kept exact: ints stay ints, decimals and "a/b" strings
become ``fractions.Fraction`` (0.1 is 1/10, not the nearest binary float).
Arrays of them are NumPy object arrays; float64 arrays are the float mode.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

import numpy as np

Number = int | Fraction | float

# Rows of a matrix string are split on ';' or new lines, entries on spaces or commas.
_ROW_SPLIT = re.compile(r"[;\n]")
_ENTRY_SPLIT = re.compile(r"[\s,]+")
_INTEGERS_ONLY = re.compile(r"[\s,;+\-\d]*")


class BadValue(ValueError):
    """A value that is not a number or a matrix; the message says why.

    ``path`` is the position inside the value (0-based indices) where it went
    wrong, so the caller can name the entry and its line.
    """

    def __init__(self, message: str, path: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


def parse_number(value: Any) -> Number:
    """One number: int, Fraction (exact), or float (NumPy floats of an API array).

    Accepts ints, Python floats (the decimal they print as), Fractions, and
    strings: "3", "-2/5", "0.25", "1e-3", "1.5/2". Rejects booleans, None,
    NaN, infinities and division by zero.
    """
    if isinstance(value, (bool, np.bool_)):
        raise BadValue(f"{str(value).lower()} is not a number")
    if value is None:
        raise BadValue("an empty value (null) is not a number")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Fraction):
        return _simplest(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise BadValue(f"{value} is not a finite number")
        # The decimal the float prints as: 0.1 means 1/10, as it does in YAML.
        return _simplest(Fraction(repr(float(value))))
    if isinstance(value, str):
        return _parse_number_text(value)
    raise BadValue(f"{type(value).__name__} {value!r} is not a number")


# Bounds on what a number may spell, so that "1e999999999" cannot take 10**999999999
# to build: far beyond any homework, far below a hang.
MAX_DIGITS = 1000
MAX_EXPONENT = 1000
_EXPONENT = re.compile(r"e([+-]?\d+)$", re.IGNORECASE)


def exact_decimal(text: str) -> Fraction:
    """The exact rational a decimal spells ("0.1" is 1/10), within MAX_DIGITS and MAX_EXPONENT.

    Raises BadValue for anything else (ValueError from Fraction becomes a message).
    """
    if len(text) > MAX_DIGITS:
        raise BadValue(f"a number of more than {MAX_DIGITS:,} characters is too long")
    match = _EXPONENT.search(text)
    if match and abs(int(match.group(1))) > MAX_EXPONENT:
        raise BadValue(f"'{text}' has an exponent beyond ±{MAX_EXPONENT}; write a smaller "
                       "number")
    try:
        return Fraction(text)
    except ValueError:
        raise BadValue(f"'{text}' is not a number (write 3, -0.5 or 1/3)") from None


def _parse_number_text(text: str) -> Number:
    s = text.strip().replace("\u2212", "-").replace("_", "")
    if len(s) > MAX_DIGITS:
        raise BadValue(f"a number of more than {MAX_DIGITS:,} characters is too long")
    if s.isdigit() or (s[1:].isdigit() and s[0] in "+-"):
        return int(s)  # the common case, ten times faster than Fraction
    if not s:
        raise BadValue("an empty string is not a number")
    if s.lower().lstrip("+-").lstrip(".") in ("inf", "infinity", "nan"):
        raise BadValue(f"'{text}' is not a finite number")
    parts = s.split("/")
    if len(parts) > 2:
        raise BadValue(f"'{text}' is not a number (write 3, -0.5 or 1/3)")
    try:
        terms = [exact_decimal(part.strip()) for part in parts]
    except BadValue as exc:
        message = str(exc)
        if "is not a number" in message:
            message = f"'{text}' is not a number (write 3, -0.5 or 1/3)"
        raise BadValue(message) from None
    if len(terms) == 1:
        return _simplest(terms[0])
    if terms[1] == 0:
        raise BadValue(f"'{text}' divides by zero")
    return _simplest(terms[0] / terms[1])


def _simplest(value: Fraction) -> Number:
    return value.numerator if value.denominator == 1 else value


def parse_array(value: Any) -> np.ndarray:
    """A scalar, vector, matrix or stack of matrices as written -> ndarray.

    Lists nest; a string is a matrix ("1 2; 3 4"), a vector ("0 1/2") or one
    number ("3"); a list of matrix strings is 3-D. NumPy arrays are taken as
    they are (float arrays stay float64). Entries of the result are int or
    Fraction (object dtype) unless a float64 array was given.
    """
    if isinstance(value, np.ndarray):
        return _from_ndarray(value)
    if isinstance(value, str):
        return _parse_matrix_text(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise BadValue("an empty list is not a matrix")
        items = []
        for i, item in enumerate(value):
            try:
                items.append(parse_array(item))
            except BadValue as exc:
                raise BadValue(str(exc), (i, *exc.path)) from None
        shape = items[0].shape
        for i, item in enumerate(items[1:], start=1):
            if item.shape != shape:
                raise BadValue(
                    f"ragged rows: entry {i + 1} has shape {shape_text(item.shape)} "
                    f"but entry 1 has {shape_text(shape)}; every row needs the same length",
                    (i,),
                )
        if any(item.dtype != object for item in items):
            return np.stack([item.astype(np.float64) for item in items])
        out = np.empty((len(items), *shape), dtype=object)
        for i, item in enumerate(items):
            out[i] = item[()] if item.ndim == 0 else item
        return out
    return np.array(parse_number(value), dtype=object)


# Chinese and Japanese keyboards type full-width separators; they mean the ASCII ones.
_FULL_WIDTH = str.maketrans({"，": ",", "；": ";", "／": "/", "　": " "})
_SPACED_SLASH = re.compile(r"\s*/\s*")


def _parse_matrix_text(text: str) -> np.ndarray:
    text = _SPACED_SLASH.sub("/", text.translate(_FULL_WIDTH))  # "1 / 3" is one entry
    if len(text) > 1000 and _INTEGERS_ONLY.fullmatch(text):
        fast = _parse_integer_matrix(text)
        if fast is not None:
            return fast
    rows = [row.strip() for row in _ROW_SPLIT.split(text)]
    rows = [row for row in rows if row]
    if not rows:
        raise BadValue("an empty string is not a matrix")
    parsed = []
    for i, row in enumerate(rows):
        entries = [e for e in _ENTRY_SPLIT.split(row) if e]
        values = []
        for j, entry in enumerate(entries):
            try:
                values.append(_parse_number_text(entry))
            except BadValue as exc:
                path = (i, j) if len(rows) > 1 else (j,) if len(entries) > 1 else ()
                raise BadValue(str(exc), path) from None
        parsed.append(values)
    if len(rows) == 1:
        vector = parsed[0]
        if len(vector) == 1:
            return np.array(vector[0], dtype=object)
        return _object_array(vector)
    width = len(parsed[0])
    for i, row_values in enumerate(parsed[1:], start=2):
        if len(row_values) != width:
            raise BadValue(
                f"ragged rows: row {i} has {len(row_values)} entries but row 1 has {width}",
                (i - 1,),
            )
    return _object_array(parsed)


def _parse_integer_matrix(text: str) -> np.ndarray | None:
    """A large matrix string of integers (an image's pixels) parsed by NumPy, not per entry.

    None when it is not a clean rectangle of machine-size integers; the careful path then
    finds what is wrong and says so.
    """
    rows = [_ENTRY_SPLIT.split(row.strip()) for row in _ROW_SPLIT.split(text) if row.strip()]
    width = len(rows[0])
    if any(len(row) != width for row in rows) or \
            any(len(token) > 18 or not token.lstrip("+-").isdigit()
                for row in rows for token in row):
        return None
    ints = np.array(rows, dtype=np.int64)
    if len(rows) == 1:
        ints = ints[0] if width > 1 else ints[0, 0]
    return ints.astype(object)


def _object_array(nested: list) -> np.ndarray:
    arr = np.empty((len(nested), len(nested[0])) if isinstance(nested[0], list) else (len(nested),),
                   dtype=object)
    if arr.ndim == 2:
        for i, row in enumerate(nested):
            arr[i, :] = row
    else:
        arr[:] = nested
    return arr


def _from_ndarray(arr: np.ndarray) -> np.ndarray:
    if arr.size == 0:
        raise BadValue("an empty array is not a matrix")
    if arr.dtype.kind == "b":
        raise BadValue("a boolean array is not a matrix of numbers")
    if arr.dtype.kind in "iu":
        return np.frompyfunc(int, 1, 1)(arr).astype(object).reshape(arr.shape)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():
            raise BadValue("NaN or infinite entries", tuple(int(i) for i in np.argwhere(bad)[0]))
        return arr
    if arr.dtype == object:
        out = np.empty(arr.shape, dtype=object)
        for index, v in np.ndenumerate(arr):
            try:
                out[index] = parse_number(v)
            except BadValue as exc:
                raise BadValue(str(exc), tuple(int(i) for i in index)) from None
        return out
    raise BadValue(f"an array of {arr.dtype} is not a matrix of numbers")


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(n) for n in shape) if shape else "a scalar"



# --- exact and float arrays -------------------------------------------------


_to_fraction = np.frompyfunc(lambda v: v if isinstance(v, (int, Fraction)) else
                             _simplest(Fraction(repr(float(v)))), 1, 1)


def to_exact(arr: np.ndarray) -> np.ndarray:
    """An array of ints/Fractions (object dtype); floats read as the decimal they print as."""
    if arr.dtype == object:
        return arr
    return np.asarray(_to_fraction(arr), dtype=object).reshape(arr.shape)


def to_float(arr: np.ndarray) -> np.ndarray:
    return np.asarray(arr, dtype=np.float64)


def exact_const(value: Number, exact: bool) -> Number:
    """A constant in the arithmetic of the run: Fraction when exact, float otherwise."""
    if exact:
        return value if isinstance(value, (int, Fraction)) else Fraction(repr(value))
    return float(value)


_normalize = np.frompyfunc(lambda v: v.numerator if isinstance(v, Fraction)
                           and v.denominator == 1 else v, 1, 1)


def normalize(arr: np.ndarray) -> np.ndarray:
    """Fractions with denominator 1 become ints (object arrays only)."""
    if arr.dtype != object or arr.size == 0:
        return arr
    return np.asarray(_normalize(arr), dtype=object).reshape(arr.shape)


# --- printing -----------------------------------------------------------------


def exact_text(value: Number) -> str:
    """A rational in lowest terms, sign first, no denominator when it is 1: "7/2", "-1/3", "23"."""
    v = Fraction(value)
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def format_number(value: Number, digits: int = 6) -> str:
    """How tables show a number: exact ones as fractions, floats to `digits` significant digits."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, Fraction):
        return exact_text(value)
    text = f"{float(value):.{digits}g}"
    return "0" if text == "-0" else text


def json_number(value: Number) -> int | float:
    """A JSON number: ints stay ints (23, not 23.0), everything else a float."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    return float(value)
