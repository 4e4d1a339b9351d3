"""explain's walkthrough is the same steps in every format (text, Markdown, LaTeX, the web
page; English and Chinese): the training rounds after the first (`steps: k`, SPEC section
6) and a transposed convolution's extra steps (dL/dW with its result, then dL/db; the
uncovered inputs of dL/dX), which each layer's class names (Layer.walk_steps).

The rounds' numbers are the seed's, worked by hand for round 1 (L = 23, dW = [[32, 41],
[59, 68]], db = 9) and by reference.py's twins in fractions after it.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from convgrad import reference as ref
from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.formats import write
from convgrad.render.words import say

from .conftest import ROOT

FORMATS = ("text", "markdown", "latex", "html")
TRANSPOSED = ROOT / "problems" / "conv_transpose.yaml"
ROUNDS = ROOT / "problems" / "steps_two_rounds.yaml"

# Where each format titles a step: a panel's top border, a heading, a section, h2/h3.
HEADS = {"text": re.compile(r"^╭─ (.*?) ─*╮$", re.M),
         "markdown": re.compile(r"^#{2,3} (.*)$", re.M),
         "latex": re.compile(r"^\\(?:sub)+section\*\{(.*)\}$", re.M),
         "html": re.compile(r"<h[23]>(.*?)</h[23]>")}


def walked(problem: object, fmt: str, lang: str, show_all: bool = False) -> str:
    return write(run(load_problem(problem)), fmt, explain=True, lang=lang, show_all=show_all)


def steps_of(text: str, fmt: str, lang: str, rounds: bool = True) -> list[tuple[str, str]]:
    """Each step's number (3, 3.1 ...) and what kind of title it has: "rest" (the other
    entries), "result", with `rounds` a round's ("round 2", "rounds 4-5"), else ""."""
    number = re.compile(r"^第 ([\d.]+) 步：(.*)$" if lang == "zh" else r"^Step ([\d.]+): (.*)$")
    words = {say("step.the_rest", lang): "rest", say("step.result", lang): "result"}
    out = []
    for head in HEADS[fmt].findall(text):
        if fmt == "latex" and not number.match(head):  # the document's own title
            continue
        found = number.match(head)
        assert found, head
        n, title = found.groups()
        kind = words.get(title, "")
        for k in range(2, 6) if rounds else ():
            if title == say("title.round", lang, n=k):
                kind = f"round {k}"
        for first, last in ((3, 5), (4, 5)) if rounds else ():
            if title == say("step.rounds", lang, first=first, last=last):
                kind = f"rounds {first}-{last}"
        out.append((n, kind))
    return out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_transposed_convolution_has_the_same_steps_in_every_format(lang):
    """As a plain conv in each format: dL/dW's entries, then its result, then dL/db as a
    step of its own (before, the documents gave dL/dW's result under dL/db's step)."""
    texts = {fmt: walked(TRANSPOSED, fmt, lang) for fmt in FORMATS}
    steps = {fmt: steps_of(text, fmt, lang, rounds=False) for fmt, text in texts.items()}
    for fmt in FORMATS:
        assert steps[fmt] == steps["text"], fmt
    numbers = [n for n, _ in steps["text"]]
    # the 2x2 kernel's four dL/dw, dL/dW's result, then dL/db and its one entry, then dL/dX
    at = numbers.index("6.4")
    assert steps["text"][at + 1:at + 4] == [("6", "result"), ("7", ""), ("7.1", "")]
    assert numbers[at + 4] == "8"


def test_a_transposed_convolution_says_why_uncovered_inputs_get_0_in_every_format():
    """Stride 1, padding 1 and a 1x1 kernel: input rows and columns 1 and 3 spread only over
    the padding that is cut off, so their dL/dX is 0; every format says why, after dL/dX."""
    problem = {"input": "1 2 3; 4 5 6; 7 8 9", "target": "1", "loss": "half_sse",
               "layers": [{"conv_transpose": {"kernel": "2", "padding": 1}}]}
    for lang, words in (("en", "An input that no window covers gets no term"),
                        ("zh", "没有被任何窗口覆盖的输入不产生任何项")):
        for fmt in FORMATS:
            text = walked(problem, fmt, lang)
            assert words in text, (fmt, lang)


def _rounds_by_hand(k: int) -> list[tuple[Fraction, np.ndarray, Fraction, np.ndarray,
                                          Fraction, np.ndarray, Fraction]]:
    """The seed's rounds 2..k at lr = 1/200, by the twins in fractions: (loss, W, b, dW, db,
    W_new, b_new) of each, W (2, 2). Round 1 is the seed's own (dW = [[32, 41], [59, 68]],
    db = 9), so round 2 starts from W - dW/200, 1 - 9/200."""
    lr = Fraction(1, 200)
    x = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], dtype=object)
    t = np.array([[[1, 0], [0, 1]]], dtype=object)
    w = np.array([[1, 0], [-1, 1]], dtype=object) - lr * np.array([[32, 41], [59, 68]])
    b = 1 - lr * 9
    rounds = []
    for _ in range(2, k + 1):
        z = ref.conv_forward(x, w.reshape(1, 1, 2, 2), np.array([b], dtype=object), (1, 1),
                             (0, 0, 0, 0), (1, 1))
        loss = ref.loss_forward("mse", z, t)
        _, dw, db = ref.conv_backward(x, w.reshape(1, 1, 2, 2), ref.loss_backward("mse", z, t),
                                      (1, 1), (0, 0, 0, 0), (1, 1))
        dw, db = dw.reshape(2, 2), db[0]
        rounds.append((loss, w, b, dw, db, w - lr * dw, b - lr * db))
        w, b = w - lr * dw, b - lr * db
    return rounds


def _factor(v: Fraction) -> str:
    return f"({v})" if v < 0 else str(v)


def _panel(text: str, title: str) -> str:
    """The text of the panel titled `title` (its lines, borders stripped)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if f" {title} " in line and "╭" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("╰"))
    return "\n".join(line.strip("│ ").rstrip() for line in lines[start + 1:end])


def test_explain_writes_out_round_two_of_two():
    """Round 2's step: its loss, dL/dW and dL/db, and every update with its numbers."""
    text = walked(ROUNDS, "text", "en")
    panel = _panel(text, "Step 11: Round 2")
    [(loss, w, b, dw, db, w_new, b_new)] = _rounds_by_hand(2)
    assert f"steps[2].loss = {loss}" in panel
    for index, name in (((0, 0), "w11"), ((0, 1), "w12"), ((1, 0), "w21"), ((1, 1), "w22")):
        assert (f"= {_factor(w[index])} - 1/200·{_factor(dw[index])} = {w_new[index]}"
                in panel), name
    assert f"= {_factor(b)} - 1/200·{_factor(db)} = {b_new}" in panel
    assert "dL/dW, round 2" in panel and "dL/db, round 2" in panel
    # the gradients' and the new parameters' tables: every entry
    for value in (*dw.flat, db, *w_new.flat, b_new):
        assert str(value) in panel
    assert "steps[2].W_new" in panel and "steps[2].b_new" in panel
    assert text.rstrip().endswith("╯") and "Step 12" not in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_format_walks_the_same_rounds(lang):
    texts = {fmt: walked(ROUNDS, fmt, lang) for fmt in FORMATS}
    steps = {fmt: steps_of(text, fmt, lang) for fmt, text in texts.items()}
    for fmt in FORMATS:
        assert steps[fmt] == steps["text"], fmt
    assert steps["text"][-1] == ("11", "round 2")
    [(loss, *_)] = _rounds_by_hand(2)
    assert f"{loss}" in texts["text"] and f"{loss}" in texts["html"]
    frac = rf"\frac{{{loss.numerator}}}{{{loss.denominator}}}"
    assert frac in texts["markdown"] and frac in texts["latex"]
    # the page names round 2's cells by the round (not as round 1's dW, whose terms it knows)
    assert 'data-term="steps[2].dW[1,2]"' in texts["html"]
    assert 'data-term="steps[2].W_new[2,1]"' in texts["html"]


def test_many_rounds_the_first_three_written_out_the_others_as_solve_lists_them():
    problem = ROUNDS.read_text().replace("steps: 2", "steps: 5")
    rounds = _rounds_by_hand(5)
    for lang in ("en", "zh"):
        texts = {fmt: walked(problem, fmt, lang) for fmt in FORMATS}
        steps = {fmt: steps_of(text, fmt, lang) for fmt, text in texts.items()}
        for fmt in FORMATS:
            assert steps[fmt] == steps["text"], (fmt, lang)
        assert [kind for _, kind in steps["text"][-3:]] == ["round 2", "round 3", "rounds 4-5"]
    text = walked(problem, "text", "en")
    summary = _panel(text, "Step 13: Rounds 4 to 5")
    assert "--all" in summary  # the line that says the rounds are summarised
    for k, (_, _, _, _, _, w_new, b_new) in zip((2, 3, 4, 5), rounds, strict=True):
        if k < 4:
            assert f"steps[{k}].loss" not in summary
            continue
        loss_after = rounds[k - 2][0]
        assert f"steps[{k}].loss = {loss_after}" in summary
        assert f"steps[{k}].b_new = {b_new}" in summary
        assert all(str(v) in summary for v in w_new.flat)
    # --all: every round its own step, nothing summarised
    every = steps_of(walked(problem, "markdown", "en", show_all=True), "markdown", "en")
    assert [kind for _, kind in every if kind.startswith("round")] == \
        ["round 2", "round 3", "round 4", "round 5"]


def test_the_walkthroughs_ask_the_layer_class_for_their_extra_steps(monkeypatch):
    """A conv whose class names no extra step gets none, in every format: no padding step,
    dL/db under dL/dW's step as one more group (what the class says, not the section's
    name, decides)."""
    from convgrad.layers.conv import ConvLayer

    seed = ROOT / "problems" / "seed_worked_example.yaml"
    before = {fmt: steps_of(walked(seed, fmt, "en"), fmt, "en", False) for fmt in FORMATS}
    padding = say("step.step", "en", n=2, title=say("step.padding", "en"))
    assert padding in walked(seed, "text", "en")
    monkeypatch.setattr(ConvLayer, "walk_steps", {})
    after = {fmt: steps_of(walked(seed, fmt, "en"), fmt, "en", False) for fmt in FORMATS}
    assert padding not in walked(seed, "text", "en")
    for fmt in FORMATS:
        assert after[fmt] == after["text"], fmt
        assert len(after[fmt]) < len(before[fmt]), fmt
