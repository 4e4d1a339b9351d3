"""conv1d (SPEC section 6, PyTorch's Conv1d) and the single-layer 1-D form: a 1-D
convolution through the 2-D conv code on C x 1 x L, with results, names and check keys 1-D
as written. Held against hand-worked numbers, the 2-D naive twin on one row, central
differences, PyTorch float64 (Conv1d, MaxPool1d, AvgPool1d) over a grid, and its own terms;
the reading of its keys; problems/conv1d.yaml's pinned JSON against PyTorch."""

from __future__ import annotations

import contextlib
import io
import json
import re
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.engine import run
from convgrad.errors import ProblemError
from convgrad.layers import evaluate
from convgrad.reader import load_problem, problem_from_text

from .conftest import run_main, write

RNG = np.random.default_rng(7)
ROOT = Path(__file__).parent.parent


def fractions(shape: tuple[int, ...]) -> np.ndarray:
    values = [Fraction(int(n), int(d)) for n, d in
              zip(RNG.integers(-4, 5, size=int(np.prod(shape))),
                  RNG.choice([1, 2, 3], size=int(np.prod(shape))), strict=True)]
    return np.array(values, dtype=object).reshape(shape)


def out_length(L: int, k: int, stride: int, pad: tuple[int, int], dilation: int) -> int:
    return (L + pad[0] + pad[1] - dilation * (k - 1) - 1) // stride + 1


def same(L: int, k: int, dilation: int) -> tuple[int, int]:
    total = dilation * (k - 1)  # stride 1: Lo = L
    return total // 2, total - total // 2


# --- the single-layer 1-D form, by hand --------------------------------------------------


def test_single_form_by_hand():
    # x padded [0, 1, 2, 0, 3, 1, 0], w [1, -1, 2]: y1 = 0 - 1 + 4 = 3, ...
    r = convgrad.solve({"input": [1, 2, 0, 3, 1], "kernel": [1, -1, 2], "padding": 1,
                        "bias": 1, "grad_output": [1, 0, 0, 0, 2]})
    assert r["Y"].tolist() == [4, 0, 9, 0, 3]
    # dL/dw_q = sum_i dy_i * x_pad[i + q]: q=1: 0 + 2*3; q=2: 1 + 2*1; q=3: 2 + 2*0.
    assert r["dW"].tolist() == [6, 3, 2]
    assert r["db"] == 3
    # dL/dx_j = sum_i dy_i * w[j + 1 - i] (padding 1): x1 <- dy1*w2, x4 <- dy5*w1, x5 <- dy5*w2
    assert r["dX"].tolist() == [-1, 2, 0, 2, -2]
    assert r["Y"].shape == r["dX"].shape == (5,) and r["dW"].shape == (3,)


def test_single_form_stride_dilation_pool_and_names():
    text = textwrap.dedent("""\
        input: [1, 2, 3, 4, 5, 6, 7]
        kernel: [1, 0, -1]
        dilation: 2
        stride: 1
        padding: [1, 2]
        activation: relu
        pool: {type: max, size: 2}
        target: [1, 1, 1]
        loss: sse
        """)
    r = convgrad.solve(text)
    # x padded [0, 1..7, 0, 0], taps at i, i+2, i+4: z_i = xp[i] - xp[i+4]
    xp = [0, 1, 2, 3, 4, 5, 6, 7, 0, 0]
    z = [xp[i] - xp[i + 4] for i in range(6)]
    assert r["Z"].tolist() == z
    a = [max(v, 0) for v in z]
    assert r["A"].tolist() == a
    assert r["Y"].tolist() == [max(a[0], a[1]), max(a[2], a[3]), max(a[4], a[5])]
    problem = load_problem(text)
    assert [layer.signal for layer in problem.layers] == [True, True, True]


def test_single_form_terms_and_check_keys_are_1d(tmp_path):
    from convgrad.cli import main

    problem = tmp_path / "p.yaml"
    problem.write_text("input: [1, 2, 0, 3]\nkernel: [1, -1]\ngrad_output: [1, 2, 3]\n")
    answers = tmp_path / "a.yaml"
    # Y = [-1, 2, -3]; dW = [1 + 4 + 0, 2 + 0 + 9]; dX = [1, 2 - 1, 3 - 2, -3]
    answers.write_text("Y: [-1, 2, -3]\nY[3]: -3\ndW[2]: 11\ndX[4]: -3\ndb: 6\n")
    assert main(["check", str(problem), str(answers)]) == 0
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["solve", str(problem)])
    text = out.getvalue()
    # Entries named 1-D, as the seeds name them: y1, x2, w2, dL/dw1.
    assert "y1 = x1·w1 + x2·w2 + b" in text and "y3 = 0·1 + 3·(-1) + 0 = -3" in text
    assert "dL/dw1 = dL/dy1·x1 + dL/dy2·x2 + dL/dy3·x3" in text


# --- conv1d against the 2-D naive twin on one row, exactly ----------------------------------


@pytest.mark.parametrize(("C", "F", "k", "L", "stride", "pad", "dilation"), [
    (1, 1, 3, 6, 1, (1, 1), 1), (2, 3, 2, 7, 2, (0, 2), 1), (3, 2, 3, 9, 1, (2, 0), 2),
    (2, 1, 1, 4, 3, (1, 1), 1),
])
def test_conv1d_matches_the_twin_exactly(C, F, k, L, stride, pad, dilation):
    x, w, b = fractions((C, L)), fractions((F, C, k)), fractions((F,))
    Lo = out_length(L, k, stride, pad, dilation)
    g = fractions((F, Lo))
    r = convgrad.solve({"input": x, "layers": [{"conv1d": {
        "kernel": w, "bias": list(b), "stride": stride, "padding": list(pad),
        "dilation": dilation}}], "grad_output": g}, exact=True)
    args = ((1, stride), (0, 0, *pad), (1, dilation))
    z = ref.conv_forward(x[:, np.newaxis], w[:, :, np.newaxis], b, *args)
    dx, dw, db = ref.conv_backward(x[:, np.newaxis], w[:, :, np.newaxis],
                                   g[:, np.newaxis], *args)
    assert r["Y"].tolist() == z[:, 0].tolist()
    assert r["dX"].tolist() == dx[:, 0].tolist()
    layer = r["layers"][0]
    assert layer["type"] == "conv1d" and layer["name"] == "conv1"
    assert layer["dW"].tolist() == dw[:, :, 0].tolist() and layer["db"].tolist() == db.tolist()


def test_conv1d_against_central_differences():
    x, w = RNG.normal(size=(2, 9)), RNG.normal(size=(3, 2, 3))
    c = RNG.normal(size=(3, 5))

    def problem(x_, w_):
        return {"input": x_, "layers": [{"conv1d": {"kernel": w_, "stride": 2,
                                                    "padding": 1,
                                                    "padding_mode": "reflect"}}],
                "grad_output": c}

    def loss(x_, w_):
        return float((c * convgrad.solve(problem(x_, w_), exact=False)["Y"]).sum())

    r = convgrad.solve(problem(x, w), exact=False)
    np.testing.assert_allclose(r["dX"], ref.numerical_gradient(lambda v: loss(v, w), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r["layers"][0]["dW"],
                               ref.numerical_gradient(lambda v: loss(x, v), w),
                               rtol=1e-6, atol=1e-8)


# --- against PyTorch float64 -------------------------------------------------------------------


def torch_grid() -> list[tuple]:
    """(N, C, F, k, L, stride, padding, dilation, groups, mode, pool): Conv1d's range."""
    grid = []
    for C, F, groups in ((1, 1, 1), (1, 3, 1), (2, 3, 1), (4, 2, 2), (3, 6, 3)):
        for k, stride, dilation in ((1, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 2), (2, 3, 2)):
            for padding in (0, 1, [2, 0], "same", "valid"):
                if padding == "same" and stride != 1:
                    continue  # PyTorch's "same" is for stride 1
                for mode, pool in (("zeros", None), ("reflect", ("max", 2)),
                                   ("circular", ("avg", 3)), ("replicate", None)):
                    grid.append((2, C, F, k, 9, stride, padding, dilation, groups, mode, pool))
    return grid


TORCH_GRID = torch_grid()


def _pads(padding, k: int, dilation: int, L: int) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return same(L, k, dilation)
    return (padding, padding) if isinstance(padding, int) else tuple(padding)


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
@pytest.mark.parametrize("case", TORCH_GRID, ids=[str(i) for i in range(len(TORCH_GRID))])
def test_network_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    N, C, F, k, L, stride, padding, dilation, groups, mode, pool = case
    left, right = _pads(padding, k, dilation, L)
    if mode == "reflect" and max(left, right) >= L:
        pytest.skip("reflect padding must be less than the input")
    x, w, b = RNG.normal(size=(N, C, L)), RNG.normal(size=(F, C // groups, k)), \
        RNG.normal(size=F)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    module = torch.nn.Conv1d(C, F, k, stride=stride, dilation=dilation, groups=groups,
                             padding=padding if isinstance(padding, (int, str)) else 0,
                             padding_mode=mode).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        module.bias.copy_(torch.from_numpy(b))
    h = tx
    if isinstance(padding, list):  # Conv1d pads both sides alike: [left, right] by hand
        h = torch.nn.functional.pad(h, tuple(padding),
                                    mode="constant" if mode == "zeros" else mode)
    z = module(h)
    y = z
    layers: list = [{"conv1d": {"kernel": w, "bias": list(b), "stride": stride,
                                "padding": padding, "dilation": dilation, "groups": groups,
                                "padding_mode": mode}}]
    if pool is not None:
        kind, size = pool
        if z.shape[-1] < size:
            pytest.skip("the pooling window does not fit")
        y = (torch.nn.MaxPool1d if kind == "max" else torch.nn.AvgPool1d)(size)(z)
        layers.append({f"{kind}_pool": {"size": size}})
    g = RNG.normal(size=tuple(y.shape))
    y.backward(torch.from_numpy(g))
    r = convgrad.solve({"input": x, "batch": True, "layers": layers, "grad_output": g},
                       exact=False)
    np.testing.assert_allclose(r["Y"], y.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r["dX"], tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    conv = r["layers"][0]
    np.testing.assert_allclose(conv["dW"], module.weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(conv["db"], module.bias.grad.numpy(), rtol=1e-9, atol=1e-12)


# --- terms: every entry rebuilt, indices 4-D inside (n, c, 0, l) ------------------------------


def test_terms_add_up_and_names_are_1d():
    problem = load_problem({"input": fractions((2, 7)), "layers": [
        {"conv1d": {"kernel": fractions((3, 2, 2)), "padding": [1, 0], "stride": 2}},
        {"avg_pool": {"size": 2, "stride": 1}}, "flatten",
        {"dense": {"weights": fractions((2, 9))}}], "target": [1, 0], "loss": "mse"})
    solved = run(problem, exact=True)
    for layer in solved.passes:
        named = layer.arrays()
        for of in layer.expanded:
            arr = named["dx" if of == "dx" else "out" if of == "out" else of]
            for index in np.ndindex(arr.shape):
                assert evaluate(layer.terms(of, index), named) == arr[index], (layer.name, of)
    r = convgrad.solve(problem)
    assert r["layers"][0]["output"].shape == (3, 4)
    assert r["layers"][1]["output"].shape == (3, 3)
    assert r["layers"][0]["dW"].shape == (3, 2, 2)
    assert set(r.by_answer_key()) >= {"conv1.dW", "pool1.output", "Y", "dX"}


# --- reading the keys --------------------------------------------------------------------------


def error(text: str) -> str:
    with pytest.raises(ProblemError) as info:
        problem_from_text(textwrap.dedent(text), source="p.yaml")
    return str(info.value)


@pytest.mark.parametrize(("kernel", "x", "w_shape", "out"), [
    ("[1, 0, -1]", "[1, 2, 3, 4]", (1, 1, 1, 3), (1, 1, 2)),            # k
    ('"1 0; 0 1"', "[1, 2, 3, 4]", (2, 1, 1, 2), (2, 1, 3)),           # F x k, one channel
    ('"1 0; 0 1"', '"1 2 3 4; 4 3 2 1"', (1, 2, 1, 2), (1, 1, 3)),     # C x k, one filter
    ('[["1 0", "0 1"], ["1 1", "1 1"], ["0 0", "2 2"]]', '"1 2 3 4; 4 3 2 1"',
     (3, 2, 1, 2), (3, 1, 3)),                                         # F x C x k
])
def test_reader_kernel_forms(kernel, x, w_shape, out):
    p = problem_from_text(f"input: {x}\nlayers:\n  - conv1d: {{kernel: {kernel}}}\n")
    layer = p.layers[0]
    assert layer.op.w.shape == w_shape and layer.out_shape == out  # type: ignore[union-attr]
    assert layer.type == "conv1d" and layer.name == "conv1" and layer.signal


def test_conv1d_layers_share_the_conv_family():
    p = problem_from_text(textwrap.dedent("""\
        input: "1 2 3 4 5 6"
        layers:
          - conv1d: {kernel: [1, 1]}
          - relu
          - conv1d: {kernel: [1, -1]}
        """))
    assert [layer.name for layer in p.layers] == ["conv1", "relu1", "conv2"]


@pytest.mark.parametrize("layer", ["conv: {kernel: 1}", "conv_transpose: {kernel: 1}",
                                   "max_pool: {size: 2}", "avg_pool: {size: 2}"])
def test_a_vector_input_under_a_first_layer_of_maps_is_named_as_the_input(layer):
    """SPEC 5: a 1-D input may start a network with dense or an activation (SPEC 6: conv1d).
    Under a first conv, conv_transpose or pooling the message names the input and what to
    write; nothing came before it, so 'cannot follow flatten or dense' sent the reader
    looking for a layer the file does not have."""
    message = error(f"input: [1, 2, 3, 4]\nlayers:\n  - {layer}\n")
    assert "p.yaml, line 3:" in message, message
    assert "'input' is a vector of 4" in message and "[[...]]" in message, message
    assert "follow" not in message, message
    if layer.startswith("conv:") or layer.startswith("max_pool") or layer.startswith("avg"):
        assert "conv1d" in message, message


@pytest.mark.parametrize(("body", "line", "words"), [
    ('input: "1 2 3; 4 5 6"\nlayers:\n  - conv: {kernel: 1}\n  - conv1d: {kernel: [1, 1]}\n',
     4, ["'layers[2].conv1d' needs C x L signals", "1x2x3 maps"]),
    ('input: "1 2 3; 4 5 6"\nlayers:\n  - conv1d: {kernel: [[1], [1]]}\n  - conv: {kernel: 1}\n',
     4, ["'layers[2].conv' needs C x H x W maps", "use conv1d"]),
    ('input: "1 2 3; 4 5 6"\nlayers:\n  - conv1d:\n      kernel: [1, 1]\n', 4,
     ["'layers[1].conv1d.kernel' is one 1-D filter", "2 channels"]),
    ('input: [1, 2, 3, 4]\nlayers:\n  - conv1d:\n      kernel: [1, 1]\n      stride: [1, 2]\n',
     5, ["'layers[1].conv1d.stride' must be a whole number >= 1 (conv1d is 1-D)"]),
    ('input: [1, 2, 3, 4]\nlayers:\n  - conv1d:\n      kernel: [1, 1]\n      padding: [1, 2, 3]\n',
     5, ["'layers[1].conv1d.padding' must be a whole number >= 0, [left, right]"]),
    ('input: [1, 2, 3, 4]\nlayers:\n  - conv1d: {kernel: [1, 1]}\n  - max_pool:\n'
     '      size: [2, 2]\n', 5, ["'layers[2].max_pool.size'", "pooling after conv1d is 1-D"]),
    ('input: [1, 2, 3, 4]\nlayers:\n  - conv1d:\n      kernel: [[[[1]]]]\n', 4,
     ["'layers[1].conv1d.kernel' is 1x1x1x1", "k, F x k, C x k or F x C x k"]),
    ('input: [1, 2, 3]\nkernel: [1, 1]\npadding: 3\npadding_mode: reflect\n', 3,
     ["'padding' puts 3 columns of padding at the left"]),
    ('input: [1, 2, 3]\nkernel: [1, 1, 1, 1, 1]\n', 2, ["'kernel'", "must fit"]),
])
def test_reader_errors_name_the_line(body, line, words):
    message = error(body)
    assert f"p.yaml, line {line}:" in message, message
    for word in words:
        assert word in message, (word, message)


# --- problems/conv1d.yaml's pinned JSON, against PyTorch ---------------------------------------


def test_conv1d_example_matches_pytorch():
    torch = pytest.importorskip("torch")
    problem = load_problem(ROOT / "problems" / "conv1d.yaml")
    conv, _, _, _, dense = (layer.op for layer in problem.layers)
    as_float = np.vectorize(float)
    x = torch.tensor(as_float(problem.x).reshape(1, 2, 8), requires_grad=True)
    w = torch.tensor(as_float(conv.w)[:, :, 0], requires_grad=True)  # type: ignore[union-attr]
    b = torch.tensor(as_float(conv.b), requires_grad=True)  # type: ignore[union-attr]
    fw = torch.tensor(as_float(dense.w), requires_grad=True)  # type: ignore[union-attr]
    fb = torch.tensor(as_float(dense.b), requires_grad=True)  # type: ignore[union-attr]
    z = torch.nn.functional.conv1d(x, w, b, padding=1)
    z.retain_grad()
    p = torch.nn.MaxPool1d(2)(torch.relu(z))
    y = torch.nn.functional.linear(p.flatten(), fw, fb)
    assert problem.target is not None
    loss = torch.nn.functional.mse_loss(y, torch.tensor(as_float(problem.target)))
    loss.backward()
    golden = json.loads((ROOT / "tests" / "golden" / "json" / "conv1d.json").read_text())
    conv1 = golden["layers"][0]
    assert conv1["type"] == "conv1d" and np.shape(conv1["dW"]) == (2, 2, 3)
    for mine, theirs in ((golden["Y"], y), (golden["loss"], loss), (golden["dX"], x.grad[0]),
                         (conv1["output"], z[0]), (conv1["d_output"], z.grad[0]),
                         (conv1["dW"], w.grad), (conv1["db"], b.grad),
                         (golden["layers"][4]["dW"], fw.grad)):
        np.testing.assert_allclose(np.asarray(mine, dtype=float), theirs.detach().numpy(),
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("args", [["explain"], ["explain", "--format", "markdown"],
                                  ["explain", "--format", "latex"],
                                  ["explain", "--format", "html"], ["solve", "--format", "html"]])
def test_a_padded_signal_is_explained_and_drawn(tmp_path, args):
    # a 1-D input with padding stopped every walkthrough and solve's web page with an internal
    # error (AxisError: the padded input's own cells were looked for in rows and columns)
    problem = write(tmp_path, "p.yaml", "input: [1, 2, 3]\nkernel: [1, -1]\npadding: 1\n"
                    "grad_output: [1, 1, 1, 1]\n")
    done = run_main(args[0], problem, *args[1:])
    assert done.returncode == 0, done
    if args[-1] == "html":
        # the cells of X padded (0 1 2 3 0): the padding by its position, the rest as X's own
        terms = set(re.findall(r'data-term="(X[^"]*)"', done.stdout))
        assert terms == {"X[1]", "X[2]", "X[3]", "X_pad[1]", "X_pad[5]"}
    if args == ["explain"]:
        assert "(0) 1 2 3 (0)" in done.stdout
