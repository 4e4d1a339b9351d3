"""The text of `compare`: a Comparison as lines and tables. No rich here (terminal.py draws).

One table per result key that differs: each differing entry named as check takes it, each
profile's value, and the convention keys that cause it. At most MAX_ROWS rows per key; --json
lists every entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convgrad.compare import Cause, Comparison
from convgrad.numbers import shape_text
from convgrad.trace import show_number

MAX_ROWS = 20

Line = list[tuple[str, str]]  # (text, style) segments; style names are rich's


@dataclass
class Table:
    """A table for the terminal: its title, column headings, rows of plain text, and a line
    under it."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def convention_text(value: Any) -> str:
    """A convention's value as the problem file writes it: false, 1/2, [1, 2], NHWC."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def cause_text(cause: Cause) -> str:
    """conv; or "kink + max_ties (together)"."""
    if cause.together:
        return " + ".join(cause.keys) + " (together)"
    return " or ".join(cause.keys)


def comparison_view(comparison: Comparison) -> list[Line | Table]:
    """The header (each profile's conventions that differ from the first's), a table per
    result key that differs, then the keys that are the same everywhere."""
    first = comparison.baseline
    arithmetic = "exact arithmetic" if comparison.exact else "float64 arithmetic"
    view: list[Line | Table] = [[("Compared: ", "bold"),
                                 (", ".join(comparison.profiles), ""),
                                 (f" (each with the problem's own convention keys on top; "
                                  f"{arithmetic})", "dim")]]
    for name, keys in comparison.changed.items():
        if not keys:
            view.append([(f"{name}: ", "bold cyan"),
                         (f"the same conventions as {first} here", "")])
            continue
        changes = ", ".join(f"{key} {convention_text(b)} (not {convention_text(a)})"
                            for key, (a, b) in keys.items())
        view.append([(f"{name}: ", "bold cyan"), (changes, "")])
        for key, message in comparison.alone.get(name, {}).items():
            view.append([(f"  {key} alone: ", "yellow"),
                         (f"unusable ({message}); entries it may move are put down to the "
                          "keys together", "dim")])
    several = len(comparison.profiles) > 2
    for diff in comparison.differences:
        for name, cause in diff.shape_causes.items():
            shapes = ", ".join(f"{p} {_shape(s)}" for p, s in diff.shapes.items())
            view.append([(f"{diff.key}: ", "bold"), (f"shapes differ: {shapes}; ", ""),
                         (f"{name}: {cause_text(cause)}" if several else cause_text(cause),
                          "bold")])
        if not diff.entries:
            continue
        size = _size(diff.shapes[first])
        table = Table(f"{diff.key}: {len(diff.entries)} of {size} "
                      f"entr{'ies' if size != 1 else 'y'} differ" if size > 1 else
                      f"{diff.key} differs", ["entry", *comparison.profiles, "because of"])
        for entry in diff.entries[:MAX_ROWS]:
            values = ["-" if v is None else show_number(v) for v in entry.values.values()]
            causes = "; ".join(f"{p}: {cause_text(c)}" if several else cause_text(c)
                               for p, c in entry.causes.items())
            table.rows.append([entry.name, *values, causes])
        if len(diff.entries) > MAX_ROWS:
            table.note = f"... {len(diff.entries) - MAX_ROWS} more (--json lists every entry)"
        view.append(table)
    if not comparison.differences:
        view.append([("Every result is the same under " + ", ".join(comparison.profiles)
                      + ".", "bold green")])
    elif comparison.same:
        view.append([("The same under every profile: ", "dim"),
                     (", ".join(comparison.same), "")])
    return view


def _shape(shape: tuple[int, ...] | None) -> str:
    return "none" if shape is None else shape_text(shape)


def _size(shape: tuple[int, ...] | None) -> int:
    size = 1
    for n in shape or ():
        size *= n
    return size
