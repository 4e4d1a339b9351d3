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

import numpy as np
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
    assert "carried forward from your dY (credited)" in lines["db"]
    assert "carried forward" not in lines["dY"]
    assert "4/4 points" in proc.stdout.splitlines()[0] or "4 points" in proc.stdout


# --- chains through the activation and the pool, worked by hand ---------------------------------
#
# X = [[1,0,2],[2,1,0],[0,1,1]], W = [[1,-1],[0,1]], b = 0: Z[i,j] = X[i,j] - X[i,j+1] +
# X[i+1,j+1] = [[2,-2],[2,2]], so relu lets through every entry but Z[1,2]. dW[p,q] is the
# sum over i,j of X[i+p,j+q]·dZ[i,j]; db the sum of dZ; dX is W placed at each (i,j) times
# dZ[i,j], added up.

RELU = """\
input: "1 0 2; 2 1 0; 0 1 1"
kernel: "1 -1; 0 1"
activation: relu
target: "1 1; 0 1"
loss: half_sse
"""


def check_problem(work: Path, problem: str, answers: str, *args: str
                  ) -> tuple[Run, dict[str, dict]]:
    (work / "problem.yaml").write_text(problem, encoding="utf-8")
    (work / "answers.yaml").write_text(answers, encoding="utf-8")
    proc = run_main("check", "problem.yaml", "answers.yaml", "--json", *args, cwd=work)
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)
    return proc, {k["key"]: k for k in doc["files"][0]["keys"]}


def assert_carried(keys: dict[str, dict], slipped: str, *names: str) -> None:
    """`slipped` is wrong and loses its point; each of `names` (in backward's order) is
    carried forward from the latest gradient before it (dY, dA or dZ), and earns its point."""
    assert keys[slipped]["status"] == "wrong" and keys[slipped]["earned"] == 0
    assert "carried_forward" not in keys[slipped]
    source = slipped
    for name in names:
        assert keys[name]["status"] == "wrong", name  # not the right value ...
        assert keys[name]["carried_forward"] is True, name  # ... but what follows from source
        assert keys[name]["earned"] == keys[name]["points"] == 1, name
        assert f"carried forward from your {source} (credited):" in keys[name]["message"], name
        if name in ("dA", "dZ"):
            source = name


def test_relu_chain_from_a_wrong_dy(work: Path) -> None:
    # Right: Y = A = [[2,0],[2,2]], dY = Y - t = [[1,-1],[2,1]], dZ = dY·relu'(Z) = [[1,0],[2,1]],
    # dW = [[6,2],[3,4]], db = 4. The slip: dY[2,1] = 3. Then dZ = [[1,0],[3,1]] (relu stops
    # the -1), dW[1,1] = 1·1 + 2·3 + 1·1 = 8, dW[1,2] = 0 + 1·3 + 0 = 3, dW[2,1] = 2 + 0 + 1 = 3
    # (right by chance: X[3,1] = 0 meets the slip), dW[2,2] = 1 + 1·3 + 1 = 5, db = 5, and
    # dX = W at (1,1) + 3·W at (2,1) + W at (2,2) = [[1,-1,0],[3,-1,-1],[0,3,1]].
    answers = ("dY: [[1, -1], [3, 1]]\ndZ: [[1, 0], [3, 1]]\ndW: [[8, 3], [3, 5]]\ndb: 5\n"
               "dX: [[1, -1, 0], [3, -1, -1], [0, 3, 1]]\n")
    proc, keys = check_problem(work, RELU, answers, "--carry-forward")
    assert proc.returncode == 1
    assert_carried(keys, "dY", "dZ", "dW", "db", "dX")
    assert keys["dW"]["right_entries"] == 1  # dW[2,1]
    _, plain = check_problem(work, RELU, answers)
    assert all(plain[k]["earned"] == 0 for k in ("dZ", "dW", "db", "dX"))


def test_the_latest_earlier_answer_is_the_source(work: Path) -> None:
    # The same slip in dY, but the student's own dZ = [[1,0],[2,2]] does not follow from it
    # (it is wrong both ways). dW, db and dX follow from that dZ: dW[p,q] = X[p,q] +
    # 2·X[p+1,q] + 2·X[p+1,q+1] = [[7,2],[4,5]], db = 5, dX = W at (1,1) + 2·W at (2,1) +
    # 2·W at (2,2) = [[1,-1,0],[2,1,-2],[0,2,2]].
    answers = ("dY: [[1, -1], [3, 1]]\ndZ: [[1, 0], [2, 2]]\ndW: [[7, 2], [4, 5]]\ndb: 5\n"
               "dX: [[1, -1, 0], [2, 1, -2], [0, 2, 2]]\n")
    _, keys = check_problem(work, RELU, answers, "--carry-forward")
    assert "carried_forward" not in keys["dZ"] and keys["dZ"]["earned"] == 0
    assert_carried(keys, "dZ", "dW", "db", "dX")


MAX_POOL = """\
input: "1 0 2 1; 0 3 1 0; 2 1 0 1; 1 0 2 2"
kernel: "1 0; 0 1"
pool: {type: max, size: 2, stride: 1}
target: "3 2; 2 1"
loss: half_sse
"""


def test_max_pool_chain_from_a_wrong_dy(work: Path) -> None:
    # Z[i,j] = X[i,j] + X[i+1,j+1] = [[4,1,2],[1,3,2],[2,3,2]]. The 2x2 windows (stride 1)
    # send their gradient to Z[1,1] (4) and Z[2,2] (3, the first 3 in each of the three
    # others), Y = [[4,3],[3,3]], dY = Y - t = [[1,1],[1,2]]. The slip: dY[2,2] = 5. Then
    # dZ[1,1] = 1, dZ[2,2] = 1 + 1 + 5 = 7 (else 0), dW[p,q] = X[p,q] + 7·X[p+1,q+1] =
    # [[22,7],[7,3]], db = 8, dX = W at (1,1) + 7·W at (2,2): 1 at [1,1], 8 at [2,2], 7 at [3,3].
    answers = ("dY: [[1, 1], [1, 5]]\ndZ: [[1, 0, 0], [0, 7, 0], [0, 0, 0]]\n"
               "dW: [[22, 7], [7, 3]]\ndb: 8\n"
               "dX: [[1, 0, 0, 0], [0, 8, 0, 0], [0, 0, 7, 0], [0, 0, 0, 0]]\n")
    _, keys = check_problem(work, MAX_POOL, answers, "--carry-forward")
    assert_carried(keys, "dY", "dZ", "dW", "db", "dX")


def test_max_pool_chain_under_another_ties_convention(work: Path) -> None:
    # max_ties: last sends the three windows holding two 3s to Z[3,2] instead, except the
    # top-right window (1, 2, 3, 2: one 3). From dY = [[1,1],[1,5]]: dZ[1,1] = 1, dZ[2,2] = 1,
    # dZ[3,2] = 1 + 5 = 6, so dW[p,q] = X[p,q] + X[p+1,q+1] + 6·X[p+2,q+1] = [[10,1],[1,15]],
    # db = 8.
    problem = MAX_POOL + "conventions: {max_ties: last}\n"
    answers = "dY: [[1, 1], [1, 5]]\ndW: [[10, 1], [1, 15]]\ndb: 8\n"
    _, keys = check_problem(work, problem, answers, "--carry-forward")
    assert_carried(keys, "dY", "dW", "db")
    # The first-maximum rule's numbers are no longer what follows from this dY.
    answers = "dY: [[1, 1], [1, 5]]\ndW: [[22, 7], [7, 3]]\n"
    _, keys = check_problem(work, problem, answers, "--carry-forward")
    assert "carried_forward" not in keys["dW"] and keys["dW"]["earned"] == 0


AVG_POOL = RELU.replace('target: "1 1; 0 1"', 'pool: {type: avg, size: 2}\ntarget: "1/2"')


def test_relu_and_avg_pool_chain_from_a_wrong_da(work: Path) -> None:
    # A = relu(Z) = [[2,0],[2,2]], Y = 6/4 = 3/2, dY = Y - t = 1, so the right dA is 1/4
    # everywhere. The slip: dA[2,2] = 1. Then dZ = [[1/4,0],[1/4,1]], dW[p,q] =
    # X[p,q]/4 + X[p+1,q]/4 + X[p+1,q+1] = [[7/4,1/4],[3/2,3/2]], db = 3/2, and dX = W/4 at
    # (1,1) + W/4 at (2,1) + W at (2,2) = [[1/4,-1/4,0],[1/4,1,-1],[0,1/4,1]].
    answers = ("dY: 1\ndA: [[1/4, 1/4], [1/4, 1]]\ndZ: [[1/4, 0], [1/4, 1]]\n"
               "dW: [[7/4, 1/4], [3/2, 3/2]]\ndb: 3/2\n"
               "dX: [[1/4, -1/4, 0], [1/4, 1, -1], [0, 1/4, 1]]\n")
    proc, keys = check_problem(work, AVG_POOL, answers, "--carry-forward")
    assert keys["dY"]["status"] == "right"
    assert_carried(keys, "dA", "dZ", "dW", "db", "dX")
    assert json.loads(proc.stdout)["files"][0]["score"] == 5  # of 6: dA loses its own


def test_relu_and_avg_pool_chain_from_a_wrong_dy(work: Path) -> None:
    # dY = 2 instead of 1 doubles everything after it: dA = 1/2 everywhere, dZ =
    # [[1/2,0],[1/2,1/2]], dW = [[2,1/2],[3/2,3/2]], db = 3/2.
    answers = ("dY: 2\ndA: [[1/2, 1/2], [1/2, 1/2]]\ndZ: [[1/2, 0], [1/2, 1/2]]\n"
               "dW: [[2, 1/2], [3/2, 3/2]]\ndb: 3/2\n")
    _, keys = check_problem(work, AVG_POOL, answers, "--carry-forward")
    assert_carried(keys, "dY", "dA", "dZ", "dW", "db")


@pytest.mark.parametrize(("problem", "answers"), [
    (RELU, "dY: [[1, -1], [3, 1]]\ndZ: [[1, 0], [3, 1]]\ndW: [[8, 3], [3, 5]]\ndb: 5\n"
           "dX: [[1, -1, 0], [3, -1, -1], [0, 3, 1]]\n"),
    (MAX_POOL, "dY: [[1, 1], [1, 5]]\ndZ: [[1, 0, 0], [0, 7, 0], [0, 0, 0]]\n"
               "dW: [[22, 7], [7, 3]]\ndb: 8\n"
               "dX: [[1, 0, 0, 0], [0, 8, 0, 0], [0, 0, 7, 0], [0, 0, 0, 0]]\n"),
    (AVG_POOL, "dA: [[1/4, 1/4], [1/4, 1]]\ndZ: [[1/4, 0], [1/4, 1]]\n"
               "dW: [[7/4, 1/4], [3/2, 3/2]]\ndb: 3/2\n"
               "dX: [[1/4, -1/4, 0], [1/4, 1, -1], [0, 1/4, 1]]\n"),
], ids=["relu", "max_pool", "relu_avg_pool"])
def test_the_hand_worked_numbers_are_the_reference_twins(problem: str, answers: str) -> None:
    """The numbers above, worked by hand, again by reference.py's loops from the slipped key
    (so that a slip in the hand working cannot pass for the grader's)."""
    import yaml

    from convgrad import reference as ref
    from convgrad.numbers import parse_array

    p, a = yaml.safe_load(problem), yaml.safe_load(answers)
    x, w = parse_array(p["input"])[None], parse_array(p["kernel"])[None, None]
    z = ref.conv_forward(x, w, np.zeros(1, dtype=object), (1, 1), (0, 0, 0, 0), (1, 1))
    if "dA" in a:
        dz = ref.activation_backward("relu", z, parse_array(a["dA"])[None])
    elif "activation" in p:
        dz = ref.activation_backward("relu", z, parse_array(a["dY"])[None])
    else:
        dz = ref.pool_backward("max", z, parse_array(a["dY"])[None], (2, 2), (1, 1))
    dx, dw, db = ref.conv_backward(x, w, dz, (1, 1), (0, 0, 0, 0), (1, 1))
    for key, value in (("dZ", dz), ("dW", dw), ("db", db), ("dX", dx)):
        assert np.array_equal(np.asarray(value).reshape(-1),
                              np.asarray(parse_array(a[key])).reshape(-1)), key
