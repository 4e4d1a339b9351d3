"""The text report of `check`, as lines of (text, style) segments. No rich here.

A teacher's shell loop runs check once per student, so its report must not pay
for the terminal library: in a pipe the lines are written as plain text, and
only on a terminal does terminal.py colour them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from convgrad.grade import NOT_GRADED, RIGHT, FileReport, Tolerance, kink_meaning
from convgrad.render.naming import settings
from convgrad.result import RESULT_KEYS

if TYPE_CHECKING:
    from convgrad.model import Problem

Line = list[tuple[str, str]]  # (text, style) segments; style names are rich's


def check_lines(reports: list[FileReport], tolerance: Tolerance, reveal: bool,
                summary_only: bool = False, points: dict[str, float] | None = None,
                partial: bool = False, conventions: list[tuple[str, Any]] | None = None,
                problems: Sequence[Problem] = ()) -> list[Line]:
    """The rules in force, each file's report (unless summary_only), then a summary table
    when there are several files.

    points: the graded set of --points and --require (None or {}: each file's own keys).
    conventions: those the problem was solved under (SPEC section 7), the profile first;
    problems: the problems they were solved for (what the kink means there).
    """
    lines: list[Line] = [[(f"Tolerance: {tolerance.describe()}", "dim")]]
    if conventions:
        lines.append(conventions_line(conventions, problems=problems))
    if points:
        total = sum(points.values())
        lines.append([("Graded: " + ", ".join(f"{key} ({_points(value)})"
                                              for key, value in points.items())
                       + f", {_points(total)} point{'s' if total != 1 else ''} in all; other "
                         "keys are not graded", "dim")])
    if partial:
        lines.append([("Partial credit: a matrix of the right shape earns the share of its "
                       "entries that are right", "dim")])
    if not summary_only:
        for report in reports:
            lines += file_lines(report, reveal, show_unanswered=not points)
    if summary_only or len(reports) > 1:
        lines += summary_lines(reports)
        lines += unanswered_lines(reports, graded_set=bool(points))
    return lines


def conventions_line(conventions: list[tuple[str, Any]], variant: str | None = None,
                     problems: Sequence[Problem] = ()) -> Line:
    """The conventions a problem was solved under, the profile first; `variant` names the
    variant they belong to when the variants of a class differ in them. problems: those
    solved under them; on a leaky ReLU the kink is followed by what it means there
    ("kink 0 (leaky_relu'(0) = the slope, 0.1)"), since "kink 0" alone reads as 0."""
    (_, profile), *keys = conventions
    whose = f"Conventions of variant {variant}" if variant is not None else "Conventions"
    shown = settings(keys)
    for n, (key, value) in enumerate(keys):
        meaning = kink_meaning(value, problems) if key == "kink" else None
        if meaning:
            shown[n] += f" ({meaning})"
    return [(f"{whose} ({profile}): " + ", ".join(shown), "dim")]


def file_lines(report: FileReport, reveal: bool, show_unanswered: bool = True) -> list[Line]:
    """One file's report: its score, then a line per key with the wrong entries below.

    show_unanswered: name the top-level results the file did not answer (when each file's
    own keys are graded, so that a grade says what it covers).
    """
    if not report.usable:
        error = report.error or ""
        if error.startswith(report.source):  # the message names the file already
            error = error[len(report.source):].lstrip(":, ")
        return [[(one_line(report.source), "bold"), *_variant(report), (": ", "bold"),
                 ("unusable: ", "bold red"), (one_line(error), "")]]
    lines: list[Line] = [[(one_line(report.source), "bold"), *_variant(report),
                          (f": {_points(report.score)}/{_points(report.max_score)} points, "
                           f"{report.right} of {len(report.graded)} right", "")]]
    for k in report.keys:
        if k.status == RIGHT:
            mark = ("  ✓ ", "green")
        elif k.status == NOT_GRADED:
            mark = ("  · ", "dim")
        elif k.carried_forward:  # wrong, but its points earned (--carry-forward)
            mark = ("  ↪ ", "yellow")
        else:
            mark = ("  ✗ ", "bold red")
        line: Line = [mark, (k.key, "bold cyan")]
        if 0 < k.earned < k.points:  # --partial
            line.append((f"  ({_points(k.earned)} of {_points(k.points)} points)", ""))
        message = k.message(reveal)
        if message:
            line.append((f"  {message}", "dim" if k.status == NOT_GRADED else ""))
        lines.append(line)
        lines += [[(f"      {text}", "dim" if text.startswith("...") else "")]
                  for text in k.detail_lines(reveal)]
    if show_unanswered and report.unanswered:
        lines.append([("  not answered (not graded): " + ", ".join(report.unanswered), "dim")])
    return lines


def one_line(text: str) -> str:
    """A file's name (or a message naming it) on one line of the report: a new line, carriage
    return or other control character in it as a space, as on standard error. A student's
    file named "ann\\nbob.yaml" broke its row of the table in two."""
    return "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)


def _variant(report: FileReport) -> Line:
    return [] if report.variant is None else [(f" (variant {report.variant})", "")]


def summary_lines(reports: list[FileReport]) -> list[Line]:
    """A table of the files (and their variants, when graded against variants): score,
    right keys, wrong keys; then the counts."""
    variants = any(r.variant is not None for r in reports)
    rows = [("file", *(("variant",) if variants else ()), "score", "right", "wrong keys")]
    for r in reports:
        first = (one_line(r.source), *((r.variant or "-",) if variants else ()))
        if r.usable:
            rows.append((*first, f"{_points(r.score)}/{_points(r.max_score)}",
                         f"{r.right}/{len(r.graded)}", ", ".join(r.wrong_keys) or "-"))
        else:
            rows.append((*first, "-", "-", "unusable: " + one_line(r.error or "")))
    columns = len(rows[0]) - 1  # the last (wrong keys) is not padded
    widths = [max(len(row[k]) for row in rows) for k in range(columns)]
    lines: list[Line] = [[("", "")]]
    for n, row in enumerate(rows):
        text = "  ".join(cell.ljust(widths[k]) for k, cell in enumerate(row[:columns]))
        lines.append([(f"{text}  {row[-1]}", "bold" if n == 0 else "")])
    usable = [r for r in reports if r.usable]
    right = sum(1 for r in usable if r.all_right)
    noun = "file" if len(reports) == 1 else "files"
    lines.append([(f"{len(reports)} {noun}: {right} all right, {len(usable) - right} with "
                   f"wrong answers, {len(reports) - len(usable)} unusable", "dim")])
    return lines


def unanswered_lines(reports: list[FileReport], graded_set: bool) -> list[Line]:
    """A line per key that some usable file did not answer, after the summary's counts:
    "dX: unanswered by 4 of 30" (across variants, which: "(variants 003: 3 of 3, 017: 1 of
    2)"), since the table's "wrong keys" does not tell a key left blank from one got wrong.

    graded_set: --points or --require (or the variants' own graded keys) named the keys;
    then a key counts where it is missing (graded, 0 points). Otherwise a key counts where
    it is null (missing) or where a top-level result was left out, which is not graded:
    "(not graded)" says so when no file that left the key out was graded on it.
    """
    usable = [r for r in reports if r.usable]
    left: dict[str, list[FileReport]] = {}
    graded: set[str] = set()  # keys some file lost points on by leaving them out
    for report in usable:
        for key in report.missing:
            left.setdefault(key, []).append(report)
            graded.add(key)
        if not graded_set:
            for key in report.unanswered:
                left.setdefault(key, []).append(report)
    per_variant: dict[str, int] = {}
    for report in usable:
        if report.variant is not None:
            per_variant[report.variant] = per_variant.get(report.variant, 0) + 1
    # The graded set's order (every file's graded keys come in it), else solve's order of
    # the results; any other key (an entry, a layer's) where first met.
    order = [k.key for k in usable[0].graded] if graded_set and usable else list(RESULT_KEYS)
    first = list(left)
    lines: list[Line] = []
    for key in sorted(left, key=lambda k: (order.index(k) if k in order else len(order),
                                           first.index(k))):
        files = left[key]
        notes = [] if key in graded else ["not graded"]
        where = _variants_of(files, per_variant)
        if where:
            notes.append(where)
        text = f"{key}: unanswered by {len(files)} of {len(usable)}"
        lines.append([(text + (f" ({'; '.join(notes)})" if notes else ""), "")])
    return lines


def _variants_of(files: list[FileReport], per_variant: dict[str, int], shown: int = 8
                 ) -> str:
    """The variants of `files` ("variants 002, 005"), with how many of each variant's files
    when a variant has more than one ("variants 003: 3 of 3, 017: 1 of 2"); "" when the
    files were graded against one problem."""
    counts: dict[str, int] = {}
    for report in files:
        if report.variant is not None:
            counts[report.variant] = counts.get(report.variant, 0) + 1
    if not counts:
        return ""
    names = sorted(counts)
    if any(per_variant[name] > 1 for name in names):
        items = [f"{name}: {counts[name]} of {per_variant[name]}" for name in names]
    else:
        items = names
    return variants_text(items, shown)


def variants_text(items: list[str], shown: int = 8) -> str:
    """Variants by name (or "name: k of n"), up to `shown` of them: "variant 003", "variants
    001, 004", "variants 001, ..., 008 and 2 more"."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ("variant " if len(items) == 1 else "variants ") + ", ".join(items[:shown]) + more


def write_plain(out: Any, lines: list[Line]) -> None:
    out.write("".join("".join(text for text, _ in line) + "\n" for line in lines))


def _points(value: float) -> str:
    return f"{value:g}"
