"""The `solve --json` golden of problems/batch_cs231n_two_images.yaml, computed by PyTorch.

The problem file is read with PyYAML alone (its numbers are plain YAML numbers) and run
through torch.nn.Conv2d, ReLU, MaxPool2d, Flatten, Linear and CrossEntropyLoss (its default
mean over the batch) in float64; the values are laid out as convgrad's `solve --json` lays
them out (SPEC sections 3, 5 and 6). Nothing here uses convgrad.

Run: python tests/make_batch_golden.py   (writes tests/golden/json/batch_cs231n_two_images.json)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PROBLEM = HERE.parent / "problems" / "batch_cs231n_two_images.yaml"
GOLDEN = HERE / "golden" / "json" / "batch_cs231n_two_images.json"


def golden(torch: Any) -> dict[str, Any]:
    data = yaml.safe_load(PROBLEM.read_text(encoding="utf-8"))
    conv_spec, _, pool_spec, _, dense_spec = (next(iter(layer.values()))
                                             if isinstance(layer, dict) else None
                                             for layer in data["layers"])

    def tensor(value: Any, grad: bool = False) -> Any:
        return torch.tensor(value, dtype=torch.float64, requires_grad=grad)

    x = tensor(data["input"], True)
    w1, b1 = tensor(conv_spec["kernel"], True), tensor(conv_spec["bias"], True)
    w2, b2 = tensor(dense_spec["weights"], True), tensor(dense_spec["bias"], True)
    F = torch.nn.functional
    outputs = [F.conv2d(x, w1, b1)]
    outputs.append(F.relu(outputs[-1]))
    outputs.append(F.max_pool2d(outputs[-1], pool_spec["size"], pool_spec["stride"]))
    outputs.append(torch.flatten(outputs[-1], 1))
    outputs.append(F.linear(outputs[-1], w2, b2))
    for out in outputs:
        out.retain_grad()
    loss = F.cross_entropy(outputs[-1], tensor(data["target"]))
    loss.backward()

    def values(t: Any) -> Any:
        return t.detach().numpy().tolist()

    names = [("conv1", "conv"), ("relu1", "relu"), ("pool1", "max_pool"),
             ("flatten1", "flatten"), ("fc1", "dense")]
    layers = []
    for (name, kind), out in zip(names, outputs, strict=True):
        item = {"name": name, "type": kind, "output": values(out), "d_output": values(out.grad)}
        if kind == "conv":
            item.update(dW=values(w1.grad), db=values(b1.grad))
        if kind == "dense":
            item.update(dW=values(w2.grad), db=values(b2.grad))
        layers.append(item)
    return {"Y": values(outputs[-1]), "dY": values(outputs[-1].grad), "dX": values(x.grad),
            "loss": loss.item(), "layers": layers, "conventions": PYTORCH}


# What the computation above is: PyTorch's conventions, SPEC section 7's pytorch column.
PYTORCH = {"profile": "pytorch", "same_padding": "end", "pool_ceil": False, "pool_padding": 0,
           "avg_count_padding": True, "max_ties": "first", "kink": 0, "layout": "NCHW",
           "kernel_layout": "OIHW", "flatten": "CHW", "dense_weights": "out_in",
           "conv": "cross_correlation", "index_base": 1}


if __name__ == "__main__":
    import torch

    GOLDEN.write_text(json.dumps(golden(torch)) + "\n", encoding="utf-8")
