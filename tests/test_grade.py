"""`convgrad check`: grading answers files (SPEC section 3, issue 5).

The tests run the command in-process through `convgrad.cli.main(argv)` (the same code a
shell runs, without a new Python each time); exit codes as a shell sees them are in
test_process.py. The problem files are copied into tmp_path and the command runs there with
relative names, so no temporary directory (and none of its digits) appears in the output.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Run, run_main

SEED = "seed_worked_example.yaml"  # Y 3 4;6 7, loss 23, dY 1 2;3 3, dW 32 41;59 68, db 9
FRACTIONS = "fractions_and_strings.yaml"  # exact, with fractions; Z[3,3] = -1/3
SIGMOID = "sigmoid_bce.yaml"  # float: loss 0.5834922535658394
MULTI = "multichannel_relu_maxpool.yaml"  # 3-D: dX 2x4x4, dW 2x2x3x3, db [9/4, 13/4]
STRIDE2 = "stride2_5x5.yaml"  # half_sse loss, dW 3x3
CROSS = "cross_entropy.yaml"  # float

# A problem whose results are not square: Y is 2x3 (Y = [[7, 9, 11], [15, 17, 19]]).
WIDE = """\
input: "1 2 3 4; 5 6 7 8; 9 10 11 12"
kernel: "1 0; 0 1"
grad_output: "1 2 3; 4 5 6"
"""


def run(cwd: Path, *args: object, stdin: str = "", command: str = "check") -> Run:
    """`convgrad check ARGS` in cwd, in-process through main(argv); never an internal error."""
    proc = run_main(command, *args, stdin=stdin, cwd=cwd)
    assert "internal error" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc


def run_json(cwd: Path, *args: object, stdin: str = "") -> tuple[Run, dict]:
    proc = run(cwd, *args, "--json", stdin=stdin)
    return proc, json.loads(proc.stdout)  # the whole of stdout is one JSON object


def keys_of(doc: dict, n: int = 0) -> dict[str, dict]:
    """The graded keys of the n-th file of a `check --json` object, by key."""
    return {k["key"]: k for k in doc["files"][n]["keys"]}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for problem in (ROOT / "problems").glob("*.yaml"):
        shutil.copy(problem, tmp_path / problem.name)
    (tmp_path / "wide.yaml").write_text(WIDE)
    return tmp_path


def write(work: Path, name: str, text: str) -> str:
    (work / name).write_text(text, encoding="utf-8")
    return name


# --- right answers in every written form ---------------------------------------------------

RIGHT_FORMS = [
    (SEED, "dW: [[32, 41], [59, 68]]"),
    (SEED, 'dY: "1 2; 3 3"'),
    (SEED, 'dY: "1, 2; 3, 3"'),
    (SEED, "dY: |\n  1 2\n  3 3\n"),
    (SEED, "dY: [[1, 2], ['3/1', 3.0]]"),
    (SEED, 'dW: [["64/2", "82/2"], ["118/2", "136/2"]]'),
    (SEED, "dW: [[32.0, 41.00], [59, 68]]"),
    (SEED, "dW: [\"32 41\", \"59 68\"]"),
    (SEED, 'Y: "3 4; 6 7"'),
    (SEED, 'dX: "1 2 0; 2 2 2; -3 0 3"'),
    (SEED, "db: 9"),
    (SEED, "db: [9]"),
    (SEED, "db: [[9]]"),
    (SEED, 'db: "9"'),
    (SEED, "db: 9.0"),
    (SEED, "db: 18/2"),
    (SEED, "loss: 23"),
    (SEED, "loss: 23.0"),
    (SEED, 'loss: "46/2"'),
    (SEED, "dW[1,2]: 41"),
    (SEED, "dW[2,1]: 59"),
    (SEED, "dW[ 2 , 2 ]: 68"),
    (SEED, "dX[3,1]: -3"),
    (SEED, "dX[1,3]: 0"),
    (MULTI, "dX[1,2,3]: 5/8"),
    (MULTI, "dX[1,2,3]: 0.625"),
    (MULTI, 'dX[2,2,4]: "-11/8"'),
    (MULTI, "dW[2,1,2,2]: 35/8"),
    (MULTI, "Y[2,2,2]: 3.5"),
    (MULTI, "Y[2,2,2]: 7/2"),
    (MULTI, 'Y: ["4 4; 5 4", "9/2 9/2; 9/2 7/2"]'),
    (MULTI, "Y: [[[4, 4], [5, 4]], [[4.5, 4.5], [4.5, 3.5]]]"),
    (MULTI, 'db: "9/4 13/4"'),
    (MULTI, "db: [2.25, 3.25]"),
    (MULTI, "db: [[2.25, 3.25]]"),
    (MULTI, "loss: 8.25"),
    (FRACTIONS, 'loss: "44189/307200"'),
    (FRACTIONS, "db: -13679/76800"),
    (FRACTIONS, "Z[1,3]: -1/12"),
    (FRACTIONS, "A[1,1]: -0.2"),
    (FRACTIONS, "Z[3,3]: -0.3333333333"),
    (FRACTIONS, 'W_new: "124357/230400 -221729/230400; 12589/11520 69601/230400"'),
    (STRIDE2, "b_new: -1.4"),
    (STRIDE2, 'W_new[1,1]: "-19/10"'),
    (SIGMOID, "loss: 0.5834922535658394"),
    (SIGMOID, "loss: 0.5834923"),
    (SIGMOID, "db: 0.0276997"),
]


@pytest.mark.parametrize(("problem", "answers"), RIGHT_FORMS,
                         ids=[f"{p.split('.')[0]}-{a.splitlines()[0]}" for p, a in RIGHT_FORMS])
def test_right_answer_in_any_written_form_passes(work, problem, answers):
    name = write(work, "answers.yaml", answers + "\n")
    proc, doc = run_json(work, problem, name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report,) = doc["files"]
    assert report["usable"] is True
    assert [k["right"] for k in report["keys"]] == [True]
    assert report["score"] == report["max_score"] == 1


def test_right_answers_text_report_and_exit_0(work):
    name = write(work, "a.yaml", "loss: 23\nY: '3 4; 6 7'\ndY: [[1, 2], [3, 3]]\n"
                                 "dW: [[32, 41], [59, 68]]\ndb: [9]\n"
                                 "dX: '1 2 0; 2 2 2; -3 0 3'\ndW[1,2]: 41\n")
    proc = run(work, SEED, name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 of 7 right" in proc.stdout
    assert "✗" not in proc.stdout
    assert proc.stdout.count("✓") == 7


@pytest.mark.parametrize("problem", [SEED, FRACTIONS, MULTI, STRIDE2, SIGMOID, CROSS])
def test_every_result_of_solve_json_passes_as_an_answers_file(work, problem):
    solved = json.loads(run(work, problem, "--json", command="solve").stdout)
    exact = solved.pop("exact", None)
    name = write(work, "all.yaml", json.dumps(solved))  # JSON is YAML
    proc, doc = run_json(work, problem, name)
    assert proc.returncode == 0, proc.stdout
    graded = keys_of(doc)
    assert set(graded) == set(solved) - {"conventions"}  # stated, not graded
    assert all(k["right"] for k in graded.values())
    if exact is not None:  # the exact strings, compared exactly
        name = write(work, "exact.yaml", json.dumps(exact))
        proc, doc = run_json(work, problem, name, "--exact")
        assert proc.returncode == 0, proc.stdout
        assert set(keys_of(doc)) == set(exact)


def test_answers_from_standard_input(work):
    proc = run(work, SEED, "-", stdin="dW: '32 41; 59 68'\nloss: 23\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 right" in proc.stdout


def test_problem_from_standard_input(work):
    name = write(work, "a.yaml", "db: 9\n")
    proc = run(work, "-", name, stdin=(work / SEED).read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_given_keys_are_graded(work):
    name = write(work, "a.yaml", "db: 9\n")
    proc, doc = run_json(work, SEED, name)
    assert proc.returncode == 0
    assert list(keys_of(doc)) == ["db"]
    assert doc["files"][0]["max_score"] == 1


# --- each kind of mistake, with its hint ---------------------------------------------------


def grade_one(work: Path, problem: str, answers: str, *options: str) -> tuple[dict, str]:
    """Grade one wrong key: exit 1, usable file; returns (the key's JSON, the text report)."""
    name = write(work, "answers.yaml", answers + "\n")
    proc, doc = run_json(work, problem, name, *options)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert doc["files"][0]["usable"] is True
    (key,) = doc["files"][0]["keys"]
    assert key["right"] is False and key["earned"] == 0
    text = run(work, problem, name, *options)
    assert text.returncode == 1
    return key, text.stdout


def test_wrong_shape_names_both_shapes(work):
    key, text = grade_one(work, SEED, "dW: [[32, 41, 1], [59, 68, 1], [1, 1, 1]]")
    assert re.search(r"dW is 2x2\b.*\b3x3\b", key["message"]), key["message"]
    assert re.search(r"dW is 2x2\b.*\b3x3\b", text), text
    assert "shape" in key["message"]


def test_wrong_shape_smaller_than_expected(work):
    key, text = grade_one(work, SEED, "dX: [[1, 2], [3, 4]]")
    assert re.search(r"dX is 3x3\b.*\b2x2\b", key["message"]), key["message"]
    assert "dX is 3x3" in text


def test_wrong_shape_3d(work):
    key, _ = grade_one(work, MULTI, 'dX: "1 2; 3 4"')
    assert "2x4x4" in key["message"] and "2x2" in key["message"], key["message"]


def test_transposed_square_matrix(work):
    key, text = grade_one(work, SEED, "dW: [[32, 59], [41, 68]]")
    assert "transpose" in key["message"], key["message"]
    assert "transpose" in text
    assert {tuple(e["position"]) for e in key["wrong_entries"]} == {(1, 2), (2, 1)}


def test_transposed_non_square_matrix_is_wrong_not_unusable(work):
    key, text = grade_one(work, "wide.yaml", "Y: [[7, 15], [9, 17], [11, 19]]")
    assert "transpose" in key["message"], key["message"]
    assert "transpose" in text


def test_non_square_wrong_shape_that_is_not_a_transpose(work):
    key, _ = grade_one(work, "wide.yaml", "Y: [[1, 2], [3, 4], [5, 6]]")
    assert "transpose" not in key["message"]
    assert re.search(r"Y is 2x3\b.*\b3x2\b", key["message"]), key["message"]


@pytest.mark.parametrize("answers", ["dY: [[-1, -2], [-3, -3]]",
                                     "dX: '-1 -2 0; -2 -2 -2; 3 0 -3'",
                                     "db: -9",
                                     "dW[2,1]: -59"])
def test_sign_error(work, answers):
    key, text = grade_one(work, SEED, answers)
    assert "sign" in key["message"], key["message"]
    assert "sign" in text


@pytest.mark.parametrize("answers", ["dW: [[128, 164], [236, 272]]",
                                     "dY: '4 8; 12 12'",
                                     "db: 36",
                                     "loss: 92",
                                     "dW[1,2]: 164"])
def test_mean_sum_mse_confusion_says_sum_loss_convention(work, answers):
    key, text = grade_one(work, SEED, answers)
    assert re.search(r"matches the sum-loss\b.*convention", key["message"]), key["message"]
    assert re.search(r"matches the sum-loss\b.*convention", text)


def test_half_sum_confusion_on_an_mse_problem(work):
    key, _ = grade_one(work, SEED, "dW: [[64, 82], [118, 136]]")
    assert re.search(r"half-sum\b.*convention", key["message"]), key["message"]


def test_mean_convention_on_a_half_sse_problem(work):
    # stride2_5x5 uses half_sse over 4 outputs: the mean convention halves every gradient.
    key, _ = grade_one(work, STRIDE2, "dW: '29/2 8 -5/2; 35/2 23/2 8; -2 5/2 12'")
    assert re.search(r"mean\b.*convention", key["message"]), key["message"]
    key, _ = grade_one(work, STRIDE2, "dW: '58 32 -10; 70 46 32; -8 10 48'")
    assert re.search(r"sum-loss\b.*convention", key["message"]), key["message"]


def test_factor_that_is_no_loss_convention(work):
    key, _ = grade_one(work, SEED, "dW: [[96, 123], [177, 204]]")
    assert "factor of 3" in key["message"], key["message"]
    assert "convention" not in key["message"]


def test_kernel_rotated_180_degrees(work):
    key, _ = grade_one(work, SEED, "dW: [[68, 59], [41, 32]]")
    assert "180" in key["message"], key["message"]


def test_one_wrong_entry_is_listed_with_given_expected_difference(work):
    key, text = grade_one(work, SEED, "dW: [[32, 41], [59, 69]]")
    assert key["message"].startswith("1 of 4"), key["message"]
    (entry,) = key["wrong_entries"]
    assert entry["position"] == [2, 2]
    assert float(entry["given"]) == 69 and float(entry["expected"]) == 68
    assert float(entry["difference"]) == 1
    line = next(ln for ln in text.splitlines() if "[2,2]" in ln)
    assert "69" in line and "68" in line
    assert "[1,1]" not in text


def test_wrong_and_right_keys_in_one_file(work):
    name = write(work, "a.yaml", "dW: [[32, 41], [59, 68]]\ndb: 8\nloss: 23\n")
    proc, doc = run_json(work, SEED, name)
    assert proc.returncode == 1
    graded = keys_of(doc)
    assert {k: v["right"] for k, v in graded.items()} == {"dW": True, "db": False, "loss": True}
    assert doc["files"][0]["score"] == 2 and doc["files"][0]["max_score"] == 3


# --- unusable files: exit 2 ----------------------------------------------------------------


def unusable(work: Path, name: str, problem: str = SEED) -> tuple[str, str]:
    """Grade one unusable file: exit 2; returns (the JSON error, the text output)."""
    proc, doc = run_json(work, problem, name)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (report,) = doc["files"]
    assert report["usable"] is False
    assert report["file"] == name
    text = run(work, problem, name)
    assert text.returncode == 2
    return report["error"], text.stdout + text.stderr


def test_missing_answers_file(work):
    error, text = unusable(work, "nobody.yaml")
    assert "nobody.yaml" in error and "nobody.yaml" in text


def test_directory_as_answers_file(work):
    (work / "adir").mkdir()
    error, _ = unusable(work, "adir")
    assert "adir" in error


def test_binary_answers_file(work):
    (work / "bin.yaml").write_bytes(b"\x00\x01\x02dW: 1\n")
    error, _ = unusable(work, "bin.yaml")
    assert "bin.yaml" in error
    # A photo handed in as answers: what to give is the answers file, not a problem.
    assert error == "bin.yaml: a binary file, not YAML text; give the answers' YAML file", error


def test_unreadable_answers_files(work):
    # Files that exist in some sense but cannot be read as text (tests may run as root, so
    # no chmod): a path through a regular file, and bytes that are not UTF-8.
    write(work, "plain.yaml", "db: 9\n")
    error, _ = unusable(work, "plain.yaml/answers.yaml")
    assert "plain.yaml/answers.yaml" in error
    (work / "latin1.yaml").write_bytes("db: 9 # caf\u00e9\n".encode("latin-1"))
    error, _ = unusable(work, "latin1.yaml")
    assert "latin1.yaml" in error


@pytest.mark.parametrize("text", ["dW: [[32, 41], [59, 68]\n", "dW: [1, 2\ndb: 9\n",
                                  "db: 9\n  loss: 23\n\t- x\n"])
def test_bad_yaml(work, text):
    name = write(work, "bad.yaml", text)
    error, out = unusable(work, name)
    assert "bad.yaml" in error
    assert "line" in error


@pytest.mark.parametrize("text", ["", "- 1\n- 2\n", "just words\n"])
def test_not_a_mapping_of_answers(work, text):
    name = write(work, "odd.yaml", text)
    error, _ = unusable(work, name)
    assert "odd.yaml" in error


@pytest.mark.parametrize("text", ["# dW: to do\n", "\n\n# nothing yet\n", "---\n"])
def test_an_answers_file_of_comments_only_has_no_answers(work, text):
    # As an empty file: the message is about answers, never about writing a problem.
    name = write(work, "todo.yaml", text)
    error, out = unusable(work, name)
    assert error == ("todo.yaml: no answers in the file; give keys such as "
                     "'dW: [[32, 41], [59, 68]]' or 'loss: 23'"), error
    assert "problem" not in out.replace("problem.yaml", "")


@pytest.mark.parametrize(("text", "words"), [
    ("db: 9\n---\ndb: 8\n", "second YAML document"),
    ("db: 9 \x07\n", "control character"),
])
def test_an_answers_file_s_yaml_errors_speak_of_answers(work, text, words):
    name = write(work, "two.yaml", text)
    error, _ = unusable(work, name)
    assert words in error and "answers" in error and "problem" not in error, error


@pytest.mark.parametrize(("text", "suggestion"), [("dw: [[32, 41], [59, 68]]", "dW"),
                                                  ("lose: 23", "loss"),
                                                  ("DB: 9", "db"),
                                                  ("dw[1,2]: 41", "dW")])
def test_unknown_key_with_did_you_mean(work, text, suggestion):
    name = write(work, "typo.yaml", text + "\n")
    error, out = unusable(work, name)
    assert "did you mean" in error, error
    assert suggestion in error.split("did you mean", 1)[1], error
    assert "did you mean" in out


@pytest.mark.parametrize("text", ["dZ: 1", "W_new: '1 2; 3 4'", "A[1,1]: 0"])
def test_key_this_problem_does_not_have(work, text):
    # The worked example has no activation and no learning rate.
    name = write(work, "extra.yaml", text + "\n")
    error, _ = unusable(work, name)
    assert text.split(":")[0].split("[")[0] in error


@pytest.mark.parametrize("text", ["dW: [[32, x], [59, 68]]", "dW: '32 41; 59 abc'",
                                  "db: true", "dW: [[32, null], [59, 68]]", "dW: '32 ~; 59 68'",
                                  "loss: .nan", "loss: .inf",
                                  'db: "1/0"', "db: nine", "db: {a: 1}", "db: []"])
def test_non_numeric_value(work, text):
    name = write(work, "nan.yaml", "loss: 23\n" + text + "\n")
    error, _ = unusable(work, name)
    key = text.split(":")[0]
    assert f"'{key}'" in error or key in error, error
    assert "nan.yaml" in error


@pytest.mark.parametrize("null", ["null", "~", "", "Null"])
def test_a_key_set_to_null_is_missing_and_the_rest_is_graded(work, null):
    # An answer's default is no answer (as a problem key's null is its default): the key
    # is missing, the file usable, and its other keys graded.
    name = write(work, "part.yaml", f"dW: [[32, 41], [59, 68]]\ndb: {null}\nloss: 24\n")
    proc, doc = run_json(work, SEED, name)
    assert proc.returncode == 1, proc.stderr
    f = doc["files"][0]
    assert f["usable"] is True and f["missing"] == ["db"]
    keys = keys_of(doc)
    assert keys["db"]["status"] == "missing" and keys["db"]["earned"] == 0
    assert keys["db"]["given"] is None and keys["db"]["line"] == 2
    assert keys["dW"]["right"] is True and keys["loss"]["right"] is False  # loss is 23
    assert (f["score"], f["max_score"]) == (1, 3)
    assert "db" not in f["unanswered"]
    text = run(work, SEED, name).stdout
    assert "db  missing: no answer given" in text, text


def test_a_null_key_loses_its_points_when_graded(work):
    name = write(work, "part.yaml", "dW: [[32, 41], [59, 68]]\ndb: null\n")
    _, doc = run_json(work, SEED, name, "--points", "dW=2,db=3")
    f = doc["files"][0]
    assert (f["score"], f["max_score"], f["missing"]) == (2, 5, ["db"])
    assert keys_of(doc)["db"]["line"] == 2
    # a null key outside the graded set is no answer: neither graded nor "not graded"
    _, doc = run_json(work, SEED, name, "--points", "dW=2")
    assert doc["files"][0]["not_graded"] == [] and doc["files"][0]["score"] == 2


def test_a_blank_file_handed_in_unfilled_is_usable_with_every_key_missing(work):
    # generate's blank.yaml: the graded keys, each null
    name = write(work, "blank.yaml", "dY: null\ndW: null\ndb: null\ndX: null\n")
    for options in ((), ("--require", "dY,dW,db,dX")):
        proc, doc = run_json(work, SEED, name, *options)
        assert proc.returncode == 1
        f = doc["files"][0]
        assert f["usable"] is True and (f["score"], f["max_score"]) == (0, 4)
        assert f["missing"] == ["dY", "dW", "db", "dX"]


def test_a_null_entry_key_is_missing(work):
    name = write(work, "entry.yaml", "dW[1,2]: null\ndW[2,1]: 59\n")
    _, doc = run_json(work, SEED, name)
    keys = keys_of(doc)
    assert keys["dW[1,2]"]["status"] == "missing" and keys["dW[2,1]"]["right"] is True


@pytest.mark.parametrize(("text", "words"), [
    ("dw: null", "did you mean"),  # a misspelt key stays unusable (SPEC section 3)
    ("dZ: null", "dZ"),  # a key this problem does not have
    ("dW[3,1]: null", "outside"),
    ("dW[1,2]: null\ndW[1, 2]: 41", "names the same value"),
])
def test_a_null_key_is_still_checked_against_the_problem(work, text, words):
    name = write(work, "bad.yaml", text + "\n")
    error, _ = unusable(work, name)
    assert words in error, error


@pytest.mark.parametrize("key", ["dW[3,1]", "dW[1,3]", "dW[0,1]", "dW[1]", "dW[1,1,1]",
                                 "dX[4,1]", "loss[2]"])
def test_index_outside_the_shape(work, key):
    name = write(work, "idx.yaml", f"{key}: 5\n")
    error, _ = unusable(work, name)
    assert key in error, error


def test_index_outside_the_shape_3d(work):
    name = write(work, "idx.yaml", "dX[3,1,1]: 0\n")
    error, _ = unusable(work, name, MULTI)
    assert "dX[3,1,1]" in error and "2x4x4" in error, error


@pytest.mark.parametrize(("key", "words"), [
    # the seed's loss (23) and db (9) are single numbers, dX is 3x3
    ("loss[2]", "outside loss, which is one number;"),
    ("loss[1,1]", "outside loss, which is one number;"),
    ("db[1,1]", "outside db, which is one number;"),
    ("dX[4,1]", "outside dX, which is 3x3;"),
])
def test_the_shape_an_index_is_outside_is_not_read_as_a_value(work, key, words):
    # 'outside loss, which is 1' read as if the loss were 1 (it is 23).
    error, _ = unusable(work, write(work, "idx.yaml", f"{key}: 5\n"))
    assert words in error, error


def test_the_length_of_a_vector_an_index_is_outside(work):
    # network_two_dense.yaml: fc1's weights are 4x3 (4 units), so fc1.db is 4 numbers
    error, _ = unusable(work, write(work, "idx.yaml", "fc1.db[9]: 5\n"),
                        "network_two_dense.yaml")
    assert "outside fc1.db, which is 4 numbers;" in error, error


def test_an_unusable_key_makes_the_whole_file_unusable_even_with_right_keys(work):
    name = write(work, "mixed.yaml", "dW: [[32, 41], [59, 68]]\ndw: 1\n")
    error, _ = unusable(work, name)
    assert "dw" in error


def test_several_files_every_usable_one_is_graded_and_exit_is_2(work):
    good = write(work, "good.yaml", "db: 9\nloss: 23\n")
    bad = write(work, "bad.yaml", "dW: [[32, 41], [59, 68]\n")
    wrong = write(work, "wrong.yaml", "db: 8\n")
    typo = write(work, "typo.yaml", "dw: 1\n")
    files = [good, bad, wrong, "missing.yaml", typo]
    proc, doc = run_json(work, SEED, *files)
    assert proc.returncode == 2
    assert [f["file"] for f in doc["files"]] == files
    by_file = {f["file"]: f for f in doc["files"]}
    assert [f["usable"] for f in doc["files"]] == [True, False, True, False, False]
    assert by_file[good]["score"] == 2 and by_file[good]["right"] == 2
    assert by_file[wrong]["score"] == 0 and by_file[wrong]["keys"][0]["right"] is False
    assert "did you mean" in by_file[typo]["error"]

    text = run(work, SEED, *files)
    assert text.returncode == 2
    assert "2 of 2 right" in text.stdout  # good.yaml's report
    lines = text.stdout.splitlines()
    header = max(n for n, ln in enumerate(lines) if ln.split()[:2] == ["file", "score"])
    summary = "\n".join(lines[header:])
    for name in files:
        assert name in summary
    row = next(ln for ln in summary.splitlines() if ln.startswith("wrong.yaml"))
    assert "db" in row and "0/1" in row
    assert "unusable" in next(ln for ln in summary.splitlines() if ln.startswith("missing.yaml"))


def test_wrong_and_unusable_files_exit_2_not_1(work):
    wrong = write(work, "wrong.yaml", "db: 8\n")
    bad = write(work, "bad.yaml", "db: [\n")
    assert run(work, SEED, wrong, bad).returncode == 2
    assert run(work, SEED, bad, wrong).returncode == 2


def test_unusable_problem_exits_2_with_nothing_on_stdout(work):
    name = write(work, "a.yaml", "db: 9\n")
    proc = run(work, "no_such_problem.yaml", name)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no_such_problem.yaml" in proc.stderr
    bad = write(work, "badproblem.yaml", "input: [[1, 2], [3]]\nkernel: [[1]]\n")
    proc = run(work, bad, name, "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "badproblem.yaml" in proc.stderr


# --- tolerances at their edges -------------------------------------------------------------


def verdict(work: Path, problem: str, answer: str, *options: str) -> bool:
    """True when the one answer is right, False when wrong (exit 0 or 1, nothing else)."""
    name = write(work, "t.yaml", answer + "\n")
    proc, doc = run_json(work, problem, name, *options)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    (key,) = doc["files"][0]["keys"]
    assert key["right"] is (proc.returncode == 0)
    return key["right"]


# Default: |given - expected| <= 1e-6 + 1e-6*|expected|.
@pytest.mark.parametrize(("answer", "right"), [
    ("loss: 23.000023", True),       # tolerance 2.4e-5
    ("loss: 23.000025", False),
    ("loss: 22.999977", True),
    ("loss: 22.999975", False),
    ("dW[2,2]: 68.000068", True),    # tolerance 6.9e-5
    ("dW[2,2]: 68.00007", False),
    ("dX[1,3]: 0.00000099", True),   # expected 0: tolerance 1e-6
    ("dX[1,3]: -0.00000099", True),
    ("dX[1,3]: 0.00000101", False),
    ("dW: [[32, 41], [59, 68.00007]]", False),
    ("dW: [[32.00003, 41.00004], [58.99995, 68.000068]]", True),
    # On the edge itself: SPEC's 1e-6 is 10^-6 (a decimal is the number it spells), and
    # "<=" takes the edge in. 23 + 10^-6 + 23·10^-6 = 23.000024; 0 + 10^-6 = 0.000001.
    ("loss: 23.000024", True),
    ("loss: 22.999976", True),
    ("loss: 23.0000240000000000000001", False),
    ("dX[1,3]: 0.000001", True),
    ("dX[1,3]: -0.000001", True),
    ("dX[1,3]: 0.0000010000000000000001", False),
])
def test_default_tolerance_edges(work, answer, right):
    assert verdict(work, SEED, answer) is right


def test_default_tolerance_on_a_float_problem(work):
    # sigmoid_bce loss 0.5834922535658394: tolerance 1.58e-6.
    assert verdict(work, SIGMOID, "loss: 0.583493") is True      # off by 7.5e-7
    assert verdict(work, SIGMOID, "loss: 0.583494") is False     # off by 1.7e-6


def test_one_third_within_default_tolerance_only_with_enough_digits(work):
    assert verdict(work, FRACTIONS, "Z[3,3]: -0.3333333") is True
    assert verdict(work, FRACTIONS, "Z[3,3]: -0.333") is False


@pytest.mark.parametrize(("answer", "options", "right"), [
    ("loss: 23.22", ("--rtol", "0.01", "--atol", "0"), True),
    ("loss: 23.24", ("--rtol", "0.01", "--atol", "0"), False),
    ("loss: 22.78", ("--rtol", "0.01", "--atol", "0"), True),
    ("loss: 22.76", ("--rtol", "0.01", "--atol", "0"), False),
    ("loss: 23.23", ("--rtol", "0.01", "--atol", "0"), True),  # the edge: 23 + 23/100
    ("loss: 23.2300000000000000001", ("--rtol", "0.01", "--atol", "0"), False),
    ("dX[1,3]: 0.000000001", ("--rtol", "0.5", "--atol", "0"), False),
    ("dX[1,3]: 0", ("--rtol", "0", "--atol", "0"), True),
    ("db: 9.49", ("--atol", "0.5", "--rtol", "0"), True),
    ("db: 9.5", ("--atol", "0.5", "--rtol", "0"), True),
    ("db: 9.51", ("--atol", "0.5", "--rtol", "0"), False),
    ("db: 8.49", ("--atol", "0.5", "--rtol", "0"), False),
    ("loss: 23.000001", ("--rtol", "0", "--atol", "0"), False),
    ("loss: 23.4", ("--atol", "0.5"), True),
    ("loss: 23.6", ("--atol", "0.5"), False),
    ("loss: 25.2", ("--rtol", "0.1"), True),
    ("loss: 25.4", ("--rtol", "0.1"), False),
])
def test_rtol_atol_edges(work, answer, options, right):
    assert verdict(work, SEED, answer, *options) is right


@pytest.mark.parametrize(("problem", "answer", "digits", "right"), [
    (SIGMOID, "loss: 0.583", "3", True),      # 0.58349...
    (SIGMOID, "loss: 0.584", "3", False),
    (SIGMOID, "loss: 0.582", "3", False),
    (SIGMOID, "loss: 0.5835", "3", True),    # more precise than 3 decimals, and closer
    (SIGMOID, "loss: 0.58", "2", True),
    (SIGMOID, "loss: 0.59", "2", False),
    (FRACTIONS, "Z[3,3]: -0.333", "3", True),   # -1/3: the usual homework rounding
    (FRACTIONS, "Z[3,3]: -0.334", "3", False),
    (FRACTIONS, "Z[3,3]: -0.33", "3", False),
    (FRACTIONS, "Z[1,3]: -0.08", "2", True),    # -1/12
    (FRACTIONS, "Z[1,3]: -0.09", "2", False),
    (FRACTIONS, "Z[2,1]: -0.917", "3", True),   # -11/12 = -0.91666...
    (FRACTIONS, "Z[2,1]: -0.916", "3", False),
    (SEED, "loss: 23", "0", True),
    (SEED, "loss: 22.5", "0", True),        # rounds half up to 23
    (SEED, "loss: 23.49", "0", True),
    (SEED, "loss: 23.5", "0", False),
    (SEED, "loss: 22.4", "0", False),
    (SEED, "dW: [[32, 41], [59, 68]]", "2", True),
    (SEED, "dW: [[32, 41], [59, 68.01]]", "2", False),
    (MULTI, "Y[2,2,2]: 3.5", "1", True),
    (MULTI, "Y[2,2,2]: 3.4", "1", False),
])
def test_decimals_edges(work, problem, answer, digits, right):
    assert verdict(work, problem, answer, "--decimals", digits) is right


def test_decimals_accepts_what_the_default_rejects(work):
    assert verdict(work, SIGMOID, "loss: 0.583") is False
    assert verdict(work, SIGMOID, "loss: 0.583", "--decimals", "3") is True


@pytest.mark.parametrize(("problem", "answer", "digits", "right"), [
    (SIGMOID, "loss: 0.583", "3", True),
    (SIGMOID, "loss: 0.584", "3", False),
    (SIGMOID, "loss: 0.5835", "4", True),   # 0.58349... -> 0.5835
    (SIGMOID, "loss: 0.5834", "4", False),
    (SIGMOID, "db: 0.0277", "3", True),     # 0.02769969...
    (SIGMOID, "db: 0.0276", "3", False),
    (SEED, "loss: 20", "1", True),          # 23 -> 2e1
    (SEED, "loss: 24.9", "1", True),
    (SEED, "loss: 26.5", "1", False),
    (SEED, "loss: 23", "2", True),
    (SEED, "loss: 22.6", "2", True),
    (SEED, "loss: 23.4", "2", True),
    (SEED, "loss: 23.5", "2", False),
    (SEED, "loss: 22.4", "2", False),
    (FRACTIONS, "loss: 0.1438", "4", True),  # 44189/307200 = 0.14384...
    (FRACTIONS, "loss: 0.1439", "4", False),
    (FRACTIONS, "Z[3,3]: -0.333", "3", True),
    (FRACTIONS, "Z[3,3]: -0.3333", "3", True),
    (FRACTIONS, "Z[3,3]: -0.33", "3", False),
    # A result of 0 (SPEC's dX[1,3]): 0 at any number of figures is 0, and no other number
    # rounds to it (0.4 at 3 figures is 0.400); 0.4 and -0.49 were taken as 0's figures.
    (SEED, "dX[1,3]: 0", "3", True),
    (SEED, "dX[1,3]: 0.000", "1", True),
    (SEED, "dX[1,3]: -0", "2", True),
    (SEED, "dX[1,3]: 0.4", "3", False),
    (SEED, "dX[1,3]: -0.49", "1", False),
    (SEED, "dX[1,3]: 0.001", "3", False),
])
def test_sig_figs_edges(work, problem, answer, digits, right):
    assert verdict(work, problem, answer, "--sig-figs", digits) is right


@pytest.mark.parametrize(("problem", "answer", "right"), [
    (MULTI, "Y[2,2,2]: 3.5", True),                  # 7/2 = 3.5 exactly
    (MULTI, "Y[2,2,2]: 7/2", True),
    (MULTI, "Y[2,2,2]: 3.5000001", False),
    (FRACTIONS, 'loss: "44189/307200"', True),
    (FRACTIONS, "loss: 0.14384440104166665", False),  # the float print is not the fraction
    (FRACTIONS, "Z[3,3]: -0.3333333", False),
    (FRACTIONS, "Z[3,3]: -1/3", True),
    (SEED, "dW: '32 41; 59 68'", True),
    (SEED, "loss: 23.000000001", False),
])
def test_exact_edges(work, problem, answer, right):
    assert verdict(work, problem, answer, "--exact") is right


def test_exact_is_stricter_than_the_default(work):
    assert verdict(work, MULTI, "Y[2,2,2]: 3.5000001") is True
    assert verdict(work, FRACTIONS, "loss: 0.14384440104166665") is True


@pytest.mark.parametrize("problem", [SIGMOID, CROSS])
def test_exact_on_a_problem_that_is_not_rational_exits_2(work, problem):
    name = write(work, "a.yaml", "loss: 0.5\n")
    for extra in ((), ("--json",)):
        proc = run(work, problem, name, "--exact", *extra)
        assert proc.returncode == 2
        assert proc.stdout == ""
        assert proc.stderr.strip(), "an error message on stderr"
        assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("options", [
    ("--exact", "--decimals", "2"),
    ("--exact", "--sig-figs", "2"),
    ("--exact", "--rtol", "0.1"),
    ("--exact", "--atol", "0.1"),
    ("--decimals", "2", "--sig-figs", "2"),
    ("--rtol", "0.1", "--decimals", "2"),
    ("--atol", "0.1", "--sig-figs", "2"),
])
def test_conflicting_tolerance_options_exit_2(work, options):
    name = write(work, "a.yaml", "db: 9\n")
    proc = run(work, SEED, name, *options)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip()


@pytest.mark.parametrize("options", [
    ("--rtol", "-1"), ("--rtol=-1",), ("--atol", "-0.1"), ("--atol", "nan"), ("--rtol", "nan"),
    ("--rtol", "inf"), ("--atol", "abc"), ("--decimals", "-1"), ("--decimals", "abc"),
    ("--decimals", "2.5"), ("--sig-figs", "0"), ("--sig-figs", "-3"), ("--sig-figs", "x"),
])
def test_bad_tolerance_values_exit_2(work, options):
    name = write(work, "a.yaml", "db: 9\n")
    proc = run(work, SEED, name, *options)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip()


def test_tolerance_is_echoed_in_text_and_json(work):
    name = write(work, "a.yaml", "db: 9\n")
    default = run(work, SEED, name).stdout
    assert "1e-06" in default or "1e-6" in default
    assert "decimals" in run(work, SEED, name, "--decimals", "3").stdout
    assert re.search(r"(?i)sig", run(work, SEED, name, "--sig-figs", "2").stdout)
    assert re.search(r"(?i)exact", run(work, SEED, name, "--exact").stdout)

    _, doc = run_json(work, SEED, name)
    assert doc["tolerance"]["rtol"] == 1e-6 and doc["tolerance"]["atol"] == 1e-6
    _, doc = run_json(work, SEED, name, "--rtol", "0.01", "--atol", "0")
    assert doc["tolerance"]["rtol"] == 0.01 and doc["tolerance"]["atol"] == 0
    _, doc = run_json(work, SEED, name, "--decimals", "3")
    assert 3 in doc["tolerance"].values()
    _, doc = run_json(work, SEED, name, "--sig-figs", "4")
    assert 4 in doc["tolerance"].values()


# The whole range the options accept must work, not end in an internal error (exit 70).
def test_decimals_at_the_top_of_its_range(work):
    assert verdict(work, SEED, "loss: 23", "--decimals", "30") is True


def test_sig_figs_at_the_top_of_its_range(work):
    assert verdict(work, FRACTIONS, "Z[3,3]: -1/3", "--sig-figs", "30") is True


@pytest.mark.parametrize(("problem", "answer", "options"), [
    (SEED, "loss: 24", ("--decimals", "0")),
    (SEED, "db: 8", ("--decimals", "2")),
    (SEED, "dW[1,2]: 40", ("--sig-figs", "2")),
    (SEED, "loss: 30", ("--sig-figs", "1")),
    (SIGMOID, "loss: 1", ("--decimals", "2")),
])
def test_wrong_whole_number_with_decimals_or_sig_figs_is_wrong_not_a_crash(work, problem,
                                                                          answer, options):
    assert verdict(work, problem, answer, *options) is False


@pytest.mark.parametrize("options", [(), ("--decimals", "2")])
def test_huge_answer_is_wrong_not_a_crash(work, options):
    name = write(work, "big.yaml", "loss: 1e400\n")
    proc = run(work, SEED, name, *options)
    assert "internal error" not in proc.stderr
    assert proc.returncode in (1, 2)


# --- --no-reveal ---------------------------------------------------------------------------

# Every answer wrong; none of the given numbers contains an expected one as a substring.
HIDDEN = ["41", "59", "68", "23", "32"]  # dW entries and the loss of the worked example
NO_REVEAL_ANSWERS = """\
dW: [[1, 2], [3, 4]]
dW[1,2]: 40
dW[2,1]: 60
dW[2,2]: 67
loss: 22
db: 10
dY: "5 6; 7 8"
dX: [[1, 2], [5, 6]]
"""


def test_no_reveal_answers_do_reveal_without_the_option(work):
    # The sanity check that makes the --no-reveal tests meaningful.
    name = write(work, "s.yaml", NO_REVEAL_ANSWERS)
    out = run(work, SEED, name).stdout
    for number in ("41", "59", "68", "23"):
        assert number in out
    assert all(n in run(work, SEED, name, "--json").stdout for n in ("41", "59", "68", "23"))


@pytest.mark.parametrize("options", [(), ("--summary",), ("--rtol", "0.001", "--atol", "0"),
                                     ("--exact",)])
def test_no_reveal_text_shows_no_expected_number(work, options):
    name = write(work, "s.yaml", NO_REVEAL_ANSWERS)
    proc = run(work, SEED, name, "--no-reveal", *options)
    assert proc.returncode == 1
    for number in HIDDEN:
        assert number not in proc.stdout, (number, proc.stdout)
        assert number not in proc.stderr
    report = [ln for ln in proc.stdout.splitlines() if not ln.startswith("Tolerance")]
    assert "expected" not in "\n".join(report)
    if not options:
        assert "[1,2]" in proc.stdout  # it still says which entries are wrong
        assert "factor" not in proc.stdout and "convention" not in proc.stdout


def test_no_reveal_hides_hints_that_give_the_answer_away(work):
    # "the sign is wrong" would give 9 away, "off by a factor of 4" would give 23 away.
    name = write(work, "s.yaml", "db: -9\nloss: 92\n")
    proc = run(work, SEED, name, "--no-reveal")
    assert proc.returncode == 1
    for word in ("sign", "factor", "convention", "23"):
        assert word not in proc.stdout, (word, proc.stdout)
    revealed = run(work, SEED, name).stdout
    assert "sign" in revealed and "23" in revealed


def test_no_reveal_json_shows_no_expected_number(work):
    name = write(work, "s.yaml", NO_REVEAL_ANSWERS)
    proc, doc = run_json(work, SEED, name, "--no-reveal")
    assert proc.returncode == 1
    for number in HIDDEN:
        assert number not in proc.stdout, (number, proc.stdout)

    def no_expected(node):
        if isinstance(node, dict):
            assert "expected" not in node and "difference" not in node
            for value in node.values():
                no_expected(value)
        elif isinstance(node, list):
            for value in node:
                no_expected(value)

    no_expected(doc["files"])
    graded = keys_of(doc)
    assert all(not k["right"] for k in graded.values())
    assert {tuple(e["position"]) for e in graded["dW"]["wrong_entries"]} == \
        {(1, 1), (1, 2), (2, 1), (2, 2)}


def test_no_reveal_gradescope_file_shows_no_expected_number(work):
    name = write(work, "s.yaml", NO_REVEAL_ANSWERS)
    proc = run(work, SEED, name, "--no-reveal", "--gradescope", "results.json")
    assert proc.returncode == 1
    text = (work / "results.json").read_text()
    doc = json.loads(text)
    assert doc["score"] == 0 and doc["max_score"] == len(doc["tests"]) > 0
    for number in HIDDEN:
        assert number not in text, (number, text)
        assert number not in proc.stdout


def test_no_reveal_still_grades_right_answers(work):
    name = write(work, "r.yaml", "db: 9\ndY: '1 2; 3 3'\n")
    proc, doc = run_json(work, SEED, name, "--no-reveal")
    assert proc.returncode == 0
    assert doc["files"][0]["score"] == 2


# --- machine reports: --json, --gradescope, --points ---------------------------------------


def test_json_scores_per_file_and_per_key(work):
    a = write(work, "a.yaml", "dW: [[32, 41], [59, 68]]\ndb: 8\nloss: 23\n")
    b = write(work, "b.yaml", "dW: [[32, 59], [41, 68]]\n")
    c = write(work, "c.yaml", "dX[3,1]: -3\ndY: '1 2; 3 3'\n")
    proc, doc = run_json(work, SEED, a, b, c)
    assert proc.returncode == 1
    assert [f["file"] for f in doc["files"]] == [a, b, c]
    assert [(f["score"], f["max_score"]) for f in doc["files"]] == [(2, 3), (0, 1), (2, 2)]
    assert [f["right"] for f in doc["files"]] == [2, 0, 2]
    assert doc["score"] == 4 and doc["max_score"] == 6
    ka = keys_of(doc, 0)
    assert list(ka) == ["dW", "db", "loss"]
    assert [ka[k]["right"] for k in ka] == [True, False, True]
    assert ka["db"]["points"] == 1 and ka["db"]["earned"] == 0
    assert float(ka["db"]["expected"]) == 9
    assert ka["db"]["message"]
    assert keys_of(doc, 2)["dX[3,1]"]["right"] is True
    assert "transpose" in keys_of(doc, 1)["dW"]["message"]


def test_json_is_one_object_even_with_unusable_files(work):
    good = write(work, "g.yaml", "db: 9\n")
    proc, doc = run_json(work, SEED, good, "missing.yaml")
    assert proc.returncode == 2
    assert doc["files"][1]["usable"] is False and "missing.yaml" in doc["files"][1]["error"]
    assert doc["score"] == 1


def test_points_weight_keys_in_json_and_text(work):
    name = write(work, "a.yaml", "dW: [[32, 41], [59, 68]]\ndb: 8\nloss: 23\n")
    proc, doc = run_json(work, SEED, name, "--points", "dW=2,db=1")
    assert proc.returncode == 1
    graded = keys_of(doc)
    assert (graded["dW"]["points"], graded["dW"]["earned"]) == (2, 2)
    assert (graded["db"]["points"], graded["db"]["earned"]) == (1, 0)
    # loss is not named in --points: reported, not graded, worth nothing
    assert (graded["loss"]["graded"], graded["loss"]["status"]) == (False, "not graded")
    assert (graded["loss"]["points"], graded["loss"]["earned"]) == (0, 0)
    assert doc["files"][0]["score"] == 2 and doc["files"][0]["max_score"] == 3
    assert doc["score"] == 2 and doc["max_score"] == 3
    assert doc["points"] == {"dW": 2, "db": 1}
    text = run(work, SEED, name, "--points", "dW=2,db=1").stdout
    assert "2/3 points" in text
    assert re.search(r"· loss\s+not graded", text), text


def test_points_can_be_fractional_and_zero(work):
    name = write(work, "a.yaml", "dW: [[32, 41], [59, 68]]\ndb: 8\n")
    _, doc = run_json(work, SEED, name, "--points", "dW=0.5,db=0")
    assert doc["score"] == 0.5 and doc["max_score"] == 0.5


def test_gradescope_file(work):
    name = write(work, "a.yaml", "dW: [[32, 41], [59, 68]]\ndb: 8\nloss: 23\n")
    proc = run(work, SEED, name, "--points", "dW=2,db=1", "--gradescope", "results.json")
    assert proc.returncode == 1
    assert "✗" in proc.stdout  # the text report still goes to stdout
    doc = json.loads((work / "results.json").read_text())
    assert doc["score"] == 2 and doc["max_score"] == 3
    assert doc["visibility"] == "visible"
    tests = {t["name"]: t for t in doc["tests"]}
    assert list(tests) == ["dW", "db"]  # loss is not graded: no test
    for t in doc["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert isinstance(t["output"], str)
        assert t["visibility"] == "visible"
    assert (tests["dW"]["score"], tests["dW"]["max_score"], tests["dW"]["status"]) == \
        (2, 2, "passed")
    assert (tests["db"]["score"], tests["db"]["max_score"], tests["db"]["status"]) == \
        (0, 1, "failed")
    assert tests["dW"]["output"] == "right"
    assert "given 8; expected 9" in tests["db"]["output"]
    assert "Not graded" in doc["output"] and "loss" in doc["output"]
    assert sum(t["score"] for t in doc["tests"]) == doc["score"]
    assert sum(t["max_score"] for t in doc["tests"]) == doc["max_score"]


def test_gradescope_with_json_and_all_right(work):
    name = write(work, "a.yaml", "dW: '32 41; 59 68'\ndb: 9\n")
    proc, doc = run_json(work, SEED, name, "--gradescope", "gs.json")
    assert proc.returncode == 0
    gs = json.loads((work / "gs.json").read_text())
    assert gs["score"] == gs["max_score"] == 2 == doc["score"]


def test_gradescope_takes_one_file(work):
    a = write(work, "a.yaml", "db: 9\n")
    b = write(work, "b.yaml", "db: 8\n")
    # Gradescope grades one submission at a time: several files are a usage error.
    proc = run(work, SEED, a, b, "--gradescope", "gs.json")
    assert proc.returncode == 2 and "one answers file" in proc.stderr
    assert not (work / "gs.json").exists()


def test_gradescope_unwritable_path_exits_2(work):
    name = write(work, "a.yaml", "db: 9\n")
    proc = run(work, SEED, name, "--gradescope", "no/such/dir/results.json")
    assert proc.returncode == 2
    assert "results.json" in proc.stderr


@pytest.mark.parametrize("points", ["dW=x", "dW", "dW=", "=2", "dW=-1", "dZ=2", "dw=2",
                                    "dW=2;db=1"])
def test_bad_points_exit_2(work, points):
    name = write(work, "a.yaml", "dW: '32 41; 59 68'\n")
    proc = run(work, SEED, name, "--points", points, "--gradescope", "gs.json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "--points" in proc.stderr
    assert not (work / "gs.json").exists()


@pytest.mark.parametrize("points", ["dW=nan", "dW=inf"])
def test_non_finite_points_exit_2(work, points):
    name = write(work, "a.yaml", "dW: '32 41; 59 68'\n")
    proc = run(work, SEED, name, "--points", points, "--json")
    assert proc.returncode == 2


def test_points_written_with_an_underscore_are_a_usage_error(work):
    # as --seed 1_0 and --decimals 1_0 are, and 1_000 in a problem file (README: a number
    # option is written in the digits 0-9 without '_'); before, dW=1_0 was worth 10 points
    name = write(work, "a.yaml", "dW: '32 41; 59 68'\n")
    proc = run(work, SEED, name, "--points", "dW=1_0")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "--points" in proc.stderr and "without '_', as 10" in proc.stderr


def test_points_a_float64_reads_as_0_are_a_usage_error(work):
    # 1e-400 is not 0 but a float64 reads it as 0, as --rtol 1e-400 (a usage error); before,
    # dW=1e-400 graded dW for 0 points without a word
    name = write(work, "a.yaml", "dW: '32 41; 59 68'\n")
    proc = run(work, SEED, name, "--points", "dW=1e-400")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert "--points" in proc.stderr and "reads it as 0" in proc.stderr
    assert run(work, SEED, name, "--points", "dW=0e-400").returncode == 0  # 0 spelt long


# --- --summary and many files --------------------------------------------------------------


def test_summary_prints_the_table_alone(work):
    a = write(work, "a.yaml", "dW: '32 41; 59 68'\ndb: 9\n")
    b = write(work, "b.yaml", "dW: '32 41; 59 69'\ndb: 9\n")
    full = run(work, SEED, a, b)
    alone = run(work, SEED, a, b, "--summary")
    assert full.returncode == alone.returncode == 1
    assert "✓" in full.stdout and "✗" in full.stdout
    assert "✓" not in alone.stdout and "✗" not in alone.stdout
    assert "given 69" not in alone.stdout and "[2,2]" not in alone.stdout
    rows = {ln.split()[0]: ln for ln in alone.stdout.splitlines() if ln.split()[:1] in ([a], [b])}
    assert set(rows) == {a, b}
    assert "2/2" in rows[a] and "1/2" in rows[b] and "dW" in rows[b]
    # Without --summary the same table follows the per-file reports.
    last_mark = max(full.stdout.rindex("✓"), full.stdout.rindex("✗"))
    assert full.stdout.rindex(a) > last_mark and full.stdout.rindex(b) > last_mark


def test_summary_of_one_file(work):
    a = write(work, "a.yaml", "db: 9\n")
    proc = run(work, SEED, a, "--summary")
    assert proc.returncode == 0
    assert "✓" not in proc.stdout
    assert any(ln.split()[:1] == [a] and "1/1" in ln for ln in proc.stdout.splitlines())


def test_a_file_name_with_a_new_line_keeps_its_report_on_one_line(work):
    # A student's "ann\nlee.yaml" split the table's row (and its report's first line) in
    # two, and a carriage return in "bob\r.yaml" sent the terminal back to the row's start.
    a = write(work, "ann\nlee.yaml", "db: 9\n")
    b = write(work, "bob\r.yaml", "dQ: 1\n")
    proc = run(work, SEED, a, b)
    assert proc.returncode == 2
    assert "\r" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("ann lee.yaml: 1/1 points") for ln in lines), proc.stdout
    assert any(ln.startswith("bob .yaml: unusable: ") and "'dQ'" in ln for ln in lines)
    rows = [ln for ln in lines if ln.startswith(("ann", "bob"))]
    assert len(rows) == 4 and sum("1/1" in ln for ln in rows) == 2, rows


def test_thirty_files_one_row_each(work):
    names = []
    for i in range(30):
        text = "db: 9\nloss: 23\n" if i % 3 == 0 else "db: 9\nloss: 22\n" if i % 3 == 1 \
            else "db: nine\n"
        names.append(write(work, f"student_{i:02d}.yaml", text))
    proc = run(work, SEED, *names, "--summary")
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    for i, name in enumerate(names):
        rows = [ln for ln in lines if name in ln]
        assert len(rows) == 1, (name, rows)
        if i % 3 == 0:
            assert "2/2" in rows[0]
        elif i % 3 == 1:
            assert "1/2" in rows[0] and "loss" in rows[0]
        else:
            assert "unusable" in rows[0]
    assert "30 files" in proc.stdout

    proc, doc = run_json(work, SEED, *names)
    assert proc.returncode == 2
    assert [f["file"] for f in doc["files"]] == names
    assert doc["score"] == 10 * 2 + 10 * 1 and doc["max_score"] == 20 * 2


def test_thirty_files_without_summary_report_each_then_the_table(work):
    names = [write(work, f"s{i:02d}.yaml", "db: 9\n") for i in range(30)]
    proc = run(work, SEED, *names)
    assert proc.returncode == 0
    for name in names:
        assert proc.stdout.count(name) == 2  # its report and its row
    assert "Traceback" not in proc.stderr


# --- exit codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(("answers", "code"), [
    ("db: 9\n", 0), ("db: 8\n", 1), ("dW: [[32, 59], [41, 68]]\n", 1), ("db: -9\n", 1),
    ("dX: [[1]]\n", 1), ("db: x\n", 2), ("dq: 1\n", 2), ("dW[9,9]: 1\n", 2), ("db: [\n", 2),
])
def test_exit_codes_with_and_without_json(work, answers, code):
    name = write(work, "a.yaml", answers)
    for extra in ((), ("--json",), ("--summary",), ("--no-reveal",)):
        proc = run(work, SEED, name, *extra)
        assert proc.returncode == code, (extra, proc.stdout, proc.stderr)


def test_usage_errors_exit_2(work):
    assert run(work, SEED).returncode == 2  # no answers file
    name = write(work, "a.yaml", "db: 9\n")
    proc = run(work, SEED, name, "--no-such-option")
    assert proc.returncode == 2
    assert proc.stdout == ""


def test_check_help(work, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    proc = run(work, "--help")
    assert proc.returncode == 0
    for option in ("--json", "--no-reveal", "--rtol", "--atol", "--decimals", "--sig-figs",
                   "--exact", "--summary", "--points", "--require", "--partial", "--gradescope",
                   "--gradescope-visibility"):
        assert option in proc.stdout


# --- scoring (SPEC section 3, "Scoring"), through --json, the Gradescope file and the text --


def graded(work: Path, answers: str, *options: str, problem: str = SEED,
           name: str = "a.yaml") -> tuple[int, dict, dict, str]:
    """Grade one answers file: (exit code, its --json file report, the Gradescope file, the
    text report). The JSON and Gradescope outputs come from one run, the text from another
    with the same options; both give the same exit code."""
    write(work, name, answers)
    (work / "gs.json").unlink(missing_ok=True)
    proc, doc = run_json(work, problem, name, *options, "--gradescope", "gs.json")
    gs = json.loads((work / "gs.json").read_text(encoding="utf-8"))
    text = run(work, problem, name, *options, "--gradescope", "gs.json")
    assert text.returncode == proc.returncode, (text.stdout, text.stderr)
    (report,) = doc["files"]
    # The three outputs agree on the scores.
    assert (gs["score"], gs["max_score"]) == (report["score"], report["max_score"])
    assert (doc["score"], doc["max_score"]) == (report["score"], report["max_score"])
    if report["usable"]:
        assert f"{report['score']:g}/{report['max_score']:g} points" in text.stdout
    assert sum(t["score"] for t in gs["tests"]) == pytest.approx(gs["score"])
    assert sum(t["max_score"] for t in gs["tests"]) == pytest.approx(gs["max_score"])
    return proc.returncode, report, gs, text.stdout


def gs_tests(gs: dict) -> dict[str, dict]:
    return {t["name"]: t for t in gs["tests"]}


def key_line(text: str, key: str) -> str:
    """The text report's line for one key ("  ✗ dW  2 of 4 entries differ")."""
    return next(ln for ln in text.splitlines() if ln[4:].split("  ")[0] == key)


def test_each_graded_key_is_worth_1_point_by_default(work):
    code, report, gs, text = graded(work, "dW: '32 41; 59 68'\ndb: 8\nloss: 23\n")
    assert code == 1
    assert [(k["key"], k["points"], k["earned"]) for k in report["keys"]] == \
        [("dW", 1, 1), ("db", 1, 0), ("loss", 1, 1)]
    assert (report["score"], report["max_score"]) == (2, 3)
    assert [(t["name"], t["score"], t["max_score"]) for t in gs["tests"]] == \
        [("dW", 1, 1), ("db", 0, 1), ("loss", 1, 1)]
    assert "2 of 3 right" in text


# Four students answer different subsets; --points names the graded set.
POINTS = ("--points", "dW=2,db=1,dX=3")
SUBSETS = {
    "all.yaml": "dW: '32 41; 59 68'\ndb: 9\ndX: '1 2 0; 2 2 2; -3 0 3'\n",
    "extra.yaml": "dW: '32 41; 59 68'\ndb: 9\ndX: '1 2 0; 2 2 2; -3 0 3'\nloss: 99\n",
    "two.yaml": "dW: '32 41; 59 68'\ndb: 9\n",
    "other.yaml": "loss: 23\nY: '3 4; 6 7'\n",
}


def test_points_name_the_graded_set_and_every_file_has_the_same_maximum(work):
    names = [write(work, name, text) for name, text in SUBSETS.items()]
    proc, doc = run_json(work, SEED, *names, *POINTS)
    assert proc.returncode == 1  # two.yaml and other.yaml lack graded keys
    assert [f["max_score"] for f in doc["files"]] == [6, 6, 6, 6]
    assert [f["score"] for f in doc["files"]] == [6, 6, 3, 0]
    assert [f["all_right"] for f in doc["files"]] == [True, True, False, False]
    assert doc["max_score"] == 24 and doc["score"] == 15
    assert doc["points"] == {"dW": 2, "db": 1, "dX": 3}
    for f in doc["files"]:  # the graded keys, in the order --points names them, come first
        assert [k["key"] for k in f["keys"] if k["graded"]] == ["dW", "db", "dX"]
        assert f["total"] == 3
    text = run(work, SEED, *names, *POINTS, "--summary").stdout
    rows = {ln.split()[0]: ln for ln in text.splitlines() if ln.split()[:1] in
            ([n] for n in names)}
    assert "6/6" in rows["all.yaml"] and "6/6" in rows["extra.yaml"]
    assert "3/6" in rows["two.yaml"] and "dX" in rows["two.yaml"]
    assert "0/6" in rows["other.yaml"]
    assert "4 files: 2 all right, 2 with wrong answers" in text
    # Each student's Gradescope file: the same tests, the same maximum.
    for name, score in zip(names, [6, 6, 3, 0], strict=True):
        _, _, gs, _ = graded(work, SUBSETS[name], *POINTS, name=name)
        assert (gs["score"], gs["max_score"]) == (score, 6)
        assert [(t["name"], t["max_score"]) for t in gs["tests"]] == \
            [("dW", 2), ("db", 1), ("dX", 3)]


def test_a_named_key_a_file_lacks_is_wrong_and_scores_0(work):
    code, report, gs, text = graded(work, SUBSETS["two.yaml"], *POINTS)
    assert code == 1
    dx = keys_of({"files": [report]})["dX"]
    assert (dx["status"], dx["right"], dx["graded"]) == ("missing", False, True)
    assert (dx["points"], dx["earned"], dx["given"]) == (3, 0, None)
    assert report["missing"] == ["dX"] and report["all_right"] is False
    test = gs_tests(gs)["dX"]
    assert (test["score"], test["max_score"], test["status"]) == (0, 3, "failed")
    assert "missing" in test["output"]
    assert "missing" in key_line(text, "dX") and "✗" in key_line(text, "dX")
    assert "3/6 points, 2 of 3 right" in text


def test_a_key_not_named_is_not_graded_and_scores_nothing(work):
    code, report, gs, text = graded(work, SUBSETS["extra.yaml"], *POINTS)
    assert code == 0  # loss is wrong (99), but it is not graded
    loss = keys_of({"files": [report]})["loss"]
    assert (loss["graded"], loss["status"], loss["right"]) == (False, "not graded", None)
    assert (loss["points"], loss["earned"]) == (0, 0)
    assert "expected" not in loss  # not compared, so nothing to show
    assert report["not_graded"] == ["loss"] and report["all_right"] is True
    assert "loss" not in gs_tests(gs)
    assert "Not graded" in gs["output"] and "loss" in gs["output"]
    assert "not graded" in key_line(text, "loss") and "✗" not in text
    assert "6/6 points, 3 of 3 right" in text


def test_only_not_graded_keys_is_all_missing(work):
    code, report, gs, _ = graded(work, SUBSETS["other.yaml"], *POINTS)
    assert code == 1
    assert report["missing"] == ["dW", "db", "dX"]
    assert report["not_graded"] == ["loss", "Y"]
    assert [t["status"] for t in gs["tests"]] == ["failed"] * 3


def test_zero_points_are_allowed_and_still_graded(work):
    code, report, gs, _ = graded(work, "dW: '32 41; 59 68'\ndb: 8\n", "--points", "dW=1,db=0")
    assert code == 1  # db is graded: a wrong db is a wrong answer, worth 0 points
    db = keys_of({"files": [report]})["db"]
    assert (db["graded"], db["right"], db["points"], db["earned"]) == (True, False, 0, 0)
    assert (report["score"], report["max_score"]) == (1, 1)
    assert (gs_tests(gs)["db"]["max_score"], gs_tests(gs)["db"]["status"]) == (0, "failed")


def test_points_may_be_repeated_and_the_lists_add_up(work):
    answers = "dW: '32 41; 59 68'\ndb: 8\nloss: 23\n"
    once = graded(work, answers, "--points", "dW=2,db=1,loss=0.5")
    twice = graded(work, answers, "--points", "dW=2", "--points", "db=1,loss=0.5")
    assert once == twice  # exit code, JSON report, Gradescope file and text alike
    code, report, gs, _ = once
    assert [(k["key"], k["points"]) for k in report["keys"]] == \
        [("dW", 2), ("db", 1), ("loss", 0.5)]
    assert (report["score"], report["max_score"]) == (2.5, 3.5)
    assert [t["max_score"] for t in gs["tests"]] == [2, 1, 0.5]


def test_typer_and_the_fast_path_read_repeated_options_alike(work):
    from convgrad.cli import _typer_parse, fast_parse

    write(work, "a.yaml", "dW: '32 41; 59 69'\ndb: 8\nloss: 23\n")
    spaced = ["a.yaml", "--points", "dW=2", "--points", "db=1", "--require", "loss", "--partial"]
    equals = ["a.yaml", "--points=dW=2", "--points=db=1", "--require=loss", "--partial"]
    for form in (spaced, equals):
        read = fast_parse(["check", SEED, *form])
        assert read is not None and read == _typer_parse(["check", SEED, *form])
        assert (read.options.points, read.options.require) == (["dW=2", "db=1"], ["loss"])
    by_typer = [*spaced[1:], "--", SEED, "a.yaml"]  # `--`: only typer reads this form
    assert fast_parse(["check", *by_typer]) is None
    a, b = run(work, SEED, *spaced, "--json"), run(work, "--json", *by_typer)
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)
    assert json.loads(a.stdout)["points"] == {"dW": 2, "db": 1, "loss": 1}


def test_a_single_entry_may_be_named_and_commas_in_brackets_belong_to_it(work):
    options = ("--points", "dW[1,2]=1, dX[ 3 , 1 ]=2,db=1")
    code, report, gs, text = graded(work, "dW[1,2]: 41\ndX[3,1]: -3\ndb: 9\n", *options)
    assert code == 0
    assert [k["key"] for k in report["keys"]] == ["dW[1,2]", "dX[3,1]", "db"]
    assert [t["name"] for t in gs["tests"]] == ["dW[1,2]", "dX[3,1]", "db"]
    assert (report["score"], report["max_score"]) == (4, 4)
    assert "4/4 points" in text


def test_a_whole_matrix_answers_each_of_its_named_entries(work):
    options = ("--points", "dW[1,2]=1,dW[2,2]=1")
    code, report, gs, _ = graded(work, "dW: '32 41; 59 69'\n", *options)
    assert code == 1
    keys = keys_of({"files": [report]})
    assert (keys["dW[1,2]"]["right"], keys["dW[1,2]"]["from"]) == (True, "dW")
    assert (keys["dW[2,2]"]["right"], keys["dW[2,2]"]["given"]) == (False, 69)
    assert keys["dW[2,2]"]["expected"] == 68
    assert keys["dW"]["status"] == "not graded"
    assert (report["score"], report["max_score"]) == (1, 2)
    assert "dW" in gs_tests(gs)["dW[2,2]"]["output"]  # says where the entry was read from


def test_the_entry_a_file_gives_is_graded_before_its_whole_matrix(work):
    code, report, _, _ = graded(work, "dW: '32 41; 59 69'\ndW[2,2]: 68\n",
                                "--points", "dW[2,2]=1")
    assert code == 0
    assert "from" not in keys_of({"files": [report]})["dW[2,2]"]


def test_a_whole_matrix_of_the_wrong_shape_answers_no_entry(work):
    code, report, gs, text = graded(work, "dW: '32 41 1; 59 68 1'\n", "--points", "dW[1,2]=1")
    assert code == 1
    entry = keys_of({"files": [report]})["dW[1,2]"]
    assert (entry["status"], entry["earned"], entry["hint"]) == ("wrong", 0, "wrong_shape")
    assert "2x2" in entry["message"] and "2x3" in entry["message"]
    assert gs_tests(gs)["dW[1,2]"]["score"] == 0


def test_a_single_entry_never_earns_its_matrix_key(work):
    # dW[1,1] is right, but dW (4 points) is answered only by the whole matrix.
    code, report, gs, text = graded(work, "dW[1,1]: 32\ndW[2,2]: 68\n", "--points", "dW=4")
    assert code == 1
    keys = keys_of({"files": [report]})
    assert (keys["dW"]["status"], keys["dW"]["earned"]) == ("missing", 0)
    assert keys["dW[1,1]"]["status"] == keys["dW[2,2]"]["status"] == "not graded"
    assert (report["score"], report["max_score"]) == (0, 4)
    assert (gs_tests(gs)["dW"]["score"], gs_tests(gs)["dW"]["max_score"]) == (0, 4)
    assert "missing" in key_line(text, "dW")


def test_entries_without_points_are_graded_as_their_own_keys(work):
    code, report, gs, text = graded(work, "dW[1,1]: 32\ndW[2,2]: 67\n")
    assert code == 1
    assert [(k["key"], k["points"], k["earned"]) for k in report["keys"]] == \
        [("dW[1,1]", 1, 1), ("dW[2,2]", 1, 0)]
    assert "dW" in report["unanswered"]  # the entries do not answer the matrix
    assert [t["name"] for t in gs["tests"]] == ["dW[1,1]", "dW[2,2]"]


def test_entry_keys_are_written_one_way(work):
    code, report, _, _ = graded(work, "dW[ 1 , 2 ]: 41\n", "--points", "dW[1, 2]=2")
    assert code == 0
    assert [k["key"] for k in report["keys"]] == ["dW[1,2]"]
    assert report["score"] == 2


def test_one_entry_given_twice_makes_the_file_unusable(work):
    error, _ = unusable(work, write(work, "twice.yaml", "dW[1,2]: 41\ndW[ 1,2]: 41\n"))
    assert "dW[1,2]" in error and "once" in error


def test_a_matrix_is_right_or_wrong_as_a_whole(work):
    code, report, gs, text = graded(work, "dW: '32 41; 59 69'\n", "--points", "dW=4")
    assert code == 1
    dw = report["keys"][0]
    assert (dw["right"], dw["earned"], dw["entries"], dw["right_entries"]) == (False, 0, 4, 3)
    assert gs_tests(gs)["dW"]["score"] == 0
    assert "0/4 points" in text


@pytest.mark.parametrize(("answers", "earned", "right_entries"), [
    ("dW: '32 41; 59 69'", 3, 3),        # 3 of 4 entries right: 3/4 of 4 points
    ("dW: '32 59; 41 68'", 2, 2),        # the transpose of a square matrix: 2 right
    ("dW: '0 0; 0 0'", 0, 0),
    ("dW: '32 41; 59 68'", 4, 4),
    ("dW: '32 41 0; 59 68 0'", 0, 0),    # the wrong shape earns 0, whatever it holds
])
def test_partial_gives_a_right_shaped_matrix_its_share(work, answers, earned, right_entries):
    code, report, gs, text = graded(work, answers + "\n", "--points", "dW=4", "--partial")
    assert code == (0 if earned == 4 else 1)  # a partly right matrix is still wrong
    dw = report["keys"][0]
    assert (dw["earned"], dw["right_entries"]) == (earned, right_entries)
    assert dw["right"] is (earned == 4)
    assert gs_tests(gs)["dW"]["score"] == earned
    assert gs_tests(gs)["dW"]["status"] == ("passed" if earned == 4 else "failed")
    assert f"{earned}/4 points" in text
    if 0 < earned < 4:
        assert f"({earned} of 4 points)" in key_line(text, "dW")


def test_partial_shares_are_fractions_of_the_points(work):
    code, report, gs, _ = graded(work, "dX: '1 2 0; 2 2 2; -3 0 4'\ndb: 8\n",
                                 "--points", "dX=1,db=1", "--partial")
    assert code == 1
    dx = keys_of({"files": [report]})["dX"]
    assert dx["earned"] == pytest.approx(8 / 9, abs=1e-6)
    assert keys_of({"files": [report]})["db"]["earned"] == 0  # one number: right or wrong
    assert gs["score"] == pytest.approx(8 / 9, abs=1e-6)


def test_partial_without_points_grades_the_keys_given(work):
    code, report, _, _ = graded(work, "dW: '32 41; 59 69'\ndb: 9\n", "--partial")
    assert code == 1
    assert (report["score"], report["max_score"]) == (1.75, 2)


def test_require_grades_the_named_keys_at_1_point_each(work):
    code, report, gs, text = graded(work, "dW: '32 41; 59 68'\nloss: 23\n",
                                    "--require", "dW,db")
    assert code == 1
    keys = keys_of({"files": [report]})
    assert (keys["dW"]["points"], keys["dW"]["earned"]) == (1, 1)
    assert (keys["db"]["status"], keys["db"]["points"]) == ("missing", 1)
    assert keys["loss"]["status"] == "not graded"
    assert (report["score"], report["max_score"]) == (1, 2)
    assert [t["name"] for t in gs["tests"]] == ["dW", "db"]
    assert "missing" in key_line(text, "db")


def test_require_with_points_for_some_of_its_keys(work):
    code, report, _, _ = graded(work, "dW: '32 41; 59 68'\ndb: 9\n",
                                "--require", "dW,db,dX", "--points", "dW=3")
    assert code == 1
    assert [(k["key"], k["points"], k["earned"]) for k in report["keys"]] == \
        [("dW", 3, 3), ("db", 1, 1), ("dX", 1, 0)]


def test_require_repeated_and_a_file_that_answers_all(work):
    code, report, _, _ = graded(work, "dW: '32 41; 59 68'\ndb: 9\n",
                                "--require", "dW", "--require", "db")
    assert code == 0 and report["all_right"] is True
    assert (report["score"], report["max_score"]) == (2, 2)


def test_without_points_the_report_names_the_results_not_answered(work):
    code, report, gs, text = graded(work, "dW: '32 41; 59 68'\ndb: 9\n")
    assert code == 0  # every key given is right: all right, for the keys given
    assert report["all_right"] is True
    assert report["unanswered"] == ["Y", "dY", "dX", "loss"]  # solve --json's order
    assert (report["score"], report["max_score"]) == (2, 2)
    assert "Not answered: Y, dY, dX, loss" in gs["output"]
    assert "not answered (not graded): Y, dY, dX, loss" in text


def test_unanswered_lists_only_top_level_keys_of_solve_json(work):
    solved = json.loads(run(work, MULTI, "--json", command="solve").stdout)
    code, report, _, _ = graded(work, "db: '9/4 13/4'\n", problem=MULTI)
    assert code == 0
    expected = [k for k in solved if k not in ("exact", "conventions", "db")]
    assert report["unanswered"] == expected and "Z" in expected


def test_exit_code_and_all_right_follow_the_graded_keys_only(work):
    wrong_ungraded = write(work, "u.yaml", "db: 9\nloss: 1\n")
    right_all = write(work, "r.yaml", "db: 9\n")
    proc, doc = run_json(work, SEED, wrong_ungraded, right_all, "--points", "db=1")
    assert proc.returncode == 0
    assert doc["all_right"] is True
    assert [f["all_right"] for f in doc["files"]] == [True, True]
    text = run(work, SEED, wrong_ungraded, right_all, "--points", "db=1")
    assert text.returncode == 0
    assert "2 files: 2 all right, 0 with wrong answers, 0 unusable" in text.stdout
    # ... and a graded key that is missing is a wrong answer
    proc, doc = run_json(work, SEED, right_all, "--points", "db=1,loss=1")
    assert proc.returncode == 1 and doc["all_right"] is False
    # The Gradescope file agrees: every test passed, the not-graded loss is no test.
    code, _, gs, _ = graded(work, "db: 9\nloss: 1\n", "--points", "db=1")
    assert code == 0
    assert [(t["name"], t["status"]) for t in gs["tests"]] == [("db", "passed")]


def test_an_unusable_file_with_points_is_worth_the_points_at_stake(work):
    code, report, gs, _ = graded(work, "dW: '32 41; 59 6x'\n", *POINTS)
    assert code == 2
    assert report["usable"] is False
    assert (report["score"], report["max_score"]) == (0, 6)
    (test,) = gs["tests"]
    assert (test["name"], test["score"], test["max_score"], test["status"]) == \
        ("answers file", 0, 6, "failed")
    assert "a.yaml" in test["output"] and "dW" in test["output"]


def test_layer_keys_of_a_network_can_be_named(work):
    problem = "network_two_dense.yaml"
    code, report, gs, _ = graded(work, "fc2.dW[1,4]: 24.5\nfc1.db: [7, 0, 0, 16.5]\n",
                                 "--points", "fc1.db=2,fc2.dW[1,4]=1,loss=1", problem=problem)
    assert code == 1
    assert [(k["key"], k["earned"]) for k in report["keys"]] == \
        [("fc1.db", 2), ("fc2.dW[1,4]", 1), ("loss", 0)]
    assert [t["name"] for t in gs["tests"]] == ["fc1.db", "fc2.dW[1,4]", "loss"]


# --- Gradescope's visibility ---------------------------------------------------------------


def test_gradescope_results_and_tests_are_visible_by_default(work):
    _, _, gs, _ = graded(work, "dW: '32 41; 59 68'\ndb: 8\n")
    assert gs["visibility"] == "visible"
    assert [t["visibility"] for t in gs["tests"]] == ["visible", "visible"]


@pytest.mark.parametrize("visibility", ["hidden", "after_due_date", "after_published",
                                        "visible"])
def test_gradescope_visibility_is_set_everywhere(work, visibility):
    for answers in ("dW: '32 41; 59 68'\ndb: 8\n", "db: [\n"):  # usable, then unusable
        _, _, gs, _ = graded(work, answers, "--points", "dW=1,db=1",
                             "--gradescope-visibility", visibility)
        assert gs["visibility"] == visibility
        assert gs["tests"] and all(t["visibility"] == visibility for t in gs["tests"])


def test_gradescope_leaves_out_the_advice_meant_for_the_teacher(work):
    _, report, gs, text = graded(work, "loss: 23.00004\n")
    assert "--decimals 4 accepts it" in report["keys"][0]["message"]
    assert "--decimals 4 accepts it" in text
    output = gs_tests(gs)["loss"]["output"]
    assert "right to 4 decimals" in output and "--decimals" not in output


# --- --no-reveal never shows more than the default, in any output ---------------------------

# Wrong in every way a hint knows (sign, transpose, factor, decimals, rotation, shape,
# transposed shape on the wide problem) and some entries right.
REVEALING = """\
dW: [[32, 59], [41, 68]]
dY: "4 8; 12 12"
db: -9
loss: 23.00004
dX: "3 0 -3; 2 2 2; 0 2 1"
Y: "3 4 1; 6 7 1"
"""


def _prefix_of_one(line: str, lines: list[str]) -> bool:
    return any(other.startswith(line) for other in lines)


@pytest.mark.parametrize("options", [(), ("--partial",), ("--points", "dW=2,db=1,dX=1,Y=1"),
                                     ("--exact",)])
def test_no_reveal_is_a_part_of_the_default_report_in_every_output(work, options):
    _, shown, gs_shown, text_shown = graded(work, REVEALING, *options)
    _, hidden, gs_hidden, text_hidden = graded(work, REVEALING, *options, "--no-reveal")
    # JSON: every field the same or left out; a message is the start of the default's.
    assert [k["key"] for k in hidden["keys"]] == [k["key"] for k in shown["keys"]]
    for h, s in zip(hidden["keys"], shown["keys"], strict=True):
        assert set(h) <= set(s), (h, s)
        for field in set(h) - {"message", "hint", "exact", "wrong_entries"}:
            assert h[field] == s[field], field
        assert s["message"].startswith(h["message"]) or (
            h["hint"] == "wrong_shape" and s["hint"] == "transposed_shape"), (h, s)
        assert h["hint"] in (None, "wrong_shape")
        assert [e["position"] for e in h["wrong_entries"]] == \
            [e["position"] for e in s["wrong_entries"]]
        assert all(set(e) == {"position", "given"} for e in h["wrong_entries"])
    # Gradescope: the same tests and scores; each line of a test's output is the start of a
    # line of the default's.
    assert [(t["name"], t["score"], t["max_score"]) for t in gs_hidden["tests"]] == \
        [(t["name"], t["score"], t["max_score"]) for t in gs_shown["tests"]]
    for h, s in zip(gs_hidden["tests"], gs_shown["tests"], strict=True):
        lines = s["output"].splitlines()
        for line in h["output"].splitlines():
            assert _prefix_of_one(line, lines) or line.startswith("wrong shape"), (line, lines)
    # Text: likewise, line by line.
    lines = text_shown.splitlines()
    for line in text_hidden.splitlines():
        assert _prefix_of_one(line, lines) or "wrong shape" in line, (line, lines)


# Numbers the REVEALING answers would give away, none of them in the answers.
EXPECTED_ONLY = ["41", "59", "-9", "9", "23", "32", "68", "1 2", "-18", "18"]


def test_no_reveal_shows_no_expected_value_difference_or_telling_hint(work):
    answers = REVEALING.replace("Y: \"3 4 1; 6 7 1\"\n", "")
    write(work, "a.yaml", answers)
    for options in [(), ("--partial",), ("--points", "dW=2,db=1,dX=1,dY=1,loss=1")]:
        text = run(work, SEED, "a.yaml", "--no-reveal", *options)
        proc, doc = run_json(work, SEED, "a.yaml", "--no-reveal", *options,
                             "--gradescope", "gs.json")
        gs = json.loads((work / "gs.json").read_text(encoding="utf-8"))
        assert proc.returncode == text.returncode == 1
        del doc["tolerance"]  # its description says "|given - expected|"
        assert doc.pop("conventions")["profile"] == "pytorch"  # stated, not a hint
        outputs = [text.stdout, json.dumps(doc, ensure_ascii=False),
                   json.dumps(gs["tests"], ensure_ascii=False)]
        outputs[0] = "\n".join(ln for ln in text.stdout.splitlines()
                               if not ln.startswith(("Tolerance", "Conventions")))
        for output in outputs:
            for word in ("expected", "difference", "sign", "transpose", "factor",
                         "convention", "decimals", "rotated"):
                assert word not in output, (word, output)
        for key in doc["files"][0]["keys"]:
            assert key["hint"] is None
        # The given values are there, and no expected value: 41 and 59 only where given.
        for given in ("[1,2]  given 59", "given -9", "given 23.00004"):
            assert given in text.stdout
        keys = keys_of(doc)
        for key, value in (("db", 9), ("loss", 23)):
            numbers = [v for v in keys[key].values() if isinstance(v, (int, float))]
            numbers += [v for e in keys[key]["wrong_entries"] for v in e.values()]
            assert value not in numbers, keys[key]
        assert [ln.strip() for ln in text.stdout.splitlines()
                if "given -9" in ln or "given 23.00004" in ln] == ["given -9", "given 23.00004"]


def test_no_reveal_turns_a_transposed_shape_into_a_wrong_shape(work):
    _, shown, gs_shown, _ = graded(work, "Y: [[7, 15], [9, 17], [11, 19]]\n",
                                   problem="wide.yaml")
    _, hidden, gs_hidden, text = graded(work, "Y: [[7, 15], [9, 17], [11, 19]]\n",
                                        "--no-reveal", problem="wide.yaml")
    assert "transpose" in shown["keys"][0]["message"]
    assert shown["keys"][0]["hint"] == "transposed_shape"
    assert hidden["keys"][0]["message"] == "wrong shape: Y is 2x3, the answer is 3x2"
    assert hidden["keys"][0]["hint"] == "wrong_shape"
    for output in (json.dumps(hidden), json.dumps(gs_hidden), text):
        assert "transpose" not in output
        assert "7 9 11" not in output  # the expected Y, row by row


def test_no_reveal_keeps_the_default_wrong_entry_positions(work):
    write(work, "a.yaml", "dX: '1 2 0; 2 2 2; -3 1 4'\n")
    _, shown = run_json(work, SEED, "a.yaml")
    _, hidden = run_json(work, SEED, "a.yaml", "--no-reveal")
    positions = [e["position"] for e in shown["files"][0]["keys"][0]["wrong_entries"]]
    assert positions == [[3, 2], [3, 3]]
    assert [e["position"] for e in hidden["files"][0]["keys"][0]["wrong_entries"]] == positions
    text = run(work, SEED, "a.yaml", "--no-reveal").stdout
    assert "[3,2]  given 1" in text and "[3,3]  given 4" in text and "[1,1]" not in text


# --- answers written with digits other than 0-9 ----------------------------------------------

UNICODE_ANSWERS = {
    "super.yaml": ("db: 2²\n", "'db'", "²"),
    "circled.yaml": ("dW: \"32 4①; 59 68\"\n", "'dW'", "①"),
    "nested.yaml": ("dW: [[32, 41], [59, '6⑧']]\n", "'dW' entry [2,2]", "⑧"),
    "arabic.yaml": ("loss: ٢٣\n", "'loss'", "٢"),
    "fraction.yaml": ("loss: 23½\n", "'loss'", "½"),
}


def test_answers_with_unicode_digits_are_unusable_and_the_others_still_graded(work):
    names = [write(work, name, text) for name, (text, _, _) in UNICODE_ANSWERS.items()]
    good = write(work, "good.yaml", "db: 9\nloss: 23\n")
    wrong = write(work, "wrong.yaml", "db: 8\n")
    files = [names[0], good, *names[1:], wrong]
    proc, doc = run_json(work, SEED, *files, "--points", "db=1,loss=1")
    assert proc.returncode == 2
    by_file = {f["file"]: f for f in doc["files"]}
    assert [f["file"] for f in doc["files"]] == files
    for name, (_, key, char) in UNICODE_ANSWERS.items():
        report = by_file[name]
        assert report["usable"] is False
        assert report["error"].startswith(f"{name}, line ")
        assert key in report["error"] and char in report["error"], report["error"]
        assert (report["score"], report["max_score"]) == (0, 2)
    assert by_file[good]["score"] == 2 and by_file[good]["all_right"] is True
    assert by_file[wrong]["score"] == 0 and by_file[wrong]["usable"] is True
    text = run(work, SEED, *files, "--points", "db=1,loss=1")
    assert text.returncode == 2
    assert "7 files: 1 all right, 1 with wrong answers, 5 unusable" in text.stdout


def test_a_unicode_digit_in_one_file_is_exit_2_for_a_shell_not_an_internal_error(work):
    write(work, "super.yaml", "db: 2²\n")
    write(work, "good.yaml", "db: 9\n")
    proc = run(work, SEED, "super.yaml", "good.yaml")
    assert proc.returncode == 2, proc.stderr
    assert "internal error" not in proc.stderr
    assert "super.yaml" in proc.stdout and "²" in proc.stdout
    assert re.search(r"good\.yaml\s+1/1", proc.stdout)


def test_a_unicode_digit_with_gradescope_is_one_failed_test(work):
    code, report, gs, _ = graded(work, "db: '①'\n", "--points", "db=2")
    assert code == 2
    (test,) = gs["tests"]
    assert (test["name"], test["max_score"]) == ("answers file", 2)
    assert "①" in test["output"]


def test_full_width_digits_are_read_as_digits(work):
    # SPEC section 1: full-width digits may be accepted as the ASCII digits they stand for.
    code, report, _, _ = graded(work, "dW: [[32, ４１], [59, 68]]\n")
    assert code == 0 and report["all_right"] is True


def test_the_grader_api_reports_a_unicode_digit_without_a_file(work):
    from convgrad.engine import run as solve
    from convgrad.grade import Grader
    from convgrad.reader import read_file

    grader = Grader(solve(read_file(work / SEED)))
    report = grader.grade({"db": "9", "loss": "2³"}, "answers")
    assert report.usable is False and "'loss'" in report.error and "³" in report.error
    assert grader.grade({"db": 9}).all_right


# --- usage errors of check's options: one line, exit 2 --------------------------------------


@pytest.mark.parametrize(("options", "words"), [
    (("--points", "dW=1,dW=2"), ["dW", "twice", "dW=1", "dW=2"]),
    (("--points", "dW=1", "--points", "dW=2"), ["dW", "twice"]),
    (("--points", "dW[1,2]=1,dW[ 1, 2 ]=2"), ["dW[1,2]", "twice"]),
    (("--points", "dW=-1"), ["dW", "-1", "negative"]),
    (("--points", "db=-0.5"), ["db", "-0.5", "negative"]),
    (("--points", "dW=two"), ["dW", "two", "not a number"]),
    (("--points", "dW=²"), ["dW", "²", "not a number"]),
    (("--points", "dW=nan"), ["dW", "nan"]),
    (("--points", "dW=inf"), ["dW", "inf", "finite"]),
    (("--rtol", "inf"), ["--rtol", "inf", "finite"]),  # inf is >= 0: say what it is not
    (("--atol", "nan"), ["--atol", "nan", "finite"]),
    (("--points", "dW="), ["dW", "no points"]),
    (("--points", "dW"), ["'dW'", "KEY=POINTS"]),
    (("--points", ""), ["--points", "empty"]),
    (("--points", "dW=1,,db=2"), ["dW=1,,db=2", "empty"]),
    (("--points", "dW[1,2=1"), ["dW[1,2=1", "brackets"]),
    (("--points", "d W=1"), ["d W", "not a key"]),
    (("--points", "dZ=1"), ["dZ", "not a result"]),
    (("--points", "dw=1"), ["dw", "did you mean 'dW'"]),
    (("--points", "dw12=1"), ["dw12", "did you mean 'dW[1,2]'"]),
    (("--points", "dW[3,1]=1"), ["dW[3,1]", "outside", "2x2"]),
    (("--require", "dq"), ["dq", "did you mean 'db'"]),
    (("--require", "dW,db,dW"), ["dW", "twice"]),
    (("--require", ""), ["--require", "empty"]),
    (("--require", "dX[4,1]"), ["dX[4,1]", "outside"]),
    (("--gradescope", ""), ["--gradescope", "path"]),
    (("--gradescope", "-"), ["--gradescope", "path"]),
    (("--gradescope", "a.yaml"), ["a.yaml", "overwrite"]),
    (("--gradescope-visibility", "hidden"), ["--gradescope-visibility", "--gradescope"]),
    (("--gradescope", "gs.json", "--gradescope-visibility", "soon"), ["soon", "visible"]),
    (("--json", "--summary"), ["--json", "--summary"]),
])
def test_bad_check_options_are_one_line_and_exit_2(work, options, words):
    write(work, "a.yaml", "dW: '32 41; 59 68'\ndb: 9\n")
    proc = run(work, SEED, "a.yaml", *options)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not (work / "gs.json").exists()
    assert (work / "a.yaml").read_text() == "dW: '32 41; 59 68'\ndb: 9\n"


@pytest.mark.parametrize("options", [("--points", "dW=1,dW=2"), ("--gradescope", ""),
                                     ("--points", "dW=-1", "--json")])
def test_bad_check_options_exit_2_for_a_shell(work, options):
    write(work, "a.yaml", "dW: '32 41; 59 68'\n")
    proc = run(work, SEED, "a.yaml", *options)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1


# --- the README documents the fields --------------------------------------------------------


def _field_names(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {n for value in node.values() for n in _field_names(value)}
    if isinstance(node, list):
        return {n for value in node for n in _field_names(value)}
    return set()


def test_readme_names_every_field_of_check_json_and_of_the_gradescope_file(work):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    fields: set[str] = set()
    for answers, options in [(REVEALING, ("--points", "dW=2,dW[1,2]=1,dX=1,loss=1")),
                             (REVEALING, ("--exact", "--partial")), ("db: [\n", ())]:
        write(work, "a.yaml", answers)
        _, doc = run_json(work, SEED, "a.yaml", *options, "--gradescope", "gs.json")
        fields |= _field_names(doc)
        fields |= _field_names(json.loads((work / "gs.json").read_text(encoding="utf-8")))
    fields -= {"dW", "dW[1,2]", "dX", "loss"}  # keys of the points object, not fields
    assert {"unanswered", "not_graded", "missing", "visibility", "status", "from"} <= fields
    undocumented = sorted(f for f in fields if f"`{f}`" not in readme)
    assert not undocumented, undocumented


# --- conv_transpose and batch_norm keys (SPEC section 6), through the grader's API -------------


def _grader(problem: dict):
    from convgrad.engine import run as solve
    from convgrad.grade import Grader
    from convgrad.reader import load_problem

    return Grader(solve(load_problem(problem)))


def test_check_grades_a_transposed_kernel_entry_and_a_layer_key():
    # Dive into Deep Learning's example, the kernel written 4-D (C_in x F x kh x kw), Y =
    # [[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]], then relu and half SSE against
    # ones: dL/dY = Y - 1 where Y > 0, else 0 (relu'(0) = 0). w22 took every x[i,j] to
    # y[2i+2, 2j+2], so by hand dL/dw22 = 0·0 + 1·2 + 2·5 + 3·8 = 36, dL/dw12 = 0·0 + 1·0 +
    # 2·1 + 3·2 = 8, and dL/db = 0 + 1 + 2 + 1 + 2 + 3 + 5 + 5 + 8 = 27.
    problem = {"input": "0 1; 2 3",
               "layers": [{"conv_transpose": {"kernel": [[["0 1", "2 3"]]], "stride": 2}},
                          "relu"],
               "target": "1 1 1 1; 1 1 1 1; 1 1 1 1; 1 1 1 1", "loss": "half_sse"}
    grader = _grader(problem)
    right = grader.grade({"conv_transpose1.dW[1,1,2,2]": 36, "conv_transpose1.db": [27],
                          "conv_transpose1.dW[1,1,1,2]": 8})
    assert right.usable and right.all_right, right
    wrong = grader.grade({"conv_transpose1.dW[1,1,2,2]": 35})
    assert wrong.usable and not wrong.all_right
    outside = grader.grade({"conv_transpose1.dW[1,1,3,1]": 0})
    assert not outside.usable and "outside" in outside.error


def test_check_grades_dgamma_dbeta_and_their_updates():
    # batch_norm on one 2x2 map in train mode: mean 5/2, biased variance 5/4, sigma =
    # √(5/4 + 1e-5); with dL/dY = [[0, 0], [0, 1]] only x22's xhat = (4 - 5/2)/sigma counts:
    # dgamma = 1.5/sigma, dbeta = 1; gamma_new = 1 - dgamma/10, beta_new = 0 - 1/10.
    sigma = math.sqrt(1.25 + 1e-5)
    problem = {"input": "1 2; 3 4", "layers": [{"batch_norm": {}}],
               "grad_output": "0 0; 0 1", "learning_rate": "1/10"}
    grader = _grader(problem)
    report = grader.grade({"batch_norm1.dgamma": 1.5 / sigma, "batch_norm1.dbeta": [1],
                           "batch_norm1.gamma_new": 1 - 0.15 / sigma,
                           "batch_norm1.beta_new[1]": -0.1})
    assert report.usable and report.all_right, report
    assert [k.key for k in report.keys] == ["batch_norm1.dgamma", "batch_norm1.dbeta",
                                            "batch_norm1.gamma_new", "batch_norm1.beta_new[1]"]
    wrong = grader.grade({"batch_norm1.dgamma": 1.5})  # sigma left out: off by far more than 1e-6
    assert wrong.usable and not wrong.all_right
    typo = grader.grade({"batch_norm1.dgama": 1})
    assert not typo.usable and "did you mean 'batch_norm1.dgamma'" in typo.error


@pytest.mark.parametrize("command", ["solve", "explain", "check"])
def test_exact_on_batch_norm_is_a_usage_error(work, command):
    write(work, "bn.yaml", 'input: "1 2; 3 4"\nlayers: [batch_norm]\ngrad_output: "1 0; 0 1"\n')
    write(work, "a.yaml", "batch_norm1.dbeta: 2\n")
    args = ("bn.yaml", "a.yaml") if command == "check" else ("bn.yaml",)
    proc = run(work, *args, "--exact", command=command)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    line = lines[0]
    assert "bn.yaml" in line and "exact arithmetic needs a rational problem" in line
    assert "batch_norm is not" in line and "float64" in line


def test_a_wrong_answer_shared_by_a_class_is_looked_into_once(monkeypatch):
    """Students often share a mistake: its hint is worked out for the first file and reused
    for the others (the hint is data, frozen; the report of each file is its own)."""
    from convgrad.engine import run as solve_run
    from convgrad.grade import Grader
    from convgrad.reader import load_problem

    grader = Grader(solve_run(load_problem(Path(__file__).parent.parent / "problems" / SEED)))
    calls = []
    real = Grader._hint
    monkeypatch.setattr(Grader, "_hint", lambda self, *args: calls.append(args[0]) or
                        real(self, *args))
    reports = [grader.grade({"dW": [[-32, -41], [-59, -68]]}, f"s{k}.yaml") for k in range(3)]
    reports.append(grader.grade({"dW": [[32, 59], [41, 68]]}, "t.yaml"))  # another mistake
    assert calls == ["dW", "dW"]
    hints = [r.keys[0].hint for r in reports]
    assert hints[0] is hints[1] is hints[2] and hints[0].kind == "sign"
    assert hints[3].kind == "transposed" and reports[0] is not reports[1]


# --- expected values shown so that a decimal answer can be held against them ---------------

# A 1x1 kernel scales the input: Y = w * X, worked by hand.
SCALED = """\
input: "{x}"
kernel: "{w}"
grad_output: "1 1; 1 1"
"""


def test_a_terminating_expected_value_is_shown_as_a_decimal(work):
    # Y = -49/80 * [[1, 0], [0, 1]]; the student has the sign of Y[1,1] wrong.
    write(work, "p.yaml", SCALED.format(x="1 0; 0 1", w="-49/80"))
    name = write(work, "a.yaml", "Y: '0.6125 0; 0 -0.6125'\n")
    proc = run(work, "p.yaml", name)
    assert "[1,1]  given 0.6125  expected -0.6125  difference 1.225" in proc.stdout, proc.stdout
    assert "49/" not in proc.stdout
    proc = run(work, "p.yaml", name, "--gradescope", "g.json")
    (test,) = json.loads((work / "g.json").read_text())["tests"]
    assert "expected -0.6125  difference 1.225" in test["output"], test["output"]
    # --json keeps its numbers and its exact strings (SPEC section 3)
    _, doc = run_json(work, "p.yaml", name)
    (entry,) = keys_of(doc)["Y"]["wrong_entries"]
    assert entry["expected"] == -0.6125 and entry["difference"] == 1.225
    assert keys_of(doc)["Y"]["exact"]["expected"][0][0] == "-49/80"


def test_an_expected_value_without_an_end_is_a_fraction_with_its_decimal(work):
    # Y = 1/3 * [[3, 1], [2, 0]] = [[1, 1/3], [2/3, 0]]; 0.33 - 1/3 = -1/300.
    write(work, "p.yaml", SCALED.format(x="3 1; 2 0", w="1/3"))
    name = write(work, "a.yaml", "Y: '1 0.33; 0.67 0'\n")
    text = run(work, "p.yaml", name).stdout
    assert "[1,2]  given 0.33  expected 1/3 (0.333333)  difference -1/300 (-0.00333333)" in text
    assert "[2,1]  given 0.67  expected 2/3 (0.666667)  difference 1/300 (0.00333333)" in text
    # a whole matrix (a wrong shape) shows each entry alone, in the answers file's form
    name = write(work, "b.yaml", "Y: '1 0.33 0.67'\n")
    text = run(work, "p.yaml", name).stdout
    assert "given 1 0.33 0.67; expected 1 1/3; 2/3 0" in text, text


def test_a_stack_of_matrices_is_shown_as_the_answers_file_writes_one(work):
    # Two 1x1 filters, 1 and 2, on X = [[1, 2], [3, 4]]: Y is 2x2x2, X then 2X. A student who
    # lists Y's 8 numbers flat has the wrong shape; the expected value must read as 2x2x2
    # (a list of one matrix string per filter, as an answers file writes it), not as the 4x2
    # matrix '1 2; 3 4; 2 4; 6 8', which pasted back into the file is a wrong shape again.
    write(work, "p.yaml", 'input: "1 2; 3 4"\nkernel: [[[1]], [[2]]]\n'
                          "grad_output: [[[1, 0], [0, 0]], [[0, 0], [0, 1]]]\n")
    name = write(work, "a.yaml", "Y: [1, 2, 3, 4, 2, 4, 6, 8]\n")
    text = run(work, "p.yaml", name).stdout
    shown = '["1 2; 3 4", "2 4; 6 8"]'
    assert f"given 1 2 3 4 2 4 6 8; expected {shown}" in text, text
    name = write(work, "b.yaml", f"Y: {shown}\n")
    proc = run(work, "p.yaml", name)
    assert proc.returncode == 0 and "✓ Y" in proc.stdout, proc.stdout
    # one more axis: a list of such lists (a batch of two such maps, the second all zero)
    from convgrad.grade import value_text

    stack = [[[1, 2], [3, 4]], [[2, 4], [6, 8]]]
    assert value_text([stack, [[[0, 0], [0, 0]]] * 2]) == (
        '[["1 2; 3 4", "2 4; 6 8"], ["0 0; 0 0", "0 0; 0 0"]]')


def test_integers_stay_integers(work):
    name = write(work, "a.yaml", "db: 8\n")
    assert "given 8; expected 9" in run(work, SEED, name).stdout


@pytest.mark.parametrize(("value", "text"), [
    ("123456789012/1000000000000", "0.123456789012"),  # 12 significant digits: a decimal
    ("1234567890123/10000000000000", "1234567890123/10000000000000 (0.123457)"),  # 13
    ("-1/1024", "-0.0009765625"),
    ("1/1048576", "1/1048576 (9.53674e-07)"),  # 2^-20 ends after 14 significant digits
    ("12345678901/10", "1234567890.1"),
    ("7/1", "7"),
])
def test_twelve_significant_digits_is_where_decimals_end(value, text):
    from fractions import Fraction

    from convgrad.grade import value_text

    assert value_text(Fraction(value)) == text
    minus = text.replace("(", "(-") if not text.startswith("-") else text[1:]
    assert value_text(-Fraction(value)) == ("-" + minus if not text.startswith("-")
                                            else minus)


# --- rounding ties: an expected value halfway between two roundings ------------------------

# Y[1,1] = w (a 1x1 kernel on an input with one 1): the expected value is w itself.
ONE_ENTRY = """\
input: "1 0; 0 0"
kernel: "{w}"
grad_output: "1 1; 1 1"
"""


@pytest.mark.parametrize(("w", "answer", "options", "right"), [
    # 43/40 = 1.075 exactly: half up gives 1.08, half to even (Python's round) 1.07
    ("43/40", "1.08", ("--decimals", "2"), True),
    ("43/40", "1.07", ("--decimals", "2"), True),
    ("43/40", "1.075", ("--decimals", "2"), True),
    ("43/40", "1.06", ("--decimals", "2"), False),
    ("43/40", "1.09", ("--decimals", "2"), False),
    ("-43/40", "-1.07", ("--decimals", "2"), True),
    ("-43/40", "-1.08", ("--decimals", "2"), True),
    ("-43/40", "-1.06", ("--decimals", "2"), False),
    ("-43/40", "1.07", ("--decimals", "2"), False),
    # just beside the tie, one neighbour only
    ("1075001/1000000", "1.08", ("--decimals", "2"), True),
    ("1075001/1000000", "1.07", ("--decimals", "2"), False),
    ("1074999/1000000", "1.07", ("--decimals", "2"), True),
    ("1074999/1000000", "1.08", ("--decimals", "2"), False),
    # 5/2 at 0 decimals: 2 and 3; 0.125 at 2 decimals: 0.12 and 0.13
    ("5/2", "2", ("--decimals", "0"), True),
    ("5/2", "3", ("--decimals", "0"), True),
    ("5/2", "1", ("--decimals", "0"), False),
    ("1/8", "0.12", ("--decimals", "2"), True),
    ("1/8", "0.13", ("--decimals", "2"), True),
    ("1/8", "0.14", ("--decimals", "2"), False),
    # significant figures round the same way: 22.5 at 2 figures is 22 or 23
    ("45/2", "22", ("--sig-figs", "2"), True),
    ("45/2", "23", ("--sig-figs", "2"), True),
    ("45/2", "21", ("--sig-figs", "2"), False),
    ("225001/10000", "22", ("--sig-figs", "2"), False),
    ("225001/10000", "23", ("--sig-figs", "2"), True),
])
def test_a_rounding_tie_accepts_both_neighbours(work, w, answer, options, right):
    write(work, "tie.yaml", ONE_ENTRY.format(w=w))
    assert verdict(work, "tie.yaml", f"Y[1,1]: {answer}", *options) is right


# --- what the kink convention means on a leaky ReLU ----------------------------------------

# Z = X (a 1x1 kernel of 1): three pre-activations are exactly 0. With dL/dY all ones,
# dZ = leaky_relu'(Z): 1 where Z = 1, and at 0 slope + kink*(1 - slope) (SPEC section 7):
# kink 0 gives the slope 1/10, kink 1 gives 1, kink 1/2 gives 1/10 + 9/20 = 11/20.
LEAKY = """\
input: "1 0; 0 0"
kernel: "1"
activation: {{name: leaky_relu, slope: 1/10}}
grad_output: "1 1; 1 1"
{conventions}
"""


def conventions_of(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("Conventions")]
    return line


@pytest.mark.parametrize(("conventions", "words"), [
    ("", "kink 0 (leaky_relu'(0) = the slope, 0.1)"),
    ("conventions: {kink: 1}", "kink 1 (leaky_relu'(0) = 1)"),
    ("conventions: {kink: 1/2}", "kink 1/2 (leaky_relu'(0) = 0.55, between the slope and 1)"),
])
def test_the_conventions_line_says_what_the_kink_means_on_a_leaky_relu(work, conventions,
                                                                      words):
    write(work, "leaky.yaml", LEAKY.format(conventions=conventions))
    name = write(work, "a.yaml", "dZ: '1 0.1; 0.1 0.1'\n")
    proc = run(work, "leaky.yaml", name)
    assert words in conventions_of(proc.stdout), proc.stdout


def test_the_conventions_line_of_a_relu_problem_is_unchanged(work):
    name = write(work, "a.yaml", "db: 9\n")
    line = conventions_of(run(work, SEED, name).stdout)
    assert "kink 0," in line and "relu'" not in line


@pytest.mark.parametrize(("answer", "words"), [
    ("dZ: '1 1; 1 1'", "matches kink: 1 -- leaky_relu'(0) = 1"),
    ("dZ: '1 0.55; 0.55 0.55'",
     "matches kink: 1/2 -- leaky_relu'(0) = 0.55, between the slope and 1"),
])
def test_a_kink_hint_on_a_leaky_relu_names_its_derivative(work, answer, words):
    write(work, "leaky.yaml", LEAKY.format(conventions=""))
    name = write(work, "a.yaml", answer + "\n")
    _, doc = run_json(work, "leaky.yaml", name)
    message = keys_of(doc)["dZ"]["message"]
    assert words in message and "relu'(0) = 1 " not in message, message


def test_kink_meaning_across_several_problems():
    from convgrad.grade import kink_meaning
    from convgrad.reader import load_problem

    def leaky(slope: str, activation: str = "leaky_relu") -> Any:
        return load_problem({"input": "1 0; 0 0", "kernel": "1",
                                      "activation": {"name": activation, "slope": slope}
                                      if activation == "leaky_relu" else activation,
                                      "grad_output": "1 1; 1 1"})

    a, b, relu = leaky("1/10"), leaky("1/5"), leaky("", "relu")
    assert kink_meaning(0, [relu]) is None  # relu'(0) = 0 needs no words
    assert kink_meaning(0, [a, b]) == "leaky_relu'(0) = the layer's slope"
    assert kink_meaning(1, [a, b]) == "leaky_relu'(0) = 1"
    assert kink_meaning(0, [a, relu]) == "relu'(0) = 0, leaky_relu'(0) = the slope, 0.1"


@pytest.mark.parametrize("name", ["seed_worked_example", "network_two_conv", "steps_two_rounds",
                                  "batch_norm", "fractions_and_strings"])
def test_the_output_of_solve_json_is_an_answers_file(tmp_path: Path, name: str) -> None:
    # solve --json's own object (exact, layers, steps and conventions included) grades as
    # all right; before, its 'exact' (any exact problem), 'layers' or 'steps' made it unusable
    problem = ROOT / "problems" / f"{name}.yaml"
    solved = run_main("solve", problem, "--json")
    assert solved.returncode == 0, solved
    answers = tmp_path / "answers.json"
    answers.write_text(solved.stdout, encoding="utf-8")
    done = run_main("check", problem, answers, "--json")
    assert done.returncode == 0, done
    report = json.loads(done.stdout)["files"][0]
    assert report["usable"] and report["all_right"] and report["unanswered"] == []
    doc = json.loads(solved.stdout)
    for layer in doc.get("layers", []):  # every layer's values are graded, by their dotted names
        graded = {k["key"] for k in report["keys"]}
        assert {f"{layer['name']}.{key}" for key in layer if key not in ("name", "type")} <= graded


def test_solve_json_as_answers_is_graded_by_its_exact_strings(tmp_path: Path) -> None:
    # dL/dX of a 1/3 kernel: the float 0.3333333333333333 is not 1/3 under --exact, its
    # exact string is; and a wrong exact string is a wrong answer, not read past
    problem = tmp_path / "p.yaml"
    problem.write_text("input: '1 2; 3 4'\nkernel: 1/3\ngrad_output: '1 1; 1 1'\n",
                       encoding="utf-8")
    doc = json.loads(run_main("solve", problem, "--json").stdout)
    assert doc["exact"]["dX"] == [["1/3", "1/3"], ["1/3", "1/3"]]   # by hand: dL/dx = 1·w
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps(doc), encoding="utf-8")
    assert run_main("check", problem, answers, "--exact").returncode == 0
    doc["exact"]["dX"][1][1] = "1/4"
    answers.write_text(json.dumps(doc), encoding="utf-8")
    done = run_main("check", problem, answers, "--exact")
    assert done.returncode == 1 and "[2,2]" in done.stdout


@pytest.mark.parametrize("text, says", [
    ("db: abc\n", "line 1: 'db': 'abc' is not a number"),
    ("db: []\n", "line 1: 'db': an empty list is not a matrix"),
    ("dW: [[1, 2], [3]]\n", "line 1: 'dW' entry [2]: ragged rows"),
])
def test_an_unusable_value_is_said_as_the_problem_reader_says_it(tmp_path: Path, text: str,
                                                                  says: str) -> None:
    # "'db' 'abc' is not a number": the colon after the key was missing
    answers = tmp_path / "a.yaml"
    answers.write_text(text, encoding="utf-8")
    done = run_main("check", ROOT / "problems" / "seed_worked_example.yaml", answers)
    assert done.returncode == 2 and says in done.stdout, done


def test_a_tiny_or_long_decimal_answer_is_shown_as_the_decimal_written(tmp_path: Path):
    # The seed's loss is 23: each answer is wrong, and the report shows it as the student
    # wrote it, not as a fraction over 10^320.
    for written, shown in (("1e-320", "given 1e-320"), ("-1.5e-30", "given -1.5e-30"),
                           ("8.99", "given 8.99"), ("0.000000000000012345",
                                                    "given 0.000000000000012345"),
                           # past 18 zeros, a whole number too: it was written out in 310
                           # digits; fewer zeros, or digits written out, are kept as written
                           ("1e309", "given 1e309"), ("-2.5e40", "given -2.5e40"),
                           ("1e18", "given 1000000000000000000"),
                           ("123456789012345678901234", "given 123456789012345678901234")):
        answers = tmp_path / "answers.yaml"
        answers.write_text(f"loss: {written}\n")
        run = run_main("check", ROOT / "problems" / "seed_worked_example.yaml", answers)
        assert run.returncode == 1, run
        assert f"{shown}; expected 23" in [line.strip() for line in run.stdout.splitlines()], run


@pytest.mark.parametrize(("problem", "text", "suggestion"), [
    # Keras' and PyTorch's names for a dense layer are fc in a network (SPEC section 5)
    ("network_seed004_cnn.yaml", "dense1.dW: 1", "did you mean 'fc1.dW'?"),
    ("network_seed004_cnn.yaml", "Linear1.db: 1", "did you mean 'fc1.db'?"),
    ("network_two_conv.yaml", "conv2d2.dW: 1", "did you mean 'conv2.dW'?"),
    # a network has no bare dW: each layer's is its own key
    ("network_seed004_cnn.yaml", "dw: 1", "did you mean one of 'conv1.dW', 'fc1.dW' "
                                          "(each layer's own)?"),
    ("network_two_dense.yaml", "b_new: 1", "did you mean one of 'fc1.b_new', 'fc2.b_new' "
                                           "(each layer's own)?"),
])
def test_a_network_s_key_misnamed_gets_its_layer_s_key(tmp_path: Path, problem, text,
                                                       suggestion):
    answers = tmp_path / "answers.yaml"
    answers.write_text(text + "\n")
    run = run_main("check", ROOT / "problems" / problem, answers)
    assert run.returncode == 2, run
    assert suggestion in run.stdout + run.stderr, run


@pytest.mark.parametrize(("text", "said"), [
    ("db: 9\nconventions:\n  max_ties: frist\n",
     "line 3: 'conventions.max_ties' 'frist' is not a max_ties convention; did you mean 'first'?"),
    ("db: 9\nconventions: {profile: pytroch}\n",
     "line 2: 'conventions.profile' 'pytroch' is not a profile; did you mean 'pytorch'?"),
    ("conventions:\n  relu: 0\ndb: 9\n", "line 2: 'conventions.relu' is not a known key"),
    ("db: 9\nconventions: 3\n", "line 2: 'conventions' must be a mapping of convention keys"),
])
def test_an_answers_files_conventions_are_read_as_a_problem_files_are(work, text, said):
    # The conventions an answers file states (solve --json's, generate's answers.yaml) were
    # skipped unread: a misspelt key or value passed as a statement of what was solved.
    name = write(work, "a.yaml", text)
    proc = run(work, SEED, name)
    assert proc.returncode == 2, proc.stdout
    assert f"a.yaml: unusable: {said}" in proc.stdout + proc.stderr


def test_the_conventions_solve_json_states_are_read_back(work):
    for problem in (SEED, MULTI, STRIDE2):
        solved = json.loads(run(work, problem, "--json", command="solve").stdout)
        assert solved["conventions"]["profile"] == "pytorch"
        name = write(work, "all.yaml", json.dumps({"conventions": solved["conventions"],
                                                   "db": solved["db"]}))
        assert run(work, problem, name).returncode == 0
