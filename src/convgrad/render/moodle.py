"""Moodle XML for `generate --format moodle` (SPEC section 9): a <quiz> of one Cloze
("multianswer") question per variant, one NUMERICAL field per entry of each graded key.

Moodle's NUMERICAL tolerance is absolute, so each field carries check's tolerance worked out
for its own value, so that Moodle and `check` with the same options mark alike: atol +
rtol*|value| around the value (by default grade.DEFAULT_ATOL + grade.DEFAULT_RTOL*|value|); with
--decimals N the value rounded to N decimals and half a unit of the Nth decimal around it
(--decimals 2: 0.005; a value halfway, 1.075, is its own centre, so that 1.07 and 1.08 both
count, as in check), with --sig-figs N the same at the Nth significant figure. A Cloze field
takes decimals only (no fraction such as 1/3), which the question says, with the decimals the
tolerance needs.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from html import escape as html_escape
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from convgrad.errors import ProblemError
from convgrad.grade import Tolerance

DEFAULT_RULE = Tolerance()


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


def _decimal_text(value: Decimal) -> str:
    """A decimal in plain digits, without trailing zeros: 0.005, 12, -0.25."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def tolerance(value_text: str, rule: Tolerance = DEFAULT_RULE) -> str:
    """check's tolerance (rtol, atol) around the written value, as one absolute bound, worked
    out in decimal (in float64, 1e-6 + 1e-6*4 comes out a hair under 0.000005)."""
    bound = Decimal(repr(rule.atol)) + Decimal(repr(rule.rtol)) * abs(Decimal(value_text))
    return _decimal_text(bound)


def _unit(value: Fraction, rule: Tolerance) -> Decimal:
    """The place of the last digit the rule keeps of value: 10^-N for --decimals N, the Nth
    significant figure's for --sig-figs N (1 for 0), as check's rule rounds."""
    if rule.mode == "decimals":
        return Decimal(1).scaleb(-rule.digits)
    if value == 0:
        return Decimal(1)
    exponent = 0  # 10^exponent <= |value| < 10^(exponent + 1)
    while abs(value) >= Fraction(10) ** (exponent + 1):
        exponent += 1
    while abs(value) < Fraction(10) ** exponent:
        exponent -= 1
    return Decimal(1).scaleb(exponent - rule.digits + 1)


def _rounded(value: Fraction, unit: Decimal) -> Decimal:
    """value rounded to a multiple of unit (a power of ten), exactly, as check rounds; at a
    tie the value itself (see below)."""
    scaled = abs(value) / Fraction(unit)
    whole = int(scaled)
    if scaled - whole == Fraction(1, 2):
        # a tie (1.075 at 2 decimals): check takes both roundings, 1.07 and 1.08; the field
        # is then the value itself, whose half-unit band reaches exactly both
        return Decimal(value.numerator) / Decimal(value.denominator)
    if scaled - whole > Fraction(1, 2):
        whole += 1
    return (-1 if value < 0 else 1) * whole * unit


def beyond_float64(number: Any) -> str | None:
    """How a number that float64 cannot hold is named (nan, inf, or an exact one beyond
    1.8e308 by its size: "about 10^400"), None for one it can. float() of such an exact
    number raises OverflowError, which stopped generate as an internal error."""
    try:
        as_float = float(number)
    except OverflowError:
        whole = abs(int(number))
        return f"about {'-' if number < 0 else ''}10^{len(str(whole)) - 1}"
    return None if math.isfinite(as_float) else str(as_float)


def field_value(value: Any, rule: Tolerance = DEFAULT_RULE) -> tuple[str, str]:
    """A NUMERICAL field's (answer, tolerance) for an answers.yaml value under check's rule:
    the value and atol + rtol*|value| (tol); for --decimals and --sig-figs the value rounded as
    check rounds it and half a unit of its last kept digit, so that exactly the answers that
    round to it count."""
    number = exact(value)
    shown = beyond_float64(number)
    if shown is not None:
        # a NUMERICAL field holds a number; no tolerance makes nan or inf one
        raise ProblemError(f"--format moodle: a graded result is {shown}, which a "
                           "Moodle NUMERICAL field cannot hold; change the template or its "
                           "graded keys")
    if rule.mode == "sig_figs" and number == 0:
        return "0", "0"  # check takes 0 alone: no other number has 0's significant figures
    if rule.mode in ("decimals", "sig_figs"):
        unit = _unit(Fraction(number), rule)
        with localcontext() as context:
            context.prec = 200  # exact: a multiple of a power of ten of a few hundred digits
            return _decimal_text(_rounded(Fraction(number), unit)), _decimal_text(unit / 2)
    text = plain_number(float(number))
    return text, tolerance(text, rule)


def decimals_needed(bound: str) -> int:
    """The decimals an answer needs so that rounding it stays within the bound: the fewest d
    with 0.5*10^-d <= bound (0 for a bound of 0.5 or more)."""
    d, limit = 0, Decimal(bound)
    while Decimal(5).scaleb(-d - 1) > limit and d < 40:
        d += 1
    return d


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


def cloze_field(value: Any, rule: Tolerance = DEFAULT_RULE) -> str:
    answer, bound = field_value(value, rule)
    return f"{{1:NUMERICAL:={answer}:{bound}}}"


def rule_words(rule: Tolerance, bounds: list[str]) -> str:
    """What a student must know to type the answers: decimals (a Cloze field reads no
    fraction), when one counts, and how many decimals (or figures) that needs. bounds: the
    question's fields' tolerances."""
    if rule.mode == "decimals":
        places = rule.digits
        counts = (f"an answer counts when it rounds to the result at {places} decimal"
                  f"{'s' if places != 1 else ''}, so give at least {places}")
        third = field_value("1/3", rule)[0]
    elif rule.mode == "sig_figs":
        counts = (f"an answer counts when it has the result's {rule.digits} significant "
                  f"figure{'s' if rule.digits != 1 else ''}, so give at least {rule.digits}")
        third = field_value("1/3", rule)[0]
    else:
        places = max((decimals_needed(b) for b in bounds), default=0)
        counts = (f"an answer counts within {rule.atol:g} + {rule.rtol:g}&#183;|value| of the "
                  f"exact result, so give at least {places} decimal"
                  f"{'s' if places != 1 else ''}")
        third = _decimal_text(_rounded(Fraction(1, 3), Decimal(1).scaleb(-places)))
    return ("Write each answer as a decimal number: the fields read no fraction (for 1/3 "
            f"write {third}); {counts}.")


def _html(text: str) -> str:
    """User text in the question's HTML: escaped, and its braces made entities so that
    Moodle's Cloze parser never reads them as a field."""
    return html_escape(text).replace("{", "&#123;").replace("}", "&#125;")


def question_html(problem_text: str, answers: dict[str, Any], graded: list[str],
                  rule: Tolerance = DEFAULT_RULE, conventions: str = "") -> str:
    """The question text: the problem file as written, the conventions its answers depend on
    (in words, one line), how to write the answers, then one labelled field per graded
    entry."""
    base = int((answers.get("conventions") or {}).get("index_base", 1))
    fields = {key: [(index, field_value(leaf, rule)) for index, leaf in entries(answers[key], base)]
              for key in graded}
    bounds = [bound for key in graded for _, (_, bound) in fields[key]]
    parts = ["<p>Work out the graded results of this problem.</p>",
             f"<pre>{_html(problem_text)}</pre>"]
    if conventions:
        parts.append(f"<p>Conventions: {_html(conventions)}</p>")
    parts.append(f"<p>{rule_words(rule, bounds)}</p>")
    for key in graded:
        lines = [f"{_html(entry_label(key, index))} = {{1:NUMERICAL:={answer}:{bound}}}"
                 for index, (answer, bound) in fields[key]]
        parts.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(parts)


def quiz_xml(questions: list[tuple[str, str, dict[str, Any], list[str]]],
             rule: Tolerance = DEFAULT_RULE, conventions: list[str] | None = None) -> str:
    """The <quiz>: one Cloze question per (name, problem text, answers, graded keys), graded
    by check's rule; conventions: each question's line of conventions in words."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    for n, (name, problem_text, answers, graded) in enumerate(questions):
        text = question_html(problem_text, answers, graded, rule,
                             conventions[n] if conventions else "")
        out += ['  <question type="cloze">',
                f"    <name><text>{xml_escape(name)}</text></name>",
                '    <questiontext format="html">',
                f"      <text>{xml_escape(text)}</text>",
                "    </questiontext>",
                "    <generalfeedback><text></text></generalfeedback>",
                "    <penalty>0</penalty>",
                "    <hidden>0</hidden>",
                "  </question>"]
    out.append("</quiz>")
    return "\n".join(out) + "\n"
