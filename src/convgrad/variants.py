"""check against a folder written by generate (SPEC section 9): each answers file lies in its
student's variant folder (DIR/007/alice.yaml) and is graded against that variant's
problem.yaml, each variant solved once. Data only: cli.py prints."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convgrad.errors import ProblemError

if TYPE_CHECKING:
    from convgrad.classreport import ClassReport
    from convgrad.compare import Solver
    from convgrad.grade import FileReport, Grader, Tolerance
    from convgrad.render.report import Line

MANIFEST = "manifest.json"
# What generate writes in each variant folder: never a student's answers.
GENERATED = ("problem.yaml", "answers.yaml", "blank.yaml")


@dataclass
class Variant:
    """One variant with files to grade: its folder as the manifest names it ("007"), its
    problem file, its grader, and the indices (in the order given) of its answers files."""

    name: str
    problem: str
    grader: Grader
    files: list[int] = field(default_factory=list)


@dataclass
class ClassGrades:
    """A class graded against the variants in `folder`. reports: one per answers file, in
    the order given; skipped: the files given that generate wrote (GENERATED)."""

    folder: str
    variants: list[Variant]
    reports: list[FileReport]
    skipped: list[str]

    def common_conventions(self) -> list[tuple[str, Any]] | None:
        """The conventions every variant was solved under, or None when they differ."""
        found = {tuple(v.grader.solved.problem.conventions.items()) for v in self.variants}
        return list(found.pop()) if len(found) == 1 else None

    def json(self, tolerance: Tolerance, reveal: bool, partial: bool) -> dict[str, Any]:
        """check --json's object: the fields of one problem's (README), `problem` the folder,
        each file with its `variant`. Each file's values are written as its variant was
        solved (exact strings when it was exact); conventions that differ across variants
        are given per file instead of once."""
        from convgrad.grade import check_json
        from convgrad.result import Result

        points = self.variants[0].grader.points if self.variants else {}
        common = self.common_conventions()
        doc = check_json(self.folder, tolerance, self.reports, reveal, False, points, partial,
                         common)
        files: list[dict[str, Any]] = [{} for _ in self.reports]
        for variant in self.variants:
            solved = variant.grader.solved
            mine = [self.reports[n] for n in variant.files]
            items = check_json(self.folder, tolerance, mine, reveal, solved.exact, points,
                               partial)["files"]
            for n, item in zip(variant.files, items, strict=True):
                if common is None:
                    item["conventions"] = Result.conventions_json(
                        solved.problem.conventions.items())
                files[n] = item
        doc["files"] = files
        return doc

    def lines(self, tolerance: Tolerance, reveal: bool, summary_only: bool,
              partial: bool) -> list[Line]:
        """check's text report: each file's report names its variant; the conventions once,
        or per variant when they differ."""
        from convgrad.render.report import check_lines, conventions_line

        points = self.variants[0].grader.points if self.variants else {}
        common = self.common_conventions()
        lines = check_lines(self.reports, tolerance, reveal, summary_only=summary_only,
                            points=points, partial=partial, conventions=common,
                            problems=[v.grader.solved.problem for v in self.variants])
        if common is None:
            lines[1:1] = [conventions_line(v.grader.solved.problem.conventions.items(), v.name,
                                           [v.grader.solved.problem])
                          for v in self.variants]
        return lines

    def class_report(self, reveal: bool) -> ClassReport:
        """The class report over every file, across the variants."""
        from convgrad.classreport import class_report_across

        return class_report_across([([self.reports[n] for n in v.files], v.grader)
                                    for v in self.variants], reveal)


def read_manifest(folder: str) -> list[tuple[str, str]]:
    """The variants of `folder` as (name, its folder's path), in the manifest's order;
    ProblemError when the folder has no manifest or one that generate did not write."""
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        raise ProblemError(f"{folder}: is a folder without {MANIFEST}; give a problem file, or "
                           "a folder written by convgrad generate (DIR/manifest.json, "
                           "DIR/001/problem.yaml ...)")
    try:
        with open(path, encoding="utf-8") as stream:
            doc = json.load(stream)
        names = [v["dir"] for v in doc["variants"]]
        if not all(isinstance(name, str) and _plain_name(name) for name in names):
            raise TypeError
    except OSError as exc:
        raise ProblemError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, TypeError, KeyError):
        raise ProblemError(f"{path}: not a manifest that convgrad generate writes (an object "
                           "with 'variants': [{dir, seed}, ...]); write the variants again "
                           "with convgrad generate (the same --seed rebuilds them)") from None
    return [(name, os.path.join(folder, name)) for name in names]


def _variant_of(path: str, folders: list[tuple[str, str]]) -> tuple[int, bool] | None:
    """The variant whose folder holds `path` (at any depth), and whether it lies in that
    folder itself; None when no variant's folder holds it."""
    where = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    for n, (_, folder) in enumerate(folders):
        if where == folder:
            return n, True
        if where.startswith(folder.rstrip(os.sep) + os.sep):
            return n, False
    return None


def grade_class(folder: str, answers: list[str], *, tolerance: Tolerance,
                points: dict[str, float] | None = None, require: list[str] | None = None,
                partial: bool = False, carry_forward: bool = False,
                exact: bool | None = None, conventions: str | None = None) -> ClassGrades:
    """Grade each answers file against the variant whose folder holds it (the options as
    Grader's; exact and conventions as check's --exact and --conventions). Files named as
    generate's own (GENERATED) directly in a variant folder are skipped. ProblemError (one
    line) for a file outside every variant folder, a variant without its problem.yaml or
    an unusable problem, before anything is graded."""
    from convgrad.compare import Solver
    from convgrad.grade import Grader
    from convgrad.reader import read_text

    listed = read_manifest(folder)
    folders = [(name, os.path.realpath(path)) for name, path in listed]
    chosen: list[tuple[str, int]] = []  # (path, variant)
    skipped: list[str] = []
    keys: list[tuple[str, int]] = []  # the answers.yaml files given: (path, variant)
    for path in answers:
        found = None if path == "-" else _variant_of(path, folders)
        if found is None and os.path.isdir(path):
            # A variant's folder (or the class's) in place of the files in it: the shell's
            # DIR/* where DIR/*/* was meant. Its parent is no variant's, but it is no stray
            # file to copy into one either.
            raise ProblemError(f"{path} is a folder, not an answers file; give the students' "
                               "files in the variant folders, e.g. "
                               f"{os.path.join(folder, '*', '*.yaml')}")
        if found is None:
            what = "standard input ('-')" if path == "-" else path
            example = os.path.join(listed[0][1] if listed else folder,
                                   "alice.yaml" if path == "-" else os.path.basename(path))
            raise ProblemError(f"{what} is in no variant folder of {folder} (its "
                               f"{MANIFEST} lists {_span(listed)}); copy each student's "
                               f"answers into their variant's folder, e.g. {example}")
        n, directly = found
        if directly and os.path.basename(path) in GENERATED:
            if os.path.basename(path) == "blank.yaml" and _filled_in(path):
                # a student's answers on generate's blank: skipping it would lose them, and
                # its keys are what the variant grades
                example = _free_name(os.path.dirname(path))
                raise ProblemError(
                    f"{path}: has answers filled in, but blank.yaml is the blank that "
                    f"generate writes, which check skips; rename it after its student (e.g. "
                    f"{example}) and copy another variant's blank.yaml in its place (its keys "
                    "are the ones graded)")
            if os.path.basename(path) == "answers.yaml":
                keys.append((path, n))
            skipped.append(path)
        else:
            chosen.append((path, n))
    if not chosen:
        for path, n in keys:
            _check_answer_key(path, listed[n])
    if answers and not chosen:
        raise ProblemError(f"every file given is one that generate wrote ({', '.join(GENERATED)}"
                           "), not a student's answers; copy each student's answers into their "
                           "variant's folder (to check an answer key, give its variant's "
                           "problem.yaml: check DIR/001/problem.yaml DIR/001/answers.yaml)")
    variants: dict[int, Variant] = {}
    for _, n in sorted(chosen, key=lambda c: c[1]):  # each variant solved once, in order
        if n in variants:
            continue
        name, path = listed[n]
        problem = os.path.join(path, "problem.yaml")
        if not os.path.isfile(problem):
            raise ProblemError(f"{problem}: no such file: variant {name} of "
                               f"{os.path.join(folder, MANIFEST)} has no problem; write the "
                               "variants again with convgrad generate (the same --seed "
                               "rebuilds them)")
        solver = Solver(read_text(problem), problem, exact)
        solved = solver.run(conventions)
        # Without --points or --require, what the template graded (its blank.yaml's keys), as
        # the students were asked: a key copied from the answer key is not graded.
        own = require if points or require else _graded_keys(path)
        try:
            grader = Grader(solved, tolerance, points, own, partial, solver, carry_forward)
        except ProblemError as exc:  # --points names an entry outside this variant's result
            raise ProblemError(f"{problem} (variant {name}): {exc}") from None
        variants[n] = Variant(name, problem, grader)
    # Each answers.yaml given is told from a student's file before anything is graded, by
    # the variant's problem solved as generate solved it: the grading's own run when check
    # solves it so too (no --exact: its results are the same run), else a run of its own.
    for path, n in keys:
        _check_answer_key(path, listed[n], variants[n].grader.solver
                          if n in variants and exact is None else None)
    reports = []
    for index, (path, n) in enumerate(chosen):
        variant = variants[n]
        report = variant.grader.grade_file(path)
        report.variant = variant.name
        variant.files.append(index)
        reports.append(report)
    return ClassGrades(folder, [variants[n] for n in sorted(variants)], reports, skipped)


def _check_answer_key(path: str, variant: tuple[str, str], solver: Solver | None = None
                      ) -> None:
    """ProblemError when a variant folder's answers.yaml is not the answer key generate
    wrote there (its results differ from the variant's problem solved): a student's file
    under the key's name, which check would skip. Left alone when it cannot be told (no
    problem.yaml, a file that does not read)."""
    import yaml

    from convgrad.compare import Solver
    from convgrad.generate import _yaml, answer_values
    from convgrad.reader import read_text

    name, folder = variant
    problem = os.path.join(folder, "problem.yaml")
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        # As generate wrote it: the problem as it reads itself (its own conventions),
        # through the same YAML. The key generate wrote is that text itself (generate
        # rebuilds its files byte for byte), told without reading any YAML; a file that
        # differs is read, and its results compared, the conventions left out (they
        # state, not result): a key saved again by an editor is still the key.
        solver = solver or Solver(read_text(problem), problem)
        key_text = _yaml(answer_values(solver.run()))
        if text == key_text:
            return
        given, key = yaml.safe_load(text), yaml.safe_load(key_text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ProblemError):
        return
    if not isinstance(given, dict):
        given = {}
    given.pop("conventions", None)
    key.pop("conventions", None)
    if given != key:
        example = _free_name(os.path.dirname(path))
        raise ProblemError(f"{path}: not the answer key generate wrote for variant {name} "
                           "(its results differ), but answers.yaml is the key's name, which "
                           f"check skips; rename it after its student (e.g. {example}) and "
                           "write the variants again with convgrad generate (the same --seed "
                           "rebuilds the key)")


def _free_name(folder: str) -> str:
    """A student's file name in `folder` that no file there has yet (alice.yaml, bob.yaml ...):
    the example of a rename, which must not write over another student's answers."""
    names = ("alice", "bob", "carol", "dan", "erin")
    for name in (*names, *(f"student{n}" for n in range(1, 10_000))):
        path = os.path.join(folder, f"{name}.yaml")
        if not os.path.lexists(path):
            return path
    return os.path.join(folder, "STUDENT.yaml")


def _graded_keys(folder: str) -> list[str] | None:
    """The keys of the variant's blank.yaml (the template's `graded`), or None when it has
    none that can be read (every key some file answered is graded then, as for one problem)."""
    blank = _read_blank(os.path.join(folder, "blank.yaml"))
    if not isinstance(blank, dict) or not all(isinstance(k, str) for k in blank):
        return None
    return list(blank) or None


def _filled_in(path: str) -> bool:
    """Whether a blank.yaml holds a value (generate writes every key null)."""
    blank = _read_blank(path)  # None when unreadable, as answers too: skipped, as before
    return isinstance(blank, dict) and any(value is not None for value in blank.values())


def _read_blank(path: str) -> Any:
    """A blank.yaml's data, or None when it cannot be read as YAML text (missing, a folder,
    not UTF-8, not YAML): a teacher's or a student's file, which must not stop check."""
    import yaml

    try:
        with open(path, encoding="utf-8") as stream:
            return yaml.safe_load(stream)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _plain_name(name: str) -> bool:
    """A folder's own name (001), not a path that leads elsewhere."""
    return name not in ("", ".", "..") and "/" not in name and os.sep not in name


def _span(listed: list[tuple[str, str]]) -> str:
    if not listed:
        return "no variant"
    if len(listed) == 1:
        return f"variant {listed[0][0]}"
    return f"variants {listed[0][0]} to {listed[-1][0]}"
