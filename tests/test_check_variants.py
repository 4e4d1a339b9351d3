"""check DIR ANSWERS... (SPEC section 9): a class whose students each have their own variant,
graded in one run, each file against the problem of the variant folder it lies in.

Every variant's results are worked out here from its problem file with NumPy written as the
formulas read (conv, ReLU, 2x2 max pooling sending dY to each window's first maximum,
half_sse), and the class report's numbers are counted by hand from how the answers were
built.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from .conftest import ROOT, Run, no_traceback, one_line, run_main, write

TEMPLATE = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
GRADED = ["dY", "dW", "db", "dX"]
STUDENTS = {"alice": "001", "bob": "002", "carol": "003", "dave": "004"}


def solve_by_hand(problem: dict[str, Any], dy: np.ndarray | None = None
                  ) -> dict[str, np.ndarray]:
    """dY, dW, db, dX of a relu_maxpool variant: x (5, 5), w (2, 2), z and a (4, 4), y (2, 2).
    dy: a dL/dY to push back instead of the loss's own (a student's wrong dY)."""
    x, w = np.array(problem["input"], float), np.array(problem["kernel"], float)
    t, b = np.array(problem["target"], float), float(problem["bias"])
    KH, KW = w.shape
    OH, OW = x.shape[0] - KH + 1, x.shape[1] - KW + 1
    z = np.array([[np.sum(x[i:i + KH, j:j + KW] * w) + b for j in range(OW)]
                  for i in range(OH)])
    a = np.maximum(z, 0)
    y = np.array([[a[i:i + 2, j:j + 2].max() for j in range(0, OW, 2)] for i in range(0, OH, 2)])
    if dy is None:
        dy = y - t  # half_sse
    da = np.zeros_like(a)
    for i in range(0, OH, 2):
        for j in range(0, OW, 2):
            p, q = np.unravel_index(np.argmax(a[i:i + 2, j:j + 2]), (2, 2))  # first maximum
            da[i + p, j + q] += dy[i // 2, j // 2]
    dz = da * (z > 0)  # relu'(0) = 0
    dw = np.array([[np.sum(dz * x[p:p + OH, q:q + OW]) for q in range(KW)] for p in range(KH)])
    dx = np.zeros_like(x)
    for i in range(OH):
        for j in range(OW):
            dx[i:i + KH, j:j + KW] += dz[i, j] * w
    return {"dY": dy, "dW": dw, "db": np.array(dz.sum()), "dX": dx}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(values: dict[str, Any]) -> str:
    return yaml.safe_dump({k: np.asarray(v).tolist() for k, v in values.items()})


class Class:
    """Four variants and four students: alice right, bob with a slip in dW[1,2], carol
    without db, dave with variant 003's key copied into variant 004's folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.keys = {}
        for name in STUDENTS.values():
            problem = load(out / name / "problem.yaml")
            mine = solve_by_hand(problem)
            key = load(out / name / "answers.yaml")
            for k in GRADED:  # the answer key is the problem's, worked out independently
                assert np.array_equal(np.array(key[k], float), mine[k]), (name, k)
            self.keys[name] = {k: key[k] for k in GRADED}
        self.answers = {
            "alice": dict(self.keys["001"]),
            "bob": {**self.keys["002"], "dW": self._slip(self.keys["002"]["dW"])},
            "carol": {k: v for k, v in self.keys["003"].items() if k != "db"},
            "dave": dict(self.keys["003"]),
        }
        self.files = []
        for student, variant in STUDENTS.items():
            path = out / variant / f"{student}.yaml"
            path.write_text(dump(self.answers[student]), encoding="utf-8")
            self.files.append(path)

    @staticmethod
    def _slip(dw: list[list[int]]) -> list[list[int]]:
        slipped = [list(row) for row in dw]
        slipped[0][1] += 1  # dW[1,2]
        return slipped

    def dave_right(self, key: str) -> np.ndarray:
        """Where dave's copied answer (variant 003's) happens to equal variant 004's."""
        return np.array(self.keys["003"][key]) == np.array(self.keys["004"][key])


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Class:
    out = tmp_path_factory.mktemp("class") / "variants"
    done = run_main("generate", TEMPLATE, "--count", 4, "--seed", 3, "--out", out)
    assert done.returncode == 0, done
    made = Class(out)
    assert not all(made.dave_right(k).all() for k in GRADED)  # the copy cannot pass
    return made


def check(*args: object, cwd: Path | None = None) -> Run:
    done = run_main("check", *args, cwd=cwd)
    no_traceback(done)
    return done


def test_each_file_is_graded_against_its_own_variant(school: Class) -> None:
    done = check(school.out, *school.files, "--require", ",".join(GRADED), "--json")
    assert done.returncode == 1, done  # wrong answers, nothing unusable
    doc = json.loads(done.stdout)
    files = {Path(f["file"]).stem: f for f in doc["files"]}
    assert [files[s]["variant"] for s in STUDENTS] == list(STUDENTS.values())
    assert files["alice"]["all_right"] and files["alice"]["score"] == 4
    bob = {k["key"]: k for k in files["bob"]["keys"]}
    assert [k for k in GRADED if not bob[k]["right"]] == ["dW"]
    assert [e["position"] for e in bob["dW"]["wrong_entries"]] == [[1, 2]]
    carol = {k["key"]: k for k in files["carol"]["keys"]}
    assert carol["db"]["status"] == "missing" and files["carol"]["missing"] == ["db"]
    assert files["carol"]["score"] == 3
    dave = {k["key"]: k for k in files["dave"]["keys"]}
    for key in GRADED:
        assert dave[key]["right"] == bool(school.dave_right(key).all()), key
    assert not files["dave"]["all_right"]
    assert doc["score"] == 4 + 3 + 3 + files["dave"]["score"] and doc["max_score"] == 16


def test_json_keeps_checks_fields_and_adds_the_variant(school: Class) -> None:
    # a folder grades the template's keys (blank.yaml's) as --require does for one problem
    one = check(school.out / "001" / "problem.yaml", school.files[0], "--json", "--require",
                ",".join(GRADED))
    assert one.returncode == 0, one
    many = check(school.out, *school.files, "--json")
    single, class_ = json.loads(one.stdout), json.loads(many.stdout)
    assert list(class_) == list(single)  # the same fields, in the same order
    assert class_["problem"] == str(school.out)
    first = class_["files"][0]
    assert list(first) == ["file", "variant", *[k for k in single["files"][0] if k != "file"]]
    assert {k: v for k, v in first.items() if k != "variant"} == single["files"][0]
    # the key's exact strings, as for one problem (the variants are rational)
    assert first["keys"][0]["exact"]["given"] == \
        single["files"][0]["keys"][0]["exact"]["given"]


def test_text_report_names_each_variant_and_summary(school: Class) -> None:
    done = check(school.out, *school.files)
    assert done.returncode == 1, done
    for student, variant in STUDENTS.items():
        assert f"{student}.yaml (variant {variant}): " in done.stdout
    summary = check(school.out, *school.files, "--summary", "--require", ",".join(GRADED))
    rows = {line.split()[0]: line.split() for line in summary.stdout.splitlines()
            if line.endswith(".yaml") or ".yaml " in line}
    bob = next(r for name, r in rows.items() if name.endswith("bob.yaml"))
    assert bob[1:] == ["002", "3/4", "3/4", "dW"]
    assert "4 files: 1 all right, 3 with wrong answers, 0 unusable" in summary.stdout


def test_the_generated_files_a_glob_passes_are_skipped(school: Class) -> None:
    every = sorted(school.out.glob("*/*.yaml"))
    assert len(every) == 4 * 3 + 4
    done = check(school.out, *every, "--json")
    doc = json.loads(done.stdout)
    assert sorted(Path(f["file"]).stem for f in doc["files"]) == sorted(STUDENTS)
    assert done.returncode == 1
    assert "note: 12 of the files given" in one_line(done)
    only_keys = check(school.out, *school.out.glob("*/answers.yaml"))
    assert only_keys.returncode == 2 and only_keys.stdout == ""
    assert "problem.yaml DIR/001/answers.yaml" in one_line(only_keys)


def test_scoring_options_work_per_variant(school: Class) -> None:
    done = check(school.out, *school.files, "--points", "dW=4,db=1", "--partial", "--json")
    files = {Path(f["file"]).stem: f for f in json.loads(done.stdout)["files"]}
    assert files["bob"]["score"] == 3 + 1  # 3 of dW's 4 entries right, of 4 points
    assert files["carol"]["score"] == 4 and files["carol"]["max_score"] == 5
    assert done.returncode == 1


def test_carry_forward_within_a_variant(school: Class, tmp_path: Path) -> None:
    problem = load(school.out / "001" / "problem.yaml")
    dy = np.array(school.keys["001"]["dY"], float)
    dy[0, 0] += 1
    own = solve_by_hand(problem, dy)  # dW and db worked out from erin's own wrong dY
    erin = school.out / "001" / "erin.yaml"
    erin.write_text(dump({"dY": dy, "dW": own["dW"], "db": own["db"]}), encoding="utf-8")
    try:
        done = check(school.out, erin, "--carry-forward", "--json")
    finally:
        erin.unlink()
    keys = {k["key"]: k for k in json.loads(done.stdout)["files"][0]["keys"]}
    assert not keys["dY"]["right"] and keys["dY"]["earned"] == 0
    moved = [k for k in ("dW", "db")
             if not np.array_equal(own[k], np.array(school.keys["001"][k], float))]
    assert moved  # erin's slip reaches dW and db: they are wrong, yet follow from her dY
    for key in moved:
        assert keys[key]["carried_forward"] and keys[key]["earned"] == 1, key
    assert done.returncode == 1, done


def test_class_report_across_variants_against_a_hand_count(school: Class, tmp_path: Path
                                                           ) -> None:
    out = tmp_path / "class.csv"
    done = check(school.out, *school.files, "--require", ",".join(GRADED), "--summary",
                 "--class-report", out)
    assert done.returncode == 1, done
    rows = {(r["key"], r["entry"]): r for r in csv.DictReader(io.StringIO(
        out.read_text(encoding="utf-8")))}
    for key in GRADED:
        # alice right; bob wrong only on dW; carol wrong only on db (missing); dave where 003
        # and 004 differ
        right = 1 + (key != "dW") + (key != "db") + int(school.dave_right(key).all())
        assert rows[(key, "")]["graded"] == "4" and int(rows[(key, "")]["right"]) == right
        shape = np.shape(school.keys["001"][key])
        for at in np.ndindex(shape) if shape else ():
            name = f"{key}[{','.join(str(i + 1) for i in at)}]"
            entry = 1 + (name != "dW[1,2]") + (key != "db") + int(school.dave_right(key)[at])
            assert int(rows[(key, name)]["right"]) == entry, name
        assert sum(1 for k, _ in rows if k == key) == 1 + (int(np.prod(shape)) if shape else 0)
    report = tmp_path / "class.json"
    check(school.out, *school.files, "--class-report", report)
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["variants"] == 4 and doc["files"] == 4
    assert all(k["shape"] is not None and "shapes" not in k for k in doc["keys"])


def test_without_points_or_require_the_templates_graded_keys_are_graded(school: Class
                                                                       ) -> None:
    # frank hands in his variant's whole answer key (Y, Z, A, loss ... too): only the keys
    # the template grades (blank.yaml's dY, dW, db, dX) count, as the students were asked
    assert list(load(school.out / "001" / "blank.yaml")) == GRADED
    frank = school.out / "001" / "frank.yaml"
    frank.write_text((school.out / "001" / "answers.yaml").read_text(encoding="utf-8"),
                     encoding="utf-8")
    try:
        done = check(school.out, frank, "--json")
    finally:
        frank.unlink()
    keys = [k["key"] for k in json.loads(done.stdout)["files"][0]["keys"] if k["graded"]]
    assert keys == GRADED and done.returncode == 0, done
    done = check(school.out, school.files[2])  # carol, without db: missing, so wrong
    assert "db" in done.stdout and done.returncode == 1, done


def test_class_report_counts_carried_forward_answers(school: Class, tmp_path: Path) -> None:
    problem = load(school.out / "001" / "problem.yaml")
    dy = np.array(school.keys["001"]["dY"], float)
    dy[0, 0] += 1
    own = solve_by_hand(problem, dy)  # gus's dW, db and dX follow from his wrong dY
    gus = school.out / "001" / "gus.yaml"
    gus.write_text(dump({"dY": dy, "dW": own["dW"], "db": own["db"], "dX": own["dX"]}),
                   encoding="utf-8")
    out = tmp_path / "class.csv"
    try:
        check(school.out, school.files[0], gus, "--carry-forward", "--summary",
              "--class-report", out)
        plain = tmp_path / "plain.csv"
        check(school.out, school.files[0], gus, "--summary", "--class-report", plain)
    finally:
        gus.unlink()
    rows = {(r["key"], r["entry"]): r for r in csv.DictReader(io.StringIO(
        out.read_text(encoding="utf-8")))}
    for key in ("dW", "db", "dX"):
        moved = not np.array_equal(own[key], np.array(school.keys["001"][key], float))
        # alice right; gus wrong where his slip moved the key, and carried forward there
        assert rows[(key, "")]["right"] == str(2 - moved)
        assert rows[(key, "")]["carried_forward"] == str(int(moved)), key
        shape = np.shape(own[key])
        for at in np.ndindex(shape) if shape else ():
            name = f"{key}[{','.join(str(i + 1) for i in at)}]"
            differs = own[key][at] != np.array(school.keys["001"][key], float)[at]
            assert rows[(key, name)]["carried_forward"] == str(int(differs)), name
    assert rows[("dY", "")]["carried_forward"] == "0"  # the slip itself is not excused
    assert "carried_forward" not in plain.read_text(encoding="utf-8").splitlines()[0]


# A class of two hand-made variants whose dW differ in shape: the seed worked example
# (dW = [[32, 41], [59, 68]], db = 9, SPEC section 1), and x = [[1, 2], [3, 4]] under a 1x1
# kernel [[1]] with sse against zeros: y = x, dY = 2x, dW = [[2+8+18+32]] = [[60]], db = 20.
SMALL = ("input: [[1, 2], [3, 4]]\nkernel: [[1]]\nbias: 0\ntarget: [[0, 0], [0, 0]]\n"
         "loss: sse\n")


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    out = tmp_path / "mixed"
    for name, text in (("001", (ROOT / "problems" / "seed_worked_example.yaml").read_text(
            encoding="utf-8")), ("002", SMALL)):
        (out / name).mkdir(parents=True)
        write(out / name, "problem.yaml", text)
    write(out, "manifest.json", json.dumps({"seed": 0, "count": 2, "variants": [
        {"dir": "001", "seed": 1}, {"dir": "002", "seed": 2}]}))
    write(out / "001", "a.yaml", "dW: [[32, 41], [59, 68]]\ndb: 9\n")
    write(out / "001", "b.yaml", "dW: [[32, 41], [59, 0]]\ndb: 9\n")
    write(out / "002", "c.yaml", "dW: [[60]]\ndb: 21\n")
    return out


def test_keys_of_different_shapes_are_reported_per_key_only(mixed: Path) -> None:
    files = [mixed / "001" / "a.yaml", mixed / "001" / "b.yaml", mixed / "002" / "c.yaml"]
    done = check(mixed, *files, "--class-report", mixed / "class.json")
    assert done.returncode == 1, done
    keys = {k["key"]: k for k in json.loads((mixed / "class.json").read_text(
        encoding="utf-8"))["keys"]}
    assert keys["dW"]["shape"] is None and keys["dW"]["shapes"] == [[2, 2], [1, 1]]
    assert (keys["dW"]["graded"], keys["dW"]["right"], keys["dW"]["entries"]) == (3, 2, [])
    assert (keys["db"]["graded"], keys["db"]["right"], keys["db"]["shape"]) == (3, 2, [])
    check(mixed, *files, "--class-report", mixed / "class.html")
    html = (mixed / "class.html").read_text(encoding="utf-8")
    assert "Per key only: the variants&#x27; results differ in shape (2x2, 1x1)" in html
    assert "3 answers files graded, each against its own variant (2 variants)" in html


def test_a_file_outside_every_variant_folder_is_one_line(school: Class, tmp_path: Path
                                                         ) -> None:
    stray = write(tmp_path, "zoe.yaml", dump(school.keys["001"]))
    done = check(school.out, school.files[0], stray)
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done)
    assert str(stray) in line and "copy each student's answers into their variant's folder" \
        in line and str(Path(school.out, "001", "zoe.yaml")) in line


@pytest.mark.parametrize("given", ["001", "."])
def test_a_folder_given_as_an_answers_file_is_one_line(school: Class, given: str) -> None:
    # check DIR DIR/* (a variant's folder, or the class's own, where DIR/*/* was meant): the
    # folder is named as one, not as a stray file to copy into 'DIR/001/001'.
    folder = school.out / given
    done = check(school.out, school.files[0], folder)
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done)
    assert line == (f"error: {folder} is a folder, not an answers file; give the students' "
                    f"files in the variant folders, e.g. {school.out}/*/*.yaml"), line


def test_a_folder_without_manifest_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "loose"
    (folder / "001").mkdir(parents=True)
    answers = write(folder / "001", "a.yaml", "db: 9\n")
    done = check(folder, answers)
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done)
    assert str(folder) in line and "without manifest.json" in line
    write(folder, "manifest.json", '{"variants": [{"dir": "../elsewhere"}]}')
    bad = check(folder, answers)
    assert bad.returncode == 2 and "not a manifest that convgrad generate writes" in \
        one_line(bad)


def test_a_variant_without_its_problem_is_one_line(mixed: Path) -> None:
    (mixed / "002" / "problem.yaml").unlink()
    done = check(mixed, mixed / "001" / "a.yaml", mixed / "002" / "c.yaml", "--json")
    assert done.returncode == 2 and done.stdout == ""
    line = one_line(done)
    assert str(mixed / "002" / "problem.yaml") in line and "variant 002" in line
    # a variant that no file lies in is not needed
    assert check(mixed, mixed / "001" / "a.yaml").returncode == 0


def test_a_shell_sees_checks_exit_code(school: Class) -> None:
    proc = subprocess.run([sys.executable, "-m", "convgrad", "check", str(school.out),
                           *map(str, school.files), "--summary"],
                          capture_output=True, text=True, timeout=120,
                          env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1, proc
    assert "Traceback" not in proc.stderr and proc.stderr == ""
    header = next(line for line in proc.stdout.splitlines() if line.startswith("file"))
    assert header.split()[:2] == ["file", "variant"]
    right = subprocess.run([sys.executable, "-m", "convgrad", "check", str(school.out),
                            str(school.files[0])], capture_output=True, text=True, timeout=120)
    assert right.returncode == 0, right


def test_conventions_that_differ_across_variants_are_stated_per_variant(mixed: Path) -> None:
    write(mixed / "002", "problem.yaml", SMALL + "conventions: {max_ties: last}\n")
    files = [mixed / "001" / "a.yaml", mixed / "002" / "c.yaml"]
    text = check(mixed, *files)
    lines = text.stdout.splitlines()
    assert lines[1].startswith("Conventions of variant 001 (pytorch): ")
    assert lines[2].startswith("Conventions of variant 002 (pytorch): ")
    assert "max_ties first" in lines[1] and "max_ties last" in lines[2]
    doc = json.loads(check(mixed, *files, "--json").stdout)
    assert "conventions" not in doc
    assert [f["conventions"]["max_ties"] for f in doc["files"]] == ["first", "last"]
    same = json.loads(check(mixed, files[0], "--json").stdout)
    assert same["conventions"]["max_ties"] == "first" and "conventions" not in same["files"][0]
