"""Numbers as users write them, and as convgrad prints them.

A problem's numbers are kept exact: ints stay ints, decimals and "a/b" strings
become ``fractions.Fraction`` (0.1 is 1/10, not the nearest binary float).
Arrays of them are NumPy object arrays; float64 arrays are the float mode.
"""

from __future__ import annotations

import math
import re
import sys
from fractions import Fraction
from typing import Any

import numpy as np

Number = int | Fraction | float


class _LazyPattern:
    """A regular expression compiled the first time it is used. Compiling costs tens of
    microseconds a pattern, paid on import by every start of convgrad, and a solve uses few
    of them; once compiled, its methods are the compiled pattern's own (no extra call)."""

    def __init__(self, text: str, flags: int = 0) -> None:
        self.pattern = text
        self.flags = flags

    def __getattr__(self, name: str) -> Any:  # only until the first use
        compiled = re.compile(self.pattern, self.flags)
        for method in ("fullmatch", "match", "search", "split", "sub", "finditer"):
            self.__dict__[method] = getattr(compiled, method)
        return getattr(compiled, name)


def lazy_pattern(text: str, flags: int = 0) -> re.Pattern[str]:
    """re.compile(text, flags), compiled when first used (see _LazyPattern)."""
    return _LazyPattern(text, flags)  # type: ignore[return-value]

# Rows of a matrix string are split on ';' or new lines, entries on spaces or commas.
_ROW_SPLIT = lazy_pattern(r"[;\n]")
_ENTRY_SPLIT = lazy_pattern(r"[\s,]+")
_INTEGERS_ONLY = lazy_pattern(r"[\s,;+\-0-9]*")

# How a number may be written (YAML 1.2's core schema, ASCII digits only): a decimal with an
# optional exponent, or an integer in hexadecimal (0x1f) or octal (0o17).
_INTEGER = lazy_pattern(r"[+-]?[0-9]+")
_DECIMAL = lazy_pattern(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEXADECIMAL = lazy_pattern(r"[+-]?0x[0-9a-fA-F]+")
_OCTAL = lazy_pattern(r"[+-]?0o[0-7]+")

# Chinese and Japanese keyboards type full-width digits and separators, and some editors
# turn '-' into the minus sign U+2212: they mean the ASCII ones. Other digits (superscripts,
# circled, Arabic-Indic) are refused, even where Python's int() would take them.
_AS_ASCII = str.maketrans({
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    "\u2212": "-", "\uff0d": "-", "\uff0b": "+", "\uff0e": ".",
    "\uff0c": ",", "\uff1b": ";", "\uff0f": "/", "\u3000": " ",
})


class BadValue(ValueError):
    """A value that is not a number or a matrix; the message says why.

    ``path`` is the position inside the value (0-based indices) where it went
    wrong, so the caller can name the entry and its line.
    """

    def __init__(self, message: str, path: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.path = path


class FoldedText(str):
    """A string that YAML joined from several lines of the file (a quoted or plain string
    over lines, or a '>' block): its line breaks became spaces, so it cannot be read as
    the rows of a matrix. Anywhere else it is an ordinary string."""


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
    if isinstance(value, np.ndarray) and value.ndim == 0:
        # np.array(0.1), as NumPy's reductions give: the one number it holds
        if _masked(value).any():  # np.ma.masked, as a reduction over masked entries gives
            raise BadValue("the value is masked (np.ma.masked); give a number")
        return parse_number(np.asarray(value)[()])
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Fraction):
        return _simplest(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise BadValue(f"{value} is not a finite number")
        # The decimal the float prints as: 0.1 means 1/10, as it does in YAML; a NumPy
        # float32 prints at its own precision (np.float32(0.1) as 0.1, where float() of it
        # is 0.10000000149011612).
        return _simplest(Fraction(repr(value) if type(value) is float
                                  else repr(float(value)) if isinstance(value, float)
                                  else str(value)))
    if isinstance(value, str):
        return _parse_number_text(value)
    decimal = sys.modules.get("decimal")  # (no Decimal exists before decimal is imported)
    if decimal is not None and isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise BadValue(f"{value!r} is not a finite number")
        return _simplest(exact_decimal(str(value)))  # the decimal as written: 0.1 is 1/10
    raise BadValue(f"{type(value).__name__} {_short_repr(value)} is not a number")


def _short_repr(value: Any) -> str:
    """A value for a message, on one line and short: an API user's list of a million entries
    or nested thousands deep (in an object array) was written out whole, or failed."""
    import reprlib

    return " ".join(reprlib.repr(value).split())


# Bounds on what a number may spell, so that "1e999999999" cannot take 10**999999999
# to build: far beyond any homework, far below a hang.
MAX_DIGITS = 1000
MAX_EXPONENT = 1000
_DECIMAL_PARTS = lazy_pattern(r"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
_NOT_A_NUMBER = "(write 3, -0.5 or 1/3)"


def exact_decimal(text: str) -> Fraction:
    """The exact rational a decimal spells ("0.1" is 1/10), within MAX_DIGITS and MAX_EXPONENT.

    Only ASCII decimals as YAML 1.2 writes them ("-1.5e-3", ".5", "2."); BadValue for
    anything else.
    """
    if len(text) > MAX_DIGITS:
        raise BadValue(f"a number of more than {MAX_DIGITS:,} characters is too long")
    match = _DECIMAL_PARTS.fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        raise BadValue(f"'{text}' is not a number {_NOT_A_NUMBER}")
    value = _decimal_value(*match.groups())
    if value is None:
        raise BadValue(f"'{text}' has an exponent beyond ±{MAX_EXPONENT}; write a smaller "
                       "number")
    return Fraction(value)


def decimal_places(value: Fraction) -> int | None:
    """How many places a fraction's decimal has when it ends (its denominator divides a power
    of ten: 0 for an integer, 2 for 3/4); None when it repeats (1/3)."""
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    return max(twos, fives) if rest == 1 else None


def _decimal_value(sign: str, whole: str, fraction: str | None, exponent: str | None
                   ) -> Number | None:
    """The number of a decimal's parts (as _DECIMAL_PARTS matched them), None when the
    exponent is beyond MAX_EXPONENT. Digits and a power of ten: several times faster than
    Fraction(text), which matters in large files."""
    power = int(exponent) if exponent else 0
    if abs(power) > MAX_EXPONENT:
        return None
    fraction = fraction or ""
    digits = int(whole + fraction) if whole or fraction else 0
    if sign == "-":
        digits = -digits
    power -= len(fraction)
    if power >= 0:
        return digits * 10**power
    value = Fraction(digits, 10**-power)
    return value.numerator if value.denominator == 1 else value


def integer_text(text: str) -> int | None:
    """The integer a YAML 1.2 integer spells ("12", "-7", "0x1f", "0o17"), else None."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _HEXADECIMAL.fullmatch(text):
        return int(text, 16)
    if _OCTAL.fullmatch(text):
        return int(text, 8)
    return None


# The numbers of texts already read (numbers are immutable, so they are shared): a class's
# answers files repeat the same decimals, and a dictionary look-up is many times faster
# than building the Fraction again. Emptied when full, so it never grows without bound.
_QUICK: dict[str, Number | None] = {}
_QUICK_LIMIT = 1 << 16


def quick_number(text: str) -> Number | None:
    """The number of an ASCII integer or decimal ("12", "-0.25", ".5", "1e-3"), else None.

    The common forms of a large file, read several times faster than by the general parse;
    None sends anything else (fractions, mistakes, bounds passed) to it, which says what
    is wrong.
    """
    try:
        return _QUICK[text]
    except KeyError:
        pass
    if len(_QUICK) >= _QUICK_LIMIT:
        _QUICK.clear()
    value = _QUICK[text] = _quick_number(text)
    return value


def _quick_number(text: str) -> Number | None:
    if len(text) > MAX_DIGITS:
        return None
    match = _DECIMAL_PARTS.fullmatch(text)
    if match is None:
        return None
    sign, whole, fraction, exponent = match.groups()
    if fraction is None and exponent is None:
        return int(text) if whole else None
    if not (whole or fraction):
        return None
    return _decimal_value(sign, whole, fraction, exponent)


def _parse_number_text(text: str) -> Number:
    s = text.strip().translate(_AS_ASCII)
    if len(s) > MAX_DIGITS:
        raise BadValue(f"a number of more than {MAX_DIGITS:,} characters is too long")
    if _INTEGER.fullmatch(s):
        return int(s)  # the common case, ten times faster than Fraction
    if not s:
        raise BadValue("an empty string is not a number")
    if s.lower().lstrip("+-").lstrip(".") in ("inf", "infinity", "nan"):
        raise BadValue(f"'{text}' is not a finite number")
    parts = [part.strip() for part in s.split("/")]
    if len(parts) > 2:
        raise BadValue(f"'{text}' is not a number {_NOT_A_NUMBER}")
    terms = [_number_part(part, text) for part in parts]
    if len(terms) == 1:
        return _simplest(Fraction(terms[0])) if isinstance(terms[0], Fraction) else terms[0]
    if terms[1] == 0:
        raise BadValue(f"'{text}' divides by zero")
    return _simplest(Fraction(terms[0]) / Fraction(terms[1]))


def _number_part(part: str, text: str) -> int | Fraction:
    """One side of "a/b" (or the whole number): an integer or a decimal, with a message
    that says what is wrong with it when it is neither."""
    value = integer_text(part)
    if value is not None:
        return value
    try:
        return exact_decimal(part)
    except BadValue as exc:
        if "is not a number" not in str(exc):
            raise
    raise BadValue(_why_not_a_number(part, text)) from None


def _why_not_a_number(part: str, text: str) -> str:
    """Why `part` (of `text`) is not a number, and what to write instead."""
    odd = next((c for c in part if not c.isascii()), None)
    if odd is not None:
        import unicodedata  # only for this message

        name = unicodedata.name(odd, f"U+{ord(odd):04X}").lower()
        return (f"'{text}' is not a number: '{odd}' ({name}) is not one of the digits 0-9; "
                "write the number with the digits 0-9")
    if "_" in part:
        bare = part.replace("_", "")
        if integer_text(bare) is not None or _DECIMAL.fullmatch(bare):
            return f"'{text}' is not a number: write it without '_', as {bare}"
    if ":" in part:
        return (f"'{text}' is not a number: ':' has no place in a number (YAML 1.2 reads no "
                "base-60 numbers); write a decimal, or a fraction with '/'")
    lowered = part.lower().lstrip("+-")
    if lowered.startswith("0b") and re.fullmatch(r"[01]+", lowered[2:]):
        sign = "-" if part.startswith("-") else ""
        return (f"'{text}' is not a number: YAML 1.2 has no 0b binary numbers; "
                f"write {sign}{int(lowered[2:], 2)}")
    return f"'{text}' is not a number {_NOT_A_NUMBER}"


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
    if isinstance(value, FoldedText):
        raise BadValue("is one string written over several lines, which YAML joins into a "
                       "single row; separate the rows with ';' or write the matrix as a "
                       "'|' block (rows on their own lines)")
    if isinstance(value, str):
        return _parse_matrix_text(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise BadValue("an empty list is not a matrix")
        plain = _plain_nested(value)
        if plain is not None:
            return plain
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


_PLAIN_TYPES = {int, Fraction}


def _plain_nested(value: list | tuple) -> np.ndarray | None:
    """A rectangular list (of lists) of ints and Fractions in lowest terms, as the reader
    gives a matrix of numbers -> its object array, without a parse per entry; None for
    anything else, which the general path reads (and says what is wrong with)."""
    try:
        out = np.array(value, dtype=object)
    except ValueError:  # ragged
        return None
    if out.size == 0:
        return None
    types = set(map(type, out.flat))  # bool is not int here: True is no number
    if not types <= _PLAIN_TYPES:
        return None
    if Fraction in types and any(type(v) is Fraction and v.denominator == 1 for v in out.flat):
        return None  # 4/2 is the int 2: the general path makes it one
    return out


_SPACED_SLASH = lazy_pattern(r"\s*/\s*")
# Signs that do not start an entry ("--1", "1-2", a lone "-"), and integers too long for int64:
# the NumPy path leaves such text to the careful one, which says what is wrong.
_MISPLACED_SIGN = lazy_pattern(r"[+\-](?![0-9])|[0-9][+\-]")
_LONG_INTEGER = lazy_pattern(r"[0-9]{19}")


def _parse_matrix_text(text: str) -> np.ndarray:
    if not text.isascii():  # the table maps only characters beyond ASCII
        text = text.translate(_AS_ASCII)
    if "/" in text:
        text = _SPACED_SLASH.sub("/", text)  # "1 / 3" is one entry
    if len(text) > 1000 and _INTEGERS_ONLY.fullmatch(text):
        fast = _parse_integer_matrix(text)
        if fast is not None:
            return fast
    rows = [row.strip() for row in _ROW_SPLIT.split(text)]
    rows = [row for row in rows if row]
    if not rows:
        raise BadValue("an empty string is not a matrix")
    parsed = []
    known = _QUICK.get
    for i, row in enumerate(rows):
        entries = [e for e in _ENTRY_SPLIT.split(row) if e]
        if not entries:  # "," or ", ; ,": a matrix with no numbers (a row of width 0)
            raise BadValue(f"{f'row {i + 1}' if len(rows) > 1 else 'the string'} has "
                           "separators but no numbers; write the numbers, separated by "
                           "spaces or commas, rows by ';'", (i,) if len(rows) > 1 else ())
        values = []
        for j, entry in enumerate(entries):
            value = known(entry)  # most entries: a number read before
            if value is None:
                value = quick_number(entry)
            if value is not None:
                values.append(value)
                continue
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

    `text` holds only ASCII digits, signs and separators. None when it is not a clean
    rectangle of machine-size integers; the careful path then finds what is wrong and
    says so.
    """
    if _MISPLACED_SIGN.search(text) or _LONG_INTEGER.search(text):
        return None
    rows = []
    for row in _ROW_SPLIT.split(text):
        row = row.strip()
        if row:  # one row's entries at a time, as int64: no list of every entry's text
            entries = _ENTRY_SPLIT.split(row)
            if not entries[0] or not entries[-1]:  # a comma at an end: the careful path
                return None
            rows.append(np.array(entries, dtype=np.int64))
            if len(rows[-1]) != len(rows[0]):
                return None
    if not rows:
        return None
    ints = np.stack(rows)
    if len(rows) == 1:  # a vector, or one number as a 0-d array (as the careful path gives)
        ints = ints[0] if ints.shape[1] > 1 else ints[0, 0, ...]
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


_parse_each = np.frompyfunc(parse_number, 1, 1)


def _masked(arr: np.ndarray) -> np.ndarray:
    """Which entries of arr are masked (np.ma): a boolean array of arr's shape."""
    ma = sys.modules.get("numpy.ma")  # (no masked array exists before numpy.ma is imported)
    if ma is None or not isinstance(arr, ma.MaskedArray):
        return np.zeros(arr.shape, dtype=bool)
    return ma.getmaskarray(arr)


def _from_ndarray(arr: np.ndarray) -> np.ndarray:
    if arr.size == 0:
        raise BadValue("an empty array is not a matrix")
    masked = _masked(arr)
    if masked.any():  # a masked entry has no value to take; its data underneath is not one
        raise BadValue("the entry is masked; fill it (x.filled(0)) or give an unmasked array",
                       tuple(int(i) for i in np.argwhere(masked)[0]))
    arr = np.asarray(arr)
    if arr.dtype.kind == "b":
        raise BadValue("a boolean array is not a matrix of numbers")
    if arr.dtype.kind in "iu":
        # np.asarray: on a 0-d array (np.array(2)) frompyfunc gives a bare int, not an array
        return np.asarray(np.frompyfunc(int, 1, 1)(arr), dtype=object).reshape(arr.shape)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():
            raise BadValue("NaN or infinite entries", tuple(int(i) for i in np.argwhere(bad)[0]))
        return arr
    if arr.dtype == object:
        if arr.ndim > 32:  # NumPy's loops stop at 32 axes, np.ndenumerate below among them
            raise BadValue(f"an array of {arr.ndim} axes is not a matrix; a problem's values "
                           "have 4 at most (a batch of C x H x W maps)")
        try:  # every entry in one pass; the loop below finds a bad one's index
            return np.asarray(_parse_each(arr), dtype=object).reshape(arr.shape)
        except BadValue:
            pass
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
    if type(value) is int:  # the common entries of an exact result, written as they are
        return str(value)
    v = value if type(value) is Fraction else Fraction(value)  # a Fraction is in lowest terms
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def format_number(value: Number, digits: int = 6) -> str:
    """How tables show a number: exact ones as fractions, floats to `digits` significant digits."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, Fraction):
        return exact_text(value)
    text = f"{float(value):.{digits}g}"
    return "0" if text == "-0" else text
