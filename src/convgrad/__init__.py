"""convgrad: gradients of convolution layers, worked out term by term.

    >>> import convgrad
    >>> result = convgrad.solve("problems/seed_worked_example.yaml")
    >>> result["dW"]

Importing convgrad loads only the standard library; NumPy comes with the first solve,
YAML is read only when a problem is given as text or a file, and the terminal libraries
belong to the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convgrad.errors import ProblemError

if TYPE_CHECKING:
    from convgrad.result import Result

__version__ = "0.1.0"
__all__ = ["ProblemError", "Result", "__version__", "solve"]


def solve(problem: Any, exact: bool | None = None, conventions: str | None = None) -> Result:
    """Solve a problem: forward pass, loss and every gradient.

    problem: a ``pathlib.Path`` or a string naming an existing file (read as
    YAML), any other string (YAML text), or a dict (nested lists or NumPy
    arrays where the file holds matrices).
    exact: None decides as the command line does, True forces exact fractions,
    False forces float64.
    conventions: a profile's name (pytorch, tensorflow, caffe, cs231n, coursera, textbook),
    in place of the problem's own `conventions: {profile: ...}`, as `--conventions`.

    Returns a Result, a dict with the keys of ``convgrad solve --json`` (``Y``,
    ``dY``, ``dW``, ``db``, ``dX``, ``loss``, ...) as NumPy arrays (object arrays
    of Fraction when exact), scalars as Fraction/int or float, and
    ``result["warnings"]``, a list of strings. Raises ProblemError on bad input.
    """
    import numpy as np

    from convgrad.engine import run
    from convgrad.model import Conventions
    from convgrad.reader import load_problem
    from convgrad.result import Result

    # 0, 1 or "yes" would pass for no choice (None) or a wrong one, silently
    if isinstance(exact, np.bool_):
        exact = bool(exact)
    if not isinstance(exact, (bool, type(None))):
        raise ProblemError(f"exact={exact!r}: give None (decide by size), True (exact "
                           "fractions) or False (float64)")
    if conventions is not None and not isinstance(conventions, (str, Conventions)):
        raise ProblemError(f"conventions={conventions!r}: give a profile's name (pytorch, "
                           "tensorflow, caffe, cs231n, coursera, textbook); other convention "
                           "keys go in the problem's own 'conventions' mapping")

    # NumPy's floating-point warnings (overflow in exp ...) are not convgrad's warnings,
    # and SPEC 4 raises none through the warnings module.
    with np.errstate(all="ignore"):
        solved = run(load_problem(problem, conventions), exact=exact)
    return Result.from_run(solved)


def __getattr__(name: str) -> Any:
    # convgrad.Result without importing NumPy on `import convgrad` (the CLI's --version).
    if name == "Result":
        from convgrad.result import Result

        return Result
    raise AttributeError(f"module 'convgrad' has no attribute {name!r}")
