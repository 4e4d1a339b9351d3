"""convgrad explain: the walkthrough, one step at a time, as the seed tutorials teach it.

The numbers and the term expansions come from trace.py, the same ones `solve`
prints; this module only orders them into numbered steps, each a titled panel
with a one-line "why" before the numbers, and highlights the cells each number
is made of. Like render/terminal.py it writes with rich; nothing here computes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.text import Text

from convgrad.engine import Run
from convgrad.render.crop import FULL, LISTED, cuts_any
from convgrad.render.document import (
    listed_rounds,
    notice_words,
    rounds_written,
    uncovered_note,
    walk_steps,
)
from convgrad.render.naming import result_axes, round_values
from convgrad.render.terminal import (
    DIM,
    LABEL,
    VALUE,
    WHY,
    block_lines,
    expansion_text,
    label_text,
    line_text,
    matrix_blocks,
    said,
)
from convgrad.render.words import formulas_in, say
from convgrad.trace import Expansion, Form, Matrix, Phrase, Section, Trace, Whole, show_number
from convgrad.trace import Group as TraceGroup


def word(key: str, lang: str, **fields: object) -> str:
    """A sentence of the walkthrough (render/words.py, keys "step.*")."""
    return say(f"step.{key}", lang, **fields)


@dataclass
class Step:
    """One panel of the walkthrough: a title, the why, then its content; pause after it."""

    title: str
    why: str = ""
    body: list[RenderableType] = field(default_factory=list)


class Quit(Exception):
    """The student typed q at a pause."""


class Walkthrough:
    def __init__(self, solved: Run, console: Console, lang: str = "en",
                 show_all: bool = False) -> None:
        self.solved = solved
        self.console = console
        self.lang = lang
        self.show_all = show_all
        self.trace = Trace(solved)
        # Long sums are shortened in the middle unless every term is asked for (--all).
        self.elide = not show_all
        # Plain text has no colour: highlighted cells are put in [brackets] instead.
        self.brackets = console.color_system is None
        # How rows and columns are numbered in a cut's title (SPEC section 7's index_base).
        self.base = solved.problem.conventions.index_base

    # the steps

    def steps(self) -> Iterator[Step]:
        counter = 0
        for title, step in chain(chain.from_iterable(map(self._steps_of,
                                                         self.trace.sections())),
                                 self._rounds()):
            if title is None:  # an element of the previous step: 3.1, 3.2 ...
                yield step
                continue
            counter += 1
            step.title = word("step", self.lang, n=counter, title=title)
            self.current = counter
            self.sub = 0
            yield step

    def _rounds(self) -> Iterator[tuple[str | None, Step]]:
        """The training rounds after the first (`steps: k`), as render/document.py's Walk:
        the first ones (render/document.rounds_written) a step each, their update written
        out; the others as `solve` lists them, in one step that says so."""
        lang = self.lang
        total = len(self.solved.rounds)
        shown = rounds_written(total, self.show_all)
        for section in islice(self.trace.round_sections(), max(shown - 1, 0)):
            lines = (line_text(line, lang, self.elide) for line in section.lines)
            body: list[RenderableType] = [Text("\n".join(lines)),
                                          *self._blocks(section.matrices)]
            for group in section.groups:
                body += self._expansions(group)
            yield said(section.title, lang), Step("", said(section.why, lang),
                                                  body + self._blocks(section.results))
        if shown < total:
            from convgrad.result import Result

            steps = Result.from_run(self.solved)["steps"]
            body = []
            for k in range(shown + 1, total + 1):
                body += self._training_step(k, steps[k - 1])
            title, why = listed_rounds(shown, total)
            yield said(title, lang), Step("", said(why, lang), body)

    def _training_step(self, k: int, step: dict[str, Any]) -> list[RenderableType]:
        """One round as `solve` lists it (render/terminal.py's print_steps): its loss,
        then its updated parameters by the keys `check` takes (steps[4].W_new)."""
        lines = [Text.assemble((f"steps[{k}].loss = ", LABEL),
                               (show_number(step["loss"]), VALUE))]
        matrices = []
        conventions = self.solved.problem.conventions
        for name, value in round_values(k, step):
            if isinstance(value, np.ndarray) and value.ndim >= 1:
                axes = result_axes(name, value.ndim, False, conventions)
                matrices.append(Matrix(name, value, axis_names=axes))
            else:
                number: Any = value[()] if isinstance(value, np.ndarray) else value
                lines.append(Text.assemble((f"{name} = ", LABEL), (show_number(number), VALUE)))
        return [Text("\n").join(lines), *self._blocks(matrices)]

    def _steps_of(self, section: Section) -> Iterator[tuple[str | None, Step]]:
        kind = section.kind
        lang = self.lang
        title, why = said(section.title, lang), said(section.why, lang)
        if kind == "problem":
            lines = (line_text(line, lang, self.elide) for line in section.lines)
            step = Step("", why, [Text("\n".join(lines))])
            warnings = self.solved.problem.warnings
            if warnings:
                items = [said(Phrase("notice.item", {"notice": notice_words(w)}), self.lang)
                         for w in warnings]
                step.body.append(Text("\n".join([word("warnings.list", self.lang), *items]),
                                      style="yellow"))
            yield title, step
            return
        extra = walk_steps(self.trace, section)
        if "padding" in extra:
            yield from self._padding(section)
        if kind == "loss":
            loss, dy = section.groups
            yield word("loss.L", self.lang), Step("", why, [
                *self._blocks(section.matrices), *self._expansions(loss)])
            yield word("loss.dY", self.lang), Step(
                "", word("loss.dY.why", self.lang, rule=said(dy.rule, lang)),
                [*self._expansions(dy), *self._blocks(section.results)])
            return
        if "bias" in extra:
            dw, db = section.groups
            yield from self._group_steps(title, why, dw, section,
                                         results=section.results)
            # a network's layer: its own bias and output gradient (dL/dconv2.b, dL/dY)
            single = self.solved.problem.single
            yield from self._group_steps(
                word("db", self.lang) if single else said(db.title, lang),
                word("db.why", self.lang) if single else said(db.rule, lang), db,
                section, results=[])
            return
        if "uncovered" in extra:
            yield from self._group_steps(title, why, section.groups[0], section,
                                         results=section.results, extra=self._uncovered())
            return
        # X was shown by the padding step
        inputs = section.matrices[1:] if "padding" in extra else section.matrices
        for k, group in enumerate(section.groups):
            last = k == len(section.groups) - 1
            yield from self._group_steps(title if k == 0 else said(group.title, lang),
                                         why if k == 0 else said(group.rule, lang), group, section,
                                         results=section.results if last else [],
                                         inputs=inputs if k == 0 else [])
        if not section.groups:
            yield title, Step("", why, self._blocks(section.matrices))

    def _padding(self, section: Section) -> Iterator[tuple[str | None, Step]]:
        x_matrix = section.matrices[0]
        if x_matrix.pad is None:
            yield word("padding", self.lang), Step("", word("padding.none", self.lang),
                                                    self._blocks([x_matrix]))
            return
        unpadded = x_matrix.unpadded()
        # The padded matrix is titled "X padded ..."; the original by the name alone.
        title = x_matrix.title
        name = title.fields["name"] if isinstance(title, Phrase) else title
        assert isinstance(name, Whole)
        original = Matrix(name, unpadded, None, x_matrix.axis_names)
        # Padding that copies input cells (reflect, replicate, circular) says how it copies.
        why = word("padding.why", self.lang)
        if isinstance(title, Phrase) and title.key == "matrix.padded_copies":
            rule = title.fields["rule"]
            assert isinstance(rule, Phrase)
            why = word("padding.why.copies", self.lang, mode=title.fields["mode"],
                       rule=said(rule, self.lang))
        yield word("padding", self.lang), Step("", why, self._blocks([original, x_matrix]))

    def _group_steps(self, title: str, why: str, group: TraceGroup, section: Section,
                     results: list[Matrix], inputs: list[Matrix] | None = None,
                     extra: list[RenderableType] | None = None
                     ) -> Iterator[tuple[str | None, Step]]:
        """A step for the kind, its first elements in full as sub-steps, then the rest."""
        full = group.count if self.show_all else min(FULL, group.count)
        # The kind's formula (Y = X ⋆ W + b) when its title is one; a bare name says nothing.
        formula = ([Text(said(group.title, self.lang), style="bold")]
                   if isinstance(group.title, Form) else [])
        head = Step("", why, [*self._blocks(inputs or []), *formula])
        yield title, head
        for n in range(full):
            exp = group.make(n)
            sub = Step(word("step", self.lang, n=f"{self.current}.{n + 1}",
                            title=label_text(exp.label)), "", self._in_full(exp))
            yield None, sub
        rest = group.count - full
        tail: list[RenderableType] = []
        if rest > 0:
            listed = rest if self.show_all or group.count <= LISTED else 0
            lines = [expansion_text(group.make(n), False, self.lang, self.elide)
                     for n in range(full, full + listed)]
            if lines:
                tail.append(Text("\n").join(lines))
            if rest > listed:
                tail.append(Text(say("more.same_rule", self.lang, n=f"{rest - listed:,}"),
                                 style=DIM))
        if group.trailer:
            tail.append(Text(said(group.trailer, self.lang), style=DIM))
        tail += self._blocks(results)
        tail += extra or []
        if tail:
            yield None, Step(word("step", self.lang, n=self.current,
                                  title=word("the_rest" if rest > 0 else "result", self.lang)),
                             "", tail)

    def _in_full(self, exp: Expansion) -> list[RenderableType]:
        body: list[RenderableType] = []
        if exp.focus is not None:
            blocks = []
            focus = exp.focus()
            # A large matrix is cut to the region of the step (render/crop.py); --all draws
            # every matrix whole.
            crop = not self.show_all and cuts_any(focus)
            for matrix, cells in focus:
                blocks += matrix_blocks(matrix, True, self.lang, cells, self.brackets,
                                        crop=crop, base=self.base)
            body.append(_Blocks(blocks))
            # Without a value the expansion says where a number goes (a scatter), not what
            # it is made of.
            key = "highlight" if exp.value is not None else "highlight.scatter"
            body.append(Text(word(key + ".plain" if self.brackets else key, self.lang),
                             style=DIM))
        body.append(expansion_text(exp, symbolic=True, lang=self.lang, elide=self.elide))
        return body

    def _expansions(self, group: TraceGroup) -> list[RenderableType]:
        count = group.count if self.show_all or group.count <= LISTED else FULL
        out: list[RenderableType] = [expansion_text(group.make(n), n == 0, self.lang, self.elide)
                                     for n in range(count)]
        if count < group.count:
            out.append(Text(say("more.same_rule", self.lang, n=f"{group.count - count:,}"),
                            style=DIM))
        return out

    def _blocks(self, matrices: list[Matrix]) -> list[RenderableType]:
        if not matrices:
            return []
        blocks = [b for m in matrices for b in matrix_blocks(m, self.show_all, self.lang)]
        return [_Blocks(blocks)]

    def _uncovered(self) -> list[RenderableType]:
        """Why some dL/dx are 0, said only when some input rows or columns are never met."""
        rows = uncovered_note(self.solved.problem.warnings)
        if rows is None:
            return []
        return [Text(word("uncovered", self.lang, rows=said(rows, self.lang)), style=DIM)]

    # showing

    def show(self, pause: Callable[[], bool] | None = None) -> None:
        """Print every step; with `pause`, call it after each step and stop when it says so."""
        self.current = 0
        self.sub = 0
        with formulas_in(self.lang):
            for step in self.steps():
                parts: list[RenderableType] = []
                if step.why:
                    parts.append(Text(step.why, style=WHY))
                parts += step.body
                self.console.print(Panel(Group(*parts), title=Text(step.title, style="bold"),
                                         title_align="left", border_style="cyan", expand=False))
                if pause is not None and not pause():
                    raise Quit


class _Blocks:
    """Matrices side by side inside a panel, laid out for the panel's width."""

    def __init__(self, blocks: list[list[Text]]) -> None:
        self.blocks = blocks

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n").join(block_lines(self.blocks, options.max_width))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lines = block_lines(self.blocks, options.max_width)
        width = max((line.cell_len for line in lines), default=0)
        return Measurement(width, width)
