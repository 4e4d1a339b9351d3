"""The public API behind ``convgrad.solve``: load a problem, run it, shape the results.

Results mirror the shapes the user wrote (SPEC section 1): dW has the kernel's
shape, dX the input's, Y and dY are Ho x Wo for one filter on a 2-D input.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np

from convgrad.engine import Run, run
from convgrad.errors import ProblemError
from convgrad.layers import Layer
from convgrad.numbers import exact_text
from convgrad.spec import Problem, user_output_shape

# The order of keys in results and in `solve --json`.
RESULT_KEYS = ("Y", "dY", "dW", "db", "dX", "loss", "Z", "dZ", "A", "dA", "W_new", "b_new")
LAYER_KEYS = ("output", "d_output", "dW", "db", "W_new", "b_new")


def load_problem(problem: Any) -> Problem:
    """A problem from a path, YAML text, or a dict (nested lists or NumPy arrays)."""
    from convgrad import spec

    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, os.PathLike):
        return spec.read_file(problem)
    if isinstance(problem, str):
        one_line = "\n" not in problem
        if one_line and (os.path.exists(problem) or problem.strip().endswith((".yaml", ".yml"))):
            return spec.read_file(problem)
        try:
            return spec.problem_from_text(problem, source="<text>")
        except ProblemError as exc:
            if one_line and ":" not in problem:  # most likely a path with a typo
                raise ProblemError(f"{exc} (and no file is named '{problem.strip()}')") from None
            raise
    if isinstance(problem, dict):
        return spec.problem_from_dict(problem, source="<dict>")
    raise ProblemError(f"a problem is a path, YAML text or a dict, not {type(problem).__name__}")


def solve(problem: Any, exact: bool | None = None) -> dict[str, Any]:
    """See ``convgrad.solve``."""
    # NumPy's floating-point warnings (overflow in exp ...) are not convgrad's warnings,
    # and SPEC 4 raises none through the warnings module.
    with np.errstate(all="ignore"):
        solved = run(load_problem(problem), exact=exact)
    out = results(solved)
    out["warnings"] = list(solved.problem.warnings)
    return out


def results(solved: Run) -> dict[str, Any]:
    """The result keys of SPEC section 3 (no `exact`, no `warnings`), in the user's shapes."""
    problem = solved.problem
    passes = solved.passes
    out: dict[str, Any] = {}

    def shaped_output(arr: np.ndarray | None) -> np.ndarray | None:
        if arr is None:
            return None
        return arr.reshape(user_output_shape(problem, arr.shape)) if problem.single else arr

    out["Y"] = shaped_output(solved.y)
    out["dY"] = shaped_output(solved.dy)
    # The single form's first layer is its convolution: dW, db, W_new, b_new are its own.
    params = passes[0].params() if problem.single else []
    for p in params:
        out[p.grad_key] = _as_written(p.grad, p.shape)
    out["dX"] = None if solved.dx is None else solved.dx.reshape(problem.x_shape)
    out["loss"] = solved.loss
    if problem.single and len(passes) > 1:
        out["Z"] = shaped_output(passes[0].out)
        out["dZ"] = shaped_output(passes[0].d_out)
        if len(passes) == 3:
            out["A"] = shaped_output(passes[1].out)
            out["dA"] = shaped_output(passes[1].d_out)
    for p in params:
        out[p.new_key] = _as_written(p.new, p.shape)
    out = {key: out[key] for key in RESULT_KEYS if out.get(key) is not None}
    if not problem.single:
        out["layers"] = [_layer_results(step) for step in passes]
    return out


def _as_written(arr: np.ndarray | None, shape: tuple[int, ...]) -> Any:
    """A parameter's gradient or update in the shape the user wrote: a bias written as one
    number on one filter is that number."""
    if arr is None:
        return None
    return arr[0] if shape == () else arr.reshape(shape)


def _layer_results(step: Layer) -> dict[str, Any]:
    layer = step.layer
    item: dict[str, Any] = {"name": layer.name, "type": layer.type,
                            "output": step.out, "d_output": step.d_out}
    # A network's db and b_new are lists whatever form the bias took (SPEC section 5).
    for p in step.params():
        shape = p.shape or p.value.shape
        item[p.grad_key] = _as_written(p.grad, shape)
        item[p.new_key] = _as_written(p.new, shape)
    return {key: value for key, value in item.items() if value is not None}


def json_text(out: dict[str, Any], exact: bool) -> str:
    """The text of `solve --json`: always valid JSON (never NaN or Infinity), every digit."""
    with unlimited_int_digits():
        return json.dumps(to_json(out, exact), allow_nan=False)


def to_json(out: dict[str, Any], exact: bool) -> dict[str, Any]:
    """The `solve --json` object: JSON numbers, and when exact an `exact` twin of strings.

    A JSON number is an exact integer as it is, whatever its size (JSON integers have no
    limit), and any other number the nearest float64; a fraction beyond float64's range
    (about 1.8e308) is its nearest integer. The strings of `exact` are always complete.
    A float64 result that is not a finite number has no JSON number: ProblemError.
    """
    for key, value in out.items():
        if key == "layers":
            for k, layer in enumerate(value, start=1):
                for name, item in layer.items():
                    if name not in ("name", "type"):
                        _finite(item, f"layer {k} ({layer['name']}): {name}")
        elif key != "warnings":
            _finite(value, key)
    with unlimited_int_digits():
        doc = {key: _tree(value, _json_number) for key, value in out.items()
               if key != "warnings"}
        if exact:
            doc["exact"] = {key: _tree(value, exact_text) for key, value in out.items()
                            if key != "warnings"}
    return doc


@contextmanager
def unlimited_int_digits() -> Iterator[None]:
    """Python's limit on writing an int (4,300 digits) lifted while convgrad writes its own
    results, and only then: reading input keeps the limit (YAML turns digits into ints)."""
    get = getattr(sys, "get_int_max_str_digits", None)
    if get is None:  # a Python without the limit
        yield
        return
    limit = get()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(limit)


def _json_number(value: Any) -> int | float:
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return value.numerator
        try:
            return float(value)
        except OverflowError:
            return round(value)
    return float(value)


def _finite(value: Any, key: str) -> None:
    """ProblemError naming the first entry of a float64 result that is inf or nan."""
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.size == 0:
            return
        bad = np.argwhere(~np.isfinite(value))
        if not len(bad):
            return
        index = tuple(int(i) for i in bad[0])
        where = f"{key}[{','.join(str(i + 1) for i in index)}]" if index else key
        number = float(value[index])
    elif isinstance(value, (float, np.floating)) and not math.isfinite(value):
        where, number = key, float(value)
    else:
        return
    raise ProblemError(f"{where} is {number}: float64 arithmetic overflowed, and JSON has no "
                       "number for it; scale the problem's numbers down")


def _tree(value: Any, leaf: Any) -> Any:
    if isinstance(value, dict):
        return {key: (item if key in ("name", "type") else _tree(item, leaf))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_tree(item, leaf) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype != object and leaf is _json_number:
            return value.tolist()
        if value.ndim == 0:
            return leaf(value[()])
        return [_tree(item, leaf) for item in value]
    return leaf(value)
