"""check --class-report FILE (SPEC section 9): per key and per entry the share of files right and
the hints by kind, as csv, json or html; check's own output and exit code unchanged."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, Run, one_line, run_main

# The seed worked example: dW = [[32, 41], [59, 68]], db = 9 (SPEC section 1).
SEED = "seed_worked_example.yaml"
CLASS = {
    "a.yaml": "dW: [[32, 41], [59, 68]]\ndb: 9\n",        # all right
    "b.yaml": "dW: [[32, 59], [41, 68]]\ndb: -9\n",       # dW transposed, db's sign
    "c.yaml": "dW: [[32, 41], [59, 0]]\n",                # dW[2,2] wrong; no db
    "d.yaml": "dW: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]\n",  # wrong shape; no db
    "e.yaml": "dW: [[1, 2]\n",                            # unusable (YAML)
}
FILES = list(CLASS)
KINDS = ["wrong_shape", "transposed_shape", "transposed", "sign", "rotated", "zeros",
         "convention", "profile", "factor", "decimals"]

# Worked by hand from CLASS. dW: a right; b right at [1,1] and [2,2]; c right but at [2,2];
# d wrong everywhere (its shape). db: a right, b wrong (sign), c and d did not answer it
# (missing 2). The unusable e counts nowhere.
EXPECTED_ROWS = [
    # key, entry, graded, right, share, {kind: count}, missing
    ("dW", "", 4, 1, 1 / 4, {"transposed": 1, "wrong_shape": 1}, 0),
    ("dW", "dW[1,1]", 4, 3, 3 / 4, {"wrong_shape": 1}, 0),
    ("dW", "dW[1,2]", 4, 2, 2 / 4, {"transposed": 1, "wrong_shape": 1}, 0),
    ("dW", "dW[2,1]", 4, 2, 2 / 4, {"transposed": 1, "wrong_shape": 1}, 0),
    ("dW", "dW[2,2]", 4, 2, 2 / 4, {"wrong_shape": 1}, 0),
    ("db", "", 4, 1, 1 / 4, {"sign": 1}, 2),
]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "problems" / SEED, tmp_path / SEED)
    for name, text in CLASS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def check(work: Path, *args: object) -> Run:
    proc = run_main("check", SEED, *args, cwd=work)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc
    return proc


def test_csv_shares_and_hint_counts_on_a_hand_built_class(work):
    proc = check(work, *FILES, "--class-report", "class.csv")
    assert proc.returncode == 2  # check's code: e is unusable
    rows = list(csv.DictReader(io.StringIO((work / "class.csv").read_text(encoding="utf-8"))))
    with (work / "class.csv").open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == ["key", "entry", "graded", "right", "share_right", *KINDS, "missing"]
    assert len(rows) == len(EXPECTED_ROWS)
    for row, (key, entry, graded, right, share, hints, missing) in zip(rows, EXPECTED_ROWS,
                                                                        strict=True):
        assert (row["key"], row["entry"]) == (key, entry)
        assert (int(row["graded"]), int(row["right"])) == (graded, right), row
        assert float(row["share_right"]) == pytest.approx(share, abs=1e-3)
        assert {k: int(row[k]) for k in KINDS} == {k: hints.get(k, 0) for k in KINDS}, row
        assert int(row["missing"]) == missing, row


def test_json_holds_the_same_numbers_and_counts_files(work):
    proc = check(work, *FILES, "--class-report", "class.json")
    assert proc.returncode == 2
    doc = json.loads((work / "class.json").read_text(encoding="utf-8"))
    assert (doc["files"], doc["unusable"]) == (4, 1)
    # e.yaml's YAML error, on one line, with the file named beside it
    [unusable] = doc["unusable_files"]
    assert unusable["file"] == "e.yaml" and "\n" not in unusable["reason"]
    assert "line" in unusable["reason"] and not unusable["reason"].startswith("e.yaml")
    assert doc["hint_kinds"] == KINDS
    rows = []
    for key in doc["keys"]:
        rows.append((key["key"], "", key["graded"], key["right"], key["share_right"],
                     key["hints"], key["missing"]))
        rows += [(key["key"], e["entry"], e["graded"], e["right"], e["share_right"],
                  e["hints"], e["missing"]) for e in key["entries"]]
    assert [k["shape"] for k in doc["keys"]] == [[2, 2], []]
    assert len(rows) == len(EXPECTED_ROWS)
    for got, want in zip(rows, EXPECTED_ROWS, strict=True):
        assert got[:4] == want[:4]
        assert got[4] == pytest.approx(want[4])
        assert got[5] == {k: want[5].get(k, 0) for k in KINDS}
        assert got[6] == want[6]


def test_json_fields_are_documented_in_the_readme(work):
    check(work, *FILES, "--class-report", "class.json")
    doc = json.loads((work / "class.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("#### The class report", 1)[1].split("\n###", 1)[0]
    fields = set(doc) | set(doc["keys"][0]) | set(doc["keys"][0]["entries"][0])
    for name in fields:
        assert f"`{name}`" in section, name


def test_a_missing_key_of_the_graded_set_counts_as_wrong(work):
    # loss is named by --points and answered by no one: 0 of 4 right.
    proc = check(work, *FILES[:4], "--points", "dW=1,loss=1", "--class-report", "c.json")
    assert proc.returncode == 1
    keys = {k["key"]: k for k in json.loads((work / "c.json").read_text())["keys"]}
    assert (keys["loss"]["graded"], keys["loss"]["right"], keys["loss"]["share_right"]) \
        == (4, 0, 0.0)
    assert keys["loss"]["entries"] == []
    assert set(keys) == {"dW", "loss"}


def test_no_reveal_counts_only_the_hints_the_default_report_may_show(work):
    check(work, *FILES[:4], "--no-reveal", "--class-report", "c.json")
    doc = json.loads((work / "c.json").read_text())
    assert doc["hint_kinds"] == ["wrong_shape"]
    assert doc["keys"][0]["hints"] == {"wrong_shape": 1}


def test_html_is_self_contained_with_a_heat_map_per_key(work):
    proc = check(work, *FILES[:4], "--class-report", "class.html")
    assert proc.returncode == 1
    html = (work / "class.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    # nothing from the network, nothing that needs a script
    for outside in ("http:", "https:", "//", "<script", "<link", "src=", "url(", "@import"):
        assert outside not in html.replace("<!DOCTYPE", ""), outside
    # dW's heat map: each entry with its share as text, coloured by it
    cells = dict(re.findall(r'data-entry="(dW\[\d,\d\])">(\d+%)</td>', html))
    assert cells == {"dW[1,1]": "75%", "dW[1,2]": "50%", "dW[2,1]": "50%", "dW[2,2]": "50%"}
    full = re.search(r'style="background: ([^"]+)"[^>]*data-entry="dW\[1,1\]"', html)
    half = re.search(r'style="background: ([^"]+)"[^>]*data-entry="dW\[1,2\]"', html)
    assert full and half and full.group(1) != half.group(1)
    assert html.count('<table class="heat"') == 1  # db is one number: no heat map


def test_html_heat_map_of_a_4d_result_has_one_table_per_slice(work):
    shutil.copy(ROOT / "problems" / "multichannel_relu_maxpool.yaml", work / "multi.yaml")
    (work / "z.yaml").write_text("dW: " + json.dumps([[[[0] * 3] * 3] * 2] * 2) + "\n")
    proc = run_main("check", "multi.yaml", "z.yaml", "--class-report", "m.html", cwd=work)
    assert proc.returncode == 1, proc
    html = (work / "m.html").read_text(encoding="utf-8")
    assert html.count('<table class="heat"') == 4  # dW is 2x2x3x3
    assert html.count("data-entry=") == 36
    assert "dW[2,1,:,:]" in html


def test_check_output_and_exit_code_are_unchanged(work):
    plain = check(work, *FILES)
    with_report = check(work, *FILES, "--class-report", "class.html")
    assert (with_report.returncode, with_report.stdout, with_report.stderr) == \
        (plain.returncode, plain.stdout, plain.stderr)
    plain = check(work, *FILES[:4], "--json")
    with_report = check(work, *FILES[:4], "--json", "--class-report", "class.csv")
    assert (with_report.returncode, with_report.stdout) == (plain.returncode, plain.stdout)
    assert check(work, "a.yaml", "--class-report", "one.json").returncode == 0


def test_an_unwritable_path_is_one_line_and_exit_2(work):
    proc = check(work, *FILES[:4], "--class-report", str(work / "no" / "such" / "c.html"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--class-report" in one_line(proc)
    (work / "folder.csv").mkdir()
    proc = check(work, *FILES[:4], "--class-report", "folder.csv")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--class-report" in one_line(proc)


@pytest.mark.parametrize("path", ["class.txt", "-", ""])
def test_a_path_without_a_format_is_a_usage_error(work, path):
    proc = check(work, *FILES[:4], "--class-report", path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "--class-report" in one_line(proc)
    assert not (work / "class.txt").exists()


def test_the_report_never_overwrites_an_answers_file(work):
    shutil.copy(work / "a.yaml", work / "a.json")
    proc = check(work, "a.json", "--class-report", "a.json")
    assert proc.returncode == 2 and "overwrite" in one_line(proc)
    assert (work / "a.json").read_text() == CLASS["a.yaml"]


def test_written_atomically_no_temporary_file_left(work):
    (work / "class.csv").write_text("old\n")
    check(work, *FILES[:4], "--class-report", "class.csv")
    assert (work / "class.csv").read_text().startswith("key,entry,")
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []


def test_every_hint_kind_the_grader_gives_has_a_column():
    # The csv's columns are HINT_KINDS: each kind written in grade.py must be among them.
    from convgrad.grade import HINT_KINDS

    source = (ROOT / "src" / "convgrad" / "grade.py").read_text(encoding="utf-8")
    written = set(re.findall(r'\b(?:Hint|Alternative)\(\s*"([a-z_]+)"', source))
    assert written >= {"sign", "transposed", "wrong_shape", "rotated", "convention"}
    assert written <= set(HINT_KINDS)
    assert list(HINT_KINDS) == KINDS


def test_carry_forward_always_has_its_column(work):
    # No file here has a key carried forward (db follows from no dY of its own), yet the
    # column is there with --carry-forward, so the csv's columns are the same run to run.
    check(work, *FILES[:4], "--carry-forward", "--class-report", "c.csv")
    with (work / "c.csv").open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
        rows = list(csv.DictReader(io.StringIO((work / "c.csv").read_text(encoding="utf-8"))))
    assert header == ["key", "entry", "graded", "right", "share_right", *KINDS,
                      "carried_forward", "missing"]
    assert all(row["carried_forward"] == "0" for row in rows)
    check(work, *FILES[:4], "--class-report", "d.csv")
    assert "carried_forward" not in (work / "d.csv").read_text(encoding="utf-8")


def test_every_credited_answer_is_counted_as_carried_forward(work):
    # f doubles dY (the seed's [[1, 2], [3, 3]]) and works on correctly from it: dW, db and
    # dX are linear in dY, so by hand its dW is 2 * [[32, 41], [59, 68]], db 2 * 9, dX twice
    # SPEC's. Each of those is credited as carried forward, so each counts in that column at
    # its key and at every entry of it, whatever else the doubled value looks like (a factor
    # of 2, the half_sse loss): the mistake the class should hear about is dY's alone.
    (work / "f.yaml").write_text(
        "dY: [[2, 4], [6, 6]]\n"
        "dW: [[64, 82], [118, 136]]\n"
        "db: 18\n"
        "dX: [[2, 4, 0], [4, 4, 4], [-6, 0, 6]]\n", encoding="utf-8")
    (work / "g.yaml").write_text(
        "dY: [[1, 2], [3, 3]]\n"
        "dW: [[32, 59], [41, 68]]\n"     # transposed, not carried forward
        "db: 9\n"
        "dX: [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]\n", encoding="utf-8")
    proc = check(work, "f.yaml", "g.yaml", "--carry-forward", "--require", "dY,dW,db,dX",
                 "--class-report", "c.csv")
    assert proc.returncode == 1
    rows = list(csv.DictReader(io.StringIO((work / "c.csv").read_text(encoding="utf-8"))))
    by = {(row["key"], row["entry"]): row for row in rows}
    for key in ("dW", "db", "dX"):
        for (k, entry), row in by.items():
            if k != key:
                continue
            hinted = {kind: int(row[kind]) for kind in KINDS if int(row[kind])}
            wrong_in_f = entry == "" or key != "dX" or entry not in ("dX[1,3]", "dX[3,2]")
            expected_hints = {"transposed": 1} if key == "dW" and entry in (
                "", "dW[1,2]", "dW[2,1]") else {}
            assert int(row["carried_forward"]) == (1 if wrong_in_f else 0), row
            assert hinted == expected_hints, row
    # dY itself: f's slip is wrong at dY, not carried forward
    assert by[("dY", "")]["carried_forward"] == "0"
    assert int(by[("dY", "")]["right"]) == 1


def test_html_names_the_unusable_files_and_the_missing_answers(work):
    check(work, *FILES, "--class-report", "class.html")
    html = (work / "class.html").read_text(encoding="utf-8")
    unusable = re.search(r'<ul class="unusable">(.*?)</ul>', html, re.S)
    assert unusable and "<code>e.yaml</code>: " in unusable.group(1)
    # db's row of the summary: key, graded 4, right 1, 25%, the hints (sign 1), missing 2
    row = re.search(r"<tr><td>db</td>(.*?)</tr>", html)
    assert row
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    assert cells[:3] == ["4", "1", "25%"] and cells[-1] == "2"
    assert cells[3:-1] == ["1" if k == "sign" else "0" for k in KINDS]


def test_html_heads_are_words_that_wrap_with_the_identifier_as_title(work):
    check(work, *FILES[:4], "--carry-forward", "--class-report", "class.html")
    html = (work / "class.html").read_text(encoding="utf-8")
    summary = html.split('<table class="summary">', 1)[1].split("</tr>", 1)[0]
    heads = re.findall(r'<th title="([a-z_]+)">([^<]+)</th>', summary)
    assert [title for title, _ in heads] == ["key", "graded", "right", "share_right", *KINDS,
                                             "carried_forward", "missing"]
    labels = dict(heads)
    assert labels["transposed_shape"] == "transposed shape"
    assert labels["carried_forward"] == "carried forward"
    # A 1000-pixel window: every head wraps at its spaces, so the table is as wide as its
    # longest words; at about 0.55 em per bold letter of a 0.72 em head (16 px), plus
    # padding, their sum stays inside 1000 px less the page's margins and a scroll bar.
    # (Headless Chromium at 1000 px draws this table, with a network's keys, under 970 px wide.)
    words = [max(len(w) for w in label.split()) for _, label in heads]
    assert sum(0.55 * 0.72 * 16 * n + 0.5 * 0.9 * 16 + 1 for n in words) < 1000 - 2 * 16 - 15
    assert "white-space: normal" in html and "max-width" in html
