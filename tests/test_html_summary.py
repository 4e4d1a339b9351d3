"""The HTML of a large problem is summarised as --terms auto summarises it (SPEC section 8):
matrices by their corners, the first terms of each kind, and what each written term is
made of among the entries the page draws; and it costs that much, however many entries the
problem has. A small problem's page points at every entry as before."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

import convgrad
from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.formats import write

from .conftest import ROOT

GOLDEN = Path(__file__).parent / "golden"


class Cells(HTMLParser):
    """The attributes of every element that carries a data-term, in page order."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        found = {k: v or "" for k, v in attrs}
        if "data-term" in found:
            self.cells.append(found)


def cells_of(page: str) -> list[dict[str, str]]:
    parser = Cells()
    parser.feed(page)
    return parser.cells


# A 3 x 20 x 20 input (20 > 12: drawn by its corners), two 3 x 3 filters, padding 1, a given
# dL/dY: Y and dL/dY are 2 x 20 x 20 (800 entries), dL/dW 2 x 3 x 3 x 3.
C, H, F = 3, 20, 2


def large_problem() -> dict:
    rng = np.random.default_rng(3)
    return {"input": rng.integers(-3, 4, (C, H, H)).tolist(),
            "kernel": rng.integers(-2, 3, (F, C, 3, 3)).tolist(), "bias": [1, -1],
            "padding": 1, "grad_output": rng.integers(-2, 3, (F, H, H)).tolist()}


def corner(n: int) -> list[int]:
    """The rows (1-based) a side of n > 12 is drawn with: the first eight, the last three."""
    return [*range(1, 9), *range(n - 2, n + 1)]


def padded_name(c: int, r: int, s: int) -> str:
    """The name of the cell (r, s) (0-based, of the padded 22 x 22) of channel c (0-based):
    X_pad on the padding, else the input's own X (1-based, unpadded)."""
    if r in (0, H + 1) or s in (0, H + 1):
        return f"X_pad[{c + 1},{r + 1},{s + 1}]"
    return f"X[{c + 1},{r},{s}]"


def y_sources(f: int, i: int, j: int) -> set[str]:
    """What y[f,i,j] (0-based) is made of: the 3 x 3 window at (i, j) of the padded input in
    every channel, and filter f."""
    return {padded_name(c, i + p, j + q) for c in range(C) for p in range(3) for q in range(3)} \
        | {f"W[{f + 1},{c + 1},{p + 1},{q + 1}]" for c in range(C) for p in range(3)
           for q in range(3)}


def dw_sources(f: int, c: int, p: int, q: int) -> set[str]:
    """What dL/dw[f,c,p,q] (0-based) is made of: every output (i, j) whose window puts the
    weight on a real input cell x[c, i+p-1, j+q-1], that cell and dL/dy[f,i,j]."""
    names = set()
    for i in range(H):
        for j in range(H):
            r, s = i + p - 1, j + q - 1
            if 0 <= r < H and 0 <= s < H:
                names |= {f"X[{c + 1},{r + 1},{s + 1}]", f"dY[{f + 1},{i + 1},{j + 1}]"}
    return names


def test_a_large_problems_page_points_at_its_written_terms_among_its_entries():
    page = write(run(load_problem(large_problem())), "html")
    cells = cells_of(page)
    drawn = {cell["data-term"] for cell in cells}
    sources: dict[str, set[str]] = {}
    for cell in cells:  # every copy of an entry says the same
        assert sources.setdefault(cell["data-term"], set(cell["data-from"].split())) == \
            set(cell["data-from"].split()), cell["data-term"]
    # Y and dL/dX by their corners: the first eight rows and columns and the last three
    assert {name for name in drawn if name.startswith("Y[1,")} == {
        f"Y[1,{i},{j}]" for i in corner(H) for j in corner(H)}
    assert {name for name in drawn if name.startswith("dX[3,")} == {
        f"dX[3,{i},{j}]" for i in corner(H) for j in corner(H)}
    # the four terms of y written out, each made of its window and filter: those drawn
    for j in range(4):
        assert sources[f"Y[1,1,{j + 1}]"] == y_sources(0, 0, j) & drawn
        assert sources[f"Y[1,1,{j + 1}]"]  # the corner of the window is drawn
    assert sources["dW[1,1,1,1]"] == dw_sources(0, 0, 0, 0) & drawn
    assert sources["dW[1,1,1,2]"] == dw_sources(0, 0, 0, 1) & drawn
    # dL/db[2] = the sum of dL/dY's channel 2: the entries of it the page draws
    assert sources["db[2]"] == {f"dY[2,{i},{j}]" for i in corner(H) for j in corner(H)}
    # the entries whose terms are not written carry their name and no sources
    assert sources["Y[2,20,20]"] == set() and sources["dX[1,8,8]"] == set()
    for cell in cells:
        assert "data-from" in cell and cell.get("tabindex") == "0"
        assert set(cell["data-from"].split()) <= drawn, cell["data-term"]
    # each written term is the entry's tooltip: dL/dw[1,1,1,1] sums 19 x 19 products
    title = next(cell["title"] for cell in cells if cell["data-term"] == "dW[1,1,1,1]")
    assert title.startswith("dL/dw[1,1,1,1] = ") and "more terms" in title


def test_a_large_walkthroughs_page_points_the_same_way():
    page = write(run(load_problem(large_problem())), "html", explain=True)
    cells = cells_of(page)
    drawn = {cell["data-term"] for cell in cells}
    by_term = {cell["data-term"]: set(cell["data-from"].split()) for cell in cells}
    assert by_term["Y[1,1,2]"] == y_sources(0, 0, 1) & drawn
    assert by_term["Y[2,20,20]"] == set()  # not among the four written out
    # dL/dw11 names every cell it is made of that the page draws: the corners of the
    # padded X, the cells the padding step's unpadded X draws by the same names, and dL/dY's
    made_of = dw_sources(0, 0, 0, 0)
    padded = [*range(8), H - 1, H, H + 1]  # 0-based rows of the padded 22 x 22 drawn
    least = {name for name in made_of if name.startswith("dY")} & drawn | \
        {padded_name(0, r, s) for r in padded for s in padded} & made_of
    assert by_term["dW[1,1,1,1]"] == made_of & drawn
    assert least < made_of & drawn and len(least) > 100


def test_a_medium_problems_notebook_view_is_bounded():
    # A 16 x 64 x 64 input, sixteen 3 x 3 x 16 filters, padding 1: 65,536 outputs; each
    # dL/dw is a sum of 8,192 products. The page once took 82 s and 7.4 MB (its time is
    # measured by benchmarks/bench_render.py --only notebook_html, not here).
    rng = np.random.default_rng(0)
    result = convgrad.solve({
        "input": rng.integers(-3, 4, (16, 64, 64)).tolist(),
        "kernel": rng.integers(-2, 3, (16, 16, 3, 3)).tolist(), "bias": [0] * 16,
        "padding": 1, "grad_output": np.ones((16, 64, 64), dtype=int).tolist()})
    div = result._repr_html_()
    assert div is not None and len(div) < 350_000
    cells = cells_of(div)
    by_term = {cell["data-term"]: set(cell["data-from"].split()) for cell in cells}
    # dL/db[16] = the sum of dL/dY's channel 16, which the page does not draw (four of 16)
    assert by_term["db[16]"] == set() and len(by_term["db[1]"]) == 11 * 11


def pointing(page: str) -> dict[str, list[str]]:
    """Each entry's data-from and title, by its data-term; every copy of it says the same."""
    found: dict[str, list[str]] = {}
    for cell in cells_of(page):
        said = [cell["data-from"], cell.get("title", "")]
        assert found.setdefault(cell["data-term"], said) == said, cell["data-term"]
    return found


def test_a_small_problems_page_points_as_before():
    # What every entry of a small problem's page names and says, recorded before large pages
    # were summarised (reflect padding: cells of X_pad that copy X's); regenerate with
    # CONVGRAD_GOLDEN=1 after a deliberate change.
    result = run(load_problem(ROOT / "problems" / "reflect_padding.yaml"))
    got = pointing(write(result, "html"))
    golden = GOLDEN / "html_pointing_reflect_padding.json"
    if os.environ.get("CONVGRAD_GOLDEN"):
        golden.write_text(json.dumps(got, ensure_ascii=False, indent=0) + "\n",
                          encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))
    # nothing is summarised: every output points at what it is made of, in both pages
    assert all(sources for term, (sources, _) in got.items() if term.startswith("Y["))
    walk = pointing(write(result, "html", explain=True))
    assert {term: walk[term] for term in got if term in walk} == \
        {term: said for term, said in got.items() if term in walk}
