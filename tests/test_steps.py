"""Training steps (SPEC section 6): `steps: k` runs k rounds of forward, backward and update
on the same input and target; --json has `steps`, each round's loss (before its update) and
updated parameters, and `exact` repeats them.

Held against PyTorch's SGD(lr) in float64 for k = 2 and 3, and in exact fractions against a
hand loop of reference.py's twins.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.errors import ProblemError

from .conftest import ROOT, run_main

RNG = np.random.default_rng(31)


@pytest.mark.parametrize("k", [2, 3])
def test_single_layer_steps_match_pytorch_sgd(k):
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(2, 5, 5))
    w, b = RNG.normal(size=(3, 2, 2, 2)) * 0.5, RNG.normal(size=3)
    t = RNG.normal(size=(3, 3, 3))
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    sgd = torch.optim.SGD([tw, tb], lr=0.05)
    losses, params = [], []
    for _ in range(k):
        sgd.zero_grad()
        z = torch.nn.functional.conv2d(torch.tensor(x)[None], tw, tb, padding=1)
        y = torch.nn.functional.max_pool2d(torch.relu(z), 2)[0]
        loss = torch.nn.functional.mse_loss(y, torch.tensor(t))
        loss.backward()
        sgd.step()
        losses.append(loss.item())
        params.append((tw.detach().numpy().copy(), tb.detach().numpy().copy()))
    got = convgrad.solve({"input": x, "kernel": w, "bias": list(b), "padding": 1,
                          "activation": "relu", "pool": {"type": "max", "size": 2},
                          "target": t, "loss": "mse", "learning_rate": 0.05, "steps": k})
    assert len(got["steps"]) == k and got["steps"][0]["loss"] == got["loss"]
    for step, want_loss, (want_w, want_b) in zip(got["steps"], losses, params, strict=True):
        assert list(step) == ["loss", "W_new", "b_new"]
        np.testing.assert_allclose(step["loss"], want_loss, rtol=1e-10)
        np.testing.assert_allclose(step["W_new"], want_w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(step["b_new"], want_b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_network_steps_on_a_batch_match_pytorch_sgd(k):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    x = RNG.normal(size=(2, 1, 5, 5))
    conv, linear = nn.Conv2d(1, 2, 2).double(), nn.Linear(2 * 3 * 3, 3).double()
    written = [{"conv": {"kernel": conv.weight.detach().numpy().copy(),
                         "bias": list(conv.bias.detach().numpy())}},
               "tanh", {"avg_pool": {"size": 2, "stride": 1}}, "flatten",
               {"dense": {"weights": linear.weight.detach().numpy().copy(),
                          "bias": list(linear.bias.detach().numpy())}}]
    t = np.eye(3)[[2, 0]]
    model = nn.Sequential(conv, nn.Tanh(), nn.AvgPool2d(2, 1), nn.Flatten(), linear)
    sgd = torch.optim.SGD(model.parameters(), lr=0.5)
    rounds = []
    for _ in range(k):
        sgd.zero_grad()
        loss = nn.functional.cross_entropy(model(torch.tensor(x)), torch.tensor(t))
        loss.backward()
        sgd.step()
        rounds.append((loss.item(), [p.detach().numpy().copy() for p in model.parameters()]))
    got = convgrad.solve({"input": x, "layers": written, "target": t,
                          "loss": "cross_entropy", "learning_rate": 0.5, "steps": k})
    assert got["steps"][0]["loss"] == got["loss"]
    for step, (want_loss, (cw, cb, lw, lb)) in zip(got["steps"], rounds, strict=True):
        assert [layer["name"] for layer in step["layers"]] == ["conv1", "fc1"]
        np.testing.assert_allclose(step["loss"], want_loss, rtol=1e-10)
        conv1, fc1 = step["layers"]
        for value, want in ((conv1["W_new"], cw), (conv1["b_new"], cb), (fc1["W_new"], lw),
                            (fc1["b_new"], lb)):
            np.testing.assert_allclose(value, want, rtol=1e-10, atol=1e-12)


def _hand_loop(x, w1, b1, w2, b2, t, lr, k):
    """k rounds of conv -> relu -> flatten -> dense with mse, by reference.py's twins, one
    sample, updating w - lr·dw by hand: [(loss, (w1, b1, w2, b2) after the round)]."""
    rounds = []
    for _ in range(k):
        z = ref.conv_forward(x, w1, b1, (1, 1), (0, 0, 0, 0), (1, 1))
        a = ref.activation_forward("relu", z)
        f = ref.flatten_forward(a)
        y = ref.dense_forward(f, w2, b2)
        loss = ref.loss_forward("mse", y, t)
        dy = ref.loss_backward("mse", y, t)
        df, dw2, db2 = ref.dense_backward(f, w2, dy)
        dz = ref.activation_backward("relu", z, ref.flatten_backward(a, df))
        _, dw1, db1 = ref.conv_backward(x, w1, dz, (1, 1), (0, 0, 0, 0), (1, 1))
        w1, b1, w2, b2 = w1 - lr * dw1, b1 - lr * db1, w2 - lr * dw2, b2 - lr * db2
        rounds.append((loss, (w1, b1, w2, b2)))
    return rounds


def test_exact_steps_are_the_hand_loop_of_the_twins():
    def q(*shape):
        return np.vectorize(lambda v: Fraction(int(v), 2), otypes=[object])(
            RNG.integers(-3, 4, shape))

    x, w1, b1 = q(1, 3, 3), q(2, 1, 2, 2), q(2)
    w2, b2, t = q(2, 8), q(2), q(2)
    lr = Fraction(1, 8)
    got = convgrad.solve({"input": x, "target": t, "loss": "mse", "learning_rate": "1/8",
                          "steps": 3,
                          "layers": [{"conv": {"kernel": w1, "bias": list(b1)}}, "relu",
                                     "flatten", {"dense": {"weights": w2, "bias": list(b2)}}]})
    assert got.exact
    for step, (loss, (nw1, nb1, nw2, nb2)) in zip(got["steps"],
                                                  _hand_loop(x, w1, b1, w2, b2, t, lr, 3),
                                                  strict=True):
        assert step["loss"] == loss
        conv1, fc1 = step["layers"]
        assert conv1["W_new"].tolist() == nw1.tolist() and conv1["b_new"].tolist() == nb1.tolist()
        assert fc1["W_new"].tolist() == nw2.tolist() and fc1["b_new"].tolist() == nb2.tolist()
    doc = json.loads(got.json_text())
    assert doc["exact"]["steps"][2]["layers"][1]["name"] == "fc1"
    assert doc["exact"]["steps"][1]["loss"] == str(Fraction(got["steps"][1]["loss"]))


@pytest.mark.parametrize(("text", "words"), [
    ("grad_output: '1 1; 1 1'\nlearning_rate: 1\nsteps: 2\n", "instead of 'grad_output'"),
    ("target: '1 1; 1 1'\nsteps: 2\n", "learning_rate"),
    ("learning_rate: 1\nsteps: 2\n", "target"),
    ("target: '1 1; 1 1'\nlearning_rate: 1\nsteps: 0\n", ">= 1"),
])
def test_steps_need_a_target_a_loss_and_a_learning_rate(text, words):
    text = "input: '1 2; 3 4'\nkernel: 1\n" + text
    with pytest.raises(ProblemError) as caught:
        convgrad.solve(text)
    assert "'steps'" in str(caught.value) and words in str(caught.value)
    out = run_main("solve", "-", stdin=text)
    assert out.returncode == 2 and out.stdout == "" and "'steps'" in out.stderr


EXAMPLE = ROOT / "problems" / "steps_two_rounds.yaml"


def test_the_steps_example_is_the_hand_loop():
    """problems/steps_two_rounds.yaml: the seed's problem trained twice, lr = 1/200. Round 1
    starts from the seed's numbers (L = 23, dW = [[32, 41], [59, 68]], db = 9, SPEC 2), so
    W_new = W - dW/200 and b_new = 1 - 9/200; round 2 is the twins' loop from there."""
    got = convgrad.solve(EXAMPLE)
    first, second = got["steps"]
    assert first["loss"] == 23
    assert first["W_new"].tolist() == [[1 - Fraction(32, 200), -Fraction(41, 200)],
                                       [-1 - Fraction(59, 200), 1 - Fraction(68, 200)]]
    assert first["b_new"] == Fraction(191, 200)
    x = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], dtype=object)
    w = first["W_new"].reshape(1, 1, 2, 2)
    z = ref.conv_forward(x, w, np.array([first["b_new"]], dtype=object), (1, 1),
                         (0, 0, 0, 0), (1, 1))
    t = np.array([[[1, 0], [0, 1]]], dtype=object)
    assert second["loss"] == ref.loss_forward("mse", z, t)
    _, dw, db = ref.conv_backward(x, w, ref.loss_backward("mse", z, t), (1, 1), (0, 0, 0, 0),
                                  (1, 1))
    assert second["W_new"].tolist() == (w - Fraction(1, 200) * dw).reshape(2, 2).tolist()
    assert second["b_new"] == first["b_new"] - Fraction(1, 200) * db[0]
    assert second["loss"] < first["loss"]  # this learning rate is small enough to descend


def test_check_keys_name_a_step():
    """steps[2].loss, steps[2].W_new[1,2] as solve --json gives them."""
    doc = json.loads(run_main("solve", str(EXAMPLE), "--json").stdout)
    second = doc["exact"]["steps"][1]
    answers = (f"steps[2].loss: '{second['loss']}'\n"
               f"steps[2].W_new[1,2]: '{second['W_new'][0][1]}'\n"
               f"steps[1].b_new: 0.955\n")
    out = run_main("check", str(EXAMPLE), "-", stdin=answers)
    assert out.returncode == 0, out
    out = run_main("check", str(EXAMPLE), "-", stdin="steps[2].loss: 23\n")
    assert out.returncode == 1
    out = run_main("check", str(EXAMPLE), "-", stdin="steps[3].loss: 23\n")
    assert out.returncode == 2  # there is no third step


def test_solve_shows_each_step():
    text = run_main("solve", str(EXAMPLE)).stdout
    assert "Training steps" in text and "steps[1].loss = 23" in text
    assert "steps[2].W_new" in text and "steps[2].b_new" in text
    # the sentence under the rule is one line, as every sentence of solve is in a file or pipe
    assert "Each step: a forward and backward pass on the same input and target, its loss " \
           "(before its update), then the updated parameters.\n" in text


def test_solve_in_chinese_says_the_steps_in_chinese():
    text = run_main("solve", str(EXAMPLE), "--lang", "zh").stdout
    assert "训练步骤" in text and "每一步：" in text
    assert "Training steps" not in text and "Each step" not in text
    # round 2 from W_new = [[21/25, -41/200], [-259/200, 33/50]], b_new = 191/200 (by hand)
    assert "steps[2].loss = 49601/40000" in text


@pytest.mark.parametrize("steps", [10**9, 10**6])
def test_a_huge_number_of_steps_is_refused_before_any_round_runs(steps):
    # each round is worked and reported: a billion rounds ran for ever, its memory growing
    # with each round's parameters; the reader refuses it from the count alone
    from convgrad.reader import load_problem

    text = ("input: '1 2 3; 4 5 6; 7 8 9'\nkernel: '1 0; -1 1'\ntarget: '1 0; 0 1'\n"
            f"loss: mse\nlearning_rate: 1/200\nsteps: {steps}\n")
    with pytest.raises(ProblemError) as caught:
        load_problem(text)
    message = str(caught.value)
    assert "line 6: 'steps'" in message and f"{steps:,}" in message and "10,000" in message
    out = run_main("solve", "-", "--json", stdin=text)
    assert out.returncode == 2 and out.stdout == "" and out.stderr.count("\n") == 1


def test_many_steps_of_a_large_network_are_refused_by_their_memory():
    # 10,000 rounds, each reporting a 300x300 dense layer's 90,300 updated parameters:
    # 903 million values, gigabytes of results
    from convgrad.reader import load_problem

    problem = {"input": np.zeros(300), "layers": [{"dense": {"weights": np.zeros((300, 300)),
                                                            "bias": 0}}],
               "target": np.zeros(300), "loss": "mse", "learning_rate": 1, "steps": 10_000}
    with pytest.raises(ProblemError) as caught:
        load_problem(problem)
    assert "'steps'" in str(caught.value) and "memory" in str(caught.value)
    problem["steps"] = 2
    assert load_problem(problem).steps == 2


def test_many_exact_rounds_are_float64_unless_asked_for():
    # the seed example trained 300 times with lr = 1/200: each round's fractions have more
    # digits than the last (2,000 rounds took 15 s); automatic arithmetic is float64 then,
    # with a note, and --exact still gives fractions
    text = ("input: '1 2 3; 4 5 6; 7 8 9'\nkernel: '1 0; -1 1'\nbias: 1\ntarget: '1 0; 0 1'\n"
            "loss: mse\nlearning_rate: 1/200\nsteps: {}\n")
    many = convgrad.solve(text.format(300))
    assert isinstance(many["loss"], float) and many["loss"] == 23.0   # SPEC 2's L
    assert isinstance(convgrad.solve(text.format(300), exact=True)["loss"], int)
    few = convgrad.solve(text.format(2))
    assert few["steps"][1]["loss"] == Fraction(few["steps"][1]["loss"]) and \
        not isinstance(few["loss"], float)
    out = run_main("solve", "-", "--json", stdin=text.format(300))
    assert out.returncode == 0 and "training round" in out.stderr and '"exact"' not in out.stdout
