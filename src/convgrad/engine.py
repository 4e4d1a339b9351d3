"""run(problem): the forward pass through every layer, the loss, the backward pass, the update.

Knows nothing of YAML or printing, nor of any kind of layer: each layer object
(convgrad.layers) owns its forward, backward and terms, and each loss its value and
gradient (convgrad.losses). The same loop serves float64 and exact arithmetic
(convgrad.arith): dtype is data.

Where things are computed:
- each kind of layer: its module in layers/ (layers/conv.py: Z; dX, dW, db)
- losses: losses.py (L and dL/dY)
- a whole problem: `run`, which chains the layers forward, then backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convgrad import losses
from convgrad.arith import Numbers, normalized
from convgrad.errors import FLOAT64_MEMORY, FLOAT64_SIZE, Notice, ProblemError
from convgrad.layers import Layer, Param, make_layer
from convgrad.model import IRRATIONAL_LOSSES, MAX_WORK_BYTES, Problem
from convgrad.numbers import Number
from convgrad.records import field, record

# Automatic exact arithmetic up to this many multiply-adds of one forward pass
# (SPEC: homework size); asking for exact arithmetic lifts it.
EXACT_LIMIT = 1_000_000

# A run's record of one layer is the layer object itself: its x, out, d_out, dx and, with
# parameters, w, b, dw, db, w_new, b_new.
LayerPass = Layer


@record
class Run:
    """The forward and backward pass of a problem, in one arithmetic (exact or float64).

    Every array has the batch axis first, an unbatched problem's too (N = 1): x, y, target,
    dy, dx, and each layer's arrays but its parameters.
    """

    problem: Problem
    exact: bool
    passes: list[Layer]
    x: np.ndarray
    y: np.ndarray
    target: np.ndarray | None = None
    loss: Number | None = None
    dy: np.ndarray | None = None
    dx: np.ndarray | None = None
    learning_rate: Number | None = None
    notes: list[Notice] = field(default_factory=list)
    # With `steps: k`, each round of training: its loss (before its update) and each layer's
    # parameters with their updates (Param.new); round 1 is this run's own.
    rounds: list[Round] = field(default_factory=list)


@record
class Round:
    """One training round: the loss before its update, and per layer its parameters after
    backward and update ([] for a layer without parameters)."""

    loss: Number
    params: list[list[Param]]


# The note for a problem with neither target nor grad_output (SPEC section 2), on standard
# error and in a Result's notes.
FORWARD_ONLY = ("forward pass only; the backward pass needs 'target' (with a loss) or "
                "'grad_output'")


def choose_exact(problem: Problem, exact: bool | None) -> tuple[bool, Notice | None]:
    """Exact fractions or float64 (SPEC "Arithmetic"), and a note when the choice needs one.

    exact: True forces exact fractions, False float64, None decides by the problem's size.
    """
    if exact is True:
        if not problem.rational:
            raise problem.error(_irrational_key(problem),
                                "exact arithmetic needs a rational problem, and "
                                f"{_not_rational(problem)}; use float64 arithmetic",
                                arithmetic="float64")
        if problem.work_bytes(exact=True) > MAX_WORK_BYTES:
            raise problem.error("input", f"is too large for exact arithmetic: it would need about "
                                f"{_mib(problem.work_bytes(exact=True))} of memory, more than "
                                f"the {_mib(MAX_WORK_BYTES)} convgrad allows itself; make the "
                                "problem smaller, or solve it in float64 arithmetic",
                                arithmetic="float64")
        return True, None
    if exact is False or not problem.rational:
        return False, None
    if problem.work_bytes(exact=True) > MAX_WORK_BYTES:
        return False, Notice(FLOAT64_MEMORY, (
            f"float64 arithmetic: exact fractions would need about "
            f"{_mib(problem.work_bytes(exact=True))} of memory, above the limit of "
            f"{_mib(MAX_WORK_BYTES)}"))
    if problem.multiply_adds > EXACT_LIMIT:
        return False, Notice(FLOAT64_SIZE, (
            f"float64 arithmetic: the problem has {problem.multiply_adds:,} multiply-adds, above "
            f"the automatic exact limit of {EXACT_LIMIT:,}; exact fractions can be asked for"),
            arithmetic="exact")
    # Each training round's fractions carry more digits than the round before's (the
    # learning rate's denominator and the products pile up), so the cost of k rounds grows
    # as k squared: 2,000 rounds of the seed example took 15 s and wrote 56 MB of JSON.
    if problem.steps and problem.multiply_adds * problem.steps > EXACT_LIMIT:
        return False, Notice(FLOAT64_SIZE, (
            f"float64 arithmetic: in exact fractions each training round has more digits than "
            f"the last, and {problem.steps:,} rounds of {problem.multiply_adds:,} multiply-adds "
            f"in all cost as much as {problem.multiply_adds * problem.steps:,}, above the "
            f"automatic exact limit of {EXACT_LIMIT:,}; exact fractions can be asked for"),
            arithmetic="exact")
    return True, None


def _irrational_key(problem: Problem) -> tuple[str | int, ...]:
    """The key that keeps a problem out of exact arithmetic, as the file wrote it: "loss",
    "activation" of the single form, the network's layer ("layers", 2), or "input", "kernel"
    ... where the API was handed a float64 array."""
    if problem.loss in IRRATIONAL_LOSSES:
        return ("loss",)
    if problem.x.dtype != object:
        return ("input",)
    for i, layer in enumerate(problem.layers):
        floats = any(arr.dtype != object for arr in layer.op.arrays())
        if not floats and layer.op.rational:
            continue
        if not problem.single:
            return ("layers", i)
        if not floats:  # the single form's conv is rational: its activation is not
            return ("activation",)
        return ("kernel",) if layer.op.arrays()[0].dtype != object else ("bias",)
    return ("target",) if problem.target is not None else ("grad_output",)


def _not_rational(problem: Problem) -> str:
    """What keeps a problem out of exact arithmetic, in words: "softmax is not"."""
    if problem.loss in IRRATIONAL_LOSSES:
        return f"{problem.loss} is not"
    kinds = list(dict.fromkeys(layer.type for layer in problem.layers if not layer.op.rational))
    if kinds:
        return f"{', '.join(kinds)} {'is' if len(kinds) == 1 else 'are'} not"
    return "numbers given as float64 arrays are not (give ints, Fractions or strings)"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def run(problem: Problem, exact: bool | None = None) -> Run:
    """Forward through every layer, the loss, then backward to dX (and the update).

    Exact arithmetic never fails on a valid problem. In float64, overflow is data, not a
    NumPy warning: any result that is not finite (Y, the loss, a gradient, a layer's output)
    raises ProblemError naming it.
    """
    use_exact, note = choose_exact(problem, exact)
    if use_exact:
        return _train(problem, True, _run(problem, True, note))
    with np.errstate(all="ignore"):
        return _train(problem, False, _run(problem, False, note))


def _train(problem: Problem, use_exact: bool, first: Run) -> Run:
    """The rounds of `steps: k` (SPEC section 6): each a forward, backward and update on the
    same input and target, from the parameters the round before left. `first` is round 1."""
    if not problem.steps:
        return first
    assert first.loss is not None
    first.rounds.append(Round(first.loss, [layer.params() for layer in first.passes]))
    for _ in range(problem.steps - 1):
        start = [{p.letter: p.new for p in params if p.new is not None}
                 for params in first.rounds[-1].params]
        again = _run(problem, use_exact, None, start)
        assert again.loss is not None
        first.rounds.append(Round(again.loss, [layer.params() for layer in again.passes]))
    return first


def _run(problem: Problem, use_exact: bool, note: Notice | None,
         start: list[dict[str, np.ndarray]] | None = None) -> Run:
    """One round: forward, loss, backward, update. start: each layer's parameters to begin
    with (by letter), instead of the problem's (a training round after the first)."""
    num = Numbers(use_exact, problem.single,
                  lambda key, what: _too_large(problem, key, what))

    def check(*named: tuple[str, Any]) -> None:
        if not use_exact:
            _check_finite(problem, named)

    # The layers take a batch, the sample axis first: one sample is a batch of one.
    x = problem.batch_first(num.array(problem.x, "input"))
    result = Run(problem=problem, exact=use_exact, passes=[], x=x, y=x)
    if note:
        result.notes.append(note)
    layers = result.passes

    # Forward. Each layer takes its numbers into the run's arithmetic as it is reached.
    h = x
    for index, described in enumerate(problem.layers):
        layer = make_layer(described, num)
        if start is not None:
            layer.load_params(start[index])
        layers.append(layer)
        h = layer.forward(h)
        check((_name(problem, layers, index, "output"), h))
    result.y = h

    # Loss and dL/dY.
    if problem.grad_output is not None:
        dy = problem.batch_first(num.array(problem.grad_output, "grad_output"))
    elif problem.target is not None and problem.loss is not None:
        result.target = problem.batch_first(num.array(problem.target, "target"))
        notice = losses.check_domain(problem, layers[-1], h, result.target)
        if notice is not None:
            result.notes.append(notice)
        result.loss = losses.value(problem.loss, h, result.target, problem.loss_over)
        dy = losses.gradient(problem.loss, h, result.target, problem.loss_over,
                             problem.conventions.kink)
        check(("loss", result.loss))
    else:
        return result
    result.dy = dy = normalized(dy)
    check(("dY", dy))
    if problem.learning_rate is not None:
        result.learning_rate = num.const(problem.learning_rate, "learning_rate")

    # Backward, last layer first, and the update.
    for index in reversed(range(len(layers))):
        layer = layers[index]
        dy = layer.backward(dy)
        if result.learning_rate is not None:
            layer.update(result.learning_rate)
        params = layer.params()
        check(*((_name(problem, layers, index, key), value) for key, value in (
            *((p.grad_key, p.grad) for p in params), *((p.new_key, p.new) for p in params),
            ("d_input", dy))))
    result.dx = dy
    return result


def _too_large(problem: Problem, key: str, what: str) -> ProblemError:
    where = f" (in {what})" if what else ""
    return problem.error(key, f"holds a number too large for float64 (above 1.8e308){where}; "
                         f"{_overflow_fix(problem)}", _overflow_arithmetic(problem))


def _overflow_fix(problem: Problem) -> str:
    if problem.rational:
        return "use smaller numbers, or exact fractions"
    return "use smaller numbers"


def _overflow_arithmetic(problem: Problem) -> str | None:
    """Exact fractions never overflow: the way out of a float64 overflow when the problem
    is rational."""
    return "exact" if problem.rational else None


def _name(problem: Problem, passes: list[Layer], index: int, key: str) -> str:
    """What a user calls a layer's array: Y, dZ, dW (one layer), conv1.dW (a network), dX.

    key: output, dW, db, W_new, b_new, or d_input (dL/d of the layer's input).
    """
    if key == "d_input":
        if index == 0:
            return "dX"
        index, key = index - 1, "d_output"
    last = index == len(problem.layers) - 1
    if key in ("output", "d_output") and last:
        return "Y" if key == "output" else "dY"
    if not problem.single:
        return f"{passes[index].layer.name}.{key}"
    if key in ("output", "d_output"):
        base = "Z" if index == 0 else "A"  # conv, then activation (then pool, the last)
        return base if key == "output" else "d" + base
    return key


def _check_finite(problem: Problem, named: tuple[tuple[str, Any], ...]) -> None:
    """ProblemError for the first float64 result that overflowed (inf, or nan from inf - inf)."""
    for name, value in named:
        if value is None:
            continue
        values = np.asarray(value, dtype=np.float64).reshape(-1)
        finite = np.isfinite(values)
        if not finite.all():
            i = int(np.argmin(finite))  # the first entry that is not finite
            entry = "" if values.size == 1 else f" at entry {i + 1} (row-major)"
            raise problem.error(name, f"overflows float64{entry}: a number along the way went "
                                "beyond 1.8e308, so the result would be "
                                f"{'infinite' if np.isinf(values[i]) else 'undefined (nan)'}; "
                                f"{_overflow_fix(problem)}", _overflow_arithmetic(problem))
