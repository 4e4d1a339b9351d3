"""The one exception convgrad raises for input it cannot use."""

from __future__ import annotations


class ProblemError(ValueError):
    """A problem or answers file that cannot be used.

    The message says what is wrong, where (file, key, line) and how to fix it,
    ready to be printed on one line:
    ``problem.yaml, line 4: 'kernel' is 5x5 but the padded input is 3x3; the kernel must fit``.
    """
