"""Networks (SPEC section 5): layers chained, each checked against the naive reference."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref

from .conftest import ROOT, run_main

RNG = np.random.default_rng(5)


def _reference_network(x, layers, loss, t):
    """Forward and backward through `layers` with the naive twin, as SPEC section 5 reads."""
    outs, caches = [], []
    h = x
    for kind, params in layers:
        caches.append(h)
        if kind == "conv":
            h = ref.conv_forward(h, params["w"], params["b"], (1, 1), (0, 0, 0, 0), (1, 1))
        elif kind in ("relu", "tanh", "sigmoid"):
            h = ref.activation_forward(kind, h)
        elif kind == "max_pool":
            h = ref.pool_forward("max", h, (2, 2), (1, 1))
        elif kind == "flatten":
            h = ref.flatten_forward(h)
        elif kind == "dense":
            h = ref.dense_forward(h, params["w"], params["b"])
        outs.append(h)
    result = {"Y": h, "loss": ref.loss_forward(loss, h, t), "layers": []}
    d = ref.loss_backward(loss, h, t)
    result["dY"] = d
    grads = []
    for (kind, params), h_in in zip(reversed(layers), reversed(caches), strict=True):
        item = {"d_output": d}
        if kind == "conv":
            d, item["dW"], item["db"] = ref.conv_backward(h_in, params["w"], d, (1, 1),
                                                          (0, 0, 0, 0), (1, 1))
        elif kind in ("relu", "tanh", "sigmoid"):
            d = ref.activation_backward(kind, h_in, d)
        elif kind == "max_pool":
            d = ref.pool_backward("max", h_in, d, (2, 2), (1, 1))
        elif kind == "flatten":
            d = ref.flatten_backward(h_in, d)
        elif kind == "dense":
            d, item["dW"], item["db"] = ref.dense_backward(h_in, params["w"], d)
        grads.append(item)
    result["dX"] = d
    for out, item in zip(outs, reversed(grads), strict=True):
        result["layers"].append({"output": out, **item})
    return result


def _network(exact, shape):
    """conv -> relu -> conv -> max_pool -> flatten -> dense -> tanh|relu -> dense."""
    def numbers(size):
        if exact:
            return np.vectorize(lambda v: Fraction(int(v), 4), otypes=[object])(
                RNG.integers(-6, 7, size))
        return RNG.normal(size=size)

    C, H = shape
    w1, w2 = numbers((3, C, 2, 2)), numbers((2, 3, 2, 2))
    n = 2 * (H - 3) * (H - 3)
    d1, d2 = numbers((4, n)), numbers((3, 4))
    act = "relu" if exact else "tanh"
    layers = [("conv", {"w": w1, "b": numbers(3)}), ("relu", {}),
              ("conv", {"w": w2, "b": numbers(2)}), ("max_pool", {}), ("flatten", {}),
              ("dense", {"w": d1, "b": numbers(4)}), (act, {}),
              ("dense", {"w": d2, "b": numbers(3)})]
    problem_layers = []
    for kind, params in layers:
        if kind == "conv":
            problem_layers.append({"conv": {"kernel": params["w"], "bias": list(params["b"])}})
        elif kind == "dense":
            problem_layers.append({"dense": {"weights": params["w"], "bias": list(params["b"])}})
        elif kind == "max_pool":
            problem_layers.append({"max_pool": {"size": 2, "stride": 1}})
        else:
            problem_layers.append(kind)
    x = numbers((C, H, H))
    t = numbers(3)
    return x, layers, problem_layers, t


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float"])
@pytest.mark.parametrize("shape", [(1, 5), (2, 6)])
@pytest.mark.parametrize("loss", ["mse", "half_sse", "mae"])
def test_network_matches_reference_layer_by_layer(exact, shape, loss):
    x, layers, problem_layers, t = _network(exact, shape)
    got = convgrad.solve({"input": x, "layers": problem_layers, "target": t, "loss": loss})
    want = _reference_network(x, layers, loss, t)
    names = [layer["name"] for layer in got["layers"]]
    assert names == ["conv1", "relu1", "conv2", "pool1", "flatten1", "fc1",
                     "relu2" if exact else "tanh1", "fc2"]

    def same(a, b, what):
        a, b = np.asarray(a, dtype=object if exact else float), np.asarray(b)
        if exact:
            assert a.dtype == object and np.array_equal(a, b.astype(object)), what
        else:
            np.testing.assert_allclose(a, b.astype(float), rtol=1e-9, atol=1e-12, err_msg=what)

    for key in ("Y", "dY", "dX", "loss"):
        same(got[key], want[key], key)
    for g, w in zip(got["layers"], want["layers"], strict=True):
        for key in w:
            same(g[key], w[key], f"{g['name']}.{key}")


def test_network_gradients_match_central_differences():
    x, layers, problem_layers, t = _network(False, (2, 5))
    problem = {"input": x, "layers": problem_layers, "target": t, "loss": "mse"}
    got = convgrad.solve(problem)

    def loss_with(index, key, value):
        changed = json.loads(json.dumps(problem, default=lambda a: a.tolist()))
        changed["input"] = np.asarray(changed["input"])
        changed["layers"][index]["dense" if key == "weights" else "conv"][key] = value
        return float(convgrad.solve(changed, exact=False)["loss"])

    numeric_dx = ref.numerical_gradient(
        lambda v: float(convgrad.solve({**problem, "input": v}, exact=False)["loss"]), x)
    np.testing.assert_allclose(got["dX"], numeric_dx, rtol=1e-5, atol=1e-7)
    w1 = layers[0][1]["w"]
    numeric_dw1 = ref.numerical_gradient(lambda v: loss_with(0, "kernel", v), w1)
    np.testing.assert_allclose(got["layers"][0]["dW"], numeric_dw1, rtol=1e-5, atol=1e-7)
    d1 = layers[5][1]["w"]
    numeric_d1 = ref.numerical_gradient(lambda v: loss_with(5, "weights", v), d1)
    np.testing.assert_allclose(got["layers"][5]["dW"], numeric_d1, rtol=1e-5, atol=1e-7)


def test_single_layer_form_is_the_layers_form():
    single = {"input": "1 2 3 0; 4 5 6 1; 7 8 9 2; 1 0 1 2", "kernel": ["1 0; -1 1", "0 1; 1 0"],
              "bias": [1, "1/2"], "activation": "relu", "pool": {"type": "max", "size": 2,
                                                                  "stride": 1},
              "target": ["1 0; 0 1", "2 1; 0 0"], "loss": "mse", "learning_rate": "1/10"}
    layered = {"input": single["input"], "target": single["target"], "loss": "mse",
               "learning_rate": "1/10",
               "layers": [{"conv": {"kernel": single["kernel"], "bias": single["bias"]}}, "relu",
                          {"max_pool": {"size": 2, "stride": 1}}]}
    a, b = convgrad.solve(single), convgrad.solve(layered)
    assert "layers" not in a
    conv, relu, pool = b["layers"]
    assert np.array_equal(a["Y"], b["Y"]) and np.array_equal(a["dX"], b["dX"])
    assert np.array_equal(a["dW"], conv["dW"]) and np.array_equal(a["db"], conv["db"])
    assert np.array_equal(a["Z"], conv["output"]) and np.array_equal(a["dZ"], conv["d_output"])
    assert np.array_equal(a["A"], relu["output"]) and np.array_equal(a["dA"], relu["d_output"])
    assert np.array_equal(a["W_new"], conv["W_new"]) and a["loss"] == b["loss"]


def test_network_json_has_layers_with_exact_twin():
    path = ROOT / "problems" / "network_two_dense.yaml"
    out = run_main("solve", path, "--json")
    assert out.returncode == 0, out
    doc = json.loads(out.stdout)
    assert [layer["name"] for layer in doc["layers"]] == ["fc1", "relu1", "fc2"]
    assert [layer["type"] for layer in doc["layers"]] == ["dense", "relu", "dense"]
    fc2 = doc["exact"]["layers"][2]
    assert set(fc2) == {"name", "type", "output", "d_output", "dW", "db", "W_new", "b_new"}
    # fc2's bias was written as one number, but a layer's db is a list (SPEC section 5).
    assert isinstance(doc["layers"][2]["db"], list) and len(doc["layers"][2]["db"]) == 2
    # By hand: h = relu(W1 x + b1) = relu([2, -2, -1, 7/2]) = [2, 0, 0, 7/2];
    # y = W2 h = [2 + 7, -7/2] = [9, -7/2]; half_sse: dY = y - t = [7, -5/2].
    assert doc["exact"]["Y"] == ["9", "-7/2"]
    assert doc["exact"]["dY"] == ["7", "-5/2"]
    assert doc["exact"]["layers"][0]["output"] == ["2", "-2", "-1", "7/2"]
    assert doc["exact"]["loss"] == "221/8"  # (49 + 25/4) / 2


def test_check_grades_layer_keys(tmp_path):
    path = ROOT / "problems" / "network_two_dense.yaml"
    answers = tmp_path / "a.yaml"
    answers.write_text("fc2.dW[1,4]: 24.5\nfc1.db: [7, 0, 0, 16.5]\nrelu1.output: '2 0 0 7/2'\n"
                       "fc2.d_output: [7, -5/2]\nloss: 27.625\n", encoding="utf-8")
    out = run_main("check", path, answers, "--json")
    doc = json.loads(out.stdout)
    assert out.returncode == 0, doc
    assert doc["files"][0]["right"] == 5
    wrong = tmp_path / "b.yaml"
    wrong.write_text("fc1.dW: 1\n", encoding="utf-8")
    out = run_main("check", path, wrong)
    assert out.returncode == 1 and "wrong shape" in out.stdout


def test_dense_on_maps_needs_flatten():
    with pytest.raises(convgrad.ProblemError, match="add '- flatten' before fc1"):
        convgrad.solve({"input": "1 2; 3 4", "layers": [{"conv": {"kernel": [[1]]}},
                                                        {"dense": {"weights": [[1, 1, 1, 1]]}}],
                        "grad_output": [1]})


def test_explain_makes_the_flatten_step_explicit():
    from .test_explain import walkthrough

    text = walkthrough(ROOT / "problems" / "network_seed004_cnn.yaml")
    assert "Backward: flatten1" in text
    assert "The gradient vector is folded back into the maps in the same order" in text
    assert "dL/dpool1[1,1,1] = dL/dflatten1[1]" in text


def test_dense_bias_gradient_is_written_out(tmp_path):
    # Two samples x = (1, 2) and (3, -1) through y = I x + 0 with sse against 0:
    # dL/dy = 2y = (2, 4) and (6, -2), so dL/db = the sum over the samples = (8, 2), a number
    # that is no dL/dy entry: solve, explain and the web page must each write it.
    problem = tmp_path / "p.yaml"
    problem.write_text("input: '1 2; 3 -1'\nbatch: true\n"
                       "layers:\n  - dense: {weights: '1 0; 0 1', bias: [0, 0]}\n"
                       "target: '0 0; 0 0'\nloss: sse\n", encoding="utf-8")
    solved = run_main("solve", problem)
    assert solved.returncode == 0
    assert "dL/db1 = dL/dy[1,1] + dL/dy[2,1]\n       = 2 + 6 = 8" in solved.stdout
    assert "dL/db2 = 4 + (-2) = 2" in solved.stdout
    assert "dL/db\n" in solved.stdout or "dL/db  " in solved.stdout
    walked = run_main("explain", problem)
    assert "dL/db1 = dL/dy[1,1] + dL/dy[2,1]" in walked.stdout
    page = run_main("solve", problem, "--format", "html")
    assert 'data-term="fc1.db[1]"' in page.stdout and 'data-term="fc1.db[2]"' in page.stdout


def test_a_later_conv_layer_names_its_own_arrays_in_its_rule():
    # conv2 reads relu1 and gets dL/dY back: its dW is the correlation of relu1 with dL/dY,
    # and its dX the full convolution of dL/dY with the rotated kernel; X (the network's input)
    # and dL/dZ (the single-layer form's names) belong to no array of conv2
    text = run_main("solve", ROOT / "problems" / "network_two_conv.yaml").stdout
    weights = text.split("Backward: conv2 weights")[1].splitlines()[1]
    assert weights.endswith("(the correlation of relu1 with dL/dY).")
    inputs = text.split("Backward: conv2 input")[1].splitlines()[1]
    assert "(a full convolution of dL/dY with the kernel rotated 180 degrees)" in inputs
    first = text.split("Backward: conv1 weights")[1].splitlines()[1]
    assert first.endswith("(the correlation of X with dL/dconv1).")


def test_a_network_walkthrough_titles_each_bias_step_by_its_layer():
    # conv2's bias is in every output of conv2, whose gradient is dL/dY (conv2 is last);
    # conv1's bias sums dL/dconv1: each step names its own layer's arrays, not dL/db and dL/dZ
    from .test_explain import walkthrough

    text = walkthrough(ROOT / "problems" / "network_two_conv.yaml")
    assert "dL/dconv2.b ─" in text and "dL/dconv1.b ─" in text
    flat = " ".join(text.replace("│", " ").split())
    assert "so dL/dconv2.b is the sum of dL/dY over that filter" in flat
    assert "so dL/dconv1.b is the sum of dL/dconv1 over that filter" in flat
    page = run_main("explain", ROOT / "problems" / "network_two_conv.yaml", "--format",
                    "markdown").stdout
    assert "the sum of dL/dZ" not in page
