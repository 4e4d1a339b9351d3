"""The softmax layer (SPEC section 6): read, computed, checked against its naive twin and
central differences, and written out by solve, explain and --json."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import convgrad
from convgrad import reference as ref
from convgrad.cli import app
from convgrad.engine import run
from convgrad.explain import Walkthrough
from convgrad.reader import load_problem
from convgrad.render.terminal import print_solution

RNG = np.random.default_rng(6)
runner = CliRunner()


# --- the naive twin ----------------------------------------------------------------------


def test_reference_softmax_by_hand():
    # e^0 : e^(ln 3) = 1 : 3
    y = ref.softmax_forward(np.array([0.0, math.log(3)]), "all")
    np.testing.assert_allclose(y, [0.25, 0.75], rtol=1e-15)
    # dim channels: each position on its own, over the two channels
    x = np.array([[[0.0, 5.0]], [[math.log(3), 5.0]]])
    np.testing.assert_allclose(ref.softmax_forward(x, "channels"),
                               [[[0.25, 0.5]], [[0.75, 0.5]]], rtol=1e-15)
    # all: one group of four; a constant shift changes nothing
    np.testing.assert_allclose(ref.softmax_forward(x, "all"), ref.softmax_forward(x + 7, "all"))
    assert ref.softmax_forward(x, "all").sum() == pytest.approx(1)


@pytest.mark.parametrize("dim, shape", [("channels", (3, 2, 2)), ("all", (3, 2, 2)),
                                        ("all", (5,))])
def test_reference_softmax_backward_vs_numerical(dim, shape):
    x, c = RNG.normal(size=shape), RNG.normal(size=shape)
    dx = ref.softmax_backward(x, c, dim)  # L = sum c * softmax(x), so dL/dy = c
    numerical = ref.numerical_gradient(lambda v: float((c * ref.softmax_forward(v, dim)).sum()),
                                       x)
    np.testing.assert_allclose(dx, numerical, rtol=1e-6, atol=1e-9)


def test_reference_softmax_refuses_what_it_cannot_do():
    with pytest.raises(ValueError):
        ref.softmax_forward(np.zeros(3), "channels")
    with pytest.raises(ValueError):
        ref.softmax_forward(np.zeros((2, 2, 2)), "rows")


# --- the engine against the twin, layer by layer -----------------------------------------


def _problem(dim_maps: str | None, dense_softmax: bool, loss: str = "mse") -> dict:
    """conv -> softmax (maps) -> flatten -> dense [-> softmax (vector)]."""
    x = RNG.normal(size=(2, 4, 4))
    w = RNG.normal(size=(3, 2, 2, 2))
    d = RNG.normal(size=(2, 27))
    softmax: object = "softmax" if dim_maps is None else {"softmax": {"dim": dim_maps}}
    layers = [{"conv": {"kernel": w, "bias": list(RNG.normal(size=3))}}, softmax, "flatten",
              {"dense": {"weights": d, "bias": list(RNG.normal(size=2))}}]
    if dense_softmax:
        layers.append("softmax")
    return {"input": x, "layers": layers, "target": [0.25, 0.75], "loss": loss,
            "learning_rate": 0.5}


def _reference(problem: dict, dim_maps: str, dense_softmax: bool) -> dict:
    x = problem["input"]
    conv, _, _, dense = problem["layers"][:4]
    w, b = conv["conv"]["kernel"], np.array(conv["conv"]["bias"])
    dw_, db_ = dense["dense"]["weights"], np.array(dense["dense"]["bias"])
    t = np.array(problem["target"])
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1))
    s = ref.softmax_forward(z, dim_maps)
    f = ref.flatten_forward(s)
    h = ref.dense_forward(f, dw_, db_)
    y = ref.softmax_forward(h, "all") if dense_softmax else h
    dy = ref.loss_backward("mse", y, t)
    dh = ref.softmax_backward(h, dy, "all") if dense_softmax else dy
    df, d_dense_w, _ = ref.dense_backward(f, dw_, dh)
    ds = ref.flatten_backward(s, df)
    dz = ref.softmax_backward(z, ds, dim_maps)
    dx, dw, db = ref.conv_backward(x, w, dz, (1, 1), (0, 0, 0, 0), (1, 1))
    return {"Y": y, "loss": ref.loss_forward("mse", y, t), "dY": dy, "dX": dx,
            "outputs": [z, s, f, h] + ([y] if dense_softmax else []),
            "d_outputs": [dz, ds, df, dh] + ([dy] if dense_softmax else []),
            "conv1.dW": dw, "conv1.db": db, "fc1.dW": d_dense_w}


@pytest.mark.parametrize("dim_maps", [None, "channels", "all"])
@pytest.mark.parametrize("dense_softmax", [False, True])
def test_engine_matches_reference_layer_by_layer(dim_maps, dense_softmax):
    problem = _problem(dim_maps, dense_softmax)
    got = convgrad.solve(problem)
    want = _reference(problem, dim_maps or "channels", dense_softmax)

    def close(a, b, what):
        np.testing.assert_allclose(np.asarray(a, dtype=float), b, rtol=1e-9, atol=1e-12,
                                   err_msg=what)

    for key in ("Y", "dY", "dX", "loss"):
        close(got[key], want[key], key)
    layers = got["layers"]
    assert [layer["name"] for layer in layers] == ["conv1", "softmax1", "flatten1", "fc1"] + (
        ["softmax2"] if dense_softmax else [])
    assert layers[1]["type"] == "softmax"
    for layer, out, d_out in zip(layers, want["outputs"], want["d_outputs"], strict=True):
        close(layer["output"], out, f"{layer['name']}.output")
        close(layer["d_output"], d_out, f"{layer['name']}.d_output")
    close(layers[0]["dW"], want["conv1.dW"], "conv1.dW")
    close(layers[0]["db"], want["conv1.db"], "conv1.db")
    close(layers[3]["dW"], want["fc1.dW"], "fc1.dW")
    # A softmax has no parameters: nothing but its output and gradient is reported.
    assert set(layers[1]) == {"name", "type", "output", "d_output"}
    # dim channels: every position's channels sum to 1; dim all: every value together.
    sums = np.asarray(layers[1]["output"]).sum(axis=None if dim_maps == "all" else 0)
    np.testing.assert_allclose(sums, 1)


def test_gradients_match_central_differences():
    problem = _problem("channels", True)
    got = convgrad.solve(problem)

    def loss_at(key, index):
        def f(value):
            p = dict(problem)
            if key == "input":
                p["input"] = value
            else:
                layers = [dict(layer) if isinstance(layer, dict) else layer
                          for layer in problem["layers"]]
                layers[0] = {"conv": {**problem["layers"][0]["conv"], "kernel": value}}
                p["layers"] = layers
            return convgrad.solve(p)["loss"]
        return f

    dx = ref.numerical_gradient(loss_at("input", None), problem["input"])
    np.testing.assert_allclose(got["dX"], dx, rtol=1e-5, atol=1e-8)
    dw = ref.numerical_gradient(loss_at("kernel", None), problem["layers"][0]["conv"]["kernel"])
    np.testing.assert_allclose(got["layers"][0]["dW"], dw, rtol=1e-5, atol=1e-8)


def test_matches_pytorch():
    """As PyTorch float64 autograd: Softmax(dim=1) on 1 x C x H x W maps and on 1 x M vectors."""
    torch = pytest.importorskip("torch")
    problem = _problem("channels", True)
    got = convgrad.solve(problem)
    conv, _, _, dense, _ = problem["layers"]
    x = torch.tensor(problem["input"][None], requires_grad=True)
    w = torch.tensor(conv["conv"]["kernel"], requires_grad=True)
    b = torch.tensor(np.array(conv["conv"]["bias"]))
    h = torch.softmax(torch.nn.functional.conv2d(x, w, b), dim=1).flatten(1)
    h = torch.nn.functional.linear(h, torch.tensor(dense["dense"]["weights"]),
                                   torch.tensor(np.array(dense["dense"]["bias"])))
    y = torch.softmax(h, dim=1)
    loss = torch.nn.functional.mse_loss(y, torch.tensor([problem["target"]]))
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad[0].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["layers"][0]["dW"], w.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_large_inputs_do_not_overflow():
    got = convgrad.solve({"input": [1000.0, 0.0, -1000.0], "layers": ["softmax"],
                          "grad_output": [1, 0, 0]})
    np.testing.assert_allclose(got["Y"], [1, 0, 0])
    assert np.isfinite(got["dX"]).all()


# --- reading it ----------------------------------------------------------------------------


def test_names_types_and_defaults():
    problem = load_problem({"input": "1 2; 3 4", "layers": [
        "relu", "softmax", "flatten", {"softmax": {"dim": "all"}}, "softmax"],
        "grad_output": [1, 0, 0, 0]})
    assert [layer.name for layer in problem.layers] == [
        "relu1", "softmax1", "flatten1", "softmax2", "softmax3"]
    assert [layer.op.dim for layer in problem.layers if layer.type == "softmax"] == [
        "channels", "all", "all"]


@pytest.mark.parametrize("layer, words", [
    ({"softmax": {"dim": "channels"}}, ["dim", "vector", "dim: all"]),
    ({"softmax": {"dim": "rows"}}, ["dim", "'rows' is not a softmax dim"]),
    ({"softmax": {"axis": 1}}, ["axis", "not a known key", "dim"]),
    ("softmx", ["did you mean 'softmax'"]),
])
def test_bad_softmax_layers_say_what_is_wrong(layer, words):
    with pytest.raises(convgrad.ProblemError) as error:
        convgrad.solve({"input": [1, 2], "layers": [layer], "grad_output": [1, 0]})
    for word in words:
        assert word in str(error.value)


def test_softmax_is_not_rational():
    problem = {"input": "1 2; 3 4", "layers": ["softmax"], "target": "0 1; 1 0"}
    assert isinstance(convgrad.solve(problem)["loss"], float)  # float64 chosen by itself
    with pytest.raises(convgrad.ProblemError, match="softmax is not; use float64") as caught:
        convgrad.solve(problem, exact=True)
    assert caught.value.arithmetic == "float64"


# --- written out ---------------------------------------------------------------------------


TEXT = """\
input: "1 0 2; 0 1 1; 2 1 0"
layers:
  - conv: {kernel: ["1 -1; 0 1", "0 1; 1 0"], bias: [0, "1/2"]}
  - softmax
  - flatten
  - dense: {weights: "1 0 -1 0 1 0 -1 0; 0 1 0 -1 0 1 0 -1", bias: [0, 1]}
  - softmax
target: [0, 1]
loss: mse
"""


def test_solve_writes_out_every_term():
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, highlight=False)
    print_solution(run(load_problem(TEXT)), terms="auto", console=console)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert ("softmax1: softmax (dim: channels), 4 group(s) of 2 values, each summing to 1: "
            "2 x 2 x 2 -> 2 x 2 x 2") in lines
    # e^2 / (e^2 + e^0.5) = 0.817574
    assert "softmax1[1,1,1] = softmax(conv1[1,1,1], conv1[2,1,1])_1" in lines
    assert "                = softmax(2, 0.5)_1 = 0.817574" in lines
    assert "softmax1[2,1,1] = softmax(2, 0.5)_2 = 0.182426" in lines
    assert "y1 = softmax(fc1[1], fc1[2])_1" in lines
    assert "   = softmax(0, 1)_1 = 0.268941" in lines
    # dL/dfc1[1] = dL/dy1·y1(1 - y1) + dL/dy2·(-y2·y1), y = (0.268941, 0.731059)
    assert "dL/dfc1[1] = dL/dy1·∂y1/∂fc1[1] + dL/dy2·∂y2/∂fc1[1]" in lines
    assert "           = 0.268941·0.196612 + (-0.268941)·(-0.196612) = 0.105754" in lines


@pytest.mark.parametrize("args", [["solve"], ["solve", "--terms", "all"], ["explain"],
                                  ["explain", "--all"], ["explain", "--lang", "zh"]])
def test_solve_and_explain_render_it(tmp_path: Path, args):
    path = tmp_path / "softmax.yaml"
    path.write_text(TEXT, encoding="utf-8")
    result = runner.invoke(app, [*args, str(path)])
    assert result.exit_code == 0, result.output
    assert "softmax1" in result.stdout and "softmax2" in result.stdout


def test_explain_highlights_the_group_and_the_gradients_it_sums():
    out = io.StringIO()
    console = Console(file=out, width=120, color_system=None, highlight=False)
    Walkthrough(run(load_problem(TEXT)), console).show()
    text = out.getvalue()
    assert "Forward: softmax1" in text and "Backward: softmax2" in text
    assert "[ ] marks the cells this number is made of" in text


def test_json_and_check_keys(tmp_path: Path):
    path = tmp_path / "softmax.yaml"
    path.write_text(TEXT, encoding="utf-8")
    doc = json.loads(runner.invoke(app, ["solve", str(path), "--json"]).stdout)
    names = [layer["name"] for layer in doc["layers"]]
    assert names == ["conv1", "softmax1", "flatten1", "fc1", "softmax2"]
    assert "exact" not in doc
    y = doc["layers"][1]["output"]
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"softmax1.output: {json.dumps(y)}\nsoftmax2.d_output[1]: "
                       f"{doc['layers'][4]['d_output'][0]}\n", encoding="utf-8")
    result = runner.invoke(app, ["check", str(path), str(answers)])
    assert result.exit_code == 0, result.output


# --- log_softmax: the same groups, the log of the probabilities ------------------------------


def test_reference_log_softmax_by_hand():
    # log(1/4), log(3/4) for e^0 : e^(ln 3)
    y = ref.log_softmax_forward(np.array([0.0, math.log(3)]), "all")
    np.testing.assert_allclose(y, [math.log(0.25), math.log(0.75)], rtol=1e-15)
    x = np.array([[[0.0, 5.0]], [[math.log(3), 5.0]]])
    np.testing.assert_allclose(ref.log_softmax_forward(x, "channels"),
                               np.log(ref.softmax_forward(x, "channels")), rtol=1e-14)
    # the sum over a group of dL/dx is 0 when dL/dy is (1, 0): 1 - p1 - p2 = 0
    np.testing.assert_allclose(ref.log_softmax_backward(np.array([0.0, math.log(3)]),
                                                        np.array([1.0, 0.0]), "all"),
                               [0.75, -0.75], rtol=1e-15)


@pytest.mark.parametrize("dim, shape", [("channels", (3, 2, 2)), ("all", (3, 2, 2)),
                                        ("all", (5,))])
def test_reference_log_softmax_backward_vs_numerical(dim, shape):
    x, c = RNG.normal(size=shape), RNG.normal(size=shape)
    dx = ref.log_softmax_backward(x, c, dim)
    numerical = ref.numerical_gradient(
        lambda v: float((c * ref.log_softmax_forward(v, dim)).sum()), x)
    np.testing.assert_allclose(dx, numerical, rtol=1e-6, atol=1e-9)


def _log_problem(dim_maps: str) -> dict:
    """conv -> log_softmax (maps) -> flatten -> dense -> log_softmax (vector), mse."""
    problem = _problem(dim_maps, True)
    problem["layers"][1] = {"log_softmax": {"dim": dim_maps}}
    problem["layers"][4] = "log_softmax"
    problem["target"] = [-1.5, -0.25]
    return problem


@pytest.mark.parametrize("dim_maps", ["channels", "all"])
def test_log_softmax_engine_matches_reference_layer_by_layer(dim_maps):
    problem = _log_problem(dim_maps)
    got = convgrad.solve(problem)
    x = problem["input"]
    conv, _, _, dense, _ = problem["layers"]
    w, b = conv["conv"]["kernel"], np.array(conv["conv"]["bias"])
    dw_, db_ = dense["dense"]["weights"], np.array(dense["dense"]["bias"])
    t = np.array(problem["target"])
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1))
    s = ref.log_softmax_forward(z, dim_maps)
    h = ref.dense_forward(ref.flatten_forward(s), dw_, db_)
    y = ref.log_softmax_forward(h, "all")
    dy = ref.loss_backward("mse", y, t)
    dh = ref.log_softmax_backward(h, dy, "all")
    df, _, _ = ref.dense_backward(ref.flatten_forward(s), dw_, dh)
    dz = ref.log_softmax_backward(z, ref.flatten_backward(s, df), dim_maps)
    dx, dw, _ = ref.conv_backward(x, w, dz, (1, 1), (0, 0, 0, 0), (1, 1))
    assert [layer["name"] for layer in got["layers"]] == [
        "conv1", "log_softmax1", "flatten1", "fc1", "log_softmax2"]
    assert got["layers"][1]["type"] == "log_softmax"
    np.testing.assert_allclose(got["layers"][1]["output"], s, rtol=1e-12)
    np.testing.assert_allclose(got["Y"], y, rtol=1e-12)
    np.testing.assert_allclose(got["dX"], dx, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["layers"][0]["dW"], dw, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["layers"][1]["d_output"], ref.flatten_backward(s, df),
                               rtol=1e-9, atol=1e-12)


def test_log_softmax_gradients_match_central_differences():
    problem = _log_problem("channels")
    got = convgrad.solve(problem)
    numerical = ref.numerical_gradient(
        lambda v: convgrad.solve({**problem, "input": v})["loss"], problem["input"])
    np.testing.assert_allclose(got["dX"], numerical, rtol=1e-5, atol=1e-8)


def test_log_softmax_matches_pytorch():
    """As PyTorch float64 autograd: LogSoftmax(dim=1) on 1 x C x H x W maps and 1 x M vectors."""
    torch = pytest.importorskip("torch")
    problem = _log_problem("channels")
    got = convgrad.solve(problem)
    conv, _, _, dense, _ = problem["layers"]
    x = torch.tensor(problem["input"][None], requires_grad=True)
    w = torch.tensor(conv["conv"]["kernel"], requires_grad=True)
    b = torch.tensor(np.array(conv["conv"]["bias"]))
    s = torch.nn.LogSoftmax(dim=1)(torch.nn.functional.conv2d(x, w, b))
    s.retain_grad()
    h = torch.nn.functional.linear(s.flatten(1), torch.tensor(dense["dense"]["weights"]),
                                   torch.tensor(np.array(dense["dense"]["bias"])))
    y = torch.nn.LogSoftmax(dim=1)(h)
    loss = torch.nn.functional.mse_loss(y, torch.tensor([problem["target"]]))
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["Y"], y[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["layers"][1]["output"], s[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["layers"][1]["d_output"], s.grad[0].numpy(), rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad[0].numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["layers"][0]["dW"], w.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_log_softmax_of_large_inputs_is_finite():
    got = convgrad.solve({"input": [1000.0, 0.0, -1000.0], "layers": ["log_softmax"],
                          "grad_output": [1, 0, 0]})
    np.testing.assert_allclose(got["Y"], [0.0, -1000.0, -2000.0])
    np.testing.assert_allclose(got["dX"], [0.0, 0.0, 0.0], atol=1e-300)


def test_log_softmax_names_errors_and_arithmetic():
    problem = load_problem({"input": "1 2; 3 4", "layers": [
        "log_softmax", "softmax", "flatten", "log_softmax"], "grad_output": [1, 0, 0, 0]})
    assert [layer.name for layer in problem.layers] == [
        "log_softmax1", "softmax1", "flatten1", "log_softmax2"]
    assert [getattr(layer.op, "dim", None) for layer in problem.layers] == [
        "channels", "channels", None, "all"]
    with pytest.raises(convgrad.ProblemError, match="'rows' is not a log_softmax dim"):
        convgrad.solve({"input": [1, 2], "layers": [{"log_softmax": {"dim": "rows"}}],
                        "grad_output": [1, 0]})
    with pytest.raises(convgrad.ProblemError, match="log_softmax is not; use float64"):
        convgrad.solve({"input": "1 2; 3 4", "layers": ["log_softmax"], "target": "0 1; 1 0"},
                       exact=True)


LOG_TEXT = TEXT.replace("  - softmax\n  - flatten", "  - log_softmax\n  - flatten").replace(
    "  - softmax\ntarget: [0, 1]", "  - log_softmax\ntarget: [-2, -0.5]")


def test_log_softmax_solve_writes_out_every_term():
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, highlight=False)
    print_solution(run(load_problem(LOG_TEXT)), terms="auto", console=console)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    assert ("log_softmax1: log_softmax (dim: channels), 4 group(s) of 2 values: "
            "2 x 2 x 2 -> 2 x 2 x 2") in lines
    # 2 - log(e^2 + e^0.5) = -0.201413
    assert "log_softmax1[1,1,1] = log_softmax(conv1[1,1,1], conv1[2,1,1])_1" in lines
    assert "                    = log_softmax(2, 0.5)_1 = -0.201413" in lines


@pytest.mark.parametrize("args", [["solve"], ["solve", "--terms", "all"], ["explain"],
                                  ["explain", "--all"], ["explain", "--lang", "zh"]])
def test_log_softmax_solve_and_explain_render_it(tmp_path: Path, args):
    path = tmp_path / "log_softmax.yaml"
    path.write_text(LOG_TEXT, encoding="utf-8")
    result = runner.invoke(app, [*args, str(path)])
    assert result.exit_code == 0, result.output
    assert "log_softmax1" in result.stdout and "log_softmax2" in result.stdout


def test_log_softmax_check_keys(tmp_path: Path):
    path = tmp_path / "log_softmax.yaml"
    path.write_text(LOG_TEXT, encoding="utf-8")
    doc = json.loads(runner.invoke(app, ["solve", str(path), "--json"]).stdout)
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"log_softmax2.output: {json.dumps(doc['Y'])}\n"
                       f"log_softmax1.d_output[1,1,1]: {doc['layers'][1]['d_output'][0][0][0]}\n",
                       encoding="utf-8")
    result = runner.invoke(app, ["check", str(path), str(answers)])
    assert result.exit_code == 0, result.output
    answers.write_text(f"log_softmax2.output: {json.dumps([v + 0.1 for v in doc['Y']])}\n",
                       encoding="utf-8")
    assert runner.invoke(app, ["check", str(path), str(answers)]).exit_code == 1
