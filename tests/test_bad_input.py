"""Bad input through the real command: exit 2, one line on stderr, nothing on stdout.

Every file in tests/bad_problems/ is one mistake. Its first lines are comments
``# expect: WORD`` naming what the error message must contain (the key, a word, or
``line N``). Each file is run as ``python -m convgrad solve FILE`` and ``... --json``
in subprocesses, with a timeout and (on Linux) an address-space cap, and must give:
exit code 2, empty stdout, one line on stderr (two at most) with the file name and
every expected word, no traceback; the file's bytes unchanged. A hang fails through the
timeout; how fast convgrad refuses is measured in benchmarks/, not asserted here.

Cases where convgrad does not (yet) behave so are listed in KNOWN_FAILURES with what it
does instead; they are strict xfails, so fixing one turns it into a failure here until
its entry is removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
from typer.testing import CliRunner

from convgrad.cli import app

HERE = Path(__file__).resolve().parent
BAD_DIR = HERE / "bad_problems"
PROBLEMS_DIR = HERE.parent / "problems"

TIMEOUT = 20  # seconds: longer than this is a hang
MEMORY_CAP = 2 * 1024**3  # bytes of address space for each run

# Cases convgrad gets wrong, with what it does instead (strict xfails), and those of them
# that hang (marked slow, as each costs TIMEOUT seconds). Empty: every case holds.
KNOWN_FAILURES: dict[str, str] = {}
HANGS: set[str] = set()


def _limit_memory() -> None:  # runs in the child, before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


PREEXEC = _limit_memory if sys.platform.startswith("linux") else None


def expected_words(path: Path) -> list[str]:
    """The words of the leading '# expect: WORD' comment lines."""
    words = []
    for line in path.read_bytes().splitlines():
        if not line.startswith(b"#"):
            break
        if line.startswith(b"# expect:"):
            words.append(line[len(b"# expect:"):].strip().decode("utf-8"))
    return words


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Outcome:
    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str,
                 seconds: float) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.seconds = seconds

    def __repr__(self) -> str:
        return (f"<{' '.join(self.args)}: exit {self.returncode} in {self.seconds:.1f} s, "
                f"stdout {self.stdout[:200]!r}, stderr {self.stderr[:600]!r}>")


def run_convgrad(*arg_lists: list[str], stdin: bytes | IO[bytes] | None = None
                 ) -> list[Outcome]:
    """Run `python -m convgrad ARGS` once per argument list, all at the same time.

    `stdin`: bytes to write to standard input, or an open file (or pipe) to read it from.
    """
    started = time.monotonic()
    piped = stdin is None or isinstance(stdin, bytes)
    procs = [(args, subprocess.Popen(
        [sys.executable, "-m", "convgrad", *args], stdin=subprocess.PIPE if piped else stdin,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=PREEXEC))
        for args in arg_lists]
    outcomes = []
    try:
        for args, proc in procs:
            left = max(TIMEOUT - (time.monotonic() - started), 0.1)
            try:
                out, err = proc.communicate(input=stdin if piped else None, timeout=left)
            except subprocess.TimeoutExpired:
                pytest.fail(f"convgrad {' '.join(args)} did not finish in {TIMEOUT} s (a hang)")
            outcomes.append(Outcome(args, proc.returncode,
                                    out.decode("utf-8", "replace"),
                                    err.decode("utf-8", "replace"),
                                    time.monotonic() - started))
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait()
    return outcomes


def assert_unusable(outcome: Outcome, name: str, words: list[str] = (),
                    paths: tuple[Path, ...] = ()) -> None:
    """Exit 2, nothing on stdout, 1-2 lines on stderr naming `name` and each word.

    `paths`: the file as given on the command line, so that the words are looked for in
    the message, not in the file's own name (stride_zero.yaml contains 'stride').
    """
    assert outcome.returncode == 2, outcome
    assert outcome.stdout == "", outcome
    assert "Traceback" not in outcome.stderr, outcome
    lines = outcome.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, outcome
    assert name in outcome.stderr, f"the message does not name {name!r}: {outcome}"
    # The words must be in the message itself, not only in the file's name.
    message = outcome.stderr
    for path in paths:
        message = message.replace(str(path), "<file>")
    message = message.replace(name, "<file>").lower()
    for word in words:
        assert word.lower() in message, f"the message lacks {word!r}: {outcome}"


def _bad_files() -> list:
    params = []
    for path in sorted(BAD_DIR.glob("*.yaml")):
        marks = []
        if path.stem in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[path.stem]))
        if path.stem in HANGS:
            marks.append(pytest.mark.slow)
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


BAD_FILES = _bad_files()


def test_the_bad_problems_directory_is_complete():
    paths = sorted(BAD_DIR.glob("*.yaml"))
    assert len(paths) >= 160
    for path in paths:
        assert expected_words(path), f"{path.name} has no '# expect: WORD' line"
    stems = {path.stem for path in paths}
    assert set(KNOWN_FAILURES) <= stems and set(KNOWN_FAILURES) >= HANGS


@pytest.mark.parametrize("path", BAD_FILES)
def test_bad_problem_is_one_line_and_exit_2(path: Path):
    before = sha256(path)
    words = expected_words(path)
    plain, as_json = run_convgrad(["solve", str(path)], ["solve", str(path), "--json"])
    assert sha256(path) == before, f"{path.name} was modified"
    assert_unusable(plain, path.name, words, paths=(path,))
    assert_unusable(as_json, path.name, words, paths=(path,))
    assert plain.stderr == as_json.stderr


# --- files ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    path = tmp_path / "no_such_problem.yaml"
    (out,) = run_convgrad(["solve", str(path)])
    assert_unusable(out, path.name, ["no such file"])
    assert not path.exists()


def test_directory_as_problem(tmp_path: Path):
    folder = tmp_path / "problems_folder"
    folder.mkdir()
    (out,) = run_convgrad(["solve", str(folder), "--json"])
    assert_unusable(out, folder.name, ["directory"])


def test_missing_file_without_a_yaml_suffix(tmp_path: Path):
    path = tmp_path / "no_such_problem.txt"
    (out,) = run_convgrad(["solve", str(path)])
    assert_unusable(out, path.name, ["no such file"])


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "zero_bytes.yaml"
    path.write_bytes(b"")
    (out,) = run_convgrad(["solve", str(path)])
    assert_unusable(out, path.name, ["empty"])
    assert path.read_bytes() == b""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path):
    path = tmp_path / "locked.yaml"
    path.write_bytes((PROBLEMS_DIR / "seed_worked_example.yaml").read_bytes())
    path.chmod(0)
    try:
        (out,) = run_convgrad(["solve", str(path)])
    finally:
        path.chmod(0o644)
    assert_unusable(out, path.name, ["permission"])


def test_file_over_the_size_limit(tmp_path: Path):
    from convgrad.reader import MAX_FILE_BYTES

    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:  # sparse: no disk blocks are written
        f.truncate(MAX_FILE_BYTES + 1)
    (out,) = run_convgrad(["solve", str(path)])
    assert_unusable(out, path.name, [f"{MAX_FILE_BYTES // 2**20} MiB"])
    assert path.stat().st_size == MAX_FILE_BYTES + 1


# --- streams and huge files: at most MAX_FILE_BYTES are read, whatever the file is ----------


def _limit() -> str:
    from convgrad.reader import MAX_FILE_BYTES

    return f"{MAX_FILE_BYTES // 2**20} MiB"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_device_is_refused_at_the_byte_limit(device: str):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    (out,) = run_convgrad(["solve", device, "--json"])
    assert_unusable(out, device, [_limit(), "larger than"])


@pytest.mark.skipif(not hasattr(os, "mkfifo") or shutil.which("yes") is None,
                    reason="needs named pipes and yes")
def test_endless_named_pipe_is_refused_at_the_byte_limit(tmp_path: Path):
    fifo = tmp_path / "endless.yaml"
    os.mkfifo(fifo)
    # The shell opens the pipe for writing (waiting for convgrad to open it) and becomes yes.
    writer = subprocess.Popen(["sh", "-c", 'exec yes "input: [1, 2]" > "$0"', str(fifo)],
                              stderr=subprocess.DEVNULL)
    try:
        (out,) = run_convgrad(["solve", str(fifo)])
    finally:
        writer.kill()
        writer.wait()
    assert_unusable(out, fifo.name, [_limit()])


@pytest.mark.skipif(shutil.which("yes") is None, reason="needs yes")
def test_endless_standard_input_is_refused_at_the_byte_limit():
    feeder = subprocess.Popen(["yes", "kernel: 1"], stdout=subprocess.PIPE)
    try:
        (out,) = run_convgrad(["solve", "-", "--json"], stdin=feeder.stdout)
    finally:
        feeder.kill()
        feeder.wait()
        feeder.stdout.close()
    assert_unusable(out, "<stdin>", [_limit()])


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_zeros_on_standard_input_are_refused_at_the_byte_limit():
    with open("/dev/zero", "rb") as zeros:
        (out,) = run_convgrad(["solve", "-"], stdin=zeros)
    assert_unusable(out, "<stdin>", [_limit()])


def test_huge_flow_list_is_refused_before_it_is_read(tmp_path: Path):
    # 16 million numbers in a 32 MB flow list: refused by its size, never composed.
    path = tmp_path / "sixteen_million.yaml"
    with open(path, "wb") as f:
        f.write(b"input: [")
        for _ in range(16):
            f.write(b"1," * 1_000_000)
        f.write(b"1]\nkernel: 1\n")
    (out,) = run_convgrad(["solve", str(path)])
    assert_unusable(out, path.name, [_limit()])


def test_flow_list_under_the_byte_limit_stops_at_the_value_limit(tmp_path: Path):
    # 8 MB of numbers: small enough to read, too many values to build.
    from convgrad.reader import MAX_YAML_VALUES

    path = tmp_path / "four_million.yaml"
    path.write_bytes(b"input: [[" + b"1, " * 2_800_000 + b"1]]\nkernel: 1\n")
    (out,) = run_convgrad(["solve", str(path), "--json"])
    assert_unusable(out, path.name, [f"{MAX_YAML_VALUES:,} values", "matrix strings"])


def test_utf16_file_says_so(tmp_path: Path):
    path = tmp_path / "saved_as_utf16.yaml"
    text = (PROBLEMS_DIR / "seed_worked_example.yaml").read_text(encoding="utf-8")
    path.write_bytes(text.encode("utf-16"))
    (out,) = run_convgrad(["solve", str(path)])
    assert_unusable(out, path.name, ["UTF-16", "save it as UTF-8"])


def test_binary_junk_on_standard_input():
    (plain, junk) = run_convgrad(["solve", "-"], ["solve", "-", "--json"],
                                 stdin=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert_unusable(plain, "<stdin>", ["binary"])
    assert_unusable(junk, "<stdin>", ["binary"])


def test_bad_yaml_on_standard_input():
    (out,) = run_convgrad(["solve", "-", "--json"], stdin=b"input: [1, 2\nkernel: 1\n")
    assert_unusable(out, "<stdin>", ["syntax", "line"])


# --- options -------------------------------------------------------------------------------

SEED = str(PROBLEMS_DIR / "seed_worked_example.yaml")
SIGMOID = str(PROBLEMS_DIR / "sigmoid_bce.yaml")


def test_exact_on_a_sigmoid_problem():
    before = sha256(Path(SIGMOID))
    (out,) = run_convgrad(["solve", SIGMOID, "--exact", "--json"])
    assert_unusable(out, Path(SIGMOID).name, ["exact"])
    assert sha256(Path(SIGMOID)) == before


@pytest.mark.parametrize("args, word", [
    pytest.param(["solve", "--frobnicate", SEED], "--frobnicate", id="solve-unknown-option"),
    pytest.param(["check", SEED, SEED, "--frobnicate"], "--frobnicate",
                 id="check-unknown-option"),
    pytest.param(["solve", SEED, "--terms", "bogus"], "--terms", id="terms-bogus"),
    pytest.param(["solve", SEED, "--exact", "--float"], "--exact", id="exact-and-float"),
    pytest.param(["explain", SEED, "--lang", "xx"], "--lang", id="lang-unknown"),
    pytest.param(["check", SEED, SEED, "--rtol", "abc"], "--rtol", id="rtol-not-a-number"),
    pytest.param(["check", SEED, SEED, "--rtol", "-1"], "--rtol", id="rtol-negative"),
    pytest.param(["check", SEED, SEED, "--atol", "nan"], "--atol", id="atol-nan"),
    pytest.param(["check", SEED, SEED, "--decimals", "99"], "--decimals", id="decimals-99"),
    pytest.param(["check", SEED, SEED, "--sig-figs", "0"], "--sig-figs", id="sig-figs-0"),
    pytest.param(["check", SEED, SEED, "--rtol", "0.1", "--decimals", "2"], "--decimals",
                 id="two-tolerance-rules"),
    pytest.param(["frobnicate"], "frobnicate", id="unknown-command"),
])
def test_bad_option_is_one_line_and_exit_2(args: list[str], word: str):
    (out,) = run_convgrad(args)
    assert_unusable(out, word)


@pytest.mark.parametrize("command", ["explain", "check"])
@pytest.mark.parametrize("case", ["kernel_typo", "yaml_unclosed_bracket", "stride_zero"])
def test_other_commands_refuse_bad_problems_alike(command: str, case: str, tmp_path: Path):
    path = BAD_DIR / f"{case}.yaml"
    if command == "check":
        answers = tmp_path / "answers.yaml"
        answers.write_text("loss: 23\n", encoding="utf-8")
        args = ["check", str(path), str(answers)]
    else:
        args = ["explain", str(path)]
    (out,) = run_convgrad(args)
    assert_unusable(out, path.name, expected_words(path), paths=(path,))


# --- internal errors -----------------------------------------------------------------------

runner = CliRunner()


def _boom(*args, **kwargs):
    raise RuntimeError("simulated failure deep inside")


def _patch_run(monkeypatch) -> None:
    monkeypatch.setattr("convgrad.engine.run", _boom)


def test_internal_error_is_one_line_asking_for_a_report(monkeypatch):
    _patch_run(monkeypatch)
    result = runner.invoke(app, ["solve", SEED, "--json"])
    assert result.exit_code == 70
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "report" in lines[0] and "RuntimeError" in lines[0]
    assert "simulated failure deep inside" in lines[0]
    assert "Traceback" not in result.stderr


def test_internal_error_with_debug_shows_the_traceback(monkeypatch):
    _patch_run(monkeypatch)
    result = runner.invoke(app, ["--debug", "solve", SEED])
    assert result.exit_code == 70
    assert result.stdout == ""
    assert "Traceback" in result.stderr and "_boom" in result.stderr
    assert "report" in result.stderr.strip().splitlines()[-1]
    # and the next run without --debug is quiet again
    quiet = runner.invoke(app, ["solve", SEED])
    assert quiet.exit_code == 70 and "Traceback" not in quiet.stderr


def test_a_good_problem_still_passes_through_the_same_harness():
    """The harness itself: a valid problem gives exit 0 and JSON, so the checks above bite."""
    (out,) = run_convgrad(["solve", SEED, "--json"])
    assert out.returncode == 0, out
    assert json.loads(out.stdout)["loss"] == 23
