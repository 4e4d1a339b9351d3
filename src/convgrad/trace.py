"""The intermediate terms as data: each output as its sum of products, each gradient as its sum.

``y11 = 1·1 + 2·0 + 4·(-1) + 5·1 + 1 = 3`` is an Expansion with its symbolic
twin ``x11·w11 + x12·w12 + x21·w21 + x22·w22 + b``. Sections group them in
the order a student works: the problem, the forward pass, the loss, the
backward pass, the update. `solve` and `explain` both render these; nothing
here computes a result the engine has not already computed, it only writes
out how each number is made.

What a section says is data too: sentences are Phrases (a key of the words and
its fields), sums are Terms (every term, as entries and numbers, none written
yet), other formulas are Forms (an op over entries, arrays, numbers and other
formulas: a loss term, max(...), w - lr·dL/dw, the loss itself, Y = X ⋆ W + b,
a conv layer's output-size line), and an array as a whole (X, dL/dW, b_new) is a
Whole. No formula is written here, in any notation: the renderers choose the
language, how many terms and expansions to show (--terms), and write every
product and formula (render/terminal.py's FORMS), so that another notation
(LaTeX's fraction of partials for dL/dW) can be written from the same trace.

Entries, expansion labels included, are an array's Labeler and an index; render/naming.py
names them as the seeds do (1-based, row then column: x11, w12, dL/dy21) in the
shape the user wrote; where an index has more than one digit or there are
channels, they are bracketed as `check` names entries: x[1,2,3], w[2,1,1,2].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from convgrad import losses
from convgrad.engine import Run
from convgrad.layers import (
    ActivationLayer,
    BatchNormLayer,
    ConvLayer,
    ConvTransposeLayer,
    DenseLayer,
    FlattenLayer,
    FunctionLayer,
    Index,
    Layer,
    Param,
    PoolLayer,
)
from convgrad.layers.conv import pad_input
from convgrad.model import (
    DISTRIBUTION_LOSSES,
    Activation,
    Conv,
    Problem,
    input_axes,
    reshaped_index,
    to_written,
    user_output_shape,
    user_param_shape,
    written_index,
    written_output,
    written_param,
)
from convgrad.numbers import Number, format_number

# --- labels -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labeler:
    """An array's entries as a renderer names them (naming.entry_name): `name` + 1-based
    index in the shape the user sees."""

    name: str
    full_shape: tuple[int, ...]  # the run's: the batch axis first, (1, ...) for one sample
    # The tables': the user's, channels first (no batch axis for one sample).
    shown_shape: tuple[int, ...]
    batch: bool = False  # the shown shape's first axis is the batch's
    gradient: bool = False  # the loss's gradient with respect to the array: dL/dx11
    # How the user wrote it where a convention reorders its axes (SPEC section 7: layout
    # NHWC, kernel_layout HWIO, dense_weights in_out): full_shape's axes in the written order,
    # and the written shape. Entries are named as written (y[2,3,1] is row 2, column 3,
    # channel 1 in NHWC); tables still show maps one channel at a time.
    axes: tuple[int, ...] | None = None
    written_shape: tuple[int, ...] = ()
    # The tables show it as written too (in_out dense weights: in x out), not channels first.
    table_as_written: bool = False
    base: int = 1  # the first index of a name (SPEC section 7's index_base)
    # The network layer whose parameter this is, where `name` leaves it out (a one-layer
    # network's terms read w11, not conv1.w11): check still takes conv1.dW[1,1,1,1].
    layer: str = ""

    def shown_index(self, index: tuple[int, ...]) -> tuple[int, ...]:
        """The index in the tables (shown_shape) of the run's entry `index`."""
        if self.table_as_written:
            return written_index(index, self.full_shape, self.axes, self.shown_shape)
        axes = self._shown_axes()
        if axes is not None:
            return tuple(0 if a < 0 else int(index[a]) for a in axes)
        return reshaped_index(index, self.full_shape, self.shown_shape)

    def shown_cells(self, flat: np.ndarray) -> list[tuple[int, ...]]:
        """shown_index of many entries at once, given by their flat indices into full_shape
        (a layer's index map): what a walkthrough highlights of a sum over 8,192 outputs."""
        if self.table_as_written:
            return [self.shown_index(index) for index in _cells(flat, self.full_shape)]
        return _cells(flat, self.shown_shape)  # the shown shape is the full one reshaped

    def _shown_axes(self) -> tuple[int, ...] | None:
        """When the shown shape is the full one with axes of size 1 dropped or added ((1, C,
        H, W) shown as (C, H, W)): for each shown axis, the full axis it is (-1: an added
        one), so that an index is moved without reshaping it through a flat position (the
        trace names every entry of solve --terms all). Else None. Made once and kept."""
        made = self.__dict__.get("_axes_shown", False)
        if made is False:
            full = [a for a, n in enumerate(self.full_shape) if n != 1]
            made = None
            if [self.full_shape[a] for a in full] == [n for n in self.shown_shape if n != 1]:
                kept = iter(full)
                made = tuple(-1 if n == 1 else next(kept) for n in self.shown_shape)
            object.__setattr__(self, "_axes_shown", made)
        return made

    def named_index(self, index: tuple[int, ...]) -> tuple[int, ...]:
        """The index that names the run's entry `index` (0-based): in the shape and layout
        the user wrote."""
        if self.axes is None:
            return self.shown_index(index)
        return written_index(index, self.full_shape, self.axes, self.written_shape)

    def full_index(self, shown: tuple[int, ...]) -> tuple[int, ...]:
        """The run's index of the entry at `shown` in the tables (the inverse of
        shown_index)."""
        if not self.table_as_written or self.axes is None:
            return reshaped_index(shown, self.shown_shape, self.full_shape)
        order = tuple(self.full_shape[a] for a in self.axes)
        permuted = reshaped_index(shown, self.shown_shape, order)
        index = [0] * len(permuted)
        for position, axis in enumerate(self.axes):
            index[axis] = permuted[position]
        return tuple(index)

    def table(self, arr: np.ndarray) -> np.ndarray:
        """The run's array (full_shape) as the tables show it."""
        if self.table_as_written:
            return to_written(arr, self.axes, self.shown_shape)
        return arr.reshape(self.shown_shape)

    def grad(self) -> Labeler:
        # Made once and kept: the terms ask for it once per entry (dataclasses.replace costs
        # as much as writing a product).
        made = self.__dict__.get("_grad")
        if made is None:
            made = replace(self, gradient=True)
            object.__setattr__(self, "_grad", made)
        return made


# The loss, a number: the label of its expansion and the title of its group.
LOSS = Labeler("L", (), ())


# An exact number with more digits than this above or below the fraction bar is shown
# rounded to 6 significant figures and marked ≈: tables of 400-digit numbers say nothing,
# and Python refuses to write an int of more than 4,300 digits. solve --json and the API
# keep every digit.
LONG_DIGITS = 40
_LONG = 10**LONG_DIGITS


def is_long(value: Any) -> bool:
    """Whether show_number rounds `value` (an exact number beyond LONG_DIGITS digits)."""
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, int):
        return abs(value) >= _LONG
    if isinstance(value, Fraction):
        return abs(value.numerator) >= _LONG or value.denominator >= _LONG
    return False


def show_number(value: Number) -> str:
    """A number as the tables and expansions show it: format_number, or ≈1.23457e+400."""
    if isinstance(value, np.ndarray):
        value = value[()]
    if not is_long(value):
        return format_number(value)
    return "≈" + _rounded(Fraction(value))


def _rounded(value: Fraction) -> str:
    """6 significant figures, as format_number writes a float, in exact arithmetic (a float
    overflows past 1.8e308)."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    exp = int((value.numerator.bit_length() - value.denominator.bit_length()) * 0.30103)
    while value >= Fraction(10) ** (exp + 1):
        exp += 1
    while value < Fraction(10) ** exp:
        exp -= 1
    mantissa = round(value / Fraction(10) ** (exp - 5))  # 100000 ... 1000000
    if mantissa == 10**6:
        mantissa, exp = 10**5, exp + 1
    digits = str(mantissa).rstrip("0")
    point = f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits
    return f"{sign}{point}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """A sentence by its key in the words (title.conv, fact.pool ...) with its fields: names,
    numbers, other phrases, formulas (Forms) and arrays (Wholes). A renderer says it in the
    language it was asked for and writes the formulas in it."""

    key: str
    fields: dict[str, object] = field(default_factory=dict)
    after: str = ""  # text that follows the sentence in every language: " (C x H x W)"


def phrase(key: str, **fields: object) -> Phrase:
    return Phrase(key, fields)


def _pool_kind(op: Any) -> Phrase:
    """max or avg, as a word: "max pooling" in English, 最大池化 in Chinese."""
    return phrase(f"pool.{op.kind}")


@dataclass(frozen=True)
class Entry:
    """An entry of an array by its index (in the array's full shape), for a renderer to name:
    x11, dL/dz[1,2,3]."""

    label: Labeler
    index: tuple[int, ...]
    new: bool = False  # the entry after the update: w11_new


@dataclass(frozen=True)
class Form:
    """A formula over entries and numbers, for a renderer to write: (y11-t11)², max(z11, z12).
    `op` names the formula (render.FORMS writes each), `args` are its operands: entries,
    numbers, text, other formulas."""

    op: str
    args: tuple[Any, ...]


def form(op: str, *args: Any) -> Form:
    return Form(op, args)


@dataclass(frozen=True)
class Whole:
    """An array as a whole, for a renderer to name: X, W, dL/dZ, W_new, b, L."""

    label: Labeler
    matrix: bool = True  # named as a matrix (X, dL/dZ: one letter upper case) or as it is (b)
    new: bool = False  # the array after the update: W_new


# What the sections say: a sentence to put into words, a formula (Y = X ⋆ W + b, the loss,
# an output-size line) or an array by its name (dL/dW). A renderer writes each; None: nothing.
Words = Phrase | Form | Whole


# A factor of a product: an entry by name, a number by value, a formula, or a name (the
# learning rate's lr, a function's tanh).
Factor = Entry | str | Number | Form
# A term of a sum: one entry, a formula (a loss term), or a product of factors.
Term = Entry | Form | tuple[Factor, ...]


@dataclass(frozen=True)
class Products:
    """The terms of a sum of products of array entries, as index arrays: term k is the
    product over the factors m of arrays[m].flat[at[m][k]], an index of -1 standing for
    the number 0 (a tap on zeros padding). A renderer can write a whole sum from these at
    once (each array's numbers written once, then picked out by the indices); `term` gives
    the same terms one at a time."""

    arrays: tuple[np.ndarray, ...]
    at: tuple[np.ndarray, ...]  # each (K,): flat indices into the array of the same place

    def __len__(self) -> int:
        return len(self.at[0])

    @cached_property
    def _columns(self) -> list[tuple[np.ndarray, list[int]]]:
        # each array flat and its indices as ints: term() runs once per term written
        return [(arr.reshape(-1), at.tolist()) for arr, at in zip(self.arrays, self.at,
                                                                   strict=True)]

    def term(self, k: int) -> tuple[Number, ...]:
        return tuple(0 if (i := at[k]) < 0 else flat[i] for flat, at in self._columns)


@dataclass(frozen=True)
class Terms:
    """A sum written term by term: term(items[0]) + term(items[1]) ...; an empty sum is 0.
    A formula that holds a sum (1/N·[...], softmax(...)) is a Form with the Terms among its
    operands.

    Every term is here (the layer's index map), but none is written until a renderer asks:
    it decides how many to show, so a sum over 12,544 outputs costs the terms shown.
    listed: a list of arguments or values (x1, x2), not a sum. tail: a last term that is
    always written (the bias), after the sum. products: the same terms as index arrays
    (see `products`), when they are products of array entries.
    """

    items: Sequence[Any]
    term: Callable[[Any], Term]
    listed: bool = False
    tail: Term | None = None
    products: Products | None = None


def products(arrays: tuple[np.ndarray, ...], at: tuple[np.ndarray, ...],
             tail: Term | None = None) -> Terms:
    """The sum of the products of arrays[m].flat[at[m][k]] over k (see Products), as Terms
    whose items are the term numbers."""
    made = Products(arrays, at)
    return Terms(range(len(made)), made.term, tail=tail, products=made)


class Later(Sequence[Any]):
    """A list made when it is first read: the index tuples of a sum that a renderer may
    never write out by name (solve writes a group's symbolic sum once, for its first
    expansion)."""

    def __init__(self, make: Callable[[], Sequence[Any]]) -> None:
        self._make = make
        self._made: Sequence[Any] | None = None

    def _list(self) -> Sequence[Any]:
        if self._made is None:
            self._made = self._make()
        return self._made

    def __len__(self) -> int:
        return len(self._list())

    def __getitem__(self, k: Any) -> Any:
        return self._list()[k]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())


@dataclass
class Expansion:
    """One number written out: `label = symbolic = numeric = value`; or, without a value,
    where one number goes: an input entry of a transposed convolution and the output cells
    its products are added to."""

    label: Entry  # the entry it makes (a renderer names it): y11, dL/dw12, L
    symbolic: Terms | Term  # a sum, or one term (a formula) written whole
    numeric: Terms | Term
    value: Number | None
    note: Words | None = None
    # Cells this number is made of, for a walkthrough to highlight: (matrix, indices in the
    # matrix's shown shape), e.g. the input window of an output and the kernel over it.
    # A function, so that solve, which shows no highlights, never computes them.
    focus: Callable[[], list[tuple[Matrix, list[tuple[int, ...]]]]] | None = None


@dataclass
class Matrix:
    """An array to show as tables, one per leading index (channel or filter)."""

    # The trace's are Phrases and Wholes; text is for a renderer's own tables (the results
    # at a glance, keyed as in the JSON: dW, W_new).
    title: Phrase | Whole | str
    array: np.ndarray  # in the shape the user sees
    pad: np.ndarray | None = None  # True where the cell is padding
    axis_names: tuple[str, ...] = ()  # names of the leading axes: ("filter", "channel")
    # Whose cells these are when a Phrase titles them: an input entry's share of the output
    # (conv_transpose's scatter) holds cells of Y, named as Y's (Y[1,2,3]).
    cells: Labeler | None = None

    def unpadded(self) -> np.ndarray:
        """The array without its padding cells (pad given): the input as the user wrote it,
        (..., rows, cols) of the cells that are not padding, or (L,) of a 1-D signal."""
        pad = self.pad
        assert pad is not None
        inner = ~pad
        if inner.ndim == 1:  # a 1-D signal (L,): its own cells, in order
            return self.array[inner]
        rows = int(inner.any(axis=-1).sum(axis=-1).max())
        cols = int(inner.any(axis=-2).sum(axis=-1).max())
        return self.array[inner].reshape(*self.array.shape[:-2], rows, cols)


@dataclass
class Group:
    """Expansions of one kind (every y, every dL/dw ...) with the rule they follow."""

    title: Form | Whole  # the kind's formula (Y = X ⋆ W + b) or what it makes (dL/dw)
    rule: Words  # the rule in one line: why these numbers are what they are
    count: int
    make: Callable[[int], Expansion]
    trailer: Words | None = None  # said after the expansions, e.g. "all other entries are 0"
    kind: str = ""  # what explain calls it: "L", "dY", "dW", "db", ...


@dataclass
class Section:
    """One stage of the pass. `kind` names it for the walkthrough: problem, conv, activation,
    pool, flatten, dense, loss, grad_output, conv_weights, conv_input, activation_back,
    pool_back, flatten_back, dense_back, update; a function layer's kind (softmax) and
    <kind>_back."""

    title: Words
    why: Words
    matrices: list[Matrix] = field(default_factory=list)  # what goes in, shown first
    groups: list[Group] = field(default_factory=list)
    results: list[Matrix] = field(default_factory=list)  # what comes out, shown last
    lines: list[Words] = field(default_factory=list)  # facts: shapes, formulas, conventions
    kind: str = ""
    layer: str = ""  # the layer's name (conv1, relu1, ...)
    # Matrices a walkthrough shows with highlighted cells; solve has already shown them.
    context: list[Matrix] = field(default_factory=list)


# --- the trace of a run ------------------------------------------------------------------------


@dataclass
class Names:
    """What the arrays of one layer are called: input, output, and its parameters (w, b)."""

    x: Labeler
    out: Labeler
    params: dict[str, Labeler] = field(default_factory=dict)  # by letter: w, b

    @property
    def w(self) -> Labeler:
        return self.params["w"]

    @property
    def b(self) -> Labeler:
        return self.params["b"]


class Trace:
    """Sections for a solved problem, built lazily so large problems cost little.

    Each kind of layer has its sections built by the methods named after its `kind`:
    `<kind>_facts`, `<kind>_forward`, `<kind>_backward`; a kind without them gets the generic
    ones its class is written as (Layer.written_as): `function_*` for a function layer (each
    output a function of its group), `sums_*` for any other (each entry the sum of products
    that its `terms` gives). The terms come from the layer's own index maps (out_terms,
    dx_terms ...), the ones its vectorized code uses.
    """

    def __init__(self, solved: Run) -> None:
        self.run = solved
        self.problem = solved.problem
        self.names = self._names()
        # Each conv layer's input and kernel matrices, for the backward steps to highlight.
        self.conv_matrices: dict[str, tuple[Matrix, Matrix]] = {}
        # The names of a kernel's leading axes where they are not _axes' (filter, channel):
        # a transposed convolution's kernel is input channels first.
        self.kernel_axes: dict[str, tuple[str, ...]] = {}

    def _part(self, step: Layer, part: str) -> Callable[..., Any]:
        """The builder of `part` (facts, forward, backward) for the kind of `step`."""
        builder = getattr(self, f"{step.kind}_{part}", None)
        return builder if builder is not None else getattr(self, f"{step.written_as}_{part}")

    # names

    def _names(self) -> list[Names]:
        problem = self.problem
        passes = self.run.passes
        out: list[Names] = []
        single = problem.single
        batch = problem.batched
        base = problem.conventions.index_base
        x_label = Labeler("x", tuple(self.run.x.shape), problem.x_shape, batch,
                          axes=input_axes(problem), written_shape=problem.input_shape, base=base)
        for k, step in enumerate(passes):
            last = k == len(passes) - 1
            shape = tuple(step.out.shape)
            # One sample's output shape as the user sees it, after the batch axis if any.
            shown = user_output_shape(problem, shape[1:], step.layer.signal)
            if single:
                # conv z, activation a, and the last (activation or pool) y
                letter = "y" if last else "z" if k == 0 else "a"
            else:
                letter = "y" if last else step.layer.name  # relu1[1,2,3], pool1[...]
            if batch:
                shown = (shape[0], *shown)
            axes, written = written_output(problem, shape, step.layer.signal)
            names = Names(x=x_label, out=Labeler(letter, shape, shown, batch, axes=axes,
                                                 written_shape=written, base=base))
            for p in step.params():
                full = tuple(p.value.shape)
                axes, written = written_param(problem, step.layer.op, p.letter, p.shape, full)
                # Dense weights are shown as written (a matrix either way), kernels by filter
                # and channel.
                as_written = axes is not None and step.layer.op.weights == "dense"
                name = p.letter if single else _param(step, p.letter, passes)
                names.params[p.letter] = Labeler(
                    name, full,
                    written if as_written else user_param_shape(problem, p.shape, full),
                    axes=axes, written_shape=written, table_as_written=as_written, base=base,
                    layer="" if single or "." in name else step.layer.name)
            out.append(names)
            x_label = names.out
        return out

    # sections

    def sections(self) -> Iterator[Section]:
        yield self.problem_section()
        for step, names in zip(self.run.passes, self.names, strict=True):
            yield self._part(step, "forward")(step, names)
        if self.run.loss is not None:
            yield self.loss_section()
        elif self.run.dy is not None:
            yield Section(phrase("title.grad_output"), phrase("why.grad_output"),
                          matrices=[self._matrix(Whole(self.names[-1].out.grad()), self.run.dy,
                                                 self.names[-1].out)],
                          kind="grad_output")
        if self.run.dy is None:
            return
        for step, names in zip(reversed(self.run.passes), reversed(self.names), strict=True):
            yield from self._part(step, "backward")(step, names)
        if self.run.learning_rate is not None:
            yield self.update_section()

    def _matrix(self, title: Phrase | Whole | str, arr: np.ndarray, label: Labeler,
                pad: np.ndarray | None = None, axis_names: tuple[str, ...] = (),
                cells: bool = False) -> Matrix:
        """arr as label's tables; cells: its cells are label's (Matrix.cells)."""
        return Matrix(title, label.table(arr), pad, axis_names or _axes(label),
                      label if cells else None)

    def problem_section(self) -> Section:
        problem = self.problem
        solved = self.run
        lines: list[Words] = []
        if problem.name:
            lines.append(phrase("fact.name", name=problem.name))
        lines.append(Phrase("fact.input", {"shape": _shape(problem.input_shape)},
                            _axes_text(len(problem.input_shape), problem.batched,
                                       input_axes(problem) is not None)))
        if problem.batched:
            lines.append(phrase("fact.batch", n=problem.samples))
        for step in solved.passes:
            lines.extend(self._part(step, "facts")(step))
        if problem.target is not None:
            loss = problem.loss or "mse"
            key = self._loss_key(loss)
            lines.append(phrase("fact.loss", loss=loss, what=phrase(f"loss.{key}"),
                                  formula=form("loss", key)))
        elif problem.grad_output is not None:
            lines.append(phrase("fact.no_loss"))
        else:
            lines.append(phrase("fact.forward_only"))
        if solved.learning_rate is not None:
            lines.append(phrase("fact.learning_rate", lr=_value(solved.learning_rate)))
        arithmetic = phrase("arith.exact" if solved.exact else "arith.float")
        lines.append(phrase("fact.arithmetic", mode=arithmetic))
        # The conventions in force, every key (SPEC section 7), the profile's name first.
        conventions = problem.conventions.items()
        lines.append(phrase("fact.conventions", profile=conventions[0][1],
                            keys=form("settings", conventions[1:])))
        lines.extend(_leaky_kink_facts(problem))
        if solved.exact and _has_long(solved):
            lines.append(phrase("fact.long_numbers", digits=LONG_DIGITS))
        return Section(phrase("title.problem"), phrase("why.problem"), lines=lines,
                       kind="problem")

    # facts: the shapes and conventions of each layer, with the output-size formula's numbers

    def conv_facts(self, step: ConvLayer) -> list[Words]:
        layer, op = step.layer, step.op
        name = layer.name
        F, C, KH, KW = op.w.shape
        _, H, W = layer.in_shape
        _, OH, OW = layer.out_shape
        top, bottom, left, right = op.pad
        (sh, sw), (dh, dw) = op.stride, op.dilation
        signal = layer.signal  # conv1d: one row, shown 1-D
        filters = phrase("fact.filters_1d", F=F, s="s" if F > 1 else "", C=C, K=KW) if signal \
            else phrase("fact.filters", F=F, s="s" if F > 1 else "", C=C, KH=KH, KW=KW)
        lines: list[Words] = [
            phrase("fact.conv", layer=name, kernel=_shape(op.kernel_written or op.kernel_shape),
                   filters=filters, stride=_pair_text(op.stride, signal),
                   dilation=_pair_text(op.dilation, signal),
                   mode=phrase("fact.flipped" if op.flip else "fact.not_flipped"))]
        if op.groups > 1:
            Fg = F // op.groups
            lines.append(phrase("fact.conv_groups", layer=name, groups=op.groups,
                                C=C * op.groups, Cg=C, Fg=Fg, s="s" if Fg > 1 else "",
                                depthwise=phrase("fact.depthwise") if C == 1 else ""))
        if signal:
            lines.append(phrase("fact.padding_1d", layer=name, text=op.padding_text, left=left,
                                right=right))
        else:
            lines.append(phrase("fact.padding", layer=name, text=op.padding_text, top=top,
                                bottom=bottom, left=left, right=right))
        if op.padding_mode != "zeros":
            lines.append(phrase("fact.padding_mode", layer=name, mode=op.padding_mode,
                                rule=phrase(f"pad.{op.padding_mode}")))
        if signal:
            return [*lines, form("labelled", name,
                                 form("conv_size_1d", (W, left, right, dw, KW, sw, OW)))]
        return [*lines,
                form("labelled", name, form("conv_size", (H, top, bottom, dh, KH, sh, OH),
                                            (W, left, right, dw, KW, sw, OW)))]

    def activation_facts(self, step: ActivationLayer) -> list[Words]:
        op = step.op
        return [form("labelled", step.name, form("activation", op.name, op.slope))]

    def pool_facts(self, step: PoolLayer) -> list[Words]:
        layer, op = step.layer, step.op
        C, H, W = layer.in_shape
        _, OH, OW = layer.out_shape
        signal = layer.signal  # after conv1d: 1-D windows on C x L signals
        size = str(op.size[1]) if signal else f"{op.size[0]}x{op.size[1]}"
        stride = str(op.stride[1]) if signal else _pair_text(op.stride)
        before, after = (str(W), str(OW)) if signal else (f"{H}x{W}", f"{OH}x{OW}")
        if not any(op.pad) and not op.ceil:
            lines: list[Words] = [phrase("fact.pool", layer=layer.name, kind=_pool_kind(op),
                                         size=size, stride=stride, before=before, after=after)]
        else:  # the pooling conventions (SPEC section 7), said where they act
            top, bottom, left, right = op.pad
            lines = [phrase("fact.pool_padded", layer=layer.name, kind=_pool_kind(op), size=size,
                            stride=stride, padding=op.padding_text, top=top, bottom=bottom,
                            left=left, right=right, before=before, after=after)]
            if any(op.pad):
                fill = "max" if op.kind == "max" else \
                    "avg_counted" if op.count_padding else "avg_real"
                lines.append(phrase(f"fact.pool_fill.{fill}", layer=layer.name))
            if op.ceil:
                lines.append(phrase("fact.pool_ceil", layer=layer.name, kind=op.kind))
        if op.kind == "max" and op.ties != "first":
            lines.append(phrase("fact.max_ties", layer=layer.name, ties=op.ties,
                                rule=phrase(f"ties.{op.ties}")))
        return lines

    def flatten_facts(self, step: FlattenLayer) -> list[Words]:
        layer = step.layer
        k = self.run.passes.index(step)
        # C x L signals (after conv1d) are held as C x 1 x L: shown as written.
        signal = k > 0 and self.run.passes[k - 1].layer.signal
        shape = user_output_shape(self.problem, layer.in_shape, True) if signal \
            else layer.in_shape
        return [phrase("fact.flatten", layer=layer.name, shape=_shape(shape),
                       n=layer.out_shape[0])]

    def dense_facts(self, step: DenseLayer) -> list[Words]:
        M, N = step.w.shape
        key = "fact.dense_in_out" if self.problem.conventions.dense_weights == "in_out" \
            else "fact.dense"
        return [phrase(key, layer=step.name, n_in=N, n_out=M)]

    def function_facts(self, step: FunctionLayer) -> list[Words]:
        layer = step.layer
        return [phrase(f"fact.{step.kind}", layer=layer.name, shape=_shape(layer.in_shape),
                         **step.facts())]

    # forward

    def _conv_matrices(self, step: ConvLayer, names: Names) -> tuple[Matrix, Matrix]:
        """A conv layer's input (padded, padding marked) and kernel as shown: the same two
        objects for its forward and backward steps, so that a walkthrough highlights the cells
        of one table, whichever step it draws first."""
        if step.layer.name not in self.conv_matrices:
            op, x, in_label = step.op, step.x, names.x
            if any(op.pad):
                x_shown = _shown_with_pad(in_label, op.pad)
                title = phrase("matrix.padded", name=Whole(in_label)) \
                    if op.padding_mode == "zeros" else \
                    phrase("matrix.padded_copies", name=Whole(in_label), mode=op.padding_mode,
                           rule=phrase(f"pad.{op.padding_mode}"))
                x_matrix = Matrix(title, pad_input(x, op.pad, op.padding_mode).reshape(x_shown),
                                  _pad_mask(x.shape, op.pad).reshape(x_shown),
                                  _axes(in_label))
            else:
                x_matrix = self._matrix(Whole(in_label), x, in_label)
            w_matrix = self._matrix(Whole(names.w), step.w, names.w,
                                    axis_names=_kernel_axes(op, step.layer.signal))
            self.conv_matrices[step.layer.name] = (x_matrix, w_matrix)
        return self.conv_matrices[step.layer.name]

    def conv_forward(self, step: ConvLayer, names: Names) -> Section:
        op = step.op
        x = step.x
        N, C, H, W = x.shape
        F, _, KH, KW = step.w.shape
        x_pad = pad_input(x, op.pad, op.padding_mode)
        weights = step.w
        out = names.out
        section = Section(
            phrase("title.conv") if self.problem.single else
            phrase("title.forward", layer=step.layer.name),
            phrase("why.conv", mode=phrase("mode.flipped" if op.flip else "mode.correlation")),
            kind="conv", layer=step.layer.name)
        in_label = names.x
        x_matrix, w_matrix = self._conv_matrices(step, names)
        x_shown = x_matrix.array.shape
        section.matrices += [x_matrix, w_matrix]
        section.lines.append(form("is", _name(names.b),
                                  Terms(list(step.b), _value, listed=True)))
        _, _, OH, OW = step.out.shape

        def x_term(x_index: Index | None) -> tuple[Factor, Number]:
            if x_index is None:  # padding
                return 0, 0
            return Entry(in_label, x_index), x[x_index]

        def make(k: int) -> Expansion:
            n, f, i, j = _unravel(k, (N, F, OH, OW))
            # The (x, w) index tuples are made only when read: solve writes the sum by name
            # for the first output alone, and every output's numbers from the index arrays.
            taps = Later(lambda: step.out_terms(n, f, i, j)[0])

            def symbol(tap: tuple[Index | None, Index]) -> Term:
                return x_term(tap[0])[0], Entry(names.w, tap[1])

            def focus() -> list[tuple[Matrix, list[tuple[int, ...]]]]:
                window = [reshaped_index(cell, x_pad.shape, x_shown)
                          for cell in step.padded_window(n, f, i, j)]
                weights = [names.w.shown_index(w_index) for _, w_index in taps]
                return [(x_matrix, window), (w_matrix, weights)]

            return Expansion(Entry(out, (n, f, i, j)),
                             Terms(taps, symbol, tail=Entry(names.b, (f,))),
                             products((x, weights), step.out_map(n, f, i, j),
                                      tail=(step.b[f],)),
                             step.out[n, f, i, j], focus=focus)

        section.groups.append(Group(form("is", Whole(out),
                                         form("conv", Whole(in_label), Whole(names.w),
                                              _name(names.b))),
                                    phrase("rule.conv"),
                                    N * F * OH * OW, make))
        section.results.append(self._matrix(Whole(out), step.out, out,
                                            axis_names=_axes(out)))
        return section

    def activation_forward(self, step: ActivationLayer, names: Names) -> Section:
        op = step.op
        z, a = step.x, step.out
        zl, al = names.x, names.out
        formula = form("activation", op.name, op.slope)

        def make(n: int) -> Expansion:
            index = _unravel(n, z.shape)
            zv = z[step.out_terms(index)]
            numeric: Term
            if op.name == "relu":
                numeric = form("max", (0, zv))
            elif op.name == "leaky_relu":
                numeric = (zv,) if zv > 0 else (step.slope, zv)
            elif op.name == "sigmoid":
                numeric = form("sigmoid", -zv)
            else:
                numeric = form("apply", "tanh", zv)
            return Expansion(Entry(al, index), form("apply", op.name, Entry(zl, index)), numeric,
                             a[index])

        return Section(phrase("title.forward", layer=step.layer.name),
                       phrase("why.activation", name=op.name, formula=formula),
                       groups=[Group(form("is", Whole(al), form("apply", op.name, Whole(zl))),
                                     formula, z.size, make)],
                       results=[self._matrix(Whole(al), a, al, axis_names=_axes(al))],
                       kind="activation", layer=step.layer.name)

    def pool_forward(self, step: PoolLayer, names: Names) -> Section:
        op = step.op
        a, p = step.x, step.out
        al, pl = names.x, names.out
        ph, pw = op.size
        a_matrix = self._matrix(Whole(al), a, al)

        def make(k: int) -> Expansion:
            index = _unravel(k, p.shape)  # (n, c, i, j)
            cells = step.out_terms(*index)  # the window's input cells; padding left out
            entries = tuple(Entry(al, cell) for cell in cells)
            values = tuple(a[cell] for cell in cells)
            notes: list[Words] = []
            if len(cells) < ph * pw and op.kind == "max":
                notes.append(phrase("note.pool_pad_never" if any(op.pad) else
                                    "note.pool_past_edge"))
            if op.kind == "max":
                win = step.winner(*index)
                notes.insert(0, phrase("note.from", cell=Entry(al, win)))
                tied = step.tied_cells(*index)
                if op.ties != "first" and len(tied) > 1:
                    notes.append(phrase(f"note.tied.{op.ties}", cells=form(
                        "entries", tuple(Entry(al, c) for c in tied)), n=len(tied)))
                return Expansion(Entry(pl, index), form("max", entries), form("max", values),
                                 p[index], note=_joined(notes),
                                 focus=lambda: [(a_matrix, [al.shown_index(win)])])
            divisor = int(step.divisors[index[2], index[3]])
            # one cell is said as one ("1 padding cell counts"), not as "1 padding cells count"
            if divisor > len(cells):
                one = ".one" if divisor - len(cells) == 1 else ""
                notes.append(phrase("note.pool_pad_counted" + one, n=divisor - len(cells)))
            if divisor < ph * pw:
                one = ".one" if divisor == 1 else ""
                notes.append(phrase("note.pool_fewer" + one, counted=divisor, size=ph * pw))
            return Expansion(Entry(pl, index), form("mean", entries, divisor),
                             form("mean", values, divisor), p[index], note=_joined(notes),
                             focus=lambda: [(a_matrix, [al.shown_index(c) for c in cells])])

        ties = op.kind == "max" and op.ties != "first"
        rule = phrase("rule.max_pool_tied", ties=phrase(f"ties.{op.ties}")) if ties else \
            phrase(f"rule.{op.kind}_pool")
        signal = step.layer.signal
        return Section(phrase("title.pool", layer=step.layer.name, kind=_pool_kind(op),
                              size=str(pw) if signal else f"{ph}x{pw}",
                              stride=_pair_text(op.stride, signal)),
                       phrase("why.pool", rule=rule),
                       groups=[Group(form("is", Whole(pl), form("pool", op.kind, Whole(al))),
                                     rule, p.size, make)],
                       results=[self._matrix(Whole(pl), p, pl, axis_names=_axes(pl))],
                       kind="pool", layer=step.layer.name, context=[a_matrix])

    def flatten_forward(self, step: FlattenLayer, names: Names) -> Section:
        x = step.x
        hwc = step.axes != tuple(range(len(step.axes)))

        def make(k: int) -> Expansion:
            at = _unravel(k, step.out.shape)  # (n, k)
            index = step.out_terms(*at)
            return Expansion(Entry(names.out, at), Entry(names.x, index), form("value", x[index]),
                             step.out[at], note=self._flatten_note(step, index) if hwc else None)

        suffix = "_hwc" if hwc else ""
        return Section(phrase("title.forward", layer=step.layer.name),
                       phrase("why.flatten" + suffix),
                       groups=[Group(form("is", _name(names.out),
                                          form("apply", "flatten", _name(names.x))),
                                     phrase("rule.flatten" + suffix), x.size, make)],
                       kind="flatten", layer=step.layer.name)

    def _flatten_note(self, step: FlattenLayer, index: Index) -> Words:
        """Where x[n, c, h, w] sits in HWC order, in words: "row 1, column 1, channel 2"
        (a C x L signal, held as C x 1 x L: "position 1, channel 2")."""
        _, c, h, w = index
        base = self.problem.conventions.index_base
        k = self.run.passes.index(step)
        if k > 0 and self.run.passes[k - 1].layer.signal:
            return phrase("note.flatten_hwc_1d", col=w + base, channel=c + base)
        return phrase("note.flatten_hwc", row=h + base, col=w + base, channel=c + base)

    def dense_forward(self, step: DenseLayer, names: Names) -> Section:
        x, w, b = step.x, step.w, step.b
        wl = names.w
        # in_out (y = x W + b): each term written input first, as the product reads
        in_out = self.problem.conventions.dense_weights == "in_out"

        def make(k: int) -> Expansion:
            at = _unravel(k, step.out.shape)  # (n, m)
            pairs, bias = step.out_terms(*at)
            if in_out:
                symbolic = Terms(pairs, lambda t: (Entry(names.x, t[0]), Entry(wl, t[1])),
                                 tail=Entry(names.b, bias))
                numeric = Terms(pairs, lambda t: (x[t[0]], w[t[1]]), tail=(b[bias],))
            else:
                symbolic = Terms(pairs, lambda t: (Entry(wl, t[1]), Entry(names.x, t[0])),
                                 tail=Entry(names.b, bias))
                numeric = Terms(pairs, lambda t: (w[t[1]], x[t[0]]), tail=(b[bias],))
            return Expansion(Entry(names.out, at), symbolic, numeric, step.out[at])

        suffix = "_in_out" if in_out else ""
        return Section(phrase("title.forward", layer=step.layer.name),
                       phrase("why.dense" + suffix),
                       matrices=[self._matrix(Whole(names.w), w, wl, axis_names=())],
                       groups=[Group(form("is", _name(names.out),
                                          form("affine" + suffix, _name(names.w),
                                               _name(names.x),
                                               _name(names.b))),
                                     phrase("rule.dense" + suffix),
                                     step.out.size, make)],
                       kind="dense", layer=step.layer.name)

    def function_forward(self, step: FunctionLayer, names: Names) -> Section:
        """Each output as the function of the inputs it is made of: softmax(x1, x2)_1."""
        x, out = step.x, step.out
        xl, yl = names.x, names.out
        fn = step.layer.type
        fields = step.facts()
        x_matrix = self._matrix(Whole(xl), x, xl)

        def make(n: int) -> Expansion:
            index = _unravel(n, out.shape)
            group, k = step.out_terms(index)
            which = k + 1 if len(group) > 1 else None  # the output's place among the group
            return Expansion(
                Entry(yl, index),
                form("apply", fn, Terms(group, lambda i: Entry(xl, i), listed=True), which),
                form("apply", fn, Terms(group, lambda i: _value(x[i]), listed=True), which),
                out[index], focus=lambda: [(x_matrix, [xl.shown_index(i) for i in group])])

        return Section(phrase("title.forward", layer=step.layer.name),
                       phrase(f"why.{step.kind}", **fields),
                       groups=[Group(form("is", Whole(yl), form("apply", fn, Whole(xl))),
                                     phrase(f"rule.{step.kind}", **fields), out.size, make)],
                       results=[self._matrix(Whole(yl), out, yl, axis_names=_axes(yl))],
                       kind=step.kind, layer=step.layer.name, context=[x_matrix])

    # loss

    def _loss_key(self, loss: str) -> str:
        """The loss's formulas by name. A distribution loss (cross_entropy, nll,
        cross_entropy_probs) averaged over more than one group has its own: `_batch`, the
        mean over the samples, or `_channels`, over channels at each position."""
        if loss not in DISTRIBUTION_LOSSES:
            return loss
        if self.problem.loss_over == "channels":
            return f"{loss}_channels"
        return f"{loss}_batch" if self.problem.batched else loss

    def loss_section(self) -> Section:
        solved = self.run
        y, t = solved.y, solved.target
        assert t is not None and solved.dy is not None and solved.loss is not None
        loss = self.problem.loss or "mse"
        yl = self.names[-1].out
        N = y.size
        key = self._loss_key(loss)
        section = Section(phrase("title.loss", loss=loss), form("loss", key), kind="loss")
        section.matrices.append(self._matrix(phrase("matrix.target"), t, yl,
                                             axis_names=_axes(yl)))
        section.groups.append(Group(_name(LOSS), form("loss", key), 1,
                                    lambda _: self._loss_expansion(loss, y, t, yl), kind="L"))
        dy = solved.dy

        tl = _target(yl)

        def make(n: int) -> Expansion:
            index = _unravel(n, y.shape)
            yv, tv = y[index], t[index]
            symbolic, numeric = _loss_derivative(loss, Entry(yl, index), Entry(tl, index), yv, tv,
                                                 N, y, t, key != loss, self.problem.loss_over)
            kink = self.problem.conventions.kink
            note = phrase("note.mae_kink", kink=kink) if loss == "mae" and kink and yv == tv \
                else None
            return Expansion(Entry(yl.grad(), index), symbolic, numeric, dy[index], note)

        section.groups.append(Group(_name(yl.grad()), form("loss_derivative", key), N, make,
                                    kind="dY"))
        section.results.append(self._matrix(Whole(yl.grad()), dy, yl, axis_names=_axes(yl)))
        return section

    def _loss_expansion(self, loss: str, y: np.ndarray, t: np.ndarray, yl: Labeler
                        ) -> Expansion:
        indices = list(np.ndindex(y.shape))
        value = self.run.loss
        assert value is not None

        tl = _target(yl)
        op = {"mse": "squared_error", "sse": "squared_error", "half_sse": "squared_error",
              "mae": "absolute_error", "bce": "bce"}.get(loss)
        if op is not None:
            def symbol(i: Index) -> Term:
                return form(op, Entry(yl, i), Entry(tl, i))

            def number(i: Index) -> Term:
                return form(op, y[i], t[i])
            n = y.size  # mse, mae, bce: 1/N with N every output
        else:
            # A distribution loss: t·ln softmax(y), t·y (nll), t·ln y (cross_entropy_probs);
            # terms with t = 0 vanish.
            indices = [i for i in indices if t[i] != 0]
            over = self.problem.loss_over
            softmax = np.exp(losses.log_softmax(np.asarray(y, dtype=float), over))
            symbolic = {"cross_entropy": lambda i: form("cross_entropy", Entry(yl, i),
                                                        Entry(tl, i)),
                        "nll": lambda i: form("t_times", Entry(tl, i), Entry(yl, i)),
                        "cross_entropy_probs": lambda i: form("t_ln", Entry(tl, i),
                                                              Entry(yl, i))}[loss]
            numeric = {"cross_entropy": lambda i: form("t_ln", t[i], softmax[i]),
                       "nll": lambda i: form("t_times", t[i], y[i]),
                       "cross_entropy_probs": lambda i: form("t_ln", t[i], y[i])}[loss]

            def symbol(i: Index) -> Term:
                return symbolic(i)

            def number(i: Index) -> Term:
                return numeric(i)
            n = losses.groups(y, over)  # the mean over the samples or positions

        key = self._loss_key(loss)
        return Expansion(Entry(LOSS, ()), form("loss_sum", key, n, Terms(indices, symbol)),
                         form("loss_sum", key, n, Terms(indices, number)), value)

    # backward

    def conv_backward(self, step: ConvLayer, names: Names) -> Iterator[Section]:
        op = step.op
        dz, dx, dw, db = step.d_out, step.dx, step.dw, step.db
        assert dz is not None and dx is not None and dw is not None and db is not None
        x, w = step.x, step.w
        N, C, H, W = x.shape
        F, Cg, KH, KW = w.shape  # Cg = C / groups, the channels of one filter
        top, _, left, _ = op.pad
        zl, xl, wl, bl = names.out, names.x, names.w, names.b
        dzl = zl.grad()

        # What a walkthrough highlights: the input (padded as in the forward step), dL/dZ, W.
        x_matrix, w_matrix = self._conv_matrices(step, names)
        padded_shape = (N, C, H + op.pad[0] + op.pad[1], W + op.pad[2] + op.pad[3])
        dz_matrix = self._matrix(Whole(zl.grad()), dz, zl)

        def x_cells(flat: np.ndarray) -> list[Index]:  # where x.flat[flat] are in x_matrix
            n, c, r, s = np.unravel_index(flat, x.shape)
            return _cells(np.ravel_multi_index((n, c, r + top, s + left), padded_shape),
                          x_matrix.array.shape)

        # dL/dW
        def make_dw(n: int) -> Expansion:
            f, c, p, q = _unravel(n, (F, Cg, KH, KW))
            # Outputs whose window put this weight on a real input (padding adds 0).
            met = step.dw_terms(f, c, p, q)
            dz_at, x_at = step.dw_map(f, c, p, q)  # the same pairs, as flat indices
            return Expansion(
                Entry(wl.grad(), (f, c, p, q)),
                Terms(met, lambda m: (Entry(dzl, m[0]), Entry(xl, m[1]))),
                products((dz, x), (dz_at, x_at)),
                dw[f, c, p, q],
                focus=lambda: [(x_matrix, x_cells(x_at)), (dz_matrix, dzl.shown_cells(dz_at))])

        # The arrays the rule correlates: X and dL/dZ in the single-layer form; in a network
        # this layer's own input and output gradient (relu1 and dL/dconv2), not the network's X
        single = self.problem.single
        arrays: dict[str, Any] = {} if single else {"X": Whole(xl), "dZ": Whole(dzl)}
        section = Section(phrase("title.dW") if single else
                          phrase("title.layer_weights", layer=step.layer.name),
                          phrase("why.conv_weights" + ("" if single else ".layer"), w=wl.name,
                                 z=zl.name, **arrays),
                          kind="conv_weights",
                          layer=step.layer.name, context=[x_matrix, dz_matrix])
        section.groups.append(Group(_name(wl.grad()), phrase("rule.dW"), F * Cg * KH * KW,
                                    make_dw, kind="dW"))
        section.results.append(self._matrix(Whole(wl.grad()), dw, wl,
                                            axis_names=_kernel_axes(op, step.layer.signal)))

        def make_db(f: int) -> Expansion:
            outputs = step.db_terms(f)
            at = step.db_map(f)  # the same outputs, as flat indices
            return Expansion(Entry(bl.grad(), (f,)),
                             Terms(outputs, lambda o: Entry(dzl, o)),
                             products((dz,), (at,)),
                             db[f],
                             focus=lambda: [(dz_matrix, dzl.shown_cells(at))])

        # a network's walkthrough titles the step by the layer's bias and says this rule
        db_rule = phrase("rule.db") if single else \
            phrase("step.db.why.layer", b=_name(bl.grad()), dz=Whole(dzl))
        section.groups.append(Group(_name(bl.grad()), db_rule, F, make_db, kind="db"))
        yield section

        # dL/dX
        def make_dx(k: int) -> Expansion:
            index = _unravel(k, (N, C, H, W))
            at = step.dx_map(*index)  # in the order of the outputs, as a student scans dL/dZ
            met = Later(lambda: step.dx_terms(*index))  # the same, as index tuples
            note = None if len(at[0]) else phrase("note.uncovered")
            return Expansion(
                Entry(xl.grad(), index),
                Terms(met, lambda m: (Entry(dzl, m[0]), Entry(wl, m[1]))),
                products((dz, w), at),
                dx[index], note,
                focus=lambda: [(dz_matrix, [dzl.shown_index(m[0]) for m in met]),
                       (w_matrix, [wl.shown_index(m[1]) for m in met])])

        dx_section = Section(phrase("title.dX") if self.problem.single else
                             phrase("title.layer_input", layer=step.layer.name),
                             phrase("why.conv_input" + ("" if single else ".layer"),
                                    x=xl.name, z=zl.name, **arrays),
                             kind="conv_input", layer=step.layer.name,
                             context=[dz_matrix, w_matrix])
        dx_section.groups.append(Group(_name(xl.grad()), phrase("rule.dX"), N * C * H * W, make_dx,
                                       kind="dX"))
        dx_section.results.append(self._matrix(Whole(xl.grad()), dx, xl,
                                               axis_names=_axes(xl)))
        yield dx_section

    def activation_backward(self, step: ActivationLayer, names: Names) -> Iterator[Section]:
        op = step.op
        z, dout, dx = step.x, step.d_out, step.dx
        assert dout is not None and dx is not None
        zl, al = names.x, names.out
        # The kink convention (SPEC section 7) moves the derivative at z = 0: said in the
        # rule, and at each pre-activation that is exactly 0.
        kinked = bool(op.kink) and op.name in ("relu", "leaky_relu")
        at_kink = (op.kink if op.name == "relu" else op.slope + op.kink * (1 - op.slope)) \
            if kinked else None
        rule = form("activation_derivative", op.name, op.slope, *(
            (at_kink,) if kinked else ()))

        def make(n: int) -> Expansion:
            index = _unravel(n, z.shape)
            note = phrase("note.kink", z=Entry(zl, index), name=op.name, value=at_kink
                          ) if kinked and z[index] == 0 else None
            return Expansion(Entry(zl.grad(), index),
                             form("chain", Entry(al.grad(), index), op.name, Entry(zl, index)),
                             Terms(step.dx_terms(index), lambda t: (dout[t[0]], t[1])),
                             dx[index], note)

        yield Section(phrase("title.backward", layer=step.layer.name),
                      phrase("why.activation_back", name=op.name, rule=rule),
                      groups=[Group(_name(zl.grad()), rule, z.size, make)],
                      results=[self._matrix(Whole(zl.grad()), dx, zl,
                                            axis_names=_axes(zl))],
                      kind="activation_back", layer=step.layer.name)

    def pool_backward(self, step: PoolLayer, names: Names) -> Iterator[Section]:
        op = step.op
        a, dp, dx = step.x, step.d_out, step.dx
        assert dp is not None and dx is not None
        al, pl = names.x, names.out
        ph, pw = op.size
        cells = sorted(step.receivers)
        dp_matrix = self._matrix(Whole(pl.grad()), dp, pl)
        dpl = pl.grad()
        # Each source's share of the gradient: the whole (max), 1/(ph*pw) (avg), or per
        # window its divisor (avg with padding or ceil) or its count of ties (max_ties split).
        uniform = op.kind == "avg" and bool((step.divisors == ph * pw).all())
        splits = op.kind == "max" and op.ties == "split"

        def share(sources: list[Index]) -> int | tuple[int | None, ...] | None:
            if uniform:
                return ph * pw
            if op.kind == "avg":
                return tuple(int(step.divisors[s[2], s[3]]) for s in sources)
            if splits:
                return tuple(len(tied) if len(tied := step.tied_cells(*s)) > 1 else None
                             for s in sources)
            return None

        def make(n: int) -> Expansion:
            cell = cells[n]
            sources = step.dx_terms(*cell)
            note = None
            if op.kind == "max" and op.ties in ("all", "split"):
                tied = [s for s in sources if len(step.tied_cells(*s)) > 1]
                if tied:
                    note = phrase(f"note.tied_back.{op.ties}",
                                  windows=form("entries", tuple(Entry(dpl, s) for s in tied)))
            return Expansion(Entry(al.grad(), cell),
                             form("shares", tuple(Entry(dpl, s) for s in sources),
                                  share(sources)),
                             form("shares", tuple(dp[s] for s in sources), share(sources)),
                             dx[cell], note,
                             focus=lambda: [(dp_matrix, [pl.shown_index(s) for s in sources])])

        if op.kind == "max" and op.ties != "first":
            routed = phrase(f"routed.max_{op.ties}")
        elif op.kind == "avg" and not uniform:
            routed = phrase("routed.avg_divisor")
        else:
            routed = phrase(f"routed.{op.kind}", n=ph * pw)
        trailer = phrase("note.rest_zero", name=al.name) if len(cells) < a.size else None
        yield Section(phrase("title.backward", layer=step.layer.name),
                      phrase("why.pool_back", routed=routed),
                      groups=[Group(_name(al.grad()), routed, len(cells), make, trailer)],
                      results=[self._matrix(Whole(al.grad()), dx, al,
                                            axis_names=_axes(al))],
                      kind="pool_back", layer=step.layer.name, context=[dp_matrix])

    def flatten_backward(self, step: FlattenLayer, names: Names) -> Iterator[Section]:
        dout, dx = step.d_out, step.dx
        assert dout is not None and dx is not None
        x_shape = step.x.shape
        hwc = step.axes != tuple(range(len(step.axes)))

        def make(n: int) -> Expansion:
            # HWC: in flatten's order, so that the k-th entry folded back is dL/dflatten[k]
            index = step.out_terms(*divmod(n, step.out.shape[1])) if hwc \
                else _unravel(n, x_shape)
            source = step.dx_terms(index)
            return Expansion(Entry(names.x.grad(), index), Entry(names.out.grad(), source),
                             form("value", dout[source]), dx[index],
                             note=self._flatten_note(step, index) if hwc else None)

        yield Section(phrase("title.backward", layer=step.layer.name),
                      phrase("why.flatten_hwc_back" if hwc else "why.flatten_back"),
                      groups=[Group(_name(names.x.grad()), phrase("rule.flatten_back"),
                                    step.x.size, make)],
                      results=[self._matrix(Whole(names.x.grad()), dx, names.x,
                                            axis_names=_axes(names.x))],
                      kind="flatten_back", layer=step.layer.name)

    def dense_backward(self, step: DenseLayer, names: Names) -> Iterator[Section]:
        dout, dx, dw, db = step.d_out, step.dx, step.dw, step.db
        assert dout is not None and dx is not None and dw is not None and db is not None
        x, w = step.x, step.w
        M, K = w.shape
        yl, xl = names.out, names.x
        dyl = yl.grad()

        # in_out: dW written in x out, its entries in that order, each term x · dL/dy
        in_out = self.problem.conventions.dense_weights == "in_out"

        def make_dw(n: int) -> Expansion:
            if in_out:
                k, m = divmod(n, M)
                terms = step.dw_terms(m, k)
                return Expansion(Entry(names.w.grad(), (m, k)),
                                 Terms(terms, lambda t: (Entry(xl, t[1]), Entry(dyl, t[0]))),
                                 Terms(terms, lambda t: (x[t[1]], dout[t[0]])),
                                 dw[m, k])
            m, k = divmod(n, K)
            terms = step.dw_terms(m, k)
            return Expansion(Entry(names.w.grad(), (m, k)),
                             Terms(terms, lambda t: (Entry(dyl, t[0]), Entry(xl, t[1]))),
                             Terms(terms, lambda t: (dout[t[0]], x[t[1]])),
                             dw[m, k])

        # dL/db: each bias is in its output of every sample, so it sums that output's dL/dy
        # over the samples (with one sample, dL/db is dL/dy itself)
        def make_db(m: int) -> Expansion:
            outputs = step.db_terms(m)
            return Expansion(Entry(names.b.grad(), (m,)),
                             Terms(outputs, lambda o: Entry(dyl, o)),
                             Terms(outputs, lambda o: (dout[o],)),
                             db[m])

        def make_dx(k: int) -> Expansion:
            index = _unravel(k, x.shape)  # (n, k)
            terms = step.dx_terms(*index)
            return Expansion(
                Entry(xl.grad(), index),
                Terms(terms, lambda t: (Entry(dyl, t[0]), Entry(names.w, t[1]))),
                Terms(terms, lambda t: (dout[t[0]], w[t[1]])),
                dx[index])

        yield Section(phrase("title.backward", layer=step.layer.name),
                      phrase("why.dense_in_out_back" if in_out else "why.dense_back"),
                      groups=[Group(_name(names.w.grad()),
                                    phrase("rule.dense_in_out_dW" if in_out else "rule.dense_dW"),
                                    M * K,
                                    make_dw),
                              Group(_name(names.b.grad()), phrase("rule.dense_db"), M, make_db,
                                    kind="db"),
                              Group(_name(xl.grad()), phrase("rule.dense_dx"), x.size,
                                    make_dx)],
                      results=[self._matrix(Whole(names.w.grad()), dw, names.w,
                                            axis_names=()),
                               self._matrix(Whole(names.b.grad(), matrix=False), db, names.b,
                                            axis_names=())],
                      kind="dense_back", layer=step.layer.name)

    def function_backward(self, step: FunctionLayer, names: Names) -> Iterator[Section]:
        """Each input's gradient as the Jacobian product: dL/dx_j = Σ_i dL/dy_i·∂y_i/∂x_j."""
        dout, dx = step.d_out, step.dx
        assert dout is not None and dx is not None
        xl, yl = names.x, names.out
        dyl = yl.grad()
        fields = step.facts()
        dout_matrix = self._matrix(Whole(yl.grad()), dout, yl)

        def make(n: int) -> Expansion:
            index = _unravel(n, step.x.shape)
            terms = step.dx_terms(index)
            return Expansion(
                Entry(xl.grad(), index),
                Terms(terms, lambda t: (Entry(dyl, t[0]),
                                         form("partial", Entry(yl, t[0]), Entry(xl, index)))),
                Terms(terms, lambda t: (dout[t[0]], t[1])),
                dx[index], focus=lambda: [(dout_matrix, [yl.shown_index(t[0]) for t in terms])])

        yield Section(phrase("title.backward", layer=step.layer.name),
                      phrase(f"why.{step.kind}_back", **fields),
                      groups=[Group(_name(xl.grad()),
                                    phrase(f"rule.{step.kind}_back", **fields), step.x.size,
                                    make)],
                      results=[self._matrix(Whole(xl.grad()), dx, xl,
                                            axis_names=_axes(xl))],
                      kind=f"{step.kind}_back", layer=step.layer.name, context=[dout_matrix])

    # any other kind: each entry as the sum of products its layer's `terms` gives

    def sums_facts(self, step: Layer) -> list[Words]:
        layer = step.layer
        return [phrase(f"fact.{step.kind}", layer=layer.name, shape=_shape(layer.in_shape),
                       **step.facts())]

    def _sums_group(self, step: Layer, names: Names, of: str, array: np.ndarray,
                    label: Labeler, title: Whole, rule: str) -> Group:
        """Every entry of `array` (step's `of`: out, dx, dw ...) as its sum of products."""
        arrays = step.arrays()
        grads = {"dout": names.out.grad(), "dx": names.x.grad(),
                 **{"d" + p: label.grad() for p, label in names.params.items()}}
        labels = {"x": names.x, "out": names.out, **names.params, **grads}

        def symbol(factor: Any) -> Any:
            return Entry(labels[factor[0]], factor[1]) if isinstance(factor, tuple) else factor

        def number(factor: Any) -> Any:
            return arrays[factor[0]][factor[1]] if isinstance(factor, tuple) else factor

        def make(n: int) -> Expansion:
            index = _unravel(n, array.shape)
            terms = step.terms(of, index)
            return Expansion(Entry(label, index),
                             Terms(terms, lambda t: tuple(symbol(f) for f in t)),
                             Terms(terms, lambda t: tuple(number(f) for f in t)),
                             array[index])

        return Group(title, phrase(rule, **step.facts()), array.size, make)

    def sums_forward(self, step: Layer, names: Names) -> Section:
        """Each output as its sum of products: y11 = w1·x11 + b1 (words: why.<kind>,
        rule.<kind>)."""
        kind, fields = step.kind, step.facts()
        groups = [self._sums_group(step, names, "out", step.out, names.out,
                                   _name(names.out), f"rule.{kind}")] \
            if "out" in step.expanded else []
        return Section(phrase("title.forward", layer=step.layer.name),
                       phrase(f"why.{kind}", **fields),
                       # a matrix's title is upper case (W), a vector's not (b)
                       matrices=[self._matrix(Whole(names.params[p.letter], p.value.ndim > 1),
                                              p.value, names.params[p.letter], axis_names=())
                                 for p in step.params()],
                       groups=groups,
                       results=[self._matrix(Whole(names.out), step.out, names.out)],
                       kind=kind, layer=step.layer.name)

    def sums_backward(self, step: Layer, names: Names) -> Iterator[Section]:
        """Each parameter's gradient, then dL/dx, as sums of products (words: why.<kind>_back,
        rule.<kind>_d<letter>, rule.<kind>_dx)."""
        assert step.dx is not None
        kind = step.kind
        groups, results = [], []
        for p in step.params():
            label = names.params[p.letter]
            if p.grad is not None and "d" + p.letter in step.expanded:
                groups.append(self._sums_group(step, names, "d" + p.letter, p.grad,
                                               label.grad(), _name(label.grad()),
                                               f"rule.{kind}_d{p.letter}"))
                results.append(self._matrix(Whole(label.grad(), p.grad.ndim > 1), p.grad,
                                            label, axis_names=()))
        if "dx" in step.expanded:
            groups.append(self._sums_group(step, names, "dx", step.dx, names.x.grad(),
                                           _name(names.x.grad()), f"rule.{kind}_dx"))
        results.append(self._matrix(Whole(names.x.grad()), step.dx, names.x))
        yield Section(phrase("title.backward", layer=step.layer.name),
                      phrase(f"why.{kind}_back", **step.facts()), groups=groups,
                      results=results, kind=f"{kind}_back", layer=step.layer.name)

    # transposed convolution: each input entry scatters the kernel into the output

    def conv_transpose_facts(self, step: ConvTransposeLayer) -> list[Words]:
        layer, op = step.layer, step.op
        name = layer.name
        C, Fg, KH, KW = step.w.shape
        _, H, W = layer.in_shape
        F, OH, OW = layer.out_shape
        (sh, sw), (ph, pw), (dh, dw) = op.stride, op.pad, op.dilation
        oh, ow = op.output_padding
        groups = phrase("fact.groups", groups=op.groups) if op.groups > 1 else ""
        return [phrase("fact.conv_transpose", layer=name,
                       kernel=_shape(op.kernel_written or op.kernel_shape),
                       filters=phrase("fact.transpose_filters", C=C, F=F, KH=KH, KW=KW),
                       stride=_pair_text(op.stride), padding=_pair_text(op.pad),
                       output_padding=_pair_text(op.output_padding),
                       dilation=_pair_text(op.dilation), groups=groups),
                form("labelled", name, form("conv_transpose_size",
                                            (H, sh, ph, dh, KH, oh, OH),
                                            (W, sw, pw, dw, KW, ow, OW)))]

    def _transpose_matrices(self, step: ConvTransposeLayer, names: Names
                            ) -> tuple[Matrix, Matrix]:
        """The input and the kernel as shown, the same objects in the forward and backward
        steps (as _conv_matrices)."""
        if step.layer.name not in self.conv_matrices:
            axes = self.kernel_axes[step.layer.name] = _transpose_kernel_axes(step)
            self.conv_matrices[step.layer.name] = (
                self._matrix(Whole(names.x), step.x, names.x),
                self._matrix(Whole(names.w), step.w, names.w, axis_names=axes))
        return self.conv_matrices[step.layer.name]

    def conv_transpose_forward(self, step: ConvTransposeLayer, names: Names) -> Section:
        x, w, b, out = step.x, step.w, step.b, step.out
        xl, wl, bl, yl = names.x, names.w, names.b, names.out
        x_matrix, w_matrix = self._transpose_matrices(step, names)
        section = Section(phrase("title.forward", layer=step.layer.name),
                          phrase("why.conv_transpose", stride=_pair_text(step.stride),
                                 padding=_pair_text(step.pad)),
                          matrices=[x_matrix, w_matrix], kind="conv_transpose",
                          layer=step.layer.name, context=[x_matrix, w_matrix])
        section.lines.append(form("is", _name(bl), Terms(list(b), _value, listed=True)))

        def make_scatter(k: int) -> Expansion:
            index = _unravel(k, x.shape)  # (n, c, i, j)
            # The output cells this entry's kernel copy lands on, each with its weight: the
            # same map as the entry's gradient (dx_terms), read forwards.
            reached = step.dx_terms(*index)

            def focus() -> list[tuple[Matrix, list[tuple[int, ...]]]]:
                # This entry's share of the output: x·w at every cell it reaches, 0 elsewhere.
                share = np.zeros_like(out)
                for o, wi in reached:
                    share[o] = share[o] + x[index] * w[wi]
                share_matrix = self._matrix(phrase("matrix.scatter", entry=Entry(xl, index),
                                                   w=Whole(wl)), share, yl, cells=True)
                return [(x_matrix, [xl.shown_index(index)]),
                        (w_matrix, [wl.shown_index(wi) for _, wi in reached]),
                        (share_matrix, [yl.shown_index(o) for o, _ in reached])]

            return Expansion(
                Entry(xl, index),
                Terms(reached, lambda t: form("adds", Entry(yl, t[0]),
                                              (Entry(xl, index), Entry(wl, t[1]))), listed=True),
                Terms(reached, lambda t: form("adds", Entry(yl, t[0]), (x[index], w[t[1]])),
                      listed=True),
                None, None if reached else phrase("note.cut_off"), focus=focus)

        section.groups.append(Group(_name(xl), phrase("rule.scatter"), x.size, make_scatter,
                                    kind="scatter"))

        def make(k: int) -> Expansion:
            index = _unravel(k, out.shape)  # (n, f, r, s)
            pairs, bias = step.out_terms(*index)
            return Expansion(
                Entry(yl, index),
                Terms(pairs, lambda t: (Entry(xl, t[0]), Entry(wl, t[1])),
                      tail=Entry(bl, bias)),
                Terms(pairs, lambda t: (x[t[0]], w[t[1]]), tail=(b[bias],)),
                out[index],
                focus=lambda: [(x_matrix, [xl.shown_index(t[0]) for t in pairs]),
                               (w_matrix, [wl.shown_index(t[1]) for t in pairs])])

        section.groups.append(Group(form("is", Whole(yl),
                                         form("conv_transpose", Whole(xl), Whole(wl),
                                              _name(bl))),
                                    phrase("rule.conv_transpose"), out.size, make))
        section.results.append(self._matrix(Whole(yl), out, yl, axis_names=_axes(yl)))
        return section

    def conv_transpose_backward(self, step: ConvTransposeLayer, names: Names
                                ) -> Iterator[Section]:
        dout, dx, dw, db = step.d_out, step.dx, step.dw, step.db
        assert dout is not None and dx is not None and dw is not None and db is not None
        x, w = step.x, step.w
        xl, wl, bl, yl = names.x, names.w, names.b, names.out
        dyl = yl.grad()
        x_matrix, w_matrix = self._transpose_matrices(step, names)
        dy_matrix = self._matrix(Whole(dyl), dout, yl)
        name = step.layer.name

        def make_dw(n: int) -> Expansion:
            index = _unravel(n, w.shape)  # (c, f of the group, p, q)
            met = step.dw_terms(*index)
            return Expansion(
                Entry(wl.grad(), index),
                Terms(met, lambda m: (Entry(dyl, m[0]), Entry(xl, m[1]))),
                Terms(met, lambda m: (dout[m[0]], x[m[1]])),
                dw[index],
                focus=lambda: [(x_matrix, [xl.shown_index(m[1]) for m in met]),
                               (dy_matrix, [yl.shown_index(m[0]) for m in met])])

        def make_db(f: int) -> Expansion:
            outputs = step.db_terms(f)
            return Expansion(Entry(bl.grad(), (f,)),
                             Terms(outputs, lambda o: Entry(dyl, o)),
                             Terms(outputs, lambda o: (dout[o],)),
                             db[f],
                             focus=lambda: [(dy_matrix, [yl.shown_index(o) for o in outputs])])

        yield Section(phrase("title.layer_weights", layer=name),
                      phrase("why.conv_transpose_weights", w=wl.name, y=yl.name),
                      groups=[Group(_name(wl.grad()), phrase("rule.conv_transpose_dW"), w.size,
                                    make_dw, kind="dW"),
                              # the walkthrough's why of its dL/db step: a layer's own
                              # names (dL/dconv_transpose1.b, dL/dY), as a network's conv
                              Group(_name(bl.grad()),
                                    phrase("step.db.why.layer", b=_name(bl.grad()),
                                           dz=Whole(dyl)), db.size, make_db, kind="db")],
                      results=[self._matrix(Whole(wl.grad()), dw, wl,
                                            axis_names=_transpose_kernel_axes(step))],
                      kind="conv_transpose_weights", layer=name, context=[x_matrix, dy_matrix])

        def make_dx(k: int) -> Expansion:
            index = _unravel(k, x.shape)  # (n, c, i, j)
            met = step.dx_terms(*index)
            return Expansion(
                Entry(xl.grad(), index),
                Terms(met, lambda m: (Entry(dyl, m[0]), Entry(wl, m[1]))),
                Terms(met, lambda m: (dout[m[0]], w[m[1]])),
                dx[index], None if met else phrase("note.cut_off"),
                focus=lambda: [(dy_matrix, [yl.shown_index(m[0]) for m in met]),
                               (w_matrix, [wl.shown_index(m[1]) for m in met])])

        yield Section(phrase("title.layer_input", layer=name),
                      phrase("why.conv_transpose_input", x=xl.name, y=yl.name,
                             stride=_pair_text(step.stride)),
                      groups=[Group(_name(xl.grad()), phrase("rule.conv_transpose_dX"), x.size,
                                    make_dx, kind="dX")],
                      results=[self._matrix(Whole(xl.grad()), dx, xl, axis_names=_axes(xl))],
                      kind="conv_transpose_input", layer=name, context=[dy_matrix, w_matrix])

    # batch normalisation: per channel, mean, variance, xhat, then gamma·xhat + beta

    def _norm_labels(self, step: BatchNormLayer, names: Names) -> dict[str, Labeler]:
        """What the pieces of a batch_norm layer are called: its statistics mean, var and sigma
        (one per channel) and xhat (x's shape), named as its parameters are."""
        C = step.gamma.shape
        labels = {key: Labeler(_param(step, key, self.run.passes), C, C)
                  for key in ("mean", "var", "sigma")}
        labels["xhat"] = replace(names.x, name=_param(step, "xhat", self.run.passes),
                                 gradient=False)
        return labels

    def _norm_fields(self, step: BatchNormLayer) -> dict[str, object]:
        """The fields of a batch_norm layer's words: what a channel is called and its M."""
        unit = phrase("unit.channel" if step.x.ndim > 2 else "unit.unit")
        return {"unit": unit, "M": step.x.size // step.x.shape[1]}

    def batch_norm_facts(self, step: BatchNormLayer) -> list[Words]:
        layer = step.layer
        fields = self._norm_fields(step)
        return [phrase("fact.batch_norm", layer=layer.name, C=step.gamma.size,
                       mode=phrase(f"mode.{step.mode}"), eps=_value(step.eps),
                       shape=_shape(layer.in_shape), **fields)]

    def batch_norm_forward(self, step: BatchNormLayer, names: Names) -> Section:
        x, out, xhat = step.x, step.out, step.xhat
        mean, var, sigma, gamma, beta = step.mean, step.var, step.sigma, step.gamma, step.beta
        xl, yl = names.x, names.out
        gl, bl = names.params["gamma"], names.params["beta"]
        labels = self._norm_labels(step, names)
        ml, vl, sl, hl = labels["mean"], labels["var"], labels["sigma"], labels["xhat"]
        fields = self._norm_fields(step)
        M = fields["M"]
        x_matrix = self._matrix(Whole(xl), x, xl)
        xhat_matrix = self._matrix(Whole(hl), xhat, hl)
        section = Section(phrase("title.forward", layer=step.layer.name),
                          phrase(f"why.batch_norm.{step.mode}", **fields),
                          matrices=[x_matrix], kind="batch_norm", layer=step.layer.name,
                          context=[x_matrix, xhat_matrix])
        section.lines += [form("is", _name(gl), Terms(list(gamma), _value, listed=True)),
                          form("is", _name(bl), Terms(list(beta), _value, listed=True))]
        C = gamma.size
        if step.mode == "train":
            def make_mean(c: int) -> Expansion:
                group = step.group(c)
                return Expansion(Entry(ml, (c,)),
                                 form("mean_of", Terms(group, lambda m: Entry(xl, m)), M),
                                 form("mean_of", Terms(group, lambda m: (x[m],)), M),
                                 mean[c],
                                 focus=lambda: [(x_matrix, [xl.shown_index(m) for m in group])])

            def make_var(c: int) -> Expansion:
                group = step.group(c)
                return Expansion(
                    Entry(vl, (c,)),
                    form("mean_of", Terms(group, lambda m: form(
                        "squared_error", Entry(xl, m), Entry(ml, (c,)))), M),
                    form("mean_of", Terms(group, lambda m: form("squared_error", x[m], mean[c])),
                         M),
                    var[c], focus=lambda: [(x_matrix, [xl.shown_index(m) for m in group])])

            section.groups += [
                Group(_name(ml), phrase("rule.bn_mean", **fields), C, make_mean, kind="mean"),
                Group(_name(vl), phrase("rule.bn_var", **fields), C, make_var, kind="var")]
        else:
            # The running statistics are given: they are facts, not sums.
            section.lines += [form("is", _name(ml), Terms(list(mean), _value, listed=True)),
                              form("is", _name(vl), Terms(list(var), _value, listed=True))]

        def make_sigma(c: int) -> Expansion:
            return Expansion(Entry(sl, (c,)), form("root", Entry(vl, (c,)), step.eps),
                             form("root", var[c], step.eps), sigma[c])

        def make_xhat(k: int) -> Expansion:
            index = _unravel(k, x.shape)
            c = (index[1],)
            return Expansion(Entry(hl, index),
                             form("normalize", Entry(xl, index), Entry(ml, c), Entry(sl, c)),
                             form("normalize", x[index], mean[c], sigma[c]), xhat[index],
                             focus=lambda: [(x_matrix, [xl.shown_index(index)])])

        def make_out(k: int) -> Expansion:
            index = _unravel(k, x.shape)
            at, c = step.out_terms(index)
            return Expansion(Entry(yl, index),
                             form("scale_shift", Entry(gl, c), Entry(hl, at), Entry(bl, c)),
                             form("scale_shift", gamma[c], xhat[at], beta[c]), out[index],
                             focus=lambda: [(xhat_matrix, [hl.shown_index(at)])])

        section.groups += [
            Group(_name(sl), phrase("rule.bn_sigma", formula=form(
                "is", _name(sl), form("root", _name(vl), "eps"))), C, make_sigma, kind="sigma"),
            Group(_name(hl), phrase("rule.bn_xhat", formula=form(
                "is", _name(hl), form("normalize", _name(xl), _name(ml), _name(sl))), **fields),
                  x.size, make_xhat, kind="xhat"),
            Group(form("is", Whole(yl), form("scale_shift", _name(gl), Whole(hl), _name(bl))),
                  phrase("rule.bn_out", **fields), x.size, make_out, kind="Y")]
        section.results += [xhat_matrix, self._matrix(Whole(yl), out, yl, axis_names=_axes(yl))]
        return section

    def batch_norm_backward(self, step: BatchNormLayer, names: Names) -> Iterator[Section]:
        dout, dx, dgamma, dbeta = step.d_out, step.dx, step.dgamma, step.dbeta
        assert dout is not None and dx is not None and dgamma is not None and dbeta is not None
        xhat, gamma, sigma = step.xhat, step.gamma, step.sigma
        xl, yl = names.x, names.out
        dyl = yl.grad()
        gl, bl = names.params["gamma"], names.params["beta"]
        labels = self._norm_labels(step, names)
        sl, hl = labels["sigma"], labels["xhat"]
        fields = self._norm_fields(step)
        M = fields["M"]
        name = step.layer.name
        dy_matrix = self._matrix(Whole(dyl), dout, yl)
        xhat_matrix = self._matrix(Whole(hl), xhat, hl)

        def make_dgamma(c: int) -> Expansion:
            group = step.dgamma_terms(c)
            return Expansion(Entry(gl.grad(), (c,)),
                             Terms(group, lambda m: (Entry(dyl, m), Entry(hl, m))),
                             Terms(group, lambda m: (dout[m], xhat[m])), dgamma[c],
                             focus=lambda: [(dy_matrix, [yl.shown_index(m) for m in group]),
                                            (xhat_matrix, [hl.shown_index(m) for m in group])])

        def make_dbeta(c: int) -> Expansion:
            group = step.dbeta_terms(c)
            return Expansion(Entry(bl.grad(), (c,)), Terms(group, lambda m: Entry(dyl, m)),
                             Terms(group, lambda m: (dout[m],)), dbeta[c],
                             focus=lambda: [(dy_matrix, [yl.shown_index(m) for m in group])])

        C = gamma.size
        formula = form("scale_shift", _name(gl), _name(hl), _name(bl))
        yield Section(phrase("title.layer_params", layer=name),
                      phrase("why.batch_norm_params", formula=form("is", _name(yl), formula),
                             **fields),
                      groups=[Group(_name(gl.grad()), phrase("rule.bn_dgamma", **fields), C,
                                    make_dgamma, kind="dgamma"),
                              Group(_name(bl.grad()), phrase("rule.bn_dbeta", **fields), C,
                                    make_dbeta, kind="dbeta")],
                      results=[Matrix(Whole(gl.grad()), dgamma), Matrix(Whole(bl.grad()), dbeta)],
                      kind="batch_norm_params", layer=name, context=[dy_matrix, xhat_matrix])

        # dL/dx = gamma/sigma·(dL/dy - dL/dbeta/M - xhat·dL/dgamma/M) in train mode (the
        # three terms), gamma/sigma·dL/dy in eval mode: one op, the eval one using the first
        # three operands.
        op = "bn_dx" if step.mode == "train" else "bn_dx_eval"
        dx_rule = form("is", _name(xl.grad()),
                       form(op, _name(gl), _name(sl), _name(dyl), _name(bl.grad()), _name(hl),
                            _name(gl.grad()), M))

        def make_dx(k: int) -> Expansion:
            index = _unravel(k, dx.shape)
            c = (index[1],)
            return Expansion(
                Entry(xl.grad(), index),
                form(op, Entry(gl, c), Entry(sl, c), Entry(dyl, index), Entry(bl.grad(), c),
                     Entry(hl, index), Entry(gl.grad(), c), M),
                form(op, gamma[c], sigma[c], dout[index], dbeta[c], xhat[index], dgamma[c], M),
                dx[index],
                focus=lambda: [(dy_matrix, [yl.shown_index(index)]),
                               (xhat_matrix, [hl.shown_index(index)])])

        yield Section(phrase("title.layer_input", layer=name),
                      phrase(f"why.batch_norm_back.{step.mode}", formula=dx_rule, **fields),
                      groups=[Group(_name(xl.grad()), phrase(f"rule.bn_dx.{step.mode}"),
                                    dx.size, make_dx, kind="dX")],
                      results=[self._matrix(Whole(xl.grad()), dx, xl, axis_names=_axes(xl))],
                      kind="batch_norm_back", layer=name, context=[dy_matrix, xhat_matrix])

    # update

    def update_section(self) -> Section:
        lr = self.run.learning_rate
        assert lr is not None
        section = Section(phrase("title.update"), phrase("why.update", lr=_value(lr)),
                          kind="update")
        section.groups, section.results = self._updates([step.params() for step in
                                                         self.run.passes])
        return section

    def _updates(self, params: list[list[Param]], round_: int | None = None
                 ) -> tuple[list[Group], list[Matrix]]:
        """Each parameter's update W - lr·dL/dW, entry by entry, and the updated parameters
        as matrices; params: each pass's, after backward and update. round_: a training
        round after the first (SPEC section 6), whose updated parameters are titled by the
        keys `check` takes (steps[2].W_new), as `solve` lists them."""
        lr = self.run.learning_rate
        groups: list[Group] = []
        results: list[Matrix] = []
        for step, names, ps in zip(self.run.passes, self.names, params, strict=True):
            for p in ps:
                if p.grad is None or p.new is None:
                    continue
                label = names.params[p.letter]

                def make(n: int, label: Labeler = label, old: np.ndarray = p.value,
                         grad: np.ndarray = p.grad, new: np.ndarray = p.new) -> Expansion:
                    index = _unravel(n, old.shape)
                    return Expansion(Entry(label, index, new=True),
                                     form("update", Entry(label, index), "lr",
                                          Entry(label.grad(), index)),
                                     form("update", old[index], lr, grad[index]),
                                     new[index])

                groups.append(Group(Whole(label, matrix=False, new=True),
                                    phrase("rule.update"), p.value.size, make))
                # A matrix's title is upper case (W_new), a vector's not (b_new).
                axes = self.kernel_axes.get(step.layer.name, ()) if p.letter == "w" else ()
                title: Whole | str = Whole(label, p.value.ndim > 1, new=True)
                if round_ is not None:
                    layer = "" if self.problem.single else f"{step.layer.name}."
                    title = f"steps[{round_}].{layer}{p.new_key}"
                results.append(self._matrix(title, p.new, label, axis_names=axes))
        return groups, results

    def round_sections(self) -> Iterator[Section]:
        """The training rounds after the first (`steps: k`, SPEC section 6), one section
        each: its loss (before its update), its gradients and its update written out. Round
        1 is the run's own sections. Nothing without `steps`."""
        for k, round_ in enumerate(self.run.rounds[1:], start=2):
            groups, results = self._updates(round_.params, k)
            grads = [self._matrix(phrase("matrix.round", n=k,
                                         name=Whole(names.params[p.letter].grad(),
                                                    p.value.ndim > 1)),
                                  p.grad, names.params[p.letter],
                                  axis_names=self.kernel_axes.get(step.layer.name, ())
                                  if p.letter == "w" else ())
                     for step, names, ps in zip(self.run.passes, self.names, round_.params,
                                                strict=True)
                     for p in ps if p.grad is not None]
            yield Section(phrase("title.round", n=k), phrase("why.round", n=k, prev=k - 1),
                          lines=[form("is", f"steps[{k}].loss", round_.loss)],
                          matrices=grads, groups=groups, results=results, kind="round")


# --- helpers ---------------------------------------------------------------------------------


def _name(label: Labeler) -> Whole:
    """An array by its name as it is, not as a matrix: dL/dw, b, y (a vector)."""
    return Whole(label, matrix=False)


def _leaky_kink_facts(problem: Problem) -> list[Phrase]:
    """What the kink convention makes of a leaky ReLU's derivative at 0, slope + kink*(1 -
    slope) (SPEC section 7), not the kink itself: "kink 0" alone reads as leaky_relu'(0) = 0.
    One line per slope; with slopes that differ, each line names its layers. None without a
    leaky ReLU."""
    slopes: dict[Number, list[str]] = {}
    kinks: dict[Number, Number] = {}
    for layer in problem.layers:
        op = layer.op
        if isinstance(op, Activation) and op.name == "leaky_relu":
            slopes.setdefault(op.slope, []).append(layer.name)
            kinks[op.slope] = op.kink
    lines = []
    for slope, layers in slopes.items():
        kink = kinks[slope]
        meaning = "kink.slope" if kink == 0 else "kink.one" if kink == 1 else "kink.between"
        fields: dict[str, object] = {
            "value": _value(slope + kink * (1 - slope)), "kink": format_number(kink),
            "meaning": phrase(meaning)}
        if len(slopes) > 1:
            lines.append(Phrase("fact.leaky_kink_layers", {**fields, "layers": ", ".join(layers)}))
        else:
            lines.append(Phrase("fact.leaky_kink", fields))
    return lines


def _value(v: Number) -> Form:
    """A number written as it is, negative or not: b = 1, -2; softmax(1, -2)."""
    return form("value", v)


def _loss_derivative(loss: str, y_entry: Entry, t_entry: Entry, yv: Number, tv: Number, N: int,
                     y: np.ndarray, t: np.ndarray, mean: bool = False, over: str = "all"
                     ) -> tuple[Form, Form]:
    """dL/dy of one output, as a formula of the entries and of their numbers; y and t are
    (N, ...), the entries' indices name the sample first. mean: a distribution loss averaged
    over its groups (samples, or positions with over channels)."""
    if loss in ("mse", "mae", "bce"):
        return form(f"d_{loss}", N, y_entry, t_entry), form(f"d_{loss}", N, yv, tv)
    if loss in ("sse", "half_sse"):
        return form(f"d_{loss}", y_entry, t_entry), form(f"d_{loss}", yv, tv)
    G = losses.groups(y, over) if mean else None
    if loss in ("nll", "cross_entropy_probs"):
        return form(f"d_{loss}", G, y_entry, t_entry), form(f"d_{loss}", G, yv, tv)
    index = y_entry.index
    softmax = float(np.exp(losses.log_softmax(np.asarray(y, dtype=float), over))[index])
    # the sum of the target over the entry's group: its sample, or its position's channels
    group = t[index[0]] if over == "all" else np.moveaxis(t, 1, -1)[(index[0],) + index[2:]]
    total = sum(group.flat)
    if mean:
        return (form("d_cross_entropy_batch", G, y_entry, t_entry),
                form("d_cross_entropy_batch_value", G, softmax, total, tv))
    return (form("d_cross_entropy", y_entry, t_entry),
            form("d_cross_entropy_value", softmax, total, tv))


def _target(label: Labeler) -> Labeler:
    """The target's entries, named after the outputs': y11 -> t11."""
    return replace(label, name="t" + label.name[1:], gradient=False)


def _axes_text(ndim: int, batch: bool, nhwc: bool = False) -> str:
    """What the input's axes are, after its shape: " (C x H x W)", " (N x C x H x W)"; in
    layout NHWC " (H x W x C)", " (N x H x W x C)"."""
    if batch:
        return {4: " (N x H x W x C)" if nhwc else " (N x C x H x W)", 3: " (N x H x W)",
                2: " (N x K)"}.get(ndim, "")
    if ndim == 3:
        return " (H x W x C)" if nhwc else " (C x H x W)"
    return ""


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in shape) if shape else "a number"


def _joined(notes: list[Words]) -> Words | None:
    """Several notes on one number as one: "from a22; padding (-∞) never wins"."""
    if not notes:
        return None
    joined = notes[0]
    for note in notes[1:]:
        joined = phrase("note.and", a=joined, b=note)
    return joined


def _pair_text(pair: tuple[int, int], signal: bool = False) -> str:
    """A stride or dilation as written: one number when both axes agree; a signal's (conv1d)
    is the number along it."""
    if signal:
        return str(pair[1])
    return str(pair[0]) if pair[0] == pair[1] else f"[{pair[0]}, {pair[1]}]"


def _axes(label: Labeler) -> tuple[str, ...]:
    """The names of the leading axes of an array's tables: sample (in a batch), then channel
    (or filter and channel)."""
    extra = len(label.shown_shape) - 2
    lead = ("sample",) if label.batch and extra > 0 else ()
    extra -= len(lead)
    return lead + (("channel",) if extra == 1 else ("filter", "channel")[:max(extra, 0)])


def _transpose_kernel_axes(step: ConvTransposeLayer) -> tuple[str, ...]:
    """A transposed convolution's kernel is input channels first, C x F/groups x kh x kw."""
    shape = step.kernel_shape
    if len(shape) == 4:
        return ("channel", "filter")
    if len(shape) == 3:
        return ("filter",) if step.w.shape[0] == 1 else ("channel",)
    return ()


def _kernel_axes(op: Conv, signal: bool = False) -> tuple[str, ...]:
    F, C = op.w.shape[:2]
    if signal:  # conv1d: F x C x k is a matrix per filter; F x k, C x k and k one matrix
        return ("filter",) if len(op.kernel_shape) == 3 else ()
    if len(op.kernel_shape) == 4:
        return ("filter", "channel")
    if len(op.kernel_shape) == 3:
        return ("filter",) if C == 1 else ("channel",)
    return ()


def _cells(flat: np.ndarray, shape: tuple[int, ...]) -> list[Index]:
    """The indices (tuples of plain ints) of the entries flat[k] of an array of `shape`."""
    return list(zip(*(axis.tolist() for axis in np.unravel_index(flat, shape)), strict=True))


def _unravel(n: int, shape: tuple[int, ...]) -> Index:
    """The index (plain ints) of the n-th entry, row-major, of an array of `shape`."""
    if not 0 <= n < math.prod(shape):
        raise IndexError(f"entry {n} of an array of shape {shape}")
    n, index = int(n), []
    for size in reversed(shape):  # divmod: np.unravel_index costs more, once per expansion
        n, i = divmod(n, size)
        index.append(i)
    return tuple(reversed(index))


def _pad_mask(shape: tuple[int, ...], pad: tuple[int, int, int, int]) -> np.ndarray:
    """True on the padding of x_pad, for x of `shape` (N, C, H, W)."""
    *lead, H, W = shape
    top, bottom, left, right = pad
    mask = np.ones((*lead, H + top + bottom, W + left + right), dtype=bool)
    mask[..., top:top + H, left:left + W] = False
    return mask


def _shown_with_pad(label: Labeler, pad: tuple[int, int, int, int]) -> tuple[int, ...]:
    """The shape x_pad is shown in: the input's shown shape, its last two axes padded (a
    signal of L shown alone: its one axis, by left and right)."""
    top, bottom, left, right = pad
    if len(label.shown_shape) == 1:
        return (label.shown_shape[0] + left + right,)
    *lead, H, W = label.shown_shape
    return (*lead, H + top + bottom, W + left + right)


def _has_long(solved: Run) -> bool:
    """Whether any number of an exact run is one that show_number rounds."""
    arrays = [solved.x, solved.target, solved.dy, np.array([solved.loss, solved.learning_rate],
                                                            dtype=object)]
    for step in solved.passes:
        arrays += [step.out, step.d_out, step.dx]
        for p in step.params():
            arrays += [p.value, p.grad, p.new]
    return any(is_long(value) for arr in arrays if arr is not None and arr.dtype == object
               for value in arr.flat)


def _param(step: Layer, letter: str, passes: list[Layer]) -> str:
    return f"{step.layer.name}.{letter}" if len(passes) > 1 else letter

