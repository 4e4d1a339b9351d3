"""The trace holds a run's terms as data: no formula and no sentence is written in trace.py.

Every title, rule, fact line and expansion of every section is a Phrase (a key of the words),
a Form (an op over entries, arrays and numbers), a Whole (an array by its Labeler) or an
Entry; the text that remains (a layer's name, a function's name, a loss's key) carries no
formula. That is what lets a renderer other than the terminal's (LaTeX, Markdown) write
every formula in its own notation, as the small LaTeX writer below does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from convgrad import trace
from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.naming import array_name, entry_name
from convgrad.trace import Entry, Form, Labeler, Phrase, Terms, Trace, Whole

from .conftest import PROBLEMS

# Marks of a formula written as text: y = ..., x·w, X ⋆ W, dL/dw, Σ, (y - t)², e^(-z), ∂y/∂x.
MARKS = ("=", "·", "⋆", "/", "Σ", "²", "^", "∂", "σ")

SEED = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "bias": 1}
# Every loss, activation, layer kind and ending (loss, grad_output, forward only, update)
# beyond what problems/ holds.
VARIANTS = {
    "tanh_sse": {**SEED, "activation": "tanh", "target": "1 0; 0 1", "loss": "sse"},
    "leaky_relu_mae_update": {**SEED, "activation": {"name": "leaky_relu", "slope": "1/10"},
                              "target": "1 0; 0 1", "loss": "mae", "learning_rate": "1/2"},
    "padded_grad_output": {**SEED, "padding": 1, "stride": 2, "grad_output": "1 0; 0 1"},
    "forward_only": SEED,
    "sigmoid_avg_pool_dense_softmax": {
        "input": [[[1, 2, 0], [0, 1, 3], [2, 1, 0]]],
        "layers": [{"conv": {"kernel": [[[[1, 0], [0, -1]]], [[[0, 1], [1, 0]]]],
                             "bias": [0, 1]}},
                   "sigmoid", {"avg_pool": {"size": 2, "stride": 1}}, "flatten",
                   {"dense": {"weights": "1 -1; 0.5 2", "bias": [0, 1]}}, "softmax"],
        "target": [0, 1], "loss": "half_sse", "learning_rate": "0.1"},
    "conv_transpose_groups_batch_norm_update": {
        "input": [[[1, 2], [0, -1]], [[2, 0], [1, 1]]],
        "layers": [{"conv_transpose": {"kernel": [["1 0; 2 1", "0 1; 1 0"],
                                                  ["1 1; 0 1", "2 0; 0 -1"]],
                                       "stride": 2, "padding": 1, "output_padding": 1,
                                       "groups": 2, "bias": [1, 0, -1, 0]}},
                   {"batch_norm": {"gamma": [2, 1, 1, 1], "beta": [0, "1/2", 0, 0]}},
                   "flatten", {"dense": {"weights": [[1, -1] * 18], "bias": 0}},
                   {"batch_norm": {"mode": "eval", "running_mean": 1, "running_var": 4}}],
        "target": [1], "loss": "mse", "learning_rate": "1/10"},
    "batch_conv_transpose_batch_norm": {
        "input": [[[[0, 1], [2, 3]]], [[[1, -1], [0, 2]]]],
        "layers": [{"conv_transpose": {"kernel": "0 1; 2 3", "stride": 2}}, "batch_norm",
                   "flatten", {"dense": {"weights": [[1, 0, 0, 1] * 4], "bias": 0}},
                   {"batch_norm": {"gamma": 2}}],
        "target": [[1], [0]], "loss": "mse", "learning_rate": "1/10"},
}
CASES = [*(pytest.param(path, id=path.stem) for path in PROBLEMS),
         *(pytest.param(problem, id=name) for name, problem in VARIANTS.items())]


def strings(value: Any, shown: int = 3) -> Iterator[str]:
    """Every piece of text inside a value of the trace, the first `shown` terms of a sum."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Phrase):
        if value.key != "fact.name":  # the problem's name is the user's text
            for field in value.fields.values():
                yield from strings(field, shown)
        yield value.after
    elif isinstance(value, Form):
        for arg in value.args:
            yield from strings(arg, shown)
    elif isinstance(value, Terms):
        for item in value.items[:shown]:
            yield from strings(value.term(item), shown)
        if value.tail is not None:
            yield from strings(value.tail, shown)
    elif isinstance(value, (Whole, Entry)):
        yield from strings(value.label, shown)
    elif isinstance(value, Labeler):
        yield value.name
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from strings(item, shown)


def formula_text(value: Any) -> list[str]:
    return [text for text in strings(value) if any(mark in text for mark in MARKS)]


@pytest.mark.parametrize("problem", CASES)
def test_sections_hold_no_formula_as_text(problem):
    words = (Phrase, Form, Whole)
    seen = 0
    for section in Trace(run(load_problem(problem))).sections():
        assert isinstance(section.title, words) and isinstance(section.why, words), section.title
        for line in section.lines:
            assert isinstance(line, words), line
        for matrix in [*section.matrices, *section.results, *section.context]:
            assert isinstance(matrix.title, (Phrase, Whole)), matrix.title
        for group in section.groups:
            assert isinstance(group.title, (Form, Whole)), group.title
            assert isinstance(group.rule, words), group.rule
            assert group.trailer is None or isinstance(group.trailer, words), group.trailer
            for n in range(min(group.count, 3)):
                exp = group.make(n)
                assert isinstance(exp.label, Entry), exp.label
                assert exp.note is None or isinstance(exp.note, words), exp.note
                assert isinstance(exp.symbolic, (Terms, Form, Entry, tuple)), exp.symbolic
                assert isinstance(exp.numeric, (Terms, Form, Entry, tuple)), exp.numeric
                assert not formula_text([exp.label, exp.symbolic, exp.numeric, exp.note])
                seen += 1
        parts = [section.title, section.why, *section.lines,
                 *(m.title for m in [*section.matrices, *section.results, *section.context]),
                 *(part for g in section.groups for part in (g.title, g.rule, g.trailer))]
        assert not formula_text(parts), (section.kind, formula_text(parts))
    assert seen > 0


def test_the_formula_tables_live_with_the_renderer():
    for table in ("LOSS_FORMULAS", "LOSS_DERIVATIVES", "ACTIVATION_FORMULAS",
                  "ACTIVATION_DERIVATIVES"):
        assert not hasattr(trace, table), table
    assert not hasattr(trace, "_title")


def test_the_marks_are_found_where_a_formula_is_text():
    # The check above can fail: text formulas of the kind trace.py used to build are caught.
    assert formula_text(Phrase("why.activation", {"formula": "relu(z) = max(0, z)"}))
    assert formula_text(Form("is", ("Y = X ⋆ W + b",)))
    assert formula_text(Whole(Labeler("dL/dw", (2, 2), (2, 2))))
    assert not formula_text(Whole(Labeler("w", (2, 2), (2, 2)).grad()))


# A second notation, written from the same data: what a LaTeX renderer would do.


def latex(value: Any) -> str:
    if isinstance(value, Whole):
        name = value.label.name
        name = name.upper() if value.matrix and len(name) == 1 else name
        name += "_{new}" if value.new else ""
        return rf"\frac{{\partial L}}{{\partial {name}}}" if value.label.gradient else name
    if isinstance(value, Form):
        args = [latex(arg) for arg in value.args]
        return {
            "is": lambda a, b: f"{a} = {b}",
            "conv": lambda x, w, b: rf"{x} \star {w} + {b}",
            "apply": lambda fn, z, k="": rf"\operatorname{{{fn}}}({z})",
            "pool": lambda kind, a: rf"\operatorname{{{kind}pool}}({a})",
            "affine": lambda w, x, b: f"{w} {x} + {b}",
        }[value.op](*args)
    return str(value)


def test_a_second_notation_writes_the_titles_from_the_data():
    problem = {**SEED, "activation": "relu", "target": "1 0; 0 1", "loss": "mse"}
    sections = {s.kind: s for s in Trace(run(load_problem(problem))).sections()}
    assert latex(sections["conv"].groups[0].title) == r"Z = X \star W + b"
    assert latex(sections["activation"].groups[0].title) == r"Y = \operatorname{relu}(Z)"
    dw = sections["conv_weights"]
    assert latex(dw.results[0].title) == r"\frac{\partial L}{\partial W}"
    assert latex(dw.groups[1].title) == r"\frac{\partial L}{\partial b}"
    # ... and the terminal writes the same data as it always has
    assert array_name(dw.results[0].title) == "dL/dW"
    assert array_name(dw.groups[0].title) == "dL/dw"


def test_names_of_arrays_and_entries():
    w = Labeler("w", (1, 1, 2, 2), (2, 2))
    assert array_name(Whole(w)) == "W"
    assert array_name(Whole(w, matrix=False)) == "w"
    assert array_name(Whole(w.grad())) == "dL/dW"
    assert array_name(Whole(w, new=True)) == "W_new"
    assert array_name(Whole(Labeler("relu1", (2,), (2,)))) == "relu1"  # a layer's name
    assert entry_name(Entry(w.grad(), (0, 0, 1, 0))) == "dL/dw21"
    assert entry_name(Entry(w, (0, 0, 0, 1), new=True)) == "w12_new"
    wide = Labeler("x", (1, 2, 12), (1, 2, 12))
    assert entry_name(Entry(wide.grad(), (0, 1, 11))) == "dL/dx[1,2,12]"
    assert np.array_equal(w.shown_index((0, 0, 1, 1)), (1, 1))
