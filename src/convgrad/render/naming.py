"""How entries and arrays are named: x11, w2, b, dL/dz[1,2,3], w11_new; X, dL/dZ, W_new.

The trace gives an entry as data (its array's Labeler and an index in the array's full
shape); the renderers name it here, by the rule `check` uses (SPEC: 1-based, row then
column, bracketed when a digit would be ambiguous), in the shape the user wrote. An array
as a whole (a Whole) is named as a matrix (X, dL/dW) or as it is (b, dL/dw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convgrad.model import Conventions

if TYPE_CHECKING:
    from convgrad.trace import Entry, Labeler, Whole


def entry_label(name: str, index: tuple[int, ...], bracket: bool = False, base: int = 1
                ) -> str:
    """x11, w2, b, or x[1,2,13] when digits would be ambiguous or `bracket` asks for it (an
    entry of a batch, whose first index is the sample's: y[2,1]) (SPEC: 1-based, as `check`;
    0-based with index_base 0, SPEC section 7: x00, x[0,1,12]). index: 0-based."""
    if not index:
        return name
    if not bracket and len(index) <= 2 and all(i + base < 10 for i in index) and \
            not name[-1].isdigit():
        return name + "".join(str(i + base) for i in index)
    return f"{name}[{index_text(index, base)}]"


def index_text(index: tuple[int, ...], base: int = 1) -> str:
    """A 0-based index as names write it, numbered from `base`: 1,2,3 (or 0,1,2)."""
    return ",".join(str(i + base) for i in index)


def entry_name(entry: Entry) -> str:
    """An entry by its name in the shape and layout the user wrote: x11, dL/dw[1,1,2,2],
    b1_new."""
    labeler = entry.label
    shown = labeler.named_index(entry.index)
    return _grad(labeler) + entry_label(labeler.name, shown, labeler.batch, labeler.base) + \
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
_KEYS = {"x": "X", "y": "Y", "z": "Z", "a": "A", "w": "W", "b": "b", "t": "target", "L": "loss"}


def check_key(labeler: Labeler, new: bool = False) -> str:
    """An array by the key `check` takes: X, Y, dW, db, W_new, conv1.dW, relu1.d_output,
    loss. The input, the kernel and the target, which `check` does not grade, are named
    the same way (X, W, conv1.W, target), so that every entry of a page has a name."""
    name = labeler.name
    if labeler.layer:  # a one-layer network's w: conv1.w
        name = f"{labeler.layer}.{name}"
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
    """An entry by the name `check` takes, `shown` its index in the tables: Y[1,2], dW[1,1],
    conv1.dW[1,1,2,2], dX[2,3] (as written, in the layout written, numbered from the
    index_base); loss and a scalar db have none."""
    if not shown:
        return check_key(labeler, new)
    if len(shown) != len(labeler.shown_shape):  # a number drawn as a one-cell table: db[1]
        return f"{check_key(labeler, new)}[{index_text(shown, labeler.base)}]"
    return _check_name(labeler, labeler.full_index(shown), new)


def entry_check_name(entry: Entry) -> str:
    """An entry of the trace by the name `check` takes (see check_name)."""
    return _check_name(entry.label, entry.index, entry.new)


def _check_name(labeler: Labeler, index: tuple[int, ...], new: bool) -> str:
    key = check_key(labeler, new)
    named = labeler.named_index(index)
    return f"{key}[{index_text(named, labeler.base)}]" if named else key


def settings(pairs: list[tuple[str, object]]) -> list[str]:
    """Convention keys with their values, each as a problem file writes it: "pool_ceil false"."""
    return [f"{key} {setting_text(value)}" for key, value in pairs]


def setting_text(value: object) -> str:
    """A convention's value as a problem file writes it: false, [1, 2], 1/2, NHWC."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return f"[{', '.join(str(v) for v in value)}]"
    return str(value)


def result_axes(key: str, ndim: int, batched: bool, conventions: Conventions
                ) -> tuple[str, ...]:
    """The names of the leading axes of a result (a key of `solve --json`: Y, dW, W_new) as
    written, for its tables: sample, channel (filter, channel for a kernel); in layout NHWC a
    map's leading axis is its row (H x W x C: a table of W x C per row), and in
    kernel_layout HWIO a kernel's are its row and column (kh x kw x C x F)."""
    nhwc = conventions.layout == "NHWC"
    if key.rpartition(".")[2] in ("dW", "W_new", "db", "b_new"):
        if conventions.kernel_layout == "HWIO" and ndim >= 3 and "W" in key:
            return ("row", "column")[:ndim - 2]
        return ("filter", "channel") if ndim == 4 else \
            ("slice",) if ndim == 3 and "W" in key else ("channel",)
    if batched:  # the batch axis first
        return ("sample", "row" if nhwc else "channel")[:max(ndim - 2, 0)]
    return ("row",) if nhwc else ("channel",)


def round_values(k: int, step: dict[str, Any]) -> list[tuple[str, Any]]:
    """A round's updated parameters (its object in --json's `steps`) by the keys `check`
    takes: steps[2].W_new, steps[2].b_new; in a network steps[2].conv1.W_new."""
    return [(f"steps[{k}].{layer['name']}.{key}", value)
            for layer in step.get("layers", []) for key, value in layer.items()
            if key != "name"] or \
        [(f"steps[{k}].{key}", value) for key, value in step.items() if key != "loss"]
