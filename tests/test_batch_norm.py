"""The batch_norm layer (SPEC section 6, PyTorch's BatchNorm2d and BatchNorm1d): its naive twin
by hand and against central differences; the layer, called on batch-first arrays, against the
twin, central differences and PyTorch float64 autograd in train and eval mode; its pieces and
terms against its values; and the reading of its keys."""

from __future__ import annotations

import math
import textwrap
from fractions import Fraction

import numpy as np
import pytest

from convgrad import reference as ref
from convgrad.arith import Numbers
from convgrad.errors import ProblemError
from convgrad.layers import evaluate, make_layer
from convgrad.layers.batch_norm import BatchNormLayer
from convgrad.model import BatchNorm, Layer
from convgrad.reader import problem_from_text

RNG = np.random.default_rng(17)

# (x shape, batch first; eps): maps as BatchNorm2d, vectors as BatchNorm1d
SHAPES = [((2, 3, 2, 2), 1e-5), ((1, 2, 3, 3), 1e-5), ((4, 1, 1, 1), 0.1), ((3, 2, 1, 2), 0.5),
          ((4, 3), 1e-5), ((2, 5), 0.25)]
MODES = ("train", "eval")


def arrays(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    C = shape[1]
    return {"x": RNG.normal(size=shape) * 2 + 1, "gamma": RNG.normal(size=C),
            "beta": RNG.normal(size=C), "running_mean": RNG.normal(size=C),
            "running_var": RNG.uniform(0.2, 3, size=C), "dout": RNG.normal(size=shape)}


def layer_of(a: dict[str, np.ndarray], eps: float, mode: str) -> BatchNormLayer:
    """The run's layer object, made from its description as the engine makes it."""
    op = BatchNorm(gamma=a["gamma"], beta=a["beta"], eps=eps, mode=mode,
                   running_mean=a["running_mean"], running_var=a["running_var"])
    shape = a["x"].shape[1:]
    spec = Layer(name="batch_norm1", type="batch_norm", op=op, in_shape=shape, out_shape=shape)
    layer = make_layer(spec, Numbers(False, False, lambda key, what: ProblemError(key)))
    assert isinstance(layer, BatchNormLayer)
    return layer


def twin(a: dict[str, np.ndarray], eps: float, mode: str, x: np.ndarray | None = None,
         gamma: np.ndarray | None = None, beta: np.ndarray | None = None) -> np.ndarray:
    return ref.batch_norm_forward(a["x"] if x is None else x,
                                  a["gamma"] if gamma is None else gamma,
                                  a["beta"] if beta is None else beta, eps, mode,
                                  a["running_mean"], a["running_var"])


# --- the naive twin ----------------------------------------------------------------------


def test_reference_by_hand_train():
    # One unit, values 0, 1, 2: mean 1, biased var 2/3, eps 0: xhat = (-s, 0, s), s = sqrt(3/2)
    x = np.array([[0.0], [1.0], [2.0]])
    s = math.sqrt(1.5)
    y = ref.batch_norm_forward(x, np.array([2.0]), np.array([0.5]), 0.0, "train")
    np.testing.assert_allclose(y[:, 0], [0.5 - 2 * s, 0.5, 0.5 + 2 * s], rtol=1e-15)
    # dout = (1, 0, 0): mean(dout) = 1/3, mean(dout * xhat) = -s/3, so
    # dx = 1/sigma * ((1, 0, 0) - 1/3 - xhat * (-s/3)) = (1/6, -1/3, 1/6) / sqrt(2/3).
    dx, dgamma, dbeta = ref.batch_norm_backward(x, np.array([1.0]), np.array([[1.0], [0], [0]]),
                                                0.0, "train")
    np.testing.assert_allclose(dx[:, 0], np.array([1 / 6, -1 / 3, 1 / 6]) / math.sqrt(2 / 3),
                               rtol=1e-14)
    np.testing.assert_allclose(dgamma, [-s], rtol=1e-15)
    assert dbeta.tolist() == [1.0]


def test_reference_by_hand_two_values_and_eval():
    # Two values per unit: xhat is always -1, +1 (eps 0), so dx is 0 whatever dout is.
    x = np.array([[1.0, 5.0], [3.0, -1.0]])
    y = ref.batch_norm_forward(x, np.array([2.0, 1.0]), np.array([0.5, 0.0]), 0.0, "train")
    assert y.tolist() == [[-1.5, 1.0], [2.5, -1.0]]
    dx, _, _ = ref.batch_norm_backward(x, np.array([2.0, 1.0]), np.array([[1.0, 2], [0, 7]]),
                                       0.0, "train")
    assert np.abs(dx).max() < 1e-15
    # eval: running_mean 1, running_var 3, eps 1: sigma 2, y = gamma * (x - 1) / 2 + beta
    y = ref.batch_norm_forward(x, np.array([2.0, 1.0]), np.array([0.5, 0.0]), 1.0, "eval",
                               np.array([1.0, 1.0]), np.array([3.0, 3.0]))
    assert y.tolist() == [[0.5, 2.0], [2.5, -1.0]]
    dx, dgamma, dbeta = ref.batch_norm_backward(x, np.array([2.0, 1.0]),
                                                np.array([[1.0, 2], [0, 7]]), 1.0, "eval",
                                                np.array([1.0, 1.0]), np.array([3.0, 3.0]))
    assert dx.tolist() == [[1.0, 1.0], [0.0, 3.5]]  # gamma / 2 * dout
    assert dgamma.tolist() == [1 * 0 + 0 * 1, 2 * 2 + 7 * -1]  # xhat = (0, 1), (2, -1)
    assert dbeta.tolist() == [1.0, 9.0]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "eps"), SHAPES)
def test_reference_against_central_differences(shape, eps, mode):
    a = arrays(shape)
    c = a["dout"]  # L = sum c * y: dL/dy = c
    dx, dgamma, dbeta = ref.batch_norm_backward(a["x"], a["gamma"], c, eps, mode,
                                                a["running_mean"], a["running_var"])
    np.testing.assert_allclose(
        dx, ref.numerical_gradient(lambda v: float((c * twin(a, eps, mode, x=v)).sum()),
                                   a["x"]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        dgamma, ref.numerical_gradient(lambda v: float((c * twin(a, eps, mode, gamma=v)).sum()),
                                       a["gamma"]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        dbeta, ref.numerical_gradient(lambda v: float((c * twin(a, eps, mode, beta=v)).sum()),
                                      a["beta"]), rtol=1e-6, atol=1e-8)


# --- the layer against the twin and central differences --------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "eps"), SHAPES)
def test_layer_matches_reference(shape, eps, mode):
    a = arrays(shape)
    layer = layer_of(a, eps, mode)
    out = layer.forward(a["x"])
    dx = layer.backward(a["dout"])
    want_dx, want_dgamma, want_dbeta = ref.batch_norm_backward(
        a["x"], a["gamma"], a["dout"], eps, mode, a["running_mean"], a["running_var"])
    assert out.shape == dx.shape == shape
    np.testing.assert_allclose(out, twin(a, eps, mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.dgamma, want_dgamma, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.dbeta, want_dbeta, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "eps"), SHAPES[::2])
def test_layer_against_central_differences(shape, eps, mode):
    a = arrays(shape)
    c = a["dout"]
    layer = layer_of(a, eps, mode)
    layer.forward(a["x"])
    dx = layer.backward(c)

    def loss(**changed: np.ndarray) -> float:
        return float((c * layer_of({**a, **changed}, eps, mode).forward(
            changed.get("x", a["x"]))).sum())

    np.testing.assert_allclose(dx, ref.numerical_gradient(lambda v: loss(x=v), a["x"]),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.dgamma, ref.numerical_gradient(
        lambda v: loss(gamma=v), a["gamma"]), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.dbeta, ref.numerical_gradient(
        lambda v: loss(beta=v), a["beta"]), rtol=1e-6, atol=1e-8)


def test_layer_keeps_its_pieces():
    a = arrays((3, 2, 2, 2))
    layer = layer_of(a, 1e-5, "train")
    layer.forward(a["x"])
    dx = layer.backward(a["dout"])
    x, dout = a["x"], a["dout"]
    for c in range(2):
        values = x[:, c].reshape(-1)
        assert layer.mean[c] == pytest.approx(values.mean(), rel=1e-14)
        assert layer.var[c] == pytest.approx(((values - values.mean()) ** 2).mean(), rel=1e-13)
        assert layer.sigma[c] == pytest.approx(math.sqrt(layer.var[c] + 1e-5), rel=1e-15)
        np.testing.assert_allclose(layer.xhat[:, c], (x[:, c] - values.mean()) / layer.sigma[c],
                                   rtol=1e-12)
        # the three terms of dx: dout, mean(dout), xhat * mean(dout * xhat)
        assert layer.first is not None and layer.second is not None and layer.third is not None
        np.testing.assert_array_equal(layer.first[:, c], dout[:, c])
        np.testing.assert_allclose(layer.second[:, c], dout[:, c].mean(), rtol=1e-14)
        np.testing.assert_allclose(layer.third[:, c],
                                   layer.xhat[:, c] * (dout[:, c] * layer.xhat[:, c]).mean(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(dx[:, c], a["gamma"][c] / layer.sigma[c] * (
            layer.first[:, c] - layer.second[:, c] - layer.third[:, c]), rtol=1e-15)
    # eval: the running statistics, and dout is the only term
    layer = layer_of(a, 1e-5, "eval")
    layer.forward(x)
    layer.backward(dout)
    np.testing.assert_array_equal(layer.mean, a["running_mean"])
    np.testing.assert_array_equal(layer.var, a["running_var"])
    assert layer.second is None and layer.third is None


def test_layer_params_and_update():
    a = arrays((4, 3))
    layer = layer_of(a, 1e-5, "train")
    layer.forward(a["x"])
    layer.backward(a["dout"])
    layer.update(0.5)
    _, dgamma, dbeta = ref.batch_norm_backward(a["x"], a["gamma"], a["dout"], 1e-5, "train")
    params = layer.params()
    assert [(p.letter, p.grad_key, p.new_key, p.shape) for p in params] == [
        ("gamma", "dgamma", "gamma_new", (3,)), ("beta", "dbeta", "beta_new", (3,))]
    np.testing.assert_allclose(params[0].new, a["gamma"] - 0.5 * dgamma, rtol=1e-12)
    np.testing.assert_allclose(params[1].new, a["beta"] - 0.5 * dbeta, rtol=1e-12)
    assert {"dgamma", "dbeta", "gamma", "beta", "xhat"} <= set(layer.arrays())


# --- the layer against PyTorch float64 autograd ----------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "eps"), SHAPES + [((5, 4, 3, 2), 1e-3), ((8, 7), 1e-5),
                                                     ((2, 1, 4, 4), 1e-5), ((6, 1), 0.01)])
def test_layer_matches_pytorch(shape, eps, mode):
    torch = pytest.importorskip("torch")
    a = arrays(shape)
    C = shape[1]
    cls = torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d
    module = cls(C, eps=eps).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(a["gamma"]))
        module.bias.copy_(torch.from_numpy(a["beta"]))
        module.running_mean.copy_(torch.from_numpy(a["running_mean"]))
        module.running_var.copy_(torch.from_numpy(a["running_var"]))
    module.train(mode == "train")
    tx = torch.from_numpy(a["x"].copy()).requires_grad_(True)
    ty = module(tx)
    ty.backward(torch.from_numpy(a["dout"]))

    layer = layer_of(a, eps, mode)
    out = layer.forward(a["x"])
    dx = layer.backward(a["dout"])
    for mine, theirs in ((out, ty.detach()), (dx, tx.grad), (layer.dgamma, module.weight.grad),
                         (layer.dbeta, module.bias.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-12)


# --- terms: every entry rebuilt from its terms ---------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "eps"), SHAPES)
def test_terms_add_up_to_every_entry(shape, eps, mode):
    a = arrays(shape)
    layer = layer_of(a, eps, mode)
    layer.forward(a["x"])
    layer.backward(a["dout"])
    named = layer.arrays()
    for of in layer.expanded:
        for index in np.ndindex(named[of].shape):
            assert evaluate(layer.terms(of, index), named) == pytest.approx(
                named[of][index], rel=1e-10, abs=1e-12), (of, index)


def test_terms_name_the_sample_first():
    a = arrays((2, 3, 1, 2))
    layer = layer_of(a, 1e-5, "train")
    layer.forward(a["x"])
    layer.backward(a["dout"])
    assert layer.group(1) == [(0, 1, 0, 0), (0, 1, 0, 1), (1, 1, 0, 0), (1, 1, 0, 1)]
    assert layer.out_terms((1, 2, 0, 1)) == ((1, 2, 0, 1), (2,))
    inv_sigma, group = layer.dx_terms((1, 2, 0, 1))
    assert group == layer.group(2) and inv_sigma == pytest.approx(1 / layer.sigma[2])
    # dx of one entry: its own dout, then one share of each dout of the channel, then the xhat
    # products: 1 + 4 + 4 terms.
    assert len(layer.terms("dx", (1, 2, 0, 1))) == 9


# --- reading the keys ------------------------------------------------------------------------


def parse(layer: str, x: str = '"1 2; 3 4"', before: str = "") -> BatchNorm:
    problem = problem_from_text(f"input: {x}\nlayers:\n{before}  - batch_norm: {layer}\n")
    op = problem.layers[-1].op
    assert isinstance(op, BatchNorm)
    assert problem.layers[-1].out_shape == problem.layers[-1].in_shape
    assert not problem.rational
    return op


def error(layer: str, x: str = '"1 2; 3 4"', before: str = "") -> str:
    with pytest.raises(ProblemError) as info:
        parse(layer, x, before)
    return str(info.value)


def test_reader_defaults():
    problem = problem_from_text(textwrap.dedent("""\
        input: ["1 2; 3 4", "0 1; 1 0"]
        layers:
          - batch_norm
        """))
    layer = problem.layers[0]
    op = layer.op
    assert isinstance(op, BatchNorm)
    assert layer.name == "batch_norm1" and layer.type == "batch_norm"
    assert layer.in_shape == layer.out_shape == (2, 2, 2)
    assert op.mode == "train" and op.eps == Fraction(1, 100000)
    assert op.gamma.tolist() == [1, 1] and op.beta.tolist() == [0, 0]
    assert op.running_mean.tolist() == [0, 0] and op.running_var.tolist() == [1, 1]


def test_reader_values():
    op = parse('{gamma: [2, "1/2"], beta: 1, eps: 1e-3, mode: Eval, running_mean: "0 1", '
               "running_var: [4, 0]}", x='["1 2; 3 4", "0 1; 1 0"]')
    assert op.gamma.tolist() == [2, Fraction(1, 2)] and op.beta.tolist() == [1, 1]
    assert op.eps == Fraction(1, 1000) and op.mode == "eval"
    assert op.running_mean.tolist() == [0, 1] and op.running_var.tolist() == [4, 0]
    # On a vector: one value per unit, eval (one sample gives one value per unit).
    op = parse("{gamma: [1, 2, 3], mode: eval}", x='"1 0; 0 1"',
               before='  - flatten\n  - dense: {weights: "1 0 0 0; 0 1 0 0; 0 0 1 0"}\n')
    assert op.gamma.tolist() == [1, 2, 3] and op.beta.tolist() == [0, 0, 0]


@pytest.mark.parametrize(("layer", "x", "before", "message"), [
    ("{mode: test}", '"1 2; 3 4"', "",
     "<text>, line 3: 'layers[1].batch_norm.mode' 'test' is not a batch_norm mode; expected "
     "one of: train, eval"),
    ("{gamma: [1, 2]}", '"1 2; 3 4"', "",
     "<text>, line 3: 'layers[1].batch_norm.gamma' has 2 values but the input has 1 channel; "
     "give one per channel, or one number for all"),
    ("{mode: eval, running_var: [1, -2, 1]}", '"1 0; 0 1"', "  - flatten\n",
     "<text>, line 4: 'layers[2].batch_norm.running_var' has 3 values but the input has 4 "
     "units; give one per unit, or one number for all"),
    ("{mode: eval, running_var: [1, -2, 1, 1]}", '"1 0; 0 1"', "  - flatten\n",
     "<text>, line 4: 'layers[2].batch_norm.running_var' has -2 for unit 2; a variance is >= 0"),
    ("{eps: 0}", '"1 2; 3 4"', "",
     "<text>, line 3: 'layers[1].batch_norm.eps' is 0 but must be > 0 (it keeps the division "
     "by sqrt(var + eps) finite); PyTorch's default is 1e-5"),
    ("{running_mean: 1}", '"1 2; 3 4"', "",
     "<text>, line 3: 'layers[1].batch_norm.running_mean' has no use in train mode, which "
     "normalises with the batch's own mean and variance; remove it, or set mode: eval"),
    ("{}", '"1 0; 0 1"', "  - flatten\n",
     "<text>, line 4: 'layers[2].batch_norm.mode' is train (the default), which needs more "
     "than one value per unit to take its mean and variance, but a batch of 1 gives each unit "
     "one value; use mode: eval (with running_mean and running_var), or a batch of several "
     "samples"),
    ("{mode: train}", "[[[1]], [[2]]]", "",
     "<text>, line 3: 'layers[1].batch_norm.mode' is train, which needs more than one value "
     "per channel to take its mean and variance, but a batch of 1 gives each 1x1 map one "
     "value; use mode: eval (with running_mean and running_var), or a batch of several "
     "samples"),
    ("{gama: 1}", '"1 2; 3 4"', "",
     "<text>, line 3: 'layers[1].batch_norm.gama' is not a known key; did you mean 'gamma'?"),
    ("{beta: x}", '"1 2; 3 4"', "",
     "<text>, line 3: 'layers[1].batch_norm.beta'"),
])
def test_reader_errors(layer, x, before, message):
    got = error(layer, x, before)
    if message.endswith("'"):  # a value that is not a number: the number reader's own words
        assert got.startswith(message)
    else:
        assert got == message


def test_reader_counts_the_family():
    problem = problem_from_text(textwrap.dedent("""\
        input: "1 2; 3 4"
        layers:
          - batch_norm
          - relu
          - batch_norm: {mode: eval}
        """))
    assert [layer.name for layer in problem.layers] == ["batch_norm1", "relu1", "batch_norm2"]
