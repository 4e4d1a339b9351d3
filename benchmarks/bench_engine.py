"""Engine speed: float64 forward + backward of one conv layer, convgrad against PyTorch.

Run: python benchmarks/bench_engine.py     (PyTorch side by side when it is installed)
Goal (issue 7): within 1.5 times PyTorch's CPU float64 time, same machine, same threads;
(issue 14) a batch of 8 within PyTorch's time. Layers: 64x56x56 input with 64 3x3 filters,
padding 1; 3x224x224 input with 64 7x7 filters, stride 2, padding 3; a batch of eight
64x56x56 images through the first layer. Also the peak memory of one pass against its
arrays' size (input, kernel, output, and their gradients).
"""

from __future__ import annotations

import tracemalloc
from functools import partial

import numpy as np
from _timing import machine, median_seconds

from convgrad.arith import Numbers
from convgrad.layers import ConvLayer
from convgrad.model import Conv, Layer

LAYERS = [  # name, batch size N, one sample's shape, kernel, stride, padding
    ("64x56x56, 64 3x3, pad 1", 1, (64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1)),
    ("3x224x224, 64 7x7, stride 2, pad 3", 1, (3, 224, 224), (64, 3, 7, 7), (2, 2),
     (3, 3, 3, 3)),
    ("8 x 64x56x56, 64 3x3, pad 1", 8, (64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1)),
]


def conv_layer(x, w, b, stride, pad):  # type: ignore[no-untyped-def]
    """The conv layer of a run on x (N, C, H, W), in float64, as the engine makes it."""
    F, _, KH, KW = w.shape
    OH = (x.shape[2] + pad[0] + pad[1] - KH) // stride[0] + 1
    OW = (x.shape[3] + pad[2] + pad[3] - KW) // stride[1] + 1
    op = Conv(w=w, b=b, stride=stride, pad=pad, dilation=(1, 1), flip=False,
              kernel_shape=w.shape, bias_scalar=False, padding_text=str(pad[0]))
    numbers = Numbers(exact=False, single=False, too_large=lambda key, what: ValueError(key))
    return ConvLayer(Layer("conv1", "conv", op, x.shape[1:], (F, OH, OW)), numbers)


def convgrad_pass(x, w, b, stride, pad):  # type: ignore[no-untyped-def]
    layer = conv_layer(x, w, b, stride, pad)
    z = layer.forward(x)
    dz = np.ones_like(z)  # dL/dZ of L = sum(Z)
    dx = layer.backward(dz)
    return dx, layer.dw, layer.db


def torch_pass(torch, x, w, b, stride, pad):  # type: ignore[no-untyped-def]
    z = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad[0])
    z.sum().backward()
    x.grad = w.grad = b.grad = None


def main() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"machine: {machine()}")
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("PyTorch is not installed: convgrad's figures only (pip install torch to compare)")
    print(f"{'layer':38} {'convgrad':>10} {'PyTorch':>10} {'ratio':>7} {'peak/arrays':>12}")
    for name, N, xs, ws, stride, pad in LAYERS:
        x, w, b = rng.normal(size=(N, *xs)), rng.normal(size=ws), rng.normal(size=ws[0])
        ours = median_seconds(partial(convgrad_pass, x, w, b, stride, pad))
        tracemalloc.start()
        dx, dw, db = convgrad_pass(x, w, b, stride, pad)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        arrays = x.nbytes + w.nbytes + dx.nbytes + dw.nbytes + 2 * 8 * N * ws[0] * (
            (xs[1] + 2 * pad[0] - ws[2]) // stride[0] + 1) ** 2
        theirs_text, ratio_text = "-", "-"
        if torch is not None:
            tx = torch.tensor(x, requires_grad=True)
            tw = torch.tensor(w, requires_grad=True)
            tb = torch.tensor(b, requires_grad=True)
            theirs = median_seconds(partial(torch_pass, torch, tx, tw, tb, stride, pad))
            theirs_text, ratio_text = f"{theirs * 1000:.1f} ms", f"{ours / theirs:.2f}x"
        print(f"{name:38} {ours * 1000:7.1f} ms {theirs_text:>10} {ratio_text:>7} "
              f"{peak / arrays:11.1f}x")


if __name__ == "__main__":
    main()
