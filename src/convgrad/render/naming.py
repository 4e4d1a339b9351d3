"""How entries and arrays are named: x11, w2, b, dL/dz[1,2,3], w11_new; X, dL/dZ, W_new.

The trace gives an entry as data (its array's Labeler and an index in the array's full
shape); the renderers name it here, by the rule `check` uses (SPEC: 1-based, row then
column, bracketed when a digit would be ambiguous), in the shape the user wrote. An array
as a whole (a Whole) is named as a matrix (X, dL/dW) or as it is (b, dL/dw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convgrad.model import reshaped_index

if TYPE_CHECKING:
    from convgrad.trace import Entry, Labeler, Whole


def entry_label(name: str, index: tuple[int, ...], bracket: bool = False) -> str:
    """x11, w2, b, or x[1,2,13] when digits would be ambiguous or `bracket` asks for it (an
    entry of a batch, whose first index is the sample's: y[2,1]) (SPEC: 1-based, as `check`)."""
    if not index:
        return name
    if not bracket and len(index) <= 2 and all(i < 9 for i in index) and \
            not name[-1].isdigit():
        return name + "".join(str(i + 1) for i in index)
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


def entry_name(entry: Entry) -> str:
    """An entry by its name in the shape the user sees: x11, dL/dw[1,1,2,2], b1_new."""
    labeler = entry.label
    shown = reshaped_index(entry.index, labeler.full_shape, labeler.shown_shape)
    return _grad(labeler) + entry_label(labeler.name, shown, labeler.batch) + \
        ("_new" if entry.new else "")


def array_name(whole: Whole) -> str:
    """An array by its name: as a matrix, a one-letter name upper case (X, dL/dZ, W_new); a
    layer's name (relu1) and a name as it is (b, dL/dw, b_new) unchanged."""
    name = whole.label.name
    if whole.matrix and len(name) == 1:
        name = name.upper()
    return _grad(whole.label) + name + ("_new" if whole.new else "")


def _grad(labeler: Labeler) -> str:
    return "dL/d" if labeler.gradient else ""


# The arrays of the single-layer form, and the input, target and loss, by the key `check`
# takes (SPEC sections 3 and 5); a network's layer outputs are `relu1.output`.
_KEYS = {"x": "X", "y": "Y", "z": "Z", "a": "A", "w": "W", "t": "target", "L": "loss"}


def check_key(labeler: Labeler, new: bool = False) -> str:
    """An array by the key `check` takes: X, Y, dW, db, W_new, conv1.dW, relu1.d_output,
    loss. The input, the kernel and the target, which `check` does not grade, are named
    the same way (X, W, conv1.W, target), so that every entry of a page has a name."""
    name = labeler.name
    layer, dot, letter = name.rpartition(".")
    if dot:  # a network layer's parameter: conv1.w -> conv1.W, conv1.dW, conv1.W_new
        letter = "W" if letter == "w" else letter
        key = f"{layer}.{'d' if labeler.gradient else ''}{letter}"
    elif name in _KEYS:
        key = ("d" if labeler.gradient else "") + _KEYS[name]
    else:  # a network layer's output: relu1.output, relu1.d_output
        key = f"{name}.{'d_' if labeler.gradient else ''}output"
    return key + ("_new" if new else "")


def check_name(labeler: Labeler, shown: tuple[int, ...], new: bool = False) -> str:
    """An entry by the name `check` takes, its index (in the shown shape) 1-based:
    Y[1,2], dW[1,1], conv1.dW[1,1,2,2], dX[2,3]; loss and a scalar db have none."""
    key = check_key(labeler, new)
    return f"{key}[{','.join(str(i + 1) for i in shown)}]" if shown else key


def entry_check_name(entry: Entry) -> str:
    """An entry of the trace by the name `check` takes (see check_name)."""
    return check_name(entry.label, entry.label.shown_index(entry.index), entry.new)


def setting_text(value: object) -> str:
    """A convention's value as a problem file writes it: false, [1, 2], 1/2, NHWC."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"[{', '.join(str(v) for v in value)}]"
    return str(value)
