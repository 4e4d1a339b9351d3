"""The README's shell sessions, run as written: every command it shows prints what it shows.

A block is a session when its lines start with `$ ` (a command), each followed by the lines it
prints (standard output and standard error, as one stream, as a user sees them). The sessions
run in README order in one shared folder that holds a copy of problems/ and whatever the
blocks before wrote there (`generate ... --out variants`, then `check variants ...`), through
bash, with the `convgrad` of this environment first on PATH, a fixed COLUMNS, NO_COLOR,
TERM=dumb and no terminal on any stream. Each command runs in its own bash, after `(exit N)`
with the status of the command before it, so that `echo $?` works as in one shell.

- A line `...` in a command's output stands for any number of lines (none too).
- Trailing spaces and trailing blank lines are not compared (a user does not see them).
- `<!-- file: PATH -->` on the line before a fence: the block is a file the README shows
  (an answers file), written to PATH before the sessions after it run.
- `<!-- not run: WHY -->` on the line before a fence: the block is not run (an install, the
  test suite, a timing); WHY must be given, so that every block left out says why.
- A fence in bash, sh, shell or console that is neither a session nor marked is an error:
  a shell example is checked or says why it is not.

Every other block (a problem file, an answers file, the Python API, the command synopsis,
the shortened `compare --json`, the layout of the code) is checked by a test of its own
below (CHECKED names it), and a new block no test claims fails. The 3x32x32 walkthrough,
marked not run for the sessions (its problem is not in problems/), is run by a test of its
own on the benchmark's problem. The tables and figures the program fixes (the convention
keys and profiles, the limits, the exit codes, the keys of solve --json) are held to it too.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

import convgrad

from .conftest import ROOT, run_main, write

README = ROOT / "README.md"
SHELL_LANGS = ("bash", "sh", "shell", "console")
MARKER = re.compile(r"<!--\s*(not run|file):\s*(.*?)\s*-->")
ELISION = "..."
TIMEOUT = 60  # seconds for one command: longer than this is a hang
ENV = {
    **os.environ,
    # This environment's convgrad, whatever else PATH holds.
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb", "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1",
    # Standard output unbuffered, so that notes on standard error come where a terminal,
    # which is line-buffered, would show them.
    "PYTHONUNBUFFERED": "1",
}
for name in ("LINES", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE"):  # rich reads these
    ENV.pop(name, None)


@dataclass
class Command:
    line: int  # of the README, 1-based
    text: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int  # the opening fence's
    lang: str
    body: list[str]
    marker: tuple[str, str] | None  # ("not run", why) or ("file", path)
    commands: list[Command]


def parse(text: str) -> list[Block]:
    """Every fenced block of the README, with the marker on the line before it, if any."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = re.fullmatch(r"```(\S*)\s*", lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        body = lines[i + 1:end]
        found = MARKER.fullmatch(lines[i - 1].strip()) if i else None
        commands: list[Command] = []
        for k, line in enumerate(body):
            if line.startswith("$ "):
                commands.append(Command(i + 2 + k, line[2:]))
            elif commands:
                commands[-1].expected.append(line)
        blocks.append(Block(i + 1, opening[1], body,
                            (found[1], found[2]) if found else None, commands))
        i = end + 1
    return blocks


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the lines are the same, a line `...` of `expected` standing for any lines."""
    want, got = _shown(expected), _shown(actual)
    # reach[j]: the first j lines of `got` are matched by the expected lines so far.
    reach = [True] + [False] * len(got)
    for line in want:
        if line == ELISION:
            for j in range(1, len(got) + 1):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [reach[j - 1] and got[j - 1] == line
                               for j in range(1, len(got) + 1)]
    return reach[-1]


def _shown(lines: list[str]) -> list[str]:
    shown = [line.rstrip() for line in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown


BLOCKS = parse(README.read_text(encoding="utf-8"))
SESSIONS = [b for b in BLOCKS if b.commands and b.marker is None]
# Folders that generate writes: a session naming one reads or writes it (_roots).
OUT_FOLDERS = {m[1] for m in re.finditer(r"--out (\S+)", README.read_text(encoding="utf-8"))}


def _run(command: str, folder: Path, status: int) -> tuple[int, list[str]]:
    proc = subprocess.run(["bash", "-c", f"(exit {status}); {command}"], cwd=folder, env=ENV,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=TIMEOUT, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", errors="backslashreplace").splitlines()


def _play(block: Block, folder: Path) -> list[tuple[Command, list[str]]]:
    shown, status = [], 0
    for command in block.commands:
        status, output = _run(command.text, folder, status)
        shown.append((command, output))
    return shown


def _roots(block: Block) -> set[str]:
    """What a block writes or reads in the shared folder, as the first parts of the paths it
    names: a word with a `/` or a `.` in it (answers/bob.yaml, class.csv, variants/*/*.yaml),
    or a folder some block writes with --out (variants). problems/ is read-only. A session
    naming no path whose commands are not all convgrad's (`ls`) may read anything: `*`."""
    if block.marker is not None:  # a file block
        words = [block.marker[1]]
    else:
        words = [w.lstrip("<>") for c in block.commands
                 for w in shlex.split(c.text, comments=True)]
    roots = {w.split("/")[0] for w in words
             if w and not w.startswith("-") and ("/" in w or "." in w or w in OUT_FOLDERS)
             } - {"problems", ".", ".."}
    if not roots and not all(c.text.startswith("convgrad ") for c in block.commands):
        return {"*"}
    return roots


def _overlap(a: set[str], b: set[str]) -> bool:
    """Whether two blocks' roots may name the same path (`*.yaml` names answers.yaml)."""
    return any(fnmatch.fnmatchcase(x, y) or fnmatch.fnmatchcase(y, x) for x in a for y in b)


def _write(block: Block, folder: Path) -> None:
    assert block.marker is not None
    path = folder / block.marker[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(block.body) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list]:
    return play(tmp_path_factory.mktemp("readme"))


def play(folder: Path) -> dict[int, list[tuple[Command, list[str]]]]:
    """Every session run in `folder`; what each command printed, by the line of its fence.

    In README order, except that a block waits only for the blocks before it that name a
    path it names (_roots): the same outputs as one after the other, with the sessions that
    only read problems/ run beside the rest. Of the blocks ready, those that others wait for
    start first (generate's variants, before the solves that need nothing).
    """
    shutil.copytree(ROOT / "problems", folder / "problems")
    jobs = [b for b in BLOCKS if b in SESSIONS or (b.marker and b.marker[0] == "file")]
    roots = [_roots(b) for b in jobs]
    waits = [{j for j in range(i) if _overlap(roots[j], roots[i])} for i in range(len(jobs))]
    waited_for = [sum(i in w for w in waits) for i in range(len(jobs))]
    played: dict[int, list[tuple[Command, list[str]]]] = {}
    done: set[int] = set()
    running: dict[Future, int] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        while len(done) < len(jobs):
            ready = sorted((i for i in range(len(jobs)) if i not in done
                            and i not in running.values() and waits[i] <= done),
                           key=lambda i: (-waited_for[i], i))
            for i in ready[:max(0, (os.cpu_count() or 1) - len(running))]:
                block = jobs[i]
                job = _play if block in SESSIONS else _write
                running[pool.submit(job, block, folder)] = i
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                i = running.pop(future)
                if jobs[i] in SESSIONS:
                    played[jobs[i].line] = future.result()
                else:
                    future.result()
                done.add(i)
    for path in (ROOT / "problems").rglob("*"):  # what _roots takes for granted
        if path.is_file():
            assert path.read_bytes() == (folder / path.relative_to(ROOT)).read_bytes(), path
    return played


@pytest.mark.parametrize("block", SESSIONS, ids=[f"line{b.line}" for b in SESSIONS])
def test_the_session_prints_what_the_readme_shows(block: Block, played) -> None:
    wrong = []
    for command, output in played[block.line]:
        if not matches(command.expected, output):
            wrong.append(f"README line {command.line}: $ {command.text}\n"
                         + "".join(f"  | {line}\n" for line in output))
    assert not wrong, "prints, unlike the README:\n" + "\n".join(wrong)


def test_every_shell_block_is_a_session_or_says_why_not() -> None:
    for block in BLOCKS:
        if block.marker is not None:
            kind, value = block.marker
            assert value, f"README line {block.line}: <!-- {kind}: --> says nothing"
            if kind == "file":
                assert not Path(value).is_absolute() and ".." not in Path(value).parts
            continue
        if block.lang in SHELL_LANGS:
            assert block.commands, f"README line {block.line}: a {block.lang} block " \
                "with no `$ ` command, and no <!-- not run: why --> before it"
        if block.commands:
            assert block.body[0].startswith("$ "), \
                f"README line {block.line}: output before the first command"
    assert len(SESSIONS) >= 20  # the parser found the sessions


def test_an_elision_stands_for_any_lines_and_nothing_else() -> None:
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert matches(["...", "c"], ["a", "b", "c"])
    assert matches(["a  ", "b", ""], ["a", "b", "", ""])
    assert not matches(["a", "...", "d"], ["a", "b", "c", "e"])
    assert not matches(["a", "b"], ["a", "x"])
    assert not matches(["a"], ["a", "b"])
    assert not matches(["a", "b"], ["a"])
    assert not matches(["...  (a note)"], ["x"])


# --- the blocks that are not sessions --------------------------------------------------------
# A block with no `$ ` command and no marker (a problem file, an answers file, the Python API,
# the synopsis, the layout) is checked by one of the tests below, each finding its block by
# the start of its first line; a block none of them claims fails the test after this list.

CHECKED = {
    "convgrad solve [PROBLEM]": "test_the_synopsis_names_every_option_of_each_command",
    "dW: [[32, 41], [59, 68]]": "test_the_answers_file_example_is_all_right",
    '{"problem": "problems/seed_worked_example.yaml"':
        "test_the_shortened_compare_json_is_part_of_what_compare_prints",
    '{"problem": "problem.yaml",': "test_the_shortened_check_json_is_part_of_what_check_prints",
    "name: 5x5 input, 2x2 kernel, ReLU, 2x2 max pool":
        "test_the_template_shown_is_the_template_file",
    '{"score": 0.5, "weight": 1':
        "tests/test_prairielearn.py::test_readme_shows_what_grade_gives_variant_017_with_dw_rotated",
    "name: 3x3 input, 2x2 kernel, MSE loss": "test_the_problem_file_shown_is_the_seed_example",
    "name: 4x4 image, two 2x2 filters": "test_the_network_shown_is_its_problem_file",
    "input:                     # 2 x 1 x 4 x 4": "test_the_batch_shown_is_its_problem_file",
    "conventions: {profile: caffe, max_ties: split}":
        "test_the_conventions_line_shown_sets_the_profile_and_a_key",
    "import convgrad": "test_the_python_api_example_gives_what_its_comments_say",
    "src/convgrad/": "test_the_layout_names_every_module",
}


def _the_block(start: str) -> Block:
    found = [b for b in BLOCKS if b.body and b.body[0].startswith(start)]
    assert len(found) == 1, f"{len(found)} README blocks start with {start!r}"
    return found[0]


def _text(block: Block) -> str:
    return "\n".join(block.body) + "\n"


def test_every_other_block_is_checked() -> None:
    unchecked = [f"README line {b.line}: {b.body[0] if b.body else ''}" for b in BLOCKS
                 if not b.commands and b.marker is None and b.body
                 and not any(b.body[0].startswith(start) for start in CHECKED)]
    assert not unchecked, "blocks no test checks:\n" + "\n".join(unchecked)
    for start in CHECKED:
        _the_block(start)


def _help_options(*command: str) -> set[str]:
    """The options `convgrad COMMAND --help` lists, each by its long name."""
    out = run_main(*command, "--help")
    assert out.returncode == 0, out
    return set(re.findall(r"^│ +(--[a-z][a-z-]*)", out.stdout, re.M)) - {"--help"}


def test_no_merge_is_left_half_done() -> None:
    # A conflict's markers fall in prose the sessions do not run, where nothing else looks.
    marks = [n for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1)
             if re.match(r"(<{7}|={7}|>{7})( |$)", line)]
    assert marks == []


def test_the_synopsis_names_every_option_of_each_command() -> None:
    synopsis: dict[str, str] = {}
    for line in _the_block("convgrad solve [PROBLEM]").body:
        if line.startswith("convgrad "):
            command = line.split()[1]
            synopsis[command] = ""
        synopsis[command] += line
    assert set(synopsis) == {"solve", "explain", "check", "compare", "generate"}
    for command, text in synopsis.items():
        text = re.sub(r"(?<![\w-])-o\b", "--output", text)  # -o FILE is --output's short name
        assert set(re.findall(r"--[a-z][a-z-]*", text)) == _help_options(command), command
    readme = README.read_text(encoding="utf-8")
    for option in _help_options():  # --version, --debug
        assert f"`convgrad {option}`" in readme or f"`{option}`" in readme, option


def test_the_answers_file_example_is_all_right(tmp_path: Path) -> None:
    # Every key the example gives is graded right against the seed example (exit 0), the
    # commented-out keys are not read.
    answers = write(tmp_path, "answers.yaml", _text(_the_block("dW: [[32, 41], [59, 68]]")))
    out = run_main("check", ROOT / "problems" / "seed_worked_example.yaml", answers, "--json")
    doc = json.loads(out.stdout)
    keys = {k["key"]: k["status"] for k in doc["files"][0]["keys"]}
    assert out.returncode == 0 and doc["all_right"], out
    assert keys == dict.fromkeys(["dW", "db", "dX", "loss", "dW[1,2]"], "right")


ELIDED = "\u2026elided"


def _shortened(text: str) -> object:
    """JSON with `...` for what was left out: `...` as a member of an object is the key
    ELIDED, as an element of a list the string ELIDED."""
    out, inside, quoted, k = [], [], False, 0
    while k < len(text):
        char = text[k]
        if quoted:
            quoted = char != '"' or text[k - 1] == "\\"
        elif char == '"':
            quoted = True
        elif char in "[{":
            inside.append(char)
        elif char in "]}":
            inside.pop()
        elif text.startswith("...", k):
            out.append(f'"{ELIDED}": null' if inside[-1] == "{" else f'"{ELIDED}"')
            k += 3
            continue
        out.append(char)
        k += 1
    return json.loads("".join(out))


def _part_of(shown: object, real: object) -> bool:
    """Whether `shown` is `real` with parts left out where it says ELIDED."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return False
        keys = set(shown) - {ELIDED}
        return (keys <= set(real) if ELIDED in shown else keys == set(real)) and \
            all(_part_of(shown[k], real[k]) for k in keys)
    if isinstance(shown, list):
        if not isinstance(real, list):
            return False
        # reach[j]: the first j elements of `real` are matched by the shown elements so far
        reach = [True] + [False] * len(real)
        for element in shown:
            if element == ELIDED:
                for j in range(1, len(real) + 1):
                    reach[j] = reach[j] or reach[j - 1]
            else:
                reach = [False] + [reach[j - 1] and _part_of(element, real[j - 1])
                                   for j in range(1, len(real) + 1)]
        return reach[-1]
    return shown == real and type(shown) is type(real)


def test_the_shortened_compare_json_is_part_of_what_compare_prints() -> None:
    block = _the_block('{"problem": "problems/seed_worked_example.yaml"')
    out = run_main("compare", "problems/seed_worked_example.yaml",
                   "--conventions", "pytorch,textbook", "--json", cwd=ROOT)
    assert out.returncode == 0, out
    real = json.loads(out.stdout)
    assert _part_of(_shortened(_text(block)), real)
    # the matcher can fail: a value changed, or a key the real object lacks
    assert not _part_of(_shortened(_text(block).replace('"textbook": 96', '"textbook": 95')),
                        real)
    assert not _part_of({"problem": real["problem"], "extra": 1, ELIDED: None}, real)
    assert not _part_of({"problem": real["problem"]}, real)


def test_the_shortened_check_json_is_part_of_what_check_prints(tmp_path: Path) -> None:
    # The command the sentence before the block names, on the README's own problem.yaml (the
    # seed example, copied in the Formats session) and cho's answers (a file block).
    block = _the_block('{"problem": "problem.yaml",')
    lines = README.read_text(encoding="utf-8").splitlines()[block.line - 5:block.line - 1]
    command = re.search(r"`(convgrad check [^`]+)`", " ".join(lines))
    assert command is not None
    shutil.copy(ROOT / "problems" / "seed_worked_example.yaml", tmp_path / "problem.yaml")
    _write(_the_block("# answers/cho.yaml"), tmp_path)
    out = run_main(*shlex.split(command[1])[1:], cwd=tmp_path)
    assert out.returncode == 1, out
    assert _part_of(_shortened(_text(block)), json.loads(out.stdout))


def test_the_template_shown_is_the_template_file() -> None:
    shown = yaml.safe_load(_text(_the_block("name: 5x5 input, 2x2 kernel, ReLU, 2x2 max pool")))
    path = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    assert shown == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_the_problem_file_shown_is_the_seed_example() -> None:
    # Every key of the block at the value it shows (the defaults written out), with the seed
    # tutorial's check figures (SPEC section 2, from the seed text).
    result = convgrad.solve(_text(_the_block("name: 3x3 input, 2x2 kernel, MSE loss")))
    assert result["Y"].tolist() == [[3, 4], [6, 7]]
    assert result["loss"] == 23
    assert result["dY"].tolist() == [[1, 2], [3, 3]]
    assert result["dW"].tolist() == [[32, 41], [59, 68]]
    assert result["db"] == 9
    assert result["dX"].tolist() == [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]
    assert result.exact and result["warnings"] == [] and result.notes == []


def test_the_network_shown_is_its_problem_file() -> None:
    block = _the_block("name: 4x4 image, two 2x2 filters")
    assert "`problems/network_seed004_cnn.yaml`" in "\n".join(
        README.read_text(encoding="utf-8").splitlines()[block.line - 5:block.line])
    shown = convgrad.solve(_text(block))
    assert shown == convgrad.solve(ROOT / "problems" / "network_seed004_cnn.yaml")


def test_the_batch_shown_is_its_problem_file() -> None:
    block = _the_block("input:                     # 2 x 1 x 4 x 4")
    shown = yaml.safe_load(_text(block))
    assert shown["layers"] == ["..."]  # the block leaves the layers out, as `[...]`
    assert "# problems/batch_cs231n_two_images.yaml" in _text(block)
    path = ROOT / "problems" / "batch_cs231n_two_images.yaml"
    problem = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key in ("input", "target", "loss"):
        assert shown[key] == problem[key], key


def test_the_conventions_line_shown_sets_the_profile_and_a_key() -> None:
    shown = yaml.safe_load(_text(_the_block("conventions: {profile: caffe, max_ties: split}")))
    seed = yaml.safe_load((ROOT / "problems" / "seed_worked_example.yaml").read_text("utf-8"))
    conventions = convgrad.solve({**seed, **shown})["conventions"]
    assert conventions["profile"] == "caffe" and conventions["max_ties"] == "split"
    assert conventions["pool_ceil"] is True  # caffe's, from the profile table


def test_the_python_api_example_gives_what_its_comments_say(monkeypatch) -> None:
    # Each line `EXPRESSION  # VALUE...` of the block: the value's repr (its spaces collapsed)
    # is how the comment starts.
    code = _text(_the_block("import convgrad"))
    monkeypatch.chdir(ROOT)
    names: dict = {}
    exec(compile(code, "README.md", "exec"), names)  # the README's own example
    shown = 0
    for line in code.splitlines():
        expression, _, comment = line.partition("#")
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except SyntaxError:
            continue
        if not comment or isinstance(tree.body, ast.Name):
            continue
        value = " ".join(repr(eval(compile(tree, "README.md", "eval"), names)).split())
        assert comment.strip().startswith(value), line
        shown += 1
    assert shown == 3
    floats = names["floats"]  # "float64 arrays in, float64 out"
    assert not floats.exact and floats["dW"].dtype == np.float64 and floats["dX"].shape == (3, 8, 8)


def _folder(name: str) -> str:
    return name.rstrip("/").rpartition("/")[0]


def test_the_layout_names_every_module() -> None:
    # Each entry of the layout: a name at two spaces (src/convgrad/) or four (under the folder
    # before it), and the lines indented further that go on describing it.
    entries: dict[str, str] = {}
    folder = ""
    for line in _the_block("src/convgrad/").body[1:]:
        indent = len(line) - len(line.lstrip())
        if indent in (2, 4):
            entry = re.fullmatch(r"([\w.]+/?(?:, [\w.]+/?)*)\s*(.*)", line.strip())
            assert entry is not None, line
            names, words = entry.groups()
            if indent == 2:
                folder = names if names.endswith("/") else ""
            for name in names.split(", "):
                entries[(folder if indent == 4 else "") + name] = words
                last = (folder if indent == 4 else "") + name
        else:
            entries[last] += " " + line.strip()
    package = ROOT / "src" / "convgrad"
    modules = sorted(str(p.relative_to(package)) for p in package.rglob("*.py"))
    missing = []
    for module in modules:
        if module.startswith("layers/"):
            # layers/ is one entry: each module named in its words, as `base.py` or a kind
            if not re.search(rf"\b{Path(module).stem}\b", entries["layers/"]):
                missing.append(module)
        elif module not in entries and not module.endswith("/__init__.py") and not any(
                _folder(name) == _folder(module)
                and re.search(rf"\b{re.escape(Path(module).name)}\b", words)
                for name, words in entries.items()):
            missing.append(module)  # neither an entry nor named by an entry of its folder
    assert not missing, missing
    assert not [name for name in entries if not (package / name).exists()]


def test_the_prairielearn_question_test_scores_what_the_readme_says(tmp_path: Path) -> None:
    # "incorrect" moves the first entry of every key: 3 of dY's 4 entries right, 3 of dW's 4,
    # db (one number) wrong, 24 of dX's 25 (a 5x5 input), and the score is their mean.
    from .test_prairielearn import TEMPLATE, _generate, _server, _tester

    readme = README.read_text(encoding="utf-8")
    shown = re.search(r"\(variant 017:\s+dY\s+([0-9.]+),\s+dW\s+([0-9.]+),\s+db\s+([0-9.]+),"
                      r"\s+dX\s+([0-9.]+),\s+score\s+([0-9.]+)\)", readme)
    assert shown is not None
    by_hand = [3 / 4, 3 / 4, 0, 24 / 25]
    assert [float(v) for v in shown.groups()] == [*by_hand, sum(by_hand) / 4]
    out = _generate(TEMPLATE, tmp_path / "variants", count=30, seed=7)
    expected, sub = _tester(_server(out), (out / "question.html").read_text(encoding="utf-8"),
                            2026, "incorrect")
    assert {k: p["score"] for k, p in sub["partial_scores"].items()} == \
        dict(zip(["dY", "dW", "db", "dX"], by_hand, strict=True))
    assert sub["score"] == pytest.approx(sum(by_hand) / 4)


def test_the_markdown_excerpt_is_what_solve_writes() -> None:
    # The display math under "**markdown**" (indented as a list item's), one piece of the
    # seed example's `solve --format markdown`.
    readme = README.read_text(encoding="utf-8")
    part = readme[readme.index("- **markdown**:"):readme.index("- **latex**:")]
    shown = textwrap.dedent(part[part.index("  $$"):]).strip() + "\n"
    assert shown.count("$$") == 4
    out = run_main("solve", ROOT / "problems" / "seed_worked_example.yaml",
                   "--format", "markdown")
    assert out.returncode == 0 and shown in out.stdout


@pytest.mark.parametrize("problem", ["seed_worked_example.yaml", "fractions_and_strings.yaml",
                                     "steps_two_rounds.yaml", "network_two_conv.yaml"])
def test_every_key_of_solve_json_is_named_where_the_readme_lists_them(problem: str) -> None:
    readme = README.read_text(encoding="utf-8")
    part = readme[readme.index("Its keys: "):]
    part = part[:part.index("\n\n")]
    out = run_main("solve", ROOT / "problems" / problem, "--json")
    assert out.returncode == 0, out
    assert not [key for key in json.loads(out.stdout) if f"`{key}`" not in part]


@pytest.mark.parametrize("venv", [".venv", ".venv-floors"])
def test_ci_runs_the_readme_test_commands(venv: str) -> None:
    # The README's test command (and the one on the floors), part by part, is what .ci/run
    # runs, in that order (pip quieter there).
    command = next(b.body[0] for b in BLOCKS if b.marker and b.lang == "bash"
                   and b.body[0].startswith(f"python3 -m venv {venv} ")
                   and b.body[0].endswith("&& pytest"))
    parts = [part.strip().replace("pip install ", "pip install --quiet ")
             for part in command.split("&&")]
    assert parts[-1] == "pytest" and "'.[test]'" in parts[-2]
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()]
    at = -1
    for part in parts:
        assert part in lines[at + 1:], part
        at = lines.index(part, at + 1)


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table after `heading`, each a list of its cells."""
    readme = README.read_text(encoding="utf-8")
    lines = readme[readme.index(heading):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return [row for row in rows if not set(row[0]) <= {"-"}]


def _written(value: object) -> str:
    """A convention value as the README writes it: true, 1/2, NCHW."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_the_convention_keys_and_their_values_are_the_programs() -> None:
    from convgrad.model import CONVENTION_VALUES, PROFILES

    rows = {row[0].strip("`"): row[1] for row in _table("#### Every key")[1:]}
    assert set(rows) == {"profile", *CONVENTION_VALUES}
    assert re.findall(r"`([^`]+)`", rows["profile"]) == list(PROFILES)
    for key, values in CONVENTION_VALUES.items():
        if key != "pool_padding":  # a number, a pair or same: words, not a list
            assert re.findall(r"`([^`]+)`", rows[key]) == [_written(v) for v in values], key


def test_the_profile_table_is_what_solve_states_under_each_profile() -> None:
    header, *rows = _table("| key | pytorch |")
    profiles = [cell.split()[0] for cell in header[1:]]
    shown = {name: {} for name in profiles}
    for key, *values in rows:
        for name, value in zip(profiles, values, strict=True):
            for k, v in zip(key.split(" / "), value.split(" / "), strict=True):
                shown[name][k] = v
    seed = ROOT / "problems" / "seed_worked_example.yaml"
    for name in profiles:
        out = run_main("solve", seed, "--json", "--conventions", name)
        stated = json.loads(out.stdout)["conventions"]
        assert stated.pop("profile") == name and stated.pop("pool_padding") == 0
        assert shown[name] == {k: _written(v) for k, v in stated.items()}, name


def test_the_limits_and_exit_codes_are_the_programs() -> None:
    from convgrad import cli, engine, generate, model, numbers, reader

    limits = {row[0]: row[1] for row in _table("| limit | value |")[1:]}

    def figure(value: int) -> str:
        return f"{value // 2**20} MiB" if value % 2**20 == 0 else f"{value:,}"

    assert limits["problem or answers file"].startswith(figure(reader.MAX_FILE_BYTES))
    assert limits["values in one file"].startswith(figure(reader.MAX_YAML_VALUES))
    assert limits["nesting"].startswith(f"{reader.MAX_YAML_DEPTH} levels")
    assert limits["one number"].startswith(
        f"{numbers.MAX_DIGITS:,} characters, exponent within ±{numbers.MAX_EXPONENT:,}")
    assert limits["one solve"].startswith(f"about {figure(model.MAX_WORK_BYTES)}")
    assert limits["one kernel or pooling window"] == f"{reader.MAX_WINDOW:,} taps"
    assert limits["automatic exact arithmetic"].startswith(
        f"{engine.EXACT_LIMIT:,} multiply-adds and {figure(model.MAX_WORK_BYTES)}")
    words = " ".join(README.read_text(encoding="utf-8").split())  # wherever lines break
    assert f"`steps` is at most {reader.MAX_STEPS:,}" in words
    assert f"`--count` is at most {generate.MAX_COUNT:,}" in words
    assert f"Above {engine.EXACT_LIMIT:,} multiply-adds the automatic choice is float64" in words
    codes = [int(row[0]) for row in _table("| code | meaning |")[1:]]
    assert codes == [cli.EXIT_OK, cli.EXIT_WRONG, cli.EXIT_UNUSABLE, cli.EXIT_INTERNAL,
                     cli.EXIT_INTERRUPTED]


def test_the_large_walkthrough_step_is_what_explain_prints(tmp_path: Path) -> None:
    # The block's problem is not in problems/: it is benchmarks/bench_render.py's, written
    # here as the benchmark writes it; the walkthrough is as long as the README says.
    block = next(b for b in BLOCKS if b.marker and b.commands
                 and b.commands[0].text == "convgrad explain conv_relu_pool.yaml")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from bench_render import conv_relu_pool_problem
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    (tmp_path / "conv_relu_pool.yaml").write_text(conv_relu_pool_problem(), encoding="utf-8")
    [(command, output)] = _play(block, tmp_path)
    assert matches(command.expected, output)
    words = " ".join(README.read_text(encoding="utf-8").split())
    said = re.search(r"\(`benchmarks/bench_render.py`'s\) is ([\d,]+) lines", words)
    assert said is not None and int(said[1].replace(",", "")) == len(output)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_of_the_readme_leads_somewhere() -> None:
    readme = README.read_text(encoding="utf-8")
    outside = re.sub(r"```.*?```", "", readme, flags=re.S)  # no headings or links in blocks
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", outside, re.M)}
    assert _anchor("check --json") in anchors and "check---json" in anchors
    links = re.findall(r"\]\(([^)\s]+)\)", outside)
    assert len(links) > 20
    for link in links:
        if link.startswith("#"):
            assert link[1:] in anchors, link
        elif not link.startswith(("http://", "https://")):
            assert (ROOT / link).exists(), link
