"""What `solve` prints: the seed example's terms, golden text, and large problems summarised."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.terminal import print_solution

from .conftest import ROOT, run_main

GOLDEN = Path(__file__).parent / "golden"


def render(problem, terms="auto", width=100) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False)
    print_solution(run(load_problem(problem)), terms=terms, console=console)
    return out.getvalue()


def test_seed_example_terms_as_the_seed_writes_them(seed_example):
    text = render(seed_example)
    lines = [line.rstrip() for line in text.splitlines()]
    # seeds/000: y1 = (1x1) + (2x0) + (4x-1) + (5x1) + 1 = 3, ... y4 = 7
    assert "y11 = x11·w11 + x12·w12 + x21·w21 + x22·w22 + b" in lines
    assert "    = 1·1 + 2·0 + 4·(-1) + 5·1 + 1 = 3" in lines
    assert "y12 = 2·1 + 3·0 + 5·(-1) + 6·1 + 1 = 4" in lines
    assert "y21 = 4·1 + 5·0 + 7·(-1) + 8·1 + 1 = 6" in lines
    assert "y22 = 5·1 + 6·0 + 8·(-1) + 9·1 + 1 = 7" in lines
    # L = 1/4 [(3-1)^2 + (4-0)^2 + (6-0)^2 + (7-1)^2] = 23
    assert "  = 1/4·[(3-1)² + (4-0)² + (6-0)² + (7-1)²] = 23" in lines
    # dL/dy = 1/4 * 2 * (y - t): 1, 2, 3, 3
    assert "        = 2/4·(3 - 1) = 1" in lines
    assert "dL/dy22 = 2/4·(7 - 1) = 3" in lines
    # dL/dw1 = 1x1 + 2x2 + 3x4 + 3x5 = 32; dL/db = 1 + 2 + 3 + 3 = 9
    assert "dL/dw11 = dL/dy11·x11 + dL/dy12·x12 + dL/dy21·x21 + dL/dy22·x22" in lines
    assert "        = 1·1 + 2·2 + 3·4 + 3·5 = 32" in lines
    assert "dL/dw22 = 1·5 + 2·6 + 3·8 + 3·9 = 68" in lines
    assert "      = 1 + 2 + 3 + 3 = 9" in lines
    assert "dL/dx22 = 1·1 + 2·(-1) + 3·0 + 3·1 = 2" in lines
    assert "dL/dx31 = 3·(-1) = -3" in lines


def test_seed_example_golden_text(seed_example):
    # A fixed-width, colourless rendering; regenerate with CONVGRAD_GOLDEN=1 after a
    # deliberate change of layout and read the diff.
    import os

    text = render(seed_example)
    golden = GOLDEN / "seed_worked_example.txt"
    if os.environ.get("CONVGRAD_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_padding_cells_are_marked_and_shape_facts_shown():
    text = render(ROOT / "problems" / "multichannel_relu_maxpool.yaml")
    assert "X padded (padding in parentheses), channel 1" in text
    assert " (0)   1   0   2   1 (0)" in text
    assert "padding 1: top 1, bottom 1, left 1, right 1" in text
    assert "Ho = floor((4 + 1 + 1 - 1·(3-1) - 1) / 1) + 1 = 4" in text
    assert "(from a[1,1,1])" in text  # which element won the max-pool window


def test_flip_kernel_uses_the_rotated_weight_labels():
    text = render({"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "bias": 1,
                   "flip_kernel": True, "target": "1 0; 0 1"})
    assert "y11 = x11·w22 + x12·w21 + x21·w12 + x22·w11 + b" in text
    assert "= 1·1 + 2·(-1) + 4·0 + 5·1 + 1 = 5" in text


# 8 filters on a 3x12x12 input: 800 outputs, 216 weights, 8 biases, 432 inputs. Under auto a
# kind of more than 64 entries shows its first 4; the 8 biases are all shown.
@pytest.mark.parametrize("terms, expansions", [("none", 0), ("auto", 4 + 4 + 8 + 4),
                                                ("all", 800 + 216 + 8 + 432)])
def test_terms_option_bounds_the_expansions(terms, expansions):
    rng = np.random.default_rng(0)
    problem = {"input": rng.integers(-2, 3, (3, 12, 12)),
               "kernel": rng.integers(-1, 2, (8, 3, 3, 3)),
               "grad_output": rng.integers(-1, 2, (8, 10, 10))}
    text = render(problem, terms=terms, width=200)
    # Count expansion lines: "label = ... = value" starting at the left margin.
    count = sum(1 for line in text.splitlines()
                if line.startswith(("z[", "y[", "dL/dw[", "dL/db", "dL/dx[")) and " = " in line)
    assert count == expansions
    if terms == "auto":
        assert text.count("... 796 more, same rule") == 1  # the outputs
        assert text.count("... 428 more, same rule") == 1  # dL/dX


def test_large_problem_is_summarised():
    rng = np.random.default_rng(1)
    problem = {"input": rng.normal(size=(2, 40, 40)), "kernel": rng.normal(size=(12, 2, 3, 3)),
               "grad_output": rng.normal(size=(12, 38, 38))}
    text = render(problem, width=200)
    assert "more terms" in text  # dL/dw sums over 1,444 outputs are elided
    assert "more slices" in text  # 12 filters x 2 channels of dL/dW: the first ones shown
    assert "…" in text and "⋮" in text  # 40x40 matrices shown by their corners
    assert len(text.splitlines()) < 500


# conv_transpose (2 -> 3 channels, 3x3 kernel, stride 2, padding 1) on 2x12x12, then
# batch_norm: 3x23x23 = 1,587 outputs of each, 54 weights, 3 biases, gammas, betas, 288 inputs.
# Under auto: 4 scatters, 4 outputs, then batch_norm's 3 means, 3 variances, 3 sigmas, 4 xhat,
# 4 outputs; back: 3 dgamma, 3 dbeta, 4 dx, then the 54 dW (no more than 64: all), 3 db, 4 dx.
TRANSPOSED = {"input": np.random.default_rng(2).integers(-2, 3, (2, 12, 12)),
              "layers": [{"conv_transpose": {
                  "kernel": np.random.default_rng(3).integers(-1, 2, (2, 3, 3, 3)),
                  "stride": 2, "padding": 1}}, {"batch_norm": {}}],
              "grad_output": np.random.default_rng(4).integers(-1, 2, (3, 23, 23))}
EXPANDED = ("x[", "y[", "conv_transpose1[", "batch_norm1.", "dL/d")


@pytest.mark.parametrize("terms, expansions", [
    ("none", 0), ("auto", 4 + 4 + 3 + 3 + 3 + 4 + 4 + 3 + 3 + 4 + 54 + 3 + 4),
    ("all", 288 + 1587 + 3 * 3 + 1587 * 2 + 3 * 2 + 1587 + 54 + 3 + 288)])
def test_terms_bound_transposed_convolution_and_batch_norm(terms, expansions):
    text = render(TRANSPOSED, terms=terms, width=200)
    count = sum(1 for line in text.splitlines()
                if line.startswith(EXPANDED) and (" = " in line or " → " in line)
                and not line.startswith(("batch_norm1.gamma = ", "batch_norm1.beta = ")))
    assert count == expansions
    if terms == "auto":
        assert len(text.splitlines()) < 500
        assert "more terms" in text  # the means over a channel's 529 values are elided
    if terms == "all":  # every term of the channel's sums written out
        assert "more terms" not in text

# --- issue 12: text convgrad did not write, signs in every kind of term, long numbers ---------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARKUP_NAMES = ["week 3 [/conv]", "[b]x[/b]", "[red]", "\\[", "[bold red]alert[/] :smile:"]
BCE = {"input": "0.5 0 1 0; 0 1 0.5 1; 1 0 1 0; 0 1 0 0.5",
       "kernel": "0.2 -0.1 0; 0.1 0.3 -0.2; 0 0.1 0.1", "bias": -0.1, "activation": "sigmoid",
       "target": "1 0; 0 1", "loss": "bce"}
BCE_FORMULA = "L = -1/N · Σ [t·ln y + (1 - t)·ln(1 - y)]"


def render_on(problem, terminal: bool, terms: str = "auto") -> str:
    """solve's text on a plain console, or on a terminal-like one (colours stripped)."""
    out = io.StringIO()
    if terminal:
        console = Console(file=out, width=200, force_terminal=True, color_system="truecolor")
    else:
        console = Console(file=out, width=200, color_system=None, highlight=False)
    print_solution(run(load_problem(problem)), terms=terms, console=console)
    return ANSI.sub("", out.getvalue())


@pytest.mark.parametrize("terminal", [False, True], ids=["plain", "terminal"])
@pytest.mark.parametrize("name", MARKUP_NAMES)
def test_problem_names_are_printed_as_written(name, terminal):
    text = render_on({**BCE, "name": name}, terminal)
    assert f"Problem: {name}\n" in text
    assert BCE_FORMULA in text  # the formula's [...] is not read as a tag either


def test_make_console_prints_strings_literally(monkeypatch):
    from convgrad.render.terminal import make_console

    monkeypatch.setenv("COLUMNS", "100")
    console = make_console()
    out = io.StringIO()
    console.file = out
    console.print("[b]x[/b] [/conv] :smile:")
    assert out.getvalue() == "[b]x[/b] [/conv] :smile:\n"


@pytest.mark.parametrize("columns, width", [("0", 100), ("5", 40), ("abc", 100), ("-3", 100),
                                            ("²", 100), ("120", 120), (None, 100)])
def test_console_width_from_columns(columns, width, monkeypatch):
    from convgrad.render.terminal import make_console

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert make_console().width == width  # not a terminal here: 100 unless COLUMNS says


NEGATIVES = [
    # conv, leaky_relu, avg pool, flatten, dense, mae and the update, all with negatives
    {"input": "1 -2 3 -4 1; -5 6 -7 8 -1; 9 -1 2 -3 2; -4 5 -6 7 -2; 1 -1 1 -1 1",
     "layers": [{"conv": {"kernel": "1 -1; -1 2", "bias": -1}}, {"leaky_relu": {"slope": "1/2"}},
                {"avg_pool": {"size": 2, "stride": 2}}, "flatten",
                {"dense": {"weights": "1 -1 2 -2; -3 1 0 1", "bias": [-1, 2]}}],
     "target": [-1, 3], "loss": "mae", "learning_rate": "1/2"},
    {"input": "-1 2 -3; 4 -5 6; -7 8 -9", "kernel": "-1 1; 1 -1", "bias": -2,
     "activation": "tanh", "target": "-1 -2; -3 -4", "loss": "mse"},
    {"input": "-1 2 -3; 4 -5 6; -7 8 -9", "kernel": "-1 1; 1 -1", "bias": -2,
     "pool": {"type": "avg", "size": 2, "stride": 1}, "target": "-3", "loss": "half_sse"},
    {"input": "-1 2 -3; 4 -5 6; -7 8 -9", "kernel": "-1 1; 1 -1", "target": "-1 0; 0 -2",
     "loss": "sse", "learning_rate": 2},
    {"input": "-1 2 -3; 4 -5 6; -7 8 -9", "kernel": "-1 1; 1 -1", "target": "0 1; 0 0",
     "loss": "cross_entropy"},
    {"input": "-1 2 -3; 4 -5 6; -7 8 -9", "kernel": "-1 1; 1 -1", "activation": "sigmoid",
     "target": "0 1; 1 0", "loss": "bce"},
    {"input": "-1 2 -3; 4 -5 6; -7 8 -9", "kernel": "-1 1; 1 -1", "activation": "relu",
     "pool": {"type": "max", "size": 2, "stride": 1}, "grad_output": "-2"},
]
# A negative number right after a sign or a product dot: 1 + -2, 3·-1, 4 - -1, 1--0.5
SLIP = re.compile(r"(\+ |·| - |\(1-|\d-)-[\d.≈]")


@pytest.mark.parametrize("problem", NEGATIVES, ids=["network", "tanh", "avg_pool", "sse",
                                                    "cross_entropy", "bce", "max_pool"])
def test_negative_terms_are_bracketed_in_every_kind_of_term(problem):
    text = render(problem, terms="all", width=200)
    assert not SLIP.findall(text), [line for line in text.splitlines() if SLIP.search(line)]


def test_average_pool_terms_bracket_negatives():
    text = render(NEGATIVES[0], terms="all", width=200)
    assert "             = (19 + (-13) + (-23/2) + 17)/4 = 23/8" in text
    assert "pool1[1,1,2] = (29 + (-8) + (-12) + 15)/4 = 6" in text


def test_a_lone_negative_term_is_written_as_its_value(tmp_path):
    # max pool of z = [[1, 2], [3, 4]] (kernel 1): z22 = 4 wins, so dL/dz22 = dL/dy11 = -3, a
    # one-term sum: "= -3", not "= (-3)" (a factor's parentheses, read as a sum left open)
    problem = {"input": "1 2; 3 4", "kernel": [[1]], "pool": {"type": "max", "size": 2},
               "grad_output": [[-3]]}
    assert "dL/dz22 = dL/dy11\n        = -3\n" in render(problem)
    path = tmp_path / "p.yaml"
    path.write_text('input: "1 2; 3 4"\nkernel: [[1]]\npool: {type: max, size: 2}\n'
                    "grad_output: [[-3]]\n", encoding="utf-8")
    markdown = run_main("solve", path, "--format", "markdown").stdout
    assert "\\frac{\\partial L}{\\partial y_{11}} \\\\\n&= -3\n" in markdown
    page = run_main("solve", path, "--format", "html").stdout
    assert 'title="dL/dz22 = dL/dy11 = -3"' in page and "= (-3)<" not in page
    assert "\n        = -3</div>" in page


def test_a_fraction_shared_by_an_average_pool_is_bracketed():
    # a 2x2 average pool hands each cell a quarter of dL/dy = 1/2: (1/2)/4 = 1/8, written with
    # its brackets as a negative share is; 1/2/4 reads as 1/(2/4) = 2
    problem = {"input": "1 2; 3 4", "kernel": [[1]], "pool": {"type": "avg", "size": 2},
               "grad_output": [["1/2"]]}
    text = render(problem)
    assert "dL/dz11 = dL/dy11/4\n        = (1/2)/4 = 1/8\n" in text
    assert "1/2/4" not in text


def test_long_exact_numbers_are_rounded_in_text_and_said_so():
    from fractions import Fraction

    from convgrad.trace import show_number

    assert show_number(10**40 - 1) == "9" * 40
    assert show_number(10**40) == "≈1e+40"
    assert show_number(-(10**400) // 3) == "≈-3.33333e+399"
    assert show_number(Fraction(1, 3 * 10**50)) == "≈3.33333e-51"
    assert show_number(Fraction(2 * 10**45 + 1, 3)) == "≈6.66667e+44"
    assert show_number(Fraction(10**6 - 1, 10**46)) == "≈9.99999e-41"
    assert show_number(10**7000) == "≈1e+7000"  # past Python's 4,300-digit limit
    text = render({"input": "1 2; 3 4", "kernel": "1/3", "bias": "1e400",
                   "target": "0 0; 0 0"})
    assert "Numbers of more than 40 digits are shown to 6 significant figures" in text
    assert "y12 = 2·1/3 + ≈1e+400 = ≈1e+400" in text
    assert "loss = ≈1e+800" in text
    assert "≈" not in render(ROOT / "problems" / "fractions_and_strings.yaml")


@pytest.mark.parametrize("command", ["solve", "explain"])
@pytest.mark.parametrize("colour", [False, True])
def test_a_names_escape_sequences_are_shown_not_sent_to_the_terminal(command: str, colour: bool,
                                                                   tmp_path: Path,
                                                                   monkeypatch):
    # YAML's "\e[2J" in a name cleared the screen of whoever solved the problem: rich
    # removes bell, backspace and carriage return, not ESC.
    from .conftest import run_main

    if colour:
        monkeypatch.setenv("FORCE_COLOR", "1")
    path = tmp_path / "p.yaml"
    path.write_text('name: "red \\e[31mRED\\e[0m \\x01 end"\ninput: "1 2; 3 4"\nkernel: "1"\n'
                    'grad_output: "1 1; 1 1"\n')
    out = run_main(command, path)
    assert out.returncode == 0
    assert r"red \x1b[31mRED\x1b[0m \x01 end" in out.stdout
    assert "\x1b[31mRED" not in out.stdout and "\x01" not in out.stdout
