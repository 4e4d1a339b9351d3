"""Activations, elementwise: relu max(0, z); leaky_relu z or slope*z; sigmoid; tanh.

Derivatives at the kink z = 0 follow the kink convention (SPEC section 7): relu'(0) = kink,
leaky_relu'(0) = slope + kink*(1 - slope); by default kink = 0, as PyTorch. relu and
leaky_relu are selections and products, exact on exact arrays; sigmoid and tanh are
float64 only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import cast

import numpy as np

from convgrad.arith import Numbers, positive, where, zeros
from convgrad.layers.base import Index, Layer, Term
from convgrad.model import Activation, Conventions
from convgrad.model import Layer as LayerSpec
from convgrad.numbers import Number, to_float


def activation_forward(name: str, z: np.ndarray, slope: Number = 0) -> np.ndarray:
    """z (any shape) -> a = f(z), the same shape."""
    if name == "relu":  # exact: picks entries of z and keeps its integers (arith.where)
        return where(positive(z), z)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "sigmoid":
        return _sigmoid(to_float(z))
    if name == "tanh":
        return np.tanh(to_float(z))
    raise ValueError(f"unknown activation {name}")


def activation_backward(name: str, z: np.ndarray, a: np.ndarray, dout: np.ndarray,
                        slope: Number = 0, kink: Number = 0) -> np.ndarray:
    """dz = dout * f'(z). At z = 0, relu'(0) = kink and leaky_relu'(0) = slope + kink*(1 -
    slope) (the kink convention, SPEC section 7; 0 by default, as PyTorch)."""
    if kink:
        return dout * activation_derivative(name, z, a, slope, kink)
    if name == "relu":  # a selection, not a product: no arithmetic on exact entries
        return where(positive(z), dout)
    if name == "leaky_relu":
        return np.where(z > 0, dout, slope * dout)
    return dout * activation_derivative(name, z, a, slope)


def activation_derivative(name: str, z: np.ndarray, a: np.ndarray, slope: Number = 0,
                          kink: Number = 0) -> np.ndarray:
    """f'(z) elementwise; a = f(z) saves recomputing sigmoid and tanh; kink: relu'(0)."""
    one = zeros(z.shape, z) + 1
    if name == "relu":
        below = zeros(z.shape, z)
        at_kink = kink * one
    elif name == "leaky_relu":
        below = slope * one
        at_kink = (slope + kink * (1 - slope)) * one
    elif name == "sigmoid":
        return a * (1 - a)
    elif name == "tanh":
        return 1 - a * a
    else:
        raise ValueError(f"unknown activation {name}")
    if not kink:
        return np.where(z > 0, one, below)
    return np.where(z > 0, one, np.where(z == 0, at_kink, below))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp of a negative number only, so large |z| neither overflows nor warns.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


class ActivationLayer(Layer):
    """z (any shape) -> a = f(z), elementwise."""

    kind = "activation"

    @classmethod
    def conventions_met(cls, op: Activation, conventions: Conventions,
                        number: Callable[[Number], str]) -> list[str]:
        if op.name == "relu":
            return [f"relu'(0) = {number(op.kink)}"]
        if op.name == "leaky_relu":
            return [f"leaky_relu'(0) = {number(op.slope + op.kink * (1 - op.slope))}"]
        return []

    def meets(self, requirement: str) -> bool | None:
        # A pre-activation exactly 0, where the kink convention decides relu'(0).
        if requirement == "relu_kink" and self.fn in ("relu", "leaky_relu"):
            return bool((self.x == 0).any())
        return None

    def depends_on(self, key: str) -> bool | None:
        return True if key == "kink" and self.fn in ("relu", "leaky_relu") else None

    def __init__(self, layer: LayerSpec, num: Numbers) -> None:
        super().__init__(layer, num)
        self.op = op = cast(Activation, layer.op)
        self.fn = op.name
        self.slope = num.param_const(op.slope, "activation")
        # relu'(0) (the kink convention); 0 keeps PyTorch's selections, bit for bit
        self.kink = num.const(op.kink, "conventions") if op.kink else 0
        # relu and leaky_relu are sums of products of their input; sigmoid and tanh are not.
        self.expanded = ("out", "dx") if self.fn in ("relu", "leaky_relu") else ("dx",)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self._set_out(x, activation_forward(self.fn, x, self.slope))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._set_dx(dout, activation_backward(self.fn, self.x, self.out, dout,
                                                      self.slope, self.kink))

    # --- terms -------------------------------------------------------------------------------

    @cached_property
    def derivative(self) -> np.ndarray:
        """f'(x), x's shape: what each dout entry is multiplied by on the way back."""
        return activation_derivative(self.fn, self.x, self.out, self.slope, self.kink)

    def out_terms(self, index: Index) -> Index:
        """a[index] = f(z[index]): the one input it is made of."""
        return index

    def dx_terms(self, index: Index) -> list[tuple[Index, Number]]:
        """dz[index] = dout[index] * f'(z[index]): [(dout index, f'(z))]."""
        return [(index, self.derivative[index])]

    def terms(self, of: str, index: Index) -> list[Term]:
        if of == "dx":
            return [(("dout", o), d) for o, d in self.dx_terms(index)]
        if self.x[index] > 0:
            return [(("x", index),)]
        return [] if self.fn == "relu" else [(self.slope, ("x", index))]
