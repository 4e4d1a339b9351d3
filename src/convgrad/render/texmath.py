"""The trace's formulas, sums, entries and matrices as LaTeX math (amsmath and KaTeX alike).

One writer for every format that shows math: markdown.py puts it between `$$`, latex.py in
`align*` and `\\[ \\]`. Like render/terminal.py's FORMS, `TEX_FORMS` writes each Form from
its operands (entries, arrays, numbers, other formulas, names); nothing here computes a
number, it only writes the trace's. Long sums are broken into lines (`BREAK`) so that a
page holds them; the writer of the display decides where a line may break.

Text convgrad did not write (a problem's name) reaches math only through `text`, which
escapes every character TeX or KaTeX would read as a command.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np

from convgrad.render.crop import AUTO_TERMS
from convgrad.render.naming import entry_label, settings
from convgrad.render.words import formula_lang, in_formula_language
from convgrad.render.words import say as say_key
from convgrad.trace import Entry, Form, Phrase, Terms, Whole, show_number

# Where a long sum may go on to a new line of an aligned display: a writer replaces it with
# `\\ &\quad` (inside align*, aligned) or with a space (where a line cannot break).
BREAK = "\x00"
# About this many characters of a sum's terms to a line of a display before it breaks.
LINE_WIDTH = 64


# --- text inside and outside math ---------------------------------------------------------

_TEXT = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}",
}
# Symbols of convgrad's own sentences that pdflatex's text fonts do not have: as math.
_SYMBOLS = {
    "·": r"\cdot", "Σ": r"\Sigma", "∂": r"\partial", "δ": r"\delta", "σ": r"\sigma",
    "⋆": r"\star", "²": r"^{2}", "≈": r"\approx", "⋮": r"\vdots", "×": r"\times",
    "→": r"\to", "≤": r"\le", "≥": r"\ge", "−": "-", "…": r"\dots", "≠": r"\ne",
    "∞": r"\infty",
}


# Greek letters (a problem named "learning rate η"): as math, which pdflatex's text fonts
# need and KaTeX reads alike. The capitals that look like Latin ones are those letters.
_GREEK = dict(zip(
    "αβγδεζηθικλμνξοπρςστυφχψω",
    [r"\alpha", r"\beta", r"\gamma", r"\delta", r"\epsilon", r"\zeta", r"\eta", r"\theta",
     r"\iota", r"\kappa", r"\lambda", r"\mu", r"\nu", r"\xi", "o", r"\pi", r"\rho",
     r"\varsigma", r"\sigma", r"\tau", r"\upsilon", r"\phi", r"\chi", r"\psi", r"\omega"],
    strict=True))
_GREEK.update(zip("ΓΔΘΛΞΠΣΥΦΨΩ", [r"\Gamma", r"\Delta", r"\Theta", r"\Lambda", r"\Xi",
                                   r"\Pi", r"\Sigma", r"\Upsilon", r"\Phi", r"\Psi",
                                   r"\Omega"], strict=True))
_GREEK.update(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΧ", "ABEZHIKMNOPTX", strict=True))
# Beyond ASCII, the characters that pdflatex's default set-up (utf8, OT1 and TS1 fonts)
# typesets: Latin-1's and Latin Extended-A's letters that OT1 can build, and common
# punctuation. Any other character stops pdflatex ("Unicode character ... not set up").
_PDFLATEX = set(
    "\u00a0¡¢£¤¥¦§¨©ª¬\u00ad®¯°±²³´µ¶·¸¹º¼½¾¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖ×ØÙÚÛÜÝßàáâãäåæçèéêëìíîï"
    "ñòóôõö÷øùúûüýÿĂăĆćĈĉĊċČčĎďĒēĔĕĖėĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭİıĲĳĴĵĶķĹĺĻļĽľŁłŃńŅņŇňŌōŎŏŐőŒœ"
    "ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŴŵŶŷŸŹźŻżŽž‐‑‒–—―‘’“”†‡•…‰€™")


def _cjk(char: str) -> bool:
    """A character of the blocks that CJKutf8's gbsn font has (its files gbsnuXX, XX the
    code's high byte): CJK punctuation, kana, the unified ideographs but row 9D, full width
    forms. Another block stops pdflatex ("gbsnu34 not loadable")."""
    row = ord(char) >> 8
    return 0x30 <= row <= 0x32 or 0x4E <= row <= 0x9F and row != 0x9D or row == 0xFF


def has_cjk(value: str) -> bool:
    """Whether `value` needs the CJK environment in a document pdflatex compiles."""
    return any(_cjk(char) for char in value)


def text(value: str) -> str:
    """Text as LaTeX text: TeX's special characters escaped, math symbols and Greek letters
    as math, control characters dropped, and a character that pdflatex cannot typeset as
    its plain letter (ą as a) or else '?'. CJK characters stay: the document that holds
    them is set in the CJK environment (`has_cjk`)."""
    out = []
    for char in value:
        if char in _TEXT:
            out.append(_TEXT[char])
        elif char in _SYMBOLS:
            out.append("$" + _SYMBOLS[char] + "$")
        elif char.isascii():
            # a control character (ESC, BEL, ^A) is an invalid character to TeX
            out.append(char if char.isprintable() or char in "\t\n" else "")
        elif char in _GREEK:
            out.append("$" + _GREEK[char] + "$" if _GREEK[char].startswith("\\")
                       else _GREEK[char])
        elif char in _PDFLATEX or _cjk(char):
            out.append(char)
        elif unicodedata.category(char) == "Cc":
            out.append("")
        else:
            plain = "".join(part for part in unicodedata.normalize("NFKD", char)
                            if not unicodedata.combining(part))
            out.append(text(plain) if plain and plain != char and all(
                part.isascii() or part in _PDFLATEX for part in plain) else "?")
    return "".join(out)


def mtext(value: str) -> str:
    r"""Text inside math: \text{...}."""
    return r"\text{" + text(value) + "}" if value else ""


def name(value: str) -> str:
    r"""A name in math: one letter italic as it is (x, w), a longer one upright (\mathrm{conv1})."""
    if len(value) == 1 and value.isascii() and value.isalpha():
        return value
    return r"\mathrm{" + text(value) + "}"


# --- numbers --------------------------------------------------------------------------------

_FLOAT = re.compile(r"^(-?)([0-9.]+)e([+-])0*([0-9]+)$")


def number(value: Any) -> str:
    """A number as the tables show it (show_number), in math: 7/2 -> \\frac{7}{2},
    1.5e-07 -> 1.5 \\cdot 10^{-7}, ≈1.2e+400 -> \\approx 1.2 \\cdot 10^{400}."""
    written = show_number(value)
    about = written.startswith("≈")
    written = written.lstrip("≈")
    sign = "-" if written.startswith("-") else ""
    body = written.lstrip("-")
    if "/" in body:
        top, bottom = body.split("/")
        tex = rf"\frac{{{top}}}{{{bottom}}}"
    elif match := _FLOAT.match(body):
        _, mantissa, exp_sign, exp = match.groups()
        tex = rf"{mantissa} \cdot 10^{{{'-' if exp_sign == '-' else ''}{exp}}}"
    elif body == "inf":
        tex = r"\infty"
    elif body == "nan":
        tex = r"\mathrm{nan}"
    else:
        tex = body
    return (r"\approx " if about else "") + sign + tex


def _negative(value: Any) -> bool:
    return show_number(value).lstrip("≈").startswith("-")


# --- names of entries and arrays ------------------------------------------------------------


def index_sub(entry: Entry) -> str:
    """An entry's index as its subscript: 12 for x12, 1,2,3 for x[1,2,3]; '' for none."""
    label = entry.label
    shown = label.named_index(entry.index)
    if not shown:
        return ""
    written = entry_label(label.name, shown, label.batch, label.base)
    sep = "," if written.endswith("]") else ""
    return sep.join(str(i + label.base) for i in shown)


def _partial(of: str) -> str:
    return rf"\frac{{\partial L}}{{\partial {of}}}"


def entry(value: Entry) -> str:
    """x_{11}, w_{1,1,2,2}, \\frac{\\partial L}{\\partial y_{11}}, w_{11}^{\\mathrm{new}}."""
    label = value.label
    sub = index_sub(value)
    tex = name(label.name) + (f"_{{{sub}}}" if sub else "")
    if label.gradient:
        tex = _partial(tex)
    return tex + (r"^{\mathrm{new}}" if value.new else "")


def whole(value: Whole) -> str:
    """An array by its name: X, \\frac{\\partial L}{\\partial W}, W^{new}, b."""
    label_name = value.label.name
    if value.matrix and len(label_name) == 1:
        label_name = label_name.upper()
    tex = name(label_name)
    if value.label.gradient:
        tex = _partial(tex)
    return tex + (r"^{\mathrm{new}}" if value.new else "")


# --- factors, terms, sums -------------------------------------------------------------------

# Functions TeX has a command for; others are written upright as operators.
_FUNCTIONS = {"tanh": r"\tanh", "max": r"\max", "ln": r"\ln"}


def function(fn: str) -> str:
    return _FUNCTIONS.get(fn, r"\operatorname{" + text(fn) + "}")


def plain(value: Any) -> str:
    """An operand where a negative number needs no parentheses: \\max(0, -2)."""
    if isinstance(value, Entry):
        return entry(value)
    if isinstance(value, Whole):
        return whole(value)
    if isinstance(value, str):
        return name(value)
    if isinstance(value, Form):
        return form(value)
    if isinstance(value, Terms):
        return sum_tex(value, elide=False)
    return number(value)


def factor(value: Any) -> str:
    """An operand of a product: negative numbers in parentheses, 4 \\cdot (-1)."""
    if isinstance(value, (Entry, Whole, str, Form, Terms)):
        return plain(value)
    tex = number(value)
    return rf"\left({tex}\right)" if _negative(value) else tex


def term(value: Any) -> str:
    """A term of a sum: a product's factors joined by \\cdot, or one operand."""
    if isinstance(value, tuple):
        return r" \cdot ".join(factor(f) for f in value)
    return factor(value)


def _width(tex: str) -> int:
    """About how many characters wide `tex` is on the page."""
    tex = re.sub(r"\\frac\{\\partial L\}\{\\partial ([^{}]*(?:\{[^{}]*\})?)\}", r"dL/d\1", tex)
    tex = re.sub(r"\\(left|right|mathrm|operatorname|text|boxed)\b", "", tex)
    # A matrix: its rows side by side take the width of its widest row.
    tex = re.sub(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}",
                 lambda m: "#" * max(len(row) for row in m.group(1).split(r"\\")), tex)
    tex = tex.replace("&", "  ")
    return len(re.sub(r"\\[a-zA-Z]+", "#", re.sub(r"[{}^_ ]", "", tex)))


def sum_tex(terms: Terms, elide: bool, breaks: bool = False) -> str:
    """A sum term by term (or a list, when listed), the middle elided under --terms auto;
    breaks: a BREAK where a long sum may go on to the next line."""
    items, sep = terms.items, ", " if terms.listed else " + "
    pieces: list[str]
    if not items:
        pieces = ["0"]
    elif elide and len(items) > AUTO_TERMS:
        more = len(items) - 4
        pieces = [*(term(terms.term(item)) for item in items[:3]),
                  rf"\dots\ {mtext(say_key('more.terms', formula_lang(), n=more))}"
                  if not terms.listed else r"\dots",
                  term(terms.term(items[-1]))]
    else:
        pieces = [term(terms.term(item)) for item in items]
    if terms.tail is not None:
        pieces.append(term(terms.tail))
    if not breaks:
        return sep.join(pieces)
    out, used = pieces[0], _width(pieces[0])
    for piece in pieces[1:]:
        width = _width(piece) + 3
        if used + width > LINE_WIDTH:
            # The next line starts with the operator: "\\ &\quad + x_{12} w_{12}"
            out += ("," + BREAK if terms.listed else BREAK + "+ ") + piece
            used = width
        else:
            out += sep + piece
            used += width
    return out


def written(value: Any, elide: bool, breaks: bool = False) -> str:
    """A sum, or a formula whose operands hold sums (1/N·[...]), or one term, as math."""
    if isinstance(value, Terms):
        return sum_tex(value, elide, breaks)
    if isinstance(value, Form) and any(isinstance(arg, Terms) for arg in value.args):
        return form(Form(value.op, tuple(_Written(written(arg, elide, breaks))
                                         if isinstance(arg, Terms) else arg
                                         for arg in value.args)))
    return term(value)


class _Written(str):
    """A sum already written: a formula takes it as it is."""


# --- formulas -------------------------------------------------------------------------------

P, S = factor, plain


def _sub(value: Any) -> str:
    """An entry's index as a subscript, _{11}, for softmax(Y)_{11}."""
    sub = index_sub(value) if isinstance(value, Entry) else ""
    return f"_{{{sub}}}" if sub else ""


def _with_slope(formula: str, slope: Any, at_kink: Any = None) -> str:
    """A formula with its slope; at_kink: the derivative at z = 0 when the kink convention
    (SPEC section 7) makes it other than relu's 0 or leaky_relu's slope."""
    if "KINK" in formula:  # the Chinese formulas name the derivative at z = 0 in one place
        kink = number(at_kink) if at_kink is not None else "SLOPE" if "SLOPE" in formula else "0"
        formula = formula.replace("KINK", kink)
    elif at_kink is not None:
        formula = formula.replace(r"\text{ (0 at }", rf"\text{{ (}} {number(at_kink)} "
                                  r"\text{ at }").replace(r"\text{ (} SLOPE \text{ at }",
                                                          rf"\text{{ (}} {number(at_kink)} "
                                                          r"\text{ at }")
    return formula.replace("SLOPE", number(slope) if slope is not None else r"\alpha")


def _out_size(axis: str, n: int, before: int, after: int, dilation: int, k: int, stride: int,
              out: int) -> str:
    return (rf"{axis} = \left\lfloor \frac{{{n} + {before} + {after} - {dilation} \cdot ({k}-1)"
            rf" - 1}}{{{stride}}} \right\rfloor + 1 = {out}")


LOSS_FORMULAS = {
    "mse": r"L = \frac{1}{N} \sum (y - t)^2",
    "sse": r"L = \sum (y - t)^2",
    "half_sse": r"L = \frac{1}{2} \sum (y - t)^2",
    "mae": r"L = \frac{1}{N} \sum \lvert y - t \rvert",
    "bce": r"L = -\frac{1}{N} \sum \bigl[t \ln y + (1 - t) \ln(1 - y)\bigr]",
    "cross_entropy": r"L = -\sum t \ln \operatorname{softmax}(y),\allowbreak\quad "
                     r"\operatorname{softmax}(y)_i = \frac{e^{y_i}}{\sum_j e^{y_j}}",
    # a batch: each sample's cross-entropy, averaged over the N samples
    "cross_entropy_batch": r"L = -\frac{1}{N} \sum_n \sum t \ln \operatorname{softmax}(y_n)"
                           r"\text{, softmax over the outputs of one sample}",
}

# the distribution losses over more than one group: the mean over the samples (_batch) or over
# the positions of N x C x H x W maps, softmax and sums over the channels there (_channels)
_OVER_SAMPLES = r"\text{, the mean over the } N \text{ samples}"
_OVER_POSITIONS = r"\text{, the mean over the } G \text{ positions, over the channels at each}"
LOSS_FORMULAS.update({
    "cross_entropy_channels": r"L = -\frac{1}{G} \sum_p \sum_c t \ln \operatorname{softmax}(y_p)"
                              + _OVER_POSITIONS,
    "nll": r"L = -\sum t\, y\text{, } y \text{ log-probabilities}",
    "nll_batch": r"L = -\frac{1}{N} \sum_n \sum t\, y_n" + _OVER_SAMPLES,
    "nll_channels": r"L = -\frac{1}{G} \sum_p \sum_c t\, y_p" + _OVER_POSITIONS,
    "cross_entropy_probs": r"L = -\sum t \ln y\text{, } y \text{ probabilities}",
    "cross_entropy_probs_batch": r"L = -\frac{1}{N} \sum_n \sum t \ln y_n" + _OVER_SAMPLES,
    "cross_entropy_probs_channels": r"L = -\frac{1}{G} \sum_p \sum_c t \ln y_p"
                                    + _OVER_POSITIONS,
})

LOSS_DERIVATIVES = {
    "mse": r"\frac{\partial L}{\partial y} = \frac{2}{N} (y - t)",
    "sse": r"\frac{\partial L}{\partial y} = 2 (y - t)",
    "half_sse": r"\frac{\partial L}{\partial y} = y - t",
    "mae": r"\frac{\partial L}{\partial y} = \frac{\operatorname{sign}(y - t)}{N}"
           r"\text{, 0 where } y = t",
    "bce": r"\frac{\partial L}{\partial y} = \frac{y - t}{y (1 - y)} \Big/ N",
    "cross_entropy": r"\frac{\partial L}{\partial y} = \operatorname{softmax}(y) \sum t - t",
    "cross_entropy_batch": r"\frac{\partial L}{\partial y} = \frac{\operatorname{softmax}(y_n)"
                           r" \sum t_n - t}{N}\text{, } y_n \text{ the outputs of } y"
                           r"\text{'s sample}",
}

LOSS_DERIVATIVES.update({
    "cross_entropy_channels": r"\frac{\partial L}{\partial y} = \frac{\operatorname{softmax}"
                              r"(y_p) \sum t_p - t}{G}\text{, } y_p \text{ the channels at } y"
                              r"\text{'s position}",
    "nll": r"\frac{\partial L}{\partial y} = -t",
    "nll_batch": r"\frac{\partial L}{\partial y} = -\frac{t}{N}",
    "nll_channels": r"\frac{\partial L}{\partial y} = -\frac{t}{G}",
    "cross_entropy_probs": r"\frac{\partial L}{\partial y} = -\frac{t}{y}",
    "cross_entropy_probs_batch": r"\frac{\partial L}{\partial y} = -\frac{t}{y N}",
    "cross_entropy_probs_channels": r"\frac{\partial L}{\partial y} = -\frac{t}{y G}",
})

LOSS_SUMS = {
    "mse": r"\frac{{1}}{{{n}}} \bigl[{terms}\bigr]",
    "sse": "{terms}",
    "half_sse": r"\frac{{1}}{{2}} \bigl[{terms}\bigr]",
    "mae": r"\frac{{1}}{{{n}}} \bigl[{terms}\bigr]",
    "bce": r"-\frac{{1}}{{{n}}} \bigl[{terms}\bigr]",
    "cross_entropy": r"-\bigl[{terms}\bigr]",
    "cross_entropy_batch": r"-\frac{{1}}{{{n}}} \bigl[{terms}\bigr]",
    "nll": r"-\bigl[{terms}\bigr]",
    "cross_entropy_probs": r"-\bigl[{terms}\bigr]",
}
LOSS_SUMS.update({key: LOSS_SUMS["cross_entropy_batch"] for key in (
    "cross_entropy_channels", "nll_batch", "nll_channels", "cross_entropy_probs_batch",
    "cross_entropy_probs_channels")})

ACTIVATION_FORMULAS = {
    "relu": r"\operatorname{relu}(z) = \max(0, z)",
    "leaky_relu": r"\operatorname{leaky\_relu}(z) = z \text{ if } z > 0\text{, else } "
                  r"SLOPE \cdot z",
    "sigmoid": r"\sigma(z) = \frac{1}{1 + e^{-z}}",
    "tanh": r"\tanh(z)",
}

ACTIVATION_DERIVATIVES = {
    "relu": r"\operatorname{relu}'(z) = 1 \text{ if } z > 0\text{, else } 0 "
            r"\text{ (0 at } z = 0\text{)}",
    "leaky_relu": r"\operatorname{leaky\_relu}'(z) = 1 \text{ if } z > 0\text{, else } SLOPE "
                  r"\text{ (} SLOPE \text{ at } z = 0\text{)}",
    "sigmoid": r"\sigma'(z) = \sigma(z) \bigl(1 - \sigma(z)\bigr)",
    "tanh": r"\tanh'(z) = 1 - \tanh(z)^2",
}


# The formulas above that have words in them, as --lang zh writes them (words.formulas_in);
# the others are the same in both languages. KINK: the derivative at z = 0.
_OVER_SAMPLES_ZH = r"\text{，对 } N \text{ 个样本取平均}"
_OVER_POSITIONS_ZH = r"\text{，对 } G \text{ 个位置取平均，每个位置在各通道上计算}"
LOSS_FORMULAS_ZH = {
    "cross_entropy_batch": r"L = -\frac{1}{N} \sum_n \sum t \ln \operatorname{softmax}(y_n)"
                           r"\text{，softmax 在每个样本的输出上计算}",
    "cross_entropy_channels": r"L = -\frac{1}{G} \sum_p \sum_c t \ln \operatorname{softmax}(y_p)"
                              + _OVER_POSITIONS_ZH,
    "nll": r"L = -\sum t\, y\text{，} y \text{ 为对数概率}",
    "nll_batch": r"L = -\frac{1}{N} \sum_n \sum t\, y_n" + _OVER_SAMPLES_ZH,
    "nll_channels": r"L = -\frac{1}{G} \sum_p \sum_c t\, y_p" + _OVER_POSITIONS_ZH,
    "cross_entropy_probs": r"L = -\sum t \ln y\text{，} y \text{ 为概率}",
    "cross_entropy_probs_batch": r"L = -\frac{1}{N} \sum_n \sum t \ln y_n" + _OVER_SAMPLES_ZH,
    "cross_entropy_probs_channels": r"L = -\frac{1}{G} \sum_p \sum_c t \ln y_p"
                                    + _OVER_POSITIONS_ZH,
}

LOSS_DERIVATIVES_ZH = {
    "mae": r"\frac{\partial L}{\partial y} = \frac{\operatorname{sign}(y - t)}{N}"
           r"\text{，} y = t \text{ 处为 } 0",
    "cross_entropy_batch": r"\frac{\partial L}{\partial y} = \frac{\operatorname{softmax}(y_n)"
                           r" \sum t_n - t}{N}\text{，} y_n \text{ 为 } y"
                           r"\text{ 所在样本的各输出}",
    "cross_entropy_channels": r"\frac{\partial L}{\partial y} = \frac{\operatorname{softmax}"
                              r"(y_p) \sum t_p - t}{G}\text{，} y_p \text{ 为 } y"
                              r"\text{ 所在位置的各通道}",
}

ACTIVATION_FORMULAS_ZH = {
    "leaky_relu": r"\operatorname{leaky\_relu}(z) = z \text{（} z > 0 \text{ 时），否则为 } "
                  r"SLOPE \cdot z",
}

ACTIVATION_DERIVATIVES_ZH = {
    "relu": r"\operatorname{relu}'(z) = 1 \text{（} z > 0 \text{ 时），否则为 } 0 "
            r"\text{（} z = 0 \text{ 处取 } KINK\text{）}",
    "leaky_relu": r"\operatorname{leaky\_relu}'(z) = 1 \text{（} z > 0 \text{ 时），否则为 } "
                  r"SLOPE \text{（} z = 0 \text{ 处取 } KINK\text{）}",
}


def _transpose_size(axis: str, n: int, stride: int, pad: int, dilation: int, k: int,
                    extra: int, out: int) -> str:
    return (rf"{axis} = ({n}-1) \cdot {stride} - 2 \cdot {pad} + {dilation} \cdot ({k}-1) + "
            rf"{extra} + 1 = {out}")


def _over(n: Any) -> str:
    return "" if n is None else rf"\Big/ {S(n)}"


def _sum_of(value: Any) -> str:
    return value if isinstance(value, _Written) else S(value)


def _function_of(fn: str, z: Any, k: Any = None) -> str:
    inner = _sum_of(z)
    return function(fn) + rf"\bigl({inner}\bigr)" + ("" if k is None else f"_{{{k}}}")


# How each formula is written, from its operands; the same table as render/terminal.py's FORMS.
TEX_FORMS: dict[str, Callable[..., str]] = {
    "is": lambda a, b: f"{S(a)} = {_sum_of(b)}",
    "labelled": lambda layer, f: rf"{name(layer)}\colon\ {S(f)}",
    "conv": lambda x, w, b: rf"{S(x)} \star {S(w)} + {S(b)}",
    "pool": lambda kind, a: rf"{function(kind + 'pool')}({S(a)})",
    "affine": lambda w, x, b: f"{S(w)} {S(x)} + {S(b)}",
    # dense_weights in_out (Keras, CS231n): the input row times the weights, y = x W + b
    "affine_in_out": lambda w, x, b: f"{S(x)} {S(w)} + {S(b)}",
    "conv_size": lambda h, w: rf"{_out_size('H_o', *h)},\quad {_out_size('W_o', *w)}",
    "conv_size_1d": lambda n: _out_size("L_o", *n),
    "loss": lambda loss: in_formula_language(LOSS_FORMULAS, LOSS_FORMULAS_ZH, loss),
    "loss_derivative": lambda loss: in_formula_language(LOSS_DERIVATIVES, LOSS_DERIVATIVES_ZH,
                                                        loss),
    "loss_sum": lambda loss, n, terms: LOSS_SUMS[loss].format(n=n, terms=_sum_of(terms)),
    "activation": lambda name, slope: _with_slope(
        in_formula_language(ACTIVATION_FORMULAS, ACTIVATION_FORMULAS_ZH, name), slope),
    "activation_derivative": lambda name, slope, at_kink=None: _with_slope(
        in_formula_language(ACTIVATION_DERIVATIVES, ACTIVATION_DERIVATIVES_ZH, name), slope,
        at_kink),
    "value": lambda v: S(v),
    "squared_error": lambda y, t: rf"({S(y)} - {P(t)})^2",
    "absolute_error": lambda y, t: rf"\lvert {S(y)} - {P(t)} \rvert",
    "bce": lambda y, t: rf"{P(t)} \ln({S(y)}) + (1 - {P(t)}) \ln(1 - {P(y)})",
    "cross_entropy": lambda y, t: rf"{P(t)} \ln \operatorname{{softmax}}(Y){_sub(y)}",
    "t_ln": lambda t, v: rf"{P(t)} \ln({S(v)})",
    "partial": lambda y, x: rf"\frac{{\partial {S(y)}}}{{\partial {S(x)}}}",
    "max": lambda args: rf"\max({', '.join(S(v) for v in args)})",
    "mean": lambda args, n: rf"\frac{{{' + '.join(P(v) for v in args)}}}{{{n}}}",
    "shares": lambda args, n: " + ".join(
        P(v) if m is None else rf"\frac{{{S(v)}}}{{{m}}}"
        for v, m in zip(args, n if isinstance(n, tuple) else (n,) * len(args), strict=True)),
    "entries": lambda args: ", ".join(S(v) for v in args),
    "update": lambda w, lr, g: rf"{P(w)} - {P(lr)} \cdot {P(g)}",
    "apply": _function_of,
    "sigmoid": lambda minus_z: rf"\frac{{1}}{{1 + e^{{{S(minus_z)}}}}}",
    "chain": lambda g, fn, z: rf"{P(g)} \cdot {function(fn)}'({S(z)})",
    "d_mse": lambda n, y, t: rf"\frac{{2}}{{{S(n)}}} ({S(y)} - {P(t)})",
    "d_sse": lambda y, t: rf"2 ({S(y)} - {P(t)})",
    "d_half_sse": lambda y, t: f"{S(y)} - {P(t)}",
    "d_mae": lambda n, y, t: rf"\frac{{\operatorname{{sign}}({S(y)} - {P(t)})}}{{{S(n)}}}",
    "d_bce": lambda n, y, t: (rf"\frac{{{S(y)} - {P(t)}}}{{{P(y)} \cdot (1 - {P(y)})}} "
                              rf"\Big/ {S(n)}"),
    "d_cross_entropy": lambda y, t: (rf"\operatorname{{softmax}}(y){_sub(y)} \cdot \sum t "
                                     rf"- {P(t)}"),
    "d_cross_entropy_value": lambda s, total, t: rf"{S(s)} \cdot {P(total)} - {P(t)}",
    "d_cross_entropy_batch": lambda n, y, t: (rf"\frac{{\operatorname{{softmax}}(y){_sub(y)} "
                                              rf"\cdot \sum t - {P(t)}}}{{{S(n)}}}"),
    "d_cross_entropy_batch_value": lambda n, s, total, t: (rf"\frac{{{S(s)} \cdot {P(total)} "
                                                           rf"- {P(t)}}}{{{S(n)}}}"),
    "t_times": lambda t, y: rf"{P(t)} \cdot {P(y)}",
    # one \text per key, with a break allowed after each comma: the line wraps
    "settings": lambda pairs: r",\allowbreak\ ".join(mtext(text) for text in settings(pairs)),
    "d_nll": lambda n, y, t: rf"-{P(t)}" + _over(n),
    "d_cross_entropy_probs": lambda n, y, t: (rf"-\frac{{{S(t)}}}{{{P(y)}}}" if n is None else
                                              rf"-\frac{{{S(t)}}}{{{P(y)} \cdot {S(n)}}}"),
    # transposed convolution: its output size, Y = convT(X, W) + b, and a scattered product
    "conv_transpose_size": lambda h, w: (rf"{_transpose_size('H_o', *h)},\quad "
                                         rf"{_transpose_size('W_o', *w)}"),
    "conv_transpose": lambda x, w, b: (rf"\operatorname{{convT}}({S(x)}, {S(w)}) + {S(b)}"),
    "adds": lambda target, product: rf"{S(target)} \mathrel{{+}}= {term(product)}",
    # batch normalisation
    # \bigl( \bigr), not a fraction: a long sum breaks over rows, never inside \frac
    "mean_of": lambda terms, n: rf"\frac{{1}}{{{n}}} \bigl({_sum_of(terms)}\bigr)",
    "root": lambda v, eps: rf"\sqrt{{{S(v)} + {S(eps)}}}",
    "normalize": lambda x, mean, sigma: rf"\frac{{{S(x)} - {P(mean)}}}{{{P(sigma)}}}",
    "scale_shift": lambda g, x, b: rf"{P(g)} \cdot {P(x)} + {P(b)}",
    "bn_dx": lambda g, s, dy, dbeta, xhat, dgamma, m: (
        rf"\frac{{{P(g)}}}{{{P(s)}}} \Bigl({S(dy)} - \frac{{{S(dbeta)}}}{{{m}}} - {P(xhat)} "
        rf"\cdot \frac{{{S(dgamma)}}}{{{m}}}\Bigr)"),
    "bn_dx_eval": lambda g, s, dy, *_: rf"\frac{{{P(g)}}}{{{P(s)}}} \cdot {P(dy)}",
}


def form(value: Form) -> str:
    """A formula as math. An op this table does not know yet (a new layer's) is written as
    the terminal writes it, as text, so that no output ever fails for it."""
    writer = TEX_FORMS.get(value.op)
    if writer is not None:
        return writer(*value.args)
    from convgrad.render.terminal import FORMS

    return mtext(FORMS[value.op](*value.args))


def math(value: Any) -> str:
    """Any operand of a sentence or a formula (a Form, a Whole, an Entry, a number) as math."""
    return written(value, elide=True)


# --- matrices -------------------------------------------------------------------------------

def bmatrix(grid: np.ndarray, pad: np.ndarray | None, rows: list[int | None],
            cols: list[int | None], marked: set[tuple[int, int]]) -> str:
    """A 2-D slice as a bmatrix of the rows and columns given: padding in parentheses, marked
    cells boxed, the middle of a large one elided (None in rows or cols: \\cdots, \\vdots)."""
    lines = []
    for r in rows:
        cells = []
        for c in cols:
            if r is None or c is None:
                cells.append(r"\vdots" if c is not None else
                             r"\ddots" if r is None else r"\cdots")
                continue
            tex = number(grid[r, c])
            if pad is not None and pad[r, c]:
                tex = f"({tex})"
            if (r, c) in marked:
                tex = rf"\boxed{{{tex}}}"
            cells.append(tex)
        lines.append(" & ".join(cells))
    return r"\begin{bmatrix} " + r" \\ ".join(lines) + r" \end{bmatrix}"


# --- displays of a document's blocks (markdown.py and latex.py) ------------------------------

# Slices drawn side by side in one display: at most this many, about this wide in all.
ROW_SLICES = 4
ROW_WIDTH = 60


def said(words: Any, lang: str) -> str:
    """Words inside math: the sentence as \\text, its formulas and names as math."""
    from convgrad.render.document import say

    return say(words, lang, mtext, math)


def grid_displays(grids: Any, lang: str) -> tuple[list[str], list[Any]]:
    """The matrices of a Grids block as displays of math (several slices side by side in
    one, as many as fit), and the notes to say after them (more slices not shown)."""
    from convgrad.render.document import slices

    displays: list[str] = []
    notes: list[Any] = []
    row: list[str] = []
    used = 0
    for grid in grids.grids:
        matrix = grid.matrix
        drawn, more = slices(grid, grids.full, grids.crop, grids.base)
        title = matrix.title
        phrase_title = not isinstance(title, (Whole, str))
        head = said(title, lang) if phrase_title else plain(title)
        for piece in drawn:
            sep = say_key("list.sep", lang)
            where = sep.join(f"{say_key(key, lang)} {n}" for key, n in piece.where)
            region = piece.region
            if region is not None:
                where += (sep if where else "") + say_key(region.key, lang, **region.fields)
            label = head + (mtext(sep + where) if where else "")
            tex = label + (r"\colon\ " if phrase_title else " = ") + \
                bmatrix(piece.grid, piece.pad, piece.rows, piece.cols, piece.marked)
            width = _width(tex)
            if row and (len(row) == ROW_SLICES or used + width > ROW_WIDTH):
                displays.append(r" \qquad ".join(row))
                row, used = [], 0
            row.append(tex)
            used += width
        if more:
            notes += [Phrase("more.slices", {"n": more, "title": title}),
                      Phrase("more.slices_hint.all" if grids.crop else "more.slices_hint")]
    if row:
        displays.append(r" \qquad ".join(row))
    return displays, notes


def max_columns(grids: Any) -> int:
    """The widest bmatrix of a Grids block, in columns."""
    from convgrad.render.document import slices

    widest = 0
    for grid in grids.grids:
        for piece in slices(grid, grids.full, grids.crop, grids.base)[0]:
            widest = max(widest, len(piece.cols))
    return widest


_PARENS = re.compile(r"^\\left\((.*)\\right\)$")


def sum_rows(sums: Any, lang: str, newline: str = r" \\ &\quad ") -> list[str]:
    """The rows of an aligned display for a Sums block: `label &= symbolic` (when asked),
    `&= numeric = value`, a long sum broken over rows (`newline` where it breaks)."""
    rows = []
    for exp, symbolic in sums.expansions:
        label = entry(exp.label) if isinstance(exp.label, Entry) else plain(exp.label)
        # an expansion without a value says where a number goes (x11 -> y11 += x11 w11)
        joint = "&= " if exp.value is not None else r"&\to "
        numeric = written(exp.numeric, sums.elide, breaks=True).replace(BREAK, newline)
        if exp.value is not None:
            value = number(exp.value)
            if _PARENS.sub(r"\1", numeric) != value:
                numeric += " = " + value
            else:  # a lone term is the value: "= -2", not "= (-2)"
                numeric = value
        note = rf" \qquad {said(exp.note, lang)}" if exp.note else ""
        if symbolic and exp.symbolic:
            sym = written(exp.symbolic, sums.elide, breaks=True).replace(BREAK, newline)
            rows.append(f"{label} {joint}{sym}")
            rows.append(f"{joint}{numeric}{note}")
        else:
            rows.append(f"{label} {joint}{numeric}{note}")
    return rows
