"""One result type and one JSON serialiser: convgrad.solve, solve --json, check and the tables
read the same values, shaped as the user wrote them (SPEC sections 3 to 5)."""

from __future__ import annotations

import json
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
