"""Grading: a student's answers against the solved problem, with tolerances and hints.

The problem is solved once; each answers file is then parsed and compared key
by key. A wrong shape, a transposed matrix, a sign error or a value off by a
loss-convention factor is a wrong answer with a hint, never a crash; a file
that cannot be read, an unknown key, a non-number or an index outside the
shape makes that file unusable (SPEC section 3).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from convgrad.engine import Run
from convgrad.errors import ProblemError
from convgrad.numbers import BadValue, Number, exact_text, format_number, parse_array, shape_text

# The keys an answers file may give (SPEC section 3); a network adds "<layer>.<key>".
RESULT_KEYS = ("Y", "loss", "dY", "dW", "db", "dX", "Z", "dZ", "A", "dA", "W_new", "b_new")
LAYER_KEYS = ("output", "d_output", "dW", "db", "W_new", "b_new")
# Keys that scale with dL/dY, so a loss convention (mean vs sum) changes them by one factor.
GRADIENT_KEYS = ("loss", "dY", "dW", "db", "dX", "dZ", "dA", "d_output")

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-6
_KEY = re.compile(r"^\s*([A-Za-z_][\w.]*?)\s*(?:\[\s*(\d+(?:\s*,\s*\d+)*)\s*\])?\s*$")


@dataclass(frozen=True)
class Tolerance:
    """When a given number counts as the expected one.

    mode: "tol" (|given - expected| <= atol + rtol*|expected|), "decimals" (both round
    to the same N decimals), "sig_figs" (the same N significant figures), "exact".
    """

    mode: str = "tol"
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL
    digits: int = 0

    def describe(self) -> str:
        if self.mode == "exact":
            return "exact: fractions must be equal"
        if self.mode == "decimals":
            return (f"right when it rounds to the expected value at {self.digits} decimals "
                    "(or is the expected value rounded to more)")
        if self.mode == "sig_figs":
            return (f"right when it has the expected value's {self.digits} significant "
                    "figures (or is the expected value rounded to more)")
        return f"|given - expected| <= {self.atol:g} + {self.rtol:g}·|expected|"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "description": self.describe()}
        if self.mode == "tol":
            out.update(rtol=self.rtol, atol=self.atol)
        elif self.mode in ("decimals", "sig_figs"):
            out["digits"] = self.digits
        return out

    def same(self, given: Number, expected: Number) -> bool:
        # In exact rationals throughout: a float is the binary value it holds, and an
        # answer such as 1e400 is compared, not overflowed.
        g, e = _rational(given), _rational(expected)
        if self.mode == "exact":
            return g == e
        if self.mode == "decimals":
            unit = Fraction(1) / Fraction(10) ** self.digits
        elif self.mode == "sig_figs":
            unit = _unit_of_sig_figs(e, self.digits)
        else:
            return abs(g - e) <= Fraction(self.atol) + Fraction(self.rtol) * abs(e)
        if _round_to(g, unit) == _round_to(e, unit):
            return True
        # A more precise answer is right when it is the expected value correctly rounded
        # at its own last decimal (0.5835 for 0.583492 at 3 decimals); 26.5 for 23 is not.
        places = _decimal_places(g)
        if places is None:
            return False
        own_unit = Fraction(1) / Fraction(10) ** places
        return own_unit < unit and _round_to(e, own_unit) == g


def _decimal_places(value: Fraction) -> int | None:
    """How many decimals a number written as a decimal has (None for 1/3)."""
    for places in range(19):
        if (value * 10**places).denominator == 1:
            return places
    return None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _rational(value: Any) -> Fraction:
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return Fraction(value)


def _round(value: Fraction, digits: int) -> Fraction:
    """value rounded half up to `digits` decimals, exactly."""
    return _round_to(value, Fraction(1) / Fraction(10) ** digits)


def _round_to(value: Fraction, unit: Fraction) -> Fraction:
    """value rounded half up (away from zero) to a multiple of unit, exactly."""
    scaled = abs(value) / unit
    rounded = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    return (rounded if value >= 0 else -rounded) * unit


def _unit_of_sig_figs(value: Fraction, digits: int) -> Fraction:
    """The place value of the `digits`th significant figure of value (1 for value 0)."""
    if value == 0:
        return Fraction(1)
    # The power of ten of the leading digit: 10^exponent <= |value| < 10^(exponent + 1).
    magnitude, exponent = abs(value), 0
    while magnitude >= Fraction(10) ** (exponent + 1):
        exponent += 1
    while magnitude < Fraction(10) ** exponent:
        exponent -= 1
    return Fraction(10) ** (exponent - digits + 1)


@dataclass
class EntryDiff:
    position: tuple[int, ...]  # 1-based, as solve prints it
    given: Number
    expected: Number

    @property
    def difference(self) -> Number:
        return _sub(self.given, self.expected)


@dataclass
class KeyResult:
    key: str
    right: bool
    points: float
    given: Any
    expected: Any
    message: str = ""
    diffs: list[EntryDiff] = field(default_factory=list)
    line: int | None = None

    @property
    def earned(self) -> float:
        return self.points if self.right else 0.0


@dataclass
class FileReport:
    source: str
    keys: list[KeyResult] = field(default_factory=list)
    error: str | None = None  # set when the file is unusable
    possible: float = 0.0  # the points at stake when the file is unusable (from --points)

    @property
    def usable(self) -> bool:
        return self.error is None

    @property
    def score(self) -> float:
        return sum(k.earned for k in self.keys)

    @property
    def max_score(self) -> float:
        return sum(k.points for k in self.keys) if self.usable else self.possible

    @property
    def right(self) -> int:
        return sum(k.right for k in self.keys)

    @property
    def wrong_keys(self) -> list[str]:
        return [k.key for k in self.keys if not k.right]


def parse_points(text: str | None) -> dict[str, float]:
    """--points dW=2,db=1 -> {"dW": 2.0, "db": 1.0}."""
    points: dict[str, float] = {}
    if not text:
        return points
    for item in text.split(","):
        key, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not sep or not key.strip() or not 0 <= number < float("inf"):
            raise ProblemError(f"--points: '{item.strip()}' is not KEY=POINTS; write for "
                               "example --points dW=2,db=1")
        points[key.strip()] = number
    return points


class Grader:
    """Grades answers files against one solved problem."""

    def __init__(self, solved: Run, tolerance: Tolerance | None = None,
                 points: dict[str, float] | None = None) -> None:
        from convgrad.api import results

        self.solved = solved
        self.tolerance = tolerance or Tolerance()
        self.points = points or {}
        self.expected: dict[str, Any] = {}
        out = results(solved)
        for key, value in out.items():
            if key == "layers":
                for layer in value:
                    for name, item in layer.items():
                        if name in LAYER_KEYS:
                            self.expected[f"{layer['name']}.{name}"] = item
            else:
                self.expected[key] = value
        unknown = [key for key in self.points if _KEY.match(key) is None
                   or _KEY.match(key).group(1) not in self.expected]  # type: ignore[union-attr]
        if unknown:
            raise ProblemError(f"--points: '{unknown[0]}' is not a result of this problem; "
                               + _did_you_mean(unknown[0], list(self.expected)))

    def grade_file(self, path: str) -> FileReport:
        from convgrad import spec

        source = "<stdin>" if path == "-" else path
        try:
            text = spec.read_text(path)
            data, lines = spec.load_yaml(text, source) if text.strip() else (None, {})
        except ProblemError as exc:
            return self._unusable(source, str(exc))
        return self.grade(data, source, lines)

    def _unusable(self, source: str, error: str) -> FileReport:
        return FileReport(source, error=error, possible=sum(self.points.values()))

    def grade(self, data: Any, source: str = "<answers>",
              lines: dict[tuple, int] | None = None) -> FileReport:
        """Grade answers given as plain values (a mapping of keys to values)."""
        lines = lines or {}
        if not data:
            return self._unusable(source, f"{source}: no answers in the file; give keys such as "
                                  "'dW: [[32, 41], [59, 68]]' or 'loss: 23'")
        if not isinstance(data, dict):
            return self._unusable(source, f"{source}: the answers must be a mapping of keys to "
                                  "values, e.g. 'dW: [[32, 41], [59, 68]]'")
        if "input" in data and ("kernel" in data or "layers" in data):
            return self._unusable(source, f"{source}: this is a problem file, not answers; "
                                  "give the answers file after the problem")
        report = FileReport(source)
        try:
            for key, value in data.items():
                report.keys.append(self.grade_key(str(key), value, source, lines.get((key,))))
        except ProblemError as exc:
            return self._unusable(source, str(exc))
        self._apply_points(report)
        return report

    def _apply_points(self, report: FileReport) -> None:
        """With --points, the entries given for a key share its points, and a key named
        there but not answered is graded as missing (0 of its points)."""
        if not self.points:
            return
        by_name: dict[str, list[KeyResult]] = {}
        for result in report.keys:
            by_name.setdefault(_KEY.match(result.key).group(1), []).append(result)  # type: ignore[union-attr]
        for name, results in by_name.items():
            if name in self.points:
                for result in results:
                    if result.key not in self.points:
                        result.points = self.points[name] / len(results)
        given = {result.key for result in report.keys}
        for key, points in self.points.items():
            if key not in given and key not in by_name:
                report.keys.append(KeyResult(key, False, points, None, None,
                                             message="missing: no answer given"))

    def grade_key(self, key: str, value: Any, source: str, line: int | None) -> KeyResult:
        where = f"{source}, line {line}" if line else source
        match = _KEY.match(key)
        name = match.group(1) if match else key
        if match is None or name not in self.expected:
            hint = _did_you_mean(name, list(self.expected))
            raise ProblemError(f"{where}: '{key}' is not a result of this problem; {hint}")
        expected = np.asarray(self.expected[name],
                              dtype=object if self.solved.exact else np.float64)
        points = self.points.get(key, self.points.get(name, 1.0))
        try:
            given = parse_array(value)
        except BadValue as exc:
            position = ("entry [" + ",".join(str(i + 1) for i in exc.path) + "]: ") \
                if exc.path else ""
            raise ProblemError(f"{where}: '{key}' {position}{exc}") from None
        if match.group(2):
            index = tuple(int(i) - 1 for i in match.group(2).split(","))
            if expected.ndim == 0:
                expected = expected.reshape(1)  # db[1] names a scalar db, as db: [9] does
            if len(index) != expected.ndim or any(not 0 <= i < n for i, n in
                                                  zip(index, expected.shape, strict=False)):
                raise ProblemError(f"{where}: '{key}' is outside {name}, which is "
                                   f"{shape_text(expected.shape)}; indices are 1-based, "
                                   "as solve prints them")
            expected = np.asarray(expected[index])
        result = KeyResult(key, False, points, given, expected, line=line)
        self.compare(result, name)
        return result

    def compare(self, result: KeyResult, name: str) -> None:
        given, expected = result.given, result.expected
        if _squeezed(given.shape) != _squeezed(expected.shape):
            g2, e2 = np.squeeze(given), np.squeeze(expected)
            if g2.ndim == 2 and e2.ndim == 2 and g2.T.shape == e2.shape and \
                    self._all_same(g2.T, e2):
                result.message = (f"transposed: {name} is {shape_text(e2.shape)}, the answer is "
                                  "its transpose (rows and columns swapped)")
            else:
                result.message = (f"wrong shape: {name} is {_shape_words(expected.shape)}, the "
                                  f"answer is {_shape_words(given.shape)}")
            return
        g = given.reshape(expected.shape)
        for index in np.ndindex(expected.shape):
            if not self.tolerance.same(g[index], expected[index]):
                result.diffs.append(EntryDiff(tuple(i + 1 for i in index), g[index],
                                              expected[index]))
        result.right = not result.diffs
        if not result.right:
            result.message = self.hint(name, g, expected, len(result.diffs))

    def _all_same(self, given: np.ndarray, expected: np.ndarray) -> bool:
        # Arithmetic on a 0-d object array gives a bare number: make both arrays again.
        given, expected = np.asarray(given), np.asarray(expected)
        return all(self.tolerance.same(given[i], expected[i]) for i in np.ndindex(expected.shape))

    def hint(self, name: str, given: np.ndarray, expected: np.ndarray, wrong: int) -> str:
        """What the mistake looks like: a sign, a loss convention, a factor, a flipped kernel."""
        count = f"{wrong} of {expected.size} entries differ" if expected.size > 1 else "wrong"
        if self._all_same(-given, expected):
            return f"{count}: the sign is wrong everywhere"
        if expected.ndim == 2 and self._all_same(given.T, expected):
            return f"{count}: the answer is the transpose of {name} (rows and columns swapped)"
        if expected.ndim >= 2 and self._all_same(given[..., ::-1, ::-1], expected):
            return (f"{count}: the answer is {name} rotated 180 degrees (was the kernel "
                    "flipped?)")
        ratio = _common_ratio(given, expected)
        if ratio == 0:
            return f"{count}: the answer is all zeros"
        if ratio is not None:
            nice = _rational(ratio).limit_denominator(1000)
            close = abs(_rational(ratio) - nice) <= abs(nice) / 10**6
            ratio = nice if close else None  # a factor such as 4 or 1/2 is a clue; 1.00055 is not
        if ratio is not None and ratio != 1:
            base = name.rsplit(".", 1)[-1]
            convention = self._convention(ratio) if base in GRADIENT_KEYS else None
            if convention:
                return f"{count}: matches the {convention} convention (off by a factor of " \
                       f"{format_number(ratio)})"
            if expected.size > 1:  # one factor for every entry is a clue; for one number, not
                return f"{count}: off by a factor of {format_number(ratio)}"
        if self.tolerance.mode == "tol":
            for digits in range(8, 0, -1):  # the most decimals it is right to
                if self._all_same_rounded(given, expected, digits):
                    return (f"{count}: right to {digits} decimal{'s' if digits > 1 else ''}, "
                            f"not within the tolerance (--decimals {digits} accepts it)")
        return count

    def _all_same_rounded(self, given: np.ndarray, expected: np.ndarray, digits: int) -> bool:
        rounded = Tolerance("decimals", digits=digits)
        return all(rounded.same(np.asarray(given)[i], np.asarray(expected)[i])
                   for i in np.ndindex(np.shape(expected)))

    def _convention(self, ratio: Number) -> str | None:
        problem = self.solved.problem
        if problem.loss not in ("mse", "sse", "half_sse"):
            return None
        n = self.solved.y.size
        scale = {"mse": Fraction(1, n), "sse": Fraction(1), "half_sse": Fraction(1, 2)}
        names = {"mse": "mean (mse)", "sse": "sum-loss (sse)", "half_sse": "half-sum (half_sse)"}
        mine = scale[problem.loss]
        for loss, factor in scale.items():
            if loss != problem.loss and abs(_rational(ratio) - factor / mine) <= \
                    factor / mine / 10**9:
                return names[loss]
        return None


def _did_you_mean(word: str, choices: list[str]) -> str:
    entry = re.fullmatch(r"([A-Za-z_][\w.]*?)(\d+)", word)  # dw11: an entry without brackets
    if entry:
        for choice in choices:
            if choice.lower() == entry.group(1).lower():
                return f"did you mean '{choice}[{','.join(entry.group(2))}]'?"
    same_letters = [c for c in choices if c.lower() == word.lower()]
    close = same_letters or difflib.get_close_matches(word, choices, n=1, cutoff=0.5)
    if close:
        return f"did you mean '{close[0]}'?"
    return "this problem has: " + ", ".join(choices)


def _shape_words(shape: tuple[int, ...]) -> str:
    if not shape:
        return "one number"
    if len(shape) == 1:
        return f"{shape[0]} number{'s' if shape[0] != 1 else ''}"
    return shape_text(shape)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def _sub(a: Number, b: Number) -> Number:
    difference = _rational(a) - _rational(b)
    if isinstance(a, float) or isinstance(b, float):
        return _float_or_exact(difference)
    return difference


def _float_or_exact(value: Fraction) -> Number:
    try:
        return float(value)
    except OverflowError:  # beyond float64 (an answer such as 1e400): keep it exact
        return value


def _common_ratio(given: np.ndarray, expected: np.ndarray) -> Number | None:
    """given / expected when it is the same for every entry (zeros must match zeros)."""
    ratio: Number | None = None
    for index in np.ndindex(expected.shape):
        g, e = given[index], expected[index]
        if e == 0:
            if g != 0:
                return None
            continue
        r = _rational(g) / _rational(e)
        if ratio is None:
            ratio = r
        elif abs(r - ratio) > abs(ratio) / 10**9:
            return None
    return ratio


def value_text(value: Any, given: bool = False) -> str:
    """A value for a report: a number, or a matrix in the answers file's string form.

    given: a student's answer, whose decimals are shown as decimals (8.99, not 899/100).
    """
    arr = np.asarray(value)
    if arr.ndim == 0:
        v = arr[()]
        if isinstance(v, float):
            return format_number(v)
        if given:
            decimal = _as_decimal(_rational(v))
            if decimal is not None:
                return decimal
        return exact_text(v)
    if arr.ndim == 1:
        return " ".join(value_text(v, given) for v in arr)
    return "; ".join(value_text(row, given) for row in arr)


def _as_decimal(value: Fraction) -> str | None:
    """The decimal a fraction spells when its denominator is a power of ten's divisor."""
    for digits in range(1, 19):
        scaled = value * 10**digits
        if scaled.denominator == 1:
            text = f"{abs(scaled.numerator):0{digits + 1}d}"
            sign = "-" if value < 0 else ""
            return f"{sign}{text[:-digits]}.{text[-digits:]}".rstrip("0").rstrip(".")
    return None


def json_value(value: Any) -> Any:
    """JSON numbers in nested lists; a number beyond float64 becomes its exact string."""
    arr = np.asarray(value)
    if arr.dtype != object:
        return arr.tolist()
    if arr.ndim == 0:
        v = arr[()]
        if isinstance(v, (int, np.integer)):
            return int(v)
        number = _float_or_exact(_rational(v))
        return exact_text(number) if isinstance(number, Fraction) else number
    return [json_value(v) for v in arr]


def exact_value(value: Any) -> Any:
    """Fraction strings in nested lists ("7/2"), as solve --json's `exact` object has them."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return exact_text(_rational(arr[()]))
    return [exact_value(v) for v in arr]


# --- reports for machines --------------------------------------------------------------------


def _key_json(result: KeyResult, reveal: bool, exact: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"key": result.key, "right": result.right, "points": result.points,
                            "earned": result.earned}
    if result.given is None:  # a key --points asked for, not answered
        item.update(given=None, message=result.message, wrong_entries=[])
        return item
    item["given"] = json_value(result.given)
    if reveal:
        item["expected"] = json_value(result.expected)
    if exact:  # the same values as fraction strings, as in solve --json
        item["exact"] = {"given": exact_value(result.given)}
        if reveal:
            item["exact"]["expected"] = exact_value(result.expected)
    item["message"] = result.message if reveal else public_message(result)
    wrong = []
    for diff in result.diffs:
        entry: dict[str, Any] = {"position": list(diff.position),
                                 "given": json_value(diff.given)}
        if reveal:
            entry["expected"] = json_value(diff.expected)
            entry["difference"] = json_value(diff.difference)
        wrong.append(entry)
    item["wrong_entries"] = wrong
    if result.line:
        item["line"] = result.line
    return item


def public_message(result: KeyResult) -> str:
    """The message without anything that gives the expected value away (--no-reveal)."""
    if result.right:
        return ""
    kind = result.message.split(":", 1)[0]
    if kind in ("transposed", "wrong shape"):
        return kind
    if result.diffs and np.ndim(result.expected) > 0:
        return "wrong entries: " + ", ".join(
            "[" + ",".join(map(str, d.position)) + "]" for d in result.diffs)
    return "wrong"


def check_json(problem: str, tolerance: Tolerance, reports: list[FileReport],
               reveal: bool, exact: bool = False) -> dict[str, Any]:
    """The `check --json` object: the tolerance used, then per file per key the grade.

    exact: the problem was solved in exact arithmetic; each key then also has its values as
    fraction strings.
    """
    files = []
    for report in reports:
        item: dict[str, Any] = {"file": report.source, "usable": report.usable}
        if report.error:
            item["error"] = report.error
        item.update(score=report.score, max_score=report.max_score, right=report.right,
                    total=len(report.keys),
                    keys=[_key_json(k, reveal, exact) for k in report.keys])
        files.append(item)
    # score and max_score: the totals over every file (one student's when there is one file)
    return {"problem": problem, "tolerance": tolerance.as_dict(), "reveal": reveal,
            "score": sum(r.score for r in reports),
            "max_score": sum(r.max_score for r in reports), "files": files}


def gradescope_json(report: FileReport, reveal: bool) -> dict[str, Any]:
    """Gradescope's autograder results.json for one submission: score, max_score, and one
    test per graded key (an unusable file is one test worth the points at stake)."""
    tests = []
    if report.error:
        tests.append({"name": "answers file", "score": 0, "max_score": report.possible,
                      "output": report.error})
    for k in report.keys:
        output = "right" if k.right else (k.message if reveal else public_message(k))
        tests.append({"name": k.key, "score": k.earned, "max_score": k.points,
                      "output": output})
    return {"score": report.score, "max_score": report.max_score, "tests": tests}
