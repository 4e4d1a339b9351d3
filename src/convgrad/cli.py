"""The command line: thin commands that parse options, call the library and hand results on.

The only module that prints to the terminal or exits. Library errors
(ProblemError) become one line on stderr and exit code 2, here and nowhere else.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Any, NoReturn, Optional

import typer

from convgrad import __version__
from convgrad.errors import ProblemError

# Exit codes (SPEC section 3), for every command.
EXIT_OK = 0
EXIT_WRONG = 1
EXIT_UNUSABLE = 2
EXIT_INTERNAL = 70

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

app = typer.Typer(
    name="convgrad",
    help="Gradients of convolution layers, worked out term by term.\n\n"
         "Reads a problem from a YAML file and shows the forward pass, the loss and "
         "dL/dW, dL/db, dL/dX. With no file, solve and explain use the built-in worked example.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


class Terms(str, Enum):
    all = "all"
    auto = "auto"
    none = "none"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convgrad {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option(  # noqa: UP045 (typer reads the annotation)
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="On an internal error, print the traceback.")] = False,
) -> None:
    """Gradients of convolution layers, worked out term by term."""
    _state["debug"] = debug


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(message.replace("\n", " ") + "\n")
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Library errors -> one line on stderr and exit 2; bugs -> one line asking for a report, 70."""
    try:
        yield
    except ProblemError as exc:
        _fail(f"error: {exc}", EXIT_UNUSABLE)
    except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # a bug: never show a traceback to a student
        if _state["debug"]:
            traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}. This is a bug in convgrad "
              f"{__version__}; please report it with the problem file (--debug shows the "
              "traceback)", EXIT_INTERNAL)


def _load(problem: Optional[str]) -> Any:  # noqa: UP045
    from convgrad.api import load_problem
    from convgrad.spec import problem_from_text, read_file

    if problem is None:
        sys.stderr.write("note: no problem file given; using the built-in worked example "
                         "(3x3 input, 2x2 kernel, MSE loss)\n")
        return problem_from_text(WORKED_EXAMPLE, source="<built-in example>")
    if problem == "-":
        return read_file("-")
    return load_problem(problem)


def _exact_choice(exact: bool, float_: bool) -> bool | None:
    if exact and float_:
        raise ProblemError("--exact and --float contradict each other; give one of them")
    return True if exact else False if float_ else None


ProblemArg = Annotated[Optional[str], typer.Argument(  # noqa: UP045
    help="The problem file (YAML); '-' reads standard input. Left out: the built-in worked "
         "example.", show_default=False)]
ExactOpt = Annotated[bool, typer.Option(
    "--exact", help="Exact fractions (fails on sigmoid, tanh, bce, cross_entropy).")]
FloatOpt = Annotated[bool, typer.Option("--float", help="float64 arithmetic.")]


@app.command()
def solve(
    problem: ProblemArg = None,
    json_: Annotated[bool, typer.Option(
        "--json", help="Print one JSON object with every result, nothing else.")] = False,
    exact: ExactOpt = False,
    float_: FloatOpt = False,
    terms: Annotated[Terms, typer.Option(
        "--terms", help="Term expansions: all, auto (full for homework-size problems, "
                        "summarised for large ones) or none.")] = Terms.auto,
) -> None:
    """Every intermediate term and every result: Y, the loss, dL/dY, dL/dW, dL/db, dL/dX."""
    with _errors():
        from convgrad.api import results, to_json
        from convgrad.engine import run

        solved = run(_load(problem), exact=_exact_choice(exact, float_))
        _print_messages(solved)
        if json_:
            doc = to_json(results(solved), solved.exact)
            sys.stdout.write(json.dumps(doc) + "\n")
            return
        from convgrad import render

        render.print_solution(solved, terms=terms.value)


class Lang(str, Enum):
    en = "en"
    zh = "zh"


@app.command()
def explain(
    problem: ProblemArg = None,
    step: Annotated[bool, typer.Option(
        "--step", help="Pause after each step (Enter: next, q: quit) when standard input is a "
                       "terminal.")] = False,
    all_: Annotated[bool, typer.Option(
        "--all", help="Show every element in full, not the first few of each kind.")] = False,
    lang: Annotated[Lang, typer.Option(
        "--lang", help="The words of the walkthrough: en (English) or zh (Chinese).")] = Lang.en,
    exact: ExactOpt = False,
    float_: FloatOpt = False,
) -> None:
    """A step-by-step walkthrough of the forward and backward pass, as on paper."""
    with _errors():
        from convgrad.engine import run

        solved = run(_load(problem), exact=_exact_choice(exact, float_))
        _print_messages(solved)
        from convgrad.explain import Quit, Walkthrough
        from convgrad.render import make_console

        console = make_console()
        pause = _pause(console, lang.value) if step and sys.stdin.isatty() else None
        try:
            Walkthrough(solved, console, lang.value, all_).show(pause)
        except Quit:
            return


def _pause(console: Any, lang: str) -> Callable[[], bool]:
    from convgrad.explain import word

    def wait() -> bool:
        console.print(f"[dim]{word('prompt', lang)}[/dim] ", end="")
        answer = sys.stdin.readline()
        return answer.strip().lower() not in ("q", "quit")

    return wait


def _print_messages(solved: Any) -> None:
    for warning in solved.problem.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    for note in solved.notes:
        sys.stderr.write(f"note: {note}\n")
    if not solved.problem.has_backward:
        sys.stderr.write("note: forward pass only; the backward pass needs 'target' (with a "
                         "loss) or 'grad_output'\n")


def main(argv: list[str] | None = None) -> Callable[..., Any] | None:
    """Entry point of the `convgrad` command and of `python -m convgrad`."""
    return app(args=argv, prog_name="convgrad")
