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


# --- exact arithmetic at any size (issue 12) --------------------------------------------------


def _exact_reference(problem: dict, x, w, b, act=None, pool=None, loss=None, t=None, dy=None):
    """The single-layer pipeline in the naive twin, on object arrays of the problem's numbers."""
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1))
    a = ref.activation_forward(act, z, Fraction(1, 100)) if act else z
    y = ref.pool_forward(pool, a, (2, 2), (1, 1)) if pool else a
    out = {"Y": y}
    if loss:
        out["loss"] = ref.loss_forward(loss, y, t)
        dy = ref.loss_backward(loss, y, t)
    out["dY"] = dy
    da = ref.pool_backward(pool, a, dy, (2, 2), (1, 1)) if pool else dy
    dz = ref.activation_backward(act, z, da, Fraction(1, 100)) if act else da
    out["dX"], out["dW"], out["db"] = ref.conv_backward(x, w, dz, (1, 1), (0, 0, 0, 0), (1, 1))
    return out


def _objects(nested):
    return np.vectorize(Fraction, otypes=[object])(np.array(nested, dtype=object))


def _assert_exact_results(got, want):
    for key, expected in want.items():
        value = got[key]
        if key == "loss":
            assert isinstance(value, (int, Fraction)) and value == expected, key
            continue
        value = np.asarray(value, dtype=object).reshape(-1)
        expected = np.asarray(expected, dtype=object).reshape(-1)
        assert all(isinstance(v, (int, Fraction)) for v in value), key
        assert value.tolist() == expected.tolist(), key


BIG = 10**20


def test_exact_zero_filter_with_huge_inputs():
    # A zero kernel makes every product with the input 0; the int64 bound must not be fooled
    # into converting 10**20 (beyond int64) for the other side of dW.
    x = [[BIG, 1, 2], [3, BIG, 4], [5, 6, BIG]]
    problem = {"input": x, "kernel": [[0, 0], [0, 0]], "bias": 1,
               "target": [[1, 2], [3, 4]], "loss": "mse"}
    got = convgrad.solve(problem, exact=True)
    # By hand: Y = 1 everywhere; dY = 2/4 (Y - t) = [[0, -1/2], [-1, -3/2]]; L = (0+1+4+9)/4.
    assert got["Y"].tolist() == [[1, 1], [1, 1]]
    assert got["loss"] == Fraction(7, 2)
    assert got["dY"].tolist() == [[0, Fraction(-1, 2)], [-1, Fraction(-3, 2)]]
    assert got["db"] == -3
    assert got["dX"].tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
    # dW[p, q] = sum over i, j of dY[i, j] x[i + p, j + q].
    assert got["dW"].tolist() == [
        [Fraction(-1, 2) * 1 - 3 - Fraction(3, 2) * BIG, Fraction(-1, 2) * 2 - BIG - 6],
        [-5 - Fraction(1, 2) * BIG - Fraction(3, 2) * 6, -2 - 6 - Fraction(3, 2) * BIG]]
    want = _exact_reference(problem, _objects([x]), _objects([[[[0, 0], [0, 0]]]]),
                             _objects([1]), loss="mse", t=_objects([[[1, 2], [3, 4]]]))
    _assert_exact_results(got, want)


def test_exact_zero_grad_output_with_huge_numbers():
    x = [[BIG, 10**30], ["1/99991", "123456789.123456789"]]
    problem = {"input": x, "kernel": [[BIG, -1], [2, "1/3"]], "grad_output": [[0]],
               "learning_rate": "1/10"}
    got = convgrad.solve(problem, exact=True)
    y = (BIG * BIG - 10**30 + Fraction(2, 99991)
         + Fraction(123456789123456789, 10**9) / 3)
    assert got["Y"].tolist() == [[y]]
    assert got["dW"].tolist() == [[0, 0], [0, 0]] and got["dX"].tolist() == [[0, 0], [0, 0]]
    assert got["db"] == 0
    assert got["W_new"].tolist() == [[BIG, -1], [2, Fraction(1, 3)]]


def test_exact_relu_zeroing_everything_with_huge_values():
    # Every pre-activation is negative: ReLU sends back nothing, whatever the sizes.
    x = [[BIG, 3 * BIG, 10**25], [2 * BIG, "1/7", 10**30]]
    w = [[-BIG, -1], [-1, -BIG]]
    problem = {"input": x, "kernel": w, "activation": "relu", "target": [[5, "1/3"]],
               "loss": "sse"}
    got = convgrad.solve(problem, exact=True)
    assert got["Y"].tolist() == [[0, 0]]
    assert got["Z"].tolist() == [[-BIG * BIG - 3 * BIG - 2 * BIG - Fraction(BIG, 7),
                                  -3 * BIG * BIG - 10**25 - Fraction(1, 7) - 10**50]]
    assert got["loss"] == 25 + Fraction(1, 9)
    assert got["dY"].tolist() == [[-10, Fraction(-2, 3)]]
    assert got["dZ"].tolist() == [[0, 0]]
    assert got["dW"].tolist() == [[0, 0], [0, 0]] and got["db"] == 0
    assert got["dX"].tolist() == [[0, 0, 0], [0, 0, 0]]
    want = _exact_reference(problem, _objects([x]), _objects([[w]]), _objects([0]), act="relu",
                            loss="sse", t=_objects([[[5, "1/3"]]]))
    _assert_exact_results(got, want)


@pytest.mark.parametrize("act, pool, loss", [
    (None, None, "mse"), ("relu", "max", "mae"), ("leaky_relu", "avg", "half_sse"),
    (None, "max", "sse"),
])
def test_exact_huge_integers_and_long_decimals_match_the_reference(act, pool, loss):
    x = [[10**30, "123456789.123456789", "1/99991", 0],
         [-(10**25), 0, "-7/3", BIG],
         [0, "0.000000000000000000001", 10**30, "-1/99991"]]
    w = [[10**25, 0], ["1/99991", "-123456789.123456789"]]
    t = [[10**30, 0, "1/3"], [0, 1, "-2.5"]] if not pool else [[10**30, 0]]
    problem = {"input": x, "kernel": w, "bias": "1/3", "target": t, "loss": loss}
    if act:
        problem["activation"] = act
    if pool:
        problem["pool"] = {"type": pool, "size": 2, "stride": 1}
    got = convgrad.solve(problem, exact=True)
    want = _exact_reference(problem, _objects([x]), _objects([[w]]), _objects(["1/3"]), act,
                            pool, loss, _objects([t]))
    _assert_exact_results(got, want)


def test_exact_matmul_switches_to_python_ints_exactly_at_the_int64_bound():
    # a = floor(sqrt(2**63)): one product a*a fits int64, the sum of two does not.
    a = 3037000499
    one = convgrad.solve({"input": [[a]], "kernel": [[a]], "grad_output": [[1]]}, exact=True)
    two = convgrad.solve({"input": [[a, a]], "kernel": [[a, a]], "grad_output": [[1]]},
                         exact=True)
    assert one["Y"].tolist() == [[a * a]]
    assert two["Y"].tolist() == [[2 * a * a]] and 2 * a * a >= 2**63


def test_exact_network_with_zero_weights_and_huge_activations():
    # conv -> relu -> max_pool -> flatten -> dense with zero weights: dense's dX is 0 and its
    # dW holds the huge activations; everything before it gets zero gradients.
    x = [[BIG, 0, 3], [1, 10**30, "1/3"], [2, 2, 2]]
    problem = {"input": x, "target": [BIG, "1/99991"], "loss": "mse", "layers": [
        {"conv": {"kernel": [[1, 0], [0, 1]], "bias": "1/2"}}, "relu",
        {"max_pool": {"size": 2, "stride": 1}}, "flatten",
        {"dense": {"weights": [[0], [0]], "bias": [0, 1]}}]}
    got = convgrad.solve(problem, exact=True)
    conv, relu, pool, flatten, fc = got["layers"]
    top = BIG + 10**30 + Fraction(1, 2)
    assert pool["output"].tolist() == [[[top]]]
    assert got["Y"].tolist() == [0, 1]
    # mse over 2 outputs: dY = (Y - t) = [-BIG, 1 - 1/99991].
    assert got["dY"].tolist() == [-BIG, 1 - Fraction(1, 99991)]
    assert fc["dW"].tolist() == [[-BIG * top], [(1 - Fraction(1, 99991)) * top]]
    assert fc["db"].tolist() == [-BIG, 1 - Fraction(1, 99991)]
    for layer in (conv, relu, pool, flatten):
        assert not any(layer["d_output"].flat)
    assert not any(conv["dW"].flat) and not any(conv["db"].flat)
    assert got["dX"].tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]


# --- float64 overflow: an error that says so, never a NumPy warning (issue 12) ----------------
# pytest turns warnings into errors (filterwarnings = error), so each of these also checks
# that no RuntimeWarning escapes the engine.


@pytest.mark.parametrize("problem, name, rational", [
    # (1e200 + 1 - 0)^2 is beyond float64: the loss overflows, Y and the gradients do not.
    ({"input": [[1e200, 1], [2, 3]], "kernel": [[1, 0], [0, 1]], "target": [[0]],
      "loss": "mse"}, "'loss'", True),
    # 1e308 + 1e308 in the convolution itself.
    ({"input": [[1e308, 1e308], [2, 1]], "kernel": [[1, 1], [0, 1]], "activation": "sigmoid",
      "target": [[0]], "loss": "mse"}, "'Z'", False),
    ({"input": [[1e300]], "kernel": [["1e-300"]], "grad_output": [[1e10]]}, "'dW'", True),
    ({"input": [[1e300]], "kernel": [[1]], "grad_output": [[1]], "learning_rate": 1e10},
     "'W_new'", True),
    # slope * z below -1.8e308 (and Z itself finite).
    ({"input": [[-1e300, 1]], "activation": {"name": "leaky_relu", "slope": 1e10},
      "pool": {"type": "avg", "size": 1}, "kernel": [[1]], "grad_output": [[1, 1]]}, "'A'",
     True),
    ({"input": [[1e308, -1e308]], "kernel": [[1]], "target": [[0, 1]],
      "loss": "cross_entropy"}, "'loss'", False),
    ({"input": [1e300, 1e300], "target": [0], "loss": "sse",
      "layers": [{"dense": {"weights": [[1e10, 1]]}}, "relu"]}, "'fc1.output'", True),
    ({"input": [1e300, 1e300], "grad_output": [1e300],
      "layers": [{"dense": {"weights": [[1, 1]]}}, "relu"]}, "'fc1.dW'", True),
])
def test_float_overflow_is_a_problem_error_naming_the_result(problem, name, rational):
    with pytest.raises(convgrad.ProblemError) as caught:
        convgrad.solve(problem, exact=False)
    message = str(caught.value)
    assert name in message and "overflows float64" in message
    assert "smaller numbers" in message
    assert ("--exact" in message) == rational


def test_a_number_beyond_float64_names_its_key():
    with pytest.raises(convgrad.ProblemError, match="'kernel' holds a number too large"):
        convgrad.solve({"input": "1 2", "kernel": "1e400"}, exact=False)
    with pytest.raises(convgrad.ProblemError, match="'target' holds a number too large"):
        convgrad.solve({"input": "1 2", "kernel": 1, "target": "1 -1e400"}, exact=False)
    with pytest.raises(convgrad.ProblemError, match="'layers' .*fc1's weights"):
        convgrad.solve({"input": [1, 2], "layers": [{"dense": {"weights": [[1, "1e999"]]}}],
                        "grad_output": [1]}, exact=False)
    # The same numbers are no trouble for exact arithmetic.
    got = convgrad.solve({"input": "1 2", "kernel": "1e400", "grad_output": "1 1"}, exact=True)
    assert got["Y"].tolist() == [[10**400, 2 * 10**400]] and got["dW"] == 3


def test_float_saturation_with_finite_results_works_quietly():
    # sigmoid(-1000) is 0 and sigmoid(1e308) is 1 in float64: saturated, but every result is
    # finite, so the problem is solved (and no warning escapes).
    got = convgrad.solve({"input": [[-1000, 1e308]], "kernel": [[1]], "activation": "sigmoid",
                          "target": [[0, 1]], "loss": "mse"})
    assert got["Y"].tolist() == [[0.0, 1.0]]
    assert got["loss"] == 0.0
    assert got["dX"].tolist() == [[0.0, 0.0]] and got["dW"].tolist() == [[0.0]]
    # Softmax of [1e308, -1e308]: the second output's log softmax is -inf in float64, but its
    # target is 0, so the loss is exactly 0, not nan (and not -0.0).
    got = convgrad.solve({"input": [[1e308, -1e308]], "kernel": [[1]], "target": [[1, 0]],
                          "loss": "cross_entropy"})
    assert got["loss"] == 0.0 and str(got["loss"]) == "0.0"
    assert got["dY"].tolist() == [[0.0, 0.0]]


def test_bce_on_a_saturated_sigmoid_says_so():
    with pytest.raises(convgrad.ProblemError, match="sigmoid of 40, which is exactly 1"):
        convgrad.solve({"input": [[40]], "kernel": [[1]], "activation": "sigmoid",
                        "target": [[0]], "loss": "bce"})


def test_exact_arithmetic_that_would_not_fit_in_memory(monkeypatch):
    """A rational problem whose exact fractions would not fit where float64 does: float64
    when automatic, a clear refusal (not an exhausted machine) when exact arithmetic is
    forced. The limit is lowered to 4 MiB so that a 200 x 200 input is past it (the real
    512 MiB takes a 1000 x 1000 one, and seconds to build)."""
    import convgrad
    from convgrad import engine

    monkeypatch.setattr(engine, "MAX_WORK_BYTES", 4 * 2**20)
    big = {"input": np.ones((200, 200), dtype=int).tolist(), "kernel": [[1, 2], [3, 4]],
           "activation": "relu", "target": np.zeros((199, 199), dtype=int).tolist()}
    with pytest.raises(convgrad.ProblemError, match="too large for exact arithmetic: it "
                                                    "would need about .* more than the 4 MiB"):
        convgrad.solve(big, exact=True)
    solved = convgrad.solve(big)
    assert solved["loss"] == pytest.approx(100.0) and isinstance(solved["loss"], float)


def test_a_choice_of_arithmetic_is_data_and_only_its_words_name_a_flag():
    """The engine names the arithmetic that would help; the words that say how to choose it
    are added once, to the message users read (SPEC section 4: the API's message is the
    command line's)."""
    from convgrad.engine import choose_exact
    from convgrad.errors import FLOAT64_SIZE
    from convgrad.reader import load_problem

    with pytest.raises(convgrad.ProblemError) as caught:
        convgrad.solve({"input": "1 2; 3 4", "kernel": "1", "activation": "sigmoid",
                        "target": "0 1; 1 0", "loss": "mse"}, exact=True)
    error = caught.value
    assert error.arithmetic == "float64" and "--exact" not in error.message
    assert str(error) == f"{error.message} (drop --exact)"
    with pytest.raises(convgrad.ProblemError) as caught:
        convgrad.solve({"input": [[1e300]], "kernel": [[1]], "grad_output": [[1]],
                        "learning_rate": 1e10}, exact=False)
    error = caught.value
    assert error.arithmetic == "exact" and "--exact" not in error.message
    assert str(error) == f"{error.message} (--exact)"
    # Past the automatic limit (297 x 297 outputs of 16 taps): float64, with a note as data.
    big = load_problem({"input": np.ones((300, 300), dtype=int),
                        "kernel": np.ones((4, 4), dtype=int),
                        "grad_output": np.ones((297, 297), dtype=int)})
    exact, note = choose_exact(big, None)
    assert exact is False and note is not None
    assert (note.kind, note.arithmetic) == (FLOAT64_SIZE, "exact")
    assert "1,411,344 multiply-adds" in note.message and "--exact" not in note.message
    assert str(note).endswith("(--exact)")


def test_the_engine_imports_nothing_that_reads_input_or_prints():
    """Dependencies run one way: the engine works on a Problem (model.py) and never loads
    the reader, YAML or the terminal libraries."""
    import subprocess
    import sys

    code = ("import sys, convgrad.engine; print(sorted({'convgrad.reader', 'convgrad.cli', "
            "'yaml', 'rich', 'typer', 'click'} & {m if m.startswith('convgrad') else "
            "m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
