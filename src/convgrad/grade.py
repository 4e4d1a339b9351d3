"""Grading: a student's answers against the solved problem, with tolerances and hints.

The problem is solved once; each answers file is then parsed and compared key
by key. A wrong shape, a transposed matrix, a sign error or a value off by a
loss-convention factor is a wrong answer with a hint, never a crash; a file
that cannot be read, an unknown key, a non-number or an index outside the
shape makes that file unusable (SPEC section 3).

Scoring (SPEC section 3): --points and --require name the graded set, the same
for every file; without them each file's own keys are graded. A matrix key is
answered by the whole matrix only, and is right or wrong as a whole unless
--partial gives it the share of its entries that are right.
"""

from __future__ import annotations

import copy
import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from convgrad.engine import Run
from convgrad.errors import ProblemError
from convgrad.model import (
    from_written,
    input_axes,
    squeezed,
    to_written,
    written_output,
    written_param,
)
from convgrad.numbers import (
    BadValue,
    Number,
    decimal_places,
    exact_text,
    format_number,
    normalize,
    parse_array,
    shape_text,
)
from convgrad.reader import stated_conventions
from convgrad.result import Result, exact_strings, json_numbers

if TYPE_CHECKING:
    from convgrad.compare import Solver
    from convgrad.layers import Layer
    from convgrad.model import Problem

# Keys that scale with dL/dY, so a loss convention (mean vs sum) changes them by one factor.
GRADIENT_KEYS = ("loss", "dY", "dW", "db", "dX", "dZ", "dA", "d_output")

DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-6


@dataclass(frozen=True)
class Tolerance:
    """When a given number counts as the expected one.

    mode: "tol" (|given - expected| <= atol + rtol*|expected|), "decimals" (both round
    to the same N decimals), "sig_figs" (the same N significant figures), "exact". An
    expected value halfway between two roundings accepts both (half up, half to even).
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

    def surely_different(self, given: np.ndarray, expected: np.ndarray) -> bool:
        """True when, in float64, some entry is clearly not the same: a quick no before
        `same`'s exact, entry-by-entry yes or no. The margins are far wider than float64's
        rounding, so a True is never wrong; False only means: ask `same`."""
        try:
            g = np.asarray(given, dtype=np.float64)
            e = np.asarray(expected, dtype=np.float64)
        except (OverflowError, TypeError, ValueError):
            return False
        if g.shape != e.shape or not (np.isfinite(g).all() and np.isfinite(e).all()):
            return False
        diff, size = np.abs(g - e), np.maximum(np.abs(g), np.abs(e))
        if self.mode == "tol":
            bound = (self.atol + self.rtol * np.abs(e)) * (1 + 1e-6) + 1e-9 * size
        elif self.mode == "exact":
            bound = 1e-9 * size
        elif self.mode == "decimals":
            bound = 2.0 * 10.0 ** -self.digits + 1e-9 * size
        else:  # sig_figs: the unit depends on each expected value; no quick answer
            return False
        return bool((diff > bound).any())

    def same_all(self, given: np.ndarray, expected: np.ndarray,
                 expected_float: np.ndarray | None = None) -> np.ndarray:
        """`same` for every entry at once: given, expected: (...) of one shape -> a bool
        array of that shape, each entry exactly what `same` says of it.

        The tolerance and --exact decide in float64, over the whole array; an entry whose
        float64 difference lies within a few rounding errors of the tolerance's edge (or
        that float64 cannot hold) is decided in exact rationals by `same`, so no answer's
        verdict depends on float64's rounding. expected_float: expected as float64, when
        the caller keeps it (a grader compares every file with the same expected values).
        """
        given, expected = np.asarray(given), np.asarray(expected)
        g, e = given.reshape(-1), expected.reshape(-1)
        if self.mode in ("tol", "exact"):
            gf = _floats(g)
            ef = _floats(e) if expected_float is None else np.reshape(expected_float, -1)
            if gf is not None and ef is not None:
                if self.mode == "tol":
                    right, unsure = self._within(gf, ef)
                else:  # equal values round to equal floats: only those may be equal
                    right, unsure = np.zeros(e.shape, dtype=bool), gf == ef
                if unsure.any():
                    for i in np.flatnonzero(unsure):
                        right[i] = self.same(g[i], e[i])
                return right.reshape(expected.shape)
        return np.fromiter((self.same(a, b) for a, b in zip(g, e, strict=True)), bool,
                           e.size).reshape(expected.shape)

    def same_each(self, pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]
                  ) -> list[np.ndarray]:
        """same_all for each (given, expected, expected_float) of one shape, in one pass
        over all of them together (a file's keys)."""
        if len(pairs) < 2:
            return [self.same_all(*pair) for pair in pairs]
        floats = [pair[2] for pair in pairs]
        right = self.same_all(
            np.concatenate([np.reshape(pair[0], -1) for pair in pairs]),
            np.concatenate([np.reshape(pair[1], -1) for pair in pairs]),
            None if any(f is None for f in floats)
            else np.concatenate([np.reshape(f, -1) for f in floats]))  # type: ignore[arg-type]
        found, start = [], 0
        for _, expected, _ in pairs:
            end = start + np.size(expected)
            found.append(right[start:end].reshape(np.shape(expected)))
            start = end
        return found

    def _within(self, gf: np.ndarray, ef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The tolerance in float64: (surely right, unsure) for each entry of gf, ef: (n,).

        gf and ef are the answers and expected values rounded to float64, each within half
        an ulp (relative error u = 2^-53, or 2^-1075 below the normal range). The computed
        difference is then within about 2u(|g| + |e|) of the true one, and the computed
        bound atol + rtol*|e| within about 3u of its own (plus rtol times the subnormal
        error); the margin is several times both, so an entry outside it is decided as
        the exact comparison would decide it. An entry whose margin is not finite (its
        values near float64's largest) is unsure; where the margin is finite, so are the
        difference and the bound, which are no larger.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            size = np.abs(ef)
            bound = self.atol + self.rtol * size
            diff = np.abs(gf - ef)
            margin = ((np.abs(gf) + size + bound) * (16 * _UNIT_ROUNDOFF)
                      + (2 + self.rtol) * _SUBNORMAL_ERROR)
            finite = np.isfinite(margin)
            right = (diff <= bound - margin) & finite
            wrong = (diff > bound + margin) & finite
        return right, ~(right | wrong)

    # atol and rtol are the decimals they are written as (1e-6 in SPEC, on the command line
    # and in Moodle's fields is 10^-6), not their floats' binary values: the float 1e-6 is a
    # little below 10^-6, and an answer exactly on the written edge (0.000001 for 0) was wrong.
    @functools.cached_property
    def _exact_atol(self) -> Fraction:
        return Fraction(repr(float(self.atol)))

    @functools.cached_property
    def _exact_rtol(self) -> Fraction:
        return Fraction(repr(float(self.rtol)))

    def same(self, given: Number, expected: Number) -> bool:
        # In exact rationals throughout: a float is the binary value it holds, and an
        # answer such as 1e400 is compared, not overflowed.
        g, e = _rational(given), _rational(expected)
        if self.mode == "exact":
            return g == e
        if self.mode == "decimals":
            unit = Fraction(1) / Fraction(10) ** self.digits
        elif self.mode == "sig_figs":
            if e == 0:  # no number but 0 rounds to 0 at N significant figures (0.4 is 0.400)
                return g == 0
            unit = _unit_of_sig_figs(e, self.digits)
        else:
            return abs(g - e) <= self._exact_atol + self._exact_rtol * abs(e)
        rounded = _round_to(g, unit)
        if rounded == _round_to(e, unit):
            return True
        # An expected value exactly halfway between two neighbours (1.075 at 2 decimals):
        # half up (1.08) and half to even (1.07, Python's round) are both common rules, so
        # either neighbour is right.
        if (e / unit).denominator == 2 and rounded in (e - unit / 2, e + unit / 2):
            return True
        # A more precise answer is right when it is the expected value correctly rounded
        # at its own last decimal (0.5835 for 0.583492 at 3 decimals); 26.5 for 23 is not.
        places = _decimal_places(g)
        if places is None:
            return False
        own_unit = Fraction(1) / Fraction(10) ** places
        return own_unit < unit and _round_to(e, own_unit) == g


# float64's unit roundoff (half an ulp of 1), and a bound on the absolute error of rounding
# to float64 below its normal range (half the smallest subnormal is 2^-1075), with room.
_UNIT_ROUNDOFF = 2.0**-53
_SUBNORMAL_ERROR = 2.0**-1070


def _floats(values: np.ndarray) -> np.ndarray | None:
    """values as float64, each correctly rounded (int / int and float(int) round to
    nearest); None when one is beyond float64 (an answer of 1e400)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (OverflowError, TypeError, ValueError):
        return None


def _decimal_places(value: Fraction) -> int | None:
    """How many decimals a number written as a decimal has (None for 1/3)."""
    for places in range(19):
        if (value * 10**places).denominator == 1:
            return places
    return None


def _rational(value: Any) -> Fraction:
    if type(value) is Fraction:  # immutable: no copy needed
        return value
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return Fraction(value)


def _round_to(value: Fraction, unit: Fraction) -> Fraction:
    """value rounded half up (away from zero) to a multiple of unit, exactly."""
    scaled = abs(value) / unit
    rounded = int(scaled) + (1 if scaled - int(scaled) >= Fraction(1, 2) else 0)
    return (rounded if value >= 0 else -rounded) * unit


def _unit_of_sig_figs(value: Fraction, digits: int) -> Fraction:
    """The place value of the `digits`th significant figure of value (1 for value 0, which
    `same` never asks: only 0 has 0's figures)."""
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


@dataclass(frozen=True)
class Hint:
    """What a wrong answer's mistake looks like, as data.

    kind: "wrong_shape", "transposed", "sign", "rotated", "zeros", "convention" (the result
    under another value of a convention key, or another squared-error loss), "profile" (the
    result under another profile), "factor" or "decimals". text: the words after the count
    ("the sign is wrong everywhere"), or the whole message for the shape kinds. public: what
    --no-reveal may say instead (None: nothing; every kind but a wrong shape narrows down or
    gives away the expected value). note: a word for the teacher running convgrad, left out
    of the Gradescope file.
    """

    kind: str
    text: str
    public: str | None = None
    note: str = ""


SHAPE_HINTS = ("wrong_shape", "transposed_shape")
# Every kind a Hint may have, in the order a class report lists them.
HINT_KINDS = ("wrong_shape", "transposed_shape", "transposed", "sign", "rotated", "zeros",
              "convention", "profile", "factor", "decimals")


@dataclass(frozen=True)
class Alternative:
    """An answer a mistake may equal: the result under another convention key's value,
    another profile or another squared-error loss, or the expected value rotated 180 degrees.

    kind and text: the Hint it gives ("{name}" in text is the key's name). answer(name,
    expected, index): its value of result `name` in expected's shape, or None where it has
    none; index: the 0-based entry when one entry is graded, else None.
    """

    kind: str
    text: str
    answer: Callable[[str, np.ndarray, tuple[int, ...] | None], np.ndarray | None]


# What another value of a convention key means, for check's hints (SPEC section 7).
CONVENTION_WORDS: dict[tuple[str, object], str] = {
    ("same_padding", "end"): "the odd extra padding at the bottom/right, as TensorFlow",
    ("same_padding", "start"): "the odd extra padding at the top/left, as ONNX SAME_LOWER",
    ("same_padding", "symmetric"): "the same padding on both sides",
    ("pool_ceil", True): "the pooling output size rounded up, as Caffe",
    ("pool_ceil", False): "the pooling output size rounded down",
    ("avg_count_padding", True): "the average pool counting the padding",
    ("avg_count_padding", False): "the average pool over real cells only, as Keras",
    ("max_ties", "first"): "the first of tied maxima gets the gradient",
    ("max_ties", "last"): "the last of tied maxima gets the gradient",
    ("max_ties", "all"): "the deeplearning.ai course's mask",
    ("max_ties", "split"): "tied maxima share the gradient",
    ("kink", 0): "relu'(0) = 0",
    ("kink", 1): "relu'(0) = 1",
    ("kink", Fraction(1, 2)): "relu'(0) = 1/2",
    ("layout", "NCHW"): "channels first",
    ("layout", "NHWC"): "channels last, as TensorFlow",
    ("kernel_layout", "OIHW"): "kernels written F x C x kh x kw",
    ("kernel_layout", "HWIO"): "kernels written kh x kw x C x F, as TensorFlow",
    ("flatten", "CHW"): "flatten channel by channel",
    ("flatten", "HWC"): "flatten pixel by pixel, as Keras",
    ("dense_weights", "out_in"): "dense weights written out x in, y = W x + b",
    ("dense_weights", "in_out"): "dense weights written in x out, y = x W + b",
    ("conv", "convolution"): "the kernel rotated",
    ("conv", "cross_correlation"): "the kernel not rotated",
}


def kink_meaning(kink: Number, problems: Sequence[Problem]) -> str | None:
    """What the kink convention's value means in problems that have a leaky ReLU, whose
    derivative at 0 is slope + kink*(1 - slope) (SPEC section 7), not the kink itself:
    "leaky_relu'(0) = the slope, 0.1", "leaky_relu'(0) = 1"; with a ReLU too, relu'(0)
    first. None when none of them has a leaky ReLU (relu'(0) = kink says it all)."""
    from convgrad.model import Activation

    slopes: list[Number] = []
    relu = False
    for problem in problems:
        for layer in problem.layers:
            op = layer.op
            if not isinstance(op, Activation):
                continue
            if op.name == "leaky_relu" and all(op.slope != s for s in slopes):
                slopes.append(op.slope)
            relu = relu or op.name == "relu"
    if not slopes:
        return None
    k = _rational(kink)
    if k == 0:
        leaky = ("the slope, " + _number_text(slopes[0]) if len(slopes) == 1
                 else "the layer's slope")
    elif k == 1:
        leaky = "1"
    elif len(slopes) == 1:
        s = _rational(slopes[0])
        leaky = f"{_number_text(s + k * (1 - s))}, between the slope and 1"
    else:
        leaky = f"slope + {exact_text(k)}·(1 - slope), between the slope and 1"
    words = f"leaky_relu'(0) = {leaky}"
    return f"relu'(0) = {exact_text(k)}, {words}" if relu else words


def _number_text(value: Number) -> str:
    """A slope as a problem file would write it: 0.1, not 1/10."""
    if isinstance(value, (float, np.floating)):
        return format_number(value)
    return _comparable_text(_rational(value), beside=False)


PROFILE_WORDS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow and Keras", "caffe": "Caffe",
                 "cs231n": "CS231n's assignment 2", "coursera": "deeplearning.ai's course 4",
                 "textbook": "true convolution, as Goodfellow et al. 9.1"}
# Keys whose other values give no other numbers (index_base) or are not one value to try
# (pool_padding): no hint tries them.
NO_HINT_KEYS = ("pool_padding", "index_base")

# The status of a key in a report.
RIGHT, WRONG, MISSING, NOT_GRADED = "right", "wrong", "missing", "not graded"


@dataclass
class KeyResult:
    """One key of one answers file, graded or not.

    key: as --points and solve name it ("dW", "dW[1,2]", "conv1.db"). given and expected:
    arrays (expected is the whole result for a matrix key, one entry for an entry key);
    given is None when the file does not answer the key. source_key: "dW" when the entry
    dW[1,2] was read from the file's whole dW.
    """

    key: str
    points: float
    status: str = WRONG
    given: Any = None
    expected: Any = None
    diffs: list[EntryDiff] = field(default_factory=list)
    hint: Hint | None = None
    shape_ok: bool = False
    partial: bool = False  # --partial: a right-shaped matrix earns its share of right entries
    line: int | None = None
    source_key: str | None = None
    # --carry-forward: wrong, but what the rules give from the student's own earlier answer
    # (this key), so it earns its points.
    carried_from: str | None = None

    @property
    def carried_forward(self) -> bool:
        return self.carried_from is not None

    @property
    def right(self) -> bool:
        return self.status == RIGHT

    @property
    def graded(self) -> bool:
        return self.status != NOT_GRADED

    @property
    def entries(self) -> int:
        return 0 if self.expected is None else int(np.size(self.expected))

    @property
    def right_entries(self) -> int:
        return self.entries - len(self.diffs) if self.shape_ok else 0

    @property
    def earned(self) -> float:
        if self.status == RIGHT or self.carried_forward:
            return self.points
        if self.partial and self.status == WRONG and self.shape_ok and self.entries > 1:
            return round(self.points * self.right_entries / self.entries, 6)
        return 0.0

    def message(self, reveal: bool = True, teacher: bool = True) -> str:
        """The verdict in words. reveal=False (--no-reveal) keeps only what gives nothing
        away: how many entries differ, and a wrong shape. teacher=False leaves out advice
        for the teacher (the Gradescope file is read by students)."""
        if self.status == RIGHT:
            return ""
        if self.status == MISSING:
            return "missing: no answer given"
        if self.status == NOT_GRADED:
            return "not graded"
        hint = self.hint
        if hint is not None and hint.kind in SHAPE_HINTS:
            return hint.text if reveal else hint.public or "wrong shape"
        count = (f"{len(self.diffs)} of {self.entries} entries differ" if self.entries > 1
                 else "wrong")
        if self.carried_forward:
            count = f"carried forward from your {self.carried_from} (credited): {count}"
        if hint is None or not reveal:
            return count
        note = f" ({hint.note})" if hint.note and teacher else ""
        return f"{count}: {hint.text}{note}"

    def hint_kind(self, reveal: bool = True) -> str | None:
        if self.hint is None:
            return None
        if reveal:
            return self.hint.kind
        return "wrong_shape" if self.hint.kind in SHAPE_HINTS else None

    def detail_lines(self, reveal: bool = True, limit: int = 20) -> list[str]:
        """The given (and, when revealing, expected) values of a wrong answer, one line per
        wrong entry (at most `limit`): the same lines in the text report and the Gradescope
        file, so that --no-reveal shows the same positions as the default."""
        if self.status != WRONG or self.given is None:
            return []
        if not self.diffs or self.diffs[0].position == ():
            text = f"given {value_text(self.given, given=True)}"
            if reveal:
                text += f"; expected {value_text(self.expected)}"
            return [text]
        lines = []
        for d in self.diffs[:limit]:
            where = "[" + ",".join(map(str, d.position)) + "]"
            text = f"{where}  given {value_text(d.given, given=True)}"
            if reveal:
                text += (f"  expected {value_text(d.expected)}"
                         f"  difference {value_text(d.difference)}")
            lines.append(text)
        if len(self.diffs) > limit:
            lines.append(f"... {len(self.diffs) - limit} more wrong entries")
        return lines


@dataclass
class FileReport:
    """One answers file: its keys in report order (graded ones first when --points or
    --require named them), or the error that made it unusable."""

    source: str
    keys: list[KeyResult] = field(default_factory=list)
    error: str | None = None  # set when the file is unusable
    possible: float = 0.0  # the points at stake when the file is unusable (--points, --require)
    unanswered: list[str] = field(default_factory=list)  # top-level result keys not answered
    # The variant (its folder, "007") whose problem the file was graded against, when check
    # was given a folder written by generate.
    variant: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None

    @property
    def graded(self) -> list[KeyResult]:
        return [k for k in self.keys if k.graded]

    @property
    def score(self) -> float:
        return round(sum(k.earned for k in self.graded), 6)

    @property
    def max_score(self) -> float:
        return round(sum(k.points for k in self.graded), 6) if self.usable else self.possible

    @property
    def right(self) -> int:
        return sum(k.right for k in self.graded)

    @property
    def wrong_keys(self) -> list[str]:
        """The graded keys that are not right (missing ones included): exit 1 when any."""
        return [k.key for k in self.graded if not k.right]

    @property
    def missing(self) -> list[str]:
        return [k.key for k in self.keys if k.status == MISSING]

    @property
    def not_graded(self) -> list[str]:
        return [k.key for k in self.keys if not k.graded]

    @property
    def all_right(self) -> bool:
        return self.usable and not self.wrong_keys


# --- keys and the options that name them ------------------------------------------------------

# A key: a name (dW, conv1.dW; a training round's as steps[2].loss, steps[2].conv1.W_new),
# then an entry's 1-based index or nothing.
_KEY = re.compile(r"^\s*((?:steps\s*\[\s*[0-9]+\s*\]\s*\.\s*)?[A-Za-z_][\w.]*?)\s*"
                  r"(?:\[\s*([0-9]+(?:\s*,\s*[0-9]+)*)\s*\])?\s*$")


@functools.lru_cache(maxsize=4096)  # every file of a class names the same keys
def split_key(text: str) -> tuple[str, tuple[int, ...] | None] | None:
    """"dW[1, 2]" -> ("dW", (1, 2)) (1-based); "loss" -> ("loss", None); None if not a key."""
    match = _KEY.match(text)
    if match is None:
        return None
    index = match.group(2)
    name = re.sub(r"\s+", "", match.group(1))  # steps[ 2 ].loss is steps[2].loss
    return name, None if index is None else tuple(int(i) for i in index.split(","))


def _solve_json_answers(data: dict, lines: dict[tuple, int]
                        ) -> tuple[dict, dict[tuple, int]]:
    """An answers mapping with solve --json's structure read as check's keys, so that its
    output is an answers file: each layer's values of `layers` as `conv1.dW`, each round of
    `steps` as `steps[2].loss`, `steps[2].conv1.W_new`, and where `exact` repeats a value, its
    fraction string in place of the JSON number (1/3, not 0.3333333333333333). Any other
    mapping is returned as it is."""
    exact = data.get("exact") if isinstance(data.get("exact"), dict) else None
    if exact is None and not any(isinstance(data.get(key), list) for key in ("layers", "steps")):
        return data, lines
    written = _flat_answers({k: v for k, v in data.items() if k != "exact" or exact is None},
                            (), lines)
    exact_values = _flat_answers(exact, ("exact",), {}) if exact is not None else {}
    flat = {key: exact_values.get(key, (value, line))[0] if key != "conventions" else value
            for key, (value, line) in written.items()}
    out_lines = dict(lines)
    out_lines.update({(key,): line for key, (_, line) in written.items() if line is not None})
    return flat, out_lines


def _flat_answers(mapping: dict, path: tuple, lines: dict[tuple, int]
                  ) -> dict[str, tuple[Any, int | None]]:
    """solve --json's mapping as check's keys: key -> (value, line of the value or of the
    nearest key above it)."""
    flat: dict[str, tuple[Any, int | None]] = {}

    def put(key: str, value: Any, where: tuple) -> None:
        flat[key] = (value, next((lines[where[:k]] for k in range(len(where), 0, -1)
                                  if where[:k] in lines), None))

    def layer_values(prefix: str, layers: Any, where: tuple) -> bool:
        if not (isinstance(layers, list) and all(isinstance(layer, dict) and
                                                 isinstance(layer.get("name"), str)
                                                 for layer in layers)):
            return False  # not solve's list of layers: graded (and refused) as it is
        for k, layer in enumerate(layers):
            for key, value in layer.items():
                if key not in ("name", "type"):
                    put(f"{prefix}{layer['name']}.{key}", value, (*where, k, key))
        return True

    for key, value in mapping.items():
        if key == "layers" and layer_values("", value, (*path, key)):
            continue
        if key == "steps" and isinstance(value, list) and \
                all(isinstance(step, dict) for step in value):
            for k, step in enumerate(value, start=1):
                for name, item in step.items():
                    where = (*path, key, k - 1, name)
                    if not (name == "layers" and layer_values(f"steps[{k}].", item, where)):
                        put(f"steps[{k}].{name}", item, where)
            continue
        put(str(key), value, (*path, key))
    return flat


def key_text(name: str, index: tuple[int, ...] | None) -> str:
    """The one way a key is written in reports: "dW", "dW[1,2]"."""
    return name if index is None else f"{name}[{','.join(map(str, index))}]"


def _items(texts: str | list[str] | None, option: str, example: str) -> list[str]:
    """The comma-separated items of an option given once or more; commas inside [...] belong
    to an entry ("dW[1,2]=1,db=2" is two items)."""
    if texts is None:
        return []
    items: list[str] = []
    for text in [texts] if isinstance(texts, str) else texts:
        if not text.strip():
            raise ProblemError(f"{option} is empty; write for example {option} {example}")
        depth, start = 0, 0
        for i, char in enumerate(text):
            if char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
                if depth < 0:
                    break
            elif char == "," and depth == 0:
                items.append(text[start:i].strip())
                start = i + 1
        if depth != 0:
            raise ProblemError(f"{option}: the brackets in '{text}' do not pair up; an entry is "
                               "written dW[1,2]")
        items.append(text[start:].strip())
        if not all(items):
            raise ProblemError(f"{option}: '{text}' has an empty item between commas; write "
                               f"for example {option} {example}")
    return items


def _option_key(text: str, option: str) -> str:
    parsed = split_key(text)
    if parsed is None:
        raise ProblemError(f"{option}: '{text}' is not a key; write a key as solve --json names "
                           "it (dW, loss, conv1.dW) or one entry, 1-based (dW[1,2])")
    return key_text(*parsed)


def parse_points(texts: str | list[str] | None) -> dict[str, float]:
    """--points dW=2,db=1 (the option may be repeated) -> {"dW": 2.0, "db": 1.0}.

    Keys are written as key_text writes them. A key named twice, negative or non-numeric
    points are errors that name the key and the value; 0 points is allowed.
    """
    example = "dW=2,db=1"
    points: dict[str, float] = {}
    for item in _items(texts, "--points", example):
        written, sep, value = item.partition("=")
        written, value = written.strip(), value.strip()
        if not sep or not written:
            raise ProblemError(f"--points: '{item}' is not KEY=POINTS; write for example "
                               f"--points {example}")
        key = _option_key(written, "--points")
        number = _points_value(key, value)
        if key in points:
            raise ProblemError(f"--points: {key} is named twice ({key}={_number(points[key])} "
                               f"and {key}={value}); name each key once")
        points[key] = number
    return points


def _points_value(key: str, value: str) -> float:
    if not value:
        raise ProblemError(f"--points: {key}= has no points; write for example {key}=2")
    try:
        number = float(value) if value.isascii() else math.nan
    except ValueError:
        number = math.nan
    bare = value.replace("_", "")
    if "_" in value and _points_value_text(bare):
        # Python's float reads 1_0 as 10; every other number option refuses it
        raise ProblemError(f"--points: {key}={value}: '{value}' is not a number: write it "
                           f"without '_', as {bare}")
    if math.isnan(number) or "_" in value:
        raise ProblemError(f"--points: {key}={value}: '{value}' is not a number; points are a "
                           "number >= 0 such as 2 or 0.5")
    if number == 0 and re.search(r"[1-9]", value.lower().partition("e")[0]):
        # 1e-400 is not 0, but a float64 reads it as 0: the key would be graded for nothing
        raise ProblemError(f"--points: {key}={value}: '{value}' is too small for a float64, "
                           "which reads it as 0; give 0 or a larger number such as 0.5")
    if number < 0:
        raise ProblemError(f"--points: {key}={value}: points cannot be negative; give 0 or "
                           "more")
    if math.isinf(number):
        raise ProblemError(f"--points: {key}={value}: points must be a finite number")
    return number


def _points_value_text(text: str) -> bool:
    """Whether `text` is a decimal number as the other number options take it (2, 0.5, 1e-3)."""
    return re.fullmatch(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?",
                        text) is not None


def parse_require(texts: str | list[str] | None) -> list[str]:
    """--require dW,db (the option may be repeated) -> ["dW", "db"]; a key named twice is an
    error."""
    keys: list[str] = []
    for item in _items(texts, "--require", "dW,db,dX"):
        key = _option_key(item, "--require")
        if key in keys:
            raise ProblemError(f"--require: {key} is named twice; name each key once")
        keys.append(key)
    return keys


def _number(value: float) -> int | float:
    """Points for JSON and messages: 2, not 2.0."""
    return int(value) if float(value).is_integer() else value


# --- grading --------------------------------------------------------------------------------


@dataclass
class _Answer:
    """One key of an answers file, read and checked against the problem's keys."""

    key: str  # as key_text writes it
    name: str
    index: tuple[int, ...] | None  # 0-based
    given: np.ndarray
    line: int | None


class Grader:
    """Grades answers files against one solved problem (SPEC section 3, Scoring).

    points and require: from parse_points and parse_require. When either names keys, those
    keys are the graded set: each file is graded on exactly them (a key a file lacks is
    wrong, a key it gives beyond them is not graded), so every file has the same maximum.
    Otherwise each key a file gives is graded, 1 point each. partial: a matrix of the right
    shape earns the share of its entries that are right.
    """

    def __init__(self, solved: Run, tolerance: Tolerance | None = None,
                 points: dict[str, float] | None = None, require: list[str] | None = None,
                 partial: bool = False, solver: Solver | None = None,
                 carry_forward: bool = False) -> None:
        self.solved = solved
        self.carry_forward = carry_forward
        # The problem under other conventions, for hints (None: only the hints that need no
        # other solve); solved only once an answer is wrong.
        self.solver = solver
        self._alternatives: list[Alternative] | None = None
        self._hints: dict[tuple, Hint | None] = {}  # by the wrong answer (see hint)
        self._floats: dict[str, np.ndarray | None] = {}  # expected values in float64, by key
        self.tolerance = tolerance or Tolerance()
        self.partial = partial
        # How single entries are numbered (SPEC section 7's index_base): dW[1,2], or dW[0,1].
        self.base = solved.problem.conventions.index_base
        dtype = object if solved.exact else np.float64
        result = Result.from_run(solved)
        # The values an answer may name ("dW", "conv1.dW"), as solve gives them.
        self.expected: dict[str, np.ndarray] = {
            key: np.asarray(value, dtype) for key, value in result.by_answer_key().items()}
        # The top-level keys of solve --json, for "the file did not answer ...".
        self.top_keys = result.top_keys
        self.graded: dict[str, float] | None = None
        if points or require:
            self.graded = dict(points or {})
            for key in require or []:
                self.graded.setdefault(key, 1.0)
            for option, keys in (("--points", points or {}), ("--require", require or [])):
                for key in keys:
                    self._check_option_key(key, option)

    @property
    def points(self) -> dict[str, float]:
        """The graded set and its points ({} when each file's own keys are graded)."""
        return dict(self.graded or {})

    def _check_option_key(self, key: str, option: str) -> None:
        name, index = split_key(key) or (key, None)
        if name not in self.expected:
            raise ProblemError(f"{option}: '{key}' is not a result of this problem; "
                               + _did_you_mean(name, list(self.expected)))
        if index is not None:
            self._entry(name, index, f"{option}: '{key}'")

    def _entry(self, name: str, index: tuple[int, ...], where: str) -> np.ndarray:
        """The expected value of one entry (index numbered from the index_base, 1 unless the
        conventions say 0), or an error naming `where`."""
        expected = written = self.expected[name]
        if expected.ndim == 0:
            expected = expected.reshape(1)  # db[1] names a scalar db, as db: [9] does
        base = self.base
        if len(index) != expected.ndim or any(not base <= i < n + base for i, n in
                                              zip(index, expected.shape, strict=False)):
            # "one number", "4 numbers": a bare "1" or "4" read as the result's value
            raise ProblemError(f"{where} is outside {name}, which is "
                               f"{_shape_words(written.shape)}; indices are {base}-based, as "
                               "solve prints them" + (" (index_base 0)" if base == 0 else ""))
        return np.asarray(expected[tuple(i - base for i in index)])

    def grade_file(self, path: str) -> FileReport:
        from convgrad import reader

        source = "<stdin>" if path == "-" else path
        try:
            text = reader.read_text(path, answers=True)
            data, lines = reader.load_answers(text, source) if text.strip() else (None, {})
        except ProblemError as exc:
            return self._unusable(source, str(exc))
        # Only a file with non-ASCII text can hold a digit convgrad does not read.
        return self.grade(data, source, lines, scan=not text.isascii())

    def _unusable(self, source: str, error: str) -> FileReport:
        return FileReport(source, error=error, possible=sum(self.points.values()))

    def grade(self, data: Any, source: str = "<answers>",
              lines: dict[tuple, int] | None = None, scan: bool = True) -> FileReport:
        """Grade answers given as plain values (a mapping of keys to values).

        scan: look for digits other than ASCII ones in the values (grade_file skips it for
        ASCII text).
        """
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
        data, lines = _solve_json_answers(data, lines)
        answers: dict[str, _Answer] = {}
        # Keys set to null: not answered (an answer's default is no answer, as a problem
        # key's null is its default; blank.yaml is such a file), by key, with their lines.
        blank: dict[str, int | None] = {}
        written: dict[str, str] = {}
        try:
            for key, value in data.items():
                if key == "conventions":
                    # What `solve --json` (and generate's answers.yaml) states it was solved
                    # under: not a result, but read as a problem file's conventions are, so
                    # that a misspelt key or value is not silently taken for a statement.
                    stated_conventions(value, source, lines)
                    continue
                line = lines.get((key,))
                answer = self._read(str(key), value, source, line, scan)
                name = answer.key if answer else key_text(*self._read_key(str(key), ""))
                if name in written:
                    where = f"{source}, line {line}" if line else source
                    raise ProblemError(f"{where}: '{key}' names the same value as "
                                       f"'{written[name]}'; give it once")
                written[name] = str(key)
                if answer is None:
                    blank[name] = line
                else:
                    answers[name] = answer
        except ProblemError as exc:
            return self._unusable(source, str(exc))
        report = FileReport(source, unanswered=[k for k in self.top_keys
                                                if k not in answers and k not in blank])
        verdicts = self._verdicts(answers)
        if self.graded is None:
            # The file's own keys, in its order; a null one is a key it was asked and left.
            report.keys = [self._grade(answers[key], 1.0, verdicts.get(key)) if key in answers
                           else KeyResult(key, 1.0, MISSING, partial=self.partial,
                                          line=blank[key])
                           for key in written]
        else:
            report.keys = [self._grade_named(key, points, answers, verdicts, blank.get(key))
                           for key, points in self.graded.items()]
            report.keys += [KeyResult(key, 0.0, NOT_GRADED, given=answer.given,
                                      line=answer.line)
                            for key, answer in answers.items() if key not in self.graded]
        if self.carry_forward:
            self._carry_forward(report)
        return report

    def _carry_forward(self, report: FileReport) -> None:
        """Mark each wrong key that equals what the rules give from the file's own
        earlier answer (carried_values) as carried forward."""
        if not any(k.status == WRONG and k.shape_ok for k in report.keys):
            return
        carried = carried_values(self.solved, self._own_values(report))
        for k in report.keys:
            name, index = split_key(k.key) or (k.key, None)
            if k.status != WRONG or not k.shape_ok or name not in carried:
                continue
            source, value = carried[name]
            value = np.asarray(value)
            if index is not None:
                position = tuple(i - self.base for i in index)
                value = np.asarray((value.reshape(1) if value.ndim == 0 else value)[position])
            if self._all_same(np.asarray(k.given).reshape(value.shape), value):
                k.carried_from = source

    def _own_values(self, report: FileReport) -> dict[str, np.ndarray]:
        """The values a file's graded answers give, by key, as written: a whole answer as it
        is; a key graded entry by entry, its expected value with each answered entry put in.
        Only graded answers count: a key that costs nothing when wrong is no source to carry
        forward from (the earlier key must lose its own points)."""
        whole: dict[str, np.ndarray] = {}
        entries: dict[str, list[tuple[tuple[int, ...], Any]]] = {}
        for k in report.graded:
            parsed = split_key(k.key)
            if k.given is None or parsed is None:
                continue
            name, index = parsed
            if index is None:
                whole[name] = k.given
            elif np.size(k.given) == 1 and name in self.expected:
                position = tuple(i - self.base for i in index)
                entries.setdefault(name, []).append((position, np.asarray(k.given).flat[0]))
        for name, answered in entries.items():
            if name in whole:
                continue
            value = np.array(self.expected[name], copy=True)
            flat = value.reshape(1) if value.ndim == 0 else value
            try:
                for position, entry in answered:
                    flat[position] = entry
            except (OverflowError, TypeError, ValueError):  # beyond float64: no source
                continue
            whole[name] = value
        return whole

    def _read_key(self, key: str, where: str) -> tuple[str, tuple[int, ...] | None]:
        """A key of an answers file as (name, 1-based index or None), checked against the
        problem's results and their shapes."""
        parsed = split_key(key)
        if parsed is None or parsed[0] not in self.expected:
            hint = _did_you_mean(parsed[0] if parsed else key, list(self.expected))
            raise ProblemError(f"{where}: '{key}' is not a result of this problem; {hint}")
        name, index = parsed
        if index is not None:
            self._entry(name, index, f"{where}: '{key}'")
        return name, index

    def _read(self, key: str, value: Any, source: str, line: int | None,
              scan: bool) -> _Answer | None:
        """One key and its value; None when the value is null: the key left unanswered
        (a null inside a matrix is no number, and makes the file unusable)."""
        where = f"{source}, line {line}" if line else source
        name, index = self._read_key(key, where)
        if value is None:
            return None
        foreign = _foreign_digit(value) if scan else None
        if foreign is not None:
            path, text, char = foreign
            position = (" entry [" + ",".join(str(i + 1) for i in path) + "]") if path else ""
            what = unicodedata.name(char, f"U+{ord(char):04X}").lower()
            raise ProblemError(f"{where}: '{key}'{position} is '{text}', which holds '{char}' "
                               f"({what}), not a digit; write numbers with the digits 0-9")
        try:
            given = parse_array(value)
        except BadValue as exc:
            # as the problem's reader says it: 'db': 'abc' is not ..., 'dW' entry [2]: ...
            position = (" entry [" + ",".join(str(i + 1) for i in exc.path) + "]: ") \
                if exc.path else ": "
            raise ProblemError(f"{where}: '{key}'{position}{exc}") from None
        except (ValueError, TypeError, ArithmeticError):
            # A value the number reader did not foresee: the file is unusable, never a crash.
            raise ProblemError(f"{where}: '{key}' is not a number or a matrix of numbers; "
                               "write for example 3, -0.5, 1/3 or '1 2; 3 4'") from None
        return _Answer(key_text(name, index), name,
                       None if index is None else tuple(i - self.base for i in index), given,
                       line)

    def _expected_of(self, answer: _Answer) -> np.ndarray:
        expected = self.expected[answer.name]
        if answer.index is None:
            return expected
        return np.asarray((expected.reshape(1) if expected.ndim == 0 else expected)[
            answer.index])

    def _verdicts(self, answers: dict[str, _Answer]) -> dict[str, np.ndarray]:
        """By answer key, which entries are right, for every answer of the expected shape:
        one float64 pass over the whole file (Tolerance.same_each), not one per key."""
        keys, pairs = [], []
        for answer in answers.values():
            expected = self._expected_of(answer)
            if _same_shape(answer.given.shape, expected.shape):
                keys.append(answer.key)
                pairs.append((answer.given.reshape(expected.shape), expected,
                              self._expected_float(answer.name, answer.index)))
        return dict(zip(keys, self.tolerance.same_each(pairs), strict=True))

    def _grade(self, answer: _Answer, points: float, right: np.ndarray | None = None
               ) -> KeyResult:
        """right: which entries are right, when already decided (_verdicts)."""
        result = KeyResult(answer.key, points, given=answer.given,
                           expected=self._expected_of(answer), partial=self.partial,
                           line=answer.line)
        self.compare(result, answer.name, answer.index, right)
        return result

    def _grade_named(self, key: str, points: float, answers: dict[str, _Answer],
                     verdicts: dict[str, np.ndarray] | None = None,
                     line: int | None = None) -> KeyResult:
        """A key of the graded set: the file's own answer to it; for an entry without one,
        the entry of the file's whole matrix; else missing (line: where the file set it
        to null, if it did). An entry never answers the whole matrix."""
        if key in answers:
            return self._grade(answers[key], points, (verdicts or {}).get(key))
        name, index = split_key(key) or (key, None)
        if index is None or name not in answers:
            return KeyResult(key, points, MISSING, partial=self.partial, line=line)
        whole = answers[name]
        expected = self.expected[name]
        if expected.ndim == 0:
            expected = expected.reshape(1)
        if squeezed(whole.given.shape) != squeezed(expected.shape):
            words = (f"wrong shape: {name} is {_shape_words(expected.shape)}, the answer is "
                     f"{_shape_words(whole.given.shape)}, so it has no entry "
                     f"[{','.join(map(str, index))}]")
            return KeyResult(key, points, WRONG, expected=self._entry(name, index, key),
                             hint=Hint("wrong_shape", words, words), partial=self.partial,
                             line=whole.line, source_key=name)
        position = tuple(i - self.base for i in index)
        result = KeyResult(key, points, given=np.asarray(whole.given.reshape(expected.shape)[
            position]), expected=np.asarray(expected[position]), partial=self.partial,
            line=whole.line, source_key=name)
        self.compare(result, name, position)
        return result

    def compare(self, result: KeyResult, name: str, index: tuple[int, ...] | None = None,
                right: np.ndarray | None = None) -> None:
        """Grade result.given against result.expected (result `name`, or its entry `index`,
        0-based): right, or wrong with the entries that differ and a hint. right: which
        entries are right, when already decided (in expected's shape)."""
        given, expected = result.given, result.expected
        if not _same_shape(given.shape, expected.shape):
            g2, e2 = np.squeeze(given), np.squeeze(expected)
            shape = (f"wrong shape: {name} is {_shape_words(expected.shape)}, the answer is "
                     f"{_shape_words(given.shape)}")
            if g2.ndim == 2 and e2.ndim == 2 and g2.T.shape == e2.shape and \
                    self._all_same(g2.T, e2):
                result.hint = Hint("transposed_shape",
                                   f"transposed: {name} is {shape_text(e2.shape)}, the answer "
                                   "is its transpose (rows and columns swapped)", shape)
            else:
                result.hint = Hint("wrong_shape", shape, shape)
            return
        result.shape_ok = True
        g = given.reshape(expected.shape)
        if right is None:
            right = self.tolerance.same_all(g, expected, self._expected_float(name, index))
        wrong: list[tuple[int, ...]] = []
        if not right.all():
            wrong = [tuple(int(i) for i in at) for at in np.argwhere(~right)] if right.ndim \
                else [()]
        for at in wrong:
            result.diffs.append(EntryDiff(tuple(i + self.base for i in at), g[at],
                                          expected[at]))
        if not result.diffs:
            result.status = RIGHT
        else:
            result.hint = self.hint(name, g, expected, index, wrong[0])

    def _expected_float(self, name: str, index: tuple[int, ...] | None) -> np.ndarray | None:
        """Result `name` (or its entry `index`, 0-based) in float64, made once for every
        file; None when float64 cannot hold it."""
        if name not in self._floats:
            self._floats[name] = _floats(self.expected[name])
        found = self._floats[name]
        if found is None or index is None:
            return found
        return np.asarray((found.reshape(1) if found.ndim == 0 else found)[index])

    def _all_same(self, given: np.ndarray, expected: np.ndarray,
                  probe: tuple[int, ...] | None = None) -> bool:
        """Every entry of given is the same as expected's (same shapes). probe: an entry
        to try first, alone (where the answer is wrong, most alternatives differ too)."""
        # Arithmetic on a 0-d object array gives a bare number: make both arrays again.
        given, expected = np.asarray(given), np.asarray(expected)
        if probe is not None and not self.tolerance.same(given[probe], expected[probe]):
            return False
        if self.tolerance.surely_different(given, expected):  # most hints: a quick no
            return False
        return bool(self.tolerance.same_all(given, expected).all())

    def hint(self, name: str, given: np.ndarray, expected: np.ndarray,
             index: tuple[int, ...] | None = None, wrong: tuple[int, ...] | None = None
             ) -> Hint | None:
        """What the mistake looks like: a sign, a transpose, the result under another
        convention, profile or loss, a rotated kernel, zeros, a factor, rounding. The same
        wrong answer (a class often shares its mistakes) is looked into once. wrong: an
        entry (0-based, in expected's shape) where given is not expected's."""
        key = (name, index, given.shape, tuple(str(v) for v in np.asarray(given).flat))
        if key not in self._hints:
            self._hints[key] = self._hint(name, given, expected, index, wrong)
        return self._hints[key]

    def _hint(self, name: str, given: np.ndarray, expected: np.ndarray,
              index: tuple[int, ...] | None, wrong: tuple[int, ...] | None = None
              ) -> Hint | None:
        # The sign: tried at the wrong entry alone first (negating the whole answer costs)
        if (wrong is None or self.tolerance.same(-given[wrong], expected[wrong])) and \
                self._all_same(-given, expected):
            return Hint("sign", "the sign is wrong everywhere")
        # a 1 x n answer (a dense layer's dW with one output) cannot be a transpose of itself
        if expected.ndim == 2 and given.T.shape == expected.shape and \
                self._all_same(given.T, expected):
            return Hint("transposed",
                        f"the answer is the transpose of {name} (rows and columns swapped)")
        for alternative in self.alternatives():
            other = alternative.answer(name, expected, index)
            if other is not None and other.shape == expected.shape and \
                    self._all_same(given, other, wrong):
                return Hint(alternative.kind, alternative.text.replace("{name}", name))
        ratio = _common_ratio(given, expected)
        if ratio == 0:
            return Hint("zeros", "the answer is all zeros")
        if ratio is not None:
            nice = _rational(ratio).limit_denominator(1000)
            close = abs(_rational(ratio) - nice) <= abs(nice) / 10**6
            ratio = nice if close else None  # a factor such as 4 or 1/2 is a clue; 1.00055 is not
        # one factor for every entry is a clue; for one number, not
        if ratio is not None and ratio != 1 and expected.size > 1:
            return Hint("factor", f"off by a factor of {format_number(ratio)}")
        if self.tolerance.mode == "tol":
            # Two numbers that round alike at N decimals are closer than 10^-N: only the
            # decimals below the largest difference need trying.
            gap = _gap_at_most(given, expected)
            for digits in range(8, 0, -1):  # the most decimals it is right to
                if gap(digits) and self._all_same_rounded(given, expected, digits):
                    return Hint("decimals", f"right to {digits} decimal"
                                            f"{'s' if digits > 1 else ''}, not within the "
                                            "tolerance", note=f"--decimals {digits} accepts it")
        return None

    def _all_same_rounded(self, given: np.ndarray, expected: np.ndarray, digits: int) -> bool:
        rounded = Tolerance("decimals", digits=digits)
        return all(rounded.same(np.asarray(given)[i], np.asarray(expected)[i])
                   for i in np.ndindex(np.shape(expected)))

    def alternatives(self) -> list[Alternative]:
        """The answers a mistake may equal, in the order hints try them: each other value of
        each convention key, each other profile (with the problem's own keys on top), the
        expected value rotated 180 degrees, the other squared-error losses. Made on the first
        wrong answer; each other solve when a hint first needs it."""
        if self._alternatives is None:
            self._alternatives = [*self._convention_alternatives(), _ROTATED,
                                  *self._loss_alternatives()]
        return self._alternatives

    def _convention_alternatives(self) -> list[Alternative]:
        from dataclasses import replace

        from convgrad.model import CONVENTION_VALUES, PROFILES

        solver = self.solver
        if solver is None:
            return []
        conventions = self.solved.problem.conventions
        found = []
        for key, choices in CONVENTION_VALUES.items():
            if key in NO_HINT_KEYS:
                continue
            for value in choices:
                if value == getattr(conventions, key):
                    continue
                words = (kink_meaning(value, [self.solved.problem]) if key == "kink"
                         else None) or CONVENTION_WORDS.get((key, value))
                shown = str(value).lower() if isinstance(value, bool) else str(value)
                found.append(Alternative(
                    "convention", f"matches {key}: {shown}" + (f" -- {words}" if words else ""),
                    self._solved_under(solver, replace(conventions, **{key: value}))))
        for profile in PROFILES:
            if profile != conventions.profile:
                found.append(Alternative(
                    "profile", f"matches the {profile} profile -- {PROFILE_WORDS[profile]}",
                    self._solved_under(solver, profile)))
        return found

    def _solved_under(self, solver: Solver, conventions: Any
                      ) -> Callable[[str, np.ndarray, tuple[int, ...] | None], np.ndarray | None]:
        """An Alternative's answer: the problem solved under other conventions (once, when
        first asked; nothing when the problem is unusable under them)."""
        values: list[dict[str, np.ndarray] | None] = []

        def answer(name: str, expected: np.ndarray, index: tuple[int, ...] | None
                   ) -> np.ndarray | None:
            if not values:
                from convgrad.compare import values_of

                try:
                    values.append(values_of(solver.run(conventions)))
                except ProblemError:
                    values.append(None)
            found = None if values[0] is None else values[0].get(name)
            if found is None or index is None:
                return found
            if found.ndim == 0:
                found = found.reshape(1)
            if len(index) != found.ndim or any(i >= n for i, n in zip(index, found.shape,
                                                                      strict=True)):
                return None
            return np.asarray(found[index])

        return answer

    def _loss_alternatives(self) -> list[Alternative]:
        """The gradients under another squared-error loss: the same up to one factor."""
        problem = self.solved.problem
        if problem.loss not in ("mse", "sse", "half_sse"):
            return []
        n = self.solved.y.size
        scale = {"mse": Fraction(1, n), "sse": Fraction(1), "half_sse": Fraction(1, 2)}
        names = {"mse": "mean (mse)", "sse": "sum-loss (sse)", "half_sse": "half-sum (half_sse)"}
        found = []
        for loss, factor in scale.items():
            if loss == problem.loss:
                continue
            ratio = factor / scale[problem.loss]

            def answer(name: str, expected: np.ndarray, index: tuple[int, ...] | None,
                       ratio: Fraction = ratio) -> np.ndarray | None:
                if name.rsplit(".", 1)[-1] not in GRADIENT_KEYS:
                    return None
                if expected.dtype == object:
                    return np.asarray(expected * ratio)
                return np.asarray(expected * float(ratio))

            found.append(Alternative("convention", f"matches the {names[loss]} convention (off "
                                                   f"by a factor of {format_number(ratio)})",
                                     answer))
        return found


# The single form's gradients in the order backward computes them, each the d_out of a pass
# (by the number of passes: conv; conv, activation or pool; conv, activation, pool).
_CHAIN = {1: ("dY",), 2: ("dY", "dZ"), 3: ("dY", "dA", "dZ")}


def _d_output_keys(run: Run, index: int) -> tuple[str, ...]:
    """The answer keys that name pass `index`'s d_out, the one a file may answer it with
    first: dY, dA or dZ in the single form; in a network the layer's d_output, and dY too
    for the last layer (SPEC section 5: both name the same values)."""
    passes = run.passes
    if run.problem.single:
        return (_CHAIN[len(passes)][len(passes) - 1 - index],)
    own = f"{passes[index].layer.name}.d_output"
    return (own, "dY") if index == len(passes) - 1 else (own,)


def _param_key(run: Run, index: int, key: str) -> str:
    """A parameter's result key as answers name it: dW in the single form, conv1.dW in a
    network (key: dW, W_new, dgamma ...)."""
    return key if run.problem.single else f"{run.passes[index].layer.name}.{key}"


def _own_answer(given: dict[str, np.ndarray], keys: tuple[str, ...],
                shape: tuple[int, ...]) -> tuple[str, np.ndarray] | None:
    """The first of `keys` the file answers with a value of `shape` (up to length-1 axes):
    (key, value as written); None when there is none."""
    for key in keys:
        answer = given.get(key)
        if answer is not None and squeezed(answer.shape) == squeezed(shape):
            return key, answer
    return None


def _in_run(value: np.ndarray, dtype: Any) -> np.ndarray | None:
    """An answer in the run's arithmetic (None when float64 cannot hold it, 1e400)."""
    try:
        return np.asarray(value, dtype)
    except (OverflowError, TypeError, ValueError):
        return None


def carried_values(run: Run, given: dict[str, np.ndarray]) -> dict[str, tuple[str, Any]]:
    """What the rules give from a student's own answers (SPEC section 9, --carry-forward):
    by key, the student's key it comes from and the value, written as solve writes it.

    Backward runs layer by layer, last first, on copies of the run's passes (the run is
    left as it was), each on the student's latest earlier gradient: their dY (or the last
    layer's d_output), then each d_output they give (dA, dZ in the single form) in place of
    the one the layer after made. So a slip in a late layer's gradient carries through the
    d_output, dW and db (dgamma, dbeta) of every earlier layer and on to dX. With a learning
    rate, W_new and b_new follow from the student's own dW and db where given (else from the
    carried ones). Keys: dZ, dA, dW, db, W_new, b_new, dX; conv1.d_output, conv1.dW ... in
    a network; never dY, Y, loss or a training round's (steps[2]...), which backward does
    not make.

    given: the student's answers by key, as written (whole values; a key missing or of
    another shape is not a source). A value that float64 cannot hold (inf, nan) is left
    out.
    """
    problem = run.problem
    if run.dy is None or any(step.d_out is None for step in run.passes):
        return {}
    dtype = object if run.exact else np.float64
    out: dict[str, tuple[str, Any]] = {}

    def put(key: str, source: str, value: np.ndarray) -> None:
        if run.exact or np.isfinite(np.asarray(value, np.float64)).all():
            out[key] = (source, value)

    d: np.ndarray | None = None
    source = ""
    with np.errstate(all="ignore"):
        for index in reversed(range(len(run.passes))):
            original = run.passes[index]
            step = copy.copy(original)
            assert original.d_out is not None
            full = original.d_out.shape
            axes, shape = written_output(problem, full, step.layer.signal)
            keys = _d_output_keys(run, index)
            if d is not None:
                for key in keys:
                    put(key, source, to_written(d, axes, shape))
            own = _own_answer(given, keys, shape)
            value = None if own is None else _in_run(own[1], dtype)
            if own is not None and value is not None:
                d, source = from_written(value, axes, full), own[0]
            if d is None:
                continue
            d = step.backward(d)
            _carried_params(run, index, step, source, given, put)
        if d is not None:
            put("dX", source, to_written(d, input_axes(problem), problem.input_shape))
    return out


def _carried_params(run: Run, index: int, step: Layer, source: str,
                    given: dict[str, np.ndarray],
                    put: Callable[[str, str, np.ndarray], None]) -> None:
    """The parameters' gradients of pass `index` after backward ran on a copy (`step`) from
    the student's `source`, and with a learning rate their updates: p - lr * the student's
    own gradient where given, else p - lr * the carried one."""
    problem = run.problem
    lr = run.learning_rate
    for p in step.params():
        if p.grad is None:  # a layer's backward sets every gradient; nothing to carry without
            continue
        axes, shape = written_param(problem, step.layer.op, p.letter, p.shape,
                                    p.value.shape)
        grad_key = _param_key(run, index, p.grad_key)
        grad = to_written(p.grad, axes, shape)
        put(grad_key, source, grad)
        if lr is None:
            continue
        own = _own_answer(given, (grad_key,), shape)
        value = None if own is None else _in_run(own[1], grad.dtype)
        if value is not None:
            grad, from_key = value.reshape(shape), grad_key
        else:
            from_key = source
        # 0-d arithmetic gives a bare number (a scalar bias): make it an array again
        put(_param_key(run, index, p.new_key), from_key,
            normalize(np.asarray(to_written(p.value, axes, shape) - lr * grad)))


def _rotated(name: str, expected: np.ndarray, index: tuple[int, ...] | None
             ) -> np.ndarray | None:
    return expected[..., ::-1, ::-1] if expected.ndim >= 2 else None


_ROTATED = Alternative("rotated", "the answer is {name} rotated 180 degrees (was the kernel "
                                  "flipped?)", _rotated)


@functools.lru_cache(maxsize=1024)  # a class's files hold the same few shapes
def _same_shape(given: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    """The answer's shape matches: equal after dropping length-1 axes (SPEC section 3)."""
    return squeezed(given) == squeezed(expected)


# What a layer's key may be called after frameworks' names for its kind: 'dense1.dW' (Keras),
# 'linear1.dW' (PyTorch) are fc1.dW; 'conv2d1.db' is conv1.db (SPEC section 5's names).
_LAYER_WORDS = {"dense": "fc", "linear": "fc", "fully_connected": "fc", "fc": "fc",
                "conv2d": "conv", "convolution": "conv", "conv": "conv"}
# A parameter's key, which a network names by its layer ('dW' there is 'conv1.dW', ...).
_PARAM_KEYS = ("dW", "db", "W_new", "b_new")


def _did_you_mean(word: str, choices: list[str]) -> str:
    layer = re.fullmatch(r"([A-Za-z_]+?)(\d*)\.(\w+)", word)
    if layer and layer.group(1).lower() in _LAYER_WORDS:
        named = f"{_LAYER_WORDS[layer.group(1).lower()]}{layer.group(2) or 1}.{layer.group(3)}"
        for choice in choices:
            if choice.lower() == named.lower():
                return f"did you mean '{choice}'?"
    param = next((p for p in _PARAM_KEYS if p.lower() == word.lower()), None)
    if param is not None and param not in choices:
        layers = [c for c in choices if c.endswith("." + param)]
        if layers:  # a network: each layer's parameter has its own key
            names = ", ".join(f"'{c}'" for c in layers)
            return (f"did you mean {names}?" if len(layers) == 1
                    else f"did you mean one of {names} (each layer's own)?")
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


def _gap_at_most(given: np.ndarray, expected: np.ndarray) -> Callable[[int], bool]:
    """A test of digits: may every entry of given be closer than 10^-digits to expected's?
    False only when surely not (decided in float64 with a margin for its rounding, or
    exactly when float64 cannot hold the values); True asks the exact rounding rule."""
    gf, ef = _floats(given), _floats(expected)
    if gf is None or ef is None or gf.size == 0:
        gap = max(abs(_rational(given[i]) - _rational(expected[i]))
                  for i in np.ndindex(expected.shape))
        return lambda digits: gap < Fraction(1, 10**digits)
    with np.errstate(over="ignore", invalid="ignore"):
        slack = 16 * _UNIT_ROUNDOFF * float(np.max(np.abs(gf) + np.abs(ef))) + 2.0**-1000
        low = float(np.max(np.abs(gf - ef))) - slack  # at most the exact largest difference
    if not math.isfinite(low):
        return lambda digits: True
    return lambda digits: low < 10.0**-digits * (1 + 1e-9)


def _common_ratio(given: np.ndarray, expected: np.ndarray) -> Fraction | None:
    """given / expected when it is the same for every entry (zeros must match zeros)."""
    gf, ef = _floats(given), _floats(expected)
    if gf is not None and ef is not None:
        # A quick no: two ratios, each within a few rounding errors in float64 (normal
        # values only), that differ by far more than the exact rule's 10^-9.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            normal = (np.abs(gf) > 2.0**-1000) & (np.abs(ef) > 2.0**-1000)
            ratios = gf[normal] / ef[normal]
            ratios = ratios[np.isfinite(ratios) & (np.abs(ratios) > 2.0**-1000)]
        if ratios.size > 1 and np.ptp(ratios) > 1e-6 * np.max(np.abs(ratios)):
            return None
    ratio: Fraction | None = None
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


def value_text(value: Any, given: bool = False, _alone: bool = True) -> str:
    """A value for a report: a number, or a matrix in the answers file's string form.

    given: a student's answer, whose decimals are shown as decimals (8.99, not 899/100).
    Otherwise (an expected value, a difference) an exact number is shown so that a student
    can hold it against a decimal answer: as its decimal when that ends within
    COMPARABLE_DIGITS significant digits (-0.6125, not -49/80), else as the fraction with
    its decimal rounded beside it ("1/3 (0.333333)"; inside a matrix the fraction alone,
    since the matrix's own separators would blur the brackets). Integers stay integers.
    """
    arr = np.asarray(value)
    if arr.ndim == 0:
        v: Any = arr[()]
        if isinstance(v, float):
            return format_number(v)
        if given:
            decimal = _as_decimal(_rational(v))
            if decimal is not None:
                return decimal
            return exact_text(v)
        return _comparable_text(_rational(v), beside=_alone)
    if arr.ndim == 1:
        return " ".join(value_text(v, given, _alone=False) for v in arr)
    if arr.ndim == 2:
        return "; ".join(value_text(row, given, _alone=False) for row in arr)
    # More axes: a list of matrix strings, as an answers file writes a stack ('["1 2; 3 4",
    # "5 6; 7 8"]'); rows joined across the matrices would read as one taller matrix.
    parts = [value_text(sub, given, _alone=False) for sub in arr]
    return "[" + ", ".join(f'"{p}"' if arr.ndim == 3 else p for p in parts) + "]"


# An expected value's decimal is shown when it ends within this many significant digits.
COMPARABLE_DIGITS = 12


def _comparable_text(value: Fraction, beside: bool = True) -> str:
    """An exact number as a student compares it with a decimal: "-0.6125" for -49/80,
    "1/3 (0.333333)" (beside=False: "1/3"), "23"."""
    if value.denominator == 1:
        return str(value.numerator)
    decimal = _terminating_decimal(value, COMPARABLE_DIGITS)
    if decimal is not None:
        return decimal
    text = exact_text(value)
    if not beside:
        return text
    try:
        rounded = float(value)
    except OverflowError:  # beyond float64: the fraction alone says it
        return text
    return f"{text} ({format_number(rounded)})" if rounded != 0 else text


def _terminating_decimal(value: Fraction, max_digits: int) -> str | None:
    """value's decimal expansion when it ends within max_digits significant digits
    (value not an integer), else None: 49/80 -> "0.6125", 1/3 -> None."""
    # A fraction in lowest terms ends in decimals exactly when its denominator is
    # 2^a 5^b, after max(a, b) places.
    rest, twos, fives = value.denominator, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    places = max(twos, fives)
    if rest != 1 or places > 4 * max_digits:  # 4x: far beyond, without building the digits
        return None
    digits = str(abs(value.numerator * 10**places // value.denominator))
    if len(digits.lstrip("0")) > max_digits:
        return None
    digits = digits.rjust(places + 1, "0")
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def _as_decimal(value: Fraction) -> str | None:
    """The decimal a fraction spells when its denominator is a power of ten's divisor (None
    when it is not): written out to 18 places, in scientific notation past them ("1e-320",
    not a fraction over 10^320)."""
    places = decimal_places(value)
    if places is None:
        return None
    sign = "-" if value < 0 else ""
    if places == 0:  # a whole number: past 18 zeros, as written too ("1e309", not 310 digits)
        whole = str(abs(value.numerator))
        significant = whole.rstrip("0")
        if len(whole) - len(significant) > 18:
            point = "." + significant[1:] if len(significant) > 1 else ""
            return f"{sign}{significant[0]}{point}e{len(whole) - 1}"
    digits = max(places, 1)
    text = str(abs(value.numerator) * (10**digits // value.denominator))  # value * 10^digits
    if digits <= 18:
        text = text.rjust(digits + 1, "0")
        return f"{sign}{text[:-digits]}.{text[-digits:]}".rstrip("0").rstrip(".")
    mantissa = text.rstrip("0")
    point = "." + mantissa[1:] if len(mantissa) > 1 else ""
    return f"{sign}{mantissa[0]}{point}e{len(text) - 1 - digits}"


_FULL_WIDTH_DIGITS = "０１２３４５６７８９"  # read as 0-9 (SPEC section 1)


def _foreign_digit(value: Any, path: tuple[int, ...] = ()
                   ) -> tuple[tuple[int, ...], str, str] | None:
    """The first string in value that holds a digit or numeral other than 0-9 ("2²", "①",
    "٣"): (its position in value, 0-based; the string; the character). None when there is none.
    """
    if isinstance(value, str):
        if not value.isascii():
            for char in value:
                if char.isnumeric() and not char.isascii() and char not in _FULL_WIDTH_DIGITS:
                    return path, value, char
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _foreign_digit(item, (*path, i))
            if found is not None:
                return found
    return None


# --- reports for machines --------------------------------------------------------------------

# Gradescope's results.json: who sees the results, and when.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def _key_json(result: KeyResult, reveal: bool, exact: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"key": result.key, "graded": result.graded,
                            "status": result.status,
                            "right": result.right if result.graded else None,
                            "points": _number(result.points), "earned": _number(result.earned),
                            "given": None if result.given is None else json_numbers(result.given)}
    shown = reveal and result.status in (RIGHT, WRONG) and result.expected is not None
    if shown:
        item["expected"] = json_numbers(result.expected)
    if exact and result.given is not None:  # the same values as fraction strings
        item["exact"] = {"given": exact_strings(result.given)}
        if shown:
            item["exact"]["expected"] = exact_strings(result.expected)
    item["message"] = result.message(reveal)
    item["hint"] = result.hint_kind(reveal)
    if result.status in (RIGHT, WRONG):
        item["entries"] = result.entries
        item["right_entries"] = result.right_entries
    wrong = []
    for diff in result.diffs:
        entry: dict[str, Any] = {"position": list(diff.position),
                                 "given": json_numbers(diff.given)}
        if reveal:
            entry["expected"] = json_numbers(diff.expected)
            entry["difference"] = json_numbers(diff.difference)
        wrong.append(entry)
    item["wrong_entries"] = wrong
    if result.source_key:
        item["from"] = result.source_key
    if result.carried_forward:
        item["carried_forward"] = True
    if result.line:
        item["line"] = result.line
    return item


def check_json(problem: str, tolerance: Tolerance, reports: list[FileReport],
               reveal: bool, exact: bool = False, points: dict[str, float] | None = None,
               partial: bool = False, conventions: list[tuple[str, Any]] | None = None
               ) -> dict[str, Any]:
    """The `check --json` object: the rules used, then per file per key the grade (the
    README lists every field). conventions: those the problem was solved under (SPEC
    section 7), every key as `solve --json` writes them.

    exact: the problem was solved in exact arithmetic; each key then also has its values as
    fraction strings. points: the graded set of --points and --require (None or {}: each
    file's own keys are graded).
    """
    files = []
    for report in reports:
        item: dict[str, Any] = {"file": report.source}
        if report.variant is not None:
            item["variant"] = report.variant
        item["usable"] = report.usable
        if report.error:
            item["error"] = report.error
        item.update(score=_number(report.score), max_score=_number(report.max_score),
                    all_right=report.all_right, right=report.right, total=len(report.graded),
                    keys=[_key_json(k, reveal, exact) for k in report.keys],
                    missing=report.missing, not_graded=report.not_graded,
                    unanswered=report.unanswered)
        files.append(item)
    # score and max_score: the totals over every file (one student's when there is one file)
    return {"problem": problem, "tolerance": tolerance.as_dict(), "reveal": reveal,
            "partial": partial,
            "points": {k: _number(v) for k, v in points.items()} if points else None,
            "score": _number(round(sum(r.score for r in reports), 6)),
            "max_score": _number(round(sum(r.max_score for r in reports), 6)),
            "all_right": all(r.all_right for r in reports), "files": files,
            **({"conventions": Result.conventions_json(conventions)} if conventions else {})}


def gradescope_json(report: FileReport, reveal: bool, visibility: str = "visible",
                    tolerance: Tolerance | None = None,
                    points: dict[str, float] | None = None) -> dict[str, Any]:
    """Gradescope's autograder results.json for one submission: score, max_score, and one
    test per graded key (an unusable file is one test worth the points at stake).

    Every test, and the results as a whole, get `visibility`. A test's output holds what the
    text report says of the key, without advice meant for the teacher; --no-reveal leaves out
    the same things as everywhere else.
    """
    tests = []
    if report.error:
        tests.append({"name": "answers file", "score": 0, "max_score": _number(report.possible),
                      "status": "failed", "output": report.error, "visibility": visibility})
    for k in report.graded:
        lines = [k.message(reveal, teacher=False) or "right", *k.detail_lines(reveal)]
        if k.source_key:
            lines.append(f"(read from the answer to {k.source_key})")
        tests.append({"name": k.key, "score": _number(k.earned),
                      "max_score": _number(k.points),
                      "status": "passed" if k.right else "failed", "output": "\n".join(lines),
                      "visibility": visibility})
    output = [f"Tolerance: {tolerance.describe()}"] if tolerance else []
    if report.not_graded:
        output.append(f"Not graded (this assignment grades {', '.join(points or {})}): "
                      + ", ".join(report.not_graded))
    if not points and report.usable and report.unanswered:
        output.append("Not answered: " + ", ".join(report.unanswered))
    return {"score": _number(report.score), "max_score": _number(report.max_score),
            "visibility": visibility, "output": "\n".join(output), "tests": tests}
