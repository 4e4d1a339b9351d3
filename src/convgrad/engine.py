"""Forward and backward passes, vectorized with NumPy. Knows nothing of YAML or printing.

Every layer is a pair of functions in the CS231n manner: ``*_forward`` returns
its output, ``*_backward`` takes dout (dL/d output) and returns dx and the
parameter gradients. The same code serves float64 arrays and exact arrays
(object dtype holding int/Fraction): dtype is data. The only place where the
two differ is `matmul`, which runs exact products as one integer matmul.

Where things are computed:
- conv: `conv_forward` (Z), `conv_backward` (dX, dW, db)
- activations, pooling, flatten, dense: `*_forward` / `*_backward`
- losses: `loss_forward` (L) and `loss_backward` (dL/dY)
- a whole problem: `run`, which chains the layers forward, then backward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from convgrad import geometry
from convgrad.errors import FLOAT64_MEMORY, FLOAT64_SIZE, Notice, ProblemError
from convgrad.model import (
    MAX_WORK_BYTES,
    Activation,
    Conv,
    Dense,
    Flatten,
    Layer,
    Pool,
    Problem,
)
from convgrad.numbers import Number, exact_const, normalize, to_exact, to_float

# Automatic exact arithmetic up to this many multiply-adds of one forward pass
# (SPEC: homework size); asking for exact arithmetic lifts it.
EXACT_LIMIT = 1_000_000


# --- arithmetic shared by both modes --------------------------------------------------


def zeros(shape: tuple[int, ...], like: np.ndarray) -> np.ndarray:
    """Zeros of the arithmetic of `like`: int 0 in an object array, or float64."""
    return np.zeros(shape, dtype=object if like.dtype == object else np.float64)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b, exact for object arrays: scale each side to integers, one integer matmul, divide once.

    Fraction-by-Fraction products cost a gcd each; scaling to a common
    denominator keeps the inner loop in machine integers (int64 when the bound
    allows, Python ints when it does not).
    """
    if a.dtype != object and b.dtype != object:
        return a @ b
    product, denominator = scaled_matmul(a, b)
    return _divide(product, denominator)


def scaled_matmul(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """a (M, K) @ b (K, N) for exact arrays as (integers (M, N), denominator).

    a @ b == integers / denominator. Callers that go on adding (the dX scatter) keep the
    integers and divide once at the end. The integers are Python ints, whatever their size.
    """
    ia, da = _scaled_ints(to_exact(a))
    ib, db = _scaled_ints(to_exact(b))
    max_a, max_b = _max_abs(ia), _max_abs(ib)
    if max_a == 0 or max_b == 0:
        # A zero operand (a zero filter, a gradient zeroed by ReLU) gives zeros, however
        # large the other side's numbers are.
        return np.zeros((a.shape[0], b.shape[1]), dtype=object), 1
    # Every entry of the product and every partial sum is at most K * max_a * max_b; with
    # both maxima >= 1 that bound also keeps each operand's entries within int64.
    if max_a * max_b * a.shape[1] < 2**63:
        product = (ia.astype(np.int64) @ ib.astype(np.int64)).astype(object)
    else:
        product = ia @ ib  # Python ints: exact at any size
    return product, da * db


def _scaled_ints(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """arr (object ints/Fractions) = ints / denominator, with the smallest common denominator."""
    denominators = {v.denominator for v in arr.flat}
    common = math.lcm(*denominators) if denominators else 1
    if common == 1:
        return arr, 1
    scale = np.frompyfunc(lambda v: v.numerator * (common // v.denominator), 1, 1)
    return np.asarray(scale(arr), dtype=object).reshape(arr.shape), common


def _max_abs(arr: np.ndarray) -> int:
    return max((abs(int(v)) for v in arr.flat), default=0)


def _divide(arr: np.ndarray, denominator: int) -> np.ndarray:
    if denominator == 1:
        return arr
    divide = np.frompyfunc(lambda n: _int_or_fraction(n, denominator), 1, 1)
    return np.asarray(divide(arr), dtype=object).reshape(arr.shape)


def _int_or_fraction(n: int, d: int) -> Number:
    f = Fraction(n, d)
    return f.numerator if f.denominator == 1 else f


# --- convolution ----------------------------------------------------------------------


def pad_input(x: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    """x (C, H, W) -> x_pad (C, H + top + bottom, W + left + right), zeros around."""
    C, H, W = x.shape
    top, bottom, left, right = pad
    if not any(pad):
        return x
    x_pad = zeros((C, H + top + bottom, W + left + right), x)
    x_pad[:, top:top + H, left:left + W] = x
    return x_pad


def im2col(x_pad: np.ndarray, KH: int, KW: int, stride: tuple[int, int],
           dilation: tuple[int, int], OH: int, OW: int) -> np.ndarray:
    """x_pad (C, Hp, Wp) -> cols (C*KH*KW, OH*OW): column i*OW + j is the window of output (i, j).

    Rows run over (c, p, q) in the order of w.reshape(F, -1), so one matmul
    with the kernel gives every output at once.
    """
    C = x_pad.shape[0]
    sh, sw = stride
    dh, dw = dilation
    windows = sliding_window_view(x_pad, (dh * (KH - 1) + 1, dw * (KW - 1) + 1), axis=(1, 2))
    windows = windows[:, :sh * (OH - 1) + 1:sh, :sw * (OW - 1) + 1:sw, ::dh, ::dw]
    return windows.transpose(0, 3, 4, 1, 2).reshape(C * KH * KW, OH * OW)


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: tuple[int, int],
                 pad: tuple[int, int, int, int], dilation: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlation: Z[f,i,j] = b[f] + sum_{c,p,q} x_pad[c, i*sh+p*dh, j*sw+q*dw] w[f,c,p,q].

    x: (C, H, W), w: (F, C, KH, KW), b: (F,) -> z: (F, OH, OW), and the im2col
    matrix cols (C*KH*KW, OH*OW) that conv_backward reuses for dW.
    """
    F, C, KH, KW = w.shape
    _, H, W = x.shape
    top, bottom, left, right = pad
    OH = geometry.conv_output_size(H, top, bottom, KH, stride[0], dilation[0])
    OW = geometry.conv_output_size(W, left, right, KW, stride[1], dilation[1])
    x_pad = pad_input(x, pad)
    cols = im2col(x_pad, KH, KW, stride, dilation, OH, OW)
    z = matmul(w.reshape(F, C * KH * KW), cols).reshape(F, OH, OW) + b.reshape(F, 1, 1)
    return z, cols


def conv_backward(dout: np.ndarray, x_shape: tuple[int, ...], w: np.ndarray, cols: np.ndarray,
                  stride: tuple[int, int], pad: tuple[int, int, int, int],
                  dilation: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout (F, OH, OW) -> dx (C, H, W), dw (F, C, KH, KW), db (F,).

    dW is the correlation of the input windows with dout: one matmul with cols.
    dX scatters dout through each kernel offset (p, q) into dx_pad, adding up
    where windows overlap, then drops the padding: a loop over the KH*KW
    offsets, never over output pixels.
    """
    F, C, KH, KW = w.shape
    _, OH, OW = dout.shape
    sh, sw = stride
    dh, dw_ = dilation
    top, bottom, left, right = pad
    _, H, W = x_shape
    dout2 = dout.reshape(F, OH * OW)
    db = dout2.sum(axis=1)
    dw = matmul(dout2, cols.T).reshape(F, C, KH, KW)
    # Rows ordered (p, q, c), so that each kernel offset's block of dcols is contiguous.
    w2t = w.transpose(2, 3, 1, 0).reshape(KH * KW * C, F)
    if dout2.dtype == object:
        # Exact: scatter the integers of one common denominator, divide once at the end.
        dcols, denominator = scaled_matmul(w2t, dout2)
    else:
        dcols, denominator = w2t @ dout2, 1
    dcols = dcols.reshape(KH, KW, C, OH, OW)
    dx_pad = zeros((C, H + top + bottom, W + left + right), dcols)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, p * dh:p * dh + sh * (OH - 1) + 1:sh,
                   q * dw_:q * dw_ + sw * (OW - 1) + 1:sw] += dcols[p, q]
    dx = dx_pad[:, top:top + H, left:left + W]
    if denominator != 1:
        dx = _divide(dx, denominator)
    return dx, dw, db


# --- activations -------------------------------------------------------------------------


def activation_forward(name: str, z: np.ndarray, slope: Number = 0) -> np.ndarray:
    """Elementwise: relu max(0, z); leaky_relu z or slope*z; sigmoid; tanh (float only)."""
    if name == "relu":
        return np.where(z > 0, z, zeros(z.shape, z))
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return _sigmoid(to_float(z))
    if name == "tanh":
        return np.tanh(to_float(z))
    raise ValueError(f"unknown activation {name}")


def activation_backward(name: str, z: np.ndarray, a: np.ndarray, dout: np.ndarray,
                        slope: Number = 0) -> np.ndarray:
    """dz = dout * f'(z), with relu'(0) = 0 and leaky_relu'(0) = slope, as PyTorch."""
    if name == "relu":  # a selection, not a product: no arithmetic on exact entries
        return np.where(z > 0, dout, zeros(dout.shape, dout))
    if name == "leaky_relu":
        return np.where(z > 0, dout, slope * dout)
    return dout * activation_derivative(name, z, a, slope)


def activation_derivative(name: str, z: np.ndarray, a: np.ndarray, slope: Number = 0
                          ) -> np.ndarray:
    """f'(z) elementwise; a = f(z) saves recomputing sigmoid and tanh."""
    one = zeros(z.shape, z) + 1
    if name == "relu":
        return np.where(z > 0, one, zeros(z.shape, z))
    if name == "leaky_relu":
        return np.where(z > 0, one, slope * one)
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    raise ValueError(f"unknown activation {name}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of a negative number only, so large |z| neither overflows nor warns.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


# --- pooling -----------------------------------------------------------------------------


def _pool_windows(a: np.ndarray, size: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """a (C, H, W) -> windows (C, OH, OW, ph*pw), each row-major; windows that do not fit drop."""
    C, H, W = a.shape
    ph, pw = size
    sh, sw = stride
    OH, OW = geometry.pool_output_size(H, ph, sh), geometry.pool_output_size(W, pw, sw)
    windows = sliding_window_view(a, size, axis=(1, 2))
    windows = windows[:, :sh * (OH - 1) + 1:sh, :sw * (OW - 1) + 1:sw]
    return windows.reshape(C, OH, OW, ph * pw)


def pool_forward(kind: str, a: np.ndarray, size: tuple[int, int], stride: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """a (C, H, W) -> p (C, OH, OW), and for max pooling the winner of each window.

    The winner is the index (row-major, 0..ph*pw-1) of the first maximum.
    """
    windows = _pool_windows(a, size, stride)
    if kind == "max":
        winners = np.argmax(windows, axis=-1)
        return np.take_along_axis(windows, winners[..., np.newaxis], axis=-1)[..., 0], winners
    share = exact_const(Fraction(1, size[0] * size[1]), a.dtype == object)
    return windows.sum(axis=-1) * share, None


def pool_backward(kind: str, a_shape: tuple[int, ...], dout: np.ndarray,
                  winners: np.ndarray | None, size: tuple[int, int], stride: tuple[int, int]
                  ) -> np.ndarray:
    """dout (C, OH, OW) -> da (C, H, W).

    Max: each window's gradient goes to its winner; avg: every element gets
    dout / (ph*pw). Overlapping windows add up. A loop over the ph*pw offsets.
    """
    ph, pw = size
    sh, sw = stride
    _, OH, OW = dout.shape
    da = zeros(a_shape, dout)
    nothing = zeros(dout.shape, dout)
    if kind == "avg":
        share = dout * exact_const(Fraction(1, ph * pw), dout.dtype == object)
    for k in range(ph * pw):
        p, q = divmod(k, pw)
        routed = np.where(winners == k, dout, nothing) if kind == "max" else share
        da[:, p:p + sh * (OH - 1) + 1:sh, q:q + sw * (OW - 1) + 1:sw] += routed
    return da


# --- dense -------------------------------------------------------------------------------


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x (N,), w (M, N), b (M,) -> y (M,) = w x + b, as PyTorch's Linear."""
    return matmul(w, x.reshape(-1, 1)).reshape(-1) + b


def dense_backward(x: np.ndarray, w: np.ndarray, dout: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dout (M,) -> dx (N,) = w^T dout, dw (M, N) = dout x^T, db (M,) = dout."""
    dx = matmul(w.T, dout.reshape(-1, 1)).reshape(-1)
    dw = matmul(dout.reshape(-1, 1), x.reshape(1, -1))
    return dx, dw, dout.copy()


# --- losses ------------------------------------------------------------------------------


def loss_forward(name: str, y: np.ndarray, t: np.ndarray) -> Number:
    """L for y and target t of the same shape (SPEC section 2). N = y.size."""
    exact = y.dtype == object
    inv_n = exact_const(Fraction(1, y.size), exact)
    d = y - t
    if name == "mse":
        return _scalar((d * d).sum() * inv_n)
    if name == "sse":
        return _scalar((d * d).sum())
    if name == "half_sse":
        return _scalar((d * d).sum() * exact_const(Fraction(1, 2), exact))
    if name == "mae":
        return _scalar(np.abs(d).sum() * inv_n)
    yf, tf = to_float(y), to_float(t)
    if name == "bce":
        return float(-(tf * np.log(yf) + (1 - tf) * np.log1p(-yf)).sum() / y.size)
    if name == "cross_entropy":
        # An output far below the largest has log softmax -inf in float64 (its softmax is 0);
        # a target of 0 there adds 0 to the loss, not 0 * -inf = nan.
        return float(0.0 - np.where(tf != 0, tf * _log_softmax(yf), 0).sum())  # never -0.0
    raise ValueError(f"unknown loss {name}")


def loss_backward(name: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dL/dY, the same shape as y."""
    exact = y.dtype == object
    inv_n = exact_const(Fraction(1, y.size), exact)
    d = y - t
    if name == "mse":
        return d * (2 * inv_n)
    if name == "sse":
        return d * 2
    if name == "half_sse":
        return d * 1
    if name == "mae":
        # d|u|/du = sign(u), and 0 at u = 0 as PyTorch.
        sign = np.where(d > 0, 1, np.where(d < 0, -1, 0))
        return (sign * inv_n).astype(y.dtype)
    yf, tf = to_float(y), to_float(t)
    if name == "bce":
        return (yf - tf) / (yf * (1 - yf)) / y.size
    if name == "cross_entropy":
        # softmax(y) * sum(t) - t; sum(t) is 1 for a distribution.
        return np.exp(_log_softmax(yf)) * tf.sum() - tf
    raise ValueError(f"unknown loss {name}")


def _log_softmax(y: np.ndarray) -> np.ndarray:
    shifted = y - y.max()
    return shifted - np.log(np.exp(shifted).sum())


def _scalar(value: Any) -> Number:
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- a whole problem --------------------------------------------------------------------


@dataclass
class LayerPass:
    """One layer's numbers in a run: its input and output, and on the way back the gradients."""

    layer: Layer
    x: np.ndarray  # the layer's input
    out: np.ndarray  # its output
    w: np.ndarray | None = None  # conv/dense weights in the run's arithmetic, as written
    b: np.ndarray | None = None
    cache: Any = None  # im2col matrix (conv), pool winners (max pool)
    d_out: np.ndarray | None = None  # dL/d(out)
    dx: np.ndarray | None = None  # dL/d(x)
    dw: np.ndarray | None = None
    db: np.ndarray | None = None
    w_new: np.ndarray | None = None
    b_new: np.ndarray | None = None


@dataclass
class Run:
    """The forward and backward pass of a problem, in one arithmetic (exact or float64)."""

    problem: Problem
    exact: bool
    passes: list[LayerPass]
    x: np.ndarray
    y: np.ndarray
    target: np.ndarray | None = None
    loss: Number | None = None
    dy: np.ndarray | None = None
    dx: np.ndarray | None = None
    learning_rate: Number | None = None
    notes: list[Notice] = field(default_factory=list)


def choose_exact(problem: Problem, exact: bool | None) -> tuple[bool, Notice | None]:
    """Exact fractions or float64 (SPEC "Arithmetic"), and a note when the choice needs one.

    exact: True forces exact fractions, False float64, None decides by the problem's size.
    """
    if exact is True:
        if not problem.rational:
            raise problem.error("loss" if problem.loss in ("bce", "cross_entropy") else "layers",
                                "exact arithmetic needs a rational problem, and sigmoid, tanh, "
                                "bce and cross_entropy are not; use float64 arithmetic",
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
    return True, None


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
        return _run(problem, True, note)
    with np.errstate(all="ignore"):
        return _run(problem, False, note)


def _run(problem: Problem, use_exact: bool, note: Notice | None) -> Run:
    def convert(arr: np.ndarray, key: str, what: str = "") -> np.ndarray:
        if use_exact:
            return to_exact(arr)
        try:
            return to_float(arr)
        except OverflowError:
            # A rational beyond float64's range (1e400 written exactly) cannot become a float.
            raise _too_large(problem, key, what) from None

    def const(v: Number, key: str) -> Number:
        try:
            return exact_const(v, use_exact)
        except OverflowError:
            raise _too_large(problem, key, "") from None

    def check(*named: tuple[str, Any]) -> None:
        if not use_exact:
            _check_finite(problem, named)

    x = convert(problem.x, "input")
    result = Run(problem=problem, exact=use_exact, passes=[], x=x, y=x)
    if note:
        result.notes.append(note)

    # Forward.
    h = x
    for layer in problem.layers:
        step = LayerPass(layer=layer, x=h, out=h)
        op = layer.op
        if isinstance(op, Conv):
            key, what = ("kernel", "") if problem.single else ("layers", f"{layer.name}'s kernel")
            step.w = convert(op.w, key, what)
            key, what = ("bias", "") if problem.single else ("layers", f"{layer.name}'s bias")
            step.b = convert(op.b, key, what)
            w_eff = step.w[:, :, ::-1, ::-1] if op.flip else step.w
            step.out, step.cache = conv_forward(h, w_eff, step.b, op.stride, op.pad, op.dilation)
        elif isinstance(op, Activation):
            slope = const(op.slope, "activation" if problem.single else "layers")
            step.out = activation_forward(op.name, h, slope)
        elif isinstance(op, Pool):
            step.out, step.cache = pool_forward(op.kind, h, op.size, op.stride)
        elif isinstance(op, Flatten):
            step.out = h.reshape(-1)
        elif isinstance(op, Dense):
            step.w = convert(op.w, "layers", f"{layer.name}'s weights")
            step.b = convert(op.b, "layers", f"{layer.name}'s bias")
            step.out = dense_forward(h, step.w, step.b)
        step.out = normalize(step.out)
        result.passes.append(step)
        check((_name(problem, result.passes, len(result.passes) - 1, "output"), step.out))
        h = step.out
    result.y = h

    # Loss and dL/dY.
    if problem.grad_output is not None:
        dy = convert(problem.grad_output, "grad_output")
    elif problem.target is not None and problem.loss is not None:
        result.target = convert(problem.target, "target")
        _check_loss_domain(problem, result.passes, h)
        result.loss = loss_forward(problem.loss, h, result.target)
        dy = loss_backward(problem.loss, h, result.target)
        check(("loss", result.loss))
    else:
        return result
    result.dy = dy = normalize(dy)
    check(("dY", dy))
    if problem.learning_rate is not None:
        result.learning_rate = const(problem.learning_rate, "learning_rate")

    # Backward, last layer first.
    for index in reversed(range(len(result.passes))):
        step = result.passes[index]
        step.d_out = dy
        op = step.layer.op
        if isinstance(op, Conv):
            w_eff = step.w[:, :, ::-1, ::-1] if op.flip else step.w
            dx, dw, step.db = conv_backward(dy, step.x.shape, w_eff, step.cache, op.stride,
                                            op.pad, op.dilation)
            # dW is reported for W as written: un-rotate it when the kernel was flipped.
            step.dw = dw[:, :, ::-1, ::-1] if op.flip else dw
        elif isinstance(op, Activation):
            dx = activation_backward(op.name, step.x, step.out, dy, const(op.slope, "layers"))
        elif isinstance(op, Pool):
            dx = pool_backward(op.kind, step.x.shape, dy, step.cache, op.size, op.stride)
        elif isinstance(op, Flatten):
            dx = dy.reshape(step.x.shape)
        else:
            assert isinstance(op, Dense)
            dx, step.dw, step.db = dense_backward(step.x, step.w, dy)
        if step.dw is not None:
            step.dw, step.db = normalize(step.dw), normalize(step.db)
            if result.learning_rate is not None:
                step.w_new = normalize(step.w - result.learning_rate * step.dw)
                step.b_new = normalize(step.b - result.learning_rate * step.db)
        step.dx = dy = normalize(dx)
        check(*((_name(problem, result.passes, index, key), value) for key, value in (
            ("dW", step.dw), ("db", step.db), ("W_new", step.w_new), ("b_new", step.b_new),
            ("d_input", step.dx))))
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


def _name(problem: Problem, passes: list[LayerPass], index: int, key: str) -> str:
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


def _check_loss_domain(problem: Problem, passes: list[LayerPass], y: np.ndarray) -> None:
    if problem.loss == "bce":
        outside = [(i, v) for i, v in enumerate(y.flat) if not 0 < v < 1]
        if outside:
            i, v = outside[0]
            last = passes[-1]
            op = last.layer.op
            if isinstance(op, Activation) and op.name == "sigmoid":
                z = float(last.x.flat[i])
                raise problem.error("loss", f"bce needs every output strictly between 0 and 1, "
                                    f"but output {i + 1} (row-major) is the sigmoid of "
                                    f"{z:.6g}, which is exactly {float(v):g} in float64; use "
                                    "smaller numbers so that the sigmoid does not saturate")
            raise problem.error("loss", f"bce needs every output strictly between 0 and 1, but "
                                f"output {i + 1} (row-major) is {float(v):.6g}; add "
                                "activation: sigmoid, or use mse")
