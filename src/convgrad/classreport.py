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


# The column of wrong answers that check --carry-forward credited.
CARRIED_FORWARD = "carried_forward"


@dataclass
class Tally:
    """One key or one entry of it over the class. entry: the entry's name as check takes it
    ("dW[1,2]"), None for the key as a whole. graded: the files graded on it; right: those
    that got it right; hints: per hint kind, the wrong answers it explains; missing: the
    files that did not answer it (counted as wrong, and explained by no hint)."""

    key: str
    entry: str | None
    graded: int = 0
    right: int = 0
    hints: Counter[str] = field(default_factory=Counter)
    missing: int = 0

    @property
    def share_right(self) -> float | None:
        """right / graded; None when no file was graded on it."""
        return self.right / self.graded if self.graded else None


@dataclass
class KeyTally(Tally):
    """A key, and its entries when it is a matrix. shape: the result's shape, as solve gives
    it (() for a number or a single entry); entries: one Tally per entry, in row-major order
    (none for a number). shapes: when the files were graded against variants whose results
    for this key differ in shape, each shape (and then no entries); else empty."""

    shape: tuple[int, ...] = ()
    entries: list[Tally] = field(default_factory=list)
    shapes: list[tuple[int, ...]] = field(default_factory=list)


@dataclass
class ClassReport:
    """files: the usable answers files graded; unusable: those that could not be used (not
    counted in any share); hint_kinds: every kind a hint may have, then any other kind seen
    (and carried_forward under --carry-forward); keys: in the order solve gives the results;
    variants: how many variants the files were graded against (0: one problem);
    unusable_files: each unusable file's (path, why), in the order given."""

    files: int
    unusable: int
    keys: list[KeyTally]
    hint_kinds: list[str]
    base: int = 1  # how entries are numbered (the problem's index_base)
    variants: int = 0
    unusable_files: list[tuple[str, str]] = field(default_factory=list)


def class_report(reports: list[FileReport], grader: Grader, reveal: bool = True
                 ) -> ClassReport:
    """Tally the graded keys of `reports` (one per answers file, from `grader`). The keys are
    the graded set (--points, --require) or, without one, every key some file answered: a
    file that did not answer a key counts as wrong on it. reveal=False (--no-reveal) counts
    only the hints the default report may show."""
    return class_report_across([(reports, grader)], reveal, variants=0)


def class_report_across(groups: list[tuple[list[FileReport], Grader]], reveal: bool = True,
                        variants: int | None = None) -> ClassReport:
    """As class_report, over files graded against several problems: each group is the files
    of one variant and its grader. A file counts on the keys its own problem has. A key is
    tallied per entry when every group's result for it has the same shape (and the groups
    number entries alike), else per key only, with its shapes."""
    usable = [(r, g) for reports, g in groups for r in reports if r.usable]
    unusable = [(r.source, _reason(r)) for reports, _ in groups for r in reports
                if not r.usable]
    graders = [g for _, g in groups]
    found: dict[str, dict[int, KeyResult | None]] = {}
    for n, (report, _) in enumerate(usable):
        for result in report.graded:
            found.setdefault(result.key, {})[n] = result
    for key, results in found.items():  # a file that did not answer a key its problem has
        name = (split_key(key) or (key, None))[0]
        for n, (_, grader) in enumerate(usable):
            if name in grader.expected:
                results.setdefault(n, None)
    order = list(dict.fromkeys(k for g in graders for k in g.expected))

    def rank(key: str) -> tuple[int, int, tuple[int, ...]]:
        name, index = split_key(key) or (key, None)
        return (order.index(name) if name in order else len(order), index is not None,
                index or ())

    bases = {g.base for g in graders}
    base = graders[0].base if graders else 1
    keys = []
    for key in sorted(found, key=rank):
        answers = [(found[key][n], usable[n][1]) for n in sorted(found[key])]
        keys.append(_tally_key(key, answers, graders, len(bases) == 1))
    seen = {kind for k in keys for kind in k.hints}
    kinds = list(HINT_KINDS) + sorted(seen - set(HINT_KINDS))
    if not reveal:
        kinds = [k for k in kinds if k == "wrong_shape"]
    # --carry-forward: a wrong answer that follows from the student's own earlier slip is
    # counted as such (the slip is counted at its own key), after the hints' kinds; the column
    # is there whenever the option is, so that the columns are the same from run to run.
    if any(g.carry_forward for g in graders):
        kinds.append(CARRIED_FORWARD)
    for tally in keys:
        for n in sorted(found[tally.key]):
            answer, grader = found[tally.key][n], usable[n][1]
            # A credited answer counts as carried forward even when a hint would also fit it
            # (a dW twice the right one, from a dY twice the right one, is off by a factor):
            # the mistake is the earlier key's, counted there.
            kind = None if answer is None else (
                CARRIED_FORWARD if answer.carried_forward else answer.hint_kind(reveal))
            if answer is None or answer.status == MISSING:
                tally.missing += 1
                for entry in tally.entries:
                    entry.missing += 1
                continue
            if kind is None:
                continue
            tally.hints[kind] += 1
            for entry, position in zip(tally.entries, _positions(tally.shape, grader.base),
                                       strict=True):
                if not _entry_right(answer, position):
                    entry.hints[kind] += 1
    return ClassReport(len(usable), len(unusable), keys, kinds, base,
                       len(groups) if variants is None else variants, unusable)


def _reason(report: FileReport) -> str:
    """Why a file could not be used, on one line, without its own path (the path is beside
    it in the report)."""
    error = " ".join((report.error or "unusable").split())
    if error.startswith(report.source):  # the message names the file already
        error = error[len(report.source):].lstrip(":, ")
    return error


def _tally_key(key: str, answers: list[tuple[KeyResult | None, Grader]],
               graders: list[Grader], same_base: bool) -> KeyTally:
    """answers: each file's result for the key (None: not answered) and its grader."""
    name, index = split_key(key) or (key, None)
    shapes: list[tuple[int, ...]] = []
    if index is None:
        shapes = list(dict.fromkeys(tuple(g.expected[name].shape) for g in graders
                                    if name in g.expected))
    tally = KeyTally(key, None)
    if len(shapes) > 1 or (shapes and shapes[0] and not same_base):
        tally.shapes = shapes  # per key only: the entries are not the same across variants
    elif shapes:
        tally.shape = shapes[0]
    base = graders[0].base
    tally.entries = [Tally(key, key_text(name, p)) for p in _positions(tally.shape, base)]
    for result, grader in answers:
        tally.graded += 1
        if result is not None and result.right:
            tally.right += 1
        for entry, position in zip(tally.entries, _positions(tally.shape, grader.base),
                                   strict=True):
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
                "hints": {kind: tally.hints[kind] for kind in report.hint_kinds},
                "missing": tally.missing}

    def shape(key: KeyTally) -> dict[str, Any]:
        if key.shapes:  # variants whose results differ in shape: per key only
            return {"shape": None, "shapes": [list(s) for s in key.shapes]}
        return {"shape": list(key.shape)}

    return {
        "files": report.files,
        "unusable": report.unusable,
        "unusable_files": [{"file": path, "reason": why} for path, why in report.unusable_files],
        **({"variants": report.variants} if report.variants else {}),
        "hint_kinds": report.hint_kinds,
        "keys": [{"key": k.key, **shape(k), **counts(k),
                  "entries": [{"entry": e.entry, **counts(e)} for e in k.entries]}
                 for k in report.keys],
    }
