"""What convgrad says about input, as data: the one exception, and warnings and notes.

ProblemError is raised for input that cannot be used; a Notice is a warning (input rows that
no kernel tap meets ...) or a note (the arithmetic chosen) that does not stop the solve. Each
carries its message, written once, and the facts behind it, so that no code has to read the
message to learn what it meant.
"""

from __future__ import annotations

# A way out that is a choice of arithmetic, not an edit of the problem: the library names the
# arithmetic ("exact" or "float64"), and this is how a user makes that choice, in the command
# line's words (SPEC section 4: the API raises the message that the command line prints).
ARITHMETIC_CHOICES = {"exact": "--exact", "float64": "drop --exact"}

# Kinds of Notice.
UNCOVERED = "uncovered"  # input rows or columns that no kernel tap meets: their dL/dX is 0
POOL_DROPPED = "pool_dropped"  # input rows or columns outside every pooling window
FLOAT64_MEMORY = "float64_memory"  # float64 chosen: exact fractions would not fit in memory
FLOAT64_SIZE = "float64_size"  # float64 chosen: above the automatic exact limit
NLL_NOT_LOG = "nll_not_log"  # nll given outputs above 0: not log-probabilities


def _with_choice(message: str, arithmetic: str | None) -> str:
    if arithmetic is None:
        return message
    return f"{message} ({ARITHMETIC_CHOICES[arithmetic]})"


class ProblemError(ValueError):
    """A problem or answers file that cannot be used.

    The message says what is wrong, where (file, key, line) and how to fix it,
    ready to be printed on one line:
    ``problem.yaml, line 4: 'kernel' is 5x5 but the padded input is 3x3; the kernel must fit``.

    arithmetic: when the fix is to compute in other arithmetic ("exact" or "float64"), which
    one; str() then adds how to choose it ("drop --exact"), and `message` is without it.
    """

    def __init__(self, message: str, *, arithmetic: str | None = None) -> None:
        super().__init__(_with_choice(message, arithmetic))
        self.message = message
        self.arithmetic = arithmetic


class Notice:
    """A warning or a note: its kind (UNCOVERED, POOL_DROPPED, FLOAT64_MEMORY, FLOAT64_SIZE,
    NLL_NOT_LOG), its message, and what it is about.

    layer: the layer's name (conv1, pool1); axis: "row" or "column"; positions: the input
    positions (0-based) it names; arithmetic: as for ProblemError. str() is what a user reads.
    """

    # A plain class rather than a dataclass: importing dataclasses (and inspect with it)
    # would slow down `convgrad --version`, which loads this module and little else.
    __slots__ = ("kind", "message", "layer", "axis", "positions", "arithmetic")

    def __init__(self, kind: str, message: str, layer: str | None = None,
                 axis: str | None = None, positions: tuple[int, ...] = (),
                 arithmetic: str | None = None) -> None:
        self.kind = kind
        self.message = message
        self.layer = layer
        self.axis = axis
        self.positions = tuple(positions)
        self.arithmetic = arithmetic

    def _fields(self) -> tuple:
        return (self.kind, self.message, self.layer, self.axis, self.positions,
                self.arithmetic)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Notice) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return "Notice(" + ", ".join(f"{name}={value!r}" for name, value in
                                     zip(self.__slots__, self._fields(), strict=True)) + ")"

    def __str__(self) -> str:
        return _with_choice(self.message, self.arithmetic)
