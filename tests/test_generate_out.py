"""generate --out DIR into a folder that exists (SPEC section 9): a folder of generate's own
files is rewritten to hold exactly what the command writes (the same command, the same bytes;
another one, nothing stale), and a folder holding anything else (a student's answers beside a
variant) stops generate before it writes, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import one_line, run_main

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "problems" / "templates" / "relu_maxpool.yaml"


def generate(out: Path, count: int, *more: object) -> None:
    done = run_main("generate", TEMPLATE, "--count", count, "--seed", 5, "--out", out, *more)
    assert done.returncode == 0, done


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under folder (and every folder, as b"<dir>"), by its relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("before", [
    (3, "--format", "moodle"),
    (4, "--format", "prairielearn"),
    (2,),
    (1,),
])
def test_a_folder_of_generate_s_own_files_holds_only_the_new_ones(
        tmp_path: Path, before: tuple) -> None:
    fresh, reused = tmp_path / "fresh", tmp_path / "reused"
    generate(fresh, 2)
    generate(reused, *before)
    generate(reused, 2)
    assert tree(reused) == tree(fresh)
    assert sorted(tree(fresh)) == ["001", "001/answers.yaml", "001/blank.yaml",
                                   "001/problem.yaml", "002", "002/answers.yaml",
                                   "002/blank.yaml", "002/problem.yaml", "manifest.json"]


def test_the_same_command_again_gives_the_same_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(out, 3, "--format", "prairielearn")
    first = tree(out)
    generate(out, 3, "--format", "prairielearn")
    assert tree(out) == first
    assert {"info.json", "question.html", "server.py", "template.yaml"} <= set(first)


def test_a_wider_count_renames_the_folders(tmp_path: Path) -> None:
    # 1000 variants would take long: an old three-digit folder beside four-digit ones is
    # what a smaller count after a larger leaves; the folder names alone are checked here
    out = tmp_path / "out"
    generate(out, 2)
    (out / "0001").mkdir()
    (out / "0001" / "problem.yaml").write_text("x: 1\n", encoding="utf-8")
    generate(out, 2)
    assert sorted(p.name for p in out.iterdir()) == ["001", "002", "manifest.json"]


@pytest.mark.parametrize("stray, named", [
    ("002/bob.yaml", "002/bob.yaml"),
    ("notes.txt", "notes.txt"),
    ("submissions/alice.yaml", "submissions"),
    ("007/answers/alice.yaml", "007/answers"),
])
def test_a_folder_holding_other_files_stops_generate_before_it_writes(
        tmp_path: Path, stray: str, named: str) -> None:
    out = tmp_path / "week5"
    generate(out, 3)
    (out / stray).parent.mkdir(parents=True, exist_ok=True)
    (out / stray).write_text("dW: [[1]]\n", encoding="utf-8")
    before = tree(out)
    done = run_main("generate", TEMPLATE, "--count", 1, "--seed", 9, "--out", out,
                    "--format", "moodle")
    assert done.returncode == 2, done
    line = one_line(done)
    assert str(out / named) in line, line
    assert "new --out" in line and "move" in line, line
    assert done.stdout == ""
    assert tree(out) == before  # nothing written, nothing removed


def test_a_student_file_is_named_first_in_order(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(out, 3)
    for name in ("003/carol.yaml", "002/bob.yaml"):
        (out / name).write_text("db: 1\n", encoding="utf-8")
    line = one_line(run_main("generate", TEMPLATE, "--count", 3, "--out", out))
    assert str(out / "002" / "bob.yaml") in line and "carol" not in line, line


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    fresh = tmp_path / "fresh"
    generate(out, 2)
    generate(fresh, 2)
    assert tree(out) == tree(fresh)


def test_server_py_s_byte_code_is_generate_s_own(tmp_path: Path) -> None:
    # Importing server.py to try it (as PrairieLearn does) leaves __pycache__ beside it: a
    # rebuild removes it rather than refusing the folder
    out = tmp_path / "out"
    generate(out, 2, "--format", "prairielearn")
    first = tree(out)
    (out / "__pycache__").mkdir()
    (out / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"\0")
    generate(out, 2, "--format", "prairielearn")
    assert tree(out) == first


def test_a_run_that_stops_partway_leaves_no_manifest(tmp_path: Path, monkeypatch) -> None:
    # A full disk after the first variant of a run with another seed: the earlier run's
    # manifest (seed 5) stayed over folder 001 of seed 6 and 002, 003 of seed 5, and
    # check DIR graded each student against that mixture as a generated set
    import errno

    from convgrad import generate as gen

    out = tmp_path / "variants"
    generate(out, 3)
    before = tree(out)
    written = gen.problem_file

    def full_after_one(variant: object) -> str:
        if (out / "001" / "problem.yaml").read_bytes() != before["001/problem.yaml"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return written(variant)  # type: ignore[arg-type]

    monkeypatch.setattr(gen, "problem_file", full_after_one)
    done = run_main("generate", TEMPLATE, "--count", 3, "--seed", 6, "--out", out)
    assert done.returncode == 2
    assert one_line(done) == (f"error: --out {out}: cannot write the variants (No space left "
                              "on device)")
    assert (out / "001" / "problem.yaml").read_bytes() != before["001/problem.yaml"]
    assert not (out / "manifest.json").exists()
    (out / "002" / "alice.yaml").write_text("db: 1\n", encoding="utf-8")
    graded = run_main("check", out, out / "002" / "alice.yaml")
    assert graded.returncode == 2 and "without manifest.json" in one_line(graded)
    (out / "002" / "alice.yaml").unlink()
    monkeypatch.setattr(gen, "problem_file", written)
    generate(out, 3)  # the folder is generate's own: the run again completes it
    assert tree(out) == before
