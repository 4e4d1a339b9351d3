"""Bad input through the real command: exit 2, one line on stderr, nothing on stdout.

Every file in tests/bad_problems/ is one mistake. Its first lines are comments
``# expect: WORD`` naming what the error message must contain (the key, a word, or
``line N``). Each file is run as ``convgrad solve FILE`` and ``... --json`` twice: in this
process through main(argv), and in one process for the whole corpus (tests/batch.py) with a
2 GiB address-space cap and a timeout per file. Both must give: exit code 2, empty stdout, one
line on stderr (two at most) with the file name and every expected word, no traceback; the
file's bytes unchanged. Streams and huge files (an endless device, pipe or standard input, a
file past the size or value limit) run only under the cap, in one more such process. A hang
fails through the timeout; how fast convgrad refuses is measured in benchmarks/, not
asserted here.

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
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convgrad.cli import app

from .conftest import Run, run_main

HERE = Path(__file__).resolve().parent
BAD_DIR = HERE / "bad_problems"
PROBLEMS_DIR = HERE.parent / "problems"

TIMEOUT = 20  # seconds for one command line: longer than this is a hang
BATCH_TIMEOUT = 300  # seconds for a whole batch, should a hang be one Python cannot stop
MEMORY_CAP = 2 * 1024**3  # bytes of address space for the process of a batch

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
    def __init__(self, args: list[str], returncode: int | None, stdout: str, stderr: str,
                 seconds: float) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.seconds = seconds

    def __repr__(self) -> str:
        ended = "a hang" if self.returncode is None else f"exit {self.returncode}"
        return (f"<{' '.join(self.args)}: {ended} in {self.seconds:.1f} s, "
                f"stdout {self.stdout[:200]!r}, stderr {self.stderr[:600]!r}>")


class Batch:
    """The outcomes of one capped process that ran many command lines (tests/batch.py)."""

    def __init__(self, cases: list[dict], watch: Sequence[Path] = ()) -> None:
        """Run the cases; `watch`: files whose bytes must not change (see `modified`)."""
        before = {path: sha256(path) for path in watch}
        proc = subprocess.Popen([sys.executable, str(HERE / "batch.py")], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=PREEXEC)
        try:
            out, err = proc.communicate(json.dumps(cases).encode("utf-8"),
                                        timeout=BATCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        self.outcomes: dict[tuple[str, ...], Outcome] = {}
        self.last: list[str] | None = None  # the case running when the process ended
        for line in out.decode("utf-8").splitlines():
            record = json.loads(line)
            if "started" in record:
                self.last = record["started"]
                continue
            self.last = None
            self.outcomes[tuple(record["args"])] = Outcome(
                record["args"], record["returncode"], record["stdout"], record["stderr"],
                record["seconds"])
        self.exit = (proc.returncode, err.decode("utf-8", "replace")[-2000:])
        self.modified = {path.name for path, digest in before.items() if sha256(path) != digest}

    def __getitem__(self, args: list[str]) -> Outcome:
        if tuple(args) not in self.outcomes:
            pytest.fail(f"the capped process never ran convgrad {' '.join(args)}: it ended "
                        f"(exit {self.exit[0]}, stderr {self.exit[1]!r}) while running "
                        f"{self.last} (a hang, or a crash)")
        outcome = self.outcomes[tuple(args)]
        if outcome.returncode is None:
            pytest.fail(f"convgrad {' '.join(args)} did not finish in {TIMEOUT} s (a hang)")
        return outcome


def assert_unusable(outcome: Outcome | Run, name: str, words: Sequence[str] = (),
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


SEED = str(PROBLEMS_DIR / "seed_worked_example.yaml")
SIGMOID = str(PROBLEMS_DIR / "sigmoid_bce.yaml")


def _corpus_cases() -> Iterator[list[str]]:
    for path in sorted(BAD_DIR.glob("*.yaml")):
        if path.stem not in HANGS:
            yield ["solve", str(path)]
            yield ["solve", str(path), "--json"]
    yield ["solve", SEED, "--json"]  # the harness itself


@pytest.fixture(scope="module")
def corpus() -> Batch:
    """Every bad problem, `solve FILE` and `solve FILE --json`, in one process under the
    memory cap."""
    return Batch([{"args": args, "timeout": TIMEOUT} for args in _corpus_cases()],
                 watch=sorted(BAD_DIR.glob("*.yaml")))


def _refused_alike(path: Path, plain: Outcome | Run, as_json: Outcome | Run) -> None:
    words = expected_words(path)
    assert_unusable(plain, path.name, words, paths=(path,))
    assert_unusable(as_json, path.name, words, paths=(path,))
    assert plain.stderr == as_json.stderr


@pytest.mark.parametrize("path", BAD_FILES)
def test_bad_problem_is_one_line_and_exit_2(path: Path, corpus: Batch):
    plain, as_json = ["solve", str(path)], ["solve", str(path), "--json"]
    capped = corpus if path.stem not in HANGS else \
        Batch([{"args": a, "timeout": TIMEOUT} for a in (plain, as_json)], watch=[path])
    # Under the memory cap first: what passes there is safe to run in this process.
    _refused_alike(path, capped[plain], capped[as_json])
    assert path.name not in capped.modified, f"{path.name} was modified"
    before = sha256(path)
    _refused_alike(path, run_main(*plain), run_main(*as_json))
    assert sha256(path) == before, f"{path.name} was modified"


# --- files ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path):
    path = tmp_path / "no_such_problem.yaml"
    out = run_main("solve", path)
    assert_unusable(out, path.name, ["no such file"])
    assert not path.exists()


def test_directory_as_problem(tmp_path: Path):
    folder = tmp_path / "problems_folder"
    folder.mkdir()
    out = run_main("solve", folder, "--json")
    assert_unusable(out, folder.name, ["directory"])


def test_missing_file_without_a_yaml_suffix(tmp_path: Path):
    path = tmp_path / "no_such_problem.txt"
    out = run_main("solve", path)
    assert_unusable(out, path.name, ["no such file"])


def test_zero_byte_file(tmp_path: Path):
    path = tmp_path / "zero_bytes.yaml"
    path.write_bytes(b"")
    out = run_main("solve", path)
    assert_unusable(out, path.name, ["empty"])
    assert path.read_bytes() == b""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path: Path):
    path = tmp_path / "locked.yaml"
    path.write_bytes((PROBLEMS_DIR / "seed_worked_example.yaml").read_bytes())
    path.chmod(0)
    try:
        out = run_main("solve", path)
    finally:
        path.chmod(0o644)
    assert_unusable(out, path.name, ["permission"])


def test_utf16_file_says_so(tmp_path: Path):
    path = tmp_path / "saved_as_utf16.yaml"
    text = (PROBLEMS_DIR / "seed_worked_example.yaml").read_text(encoding="utf-8")
    path.write_bytes(text.encode("utf-16"))
    out = run_main("solve", path)
    assert_unusable(out, path.name, ["UTF-16", "save it as UTF-8"])


def test_binary_junk_on_standard_input():
    junk = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    assert_unusable(run_main("solve", "-", stdin=junk), "<stdin>", ["binary"])
    assert_unusable(run_main("solve", "-", "--json", stdin=junk), "<stdin>", ["binary"])


def test_bad_yaml_on_standard_input():
    out = run_main("solve", "-", "--json", stdin=b"input: [1, 2\nkernel: 1\n")
    assert_unusable(out, "<stdin>", ["syntax", "line"])


# --- streams and huge files: at most MAX_FILE_BYTES are read, whatever the file is ----------
# Under the memory cap, all in one process: what a regression would do here (read an
# endless device to its end, build millions of values) must not happen in this one.


def _limit() -> str:
    from convgrad.reader import MAX_FILE_BYTES

    return f"{MAX_FILE_BYTES // 2**20} MiB"


def _endless_writer(fifo: Path, line: str) -> subprocess.Popen:
    """`yes LINE > FIFO`: the shell opens the pipe for writing (waiting for convgrad to open
    it) and becomes yes."""
    os.mkfifo(fifo)
    return subprocess.Popen(["sh", "-c", f'exec yes "{line}" > "$0"', str(fifo)],
                            stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> Iterator[tuple[Batch, dict[str, list[str]]]]:
    """Each stream and huge file below, run in one capped process: (the batch, the command
    line of each case by name). A case this system cannot make is left out."""
    from convgrad.reader import MAX_FILE_BYTES

    folder = tmp_path_factory.mktemp("streams")
    cases: dict[str, dict] = {}
    writers: list[subprocess.Popen] = []

    huge = folder / "huge.yaml"
    with open(huge, "wb") as f:  # sparse: no disk blocks are written
        f.truncate(MAX_FILE_BYTES + 1)
    cases["over the size limit"] = {"args": ["solve", str(huge)]}
    for device in ("/dev/zero", "/dev/urandom"):
        if os.path.exists(device):
            cases[device] = {"args": ["solve", device, "--json"]}
    if hasattr(os, "mkfifo") and shutil.which("yes"):
        fifo = folder / "endless.yaml"
        writers.append(_endless_writer(fifo, "input: [1, 2]"))
        cases["named pipe"] = {"args": ["solve", str(fifo)]}
        stdin = folder / "stdin"
        writers.append(_endless_writer(stdin, "kernel: 1"))
        cases["standard input"] = {"args": ["solve", "-", "--json"], "stdin_path": str(stdin)}
    if os.path.exists("/dev/zero"):
        cases["zeros on standard input"] = {"args": ["solve", "-"], "stdin_path": "/dev/zero"}
    # 16 million numbers in a 32 MB flow list: refused by its size, never composed.
    sixteen = folder / "sixteen_million.yaml"
    with open(sixteen, "wb") as f:
        f.write(b"input: [")
        for _ in range(16):
            f.write(b"1," * 1_000_000)
        f.write(b"1]\nkernel: 1\n")
    cases["huge flow list"] = {"args": ["solve", str(sixteen)]}
    # 8 MB of numbers: small enough to read, too many values to build.
    four = folder / "four_million.yaml"
    four.write_bytes(b"input: [[" + b"1, " * 2_800_000 + b"1]]\nkernel: 1\n")
    cases["value limit"] = {"args": ["solve", str(four), "--json"]}
    try:
        batch = Batch([{**case, "timeout": TIMEOUT} for case in cases.values()])
    finally:
        for writer in writers:
            writer.kill()
            writer.wait()
    yield batch, {name: case["args"] for name, case in cases.items()}


def _stream(streams, name: str) -> Outcome:
    batch, args = streams
    if name not in args:
        pytest.skip(f"{name}: not possible here")
    return batch[args[name]]


def test_file_over_the_size_limit(streams):
    from convgrad.reader import MAX_FILE_BYTES

    path = Path(streams[1]["over the size limit"][1])
    assert_unusable(_stream(streams, "over the size limit"), path.name, [_limit()])
    assert path.stat().st_size == MAX_FILE_BYTES + 1


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_endless_device_is_refused_at_the_byte_limit(device: str, streams):
    assert_unusable(_stream(streams, device), device, [_limit(), "larger than"])


def test_endless_named_pipe_is_refused_at_the_byte_limit(streams):
    assert_unusable(_stream(streams, "named pipe"), "endless.yaml", [_limit()])


def test_endless_standard_input_is_refused_at_the_byte_limit(streams):
    assert_unusable(_stream(streams, "standard input"), "<stdin>", [_limit()])


def test_zeros_on_standard_input_are_refused_at_the_byte_limit(streams):
    assert_unusable(_stream(streams, "zeros on standard input"), "<stdin>", [_limit()])


def test_huge_flow_list_is_refused_before_it_is_read(streams):
    assert_unusable(_stream(streams, "huge flow list"), "sixteen_million.yaml", [_limit()])


def test_flow_list_under_the_byte_limit_stops_at_the_value_limit(streams):
    from convgrad.reader import MAX_YAML_VALUES

    assert_unusable(_stream(streams, "value limit"), "four_million.yaml",
                    [f"{MAX_YAML_VALUES:,} values", "matrix strings"])


# --- options -------------------------------------------------------------------------------


def test_exact_on_a_sigmoid_problem():
    before = sha256(Path(SIGMOID))
    out = run_main("solve", SIGMOID, "--exact", "--json")
    assert_unusable(out, Path(SIGMOID).name, ["exact"])
    assert sha256(Path(SIGMOID)) == before


@pytest.mark.parametrize("text, where", [
    pytest.param("input: '1 2; 3 4'\nkernel: '1'\nactivation: tanh\ngrad_output: '1 1; 1 1'\n",
                 "line 3: 'activation'", id="single-form-tanh"),
    pytest.param("input: [1, 2]\nlayers:\n  - dense: {weights: '1 1'}\n  - sigmoid\n"
                 "  - dense: {weights: '1'}\ngrad_output: [1]\n",
                 "line 4: 'layers[2]'", id="network-sigmoid"),
])
def test_exact_names_the_key_that_is_not_rational(text: str, where: str, tmp_path: Path):
    # The single form's tanh was reported as 'layers', a key its file does not have, with
    # no line; a network's sigmoid named 'layers' and the line of the list, not its own.
    path = tmp_path / "p.yaml"
    path.write_text(text)
    out = run_main("solve", path, "--exact")
    assert_unusable(out, "p.yaml", ["exact"], paths=(path,))
    assert where in out.stderr, out


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
    assert_unusable(run_main(*args), word)


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
    assert_unusable(run_main(*args), path.name, expected_words(path), paths=(path,))


# --- internal errors -----------------------------------------------------------------------

runner = CliRunner()


def _boom(*args, **kwargs):
    raise RuntimeError("simulated failure deep inside")


def _patch_run(monkeypatch) -> None:
    monkeypatch.setattr("convgrad.engine.run", _boom)


def test_internal_error_is_one_line_asking_for_a_report(monkeypatch):
    _patch_run(monkeypatch)
    by_typer = runner.invoke(app, ["solve", SEED, "--json"])
    by_main = run_main("solve", SEED, "--json")
    assert by_typer.exit_code == by_main.returncode == 70
    for result in (by_typer, by_main):
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
    # the same through main(argv), where the fast parser reads --debug
    debug = run_main("--debug", "solve", SEED)
    assert debug.returncode == 70 and "_boom" in debug.stderr
    assert "Traceback" not in run_main("solve", SEED).stderr


def test_a_good_problem_still_passes_through_the_same_harness(corpus):
    """The harness itself: a valid problem gives exit 0 and JSON, so the checks above bite."""
    for out in (corpus[["solve", SEED, "--json"]], run_main("solve", SEED, "--json")):
        assert out.returncode == 0, out
        assert json.loads(out.stdout)["loss"] == 23
