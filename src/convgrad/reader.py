"""YAML text, a file or a dict -> a validated Problem. The only module that reads user input.

Every check of the problem file lives here, so that the engine can trust its
input: shapes fit, numbers are numbers, names are known. Errors are raised as
ProblemError with the file, the line (when YAML gives one), the key and a fix.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from fractions import Fraction
from itertools import chain
from typing import Any

import numpy as np

from convgrad import geometry
from convgrad.errors import POOL_DROPPED, UNCOVERED, Notice, ProblemError
from convgrad.layers import READERS
from convgrad.model import (
    ACTIVATIONS,
    BATCH_NORM_MODES,
    CONVENTION_VALUES,
    DEFAULT_EPS,
    DISTRIBUTION_LOSSES,
    FLOAT_BYTES,
    LAYER_TYPES,
    LOSS_OVER,
    LOSSES,
    MAX_WORK_BYTES,
    PADDING_MODES,
    POOL_TYPES,
    PROFILES,
    REPORT_BYTES,
    SOFTMAX_DIMS,
    Activation,
    BatchNorm,
    Conv,
    Conventions,
    ConvTranspose,
    Dense,
    Flatten,
    Layer,
    LogSoftmax,
    Pool,
    Problem,
    Softmax,
    Where,
    dotted,
    from_written,
    squeezed,
    user_output_shape,
    written_output,
)
from convgrad.numbers import (
    MAX_DIGITS,
    BadValue,
    FoldedText,
    Number,
    exact_decimal,
    format_number,
    integer_text,
    lazy_pattern,
    parse_array,
    parse_number,
    quick_number,
    shape_text,
)

# Bounds that keep a hostile or mistaken file from eating time or memory: whatever the file,
# convgrad stays within about 1 GiB and a few seconds before it refuses.
# A problem or answers file (a 3x224x224 image with 64 7x7 filters is 2.4 MiB as matrix strings).
MAX_FILE_BYTES = 16 * 2**20
# Values in one file, aliases counted each time they are used (at most a few seconds).
MAX_YAML_VALUES = 1_000_000
MAX_YAML_DEPTH = 32
# Taps of one kernel or pooling window (256 x 256): the passes loop over them in Python.
MAX_WINDOW = 256 * 256
# Training rounds (steps: k): the engine runs them one after another in Python, and solve
# reports every round's parameters (10,000 rounds of the seed example: about 2 s, 1.5 MB of
# JSON; a billion never ended).
MAX_STEPS = 10_000

CONV_KEYS = ("kernel", "bias", "stride", "padding", "dilation", "flip_kernel", "groups",
             "padding_mode")
CONV_TRANSPOSE_KEYS = ("kernel", "bias", "stride", "padding", "output_padding", "dilation",
                       "groups")
BATCH_NORM_KEYS = ("gamma", "beta", "eps", "mode", "running_mean", "running_var")
TOP_KEYS = ("name", "description", "input", "batch", *CONV_KEYS, "activation", "pool",
            "target", "loss", "grad_output", "learning_rate", "steps", "layers", "conventions")


# --- reading YAML ----------------------------------------------------------------


def load_problem(problem: Any, conventions: str | Conventions | None = None) -> Problem:
    """A problem from a path, YAML text, or a dict (nested lists or NumPy arrays), as
    ``convgrad.solve`` takes it (SPEC section 4); a Problem is returned as it is.

    conventions: a profile's name (SPEC section 7), applied in place of the problem's own
    `profile`; the problem's other convention keys still go on top of it. A Conventions
    value is used as it is, every key (the problem's own keys left aside).
    """
    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, os.PathLike):
        return read_file(problem, conventions)
    if isinstance(problem, str):
        one_line = "\n" not in problem
        if one_line and (os.path.exists(problem) or problem.strip().endswith((".yaml", ".yml"))):
            return read_file(problem, conventions)
        try:
            return problem_from_text(problem, source="<text>", conventions=conventions)
        except ProblemError as exc:
            if one_line and ":" not in problem:  # most likely a path with a typo
                raise ProblemError(f"{exc} (and no file is named '{problem.strip()}')") from None
            raise
    if isinstance(problem, dict):
        deep = _nested_too_deep(problem)
        if deep is not None:  # a file stops at MAX_YAML_DEPTH while read; a dict, here
            raise ProblemError(f"<dict>: '{dotted(deep[:4])}' is nested more than "
                               f"{MAX_YAML_DEPTH} levels deep; a problem's values nest a few "
                               "levels at most (a 4-D kernel is 4)")
        return problem_from_dict(_named_keys(problem), source="<dict>", conventions=conventions)
    raise ProblemError(f"a problem is a path, YAML text or a dict, not {type(problem).__name__}")


_CONTAINERS = (dict, list, tuple)


def _nested_too_deep(data: dict) -> tuple | None:
    """The keys (as in `dotted`) of the first value in a dict that nests lists or mappings
    deeper than a file may (MAX_YAML_DEPTH levels, the problem's own mapping the first), else
    None. Without it NumPy (at most 32 or 64 axes) or Python's recursion limit failed on it.

    Level by level, each list's entries checked in one pass in C: a large matrix costs
    about what NumPy's reading of it does. Entries of a list share its keys (an index into
    a matrix is no key), except the mappings in one (a layer: layers[2].conv.kernel)."""
    groups: list[tuple[tuple, list]] = [((), [data])]
    for _ in range(MAX_YAML_DEPTH):
        deeper: list[tuple[tuple, list]] = []
        for keys, values in groups:
            # A group is one value of any kind, or lists alone: its first tells which.
            if not isinstance(values[0], dict):
                kinds = set(map(type, chain.from_iterable(values)))
                if not any(issubclass(kind, _CONTAINERS) for kind in kinds):
                    continue  # rows of numbers: nothing nests below
                if kinds <= {list, tuple}:  # the rows of a matrix, or its channels
                    deeper.append((keys, list(chain.from_iterable(values))))
                    continue
            lists = []
            for value in values:
                for key, item in (value.items() if isinstance(value, dict) else
                                  enumerate(value)):
                    if isinstance(item, dict) or isinstance(value, dict) and \
                            isinstance(item, _CONTAINERS):
                        deeper.append(((*keys, key), [item]))
                    elif isinstance(item, _CONTAINERS):
                        lists.append(item)
            if lists:
                deeper.append((keys, lists))
        if not deeper:
            return None
        groups = deeper
    return groups[0][0]


def _named_keys(value: Any) -> Any:
    """A dict of the API with each key that is not a string (1, True, None) written as YAML
    reads it from a file ('1', 'true', 'null'), so that a message names it as written: an
    int key stood for a list index, and {1: 2} was "'[2]' is not a known key". Lists are
    gone through only where they hold mappings (layers), not a matrix's rows."""
    if isinstance(value, dict):
        return {key if isinstance(key, str) else
                "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key):
                _named_keys(item) for key, item in value.items()}
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        return [_named_keys(item) for item in value]
    return value


def stated_conventions(value: Any, source: str, lines: dict[tuple, int]) -> Conventions:
    """The `conventions` mapping an answers file states (solve --json's, generate's
    answers.yaml), read as a problem file's is (SPEC section 7): a ProblemError naming the
    file, line and key of an unknown key or value. lines: (key path) -> line, as the YAML
    reader gives them."""
    return _Builder(Where(source, lines), {}).read_conventions(value)


def read_file(path: str | os.PathLike, conventions: str | Conventions | None = None
              ) -> Problem:
    """A problem from a file, or from standard input for "-"."""
    name = "<stdin>" if str(path) == "-" else str(path)
    return problem_from_text(read_text(path), source=name, conventions=conventions)


def read_text(path: str | os.PathLike, answers: bool = False) -> str:
    """The text of a file, or standard input for "-", with one-line errors (answers: the
    file is an answers file, and a message that says what to give says so).

    At most MAX_FILE_BYTES are read, whatever the file is: a device such as /dev/zero, a
    pipe that never ends or a huge file is refused after that many bytes, never read
    to the end.
    """
    import sys

    name = str(path)
    try:
        if name == "-":
            name = "<stdin>"
            if sys.stdin is None:  # as cli's _stdin_open says it
                raise ProblemError(f"{name}: standard input is closed; give "
                                   f"{'an answers' if answers else 'a problem'} file")
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            if os.path.isdir(path):
                raise ProblemError(f"{name}: is a directory, not a YAML file")
            with open(path, "rb") as stream:
                if os.fstat(stream.fileno()).st_size > MAX_FILE_BYTES:  # no need to read it
                    raise _too_large(name)
                data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ProblemError(f"{name}: no such file; check the path") from None
    except PermissionError:
        raise ProblemError(f"{name}: permission denied; make the file readable") from None
    except OSError as exc:
        raise ProblemError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") \
            from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(name)
    return _decode(data, name, answers)


def _too_large(name: str) -> ProblemError:
    limit = MAX_FILE_BYTES // 2**20
    return ProblemError(f"{name}: is larger than {limit} MiB; convgrad reads problem and "
                        f"answers files up to {limit} MiB (is it the right file?)")


def _decode(data: bytes, name: str, answers: bool = False) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise ProblemError(f"{name}: UTF-16 text; save it as UTF-8")
    if b"\x00" in data:
        raise ProblemError(f"{name}: a binary file, not YAML text; give the "
                           f"{_whose(answers)} YAML file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # where, as other messages say it: the line, and the column in characters
        before = exc.object[:exc.start]
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", "replace")) + 1
        line = before.count(b"\n") + 1
        byte = exc.start + 1 + (len(data) - len(exc.object))  # after a byte order mark
        raise ProblemError(f"{name}, line {line}, column {column}: not UTF-8 text (byte "
                           f"{byte}); save it as UTF-8") from None


def problem_from_text(text: str, source: str = "<text>",
                      conventions: str | Conventions | None = None) -> Problem:
    data, lines = load_yaml(text, source)
    return problem_from_dict(data, source=source, lines=lines, conventions=conventions)


# Characters that YAML text cannot hold (the C0 and C1 controls other than tab, line breaks
# and NEL, lone surrogates, U+FFFE and U+FFFF): a binary file that happens to decode.
# Written as the ranges refused, not the many allowed: the same set, compiled 5x faster.
_NOT_YAML_TEXT = lazy_pattern("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f"
                              "\ud800-\udfff\ufffe\uffff]")
# The same check for ASCII text, the usual file: a pattern much quicker to compile.
_NOT_YAML_ASCII = lazy_pattern("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = lazy_pattern("\r\n|[\r\n\x85\u2028\u2029]")
_ROW_MARK = lazy_pattern("[;\n\uff1b]")  # what ends a row of a matrix string


def load_yaml(text: str, source: str, answers: bool = False) -> tuple[Any, dict[tuple, int]]:
    """Safe-load YAML into plain values, with the line (1-based) of keys and entries.

    PyYAML's safe loader (its C twin where there is one) only parses the text into
    events; this module builds the values from them, under YAML 1.2's core schema
    (`010` is ten, `yes` and `1:30` are strings), and never constructs anything from a
    tag. Decimals stay exact (Fraction). While reading, the nesting (MAX_YAML_DEPTH) and
    the number of values (MAX_YAML_VALUES, aliases counted each time they are used) are
    bounded, so a hostile file stops early. Duplicate keys are errors. `lines` maps a
    path of keys and 0-based indices to a line; an entry on the same line as the list
    or key that holds it has none (look the path up from its end, as model.Where does).
    answers: the text is an answers file, not a problem: its messages say so, and a file of
    comments only is None (no answers), as an empty file is.
    """
    if len(text) > MAX_FILE_BYTES:
        raise _too_large(source)
    odd = (_NOT_YAML_ASCII if text.isascii() else _NOT_YAML_TEXT).search(text)
    if odd:
        line, column = _position(text, odd.start())
        raise ProblemError(f"{source}, line {line}, column {column}: the control character "
                           f"U+{ord(odd.group()):04X} cannot be in a YAML file; is this a text "
                           f"file? Remove it or give the {_whose(answers)} YAML file")
    return _YamlReader(text, source, answers).read()


def _whose(answers: bool) -> str:
    return "answers'" if answers else "problem's"


def load_answers(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """load_yaml for an answers file: the same values and lines, read without the YAML
    parser when the file keeps to the forms answers are usually written in (a class's
    files, read one after another, spend most of their time here otherwise)."""
    found = _simple_answers(text) if len(text) <= _SIMPLE_MAX_CHARS and text.isascii() \
        else None
    return found if found is not None else load_yaml(text, source, answers=True)


# The usual answers file: 'KEY: VALUE' lines at the left margin, and '  - VALUE' lines (one
# indent) under a 'KEY:' that has none, where a VALUE is a plain number, a flow list of
# numbers ('[[1, 0.5], [2, 3]]') or a single-quoted string without a quote inside. Anything
# else (comments, tabs, other quotes, tags, anchors, a key given twice, a null, several
# documents...) is read by load_yaml, which also says what is wrong.
_SIMPLE_MAX_CHARS = 1 << 16  # far below MAX_YAML_VALUES values
_SIMPLE_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*(?:\[[0-9][0-9, ]*\])?):(?: +(.*?))? *")
_SIMPLE_ITEM_LINE = re.compile(r"( +)- +(.*?) *")
_SIMPLE_NUMBER = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SIMPLE_FLOW = re.compile(r"\[[\[\]0-9eE.,+\- ]*\]")
_SIMPLE_QUOTED = re.compile(r"'[^']*'")


class _NotSimple(Exception):
    pass


def _simple_answers(text: str) -> tuple[dict, dict[tuple, int]] | None:
    """What load_yaml gives for text in the usual answers form (above), else None."""
    if "#" in text or "\t" in text or "\r" in text or _NOT_YAML_TEXT.search(text):
        return None
    data: dict[str, Any] = {}
    lines: dict[tuple, int] = {}
    key, items, indent = "", None, 0
    try:
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            if line[0] == " ":  # an entry of the list under the last key
                match = _SIMPLE_ITEM_LINE.fullmatch(line)
                if items is None or match is None or (items and len(match.group(1)) != indent):
                    return None
                indent = len(match.group(1))
                lines[(key, len(items))] = number
                items.append(_simple_value(match.group(2), in_list=True))
                continue
            match = _SIMPLE_KEY_LINE.fullmatch(line)
            if match is None or items == [] or match.group(1) in data:
                return None  # not a key line, a key with no value (null), a key twice
            key = match.group(1)
            lines[(key,)] = number
            if match.group(2) is None:
                items = data[key] = []
            else:
                data[key], items = _simple_value(match.group(2), in_list=False), None
    except _NotSimple:
        return None
    if items == [] or not data:
        return None
    return data, lines


def _simple_value(text: str, in_list: bool) -> Any:
    """A VALUE of the usual answers form as load_yaml reads it (a number in a list as its
    fast path does, one alone as _plain does); _NotSimple for any other text."""
    if _SIMPLE_NUMBER.fullmatch(text):
        return _list_number(text) if in_list else _plain(text)
    if _SIMPLE_QUOTED.fullmatch(text):
        return text[1:-1]
    if _SIMPLE_FLOW.fullmatch(text):
        if text.count("[") > 16 and _depth(text) > 16:
            raise _NotSimple  # deep nesting: load_yaml's limit and message
        import json

        try:  # JSON's numbers and lists are YAML's, within these characters
            return json.loads(text, parse_int=_list_number, parse_float=_list_number,
                              parse_constant=_not_simple)
        except (ValueError, RecursionError):
            raise _NotSimple from None
    raise _NotSimple


def _list_number(text: str) -> Any:
    value = quick_number(text)
    return _plain(text) if value is None else value


def _not_simple(text: str) -> Any:
    raise _NotSimple


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "]":
            depth -= 1
    return deepest


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of text[index]."""
    start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - start + 1


_YAML = "tag:yaml.org,2002:"
_NULLS = ("", "~", "null", "Null", "NULL")
_TRUES = ("true", "True", "TRUE")
_FALSES = ("false", "False", "FALSE")
# YAML 1.2 core schema (ASCII digits; hexadecimal and octal integers have no sign).
_CORE_INT = lazy_pattern(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = lazy_pattern(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_CORE_INF = lazy_pattern(r"[-+]?\.(?:inf|Inf|INF)")
_CORE_NAN = lazy_pattern(r"\.(?:nan|NaN|NAN)")
_CORE_TAGS = tuple(_YAML + kind for kind in ("int", "float", "bool", "null", "timestamp"))


class _Open:
    """A list or mapping being read: its value so far and where it is."""

    __slots__ = ("value", "path", "line", "start", "anchor", "key", "collected")

    def __init__(self, value: Any, path: tuple, line: int, start: int, anchor: str | None) -> None:
        self.value = value  # the list or dict
        self.path = path
        self.line = line  # the line its entries are on unless they say otherwise
        self.start = start  # the value count before it
        self.anchor = anchor
        self.key: Any = None  # a mapping's key waiting for its value
        self.collected: list | None = None  # (path, line) entries, for an anchor's aliases


class _Anchor:
    __slots__ = ("value", "size", "lines")

    def __init__(self, value: Any, size: int, lines: list[tuple[tuple, int]]) -> None:
        self.value = value
        self.size = size  # values, aliases inside expanded
        self.lines = lines  # relative to the anchored value


class _YamlReader:
    def __init__(self, text: str, source: str, answers: bool = False) -> None:
        self.text = text
        self.source = source
        self.answers = answers
        self.lines: dict[tuple, int] = {}
        self.count = 0
        self.anchors: dict[str, _Anchor] = {}
        self.collecting: list[list] = []  # open anchors' line entries
        self._text_lines: list[str] | None = None

    def read(self) -> tuple[Any, dict[tuple, int]]:
        import yaml

        loader_class = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) and \
            hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
        loader = None
        try:
            loader = loader_class(self.text)
            return self._document(loader), self.lines
        except yaml.MarkedYAMLError as exc:
            raise self._syntax_error(exc) from None
        except yaml.YAMLError:
            raise ProblemError(f"{self.source}: YAML cannot read this file; check that it is "
                               f"the {_whose(self.answers)} YAML text") from None
        finally:
            if loader is not None:
                loader.dispose()

    # the event loop

    def _document(self, loader: Any) -> Any:
        from yaml import events

        get = loader.get_event
        get()  # the stream starts
        event = get()
        if isinstance(event, events.StreamEndEvent):
            if self.answers:  # comments only: no answers, which the grader words
                return None
            raise ProblemError(f"{self.source}: the file is empty; write a problem with at "
                               "least 'input' and 'kernel' (see convgrad solve with no file)")
        value = self._node(get)
        get()  # the document ends
        event = get()
        if not isinstance(event, events.StreamEndEvent):
            held = "one set of answers" if self.answers else "one problem"
            raise self.fail(event, "a second YAML document starts here ('---'); a file holds "
                            f"{held}: remove the second '---' and what follows, or put it "
                            "in its own file")
        return value

    def _node(self, get: Any) -> Any:
        """The value of one node: a scalar, or a list or mapping read to its end."""
        from yaml import events

        stack: list[_Open] = []
        value: Any = None
        scalar_event, deepest = events.ScalarEvent, MAX_YAML_DEPTH
        while True:
            event = get()
            kind = type(event)
            if kind is scalar_event and stack and type(stack[-1].value) is list and \
                    not event.style and event.tag is None and event.anchor is None and \
                    len(stack) <= deepest:
                # The bulk of a large file: a plain number in a list. The general path below
                # does the same, only slower.
                top = stack[-1]
                self.count += 1
                if self.count > MAX_YAML_VALUES:
                    raise self._too_many(event, alias=False)
                text = event.value
                line = event.start_mark.line + 1
                if line != top.line:
                    self._line((*top.path, len(top.value)), line)
                value = quick_number(text)
                if value is None:
                    value = self._scalar(event, (*top.path, len(top.value)))
                top.value.append(value)
                continue
            if kind is events.SequenceEndEvent or kind is events.MappingEndEvent:
                done = stack.pop()
                value = done.value
                if done.anchor is not None:
                    self._close_anchor(done)
            else:
                parent = stack[-1] if stack else None
                if parent is not None and parent.key is None and type(parent.value) is dict:
                    self._key(event, parent)
                    continue
                if len(stack) > MAX_YAML_DEPTH:
                    raise self.fail(event, f"nested more than {MAX_YAML_DEPTH} levels deep; a "
                                    "problem's values nest a few levels at most (a 4-D kernel "
                                    "is 4): check the brackets and the indentation")
                line = event.start_mark.line + 1
                if parent is None:
                    path: tuple = ()
                elif type(parent.value) is dict:
                    path = (*parent.path, parent.key)
                    line = self.lines[path]  # a value is named by its key's line
                else:
                    path = (*parent.path, len(parent.value))
                    if line == parent.line:
                        line = parent.line  # on its list's line: found through the list
                    else:
                        self._line(path, line)
                if kind is events.AliasEvent:
                    value = self._alias(event, path)
                elif kind is events.ScalarEvent:
                    self._count(event)
                    value = self._scalar(event, path)
                    if event.anchor is not None:
                        self.anchors[event.anchor] = _Anchor(value, 1, [])
                else:
                    self._count(event)
                    self._check_tag(event, path, kind is events.MappingStartEvent)
                    opened = _Open({} if kind is events.MappingStartEvent else [], path, line,
                                   self.count - 1, event.anchor)
                    if event.anchor is not None:
                        opened.collected = []
                        self.collecting.append(opened.collected)
                    stack.append(opened)
                    continue
            if not stack:
                return value
            top = stack[-1]
            if type(top.value) is dict:
                top.value[top.key] = value
                top.key = None
            else:
                top.value.append(value)

    def _key(self, event: Any, mapping: _Open) -> None:
        from yaml import events

        if type(event) is not events.ScalarEvent:
            raise self.fail(event, "a key must be a plain name")
        key = event.value
        if key == "<<" and not event.style:  # plain (PyYAML: None, its C twin: "")
            raise self.fail(event, "merge keys ('<<') are not supported; write the keys out")
        path = (*mapping.path, key)
        if key in mapping.value:
            raise self.fail(event, f"'{dotted(path)}' is given twice (first on line "
                            f"{self.lines.get(path)}); keep one")
        self._count(event)
        self._line(path, event.start_mark.line + 1)
        mapping.key = key

    def _line(self, path: tuple, line: int) -> None:
        self.lines[path] = line
        for collected in self.collecting:
            collected.append((path, line))

    def _count(self, event: Any, size: int = 1) -> None:
        self.count += size
        if self.count > MAX_YAML_VALUES:
            raise self._too_many(event, alias=size > 1)

    def _too_many(self, event: Any, alias: bool) -> ProblemError:
        if alias:
            return self.fail(event, f"aliases here expand the file to more than "
                             f"{MAX_YAML_VALUES:,} values (each use of an alias counts all of "
                             "its values); write the values out once")
        return self.fail(event, f"the file holds more than {MAX_YAML_VALUES:,} values, too "
                         "many for a problem; write large matrices as matrix strings "
                         "(\"1 2 3; 4 5 6\", one per channel), which convgrad reads fast")

    def _alias(self, event: Any, path: tuple) -> Any:
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise self.fail(event, f"the alias '*{event.anchor}' names no anchor "
                            f"'&{event.anchor}' before it; define the anchor first (an alias "
                            "cannot stand inside the value it names)")
        self._count(event, anchor.size)
        for relative, line in anchor.lines:
            full = (*path, *relative)
            if full not in self.lines:
                self._line(full, line)
        return anchor.value

    def _close_anchor(self, done: _Open) -> None:
        assert done.anchor is not None and done.collected is not None
        self.collecting.remove(done.collected)
        depth = len(done.path)
        self.anchors[done.anchor] = _Anchor(
            done.value, self.count - done.start,
            [(path[depth:], line) for path, line in done.collected if len(path) > depth])

    def _check_tag(self, event: Any, path: tuple, mapping: bool) -> None:
        allowed = (None, "!", _YAML + ("map" if mapping else "seq"))
        if event.tag not in allowed:
            where = f" for '{dotted(path)}'" if path else ""
            raise self.fail(event, f"the tag {_tag_text(event.tag)}{where} is not allowed; "
                            "convgrad reads plain numbers, strings, lists and mappings only")

    # scalars (YAML 1.2 core schema)

    def _scalar(self, event: Any, path: tuple) -> Any:
        tag, text = event.tag, event.value
        if tag is None and not event.style:  # plain
            value = _plain(text)
            if value is not text:
                return value
        elif tag not in (None, "!", _YAML + "str"):
            where = f" for '{dotted(path)}'" if path else ""
            if tag not in _CORE_TAGS:
                raise self.fail(event, f"the tag {_tag_text(tag)}{where} is not allowed; "
                                "convgrad reads plain numbers, strings, lists and mappings "
                                "only")
            try:
                return _tagged(tag, text)
            except BadValue as exc:
                raise self.fail(event, f"{exc}{where}") from None
        if event.end_mark.line > event.start_mark.line and event.style != "|" and \
                self._spans_lines(event):
            return FoldedText(text)
        return text

    def _spans_lines(self, event: Any) -> bool:
        """True when the scalar shows more rows in the file than its value has: YAML joined
        lines into one (a quoted or plain string over lines, or a '>' block)."""
        if self._text_lines is None:
            self._text_lines = _LINE_BREAK.split(self.text)
        start, end = event.start_mark, event.end_mark
        parts = self._text_lines[start.line:end.line + 1]
        if not parts:
            return False
        parts[-1] = parts[-1][:end.column]
        parts[0] = parts[0][start.column:]
        if event.style == ">":
            parts = parts[1:]  # the '>' header line
        # Rows as the file shows them (each line, and ';' within a line) and as YAML gives
        # them: fewer means that folding joined rows.
        written = sum(1 for part in parts for row in _ROW_MARK.split(part)
                      if row.strip(" \t\"'"))
        kept = sum(1 for row in _ROW_MARK.split(event.value) if row.strip())
        return kept < written

    # errors

    def fail(self, event: Any, message: str) -> ProblemError:
        return ProblemError(f"{self.source}, line {event.start_mark.line + 1}: {message}")

    def _syntax_error(self, exc: Any) -> ProblemError:
        """A parse error in convgrad's own words: where, what, and how to fix it."""
        mark = exc.problem_mark or exc.context_mark
        deep = _flow_depth_beyond(self.text, MAX_YAML_DEPTH, mark.index if mark else None)
        if deep is not None:
            line, column = _position(self.text, deep)
            return ProblemError(f"{self.source}, line {line}, column {column}: nested more than "
                                f"{MAX_YAML_DEPTH} levels deep; a problem's values nest a few "
                                "levels at most (a 4-D kernel is 4): check the brackets")
        problem, context = str(exc.problem or ""), str(exc.context or "")
        if "quoted scalar" in context and "end of stream" in problem and exc.context_mark:
            mark = exc.context_mark  # where the quote opens, not the end of the file
            what = "a quote that opens here is never closed"
        else:
            what = _yaml_problem(problem, context)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if self._text_lines is None:
            self._text_lines = _LINE_BREAK.split(self.text)
        here = self._text_lines[mark.line] if mark and mark.line < len(self._text_lines) else ""
        fix = ("YAML indents with spaces, not tabs: replace the tab" if "\t" in here else
               "check the indentation, colons, quotes and brackets there (or on the line "
               "before)")
        return ProblemError(f"{self.source}{where}: YAML syntax error: {what}; {fix}")


def _plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar under YAML 1.2's core schema; `text` itself when
    it is a string. A number too long, or whose exponent is out of bounds, stays text: it
    is refused, with the reason, where a number is expected."""
    first = text[:1]
    if first and first in "0123456789+-.":
        if len(text) > MAX_DIGITS:
            return text
        if _CORE_INT.fullmatch(text):
            return integer_text(text)
        if _CORE_FLOAT.fullmatch(text):
            try:
                return exact_decimal(text)
            except BadValue:
                return text
        if _CORE_INF.fullmatch(text):
            return float("-inf" if first == "-" else "inf")
        if _CORE_NAN.fullmatch(text):
            return float("nan")
        return text
    if text in _NULLS:
        return None
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    return text


def _tagged(tag: str, text: str) -> Any:
    """A scalar with an explicit tag of YAML 1.2's core schema (`!!int 3`, `!!str 010`)."""
    kind = tag[len(_YAML):]
    if kind in ("int", "float"):
        if _CORE_INT.fullmatch(text) and len(text) <= MAX_DIGITS:
            return integer_text(text)
        if kind == "float":
            if _CORE_FLOAT.fullmatch(text):
                return exact_decimal(text)
            if _CORE_INF.fullmatch(text) or _CORE_NAN.fullmatch(text):
                return float(text.lower().replace(".", ""))
    elif kind == "bool":
        if text in _TRUES + _FALSES:
            return text in _TRUES
    elif kind == "null":
        if text in _NULLS:
            return None
    else:  # timestamp: the text, as YAML 1.2 reads it
        return text
    example = {"int": "a whole number such as 2", "float": "a number such as 0.5",
               "bool": "true or false", "null": "null"}[kind]
    raise BadValue(f"'{text}' is not a valid {kind}: write {example}, or drop the tag !!{kind}")


def _tag_text(tag: str) -> str:
    """A tag as users write it: !!binary, not tag:yaml.org,2002:binary."""
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


# The parse errors of PyYAML and of its C twin (libyaml), each told in convgrad's words: the
# first entry whose words are in the error's problem, else in its context.
_YAML_PROBLEMS = (
    ("nesting", f"nested more than {MAX_YAML_DEPTH} levels deep"),
    ("end of stream", "the file ends where more was expected (a bracket or a quote left "
     "open?)"),
    ("escape", "an unknown escape after '\\' in a double-quoted string (use single quotes, "
     "or write '\\\\')"),
    ("cannot start any token", "a character that cannot start a value here (a tab, '@' or "
     "'`'; quote the value)"),
    ("mapping values are not allowed", "a ': ' where no key can start (a value that holds "
     "': ' must be quoted, and each key starts its own line)"),
    ("expected ':'", "a key without its ':'"),
    ("node content", "a value is missing here, or starts with a character that cannot start "
     "one"),
    ("flow sequence", "a '[' list that is not closed by ']', or entries without ',' between "
     "them"),
    ("flow mapping", "a '{' mapping that is not closed by '}', or entries without ',' between "
     "them"),
    ("block mapping", "text where a new 'key:' line was expected, at the indentation of the "
     "keys above (a quote left open, or a line indented wrongly?)"),
    ("block end", "text where a new 'key:' line was expected, at the indentation of the "
     "keys above (a quote left open, or a line indented wrongly?)"),
    ("block scalar", "text after a '|' or '>' block header; write the block's lines below it"),
    ("anchor", "an anchor ('&name') without a name"),
    ("alias", "an alias ('*name') without a name"),
    ("tag", "a tag ('!name') that is not well formed"),
    ("directive", "a '%' directive, which convgrad does not read: remove that line"),
    ("incompatible", "a '%YAML' directive for a version convgrad does not read: remove it"),
    ("document", "a document marker ('---' or '...') out of place"),
)


def _yaml_problem(problem: str, context: str) -> str:
    for text in (problem.lower(), context.lower()):
        for needle, words in _YAML_PROBLEMS:
            if needle in text:
                return words
    return "YAML cannot read the text here"


def _flow_depth_beyond(text: str, limit: int, stop: int | None) -> int | None:
    """Where '[' and '{' first nest deeper than `limit` (outside quotes and comments) before
    text[stop], else None. Only read after a parse error: PyYAML's C parser refuses deep
    nesting in its own words before the reader sees the values."""
    depth = 0
    quote = ""
    end = len(text) if stop is None else min(stop + 1, len(text))
    for match in _FLOW_TOKENS.finditer(text, 0, end):
        token = match.group()
        if quote:
            # In single quotes '' is a quote and a backslash is just a character.
            if token == quote or (quote == "'" and token == "\\'"):
                quote = ""
            continue
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return match.start()
        elif token in ("]", "}"):
            depth = max(depth - 1, 0)
        elif token in ('"', "'"):
            quote = token
    return None


# Brackets, quotes (with a double-quoted string's escapes and a single-quoted one's '')
# and comments, for _flow_depth_beyond.
_FLOW_TOKENS = lazy_pattern(r"""\\.|''|[\[\]{}"']|(?:^|(?<=[ \t]))#[^\n]*""",
                            re.MULTILINE)


# --- from plain values to a Problem ---------------------------------------------------


def problem_from_dict(data: Any, source: str = "<dict>",
                      lines: dict[tuple, int] | None = None,
                      conventions: str | Conventions | None = None) -> Problem:
    """Validate a problem given as plain values (the YAML file's mapping, or a user's dict).
    conventions: a profile's name, in place of the problem's own (see load_problem)."""
    where = Where(source, lines or {})
    if data is None:
        raise ProblemError(f"{source}: the file is empty (no keys); write a problem with at "
                           "least 'input' and 'kernel' (see convgrad solve with no file)")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r:.40})"
        raise ProblemError(f"{source}: the top level is {kind}; a problem is a mapping of keys "
                           "such as 'input:', 'kernel:' and 'target:'")
    try:
        return _Builder(where, data, conventions).build()
    except ProblemError:
        if _is_template(data):
            name = source if not source.startswith("<") else "TEMPLATE"
            raise ProblemError(f"{source}: this is a template for convgrad generate, not a "
                               f"problem: run convgrad generate {name} --count N --seed S "
                               "--out DIR") from None
        raise


# A template (SPEC section 9) holds keys of its own, or random choices among its values.
_TEMPLATE_KEYS = ("graded", "require")
_RANDOM_KINDS = ("int", "fraction", "choice", "shape")


def _is_template(data: dict) -> bool:
    """Whether a file that is no problem is a template for generate (asked only once the
    file failed as a problem, so a problem is never taken for one)."""
    def random(value: Any, depth: int) -> bool:
        if isinstance(value, dict):
            return any(kind in value for kind in _RANDOM_KINDS) or (depth < 8 and any(
                random(v, depth + 1) for v in value.values()))
        if isinstance(value, list) and depth < 8:
            return any(random(v, depth + 1) for v in value[:64])
        return False

    return any(key in data for key in _TEMPLATE_KEYS) or random(data, 0)


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    import difflib  # only when a key is misspelt

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(choices)


class _Builder:
    def __init__(self, where: Where, data: dict,
                 profile: str | Conventions | None = None) -> None:
        self.where = where
        self.data = data
        self.profile = profile  # the command line's --conventions, over the file's profile
        self.warnings: list[Notice] = []
        self.kept = 0  # values the passes of the layers read so far keep or make
        self.reported = 0  # values they report
        # Samples in one pass (the batch's size N): every layer's values count once per sample
        # (need, add_work), and batch_norm's train mode needs more than one value per channel.
        self.batch = 1

    def err(self, path: tuple, message: str) -> ProblemError:
        return self.where.error(path, message)

    # memory (MAX_WORK_BYTES): the values the layers read so far keep and report

    def need(self, kept: int, reported: int = 0) -> int:
        """Bytes of float64 arithmetic with a layer of these values (one sample's) added.
        Every value counts once per sample of a batch (the weights too: a bound, not a
        measure)."""
        return ((self.kept + kept * self.batch) * FLOAT_BYTES
                + (self.reported + reported * self.batch) * REPORT_BYTES[False])

    def add_work(self, kept: int, reported: int) -> None:
        self.kept += kept * self.batch
        self.reported += reported * self.batch

    def too_big(self, need: int) -> str:
        return (f"the problem would need {_bytes_text(need)} of memory, more than the "
                f"{MAX_WORK_BYTES // 2**20} MiB convgrad gives one")

    def window(self, path: tuple, size: tuple[int, int], what: str) -> None:
        if size[0] * size[1] > MAX_WINDOW:
            raise self.err(path, f"is {size[0]:,}x{size[1]:,}, a {what} of "
                           f"{size[0] * size[1]:,} values; convgrad takes {what}s of up to "
                           f"{MAX_WINDOW:,} values ({math.isqrt(MAX_WINDOW)}x"
                           f"{math.isqrt(MAX_WINDOW)}): use a smaller one")

    def conv_need(self, C: int, H: int, W: int, F: int, KH: int, KW: int,
                  stride: tuple[int, int], dilation: tuple[int, int]) -> int:
        """need() of a convolution layer without padding (a kernel that does not fit
        then has no outputs)."""
        OH = max(geometry.conv_output_size(H, 0, 0, KH, stride[0], dilation[0]), 0)
        OW = max(geometry.conv_output_size(W, 0, 0, KW, stride[1], dilation[1]), 0)
        P = OH * OW
        return self.need(2 * C * H * W + 2 * C * KH * KW * P + 2 * C * H * W + 3 * F * P,
                         2 * F * P + C * H * W)

    def activation_work(self, path: tuple, shape: tuple[int, ...]) -> None:
        """An activation keeps its output, gradient and derivative, and reports two."""
        n = int(np.prod(shape))
        need = self.need(3 * n, 2 * n)
        if need > MAX_WORK_BYTES:
            raise self.err(path, f"on {shape_text(shape)} values means that "
                           f"{self.too_big(need)}: use a smaller input, less padding or "
                           "fewer filters")
        self.add_work(3 * n, 2 * n)

    # values

    def get(self, mapping: dict, key: str, default: Any = None) -> Any:
        value = mapping.get(key)
        return default if value is None else value

    def array(self, path: tuple, value: Any) -> np.ndarray:
        try:
            return parse_array(value)
        except BadValue as exc:
            entry = path + exc.path
            line = self.where.line(entry)
            where = self.where.source + (f", line {line}" if line else "")
            position = ""
            if exc.path:
                position = " entry [" + ",".join(str(i + 1) for i in exc.path) + "]"
            raise ProblemError(f"{where}: '{dotted(path)}'{position}: {exc}") from None

    def number(self, path: tuple, value: Any) -> Number:
        try:
            return parse_number(value)
        except BadValue as exc:
            raise self.err(path, f"must be a number: {exc}") from None

    def integers(self, path: tuple, value: Any, count: tuple[int, ...], minimum: int,
                 what: str) -> tuple[int, ...]:
        """An int or a list of ints, each >= minimum; a single int is repeated."""
        if isinstance(value, (tuple, np.ndarray)):
            value = list(np.asarray(value).reshape(-1)) if isinstance(value, np.ndarray) \
                else list(value)
        items = value if isinstance(value, list) else [value]
        if isinstance(value, str):
            items = [item for item in re.split(r"[\s,]+", value.strip()) if item] or [value]
        if len(items) not in count and not (len(items) == 1 and 1 in count):
            raise self.err(path, f"must be {what}; got {len(items)} values")
        out = []
        for item in items:
            n = None
            with contextlib.suppress(BadValue):
                n = parse_number(item)
            if not isinstance(n, int) or n < minimum:
                shown = item if isinstance(item, str) else format_number(item) \
                    if isinstance(item, (int, float, Fraction)) else repr(item)
                raise self.err(path, f"must be {what}; got {shown}")
            out.append(n)
        return tuple(out)

    def pair(self, path: tuple, value: Any, minimum: int, what: str) -> tuple[int, int]:
        values = self.integers(path, value, (1, 2), minimum, what)
        return (values[0], values[-1])

    def check_keys(self, mapping: dict, allowed: tuple[str, ...], path: tuple = (),
                   hint: str = "") -> None:
        for key in mapping:
            if key not in allowed:
                raise self.err((*path, key), f"is not a known key; {_suggest(str(key), allowed)}"
                               + hint)

    # the problem

    def read_conventions(self, value: Any) -> Conventions:
        """The `conventions` mapping (SPEC section 7): a profile (the command line's
        --conventions in place of the file's), then the file's own keys on top of it."""
        path: tuple = ("conventions",)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.err(path, "must be a mapping of convention keys, for example "
                           "conventions: {profile: tensorflow, max_ties: all}")
        self.check_keys(value, ("profile", *CONVENTION_VALUES), path)
        profile = self.profile
        if isinstance(profile, Conventions):  # every key given (compare, check's hints)
            return profile
        if profile is None:
            profile = str(self.get(value, "profile", "pytorch")).strip().lower()
            if profile not in PROFILES:
                raise self.err((*path, "profile"), f"'{value['profile']}' is not a profile; "
                               f"{_suggest(profile, tuple(PROFILES))}")
        elif profile not in PROFILES:
            raise ProblemError(f"--conventions {profile}: not a profile; "
                               f"{_suggest(profile, tuple(PROFILES))}")
        own = {key: self.convention((*path, key), key, value[key])
               for key in CONVENTION_VALUES if value.get(key) is not None}
        return Conventions.of_profile(profile, **own)

    def convention(self, path: tuple, key: str, value: Any) -> Any:
        """One convention key's value, checked: its choices, or pool_padding's forms."""
        choices = CONVENTION_VALUES[key]
        if key == "pool_padding":
            if isinstance(value, str) and value.strip().lower() == "same":
                return "same"
            pad = self.pair(path, value, 0, "pool_padding (an int, a pair [ph, pw] or 'same')")
            return pad[0] if pad[0] == pad[1] else pad
        if isinstance(choices[0], bool):
            if not isinstance(value, bool):
                raise self.err(path, f"must be true or false, not {value!r}")
            return value
        if key in ("kink", "index_base"):
            number = value if isinstance(value, (int, Fraction)) and not isinstance(
                value, bool) else None
            if isinstance(value, str):
                with contextlib.suppress(ValueError, ZeroDivisionError):
                    number = Fraction(value.strip())
            if number is None or number not in choices:
                shown = ", ".join(str(c) for c in choices)
                raise self.err(path, f"is {value!r}; {key} is one of {shown}")
            return int(number) if Fraction(number).denominator == 1 else Fraction(number)
        text = str(value).strip()
        for choice in choices:
            if text.lower() == str(choice).lower():
                return choice
        raise self.err(path, f"'{value}' is not a {key} convention; "
                       f"{_suggest(text, [str(c) for c in choices])}")

    def build(self) -> Problem:
        data = self.data
        self.check_keys(data, TOP_KEYS)
        # First: the conventions say how the arrays that follow are written.
        self.conventions = self.read_conventions(data.get("conventions"))
        if data.get("input") is None:
            raise self.err(("input",), "is missing: give the input matrix X, for example "
                           "input: \"1 2 3; 4 5 6; 7 8 9\"")
        x = self.array(("input",), data["input"])
        batched = self.batched(x)
        if x.ndim not in (1, 2, 3) and not batched:
            raise self.err(("input",), f"is {shape_text(x.shape)}; it must be a matrix (H x W) "
                           "or channels of matrices (C x H x W), or a batch of them "
                           "(N x C x H x W)" if self.conventions.layout == "NCHW" else
                           f"is {shape_text(x.shape)}; it must be a matrix (H x W) or a matrix "
                           "of channels (H x W x C, layout NHWC), or a batch of them "
                           "(N x H x W x C)")
        x_written = x.shape
        x = self.channels_first(x, batched)
        x_all, x_shape = x, x.shape
        samples = x.shape[0] if batched else 1
        # The layers are read for one sample; a batch costs its size times the memory.
        self.batch = samples
        if batched:
            x = x[0]
        if data.get("layers") is not None:
            single_keys = [k for k in (*CONV_KEYS, "activation", "pool") if k in data]
            if single_keys:
                raise self.err((single_keys[0],), "belongs to the single-layer form; with "
                               "'layers', put it in a layer")
            layers, x = self.network(data["layers"], x)
            single = False
        else:
            if x.ndim == 1 and self.one_d_kernel():
                # A 1-D input under a 1-D kernel is a 1-D convolution (SPEC section 6).
                layers, x = self.single_layer(data, x.reshape(1, 1, -1), signal=True)
            else:
                # A vector under a 1 x k kernel (or one number) is a one-row image; dX still
                # mirrors the vector.
                layers, x = self.single_layer(data, x.reshape(1, -1) if x.ndim == 1 else x)
            single = True
        out_shape = layers[-1].out_shape
        if batched:  # every sample in the shape the layers read the first one in
            x = x_all.reshape(samples, *x.shape)
        problem = Problem(source=self.where.source, x=x, x_shape=x_shape,
                          x_written=x_written if x_written != x_shape else None, layers=layers,
                          single=single, batched=batched, lines=self.where.lines,
                          warnings=self.warnings, work=(self.kept, self.reported),
                          conventions=self.conventions)
        for key in ("name", "description"):
            if data.get(key) is not None and problem.name is None:
                problem.name = str(data[key]).strip()
        self.objective(problem, out_shape)
        if data.get("learning_rate") is not None:
            problem.learning_rate = self.number(("learning_rate",), data["learning_rate"])
        if data.get("steps") is not None:
            problem.steps = self.steps(problem, data["steps"])
        return problem

    def channels_first(self, x: np.ndarray, batched: bool) -> np.ndarray:
        """The input as the layers read it, channels first: in layout NHWC (SPEC section 7)
        maps written H x W x C (N x H x W x C) become C x H x W, and the signals of a network
        that starts with conv1d, written L x C, become C x L. A matrix (H x W, or a batch of
        them) and a vector have no channel axis to move."""
        if self.conventions.layout != "NHWC":
            return x
        layers = self.data.get("layers")
        first = layers[0] if isinstance(layers, list) and layers else None
        first_type = first if isinstance(first, str) else \
            next(iter(first)) if isinstance(first, dict) and first else None
        sample = x.ndim - batched
        if str(first_type).strip().lower() == "conv1d":
            return np.swapaxes(x, -1, -2) if sample == 2 else x
        return np.moveaxis(x, -1, -3) if sample == 3 else x

    def steps(self, problem: Problem, value: Any) -> int:
        """`steps: k` (SPEC section 6): k rounds of forward, backward and update on the same
        input and target, which needs a target with a loss and a learning rate."""
        steps = self.integers(("steps",), value, (1,), 1, "a whole number >= 1")[0]
        if steps > MAX_STEPS:
            raise self.err(("steps",), f"is {steps:,}; convgrad runs at most {MAX_STEPS:,} "
                           "training rounds (each one worked out and reported): use fewer")
        if problem.grad_output is not None:
            raise self.err(("steps",), "needs a target and a loss: each round takes its "
                           "gradient from the loss at that round's output, but 'grad_output' "
                           "gives dL/dY once; give 'target' and 'loss' instead of 'grad_output'")
        if problem.target is None:
            raise self.err(("steps",), "needs a 'target' (with a 'loss') to train on; add one")
        if problem.learning_rate is None:
            raise self.err(("steps",), "needs a 'learning_rate' for each round's update "
                           "(W - lr·dW); add one, e.g. learning_rate: 0.1")
        # every round reports its loss and each layer's updated parameters
        per_round = 1 + sum(int(arr.size) for layer in problem.layers
                            for arr in layer.op.arrays())
        kept, reported = problem.work
        need = kept * FLOAT_BYTES + (reported + steps * per_round) * REPORT_BYTES[False]
        if need > MAX_WORK_BYTES:
            raise self.err(("steps",), f"asks for {steps:,} rounds of {per_round:,} reported "
                           f"values each, and {self.too_big(need)}: use fewer steps")
        problem.work = (kept, reported + steps * per_round)
        return steps

    def batched(self, x: np.ndarray) -> bool:
        """Whether the input is a batch (SPEC section 6): a 4-D input always is (N x C x H x
        W); `batch: true` makes the first axis of a 2-D or 3-D input the batch axis."""
        value = self.data.get("batch")
        if value is None:
            return x.ndim == 4
        if not isinstance(value, bool):
            raise self.err(("batch",), f"must be true or false, not {value!r}")
        if x.ndim == 4 and not value:
            raise self.err(("batch",), "is false but 'input' is 4-D, which is a batch "
                           "(N x C x H x W); remove 'batch', or give one sample (C x H x W)")
        if value and x.ndim < 2:
            raise self.err(("batch",), f"is true but 'input' is a vector of {x.size}, with no "
                           "axis left for a sample after the batch axis; give one row per "
                           "sample (N x K), or remove 'batch'")
        if value and x.ndim > 4:
            raise self.err(("input",), f"is {shape_text(x.shape)}; a batch is N x C x H x W "
                           "at most")
        return value

    def one_d_kernel(self) -> bool:
        """Whether the single-layer form's kernel is written as a vector (k taps)."""
        if self.data.get("kernel") is None:
            return False
        return bool(self.array(("kernel",), self.data["kernel"]).ndim == 1)

    def objective(self, problem: Problem, out_shape: tuple[int, ...]) -> None:
        data = self.data
        has_target = data.get("target") is not None
        has_grad = data.get("grad_output") is not None
        if has_target and has_grad:
            raise self.err(("grad_output",), "and 'target' are both given; give 'target' "
                           "(with a loss) or 'grad_output' (dL/dY), not both")
        if has_grad and data.get("loss") is not None:
            raise self.err(("loss",), "has no use with 'grad_output' (dL/dY is given directly); "
                           "remove one of them")
        if has_grad:
            problem.grad_output = self.output_like(("grad_output",), data["grad_output"],
                                                   out_shape, problem)
            return
        loss, over = self.loss(self.get(data, "loss", "mse"), out_shape)
        if not has_target:
            return
        problem.loss, problem.loss_over = loss, over
        t = self.output_like(("target",), data["target"], out_shape, problem)
        problem.target = t
        if loss == "bce":
            bad = [v for v in t.flat if not 0 <= v <= 1]
            if bad:
                raise self.err(("target",), f"has {bad[0]} but bce needs every target in "
                               "[0, 1]; use 0/1 labels or probabilities")
        if loss in DISTRIBUTION_LOSSES:
            self.distributions(loss, over, t, out_shape, problem)

    def loss(self, value: Any, out_shape: tuple[int, ...]) -> tuple[str, str]:
        """`loss: mse`, or `loss: {name: cross_entropy, over: channels}` (SPEC section 6):
        the loss's name, and what a distribution loss sums over (all, or channels)."""
        path: tuple = ("loss",)
        over = "all"
        if isinstance(value, dict):
            self.check_keys(value, ("name", "over"), path)
            if value.get("name") is None:
                raise self.err(path, "needs a 'name' (loss: {name: cross_entropy, over: "
                               "channels}), or give the loss as a word: loss: mse")
            over = str(self.get(value, "over", "all")).strip().lower()
            if over not in LOSS_OVER:
                raise self.err((*path, "over"), f"'{value['over']}' is not what a loss sums "
                               f"over; {_suggest(over, LOSS_OVER)}")
            value, path = value["name"], (*path, "name")
        loss = str(value).strip().lower()
        if loss not in LOSSES:
            raise self.err(path, f"'{value}' is not a loss; {_suggest(loss, LOSSES)}")
        if over == "channels":
            if loss not in DISTRIBUTION_LOSSES:
                raise self.err(("loss", "over"), f"is channels but {loss} has no distribution "
                               f"to sum; over: channels is for {', '.join(DISTRIBUTION_LOSSES)}")
            if len(out_shape) < 2:
                raise self.err(("loss", "over"), f"is channels but the output is a vector of "
                               f"{out_shape[0]}, not maps; leave 'over' out to sum over every "
                               "output")
        return loss, over

    def distributions(self, loss: str, over: str, t: np.ndarray, out_shape: tuple[int, ...],
                      problem: Problem) -> None:
        """A distribution loss's target: entries >= 0 that sum to 1 in each group, one per
        sample or, over channels, one per position."""
        if any(v < 0 for v in t.flat):
            raise self.err(("target",), f"has a negative entry; {loss} needs a distribution "
                           "(entries >= 0 that sum to 1), e.g. one-hot")
        by_sample = t.reshape(problem.samples, -1)
        if over == "channels":
            C = out_shape[0]
            by_group = by_sample.reshape(problem.samples, C, -1).transpose(0, 2, 1)
            rows = by_group.reshape(-1, C)
        else:
            rows = by_sample
        for g, row in enumerate(rows):
            total = sum(row)
            if total != 1 if t.dtype == object else abs(total - 1) > 1e-9:
                if over == "channels":
                    n, k = divmod(g, rows.shape[0] // problem.samples)
                    where = (f"sample {n + 1}, " if problem.batched else "") + \
                        f"position {k + 1} (row-major)"
                    raise self.err(("target",), f"sums to {total} over the channels at {where}; "
                                   f"{loss} over channels needs the channels at each position "
                                   "to sum to 1 (a distribution or one-hot)")
                if problem.batched:
                    raise self.err(("target",), f"sums to {total} for sample {g + 1}; {loss} "
                                   "needs each sample's targets to sum to 1 (a distribution or "
                                   "one-hot)")
                raise self.err(("target",), f"sums to {total}; {loss} needs targets that sum "
                               "to 1 (a distribution or one-hot)")

    def output_like(self, path: tuple, value: Any, out_shape: tuple[int, ...],
                    problem: Problem) -> np.ndarray:
        """target or grad_output: must have the output's shape, up to length-1 axes; in a
        batch, the batch axis first (N x the output of one sample)."""
        arr = self.array(path, value)
        signal = problem.layers[-1].signal
        full = (problem.samples, *out_shape)
        # As written: in layout NHWC the channels last (SPEC section 7).
        axes, written = written_output(problem, full, signal)
        order = axes or tuple(range(len(full)))
        want = user_output_shape(problem, out_shape, signal) if axes is None else written
        in_order = tuple(full[a] for a in order)[1:]
        if problem.batched:
            in_order = (problem.samples, *in_order)
            want = in_order if axes is None else want
            if arr.ndim and arr.shape[0] != problem.samples and problem.samples != 1:
                raise self.err(path, f"is {shape_text(arr.shape)} but the output of the batch "
                               f"is {shape_text(want)}; give one value per output element, "
                               f"the batch axis first ({problem.samples} samples)")
        if squeezed(arr.shape) != squeezed(in_order):
            batch = " of the batch" if problem.batched else ""
            raise self.err(path, f"is {shape_text(arr.shape)} but the output{batch} is "
                           f"{shape_text(want)}; give one value per output element"
                           + (", the batch axis first" if problem.batched else ""))
        arr = from_written(arr, axes, full)
        return arr if problem.batched else arr[0]

    # single layer: the same as layers [conv, activation, pool]

    def single_layer(self, data: dict, x: np.ndarray, signal: bool = False
                     ) -> tuple[list[Layer], np.ndarray]:
        """The layers of the single-layer form. signal: x is one 1-D signal held as 1 x 1 x L
        (a 1-D input under a 1-D kernel), read as conv1d."""
        if data.get("kernel") is None:
            raise self.err(("kernel",), "is missing: give the kernel W, for example "
                           "kernel: \"1 0; -1 1\"")
        x3 = x[np.newaxis] if x.ndim == 2 else x
        counts: dict[str, int] = {}
        spec = {k: data[k] for k in CONV_KEYS if k in data}
        layers = [self.conv1d_layer((), spec, x3.shape, counts) if signal else
                  self.conv_layer((), spec, x3.shape, counts, x.ndim)]
        activation = data.get("activation")
        if activation is not None:
            op = self.activation(("activation",), activation)
            if op is not None:
                self.activation_work(("activation",), layers[-1].out_shape)
                layers.append(self.make_layer(op.name, op.name, op, layers[-1].out_shape,
                                              counts))
                layers[-1].signal = signal
        pool = data.get("pool")
        if pool is not None:
            if not isinstance(pool, dict):
                raise self.err(("pool",), "must be a mapping such as {type: max, size: 2}")
            self.check_keys(pool, ("type", "size", "stride"), ("pool",))
            kind = str(self.get(pool, "type", "max")).strip().lower()
            if kind not in POOL_TYPES:
                raise self.err(("pool", "type"), f"'{pool['type']}' is not a pool type; "
                               f"{_suggest(kind, POOL_TYPES)}")
            layers.append(self.pool_layer(("pool",), kind, pool, layers[-1].out_shape, counts,
                                          signal))
        return layers, x3

    def make_layer(self, type_: str, family: str, op: Any, in_shape: tuple[int, ...],
                   counts: dict[str, int], out_shape: tuple[int, ...] | None = None) -> Layer:
        counts[family] = counts.get(family, 0) + 1
        return Layer(name=f"{family}{counts[family]}", type=type_, op=op, in_shape=in_shape,
                     out_shape=in_shape if out_shape is None else out_shape)

    def activation(self, path: tuple, value: Any) -> Activation | None:
        slope: Any = None
        if isinstance(value, dict):
            self.check_keys(value, ("name", "slope"), path)
            name = value.get("name")
            slope = value.get("slope")
            if name is None:
                raise self.err(path, "needs a 'name', e.g. {name: leaky_relu, slope: 0.1}")
        else:
            name = value
        text = str(name).strip().lower()
        if text not in ACTIVATIONS:
            raise self.err(path, f"'{name}' is not an activation; {_suggest(text, ACTIVATIONS)}")
        if text == "none":
            return None
        return self.make_activation(path, text, slope)

    def make_activation(self, path: tuple, name: str, slope: Any) -> Activation:
        if slope is not None and name != "leaky_relu":
            raise self.err((*path, "slope"), f"only leaky_relu has a slope, not {name}")
        kink = self.conventions.kink
        if slope is None:
            return Activation(name, kink=kink)
        return Activation(name, self.number((*path, "slope"), slope), kink)

    def kernel_oihw(self, k: np.ndarray, one_d: bool = False) -> np.ndarray:
        """A kernel as written, in the axis order of OIHW: in kernel_layout HWIO (SPEC
        section 7) kh x kw x C x F becomes F x C x kh x kw and kh x kw x F (or C) F (or C) x
        kh x kw; a conv1d kernel k x C x F becomes F x C x k and k x F (or C) F (or C) x k. A
        transposed convolution's kh x kw x F x C_in becomes C_in x F x kh x kw the same way."""
        # (A kernel of 5 or more axes has no order to take: as written, the caller says what
        # a kernel is.)
        if self.conventions.kernel_layout != "HWIO" or not 2 <= k.ndim <= 4:
            return k
        if one_d:
            return k.T
        if k.ndim == 2:
            return k
        return k.transpose((3, 2, 0, 1) if k.ndim == 4 else (2, 0, 1))

    def reordered(self, written: tuple[int, ...], oihw: tuple[int, ...]
                  ) -> tuple[int, ...] | None:
        """A kernel's shape as written where kernel_layout HWIO reorders its axes, else
        None (kernel_shape is as written)."""
        return written if self.conventions.kernel_layout == "HWIO" and len(oihw) > 1 \
            else None

    def conv_layer(self, path: tuple, spec: dict, in_shape: tuple[int, ...],
                   counts: dict[str, int], input_ndim: int, kernel_written: bool = True
                   ) -> Layer:
        """kernel_written: the spec's kernel is as the user wrote it (conv1d gives the
        layers' F x C x 1 x k instead)."""
        C, H, W = in_shape
        kpath = (*path, "kernel")
        if spec.get("kernel") is None:
            raise self.err(kpath, "is missing: a convolution needs a kernel")
        written = self.array(kpath, spec["kernel"])
        k = self.kernel_oihw(written) if kernel_written else written
        one_channel = C == 1
        # A number is a 1x1 kernel, a vector one row.
        k_full = k.reshape(1, -1) if k.ndim < 2 and one_channel else k
        if k_full.ndim == 4:
            w = k_full
        elif k_full.ndim == 3:
            w = k_full[:, np.newaxis] if one_channel else k_full[np.newaxis]
        elif k_full.ndim == 2:
            if not one_channel:
                raise self.err(kpath, f"is one 2-D filter but the input has {C} channels; "
                               f"write the kernel as {C} x kh x kw (one matrix per channel)")
            w = k_full[np.newaxis, np.newaxis]
        else:
            raise self.err(kpath, f"is {shape_text(written.shape)}; a kernel is kh x kw, "
                           "F x kh x kw, C x kh x kw or F x C x kh x kw")
        gpath = (*path, "groups")
        groups = self.integers(gpath, self.get(spec, "groups", 1), (1,), 1,
                               "a whole number >= 1")[0]
        # (Before the kernel's form: with groups 2 on 3 channels that said "F x 3/2 x kh x kw".)
        if C % groups:
            raise self.err(gpath, f"is {groups} but the input has {_count(C, 'channel')}; "
                           "groups must divide the number of input channels")
        if groups > 1 and k.ndim != 4:
            raise self.err(kpath, f"is {shape_text(written.shape)}; with groups, write the kernel "
                           f"4-D: F x {C}/{groups} x kh x kw (filters, then the channels of "
                           "each filter's group)")
        F, KC, KH, KW = w.shape
        if F % groups:
            raise self.err(gpath, f"is {groups} but the kernel has {_count(F, 'filter')}; "
                           "groups must divide the number of filters (depthwise: groups = "
                           "channels, and k filters per channel)")
        if C // groups != KC:
            if groups > 1:
                raise self.err(kpath, f"has {KC} channels per filter but with groups: "
                               f"{groups} each filter reads {C // groups} of the {C} input "
                               f"channels; write the kernel as F x {C // groups} x kh x kw")
            raise self.err(kpath, f"has {_count(KC, 'channel')} per filter but its input has "
                           f"{C}; give each filter one kh x kw matrix per input channel")
        bias_value = spec.get("bias")
        bpath = (*path, "bias")
        if bias_value is None:
            b = np.zeros(F, dtype=object)
            bias_scalar = True
        else:
            bias = self.array(bpath, bias_value)
            bias_scalar = bias.ndim == 0
            if bias_scalar:
                b = np.full(F, bias[()], dtype=object) if bias.dtype == object else \
                    np.full(F, float(bias))
            elif bias.ndim == 1 and bias.shape[0] == F:
                b = bias
            else:
                raise self.err(bpath, f"has {bias.size} values but there "
                               f"{'is 1 filter' if F == 1 else f'are {F} filters'}; give one "
                               "bias per filter, or one number for all")
        stride = self.pair((*path, "stride"), self.get(spec, "stride", 1), 1,
                           "a whole number >= 1 or [sh, sw]")
        dilation = self.pair((*path, "dilation"), self.get(spec, "dilation", 1), 1,
                             "a whole number >= 1 or [dh, dw]")
        padding = self.get(spec, "padding", 0)
        ppath = (*path, "padding")
        if isinstance(padding, str) and padding.strip().lower() in ("same", "valid"):
            word = padding.strip().lower()
            if word == "valid":
                pad = (0, 0, 0, 0)
            else:  # split by the same_padding convention (SPEC section 7)
                top, bottom = self.same_split(ppath, H, KH, stride[0], dilation[0], "kernel",
                                              "row")
                left, right = self.same_split(ppath, W, KW, stride[1], dilation[1], "kernel",
                                              "column")
                pad = (top, bottom, left, right)
            padding_text = word
        else:
            if isinstance(padding, str) and not re.fullmatch(r"[\s,\d/.+-]+", padding):
                raise self.err(ppath, f"'{padding}' is not a padding; write a whole number, "
                               "[ph, pw], [top, bottom, left, right], 'same' or 'valid'")
            values = self.integers(ppath, padding, (1, 2, 4), 0,
                                   "a whole number >= 0, [ph, pw], [top, bottom, left, right], "
                                   "'same' or 'valid'")
            if len(values) == 1:
                pad = (values[0],) * 4
            elif len(values) == 2:
                pad = (values[0], values[0], values[1], values[1])
            else:
                pad = (values[0], values[1], values[2], values[3])
            padding_text = str(values[0]) if len(values) == 1 else str(list(values))
        mode = self.padding_mode(path, spec, (H, W), pad)
        flip = spec.get("flip_kernel")
        own = self.data.get("conventions")
        if flip is not None and isinstance(own, dict) and own.get("conv") is not None:
            raise self.err((*path, "flip_kernel"), "and the convention 'conv' both say whether "
                           "the kernel is flipped; give one of them")
        if flip is None:  # the convention: true convolution flips, cross-correlation does not
            flip = self.conventions.conv == "convolution"
        if not isinstance(flip, bool):
            raise self.err((*path, "flip_kernel"), f"must be true or false, not {flip!r}")
        self.window(kpath, (KH, KW), "kernel")
        Hp, Wp = H + pad[0] + pad[1], W + pad[2] + pad[3]
        # The values of the pass: x_pad and dx_pad (dX before the padding is cut off) ...
        padded = 2 * C * Hp * Wp
        if self.need(padded) > MAX_WORK_BYTES and any(pad):
            raise self.err(ppath, f"makes the {C}x{H}x{W} input {C}x{Hp:,}x{Wp:,}, so "
                           f"{self.too_big(self.need(padded))}: use less padding"
                           + (" or a smaller dilation" if padding_text == "same" else ""))
        OH = geometry.conv_output_size(H, pad[0], pad[1], KH, stride[0], dilation[0])
        OW = geometry.conv_output_size(W, pad[2], pad[3], KW, stride[1], dilation[1])
        if OH < 1 or OW < 1:
            span = (geometry.dilated_size(KH, dilation[0]), geometry.dilated_size(KW, dilation[1]))
            raise self.err(kpath, f"spans {span[0]}x{span[1]} (with dilation) but the padded "
                           f"input is {Hp}x{Wp}; the kernel must fit: use a smaller kernel or "
                           "more padding")
        # ... the window (im2col) matrix and its gradient, and the maps: the input, its
        # gradient, the output, its gradient and the product that makes it; reported: the
        # output, its gradient, dX.
        windows = 2 * C * KH * KW * OH * OW
        maps = 2 * C * H * W + 3 * F * OH * OW
        reported = 2 * F * OH * OW + C * H * W
        need = self.need(padded + windows + maps, reported)
        if need > MAX_WORK_BYTES:
            if any(pad) and self.conv_need(C, H, W, F, KH, KW, stride, dilation) <= \
                    MAX_WORK_BYTES:
                raise self.err(ppath, f"makes the {C}x{H}x{W} input {C}x{Hp:,}x{Wp:,} and the "
                               f"output {F}x{OH:,}x{OW:,}, so {self.too_big(need)}: use less "
                               "padding"
                               + (" or a smaller dilation" if padding_text == "same" else ""))
            if 2 * windows * FLOAT_BYTES >= need - self.need(0):  # most of this layer
                raise self.err(kpath, f"on the {C}x{H}x{W} input makes a {C * KH * KW:,} x "
                               f"{OH * OW:,} window matrix (one column per output), so "
                               f"{self.too_big(need)}: use a smaller kernel or input, or a "
                               "larger stride")
            key = ("input",) if not self.kept else kpath
            raise self.err(key, f"gives {F} {'map' if F == 1 else 'maps'} of {OH:,}x{OW:,} "
                           f"from a {C}x{H:,}x{W:,} input, so {self.too_big(need)}: use a "
                           "smaller input, fewer filters" + (", less padding" if any(pad) else "")
                           + " or a larger stride")
        self.add_work(padded + windows + maps, reported)
        op = Conv(w=w, b=b, stride=stride, pad=pad, dilation=dilation, flip=flip,
                  kernel_shape=k.shape,
                  kernel_written=self.reordered(written.shape, k.shape), bias_scalar=bias_scalar,
                  padding_text=padding_text,
                  groups=groups, padding_mode=mode)
        layer = self.make_layer("conv", "conv", op, in_shape, counts, (F, OH, OW))
        self.coverage_warnings(layer, op)
        return layer

    def padding_mode(self, path: tuple, spec: dict, size: tuple[int, int],
                     pad: tuple[int, int, int, int]) -> str:
        """padding_mode (SPEC section 6, as Conv2d's): zeros, or reflect (each side's padding
        less than the input along it), replicate, circular (at most the input)."""
        mpath = (*path, "padding_mode")
        mode = str(self.get(spec, "padding_mode", "zeros")).strip().lower()
        if mode not in PADDING_MODES:
            raise self.err(mpath, f"'{spec['padding_mode']}' is not a padding mode; "
                           f"{_suggest(mode, PADDING_MODES)}")
        if mode not in ("reflect", "circular"):
            return mode
        where = (*path, "padding") if "padding" in spec else mpath
        H, W = size
        for amount, n, side, what in zip(pad, (H, H, W, W), ("top", "bottom", "left", "right"),
                                         ("row", "row", "column", "column"), strict=True):
            if mode == "reflect" and amount >= n:
                raise self.err(where, f"puts {_count(amount, what)} of padding at the "
                               f"{side}, but reflect padding mirrors the input across its edge "
                               f"and the input has {_count(n, what)}: reflect needs less "
                               f"than {n} on each side (as PyTorch's); use less padding, or "
                               "padding_mode: replicate")
            if mode == "circular" and amount > n:
                raise self.err(where, f"puts {_count(amount, what)} of padding at the "
                               f"{side}, but circular padding wraps the input around once and "
                               f"the input has {_count(n, what)}: circular takes at most "
                               f"{n} on each side; use less padding")
        return mode

    def coverage_warnings(self, layer: Layer, op: Conv) -> None:
        """Warnings for input rows and columns that no window of the convolution `op` (the
        description of `layer`) reaches."""
        _, H, W = layer.in_shape
        _, _, KH, KW = op.w.shape
        _, OH, OW = layer.out_shape
        rows = geometry.uncovered(H, op.pad[0], KH, op.stride[0], op.dilation[0], OH,
                                  op.pad[1], op.padding_mode)
        cols = geometry.uncovered(W, op.pad[2], KW, op.stride[1], op.dilation[1], OW,
                                  op.pad[3], op.padding_mode)
        for what, missed in (("row", rows), ("column", cols)):
            if missed:
                self.warnings.append(_missed(
                    UNCOVERED, layer.name, what, missed,
                    "never meet the kernel (no window reaches them at this stride and "
                    "dilation); their dL/dX entries are 0",
                    "never meets the kernel (no window reaches it at this stride and "
                    "dilation); its dL/dX entries are 0"))

    def pool_layer(self, path: tuple, kind: str, spec: dict, in_shape: tuple[int, ...],
                   counts: dict[str, int], signal: bool = False, one_d: bool = False) -> Layer:
        """max or avg pooling on C x H x W maps; on C x L signals (signal, held as C x 1 x L)
        1-D, with a whole-number size and stride (one_d: that 1 x k window)."""
        if len(in_shape) != 3:
            raise self.err(path, "needs C x H x W maps; pooling cannot follow flatten or dense")
        if spec.get("size") is None:
            raise self.err((*path, "size"), "is missing: give the window, e.g. size: 2")
        if signal:
            size1 = self.integers((*path, "size"), spec["size"], (1,), 1,
                                  "a whole number >= 1 (pooling after conv1d is 1-D)")[0]
            stride1 = self.integers((*path, "stride"), self.get(spec, "stride", size1), (1,), 1,
                                    "a whole number >= 1 (pooling after conv1d is 1-D)")[0]
            layer = self.pool_layer(path, kind, {"size": [1, size1], "stride": [1, stride1]},
                                    in_shape, counts, one_d=True)
            layer.signal = True
            return layer
        size = self.pair((*path, "size"), spec["size"], 1, "a whole number >= 1 or [ph, pw]")
        stride = self.pair((*path, "stride"), self.get(spec, "stride", list(size)), 1,
                           "a whole number >= 1 or [sh, sw]")
        C, H, W = in_shape
        pad, padding_text = self.pool_padding(path, size, stride, (H, W), one_d)
        ceil = self.conventions.pool_ceil
        OH = geometry.pool_output_size(H, size[0], stride[0], pad[0], pad[1], ceil)
        OW = geometry.pool_output_size(W, size[1], stride[1], pad[2], pad[3], ceil)
        if OH < 1 or OW < 1:
            padded = f" (padded {H + pad[0] + pad[1]}x{W + pad[2] + pad[3]})" if any(pad) else ""
            raise self.err((*path, "size"), f"is {size[0]}x{size[1]} but its input is {H}x{W}"
                           f"{padded}; the pooling window must fit")
        self.window((*path, "size"), size, "pooling window")
        # Every window copied out (and compared or summed), the output, its gradient and
        # the max pool's winners, the input's gradient (padded); reported: the output and
        # its gradient.
        windows = 2 * C * OH * OW * size[0] * size[1]
        maps = 3 * C * OH * OW + 2 * C * (H + pad[0] + pad[1]) * (W + pad[2] + pad[3])
        need = self.need(windows + maps, 2 * C * OH * OW)
        if need > MAX_WORK_BYTES:
            if 2 * windows * FLOAT_BYTES < need - self.need(0):  # not the windows' fault
                raise self.err(path, f"on {C} {H}x{W} maps means that {self.too_big(need)}: "
                               "use a smaller input, less padding or fewer filters")
            raise self.err((*path, "size"), f"{size[0]}x{size[1]} at stride {stride[0]}x"
                           f"{stride[1]} on {C} {H}x{W} maps copies {C * OH * OW:,} windows of "
                           f"{size[0] * size[1]:,} values, so {self.too_big(need)}: use a "
                           "smaller window or a larger stride")
        self.add_work(windows + maps, 2 * C * OH * OW)
        op = Pool(kind, size, stride, pad=pad, ceil=ceil,
                  count_padding=self.conventions.avg_count_padding,
                  ties=self.conventions.max_ties, padding_text=padding_text)
        layer = self.make_layer(f"{kind}_pool", "pool", op, in_shape, counts, (C, OH, OW))
        for what, missed, window, step in (
                ("row", geometry.pool_dropped(H, size[0], stride[0], OH, pad[0]), size[0],
                 stride[0]),
                ("column", geometry.pool_dropped(W, size[1], stride[1], OW, pad[2]), size[1],
                 stride[1])):
            if missed:
                self.warnings.append(_missed(
                    POOL_DROPPED, layer.name, what, missed,
                    f"fall outside every window (size {window}, stride {step}) and are "
                    "dropped; their gradient is 0",
                    f"falls outside every window (size {window}, stride {step}) and is "
                    "dropped; its gradient is 0"))
        return layer

    def pool_padding(self, path: tuple, size: tuple[int, int], stride: tuple[int, int],
                     hw: tuple[int, int], one_d: bool) -> tuple[tuple[int, int, int, int], str]:
        """The pool_padding convention (SPEC section 7) for one pooling layer: (top, bottom,
        left, right) and the text that names it. An int or [ph, pw] pads both sides, at most
        half the window (as PyTorch's); same: output ceil(H/s), total max((Ho-1)*s + k - H,
        0), split by same_padding. After conv1d (one_d) only the length is padded."""
        value = self.conventions.pool_padding
        where = ("conventions", "pool_padding")
        if value == "same":
            sides = []
            for axis, (n, k, s) in enumerate(zip(hw, size, stride, strict=True)):
                sides += self.same_split(where, n, k, s, 1, "pooling window",
                                         "row" if axis == 0 and not one_d else "column")
            pad = (sides[0], sides[1], sides[2], sides[3])
            return pad, "same"
        ph, pw = (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))
        if one_d:
            ph = 0
        for amount, k, what in ((ph, size[0], "rows"), (pw, size[1], "columns")):
            if 2 * amount > k:
                shown = f"[{value[0]}, {value[1]}]" if isinstance(value, tuple) else value
                raise self.err(where, f"is {shown}, {amount} {what} on each side, but a "
                               f"{size[0]}x{size[1]} pooling window takes at most half its "
                               f"size ({k // 2}) of padding on a side, or a window could lie "
                               "in the padding alone (as PyTorch's); use less padding or a "
                               "larger window")
        text = str(value) if isinstance(value, int) else f"[{value[0]}, {value[1]}]"
        return (ph, ph, pw, pw), text

    def same_split(self, where: tuple, n: int, k: int, stride: int, dilation: int,
                   what: str, axis: str) -> list[int]:
        """The padding "same" puts before and after along one axis, split by the same_padding
        convention; symmetric refuses a stride other than 1 and an odd total (exit 2)."""
        rule = self.conventions.same_padding
        total = geometry.same_total(n, k, stride, dilation)
        if rule == "symmetric" and stride != 1:
            raise self.err(where, f"is 'same' at stride {stride}, but same_padding: symmetric "
                           f"pads (k-1)/2 on each side, which keeps the size only at stride "
                           "1; give the padding as numbers, or use same_padding: end "
                           "(TensorFlow's rule) or start")
        split = geometry.split_padding(total, rule)
        if split is None:
            many = f"{total} {axis}s" if total != 1 else f"1 {axis}"
            raise self.err(where, f"is 'same', which needs {many} of padding here ({what} "
                           f"{k}{'' if dilation == 1 else f' at dilation {dilation}'}), but "
                           "same_padding: symmetric puts as much on each side and an odd "
                           "total cannot be split evenly; use an odd "
                           f"{'kernel' if what == 'kernel' else 'window'}, padding as "
                           "numbers, or same_padding: end (the extra "
                           f"{axis} after) or start")
        return list(split)

    # networks (SPEC section 5)

    def network(self, value: Any, x: np.ndarray) -> tuple[list[Layer], np.ndarray]:
        path: tuple = ("layers",)
        if not isinstance(value, list) or not value:
            raise self.err(path, "must be a non-empty list of layers, e.g. [conv: {...}, relu]")
        counts: dict[str, int] = {}
        layers: list[Layer] = []
        first = value[0]
        first_type = first if isinstance(first, str) else \
            next(iter(first)) if isinstance(first, dict) and first else None
        # A network that starts with conv1d reads its input as C x L signals (or one signal
        # of L), held as C x 1 x L (SPEC section 6).
        signal = str(first_type).strip().lower() == "conv1d" and x.ndim in (1, 2)
        if signal:
            x = x.reshape(-1, 1, x.shape[-1])
        elif x.ndim == 2:
            if first_type in ("dense",):
                raise self.err(("input",), "is a matrix but the first layer is dense; put "
                               "'- flatten' first")
            x = x[np.newaxis]
        shape: tuple[int, ...] = x.shape
        spec: Any
        for i, item in enumerate(value):
            lpath = (*path, i)
            if isinstance(item, str):
                type_, spec = item.strip().lower(), {}
            elif isinstance(item, dict) and len(item) == 1:
                type_, spec = next(iter(item.items()))
                type_ = str(type_).strip().lower()
                spec = {} if spec is None else spec
            else:
                raise self.err(lpath, "must be a layer name (relu, flatten) or one mapping "
                               "such as conv: {kernel: ...}")
            if type_ not in LAYER_TYPES and type_ not in READERS:
                raise self.err(lpath, f"'{type_}' is not a layer type; "
                               f"{_suggest(type_, (*LAYER_TYPES, *READERS))}")
            if not isinstance(spec, dict):
                raise self.err((*lpath, type_), "must be a mapping of the layer's keys")
            lpath = (*lpath, type_)
            signal = layers[-1].signal if layers else signal
            self.check_signal(lpath, type_, shape, signal)
            layer = self.network_layer(lpath, type_, spec, shape, counts, x.ndim, layers,
                                       signal)
            # What keeps the shape of signals keeps them signals; flatten and dense end them.
            layer.signal = signal and type_ not in ("flatten", "dense") or type_ == "conv1d"
            layers.append(layer)
            shape = layer.out_shape
        return layers, x

    def check_signal(self, path: tuple, type_: str, shape: tuple[int, ...], signal: bool
                     ) -> None:
        """conv1d reads C x L signals, conv and conv_transpose C x H x W maps."""
        if type_ == "conv1d" and not signal:
            got = f"a vector of {shape[0]}" if len(shape) == 1 else \
                f"{shape_text(shape)} maps (C x H x W)"
            raise self.err(path, f"needs C x L signals but gets {got}; conv1d reads 1-D "
                           "signals: put it first in 'layers' (on a C x L or L input) or "
                           "after another conv1d, or use conv on maps")
        if type_ in ("conv", "conv_transpose") and signal:
            raise self.err(path, f"needs C x H x W maps but gets {shape[0]} x {shape[2]} "
                           f"signals (C x L, after conv1d); use conv1d on signals")

    def conv1d_layer(self, path: tuple, spec: dict, in_shape: tuple[int, ...],
                     counts: dict[str, int]) -> Layer:
        """conv1d (SPEC section 6), as PyTorch's Conv1d, on C x L signals held as C x 1 x L:
        the convolution of conv_layer with one row. kernel F x C x k, F x k on one channel
        (else C x k, one filter), or k; padding a whole number, [left, right], same or valid;
        stride and dilation whole numbers. Results and names keep the shapes as written."""
        self.check_keys(spec, CONV_KEYS, path)
        C = in_shape[0]
        kpath = (*path, "kernel")
        if spec.get("kernel") is None:
            raise self.err(kpath, "is missing: a 1-D convolution needs a kernel (k taps, "
                           "F x k, C x k or F x C x k)")
        written = self.array(kpath, spec["kernel"])
        k = self.kernel_oihw(written, one_d=True)
        if k.ndim == 3:
            w = k[:, :, np.newaxis]
        elif k.ndim == 2:
            w = k[:, np.newaxis, np.newaxis] if C == 1 else k[np.newaxis, :, np.newaxis]
        elif k.ndim == 1 and C == 1:
            w = k.reshape(1, 1, 1, -1)
        elif k.ndim == 1:
            raise self.err(kpath, f"is one 1-D filter but the input has {C} channels; write "
                           f"the kernel as {C} x k (one row per channel) or F x {C} x k")
        else:
            raise self.err(kpath, f"is {shape_text(written.shape)}; a conv1d kernel is k, F x k, "
                           "C x k or F x C x k")
        if self.get(spec, "groups", 1) != 1 and k.ndim != 3:
            raise self.err(kpath, f"is {shape_text(written.shape)}; with groups, write the kernel "
                           f"3-D: F x {C}/groups x k")
        converted = dict(spec, kernel=w)
        for key, what in (("stride", 1), ("dilation", 1)):
            value = self.integers((*path, key), self.get(spec, key, 1), (1,), what,
                                  "a whole number >= 1 (conv1d is 1-D)")[0]
            converted[key] = [1, value]
        padding = self.get(spec, "padding", 0)
        text = padding.strip().lower() if isinstance(padding, str) else ""
        if text not in ("same", "valid"):
            if isinstance(padding, str) and not re.fullmatch(r"[\s,\d/.+-]+", padding):
                raise self.err((*path, "padding"), f"'{padding}' is not a padding; write a "
                               "whole number, [left, right], 'same' or 'valid'")
            values = self.integers((*path, "padding"), padding, (1, 2), 0,
                                   "a whole number >= 0, [left, right], 'same' or 'valid'")
            converted["padding"] = [0, 0, values[0], values[-1]]
            text = str(values[0]) if len(values) == 1 else str(list(values))
        layer = self.conv_layer(path, converted, in_shape, counts, 3, kernel_written=False)
        op = layer.op
        assert isinstance(op, Conv)
        op.kernel_shape, op.padding_text = k.shape, text
        op.kernel_written = self.reordered(written.shape, k.shape)
        layer.type, layer.signal = "conv1d", True
        return layer

    def network_layer(self, path: tuple, type_: str, spec: dict, shape: tuple[int, ...],
                      counts: dict[str, int], input_ndim: int, before: list[Layer],
                      signal: bool = False) -> Layer:
        if len(shape) == 1 and not before and type_ in ("conv", "conv_transpose", "max_pool",
                                                         "avg_pool"):
            # Nothing came before it: the vector is the input as written, not a flatten's.
            also = "" if type_ == "conv_transpose" else ", or start with conv1d on a signal"
            raise self.err(path, f"needs C x H x W maps but 'input' is a vector of "
                           f"{shape[0]}; write the input as a matrix ([[...]] or \"1 2; 3 4\")"
                           f"{also}")
        if type_ in READERS:  # a kind added with convgrad.layers.register reads its own keys
            return READERS[type_](self, path, spec, shape, counts)
        if type_ == "conv1d":
            return self.conv1d_layer(path, spec, shape, counts)
        if type_ == "conv":
            self.check_keys(spec, CONV_KEYS, path)
            if len(shape) != 3:
                raise self.err(path, f"needs C x H x W maps but gets a vector of {shape[0]}; "
                               "a convolution cannot follow flatten or dense")
            return self.conv_layer(path, spec, shape, counts, input_ndim)
        if type_ in ACTIVATIONS:
            self.check_keys(spec, ("slope",), path)
            op = self.make_activation(path, type_, spec.get("slope"))
            self.activation_work(path, shape)
            return self.make_layer(type_, type_, op, shape, counts)
        if type_ in ("max_pool", "avg_pool"):
            self.check_keys(spec, ("size", "stride"), path)
            return self.pool_layer(path, type_[:3], spec, shape, counts, signal)
        if type_ in ("softmax", "log_softmax"):
            return self.softmax_layer(path, type_, spec, shape, counts)
        if type_ == "conv_transpose":
            return self.conv_transpose_layer(path, spec, shape, counts)
        if type_ == "batch_norm":
            return self.batch_norm_layer(path, spec, shape, counts)
        if type_ == "flatten":
            self.check_keys(spec, (), path)
            self.add_work(0, 2 * int(np.prod(shape)))  # its output and gradient, reported
            return self.make_layer("flatten", "flatten",
                                   Flatten(order=self.conventions.flatten), shape, counts,
                                   (int(np.prod(shape)),))
        self.check_keys(spec, ("weights", "bias"), path)
        if len(shape) != 1:
            name = f"fc{counts.get('fc', 0) + 1}"
            raise self.err(path, f"gets {shape_text(shape)} maps but a dense layer needs a "
                           f"vector; add '- flatten' before {name}")
        N = shape[0]
        if spec.get("weights") is None:
            raise self.err((*path, "weights"), f"is missing: give an out x {N} matrix")
        w = self.array((*path, "weights"), spec["weights"])
        in_out = self.conventions.dense_weights == "in_out"  # SPEC section 7: y = x W + b
        if w.ndim < 2:
            w = w.reshape((-1, 1) if in_out else (1, -1))  # one output unit
        if w.ndim != 2 or w.shape[0 if in_out else 1] != N:
            form = (f"in x out ({N} x out), as Keras' Dense (dense_weights: in_out)" if in_out
                    else f"out x in (out x {N}), as PyTorch's Linear")
            raise self.err((*path, "weights"), f"is {shape_text(w.shape)} but its input has "
                           f"{_count(N, 'value')}; dense weights are {form}")
        if in_out:
            w = w.T
        M = w.shape[0]
        # w, dW and W_new, and the outputs; reported: dW, W_new and the outputs.
        need = self.need(3 * M * N + 3 * M, 2 * M * N + 2 * M)
        if need > MAX_WORK_BYTES:
            raise self.err((*path, "weights"), f"is {M:,} x {N:,}, so {self.too_big(need)}: "
                           "use a smaller layer")
        self.add_work(3 * M * N + 3 * M, 2 * M * N + 2 * M)
        bias_value = spec.get("bias")
        bias_scalar = True
        if bias_value is None:
            b = np.zeros(M, dtype=object)
        else:
            bias = self.array((*path, "bias"), bias_value)
            if bias.ndim == 0:
                b = np.full(M, bias[()], dtype=bias.dtype)
            elif bias.shape == (M,):
                b, bias_scalar = bias, False
            else:
                raise self.err((*path, "bias"), f"has {bias.size} values but the layer has "
                               f"{M} outputs; give one per output, or one number for all")
        return self.make_layer("dense", "fc", Dense(w, b, bias_scalar), shape, counts, (M,))

    def softmax_layer(self, path: tuple, type_: str, spec: dict, shape: tuple[int, ...],
                      counts: dict[str, int]) -> Layer:
        """softmax or log_softmax (SPEC section 6): dim channels (the default on maps) or all
        (on vectors)."""
        self.check_keys(spec, ("dim",), path)
        maps = len(shape) == 3
        dim = str(self.get(spec, "dim", "channels" if maps else "all")).strip().lower()
        if dim not in SOFTMAX_DIMS:
            raise self.err((*path, "dim"), f"'{spec['dim']}' is not a {type_} dim; "
                           f"{_suggest(dim, SOFTMAX_DIMS)}")
        if dim == "channels" and not maps:
            raise self.err((*path, "dim"), f"is channels but the input is a vector of "
                           f"{shape[0]}; use dim: all, or put {type_} before flatten")
        self.activation_work(path, shape)
        op = LogSoftmax(dim) if type_ == "log_softmax" else Softmax(dim)
        return self.make_layer(type_, type_, op, shape, counts)

    def conv_transpose_layer(self, path: tuple, spec: dict, in_shape: tuple[int, ...],
                             counts: dict[str, int]) -> Layer:
        """conv_transpose (SPEC section 6), as PyTorch's ConvTranspose2d: kernel C_in x F/groups
        x kh x kw (3-D: F x kh x kw on one channel, else C_in x kh x kw for one filter; 2-D:
        one channel, one filter), padding symmetric, output_padding below the stride or the
        dilation, Ho = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1."""
        self.check_keys(spec, CONV_TRANSPOSE_KEYS, path)
        if len(in_shape) != 3:
            raise self.err(path, f"needs C x H x W maps but gets a vector of {in_shape[0]}; "
                           "a transposed convolution cannot follow flatten or dense")
        C, H, W = in_shape
        kpath = (*path, "kernel")
        if spec.get("kernel") is None:
            raise self.err(kpath, f"is missing: a transposed convolution needs a kernel, "
                           f"{C} x F x kh x kw (input channels first, as PyTorch's "
                           "ConvTranspose2d)")
        written = self.array(kpath, spec["kernel"])
        k = self.kernel_oihw(written)
        groups = self.integers((*path, "groups"), self.get(spec, "groups", 1), (1,), 1,
                               "a whole number >= 1")[0]
        if C % groups:
            raise self.err((*path, "groups"), f"is {groups} but the input has "
                           f"{_count(C, 'channel')}; groups must divide the number of input "
                           "channels")
        # A number is a 1x1 kernel, a vector one row (on one channel, as conv reads them).
        k_full = k.reshape(1, -1) if k.ndim < 2 and C == 1 else k
        if k_full.ndim != 4 and groups > 1:
            raise self.err(kpath, f"is {shape_text(written.shape)}; with groups, write the kernel "
                           f"4-D: {C} x F/groups x kh x kw")
        if k_full.ndim == 4:
            w = k_full
        elif k_full.ndim == 3:
            w = k_full[np.newaxis] if C == 1 else k_full[:, np.newaxis]
        elif k_full.ndim == 2 and C == 1:
            w = k_full[np.newaxis, np.newaxis]
        elif k_full.ndim == 2:
            raise self.err(kpath, f"is one 2-D filter but the input has {C} channels; write "
                           f"the kernel as {C} x kh x kw (one matrix per input channel) or "
                           f"{C} x F x kh x kw")
        else:
            raise self.err(kpath, f"is {shape_text(written.shape)}; a conv_transpose kernel is "
                           "kh x kw, F x kh x kw, C_in x kh x kw or C_in x F x kh x kw")
        if w.shape[0] != C:
            raise self.err(kpath, f"is {shape_text(written.shape)}, for {w.shape[0]} input "
                           f"channels, but its input has {C}; a conv_transpose kernel is "
                           f"C_in x F/groups x kh x kw ({C} x ... here), input channels first")
        _, Fg, KH, KW = w.shape
        F = Fg * groups
        self.window(kpath, (KH, KW), "kernel")
        b, bias_scalar = self.filter_bias((*path, "bias"), spec.get("bias"), F)
        stride = self.pair((*path, "stride"), self.get(spec, "stride", 1), 1,
                           "a whole number >= 1 or [sh, sw]")
        dilation = self.pair((*path, "dilation"), self.get(spec, "dilation", 1), 1,
                             "a whole number >= 1 or [dh, dw]")
        ppath = (*path, "padding")
        pad = self.pair(ppath, self.get(spec, "padding", 0), 0,
                        "a whole number >= 0 or [ph, pw] (a transposed convolution cuts the "
                        "same padding from both sides)")
        opath = (*path, "output_padding")
        output_padding = self.pair(opath, self.get(spec, "output_padding", 0), 0,
                                   "a whole number >= 0 or [oh, ow]")
        for axis, what in ((0, "rows"), (1, "columns")):
            if output_padding[axis] >= max(stride[axis], dilation[axis]):
                raise self.err(opath, f"is {output_padding[axis]} for the {what} but must be "
                               f"less than the stride ({stride[axis]}) or the dilation "
                               f"({dilation[axis]}) of the {what}, as in ConvTranspose2d")
        OH = geometry.conv_transpose_output_size(H, pad[0], KH, stride[0], dilation[0],
                                                 output_padding[0])
        OW = geometry.conv_transpose_output_size(W, pad[1], KW, stride[1], dilation[1],
                                                 output_padding[1])
        if OH < 1 or OW < 1:
            full = (geometry.conv_transpose_output_size(H, 0, KH, stride[0], dilation[0], 0),
                    geometry.conv_transpose_output_size(W, 0, KW, stride[1], dilation[1], 0))
            raise self.err(ppath, f"cuts {_count(pad[0], 'row')} and {_count(pad[1], 'column')} "
                           "from each side of "
                           f"a {full[0]}x{full[1]} output, leaving {max(OH, 0)}x{max(OW, 0)}; "
                           "use less padding")
        # The uncut buffer of the forward pass and of dout, the column matrices of both
        # passes, and the maps: the input, dX, the output and dout; reported: the output, its
        # gradient and dX.
        # One sample's: need() and add_work() count them once per sample of the batch.
        HB = (H - 1) * stride[0] + geometry.dilated_size(KH, dilation[0]) + output_padding[0]
        WB = (W - 1) * stride[1] + geometry.dilated_size(KW, dilation[1]) + output_padding[1]
        buffers = 2 * F * HB * WB
        columns = 2 * Fg * KH * KW * H * W * groups
        maps = 2 * C * H * W + 2 * F * OH * OW
        reported = 2 * F * OH * OW + C * H * W
        need = self.need(buffers + columns + maps, reported)
        if need > MAX_WORK_BYTES:
            raise self.err(kpath, f"spreads each of {C}x{H:,}x{W:,} inputs over {Fg} x {KH}x{KW} "
                           f"outputs, so {self.too_big(need)}: use a smaller input or kernel, or "
                           "fewer filters")
        self.add_work(buffers + columns + maps, reported)
        op = ConvTranspose(w=w, b=b, stride=stride, pad=pad, output_padding=output_padding,
                           dilation=dilation, groups=groups, kernel_shape=k.shape,
                           kernel_written=self.reordered(written.shape, k.shape),
                           bias_scalar=bias_scalar)
        layer = self.make_layer("conv_transpose", "conv_transpose", op, in_shape, counts,
                                (F, OH, OW))
        for what, missed in (
                ("row", geometry.conv_transpose_unreached(H, pad[0], KH, stride[0], dilation[0],
                                                          OH)),
                ("column", geometry.conv_transpose_unreached(W, pad[1], KW, stride[1],
                                                             dilation[1], OW))):
            if missed:
                self.warnings.append(_missed(
                    UNCOVERED, layer.name, what, missed,
                    "spread their kernel only over the padding that is cut off; their dL/dX "
                    "entries are 0",
                    "spreads its kernel only over the padding that is cut off; its dL/dX "
                    "entries are 0"))
        return layer

    def batch_norm_layer(self, path: tuple, spec: dict, shape: tuple[int, ...],
                         counts: dict[str, int]) -> Layer:
        """batch_norm (SPEC section 6), as PyTorch's BatchNorm2d on C x H x W maps and
        BatchNorm1d on vectors: gamma, beta (default 1 and 0), running_mean, running_var
        (default 0 and 1, eval mode only), one per channel or unit or one number for all;
        eps > 0 (default 1e-5); mode train (default) or eval."""
        self.check_keys(spec, BATCH_NORM_KEYS, path)
        maps = len(shape) == 3
        C = shape[0]
        mode = str(self.get(spec, "mode", "train")).strip().lower()
        if mode not in BATCH_NORM_MODES:
            raise self.err((*path, "mode"), f"'{spec['mode']}' is not a batch_norm mode; "
                           f"{_suggest(mode, BATCH_NORM_MODES)}")
        if mode == "train":
            given = [key for key in ("running_mean", "running_var") if spec.get(key) is not None]
            if given:
                raise self.err((*path, given[0]), "has no use in train mode, which normalises "
                               "with the batch's own mean and variance; remove it, or set "
                               "mode: eval")
            values = self.batch * (shape[1] * shape[2] if maps else 1)
            if values < 2:
                where = "each 1x1 map" if maps else "each unit"
                default = "" if spec.get("mode") else " (the default)"
                raise self.err((*path, "mode"), f"is train{default}, which needs more than one "
                               f"value per {'channel' if maps else 'unit'} to take its mean and "
                               f"variance, but a batch of {self.batch} gives {where} one "
                               "value; use mode: eval (with running_mean and running_var), "
                               "or a batch of several samples")
        unit = "channel" if maps else "unit"
        gamma = self.per_channel((*path, "gamma"), spec.get("gamma"), 1, C, unit)
        beta = self.per_channel((*path, "beta"), spec.get("beta"), 0, C, unit)
        running_mean = self.per_channel((*path, "running_mean"), spec.get("running_mean"), 0,
                                        C, unit)
        running_var = self.per_channel((*path, "running_var"), spec.get("running_var"), 1, C,
                                       unit)
        negative = [i for i, v in enumerate(running_var) if v < 0]
        if negative:
            raise self.err((*path, "running_var"), f"has {format_number(running_var[negative[0]])}"
                           f" for {unit} {negative[0] + 1}; a variance is >= 0")
        eps: Number = DEFAULT_EPS
        if spec.get("eps") is not None:
            eps = self.number((*path, "eps"), spec["eps"])
            if not eps > 0:
                raise self.err((*path, "eps"), f"is {format_number(eps)} but must be > 0 (it "
                               "keeps the division by sqrt(var + eps) finite); PyTorch's "
                               "default is 1e-5")
        # The input, xhat, the output, dout, dx and the three terms of dx; reported: the
        # output and its gradient.
        n = int(np.prod(shape))  # one sample's: need() counts every sample
        need = self.need(9 * n, 2 * n)
        if need > MAX_WORK_BYTES:
            raise self.err(path, f"on {shape_text(shape)} values means that "
                           f"{self.too_big(need)}: use a smaller input")
        self.add_work(9 * n, 2 * n)
        op = BatchNorm(gamma=gamma, beta=beta, eps=eps, mode=mode, running_mean=running_mean,
                       running_var=running_var)
        return self.make_layer("batch_norm", "batch_norm", op, shape, counts)

    def per_channel(self, path: tuple, value: Any, default: int, C: int, unit: str
                    ) -> np.ndarray:
        """One number per channel (or unit): (C,), from a list of C, one number for all, or
        the default when the key is not given."""
        if value is None:
            return np.full(C, default, dtype=object)
        arr = self.array(path, value)
        if arr.ndim == 0:
            return np.full(C, arr[()], dtype=arr.dtype)
        if arr.shape == (C,):
            return arr
        raise self.err(path, f"has {arr.size} values but the input has {_count(C, unit)}; "
                       f"give one per {unit}, or one number for all")

    def filter_bias(self, path: tuple, value: Any, F: int) -> tuple[np.ndarray, bool]:
        """A bias of F filters: (b (F,), whether it was written as one number)."""
        if value is None:
            return np.zeros(F, dtype=object), True
        bias = self.array(path, value)
        if bias.ndim == 0:
            return np.full(F, bias[()], dtype=object if bias.dtype == object else float), True
        if bias.ndim == 1 and bias.shape[0] == F:
            return bias, False
        raise self.err(path, f"has {bias.size} values but there "
                       f"{'is 1 filter' if F == 1 else f'are {F} filters'}; give one bias per "
                       "filter, or one number for all")


def _count(n: int, noun: str) -> str:
    """'1 row', '2 rows'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _bytes_text(n: int) -> str:
    if n >= 2**40:
        return "more than 1 TiB"
    if n >= 2**30:
        return f"about {n / 2**30:.1f} GiB"
    return f"about {max(n // 2**20, 1)} MiB"


def _missed(kind: str, layer: str, what: str, missed: list[int], many: str, one: str
            ) -> Notice:
    """A warning about input rows or columns (0-based `missed`) that a layer never reads:
    'conv1: input rows 5, 6 <many>' or 'conv1: input row 5 <one>' (1-based positions)."""
    names = ", ".join(str(i + 1) for i in missed)
    text = f"{layer}: input {what}s {names} {many}" if len(missed) > 1 else \
        f"{layer}: input {what} {names} {one}"
    return Notice(kind, text, layer=layer, axis=what, positions=tuple(missed))
