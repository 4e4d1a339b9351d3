"""A PrairieLearn question for `generate --format prairielearn` (SPEC section 9).

DIR becomes one PrairieLearn question: info.json, question.html (one
pl-matrix-component-input per graded matrix key, one pl-number-input per graded number),
server.py, and the template beside them as template.yaml. server.py is a few lines over this
module, so that it needs only convgrad:

- generate_data(data, ...): the variant is number variant_seed mod COUNT of `convgrad generate
  template.yaml --seed SEED --count COUNT`, the problem of that command's folder, so that one
  seed gives the same variants in every format. data["params"] holds the problem (its text, and
  the text escaped for question.html), data["correct_answers"] its key as floats.
- grade_data(data, TOLERANCE): the submitted answers graded by grade.Grader, as `check
  --partial --carry-forward` grades them: its hints, carried-forward answers, and the tolerance
  generate was given (--rtol/--atol, --decimals or --sig-figs; check's default without), which
  the inputs' comparison attributes in question.html state too.
- test_data(data): PrairieLearn's question test (docs/question/server.md, "Testing questions
  with test()"): the raw answers of a right, a wrong or an unreadable submission, and what
  parse and grade_data will make of them, which PrairieLearn then compares with what they do.

pl-matrix-component-input takes 2-D matrices only, so a key of other dimensions is entered
flattened to 2-D: a vector as one row, a stack (C x H x W, F x C x KH x KW) as the rows of its
matrices one under the other. Grading reshapes the answer back, so feedback names entries as
check does (dW[1,2,3,1]).
"""

from __future__ import annotations

import json
import re
import uuid
from fractions import Fraction
from html import escape
from typing import Any

import numpy as np

from convgrad.errors import ProblemError
from convgrad.grade import Tolerance
from convgrad.render.moodle import beyond_float64

TEMPLATE_FILE = "template.yaml"
PROBLEM_SOURCE = "the problem"
TOPIC = "Gradients of convolution layers"
MATRIX, NUMBER = "matrix", "number"
WRONG_ENTRIES_SHOWN = 8  # entries a feedback names one by one; the rest are counted


# --- writing the question -------------------------------------------------------------------


def input_name(key: str) -> str:
    """A result key as an answers-name: dW -> dW, conv1.dW -> conv1_dW, steps[2].loss ->
    steps_2_loss (a name PrairieLearn's mustache reads as one key). Result keys end in a
    letter, so no name is another's plus the cell numbers pl-matrix-component-input appends."""
    return re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", key)).strip("_")


def inputs_of(variants: list[tuple[dict[str, Any], list[str]]]) -> dict[str, tuple[str, str]]:
    """answers-name -> (result key, MATRIX or NUMBER) over every variant's (answers, graded
    keys): a key that is a matrix in any variant is a matrix input in all (a number in another
    is a 1 x 1 matrix there). ProblemError when a graded value is not a finite number, which
    PrairieLearn's JSON cannot hold."""
    kinds: dict[str, str] = {}
    for answers, graded in variants:
        for key in graded:
            value = answers[key]
            for leaf in np.ravel(np.array(value, dtype=object)):
                shown = beyond_float64(_number(leaf))
                if shown is not None:
                    raise ProblemError(f"--format prairielearn: the graded result {key} is "
                                       f"{shown} in a variant, which PrairieLearn's answers "
                                       "cannot hold; change the template or its graded keys")
            if isinstance(value, list) or kinds.get(key) == MATRIX:
                kinds[key] = MATRIX
            else:
                kinds[key] = NUMBER
    inputs: dict[str, tuple[str, str]] = {}
    for key, kind in kinds.items():
        name = input_name(key)
        if not name or name in inputs:
            raise ProblemError(f"--format prairielearn: the graded keys {key} and "
                               f"{inputs[name][0] if name in inputs else key} give the same "
                               "answers-name; grade one of them")
        inputs[name] = (key, kind)
    return inputs


def info_json(template_text: str, title: str, seed: int, count: int) -> str:
    """info.json: a uuid that the same template, seed and count always give (and another
    template or seed never), the title, topic and tags, type v3."""
    ident = uuid.uuid5(uuid.NAMESPACE_URL,
                       f"convgrad generate --seed {seed} --count {count}\n{template_text}")
    doc = {"uuid": str(ident), "title": title, "topic": TOPIC,
           "tags": ["convgrad", "generated"], "type": "v3"}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def comparison(rule: Tolerance) -> str:
    """The input elements' attributes that say check's rule in PrairieLearn's words: relabs
    with rtol and atol, decdig or sigfig with digits; and allow-fractions, which both
    pl-number-input and pl-matrix-component-input read (each cell parsed by
    string_fraction_to_number: "1/3" is 0.333...)."""
    if rule.mode == "decimals":
        compare = f'comparison="decdig" digits="{rule.digits}"'
    elif rule.mode == "sig_figs":
        compare = f'comparison="sigfig" digits="{rule.digits}"'
    else:
        compare = f'comparison="relabs" rtol="{rule.rtol:g}" atol="{rule.atol:g}"'
    return compare + ' allow-fractions="true"'


def rule_words(rule: Tolerance) -> str:
    """When an answer counts, for the student."""
    if rule.mode == "decimals":
        return (f"An answer counts when it rounds to the result at {rule.digits} decimal"
                f"{'s' if rule.digits != 1 else ''}")
    if rule.mode == "sig_figs":
        return (f"An answer counts when it has the result's {rule.digits} significant figure"
                f"{'s' if rule.digits != 1 else ''}")
    return (f"An answer counts when it is within {rule.atol:g} + {rule.rtol:g}&#183;|value| of "
            "the exact result")


def question_html(inputs: dict[str, tuple[str, str]], rule: Tolerance | None = None) -> str:
    """question.html: the problem (from params, escaped there), the conventions its answers
    depend on (params.conventions, in words), when an answer counts, then per graded key its
    note (its shape, from params), its input element and the feedback grade_data gives it."""
    rule = rule or Tolerance()
    tol = comparison(rule)
    out = ["<pl-question-panel>",
           "<p>Work out the graded results of this problem.</p>",
           '<pre class="mathjax_ignore">{{{params.problem_html}}}</pre>',
           '{{#params.conventions}}<p class="mathjax_ignore">Conventions: '
           "{{params.conventions}}</p>{{/params.conventions}}",
           f"<p>{rule_words(rule)}; a fraction such as 1/3 is read as its value.</p>",
           "</pl-question-panel>"]
    for name, (key, kind) in inputs.items():
        label = escape(f"{key} =")
        out.append("")
        out.append(f'<p class="mathjax_ignore">{{{{params.notes.{name}}}}}</p>')
        if kind == MATRIX:
            out.append(f'<pl-matrix-component-input answers-name="{name}" label="{label}" '
                       f'{tol} allow-partial-credit="true"></pl-matrix-component-input>')
        else:
            out.append(f'<pl-number-input answers-name="{name}" label="{label}" {tol}>'
                       "</pl-number-input>")
        out.append(f"<pl-submission-panel>{{{{#feedback.{name}}}}}"
                   f'<p class="mathjax_ignore">{escape(key)}: {{{{feedback.{name}}}}}</p>'
                   f"{{{{/feedback.{name}}}}}</pl-submission-panel>")
    return "\n".join(out) + "\n"


def rule_fields(rule: Tolerance) -> dict[str, Any]:
    """A rule as Tolerance's own fields (what server.py holds and grade_data reads back)."""
    if rule.mode in ("decimals", "sig_figs"):
        return {"mode": rule.mode, "digits": rule.digits}
    return {"mode": rule.mode, "rtol": rule.rtol, "atol": rule.atol}


def server_py(seed: int, count: int, inputs: dict[str, tuple[str, str]],
              rule: Tolerance | None = None) -> str:
    """server.py: PrairieLearn's generate, grade and test, calling generate_data, grade_data
    and test_data with the rule check grades by."""
    rule = rule or Tolerance()
    folders = f"{1:0{max(3, len(str(count)))}d} ... {count:0{max(3, len(str(count)))}d}"
    lines = [f"    {json.dumps(name)}: ({json.dumps(key)}, {json.dumps(kind)}),"
             for name, (key, kind) in inputs.items()]
    return f'''"""PrairieLearn's server.py, written by convgrad generate --format prairielearn.

The variant is number variant_seed mod {count} of
`convgrad generate {TEMPLATE_FILE} --seed {seed} --count {count}`: the problem and answer key
of that command's folders {folders}, the same as in every other format. Answers are graded
by convgrad's check (its hints and carried-forward answers), within TOLERANCE: as
`convgrad check` grades them with {_check_options(rule)}. It needs only convgrad, installed
in PrairieLearn's Python.
"""

from pathlib import Path

from convgrad.render import prairielearn

TEMPLATE = Path(__file__).with_name({json.dumps(TEMPLATE_FILE)})
SEED = {seed}
COUNT = {count}
# check's rule: {rule.describe()}
TOLERANCE = {json.dumps(rule_fields(rule))}
# answers-name in question.html: (result key, input element)
INPUTS = {{
{chr(10).join(lines)}
}}


def generate(data):
    prairielearn.generate_data(data, TEMPLATE.read_text(encoding="utf-8"), SEED, COUNT,
                               INPUTS)


def grade(data):
    prairielearn.grade_data(data, TOLERANCE)


def test(data):
    prairielearn.test_data(data, TOLERANCE)
'''


def _check_options(rule: Tolerance) -> str:
    if rule.mode == "decimals":
        return f"--decimals {rule.digits}"
    if rule.mode == "sig_figs":
        return f"--sig-figs {rule.digits}"
    if (rule.rtol, rule.atol) == (Tolerance().rtol, Tolerance().atol):
        return "its default tolerance"
    return f"--rtol {rule.rtol:g} --atol {rule.atol:g}"


def question_files(template_text: str, title: str, seed: int,
                   variants: list[tuple[dict[str, Any], list[str]]],
                   rule: Tolerance | None = None) -> list[tuple[str, str]]:
    """(file, text) of the question: info.json, question.html, server.py, template.yaml.
    variants: each variant's (answers, graded keys), in order; rule: check's (default: its
    default tolerance)."""
    inputs = inputs_of(variants)
    count = len(variants)
    return [("info.json", info_json(template_text, title, seed, count)),
            ("question.html", question_html(inputs, rule)),
            ("server.py", server_py(seed, count, inputs, rule)),
            (TEMPLATE_FILE, template_text)]


# --- server.py's generate -------------------------------------------------------------------


def _number(value: Any) -> Fraction | float:
    """An answers file's number (int, "p/q" or float) as a Fraction, or the float itself."""
    return value if isinstance(value, float) else Fraction(value)


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(_number(value))


def _as_rows(value: Any) -> list[list[float]]:
    """A result as pl-matrix-component-input's 2-D matrix: a number 1 x 1, a vector one row,
    a stack its matrices' rows one under the other."""
    flat = np.array(_floats(value), dtype=np.float64)
    columns = flat.shape[-1] if flat.ndim else 1
    return [[float(v) for v in row] for row in flat.reshape(-1, columns)]


def _note(key: str, shape: tuple[int, ...], kind: str, base: int) -> str:
    """What a student needs to know to enter the key: its shape, and how a key that is not a
    matrix is laid out in the grid."""
    if kind == NUMBER:
        return f"{key}: a number"
    if len(shape) == 2:
        return f"{key}: {shape[0]} x {shape[1]}"
    if len(shape) <= 1:
        n = shape[0] if shape else 1
        return f"{key}: {n} number{'s' if n != 1 else ''}, entered as one row"
    rows = int(np.prod(shape[:-1]))
    first = ",".join(str(base) for _ in shape[:-1])
    second = ",".join([*(str(base) for _ in shape[:-2]), str(base + 1)])
    return (f"{key}: {' x '.join(map(str, shape))}, entered as its {rows} rows of "
            f"{shape[-1]}, one under the other: {key}[{first},:] first, then "
            f"{key}[{second},:], and so on")


def generate_data(data: dict[str, Any], template_text: str, seed: int, count: int,
                  inputs: dict[str, tuple[str, str]]) -> None:
    """PrairieLearn's generate: variant data["variant_seed"] mod count of the template's
    `generate --seed seed --count count`, into data["params"] and data["correct_answers"]."""
    import yaml

    from convgrad.generate import read_template, variant, variant_dirs

    index = int(data["variant_seed"]) % count
    drawn = variant(read_template(template_text, TEMPLATE_FILE), seed, count, index)
    answers = yaml.safe_load(drawn.answers)
    base = int((answers.get("conventions") or {}).get("index_base", 1))
    params = data.setdefault("params", {})
    correct = data.setdefault("correct_answers", {})
    notes, graded = {}, []
    for name, (key, kind) in inputs.items():
        shape = tuple(np.shape(np.array(answers[key], dtype=object)))
        notes[name] = _note(key, shape, kind, base)
        graded.append({"name": name, "key": key, "kind": kind, "shape": list(shape)})
        correct[name] = _as_rows(answers[key]) if kind == MATRIX else _floats(answers[key])
    params.update(variant=variant_dirs(count)[index], problem=drawn.problem,
                  problem_html=escape(drawn.problem), notes=notes, graded=graded,
                  conventions=drawn.conventions)


# --- server.py's grade ----------------------------------------------------------------------


def _unwrap(value: Any) -> Any:
    """A value as PrairieLearn stores it (pl.to_json: {"_type": "ndarray", "_value": ...},
    {"_type": "np_scalar", "_value": "3.0"}) as plain lists and numbers."""
    if isinstance(value, dict) and "_value" in value and value.get("_type") != "complex":
        return value["_value"]
    return value


def _given(data: dict[str, Any], item: dict[str, Any]) -> Any:
    """The student's answer to one graded key, in the key's own shape; None when there is
    none. A matrix comes as the element's whole matrix (submitted_answers[name]) or cell by
    cell (name1, name2, ... row by row); a number as submitted_answers[name]."""
    name, shape = item["name"], tuple(item["shape"])
    submitted = data.get("submitted_answers") or {}
    raw = data.get("raw_submitted_answers") or {}
    value = _unwrap(submitted.get(name))
    if value is None and item["kind"] == MATRIX:
        cells = int(np.prod(shape)) if shape else 1
        for source in (submitted, raw):
            given = [_unwrap(source.get(f"{name}{k}")) for k in range(1, cells + 1)]
            if all(v is not None for v in given):
                value = given
                break
    if value is None:
        value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if item["kind"] == MATRIX and isinstance(value, list):
        flat = np.array(value, dtype=object).ravel()
        if flat.size == (int(np.prod(shape)) if shape else 1):
            return flat.reshape(shape).tolist() if shape else flat[0]
    return value


def _feedback(result: Any) -> str:
    """What a student reads of one graded key: check's verdict and hint (without the advice
    meant for the teacher), then the wrong entries named as check names them, with the value
    given and never the expected one."""
    from convgrad.grade import RIGHT, WRONG, value_text
    from convgrad.render.moodle import entry_label

    if result.status == RIGHT:
        return ""
    text = result.message(reveal=True, teacher=False)
    name = result.key
    if result.status != WRONG or not result.diffs or result.diffs[0].position == ():
        if result.status == WRONG and result.given is not None and result.shape_ok:
            text += f" (you gave {value_text(result.given, given=True)})"
        return text
    shown = [f"{entry_label(name, d.position)} (you gave {value_text(d.given, given=True)})"
             for d in result.diffs[:WRONG_ENTRIES_SHOWN]]
    more = len(result.diffs) - len(shown)
    return (f"{text}; wrong: {', '.join(shown)}"
            + (f" and {more} more" if more > 0 else ""))


def grade_data(data: dict[str, Any], tolerance: dict[str, Any] | None = None) -> None:
    """PrairieLearn's grade: each graded key's score (the share of its entries right, or 1
    when carried forward), weight 1 and feedback in data["partial_scores"][name], the
    feedback also in data["feedback"][name], and data["score"] the weighted mean.
    tolerance: check's rule as Tolerance's fields (server.py's TOLERANCE; None: check's
    default)."""
    from convgrad.compare import Solver
    from convgrad.grade import Grader

    params = data["params"]
    graded = params["graded"]
    solver = Solver(params["problem"], PROBLEM_SOURCE)
    grader = Grader(solver.run(), Tolerance(**(tolerance or {})),
                    require=[item["key"] for item in graded], partial=True, solver=solver,
                    carry_forward=True)
    answers = {}
    for item in graded:
        given = _given(data, item)
        if given is not None:
            answers[item["key"]] = given
    partial = data.setdefault("partial_scores", {})
    feedback = data.setdefault("feedback", {})
    report = grader.grade(answers, "your answers") if answers else None
    results = {k.key: k for k in report.graded} if report is not None else {}
    for item in graded:
        name, result = item["name"], results.get(item["key"])
        if report is not None and report.error:
            score, text = 0.0, report.error
        elif result is None:
            score, text = 0.0, "missing: no answer given"
        else:
            score = result.earned / result.points if result.points else 0.0
            text = _feedback(result)
        partial[name] = {"score": score, "weight": 1, "feedback": text}
        feedback[name] = text
    total = sum(float(p.get("weight", 1)) for p in partial.values())
    data["score"] = sum(float(p.get("score") or 0) * float(p.get("weight", 1))
                        for p in partial.values()) / total if total else 0.0


# --- server.py's test -----------------------------------------------------------------------

CORRECT, INCORRECT, INVALID = "correct", "incorrect", "invalid"
NOT_A_NUMBER = "x"  # what the "invalid" test types into one cell: no input reads it as a number
# The elements' own wording (pl-matrix-component-input's test and parse); PrairieLearn compares
# only which answers have a format error, not the text.
CELL_ERROR = "Invalid format: The submitted answer could not be interpreted as a decimal number."
MATRIX_ERROR = ("At least one of the entries has invalid format (empty entries or not a double "
                "precision floating point number)")
# What test may write (PrairieLearn refuses a test() that changes anything else of data).
TEST_WRITES = ("raw_submitted_answers", "format_errors", "partial_scores", "feedback")


def _moved(value: float, rule: Tolerance) -> float:
    """An entry made clearly wrong: 1 + |value| away, plus twice the tolerance's bound
    (atol + rtol |value|): outside it whatever the value's size. Under --decimals N or
    --sig-figs N, 1 + |value| is more than the unit of the last digit kept (1 at most, and
    at most |value| for a value not 0), so the rounded values differ."""
    moved = value + 1.0 + abs(value)
    if rule.mode == "tol":
        moved += 2 * (rule.atol + rule.rtol * abs(value))
    return moved


def _raw_texts(item: dict[str, Any], key: Any, test_type: str, spoilt: bool,
               rule: Tolerance) -> list[str]:
    """The texts typed into one graded key's inputs, cell by cell in row-major order (a number
    is one cell): the key's values, each as repr so that the element reads back the very float;
    for "incorrect" the first moved (_moved), for "invalid" (spoilt) the first not a number."""
    values = np.ravel(np.array(_unwrap(key), dtype=np.float64))
    texts = [repr(float(v)) for v in values]
    if test_type == INCORRECT:
        texts[0] = repr(_moved(float(values[0]), rule))
    elif spoilt:
        texts[0] = NOT_A_NUMBER
    return texts


def _parsed(graded: list[dict[str, Any]], correct: dict[str, Any],
            raw: dict[str, str]) -> dict[str, Any]:
    """submitted_answers as the elements' parse leaves them for texts that are all decimal
    numbers (those test_data writes when nothing is spoilt): pl-number-input the float under
    its name; pl-matrix-component-input each cell's float under name1, name2, ... and the whole
    matrix, in its grid's shape, as pl.to_json writes an ndarray."""
    submitted: dict[str, Any] = {}
    for item in graded:
        name = item["name"]
        if item["kind"] == NUMBER:
            submitted[name] = float(raw[name])
            continue
        rows = np.array(_unwrap(correct[name]), dtype=np.float64)
        cells = [float(raw[f"{name}{k}"]) for k in range(1, rows.size + 1)]
        for k, value in enumerate(cells, 1):
            submitted[f"{name}{k}"] = value
        submitted[name] = {"_type": "ndarray", "_dtype": "float64",
                           "_value": np.array(cells).reshape(rows.shape).tolist()}
    return submitted


def test_data(data: dict[str, Any], tolerance: dict[str, Any] | None = None) -> None:
    """PrairieLearn's test: for data["test_type"]
    - "correct": every graded key's values in raw_submitted_answers, as its element takes them
      (a matrix cell by cell as name1, name2, ... row by row; a number under its name), and the
      full score: each partial score 1 with no feedback, score 1;
    - "incorrect": the same with the first entry of every key moved (_moved), and the partial
      scores, feedback and score grade_data gives those answers once the elements have parsed
      them (each key loses its share; a key that follows from an earlier wrong one may be
      carried forward, and grade_data knows when);
    - "invalid": the first graded key's first cell not a number, the rest right, and the
      format errors its element sets (that cell and, for a matrix, the matrix too); not graded.
    The elements' own test ran before and wrote their guesses into the same entries, so they
    are emptied first. Nothing else of data changes (PrairieLearn checks that). tolerance: as
    grade_data's."""
    test_type = data["test_type"]
    if test_type not in (CORRECT, INCORRECT, INVALID):
        raise ValueError(f"test_type is {test_type!r}, not one of {CORRECT}, {INCORRECT}, "
                         f"{INVALID}")
    graded = data["params"]["graded"]
    correct = data["correct_answers"]
    for entry in TEST_WRITES:
        data.setdefault(entry, {}).clear()
    raw, errors = data["raw_submitted_answers"], data["format_errors"]
    for n, item in enumerate(graded):
        name, spoilt = item["name"], test_type == INVALID and n == 0
        texts = _raw_texts(item, correct[name], test_type, spoilt,
                           Tolerance(**(tolerance or {})))
        if item["kind"] == NUMBER:
            raw[name] = texts[0]
            if spoilt:
                errors[name] = CELL_ERROR
            continue
        for k, text in enumerate(texts, 1):
            raw[f"{name}{k}"] = text
        if spoilt:
            errors[f"{name}1"] = CELL_ERROR
            errors[name] = MATRIX_ERROR
    if test_type == INVALID:
        data["score"] = 0.0
        return
    if test_type == CORRECT:
        for item in graded:
            data["partial_scores"][item["name"]] = {"score": 1.0, "weight": 1, "feedback": ""}
            data["feedback"][item["name"]] = ""
        data["score"] = 1.0
        return
    # A wrong answer's feedback is check's wording (hints, the entries named), so what grade
    # will say is what grade_data says of the same parsed answers.
    graded_copy: dict[str, Any] = {
        "params": data["params"], "correct_answers": correct,
        "submitted_answers": _parsed(graded, correct, raw), "raw_submitted_answers": dict(raw),
        "format_errors": {}, "partial_scores": {}, "feedback": {}}
    grade_data(graded_copy, tolerance)
    data["partial_scores"].update(graded_copy["partial_scores"])
    data["feedback"].update(graded_copy["feedback"])
    data["score"] = graded_copy["score"]
