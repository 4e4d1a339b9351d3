"""A run's results as users see them (SPEC sections 3 to 5), and the one JSON serialiser.

`Result` is what ``convgrad.solve`` returns, and what ``solve --json``, ``check`` and the
tables read: the keys of ``solve --json`` in the shapes the user wrote (dW as the kernel, dX
as the input, Y as Ho x Wo for one filter on a 2-D input), scalars as numbers, a network's
`layers`, and `warnings`. Every JSON number and exact string that convgrad writes is made
here, by `json_numbers` and `exact_strings`.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from convgrad.errors import ProblemError
from convgrad.model import Problem, input_axes, written_output, written_param
from convgrad.model import to_written as _to_written
from convgrad.numbers import exact_text

if TYPE_CHECKING:
    from convgrad.engine import Round, Run
    from convgrad.layers import Layer, Param

# The numeric keys of a result, in the order of `solve --json` (SPEC section 3); a network
# has `layers` after them, one object per layer with `name`, `type` and LAYER_KEYS (SPEC
# sections 5 and 6: batch_norm's dgamma, dbeta, gamma_new, beta_new), each layer's in the order
# of its parameters.
RESULT_KEYS = ("Y", "dY", "dW", "db", "dX", "loss", "Z", "dZ", "A", "dA", "W_new", "b_new")
LAYER_KEYS = ("output", "d_output", "dW", "W_new", "db", "b_new", "dgamma", "gamma_new", "dbeta",
              "beta_new")


class Result(dict[str, Any]):
    """The results of one solve: a dict of the keys of ``solve --json``, then "warnings".

    Values are NumPy arrays in the user's shapes (object arrays of int/Fraction when the
    arithmetic was exact), scalars (`loss`, a scalar `db`) as Fraction/int or float, a
    network's "layers" a list of dicts, and "warnings" a list of strings (SPEC section 4).
    exact: the arithmetic was exact, so that JSON repeats every number as a string.
    notes: what `solve` says on standard error besides the warnings, one string each (float64
    chosen by size, "forward pass only", ...).
    """

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 exact: bool = False, run: Run | None = None,
                 notes: Iterable[str] = ()) -> None:
        super().__init__(values)
        self.exact = exact
        self.notes = list(notes)
        # The run behind the values, for the worked solution (to_markdown ...).
        self.run = run

    @classmethod
    def from_run(cls, run: Run) -> Result:
        """The results of a run (engine.run), shaped as the problem was written."""
        problem = run.problem
        passes = run.passes
        values: dict[str, Any] = {}

        def output(arr: np.ndarray | None, step: Layer) -> np.ndarray | None:
            return None if arr is None else _output(problem, arr, step)

        values["Y"] = output(run.y, passes[-1])
        values["dY"] = output(run.dy, passes[-1])
        values["dX"] = None if run.dx is None else \
            to_written(run.dx, input_axes(problem), problem.input_shape)
        values["loss"] = run.loss
        if problem.single:
            # The single form's first layer is its convolution: dW, db, W_new, b_new are its own.
            values.update(_param_values(problem, passes[0]))
            if len(passes) > 1:
                values["Z"], values["dZ"] = (output(passes[0].out, passes[0]),
                                             output(passes[0].d_out, passes[0]))
            if len(passes) == 3:
                values["A"], values["dA"] = (output(passes[1].out, passes[1]),
                                             output(passes[1].d_out, passes[1]))
        result = cls(((key, values[key]) for key in RESULT_KEYS
                      if values.get(key) is not None), exact=run.exact, run=run)
        if not problem.single:
            result["layers"] = [_layer_values(problem, step) for step in passes]
        if run.rounds:
            result["steps"] = [_round_values(problem, passes, round_) for round_ in run.rounds]
        # The conventions in force, every key (SPEC section 7); a pair as a list, as written.
        result["conventions"] = {key: list(value) if isinstance(value, tuple) else value
                                 for key, value in problem.conventions.items()}
        result["warnings"] = [str(notice) for notice in problem.warnings]
        result.notes = [str(notice) for notice in run.notes]
        if not problem.has_backward:
            from convgrad.engine import FORWARD_ONLY

            result.notes.append(FORWARD_ONLY)
        return result

    @staticmethod
    def conventions_json(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """The conventions as JSON writes them: words and booleans as they are, a pair as a
        list, a number (kink 1/2) as a JSON number."""
        return {key: list(value) if isinstance(value, tuple) else value
                if isinstance(value, (str, bool, list)) else json_number(value)
                for key, value in items}

    @property
    def top_keys(self) -> list[str]:
        """The numeric keys at the top level (Y, dW, loss ...), in order."""
        return [key for key in self if key in RESULT_KEYS]

    def by_answer_key(self) -> dict[str, Any]:
        """Every value an answers file may name, by the key that names it (SPEC sections 3
        and 5): "Y", "dW", "loss", and a network's "conv1.dW" or "pool1.d_output"; with
        training steps, "steps[2].loss", "steps[2].W_new" and "steps[2].conv1.W_new"."""
        out = {key: self[key] for key in self.top_keys}
        for layer in self.get("layers", []):
            out.update((f"{layer['name']}.{key}", value) for key, value in layer.items()
                       if key in LAYER_KEYS)
        for k, step in enumerate(self.get("steps", []), start=1):
            for key, value in step.items():
                if key == "layers":
                    for layer in value:
                        out.update((f"steps[{k}].{layer['name']}.{name}", item)
                                   for name, item in layer.items() if name != "name")
                else:
                    out[f"steps[{k}].{key}"] = value
        return out

    def json_object(self) -> dict[str, Any]:
        """The object `solve --json` prints (see `json_object`)."""
        return json_object(self, self.exact)

    def json_text(self) -> str:
        """The text `solve --json` prints (see `json_text`)."""
        return json_text(self, self.exact)

    # A Result compares by its values, as a dict does; dict's own == stopped at the first
    # array ("the truth value of an array ... is ambiguous").

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return _same(self, other)

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return not _same(self, other)

    __hash__ = None  # type: ignore[assignment]  # (a dict: mutable, unhashable)

    def copy(self) -> Result:
        """A shallow copy that is still a Result (dict.copy gives a plain dict): the same
        values, exact and worked solution."""
        return type(self)(self, exact=self.exact, run=self.run, notes=self.notes)

    def to_json(self) -> str:
        """Exactly the text `solve --json` prints (SPEC section 8), without its new line."""
        return self.json_text()

    # The worked solution in the formats of `solve --format` (SPEC section 8); explain=True
    # gives the walkthrough of `explain`. terms: solve's --terms; show_all: explain's --all.

    def to_markdown(self, lang: str = "en", explain: bool = False, terms: str = "auto",
                    show_all: bool = False) -> str:
        """GitHub-flavoured Markdown, its math for KaTeX (`solve --format markdown`)."""
        return self._written("markdown", lang, explain, terms, show_all)

    def to_latex(self, fragment: bool = False, lang: str = "en", explain: bool = False,
                 terms: str = "auto", show_all: bool = False) -> str:
        """A LaTeX document for pdflatex, or with fragment its body (`--format latex`)."""
        return self._written("latex", lang, explain, terms, show_all, fragment)

    def to_html(self, lang: str = "en", explain: bool = False, terms: str = "auto",
                show_all: bool = False) -> str:
        """One self-contained web page (`solve --format html`)."""
        return self._written("html", lang, explain, terms, show_all)

    def __repr__(self) -> str:
        # An exact result may hold ints past Python's 4,300-digit limit on writing them
        # (inputs of 1e300 multiplied): repr writes them, as to_json does.
        with unlimited_int_digits():
            return super().__repr__()

    def _repr_markdown_(self) -> str | None:
        return None if self.run is None else self.to_markdown()

    def _repr_html_(self) -> str | None:
        """What a notebook shows: one <div>, its styles scoped to it, readable without
        scripts."""
        if self.run is None:
            return None
        from convgrad.render.html import to_html
        from convgrad.trace import Trace

        return to_html(Trace(self.run), page=False)

    def _written(self, fmt: str, lang: str, explain: bool, terms: str, show_all: bool,
                 fragment: bool = False) -> str:
        if self.run is None:
            raise ValueError("this Result holds values only; the worked solution comes with "
                             "the Result that convgrad.solve returns")
        from convgrad.render.words import LANGUAGES

        if lang not in LANGUAGES:
            raise ValueError(f"lang must be 'en' or 'zh', not {lang!r}")
        if terms not in ("all", "auto", "none"):
            raise ValueError(f"terms must be 'all', 'auto' or 'none', not {terms!r}")
        import numpy as np

        from convgrad.render.formats import write

        with np.errstate(all="ignore"):  # as convgrad.solve: no NumPy warning reaches a user
            return write(self.run, fmt, explain, lang, terms, show_all, fragment)


def _same(a: Any, b: Any) -> bool:
    """Whether two values of a Result (arrays, numbers, lists, dicts of them) are equal:
    arrays by shape and entries."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def to_written(arr: np.ndarray, axes: tuple[int, ...] | None, shape: tuple[int, ...]
               ) -> np.ndarray:
    """model.to_written, and the user's own array, never the run's: the run keeps its arrays
    for the worked solution (to_markdown ...), which `result["dW"] *= 2` must not rewrite,
    and its exact arrays are read-only (their integers are kept beside them, see
    arith.exact), where a Result's values are not."""
    written = _to_written(arr, axes, shape)
    if written.flags.writeable and not np.may_share_memory(written, arr):
        return written
    return written.copy()


def _output(problem: Problem, arr: np.ndarray, step: Layer) -> np.ndarray:
    """A layer's batch-first output or its gradient as written (model.written_output): in
    the user's shapes and layout."""
    axes, shape = written_output(problem, arr.shape, step.layer.signal)
    return to_written(arr, axes, shape)


def _as_written(arr: np.ndarray | None, axes: tuple[int, ...] | None, shape: tuple[int, ...]
                ) -> Any:
    """A parameter's gradient or update in the user's shape and layout: a scalar bias gives
    the number itself (SPEC section 4), not a 0-d array."""
    if arr is None:
        return None
    written = to_written(arr, axes, shape)
    if shape != ():
        return written
    # the number itself: an int or Fraction, or a Python float where NumPy's float64 would
    # be one (repr "np.float64(9.0)"), as the loss is
    return written[()] if written.dtype == object else written.item()


def _param_values(problem: Problem, step: Layer) -> dict[str, Any]:
    """dW, db (and W_new, b_new) of a layer with parameters, in the user's shapes and
    layout (see model.written_param); {} for a layer without any."""
    values: dict[str, Any] = {}
    for p in step.params():
        axes, shape = written_param(problem, step.layer.op, p.letter, p.shape, p.value.shape)
        values[p.grad_key] = _as_written(p.grad, axes, shape)
        values[p.new_key] = _as_written(p.new, axes, shape)
    return values


def _round_values(problem: Problem, passes: list[Layer], round_: Round) -> dict[str, Any]:
    """One training round in `steps` (SPEC section 6): its loss and the updated parameters,
    W_new and b_new in the single-layer form, else `layers`: the name and updated parameters
    of each layer that has any."""
    def updated(step: Layer, params: list[Param]) -> dict[str, Any]:
        return {p.new_key: _as_written(p.new, *written_param(problem, step.layer.op, p.letter,
                                                             p.shape, p.value.shape))
                for p in params}

    values: dict[str, Any] = {"loss": round_.loss}
    if problem.single:
        values.update(updated(passes[0], round_.params[0]))
    else:
        values["layers"] = [{"name": step.layer.name, **updated(step, params)}
                            for step, params in zip(passes, round_.params, strict=True)
                            if params]
    return values


def _layer_values(problem: Problem, step: Layer) -> dict[str, Any]:
    """One layer's object in a network's results: name, type, output, d_output, and for a
    layer with weights dW and db (and W_new, b_new): dW in the kernel's shape as written."""
    layer = step.layer
    item: dict[str, Any] = {"name": layer.name, "type": layer.type,
                            "output": _output(problem, step.out, step),
                            "d_output": None if step.d_out is None else
                            _output(problem, step.d_out, step),
                            **_param_values(problem, step)}
    return {key: value for key, value in item.items() if value is not None}


# --- JSON: the one serialiser -------------------------------------------------------------


def json_text(values: Mapping[str, Any], exact: bool) -> str:
    """The text of `solve --json`: always valid JSON (never NaN or Infinity), every digit."""
    with unlimited_int_digits():
        return dumps(json_object(values, exact))


class _NotPlain(Exception):
    """A value that _write leaves to the json module (see dumps)."""


# Most of a small document is written before the json module would have finished importing;
# past this many values its C encoder is the quicker.
SMALL_DOCUMENT = 5000


def dumps(doc: Any) -> str:
    """json.dumps(doc, allow_nan=False), character for character.

    A small document of plain values (None, bool, int, float, str of printable ASCII
    without quotes or backslashes, lists, dicts with such keys), as solve's results are, is
    written here, which spares importing the json module (a third of a millisecond at every
    start); anything else, or a larger document, is json's to write.
    """
    out: list[str] = []
    try:
        _write(doc, out, [SMALL_DOCUMENT])
    except _NotPlain:
        import json

        return json.dumps(doc, allow_nan=False)
    return "".join(out)


def _write(value: Any, out: list[str], budget: list[int]) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotPlain
    kind = type(value)
    if kind is int:
        out.append(int.__repr__(value))
    elif kind is float and math.isfinite(value):
        out.append(float.__repr__(value))
    elif kind is str and _plain(value):
        out.append(f'"{value}"')
    elif kind is list:
        out.append("[")
        for k, item in enumerate(value):
            if k:
                out.append(", ")
            _write(item, out, budget)
        out.append("]")
    elif kind is dict:
        out.append("{")
        for k, (key, item) in enumerate(value.items()):
            if type(key) is not str or not _plain(key):
                raise _NotPlain
            out.append(f'{", " if k else ""}"{key}": ')
            _write(item, out, budget)
        out.append("}")
    elif value is None or kind is bool:
        out.append("null" if value is None else "true" if value else "false")
    else:
        raise _NotPlain


def _plain(text: str) -> bool:
    """A string that JSON writes as it is, between quotes (json escapes the others)."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def json_object(values: Mapping[str, Any], exact: bool) -> dict[str, Any]:
    """The `solve --json` object: JSON numbers, and when exact an `exact` twin of strings.

    Numbers are written by `json_number`; "conventions" is written as it is (every key,
    after the results); "warnings" is left out (they go to standard error). A float64
    result that is not a finite number has no JSON number: ProblemError.
    """
    numeric = {key: value for key, value in values.items()
               if key not in ("warnings", "conventions")}
    for key, value in numeric.items():
        if key == "layers":
            for k, layer in enumerate(value, start=1):
                for name, item in layer.items():
                    if name not in ("name", "type"):
                        _finite(item, f"layer {k} ({layer['name']}): {name}")
        else:
            _finite(value, key)
    with unlimited_int_digits():
        doc = {key: json_numbers(value) for key, value in numeric.items()}
        if "conventions" in values:
            doc["conventions"] = Result.conventions_json(values["conventions"].items())
        if exact:
            doc["exact"] = {key: exact_strings(value) for key, value in numeric.items()}
    return doc


def json_number(value: Any) -> int | float:
    """A number as JSON writes it: an exact integer as it is, whatever its size (JSON integers
    have no limit); any other number the nearest float64, and a fraction beyond float64's
    range (about 1.8e308) its nearest integer."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, Fraction):
        numerator, denominator = value.numerator, value.denominator
        if denominator == 1:
            return numerator
        try:
            return numerator / denominator  # float(value): int division rounds correctly
        except OverflowError:
            return round(value)
    return float(value)


def exact_string(value: Any) -> str:
    """A number as the `exact` object writes it: "7/2", "-1/3", "23" (every digit)."""
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    return exact_text(value)


def json_numbers(value: Any) -> Any:
    """A value (a number, an array, a network's layers) with JSON numbers (`json_number`) in
    nested lists; a layer's name and type stay as they are."""
    return _tree(value, json_number)


def exact_strings(value: Any) -> Any:
    """The same value with every number an exact string (`exact_string`)."""
    return _tree(value, exact_string)


# The limit is the process's, not a thread's: while any thread writes, it stays lifted, and
# the last one to leave puts back what the first one found. [threads inside, that limit]
_LIFTED: list[int] = [0, 0]
_LIFTED_LOCK = threading.Lock()


@contextmanager
def unlimited_int_digits() -> Iterator[None]:
    """Python's limit on writing an int (4,300 digits) lifted while convgrad writes its own
    results, and only then: reading input keeps the limit (YAML turns digits into ints).
    Threads may write at once: the limit comes back when the last one is done."""
    get = getattr(sys, "get_int_max_str_digits", None)
    if get is None:  # a Python without the limit
        yield
        return
    with _LIFTED_LOCK:
        if _LIFTED[0] == 0:
            _LIFTED[1] = get()
            sys.set_int_max_str_digits(0)
        _LIFTED[0] += 1
    try:
        yield
    finally:
        with _LIFTED_LOCK:
            _LIFTED[0] -= 1
            if _LIFTED[0] == 0:
                sys.set_int_max_str_digits(_LIFTED[1])


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


def _tree(value: Any, leaf: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {key: (item if key in ("name", "type") else _tree(item, leaf))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_tree(item, leaf) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype != object and leaf is json_number:
            return value.tolist()
        if value.ndim == 0:
            return leaf(value[()])
        # Each entry through leaf in one pass, then nested lists of the array's shape.
        return np.frompyfunc(leaf, 1, 1)(value).tolist()
    return leaf(value)
