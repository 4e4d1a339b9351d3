"""The problem as data: what the engine computes, built by reader.py, with no input or output.

A Problem holds the input, the layers in order (a description per kind of layer: Conv,
Activation, Pool, Flatten, Dense, Softmax, ConvTranspose, BatchNorm) and the objective (a
target and a loss, or dL/dY given), already checked: shapes fit, numbers are numbers, names
are known. The conventions that decide how results are shown (the user's shapes, a scalar
bias) live here too, once.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import ClassVar

import numpy as np

from convgrad.errors import Notice, ProblemError
from convgrad.numbers import Number
from convgrad.records import field, record

# Memory for one solve, estimated from the shapes before any array is allocated. A value
# that a pass keeps or makes (the padded input, the im2col matrix, every output and gradient)
# costs FLOAT_BYTES in float64 arithmetic, EXACT_BYTES as an exact object (a pointer, an int
# or Fraction); a value that solve reports (each layer's output and its gradient, dX) costs
# REPORT_BYTES more when it is written out as JSON. Measured on solve --json, with room to
# spare: a problem within MAX_WORK_BYTES stays within about 1 GiB.
MAX_WORK_BYTES = 512 * 2**20
FLOAT_BYTES = 8
EXACT_BYTES = 48
REPORT_BYTES = {False: 72, True: 200}  # float64, exact

ACTIVATIONS = ("none", "relu", "leaky_relu", "sigmoid", "tanh")
LOSSES = ("mse", "sse", "half_sse", "mae", "bce", "cross_entropy", "nll", "cross_entropy_probs")
# Losses with a log or an exp: float64 only (SPEC section 2 and 6).
IRRATIONAL_LOSSES = ("bce", "cross_entropy", "cross_entropy_probs")
# Losses over a distribution (a target that sums to 1): per sample, or with `over: channels`
# at each position over the channels (SPEC section 6).
DISTRIBUTION_LOSSES = ("cross_entropy", "nll", "cross_entropy_probs")
LOSS_OVER = ("all", "channels")
POOL_TYPES = ("max", "avg")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
SOFTMAX_DIMS = ("channels", "all")
DEFAULT_SLOPE = Fraction(1, 100)
BATCH_NORM_MODES = ("train", "eval")
DEFAULT_EPS = Fraction(1, 100000)  # PyTorch's BatchNorm eps, 1e-5
LAYER_TYPES = ("conv", *ACTIVATIONS[1:], "max_pool", "avg_pool", "flatten", "dense", "softmax",
               "log_softmax", "conv_transpose", "batch_norm", "conv1d")


# --- conventions (SPEC section 7) -----------------------------------------------------------

# Each convention key and its values, the default (PyTorch's) first.
CONVENTION_VALUES: dict[str, tuple] = {
    "same_padding": ("end", "start", "symmetric"),
    "pool_ceil": (False, True),
    "pool_padding": (0,),  # or an int, a pair [ph, pw], or "same" (checked by the reader)
    "avg_count_padding": (True, False),
    "max_ties": ("first", "last", "all", "split"),
    "kink": (0, 1, Fraction(1, 2)),
    "layout": ("NCHW", "NHWC"),
    "kernel_layout": ("OIHW", "HWIO"),
    "flatten": ("CHW", "HWC"),
    "dense_weights": ("out_in", "in_out"),
    "conv": ("cross_correlation", "convolution"),
    "index_base": (1, 0),
}

# The profiles: only these keys; a default a profile leaves alone (a leaky slope) stays SPEC's.
PROFILES: dict[str, dict[str, object]] = {
    "pytorch": {},
    "tensorflow": {"avg_count_padding": False, "layout": "NHWC", "kernel_layout": "HWIO",
                   "flatten": "HWC", "dense_weights": "in_out"},
    "caffe": {"same_padding": "symmetric", "pool_ceil": True},
    "cs231n": {"same_padding": "symmetric", "dense_weights": "in_out", "index_base": 0},
    "coursera": {"same_padding": "symmetric", "max_ties": "all", "layout": "NHWC",
                 "kernel_layout": "HWIO", "flatten": "HWC", "dense_weights": "in_out"},
    "textbook": {"conv": "convolution"},
}


@record(frozen=True)
class Conventions:
    """The conventions in force (SPEC section 7): a profile's values, then the problem's own
    keys on top. `profile` names the profile applied (pytorch by default)."""

    profile: str = "pytorch"
    same_padding: str = "end"
    pool_ceil: bool = False
    pool_padding: int | tuple[int, int] | str = 0
    avg_count_padding: bool = True
    max_ties: str = "first"
    kink: Number = 0
    layout: str = "NCHW"
    kernel_layout: str = "OIHW"
    flatten: str = "CHW"
    dense_weights: str = "out_in"
    conv: str = "cross_correlation"
    index_base: int = 1

    @property
    def map_axes(self) -> tuple[int, ...] | None:
        """How batch-first maps (N, C, H, W) are written: NHWC moves the channels last;
        None: as the run holds them."""
        return (0, 2, 3, 1) if self.layout == "NHWC" else None

    def weight_axes(self, op: Op) -> tuple[int, ...] | None:
        """How the weights of `op` are written: a kernel (F, C/groups, KH, KW), or a
        transposed convolution's (C_in, F/groups, KH, KW), in HWIO as (KH, KW, C/groups, F)
        and (KH, KW, F/groups, C_in), as TensorFlow's; dense weights (M, K) in_out as (K, M).
        None: as the run holds them."""
        if op.weights == "kernel" and self.kernel_layout == "HWIO":
            return (2, 3, 1, 0)
        if op.weights == "dense" and self.dense_weights == "in_out":
            return (1, 0)
        return None

    def items(self) -> list[tuple[str, object]]:
        """Every key with its value, in SPEC's order (the profile first)."""
        return [("profile", self.profile),
                *((key, getattr(self, key)) for key in CONVENTION_VALUES)]

    @property
    def own(self) -> dict[str, object]:
        """The keys whose value is not the profile's (set by the problem on top of it)."""
        base = Conventions.of_profile(self.profile)
        return {key: value for key, value in self.items()[1:] if getattr(base, key) != value}

    @staticmethod
    def of_profile(name: str, **own: object) -> Conventions:
        """A profile's conventions, with the keys of `own` on top."""
        return Conventions(profile=name, **{**PROFILES[name], **own})  # type: ignore[arg-type]


# --- the validated problem -----------------------------------------------------


class Op:
    """What every layer description answers, whatever its kind of layer. Each kind also says
    whether it keeps exact numbers exact: `rational`."""

    # What its weights are, for the conventions that say how they are written
    # (Conventions.weight_axes): a conv kernel, dense weights, or none.
    weights: ClassVar[str] = ""

    @property
    def rational(self) -> bool:
        """Whether the layer keeps exact numbers exact (no exp, log or square root): each kind
        says, as a constant or (an activation) from its function."""
        raise NotImplementedError

    def arrays(self) -> list[np.ndarray]:
        """The layer's arrays of numbers (its weights and bias): [] for a layer without any."""
        return []

    @property
    def taps(self) -> int:
        """Multiply-adds per output value of one forward pass (0 for a layer without
        weights), to size exact arithmetic."""
        return 0


class Weighted(Op):
    """A description with weights w and a bias b (conv, dense)."""

    w: np.ndarray
    b: np.ndarray

    def arrays(self) -> list[np.ndarray]:
        return [self.w, self.b]

    @property
    def taps(self) -> int:
        return int(np.prod(self.w.shape[1:]))


@record(eq=False, repr=False)  # arrays inside: == would be ambiguous
class Conv(Weighted):
    """A convolution, as PyTorch's Conv2d: w (F, C/groups, KH, KW), b (F,); pad = (top,
    bottom, left, right), filled as padding_mode says (zeros, or copies of input cells:
    reflect, replicate, circular). Filter f reads the input channels of its group,
    g = f // (F/groups): channels g*C/groups .. (g+1)*C/groups - 1."""

    w: np.ndarray
    b: np.ndarray
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]
    dilation: tuple[int, int]
    flip: bool
    kernel_shape: tuple[int, ...]  # as the user wrote it (in OIHW's order); dW mirrors it
    bias_scalar: bool
    padding_text: str  # "0", "same", "[1, 2]": as written, for the echo
    groups: int = 1
    padding_mode: str = "zeros"  # one of PADDING_MODES
    # The kernel's shape as written where kernel_layout HWIO reorders it (SPEC section 7).
    kernel_written: tuple[int, ...] | None = None
    rational: ClassVar[bool] = True  # keeps exact numbers exact
    weights: ClassVar[str] = "kernel"


@record(repr=False)
class Activation(Op):
    """An elementwise activation. kink: the convention's relu'(0) (SPEC section 7);
    leaky_relu'(0) = slope + kink*(1 - slope), between the slopes on either side."""

    name: str  # relu | leaky_relu | sigmoid | tanh
    slope: Number = DEFAULT_SLOPE
    kink: Number = 0

    @property
    def rational(self) -> bool:
        return self.name not in ("sigmoid", "tanh")


@record(repr=False)
class Pool(Op):
    """Max or average pooling, with the pooling conventions (SPEC section 7): pad (top,
    bottom, left, right) of -infinity for max, of cells an average counts or not
    (count_padding) for avg; ceil: the output size rounds up; ties: which tied maxima get
    a window's gradient (first, last, all, split)."""

    kind: str  # max | avg
    size: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil: bool = False
    count_padding: bool = True
    ties: str = "first"
    padding_text: str = "0"  # the pool_padding convention as written: 0, 1, [1, 0], same
    rational: ClassVar[bool] = True


@record(repr=False)
class Flatten(Op):
    """C x H x W maps -> one vector, in the flatten convention's order (SPEC section 7):
    CHW (channel, then row, then column: PyTorch's) or HWC (row, then column, then channel:
    Keras' Flatten on NHWC maps, the channel fastest)."""

    order: str = "CHW"
    rational: ClassVar[bool] = True


@record(eq=False, repr=False)  # arrays inside: == would be ambiguous
class Dense(Weighted):
    """A fully connected layer as PyTorch's Linear: y = w x + b, w (M, N), b (M,)."""

    w: np.ndarray
    b: np.ndarray
    bias_scalar: bool
    rational: ClassVar[bool] = True
    weights: ClassVar[str] = "dense"


@record(repr=False)
class Softmax(Op):
    """softmax at each position over the channels of C x H x W maps, or over every value."""

    dim: str  # channels | all
    rational: ClassVar[bool] = False


@record(repr=False)
class LogSoftmax(Softmax):
    """log_softmax over the same groups as softmax: x - log of the group's sum of e^x."""


@record(eq=False, repr=False)  # arrays inside: == would be ambiguous
class ConvTranspose(Weighted):
    """A transposed convolution, as PyTorch's ConvTranspose2d: w (C, F/groups, KH, KW) (input
    channels first), b (F,); pad = (ph, pw), the same on both sides; output_padding (oh, ow)
    extra rows and columns at the bottom and right."""

    w: np.ndarray
    b: np.ndarray
    stride: tuple[int, int]
    pad: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    kernel_shape: tuple[int, ...]  # as the user wrote it (in OIHW's order); dW mirrors it
    bias_scalar: bool
    # The kernel's shape as written where kernel_layout HWIO reorders it (SPEC section 7).
    kernel_written: tuple[int, ...] | None = None
    rational: ClassVar[bool] = True  # keeps exact numbers exact
    weights: ClassVar[str] = "kernel"

    @property
    def taps(self) -> int:
        """The most taps one output value gets: (C/groups) input channels times the kernel
        offsets whose stride phase can land on it (every offset at stride 1; about 1 in
        stride/gcd(stride, dilation) of them otherwise)."""
        C, _, KH, KW = self.w.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        rows = -(-KH // (sh // math.gcd(sh, dh)))
        cols = -(-KW // (sw // math.gcd(sw, dw)))
        return C // self.groups * rows * cols


@record(eq=False, repr=False)  # arrays inside: == would be ambiguous
class BatchNorm(Op):
    """Batch normalisation over the channels of maps (C, H, W) or the units of a vector (K,),
    as PyTorch's BatchNorm2d / BatchNorm1d: y = gamma * (x - mean) / sqrt(var + eps) + beta.
    gamma, beta, running_mean, running_var: (C,). mode train takes mean and var from the
    batch (over N, H, W; biased var), mode eval from running_mean and running_var."""

    gamma: np.ndarray
    beta: np.ndarray
    eps: Number
    mode: str  # train | eval
    running_mean: np.ndarray
    running_var: np.ndarray
    rational: ClassVar[bool] = False  # a square root

    def arrays(self) -> list[np.ndarray]:
        return [self.gamma, self.beta, self.running_mean, self.running_var]


@record(eq=False, repr=False)  # arrays inside: == would be ambiguous
class Layer:
    name: str  # conv1, relu1, pool1, flatten1, fc1 (SPEC section 5)
    type: str  # the key as written: conv, relu, max_pool, dense, ...
    op: Op  # its kind's description: Conv, Activation, Pool ...
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    # C x L signals (a conv1d layer, and the layers after it up to flatten): the layers see
    # C x 1 x L maps, one engine for both, and results show C x L (user_output_shape).
    signal: bool = False


@record(eq=False, repr=False)  # arrays inside: == would be ambiguous
class Problem:
    """A problem ready for the engine. x is one sample, (C, H, W), or (K,) before a dense
    layer; with `batched`, a batch of them with the batch axis first, (N, C, H, W) or (N, K).
    Layers' in_shape and out_shape are one sample's. The engine always runs a batch: one
    sample is a batch of one (`batch_first`), and its results show no batch axis."""

    source: str
    x: np.ndarray
    x_shape: tuple[int, ...]  # as written, channels first (NCHW's order); dX mirrors it
    layers: list[Layer]
    single: bool  # the single-layer form (no `layers` key)
    name: str | None = None
    target: np.ndarray | None = None  # in the last layer's full shape
    loss: str | None = None
    loss_over: str = "all"  # all | channels: what a distribution loss sums over
    grad_output: np.ndarray | None = None  # in the last layer's full shape
    learning_rate: Number | None = None
    batched: bool = False  # x, target and grad_output have the batch axis first
    steps: int | None = None  # rounds of forward, backward and update (training steps)
    warnings: list[Notice] = field(default_factory=list)  # the reader's
    lines: dict[tuple, int] = field(default_factory=dict, repr=False)
    # Values the passes keep or make, and values solve reports (see MAX_WORK_BYTES).
    work: tuple[int, int] = (0, 0)
    conventions: Conventions = field(default_factory=Conventions)
    # The input's shape as written where layout NHWC reorders it (SPEC section 7).
    x_written: tuple[int, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The input's shape as written, in its layout (x_shape in NCHW)."""
        return self.x_written or self.x_shape

    def work_bytes(self, exact: bool) -> int:
        """Memory that solving needs, estimated from the shapes, in float64 or exact
        arithmetic. The reader refuses a problem whose float64 figure passes
        MAX_WORK_BYTES; exact arithmetic may still not fit where float64 does."""
        kept, reported = self.work
        return kept * (EXACT_BYTES if exact else FLOAT_BYTES) + reported * REPORT_BYTES[exact]

    @property
    def rational(self) -> bool:
        """True when every number is exact and every step keeps it so.

        Not rational: sigmoid, tanh, softmax, bce, cross_entropy(_probs), and float64 arrays given
        through the API (their numbers were never written as decimals).
        """
        if self.loss in IRRATIONAL_LOSSES:
            return False
        if any(arr.dtype != object for arr in self.arrays()):
            return False  # float64 arrays handed to the API stay float64
        return all(layer.op.rational for layer in self.layers)

    def arrays(self) -> list[np.ndarray]:
        """Every array of numbers in the problem."""
        out = [self.x]
        for layer in self.layers:
            out += layer.op.arrays()
        return out + [a for a in (self.target, self.grad_output) if a is not None]

    @property
    def multiply_adds(self) -> int:
        """Multiply-adds of a forward pass of every sample, in every training round, to size
        exact arithmetic."""
        return (self.steps or 1) * self.samples * sum(int(np.prod(layer.out_shape)) * layer.op.taps
                                  for layer in self.layers)

    @property
    def samples(self) -> int:
        """The batch's size N: 1 for an unbatched problem."""
        return int(self.x.shape[0]) if self.batched else 1

    def batch_first(self, arr: np.ndarray) -> np.ndarray:
        """An array of the problem's samples (the input, target or grad_output) as the layers
        take it, with the batch axis first: (1, ...) for an unbatched problem."""
        return arr if self.batched else arr[np.newaxis]

    def as_written(self, arr: np.ndarray) -> np.ndarray:
        """A batch-first array of the run (an output, a gradient) as results show it: without
        the batch axis for an unbatched problem."""
        return arr if self.batched else arr[0]

    @property
    def has_backward(self) -> bool:
        return self.target is not None or self.grad_output is not None

    def error(self, key: str | tuple, message: str, arithmetic: str | None = None
              ) -> ProblemError:
        """A ProblemError for `key` (or a path to it, ("layers", 2)), located at its line when
        the file gave one."""
        path = key if isinstance(key, tuple) else (key,)
        return Where(self.source, self.lines).error(path, message, arithmetic)


# --- naming a key in a message ---------------------------------------------------------


def dotted(path: tuple) -> str:
    """A key's path as users write it: ("layers", 0, "conv", "kernel") -> layers[1].conv.kernel"""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class Where:
    """Names a key in an error message, with its line when the file gave one."""

    def __init__(self, source: str, lines: dict[tuple, int]) -> None:
        self.source = source
        self.lines = lines

    def line(self, path: tuple) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: tuple, message: str, arithmetic: str | None = None) -> ProblemError:
        line = self.line(path)
        where = self.source + (f", line {line}" if line else "")
        return ProblemError(f"{where}: '{dotted(path)}' {message}", arithmetic=arithmetic)


# --- results in the user's shapes (SPEC sections 1 and 5) ---------------------------------


def squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape without its length-1 axes: two shapes that agree here hold the same values
    (a target of 1 x 4 for a 4-vector output, an answer `db: 9` for `db: [9]`)."""
    return tuple(n for n in shape if n != 1)


def user_output_shape(problem: Problem, shape: tuple[int, ...], signal: bool = False
                      ) -> tuple[int, ...]:
    """A layer output's shape as SPEC shows it: Ho x Wo for one filter on a 2-D input in the
    single-layer form; a network and a batch keep full shapes (C x H x W, or a vector; a
    batch's outputs have the batch axis first, N x F x Ho x Wo).

    signal: the output is C x L signals, which the layers hold as C x 1 x L (Layer.signal):
    shown C x L, and in the single-layer 1-D form (one filter, SPEC section 6) L alone;
    `shape` may have the batch axis first."""
    if signal:
        shape = (*shape[:-2], shape[-1])
        return (*shape[:-2], shape[-1]) if problem.single else shape
    if problem.batched:
        return shape
    if problem.single and len(problem.x_shape) <= 2 and len(shape) == 3 and shape[0] == 1:
        return shape[1:]
    return shape


def user_param_shape(problem: Problem, written: tuple[int, ...], full: tuple[int, ...]
                     ) -> tuple[int, ...]:
    """The shape of a parameter's gradient and update (dW and W_new, db and b_new) as SPEC
    shows them: as the user wrote the parameter (dW as the kernel; db one number when the
    single-layer form wrote one number for one filter). A network's db is a list whatever form
    its bias took (SPEC section 5): a parameter written as one number shows at `full` shape.

    written: the parameter's shape as written, () for one number; full: its shape in the run.
    In a batch, db is a list of F (SPEC section 6) even for one number on one filter.
    """
    return written if (problem.single and not problem.batched) or written else full


def written_param(problem: Problem, op: Op, letter: str, written: tuple[int, ...],
                  full: tuple[int, ...]) -> tuple[tuple[int, ...] | None, tuple[int, ...]]:
    """How a parameter's value, gradient and update (w or b of `op`; full: its shape in the
    run; written: as the user wrote it) are written: (axes, shape), as written_output. A
    kernel in HWIO and dense weights in_out are transposed (Conventions.weight_axes)."""
    shape = user_param_shape(problem, written, full)
    axes = problem.conventions.weight_axes(op) if letter == "w" else None
    if axes is not None and op.weights == "dense":
        shape = tuple(full[a] for a in axes)  # always out x in in the run: in x out
    elif axes is not None:
        shape = getattr(op, "kernel_written", None) or shape
    return axes, shape


def reshaped_index(index: tuple[int, ...], shape: tuple[int, ...], new_shape: tuple[int, ...]
                   ) -> tuple[int, ...]:
    """The index of the same element after a reshape (row-major), in plain ints."""
    flat = 0
    for i, n in zip(index, shape, strict=True):
        flat = flat * n + int(i)
    out = []
    for n in reversed(new_shape):
        flat, i = divmod(flat, n)
        out.append(i)
    return tuple(reversed(out))


# --- layouts (SPEC section 7): arrays as written, arrays as the run holds them ---------------


def written_output(problem: Problem, full: tuple[int, ...], signal: bool = False
                   ) -> tuple[tuple[int, ...] | None, tuple[int, ...]]:
    """How a run's batch-first array of one layer's outputs, `full` = (N, C, H, W) or (N, K),
    is written: (axes, shape), the array transposed by axes (None: not at all), then reshaped
    to shape. The axes user_output_shape drops (the batch axis of one sample, one filter's
    channel axis, a signal's row) are dropped here too; NHWC writes the channels last."""
    kept = list(range(len(full)))
    if not problem.batched:
        kept.remove(0)
    axes = None
    if len(full) == 4:
        axes = problem.conventions.map_axes
        if signal:
            kept.remove(2)
            if problem.single:
                kept.remove(1)
        elif problem.single and not problem.batched and len(problem.x_shape) <= 2 and \
                full[1] == 1:
            kept.remove(1)
    order = axes or tuple(range(len(full)))
    return axes, tuple(full[a] for a in order if a in kept)


def input_axes(problem: Problem) -> tuple[int, ...] | None:
    """How the run's batch-first input (N, C, H, W) or (N, K) is written (as x_shape, after
    these axes)."""
    return problem.conventions.map_axes if problem.x.ndim + (not problem.batched) == 4 \
        else None


def to_written(arr: np.ndarray, axes: tuple[int, ...] | None, shape: tuple[int, ...]
               ) -> np.ndarray:
    """A run's array as written: transposed by axes (None: not), then reshaped to shape."""
    return (arr if axes is None else arr.transpose(axes)).reshape(shape)


def from_written(arr: np.ndarray, axes: tuple[int, ...] | None, full: tuple[int, ...]
                 ) -> np.ndarray:
    """An array as written (any shape of full's size after `axes`) as the run holds it:
    `full`, the inverse of to_written."""
    if axes is None:
        return arr.reshape(full)
    return arr.reshape(tuple(full[a] for a in axes)).transpose(np.argsort(axes))


def written_index(index: tuple[int, ...], full: tuple[int, ...], axes: tuple[int, ...] | None,
                  shape: tuple[int, ...]) -> tuple[int, ...]:
    """The index, in the written array of `shape` (see to_written), of the run's entry
    `index` in `full`."""
    if axes is not None:
        index = tuple(index[a] for a in axes)
        full = tuple(full[a] for a in axes)
    return reshaped_index(index, full, shape)
