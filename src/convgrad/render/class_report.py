"""The class report (convgrad.classreport) as a file: csv (one row per key and per entry), json
(the object README documents) or html (one self-contained page: a heat map per key)."""

from __future__ import annotations

import csv
import io
import json
from html import escape

import numpy as np

from convgrad.classreport import ClassReport, KeyTally, Tally, report_json

CLASS_REPORT_FORMATS = {".html": "html", ".htm": "html", ".csv": "csv", ".json": "json"}
CSV_COLUMNS = ("key", "entry", "graded", "right", "share_right")
MISSING_COLUMN = "missing"  # after the hint kinds: the files that did not answer


def format_of(path: str) -> str | None:
    """The class report's format from its file's ending, or None when it names none."""
    lower = path.lower()
    for ending, fmt in CLASS_REPORT_FORMATS.items():
        if lower.endswith(ending):
            return fmt
    return None


def write(report: ClassReport, fmt: str) -> str:
    """The whole text of the report in `fmt` ("html", "csv" or "json")."""
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return json.dumps(report_json(report), indent=2, allow_nan=False) + "\n"
    return to_html(report)


def _share_text(share: float | None) -> str:
    return "" if share is None else f"{share:.4g}"


def to_csv(report: ClassReport) -> str:
    """One row per key (entry empty), then one per entry of a matrix key; share_right is
    right / graded (empty when no file was graded on it); then one count per hint kind, then
    missing (the files that did not answer)."""
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow([*CSV_COLUMNS, *report.hint_kinds, MISSING_COLUMN])

    def row(tally: Tally) -> None:
        rows.writerow([tally.key, tally.entry or "", tally.graded, tally.right,
                       _share_text(tally.share_right),
                       *(tally.hints[kind] for kind in report.hint_kinds), tally.missing])

    for key in report.keys:
        row(key)
        for entry in key.entries:
            row(entry)
    return out.getvalue()


# --- html ------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1em; color: #222; background: #fff; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; }
table.summary { font-size: 0.9em; max-width: 100%; }
table.summary th, table.summary td { padding: 0.2em 0.25em; }
table.summary th { font-size: 0.8em; font-weight: 600; white-space: normal;
  vertical-align: bottom; max-width: 6.5em; }
table.heat td { min-width: 3.2em; text-align: center; font-variant-numeric: tabular-nums; }
table.heat td.low { font-weight: bold; outline: 2px solid #900; outline-offset: -2px; }
.legend span { display: inline-block; padding: 0.1em 0.6em; margin-right: 0.3em; }
.slice { margin: 0.2em 0 0.1em; font-size: 0.9em; color: #555; }
"""

# Below this share an entry stands out (bold, outlined) as well as by its colour.
LOW_SHARE = 0.5


def _colour(share: float | None) -> str:
    """A background from red (no one right) through yellow to green (everyone right)."""
    if share is None:
        return "#eeeeee"
    hue = round(120 * share)  # 0 red, 60 yellow, 120 green
    return f"hsl({hue}, 70%, 78%)"


def _cell(tally: Tally) -> str:
    share = tally.share_right
    low = " class=\"low\"" if share is not None and share < LOW_SHARE else ""
    percent = "-" if share is None else f"{100 * share:.0f}%"
    title = f"{tally.entry}: {tally.right} of {tally.graded} right"
    return (f"<td{low} style=\"background: {_colour(share)}\" title=\"{escape(title)}\" "
            f"data-entry=\"{escape(tally.entry or tally.key)}\">{percent}</td>")


def _heat_map(key: KeyTally, base: int) -> list[str]:
    """The entries of a matrix key as tables, one per 2-D slice (the leading indices named
    above each), rows and columns numbered as check numbers them."""
    if not key.entries:
        return []
    shape = key.shape if len(key.shape) >= 2 else (1, *key.shape)
    grid = np.empty(shape, dtype=object)
    for at, entry in zip(np.ndindex(shape), key.entries, strict=True):
        grid[at] = entry
    rows, cols = shape[-2:]
    lines = []
    for lead in np.ndindex(shape[:-2]):
        if lead:
            where = ",".join(str(i + base) for i in lead)
            lines.append(f"<p class=\"slice\">{escape(key.key)}[{where},:,:]</p>")
        lines.append(f"<table class=\"heat\" aria-label=\"{escape(key.key)}\">")
        lines.append("<tr><th></th>" + "".join(f"<th>{c + base}</th>" for c in range(cols))
                     + "</tr>")
        for r in range(rows):
            cells = "".join(_cell(grid[lead + (r, c)]) for c in range(cols))
            head = f"<th>{r + base}</th>" if len(key.shape) >= 2 else "<th></th>"
            lines.append(f"<tr>{head}{cells}</tr>")
        lines.append("</table>")
    return lines


def _mixed_words(key: KeyTally) -> str:
    """Why a key of a class graded against variants has no heat map."""
    if len(key.shapes) == 1:
        why = "the variants number its entries differently (index_base)"
    else:
        why = "the variants' results differ in shape (" + ", ".join(
            "x".join(map(str, shape)) or "a number" for shape in key.shapes) + ")"
    return f"Per key only: {why}, so no entry is the same question for every student."


# The summary table's column heads: short words that wrap, so that its columns fit a window
# 1000 pixels wide; each head's title is the identifier the csv and json use.
HEAD_LABELS = {"share_right": "share right", "wrong_shape": "wrong shape",
               "transposed_shape": "transposed shape", "carried_forward": "carried forward"}


def _head(column: str) -> str:
    label = HEAD_LABELS.get(column, column.replace("_", " "))
    return f"<th title=\"{escape(column)}\">{escape(label)}</th>"


def to_html(report: ClassReport) -> str:
    """One page, no script and no outside reference: a summary table (per key the share right,
    the hint counts and the files that did not answer), the files that could not be used,
    then per matrix key a heat map of its entries."""
    kinds = report.hint_kinds
    head = "".join(_head(k) for k in ("key", "graded", "right", "share_right", *kinds,
                                      MISSING_COLUMN))
    lines = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
             "<title>convgrad class report</title>", f"<style>{_STYLE}</style>", "</head>",
             "<body>", "<h1>Class report</h1>",
             f"<p>{report.files} answers file{'s' if report.files != 1 else ''} graded"
             + (f", each against its own variant ({report.variants} variant"
                f"{'s' if report.variants != 1 else ''})" if report.variants else "")
             + (f"; {report.unusable} could not be used and count in no share"
                if report.unusable else "") + ". A key a file did not answer counts as wrong "
             "(column missing).</p>",
             "<p class=\"legend\">Share right: "
             + "".join(f"<span style=\"background: {_colour(s)}\">{100 * s:.0f}%</span>"
                       for s in (0.0, 0.25, 0.5, 0.75, 1.0)) + "</p>",
             "<table class=\"summary\">", f"<tr>{head}</tr>"]
    for key in report.keys:
        share = key.share_right
        cells = [escape(key.key), str(key.graded), str(key.right),
                 "-" if share is None else f"{100 * share:.0f}%",
                 *(str(key.hints[kind]) for kind in kinds), str(key.missing)]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    lines.append("</table>")
    if report.unusable_files:
        lines.append("<h2>Files that could not be used</h2>")
        lines.append("<ul class=\"unusable\">")
        lines += [f"<li><code>{escape(path)}</code>: {escape(why)}</li>"
                  for path, why in report.unusable_files]
        lines.append("</ul>")
    for key in report.keys:
        if key.entries:
            lines.append(f"<h2>{escape(key.key)}</h2>")
            lines += _heat_map(key, report.base)
        elif key.shapes:
            lines.append(f"<h2>{escape(key.key)}</h2>")
            lines.append(f"<p class=\"mixed\">{escape(_mixed_words(key))}</p>")
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)
