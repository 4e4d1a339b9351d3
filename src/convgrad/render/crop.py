"""What a walkthrough step shows of a large matrix: the rows and columns around its cells.

solve shows a matrix with a side longer than MAX_SIDE by its corners, and only its first
MAX_SLICES slices. A step of explain is about a few cells (the window of one output, the
weights over it); drawing the whole 34x34 padded input around them in every step says
nothing more and costs hundreds of lines. So in a step whose highlighted matrices include a
large one, every highlighted matrix shows only the slices holding highlighted cells (the first
MAX_SLICES of them), and a large slice only the rows and columns from its first highlighted
cell to its last, plus MARGIN around them, with their numbers in its title ("rows 4-7,
columns 10-13 of 34"). A cut still longer than MAX_SIDE is shown by its corners, as solve
would. Small matrices are drawn whole, exactly as before: the tutorials' sizes never reach
MAX_SIDE.

Terminal, Markdown, LaTeX and HTML cut the same way, from these functions, and shorten
sums and lists of expansions by the same numbers (AUTO_*, FULL, LISTED), so that a large
problem is summarised alike in every format.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from convgrad.trace import Matrix, Phrase

# A matrix with a side longer than this is shown by its corners (solve --terms auto) or cut
# to the region of a step (explain); at most MAX_SLICES slices are drawn.
MAX_SIDE = 12
MAX_SLICES = 4
# Rows and columns shown around the highlighted cells of a cut.
MARGIN = 1

# solve --terms auto: up to AUTO_EXPANSIONS expansions of a kind are written in full; of a
# larger kind the first AUTO_SHOWN, then "... N more, same rule". A sum of more than
# AUTO_TERMS terms is shown by its ends.
AUTO_EXPANSIONS = 64
AUTO_SHOWN = 4
AUTO_TERMS = 24
# explain: the first FULL elements of each kind in full (grids, symbols, numbers), one line
# each; beyond LISTED elements of a kind the rest is summarised instead of listed.
FULL = 4
LISTED = 64


def expansions_shown(count: int, terms: str) -> int:
    """How many of a kind's `count` expansions solve writes under --terms all|auto|none (the
    first ones; the rest are counted, not made)."""
    if terms == "none":
        return 0
    return count if terms == "all" or count <= AUTO_EXPANSIONS else AUTO_SHOWN


def shown(n: int, full: bool) -> list[int | None]:
    """Indices of the rows (or columns) of a side of n to draw; None marks the elided middle."""
    return span(0, n - 1) if not full else list(range(n))


def span(first: int, last: int) -> list[int | None]:
    """The indices first..last, by their ends when there are more than MAX_SIDE."""
    if last - first + 1 <= MAX_SIDE:
        return list(range(first, last + 1))
    return [*range(first, first + MAX_SIDE - 4), None, *range(last - 2, last + 1)]


def is_large(matrix: Matrix) -> bool:
    """A side of a slice of `matrix` (a vector's length) longer than MAX_SIDE."""
    shape = matrix.array.shape
    return any(side > MAX_SIDE for side in shape[-2:])


def cuts_any(focus: Sequence[tuple[Matrix, Collection[tuple[int, ...]]]]) -> bool:
    """Whether a step with these highlighted matrices is cut: one of them is large."""
    return any(is_large(matrix) for matrix, _ in focus)


@dataclass(frozen=True)
class Cut:
    """The rows and columns of one slice to draw (None: the elided middle), and their
    numbers as words for its title (None when the whole slice is drawn)."""

    rows: list[int | None]
    cols: list[int | None]
    words: Phrase | None


def cut(marked: Collection[tuple[int, ...]], shape: tuple[int, int], base: int = 1) -> Cut:
    """The region of a slice (rows x cols of `shape`) around its `marked` cells: whole when
    the slice is small, else from the first marked row and column to the last, MARGIN more
    on each side; by its corners when there is no mark. base: how rows are numbered."""
    height, width = shape
    if height <= MAX_SIDE and width <= MAX_SIDE:
        return Cut(list(range(height)), list(range(width)), None)
    if not marked:
        return Cut(shown(height, False), shown(width, False), None)
    cells = np.asarray(list(marked)).reshape(-1, 2)
    r0, c0 = np.maximum(cells.min(axis=0) - MARGIN, 0)
    r1, c1 = np.minimum(cells.max(axis=0) + MARGIN, (height - 1, width - 1))
    return Cut(span(int(r0), int(r1)), span(int(c0), int(c1)),
               region_words(int(r0), int(r1), int(c0), int(c1), shape, base))


def region_words(r0: int, r1: int, c0: int, c1: int, shape: tuple[int, int],
                 base: int = 1) -> Phrase | None:
    """"rows 4-7, columns 10-13 of 34" (0-based r0..r1, c0..c1 written from `base`); a side
    drawn whole is not named; None when both are."""
    height, width = shape
    rows = (r0, r1) != (0, height - 1)
    cols = (c0, c1) != (0, width - 1)
    numbers: dict[str, object] = {"r0": r0 + base, "r1": r1 + base, "c0": c0 + base,
                                  "c1": c1 + base, "h": height, "w": width}
    if rows and cols:
        key = "crop.both" if height == width else "crop.both_sizes"
    elif rows:
        key = "crop.rows"
    elif cols:
        key = "crop.columns"
    else:
        return None
    return Phrase(key, numbers)


def marked_slices(every: list[tuple[int, ...]], marked: Collection[tuple[int, ...]]
                  ) -> list[tuple[int, ...]]:
    """The slices (leading indices) holding a marked cell, in order; the first slice when
    none does."""
    holding = {cell[:-2] for cell in marked}
    return [index for index in every if index in holding] or every[:1]
