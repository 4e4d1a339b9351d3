"""Tests for convgrad.reference, the naive loop twin of the engine.

Three kinds of check:
- hand-computed cases, exact with Fractions, the numbers written here (worked out in the
  comments), starting from the seed worked example (seeds/000, SPEC section 2);
- every backward function against central differences (numerical_gradient) on small random
  float64 inputs;
- conv against PyTorch float64, when torch is installed.
"""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from convgrad import reference as ref

RTOL = 1e-6
# Central differences with h = 1e-6 carry a rounding error of about eps * |f| / h ~ 1e-9, so
# entries near zero need a small absolute tolerance next to the relative one.
ATOL = 1e-8


def exact(nested):
    """Nested lists of ints / "a/b" strings -> an object array of Fractions."""
    values = np.array(nested, dtype=object)
    out = np.empty(values.shape, dtype=object)
    for idx in np.ndindex(values.shape):
        out[idx] = Fraction(values[idx])
    return out


def assert_exact(actual, expected):
    """Same shape, object dtype, every entry a Fraction or int (never a float) and equal."""
    expected = np.array(expected, dtype=object)
    assert isinstance(actual, np.ndarray)
    assert actual.dtype == object
    assert actual.shape == expected.shape
    for idx in np.ndindex(expected.shape):
        value = actual[idx]
        assert type(value) in (Fraction, int), f"{idx}: {value!r} is not exact"
        assert value == Fraction(expected[idx]), f"{idx}: {value} != {expected[idx]}"


# ----------------------------------------------------------------------------------------
# the seed worked example (SPEC section 2 check figures)


def test_seed_worked_example_exact():
    x = exact([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    w = exact([[[[1, 0], [-1, 1]]]])
    b = exact([1])
    t = exact([[[1, 0], [0, 1]]])
    args = ((1, 1), (0, 0, 0, 0), (1, 1))

    z = ref.conv_forward(x, w, b, *args)
    assert_exact(z, [[[3, 4], [6, 7]]])

    L = ref.loss_forward("mse", z, t)
    assert type(L) is Fraction
    assert L == 23

    dz = ref.loss_backward("mse", z, t)
    assert_exact(dz, [[[1, 2], [3, 3]]])

    dx, dw, db = ref.conv_backward(x, w, dz, *args)
    assert_exact(dw, [[[[32, 41], [59, 68]]]])
    assert_exact(db, [9])
    assert_exact(dx, [[[1, 2, 0], [2, 2, 2], [-3, 0, 3]]])
    # every entry of the seed is covered by a window, so all of them are Fractions
    for array in (z, dz, dx, dw, db):
        assert all(type(v) is Fraction for v in array.flat)


def test_seed_worked_example_float():
    x = np.array([[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]])
    w = np.array([[[[1.0, 0], [-1, 1]]]])
    b = np.array([1.0])
    t = np.array([[[1.0, 0], [0, 1]]])
    args = ((1, 1), (0, 0, 0, 0), (1, 1))
    z = ref.conv_forward(x, w, b, *args)
    assert z.dtype == np.float64
    L = ref.loss_forward("mse", z, t)
    assert type(L) is float and L == 23.0
    dx, dw, db = ref.conv_backward(x, w, ref.loss_backward("mse", z, t), *args)
    assert dx.dtype == dw.dtype == db.dtype == np.float64
    np.testing.assert_array_equal(dw, [[[[32, 41], [59, 68]]]])
    np.testing.assert_array_equal(db, [9])
    np.testing.assert_array_equal(dx, [[[1, 2, 0], [2, 2, 2], [-3, 0, 3]]])


def test_ints_in_object_arrays_stay_exact():
    # The seed again with plain ints: 92 / 4 must become Fraction(23), not the float 23.0.
    x = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], dtype=object)
    w = np.array([[[[1, 0], [-1, 1]]]], dtype=object)
    b = np.array([1], dtype=object)
    t = np.array([[[1, 0], [0, 1]]], dtype=object)
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1))
    assert_exact(z, [[[3, 4], [6, 7]]])
    L = ref.loss_forward("mse", z, t)
    assert type(L) in (Fraction, int) and L == 23
    assert_exact(ref.loss_backward("mse", z, t), [[[1, 2], [3, 3]]])
    # (3-1) + 4 + 6 + (7-1) = 18 over N = 4
    L_mae = ref.loss_forward("mae", z, t)
    assert type(L_mae) is Fraction and L_mae == Fraction(9, 2)


def test_huge_integers_and_long_decimals_stay_exact():
    # Numbers far beyond int64 and float64, and a zero kernel next to them: Python ints and
    # Fractions carry them exactly, one term at a time.
    big, huge = 10**20, 10**400
    x = exact([[[big, huge], ["1/99991", "123456789123456789/1000000000"]]])
    w = exact([[[[10**30, 0], [0, "1/3"]]]])
    b = exact(["-1/3"])
    # z = 10**50 + 123456789123456789 / (3 * 10**9) - 1/3
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1))
    assert_exact(z, [[[Fraction(10**50) + Fraction(123456789123456789, 3 * 10**9)
                       - Fraction(1, 3)]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[0]]]), (1, 1), (0, 0, 0, 0), (1, 1))
    assert_exact(dx, [[[0, 0], [0, 0]]])
    assert_exact(dw, [[[[0, 0], [0, 0]]]])
    assert_exact(db, [0])
    # dout = 10**30 / 7: dw = dout * x, dx = dout * w.
    dout = Fraction(10**30, 7)
    dx, dw, db = ref.conv_backward(x, w, exact([[[dout]]]), (1, 1), (0, 0, 0, 0), (1, 1))
    assert_exact(dw, [[[[dout * big, dout * huge],
                        [dout / 99991, dout * Fraction(123456789123456789, 10**9)]]]])
    assert_exact(dx, [[[dout * 10**30, 0], [0, dout / 3]]])
    assert_exact(db, [dout])
    # Zero weights in a dense layer, huge inputs: dx is 0, dw = dout x^T.
    v = exact([huge, "-1/99991"])
    dx, dw, _ = ref.dense_backward(v, exact([[0, 0]]), exact([big]))
    assert_exact(dx, [0, 0])
    assert_exact(dw, [[big * huge, Fraction(-big, 99991)]])
    # Losses: y - t = [huge, 0]; mse = huge**2 / 2, mae's sign is 0 where y = t.
    y, t = exact([huge + 1, big]), exact([1, big])
    assert ref.loss_forward("mse", y, t) == Fraction(huge * huge, 2)
    assert_exact(ref.loss_backward("mse", y, t), [huge, 0])
    assert_exact(ref.loss_backward("mae", y, t), ["1/2", 0])
    # Max pool ties among huge values: the first maximum takes the gradient.
    a = exact([[[huge, huge], [-huge, huge]]])
    assert_exact(ref.pool_forward("max", a, (2, 2), (1, 1)), [[[huge]]])
    assert_exact(ref.pool_backward("max", a, exact([[[big]]]), (2, 2), (1, 1)),
                 [[[big, 0], [0, 0]]])


# ----------------------------------------------------------------------------------------
# more hand-computed convolutions


def test_pad_input_asymmetric():
    x = exact([[[1, 2], [3, 4]]])
    # top 1, bottom 0, left 0, right 2
    assert_exact(
        ref.pad_input(x, (1, 0, 0, 2)),
        [[[0, 0, 0, 0], [1, 2, 0, 0], [3, 4, 0, 0]]],
    )


def test_conv_stride_2_tiles_the_input():
    # x = 1..16 in a 4x4, w = [[1, 2], [3, 4]], stride 2: four windows that tile x.
    # z00 = 1*1 + 2*2 + 5*3 + 6*4 = 44    z01 = 3 + 8 + 21 + 32 = 64
    # z10 = 9 + 20 + 39 + 56 = 124        z11 = 11 + 24 + 45 + 64 = 144
    # dout = ones: each x entry is met by exactly one tap, so dx repeats w;
    # dw[p, q] = sum of the x entries at offset (p, q) in each window:
    # dw00 = 1+3+9+11 = 24, dw01 = 2+4+10+12 = 28, dw10 = 5+7+13+15 = 40, dw11 = 6+8+14+16 = 44.
    x = exact([[[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15, 16]]])
    w = exact([[[[1, 2], [3, 4]]]])
    b = exact([0])
    args = ((2, 2), (0, 0, 0, 0), (1, 1))
    z = ref.conv_forward(x, w, b, *args)
    assert_exact(z, [[[44, 64], [124, 144]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[1, 1], [1, 1]]]), *args)
    assert_exact(dx, [[[1, 2, 1, 2], [3, 4, 3, 4], [1, 2, 1, 2], [3, 4, 3, 4]]])
    assert_exact(dw, [[[[24, 28], [40, 44]]]])
    assert_exact(db, [4])


def test_conv_stride_2_leaves_last_row_and_column_uncovered():
    # The seed's x and w with stride 2: Ho = (3 - 2)//2 + 1 = 1, one window (top left).
    # z = 1*1 + 2*0 + 4*(-1) + 5*1 + b(1) = 3. With dout = 2: dx = 2*w in the top-left
    # corner and 0 on the last row and column; dw = 2 * [[1, 2], [4, 5]]; db = 2.
    x = exact([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    w = exact([[[[1, 0], [-1, 1]]]])
    args = ((2, 2), (0, 0, 0, 0), (1, 1))
    z = ref.conv_forward(x, w, exact([1]), *args)
    assert_exact(z, [[[3]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[2]]]), *args)
    assert_exact(dx, [[[2, 0, 0], [-2, 2, 0], [0, 0, 0]]])
    assert_exact(dw, [[[[2, 4], [8, 10]]]])
    assert_exact(db, [2])


def test_conv_padding_1():
    # x = [[1, 2], [3, 4]] padded by 1 all round (4x4), w = 2x2 ones, b = 0: Ho = Wo = 3,
    # z = sums of the 2x2 windows of x_pad = [[1, 3, 2], [4, 10, 6], [3, 7, 4]].
    # dout = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]. x[h, w] sits at x_pad[h+1, w+1], met by the
    # windows (i, j) with i in {h, h+1}, j in {w, w+1}:
    #   dx00 = 1+2+4+5 = 12, dx01 = 2+3+5+6 = 16, dx10 = 4+5+7+8 = 24, dx11 = 5+6+8+9 = 28.
    # dw[p, q] = sum over (i, j) of x_pad[i+p, j+q] * dout[i, j], only x's four cells count:
    #   dw00 = 1*5 + 2*6 + 3*8 + 4*9 = 77     dw01 = 1*4 + 2*5 + 3*7 + 4*8 = 67
    #   dw10 = 1*2 + 2*3 + 3*5 + 4*6 = 47     dw11 = 1*1 + 2*2 + 3*4 + 4*5 = 37
    # db = 1 + ... + 9 = 45.
    x = exact([[[1, 2], [3, 4]]])
    w = exact([[[[1, 1], [1, 1]]]])
    args = ((1, 1), (1, 1, 1, 1), (1, 1))
    z = ref.conv_forward(x, w, exact([0]), *args)
    assert_exact(z, [[[1, 3, 2], [4, 10, 6], [3, 7, 4]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]), *args)
    assert_exact(dx, [[[12, 16], [24, 28]]])
    assert_exact(dw, [[[[77, 67], [47, 37]]]])
    assert_exact(db, [45])


def test_conv_dilation_2():
    # x = 1..9 (3x3), w = [[1, 2], [3, 4]], dilation 2: the taps are the four corners,
    # Ho = (3 - 2*1 - 1)//1 + 1 = 1. z = 1*1 + 3*2 + 7*3 + 9*4 = 64.
    # dout = 1: dx = w on the corners, 0 on the middle row and column (between taps);
    # dw = the corners of x = [[1, 3], [7, 9]]; db = 1.
    x = exact([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    w = exact([[[[1, 2], [3, 4]]]])
    args = ((1, 1), (0, 0, 0, 0), (2, 2))
    z = ref.conv_forward(x, w, exact([0]), *args)
    assert_exact(z, [[[64]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[1]]]), *args)
    assert_exact(dx, [[[1, 0, 2], [0, 0, 0], [3, 0, 4]]])
    assert_exact(dw, [[[[1, 3], [7, 9]]]])
    assert_exact(db, [1])


def test_conv_flip():
    # The seed's x and w with flip: w_eff = w rotated 180 degrees = [[1, -1], [0, 1]].
    # z00 = 1 - 2 + 0 + 5 = 4, z01 = 2 - 3 + 0 + 6 = 5, z10 = 4 - 5 + 0 + 8 = 7,
    # z11 = 5 - 6 + 0 + 9 = 8 (b = 0).
    # dout = the seed's [[1, 2], [3, 3]]: dw_eff = the seed's [[32, 41], [59, 68]] (it does not
    # depend on w), and dw for w as written is that rotated back: [[68, 59], [41, 32]].
    # dx[r, s] = sum over (i, j) of dout[i, j] * w_eff[r-i, s-j]:
    #   dx00 = 1            dx01 = 1*(-1) + 2*1 = 1             dx02 = 2*(-1) = -2
    #   dx10 = 1*0 + 3*1 = 3  dx11 = 1*1 + 2*0 + 3*(-1) + 3*1 = 1  dx12 = 2*1 + 3*(-1) = -1
    #   dx20 = 3*0 = 0      dx21 = 3*1 + 3*0 = 3                dx22 = 3*1 = 3
    x = exact([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    w = exact([[[[1, 0], [-1, 1]]]])
    args = ((1, 1), (0, 0, 0, 0), (1, 1))
    z = ref.conv_forward(x, w, exact([0]), *args, flip=True)
    assert_exact(z, [[[4, 5], [7, 8]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[1, 2], [3, 3]]]), *args, flip=True)
    assert_exact(dw, [[[[68, 59], [41, 32]]]])
    assert_exact(dx, [[[1, 1, -2], [3, 1, -1], [0, 3, 3]]])
    assert_exact(db, [9])


def test_conv_two_channels_two_filters():
    # x: C=2, 1x2 each: x[0] = [1, 2], x[1] = [3, 4]. 1x1 kernels: w[f, c] =
    # [[1, 2], [3, -1]], b = [0, 10].
    # z[0] = 1*x[0] + 2*x[1] = [7, 10];  z[1] = 3*x[0] - x[1] + 10 = [10, 12].
    # dout[0] = [1, 1], dout[1] = [1, 2]:
    # dx[c] = sum over f of w[f, c] * dout[f]: dx[0] = [1+3, 1+6] = [4, 7],
    #                                          dx[1] = [2-1, 2-2] = [1, 0].
    # dw[f, c] = sum over columns of x[c] * dout[f]: dw00 = 1+2 = 3, dw01 = 3+4 = 7,
    #                                              dw10 = 1+4 = 5, dw11 = 3+8 = 11.
    # db = [2, 3].
    x = exact([[[1, 2]], [[3, 4]]])
    w = exact([[[[1]], [[2]]], [[[3]], [[-1]]]])
    args = ((1, 1), (0, 0, 0, 0), (1, 1))
    z = ref.conv_forward(x, w, exact([0, 10]), *args)
    assert_exact(z, [[[7, 10]], [[10, 12]]])
    dx, dw, db = ref.conv_backward(x, w, exact([[[1, 1]], [[1, 2]]]), *args)
    assert_exact(dx, [[[4, 7]], [[1, 0]]])
    assert_exact(dw, [[[[3]], [[7]]], [[[5]], [[11]]]])
    assert_exact(db, [2, 3])


# ----------------------------------------------------------------------------------------
# hand-computed pools, activations, flatten, dense, losses


def test_max_pool_ties_and_overlap():
    # a = [[1, 3, 3], [3, 2, 0], [1, 0, 3]], 2x2 windows, stride 1 -> 2x2, every max is 3:
    #   window (0,0) [[1,3],[3,2]]: first max in row-major order at a[0,1]
    #   window (0,1) [[3,3],[2,0]]: first max at a[0,1] again (overlap: the two add up)
    #   window (1,0) [[3,2],[1,0]]: at a[1,0]
    #   window (1,1) [[2,0],[0,3]]: at a[2,2]
    # dout = [[1, 2], [4, 8]] -> da[0,1] = 1 + 2 = 3, da[1,0] = 4, da[2,2] = 8.
    a = exact([[[1, 3, 3], [3, 2, 0], [1, 0, 3]]])
    out = ref.pool_forward("max", a, (2, 2), (1, 1))
    assert_exact(out, [[[3, 3], [3, 3]]])
    da = ref.pool_backward("max", a, exact([[[1, 2], [4, 8]]]), (2, 2), (1, 1))
    assert_exact(da, [[[0, 3, 0], [4, 0, 0], [0, 0, 8]]])


def test_max_pool_drops_windows_that_do_not_fit():
    # a 1x5, windows 1x2 with stride 2: columns (0,1) and (2,3); column 4 is never in a window.
    a = exact([[[5, 1, 2, 7, 9]]])
    assert_exact(ref.pool_forward("max", a, (1, 2), (1, 2)), [[[5, 7]]])
    da = ref.pool_backward("max", a, exact([[[10, 20]]]), (1, 2), (1, 2))
    assert_exact(da, [[[10, 0, 0, 20, 0]]])


def test_avg_pool_exact():
    # a = [[1, 2, 3, 4], [5, 6, 7, 8]] (plain ints), 2x2 windows, stride 2:
    # out = [(1+2+5+6)/4, (3+4+7+8)/4] = [7/2, 11/2]; dout = [1, 3] -> each cell of a window
    # gets dout/4: 1/4 on the left window, 3/4 on the right one.
    a = np.array([[[1, 2, 3, 4], [5, 6, 7, 8]]], dtype=object)
    out = ref.pool_forward("avg", a, (2, 2), (2, 2))
    assert_exact(out, [[["7/2", "11/2"]]])
    da = ref.pool_backward("avg", a, np.array([[[1, 3]]], dtype=object), (2, 2), (2, 2))
    assert_exact(da, [[["1/4", "1/4", "3/4", "3/4"], ["1/4", "1/4", "3/4", "3/4"]]])


def test_avg_pool_overlap_adds_up():
    # a 1x3, windows 1x2, stride 1: a[0,1] is in both windows and gets dout0/2 + dout1/2.
    a = exact([[[2, 4, 8]]])
    assert_exact(ref.pool_forward("avg", a, (1, 2), (1, 1)), [[[3, 6]]])
    da = ref.pool_backward("avg", a, exact([[[1, 3]]]), (1, 2), (1, 1))
    assert_exact(da, [[["1/2", 2, "3/2"]]])


def test_relu_and_leaky_relu_kinks_exact():
    z = exact([-2, 0, 3])
    ones = exact([1, 1, 1])
    assert_exact(ref.activation_forward("none", z), [-2, 0, 3])
    assert_exact(ref.activation_backward("none", z, exact([5, 6, 7])), [5, 6, 7])
    assert_exact(ref.activation_forward("relu", z), [0, 0, 3])
    assert_exact(ref.activation_backward("relu", z, ones), [0, 0, 1])  # relu'(0) = 0
    slope = Fraction(1, 10)
    assert_exact(ref.activation_forward("leaky_relu", z, slope), ["-1/5", 0, 3])
    # leaky_relu'(0) = slope
    assert_exact(ref.activation_backward("leaky_relu", z, ones, slope), ["1/10", "1/10", 1])
    # the default slope 0.01 is the rational 1/100 in exact mode
    assert_exact(ref.activation_forward("leaky_relu", z), ["-1/50", 0, 3])
    assert_exact(ref.activation_backward("leaky_relu", z, exact([2, 2, 2])), ["1/50", "1/50", 2])


def test_sigmoid_and_tanh_at_zero():
    z = np.array([0.0])
    assert ref.activation_forward("sigmoid", z)[0] == 0.5
    assert ref.activation_backward("sigmoid", z, np.array([4.0]))[0] == 1.0  # 4 * 0.25
    assert ref.activation_forward("tanh", z)[0] == 0.0
    assert ref.activation_backward("tanh", z, np.array([3.0]))[0] == 3.0  # 3 * (1 - 0)
    # large inputs do not overflow
    big = np.array([-800.0, 800.0])
    np.testing.assert_allclose(ref.activation_forward("sigmoid", big), [0.0, 1.0])


def test_flatten_order_and_back():
    # channel, then row, then column: a[c, h, w] goes to (c*H + h)*W + w.
    a = np.arange(12, dtype=object).reshape(2, 2, 3)
    v = ref.flatten_forward(a)
    assert_exact(v, list(range(12)))
    assert v[8] == a[1, 0, 2]
    back = ref.flatten_backward(a, exact(list(range(100, 112))))
    assert_exact(back, [[[100, 101, 102], [103, 104, 105]], [[106, 107, 108], [109, 110, 111]]])


def test_dense_exact():
    # x = [1, 2, 3], w = [[1, 0, -1], [2, 1, 0]], b = [1, -1]:
    # y = [1 - 3 + 1, 2 + 2 - 1] = [-1, 3].
    # dout = [1, 2]: dx = w^T dout = [1 + 4, 0 + 2, -1 + 0] = [5, 2, -1];
    # dw = outer(dout, x) = [[1, 2, 3], [2, 4, 6]]; db = dout.
    x = exact([1, 2, 3])
    w = exact([[1, 0, -1], [2, 1, 0]])
    assert_exact(ref.dense_forward(x, w, exact([1, -1])), [-1, 3])
    dx, dw, db = ref.dense_backward(x, w, exact([1, 2]))
    assert_exact(dx, [5, 2, -1])
    assert_exact(dw, [[1, 2, 3], [2, 4, 6]])
    assert_exact(db, [1, 2])


@pytest.mark.parametrize(
    ("name", "loss", "grad"),
    [
        # y - t = [2, 4, 6, 6]; squares 4 + 16 + 36 + 36 = 92
        ("mse", 23, [[1, 2], [3, 3]]),
        ("sse", 92, [[4, 8], [12, 12]]),
        ("half_sse", 46, [[2, 4], [6, 6]]),
        # |y - t| sums to 18, over N = 4; gradient sign(y - t) / 4
        ("mae", "9/2", [["1/4", "1/4"], ["1/4", "1/4"]]),
    ],
)
def test_rational_losses_exact(name, loss, grad):
    y = exact([[3, 4], [6, 7]])
    t = exact([[1, 0], [0, 1]])
    L = ref.loss_forward(name, y, t)
    assert type(L) in (Fraction, int) and Fraction(loss) == L
    assert_exact(ref.loss_backward(name, y, t), grad)


def test_mae_sign_is_zero_at_zero():
    # y - t = [0, -1, 2]: L = 3/3 = 1, gradient [0, -1/3, 1/3]
    y = exact([1, 2, 5])
    t = exact([1, 3, 3])
    assert ref.loss_forward("mae", y, t) == 1
    assert_exact(ref.loss_backward("mae", y, t), [0, "-1/3", "1/3"])


def test_bce_and_cross_entropy_by_hand():
    # bce, y = 1/2, t = 1: L = -log(1/2) = log 2; dL/dy = -(t/y) = -2
    L = ref.loss_forward("bce", np.array([0.5]), np.array([1.0]))
    assert pytest.approx(np.log(2), rel=1e-15) == L
    assert ref.loss_backward("bce", np.array([0.5]), np.array([1.0]))[0] == pytest.approx(-2.0)
    # cross_entropy, y = [0, 0]: softmax = [1/2, 1/2]. t = [1, 0]: L = log 2,
    # gradient softmax * sum(t) - t = [-1/2, 1/2].
    y = np.array([0.0, 0.0])
    assert ref.loss_forward("cross_entropy", y, np.array([1.0, 0.0])) == pytest.approx(np.log(2))
    np.testing.assert_allclose(
        ref.loss_backward("cross_entropy", y, np.array([1.0, 0.0])), [-0.5, 0.5]
    )
    # t = [1, 1] does not sum to 1: L = 2 log 2, gradient [1/2, 1/2] * 2 - [1, 1] = [0, 0]
    assert ref.loss_forward("cross_entropy", y, np.array([1.0, 1.0])) == pytest.approx(
        2 * np.log(2)
    )
    np.testing.assert_allclose(
        ref.loss_backward("cross_entropy", y, np.array([1.0, 1.0])), [0.0, 0.0], atol=1e-15
    )
    # subtracting the max: y = 1000 would overflow exp; softmax over [1000, 1000] is still 1/2
    L_big = ref.loss_forward("cross_entropy", np.array([1000.0, 1000.0]), np.array([1.0, 0.0]))
    assert L_big == pytest.approx(np.log(2))


def test_unknown_names_are_rejected():
    z = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="activation"):
        ref.activation_forward("softplus", z)
    with pytest.raises(ValueError, match="pool"):
        ref.pool_forward("min", z, (1, 1), (1, 1))
    with pytest.raises(ValueError, match="loss"):
        ref.loss_forward("hinge", z, z)


# ----------------------------------------------------------------------------------------
# numerical_gradient itself


def test_numerical_gradient_of_a_cubic_and_x_untouched():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3))
    before = x.copy()
    grad = ref.numerical_gradient(lambda v: float(np.sum(v**3)), x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad, 3 * x**2, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(x, before)


# ----------------------------------------------------------------------------------------
# backward vs central differences, float64


def random_away_from_zero(rng, shape, low=0.2, high=2.0):
    """Random floats with |v| in [low, high]: no kink of relu / leaky_relu / |u| nearby."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def random_distinct(rng, shape):
    """Random floats, all at least 0.09 apart: no ties for max pool, even after +-h."""
    n = int(np.prod(shape))
    return rng.permutation(n).reshape(shape) * 0.1 + rng.uniform(0.0, 0.01, shape)


CONV_GRID = list(
    itertools.product(
        [(1, 1), (2, 1), (2, 3)],  # stride
        [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0)],  # pad (top, bottom, left, right)
        [(1, 1), (2, 1), (1, 2)],  # dilation
        [False, True],  # flip
    )
)


def conv_case(seed):
    """Two channels, two filters, a non-square kernel (so a wrong rotation shows)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 4, 5))
    w = rng.standard_normal((2, 2, 2, 3))
    b = rng.standard_normal(2)
    return rng, x, w, b


@pytest.mark.parametrize(("stride", "pad", "dilation", "flip"), CONV_GRID)
def test_conv_backward_vs_numerical(stride, pad, dilation, flip):
    rng, x, w, b = conv_case(CONV_GRID.index((stride, pad, dilation, flip)))
    args = (stride, pad, dilation, flip)
    z = ref.conv_forward(x, w, b, *args)
    dout = rng.standard_normal(z.shape)

    def L_of_x(v):
        return np.sum(ref.conv_forward(v, w, b, *args) * dout)

    def L_of_w(v):
        return np.sum(ref.conv_forward(x, v, b, *args) * dout)

    def L_of_b(v):
        return np.sum(ref.conv_forward(x, w, v, *args) * dout)

    dx, dw, db = ref.conv_backward(x, w, dout, *args)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    np.testing.assert_allclose(dx, ref.numerical_gradient(L_of_x, x), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dw, ref.numerical_gradient(L_of_w, w), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(db, ref.numerical_gradient(L_of_b, b), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("stride", "pad", "dilation", "flip"), CONV_GRID)
def test_conv_forward_vs_slices(stride, pad, dilation, flip):
    # The same sum taken the other way round: one kernel tap at a time, over every output
    # position at once (a strided slice of np.pad's x_pad).
    _, x, w, b = conv_case(CONV_GRID.index((stride, pad, dilation, flip)))
    sh, sw = stride
    top, bottom, left, right = pad
    dil_h, dil_w = dilation
    F, C, KH, KW = w.shape
    w_eff = w[:, :, ::-1, ::-1] if flip else w
    x_pad = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    z = ref.conv_forward(x, w, b, stride, pad, dilation, flip)
    _, OH, OW = z.shape
    assert (x.shape[1] + top + bottom - dil_h * (KH - 1) - 1) // sh + 1 == OH
    assert (x.shape[2] + left + right - dil_w * (KW - 1) - 1) // sw + 1 == OW
    expected = np.zeros((F, OH, OW)) + b[:, None, None]
    for c in range(C):
        for p in range(KH):
            for q in range(KW):
                window = x_pad[
                    c,
                    p * dil_h : p * dil_h + sh * (OH - 1) + 1 : sh,
                    q * dil_w : q * dil_w + sw * (OW - 1) + 1 : sw,
                ]
                expected += w_eff[:, c, p, q][:, None, None] * window[None]
    np.testing.assert_allclose(z, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "slope"),
    [("none", 0.01), ("relu", 0.01), ("leaky_relu", 0.01), ("leaky_relu", 0.3),
     ("sigmoid", 0.01), ("tanh", 0.01)],
)
def test_activation_backward_vs_numerical(name, slope):
    rng = np.random.default_rng(1)
    z = random_away_from_zero(rng, (2, 3, 4))
    dout = rng.standard_normal(z.shape)

    def L_of_z(v):
        return np.sum(ref.activation_forward(name, v, slope) * dout)

    dz = ref.activation_backward(name, z, dout, slope)
    np.testing.assert_allclose(dz, ref.numerical_gradient(L_of_z, z), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize(
    ("shape", "size", "stride"),
    [
        ((2, 4, 4), (2, 2), (2, 2)),  # tiles
        ((1, 4, 5), (2, 3), (1, 2)),  # overlapping rows and columns
        ((2, 5, 4), (3, 2), (2, 1)),  # overlap, and a last row that no window meets
    ],
)
def test_pool_backward_vs_numerical(kind, shape, size, stride):
    rng = np.random.default_rng(2)
    a = random_distinct(rng, shape)
    out = ref.pool_forward(kind, a, size, stride)
    dout = rng.standard_normal(out.shape)

    def L_of_a(v):
        return np.sum(ref.pool_forward(kind, v, size, stride) * dout)

    da = ref.pool_backward(kind, a, dout, size, stride)
    np.testing.assert_allclose(da, ref.numerical_gradient(L_of_a, a), rtol=RTOL, atol=ATOL)


def test_flatten_backward_vs_numerical():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 2))
    dout = rng.standard_normal(12)

    def L_of_a(v):
        return np.sum(ref.flatten_forward(v) * dout)

    da = ref.flatten_backward(a, dout)
    np.testing.assert_allclose(da, ref.numerical_gradient(L_of_a, a), rtol=RTOL, atol=ATOL)


def test_dense_backward_vs_numerical():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(5)
    w = rng.standard_normal((3, 5))
    b = rng.standard_normal(3)
    dout = rng.standard_normal(3)

    def L_of_x(v):
        return np.sum(ref.dense_forward(v, w, b) * dout)

    def L_of_w(v):
        return np.sum(ref.dense_forward(x, v, b) * dout)

    def L_of_b(v):
        return np.sum(ref.dense_forward(x, w, v) * dout)

    dx, dw, db = ref.dense_backward(x, w, dout)
    np.testing.assert_allclose(dx, ref.numerical_gradient(L_of_x, x), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dw, ref.numerical_gradient(L_of_w, w), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(db, ref.numerical_gradient(L_of_b, b), rtol=RTOL, atol=ATOL)


def loss_case(name, rng):
    """(y, t) of shape (2, 3) that keep each loss smooth and in its domain."""
    shape = (2, 3)
    if name == "bce":
        return rng.uniform(0.05, 0.95, shape), rng.uniform(0.0, 1.0, shape)
    if name == "cross_entropy":
        t = rng.uniform(0.1, 1.0, shape)
        return rng.standard_normal(shape), t / t.sum()
    t = rng.standard_normal(shape)
    if name == "mae":
        return t + random_away_from_zero(rng, shape), t  # no y - t near the kink at 0
    return rng.standard_normal(shape), t


@pytest.mark.parametrize("name", ["mse", "sse", "half_sse", "mae", "bce", "cross_entropy"])
def test_loss_backward_vs_numerical(name):
    rng = np.random.default_rng(5)
    y, t = loss_case(name, rng)
    L = ref.loss_forward(name, y, t)
    assert type(L) is float
    dy = ref.loss_backward(name, y, t)
    numeric = ref.numerical_gradient(lambda v: ref.loss_forward(name, v, t), y)
    np.testing.assert_allclose(dy, numeric, rtol=RTOL, atol=ATOL)


def test_cross_entropy_backward_vs_numerical_target_not_summing_to_one():
    # the general form softmax * sum(t) - t, not softmax - t
    rng = np.random.default_rng(6)
    y = rng.standard_normal(5)
    t = rng.uniform(0.0, 2.0, 5)  # sums to about 5
    dy = ref.loss_backward("cross_entropy", y, t)
    numeric = ref.numerical_gradient(lambda v: ref.loss_forward("cross_entropy", v, t), y)
    np.testing.assert_allclose(dy, numeric, rtol=RTOL, atol=ATOL)
    softmax = np.exp(y) / np.exp(y).sum()
    assert not np.allclose(dy, softmax - t)


# ----------------------------------------------------------------------------------------
# PyTorch float64, when installed


def test_conv_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5, 6))
    w = rng.standard_normal((3, 2, 2, 3))
    b = rng.standard_normal(3)
    stride, pad, dilation = (2, 1), (1, 0, 2, 1), (1, 2)
    top, bottom, left, right = pad
    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    x_pad = torch.nn.functional.pad(xt[None], (left, right, top, bottom))
    zt = torch.nn.functional.conv2d(x_pad, wt, bt, stride=stride, dilation=dilation)[0]
    dout = rng.standard_normal(tuple(zt.shape))
    (zt * torch.tensor(dout)).sum().backward()

    z = ref.conv_forward(x, w, b, stride, pad, dilation)
    dx, dw, db = ref.conv_backward(x, w, dout, stride, pad, dilation)
    for ours, theirs in ((z, zt), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
