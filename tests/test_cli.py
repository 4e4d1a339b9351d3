"""The command line as a script sees it: stdout, stderr and exit codes, through main(argv).

The commands run in this process (`run_main` from conftest calls `convgrad.cli.main`);
what only a real process shows is in test_process.py. The two parsers, the fast one and
typer, are held to read every command line alike.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from convgrad import __version__, cli
from convgrad.cli import app

from .conftest import PROBLEMS, ROOT, one_line, run_main

runner = CliRunner()


def test_solve_json_is_one_object_with_exact_strings(seed_example):
    result = runner.invoke(app, ["solve", str(seed_example), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["loss"] == 23 and doc["db"] == 9
    assert doc["dW"] == [[32, 41], [59, 68]]
    assert doc["dX"] == [[1, 2, 0], [2, 2, 2], [-3, 0, 3]]
    assert doc["exact"]["dW"] == [["32", "41"], ["59", "68"]]
    assert doc["exact"]["loss"] == "23"
    assert list(doc) == ["Y", "dY", "dW", "db", "dX", "loss", "conventions", "exact"]
    assert doc["conventions"]["profile"] == "pytorch" and len(doc["conventions"]) == 13


def test_solve_json_float_mode_has_no_exact_key(seed_example):
    doc = json.loads(runner.invoke(app, ["solve", str(seed_example), "--json", "--float"]).stdout)
    assert "exact" not in doc
    assert doc["loss"] == 23.0


def test_json_keys_with_activation_pool_and_learning_rate():
    path = Path(__file__).parent.parent / "problems" / "fractions_and_strings.yaml"
    doc = json.loads(runner.invoke(app, ["solve", str(path), "--json"]).stdout)
    assert list(doc) == ["Y", "dY", "dW", "db", "dX", "loss", "Z", "dZ", "A", "dA", "W_new",
                         "b_new", "conventions", "exact"]
    assert set(doc["exact"]) == set(doc) - {"exact", "conventions"}
    # Strings are fractions in lowest terms, sign first.
    for text in doc["exact"]["dW"][0] + [doc["exact"]["loss"]]:
        if "/" in text:
            num, den = text.split("/")
            assert int(den) > 1 and not den.startswith("-")


def test_builtin_example_is_used_and_said_so():
    out = run_main("solve", "--json")
    assert out.returncode == 0
    assert json.loads(out.stdout)["loss"] == 23
    assert "built-in worked example" in out.stderr and len(out.stderr.splitlines()) == 1


def test_problem_from_standard_input(seed_example):
    out = run_main("solve", "-", "--json", stdin=seed_example.read_text())
    assert out.returncode == 0 and json.loads(out.stdout)["dW"] == [[32, 41], [59, 68]]


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_solve_every_problem_prints_tables_without_warnings(path):
    out = run_main("solve", str(path))
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
    out = run_main(*args, stdin=text or "")
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and key in out.stderr
    assert "Traceback" not in out.stderr


def test_forward_only_notes_the_missing_target():
    out = run_main("solve", "-", "--json", stdin="input: '1 2; 3 4'\nkernel: '1 1'\n")
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc.pop("conventions")["profile"] == "pytorch"
    assert doc == {"Y": [[3], [7]], "exact": {"Y": [["3"], ["7"]]}}
    assert "backward pass needs" in out.stderr


def test_version_and_help():
    assert run_main("--version").stdout.strip() == f"convgrad {__version__}"
    for args in (["--help"], ["solve", "--help"]):
        out = run_main(*args)
        assert out.returncode == 0 and "Usage" in out.stdout


def test_usage_errors_are_one_line_exit_2():
    for args in (["solve", "--bogus"], ["check", "only-one-file.yaml"],
                 ["check", "p.yaml", "a.yaml", "--decimals", "two"], ["explain", "--lang", "fr"]):
        out = run_main(*args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error:")
        assert out.stdout == ""


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: Path(p).name)
def test_solve_json_is_byte_for_byte_stable(path):
    # Pinned output: the single-layer form must not change as the engine grows (SPEC 5).
    # After a deliberate change, regenerate with CONVGRAD_GOLDEN=1 and read the diff.
    import os

    out = run_main("solve", str(path), "--json")
    golden = Path(__file__).parent / "golden" / "json" / (Path(path).stem + ".json")
    if os.environ.get("CONVGRAD_GOLDEN"):
        golden.write_text(out.stdout, encoding="utf-8")
    pinned = golden.read_text(encoding="utf-8")
    if "exact" in json.loads(pinned):
        assert out.stdout == pinned
    else:  # float64 sums may differ in the last bit with another BLAS: same keys, 1e-12
        got, want = json.loads(out.stdout), json.loads(pinned)
        assert list(got) == list(want)
        assert got.pop("conventions") == want.pop("conventions")
        np.testing.assert_allclose(np.asarray(_flat(got), float), np.asarray(_flat(want), float),
                                   rtol=1e-12, atol=1e-15)


def _flat(value):
    if isinstance(value, dict):
        return [v for key in value if key not in ("name", "type") for v in _flat(value[key])]
    if isinstance(value, list):
        return [v for item in value for v in _flat(item)]
    return [value]


# --- one declaration, two parsers (issue 13) ---------------------------------------------------


def test_every_declared_option_is_in_the_help():
    for command in cli.COMMANDS:
        out = run_main(command.name, "--help")
        assert out.returncode == 0, out
        assert command.help.split(":")[0] in out.stdout
        for param in cli.params(command.options):
            if param.opt.name is None:  # an argument: typer before 0.22 shows no help
                continue
            assert param.opt.name in out.stdout, (command.name, param.opt.name)
            words = param.opt.help.split()
            assert " ".join(words[:3]) in " ".join(out.stdout.split()), param.opt.help


def both(argv: list[str]):
    """The fast parser's reading of argv, checked against typer's when it has one."""
    fast = cli.fast_parse(argv)
    if fast is not None:
        assert cli._typer_parse(argv) == fast, argv
    return fast


@pytest.mark.parametrize("args", [
    ["solve", "{seed}", "--json"],
    ["solve", "{seed}", "--json", "--float"],
    ["solve", "--json", "{seed}", "--terms", "none"],
    ["solve", "{seed}", "--terms=all"],
    ["--debug", "solve", "-", "--exact"],
    ["solve"],
    ["explain", "{seed}", "--step", "--all", "--lang", "zh", "--float"],
    ["explain", "--lang=en"],
    ["check", "{seed}", "{answers}"],
    ["check", "{seed}", "{answers}", "--json", "--no-reveal"],
    ["check", "{seed}", "{answers}", "--decimals", "2", "--summary"],
    ["check", "{seed}", "{answers}", "{answers}", "-", "--rtol", "1e-3", "--atol=0.5"],
    ["check", "{seed}", "{answers}", "--sig-figs", "3", "--partial", "--exact"],
    ["check", "-", "{answers}", "--points", "dW=2", "--points=db=1", "--require", "loss"],
    ["check", "{seed}", "--gradescope", "gs.json", "{answers}",
     "--gradescope-visibility", "hidden"],
    ["check", "{seed}", "{answers}", "--rtol", "-1", "--decimals", "-3"],
    ["check", "{seed}", "{answers}", "--points", "", "--gradescope", "-"],
    ["compare", "{seed}", "--conventions", "pytorch,textbook"],
    ["compare", "--json", "{seed}", "--conventions=textbook,pytorch", "--float"],
    ["compare", "{seed}", "--conventions", "pytorch"],
])
def test_the_fast_parser_reads_as_typer_does_and_the_output_is_the_same(args, seed_example,
                                                                         tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("dW: [[32, 41], [59, 68]]\ndb: -9\n", encoding="utf-8")
    argv = [a.format(seed=seed_example, answers=answers) for a in args]
    assert both(argv) is not None  # read without typer in a real process
    if "-" in argv or "--step" in argv or "--gradescope" in argv:
        return
    fast = run_main(*argv)
    slow = runner.invoke(app, argv)  # typer reads the options and runs the command
    assert fast.returncode == slow.exit_code
    assert fast.stdout == slow.stdout


@pytest.mark.parametrize("argv", [
    [], ["--version"], ["--help"], ["-h"], ["solve", "--help"], ["check", "p.yaml", "-h"],
    ["check", "p.yaml"], ["check"], ["check", "p.yaml", "a.yaml", "--bogus"],
    ["check", "p", "a", "--decimals", "two"], ["check", "p", "a", "--decimals", "1.5"],
    ["check", "p", "a", "--rtol", "nan"], ["check", "p", "a", "--rtol", "1_000"],
    ["check", "p", "a", "--rtol", "1e999"], ["check", "p", "a", "--atol", "9" * 400 + "e99"],
    ["check", "p", "a", "--decimals", "9" * 5000], ["check", "p", "a", "--sig-figs", "+3"],
    ["check", "p", "a", "--rtol"], ["check", "p", "a", "--json=yes"],
    ["check", "p", "a", "--gradescope", "--json"], ["solve", "--terms", "ALL"],
    ["solve", "a.yaml", "b.yaml"], ["solve", "--", "a.yaml"], ["solve", "-x"],
    ["solve", "--debug"], ["frobnicate"], ["--debug"], ["--version", "solve"],
    ["compare"], ["compare", "p.yaml", "--conventions"], ["compare", "--help"],
])
def test_the_fast_parser_leaves_everything_else_to_typer(argv):
    assert cli.fast_parse(argv) is None


def test_usage_errors_are_typers_whichever_parser_was_tried(capsys):
    # Typer reads, and refuses, whatever the fast parser is not sure of.
    assert cli.parse(["check", "p", "a", "--decimals", "two"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--decimals" in err and err.count("\n") == 1


TOKENS = ["solve", "explain", "check", "compare", "--conventions", "pytorch,textbook",
          "--debug", "--json", "--exact", "--float", "--terms",
          "all", "auto", "none", "--step", "--all", "--lang", "en", "zh", "--no-reveal",
          "--rtol", "--atol", "--decimals", "--sig-figs", "--summary", "--points", "--require",
          "--partial", "--gradescope", "--gradescope-visibility", "--rtol=0.5", "--points=db=1",
          "-", "p.yaml", "a.yaml", "dW=2", "1", "-1", "0.25", "1e-3", ".5", "07", "x", ""]


COMMAND_LINES = st.tuples(st.sampled_from([[], ["--debug"]]),
                          st.sampled_from(["solve", "explain", "check", "compare"]),
                          st.lists(st.sampled_from(TOKENS), max_size=8))


@settings(max_examples=400, deadline=None, database=None)
@given(st.one_of(COMMAND_LINES.map(lambda t: [*t[0], t[1], *t[2]]),
                 st.lists(st.sampled_from(TOKENS), max_size=8)))
def test_the_fast_parser_never_reads_a_command_line_otherwise_than_typer(argv):
    both(argv)


# --- the process's faults, in-process --------------------------------------------------------


@pytest.mark.parametrize("args", [["solve", "{seed}", "--json"],
                                  ["solve", "--json", "--", "{seed}"]], ids=["fast", "typer"])
def test_ctrl_c_is_one_line_and_exit_130(args, monkeypatch, seed_example):

    def interrupted(*args, **kwargs):
        raise cli._Interrupted

    monkeypatch.setattr("convgrad.engine.run", interrupted)
    argv = [a.format(seed=seed_example) for a in args]
    assert (cli.fast_parse(argv) is None) == ("--" in argv)  # read by typer, then run alike
    run = run_main(*argv)
    assert run.returncode == 130
    assert run.stderr == "interrupted\n" and run.stdout == ""


def test_ctrl_c_handler_is_put_back(seed_example):
    import signal

    before = signal.getsignal(signal.SIGINT)
    out = run_main("solve", str(seed_example), "--json")
    assert out.returncode == 0
    assert signal.getsignal(signal.SIGINT) is before
    assert json.loads(out.stdout)["loss"] == 23


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


def test_solve_json_refuses_a_float_overflow(tmp_path):
    path = tmp_path / "overflow.yaml"
    path.write_text('input: "1e200 1e200; 3 4"\nkernel: "1"\ntarget: "0 1; 1 0"\n',
                    encoding="utf-8")
    run = run_main("solve", str(path), "--json", "--float")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "overflows float64" in run.stderr


@pytest.mark.parametrize("args", [["-", "-"], ["PROBLEM", "-", "-"]])
def test_check_reads_standard_input_once(args: list[str]) -> None:
    # the second '-' found standard input empty: "<stdin>: unusable: no answers in the file"
    problem = ROOT / "problems" / "seed_worked_example.yaml"
    args = [str(problem) if a == "PROBLEM" else a for a in args]
    done = run_main("check", *args, stdin=problem.read_text(encoding="utf-8")
                    if args[0] == "-" else "db: 9\n")
    assert done.returncode == 2 and done.stdout == ""
    assert "standard input" in one_line(done) and "once" in done.stderr


def test_command_help_has_no_line_break_inside_a_paragraph():
    # the help shows a docstring's line breaks as they are: generate's summary broke after
    # "answer key and blank" in the middle of convgrad --help's list of commands
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph.strip(), (name, paragraph)



@pytest.mark.parametrize("name, problem", [
    ("sigmoid", {"activation": "sigmoid"}),
    ("tanh", {"activation": "tanh"}),
    ("softmax", {"layers": [{"conv": {"kernel": "1"}}, "softmax"]}),
    ("log_softmax", {"layers": [{"conv": {"kernel": "1"}}, "log_softmax"]}),
    ("batch_norm", {"layers": [{"conv": {"kernel": "1"}}, {"batch_norm": {"mode": "train"}}]}),
])
def test_exact_help_names_every_layer_that_exact_arithmetic_refuses(name, problem):
    # --exact's help lists what it fails on: each layer the engine refuses, and each loss.
    from convgrad import ProblemError, solve
    from convgrad.cli import EXACT_HELP
    from convgrad.model import IRRATIONAL_LOSSES

    data = {"input": "1 2; 3 4", "grad_output": "1 1; 1 1", **problem}
    if "layers" not in data:
        data["kernel"] = "1"
    with pytest.raises(ProblemError, match="exact arithmetic needs a rational"):
        solve(data, exact=True)
    assert re.search(rf"\b{name}\b", EXACT_HELP)
    assert all(re.search(rf"\b{loss}\b", EXACT_HELP) for loss in IRRATIONAL_LOSSES)


@pytest.mark.parametrize("argv, what", [
    (["solve", "-"], "problem"), (["explain", "-"], "problem"),
    (["compare", "-", "--conventions", "pytorch,caffe"], "problem"),
    (["generate", "-", "--count", "1", "--seed", "0", "--out", "OUT"], "template"),
])
def test_a_closed_standard_input_is_one_line_and_exit_2(monkeypatch, tmp_path, argv, what):
    # A script run with 0<&- has no sys.stdin at all: '-' is refused before anything is read.
    import io
    import sys
    from contextlib import redirect_stderr, redirect_stdout

    monkeypatch.setattr(sys, "stdin", None)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main([a.replace("OUT", str(tmp_path / "out")) for a in argv])
    assert (code, out.getvalue()) == (cli.EXIT_UNUSABLE, "")
    assert err.getvalue() == f"error: <stdin>: standard input is closed; give a {what} file\n"
    assert not (tmp_path / "out").exists()


def test_check_s_answers_from_a_closed_standard_input_speak_of_answers(monkeypatch):
    # check p.yaml - 0<&-: that file is unusable, and what to give is an answers file; it
    # read 'there is no standard input to read the problem from', the problem being a file
    import io
    import sys
    from contextlib import redirect_stderr, redirect_stdout

    monkeypatch.setattr(sys, "stdin", None)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(["check", str(ROOT / "problems" / "seed_worked_example.yaml"), "-",
                         "--json"])
    (report,) = json.loads(out.getvalue())["files"]
    assert (code, err.getvalue()) == (cli.EXIT_UNUSABLE, "")
    assert report["error"] == "<stdin>: standard input is closed; give an answers file"


@pytest.mark.parametrize("argv, option", [
    (["generate", "{template}", "--seed", "1_0"], "--seed"),
    (["generate", "{template}", "--count=1_0"], "--count"),
    (["generate", "{template}", "--format", "moodle", "--decimals", "0_2"], "--decimals"),
    (["generate", "{template}", "--format", "moodle", "--sig-figs", "1_2"], "--sig-figs"),
    (["check", "{seed}", "{seed}", "--decimals", "1_0"], "--decimals"),
    (["check", "{seed}", "{seed}", "--sig-figs=1_0"], "--sig-figs"),
    (["check", "{seed}", "{seed}", "--rtol", "1_0.5"], "--rtol"),
    (["--debug", "check", "{seed}", "{seed}", "--atol", "1e-0_3"], "--atol"),
])
def test_a_number_with_an_underscore_is_refused_as_a_problem_file_refuses_it(
        argv, option, seed_example, tmp_path):
    # Python's int() and float() read '1_0' as 10; a problem file refuses 1_000.
    template = ROOT / "problems" / "templates" / "relu_maxpool.yaml"
    argv = [a.format(seed=seed_example, template=template) for a in argv]
    run = run_main(*argv, *(["--out", tmp_path / "out"] if "generate" in argv else []))
    line = one_line(run)
    assert run.returncode == 2 and run.stdout == ""
    assert f"'{option}'" in line and "without '_'" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--rtol", "--atol"])
@pytest.mark.parametrize("text", ["1e-400", "1e-4000", "-2.5e-999", "0.000001e-320"])
def test_a_tolerance_that_underflows_to_0_is_refused_not_read_as_0(option, text, seed_example):
    assert float(text) == 0  # what Python would read: exact equality, not what was asked
    run = run_main("check", seed_example, seed_example, option, text)
    line = one_line(run)
    assert run.returncode == 2 and run.stdout == ""
    assert f"'{option}'" in line and "reads it as 0" in line


@pytest.mark.parametrize("command", ["check", "generate"])
@pytest.mark.parametrize("text", ["1e-320", "2e-308", "5e-324"])
def test_a_subnormal_tolerance_is_refused(command, text, seed_example, tmp_path):
    import sys
    assert 0 < float(text) < sys.float_info.min
    args = [seed_example, seed_example] if command == "check" else \
        [ROOT / "problems" / "templates" / "relu_maxpool.yaml", "--out", tmp_path / "out",
         "--format", "moodle"]
    run = run_main(command, *args, "--atol", text)
    line = one_line(run)
    assert run.returncode == 2 and run.stdout == ""
    assert line.startswith(f"error: --atol {float(text)!r} is below the smallest normal")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["0", "0.0", "0e-500", "2.2250738585072014e-308", "1e-3"])
def test_a_tolerance_of_0_or_a_normal_float_is_read(text, seed_example, tmp_path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("db: -9\n", encoding="utf-8")
    run = run_main("check", seed_example, answers, "--atol", text, "--json")
    assert run.returncode in (0, 1), run
    assert json.loads(run.stdout)["tolerance"]["atol"] == float(text)
