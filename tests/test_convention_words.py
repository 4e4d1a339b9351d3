"""The conventions a problem's answers depend on, in words, for students (generate's
problem.yaml comment, the Moodle and PrairieLearn questions): only those its layers and loss
meet, each as what it means, the values worked out by hand from SPEC section 7."""

from __future__ import annotations

from pathlib import Path

import pytest

from convgrad.reader import problem_from_text
from convgrad.render.convention_words import convention_words

from .conftest import run_main

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
input: [[1, -2, 0], [0, 3, 1], [2, 1, -1]]
kernel: [[1, 0], [0, -1]]
bias: 0
"""


def words(text: str) -> str:
    return convention_words(problem_from_text(text, "t.yaml"))


def test_the_seed_example_says_cross_correlation_and_its_loss() -> None:
    text = (ROOT / "problems" / "seed_worked_example.yaml").read_text(encoding="utf-8")
    said = convention_words(problem_from_text(text, "seed.yaml")).split(", ")
    assert said[0] == "cross-correlation (the kernel is not flipped)"
    assert said[-1].startswith("mse: L = mean of (y - t)^2")
    assert not any("relu" in s or "tied" in s for s in said)  # no activation, no pooling


def test_relu_max_pool_half_sse() -> None:
    said = words(BASE + "activation: relu\npool: {type: max, size: 2, stride: 1}\n"
                 "target: [[0]]\nloss: half_sse\n")
    assert said == ("cross-correlation (the kernel is not flipped), relu'(0) = 0, a tied max "
                    "goes to the first maximum (row by row), half_sse: L = 1/2 sum (y - t)^2")


def test_leaky_relu_says_its_derivative_at_zero_not_the_kink_key() -> None:
    # leaky_relu'(0) = slope + kink (1 - slope): 1/10 with kink 0, 1 with kink 1
    assert "leaky_relu'(0) = 1/10" in words(BASE + "activation: {name: leaky_relu, slope: 1/10}\n")
    kinked = BASE + ("activation: {name: leaky_relu, slope: 1/10}\n"
                     "conventions: {kink: 1}\n")
    assert "leaky_relu'(0) = 1" in words(kinked).split(", ")


@pytest.mark.parametrize(("ties", "said"), [
    ("last", "a tied max goes to the last maximum (row by row)"),
    ("all", "every tied maximum gets the whole gradient"),
    ("split", "tied maxima share the gradient equally")])
def test_max_ties(ties: str, said: str) -> None:
    text = BASE + f"pool: {{type: max, size: 2, stride: 1}}\nconventions: {{max_ties: {ties}}}\n"
    assert said in words(text).split(", ")


def test_a_flipped_kernel_and_avg_pool_padding() -> None:
    text = BASE + ("flip_kernel: true\npool: {type: avg, size: 2, stride: 1}\n"
                   "conventions: {pool_padding: 1, avg_count_padding: false}\n")
    said = words(text).split(", ")
    assert "convolution (the kernel is flipped)" in said
    assert "pooling pads 1" in said and "avg pool divides by the window's real cells" in said
    assert not any("tied" in s for s in said)  # no max pooling: ties cannot matter


def test_generate_writes_the_line_above_each_problem(tmp_path: Path) -> None:
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    for out in ("a", "b"):
        done = run_main("generate", template, "--count", 2, "--seed", 4, "--out",
                        tmp_path / out)
        assert done.returncode == 0, done
    for name in ("001", "002"):
        text = (tmp_path / "a" / name / "problem.yaml").read_text(encoding="utf-8")
        first, rest = text.split("\n", 1)
        assert first == f"# Conventions: {words(rest)}"
        assert (tmp_path / "b" / name / "problem.yaml").read_bytes() == text.encode("utf-8")
        # the file as written is a problem, the key its answers
        done = run_main("check", tmp_path / "a" / name / "problem.yaml",
                        tmp_path / "a" / name / "answers.yaml")
        assert done.returncode == 0, done


def test_a_tensorflow_network_says_its_layouts_flatten_dense_ceil_and_base() -> None:
    # Profile tensorflow (SPEC section 7): maps NHWC, kernels HWIO, flatten HWC, dense in_out;
    # on top: "same" padding's odd row first, pooling in ceil mode, entries from 0. mae's
    # derivative at y = t is the kink, 0.
    text = ("input: [[1, -2, 0], [0, 3, 1], [2, 1, -1]]\n"
            "layers:\n"
            "  - conv: {kernel: [[1, 0], [0, -1]], padding: same}\n"
            "  - max_pool: {size: 2, stride: 2}\n"
            "  - flatten\n"
            "  - dense: {weights: [[1], [2], [3], [4]]}\n"
            "target: [0]\nloss: mae\n"
            "conventions: {profile: tensorflow, pool_ceil: true, same_padding: start, "
            "index_base: 0}\n")
    assert words(text) == (
        "cross-correlation (the kernel is not flipped), "
        "padding same: the odd extra row/column at the top/left, "
        "a tied max goes to the first maximum (row by row), "
        "pooling windows in ceil mode (a last partial window counts), "
        "flatten: row, then column, then channel, "
        "dense: y = x W + b, W in x out, "
        "maps written H x W x C (layout NHWC), "
        "kernels written KH x KW x C x F (kernel_layout HWIO), "
        "mae: L = mean of |y - t| over every entry; its derivative at y = t is 0, "
        "entries numbered from 0")
