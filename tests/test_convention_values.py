"""The computed convention keys (SPEC section 7): same_padding, pool_ceil, pool_padding,
avg_count_padding, max_ties and kink, each against an independent computation: PyTorch
float64 where it has the option, the naive twins of reference.py written with each choice,
hand-worked numbers, and exact central differences (a symmetric difference at a kink of
relu is the mean of the slopes on either side: kink 1/2)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.cli import main


def exact(values) -> np.ndarray:
    return np.array(values, dtype=object)


def solve(problem: dict, **conventions) -> dict:
    return convgrad.solve({**problem, "conventions": conventions})


# --- kink ---------------------------------------------------------------------------------

# z = x * w with every pre-activation of the 2 x 3 map: z12 and z21 exactly 0.
KINK = {"input": "2 0 -1; 0 3 -2", "kernel": [[1]], "grad_output": "1 2 3; 4 5 6"}


@pytest.mark.parametrize("kink", [0, 1, Fraction(1, 2)])
def test_relu_kink_is_the_derivative_at_zero(kink):
    result = solve({**KINK, "activation": "relu"}, kink=str(kink))
    z = exact([[2, 0, -1], [0, 3, -2]])
    want = ref.activation_backward("relu", z, exact([[1, 2, 3], [4, 5, 6]]), 0, kink)
    np.testing.assert_array_equal(result["dZ"], want)
    # by hand: the grad_output where z > 0, kink times it where z = 0
    assert result["dZ"].tolist() == [[1, 2 * kink, 0], [4 * kink, 5, 0]]
    assert result["conventions"]["kink"] == kink


@pytest.mark.parametrize("kink", [0, 1, Fraction(1, 2)])
def test_leaky_relu_kink_lies_between_the_slopes(kink):
    problem = {**KINK, "activation": {"name": "leaky_relu", "slope": "1/10"}}
    result = solve(problem, kink=str(kink))
    at_zero = Fraction(1, 10) + kink * Fraction(9, 10)
    assert result["dZ"].tolist() == [[1, 2 * at_zero, 3 * Fraction(1, 10)],
                                     [4 * at_zero, 5, 6 * Fraction(1, 10)]]
    z = exact([[2, 0, -1], [0, 3, -2]])
    np.testing.assert_array_equal(
        result["dZ"], ref.activation_backward("leaky_relu", z, exact([[1, 2, 3], [4, 5, 6]]),
                                              Fraction(1, 10), kink))


@pytest.mark.parametrize("activation", ["relu", {"name": "leaky_relu", "slope": "1/5"}])
def test_kink_one_half_is_the_central_difference(activation):
    """L = sum of grad_output * f(x * w) is piecewise linear: an exact central difference
    with a small h gives each entry's symmetric slope, kink 1/2 at z = 0."""
    problem = {**KINK, "activation": activation}
    result = solve(problem, kink="1/2")
    x = exact([[2, 0, -1], [0, 3, -2]])
    g = exact([[1, 2, 3], [4, 5, 6]])
    slope = Fraction(0) if activation == "relu" else Fraction(1, 5)
    h = Fraction(1, 1000)

    def loss(xv):
        return sum(g[i] * (v if v > 0 else slope * v) for i, v in np.ndenumerate(xv))

    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        assert result["dX"][index] == (loss(plus) - loss(minus)) / (2 * h)


def test_kink_in_float64_matches_the_twin():
    problem = {"input": [[2.0, 0.0, -1.5], [0.0, 3.0, -2.0]], "kernel": [[1.0]],
               "grad_output": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "activation": "relu"}
    result = convgrad.solve({**problem, "conventions": {"kink": "1/2"}}, exact=False)
    z = np.array(problem["input"])
    want = ref.activation_backward("relu", z, np.array(problem["grad_output"]), 0, 0.5)
    np.testing.assert_allclose(result["dZ"], want, rtol=0, atol=1e-15)


@pytest.mark.parametrize("kink", [0, 1, Fraction(1, 2)])
def test_mae_kink_is_the_derivative_where_output_meets_target(kink):
    problem = {"input": "1 2; 3 4", "kernel": [[1]], "target": "1 0; 3 5", "loss": "mae"}
    result = solve(problem, kink=str(kink))
    y, t = exact([[1, 2], [3, 4]]), exact([[1, 0], [3, 5]])
    np.testing.assert_array_equal(result["dY"], ref.loss_backward("mae", y, t, kink))
    assert result["dY"].tolist() == [[kink / 4, Fraction(1, 4)], [kink / 4, Fraction(-1, 4)]]


def flat(text: str) -> str:
    """Terminal text without its boxes and line breaks: words as one line."""
    return " ".join(text.replace("│", " ").split())


def test_kink_is_visible_in_solve_and_explain(capsys, tmp_path):
    path = tmp_path / "kink.yaml"
    path.write_text("input: \"2 0 -1; 0 3 -2\"\nkernel: [[1]]\nactivation: relu\n"
                    "target: \"2 1 0; 0 3 0\"\nloss: mae\nconventions: {kink: 1/2}\n",
                    encoding="utf-8")
    for command in ("solve", "explain"):
        assert main([command, str(path), "--all"] if command == "explain" else
                    [command, str(path)]) == 0
        out = flat(capsys.readouterr().out)
        assert "relu'(z) = 1 if z > 0, else 0 (1/2 at z = 0)" in out
        assert "z12 = 0, the kink: relu'(0) = 1/2 by the kink convention" in out
        assert "y = t, the kink of |y - t|: its derivative there is 1/2" in out
    assert main(["solve", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["conventions"]["kink"] == 0.5
    assert doc["dX"] == [[1 / 12, -1 / 12, 0], [1 / 24, 1 / 12, 0]]
    assert doc["exact"]["dX"] == [["1/12", "-1/12", "0"], ["1/24", "1/12", "0"]]


# --- pooling: pool_ceil, pool_padding, avg_count_padding, max_ties ------------------------


def pooled(kind: str, x, g, size, stride, exact_mode=None, **conventions) -> dict:
    """One pooling layer on x (C, H, W) with dL/dY = g, under these conventions."""
    problem = {"input": x, "layers": [{f"{kind}_pool": {"size": size, "stride": stride}}],
               "grad_output": g, "conventions": conventions}
    return convgrad.solve(problem, exact=exact_mode)


def twin(kind: str, x, g, size, stride, pad=(0, 0, 0, 0), ceil=False, count_padding=True,
         ties="first"):
    y = ref.pool_forward(kind, x, size, stride, pad, ceil, count_padding)
    dx = ref.pool_backward(kind, x, g, size, stride, pad, ceil, count_padding, ties)
    return y, dx


def grid_cases():
    """(kind, H, W, size, stride, pad, ceil, count_padding): every window fits, padding at
    most half the window."""
    cases = []
    for kind in ("max", "avg"):
        for H, W in ((5, 5), (4, 7), (6, 3)):
            for k in ((2, 2), (3, 3), (3, 2)):
                for s in ((1, 1), (2, 2), (3, 2)):
                    for pad in ((0, 0), (1, 1), (k[0] // 2, 0)):
                        for ceil in (False, True):
                            for count in ((True, False) if kind == "avg" else (True,)):
                                if H + 2 * pad[0] >= k[0] and W + 2 * pad[1] >= k[1]:
                                    cases.append((kind, H, W, k, s, pad, ceil, count))
    return cases


CASES = grid_cases()


def test_pooling_conventions_match_pytorch_float64():
    """MaxPool2d / AvgPool2d with padding, ceil_mode and count_include_pad, float64
    autograd, over a grid of shapes (random values: no ties)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    rng = np.random.default_rng(7)
    for kind, H, W, k, s, pad, ceil, count in CASES[::3]:
        x = rng.standard_normal((2, H, W))
        xt = torch.tensor(x[np.newaxis], dtype=torch.float64, requires_grad=True)
        if kind == "max":
            yt = TF.max_pool2d(xt, k, s, padding=pad, ceil_mode=ceil)
        else:
            yt = TF.avg_pool2d(xt, k, s, padding=pad, ceil_mode=ceil, count_include_pad=count)
        g = rng.standard_normal(tuple(yt.shape[1:]))
        yt.backward(torch.tensor(g[np.newaxis]))
        result = pooled(kind, x, g, list(k), list(s), False, pool_ceil=ceil,
                        pool_padding=list(pad), avg_count_padding=count)
        where = (kind, H, W, k, s, pad, ceil, count)
        np.testing.assert_allclose(result["Y"], yt.detach().numpy()[0], rtol=1e-12,
                                   atol=1e-14, err_msg=str(where))
        np.testing.assert_allclose(result["dX"], xt.grad.numpy()[0], rtol=1e-12, atol=1e-14,
                                   err_msg=str(where))


def test_pooling_conventions_match_the_twins_exactly():
    rng = np.random.default_rng(8)
    for kind, H, W, k, s, pad, ceil, count in CASES[::3]:
        x = exact(rng.integers(-2, 3, (1, H, W)).tolist())  # small ints: many ties
        y_shape = ref.pool_forward(kind, x, k, s, (pad[0], pad[0], pad[1], pad[1]), ceil,
                                   count).shape
        g = exact(rng.integers(-3, 4, y_shape).tolist())
        for ties in ("first", "last", "all", "split") if kind == "max" else ("first",):
            result = pooled(kind, x, g, list(k), list(s), True, pool_ceil=ceil,
                            pool_padding=list(pad), avg_count_padding=count, max_ties=ties)
            y, dx = twin(kind, x, g, k, s, (pad[0], pad[0], pad[1], pad[1]), ceil, count, ties)
            where = (kind, H, W, k, s, pad, ceil, count, ties)
            np.testing.assert_array_equal(result["Y"], y, err_msg=str(where))
            np.testing.assert_array_equal(result["dX"], dx, err_msg=str(where))


def test_pool_ceil_by_hand():
    """5 x 5, 2 x 2 windows at stride 2: floor keeps 2 x 2 windows (row and column 5
    dropped), ceil 3 x 3, the last ones partial; avg divides a partial window by its
    cells (no padding to count)."""
    x = "1 2 3 4 5; 6 7 8 9 10; 11 12 13 14 15; 16 17 18 19 20; 21 22 23 24 25"
    floor = pooled("avg", x, "1 1; 1 1", 2, 2)
    assert floor["Y"].tolist() == [[[4, 6], [14, 16]]]
    ceil = pooled("avg", x, "1 1 1; 1 1 1; 1 1 1", 2, 2, pool_ceil=True)
    assert ceil["Y"].tolist() == [[[4, 6, Fraction(15, 2)], [14, 16, Fraction(35, 2)],
                                   [Fraction(43, 2), Fraction(47, 2), 25]]]
    assert ceil["dX"].tolist()[4] == [Fraction(1, 2), Fraction(1, 2), Fraction(1, 2),
                                         Fraction(1, 2), 1]
    # a last window that would start in the bottom padding is not kept: 4 rows, k 2, s 3,
    # padding 1: floor((4 + 2 - 2)/3) + 1 = 2, ceil 3 would start at padded row 6 >= 1 + 4
    small = pooled("max", "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16", "1 1; 1 1", 2, 3,
                   pool_ceil=True, pool_padding=1)
    assert small["Y"].shape == (1, 2, 2)


def test_pool_ceil_keeps_a_first_window_larger_than_the_input():
    """Under pool_ceil a window may overhang the (padded) input from its first position on:
    a 1 x 3 map under 2 x 1 windows at stride 2 has ceil((1 - 2)/2) + 1 = 1 row of windows,
    each holding one input cell (PyTorch's ceil_mode and Caffe's formula both keep it)."""
    for kind in ("max", "avg"):
        result = pooled(kind, [[0, 1, 2]], [[3, 5]], [2, 1], 2, pool_ceil=True)
        assert result["Y"].tolist() == [[[0, 2]]], kind  # C x H x W in a network
        assert result["dX"].tolist() == [[3, 0, 5]], kind
    # floor, or a window that would start past the input, still does not fit
    for size, ceil in (([2, 1], False), ([1, 5], True)):
        with pytest.raises(convgrad.ProblemError, match="the pooling window must fit"):
            pooled("max", [[0, 1, 2]], [[1]], size, 2, pool_ceil=ceil)


def test_pool_ceil_windows_larger_than_the_padded_input_match_pytorch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    rng = np.random.default_rng(9)
    # (H, W, size, stride, padding): the padded input smaller than the window along an axis
    for H, W, k, s, pad in ((1, 3, (2, 1), (2, 2), (0, 0)), (1, 1, (4, 4), (2, 3), (1, 1)),
                            (2, 5, (3, 2), (2, 2), (0, 1)), (1, 4, (2, 3), (3, 2), (1, 0))):
        x = rng.standard_normal((2, H, W))
        for kind, count in (("max", True), ("avg", True), ("avg", False)):
            xt = torch.tensor(x[np.newaxis], requires_grad=True)
            if kind == "max":
                yt = TF.max_pool2d(xt, k, s, padding=pad, ceil_mode=True)
            else:
                yt = TF.avg_pool2d(xt, k, s, padding=pad, ceil_mode=True,
                                   count_include_pad=count)
            g = rng.standard_normal(tuple(yt.shape[1:]))
            yt.backward(torch.tensor(g[np.newaxis]))
            result = pooled(kind, x, g, list(k), list(s), False, pool_ceil=True,
                            pool_padding=list(pad), avg_count_padding=count)
            where = (kind, H, W, k, s, pad, count)
            np.testing.assert_allclose(result["Y"], yt.detach().numpy()[0], rtol=1e-12,
                                       err_msg=str(where))
            np.testing.assert_allclose(result["dX"], xt.grad.numpy()[0], rtol=1e-12,
                                       atol=1e-15, err_msg=str(where))


def test_pool_padding_same_as_keras():
    """Keras MaxPooling2D(2, padding='same') on 5 x 5: output ceil(5/2) = 3, one row and one
    column of padding at the bottom and right (same_padding end); start puts them first."""
    x = "1 2 3 4 5; 6 7 8 9 10; 11 12 13 14 15; 16 17 18 19 20; 21 22 23 24 25"
    g = "1 2 3; 4 5 6; 7 8 9"
    end = pooled("max", x, g, 2, 2, pool_padding="same")
    assert end["Y"].tolist() == [[[7, 9, 10], [17, 19, 20], [22, 24, 25]]]
    start = pooled("max", x, g, 2, 2, pool_padding="same", same_padding="start")
    assert start["Y"].tolist() == [[[1, 3, 5], [11, 13, 15], [21, 23, 25]]]
    # TensorFlow's avg pool counts only real cells (the tensorflow profile's
    # avg_count_padding false): the bottom-right window is 25 alone
    avg = pooled("avg", x, g, 2, 2, pool_padding="same", avg_count_padding=False)
    assert avg["Y"][0, 2, 2] == 25 and avg["Y"][0, 0, 2] == Fraction(5 + 10, 2)
    counted = pooled("avg", x, g, 2, 2, pool_padding="same")
    assert counted["Y"][0, 2, 2] == Fraction(25, 4)


def test_pool_padding_same_matches_explicit_padding_in_pytorch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    rng = np.random.default_rng(9)
    for H, W, k, s in ((5, 5, 2, 2), (7, 4, 3, 2), (6, 6, 3, 3), (5, 3, 2, 1)):
        x = rng.standard_normal((1, H, W))
        # TensorFlow's SAME: Ho = ceil(H / s), the odd extra row or column after
        pads = []
        for n in (W, H):  # F.pad takes the last axis first
            out = -(-n // s)
            total = max((out - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        xt = torch.tensor(x[np.newaxis], requires_grad=True)
        yt = TF.max_pool2d(TF.pad(xt, pads, value=-float("inf")), k, s)
        g = rng.standard_normal(tuple(yt.shape[1:]))
        yt.backward(torch.tensor(g[np.newaxis]))
        result = pooled("max", x, g, k, s, False, pool_padding="same")
        np.testing.assert_allclose(result["Y"], yt.detach().numpy()[0], rtol=1e-12)
        np.testing.assert_allclose(result["dX"], xt.grad.numpy()[0], rtol=1e-12)


def torch_tie_masks(x: np.ndarray, g: np.ndarray, k: int, s: int) -> dict[str, np.ndarray]:
    """dX of max pooling (no padding) with the gradient given to every tied maximum (all,
    deeplearning.ai's mask x == max(x)) or shared among them (split): PyTorch's max and
    unfold/fold, the mask applied by hand."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    xt = torch.tensor(x[np.newaxis], dtype=torch.float64)
    C, H, W = x.shape
    cols = TF.unfold(xt, k, stride=s).reshape(1, C, k * k, -1)
    top = cols.max(dim=2, keepdim=True).values
    mask = (cols == top).to(torch.float64)
    gt = torch.tensor(g, dtype=torch.float64).reshape(1, C, 1, -1)
    out = {}
    for ties, weight in (("all", mask), ("split", mask / mask.sum(dim=2, keepdim=True))):
        routed = (weight * gt).reshape(1, C * k * k, -1)
        out[ties] = TF.fold(routed, (H, W), k, stride=s).numpy()[0]
    return out


def test_max_ties_all_and_split_match_pytorch_with_the_mask_by_hand():
    rng = np.random.default_rng(10)
    for H, W, k, s in ((4, 4, 2, 2), (5, 5, 3, 1), (6, 5, 2, 1), (5, 6, 3, 2)):
        x = rng.integers(0, 3, (2, H, W)).astype(float)  # 0, 1, 2: ties in most windows
        OH, OW = (H - k) // s + 1, (W - k) // s + 1
        g = rng.standard_normal((2, OH, OW))
        want = torch_tie_masks(x, g, k, s)
        for ties in ("all", "split"):
            result = pooled("max", x, g, k, s, False, max_ties=ties)
            np.testing.assert_allclose(result["dX"], want[ties], rtol=1e-12, atol=1e-14)


def test_max_ties_first_is_pytorch_cpus_choice():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    x = np.array([[[1.0, 1, 0, 2], [1, 0, 2, 2], [0, 0, 1, 1], [0, 0, 1, 1]]])
    xt = torch.tensor(x[np.newaxis], requires_grad=True)
    yt = TF.max_pool2d(xt, 2, 1)
    g = np.arange(1.0, 10.0).reshape(1, 3, 3)
    yt.backward(torch.tensor(g[np.newaxis]))
    result = pooled("max", x, g, 2, 1, False)
    np.testing.assert_array_equal(result["dX"], xt.grad.numpy()[0])


def test_max_ties_by_hand():
    """One 2 x 2 window [[3, 1], [3, 3]] with dL/dp = 6: first -> x11, last -> x22, all ->
    each of the three 6, split -> each 2."""
    want = {"first": [[6, 0], [0, 0]], "last": [[0, 0], [0, 6]],
            "all": [[6, 0], [6, 6]], "split": [[2, 0], [2, 2]]}
    for ties, dx in want.items():
        result = pooled("max", "3 1; 3 3", [[[6]]], 2, 2, max_ties=ties)
        assert result["dX"].tolist() == dx, ties


def test_pool_padding_at_most_half_the_window_and_symmetric_same_refusals():
    with pytest.raises(convgrad.ProblemError, match="'conventions.pool_padding' is 2.*at most "
                                                    "half its size"):
        pooled("max", "1 2 3; 4 5 6; 7 8 9", [[[1]]], 3, 3, pool_padding=2)
    with pytest.raises(convgrad.ProblemError, match="same_padding: symmetric"):
        pooled("max", "1 2 3; 4 5 6; 7 8 9", [[[1, 1], [1, 1]]], 2, 2, pool_padding="same",
               same_padding="symmetric")


def test_pooling_words_show_the_choices(capsys, tmp_path):
    path = tmp_path / "pool.yaml"
    path.write_text("input: \"3 1 0; 3 3 0; 0 0 5\"\nlayers:\n  - max_pool: {size: 2, stride: 2}"
                    "\ngrad_output: [[[6, 1], [1, 1]]]\nconventions: {pool_ceil: true, "
                    "max_ties: split, pool_padding: 1}\n", encoding="utf-8")
    assert main(["solve", str(path)]) == 0
    out = flat(capsys.readouterr().out)
    assert "pool1: max pooling 2x2, stride 2, padding 1 (top 1, bottom 1, left 1, right 1)" \
        in out
    assert "the padding holds -∞, which never wins a window" in out
    assert "ceil mode (pool_ceil true)" in out
    assert "tied maxima (max_ties split): they share the window's gradient equally" in out
    path.write_text("input: \"3 1; 3 3\"\nlayers:\n  - max_pool: {size: 2}\n"
                    "grad_output: [[[6]]]\nconventions: {max_ties: split}\n", encoding="utf-8")
    assert main(["explain", str(path), "--all"]) == 0
    out = flat(capsys.readouterr().out)
    assert "tied: x11, x21, x22; each gets 1/3 of the gradient (max_ties split)" in out
    assert "dL/dx21 = dL/dy[1,1,1]/3" in out
    path.write_text("input: \"1 2 3; 4 5 6; 7 8 9\"\nlayers:\n  - avg_pool: {size: 2, "
                    "stride: 2}\ngrad_output: [[[4, 4], [4, 4]]]\nconventions: {pool_padding: 1, "
                    "avg_count_padding: false}\n", encoding="utf-8")
    assert main(["solve", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["Y"] == [[[1, 2.5], [5.5, 7]]]  # (1)/1, (2 + 3)/2, (4 + 7)/2, (5+6+8+9)/4
    assert doc["conventions"]["pool_padding"] == 1
    assert main(["solve", str(path)]) == 0
    out = flat(capsys.readouterr().out)
    assert "divides by the window's input cells only" in out
    assert "divided by the 2 cells it counts, not 4" in out
    # the corner window holds one input cell, y11 = (1)/1: one cell, said in the singular
    assert "divided by the 1 cell it counts, not 4" in out
    assert "1 cells" not in out
    path.write_text("input: \"1 2; 3 4\"\nlayers:\n  - avg_pool: {size: [3, 1], stride: "
                    "[3, 1]}\ngrad_output: [[[3, 3]]]\nconventions: {pool_padding: [1, 0]}\n",
                    encoding="utf-8")
    assert main(["solve", str(path)]) == 0
    out = flat(capsys.readouterr().out)
    # a 3x1 window over the row of padding above and the two input rows: y12 = (0 + 2 + 4)/3
    assert "y[1,1,2] = (2 + 4)/3 = 2 (1 padding cell counts as 0" in out


# --- same_padding -------------------------------------------------------------------------


def conv_same(x, w, stride, rule, exact_mode=False):
    """A conv with padding 'same' under same_padding `rule`, and its random dL/dY."""
    problem = {"input": x, "kernel": w, "stride": stride, "padding": "same"}
    rng = np.random.default_rng(0)
    H, W = np.asarray(x).shape[-2:]
    out = (-(-H // stride), -(-W // stride))
    problem["grad_output"] = rng.standard_normal((np.asarray(w).shape[0], *out))
    return convgrad.solve({**problem, "conventions": {"same_padding": rule}},
                          exact=exact_mode), problem["grad_output"]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("rule", ["end", "start"])
def test_same_padding_matches_pytorch(rule):
    """end: Conv2d(padding='same') at stride 1 (the extra row after), and TensorFlow's rule
    at stride > 1 by explicit F.pad; start: the extra row before (ONNX SAME_LOWER)."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    rng = np.random.default_rng(11)
    for H, W, k, s in ((5, 5, 2, 1), (6, 5, 4, 1), (7, 6, 3, 2), (6, 6, 2, 2), (5, 8, 4, 3)):
        x = rng.standard_normal((2, H, W))
        w = rng.standard_normal((3, 2, k, k))
        result, g = conv_same(x, w, s, rule)
        xt = torch.tensor(x[np.newaxis], requires_grad=True)
        wt = torch.tensor(w, requires_grad=True)
        if s == 1 and rule == "end":
            yt = TF.conv2d(xt, wt, padding="same")
        else:
            pads = []
            for n in (W, H):  # F.pad: the last axis first
                total = max((-(-n // s) - 1) * s + k - n, 0)
                small, large = total // 2, total - total // 2
                pads += [small, large] if rule == "end" else [large, small]
            yt = TF.conv2d(TF.pad(xt, pads), wt, stride=s)
        yt.backward(torch.tensor(g[np.newaxis]))
        np.testing.assert_allclose(result["Y"], yt.detach().numpy()[0], rtol=1e-10)
        np.testing.assert_allclose(result["dX"], xt.grad.numpy()[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(result["dW"], wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_same_padding_symmetric():
    """An odd kernel at stride 1 pads (k-1)/2 on each side (Caffe, CS231n); an even one, or a
    stride other than 1, is refused naming same_padding and why."""
    x = exact([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    w = exact([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    result = convgrad.solve({"input": x, "kernel": w, "padding": "same",
                             "grad_output": np.ones((3, 3), dtype=int).tolist(),
                             "conventions": {"same_padding": "symmetric"}})
    padded = ref.pad_input(x[np.newaxis], (1, 1, 1, 1))
    want = ref.conv_forward(padded, w[np.newaxis, np.newaxis], exact([0]), (1, 1),
                            (0, 0, 0, 0), (1, 1))
    np.testing.assert_array_equal(result["Y"], want[0])
    with pytest.raises(convgrad.ProblemError, match=r"'padding' is 'same', which needs 1 row "
                                                    r"of padding.*same_padding: symmetric"):
        convgrad.solve({"input": x, "kernel": "1 0; 0 1", "padding": "same",
                        "grad_output": np.ones((3, 3), dtype=int).tolist(),
                        "conventions": {"same_padding": "symmetric"}})
    with pytest.raises(convgrad.ProblemError, match="at stride 2, but same_padding: symmetric"):
        convgrad.solve({"input": x, "kernel": w, "padding": "same", "stride": 2,
                        "grad_output": np.ones((2, 2), dtype=int).tolist(),
                        "conventions": {"profile": "caffe"}})


def test_same_padding_on_conv1d_and_the_cli(capsys, tmp_path):
    """conv1d's 'same' follows the convention too: 5 taps of a 2-tap kernel, one pad at the
    start under start, at the end by default."""
    for rule, want in (("end", [3, 5, 7, 9, 5]), ("start", [1, 3, 5, 7, 9])):
        result = convgrad.solve({"input": [1, 2, 3, 4, 5], "layers": [
            {"conv1d": {"kernel": [1, 1], "padding": "same"}}],
            "grad_output": [[1, 1, 1, 1, 1]], "conventions": {"same_padding": rule}})
        assert result["Y"].tolist() == [want]
    path = tmp_path / "p.yaml"
    path.write_text("input: \"1 2; 3 4\"\nkernel: \"1 1; 1 1\"\npadding: same\n"
                    "grad_output: \"1 1; 1 1\"\nconventions: {same_padding: symmetric}\n",
                    encoding="utf-8")
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert "same_padding: symmetric" in err and "Traceback" not in err
