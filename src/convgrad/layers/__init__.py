"""One module per kind of layer, each with its forward, backward and terms; and the one
registry that maps a layer's description (convgrad.model: Conv, Activation ...) to its class.

A new kind of layer is a new module here and one line in KINDS, plus its description in
model.py, its keys read in reader.py, its twin in reference.py and its words (README.md,
Development: "Adding a kind of layer").
"""

from __future__ import annotations

import importlib
from typing import Any

from convgrad.arith import Numbers
from convgrad.layers.base import (
    Factor,
    FunctionLayer,
    Index,
    Layer,
    Param,
    ParamLayer,
    Term,
    evaluate,
)
from convgrad.model import (
    Activation,
    BatchNorm,
    Conv,
    ConvTranspose,
    Dense,
    Flatten,
    LogSoftmax,
    Pool,
    Softmax,
)
from convgrad.model import Layer as LayerSpec

# Each description's class, as "module:Class" in this package: a module is imported when a
# problem first uses its kind, so a command pays only for the layers it runs.
KINDS: dict[type, str] = {
    Conv: "conv:ConvLayer",
    Activation: "activation:ActivationLayer",
    Pool: "pool:PoolLayer",
    Flatten: "flatten:FlattenLayer",
    Dense: "dense:DenseLayer",
    Softmax: "softmax:SoftmaxLayer",
    LogSoftmax: "softmax:LogSoftmaxLayer",
    ConvTranspose: "conv_transpose:ConvTransposeLayer",
    BatchNorm: "batch_norm:BatchNormLayer",
}
_CLASSES = {where.split(":")[1]: where for where in KINDS.values()}


def _load(where: str) -> type[Layer]:
    module, name = where.split(":")
    cls: type[Layer] = getattr(importlib.import_module(f"convgrad.layers.{module}"), name)
    return cls


def make_layer(layer: LayerSpec, num: Numbers) -> Layer:
    """The layer object of a run for a described layer, in the run's arithmetic."""
    return _load(KINDS[type(layer.op)])(layer, num)


def __getattr__(name: str) -> Any:
    # `from convgrad.layers import ConvLayer` works as if every class were imported here.
    if name in _CLASSES:
        return _load(_CLASSES[name])
    raise AttributeError(f"module 'convgrad.layers' has no attribute {name!r}")


# Every kind's class (from KINDS: a new kind is not listed again here), and the base.
__all__ = ["KINDS", "Factor", "FunctionLayer", "Index", "Layer", "Param", "ParamLayer", "Term",
           "evaluate", "make_layer", *_CLASSES]
