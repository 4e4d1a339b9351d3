"""explain of a large problem: each step shows the region of the matrices it is about.

The problem is the issue's: a 3x32x32 input, sixteen 3x3 filters, padding 1, ReLU, 2x2 max
pooling, MSE. Regions and values are checked against NumPy slicing of the padded input and
hand-worked window coordinates, not against convgrad's own output.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

from convgrad.render import crop
from convgrad.render.crop import MAX_SIDE, cut, span

from .conftest import PROBLEMS, run_main

C, H, F = 3, 32, 16


def matrix_strings(arr: np.ndarray) -> str:
    return "\n".join('  - "' + "; ".join(" ".join(map(str, row)) for row in plane) + '"'
                     for plane in arr.reshape(-1, *arr.shape[-2:]))


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.integers(-9, 10, (C, H, H))
    w = rng.integers(-9, 10, (F, C, 3, 3))
    t = rng.integers(-9, 10, (F, H // 2, H // 2))
    kernel = "\n".join("  - [" + ", ".join(
        '"' + "; ".join(" ".join(map(str, r)) for r in ch) + '"' for ch in f) + "]" for f in w)
    text = (f"input:\n{matrix_strings(x)}\nkernel:\n{kernel}\nbias: {[1] * F}\npadding: 1\n"
            "activation: relu\npool: {type: max, size: 2}\n"
            f"target:\n{matrix_strings(t)}\nloss: mse\n")
    path = tmp_path_factory.mktemp("large") / "large.yaml"
    path.write_text(text, encoding="utf-8")
    return path, x, w


@pytest.fixture(scope="module")
def explained(large: tuple[Path, np.ndarray]) -> str:
    done = run_main("explain", large[0])
    assert done.returncode == 0, done
    return done.stdout


def panel(text: str, title: str) -> list[str]:
    """The lines inside the panel titled `title`, borders stripped."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if f"─ {title} ─" in line)
    end = next(k for k in range(start + 1, len(lines)) if lines[k].startswith("╰"))
    return [line[2:].rstrip("│").rstrip() for line in lines[start + 1:end]]


REGION = re.compile(r"rows (\d+)-(\d+), columns (\d+)-(\d+) of (\d+)")


def blocks(lines: list[str], name: str) -> dict[str, tuple[tuple[int, ...], list[list[str]]]]:
    """The drawn blocks whose title starts with `name`: title -> (region numbers, cells).
    Blocks side by side are told apart by the gap of 4 spaces between them."""
    out = {}
    for k, line in enumerate(lines):
        for title in re.finditer(r"\S+(?: {1,3}\S+)*", line):
            found = REGION.search(title.group())
            if not (title.group().startswith(name) and found):
                continue
            start, end = title.start(), title.end()
            cells = []
            for row in lines[k + 1:]:
                piece = row[start:end + 4] if end + 4 < len(row) else row[start:]
                if not re.fullmatch(r" [\s\[\]()\d/-]+", piece.rstrip() or "x"):
                    break
                cells.append(piece.split())
            out[title.group()] = (tuple(int(g) for g in found.groups()), cells)
    return out


def test_large_walkthrough_is_at_most_2000_lines(large):
    for lang in ("en", "zh"):
        done = run_main("explain", large[0], "--lang", lang)
        assert done.returncode == 0, done
        assert len(done.stdout.splitlines()) <= 2000, lang


@pytest.mark.parametrize("j", [1, 2, 3, 4])
def test_convolution_step_shows_the_window_of_its_output(explained, large, j):
    """z[1,1,j] is made of the padded input's rows 1-3, columns j..j+2 (1-based, stride 1,
    a 3x3 kernel) in every channel: the step shows those, one more row and column around
    them (inside the 34x34 map), labelled with their numbers, and marks exactly the window."""
    x = large[1]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    lines = panel(explained, f"Step 3.{j}: z[1,1,{j}]")
    drawn = blocks(lines, "X padded")
    assert len(drawn) == C
    for c in range(C):
        (r0, r1, c0, c1, n), cells = next(v for k, v in drawn.items() if f"channel {c + 1}," in k)
        assert n == 34
        assert (r0, r1) == (1, 4)  # rows 1-3, one more below (none above row 1)
        assert (c0, c1) == (max(1, j - 1), j + 3)
        assert len(cells) == r1 - r0 + 1 and all(len(row) == c1 - c0 + 1 for row in cells)
        for r, row in enumerate(cells, start=r0):
            for col, cell in enumerate(row, start=c0):
                assert int(cell.strip("[]()")) == padded[c, r - 1, col - 1]
                in_window = 1 <= r <= 3 and j <= col <= j + 2
                assert cell.startswith("[") == in_window, (r, col, cell)
    # the weights: only filter 1's three slices, whole (3x3 is small), every cell marked
    weights = [line for line in lines if line.strip().startswith("W, filter")]
    assert weights and all("filter 1," in piece for line in weights
                           for piece in re.findall(r"W, filter \d+,", line))


@pytest.mark.parametrize("j", [1, 2, 3, 4])
def test_pool_step_shows_its_window(explained, large, j):
    """y[1,1,j] is the max of A's rows 1-2, columns 2j-1..2j (1-based); the step marks the
    first largest of them and shows one row and column around it, which holds the whole 2x2
    window. A is worked out here with NumPy (a 3x3 correlation of the padded input, + 1,
    ReLU)."""
    _, x, w = large
    windows = np.lib.stride_tricks.sliding_window_view(
        np.pad(x, ((0, 0), (1, 1), (1, 1))), (3, 3), axis=(1, 2))  # (C, 32, 32, 3, 3)
    a = np.maximum(np.einsum("cijpq,fcpq->fij", windows, w) + 1, 0)
    window = a[0, 0:2, 2 * j - 2:2 * j]
    winner = np.unravel_index(np.argmax(window), window.shape)  # the first largest
    r, c = winner[0] + 1, winner[1] + 2 * j - 1  # 1-based in A
    drawn = blocks(panel(explained, f"Step 5.{j}: y[1,1,{j}]"), "A, channel 1")
    [((r0, r1, c0, c1, n), cells)] = drawn.values()
    assert n == 32
    assert (r0, r1, c0, c1) == (max(r - 1, 1), r + 1, max(c - 1, 1), c + 1)
    assert r0 <= 1 and r1 >= 2 and c0 <= 2 * j - 1 and c1 >= 2 * j
    marked = {(row, col) for row, line in enumerate(cells, start=r0)
              for col, cell in enumerate(line, start=c0) if cell.startswith("[")}
    assert marked == {(r, c)}
    for row, line in enumerate(cells, start=r0):
        for col, cell in enumerate(line, start=c0):
            assert int(cell.strip("[]")) == a[0, row - 1, col - 1]


def test_input_gradient_step_shows_the_outputs_that_meet_it(explained):
    """x[1,1,1] (padded row 2, column 2) is under the kernel of outputs (1..2, 1..2) of
    every filter: dL/dZ's rows 1-3, columns 1-3 of 32; only 4 of the 16 slices are drawn,
    and a note says how many more there are."""
    lines = panel(explained, "Step 12.1: dL/dx[1,1,1]")
    drawn = blocks(lines, "dL/dZ")
    assert len(drawn) == crop.MAX_SLICES
    for (r0, r1, c0, c1, n), cells in drawn.values():
        assert (r0, r1, c0, c1, n) == (1, 3, 1, 3, 32)
        marked = {(r, c) for r, row in enumerate(cells, start=r0)
                  for c, cell in enumerate(row, start=c0) if cell.startswith("[")}
        assert marked == {(1, 1), (1, 2), (2, 1), (2, 2)}
    text = "\n".join(lines)
    assert "... 12 more slices of dL/dZ" in text and "(--all shows them)" in text


def test_the_result_map_is_shown_once_by_its_corners(explained):
    """Z (16 x 32 x 32) is not cut in the sub-steps: it is drawn once, after them, by its
    corners (MAX_SIDE rows: 8, a row of dots, the last 3) and its first slices."""
    lines = panel(explained, "Step 3: the other entries, same rule")
    start = lines.index("Z, channel 1")
    grid = lines[start + 1:start + 1 + MAX_SIDE]
    assert grid[MAX_SIDE - 4].split()[0] == "⋮" and all("…" in line for line in grid)
    assert sum(line == "Z, channel 1" for line in explained.splitlines()) == 0
    assert sum(line.strip() == "Z, channel 1" for line in panel_texts(explained)) == 1


def panel_texts(text: str) -> list[str]:
    return [line[2:].rstrip("│").rstrip() for line in text.splitlines()]


def test_step_pauses_and_chinese_cut_the_same_way(large, explained):
    assert run_main("explain", large[0], "--step").stdout == explained
    zh = run_main("explain", large[0], "--lang", "zh").stdout
    assert "第 1-4 行、第 1-4 列（共 34 行 34 列）" in zh


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_documents_cut_the_same_way(large, fmt):
    done = run_main("explain", large[0], "--format", fmt)
    assert done.returncode == 0, done
    assert "rows 1-4, columns 1-4 of 34" in done.stdout
    assert "(--all shows them)" in done.stdout
    if fmt == "html":
        # the cut keeps the names of the cells: row 2, column 3 of X padded is x[1,1,2]
        assert 'data-term="X[1,1,2]"' in done.stdout


def test_all_draws_every_matrix_whole(tmp_path):
    rng = np.random.default_rng(1)
    problem = tmp_path / "p.yaml"
    problem.write_text(f"input:\n{matrix_strings(rng.integers(-3, 4, (1, 14, 14)))}\n"
                       "kernel: \"1 0; 0 1\"\ngrad_output:\n"
                       f"{matrix_strings(rng.integers(-1, 2, (13, 13)))}\n", encoding="utf-8")
    cut_text = run_main("explain", problem).stdout
    whole = run_main("explain", problem, "--all").stdout
    assert "rows 1-3, columns 1-3 of 14" in cut_text
    assert " of 14" not in whole


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_small_problems_are_never_cut(path, monkeypatch):
    """Every problem file is at the tutorials' sizes: its walkthrough is what it was before
    cutting existed (cutting switched off gives the same text)."""
    text = run_main("explain", path).stdout
    monkeypatch.setattr("convgrad.explain.cuts_any", lambda focus: False)
    assert run_main("explain", path).stdout == text
    assert not REGION.search(text)


def test_cut_is_the_marked_box_with_a_margin_of_one():
    shape = (34, 34)
    region = cut({(5, 9), (7, 12)}, shape)
    assert region.rows == [4, 5, 6, 7, 8] and region.cols == list(range(8, 14))
    assert region.words is not None and region.words.fields["r0"] == 5
    # at the border the margin stops at the matrix
    region = cut({(0, 33)}, shape, base=0)
    assert (region.rows, region.cols) == ([0, 1], [32, 33])
    assert region.words is not None
    assert (region.words.fields["r0"], region.words.fields["c1"]) == (0, 33)
    # a box wider than MAX_SIDE is shown by its corners, as solve shows a matrix
    region = cut({(0, 0), (20, 20)}, shape)
    assert len(region.rows) == MAX_SIDE and None in region.rows
    assert region.rows[-1] == 21 and region.rows[0] == 0
    # a small slice is drawn whole, without words
    small = cut({(1, 1)}, (MAX_SIDE, MAX_SIDE))
    assert small.rows == list(range(MAX_SIDE)) and small.words is None
    assert span(3, 3 + MAX_SIDE - 1) == list(range(3, 3 + MAX_SIDE))


# --- solve's plain text: large chunks, the bytes rich writes ---------------------------------


def solve_text(problem, terms: str, terminal: bool) -> str:
    """solve's text through the plain writer (a file), or through rich line by line (the
    console taken for a terminal, without colour: rich writes the same text, unstyled)."""
    from rich.console import Console

    from convgrad.engine import run
    from convgrad.reader import load_problem
    from convgrad.render.terminal import print_solution

    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, highlight=False,
                      force_terminal=terminal)
    print_solution(run(load_problem(problem)), terms=terms, console=console)
    return out.getvalue()


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_plain_solve_is_what_rich_writes(path):
    for terms in ("all", "auto", "none"):
        assert solve_text(path, terms, False) == solve_text(path, terms, True), terms


def test_plain_solve_removes_control_codes_and_expands_tabs_as_rich_does():
    problem = {"name": "week\t3\x07 \r[b]x[/b]", "input": "1 2 3; 4 5 6; 7 8 9",
               "kernel": "1 0; -1 1", "bias": 1, "target": "1 0; 0 1", "loss": "mse"}
    plain = solve_text(problem, "all", False)
    assert plain == solve_text(problem, "all", True)
    assert "\x07" not in plain and "\r" not in plain and "\t" not in plain


class Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def write(self, text: str) -> int:
        self.calls += 1
        return super().write(text)


def test_plain_solve_is_written_in_large_chunks():
    from rich.console import Console

    from convgrad.engine import run
    from convgrad.reader import load_problem
    from convgrad.render.terminal import print_solution

    rng = np.random.default_rng(3)
    problem = {"input": rng.integers(-3, 4, (2, 14, 14)),
               "kernel": rng.integers(-2, 3, (4, 2, 3, 3)), "padding": 1, "activation": "relu",
               "target": rng.integers(-2, 3, (4, 14, 14)), "loss": "mse"}
    out = Writes()
    console = Console(file=out, width=100, color_system=None, highlight=False)
    print_solution(run(load_problem(problem)), terms="all", console=console)
    lines = out.getvalue().count("\n")
    assert lines > 3000
    assert out.calls < lines / 20  # rich alone writes once a line


@pytest.mark.parametrize("count, terms, expected", [
    (64, "auto", 64),  # a kind of 64 expansions is written whole under --terms auto ...
    (65, "auto", 4),  # ... one of 65 by its first four, the rest counted
    (1, "auto", 1),
    (1000, "all", 1000),
    (5, "none", 0),
])
def test_expansions_shown_is_the_one_rule_of_terms(count, terms, expected):
    # solve on the terminal and in every --format take their counts from this one function.
    assert crop.expansions_shown(count, terms) == expected
