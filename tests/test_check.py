"""`convgrad check`: grading answers files (SPEC section 3, issue 5).

Most tests run the command in-process through `convgrad.cli.main(argv)` (the same code a
shell runs, without a new Python each time); a few run the real program in a subprocess
(`python -m convgrad check ...`) for what only a process shows: exit codes as a shell sees
them, standard input through a pipe, help. The problem files are copied into tmp_path and
the command runs there with relative names, so no temporary directory (and none of its
digits) appears in the output.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from .conftest import ROOT

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

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250", "TERM": "dumb",
       "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}


def run(cwd: Path, *args: object, stdin: str = "", command: str = "check"
        ) -> subprocess.CompletedProcess:
    """`convgrad check ARGS` in cwd, in-process through main(argv); never an internal error."""
    from convgrad.cli import main

    argv = [command, *map(str, args)]
    out, err = io.StringIO(), io.StringIO()
    with _inside(cwd, stdin), redirect_stdout(out), redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    proc = subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
    assert "internal error" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@contextmanager
def _inside(cwd: Path, stdin: str) -> Iterator[None]:
    """Run in cwd with `stdin` as standard input (bytes underneath, as a pipe has)."""
    here, saved = os.getcwd(), sys.stdin
    os.chdir(cwd)
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
    try:
        yield
    finally:
        sys.stdin = saved
        os.chdir(here)


def run_process(cwd: Path, *args: object, stdin: str = "", command: str = "check"
                ) -> subprocess.CompletedProcess:
    """`python -m convgrad check ARGS` in cwd, a real process; never a traceback."""
    proc = subprocess.run([sys.executable, "-m", "convgrad", command, *map(str, args)],
                          cwd=cwd, input=stdin, capture_output=True, text=True, env=ENV,
                          timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc


def run_json(cwd: Path, *args: object, stdin: str = "") -> tuple[subprocess.CompletedProcess,
                                                                  dict]:
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
    assert set(graded) == set(solved)
    assert all(k["right"] for k in graded.values())
    if exact is not None:  # the exact strings, compared exactly
        name = write(work, "exact.yaml", json.dumps(exact))
        proc, doc = run_json(work, problem, name, "--exact")
        assert proc.returncode == 0, proc.stdout
        assert set(keys_of(doc)) == set(exact)


def test_answers_from_standard_input(work):
    proc = run_process(work, SEED, "-", stdin="dW: '32 41; 59 68'\nloss: 23\n")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 of 2 right" in proc.stdout


def test_problem_from_standard_input(work):
    name = write(work, "a.yaml", "db: 9\n")
    proc = run_process(work, "-", name, stdin=(work / SEED).read_text())
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
                                  "db: true", "db: null", "loss: .nan", "loss: .inf",
                                  'db: "1/0"', "db: nine", "db: {a: 1}", "db: []"])
def test_non_numeric_value(work, text):
    name = write(work, "nan.yaml", "loss: 23\n" + text + "\n")
    error, _ = unusable(work, name)
    key = text.split(":")[0]
    assert f"'{key}'" in error or key in error, error
    assert "nan.yaml" in error


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
    proc = run_process(work, "no_such_problem.yaml", name)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "no_such_problem.yaml" in proc.stderr
    bad = write(work, "badproblem.yaml", "input: [[1, 2], [3]]\nkernel: [[1]]\n")
    proc = run_process(work, bad, name, "--json")
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
        proc = run_process(work, problem, name, "--exact", *extra)
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
    assert (graded["loss"]["points"], graded["loss"]["earned"]) == (1, 1)  # default 1
    assert doc["files"][0]["score"] == 3 and doc["files"][0]["max_score"] == 4
    assert doc["score"] == 3 and doc["max_score"] == 4
    text = run(work, SEED, name, "--points", "dW=2,db=1").stdout
    assert "3/4" in text


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
    assert doc["score"] == 3 and doc["max_score"] == 4
    tests = {t["name"]: t for t in doc["tests"]}
    assert set(tests) == {"dW", "db", "loss"}
    for t in doc["tests"]:
        assert set(t) >= {"name", "score", "max_score", "output"}
        assert isinstance(t["output"], str)
    assert (tests["dW"]["score"], tests["dW"]["max_score"]) == (2, 2)
    assert (tests["db"]["score"], tests["db"]["max_score"]) == (0, 1)
    assert (tests["loss"]["score"], tests["loss"]["max_score"]) == (1, 1)
    assert tests["db"]["output"] and tests["db"]["output"] != tests["loss"]["output"]
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


# --- exit codes as a shell script sees them ------------------------------------------------


def test_exit_codes_0_1_2_in_a_shell_loop(work):
    write(work, "right.yaml", "dW: [[32, 41], [59, 68]]\nloss: 23\n")
    write(work, "wrong.yaml", "dW: [[32, 41], [59, 68]]\nloss: 24\n")
    write(work, "shape.yaml", "dW: [[32, 41, 0], [59, 68, 0]]\n")
    write(work, "typo.yaml", "dw: [[32, 41], [59, 68]]\n")
    write(work, "broken.yaml", "dW: [[32, 41], [59, 68]\n")
    py = shlex.quote(sys.executable)
    script = f"""
for f in right.yaml wrong.yaml shape.yaml typo.yaml broken.yaml missing.yaml; do
    {py} -m convgrad check {SEED} "$f" >/dev/null 2>&1
    echo "$f $?"
done
if {py} -m convgrad check {SEED} right.yaml >/dev/null; then echo "if: pass"; fi
if ! {py} -m convgrad check {SEED} wrong.yaml >/dev/null; then echo "if: fail"; fi
{py} -m convgrad check {SEED} right.yaml wrong.yaml >/dev/null; echo "two $?"
{py} -m convgrad check {SEED} right.yaml wrong.yaml typo.yaml >/dev/null; echo "three $?"
{py} -m convgrad check {SEED} right.yaml --rtol -1 >/dev/null 2>&1; echo "option $?"
"""
    proc = subprocess.run(["sh", "-c", script], cwd=work, capture_output=True, text=True,
                          env=ENV, timeout=600)
    assert proc.stdout.splitlines() == [
        "right.yaml 0", "wrong.yaml 1", "shape.yaml 1", "typo.yaml 2", "broken.yaml 2",
        "missing.yaml 2", "if: pass", "if: fail", "two 1", "three 2", "option 2"]
    assert "Traceback" not in proc.stderr


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
    assert run_process(work, SEED).returncode == 2  # no answers file
    name = write(work, "a.yaml", "db: 9\n")
    proc = run_process(work, SEED, name, "--no-such-option")
    assert proc.returncode == 2
    assert proc.stdout == ""


def test_check_help(work):
    proc = run_process(work, "--help")
    assert proc.returncode == 0
    for option in ("--json", "--no-reveal", "--rtol", "--atol", "--decimals", "--sig-figs",
                   "--exact", "--summary", "--points", "--gradescope"):
        assert option in proc.stdout
