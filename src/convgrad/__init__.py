"""convgrad: gradients of convolution layers, worked out term by term.

    >>> import convgrad
    >>> result = convgrad.solve("problems/seed_worked_example.yaml")
    >>> result["dW"]

Importing convgrad loads only NumPy and the standard library; YAML is read
only when a problem is given as text or a file, and the terminal libraries
belong to the command line.
"""

from __future__ import annotations

from convgrad.errors import ProblemError

__version__ = "0.1.0"
__all__ = ["ProblemError", "__version__", "solve"]


def solve(problem, exact=None):  # type: ignore[no-untyped-def]
    """Solve a problem: forward pass, loss and every gradient.

    problem: a ``pathlib.Path`` or a string naming an existing file (read as
    YAML), any other string (YAML text), or a dict (nested lists or NumPy
    arrays where the file holds matrices).
    exact: None decides as the command line does, True forces exact fractions,
    False forces float64.

    Returns a dict with the keys of ``convgrad solve --json`` (``Y``, ``dY``,
    ``dW``, ``db``, ``dX``, ``loss``, ...) as NumPy arrays (object arrays of
    Fraction when exact), scalars as Fraction/int or float, and
    ``result["warnings"]``, a list of strings. Raises ProblemError on bad input.
    """
    from convgrad.api import solve as _solve

    return _solve(problem, exact=exact)
