"""The command line: thin commands that parse options, call the library and hand results on.

The only module that prints to the terminal or exits. Library errors
(ProblemError) become one line on stderr and exit code 2, here and nowhere else.

Every command and option is declared once, below: a command's options are a record
whose docstring is the command's help and whose fields carry each option's name and help
(`_argument`, `_option`, `_flag`); the field's type says how it is read (a flag, an int, a
float, a string, one of `choices`, a repeatable option or several arguments). `COMMANDS`
pairs each with its work. From that one declaration come both parsers:

- the typer app (`make_app`), which gives help, `--version` and every usage error message;
- `fast_parse`, a small parser that reads the command lines it is sure of (every
  well-formed call of a command, those scripts make in loops among them) without importing
  typer, which with pydantic costs about 0.1 s per call. Anything else (help, an unknown
  option, a value it does not recognise, a missing argument) goes to typer, so messages
  are typer's.

Either way the result is an `Invocation` (the command, its options, --debug), and
`_execute` runs it in one place, outside typer: the same errors, Ctrl-C and pipes whichever
parser read the command line. `main(argv)` returns the exit code, so tests call it
in-process; the `convgrad` command and `python -m convgrad` pass it to sys.exit.

Around every command, `main` takes care of the process's faults: a reader that has gone
(`| head`) ends the command quietly with the code it would have had; standard output that
cannot be written (closed, a full disk) is one line and exit 2; Ctrl-C is one line,
"interrupted", and exit 130; an ASCII-only standard output gets backslash escapes rather
than an encoding error; NumPy's floating-point warnings never reach stderr.
"""

# No `from __future__ import annotations` here: the parsers read the option fields' types.
import contextlib
import errno
import io
import math
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from convgrad import __version__
from convgrad.errors import ProblemError
from convgrad.records import MISSING, field, fields, record
from convgrad.render.formats import FORMATS  # names only: no format is imported

try:  # the signal module's own functions, without the three enums it builds when imported
    import _signal as signal
except ImportError:  # an interpreter without CPython's _signal
    import signal  # type: ignore[no-redef]

# Exit codes (SPEC section 3), for every command.
EXIT_OK = 0
EXIT_WRONG = 1
EXIT_UNUSABLE = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a process ended by SIGINT

WORKED_EXAMPLE = """\
name: 3x3 input, 2x2 kernel, MSE loss (the built-in worked example)
input:
  - [1, 2, 3]
  - [4, 5, 6]
  - [7, 8, 9]
kernel:
  - [1, 0]
  - [-1, 1]
bias: 1
stride: 1
padding: 0
target:
  - [1, 0]
  - [0, 1]
loss: mse
"""


# --- the commands and their options, declared once ----------------------------------------


@record(frozen=True)
class Opt:
    """How a field of a command's options is written on the command line: `name` is the
    option (`--json`), or None for a positional argument; `choices`, the values a string
    option may take."""

    name: str | None
    help: str
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names of the option: --output for -o

    @property
    def names(self) -> tuple[str, ...]:
        return () if self.name is None else (self.name, *self.aliases)


def _argument(help: str, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"cli": Opt(None, help)})


def _option(name: str, help: str, default: Any = None, choices: tuple[str, ...] = (),
            aliases: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"cli": Opt(name, help, choices, aliases)})


def _flag(name: str, help: str) -> Any:
    return _option(name, help, default=False)


APP_HELP = ("Gradients of convolution layers, worked out term by term.\n\n"
            "Reads a problem from a YAML file and shows the forward pass, the loss and "
            "dL/dW, dL/db, dL/dX. With no file, solve and explain use the built-in worked "
            "example.")
PROBLEM_HELP = ("The problem file (YAML); '-' reads standard input. Left out: the built-in "
                "worked example.")
EXACT_HELP = ("Exact fractions (fails on sigmoid, tanh, softmax, log_softmax, batch_norm, "
              "bce, cross_entropy, cross_entropy_probs).")
FLOAT_HELP = "float64 arithmetic."
GENERATE_FORMATS = ("moodle", "prairielearn")
FORMAT_HELP = ("The output's format: text (the terminal's, the default), markdown (math for "
               "KaTeX, GitHub, Jupyter), latex (a document for pdflatex) or html (one "
               "self-contained page). Default: from -o's ending (.md, .tex, .html), else text.")
OUTPUT_HELP = "Write the output to this file (atomically) instead of standard output."
FRAGMENT_HELP = "With --format latex: the document's body alone, to put into another."
LANG_HELP = "The words of the output: en (English) or zh (Chinese)."
CONVENTIONS_HELP = ("The conventions' profile (pytorch, tensorflow, caffe, cs231n, coursera, "
                    "textbook), in place of the problem's own; its other convention keys still "
                    "apply on top.")


@record(kw_only=True, repr=False)
class MainOptions:
    """Options before the command."""

    version: bool = _flag("--version", "Print the version and exit.")
    debug: bool = _flag("--debug", "On an internal error, print the traceback.")


@record(kw_only=True, repr=False)
class SolveOptions:
    """Every intermediate term and every result: Y, the loss, dL/dY, dL/dW, dL/db, dL/dX."""

    problem: str | None = _argument(PROBLEM_HELP, default=None)
    json: bool = _flag("--json", "Print one JSON object with every result, nothing else.")
    exact: bool = _flag("--exact", EXACT_HELP)
    float_: bool = _flag("--float", FLOAT_HELP)
    conventions: str | None = _option("--conventions", CONVENTIONS_HELP)
    terms: str = _option("--terms", "Term expansions: all, auto (full for homework-size "
                         "problems, summarised for large ones) or none.", default="auto",
                         choices=("all", "auto", "none"))
    format: str | None = _option("--format", FORMAT_HELP, choices=FORMATS)
    output: str | None = _option("-o", OUTPUT_HELP, aliases=("--output",))
    fragment: bool = _flag("--fragment", FRAGMENT_HELP)
    lang: str = _option("--lang", LANG_HELP, default="en", choices=("en", "zh"))


@record(kw_only=True, repr=False)
class ExplainOptions:
    """A step-by-step walkthrough of the forward and backward pass, as on paper."""

    problem: str | None = _argument(PROBLEM_HELP, default=None)
    step: bool = _flag("--step", "Pause after each step (Enter: next, q: quit) when standard "
                                 "input is a terminal.")
    show_all: bool = _flag("--all", "Show every element in full, not the first few of each "
                                    "kind.")
    lang: str = _option("--lang", "The words of the walkthrough: en (English) or zh "
                                  "(Chinese).", default="en", choices=("en", "zh"))
    exact: bool = _flag("--exact", EXACT_HELP)
    float_: bool = _flag("--float", FLOAT_HELP)
    conventions: str | None = _option("--conventions", CONVENTIONS_HELP)
    format: str | None = _option("--format", FORMAT_HELP, choices=FORMATS)
    output: str | None = _option("-o", OUTPUT_HELP, aliases=("--output",))
    fragment: bool = _flag("--fragment", FRAGMENT_HELP)


@record(kw_only=True, repr=False)
class CheckOptions:
    """Grade a student's answers: exit 0 when every answer is right, 1 when one is wrong."""

    problem: str = _argument("The problem file (YAML); '-' reads standard input; or a folder "
                             "written by generate, each answers file then graded against "
                             "the variant whose folder holds it.")
    answers: list[str] = _argument("One or more answers files (YAML); '-' reads standard "
                                   "input.")
    json: bool = _flag("--json", "Print one JSON object: the tolerance, and per file per key "
                                 "the grade.")
    no_reveal: bool = _flag("--no-reveal", "Hide the expected values: say only which entries "
                                           "are wrong.")
    rtol: float | None = _option("--rtol", "Relative tolerance (default 1e-6).")
    atol: float | None = _option("--atol", "Absolute tolerance (default 1e-6).")
    decimals: int | None = _option("--decimals", "Right when the answer rounds to the "
                                                 "expected value at N decimals.")
    sig_figs: int | None = _option("--sig-figs", "Right when the answer has the expected "
                                                 "value's N significant figures.")
    conventions: str | None = _option("--conventions", CONVENTIONS_HELP)
    exact: bool = _flag("--exact", "Compare exact fractions exactly (the problem must be "
                                   "rational).")
    summary: bool = _flag("--summary", "Print only the summary table, not each file's "
                                       "report.")
    points: list[str] | None = _option(
        "--points", "The graded keys and their points, e.g. dW=2,db=1 or 'dW[1,2]=1' "
                    "(repeatable). Every key named is graded in every file; other keys are "
                    "not graded. Default: 1 point per key given.")
    require: list[str] | None = _option(
        "--require", "Keys every file must answer, e.g. dW,db,dX (repeatable); 1 point each "
                     "unless --points says otherwise.")
    partial: bool = _flag("--partial", "A matrix of the right shape earns the share of its "
                                       "entries that are right (default: right or wrong as a "
                                       "whole).")
    gradescope: str | None = _option("--gradescope", "Also write Gradescope's results.json to "
                                                     "this path.")
    gradescope_visibility: str | None = _option(
        "--gradescope-visibility", "Who sees the Gradescope results: visible (default), "
                                   "hidden, after_due_date or after_published.")
    carry_forward: bool = _flag(
        "--carry-forward", "A wrong key that equals what the rules give from the student's own "
                           "earlier answer (dW, db, dX from their dY ...) is marked carried "
                           "forward and earns its points.")
    class_report: str | None = _option(
        "--class-report", "Also write a class report to this file: per key and per entry the "
                          "share of files right and the hints by kind, as .html (a heat map "
                          "per key), .csv or .json (by the file's ending).")


@record(kw_only=True, repr=False)
class CompareOptions:
    """Solve under several profiles: what differs, entry by entry, and which key causes it."""

    problem: str = _argument("The problem file (YAML); '-' reads standard input.")
    conventions: str | None = _option(
        "--conventions", "The profiles to compare, two or more, e.g. pytorch,tensorflow (of "
                         "pytorch, tensorflow, caffe, cs231n, coursera, textbook); the first "
                         "is the one the others are compared with. The problem's own "
                         "convention keys apply on top of each.")
    json: bool = _flag("--json", "Print one JSON object: the profiles, and per result key the "
                                 "differing entries with each profile's value and their cause.")
    exact: bool = _flag("--exact", EXACT_HELP)
    float_: bool = _flag("--float", FLOAT_HELP)


@record(kw_only=True, repr=False)
class GenerateOptions:
    """Variants of a problem from a template: problems, answer keys, blank answers files.

    Each variant in a folder of its own, and a manifest; the same seed, the same files."""

    template: str = _argument("The template: a problem file whose values may be random "
                              "choices, e.g. {int: [-3, 3]} (see README, 'Generating "
                              "variants').")
    count: int = _option("--count", "How many variants.", default=1)
    seed: int = _option("--seed", "The seed the variants are drawn from.", default=0)
    out: str | None = _option("--out", "The folder to write the variants into (DIR/001/, "
                                        "DIR/manifest.json).")
    format: str | None = _option("--format", "Also write the variants for a learning system: "
                                 "moodle (DIR/quiz.xml, one Cloze question per variant) or "
                                 "prairielearn (DIR as one PrairieLearn question: info.json, "
                                 "question.html, server.py, template.yaml).",
                                 choices=GENERATE_FORMATS)
    rtol: float | None = _option("--rtol", "With --format: the relative tolerance the exports "
                                           "grade by, as check's (default 1e-6).")
    atol: float | None = _option("--atol", "With --format: the absolute tolerance the exports "
                                           "grade by, as check's (default 1e-6).")
    decimals: int | None = _option("--decimals", "With --format: an answer counts when it "
                                                 "rounds to the result at N decimals, as "
                                                 "check --decimals N.")
    sig_figs: int | None = _option("--sig-figs", "With --format: an answer counts when it has "
                                                 "the result's N significant figures, as check "
                                                 "--sig-figs N.")


@record(frozen=True)
class Param:
    """A field of a command's options as both parsers read it."""

    name: str  # the field
    opt: Opt
    kind: type  # bool (a flag), int, float or str
    many: bool  # list[str]: a repeatable option, or one or more arguments
    required: bool
    default: Any


_PARAMS: dict[type, list[Param]] = {}


def params(options: type) -> list[Param]:
    """The fields of an options record, in order, read from their types and metadata."""
    if options not in _PARAMS:
        found = []
        for f in fields(options):
            kind: Any = f.type
            inner = [t for t in typing.get_args(kind) if t is not type(None)]
            if type(None) in typing.get_args(kind):  # X | None
                kind = inner[0]
            many = typing.get_origin(kind) is list
            if many:
                kind = typing.get_args(kind)[0]
            if kind not in (bool, int, float, str) or (many and kind is not str):
                raise TypeError(f"{options.__name__}.{f.name}: the command line reads bool, "
                                f"int, float, str, X | None and list[str], not {f.type}")
            found.append(Param(f.name, f.metadata["cli"], kind, many, f.default is MISSING,
                               None if f.default is MISSING else f.default))
        _PARAMS[options] = found
    return _PARAMS[options]


# --- the process: messages, standard output, Ctrl-C ----------------------------------------


class _Done(Exception):
    """Ends a command early with an exit code (after its one-line message)."""

    def __init__(self, code: int) -> None:
        self.code = code


class _Interrupted(BaseException):
    """Ctrl-C. A BaseException, as KeyboardInterrupt is, so that no `except Exception` on the
    way (click's and rich's included) turns it into something else."""


class _OutputFailed(BaseException):
    """Standard output cannot be written (the reader of a pipe has gone, the disk is full)."""


def _say(line: str) -> None:
    """One line on stderr, every control character in it a space (a file named with an
    escape sequence or a carriage return in it would reach the terminal); nothing at all
    when stderr itself is closed or broken."""
    if sys.stderr is None:
        return
    from convgrad.render.report import one_line

    try:
        sys.stderr.write(one_line(line) + "\n")
        sys.stderr.flush()
    except OSError:  # so that Python's flush at exit does not fail on it again
        with contextlib.suppress(OSError, ValueError):
            _to_devnull(sys.stderr.fileno())
    except ValueError:  # closed
        pass


def _fail(message: str, code: int) -> None:
    _say(message)
    raise _Done(code)


class _Stdout(io.FileIO):
    """Standard output's file descriptor, under the text stream that replaces sys.stdout.

    The first write that fails (EPIPE: the reader of a pipe has gone, as with `| head`;
    ENOSPC: /dev/full) is remembered, and the descriptor is pointed at /dev/null, so that
    nothing written later, Python's own flush at exit included, fails again. With `stop`
    the failure raises _OutputFailed and ends the command (solve, explain: there is nothing
    left to do); without, the command runs to its end and its output goes nowhere (check:
    its exit code is the grade).
    """

    def __init__(self, fd: int, stop: bool) -> None:
        super().__init__(fd, "wb", closefd=False)
        self.stop = stop
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        if self.error is None:
            try:
                return super().write(data)
            except OSError as exc:
                self.error = exc
                _to_devnull(self.fileno())
                if self.stop:
                    raise _OutputFailed from None
        return memoryview(data).nbytes


def _to_devnull(fd: int) -> None:
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def _guard_stdout(stop: bool) -> "_Stdout | None":
    """Put a _Stdout under sys.stdout, encoding with backslashreplace (an ASCII-only stdout
    prints é as \\xe9 rather than failing). Only the process's own stdout, not a capture."""
    if sys.stdout is None or sys.stdout is not sys.__stdout__:
        return None
    out: Any = sys.stdout
    try:
        fd = out.fileno()
        out.flush()
    except (OSError, ValueError, AttributeError):
        return None
    raw = _Stdout(fd, stop)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=out.encoding,
                                  errors="backslashreplace", line_buffering=out.line_buffering)
    return raw


def _on_sigint(signum: int, frame: Any) -> None:
    # Once: a second Ctrl-C while convgrad says "interrupted" and exits changes nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Interrupted


@contextmanager
def _ctrl_c() -> Iterator[None]:
    """Ctrl-C raises _Interrupted. Only where SIGINT has Python's default handler: a shell
    that started convgrad with SIGINT ignored (a background job) is obeyed."""
    try:
        ours = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if ours:
            signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: leave signals alone
        ours = False
    try:
        yield
    finally:
        # After a Ctrl-C the handler is SIG_IGN, and stays so while the process exits.
        if ours and signal.getsignal(signal.SIGINT) is _on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)


@contextmanager
def _numpy_quiet() -> Iterator[None]:
    """NumPy's floating-point warnings ("overflow encountered in exp", with a path inside
    convgrad) never reach the user: sigmoid(-1e308) = 0 is right, and a result that is not a
    finite number is refused where it is made. Any other warning is one note line."""
    import warnings

    import numpy as np

    with np.errstate(all="ignore"), warnings.catch_warnings(record=True) as caught:
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        _say(f"note: {message}")


@contextmanager
def _errors(debug: bool) -> Iterator[None]:
    """Library errors -> one line on stderr and exit 2; bugs -> one line asking for a report, 70."""
    try:
        yield
    except ProblemError as exc:
        _fail(f"error: {exc}", EXIT_UNUSABLE)
    except (_Done, BrokenPipeError):
        raise
    except Exception as exc:  # a bug: never show a traceback to a student
        if debug:
            import traceback

            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}. This is a bug in convgrad "
              f"{__version__}; please report it with the problem file (--debug shows the "
              "traceback)", EXIT_INTERNAL)


# --- the commands' work -------------------------------------------------------------------


def _stdin_open(path: str | None, what: str) -> None:
    """ProblemError when `path` is "-" and there is no standard input (a script run with
    0<&-), before anything else is done: what: the file it stands for (problem, template)."""
    if path == "-" and sys.stdin is None:
        raise ProblemError(f"<stdin>: standard input is closed; give a {what} file")


def _load(problem: str | None, conventions: str | None = None) -> Any:
    from convgrad.reader import problem_from_text, read_file

    if problem is None:
        _say("note: no problem file given; using the built-in worked example "
             "(3x3 input, 2x2 kernel, MSE loss)")
        return problem_from_text(WORKED_EXAMPLE, source="<built-in example>",
                                 conventions=conventions)
    _stdin_open(problem, "problem")
    return read_file(problem, conventions)  # a path, or "-" for standard input


def _exact_choice(exact: bool, float_: bool) -> bool | None:
    if exact and float_:
        raise ProblemError("--exact and --float contradict each other; give one of them")
    return True if exact else False if float_ else None


def _messages(solved: Any) -> list[tuple[str, Any]]:
    """What solve says on standard error about a solved problem, in order: ("warning",
    notice) for each of the problem's warnings, then ("note", notice or text) for each note
    of the run (the arithmetic chosen, nll's outputs) and the forward-only note."""
    said: list[tuple[str, Any]] = [("warning", w) for w in solved.problem.warnings]
    said += [("note", note) for note in solved.notes]
    if not solved.problem.has_backward:
        from convgrad.engine import FORWARD_ONLY

        said.append(("note", FORWARD_ONLY))
    return said


def _print_messages(solved: Any, lang: str = "en") -> None:
    for level, message in _messages(solved):
        _say(_warning_text(message, lang) if level == "warning" else f"note: {message}")


def _warning_text(warning: Any, lang: str) -> str:
    """warning: <its message>; with --lang zh, 警告：<the warning as the Chinese walkthrough
    says it> (a warning about input rows or columns from its data, another its message)."""
    if lang != "zh":
        return f"warning: {warning}"
    from convgrad.render.document import notice_words
    from convgrad.render.terminal import said
    from convgrad.trace import Phrase

    return said(Phrase("notice.warning", {"notice": notice_words(warning)}), lang)


def run_solve(options: SolveOptions) -> int:
    from convgrad.engine import run

    fmt = _format(options.format, options.output, options.fragment, options.json)
    solved = run(_load(options.problem, options.conventions),
                 exact=_exact_choice(options.exact, options.float_))
    _print_messages(solved, options.lang)
    if options.json:
        from convgrad.result import Result

        _deliver(Result.from_run(solved).json_text() + "\n", options.output)
    elif fmt != "text" or options.output is not None:
        from convgrad.render.formats import write

        _deliver(write(solved, fmt, lang=options.lang, terms=options.terms,
                       fragment=options.fragment), options.output)
    else:
        from convgrad.render import terminal as render

        render.print_solution(solved, terms=options.terms, lang=options.lang)
    return EXIT_OK


def _format(fmt: str | None, output: str | None, fragment: bool, json_too: bool = False
            ) -> str:
    """The format asked for (SPEC section 8): --format, else -o's ending, else text; the
    options that contradict it are usage errors."""
    if output is not None and (not output.strip() or output == "-"):
        raise ProblemError(f"-o needs the path of a file to write, not '{output}'; leave -o "
                           "out to write to standard output")
    chosen = fmt or "text"
    if fmt is None and output is not None:  # formats is imported only for a file's ending
        from convgrad.render.formats import format_of

        chosen = format_of(output)
    if json_too and fmt not in (None, "text"):
        raise ProblemError(f"--json prints JSON and --format {fmt} a document; give one of them")
    if fragment and chosen != "latex":
        raise ProblemError("--fragment is the body of a LaTeX document; give --format latex "
                           "(or -o FILE.tex) with it")
    return chosen


def _deliver(text: str, output: str | None, option: str = "-o") -> None:
    """A whole output to standard output, or to the file `output`, written atomically: a
    temporary file beside it, renamed over it once complete (a device or a pipe is written
    into, and a symlink's file replaced)."""
    if output is None:
        sys.stdout.write(text)
        return
    import stat
    import tempfile

    temp = None
    try:
        if os.path.isdir(output):
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        if os.path.exists(output) and not stat.S_ISREG(os.stat(output).st_mode):
            # A device, a pipe or a terminal (/dev/stdout, /dev/null, a named pipe) is
            # written into: a file renamed over it would replace the device itself.
            with open(output, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            return
        # Through a symlink, the file it names is replaced, not the link.
        target = os.path.realpath(output)
        if os.path.islink(target):  # links in a loop name no file: refused, as open() does
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        folder = os.path.dirname(target)
        try:
            fd, temp = tempfile.mkstemp(prefix=".convgrad-", suffix=".tmp", dir=folder)
        except OSError as exc:
            # The file may well exist (/proc/version): what failed is the temporary file
            # beside it that is renamed over it, whose error alone would say "No such file".
            raise ProblemError(f"{option} {output}: cannot write the file: no temporary file "
                               f"can be made in {folder} to write it first "
                               f"({exc.strerror or exc})") from None
        with open(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        if os.path.exists(target):
            os.chmod(temp, os.stat(target).st_mode & 0o7777)
        else:
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(temp, 0o666 & ~mask)
        os.replace(temp, target)
        temp = None
    except OSError as exc:
        raise ProblemError(f"{option} {output}: cannot write the file "
                           f"({exc.strerror or exc})") \
            from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def run_explain(options: ExplainOptions) -> int:
    from convgrad.engine import run

    fmt = _format(options.format, options.output, options.fragment)
    solved = run(_load(options.problem, options.conventions),
                 exact=_exact_choice(options.exact, options.float_))
    _print_messages(solved, options.lang)
    if fmt != "text" or options.output is not None:
        from convgrad.render.formats import write

        _deliver(write(solved, fmt, explain=True, lang=options.lang, show_all=options.show_all,
                       fragment=options.fragment), options.output)
        return EXIT_OK
    from convgrad.explain import Quit, Walkthrough
    from convgrad.render.terminal import make_console

    console = make_console()
    pause = _pause(console, options.lang) if options.step and _stdin_is_terminal() else None
    with contextlib.suppress(Quit):  # q at a pause ends the walkthrough cleanly
        Walkthrough(solved, console, options.lang, options.show_all).show(pause)
    return EXIT_OK


def _pause(console: Any, lang: str) -> Callable[[], bool]:
    from rich.text import Text

    from convgrad.explain import word
    from convgrad.render.terminal import make_console

    # With standard output in a file or a pipe (explain --step > notes.txt), the prompt goes to
    # standard error, the terminal the reader sees: written to standard output it vanished
    # into the file, and the walkthrough waited for an Enter that nothing on screen asked for.
    if not console.is_terminal:
        console = make_console(stderr=True)

    def wait() -> bool:
        console.print(Text(word("prompt", lang), style="dim"), " ", end="")
        answer = sys.stdin.readline()
        if not answer:  # Ctrl-D: the end of input quits, as q does
            console.print()
            return False
        return answer.strip().lower() not in ("q", "quit")

    return wait


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # closed
        return False


def run_check(options: CheckOptions) -> int:
    from convgrad.grade import parse_points, parse_require
    from convgrad.result import unlimited_int_digits

    # Every option is checked before the problem is read: a usage error costs nothing.
    tolerance = _tolerance(options)
    weights, required = parse_points(options.points), parse_require(options.require)
    _check_outputs(options)
    if [options.problem, *options.answers].count("-") > 1:
        # the first '-' would read standard input to its end, leaving the next one empty
        raise ProblemError("'-' names standard input, which can be read once: give the "
                           "problem or one answers file as '-', and the others as files")
    if options.gradescope is not None and len(options.answers) != 1:
        raise ProblemError("--gradescope writes the results of one submission; give one "
                           "answers file")
    # A folder written by generate: each student's answers in their variant's folder.
    if options.problem != "-" and os.path.isdir(options.problem):
        with unlimited_int_digits():
            return _check_variants(options, tolerance, weights, required)
    # The problem's text is kept: a wrong answer's hint solves it under other conventions.
    solver = _solver(options.problem, True if options.exact else None)
    solved = solver.run(options.conventions)
    with unlimited_int_digits():  # exact results of any size are compared and written
        return _grade_and_report(options, solved, tolerance, weights, required, solver)


def _solver(problem: str, exact: bool | None) -> Any:
    from convgrad.compare import Solver
    from convgrad.reader import read_text

    _stdin_open(problem, "problem")
    return Solver(read_text(problem), "<stdin>" if problem == "-" else problem, exact)


def _grade_and_report(options: CheckOptions, solved: Any, tolerance: Any, weights: Any,
                      required: Any, solver: Any = None) -> int:
    from convgrad.grade import Grader, check_json

    reveal = not options.no_reveal
    grader = Grader(solved, tolerance, weights, required, options.partial, solver,
                    options.carry_forward)
    # The problem's own caveats, once for every file, as solve says them (not those of the
    # other conventions a wrong answer's hint solves it under); after the options are
    # checked against the problem, so that a usage error stays one line.
    _print_messages(solved)
    reports = _grade_all(grader, options.answers)
    if options.gradescope is not None:
        _write_gradescope(options.gradescope, reports[0], reveal,
                          options.gradescope_visibility or "visible", tolerance, grader.points)
    if options.class_report is not None:
        _write_class_report(options.class_report, reports, grader, reveal)
    if options.json:
        import json

        doc = check_json(options.problem, tolerance, reports, reveal, solved.exact,
                         grader.points, options.partial, solved.problem.conventions.items())
        said = [{"level": level, "message": str(message)}
                for level, message in _messages(solved)]
        if said:  # only then: a problem without caveats prints what it always printed
            doc["warnings"] = said
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    else:
        from convgrad.render.report import check_lines

        _print_lines(check_lines(reports, tolerance, reveal, summary_only=options.summary,
                                 points=grader.points, partial=options.partial,
                                 conventions=solved.problem.conventions.items(),
                                 problems=[solved.problem]))
    return _check_code(reports)


def _print_lines(lines: Any) -> None:
    """A check report's lines: styled on a terminal, plain text otherwise."""
    if sys.stdout.isatty():
        from convgrad.render import terminal as render

        render.print_styled(render.make_console(), lines)
    else:
        from convgrad.render.report import write_plain

        write_plain(sys.stdout, lines)


def _check_code(reports: Any) -> int:
    """check's exit code: 2 when a file is unusable, else 1 when a key is wrong, else 0."""
    if any(not r.usable for r in reports):
        return EXIT_UNUSABLE
    return EXIT_WRONG if any(r.wrong_keys for r in reports) else EXIT_OK


def _check_variants(options: CheckOptions, tolerance: Any, weights: Any, required: Any
                    ) -> int:
    """check DIR ANSWERS...: each file graded against its variant's problem (variants.py),
    reported as check reports one problem."""
    from convgrad.variants import grade_class

    graded = grade_class(options.problem, options.answers, tolerance=tolerance,
                         points=weights, require=required, partial=options.partial,
                         carry_forward=options.carry_forward,
                         exact=True if options.exact else None,
                         conventions=options.conventions)
    if graded.skipped:
        _say(f"note: {len(graded.skipped)} of the files given are the variants' own "
             "problem.yaml, answers.yaml or blank.yaml, written by generate: skipped, not "
             "graded")
    said = _variant_messages(graded.variants)
    for level, message, names in said:
        _say(f"{level}: in {_variants_named(names, len(graded.variants))}: {message}")
    reports, reveal = graded.reports, not options.no_reveal
    if options.gradescope is not None:
        _write_gradescope(options.gradescope, reports[0], reveal,
                          options.gradescope_visibility or "visible", tolerance,
                          graded.variants[0].grader.points)
    if options.class_report is not None:
        from convgrad.render.class_report import format_of, write

        text = write(graded.class_report(reveal), format_of(options.class_report) or "html")
        _deliver(text, options.class_report, "--class-report")
    if options.json:
        import json

        doc = graded.json(tolerance, reveal, options.partial)
        if said:
            doc["warnings"] = [{"level": level, "message": message, "variants": names}
                               for level, message, names in said]
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    else:
        _print_lines(graded.lines(tolerance, reveal, options.summary, options.partial))
    return _check_code(reports)


def _variant_messages(variants: Any) -> list[tuple[str, str, list[str]]]:
    """Each variant's caveats (_messages) once per problem, not once per student: a message
    that several variants share (a stride the template fixed skips input in each) is one
    (level, message, the variants' names), in the order first met."""
    found: dict[tuple[str, str], list[str]] = {}
    for variant in variants:
        for level, message in _messages(variant.grader.solved):
            names = found.setdefault((level, str(message)), [])
            if variant.name not in names:
                names.append(variant.name)
    return [(level, message, names) for (level, message), names in found.items()]


def _variants_named(names: list[str], graded: int, shown: int = 8) -> str:
    """"variant 003", "variants 001, 004", up to `shown` names; beyond them "all 30 variants
    graded", or the first `shown` names and how many more."""
    from convgrad.render.report import variants_text

    if len(names) == graded > shown:
        return f"all {graded} variants graded"
    return variants_text(names, shown)


def run_compare(options: CompareOptions) -> int:
    from convgrad.compare import compare, parse_profiles

    if options.conventions is None:
        raise ProblemError("compare needs the profiles to compare: give for example "
                           "--conventions pytorch,tensorflow")
    profiles = parse_profiles(options.conventions)
    solver = _solver(options.problem, _exact_choice(options.exact, options.float_))
    comparison = compare(solver.text, solver.source, profiles, solver.exact)
    if options.json:
        import json

        from convgrad.compare import comparison_json
        from convgrad.result import unlimited_int_digits

        with unlimited_int_digits():
            sys.stdout.write(json.dumps(comparison_json(comparison), allow_nan=False) + "\n")
        return EXIT_OK
    from convgrad.render import terminal as render
    from convgrad.render.compare import comparison_view

    render.print_view(render.make_console(), comparison_view(comparison))
    return EXIT_OK


def run_generate(options: GenerateOptions) -> int:
    from convgrad import generate as gen
    from convgrad.reader import read_text

    if options.out is None or not options.out.strip():
        raise ProblemError("generate needs the folder to write into: give --out DIR")
    _stdin_open(options.template, "template")
    # The exports grade as check does with the same options (SPEC section 9's default).
    rule = _tolerance(options)
    given = [name for name, value in (("--rtol", options.rtol), ("--atol", options.atol),
                                      ("--decimals", options.decimals),
                                      ("--sig-figs", options.sig_figs)) if value is not None]
    if given and options.format is None:
        raise ProblemError(f"{given[0]} sets how the Moodle or PrairieLearn export grades; "
                           "give --format moodle or --format prairielearn too (check takes "
                           f"{given[0]} itself)")
    source = "<stdin>" if options.template == "-" else options.template
    text = read_text(options.template)
    template = gen.read_template(text, source)
    gen.check_out(options.out)  # before the drawing: a class's folder stops it at once
    variants = gen.generate(template, options.count, options.seed)
    extra: tuple[tuple[str, str], ...] = ()
    also = ""
    if options.format == "moodle":
        extra = (("quiz.xml", gen.moodle_text(variants, rule)),)
        also = " and quiz.xml (Moodle, one Cloze question per variant)"
    elif options.format == "prairielearn":
        extra = tuple(gen.prairielearn_files(template, text, options.seed, variants, rule))
        also = ("; and the PrairieLearn question " + ", ".join(file for file, _ in extra)
                + f" (its variant: variant_seed mod {len(variants)})")
    gen.write_variants(options.out, options.seed, variants, extra)
    noun = "variant" if len(variants) == 1 else "variants"
    sys.stdout.write(f"{len(variants)} {noun} of {source} (seed {options.seed}) written to "
                     f"{options.out}: problem.yaml, answers.yaml and blank.yaml in each "
                     f"folder, and manifest.json{also}\n")
    return EXIT_OK


def _check_outputs(options: CheckOptions) -> None:
    """Usage errors among check's output options, each one line."""
    from convgrad.grade import VISIBILITIES

    gradescope, visibility = options.gradescope, options.gradescope_visibility
    if options.json and options.summary:
        raise ProblemError("--summary shortens the text report and --json prints the whole "
                           "report as JSON; give one of them")
    if visibility is not None:
        if gradescope is None:
            raise ProblemError("--gradescope-visibility sets who sees the Gradescope file; "
                               "give --gradescope PATH too")
        if visibility not in VISIBILITIES:
            raise ProblemError(f"--gradescope-visibility: '{visibility}' is not one of "
                               + ", ".join(VISIBILITIES))
    _check_class_report(options)
    if gradescope is None:
        return
    if not gradescope.strip() or gradescope == "-":
        raise ProblemError(f"--gradescope needs the path of a file to write, not "
                           f"'{gradescope}'; Gradescope reads "
                           "/autograder/results/results.json")
    for path in [options.problem, *options.answers]:
        if path != "-" and os.path.exists(path) and os.path.exists(gradescope) and \
                os.path.samefile(path, gradescope):
            raise ProblemError(f"--gradescope {gradescope} would overwrite {path}; give "
                               "another path")


def _check_class_report(options: CheckOptions) -> None:
    path = options.class_report
    if path is None:
        return
    from convgrad.render.class_report import format_of

    if not path.strip() or path == "-":
        raise ProblemError(f"--class-report needs the path of a file to write, not '{path}'; "
                           "give for example class.html, class.csv or class.json")
    if format_of(path) is None:
        raise ProblemError(f"--class-report {path}: the file's ending says its format; end it "
                           "in .html, .csv or .json")
    for other in [options.problem, *options.answers, options.gradescope]:
        if other is not None and other != "-" and os.path.exists(other) and \
                os.path.exists(path) and os.path.samefile(other, path):
            raise ProblemError(f"--class-report {path} would overwrite {other}; give another "
                               "path")


def _tolerance(options: CheckOptions | GenerateOptions) -> Any:
    import math

    from convgrad.grade import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance

    rtol, atol, decimals, sig_figs = options.rtol, options.atol, options.decimals, \
        options.sig_figs
    chosen = [name for name, given in (("--rtol/--atol", rtol is not None or atol is not None),
                                        ("--decimals", decimals is not None),
                                        ("--sig-figs", sig_figs is not None),
                                        ("--exact", getattr(options, "exact", False)))
              if given]
    if len(chosen) > 1:
        raise ProblemError(f"{' and '.join(chosen)} are different rules; give one of them")
    for name, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ProblemError(f"{name} must be a finite number >= 0, not {value}")
        if value is not None and 0 < value < sys.float_info.min:
            # A subnormal has fewer digits than float64 promises: its tolerance would be
            # worked out (and written in Moodle's text) to the wrong digits.
            raise ProblemError(f"{name} {value!r} is below the smallest normal float64 "
                               f"({sys.float_info.min!r}); give 0 or at least that")
    for name, digits, low in (("--decimals", decimals, 0), ("--sig-figs", sig_figs, 1)):
        if digits is not None and not low <= digits <= 30:
            raise ProblemError(f"{name} must be a whole number from {low} to 30, not {digits}")
    if getattr(options, "exact", False):
        return Tolerance("exact")
    if decimals is not None:
        return Tolerance("decimals", digits=decimals)
    if sig_figs is not None:
        return Tolerance("sig_figs", digits=sig_figs)
    return Tolerance("tol", DEFAULT_RTOL if rtol is None else rtol,
                     DEFAULT_ATOL if atol is None else atol)


def _grade_all(grader: Any, answers: list[str]) -> list[Any]:
    """Grade every file; a progress bar on a terminal's stderr when there are many."""
    if len(answers) < 50 or not sys.stderr.isatty():
        return [grader.grade_file(path) for path in answers]
    from rich.progress import Progress

    from convgrad.render.terminal import make_console

    reports = []
    with Progress(console=make_console(stderr=True), transient=True) as progress:
        task = progress.add_task("grading", total=len(answers))
        for path in answers:
            reports.append(grader.grade_file(path))
            progress.advance(task)
    return reports


def _write_class_report(path: str, reports: list[Any], grader: Any, reveal: bool) -> None:
    from convgrad.classreport import class_report
    from convgrad.render.class_report import format_of, write

    text = write(class_report(reports, grader, reveal), format_of(path) or "html")
    _deliver(text, path, "--class-report")


def _write_gradescope(path: str, report: Any, reveal: bool, visibility: str,
                      tolerance: Any, points: dict[str, float]) -> None:
    import json

    from convgrad.grade import gradescope_json

    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(gradescope_json(report, reveal, visibility, tolerance, points), out,
                      indent=2)
    except OSError as exc:
        raise ProblemError(f"--gradescope: cannot write {path} ({exc.strerror or exc})") \
            from None


# --- the command table, and running one command -------------------------------------------


@record(frozen=True)
class Command:
    """A command: its name, its options (whose docstring is its help) and its work, which
    returns the exit code. `finish`: it runs to its end when standard output's reader has
    gone, as check does (its exit code is the grade)."""

    name: str
    options: type
    run: Callable[[Any], int]
    finish: bool = False

    @property
    def help(self) -> str:
        return self.options.__doc__ or ""


COMMANDS = (Command("solve", SolveOptions, run_solve),
            Command("explain", ExplainOptions, run_explain),
            Command("check", CheckOptions, run_check, finish=True),
            Command("compare", CompareOptions, run_compare),
            Command("generate", GenerateOptions, run_generate))


@record(frozen=True)
class Invocation:
    """A command line, read: the command, its options, and --debug."""

    command: Command
    options: Any
    debug: bool = False


def _execute(invocation: Invocation) -> int:
    """Run a command: library errors -> one line and exit 2, bugs -> one line and 70."""
    try:
        with _errors(invocation.debug), _numpy_quiet():
            return invocation.command.run(invocation.options)
    except _Done as done:
        return done.code


def main(argv: list[str] | None = None) -> int:
    """Run one command line (sys.argv[1:] by default) and return its exit code, with the
    faults of the process around it: Ctrl-C -> one line, exit 130."""
    args = sys.argv[1:] if argv is None else list(argv)
    with _ctrl_c():
        try:
            return _run(args)
        except (_Interrupted, KeyboardInterrupt):
            with contextlib.suppress(Exception):
                if sys.stdout.isatty():  # end the line of a prompt (the terminal shows ^C)
                    sys.stdout.write("\n")
                    sys.stdout.flush()
            _say("interrupted")
            return EXIT_INTERRUPTED


def _run(args: list[str]) -> int:
    """The command's exit code; standard output that cannot be written ends it quietly when
    the reader has gone (the code the command would have had), else with one line, exit 2."""
    if sys.stdout is None:  # started with standard output closed (`>&-`)
        _say("error: cannot write to standard output (it is closed)")
        return EXIT_UNUSABLE
    original = sys.stdout
    out = _guard_stdout(stop=True)
    code = EXIT_OK
    try:
        parsed = parse(args)  # help and --version print here
        if isinstance(parsed, int):
            code = parsed
        else:
            if out is not None:
                out.stop = not parsed.command.finish
            code = _execute(parsed)
        sys.stdout.flush()
    except _OutputFailed:
        pass  # out.error says why
    except BrokenPipeError:  # standard output not the process's own (no guard)
        return code
    finally:
        if out is not None:
            out.stop = False
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            sys.stdout = original
    if out is not None and out.error is not None:
        if out.error.errno == errno.EPIPE:
            return code
        _say(f"error: cannot write to standard output ({out.error.strerror or out.error})")
        return EXIT_UNUSABLE
    return code


def parse(args: list[str]) -> "Invocation | int":
    """The command line read, or the exit code when there is no command to run (help,
    --version, a usage error: typer has printed what there was to print)."""
    return fast_parse(args) or _odd_number(args) or _typer_parse(args)


def _odd_number(args: list[str]) -> int | None:
    """EXIT_UNUSABLE, after its one line, when an int or float option's value is one that
    typer would read otherwise than a problem file does: '1_0' (read as 10, where a problem
    file refuses 1_000) or a float that is not 0 but underflows to it (1e-400 read as 0);
    None to leave the rest to typer."""
    main_flags = {n for p in params(MainOptions) for n in p.opt.names}
    while args and args[0] in main_flags:
        args = args[1:]
    command = next((c for c in COMMANDS if args and c.name == args[0]), None)
    if command is None:
        return None
    options = {name: p for p in params(command.options) if p.opt.name is not None
               for name in p.opt.names}
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--":
            break
        name, equals, text = arg.partition("=")
        param = options.get(name if arg.startswith("-") else "")
        if param is None or param.kind is bool:
            continue
        value = text if equals else next(rest, None)
        if value is None or param.kind is str:
            continue
        why = _odd_number_text(value.strip(), param.kind)
        if why is not None:
            _say(f"error: Invalid value for '{name}': '{value}' {why} "
                 f"(see 'convgrad {command.name} --help')")
            return EXIT_UNUSABLE
    return None


def _odd_number_text(text: str, kind: type) -> str | None:
    """Why an option's number, which Python would read, is refused; None when it is not."""
    bare = text.replace("_", "")
    number = re.fullmatch(r"[-+]?[0-9]+" if kind is int else
                          r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", bare)
    if "_" in text and number:
        return f"is not a number: write it without '_', as {bare}"
    if kind is float and number and float(bare) == 0 and \
            re.search(r"[1-9]", bare.lower().partition("e")[0]):
        return (f"is too small for a float64, which reads it as 0; give 0 or at least "
                f"{sys.float_info.min!r}")
    return None


# --- the fast parser: the calls it is sure of, from the declaration, without typer ----------

# Numbers as typer reads them alike, whatever its version: plain decimal digits, an int of
# at most 18 of them, a finite float.
_INT = r"-?(?:0|[1-9][0-9]{0,17})"
_FLOAT = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?"


def fast_parse(args: list[str]) -> Invocation | None:
    """A well-formed call of a command, read as typer reads it; None for anything else
    (help, --version, an unknown option, a value typer would refuse or read otherwise)."""
    # the flags before the command; --version prints and exits, as typer does it
    main_flags = {p.opt.name: p.name for p in params(MainOptions) if p.name != "version"}
    given: dict[str, bool] = {}
    while args and args[0] in main_flags:
        given[main_flags[args[0]]] = True
        args = args[1:]
    command = next((c for c in COMMANDS if args and c.name == args[0]), None)
    if command is None:
        return None
    options = {name: p for p in params(command.options) for name in p.opt.names}
    values: dict[str, Any] = {}
    positional: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        if arg == "-" or not arg.startswith("-"):
            positional.append(arg)
            continue
        name, equals, text = arg.partition("=")
        param = options.get(name)
        if param is None:  # --help, -h, --, an unknown option
            return None
        if param.kind is bool:
            if equals:
                return None
            values[param.name] = True
            continue
        value = _fast_value(param, text if equals else next(rest, None))
        if value is None:
            return None
        values[param.name] = [*values.get(param.name, []), value] if param.many else value
    for param in params(command.options):
        if param.opt.name is not None:
            continue
        if param.many:
            if not positional and param.required:
                return None
            values[param.name], positional = positional, []
        elif positional:
            values[param.name] = positional.pop(0)
        elif param.required:
            return None
    if positional:
        return None
    return Invocation(command, command.options(**values), given.get("debug", False))


def _fast_value(param: Param, text: str | None) -> Any:
    """An option's value, or None when typer is to read it (or refuse it)."""
    if text is None:
        return None
    if param.opt.choices:
        return text if text in param.opt.choices else None
    if param.kind is int:
        return int(text) if re.fullmatch(_INT, text) else None
    if param.kind is float:
        number = float(text) if re.fullmatch(_FLOAT, text) else math.inf
        if number == 0 and re.search(r"[1-9]", text.lower().partition("e")[0]):
            return None  # underflowed (1e-400): refused, with the reason, before typer
        return number if math.isfinite(number) else None
    return text if text == "-" or not text.startswith("-") else None


@contextmanager
def _usable_columns() -> Iterator[None]:
    """COLUMNS as typer's help reads it: unset when it is not a positive whole number (0 or
    'abc' would print nothing), at least render.MIN_WIDTH."""
    given = os.environ.get("COLUMNS")
    if given is None:
        yield
        return
    from convgrad.render.terminal import usable_columns

    width = usable_columns()
    if given == str(width):
        yield
        return
    if width is None:
        del os.environ["COLUMNS"]
    else:
        os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        os.environ["COLUMNS"] = given



# --- the typer app, from the same declaration ------------------------------------------------


def __getattr__(name: str) -> Any:
    # `from convgrad.cli import app` builds the typer app on first use, so that importing
    # this module (for the fast parser) does not import typer.
    if name == "app":
        return make_app()
    raise AttributeError(name)


_APP: list[Any] = []


def make_app() -> Any:
    """The typer app: every command and option, with its help. Its commands run as `main`
    runs them (the same `_execute`), for typer's CliRunner."""
    if not _APP:
        _APP.append(_typer_app(_execute_in_typer))
    return _APP[0]


def _execute_in_typer(invocation: Invocation) -> None:
    import typer

    raise typer.Exit(_execute(invocation))


def _typer_parse(args: list[str]) -> "Invocation | int":
    """The command line read by typer; a usage error is one line, exit 2."""
    import typer
    from typer.main import get_command

    # click's exception classes, or typer's own copy of them (newer typer)
    exceptions = sys.modules[typer.BadParameter.__module__]
    no_args_is_help = getattr(exceptions, "NoArgsIsHelpError", ())  # click 8.2 and later
    read: list[Invocation] = []
    try:
        with _usable_columns():
            code = get_command(_typer_app(read.append))(args=args, prog_name="convgrad",
                                                         standalone_mode=False)
    except no_args_is_help as exc:
        exc.show()
        return EXIT_OK
    except exceptions.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "convgrad"
        message = exc.format_message().replace("Value error, ", "")
        _say(f"error: {message} (see '{where} --help')")
        return EXIT_UNUSABLE
    except typer.Abort:  # Ctrl-C where click saw it first
        raise _Interrupted from None
    if read:
        return read[0]
    return code if isinstance(code, int) else EXIT_OK


def _typer_app(on_command: Callable[[Invocation], Any]) -> Any:
    """A typer app whose commands hand their Invocation to on_command."""
    import typer

    app = typer.Typer(name="convgrad", help=APP_HELP, add_completion=False,
                      no_args_is_help=True, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    state = {"debug": False}

    def before_the_command(**values: Any) -> None:
        state["debug"] = values["debug"]

    def print_version(value: bool) -> None:
        if value:
            typer.echo(f"convgrad {__version__}")
            raise typer.Exit()

    before_the_command.__signature__ = _signature(  # type: ignore[attr-defined]
        MainOptions, {"version": {"callback": print_version, "is_eager": True}})
    app.callback()(before_the_command)
    for command in COMMANDS:
        app.command(command.name, help=command.help)(
            _typer_command(command, state, on_command))
    return app


def _typer_command(command: Command, state: dict[str, bool],
                   on_command: Callable[[Invocation], Any]) -> Callable[..., Any]:
    from enum import Enum

    def read(**values: Any) -> Any:
        for param in params(command.options):
            value = values[param.name]
            if isinstance(value, Enum):
                values[param.name] = value.value
            elif param.many:
                values[param.name] = list(value) if value or param.required else None
        return on_command(Invocation(command, command.options(**values), state["debug"]))

    read.__signature__ = _signature(command.options)  # type: ignore[attr-defined]
    return read


def _signature(options: type, extra: dict[str, dict[str, Any]] | None = None) -> Any:
    """The parameters of a typer command for an options record: typer.Argument and
    typer.Option annotations, with their help and defaults."""
    import inspect
    from enum import Enum
    from typing import Annotated, Optional

    import typer

    found = []
    for param in params(options):
        kind: Any = param.kind
        default = inspect.Parameter.empty if param.required else param.default
        if param.opt.choices:  # typer shows and checks an Enum's values
            values = [(c, c) for c in param.opt.choices]
            choices: Any = Enum(param.name.title(), values, type=str)  # type: ignore[misc]
            kind, default = choices, None if default is None else choices(default)
        if param.many:
            kind = list[kind]
        if not param.required and param.default is None:
            kind = Optional[kind]  # noqa: UP045 (typer 0.16 reads Optional)
        settings: dict[str, Any] = dict((extra or {}).get(param.name, {}), help=param.opt.help)
        if param.opt.name is None or param.default is None:
            settings["show_default"] = False
        info = typer.Argument(**settings) if param.opt.name is None else \
            typer.Option(*param.opt.names, **settings)
        found.append(inspect.Parameter(param.name, inspect.Parameter.KEYWORD_ONLY,
                                       default=default, annotation=Annotated[kind, info]))
    return inspect.Signature(found)

