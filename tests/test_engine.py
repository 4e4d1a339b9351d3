"""The vectorized engine against the naive reference and central finite differences.

Every case runs through the public API (`convgrad.solve` on a dict), so the
parser, the engine and the result shaping are all under test. Shapes are
given in full (C x H x W input, F x C x kh x kw kernel, one bias per filter)
so results need no reshaping.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref

RNG = np.random.default_rng(20261123)


def _reference(x, w, b, stride, pad, dilation, flip, act, slope, pool, loss, t):
    """The pipeline of SPEC section 2, step by step, in the naive twin."""
    z = ref.conv_forward(x, w, b, stride, pad, dilation, flip)
    a = ref.activation_forward(act, z, slope) if act else z
    if pool:
        kind, size, pstride = pool
        y = ref.pool_forward(kind, a, size, pstride)
    else:
        y = a
    out = {"Y": y, "loss": ref.loss_forward(loss, y, t)}
    dy = ref.loss_backward(loss, y, t)
    da = ref.pool_backward(pool[0], a, dy, pool[1], pool[2]) if pool else dy
    dz = ref.activation_backward(act, z, da, slope) if act else da
    out["dX"], out["dW"], out["db"] = ref.conv_backward(x, w, dz, stride, pad, dilation, flip)
    out["dY"] = dy
    if act or pool:
        out["Z"], out["dZ"] = z, dz
    return out


def _problem(x, w, b, stride, pad, dilation, flip, act, slope, pool, loss, t):
    problem = {"input": x, "kernel": w, "bias": list(b), "stride": list(stride),
               "padding": list(pad), "dilation": list(dilation), "flip_kernel": flip,
               "target": t, "loss": loss}
    if act:
        problem["activation"] = {"name": act, "slope": slope} if act == "leaky_relu" else act
    if pool:
        problem["pool"] = {"type": pool[0], "size": list(pool[1]), "stride": list(pool[2])}
    return problem


def _out_shape(x, w, stride, pad, dilation, pool):
    _, H, W = x.shape
    F, _, KH, KW = w.shape
    OH = (H + pad[0] + pad[1] - dilation[0] * (KH - 1) - 1) // stride[0] + 1
    OW = (W + pad[2] + pad[3] - dilation[1] * (KW - 1) - 1) // stride[1] + 1
    if pool:
        _, (ph, pw), (sh, sw) = pool
        OH, OW = (OH - ph) // sh + 1, (OW - pw) // sw + 1
    return F, OH, OW


def _target(loss, shape, exact):
    if loss == "cross_entropy":
        t = np.zeros(shape)
        t.flat[RNG.integers(t.size)] = 1
        return t.astype(int).astype(object) if exact else t
    if loss == "bce":
        return RNG.integers(0, 2, shape).astype(float)
    if exact:
        return RNG.integers(-3, 4, shape).astype(object)
    return RNG.normal(size=shape)


def _case(exact, C, H, W, F, K, stride, pad, dilation, flip, act, pool, loss, slope=0.1):
    if exact:
        x = RNG.integers(-4, 5, (C, H, W)).astype(object)
        x[0, 0, 0] = Fraction(1, 3)
        w = RNG.integers(-3, 4, (F, C, *K)).astype(object)
        w[0, 0, 0, 0] = Fraction(-1, 2)
        b = [Fraction(1, 4)] + [int(v) for v in RNG.integers(-2, 3, F - 1)]
        slope = Fraction(slope)
    else:
        x = RNG.normal(size=(C, H, W))
        w = RNG.normal(size=(F, C, *K))
        b = list(RNG.normal(size=F))
    t = _target(loss, _out_shape(x, w, stride, pad, dilation, pool), exact)
    return x, w, np.array(b, dtype=object if exact else float), stride, pad, dilation, flip, \
        act, slope, pool, loss, t


def _assert_matches(got, want, exact):
    for key, expected in want.items():
        value = got[key]
        if exact:
            assert np.array_equal(np.asarray(value, dtype=object),
                                  np.asarray(expected, dtype=object)), key
        else:
            np.testing.assert_allclose(np.asarray(value, dtype=float),
                                       np.asarray(expected, dtype=float),
                                       rtol=1e-9, atol=1e-12, err_msg=key)


GEOMETRY = list(itertools.product(
    [(1, 1), (2, 2), (2, 1)],                   # stride
    [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0)],  # pad: top, bottom, left, right
    [(1, 1), (2, 1)],                           # dilation
    [False, True],                              # flip
))


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
@pytest.mark.parametrize("stride, pad, dilation, flip", GEOMETRY)
def test_conv_geometry_matches_reference(exact, stride, pad, dilation, flip):
    case = _case(exact, 2, 6, 5, 3, (2, 3), stride, pad, dilation, flip, None, None, "mse")
    got = convgrad.solve(_problem(*case), exact=exact)
    _assert_matches(got, _reference(*case), exact)


LAYERS = [
    (act, pool, loss)
    for act in (None, "relu", "leaky_relu", "sigmoid", "tanh")
    for pool in (None, ("max", (2, 2), (1, 1)), ("avg", (2, 2), (2, 2)), ("max", (3, 2), (2, 1)))
    for loss in ("mse", "sse", "half_sse", "mae", "bce", "cross_entropy")
    if loss != "bce" or act == "sigmoid"
]


@pytest.mark.parametrize("act, pool, loss", LAYERS)
def test_activation_pool_loss_match_reference(act, pool, loss):
    exact = act not in ("sigmoid", "tanh") and loss not in ("bce", "cross_entropy")
    case = _case(exact, 2, 7, 6, 2, (3, 2), (1, 1), (1, 1, 0, 1), (1, 1), False, act, pool, loss)
    got = convgrad.solve(_problem(*case))
    assert (got["Y"].dtype == object) == exact
    _assert_matches(got, _reference(*case), exact)


def test_max_pool_ties_go_to_the_first_maximum_and_overlaps_add():
    # Z is all 2s, so every 2x2 window ties; stride 1 windows overlap.
    problem = {"input": [[1, 1, 1], [1, 1, 1], [1, 1, 1]], "kernel": [[1]], "bias": 1,
               "pool": {"type": "max", "size": 2, "stride": 1},
               "grad_output": [[1, 10], [100, 1000]]}
    got = convgrad.solve(problem)
    # Each window's first maximum (row-major) is its top-left element.
    assert got["dZ"].tolist() == [[1, 10, 0], [100, 1000, 0], [0, 0, 0]]
    assert got["dX"].tolist() == [[1, 10, 0], [100, 1000, 0], [0, 0, 0]]


@pytest.mark.parametrize("H, K, stride, dilation, expected", [
    (5, 3, 1, 1, (1, 1)),   # even total
    (6, 2, 1, 1, (0, 1)),   # odd total: the extra row goes to the bottom
    (6, 3, 2, 1, (0, 1)),   # Ho = 3, total = 2*2 + 3 - 6 = 1
    (5, 3, 2, 1, (1, 1)),   # Ho = 3, total = 2*2 + 3 - 5 = 2
    (7, 3, 1, 2, (2, 2)),   # dilated span 5
    (4, 2, 3, 1, (0, 1)),   # Ho = 2, total = 3 + 2 - 4 = 1
])
def test_same_padding_matches_reference(H, K, stride, dilation, expected):
    top, bottom = expected
    case = _case(False, 1, H, H, 2, (K, K), (stride, stride), (top, bottom, top, bottom),
                 (dilation, dilation), False, None, None, "mse")
    problem = _problem(*case)
    problem["padding"] = "same"
    got = convgrad.solve(problem)
    assert got["Y"].shape[1:] == (-(-H // stride), -(-H // stride))
    _assert_matches(got, _reference(*case), False)


FD_CASES = [
    ((1, 1), (0, 0, 0, 0), (1, 1), False, None, None, "mse"),
    ((2, 1), (1, 0, 2, 1), (1, 2), True, "tanh", None, "sse"),
    ((1, 1), (1, 1, 1, 1), (1, 1), False, "sigmoid", ("max", (2, 2), (1, 1)), "bce"),
    ((2, 2), (1, 1, 1, 1), (2, 2), False, "leaky_relu", ("avg", (2, 2), (1, 1)),
     "cross_entropy"),
    ((1, 2), (0, 1, 0, 1), (1, 1), True, "relu", ("max", (2, 1), (1, 1)), "half_sse"),
    ((1, 1), (2, 2, 2, 2), (1, 1), False, None, ("avg", (3, 3), (2, 2)), "mae"),
]


@pytest.mark.parametrize("case", FD_CASES)
def test_gradients_match_central_differences(case):
    stride, pad, dilation, flip, act, pool, loss = case
    x, w, b, *rest = _case(False, 2, 6, 6, 2, (2, 3), stride, pad, dilation, flip, act, pool,
                           loss)
    problem = _problem(x, w, b, *rest)
    got = convgrad.solve(problem, exact=False)

    def loss_of(**change):
        return float(convgrad.solve({**problem, **change}, exact=False)["loss"])

    def numeric(key, value):
        return ref.numerical_gradient(lambda v: loss_of(**{key: v}), value)

    np.testing.assert_allclose(got["dX"], numeric("input", x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got["dW"], numeric("kernel", w), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(got["db"], float), numeric("bias", b), rtol=1e-5,
                               atol=1e-7)


def test_exact_and_float_agree():
    case = _case(True, 2, 5, 5, 2, (2, 2), (1, 1), (1, 1, 1, 1), (1, 1), False, "leaky_relu",
                 ("max", (2, 2), (1, 1)), "mse")
    problem = _problem(*case)
    exact = convgrad.solve(problem, exact=True)
    floats = convgrad.solve(problem, exact=False)
    for key in ("Y", "dY", "dW", "db", "dX", "Z", "dZ"):
        assert exact[key].dtype == object and floats[key].dtype == np.float64
        np.testing.assert_allclose(exact[key].astype(float), floats[key], rtol=1e-12)
    assert isinstance(exact["loss"], (int, Fraction)) and isinstance(floats["loss"], float)


def test_exact_matmul_with_huge_integers_stays_exact():
    # Entries near 2**40 overflow int64 products: the engine must fall back to Python ints.
    big = 2**40 + 1
    problem = {"input": [[big, 1], [1, big]], "kernel": [[big, 1], [1, big]],
               "grad_output": [[1]]}
    got = convgrad.solve(problem)
    assert got["Y"].tolist() == [[2 * big * big + 2]]
    assert got["dW"].tolist() == [[big, 1], [1, big]]
