"""The conv layer's groups and padding modes (SPEC section 6, PyTorch's Conv2d(groups=g,
padding_mode=...)): the naive twin by hand and against central differences; the layer, on
batch-first arrays, against the twin (exact fractions and float64), central differences and
PyTorch float64 autograd; its terms against its values; the reading of the keys; and the
pinned JSON of problems/depthwise.yaml and problems/reflect_padding.yaml against PyTorch."""

from __future__ import annotations

import json
import re
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import convgrad
from convgrad import geometry
from convgrad import reference as ref
from convgrad.arith import Numbers
from convgrad.errors import ProblemError
from convgrad.layers import evaluate, make_layer
from convgrad.layers.conv import ConvLayer
from convgrad.model import Conv, Layer
from convgrad.reader import problem_from_text

RNG = np.random.default_rng(5)
ROOT = Path(__file__).parent.parent

# (N, C, H, W, F, KH, KW, stride, pad (top, bottom, left, right), dilation, groups, flip,
#  padding_mode)
CASES = [
    (1, 2, 3, 3, 2, 2, 2, (1, 1), (0, 0, 0, 0), (1, 1), 2, False, "zeros"),  # depthwise
    (2, 4, 4, 5, 6, 2, 3, (1, 2), (1, 0, 2, 1), (2, 1), 2, False, "zeros"),  # 2 groups of 2 -> 3
    (2, 3, 4, 4, 6, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 3, True, "zeros"),   # depthwise x2, flip
    (3, 4, 3, 4, 4, 2, 2, (1, 1), (0, 1, 1, 0), (1, 2), 4, False, "zeros"),
    (1, 6, 3, 3, 3, 1, 2, (1, 1), (0, 0, 0, 0), (1, 1), 3, False, "zeros"),  # 2 channels each
    (2, 2, 3, 3, 4, 2, 2, (2, 1), (1, 1, 0, 0), (1, 1), 1, False, "zeros"),  # no groups
    (1, 1, 3, 3, 1, 2, 2, (1, 1), (1, 1, 1, 1), (1, 1), 1, False, "reflect"),
    (2, 2, 4, 3, 2, 3, 2, (2, 1), (3, 1, 2, 0), (1, 2), 2, True, "reflect"),   # pad H - 1
    (2, 2, 3, 4, 3, 2, 3, (1, 2), (2, 0, 1, 3), (2, 1), 1, False, "replicate"),  # pad > input
    (1, 1, 2, 2, 2, 2, 2, (1, 1), (3, 0, 1, 2), (1, 1), 1, False, "replicate"),
    (2, 4, 3, 3, 2, 2, 2, (1, 1), (3, 3, 1, 2), (1, 1), 2, False, "circular"),  # pad = input
    (1, 1, 4, 3, 1, 3, 3, (2, 2), (1, 2, 3, 0), (1, 1), 1, True, "circular"),
]


def out_size(case: tuple) -> tuple[int, int]:
    _, _, H, W, _, KH, KW, stride, pad, dilation, *_ = case
    return (geometry.conv_output_size(H, pad[0], pad[1], KH, stride[0], dilation[0]),
            geometry.conv_output_size(W, pad[2], pad[3], KW, stride[1], dilation[1]))


def fractions(shape: tuple[int, ...]) -> np.ndarray:
    """Small fractions (halves, thirds) and zeros, as an exact object array."""
    values = [Fraction(int(n), int(d)) for n, d in
              zip(RNG.integers(-4, 5, size=int(np.prod(shape))),
                  RNG.choice([1, 2, 3], size=int(np.prod(shape))), strict=True)]
    return np.array(values, dtype=object).reshape(shape)


def arrays(case: tuple, exact: bool) -> tuple[np.ndarray, ...]:
    """x (N, C, H, W), w (F, C/g, KH, KW), b (F,), dout (N, F, OH, OW) for a case."""
    N, C, H, W, F, KH, KW, *_, groups, _, _ = case
    shapes = [(N, C, H, W), (F, C // groups, KH, KW), (F,), (N, F, *out_size(case))]
    if exact:
        return tuple(fractions(s) for s in shapes)
    return tuple(RNG.normal(size=s) for s in shapes)


def layer_of(case: tuple, w: np.ndarray, b: np.ndarray, exact: bool) -> ConvLayer:
    """The run's layer object for a case, made from its description as the engine makes it."""
    _, C, H, W, F, _, _, stride, pad, dilation, groups, flip, mode = case
    op = Conv(w=w, b=b, stride=stride, pad=pad, dilation=dilation, flip=flip,
              kernel_shape=w.shape, bias_scalar=False, padding_text="", groups=groups,
              padding_mode=mode)
    spec = Layer(name="conv1", type="conv", op=op, in_shape=(C, H, W),
                 out_shape=(F, *out_size(case)))
    layer = make_layer(spec, Numbers(exact, False, lambda key, what: ProblemError(key)))
    assert isinstance(layer, ConvLayer)
    return layer


def twin(case: tuple, x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray
         ) -> tuple[np.ndarray, ...]:
    """The naive twin, one sample at a time: out, dx, and dw, db summed over the samples."""
    stride, pad, dilation, groups, flip, mode = case[7:]
    outs, dxs, dws, dbs = [], [], [], []
    for n in range(x.shape[0]):
        outs.append(ref.conv_forward(x[n], w, b, stride, pad, dilation, flip, groups, mode))
        dx, dw, db = ref.conv_backward(x[n], w, dout[n], stride, pad, dilation, flip, groups,
                                       mode)
        dxs.append(dx)
        dws.append(dw)
        dbs.append(db)
    return np.stack(outs), np.stack(dxs), sum(dws[1:], dws[0]), sum(dbs[1:], dbs[0])


# --- the naive twin ----------------------------------------------------------------------


def test_reference_groups_by_hand():
    # Depthwise: filter 1 reads channel 1 only, filter 2 channel 2 only.
    x = np.array([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], dtype=object)
    w = np.array([[[[1, 0], [0, 1]]], [[[0, 1], [1, 0]]]], dtype=object)
    b = np.array([0, 1], dtype=object)
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), groups=2)
    assert z.tolist() == [[[1 + 4]], [[6 + 7 + 1]]]
    dx, dw, db = ref.conv_backward(x, w, np.array([[[2]], [[3]]], dtype=object), (1, 1),
                                   (0, 0, 0, 0), (1, 1), groups=2)
    assert dx.tolist() == [[[2, 0], [0, 2]], [[0, 3], [3, 0]]]
    assert dw.tolist() == [[[[2, 4], [6, 8]]], [[[15, 18], [21, 24]]]]
    assert db.tolist() == [2, 3]
    with pytest.raises(ValueError):
        ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1), groups=1)


def test_reference_padding_modes_by_hand():
    x = np.array([[[1, 2, 3], [4, 5, 6]]], dtype=object)
    pad = (1, 1, 2, 1)  # top, bottom, left, right
    # reflect: mirrored across the edge, the edge not repeated.
    assert ref.pad_input(x, pad, "reflect")[0].tolist() == [
        [6, 5, 4, 5, 6, 5], [3, 2, 1, 2, 3, 2], [6, 5, 4, 5, 6, 5], [3, 2, 1, 2, 3, 2]]
    # replicate: the nearest edge cell.
    assert ref.pad_input(x, pad, "replicate")[0].tolist() == [
        [1, 1, 1, 2, 3, 3], [1, 1, 1, 2, 3, 3], [4, 4, 4, 5, 6, 6], [4, 4, 4, 5, 6, 6]]
    # circular: wrapped around.
    assert ref.pad_input(x, pad, "circular")[0].tolist() == [
        [5, 6, 4, 5, 6, 4], [2, 3, 1, 2, 3, 1], [5, 6, 4, 5, 6, 4], [2, 3, 1, 2, 3, 1]]
    assert ref.pad_input(x, pad)[0].tolist()[0] == [0] * 6
    # A 1x1 kernel of 1 on replicate padding: x11 appears 1 + 3 + 2 times in the padded
    # 4x6 map (its own cell, its row's two left pads and the top pad above the three), so
    # dL/dx11 is 6 when every output's gradient is 1.
    w = np.array([[[[1]]]], dtype=object)
    dout = np.ones((1, 4, 6), dtype=object)
    dx, _, _ = ref.conv_backward(x, w, dout, (1, 1), pad, (1, 1), mode="replicate")
    assert dx.tolist() == [[[6, 2, 4], [6, 2, 4]]]
    with pytest.raises(ValueError):
        ref.pad_input(x, (2, 0, 0, 0), "reflect")


def test_layer_padding_matches_the_twin_helper():
    from convgrad.layers.conv import pad_input, unpad

    x = fractions((2, 3, 2, 3))
    for mode in ("zeros", "reflect", "replicate", "circular"):
        for pad in ((1, 1, 2, 1), (0, 1, 0, 2), (2, 2, 1, 1)):
            if mode == "reflect" and pad[0] >= 2:
                continue
            want = np.stack([ref.pad_input(x[n], pad, mode) for n in range(2)])
            assert pad_input(x, pad, mode).tolist() == want.tolist(), (mode, pad)
            # unpad is pad_input's transpose: <pad(x), y> == <x, unpad(y)>.
            y = fractions(want.shape)
            assert (want * y).sum() == (x * unpad(y, pad, mode)).sum(), (mode, pad)


@pytest.mark.parametrize("case", CASES[1:5] + CASES[7:])
def test_reference_against_central_differences(case):
    x, w, b, c = arrays(case, exact=False)
    stride, pad, dilation, groups, flip, mode = case[7:]
    args = (stride, pad, dilation, flip, groups, mode)
    dx, dw, db = ref.conv_backward(x[0], w, c[0], *args)

    def loss(x_, w_, b_):
        return float((c[0] * ref.conv_forward(x_, w_, b_, *args)).sum())

    for mine, arg, f in ((dx, x[0], lambda v: loss(v, w, b)), (dw, w, lambda v: loss(x[0], v, b)),
                         (db, b, lambda v: loss(x[0], w, v))):
        np.testing.assert_allclose(mine, ref.numerical_gradient(f, arg), rtol=1e-6, atol=1e-8)


# --- the layer against the twin, exactly and in float64 --------------------------------


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_layer_matches_reference(case, exact):
    x, w, b, dout = arrays(case, exact)
    layer = layer_of(case, w, b, exact)
    out = layer.forward(x)
    dx = layer.backward(dout)
    want = twin(case, x, w, b, dout)
    assert layer.dw is not None and layer.db is not None
    assert out.shape == want[0].shape and dx.shape == x.shape and layer.dw.shape == w.shape
    for mine, theirs in zip((out, dx, layer.dw, layer.db), want, strict=True):
        if exact:
            assert mine.dtype == object and mine.tolist() == theirs.tolist()
        else:
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_both_unrollings_match_reference(case, exact, monkeypatch):
    """The small cases unroll every kernel row in one product; large channel counts unroll
    one row at a time (conv.kernel_rows_per_block), and large ones compute dX one offset
    at a time (conv.DX_ROWS): both forced here on every case, against the twin; one
    sample's dW in the orientation of long windows (conv.DW_TRANSPOSED_ROWS) too."""
    from convgrad.layers import conv

    monkeypatch.setattr(conv, "kernel_rows_per_block", lambda Cg, Fg, KH, KW, positions: 1)
    monkeypatch.setattr(conv, "DX_ROWS", 1)
    monkeypatch.setattr(conv, "DW_TRANSPOSED_ROWS", 0)
    x, w, b, dout = arrays(case, exact)
    layer = layer_of(case, w, b, exact)
    out = layer.forward(x)
    assert layer.cols is not None and layer.cols.shape[2] == 1
    dx = layer.backward(dout)
    for mine, theirs in zip((out, dx, layer.dw, layer.db), twin(case, x, w, b, dout),
                            strict=True):
        if exact:
            assert mine.tolist() == theirs.tolist()
        else:
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


def test_unrolling_follows_the_channels():
    """Every kernel row at once while the full im2col matrix is within FULL_UNROLL_ENTRIES
    (one 64x56x56 image under 64 3x3 filters); past it, one row at a time when a row's
    block (C/G*KW) is long enough for BLAS and no shorter than the output it adds to."""
    from convgrad.layers.conv import kernel_rows_per_block

    assert kernel_rows_per_block(64, 64, 3, 3, 56 * 56) == 3
    assert kernel_rows_per_block(64, 64, 3, 3, 8 * 56 * 56) == 1
    assert kernel_rows_per_block(3, 64, 7, 7, 8 * 112 * 112) == 7
    assert kernel_rows_per_block(64, 512, 3, 3, 8 * 56 * 56) == 3
    assert kernel_rows_per_block(16, 16, 3, 3, 8 * 56 * 56) == 3


# Strides 1 to 3 with and without dilation, groups, every padding mode, batches, and a
# 7x7 kernel with stride 2: the phase planes of the dX scatter, and one image unrolled whole.
MORE_CASES = [
    (2, 3, 9, 8, 4, 3, 3, (3, 3), (1, 1, 2, 0), (1, 1), 1, False, "zeros"),
    (3, 4, 10, 9, 6, 3, 2, (3, 2), (2, 1, 0, 1), (2, 3), 2, True, "zeros"),
    (1, 6, 7, 7, 6, 3, 3, (1, 1), (1, 1, 1, 1), (2, 2), 3, False, "reflect"),
    (2, 2, 9, 9, 5, 4, 4, (3, 1), (2, 2, 3, 3), (1, 1), 1, False, "replicate"),
    (4, 4, 6, 7, 4, 2, 3, (2, 3), (1, 1, 1, 1), (1, 1), 2, False, "circular"),
    # dilation a multiple of the stride: every tap reads phase 0, the other phase planes
    # of the dX scatter stay zeros
    (2, 2, 7, 8, 3, 2, 2, (2, 3), (1, 0, 2, 1), (2, 3), 1, False, "zeros"),
    (1, 3, 16, 16, 8, 7, 7, (2, 2), (3, 3, 3, 3), (1, 1), 1, False, "zeros"),
]


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("case", MORE_CASES)
def test_more_cases_match_reference(case, exact):
    test_layer_matches_reference(case, exact)


@pytest.mark.parametrize("where", ["x", "w", "dout"])
@pytest.mark.parametrize("case", CASES[:3] + MORE_CASES)
def test_non_finite_entries_match_reference(case, where):
    """An inf, a -inf and a NaN in x, w or dout give the twin's infs and NaNs, entry for
    entry: the engine multiplies no padding of dout (or cell between outputs) by the kernel
    that the twin does not (0 * inf is NaN)."""
    x, w, b, dout = arrays(case, exact=False)
    arr = {"x": x, "w": w, "dout": dout}[where]
    flat = arr.reshape(-1)
    flat[[0, flat.size // 2, -1]] = [np.inf, -np.inf, np.nan]
    with np.errstate(all="ignore"):
        want = twin(case, x, w, b, dout)
        layer = layer_of(case, w, b, exact=False)
        got = (layer.forward(x), layer.backward(dout), layer.dw, layer.db)
    for mine, theirs in zip(got, want, strict=True):
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
def test_layers_sharing_the_spare_buffer_match_reference(exact):
    """Backward reuses forward's windows for dX and hands their buffer on to the next
    forward pass: two layers run forward, forward, backward, backward (as in a network),
    then the first backward again on a copy (as grade does), all against the twin."""
    import copy

    first, second = MORE_CASES[-1], MORE_CASES[1]
    x1, w1, b1, d1 = arrays(first, exact)
    x2, w2, b2, d2 = arrays(second, exact)
    layer1, layer2 = layer_of(first, w1, b1, exact), layer_of(second, w2, b2, exact)
    out1, out2 = layer1.forward(x1), layer2.forward(x2)
    dx2 = layer2.backward(d2)
    dx1 = layer1.backward(d1)
    got1 = (out1, dx1, layer1.dw, layer1.db)
    again = copy.copy(layer1)
    d1_again = d1[::-1].copy()
    dx1_again = again.backward(d1_again)
    checks = [(got1, twin(first, x1, w1, b1, d1)),
              ((out2, dx2, layer2.dw, layer2.db), twin(second, x2, w2, b2, d2)),
              ((out1, dx1_again, again.dw, again.db), twin(first, x1, w1, b1, d1_again))]
    for got, want in checks:
        for mine, theirs in zip(got, want, strict=True):
            if exact:
                assert mine.tolist() == theirs.tolist()
            else:
                np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("shape, pad, kernel, stride, dilation", [
    ((2, 3, 5, 6), (1, 2), (3, 3), (1, 1), (1, 1)),
    ((1, 2, 7, 7), (3, 3), (7, 7), (2, 2), (1, 1)),
    ((2, 2, 6, 5), (0, 4), (2, 3), (3, 2), (2, 1)),
    ((1, 1, 4, 4), (-1, 2), (2, 2), (1, 1), (1, 2)),  # a negative padding crops
])
def test_unrolling_without_the_padded_copy(shape, pad, kernel, stride, dilation, exact):
    """unroll_zero_padded gives the windows im2col takes from the zero-padded copy."""
    from convgrad.layers.conv import im2col, unroll_zero_padded

    N, C, H, W = shape
    (top, left), (KH, KW) = pad, kernel
    x = fractions(shape) if exact else RNG.normal(size=shape)
    OH = (H + 2 * max(top, 0) - (KH - 1) * dilation[0] - 1) // stride[0] + 1
    OW = (W + 2 * max(left, 0) - (KW - 1) * dilation[1] - 1) // stride[1] + 1
    # The padded copy, cell by cell: x_pad[r, s] = x[r - top, s - left], zeros outside x.
    Hp, Wp = (OH - 1) * stride[0] + (KH - 1) * dilation[0] + 1, \
        (OW - 1) * stride[1] + (KW - 1) * dilation[1] + 1
    x_pad = np.zeros((N, C, Hp, Wp), dtype=x.dtype)
    for r in range(Hp):
        for s in range(Wp):
            inside = 0 <= r - top < H and 0 <= s - left < W
            x_pad[:, :, r, s] = x[:, :, r - top, s - left] if inside else 0
    want = im2col(x_pad, KH, KW, stride, dilation, OH, OW, KH)
    got = unroll_zero_padded(x, top, left, KH, KW, stride, dilation, OH, OW)
    assert got.shape == want.shape and got.tolist() == want.tolist()


@pytest.mark.parametrize("case", CASES[1:4] + CASES[7:])
def test_layer_against_central_differences(case):
    x, w, b, c = arrays(case, exact=False)
    layer = layer_of(case, w, b, exact=False)
    layer.forward(x)
    dx = layer.backward(c)  # L = sum c * out

    def loss(x_, w_, b_):
        return float((c * layer_of(case, w_, b_, exact=False).forward(x_)).sum())

    for mine, arg, f in ((dx, x, lambda v: loss(v, w, b)), (layer.dw, w, lambda v: loss(x, v, b)),
                         (layer.db, b, lambda v: loss(x, w, v))):
        np.testing.assert_allclose(mine, ref.numerical_gradient(f, arg), rtol=1e-6, atol=1e-8)


# --- the layer against PyTorch float64 autograd ----------------------------------------


def torch_grid() -> list[tuple]:
    """Shapes, strides, paddings (4-sided), dilations, groups and padding modes that Conv2d
    accepts, with CASES."""
    grid = list(CASES)
    for groups, C, F in ((1, 2, 3), (2, 4, 2), (3, 3, 3), (4, 4, 8)):
        for stride, dilation in (((1, 1), (1, 1)), ((2, 1), (1, 2)), ((1, 2), (2, 1))):
            for pad in ((1, 1, 2, 2), (2, 0, 1, 2), (3, 1, 0, 4)):
                for mode in ("zeros", "reflect", "replicate", "circular"):
                    if mode == "reflect" and (max(pad[:2]) >= 4 or max(pad[2:]) >= 5):
                        continue
                    case = (2, C, 4, 5, F, 2, 3, stride, pad, dilation, groups, False, mode)
                    if min(out_size(case)) >= 1:
                        grid.append(case)
    return grid


TORCH_GRID = torch_grid()
TORCH_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}


@pytest.mark.parametrize("case", TORCH_GRID, ids=[str(i) for i in range(len(TORCH_GRID))])
def test_layer_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    x, w, b, dout = arrays(case, exact=False)
    stride, pad, dilation, groups, flip, mode = case[7:]
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tw = torch.from_numpy(w.copy()).requires_grad_(True)
    tb = torch.from_numpy(b.copy()).requires_grad_(True)
    top, bottom, left, right = pad
    padded = torch.nn.functional.pad(tx, (left, right, top, bottom), mode=TORCH_PAD[mode])
    ty = torch.nn.functional.conv2d(padded, torch.flip(tw, [2, 3]) if flip else tw, tb,
                                    stride=stride, dilation=dilation, groups=groups)
    ty.backward(torch.from_numpy(dout))
    layer = layer_of(case, w, b, exact=False)
    out = layer.forward(x)
    dx = layer.backward(dout)
    for mine, theirs in ((out, ty.detach()), (dx, tx.grad), (layer.dw, tw.grad),
                         (layer.db, tb.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-12)


# PyTorch warns that an even kernel under "same" pads a copy of the input: so does convgrad.
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, 2, "same"])
def test_padding_mode_module_matches_pytorch(padding, mode):
    """PyTorch's own module, Conv2d(padding=..., padding_mode=...), symmetric and "same"."""
    torch = pytest.importorskip("torch")
    H, W, KH, KW = 4, 5, 3, 2
    if padding == "same":  # SPEC's split of the total (the extra row at the bottom/right)
        pad = (*geometry.same_padding(H, KH, 1, 1), *geometry.same_padding(W, KW, 1, 1))
    else:
        pad = (padding,) * 4
    case = (2, 2, H, W, 4, KH, KW, (1, 1), pad, (1, 1), 2, False, mode)
    x, w, b, dout = arrays(case, exact=False)
    module = torch.nn.Conv2d(2, 4, (KH, KW), padding=padding, padding_mode=mode,
                             groups=2).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        module.bias.copy_(torch.from_numpy(b))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = module(tx)
    ty.backward(torch.from_numpy(dout))
    layer = layer_of(case, w, b, exact=False)
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.dw, module.weight.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_grouped_module_matches_pytorch():
    """PyTorch's own module, Conv2d(groups=g): the same numbers as the functional form."""
    torch = pytest.importorskip("torch")
    case = CASES[2]
    x, w, b, dout = arrays(case, exact=False)
    module = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(np.ascontiguousarray(w[:, :, ::-1, ::-1])))
        module.bias.copy_(torch.from_numpy(b))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = module(tx)
    ty.backward(torch.from_numpy(dout))
    layer = layer_of(case, w, b, exact=False)  # flipped: the module holds w rotated
    np.testing.assert_allclose(layer.forward(x), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.backward(dout), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.dw, module.weight.grad.numpy()[:, :, ::-1, ::-1],
                               rtol=1e-9, atol=1e-12)


# --- terms: every entry rebuilt from its terms ---------------------------------------------


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_terms_add_up_to_every_entry(case, exact):
    x, w, b, dout = arrays(case, exact)
    layer = layer_of(case, w, b, exact)
    layer.forward(x)
    layer.backward(dout)
    named = layer.arrays()
    for of, arr in (("out", layer.out), ("dx", layer.dx), ("dw", layer.dw), ("db", layer.db)):
        assert arr is not None
        for index in np.ndindex(arr.shape):
            value = evaluate(layer.terms(of, index), named)
            if exact:
                assert value == arr[index], (of, index)
            else:
                assert value == pytest.approx(arr[index], rel=1e-12, abs=1e-12), (of, index)


def test_terms_read_only_the_filters_group():
    case = CASES[1]  # 4 channels in 2 groups of 2, 6 filters: 3 per group
    x, w, b, dout = arrays(case, exact=True)
    layer = layer_of(case, w, b, exact=True)
    layer.forward(x)
    layer.backward(dout)
    # Filter 4 (index 3) is the first of group 2: channels 3 and 4 (indices 2, 3), which the
    # kernel counts as its channels 1 and 2.
    taps, bias = layer.out_terms(1, 3, 0, 0)
    assert {x_index[1] for x_index, _ in taps if x_index is not None} == {2, 3}
    assert {w_index[1] for _, w_index in taps} == {0, 1}
    assert all(x_index[0] == 1 for x_index, _ in taps if x_index is not None)
    assert bias == (3,)
    # dx of channel 2 (index 1, group 1) sums over filters 1 to 3 only.
    assert {o[1] for o, _ in layer.dx_terms(0, 1, 1, 1)} <= {0, 1, 2}
    assert {wi[1] for _, wi in layer.dx_terms(0, 3, 1, 1)} == {1}
    # dw[5, 1, ...]: filter 6 (group 2), its channel 2 is input channel 4 (index 3).
    assert {xi[1] for _, xi in layer.dw_terms(5, 1, 0, 0)} == {3}


def test_terms_on_copied_padding_name_the_input_cell():
    case = CASES[6]  # 3x3, 2x2 kernel, reflect padding 1 on every side
    x, w, b, dout = arrays(case, exact=True)
    layer = layer_of(case, w, b, exact=True)
    layer.forward(x)
    layer.backward(dout)
    # z[0,0,0,0]: the window of padded rows 0-1, columns 0-1; padded row 0 mirrors input
    # row 1, padded column 0 input column 1.
    taps, _ = layer.out_terms(0, 0, 0, 0)
    assert [t[0] for t in taps] == [(0, 0, 1, 1), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)]
    # x[0,0,1,1], the centre, is held by 9 cells of the 5x5 padded map: rows 0, 2, 4
    # (padded row 0 and row 4 mirror input row 1) times columns 0, 2, 4. Its dX sums one
    # (output, tap) pair for every tap of every output on any of them.
    pairs = layer.dx_terms(0, 0, 1, 1)
    x_pad = np.array(ref.pad_input(np.arange(9).reshape(1, 3, 3), (1, 1, 1, 1), "reflect"))
    assert np.argwhere(x_pad[0] == 4).tolist() == [[r, s] for r in (0, 2, 4) for s in (0, 2, 4)]
    # Each output window (2x2) covers 4 padded cells; count the (output, tap) pairs on them.
    taps_on = sum(int((x_pad[0, i:i + 2, j:j + 2] == 4).sum()) for i in range(4)
                  for j in range(4))
    assert len(pairs) == taps_on == len(set(pairs))


# --- reading the keys ------------------------------------------------------------------------


def error(text: str) -> str:
    with pytest.raises(ProblemError) as info:
        problem_from_text(textwrap.dedent(text), source="p.yaml")
    return str(info.value)


X2 = '["1 2 3; 4 5 6; 7 8 9", "1 0 1; 0 1 0; 1 0 1"]'


def test_reader_groups_in_both_forms():
    single = problem_from_text(textwrap.dedent(f"""\
        input: {X2}
        kernel: [["1 0; 0 1"], ["1 1; 1 1"], ["0 1; 1 0"], ["1 -1; 0 0"]]
        groups: 2
        """))
    op = single.layers[0].op
    assert isinstance(op, Conv) and op.groups == 2 and op.w.shape == (4, 1, 2, 2)
    assert single.layers[0].out_shape == (4, 2, 2)
    network = problem_from_text(textwrap.dedent(f"""\
        input: {X2}
        layers:
          - conv: {{kernel: [["1 0; 0 1"], ["1 1; 1 1"]], groups: 2}}
          - relu
        """))
    op = network.layers[0].op
    assert isinstance(op, Conv) and op.groups == 2 and network.layers[0].out_shape == (2, 2, 2)


@pytest.mark.parametrize(("body", "line", "words"), [
    # groups does not divide the channels
    (f'input: {X2}\nkernel: [["1 0; 0 1"], ["1 1; 1 1"], ["1 1; 1 1"]]\ngroups: 3\n',
     3, ["'groups' is 3", "2 channels", "divide the number of input channels"]),
    # ... nor the filters
    (f'input: {X2}\nkernel: [["1 0; 0 1"], ["1 1; 1 1"], ["1 1; 1 1"]]\ngroups: 2\n',
     3, ["'groups' is 2", "3 filters", "divide the number of filters"]),
    # a kernel with every channel per filter under groups
    (f'input: {X2}\nkernel: [["1 0; 0 1", "1 0; 0 1"], ["1 1; 1 1", "1 0; 0 1"]]\n'
     'groups: 2\n', 2, ["'kernel'", "2 channels per filter", "F x 1 x kh x kw"]),
    # groups with a 3-D kernel
    (f'input: {X2}\nkernel: ["1 0; 0 1", "1 1; 1 1"]\ngroups: 2\n', 2,
     ["'kernel' is 2x2x2", "4-D"]),
    (f'input: {X2}\nkernel: [["1 0; 0 1"], ["1 1; 1 1"]]\ngroups: 0\n', 3,
     ["'groups' must be a whole number >= 1"]),
    (f'input: {X2}\nkernel: [["1 0; 0 1"], ["1 1; 1 1"]]\ngroups: "1/2"\n', 3,
     ["'groups' must be a whole number >= 1"]),
    (f'input: {X2}\nlayers:\n  - relu\n  - conv:\n      kernel: [[[[1]]], [[[1]]], [[[1]]]]\n'
     '      groups: 2\n', 6, ["'layers[2].conv.groups' is 2", "3 filters"]),
])
def test_reader_errors_name_the_line(body, line, words):
    message = error(body)
    assert f"p.yaml, line {line}:" in message, message
    for word in words:
        assert word in message, (word, message)


def test_reader_padding_mode():
    for mode in ("zeros", "reflect", "replicate", "circular"):
        p = problem_from_text(f'input: "1 2 3; 4 5 6"\nkernel: "1 1; 1 1"\npadding: 1\n'
                              f"padding_mode: {mode}\n")
        op = p.layers[0].op
        assert isinstance(op, Conv) and op.padding_mode == mode
    p = problem_from_text('input: "1 2 3; 4 5 6"\nkernel: "1 1; 1 1"\n')
    op = p.layers[0].op
    assert isinstance(op, Conv) and op.padding_mode == "zeros"
    # "same" and 4-sided padding take the mode too.
    p = problem_from_text('input: "1 2 3; 4 5 6"\nlayers:\n  - conv: {kernel: "1 1 1; 1 1 1", '
                          'padding: same, padding_mode: circular}\n')
    op = p.layers[0].op
    assert isinstance(op, Conv) and op.pad == (0, 1, 1, 1) and op.padding_mode == "circular"


@pytest.mark.parametrize(("body", "line", "words"), [
    ('input: "1 2 3; 4 5 6"\nkernel: 1\npadding: 2\npadding_mode: reflect\n', 3,
     ["'padding' puts 2 rows of padding at the top", "2 rows", "less than 2", "replicate"]),
    ('input: "1 2 3; 4 5 6"\nkernel: 1\npadding: [0, 0, 1, 3]\npadding_mode: reflect\n', 3,
     ["'padding' puts 3 columns of padding at the right", "3 columns"]),
    ('input: "1 2 3; 4 5 6"\nkernel: 1\npadding: [0, 3, 0, 0]\npadding_mode: circular\n', 3,
     ["'padding' puts 3 rows of padding at the bottom", "at most 2"]),
    ('input: "1 2 3; 4 5 6"\nkernel: 1\npadding: 1\npadding_mode: reflects\n', 4,
     ["'padding_mode' 'reflects' is not a padding mode", "did you mean 'reflect'?"]),
    ('input: "1 2 3; 4 5 6"\nkernel: 1\npadding_mode: mirror\n', 3,
     ["'padding_mode' 'mirror' is not a padding mode", "zeros, reflect, replicate, circular"]),
    ('input: "1 2; 3 4"\nlayers:\n  - conv:\n      kernel: "1 1 1; 1 1 1; 1 1 1"\n'
     '      padding: same\n      dilation: 2\n      padding_mode: reflect\n', 5,
     ["'layers[1].conv.padding' puts 2 rows", "reflect"]),
])
def test_reader_padding_mode_errors(body, line, words):
    message = error(body)
    assert f"p.yaml, line {line}:" in message, message
    for word in words:
        assert word in message, (word, message)


# --- the problem file and its pinned JSON, against PyTorch ---------------------------------


def _golden(name: str) -> dict:
    return json.loads((ROOT / "tests" / "golden" / "json" / f"{name}.json").read_text())


def test_depthwise_example_matches_pytorch():
    """problems/depthwise.yaml's pinned --json (exact) against Conv2d(groups=2) -> ReLU -> MSE
    in PyTorch float64: every value, and each exact string equal to its JSON number."""
    torch = pytest.importorskip("torch")
    problem = convgrad.reader.read_file(ROOT / "problems" / "depthwise.yaml")
    op = problem.layers[0].op
    assert isinstance(op, Conv) and op.groups == 2
    as_float = np.vectorize(float)
    x = torch.tensor(as_float(problem.x)[np.newaxis], requires_grad=True)
    w = torch.tensor(as_float(op.w), requires_grad=True)
    b = torch.tensor(as_float(op.b), requires_grad=True)
    z = torch.nn.functional.conv2d(x, w, b, groups=2)
    z.retain_grad()
    y = torch.relu(z)
    y.retain_grad()
    assert problem.target is not None
    loss = torch.nn.functional.mse_loss(y, torch.tensor(as_float(problem.target)[np.newaxis]))
    loss.backward()
    assert x.grad is not None and w.grad is not None and b.grad is not None
    golden = _golden("depthwise")
    want = {"Y": y[0], "dY": y.grad[0], "Z": z[0], "dZ": z.grad[0], "dW": w.grad,
            "db": b.grad, "dX": x.grad[0], "loss": loss}
    assert set(want) <= set(golden)
    for key, value in want.items():
        np.testing.assert_allclose(np.asarray(golden[key], dtype=float),
                                   value.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=key)
        exact = np.vectorize(lambda s: float(Fraction(s)))(np.asarray(golden["exact"][key]))
        np.testing.assert_array_equal(exact, np.asarray(golden[key], dtype=float))


def test_reflect_padding_example_matches_pytorch():
    """problems/reflect_padding.yaml's pinned --json against Conv2d(padding='same',
    padding_mode='reflect') -> ReLU -> MSE in PyTorch float64."""
    torch = pytest.importorskip("torch")
    problem = convgrad.reader.read_file(ROOT / "problems" / "reflect_padding.yaml")
    op = problem.layers[0].op
    assert isinstance(op, Conv) and op.padding_mode == "reflect" and op.pad == (1, 1, 1, 1)
    as_float = np.vectorize(float)
    module = torch.nn.Conv2d(1, 1, 3, padding="same", padding_mode="reflect").double()
    with torch.no_grad():
        module.weight.copy_(torch.tensor(as_float(op.w)))
        module.bias.copy_(torch.tensor(as_float(op.b)))
    x = torch.tensor(as_float(problem.x)[np.newaxis], requires_grad=True)
    z = module(x)
    z.retain_grad()
    y = torch.relu(z)
    y.retain_grad()
    assert problem.target is not None
    loss = torch.nn.functional.mse_loss(y, torch.tensor(as_float(problem.target)[np.newaxis]))
    loss.backward()
    assert x.grad is not None and module.weight.grad is not None
    golden = _golden("reflect_padding")
    want = {"Y": y[0, 0], "dY": y.grad[0, 0], "Z": z[0, 0], "dZ": z.grad[0, 0],
            "dW": module.weight.grad[0, 0], "db": module.bias.grad[0], "dX": x.grad[0, 0],
            "loss": loss}
    for key, value in want.items():
        np.testing.assert_allclose(np.asarray(golden[key], dtype=float),
                                   value.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("stride", [(10**11, 10**11), (2**63, 1), (1, 10**30), (10**30, 10**30)])
@pytest.mark.parametrize("padding, mode", [(0, "zeros"), (1, "reflect")])
def test_a_stride_beyond_the_padded_input_solves_as_the_twin_does(stride, padding, mode):
    # One window along an axis whatever its stride: the stride is never used there. Taken as
    # written it overflowed int64 (2**63) or sized dX's phase planes by it (10**11: "array is
    # too big"; 10**4 took minutes and gigabytes); both internal errors.
    x = np.array([[1, 2, 0, 1], [0, 1, 3, 1], [2, 0, 1, 1]], dtype=object)
    w = np.array([[1, 0], [0, -1]], dtype=object)
    pad = (padding,) * 4
    z = ref.conv_forward(x[np.newaxis], w[np.newaxis, np.newaxis], np.array([1], dtype=object),
                         stride, pad, (1, 1), mode=mode)
    target = "; ".join(" ".join("0" for _ in row) for row in z[0])
    text = textwrap.dedent(f"""\
        input: "1 2 0 1; 0 1 3 1; 2 0 1 1"
        kernel: "1 0; 0 -1"
        bias: 1
        stride: [{stride[0]}, {stride[1]}]
        padding: {padding}
        padding_mode: {mode}
        target: "{target}"
        loss: half_sse
        """)
    dz = z  # half_sse against 0: dL/dz = z
    dx, dw, db = ref.conv_backward(x[np.newaxis], w[np.newaxis, np.newaxis], dz, stride, pad,
                                   (1, 1), mode=mode)
    for exact in (True, False):
        result = convgrad.solve(text, exact=exact)
        assert np.asarray(result["Y"], dtype=float).reshape(z.shape).tolist() == \
            z.astype(float).tolist()
        assert np.asarray(result["dX"], dtype=float).tolist() == dx[0].astype(float).tolist()
        assert np.asarray(result["dW"], dtype=float).tolist() == dw[0, 0].astype(float).tolist()
        assert float(result["db"]) == float(db[0])


@pytest.mark.parametrize("stride", [2**63, 10**30])
def test_a_pool_stride_beyond_its_input_pools_one_window(stride):
    # pool_window_cells multiplied the window starts by the stride in int64: OverflowError.
    text = textwrap.dedent(f"""\
        input: "1 2 0 1; 0 1 3 1; 2 0 1 1"
        kernel: "1 0; 0 -1"
        pool: {{type: avg, size: 2, stride: {stride}}}
        target: 0
        loss: half_sse
        """)
    z = ref.conv_forward(np.array([[[1, 2, 0, 1], [0, 1, 3, 1], [2, 0, 1, 1]]], dtype=object),
                         np.array([[[[1, 0], [0, -1]]]], dtype=object),
                         np.array([0], dtype=object), (1, 1), (0, 0, 0, 0), (1, 1))
    y = ref.pool_forward("avg", z, (2, 2), (stride, stride))
    result = convgrad.solve(text, exact=True)
    assert y.shape == (1, 1, 1) and result["Y"].reshape(-1).tolist() == y.reshape(-1).tolist()
    assert any("falls outside every window" in w or "fall outside every window" in w
               for w in result["warnings"])


@pytest.mark.parametrize("dilation", [2**63, 10**30])
def test_a_dilation_on_a_one_tap_kernel_solves_as_the_twin_does(dilation):
    # A 1x1 kernel never spaces its taps, but the layer and the uncovered-rows warning
    # multiplied the tap offsets by the dilation in int64: OverflowError, an internal error.
    x = np.array([[[1, 2, 0, 1], [0, 1, 3, 1], [2, 0, 1, 1]]], dtype=object)
    w = np.array([[[[2]]]], dtype=object)
    text = textwrap.dedent(f"""\
        input: "1 2 0 1; 0 1 3 1; 2 0 1 1"
        kernel: [[2]]
        dilation: {dilation}
        padding: 1
        grad_output: "{'; '.join(['1 -1 2 0 1 1'] * 5)}"
        """)
    dz = np.array([[[1, -1, 2, 0, 1, 1]] * 5], dtype=object)
    z = ref.conv_forward(x, w, np.array([0], dtype=object), (1, 1), (1, 1, 1, 1),
                         (dilation, dilation))
    dx, dw, _ = ref.conv_backward(x, w, dz, (1, 1), (1, 1, 1, 1), (dilation, dilation))
    result = convgrad.solve(text, exact=True)
    assert result["Y"].tolist() == z[0].tolist()
    assert result["dX"].tolist() == dx[0].tolist() and result["dW"].tolist() == [[dw[0, 0, 0, 0]]]
    signal = convgrad.solve(f"input: [1, 2, 0, 1]\nlayers: [{{conv1d: {{kernel: [2], dilation: "
                            f"{dilation}}}}}]\ngrad_output: [[1, -1, 2, 0]]\n", exact=True)
    assert signal["dX"].tolist() == [2, -2, 4, 0]  # dX = 2 * dY, by hand
@pytest.mark.parametrize("problem, y, dx", [
    # stride past int64 on a 4x4 input: one window, at the top left. By hand: y = 1 - 5 + 6 = 2
    # (the kernel [[1, 0], [-1, 1]] on [[1, 2], [5, 6]]); dL/dY = 1 gives dX = the kernel there.
    ({"kernel": "1 0; -1 1", "stride": 2**63}, [[2]],
     [[1, 0, 0, 0], [-1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]),
    # one window per row pair: y = x[i,1] - x[i+1,1] + x[i+1,2] = x[i,1] + 1
    ({"kernel": "1 0; -1 1", "stride": [1, 2**64]}, [[2], [6], [10]],
     [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [-1, 1, 0, 0]]),
    # a 1x1 kernel meets only the tap under it, whatever its dilation: Y is X
    ({"kernel": "1", "dilation": 2**63}, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12],
                                         [13, 14, 15, 16]], [[1] * 4] * 4),
    # an average over the one 2x2 window: (1 + 2 + 5 + 6)/4 = 7/2, each input 1/4 of dL/dY
    ({"kernel": "1", "pool": {"type": "avg", "size": 2, "stride": 2**63}}, [[Fraction(7, 2)]],
     [[Fraction(1, 4)] * 2 + [0, 0]] * 2 + [[0] * 4] * 2),
])
def test_a_stride_or_dilation_beyond_int64_is_the_one_window(problem, y, dx):
    # they stopped with OverflowError (exit 70, "internal error") while working out which
    # input rows the windows meet; a stride past the input leaves one window, as 10**6 does
    x = np.arange(1, 17).reshape(4, 4)
    r = convgrad.solve({"input": x, "grad_output": np.ones(np.shape(y), dtype=int), **problem})
    assert r["Y"].tolist() == y
    assert r["dX"].tolist() == dx


@pytest.mark.parametrize("problem, words", [
    # groups 2 on one channel said "write the kernel 4-D: F x 1/2 x kh x kw", half a channel
    ({"input": "1 2; 3 4", "kernel": "1", "groups": 2},
     "'groups' is 2 but the input has 1 channel; groups must divide the number of input"),
    ({"input": np.ones((3, 2, 2), dtype=int), "kernel": np.ones((3, 1, 1), dtype=int),
      "groups": 2}, "'groups' is 2 but the input has 3 channels; groups must divide"),
])
def test_groups_that_do_not_divide_the_channels_are_named_first(problem, words):
    with pytest.raises(ProblemError, match=re.escape(words)):
        convgrad.solve({**problem, "grad_output": 1})
