"""The formats of a solution (SPEC section 8): text, markdown, latex, html, by name.

`write` gives the whole output of `solve` or `explain` in one format as a string, for the
command line (standard output or `-o FILE`) and for Result's to_markdown, to_latex and
to_html. Each format's module is imported only when it is asked for.
"""

from __future__ import annotations

import io
from typing import Any

FORMATS = ("text", "markdown", "latex", "html")

# The format a file's name asks for, by its ending (-o solution.md).
SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".html": "html",
            ".htm": "html"}


def format_of(path: str | None) -> str:
    """The format a file's name asks for: markdown for .md, latex for .tex, html for .html;
    text for anything else (and for no file)."""
    if path is None:
        return "text"
    lower = path.lower()
    return next((fmt for suffix, fmt in SUFFIXES.items() if lower.endswith(suffix)), "text")


def write(solved: Any, fmt: str, explain: bool = False, lang: str = "en", terms: str = "auto",
          show_all: bool = False, fragment: bool = False) -> str:
    """The output of `solve` (terms: --terms) or `explain` (show_all: --all) on a run, in
    `fmt`; fragment: LaTeX's body alone. text is what the terminal shows, without colour."""
    from convgrad.trace import Trace

    if fmt == "text":
        return _text(solved, explain, lang, terms, show_all)
    trace = Trace(solved)
    if fmt == "markdown":
        from convgrad.render.markdown import to_markdown

        return to_markdown(trace, explain, lang, terms, show_all)
    if fmt == "latex":
        from convgrad.render.latex import to_latex

        return to_latex(trace, explain, lang, terms, show_all, fragment)
    if fmt == "html":
        from convgrad.render.html import to_html

        return to_html(trace, explain, lang, terms, show_all)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def _text(solved: Any, explain: bool, lang: str, terms: str, show_all: bool) -> str:
    """The terminal's text, as a file or a pipe gets it (plain, PLAIN_WIDTH columns)."""
    from rich.console import Console

    from convgrad.render.terminal import PLAIN_WIDTH, print_solution, usable_columns

    out = io.StringIO()
    console = Console(file=out, width=usable_columns() or PLAIN_WIDTH, color_system=None,
                      highlight=False, markup=False, emoji=False, soft_wrap=False)
    if explain:
        from convgrad.explain import Walkthrough

        Walkthrough(solved, console, lang, show_all).show()
    else:
        print_solution(solved, terms=terms, console=console, lang=lang)
    return out.getvalue()
