"""PyTorch as an independent oracle for convgrad's float64 results (SPEC sections 1, 2, 4, 5).

Optional: the whole module is skipped when torch is not installed. Every problem is a dict
with full shapes (input C x H x W, kernel F x C x kh x kw, bias a list of F values), solved
with ``exact=False`` and compared, key by key, with torch float64 autograd. Where torch's
defaults differ from SPEC, the torch side follows SPEC: asymmetric padding goes through
``F.pad``, "same" padding is worked out here from SPEC's formula (extra row/column at the
bottom/right), a flipped kernel is ``torch.flip(w, [2, 3])`` with dW taken for ``w``, and
cross_entropy is a softmax over every element of Y.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import convgrad  # noqa: E402

RTOL = 1e-9
ATOL = 1e-12
SEED = 20240613
N_SINGLE = 200
N_NETWORKS = 60

ACTIVATIONS = ("none", "relu", "leaky_relu", "leaky_relu_slope", "sigmoid", "tanh")
LOSSES = ("mse", "sse", "half_sse", "mae", "bce", "cross_entropy", "grad_output")
PADDING_KINDS = ("int", "pair", "four", "same", "valid")

# The largest relative error seen, |convgrad - torch| / |torch| over entries with
# |torch| > 1e-6, and the largest absolute error; for the report, not for passing.
ERRORS = {"max_rel": 0.0, "max_abs": 0.0, "compared": 0}


# --------------------------------------------------------------------------- helpers


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def same_padding(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """SPEC section 2: Ho = ceil(H / s); total = max((Ho-1)*s + d*(k-1) + 1 - H, 0)."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def four_sided(padding, H, W, kh, kw, stride, dilation) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) for any padding form of SPEC section 1."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        top, bottom = same_padding(H, kh, stride[0], dilation[0])
        left, right = same_padding(W, kw, stride[1], dilation[1])
        return top, bottom, left, right
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    return tuple(padding)


def conv_out(size: int, pad: int, k: int, s: int, d: int) -> int:
    return (size + pad - d * (k - 1) - 1) // s + 1


def t64(array) -> torch.Tensor:
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64,
                        requires_grad=True)


def to_np(tensor) -> np.ndarray:
    return tensor.detach().numpy()


def compare(what: str, actual, expected) -> None:
    if isinstance(expected, torch.Tensor):
        expected = to_np(expected)
    expected = np.asarray(expected, dtype=np.float64)
    assert not isinstance(actual, (list, tuple)), what
    actual_arr = np.asarray(actual)
    assert actual_arr.dtype != object, f"{what}: not float64 ({actual_arr.dtype})"
    actual_arr = actual_arr.astype(np.float64)
    assert actual_arr.shape == expected.shape, \
        f"{what}: shape {actual_arr.shape}, torch has {expected.shape}"
    np.testing.assert_allclose(actual_arr, expected, rtol=RTOL, atol=ATOL, err_msg=what)
    diff = np.abs(actual_arr - expected)
    if diff.size:
        ERRORS["max_abs"] = max(ERRORS["max_abs"], float(diff.max()))
        big = np.abs(expected) > 1e-6
        if big.any():
            ERRORS["max_rel"] = max(ERRORS["max_rel"],
                                    float((diff[big] / np.abs(expected[big])).max()))
    ERRORS["compared"] += 1


def torch_activation(z, name: str, slope: float | None):
    if name == "relu":
        return F.relu(z)
    if name == "leaky_relu":
        return F.leaky_relu(z, negative_slope=0.01 if slope is None else slope)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "tanh":
        return torch.tanh(z)
    raise AssertionError(name)


def torch_loss(y, target, loss: str):
    t = torch.tensor(np.asarray(target, dtype=np.float64), dtype=torch.float64)
    if loss == "mse":
        return F.mse_loss(y, t, reduction="mean")
    if loss == "sse":
        return ((y - t) ** 2).sum()
    if loss == "half_sse":
        return 0.5 * ((y - t) ** 2).sum()
    if loss == "mae":
        return F.l1_loss(y, t, reduction="mean")
    if loss == "bce":
        return F.binary_cross_entropy(y, t, reduction="mean")
    if loss == "cross_entropy":
        return -(t.reshape(-1) * F.log_softmax(y.reshape(-1), dim=0)).sum()
    raise AssertionError(loss)


def make_objective(rng: np.random.Generator, loss: str, shape: tuple[int, ...]) -> dict:
    """target + loss (or grad_output) for an output of this shape."""
    if loss == "grad_output":
        return {"grad_output": rng.standard_normal(shape)}
    if loss == "bce":
        target = rng.uniform(0.0, 1.0, shape)
    elif loss == "cross_entropy":
        n = int(np.prod(shape))
        if rng.random() < 0.4:  # one-hot
            target = np.zeros(n)
            target[rng.integers(n)] = 1.0
        else:  # a distribution of dyadic rationals: sums to exactly 1 in float64
            counts = rng.multinomial(64, np.full(n, 1.0 / n))
            target = counts / 64.0
        target = target.reshape(shape)
    else:
        target = rng.standard_normal(shape)
    return {"target": target, "loss": loss}


def torch_backward(y, objective: dict):
    """Backward from y; returns the loss tensor (or None with grad_output)."""
    if "grad_output" in objective:
        y.backward(torch.tensor(np.asarray(objective["grad_output"]), dtype=torch.float64))
        return None
    loss = torch_loss(y, objective["target"], objective["loss"])
    loss.backward()
    return loss


# --------------------------------------------------------------------------- single layer


def single_case(i: int) -> dict:
    """Case i of the seeded grid; every feature cycles so each one is sure to appear."""
    rng = np.random.default_rng([SEED, i])
    activation = ACTIVATIONS[i % len(ACTIVATIONS)]
    loss = LOSSES[(i // len(ACTIVATIONS)) % len(LOSSES)]
    padding_kind = PADDING_KINDS[i % len(PADDING_KINDS)]
    if loss == "bce":
        activation = "sigmoid"
    pool_kind = ("none", "max", "max_overlap", "avg")[(i + i // len(ACTIVATIONS)) % 4]
    while True:
        C, Fn = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        H, W = int(rng.integers(4, 10)), int(rng.integers(4, 10))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        if rng.random() < 0.6 and kh == kw:  # mostly non-square kernels
            kw = 1 + (kw % 3)
        stride = [1, 2, (2, 1), (1, 2), 3][int(rng.integers(0, 5))]
        if i % 11 == 0:
            stride = (2, 1)
        dilation = [1, 2, (1, 2), (2, 1)][int(rng.integers(0, 4))]
        if padding_kind == "int":
            padding = int(rng.integers(0, 3))
        elif padding_kind == "pair":
            padding = [int(rng.integers(0, 3)), int(rng.integers(0, 3))]
        elif padding_kind == "four":
            padding = [int(v) for v in rng.integers(0, 3, size=4)]
        else:
            padding = padding_kind
        s, d = _pair(stride), _pair(dilation)
        top, bottom, left, right = four_sided(padding, H, W, kh, kw, s, d)
        Ho = conv_out(H, top + bottom, kh, s[0], d[0])
        Wo = conv_out(W, left + right, kw, s[1], d[1])
        if Ho < 1 or Wo < 1:
            continue
        pool = None
        if pool_kind != "none":
            size = [int(rng.integers(1, 4)), int(rng.integers(2, 4))]
            if pool_kind == "max_overlap":
                pool = {"type": "max", "size": size, "stride": 1}
            elif pool_kind == "max":
                pool = {"type": "max", "size": size}
                if rng.random() < 0.5:
                    pool["stride"] = [1, int(rng.integers(1, 3))]
            else:
                pool = {"type": "avg", "size": size}
                if rng.random() < 0.5:
                    pool["stride"] = [int(rng.integers(1, 3)), 1]
            if Ho < size[0] or Wo < size[1]:
                continue
        break
    problem: dict = {
        "name": f"torch oracle case {i}",
        "input": rng.standard_normal((C, H, W)),
        "kernel": rng.standard_normal((Fn, C, kh, kw)),
        "bias": [float(v) for v in rng.standard_normal(Fn)],
        "stride": stride if isinstance(stride, int) else list(stride),
        "padding": padding,
        "dilation": dilation if isinstance(dilation, int) else list(dilation),
        "flip_kernel": bool(i % 2),
    }
    slope = None
    if activation == "leaky_relu":
        problem["activation"] = "leaky_relu"
    elif activation == "leaky_relu_slope":
        slope = float(rng.choice([0.1, 0.2, 0.25, 0.3]))
        problem["activation"] = {"name": "leaky_relu", "slope": slope}
    elif activation != "none":
        problem["activation"] = activation
    if pool is not None:
        problem["pool"] = pool
    if rng.random() < 0.3:
        problem["learning_rate"] = float(rng.choice([0.5, 0.1, 0.05, 0.01]))
    # the output shape, to size the target
    ph = pw = 1
    psh = psw = 1
    Ho_final, Wo_final = Ho, Wo
    if pool is not None:
        ph, pw = _pair(pool["size"])
        psh, psw = _pair(pool.get("stride", pool["size"]))
        Ho_final = (Ho - ph) // psh + 1
        Wo_final = (Wo - pw) // psw + 1
    problem.update(make_objective(rng, loss, (Fn, Ho_final, Wo_final)))
    return {"problem": problem, "pad": (top, bottom, left, right), "slope": slope,
            "activation": activation.replace("_slope", ""), "loss": loss,
            "conv_shape": (Fn, Ho, Wo)}


def torch_single(case: dict) -> dict:
    p = case["problem"]
    x, w, b = t64(p["input"]), t64(p["kernel"]), t64(p["bias"])
    top, bottom, left, right = case["pad"]
    xpad = F.pad(x.unsqueeze(0), (left, right, top, bottom))
    weff = torch.flip(w, [2, 3]) if p["flip_kernel"] else w
    z = F.conv2d(xpad, weff, b, stride=_pair(p["stride"]), dilation=_pair(p["dilation"]))[0]
    z.retain_grad()
    out = {"Z": z}
    y = z
    if case["activation"] != "none":
        a = torch_activation(z, case["activation"], case["slope"])
        a.retain_grad()
        out["A"] = y = a
    if "pool" in p:
        pool = p["pool"]
        size = _pair(pool["size"])
        stride = _pair(pool.get("stride", pool["size"]))
        if pool["type"] == "max":
            y = F.max_pool2d(y.unsqueeze(0), size, stride)[0]
        else:
            y = F.avg_pool2d(y.unsqueeze(0), size, stride)[0]
        y.retain_grad()
    loss = torch_backward(y, p)
    expected = {"Y": y, "dY": y.grad, "dW": w.grad, "db": b.grad, "dX": x.grad}
    if loss is not None:
        expected["loss"] = loss
    has_act, has_pool = case["activation"] != "none", "pool" in p
    if has_act or has_pool:
        expected["Z"], expected["dZ"] = z, z.grad
    if has_act and has_pool:
        expected["A"], expected["dA"] = out["A"], out["A"].grad
    if "learning_rate" in p:
        lr = p["learning_rate"]
        expected["W_new"] = w.detach() - lr * w.grad
        expected["b_new"] = b.detach() - lr * b.grad
    return expected


SINGLE_CASES = [single_case(i) for i in range(N_SINGLE)]

# Cases where convgrad disagrees with SPEC (checked by hand against SPEC, not only torch):
# index -> reason. Each is kept in the grid as a strict xfail.
KNOWN_SINGLE_DISAGREEMENTS: dict[int, str] = {}


def _single_params():
    for i, case in enumerate(SINGLE_CASES):
        marks = ()
        if i in KNOWN_SINGLE_DISAGREEMENTS:
            marks = pytest.mark.xfail(strict=True, reason=KNOWN_SINGLE_DISAGREEMENTS[i])
        yield pytest.param(case, id=f"case{i:03d}", marks=marks)


@pytest.mark.parametrize("case", list(_single_params()))
def test_single_layer_matches_torch(case):
    result = convgrad.solve(case["problem"], exact=False)
    expected = torch_single(case)
    assert set(result) - {"warnings", "conventions"} == set(expected), \
        f"keys {sorted(set(result) - {'warnings'})}, expected {sorted(expected)}"
    for key, value in expected.items():
        compare(key, result[key], value)
    if "loss" in expected:
        assert isinstance(result["loss"], float)


def test_single_grid_covers_the_brief():
    """The seeded grid really holds every feature the oracle is meant to cover."""
    cases = SINGLE_CASES
    assert len(cases) >= 150
    problems = [c["problem"] for c in cases]
    assert {p["input"].shape[0] for p in problems} == {1, 2, 3}
    assert {p["kernel"].shape[0] for p in problems} == {1, 2, 3}
    assert {p["input"].shape[1] for p in problems} == set(range(4, 10))
    assert {p["input"].shape[2] for p in problems} == set(range(4, 10))
    assert any(p["kernel"].shape[2] != p["kernel"].shape[3] for p in problems)
    assert any(list(p["stride"]) == [2, 1] for p in problems if not isinstance(p["stride"], int))
    assert any(isinstance(p["padding"], list) and len(p["padding"]) == 4
               and len(set(p["padding"])) > 1 for p in problems)
    same = [c for c in cases if c["problem"]["padding"] == "same"]
    totals = {(t + b) % 2 for c in same for t, b in (c["pad"][:2], c["pad"][2:])}
    assert totals == {0, 1}, "'same' with both odd and even padding totals"
    assert any(sum(c["pad"][:2]) % 2 == 1 and c["pad"][1] == c["pad"][0] + 1 for c in same)
    assert any(p["dilation"] != 1 for p in problems)
    assert {p["flip_kernel"] for p in problems} == {True, False}
    assert {c["activation"] for c in cases} == {"none", "relu", "leaky_relu", "sigmoid", "tanh"}
    assert any(c["slope"] is not None for c in cases)
    assert {c["loss"] for c in cases} == set(LOSSES)
    assert all(c["problem"].get("activation") == "sigmoid"
               for c in cases if c["loss"] == "bce")
    pools = [p["pool"] for p in problems if "pool" in p]
    assert any(q["type"] == "max" and q.get("stride") == 1 for q in pools)
    assert any(q["type"] == "avg" for q in pools)
    assert any("learning_rate" in p for p in problems)


# --------------------------------------------------------------------------- networks


def _conv_spec(rng, C: int, H: int, W: int, allow_stride: bool = True):
    """A random conv layer on C x H x W that leaves at least a 2 x 2 output."""
    while True:
        Fn = int(rng.integers(1, 4))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        stride = [1, (2, 1), 2][int(rng.integers(0, 3 if allow_stride else 1))]
        dilation = [1, 1, (2, 1), 2][int(rng.integers(0, 4))]
        padding = [0, 1, [1, 0], [0, 1, 1, 0], "same", "valid"][int(rng.integers(0, 6))]
        s, d = _pair(stride), _pair(dilation)
        pad = four_sided(padding, H, W, kh, kw, s, d)
        Ho = conv_out(H, pad[0] + pad[1], kh, s[0], d[0])
        Wo = conv_out(W, pad[2] + pad[3], kw, s[1], d[1])
        if Ho >= 2 and Wo >= 2:
            break
    spec = {"kernel": rng.standard_normal((Fn, C, kh, kw)),
            "bias": [float(v) for v in rng.standard_normal(Fn)],
            "stride": stride if isinstance(stride, int) else list(stride),
            "padding": padding,
            "dilation": dilation if isinstance(dilation, int) else list(dilation),
            "flip_kernel": bool(rng.random() < 0.3)}
    return {"conv": spec}, pad, (Fn, Ho, Wo)


def _activation_layer(rng, names=("relu", "leaky_relu", "leaky_relu_slope", "tanh", "sigmoid")):
    name = names[int(rng.integers(0, len(names)))]
    if name == "leaky_relu_slope":
        slope = float(rng.choice([0.1, 0.2, 0.3]))
        return {"leaky_relu": {"slope": slope}}, ("leaky_relu", slope)
    return name, (name, None)


def network_case(i: int) -> dict:
    """Network i: kinds A (conv -> act -> pool -> flatten -> dense), B (conv -> conv),
    C (dense -> tanh -> dense with a learning rate)."""
    rng = np.random.default_rng([SEED, 1000 + i])
    kind = "ABC"[i % 3]
    layers: list = []
    torch_layers: list = []  # (type, payload) for the torch side
    loss = ("mse", "sse", "half_sse", "mae", "cross_entropy", "bce", "grad_output")[
        (i // 3) % 7]
    if kind == "A":
        C, H, W = int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10))
        x = rng.standard_normal((C, H, W))
        conv, pad, (Fn, Ho, Wo) = _conv_spec(rng, C, H, W, allow_stride=False)
        layers.append(conv)
        torch_layers.append(("conv", pad))
        act, act_info = _activation_layer(rng, ("relu", "leaky_relu", "leaky_relu_slope"))
        if i % 2 == 0:
            act, act_info = "relu", ("relu", None)
        layers.append(act)
        torch_layers.append(("act", act_info))
        pool_type = "max_pool" if i % 4 != 3 else "avg_pool"
        size = [2, int(rng.integers(1, 3))]
        pstride = [1, 1] if rng.random() < 0.6 else size
        layers.append({pool_type: {"size": size, "stride": pstride}})
        torch_layers.append((pool_type, (size, pstride)))
        Hp, Wp = (Ho - size[0]) // pstride[0] + 1, (Wo - size[1]) // pstride[1] + 1
        layers.append("flatten")
        torch_layers.append(("flatten", None))
        n_out = int(rng.integers(2, 5))
        layers.append({"dense": {"weights": rng.standard_normal((n_out, Fn * Hp * Wp)) * 0.3,
                                 "bias": [float(v) for v in rng.standard_normal(n_out)]}})
        torch_layers.append(("dense", None))
        out_shape: tuple[int, ...] = (n_out,)
    elif kind == "B":
        C, H, W = int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10))
        x = rng.standard_normal((C, H, W))
        conv, pad, (Fn, Ho, Wo) = _conv_spec(rng, C, H, W)
        layers.append(conv)
        torch_layers.append(("conv", pad))
        if rng.random() < 0.5:
            act, act_info = _activation_layer(rng, ("relu", "leaky_relu_slope", "tanh"))
            layers.append(act)
            torch_layers.append(("act", act_info))
        conv2, pad2, out_shape = _conv_spec(rng, Fn, Ho, Wo, allow_stride=False)
        layers.append(conv2)
        torch_layers.append(("conv", pad2))
    else:
        n_in, n_hidden, n_out = (int(v) for v in rng.integers(2, 7, size=3))
        x = rng.standard_normal(n_in)
        layers.append({"dense": {"weights": rng.standard_normal((n_hidden, n_in)),
                                 "bias": [float(v) for v in rng.standard_normal(n_hidden)]}})
        torch_layers.append(("dense", None))
        layers.append("tanh")
        torch_layers.append(("act", ("tanh", None)))
        layers.append({"dense": {"weights": rng.standard_normal((n_out, n_hidden)),
                                 "bias": [float(v) for v in rng.standard_normal(n_out)]}})
        torch_layers.append(("dense", None))
        out_shape = (n_out,)
    if loss == "bce":
        layers.append("sigmoid")
        torch_layers.append(("act", ("sigmoid", None)))
    problem: dict = {"name": f"torch oracle network {i}", "input": x, "layers": layers}
    if kind == "C" or rng.random() < 0.3:
        problem["learning_rate"] = float(rng.choice([0.5, 0.1, 0.05]))
    problem.update(make_objective(rng, loss, out_shape))
    return {"problem": problem, "torch_layers": torch_layers, "kind": kind, "loss": loss}


FAMILY = {"conv": "conv", "max_pool": "pool", "avg_pool": "pool", "flatten": "flatten",
          "dense": "fc"}


def expected_names(layers: list) -> list[tuple[str, str]]:
    counts: dict[str, int] = {}
    out = []
    for layer in layers:
        type_ = layer if isinstance(layer, str) else next(iter(layer))
        family = FAMILY.get(type_, type_)
        counts[family] = counts.get(family, 0) + 1
        out.append((f"{family}{counts[family]}", type_))
    return out


def torch_network(case: dict) -> dict:
    p = case["problem"]
    x = t64(p["input"])
    h = x
    steps = []
    for layer, (kind, info) in zip(p["layers"], case["torch_layers"], strict=True):
        params = None
        if kind == "conv":
            spec = layer["conv"]
            w, b = t64(spec["kernel"]), t64(spec["bias"])
            top, bottom, left, right = info
            hp = F.pad(h.unsqueeze(0), (left, right, top, bottom))
            weff = torch.flip(w, [2, 3]) if spec["flip_kernel"] else w
            h = F.conv2d(hp, weff, b, stride=_pair(spec["stride"]),
                         dilation=_pair(spec["dilation"]))[0]
            params = (w, b)
        elif kind == "act":
            h = torch_activation(h, *info)
        elif kind in ("max_pool", "avg_pool"):
            size, stride = info
            op = F.max_pool2d if kind == "max_pool" else F.avg_pool2d
            h = op(h.unsqueeze(0), size, stride)[0]
        elif kind == "flatten":
            h = h.reshape(-1)
        elif kind == "dense":
            spec = layer["dense"]
            w, b = t64(spec["weights"]), t64(spec["bias"])
            h = F.linear(h, w, b)
            params = (w, b)
        h.retain_grad()
        steps.append((h, params))
    loss = torch_backward(h, p)
    expected_layers = []
    for out, params in steps:
        item = {"output": out, "d_output": out.grad}
        if params is not None:
            w, b = params
            item["dW"], item["db"] = w.grad, b.grad
            if "learning_rate" in p:
                lr = p["learning_rate"]
                item["W_new"] = w.detach() - lr * w.grad
                item["b_new"] = b.detach() - lr * b.grad
        expected_layers.append(item)
    expected = {"Y": h, "dY": h.grad, "dX": x.grad}
    if loss is not None:
        expected["loss"] = loss
    return {"top": expected, "layers": expected_layers}


NETWORK_CASES = [network_case(i) for i in range(N_NETWORKS)]
KNOWN_NETWORK_DISAGREEMENTS: dict[int, str] = {}


def _network_params():
    for i, case in enumerate(NETWORK_CASES):
        marks = ()
        if i in KNOWN_NETWORK_DISAGREEMENTS:
            marks = pytest.mark.xfail(strict=True, reason=KNOWN_NETWORK_DISAGREEMENTS[i])
        yield pytest.param(case, id=f"net{i:02d}{case['kind']}-{case['loss']}", marks=marks)


@pytest.mark.parametrize("case", list(_network_params()))
def test_network_matches_torch(case):
    p = case["problem"]
    result = convgrad.solve(p, exact=False)
    expected = torch_network(case)
    assert set(result) - {"warnings", "conventions"} == set(expected["top"]) | {"layers"}
    for key, value in expected["top"].items():
        compare(key, result[key], value)
    names = expected_names(p["layers"])
    assert [(lay["name"], lay["type"]) for lay in result["layers"]] == names
    for (name, _), got, want in zip(names, result["layers"], expected["layers"], strict=True):
        assert set(got) - {"name", "type"} == set(want), name
        for key, value in want.items():
            compare(f"{name}.{key}", got[key], value)


def test_network_grid_covers_the_brief():
    kinds = {(c["kind"], c["loss"]) for c in NETWORK_CASES}
    assert {k for k, _ in kinds} == {"A", "B", "C"}
    assert {loss for _, loss in kinds} >= {"mse", "sse", "half_sse", "mae", "cross_entropy",
                                           "bce", "grad_output"}
    types = {name for c in NETWORK_CASES for _, name in expected_names(c["problem"]["layers"])}
    assert types >= {"conv", "relu", "leaky_relu", "tanh", "sigmoid", "max_pool", "avg_pool",
                     "flatten", "dense"}
    assert all("learning_rate" in c["problem"] for c in NETWORK_CASES if c["kind"] == "C")


def test_learning_rate_step_is_w_minus_lr_dw():
    """dense -> tanh -> dense: W_new = W - lr * dW for every parametrised layer."""
    for case in NETWORK_CASES:
        p = case["problem"]
        if case["kind"] != "C":
            continue
        lr = p["learning_rate"]
        result = convgrad.solve(p, exact=False)
        for layer, spec in zip(result["layers"], p["layers"], strict=True):
            if layer["type"] != "dense":
                continue
            compare("W_new", layer["W_new"], spec["dense"]["weights"] - lr * layer["dW"])
            compare("b_new", layer["b_new"], np.asarray(spec["dense"]["bias"]) - lr * layer["db"])



# --------------------------------------------------------------------------- problem goldens


def _golden(name: str) -> dict:
    import json
    from pathlib import Path

    path = Path(__file__).parent / "golden" / "json" / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def same(what: str, value, expected) -> None:
    """A golden's JSON value (numbers in nested lists) against torch's tensor."""
    compare(what, np.asarray(value, dtype=np.float64), expected)


def test_batch_norm_problem_golden_matches_torch():
    """problems/batch_norm.yaml: conv (2 filters) -> BatchNorm2d (train) -> ReLU -> flatten
    -> Linear, MSE, one step of SGD with lr 1/10; every number of its golden from torch."""
    doc = _golden("batch_norm")
    x = t64([[[[1, 2, 0], [0, 1, 3], [2, 1, 1]]]])
    w = t64([[[[1, 0], [0, -1]]], [[[0, 1], [1, 1]]]])
    b = t64([0, 1])
    gamma, beta = t64([1, 2]), t64([0, 0.5])
    w2 = t64([[1, 0, -1, 0, 1, 0, -1, 0], [0, 1, 0, 1, 0, -1, 0, -1]])
    b2 = t64([0, 1])
    z = F.conv2d(x, w, b)
    n = F.batch_norm(z, None, None, gamma, beta, training=True, eps=1e-5)
    a = F.relu(n)
    f = a.reshape(1, -1)
    y = F.linear(f, w2, b2)
    outs = [z, n, a, f, y]
    for out in outs:
        out.retain_grad()
    loss = ((y - t64([[1, 0]])) ** 2).mean()
    loss.backward()
    same("loss", doc["loss"], loss)
    same("Y", doc["Y"], y[0])
    same("dY", doc["dY"], y.grad[0])
    same("dX", doc["dX"], x.grad[0, 0])
    conv, bn, relu, flat, fc = doc["layers"]
    for layer, out in zip(doc["layers"], outs, strict=True):
        same(f"{layer['name']}.output", layer["output"], out[0])
        same(f"{layer['name']}.d_output", layer["d_output"], out.grad[0])
    # conv1's kernel is written 3-D (F x kh x kw on one channel): dW and W_new mirror it.
    for layer, (p, q) in ((conv, (w, b)), (fc, (w2, b2))):
        shape = np.shape(layer["dW"])
        same(f"{layer['name']}.dW", layer["dW"], p.grad.reshape(shape))
        same(f"{layer['name']}.db", layer["db"], q.grad)
        same(f"{layer['name']}.W_new", layer["W_new"], (p - 0.1 * p.grad).reshape(shape))
        same(f"{layer['name']}.b_new", layer["b_new"], q - 0.1 * q.grad)
    same("batch_norm1.dgamma", bn["dgamma"], gamma.grad)
    same("batch_norm1.dbeta", bn["dbeta"], beta.grad)
    same("batch_norm1.gamma_new", bn["gamma_new"], gamma - 0.1 * gamma.grad)
    same("batch_norm1.beta_new", bn["beta_new"], beta - 0.1 * beta.grad)
    assert "exact" not in doc  # float64: sigma is a square root


def test_conv_transpose_problem_golden_matches_torch():
    """problems/conv_transpose.yaml: ConvTranspose2d, stride 2, half SSE against ones."""
    doc = _golden("conv_transpose")
    x, w, b = t64([[[[0, 1], [2, 3]]]]), t64([[[[0, 1], [2, 3]]]]), t64([0])
    y = F.conv_transpose2d(x, w, b, stride=2)
    y.retain_grad()
    loss = 0.5 * ((y - 1) ** 2).sum()
    loss.backward()
    layer = doc["layers"][0]
    same("loss", doc["loss"], loss)
    same("Y", doc["Y"], y[0])
    same("dY", doc["dY"], y.grad[0])
    same("dX", doc["dX"], x.grad[0, 0])
    same("dW", layer["dW"], w.grad[0, 0])
    same("db", layer["db"], b.grad)
    same("W_new", layer["W_new"], (w - 0.1 * w.grad)[0, 0])
    same("b_new", layer["b_new"], b - 0.1 * b.grad)
