"""A solution as a document that any format writes: parts made of blocks, from the trace.

`solve_parts` gives one part per section of the trace, then the results at a glance, as
render/terminal.py prints them; `explain_parts` gives the steps of the walkthrough in the
order explain.py shows them (padding, each kind's first elements in full with the cells they
are made of, the rest, the result; with `steps: k` the rounds after the first). Both keep
the trace's data (Words, Matrices, Expansions): a format says the words in its language,
writes the formulas in its notation and decides how a highlighted cell looks. Which
expansions, terms and cells are shown follows --terms (solve) and --all (explain), as on
the terminal, so that a large problem is summarised the same way in every format.

`say` puts a Phrase into words with a format's own escaping of text and writing of the
formulas, entries and arrays among its fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from string import Formatter
from typing import Any

import numpy as np

from convgrad.model import Conventions
from convgrad.render.crop import (
    FULL,
    LISTED,
    MAX_SLICES,
    cut,
    cuts_any,
    expansions_shown,
    marked_slices,
    shown,
)
from convgrad.render.naming import (
    check_key,
    check_name,
    entry_check_name,
    index_text,
    result_axes,
    round_values,
)
from convgrad.render.words import sentences
from convgrad.trace import (
    Entry,
    Expansion,
    Form,
    Group,
    Matrix,
    Phrase,
    Section,
    Terms,
    Trace,
    Whole,
    Words,
)

# How many training rounds (`steps: k`) explain writes out, the first (the walkthrough)
# included; the others it lists as `solve` does, unless --all.
ROUNDS = 3

# --- the blocks of a part -------------------------------------------------------------------


@dataclass
class Lines:
    """Sentences and formulas, one a line. style: why, fact, formula, note, warning."""

    lines: list[Words | str]
    style: str = "fact"


@dataclass
class Grid:
    """A matrix to draw, with the cells (indices into matrix.array) to highlight."""

    matrix: Matrix
    marked: list[tuple[int, ...]] = field(default_factory=list)


@dataclass
class Grids:
    """Matrices side by side. full: every entry (else a large one by its corners and its
    first MAX_SLICES slices). context: drawn again beside the terms that use it (only a
    format that can point at cells, html, shows these)."""

    grids: list[Grid]
    full: bool
    context: bool = False
    # A step of explain about a large matrix: only the slices holding marked cells, each cut
    # to the rows and columns around them, numbered from `base` (render/crop.py).
    crop: bool = False
    base: int = 1


@dataclass
class Sums:
    """Expansions one after another, `label = symbolic` (when asked) `= numeric = value`;
    elide: long sums shortened in the middle."""

    expansions: list[tuple[Expansion, bool]]
    elide: bool


Block = Lines | Grids | Sums


@dataclass
class Part:
    """A section of solve or a step of explain: a title, the why, the blocks. sub: a
    sub-step of explain (3.1, 3.2 ...)."""

    title: Words | str  # "" until the walkthrough numbers the step
    why: Words | None
    blocks: list[Block] = field(default_factory=list)
    sub: bool = False


# --- saying words in a format ---------------------------------------------------------------


def say(words: Words | Entry | str, lang: str, text: Callable[[str], str],
        math: Callable[[Any], str]) -> str:
    """What a Phrase says in `lang`, its literal words through `text` (a format's escaping)
    and its formulas, entries and arrays through `math`; a formula or a name alone through
    `math`, a string through `text`."""
    if isinstance(words, str):
        return text(words)
    if not isinstance(words, Phrase):
        return math(words)
    en, zh = sentences(words.key)
    out = []
    for literal, name, _, _ in Formatter().parse(zh if lang == "zh" else en):
        out.append(text(literal))
        if name is None:
            continue
        value = words.fields[name]
        if isinstance(value, (Phrase, Form, Whole, Entry)):
            out.append(say(value, lang, text, math))
        else:
            out.append(text(str(value)))
    out.append(text(words.after))
    return "".join(out)


def step_title(n: object, title: Words | Entry | str) -> Phrase:
    """Step 3: Forward: conv1; Step 3.1: y11."""
    return Phrase("step.step", {"n": n, "title": title})


# --- solve ----------------------------------------------------------------------------------


def solve_parts(trace: Trace, terms: str = "auto", context: bool = False,
                sections: list[Section] | None = None) -> Iterator[Part]:
    """Every section of the trace (or of `sections`, the trace's already made) as a part,
    as `solve` prints it, then the results. context: also the matrices a section's terms
    are made of (for html, to point at)."""
    full = terms == "all"
    for section in trace.sections() if sections is None else sections:
        yield _section_part(section, terms, context)
    yield results_part(trace, full)


def _section_part(section: Section, terms: str, context: bool) -> Part:
    full = terms == "all"
    part = Part(section.title, section.why)
    if section.lines:
        part.blocks.append(Lines(list(section.lines)))
    if section.matrices:
        part.blocks.append(_grids(section.matrices, full))
    if context and section.context:
        part.blocks.append(replace(_grids(section.context, full), context=True))
    for group in section.groups:
        exps, rest = _shown(group, terms)
        if exps:
            part.blocks.append(Sums([(exp, k == 0) for k, exp in enumerate(exps)], not full))
        if rest:
            part.blocks.append(Lines([
                Phrase("more.same_rule", {"n": f"{rest:,}"}) if exps else
                Phrase("more.not_shown", {"title": group.title, "n": f"{rest:,}"})], "note"))
        if group.trailer and exps:
            part.blocks.append(Lines([group.trailer], "note"))
    if section.results:
        part.blocks.append(_grids(section.results, full))
    return part


def _shown(group: Group, terms: str) -> tuple[list[Expansion], int]:
    """The expansions of `group` solve writes under --terms, and how many are left out."""
    count = expansions_shown(group.count, terms)
    return [group.make(i) for i in range(count)], group.count - count


def results_part(trace: Trace, full: bool) -> Part:
    """The results at a glance, keyed as `solve --json` keys them (Y, dW, loss)."""
    from convgrad.result import Result

    result = Result.from_run(trace.run)
    batched = trace.problem.batched
    grids, scalars = [], []
    for key in result.top_keys:
        value = result[key]
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            axes = result_axes(key, value.ndim, batched, trace.problem.conventions)
            grids.append(Grid(Matrix(key, value, axis_names=axes)))
        else:
            if isinstance(value, np.ndarray):
                value = value[()]
            scalars.append(Form("is", (key, value)))
    blocks: list[Block] = []
    if grids:
        blocks.append(Grids(grids, full))
    arithmetic = Phrase("arith.exact" if trace.run.exact else "arith.float")
    blocks.append(Lines([*scalars, Phrase("fact.arithmetic", {"mode": arithmetic})], "fact"))
    for k, step in enumerate(result.get("steps") or [], start=1):
        blocks += _training_step(k, step, full, trace.problem.conventions)
    return Part(Phrase("title.results"), None, blocks)


def _training_step(k: int, step: dict[str, Any], full: bool, conventions: Conventions
                   ) -> list[Block]:
    """One round of `steps: k` (SPEC section 6), as `solve` shows it: its loss, before its
    update, and the parameters after it, by the keys `check` takes (steps[2].W_new)."""
    lines: list[Words | str] = [Form("is", (f"steps[{k}].loss", step["loss"]))]
    grids = []
    for name, value in round_values(k, step):
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            axes = result_axes(name, value.ndim, False, conventions)
            grids.append(Grid(Matrix(name, value, axis_names=axes)))
        else:
            lines.append(Form("is", (name, value[()] if isinstance(value, np.ndarray)
                                     else value)))
    blocks: list[Block] = [Lines(lines, "fact")]
    if k == 1:
        blocks.insert(0, Lines([Phrase("why.steps")], "why"))
    return [*blocks, Grids(grids, full)] if grids else blocks


def _grids(matrices: list[Matrix], full: bool) -> Grids:
    return Grids([Grid(m) for m in matrices], full)


# --- explain --------------------------------------------------------------------------------


class Walk:
    """explain's steps as parts, in explain.py's order; show_all: every element in full."""

    def __init__(self, trace: Trace, show_all: bool = False,
                 sections: list[Section] | None = None) -> None:
        self.trace = trace
        self.sections = sections
        self.show_all = show_all
        self.elide = not show_all
        self.current = 0

    def parts(self) -> Iterator[Part]:
        sections = self.trace.sections() if self.sections is None else self.sections
        for title, part in chain(chain.from_iterable(map(self._steps_of, sections)),
                                 self._rounds()):
            if title is None:
                yield part
                continue
            self.current += 1
            part.title = step_title(self.current, title)
            yield part

    def _rounds(self) -> Iterator[tuple[Words | None, Part]]:
        """The training rounds after the first (`steps: k`): the first ROUNDS (every one
        with --all) a step each, their update written out; the others as `solve` lists
        them, in one step that says so."""
        total = len(self.trace.run.rounds)
        shown = rounds_written(total, self.show_all)
        for section in islice(self.trace.round_sections(), max(shown - 1, 0)):
            blocks: list[Block] = [Lines(list(section.lines)), *self._blocks(section.matrices)]
            for group in section.groups:
                blocks += self._expansions(group)
            yield section.title, Part("", section.why, blocks + self._blocks(section.results))
        if shown < total:
            from convgrad.result import Result

            steps = Result.from_run(self.trace.run)["steps"]
            conventions = self.trace.problem.conventions
            blocks = [block for k in range(shown + 1, total + 1)
                      for block in _training_step(k, steps[k - 1], self.show_all, conventions)]
            title, why = listed_rounds(shown, total)
            yield title, Part("", why, blocks)

    def _steps_of(self, section: Section) -> Iterator[tuple[Words | None, Part]]:
        kind = section.kind
        title, why = section.title, section.why
        if kind == "problem":
            part = Part(title, why, [Lines(list(section.lines))])
            warnings = self.trace.problem.warnings
            if warnings:
                part.blocks.append(Lines([Phrase("step.warnings.list"),
                                          *(Phrase("notice.item", {"notice": notice_words(w)})
                                            for w in warnings)], "warning"))
            yield title, part
            return
        extra = walk_steps(self.trace, section)
        if "padding" in extra:
            yield from self._padding(section)
        if kind == "loss":
            loss, dy = section.groups
            yield Phrase("step.loss.L"), Part("", why, [*self._blocks(section.matrices),
                                                        *self._expansions(loss)])
            yield Phrase("step.loss.dY"), Part(
                "", Phrase("step.loss.dY.why", {"rule": dy.rule}),
                [*self._expansions(dy), *self._blocks(section.results)])
            return
        if "bias" in extra:
            dw, db = section.groups
            yield from self._group_steps(title, why, dw, section.results)
            if self.trace.problem.single:
                yield from self._group_steps(Phrase("step.db"), Phrase("step.db.why"), db, [])
            else:  # a network's layer: its own bias and output gradient (dL/dconv2.b, dL/dY)
                yield from self._group_steps(db.title, db.rule, db, [])
            return
        if "uncovered" in extra:
            yield from self._group_steps(title, why, section.groups[0], section.results,
                                         extra=self._uncovered())
            return
        # X was shown by the padding step
        inputs = section.matrices[1:] if "padding" in extra else section.matrices
        for k, group in enumerate(section.groups):
            last = k == len(section.groups) - 1
            yield from self._group_steps(title if k == 0 else group.title,
                                         why if k == 0 else group.rule, group,
                                         section.results if last else [],
                                         inputs if k == 0 else [])
        if not section.groups:
            yield title, Part("", why, self._blocks(section.matrices))

    def _padding(self, section: Section) -> Iterator[tuple[Words | None, Part]]:
        x_matrix = section.matrices[0]
        if x_matrix.pad is None:
            yield Phrase("step.padding"), Part("", Phrase("step.padding.none"),
                                               self._blocks([x_matrix]))
            return
        unpadded = x_matrix.unpadded()
        title = x_matrix.title
        name = title.fields["name"] if isinstance(title, Phrase) else title
        assert isinstance(name, Whole)
        original = Matrix(name, unpadded, None, x_matrix.axis_names)
        # Padding that copies input cells (reflect, replicate, circular) says how it copies.
        why = Phrase("step.padding.why")
        if isinstance(title, Phrase) and title.key == "matrix.padded_copies":
            why = Phrase("step.padding.why.copies", {"mode": title.fields["mode"],
                                                     "rule": title.fields["rule"]})
        yield Phrase("step.padding"), Part("", why, self._blocks([original, x_matrix]))

    def _group_steps(self, title: Words, why: Words, group: Group, results: list[Matrix],
                     inputs: list[Matrix] | None = None, extra: list[Block] | None = None
                     ) -> Iterator[tuple[Words | None, Part]]:
        """A step for the kind, its first elements in full as sub-steps, then the rest."""
        full = group.count if self.show_all else min(FULL, group.count)
        head = Part("", why, self._blocks(inputs or []))
        if isinstance(group.title, Form):
            head.blocks.append(Lines([group.title], "formula"))
        yield title, head
        current = self.current  # the head's number, given as it was yielded
        for n in range(full):
            exp = group.make(n)
            yield None, Part(step_title(f"{current}.{n + 1}", exp.label), None,
                             self._in_full(exp), sub=True)
        rest = group.count - full
        tail: list[Block] = []
        if rest > 0:
            listed = rest if self.show_all or group.count <= LISTED else 0
            if listed:
                tail.append(Sums([(group.make(n), False) for n in range(full, full + listed)],
                                 self.elide))
            if rest > listed:
                tail.append(Lines([Phrase("more.same_rule", {"n": f"{rest - listed:,}"})],
                                  "note"))
        if group.trailer:
            tail.append(Lines([group.trailer], "note"))
        tail += self._blocks(results)
        tail += extra or []
        if tail:
            yield None, Part(step_title(current, Phrase("step.the_rest" if rest > 0 else
                                                        "step.result")), None, tail, sub=True)

    def _in_full(self, exp: Expansion) -> list[Block]:
        blocks: list[Block] = []
        if exp.focus is not None:
            focus = exp.focus()
            # As explain.py: a large matrix cut to the region of the step, unless --all.
            crop = not self.show_all and cuts_any(focus)
            blocks.append(Grids([Grid(matrix, list(cells)) for matrix, cells in focus], True,
                                crop=crop, base=self.trace.problem.conventions.index_base))
            # Without a value the expansion says where a number goes (a scatter), not what
            # it is made of.
            blocks.append(Lines([Phrase("step.highlight" if exp.value is not None
                                        else "step.highlight.scatter")], "note"))
        blocks.append(Sums([(exp, True)], self.elide))
        return blocks

    def _expansions(self, group: Group) -> list[Block]:
        count = group.count if self.show_all or group.count <= LISTED else FULL
        blocks: list[Block] = [Sums([(group.make(n), n == 0) for n in range(count)],
                                    self.elide)]
        if count < group.count:
            blocks.append(Lines([Phrase("more.same_rule", {"n": f"{group.count - count:,}"})],
                                "note"))
        return blocks

    def _blocks(self, matrices: list[Matrix]) -> list[Block]:
        return [_grids(matrices, self.show_all)] if matrices else []

    def _uncovered(self) -> list[Block]:
        rows = uncovered_note(self.trace.problem.warnings)
        if rows is None:
            return []
        return [Lines([Phrase("step.uncovered", {"rows": rows})], "note")]


def rounds_written(total: int, show_all: bool) -> int:
    """How many of `total` training rounds a walkthrough writes out, the first (its own
    sections) included: ROUNDS, every one with --all; the others it lists as solve does."""
    return total if show_all else min(ROUNDS, total)


def listed_rounds(shown: int, total: int) -> tuple[Phrase, Phrase]:
    """The title and why of the walkthrough's step that lists rounds shown + 1 to total as
    solve does ("Rounds 4 to 6", or "Round 4" when it is one)."""
    fields: dict[str, object] = {"first": shown + 1, "last": total, "prev": shown}
    if shown + 1 == total:
        return Phrase("title.round", {"n": total}), Phrase("step.rounds.why.one", fields)
    return Phrase("step.rounds", fields), Phrase("step.rounds.why", fields)


def walk_steps(trace: Trace, section: Section) -> tuple[str, ...]:
    """The steps a walkthrough adds to `section`, as its layer's class says (Layer.walk_steps:
    padding, bias, uncovered); none for a section of no layer (the problem, the loss)."""
    step = next((step for step in trace.run.passes if step.layer.name == section.layer), None)
    return () if step is None else type(step).walk_steps.get(section.kind, ())


def notice_words(notice: Any) -> Phrase | str:
    """A warning as the walkthrough lists it: its message; in Chinese, a warning about input
    rows or columns that a layer never reads is said from its data (the message is English)."""
    from convgrad.errors import POOL_DROPPED, UNCOVERED

    if notice.kind not in (UNCOVERED, POOL_DROPPED):
        return str(notice)
    return Phrase(f"notice.{notice.kind}", _notice_fields(notice))


def _notice_fields(notice: Any) -> dict[str, object]:
    """The fields of a warning about input rows or columns: its English message, and for the
    Chinese its layer, axis and 1-based positions (2、4)."""
    return {"message": str(notice), "layer": notice.layer, "axis": Phrase(f"axis.{notice.axis}"),
            "positions": "、".join(str(i + 1) for i in notice.positions)}


def uncovered_note(warnings: Iterable[Any]) -> Phrase | None:
    """The input rows and columns no window meets (the UNCOVERED warnings), as the note after
    "its dL/dx is 0": " (conv1: input rows 2, 4 never meet the kernel ...; ...)". In Chinese
    each is said from its data, its layer, axis and 1-based positions (the message is
    English): （conv1：输入第 2、4 行；...）. None when there is none."""
    from convgrad.errors import UNCOVERED

    notes = [Phrase("notice.missed", _notice_fields(w)) for w in warnings if w.kind == UNCOVERED]
    if not notes:
        return None
    note = notes[0]
    for more in notes[1:]:
        note = Phrase("note.and", {"a": note, "b": more})
    return Phrase("note.rows", {"note": note})


def explain_parts(trace: Trace, show_all: bool = False,
                  sections: list[Section] | None = None) -> Iterator[Part]:
    """explain's steps as parts (see Walk)."""
    return Walk(trace, show_all, sections).parts()


# --- what a grid shows, and how its cells are named -------------------------------------------


@dataclass
class Slice:
    """One 2-D slice of a matrix as a format draws it: its title's extra words (filter 1,
    channel 2), the grid, padding and marks, each cell's index into matrix.array, the rows
    and columns to draw (None: the elided middle) and, for a cut, their numbers in words."""

    where: list[tuple[str, int]]  # (axis word key, 1-based number): [("axis.filter", 1)]
    grid: np.ndarray
    pad: np.ndarray | None
    marked: set[tuple[int, int]]
    index: Callable[[int, int], tuple[int, ...]]
    rows: list[int | None] = field(default_factory=list)
    cols: list[int | None] = field(default_factory=list)
    region: Phrase | None = None  # "rows 4-7, columns 10-13 of 34"


def slices(grid: Grid, full: bool, crop: bool = False, base: int = 1
           ) -> tuple[list[Slice], int]:
    """The 2-D slices of a grid's matrix to draw (the first MAX_SLICES unless full), and how
    many more there are. crop: only the slices holding marked cells (the first MAX_SLICES),
    each cut to the region around them (render/crop.py)."""
    matrix = grid.matrix
    arr = matrix.array
    vector, axes = arr.ndim < 2, arr.ndim
    marked = {tuple(cell) for cell in grid.marked}
    if vector:  # a vector (or a single number: a kernel written "1") as one row
        arr = arr.reshape(1, -1)
        marked = {(0,) * (2 - len(cell)) + cell for cell in marked}
    pad = None if matrix.pad is None else matrix.pad.reshape(arr.shape)
    lead = arr.shape[:-2]
    names = matrix.axis_names[-len(lead):] if lead else ()
    out: list[Slice] = []
    every = list(np.ndindex(lead))
    if crop:
        every = marked_slices(every, marked)
    for count, index in enumerate(every):
        if (crop or not full) and count == MAX_SLICES:
            return out, len(every) - MAX_SLICES
        where = [(f"axis.{axis}", i + 1)
                 for axis, i in zip(names or ("slice",) * len(index), index, strict=False)]

        def cell(r: int, c: int, index: tuple[int, ...] = index) -> tuple[int, ...]:
            return (c,)[:axes] if vector else (*index, r, c)

        cells = {(m[-2], m[-1]) for m in marked if m[:-2] == index}
        height, width = arr.shape[-2:]
        if crop:
            region = cut(cells, (height, width), base)
            rows, cols, words = region.rows, region.cols, region.words
        else:
            rows, cols, words = shown(height, full), shown(width, full), None
        out.append(Slice(where, arr[index], None if pad is None else pad[index], cells, cell,
                         rows, cols, words))
    return out, 0


def cell_namer(matrix: Matrix, base: int = 1) -> Callable[[tuple[int, ...]], str]:
    """How the cells of `matrix` are named (data-term): as `check` names entries (Y[1,2],
    dW[1,1], conv1.dW[1,1,2,2]); a padded input's real cells as the input's (X[1,1]), its
    padding by the padded position (X_pad[1,1]); the target's as target[1,1]."""
    title = matrix.title
    if isinstance(title, str):
        return lambda index: f"{title}[{index_text(index, base)}]" if index else title
    if isinstance(title, Whole):
        label, new = title.label, title.new
        return lambda index: check_name(label, index, new)
    if matrix.cells is not None:  # a share of the output: Y's cells (Y[1,2,3])
        cells = matrix.cells
        return lambda index: check_name(cells, index)
    whole = title.fields.get("name")
    if isinstance(whole, Whole) and title.key == "matrix.round":  # a later training round's
        label, new, n = whole.label, whole.new, title.fields["n"]  # dW: steps[2].dW[1,1]
        return lambda index: f"steps[{n}].{check_name(label, index, new)}"
    if isinstance(whole, Whole) and matrix.pad is not None:
        pad = matrix.pad
        before = _first_real(pad)
        label = whole.label
        key = check_key(label)

        def padded(index: tuple[int, ...]) -> str:
            if pad[index]:
                return f"{key}_pad[{index_text(index, label.base)}]"
            lead, tail = index[:-len(before)], index[-len(before):]
            return check_name(label, (*lead, *(i - b for i, b in zip(tail, before, strict=True))))

        return padded
    key = "target" if title.key == "matrix.target" else title.key
    return lambda index: f"{key}[{index_text(index, base)}]" if index else key


def _first_real(pad: np.ndarray) -> tuple[int, ...]:
    """The padding's top and left widths, from the mask of a padded input; of a 1-D signal
    (L,), its left width alone."""
    if pad.ndim == 1:
        return (int(np.argmax(~pad)),)
    inner = ~pad.reshape(-1, *pad.shape[-2:])[0]
    return int(np.argmax(inner.any(axis=1))), int(np.argmax(inner.any(axis=0)))


def entries(value: Any, found: list[str]) -> None:
    """Adds to `found` the names of the entries of a formula (Terms, Form, Entry), in order."""
    if isinstance(value, Entry):
        found.append(entry_check_name(value))
    elif isinstance(value, Terms):
        for item in value.items:
            entries(value.term(item), found)
        if value.tail is not None:
            entries(value.tail, found)
    elif isinstance(value, Form):
        for arg in value.args:
            entries(arg, found)
    elif isinstance(value, (tuple, list)):
        for item in value:
            entries(item, found)
