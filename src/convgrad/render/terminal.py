"""Rich tables and text for the terminal. The only module that imports rich.

The trace's sections become text here: phrases in the language asked for (said), the
--terms rules (shown, written: how many expansions, which terms of a long sum), the
products of a sum (term_text), and every formula (FORMS: the layers' equations, the
losses, the activations and their derivatives, the output-size line).

Colour only on a terminal; NO_COLOR and pipes give plain text that a teacher can
paste into a handout (rich decides both from the console it writes to).
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Callable, Collection
from fractions import Fraction
from typing import Any

import numpy as np
from rich.console import Console
from rich.control import strip_control_codes
from rich.text import Span, Text

from convgrad.model import Conventions
from convgrad.render.crop import AUTO_TERMS, MAX_SLICES, Cut, cut, expansions_shown, marked_slices
from convgrad.render.crop import shown as shown_lines
from convgrad.render.naming import array_name, entry_name, result_axes, round_values, settings
from convgrad.render.words import formula_lang, formulas_in, in_formula_language, say
from convgrad.trace import (
    Entry,
    Expansion,
    Factor,
    Form,
    Matrix,
    Phrase,
    Products,
    Section,
    Term,
    Terms,
    Trace,
    Whole,
    Words,
    show_number,
)

# Under --terms auto a matrix larger than MAX_SIDE is shown by its corners, and at most
# MAX_SLICES slices (filters x channels) of an array are drawn; --terms all draws everything
# (render/crop.py, which explain's steps also cut large matrices by).

LABEL = "bold cyan"
HIGHLIGHT = "bold reverse"
VALUE = "bold"
WHY = "italic"
DIM = "dim"


# A width that the environment cannot take below, and the width of a file or pipe.
MIN_WIDTH = 40
PLAIN_WIDTH = 100


def said(words: Words | Entry | str, lang: str) -> str:
    """What a section says, in `lang`: a phrase put into words (its fields first), or a
    formula, an array's or an entry's name, which are the same in every language."""
    if not isinstance(words, Phrase):
        return plain_text(words)
    fields = {name: said(value, lang) if isinstance(value, (Phrase, Form, Whole, Entry))
              else visible(value) if isinstance(value, str)
              else value for name, value in words.fields.items()}
    return say(words.key, lang, **fields) + words.after


# Control characters but tab and new line: what a problem's name (YAML's "\e[2J") would
# send the terminal as a command, to clear the screen or retitle the window.
_ESCAPES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Text convgrad did not write, with each control character shown as its escape
    (\\x1b), not sent to the terminal."""
    return _ESCAPES.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


# The text of each number met, by its type and value: solve --terms all writes a million
# products of a few thousand distinct numbers, and finding a number's text costs a tenth of
# writing it (a Fraction's most). Bounded: cleared when full.
_NUMBER_TEXTS: dict[type, dict[Any, str]] = {
    kind: {} for kind in (int, Fraction, float, np.float64, np.int64)}
_NUMBER_TEXTS_LIMIT = 1 << 16


# Likewise show_number's text of each number met: the tables and the values after "=" of
# solve --terms all show a few hundred thousand numbers, most of them met before.
_SHOWN_TEXTS: dict[type, dict[Any, str]] = {kind: {} for kind in _NUMBER_TEXTS}


def _remembered(tables: dict[type, dict[Any, str]], value: Any, make: Callable[[Any], str]
                ) -> str:
    """make(value), remembered in the table of value's type (none: made each time); a
    table that reaches _NUMBER_TEXTS_LIMIT starts again."""
    texts = tables.get(type(value))
    if texts is None:
        return make(value)
    text = texts.get(value)
    if text is None:
        if len(texts) >= _NUMBER_TEXTS_LIMIT:
            texts.clear()
        text = texts[value] = make(value)
    return text


def number_text(value: Any) -> str:
    """show_number(value), remembered by the value's type and value."""
    return _remembered(_SHOWN_TEXTS, value, show_number)


def factor_text(factor: Factor | Whole) -> str:
    """An entry by its name (x11, w[1,2,1,1]), a number as on paper (negative ones in
    parentheses: 4·(-1)), a formula written out, text as it is."""
    return _remembered(_NUMBER_TEXTS, factor, _factor_text)


def _factor_text(factor: Factor | Whole) -> str:
    if isinstance(factor, (Entry, str, Form, Whole)):
        return plain_text(factor)
    text = show_number(factor)
    return f"({text})" if text.lstrip("≈").startswith("-") else text


def plain_text(factor: Factor | Whole) -> str:
    """A factor where a negative number needs no parentheses: max(0, -2), tanh(-1)."""
    if isinstance(factor, Entry):
        return entry_name(factor)
    if isinstance(factor, Whole):
        return array_name(factor)
    if isinstance(factor, str):
        return factor
    if isinstance(factor, Form):
        return FORMS[factor.op](*factor.args)
    return show_number(factor)


def _suffix(entry: Factor) -> str:
    """An entry's index as its name writes it: y[1,2] -> [1,2], y12 -> 12."""
    return plain_text(entry)[1:]


# The formulas of each loss, activation and derivative, by name. leaky_relu's slope is
# written with its value.
LOSS_FORMULAS = {
    "mse": "L = 1/N · Σ (y - t)²",
    "sse": "L = Σ (y - t)²",
    "half_sse": "L = 1/2 · Σ (y - t)²",
    "mae": "L = 1/N · Σ |y - t|",
    "bce": "L = -1/N · Σ [t·ln y + (1 - t)·ln(1 - y)]",
    "cross_entropy": "L = -Σ t·ln softmax(y),  softmax(y)_i = e^(y_i) / Σ e^(y_j)",
    # a batch: each sample's cross-entropy, averaged over the N samples
    "cross_entropy_batch": "L = -1/N · Σ over the samples n of Σ t·ln softmax(y_n),  softmax "
                           "over the outputs of one sample",
    # at each position p of N x C x H x W maps, over its C channels; the mean over the G
    # positions (G = N·H·W)
    "cross_entropy_channels": "L = -1/G · Σ over the positions p of Σ_c t·ln softmax(y_p),  "
                              "softmax over the channels at p",
    "nll": "L = -Σ t·y,  y log-probabilities",
    "nll_batch": "L = -1/N · Σ over the samples n of Σ t·y_n,  y log-probabilities",
    "nll_channels": "L = -1/G · Σ over the positions p of Σ_c t·y_p,  y log-probabilities",
    "cross_entropy_probs": "L = -Σ t·ln y,  y probabilities",
    "cross_entropy_probs_batch": "L = -1/N · Σ over the samples n of Σ t·ln y_n,  "
                                 "y probabilities",
    "cross_entropy_probs_channels": "L = -1/G · Σ over the positions p of Σ_c t·ln y_p,  "
                                    "y probabilities",
}

LOSS_DERIVATIVES = {
    "mse": "dL/dy = 2/N · (y - t)",
    "sse": "dL/dy = 2 · (y - t)",
    "half_sse": "dL/dy = y - t",
    "mae": "dL/dy = sign(y - t)/N, 0 where y = t",
    "bce": "dL/dy = (y - t) / (y·(1 - y)) / N",
    "cross_entropy": "dL/dy = softmax(y)·Σt - t",
    "cross_entropy_batch": "dL/dy = (softmax(y_n)·Σt_n - t)/N, y_n the outputs of y's sample",
    "cross_entropy_channels": "dL/dy = (softmax(y_p)·Σt_p - t)/G, y_p the channels at y's "
                              "position",
    "nll": "dL/dy = -t",
    "nll_batch": "dL/dy = -t/N",
    "nll_channels": "dL/dy = -t/G",
    "cross_entropy_probs": "dL/dy = -t/y",
    "cross_entropy_probs_batch": "dL/dy = -t/(y·N)",
    "cross_entropy_probs_channels": "dL/dy = -t/(y·G)",
}

# The sum of a loss's terms with its factor: L = 1/4·[(3-1)² + (4-0)² + ...]
LOSS_SUMS = {
    "mse": "1/{n}·[{terms}]",
    "sse": "{terms}",
    "half_sse": "1/2·[{terms}]",
    "mae": "1/{n}·[{terms}]",
    "bce": "-1/{n}·[{terms}]",
    "cross_entropy": "-[{terms}]",
    "cross_entropy_batch": "-1/{n}·[{terms}]",
    "cross_entropy_channels": "-1/{n}·[{terms}]",
    "nll": "-[{terms}]",
    "nll_batch": "-1/{n}·[{terms}]",
    "nll_channels": "-1/{n}·[{terms}]",
    "cross_entropy_probs": "-[{terms}]",
    "cross_entropy_probs_batch": "-1/{n}·[{terms}]",
    "cross_entropy_probs_channels": "-1/{n}·[{terms}]",
}

ACTIVATION_FORMULAS = {
    "relu": "relu(z) = max(0, z)",
    "leaky_relu": "leaky_relu(z) = z if z > 0, else slope·z",
    "sigmoid": "σ(z) = 1/(1 + e^(-z))",
    "tanh": "tanh(z)",
}

ACTIVATION_DERIVATIVES = {
    "relu": "relu'(z) = 1 if z > 0, else 0 (KINK at z = 0)",
    "leaky_relu": "leaky_relu'(z) = 1 if z > 0, else slope (KINK at z = 0)",
    "sigmoid": "σ'(z) = σ(z)·(1 - σ(z))",
    "tanh": "tanh'(z) = 1 - tanh(z)²",
}

# The formulas above that have words in them, as --lang zh writes them (words.formulas_in);
# the others are the same in both languages.
LOSS_FORMULAS_ZH = {
    "cross_entropy": "L = -Σ t·ln softmax(y)，softmax(y)_i = e^(y_i) / Σ e^(y_j)",
    "cross_entropy_batch": "L = -1/N · Σ_n Σ t·ln softmax(y_n)（n 遍历各样本），softmax 在每个"
                           "样本的输出上计算",
    "cross_entropy_channels": "L = -1/G · Σ_p Σ_c t·ln softmax(y_p)（p 遍历各位置），softmax "
                              "在位置 p 的各通道上计算",
    "nll": "L = -Σ t·y，y 为对数概率",
    "nll_batch": "L = -1/N · Σ_n Σ t·y_n（n 遍历各样本），y 为对数概率",
    "nll_channels": "L = -1/G · Σ_p Σ_c t·y_p（p 遍历各位置），y 为对数概率",
    "cross_entropy_probs": "L = -Σ t·ln y，y 为概率",
    "cross_entropy_probs_batch": "L = -1/N · Σ_n Σ t·ln y_n（n 遍历各样本），y 为概率",
    "cross_entropy_probs_channels": "L = -1/G · Σ_p Σ_c t·ln y_p（p 遍历各位置），y 为概率",
}

LOSS_DERIVATIVES_ZH = {
    "mae": "dL/dy = sign(y - t)/N，y = t 处为 0",
    "cross_entropy_batch": "dL/dy = (softmax(y_n)·Σt_n - t)/N，y_n 为 y 所在样本的各输出",
    "cross_entropy_channels": "dL/dy = (softmax(y_p)·Σt_p - t)/G，y_p 为 y 所在位置的各通道",
}

ACTIVATION_FORMULAS_ZH = {
    "leaky_relu": "leaky_relu(z) = z（z > 0 时），否则为 slope·z",
}

ACTIVATION_DERIVATIVES_ZH = {
    "relu": "relu'(z) = 1（z > 0 时），否则为 0（z = 0 处取 KINK）",
    "leaky_relu": "leaky_relu'(z) = 1（z > 0 时），否则为 slope（z = 0 处取 KINK）",
}


def _each(n: Any, args: tuple) -> tuple:
    """A divisor per term: n for every term, or n itself when it is one per term (avg
    windows of different sizes, ties split among different counts)."""
    return n if isinstance(n, tuple) else (n,) * len(args)


def _dividend(value: Any) -> str:
    """A number divided by a count: a fraction in parentheses, as a negative number is,
    (139/1920)/4 and not 139/1920/4, which reads as 139/(1920/4)."""
    text = P(value)
    return f"({text})" if "/" in text and not text.startswith("(") and \
        not isinstance(value, (Entry, Whole, str)) else text


def _with_slope(formula: str, slope: Any, at_kink: Any = None) -> str:
    """A formula with its slope, and the derivative at the kink z = 0 (the kink convention,
    SPEC section 7): by default relu's 0 and leaky_relu's slope, as PyTorch."""
    if at_kink is None:
        at_kink = slope if "slope" in formula else 0
    return formula.replace("KINK", show_number(at_kink)).replace("slope", show_number(slope))


def _out_size(axis: str, n: int, before: int, after: int, dilation: int, k: int, stride: int,
              out: int) -> str:
    """One axis of a conv layer's output size, with its numbers: Ho = floor((3 + 0 + 0 -
    1·(2-1) - 1) / 1) + 1 = 2."""
    inner = f"({n} + {before} + {after} - {dilation}·({k}-1) - 1) / {stride}"
    # floor is a word; Chinese textbooks write the rounding down as ⌊ ⌋
    rounded = f"⌊{inner}⌋" if formula_lang() == "zh" else f"floor({inner})"
    return f"{axis} = {rounded} + 1 = {out}"


def _transpose_size(axis: str, n: int, stride: int, pad: int, dilation: int, k: int,
                    extra: int, out: int) -> str:
    """One axis of a transposed convolution's output size, with its numbers: Ho = (2-1)·2 -
    2·0 + 1·(2-1) + 0 + 1 = 4."""
    return f"{axis} = ({n}-1)·{stride} - 2·{pad} + {dilation}·({k}-1) + {extra} + 1 = {out}"


# How each formula is written, from its operands (entries, arrays, numbers, other formulas,
# names; a sum among them is written first, see `written`).
# P: as a factor (negative numbers in parentheses), S: plain.
P, S = factor_text, plain_text


def Q(factor: Factor | Whole) -> str:
    """A factor before a division: 1/2 in parentheses, (1/2)/2, as a negative number is."""
    text = P(factor)
    return f"({text})" if "/" in text and not text.startswith("(") else text

FORMS: dict[str, Callable[..., str]] = {
    # an equation: Y = X ⋆ W + b, A = relu(Z), b = 1, 2
    "is": lambda a, b: f"{S(a)} = {S(b)}",
    # a fact of a layer: conv1: Ho = ..., relu1: relu(z) = max(0, z)
    "labelled": lambda layer, f: f"{layer}{'：' if formula_lang() == 'zh' else ': '}{S(f)}",
    # the layers, as equations of whole arrays: X ⋆ W + b, maxpool(A), W x + b
    "conv": lambda x, w, b: f"{S(x)} ⋆ {S(w)} + {S(b)}",
    "pool": lambda kind, a: f"{kind}pool({S(a)})",
    "affine": lambda w, x, b: f"{S(w)} {S(x)} + {S(b)}",
    # dense_weights in_out (Keras, CS231n): the input row times the weights, y = x W + b
    "affine_in_out": lambda w, x, b: f"{S(x)} {S(w)} + {S(b)}",
    # a conv layer's output size: (H, top, bottom, dh, KH, sh, OH) and the same for W
    "conv_size": lambda h, w: f"{_out_size('Ho', *h)},  {_out_size('Wo', *w)}",
    # a conv1d layer's output length: (L, left, right, d, k, s, Lo)
    "conv_size_1d": lambda n: _out_size("Lo", *n),
    # the formulas of a loss, of its gradient, and its sum term by term
    "loss": lambda loss: in_formula_language(LOSS_FORMULAS, LOSS_FORMULAS_ZH, loss),
    "loss_derivative": lambda loss: in_formula_language(LOSS_DERIVATIVES, LOSS_DERIVATIVES_ZH,
                                                        loss),
    "loss_sum": lambda loss, n, terms: LOSS_SUMS[loss].format(n=n, terms=S(terms)),
    # an activation and its derivative
    "activation": lambda name, slope: _with_slope(
        in_formula_language(ACTIVATION_FORMULAS, ACTIVATION_FORMULAS_ZH, name), slope),
    "activation_derivative": lambda name, slope, at_kink=None: _with_slope(
        in_formula_language(ACTIVATION_DERIVATIVES, ACTIVATION_DERIVATIVES_ZH, name), slope,
        at_kink),
    # a number as it is, negative or not: flatten's entries, a function's arguments
    "value": lambda v: S(v),
    # the loss, term by term: (y - t)², |y - t|, t·ln(y) + (1-t)·ln(1-y), t·ln softmax(Y)
    "squared_error": lambda y, t: f"({S(y)}-{P(t)})²",
    "absolute_error": lambda y, t: f"|{S(y)}-{P(t)}|",
    "bce": lambda y, t: f"{P(t)}·ln({S(y)}) + (1-{P(t)})·ln(1-{P(y)})",
    "cross_entropy": lambda y, t: f"{P(t)}·ln softmax(Y){_suffix(y)}",
    "t_ln": lambda t, v: f"{P(t)}·ln({S(v)})",
    "t_times": lambda t, y: f"{P(t)}·{P(y)}",
    # the conventions in force: same_padding end, pool_ceil false, ... (SPEC section 7)
    "settings": lambda pairs: ", ".join(settings(pairs)),
    # a layer's Jacobian entry: ∂y1/∂x2
    "partial": lambda y, x: f"∂{S(y)}/∂{S(x)}",
    # pooling: max(a11, a12), (a11 + a12)/4, and back: dL/dp11/4 + dL/dp12/4
    "max": lambda args: f"max({', '.join(S(v) for v in args)})",
    "mean": lambda args, n: f"({' + '.join(P(v) for v in args)})/{n}",
    "shares": lambda args, n: " + ".join(P(v) if m is None else f"{_dividend(v)}/{m}"
                                         for v, m in zip(args, _each(n, args), strict=True)),
    # a list of entries: a11, a22
    "entries": lambda args: ", ".join(S(v) for v in args),
    # a step of gradient descent: w11 - lr·dL/dw11
    "update": lambda w, lr, g: f"{P(w)} - {P(lr)}·{P(g)}",
    # activations: relu(z11), 1/(1 + e^(-2)), and back: dL/da11 · relu'(z11); a function
    # of several arguments, and which of its outputs: softmax(x1, x2)_1
    "apply": lambda fn, z, k=None: f"{fn}({S(z)})" + ("" if k is None else f"_{k}"),
    "sigmoid": lambda minus_z: f"1/(1 + e^{P(minus_z)})",
    "chain": lambda g, fn, z: f"{P(g)} · {fn}'({S(z)})",
    # transposed convolution: its output size (H, sh, ph, dh, KH, output_padding, OH) and
    # the same for W; the layer as an equation; where one input entry's product goes (y11 +=
    # x11·w11)
    "conv_transpose_size": lambda h, w: f"{_transpose_size('Ho', *h)},  "
                                        f"{_transpose_size('Wo', *w)}",
    "conv_transpose": lambda x, w, b: f"convT({S(x)}, {S(w)}) + {S(b)}",
    "adds": lambda target, product: f"{S(target)} += {term_text(product)}",
    # batch normalisation: a mean over M values, √(var + eps), (x - mean)/sigma,
    # gamma·xhat + beta, and dL/dx: its three terms in train mode, one in eval mode
    "mean_of": lambda terms, n: f"({S(terms)})/{n}",
    "root": lambda v, eps: f"√({S(v)} + {S(eps)})",
    "normalize": lambda x, mean, sigma: f"({S(x)} - {P(mean)})/{P(sigma)}",
    "scale_shift": lambda g, x, b: f"{P(g)}·{P(x)} + {P(b)}",
    "bn_dx": lambda g, s, dy, dbeta, xhat, dgamma, m: (
        f"{P(g)}/{P(s)}·({S(dy)} - {P(dbeta)}/{m} - {P(xhat)}·{P(dgamma)}/{m})"),
    "bn_dx_eval": lambda g, s, dy, *_: f"{P(g)}/{P(s)}·{P(dy)}",
    # dL/dy of each loss
    "d_mse": lambda n, y, t: f"2/{S(n)}·({S(y)} - {P(t)})",
    "d_sse": lambda y, t: f"2·({S(y)} - {P(t)})",
    "d_half_sse": lambda y, t: f"{S(y)} - {P(t)}",
    "d_mae": lambda n, y, t: f"sign({S(y)} - {P(t)})/{S(n)}",
    "d_bce": lambda n, y, t: f"({S(y)} - {P(t)}) / ({P(y)}·(1 - {P(y)})) / {S(n)}",
    "d_cross_entropy": lambda y, t: f"softmax(y){_suffix(y)}·Σt - {P(t)}",
    "d_cross_entropy_value": lambda s, total, t: f"{S(s)}·{P(total)} - {P(t)}",
    # the same in a batch: softmax over the entry's sample, the mean over N samples
    "d_cross_entropy_batch": lambda n, y, t: f"(softmax(y){_suffix(y)}·Σt - {P(t)})/{S(n)}",
    "d_cross_entropy_batch_value": lambda n, s, total, t:
        f"({S(s)}·{P(total)} - {P(t)})/{S(n)}",
    # nll and cross_entropy_probs, n the groups averaged over (None: a single group)
    "d_nll": lambda n, y, t: f"-{P(t)}" if n is None else f"-{Q(t)}/{S(n)}",
    "d_cross_entropy_probs": lambda n, y, t: f"-{Q(t)}/" + (
        Q(y) if n is None else f"({P(y)}·{S(n)})"),
}
def label_text(label: Entry | str) -> str:
    """What an expansion makes, by name: y11, dL/dw[1,1,2,2], w11_new, L."""
    return label if isinstance(label, str) else entry_name(label)


def term_text(term: Term) -> str:
    """A term of a sum: a product's factors joined by ·."""
    if isinstance(term, tuple):
        if len(term) == 2:  # most products: x·w, dL/dz·x; two numbers met before, found
            first, second = term
            texts = _NUMBER_TEXTS.get(type(first))
            known = None if texts is None else texts.get(first)
            texts = _NUMBER_TEXTS.get(type(second))
            other = None if texts is None else texts.get(second)
            if known is not None and other is not None:
                return known + "·" + other
            return factor_text(first) + "·" + factor_text(second)
        return "·".join(map(factor_text, term))
    return factor_text(term)


# Each array's numbers as text (factor_text), one object array per array, by the array's
# id: a sum given as Products is written by picking its terms' texts out of these. The
# array is held weakly and checked, so that a new array at an old id is never taken for
# it; a handful at a time (a layer's sections read two or three arrays).
_ARRAY_TEXTS: dict[int, tuple[weakref.ref[np.ndarray], np.ndarray]] = {}
_ARRAY_TEXTS_LIMIT = 8


def array_texts(arr: np.ndarray) -> np.ndarray:
    """(arr.size + 1,) object array: factor_text of each entry of arr, row-major, and last
    (index -1) that of the number 0."""
    known = _ARRAY_TEXTS.get(id(arr))
    if known is not None and known[0]() is arr:
        return known[1]
    texts = np.empty(arr.size + 1, dtype=object)
    texts[:-1] = [factor_text(value) for value in arr.flat]
    texts[-1] = factor_text(0)
    if len(_ARRAY_TEXTS) >= _ARRAY_TEXTS_LIMIT:
        _ARRAY_TEXTS.clear()
    _ARRAY_TEXTS[id(arr)] = (weakref.ref(arr), texts)
    return texts


def products_text(products: Products, sep: str) -> str:
    """Every term of a sum given as index arrays, joined by sep: the texts of each factor's
    entries picked out by its indices, a row of products made at once (what term_text
    writes for each term, in a few NumPy operations for the whole sum)."""
    pieces: np.ndarray | None = None
    for arr, at in zip(products.arrays, products.at, strict=True):
        texts = array_texts(arr)[at]
        pieces = texts if pieces is None else pieces + "·" + texts
    assert pieces is not None
    return sep.join(pieces.tolist())


def written(text: Terms | Term, elide: bool) -> str:
    """A sum as text, with the middle elided (elide: --terms auto or none) when a long sum would
    drown the page. Only the terms shown are formatted. A single term (a formula) is written
    whole; the sums among a formula's operands (1/N·[...]) as sums."""
    if isinstance(text, Form) and any(isinstance(arg, Terms) for arg in text.args):
        return FORMS[text.op](*(written(arg, elide) if isinstance(arg, Terms) else arg
                                for arg in text.args))
    if not isinstance(text, Terms):
        return term_text(text)
    items, sep, term_of = text.items, ", " if text.listed else " + ", text.term

    if not items:
        body = "0"
    elif text.products is not None and not elide:
        body = products_text(text.products, sep)
    elif elide and len(items) > AUTO_TERMS:
        head = sep.join([term_text(term_of(item)) for item in items[:3]])
        more = say("more.terms", formula_lang(), n=len(items) - 4)
        body = (f"{head}{sep}... {more}{sep}"
                f"{term_text(term_of(items[-1]))}")
    else:
        body = sep.join(map(term_text, map(term_of, items)))
    if text.tail is not None:
        body += sep + term_text(text.tail)
    return body


def line_text(line: Words, lang: str, elide: bool) -> str:
    """A fact of a section: a phrase, or a formula (b = 1, 2, ...; conv1: Ho = ...)."""
    return written(line, elide) if isinstance(line, Form) else said(line, lang)


def usable_columns() -> int | None:
    """COLUMNS as a width: None when unset or not a whole number above 0 (COLUMNS=0 or 'abc'
    would leave rich no room at all), and never below MIN_WIDTH."""
    text = os.environ.get("COLUMNS", "").strip()
    if not (text.isascii() and text.isdigit()) or int(text) == 0:
        return None
    return max(int(text), MIN_WIDTH)


def make_console(stderr: bool = False) -> Console:
    """A console for stdout (or stderr); plain, 100 columns wide, when not a terminal.

    Text convgrad did not write is never read as markup: markup and emoji codes are off,
    and everything is printed as Text.
    """
    # A size is always given, so that rich does not read COLUMNS (nor LINES) itself.
    console = Console(stderr=stderr, highlight=False, markup=False, emoji=False,
                      width=PLAIN_WIDTH, height=25)
    width = usable_columns()
    if console.is_terminal:
        columns, lines = _terminal_size()
        console.size = (width or max(columns, MIN_WIDTH), lines)
    else:
        # A file or pipe has no width; expansions and sentences are never wrapped
        # (soft_wrap), so this sets the rules and the side-by-side matrices.
        console.size = (width or PLAIN_WIDTH, 25)
    return console


def _terminal_size() -> tuple[int, int]:
    for fd in (1, 2, 0):
        try:
            columns, lines = os.get_terminal_size(fd)
        except (OSError, ValueError):
            continue
        if columns > 0:
            return columns, lines or 25
    return 80, 25


def matrix_blocks(matrix: Matrix, full: bool = True, lang: str = "en",
                  highlight: Collection[tuple[int, ...]] = (), brackets: bool = False,
                  crop: bool = False, base: int = 1) -> list[list[Text]]:
    """One block of lines per 2-D slice, titled with its filter/channel when there are more axes.

    full=False (--terms auto) shows a large matrix by its corners and the first slices only.
    highlight: cells (indices into matrix.array) to mark, in reverse video, or in [brackets]
    when brackets is set (plain text has no colour). crop: a step of explain about a large
    matrix: only the slices holding highlighted cells, each cut to the rows and columns
    around them, numbered from `base` in its title (render/crop.py). Blocks are plain lines,
    not rich Tables: a table measures every cell several times, which costs seconds for
    large matrices.
    """
    arr = matrix.array
    marked = set(highlight)
    if arr.ndim < 2:
        arr = arr.reshape(1, -1)
        marked = {(0, *index) for index in marked}
    pad = None if matrix.pad is None else matrix.pad.reshape(arr.shape)
    lead = arr.shape[:-2]
    names = matrix.axis_names[-len(lead):] if lead else ()
    blocks: list[list[Text]] = []
    slices = list(np.ndindex(lead))
    if crop:
        slices = marked_slices(slices, marked)
    for count, index in enumerate(slices):
        if (crop or not full) and count == MAX_SLICES:
            hint = "more.slices_hint.all" if crop else "more.slices_hint"
            blocks.append([Text(say("more.slices", lang, n=len(slices) - MAX_SLICES,
                                    title=said(matrix.title, lang)), style=DIM),
                           Text(say(hint, lang), style=DIM)])
            break
        title = said(matrix.title, lang)
        if index:
            parts = [f"{say('axis.' + name, lang)} {i + 1}"
                     for name, i in zip(names or ("slice",) * len(index), index, strict=False)]
            title += say("list.sep", lang) + say("list.sep", lang).join(parts)
        cells = {cell[-2:] for cell in marked if cell[:-2] == index}
        grid = arr[index]
        lines = None
        if crop:
            lines = cut(cells, grid.shape, base)
            if lines.words is not None:
                title += say("list.sep", lang) + said(lines.words, lang)
        blocks.append(_grid_lines(title, grid, None if pad is None else pad[index], full,
                                  cells, brackets, lines))
    return blocks


def _shown(n: int, full: bool) -> list[int | None]:
    """Indices of rows (or columns) to draw; None marks the elided middle."""
    return shown_lines(n, full)


def _grid_lines(title: str, grid: np.ndarray, pad: np.ndarray | None, full: bool,
                marked: Collection[tuple[int, ...]] = (), brackets: bool = False,
                region: Cut | None = None) -> list[Text]:
    if region is None:
        rows, cols = _shown(grid.shape[0], full), _shown(grid.shape[1], full)
    else:
        rows, cols = region.rows, region.cols
    cells: list[list[tuple[str, str]]] = []
    for r in rows:
        line = []
        for c in cols:
            if r is None or c is None:
                line.append(("⋮" if c is not None else "…", DIM))
                continue
            text = number_text(grid[r, c])
            style = ""
            if pad is not None and pad[r, c]:
                text, style = f"({text})", DIM
            if (r, c) in marked:
                text, style = (f"[{text}]" if brackets else text), HIGHLIGHT
            line.append((text, style))
        cells.append(line)
    widths = [max(len(line[k][0]) for line in cells) for k in range(len(cols))]
    lines = [Text(title, style="bold")]
    for line in cells:
        # One string and a span per styled cell: a Text.append per cell costs seconds on
        # the 16 x 32 x 32 maps of solve --terms all.
        pieces, spans, at = [], [], 0
        for k, (cell, style) in enumerate(line):
            text = " " + cell.rjust(widths[k])
            if style:
                spans.append(Span(at + 1, at + len(text), style))
            pieces.append(text)
            at += len(text)
        lines.append(Text("".join(pieces), spans=spans))
    return lines


def block_lines(blocks: list[list[Text]], width: int) -> list[Text]:
    """Blocks side by side, as many to a row as `width` allows, as lines of text."""
    gap = 4
    out: list[Text] = []
    row: list[list[Text]] = []
    used = 0
    for block in [*blocks, None]:
        block_width = 0 if block is None else max(line.cell_len for line in block)
        if row and (block is None or used + gap + block_width > width):
            height = max(len(b) for b in row)
            widths = [max(line.cell_len for line in b) for b in row]
            for k in range(height):
                text = Text()
                for b, w in zip(row, widths, strict=True):
                    piece = b[k] if k < len(b) else Text()
                    text.append_text(piece)
                    text.append(" " * (w - piece.cell_len + gap))
                text.rstrip()
                out.append(text)
            row, used = [], 0
        if block is not None:
            row.append(block)
            used += block_width + gap
    return out


# The control codes rich removes from text (rich.control.strip_control_codes); a search
# finds that there are none far faster than a translation of every character.
_CONTROL = re.compile("[\x07\x08\x0b\x0c\x0d]")


class Out:
    """Where solve's lines go. On a terminal (or with colour forced), rich prints each, in
    colour. Plain output (a file, a pipe, a console without colour) is the same bytes rich
    writes for a line printed with soft_wrap (its text, control codes removed), so its lines
    are joined and written in chunks of about CHUNK characters: rich renders a line in
    tens of microseconds, and --terms all writes a million of them. A line with a tab, which
    rich expands by cell width, still goes through rich.
    """

    CHUNK = 1 << 20

    def __init__(self, console: Console) -> None:
        self.console = console
        # Only when rich would write each line straight to the file: not into a capture, a
        # buffer (`with console:`) or a recording, and not quiet; where rich keeps its
        # buffer index private, getattr's 1 leaves everything to rich.
        self.plain = (console.color_system is None and not console.is_terminal and
                      not console.record and not console.quiet and
                      getattr(console, "_buffer_index", 1) == 0)
        self.pending: list[str] = []
        self.size = 0

    def line(self, text: Text | str, parts: list[tuple[str, str]] | None = None) -> None:
        """One line (or several, with newlines in it), never wrapped (soft_wrap). `parts`:
        its (text, style) pieces, made into rich Text only when rich prints it."""
        if not self.plain:
            if parts is not None:
                text = Text.assemble(*parts)
            # as Text, so that nothing convgrad did not write is read as markup
            self.console.print(Text(text) if isinstance(text, str) else text, soft_wrap=True)
            return
        plain = text if isinstance(text, str) else text.plain
        if parts is not None:
            plain = "".join([piece for piece, _ in parts])
        if "\t" in plain:
            self.rich(Text(plain), soft_wrap=True)
            return
        self.pending.append(plain)
        self.pending.append("\n")
        self.size += len(plain) + 1
        if self.size >= self.CHUNK:
            self.flush()

    def blank(self) -> None:
        self.line("")

    def rich(self, *objects: Any, **options: Any) -> None:
        """Anything else (rules, lines that may wrap), printed by rich after what is pending."""
        self.flush()
        self.console.print(*objects, **options)

    def rule(self, title: Text) -> None:
        self.flush()
        self.console.rule(title, align="left")

    def flush(self) -> None:
        if self.pending:
            # As rich.Text does: bell, backspace, vertical tab, form feed and carriage
            # return are removed.
            text = "".join(self.pending)
            if _CONTROL.search(text):
                text = strip_control_codes(text)
            self.console.file.write(text)
            self.pending = []
            self.size = 0


def print_blocks(console: Console | Out, blocks: list[list[Text]]) -> None:
    out = console if isinstance(console, Out) else Out(console)
    for line in block_lines(blocks, out.console.width):
        out.line(line)
    out.flush()


def print_matrices(console: Console | Out, matrices: list[Matrix], full: bool = True,
                   lang: str = "en") -> None:
    """Matrices side by side, as many to a row as the console is wide."""
    print_blocks(console, [block for matrix in matrices
                           for block in matrix_blocks(matrix, full, lang)])


def expansion_text(exp: Expansion, symbolic: bool, lang: str = "en", elide: bool = True
                   ) -> Text:
    """`label = symbolic` (when asked) `= numeric = value`; elide: shorten long sums."""
    return Text.assemble(*expansion_parts(exp, symbolic, lang, elide))


def expansion_parts(exp: Expansion, symbolic: bool, lang: str = "en", elide: bool = True
                    ) -> list[tuple[str, str]]:
    """expansion_text as (text, style) pieces; joined, the plain text of its line(s)."""
    label = label_text(exp.label)
    parts = [(label, LABEL)]
    # An expansion without a value says where a number goes (x11 → y11 += x11·w11, ...),
    # not what a number is.
    joint = " = " if exp.value is not None else " → "
    if symbolic and exp.symbolic:
        parts.append((f"{joint}{written(exp.symbolic, elide)}\n", DIM))
        parts.append((" " * len(label), ""))
    numeric = written(exp.numeric, elide)
    value = None if exp.value is None else number_text(exp.value)
    if value is not None and numeric.strip("()") == value:
        # a lone term is the value: "= -2", not "= (-2)" (a negative factor's parentheses,
        # which read as a sum left unfinished) nor "= (-2) = -2"
        numeric = value
    parts.append((f"{joint}{numeric}", ""))
    if value is not None and numeric != value:
        parts.append((" = ", ""))
        parts.append((value, VALUE))
    if exp.note:
        parts.append(("   " + say("note.aside", lang, note=said(exp.note, lang)), DIM))
    return parts


def print_section(console: Console | Out, section: Section, terms: str, lang: str = "en"
                  ) -> None:
    out = console if isinstance(console, Out) else Out(console)
    out.rule(Text(said(section.title, lang), style="bold"))
    out.line(Text(said(section.why, lang), style=WHY))
    full = terms == "all"
    for line in section.lines:
        out.line(line_text(line, lang, not full))
    print_matrices(out, section.matrices, full, lang)
    for group in section.groups:
        # made one at a time, so that --terms all holds one expansion, not a million
        count = expansions_shown(group.count, terms)
        exps, rest = range(count), group.count - count
        if not exps and not rest:
            continue
        if exps:
            out.blank()
            for k in exps:
                out.line("", expansion_parts(group.make(k), k == 0, lang, not full))
        if rest:
            out.rich(Text(say("more.same_rule", lang, n=f"{rest:,}") if exps else
                          say("more.not_shown", lang, title=said(group.title, lang),
                              n=f"{rest:,}"),
                          style=DIM))
        if group.trailer and exps:
            out.rich(Text(said(group.trailer, lang), style=DIM))
    if section.results:
        out.blank()
        print_matrices(out, section.results, full, lang)
    out.blank()
    out.flush()


def print_solution(solved: Any, terms: str = "auto", console: Console | None = None,
                   lang: str = "en") -> None:
    """Every section of the trace, then the results at a glance."""
    from convgrad.result import Result

    console = console or make_console()
    out = Out(console)
    with formulas_in(lang):
        for section in Trace(solved).sections():
            print_section(out, section, terms, lang)
    console.rule(Text(say("title.results", lang), style="bold"), align="left")
    summary = []
    scalars = []
    result = Result.from_run(solved)
    for key in result.top_keys:
        value = result[key]
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            axes = result_axes(key, value.ndim, solved.problem.batched,
                               solved.problem.conventions)
            summary.append(Matrix(key, value, axis_names=axes))
        else:
            if isinstance(value, np.ndarray):
                value = value[()]
            scalars.append(Text.assemble((f"{key} = ", LABEL), (show_number(value), VALUE)))
    print_matrices(console, summary, terms == "all", lang)
    for line in scalars:
        console.print(line)
    arithmetic = say("arith.exact" if solved.exact else "arith.float", lang)
    console.print(Text(say("note.aside", lang, note=arithmetic), style=DIM))
    if result.get("steps"):
        print_steps(console, result["steps"], terms == "all", solved.problem.conventions, lang)


def print_steps(console: Console, steps: list[dict[str, Any]], full: bool,
                conventions: Conventions | None = None, lang: str = "en") -> None:
    """Training steps (SPEC section 6): each round's loss, before its update, and the
    parameters after it, as `steps[k].loss`, `steps[k].W_new` (`steps[k].conv1.W_new`)."""
    console.print()
    console.rule(Text(say("title.steps", lang), style="bold"), align="left")
    # never wrapped, as every other sentence of solve (soft_wrap)
    console.print(Text(say("why.steps.each", lang), style=DIM), soft_wrap=True)
    for k, step in enumerate(steps, start=1):
        console.print(Text.assemble((f"steps[{k}].loss = ", LABEL),
                                    (show_number(step["loss"]), VALUE)))
        matrices = []
        for name, value in round_values(k, step):
            if isinstance(value, np.ndarray) and value.ndim >= 1:
                axes = result_axes(name, value.ndim, False, conventions or Conventions())
                matrices.append(Matrix(name, value, axis_names=axes))
            else:
                number: Any = value[()] if isinstance(value, np.ndarray) else value
                console.print(Text.assemble((f"{name} = ", LABEL), (show_number(number), VALUE)))
        print_matrices(console, matrices, full, lang)


# --- styled lines (check reports) ------------------------------------------------------------


def print_styled(console: Console, lines: list[list[tuple[str, str]]]) -> None:
    """Lines of (text, style) segments, as report.py builds them, in colour on a terminal."""
    for segments in lines:
        console.print(Text.assemble(*segments), soft_wrap=True)


# --- tables (compare) ------------------------------------------------------------------------


def print_view(console: Console, view: list[Any]) -> None:
    """Styled lines and tables, as render/compare.py builds them: a line is a list of (text,
    style) segments, a table has a title, columns, rows and a note."""
    from rich import box
    from rich.table import Table

    for item in view:
        if isinstance(item, list):
            console.print(Text.assemble(*item), soft_wrap=True)
            continue
        console.print()
        table = Table(title=Text(item.title, style="bold"), title_justify="left",
                      box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for k, column in enumerate(item.columns):
            last = k == len(item.columns) - 1
            table.add_column(Text(column, style=LABEL), justify="left" if k == 0 or last
                             else "right", no_wrap=not last)
        for row in item.rows:
            table.add_row(*(Text(cell, style=VALUE if k == 0 else "")
                            for k, cell in enumerate(row)))
        console.print(table)
        if item.note:
            console.print(Text(item.note, style=DIM))
