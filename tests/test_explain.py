"""The walkthrough: its numbers are solve's numbers, --step without a terminal, zh and en."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from convgrad.engine import run
from convgrad.explain import Walkthrough
from convgrad.reader import load_problem

from .conftest import PROBLEMS, run_main

KEYS = {"y": "Y", "z": "Z", "a": "A", "dL/dy": "dY", "dL/dz": "dZ", "dL/da": "dA",
        "dL/dw": "dW", "dL/dx": "dX", "dL/db": "db"}
# y11, dL/dw12, x[1,2,3]; in networks a layer's name: relu1[1,2,3], dL/dfc1.w11, dL/dconv1.b2
LABEL = re.compile(r"^(?P<grad>dL/d)?(?P<name>[yzawxb]|[a-z_]+\d+(?:\.(?:[wb]|gamma|beta))?)"
                   r"(?P<index>\d+|\[[\d,]+\])?$")


def walkthrough(problem, lang="en", show_all=False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=1000, color_system=None, highlight=False)
    Walkthrough(run(load_problem(problem)), console, lang, show_all).show()
    return out.getvalue()


NUMBER = re.compile(r"-?[\d.]+(e[-+]?\d+)?(/\d+)?")


def stated_values(text: str) -> dict[str, str]:
    """label -> the value the walkthrough states for it (the last '= value' of its expansion).

    An expansion is `label = numbers = value` on one line, or `label = symbols` followed
    by a line `= numbers = value` for the first of each kind.
    """
    values: dict[str, str] = {}
    label = None
    for raw in text.splitlines():
        line = raw.strip("│ ").rstrip().split("   (")[0]  # drop borders and notes
        if line.startswith("= ") and label:
            values[label] = line.rsplit("= ", 1)[1].strip("()")
            label = None
            continue
        head, sep, rest = line.partition(" = ")
        label = head if sep and LABEL.match(head) else None
        value = rest.rsplit(" = ", 1)[-1].strip("()")  # "= (-2)": one factor, its own value
        if label and NUMBER.fullmatch(value):
            values[label] = value
            label = None
    return values


def expected(doc: dict, label: str):
    """The value solve --json gives for a walkthrough label (exact string when exact)."""
    match = LABEL.match(label)
    assert match, label
    grad, name, index = match.group("grad") or "", match.group("name"), match.group("index")
    values = doc.get("exact", doc)
    if len(name) == 1:
        key = KEYS[grad + name]
        # A network of one layer names its parameters by their letter alone: w, b.
        value = values[key] if key in values else values["layers"][0][key]
    else:
        layer_name, _, param = name.partition(".")
        layer = next(item for item in values["layers"] if item["name"] == layer_name)
        key = ({"w": "dW", "b": "db", "gamma": "dgamma", "beta": "dbeta"}[param] if param else
               "d_output" if grad else "output")
        value = layer[key]
    digits = index.strip("[]").split(",") if index and "[" in index else list(index or "")
    for i in digits:
        value = value[int(i) - 1]
    return value


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_walkthrough_numbers_are_solve_json_numbers(path):
    out = run_main("solve", path, "--json")
    assert out.returncode == 0, out
    doc = json.loads(out.stdout)
    values = stated_values(walkthrough(path, show_all=True))
    checked = 0
    for label, text in values.items():
        want = expected(doc, label)
        if "exact" in doc:
            assert text == want, label
        else:
            assert float(text) == pytest.approx(want, rel=1e-5, abs=1e-6), label
        checked += 1
    assert checked >= 10


def test_seed_walkthrough_works_the_seed_by_hand(seed_example):
    text = walkthrough(seed_example)
    lines = [line.strip("│ ").rstrip() for line in text.splitlines()]
    assert "y11 = x11·w11 + x12·w12 + x21·w21 + x22·w22 + b" in lines
    assert "= 1·1 + 2·0 + 4·(-1) + 5·1 + 1 = 3" in lines
    assert "= 1/4·[(3-1)² + (4-0)² + (6-0)² + (7-1)²] = 23" in lines
    for y, t, g in [(3, 1, 1), (4, 0, 2), (6, 0, 3), (7, 1, 3)]:
        wanted = f"2/4·({y} - {t}) = {g}"
        assert any(line.endswith(wanted) for line in lines), wanted
    assert "= 1·1 + 2·2 + 3·4 + 3·5 = 32" in lines
    assert "= 1·2 + 2·3 + 3·5 + 3·6 = 41" in lines
    assert "= 1·4 + 2·5 + 3·7 + 3·8 = 59" in lines
    assert "= 1·5 + 2·6 + 3·8 + 3·9 = 68" in lines
    assert "= 1 + 2 + 3 + 3 = 9" in lines
    # The input window of y11 is highlighted (brackets: no colour here).
    assert " [1] [2] 3      [1] [0]" in text
    assert "full convolution of dL/dZ with the kernel rotated 180 degrees" in text


def test_chinese_walkthrough_has_the_same_formulas(seed_example):
    en, zh = walkthrough(seed_example, "en"), walkthrough(seed_example, "zh")
    assert "第 1 步：题目" in zh and "Step 1: Problem" in en
    assert "反向传播：dL/dW" in zh
    for formula in ("= 1·1 + 2·2 + 3·4 + 3·5 = 32",
                    "= 1/4·[(3-1)² + (4-0)² + (6-0)² + (7-1)²] = 23"):
        assert formula in en and formula in zh


def test_large_problem_is_summarised():
    rng = np.random.default_rng(0)
    problem = {"input": rng.integers(-2, 3, (1, 14, 14)), "kernel": rng.integers(-1, 2, (3, 3)),
               "grad_output": rng.integers(-1, 2, (12, 12))}
    text = walkthrough(problem)
    assert "... 140 more, same rule" in text  # 144 outputs: 4 in full, the rest summarised
    assert len(text.splitlines()) < 700
    assert walkthrough(problem, show_all=True).count("Step 3.") == 144


def test_step_without_terminal_prints_everything_and_never_waits(seed_example):
    out = run_main("explain", seed_example, "--step")  # standard input is not a terminal
    assert out.returncode == 0
    assert "Enter: next step" not in out.stdout
    assert "Step 8" in out.stdout and "\x1b[" not in out.stdout  # plain text in a pipe


# The pauses on a terminal (a pty) are in test_process.py.


# --- issue 12: text convgrad did not write, long numbers ----------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
BCE = {"input": "0.5 0 1 0; 0 1 0.5 1; 1 0 1 0; 0 1 0 0.5",
       "kernel": "0.2 -0.1 0; 0.1 0.3 -0.2; 0 0.1 0.1", "bias": -0.1, "activation": "sigmoid",
       "target": "1 0; 0 1", "loss": "bce"}


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "terminal"])
@pytest.mark.parametrize("name", ["week 3 [/conv]", "[b]x[/b]", "[red]", "\\[",
                                  "[bold red]alert[/] :smile:"])
def test_problem_names_are_printed_as_written(name, terminal):
    out = io.StringIO()
    console = Console(file=out, width=1000, force_terminal=terminal,
                      color_system="truecolor" if terminal else None)
    Walkthrough(run(load_problem({**BCE, "name": name})), console, "en").show()
    lines = [line.strip("│ ").rstrip() for line in ANSI.sub("", out.getvalue()).splitlines()]
    assert f"Problem: {name}" in lines
    assert any(line.endswith("L = -1/N · Σ [t·ln y + (1 - t)·ln(1 - y)]") for line in lines)


def test_long_numbers_in_the_walkthrough():
    problem = {"input": "1e1000 1e1000; 1e1000 1e1000",
               "layers": [{"conv": {"kernel": "1e1000"}}, {"conv": {"kernel": "1e1000"}}],
               "target": "0 0; 0 0"}
    for lang, note in (("en", "Numbers of more than 40 digits"), ("zh", "超过 40 位的数")):
        text = walkthrough(problem, lang)
        assert note in text
        assert "= ≈1e+1000·≈1e+1000 + 0 = ≈1e+2000" in text


def test_uncovered_inputs_are_named_from_the_warnings_data_in_either_language():
    # 5x5, 1x1 kernel, stride 2: rows and columns 2 and 4 never meet the kernel (their dL/dx
    # is 0). The 2x2 pool at stride 2 on the 3x3 output drops its row and column 3: a warning
    # of another kind, which is not about the input's dL/dx.
    problem = {"input": np.arange(25).reshape(5, 5).tolist(), "kernel": 1, "stride": 2,
               "pool": {"type": "max", "size": 2}, "grad_output": [[1]]}
    text = " ".join(walkthrough(problem, "en").split())
    note = re.search(r"dL/dx is 0 \((.*?)\)\.", text)
    assert note, text
    assert "conv1: input rows 2, 4 never meet the kernel" in note[1]
    assert "conv1: input columns 2, 4 never meet the kernel" in note[1]
    assert "pool1" not in note[1]
    # in Chinese from the same data, not the English message
    text = " ".join(walkthrough(problem, "zh").split())
    note = re.search(r"dL/dx 为 0（(.*?)）。", text)
    assert note, text
    assert note[1] == "conv1：输入第 2、4 行；conv1：输入第 2、4 列"


# --- transposed convolution and batch normalisation --------------------------------------------

# Dive into Deep Learning's example (section 14.10): X = [[0, 1], [2, 3]], K = [[0, 1], [2, 3]],
# stride 2: each input entry's block x·K lands in its own 2x2 corner of the 4x4 output.
D2L = {"input": "0 1; 2 3", "layers": [{"conv_transpose": {"kernel": "0 1; 2 3", "stride": 2}}],
       "target": "1 1 1 1; 1 1 1 1; 1 1 1 1; 1 1 1 1", "loss": "half_sse"}


def panel_lines(text: str) -> list[str]:
    return [line.strip("│ ").rstrip() for line in text.splitlines()]


def test_transposed_convolution_scatters_each_input_entry():
    text = walkthrough(D2L)
    lines = panel_lines(text)
    # x22 = 3 is multiplied by the whole kernel and added into the bottom-right block.
    assert "x22 → y[1,3,3] += x22·w11, y[1,3,4] += x22·w12, y[1,4,3] += x22·w21, " \
           "y[1,4,4] += x22·w22" in " ".join(lines)
    assert "→ y[1,3,3] += 3·0, y[1,3,4] += 3·1, y[1,4,3] += 3·2, y[1,4,4] += 3·3" in lines
    # Its step shows the entry, the kernel and 3·K in the output, the cells it reaches marked.
    step = text[text.index("Step 2.4: x22"):text.index("Step 3")]
    assert "x22·W in the output" in step
    assert "0 0 [0] [3]" in step and "0 0 [6] [9]" in step
    assert "[ ] marks the entry, the weights it is multiplied by and where the products go" in step
    # Each output is then the sum of what landed on it: y44 = x22·w22 = 9.
    assert "y[1,4,4] = 3·3 + 0 = 9" in lines


def test_transposed_convolution_backward_is_a_correlation():
    text = walkthrough(D2L, show_all=True)
    lines = panel_lines(text)
    # dL/dY = Y - 1 = [[-1, -1, -1, 0], [-1, -1, 1, 2], [-1, 1, -1, 2], [3, 5, 5, 8]]
    # dL/dx22: the block x22 reached, times the weights that took it there.
    assert "dL/dx22 = dL/dy[1,3,3]·w11 + dL/dy[1,3,4]·w12 + dL/dy[1,4,3]·w21 + " \
           "dL/dy[1,4,4]·w22" in " ".join(lines)
    assert "= (-1)·0 + 2·1 + 5·2 + 8·3 = 36" in lines
    # dL/dw11 sums, over the inputs, dL/dy where w11 took each input times that input:
    # (-1)·0 + (-1)·1 + (-1)·2 + (-1)·3.
    assert "= (-1)·0 + (-1)·1 + (-1)·2 + (-1)·3 = -6" in lines
    assert "correlation of dL/dY with the kernel, stride 2" in " ".join(lines)


BATCH_NORM = {"input": "1 2 0; 0 1 3; 2 1 1",
              "layers": [{"conv": {"kernel": "1 0; 0 -1"}},
                         {"batch_norm": {"gamma": 2, "beta": "1/2"}}],
              "target": "1 0; 0 1", "loss": "mse"}


def test_batch_norm_walkthrough_shows_the_statistics_and_the_three_terms():
    text = walkthrough(BATCH_NORM, show_all=True)
    lines = panel_lines(text)
    flat = " ".join(lines)
    # conv1 = [[0, -1], [-1, 0]]: mean -1/2, variance 1/4, sigma √(1/4 + 1e-05).
    assert "batch_norm1.mean1 = (conv1[1,1,1] + conv1[1,1,2] + conv1[1,2,1] + conv1[1,2,2])/4" \
        in lines
    assert "= (0 + (-1) + (-1) + 0)/4 = -0.5" in lines
    assert "= ((0-(-0.5))² + (-1-(-0.5))² + (-1-(-0.5))² + (0-(-0.5))²)/4 = 0.25" in lines
    assert "= √(0.25 + 1e-05) = 0.50001" in lines
    # dL/dx in its three terms, by name and with the numbers of each.
    assert "dL/dconv1[1,1,1] = batch_norm1.gamma1/batch_norm1.sigma1·(dL/dy[1,1,1] - " \
           "dL/dbatch_norm1.beta1/4 - batch_norm1.xhat[1,1,1]·dL/dbatch_norm1.gamma1/4)" in flat
    assert "each x reaches the loss three ways" in flat


def test_batch_norm_numbers_are_solve_json_numbers_in_both_languages():
    from convgrad.result import Result

    solved = run(load_problem(BATCH_NORM))
    layer = Result.from_run(solved)["layers"][1]
    for lang in ("en", "zh"):
        values = stated_values(walkthrough(BATCH_NORM, lang, show_all=True))
        dgamma = float(values["dL/dbatch_norm1.gamma1"])
        assert dgamma == pytest.approx(layer["dgamma"][0], rel=1e-5)
        assert float(values["dL/dconv1[1,2,1]"]) == pytest.approx(
            solved.passes[1].dx[0, 0, 1, 0], rel=1e-5, abs=1e-9)
    assert "三条路径" in walkthrough(BATCH_NORM, "zh")


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_large_transposed_convolution_and_batch_norm_are_summarised(mode):
    rng = np.random.default_rng(1)
    problem = {"input": rng.integers(-2, 3, (2, 12, 12)).tolist(),
               "layers": [{"conv_transpose": {"kernel": rng.integers(-1, 2, (2, 3, 3, 3)).tolist(),
                                              "stride": 2, "padding": 1}},
                          {"batch_norm": {"mode": mode}}],
               "grad_output": rng.integers(-1, 2, (3, 23, 23)).tolist()}
    text = walkthrough(problem)
    assert "... 1,583 more, same rule" in text  # 3 x 23 x 23 outputs: 4 in full
    assert "more terms" in text  # the channel means over 529 values are elided
    assert len(text.splitlines()) < 2500
