"""A kind of layer added in one place: 'scale' (y = a·x, a a fixed number) is defined in this
module alone, registered once, and runs through reading, the engine, --json, solve's
terminal solution and explain, with no other module edited (README.md, Development: "Adding
a kind of layer")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from typing import Any, ClassVar, cast

import numpy as np
import pytest

import convgrad
from convgrad import layers
from convgrad import reference as ref
from convgrad.layers.base import FunctionLayer, Index, ParamLayer, Term
from convgrad.model import Op
from convgrad.numbers import Number
from convgrad.records import record
from tests.conftest import run_main

# --- the kind: its description, its layer, its keys and its words ---------------------------


@record(repr=False)
class Scale(Op):
    """y = a·x, every entry by the same number a."""

    a: Number
    rational: ClassVar[bool] = True  # a product keeps exact numbers exact


class ScaleLayer(FunctionLayer):
    """x (N, ...) -> out = a·x, the same shape; no parameters."""

    kind = "scale"
    words: ClassVar[dict[str, tuple[str, str]]] = {
        "fact.scale": ("{layer}: every value of {shape} times {a}",
                       "{layer}：{shape} 的每个值乘以 {a}"),
        "why.scale": ("Each output is its input times {a}.", "每个输出等于其输入乘以 {a}。"),
        "rule.scale": ("scale(x) = {a}·x", "scale(x) = {a}·x"),
        "why.scale_back": ("Each output depends on its own input only, with ∂y/∂x = {a}.",
                           "每个输出只依赖于自己的输入，∂y/∂x = {a}。"),
        "rule.scale_back": ("dL/dx = dL/dy·{a}", "dL/dx = dL/dy·{a}"),
    }

    @property
    def a(self) -> Number:
        return cast(Scale, self.layer.op).a

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._set_out(x, x * self.a)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._set_dx(dout, dout * self.a)

    def out_terms(self, index: Index) -> tuple[list[Index], int]:
        return [index], 0

    def dx_terms(self, index: Index) -> list[tuple[Index, Number]]:
        return [(index, self.a)]

    def facts(self) -> dict[str, Any]:
        return {"a": self.a}


def read_scale(reader: Any, path: tuple, spec: dict, shape: tuple[int, ...],
               counts: dict[str, int]) -> Any:
    """scale: {a: NUMBER}; a problem's own message for a missing a."""
    reader.check_keys(spec, ("a",), path)
    if spec.get("a") is None:
        raise reader.err((*path, "a"), "is missing: give the number to scale by, e.g. {a: 2}")
    a = reader.array((*path, "a"), spec["a"])[()]
    return reader.make_layer("scale", "scale", Scale(a), shape, counts)


def registered(description: type, cls: type, name: str, read: Any) -> Iterator[None]:
    """The kind registered while a test runs; then the built-in kinds alone again, so that
    every other test sees only them."""
    kinds, readers = dict(layers.KINDS), dict(layers.READERS)
    layers.register(description, cls, types=(name,), read=read)
    yield
    layers.KINDS.clear()
    layers.KINDS.update(kinds)
    layers.READERS.clear()
    layers.READERS.update(readers)


@pytest.fixture
def scale_kind() -> Iterator[None]:
    yield from registered(Scale, ScaleLayer, "scale", read_scale)


PROBLEM = """\
input: [[1, 2, 0], [-1, 3, 1], [2, 0, 1]]
layers:
  - conv: {kernel: [[1, 0], [-1, 1]], bias: 1}
  - scale: {a: 1/2}
  - relu
target: [[1, 0], [2, 1]]
loss: half_sse
"""


def _by_hand() -> dict[str, np.ndarray]:
    """The problem's results from reference.py's naive twins, scale written as its formula."""
    x = np.array([[[1, 2, 0], [-1, 3, 1], [2, 0, 1]]], dtype=object)
    w = np.array([[[[1, 0], [-1, 1]]]], dtype=object)
    b = np.array([1], dtype=object)
    t = np.array([[[1, 0], [2, 1]]], dtype=object)
    half = Fraction(1, 2)
    z = ref.conv_forward(x, w, b, (1, 1), (0, 0, 0, 0), (1, 1))
    s = z * half
    y = ref.activation_forward("relu", s)
    dy = ref.loss_backward("half_sse", y, t)
    ds = ref.activation_backward("relu", s, dy)
    dz = ds * half  # scale's backward: dL/dx = dL/dy·a
    dx, dw, db = ref.conv_backward(x, w, dz, (1, 1), (0, 0, 0, 0), (1, 1))
    return {"s": s, "y": y, "loss": ref.loss_forward("half_sse", y, t), "dz": dz, "dx": dx,
            "dw": dw, "db": db}


def test_a_registration_that_cannot_work_is_refused_at_the_call():
    """Named in problems without a reading function, or written out in a way the trace has
    no builders for: TypeError when registering (not an assert, which python -O drops),
    and nothing is registered."""
    kinds, readers = dict(layers.KINDS), dict(layers.READERS)

    class Misspelt(ScaleLayer):
        written_as = "sum"  # type: ignore[assignment]

    with pytest.raises(TypeError, match="needs a reading function"):
        layers.register(Scale, ScaleLayer, types=("scale",))
    with pytest.raises(TypeError, match="written_as is 'sum'; it is one of sums, function"):
        layers.register(Scale, Misspelt, types=("scale",), read=read_scale)
    assert (dict(layers.KINDS), dict(layers.READERS)) == (kinds, readers)


def test_unregistered_kind_is_refused():
    with pytest.raises(convgrad.ProblemError, match="'scale' is not a layer type"):
        convgrad.solve(PROBLEM)


def test_network_runs_through_the_new_kind(scale_kind):
    expected = _by_hand()
    result = convgrad.solve(PROBLEM)
    assert result["loss"] == expected["loss"]
    np.testing.assert_array_equal(result["Y"], expected["y"])
    np.testing.assert_array_equal(result["dX"], expected["dx"][0])
    conv = result["layers"][0]
    np.testing.assert_array_equal(conv["dW"], expected["dw"][0, 0])
    np.testing.assert_array_equal(conv["db"], expected["db"])
    # scale's backward made conv1's dL/d output: dL/d(scale's output)·a
    np.testing.assert_array_equal(conv["d_output"], expected["dz"])
    scale = result["layers"][1]
    assert (scale["name"], scale["type"]) == ("scale1", "scale")
    np.testing.assert_array_equal(scale["output"], expected["s"])


def test_the_new_kind_keeps_exact_numbers_exact(scale_kind):
    result = convgrad.solve(PROBLEM)
    assert isinstance(result["loss"], Fraction)


def test_json_and_terminal_solution_show_the_new_kind(scale_kind, tmp_path):
    expected = _by_hand()
    path = tmp_path / "scale.yaml"
    path.write_text(PROBLEM)
    out = run_main("solve", path, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [layer["name"] for layer in data["layers"]] == ["conv1", "scale1", "relu1"]
    assert Fraction(data["exact"]["loss"]) == expected["loss"]
    solved = run_main("solve", path)
    assert solved.returncode == 0, solved.stderr
    # its own words, from its class, and its terms: dL/dx = dL/dy·∂y/∂x, entry by entry
    assert "scale1: every value of 1 x 2 x 2 times 1/2" in solved.stdout
    back = solved.stdout.split("Backward: scale1")[1].split("Backward: conv1")[0]
    assert "Each output depends on its own input only, with ∂y/∂x = 1/2." in back
    assert "dL/dconv1[1,1,1] = dL/dscale1[1,1,1]·∂scale1[1,1,1]/∂conv1[1,1,1]" in back
    results = [line.rsplit("= ", 1)[1] for line in back.splitlines()
               if line.strip().startswith("=") or line.startswith("dL/dconv1[1,1,2")
               or line.startswith("dL/dconv1[1,2")]
    assert results == [str(v) for v in expected["dz"].flat]
    walked = run_main("explain", path, "--lang", "zh")
    assert walked.returncode == 0, walked.stderr
    assert "每个输出等于其输入乘以 1/2" in walked.stdout
    page = run_main("explain", path, "--format", "markdown")
    assert page.returncode == 0, page.stderr
    assert "Each output is its input times 1/2." in page.stdout


def test_the_new_kind_reads_its_own_keys(scale_kind):
    missing = r"'layers\[2\]\.scale\.a' is missing: give the number"
    with pytest.raises(convgrad.ProblemError, match=missing):
        convgrad.solve(PROBLEM.replace("{a: 1/2}", "{}"))


# --- a kind with parameters: 'gain', y = w·x + b (w, b one number each, learned) ------------


@record(eq=False, repr=False)
class Gain(Op):
    """y = w·x + b, every entry by the same weight and bias; w, b: (1,)."""

    w: np.ndarray
    b: np.ndarray
    rational: ClassVar[bool] = True

    def arrays(self) -> list[np.ndarray]:
        return [self.w, self.b]


class GainLayer(ParamLayer):
    """x (N, ...) -> out = w·x + b, the same shape; dw and db sum over every entry."""

    kind = "gain"
    words: ClassVar[dict[str, tuple[str, str]]] = {
        "fact.gain": ("{layer}: every value of {shape} times w, plus b", "{layer}：乘以 w 加 b"),
        "why.gain": ("Each output is its input times w, plus b.", "每个输出等于输入乘以 w 加 b。"),
        "rule.gain": ("y = w·x + b", "y = w·x + b"),
        "why.gain_back": ("w and b meet every entry.", "w 和 b 作用于每个元素。"),
        "rule.gain_dw": ("dL/dw = Σ dL/dy·x", "dL/dw = Σ dL/dy·x"),
        "rule.gain_db": ("dL/db = Σ dL/dy", "dL/db = Σ dL/dy"),
        "rule.gain_dx": ("dL/dx = dL/dy·w", "dL/dx = dL/dy·w"),
    }

    def __init__(self, layer: Any, num: Any) -> None:
        super().__init__(layer, num)
        op = cast(Gain, layer.op)
        self.w = num.param(op.w, layer.name, "w", "w")
        self.b = num.param(op.b, layer.name, "b", "b")

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._set_out(x, x * self.w[0] + self.b[0])

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self._set_grads(np.array([(dout * self.x).sum()], dtype=dout.dtype),
                        np.array([dout.sum()], dtype=dout.dtype))
        return self._set_dx(dout, dout * self.w[0])

    def terms(self, of: str, index: Index) -> list[Term]:
        every = list(np.ndindex(*self.x.shape))
        if of == "out":
            return [(("w", (0,)), ("x", index)), (("b", (0,)),)]
        if of == "dw":
            return [(("dout", i), ("x", i)) for i in every]
        if of == "db":
            return [(("dout", i),) for i in every]
        return [(("dout", index), ("w", (0,)))]


def read_gain(reader: Any, path: tuple, spec: dict, shape: tuple[int, ...],
              counts: dict[str, int]) -> Any:
    reader.check_keys(spec, ("w", "b"), path)
    w = reader.array((*path, "w"), spec.get("w", 1)).reshape(1)
    b = reader.array((*path, "b"), spec.get("b", 0)).reshape(1)
    return reader.make_layer("gain", "gain", Gain(w, b), shape, counts)


@pytest.fixture
def gain_kind() -> Iterator[None]:
    yield from registered(Gain, GainLayer, "gain", read_gain)


GAIN = """\
input: [[1, -2], [3, 0]]
layers:
  - gain: {w: 2, b: -1}
target: [[0, 0], [4, 1]]
loss: half_sse
learning_rate: 1/2
"""


def test_a_kind_with_parameters_runs_and_is_written_out(gain_kind, tmp_path):
    # By hand: y = 2x - 1 = [[1, -5], [5, -1]]; dL/dy = y - t = [[1, -5], [1, -2]];
    # dL/dw = Σ dL/dy·x = 1 + 10 + 3 + 0 = 14; dL/db = Σ dL/dy = -5; dL/dx = 2·dL/dy;
    # w_new = 2 - 14/2 = -5, b_new = -1 + 5/2 = 3/2.
    result = convgrad.solve(GAIN)
    np.testing.assert_array_equal(result["Y"], [[[1, -5], [5, -1]]])
    np.testing.assert_array_equal(result["dX"], [[2, -10], [2, -4]])
    gain = result["layers"][0]
    assert (list(gain["dW"]), list(gain["db"])) == ([14], [-5])
    assert (list(gain["W_new"]), list(gain["b_new"])) == ([-5], [Fraction(3, 2)])
    path = tmp_path / "gain.yaml"
    path.write_text(GAIN)
    solved = run_main("solve", path)
    assert solved.returncode == 0, solved.stderr
    # every entry as the sum of products its `terms` gives, with no builder in trace.py
    lines = [line.strip() for line in solved.stdout.splitlines()]
    assert "y[1,1,1] = w1·x11 + b1" in lines
    assert "= 2·1 + (-1) = 1" in lines
    assert ("dL/dw1 = dL/dy[1,1,1]·x11 + dL/dy[1,1,2]·x12 + dL/dy[1,2,1]·x21 + dL/dy[1,2,2]·x22"
            in lines)
    assert "= 1·1 + (-5)·(-2) + 1·3 + (-2)·0 = 14" in lines
    assert "= 1 + (-5) + 1 + (-2) = -5" in lines
    assert "dL/dx12 = (-5)·2 = -10" in lines
    walked = run_main("explain", path, "--format", "markdown")
    assert walked.returncode == 0, walked.stderr
    assert "w and b meet every entry." in walked.stdout


def test_the_new_kind_meets_no_convention_and_no_requirement(scale_kind):
    # The base class's answers: convention_words and generate pass over the kind, and say
    # of the rest what they say without it.
    from convgrad.engine import run
    from convgrad.generate import _depends, _met
    from convgrad.reader import problem_from_text
    from convgrad.render.convention_words import convention_words

    with_scale = problem_from_text(PROBLEM)
    without = problem_from_text(PROBLEM.replace("  - scale: {a: 1/2}\n", ""))
    assert convention_words(with_scale) == convention_words(without)
    assert "relu'(0) = 0" in convention_words(with_scale)
    solved = run(with_scale)
    scale = solved.passes[1]
    assert [scale.meets(r) for r in ("max_tie", "relu_kink", "uncovered")] == [None] * 3
    assert _met(solved, "max_tie") is None  # no max pooling in the network
    assert _depends(solved.passes, "kink") is True  # its relu
    assert _depends([scale], "kink") is None
