"""The text report of `check`, as lines of (text, style) segments. No rich here.

A teacher's shell loop runs check once per student, so its report must not pay
for the terminal library: in a pipe the lines are written as plain text, and
only on a terminal does render.py colour them.
"""

from __future__ import annotations

from typing import Any

from convgrad.check import FileReport, Tolerance, public_message, value_text

Line = list[tuple[str, str]]  # (text, style) segments; style names are rich's


def check_lines(reports: list[FileReport], tolerance: Tolerance, reveal: bool,
                summary_only: bool = False) -> list[Line]:
    """Each file's report (unless summary_only), then a summary table when there are several."""
    lines: list[Line] = [[(f"Tolerance: {tolerance.describe()}", "dim")]]
    if not summary_only:
        for report in reports:
            lines += file_lines(report, reveal)
    if summary_only or len(reports) > 1:
        lines += summary_lines(reports)
    return lines


def file_lines(report: FileReport, reveal: bool) -> list[Line]:
    if not report.usable:
        error = report.error or ""
        if error.startswith(report.source):  # the message names the file already
            error = error[len(report.source):].lstrip(":, ")
        return [[(f"{report.source}: ", "bold"), ("unusable: ", "bold red"), (error, "")]]
    lines: list[Line] = [[(report.source, "bold"),
                          (f": {_points(report.score)}/{_points(report.max_score)} points, "
                           f"{report.right} of {len(report.keys)} right", "")]]
    for k in report.keys:
        line: Line = [("  ✓ ", "green") if k.right else ("  ✗ ", "bold red"),
                      (k.key, "bold cyan")]
        message = k.message if reveal else public_message(k)
        if message:
            line.append((f"  {message}", ""))
        lines.append(line)
        if k.right or k.given is None:
            continue
        if not k.diffs or k.diffs[0].position == ():
            text = f"      given {value_text(k.given, given=True)}"
            if reveal:
                text += f"; expected {value_text(k.expected)}"
            lines.append([(text, "")])
            continue
        for d in k.diffs[:20]:
            where = "[" + ",".join(map(str, d.position)) + "]"
            text = f"      {where}  given {value_text(d.given, given=True)}"
            if reveal:
                text += (f"  expected {value_text(d.expected)}"
                         f"  difference {value_text(d.difference)}")
            lines.append([(text, "")])
        if len(k.diffs) > 20:
            lines.append([(f"      ... {len(k.diffs) - 20} more wrong entries", "dim")])
    return lines


def summary_lines(reports: list[FileReport]) -> list[Line]:
    rows = [("file", "score", "right", "wrong keys")]
    for r in reports:
        if r.usable:
            rows.append((r.source, f"{_points(r.score)}/{_points(r.max_score)}",
                         f"{r.right}/{len(r.keys)}", ", ".join(r.wrong_keys) or "-"))
        else:
            rows.append((r.source, "-", "-", "unusable: " + (r.error or "")))
    widths = [max(len(row[k]) for row in rows) for k in range(3)]
    lines: list[Line] = [[("", "")]]
    for n, row in enumerate(rows):
        text = "  ".join(cell.ljust(widths[k]) for k, cell in enumerate(row[:3]))
        lines.append([(f"{text}  {row[3]}", "bold" if n == 0 else "")])
    usable = [r for r in reports if r.usable]
    right = sum(1 for r in usable if not r.wrong_keys)
    lines.append([(f"{len(reports)} files: {right} all right, {len(usable) - right} with "
                   f"wrong answers, {len(reports) - len(usable)} unusable", "dim")])
    return lines


def write_plain(out: Any, lines: list[Line]) -> None:
    out.write("".join("".join(text for text, _ in line) + "\n" for line in lines))


def _points(value: float) -> str:
    return f"{value:g}"
