"""One problem solved under several conventions (SPEC section 7): what differs, and why.

`compare(text, source, ["pytorch", "textbook"])` solves the problem under each profile (the
file's own convention keys on top of each), then, for every other profile X, changes one
convention key at a time from the first profile's (A's) value to X's and solves again: an entry
that differs between A and X is caused by the keys whose change alone moves it. Where exactly
one of them (or several, each alone) gives X's value, those keys are the cause; otherwise the
keys that move it act together, and when no single key moves it, every key that differs does.

Entries are compared where a result has the same shape under both profiles (a key written
H x W x C under NHWC and C x H x W under NCHW is reported as a shape difference, with the keys
that change the shape), and named as check takes them, in A's index base: `dW[1,2]`,
`conv1.dW[1,1,2,2]`, `steps[2].loss`.

`Solver` is also what check uses for its hints: the same problem text solved under other
conventions, each set of conventions once. No printing here: render/compare.py draws a
Comparison, and `comparison_json` is the object of `compare --json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from convgrad.engine import Run, run
from convgrad.errors import ProblemError
from convgrad.model import CONVENTION_VALUES, PROFILES, Conventions
from convgrad.result import Result, exact_strings, json_number, json_numbers

# Two float64 results are the same number within this (a sum taken in another order).
FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-12


class Solver:
    """One problem's text, solved under any conventions; each set of conventions once.

    exact: as solve's --exact/--float (None: decided by the first solve, then kept, so that
    every result is in the same arithmetic).
    """

    def __init__(self, text: str, source: str, exact: bool | None = None) -> None:
        self.text = text
        self.source = source
        self.exact = exact
        self._runs: dict[tuple, Run] = {}

    def run(self, conventions: str | Conventions | None = None) -> Run:
        """The problem solved under a profile's name (the file's own keys on top), or under
        a Conventions value as it is; None: the file's own conventions. ProblemError when the
        problem is unusable under them."""
        from convgrad.reader import problem_from_text

        if isinstance(conventions, Conventions) and _key(conventions) in self._runs:
            return self._runs[_key(conventions)]
        problem = problem_from_text(self.text, self.source, conventions)
        key = _key(problem.conventions)
        if key not in self._runs:
            self._runs[key] = run(problem, exact=self.exact)
            if self.exact is None:
                self.exact = self._runs[key].exact
        return self._runs[key]


def _key(conventions: Conventions) -> tuple:
    """What decides the numbers: every key but the profile's name."""
    return tuple(conventions.items()[1:])


def values_of(solved: Run) -> dict[str, np.ndarray]:
    """Every value an answer may name ("dW", "conv1.dW", "steps[2].loss"), as arrays."""
    dtype = object if solved.exact else np.float64
    return {key: np.asarray(value, dtype)
            for key, value in Result.from_run(solved).by_answer_key().items()}


def same_entries(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Entry by entry, whether two results of one shape hold the same number (exactly, or
    within FLOAT_RTOL in float64): a bool array of their shape."""
    if a.dtype == object or b.dtype == object:
        return np.asarray(a == b, dtype=bool)
    return np.asarray(np.abs(a - b) <= FLOAT_ATOL + FLOAT_RTOL * np.maximum(np.abs(a), np.abs(b)))


# --- the comparison, as data -----------------------------------------------------------------


@dataclass(frozen=True)
class Cause:
    """Why a result differs under a profile: the convention keys, and whether they act only
    together (no one of them alone gives that profile's value)."""

    keys: tuple[str, ...]
    together: bool = False


@dataclass
class EntryDifference:
    """One entry that differs under some profile. index: in the first profile's index base;
    values: every profile's value (None where that profile's result has another shape);
    causes: for each profile whose value differs from the first's."""

    name: str
    index: tuple[int, ...]
    values: dict[str, Any]
    causes: dict[str, Cause]


@dataclass
class KeyDifference:
    """One result key (dW, conv1.dW) that differs: each profile's shape (None: no such
    result), why a shape differs from the first profile's, and the differing entries."""

    key: str
    shapes: dict[str, tuple[int, ...] | None]
    shape_causes: dict[str, Cause] = field(default_factory=dict)
    entries: list[EntryDifference] = field(default_factory=list)


@dataclass
class Comparison:
    """The problem under each profile. conventions: each profile's, the file's own keys on
    top; changed: per profile after the first, the keys whose values differ from the first's
    (key -> (first's value, its value)); alone: per profile, a key under which, changed alone,
    the problem is unusable (key -> the message)."""

    source: str
    profiles: list[str]
    conventions: dict[str, Conventions]
    exact: bool
    changed: dict[str, dict[str, tuple[Any, Any]]]
    differences: list[KeyDifference]
    same: list[str]
    alone: dict[str, dict[str, str]]

    @property
    def baseline(self) -> str:
        return self.profiles[0]


def parse_profiles(text: str) -> list[str]:
    """--conventions A,B[,C...] -> the profiles' names; ProblemError for fewer than two, an
    unknown name (with a suggestion) or one named twice."""
    import difflib

    names = [name.strip().lower() for name in text.split(",")]
    example = "write for example --conventions pytorch,tensorflow"
    if any(not name for name in names):
        raise ProblemError(f"--conventions '{text}': an empty name between commas; {example}")
    for name in names:
        if name not in PROFILES:
            close = difflib.get_close_matches(name, list(PROFILES), n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else \
                "the profiles are " + ", ".join(PROFILES)
            raise ProblemError(f"--conventions: '{name}' is not a profile; {hint}")
        if names.count(name) > 1:
            raise ProblemError(f"--conventions: '{name}' is named twice; name each profile once")
    if len(names) < 2:
        raise ProblemError(f"--conventions '{text}': compare needs two profiles or more; "
                           f"{example}")
    return names


def compare(text: str, source: str, profiles: list[str], exact: bool | None = None
            ) -> Comparison:
    """The problem (its YAML text) under each profile, and what differs from the first.

    ProblemError, naming the profile, when the problem is unusable under one of them; the
    file's own message alone when it is unusable under every one of them alike.
    """
    solver = Solver(text, source, exact)
    runs: dict[str, Run] = {}
    for name in profiles:
        try:
            runs[name] = solver.run(name)
        except ProblemError as exc:
            if not runs and _alike_under(solver, profiles[1:], str(exc)):
                raise  # a misspelt key, a bad value: no profile is to blame
            raise ProblemError(f"under the {name} profile the problem is unusable: {exc}") \
                from None
    values = {name: values_of(solved) for name, solved in runs.items()}
    conventions = {name: solved.problem.conventions for name, solved in runs.items()}
    first = profiles[0]
    base = conventions[first]
    changed: dict[str, dict[str, tuple[Any, Any]]] = {}
    alone: dict[str, dict[str, str]] = {}
    variants: dict[str, dict[str, dict[str, np.ndarray] | None]] = {}
    for name in profiles[1:]:
        changed[name] = {key: (getattr(base, key), getattr(conventions[name], key))
                         for key in CONVENTION_VALUES
                         if getattr(base, key) != getattr(conventions[name], key)}
        alone[name], variants[name] = {}, {}
        for key, (_, value) in changed[name].items():
            try:
                variants[name][key] = values_of(solver.run(replace(base, **{key: value})))
            except ProblemError as exc:
                alone[name][key] = str(exc)
                variants[name][key] = None
    differences, same = [], []
    names = list(values[first]) + [key for name in profiles[1:] for key in values[name]
                                   if key not in values[first]]
    for key in dict.fromkeys(names):
        found = key_difference(key, profiles, values, variants, changed, base.index_base)
        if found is None:
            same.append(key)
        else:
            differences.append(found)
    return Comparison(source, list(profiles), conventions, bool(solver.exact), changed,
                      differences, same, alone)


def _alike_under(solver: Solver, profiles: list[str], message: str) -> bool:
    """Whether the problem is unusable under each of `profiles` with the same message."""
    for name in profiles:
        try:
            solver.run(name)
        except ProblemError as exc:
            if str(exc) != message:
                return False
        else:
            return False
    return True


def _shape(value: np.ndarray | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(value.shape)


def key_difference(key: str, profiles: list[str], values: dict[str, dict[str, np.ndarray]],
                    variants: dict[str, dict[str, dict[str, np.ndarray] | None]],
                    changed: dict[str, dict[str, tuple[Any, Any]]], base: int
                    ) -> KeyDifference | None:
    """How result `key` differs from the first profile's under the others; None: it does not.
    """
    first = profiles[0]
    a = values[first].get(key)
    shapes = {name: _shape(values[name].get(key)) for name in profiles}
    found = KeyDifference(key, shapes)
    # per entry (0-based), per profile: its cause
    causes: dict[tuple[int, ...], dict[str, Cause]] = {}
    for name in profiles[1:]:
        x = values[name].get(key)
        tried = {k: (None if v is None else v.get(key)) for k, v in variants[name].items()}
        if shapes[name] != shapes[first]:
            reshaped = tuple(k for k, v in tried.items()
                             if variants[name][k] is not None and _shape(v) != shapes[first])
            found.shape_causes[name] = _cause(
                reshaped, tuple(k for k in reshaped if _shape(tried[k]) == shapes[name]),
                tuple(changed[name]))
            continue
        if a is None or x is None:
            continue
        differ = ~same_entries(a, x)
        if not differ.any():
            continue
        # per key changed alone: the entries it moves, and those where it gives X's value
        moved = {k: (~same_entries(v, a), same_entries(v, x)) for k, v in tried.items()
                 if v is not None and v.shape == a.shape}
        at = np.argwhere(differ) if a.ndim else np.zeros((1, 0), dtype=int)
        for row in at:
            index = tuple(int(i) for i in row)
            movers = tuple(k for k, (moves, _) in moved.items() if moves[index])
            gives = tuple(k for k in movers if moved[k][1][index])
            causes.setdefault(index, {})[name] = _cause(movers, gives, tuple(changed[name]))
    if not causes and not found.shape_causes:
        return None
    for index in sorted(causes):
        shown = tuple(i + base for i in index)
        name = key if not index else f"{key}[{','.join(map(str, shown))}]"
        entry_values = {p: (None if shapes[p] != shapes[first] or values[p].get(key) is None
                            else values[p][key][index]) for p in profiles}
        found.entries.append(EntryDifference(name, shown, entry_values, causes[index]))
    return found


def _cause(movers: tuple[str, ...], gives: tuple[str, ...], changed: tuple[str, ...]) -> Cause:
    """The keys that give the other profile's value alone, else those that move the entry
    (together), else every changed key (together)."""
    if gives:
        return Cause(gives)
    if movers:
        return Cause(movers, together=True)
    return Cause(changed, together=True)


# --- compare --json ----------------------------------------------------------------------------


def _convention_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value if isinstance(value, (str, bool)) else json_number(value)


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    """The object of `compare --json` (the README lists every field)."""
    first = comparison.baseline
    results = []
    for diff in comparison.differences:
        item: dict[str, Any] = {
            "key": diff.key,
            "shapes": {p: None if s is None else list(s) for p, s in diff.shapes.items()},
            "shape_causes": {p: _cause_json(c) for p, c in diff.shape_causes.items()},
            "entries": []}
        for entry in diff.entries:
            one: dict[str, Any] = {
                "entry": entry.name, "index": list(entry.index),
                "values": {p: None if v is None else json_numbers(v)
                           for p, v in entry.values.items()}}
            if comparison.exact:
                one["exact"] = {p: None if v is None else exact_strings(v)
                                for p, v in entry.values.items()}
            one["causes"] = {p: _cause_json(c) for p, c in entry.causes.items()}
            item["entries"].append(one)
        results.append(item)
    return {
        "problem": comparison.source,
        "profiles": comparison.profiles,
        "baseline": first,
        "exact": comparison.exact,
        "conventions": {p: {key: _convention_json(value) for key, value in c.items()}
                        for p, c in comparison.conventions.items()},
        "changed": {p: {key: [_convention_json(a), _convention_json(b)]
                        for key, (a, b) in keys.items()}
                    for p, keys in comparison.changed.items()},
        "unusable_alone": comparison.alone,
        "same": comparison.same,
        "differences": results,
    }


def _cause_json(cause: Cause) -> dict[str, Any]:
    return {"keys": list(cause.keys), "together": cause.together}
