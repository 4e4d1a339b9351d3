"""What every layer of a run is: forward, backward, update, and the terms of its numbers.

A layer object is made for one run from its description (`convgrad.model`: Conv, Pool ...)
and the run's arithmetic, then keeps what its passes computed, as CS231n's cache:
`x` and `out` after forward, `d_out` (dL/d out) and `dx` (dL/d x) after backward, and for
a layer with parameters `w`, `b`, `dw`, `db`, and `w_new`, `b_new` after an update.

Batches: a layer always gets x with the batch axis first, (N, C, H, W) or (N, K), also for
one sample (N = 1), and works on every sample at once (no Python loop over samples: conv
puts the im2col columns of every sample side by side for one matmul). `out`, `d_out` and
`dx` have the batch axis; the parameters and their gradients do not: dw and db are sums
over the samples. `layer.in_shape` and `layer.out_shape` (the description's) are one
sample's.

Terms: `terms(of, index)` writes one entry of `out`, `dx`, `dw` or `db` as a sum of
products over the layer's arrays (indices of x, out, dout and dx name the sample first:
(n, c, i, j); a dw or db entry sums over every sample), taken from the index maps that
the vectorized code uses (which inputs and weights an output is made of, which outputs a
gradient entry sums).
The kind-specific maps (`out_terms`, `dx_terms` ...) are what the trace prints; `terms`
is the same maps in one shape that any reader can evaluate (see `evaluate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import product, starmap
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar, get_args, overload

import numpy as np

from convgrad.arith import Numbers, normalized
from convgrad.model import Conventions
from convgrad.model import Layer as LayerSpec
from convgrad.numbers import Number, normalize

Index = tuple[int, ...]
# A factor of a term: an entry of one of the layer's arrays ("x", (n, c, i, j)), or a number.
Factor = tuple[str, Index] | Number
Term = tuple[Factor, ...]

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")

# How the trace writes out a kind without builders of its own (Layer.written_as).
WrittenAs = Literal["sums", "function"]
WRITTEN_AS: tuple[str, ...] = get_args(WrittenAs)


class Grid(Sequence[T]):
    """make(row, col) for every row and column, row-major, each made when it is read: a sum
    over 12,544 output positions costs only the terms that are shown."""

    def __init__(self, rows: Sequence[A], cols: Sequence[B], make: Callable[[A, B], T]) -> None:
        self.rows, self.cols, self.make = rows, cols, make

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    @overload
    def __getitem__(self, k: int) -> T: ...

    @overload
    def __getitem__(self, k: slice) -> list[T]: ...

    def __getitem__(self, k: int | slice) -> T | list[T]:
        if isinstance(k, slice):
            return [self[n] for n in range(len(self))[k]]
        if not -len(self) <= k < len(self):
            raise IndexError(k)
        i, j = divmod(k % len(self), len(self.cols))
        return self.make(self.rows[i], self.cols[j])

    def __iter__(self) -> Iterator[T]:
        # Sequence's own __iter__ calls __getitem__ (a length, a bounds check and a divmod)
        # for every item: reading a whole sum of 12,544 terms this way costs more than
        # writing it.
        return starmap(self.make, product(self.rows, self.cols))


class Param(NamedTuple):
    """One parameter of a layer in a run, and the result keys that report it."""

    letter: str  # w, b: how terms name its entries
    value: np.ndarray  # in the run's arithmetic, full shape (w: (F, C, KH, KW))
    shape: tuple[int, ...]  # as the user wrote it: its results mirror it
    grad: np.ndarray | None  # dL/d value, after backward
    new: np.ndarray | None  # value - lr * grad, after an update
    grad_key: str  # dW, db
    new_key: str  # W_new, b_new


class Layer:
    """A layer in a run. Subclasses set `kind`, which names their sections in the trace."""

    kind: ClassVar[str]
    # The kind's own sentences, by key as render/words.py's WORDS (fact.<kind>, why.<kind>,
    # rule.<kind>, why.<kind>_back, rule.<kind>_back): (English, Chinese). The built-in kinds
    # keep theirs in WORDS; a kind added with convgrad.layers.register brings its own here.
    words: ClassVar[dict[str, tuple[str, str]]] = {}
    # Which entries `terms` can write out as sums of products (a sigmoid's output cannot).
    expanded: tuple[str, ...] = ("out", "dx")
    # How the trace writes out a kind that has no builders of its own in trace.py
    # (`<kind>_forward` ...): "sums", every entry of `expanded` as the sum of products that
    # `terms` gives; "function", each output as a function of its group (FunctionLayer).
    written_as: ClassVar[WrittenAs] = "sums"
    # The steps a walkthrough (explain, and the documents' walkthroughs) adds to the
    # sections of this kind, by the section's kind: "padding", the input before and after
    # padding, as a step before the forward pass; "bias", the weights' section shows dL/dW
    # with its result, then dL/db as a step of its own; "uncovered", the input's section
    # says why an input that no window meets gets dL/dx = 0. No steps unless a class says so.
    walk_steps: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        """layer: the description (name, type, op, in_shape, out_shape); num: the run's
        arithmetic, into which a subclass takes its parameters and constants."""
        self.layer = layer
        self.x: np.ndarray
        self.out: np.ndarray
        self.d_out: np.ndarray | None = None
        self.dx: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.layer.name

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, *layer.in_shape) -> out (N, *layer.out_shape); keeps x, out and its cache."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout = dL/d out (N, ...) -> dx = dL/d x (N, ...); sets the parameters' gradients
        (summed over the samples) when it has any."""
        raise NotImplementedError

    def update(self, lr: Number) -> None:
        """One step of gradient descent on the parameters (nothing without parameters)."""

    def params(self) -> list[Param]:
        """The parameters, with their gradients and updates: [] for a layer without any."""
        return []

    def load_params(self, values: dict[str, np.ndarray]) -> None:
        """Start from these parameter values instead of the described ones (a training round
        after the first), by letter: {"w": ..., "b": ...}, in the run's arithmetic. A
        parameter's letter is the name of the attribute that holds it."""
        for letter, value in values.items():
            setattr(self, letter, value)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that terms refer to, by name: x, out, dout, dx, and the parameters'."""
        named = {"x": self.x, "out": self.out}
        if self.d_out is not None:
            named["dout"] = self.d_out
        if self.dx is not None:
            named["dx"] = self.dx
        for p in self.params():
            named[p.letter] = p.value
            if p.grad is not None:
                named["d" + p.letter] = p.grad
        return named

    def terms(self, of: str, index: Index) -> list[Term]:
        """Entry `index` of the array `of` (out, dx, dw, db) as a sum of products; `of` is one
        of `expanded`."""
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """Fields for the words that describe the layer (render/words.py: fact.<kind> ...)."""
        return {}

    def meets(self, requirement: str) -> bool | None:
        """Whether this run's numbers meet a template's requirement at this layer (generate's
        `require`: max_tie, relu_kink, uncovered); None: the requirement is not about its kind."""
        return None

    def depends_on(self, key: str) -> bool | None:
        """Whether the value of convention `key` (SPEC section 7) can change this layer's
        results; None: the key is not about its kind (generate: which keys a variant can
        distinguish). Keys read from how the problem is written (layout, same_padding,
        index_base) are not asked."""
        return None

    @classmethod
    def conventions_met(cls, op: Any, conventions: Conventions,
                        number: Callable[[Number], str]) -> list[str]:
        """The conventions (SPEC section 7) that a layer described by `op` makes its answers
        depend on, in words for students (render/convention_words.py), with `number` writing
        a value: [] for a kind that meets none."""
        return []

    def _set_out(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        self.x, self.out = x, normalized(out)
        return self.out

    def _set_dx(self, dout: np.ndarray, dx: np.ndarray) -> np.ndarray:
        self.d_out, self.dx = dout, normalized(dx)
        return self.dx


class FunctionLayer(Layer):
    """A layer without parameters whose every output is a function of a group of its inputs
    (softmax). The trace writes such a layer out from these maps alone, with its words
    (render/words.py: fact.<kind>, why.<kind>, rule.<kind>, why.<kind>_back, rule.<kind>_back):
    each output as fn(its group), each input's gradient as the Jacobian product."""

    expanded = ("dx",)  # an output is not a sum of products of inputs; a gradient entry is
    written_as = "function"

    def out_terms(self, index: Index) -> tuple[list[Index], int]:
        """out[index] = fn(x[group])_k: the group of inputs (of index's sample), and k, which
        of fn's outputs."""
        raise NotImplementedError

    def dx_terms(self, index: Index) -> list[tuple[Index, Number]]:
        """dx[index] = sum of dout[o] * d out[o] / d x[index]: [(o, d out[o] / d x[index])]."""
        raise NotImplementedError

    def terms(self, of: str, index: Index) -> list[Term]:
        return [(("dout", o), d) for o, d in self.dx_terms(index)]


class ParamLayer(Layer):
    """A layer with weights w and a bias b (conv, dense): gradients dw, db and an update."""

    expanded = ("out", "dw", "db", "dx")

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.w: np.ndarray
        self.b: np.ndarray
        self.dw: np.ndarray | None = None
        self.db: np.ndarray | None = None
        self.w_new: np.ndarray | None = None
        self.b_new: np.ndarray | None = None

    # w as the user wrote it (a conv kernel may be 2-D or 3-D); dW and W_new mirror it.
    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(self.w.shape)

    # the bias as the user wrote it: () for a single number on one filter, else (F,)
    @property
    def bias_shape(self) -> tuple[int, ...]:
        return tuple(self.b.shape)

    def update(self, lr: Number) -> None:
        assert self.dw is not None and self.db is not None
        self.w_new = normalize(self.w - lr * self.dw)
        self.b_new = normalize(self.b - lr * self.db)

    def params(self) -> list[Param]:
        return [Param("w", self.w, self.kernel_shape, self.dw, self.w_new, "dW", "W_new"),
                Param("b", self.b, self.bias_shape, self.db, self.b_new, "db", "b_new")]

    def _set_grads(self, dw: np.ndarray, db: np.ndarray) -> None:
        self.dw, self.db = normalized(dw), normalized(db)


def evaluate(terms: list[Term], arrays: dict[str, np.ndarray]) -> Any:
    """The sum of the products `terms` stand for, in the arithmetic of `arrays` (0: none)."""
    total: Any = 0
    for term in terms:
        product: Any = 1
        for factor in term:
            product = product * (arrays[factor[0]][factor[1]] if isinstance(factor, tuple)
                                 else factor)
        total = total + product
    return total
