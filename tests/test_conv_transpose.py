"""The conv_transpose layer (SPEC section 6, PyTorch's ConvTranspose2d): its naive twin by
hand and against central differences; the layer, called on batch-first arrays, against the
twin (float64 and exact fractions), central differences and PyTorch float64 autograd; its
terms against its values; and the reading of its keys."""

from __future__ import annotations

import textwrap
from fractions import Fraction

import numpy as np
import pytest

from convgrad import geometry
from convgrad import reference as ref
from convgrad.arith import Numbers
from convgrad.errors import ProblemError
from convgrad.layers import evaluate, make_layer
from convgrad.layers.conv_transpose import ConvTransposeLayer
from convgrad.model import ConvTranspose, Layer
from convgrad.reader import problem_from_text

RNG = np.random.default_rng(11)

# (N, C, H, W, F/groups, KH, KW, stride, padding, output_padding, dilation, groups)
CASES = [
    (1, 1, 2, 2, 1, 2, 2, (1, 1), (0, 0), (0, 0), (1, 1), 1),
    (2, 2, 3, 4, 3, 2, 3, (2, 1), (1, 0), (1, 0), (1, 2), 1),
    (2, 2, 3, 3, 2, 3, 2, (2, 2), (0, 1), (1, 1), (1, 1), 2),   # grouped, output_padding > pad
    (3, 3, 2, 3, 1, 3, 3, (1, 2), (2, 1), (0, 1), (2, 1), 3),   # depthwise
    (2, 4, 3, 2, 2, 2, 2, (3, 1), (1, 0), (2, 0), (1, 2), 2),
    (1, 2, 4, 4, 2, 2, 2, (1, 1), (0, 0), (1, 1), (2, 2), 1),   # output_padding < dilation
    (2, 1, 3, 3, 2, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1), 1),   # rows 1 and 3 reach no output
    (1, 2, 1, 1, 3, 3, 3, (2, 2), (0, 1), (1, 0), (1, 1), 1),   # one pixel in
]


def out_size(case: tuple) -> tuple[int, int]:
    _, _, H, W, _, KH, KW, stride, pad, output_padding, dilation, _ = case
    return (geometry.conv_transpose_output_size(H, pad[0], KH, stride[0], dilation[0],
                                                output_padding[0]),
            geometry.conv_transpose_output_size(W, pad[1], KW, stride[1], dilation[1],
                                                output_padding[1]))


def fractions(shape: tuple[int, ...]) -> np.ndarray:
    """Small fractions (halves, thirds) and zeros, as an exact object array."""
    values = [Fraction(int(n), int(d)) for n, d in
              zip(RNG.integers(-4, 5, size=int(np.prod(shape))),
                  RNG.choice([1, 2, 3], size=int(np.prod(shape))), strict=True)]
    return np.array(values, dtype=object).reshape(shape)


def arrays(case: tuple, exact: bool) -> tuple[np.ndarray, ...]:
    """x (N, C, H, W), w (C, F/g, KH, KW), b (F,), dout (N, F, OH, OW) for a case."""
    N, C, H, W, Fg, KH, KW, *_, groups = case
    shapes = [(N, C, H, W), (C, Fg, KH, KW), (Fg * groups,), (N, Fg * groups, *out_size(case))]
    if exact:
        return tuple(fractions(s) for s in shapes)
    return tuple(RNG.normal(size=s) for s in shapes)


def layer_of(case: tuple, w: np.ndarray, b: np.ndarray, exact: bool) -> ConvTransposeLayer:
    """The run's layer object for a case, made from its description as the engine makes it."""
    _, C, H, W, Fg, KH, KW, stride, pad, output_padding, dilation, groups = case
    op = ConvTranspose(w=w, b=b, stride=stride, pad=pad, output_padding=output_padding,
                       dilation=dilation, groups=groups, kernel_shape=w.shape, bias_scalar=False)
    spec = Layer(name="conv_transpose1", type="conv_transpose", op=op, in_shape=(C, H, W),
                 out_shape=(Fg * groups, *out_size(case)))
    num = Numbers(exact, False, lambda key, what: ProblemError(key))
    layer = make_layer(spec, num)
    assert isinstance(layer, ConvTransposeLayer)
    return layer


def geometry_of(case: tuple) -> tuple:
    """(stride, pad, output_padding, dilation, groups) of a case, as the twin takes them."""
    return case[7:]


# --- the naive twin ----------------------------------------------------------------------


def test_reference_by_hand():
    # Each input spreads its kernel: 1·I at (0,0), 2·I at (0,1), 3·I at (1,0), 4·I at (1,1).
    x = np.array([[[[1, 2], [3, 4]]]], dtype=object)
    w = np.array([[[[1, 0], [0, 1]]]], dtype=object)
    b = np.array([Fraction(1, 2)], dtype=object)
    out = ref.conv_transpose_forward(x, w, b, (1, 1), (0, 0), (0, 0), (1, 1))
    assert out[0, 0].tolist() == [[Fraction(3, 2), Fraction(5, 2), Fraction(1, 2)],
                                  [Fraction(7, 2), Fraction(11, 2), Fraction(5, 2)],
                                  [Fraction(1, 2), Fraction(7, 2), Fraction(9, 2)]]
    # Stride 2: the kernels do not overlap.
    out = ref.conv_transpose_forward(x, w, 0 * b, (2, 2), (0, 0), (0, 0), (1, 1))
    assert out[0, 0].tolist() == [[1, 0, 2, 0], [0, 1, 0, 2], [3, 0, 4, 0], [0, 3, 0, 4]]
    # Padding 1 cuts one row and column from each side of the 3x3: 1 + 4 = 5 is left.
    assert ref.conv_transpose_forward(x, w, 0 * b, (1, 1), (1, 1), (0, 0),
                                      (1, 1))[0, 0].tolist() == [[5]]
    # output_padding 1 at stride 2 adds a row and a column that no kernel reaches: the bias.
    out = ref.conv_transpose_forward(x, w, b, (2, 2), (1, 1), (1, 1), (1, 1))
    assert out[0, 0].tolist() == [[Fraction(3, 2), Fraction(1, 2), Fraction(5, 2)],
                                  [Fraction(1, 2), Fraction(9, 2), Fraction(1, 2)],
                                  [Fraction(7, 2), Fraction(1, 2), Fraction(9, 2)]]
    # dout all ones at stride 1: each input's every tap lands inside (dx = sum of w = 2),
    # each weight meets every input (dw = 1 + 2 + 3 + 4), db counts the 9 outputs.
    dx, dw, db = ref.conv_transpose_backward(x, w, np.ones((1, 1, 3, 3), dtype=object),
                                             (1, 1), (0, 0), (0, 0), (1, 1))
    assert dx.tolist() == [[[[2, 2], [2, 2]]]]
    assert dw.tolist() == [[[[10, 10], [10, 10]]]]
    assert db.tolist() == [9]


def test_reference_groups_by_hand():
    # Two groups of one channel: filter 1 sees only channel 1, filter 2 only channel 2.
    x = np.array([[[[1]], [[10]]]], dtype=object)
    w = np.array([[[[1, 2]]], [[[3, 4]]]], dtype=object)  # (C=2, F/g=1, 1, 2)
    out = ref.conv_transpose_forward(x, w, np.zeros(2, dtype=object), (1, 1), (0, 0), (0, 0),
                                     (1, 1), groups=2)
    assert out.tolist() == [[[[1, 2]], [[30, 40]]]]


@pytest.mark.parametrize("case", CASES[1:6])
def test_reference_against_central_differences(case):
    x, w, b, c = arrays(case, exact=False)
    geo = geometry_of(case)
    dx, dw, db = ref.conv_transpose_backward(x, w, c, *geo)  # L = sum c * out: dL/dout = c

    def loss(x_, w_, b_):
        return float((c * ref.conv_transpose_forward(x_, w_, b_, *geo)).sum())

    np.testing.assert_allclose(dx, ref.numerical_gradient(lambda v: loss(v, w, b), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dw, ref.numerical_gradient(lambda v: loss(x, v, b), w),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, ref.numerical_gradient(lambda v: loss(x, w, v), b),
                               rtol=1e-6, atol=1e-8)


# --- the layer against the twin, exactly and in float64 --------------------------------


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_layer_matches_reference(case, exact):
    x, w, b, dout = arrays(case, exact)
    layer = layer_of(case, w, b, exact)
    out = layer.forward(x)
    dx = layer.backward(dout)
    want = ref.conv_transpose_forward(x, w, b, *geometry_of(case))
    want_dx, want_dw, want_db = ref.conv_transpose_backward(x, w, dout, *geometry_of(case))
    assert out.shape == want.shape == (case[0], *layer.layer.out_shape)
    assert dx.shape == x.shape and layer.dw is not None and layer.db is not None
    if exact:
        assert out.dtype == dx.dtype == layer.dw.dtype == object
        assert out.tolist() == want.tolist()
        assert dx.tolist() == want_dx.tolist()
        assert layer.dw.tolist() == want_dw.tolist()
        assert layer.db.tolist() == want_db.tolist()
    else:
        np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.dw, want_dw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(layer.db, want_db, rtol=1e-12, atol=1e-12)


def test_layer_update_and_params():
    case = CASES[1]
    x, w, b, dout = arrays(case, exact=True)
    layer = layer_of(case, w, b, exact=True)
    layer.forward(x)
    layer.backward(dout)
    layer.update(Fraction(1, 2))
    _, want_dw, want_db = ref.conv_transpose_backward(x, w, dout, *geometry_of(case))
    assert layer.w_new is not None and layer.b_new is not None
    assert layer.w_new.tolist() == (w - want_dw / 2).tolist()
    assert layer.b_new.tolist() == (b - want_db / 2).tolist()
    params = layer.params()
    assert [(p.letter, p.grad_key, p.new_key) for p in params] == [("w", "dW", "W_new"),
                                                                    ("b", "db", "b_new")]
    assert params[0].shape == w.shape


@pytest.mark.parametrize("case", CASES[1:5])
def test_layer_against_central_differences(case):
    x, w, b, c = arrays(case, exact=False)
    layer = layer_of(case, w, b, exact=False)
    layer.forward(x)
    dx = layer.backward(c)  # L = sum c * out

    def loss(x_, w_, b_):
        return float((c * layer_of(case, w_, b_, exact=False).forward(x_)).sum())

    np.testing.assert_allclose(dx, ref.numerical_gradient(lambda v: loss(v, w, b), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.dw, ref.numerical_gradient(lambda v: loss(x, v, b), w),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.db, ref.numerical_gradient(lambda v: loss(x, w, v), b),
                               rtol=1e-6, atol=1e-8)


# --- the layer against PyTorch float64 autograd ----------------------------------------


def torch_grid() -> list[tuple]:
    """A grid of shapes, strides, paddings, output paddings, dilations and groups that
    ConvTranspose2d accepts, with the explicit CASES."""
    grid = list(CASES)
    for stride in (1, 2, 3):
        for dilation in (1, 2):
            for pad in (0, 1, 2):
                for groups, C, Fg in ((1, 2, 3), (2, 4, 1), (3, 3, 2)):
                    for output_padding in range(max(stride, dilation)):
                        case = (2, C, 3, 4, Fg, 3, 2, (stride, 1), (pad, pad // 2),
                                (output_padding, 0), (dilation, 1), groups)
                        if min(out_size(case)) >= 1:
                            grid.append(case)
    return grid


TORCH_GRID = torch_grid()


@pytest.mark.parametrize("case", TORCH_GRID, ids=[str(i) for i in range(len(TORCH_GRID))])
def test_layer_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    N, C, H, W, Fg, KH, KW, stride, pad, output_padding, dilation, groups = case
    x, w, b, dout = arrays(case, exact=False)
    module = torch.nn.ConvTranspose2d(C, Fg * groups, (KH, KW), stride=stride, padding=pad,
                                      output_padding=output_padding, groups=groups, bias=True,
                                      dilation=dilation).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(w))
        module.bias.copy_(torch.from_numpy(b))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    ty = module(tx)
    ty.backward(torch.from_numpy(dout))

    layer = layer_of(case, w, b, exact=False)
    out = layer.forward(x)
    dx = layer.backward(dout)
    for mine, theirs in ((out, ty.detach()), (dx, tx.grad), (layer.dw, module.weight.grad),
                         (layer.db, module.bias.grad)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-9, atol=1e-12)


# --- terms: every entry rebuilt from its terms ---------------------------------------------


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_terms_add_up_to_every_entry(case, exact):
    x, w, b, dout = arrays(case, exact)
    layer = layer_of(case, w, b, exact)
    layer.forward(x)
    layer.backward(dout)
    named = layer.arrays()
    assert layer.expanded == ("out", "dw", "db", "dx")
    for of, arr in (("out", layer.out), ("dx", layer.dx), ("dw", layer.dw), ("db", layer.db)):
        assert arr is not None
        for index in np.ndindex(arr.shape):
            value = evaluate(layer.terms(of, index), named)
            if exact:
                assert value == arr[index], (of, index)
            else:
                assert value == pytest.approx(arr[index], rel=1e-12, abs=1e-12), (of, index)


def test_terms_name_the_sample_first():
    case = CASES[1]
    x, w, b, dout = arrays(case, exact=True)
    layer = layer_of(case, w, b, exact=True)
    layer.forward(x)
    layer.backward(dout)
    # out[1, 2, 0, 0]: stride (2, 1), pad (1, 0), dilation (1, 2): rows i*2 + p - 1 = 0 give
    # (i, p) = (0, 1); columns j + 2q = 0 give (j, q) = (0, 0); both input channels.
    pairs, bias = layer.out_terms(1, 2, 0, 0)
    assert pairs == [((1, 0, 0, 0), (0, 2, 1, 0)), ((1, 1, 0, 0), (1, 2, 1, 0))]
    assert bias == (2,)
    # db sums every sample's outputs of its filter.
    assert len(layer.db_terms(0)) == case[0] * int(np.prod(out_size(case)))
    assert layer.db_terms(0)[0] == (0, 0, 0, 0)


# --- reading the keys ------------------------------------------------------------------------


def parse(layer: str, x: str = '"1 2; 3 4"') -> ConvTranspose:
    problem = problem_from_text(textwrap.dedent(f"""\
        input: {x}
        layers:
          - conv_transpose: {layer}
        """))
    op = problem.layers[0].op
    assert isinstance(op, ConvTranspose)
    return op


def error(layer: str, x: str = '"1 2; 3 4"') -> str:
    with pytest.raises(ProblemError) as info:
        parse(layer, x)
    return str(info.value)


def test_reader_builds_the_description():
    problem = problem_from_text(textwrap.dedent("""\
        input: ["1 2; 3 4", "0 1; 1 0"]
        layers:
          - conv_transpose:
              kernel: [[[[1, 0], [0, 1]], [[1, 1], [1, 1]]], [[[2, 0], [0, 2]], [[0, 0], [1, 1]]]]
              bias: [1, "1/2"]
              stride: 2
              padding: [1, 0]
              output_padding: [1, 0]
              dilation: [1, 2]
        """))
    layer = problem.layers[0]
    op = layer.op
    assert isinstance(op, ConvTranspose)
    assert layer.name == "conv_transpose1" and layer.type == "conv_transpose"
    assert op.w.shape == (2, 2, 2, 2) and op.kernel_shape == (2, 2, 2, 2)
    assert op.b.tolist() == [1, Fraction(1, 2)] and not op.bias_scalar
    assert (op.stride, op.pad, op.output_padding, op.dilation, op.groups) == \
        ((2, 2), (1, 0), (1, 0), (1, 2), 1)
    # Ho = (2-1)*2 - 2*1 + 1*(2-1) + 1 + 1 = 3;  Wo = (2-1)*2 - 0 + 2*(2-1) + 0 + 1 = 5
    assert layer.in_shape == (2, 2, 2) and layer.out_shape == (2, 3, 5)
    assert ConvTranspose.rational and problem.rational


@pytest.mark.parametrize(("kernel", "x", "w_shape", "out_shape"), [
    ('"1 2; 3 4"', '"1 2; 3 4"', (1, 1, 2, 2), (1, 3, 3)),          # 2-D: one filter
    ("[[[1, 2]], [[3, 4]], [[5, 6]]]", '"1 2; 3 4"', (1, 3, 1, 2), (3, 2, 3)),  # F x kh x kw
    ("[[[1, 2]], [[3, 4]]]", '[["1 2"], ["3 4"]]', (2, 1, 1, 2), (1, 1, 3)),   # C x kh x kw
    ("3", "[[1, 2]]", (1, 1, 1, 1), (1, 1, 2)),                        # a number: 1x1
])
def test_reader_kernel_forms(kernel, x, w_shape, out_shape):
    problem = problem_from_text(f"input: {x}\nlayers:\n  - conv_transpose: {{kernel: {kernel}}}\n")
    assert problem.layers[0].op.w.shape == w_shape
    assert problem.layers[0].out_shape == out_shape


def test_reader_groups_and_defaults():
    op = parse("{kernel: [[[[1]], [[2]]], [[[3]], [[4]]]], groups: 2, bias: 1}",
               x='[["1 2"], ["3 4"]]')
    assert op.groups == 2 and op.w.shape == (2, 2, 1, 1)
    assert op.b.tolist() == [1, 1, 1, 1] and op.bias_scalar  # F = 2 * 2 filters
    op = parse('{kernel: "1 1"}')
    assert (op.stride, op.pad, op.output_padding, op.dilation, op.groups) == \
        ((1, 1), (0, 0), (0, 0), (1, 1), 1)
    assert op.b.tolist() == [0]


def test_reader_warns_of_inputs_that_reach_no_output():
    problem = problem_from_text(
        'input: "1 2 3; 4 5 6; 7 8 9"\nlayers:\n  - conv_transpose: {kernel: 1, padding: 1}\n')
    assert problem.layers[0].out_shape == (1, 1, 1)
    assert [w.message for w in problem.warnings] == [
        "conv_transpose1: input rows 1, 3 spread their kernel only over the padding that is "
        "cut off; their dL/dX entries are 0",
        "conv_transpose1: input columns 1, 3 spread their kernel only over the padding that "
        "is cut off; their dL/dX entries are 0"]


@pytest.mark.parametrize(("layer", "x", "message"), [
    ("{bias: 1}", '"1 2; 3 4"',
     "<text>, line 3: 'layers[1].conv_transpose.kernel' is missing: a transposed convolution "
     "needs a kernel, 1 x F x kh x kw (input channels first, as PyTorch's ConvTranspose2d)"),
    ("{kernel: [[[[1]]], [[[2]]]]}", '"1 2; 3 4"',
     "<text>, line 3: 'layers[1].conv_transpose.kernel' is 2x1x1x1, for 2 input channels, but "
     "its input has 1; a conv_transpose kernel is C_in x F/groups x kh x kw (1 x ... here), "
     "input channels first"),
    ('{kernel: "1 2; 3 4"}', '[["1 2"], ["3 4"]]',
     "<text>, line 3: 'layers[1].conv_transpose.kernel' is one 2-D filter but the input has 2 "
     "channels; write the kernel as 2 x kh x kw (one matrix per input channel) or 2 x F x kh "
     "x kw"),
    ("{kernel: 1, groups: 2}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.groups' is 2 but the input has 1 channel; "
     "groups must divide the number of input channels"),
    ("{kernel: [[[1]], [[1]]], groups: 2}", '[["1 2"], ["3 4"]]',
     "<text>, line 3: 'layers[1].conv_transpose.kernel' is 2x1x1; with groups, write the "
     "kernel 4-D: 2 x F/groups x kh x kw"),
    ("{kernel: 1, padding: same}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.padding' must be a whole number >= 0 or "
     "[ph, pw] (a transposed convolution cuts the same padding from both sides); got same"),
    ("{kernel: 1, padding: [0, 0, 1, 1]}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.padding' must be a whole number >= 0 or "
     "[ph, pw] (a transposed convolution cuts the same padding from both sides); got 4 "
     "values"),
    ("{kernel: 1, stride: 2, output_padding: 2}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.output_padding' is 2 for the rows but must be "
     "less than the stride (2) or the dilation (1) of the rows, as in ConvTranspose2d"),
    ("{kernel: 1, output_padding: [0, 1]}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.output_padding' is 1 for the columns but must "
     "be less than the stride (1) or the dilation (1) of the columns, as in ConvTranspose2d"),
    ("{kernel: 1, padding: 1}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.padding' cuts 1 row and 1 column from each "
     "side of a 1x2 output, leaving 0x0; use less padding"),
    ("{kernel: 1, stride: 0}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.stride' must be a whole number >= 1 or "
     "[sh, sw]; got 0"),
    ("{kernel: 1, flip: true}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.flip' is not a known key; expected "
     "one of: kernel, bias, stride, padding, output_padding, dilation, groups"),
    ("{kernel: 1, bias: [1, 2]}", '[[1, 2]]',
     "<text>, line 3: 'layers[1].conv_transpose.bias' has 2 values but there is 1 filter; "
     "give one bias per filter, or one number for all"),
])
def test_reader_errors(layer, x, message):
    assert error(layer, x) == message


def test_reader_refuses_a_vector_input():
    with pytest.raises(ProblemError) as info:
        problem_from_text('input: "1 2"\nlayers:\n  - flatten\n  - conv_transpose: {kernel: 1}\n')
    assert str(info.value) == (
        "<text>, line 4: 'layers[2].conv_transpose' needs C x H x W maps but gets a vector of "
        "2; a transposed convolution cannot follow flatten or dense")


# --- problems/conv_transpose.yaml: its --json golden, worked by hand ----------------------------


def test_the_problem_file_golden_is_the_hand_worked_d2l_example():
    """Dive into Deep Learning (section 14.10): X = [[0, 1], [2, 3]] and K = [[0, 1], [2, 3]] at
    stride 2: x[i,j]·K fills output block (2i.., 2j..). Half SSE against ones, lr 1/10."""
    import json
    from pathlib import Path

    golden = Path(__file__).parent / "golden" / "json" / "conv_transpose.json"
    doc = json.loads(golden.read_text(encoding="utf-8"))["exact"]
    Y = [[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]  # 0·K | 1·K over 2·K | 3·K
    dY = [[y - 1 for y in row] for row in Y]  # half SSE: dL/dy = y - t
    # w[p,q] took x[i,j] to y[2i+p, 2j+q]: dL/dw[p,q] = Σ x[i,j]·dL/dy[2i+p, 2j+q]; X and K
    # are the same matrix here, so dL/dX (Σ over p, q of dL/dy[2i+p, 2j+q]·w[p,q]) is too.
    dW = [[0 * -1 + 1 * -1 + 2 * -1 + 3 * -1, 0 * -1 + 1 * 0 + 2 * 1 + 3 * 2],
          [0 * -1 + 1 * 1 + 2 * 3 + 3 * 5, 0 * -1 + 1 * 2 + 2 * 5 + 3 * 8]]
    assert dW == [[-6, 8], [22, 36]]
    layer = doc["layers"][0]
    assert doc["Y"] == layer["output"] == [[[str(y) for y in row] for row in Y]]
    assert doc["dY"] == layer["d_output"] == [[[str(d) for d in row] for row in dY]]
    assert doc["loss"] == str(sum(d * d for row in dY for d in row) // 2) == "70"
    assert layer["dW"] == doc["dX"] == [[str(v) for v in row] for row in dW]
    assert layer["db"] == [str(sum(sum(row) for row in dY))] == ["20"]
    assert layer["W_new"] == [["3/5", "1/5"], ["-1/5", "-3/5"]]  # w - dW/10
    assert layer["b_new"] == ["-2"]
