"""The conventions a problem's answers depend on, in words, for students (generate's
problem.yaml comment, and the line under the problem in the Moodle and PrairieLearn questions).

check's "Conventions (pytorch): kink 0, max_ties first, ..." line (naming.settings) lists every
key by its identifier, for the teacher; a student needs only the ones their problem's layers
and loss meet, said as what they mean: relu'(0) = 0, a tied max goes to the first maximum,
cross-correlation (the kernel is not flipped), half_sse: L = 1/2 sum (y - t)^2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convgrad.layers import layer_class
from convgrad.render.naming import setting_text

if TYPE_CHECKING:
    from convgrad.model import Problem

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
        # Each kind says which conventions it meets (Layer.conventions_met): no chain here.
        for text in layer_class(type(layer.op)).conventions_met(layer.op, conventions,
                                                                setting_text):
            say(text)
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
