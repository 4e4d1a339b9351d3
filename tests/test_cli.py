"""The command line as a script sees it: stdout, stderr and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from convgrad import __version__
from convgrad.cli import app

from .conftest import PROBLEMS

runner = CliRunner()


def convgrad(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "convgrad", *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_solve_json_is_one_object_with_exact_strings(seed_example):
    result = runner.invoke(app, ["solve", str(seed_example), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["loss"] == 23 and doc["db"] == 9
    assert doc["dW"] == [[32, 41], [59, 68]]
    assert doc["dX"] == [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]
    assert doc["exact"]["dW"] == [["32", "41"], ["59", "68"]]
    assert doc["exact"]["loss"] == "23"
    assert list(doc) == ["Y", "dY", "dW", "db", "dX", "loss", "exact"]


def test_solve_json_float_mode_has_no_exact_key(seed_example):
    doc = json.loads(runner.invoke(app, ["solve", str(seed_example), "--json", "--float"]).stdout)
    assert "exact" not in doc
    assert doc["loss"] == 23.0


def test_json_keys_with_activation_pool_and_learning_rate():
    path = Path(__file__).parent.parent / "problems" / "fractions_and_strings.yaml"
    doc = json.loads(runner.invoke(app, ["solve", str(path), "--json"]).stdout)
    assert list(doc) == ["Y", "dY", "dW", "db", "dX", "loss", "Z", "dZ", "A", "dA", "W_new",
                         "b_new", "exact"]
    assert set(doc["exact"]) == set(doc) - {"exact"}
    # Strings are fractions in lowest terms, sign first.
    for text in doc["exact"]["dW"][0] + [doc["exact"]["loss"]]:
        if "/" in text:
            num, den = text.split("/")
            assert int(den) > 1 and not den.startswith("-")


def test_builtin_example_is_used_and_said_so():
    out = convgrad("solve", "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout)["loss"] == 23
    assert "built-in worked example" in out.stderr and len(out.stderr.splitlines()) == 1


def test_problem_from_standard_input(seed_example):
    out = convgrad("solve", "-", "--json", stdin=seed_example.read_text())
    assert out.returncode == 0 and json.loads(out.stdout)["dW"] == [[32, 41], [59, 68]]


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_solve_every_problem_prints_tables_without_warnings(path):
    out = convgrad("solve", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "Results" in out.stdout and "dX" in out.stdout and "Traceback" not in out.stdout


@pytest.mark.parametrize("args, text, key", [
    (["solve", "no/such/file.yaml"], None, "no such file"),
    (["solve", "-"], "input: [[1, 2], [3, 4]]\nkernal: [[1]]\n", "did you mean 'kernel'"),
    (["solve", "-"], "input: [[1, 2]\n", "YAML syntax error"),
    (["solve", "-", "--exact"], "input: '1 2; 3 4'\nkernel: '1'\nactivation: tanh\n"
                                "target: '0 0; 0 0'\n", "exact"),
    (["solve", "-"], "input: '1 2; 3 4'\nkernel: '1 2 3; 4 5 6; 7 8 9'\n", "must fit"),
])
def test_bad_input_is_one_line_on_stderr_exit_2(args, text, key):
    out = convgrad(*args, stdin=text)
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and key in out.stderr
    assert "Traceback" not in out.stderr


def test_forward_only_notes_the_missing_target():
    out = convgrad("solve", "-", "--json", stdin="input: '1 2; 3 4'\nkernel: '1 1'\n")
    assert out.returncode == 0
    assert json.loads(out.stdout) == {"Y": [[3], [7]], "exact": {"Y": [["3"], ["7"]]}}
    assert "backward pass needs" in out.stderr


def test_version_and_help():
    assert convgrad("--version").stdout.strip() == f"convgrad {__version__}"
    for args in (["--help"], ["solve", "--help"]):
        out = convgrad(*args)
        assert out.returncode == 0 and "Usage" in out.stdout


@pytest.mark.parametrize("args", [
    ["solve", "{seed}", "--json"],
    ["solve", "{seed}", "--json", "--float"],
    ["solve", "--json", "{seed}", "--terms", "none"],
    ["check", "{seed}", "{answers}"],
    ["check", "{seed}", "{answers}", "--json", "--no-reveal"],
    ["check", "{seed}", "{answers}", "--decimals", "2", "--summary"],
])
def test_fast_path_and_typer_give_the_same_output(args, seed_example, tmp_path):
    from convgrad.cli import _fast_args

    answers = tmp_path / "answers.yaml"
    answers.write_text("dW: [[32, 41], [59, 68]]\ndb: -9\n", encoding="utf-8")
    argv = [a.format(seed=seed_example, answers=answers) for a in args]
    assert _fast_args(argv) is not None  # these calls skip typer in a real process
    fast = convgrad(*argv)
    slow = runner.invoke(app, argv)
    assert fast.returncode == slow.exit_code
    assert fast.stdout == slow.stdout


@pytest.mark.parametrize("argv", [["solve"], ["solve", "x.yaml"], ["solve", "--help"],
                                  ["check", "p.yaml"], ["check", "p.yaml", "a.yaml", "--bogus"],
                                  ["check", "p", "a", "--decimals", "two"], ["explain"],
                                  ["--version"], []])
def test_fast_path_leaves_everything_else_to_typer(argv):
    from convgrad.cli import _fast_args

    assert _fast_args(argv) is None


def test_usage_errors_are_one_line_exit_2():
    for args in (["solve", "--bogus"], ["check", "only-one-file.yaml"],
                 ["check", "p.yaml", "a.yaml", "--decimals", "two"], ["explain", "--lang", "fr"]):
        out = convgrad(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error:")
        assert out.stdout == ""


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_solve_json_is_byte_for_byte_stable(path):
    # Pinned output: the single-layer form must not change as the engine grows (SPEC 5).
    # After a deliberate change, regenerate with CONVGRAD_GOLDEN=1 and read the diff.
    import os

    out = convgrad("solve", str(path), "--json")
    golden = Path(__file__).parent / "golden" / "json" / (Path(path).stem + ".json")
    if os.environ.get("CONVGRAD_GOLDEN"):
        golden.write_text(out.stdout, encoding="utf-8")
    pinned = golden.read_text(encoding="utf-8")
    if "exact" in json.loads(pinned):
        assert out.stdout == pinned
    else:  # float64 sums may differ in the last bit with another BLAS: same keys, 1e-12
        got, want = json.loads(out.stdout), json.loads(pinned)
        assert list(got) == list(want)
        np.testing.assert_allclose(np.asarray(_flat(got), float), np.asarray(_flat(want), float),
                                   rtol=1e-12, atol=1e-15)


def _flat(value):
    if isinstance(value, dict):
        return [v for key in value if key not in ("name", "type") for v in _flat(value[key])]
    if isinstance(value, list):
        return [v for item in value for v in _flat(item)]
    return [value]


# --- issue 12: the process's faults, in-process ----------------------------------------------


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys, seed_example):
    from convgrad import cli

    def interrupted(**options):
        raise cli._Interrupted

    monkeypatch.setattr(cli, "run_solve", interrupted)
    assert cli._main(["solve", str(seed_example), "--json"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "interrupted\n" and captured.out == ""


def test_ctrl_c_handler_is_put_back(seed_example, capsys):
    import signal

    from convgrad import cli

    before = signal.getsignal(signal.SIGINT)
    assert cli._main(["solve", str(seed_example), "--json"]) == 0
    assert signal.getsignal(signal.SIGINT) is before
    assert json.loads(capsys.readouterr().out)["loss"] == 23


@pytest.mark.parametrize("given, during", [("0", None), ("abc", None), ("5", "40"),
                                           ("120", "120")])
def test_columns_for_typer_help_and_put_back(given, during, monkeypatch):
    import os

    from convgrad.cli import _usable_columns

    monkeypatch.setenv("COLUMNS", given)
    with _usable_columns():
        assert os.environ.get("COLUMNS") == during
    assert os.environ["COLUMNS"] == given


def test_other_warnings_become_one_note(capsys):
    import warnings

    from convgrad.cli import _numpy_quiet

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with _numpy_quiet():
            np.exp(np.array([1e308]))  # overflow: silent
            warnings.warn("something odd", UserWarning, stacklevel=1)
            warnings.warn("something odd", UserWarning, stacklevel=1)
    assert capsys.readouterr().err == "note: something odd\n"


def test_solve_json_refuses_a_float_overflow(tmp_path, capsys):
    from convgrad import cli

    path = tmp_path / "overflow.yaml"
    path.write_text('input: "1e200 1e200; 3 4"\nkernel: "1"\ntarget: "0 1; 1 0"\n',
                    encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["solve", str(path), "--json", "--float"])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "overflows float64" in captured.err
