"""Every entry of a page points at exactly the entries its formula uses that the page draws
(SPEC section 8), however many matrices of one shape the page draws: X, Y, dL/dY and dL/dX
all C x n x n, W beside dL/dW. What each entry is made of is worked out here from the
convolution's geometry, not from the page."""

from __future__ import annotations

import numpy as np
import pytest

from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.formats import write

from .test_html_summary import cells_of

# C channels in, C filters: X, Y, dL/dY and dL/dX are all C x n x n; 3 x 3 kernels, padding 1.
C, K = 2, 3


def problem(n: int) -> dict:
    rng = np.random.default_rng(n)
    return {"input": rng.integers(-3, 4, (C, n, n)).tolist(),
            "kernel": rng.integers(-2, 3, (C, C, K, K)).tolist(), "bias": [1, -1],
            "padding": 1, "grad_output": rng.integers(-2, 3, (C, n, n)).tolist()}


def x_name(c: int, r: int, s: int, n: int) -> str:
    """The cell (r, s) (0-based, of the padded (n+2) x (n+2)) of channel c: X_pad on the
    padding, else the input's own X (1-based, unpadded)."""
    if r in (0, n + 1) or s in (0, n + 1):
        return f"X_pad[{c + 1},{r + 1},{s + 1}]"
    return f"X[{c + 1},{r},{s}]"


def made_of(n: int) -> dict[str, set[str]]:
    """What each computed entry's formula uses, by its name: y[f,i,j] its window of the
    padded x in every channel and filter f; dL/dw[f,c,p,q] each real x[c,r,s] a weight
    meets and the dL/dy[f,i,j] it meets it for; dL/db[f] dL/dY's channel f; dL/dx[c,r,s]
    each dL/dy[f,i,j] whose window holds it and the weight there."""
    found: dict[str, set[str]] = {}
    rows = range(n)
    for f in range(C):
        found[f"db[{f + 1}]"] = {f"dY[{f + 1},{i + 1},{j + 1}]" for i in rows for j in rows}
        for i in rows:
            for j in rows:
                found[f"Y[{f + 1},{i + 1},{j + 1}]"] = {
                    x_name(c, i + p, j + q, n) for c in range(C) for p in range(K)
                    for q in range(K)} | {
                    f"W[{f + 1},{c + 1},{p + 1},{q + 1}]" for c in range(C)
                    for p in range(K) for q in range(K)}
        for c in range(C):
            for p in range(K):
                for q in range(K):
                    names = found.setdefault(f"dW[{f + 1},{c + 1},{p + 1},{q + 1}]", set())
                    for i in rows:
                        for j in rows:
                            r, s = i + p - 1, j + q - 1
                            if 0 <= r < n and 0 <= s < n:
                                names |= {f"X[{c + 1},{r + 1},{s + 1}]",
                                          f"dY[{f + 1},{i + 1},{j + 1}]"}
    for c in range(C):
        for r in rows:
            for s in rows:
                found[f"dX[{c + 1},{r + 1},{s + 1}]"] = {
                    name for f in range(C) for p in range(K) for q in range(K)
                    if 0 <= r - p + 1 < n and 0 <= s - q + 1 < n
                    for name in (f"dY[{f + 1},{r - p + 2},{s - q + 2}]",
                                 f"W[{f + 1},{c + 1},{p + 1},{q + 1}]")}
    return found


@pytest.mark.parametrize("n", [5, 20], ids=["small", "summarised"])
@pytest.mark.parametrize("explain", [False, True], ids=["solve", "explain"])
def test_every_entry_points_at_the_drawn_entries_its_formula_uses(n: int, explain: bool):
    page = write(run(load_problem(problem(n))), "html", explain=explain)
    cells = cells_of(page)
    drawn = {cell["data-term"] for cell in cells}
    formulas = made_of(n)
    checked = set()
    for cell in cells:
        name, sources = cell["data-term"], set(cell["data-from"].split())
        if name not in formulas or "title" not in cell:
            # an input, or an entry whose term a summarised page does not write
            assert not sources, name
            continue
        assert sources == formulas[name] & drawn, (name, sorted(sources ^ formulas[name] & drawn))
        checked.add(name.partition("[")[0])
    # (a walkthrough writes dL/db as a sum, not as a matrix)
    assert checked == ({"Y", "dW", "dX"} if explain else {"Y", "dW", "db", "dX"})
    if n == 5:  # nothing is summarised: every computed entry writes its term
        written = {cell["data-term"] for cell in cells if "title" in cell}
        assert written >= {name for name in formulas if not (explain and name[:2] == "db")}
