"""One result type and one JSON serialiser: convgrad.solve, solve --json, check and the tables
read the same values, shaped as the user wrote them (SPEC sections 3 to 5)."""

from __future__ import annotations

import json
import sys
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad.engine import run
from convgrad.grade import Grader, Tolerance, check_json
from convgrad.reader import load_problem
from convgrad.result import RESULT_KEYS, Result, json_number, unlimited_int_digits

# Y = X/3 + 10^400: fractions beyond float64's range (JSON has their nearest integer).
HUGE = "input: '1 2; 3 4'\nkernel: '1/3'\nbias: 1e400\ntarget: '0 0; 0 0'\n"
# Y = X/3: fractions within float64's range.
THIRDS = "input: '1 2; 3 4'\nkernel: '1/3'\ntarget: '0 0; 0 0'\n"
NETWORK = {"input": "1 0 1; 0 1 1; 1 1 0", "target": [0, 1],
           "layers": [{"conv": {"kernel": "1 -1; 0 1", "bias": 2}}, "relu", "flatten",
                      {"dense": {"weights": "1 0 -1 0; 0 1 0 -1", "bias": "1/2"}}]}


def test_solve_returns_a_result_exported_by_convgrad():
    result = convgrad.solve(THIRDS)
    assert isinstance(result, convgrad.Result) and isinstance(result, dict)
    assert convgrad.Result is Result
    assert result.exact is True
    assert list(result) == ["Y", "dY", "dW", "db", "dX", "loss", "conventions", "warnings"]
    assert result.top_keys == ["Y", "dY", "dW", "db", "dX", "loss"]
    assert set(result.top_keys) <= set(RESULT_KEYS)
    assert result["Y"].tolist() == [[Fraction(1, 3), Fraction(2, 3)], [1, Fraction(4, 3)]]
    assert convgrad.solve(THIRDS, exact=False).exact is False


def test_a_scalar_bias_is_one_number_in_one_layer_and_a_list_in_a_network():
    one = convgrad.solve(THIRDS)
    assert one["db"] == Fraction(5, 3) and not isinstance(one["db"], np.ndarray)
    many = convgrad.solve({**NETWORK, "learning_rate": 1})
    conv, fc = many["layers"][0], many["layers"][3]
    assert conv["db"].shape == (1,) and fc["db"].shape == (2,)
    assert list(conv) == ["name", "type", "output", "d_output", "dW", "W_new", "db", "b_new"]
    assert conv["dW"].shape == (2, 2)  # the kernel as written


def test_every_value_an_answer_may_name():
    values = convgrad.solve(NETWORK).by_answer_key()
    assert list(values)[:4] == ["Y", "dY", "dX", "loss"]
    assert {"conv1.output", "conv1.d_output", "conv1.dW", "conv1.db", "relu1.output",
            "flatten1.d_output", "fc1.dW", "fc1.db"} <= set(values)
    assert "layers" not in values and "warnings" not in values


@pytest.mark.parametrize("text", [HUGE, THIRDS], ids=["beyond-float64", "thirds"])
def test_check_json_and_solve_json_write_the_same_numbers(text):
    solved = run(load_problem(text))
    result = Result.from_run(solved)
    with unlimited_int_digits():
        solve_doc = json.loads(result.json_text())
        grader = Grader(solved, Tolerance())
        report = grader.grade({"Y": [[0, 0], [0, 0]], "loss": 0, "dW": 0, "db": 0})
        check_doc = json.loads(json.dumps(check_json("p.yaml", Tolerance(), [report],
                                                     reveal=True, exact=solved.exact),
                                          allow_nan=False))
    keys = {item["key"]: item for item in check_doc["files"][0]["keys"]}
    assert set(keys) == {"Y", "loss", "dW", "db"}
    for key, item in keys.items():
        assert item["expected"] == solve_doc[key], key
        assert item["exact"]["expected"] == solve_doc["exact"][key], key
        # Each wrong entry's expected number is the same JSON number too.
        for entry in item["wrong_entries"]:
            value = solve_doc[key]
            for i in entry["position"]:
                value = value[i - 1]
            assert entry["expected"] == value


def test_json_numbers():
    assert json_number(Fraction(7, 2)) == 3.5
    assert json_number(Fraction(46, 2)) == 23 and isinstance(json_number(Fraction(46, 2)), int)
    assert json_number(np.int64(5)) == 5 and isinstance(json_number(np.int64(5)), int)
    assert json_number(Fraction(10**400 + 1, 2)) == 10**400 // 2  # beyond float64: rounded
    assert json_number(np.float64(0.25)) == 0.25


@pytest.mark.parametrize("doc", [
    {"Y": [[3, 4], [6, 7]], "loss": 23, "db": -9.5, "exact": {"db": "-19/2"}},
    {"a": [], "b": {}, "c": [None, True, False, 0, -0.0, 1e-300, 1.5e300, 2**200, -(2**70)]},
    {"layers": [{"name": "conv1", "type": "conv", "output": [[0.1, 0.2], [1 / 3, 2 / 3]]}]},
    {"name": 'a "quoted" name', "path": "C:\\tmp", "zh": "卷积", "tab": "a\tb", "del": "\x7f"},
    {"float64": np.float64(0.1), 1: "an int key", "pair": (1, 2)},  # json's to write
    {"big": list(range(6000))},  # past SMALL_DOCUMENT: json's encoder writes it
    [{"nested": [[[1.25]]]}, "", "~"],
])
def test_dumps_writes_what_json_writes(doc):
    from convgrad.result import dumps

    assert dumps(doc) == json.dumps(doc, allow_nan=False)


def test_dumps_refuses_what_json_refuses():
    from convgrad.result import dumps

    for bad in (float("nan"), [1.0, float("inf")], {"x": -float("inf")}):
        with pytest.raises(ValueError):
            dumps(bad)


# --- a Result as a Python value ------------------------------------------------------------


def test_results_compare_by_their_values():
    # r1 == r2 stopped with NumPy's "truth value of an array ... is ambiguous"
    one, again = convgrad.solve(THIRDS), convgrad.solve(THIRDS)
    assert one == again
    assert (one != again) is False
    # By hand: with kernel 1/2 in place of 1/3, Y = X/2, so Y[1,1] is 1/2, no longer 1/3.
    other = convgrad.solve(THIRDS.replace("'1/3'", "'1/2'"))
    assert other["Y"][0, 0] == Fraction(1, 2)
    assert one != other
    assert (one == other) is False
    assert one != {**one, "Y": one["Y"][:1]}  # a shape that differs is not equal either
    assert one != {key: value for key, value in one.items() if key != "dW"}
    assert convgrad.solve(NETWORK) == convgrad.solve(NETWORK)  # arrays inside layers
    assert (one == 3) is False


def test_copy_is_a_result():
    # dict.copy gave a plain dict: no .exact, no to_json, no worked solution
    result = convgrad.solve(THIRDS)
    copied = result.copy()
    assert type(copied) is Result and copied.exact is True and copied == result
    assert copied.to_json() == result.to_json()
    copied["dW"] = None
    assert result["dW"] is not None


def test_a_float_result_is_the_users_own_arrays():
    # In float64 a Result's arrays were the run's own: `result["dW"] *= 100` also rewrote
    # the worked solution, whose sums then read "1·1 + 2·2 + 3·4 + 3·5 = 3200".
    result = convgrad.solve(THIRDS, exact=False)
    before = result.to_markdown()
    for key in ("Y", "dY", "dW", "dX"):
        result[key] *= 100
    assert result.to_markdown() == before
    net = convgrad.solve({**NETWORK, "learning_rate": 1}, exact=False)
    before = net.to_markdown()
    for layer in net["layers"]:
        for key in ("output", "d_output", "dW", "W_new"):
            if key in layer:
                layer[key] *= 100
    assert net.to_markdown() == before


def test_json_from_two_threads_at_once(monkeypatch):
    # Python's limit on writing an int (4,300 digits) is the process's: a thread that left
    # to_json put back the limit under another one still writing (ValueError "Exceeds the
    # limit"), and the last to leave could put back the lifted limit for good.
    import threading

    if not hasattr(sys, "get_int_max_str_digits"):
        pytest.skip("no int digit limit")
    before = sys.get_int_max_str_digits()
    huge = 10**5000
    inside, leave = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def stay() -> None:
        with unlimited_int_digits():
            inside.set()
            leave.wait(10)

    def write() -> None:
        try:
            with unlimited_int_digits():
                inside.wait(10)
                leave.set()
                first.join(10)  # the first writer has left; this one still writes
                assert len(str(huge)) == 5001
        except Exception as exc:  # reported below, in the test's thread
            failures.append(exc)

    first = threading.Thread(target=stay)
    second = threading.Thread(target=write)
    first.start()
    second.start()
    second.join(20)
    assert failures == []
    assert sys.get_int_max_str_digits() == before


def test_a_result_pickles_with_its_worked_solution():
    import pickle

    result = convgrad.solve(THIRDS)
    again = pickle.loads(pickle.dumps(result))
    assert again == result and again.exact is True and again.notes == []
    assert again.to_markdown() == result.to_markdown()
