"""The computed convention keys (SPEC section 7): same_padding, pool_ceil, pool_padding,
avg_count_padding, max_ties and kink, each against an independent computation: PyTorch
float64 where it has the option, the naive twins of reference.py written with each choice,
hand-worked numbers, and exact central differences (a symmetric difference at a kink of
relu is the mean of the slopes on either side: kink 1/2)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.cli import main


def exact(values) -> np.ndarray:
    return np.array(values, dtype=object)


def solve(problem: dict, **conventions) -> dict:
    return convgrad.solve({**problem, "conventions": conventions})


# --- kink ---------------------------------------------------------------------------------

# z = x * w with every pre-activation of the 2 x 3 map: z12 and z21 exactly 0.
KINK = {"input": "2 0 -1; 0 3 -2", "kernel": [[1]], "grad_output": "1 2 3; 4 5 6"}


@pytest.mark.parametrize("kink", [0, 1, Fraction(1, 2)])
def test_relu_kink_is_the_derivative_at_zero(kink):
    result = solve({**KINK, "activation": "relu"}, kink=str(kink))
    z = exact([[2, 0, -1], [0, 3, -2]])
    want = ref.activation_backward("relu", z, exact([[1, 2, 3], [4, 5, 6]]), 0, kink)
    np.testing.assert_array_equal(result["dZ"], want)
    # by hand: the grad_output where z > 0, kink times it where z = 0
    assert result["dZ"].tolist() == [[1, 2 * kink, 0], [4 * kink, 5, 0]]
    assert result["conventions"]["kink"] == kink


@pytest.mark.parametrize("kink", [0, 1, Fraction(1, 2)])
def test_leaky_relu_kink_lies_between_the_slopes(kink):
    problem = {**KINK, "activation": {"name": "leaky_relu", "slope": "1/10"}}
    result = solve(problem, kink=str(kink))
    at_zero = Fraction(1, 10) + kink * Fraction(9, 10)
    assert result["dZ"].tolist() == [[1, 2 * at_zero, 3 * Fraction(1, 10)],
                                     [4 * at_zero, 5, 6 * Fraction(1, 10)]]
    z = exact([[2, 0, -1], [0, 3, -2]])
    np.testing.assert_array_equal(
        result["dZ"], ref.activation_backward("leaky_relu", z, exact([[1, 2, 3], [4, 5, 6]]),
                                              Fraction(1, 10), kink))


@pytest.mark.parametrize("activation", ["relu", {"name": "leaky_relu", "slope": "1/5"}])
def test_kink_one_half_is_the_central_difference(activation):
    """L = sum of grad_output * f(x * w) is piecewise linear: an exact central difference
    with a small h gives each entry's symmetric slope, kink 1/2 at z = 0."""
    problem = {**KINK, "activation": activation}
    result = solve(problem, kink="1/2")
    x = exact([[2, 0, -1], [0, 3, -2]])
    g = exact([[1, 2, 3], [4, 5, 6]])
    slope = Fraction(0) if activation == "relu" else Fraction(1, 5)
    h = Fraction(1, 1000)

    def loss(xv):
        return sum(g[i] * (v if v > 0 else slope * v) for i, v in np.ndenumerate(xv))

    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        assert result["dX"][index] == (loss(plus) - loss(minus)) / (2 * h)


def test_kink_in_float64_matches_the_twin():
    problem = {"input": [[2.0, 0.0, -1.5], [0.0, 3.0, -2.0]], "kernel": [[1.0]],
               "grad_output": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "activation": "relu"}
    result = convgrad.solve({**problem, "conventions": {"kink": "1/2"}}, exact=False)
    z = np.array(problem["input"])
    want = ref.activation_backward("relu", z, np.array(problem["grad_output"]), 0, 0.5)
    np.testing.assert_allclose(result["dZ"], want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("kink", [0, 1, Fraction(1, 2)])
def test_mae_kink_is_the_derivative_where_output_meets_target(kink):
    problem = {"input": "1 2; 3 4", "kernel": [[1]], "target": "1 0; 3 5", "loss": "mae"}
    result = solve(problem, kink=str(kink))
    y, t = exact([[1, 2], [3, 4]]), exact([[1, 0], [3, 5]])
    np.testing.assert_array_equal(result["dY"], ref.loss_backward("mae", y, t, kink))
    assert result["dY"].tolist() == [[kink / 4, Fraction(1, 4)], [kink / 4, Fraction(-1, 4)]]


def flat(text: str) -> str:
    """Terminal text without its boxes and line breaks: words as one line."""
    return " ".join(text.replace("│", " ").split())


def test_kink_is_visible_in_solve_and_explain(capsys, tmp_path):
    path = tmp_path / "kink.yaml"
    path.write_text("input: \"2 0 -1; 0 3 -2\"\nkernel: [[1]]\nactivation: relu\n"
                    "target: \"2 1 0; 0 3 0\"\nloss: mae\nconventions: {kink: 1/2}\n",
                    encoding="utf-8")
    for command in ("solve", "explain"):
        assert main([command, str(path), "--all"] if command == "explain" else
                    [command, str(path)]) == 0
        out = flat(capsys.readouterr().out)
        assert "relu'(z) = 1 if z > 0, else 0 (1/2 at z = 0)" in out
        assert "z12 = 0, the kink: relu'(0) = 1/2 by the kink convention" in out
        assert "y = t, the kink of |y - t|: its derivative there is 1/2" in out
    assert main(["solve", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["conventions"]["kink"] == 0.5
    assert doc["dX"] == [[1 / 12, -1 / 12, 0], [1 / 24, 1 / 12, 0]]
    assert doc["exact"]["dX"] == [["1/12", "-1/12", "0"], ["1/24", "1/12", "0"]]
