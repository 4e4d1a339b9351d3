"""Variants of a problem for a class (SPEC section 9): `convgrad generate TEMPLATE`.

A template is a problem file in which any value may be a random choice (ranges inclusive):

    {int: [-3, 3]}                                 a whole number
    {fraction: [-2, 2], denominators: [2, 4]}      a fraction p/d in the range, d one of those
    {choice: [...]}                                one of the values (which may be choices too)
    {shape: [4, 4], entries: {int: [-3, 3]}}       a matrix of random entries

and two keys of its own: `graded: [KEY...]` (the keys a student answers; default dY, dW, db,
dX and loss, those the problem has) and `require: [...]`, properties every variant must have
(REQUIREMENTS; `{distinguishes: [KEY...]}` names convention keys).

Each variant is drawn from its own seed (so that one variant can be drawn again alone), the
seeds themselves from the command's seed: one seed, the same variants. A variant that misses
a requirement is drawn again from the next seed, up to MAX_TRIES_PER_VARIANT tries each and
MAX_SECONDS in all; then ProblemError names the requirement missed most often.

No printing here: cli.py reports; `write_variants` writes the files.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from convgrad.errors import ProblemError

if TYPE_CHECKING:
    from convgrad.grade import Tolerance

DEFAULT_GRADED = ("dY", "dW", "db", "dX", "loss")
REQUIREMENTS = ("integer_results", "max_tie", "relu_kink", "uncovered", "distinct",
                "distinguishes")
RANDOM_KINDS = ("int", "fraction", "choice", "shape")
MAX_TRIES_PER_VARIANT = 200
MAX_SECONDS = 10.0
MAX_CANDIDATES = 100_000  # the values one random choice may have


@dataclass
class Template:
    """A template read: `data` the problem with its random choices still in it, `lines` the
    line of each path of keys (as reader.load_yaml gives them)."""

    source: str
    data: dict[str, Any]
    lines: dict[tuple, int]
    graded: list[str] | None
    require: list[str]
    distinguishes: list[str]
    random: bool  # any random choice at all


@dataclass
class Variant:
    """One variant: its seed, the text of its three files (problem: the problem as drawn,
    without problem.yaml's comment line), and the conventions its answers depend on, in words
    (render.convention_words)."""

    seed: int
    problem: str
    answers: str
    blank: str
    conventions: str = ""


# --- reading a template ---------------------------------------------------------------------


def read_template(text: str, source: str) -> Template:
    """A template's YAML text -> Template; ProblemError (file, line, key) on a bad one."""
    from convgrad.model import CONVENTION_VALUES
    from convgrad.reader import load_yaml

    data, lines = load_yaml(text, source)
    if not isinstance(data, dict):
        raise ProblemError(f"{source}: a template is a problem file (a mapping of keys such "
                           "as input, kernel, target), with random choices among its values")
    data = dict(data)
    graded = data.pop("graded", None)
    if graded is not None and (not isinstance(graded, list) or not graded
                               or not all(isinstance(k, str) for k in graded)):
        raise _error(source, lines, ("graded",), "'graded' must be a list of result keys",
                     "write for example graded: [dW, db, dX]")
    require_given = data.pop("require", [])
    require: list[str] = []
    distinguishes: list[str] = []
    if not isinstance(require_given, list):
        raise _error(source, lines, ("require",), "'require' must be a list",
                     "write for example require: [integer_results, max_tie]")
    for k, item in enumerate(require_given):
        where = ("require", k)
        if isinstance(item, dict) and list(item) == ["distinguishes"]:
            keys = item["distinguishes"]
            keys = [keys] if isinstance(keys, str) else keys
            if not isinstance(keys, list) or not keys:
                raise _error(source, lines, where, "'distinguishes' needs convention keys",
                             "write for example {distinguishes: [max_ties]}")
            for key in keys:
                if key not in CONVENTION_VALUES:
                    raise _error(source, lines, where, f"'distinguishes': '{key}' is not a "
                                 "convention key", "use one of " + ", ".join(CONVENTION_VALUES))
            distinguishes += [k2 for k2 in keys if k2 not in distinguishes]
            require.append("distinguishes")
        elif isinstance(item, str) and item in REQUIREMENTS and item != "distinguishes":
            require.append(item)
        else:
            raise _error(source, lines, where, f"'require': {item!r} is not a requirement",
                         "use integer_results, max_tie, relu_kink, uncovered, distinct or "
                         "{distinguishes: [KEY...]}")
    found = _check_random(data, (), source, lines)
    return Template(source, data, lines, graded, list(dict.fromkeys(require)), distinguishes,
                    found)


def _error(source: str, lines: dict[tuple, int], path: tuple, what: str, fix: str
           ) -> ProblemError:
    line = _line(lines, path)
    where = f"{source}, line {line}" if line else source
    return ProblemError(f"{where}: {what}; {fix}")


def _line(lines: dict[tuple, int], path: tuple) -> int | None:
    # an entry on the line of the key that holds it has no line of its own: look up its parents
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _is_random(value: Any) -> bool:
    return isinstance(value, dict) and any(kind in value for kind in RANDOM_KINDS)


def _check_random(value: Any, path: tuple, source: str, lines: dict[tuple, int]) -> bool:
    """Every random choice in value well formed (ProblemError otherwise); whether there is
    one at all."""
    if _is_random(value):
        _candidates_or_shape(value, path, source, lines)
        if "choice" in value:
            for k, item in enumerate(value["choice"]):
                _check_random(item, (*path, "choice", k), source, lines)
        return True
    if isinstance(value, dict):
        return any([_check_random(v, (*path, k), source, lines) for k, v in value.items()])
    if isinstance(value, list):
        return any([_check_random(v, (*path, k), source, lines) for k, v in enumerate(value)])
    return False


def _candidates_or_shape(spec: dict[str, Any], path: tuple, source: str,
                         lines: dict[tuple, int]) -> list[Any]:
    """The values a scalar random choice may take (in order), checked; for a shape, its
    entries' values."""
    def bad(what: str, fix: str) -> ProblemError:
        return _error(source, lines, path, what, fix)

    kinds = [kind for kind in RANDOM_KINDS if kind in spec]
    allowed = {"int": {"int"}, "fraction": {"fraction", "denominators"}, "choice": {"choice"},
               "shape": {"shape", "entries"}}
    if len(kinds) != 1 or set(spec) - allowed[kinds[0]]:
        raise bad(f"a random choice has one of int, fraction, choice, shape; this one has "
                  f"{', '.join(map(str, spec))}",
                  "write for example {int: [-3, 3]} or {shape: [2, 2], entries: {int: [0, 2]}}")
    kind = kinds[0]
    if kind == "shape":
        shape = spec["shape"]
        if not isinstance(shape, list) or not shape or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1000
                for n in shape):
            raise bad(f"'shape' must be a list of sizes from 1 to 1000, not {shape!r}",
                      "write for example {shape: [4, 4], entries: {int: [-3, 3]}}")
        entries = spec.get("entries")
        if not isinstance(entries, dict) or not _is_random(entries) or "shape" in entries:
            raise bad("'shape' needs 'entries', a random choice of a number",
                      "write for example {shape: [4, 4], entries: {int: [-3, 3]}}")
        return _candidates_or_shape(entries, (*path, "entries"), source, lines)
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices:
            raise bad("'choice' must be a list of one or more values",
                      "write for example {choice: [1, 2]}")
        return list(choices)
    bounds = spec[kind]
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(
            isinstance(b, (int, Fraction)) and not isinstance(b, bool) for b in bounds)
            and bounds[0] <= bounds[1]):
        raise bad(f"'{kind}' needs [low, high] with low <= high, not {bounds!r}",
                  f"write for example {{{kind}: [-3, 3]}}")
    low, high = bounds
    if kind == "int":
        if not all(isinstance(b, int) for b in bounds):
            raise bad(f"'int' needs whole numbers, not {bounds!r}",
                      "write for example {int: [-3, 3]} or use 'fraction'")
        if high - low >= MAX_CANDIDATES:
            raise bad(f"'int' range {bounds!r} is too wide",
                      f"keep it under {MAX_CANDIDATES} values")
        return list(range(low, high + 1))
    denominators = spec.get("denominators", [1])
    if not (isinstance(denominators, list) and denominators and all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 1000
            for d in denominators)):
        raise bad(f"'denominators' must be a list of whole numbers from 1 to 1000, not "
                  f"{denominators!r}", "write for example denominators: [2, 4]")
    values: set[Fraction] = set()
    for d in denominators:
        first, last = -((-low * d) // 1), (high * d) // 1  # ceil(low*d), floor(high*d)
        if len(values) + last - first >= MAX_CANDIDATES:
            raise bad(f"'fraction' range {bounds!r} has too many values",
                      f"keep it under {MAX_CANDIDATES}")
        values.update(Fraction(p, d) for p in range(int(first), int(last) + 1))
    if not values:
        raise bad(f"'fraction' range {bounds!r} holds no fraction with denominators "
                  f"{denominators!r}", "widen the range or add a denominator")
    return sorted(values)


# --- drawing a variant ----------------------------------------------------------------------


def draw(template: Template, seed: int) -> dict[str, Any]:
    """The problem of the variant drawn from seed: every random choice made, in the order
    the keys are written."""
    rng = np.random.default_rng(seed)
    return _draw(template.data, (), template, rng)


def _draw(value: Any, path: tuple, template: Template, rng: np.random.Generator) -> Any:
    if _is_random(value):
        values = _candidates_or_shape(value, path, template.source, template.lines)
        if "shape" in value:
            picks = rng.integers(len(values), size=tuple(value["shape"]))
            return np.asarray(values, dtype=object)[picks].tolist()
        pick = values[int(rng.integers(len(values)))]
        if "choice" in value:
            return _draw(pick, (*path, "choice", value["choice"].index(pick)), template, rng)
        return pick
    if isinstance(value, dict):
        return {k: _draw(v, (*path, k), template, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_draw(v, (*path, k), template, rng) for k, v in enumerate(value)]
    return value


def problem_text(data: dict[str, Any]) -> str:
    """A drawn problem as YAML: fractions as decimals where they end (0.25), else "p/q"."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def fraction(dumper: yaml.SafeDumper, value: Fraction) -> Any:
        if value.denominator == 1:
            return dumper.represent_int(value.numerator)
        text = _decimal(value)
        if text is None:
            return dumper.represent_str(f"{value.numerator}/{value.denominator}")
        return dumper.represent_scalar("tag:yaml.org,2002:float", text)

    Dumper.add_representer(Fraction, fraction)
    return str(yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=None,
                         allow_unicode=True, width=100))


def _decimal(value: Fraction) -> str | None:
    """A fraction's finite decimal ("-0.25"), or None when it has none."""
    d, twos, fives = value.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return None
    digits = max(twos, fives)
    scaled = abs(value.numerator) * 10 ** digits // value.denominator
    whole, part = divmod(scaled, 10 ** digits)
    return f"{'-' if value < 0 else ''}{whole}.{part:0{digits}d}"


# --- the answer key, and the requirements ---------------------------------------------------


def _leaf(value: Any) -> Any:
    """A number as an answers file writes it: an integer as one, an exact fraction "p/q", a
    float64 as it is."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else \
            f"{value.numerator}/{value.denominator}"
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _leaf(value)


def answer_values(solved: Any) -> dict[str, Any]:
    """Every result check takes ("dW", "conv1.dW", "steps[2].loss"), as plain lists, and the
    conventions they were solved under, as `solve --json` states them (SPEC section 9)."""
    from convgrad.result import Result

    result = Result.from_run(solved)
    values = {key: _plain(value) for key, value in result.by_answer_key().items()}
    values["conventions"] = Result.conventions_json(result["conventions"].items())
    return values


def graded_keys(template: Template, answers: dict[str, Any]) -> list[str]:
    if template.graded is None:
        return [key for key in DEFAULT_GRADED if key in answers]
    for k, key in enumerate(template.graded):
        if key not in answers:
            raise _error(template.source, template.lines, ("graded", k),
                         f"'graded': '{key}' is not a result of this problem",
                         "use some of " + ", ".join(answers))
    return list(template.graded)


def _all_integers(value: Any) -> bool:
    if isinstance(value, list):
        return all(_all_integers(v) for v in value)
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _max_tie(solved: Any) -> bool | None:
    """A max-pooling window whose maximum is tied (zeros count); None: no max pooling."""
    from convgrad.layers.pool import PoolLayer, pool_windows

    found = None
    for layer in solved.passes:
        if not isinstance(layer, PoolLayer) or layer.pool != "max":
            continue
        x = layer.x
        shape = layer.padded_shape(x.shape)
        if shape != x.shape:  # padding never wins a max
            top, left = layer.pad[0], layer.pad[2]
            x_pad = np.full(shape, -np.inf, dtype=x.dtype)
            x_pad[:, :, top:top + x.shape[2], left:left + x.shape[3]] = x
            x = x_pad
        windows = pool_windows(x, layer.size, layer.stride, layer.out_hw)
        tied = (windows == windows.max(axis=-1)[..., np.newaxis]).sum(axis=-1) > 1
        found = bool(found) or bool(tied.any())
    return found


def _relu_kink(solved: Any) -> bool | None:
    """A pre-activation of a ReLU (or leaky ReLU) exactly 0; None: no ReLU."""
    from convgrad.layers.activation import ActivationLayer

    found = None
    for layer in solved.passes:
        if isinstance(layer, ActivationLayer) and layer.fn in ("relu", "leaky_relu"):
            found = bool(found) or bool((layer.x == 0).any())
    return found


def _uncovered(solved: Any) -> bool | None:
    """An input cell of a convolution that no window reads; None: no convolution."""
    from convgrad.layers.conv import ConvLayer

    found = None
    for layer in solved.passes:
        if not isinstance(layer, ConvLayer):
            continue
        H, W = layer.x.shape[-2:]
        KH, KW = layer.w.shape[-2:]
        OH, OW = layer.out.shape[-2:]
        (sh, sw), (dh, dw) = layer.stride, layer.dilation
        top, left = layer.pad[0], layer.pad[2]
        rows = (np.arange(OH)[:, None] * sh + np.arange(KH)[None, :] * dh - top).ravel()
        cols = (np.arange(OW)[:, None] * sw + np.arange(KW)[None, :] * dw - left).ravel()
        found = bool(found) or len(set(rows.tolist()) & set(range(H))) < H \
            or len(set(cols.tolist()) & set(range(W))) < W
    return found


def _distinguishes(solved: Any, text: str, keys: list[str], graded: list[str]) -> bool:
    """For each convention key, another of its values changes a graded result."""
    from convgrad.compare import Solver, same_entries, values_of
    from convgrad.model import CONVENTION_VALUES

    solver = Solver(text, "<variant>", solved.exact)
    base = solved.problem.conventions
    mine = values_of(solved)
    for key in keys:
        moved = False
        for value in CONVENTION_VALUES[key]:
            if value == getattr(base, key):
                continue
            try:
                theirs = values_of(solver.run(replace(base, **{key: value})))
            except ProblemError:
                continue
            if any(k not in theirs or mine[k].shape != theirs[k].shape
                   or not same_entries(mine[k], theirs[k]).all() for k in graded):
                moved = True
                break
        if not moved:
            return False
    return True


def missed(template: Template, solved: Any, text: str, answers: dict[str, Any],
           graded: list[str]) -> list[str]:
    """The requirements (but distinct) this variant misses; ProblemError when one can never
    be met, the problem having no layer it speaks of."""
    out = []
    checks = {"max_tie": (_max_tie, "max pooling"), "relu_kink": (_relu_kink, "ReLU"),
              "uncovered": (_uncovered, "convolution")}
    for name in template.require:
        if name == "integer_results":
            if not all(_all_integers(v) for key, v in answers.items() if key != "conventions"):
                out.append(name)
        elif name in checks:
            check, layer = checks[name]
            met = check(solved)
            if met is None:
                raise ProblemError(f"{template.source}: require {name} cannot be met: the "
                                   f"problem has no {layer}; drop it from require")
            if not met:
                out.append(name)
        elif name == "distinguishes" and not _distinguishes(
                solved, text, template.distinguishes, graded):
            out.append(name)
    return out


def _yaml(data: dict[str, Any], flow: bool | None = None) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=flow,
                              allow_unicode=True, width=100))


def make_variant(template: Template, seed: int) -> tuple[Variant, list[str]]:
    """The variant drawn from seed, and the requirements it misses (but distinct)."""
    from convgrad.engine import run
    from convgrad.reader import problem_from_text
    from convgrad.render.convention_words import convention_words

    text = problem_text(draw(template, seed))
    try:
        solved = run(problem_from_text(text, f"{template.source} (variant seed {seed})"))
    except ProblemError as exc:
        raise ProblemError(f"a variant of the template is not a usable problem: {exc}") \
            from None
    answers = answer_values(solved)
    graded = graded_keys(template, answers)
    variant = Variant(seed, text, _yaml(answers), _yaml(dict.fromkeys(graded), flow=False),
                      convention_words(solved.problem))
    return variant, missed(template, solved, text, answers, graded)


def generate(template: Template, count: int, seed: int) -> list[Variant]:
    """count variants meeting every requirement, drawn from seed; ProblemError naming the
    requirement met too rarely when the tries (or MAX_SECONDS) run out."""
    return list(iter_variants(template, count, seed))


def iter_variants(template: Template, count: int, seed: int) -> Iterator[Variant]:
    """generate's variants one at a time, in order: the first k of them are the same for any
    use, so that variant k can be drawn without the rest (`variant`). The time limit counts
    only the time spent drawing, not the time a caller waits between two variants."""
    if count < 1:
        raise ProblemError(f"--count must be 1 or more, not {count}")
    if seed < 0:
        raise ProblemError(f"--seed must be a whole number >= 0, not {seed}")
    distinct = "distinct" in template.require
    if distinct and count > 1 and not template.random:
        raise ProblemError(f"{template.source}: require distinct cannot be met: the template "
                           "has no random choice; add one such as {int: [-3, 3]}")
    seeds = np.random.default_rng(seed)
    found = 0
    seen: set[str] = set()
    misses: Counter[str] = Counter()
    tries, spent = 0, 0.0
    while found < count:
        if tries >= MAX_TRIES_PER_VARIANT * count or spent > MAX_SECONDS:
            name, n = misses.most_common(1)[0]
            raise ProblemError(f"{template.source}: require {name} is met too rarely: {n} of "
                               f"{tries} tries missed it and {found} of {count} "
                               "variants were found; widen the random choices or drop it")
        tries += 1
        start = time.monotonic()
        made, missing = make_variant(template, int(seeds.integers(2 ** 32)))
        if distinct and made.problem in seen:
            missing.append("distinct")
        spent += time.monotonic() - start
        if missing:
            misses.update(missing)
            continue
        seen.add(made.problem)
        found += 1
        yield made


# Variants drawn so far, by (template, seed, count): a question server asks for one variant
# per request, and the ones before it are drawn once per process.
_DRAWN: dict[tuple[str, int, int], tuple[Iterator[Variant], list[Variant]]] = {}
_DRAWN_KEPT = 8


def variant(template: Template, seed: int, count: int, index: int) -> Variant:
    """Variant `index` (0-based: DIR/001 is 0) of `generate --seed seed --count count`: the
    same problem and answer key as that command's folder, drawing only the variants up to it.
    ProblemError as generate's."""
    if not 0 <= index < count:
        raise ProblemError(f"variant {index} is not one of the {count} variants (0 to "
                           f"{count - 1})")
    key = (repr((template.source, template.data, template.graded, template.require,
                 template.distinguishes)), seed, count)
    if key not in _DRAWN:
        if len(_DRAWN) >= _DRAWN_KEPT:
            del _DRAWN[next(iter(_DRAWN))]
        _DRAWN[key] = (iter_variants(template, count, seed), [])
    pending, drawn = _DRAWN[key]
    try:
        while len(drawn) <= index:
            drawn.append(next(pending))
    except ProblemError:
        del _DRAWN[key]  # a generator that raised is finished: the next call starts again
        raise
    return drawn[index]


# --- the files ------------------------------------------------------------------------------


def variant_dirs(count: int) -> list[str]:
    """001, 002 ... (at least three digits, more for a count that needs them)."""
    width = max(3, len(str(count)))
    return [f"{k:0{width}d}" for k in range(1, count + 1)]


def problem_file(variant: Variant) -> str:
    """problem.yaml: the conventions its answers depend on as a comment line (which the
    reader ignores), then the problem."""
    if not variant.conventions:
        return variant.problem
    return f"# Conventions: {variant.conventions}\n{variant.problem}"


def manifest_text(seed: int, variants: list[Variant]) -> str:
    doc = {"seed": seed, "count": len(variants),
           "variants": [{"dir": name, "seed": v.seed}
                        for name, v in zip(variant_dirs(len(variants)), variants, strict=True)]}
    return json.dumps(doc, indent=2) + "\n"


def moodle_text(variants: list[Variant], rule: Tolerance | None = None) -> str:
    """DIR/quiz.xml: one Cloze question per variant, named by its folder (SPEC section 9),
    its fields' tolerances check's rule (default: check's default tolerance)."""
    import yaml

    from convgrad.render.moodle import DEFAULT_RULE, quiz_xml

    questions = []
    for name, variant in zip(variant_dirs(len(variants)), variants, strict=True):
        answers = yaml.safe_load(variant.answers)
        graded = list(yaml.safe_load(variant.blank) or {})
        questions.append((name, variant.problem, answers, graded))
    return quiz_xml(questions, rule or DEFAULT_RULE, [v.conventions for v in variants])


def prairielearn_files(template: Template, text: str, seed: int, variants: list[Variant],
                       rule: Tolerance | None = None) -> list[tuple[str, str]]:
    """DIR as one PrairieLearn question (SPEC section 9): (file, text) of info.json,
    question.html, server.py and the template (text, as read) beside them; server.py grades
    by check's rule (default: check's default tolerance)."""
    import yaml

    from convgrad.render.prairielearn import question_files

    name = template.data.get("name")
    title = name if isinstance(name, str) and name.strip() else \
        f"Gradients: {os.path.splitext(os.path.basename(template.source))[0]}"
    keyed = [(yaml.safe_load(v.answers), list(yaml.safe_load(v.blank) or {})) for v in variants]
    return question_files(text, title, seed, keyed, rule)


def write_variants(out: str, seed: int, variants: list[Variant],
                   extra: tuple[tuple[str, str], ...] = ()) -> None:
    """DIR/NNN/{problem,answers,blank}.yaml, DIR/manifest.json and each (file, text) of extra
    in DIR (quiz.xml, or the PrairieLearn question's files); ProblemError when they cannot
    be written."""
    try:
        if os.path.exists(out) and not os.path.isdir(out):
            raise ProblemError(f"--out {out}: is a file; give a folder to write the variants "
                               "into")
        for name, variant in zip(variant_dirs(len(variants)), variants, strict=True):
            folder = os.path.join(out, name)
            os.makedirs(folder, exist_ok=True)
            for file, text in (("problem.yaml", problem_file(variant)),
                               ("answers.yaml", variant.answers),
                               ("blank.yaml", variant.blank)):
                with open(os.path.join(folder, file), "w", encoding="utf-8",
                          newline="\n") as stream:
                    stream.write(text)
        for file, text in (("manifest.json", manifest_text(seed, variants)), *extra):
            with open(os.path.join(out, file), "w", encoding="utf-8",
                      newline="\n") as stream:
                stream.write(text)
    except OSError as exc:
        raise ProblemError(f"--out {out}: cannot write the variants ({exc.strerror or exc})") \
            from None
