"""A solution or a walkthrough as one self-contained web page: no network, no library.

Every matrix is a table; every entry carries `data-term`, its name as `check` takes it
(Y[1,2], dW[1,1], conv1.dW[1,1,2,2]), and `data-from`, the names of the entries its
formula uses (the cells a walkthrough marks). Pointing at an entry or focusing it (click,
tap, Tab) lights up exactly those and writes its term out below; Escape clears. The
walkthrough is a sequence of steps with next and previous. All of that is a few lines of
inline script and style: with scripts off the page shows every step, every number and
every term as text, and an entry's term as its tooltip.

Formulas are written as the terminal writes them (render/terminal.py's FORMS), as text.
`to_html(..., page=False)` gives the one <div> a notebook shows (styles scoped to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape as _escape
from typing import Any

from convgrad.render.document import (
    Block,
    Grid,
    Grids,
    Lines,
    Part,
    Sums,
    cell_namer,
    explain_parts,
    say,
    slices,
    solve_parts,
    sources,
)
from convgrad.render.terminal import label_text, written
from convgrad.render.words import formulas_in, joined
from convgrad.render.words import say as say_key
from convgrad.trace import Expansion, Phrase, Section, Trace, Whole, show_number

# The terms of at most this many entries of one kind are written into the page for pointing
# at (a 28 x 28 problem has 784 of each); the entries of a larger kind carry no data-from.
POINTED = 4096

STYLE = """
.convgrad{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",
sans-serif;line-height:1.45;color:#1b1b1b;max-width:72rem}
.convgrad h1{font-size:1.5rem;margin:.6rem 0}
.convgrad h2{font-size:1.2rem;margin:1.4rem 0 .3rem;border-bottom:1px solid #ccd}
.convgrad h3{font-size:1.05rem;margin:1rem 0 .3rem}
.convgrad .cg-why{font-style:italic;margin:.2rem 0 .5rem}
.convgrad .cg-lines{margin:.3rem 0;padding-left:1.2rem}
.convgrad .cg-note{color:#555}
.convgrad .cg-warning{color:#8a5a00}
.convgrad .cg-f,.convgrad .cg-exp{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,
monospace}
.convgrad .cg-formula{font-weight:600;margin:.4rem 0}
.convgrad .cg-grids{display:flex;flex-wrap:wrap;gap:.5rem 1.6rem;margin:.5rem 0;
align-items:flex-start}
.convgrad .cg-context{opacity:.92}
.convgrad figure{margin:0}
.convgrad figcaption{font-weight:600;font-size:.9rem;margin-bottom:.15rem}
.convgrad table.cg-m{border-collapse:collapse;border-left:2px solid #444;
border-right:2px solid #444;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,
monospace}
.convgrad table.cg-m td{padding:.1rem .45rem;text-align:right;border:1px solid transparent}
.convgrad td.cg-pad{color:#888}
.convgrad td.cg-gap{color:#888;text-align:center}
.convgrad td.cg-mark{background:#fff1b8;border-color:#d4a000}
.convgrad td[data-term]:focus{outline:2px solid #1a5fd0}
.convgrad td.cg-hl{background:#ffd54f;border-color:#b58900}
.convgrad td.cg-cur{background:#cfe3ff;border-color:#1a5fd0}
.convgrad .cg-exp{margin:.35rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
.convgrad .cg-label{color:#0b6e79;font-weight:600}
.convgrad .cg-sym{color:#555}
.convgrad .cg-status{position:sticky;bottom:0;background:#f4f8ff;border:1px solid #9bbcf0;
padding:.4rem .6rem;font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;
white-space:pre-wrap;overflow-wrap:anywhere;margin-top:.6rem}
.convgrad .cg-nav{display:flex;gap:.8rem;align-items:center;margin:.6rem 0}
.convgrad .cg-nav button{font:inherit;padding:.2rem .8rem}
.convgrad.cg-stepping .cg-step{display:none}
.convgrad.cg-stepping .cg-step.cg-on{display:block}
"""

# Pointing at entries; for a walkthrough, one step at a time. `root` is the page's div.
SCRIPT = """
(function (root) {
  if (!root) return;
  var byName = {};
  root.querySelectorAll('[data-term]').forEach(function (cell) {
    (byName[cell.getAttribute('data-term')] = byName[cell.getAttribute('data-term')] || [])
      .push(cell);
  });
  var status = root.querySelector('.cg-status');
  var lit = [];
  function clear() {
    lit.forEach(function (e) { e.classList.remove('cg-hl', 'cg-cur'); });
    lit = [];
    if (status) { status.hidden = true; status.textContent = ''; }
  }
  function show(cell) {
    clear();
    (cell.getAttribute('data-from') || '').split(' ').forEach(function (name) {
      (byName[name] || []).forEach(function (e) { e.classList.add('cg-hl'); lit.push(e); });
    });
    cell.classList.add('cg-cur');
    lit.push(cell);
    var text = cell.getAttribute('title');
    if (status && text) { status.textContent = text; status.hidden = false; }
  }
  function entry(e) {
    var cell = e.target.closest && e.target.closest('[data-term]');
    return cell && root.contains(cell) ? cell : null;
  }
  root.addEventListener('mouseover', function (e) { var c = entry(e); if (c) show(c); });
  root.addEventListener('mouseout', function (e) {
    var c = entry(e);
    if (!c) return;
    var focused = entry({target: document.activeElement});
    if (focused) show(focused); else clear();
  });
  root.addEventListener('focusin', function (e) { var c = entry(e); if (c) show(c); });
  root.addEventListener('focusout', function (e) { if (entry(e)) clear(); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') {
      clear();
      if (root.contains(document.activeElement)) document.activeElement.blur();
    }
  });
  var steps = root.querySelectorAll('.cg-step');
  var nav = root.querySelector('.cg-nav');
  if (!nav || !steps.length) return;
  var at = 0, where = nav.querySelector('.cg-where');
  var prev = nav.querySelector('.cg-prev'), next = nav.querySelector('.cg-next');
  function go(k) {
    at = Math.max(0, Math.min(steps.length - 1, k));
    steps.forEach(function (s, i) { s.classList.toggle('cg-on', i === at); });
    where.textContent = (at + 1) + ' / ' + steps.length;
    prev.disabled = at === 0;
    next.disabled = at === steps.length - 1;
    clear();
  }
  prev.addEventListener('click', function () { go(at - 1); });
  next.addEventListener('click', function () { go(at + 1); });
  document.addEventListener('keydown', function (e) {
    if (e.target.closest && e.target.closest('input, textarea')) return;
    if (e.key === 'ArrowRight' || e.key === 'PageDown') go(at + 1);
    if (e.key === 'ArrowLeft' || e.key === 'PageUp') go(at - 1);
  });
  nav.hidden = false;
  root.classList.add('cg-stepping');
  go(0);
})(document.currentScript && document.currentScript.parentElement);
"""

# Control characters other than tab and the line ends (a name's "\x01" or "\e" in YAML) are
# parse errors in HTML, and XML tools refuse the page.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def escape(text: str, quote: bool = True) -> str:
    """Text for the page: html.escape, and control characters dropped."""
    return _escape(_CONTROL.sub("", text), quote)


def to_html(trace: Trace, explain: bool = False, lang: str = "en", terms: str = "auto",
            show_all: bool = False, page: bool = True) -> str:
    """The page of `solve` (terms: all, auto, none) or `explain` (show_all: --all); with
    page=False the one <div> (style and script inside) that a notebook shows."""
    sections = list(trace.sections())
    full = show_all if explain else terms == "all"
    writer = _Writer(lang, full, trace.problem.conventions.index_base)
    with formulas_in(lang):  # the terms written out for each entry are formulas too
        for section in sections:
            writer.learn(section)
    parts = (explain_parts(trace, show_all, sections) if explain else
             solve_parts(trace, terms, context=True, sections=sections))
    title = say_key("doc.explain" if explain else "doc.solve", lang)
    if trace.problem.name:
        title += say_key("list.colon", lang) + trace.problem.name
    body = [f'<h1>{escape(title)}</h1>',
            f'<p class="cg-note">{escape(say_key("nav.hint", lang))}</p>']
    if explain:
        body.append('<nav class="cg-nav" hidden><button type="button" class="cg-prev">'
                    f'{escape(say_key("nav.previous", lang))}</button>'
                    '<span class="cg-where"></span><button type="button" class="cg-next">'
                    f'{escape(say_key("nav.next", lang))}</button></nav>')
    with formulas_in(lang):
        body += _steps(list(parts), writer) if explain else [writer.part(p) for p in parts]
    body.append('<div class="cg-status" aria-live="polite" hidden></div>')
    div = (f'<div class="convgrad" lang="{lang}"><style>{STYLE}</style>\n' + "\n".join(body) +
           f"\n<script>{SCRIPT}</script></div>")
    if not page:
        return div + "\n"
    return ('<!DOCTYPE html>\n'
            f'<html lang="{"zh-Hans" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            # Nothing leaves the page: no fetch, no font, no image from anywhere.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            'style-src \'unsafe-inline\'; script-src \'unsafe-inline\'">\n'
            f'<title>{escape(title)}</title>\n</head>\n<body>\n{div}\n</body>\n</html>\n')


def _steps(parts: list[Part], writer: _Writer) -> list[str]:
    """The walkthrough's steps, each with its sub-steps, one <section> a step."""
    out: list[str] = []
    for part in parts:
        if not part.sub or not out:
            out.append('<section class="cg-step">')
        else:
            out[-1] = out[-1].removesuffix("</section>")
        out[-1] += writer.part(part) + "</section>"
    return out


class _Writer:
    """Writes parts as HTML; knows, for every entry whose term the trace writes out, the
    entries it is made of and its term as text."""

    def __init__(self, lang: str, full: bool, base: int = 1) -> None:
        self.lang = lang
        self.base = base  # how entries are numbered (SPEC section 7's index_base)
        self.full = full
        self.elide = not full
        self.pointed: dict[str, tuple[str, str]] = {}  # name -> (data-from, term)
        self.namers: dict[int, Callable[[tuple[int, ...]], str]] = {}

    def learn(self, section: Section) -> None:
        """What each entry made by the section's groups is made of, and its term."""
        from convgrad.render.naming import entry_check_name

        for group in section.groups:
            if group.count > POINTED:
                continue
            for n in range(group.count):
                exp = group.make(n)
                name = entry_check_name(exp.label)
                self.pointed[name] = (" ".join(sources(exp, self.namers)), self._term(exp))

    def _term(self, exp: Expansion) -> str:
        label = label_text(exp.label)
        out = label
        joint = " = " if exp.value is not None else " → "  # → : where a number goes
        if exp.symbolic:
            out += joint + written(exp.symbolic, self.elide)
        numeric = written(exp.numeric, self.elide)
        value = None if exp.value is None else show_number(exp.value)
        if value is not None and numeric.strip("()") == value:
            numeric = value  # a lone term is the value: "= -2", not "= (-2)"
        out += joint + numeric
        if value is not None and numeric != value:
            out += " = " + value
        return out

    # words

    def words(self, value: Any) -> str:
        return say(value, self.lang, escape, self._formula)

    def _formula(self, value: Any) -> str:
        return f'<span class="cg-f">{escape(written(value, self.elide))}</span>'

    # parts and blocks

    def part(self, part: Part) -> str:
        tag = "h3" if part.sub else "h2"
        out = [f"<{tag}>{self.words(part.title)}</{tag}>"]
        if part.why:
            out.append(f'<p class="cg-why">{self.words(part.why)}</p>')
        out += [self.block(block) for block in part.blocks]
        return "\n".join(out)

    def block(self, block: Block) -> str:
        if isinstance(block, Lines):
            if block.style == "formula":
                return "".join(f'<p class="cg-formula">{self.words(line)}</p>'
                               for line in block.lines)
            if block.style == "fact":
                items = "".join(f"<li>{self.words(line)}</li>" for line in block.lines)
                return f'<ul class="cg-lines">{items}</ul>'
            return "".join(f'<p class="cg-{block.style}">{self.words(line)}</p>'
                           for line in block.lines)
        if isinstance(block, Grids):
            return self.grids(block)
        assert isinstance(block, Sums)
        return "\n".join(self.expansion(exp, symbolic, block.elide)
                         for exp, symbolic in block.expansions)

    def expansion(self, exp: Expansion, symbolic: bool, elide: bool) -> str:
        label = escape(label_text(exp.label))
        out = f'<div class="cg-exp"><span class="cg-label">{label}</span>'
        joint = " = " if exp.value is not None else " → "  # → : where a number goes
        if symbolic and exp.symbolic:
            out += f'<span class="cg-sym">{joint}{escape(written(exp.symbolic, elide))}</span>\n'
            out += " " * len(label_text(exp.label))
        numeric = written(exp.numeric, elide)
        value = None if exp.value is None else show_number(exp.value)
        if value is not None and numeric.strip("()") == value:
            numeric = value  # a lone term is the value: "= -2", not "= (-2)"
        out += joint + escape(numeric)
        if value is not None and numeric != value:
            out += f" = <b>{escape(value)}</b>"
        if exp.note:
            out += f' <span class="cg-note">({self.words(exp.note)})</span>'
        return out + "</div>"

    def grids(self, block: Grids) -> str:
        figures = []
        notes = []
        for grid in block.grids:
            drawn, more = slices(grid, block.full, block.crop, block.base)
            for piece in drawn:
                figures.append(self.table(grid, piece))
            if more:
                hint = "more.slices_hint.all" if block.crop else "more.slices_hint"
                notes.append(escape(joined([say_key("more.slices", self.lang, n=more,
                                                    title=self._title(grid)),
                                            say_key(hint, self.lang)], self.lang)))
        kind = " cg-context" if block.context else ""
        out = f'<div class="cg-grids{kind}">' + "".join(figures) + "</div>"
        return out + "".join(f'<p class="cg-note">{note}</p>' for note in notes)

    def _title(self, grid: Grid) -> str:
        title = grid.matrix.title
        if isinstance(title, (Phrase, Whole)):
            from convgrad.render.terminal import said

            return said(title, self.lang)
        return title

    def table(self, grid: Grid, piece: Any) -> str:
        matrix = grid.matrix
        namer = self.namers.setdefault(id(matrix), cell_namer(matrix, self.base))
        caption = self._title(grid)
        sep = say_key("list.sep", self.lang)
        if piece.where:
            caption += sep + sep.join(f"{say_key(key, self.lang)} {n}"
                                      for key, n in piece.where)
        if piece.region is not None:
            caption += sep + say_key(piece.region.key, self.lang, **piece.region.fields)
        rows_out = []
        for r in piece.rows:
            cells = []
            for c in piece.cols:
                if r is None or c is None:
                    cells.append('<td class="cg-gap">' + ("⋮" if c is not None else "…") +
                                 "</td>")
                    continue
                text = show_number(piece.grid[r, c])
                classes = []
                if piece.pad is not None and piece.pad[r, c]:
                    text = f"({text})"
                    classes.append("cg-pad")
                if (r, c) in piece.marked:
                    classes.append("cg-mark")
                name = namer(piece.index(r, c))
                sources_, term = self.pointed.get(name, ("", ""))
                attrs = f' data-term="{escape(name)}" data-from="{escape(sources_)}"'
                if term:
                    attrs += f' title="{escape(term)}"'
                kind = f' class="{" ".join(classes)}"' if classes else ""
                cells.append(f'<td{kind}{attrs} tabindex="0">{escape(text)}</td>')
            rows_out.append("<tr>" + "".join(cells) + "</tr>")
        return (f'<figure><figcaption>{escape(caption)}</figcaption>'
                f'<table class="cg-m"><tbody>{"".join(rows_out)}</tbody></table></figure>')
