"""Variants of a problem for a class (SPEC section 9): `convgrad generate TEMPLATE`.

A template is a problem file in which any value may be a random choice (ranges inclusive):

    {int: [-3, 3]}                                 a whole number
    {fraction: [-2, 2], denominators: [2, 4]}      a fraction p/d in the range, d one of those
    {choice: [...]}                                one of the values (which may be choices too)
    {shape: [4, 4], entries: {int: [-3, 3]}}       a matrix of random entries

and two keys of its own: `graded: [KEY...]` (the keys a student answers; default dY, dW, db,
dX and loss, those the problem has) and `require: [...]`, properties every variant must have
(REQUIREMENTS; `{distinguishes: [KEY...]}` names convention keys).

Each variant is drawn from its own seed (so that one variant can be drawn again alone), the
seeds themselves from the command's seed: one seed, the same variants. A variant that misses
a requirement is drawn again from the next seed, up to MAX_TRIES_PER_VARIANT tries each and
MAX_SECONDS in all; then ProblemError names the requirement missed most often.

No printing here: cli.py reports; `write_variants` writes the files.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from convgrad.errors import ProblemError
from convgrad.numbers import decimal_places

if TYPE_CHECKING:
    from convgrad.grade import Tolerance

DEFAULT_GRADED = ("dY", "dW", "db", "dX", "loss")
REQUIREMENTS = ("integer_results", "max_tie", "relu_kink", "uncovered", "distinct",
                "distinguishes")
RANDOM_KINDS = ("int", "fraction", "choice", "shape")
TEMPLATE_KEYS = ("graded", "require")  # a template's own keys, beside a problem's
MAX_TRIES_PER_VARIANT = 200
MAX_SECONDS = 10.0
MAX_CANDIDATES = 100_000  # the values one random choice may have
# Entries of a template's random matrices ({shape: ...}) in all: a variant of 180,000 is drawn,
# solved and written in about 5 s; one of [1000, 1000, 1000] drew for minutes in gigabytes,
# and two 1000x1000 matrices made a problem.yaml too large to read back.
MAX_DRAWN_ENTRIES = 250_000
# Variants of one generate: every one is kept until all are written (about 2 s and 16 MB of
# folders per 1,000); --count 1000000000 grew in memory for days.
MAX_COUNT = 10_000


@dataclass
class Template:
    """A template read: `data` the problem with its random choices still in it, `lines` the
    line of each path of keys (as reader.load_yaml gives them)."""

    source: str
    data: dict[str, Any]
    lines: dict[tuple, int]
    graded: list[str] | None
    require: list[str]
    distinguishes: list[str]
    random: bool  # any random choice at all


@dataclass
class Variant:
    """One variant: its seed, the text of its three files (problem: the problem as drawn,
    without problem.yaml's comment line), and the conventions its answers depend on, in words
    (render.convention_words)."""

    seed: int
    problem: str
    answers: str
    blank: str
    conventions: str = ""


# --- reading a template ---------------------------------------------------------------------


def read_template(text: str, source: str) -> Template:
    """A template's YAML text -> Template; ProblemError (file, line, key) on a bad one."""
    from convgrad.model import CONVENTION_VALUES
    from convgrad.reader import load_yaml

    data, lines = load_yaml(text, source)
    if not isinstance(data, dict):
        raise ProblemError(f"{source}: a template is a problem file (a mapping of keys such "
                           "as input, kernel, target), with random choices among its values")
    data = dict(data)
    _check_top_keys(data, source, lines)
    graded = data.pop("graded", None)
    if graded is not None and (not isinstance(graded, list) or not graded
                               or not all(isinstance(k, str) for k in graded)):
        raise _error(source, lines, ("graded",), "'graded' must be a list of result keys",
                     "write for example graded: [dW, db, dX]")
    require_given = data.pop("require", [])
    require: list[str] = []
    distinguishes: list[str] = []
    if not isinstance(require_given, list):
        raise _error(source, lines, ("require",), "'require' must be a list",
                     "write for example require: [integer_results, max_tie]")
    for k, item in enumerate(require_given):
        where = ("require", k)
        if isinstance(item, dict) and list(item) == ["distinguishes"]:
            keys = item["distinguishes"]
            keys = [keys] if isinstance(keys, str) else keys
            if not isinstance(keys, list) or not keys:
                raise _error(source, lines, where, "'distinguishes' needs convention keys",
                             "write for example {distinguishes: [max_ties]}")
            for key in keys:
                if not isinstance(key, str) or key not in CONVENTION_VALUES:  # [max_ties]
                    shown = f"'{key}'" if isinstance(key, str) else _shown(key)
                    raise _error(source, lines, where, f"'distinguishes': {shown} is not a "
                                 "convention key", "use one of " + ", ".join(CONVENTION_VALUES))
            distinguishes += [k2 for k2 in keys if k2 not in distinguishes]
            require.append("distinguishes")
        elif isinstance(item, str) and item in REQUIREMENTS and item != "distinguishes":
            require.append(item)
        else:
            shown = f"'{item}'" if isinstance(item, str) else _shown(item)
            raise _error(source, lines, where, f"'require': {shown} is not a requirement",
                         "use integer_results, max_tie, relu_kink, uncovered, distinct or "
                         "{distinguishes: [KEY...]}")
    found = _check_random(data, (), source, lines)
    _check_drawn_entries(data, (), source, lines, 0)
    return Template(source, data, lines, graded, list(dict.fromkeys(require)), distinguishes,
                    found)


def _check_drawn_entries(value: Any, path: tuple, source: str, lines: dict[tuple, int],
                         total: int) -> int:
    """The entries of every {shape: ...} in value added to total (each shape counted, those
    among choices too), checked against MAX_DRAWN_ENTRIES before any is drawn."""
    if isinstance(value, dict) and "shape" in value and _is_random(value):
        total += int(np.prod(value["shape"], dtype=object))
        if total > MAX_DRAWN_ENTRIES:
            raise _error(source, lines, path, f"'shape' {_shown(value['shape'])} brings the "
                         f"template's random entries to {total:,}, more than the "
                         f"{MAX_DRAWN_ENTRIES:,} a variant may draw",
                         "use smaller shapes (a homework's matrices are a few by a few)")
        return total
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        total = _check_drawn_entries(item, (*path, key), source, lines, total)
    return total


def _check_top_keys(data: dict, source: str, lines: dict[tuple, int]) -> None:
    """A key that is neither a problem's nor a template's, at its line in the template (not
    at a line of the variant, where the reader would find it), with a did-you-mean that
    knows graded and require."""
    from convgrad.reader import TOP_KEYS, _suggest

    allowed = (*TOP_KEYS, *TEMPLATE_KEYS)
    for key in data:
        if key not in allowed:
            raise _error(source, lines, (key,), f"'{key}' is not a known key",
                         _suggest(str(key), allowed))


def _error(source: str, lines: dict[tuple, int], path: tuple, what: str, fix: str
           ) -> ProblemError:
    line = _line(lines, path)
    where = f"{source}, line {line}" if line else source
    return ProblemError(f"{where}: {what}; {fix}")


def _line(lines: dict[tuple, int], path: tuple) -> int | None:
    # an entry on the line of the key that holds it has no line of its own: look up its parents
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _is_random(value: Any) -> bool:
    return isinstance(value, dict) and any(kind in value for kind in RANDOM_KINDS)


def _check_random(value: Any, path: tuple, source: str, lines: dict[tuple, int]) -> bool:
    """Every random choice in value well formed (ProblemError otherwise); whether there is
    one at all."""
    if _is_random(value):
        _candidates_or_shape(value, path, source, lines)
        if "choice" in value:
            for k, item in enumerate(value["choice"]):
                _check_random(item, (*path, "choice", k), source, lines)
        return True
    if isinstance(value, dict):
        kind = _mistyped_kind(value)
        if kind is not None:
            raise _unknown_kind(kind, path, source, lines)
        return any([_check_random(v, (*path, k), source, lines) for k, v in value.items()])
    if isinstance(value, list):
        return any([_check_random(v, (*path, k), source, lines) for k, v in enumerate(value)])
    return False


def _known_keys() -> set[str]:
    """Every key a problem's mappings may hold (none of them a random choice)."""
    from convgrad.model import CONVENTION_VALUES
    from convgrad.reader import BATCH_NORM_KEYS, CONV_TRANSPOSE_KEYS, TOP_KEYS

    return {*TOP_KEYS, *CONV_TRANSPOSE_KEYS, *BATCH_NORM_KEYS, *CONVENTION_VALUES, "profile",
            "type", "size", "slope", "over", "weights", "dim", *TEMPLATE_KEYS}


def _mistyped_kind(value: dict) -> str | None:
    """The key of a mapping written as a random choice with a misspelt kind ({integer: [-2,
    2]}, {fractions: [0, 1], denominators: [2]}), else None."""
    import difflib

    own = [key for key in value if key not in ("denominators", "entries")]
    if len(own) != 1 or not isinstance(own[0], str) or not isinstance(value[own[0]], list) \
            or own[0] in _known_keys():
        return None
    return own[0] if difflib.get_close_matches(own[0], RANDOM_KINDS, n=1, cutoff=0.6) \
        else None


def _unknown_kind(kind: str, path: tuple, source: str, lines: dict[tuple, int]
                  ) -> ProblemError:
    from convgrad.reader import _suggest

    return _error(source, lines, path, f"'{kind}' is not a random choice "
                  f"({', '.join(RANDOM_KINDS)})", _suggest(kind, RANDOM_KINDS))


def _shown(value: Any) -> str:
    """A value of the template as it is written there (-2.5, [1, 2], "1/3"), not as Python
    shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else \
            _decimal(value) or f"{value.numerator}/{value.denominator}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    return str(value)


def _candidates_or_shape(spec: dict[str, Any], path: tuple, source: str,
                         lines: dict[tuple, int]) -> list[Any]:
    """The values a scalar random choice may take (in order), checked; for a shape, its
    entries' values."""
    def bad(what: str, fix: str) -> ProblemError:
        return _error(source, lines, path, what, fix)

    kinds = [kind for kind in RANDOM_KINDS if kind in spec]
    allowed = {"int": {"int"}, "fraction": {"fraction", "denominators"}, "choice": {"choice"},
               "shape": {"shape", "entries"}}
    if len(kinds) != 1 or set(spec) - allowed[kinds[0]]:
        raise bad(f"a random choice has one of int, fraction, choice, shape; this one has "
                  f"{', '.join(map(str, spec))}",
                  "write for example {int: [-3, 3]} or {shape: [2, 2], entries: {int: [0, 2]}}")
    kind = kinds[0]
    if kind == "shape":
        shape = spec["shape"]
        if not isinstance(shape, list) or not shape or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1000
                for n in shape):
            raise bad(f"'shape' must be a list of sizes from 1 to 1000, not {_shown(shape)}",
                      "write for example {shape: [4, 4], entries: {int: [-3, 3]}}")
        entries = spec.get("entries")
        if isinstance(entries, dict) and not _is_random(entries) and len(entries) == 1:
            raise _unknown_kind(str(next(iter(entries))), (*path, "entries"), source, lines)
        if not isinstance(entries, dict) or not _is_random(entries) or "shape" in entries:
            raise bad("'shape' needs 'entries', a random choice of a number",
                      "write for example {shape: [4, 4], entries: {int: [-3, 3]}}")
        return _candidates_or_shape(entries, (*path, "entries"), source, lines)
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices:
            raise bad("'choice' must be a list of one or more values",
                      "write for example {choice: [1, 2]}")
        return list(choices)
    bounds = spec[kind]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(
            isinstance(b, (int, Fraction)) and not isinstance(b, bool) for b in bounds)
            and bounds[0] <= bounds[1]):
        raise bad(f"'{kind}' needs [low, high] with low <= high, not {_shown(bounds)}",
                  f"write for example {{{kind}: [-3, 3]}}")
    low, high = bounds
    if kind == "int":
        if not all(isinstance(b, int) for b in bounds):
            raise bad(f"'int' needs whole numbers, not {_shown(bounds)}",
                      "write for example {int: [-3, 3]} or use 'fraction'")
        if high - low >= MAX_CANDIDATES:
            raise bad(f"'int' range {_shown(bounds)} is too wide",
                      f"keep it under {MAX_CANDIDATES} values")
        return list(range(low, high + 1))
    denominators = spec.get("denominators", [1])
    if not (isinstance(denominators, list) and denominators and all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 1000
            for d in denominators)):
        raise bad(f"'denominators' must be a list of whole numbers from 1 to 1000, not "
                  f"{_shown(denominators)}", "write for example denominators: [2, 4]")
    values: set[Fraction] = set()
    for d in denominators:
        first, last = -((-low * d) // 1), (high * d) // 1  # ceil(low*d), floor(high*d)
        if len(values) + last - first >= MAX_CANDIDATES:
            raise bad(f"'fraction' range {_shown(bounds)} has too many values",
                      f"keep it under {MAX_CANDIDATES}")
        values.update(Fraction(p, d) for p in range(int(first), int(last) + 1))
    if not values:
        raise bad(f"'fraction' range {_shown(bounds)} holds no fraction with denominators "
                  f"{_shown(denominators)}", "widen the range or add a denominator")
    return sorted(values)


# --- drawing a variant ----------------------------------------------------------------------


def draw(template: Template, seed: int) -> dict[str, Any]:
    """The problem of the variant drawn from seed: every random choice made, in the order
    the keys are written."""
    rng = np.random.default_rng(seed)
    return _draw(template.data, (), template, rng)


def _draw(value: Any, path: tuple, template: Template, rng: np.random.Generator) -> Any:
    if _is_random(value):
        values = _candidates_or_shape(value, path, template.source, template.lines)
        if "shape" in value:
            picks = rng.integers(len(values), size=tuple(value["shape"]))
            return np.asarray(values, dtype=object)[picks].tolist()
        pick = values[int(rng.integers(len(values)))]
        if "choice" in value:
            return _draw(pick, (*path, "choice", value["choice"].index(pick)), template, rng)
        return pick
    if isinstance(value, dict):
        return {k: _draw(v, (*path, k), template, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_draw(v, (*path, k), template, rng) for k, v in enumerate(value)]
    return value


def problem_text(data: dict[str, Any], flow: bool | None = None) -> str:
    """A drawn problem as YAML: fractions as decimals where they end (0.25), else "p/q".
    flow False: every key and entry on a line of its own."""
    import yaml

    def fraction(dumper: yaml.SafeDumper, value: Fraction) -> Any:
        if value.denominator == 1:
            return dumper.represent_int(value.numerator)
        text = _decimal(value)
        if text is None:
            return dumper.represent_str(f"{value.numerator}/{value.denominator}")
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)

    Dumper = _dumper()
    Dumper.add_representer(Fraction, fraction)
    return str(yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=flow,
                         allow_unicode=True, width=100))


def _decimal(value: Fraction) -> str | None:
    """A fraction's finite decimal ("-0.25"), or None when it has none."""
    digits = decimal_places(value)
    if digits is None:
        return None
    scaled = abs(value.numerator) * 10 ** digits // value.denominator
    whole, part = divmod(scaled, 10 ** digits)
    return f"{'-' if value < 0 else ''}{whole}.{part:0{digits}d}"


# --- the answer key, and the requirements ---------------------------------------------------


def _leaf(value: Any) -> Any:
    """A number as an answers file writes it: an integer as one, an exact fraction "p/q", a
    float64 as it is."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else \
            f"{value.numerator}/{value.denominator}"
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _leaf(value)


def answer_values(solved: Any) -> dict[str, Any]:
    """Every result check takes ("dW", "conv1.dW", "steps[2].loss"), as plain lists, and the
    conventions they were solved under, as `solve --json` states them (SPEC section 9)."""
    from convgrad.result import Result

    result = Result.from_run(solved)
    values = {key: _plain(value) for key, value in result.by_answer_key().items()}
    values["conventions"] = Result.conventions_json(result["conventions"].items())
    return values


def graded_keys(template: Template, answers: dict[str, Any]) -> list[str]:
    if template.graded is None:
        return [key for key in DEFAULT_GRADED if key in answers]
    from convgrad.reader import _suggest

    results = [key for key in answers if key != "conventions"]  # what a student can answer
    for k, key in enumerate(template.graded):
        if key not in results:
            raise _error(template.source, template.lines, ("graded", k),
                         f"'graded': '{key}' is not a result of this problem",
                         _suggest(_same_but_case(key, results), results))
    return list(template.graded)


def _same_but_case(key: str, results: list[str]) -> str:
    """The result key written as key with other capitals (dw: dW), if one; else key."""
    same = [result for result in results if result.lower() == str(key).lower()]
    return same[0] if len(same) == 1 else key


def _all_integers(value: Any) -> bool:
    if isinstance(value, list):
        return all(_all_integers(v) for v in value)
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _met(solved: Any, requirement: str) -> bool | None:
    """Whether a layer of the run meets `requirement` (max_tie, relu_kink, uncovered: each kind
    says, Layer.meets); None: no layer's kind is about it (no max pooling, ReLU, conv)."""
    found = None
    for layer in solved.passes:
        met = layer.meets(requirement)
        if met is not None:
            found = bool(found) or met
    return found


def _depends(layers: list, key: str) -> bool | None:
    """Whether a value of convention `key` can change a result of these layers (each kind says,
    Layer.depends_on); None: no layer's kind is about the key."""
    found = None
    for layer in layers:
        depends = layer.depends_on(key)
        if depends is not None:
            found = bool(found) or depends
    return found


def _distinguishes(solved: Any, text: str, keys: list[str], graded: list[str]) -> list[str]:
    """The convention keys no other value of which changes a graded result (none: the
    variant meets {distinguishes: keys})."""
    from convgrad.compare import Solver, same_entries, values_of
    from convgrad.model import CONVENTION_VALUES

    solver = Solver(text, "<variant>", solved.exact)
    base = solved.problem.conventions
    mine = values_of(solved)
    unmoved = []
    for key in keys:
        moved = False
        for value in CONVENTION_VALUES[key]:
            if value == getattr(base, key):
                continue
            try:
                theirs = values_of(solver.run(replace(base, **{key: value})))
            except ProblemError:
                continue
            if any(k not in theirs or mine[k].shape != theirs[k].shape
                   or not same_entries(mine[k], theirs[k]).all() for k in graded):
                moved = True
                break
        if not moved:
            unmoved.append(key)
    return unmoved


def missed(template: Template, solved: Any, text: str, answers: dict[str, Any],
           graded: list[str]) -> list[str]:
    """The requirements (but distinct) this variant misses: a name, or "distinguishes KEY"
    for each convention key that it does not distinguish."""
    out = []
    for name in template.require:
        if name == "integer_results":
            if not all(_all_integers(v) for key, v in answers.items() if key != "conventions"):
                out.append(name)
        elif name in ("max_tie", "relu_kink", "uncovered"):
            if not _met(solved, name):
                out.append(name)
        elif name == "distinguishes":
            out += [f"distinguishes {key}" for key in _distinguishes(
                solved, text, template.distinguishes, graded)]
    return out


# --- requirements that cannot be met by construction ----------------------------------------

# Skeletons: the template's variants by the choices that may change its layers (every
# {choice} and every range at a key such as stride or padding), a matrix's entries and other
# ranges drawn once. At most MAX_SKELETONS of them are solved before the drawing; more, and a
# requirement no variant can meet is only found out when the tries run out.
MAX_SKELETONS = 64
STRUCTURE_KEYS = ("stride", "padding", "dilation", "size", "groups", "output_padding",
                  "pool_padding", "slope")


def never(solved: Any, drawn: dict[str, Any], name: str) -> str | None:
    """Why no variant of this one's layers (whatever their entries) can meet the
    requirement `name` ("distinguishes KEY" for one key of distinguishes), or None."""
    layers = list(solved.passes)
    key = name.removeprefix("distinguishes ")
    if name in ("max_tie", "distinguishes max_ties") and _depends(layers, "max_ties") is None:
        return "the problem has no max pooling"
    if name == "relu_kink" and _met(solved, "relu_kink") is None:
        return "the problem has no ReLU"
    if name == "uncovered":
        uncovered = _met(solved, "uncovered")
        if uncovered is None:
            return "the problem has no convolution"
        if uncovered is False:
            return ("every stride the template allows is within the kernel's reach, so the "
                    "windows read every input cell")
        return None
    if name == key:
        return None
    return _irrelevant(key, drawn, layers)


def _irrelevant(key: str, drawn: dict[str, Any], layers: list) -> str | None:
    """Why no value of convention `key` changes a result of these layers, or None."""
    if key == "kink" and not _depends(layers, "kink"):
        return "the problem has no ReLU or leaky ReLU (no kink)"
    if key == "avg_count_padding" and not _depends(layers, "avg_count_padding"):
        return "no average pooling has padding"
    if key == "pool_ceil":
        ceil = _depends(layers, "pool_ceil")
        if ceil is None:
            return "the problem has no pooling"
        if ceil is False:
            return "every pooling's sizes divide evenly (no window is left over)"
    if key == "same_padding" and not _has_same(drawn):
        return "no padding is 'same'"
    if key in ("kernel_layout", "conv") and _depends(layers, key) is None:
        return "the problem has no convolution"
    if key == "kernel_layout" and all(_depth(k) <= 2 for k in _under(drawn, "kernel")):
        return "every kernel is one matrix, without channels"
    if key == "conv" and _depends(layers, "conv") is False:
        return "every kernel is 1x1 (flipping it changes nothing)"
    if key == "layout" and all(_depth(drawn.get(k)) <= 2 for k in (
            "input", "target", "grad_output")) and all(
            _depth(k) <= 2 for k in _under(drawn, "kernel")):
        # channels written nowhere (a kernel with channels makes an output with them)
        return "the input, target and kernels are matrices, without channels"
    if key == "dense_weights" and not _depends(layers, "dense_weights"):
        return "the problem has no dense layer"
    if key == "flatten" and not _depends(layers, "flatten"):
        return "no flatten of more than one channel"
    if key == "index_base":
        return "index_base numbers the entries and changes no value"
    return None


def _has_same(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v == "same" or _has_same(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_same(v) for v in value)
    return False


def _under(value: Any, key: str) -> list[Any]:
    """Every value at `key` in value, at any depth."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == key] + \
            [f for k, v in value.items() if k != key for f in _under(v, key)]
    if isinstance(value, list):
        return [f for v in value for f in _under(v, key)]
    return []


def _depth(value: Any) -> int:
    return 1 + _depth(value[0]) if isinstance(value, list) and value else 0


def _count(value: Any, key: str = "") -> int:
    """How many skeletons value has (capped past MAX_SKELETONS)."""
    if _is_random(value):
        if "choice" in value and isinstance(value["choice"], list):
            return min(sum(_count(v, key) for v in value["choice"]), MAX_SKELETONS + 1)
        if "shape" not in value and key in STRUCTURE_KEYS:
            return min(len(_candidates_or_shape(value, (), "", {})), MAX_SKELETONS + 1)
        return 1
    n = 1
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for k, v in items:
        n = min(n * _count(v, k if isinstance(k, str) else key), MAX_SKELETONS + 1)
    return n


def _skeletons(value: Any, key: str, rng: np.random.Generator) -> list[Any]:
    """Every skeleton of value (see MAX_SKELETONS), as drawn values."""
    import itertools

    if _is_random(value):
        if "choice" in value:
            return [s for v in value["choice"] for s in _skeletons(v, key, rng)]
        if "shape" not in value and key in STRUCTURE_KEYS:
            return _candidates_or_shape(value, (), "", {})
        return [_draw(value, (), _NO_TEMPLATE, rng)]
    if isinstance(value, dict):
        keys = list(value)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(
            *(_skeletons(value[k], k, rng) for k in keys))]
    if isinstance(value, list):
        return [list(combo) for combo in itertools.product(
            *(_skeletons(v, key, rng) for v in value))]
    return [value]


def impossible(template: Template) -> None:
    """ProblemError at once for a requirement that no variant the template allows can meet,
    naming why (a layer it speaks of is missing, or a convention that changes nothing
    here). A template with more skeletons than MAX_SKELETONS: as many variants drawn
    instead, and the message says so."""
    from convgrad.engine import run
    from convgrad.reader import problem_from_text

    names = [name for name in template.require if name in ("max_tie", "relu_kink",
                                                            "uncovered")]
    names += [f"distinguishes {key}" for key in template.distinguishes]
    if not names:
        return
    every = _count(template.data) <= MAX_SKELETONS
    drafts = _skeletons(template.data, "", np.random.default_rng(0)) if every else \
        (draw(template, k) for k in range(MAX_SKELETONS))
    why: dict[str, str | None] = {}
    for drawn in drafts:
        if all(why.get(name, "") is None for name in names):
            break  # each one met by some variant: nothing to say
        try:
            solved = run(problem_from_text(problem_text(drawn), template.source))
        except ProblemError:
            continue  # the drawing says what is wrong with it
        for name in names:
            if why.get(name, "") is not None:  # not yet seen possible
                why[name] = never(solved, drawn, name)
    for name in names:
        if why.get(name):
            tried = "" if every else f" in each of {MAX_SKELETONS} variants drawn"
            raise _cannot(template, name, str(why[name]) + tried)


def _cannot(template: Template, name: str, why: str) -> ProblemError:
    key = name.removeprefix("distinguishes ")
    if key != name:
        return ProblemError(f"{template.source}: require {{distinguishes: [{key}]}} cannot be "
                            f"met: {why}, so {key} cannot change a result; drop {key} from it")
    fix = "give a stride larger than the (dilated) kernel, such as stride 3 with a 2x2 " \
        "kernel, or drop it from require" if name == "uncovered" else "drop it from require"
    return ProblemError(f"{template.source}: require {name} cannot be met: {why}; {fix}")


def _from_variant(template: Template, text: str, source: str, seed: int, message: str
                  ) -> ProblemError:
    """A variant's error said at the template's line of the key it is about (the variant's
    lines are no file the teacher has), naming the variant's seed when a random choice
    under that key may have caused it."""
    import re

    from convgrad.reader import load_yaml

    match = re.match(re.escape(source) + r"(?:, line (\d+)(?:, column \d+)?)?: (.*)\Z", message,
                     re.DOTALL)
    if match is None:
        return ProblemError(f"a variant of the template is not a usable problem: {message}")
    what, path = match.group(2), ()
    if match.group(1):
        line = int(match.group(1))
        at = [p for p, n in load_yaml(text, source)[1].items() if n == line]
        path = max(at, key=len) if at else ()
    line_of = _line(template.lines, path) if path else None
    where = f"{template.source}, line {line_of}" if line_of else template.source
    drawn = "" if path and not _random_under(template.data, path) else \
        f" (in the variant drawn from seed {seed})"
    return ProblemError(f"{where}: {what}{drawn}")


def _random_under(value: Any, path: tuple) -> bool:
    """Whether a random choice is on path in the template, or anywhere under its end."""
    for step in path:
        if _is_random(value):
            return True
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return True  # the variant's shape is not the template's: drawn
    return _contains_random(value)


def _contains_random(value: Any) -> bool:
    if _is_random(value):
        return True
    if isinstance(value, dict):
        return any(_contains_random(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_random(v) for v in value)
    return False


def _dumper() -> Any:
    """A SafeDumper that writes every value out: a drawn value that repeats (one Fraction
    object picked for several entries) would otherwise become an anchor and aliases
    (&id001 ... *id001), which students read in problem.yaml and in the Moodle question."""
    import yaml

    from convgrad.numbers import FoldedText

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    # A string the template wrote over lines (a long name) is a string: SafeDumper knows
    # str, not its subclasses
    Dumper.add_representer(FoldedText, yaml.SafeDumper.represent_str)
    return Dumper


def _yaml(data: dict[str, Any], flow: bool | None = None) -> str:
    import yaml

    return str(yaml.dump(data, Dumper=_dumper(), sort_keys=False, default_flow_style=flow,
                              allow_unicode=True, width=100))


def make_variant(template: Template, seed: int) -> tuple[Variant, list[str]]:
    """The variant drawn from seed, and the requirements it misses (but distinct)."""
    from convgrad.engine import run
    from convgrad.reader import problem_from_dict, problem_from_text
    from convgrad.render.convention_words import convention_words

    drawn = draw(template, seed)
    if _holds_folded(drawn):
        # A matrix string the template wrote over lines is one row to the reader, which
        # refuses it; problem.yaml writes it on one line, where it would read as a row.
        problem_from_dict(drawn, template.source, template.lines)
    text = problem_text(drawn)
    source = f"{template.source} (variant seed {seed})"
    try:
        solved = run(problem_from_text(text, source))
    except ProblemError as exc:
        # Read again with every key on its own line: the line then says which key it is.
        block, message = problem_text(drawn, flow=False), str(exc)
        try:
            run(problem_from_text(block, source))
        except ProblemError as again:
            message = str(again)
        raise _from_variant(template, block, source, seed, message) from None
    answers = answer_values(solved)
    graded = graded_keys(template, answers)
    variant = Variant(seed, text, _yaml(answers), _yaml(dict.fromkeys(graded), flow=False),
                      convention_words(solved.problem))
    return variant, missed(template, solved, text, answers, graded)


def _holds_folded(value: Any) -> bool:
    """Whether a drawn value (a mapping, list or scalar of the template) holds a string the
    template wrote over lines (numbers.FoldedText), anywhere inside it."""
    from convgrad.numbers import FoldedText

    if isinstance(value, dict):
        return any(_holds_folded(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_folded(v) for v in value)
    return isinstance(value, FoldedText)


def generate(template: Template, count: int, seed: int) -> list[Variant]:
    """count variants meeting every requirement, drawn from seed; ProblemError naming the
    requirement met too rarely when the tries (or MAX_SECONDS) run out."""
    return list(iter_variants(template, count, seed))


def iter_variants(template: Template, count: int, seed: int) -> Iterator[Variant]:
    """generate's variants one at a time, in order: the first k of them are the same for any
    use, so that variant k can be drawn without the rest (`variant`). The time limit counts
    only the time spent drawing, not the time a caller waits between two variants."""
    if count < 1:
        raise ProblemError(f"--count must be 1 or more, not {count}")
    if count > MAX_COUNT:
        raise ProblemError(f"--count {count:,} is more than the {MAX_COUNT:,} variants "
                           "generate writes at once; give a smaller count (each student needs "
                           "one variant)")
    if seed < 0:
        raise ProblemError(f"--seed must be a whole number >= 0, not {seed}")
    distinct = "distinct" in template.require
    if distinct and count > 1 and not template.random:
        raise ProblemError(f"{template.source}: require distinct cannot be met: the template "
                           "has no random choice; add one such as {int: [-3, 3]}")
    impossible(template)
    seeds = np.random.default_rng(seed)
    found = 0
    seen: set[str] = set()
    misses: Counter[str] = Counter()
    tries, spent = 0, 0.0
    while found < count:
        if tries >= MAX_TRIES_PER_VARIANT * count or spent > MAX_SECONDS:
            raise _too_rarely(template, misses, tries, found, count)
        tries += 1
        start = time.monotonic()
        made, missing = make_variant(template, int(seeds.integers(2 ** 32)))
        if distinct and made.problem in seen:
            missing.append("distinct")
        spent += time.monotonic() - start
        if missing:
            misses.update(missing)
            continue
        seen.add(made.problem)
        found += 1
        yield made


def _too_rarely(template: Template, misses: Counter[str], tries: int, found: int,
                count: int) -> ProblemError:
    """The requirement missed most often, as the template writes it; for distinguishes, the
    keys no try distinguished (else those missed most)."""
    name, n = misses.most_common(1)[0]
    also = ""
    if name.startswith("distinguishes "):
        keys = [key for key in template.distinguishes
                if misses[f"distinguishes {key}"] == tries] or \
            [key for key in template.distinguishes if misses[f"distinguishes {key}"] == n]
        name = f"{{distinguishes: [{', '.join(keys)}]}}"
        also = f" ({', '.join(keys)} changed no graded result{'' if n < tries else ' in any'})"
    return ProblemError(f"{template.source}: require {name} is met too rarely: {n} of {tries} "
                        f"tries missed it{also} and {found} of {count} variants were found; "
                        "widen the random choices or drop it")


# Variants drawn so far, by (template, seed, count): a question server asks for one variant
# per request, and the ones before it are drawn once per process.
_DRAWN: dict[tuple[str, int, int], tuple[Iterator[Variant], list[Variant]]] = {}
_DRAWN_KEPT = 8


def variant(template: Template, seed: int, count: int, index: int) -> Variant:
    """Variant `index` (0-based: DIR/001 is 0) of `generate --seed seed --count count`: the
    same problem and answer key as that command's folder, drawing only the variants up to it.
    ProblemError as generate's."""
    if not 0 <= index < count:
        raise ProblemError(f"variant {index} is not one of the {count} variants (0 to "
                           f"{count - 1})")
    key = (repr((template.source, template.data, template.graded, template.require,
                 template.distinguishes)), seed, count)
    if key not in _DRAWN:
        if len(_DRAWN) >= _DRAWN_KEPT:
            del _DRAWN[next(iter(_DRAWN))]
        _DRAWN[key] = (iter_variants(template, count, seed), [])
    pending, drawn = _DRAWN[key]
    try:
        while len(drawn) <= index:
            drawn.append(next(pending))
    except ProblemError:
        del _DRAWN[key]  # a generator that raised is finished: the next call starts again
        raise
    return drawn[index]


_NO_TEMPLATE = Template("", {}, {}, None, [], [], False)  # for _draw outside a template


# --- the files ------------------------------------------------------------------------------


def variant_dirs(count: int) -> list[str]:
    """001, 002 ... (at least three digits, more for a count that needs them)."""
    width = max(3, len(str(count)))
    return [f"{k:0{width}d}" for k in range(1, count + 1)]


def problem_file(variant: Variant) -> str:
    """problem.yaml: the conventions its answers depend on as a comment line (which the
    reader ignores), then the problem."""
    if not variant.conventions:
        return variant.problem
    return f"# Conventions: {variant.conventions}\n{variant.problem}"


def manifest_text(seed: int, variants: list[Variant]) -> str:
    doc = {"seed": seed, "count": len(variants),
           "variants": [{"dir": name, "seed": v.seed}
                        for name, v in zip(variant_dirs(len(variants)), variants, strict=True)]}
    return json.dumps(doc, indent=2) + "\n"


def moodle_text(variants: list[Variant], rule: Tolerance | None = None) -> str:
    """DIR/quiz.xml: one Cloze question per variant, named by its folder (SPEC section 9),
    its fields' tolerances check's rule (default: check's default tolerance)."""
    import yaml

    from convgrad.render.moodle import DEFAULT_RULE, quiz_xml

    questions = []
    for name, variant in zip(variant_dirs(len(variants)), variants, strict=True):
        answers = yaml.safe_load(variant.answers)
        graded = list(yaml.safe_load(variant.blank) or {})
        questions.append((name, variant.problem, answers, graded))
    return quiz_xml(questions, rule or DEFAULT_RULE, [v.conventions for v in variants])


def prairielearn_files(template: Template, text: str, seed: int, variants: list[Variant],
                       rule: Tolerance | None = None) -> list[tuple[str, str]]:
    """DIR as one PrairieLearn question (SPEC section 9): (file, text) of info.json,
    question.html, server.py and the template (text, as read) beside them; server.py grades
    by check's rule (default: check's default tolerance)."""
    import yaml

    from convgrad.render.prairielearn import question_files

    name = template.data.get("name")
    title = name if isinstance(name, str) and name.strip() else \
        f"Gradients: {os.path.splitext(os.path.basename(template.source))[0]}"
    keyed = [(yaml.safe_load(v.answers), list(yaml.safe_load(v.blank) or {})) for v in variants]
    return question_files(text, title, seed, keyed, rule)


# What generate writes in DIR: the variant folders (digits) holding only VARIANT_FILES, and
# these files beside them (manifest.json, and each format's own).
VARIANT_FILES = ("problem.yaml", "answers.yaml", "blank.yaml")
OWN_FILES = ("manifest.json", "quiz.xml", "info.json", "question.html", "server.py",
             "template.yaml")


def check_out(out: str) -> None:
    """ProblemError (one line) unless DIR is missing, or holds only what generate writes: a
    class's files beside the variants (answers copied into DIR/007/) are never written over,
    nor left beside a new variant that they do not answer."""
    if not os.path.exists(out):
        return
    if not os.path.isdir(out):
        raise ProblemError(f"--out {out}: is a file; give a folder to write the variants "
                           "into")
    try:
        for entry in sorted(os.scandir(out), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False) and entry.name.isdigit():
                for inner in sorted(os.scandir(entry.path), key=lambda e: e.name):
                    if inner.name not in VARIANT_FILES or \
                            not inner.is_file(follow_symlinks=False):
                        raise _not_ours(out, inner.path, students=True)
            elif entry.name == "__pycache__" and entry.is_dir(follow_symlinks=False):
                continue  # server.py's byte-code, once it was imported (removed below)
            elif entry.name not in OWN_FILES or not entry.is_file(follow_symlinks=False):
                raise _not_ours(out, entry.path, students=False)
    except OSError as exc:
        raise ProblemError(f"--out {out}: cannot read the folder ({exc.strerror or exc})") \
            from None


def _not_ours(out: str, path: str, students: bool) -> ProblemError:
    what = "students' files" if students else "files generate did not write"
    return ProblemError(f"--out {out}: {path} was not written by generate, and generate "
                        f"writes over the folder; give a new --out folder, or move the "
                        f"{what} out of {out} first")


def write_variants(out: str, seed: int, variants: list[Variant],
                   extra: tuple[tuple[str, str], ...] = ()) -> None:
    """DIR/NNN/{problem,answers,blank}.yaml, DIR/manifest.json and each (file, text) of extra
    in DIR (quiz.xml, or the PrairieLearn question's files); ProblemError when they cannot
    be written, or DIR holds files generate did not write (check_out). DIR then holds
    exactly these: the variant folders and files of an earlier run that this one does not
    write are removed, so that nothing stale is left beside the new variants."""
    import shutil

    check_out(out)
    names = variant_dirs(len(variants))
    files = ("manifest.json", *(file for file, _ in extra))
    try:
        if os.path.isdir(out):
            for entry in sorted(os.scandir(out), key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in names:
                        shutil.rmtree(entry.path)
                elif entry.name not in files:
                    os.remove(entry.path)
        # The manifest goes first and is written last: a run that stops partway (a full
        # disk, Ctrl-C) leaves no manifest vouching for an earlier run's seed over variants
        # of two runs, which check DIR would grade (it refuses a folder without one)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(out, "manifest.json"))
        for name, variant in zip(names, variants, strict=True):
            folder = os.path.join(out, name)
            os.makedirs(folder, exist_ok=True)
            for file, text in zip(VARIANT_FILES, (problem_file(variant), variant.answers,
                                                  variant.blank), strict=True):
                with open(os.path.join(folder, file), "w", encoding="utf-8",
                          newline="\n") as stream:
                    stream.write(text)
        for file, text in (*extra, ("manifest.json", manifest_text(seed, variants))):
            with open(os.path.join(out, file), "w", encoding="utf-8",
                      newline="\n") as stream:
                stream.write(text)
    except OSError as exc:
        raise ProblemError(f"--out {out}: cannot write the variants ({exc.strerror or exc})") \
            from None
