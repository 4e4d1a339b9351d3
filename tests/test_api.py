"""The Python API of SPEC section 4, and the seed worked example's numbers."""

from __future__ import annotations

import json
import re
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import convgrad
from convgrad.cli import WORKED_EXAMPLE

from .conftest import PROBLEMS


def test_seed_000_worked_example(seed_example):
    # Numbers as seeds/000 states them (y1..y4, L = 92/4, dL/dy = 2/4 (y - t), dL/dw1, dL/db),
    # and the rest of dW and dX as SPEC section 2 gives them.
    r = convgrad.solve(seed_example)
    assert r["Y"].tolist() == [[3, 4], [6, 7]]
    assert r["loss"] == 23 and isinstance(r["loss"], int)
    assert r["dY"].tolist() == [[1, 2], [3, 3]]
    assert r["dW"].tolist() == [[32, 41], [59, 68]]
    assert r["db"] == 9 and not isinstance(r["db"], np.ndarray)
    assert r["dX"].tolist() == [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]
    assert r["warnings"] == []
    assert set(r) == {"Y", "dY", "dW", "db", "dX", "loss", "conventions", "warnings"}


def test_problem_as_path_string_text_and_dict_agree(seed_example):
    as_path = convgrad.solve(seed_example)
    as_str = convgrad.solve(str(seed_example))
    as_text = convgrad.solve(seed_example.read_text())
    as_dict = convgrad.solve({"input": np.arange(1, 10).reshape(3, 3), "kernel": [[1, 0], [-1, 1]],
                              "bias": 1, "target": "1 0; 0 1"})
    for other in (as_str, as_text, as_dict):
        for key in ("Y", "dY", "dW", "dX"):
            assert np.array_equal(as_path[key], other[key])
        assert other["loss"] == 23 and other["db"] == 9


def test_exact_false_gives_float64_and_exact_true_fractions():
    floats = convgrad.solve(WORKED_EXAMPLE, exact=False)
    assert floats["dW"].dtype == np.float64 and isinstance(floats["loss"], float)
    assert floats["loss"] == 23.0
    exact = convgrad.solve({"input": "1 2; 3 4", "kernel": [["1/3"]], "target": "0 0; 0 0",
                            "loss": "mse"}, exact=True)
    # Y = X/3, L = 1/4 * (1 + 4 + 9 + 16)/9 = 5/6; dL/dY = Y/2 = X/6; dW = sum X^2/6 = 5.
    assert exact["loss"] == Fraction(5, 6)
    assert exact["dW"].tolist() == [[5]]
    assert exact["dY"].tolist() == [[Fraction(1, 6), Fraction(1, 3)], [Fraction(1, 2),
                                                                        Fraction(2, 3)]]


def test_decimals_are_the_rationals_they_spell():
    r = convgrad.solve({"input": [[0.1, 0.2]], "kernel": [[1, 1]], "grad_output": [[1]]})
    assert r["Y"].tolist() == [[Fraction(3, 10)]]  # not 0.30000000000000004


def test_exact_true_on_sigmoid_raises_problem_error():
    with pytest.raises(convgrad.ProblemError, match="exact"):
        convgrad.solve({"input": "1 2; 3 4", "kernel": "1", "activation": "sigmoid",
                        "target": "0 1; 1 0", "loss": "bce"}, exact=True)


# One output, Y = 1 + 2 + 3 + 4 + 1/3: every number rational, so exact arithmetic can be forced.
RATIONAL = {"input": "1 2; 3 4", "kernel": "1 1; 1 1", "bias": "1/3", "target": "0",
            "loss": "mse"}
FLOAT64 = {"input": [[1.0, 2.0], [3.0, 4.0]], "kernel": [[1.0, 1.0], [1.0, 1.0]],
           "bias": 0.5, "target": [[0.0]], "grad_output": [[1.0]]}


@pytest.mark.parametrize("key", list(FLOAT64))
def test_exact_true_names_the_float64_array_that_keeps_it_out(key):
    # A float64 array handed to the API holds floats, not the decimals they print as: forcing
    # exact arithmetic is refused at the key that holds one, saying why.
    problem: dict = dict(RATIONAL)
    if key == "grad_output":
        del problem["target"], problem["loss"]
    problem[key] = np.asarray(FLOAT64[key], dtype=np.float64)
    with pytest.raises(convgrad.ProblemError, match=rf"'{key}' exact arithmetic needs a rational "
                       "problem, and numbers given as float64 arrays are not"):
        convgrad.solve(problem, exact=True)
    assert convgrad.solve(problem)["dW"].dtype == np.float64  # not forced: float64, no refusal


def test_exact_true_names_the_network_layer_with_a_float64_kernel():
    problem = {"input": "1 2; 3 4", "target": "0", "loss": "mse",
               "layers": [{"conv": {"kernel": np.ones((2, 2))}}, "relu"]}
    with pytest.raises(convgrad.ProblemError, match=r"'layers\[1\]' exact arithmetic needs a "
                       "rational problem, and numbers given as float64 arrays are not"):
        convgrad.solve(problem, exact=True)


def test_bad_input_raises_problem_error_with_key():
    with pytest.raises(convgrad.ProblemError, match="'kernal' is not a known key; did you mean"):
        convgrad.solve("input: [[1, 2], [3, 4]]\nkernal: [[1]]\n")
    with pytest.raises(convgrad.ProblemError, match="no such file"):
        convgrad.solve("missing.yaml")
    with pytest.raises(convgrad.ProblemError, match=r"line 2: 'kernel' entry \[1,2\]"):
        convgrad.solve("input: [[1, 2], [3, 4]]\nkernel: [[1, x]]\n")


def test_warnings_are_returned_not_raised():
    r = convgrad.solve({"input": np.ones((5, 5), dtype=int), "kernel": np.ones((2, 2), int),
                        "stride": 2, "grad_output": np.ones((2, 2), int)})
    assert any("row 5" in w for w in r["warnings"])
    assert any("column 5" in w for w in r["warnings"])
    assert r["dX"][4].tolist() == [0, 0, 0, 0, 0]


# What `import convgrad` loads, in a fresh interpreter: test_process.py.


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_every_shipped_problem_solves_without_warnings(path):
    r = convgrad.solve(path)
    assert r["warnings"] == []
    if "layers" in r:  # a network: parameters' gradients are per layer
        assert {"Y", "dY", "dX", "loss"} <= set(r)
        assert any("dW" in layer for layer in r["layers"])
    else:
        assert {"Y", "dY", "dW", "db", "dX", "loss"} <= set(r)


# --- issue 12: JSON is always valid JSON; NumPy's warnings are not convgrad's ---------------------

OVERFLOW = {"input": "1e200 1e200; 3 4", "kernel": "1", "target": "0 1; 1 0", "loss": "mse"}


def test_float_overflow_raises_no_python_warning():
    # filterwarnings = error: a RuntimeWarning from NumPy would fail this test.
    with pytest.raises(convgrad.ProblemError, match="overflows float64"):
        convgrad.solve(OVERFLOW, exact=False)
    r = convgrad.solve({"input": "1e308 -1e308; 3 4", "kernel": "1", "activation": "sigmoid",
                        "target": "0 1; 1 0", "loss": "mse"})
    assert r["Y"][0].tolist() == [1.0, 0.0]


def test_json_refuses_inf_and_nan_with_a_problem_error():
    from convgrad.result import json_text

    with pytest.raises(convgrad.ProblemError, match=r"is inf: float64 arithmetic overflowed"):
        json_text({"Y": np.array([[1.0, np.inf]]), "loss": 2.0}, exact=False)
    with pytest.raises(convgrad.ProblemError, match=r"^dX\[2,1\] is nan"):
        json_text({"dX": np.array([[1.0, 2.0], [np.nan, 3.0]])}, exact=False)
    with pytest.raises(convgrad.ProblemError, match=r"^layer 2 \(fc1\): dW\[1,2\] is -inf"):
        json_text({"Y": np.ones(2), "layers": [
            {"name": "conv1", "type": "conv", "output": np.ones(2)},
            {"name": "fc1", "type": "dense", "dW": np.array([[0.0, -np.inf]])}]}, exact=False)


@pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"), reason="no int digit limit")
def test_json_numbers_of_any_size():
    from convgrad.result import json_text

    huge = 10**5000  # past Python's 4,300-digit limit on writing an int
    out = {"Y": np.array([[huge, Fraction(1, 3)], [Fraction(10**400 + 1, 2), -huge]],
                         dtype=object), "loss": Fraction(-(10**400), 7)}
    doc = json.loads(json_text(out, exact=True), parse_int=str)
    assert doc["Y"][0] == ["1" + "0" * 5000, 0.3333333333333333]
    # Beyond float64's range a fraction is its nearest integer, an exact one as it is.
    assert doc["Y"][1] == [str(10**400 // 2), "-1" + "0" * 5000]
    assert doc["loss"] == str(round(Fraction(-(10**400), 7)))
    assert doc["exact"]["Y"][1][0] == f"{10**400 + 1}/2"
    assert doc["exact"]["loss"] == f"-{10**400}/7"


@pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"), reason="no int digit limit")
def test_a_result_with_huge_numbers_has_a_repr():
    # A notebook shows repr(result) as its text form: an int past 4,300 digits stopped it.
    from convgrad.result import Result

    before = sys.get_int_max_str_digits()
    huge = 10**5000
    result = Result({"loss": huge, "dW": np.array([[Fraction(1, 3), -huge]], dtype=object)},
                    exact=True)
    text = repr(result)
    assert "1" + "0" * 5000 in text and "-1" + "0" * 5000 in text and "Fraction(1, 3)" in text
    assert sys.get_int_max_str_digits() == before  # and the limit is back


@pytest.mark.skipif(not hasattr(sys, "get_int_max_str_digits"), reason="no int digit limit")
def test_int_digit_limit_is_lifted_only_while_writing():
    from convgrad.result import unlimited_int_digits

    before = sys.get_int_max_str_digits()
    with unlimited_int_digits():
        assert sys.get_int_max_str_digits() == 0
        assert len(str(10**5000)) == 5001
    assert sys.get_int_max_str_digits() == before
    with pytest.raises(ValueError):
        str(10**5000)


@pytest.mark.parametrize("exact", [0, 1, "yes", "true", np.float64(1.0)])
def test_exact_is_none_true_or_false(seed_example, exact):
    # exact=0 solved in exact fractions and exact=1 decided by size: both silently ignored
    with pytest.raises(convgrad.ProblemError, match="exact="):
        convgrad.solve(seed_example, exact=exact)
    assert convgrad.solve(seed_example, exact=np.bool_(False))["loss"] == 23.0


@pytest.mark.parametrize("conventions", [{"max_ties": "all"}, 3, ["pytorch"]])
def test_conventions_is_a_profile_name(seed_example, conventions):
    # a mapping stopped with "TypeError: unhashable type: 'dict'", an int with "'int' object
    # is not iterable"
    with pytest.raises(convgrad.ProblemError, match="conventions="):
        convgrad.solve(seed_example, conventions=conventions)
    # the seed example's dW under the textbook's true convolution (the kernel rotated) is
    # README's 96 83; 57 44
    assert convgrad.solve(seed_example, conventions="textbook")["dW"].tolist() == \
        [[96, 83], [57, 44]]


@pytest.mark.parametrize("bias", [np.array(2), np.array(2.0), np.array(2, dtype=object)])
@pytest.mark.parametrize("learning_rate", [np.array(1), np.array("1/10", dtype=object)])
def test_zero_dimensional_arrays_are_the_number_they_hold(bias, learning_rate):
    # NumPy's reductions (x.sum(), np.mean(x)) hand back 0-d arrays; np.array(2) stopped
    # with AttributeError and np.array(0.1) as learning_rate was "not a number".
    # By hand, with bias 2 the seed's outputs are each 1 higher: Y = [[4, 5], [7, 8]],
    # dY = (Y - t)/2 = [[3/2, 5/2], [7/2, 7/2]], db = 11.
    r = convgrad.solve({"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "bias": bias,
                        "target": "1 0; 0 1", "learning_rate": learning_rate})
    assert r["Y"].tolist() == [[4, 5], [7, 8]]
    assert r["db"] == 11
    lr = Fraction(str(learning_rate[()]))
    assert r["b_new"] == pytest.approx(2 - lr * 11)


def test_zero_dimensional_array_as_a_matrix_is_a_problem_error():
    with pytest.raises(convgrad.ProblemError, match="'input' is a scalar"):
        convgrad.solve({"input": np.array(5), "kernel": "1", "grad_output": "1"})


@pytest.mark.parametrize("key, written", [(1, "'1'"), (True, "'true'"), (None, "'null'")])
def test_a_key_that_is_not_a_string_is_named_as_written(key, written):
    # An int key was taken for a list index: {1: 2} read "'[2]' is not a known key".
    problem = {"input": "1 2; 3 4", "kernel": "1", "grad_output": "1 1; 1 1", key: 2}
    with pytest.raises(convgrad.ProblemError, match="is not a known key") as caught:
        convgrad.solve(problem)
    assert str(caught.value).startswith(f"<dict>: {written} is not a known key")
    layered = {"input": "1 2; 3 4", "layers": [{"conv": {"kernel": "1", 3: 4}}],
               "grad_output": [[[1, 1], [1, 1]]]}
    with pytest.raises(convgrad.ProblemError, match=r"'layers\[1\]\.conv\.3' is not a known"):
        convgrad.solve(layered)


def _nested(value, levels):
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("key", ["input", "kernel", "target", "bias", "name"])
@pytest.mark.parametrize("levels", [32, 40, 70, 3000])
def test_a_dict_nested_deeper_than_a_file_may_is_a_problem_error(key, levels):
    # A file stops at 32 levels while it is read (tests/bad_problems/deep_nesting*); a dict
    # went on to NumPy (a RuntimeError past 32 axes) or to Python's recursion limit.
    problem = {"input": "1 2; 3 4", "kernel": "1", "target": "0 0; 0 0"}
    problem[key] = _nested(1, levels)
    with pytest.raises(convgrad.ProblemError) as caught:
        convgrad.solve(problem)
    assert str(caught.value).startswith(f"<dict>: '{key}' is nested more than 32 levels deep")


def test_deep_mappings_and_layers_in_a_dict_name_their_key():
    deep: dict = {}
    inner = deep
    for _ in range(3000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(convgrad.ProblemError, match=r"^<dict>: 'conventions\.a\.a\.a' is nested"):
        convgrad.solve({"input": "1 2; 3 4", "kernel": "1", "conventions": deep})
    layers = [{"conv": {"kernel": "1"}}, {"conv": {"kernel": _nested(1, 40)}}]
    with pytest.raises(convgrad.ProblemError,
                       match=r"^<dict>: 'layers\[2\]\.conv\.kernel' is nested"):
        convgrad.solve({"input": "1 2; 3 4", "layers": layers})


def test_a_dict_as_deep_as_a_file_may_be_still_solves():
    # 31 lists below the problem's mapping: the most a file may hold, a 1x...x1 input that
    # the reader refuses for its shape, not its depth.
    with pytest.raises(convgrad.ProblemError, match="'input' is 1x1x1"):
        convgrad.solve({"input": _nested(1, 31), "kernel": "1"})
    assert convgrad.solve({"input": [[1, 2], [3, 4]], "kernel": [[1]]})["Y"].tolist() == \
        [[1, 2], [3, 4]]


@pytest.mark.parametrize("entry", [list(range(100_000)), _nested(1, 5000), {"x": 1}])
def test_an_object_array_holding_a_list_says_so_in_one_short_line(entry):
    # The entry was written out whole (a message of 700,000 characters) or, nested
    # thousands deep, failed with RecursionError while being written.
    grid = np.empty((2, 2), dtype=object)
    grid[:] = 1
    grid[0, 1] = entry
    with pytest.raises(convgrad.ProblemError) as caught:
        convgrad.solve({"input": grid, "kernel": "1"})
    message = str(caught.value)
    assert message.startswith("<dict>: 'input' entry [1,2]: ") and "is not a number" in message
    assert len(message) < 200 and "\n" not in message


def test_an_array_where_a_number_belongs_is_one_line():
    # NumPy's repr of a large array spans lines: the message did too.
    rate = np.array([list(range(100_000))], dtype=object)
    with pytest.raises(convgrad.ProblemError, match="'learning_rate' must be a number") as caught:
        convgrad.solve({"input": "1 2; 3 4", "kernel": "1", "learning_rate": rate})
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


@pytest.mark.parametrize("axes", [33, 64])
def test_an_object_array_of_more_than_32_axes_is_a_problem_error(axes):
    # A bad entry sent it to np.ndenumerate, which stops at 32 axes: a RuntimeError.
    try:
        grid = np.ones([1] * axes, dtype=object)
    except ValueError:  # NumPy before 2.0 makes no array of more than 32 axes
        pytest.skip(f"this NumPy makes no array of {axes} axes")
    grid[(0,) * axes] = "x"
    with pytest.raises(convgrad.ProblemError,
                       match=f"^<dict>: 'input': an array of {axes} axes is not a matrix"):
        convgrad.solve({"input": grid, "kernel": "1"})


# --- Python's and NumPy's own numbers ------------------------------------------------------


SEED = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "target": "1 0; 0 1"}


@pytest.mark.parametrize("bias", [Decimal("0.5"), Decimal("5E-1"), np.float32(0.5),
                                  np.float16(0.5), "1/2"])
def test_python_decimals_and_numpy_floats_are_the_decimal_they_spell(bias):
    # Decimal("0.5") was "Decimal Decimal('0.5') is not a number". By hand, bias 1/2 puts
    # each of the seed's outputs 1/2 lower: Y = [[5/2, 7/2], [11/2, 13/2]],
    # dY = (Y - t)/2 = [[3/4, 7/4], [11/4, 11/4]], db = 32/4 = 8.
    r = convgrad.solve({**SEED, "bias": bias})
    assert r.exact
    assert r["Y"].tolist() == [[Fraction(5, 2), Fraction(7, 2)], [Fraction(11, 2),
                                                                    Fraction(13, 2)]]
    assert r["db"] == 8


@pytest.mark.parametrize("learning_rate", [Decimal("0.1"), np.float32(0.1), np.float16(0.1),
                                           np.longdouble("0.1")])
def test_a_numpy_float_scalar_is_the_decimal_it_prints_as(learning_rate):
    # np.float32(0.1) prints as 0.1, as 0.1 does, and is read as 1/10, as 0.1 is; it was its
    # float32 value taken to float64, 0.100000001490116119384765625, so W_new ran to 33 digits.
    # By hand: W_new = W - dW/10 = [[1 - 3.2, -4.1], [-1 - 5.9, 1 - 6.8]], b_new = 1 - 9/10.
    r = convgrad.solve({**SEED, "bias": 1, "learning_rate": learning_rate})
    assert r["W_new"].tolist() == [[Fraction(-11, 5), Fraction(-41, 10)],
                                   [Fraction(-69, 10), Fraction(-29, 5)]]
    assert r["b_new"] == Fraction(1, 10)


@pytest.mark.parametrize("value, words", [
    (Decimal("NaN"), "'bias': Decimal('NaN') is not a finite number"),
    (Decimal("-Infinity"), "'bias': Decimal('-Infinity') is not a finite number"),
    (np.float32("inf"), "'bias': inf is not a finite number")])
def test_decimals_that_are_no_number_say_so(value, words):
    with pytest.raises(convgrad.ProblemError, match=re.escape(words)):
        convgrad.solve({**SEED, "bias": value})


def test_decimals_in_a_matrix():
    # 0.1 + 0.2 as the rationals 1/10 and 2/10, as in test_decimals_are_the_rationals_they_spell
    r = convgrad.solve({"input": [[Decimal("0.1"), Decimal("0.2")]], "kernel": [[1, 1]],
                        "grad_output": [[1]]})
    assert r["Y"].tolist() == [[Fraction(3, 10)]]
    arr = np.array([[Decimal("0.1"), Decimal("0.2")]], dtype=object)
    assert convgrad.solve({"input": arr, "kernel": [[1, 1]], "grad_output": [[1]]})["Y"] \
        .tolist() == [[Fraction(3, 10)]]


def test_a_masked_entry_is_refused_by_its_position():
    # np.ma arrays were read through their mask: a masked 5 was taken as 5, silently
    x = np.ma.masked_array(np.arange(1, 10).reshape(3, 3), mask=np.arange(9).reshape(3, 3) == 4)
    with pytest.raises(convgrad.ProblemError,
                       match=r"'input' entry \[2,2\]: the entry is masked; fill it"):
        convgrad.solve({**SEED, "input": x})
    with pytest.raises(convgrad.ProblemError, match=r"'input' entry \[2,2\]: the entry is"):
        convgrad.solve({**SEED, "input": x.astype(float)})
    # Nothing masked: the array's values, the seed's numbers (SPEC section 2)
    r = convgrad.solve({**SEED, "bias": 1, "input": np.ma.masked_array(x.data)})
    assert r["loss"] == 23 and r["dW"].tolist() == [[32, 41], [59, 68]]
    assert type(r["dX"]) is np.ndarray


# --- what the command line says on standard error, for a script ----------------------------


def test_the_notes_the_command_line_prints_are_the_results_notes():
    # The notes of `solve` on standard error (float64 chosen by size, nll's likely slip,
    # forward pass only) had no place in a Result: a script saw integers in and float64
    # out, and no word why.
    big = convgrad.solve({"input": np.ones((4, 64, 64), dtype=int),
                          "kernel": np.ones((8, 4, 3, 3), dtype=int),
                          "grad_output": np.ones((8, 62, 62), dtype=int)})
    # 8 filters x 62 x 62 outputs x 36 taps = 1,107,072 multiply-adds, above SPEC's million
    assert big.exact is False
    assert len(big.notes) == 1 and "1,107,072 multiply-adds" in big.notes[0]
    assert big["warnings"] == []
    assert convgrad.solve(WORKED_EXAMPLE).notes == []
    # nll's outputs are log-probabilities, at most 0; 2 is a likely slip, but a loss
    slip = convgrad.solve({"input": [2, -1], "layers": ["relu"], "target": [1, 0],
                           "loss": "nll"})
    assert slip["loss"] == -2
    assert len(slip.notes) == 1 and "nll takes log-probabilities" in slip.notes[0]
    forward = convgrad.solve({"input": "1 2; 3 4", "kernel": "2"})
    assert forward["Y"].tolist() == [[2, 4], [6, 8]]
    assert len(forward.notes) == 1 and "forward pass only" in forward.notes[0]


def test_a_scalar_in_float64_is_a_python_float():
    # SPEC 4: scalars are Fraction/int or float; a float64 db and b_new were NumPy's
    # float64 (repr "np.float64(9.0)"), where loss was a float.
    r = convgrad.solve({**SEED, "bias": 1, "learning_rate": "1/10", "steps": 2}, exact=False)
    # By hand (the seed's numbers, SPEC section 2): db = 9, b_new = 1 - 9/10
    assert type(r["db"]) is float and r["db"] == 9.0
    assert type(r["b_new"]) is float and r["b_new"] == pytest.approx(0.1)
    assert type(r["loss"]) is float and r["loss"] == 23.0
    assert type(r["steps"][0]["b_new"]) is float and type(r["steps"][1]["loss"]) is float


def test_two_threads_solve_their_own_problems(seed_example):
    # The README's claim: each thread gets its own answer, whatever the other one runs
    # (conventions, arithmetic). The seed's dW (SPEC section 2) and, under the textbook's
    # true convolution, the README's 96 83; 57 44; the thirds problem's Y = X/3 by hand.
    import threading

    wants = [({"conventions": None, "exact": None}, [[32, 41], [59, 68]]),
             ({"conventions": "textbook", "exact": False}, [[96.0, 83.0], [57.0, 44.0]])]
    failures: list[str] = []

    def work(options: dict, dw: list) -> None:
        for _ in range(20):
            r = convgrad.solve(seed_example, **options)
            if r["dW"].tolist() != dw or r.exact is (options["exact"] is False):
                failures.append(f"{options}: {r['dW'].tolist()}")
            thirds = convgrad.solve({"input": "1 2; 3 4", "kernel": "1/3", "grad_output":
                                     "1 1; 1 1"})
            if thirds["Y"].tolist() != [[Fraction(1, 3), Fraction(2, 3)],
                                        [1, Fraction(4, 3)]]:
                failures.append("thirds")

    threads = [threading.Thread(target=work, args=want) for want in wants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
@pytest.mark.parametrize("x, where, words", [
    (np.zeros((0, 2)), "'input':", "empty"),
    (np.array([[True, False], [False, True]]), "'input':", "boolean"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "'input' entry [1,2]:", "NaN or infinite"),
    (np.array([["1/2", "x"], ["1", "2"]], dtype=object), "'input' entry [1,2]:",
     "'x' is not a number"),
    (np.array([[1j, 2], [3, 4]]), "'input':", "complex128 is not a matrix of numbers"),
])
def test_a_numpy_array_that_is_not_numbers_names_the_key_and_entry(x, where, words):
    # The API takes NumPy arrays where a file holds matrices; each kind of array that holds
    # no usable numbers is refused at its key, at the first bad entry (1-based) where there
    # is one.
    with pytest.raises(convgrad.ProblemError) as exc:
        convgrad.solve({"input": x, "kernel": "1", "grad_output": "1 1; 1 1"})
    assert str(exc.value).startswith(f"<dict>: {where}") and words in str(exc.value)


def test_an_object_array_of_fractions_and_strings_is_exact():
    x = np.array([["1/2", "0.25"], [Fraction(1, 3), 2]], dtype=object)
    r = convgrad.solve({"input": x, "kernel": "2", "grad_output": "1 1; 1 1"})
    assert r["Y"].tolist() == [[1, Fraction(1, 2)], [Fraction(2, 3), 4]]  # 2x, by hand


@pytest.mark.parametrize("call", [
    lambda r: r.to_markdown(lang="fr"), lambda r: r.to_html(lang="EN"),
    lambda r: r.to_latex(terms="some"), lambda r: r.to_markdown(terms="All"),
])
def test_result_formats_refuse_a_language_or_terms_they_do_not_have(seed_example, call):
    # en and zh, and --terms' all, auto and none, exactly: a near miss is not read as one.
    with pytest.raises(ValueError, match="must be"):
        call(convgrad.solve(seed_example))
