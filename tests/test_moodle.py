"""`convgrad generate --format moodle` (SPEC section 9): DIR/quiz.xml, one Cloze question per
variant, one NUMERICAL field per graded entry.

The fields are read back from the XML with xml.etree and a regular expression, and held to
each variant's own answers.yaml (exact fractions) and to the tolerance written out by hand:
1e-6 + 1e-6*|value|, in decimal.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from .conftest import THIRDS, one_line, run_main, write

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "problems" / "templates" / "relu_maxpool.yaml"

# fractions in the answers (targets in halves, MSE over 4 entries), and a name that is HTML,
# XML and a Cloze field all at once
FRACTIONS = """\
name: '<b>bold</b> & {1:NUMERICAL:=0:1} "quoted"'
input: {shape: [3, 3], entries: {int: [-2, 2]}}
kernel: {shape: [2, 2], entries: {int: [-1, 1]}}
bias: {fraction: [-1, 1], denominators: [3]}
target: {shape: [2, 2], entries: {fraction: [-1, 1], denominators: [2]}}
loss: mse
graded: [dW, db, dX, loss]
"""

FIELD = re.compile(r"([^\s>]+) = \{1:NUMERICAL:=([^:}]+):([^:}]+)\}")


def _generate(template: Path, out: Path, count: int = 3, seed: int = 5) -> Path:
    done = run_main("generate", template, "--count", count, "--seed", seed, "--out", out,
                    "--format", "moodle")
    assert done.returncode == 0, done
    assert "quiz.xml" in done.stdout
    return out / "quiz.xml"


def _questions(quiz: Path) -> list[tuple[str, str]]:
    root = ET.parse(quiz).getroot()
    assert root.tag == "quiz"
    found = []
    for question in root.findall("question"):
        assert question.get("type") == "cloze"
        name = question.findtext("name/text")
        text = question.findtext("questiontext/text")
        assert question.find("questiontext").get("format") == "html"  # type: ignore[union-attr]
        assert name is not None and text is not None
        found.append((name, text))
    return found


def _expected_fields(folder: Path) -> dict[str, Fraction]:
    """Every graded entry of the variant, labelled as check names it (1-based)."""
    answers = yaml.safe_load((folder / "answers.yaml").read_text(encoding="utf-8"))
    graded = list(yaml.safe_load((folder / "blank.yaml").read_text(encoding="utf-8")))
    fields: dict[str, Fraction] = {}
    for key in graded:
        value = np.array(answers[key], dtype=object)
        if value.ndim == 0:
            fields[key] = Fraction(value.item())
            continue
        for index in np.ndindex(value.shape):
            label = f"{key}[{','.join(str(i + 1) for i in index)}]"
            fields[label] = Fraction(value[index])
    return fields


def _check_fields(quiz: Path, out: Path, count: int) -> list[str]:
    questions = _questions(quiz)
    assert [name for name, _ in questions] == [f"{k:03d}" for k in range(1, count + 1)]
    texts = []
    for name, text in questions:
        expected = _expected_fields(out / name)
        fields = FIELD.findall(text)
        assert text.count("{1:") == len(fields) == len(expected)
        assert [label for label, _, _ in fields] == list(expected)
        for label, value, tol in fields:
            want: Any = expected[label]
            assert abs(Fraction(value) - want) <= Fraction(1, 10 ** 15) * max(1, abs(want))
            assert Decimal(tol) == Decimal("0.000001") + Decimal("0.000001") * abs(Decimal(value))
            assert float(tol) == (1e-6 + 1e-6 * abs(float(want))) or \
                abs(float(tol) - (1e-6 + 1e-6 * abs(float(want)))) < 1e-18
            assert "e" not in value.lower() and "e" not in tol.lower()
        texts.append(text)
    return texts


def test_one_cloze_question_per_variant_one_field_per_graded_entry(tmp_path: Path) -> None:
    quiz = _generate(TEMPLATE, tmp_path / "v", count=3)
    texts = _check_fields(quiz, tmp_path / "v", 3)
    # the problem is shown: each variant's input rows are in its question
    for k, text in enumerate(texts, 1):
        problem = yaml.safe_load((tmp_path / "v" / f"{k:03d}" / "problem.yaml").read_text())
        assert str(problem["input"][0]) in text


def test_fractions_and_escaped_user_text(tmp_path: Path) -> None:
    template = write(tmp_path, "t.yaml", FRACTIONS)
    quiz = _generate(template, tmp_path / "v", count=2, seed=11)
    texts = _check_fields(quiz, tmp_path / "v", 2)
    answers = yaml.safe_load((tmp_path / "v" / "001" / "answers.yaml").read_text())
    assert any(isinstance(v, str) for v in np.ravel(np.array(answers["dW"], dtype=object))) \
        or isinstance(answers["loss"], str)  # some answer is a true fraction
    for text in texts:
        # the HTML of the question: the name's markup shown, not obeyed, its braces no field
        assert "<b>" not in text and "&lt;b&gt;bold&lt;/b&gt; &amp;" in text
        assert "&#123;1:NUMERICAL:=0:1&#125;" in text
        assert "&quot;quoted&quot;" in text


def test_same_seed_same_bytes_and_the_same_variants(tmp_path: Path) -> None:
    first = _generate(TEMPLATE, tmp_path / "a", count=2, seed=3).read_bytes()
    second = _generate(TEMPLATE, tmp_path / "b", count=2, seed=3).read_bytes()
    assert first == second
    plain = run_main("generate", TEMPLATE, "--count", 2, "--seed", 3, "--out", tmp_path / "c")
    assert plain.returncode == 0 and not (tmp_path / "c" / "quiz.xml").exists()
    for name in ("001", "002"):
        assert (tmp_path / "a" / name / "problem.yaml").read_bytes() == \
            (tmp_path / "c" / name / "problem.yaml").read_bytes()
    assert str(tmp_path) not in first.decode("utf-8")


def test_unknown_format_is_one_line(tmp_path: Path) -> None:
    done = run_main("generate", TEMPLATE, "--out", tmp_path / "v", "--format", "blackboard")
    assert done.returncode == 2
    assert "moodle" in one_line(done)


def test_a_field_holds_a_finite_number() -> None:
    from convgrad.errors import ProblemError
    from convgrad.render.moodle import cloze_field

    assert cloze_field("-1/4") == "{1:NUMERICAL:=-0.25:0.00000125}"
    with pytest.raises(ProblemError, match="NUMERICAL"):
        cloze_field(float("nan"))
    # An exact result beyond float64 was an OverflowError (internal error) in float().
    with pytest.raises(ProblemError, match=r"is about 10\^400, which a Moodle NUMERICAL"):
        cloze_field(10**400)
    with pytest.raises(ProblemError, match=r"is about -10\^399,"):
        cloze_field(f"-{10**400}/7")


@pytest.mark.parametrize("fmt", ["moodle", "prairielearn"])
def test_results_beyond_float64_are_one_line_and_write_nothing(tmp_path: Path, fmt: str
                                                               ) -> None:
    template = write(tmp_path, "t.yaml", f"input: 1 2; 3 4\nkernel: 1{'0' * 400}\n"
                                         "target: 0 0; 0 0\nloss: mse\n")
    done = run_main("generate", template, "--out", tmp_path / "v", "--format", fmt)
    assert done.returncode == 2, done
    assert "about 10^" in one_line(done) and f"--format {fmt}" in one_line(done)
    assert not (tmp_path / "v").exists()


THIRDS_AT_2 = {"dY[1,1]": "0.67", "dY[1,2]": "1.33", "dY[2,1]": "2", "dY[2,2]": "2.67",
               "db": "6.67"}


def _fields(quiz: Path) -> dict[str, tuple[str, str]]:
    [(_, text)] = _questions(quiz)
    return {label: (value, tol) for label, value, tol in FIELD.findall(text)}


def test_decimals_two_gives_the_rounded_value_within_half_a_hundredth(tmp_path: Path) -> None:
    template = write(tmp_path, "t.yaml", THIRDS)
    done = run_main("generate", template, "--count", 1, "--out", tmp_path / "v", "--format",
                    "moodle", "--decimals", 2)
    assert done.returncode == 0, done
    fields = _fields(tmp_path / "v" / "quiz.xml")
    assert fields == {label: (value, "0.005") for label, value in THIRDS_AT_2.items()}
    # Moodle and check --decimals 2 mark alike: what lies within 0.005 of the field rounds to
    # it at 2 decimals, what lies beyond does not.
    from convgrad.grade import Tolerance

    rule = Tolerance("decimals", digits=2)
    exact = {"dY[1,1]": Fraction(2, 3), "dY[1,2]": Fraction(4, 3), "dY[2,1]": Fraction(2),
             "dY[2,2]": Fraction(8, 3), "db": Fraction(20, 3)}
    for label, (value, _) in fields.items():
        for offset, right in (("0", True), ("0.004", True), ("-0.004", True),
                              ("0.006", False), ("-0.006", False)):
            given = Decimal(value) + Decimal(offset)
            assert rule.same(Fraction(given), exact[label]) is right, (label, offset)
    [(_, text)] = _questions(tmp_path / "v" / "quiz.xml")
    assert "Write each answer as a decimal number" in text and "write 0.33)" in text
    assert "rounds to the result at 2 decimals, so give at least 2." in text


@pytest.mark.parametrize("value, field", [
    (Fraction(43, 40), ("1.075", "0.005")),     # 1.075: a tie at 2 decimals
    (Fraction(-43, 40), ("-1.075", "0.005")),
    (Fraction(1076, 1000), ("1.08", "0.005")),  # beside it: one rounding
    (Fraction(1074, 1000), ("1.07", "0.005")),
])
def test_a_tie_is_a_field_both_roundings_reach(value: Fraction, field: tuple[str, str]) -> None:
    # check --decimals 2 takes 1.07 and 1.08 for 1.075 (both roundings of a tie); the field
    # is the value itself then, so its band [1.07, 1.08] holds both, and Moodle agrees
    from convgrad.grade import Tolerance
    from convgrad.render.moodle import field_value

    rule = Tolerance("decimals", digits=2)
    assert field_value(value, rule) == field
    centre, tol = (Decimal(t) for t in field)
    for k in range(-12, 13):  # every 2-decimal answer near the value
        given = Fraction(round(value * 100) + k, 100)
        in_band = abs(Decimal(given.numerator) / Decimal(given.denominator) - centre) <= tol
        assert rule.same(given, value) is in_band, given


def test_rtol_atol_and_sig_figs_as_check_gives_them(tmp_path: Path) -> None:
    template = write(tmp_path, "t.yaml", THIRDS)
    done = run_main("generate", template, "--out", tmp_path / "r", "--format", "moodle",
                    "--rtol", "0.01", "--atol", "0.001")
    assert done.returncode == 0, done
    for label, (value, tol) in _fields(tmp_path / "r" / "quiz.xml").items():
        assert Decimal(tol) == Decimal("0.001") + Decimal("0.01") * abs(Decimal(value)), label
    # 0.001 + 0.01 * 2/3 is at least 0.0075: 2 decimals are enough (0.005 <= 0.0075)
    assert "so give at least 2 decimals" in _questions(tmp_path / "r" / "quiz.xml")[0][1]
    done = run_main("generate", template, "--out", tmp_path / "s", "--format", "moodle",
                    "--sig-figs", 2)
    assert done.returncode == 0, done
    # 2 significant figures: 2/3 -> 0.67 (unit 0.01), 20/3 -> 6.7 (unit 0.1), 2 -> 2.0
    assert _fields(tmp_path / "s" / "quiz.xml") == {
        "dY[1,1]": ("0.67", "0.005"), "dY[1,2]": ("1.3", "0.05"), "dY[2,1]": ("2", "0.05"),
        "dY[2,2]": ("2.7", "0.05"), "db": ("6.7", "0.05")}


def test_an_answer_on_a_field_s_edge_is_right_in_check_too() -> None:
    # Moodle takes value +- tolerance; check must mark those answers right as well, and an
    # answer one 10^-20 beyond wrong. Edges by hand: 1e-6 + 1e-6*23 = 0.000024, 1e-6 +
    # 1e-6*1.625 = 0.000002625, 1e-6 for 0, 1e-6 + 1e-6*0.075 = 0.000001075.
    from convgrad.grade import Tolerance
    from convgrad.render import moodle

    rule = Tolerance()
    for value, edge in [("23", "0.000024"), ("1.625", "0.000002625"), ("0", "0.000001"),
                        ("-0.075", "0.000001075")]:
        assert moodle.tolerance(value) == edge
        v, tol = Fraction(value), Fraction(edge)
        assert rule.same(v + tol, v) and rule.same(v - tol, v), value
        beyond = tol + Fraction(1, 10**20)
        assert not rule.same(v + beyond, v) and not rule.same(v - beyond, v), value


def test_a_zero_result_under_sig_figs_is_a_field_only_zero_reaches() -> None:
    # No number but 0 has 0's significant figures, so the field is 0 with no tolerance (as
    # check takes only 0); it was 0 +- 0.5, taking 0.4 at 3 significant figures.
    from convgrad.grade import Tolerance
    from convgrad.render import moodle

    for digits in (1, 3):
        rule = Tolerance("sig_figs", digits=digits)
        assert moodle.field_value(0, rule) == ("0", "0")
        assert rule.same(Fraction(0), 0) and not rule.same(Fraction("0.4"), 0)


def test_the_default_question_says_decimals_and_how_many(tmp_path: Path) -> None:
    template = write(tmp_path, "t.yaml", THIRDS)
    quiz = _generate(template, tmp_path / "v", count=1)
    [(_, text)] = _questions(quiz)
    # 1e-6 + 1e-6 * 2/3 < 0.000005: 6 decimals (0.0000005 of rounding) are needed
    assert "write 0.333333)" in text and "so give at least 6 decimals." in text


def test_each_question_shows_its_conventions_as_problem_yaml_does(tmp_path: Path) -> None:
    quiz = _generate(TEMPLATE, tmp_path / "v", count=2)
    for name, text in _questions(quiz):
        first = (tmp_path / "v" / name / "problem.yaml").read_text().splitlines()[0]
        assert first.startswith("# Conventions: ")
        words = first[len("# Conventions: "):]
        assert f"<p>Conventions: {words.replace(chr(39), '&#x27;')}</p>" in text
        for said in ("relu'(0) = 0", "a tied max goes to the first maximum",
                     "cross-correlation (the kernel is not flipped)",
                     "half_sse: L = 1/2 sum (y - t)^2"):
            assert said in words


@pytest.mark.parametrize("options", [["--decimals", "2"], ["--rtol", "0.1"]])
def test_a_tolerance_without_a_format_is_one_line(tmp_path: Path, options: list[str]) -> None:
    done = run_main("generate", TEMPLATE, "--out", tmp_path / "v", *options)
    assert done.returncode == 2 and "--format" in one_line(done)
    assert not (tmp_path / "v").exists()


def test_two_tolerance_rules_are_one_line(tmp_path: Path) -> None:
    done = run_main("generate", TEMPLATE, "--out", tmp_path / "v", "--format", "moodle",
                    "--decimals", "2", "--rtol", "0.1")
    assert done.returncode == 2 and "give one of them" in one_line(done)
