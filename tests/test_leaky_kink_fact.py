"""The problem section says what the kink convention makes of a leaky ReLU's derivative at 0,
slope + kink*(1 - slope) (SPEC section 7): "kink 0" alone reads as leaky_relu'(0) = 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_main

# Worked by hand, slope 1/10: kink 0 -> 1/10; kink 1 -> 1/10 + 9/10 = 1;
# kink 1/2 -> 1/10 + 1/2 * 9/10 = 2/20 + 9/20 = 11/20.
CASES = [
    ("0", "1/10", "the slope", "即斜率", r"\frac{1}{10}"),
    ("1", "1", "the slope for z > 0", "即 z > 0 时的斜率", "1"),
    ("1/2", "11/20", "halfway between the slope and 1", "斜率与 1 的中点", r"\frac{11}{20}"),
]

LEAKY = """\
input: "1 -1 2; 0 2 1; 1 1 -1"
kernel: "1 0; 0 1"
activation: {{name: leaky_relu, slope: 1/10}}
target: "0 0; 0 0"
conventions: {{kink: {kink}}}
"""


def problem(tmp_path: Path, kink: str, activation: str = "leaky_relu") -> Path:
    path = tmp_path / "p.yaml"
    text = LEAKY.format(kink=kink)
    if activation != "leaky_relu":
        text = text.replace("{name: leaky_relu, slope: 1/10}", activation)
    path.write_text(text, encoding="utf-8")
    return path


def after_conventions(text: str, start: str) -> str:
    """The line after the conventions line, its frame (a panel's │) taken off."""
    lines = [line.strip(" │") for line in text.splitlines()]
    at = next(i for i, line in enumerate(lines) if line.startswith(start))
    # a panel may wrap the conventions line: the fact is the first line that is not its tail
    rest = [line for line in lines[at + 1:] if "index_base" not in line
            and "kink " not in line.split("leaky_relu")[0]]
    return rest[0]


@pytest.mark.parametrize("command", ["solve", "explain"])
@pytest.mark.parametrize(("kink", "value", "en", "zh", "tex"), CASES)
def test_leaky_relu_derivative_at_zero_follows_the_conventions_line(
        tmp_path, command, kink, value, en, zh, tex):
    path = problem(tmp_path, kink)
    out = run_main(command, path)
    assert out.returncode == 0, out.stderr
    assert after_conventions(out.stdout, "Conventions (") == \
        f"leaky_relu'(0) = {value} (kink {kink}: {en})"
    out = run_main(command, path, "--lang", "zh")
    assert out.returncode == 0, out.stderr
    assert f"leaky_relu'(0) = {value}（kink {kink}：{zh}）" in out.stdout
    assert "leaky_relu'(0) = 0" not in out.stdout


@pytest.mark.parametrize(("kink", "value", "en", "zh", "tex"), CASES)
def test_leaky_relu_derivative_at_zero_in_every_format(tmp_path, kink, value, en, zh, tex):
    path = problem(tmp_path, kink)
    markdown = run_main("explain", path, "--format", "markdown").stdout
    # Markdown escapes ">" (a quote's mark at a line's start)
    assert f"- leaky\\_relu'(0) = ${tex}$ (kink {kink}: {en.replace('>', chr(92) + '>')})" \
        in markdown
    latex = run_main("explain", path, "--format", "latex", "--lang", "zh").stdout
    zh_tex = zh.replace(">", "\\textgreater{}")
    assert f"\\item leaky\\_relu'(0) = ${tex}$（kink {kink}：{zh_tex}）" in latex
    html = run_main("explain", path, "--format", "html").stdout
    assert (f"<li>leaky_relu&#x27;(0) = <span class=\"cg-f\">{value}</span> (kink {kink}: "
            f"{en.replace('>', '&gt;')})</li>") in html


def test_leaky_relus_of_two_slopes_each_say_their_layers(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("""\
input: "1 -1; 0 2"
conventions: {kink: 1}
layers:
  - {leaky_relu: {slope: 1/10}}
  - {leaky_relu: {slope: 1/5}}
  - {leaky_relu: {slope: 1/10}}
""", encoding="utf-8")
    out = run_main("solve", path)
    assert out.returncode == 0, out.stderr
    names = [line for line in out.stdout.splitlines() if "'(0) =" in line]
    assert len(names) == 2
    assert names[0] == \
        "leaky_relu'(0) = 1 in leaky_relu1, leaky_relu3 (kink 1: the slope for z > 0)"
    assert names[1] == "leaky_relu'(0) = 1 in leaky_relu2 (kink 1: the slope for z > 0)"


@pytest.mark.parametrize("kink", ["0", "1/2"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_plain_relu_problem_says_nothing_more(tmp_path, kink, lang):
    path = problem(tmp_path, kink, activation="relu")
    for command in ("solve", "explain"):
        out = run_main(command, path, "--lang", lang)
        assert out.returncode == 0, out.stderr
        # the kink notes of the backward pass say relu'(0); the problem's facts say nothing
        assert not any(line.strip(" │").startswith(("leaky_relu'(0)", "relu'(0)"))
                       for line in out.stdout.splitlines())
