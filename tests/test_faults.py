"""Faults around the process, as a shell sees them (issue 12): real `python -m convgrad` runs.

A closed pipe ends quietly with the code the command would have had; Ctrl-C is one line and
exit 130; standard output that cannot be written (closed, /dev/full) is one line and exit 2;
an ASCII-only standard output, a COLUMNS of 0 or 'abc', a name with rich markup in it and
numbers of thousands of digits are printed, not crashed on; no NumPy warning reaches stderr.
Every run has a 2 GiB address-space cap and a timeout (a hang), never a timing assertion.
"""

from __future__ import annotations

import errno
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT

SEED = ROOT / "problems" / "seed_worked_example.yaml"
TIMEOUT = 60  # seconds: longer than this is a hang
MEMORY_CAP = 2 * 1024**3
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8",
       "PYTHONDONTWRITEBYTECODE": "1"}
ENV.pop("COLUMNS", None)
RIGHT = "dW: [[32, 41], [59, 68]]\ndb: 9\n"
WRONG = "dW: [[32, 41], [59, 0]]\ndb: 9\n"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="pipes, FIFOs, /dev/full and rlimits as on Linux")


def _limit_memory() -> None:  # runs in the child, before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    # As a shell starts a foreground command: Ctrl-C reaches it whatever this process ignores.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _close_stdout() -> None:
    _limit_memory()
    os.close(1)


class Run:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self) -> str:
        return f"<exit {self.returncode}, stdout {self.stdout[:300]!r}, stderr {self.stderr!r}>"


def convgrad(*args: object, stdout: int | None = subprocess.PIPE, env: dict | None = None,
             preexec=_limit_memory, cwd: Path | None = None) -> Run:
    proc = subprocess.run([sys.executable, "-m", "convgrad", *map(str, args)],
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                          env=env or ENV, preexec_fn=preexec, cwd=cwd, timeout=TIMEOUT)
    out = proc.stdout.decode("utf-8", "replace") if proc.stdout is not None else ""
    return Run(proc.returncode, out, proc.stderr.decode("utf-8", "replace"))


def no_traceback(run: Run) -> None:
    for text in (run.stdout, run.stderr):
        assert "Traceback" not in text and "Exception ignored" not in text, run


def one_line(run: Run) -> str:
    no_traceback(run)
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and run.stderr.endswith("\n"), run
    return lines[0]


@pytest.fixture
def answers(tmp_path: Path) -> dict[str, Path]:
    files = {"right": tmp_path / "right.yaml", "wrong": tmp_path / "wrong.yaml",
             "broken": tmp_path / "broken.yaml"}
    files["right"].write_text(RIGHT, encoding="utf-8")
    files["wrong"].write_text(WRONG, encoding="utf-8")
    files["broken"].write_text("dW: [[1, 2]\n", encoding="utf-8")
    return files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


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
    proc = subprocess.Popen([sys.executable, "-m", "convgrad", *(a.format(big=big) for a in args)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV, preexec_fn=_limit_memory)
    try:
        assert len(proc.stdout.read(1000)) == 1000
        proc.stdout.close()  # as `| head` does once it has its lines
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert code == 0, err
    assert err == ""


def test_pipe_to_head_as_a_shell_runs_it(tmp_path):
    big = big_problem(tmp_path, 20)
    script = '"$@" 2>err.txt | head -n1 >/dev/null; echo "${PIPESTATUS[0]}"'
    argv = [sys.executable, "-m", "convgrad", "solve", str(big), "--terms", "all"]
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", script, "bash", *argv], cwd=tmp_path,
                          capture_output=True, text=True, env=ENV, timeout=TIMEOUT,
                          preexec_fn=_limit_memory)
    assert proc.stdout.strip() == "0", proc
    assert (tmp_path / "err.txt").read_text(encoding="utf-8") == ""


# --- Ctrl-C -----------------------------------------------------------------------------------


def interrupt(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    """SIGINT, as Ctrl-C sends it, until convgrad ends; its stdout and stderr.

    A signal that lands between two system calls (the problem opened, its read not yet
    begun) is only acted on at the next one, as a second Ctrl-C at a terminal would be;
    so the signal is sent again while convgrad runs. convgrad acts on the first it sees
    and ignores the rest.
    """
    deadline = time.monotonic() + TIMEOUT
    while True:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            assert time.monotonic() < deadline, "convgrad did not end on Ctrl-C (a hang)"


def _open_when_read(fifo: Path, proc: subprocess.Popen) -> int:
    """The FIFO's write end, once convgrad has opened it for reading (it then waits for data)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
        assert proc.poll() is None, "convgrad ended without reading the problem"
        assert time.monotonic() < deadline, "convgrad never opened the problem (a hang)"
        time.sleep(0.02)


@pytest.mark.parametrize("args", [["solve", "{fifo}", "--json"], ["solve", "{fifo}"],
                                  ["explain", "{fifo}"], ["check", "{fifo}", "{right}"]],
                         ids=["solve-json", "solve", "explain", "check"])
def test_ctrl_c_while_reading_the_problem(args, tmp_path, answers):
    fifo = tmp_path / "problem.yaml"
    os.mkfifo(fifo)
    argv = [a.format(fifo=fifo, **answers) for a in args]
    proc = subprocess.Popen([sys.executable, "-m", "convgrad", *argv], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                            preexec_fn=_limit_memory)
    writer = None
    try:
        writer = _open_when_read(fifo, proc)
        out, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if writer is not None:
            os.close(writer)
    run = Run(proc.returncode, out.decode(), err.decode())
    assert run.returncode == 130, run
    assert one_line(run) == "interrupted"
    assert run.stdout == ""


def _read_until(fd: int, marker: str, seen: list[str]) -> str:
    deadline = time.monotonic() + TIMEOUT
    while marker not in "".join(seen):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} in {''.join(seen)[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                seen.append(os.read(fd, 65536).decode("utf-8", "replace"))
            except OSError:
                break
    return "".join(seen)


def test_ctrl_c_at_the_step_prompt():
    master, slave = pty.openpty()
    env = {**ENV, "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "convgrad", "explain", str(SEED), "--step"],
                            stdin=slave, stdout=slave, stderr=subprocess.PIPE, env=env,
                            preexec_fn=_limit_memory)
    os.close(slave)
    seen: list[str] = []
    try:
        _read_until(master, "Enter: next step", seen)
        _, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(master)
    assert proc.returncode == 130
    assert err == b"interrupted\n"
    assert "Traceback" not in "".join(seen)


# --- standard output that cannot be written -----------------------------------------------------

COMMANDS = {"solve-json": ["solve", SEED, "--json"], "solve": ["solve", SEED],
            "explain": ["explain", SEED], "check": ["check", SEED, "{right}"],
            "check-json": ["check", SEED, "{wrong}", "--json"]}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_stdout_closed(name, answers):
    run = convgrad(*(str(a).format(**answers) for a in COMMANDS[name]), stdout=None,
                   preexec=_close_stdout)
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

ASCII = {**ENV, "PYTHONIOENCODING": "ascii"}


def test_ascii_stdout_chinese_walkthrough():
    run = convgrad("explain", SEED, "--lang", "zh", env=ASCII)
    assert run.returncode == 0 and run.stderr == "", run
    assert run.stdout.isascii()
    assert "\\u7b2c 1 \\u6b65" in run.stdout  # 第 1 步, written so that it can be read back


def test_ascii_stdout_problem_name_with_an_accent(tmp_path):
    path = write(tmp_path, "cafe.yaml", 'name: "café week 3"\ninput: "1 2; 3 4"\nkernel: "1"\n'
                                        'target: "0 1; 1 0"\n')
    run = convgrad("solve", path, env=ASCII)
    assert run.returncode == 0 and run.stderr == "", run
    assert "Problem: caf\\xe9 week 3" in run.stdout


def test_ascii_stdout_check_report_names_the_file(tmp_path):
    answers = write(tmp_path, "réponses.yaml", WRONG)
    run = convgrad("check", SEED, answers.name, env=ASCII, cwd=tmp_path)
    assert run.returncode == 1 and run.stderr == "", run
    assert "r\\xe9ponses.yaml" in run.stdout


@pytest.mark.parametrize("columns", ["0", "5", "abc"])
@pytest.mark.parametrize("name", ["solve", "explain", "check"])
def test_columns_that_leave_no_room_fall_back(columns, name, answers):
    run = convgrad(*(str(a).format(**answers) for a in COMMANDS[name]),
                   env={**ENV, "COLUMNS": columns})
    assert run.returncode == 0 and run.stderr == "", run
    lines = run.stdout.splitlines()
    assert len(lines) > 3
    assert {"solve": "dL/dw22 = 1·5 + 2·6 + 3·8 + 3·9 = 68", "check": "dW",
            "explain": "= 1·5 + 2·6 + 3·8 + 3·9 = 68"}[name] in run.stdout
    if name == "explain":  # panels: at least 40 wide, 100 when COLUMNS says nothing usable
        assert max(len(line) for line in lines) == (40 if columns == "5" else 100)


def test_help_with_columns_zero():
    run = convgrad("solve", "--help", env={**ENV, "COLUMNS": "0"})
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
