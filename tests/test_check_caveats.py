"""What check tells a teacher beyond the grades: the problem's own caveats (the warnings and
notes `solve` prints: input rows no kernel tap meets, the float64 choice for a large problem,
nll given outputs above 0), once per problem on standard error, and, under the summary table,
which keys files left unanswered ("dX: unanswered by 1 of 3").

The answers' values are worked out here by hand: with grad_output given and no activation,
db is the sum of grad_output; nll of one sample is -y[its class], so dL/dy = -t.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, Run, no_traceback, one_line, run_main, write

# Stride 2 over 5 rows with a 2-row kernel: windows at rows 1-2 and 3-4, row 5 never read
# (and column 5 likewise). grad_output given: db = 1 + 2 + 3 + 4.
UNCOVERED = """\
input: "1 2 3 4 5; 6 7 8 9 10; 1 2 3 4 5; 6 7 8 9 10; 1 1 1 1 1"
kernel: "1 0; -1 1"
stride: 2
grad_output: "1 2; 3 4"
"""
UNCOVERED_DB = 10

# nll takes log-probabilities; a dense layer's outputs 1 and 2 are not. L = -y[2] (class 2),
# so dL/dy = -t = [0, -1], and fc1's db is dL/dy.
NLL = """\
input: [1, 2]
layers:
  - dense: {weights: "1 0; 0 1", bias: 0}
target: [0, 1]
loss: nll
"""


def check(*args: object) -> Run:
    done = run_main("check", *args)
    no_traceback(done)
    return done


def solve_stderr(problem: Path) -> list[str]:
    done = run_main("solve", problem)
    assert done.returncode == 0, done
    return done.stderr.splitlines()


def test_check_says_the_problems_warnings_once_as_solve_does(tmp_path: Path) -> None:
    problem = write(tmp_path, "problem.yaml", UNCOVERED)
    said = solve_stderr(problem)
    assert [line.split(":")[0] for line in said] == ["warning", "warning"]
    assert "input row 5" in said[0] and "input column 5" in said[1]
    right = write(tmp_path, "right.yaml", f"db: {UNCOVERED_DB}\n")
    wrong = write(tmp_path, "wrong.yaml", f"db: {UNCOVERED_DB + 1}\n")
    one = check(problem, right)
    assert one.returncode == 0 and one.stderr.splitlines() == said, one
    # three students: the caveat is the problem's, said once, not once per file
    many = check(problem, right, wrong, right, "--summary")
    assert many.returncode == 1 and many.stderr.splitlines() == said, many
    # standard output is the report alone
    for done in (one, many):
        assert "never meets" not in done.stdout and "warning" not in done.stdout


def test_check_says_the_notes_of_the_arithmetic_and_the_loss(tmp_path: Path) -> None:
    nll = write(tmp_path, "nll.yaml", NLL)
    said = solve_stderr(nll)
    assert len(said) == 1 and said[0].startswith("note: nll takes log-probabilities")
    done = check(nll, write(tmp_path, "a.yaml", "fc1.db: [0, -1]\n"))
    assert done.returncode == 0 and done.stderr.splitlines() == said, done
    # 201 x 201 outputs of a 5x5 kernel: 1,010,025 multiply-adds, above the exact limit
    zeros = "; ".join([" ".join(["0"] * 205)] * 205)
    ones = "; ".join([" ".join(["1"] * 201)] * 201)
    kernel = "; ".join(["1 1 1 1 1"] * 5)
    large = write(tmp_path, "large.yaml",
                  f'input: "{zeros}"\nkernel: "{kernel}"\ngrad_output: "{ones}"\n')
    said = solve_stderr(large)
    assert len(said) == 1 and "float64 arithmetic" in said[0] and "1,010,025" in said[0]
    done = check(large, write(tmp_path, "b.yaml", f"db: {201 * 201}\n"))
    assert done.returncode == 0 and done.stderr.splitlines() == said, done


def test_check_json_adds_the_caveats_only_where_there_are_some(tmp_path: Path) -> None:
    problem = write(tmp_path, "problem.yaml", UNCOVERED)
    said = solve_stderr(problem)
    right = write(tmp_path, "right.yaml", f"db: {UNCOVERED_DB}\n")
    done = check(problem, right, right, "--json")
    assert done.returncode == 0 and done.stderr.splitlines() == said, done
    doc = json.loads(done.stdout)
    assert doc["warnings"] == [{"level": "warning", "message": line.removeprefix("warning: ")}
                               for line in said]
    assert list(doc)[-1] == "warnings"  # after every field check always had
    # a problem without caveats: no key, the object as it always was
    seed = check(ROOT / "problems" / "seed_worked_example.yaml", right, "--json")
    assert seed.stderr == "" and "warnings" not in json.loads(seed.stdout), seed


def test_check_of_variants_says_each_caveat_once_naming_the_variants(tmp_path: Path) -> None:
    template = write(tmp_path, "template.yaml", """\
input: {shape: [5, 5], entries: {int: [-2, 2]}}
kernel: {shape: [2, 2], entries: {int: [-1, 1]}}
stride: 2
grad_output: {shape: [2, 2], entries: {int: [-1, 1]}}
graded: [db]
""")
    out = tmp_path / "variants"
    assert run_main("generate", template, "--count", 10, "--seed", 5, "--out", out).returncode == 0
    files = []
    for variant in ("001", "002", "003"):
        problem = yaml.safe_load((out / variant / "problem.yaml").read_text(encoding="utf-8"))
        db = sum(sum(row) for row in problem["grad_output"])  # by hand: no activation
        for student in ("ann", "bob"):  # two students per variant
            files.append(write(out / variant, f"{student}.yaml", f"db: {db}\n"))
    said = [line.removeprefix("warning: ") for line in solve_stderr(out / "001" / "problem.yaml")]
    assert len(said) == 2
    done = check(out, *files, "--summary")
    assert done.returncode == 0, done
    assert done.stderr.splitlines() == [f"warning: in variants 001, 002, 003: {message}"
                                        for message in said], done
    some = check(out, files[0], files[2], "--json")
    assert some.stderr.splitlines() == [f"warning: in variants 001, 002: {message}"
                                        for message in said], some
    assert json.loads(some.stdout)["warnings"] == [
        {"level": "warning", "message": message, "variants": ["001", "002"]}
        for message in said]
    one = check(out, files[4])
    assert one.stderr.splitlines() == [f"warning: in variant 003: {message}"
                                       for message in said], one
    # beyond eight variants: how many, not every name
    for n in range(4, 11):
        variant = f"{n:03}"
        problem = yaml.safe_load((out / variant / "problem.yaml").read_text(encoding="utf-8"))
        db = sum(sum(row) for row in problem["grad_output"])
        files.append(write(out / variant, "cy.yaml", f"db: {db}\n"))
    every = check(out, *files)
    assert every.returncode == 0, every
    assert every.stderr.splitlines() == [f"warning: in all 10 variants graded: {message}"
                                         for message in said], every
    nine = check(out, *files[1:])  # 001's two files are files[0:2]: bob's is still in 001
    assert nine.stderr.splitlines() == [f"warning: in all 10 variants graded: {message}"
                                        for message in said], nine
    nine = check(out, *files[2:])  # 001 graded no more
    assert nine.stderr.splitlines() == [f"warning: in all 9 variants graded: {message}"
                                        for message in said], nine


def unanswered(done: Run) -> list[str]:
    """The summary's lines after its counts."""
    lines = done.stdout.splitlines()
    counts = next(n for n, line in enumerate(lines) if " files: " in line)
    return lines[counts + 1:]


@pytest.fixture
def class_of_three(tmp_path: Path) -> list[Path]:
    """The README's ann (no dX), cho (all of dW, db, dX) and dan (dW entry by entry)."""
    return [write(tmp_path, "ann.yaml", "dW: [[32, 41], [59, 68]]\ndb: 9\n"),
            write(tmp_path, "cho.yaml", "dW: [[32, 41], [59, 69]]\ndb: 9\n"
                  "dX: [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]\nloss: 24\n"),
            write(tmp_path, "dan.yaml", "dW[1,1]: 32\ndW[1,2]: 41\ndW[2,1]: 59\ndW[2,2]: 68\n"
                  "db: 9\ndX: [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]\n")]


def test_summary_says_which_graded_keys_files_left_unanswered(class_of_three: list[Path]
                                                              ) -> None:
    problem = ROOT / "problems" / "seed_worked_example.yaml"
    done = check(problem, *class_of_three, "--points", "dW=2,db=1,dX=2", "--summary")
    assert done.returncode == 1, done
    # dan's entries do not answer dW (SPEC 3), ann gave no dX; db everyone answered
    assert unanswered(done) == ["dW: unanswered by 1 of 3", "dX: unanswered by 1 of 3"]
    # the full report ends with the same table and lines; --json is unchanged by them
    full = check(problem, *class_of_three, "--points", "dW=2,db=1,dX=2")
    assert unanswered(full) == unanswered(done)
    # an unusable file counts in no share
    bad = class_of_three[0].with_name("eve.yaml")
    bad.write_text("dQ: 1\n", encoding="utf-8")
    done = check(problem, *class_of_three, bad, "--points", "dW=2,db=1,dX=2", "--summary")
    assert done.returncode == 2, done
    assert unanswered(done) == ["dW: unanswered by 1 of 3", "dX: unanswered by 1 of 3"]
    # everything answered: no line
    done = check(problem, class_of_three[1], class_of_three[1], "--points", "dW=2,db=1",
                 "--summary")
    assert unanswered(done) == []


def test_summary_without_a_graded_set_names_results_not_answered(class_of_three: list[Path]
                                                                 ) -> None:
    problem = ROOT / "problems" / "seed_worked_example.yaml"
    ann, cho, _ = class_of_three
    done = check(problem, ann, cho, "--summary")
    # the results of solve --json neither gave, in its order; dX and loss one of them
    assert unanswered(done) == ["Y: unanswered by 2 of 2 (not graded)",
                                "dY: unanswered by 2 of 2 (not graded)",
                                "dX: unanswered by 1 of 2 (not graded)",
                                "loss: unanswered by 1 of 2 (not graded)"]
    # a key left null is graded (missing, 0 points): then no "(not graded)"
    blank = ann.with_name("fay.yaml")
    blank.write_text("dW: [[32, 41], [59, 68]]\ndX:\n", encoding="utf-8")
    done = check(problem, blank, ann, "--summary")
    assert "dX: unanswered by 2 of 2" in unanswered(done)


def test_summary_across_variants_says_which_variants_left_a_key(tmp_path: Path) -> None:
    out = tmp_path / "variants"
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert run_main("generate", template, "--count", 3, "--seed", 3, "--out", out).returncode == 0
    key = {v: yaml.safe_load((out / v / "answers.yaml").read_text(encoding="utf-8"))
           for v in ("001", "002", "003")}

    def hand_in(variant: str, student: str, *leave: str) -> Path:
        given = {k: key[variant][k] for k in ("dY", "dW", "db", "dX") if k not in leave}
        return write(out / variant, f"{student}.yaml", yaml.safe_dump(given))

    files = [hand_in("001", "ann", "dX"), hand_in("001", "bob", "dX"),
             hand_in("002", "cy", "dX", "db"), hand_in("002", "di"), hand_in("003", "ed")]
    done = check(out, *files, "--summary")
    assert done.returncode == 1, done
    # in the order the template grades them: dY, dW, db, dX
    assert unanswered(done) == ["db: unanswered by 1 of 5 (variant 002: 1 of 2)",
                                "dX: unanswered by 3 of 5 (variants 001: 2 of 2, 002: 1 of 2)"]
    # one file per variant: the variants alone name them
    done = check(out, files[0], files[2], files[4], "--summary")
    assert unanswered(done) == ["db: unanswered by 1 of 3 (variant 002)",
                                "dX: unanswered by 2 of 3 (variants 001, 002)"]


def test_summary_of_one_file_counts_one_file(class_of_three: list[Path]) -> None:
    problem = ROOT / "problems" / "seed_worked_example.yaml"
    done = check(problem, class_of_three[0], "--summary")
    assert "1 file: 1 all right, 0 with wrong answers, 0 unusable" in done.stdout.splitlines()
    done = check(problem, *class_of_three[:2], "--summary")
    assert "2 files: 1 all right, 1 with wrong answers, 0 unusable" in done.stdout.splitlines()


def test_a_filled_in_blank_is_not_skipped_as_generates(tmp_path: Path) -> None:
    """Students fill in blank.yaml; a teacher who copies one back under that name would have
    it skipped as generate's own file, and the student's answers never graded."""
    out = tmp_path / "variants"
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert run_main("generate", template, "--count", 2, "--seed", 3, "--out", out).returncode == 0
    ann = write(out / "001", "ann.yaml", "db: 1\n")
    untouched = check(out, ann, out / "001" / "blank.yaml", out / "002" / "blank.yaml")
    assert untouched.returncode in (0, 1), untouched  # generate's blanks: skipped
    filled = out / "002" / "blank.yaml"
    filled.write_text("dY: [[1, 0], [0, 1]]\ndW:\ndb: 3\ndX:\n", encoding="utf-8")
    done = check(out, ann, out / "001" / "blank.yaml", filled)
    assert done.returncode == 2 and done.stdout == "", done
    message = one_line(done)
    assert message.startswith(f"error: {filled}: ") and "filled in" in message, message
    assert str(out / "002" / "alice.yaml") in message  # the way out: a name of its own


def test_a_students_file_named_answers_yaml_is_not_skipped_as_the_key(tmp_path: Path) -> None:
    """A student's answers copied into the variant's folder as answers.yaml (over the key)
    were skipped as generate's key, and never graded."""
    out = tmp_path / "variants"
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert run_main("generate", template, "--count", 2, "--seed", 3, "--out", out).returncode == 0
    ann = write(out / "001", "ann.yaml", "db: 1\n")
    keys = [out / "001" / "answers.yaml", out / "002" / "answers.yaml"]
    untouched = check(out, ann, *keys)
    assert untouched.returncode in (0, 1), untouched  # generate's keys: skipped
    assert "note: 2 of the files given" in untouched.stderr
    key = yaml.safe_load(keys[1].read_text(encoding="utf-8"))
    # a student's: some keys only (right ones too), or one entry wrong
    right_but_fewer = "".join(f"{k}: {key[k]}\n" for k in ("dW", "db"))
    slipped = keys[1].read_text(encoding="utf-8").replace(f"db: {key['db']}\n",
                                                         f"db: {key['db'] + 1}\n")
    assert slipped != keys[1].read_text(encoding="utf-8")
    for text in (right_but_fewer, slipped, "db: 1\n"):
        keys[1].write_text(text, encoding="utf-8")
        done = check(out, ann, *keys)
        assert done.returncode == 2 and done.stdout == "", done
        message = one_line(done)
        assert message.startswith(f"error: {keys[1]}: not the answer key generate wrote for "
                                  "variant 002"), message
        assert str(out / "002" / "alice.yaml") in message  # the way out: a name of its own


def test_the_way_out_names_a_file_the_folder_does_not_have(tmp_path: Path) -> None:
    """The messages about a student's answers.yaml or blank.yaml say to rename it, e.g. to
    alice.yaml; where alice.yaml is already a student's, following that advice would write
    over her answers, so the example is a name the folder does not hold."""
    out = tmp_path / "variants"
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert run_main("generate", template, "--count", 2, "--seed", 3, "--out", out).returncode == 0
    folder = out / "002"
    alice = write(folder, "alice.yaml", "db: 1\n")
    write(folder, "bob.yaml", "db: 2\n")
    for name, text in (("answers.yaml", "db: 1\n"), ("blank.yaml", "db: 3\n")):
        given = folder / name
        kept = given.read_text(encoding="utf-8")
        given.write_text(text, encoding="utf-8")
        done = check(out, alice, given)
        given.write_text(kept, encoding="utf-8")
        assert done.returncode == 2, done
        message = one_line(done)
        assert str(alice) not in message and str(folder / "bob.yaml") not in message, message
        assert str(folder / "carol.yaml") in message, message


def test_a_usage_error_is_still_one_line_on_a_problem_with_caveats(tmp_path: Path) -> None:
    problem = write(tmp_path, "problem.yaml", UNCOVERED)
    right = write(tmp_path, "right.yaml", f"db: {UNCOVERED_DB}\n")
    done = check(problem, right, "--points", "dQ=1")
    assert done.returncode == 2 and done.stdout == "", done
    assert one_line(done).startswith("error: "), done


def test_many_variants_are_named_up_to_eight() -> None:
    from convgrad.cli import _variants_named
    from convgrad.grade import MISSING, FileReport, KeyResult
    from convgrad.render.report import unanswered_lines

    names = [f"{n:03}" for n in range(1, 11)]
    reports = [FileReport(f"{name}/ann.yaml", keys=[KeyResult("db", 1.0, MISSING)],
                          variant=name) for name in names]
    assert [[text for text, _ in line] for line in unanswered_lines(reports, True)] == [
        ["db: unanswered by 10 of 10 (variants 001, 002, 003, 004, 005, 006, 007, 008 and 2 "
         "more)"]]
    assert _variants_named(names, 10) == "all 10 variants graded"
    assert _variants_named(names[:9], 10) == \
        "variants 001, 002, 003, 004, 005, 006, 007, 008 and 1 more"
    assert _variants_named(names[:8], 8) == "variants " + ", ".join(names[:8])
    assert _variants_named(["004"], 10) == "variant 004"


def test_an_answer_key_saved_again_is_still_the_key(tmp_path: Path) -> None:
    """The key as generate wrote it is told by its text; a key an editor saved again (CRLF
    line ends, YAML laid out anew) by its results: both are skipped as the key, in a
    variant with a student's file (graded: its run is the key's) and in one without."""
    out = tmp_path / "variants"
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert run_main("generate", template, "--count", 2, "--seed", 3, "--out", out).returncode == 0
    ann = write(out / "001", "ann.yaml", "db: 1\n")
    keys = [out / "001" / "answers.yaml", out / "002" / "answers.yaml"]
    for key in keys:
        text = key.read_text(encoding="utf-8")
        resaved = yaml.safe_dump(yaml.safe_load(text), default_flow_style=True)
        assert resaved != text
        key.write_bytes(resaved.replace("\n", "\r\n").encode("utf-8"))
    done = check(out, ann, *keys)
    assert done.returncode in (0, 1), done
    assert "note: 2 of the files given" in done.stderr


def test_a_variants_blank_that_is_not_utf8_is_read_as_no_blank(tmp_path: Path) -> None:
    """A variant's blank.yaml saved in another encoding (or overwritten by a photo) stopped
    check DIR with an internal error (UnicodeDecodeError, exit 70); it is read as a variant
    without a blank, whose graded keys are those the files answer."""
    out = tmp_path / "variants"
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert run_main("generate", template, "--count", 2, "--seed", 3, "--out", out).returncode == 0
    (out / "001" / "blank.yaml").write_bytes(b"\xff\xfe\x00 not utf-8")
    ann = write(out / "001", "ann.yaml", "db: 1\n")
    done = check(out, ann)
    assert done.returncode == 1, done  # graded: db is wrong
    assert "✗ db" in done.stdout, done.stdout
