"""The command line: thin commands that parse options, call the library and hand results on.

The only module that prints to the terminal or exits. Library errors
(ProblemError) become one line on stderr and exit code 2, here and nowhere else.

Each command's work is a plain function (`run_solve`, `run_explain`, `run_check`)
returning an exit code. The typer app parses options for them; so does `_fast_args`,
a small parser for the calls that scripts make in loops (`solve --json`, `check`),
which spares them typer's import (about 0.2 s). Anything it does not recognise goes
to typer, so help and error messages are typer's.

Around every command, `main` takes care of the process's faults: a reader that has gone
(`| head`) ends the command quietly with the code it would have had; standard output that
cannot be written (closed, a full disk) is one line and exit 2; Ctrl-C is one line,
"interrupted", and exit 130; an ASCII-only standard output gets backslash escapes rather
than an encoding error; NumPy's floating-point warnings never reach stderr.
"""

# No `from __future__ import annotations` here: typer reads the annotations of the
# commands defined inside make_app, which refer to local names.
import contextlib
import errno
import io
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any

from convgrad import __version__
from convgrad.errors import ProblemError

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


class Terms(str, Enum):
    all = "all"
    auto = "auto"
    none = "none"


class Lang(str, Enum):
    en = "en"
    zh = "zh"


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
    """One line on stderr; nothing at all when stderr itself is closed or broken."""
    if sys.stderr is None:
        return
    try:
        sys.stderr.write(line.replace("\n", " ") + "\n")
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
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}. This is a bug in convgrad "
              f"{__version__}; please report it with the problem file (--debug shows the "
              "traceback)", EXIT_INTERNAL)


def _exit_code(work: Callable[[], int], debug: bool) -> int:
    try:
        with _errors(debug), _numpy_quiet():
            return work()
    except _Done as done:
        return done.code


# --- the commands' work -------------------------------------------------------------------


def _load(problem: str | None) -> Any:
    from convgrad.reader import problem_from_text, read_file

    if problem is None:
        _say("note: no problem file given; using the built-in worked example "
             "(3x3 input, 2x2 kernel, MSE loss)")
        return problem_from_text(WORKED_EXAMPLE, source="<built-in example>")
    if problem == "-" and sys.stdin is None:
        raise ProblemError("<stdin>: standard input is closed; give a problem file")
    return read_file(problem)  # a path, or "-" for standard input


def _exact_choice(exact: bool, float_: bool) -> bool | None:
    if exact and float_:
        raise ProblemError("--exact and --float contradict each other; give one of them")
    return True if exact else False if float_ else None


def _print_messages(solved: Any) -> None:
    for warning in solved.problem.warnings:
        _say(f"warning: {warning}")
    for note in solved.notes:
        _say(f"note: {note}")
    if not solved.problem.has_backward:
        _say("note: forward pass only; the backward pass needs 'target' (with a loss) or "
             "'grad_output'")


def run_solve(problem: str | None = None, json_: bool = False, exact: bool = False,
              float_: bool = False, terms: str = "auto", debug: bool = False) -> int:
    def work() -> int:
        from convgrad.engine import run

        solved = run(_load(problem), exact=_exact_choice(exact, float_))
        _print_messages(solved)
        if json_:
            from convgrad.result import Result

            sys.stdout.write(Result.from_run(solved).json_text() + "\n")
        else:
            from convgrad import render

            render.print_solution(solved, terms=terms)
        return EXIT_OK

    return _exit_code(work, debug)


def run_explain(problem: str | None = None, step: bool = False, show_all: bool = False,
                lang: str = "en", exact: bool = False, float_: bool = False,
                debug: bool = False) -> int:
    def work() -> int:
        from convgrad.engine import run

        solved = run(_load(problem), exact=_exact_choice(exact, float_))
        _print_messages(solved)
        from convgrad.explain import Quit, Walkthrough
        from convgrad.render import make_console

        console = make_console()
        pause = _pause(console, lang) if step and _stdin_is_terminal() else None
        with contextlib.suppress(Quit):  # q at a pause ends the walkthrough cleanly
            Walkthrough(solved, console, lang, show_all).show(pause)
        return EXIT_OK

    return _exit_code(work, debug)


def _pause(console: Any, lang: str) -> Callable[[], bool]:
    from rich.text import Text

    from convgrad.explain import word

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


def run_check(problem: str, answers: list[str], json_: bool = False, no_reveal: bool = False,
              rtol: float | None = None, atol: float | None = None,
              decimals: int | None = None, sig_figs: int | None = None, exact: bool = False,
              summary: bool = False, points: str | list[str] | None = None,
              gradescope: str | None = None, debug: bool = False,
              require: str | list[str] | None = None, partial: bool = False,
              gradescope_visibility: str | None = None) -> int:
    """points and require: each given once or more (the lists add up)."""
    def work() -> int:
        from convgrad.check import parse_points, parse_require
        from convgrad.engine import run
        from convgrad.result import unlimited_int_digits

        # Every option is checked before the problem is read: a usage error costs nothing.
        tolerance = _tolerance(rtol, atol, decimals, sig_figs, exact)
        weights, required = parse_points(points), parse_require(require)
        _check_outputs(json_, summary, gradescope, gradescope_visibility, [problem, *answers])
        if gradescope is not None and len(answers) != 1:
            raise ProblemError("--gradescope writes the results of one submission; give "
                               "one answers file")
        solved = run(_load(problem), exact=True if exact else None)
        with unlimited_int_digits():  # exact results of any size are compared and written
            return _grade_and_report(solved, answers, tolerance, weights, required, partial,
                                     json_, no_reveal, summary, gradescope,
                                     gradescope_visibility, problem)

    return _exit_code(work, debug)


def _grade_and_report(solved: Any, answers: list[str], tolerance: Any, weights: Any,
                      required: Any, partial: bool, json_: bool, no_reveal: bool,
                      summary: bool, gradescope: str | None, gradescope_visibility: str | None,
                      problem: str) -> int:
    from convgrad.check import Grader, check_json

    grader = Grader(solved, tolerance, weights, required, partial)
    reports = _grade_all(grader, answers)
    if gradescope is not None:
        _write_gradescope(gradescope, reports[0], not no_reveal,
                          gradescope_visibility or "visible", tolerance, grader.points)
    if json_:
        doc = check_json(problem, tolerance, reports, not no_reveal, solved.exact,
                         grader.points, partial)
        sys.stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    else:
        from convgrad.report import check_lines, write_plain

        lines = check_lines(reports, tolerance, not no_reveal, summary_only=summary,
                            points=grader.points, partial=partial)
        if sys.stdout.isatty():
            from convgrad import render

            render.print_styled(render.make_console(), lines)
        else:
            write_plain(sys.stdout, lines)
    if any(not r.usable for r in reports):
        return EXIT_UNUSABLE
    return EXIT_WRONG if any(r.wrong_keys for r in reports) else EXIT_OK


def _check_outputs(json_: bool, summary: bool, gradescope: str | None,
                   visibility: str | None, inputs: list[str]) -> None:
    """Usage errors among check's output options, each one line."""
    import os

    from convgrad.check import VISIBILITIES

    if json_ and summary:
        raise ProblemError("--summary shortens the text report and --json prints the whole "
                           "report as JSON; give one of them")
    if visibility is not None:
        if gradescope is None:
            raise ProblemError("--gradescope-visibility sets who sees the Gradescope file; "
                               "give --gradescope PATH too")
        if visibility not in VISIBILITIES:
            raise ProblemError(f"--gradescope-visibility: '{visibility}' is not one of "
                               + ", ".join(VISIBILITIES))
    if gradescope is None:
        return
    if not gradescope.strip() or gradescope == "-":
        raise ProblemError(f"--gradescope needs the path of a file to write, not "
                           f"'{gradescope}'; Gradescope reads "
                           "/autograder/results/results.json")
    for path in inputs:
        if path != "-" and os.path.exists(path) and os.path.exists(gradescope) and \
                os.path.samefile(path, gradescope):
            raise ProblemError(f"--gradescope {gradescope} would overwrite {path}; give "
                               "another path")


def _tolerance(rtol: float | None, atol: float | None, decimals: int | None,
               sig_figs: int | None, exact: bool) -> Any:
    import math

    from convgrad.check import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance

    chosen = [name for name, given in (("--rtol/--atol", rtol is not None or atol is not None),
                                        ("--decimals", decimals is not None),
                                        ("--sig-figs", sig_figs is not None),
                                        ("--exact", exact)) if given]
    if len(chosen) > 1:
        raise ProblemError(f"{' and '.join(chosen)} are different rules; give one of them")
    for name, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ProblemError(f"{name} must be a number >= 0, not {value}")
    for name, digits, low in (("--decimals", decimals, 0), ("--sig-figs", sig_figs, 1)):
        if digits is not None and not low <= digits <= 30:
            raise ProblemError(f"{name} must be a whole number from {low} to 30, not {digits}")
    if exact:
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

    from convgrad.render import make_console

    reports = []
    with Progress(console=make_console(stderr=True), transient=True) as progress:
        task = progress.add_task("grading", total=len(answers))
        for path in answers:
            reports.append(grader.grade_file(path))
            progress.advance(task)
    return reports


def _write_gradescope(path: str, report: Any, reveal: bool, visibility: str,
                      tolerance: Any, points: dict[str, float]) -> None:
    from convgrad.check import gradescope_json

    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(gradescope_json(report, reveal, visibility, tolerance, points), out,
                      indent=2)
    except OSError as exc:
        raise ProblemError(f"--gradescope: cannot write {path} ({exc.strerror or exc})") \
            from None


# --- the fast path for scripts ------------------------------------------------------------

_FLAGS = {"solve": {"--json", "--exact", "--float"},
          "check": {"--json", "--no-reveal", "--exact", "--summary", "--partial"}}
_VALUES = {"solve": {"--terms": str},
           "check": {"--rtol": float, "--atol": float, "--decimals": int, "--sig-figs": int,
                     "--points": str, "--require": str, "--gradescope": str,
                     "--gradescope-visibility": str}}
_REPEATED = {"--points", "--require"}  # options that may be given more than once


def _fast_args(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    """`solve ... --json` or `check ...` parsed without typer; None for anything else."""
    debug = False
    if args[:1] == ["--debug"]:
        debug, args = True, args[1:]
    if not args or args[0] not in _FLAGS or (args[0] == "solve" and "--json" not in args):
        return None
    command, rest = args[0], args[1:]
    options: dict[str, Any] = {"debug": debug}
    positional: list[str] = []
    k = 0
    while k < len(rest):
        arg = rest[k]
        if arg in _FLAGS[command]:
            options[arg.lstrip("-").replace("-", "_")] = True
        elif arg in _VALUES[command] and k + 1 < len(rest):
            name = arg.lstrip("-").replace("-", "_")
            try:
                value = _VALUES[command][arg](rest[k + 1])
            except ValueError:
                return None  # typer says what is wrong with the value
            options[name] = [*options.get(name, []), value] if arg in _REPEATED else value
            k += 1
        elif arg == "--" or (arg.startswith("-") and arg != "-"):
            return None
        else:
            positional.append(arg)
        k += 1
    for flag in ("json", "float"):
        if flag in options:
            options[f"{flag}_"] = options.pop(flag)
    if command == "solve":
        if len(positional) > 1 or options.get("terms", "auto") not in ("all", "auto", "none"):
            return None
        return command, {"problem": positional[0] if positional else None, **options}
    if len(positional) < 2:
        return None
    return command, {"problem": positional[0], "answers": positional[1:], **options}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `convgrad` command and of `python -m convgrad`."""
    args = sys.argv[1:] if argv is None else list(argv)
    sys.exit(_main(args))


def _main(args: list[str]) -> int:
    """One command, with the faults of the process around it: Ctrl-C -> one line, exit 130."""
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
    fast = _fast_args(args)
    command = fast[0] if fast else next((a for a in args if not a.startswith("-")), "")
    original = sys.stdout
    out = _guard_stdout(stop=command != "check")
    code = EXIT_OK
    try:
        if fast is not None:
            code = run_solve(**fast[1]) if fast[0] == "solve" else run_check(**fast[1])
        else:
            code = _run_app(args)
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


def _run_app(args: list[str]) -> int:
    """The typer app, with a usage error (unknown option, bad value) as one line, exit 2."""
    try:
        with _usable_columns():
            code = make_app()(args=args, prog_name="convgrad", standalone_mode=False)
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            return EXIT_OK
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # a usage error
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "convgrad"
            message = exc.format_message().replace("Value error, ", "")
            _say(f"error: {message} (see '{where} --help')")
            return EXIT_UNUSABLE
        if type(exc).__name__ == "Abort":  # Ctrl-C where click saw it first
            raise _Interrupted from None
        raise
    return code if isinstance(code, int) else EXIT_OK


@contextmanager
def _usable_columns() -> Iterator[None]:
    """COLUMNS as typer's help reads it: unset when it is not a positive whole number (0 or
    'abc' would print nothing), at least render.MIN_WIDTH."""
    given = os.environ.get("COLUMNS")
    if given is None:
        yield
        return
    from convgrad.render import usable_columns

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


# --- the typer app --------------------------------------------------------------------------


def __getattr__(name: str) -> Any:
    # `from convgrad.cli import app` builds the typer app on first use, so that importing
    # this module (for the fast path) does not import typer.
    if name == "app":
        return make_app()
    raise AttributeError(name)


_APP: list[Any] = []


def make_app() -> Any:
    """The typer app: every command and option, with its help."""
    if _APP:
        return _APP[0]
    from typing import Annotated, Optional

    import typer

    app = typer.Typer(
        name="convgrad",
        help="Gradients of convolution layers, worked out term by term.\n\n"
             "Reads a problem from a YAML file and shows the forward pass, the loss and "
             "dL/dW, dL/db, dL/dX. With no file, solve and explain use the built-in worked "
             "example.",
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    state = {"debug": False}

    def version_callback(value: bool) -> None:
        if value:
            typer.echo(f"convgrad {__version__}")
            raise typer.Exit()

    @app.callback()
    def _main(
        version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 (typer reads it)
            "--version", callback=version_callback, is_eager=True,
            help="Print the version and exit.")] = None,
        debug: Annotated[bool, typer.Option(
            "--debug", help="On an internal error, print the traceback.")] = False,
    ) -> None:
        """Gradients of convolution layers, worked out term by term."""
        state["debug"] = debug

    problem_arg = Annotated[Optional[str], typer.Argument(  # noqa: UP045
        help="The problem file (YAML); '-' reads standard input. Left out: the built-in "
             "worked example.", show_default=False)]
    exact_opt = Annotated[bool, typer.Option(
        "--exact", help="Exact fractions (fails on sigmoid, tanh, bce, cross_entropy).")]
    float_opt = Annotated[bool, typer.Option("--float", help="float64 arithmetic.")]
    json_opt = Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with every result, nothing else.")]

    @app.command()
    def solve(
        problem: problem_arg = None,
        json_: json_opt = False,
        exact: exact_opt = False,
        float_: float_opt = False,
        terms: Annotated[Terms, typer.Option(
            "--terms", help="Term expansions: all, auto (full for homework-size problems, "
                            "summarised for large ones) or none.")] = Terms.auto,
    ) -> None:
        """Every intermediate term and every result: Y, the loss, dL/dY, dL/dW, dL/db, dL/dX."""
        raise typer.Exit(run_solve(problem, json_, exact, float_, terms.value, state["debug"]))

    @app.command()
    def explain(
        problem: problem_arg = None,
        step: Annotated[bool, typer.Option(
            "--step", help="Pause after each step (Enter: next, q: quit) when standard input "
                           "is a terminal.")] = False,
        all_: Annotated[bool, typer.Option(
            "--all", help="Show every element in full, not the first few of each kind.")
        ] = False,
        lang: Annotated[Lang, typer.Option(
            "--lang", help="The words of the walkthrough: en (English) or zh (Chinese).")
        ] = Lang.en,
        exact: exact_opt = False,
        float_: float_opt = False,
    ) -> None:
        """A step-by-step walkthrough of the forward and backward pass, as on paper."""
        raise typer.Exit(run_explain(problem, step, all_, lang.value, exact, float_,
                                     state["debug"]))

    @app.command()
    def check(
        problem: Annotated[str, typer.Argument(
            help="The problem file (YAML); '-' reads standard input.", show_default=False)],
        answers: Annotated[list[str], typer.Argument(
            help="One or more answers files (YAML); '-' reads standard input.",
            show_default=False)],
        json_: Annotated[bool, typer.Option(
            "--json", help="Print one JSON object: the tolerance, and per file per key the "
                           "grade.")] = False,
        no_reveal: Annotated[bool, typer.Option(
            "--no-reveal", help="Hide the expected values: say only which entries are wrong.")
        ] = False,
        rtol: Annotated[Optional[float], typer.Option(  # noqa: UP045
            "--rtol", help="Relative tolerance (default 1e-6).", show_default=False)] = None,
        atol: Annotated[Optional[float], typer.Option(  # noqa: UP045
            "--atol", help="Absolute tolerance (default 1e-6).", show_default=False)] = None,
        decimals: Annotated[Optional[int], typer.Option(  # noqa: UP045
            "--decimals", help="Right when the answer rounds to the expected value at N "
                               "decimals.", show_default=False)] = None,
        sig_figs: Annotated[Optional[int], typer.Option(  # noqa: UP045
            "--sig-figs", help="Right when the answer has the expected value's N "
                               "significant figures.", show_default=False)] = None,
        exact: Annotated[bool, typer.Option(
            "--exact", help="Compare exact fractions exactly (the problem must be rational).")
        ] = False,
        summary: Annotated[bool, typer.Option(
            "--summary", help="Print only the summary table, not each file's report.")
        ] = False,
        points: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
            "--points", help="The graded keys and their points, e.g. dW=2,db=1 or "
                             "'dW[1,2]=1' (repeatable). Every key named is graded in every "
                             "file; other keys are not graded. Default: 1 point per key "
                             "given.", show_default=False)] = None,
        require: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
            "--require", help="Keys every file must answer, e.g. dW,db,dX (repeatable); 1 "
                              "point each unless --points says otherwise.",
            show_default=False)] = None,
        partial: Annotated[bool, typer.Option(
            "--partial", help="A matrix of the right shape earns the share of its entries "
                              "that are right (default: right or wrong as a whole).")
        ] = False,
        gradescope: Annotated[Optional[str], typer.Option(  # noqa: UP045
            "--gradescope", help="Also write Gradescope's results.json to this path.",
            show_default=False)] = None,
        gradescope_visibility: Annotated[Optional[str], typer.Option(  # noqa: UP045
            "--gradescope-visibility", help="Who sees the Gradescope results: visible "
                                            "(default), hidden, after_due_date or "
                                            "after_published.", show_default=False)] = None,
    ) -> None:
        """Grade a student's answers: exit 0 when every answer is right, 1 when one is wrong."""
        raise typer.Exit(run_check(problem, answers, json_, no_reveal, rtol, atol, decimals,
                                   sig_figs, exact, summary, points, gradescope,
                                   state["debug"], require, partial, gradescope_visibility))

    _APP.append(app)
    return app
