"""A class report: over every graded answers file, per key and per entry, the share right and
how many wrong answers each hint explains (SPEC section 9, check --class-report). Data only:
render/class_report.py writes it as html, csv or json."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from convgrad.grade import HINT_KINDS, MISSING, KeyResult, key_text, split_key

if TYPE_CHECKING:
    from convgrad.grade import FileReport, Grader


@dataclass
class Tally:
    """One key or one entry of it over the class. entry: the entry's name as check takes it
    ("dW[1,2]"), None for the key as a whole. graded: the files graded on it; right: those
    that got it right; hints: per hint kind, the wrong answers it explains."""

    key: str
    entry: str | None
    graded: int = 0
    right: int = 0
    hints: Counter[str] = field(default_factory=Counter)

    @property
    def share_right(self) -> float | None:
        """right / graded; None when no file was graded on it."""
        return self.right / self.graded if self.graded else None


@dataclass
class KeyTally(Tally):
    """A key, and its entries when it is a matrix. shape: the result's shape, as solve gives
    it (() for a number or a single entry); entries: one Tally per entry, in row-major order
    (none for a number)."""

    shape: tuple[int, ...] = ()
    entries: list[Tally] = field(default_factory=list)


@dataclass
class ClassReport:
    """files: the usable answers files graded; unusable: those that could not be used (not
    counted in any share); hint_kinds: every kind a hint may have, then any other kind seen;
    keys: in the order solve gives the results."""

    files: int
    unusable: int
    keys: list[KeyTally]
    hint_kinds: list[str]
    base: int = 1  # how entries are numbered (the problem's index_base)


def class_report(reports: list[FileReport], grader: Grader, reveal: bool = True
                 ) -> ClassReport:
    """Tally the graded keys of `reports` (one per answers file, from `grader`). The keys are
    the graded set (--points, --require) or, without one, every key some file answered: a
    file that did not answer a key counts as wrong on it. reveal=False (--no-reveal) counts
    only the hints the default report may show."""
    usable = [r for r in reports if r.usable]
    found: dict[str, list[KeyResult | None]] = {}
    for n, report in enumerate(usable):
        for result in report.graded:
            found.setdefault(result.key, [None] * len(usable))[n] = result
    order = list(grader.expected)

    def rank(key: str) -> tuple[int, int, tuple[int, ...]]:
        name, index = split_key(key) or (key, None)
        return (order.index(name) if name in order else len(order), index is not None,
                index or ())

    keys = [_tally_key(key, found[key], grader) for key in sorted(found, key=rank)]
    seen = {kind for k in keys for kind in k.hints}
    kinds = list(HINT_KINDS) + sorted(seen - set(HINT_KINDS))
    if not reveal:
        kinds = [k for k in kinds if k == "wrong_shape"]
    for tally in keys:
        for answer in found[tally.key]:
            kind = None if answer is None else answer.hint_kind(reveal)
            if kind is None or answer is None:
                continue
            tally.hints[kind] += 1
            for entry, position in zip(tally.entries, _positions(tally.shape, grader.base),
                                       strict=True):
                if not _entry_right(answer, position):
                    entry.hints[kind] += 1
    return ClassReport(len(usable), len(reports) - len(usable), keys, kinds, grader.base)


def _tally_key(key: str, results: list[KeyResult | None], grader: Grader) -> KeyTally:
    name, index = split_key(key) or (key, None)
    shape: tuple[int, ...] = ()
    if index is None and name in grader.expected:
        shape = tuple(grader.expected[name].shape)
    tally = KeyTally(key, None, shape=shape)
    positions = _positions(shape, grader.base)
    tally.entries = [Tally(key, key_text(name, p)) for p in positions]
    for result in results:
        tally.graded += 1
        if result is not None and result.right:
            tally.right += 1
        for entry, position in zip(tally.entries, positions, strict=True):
            entry.graded += 1
            if result is not None and _entry_right(result, position):
                entry.right += 1
    return tally


def _positions(shape: tuple[int, ...], base: int) -> list[tuple[int, ...]]:
    """The entries of a result of `shape`, numbered from `base`, row-major; none for a
    number (its key is its only entry)."""
    if not shape:
        return []
    return [tuple(i + base for i in at) for at in np.ndindex(shape)]


def _entry_right(result: KeyResult, position: tuple[int, ...]) -> bool:
    """Whether a file's answer to a matrix key is right at one entry: a missing answer or a
    wrong shape is wrong everywhere."""
    if result.status == MISSING or not result.shape_ok:
        return False
    return all(d.position != position for d in result.diffs)


def report_json(report: ClassReport) -> dict[str, Any]:
    """The class report as the JSON object --class-report FILE.json holds (README)."""

    def counts(tally: Tally) -> dict[str, Any]:
        return {"graded": tally.graded, "right": tally.right,
                "share_right": tally.share_right,
                "hints": {kind: tally.hints[kind] for kind in report.hint_kinds}}

    return {
        "files": report.files,
        "unusable": report.unusable,
        "hint_kinds": report.hint_kinds,
        "keys": [{"key": k.key, "shape": list(k.shape), **counts(k),
                  "entries": [{"entry": e.entry, **counts(e)} for e in k.entries]}
                 for k in report.keys],
    }
