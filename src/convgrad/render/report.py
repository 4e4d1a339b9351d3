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
    lines.append([(f"{len(reports)} files: {right} all right, {len(usable) - right} with "
                   f"wrong answers, {len(reports) - len(usable)} unusable", "dim")])
    return lines


def write_plain(out: Any, lines: list[Line]) -> None:
    out.write("".join("".join(text for text, _ in line) + "\n" for line in lines))


def _points(value: float) -> str:
    return f"{value:g}"
