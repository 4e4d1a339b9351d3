"""Batches (SPEC section 6): a 4-D input is N x C x H x W, `batch: true` marks the first axis
of a lower-dimensional input; results keep the batch axis; dW and db are the gradients of the
batch loss, with PyTorch's default reductions.

Held against the naive twins of reference.py run one sample at a time (the loss through
reference.batch_loss_*), against central differences, and against PyTorch float64 on a grid
of batch sizes 1 to 3.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.errors import ProblemError
from convgrad.reader import load_problem

from .conftest import ROOT, run_main

RNG = np.random.default_rng(23)
BATCHES = [1, 2, 3]


def _numbers(shape, exact):
    if exact:
        return np.vectorize(lambda v: Fraction(int(v), 4), otypes=[object])(
            RNG.integers(-6, 7, shape))
    return RNG.normal(size=shape)


# --- the twin, one sample at a time ---------------------------------------------------------


def _layer_forward(kind, params, h):
    if kind == "conv":
        return ref.conv_forward(h, params["w"], params["b"], params["stride"], params["pad"],
                                (1, 1))
    if kind in ("relu", "tanh", "sigmoid"):
        return ref.activation_forward(kind, h)
    if kind in ("max_pool", "avg_pool"):
        return ref.pool_forward(kind[:3], h, (2, 2), (1, 1))
    if kind == "flatten":
        return ref.flatten_forward(h)
    return ref.dense_forward(h, params["w"], params["b"])


def _layer_backward(kind, params, h, d):
    """(dx, grads) of one sample."""
    if kind == "conv":
        dx, dw, db = ref.conv_backward(h, params["w"], d, params["stride"], params["pad"], (1, 1))
        return dx, {"dW": dw, "db": db}
    if kind in ("relu", "tanh", "sigmoid"):
        return ref.activation_backward(kind, h, d), {}
    if kind in ("max_pool", "avg_pool"):
        return ref.pool_backward(kind[:3], h, d, (2, 2), (1, 1)), {}
    if kind == "flatten":
        return ref.flatten_backward(h, d), {}
    dx, dw, db = ref.dense_backward(h, params["w"], d)
    return dx, {"dW": dw, "db": db}


def reference_batch(x, layers, loss, t):
    """Forward and backward of a batch x (N, ...) through `layers`, sample by sample; the loss
    of the whole batch; each layer's parameter gradients summed over the samples."""
    N = x.shape[0]
    ins = [[None] * N for _ in layers]
    outs = [[None] * N for _ in layers]
    for n in range(N):
        h = x[n]
        for k, (kind, params) in enumerate(layers):
            ins[k][n] = h
            h = outs[k][n] = _layer_forward(kind, params, h)
    y = np.array(outs[-1][:], dtype=object if x.dtype == object else float)
    d = ref.batch_loss_backward(loss, y, t)
    result = {"Y": y, "dY": d, "loss": ref.batch_loss_forward(loss, y, t),
              "layers": [{"output": np.array(out)} for out in outs]}
    ds = list(d)
    for k in reversed(range(len(layers))):
        kind, params = layers[k]
        result["layers"][k]["d_output"] = np.array(ds)
        grads: dict = {}
        for n in range(N):
            ds[n], g = _layer_backward(kind, params, ins[k][n], ds[n])
            for key, value in g.items():
                grads[key] = value if key not in grads else grads[key] + value
        result["layers"][k].update(grads)
    result["dX"] = np.array(ds)
    return result


def _network(exact, N, C=2, H=6):
    """conv (padding 1, stride 2) -> relu -> conv -> max_pool -> flatten -> dense -> relu|tanh
    -> dense, as (twin layers, problem layers)."""
    w1, b1 = _numbers((3, C, 3, 2), exact), _numbers(3, exact)
    w2, b2 = _numbers((2, 3, 2, 2), exact), _numbers(2, exact)
    H1 = (H + 2 - 3) // 2 + 1
    W1 = (H + 2 - 2) // 2 + 1
    n_in = 2 * (H1 - 2) * (W1 - 2)
    d1, e1 = _numbers((4, n_in), exact), _numbers(4, exact)
    d2, e2 = _numbers((3, 4), exact), _numbers(3, exact)
    act = "relu" if exact else "tanh"
    layers = [("conv", {"w": w1, "b": b1, "stride": (2, 2), "pad": (1, 1, 1, 1)}),
              ("relu", {}),
              ("conv", {"w": w2, "b": b2, "stride": (1, 1), "pad": (0, 0, 0, 0)}),
              ("max_pool", {}), ("flatten", {}), ("dense", {"w": d1, "b": e1}), (act, {}),
              ("dense", {"w": d2, "b": e2})]
    written = [{"conv": {"kernel": w1, "bias": list(b1), "stride": 2, "padding": 1}}, "relu",
               {"conv": {"kernel": w2, "bias": list(b2)}},
               {"max_pool": {"size": 2, "stride": 1}}, "flatten",
               {"dense": {"weights": d1, "bias": list(e1)}}, act,
               {"dense": {"weights": d2, "bias": list(e2)}}]
    return _numbers((N, C, H, H), exact), layers, written


def _target(loss, shape, exact):
    if loss == "cross_entropy":
        N, M = shape
        t = np.zeros(shape)
        t[np.arange(N), RNG.integers(0, M, N)] = 1
        return t
    return _numbers(shape, exact)


def _same(got, want, exact, what):
    if exact:
        got, want = np.asarray(got, dtype=object), np.asarray(want, dtype=object)
        assert got.shape == want.shape and np.array_equal(got, want), what
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=1e-9, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("N", BATCHES)
@pytest.mark.parametrize(("exact", "loss"), [
    (True, "mse"), (True, "sse"), (True, "half_sse"), (True, "mae"),
    (False, "mse"), (False, "cross_entropy")])
def test_a_batch_network_is_the_twin_sample_by_sample(N, exact, loss):
    x, layers, written = _network(exact, N)
    t = _target(loss, (N, 3), exact)
    got = convgrad.solve({"input": x, "layers": written, "target": t, "loss": loss},
                         exact=exact)
    want = reference_batch(x, layers, loss, t)
    assert got["Y"].shape == (N, 3) and got["dX"].shape == x.shape
    for key in ("Y", "dY", "dX", "loss"):
        _same(got[key], want[key], exact, key)
    for g, w in zip(got["layers"], want["layers"], strict=True):
        assert g["output"].shape[0] == N, g["name"]
        for key in w:
            _same(g[key], w[key], exact, f"{g['name']}.{key}")


@pytest.mark.parametrize("N", BATCHES)
@pytest.mark.parametrize(("pool", "activation", "loss"), [
    ("max", "relu", "mse"), ("avg", "relu", "half_sse"), ("max", None, "sse")])
def test_the_single_layer_form_takes_a_batch(N, pool, activation, loss):
    """N x C x H x W through conv [-> activation] -> pool, exactly, against the twin."""
    x = _numbers((N, 2, 5, 5), True)
    w, b = _numbers((2, 2, 2, 2), True), _numbers(2, True)
    problem = {"input": x, "kernel": w, "bias": list(b), "padding": [1, 0], "stride": 1,
               "pool": {"type": pool, "size": 2, "stride": 1}, "loss": loss}
    layers = [("conv", {"w": w, "b": b, "stride": (1, 1), "pad": (1, 1, 0, 0)})]
    if activation:
        problem["activation"] = activation
        layers.append((activation, {}))
    layers.append((f"{pool}_pool", {}))
    t = _numbers((N, 2, 5, 3), True)
    problem["target"] = t
    got = convgrad.solve(problem)
    want = reference_batch(x, layers, loss, t)
    assert got["Y"].shape == (N, 2, 5, 3)
    for key in ("Y", "dY", "dX", "loss"):
        _same(got[key], want[key], True, key)
    _same(got["dW"], want["layers"][0]["dW"], True, "dW")
    _same(got["db"], want["layers"][0]["db"], True, "db")


def test_batch_true_makes_rows_of_vectors_samples():
    """N x K vectors into dense layers: each row a sample, as PyTorch's Linear on (N, K)."""
    x = _numbers((3, 4), True)
    w, b = _numbers((2, 4), True), _numbers(2, True)
    t = _numbers((3, 2), True)
    got = convgrad.solve({"input": x, "batch": True, "target": t, "loss": "mse",
                          "layers": [{"dense": {"weights": w, "bias": list(b)}}, "relu"]})
    want = reference_batch(x, [("dense", {"w": w, "b": b}), ("relu", {})], "mse", t)
    for key in ("Y", "dY", "dX", "loss"):
        _same(got[key], want[key], True, key)
    _same(got["layers"][0]["dW"], want["layers"][0]["dW"], True, "fc1.dW")
    # The same rows without `batch`: a 3 x 4 matrix is one image, which dense refuses.
    with pytest.raises(ProblemError, match="flatten"):
        load_problem({"input": x, "target": t, "layers": [{"dense": {"weights": w}}]})


def test_a_batch_of_one_is_the_sample_with_a_batch_axis():
    """The seed's example (SPEC section 2) as a batch of one: the same numbers, with the
    batch axis in every result but dW (the kernel as written), and db a list."""
    seed = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "bias": 1,
            "target": "1 0; 0 1", "loss": "mse"}
    batch = convgrad.solve({**seed, "input": ["1 2 3; 4 5 6; 7 8 9"], "batch": True,
                            "target": ["1 0; 0 1"]})
    assert batch["Y"].tolist() == [[[[3, 4], [6, 7]]]]  # N x F x Ho x Wo
    assert batch["dX"].tolist() == [[[1, 2, 0], [2, 2, 2], [-3, 0, 3]]]  # as the input: N x H x W
    assert batch["dW"].tolist() == [[32, 41], [59, 68]] and batch["db"].tolist() == [9]
    assert batch["loss"] == 23


def test_gradients_of_a_batch_match_central_differences():
    N = 2
    x, _, written = _network(False, N)
    t = _target("cross_entropy", (N, 3), False)
    problem = {"input": x, "layers": written, "target": t, "loss": "cross_entropy"}
    got = convgrad.solve(problem)

    def loss_with_input(value):
        return convgrad.solve({**problem, "input": value})["loss"]

    np.testing.assert_allclose(got["dX"], ref.numerical_gradient(loss_with_input, x),
                               rtol=1e-5, atol=1e-8)
    for k, key in ((0, "kernel"), (5, "weights")):
        kind = next(iter(written[k]))
        base = written[k][kind]

        def loss_with(value, k=k, kind=kind, key=key, base=base):
            layers = list(written)
            layers[k] = {kind: {**base, key: value}}
            return convgrad.solve({**problem, "layers": layers})["loss"]

        np.testing.assert_allclose(got["layers"][k]["dW"],
                                   ref.numerical_gradient(loss_with, np.asarray(base[key])),
                                   rtol=1e-5, atol=1e-8)


# --- PyTorch float64 ----------------------------------------------------------------------------


def _torch_loss(torch, loss, y, t):
    F = torch.nn.functional
    if loss == "mse":
        return F.mse_loss(y, t)
    if loss == "sse":
        return F.mse_loss(y, t, reduction="sum")
    if loss == "half_sse":
        return F.mse_loss(y, t, reduction="sum") / 2
    if loss == "mae":
        return F.l1_loss(y, t)
    if loss == "bce":
        return F.binary_cross_entropy(y, t)
    return F.cross_entropy(y.reshape(y.shape[0], -1), t.reshape(t.shape[0], -1))


@pytest.mark.parametrize("N", BATCHES)
@pytest.mark.parametrize(("pool", "loss"), [("max", "mse"), ("avg", "cross_entropy"),
                                            ("max", "mae"), ("avg", "sse"),
                                            ("max", "half_sse"), ("avg", "bce")])
def test_a_batch_network_matches_pytorch(N, pool, loss):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    x = RNG.normal(size=(N, 2, 7, 6))
    w1, b1 = RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3)
    conv = nn.Conv2d(2, 3, 3, stride=(2, 1), padding=1, dilation=(1, 2)).double()
    pooling = nn.MaxPool2d(2, 1) if pool == "max" else nn.AvgPool2d(2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(w1))
        conv.bias.copy_(torch.tensor(b1))
    H1 = (7 + 2 - 3) // 2 + 1
    W1 = (6 + 2 - 5) // 1 + 1
    n_in = 3 * (H1 - 1) * (W1 - 1)
    w2, b2 = RNG.normal(size=(4, n_in)) * 0.3, RNG.normal(size=4)
    linear = nn.Linear(n_in, 4).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(w2))
        linear.bias.copy_(torch.tensor(b2))
    tx = torch.tensor(x, requires_grad=True)
    h1 = conv(tx)
    h1.retain_grad()
    ty = linear(torch.flatten(pooling(torch.relu(h1)), 1))
    if loss == "bce":
        ty = torch.sigmoid(ty)
        t = RNG.uniform(size=(N, 4))
    elif loss == "cross_entropy":
        t = np.eye(4)[RNG.integers(0, 4, N)]
    else:
        t = RNG.normal(size=(N, 4))
    ty.retain_grad()
    tl = _torch_loss(torch, loss, ty, torch.tensor(t))
    tl.backward()

    written = [{"conv": {"kernel": w1, "bias": list(b1), "stride": [2, 1], "padding": 1,
                         "dilation": [1, 2]}}, "relu",
               {f"{pool}_pool": {"size": 2, "stride": 1}}, "flatten",
               {"dense": {"weights": w2, "bias": list(b2)}}]
    if loss == "bce":
        written.append("sigmoid")
    got = convgrad.solve({"input": x, "layers": written, "target": t, "loss": loss})
    close = {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(got["loss"], tl.item(), **close)
    np.testing.assert_allclose(got["Y"], ty.detach().numpy(), **close)
    np.testing.assert_allclose(got["dY"], ty.grad.numpy(), **close)
    np.testing.assert_allclose(got["dX"], tx.grad.numpy(), **close)
    conv1, fc1 = got["layers"][0], got["layers"][4]
    np.testing.assert_allclose(conv1["output"], h1.detach().numpy(), **close)
    np.testing.assert_allclose(conv1["d_output"], h1.grad.numpy(), **close)
    np.testing.assert_allclose(conv1["dW"], conv.weight.grad.numpy(), **close)
    np.testing.assert_allclose(conv1["db"], conv.bias.grad.numpy(), **close)
    np.testing.assert_allclose(fc1["dW"], linear.weight.grad.numpy(), **close)
    np.testing.assert_allclose(fc1["db"], linear.bias.grad.numpy(), **close)


@pytest.mark.parametrize("N", BATCHES)
@pytest.mark.parametrize("loss", ["mse", "mae", "sse"])
def test_the_single_layer_batch_matches_pytorch(N, loss):
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(N, 1, 5, 5))
    w, b = RNG.normal(size=(2, 1, 2, 3)), RNG.normal(size=2)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.avg_pool2d(torch.tanh(torch.nn.functional.conv2d(
        tx, tw, tb, padding=(1, 0))), 2)
    t = RNG.normal(size=tuple(ty.shape))
    _torch_loss(torch, loss, ty, torch.tensor(t)).backward()
    got = convgrad.solve({"input": x, "kernel": w, "bias": list(b), "padding": [1, 0],
                          "activation": "tanh", "pool": {"type": "avg", "size": 2},
                          "target": t, "loss": loss})
    for key, want in (("Y", ty.detach()), ("dX", tx.grad), ("dW", tw.grad), ("db", tb.grad)):
        np.testing.assert_allclose(got[key], want.numpy(), rtol=1e-10, atol=1e-12, err_msg=key)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "key", "words"), [
    ("input: [1, 2, 3]\nbatch: true\nlayers: [relu]\n", "batch", "no axis left"),
    ("input: [[1, 2], [3, 4]]\nbatch: yes please\nkernel: 1\n", "batch", "true or false"),
    ("input: [[[[1, 2], [3, 4]]]]\nbatch: false\nkernel: 1\n", "batch", "N x C x H x W"),
    ("input: [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]\nkernel: 1\n"
     "target: [[[1, 2], [3, 4]]]\n", "target", "batch axis first"),
    ("input: [[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]]]\nkernel: 1\n"
     "grad_output: [1, 2, 3, 4, 5, 6, 7]\n", "grad_output", "2x1x2x2"),
    ("input: [[1, 2], [3, 4]]\nbatch: true\nlayers: [dense: {weights: [[1, 1], [0, 1]]}]\n"
     "loss: cross_entropy\ntarget: [[0, 1], [0.5, 0.25]]\n", "target", "sample 2"),
    ("input: [[[[[1]]]]]\nkernel: 1\n", "input", "N x C x H x W"),
])
def test_bad_batches_are_one_problem_error_naming_key_and_line(text, key, words):
    with pytest.raises(ProblemError) as caught:
        convgrad.solve(text)
    message = str(caught.value)
    assert f"'{key}'" in message and "line " in message and words in message, message
    assert "\n" not in message


# --- check, --json, the example -----------------------------------------------------------------


def test_check_keys_name_the_sample_first(tmp_path):
    problem = ROOT / "problems" / "batch_cs231n_two_images.yaml"
    solved = json.loads(run_main("solve", str(problem), "--json").stdout)
    answers = tmp_path / "answers.yaml"
    y = solved["Y"][1][0]  # sample 2, output 1
    dw = solved["layers"][0]["dW"][1][0][1][0]  # conv1.dW[2,1,2,1]
    answers.write_text(f"Y[2,1]: {y!r}\nconv1.dW[2,1,2,1]: {dw!r}\n"
                       f"relu1.output[2,1,1,1]: {solved['layers'][1]['output'][1][0][0][0]!r}\n")
    out = run_main("check", str(problem), str(answers))
    assert out.returncode == 0, out
    answers.write_text(f"Y[1,1]: {y!r}\n")  # sample 1's output is another number
    assert run_main("check", str(problem), str(answers)).returncode == 1


def test_the_batch_example_golden_is_pytorchs():
    """tests/golden/json/batch_cs231n_two_images.json is written by make_batch_golden.py from
    PyTorch; this rebuilds it (where PyTorch is installed) and compares with the file."""
    torch = pytest.importorskip("torch")
    from .make_batch_golden import golden

    pinned = json.loads((Path(__file__).parent / "golden" / "json" /
                         "batch_cs231n_two_images.json").read_text(encoding="utf-8"))
    rebuilt = golden(torch)
    assert list(rebuilt) == list(pinned)
    assert json.dumps(rebuilt) == json.dumps(pinned)
