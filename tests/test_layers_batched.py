"""Every layer object works on a batch, the sample axis first (the contract of layers/).

A layer takes x (N, ...) and gives out (N, ...); its parameters have no batch axis, and its
dW and db are sums over the samples. Here each layer of a small network runs on batches of
1 to 3 samples and is held against the naive twins of reference.py run one sample at a time
(dW and db: the twins' per-sample gradients added up), and every entry of every output and
gradient is rebuilt from the layer's term maps, whose indices name the sample first.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from convgrad import reference as ref
from convgrad.arith import Numbers
from convgrad.layers import evaluate, make_layer
from convgrad.reader import load_problem

RNG = np.random.default_rng(11)


def _numbers(shape: tuple[int, ...], exact: bool) -> np.ndarray:
    if exact:
        return np.vectorize(lambda v: Fraction(int(v), 3), otypes=[object])(
            RNG.integers(-4, 5, shape))
    return RNG.normal(size=shape)


# conv (padding, stride, dilation, flip) -> relu|leaky|tanh -> max|avg pool -> conv ->
# flatten -> dense -> softmax (float64 only)
def _layers(exact: bool, pool: str, activation: str) -> tuple[list, list]:
    w1, b1 = _numbers((3, 2, 2, 3), exact), _numbers((3,), exact)
    w2, b2 = _numbers((2, 3, 2, 2), exact), _numbers((2,), exact)
    written = [
        {"conv": {"kernel": w1, "bias": list(b1), "padding": [1, 0, 2, 1], "stride": [1, 2],
                  "dilation": [2, 1], "flip_kernel": True}},
        {activation: {"slope": Fraction(1, 10)}} if activation == "leaky_relu" else activation,
        {f"{pool}_pool": {"size": 2, "stride": 1}},
        {"conv": {"kernel": w2, "bias": list(b2)}},
        "flatten",
    ]
    plain = [("conv", (w1, b1, (1, 2), (1, 0, 2, 1), (2, 1), True)), ("act", activation),
             ("pool", pool), ("conv", (w2, b2, (1, 1), (0, 0, 0, 0), (1, 1), False)),
             ("flatten", None)]
    return written, plain


def _forward_backward(kind, params, x, dout, exact):
    """One sample through one layer of the twin: (out, dx, grads)."""
    if kind == "conv":
        w, b, stride, pad, dil, flip = params
        out = ref.conv_forward(x, w, b, stride, pad, dil, flip)
        dx, dw, db = ref.conv_backward(x, w, dout(out.shape), stride, pad, dil, flip)
        return out, dx, (dw, db)
    if kind == "act":
        slope = Fraction(1, 10) if exact else 0.1
        out = ref.activation_forward(params, x, slope)
        return out, ref.activation_backward(params, x, dout(out.shape), slope), ()
    if kind == "pool":
        out = ref.pool_forward(params, x, (2, 2), (1, 1))
        return out, ref.pool_backward(params, x, dout(out.shape), (2, 2), (1, 1)), ()
    if kind == "flatten":
        out = ref.flatten_forward(x)
        return out, ref.flatten_backward(x, dout(out.shape)), ()
    if kind == "dense":
        w, b = params
        out = ref.dense_forward(x, w, b)
        dx, dw, db = ref.dense_backward(x, w, dout(out.shape))
        return out, dx, (dw, db)
    out = ref.softmax_forward(x, params)
    return out, ref.softmax_backward(x, dout(out.shape), params), ()


def _same(got, want, exact, what):
    if exact:
        assert np.array_equal(np.asarray(got, dtype=object), np.asarray(want, dtype=object)), what
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=1e-10, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("N", [1, 2, 3])
@pytest.mark.parametrize(("exact", "pool", "activation"), [
    (True, "max", "relu"), (True, "avg", "leaky_relu"), (False, "max", "tanh"),
    (False, "avg", "relu")])
def test_each_layer_on_a_batch_is_the_twin_sample_by_sample(N, exact, pool, activation):
    written, plain = _layers(exact, pool, activation)
    C, H, W = 2, 5, 6
    # dense (and softmax) after flatten, sized from the flattened output
    problem = load_problem({"input": _numbers((C, H, W), exact), "layers": written})
    K = int(np.prod(problem.layers[-1].out_shape))
    wd, bd = _numbers((3, K), exact), _numbers((3,), exact)
    written = [*written, {"dense": {"weights": wd, "bias": list(bd)}}]
    plain = [*plain, ("dense", (wd, bd))]
    if not exact:
        written.append({"softmax": {"dim": "all"}})
        plain.append(("softmax", "all"))
    problem = load_problem({"input": _numbers((C, H, W), exact), "layers": written})
    num = Numbers(exact, False, lambda key, what: AssertionError(key))
    layers = [make_layer(spec, num) for spec in problem.layers]

    x = _numbers((N, C, H, W), exact)
    h = x
    for layer in layers:
        h = layer.forward(h)
    douts = [_numbers((N, *spec.out_shape), exact) for spec in problem.layers]
    for layer, dout in zip(reversed(layers), reversed(douts), strict=True):
        layer.backward(dout)

    for k, ((kind, params), layer) in enumerate(zip(plain, layers, strict=True)):
        assert layer.out.shape == (N, *problem.layers[k].out_shape), layer.name
        assert layer.dx.shape == layer.x.shape, layer.name
        grads = None
        for n in range(N):
            out, dx, g = _forward_backward(kind, params, layer.x[n], lambda shape, n=n, k=k:
                                           douts[k][n].reshape(shape), exact)
            _same(layer.out[n], out, exact, f"{layer.name}.out[{n}]")
            _same(layer.dx[n], dx, exact, f"{layer.name}.dx[{n}]")
            grads = g if grads is None else tuple(a + b for a, b in zip(grads, g, strict=True))
        if grads:
            _same(layer.dw, grads[0], exact, f"{layer.name}.dw")
            _same(layer.db, grads[1], exact, f"{layer.name}.db")

        # every entry rebuilt from the term maps, sample first
        arrays = layer.arrays()
        for of in layer.expanded:
            values = arrays[of]
            for index in np.ndindex(values.shape):
                got = evaluate(layer.terms(of, index), arrays)
                if exact:
                    assert got == values[index], f"{layer.name}.{of}{index}"
                else:
                    assert np.isclose(float(got), float(values[index]), rtol=1e-9,
                                      atol=1e-12), f"{layer.name}.{of}{index}"


def test_term_maps_name_the_sample_first():
    """Two samples through the seed's kernel: the second sample's output y[2,1,1,1] is made of
    sample 2's inputs, and dW sums both samples' terms."""
    problem = load_problem({"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1",
                            "bias": 1})
    conv = make_layer(problem.layers[0], Numbers(True, True, lambda k, w: AssertionError(k)))
    x = np.array([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], [[[0, 1, 0], [2, 0, 3], [0, 0, 1]]]],
                 dtype=object)
    z = conv.forward(x)
    # sample 1 is the seed: Y = [[3, 4], [6, 7]]; sample 2 by hand: 0 - 2 + 0 + 1 ... + 1
    assert z.tolist() == [[[[3, 4], [6, 7]]], [[[0 - 2 + 0 + 1, 1 - 0 + 3 + 1],
                                                 [2 - 0 + 0 + 1, 0 - 0 + 1 + 1]]]]
    taps, bias = conv.out_terms(1, 0, 0, 0)
    assert [t[0] for t in taps] == [(1, 0, 0, 0), (1, 0, 0, 1), (1, 0, 1, 0), (1, 0, 1, 1)]
    dout = np.array([[[[1, 2], [3, 3]]], [[[1, 0], [0, 1]]]], dtype=object)
    conv.backward(dout)
    # dW = seed's [[32, 41], [59, 68]] + sample 2's sum of dout·x: w11 gets 1·0 + 1·0
    assert conv.dw.tolist() == [[[[32 + 0 + 0, 41 + 1 + 3], [59 + 2 + 0, 68 + 0 + 1]]]]
    assert conv.db.tolist() == [9 + 2]
    assert list(conv.dw_terms(0, 0, 0, 0))[4:] == [((1, 0, 0, 0), (1, 0, 0, 0)),
                                                   ((1, 0, 0, 1), (1, 0, 0, 1)),
                                                   ((1, 0, 1, 0), (1, 0, 1, 0)),
                                                   ((1, 0, 1, 1), (1, 0, 1, 1))]
    assert conv.dx_terms(1, 0, 0, 0) == [((1, 0, 0, 0), (0, 0, 0, 0))]
