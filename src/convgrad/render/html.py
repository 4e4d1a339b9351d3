"""A solution or a walkthrough as one self-contained web page: no network, no library.

Every matrix is a table; every entry carries `data-term`, its name as `check` takes it
(Y[1,2], dW[1,1], conv1.dW[1,1,2,2]), and `data-from`, the names of the entries its
formula uses (the cells a walkthrough marks). Pointing at an entry or focusing it (click,
tap, Tab) lights up exactly those and writes its term out below; Escape clears. The
walkthrough is a sequence of steps with next and previous. All of that is a few lines of
inline script and style: with scripts off the page shows every step, every number and
every term as text, and an entry's term as its tooltip.

A large problem is summarised as --terms auto summarises it in every format (render/crop.py):
matrices by their corners, the first terms of each kind. Its page writes the terms of those
entries into them, and their data-from names the entries of the page they are made of (the
ones pointing can light); the other entries carry their name and an empty data-from. So a
notebook's view of a 16x64x64 problem costs what it shows, not its 65,536 outputs' sums.

Formulas are written as the terminal writes them (render/terminal.py's FORMS), as text.
`to_html(..., page=False)` gives the one <div> a notebook shows (styles scoped to it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape as _escape
from typing import Any

import numpy as np

from convgrad.render.crop import AUTO_EXPANSIONS, FULL, expansions_shown, is_large
from convgrad.render.document import (
    Block,
    Grid,
    Grids,
    Lines,
    Part,
    Sums,
    cell_namer,
    entries,
    explain_parts,
    say,
    slices,
    solve_parts,
)
from convgrad.render.terminal import label_text, written
from convgrad.render.words import formulas_in, joined
from convgrad.render.words import say as say_key
from convgrad.trace import Expansion, Group, Matrix, Phrase, Section, Trace, Whole, show_number

# A page that draws every matrix whole writes the terms of every entry of a kind of at most
# this many into its entries, for pointing at (12 x 12 outputs of 16 channels: 2,304); a
# page that draws a large matrix by its corners, those of the entries it writes out.
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
    writer = _Writer(lang, full, trace.problem.conventions.index_base,
                     "explain" if explain else terms)
    parts = list(explain_parts(trace, show_all, sections) if explain else
                 solve_parts(trace, terms, context=True, sections=sections))
    if not full:
        for part in parts:  # a large problem is summarised as in every format (render/crop.py)
            part.blocks = [block for block in part.blocks if not _large_context(block)]
    # First what the page draws, then what each entry whose term it writes is made of: a
    # large problem's page draws its matrices by their corners and writes a few terms of
    # each kind, and costs that much, however many entries the problem has.
    writer.draws(parts)
    with formulas_in(lang):  # the terms written out for each entry are formulas too
        for section in sections:
            writer.learn(section)
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


def _large_context(block: Block) -> bool:
    """Whether a block draws again, beside the terms that use it, a matrix a summary shows
    by its corners (X of 16x64x64 with dL/dW): the page then shows what the Markdown shows,
    and pointing at a term lights the matrix where the page first drew it."""
    return isinstance(block, Grids) and block.context and \
        any(is_large(grid.matrix) for grid in block.grids)


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
    """Writes parts as HTML; knows, for every entry whose term the page writes out, the
    entries of the page it is made of and its term as text.

    terms: solve's --terms (all, auto, none), or "explain"."""

    def __init__(self, lang: str, full: bool, base: int = 1, terms: str = "auto") -> None:
        self.lang = lang
        self.base = base  # how entries are numbered (SPEC section 7's index_base)
        self.full = full
        self.terms = terms
        self.elide = not full
        self.pointed: dict[str, tuple[str, str]] = {}  # name -> (data-from, term)
        self.namers: dict[int, Callable[[tuple[int, ...]], str]] = {}
        self.drawn: set[str] = set()  # the names of the entries the page draws
        # Whether the page draws a large matrix by its corners (or cut to a step's region):
        # then a data-from names only entries of the page, the ones pointing can light up,
        # and an entry made of 8,192 cells (dL/dw of a 16x64x64 input) costs the few of
        # them drawn, not 8,192 names.
        self.summarised = False
        # For each matrix drawn (by _key: X and dL/dY of one shape are two), the cells of it
        # drawn, and the heads of the names it draws (X, X_pad).
        self.where: dict[tuple[Any, ...], np.ndarray] = {}
        self.heads: dict[tuple[Any, ...], set[str]] = {}
        self.shares: dict[tuple[Any, ...], bool] = {}  # by _key: see _shared
        self.known: dict[tuple[Any, ...], np.ndarray] = {}  # by _key: see _drawn_names
        self.tables: dict[int, tuple[Matrix, np.ndarray]] = {}  # by id: see _names

    def draws(self, parts: list[Part]) -> None:
        """Learns which entries the parts draw (the cells of their tables)."""
        for part in parts:
            for block in part.blocks:
                if isinstance(block, Grids):
                    for grid in block.grids:
                        self._draws(grid, block)

    def _draws(self, grid: Grid, block: Grids) -> None:
        matrix = grid.matrix
        namer = self._namer(matrix)
        shape = matrix.array.shape
        key = self._key(matrix)
        where = self.where.setdefault(key, np.zeros(shape, dtype=bool))
        heads = self.heads.setdefault(key, set())
        for piece in slices(grid, block.full, block.crop, block.base)[0]:
            self.summarised = self.summarised or piece.region is not None or \
                None in piece.rows or None in piece.cols
            for r in piece.rows:
                for c in piece.cols:
                    if r is not None and c is not None:
                        index = piece.index(r, c)
                        where[index] = True
                        name = namer(index)
                        self.drawn.add(name)
                        heads.add(name.partition("[")[0])

    def learn(self, section: Section) -> None:
        """What each entry whose term the page writes (of the section's groups) is made of,
        and its term."""
        from convgrad.render.naming import entry_check_name

        for group in section.groups:
            for n in range(self._pointed(group)):
                exp = group.make(n)
                name = entry_check_name(exp.label)
                self.pointed[name] = (" ".join(self._sources(exp)), self._term(exp))

    def _pointed(self, group: Group) -> int:
        """How many of the group's entries (the first ones) the page writes the terms of into
        its entries: all of a kind of at most AUTO_EXPANSIONS, or of at most POINTED where
        the page draws every matrix whole; else those --terms or explain writes out."""
        if self.full or group.count <= AUTO_EXPANSIONS or \
                (not self.summarised and group.count <= POINTED):
            return group.count
        return min(FULL, group.count) if self.terms == "explain" else \
            expansions_shown(group.count, self.terms)

    def _sources(self, exp: Expansion) -> list[str]:
        """The names of the entries an expansion's number is made of: the cells a
        walkthrough highlights (its focus), else every entry of its formula; of a summarised
        page, those the page draws."""
        found: list[str] = []
        if exp.focus is not None:
            for matrix, cells in exp.focus():
                if self.summarised:
                    found += self._drawn_names(matrix, cells)
                elif cells:  # every cell named once (solve --terms all), picked out by index
                    table = self._names(matrix)
                    at = np.asarray(cells, dtype=np.intp).reshape(len(cells), table.ndim)
                    found += table[tuple(at.T)].tolist() if table.ndim else \
                        [str(table[()])] * len(cells)
        else:
            entries(exp.symbolic, found)
        names = dict.fromkeys(found)
        return [name for name in names if name in self.drawn] if self.summarised else \
            list(names)

    def _namer(self, matrix: Matrix) -> Callable[[tuple[int, ...]], str]:
        """How the page names the cells of `matrix` (data-term): from its table of names
        where it names all or most of them (a matrix drawn whole, --terms all), else one by
        one (a large matrix by its corners)."""
        if self.full or not is_large(matrix):
            return self._names(matrix).__getitem__
        return self.namers.setdefault(id(matrix), cell_namer(matrix, self.base))

    def _names(self, matrix: Matrix) -> np.ndarray:
        """The name of every cell of `matrix`, made once: strings in matrix.array's shape."""
        made = self.tables.get(id(matrix))
        if made is None:
            namer = self.namers.setdefault(id(matrix), cell_namer(matrix, self.base))
            shape = matrix.array.shape
            names = np.empty(matrix.array.size, dtype=object)
            names[:] = [namer(index) for index in np.ndindex(shape)]
            made = self.tables[id(matrix)] = (matrix, names.reshape(shape))  # kept: its id stays
        return made[1]

    def _key(self, matrix: Matrix) -> tuple[Any, ...]:
        """A matrix as the page names it: its shape and the names of its first and last
        cells. Two objects of one matrix (dL/dY drawn, and dL/dY as a term of dL/dW uses it)
        share it; two matrices of one shape (X and dL/dY, W and dL/dW, two layers' dL/dZ) do
        not."""
        shape = matrix.array.shape
        if not matrix.array.size:
            return (shape, id(matrix))
        namer = self._namer(matrix)
        return (shape, namer((0,) * len(shape)), namer(tuple(n - 1 for n in shape)))

    def _shared(self, key: tuple[Any, ...]) -> bool:
        """Whether another matrix drawn names entries as the one of `key` does (the padding
        step's unpadded X and the padded X the convolution uses both name X[1,8,3])."""
        shared = self.shares.get(key)
        if shared is None:
            heads = self.heads[key]
            shared = self.shares[key] = any(
                other != key and not heads.isdisjoint(names)
                for other, names in self.heads.items())
        return shared

    def _drawn_names(self, matrix: Matrix, cells: list[tuple[int, ...]]) -> list[str]:
        """Of a summarised page, the names of the cells (indices into matrix.array) the page
        draws: those drawn of this matrix, picked at once, so that only they are named; and
        where another matrix draws entries of the same names, the others that it draws."""
        namer = self._namer(matrix)
        key = self._key(matrix)
        where = self.where.get(key)
        if where is None or not cells:  # a matrix drawn nowhere: its cells may be elsewhere
            return [name for name in map(namer, cells) if name in self.drawn]
        at = np.asarray(cells, dtype=np.intp).reshape(len(cells), where.ndim)
        own = where[tuple(at.T)] if where.ndim else np.full(len(cells), bool(where[()]))
        if self._shared(key):
            # Whether each cell's name is drawn, once a cell (the terms of dL/dw[1,1,p,q]
            # share most of X's channel): 1 drawn, -1 not, 0 not yet named.
            known = self.known.get(key)
            if known is None:
                known = self.known[key] = where.astype(np.int8)
            seen = known[tuple(at.T)] if where.ndim else np.full(len(cells), known[()])
            for k in np.flatnonzero(seen == 0):
                seen[k] = 1 if namer(cells[k]) in self.drawn else -1
                known[cells[k]] = seen[k]
            own = seen == 1
        return [namer(cells[k]) for k in np.flatnonzero(own)]

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
        namer = self._namer(matrix)
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
