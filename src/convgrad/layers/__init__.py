"""One module per kind of layer, each with its forward, backward and terms; and the one
registry that maps a layer's description (convgrad.model: Conv, Activation ...) to its class.

A new kind of layer is a new module here and one line in KINDS (plus its twin in
reference.py and its words).
"""

from __future__ import annotations

from convgrad.arith import Numbers
from convgrad.layers.activation import ActivationLayer
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
from convgrad.layers.conv import ConvLayer
from convgrad.layers.dense import DenseLayer
from convgrad.layers.flatten import FlattenLayer
from convgrad.layers.pool import PoolLayer
from convgrad.layers.softmax import SoftmaxLayer
from convgrad.model import Activation, Conv, Dense, Flatten, Pool, Softmax
from convgrad.model import Layer as LayerSpec

KINDS: dict[type, type[Layer]] = {
    Conv: ConvLayer,
    Activation: ActivationLayer,
    Pool: PoolLayer,
    Flatten: FlattenLayer,
    Dense: DenseLayer,
    Softmax: SoftmaxLayer,
}


def make_layer(layer: LayerSpec, num: Numbers) -> Layer:
    """The layer object of a run for a described layer, in the run's arithmetic."""
    return KINDS[type(layer.op)](layer, num)


__all__ = ["KINDS", "ActivationLayer", "ConvLayer", "DenseLayer", "Factor", "FlattenLayer",
           "FunctionLayer", "Index", "Layer", "Param", "ParamLayer", "PoolLayer", "Term",
           "evaluate", "make_layer"]
