"""`convgrad compare` (SPEC section 7): one problem under several profiles, what differs entry
by entry and which convention key causes it; and check's hints that name another convention,
profile or loss.

The numbers are worked by hand from the seed example (x = 1..9 in a 3x3, w = [[1, 0], [-1, 1]],
b = 1, mean squared error against the 2x2 identity): under conv: convolution the kernel is
rotated, w_eff = [[1, -1], [0, 1]].
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from convgrad.compare import Cause, Solver, compare, key_difference, parse_profiles
from convgrad.errors import ProblemError
from convgrad.grade import Grader

from .conftest import run_main

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed_worked_example.yaml"
SEED_TEXT = SEED.read_text(encoding="utf-8")

# Cross-correlation (the seed's check figures) and true convolution (by hand: Y = x * w_eff
# + 1, dY = (Y - T) / 2, dW_eff = x (*) dY, dW = dW_eff rotated back, loss = mean (Y - T)^2).
PYTORCH = {"Y": [[3, 4], [6, 7]], "dY": [[1, 2], [3, 3]], "dW": [[32, 41], [59, 68]],
           "db": 9, "loss": 23, "dX": [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]}
TEXTBOOK = {"Y": [[5, 6], [8, 9]], "dY": [[2, 3], [4, 4]], "dW": [[96, 83], [57, 44]],
            "db": 13, "loss": 45, "dX": [[2, 1, -3], [4, 2, -1], [0, 4, 4]]}


def entries(values: dict[str, Any]) -> dict[str, float]:
    """Every entry by the name check takes it: dW[1,2], loss."""
    out = {}
    for key, value in values.items():
        arr = np.asarray(value)
        for index in np.ndindex(arr.shape):
            name = key if not index else f"{key}[{','.join(str(i + 1) for i in index)}]"
            out[name] = arr[index]
    return out


# --- the comparison -------------------------------------------------------------------------


def test_cross_correlation_vs_convolution_entry_by_entry():
    comparison = compare(SEED_TEXT, "seed", ["pytorch", "textbook"])
    assert comparison.changed == {"textbook": {"conv": ("cross_correlation", "convolution")}}
    assert comparison.exact is True
    before, after = entries(PYTORCH), entries(TEXTBOOK)
    differ = {name for name in before if before[name] != after[name]}
    assert "dX[2,2]" not in differ  # 2 both ways: the centre sees all four outputs
    found = {}
    for diff in comparison.differences:
        assert diff.shape_causes == {}
        for entry in diff.entries:
            found[entry.name] = entry
    assert set(found) == differ
    for name, entry in found.items():
        assert entry.values == {"pytorch": before[name], "textbook": after[name]}, name
        assert entry.causes == {"textbook": Cause(("conv",))}, name
    assert comparison.same == []


def test_the_files_own_keys_go_on_top_of_each_profile():
    text = SEED_TEXT + "conventions: {conv: convolution}\n"
    comparison = compare(text, "seed", ["pytorch", "textbook"])
    assert comparison.changed == {"textbook": {}}
    assert comparison.differences == []
    assert comparison.same == ["Y", "dY", "dW", "db", "dX", "loss"]
    # flip_kernel on the layer wins over the profile's conv, so nothing differs either
    comparison = compare(SEED_TEXT + "flip_kernel: false\n", "seed", ["pytorch", "textbook"])
    assert comparison.changed == {"textbook": {"conv": ("cross_correlation", "convolution")}}
    assert comparison.differences == []


def arrays(**values: Any) -> dict[str, np.ndarray]:
    return {key: np.asarray(value, dtype=object) for key, value in values.items()}


def test_attribution_one_key_at_a_time_with_hand_built_results():
    """A against B, which change keys k1 and k2: entry 2 moves under k1 alone to B's value;
    entry 3 moves under k2 alone, but not to B's value (k2 with others, together); entry 4
    moves under neither alone (k1 and k2 together); entry 5 reaches B's value under either
    alone; entry 1 does not differ."""
    values = {"A": arrays(v=[1, 2, 3, 9, 0]), "B": arrays(v=[1, 5, 7, 8, 6])}
    variants = {"B": {"k1": arrays(v=[1, 5, 3, 9, 6]), "k2": arrays(v=[1, 2, 4, 9, 6])}}
    changed = {"B": {"k1": ("a", "b"), "k2": ("c", "d")}}
    diff = key_difference("v", ["A", "B"], values, variants, changed, base=1)
    assert diff is not None
    got = {e.name: (e.index, e.values, e.causes["B"]) for e in diff.entries}
    assert got == {
        "v[2]": ((2,), {"A": 2, "B": 5}, Cause(("k1",))),
        "v[3]": ((3,), {"A": 3, "B": 7}, Cause(("k2",), together=True)),
        "v[4]": ((4,), {"A": 9, "B": 8}, Cause(("k1", "k2"), together=True)),
        "v[5]": ((5,), {"A": 0, "B": 6}, Cause(("k1", "k2"))),
    }
    # index base 0 (cs231n): the same entries, numbered from 0
    diff = key_difference("v", ["A", "B"], values, variants, changed, base=0)
    assert diff is not None
    assert [e.name for e in diff.entries] == ["v[1]", "v[2]", "v[3]", "v[4]"]


def test_attribution_with_three_profiles_and_a_key_unusable_alone():
    """C agrees with A on entry 1 and differs on entry 2; B differs on entry 1 under k1, whose
    change alone was unusable (None): put down to B's keys together."""
    values = {"A": arrays(v=[[1, 2]]), "B": arrays(v=[[3, 2]]), "C": arrays(v=[[1, 4]])}
    variants = {"B": {"k1": None}, "C": {"k3": arrays(v=[[1, 4]])}}
    changed = {"B": {"k1": (0, 1)}, "C": {"k3": (0, 1)}}
    diff = key_difference("v", ["A", "B", "C"], values, variants, changed, base=1)
    assert diff is not None
    first, second = diff.entries
    assert (first.name, first.values, first.causes) == (
        "v[1,1]", {"A": 1, "B": 3, "C": 1}, {"B": Cause(("k1",), together=True)})
    assert (second.name, second.values, second.causes) == (
        "v[1,2]", {"A": 2, "B": 2, "C": 4}, {"C": Cause(("k3",))})


def test_a_shape_that_differs_names_the_keys_that_change_it():
    """NHWC against NCHW: Y is 2x3 under A and 3x2 under B; the layout key alone gives B's
    shape, the other key leaves A's."""
    values = {"A": arrays(Y=np.zeros((2, 3))), "B": arrays(Y=np.zeros((3, 2)))}
    variants = {"B": {"layout": arrays(Y=np.zeros((3, 2))),
                      "conv": arrays(Y=np.ones((2, 3)))}}
    changed = {"B": {"layout": ("NCHW", "NHWC"), "conv": ("cross_correlation", "convolution")}}
    diff = key_difference("Y", ["A", "B"], values, variants, changed, base=1)
    assert diff is not None
    assert diff.shapes == {"A": (2, 3), "B": (3, 2)}
    assert diff.shape_causes == {"B": Cause(("layout",))}
    assert diff.entries == []
    # the same arrays under both: no difference at all
    same = {"A": values["A"], "B": values["A"]}
    assert key_difference("Y", ["A", "B"], same, {"B": {}}, {"B": {}}, base=1) is None


def test_float_results_that_differ_by_rounding_only_are_the_same():
    a = arrays(v=[0.1 + 0.2, 1.0])
    values = {"A": {"v": a["v"].astype(float)}, "B": {"v": np.array([0.3, 1.0])}}
    assert key_difference("v", ["A", "B"], values, {"B": {}}, {"B": {}}, base=1) is None


@pytest.mark.parametrize("text, words", [
    ("pytorch", "two profiles or more"),
    ("pytorch,tensorflw", "did you mean 'tensorflow'"),
    ("pytorch,,caffe", "empty name"),
    ("pytorch,textbook,pytorch", "'pytorch' is named twice"),
])
def test_bad_profile_lists(text, words):
    with pytest.raises(ProblemError, match=words):
        parse_profiles(text)


# --- the command line -----------------------------------------------------------------------


def test_compare_text_shows_each_entry_its_values_and_cause():
    out = run_main("compare", SEED, "--conventions", "pytorch,textbook")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    lines = out.stdout.splitlines()
    assert "textbook: conv convolution (not cross_correlation)" in lines
    for name, a, b in (("Y[1,1]", "3", "5"), ("dW[2,2]", "68", "44"), ("loss", "23", "45")):
        (row,) = [ln for ln in lines if ln.split()[:1] == [name] and "differ" not in ln]
        assert row.split() == [name, a, b, "conv"], row
    assert not [ln for ln in lines if ln.split()[:1] == ["dX[2,2]"]]
    assert "dX: 8 of 9 entries differ" in out.stdout


def test_compare_json_shape():
    out = run_main("compare", SEED, "--conventions", "pytorch,textbook", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert list(doc) == ["problem", "profiles", "baseline", "exact", "conventions", "changed",
                         "unusable_alone", "same", "differences"]
    assert doc["profiles"] == ["pytorch", "textbook"] and doc["baseline"] == "pytorch"
    assert doc["conventions"]["textbook"]["conv"] == "convolution"
    assert doc["conventions"]["pytorch"]["pool_ceil"] is False
    assert doc["changed"] == {"textbook": {"conv": ["cross_correlation", "convolution"]}}
    assert [d["key"] for d in doc["differences"]] == ["Y", "dY", "dW", "db", "dX", "loss"]
    dw = doc["differences"][2]
    assert dw["shapes"] == {"pytorch": [2, 2], "textbook": [2, 2]}
    assert dw["shape_causes"] == {}
    first = dw["entries"][0]
    assert first == {"entry": "dW[1,1]", "index": [1, 1],
                     "values": {"pytorch": 32, "textbook": 96},
                     "exact": {"pytorch": "32", "textbook": "96"},
                     "causes": {"textbook": {"keys": ["conv"], "together": False}}}
    loss = doc["differences"][-1]["entries"]
    assert loss == [{"entry": "loss", "index": [], "values": {"pytorch": 23, "textbook": 45},
                     "exact": {"pytorch": "23", "textbook": "45"},
                     "causes": {"textbook": {"keys": ["conv"], "together": False}}}]
    out = run_main("compare", SEED, "--conventions", "pytorch,textbook", "--json", "--float")
    doc = json.loads(out.stdout)
    assert doc["exact"] is False
    assert all("exact" not in e for d in doc["differences"] for e in d["entries"])
    assert doc["differences"][2]["entries"][0]["values"] == {"pytorch": 32.0, "textbook": 96.0}


def test_compare_reads_standard_input_and_says_when_nothing_differs():
    text = SEED_TEXT + "conventions: {conv: convolution}\n"
    out = run_main("compare", "-", "--conventions", "textbook,pytorch", stdin=text)
    assert out.returncode == 0, out.stderr
    assert "Every result is the same under textbook, pytorch." in out.stdout


def test_compare_exit_2_names_the_profile_the_problem_is_unusable_under(tmp_path):
    # 'same' padding of a 2x2 kernel pads 1 in all: one end only (PyTorch, TensorFlow), so
    # Caffe's symmetric split cannot be (SPEC section 7).
    problem = tmp_path / "same.yaml"
    problem.write_text('input: "1 2 3; 4 5 6; 7 8 9"\nkernel: "1 0; -1 1"\npadding: same\n'
                       'target: "1 0 0; 0 1 0; 0 0 1"\nloss: mse\n', encoding="utf-8")
    assert run_main("solve", problem).returncode == 0
    for args in (["--json"], []):
        out = run_main("compare", problem, "--conventions", "pytorch,caffe", *args)
        assert out.returncode == 2
        assert out.stdout == ""
        assert out.stderr.startswith("error: under the caffe profile the problem is unusable")
        assert out.stderr.count("\n") == 1


@pytest.mark.parametrize("text, error", [
    ("input: [[1, 2], [3, 4]]\nkernal: [[1]]\n",
     "error: bad.yaml, line 2: 'kernal' is not a known key; did you mean 'kernel'?\n"),
    ("input: [[1, 2], [3, 4]]\nkernel: [[1]]\nconventions: {max_ties: bogus}\n",
     "error: bad.yaml, line 3: 'conventions.max_ties' 'bogus' is not a max_ties convention; "
     "expected one of: first, last, all, split\n"),
])
def test_compare_a_problem_unusable_under_every_profile_alike_blames_none(tmp_path, text,
                                                                          error):
    # The file's own fault, as solve says it: 'under the pytorch profile the problem is
    # unusable' sent the reader to look for what PyTorch's conventions change.
    problem = tmp_path / "bad.yaml"
    problem.write_text(text, encoding="utf-8")
    solved = run_main("solve", problem)
    assert solved.returncode == 2 and solved.stderr == error.replace("bad.yaml", str(problem))
    for args in (["--json"], []):
        out = run_main("compare", problem, "--conventions", "pytorch,caffe,textbook", *args)
        assert (out.returncode, out.stdout) == (2, "")
        assert out.stderr == solved.stderr


@pytest.mark.parametrize("args, words", [
    ([], "give for example --conventions pytorch,tensorflow"),
    (["--conventions", "pytorch"], "two profiles or more"),
    (["--conventions", "pytorch,keras"], "'keras' is not a profile"),
    (["--conventions", "pytorch,textbook", "--exact", "--float"], "contradict"),
])
def test_compare_usage_errors_are_one_line_exit_2(args, words):
    out = run_main("compare", SEED, *args)
    assert out.returncode == 2
    assert words in out.stderr and out.stderr.count("\n") == 1
    assert out.stdout == ""


def test_compare_missing_file_is_exit_2():
    out = run_main("compare", "no-such.yaml", "--conventions", "pytorch,textbook")
    assert out.returncode == 2 and "no-such.yaml: no such file" in out.stderr


# --- check's hints: another convention, profile or loss --------------------------------------


def grade(answers: dict[str, Any], conventions: str | None = None,
          solver: Any = "real") -> dict[str, Any]:
    """The hint of each key: (kind, message)."""
    if solver == "real":
        solver = Solver(SEED_TEXT, "seed")
        solved = solver.run(conventions)
    else:
        solved = Solver(SEED_TEXT, "seed").run(conventions)
    report = Grader(solved, solver=solver).grade(answers)
    return {k.key: (k.hint.kind if k.hint else None, k.message()) for k in report.keys}


def test_hint_another_value_of_a_convention_key():
    hints = grade({"dW": TEXTBOOK["dW"], "dX": TEXTBOOK["dX"], "dW[1,2]": 83})
    for key in ("dW", "dX", "dW[1,2]"):
        kind, message = hints[key]
        assert kind == "convention"
        assert message.endswith("matches conv: convolution -- the kernel rotated"), message
    # and back: under the textbook profile, PyTorch's answer
    kind, message = grade({"dW": PYTORCH["dW"]}, "textbook")["dW"]
    assert (kind, message) == ("convention", "4 of 4 entries differ: matches conv: "
                                             "cross_correlation -- the kernel not rotated")


class OnlyProfiles:
    """A solver under which every single key's change is unusable, and the caffe profile is
    the seed solved as a true convolution: a profile's hint, as it is once the keys that tell
    caffe from pytorch are computed."""

    def __init__(self) -> None:
        self.real = Solver(SEED_TEXT, "seed")
        self.asked: list[Any] = []

    def run(self, conventions: Any) -> Any:
        self.asked.append(conventions)
        if conventions == "caffe":
            return self.real.run("textbook")
        raise ProblemError("not computed")


def test_hint_another_profile():
    solver = OnlyProfiles()
    kind, message = grade({"dW": TEXTBOOK["dW"]}, solver=solver)["dW"]
    assert (kind, message) == ("profile", "4 of 4 entries differ: matches the caffe profile "
                                          "-- Caffe")


def test_the_other_conventions_are_solved_only_for_a_wrong_answer():
    solver = OnlyProfiles()
    solved = Solver(SEED_TEXT, "seed").run()
    grader = Grader(solved, solver=solver)
    for _ in range(3):
        report = grader.grade({"dW": PYTORCH["dW"], "loss": 23})
        assert report.all_right
    assert solver.asked == []
    grader.grade({"dW": [[1, 2], [3, 4]]})
    asked = len(solver.asked)
    assert asked > 0 and "caffe" in solver.asked
    grader.grade({"dW": [[1, 2], [3, 5]]})  # each other solve once per problem
    assert len(solver.asked) == asked


def test_rotated_and_loss_hints_are_alternatives_too():
    hints = grade({"dW": [[68, 59], [41, 32]], "dY": [[4, 8], [12, 12]], "db": 18})
    assert hints["dW"] == ("rotated", "4 of 4 entries differ: the answer is dW rotated 180 "
                                      "degrees (was the kernel flipped?)")
    assert hints["dY"] == ("convention", "4 of 4 entries differ: matches the sum-loss (sse) "
                                         "convention (off by a factor of 4)")
    assert hints["db"] == ("convention", "wrong: matches the half-sum (half_sse) convention "
                                         "(off by a factor of 2)")
    # without a solver (the Python API's Grader): no other conventions, the rest the same
    assert grade({"dW": TEXTBOOK["dW"]}, solver=None)["dW"] == (None, "4 of 4 entries differ")
    assert grade({"dY": [[4, 8], [12, 12]]}, solver=None)["dY"][0] == "convention"


def test_check_says_the_convention_and_hides_it_under_no_reveal(tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("dW: [[96, 83], [57, 44]]\n", encoding="utf-8")
    out = run_main("check", SEED, answers)
    assert out.returncode == 1
    assert "dW  4 of 4 entries differ: matches conv: convolution -- the kernel rotated" in \
        out.stdout
    out = run_main("check", SEED, answers, "--json")
    (key,) = json.loads(out.stdout)["files"][0]["keys"]
    assert key["hint"] == "convention" and "conv: convolution" in key["message"]
    out = run_main("check", SEED, answers, "--no-reveal", "--json")
    (key,) = json.loads(out.stdout)["files"][0]["keys"]
    assert key["hint"] is None and key["message"] == "4 of 4 entries differ"
    out = run_main("check", "-", answers, stdin=SEED_TEXT)  # the text of standard input, kept
    assert "matches conv: convolution" in out.stdout


def test_readme_names_every_field_of_compare_json():
    out = run_main("compare", SEED, "--conventions", "pytorch,textbook", "--json")
    doc = json.loads(out.stdout)
    fields = set(doc)
    for diff in doc["differences"]:
        fields |= set(diff)
        for entry in diff["entries"]:
            fields |= set(entry) | {f for cause in entry["causes"].values() for f in cause}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### compare"):readme.index("## The problem file")]
    assert not sorted(f for f in fields if f"`{f}`" not in section)
    assert "$ convgrad compare problems/seed_worked_example.yaml --conventions pytorch,textbook" \
        in section
    # the text shown is the command's own, line by line, all of it
    shown = section.split("```console\n")[1].split("```")[0].splitlines()[1:]
    assert shown == out_lines()


def out_lines() -> list[str]:
    out = run_main("compare", SEED, "--conventions", "pytorch,textbook")
    return [line.rstrip() for line in out.stdout.splitlines()]


# --- each convention key ---------------------------------------------------------------------
# The problems pin every other key a profile changes to PyTorch's value, so that the profiles
# differ in the one key under test.


PIN_COURSERA = ("conventions: {same_padding: end, layout: NCHW, kernel_layout: OIHW, "
                "flatten: CHW, dense_weights: out_in}\n")
# One 2x2 window of four tied ones, a 1x1 kernel [[1]]: Y = 1, sse against 0 gives dY = 2.
TIES = ("input: [[1, 1], [1, 1]]\nkernel: [[1]]\nbias: 0\n"
        "pool: {type: max, size: 2, stride: 2}\ntarget: [[0]]\nloss: sse\n")


def test_compare_max_ties_the_coursera_mask():
    comparison = compare(TIES + PIN_COURSERA, "ties", ["pytorch", "coursera"])
    assert comparison.changed == {"coursera": {"max_ties": ("first", "all")}}
    found = {e.name: (e.values["pytorch"], e.values["coursera"], e.causes["coursera"])
             for d in comparison.differences for e in d.entries}
    cause = Cause(("max_ties",))
    # first: only x11 gets dL/dY = 2; all: each of the four tied maxima gets it whole
    assert found == {"dW[1,1]": (2, 8, cause), "db": (2, 8, cause),
                     "dX[1,2]": (0, 2, cause), "dX[2,1]": (0, 2, cause),
                     "dX[2,2]": (0, 2, cause),
                     "dZ[1,2]": (0, 2, cause), "dZ[2,1]": (0, 2, cause),
                     "dZ[2,2]": (0, 2, cause)}
    assert set(comparison.same) == {"Y", "dY", "loss", "Z"}


def test_hint_max_ties_all():
    solver = Solver(TIES, "ties")
    report = Grader(solver.run(), solver=solver).grade({"dX": [[2, 2], [2, 2]]})
    (key,) = report.keys
    assert key.hint is not None and key.hint.kind == "convention"
    assert key.message().endswith("matches max_ties: all -- the deeplearning.ai course's mask")


# relu at z = 0: x = [1, 2], w = 1, b = -1 give z = [0, 1]; sse against -1: dY = [2, 4], so
# dZ = [2·kink, 4], dW = 8 + 2·kink, db = 4 + 2·kink, dX = dZ.
KINK = ("input: [[1, 2]]\nkernel: [[1]]\nbias: -1\nactivation: relu\ntarget: [[-1, -1]]\n"
        "loss: sse\n")


@pytest.mark.parametrize("answer, words", [(6, "kink: 1 -- relu'(0) = 1"),
                                           (5, "kink: 1/2 -- relu'(0) = 1/2")])
def test_hint_kink(answer, words):
    solver = Solver(KINK, "kink")
    report = Grader(solver.run(), solver=solver).grade({"db": answer})
    (key,) = report.keys
    assert key.hint is not None and key.hint.kind == "convention"
    assert key.message() == f"wrong: matches {words}"


def test_compare_pool_ceil_changes_the_shape_of_y():
    # 3x3 under a 2x2 window, stride 2: one window rounded down, four rounded up
    text = ('input: "1 2 3; 4 5 6; 7 8 9"\nkernel: [[1]]\n'
            "pool: {type: max, size: 2, stride: 2}\nconventions: {same_padding: end}\n")
    comparison = compare(text, "ceil", ["pytorch", "caffe"])
    assert comparison.changed == {"caffe": {"pool_ceil": (False, True)}}
    (diff,) = comparison.differences
    assert (diff.key, diff.shapes) == ("Y", {"pytorch": (1, 1), "caffe": (2, 2)})
    assert diff.shape_causes == {"caffe": Cause(("pool_ceil",))}
    assert diff.entries == []


def test_compare_same_padding_symmetric_is_unusable_for_an_odd_total(tmp_path):
    problem = tmp_path / "same.yaml"
    problem.write_text('input: "1 2 3; 4 5 6; 7 8 9"\nkernel: "1 0; -1 1"\npadding: same\n'
                       "conventions: {pool_ceil: false}\n", encoding="utf-8")
    out = run_main("compare", problem, "--conventions", "pytorch,caffe")
    assert out.returncode == 2
    assert "caffe" in out.stderr and "same_padding" in out.stderr


def test_hint_same_padding_start():
    # the extra row and column at the top/left: Y[i,j] = x[i-1,j-1] - x[i,j-1] + x[i,j]
    text = 'input: "1 2 3; 4 5 6; 7 8 9"\nkernel: "1 0; -1 1"\npadding: same\n'
    solver = Solver(text, "same")
    report = Grader(solver.run(), solver=solver).grade({"Y": "1 1 1; 4 2 3; 7 5 6"})
    (key,) = report.keys
    assert key.hint is not None and "matches same_padding: start" in key.message()


def test_compare_index_base_changes_names_not_numbers():
    pin = "conventions: {same_padding: end, dense_weights: out_in}\n"
    comparison = compare(SEED_TEXT + pin, "seed", ["pytorch", "cs231n"])
    assert comparison.changed == {"cs231n": {"index_base": (1, 0)}}
    assert comparison.differences == []
    comparison = compare(SEED_TEXT + pin, "seed", ["cs231n", "textbook"])
    names = [e.name for d in comparison.differences for e in d.entries]
    assert names[0] == "Y[0,0]" and "dX[1,1]" not in names  # dX's centre, 0-based


# Two 1x1 filters [[1]], [[10]] on "1 2; 3 4": channel 2 is ten times channel 1. Flattened
# CHW: 1 2 3 4 10 20 30 40; HWC: 1 10 2 20 3 30 4 40. fc1 sums them (110 either way), sse
# against 109: dL/dy = 2, so fc1.dW = 2 x the flattened vector, and every gradient before
# flatten is the same (dL/dflatten = 2 everywhere).
FLAT = ('input: "1 2; 3 4"\nlayers:\n  - conv: {kernel: [[[1]], [[10]]], bias: [0, 0]}\n'
        "  - flatten\n  - dense: {weights: \"1 1 1 1 1 1 1 1\", bias: [0]}\n"
        "target: [109]\nloss: sse\n")
PIN_TENSORFLOW = ("conventions: {layout: NCHW, kernel_layout: OIHW, dense_weights: out_in, "
                  "avg_count_padding: true}\n")
CHW = [1, 2, 3, 4, 10, 20, 30, 40]
HWC = [1, 10, 2, 20, 3, 30, 4, 40]


def found(comparison: Any, other: str) -> dict[str, tuple[Any, Any, Any]]:
    return {e.name: (e.values["pytorch"], e.values[other], e.causes[other])
            for d in comparison.differences for e in d.entries}


def test_compare_flatten_moves_the_fc1_dw_entries():
    comparison = compare(FLAT + PIN_TENSORFLOW, "flat", ["pytorch", "tensorflow"])
    assert comparison.changed == {"tensorflow": {"flatten": ("CHW", "HWC")}}
    cause = Cause(("flatten",))
    want = {}
    for k in range(8):
        if CHW[k] != HWC[k]:  # the first and last entries stay put
            want[f"flatten1.output[{k + 1}]"] = (CHW[k], HWC[k], cause)
            want[f"fc1.dW[1,{k + 1}]"] = (2 * CHW[k], 2 * HWC[k], cause)
    assert found(comparison, "tensorflow") == want
    assert len(want) == 12
    assert {"Y", "dX", "loss", "conv1.dW", "flatten1.d_output"} <= set(comparison.same)


def test_compare_layout_changes_the_shape_of_y():
    # one channel 2x3, two 1x1 filters: Y is F x H x W = 2x2x3, or H x W x F = 2x3x2
    text = ('input: "1 2 3; 4 5 6"\nkernel: [[[1]], [[2]]]\nbias: [0, 0]\n'
            "conventions: {kernel_layout: OIHW, flatten: CHW, dense_weights: out_in, "
            "avg_count_padding: true}\n")
    comparison = compare(text, "layout", ["pytorch", "tensorflow"])
    assert comparison.changed == {"tensorflow": {"layout": ("NCHW", "NHWC")}}
    (diff,) = comparison.differences
    assert (diff.key, diff.shapes) == ("Y", {"pytorch": (2, 2, 3), "tensorflow": (2, 3, 2)})
    assert diff.shape_causes == {"tensorflow": Cause(("layout",))}


def test_compare_kernel_layout_reads_the_kernel_otherwise():
    # [[[1]], [[2]]] is F x kh x kw = two 1x1 filters (OIHW), or kh x kw x F = one 2x1
    # filter on the one channel (HWIO): Y 2x2x3, or 1x3
    text = ('input: "1 2 3; 4 5 6"\nkernel: [[[1]], [[2]]]\nbias: 0\n'
            "conventions: {layout: NCHW, flatten: CHW, dense_weights: out_in, "
            "avg_count_padding: true}\n")
    comparison = compare(text, "kernel", ["pytorch", "tensorflow"])
    assert comparison.changed == {"tensorflow": {"kernel_layout": ("OIHW", "HWIO")}}
    (diff,) = comparison.differences
    assert (diff.key, diff.shapes) == ("Y", {"pytorch": (2, 2, 3), "tensorflow": (1, 3)})
    assert diff.shape_causes == {"tensorflow": Cause(("kernel_layout",))}


def test_compare_dense_weights_reads_the_matrix_otherwise():
    # W = "1 2; 3 4", x = [1, 1], sse against 0. out_in: y = W x = [3, 7], dL/dy = [6, 14],
    # dX = W^T dL/dy = [48, 68], dW = dL/dy x^T. in_out: y = x W = [4, 6], dL/dy = [8, 12],
    # dX = W dL/dy = [32, 72], dW (in x out) = x^T dL/dy = [[8, 12], [8, 12]].
    text = ('input: [1, 1]\nlayers:\n  - dense: {weights: "1 2; 3 4", bias: [0, 0]}\n'
            "target: [0, 0]\nloss: sse\nconventions: {same_padding: end, index_base: 1}\n")
    comparison = compare(text, "dense", ["pytorch", "cs231n"])
    assert comparison.changed == {"cs231n": {"dense_weights": ("out_in", "in_out")}}
    cause = Cause(("dense_weights",))
    got = found(comparison, "cs231n")
    assert {k: v for k, v in got.items() if "." not in k} == {
        "Y[1]": (3, 4, cause), "Y[2]": (7, 6, cause), "dY[1]": (6, 8, cause),
        "dY[2]": (14, 12, cause), "dX[1]": (48, 32, cause), "dX[2]": (68, 72, cause),
        "loss": (58, 52, cause)}
    assert {k: v[:2] for k, v in got.items() if k.startswith("fc1.dW")} == {
        "fc1.dW[1,1]": (6, 8), "fc1.dW[1,2]": (6, 12), "fc1.dW[2,1]": (14, 8),
        "fc1.dW[2,2]": (14, 12)}


def test_compare_avg_count_padding():
    # pool_padding 1 on a 2x2 map, 2x2 windows, stride 2: each window holds one real cell
    # and three of padding: x/4 counting them (PyTorch), x alone not (Keras)
    text = ('input: "1 2; 3 4"\nkernel: [[1]]\nbias: 0\npool: {type: avg, size: 2, stride: 2}\n'
            "conventions: {pool_padding: 1, layout: NCHW, kernel_layout: OIHW, flatten: CHW, "
            "dense_weights: out_in}\n")
    comparison = compare(text, "avg", ["pytorch", "tensorflow"])
    assert comparison.changed == {"tensorflow": {"avg_count_padding": (True, False)}}
    cause = Cause(("avg_count_padding",))
    assert found(comparison, "tensorflow") == {
        "Y[1,1]": (Fraction(1, 4), 1, cause), "Y[1,2]": (Fraction(1, 2), 2, cause),
        "Y[2,1]": (Fraction(3, 4), 3, cause), "Y[2,2]": (1, 4, cause)}


def test_hint_flatten_hwc():
    # fc1.dW computed with the other order: 2 x the HWC vector
    solver = Solver(FLAT, "flat")
    report = Grader(solver.run(), solver=solver).grade(
        {"fc1.dW": [[2 * v for v in HWC]], "fc1.dW[1,2]": 20})
    for key in report.keys:
        assert key.hint is not None and key.hint.kind == "convention"
        assert "matches flatten: HWC" in key.message()
    # a 1 x 8 answer is no transpose of itself: the wrong one gets no transpose hint
    report = Grader(solver.run(), solver=solver).grade({"fc1.dW": [[1] * 8]})
    (key,) = report.keys
    assert key.hint is None or key.hint.kind != "transposed"


def test_compare_text_says_a_shape_that_differs_and_what_is_the_same(tmp_path):
    # 3x3 under a 2x2 max pool, stride 2: floor gives 1x1 (pytorch), ceil 2x2 (caffe); the
    # 1x1 kernel's Z is the input under both.
    problem = tmp_path / "p.yaml"
    problem.write_text('input: "1 2 3; 4 5 6; 7 8 9"\nkernel: [[1]]\n'
                       "pool: {type: max, size: 2, stride: 2}\n"
                       "conventions: {same_padding: end}\n", encoding="utf-8")
    out = run_main("compare", problem, "--conventions", "pytorch,caffe")
    assert (out.returncode, out.stderr) == (0, "")
    lines = out.stdout.splitlines()
    assert "caffe: pool_ceil true (not false)" in lines
    assert "Y: shapes differ: pytorch 1x1, caffe 2x2; pool_ceil" in lines
    assert lines[-1] == "The same under every profile: Z"


def test_compare_text_lists_the_first_twenty_entries_and_counts_the_rest(tmp_path):
    x = np.add.outer(np.arange(6), np.arange(6)) % 9 + 1
    k = np.array([[1, 2], [3, 4]])
    windows = np.lib.stride_tricks.sliding_window_view(x, (2, 2))
    differ = int(np.count_nonzero(np.einsum("ijpq,pq->ij", windows, k - k[::-1, ::-1])))
    assert differ > 20
    problem = tmp_path / "p.yaml"
    problem.write_text(f'input: "{"; ".join(" ".join(map(str, r)) for r in x)}"\n'
                       'kernel: "1 2; 3 4"\n', encoding="utf-8")
    out = run_main("compare", problem, "--conventions", "pytorch,textbook")
    assert (out.returncode, out.stderr) == (0, "")
    lines = [line.rstrip() for line in out.stdout.splitlines()]
    assert f"Y: {differ} of 25 entries differ" in lines
    assert len([line for line in lines if line.startswith("Y[")]) == 20
    assert f"... {differ - 20} more (--json lists every entry)" in lines
