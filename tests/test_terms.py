"""Every term the layers write out adds up to the engine's value (convgrad.layers' terms).

A layer's terms are the index maps its vectorized code uses: which inputs and weights
each output entry is made of, which outputs each gradient entry sums. The trace prints
them; here every entry of every output and gradient, of random small networks, is
rebuilt from its terms and held against the number the engine computed: exactly in
exact arithmetic, to rounding in float64.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from convgrad import reference as ref  # noqa: E402
from convgrad.engine import run  # noqa: E402
from convgrad.layers import evaluate  # noqa: E402
from convgrad.reader import load_problem  # noqa: E402

TERMS = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])


def numbers(draw, shape: tuple[int, ...], exact: bool) -> np.ndarray:
    """Small ints and halves/thirds (exact), or floats; zeros and ties come up often."""
    if exact:
        values = draw(st.lists(st.sampled_from([Fraction(n, d) for n in range(-3, 4)
                                                for d in (1, 2, 3)]),
                               min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        return np.array(values, dtype=object).reshape(shape)
    values = draw(st.lists(st.floats(-3, 3, allow_nan=False, width=64),
                           min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return np.array(values, dtype=np.float64).reshape(shape)


@st.composite
def networks(draw, exact: bool):
    """conv [-> conv_transpose] [-> batch_norm] [-> activation] [-> pool] [-> conv ...]
    [-> flatten -> dense [-> batch_norm] [-> activation]]; softmax and log_softmax among the
    activations and batch_norm in float64."""
    C, H, W = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    x = numbers(draw, (C, H, W), exact)
    layers: list = []
    # The computed conventions (SPEC section 7): the terms follow each choice. Pool padding
    # is 0 or same (an int could pass half of a 1-wide window); same is split at the end or
    # start (symmetric refuses odd totals and strides).
    conventions = {"pool_ceil": draw(st.booleans()),
                   "pool_padding": draw(st.sampled_from([0, "same"])),
                   "same_padding": draw(st.sampled_from(["end", "start"])),
                   "avg_count_padding": draw(st.booleans()),
                   "max_ties": draw(st.sampled_from(["first", "last", "all", "split"])),
                   "kink": draw(st.sampled_from([0, 1, "1/2"]))}
    shape = (C, H, W)
    # softmax and log_softmax (float64 only) normalise the channels of maps, or every value
    # of a vector
    activations = ["relu", "leaky_relu"] + ([] if exact else ["sigmoid", "tanh", "softmax",
                                                               "log_softmax"])
    for _ in range(draw(st.integers(1, 2))):
        C, H, W = shape
        F, KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
        pad = [draw(st.integers(0, 2)) for _ in range(4)]
        sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        Hp, Wp = H + pad[0] + pad[1], W + pad[2] + pad[3]
        if Hp < dh * (KH - 1) + 1 or Wp < dw * (KW - 1) + 1:
            pad = [0, 0, 0, 0]
            KH, KW, dh, dw = 1, 1, 1, 1
            Hp, Wp = H, W
        OH, OW = (Hp - dh * (KH - 1) - 1) // sh + 1, (Wp - dw * (KW - 1) - 1) // sw + 1
        layers.append({"conv": {"kernel": numbers(draw, (F, C, KH, KW), exact),
                                "bias": list(numbers(draw, (F,), exact)),
                                "stride": [sh, sw], "padding": pad, "dilation": [dh, dw],
                                "flip_kernel": draw(st.booleans())}})
        shape = (F, OH, OW)
        if draw(st.booleans()):
            shape = conv_transpose(draw, layers, shape, exact)
            F, OH, OW = shape
        if not exact and draw(st.booleans()):
            layers.append(batch_norm(draw, shape))
        if draw(st.booleans()):
            name = draw(st.sampled_from(activations))
            layers.append({name: {"slope": Fraction(1, 10)}} if name == "leaky_relu" else name)
        if draw(st.booleans()) and min(OH, OW) >= 1:
            ph, pw = draw(st.integers(1, min(OH, 2))), draw(st.integers(1, min(OW, 2)))
            ps, pt = draw(st.integers(1, 2)), draw(st.integers(1, 2))
            kind = draw(st.sampled_from(["max_pool", "avg_pool"]))
            layers.append({kind: {"size": [ph, pw], "stride": [ps, pt]}})
            if conventions["pool_padding"] == "same":  # Ho = ceil(H / s), whatever else
                shape = (F, -(-OH // ps), -(-OW // pt))
            else:
                shape = (F, ref._pool_size(OH, ph, ps, 0, 0, conventions["pool_ceil"]),
                         ref._pool_size(OW, pw, pt, 0, 0, conventions["pool_ceil"]))
    if draw(st.booleans()):
        layers.append("flatten")
        n = int(np.prod(shape))
        M = draw(st.integers(1, 3))
        layers.append({"dense": {"weights": numbers(draw, (M, n), exact),
                                 "bias": list(numbers(draw, (M,), exact))}})
        shape = (M,)
        if not exact and draw(st.booleans()):  # one sample: a vector's statistics are given
            layers.append(batch_norm(draw, shape))
        if draw(st.booleans()):
            layers.append(draw(st.sampled_from(activations)))
    problem = {"input": x, "layers": layers, "grad_output": numbers(draw, shape, exact),
               "conventions": conventions}
    if draw(st.booleans()):
        problem["learning_rate"] = Fraction(1, 4)
    return problem


def conv_transpose(draw, layers: list, shape: tuple[int, ...], exact: bool) -> tuple[int, ...]:
    """A conv_transpose layer on maps of `shape` (groups, padding, output_padding, dilation);
    the shape of its output."""
    C, H, W = shape
    G = draw(st.sampled_from([g for g in (1, 2) if C % g == 0]))
    Fg, KH, KW = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    oh, ow = draw(st.integers(0, max(sh, dh) - 1)), draw(st.integers(0, max(sw, dw) - 1))
    OH = (H - 1) * sh - 2 * ph + dh * (KH - 1) + oh + 1
    OW = (W - 1) * sw - 2 * pw + dw * (KW - 1) + ow + 1
    if OH < 1 or OW < 1:
        ph = pw = 0
        OH, OW = (H - 1) * sh + dh * (KH - 1) + oh + 1, (W - 1) * sw + dw * (KW - 1) + ow + 1
    layers.append({"conv_transpose": {"kernel": numbers(draw, (C, Fg, KH, KW), exact),
                                      "bias": list(numbers(draw, (Fg * G,), exact)),
                                      "stride": [sh, sw], "padding": [ph, pw],
                                      "output_padding": [oh, ow], "dilation": [dh, dw],
                                      "groups": G}})
    return (Fg * G, OH, OW)


def batch_norm(draw, shape: tuple[int, ...]) -> dict:
    """A batch_norm layer (float64 only): train mode on maps of more than one value, eval mode
    (random running statistics) otherwise."""
    C = shape[0]
    spec = {"gamma": list(numbers(draw, (C,), False)), "beta": list(numbers(draw, (C,), False)),
            "eps": draw(st.sampled_from([1e-5, 0.1]))}
    if len(shape) == 1 or shape[1] * shape[2] == 1:
        spec.update(mode="eval", running_mean=list(numbers(draw, (C,), False)),
                    running_var=[abs(v) + 0.5 for v in numbers(draw, (C,), False)])
    return {"batch_norm": spec}


def check_terms(problem: dict, exact: bool) -> int:
    """Hold every expanded entry of every layer against the engine; the number of entries."""
    solved = run(load_problem(problem), exact=exact)
    checked = 0
    for layer in solved.passes:
        arrays = layer.arrays()
        # A sum that cancels to near 0 is exact only to the rounding of its largest terms.
        sizes = {key: np.abs(value) for key, value in arrays.items()} if not exact else {}
        for of in layer.expanded:
            values = arrays[of]
            for index in np.ndindex(values.shape):
                terms = layer.terms(of, index)
                got = evaluate(terms, arrays)
                want = values[index]
                where = f"{layer.name}.{of}{list(index)}"
                if exact:
                    assert got == want, f"{where}: terms give {got}, the engine {want}"
                else:
                    size = abs(float(evaluate(terms, sizes)))  # the sum of |each product|
                    assert np.isclose(float(got), float(want), rtol=1e-9,
                                      atol=1e-12 * max(1.0, size)), \
                        f"{where}: terms give {got}, the engine {want}"
                checked += 1
    return checked


@TERMS
@given(problem=networks(exact=True))
def test_every_term_adds_up_to_the_engine_value_exactly(problem):
    assert check_terms(problem, exact=True) > 0


@TERMS
@given(problem=networks(exact=False))
def test_every_term_adds_up_to_the_engine_value_in_float64(problem):
    assert check_terms(problem, exact=False) > 0


def test_terms_of_the_seed_example():
    """The seed's numbers (SPEC section 2), term by term: y11 = 1·1 + 2·0 + 4·(-1) + 5·1 + 1.
    Indices of inputs and outputs name the sample first (one sample: n = 0)."""
    problem = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1", "bias": 1,
               "target": "1 0; 0 1", "loss": "mse"}
    conv = run(load_problem(problem)).passes[0]
    assert conv.out_terms(0, 0, 0, 0) == ([((0, 0, 0, 0), (0, 0, 0, 0)),
                                           ((0, 0, 0, 1), (0, 0, 0, 1)),
                                           ((0, 0, 1, 0), (0, 0, 1, 0)),
                                           ((0, 0, 1, 1), (0, 0, 1, 1))], (0,))
    assert evaluate(conv.terms("out", (0, 0, 0, 0)), conv.arrays()) == 3
    # dL/dx22 = dL/dy11·w22 + dL/dy12·w21 + dL/dy21·w12 + dL/dy22·w11 = 1 - 2 + 0 + 3
    assert conv.dx_terms(0, 0, 1, 1) == [((0, 0, 0, 0), (0, 0, 1, 1)),
                                         ((0, 0, 0, 1), (0, 0, 1, 0)),
                                         ((0, 0, 1, 0), (0, 0, 0, 1)),
                                         ((0, 0, 1, 1), (0, 0, 0, 0))]
    assert evaluate(conv.terms("dx", (0, 0, 1, 1)), conv.arrays()) == 2
    assert evaluate(conv.terms("dw", (0, 0, 0, 0)), conv.arrays()) == 32
    assert evaluate(conv.terms("db", (0,)), conv.arrays()) == 9


def test_padding_taps_have_no_input_and_uncovered_inputs_no_terms():
    problem = {"input": "1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16", "kernel": "1 2; 3 4",
               "padding": 1, "stride": 3, "grad_output": "1 1; 1 1"}
    conv = run(load_problem(problem)).passes[0]
    taps, bias = conv.out_terms(0, 0, 0, 0)
    assert [x for x, _ in taps] == [None, None, None, (0, 0, 0, 0)]
    assert conv.dx_terms(0, 0, 1, 1) == []  # row 2 and column 2 never meet the kernel
    assert conv.dx.tolist() == [[[[4, 0, 3, 4], [0, 0, 0, 0], [2, 0, 1, 2], [4, 0, 3, 4]]]]


# --- conv layers' maps against loops over every tap --------------------------------------
# Each case: input (N, C, H, W), kernel (F, C/G, KH, KW), and the layer's settings; every
# padding mode, strides and dilations that leave inputs unread, groups, batches, flip.
CONV_CASES = {
    "zeros_groups_batch_flip": ((2, 4, 5, 6), (4, 2, 2, 3),
                                {"padding": [2, 1, 0, 2], "stride": [2, 3], "dilation": [1, 2],
                                 "groups": 2, "flip_kernel": True}),
    "reflect_dilated": ((1, 2, 5, 6), (3, 2, 3, 2),
                        {"padding": [2, 2, 1, 1], "dilation": [2, 1],
                         "padding_mode": "reflect"}),
    "reflect_flip_copies_in_one_window": ((1, 1, 4, 4), (2, 1, 3, 3),
                                          {"padding": 2, "padding_mode": "reflect",
                                           "flip_kernel": True}),
    "replicate_stride_batch": ((2, 1, 4, 5), (2, 1, 3, 3),
                               {"padding": 3, "stride": 2, "padding_mode": "replicate"}),
    "circular_depthwise_batch": ((2, 3, 4, 4), (6, 1, 2, 2),
                                 {"padding": [1, 2, 2, 1], "dilation": [2, 1], "groups": 3,
                                  "padding_mode": "circular", "flip_kernel": True}),
    "unpadded_stride_skips_inputs": ((1, 2, 7, 7), (2, 2, 2, 2), {"stride": 3}),
}


def conv_case(case: str, exact: bool = True):
    """The case's conv layer after a run with grad_output (small random ints, or floats)."""
    x_shape, w_shape, settings_ = CONV_CASES[case]
    rng = np.random.default_rng(len(case))
    N, _, H, W = x_shape
    F, _, KH, KW = w_shape
    pad = settings_.get("padding", 0)
    top, bottom, left, right = pad if isinstance(pad, list) else [pad] * 4
    stride, dilation = settings_.get("stride", 1), settings_.get("dilation", 1)
    sh, sw = stride if isinstance(stride, list) else [stride] * 2
    dh, dw = dilation if isinstance(dilation, list) else [dilation] * 2
    OH = (H + top + bottom - dh * (KH - 1) - 1) // sh + 1
    OW = (W + left + right - dw * (KW - 1) - 1) // sw + 1

    def values(shape: tuple[int, ...]) -> list:
        v = rng.integers(-4, 5, shape)
        return v.tolist() if exact else (v / 4).tolist()

    problem = {"input": values(x_shape),
               "layers": [{"conv": {"kernel": values(w_shape), "bias": values((F,)),
                                    **settings_}}],
               "grad_output": values((N, F, OH, OW))}
    return run(load_problem(problem), exact=exact).passes[0]


def loop_terms(conv) -> tuple[dict, dict, dict, dict]:
    """out, dw, db, dx terms by loops over every output and tap (reference.py's conv_backward
    walk, padding by reference._source), each in the order its docstring gives: out's taps
    in (c, p, q) order, dw's and db's outputs sample by sample, dx's by output, then weight."""
    N, C, H, W = conv.x.shape
    F, Cg, KH, KW = conv.w.shape
    _, _, OH, OW = conv.out.shape
    (sh, sw), (dh, dw_), (top, _, left, _) = conv.stride, conv.dilation, conv.pad
    Fg = F // conv.groups
    out: dict = {}
    dw: dict = {index: [] for index in np.ndindex(F, Cg, KH, KW)}
    db: dict = {(f,): [] for f in range(F)}
    dx: dict = {index: [] for index in np.ndindex(N, C, H, W)}
    for n, f, i, j in np.ndindex(N, F, OH, OW):
        o = (n, f, i, j)
        db[(f,)].append(o)
        taps = []
        for c, p, q in np.ndindex(Cg, KH, KW):
            channel = f // Fg * Cg + c
            r = ref._source(i * sh + p * dh - top, H, conv.mode)
            s = ref._source(j * sw + q * dw_ - left, W, conv.mode)
            w_index = (f, c, KH - 1 - p, KW - 1 - q) if conv.flip else (f, c, p, q)
            x_index = (n, channel, r, s) if r >= 0 and s >= 0 else None
            taps.append((x_index, w_index))
            if x_index is not None:
                dw[w_index].append((o, x_index))
                dx[x_index].append((o, w_index))
        out[o] = taps
    for met in dx.values():
        met.sort()
    return out, dw, db, dx


def flat(indices: list, shape: tuple[int, ...]) -> list[int]:
    return [-1 if index is None else int(np.ravel_multi_index(index, shape))
            for index in indices]


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_terms_and_maps_match_loops_over_every_tap(case):
    conv = conv_case(case)
    out, dw, db, dx = loop_terms(conv)
    x, w, dout = conv.x.shape, conv.w.shape, conv.out.shape
    for index, taps in out.items():
        assert conv.out_terms(*index) == (taps, index[1:2]), index
        x_at, w_at = conv.out_map(*index)
        assert x_at.tolist() == flat([t[0] for t in taps], x)
        assert w_at.tolist() == flat([t[1] for t in taps], w)
    for index, met in dw.items():
        grid = conv.dw_terms(*index)
        assert list(grid) == met and [grid[k] for k in range(len(grid))] == met, index
        dout_at, x_at = conv.dw_map(*index)
        assert dout_at.tolist() == flat([m[0] for m in met], dout)
        assert x_at.tolist() == flat([m[1] for m in met], x)
    for (f,), outputs in db.items():
        assert list(conv.db_terms(f)) == outputs
        assert conv.db_map(f).tolist() == flat(outputs, dout)
    for index, met in dx.items():
        assert conv.dx_terms(*index) == met, index
        dout_at, w_at = conv.dx_map(*index)
        assert dout_at.tolist() == flat([m[0] for m in met], dout)
        assert w_at.tolist() == flat([m[1] for m in met], w)
    if case == "unpadded_stride_skips_inputs":  # the empty sums are among those held
        assert any(not met for met in dx.values())


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv_terms_add_up_to_the_engine_value_in_every_padding_mode_and_group(case):
    conv = conv_case(case)
    arrays = conv.arrays()
    for of in conv.expanded:
        for index in np.ndindex(arrays[of].shape):
            assert evaluate(conv.terms(of, index), arrays) == arrays[of][index], (of, index)


@pytest.mark.parametrize("exact", [True, False])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_sums_written_from_index_arrays_are_the_sums_written_term_by_term(case, exact):
    """The terminal writes a conv layer's numeric sums from their index arrays (Products):
    the same text as term_text writes term by term, for every expansion of every group."""
    from dataclasses import replace

    from convgrad.render.terminal import written
    from convgrad.trace import Terms, Trace

    conv = conv_case(case, exact)
    solved = run(load_problem({"input": conv.x.tolist(), "layers": [
        {"conv": {"kernel": conv.w.tolist(), "bias": conv.b.tolist(),
                  "stride": list(conv.stride), "dilation": list(conv.dilation),
                  "padding": list(conv.pad), "padding_mode": conv.mode,
                  "groups": conv.groups, "flip_kernel": conv.flip}}],
        "grad_output": conv.d_out.tolist()}), exact=exact)
    checked = 0
    for section in Trace(solved).sections():
        for group in section.groups:
            for k in range(group.count):
                numeric = group.make(k).numeric
                if isinstance(numeric, Terms) and numeric.products is not None:
                    by_term = replace(numeric, products=None)
                    assert written(numeric, False) == written(by_term, False)
                    assert [numeric.term(item) for item in numeric.items] == \
                        [by_term.term(item) for item in by_term.items]
                    checked += 1
    N, C, H, W = conv.x.shape
    F, Cg, KH, KW = conv.w.shape
    assert checked == conv.out.size + conv.w.size + F + conv.x.size
