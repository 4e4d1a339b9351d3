"""Moodle XML for `generate --format moodle` (SPEC section 9): a <quiz> of one Cloze
("multianswer") question per variant, one NUMERICAL field per entry of each graded key.

Moodle's NUMERICAL tolerance is absolute, so each field carries check's default tolerance
worked out for its own value: atol + rtol*|value| (grade.DEFAULT_ATOL, grade.DEFAULT_RTOL).
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from html import escape as html_escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from convgrad.errors import ProblemError
from convgrad.grade import DEFAULT_ATOL, DEFAULT_RTOL


def plain_number(value: float) -> str:
    """A float as Moodle's Cloze parser reads it: plain decimal digits, no exponent, as many
    as the float's shortest round-trip text has ("0.000004", "-0.3333333333333333")."""
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def exact(value: Any) -> Fraction | float:
    """An answers.yaml number (an int, "p/q" or a float) as a Fraction, or the float itself."""
    if isinstance(value, float):
        return value
    return Fraction(value)


def tolerance(value_text: str) -> str:
    """check's default tolerance around the written value, as one absolute bound, worked out
    in decimal (in float64, 1e-6 + 1e-6*4 comes out a hair under 0.000005)."""
    bound = Decimal(repr(DEFAULT_ATOL)) + Decimal(repr(DEFAULT_RTOL)) * abs(Decimal(value_text))
    text = format(bound, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def entries(value: Any, base: int) -> list[tuple[tuple[int, ...], Any]]:
    """Every entry of a (nested-list) answer with its index numbered from base, row by row;
    a scalar is one entry with the index ()."""
    if not isinstance(value, list):
        return [((), value)]
    return [((k + base, *index), leaf)
            for k, item in enumerate(value) for index, leaf in entries(item, base)]


def entry_label(key: str, index: tuple[int, ...]) -> str:
    """The entry as check names it: dW[1,2], or the key alone for a scalar."""
    return key if not index else f"{key}[{','.join(map(str, index))}]"


def cloze_field(value: Any) -> str:
    number = float(exact(value))
    if not math.isfinite(number):
        # a NUMERICAL field holds a number; no tolerance makes nan or inf one
        raise ProblemError(f"--format moodle: a graded result is {number}, which a Moodle "
                           "NUMERICAL field cannot hold; change the template or its graded "
                           "keys")
    text = plain_number(number)
    return f"{{1:NUMERICAL:={text}:{tolerance(text)}}}"


def _html(text: str) -> str:
    """User text in the question's HTML: escaped, and its braces made entities so that
    Moodle's Cloze parser never reads them as a field."""
    return html_escape(text).replace("{", "&#123;").replace("}", "&#125;")


def question_html(problem_text: str, answers: dict[str, Any], graded: list[str]) -> str:
    """The question text: the problem file as written, then one labelled field per graded
    entry."""
    conventions = answers.get("conventions") or {}
    base = int(conventions.get("index_base", 1))
    parts = ["<p>Work out the graded results of this problem (answers within "
             f"{DEFAULT_ATOL:g} + {DEFAULT_RTOL:g}&#183;|value| count).</p>",
             f"<pre>{_html(problem_text)}</pre>"]
    for key in graded:
        lines = [f"{_html(entry_label(key, index))} = {cloze_field(leaf)}"
                 for index, leaf in entries(answers[key], base)]
        parts.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(parts)


def quiz_xml(questions: list[tuple[str, str, dict[str, Any], list[str]]]) -> str:
    """The <quiz>: one Cloze question per (name, problem text, answers, graded keys)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    for name, problem_text, answers, graded in questions:
        out += ['  <question type="cloze">',
                f"    <name><text>{xml_escape(name)}</text></name>",
                '    <questiontext format="html">',
                f"      <text>{xml_escape(question_html(problem_text, answers, graded))}"
                "</text>",
                "    </questiontext>",
                "    <generalfeedback><text></text></generalfeedback>",
                "    <penalty>0</penalty>",
                "    <hidden>0</hidden>",
                "  </question>"]
    out.append("</quiz>")
    return "\n".join(out) + "\n"
