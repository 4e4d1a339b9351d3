"""`convgrad check --carry-forward` (SPEC section 9): a later key that is wrong but follows
by the rules from the student's own earlier answer earns its points.

The numbers are worked by hand from the seed example (X = [[1,2,3],[4,5,6],[7,8,9]],
W = [[1,0],[-1,1]], b = 1, target [[1,0],[0,1]], mse; the right dY is [[1,2],[3,3]]). A
student who writes dY = [[1,0],[0,1]] and follows the rules from there has
dW = correlation of X with their dY: dW[p,q] = X[p,q] + X[p+1,q+1] = [[6,8],[12,14]],
db = the sum of their dY = 2, and dX = the full convolution of their dY with W: W placed at
(0,0) plus W placed at (1,1) = [[1,0,0],[-1,2,0],[0,-1,1]].
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, Run, run_main

SEED = "seed_worked_example.yaml"
CARRIED = """\
dY: [[1, 0], [0, 1]]
dW: [[6, 8], [12, 14]]
db: 2
dX: [[1, 0, 0], [-1, 2, 0], [0, -1, 1]]
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "problems" / SEED, tmp_path / SEED)
    return tmp_path


def check(work: Path, answers: str, *args: str) -> tuple[Run, dict[str, dict]]:
    (work / "answers.yaml").write_text(answers, encoding="utf-8")
    proc = run_main("check", SEED, "answers.yaml", "--json", *args, cwd=work)
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    return proc, {k["key"]: k for k in doc["files"][0]["keys"]}


def test_later_keys_consistent_with_a_wrong_dy_are_carried_forward(work: Path) -> None:
    proc, keys = check(work, CARRIED, "--carry-forward")
    assert proc.returncode == 1  # dY is still wrong
    assert keys["dY"]["status"] == "wrong" and keys["dY"]["earned"] == 0
    assert "carried_forward" not in keys["dY"]
    for key in ("dW", "db", "dX"):
        assert keys[key]["carried_forward"] is True, key
        assert keys[key]["earned"] == keys[key]["points"] == 1, key


def test_without_the_option_the_same_file_is_wrong(work: Path) -> None:
    proc, keys = check(work, CARRIED)
    assert proc.returncode == 1
    for key in ("dY", "dW", "db", "dX"):
        assert keys[key]["status"] == "wrong" and keys[key]["earned"] == 0, key
        assert "carried_forward" not in keys[key], key


def test_a_key_wrong_both_ways_stays_wrong(work: Path) -> None:
    # dW is neither the right [[32,41],[59,68]] nor [[6,8],[12,14]] from this dY.
    answers = CARRIED.replace("dW: [[6, 8], [12, 14]]", "dW: [[6, 8], [12, 15]]")
    _, keys = check(work, answers, "--carry-forward")
    assert keys["dW"]["earned"] == 0 and "carried_forward" not in keys["dW"]
    assert keys["db"]["carried_forward"] is True


def test_right_keys_stay_right_and_entries_carry(work: Path) -> None:
    # dX[2,1] is 2 by the right dY and -1 by this one; dX[3,1] is -3 and 0, never 5.
    answers = ("dY: [[1, 0], [0, 1]]\ndW: [[32, 41], [59, 68]]\n'dX[2,1]': -1\n"
               "'dX[3,1]': 5\n")
    _, keys = check(work, answers, "--carry-forward")
    assert keys["dW"]["status"] == "right" and "carried_forward" not in keys["dW"]
    assert keys["dX[2,1]"]["carried_forward"] is True
    assert "carried_forward" not in keys["dX[3,1]"] and keys["dX[3,1]"]["earned"] == 0


def test_the_text_report_says_carried_forward(work: Path) -> None:
    (work / "answers.yaml").write_text(CARRIED, encoding="utf-8")
    proc = run_main("check", SEED, "answers.yaml", "--carry-forward", cwd=work)
    assert proc.returncode == 1
    lines = {line.split()[1]: line for line in proc.stdout.splitlines()[1:] if line.strip()
             and len(line.split()) > 1}
    assert "carried forward from your dY" in lines["db"]
    assert "carried forward" not in lines["dY"]
    assert "4/4 points" in proc.stdout.splitlines()[0] or "4 points" in proc.stdout
