"""The flatten convention (SPEC section 7): CHW (PyTorch's) or HWC (Keras' Flatten on NHWC
maps), held against the naive twin, worked by hand, and against PyTorch float64 with the
permute written out (x.permute(0, 2, 3, 1).flatten(1), then Linear)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.cli import main

RNG = np.random.default_rng(20240613)
CLOSE = {"rtol": 1e-10, "atol": 1e-12}


def test_the_twin_lays_out_hwc_by_hand():
    # a[c, h, w] = 4c + 2h + w: HWC reads (h, w, c) with the channel fastest
    a = np.arange(8).reshape(2, 2, 2)
    assert list(ref.flatten_forward(a, "HWC")) == [0, 4, 1, 5, 2, 6, 3, 7]
    assert list(ref.flatten_forward(a)) == list(range(8))
    back = ref.flatten_backward(a, np.array([0, 4, 1, 5, 2, 6, 3, 7]), "HWC")
    np.testing.assert_array_equal(back, a)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("shape", [(2, 2, 3), (3, 1, 4), (1, 3, 2)])
def test_the_layer_matches_the_twin(shape, exact):
    C, H, W = shape
    K = C * H * W
    x = RNG.integers(-5, 6, size=shape)
    w = RNG.integers(-3, 4, size=(2, K))
    problem = {"input": x.tolist(), "layers": ["flatten", {"dense": {"weights": w.tolist(),
                                                                     "bias": [0, 1]}}],
               "target": [1, -1], "loss": "sse", "conventions": {"flatten": "HWC"}}
    got = convgrad.solve(problem, exact=exact)
    flat = got["layers"][0]
    want = ref.flatten_forward(x, "HWC")
    np.testing.assert_array_equal(flat["output"], want)
    # dL/dflatten = w^T dL/dy, folded back by the twin
    dy = 2 * (w @ want + np.array([0, 1]) - np.array([1, -1]))
    np.testing.assert_array_equal(flat["d_output"], w.T @ dy)
    np.testing.assert_array_equal(got["dX"], ref.flatten_backward(x, w.T @ dy, "HWC"))
    if exact:
        assert all(isinstance(v, int | Fraction) or float(v).is_integer()
                   for v in np.ravel(got["dX"]))


def _torch_net(torch, x, w1, b1, pool, w2, b2):
    """conv -> relu -> pool -> HWC flatten (the permute by hand) -> Linear, float64;
    x: (N, C, H, W), w1: (F, C, KH, KW), w2: (M, K) as PyTorch holds them."""
    tx = torch.tensor(x, requires_grad=True)
    tw1, tb1, tw2, tb2 = (torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2))
    p = pool(torch.relu(torch.nn.functional.conv2d(tx, tw1, tb1)))
    p.retain_grad()
    y = torch.nn.functional.linear(p.permute(0, 2, 3, 1).flatten(1), tw2, tb2)
    return tx, (tw1, tb1, tw2, tb2), p, y


def _shapes():
    x = RNG.normal(size=(2, 2, 5, 4))
    w1, b1 = RNG.normal(size=(3, 2, 2, 2)), RNG.normal(size=3)
    return x, w1, b1


@pytest.mark.parametrize("N", [1, 2])
def test_pytorch_profile_with_flatten_hwc_matches_the_permute(N):
    torch = pytest.importorskip("torch")
    x, w1, b1 = _shapes()
    x = x[:N]
    w2, b2 = RNG.normal(size=(4, 3 * 3 * 2)), RNG.normal(size=4)
    tx, (tw1, tb1, tw2, tb2), p, y = _torch_net(
        torch, x, w1, b1, lambda a: torch.nn.functional.max_pool2d(a, 2, 1), w2, b2)
    t = RNG.normal(size=(N, 4))
    torch.nn.functional.mse_loss(y, torch.tensor(t)).backward()
    got = convgrad.solve({
        "input": x if N > 1 else x[0],
        "layers": [{"conv": {"kernel": w1, "bias": list(b1)}}, "relu",
                   {"max_pool": {"size": 2, "stride": 1}}, "flatten",
                   {"dense": {"weights": w2, "bias": list(b2)}}],
        "target": t if N > 1 else t[0], "loss": "mse", "conventions": {"flatten": "HWC"}})
    shaped = (lambda a: a) if N > 1 else (lambda a: a[0])
    np.testing.assert_allclose(got["Y"], shaped(y.detach().numpy()), **CLOSE)
    np.testing.assert_allclose(got["dX"], shaped(tx.grad.numpy()), **CLOSE)
    conv1, pool1, fc1 = got["layers"][0], got["layers"][2], got["layers"][4]
    np.testing.assert_allclose(pool1["d_output"], shaped(p.grad.numpy()), **CLOSE)
    np.testing.assert_allclose(conv1["dW"], tw1.grad.numpy(), **CLOSE)
    np.testing.assert_allclose(conv1["db"], tb1.grad.numpy(), **CLOSE)
    np.testing.assert_allclose(fc1["dW"], tw2.grad.numpy(), **CLOSE)
    np.testing.assert_allclose(fc1["db"], tb2.grad.numpy(), **CLOSE)


@pytest.mark.parametrize(("profile", "pool_key", "extra"), [
    ("coursera", "max_pool", {}),
    # Keras' AveragePooling2D with padding: the padding is not counted (count_include_pad=False)
    ("tensorflow", "avg_pool", {"pool_padding": 1}),
])
def test_a_keras_style_network_written_nhwc_matches_pytorch(profile, pool_key, extra):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, w1, b1 = _shapes()
    if profile == "coursera":
        pool = lambda a: F.max_pool2d(a, 2, 1)  # noqa: E731
        K = 3 * 3 * 2
    else:
        pool = lambda a: F.avg_pool2d(a, 2, 1, padding=1, count_include_pad=False)  # noqa: E731
        K = 3 * 5 * 4
    w2, b2 = RNG.normal(size=(4, K)), RNG.normal(size=4)
    tx, (tw1, tb1, tw2, tb2), p, y = _torch_net(torch, x, w1, b1, pool, w2, b2)
    t = np.eye(4)[[2, 0]]
    torch.nn.functional.cross_entropy(y, torch.tensor(t)).backward()
    # Written as Keras holds them: NHWC maps, HWIO kernels, in x out dense weights.
    nhwc, hwio = (0, 2, 3, 1), (2, 3, 1, 0)
    got = convgrad.solve({
        "input": x.transpose(nhwc),
        "layers": [{"conv": {"kernel": w1.transpose(hwio), "bias": list(b1)}}, "relu",
                   {pool_key: {"size": 2, "stride": 1}}, "flatten",
                   {"dense": {"weights": w2.T, "bias": list(b2)}}],
        "target": t, "loss": "cross_entropy", "conventions": {"profile": profile, **extra}})
    assert got["conventions"]["flatten"] == "HWC"
    np.testing.assert_allclose(got["Y"], y.detach().numpy(), **CLOSE)
    np.testing.assert_allclose(got["dX"], tx.grad.numpy().transpose(nhwc), **CLOSE)
    conv1, pool1, fc1 = got["layers"][0], got["layers"][2], got["layers"][4]
    np.testing.assert_allclose(pool1["d_output"], p.grad.numpy().transpose(nhwc), **CLOSE)
    np.testing.assert_allclose(conv1["dW"], tw1.grad.numpy().transpose(hwio), **CLOSE)
    np.testing.assert_allclose(conv1["db"], tb1.grad.numpy(), **CLOSE)
    np.testing.assert_allclose(fc1["dW"], tw2.grad.numpy().T, **CLOSE)
    np.testing.assert_allclose(fc1["db"], tb2.grad.numpy(), **CLOSE)


# A 2x2x2 pool output (H x W x C, NHWC), flattened HWC: flatten1[2] is row 1, column 1,
# channel 2. Worked by hand: the 1x1 kernel [[1, 10]] (HWIO 1x1x1x2) makes channel 2 ten
# times channel 1, max_pool 1 keeps it.
NHWC_TEXT = """\
input: [[[1], [2]], [[3], [4]]]
layers:
  - conv: {kernel: [[[[1, 10]]]], bias: [0, 0]}
  - flatten
  - dense: {weights: [[1], [0], [0], [0], [0], [0], [0], [0]], bias: [0]}
target: [0]
loss: sse
conventions: {profile: coursera}
"""


def test_hwc_flatten_by_hand_and_in_the_walkthrough(tmp_path: Path, capsys):
    got = convgrad.solve(NHWC_TEXT)
    # rows then columns then channels: (1, 10), (2, 20), (3, 30), (4, 40)
    assert list(got["layers"][1]["output"]) == [1, 10, 2, 20, 3, 30, 4, 40]
    # y = flatten1[1] = 1, sse against 0: dL/dy = 2 reaches conv1[1,1,1] alone
    np.testing.assert_array_equal(got["layers"][0]["d_output"],
                                  [[[2, 0], [0, 0]], [[0, 0], [0, 0]]])
    path = tmp_path / "nhwc.yaml"
    path.write_text(NHWC_TEXT, encoding="utf-8")
    assert main(["explain", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "flatten1[2] = conv1[1,1,2]" in out
    assert "row 1, column 1, channel 2 -- HWC order" in out
    assert "row, then column, then channel" in out
    assert "dL/dconv1[1,1,2] = dL/dflatten1[2]" in out


def test_in_out_dense_weights_are_worded_y_equals_x_w_plus_b(tmp_path: Path, capsys):
    # NHWC_TEXT's fc1 is 8 x 1, in x out (coursera): y = x W + b, each term input first
    path = tmp_path / "nhwc.yaml"
    path.write_text(NHWC_TEXT, encoding="utf-8")
    assert main(["explain", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "fc1: dense 8 -> 1, weights 8 x 1 (in x out: y = x W + b)" in out
    assert "y = flatten1 fc1.w + fc1.b" in out
    assert "y1 = flatten1[1]·fc1.w11 + flatten1[2]·fc1.w21" in out
    assert "dL/dfc1.w11 = flatten1[1]·dL/dy1" in out
    assert "y = W x + b" not in out
    # the same network out x in (PyTorch's words), for contrast
    path.write_text(NHWC_TEXT.replace("{profile: coursera}", "{profile: coursera, "
                                      "dense_weights: out_in}").replace(
        "[[1], [0], [0], [0], [0], [0], [0], [0]]", "[[1, 0, 0, 0, 0, 0, 0, 0]]"),
        encoding="utf-8")
    assert main(["explain", str(path)]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "fc1: dense 8 -> 1 (y = W x + b)" in out
    assert "y = fc1.w flatten1 + fc1.b" in out
    assert "y1 = fc1.w11·flatten1[1] + fc1.w12·flatten1[2]" in out
