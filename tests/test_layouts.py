"""How arrays are written (SPEC section 7): layout NHWC, kernel_layout HWIO, dense_weights
in_out, flatten HWC and index_base 0.

Each choice is lossless: a problem written one way gives the numbers of its twin written the
other way, in the layout it was written in. The twins are built here by transposing by hand
(numpy's transpose with the axes written out, not convgrad's helpers); PyTorch float64 and
the naive twins of reference.py, fed the arrays permuted back by hand, are the oracles.
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.grade import Grader
from convgrad.render.terminal import make_console, print_solution

RNG = np.random.default_rng(77)
TF_KEYS = {"layout": "NHWC", "kernel_layout": "HWIO", "dense_weights": "in_out"}


def ints(*shape, low=-3, high=4):
    return RNG.integers(low, high, shape)


# Hand-written moves of the axes: NCHW -> NHWC, OIHW -> HWIO, out_in -> in_out.
def maps(a):
    """C x H x W -> H x W x C; N x C x H x W -> N x H x W x C; a matrix H x W (one channel)
    stays."""
    a = np.asarray(a)
    if a.ndim == 4:
        return a.transpose(0, 2, 3, 1)
    return a.transpose(1, 2, 0) if a.ndim == 3 else a


def kernel(k):
    """F x C x kh x kw -> kh x kw x C x F; F (or C) x kh x kw -> kh x kw x F (or C)."""
    k = np.asarray(k)
    return k.transpose(2, 3, 1, 0) if k.ndim == 4 else k.transpose(1, 2, 0) if k.ndim == 3 \
        else k


def kernel_1d(k):
    """F x C x k -> k x C x F; F x k -> k x F."""
    return np.asarray(k).T


def transpose_kernel(k):
    """A transposed convolution's C_in x F x kh x kw -> kh x kw x F x C_in (TensorFlow's)."""
    return np.asarray(k).transpose(2, 3, 1, 0)


def lists(a):
    return np.asarray(a).tolist()


def assert_same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))


def solve_twins(nchw: dict, nhwc: dict, conventions: dict | None = None):
    first = convgrad.solve(nchw, exact=True)
    second = convgrad.solve({**nhwc, "conventions": conventions or TF_KEYS}, exact=True)
    return first, second


# --- lossless: twins --------------------------------------------------------------------------


def test_single_layer_twins_give_the_same_numbers_in_their_layouts():
    x, w, t = ints(2, 5, 4), ints(3, 2, 2, 2), ints(3, 2, 1)
    common = {"bias": [1, 0, -1], "activation": "relu", "pool": {"type": "max", "size": 2},
              "learning_rate": "1/4"}
    a, b = solve_twins({"input": lists(x), "kernel": lists(w), "target": lists(t), **common},
                       {"input": lists(maps(x)), "kernel": lists(kernel(w)),
                        "target": lists(maps(t)), **common})
    assert a["loss"] == b["loss"]
    for key in ("Y", "dY", "dX", "Z", "dZ", "A", "dA"):
        assert b[key].shape == maps(a[key]).shape
        assert_same(b[key], maps(a[key]))
    for key in ("dW", "W_new"):
        assert b[key].shape == (2, 2, 2, 3)  # kh x kw x C x F
        assert_same(b[key], kernel(a[key]))
    assert_same(b["db"], a["db"])


@pytest.mark.parametrize("x_shape, k_shape", [((4, 5), (2, 2, 3)),  # F x kh x kw, one channel
                                              ((3, 4, 4), (3, 2, 2)),  # C x kh x kw, one filter
                                              ((4, 4), (2, 3))])  # kh x kw
def test_three_d_and_two_d_kernels_are_written_kh_kw_first(x_shape, k_shape):
    x, w = ints(*x_shape), ints(*k_shape)
    y_shape = convgrad.solve({"input": lists(x), "kernel": lists(w)})["Y"].shape
    g = ints(*y_shape)
    a, b = solve_twins({"input": lists(x), "kernel": lists(w), "grad_output": lists(g)},
                       {"input": lists(maps(x)), "kernel": lists(kernel(w)),
                        "grad_output": lists(maps(g))})
    for key in ("Y", "dX"):
        assert_same(b[key], maps(a[key]))
    assert_same(b["dW"], kernel(a["dW"]))


def test_network_batch_and_steps_twins():
    """conv, relu, avg_pool, flatten (CHW), dense in_out, on a batch of two, two steps."""
    x, w1, wd, t = ints(2, 2, 4, 4), ints(3, 2, 2, 2), ints(2, 12), ints(2, 2)

    def problem(x, w1, wd):
        return {"input": lists(x), "target": lists(t), "loss": "sse", "learning_rate": "1/64",
                "steps": 2,
                "layers": [{"conv": {"kernel": lists(w1), "bias": [1, 2, 3]}}, "relu",
                           {"avg_pool": {"size": 2, "stride": 1}}, "flatten", "relu",
                           {"dense": {"weights": lists(wd), "bias": [0, "1/2"]}}]}

    # flatten CHW lays out the channels first whatever the layout: the same vector in both.
    a, b = solve_twins(problem(x, w1, wd), problem(maps(x), kernel(w1), wd.T))
    for key in ("Y", "dY", "loss"):
        assert_same(b[key], a[key])
    assert_same(b["dX"], maps(a["dX"]))
    for la, lb in zip(a["layers"], b["layers"], strict=True):
        moved = maps if la["output"].ndim == 4 else (lambda v: v)
        assert_same(lb["output"], moved(la["output"]))
        assert_same(lb["d_output"], moved(la["d_output"]))
    conv_a, conv_b = a["layers"][0], b["layers"][0]
    assert_same(conv_b["dW"], kernel(conv_a["dW"]))
    fc_a, fc_b = a["layers"][-1], b["layers"][-1]
    assert fc_b["dW"].shape == (12, 2)  # in x out
    assert_same(fc_b["dW"], fc_a["dW"].T)
    assert_same(fc_b["W_new"], fc_a["W_new"].T)
    for sa, sb in zip(a["steps"], b["steps"], strict=True):
        assert sa["loss"] == sb["loss"]
        assert_same(sb["layers"][0]["W_new"], kernel(sa["layers"][0]["W_new"]))
        assert_same(sb["layers"][1]["W_new"], sa["layers"][1]["W_new"].T)


def test_conv1d_signals_are_written_length_first():
    x, w, g = ints(2, 7), ints(3, 2, 3), ints(3, 5)
    a, b = solve_twins({"input": lists(x), "layers": [{"conv1d": {"kernel": lists(w)}}],
                        "grad_output": lists(g)},
                       {"input": lists(x.T),
                        "layers": [{"conv1d": {"kernel": lists(kernel_1d(w))}}],
                        "grad_output": lists(g.T)})
    assert b["Y"].shape == (5, 3)  # L x C
    assert_same(b["Y"], a["Y"].T)
    assert_same(b["dX"], a["dX"].T)
    assert_same(b["layers"][0]["dW"], kernel_1d(a["layers"][0]["dW"]))


def test_conv_transpose_and_grouped_kernels():
    x, wt, wg = ints(2, 3, 3), ints(2, 4, 2, 2), ints(4, 2, 2, 2)
    layers = lambda t, g: [{"conv_transpose": {"kernel": lists(t), "stride": 2}},  # noqa: E731
                           {"conv": {"kernel": lists(g), "groups": 2}}]
    forward = convgrad.solve({"input": lists(x), "layers": layers(wt, wg)}, exact=True)
    t = np.asarray(forward["Y"]) - 1  # any target, written in both layouts
    a = convgrad.solve({"input": lists(x), "layers": layers(wt, wg), "target": lists(t)},
                       exact=True)
    b = convgrad.solve({"input": lists(maps(x)),
                        "layers": layers(transpose_kernel(wt), kernel(wg)),
                        "target": lists(maps(t)), "conventions": TF_KEYS}, exact=True)
    assert_same(b["dX"], maps(a["dX"]))
    assert b["layers"][0]["dW"].shape == (2, 2, 4, 2)  # kh x kw x F x C_in
    assert_same(b["layers"][0]["dW"], transpose_kernel(a["layers"][0]["dW"]))
    assert b["layers"][1]["dW"].shape == (2, 2, 2, 4)  # kh x kw x C/g x F
    assert_same(b["layers"][1]["dW"], kernel(a["layers"][1]["dW"]))


# --- against independent computations ---------------------------------------------------------


def test_pytorch_on_the_arrays_permuted_back_by_hand():
    torch = pytest.importorskip("torch")
    fn = torch.nn.functional
    x, w, wd, t = (RNG.normal(size=s) for s in ((2, 5, 5, 3), (2, 2, 3, 4), (64, 3), (2, 3)))
    result = convgrad.solve({
        "input": lists(x), "target": lists(t), "loss": "mse", "conventions": TF_KEYS,
        "layers": [{"conv": {"kernel": lists(w), "bias": [0.5, 0, -1, 2]}}, "tanh",
                   "flatten", {"dense": {"weights": lists(wd)}}]})
    # By hand: N x H x W x C -> N x C x H x W, kh x kw x C x F -> F x C x kh x kw,
    # in x out -> out x in; flatten CHW after the permute.
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    wt = torch.tensor(w.transpose(3, 2, 0, 1), requires_grad=True)
    dt = torch.tensor(wd.T, requires_grad=True)
    conv = fn.conv2d(xt, wt, torch.tensor([0.5, 0, -1, 2], dtype=torch.float64))
    y = fn.linear(torch.tanh(conv).reshape(2, -1), dt)
    loss = fn.mse_loss(y, torch.tensor(t))
    loss.backward()
    np.testing.assert_allclose(result["Y"], y.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(result["loss"], loss.item(), rtol=1e-10)
    np.testing.assert_allclose(result["dX"], xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(result["layers"][0]["dW"], wt.grad.numpy().transpose(2, 3, 1, 0),
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result["layers"][0]["output"],
                               conv.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-10)
    np.testing.assert_allclose(result["layers"][-1]["dW"], dt.grad.numpy().T, rtol=1e-9,
                               atol=1e-12)


def test_reference_dense_in_out_is_y_equals_x_w_plus_b():
    """dense_weights in_out: y = x W + b, W in x out (Keras' Dense kernel); the naive twin
    takes W out x in, so it gets W.T, written out."""
    x, w = ints(4), ints(4, 3)
    result = convgrad.solve({"input": lists(x), "layers": [{"dense": {"weights": lists(w),
                                                                      "bias": 1}}],
                             "grad_output": [1, -1, 2], "conventions": {"dense_weights": "in_out"}},
                            exact=True)
    y = ref.dense_forward(np.asarray(x, dtype=object), np.asarray(w.T, dtype=object),
                          np.ones(3, dtype=object))
    assert_same(result["Y"], y)
    assert_same(result["Y"], x @ w + 1)  # y = x W + b, by numpy's own product
    dx, dw, _ = ref.dense_backward(np.asarray(x, dtype=object), np.asarray(w.T, dtype=object),
                                   np.array([1, -1, 2], dtype=object))
    assert_same(result["dX"], dx)
    assert_same(result["layers"][0]["dW"], dw.T)


# --- the seed worked example in NHWC and HWIO: names as written --------------------------------

# SPEC section 2's figures: Y = [[3, 4], [6, 7]], dL/dW = [[32, 41], [59, 68]],
# dL/dX = [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]; here with one channel written last.
SEED_NHWC = """\
input: [[[1], [2], [3]], [[4], [5], [6]], [[7], [8], [9]]]
kernel: [[[[1]], [[0]]], [[[-1]], [[1]]]]
bias: 1
target: [[[1], [0]], [[0], [1]]]
conventions: {layout: NHWC, kernel_layout: HWIO}
"""


def test_the_seed_in_nhwc_and_hwio():
    result = convgrad.solve(SEED_NHWC)
    assert result["Y"].shape == (2, 2, 1)
    assert_same(result["Y"][..., 0], [[3, 4], [6, 7]])
    assert result["dW"].shape == (2, 2, 1, 1)
    assert_same(result["dW"][..., 0, 0], [[32, 41], [59, 68]])
    assert_same(result["dX"][..., 0], [[1, 2, 0], [2, 2, 2], [-3, 0, 3]])
    assert result["loss"] == 23


def test_check_keys_name_entries_as_written(tmp_path):
    problem = tmp_path / "p.yaml"
    problem.write_text(SEED_NHWC, encoding="utf-8")
    grader = Grader(convgrad.solve(problem).run)
    right = grader.grade({"dX[3,1,1]": -3, "dW[1,2,1,1]": 41, "Y[2,1,1]": 6})
    assert right.all_right, [k.message() for k in right.keys]
    wrong = grader.grade({"dX[1,3,1]": -3})  # dX[1,3,1] is 0: row 1, column 3
    assert not wrong.all_right


def test_terms_name_entries_as_written(capsys):
    """Every written-out term's name is the entry of the result at that index as written."""
    x, w = ints(2, 3, 3), ints(2, 2, 2, 2)
    problem = {"input": lists(maps(x)), "kernel": lists(kernel(w)), "grad_output":
               lists(maps(ints(2, 2, 2))), "conventions": TF_KEYS}
    result = convgrad.solve(problem, exact=True)
    console = make_console()
    console.width = 400
    with console.capture() as capture:
        print_solution(result.run, terms="all", console=console)
    text = capture.get()
    found = 0
    for name, key in (("y", "Y"), ("dL/dx", "dX"), ("dL/dw", "dW")):
        for match in re.finditer(rf"^{re.escape(name)}\[([\d,]+)\] = .*?= (-?[\d/]+)$", text,
                                 re.MULTILINE):
            index = tuple(int(i) - 1 for i in match.group(1).split(","))
            assert Fraction(match.group(2)) == result[key][index], match.group(0)
            found += 1
    assert found >= 8 + 18


def test_a_target_in_the_other_layout_is_refused():
    with pytest.raises(convgrad.ProblemError, match="2x2x1"):
        convgrad.solve(SEED_NHWC.replace("target: [[[1], [0]], [[0], [1]]]",
                                         "target: [[1, 0, 0, 1]]"))



@pytest.mark.parametrize("layer", ["conv", "conv_transpose"])
def test_a_five_axis_kernel_in_hwio_says_what_a_kernel_is(layer):
    # kernel_layout HWIO took every kernel of 3 or more axes for one to reorder: a 5-D one
    # stopped with NumPy's "axes don't match array" (internal error, exit 70), where OIHW
    # says what a kernel is
    problem = ("input: [[1, 2], [3, 4]]\nconventions: {kernel_layout: HWIO}\n"
               f"layers: [{layer}: {{kernel: [[[[[1]]]]]}}]\n")
    with pytest.raises(convgrad.ProblemError, match=r"'layers\[1\]\.\w+\.kernel' is "
                       r"1x1x1x1x1; a (conv_transpose )?kernel is kh x kw"):
        convgrad.solve(problem)
    with pytest.raises(convgrad.ProblemError, match=r"line 3: 'kernel' is 1x1x1x1x1"):
        convgrad.solve("input: [[1, 2], [3, 4]]\nconventions: {kernel_layout: HWIO}\n"
                       "kernel: [[[[[1]]]]]\ngrad_output: 1\n")


# --- index_base 0 ------------------------------------------------------------------------------

SEED = """\
input: "1 2 3; 4 5 6; 7 8 9"
kernel: "1 0; -1 1"
bias: 1
target: "1 0; 0 1"
"""


def test_index_base_zero_numbers_terms_and_check_entries_from_zero():
    result = convgrad.solve(SEED + "conventions: {index_base: 0}\n")
    grader = Grader(result.run)
    # SPEC section 2's figures, numbered from 0: dW[0,1] is 41, dX[2,0] is -3, Y[1,0] is 6.
    right = grader.grade({"dW[0,1]": 41, "dX[2,0]": -3, "Y[1,0]": 6, "db[0]": 9})
    assert right.all_right, [k.message() for k in right.keys]
    assert not grader.grade({"dW[1,2]": 41}).usable  # outside a 2x2 numbered from 0
    one = Grader(convgrad.solve(SEED).run)
    assert one.grade({"dW[1,2]": 41}).all_right
    assert not one.grade({"dW[0,1]": 41}).usable
    console = make_console()
    with console.capture() as capture:
        print_solution(result.run, terms="all", console=console)
    text = capture.get()
    assert "y00 = x00·w00 + x01·w01 + x10·w10 + x11·w11 + b" in text
    assert "dL/dw01 = " in text and "dL/dw12" not in text
    page = result.to_html()
    assert 'data-term="dX[2,0]"' in page and 'data-term="dX[3,1]"' not in page
    assert 'data-from="' in page and re.search(r'data-from="[^"]*X\[0,0\]', page)
    assert r"y_{00}" in result.to_latex(fragment=True)


def test_index_base_zero_with_layout_names_nhwc_entries_from_zero():
    result = convgrad.solve(SEED_NHWC.replace("kernel_layout: HWIO}",
                                              "kernel_layout: HWIO, index_base: 0}"))
    assert Grader(result.run).grade({"dX[2,0,0]": -3, "dW[0,1,0,0]": 41}).all_right


def test_in_out_dense_weights_are_drawn_and_named_as_written():
    """W written in x out (3 x 2): the tables draw it as written, and the cell in row r,
    column c is named fc1.W[r,c] and fc1.dW[r,c] (HTML's data-term), the entries check takes."""
    from convgrad.render.naming import check_name
    from convgrad.trace import Trace

    problem = {"input": "1 2 3", "conventions": {"dense_weights": "in_out"},
               "layers": [{"dense": {"weights": "1 2; 3 4; 5 6"}}], "grad_output": "1 -1"}
    solved = convgrad.solve(problem)
    written = np.array([[1, 2], [3, 4], [5, 6]])
    dw = np.outer([1, 2, 3], [1, -1])  # y = x W + b: dL/dW[k, m] = x[k]·dL/dy[m]
    w_names = Trace(solved.run).names[0].w
    layer = solved.run.passes[0]
    table, d_table = w_names.table(layer.w), w_names.grad().table(layer.dw)
    assert table.shape == d_table.shape == (3, 2)
    answers = {}
    for r, c in np.ndindex(3, 2):
        assert check_name(w_names, (r, c)) == f"fc1.W[{r + 1},{c + 1}]"
        assert check_name(w_names.grad(), (r, c)) == f"fc1.dW[{r + 1},{c + 1}]"
        assert table[r, c] == written[r, c] and d_table[r, c] == dw[r, c]
        answers[f"fc1.dW[{r + 1},{c + 1}]"] = int(dw[r, c])
    report = Grader(solved.run).grade(answers)
    assert report.all_right, [k.message() for k in report.keys]
