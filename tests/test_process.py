"""convgrad as a shell runs it: real processes, for what only a process shows (issue 13).

Everything else runs in-process through main(argv) (test_cli.py, test_faults.py and the
others). Here: exit codes as a shell sees them, through `python -m convgrad` and the
installed `convgrad` script; a pipe whose reader has gone (`| head`); Ctrl-C as a signal,
while convgrad waits for its input and at explain's prompt on a terminal; standard output
closed or on /dev/full; an ASCII-only standard output; explain --step on a terminal (a pty);
what `import convgrad` loads in a fresh interpreter. The 2 GiB memory cap over the bad
input is in test_bad_input.py (one process for the whole corpus). Every run has a 2 GiB
address-space cap and a timeout (a hang), never a timing assertion.
"""

from __future__ import annotations

import errno
import os
import pty
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convgrad import __version__

from .conftest import ROOT, no_traceback, one_line, write

SEED = ROOT / "problems" / "seed_worked_example.yaml"
TIMEOUT = 60  # seconds: longer than this is a hang
MEMORY_CAP = 2 * 1024**3
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8",
       "PYTHONDONTWRITEBYTECODE": "1"}
ENV.pop("COLUMNS", None)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="pipes, FIFOs, ptys, /dev/full and rlimits as on Linux")


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


# --- exit codes as a shell sees them ---------------------------------------------------------


def test_exit_codes_0_1_2_in_a_shell_loop(tmp_path):
    seed = write(tmp_path, SEED.name, SEED.read_text(encoding="utf-8")).name
    write(tmp_path, "right.yaml", "dW: [[32, 41], [59, 68]]\nloss: 23\n")
    write(tmp_path, "wrong.yaml", "dW: [[32, 41], [59, 68]]\nloss: 24\n")
    write(tmp_path, "shape.yaml", "dW: [[32, 41, 0], [59, 68, 0]]\n")
    write(tmp_path, "typo.yaml", "dw: [[32, 41], [59, 68]]\n")
    write(tmp_path, "broken.yaml", "dW: [[32, 41], [59, 68]\n")
    py = shlex.quote(sys.executable)
    script = f"""
for f in right.yaml wrong.yaml shape.yaml typo.yaml broken.yaml missing.yaml; do
    {py} -m convgrad check {seed} "$f" >/dev/null 2>&1
    echo "$f $?"
done
if {py} -m convgrad check {seed} right.yaml >/dev/null; then echo "if: pass"; fi
if ! {py} -m convgrad check {seed} wrong.yaml >/dev/null; then echo "if: fail"; fi
{py} -m convgrad check {seed} right.yaml wrong.yaml >/dev/null; echo "two $?"
{py} -m convgrad check {seed} right.yaml wrong.yaml typo.yaml >/dev/null; echo "three $?"
{py} -m convgrad check {seed} right.yaml --rtol -1 >/dev/null 2>&1; echo "option $?"
"""
    proc = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=ENV, timeout=600, preexec_fn=_limit_memory)
    assert proc.stdout.splitlines() == [
        "right.yaml 0", "wrong.yaml 1", "shape.yaml 1", "typo.yaml 2", "broken.yaml 2",
        "missing.yaml 2", "if: pass", "if: fail", "two 1", "three 2", "option 2"]
    assert "Traceback" not in proc.stderr


def test_the_convgrad_script_is_the_same_program(tmp_path, answers):
    script = Path(sys.executable).with_name("convgrad")
    if not script.exists():
        pytest.skip("convgrad is not installed as a script next to this Python")
    script_text = f'"{script}" --version; echo "version $?"\n' \
                  f'"{script}" check "{SEED}" "{answers["wrong"]}" >/dev/null; echo "wrong $?"\n' \
                  f'"{script}" solve "{tmp_path / "missing.yaml"}"; echo "missing $?"\n'
    proc = subprocess.run(["sh", "-c", script_text], capture_output=True, text=True, env=ENV,
                          timeout=TIMEOUT, preexec_fn=_limit_memory)
    assert proc.stdout.splitlines() == [f"convgrad {__version__}", "version 0", "wrong 1",
                                        "missing 2"], proc
    run = Run(0, "", proc.stderr)
    assert "missing.yaml" in one_line(run)


# --- a pipe whose reader has gone ------------------------------------------------------------


@pytest.mark.parametrize("args, code", [(["solve", SEED, "--json"], 0),
                                        (["check", SEED, "{wrong}", "--json"], 1)],
                         ids=["solve-json", "check-wrong"])
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


def test_pipe_to_head_as_a_shell_runs_it(tmp_path):
    from .test_faults import big_problem

    big = big_problem(tmp_path, 20)
    script = '"$@" 2>err.txt | head -n1 >/dev/null; echo "${PIPESTATUS[0]}"'
    argv = [sys.executable, "-m", "convgrad", "solve", str(big), "--terms", "all"]
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", script, "bash", *argv], cwd=tmp_path,
                          capture_output=True, text=True, env=ENV, timeout=TIMEOUT,
                          preexec_fn=_limit_memory)
    assert proc.stdout.strip() == "0", proc
    assert (tmp_path / "err.txt").read_text(encoding="utf-8") == ""


# --- Ctrl-C ---------------------------------------------------------------------------------


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


def _end(proc: subprocess.Popen, master: int) -> None:
    """A test on a pseudo-terminal done: its process killed if it still runs, the terminal's
    side closed."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    os.close(master)


def _read_until(fd: int, marker: str, seen: list[str], timeout: float = TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
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
        _end(proc, master)
    assert proc.returncode == 130
    assert err == b"interrupted\n"
    assert "Traceback" not in "".join(seen)


# --- standard output that cannot be written --------------------------------------------------


@pytest.mark.parametrize("args", [["solve", SEED, "--json"], ["check", SEED, "{right}"]],
                         ids=["solve-json", "check"])
def test_stdout_closed(args, answers):
    run = convgrad(*(str(a).format(**answers) for a in args), stdout=None,
                   preexec=_close_stdout)
    assert run.returncode == 2, run
    assert one_line(run) == "error: cannot write to standard output (it is closed)"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_full():
    with open("/dev/full", "wb") as full:
        run = convgrad("solve", SEED, stdout=full.fileno())
    assert run.returncode == 2, run
    assert one_line(run).startswith("error: cannot write to standard output (")


def test_ascii_stdout_chinese_walkthrough():
    run = convgrad("explain", SEED, "--lang", "zh", env={**ENV, "PYTHONIOENCODING": "ascii"})
    assert run.returncode == 0 and run.stderr == "", run
    assert run.stdout.isascii()
    assert "\\u7b2c 1 \\u6b65" in run.stdout  # 第 1 步, written so that it can be read back


# --- a terminal -------------------------------------------------------------------------------


def _explain_on_a_terminal() -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "convgrad", "explain", "--step"],
                            stdin=slave, stdout=slave, stderr=slave, env=env,
                            preexec_fn=_limit_memory)
    os.close(slave)
    return proc, master


def test_step_pauses_on_a_terminal_and_quits_on_q():
    proc, master = _explain_on_a_terminal()
    seen: list[str] = []
    try:
        text = _read_until(master, "Enter: next step", seen)
        assert "Step 1: Problem" in text and "Step 2" not in text  # it waits after step 1
        seen.clear()
        os.write(master, b"\n")
        text = _read_until(master, "Enter: next step", seen)
        assert "Step 2: Padding" in text and "Step 3" not in text
        seen.clear()
        os.write(master, b"\n")
        text = _read_until(master, "Enter: next step", seen)
        assert "Step 3: Forward: convolution" in text and "Step 3.1" not in text
        os.write(master, b"q\n")
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        _end(proc, master)


def test_step_asks_on_the_terminal_when_the_walkthrough_goes_to_a_file(tmp_path):
    # explain --step > notes.txt, typed at a terminal: the keys come from the terminal, so the
    # question must be asked there (standard error), and the file holds the steps alone
    master, slave = pty.openpty()
    notes = tmp_path / "notes.txt"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    with notes.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "convgrad", "explain", "--step"],
                                stdin=slave, stdout=out, stderr=slave, env=env,
                                preexec_fn=_limit_memory)
    os.close(slave)
    seen: list[str] = []
    try:
        _read_until(master, "Enter: next step", seen)
        os.write(master, b"q\n")
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        _end(proc, master)
    text = notes.read_text(encoding="utf-8")
    assert "Step 1: Problem" in text and "Step 2" not in text
    assert "Enter: next step" not in text


def test_step_pauses_after_every_step_to_the_end():
    from .test_explain import walkthrough

    proc, master = _explain_on_a_terminal()
    seen: list[str] = []
    pauses = 0
    try:
        while proc.poll() is None and pauses < 200:
            text = _read_until(master, "Enter: next step", seen) if proc.poll() is None else ""
            if "Enter: next step" not in text:
                break
            pauses += 1
            # exactly one new panel before each pause (styles stripped: NO_COLOR keeps bold)
            plain = re.sub(r"\x1b\[[0-9;]*m", "", "".join(seen))
            assert plain.count("╭─ Step") == 1, plain[-400:]
            seen.clear()
            os.write(master, b"\n")
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        _end(proc, master)
    panels = walkthrough(SEED)
    assert pauses == panels.count("╭─ Step") >= 20


# --- a fresh interpreter ----------------------------------------------------------------------


def test_solve_json_imports_no_terminal_library():
    """`solve --json` is read by the fast parser and written without rich: typer, click and
    rich (a tenth of a second at every start) are never imported."""
    code = ("import io, sys; from convgrad.cli import main; out = io.StringIO(); "
            "sys.stdout = out; code = main(['solve', sys.argv[1], '--json']); "
            "sys.stdout = sys.__stdout__; heavy = {'rich', 'typer', 'click'} & "
            "{m.split('.')[0] for m in sys.modules}; "
            "print(code, sorted(heavy), out.getvalue().startswith('{\"Y\"'))")
    out = subprocess.run([sys.executable, "-c", code, SEED], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["0", "[]", "True"], out.stdout + out.stderr


def test_importing_convgrad_stays_light():
    code = ("import sys, convgrad; heavy = {'rich', 'typer', 'click', 'yaml'} & "
            "{m.split('.')[0] for m in sys.modules}; print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
