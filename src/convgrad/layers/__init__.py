"""One module per kind of layer, each with its forward, backward and terms; and the one
registry that maps a layer's description (convgrad.model: Conv, Activation ...) to its class.

The built-in kinds are listed in KINDS and read by reader.py's own branches. A kind added
from outside (a module of its own, or a test) calls `register` once: its description class,
its layer class (which carries its words, `Layer.words`) and the reading of its keys under
the YAML names it takes (README.md, Development: "Adding a kind of layer").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from convgrad.arith import Numbers
from convgrad.layers.base import (
    WRITTEN_AS,
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
# problem first uses its kind, so a command pays only for the layers it runs; or the class
# itself, for a kind added with `register`.
KINDS: dict[type, str | type[Layer]] = {
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
_CLASSES = {where.split(":")[1]: where for where in KINDS.values() if isinstance(where, str)}

# A reading function: (reader, path, spec, shape, counts) -> the described layer (model.Layer),
# as reader.py's own branches: `path` for its messages, `spec` the layer's mapping of keys,
# `shape` one sample's input shape, `counts` for its name (reader.make_layer).
Read = Callable[[Any, tuple, dict, tuple[int, ...], dict[str, int]], LayerSpec]
# The YAML names of the kinds added with `register`, and how each reads its keys.
READERS: dict[str, Read] = {}


def register(description: type, cls: type[Layer], types: tuple[str, ...] = (),
             read: Read | None = None) -> None:
    """Add a kind of layer: `description` (a convgrad.model.Op subclass) is run by `cls`;
    `read` reads a layer of it written as any of `types` in a problem's `layers`. (A
    programmer's mistake raises TypeError here, at the call, not later in a run.)"""
    if types and read is None:
        raise TypeError("register: a kind that problems can name (types) needs a reading "
                        "function (read)")
    if cls.written_as not in WRITTEN_AS:
        raise TypeError(f"register: {cls.__name__}.written_as is {cls.written_as!r}; "
                        f"it is one of {', '.join(WRITTEN_AS)}")
    KINDS[description] = cls
    if read is not None:
        for name in types:
            READERS[name] = read


def _load(where: str | type[Layer]) -> type[Layer]:
    if not isinstance(where, str):
        return where
    module, name = where.split(":")
    cls: type[Layer] = getattr(importlib.import_module(f"convgrad.layers.{module}"), name)
    return cls


def layer_class(description: type) -> type[Layer]:
    """The class that runs layers of this description (Conv -> ConvLayer)."""
    return _load(KINDS[description])


def added_classes() -> list[type[Layer]]:
    """The classes of the kinds added with `register` (their words, for render/words.py)."""
    return [where for where in KINDS.values() if not isinstance(where, str)]


def make_layer(layer: LayerSpec, num: Numbers) -> Layer:
    """The layer object of a run for a described layer, in the run's arithmetic."""
    return _load(KINDS[type(layer.op)])(layer, num)


def __getattr__(name: str) -> Any:
    # `from convgrad.layers import ConvLayer` works as if every class were imported here.
    if name in _CLASSES:
        return _load(_CLASSES[name])
    raise AttributeError(f"module 'convgrad.layers' has no attribute {name!r}")


# Every kind's class (from KINDS: a new kind is not listed again here), and the base.
__all__ = ["KINDS", "READERS", "Factor", "FunctionLayer", "Index", "Layer", "Param",
           "ParamLayer", "Term", "added_classes", "evaluate", "layer_class", "make_layer",
           "register", *_CLASSES]
