"""A solution or a walkthrough as a LaTeX document that pdflatex compiles, or its body alone.

The document uses only TeX Live's latex-base and latex-recommended packages (amsmath,
amssymb, geometry) and, in Chinese, CJKutf8 (`\\begin{CJK}{UTF8}{gbsn}`), which pdflatex
reads too. Matrices are bmatrix of any width (MaxMatrixCols is set to the widest); term
expansions are align* displays whose long sums are broken into lines, and which may break
across pages. Every math block (`\\[...\\]`, `align*`, and `$...$` in a sentence) is also
KaTeX math, so that `--fragment`, the body alone, can go into a page that KaTeX renders.
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

# amsmath's default; a wider bmatrix raises it in the preamble.
MATRIX_COLUMNS = 10


def inline(value: Any) -> str:
    return "$" + texmath.math(value) + "$"


def words(value: Any, lang: str) -> str:
    """A phrase (or a formula, a name, a string) as LaTeX text with inline math."""
    return say(value, lang, texmath.text, inline)


def to_latex(trace: Trace, explain: bool = False, lang: str = "en", terms: str = "auto",
             show_all: bool = False, fragment: bool = False) -> str:
    """The LaTeX of `solve` (terms: all, auto, none) or `explain` (show_all: --all): a
    complete article, or with `fragment` the body alone."""
    parts = explain_parts(trace, show_all) if explain else solve_parts(trace, terms)
    widest = [MATRIX_COLUMNS]
    with formulas_in(lang):
        body = "\n".join(_part(part, lang, widest) for part in parts)
    if fragment:
        return body.strip("\n") + "\n"
    title = words(Phrase("doc.explain" if explain else "doc.solve"), lang)
    if trace.problem.name:
        title += say_key("list.colon", lang) + texmath.text(trace.problem.name)
    # A name in Chinese sets an English document in the CJK environment too.
    zh = lang == "zh" or texmath.has_cjk(trace.problem.name or "")
    preamble = [
        r"\documentclass[11pt,a4paper]{article}",
        r"\usepackage{amsmath,amssymb}",
        r"\usepackage[margin=2cm]{geometry}",
        *([r"\usepackage{CJKutf8}"] if zh else []),
        rf"\setcounter{{MaxMatrixCols}}{{{max(widest)}}}",
        r"\allowdisplaybreaks",
        r"\setlength{\parindent}{0pt}",
        r"\setlength{\parskip}{4pt}",
        r"\begin{document}",
        *([r"\begin{CJK}{UTF8}{gbsn}"] if zh else []),
        rf"\section*{{{title}}}",
    ]
    ending = [*([r"\end{CJK}"] if zh else []), r"\end{document}"]
    return "\n".join(preamble) + "\n" + body.strip("\n") + "\n" + "\n".join(ending) + "\n"


def _part(part: Part, lang: str, widest: list[int]) -> str:
    level = r"\subsubsection*" if part.sub else r"\subsection*"
    out = [f"\n{level}{{{words(part.title, lang)}}}"]
    if part.why:
        out.append(rf"\emph{{{words(part.why, lang)}}}" + "\n")
    for block in part.blocks:
        out.append(_block(block, lang, widest))
    return "\n".join(piece for piece in out if piece)


def _display(tex: str) -> str:
    return "\\[\n" + tex + "\n\\]\n"


# About how many characters of math a line of the page holds (a4, 2 cm margins, 11 pt), and
# the smaller sizes a wider matrix is set in so that it stays on the page.
LINE_CHARS = 80
SIZES = ((1.0, ""), (1.15, r"\small"), (1.35, r"\footnotesize"), (1.6, r"\scriptsize"),
         (2.0, r"\tiny"))


def _visible(tex: str) -> int:
    """Roughly how many characters a row of math takes: commands, braces and spaces not
    counted (math ignores spaces), a column gap (&) as two."""
    return len(re.sub(r"\\[a-zA-Z]+|[{}\s]", "", tex.replace("&", "..")))


def _sized_display(tex: str) -> str:
    """A display in a smaller font when its widest line would run past the margin: the
    matrices side by side (\\qquad between them) each take their widest row."""
    pieces = tex.split(r"\qquad")
    widest = sum(max(_visible(row) for row in piece.split(r"\\")) for piece in pieces) \
        + 4 * (len(pieces) - 1)
    size = next((command for factor, command in SIZES if widest <= LINE_CHARS * factor),
                SIZES[-1][1])
    return _display(tex) if not size else "{" + size + "\n" + _display(tex) + "}\n"


def _block(block: Block, lang: str, widest: list[int]) -> str:
    if isinstance(block, Lines):
        if block.style == "formula":
            return "".join(_display(texmath.math(line)) for line in block.lines)
        if block.style == "fact":
            items = "\n".join(rf"  \item {words(line, lang)}" for line in block.lines)
            return "\\begin{itemize}\n" + items + "\n\\end{itemize}\n"
        return "\\\\\n".join(words(line, lang) for line in block.lines) + "\n"
    if isinstance(block, Grids):
        if block.context:
            return ""
        widest.append(texmath.max_columns(block))
        displays, notes = texmath.grid_displays(block, lang)
        text = "".join(_sized_display(tex) for tex in displays)
        if notes:
            text += joined((words(note, lang) for note in notes), lang) + "\n"
        return text
    assert isinstance(block, Sums)
    rows = texmath.sum_rows(block, lang)
    return "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}\n"
