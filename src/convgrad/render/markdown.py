"""A solution or a walkthrough as GitHub-flavoured Markdown, its math for KaTeX.

Sentences are Markdown text (every character Markdown or its math would read escaped);
formulas inside a sentence are inline `$...$`; matrices and term expansions are display
math, each `$$` on a line of its own with a blank line around the block, as GitHub,
Jupyter and KaTeX read it. The math is render/texmath.py's, the parts render/document.py's.
"""

from __future__ import annotations

import re
from typing import Any

from convgrad.render import texmath
from convgrad.render.document import (
    Block,
    Grids,
    Lines,
    Part,
    Sums,
    explain_parts,
    say,
    solve_parts,
)
from convgrad.render.words import formulas_in, joined
from convgrad.render.words import say as say_key
from convgrad.trace import Phrase, Trace

# Characters Markdown (and the $ of its math) would read as syntax.
_SPECIAL = re.compile(r"([\\`*_\[\]<>#|$~])")


def escape(text: str) -> str:
    """Text as Markdown that shows it literally (a name with _ or $ or *)."""
    return _SPECIAL.sub(r"\\\1", text).replace("&", "&amp;")


def _line(text: str) -> str:
    """A line of Markdown that begins like a list item (1. or - or +) stays text."""
    text = re.sub(r"^(\s*)(\d+)([.)])", r"\1\2\\\3", text)
    return re.sub(r"^(\s*)([-+])", r"\1\\\2", text)


def inline(value: Any) -> str:
    return "$" + texmath.math(value) + "$"


def words(value: Any, lang: str) -> str:
    """A phrase (or a formula, a name, a string) as Markdown text with inline math."""
    return _line(say(value, lang, escape, inline))


def display(tex: str) -> str:
    """A block of display math: `$$` alone on its lines, a blank line around."""
    return f"\n$$\n{tex}\n$$\n"


def to_markdown(trace: Trace, explain: bool = False, lang: str = "en", terms: str = "auto",
                show_all: bool = False) -> str:
    """The Markdown of `solve` (terms: all, auto, none) or of `explain` (show_all: --all)."""
    parts = explain_parts(trace, show_all) if explain else solve_parts(trace, terms)
    title = Phrase("doc.explain" if explain else "doc.solve")
    out = [f"# {words(title, lang)}" + _name(trace, lang)]
    with formulas_in(lang):
        out += [_part(part, lang, explain) for part in parts]
    # One blank line between blocks, whichever blocks meet.
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n") + "\n"


def _name(trace: Trace, lang: str) -> str:
    name = trace.problem.name
    return say_key("list.colon", lang) + escape(name) if name else ""


def _part(part: Part, lang: str, explain: bool) -> str:
    level = "###" if part.sub else "##"
    out = [f"\n{level} {words(part.title, lang)}\n"]
    if part.why:
        out.append(f"*{words(part.why, lang)}*\n")
    for block in part.blocks:
        out.append(_block(block, lang))
    return "\n".join(piece for piece in out if piece)


def _block(block: Block, lang: str) -> str:
    if isinstance(block, Lines):
        if block.style == "formula":
            return "".join(display(texmath.math(line)) for line in block.lines)
        if block.style == "fact":
            return "\n".join(f"- {words(line, lang)}" for line in block.lines) + "\n"
        return "\n".join(f"{words(line, lang)}  " for line in block.lines).rstrip() + "\n"
    if isinstance(block, Grids):
        if block.context:
            return ""
        displays, notes = texmath.grid_displays(block, lang)
        text = "".join(display(tex) for tex in displays)
        if notes:
            text += "\n" + joined((words(note, lang) for note in notes), lang) + "\n"
        return text
    assert isinstance(block, Sums)
    rows = texmath.sum_rows(block, lang)
    return display("\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}")
