"""`convgrad generate --format prairielearn` (SPEC section 9): DIR as one PrairieLearn question.

The generated server.py is imported from DIR and run as PrairieLearn runs it, on a data dict
shaped as PrairieLearn's (docs/question/server.md; pl-matrix-component-input stores a parsed
matrix as pl.to_json's {"_type": "ndarray", "_value": ...} under its answers-name and each cell
as answers-name + its 1-based row-major number). The numbers graded come from the seed worked
example's hand-worked figures (problems/seed_worked_example.yaml: dW = [[32, 41], [59, 68]],
db = 9) and the hand-derived layout of a stacked kernel gradient.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

from .conftest import THIRDS, one_line, run_main, write

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
SEED_EXAMPLE = (ROOT / "problems" / "seed_worked_example.yaml").read_text(encoding="utf-8")
RIGHT_DW, RIGHT_DB = [[32, 41], [59, 68]], 9  # the seed tutorial's check figures
RIGHT_DY = [[1, 2], [3, 3]]  # 2 (Y - T) / 4 with Y = [[3, 4], [6, 7]], T = [[1, 0], [0, 1]]

# infoQuestion.json (PrairieLearn, apps/prairielearn/src/schemas/schemas/infoQuestion.json):
# its required keys, its properties (additionalProperties is false) and the types of those
# the question writes.
SCHEMA_REQUIRED = ("uuid", "type", "title", "topic")
SCHEMA_PROPERTIES = {
    "comment", "uuid", "type", "title", "topic", "tags", "authors", "clientFiles",
    "clientTemplates", "template", "gradingMethod", "singleVariant", "showCorrectAnswer",
    "partialCredit", "options", "externalGradingOptions", "dependencies", "workspaceOptions",
    "sharingSets", "sharePublicly", "shareSourcePublicly", "preferences"}
UUID = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{12})$")
TYPES = ("Calculation", "MultipleChoice", "Checkbox", "File", "MultipleTrueFalse", "v3")


def _generate(template: Path, out: Path, count: int = 3, seed: int = 5) -> Path:
    done = run_main("generate", template, "--count", count, "--seed", seed, "--out", out,
                    "--format", "prairielearn")
    assert done.returncode == 0, done
    assert "server.py" in done.stdout
    return out


def _server(out: Path) -> ModuleType:
    """DIR/server.py imported as PrairieLearn does: a module from its file."""
    name = f"pl_server_{abs(hash(str(out)))}"
    spec = importlib.util.spec_from_file_location(name, out / "server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _data(variant_seed: int) -> dict[str, Any]:
    return {"params": {}, "correct_answers": {}, "submitted_answers": {},
            "raw_submitted_answers": {}, "format_errors": {}, "partial_scores": {},
            "score": 0, "feedback": {}, "variant_seed": variant_seed, "options": {}}


def _submit(data: dict[str, Any], answers: dict[str, Any], cells: bool = False) -> None:
    """The answers as PrairieLearn's elements leave them after parse: a matrix as pl.to_json
    writes it, or (cells) only its cells name1, name2, ... row by row; a number as a float."""
    for name, value in answers.items():
        if not isinstance(value, list):
            data["submitted_answers"][name] = float(value)
        elif cells:
            for k, v in enumerate(np.ravel(np.array(value, dtype=float)), 1):
                data["submitted_answers"][f"{name}{k}"] = float(v)
        else:
            data["submitted_answers"][name] = {
                "_type": "ndarray", "_value": np.array(value, dtype=float).tolist(),
                "_dtype": "float64"}


def _seed_template(tmp_path: Path, graded: str = "[dW, db]") -> Path:
    return write(tmp_path, "t.yaml", SEED_EXAMPLE + f"graded: {graded}\n")


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("pl-matrix-component-input", "pl-number-input"):
            self.found.append((tag, dict(attrs)))


def test_full_score_with_the_key(tmp_path: Path) -> None:
    out = _generate(_seed_template(tmp_path), tmp_path / "q", count=2)
    server = _server(out)
    data = _data(variant_seed=123456789)
    server.generate(data)
    assert data["correct_answers"] == {"dW": RIGHT_DW, "db": RIGHT_DB}
    _submit(data, {"dW": RIGHT_DW, "db": RIGHT_DB})
    server.grade(data)
    assert data["score"] == 1
    assert data["partial_scores"] == {"dW": {"score": 1, "weight": 1, "feedback": ""},
                                      "db": {"score": 1, "weight": 1, "feedback": ""}}
    # the same answers entered cell by cell, and written as fractions
    data = _data(variant_seed=0)
    server.generate(data)
    _submit(data, {"dW": RIGHT_DW, "db": RIGHT_DB}, cells=True)
    data["submitted_answers"]["db"] = "18/2"
    server.grade(data)
    assert data["score"] == 1


def test_one_wrong_entry_is_named_and_costs_its_share(tmp_path: Path) -> None:
    server = _server(_generate(_seed_template(tmp_path), tmp_path / "q", count=1))
    data = _data(variant_seed=7)
    server.generate(data)
    _submit(data, {"dW": [[32, 41], [59, 0]], "db": RIGHT_DB}, cells=True)
    server.grade(data)
    dw = data["partial_scores"]["dW"]
    assert dw["score"] == 0.75 and dw["weight"] == 1  # 3 of 4 entries right
    assert "dW[2,2]" in dw["feedback"] and "1 of 4 entries differ" in dw["feedback"]
    assert "68" not in dw["feedback"]  # the expected value is not given away
    assert data["feedback"]["dW"] == dw["feedback"]
    assert data["partial_scores"]["db"]["score"] == 1
    assert data["score"] == (0.75 + 1) / 2


def test_a_hint_worthy_answer_gets_the_hint(tmp_path: Path) -> None:
    server = _server(_generate(_seed_template(tmp_path), tmp_path / "q", count=1))
    data = _data(variant_seed=1)
    server.generate(data)
    rotated = [row[::-1] for row in RIGHT_DW[::-1]]  # [[68, 59], [41, 32]]
    _submit(data, {"dW": rotated, "db": -RIGHT_DB})
    server.grade(data)
    assert data["partial_scores"]["dW"]["score"] == 0
    assert "rotated" in data["partial_scores"]["dW"]["feedback"]
    assert "sign" in data["feedback"]["db"]
    assert data["score"] == 0


def test_carried_forward_earns_its_points(tmp_path: Path) -> None:
    server = _server(_generate(_seed_template(tmp_path, "[dY, dW, db]"), tmp_path / "q",
                               count=1))
    data = _data(variant_seed=3)
    server.generate(data)
    assert data["correct_answers"]["dY"] == RIGHT_DY
    # dY twice too large (the 1/4 of the mean left out as 1/2): dW and db follow from it
    # linearly, so they are twice the right ones, as the rules give them from this dY
    _submit(data, {"dY": [[2 * v for v in row] for row in RIGHT_DY],
                   "dW": [[2 * v for v in row] for row in RIGHT_DW], "db": 2 * RIGHT_DB})
    server.grade(data)
    scores = {name: p["score"] for name, p in data["partial_scores"].items()}
    assert scores == {"dY": 0, "dW": 1, "db": 1}
    assert "carried forward from your dY" in data["feedback"]["dW"]
    assert data["score"] == 2 / 3


def test_a_stack_is_entered_as_rows(tmp_path: Path) -> None:
    text = (ROOT / "problems" / "multichannel_relu_maxpool.yaml").read_text(encoding="utf-8")
    out = _generate(write(tmp_path, "t.yaml", text + "graded: [dW, db]\n"), tmp_path / "q",
                    count=1)
    server = _server(out)
    data = _data(variant_seed=0)
    server.generate(data)
    key = yaml.safe_load((out / "001" / "answers.yaml").read_text(encoding="utf-8"))
    dw = np.array([[float(Fraction(v)) for v in row] for row in
                   np.array(key["dW"], dtype=object).reshape(-1, 3)])
    assert np.array(key["dW"], dtype=object).shape == (2, 2, 3, 3)  # F x C x KH x KW
    # 12 rows of 3: filter 1 channel 1's three rows, then filter 1 channel 2's, ...
    assert np.shape(data["correct_answers"]["dW"]) == (12, 3)
    assert data["correct_answers"]["dW"] == dw.tolist()
    assert np.shape(data["correct_answers"]["db"]) == (1, 2)
    assert "12 rows of 3" in data["params"]["notes"]["dW"]
    grid = [row[:] for row in data["correct_answers"]["dW"]]
    grid[4][1] += 1  # row 5 = filter 1, channel 2, kernel row 2; column 2
    _submit(data, {"dW": grid, "db": data["correct_answers"]["db"]}, cells=True)
    server.grade(data)
    assert data["partial_scores"]["dW"]["score"] == round(35 / 36, 6)
    assert "dW[1,2,2,2]" in data["partial_scores"]["dW"]["feedback"]
    assert data["partial_scores"]["db"]["score"] == 1


# --- server.py's test, run as PrairieLearn's question tester runs it ---------------------------
# (apps/prairielearn/src/question-servers/freeform.ts test(), src/lib/question-testing.ts): the
# data test() gets, then the elements' test, then server.py's test; its raw_submitted_answers are
# submitted as a student's, parsed by the elements (pl-matrix-component-input and pl-number-input
# parse(), with prairielearn.string_fraction_to_number) and graded; gradable, the format_errors'
# names, partial_scores and score must then be those test() gave.

TEST_MAY_CHANGE = {"format_errors", "raw_submitted_answers", "partial_scores", "score",
                   "feedback"}  # freeform.ts checkData: the test phase may change only these


def _test_data(generated: dict[str, Any], test_type: str) -> dict[str, Any]:
    """What PrairieLearn hands test(): the variant's params and key, empty answers, test_type;
    then what the elements' own test wrote first (pl-matrix-component-input's guesses, every
    cell and, for "invalid", every cell's format error), which server.py's test must replace."""
    data: dict[str, Any] = {
        "params": generated["params"], "correct_answers": generated["correct_answers"],
        "format_errors": {}, "partial_scores": {}, "score": 0, "feedback": {},
        "variant_seed": generated["variant_seed"], "options": {}, "preferences": {},
        "raw_submitted_answers": {}, "gradable": True, "test_type": test_type}
    data = json.loads(json.dumps(data))
    for name, value in data["correct_answers"].items():
        cells = np.ravel(np.array(value, dtype=float))
        names = [f"{name}{k}" for k in range(1, cells.size + 1)] \
            if isinstance(value, list) else [name]
        for entry in names:
            data["raw_submitted_answers"][entry] = "1,2"
            if test_type == "invalid":
                data["format_errors"][entry] = "(Invalid format)"
        data["partial_scores"][name] = {"score": 0, "weight": 1}
    return data


def _pl_number(text: str | None) -> float | None:
    """prairielearn.string_fraction_to_number(text, allow_fractions=True, allow_complex=False):
    a decimal or p/q as a finite float, None when it is none."""
    if text is None or not text.strip():
        return None
    parts = text.split("/")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    if len(numbers) > 2 or not all(np.isfinite(numbers)) or \
            (len(numbers) == 2 and numbers[1] == 0):
        return None
    value = numbers[0] / numbers[1] if len(numbers) == 2 else numbers[0]
    return value if np.isfinite(value) else None


def _submit_raw(data: dict[str, Any], html: str) -> dict[str, Any]:
    """A submission of data's raw_submitted_answers through PrairieLearn's parse, element by
    element in question.html's order, as a JSON round trip between the phases: gradable False
    when a format error is set (then grade does not run)."""
    parser = _Inputs()
    parser.feed(html)
    parser.close()
    raw = data["raw_submitted_answers"]
    sub: dict[str, Any] = {
        "params": data["params"], "correct_answers": data["correct_answers"],
        "submitted_answers": dict(raw), "raw_submitted_answers": dict(raw),
        "format_errors": {}, "partial_scores": {}, "score": 0, "feedback": {},
        "variant_seed": data["variant_seed"], "options": {}, "gradable": True}
    for tag, attrs in parser.found:
        name = str(attrs["answers-name"])
        answers, errors = sub["submitted_answers"], sub["format_errors"]
        if tag == "pl-number-input":
            value = _pl_number(answers.get(name))
            if value is None:
                errors[name] = "invalid"
            answers[name] = value
            continue
        m, n = np.shape(np.array(sub["correct_answers"][name], dtype=float))
        grid, bad = np.empty((m, n)), False
        for i in range(m):
            for j in range(n):
                cell = f"{name}{n * i + j + 1}"
                value = _pl_number(answers.get(cell))
                if value is None:
                    bad = True
                    errors[cell] = "invalid"
                else:
                    grid[i, j] = value
                answers[cell] = value
        answers[name] = None if bad else {"_type": "ndarray", "_value": grid.tolist(),
                                          "_dtype": "float64"}
        if bad:
            errors[name] = "invalid"
    sub = json.loads(json.dumps(sub))
    sub["gradable"] = not sub["format_errors"]
    return sub


def _tester(server: ModuleType, html: str, variant_seed: int,
            test_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """PrairieLearn's question test of one variant: (what test() said, the graded submission),
    each as PrairieLearn stores it; the comparison's own checks are asserted here."""
    generated = _data(variant_seed)
    server.generate(generated)
    generated = json.loads(json.dumps(generated))
    data = _test_data(generated, test_type)
    before = json.loads(json.dumps(data))
    server.test(data)
    assert set(data) == set(before)
    assert {k for k in data if data[k] != before[k]} <= TEST_MAY_CHANGE
    expected = json.loads(json.dumps(data))
    expected["gradable"] = not expected["format_errors"]  # freeform.ts test()
    sub = _submit_raw(expected, html)
    if sub["gradable"]:
        server.grade(sub)
        sub = json.loads(json.dumps(sub))
    assert sub["gradable"] == expected["gradable"]
    assert sorted(sub["format_errors"]) == sorted(expected["format_errors"])
    if sub["gradable"]:
        assert sub["partial_scores"] == expected["partial_scores"]
        assert sub["score"] == expected["score"]
    return expected, sub


def test_question_test_right_scores_one(tmp_path: Path) -> None:
    out = _generate(_seed_template(tmp_path), tmp_path / "q", count=1)
    server, html = _server(out), (out / "question.html").read_text(encoding="utf-8")
    expected, sub = _tester(server, html, 11, "correct")
    # per cell for the matrix (dW1..dW4 row by row), under its name for the number
    assert set(expected["raw_submitted_answers"]) == {"dW1", "dW2", "dW3", "dW4", "db"}
    assert [float(expected["raw_submitted_answers"][f"dW{k}"]) for k in range(1, 5)] == \
        [32, 41, 59, 68]
    assert float(expected["raw_submitted_answers"]["db"]) == RIGHT_DB
    assert {name: p["score"] for name, p in sub["partial_scores"].items()} == {"dW": 1, "db": 1}
    assert sub["score"] == 1 and expected["format_errors"] == {}


def test_question_test_wrong_loses_the_share_grade_takes(tmp_path: Path) -> None:
    out = _generate(_seed_template(tmp_path), tmp_path / "q", count=1)
    server, html = _server(out), (out / "question.html").read_text(encoding="utf-8")
    expected, sub = _tester(server, html, 11, "incorrect")
    raw = expected["raw_submitted_answers"]
    # the first entry of each key moved well outside the tolerance, the rest right
    assert abs(float(raw["dW1"]) - 32) > 1 and abs(float(raw["db"]) - RIGHT_DB) > 1
    assert [float(raw[f"dW{k}"]) for k in (2, 3, 4)] == [41, 59, 68]
    # dW: 3 of its 4 entries right; db: its one entry wrong
    assert {name: p["score"] for name, p in sub["partial_scores"].items()} == \
        {"dW": 0.75, "db": 0}
    assert sub["score"] == (0.75 + 0) / 2 == expected["score"]
    assert "dW[1,1]" in expected["partial_scores"]["dW"]["feedback"]


def test_question_test_unreadable_cell_is_a_format_error(tmp_path: Path) -> None:
    out = _generate(_seed_template(tmp_path, "[loss, dW, db]"), tmp_path / "q", count=1)
    server, html = _server(out), (out / "question.html").read_text(encoding="utf-8")
    expected, sub = _tester(server, html, 2, "invalid")
    # the first key (loss, a number) spoilt: only its name has a format error, the elements'
    # own guesses for the other keys are gone
    assert sorted(expected["format_errors"]) == ["loss"]
    assert not expected["gradable"] and not sub["gradable"]
    assert [float(expected["raw_submitted_answers"][f"dW{k}"]) for k in range(1, 5)] == \
        [32, 41, 59, 68]
    # with a matrix first, its first cell and the matrix itself
    out = _generate(_seed_template(tmp_path, "[dW, db]"), tmp_path / "m", count=1)
    server, html = _server(out), (out / "question.html").read_text(encoding="utf-8")
    expected, sub = _tester(server, html, 2, "invalid")
    assert sorted(expected["format_errors"]) == ["dW", "dW1"]
    assert sorted(sub["format_errors"]) == ["dW", "dW1"]
    assert _pl_number(expected["raw_submitted_answers"]["dW1"]) is None
    assert [float(expected["raw_submitted_answers"][f"dW{k}"]) for k in (2, 3, 4)] == \
        [41, 59, 68]


@pytest.mark.parametrize("test_type", ["correct", "incorrect", "invalid"])
def test_question_test_agrees_with_grade_on_every_variant(tmp_path: Path, test_type: str) -> None:
    """Every variant of the ReLU + max-pool template (dY, dW, db, dX: carried-forward answers
    can arise) and a stacked kernel gradient entered as rows: what test() says is what parse
    and grade then do."""
    out = _generate(TEMPLATE, tmp_path / "q", count=4, seed=7)
    server, html = _server(out), (out / "question.html").read_text(encoding="utf-8")
    for variant_seed in range(4):
        expected, sub = _tester(server, html, variant_seed, test_type)
        scores = [p["score"] for p in sub["partial_scores"].values()]
        if test_type == "correct":
            assert scores == [1, 1, 1, 1] and sub["score"] == 1
        elif test_type == "incorrect":
            assert scores[0] < 1 and sub["score"] < 1  # dY has nothing to carry it forward
    text = (ROOT / "problems" / "multichannel_relu_maxpool.yaml").read_text(encoding="utf-8")
    out = _generate(write(tmp_path, "s.yaml", text + "graded: [dW, db]\n"), tmp_path / "s",
                    count=1)
    server, html = _server(out), (out / "question.html").read_text(encoding="utf-8")
    expected, sub = _tester(server, html, 0, test_type)
    assert len([k for k in expected["raw_submitted_answers"] if k.startswith("dW")]) == 36
    if test_type == "incorrect":
        # one of dW's 36 entries and one of db's 2 moved
        assert sub["partial_scores"]["dW"]["score"] == round(35 / 36, 6)
        assert sub["partial_scores"]["db"]["score"] == 0.5


def test_readme_shows_server_py_and_names_each_of_its_functions(tmp_path: Path) -> None:
    """The README's PrairieLearn part: its `sed -n 'A,Bp' variants/server.py` is those lines of
    the file its command writes, and it says what each function of server.py does."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("#### PrairieLearn"):]
    part = part[:part.index("\n#### ", 1)]
    out = _generate(TEMPLATE, tmp_path / "variants", count=30, seed=7)
    server = (out / "server.py").read_text(encoding="utf-8")
    shown = re.search(r"\$ sed -n '(\d+),(\d+)p' variants/server.py\n(.*?)```", part, re.S)
    assert shown is not None
    first, last = int(shown[1]), int(shown[2])
    assert shown[3] == "".join(server.splitlines(keepends=True)[first - 1:last])
    functions = [node.name for node in ast.walk(ast.parse(server))
                 if isinstance(node, ast.FunctionDef)]
    assert functions == ["generate", "grade", "test"]
    for name in functions:
        assert f"`{name}(data)`" in part, name
        assert f"def {name}(data):" in shown[3], name


def test_readme_shows_what_grade_gives_variant_017_with_dw_rotated(tmp_path: Path) -> None:
    """The README's PrairieLearn part shows the partial score grade(data) gives variant 017
    (variant_seed 2026 of its 30) with dW rotated 180 degrees and every other key right, and
    the question's score. Here they are graded as the README says, and what it shows is
    checked by hand too: two of dW's four entries move (a 2x2 rotation keeps an entry only
    where it equals its opposite), so 2/4 = 0.5, and the mean over dY, dW, db, dX is
    (1 + 0.5 + 1 + 1) / 4 = 0.875."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("#### PrairieLearn"):]
    shown = re.search(r"Variant 017 with its dW rotated 180 degrees \(and every other key "
                      r"right\):\n\n```\n(\{.*?\})\n```\n\n\s*and `data\[\"score\"\]` is "
                      r"([0-9.]+)\.", part)
    assert shown is not None
    partial, score = json.loads(shown[1]), float(shown[2])
    server = _server(_generate(TEMPLATE, tmp_path / "variants", count=30, seed=7))
    data = _data(variant_seed=2026)
    server.generate(data)
    assert data["params"]["variant"] == "017"
    key = data["correct_answers"]
    dw = np.array(key["dW"], dtype=float)
    moved = int((np.rot90(dw, 2) != dw).sum())
    _submit(data, {**key, "dW": np.rot90(dw, 2).tolist()})
    server.grade(data)
    assert data["partial_scores"]["dW"] == partial
    assert partial["score"] == (4 - moved) / 4 and f"{moved} of 4 entries differ" in \
        partial["feedback"]
    assert data["score"] == score == (1 + partial["score"] + 1 + 1) / 4


def test_variant_k_is_folder_k(tmp_path: Path) -> None:
    out = _generate(TEMPLATE, tmp_path / "q", count=5, seed=7)
    server = _server(out)
    for k in range(1, 6):
        data = _data(variant_seed=5 * 1000 + k - 1)
        server.generate(data)
        folder = out / f"{k:03d}"
        assert data["params"]["variant"] == folder.name
        # problem.yaml is the problem under its line of conventions, which the question
        # shows under the problem
        assert (folder / "problem.yaml").read_text(encoding="utf-8") == \
            f"# Conventions: {data['params']['conventions']}\n{data['params']['problem']}"
        assert "relu'(0) = 0" in data["params"]["conventions"]
        key = yaml.safe_load((folder / "answers.yaml").read_text(encoding="utf-8"))
        graded = list(yaml.safe_load((folder / "blank.yaml").read_text(encoding="utf-8")))
        assert list(data["correct_answers"]) == graded == ["dY", "dW", "db", "dX"]
        for name in graded:
            assert np.array_equal(np.array(data["correct_answers"][name], dtype=float),
                                  np.array(key[name], dtype=float)), (k, name)
    # the folders are those of generate without --format, and of --format moodle
    plain = run_main("generate", TEMPLATE, "--count", 5, "--seed", 7, "--out", tmp_path / "p")
    moodle = run_main("generate", TEMPLATE, "--count", 5, "--seed", 7, "--out", tmp_path / "m",
                      "--format", "moodle")
    assert plain.returncode == moodle.returncode == 0
    for k in range(1, 6):
        for other in ("p", "m"):
            assert (tmp_path / other / f"{k:03d}" / "problem.yaml").read_bytes() == \
                (out / f"{k:03d}" / "problem.yaml").read_bytes()


def test_info_json_is_a_valid_question(tmp_path: Path) -> None:
    out = _generate(TEMPLATE, tmp_path / "q")
    info = json.loads((out / "info.json").read_text(encoding="utf-8"))
    assert all(key in info for key in SCHEMA_REQUIRED)
    assert set(info) <= SCHEMA_PROPERTIES
    assert UUID.match(info["uuid"]) and info["type"] in TYPES and info["type"] == "v3"
    assert isinstance(info["title"], str) and isinstance(info["topic"], str)
    assert isinstance(info["tags"], list) and all(isinstance(t, str) for t in info["tags"])
    assert info["title"] == "5x5 input, 2x2 kernel, ReLU, 2x2 max pool"
    # another seed is another question
    other = json.loads((_generate(TEMPLATE, tmp_path / "o", seed=6) / "info.json").read_text())
    assert other["uuid"] != info["uuid"]


def test_question_html_has_one_input_per_graded_key(tmp_path: Path) -> None:
    name = "'<b>bold</b> & {{params.x}} $5$'"
    template = write(tmp_path, "t.yaml", SEED_EXAMPLE.replace(
        "name: 3x3 input, 2x2 kernel, MSE loss", f"name: {name}") + "graded: [dY, dW, db, loss]\n")
    out = _generate(template, tmp_path / "q", count=1)
    html = (out / "question.html").read_text(encoding="utf-8")
    parser = _Inputs()
    parser.feed(html)
    parser.close()
    data = _data(variant_seed=0)
    _server(out).generate(data)
    names = [attrs["answers-name"] for _, attrs in parser.found]
    assert names == list(data["correct_answers"]) == ["dY", "dW", "db", "loss"]
    for tag, attrs in parser.found:
        value = data["correct_answers"][attrs["answers-name"]]
        assert tag == ("pl-matrix-component-input" if isinstance(value, list)
                       else "pl-number-input")
        assert float(attrs["rtol"] or "nan") == 1e-6 and float(attrs["atol"] or "nan") == 1e-6
    assert data["correct_answers"]["loss"] == 23  # the seed tutorial's L
    # the problem is shown from params, escaped; the template's own text is not in the HTML
    assert "{{{params.problem_html}}}" in html and "bold" not in html
    shown = data["params"]["problem_html"]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp;" in shown and "<b>" not in shown
    assert yaml.safe_load(data["params"]["problem"])["name"] == "<b>bold</b> & {{params.x}} $5$"


def test_server_py_needs_only_convgrad(tmp_path: Path) -> None:
    out = _generate(TEMPLATE, tmp_path / "q")
    tree = ast.parse((out / "server.py").read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {str(node.module).split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported == {"pathlib", "convgrad"}
    assert (out / "template.yaml").read_bytes() == TEMPLATE.read_bytes()
    assert str(tmp_path) not in (out / "server.py").read_text(encoding="utf-8")


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = _generate(TEMPLATE, tmp_path / "a", count=2, seed=3)
    second = _generate(TEMPLATE, tmp_path / "b", count=2, seed=3)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert {"info.json", "question.html", "server.py", "template.yaml"} <= \
        {str(f) for f in files}
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_unwritable_dir_and_bad_options_are_one_line(tmp_path: Path) -> None:
    blocker = write(tmp_path, "file.txt", "not a folder\n")
    done = run_main("generate", TEMPLATE, "--out", blocker / "q", "--format", "prairielearn")
    assert done.returncode == 2 and "cannot write" in one_line(done)
    done = run_main("generate", TEMPLATE, "--out", tmp_path / "q", "--format", "prairie")
    assert done.returncode == 2 and "prairielearn" in one_line(done)
    done = run_main("generate", TEMPLATE, "--out", tmp_path / "q", "--format", "prairielearn",
                    "--count", 0)
    assert done.returncode == 2 and "--count" in one_line(done)


def test_variant_k_alone_is_generates_variant_k() -> None:
    from convgrad.errors import ProblemError
    from convgrad.generate import generate, read_template, variant

    template = read_template(TEMPLATE.read_text(encoding="utf-8"), "t.yaml")
    everyone = generate(template, 6, 11)
    # asked out of order, and from a template read again (another object, the same text)
    again = read_template(TEMPLATE.read_text(encoding="utf-8"), "t.yaml")
    for index in (4, 0, 5, 2):
        assert variant(again, 11, 6, index) == everyone[index]
    # another count or seed is another sequence (the tries allowed depend on the count)
    assert variant(template, 12, 6, 0) == generate(template, 1, 12)[0]
    with pytest.raises(ProblemError, match="not one of the 6 variants"):
        variant(template, 11, 6, 6)


def test_a_result_prairielearn_cannot_hold_is_refused() -> None:
    from convgrad.errors import ProblemError
    from convgrad.render.prairielearn import inputs_of

    assert inputs_of([({"dW": [[1, "1/2"]], "loss": 3}, ["dW", "loss"])]) == {
        "dW": ("dW", "matrix"), "loss": ("loss", "number")}
    with pytest.raises(ProblemError, match="loss is nan"):
        inputs_of([({"loss": float("nan")}, ["loss"])])
    # exact results beyond float64: float() raised OverflowError, an internal error
    with pytest.raises(ProblemError, match=r"loss is about 10\^400 in a variant"):
        inputs_of([({"loss": 10**400}, ["loss"])])
    with pytest.raises(ProblemError, match=r"dW is about -10\^399 in a variant"):
        inputs_of([({"dW": [[1, f"-{10**400}/3"]]}, ["dW"])])




def test_decimals_two_reach_the_inputs_and_the_grading(tmp_path: Path) -> None:
    template = write(tmp_path, "t.yaml", THIRDS)
    done = run_main("generate", template, "--out", tmp_path / "q", "--format", "prairielearn",
                    "--decimals", 2)
    assert done.returncode == 0, done
    html = (tmp_path / "q" / "question.html").read_text(encoding="utf-8")
    parser = _Inputs()
    parser.feed(html)
    assert [tag for tag, _ in parser.found] == ["pl-matrix-component-input", "pl-number-input"]
    for _, attrs in parser.found:
        assert (attrs["comparison"], attrs["digits"], attrs["allow-fractions"]) == \
            ("decdig", "2", "true")
        assert "rtol" not in attrs and "atol" not in attrs
    assert "rounds to the result at 2 decimals" in html
    server = _server(tmp_path / "q")
    # answers rounded to 2 decimals are right, as check --decimals 2 has them
    data = _data(variant_seed=0)
    server.generate(data)
    _submit(data, {"dY": [[0.67, 1.33], [2, 2.67]], "db": 6.67})
    server.grade(data)
    assert data["score"] == 1, data["partial_scores"]
    # one hundredth off at dY[1,1] (0.68 does not round 2/3 at 2 decimals): 3 of 4 entries
    data = _data(variant_seed=0)
    server.generate(data)
    # db typed as 20/3: the element's parse (string_fraction_to_number) leaves its float
    _submit(data, {"dY": [[0.68, 1.33], [2, 2.67]], "db": 20 / 3})
    server.grade(data)
    assert data["partial_scores"]["dY"]["score"] == 0.75
    assert data["partial_scores"]["db"]["score"] == 1
    # PrairieLearn's own test of the question passes its answers through the same rule: the
    # key's floats are right at 2 decimals, and a first entry moved by 1 + |value| is wrong
    # (dY 3 of 4 right, db wrong)
    scores = {}
    for test_type in ("correct", "incorrect"):
        data = _data(variant_seed=0)
        server.generate(data)
        data["test_type"] = test_type
        server.test(data)
        scores[test_type] = {k: p["score"] for k, p in data["partial_scores"].items()}
    assert scores == {"correct": {"dY": 1, "db": 1}, "incorrect": {"dY": 0.75, "db": 0}}


def test_the_default_attributes_say_check_default_and_allow_fractions(tmp_path: Path) -> None:
    out = _generate(_seed_template(tmp_path), tmp_path / "q", count=1)
    parser = _Inputs()
    parser.feed((out / "question.html").read_text(encoding="utf-8"))
    for _, attrs in parser.found:
        assert (attrs["comparison"], attrs["rtol"], attrs["atol"], attrs["allow-fractions"]) \
            == ("relabs", "1e-06", "1e-06", "true")
    server = (out / "server.py").read_text(encoding="utf-8")
    assert 'TOLERANCE = {"mode": "tol", "rtol": 1e-06, "atol": 1e-06}' in server


def test_rtol_and_atol_reach_server_py(tmp_path: Path) -> None:
    template = write(tmp_path, "t.yaml", THIRDS)
    done = run_main("generate", template, "--out", tmp_path / "q", "--format", "prairielearn",
                    "--rtol", "0.01", "--atol", "0.001")
    assert done.returncode == 0, done
    parser = _Inputs()
    parser.feed((tmp_path / "q" / "question.html").read_text(encoding="utf-8"))
    assert all((a["rtol"], a["atol"]) == ("0.01", "0.001") for _, a in parser.found)
    server = _server(tmp_path / "q")
    # 2/3 within 0.001 + 0.01 * 2/3 (about 0.0077): 0.66 is 0.0067 off, right; 0.65 is not
    for given, score in ((0.66, 1.0), (0.65, 0.75)):
        data = _data(variant_seed=0)
        server.generate(data)
        _submit(data, {"dY": [[given, 4 / 3], [2, 8 / 3]], "db": 20 / 3})
        server.grade(data)
        assert data["partial_scores"]["dY"]["score"] == score, given
