"""The naive loop twin of the engine, and finite differences.

Every function here is written as literally as the formulas in SPEC section 2: plain Python
loops over indices, one term at a time. It is slow on purpose; it exists so that the fast,
vectorized engine can be checked against something a reader can verify by eye, and both
against central differences (`numerical_gradient`).

The same code serves two kinds of arrays:
- float64 arrays, and
- object arrays whose entries are `fractions.Fraction` or `int` (exact arithmetic).
Only +, -, *, / and comparisons touch the entries, so Fractions stay Fractions. The
non-rational functions (sigmoid, tanh, softmax, bce, cross_entropy) use `math.exp`, `math.tanh` and
`math.log`, and are only ever meant to see floats. Results are object arrays (cells start as
int 0) when any input is an object array, float64 arrays otherwise.

Shapes use the field's names: x (C, H, W), w (F, C, KH, KW), b (F,), z and dout (F, OH, OW);
stride (sh, sw); pad (top, bottom, left, right); dilation (dil_h, dil_w) -- the dilation is
not called (dh, dw) here because `dw` is the weight gradient.
"""

import math
from fractions import Fraction

import numpy as np

ACTIVATIONS = ("none", "relu", "leaky_relu", "sigmoid", "tanh")
POOLS = ("max", "avg")
LOSSES = ("mse", "sse", "half_sse", "mae", "bce", "cross_entropy")

# One entry of an array: a float in float mode, a Fraction or int in exact mode.
Scalar = float | int | Fraction


# ----------------------------------------------------------------------------------------
# helpers


def _is_exact(*arrays: np.ndarray) -> bool:
    """True when any of the arrays is an object array (Fractions / ints)."""
    return any(np.asarray(a).dtype == object for a in arrays)


def _zeros(shape: tuple[int, ...], *like: np.ndarray) -> np.ndarray:
    """A zero array of `shape`: object dtype filled with int 0 when any of `like` is an
    object array, float64 otherwise."""
    if _is_exact(*like):
        return np.zeros(shape, dtype=object)  # every cell is the int 0
    return np.zeros(shape, dtype=np.float64)


def _divide(numerator: Scalar, denominator: Scalar) -> Scalar:
    """numerator / denominator, kept exact when both are integers.

    int / int is a float in Python, so 92 / 4 would silently leave exact arithmetic; a
    Fraction divided by an int is already exact, and floats divide as floats.
    """
    if isinstance(numerator, (int, np.integer)) and isinstance(denominator, (int, np.integer)):
        return Fraction(int(numerator), int(denominator))
    return numerator / denominator


def _scalar(value: Scalar, *like: np.ndarray) -> Scalar:
    """A loss value as a Python scalar: Fraction/int in exact mode, float otherwise."""
    if _is_exact(*like):
        return value
    return float(value)


def _rotate180(w: np.ndarray) -> np.ndarray:
    """w: (F, C, KH, KW) -> w rotated 180 degrees in (KH, KW):
    out[f, c, p, q] = w[f, c, KH-1-p, KW-1-q]."""
    F, C, KH, KW = w.shape
    out = _zeros((F, C, KH, KW), w)
    for f in range(F):
        for c in range(C):
            for p in range(KH):
                for q in range(KW):
                    out[f, c, p, q] = w[f, c, KH - 1 - p, KW - 1 - q]
    return out


def _output_size(size: int, kernel: int, stride: int, dilation: int) -> int:
    """floor((size - dilation*(kernel-1) - 1) / stride) + 1, `size` already padded."""
    return (size - dilation * (kernel - 1) - 1) // stride + 1


# ----------------------------------------------------------------------------------------
# convolution


def _source(t: int, n: int, mode: str) -> int:
    """The input position that padded position t (t < 0: before the input, t >= n: after
    it) copies, as PyTorch's padding modes: reflect mirrors across the edge without
    repeating it, replicate repeats the edge, circular wraps around; -1 for zeros."""
    if 0 <= t < n:
        return t
    if mode == "reflect":
        return -t if t < 0 else 2 * (n - 1) - t
    if mode == "replicate":
        return 0 if t < 0 else n - 1
    if mode == "circular":
        return t + n if t < 0 else t - n
    return -1


def pad_input(x: np.ndarray, pad: tuple[int, int, int, int], mode: str = "zeros") -> np.ndarray:
    """Surround x with zeros, or with copies of its cells (mode reflect, replicate, circular).

    x: (C, H, W); pad: (top, bottom, left, right), ints >= 0.
    Returns x_pad: (C, H+top+bottom, W+left+right), with x_pad[c, top+h, left+w] = x[c, h, w]
    and each padded cell x[c, source(h), source(w)] (see _source), or 0.
    """
    C, H, W = x.shape
    top, bottom, left, right = pad
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"padding must be >= 0, got {pad}")
    if mode == "reflect" and max(top, bottom) >= H or mode == "reflect" and max(left, right) >= W:
        raise ValueError(f"reflect padding {pad} must be less than the input {H}x{W}")
    if mode == "circular" and (max(top, bottom) > H or max(left, right) > W):
        raise ValueError(f"circular padding {pad} must be at most the input {H}x{W}")
    x_pad = _zeros((C, H + top + bottom, W + left + right), x)
    for c in range(C):
        for r in range(H + top + bottom):
            for s in range(W + left + right):
                h, w = _source(r - top, H, mode), _source(s - left, W, mode)
                if h >= 0 and w >= 0:
                    x_pad[c, r, s] = x[c, h, w]
    return x_pad


def _check_conv_shapes(
    x: np.ndarray, w: np.ndarray, stride: tuple[int, int], pad: tuple[int, int, int, int],
    dilation: tuple[int, int], groups: int = 1,
) -> tuple[int, int]:
    """Validate a convolution's arguments; return (OH, OW)."""
    C, H, W = x.shape
    F, Cw, KH, KW = w.shape
    sh, sw = stride
    top, bottom, left, right = pad
    dil_h, dil_w = dilation
    if C % groups or F % groups:
        raise ValueError(f"groups {groups} must divide the {C} channels and the {F} filters")
    if Cw * groups != C:
        raise ValueError(f"kernel has {Cw} channels per filter but the input has {C} "
                         f"in {groups} groups")
    if sh < 1 or sw < 1 or dil_h < 1 or dil_w < 1:
        raise ValueError(f"stride and dilation must be >= 1, got {stride} and {dilation}")
    OH = _output_size(H + top + bottom, KH, sh, dil_h)
    OW = _output_size(W + left + right, KW, sw, dil_w)
    if OH < 1 or OW < 1:
        raise ValueError("the dilated kernel does not fit in the padded input")
    return OH, OW


def conv_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: tuple[int, int],
    pad: tuple[int, int, int, int],
    dilation: tuple[int, int],
    flip: bool = False,
    groups: int = 1,
    mode: str = "zeros",
) -> np.ndarray:
    """Cross-correlation plus bias (SPEC section 2), as PyTorch's Conv2d(groups=groups).

    x: (C, H, W); w: (F, C/groups, KH, KW); b: (F,); stride (sh, sw);
    pad (top, bottom, left, right); dilation (dil_h, dil_w).
    flip: use w rotated 180 degrees in (KH, KW) (a true convolution).
    mode: what the padding holds: zeros, or copies of input cells (reflect, replicate,
    circular; see pad_input).
    Returns z: (F, OH, OW) with
        z[f, i, j] = b[f] + sum over c < C/groups, p, q of
                     x_pad[g*C/groups + c, i*sh + p*dil_h, j*sw + q*dil_w] * w_eff[f, c, p, q]
    where g = f // (F/groups) is filter f's group,
    and OH = (H + top + bottom - dil_h*(KH-1) - 1) // sh + 1, likewise OW.
    """
    F, Cg, KH, KW = w.shape
    sh, sw = stride
    dil_h, dil_w = dilation
    OH, OW = _check_conv_shapes(x, w, stride, pad, dilation, groups)
    x_pad = pad_input(x, pad, mode)
    w_eff = _rotate180(w) if flip else w

    z = _zeros((F, OH, OW), x, w, b)
    for f in range(F):
        g = f // (F // groups)
        for i in range(OH):
            for j in range(OW):
                total = b[f]
                for c in range(Cg):
                    for p in range(KH):
                        for q in range(KW):
                            total = total + (
                                x_pad[g * Cg + c, i * sh + p * dil_h, j * sw + q * dil_w]
                                * w_eff[f, c, p, q]
                            )
                z[f, i, j] = total
    return z


def conv_backward(
    x: np.ndarray,
    w: np.ndarray,
    dout: np.ndarray,
    stride: tuple[int, int],
    pad: tuple[int, int, int, int],
    dilation: tuple[int, int],
    flip: bool = False,
    groups: int = 1,
    mode: str = "zeros",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of conv_forward, given dout = dL/dz.

    x: (C, H, W); w: (F, C/groups, KH, KW); dout: (F, OH, OW); stride, pad, dilation, flip,
    groups, mode as in conv_forward.
    Returns (dx, dw, db): dx (C, H, W), dw (F, C/groups, KH, KW), db (F,).
    dw is the gradient for w AS WRITTEN: with flip, it is un-flipped.

    Every term x_pad[g*C/groups + c, r, s] * w_eff[f, c, p, q] of z[f, i, j]
    (r = i*sh + p*dil_h, s = j*sw + q*dil_w, g filter f's group) sends
    dout[f, i, j] * w_eff[f, c, p, q] to that cell of x_pad and dout[f, i, j] times that
    cell to w_eff[f, c, p, q]; the bias gets dout[f, i, j].
    dx is dx_pad with the padding cropped off, each padded cell that copies an input cell
    (mode reflect, replicate, circular) adding its gradient to that cell.
    """
    C, H, W = x.shape
    F, Cg, KH, KW = w.shape
    sh, sw = stride
    top, bottom, left, right = pad
    dil_h, dil_w = dilation
    OH, OW = _check_conv_shapes(x, w, stride, pad, dilation, groups)
    if dout.shape != (F, OH, OW):
        raise ValueError(f"dout has shape {dout.shape}, expected {(F, OH, OW)}")
    x_pad = pad_input(x, pad, mode)
    w_eff = _rotate180(w) if flip else w

    dx_pad = _zeros(x_pad.shape, x, w, dout)
    dw_eff = _zeros((F, Cg, KH, KW), x, w, dout)
    db = _zeros((F,), x, w, dout)
    for f in range(F):
        g = f // (F // groups)
        for i in range(OH):
            for j in range(OW):
                db[f] = db[f] + dout[f, i, j]
                for c in range(Cg):
                    for p in range(KH):
                        for q in range(KW):
                            xc = g * Cg + c
                            r = i * sh + p * dil_h
                            s = j * sw + q * dil_w
                            dx_pad[xc, r, s] = dx_pad[xc, r, s] + dout[f, i, j] * w_eff[f, c, p, q]
                            dw_eff[f, c, p, q] = (dw_eff[f, c, p, q]
                                                  + dout[f, i, j] * x_pad[xc, r, s])

    dx = _zeros((C, H, W), x, w, dout)
    for c in range(C):
        for r in range(H + top + bottom):
            for s in range(W + left + right):
                h, col = _source(r - top, H, mode), _source(s - left, W, mode)
                if h >= 0 and col >= 0:
                    dx[c, h, col] = dx[c, h, col] + dx_pad[c, r, s]

    # w_eff[p, q] = w[KH-1-p, KW-1-q], so dL/dw[a, b] = dL/dw_eff[KH-1-a, KW-1-b]: rotate back.
    dw = _rotate180(dw_eff) if flip else dw_eff
    return dx, dw, db


# ----------------------------------------------------------------------------------------
# activations


def _exact_slope(slope: Scalar, z: np.ndarray) -> Scalar:
    """In exact mode a decimal slope is the rational it spells (0.01 is 1/100, SPEC 1)."""
    if _is_exact(z) and isinstance(slope, float):
        return Fraction(repr(slope))
    return slope


def _sigmoid(v: Scalar) -> float:
    """1 / (1 + exp(-v)), in the form that cannot overflow for either sign of v."""
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def activation_forward(name: str, z: np.ndarray, slope: Scalar = 0.01) -> np.ndarray:
    """Apply an activation elementwise.

    name: none | relu | leaky_relu | sigmoid | tanh; z: any shape; slope: leaky_relu's
    slope for z <= 0. Returns a = f(z), same shape as z.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    slope = _exact_slope(slope, z)
    a = _zeros(z.shape, z)
    for idx in np.ndindex(z.shape):
        v = z[idx]
        if name == "none":
            a[idx] = v
        elif name == "relu":
            a[idx] = v if v > 0 else 0
        elif name == "leaky_relu":
            a[idx] = v if v > 0 else slope * v
        elif name == "sigmoid":
            a[idx] = _sigmoid(v)
        else:  # tanh
            a[idx] = math.tanh(v)
    return a


def activation_backward(
    name: str, z: np.ndarray, dout: np.ndarray, slope: Scalar = 0.01, kink: Scalar = 0
) -> np.ndarray:
    """dz = dout * f'(z), elementwise.

    name as in activation_forward; z: the activation's input, any shape; dout: dL/da, same
    shape. Returns dz, same shape as z. relu' is 1 for z > 0, 0 for z < 0 and `kink` at
    z = 0 (the kink convention; 0 as PyTorch); leaky_relu' is 1 for z > 0, slope for z < 0
    and slope + kink*(1 - slope) at z = 0. sigmoid' = s(1 - s); tanh' = 1 - tanh^2.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    slope = _exact_slope(slope, z)
    dz = _zeros(z.shape, z, dout)
    for idx in np.ndindex(z.shape):
        v = z[idx]
        derivative: float | Fraction
        if name == "none":
            derivative = 1
        elif name == "relu":
            if v > 0:
                derivative = 1
            elif v == 0:
                derivative = kink
            else:
                derivative = 0
        elif name == "leaky_relu":
            if v > 0:
                derivative = 1
            elif v == 0:
                derivative = slope + kink * (1 - slope)
            else:
                derivative = slope
        elif name == "sigmoid":
            s = _sigmoid(v)
            derivative = s * (1 - s)
        else:  # tanh
            t = math.tanh(v)
            derivative = 1 - t * t
        dz[idx] = dout[idx] * derivative
    return dz


# ----------------------------------------------------------------------------------------
# pooling


def _pool_size(n: int, k: int, s: int, before: int, after: int, ceil: bool) -> int:
    """Windows along one axis: floor((n + before + after - k) / s) + 1, or with ceil the
    division rounded up, dropping a last window that would start in the after-padding."""
    span = n + before + after - k
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= n + before:
            out = out - 1
        return out
    return span // s + 1


def _check_pool(
    kind: str, a: np.ndarray, size: tuple[int, int], stride: tuple[int, int],
    pad: tuple[int, int, int, int] = (0, 0, 0, 0), ceil: bool = False,
) -> tuple[int, int]:
    """Validate a pooling's arguments; return (OH, OW)."""
    if kind not in POOLS:
        raise ValueError(f"unknown pool {kind!r}; expected max or avg")
    C, H, W = a.shape
    ph, pw = size
    sh, sw = stride
    if ph < 1 or pw < 1 or sh < 1 or sw < 1:
        raise ValueError(f"pool size and stride must be >= 1, got {size} and {stride}")
    if 2 * max(pad[0], pad[1]) > ph or 2 * max(pad[2], pad[3]) > pw:
        raise ValueError(f"pool padding {pad} is more than half the window {size}")
    OH = _pool_size(H, ph, sh, pad[0], pad[1], ceil)
    OW = _pool_size(W, pw, sw, pad[2], pad[3], ceil)
    if OH < 1 or OW < 1:
        raise ValueError(f"a {ph}x{pw} pool window does not fit in a {H}x{W} input")
    return OH, OW


def _window(a: np.ndarray, c: int, i: int, j: int, size: tuple[int, int],
            stride: tuple[int, int], pad: tuple[int, int, int, int]
            ) -> tuple[list[tuple[int, int]], int]:
    """The input cells (row, column) of window (i, j) of channel c, row-major, and how many
    of its ph*pw cells lie inside the padded input (padding included, a ceil window's
    overhang beyond the padding not)."""
    C, H, W = a.shape
    top, bottom, left, right = pad
    cells = []
    inside_padded = 0
    for u in range(size[0]):
        for v in range(size[1]):
            r = i * stride[0] + u - top  # the input's row: negative or >= H in the padding
            s = j * stride[1] + v - left
            if -top <= r < H + bottom and -left <= s < W + right:
                inside_padded = inside_padded + 1
            if 0 <= r < H and 0 <= s < W:
                cells.append((r, s))
    return cells, inside_padded


def _maxima(a: np.ndarray, c: int, cells: list[tuple[int, int]], ties: str
            ) -> list[tuple[tuple[int, int], Scalar]]:
    """The cells of a window that get its gradient under max_ties, each with its share of
    it: first or last maximum in row-major order (the whole), every tied maximum (the whole
    each: all) or an equal share each (split). Padding is -infinity and never a maximum."""
    best = cells[0]
    for cell in cells:
        # strictly greater: a later equal value never replaces the first maximum
        if a[c, cell[0], cell[1]] > a[c, best[0], best[1]]:
            best = cell
    top = a[c, best[0], best[1]]
    tied = [cell for cell in cells if a[c, cell[0], cell[1]] == top]
    if ties == "first":
        return [(tied[0], 1)]
    if ties == "last":
        return [(tied[-1], 1)]
    if ties == "all":
        return [(cell, 1) for cell in tied]
    return [(cell, _divide(1, len(tied))) for cell in tied]  # split


def pool_forward(
    kind: str, a: np.ndarray, size: tuple[int, int], stride: tuple[int, int],
    pad: tuple[int, int, int, int] = (0, 0, 0, 0), ceil: bool = False,
    count_padding: bool = True,
) -> np.ndarray:
    """Max or average pooling.

    kind: max | avg; a: (C, H, W); size (ph, pw); stride (sh, sw); pad (top, bottom, left,
    right), each at most half the window; ceil: round the output size up (a last window
    that would start in the bottom/right padding is dropped); count_padding: avg divides by
    the window's cells inside the padded input, else by its input cells only.
    Returns out: (C, OH, OW), by default OH = (H - ph) // sh + 1, OW = (W - pw) // sw + 1;
    out[c, i, j] = max (padding is -infinity) or mean of the window's cells.
    """
    OH, OW = _check_pool(kind, a, size, stride, pad, ceil)
    C = a.shape[0]
    out = _zeros((C, OH, OW), a)
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                cells, inside_padded = _window(a, c, i, j, size, stride, pad)
                if kind == "max":
                    (r, s), _ = _maxima(a, c, cells, "first")[0]
                    out[c, i, j] = a[c, r, s]
                else:
                    total = 0
                    for r, s in cells:
                        total = total + a[c, r, s]
                    out[c, i, j] = _divide(total, inside_padded if count_padding else len(cells))
    return out


def pool_backward(
    kind: str, a: np.ndarray, dout: np.ndarray, size: tuple[int, int], stride: tuple[int, int],
    pad: tuple[int, int, int, int] = (0, 0, 0, 0), ceil: bool = False,
    count_padding: bool = True, ties: str = "first",
) -> np.ndarray:
    """Gradient of pool_forward, given dout = dL/dout.

    kind, a (C, H, W), size, stride, pad, ceil, count_padding as in pool_forward; dout:
    (C, OH, OW); ties: first | last | all | split (max_ties).
    Returns da: (C, H, W). max: each window sends its dout to its first maximum in row-major
    order (last: its last; all: each tied maximum the whole dout; split: each tied maximum
    dout / the number tied). avg: each input cell of a window gets dout / the window's
    divisor. What lands on the padding is dropped; overlapping windows add up.
    """
    OH, OW = _check_pool(kind, a, size, stride, pad, ceil)
    C, H, W = a.shape
    if dout.shape != (C, OH, OW):
        raise ValueError(f"dout has shape {dout.shape}, expected {(C, OH, OW)}")
    da = _zeros((C, H, W), a, dout)
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                cells, inside_padded = _window(a, c, i, j, size, stride, pad)
                if kind == "max":
                    for (r, s), part in _maxima(a, c, cells, ties):
                        da[c, r, s] = da[c, r, s] + dout[c, i, j] * part
                else:
                    share = _divide(dout[c, i, j], inside_padded if count_padding
                                    else len(cells))
                    for r, s in cells:
                        da[c, r, s] = da[c, r, s] + share
    return da


# ----------------------------------------------------------------------------------------
# flatten and dense


def _flat_position(c: int, h: int, w: int, shape: tuple[int, ...], order: str) -> int:
    """Where a[c, h, w] goes in the vector: CHW (c*H + h)*W + w, HWC (h*W + w)*C + c."""
    C, H, W = shape
    return (h * W + w) * C + c if order == "HWC" else (c * H + h) * W + w


def flatten_forward(a: np.ndarray, order: str = "CHW") -> np.ndarray:
    """a: (C, H, W) -> vector (C*H*W,): order CHW, channel, then row, then column,
    out[(c*H + h)*W + w] = a[c, h, w]; HWC, row, then column, then channel (Keras'),
    out[(h*W + w)*C + c] = a[c, h, w]."""
    C, H, W = a.shape
    out = _zeros((C * H * W,), a)
    for c in range(C):
        for h in range(H):
            for w in range(W):
                out[_flat_position(c, h, w, a.shape, order)] = a[c, h, w]
    return out


def flatten_backward(a: np.ndarray, dout: np.ndarray, order: str = "CHW") -> np.ndarray:
    """a: (C, H, W), the flatten's input; dout: (C*H*W,), in flatten's `order` (CHW, HWC).
    Returns da: (C, H, W)."""
    C, H, W = a.shape
    if dout.shape != (C * H * W,):
        raise ValueError(f"dout has shape {dout.shape}, expected {(C * H * W,)}")
    da = _zeros((C, H, W), a, dout)
    for c in range(C):
        for h in range(H):
            for w in range(W):
                da[c, h, w] = dout[_flat_position(c, h, w, a.shape, order)]
    return da


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A fully connected layer, as PyTorch Linear.

    x: (N,); w: (M, N); b: (M,). Returns y: (M,), y[m] = b[m] + sum over n of w[m, n] * x[n].
    """
    M, N = w.shape
    if x.shape != (N,):
        raise ValueError(f"input has shape {x.shape}, but the weights expect ({N},)")
    y = _zeros((M,), x, w, b)
    for m in range(M):
        total = b[m]
        for n in range(N):
            total = total + w[m, n] * x[n]
        y[m] = total
    return y


def dense_backward(
    x: np.ndarray, w: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of dense_forward, given dout = dL/dy.

    x: (N,); w: (M, N); dout: (M,). Returns (dx (N,), dw (M, N), db (M,)):
    dx[n] = sum over m of w[m, n] * dout[m]; dw[m, n] = dout[m] * x[n]; db[m] = dout[m].
    """
    M, N = w.shape
    dx = _zeros((N,), x, w, dout)
    dw = _zeros((M, N), x, w, dout)
    db = _zeros((M,), x, w, dout)
    for m in range(M):
        db[m] = dout[m]
        for n in range(N):
            dx[n] = dx[n] + w[m, n] * dout[m]
            dw[m, n] = dout[m] * x[n]
    return dx, dw, db


# ----------------------------------------------------------------------------------------
# softmax


SOFTMAX_DIMS = ("channels", "all")


def _softmax_groups(shape: tuple[int, ...], dim: str) -> list[list[tuple[int, ...]]]:
    """The index groups softmax normalises: with dim channels, for each position (h, w) of
    (C, H, W) maps the C entries (c, h, w); with dim all, one group of every entry."""
    if dim not in SOFTMAX_DIMS:
        raise ValueError(f"unknown softmax dim {dim!r}; expected channels or all")
    if dim == "all":
        return [list(np.ndindex(shape))]
    if len(shape) != 3:
        raise ValueError(f"dim channels needs (C, H, W) maps, got shape {shape}")
    C, H, W = shape
    return [[(c, h, w) for c in range(C)] for h in range(H) for w in range(W)]


def softmax_forward(x: np.ndarray, dim: str) -> np.ndarray:
    """softmax over each group of entries (see _softmax_groups), float64.

    x: (C, H, W) with dim channels, any shape with dim all. Returns y, x's shape, with
    y[i] = exp(x[i] - m) / sum over j in the group of exp(x[j] - m), m the group's max.
    """
    y = np.zeros(x.shape, dtype=np.float64)
    for group in _softmax_groups(x.shape, dim):
        m = max(x[i] for i in group)
        total = 0.0
        for i in group:
            total = total + math.exp(x[i] - m)
        for i in group:
            y[i] = math.exp(x[i] - m) / total
    return y


def softmax_backward(x: np.ndarray, dout: np.ndarray, dim: str) -> np.ndarray:
    """dx for softmax_forward(x, dim), given dout = dL/dy; x's shape.

    dx[j] = sum over i in j's group of dout[i] * dy_i/dx_j, with the Jacobian
    dy_i/dx_j = y_i * (1 - y_j) when i = j, and -y_i * y_j otherwise.
    """
    y = softmax_forward(x, dim)
    dx = np.zeros(x.shape, dtype=np.float64)
    for group in _softmax_groups(x.shape, dim):
        for j in group:
            total = 0.0
            for i in group:
                jacobian = y[i] * (1 - y[j]) if i == j else -y[i] * y[j]
                total = total + dout[i] * jacobian
            dx[j] = total
    return dx


def log_softmax_forward(x: np.ndarray, dim: str) -> np.ndarray:
    """log softmax over each group of entries (see _softmax_groups), float64.

    y[i] = (x[i] - m) - log(sum over j in the group of exp(x[j] - m)), m the group's max.
    """
    y = np.zeros(x.shape, dtype=np.float64)
    for group in _softmax_groups(x.shape, dim):
        m = max(x[i] for i in group)
        total = 0.0
        for i in group:
            total = total + math.exp(x[i] - m)
        for i in group:
            y[i] = (x[i] - m) - math.log(total)
    return y


def log_softmax_backward(x: np.ndarray, dout: np.ndarray, dim: str) -> np.ndarray:
    """dx for log_softmax_forward(x, dim), given dout = dL/dy; x's shape.

    dx[j] = sum over i in j's group of dout[i] * dy_i/dx_j, with the Jacobian
    dy_i/dx_j = 1 - softmax(x)_j when i = j, and -softmax(x)_j otherwise.
    """
    p = softmax_forward(x, dim)
    dx = np.zeros(x.shape, dtype=np.float64)
    for group in _softmax_groups(x.shape, dim):
        for j in group:
            total = 0.0
            for i in group:
                jacobian = 1 - p[j] if i == j else -p[j]
                total = total + dout[i] * jacobian
            dx[j] = total
    return dx


# ----------------------------------------------------------------------------------------
# losses


def _sign(u: Scalar, kink: Scalar = 0) -> Scalar:
    """d|u|/du: sign(u), and `kink` at u = 0 (the kink convention; 0 as PyTorch)."""
    if u > 0:
        return 1
    if u < 0:
        return -1
    return kink


def _softmax_parts(y: np.ndarray) -> tuple[Scalar, float]:
    """For softmax over ALL elements of y: (m, log_sum) with m = max(y) and
    log_sum = log sum exp(y_i - m), so log softmax(y)_i = (y_i - m) - log_sum.
    Subtracting the max keeps every exp <= 1 (no overflow)."""
    m = max(y[idx] for idx in np.ndindex(y.shape))
    total = 0.0
    for idx in np.ndindex(y.shape):
        total = total + math.exp(y[idx] - m)
    return m, math.log(total)


def loss_forward(name: str, y: np.ndarray, t: np.ndarray) -> Scalar:
    """The loss L (SPEC section 2), N = number of elements of y.

    name: mse | sse | half_sse | mae | bce | cross_entropy; y, t: any shape, the same.
    Returns L as a Python scalar (Fraction/int in exact mode, float otherwise).
      mse: (1/N) sum (y - t)^2    sse: sum (y - t)^2    half_sse: 1/2 sum (y - t)^2
      mae: (1/N) sum |y - t|
      bce: -(1/N) sum [t log y + (1 - t) log(1 - y)]   (every y in (0, 1))
      cross_entropy: -sum t_i log softmax(y)_i, softmax over all elements of y
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    if y.shape != t.shape:
        raise ValueError(f"output has shape {y.shape} but target has shape {t.shape}")
    N = y.size
    total = 0
    if name in ("mse", "sse", "half_sse"):
        for idx in np.ndindex(y.shape):
            total = total + (y[idx] - t[idx]) * (y[idx] - t[idx])
        if name == "mse":
            L = _divide(total, N)
        elif name == "sse":
            L = total
        else:
            L = _divide(total, 2)
    elif name == "mae":
        for idx in np.ndindex(y.shape):
            total = total + abs(y[idx] - t[idx])
        L = _divide(total, N)
    elif name == "bce":
        for idx in np.ndindex(y.shape):
            total = total + t[idx] * math.log(y[idx]) + (1 - t[idx]) * math.log(1 - y[idx])
        L = -total / N
    else:  # cross_entropy
        m, log_sum = _softmax_parts(y)
        for idx in np.ndindex(y.shape):
            log_softmax = (y[idx] - m) - log_sum
            total = total + t[idx] * log_softmax
        L = -total
    return _scalar(L, y, t)


def loss_backward(name: str, y: np.ndarray, t: np.ndarray, kink: Scalar = 0) -> np.ndarray:
    """dL/dy for loss_forward(name, y, t); same shape as y.

      mse: 2 (y - t) / N    sse: 2 (y - t)    half_sse: y - t
      mae: sign(y - t) / N, with d|u|/du = kink at u = 0 (0 as PyTorch)
      bce: -(1/N) [t / y - (1 - t) / (1 - y)]
      cross_entropy: softmax(y) * sum(t) - t
    """
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")
    if y.shape != t.shape:
        raise ValueError(f"output has shape {y.shape} but target has shape {t.shape}")
    N = y.size
    dy = _zeros(y.shape, y, t)
    if name == "cross_entropy":
        m, log_sum = _softmax_parts(y)
        sum_t = 0
        for idx in np.ndindex(t.shape):
            sum_t = sum_t + t[idx]
        for idx in np.ndindex(y.shape):
            softmax = math.exp((y[idx] - m) - log_sum)
            # dL/dy_k = -sum_i t_i (delta_ik - softmax_k) = softmax_k * sum(t) - t_k.
            # sum(t) is 1 when t is a distribution (the usual softmax - t), but the general
            # form stays right for any target, e.g. one that does not sum to 1.
            dy[idx] = softmax * sum_t - t[idx]
        return dy
    for idx in np.ndindex(y.shape):
        u = y[idx] - t[idx]
        if name == "mse":
            dy[idx] = _divide(2 * u, N)
        elif name == "sse":
            dy[idx] = 2 * u
        elif name == "half_sse":
            dy[idx] = u
        elif name == "mae":
            dy[idx] = _divide(_sign(u, kink), N)
        else:  # bce
            dy[idx] = -(t[idx] / y[idx] - (1 - t[idx]) / (1 - y[idx])) / N
    return dy


# ----------------------------------------------------------------------------------------
# losses of a batch


def batch_loss_forward(name: str, y: np.ndarray, t: np.ndarray) -> Scalar:
    """The loss of a batch, as PyTorch's default reductions (SPEC section 6).

    y, t: (N, ...), the sample first. mse, mae and bce average over every element (the N
    samples too) and sse, half_sse sum: loss_forward on the whole batch. cross_entropy is
    taken per sample (softmax over that sample's outputs) and averaged over the samples.
    """
    if name != "cross_entropy":
        return loss_forward(name, y, t)
    N = y.shape[0]
    total: Scalar = 0
    for n in range(N):
        total = total + loss_forward(name, y[n], t[n])
    return _scalar(total / N, y, t)


def batch_loss_backward(name: str, y: np.ndarray, t: np.ndarray, kink: Scalar = 0
                        ) -> np.ndarray:
    """dL/dy for batch_loss_forward(name, y, t); y's shape (N, ...); kink: mae's d|u|/du
    at 0."""
    if name != "cross_entropy":
        return loss_backward(name, y, t, kink)
    N = y.shape[0]
    dy = _zeros(y.shape, y, t)
    for n in range(N):
        per_sample = loss_backward(name, y[n], t[n])
        for idx in np.ndindex(per_sample.shape):
            dy[(n,) + idx] = per_sample[idx] / N
    return dy


def _distribution_groups(shape: tuple[int, ...], over: str) -> list[list[tuple[int, ...]]]:
    """The groups a distribution loss sums over in y (N, ...): each sample's entries, or with
    over channels the C entries (n, c, position) at each position of each sample."""
    if over == "all":
        return [[(n, *i) for i in np.ndindex(shape[1:])] for n in range(shape[0])]
    N, C = shape[0], shape[1]
    return [[(n, c, *p) for c in range(C)] for n in range(N) for p in np.ndindex(shape[2:])]


def distribution_loss_forward(name: str, y: np.ndarray, t: np.ndarray, over: str = "all"
                              ) -> Scalar:
    """cross_entropy (y logits), nll (y log-probabilities) or cross_entropy_probs (y
    probabilities) of a batch (SPEC section 6): L = -1/G sum over the G groups of
    sum t_i f(y)_i, f the log of softmax over the group, y itself, or ln y; y, t (N, ...).
    A term with t_i = 0 adds nothing."""
    groups = _distribution_groups(y.shape, over)
    total: Scalar = 0
    for group in groups:
        if name == "cross_entropy":
            m = max(y[i] for i in group)
            log_sum = math.log(sum(math.exp(y[i] - m) for i in group))
        for i in group:
            if t[i] == 0:
                continue
            if name == "cross_entropy":
                f = (y[i] - m) - log_sum
            elif name == "nll":
                f = y[i]
            else:
                f = math.log(y[i])
            total = total + t[i] * f
    return _scalar(_divide(-total, len(groups)), y, t)


def distribution_loss_backward(name: str, y: np.ndarray, t: np.ndarray, over: str = "all"
                               ) -> np.ndarray:
    """dL/dy for distribution_loss_forward(name, y, t, over); y's shape.

      cross_entropy: (softmax(y)_i * sum of t over the group - t_i) / G
      nll: -t_i / G        cross_entropy_probs: -t_i / (y_i G), 0 where t_i = 0
    """
    groups = _distribution_groups(y.shape, over)
    G = len(groups)
    dy = _zeros(y.shape, y, t)
    for group in groups:
        if name == "cross_entropy":
            m = max(y[i] for i in group)
            log_sum = math.log(sum(math.exp(y[i] - m) for i in group))
            sum_t = sum(t[i] for i in group)
        for i in group:
            if name == "cross_entropy":
                dy[i] = (math.exp((y[i] - m) - log_sum) * sum_t - t[i]) / G
            elif name == "nll":
                dy[i] = _divide(-t[i], G)
            elif t[i] != 0:
                dy[i] = -t[i] / (y[i] * G)
    return dy


# ----------------------------------------------------------------------------------------
# finite differences


def numerical_gradient(
    f,  # f(x) -> float; unannotated as this module imports only numpy, math, fractions
    x: np.ndarray,
    h: float = 1e-6,
) -> np.ndarray:
    """Central differences: grad[k] = (f(x + h e_k) - f(x - h e_k)) / (2h).

    f: takes a float64 array shaped like x and returns a float scalar; x: float64 array,
    any shape. Returns grad, float64, x's shape. x itself is never modified: f is called on
    a private copy that is nudged one entry at a time and put back.
    """
    x_work = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros(x_work.shape, dtype=np.float64)
    for idx in np.ndindex(x_work.shape):
        old = x_work[idx]
        x_work[idx] = old + h
        f_plus = float(f(x_work))
        x_work[idx] = old - h
        f_minus = float(f(x_work))
        x_work[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


# ----------------------------------------------------------------------------------------
# transposed convolution (SPEC section 6), on a batch: x (N, C, H, W)


def conv_transpose_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                               output_padding: int) -> int:
    """(size-1)*stride - 2*pad + dilation*(kernel-1) + output_padding + 1, as ConvTranspose2d."""
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_padding + 1


def conv_transpose_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: tuple[int, int],
    pad: tuple[int, int],
    output_padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int = 1,
) -> np.ndarray:
    """A transposed convolution, as PyTorch's ConvTranspose2d.

    x: (N, C, H, W); w: (C, F/groups, KH, KW); b: (F,); stride (sh, sw); pad (ph, pw), cut
    from both sides; output_padding (oh, ow), added at the bottom and right; dilation
    (dil_h, dil_w); groups divides C. Returns out: (N, F, OH, OW) with
    OH = (H-1)*sh - 2*ph + dil_h*(KH-1) + oh + 1, likewise OW, where every input entry
    x[n, c, i, j] adds x[n, c, i, j] * w[c, fl, p, q] to
    out[n, g*(F/groups) + fl, i*sh + p*dil_h - ph, j*sw + q*dil_w - pw] (g = c's group)
    when that position is inside the output; each output then gets its filter's bias.
    """
    N, C, H, W = x.shape
    Cw, Fg, KH, KW = w.shape
    sh, sw = stride
    ph, pw = pad
    dil_h, dil_w = dilation
    if Cw != C or C % groups:
        raise ValueError(f"kernel has {Cw} input channels, input {C}, groups {groups}")
    F = Fg * groups
    Cg = C // groups
    OH = conv_transpose_output_size(H, KH, sh, ph, dil_h, output_padding[0])
    OW = conv_transpose_output_size(W, KW, sw, pw, dil_w, output_padding[1])
    out = _zeros((N, F, OH, OW), x, w, b)
    for n in range(N):
        for f in range(F):
            for r, s in np.ndindex(OH, OW):
                out[n, f, r, s] = b[f]
        for c in range(C):
            g = c // Cg
            for i, j, fl, p, q in np.ndindex(H, W, Fg, KH, KW):
                f = g * Fg + fl
                r = i * sh + p * dil_h - ph
                s = j * sw + q * dil_w - pw
                if 0 <= r < OH and 0 <= s < OW:
                    out[n, f, r, s] = out[n, f, r, s] + x[n, c, i, j] * w[c, fl, p, q]
    return out


def conv_transpose_backward(
    x: np.ndarray,
    w: np.ndarray,
    dout: np.ndarray,
    stride: tuple[int, int],
    pad: tuple[int, int],
    output_padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of conv_transpose_forward, given dout = dL/dout (N, F, OH, OW).

    Returns (dx (N, C, H, W), dw (C, F/groups, KH, KW), db (F,)). Every term
    x[n, c, i, j] * w[c, fl, p, q] of out[n, f, r, s] sends dout[n, f, r, s] * w[c, fl, p, q]
    to dx[n, c, i, j] and dout[n, f, r, s] * x[n, c, i, j] to dw[c, fl, p, q]; the bias
    gets every dout[n, f, r, s].
    """
    N, C, H, W = x.shape
    _, Fg, KH, KW = w.shape
    sh, sw = stride
    ph, pw = pad
    dil_h, dil_w = dilation
    F = Fg * groups
    Cg = C // groups
    OH = conv_transpose_output_size(H, KH, sh, ph, dil_h, output_padding[0])
    OW = conv_transpose_output_size(W, KW, sw, pw, dil_w, output_padding[1])
    if dout.shape != (N, F, OH, OW):
        raise ValueError(f"dout has shape {dout.shape}, expected {(N, F, OH, OW)}")
    dx = _zeros((N, C, H, W), x, w, dout)
    dw = _zeros((C, Fg, KH, KW), x, w, dout)
    db = _zeros((F,), x, w, dout)
    for n in range(N):
        for f in range(F):
            for r, s in np.ndindex(OH, OW):
                db[f] = db[f] + dout[n, f, r, s]
        for c in range(C):
            g = c // Cg
            for i, j, fl, p, q in np.ndindex(H, W, Fg, KH, KW):
                f = g * Fg + fl
                r = i * sh + p * dil_h - ph
                s = j * sw + q * dil_w - pw
                if 0 <= r < OH and 0 <= s < OW:
                    dx[n, c, i, j] = dx[n, c, i, j] + dout[n, f, r, s] * w[c, fl, p, q]
                    dw[c, fl, p, q] = dw[c, fl, p, q] + dout[n, f, r, s] * x[n, c, i, j]
    return dx, dw, db


# ----------------------------------------------------------------------------------------
# batch normalisation (SPEC section 6), on a batch: x (N, C, H, W) or (N, K)


def _channel_entries(shape: tuple[int, ...], c: int) -> list[tuple[int, ...]]:
    """Every index of an array of `shape` whose channel (axis 1) is c."""
    return [idx for idx in np.ndindex(shape) if idx[1] == c]


def _batch_statistics(x: np.ndarray, c: int) -> tuple[float, float]:
    """(mean, biased variance) of channel c of x over every other axis."""
    entries = _channel_entries(x.shape, c)
    total = 0.0
    for idx in entries:
        total = total + x[idx]
    mean = total / len(entries)
    squares = 0.0
    for idx in entries:
        squares = squares + (x[idx] - mean) * (x[idx] - mean)
    return mean, squares / len(entries)


def batch_norm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float,
    mode: str,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
) -> np.ndarray:
    """Batch normalisation, as PyTorch's BatchNorm2d (x (N, C, H, W)) or BatchNorm1d (x (N, K)).

    gamma, beta, running_mean, running_var: (C,); mode train (mean and biased variance of
    each channel over the batch and the positions) or eval (running_mean, running_var).
    Returns y, x's shape: y = gamma[c] * (x - mean[c]) / sqrt(var[c] + eps) + beta[c].
    """
    y = np.zeros(x.shape, dtype=np.float64)
    for c in range(x.shape[1]):
        if mode == "train":
            mean, var = _batch_statistics(x, c)
        else:  # defaults as PyTorch's fresh running statistics: mean 0, var 1
            mean = 0.0 if running_mean is None else running_mean[c]
            var = 1.0 if running_var is None else running_var[c]
        sigma = math.sqrt(var + eps)
        for idx in _channel_entries(x.shape, c):
            y[idx] = gamma[c] * (x[idx] - mean) / sigma + beta[c]
    return y


def batch_norm_backward(
    x: np.ndarray,
    gamma: np.ndarray,
    dout: np.ndarray,
    eps: float,
    mode: str,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch_norm_forward, given dout = dL/dy (x's shape).

    Returns (dx (x's shape), dgamma (C,), dbeta (C,)). dx is the Jacobian product, entry by
    entry: dx[i] = sum over j of channel c of dout[j] * dy_j/dx_i, where in train mode
    (M values per channel, xhat = (x - mean) / sigma)
        dy_j/dx_i = gamma[c] / sigma * (delta_ij - 1/M - xhat_i * xhat_j / M)
    and in eval mode dy_j/dx_i = gamma[c] / sigma * delta_ij.
    dgamma[c] = sum of dout * xhat, dbeta[c] = sum of dout, over the channel.
    """
    dx = np.zeros(x.shape, dtype=np.float64)
    dgamma = np.zeros(x.shape[1], dtype=np.float64)
    dbeta = np.zeros(x.shape[1], dtype=np.float64)
    for c in range(x.shape[1]):
        if mode == "train":
            mean, var = _batch_statistics(x, c)
        else:  # defaults as PyTorch's fresh running statistics: mean 0, var 1
            mean = 0.0 if running_mean is None else running_mean[c]
            var = 1.0 if running_var is None else running_var[c]
        sigma = math.sqrt(var + eps)
        entries = _channel_entries(x.shape, c)
        M = len(entries)
        for j in entries:
            xhat_j = (x[j] - mean) / sigma
            dgamma[c] = dgamma[c] + dout[j] * xhat_j
            dbeta[c] = dbeta[c] + dout[j]
        for i in entries:
            xhat_i = (x[i] - mean) / sigma
            total = 0.0
            for j in entries:
                xhat_j = (x[j] - mean) / sigma
                delta = 1.0 if i == j else 0.0
                if mode == "train":
                    jacobian = gamma[c] / sigma * (delta - 1 / M - xhat_i * xhat_j / M)
                else:
                    jacobian = gamma[c] / sigma * delta
                total = total + dout[j] * jacobian
            dx[i] = total
    return dx, dgamma, dbeta
