"""`check --carry-forward` (SPEC section 9) in networks, batches and other conventions, and a
grid of one-slip answers files.

Every number here comes from reference.py: the forward pass and the backward pass written as
loops, one sample at a time, where the student's own value of a key (a d_output, dY, dW ...)
takes the place of the one the rules made. That is what a careful student who slipped once
writes for every key after the slip; the grader must give those keys their points, marked
carried forward, and only with --carry-forward.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import convgrad
from convgrad import reference as ref
from convgrad.engine import run as solve
from convgrad.grade import Grader
from convgrad.reader import load_problem
from convgrad.result import exact_strings, json_numbers

from .conftest import PROBLEMS, ROOT, run_main

ACTIVATION_KINDS = ("relu", "leaky_relu", "tanh", "sigmoid")


# --- the reference network: loops, one sample at a time ---------------------------------------


def _per_sample(fn: Callable[[np.ndarray], Any], h: np.ndarray) -> np.ndarray:
    return np.stack([fn(h[n]) for n in range(h.shape[0])])


def _forward(kind: str, p: dict[str, Any], h: np.ndarray) -> np.ndarray:
    """One layer on a batch h (N, ...), by reference.py."""
    if kind == "conv":
        return _per_sample(lambda x: ref.conv_forward(x, p["w"], p["b"], p.get("stride", (1, 1)),
                                                      p.get("pad", (0, 0, 0, 0)), (1, 1)), h)
    if kind in ACTIVATION_KINDS:
        return _per_sample(lambda x: ref.activation_forward(kind, x), h)
    if kind in ("max", "avg"):
        return _per_sample(lambda x: ref.pool_forward(kind, x, p["size"], p["stride"],
                                                      count_padding=p.get("count", True)), h)
    if kind == "flatten":
        return _per_sample(lambda x: ref.flatten_forward(x, p.get("order", "CHW")), h)
    if kind == "batch_norm":  # over the batch, not one sample at a time
        return ref.batch_norm_forward(h, p["gamma"], p["beta"], 1e-5, "train")
    assert kind == "dense"
    return _per_sample(lambda x: ref.dense_forward(x, p["w"], p["b"]), h)


def _backward(kind: str, p: dict[str, Any], x: np.ndarray, d: np.ndarray
              ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """dx and the parameters' gradients (summed over the samples) of one layer, given its
    batch input x and d = dL/d its output."""
    if kind in ("conv", "dense"):
        parts = [ref.conv_backward(x[n], p["w"], d[n], p.get("stride", (1, 1)),
                                   p.get("pad", (0, 0, 0, 0)), (1, 1)) if kind == "conv"
                 else ref.dense_backward(x[n], p["w"], d[n]) for n in range(x.shape[0])]
        dw, db = parts[0][1], parts[0][2]
        for part in parts[1:]:
            dw, db = dw + part[1], db + part[2]
        return np.stack([part[0] for part in parts]), {"dW": dw, "db": db}
    if kind == "batch_norm":
        dx, dgamma, dbeta = ref.batch_norm_backward(x, p["gamma"], d, 1e-5, "train")
        return dx, {"dgamma": dgamma, "dbeta": dbeta}
    if kind in ACTIVATION_KINDS:
        return np.stack([ref.activation_backward(kind, x[n], d[n])
                         for n in range(x.shape[0])]), {}
    if kind in ("max", "avg"):
        return np.stack([ref.pool_backward(kind, x[n], d[n], p["size"], p["stride"],
                                           count_padding=p.get("count", True))
                         for n in range(x.shape[0])]), {}
    assert kind == "flatten"
    return np.stack([ref.flatten_backward(x[n], d[n], p.get("order", "CHW"))
                     for n in range(x.shape[0])]), {}


@dataclass
class Net:
    """A problem written twice: as the reference's layers (batch-first NCHW arrays, weights
    F x C x kh x kw and out x in) and as the problem convgrad reads.

    names: the answer key of each reference key (conv1.dW -> dW in the single form), and
    only the keys the answers give. written: a reference value (batch-first) as the
    answers write it, given the key and the shape check expects.
    """

    problem: dict[str, Any]
    x: np.ndarray
    layers: list[tuple[str, str, dict[str, Any]]]
    target: np.ndarray
    loss: str
    names: dict[str, str]
    lr: Any = None
    written: Callable[[str, np.ndarray, tuple[int, ...]], np.ndarray] = field(
        default=lambda key, value, shape: np.asarray(value).reshape(shape))

    def values(self, own: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
        """Every reference key's value by the rules, each gradient from the student's own
        value of the key before it where `own` gives one (keys as `names` names them)."""
        own = own or {}
        by_ref = {ref_key: own[key] for ref_key, key in self.names.items() if key in own}
        inputs, h = [], self.x
        for _, kind, p in self.layers:
            inputs.append(h)
            h = _forward(kind, p, h)
        out: dict[str, Any] = {"Y": h, "loss": ref.batch_loss_forward(self.loss, h, self.target)}
        d = ref.batch_loss_backward(self.loss, h, self.target)
        for (name, kind, p), x in zip(reversed(self.layers), reversed(inputs), strict=True):
            d = by_ref.get(f"{name}.d_output", d)
            out[f"{name}.d_output"] = d
            d, grads = _backward(kind, p, x, d)
            for grad, value in grads.items():
                out[f"{name}.{grad}"] = value
                if self.lr is not None:
                    letter = grad[1:].lower()
                    own_grad = by_ref.get(f"{name}.{grad}", value)
                    out[f"{name}.{grad[1:]}_new"] = p[letter] - self.lr * own_grad
        out["dX"] = d
        return out

    def answers(self, shapes: dict[str, tuple[int, ...]], own: dict[str, np.ndarray] | None = None
                ) -> dict[str, np.ndarray]:
        values = self.values(own)
        return {key: self.written(key, values[ref_key], shapes[key])
                for ref_key, key in self.names.items()}

    def own(self, key: str, written: np.ndarray) -> dict[str, np.ndarray]:
        """A student's written value of `key` as the reference holds it (batch-first NCHW)."""
        values = self.values()
        ref_key = next(r for r, k in self.names.items() if k == key)
        full = np.asarray(values[ref_key])
        back = self.unwritten(key, written, full.shape)
        return {key: back}

    def unwritten(self, key: str, written: np.ndarray, full: tuple[int, ...]) -> np.ndarray:
        # Find the reference array whose written form is `written`: write the indices.
        index = np.arange(int(np.prod(full)), dtype=np.int64).reshape(full)
        where = np.asarray(self.written(key, index, written.shape)).reshape(-1)
        back = np.empty(int(np.prod(full)), dtype=written.dtype)
        back[where] = np.asarray(written).reshape(-1)
        return back.reshape(full)


def _numbers(rng: np.random.Generator, shape: tuple[int, ...], exact: bool) -> np.ndarray:
    """Small random numbers: quarters as Fractions (exact), or float64."""
    if exact:
        return np.vectorize(lambda v: Fraction(int(v), 4), otypes=[object])(
            rng.integers(-8, 9, shape))
    return rng.normal(size=shape)


def _text(value: np.ndarray) -> Any:
    """A value as an answers file writes it: exact fractions as 'p/q' strings."""
    arr = np.asarray(value)
    if arr.dtype == object:
        return np.vectorize(lambda v: str(Fraction(v)), otypes=[object])(arr).tolist()
    return arr.tolist()


def single_conv_relu_pool(exact: bool = True) -> Net:
    """The single-layer form: conv (2 filters, padding 1) -> relu -> max pool, mse, with a
    learning rate (W_new, b_new)."""
    rng = np.random.default_rng(11)
    x = _numbers(rng, (1, 1, 4, 4), exact)
    w = _numbers(rng, (2, 1, 2, 2), exact)
    b = _numbers(rng, (2,), exact)
    t = _numbers(rng, (1, 2, 2, 2), exact)
    lr = Fraction(1, 10)
    layers = [("conv1", "conv", {"w": w, "b": b, "pad": (1, 1, 1, 1)}),
              ("relu1", "relu", {}), ("pool1", "max", {"size": (2, 2), "stride": (2, 2)})]
    problem = {"input": _text(x[0, 0]), "kernel": _text(w[:, 0]), "bias": _text(b),
               "padding": 1, "activation": "relu", "pool": {"type": "max", "size": 2},
               "target": _text(t[0]), "loss": "mse", "learning_rate": "1/10"}
    names = {"pool1.d_output": "dY", "relu1.d_output": "dA", "conv1.d_output": "dZ",
             "conv1.dW": "dW", "conv1.db": "db", "conv1.W_new": "W_new", "conv1.b_new": "b_new",
             "dX": "dX", "Y": "Y", "loss": "loss"}
    return Net(problem, x, layers, t, "mse", names, lr)


def single_batch_avg(exact: bool = True) -> Net:
    """The single-layer form on a batch of two 2-channel images: conv -> leaky_relu -> avg
    pool, sse."""
    rng = np.random.default_rng(12)
    x = _numbers(rng, (2, 2, 4, 4), exact)
    w = _numbers(rng, (1, 2, 3, 3), exact)
    b = _numbers(rng, (1,), exact)
    t = _numbers(rng, (2, 1, 2, 2), exact)
    layers = [("conv1", "conv", {"w": w, "b": b, "pad": (1, 1, 1, 1)}),
              ("leaky_relu1", "leaky_relu", {}),
              ("pool1", "avg", {"size": (2, 2), "stride": (2, 2)})]
    problem = {"input": _text(x), "kernel": _text(w), "bias": _text(b), "padding": 1,
               "activation": "leaky_relu", "pool": {"type": "avg", "size": 2},
               "target": _text(t), "loss": "sse"}
    names = {"pool1.d_output": "dY", "leaky_relu1.d_output": "dA", "conv1.d_output": "dZ",
             "conv1.dW": "dW", "conv1.db": "db", "dX": "dX", "Y": "Y", "loss": "loss"}
    return Net(problem, x, layers, t, "sse", names)


def network_two_conv(exact: bool = True) -> Net:
    """conv (2 filters) -> relu -> conv (1 filter, stride 2) -> flatten -> dense, mse."""
    rng = np.random.default_rng(13)
    x = _numbers(rng, (1, 1, 5, 5), exact)
    w1, b1 = _numbers(rng, (2, 1, 2, 2), exact), _numbers(rng, (2,), exact)
    w2, b2 = _numbers(rng, (1, 2, 2, 2), exact), _numbers(rng, (1,), exact)
    w3, b3 = _numbers(rng, (2, 4), exact), _numbers(rng, (2,), exact)
    t = _numbers(rng, (1, 2), exact)
    layers = [("conv1", "conv", {"w": w1, "b": b1}), ("relu1", "relu", {}),
              ("conv2", "conv", {"w": w2, "b": b2, "stride": (2, 2)}),
              ("flatten1", "flatten", {}), ("fc1", "dense", {"w": w3, "b": b3})]
    problem = {"input": _text(x[0, 0]), "layers": [
        {"conv": {"kernel": _text(w1), "bias": _text(b1)}}, "relu",
        {"conv": {"kernel": _text(w2), "bias": _text(b2), "stride": 2}}, "flatten",
        {"dense": {"weights": _text(w3), "bias": _text(b3)}}],
        "target": _text(t[0]), "loss": "mse"}
    names = {"fc1.d_output": "dY", "Y": "Y", "loss": "loss", "dX": "dX"}
    for name in ("conv1", "relu1", "conv2", "flatten1"):
        names[f"{name}.d_output"] = f"{name}.d_output"
    for name in ("conv1", "conv2", "fc1"):
        names[f"{name}.dW"], names[f"{name}.db"] = f"{name}.dW", f"{name}.db"
    return Net(problem, x, layers, t, "mse", names)


def network_float_cnn() -> Net:
    """In float64: conv -> tanh -> avg pool -> flatten -> dense, cross_entropy."""
    rng = np.random.default_rng(14)
    x = rng.normal(size=(1, 2, 4, 4))
    w1, b1 = rng.normal(size=(2, 2, 2, 2)), rng.normal(size=2)
    w2, b2 = rng.normal(size=(3, 2)), rng.normal(size=3)
    t = np.array([[0.0, 1.0, 0.0]])
    layers = [("conv1", "conv", {"w": w1, "b": b1}), ("tanh1", "tanh", {}),
              ("pool1", "avg", {"size": (3, 3), "stride": (1, 1)}),
              ("flatten1", "flatten", {}), ("fc1", "dense", {"w": w2, "b": b2})]
    problem = {"input": x[0].tolist(), "layers": [
        {"conv": {"kernel": w1.tolist(), "bias": b1.tolist()}}, "tanh",
        {"avg_pool": {"size": 3, "stride": 1}}, "flatten",
        {"dense": {"weights": w2.tolist(), "bias": b2.tolist()}}],
        "target": t[0].tolist(), "loss": "cross_entropy"}
    names = {"fc1.d_output": "dY", "Y": "Y", "loss": "loss", "dX": "dX",
             "conv1.dW": "conv1.dW", "conv1.db": "conv1.db", "fc1.dW": "fc1.dW",
             "fc1.db": "fc1.db"}
    for name in ("conv1", "tanh1", "pool1", "flatten1"):
        names[f"{name}.d_output"] = f"{name}.d_output"
    return Net(problem, x, layers, t, "cross_entropy", names)


def network_batch_norm() -> Net:
    """In float64, with a learning rate: conv -> batch_norm -> relu -> flatten -> dense, mse
    (a slip in dY reaches dgamma, dbeta, gamma_new and beta_new too)."""
    rng = np.random.default_rng(16)
    x = rng.normal(size=(1, 1, 3, 3))
    w1, b1 = rng.normal(size=(2, 1, 2, 2)), rng.normal(size=2)
    gamma, beta = np.array([1.0, 2.0]), np.array([0.0, 0.5])
    w2, b2 = rng.normal(size=(2, 8)), rng.normal(size=2)
    t = rng.normal(size=(1, 2))
    layers = [("conv1", "conv", {"w": w1, "b": b1}),
              ("batch_norm1", "batch_norm", {"gamma": gamma, "beta": beta}),
              ("relu1", "relu", {}), ("flatten1", "flatten", {}),
              ("fc1", "dense", {"w": w2, "b": b2})]
    problem = {"input": x[0, 0].tolist(), "layers": [
        {"conv": {"kernel": w1[:, 0].tolist(), "bias": b1.tolist()}},
        {"batch_norm": {"gamma": gamma.tolist(), "beta": beta.tolist()}}, "relu", "flatten",
        {"dense": {"weights": w2.tolist(), "bias": b2.tolist()}}],
        "target": t[0].tolist(), "loss": "mse", "learning_rate": 0.25}
    names = {"fc1.d_output": "dY", "Y": "Y", "loss": "loss", "dX": "dX"}
    for name in ("conv1", "batch_norm1", "relu1", "flatten1"):
        names[f"{name}.d_output"] = f"{name}.d_output"
    for name, keys in (("conv1", ("dW", "db", "W_new", "b_new")),
                       ("batch_norm1", ("dgamma", "dbeta", "gamma_new", "beta_new")),
                       ("fc1", ("dW", "db"))):
        for key in keys:
            names[f"{name}.{key}"] = f"{name}.{key}"
    return Net(problem, x, layers, t, "mse", names, 0.25)


def network_tensorflow(exact: bool = True) -> Net:
    """Under the tensorflow profile with index_base 0: the input H x W x C, the kernel
    kh x kw x C x F, flatten pixel by pixel, dense weights in x out, entries numbered from
    0. conv -> relu -> avg pool -> flatten -> dense, half_sse, learning rate 1/2."""
    rng = np.random.default_rng(15)
    x = _numbers(rng, (1, 2, 3, 3), exact)
    w1, b1 = _numbers(rng, (2, 2, 2, 2), exact), _numbers(rng, (2,), exact)
    w2, b2 = _numbers(rng, (2, 2), exact), _numbers(rng, (2,), exact)  # out x in
    t = _numbers(rng, (1, 2), exact)
    layers = [("conv1", "conv", {"w": w1, "b": b1}), ("relu1", "relu", {}),
              ("pool1", "avg", {"size": (2, 2), "stride": (1, 1), "count": False}),
              ("flatten1", "flatten", {"order": "HWC"}), ("fc1", "dense", {"w": w2, "b": b2})]
    problem = {"conventions": {"profile": "tensorflow", "index_base": 0},
               "input": _text(x[0].transpose(1, 2, 0)), "layers": [
                   {"conv": {"kernel": _text(w1.transpose(2, 3, 1, 0)), "bias": _text(b1)}},
                   "relu", {"avg_pool": {"size": 2, "stride": 1}}, "flatten",
                   {"dense": {"weights": _text(w2.T), "bias": _text(b2)}}],
               "target": _text(t[0]), "loss": "half_sse", "learning_rate": "1/2"}
    names = {"fc1.d_output": "dY", "Y": "Y", "loss": "loss", "dX": "dX"}
    for name in ("conv1", "relu1", "pool1", "flatten1"):
        names[f"{name}.d_output"] = f"{name}.d_output"
    for name in ("conv1", "fc1"):
        for key in ("dW", "db", "W_new", "b_new"):
            names[f"{name}.{key}"] = f"{name}.{key}"

    def written(key: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        value = np.asarray(value)
        if key.startswith("conv1.") and key.endswith(("dW", "W_new")):
            value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        elif key.startswith("fc1.") and key.endswith(("dW", "W_new")):
            value = value.T  # out x in -> in x out
        elif value.ndim == 4:
            value = value.transpose(0, 2, 3, 1)  # NCHW -> NHWC
        if key in ("Y", "loss") or not key.endswith(("dW", "db", "W_new", "b_new")):
            value = value[0] if value.ndim else value  # one sample: no batch axis
        return value.reshape(shape)

    return Net(problem, x, layers, t, "half_sse", names, Fraction(1, 2), written)


# --- grading through the API -------------------------------------------------------------------


def _graders(net: Net) -> tuple[Any, Any]:
    solved = solve(load_problem(net.problem))
    return Grader(solved, carry_forward=True), Grader(solved)


def _differs(a: Any, b: Any) -> bool:
    """Not the same by check's default tolerance (|a - b| <= 1e-6 + 1e-6 |b|)."""
    a = np.asarray(a, dtype=object).reshape(-1)
    b = np.asarray(b, dtype=object).reshape(-1)
    return any(abs(Fraction(x) - Fraction(y)) > Fraction(1, 10**6) * (1 + abs(Fraction(y)))
               for x, y in zip(a, b, strict=True))


NETS = {"single_relu_maxpool": single_conv_relu_pool, "single_batch_avg": single_batch_avg,
        "network_two_conv": network_two_conv, "network_float": network_float_cnn,
        "network_batch_norm": network_batch_norm, "network_tensorflow": network_tensorflow}


def _slip(value: np.ndarray, position: int, exact: bool) -> np.ndarray:
    """value with one entry (flat position) off: by 1 (exact), or by 0.5 (float64)."""
    slipped = np.array(value, dtype=object if exact else np.float64, order="C")
    flat = slipped.reshape(-1)
    flat[position] = flat[position] + (1 if exact else 0.5)
    return slipped


@pytest.mark.parametrize("which", list(NETS))
def test_one_slip_grid(which: str) -> None:
    """For every graded key and its first, middle and last entry: a file right but for that
    one entry, every later key written from the slip by the rules (reference.py on the
    student's value). The slipped key loses its point; each later key that the slip changed
    is carried forward and earns its point (wrong without --carry-forward); every other key
    is plainly right."""
    net = NETS[which]()
    with_option, without = _graders(net)
    exact = with_option.solved.exact
    assert exact == (which not in ("network_float", "network_batch_norm"))
    shapes = {key: with_option.expected[key].shape for key in net.names.values()}
    right = net.answers(shapes)
    assert with_option.grade({k: _text(v) for k, v in right.items()}).all_right
    carried = 0
    for key in net.names.values():
        size = int(np.size(right[key]))
        for position in sorted({0, size // 2, size - 1}):
            slipped = _slip(right[key], position, exact)
            student = net.answers(shapes, net.own(key, slipped))
            student[key] = slipped
            answers = {k: _text(v) for k, v in student.items()}
            graded = {k.key: k for k in with_option.grade(answers).keys}
            plain = {k.key: k for k in without.grade(answers).keys}
            case = f"{which}: {key} slipped at entry {position}"
            assert graded[key].status == "wrong" and graded[key].earned == 0, case
            assert not graded[key].carried_forward, case
            for other in student:
                if other == key:
                    continue
                if _differs(student[other], right[other]):
                    carried += 1
                    assert graded[other].carried_forward, f"{case}: {other}"
                    assert graded[other].earned == graded[other].points == 1, f"{case}: {other}"
                    assert plain[other].status == "wrong", f"{case}: {other}"
                    assert plain[other].earned == 0, f"{case}: {other}"
                else:
                    assert graded[other].status == "right", f"{case}: {other}"
                    assert not graded[other].carried_forward, f"{case}: {other}"
    # A grid where no slip reached a later key would test nothing.
    assert carried >= 10, carried


# --- networks on the command line ----------------------------------------------------------------


def _files(tmp_path: Path, net: Net, answers: dict[str, Any]) -> None:
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(net.problem), encoding="utf-8")
    (tmp_path / "answers.yaml").write_text(yaml.safe_dump(answers), encoding="utf-8")


def _late_slip(net: Net) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Answers with dY[1] off by one and every later key written from it, and the right
    answers (both by reference.py)."""
    with_option, _ = _graders(net)
    shapes = {key: with_option.expected[key].shape for key in net.names.values()}
    right = net.answers(shapes)
    slipped = _slip(right["dY"], 0, True)
    student = net.answers(shapes, net.own("dY", slipped))
    student["dY"] = slipped
    return {k: _text(v) for k, v in student.items()}, right


def test_a_slip_in_the_last_gradient_carries_through_every_earlier_layer(tmp_path: Path) -> None:
    net = network_two_conv()
    answers, right = _late_slip(net)
    later = ["fc1.dW", "fc1.db", "flatten1.d_output", "conv2.d_output", "conv2.dW", "conv2.db",
             "relu1.d_output", "conv1.d_output", "conv1.dW", "conv1.db", "dX"]
    for key in later:  # each really differs from the right value (the test means something)
        assert _differs(np.asarray(answers[key], dtype=object), right[key]), key
    _files(tmp_path, net, answers)
    proc = run_main("check", "problem.yaml", "answers.yaml", "--json", "--carry-forward",
                    cwd=tmp_path)
    doc = json.loads(proc.stdout)
    keys = {k["key"]: k for k in doc["files"][0]["keys"]}
    assert proc.returncode == 1 and keys["dY"]["earned"] == 0
    assert "carried_forward" not in keys["dY"]
    for key in later:
        assert keys[key]["carried_forward"] is True and keys[key]["earned"] == 1, key
    assert "carried forward from your dY (credited):" in keys["fc1.dW"]["message"]
    assert "carried forward from your conv1.d_output (credited):" in keys["conv1.dW"]["message"]
    assert doc["files"][0]["score"] == len(keys) - 1
    text = run_main("check", "problem.yaml", "answers.yaml", "--carry-forward", cwd=tmp_path)
    lines = [line for line in text.stdout.splitlines() if "conv1.dW" in line]
    assert lines and "carried forward from your conv1.d_output" in lines[0]
    plain = json.loads(run_main("check", "problem.yaml", "answers.yaml", "--json",
                                cwd=tmp_path).stdout)
    assert plain["files"][0]["score"] == len(keys) - 1 - len(later)


def _grade(net: Net, answers: dict[str, Any], **options: Any) -> dict[str, Any]:
    grader = Grader(solve(load_problem(net.problem)), carry_forward=True, **options)
    return {k.key: k for k in grader.grade(answers).keys}


def test_the_last_layers_d_output_stands_for_dy() -> None:
    net = network_two_conv()
    answers, _ = _late_slip(net)
    answers["fc1.d_output"] = answers.pop("dY")
    keys = _grade(net, answers)
    assert keys["fc1.dW"].carried_from == "fc1.d_output"
    assert keys["dX"].carried_forward and keys["conv1.dW"].carried_forward


def test_a_source_that_is_not_graded_carries_nothing() -> None:
    # --points names the graded set: a wrong dY that costs nothing must not buy conv1.dW its
    # point (the earlier key has to lose its own).
    net = network_two_conv()
    answers, _ = _late_slip(net)
    keys = _grade(net, answers, points={"conv1.dW": 1.0})
    assert keys["dY"].status == "not graded"
    assert not keys["conv1.dW"].carried_forward and keys["conv1.dW"].earned == 0
    keys = _grade(net, answers, points={"dY": 1.0, "conv1.dW": 1.0})
    assert keys["conv1.dW"].carried_forward and keys["conv1.dW"].earned == 1


def test_graded_entries_are_a_source() -> None:
    # The graded set names dY entry by entry: the file's dY[1] (wrong) and dY[2] (right), or
    # dY[1] alone (dY[2] then counts as right), are the dY later keys follow from.
    net = network_two_conv()
    answers, right = _late_slip(net)
    dy = answers.pop("dY")
    points = {"dY[1]": 1.0, "dY[2]": 1.0, "conv1.dW": 1.0}
    keys = _grade(net, {**answers, "dY[1]": dy[0], "dY[2]": dy[1]}, points=points)
    assert keys["dY[1]"].status == "wrong" and keys["dY[2]"].status == "right"
    assert keys["conv1.dW"].carried_from == "dY" and keys["conv1.dW"].earned == 1
    keys = _grade(net, {**answers, "dY[1]": dy[0]}, points=points)
    assert keys["dY[2]"].status == "missing" and keys["conv1.dW"].carried_forward
    # One whole dY read entry by entry for the graded set: the same.
    keys = _grade(net, {**answers, "dY": dy}, points=points)
    assert keys["conv1.dW"].carried_forward


def test_the_readme_network_example_is_what_check_prints(tmp_path: Path) -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(
        "A network (`problems/network_two_conv.yaml`")[1]
    answers = section.split("```yaml\n")[1].split("```")[0]
    command, *shown = section.split("```console\n")[1].split("```")[0].splitlines()
    assert command == ("$ convgrad check problems/network_two_conv.yaml answers.yaml "
                       "--carry-forward")
    (tmp_path / "problems").mkdir()
    shutil.copy(ROOT / "problems" / "network_two_conv.yaml", tmp_path / "problems")
    (tmp_path / "answers.yaml").write_text(answers, encoding="utf-8")
    args = ("check", "problems/network_two_conv.yaml", "answers.yaml")
    proc = run_main(*args, "--carry-forward", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout.splitlines() == shown
    assert "answers.yaml: 0/6 points" in run_main(*args, cwd=tmp_path).stdout


# --- every layer kind: the carried values are what the problem gives from that dY -------------


@pytest.mark.parametrize("path", [p.name for p in PROBLEMS])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_every_problem_carries_a_slip_in_dy_as_grad_output_does(path: str, layout: str) -> None:
    """A slip in dY, and every later key as the same problem gives with that dY as its
    grad_output (the engine's own backward from a given dL/dY, not the carry-forward code):
    every later key is right or carried forward. Over every layer kind the
    problem files hold (conv1d, conv_transpose, groups, softmax, batch_norm ...)."""
    problem = yaml.safe_load((ROOT / "problems" / path).read_text(encoding="utf-8"))
    problem.pop("steps", None)  # a training round's keys are not carried
    if layout == "NHWC":
        try:  # the same numbers read channels last: another problem, as good as this one
            convgrad.solve({**problem, "conventions": {"layout": "NHWC"}})
        except convgrad.ProblemError:
            pytest.skip("this problem's input has no channels-last reading")
        problem["conventions"] = {"layout": "NHWC"}
    solved = solve(load_problem(problem))
    right = convgrad.solve(problem)
    written = exact_strings if solved.exact else json_numbers
    dy = np.array(right["dY"], dtype=object if solved.exact else np.float64, order="C")
    dy.reshape(-1)[0] += 1
    given = {k: v for k, v in problem.items() if k not in ("target", "loss")}
    from_slip = convgrad.solve({**given, "grad_output": written(dy)},
                               exact=solved.exact).by_answer_key()
    # Gradients and updates; not the last layer's d_output, which is dY by another name.
    last = f"{right['layers'][-1]['name']}.d_output" if "layers" in right else "dY"
    keys = [k for k in from_slip if k.rsplit(".", 1)[-1] not in ("output", "Y", "dY")
            and k != last]
    answers = {k: written(from_slip[k]) for k in keys}
    answers["dY"] = written(dy)
    report = {k.key: k for k in Grader(solved, carry_forward=True).grade(answers).keys}
    assert report["dY"].status == "wrong" and not report["dY"].carried_forward
    for key in keys:
        assert report[key].status == "right" or report[key].carried_forward, (
            key, report[key].message())
    assert any(report[key].carried_forward for key in keys)  # the slip reached something


def test_answers_beyond_float64_carry_nothing_and_break_nothing() -> None:
    # In float64, 1e308 in every entry of dY overflows on the way (dW sums them) and 1e400
    # is no float64 at all: neither is a value to carry forward from, and neither is a crash.
    grader = Grader(solve(load_problem(ROOT / "problems" / "sigmoid_bce.yaml")),
                    carry_forward=True)
    dw = [[1, 2, 3], [3, 4, 5], [1, 1, 1]]
    for dy in ("1e308 1e308; 1e308 1e308", "1e400 1; 1 1"):
        keys = {k.key: k for k in grader.grade({"dY": dy, "dW": dw, "db": "1e400"}).keys}
        assert keys["dY"].status == "wrong"
        assert not keys["dW"].carried_forward and not keys["db"].carried_forward
