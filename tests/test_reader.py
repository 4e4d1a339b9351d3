"""The problem file of SPEC sections 1 and 5: numbers, shapes, keys, errors and networks.

Every expected number and size here is worked out by hand from SPEC (sections 1, 2 and 5),
never taken from the engine. Problems are given as YAML text (so that error messages can be
checked for the right line) and as dicts, through ``convgrad.solve`` and through
``convgrad.reader.problem_from_text`` / ``problem_from_dict``.
"""

from __future__ import annotations

import math
import random
import re
import textwrap
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import convgrad
from convgrad.errors import ProblemError
from convgrad.reader import problem_from_dict, problem_from_text

pytest.importorskip("hypothesis")

from hypothesis import event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# SPEC section 1's problem, as written there; check figures from SPEC section 2.
SEED_YAML = textwrap.dedent("""\
    name: 3x3 input, 2x2 kernel, MSE loss
    input:
      - [1, 2, 3]
      - [4, 5, 6]
      - [7, 8, 9]
    kernel:
      - [1, 0]
      - [-1, 1]
    bias: 1
    stride: 1
    padding: 0
    dilation: 1
    flip_kernel: false
    activation: none
    target:
      - [1, 0]
      - [0, 1]
    loss: mse
    """)
SEED_DW = [[32, 41], [59, 68]]
SEED_DX = [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]

# SPEC section 5's network, as written there.
NETWORK_YAML = textwrap.dedent("""\
    input: "1 0 1 0; 0 1 1 0; 1 1 0 1; 0 1 0 1"
    layers:
      - conv: {kernel: [[[1, -1], [1, -1]], [[0, 1], [1, 0]]], bias: 0, stride: 1, padding: 0}
      - relu                                  # an activation by name, or {leaky_relu: {slope: 0.1}}
      - max_pool: {size: 2, stride: 1}        # or avg_pool
      - flatten                               # C x H x W -> vector: channel, then row, then column
      - dense:                                # weights: out x in, as PyTorch Linear: y = W x + b
          weights: "1 0 -1 0 1 0 -1 0; 0 1 0 -1 0 1 0 -1"
          bias: [0, "1/2"]
    target: [0, 1]
    loss: cross_entropy
    """)

X3 = "1 2 3; 4 5 6; 7 8 9"


def lines(*rows: str) -> str:
    """YAML text with one row per line (line 1 is the first argument)."""
    return "\n".join(rows) + "\n"


def error_of(problem) -> str:
    """The ProblemError message for a problem that must be rejected."""
    with pytest.raises(convgrad.ProblemError) as info:
        convgrad.solve(problem)
    return str(info.value)


def assert_error(problem, *needles: str, line: int | None = None) -> str:
    message = error_of(problem)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    if line is not None:
        assert re.search(rf"\bline {line}\b", message), f"'line {line}' not in {message!r}"
    return message


def as_list(arr) -> list:
    return np.asarray(arr).tolist()


# --- numbers ----------------------------------------------------------------------------


def test_integers_stay_int_and_decimals_are_the_exact_rationals_they_spell():
    p = problem_from_text(lines('input: [[1, 0.1], [2.5, -0.25]]', 'kernel: 1'))
    x = p.x[0]
    assert x.tolist() == [[1, Fraction(1, 10)], [Fraction(5, 2), Fraction(-1, 4)]]
    assert type(x[0, 0]) is int
    assert all(not isinstance(v, float) for v in x.flat)
    assert x[0, 1] != 0.1  # 0.1 the float is not 1/10


def test_decimals_in_yaml_give_exact_results():
    r = convgrad.solve(lines("input: [[0.1, 0.2]]", "kernel: [[1, 1]]", "grad_output: [[1]]"))
    assert r["Y"].tolist() == [[Fraction(3, 10)]]
    assert r["dW"].tolist() == [[Fraction(1, 10), Fraction(1, 5)]]


@pytest.mark.parametrize(("written", "value"), [
    ('"1/3"', Fraction(1, 3)),
    ("1/3", Fraction(1, 3)),          # YAML reads this as a string
    ("1e-3", Fraction(1, 1000)),      # YAML 1.1 reads this as a string
    ("-1e-3", Fraction(-1, 1000)),
    ("1.5e-3", Fraction(3, 2000)),
    ('"-2/5"', Fraction(-2, 5)),
    ("-2/5", Fraction(-2, 5)),
    ('"0.25"', Fraction(1, 4)),
    ("0.1", Fraction(1, 10)),
    ("-7", -7),
    ('"6/3"', 2),
    ('"1.5/2"', Fraction(3, 4)),
])
def test_number_forms_in_yaml(written, value):
    p = problem_from_text(lines("input: [[1, 2], [3, 4]]", "kernel: 1", f"bias: {written}",
                                f"learning_rate: {written}"))
    assert p.layers[0].op.b.tolist() == [value]
    assert p.learning_rate == value
    assert not isinstance(p.learning_rate, float)


def test_fraction_strings_inside_lists_and_matrix_strings():
    from_list = problem_from_text(lines('input: [["1/3", -2/5], [1e-3, "0.5"]]', "kernel: 1"))
    from_text = problem_from_text(lines('input: "1/3 -2/5; 1e-3 0.5"', "kernel: 1"))
    want = [[Fraction(1, 3), Fraction(-2, 5)], [Fraction(1, 1000), Fraction(1, 2)]]
    assert from_list.x[0].tolist() == want
    assert from_text.x[0].tolist() == want


@pytest.mark.parametrize("written", [
    'input: "1 2 3; 4 5 6; 7 8 9"',
    'input: "1, 2, 3; 4, 5, 6; 7, 8, 9"',
    'input: "1,2,3;4,5,6;7,8,9"',
    'input: "1 2 3\\n4 5 6\\n7 8 9"',
    "input: |\n  1 2 3\n  4 5 6\n  7 8 9",
    "input: |\n  1, 2, 3\n  4, 5, 6\n  7, 8, 9\n",
    'input: ["1 2 3", "4 5 6", "7 8 9"]',
    "input: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]",
])
def test_matrix_strings_match_nested_lists(written):
    p = problem_from_text(lines(written, "kernel: [[1, 0], [-1, 1]]"))
    assert p.x.shape == (1, 3, 3)
    assert p.x[0].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def test_matrix_string_gives_the_seed_numbers():
    r = convgrad.solve({"input": X3, "kernel": "1 0; -1 1", "bias": 1, "target": "1 0; 0 1"})
    assert r["Y"].tolist() == [[3, 4], [6, 7]]
    assert r["loss"] == 23
    assert r["dW"].tolist() == SEED_DW
    assert r["dX"].tolist() == SEED_DX


def test_list_of_matrix_strings_is_3d():
    p = problem_from_text(lines('input: ["1 2; 3 4", "5 6; 7 8"]',
                                'kernel: ["1 0; 0 1", "0 1; 1 0"]'))
    assert p.x.shape == (2, 2, 2)
    assert p.x.tolist() == [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    # C = 2, so a 3-D kernel is C x kh x kw: one filter.
    assert p.layers[0].op.w.shape == (1, 2, 2, 2)
    assert p.layers[0].op.w[0].tolist() == [[[1, 0], [0, 1]], [[0, 1], [1, 0]]]


def test_one_row_string_is_a_vector():
    # bias: one value per filter; "1 2" is the vector [1, 2].
    p = problem_from_text(lines(f'input: "{X3}"', 'kernel: ["1 0; 0 1", "0 1; 1 0"]',
                                'bias: "1 -1/2"'))
    assert p.layers[0].op.b.tolist() == [1, Fraction(-1, 2)]
    p = problem_from_text(lines(f'input: "{X3}"', 'kernel: ["1 0; 0 1", "0 1; 1 0"]',
                                'bias: "1, 2"'))
    assert p.layers[0].op.b.tolist() == [1, 2]
    # A target for a vector output, written as one row (SPEC: "0 1/2").
    r = convgrad.solve(lines('input: "1 2"', "layers:", '  - dense: {weights: "1 0; 0 1"}',
                             'target: "0 1/2"', "loss: sse"))
    # Y = [1, 2]; L = 1^2 + (3/2)^2 = 13/4.
    assert r["Y"].tolist() == [1, 2]
    assert r["loss"] == Fraction(13, 4)


def test_random_fraction_matrices_read_the_same_in_every_written_form():
    rng = random.Random(20240611)
    for _ in range(40):
        h, w = rng.randint(1, 4), rng.randint(2, 5)
        values = [[Fraction(rng.randint(-50, 50), rng.randint(1, 12)) for _ in range(w)]
                  for _ in range(h)]

        def text(v: Fraction) -> str:
            return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"

        nested = [[text(v) for v in row] for row in values]
        semicolons = "; ".join(" ".join(row) for row in nested)
        newlines_commas = "\n".join(", ".join(row) for row in nested)
        for form in (nested, semicolons, newlines_commas):
            p = problem_from_dict({"input": form, "kernel": 1})
            assert p.x[0].tolist() == values, form


def test_random_decimals_are_exact():
    rng = random.Random(7)
    for _ in range(40):
        text = f"{rng.randint(-999, 999)}.{rng.randint(0, 999):03d}"
        p = problem_from_text(lines(f"input: [[{text}]]", "kernel: 1"))
        assert p.x[0, 0, 0] == Fraction(text)


@pytest.mark.parametrize(("entry", "shown"), [
    ("true", "true"),
    ("false", "false"),
    ("yes", "yes"),    # a YAML 1.1 boolean, a word in YAML 1.2
    ("null", "null"),
    ("~", "null"),
    (".nan", "nan"),
    (".inf", "inf"),
    ("-.inf", "inf"),
    ('"1/0"', "1/0"),
    ("1/0", "1/0"),
    ("abc", "abc"),
    ('"1/2/3"', "1/2/3"),
])
def test_non_numbers_in_a_list_name_the_key_entry_and_line(entry, shown):
    text = lines(f'input: "{X3}"', "target: [[1, 2], [3, 4]]", "kernel:", "  - [1, 0]",
                 f"  - [0, {entry}]")
    message = assert_error(text, "'kernel'", "[2,2]", line=5)
    assert shown in message


def test_bad_entry_in_a_multiline_flow_list_gives_the_entry_line():
    assert_error(lines(f'input: "{X3}"', "kernel: [[1, 0],", "         [0, x]]"), "'kernel'",
                 "[2,2]", "'x'", line=3)


def test_number_too_large_for_float64_is_a_problem_error():
    with pytest.raises(convgrad.ProblemError, match="input"):
        convgrad.solve({"input": "1e400 1", "kernel": 1}, exact=False)


@pytest.mark.parametrize("entry", ["true", "nan", "inf", "1/0", "abc", "1/3/4"])
def test_non_numbers_in_a_matrix_string_name_the_key_and_entry(entry):
    message = assert_error(lines(f'input: "{X3}"', f'kernel: "1 0; 0 {entry}"'),
                           "'kernel'", "[2,2]", line=2)
    assert entry in message


@pytest.mark.parametrize("bad", [True, False, None, float("nan"), float("inf"), "1/0", "x"])
def test_non_numbers_in_a_dict_name_the_key_and_entry(bad):
    message = assert_error({"input": [[1, 2, 3], [4, 5, bad], [7, 8, 9]], "kernel": 1},
                           "'input'", "[2,3]")
    assert "line" not in message  # a dict has no lines


@pytest.mark.parametrize(("key", "value"), [
    ("bias", "true"),
    ("bias", ".nan"),
    ("bias", '"1/0"'),
    ("learning_rate", ".inf"),
    ("learning_rate", "false"),
    ("learning_rate", "ten"),
    ("stride", "true"),
    ("padding", "true"),
    ("dilation", ".nan"),
])
def test_non_numbers_for_scalar_keys_name_the_key_and_line(key, value):
    assert_error(lines(f'input: "{X3}"', "kernel: 1", f"{key}: {value}"), f"'{key}'", line=3)


def test_non_number_slope_names_the_key_and_line():
    assert_error(lines(f'input: "{X3}"', "kernel: 1",
                       "activation: {name: leaky_relu, slope: true}"), "slope", line=3)


def test_ragged_matrix_is_an_error():
    assert_error(lines('input: "1 2; 3"', "kernel: 1"), "'input'", "ragged", line=1)
    assert_error(lines("input:", "  - [1, 2]", "  - [3]", "kernel: 1"), "'input'", "ragged",
                 line=3)


# --- shapes -----------------------------------------------------------------------------


def test_2d_input_is_one_channel_and_2d_kernel_one_filter():
    p = problem_from_text(SEED_YAML)
    assert p.x.shape == (1, 3, 3)
    op = p.layers[0].op
    assert op.w.shape == (1, 1, 2, 2)
    assert op.w[0, 0].tolist() == [[1, 0], [-1, 1]]
    assert op.b.tolist() == [1]
    assert op.pad == (0, 0, 0, 0) and op.stride == (1, 1) and op.dilation == (1, 1)
    assert p.target.size == 4
    r = convgrad.solve(SEED_YAML)
    assert r["Y"].shape == (2, 2) and r["dY"].shape == (2, 2)
    assert r["dW"].shape == (2, 2) and r["dX"].shape == (3, 3)
    assert not isinstance(r["db"], np.ndarray) and r["db"] == 9


def test_3d_kernel_on_2d_input_is_f_filters():
    # Two filters on the 3x3 input: identity-diagonal and anti-diagonal, bias 1 each.
    r = convgrad.solve({"input": X3, "kernel": ["1 0; 0 1", "0 1; 1 0"], "bias": 1,
                        "grad_output": [[[1, 0], [0, 0]], [[0, 0], [0, 1]]]})
    p = problem_from_dict({"input": X3, "kernel": ["1 0; 0 1", "0 1; 1 0"]})
    assert p.layers[0].op.w.shape == (2, 1, 2, 2)
    # Y[0] = x[i,j] + x[i+1,j+1] + 1, Y[1] = x[i,j+1] + x[i+1,j] + 1.
    assert r["Y"].tolist() == [[[7, 9], [13, 15]], [[7, 9], [13, 15]]]
    assert r["dW"].shape == (2, 2, 2)
    # dW[0] = window at (0,0), dW[1] = window at (1,1).
    assert r["dW"].tolist() == [[[1, 2], [4, 5]], [[5, 6], [8, 9]]]
    # A scalar bias with F = 2: each filter has its own bias, db is a list of 2.
    assert as_list(r["db"]) == [1, 1]
    assert r["dX"].shape == (3, 3)
    assert r["dX"].tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 0]]


def test_3d_kernel_on_one_channel_3d_input_is_f_filters():
    p = problem_from_dict({"input": [X3], "kernel": ["1 0; 0 1", "0 1; 1 0", "1 1; 1 1"]})
    assert p.x.shape == (1, 3, 3)
    assert p.layers[0].op.w.shape == (3, 1, 2, 2)
    r = convgrad.solve({"input": [X3], "kernel": ["1 0; 0 1", "0 1; 1 0", "1 1; 1 1"],
                        "bias": [0, 0, 0]})
    assert r["Y"].shape == (3, 2, 2)
    assert r["Y"][2].tolist() == [[12, 16], [24, 28]]


def test_3d_kernel_on_multichannel_input_is_one_filter():
    two = [X3, "1 1 1; 1 1 1; 1 1 1"]
    p = problem_from_dict({"input": two, "kernel": ["1 0; 0 1", "0 1; 1 0"]})
    assert p.layers[0].op.w.shape == (1, 2, 2, 2)
    r = convgrad.solve({"input": two, "kernel": ["1 0; 0 1", "0 1; 1 0"], "bias": 3,
                        "grad_output": [[[1, 0], [0, 0]]]})
    # Input is 3-D, so Y is F x Ho x Wo = 1 x 2 x 2; Y = (x11 + x22) + (1 + 1) + 3.
    assert r["Y"].shape == (1, 2, 2)
    assert r["Y"].tolist() == [[[11, 13], [17, 19]]]
    assert r["dW"].shape == (2, 2, 2)
    assert r["dW"].tolist() == [[[1, 2], [4, 5]], [[1, 1], [1, 1]]]
    assert not isinstance(r["db"], np.ndarray) and r["db"] == 1
    assert r["dX"].shape == (2, 3, 3)


def test_2d_kernel_on_one_channel_3d_input_gives_f_x_ho_x_wo():
    r = convgrad.solve({"input": [X3], "kernel": "1 0; 0 1", "grad_output": [[[1, 0], [0, 0]]]})
    assert r["Y"].shape == (1, 2, 2)
    assert r["dW"].shape == (2, 2)
    assert r["dX"].shape == (1, 3, 3)
    assert r["dX"].tolist() == [[[1, 0, 0], [0, 1, 0], [0, 0, 0]]]


def test_4d_kernel():
    x = [X3, "1 0 1; 0 1 0; 1 0 1"]
    k = [["1 0; 0 0", "0 0; 0 1"], ["0 1; 0 0", "0 0; 1 0"], ["1 1; 1 1", "0 0; 0 0"]]
    p = problem_from_dict({"input": x, "kernel": k})
    assert p.layers[0].op.w.shape == (3, 2, 2, 2)
    r = convgrad.solve({"input": x, "kernel": k, "bias": [1, 2, 3]})
    assert r["Y"].shape == (3, 2, 2)
    # Filter 1: x1[i,j] + x2[i+1,j+1] + 1; filter 3: sum of the x1 window + 3.
    assert r["Y"][0].tolist() == [[3, 3], [5, 7]]
    assert r["Y"][2].tolist() == [[15, 19], [27, 31]]
    r = convgrad.solve({"input": x, "kernel": k, "bias": [1, 2, 3],
                        "grad_output": np.ones((3, 2, 2), dtype=int)})
    assert r["dW"].shape == (3, 2, 2, 2)
    assert as_list(r["db"]) == [4, 4, 4]


def test_4d_kernel_with_one_filter_on_2d_input_gives_ho_x_wo():
    r = convgrad.solve({"input": X3, "kernel": [["1 0; -1 1"]], "bias": 1,
                        "target": "1 0; 0 1"})
    assert r["Y"].tolist() == [[3, 4], [6, 7]]
    assert r["dW"].shape == (1, 1, 2, 2)
    assert r["dW"].reshape(2, 2).tolist() == SEED_DW


def test_3d_kernel_with_one_filter_on_2d_input_gives_ho_x_wo():
    r = convgrad.solve({"input": X3, "kernel": ["1 0; -1 1"], "bias": 1, "target": "1 0; 0 1"})
    assert r["Y"].shape == (2, 2)
    assert r["dW"].shape == (1, 2, 2)
    assert r["db"] == 9 and not isinstance(r["db"], np.ndarray)


def test_bias_list_with_one_filter_gives_db_list():
    r = convgrad.solve({"input": X3, "kernel": "1 0; -1 1", "bias": [1], "target": "1 0; 0 1"})
    assert isinstance(r["db"], np.ndarray) and r["db"].tolist() == [9]


def test_default_bias_is_zero():
    p = problem_from_dict({"input": X3, "kernel": ["1 0; 0 1", "0 1; 1 0"]})
    assert p.layers[0].op.b.tolist() == [0, 0]
    r = convgrad.solve({"input": X3, "kernel": "1 0; -1 1", "target": "1 0; 0 1"})
    assert r["Y"].tolist() == [[2, 3], [5, 6]]


def test_dict_may_hold_numpy_arrays():
    r = convgrad.solve({"input": np.arange(1, 10).reshape(3, 3),
                        "kernel": np.array([[1, 0], [-1, 1]]), "bias": 1,
                        "target": np.array([[1, 0], [0, 1]])})
    assert r["loss"] == 23 and r["dW"].tolist() == SEED_DW


# --- stride, dilation, padding --------------------------------------------------------


def ones(h: int, w: int) -> str:
    return "; ".join(" ".join("1" for _ in range(w)) for _ in range(h))


@pytest.mark.parametrize(("padding", "pad", "out"), [
    # 3x4 input, 2x2 kernel, stride 1: Ho = H + t + b - 1, Wo = W + l + r - 1.
    ("0", (0, 0, 0, 0), (2, 3)),
    ("1", (1, 1, 1, 1), (4, 5)),
    ("[1, 2]", (1, 1, 2, 2), (4, 7)),
    ("[1, 2, 3, 4]", (1, 2, 3, 4), (5, 10)),
    ("valid", (0, 0, 0, 0), (2, 3)),
    ("VALID", (0, 0, 0, 0), (2, 3)),
    ('"2"', (2, 2, 2, 2), (6, 7)),
    ('"1 2"', (1, 1, 2, 2), (4, 7)),
    ("null", (0, 0, 0, 0), (2, 3)),
])
def test_padding_forms(padding, pad, out):
    text = lines(f'input: "{ones(3, 4)}"', "kernel: [[1, 1], [1, 1]]", f"padding: {padding}")
    assert problem_from_text(text).layers[0].op.pad == pad
    assert convgrad.solve(text)["Y"].shape == out


@pytest.mark.parametrize(("h", "w", "kh", "kw", "stride", "dilation", "pad", "out"), [
    # Ho = ceil(H / s); total = max((Ho-1)*s + d*(k-1) + 1 - H, 0); top = total // 2.
    (5, 5, 2, 2, 1, 1, (0, 1, 0, 1), (5, 5)),      # total 1: the extra goes bottom/right
    (5, 5, 3, 3, 2, 1, (1, 1, 1, 1), (3, 3)),      # Ho 3, total 2*2+3-5 = 2
    (6, 6, 3, 3, 2, 1, (0, 1, 0, 1), (3, 3)),      # Ho 3, total 2*2+3-6 = 1
    (4, 4, 4, 4, 1, 1, (1, 2, 1, 2), (4, 4)),      # total 3
    (6, 6, 2, 2, 1, 2, (1, 1, 1, 1), (6, 6)),      # dilated span 3: total 5+3-6 = 2
    (7, 4, 3, 2, [3, 2], 1, (1, 1, 0, 0), (3, 2)),  # Ho 3: 2*3+3-7 = 2; Wo 2: 2+2-4 = 0
    (5, 5, 1, 1, 3, 1, (0, 0, 0, 0), (2, 2)),      # negative total is 0
    (4, 6, 3, 3, 1, [1, 2], (1, 1, 2, 2), (4, 6)),  # rows: 2; columns: span 5, total 4
])
def test_same_padding(h, w, kh, kw, stride, dilation, pad, out):
    problem = {"input": ones(h, w), "kernel": ones(kh, kw), "padding": "same",
               "stride": stride, "dilation": dilation}
    assert problem_from_dict(problem).layers[0].op.pad == pad
    assert convgrad.solve(problem)["Y"].shape == out


@pytest.mark.parametrize(("stride", "dilation", "want_stride", "want_dilation", "out"), [
    # 5x5 input, 3x3 kernel: Ho = floor((5 - d*(k-1) - 1) / s) + 1.
    (1, 1, (1, 1), (1, 1), (3, 3)),
    (2, 1, (2, 2), (1, 1), (2, 2)),
    ([2, 1], 1, (2, 1), (1, 1), (2, 3)),
    ("2 1", 1, (2, 1), (1, 1), (2, 3)),
    ([1], 1, (1, 1), (1, 1), (3, 3)),
    (1, 2, (1, 1), (2, 2), (1, 1)),
    (1, [1, 2], (1, 1), (1, 2), (3, 1)),
    ([2, 1], [1, 2], (2, 1), (1, 2), (2, 1)),
    (None, None, (1, 1), (1, 1), (3, 3)),
])
def test_stride_and_dilation_int_or_pair(stride, dilation, want_stride, want_dilation, out):
    problem = {"input": ones(5, 5), "kernel": ones(3, 3), "stride": stride,
               "dilation": dilation}
    op = problem_from_dict(problem).layers[0].op
    assert op.stride == want_stride and op.dilation == want_dilation
    assert convgrad.solve(problem)["Y"].shape == out


def test_stride_and_dilation_numbers():
    # 4x4 input 1..16, 2x2 kernel of ones.
    x = "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16"
    # stride 2: windows at (0,0), (0,2), (2,0), (2,2).
    r = convgrad.solve({"input": x, "kernel": "1 1; 1 1", "stride": 2})
    assert r["Y"].tolist() == [[14, 22], [46, 54]]
    # dilation 2: taps at (i, j), (i, j+2), (i+2, j), (i+2, j+2); Ho = 4 - 2 - 1 + 1 = 2.
    r = convgrad.solve({"input": x, "kernel": "1 1; 1 1", "dilation": 2})
    assert r["Y"].tolist() == [[1 + 3 + 9 + 11, 2 + 4 + 10 + 12], [5 + 7 + 13 + 15,
                                                                    6 + 8 + 14 + 16]]


@pytest.mark.parametrize("value", ["0", "-1", "1.5", '"3/2"', "[1, 0]", "[2, -1]", "[1, 2, 3]",
                                   "[]", "two"])
def test_bad_stride(value):
    assert_error(lines(f'input: "{X3}"', "kernel: 1", f"stride: {value}"), "'stride'", line=3)


@pytest.mark.parametrize("value", ["0", "-2", "0.5", "[1, 0]"])
def test_bad_dilation(value):
    assert_error(lines(f'input: "{X3}"', "kernel: 1", f"dilation: {value}"), "'dilation'",
                 line=3)


@pytest.mark.parametrize("value", ["-1", '"-1"', "[1, -1]", "[0, 0, 0, -2]", "1.5", "[1, 2, 3]",
                                   "sme", "full", "Same-ish", "[same]"])
def test_bad_padding(value):
    assert_error(lines(f'input: "{X3}"', "kernel: 1", f"padding: {value}"), "'padding'", line=3)


@pytest.mark.parametrize(("key", "value", "attr", "want"), [
    ("stride", "2, 1", "stride", (2, 1)),
    ("stride", "2,1", "stride", (2, 1)),
    ("padding", "1, 2", "pad", (1, 1, 2, 2)),
])
def test_pair_as_comma_separated_one_row_string(key, value, attr, want):
    p = problem_from_dict({"input": ones(5, 5), "kernel": ones(3, 3), key: value})
    assert getattr(p.layers[0].op, attr) == want


def test_flip_kernel_is_read():
    assert problem_from_text(SEED_YAML.replace("flip_kernel: false", "flip_kernel: true")) \
        .layers[0].op.flip is True
    assert problem_from_text(SEED_YAML).layers[0].op.flip is False
    assert_error(SEED_YAML.replace("flip_kernel: false", "flip_kernel: 3"), "'flip_kernel'",
                 line=13)


# --- activation, pool, loss, grad_output, learning_rate, defaults ---------------------------


@pytest.mark.parametrize(("written", "name"), [
    ("relu", "relu"), ("leaky_relu", "leaky_relu"), ("sigmoid", "sigmoid"), ("tanh", "tanh"),
    ("ReLU", "relu"), ("{name: tanh}", "tanh"),
])
def test_activation_by_name(written, name):
    p = problem_from_text(lines(f'input: "{X3}"', "kernel: 1", f"activation: {written}"))
    assert [layer.name for layer in p.layers] == ["conv1", f"{name}1"]
    assert p.layers[1].op.name == name


@pytest.mark.parametrize("written", ["none", "null", "None"])
def test_activation_none_adds_no_layer(written):
    p = problem_from_text(lines(f'input: "{X3}"', "kernel: 1", f"activation: {written}"))
    assert len(p.layers) == 1
    r = convgrad.solve(lines(f'input: "{X3}"', "kernel: 1", f"activation: {written}",
                             'grad_output: "1 1 1; 1 1 1; 1 1 1"'))
    assert "Z" not in r


def test_leaky_relu_slope_mapping():
    p = problem_from_text(lines(f'input: "{X3}"', "kernel: 1",
                                "activation: {name: leaky_relu, slope: 0.1}"))
    assert p.layers[1].op.slope == Fraction(1, 10)
    r = convgrad.solve(lines('input: "1 -2; -3 4"', "kernel: 1",
                             "activation: {name: leaky_relu, slope: 0.1}",
                             'grad_output: "1 1; 1 1"'))
    assert r["Y"].tolist() == [[1, Fraction(-1, 5)], [Fraction(-3, 10), 4]]
    assert r["Z"].tolist() == [[1, -2], [-3, 4]]
    assert r["dX"].tolist() == [[1, Fraction(1, 10)], [Fraction(1, 10), 1]]


def test_leaky_relu_default_slope_is_one_hundredth():
    r = convgrad.solve(lines('input: "1 -2; -3 4"', "kernel: 1", "activation: leaky_relu",
                             'grad_output: "1 1; 1 1"'))
    assert r["Y"].tolist() == [[1, Fraction(-1, 50)], [Fraction(-3, 100), 4]]


def test_slope_on_another_activation_is_an_error():
    assert_error(lines(f'input: "{X3}"', "kernel: 1", "activation: {name: relu, slope: 0.5}"),
                 "slope", line=3)


X4 = "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16"


def test_pool_stride_defaults_to_size():
    text = lines(f'input: "{X4}"', "kernel: 1", "pool: {type: max, size: 2}",
                 'grad_output: "1 2; 3 4"')
    pool = problem_from_text(text).layers[-1]
    assert pool.name == "pool1" and pool.type == "max_pool"
    assert pool.op.size == (2, 2) and pool.op.stride == (2, 2)
    r = convgrad.solve(text)
    assert r["Y"].tolist() == [[6, 8], [14, 16]]
    assert r["dX"].tolist() == [[0, 0, 0, 0], [0, 1, 0, 2], [0, 0, 0, 0], [0, 3, 0, 4]]


def test_pool_with_stride_and_pair_size():
    p = problem_from_text(lines(f'input: "{X4}"', "kernel: 1",
                                "pool: {type: avg, size: [2, 3], stride: 1}"))
    pool = p.layers[-1]
    assert pool.type == "avg_pool" and pool.op.kind == "avg"
    assert pool.op.size == (2, 3) and pool.op.stride == (1, 1)
    assert pool.out_shape == (1, 3, 2)
    p = problem_from_text(lines(f'input: "{X4}"', "kernel: 1",
                                "pool: {type: avg, size: [2, 4], stride: null}"))
    assert p.layers[-1].op.stride == (2, 4)
    r = convgrad.solve(lines(f'input: "{X4}"', "kernel: 1", "pool: {type: avg, size: [2, 4]}",
                             'grad_output: "1; 2"'))
    # Means of rows 1-2 and rows 3-4.
    assert r["Y"].tolist() == [[Fraction(9, 2)], [Fraction(25, 2)]]


def test_pool_errors():
    base = (f'input: "{X4}"', "kernel: 1")
    assert_error(lines(*base, "pool:", "  type: maxx", "  size: 2"), "pool", "type",
                 "did you mean 'max'", line=4)
    assert_error(lines(*base, "pool:", "  type: max", "  size: 5"), "size", line=5)
    assert_error(lines(*base, "pool:", "  type: max", "  size: 0"), "size", line=5)
    assert_error(lines(*base, "pool: {type: max, size: 2, strid: 1}"), "strid",
                 "did you mean 'stride'", line=3)


SEED_T = lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "bias: 1", 'target: "1 0; 0 1"')


@pytest.mark.parametrize(("loss", "value"), [
    # Y - t = [[2, 4], [6, 6]]: squares 4 + 16 + 36 + 36 = 92, absolute values 18.
    ("mse", 23), ("sse", 92), ("half_sse", 46), ("mae", Fraction(9, 2)), ("MSE", 23),
    ("null", 23),
])
def test_rational_losses(loss, value):
    r = convgrad.solve(SEED_T + f"loss: {loss}\n")
    assert r["loss"] == value
    assert not isinstance(r["loss"], float)


def test_cross_entropy_loss():
    text = lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "bias: 1", 'target: "1 0; 0 0"',
                 "loss: cross_entropy")
    assert problem_from_text(text).loss == "cross_entropy"
    # Y = [[3, 4], [6, 7]]; L = log(e^3 + e^4 + e^6 + e^7) - 3.
    want = math.log(sum(math.exp(v) for v in (3, 4, 6, 7))) - 3
    assert convgrad.solve(text)["loss"] == pytest.approx(want, rel=1e-12)


def test_bce_loss():
    text = lines('input: "0 1; 2 3"', "kernel: 1", "activation: sigmoid", 'target: "1 0; 0 1"',
                 "loss: bce")
    assert problem_from_text(text).loss == "bce"
    s = [1 / (1 + math.exp(-v)) for v in (0, 1, 2, 3)]
    t = [1, 0, 0, 1]
    want = -sum(ti * math.log(si) + (1 - ti) * math.log(1 - si)
                for si, ti in zip(s, t, strict=True)) / 4
    assert convgrad.solve(text)["loss"] == pytest.approx(want, rel=1e-12)


def test_grad_output_instead_of_target():
    r = convgrad.solve(lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "bias: 1",
                             'grad_output: "1 2; 3 3"'))
    assert "loss" not in r
    assert r["dY"].tolist() == [[1, 2], [3, 3]]
    assert r["dW"].tolist() == SEED_DW
    assert r["db"] == 9
    assert r["dX"].tolist() == SEED_DX


def test_grad_output_with_null_loss_is_fine():
    r = convgrad.solve(lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "loss: null",
                             'grad_output: "1 2; 3 3"', "target: null"))
    assert r["dW"].tolist() == SEED_DW


def test_learning_rate_gives_updated_weights():
    r = convgrad.solve(SEED_T + "learning_rate: 0.1\n")
    # W - dW/10, b - db/10 with dW = [[32, 41], [59, 68]], db = 9.
    assert r["W_new"].tolist() == [[Fraction(-11, 5), Fraction(-41, 10)],
                                   [Fraction(-69, 10), Fraction(-29, 5)]]
    assert r["b_new"] == Fraction(1, 10) and not isinstance(r["b_new"], np.ndarray)
    assert problem_from_text(SEED_T + "learning_rate: 1/2\n").learning_rate == Fraction(1, 2)
    r = convgrad.solve(SEED_T)
    assert "W_new" not in r and "b_new" not in r


def test_null_means_default():
    text = lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "bias: null", "stride: ~",
                 "padding: null", "dilation: null", "flip_kernel: null", "activation: null",
                 "pool: null", "loss: null", "learning_rate: null", "name: null",
                 "description: null", 'target: "0 0; 0 0"', "grad_output: null")
    p = problem_from_text(text)
    op = p.layers[0].op
    assert len(p.layers) == 1
    assert op.b.tolist() == [0] and op.stride == (1, 1) and op.pad == (0, 0, 0, 0)
    assert op.dilation == (1, 1) and op.flip is False
    assert p.loss == "mse" and p.learning_rate is None
    r = convgrad.solve(text)
    # Y = [[2, 3], [5, 6]]: L = (4 + 9 + 25 + 36) / 4.
    assert r["loss"] == Fraction(37, 2)
    assert "W_new" not in r


def test_name_and_description_are_accepted():
    assert problem_from_text(SEED_YAML).name == "3x3 input, 2x2 kernel, MSE loss"
    p = problem_from_text(lines("description: a small test", f'input: "{X3}"', "kernel: 1"))
    assert p.name == "a small test"
    r = convgrad.solve(SEED_YAML)
    assert r["loss"] == 23 and r["dW"].tolist() == SEED_DW and r["dX"].tolist() == SEED_DX


def test_forward_only_without_target():
    r = convgrad.solve(lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "bias: 1"))
    assert r["Y"].tolist() == [[3, 4], [6, 7]]
    assert "dW" not in r and "loss" not in r


# --- errors -------------------------------------------------------------------------------


def test_unknown_key_did_you_mean():
    message = assert_error(lines(f'input: "{X3}"', "kernal: [[1, 0], [-1, 1]]"), "'kernal'",
                           "did you mean 'kernel'", line=2)
    assert message.startswith("<text>")
    assert_error({"input": X3, "kernal": 1}, "'kernal'", "did you mean 'kernel'")
    assert_error(lines(f'input: "{X3}"', "kernel: 1", "", "# a comment", "targte: 1"),
                 "'targte'", "did you mean 'target'", line=5)


def test_missing_input():
    assert_error(lines("kernel: [[1]]", "target: 1"), "'input'", "missing")
    assert_error({"kernel": 1}, "'input'", "missing")
    assert_error(lines("input: null", "kernel: 1"), "'input'", "missing")


def test_missing_kernel():
    assert_error(lines(f'input: "{X3}"', "target: 1"), "'kernel'", "missing")
    assert_error({"input": X3}, "'kernel'", "missing")


def test_target_and_grad_output_both():
    message = assert_error(lines(f'input: "{X3}"', "kernel: 1", 'target: "1 1 1; 1 1 1; 1 1 1"',
                                 'grad_output: "1 1 1; 1 1 1; 1 1 1"'), "'grad_output'",
                           line=4)
    assert "target" in message


def test_loss_with_grad_output():
    assert_error(lines(f'input: "{X3}"', "kernel: 1", "loss: sse",
                       'grad_output: "1 1 1; 1 1 1; 1 1 1"'), "'loss'", line=3)


def test_wrong_target_shape_names_both_shapes():
    message = assert_error(lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"',
                                 'target: "1 2 3; 4 5 6"'), "'target'", line=3)
    assert "2x3" in message and "2x2" in message
    message = assert_error(lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', "",
                                 "grad_output: [1, 2, 3]"), "'grad_output'", line=4)
    assert "2x2" in message


def test_kernel_larger_than_padded_input():
    message = assert_error(lines(f'input: "{X3}"', f'kernel: "{ones(4, 4)}"'), "'kernel'",
                           line=2)
    assert "3x3" in message
    # With padding 1 the padded input is 5x5 and a 4x4 kernel fits: Ho = 2.
    r = convgrad.solve(lines(f'input: "{X3}"', f'kernel: "{ones(4, 4)}"', "padding: 1"))
    assert r["Y"].shape == (2, 2)
    # Dilation 3 spreads a 2x2 kernel over 4x4.
    assert_error(lines(f'input: "{X3}"', "kernel: [[1, 1], [1, 1]]", "dilation: 3"),
                 "'kernel'", line=2)


def test_channel_mismatch():
    two = f'input: ["{X3}", "{X3}"]'
    message = assert_error(lines(two, 'kernel: "1 0; 0 1"'), "'kernel'", line=2)
    assert "2" in message and "channel" in message
    assert_error(lines(two, 'kernel: ["1 0; 0 1", "1 0; 0 1", "1 0; 0 1"]'), "'kernel'",
                 "channel", line=2)
    assert_error(lines(two, "kernel:", '  - ["1", "1", "1"]', '  - ["1", "1", "1"]'),
                 "'kernel'", "channel", line=2)


def test_bias_count_mismatch():
    assert_error(lines(f'input: "{X3}"', 'kernel: ["1 0; 0 1", "0 1; 1 0"]', "bias: [1, 2, 3]"),
                 "'bias'", line=3)
    assert_error(lines(f'input: "{X3}"', 'kernel: "1 0; 0 1"', 'bias: "1 2"'), "'bias'", line=3)


@pytest.mark.parametrize(("key", "value", "suggestion"), [
    ("activation", "rellu", "relu"),
    ("activation", "softmax", None),
    ("activation", "{name: sigmiod}", "sigmoid"),
    ("loss", "mse2", "mse"),
    ("loss", "half-sse", "half_sse"),
    ("loss", "hinge", None),
])
def test_unknown_names(key, value, suggestion):
    text = lines(f'input: "{X3}"', 'kernel: "1 0; -1 1"', 'target: "1 0; 0 1"',
                 f"{key}: {value}")
    message = assert_error(text, f"'{key}'", line=4)
    if suggestion:
        assert f"did you mean '{suggestion}'" in message


def test_duplicate_keys():
    message = assert_error(lines(f'input: "{X3}"', "kernel: 1", "kernel: 2"), "'kernel'",
                           line=3)
    assert "line 2" in message  # where the first one is
    assert_error(lines(f'input: "{X3}"', "kernel: 1", "pool:", "  size: 2", "  size: 3"),
                 "size", line=5)


def test_python_name_tag_is_refused():
    assert_error(lines(f'input: "{X3}"', "kernel: !!python/name:os.system"), "'kernel'",
                 "python/name", line=2)


def test_python_apply_tag_is_never_constructed(tmp_path):
    made = tmp_path / "made"
    with pytest.raises(convgrad.ProblemError):
        convgrad.solve(lines(f'input: "{X3}"', "kernel: 1",
                             f'bias: !!python/object/apply:os.mkdir ["{made}"]'))
    assert not made.exists()


@pytest.mark.parametrize("text", [
    lines(f'input: "{X3}"', "kernel: !!python/tuple [[1, 0], [-1, 1]]"),
    lines("!!python/object/new:dict", f'input: "{X3}"', "kernel: 1"),
    lines(f'input: "{X3}"', "kernel: 1", "pool: !!python/object:builtins.dict {size: 1}"),
])
def test_python_tags_on_lists_and_mappings_are_refused(text):
    with pytest.raises(convgrad.ProblemError, match="python"):
        problem_from_text(text)


@pytest.mark.parametrize(("text", "line"), [
    (lines(f'input: "{X3}"', "kernel: 1", "bias: 1: 2"), 3),
    (lines(f'input: "{X3}"', "kernel: 1", "  bias: 2"), 3),
    (lines(f'input: "{X3}"', "", "", "kernel: [[1, 0], [0, 1]]]"), 4),
])
def test_yaml_syntax_error_gives_the_line(text, line):
    message = assert_error(text, "YAML", line=line)
    assert "Traceback" not in message


@pytest.mark.parametrize(("text", "kind"), [
    ("- 1\n- 2\n", "list"),
    ("- input: 1\n  kernel: 1\n", "list"),
    ("hello", "single value"),
    ("42\n", "single value"),
])
def test_top_level_must_be_a_mapping(text, kind):
    assert_error(text, "top level", kind)
    with pytest.raises(convgrad.ProblemError, match="top level"):
        problem_from_text(text)


def test_top_level_must_be_a_mapping_in_dict_api():
    with pytest.raises(convgrad.ProblemError, match="top level"):
        problem_from_dict([1, 2])
    with pytest.raises(convgrad.ProblemError, match="top level"):
        problem_from_dict(3)


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_text_is_an_error(text):
    with pytest.raises(convgrad.ProblemError, match="empty"):
        problem_from_text(text)


def test_input_must_be_a_matrix():
    assert_error(lines("input: 5", "kernel: 1"), "'input'", line=1)


# --- warnings -------------------------------------------------------------------------------


def test_rows_left_out_at_the_end_are_named_and_same_padding_gives_no_warning():
    # 6x6, 3x3 kernel, stride 2: Ho = floor(3/2) + 1 = 2, windows rows 1-3 and 3-5: row 6 left.
    valid = problem_from_text(lines(f'input: "{ones(6, 6)}"', f'kernel: "{ones(3, 3)}"',
                                    "stride: 2"))
    assert len(valid.warnings) == 2
    rows = [str(w) for w in valid.warnings if "row" in str(w)]
    cols = [str(w) for w in valid.warnings if "column" in str(w)]
    assert len(rows) == 1 and len(cols) == 1
    assert re.search(r"\b6\b", rows[0]) and re.search(r"\b6\b", cols[0])
    assert "conv1" in rows[0]
    r = convgrad.solve(lines(f'input: "{ones(6, 6)}"', f'kernel: "{ones(3, 3)}"', "stride: 2",
                             'grad_output: "1 1; 1 1"'))
    assert r["warnings"] == [str(w) for w in valid.warnings]
    assert all(v == 0 for v in r["dX"][5]) and all(v == 0 for v in r["dX"][:, 5])
    # "same" pads one row at the bottom (total 1): every input row is met.
    same = convgrad.solve(lines(f'input: "{ones(6, 6)}"', f'kernel: "{ones(3, 3)}"',
                                "stride: 2", "padding: same"))
    assert same["warnings"] == []
    assert same["Y"].shape == (3, 3)


def test_rows_between_windows_are_named():
    # 5x5, 1x1 kernel, stride [2, 1]: rows 2 and 4 are skipped, every column is met.
    p = problem_from_dict({"input": ones(5, 5), "kernel": 1, "stride": [2, 1]})
    assert len(p.warnings) == 1
    warning = str(p.warnings[0])
    assert "row" in warning and "column" not in warning
    assert re.search(r"\b2\b\D+\b4\b", warning)
    assert not re.search(r"\b[135]\b", warning.split("stride")[0].replace("conv1", ""))


def test_columns_only_warning():
    p = problem_from_dict({"input": ones(4, 5), "kernel": "1 1", "stride": [1, 2]})
    # Wo = floor(3/2) + 1 = 2: windows columns 1-2 and 3-4; column 5 left out.
    assert len(p.warnings) == 1
    assert "column" in str(p.warnings[0]) and re.search(r"\b5\b", str(p.warnings[0]))


def test_uncovered_padding_gives_no_warning():
    # 4 rows, pad bottom 2, 3-row kernel, stride 2: padded 6, Ho = 2, windows padded rows 1-3
    # and 3-5: every input row is met; the last padding row is not, and is not reported.
    p = problem_from_dict({"input": ones(4, 3), "kernel": ones(3, 3), "stride": 2,
                           "padding": [0, 2, 0, 0]})
    assert p.layers[0].out_shape == (1, 2, 1)
    assert p.warnings == []


@pytest.mark.parametrize(("mode", "rows", "dx_column"), [
    # 5 rows, one padding row on top, 1x1 kernel, stride 2: windows at padded rows 1, 3, 5.
    # zeros: padded row 1 is a zero, so input rows 1, 3, 5 are never met.
    ("zeros", (0, 2, 4), [0, 1, 0, 1, 0]),
    # replicate: padded row 1 copies input row 1, which gets that window's gradient too.
    ("replicate", (2, 4), [1, 1, 0, 1, 0]),
    # reflect: padded row 1 mirrors input row 2 (the edge not repeated): row 2 gets 1 + 1.
    ("reflect", (0, 2, 4), [0, 2, 0, 1, 0]),
    # circular: padded row 1 wraps to input row 5.
    ("circular", (0, 2), [0, 1, 0, 1, 1]),
])
def test_a_row_read_through_its_padded_copy_is_not_uncovered(mode, rows, dx_column):
    problem = {"input": ones(5, 1), "kernel": 1, "stride": 2, "padding": [1, 0, 0, 0],
               "padding_mode": mode, "grad_output": [[1], [1], [1]]}
    warned = [w for w in problem_from_dict(problem).warnings if w.axis == "row"]
    assert [w.positions for w in warned] == ([rows] if rows else [])
    result = convgrad.solve(problem)
    # dL/dX by hand: each window's gradient 1 goes to the row its cell holds or copies.
    assert result["dX"].tolist() == [[v] for v in dx_column]
    # a row is named exactly when its dL/dX is 0 (all inputs 1, all weights 1: no cancelling)
    assert tuple(i for i, v in enumerate(dx_column) if v == 0) == rows


def test_no_warning_when_everything_is_covered():
    assert convgrad.solve(SEED_YAML)["warnings"] == []


def test_warnings_are_data_with_a_kind_the_layer_and_the_positions():
    from convgrad.errors import POOL_DROPPED, UNCOVERED

    # 5x5, 1x1 kernel, stride [2, 1]: rows 2 and 4 (0-based 1 and 3) never meet the kernel.
    p = problem_from_dict({"input": ones(5, 5), "kernel": 1, "stride": [2, 1]})
    (notice,) = p.warnings
    assert (notice.kind, notice.layer, notice.axis, notice.positions) == \
        (UNCOVERED, "conv1", "row", (1, 3))
    assert str(notice) == notice.message and notice.message.startswith("conv1: input rows 2, 4 ")
    # A 5x5 map under 2x2 windows at stride 2: row 5 and column 5 fall outside every window.
    p = problem_from_dict({"input": ones(5, 5), "layers": [{"max_pool": {"size": 2}}],
                           "grad_output": np.ones((1, 2, 2))})
    assert [(w.kind, w.layer, w.axis, w.positions) for w in p.warnings] == [
        (POOL_DROPPED, "pool1", "row", (4,)), (POOL_DROPPED, "pool1", "column", (4,))]
    # The API gives the same warnings as strings (SPEC section 4).
    r = convgrad.solve({"input": ones(5, 5), "layers": [{"max_pool": {"size": 2}}],
                        "grad_output": np.ones((1, 2, 2))})
    assert r["warnings"] == [w.message for w in p.warnings]
    assert all(isinstance(w, str) for w in r["warnings"])


# --- networks (SPEC section 5) ----------------------------------------------------------------


def test_spec_network_parses():
    p = problem_from_text(NETWORK_YAML)
    assert not p.single
    assert [layer.name for layer in p.layers] == ["conv1", "relu1", "pool1", "flatten1", "fc1"]
    assert [layer.type for layer in p.layers] == ["conv", "relu", "max_pool", "flatten", "dense"]
    assert [layer.out_shape for layer in p.layers] == [(2, 3, 3), (2, 3, 3), (2, 2, 2), (8,),
                                                       (2,)]
    conv, _, pool, _, fc = (layer.op for layer in p.layers)
    # A 3-D kernel on a one-channel input: F x kh x kw, two filters.
    assert conv.w.shape == (2, 1, 2, 2)
    assert conv.w[:, 0].tolist() == [[[1, -1], [1, -1]], [[0, 1], [1, 0]]]
    assert conv.b.tolist() == [0, 0]
    assert pool.size == (2, 2) and pool.stride == (1, 1) and pool.kind == "max"
    assert fc.w.shape == (2, 8)
    assert fc.b.tolist() == [0, Fraction(1, 2)]
    assert p.loss == "cross_entropy"
    assert p.target.tolist() == [0, 1]


def test_spec_network_numbers():
    r = convgrad.solve(NETWORK_YAML)
    # By hand: conv maps [[0,-1,2],[-1,1,0],[-1,2,-2]] and [[0,2,1],[2,2,0],[1,1,1]],
    # relu, 2x2 max pool stride 1 -> [[1,2],[2,2]] and [[2,2],[2,2]], flatten, dense:
    # y1 = 1 - 2 + 2 - 2 = -1, y2 = 2 - 2 + 2 - 2 + 1/2 = 1/2.
    assert r["Y"].tolist() == pytest.approx([-1, 0.5])
    assert r["loss"] == pytest.approx(math.log1p(math.exp(-1.5)), rel=1e-12)
    layers = r["layers"]
    assert [item["name"] for item in layers] == ["conv1", "relu1", "pool1", "flatten1", "fc1"]
    assert [item["type"] for item in layers] == ["conv", "relu", "max_pool", "flatten", "dense"]
    assert np.asarray(layers[0]["output"], dtype=float).tolist() == \
        [[[0, -1, 2], [-1, 1, 0], [-1, 2, -2]], [[0, 2, 1], [2, 2, 0], [1, 1, 1]]]
    assert np.asarray(layers[2]["output"], dtype=float).tolist() == \
        [[[1, 2], [2, 2]], [[2, 2], [2, 2]]]
    assert np.asarray(layers[3]["output"], dtype=float).tolist() == [1, 2, 2, 2, 2, 2, 2, 2]
    # A scalar conv bias still gives a list of F values in a network.
    assert np.shape(layers[0]["db"]) == (2,)
    assert np.shape(layers[0]["dW"]) == (2, 2, 2)
    assert np.shape(layers[4]["dW"]) == (2, 8)
    assert np.shape(layers[4]["db"]) == (2,)
    assert r["dX"].shape == (4, 4)
    # softmax([-1, 1/2]) - t: dy1 = 1/(1 + e^1.5).
    assert float(r["dY"][0]) == pytest.approx(1 / (1 + math.exp(1.5)), rel=1e-12)


def test_layer_names_count_within_each_family():
    text = lines('input: "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16"', "layers:",
                 "  - conv: {kernel: [[1, 0], [0, 1]]}",
                 "  - {leaky_relu: {slope: 0.1}}",
                 "  - conv: {kernel: [[1, 1], [1, 1]], bias: 1}",
                 "  - tanh",
                 "  - max_pool: {size: 2}",
                 "  - avg_pool: {size: 1}",
                 "  - flatten",
                 '  - dense: {weights: "1; 2"}',
                 "  - sigmoid",
                 '  - dense: {weights: "1 1"}',
                 "  - relu: null")
    p = problem_from_text(text)
    assert [layer.name for layer in p.layers] == [
        "conv1", "leaky_relu1", "conv2", "tanh1", "pool1", "pool2", "flatten1", "fc1",
        "sigmoid1", "fc2", "relu1"]
    assert [layer.type for layer in p.layers] == [
        "conv", "leaky_relu", "conv", "tanh", "max_pool", "avg_pool", "flatten", "dense",
        "sigmoid", "dense", "relu"]
    assert p.layers[1].op.slope == Fraction(1, 10)
    # 4x4 -> conv 3x3 -> conv 2x2 -> max pool (stride = size = 2) 1x1 -> 1x1 -> 1 -> 2 -> 1.
    assert [layer.out_shape for layer in p.layers] == [
        (1, 3, 3), (1, 3, 3), (1, 2, 2), (1, 2, 2), (1, 1, 1), (1, 1, 1), (1,), (2,), (2,),
        (1,), (1,)]
    assert p.layers[4].op.stride == (2, 2)


def test_dense_without_flatten_is_an_error():
    text = lines('input: "1 0; 0 1"', "layers:", "  - conv: {kernel: [[1]]}",
                 '  - dense: {weights: "1 1 1 1"}')
    message = assert_error(text, "flatten", line=4)
    assert "dense" in message
    # A matrix input straight into dense.
    assert_error(lines('input: "1 0; 0 1"', "layers:", '  - dense: {weights: "1 1 1 1"}'),
                 "flatten")
    # With flatten it works: y = 1 + 0 + 0 + 1.
    r = convgrad.solve(lines('input: "1 0; 0 1"', "layers:", "  - flatten",
                             '  - dense: {weights: "1 1 1 1"}'))
    assert r["Y"].tolist() == [2]


@pytest.mark.parametrize(("key", "value"), [
    ("kernel", "[[1]]"), ("bias", "1"), ("stride", "1"), ("padding", "0"), ("dilation", "1"),
    ("flip_kernel", "false"), ("activation", "relu"), ("pool", "{type: max, size: 1}"),
])
def test_single_layer_keys_with_layers_are_an_error(key, value):
    text = lines('input: "1 0; 0 1"', f"{key}: {value}", "layers:",
                 "  - conv: {kernel: [[1]]}")
    assert_error(text, f"'{key}'", "layers", line=2)


def test_network_layer_errors_give_key_and_line():
    base = ('input: "1 0; 0 1"', "layers:")
    assert_error(lines(*base, "  - conv: {kernal: [[1]]}"), "kernal", "did you mean 'kernel'",
                 line=3)
    assert_error(lines(*base, "  - conv: {kernel: [[1]]}", "  - dropout"), "dropout", line=4)
    assert_error(lines(*base, "  - conv: {kernel: [[1]], stride: 0}"), "stride", line=3)
    assert_error(lines(*base, "  - conv:"), "kernel", "missing", line=3)
    assert_error(lines(*base, "  - flatten", "  - dense: {weights: [[1, 1]]}"), "weights",
                 line=4)
    assert_error(lines('input: "1 0; 0 1"', "layers: []"), "'layers'", line=2)


def test_one_d_input_with_dense_first():
    r = convgrad.solve(lines('input: "1 2"', "layers:",
                             '  - dense: {weights: "1 0; 0 1; 1 1", bias: 1/2}',
                             'target: "0 1/2 1"', "loss: sse"))
    # A scalar dense bias gives every unit that value: Y = [3/2, 5/2, 7/2].
    assert r["Y"].tolist() == [Fraction(3, 2), Fraction(5, 2), Fraction(7, 2)]
    assert r["loss"] == Fraction(25, 2)
    assert r["dY"].tolist() == [3, 4, 5]
    assert r["dX"].tolist() == [8, 9]
    fc = r["layers"][0]
    assert fc["name"] == "fc1" and fc["type"] == "dense"
    assert as_list(fc["db"]) == [3, 4, 5]
    assert_error(lines('input: "1 2"', "layers:", "  - conv: {kernel: 1}"), "conv", line=3)


def test_network_keeps_full_shapes_for_one_filter():
    r = convgrad.solve(lines('input: "1 0; 0 1"', "layers:", "  - conv: {kernel: [[1, 1], [1, 1]]}",
                             "target: [[3]]", "learning_rate: 1/2"))
    # One filter on a 2-D input, but in a network Y keeps C x H x W.
    assert r["Y"].shape == (1, 1, 1) and r["Y"].tolist() == [[[2]]]
    assert r["dX"].shape == (2, 2)
    conv = r["layers"][0]
    assert np.shape(conv["output"]) == (1, 1, 1)
    # dL/dY = 2 (2 - 3) = -2; dW = -2 * X; db a list even though bias was not given.
    assert as_list(conv["dW"]) == [[-2, 0], [0, -2]]
    assert as_list(conv["db"]) == [-2]
    assert as_list(conv["W_new"]) == [[2, 1], [1, 2]]
    assert as_list(conv["b_new"]) == [1]
    assert "dW" not in r and "layers" in r


def test_single_layer_form_matches_layers_form():
    single = lines(f'input: "{X4}"', 'kernel: "1 -1; 0 1"', "bias: -3", "activation: relu",
                   "pool: {type: max, size: 2, stride: 1}", 'target: "1 2; 3 4"',
                   "loss: half_sse")
    network = lines(f'input: "{X4}"', "layers:",
                    '  - conv: {kernel: "1 -1; 0 1", bias: -3}', "  - relu",
                    "  - max_pool: {size: 2, stride: 1}", 'target: "1 2; 3 4"',
                    "loss: half_sse")
    a, b = convgrad.solve(single), convgrad.solve(network)
    assert a["loss"] == b["loss"]
    assert a["Y"].tolist() == b["Y"].reshape(2, 2).tolist()
    assert a["dX"].tolist() == b["dX"].tolist()
    assert a["dW"].tolist() == as_list(b["layers"][0]["dW"])
    # Z = x[i,j] - x[i,j+1] + x[i+1,j+1] - 3 = x[i+1,j+1] - 4: Y = max over 2x2 of relu(Z).
    assert a["Y"].tolist() == [[7, 8], [11, 12]]
    assert "layers" not in a


def test_network_is_exact_when_every_layer_is_rational():
    r = convgrad.solve(lines(f'input: "{X4}"', "layers:",
                             '  - conv: {kernel: "1/2 0; 0 1/2"}', "  - relu",
                             "  - avg_pool: {size: 3}", "  - flatten",
                             '  - dense: {weights: [["1/3"]], bias: 0.1}', "target: [0]",
                             "loss: mse"))
    # conv: (x[i,j] + x[i+1,j+1]) / 2 over a 3x3 grid (all >= 0, so relu keeps it);
    # the 3x3 average pool is the mean of the nine; dense: y = mean / 3 + 1/10.
    conv = [[(a + b) / Fraction(2) for a, b in zip(r1, r2, strict=True)]
            for r1, r2 in zip([[1, 2, 3], [5, 6, 7], [9, 10, 11]],
                              [[6, 7, 8], [10, 11, 12], [14, 15, 16]], strict=True)]
    mean = sum(sum(row) for row in conv) / 9
    y = mean / 3 + Fraction(1, 10)
    assert r["Y"].tolist() == [y]
    assert r["loss"] == y * y
    assert all(isinstance(v, (int, Fraction)) for v in r["dX"].flat)


# --- reading the file: YAML 1.2 numbers, folded strings, bounds (issue 12) ---------------------

@pytest.fixture(params=["libyaml", "python"])
def either_parser(request, monkeypatch):
    """Runs a test with PyYAML's C parser and with its pure-Python one."""
    import yaml

    if request.param == "python":
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
    elif not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")


def test_the_c_loader_reads_where_libyaml_is_there_and_the_python_one_otherwise(monkeypatch):
    """SPEC 1: files are read with SafeLoader or, where yaml.__with_libyaml__, its C twin
    CSafeLoader; never another loader."""
    import yaml

    used: list[str] = []

    def spy(name: str) -> type:
        base = getattr(yaml, name)

        class Spy(base):  # type: ignore[misc, valid-type]
            def __init__(self, stream: Any) -> None:
                used.append(name)
                super().__init__(stream)
        return Spy

    monkeypatch.setattr(yaml, "SafeLoader", spy("SafeLoader"))
    if yaml.__with_libyaml__:
        monkeypatch.setattr(yaml, "CSafeLoader", spy("CSafeLoader"))
        convgrad.solve(lines("input: [[1, 2]]", "kernel: 1", "grad_output: [[1, 1]]"))
        assert used == ["CSafeLoader"]
        used.clear()
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    convgrad.solve(lines("input: [[1, 2]]", "kernel: 1", "grad_output: [[1, 1]]"))
    assert used == ["SafeLoader"]


YAML_WORDING = ("while parsing", "while scanning", "did not find", "expected <", "found character",
                "not allowed here", "in this context", "could not find", "<block", "exceeded",
                "found unexpected", "maximum nesting", "but found", "but got")


def test_010_is_ten_in_every_written_form(either_parser):
    r = convgrad.solve(lines("input: [[010, 1], [2, 3]]", "kernel: 1", "bias: 010",
                             "target: [[0, 0], [0, 0]]", "loss: sse"))
    # Y = X + 10 with x11 = 10 (not 8, YAML 1.1's octal): [[20, 11], [12, 13]].
    assert r["Y"].tolist() == [[20, 11], [12, 13]]
    assert r["loss"] == 400 + 121 + 144 + 169
    for written in ('"010 1; 2 3"', '[["010", 1], [2, 3]]', "[[+010, 1], [2, 3]]",
                    "[[!!int 010, 1], [2, 3]]"):
        p = problem_from_text(lines(f"input: {written}", "kernel: 1"))
        assert p.x[0].tolist() == [[10, 1], [2, 3]], written


@pytest.mark.parametrize("written", ["0x10", '"0x10"', "!!int 0x10", '"0x10 0o20; 16 +16"',
                                     '"0o20"', "0o20", "!!float 0x10"])
def test_hexadecimal_and_octal_are_the_same_in_every_written_form(written):
    # YAML 1.2's core schema has 0x and 0o integers; convgrad reads them alike everywhere.
    p = problem_from_text(lines(f"input: {written if ';' in written else f'[[{written}]]'}",
                                "kernel: 1"))
    assert set(p.x.flat) == {16}


def test_full_width_digits_are_read_as_ascii():
    p = problem_from_text(lines("input: [[１, ２], [３, －４]]", "kernel: ０.５",
                                "bias: \u22121"))
    assert p.x[0].tolist() == [[1, 2], [3, -4]]
    assert p.layers[0].op.w.reshape(-1).tolist() == [Fraction(1, 2)]
    assert p.layers[0].op.b.tolist() == [-1]


def test_a_block_matrix_gives_the_seed_numbers():
    r = convgrad.solve(lines("input: |", "  1 2 3", "  4 5 6", "  7 8 9", "kernel: |",
                             "  1 0", "  -1 1", "bias: 1", "target: |-", "  1, 0", "  0, 1"))
    assert r["Y"].tolist() == [[3, 4], [6, 7]]
    assert r["loss"] == 23 and r["dW"].tolist() == SEED_DW and r["dX"].tolist() == SEED_DX


@pytest.mark.parametrize(("entry", "words"), [
    ("1:30", ["'1:30'", "base-60"]),
    ("1:30.5", ["'1:30.5'", "base-60"]),
    ("0b101", ["0b", "write 5"]),
    ("1_000", ["'1_000'", "without '_'"]),
    ("on", ["'on' is not a number"]),
    ("off", ["'off' is not a number"]),
    ("Yes", ["'Yes' is not a number"]),
    ("y", ["'y' is not a number"]),
    (".NaN", ["nan", "finite"]),
    (".NAN", ["nan", "finite"]),
    (".nAn", ["'.nAn'", "finite"]),
    ("-.INF", ["inf", "finite"]),
    ("0o9", ["'0o9' is not a number"]),
    ("0X10", ["'0X10' is not a number"]),
    ("2²", ["superscript two", "0-9"]),
    ("①", ["circled digit one", "0-9"]),
    ("٣", ["arabic-indic digit three", "0-9"]),
    ('"٣"', ["arabic-indic digit three", "0-9"]),
    ('"1/²"', ["superscript two"]),
])
def test_yaml_1_1_forms_and_unicode_digits_are_errors_that_name_the_entry(entry, words,
                                                                         either_parser):
    text = lines(f'input: "{X3}"', "target: [[1, 2], [3, 4]]", "kernel:", "  - [1, 0]",
                 f"  - [0, {entry}]")
    assert_error(text, "'kernel'", "[2,2]", *words, line=5)


@pytest.mark.parametrize("entry", ["²", "①", "٣", "१", "𝟑"])
def test_unicode_digits_in_every_parsing_path_are_errors(entry):
    long_row = " ".join(["1"] * 600)  # over 1,000 characters: the NumPy path
    for text in (lines(f'input: "{X3}"', f"kernel: [[1, {entry}]]"),
                 lines(f'input: "{X3}"', f'kernel: "1 {entry}"'),
                 lines(f'input: "{X3}"', f'kernel: "1/{entry} 1"'),
                 lines(f'input: "{long_row}; {long_row[:-1]}{entry}"', "kernel: 1"),
                 lines(f'input: "{X3}"', "kernel: 1", f"learning_rate: {entry}"),
                 lines(f'input: "{X3}"', "kernel: 1", f"bias: '{entry}'")):
        message = error_of(text)
        assert "0-9" in message and ", line " in message


def test_sign_typo_in_a_long_matrix_string_is_the_careful_error():
    row = " ".join(["3"] * 500)
    message = assert_error(lines(f'input: "{row}; 3 --1 {row[4:]}"', "kernel: 1"), "'input'",
                           "[2,2]", "'--1' is not a number", line=1)
    assert message == error_of(lines('input: "3 3; 3 --1"', "kernel: 1"))


@pytest.mark.parametrize(("written", "line"), [
    (('input: "1 2 3', '  4 5 6', '  7 8 9"'), 1),
    (("input: '1 2 3", "  4 5 6", "  7 8 9'"), 1),
    (("input: 1 2 3", "  4 5 6", "  7 8 9"), 1),
    (("input: >", "  1 2 3", "  4 5 6", "  7 8 9"), 1),
    (("input:", '  - "1 2 3', '    4 5 6', '    7 8 9"'), 2),
    (("input: [1 2 3", "  4 5 6, 7 8 9]"), 1),
])
def test_a_matrix_string_over_several_lines_is_an_error_that_says_what_to_write(
        written, line, either_parser):
    message = assert_error(lines(*written, "kernel: 1"), "'input'", "several lines", "';'",
                           "'|'", line=line)
    assert "Traceback" not in message


def test_strings_over_several_lines_are_fine_where_no_matrix_is_read(either_parser):
    p = problem_from_text(lines("name: a long name", "  written over two lines",
                                'input: "1 2 3; 4 5 6; 7 8 9"', "kernel: 1"))
    assert p.name == "a long name written over two lines"
    # One row per line, or the rows in one line, are no folding.
    for written in ('input: "1 2 3; 4 5 6; 7 8 9\n  "', 'input: "1 2 3\\n4 5 6\\n7 8 9"',
                    "input: |\n  1 2 3\n  4 5 6\n  7 8 9"):
        assert problem_from_text(lines(written, "kernel: 1")).x.shape == (1, 3, 3), written


def test_flip_kernel_takes_true_and_false_only():
    assert problem_from_text(lines(f'input: "{X3}"', "kernel: 1", "flip_kernel: True")
                             ).layers[0].op.flip is True
    assert_error(lines(f'input: "{X3}"', "kernel: 1", "flip_kernel: yes"), "'flip_kernel'",
                 "true or false", line=3)


@pytest.mark.parametrize(("written", "words"), [
    ("!!int two", ["'two' is not a valid int", "!!int"]),
    ("!!int 1.5", ["not a valid int"]),
    ("!!int 0b1", ["not a valid int"]),
    ("!!float x", ["'x' is not a valid float"]),
    ("!!bool yes", ["'yes' is not a valid bool", "true or false"]),
    ("!!binary aGk=", ["!!binary", "not allowed"]),
    ("!!python/name:os.system", ["!!python/name:os.system", "not allowed"]),
    ("!custom 1", ["!custom", "not allowed"]),
])
def test_explicit_tags_follow_the_core_schema(written, words, either_parser):
    assert_error(lines(f'input: "{X3}"', "kernel: 1", f"bias: {written}"), "'bias'", *words,
                 line=3)


def test_explicit_core_tags_are_read():
    p = problem_from_text(lines(f'input: "{X3}"', "kernel: !!float 1", "bias: !!str 010",
                                "learning_rate: !!float .5", "flip_kernel: !!bool true"))
    assert p.layers[0].op.w.reshape(-1).tolist() == [1]
    assert p.layers[0].op.b.tolist() == [10]
    assert p.learning_rate == Fraction(1, 2) and p.layers[0].op.flip is True


def test_nesting_is_refused_in_convgrads_words_at_any_depth(either_parser):
    from convgrad.reader import MAX_YAML_DEPTH, load_yaml

    # The mapping, then 31 lists: the number inside is 32 levels deep.
    inner = "[" * (MAX_YAML_DEPTH - 1) + "1" + "]" * (MAX_YAML_DEPTH - 1)
    data, _ = load_yaml(f"input: {inner}\n", "<text>")
    assert data["input"] is not None
    for depth in (MAX_YAML_DEPTH + 1, 200, 5000):
        for text in ("input: " + "[" * depth + "1" + "]" * depth,
                     "input: " + "{a: " * depth + "1" + "}" * depth,
                     "input: " + "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2),
                     "input:\n" + "".join(" " * i + "-\n" for i in range(1, min(depth, 300)))
                     + " " * min(depth, 300) + "- 1\n"):
            with pytest.raises(convgrad.ProblemError) as info:
                load_yaml(text, "deep.yaml")
            message = str(info.value)
            assert message.startswith("deep.yaml, line ") and "nested more than" in message
            assert not any(words in message for words in YAML_WORDING), message


def test_values_are_counted_while_reading(monkeypatch, either_parser):
    from convgrad import reader

    monkeypatch.setattr(reader, "MAX_YAML_VALUES", 50)
    assert_error(lines("input: [" + ", ".join(["1"] * 60) + "]", "kernel: 1"),
                 "more than 50 values", "matrix strings", line=1)
    # Aliases count each time they are used: six uses of ten values pass fifty.
    text = lines("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]", "input: [*a, *a, *a, *a, *a, *a]",
                 "kernel: 1")
    assert_error(text, "aliases", "50 values", line=2)


def test_file_text_over_the_byte_limit_is_refused(monkeypatch):
    from convgrad import reader

    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 2**20)
    message = error_of("input: [" + "1, " * 400_000 + "1]\nkernel: 1\n")
    assert "larger than 1 MiB" in message


def test_control_characters_are_named_with_their_line():
    assert_error(lines(f'input: "{X3}"', "kernel: 1\x07", "target: 1"), "U+0007",
                 "column 10", line=2)


@pytest.mark.parametrize(("text", "line", "words"), [
    (lines("input: [1, 2", "kernel: 1"), 2, "'[' list"),
    (lines("input: {a: 1", "kernel: 1"), 2, "'{' mapping"),
    (lines("input: 1", 'kernel: "1 2', "target: 2"), 2, "never closed"),
    (lines("input: 1", "kernel: '1 2"), 2, "never closed"),
    (lines("input: 1", "kernel: a: b"), 2, "': '"),
    (lines("input: 1", "kernel: @x"), 2, "cannot start a value"),
    (lines("input: 1", "\t- 1"), 2, "tab"),
    (lines("input: 1", "- 2"), 2, "'key:' line"),
    (lines("input: 1", 'kernel: "\\q"'), 2, "escape"),
    (lines("input: &", "kernel: 1"), 1, "anchor"),
    (lines("input: * ", "kernel: 1"), 1, "alias"),
    (lines("input: |x", "  1"), 1, "block header"),
    (lines("%YAML 2.0", "---", "input: 1"), 1, "%YAML"),
    (lines("input: 1", "... x"), 2, "document marker"),
    (lines("input: !x!y 1"), 1, "tag"),
])
def test_yaml_syntax_errors_are_in_convgrads_words(text, line, words, either_parser):
    message = assert_error(text, "YAML syntax error", words, line=line)
    assert not any(wording in message for wording in YAML_WORDING), message


def test_a_second_document_and_an_unknown_alias_are_errors(either_parser):
    assert_error(lines(f'input: "{X3}"', "kernel: 1", "---", "kernel: 2"), "second YAML document",
                 line=3)
    assert_error(lines(f'input: "{X3}"', "kernel: *k"), "'*k'", "no anchor", line=2)
    assert_error(lines(f'input: &x "{X3}"', "kernel: [*x]", "nested: &y [*y]"), "'*y'", line=3)


def test_aliases_give_the_anchored_values(either_parser):
    p = problem_from_text(lines(f'input: "{X3}"', "kernel: &w [[1, 0], [-1, 1]]",
                                "target: *w"))
    assert p.layers[0].op.w[0, 0].tolist() == [[1, 0], [-1, 1]]
    assert p.target.reshape(2, 2).tolist() == [[1, 0], [-1, 1]]
    # An error inside an aliased value names the key it is used for, and the line written.
    assert_error(lines("name: &w", "  - [1, 0]", "  - [-1, x]", f'input: "{X3}"', "kernel: *w"),
                 "'kernel'", "[2,2]", "'x'", line=3)


def test_entries_on_their_lists_line_need_no_line_of_their_own():
    from convgrad.reader import load_yaml

    data, found = load_yaml("input: [" + ", ".join(["1"] * 1000) + "]\nkernel: 1\n", "<text>")
    assert len(data["input"]) == 1000 and found == {("input",): 1, ("kernel",): 2}


# --- memory: refused before anything is allocated (issue 12) ----------------------------------


def test_padding_that_would_need_gigabytes_is_refused_naming_padding_and_line():
    from convgrad.model import MAX_WORK_BYTES

    message = assert_error(lines("input: [[1]]", "kernel: [[1]]", "padding: 8000"), "'padding'",
                           "16,001x16,001", f"{MAX_WORK_BYTES // 2**20} MiB", "less padding",
                           line=3)
    assert "GiB" in message
    assert_error(lines('input: "1 2; 3 4"', 'kernel: "1 1; 1 1"', "dilation: 1000000",
                       "padding: same"), "'padding'", "smaller dilation", line=4)


def test_realistic_large_problems_fit():
    from convgrad.model import MAX_WORK_BYTES

    big = [
        {"input": np.zeros((3, 224, 224)), "kernel": np.zeros((64, 3, 7, 7)), "stride": 2,
         "padding": 3, "grad_output": np.zeros((64, 112, 112))},
        {"input": np.zeros((3, 224, 224)), "kernel": np.zeros((64, 3, 7, 7)), "stride": 2,
         "padding": 3, "activation": "relu", "pool": {"type": "max", "size": 2},
         "target": np.zeros((64, 56, 56))},
        {"input": np.zeros((64, 56, 56)), "kernel": np.zeros((64, 64, 3, 3)), "padding": 1,
         "target": np.zeros((64, 56, 56))},
    ]
    for problem in big:
        p = problem_from_dict(problem)
        assert p.work_bytes(exact=False) < MAX_WORK_BYTES * 3 // 4
        assert p.work_bytes(exact=True) > p.work_bytes(exact=False)


def test_every_problem_of_the_problems_folder_fits():
    from pathlib import Path

    from convgrad.model import MAX_WORK_BYTES
    from convgrad.reader import read_file

    folder = Path(__file__).resolve().parent.parent / "problems"
    for path in sorted(folder.glob("*.yaml")):
        assert read_file(path).work_bytes(exact=True) < MAX_WORK_BYTES / 100, path.name


@pytest.mark.parametrize(("problem", "key", "words"), [
    ({"input": np.ones((300, 300)), "kernel": np.ones((257, 257))}, "'kernel'", ["65,536"]),
    ({"input": np.ones((300, 300)), "kernel": 1, "pool": {"size": [300, 300]}}, "'pool.size'",
     ["65,536"]),
    ({"input": np.ones((200, 200)), "kernel": np.ones((100, 100)), "padding": "same"},
     "'kernel'", ["window matrix", "larger stride"]),
    ({"input": np.ones((400, 400)), "kernel": np.ones((200, 1, 1))}, "'input'",
     ["200 maps", "fewer filters"]),
    ({"input": np.ones((300, 300)), "kernel": 1, "pool": {"size": 200, "stride": 1}},
     "'pool.size'", ["windows of 40,000 values", "larger stride"]),
    ({"input": np.ones((2, 2)), "layers": [{"conv": {"kernel": 1, "padding": 500}}, "relu",
                                           {"conv": {"kernel": 1, "padding": 100}}]},
     "'layers[3].conv.kernel'", ["less padding"]),
])
def test_layers_too_large_for_memory_name_the_key(problem, key, words):
    message = assert_error(problem, key, *words)
    assert "MiB" in message or "65,536" in message


def test_a_vector_input_with_a_vector_kernel_is_a_1d_convolution():
    # SPEC section 6: results 1-D. y = [1-2, 2-3, 3-4]; dL/dx by hand: x1 meets w1 in y1,
    # x2 w2 in y1 and w1 in y2, ... with dL/dy = 1 everywhere.
    r = convgrad.solve(lines("input: [1, 2, 3, 4]", "kernel: [1, -1]",
                             "grad_output: [1, 1, 1]"))
    assert r["Y"].tolist() == [-1, -1, -1] and r["dX"].tolist() == [1, 0, 0, -1]
    assert r["dW"].tolist() == [1 + 2 + 3, 2 + 3 + 4] and r["db"] == 3
    r = convgrad.solve({"input": "1 2 3", "kernel": "1 -1"})
    assert r["Y"].tolist() == [-1, -1]
    # A 1 x k kernel, or one number, keeps reading the vector as a one-row image.
    r = convgrad.solve(lines("input: [1, 2, 3, 4]", "kernel: [[1, -1]]",
                             "grad_output: [[1, 1, 1]]"))
    assert r["Y"].tolist() == [[-1, -1, -1]] and r["dX"].tolist() == [1, 0, 0, -1]
    r = convgrad.solve(lines("input: [1, 2, 3]", "kernel: 2"))
    assert r["Y"].tolist() == [[2, 4, 6]]


def test_a_string_whose_rows_survive_the_folding_is_a_matrix(either_parser):
    # A blank line in a quoted string is a new line, and so is '\n' before a line break.
    for written in (('input: "1 2 3', "", "  4 5 6", "", '  7 8 9"'),
                    ('input: "1 2 3\\n\\', '  4 5 6\\n\\', '  7 8 9"'),
                    ("input: >", "  1 2 3", "", "  4 5 6", "", "  7 8 9")):
        p = problem_from_text(lines(*written, "kernel: 1"))
        assert p.x[0].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]], written
    # Rows ended by ';' survive the folding too.
    p = problem_from_text(lines('input: "1 2 3;', '  4 5 6; 7 8 9"', "kernel: 1"))
    assert p.x[0].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert_error(lines('input: "1 2 3; 4 5 6', '  7 8 9"', "kernel: 1"), "several lines",
                 line=1)


def test_characters_refused_are_exactly_those_yaml_does_not_allow():
    """YAML 1.2's printable set (c-printable), written out here as the spec writes it."""
    from convgrad.reader import _NOT_YAML_TEXT

    def printable(cp: int) -> bool:
        return (cp in (0x9, 0xA, 0xD, 0x85) or 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xD7FF
                or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF)

    for cp in [*range(0x3000), *range(0xD700, 0x10100), 0x1F600, 0x10FFFF]:
        assert (_NOT_YAML_TEXT.search(chr(cp)) is None) == printable(cp), hex(cp)
    # ASCII text (the usual file) is checked by a shorter pattern: the same answer
    from convgrad.reader import _NOT_YAML_ASCII

    for cp in range(0x80):
        assert (_NOT_YAML_ASCII.search(f"a{chr(cp)}b") is None) == printable(cp), hex(cp)


# --- answers files read without the YAML parser -----------------------------------------

def _typed(value):
    """A value with the type of every number, so that 1 and Fraction(1) differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value), value)


_USUAL_KEYS = ["dW", "db", "loss", "dX", "dW[1,2]", "dW[1, 2]", "conv1.dW"]
_ODD_KEYS = ["steps[1].loss", "true", "x y", "dW ", "<<", "?dW", "-dW", "dW[]"]
_USUAL_VALUES = ["0", "23", "-0", "+1", ".5", "1.", "-2.50", "1e5", "1E-3", "0." + "3" * 30,
                 "'1 2; 3 4'", "'0.5'", "'a # b'", "[1, 2]", "[[1, .5], [2, -3]]",
                 "[[1, 0.25], [2.5e-1, 3]]", "[1e5, -0.0]", "[]", "[[]]", "[ 1 ,2 ]",
                 "1e999999", "9" * 1200, "[" + "9" * 1200 + "]", "[1e999999]"]
_ODD_VALUES = ["010", "0x1f", "0o17", "1_000", "'it''s'", '"1/3"', "[1, 2,]", "[01]", "[-]",
               "[1 2]", "[" * 40 + "1" + "]" * 40, "[NaN]", "null", "~", "true", "yes",
               "&a 1", "*a", "!!int 3", "1 # note", "", " ", ".inf", "1:30", "- 1", "a: 1"]


def _pick(draw, usual, odd):
    return draw(st.sampled_from(odd if draw(st.integers(0, 9)) == 0 else usual))


@st.composite
def answers_texts(draw):
    lines = []
    keys = draw(st.permutations(_USUAL_KEYS))  # a key twice: now and then, as an odd key
    for k in range(draw(st.integers(1, 5))):
        key = _pick(draw, [keys[k]], _ODD_KEYS + _USUAL_KEYS)
        if draw(st.booleans()):
            lines.append(f"{key}: {_pick(draw, _USUAL_VALUES, _ODD_VALUES)}")
        else:
            lines.append(f"{key}:")
            indent = " " * draw(st.sampled_from([2, 4]))
            for _ in range(draw(st.integers(0, 3))):
                if draw(st.integers(0, 9)) == 0:
                    indent = " " * draw(st.sampled_from([0, 1, 3]))
                lines.append(f"{indent}- {_pick(draw, _USUAL_VALUES, _ODD_VALUES)}")
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "   ", "# c", "---", "\t- 1", "  7"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=600, deadline=None, database=None, derandomize=True)
@given(text=answers_texts())
def test_answers_read_without_the_parser_are_what_the_parser_reads(text):
    from convgrad.reader import _simple_answers, load_answers, load_yaml

    simple = _simple_answers(text)
    event("read without the parser" if simple is not None else "read by the parser")
    try:
        data, lines = load_yaml(text, "a.yaml")
    except ProblemError:
        assert simple is None  # an error is load_yaml's to say
        with pytest.raises(ProblemError):
            load_answers(text, "a.yaml")
        return
    if simple is not None:
        assert _typed(simple[0]) == _typed(data)
        assert simple[1] == lines
    found = load_answers(text, "a.yaml")
    assert _typed(found[0]) == _typed(data) and found[1] == lines


def test_usual_answers_are_read_without_the_parser():
    from convgrad.reader import _simple_answers

    text = ("loss: 2.3400914\ndY:\n  - [[0.424375, 0.4], [0.10875, 0.249375]]\n"
            "dW:\n  - '0.793063 -0.945031; 1 2'\ndb: [1.1825, 1.221875]\ndW[1,2]: 41\n")
    found = _simple_answers(text)
    assert found is not None
    data, lines = found
    assert data["loss"] == Fraction(23400914, 10**7)
    assert data["dY"] == [[[Fraction(424375, 10**6), Fraction(2, 5)],
                           [Fraction(10875, 10**5), Fraction(249375, 10**6)]]]
    assert data["dW"] == ["0.793063 -0.945031; 1 2"] and data["dW[1,2]"] == 41
    assert lines[("loss",)] == 1 and lines[("dY",)] == 2 and lines[("dY", 0)] == 3
    assert lines[("dW[1,2]",)] == 7


@pytest.mark.parametrize("text", [
    "dW:\n  - 1\n   - 2\n",          # deeper: the parser reads '1 - 2', one string
    "dW:\n  - 1\n - 2\n",            # shallower: not YAML
    "dW:\n    - 1\n  - 2\n",
    "db:\nloss: 3\n",                # db is null
    "db: 1\ndb: 2\n",                # given twice
    "db: 1 # a note\n", "db: [1, 2,]\n", "db: [010]\n", "db: '1/3'\ndW: \"1\"\n",
    "db:\n\t- 1\n", "db: 1\r\n", "loss: 2.5\n  7\n", "--- \ndb: 1\n",
])
def test_other_forms_are_left_to_the_parser(text):
    from convgrad.reader import _simple_answers, load_answers, load_yaml

    assert _simple_answers(text) is None
    try:
        expected = load_yaml(text, "a.yaml")
    except ProblemError:
        with pytest.raises(ProblemError):
            load_answers(text, "a.yaml")
        return
    found = load_answers(text, "a.yaml")
    assert _typed(found[0]) == _typed(expected[0]) and found[1] == expected[1]


@pytest.mark.parametrize("text, says", [
    # one input channel under a kernel of one channel per filter, read as 3 channels
    ("input: ['1 2; 3 4', '1 2; 3 4', '1 2; 3 4']\nkernel: [[['1']]]\n",
     "'kernel' has 1 channel per filter but its input has 3;"),
    # a 1-value input under dense weights written for two inputs
    ("input: [1]\nlayers:\n  - dense: {weights: '1 2', bias: 0}\n",
     "but its input has 1 value; dense weights are"),
])
def test_a_count_of_one_is_singular(text, says):
    with pytest.raises(ProblemError) as caught:
        convgrad.solve(text)
    assert says in str(caught.value)
