"""Faults around the process (issue 12), in-process through main(argv).

A closed pipe ends quietly with the code the command would have had; standard output that
cannot be written (closed, /dev/full) is one line and exit 2; an ASCII-only standard output,
a COLUMNS of 0 or 'abc', a name with rich markup in it and numbers of thousands of digits are
printed, not crashed on; no NumPy warning reaches stderr.

Each command runs in this process with standard output as Python sets it up in a process
started so: on a real file descriptor (a file, a pipe whose reader has gone, /dev/full),
in the encoding the environment gives, or closed (None); standard input empty, the warning
filters a fresh interpreter has, NO_COLOR set and COLUMNS unset. The same faults in real
processes, Ctrl-C among them, are in test_process.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from .conftest import ROOT, WRONG, Run, no_traceback, one_line, write

SEED = ROOT / "problems" / "seed_worked_example.yaml"
TIMEOUT = 60  # seconds: longer than this is a hang
CLOSED = -1  # standard output closed: sys.stdout is None

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="pipes and /dev/full as on Linux")


@pytest.fixture(autouse=True)
def _environment(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("COLUMNS", raising=False)


def convgrad(*args: object, stdout: int | None = None, encoding: str = "utf-8",
             cwd: Path | None = None) -> Run:
    """`convgrad ARGS` through main(argv), standard output on the file descriptor `stdout`
    (None: a file, read back; CLOSED: none at all)."""
    from convgrad.cli import main

    argv = [str(a) for a in args]
    with tempfile.TemporaryFile() as capture:
        fd = capture.fileno() if stdout is None else stdout
        stream = None if fd == CLOSED else \
            open(fd, "w", encoding=encoding, closefd=False)  # noqa: SIM115 (closed below)
        err = io.StringIO()
        saved = sys.stdout, sys.__stdout__, sys.stderr, sys.stdin, os.getcwd()
        sys.stdout = sys.__stdout__ = stream  # type: ignore[misc]
        sys.stderr, sys.stdin = err, io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
        try:
            if cwd is not None:
                os.chdir(cwd)
            with _warnings_of_a_fresh_process():
                code = main(argv)
        finally:
            sys.stdout, sys.__stdout__, sys.stderr, sys.stdin, here = saved  # type: ignore[misc]
            os.chdir(here)
            if stream is not None:
                with suppress(OSError):  # nothing is left to write; the fd stays open
                    stream.close()
        capture.seek(0)
        out = capture.read().decode("utf-8", "replace")
    return Run(code, out, err.getvalue(), argv)


@contextmanager
def _warnings_of_a_fresh_process() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.resetwarnings()
        warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                         ResourceWarning):
            warnings.filterwarnings("ignore", category=category, append=True)
        yield


def big_problem(tmp_path: Path, n: int) -> Path:
    """An n x n input whose output outgrows a pipe's buffer (64 KiB): --terms all for n = 20,
    --json for n = 120."""
    def matrix(size: int) -> str:
        return "; ".join(" ".join(str((3 * r + 5 * c) % 7 - 3) for c in range(size))
                         for r in range(size))

    return write(tmp_path, "big.yaml", f'input: "{matrix(n)}"\nkernel: "1 -1 2; 0 1 -2; 1 0 1"\n'
                                       f'grad_output: "{matrix(n - 2)}"\n')


# --- a closed pipe ----------------------------------------------------------------------------

CLOSED_PIPE = [
    (["solve", SEED, "--json"], 0),
    (["solve", SEED], 0),
    (["explain", SEED], 0),
    (["check", SEED, "{right}"], 0),
    (["check", SEED, "{wrong}"], 1),
    (["check", SEED, "{wrong}", "--json"], 1),
    (["check", SEED, "{right}", "{broken}"], 2),
]


@pytest.mark.parametrize("args, code", CLOSED_PIPE,
                         ids=[" ".join(Path(str(a)).stem for a in args) for args, _ in CLOSED_PIPE])
def test_closed_pipe_ends_quietly_with_the_commands_code(args, code, answers):
    read, write_end = os.pipe()
    os.close(read)  # the reader has gone before convgrad writes a byte
    try:
        argv = [str(a).format(**answers) for a in args]
        run = convgrad(*argv, stdout=write_end)
    finally:
        os.close(write_end)
    no_traceback(run)
    assert run.returncode == code, run
    assert run.stderr == "", run


BIG = [(20, ["solve", "{big}", "--terms", "all"]), (120, ["solve", "{big}", "--json"]),
       (12, ["explain", "{big}", "--all"])]


@pytest.mark.parametrize("n, args", BIG, ids=["solve", "solve-json", "explain"])
def test_reader_gone_in_the_middle_of_the_output(n, args, tmp_path):
    big = big_problem(tmp_path, n)
    read_end, write_end = os.pipe()
    first: list[bytes] = []

    def head() -> None:  # as `| head` does once it has its lines
        with open(read_end, "rb") as pipe:
            first.append(pipe.read(1000))

    reader = threading.Thread(target=head)
    reader.start()
    try:
        run = convgrad(*(a.format(big=big) for a in args), stdout=write_end)
    finally:
        os.close(write_end)
        reader.join(TIMEOUT)
    assert not reader.is_alive()
    assert len(first[0]) == 1000
    assert run.returncode == 0, run
    assert run.stderr == ""


# --- standard output that cannot be written -----------------------------------------------------

COMMANDS = {"solve-json": ["solve", SEED, "--json"], "solve": ["solve", SEED],
            "explain": ["explain", SEED], "check": ["check", SEED, "{right}"],
            "check-json": ["check", SEED, "{wrong}", "--json"]}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_stdout_closed(name, answers):
    run = convgrad(*(str(a).format(**answers) for a in COMMANDS[name]), stdout=CLOSED)
    assert run.returncode == 2, run
    assert one_line(run) == "error: cannot write to standard output (it is closed)"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_stdout_full(name, answers):
    with open("/dev/full", "wb") as full:
        run = convgrad(*(str(a).format(**answers) for a in COMMANDS[name]), stdout=full.fileno())
    assert run.returncode == 2, run
    assert one_line(run).startswith("error: cannot write to standard output (")


# --- encodings and widths ---------------------------------------------------------------------

def test_ascii_stdout_chinese_walkthrough():
    run = convgrad("explain", SEED, "--lang", "zh", encoding="ascii")
    assert run.returncode == 0 and run.stderr == "", run
    assert run.stdout.isascii()
    assert "\\u7b2c 1 \\u6b65" in run.stdout  # 第 1 步, written so that it can be read back


def test_ascii_stdout_problem_name_with_an_accent(tmp_path):
    path = write(tmp_path, "cafe.yaml", 'name: "café week 3"\ninput: "1 2; 3 4"\nkernel: "1"\n'
                                        'target: "0 1; 1 0"\n')
    run = convgrad("solve", path, encoding="ascii")
    assert run.returncode == 0 and run.stderr == "", run
    assert "Problem: caf\\xe9 week 3" in run.stdout


def test_ascii_stdout_check_report_names_the_file(tmp_path):
    answers = write(tmp_path, "réponses.yaml", WRONG)
    run = convgrad("check", SEED, answers.name, encoding="ascii", cwd=tmp_path)
    assert run.returncode == 1 and run.stderr == "", run
    assert "r\\xe9ponses.yaml" in run.stdout


@pytest.mark.parametrize("columns", ["0", "5", "abc"])
@pytest.mark.parametrize("name", ["solve", "explain", "check"])
def test_columns_that_leave_no_room_fall_back(columns, name, answers, monkeypatch):
    monkeypatch.setenv("COLUMNS", columns)
    run = convgrad(*(str(a).format(**answers) for a in COMMANDS[name]))
    assert run.returncode == 0 and run.stderr == "", run
    lines = run.stdout.splitlines()
    assert len(lines) > 3
    assert {"solve": "dL/dw22 = 1·5 + 2·6 + 3·8 + 3·9 = 68", "check": "dW",
            "explain": "= 1·5 + 2·6 + 3·8 + 3·9 = 68"}[name] in run.stdout
    if name == "explain":  # panels: at least 40 wide, 100 when COLUMNS says nothing usable
        assert max(len(line) for line in lines) == (40 if columns == "5" else 100)


def test_help_with_columns_zero(monkeypatch):
    monkeypatch.setenv("COLUMNS", "0")
    run = convgrad("solve", "--help")
    assert run.returncode == 0 and run.stderr == "", run
    assert "Usage" in run.stdout and "--json" in run.stdout


# --- text that convgrad did not write ----------------------------------------------------------


@pytest.mark.parametrize("command", ["solve", "explain"])
def test_markup_in_a_problem_name_is_printed_as_written(command, tmp_path):
    path = write(tmp_path, "week3.yaml", 'name: "week 3 [/conv] [b]x[/b] [red]"\n'
                                         'input: "1 2; 3 4"\nkernel: "1"\ntarget: "0 1; 1 0"\n')
    run = convgrad(command, path)
    assert run.returncode == 0 and run.stderr == "", run
    assert "Problem: week 3 [/conv] [b]x[/b] [red]" in run.stdout


# --- numbers past float64 and past Python's 4,300 digits ------------------------------------------

HUGE_BIAS = "input: '1 2; 3 4'\nkernel: '1/3'\nbias: {bias}\ntarget: '0 0; 0 0'\n"
# Three layers of 1e1000: the loss has 6,001 digits, past Python's limit of 4,300.
HUGE_NETWORK = """\
input: '1e1000 1e1000; 1e1000 1e1000'
layers:
  - conv: {kernel: '1e1000'}
  - conv: {kernel: '1e1000'}
target: '0 0; 0 0'
"""


def test_json_with_a_401_digit_bias(tmp_path):
    path = write(tmp_path, "bias.yaml", HUGE_BIAS.format(bias="1" + "0" * 400))
    run = convgrad("solve", path, "--json")
    assert run.returncode == 0 and run.stderr == "", run
    doc = json.loads(run.stdout, parse_int=int, parse_float=float)
    assert doc["exact"]["Y"][0][0] == f"{3 * 10**400 + 1}/3"  # complete, in lowest terms
    # Beyond float64 a fraction is its nearest integer: valid JSON, exact to 400 digits.
    assert doc["Y"][0][0] == 10**400
    assert doc["exact"]["loss"].count("/") == 1 and len(doc["exact"]["loss"]) > 800


def test_json_with_results_past_4300_digits(tmp_path):
    path = write(tmp_path, "net.yaml", HUGE_NETWORK)
    run = convgrad("solve", path, "--json")
    assert run.returncode == 0 and run.stderr == "", run
    doc = json.loads(run.stdout, parse_int=str)  # this process keeps its 4,300-digit limit
    assert doc["exact"]["loss"] == "1" + "0" * 6000
    assert doc["loss"] == doc["exact"]["loss"]  # an exact integer is a JSON integer


@pytest.mark.parametrize("command", ["solve", "explain"])
def test_text_with_results_past_4300_digits(command, tmp_path):
    path = write(tmp_path, "net.yaml", HUGE_NETWORK)
    run = convgrad(command, path)
    assert run.returncode == 0 and run.stderr == "", run
    assert "≈1e+2000" in run.stdout and "≈1e+3000" in run.stdout
    assert "Numbers of more than 40 digits are shown to 6 significant figures" in run.stdout
    if command == "solve":
        assert "loss = ≈1e+6000" in run.stdout


def test_json_refuses_a_float_overflow(tmp_path):
    path = write(tmp_path, "over.yaml", 'input: "1e200 1e200; 3 4"\nkernel: "1"\n'
                                        'target: "0 1; 1 0"\nloss: mse\n')
    run = convgrad("solve", path, "--json", "--float")
    assert run.returncode == 2 and run.stdout == "", run
    line = one_line(run)
    assert line.startswith("error: ") and "float64" in line and "Infinity" not in line


# --- NumPy's warnings ------------------------------------------------------------------------

SIGMOID_HUGE = ('input: "1e308 -1e308; 3 4"\nkernel: "1"\nactivation: sigmoid\n'
                'target: "0 1; 1 0"\nloss: mse\n')
MSE_OVERFLOW = 'input: "1e200 1e200; 3 4"\nkernel: "1"\ntarget: "0 1; 1 0"\nloss: mse\n'


@pytest.mark.parametrize("text, args", [(SIGMOID_HUGE, ["solve"]), (SIGMOID_HUGE, ["explain"]),
                                        (SIGMOID_HUGE, ["solve", "--json"]),
                                        (MSE_OVERFLOW, ["solve", "--float"]),
                                        (MSE_OVERFLOW, ["explain", "--float"])],
                         ids=["sigmoid-solve", "sigmoid-explain", "sigmoid-json", "mse-solve",
                              "mse-explain"])
def test_no_numpy_warnings_on_stderr(text, args, tmp_path):
    path = write(tmp_path, "p.yaml", text)
    run = convgrad(args[0], path, *args[1:])
    no_traceback(run)
    assert "Warning" not in run.stderr and ".py" not in run.stderr, run
    assert run.returncode in (0, 2), run
    assert len(run.stderr.splitlines()) <= 1, run
    if args == ["solve", "--json"]:
        doc = json.loads(run.stdout)
        assert doc["Y"][0][:2] == [1.0, 0.0]  # sigmoid(1e308) = 1, sigmoid(-1e308) = 0


@pytest.mark.parametrize("form", ["text", "--json"])
def test_check_with_results_past_4300_digits(form, tmp_path):
    problem = write(tmp_path, "net.yaml", HUGE_NETWORK)
    # The loss (6,001 digits) is too long to write in an answers file: a wrong one shows it.
    answers = write(tmp_path, "answers.yaml", "loss: 1\ndX: '0 0; 0 0'\n")
    run = convgrad("check", problem, answers, *([form] if form != "text" else []))
    assert run.returncode == 1 and run.stderr == "", run
    if form == "--json":
        keys = {k["key"]: k for k in json.loads(run.stdout, parse_int=str)["files"][0]["keys"]}
        assert keys["loss"]["right"] is False and keys["dX"]["right"] is False
        assert "1" + "0" * 6000 in run.stdout
    else:
        assert "loss" in run.stdout and "dX" in run.stdout


SEED = ROOT / "problems" / "seed_worked_example.yaml"


def test_output_through_a_symlink_writes_the_file_it_names(tmp_path):
    # -o renamed its temporary file over the link itself: the link became a plain file and
    # the file it names kept its old text
    from convgrad.cli import main

    real = write(tmp_path, "real.md", "old\n")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert main(["solve", str(SEED), "-o", str(link)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8").startswith("# Solution")


@pytest.mark.parametrize(("option", "ending"), [("-o", ".md"), ("--class-report", ".html")])
def test_output_through_symlinks_in_a_loop_is_refused(option, ending, tmp_path):
    # A link that names itself, or two that name each other, name no file: the output was
    # renamed over the link, where --gradescope (through open) refused it
    answers = write(tmp_path, "a.yaml", "db: 9\n")
    loop = tmp_path / f"self{ending}"
    loop.symlink_to(loop.name)
    ping, pong = tmp_path / f"ping{ending}", tmp_path / f"pong{ending}"
    ping.symlink_to(pong.name)
    pong.symlink_to(ping.name)
    args = ["solve", SEED] if option == "-o" else ["check", SEED, answers]
    for path in (loop, ping):
        run = convgrad(*args, option, path)
        assert run.returncode == 2 and run.stdout == "", run
        assert one_line(run) == (f"error: {option} {path}: cannot write the file (Too many "
                                 "levels of symbolic links)"), run
    assert os.readlink(loop) == loop.name
    assert (os.readlink(ping), os.readlink(pong)) == (pong.name, ping.name)


@pytest.mark.skipif(not os.path.isfile("/proc/version"), reason="no /proc/version")
@pytest.mark.parametrize("option", ["-o", "--class-report"])
def test_output_over_a_file_that_cannot_be_replaced_says_what_failed(option, tmp_path):
    # /proc/version exists, but no file can be made beside it: the message said "No such
    # file or directory", of a file that is there
    answers = write(tmp_path, "a.yaml", "db: 9\n")
    path = "/proc/version" if option == "-o" else "/proc/version.csv"
    args = ["solve", SEED] if option == "-o" else ["check", SEED, answers]
    before = Path("/proc/version").read_text(encoding="utf-8")
    run = convgrad(*args, option, path)
    assert run.returncode == 2 and run.stdout == "", run
    assert one_line(run).startswith(f"error: {option} {path}: cannot write the file: no "
                                    "temporary file can be made in /proc to write it first ("), run
    assert Path("/proc/version").read_text(encoding="utf-8") == before


def test_output_to_a_pipe_writes_into_it(tmp_path):
    # a named pipe (as /dev/stdout or /dev/null, not a regular file): the text goes into it;
    # renaming a file over it replaced the pipe (as root: /dev/full itself) with that file
    from convgrad.cli import main

    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as pipe:
            got.append(pipe.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code = main(["solve", str(SEED), "--json", "-o", str(fifo)])
    replaced = not fifo.is_fifo()
    if reader.is_alive() and not replaced:
        reader.join(10)
    if reader.is_alive():  # nothing opened the pipe: let the reader go
        with open(fifo if fifo.is_fifo() else os.devnull, "wb"):
            pass
    assert code == 0 and not replaced
    assert json.loads(got[0])["dW"] == [[32, 41], [59, 68]]   # SPEC section 2's figures


@pytest.mark.parametrize("name", ["a\x1b[2Jb.yaml", "ann\rbob.yaml", "tab\there\x07.yaml"])
def test_a_file_name_with_control_characters_is_one_plain_line_on_stderr(name, tmp_path):
    # The name reaches the message as typed: an escape sequence in it cleared the terminal
    # of whoever ran the command, and a carriage return sent the line back over itself.
    run = convgrad("solve", name, cwd=tmp_path)
    line = one_line(run)
    assert run.returncode == 2
    assert not any(ord(char) < 32 or 127 <= ord(char) < 160 for char in line), run
    assert line.endswith("no such file; check the path"), run
