"""Rich tables and text for the terminal. The only module that imports rich."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from convgrad.numbers import format_number


def matrix_table(title: str, arr: np.ndarray) -> Table:
    table = Table(title=title, show_header=False, box=None, padding=(0, 1))
    grid = np.atleast_2d(arr)
    for _ in range(grid.shape[1]):
        table.add_column(justify="right")
    for row in grid:
        table.add_row(*(format_number(v) for v in row))
    return table


def print_solution(solved: Any, terms: str = "auto") -> None:
    from convgrad.api import results

    console = Console()
    for key, value in results(solved).items():
        if key == "layers":
            continue
        if isinstance(value, np.ndarray) and value.ndim >= 2:
            for index in np.ndindex(value.shape[:-2]):
                label = key + "".join(f"[{i + 1}]" for i in index)
                console.print(matrix_table(label, value[index]))
        elif isinstance(value, np.ndarray):
            console.print(f"{key} = " + ", ".join(format_number(v) for v in value.flat))
        else:
            console.print(f"{key} = {format_number(value)}")
