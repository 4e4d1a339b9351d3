"""The distribution losses of SPEC section 6: nll, cross_entropy_probs, and `over: channels`
for them and for cross_entropy. Held against the naive twins in reference.py, central
differences and PyTorch float64 (NLLLoss, CrossEntropyLoss on N x C x H x W), read with
their errors, and written out by solve, explain and check."""

from __future__ import annotations

import io
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import convgrad
from convgrad import reference as ref
from convgrad.cli import main
from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.terminal import print_solution

RNG = np.random.default_rng(61)
ROOT = Path(__file__).resolve().parent.parent


def _one_hot(classes: np.ndarray, C: int, axis: int = 1) -> np.ndarray:
    """Class indices (N, ...) -> one-hot targets with the class axis at `axis`."""
    return np.moveaxis(np.eye(C)[classes], -1, axis)


def _soft(shape: tuple[int, ...], axis: int) -> np.ndarray:
    """A random distribution along `axis` at every other index."""
    w = RNG.uniform(0.1, 1.0, size=shape)
    return w / w.sum(axis=axis, keepdims=True)


# --- the naive twins by hand -----------------------------------------------------------------


def test_reference_nll_and_probs_by_hand():
    y = np.array([[math.log(0.25), math.log(0.75)], [math.log(0.5), math.log(0.5)]])
    t = np.array([[0.0, 1.0], [1.0, 0.0]])
    # -(ln 0.75 + ln 0.5)/2
    assert ref.distribution_loss_forward("nll", y, t) == pytest.approx(
        -(math.log(0.75) + math.log(0.5)) / 2, rel=1e-15)
    np.testing.assert_allclose(ref.distribution_loss_backward("nll", y, t), -t / 2)
    p = np.exp(y)
    assert ref.distribution_loss_forward("cross_entropy_probs", p, t) == pytest.approx(
        -(math.log(0.75) + math.log(0.5)) / 2, rel=1e-15)
    np.testing.assert_allclose(ref.distribution_loss_backward("cross_entropy_probs", p, t),
                               [[0, -1 / (0.75 * 2)], [-1 / (0.5 * 2), 0]])
    # exact: nll is rational
    ye = np.array([[Fraction(-1, 3), Fraction(-2)]], dtype=object)
    te = np.array([[Fraction(1, 4), Fraction(3, 4)]], dtype=object)
    assert ref.distribution_loss_forward("nll", ye, te) == Fraction(1, 12) + Fraction(3, 2)


def test_reference_cross_entropy_over_all_is_the_batch_twin():
    y, t = RNG.normal(size=(3, 4)), _soft((3, 4), 1)
    assert ref.distribution_loss_forward("cross_entropy", y, t) == pytest.approx(
        ref.batch_loss_forward("cross_entropy", y, t), rel=1e-14)
    np.testing.assert_allclose(ref.distribution_loss_backward("cross_entropy", y, t),
                               ref.batch_loss_backward("cross_entropy", y, t), rtol=1e-13)


@pytest.mark.parametrize("name", ["cross_entropy", "nll", "cross_entropy_probs"])
@pytest.mark.parametrize("over, shape", [("all", (2, 5)), ("all", (2, 3, 2, 2)),
                                         ("channels", (2, 3, 2, 2)), ("channels", (1, 4, 3))])
def test_reference_backward_vs_numerical(name, over, shape):
    axis = 1 if over == "channels" else None
    y = RNG.uniform(0.1, 0.9, size=shape) if name == "cross_entropy_probs" else \
        RNG.normal(size=shape)
    t = _soft(shape, 1) if axis == 1 else _soft(shape, tuple(range(1, len(shape))))
    numerical = ref.numerical_gradient(
        lambda v: float(ref.distribution_loss_forward(name, v, t, over)), y)
    np.testing.assert_allclose(ref.distribution_loss_backward(name, y, t, over), numerical,
                               rtol=1e-6, atol=1e-9)


# --- the engine against the twins and PyTorch ----------------------------------------------


def _maps_problem(loss: str, over: str, N: int = 2) -> dict:
    """N x 2 x 3 x 3 maps -> 1x1 conv to 3 classes [-> softmax | log_softmax over channels]."""
    x = RNG.normal(size=(N, 2, 3, 3))
    layers: list = [{"conv": {"kernel": RNG.normal(size=(3, 2, 1, 1)),
                              "bias": list(RNG.normal(size=3))}}]
    if loss == "nll":
        layers.append({"log_softmax": {"dim": "channels" if over == "channels" else "all"}})
    if loss == "cross_entropy_probs":
        layers.append({"softmax": {"dim": "channels" if over == "channels" else "all"}})
    shape = (N, 3, 3, 3)
    t = _soft(shape, 1) if over == "channels" else _soft(shape, (1, 2, 3))
    return {"input": x, "layers": layers, "target": t,
            "loss": {"name": loss, "over": over}}


@pytest.mark.parametrize("loss", ["cross_entropy", "nll", "cross_entropy_probs"])
@pytest.mark.parametrize("over", ["all", "channels"])
def test_engine_matches_the_twins(loss, over):
    problem = _maps_problem(loss, over)
    got = convgrad.solve(problem)
    y = np.asarray(got["Y"], dtype=float)
    t = problem["target"]
    assert got["loss"] == pytest.approx(ref.distribution_loss_forward(loss, y, t, over),
                                        rel=1e-12)
    np.testing.assert_allclose(got["dY"], ref.distribution_loss_backward(loss, y, t, over),
                               rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll", "cross_entropy_probs"])
def test_gradients_match_central_differences(loss):
    problem = _maps_problem(loss, "channels", N=1)
    got = convgrad.solve(problem)
    numerical = ref.numerical_gradient(
        lambda v: convgrad.solve({**problem, "input": v})["loss"], problem["input"])
    np.testing.assert_allclose(got["dX"], numerical, rtol=1e-5, atol=1e-8)


def _torch_maps(torch, problem: dict):
    conv = problem["layers"][0]["conv"]
    x = torch.tensor(problem["input"], requires_grad=True)
    w = torch.tensor(conv["kernel"], requires_grad=True)
    z = torch.nn.functional.conv2d(x, w, torch.tensor(np.array(conv["bias"])))
    return x, w, z


@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_over_channels_is_pytorchs_on_maps(soft):
    """CrossEntropyLoss on N x C x H x W scores: class indices (N x H x W), or probabilities."""
    torch = pytest.importorskip("torch")
    problem = _maps_problem("cross_entropy", "channels")
    classes = RNG.integers(0, 3, size=(2, 3, 3))
    if not soft:
        problem["target"] = _one_hot(classes, 3)
    got = convgrad.solve(problem)
    x, w, z = _torch_maps(torch, problem)
    target = torch.tensor(problem["target"]) if soft else torch.tensor(classes)
    loss = torch.nn.CrossEntropyLoss()(z, target)
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(got["layers"][0]["dW"], w.grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("over", ["all", "channels"])
def test_nll_is_pytorchs_nllloss(over):
    """log_softmax then nll: NLLLoss on N x C log-probabilities (over all, the maps flattened
    per sample) or on N x C x H x W (over channels), with class indices."""
    torch = pytest.importorskip("torch")
    problem = _maps_problem("nll", over)
    if over == "channels":
        classes = RNG.integers(0, 3, size=(2, 3, 3))
        problem["target"] = _one_hot(classes, 3)
    else:
        classes = RNG.integers(0, 27, size=2)
        problem["target"] = np.eye(27)[classes].reshape(2, 3, 3, 3)
    got = convgrad.solve(problem)
    x, w, z = _torch_maps(torch, problem)
    if over == "channels":
        logp = torch.log_softmax(z, dim=1)
        loss = torch.nn.NLLLoss()(logp, torch.tensor(classes))
    else:
        logp = torch.log_softmax(z.flatten(1), dim=1)
        loss = torch.nn.NLLLoss()(logp, torch.tensor(classes))
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(got["layers"][0]["dW"], w.grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("over", ["all", "channels"])
def test_cross_entropy_probs_is_minus_t_ln_y_averaged(over):
    """softmax then cross_entropy_probs: -Σ t·ln y per group, the mean over the groups, in
    PyTorch's autograd."""
    torch = pytest.importorskip("torch")
    problem = _maps_problem("cross_entropy_probs", over)
    got = convgrad.solve(problem)
    x, w, z = _torch_maps(torch, problem)
    t = torch.tensor(problem["target"])
    if over == "channels":
        y = torch.softmax(z, dim=1)
        loss = -(t * torch.log(y)).sum(dim=1).mean()
    else:
        y = torch.softmax(z.flatten(1), dim=1).reshape(z.shape)
        loss = -(t * torch.log(y)).sum(dim=(1, 2, 3)).mean()
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_nll_is_exact_and_log_softmax_then_nll_is_cross_entropy():
    # exact: nll of given log-probabilities stays a fraction
    exact = convgrad.solve({"input": [["-1/2", "-3/2"], ["-1", "-1/4"]], "batch": True,
                            "layers": ["relu"], "target": [[1, 0], ["1/2", "1/2"]],
                            "loss": "nll"})
    # relu(-x) = 0 everywhere: L = -(1·0 + ...)/2 = 0, dL/dy = -t/2
    assert exact["loss"] == 0
    assert exact["dY"].tolist() == [[Fraction(-1, 2), 0], [Fraction(-1, 4), Fraction(-1, 4)]]
    # problems/log_softmax_nll.yaml: the same numbers as cross_entropy on the dense output
    path = ROOT / "problems" / "log_softmax_nll.yaml"
    nll = convgrad.solve(path)
    text = path.read_text(encoding="utf-8").replace("  - log_softmax\n", "").replace(
        "loss: nll", "loss: cross_entropy")
    ce = convgrad.solve(text)
    assert nll["loss"] == pytest.approx(ce["loss"], rel=1e-14)
    np.testing.assert_allclose(nll["layers"][0]["dW"], ce["dW"] if "dW" in ce else
                               ce["layers"][0]["dW"], rtol=1e-12)


def test_the_segmentation_example_is_pytorchs():
    torch = pytest.importorskip("torch")
    path = ROOT / "problems" / "segmentation_over_channels.yaml"
    got = convgrad.solve(path)
    x = torch.tensor([[[1., 0, 2], [0, 1, 1], [2, 1, 0]], [[0., 1, 0], [1, 0, 1], [0, 1, 0]]],
                     dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[[[1.]], [[0.]]], [[[0.]], [[1.]]], [[[-1.]], [[0.5]]]],
                     dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.conv2d(x[None], w, torch.tensor([0, 0, 0.5], dtype=torch.float64))
    classes = torch.tensor([[[0, 1, 0], [1, 0, 1], [0, 1, 2]]])
    loss = torch.nn.CrossEntropyLoss()(z, classes)
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad.numpy(), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(got["dW"], w.grad.numpy(), rtol=1e-9, atol=1e-13)


# --- reading it --------------------------------------------------------------------------------


SEED = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "target": "0 0; 0 1"}


@pytest.mark.parametrize("loss, target, words", [
    ({"name": "mse", "over": "channels"}, None, ["'loss.over'", "mse has no distribution"]),
    ({"over": "channels"}, None, ["needs a 'name'"]),
    ({"name": "nll", "over": "rows"}, None, ["'rows' is not what a loss sums over"]),
    ({"name": "nll", "by": "x"}, None, ["'loss.by' is not a known key"]),
    ({"name": "nlll"}, None, ["'nlll' is not a loss", "nll"]),
    ("nll", "0 1; 1 1", ["sums to 3", "nll needs targets that sum to 1"]),
    ("cross_entropy_probs", "0 -1; 1 1", ["negative entry", "cross_entropy_probs"]),
])
def test_bad_losses_say_what_is_wrong(loss, target, words):
    problem = {**SEED, "loss": loss}
    if target is not None:
        problem["target"] = target
    with pytest.raises(convgrad.ProblemError) as error:
        convgrad.solve(problem)
    for word in words:
        assert word in str(error.value)


def test_over_channels_needs_maps_and_each_position_to_sum_to_1():
    with pytest.raises(convgrad.ProblemError, match="not maps"):
        convgrad.solve({"input": [1, 2], "batch": False, "layers": ["relu"],
                        "target": [0, 1], "loss": {"name": "cross_entropy", "over": "channels"}})
    with pytest.raises(convgrad.ProblemError,
                       match="over the channels at position 2 .row-major.; cross_entropy over"):
        convgrad.solve({"input": [["1 2"], ["3 4"]], "layers": ["relu"],
                        "target": [["1 1"], ["0 1"]],
                        "loss": {"name": "cross_entropy", "over": "channels"}})


def test_cross_entropy_probs_needs_probabilities_and_nll_warns_on_probabilities():
    with pytest.raises(convgrad.ProblemError, match="output 1 .row-major. is 0 where its "
                                                    "target is not"):
        convgrad.solve({"input": "0 1; 1 0", "layers": ["relu"], "target": "1 0; 0 0",
                        "loss": "cross_entropy_probs"})
    with pytest.raises(convgrad.ProblemError, match="is 2, not a probability.*softmax"):
        convgrad.solve({"input": "0 2; 1 0", "layers": ["relu"], "target": "0 1; 0 0",
                        "loss": "cross_entropy_probs"})
    solved = run(load_problem({"input": "0.2 0.8", "layers": ["relu"], "target": "0 1",
                               "loss": "nll"}))
    assert [n.kind for n in solved.notes] == ["nll_not_log"]
    assert "log_softmax" in str(solved.notes[0])


@pytest.mark.parametrize("exact", [False, True])
def test_the_domain_checks_name_the_first_output_outside(exact):
    # (bce and cross_entropy_probs are float64 only; nll is exact where it can be)
    # Outputs 1 and 2 are fine; 3 is the first outside, 4 is outside too.
    with pytest.raises(convgrad.ProblemError, match=r"output 3 .row-major. is 0 where its "
                                                    "target is not"):
        convgrad.solve({"input": "0.5 0.5 0 2", "layers": ["relu"], "target": "0 0 1 0",
                        "loss": "cross_entropy_probs"}, exact=False)
    with pytest.raises(convgrad.ProblemError, match=r"output 3 .row-major. is 1\.5, not a "
                                                    "probability"):
        convgrad.solve({"input": "0.5 0 1.5 2", "layers": ["relu"], "target": "1 0 0 0",
                        "loss": "cross_entropy_probs"}, exact=False)
    # bce: 0 and 1 are outside (0, 1); output 2 is the first
    with pytest.raises(convgrad.ProblemError, match=r"output 2 .row-major. is 1; add "
                                                    "activation: sigmoid"):
        convgrad.solve({"input": "1/2 1 0 1/4", "layers": ["relu"], "target": "0 1 0 1",
                        "loss": "bce"})
    solved = convgrad.solve({"input": "-1 -2 3 4", "layers": ["relu"], "target": "0 1 0 0",
                             "loss": "nll"}, exact=exact)
    assert len(solved.notes) == 1 and "output 3 (row-major) is 3;" in solved.notes[0]


def test_cross_entropy_probs_is_not_rational(capsys):
    with pytest.raises(convgrad.ProblemError, match="cross_entropy_probs is not"):
        convgrad.solve({"input": "0.5 0.5", "layers": ["relu"], "target": "0 1",
                        "loss": "cross_entropy_probs"}, exact=True)


# --- written out and checked -------------------------------------------------------------------


def _text(problem: object) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, highlight=False)
    print_solution(run(load_problem(problem)), terms="all", console=console)
    return [line.rstrip() for line in out.getvalue().splitlines()]


def test_solve_writes_the_terms_of_each_loss():
    lines = _text({"input": "-1 -2", "layers": ["relu"], "target": "1 0", "loss": "nll"})
    assert "L = -Σ t·y,  y log-probabilities" in lines
    lines = _text({"input": [["-1/2", "-3/2"], ["-1", "-1/4"]], "batch": True,
                   "layers": ["relu"], "target": [[1, 0], ["1/2", "1/2"]], "loss": "nll"})
    assert "L = -1/2·[t[1,1]·y[1,1] + t[2,1]·y[2,1] + t[2,2]·y[2,2]]" in lines
    assert "dL/dy[1,1] = -t[1,1]/2" in lines
    assert "dL/dy[2,2] = -(1/2)/2 = -1/4" in lines
    lines = _text({"input": "0.25 0.75", "layers": ["relu"], "target": "0 1",
                   "loss": "cross_entropy_probs"})
    # -ln 0.75 = 0.287682
    assert "  = -[1·ln(0.75)] = 0.287682" in lines
    assert "L = -[t2·ln(y2)]" in lines
    assert "dL/dy1 = -t1/y1" in lines and "dL/dy2 = -1/0.75 = -1.33333" in lines
    lines = _text(ROOT / "problems" / "segmentation_over_channels.yaml")
    assert any(line.startswith("L = -1/9·[t[1,1,1]·ln softmax(Y)[1,1,1] + ") for line in lines)
    assert "dL/dy[1,1,1] = (softmax(y)[1,1,1]·Σt - t[1,1,1])/9" in lines


@pytest.mark.parametrize("name", ["log_softmax_nll.yaml", "segmentation_over_channels.yaml"])
@pytest.mark.parametrize("args", [["solve"], ["explain"], ["explain", "--lang", "zh", "--all"]])
def test_the_examples_solve_and_explain(name, args, capsys):
    assert main([*args, str(ROOT / "problems" / name)]) == 0
    assert "Loss" in capsys.readouterr().out or args[-1] == "--all"


def test_check_grades_the_loss_and_its_gradient(tmp_path: Path, capsys):
    path = ROOT / "problems" / "segmentation_over_channels.yaml"
    assert main(["solve", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"loss: {doc['loss']}\ndY[1,1,1]: {doc['dY'][0][0][0]}\n",
                       encoding="utf-8")
    assert main(["check", str(path), str(answers)]) == 0
    answers.write_text(f"loss: {doc['loss'] * 9}\n", encoding="utf-8")
    assert main(["check", str(path), str(answers)]) == 1


def test_the_softmax_probabilities_example_is_pytorchs():
    """problems/softmax_cross_entropy_probs.yaml: conv, ReLU, dense, Softmax, then -Σ t·ln y,
    in PyTorch's autograd; and the same loss as cross_entropy on the dense output."""
    torch = pytest.importorskip("torch")
    path = ROOT / "problems" / "softmax_cross_entropy_probs.yaml"
    got = convgrad.solve(path)
    f64 = torch.float64
    x = torch.tensor([[[1., 2], [0, 3]]], dtype=f64, requires_grad=True)
    w = torch.tensor([[[[1., 0], [0, 1]]]], dtype=f64, requires_grad=True)
    z = torch.relu(torch.nn.functional.conv2d(x[None], w)).flatten(1)
    d = torch.tensor([[0.5], [-0.25], [0.25]], dtype=f64, requires_grad=True)
    h = torch.nn.functional.linear(z, d, torch.tensor([0.5, 0, -0.5], dtype=f64))
    y = torch.softmax(h, dim=1)
    y.retain_grad()
    loss = -(torch.tensor([[0., 0, 1]], dtype=f64) * torch.log(y)).sum()
    loss.backward()
    assert got["loss"] == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(got["Y"], y[0].detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["dY"], y.grad[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["dX"], x.grad[0].numpy(), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(got["layers"][3]["dW"], d.grad.numpy(), rtol=1e-9)
    logits = path.read_text(encoding="utf-8").replace("  - softmax\n", "").replace(
        "loss: cross_entropy_probs", "loss: cross_entropy")
    assert convgrad.solve(logits)["loss"] == pytest.approx(got["loss"], rel=1e-13)


def test_bce_is_its_formula_where_pytorch_clamps():
    """README: bce is -(1/N) Σ [t ln y + (1 - t) ln(1 - y)] all the way; PyTorch's BCELoss
    clamps each log at -100 and y(1 - y) at 1e-12 in its gradient. By hand, with y =
    sigmoid(z): L = ln(1 + e^-z) for t = 1, and dL/dz = (y - t)/N."""
    problem = {"input": [[-120.0, 30.0]], "kernel": [[1]], "activation": "sigmoid",
               "target": [[1, 1]], "loss": "bce"}
    result = convgrad.solve(problem)
    assert result["loss"] == pytest.approx((120 + math.log1p(math.exp(-30))) / 2, rel=1e-12)
    y = 1 / (1 + math.exp(-30))
    np.testing.assert_allclose(result["dX"], [[-0.5, (y - 1) / 2]], rtol=1e-2)
    np.testing.assert_allclose(result["dY"], [[-math.exp(120) / 2, -1 / (2 * y)]], rtol=1e-9)
    torch = pytest.importorskip("torch")
    z = torch.tensor([[-120.0, 30.0]], dtype=torch.float64, requires_grad=True)
    clamped = torch.nn.functional.binary_cross_entropy(torch.sigmoid(z), torch.ones(1, 2,
                                                                                  dtype=z.dtype))
    clamped.backward()
    # the difference the README states: PyTorch's L = (100 + ...)/2 and a vanished gradient
    assert clamped.item() == pytest.approx((100 + math.log1p(math.exp(-30))) / 2)
    assert abs(float(z.grad[0, 0])) < 1e-30
