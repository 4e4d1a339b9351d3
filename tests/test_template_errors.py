"""A template's mistakes (SPEC section 9), each one line through main(argv), exit 2, at the
template's own line: a key misspelt anywhere (found while reading a variant, said at the
template's line), a template key misspelt (require, graded), a random choice of an unknown
kind, bounds as written, a graded key that is no result, and a template given where a problem
is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import one_line, run_main, write

WEEK6 = """\
# Week 6 homework
name: 6x6 input, 3x3 kernel, pad 1, leaky ReLU, 2x2 avg pool
input: {shape: [6, 6], entries: {int: [-2, 2]}}
kernel: {shape: [3, 3], entries: {choice: [-1, 0, 1, "1/2", "-1/2"]}}
bias: {fraction: [-1, 1], denominators: [2]}
stride: 1
padding: 1
activation: {name: leaky_relu, slope: 0.1}
pool: {type: avg, size: 2, stride: 2}
target: {shape: [3, 3], entries: {int: [0, 2]}}
loss: half_sse
graded: [dY, dW, db, dX]
require: [distinct]
"""


def mistake(tmp_path: Path, old: str, new: str) -> tuple[str, int]:
    """generate on WEEK6 with old replaced by new: its one line, and the line of the
    template that was changed (1-based)."""
    assert WEEK6.count(old) == 1
    text = WEEK6.replace(old, new)
    line = text[:text.index(new)].count("\n") + 1
    template = write(tmp_path, "week6.yaml", text)
    done = run_main("generate", template, "--count", 2, "--seed", 1,
                    "--out", tmp_path / "out")
    assert done.returncode == 2, done
    assert not (tmp_path / "out").exists()
    return one_line(done), line


@pytest.mark.parametrize("old, new, says", [
    # found by the reader in a variant (its line 16): said at the template's line 8
    ("activation:", "activaton:", "'activaton' is not a known key; did you mean 'activation'?"),
    ("stride: 2}", "strde: 2}", "'pool.strde' is not a known key; did you mean 'stride'?"),
    ("require:", "requires:", "'requires' is not a known key; did you mean 'require'?"),
    ("graded:", "grade:", "'grade' is not a known key; did you mean 'graded'?"),
    ("{int: [-2, 2]}", "{integer: [-2, 2]}",
     "'integer' is not a random choice (int, fraction, choice, shape); did you mean 'int'?"),
    ("bias: {fraction:", "bias: {fractions:",
     "'fractions' is not a random choice (int, fraction, choice, shape); did you mean "
     "'fraction'?"),
    ("{int: [-2, 2]}", "{int: [-2.5, 2]}", "'int' needs whole numbers, not [-2.5, 2];"),
    ("{int: [0, 2]}", "{int: [2, 0]}", "not [2, 0];"),
    ("denominators: [2]", "denominators: [0.5]", "not [0.5];"),
    ("require: [distinct]", "require: [{distinguishes: [max_tie]}]",
     "'distinguishes': 'max_tie' is not a convention key"),
    # a list or a mapping where a key belongs was a TypeError (unhashable), exit 70
    ("require: [distinct]", "require: [{distinguishes: [[max_ties]]}]",
     "'distinguishes': [max_ties] is not a convention key"),
    ("require: [distinct]", "require: [{distinguishes: [{kink: 1}]}]",
     "'distinguishes': {kink: 1} is not a convention key"),
    ("[dY, dW, db, dX]", "[dY, dw, db]",
     "'graded': 'dw' is not a result of this problem; did you mean 'dW'?"),
    # the shapes of graded, require and each random choice
    ("[dY, dW, db, dX]", "dW", "'graded' must be a list of result keys"),
    ("require: [distinct]", "require: distinct", "'require' must be a list"),
    ("require: [distinct]", "require: [{distinguishes: []}]",
     "'distinguishes' needs convention keys"),
    ("{int: [-2, 2]}", "{int: [-2, 2], choice: [1]}",
     "a random choice has one of int, fraction, choice, shape; this one has int, choice"),
    ("input: {shape: [6, 6]", "input: {shape: [0, 6]",
     "'shape' must be a list of sizes from 1 to 1000, not [0, 6]"),
    ('choice: [-1, 0, 1, "1/2", "-1/2"]', "choice: []",
     "'choice' must be a list of one or more values"),
    # 100,001 values; 200 * 999 + 200 * 1000 fractions: over the 100,000 one choice may take
    ("{int: [0, 2]}", "{int: [0, 100000]}", "'int' range [0, 100000] is too wide"),
    ("bias: {fraction: [-1, 1], denominators: [2]}",
     "bias: {fraction: [-100, 100], denominators: [999, 1000]}",
     "'fraction' range [-100, 100] has too many values"),
    # 36 + 9 + 250,500 random entries: refused before any is drawn (a 500x501 target was
    # drawn and written, a [1000, 1000, 1000] input drew for minutes in gigabytes)
    ("target: {shape: [3, 3]", "target: {shape: [500, 501]",
     "'shape' [500, 501] brings the template's random entries to 250,545, more than the "
     "250,000 a variant may draw"),
    ("input: {shape: [6, 6]", "input: {shape: [1000, 1000, 1000]",
     "'shape' [1000, 1000, 1000] brings the template's random entries to 1,000,000,000"),
    # strings YAML joins from lines of the template: problem.yaml could not be written
    # (internal error, exit 70); a matrix over lines reads as one row, as in a problem file
    ("padding: 1", "padding: 1\n  - [1, 0]", "'padding' '1 - [1, 0]' is not a padding"),
    ('kernel: {shape: [3, 3], entries: {choice: [-1, 0, 1, "1/2", "-1/2"]}}',
     'kernel: "1 0 1\n  0 1 0\n  1 1 1"',
     "'kernel': is one string written over several lines, which YAML joins into a single row"),
    ('kernel: {shape: [3, 3], entries: {choice: [-1, 0, 1, "1/2", "-1/2"]}}',
     'kernel: {choice: ["1 0 1\n  0 1 0\n  1 1 1"]}',
     "'kernel': is one string written over several lines, which YAML joins into a single row"),
])
def test_a_mistake_is_one_line_at_the_template_s_line(tmp_path: Path, old: str, new: str,
                                                      says: str) -> None:
    said, line = mistake(tmp_path, old, new)
    assert said.startswith(f"error: {tmp_path / 'week6.yaml'}, line {line}: "), said
    assert says in said, said
    assert "Fraction" not in said and "variant seed" not in said


def test_a_graded_typo_lists_only_results(tmp_path: Path) -> None:
    said, line = mistake(tmp_path, "[dY, dW, db, dX]", "[dY, qqq]")
    assert f"line {line}: 'graded': 'qqq' is not a result" in said, said
    listed = said.split("expected one of: ")[1].split(", ")
    assert {"dY", "dW", "db", "dX", "loss"} <= set(listed)
    assert "conventions" not in listed


def test_a_mistake_a_drawn_value_makes_names_the_variant(tmp_path: Path) -> None:
    # a 2x2 target against the 3x3 output: at the target's line, with the seed drawn
    said, line = mistake(tmp_path, "target: {shape: [3, 3]", "target: {shape: [2, 2]")
    assert f"week6.yaml, line {line}: 'target' is 2x2 but the output is 3x3" in said, said
    assert "(in the variant drawn from seed " in said


@pytest.mark.parametrize("command", ["solve", "explain", "check"])
@pytest.mark.parametrize("text", [
    WEEK6,
    "input: [[1, 2], [3, 4]]\nkernel: {int: [1, 2]}\n",
    "input: [[1, 2], [3, 4]]\nkernel: [[1]]\ngraded: [dX]\n",
    "input: [[1, 2], [3, 4]]\nkernel: [[1]]\nrequire: [distinct]\n",
])
def test_a_template_given_as_a_problem_says_to_generate(tmp_path: Path, command: str,
                                                        text: str) -> None:
    template = write(tmp_path, "week6.yaml", text)
    answers = write(tmp_path, "alice.yaml", "dX: [[1, 2], [3, 4]]\n")
    done = run_main(command, template, *([answers] if command == "check" else []))
    assert done.returncode == 2, done
    assert one_line(done) == (
        f"error: {template}: this is a template for convgrad generate, not a problem: run "
        f"convgrad generate {template} --count N --seed S --out DIR")


def test_a_problem_s_own_mistake_is_still_its_own(tmp_path: Path) -> None:
    problem = write(tmp_path, "p.yaml", "input: [[1, 2], [3, 4]]\nkernel: [[1]]\nstrid: 2\n")
    said = one_line(run_main("solve", problem))
    assert "line 3: 'strid' is not a known key; did you mean 'stride'?" in said, said
