"""`convgrad generate` (SPEC section 9): variants of a template, their answer keys, the
manifest, the requirements.

Every requirement is checked here from the variant's problem file alone, with NumPy written
out as the formulas read (conv, ReLU, 2x2 max pooling), not with the generator's own checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from .conftest import one_line, run_main, write

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "problems" / "templates" / "relu_maxpool.yaml"

# stride 3 and a 2x2 kernel on a 5x5 input: row and column 2 are read by no window
UNCOVERED = """\
name: stride 3 skips a row and a column
input: {shape: [5, 5], entries: {int: [-2, 2]}}
kernel: {shape: [2, 2], entries: {int: [-1, 1]}}
bias: 0
stride: 3
target: {shape: [2, 2], entries: {fraction: [-1, 1], denominators: [2]}}
loss: half_sse
require: [uncovered, distinct]
"""

DISTINGUISHES = """\
name: which tied maximum gets the gradient
input: {shape: [4, 4], entries: {int: [0, 2]}}
kernel: [[1]]
bias: 0
pool: {type: max, size: 2, stride: 2}
target: {shape: [2, 2], entries: {int: [0, 3]}}
loss: half_sse
graded: [dX]
require: [{distinguishes: [max_ties]}]
"""


def generate(tmp_path: Path, template: Path, count: int, seed: int, name: str = "out"
             ) -> Path:
    out = tmp_path / name
    done = run_main("generate", template, "--count", count, "--seed", seed, "--out", out)
    assert done.returncode == 0, done
    return out


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def variants(out: Path) -> list[Path]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return [out / v["dir"] for v in manifest["variants"]]


def conv(x: np.ndarray, w: np.ndarray, b: float, stride: int) -> np.ndarray:
    """Cross-correlation, x (H, W), w (KH, KW) -> (OH, OW), as SPEC section 2 writes it."""
    KH, KW = w.shape
    OH, OW = (x.shape[0] - KH) // stride + 1, (x.shape[1] - KW) // stride + 1
    return np.array([[np.sum(x[i * stride:i * stride + KH, j * stride:j * stride + KW] * w) + b
                      for j in range(OW)] for i in range(OH)])


def windows(a: np.ndarray) -> list[np.ndarray]:
    """The 2x2 stride-2 pooling windows of a."""
    return [a[i:i + 2, j:j + 2].ravel() for i in range(0, a.shape[0] - 1, 2)
            for j in range(0, a.shape[1] - 1, 2)]


def leaves(value: Any) -> list[Any]:
    return [v for item in value for v in leaves(item)] if isinstance(value, list) else [value]


def test_every_variant_solves_and_its_key_passes_check(tmp_path: Path) -> None:
    out = generate(tmp_path, TEMPLATE, 30, 7)
    folders = variants(out)
    assert [f.name for f in folders] == [f"{k:03d}" for k in range(1, 31)]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7 and manifest["count"] == 30
    for folder in folders:
        done = run_main("check", folder / "problem.yaml", folder / "answers.yaml")
        assert done.returncode == 0, done
        assert load(folder / "blank.yaml") == {"dY": None, "dW": None, "db": None, "dX": None}
        # a wrong key is caught: the key is not simply accepted
        answers = load(folder / "answers.yaml")
        answers["db"] += 1
        wrong = write(tmp_path, "wrong.yaml", yaml.safe_dump(answers))
        assert run_main("check", folder / "problem.yaml", wrong).returncode == 1


def test_requirements_hold_from_the_problem_alone(tmp_path: Path) -> None:
    out = generate(tmp_path, TEMPLATE, 30, 11)
    problems = []
    for folder in variants(out):
        problem = load(folder / "problem.yaml")
        problems.append(problem)
        x, w = np.array(problem["input"], float), np.array(problem["kernel"], float)
        z = conv(x, w, problem["bias"], problem["stride"])
        assert (z == 0).any()  # relu_kink
        a = np.maximum(z, 0)
        assert any((win == win.max()).sum() > 1 for win in windows(a))  # max_tie
        y = np.array([[win.max() for win in windows(a)]]).reshape(2, 2)
        answers = load(folder / "answers.yaml")
        assert np.array_equal(np.array(answers["Y"]), y)  # the key is the problem's
        # integer_results: every number of the key a whole number (YAML int); the key also
        # states the conventions, as solve --json does (SPEC section 9)
        assert answers.pop("conventions")["profile"] == "pytorch"
        flat = [v for value in answers.values() for v in leaves(value)]
        assert all(isinstance(v, int) for v in flat), folder
    texts = [json.dumps(p, sort_keys=True) for p in problems]
    assert len(set(texts)) == len(texts)  # distinct


def test_uncovered(tmp_path: Path) -> None:
    out = generate(tmp_path, write(tmp_path, "t.yaml", UNCOVERED), 5, 1)
    for folder in variants(out):
        problem = load(folder / "problem.yaml")
        H = len(problem["input"])
        K, s = len(problem["kernel"]), problem["stride"]
        OH = (H - K) // s + 1
        covered = {i * s + k for i in range(OH) for k in range(K)}
        assert set(range(H)) - covered, folder
        # fractions are written so that check and solve read them: 1/2 as 0.5
        assert all(v in (-1, -0.5, 0, 0.5, 1) for v in np.ravel(problem["target"]))
        assert run_main("check", folder / "problem.yaml", folder / "answers.yaml"
                        ).returncode == 0


@pytest.mark.parametrize(("mode", "found", "dx"), [
    ("zeros", True, [0, 1]), ("replicate", False, [1, 1]), ("circular", True, [0, 2]),
    ("reflect", True, [0, 2])])
def test_uncovered_counts_a_cell_read_through_its_padded_copy(mode: str, found: bool,
                                                              dx: list[int]) -> None:
    """require: uncovered asks for a dL/dX of 0 by geometry. 2 rows, one padding row on top,
    1x1 kernel, stride 2: the windows read padded rows 1 and 3, that is the padding and input
    row 2. The padding row holds a zero (zeros), a copy of row 1 (replicate: row 1 is read),
    of row 2 (circular wraps around from the bottom; reflect mirrors across row 1)."""
    import convgrad
    from convgrad.engine import run
    from convgrad.generate import _met
    from convgrad.reader import problem_from_dict

    problem = {"input": [[1], [1]], "kernel": 1, "stride": [2, 1], "padding": [1, 0, 0, 0],
               "padding_mode": mode, "grad_output": [[1], [1]]}
    assert _met(run(problem_from_dict(problem)), "uncovered") is found
    # dL/dX by hand: each window's 1 goes to the row it reads or its padding copies
    assert convgrad.solve(problem)["dX"].tolist() == [[v] for v in dx]


def test_distinguishes(tmp_path: Path) -> None:
    out = generate(tmp_path, write(tmp_path, "t.yaml", DISTINGUISHES), 5, 3)
    for folder in variants(out):
        problem = load(folder / "problem.yaml")
        keys = set()
        for ties in ("first", "last", "all", "split"):
            moved = dict(problem, conventions={"max_ties": ties})
            path = write(tmp_path, "p.yaml", yaml.safe_dump(moved))
            done = run_main("solve", "--json", path)
            assert done.returncode == 0, done
            keys.add(json.dumps(json.loads(done.stdout)["dX"]))
        assert len(keys) > 1, folder
        # and by hand: a window of the 4x4 input with a tied maximum that gets a gradient
        x = np.array(problem["input"], float)
        assert any((win == win.max()).sum() > 1 for win in windows(x))
        assert load(folder / "blank.yaml") == {"dX": None}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path, TEMPLATE, 4, 5, "a")
    second = generate(tmp_path, TEMPLATE, 4, 5, "b")
    other = generate(tmp_path, TEMPLATE, 4, 6, "c")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 13
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "001" / "problem.yaml").read_bytes() != \
        (other / "001" / "problem.yaml").read_bytes()
    assert str(tmp_path) not in (first / "manifest.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("text, says", [
    ("input: {int: [3, 1]}\nkernel: [[1]]\n", "line 1: 'int' needs [low, high]"),
    ("input: {shape: [2, 2]}\nkernel: [[1]]\n", "'shape' needs 'entries'"),
    ("input: [[1]]\nkernel: [[1]]\nrequire: [tied]\n", "'require': 'tied' is not"),
    ("input: [[1]]\nkernel: [[1]]\nrequire: [{distinguishes: [ties]}]\n",
     "'ties' is not a convention key"),
    ("input: [[1, 2], [3, 4]]\nkernel: [[1]]\ntarget: [[1, 2], [3, 4]]\nloss: sse\n"
     "require: [max_tie]\n", "require max_tie cannot be met: the problem has no max pooling"),
    ("input: [[1, 2], [3, 4]]\nkernel: [[1]]\ntarget: [[1, 2], [3, 4]]\nloss: sse\n"
     "require: [distinct]\n", "require distinct cannot be met"),
    ("input: {shape: [2, 2], entries: {int: [1, 3]}}\nkernel: [[1]]\nbias: 0.5\n"
     "target: [[1, 2], [3, 4]]\nloss: sse\nrequire: [integer_results]\n",
     "require integer_results is met too rarely"),
    ("input: [[1]]\nkernel: [[1]]\ngraded: [dQ]\n", "'graded': 'dQ' is not a result"),
])
def test_bad_templates_are_one_line(tmp_path: Path, text: str, says: str) -> None:
    template = write(tmp_path, "t.yaml", text)
    done = run_main("generate", template, "--count", 3, "--out", tmp_path / "out")
    assert done.returncode == 2, done
    assert says in one_line(done), done


REPEATED_FRACTIONS = """\
name: drawn fractions repeat
input: {shape: [4, 4], entries: {fraction: [0, 1], denominators: [3]}}
kernel: [[1]]
bias: {choice: ["1/3"]}
target: {shape: [4, 4], entries: {fraction: [0, 1], denominators: [2]}}
loss: sse
learning_rate: "1/3"
"""


def test_repeated_draws_are_written_out_not_as_yaml_aliases(tmp_path: Path) -> None:
    # 16 entries from {0, 1/3, 2/3, 1} must repeat; each is written as its number, never as
    # an anchor (&id001) and alias (*id001), which students read in problem.yaml and Moodle
    template = write(tmp_path, "t.yaml", REPEATED_FRACTIONS)
    out = generate(tmp_path, template, 2, 3)
    done = run_main("generate", template, "--count", 2, "--seed", 3, "--out",
                    tmp_path / "quiz", "--format", "moodle")
    assert done.returncode == 0, done
    texts = {p: p.read_text(encoding="utf-8") for p in [*out.rglob("*.yaml"),
                                                          tmp_path / "quiz" / "quiz.xml"]}
    for path, text in texts.items():
        assert "&id0" not in text and "*id0" not in text, (path, text)
    for folder in variants(out):
        problem = load(folder / "problem.yaml")
        x = problem["input"]
        assert len({str(v) for v in leaves(x)}) < 16   # the draws did repeat
        assert all(isinstance(row, list) and len(row) == 4 for row in x)


def test_a_name_written_over_lines_is_written_on_one(tmp_path: Path) -> None:
    # YAML joins a plain or quoted string over lines into one; generate stopped on the string
    # it made (internal error, exit 70) where the problem file's reader takes it as the name
    text = REPEATED_FRACTIONS.replace("name: drawn fractions repeat",
                                      "name: drawn fractions\n  repeat\ndescription: \"week\n  6\"")
    template = write(tmp_path, "t.yaml", text)
    out = generate(tmp_path, template, 2, 3)
    for folder in variants(out):
        problem = load(folder / "problem.yaml")
        assert (problem["name"], problem["description"]) == ("drawn fractions repeat", "week 6")
        assert run_main("solve", folder / "problem.yaml").returncode == 0


def test_a_huge_count_is_refused_before_any_variant_is_drawn(tmp_path: Path) -> None:
    # every variant is kept until all are written: --count 1000000000 grew for days
    from convgrad import generate as gen
    from convgrad.errors import ProblemError

    template = gen.read_template(TEMPLATE.read_text(encoding="utf-8"), str(TEMPLATE))
    with pytest.raises(ProblemError, match="10,000"):
        next(gen.iter_variants(template, 10**9, 1))
    done = run_main("generate", TEMPLATE, "--count", 10**9, "--seed", 1, "--out",
                    tmp_path / "out")
    assert done.returncode == 2 and "--count 1,000,000,000" in one_line(done)
    assert not (tmp_path / "out").exists()
