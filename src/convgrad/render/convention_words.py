"""The conventions a problem's answers depend on, in words, for students (generate's
problem.yaml comment, and the line under the problem in the Moodle and PrairieLearn questions).

check's "Conventions (pytorch): kink 0, max_ties first, ..." line (naming.settings) lists every
key by its identifier, for the teacher; a student needs only the ones their problem's layers
and loss meet, said as what they mean: relu'(0) = 0, a tied max goes to the first maximum,
cross-correlation (the kernel is not flipped), half_sse: L = 1/2 sum (y - t)^2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convgrad.model import Activation, Conv, Dense, Flatten, Pool
from convgrad.render.naming import setting_text

if TYPE_CHECKING:
    from convgrad.model import Problem

_TIES = {"first": "a tied max goes to the first maximum (row by row)",
         "last": "a tied max goes to the last maximum (row by row)",
         "all": "every tied maximum gets the whole gradient",
         "split": "tied maxima share the gradient equally"}
_SAME = {"end": "the odd extra row/column at the bottom/right",
         "start": "the odd extra row/column at the top/left",
         "symmetric": "equal on both sides"}
_FLATTEN = {"CHW": "channel, then row, then column", "HWC": "row, then column, then channel"}
_DENSE = {"out_in": "y = W x + b, W out x in", "in_out": "y = x W + b, W in x out"}
_LOSSES = {"mse": "mse: L = mean of (y - t)^2 over every entry",
           "sse": "sse: L = sum (y - t)^2",
           "half_sse": "half_sse: L = 1/2 sum (y - t)^2",
           "mae": "mae: L = mean of |y - t| over every entry",
           "bce": "bce: L = mean of -(t log y + (1 - t) log(1 - y))",
           "cross_entropy": "cross_entropy: L = -sum t log softmax(y), averaged over the "
                            "samples",
           "nll": "nll: L = -sum t y (y log-probabilities), averaged over the samples",
           "cross_entropy_probs": "cross_entropy_probs: L = -sum t log y, averaged over the "
                                  "samples"}


def convention_words(problem: Problem) -> str:
    """One line: the conventions the answers of `problem` depend on, in words, in the order
    its layers meet them, the loss last ("" when none matters)."""
    conventions = problem.conventions
    said: list[str] = []

    def say(text: str) -> None:
        if text not in said:
            said.append(text)

    for layer in problem.layers:
        op = layer.op
        if isinstance(op, Activation) and op.name == "relu":
            say(f"relu'(0) = {setting_text(op.kink)}")
        elif isinstance(op, Activation) and op.name == "leaky_relu":
            say(f"leaky_relu'(0) = {setting_text(op.slope + op.kink * (1 - op.slope))}")
        elif isinstance(op, Conv):
            say("convolution (the kernel is flipped)" if op.flip
                else "cross-correlation (the kernel is not flipped)")
            if op.padding_text == "same":
                say(f"padding same: {_SAME.get(conventions.same_padding, '')}")
        elif isinstance(op, Pool):
            if op.kind == "max":
                say(_TIES.get(op.ties, f"max_ties {op.ties}"))
            if any(op.pad):
                say(f"pooling pads {op.padding_text}"
                    + (" (with -infinity)" if op.kind == "max" else ""))
            if op.ceil:
                say("pooling windows in ceil mode (a last partial window counts)")
            if op.kind == "avg" and (any(op.pad) or op.ceil):
                say("avg pool divides by the window's cells inside the padded input"
                    if op.count_padding else "avg pool divides by the window's real cells")
        elif isinstance(op, Flatten):
            say(f"flatten: {_FLATTEN.get(op.order, op.order)}")
        elif isinstance(op, Dense):
            say(f"dense: {_DENSE.get(conventions.dense_weights, conventions.dense_weights)}")
    if conventions.layout == "NHWC":
        say("maps written H x W x C (layout NHWC)")
    if conventions.kernel_layout == "HWIO":
        say("kernels written KH x KW x C x F (kernel_layout HWIO)")
    if problem.loss is not None:
        loss = _LOSSES.get(problem.loss, f"loss {problem.loss}")
        if problem.loss_over == "channels":
            loss += " (over the channels at each position)"
        if problem.loss == "mae":
            loss += f"; its derivative at y = t is {setting_text(conventions.kink)}"
        say(loss)
    if conventions.index_base != 1:
        say(f"entries numbered from {conventions.index_base}")
    return ", ".join(said)
