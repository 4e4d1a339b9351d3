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
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import ROOT

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
