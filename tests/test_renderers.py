"""The formats in the renderers that read them (SPEC section 8): KaTeX renders every math
block of the Markdown and of the LaTeX fragment, pdflatex compiles every LaTeX document,
and headless Chromium shows the web page: no network request, every number with
JavaScript off, and pointing at an entry lights up exactly the entries it is made of.

Each renderer is found where CI installs it (.ci/run: `npm install --prefix .ci/js`, the
Debian packages texlive-latex-base, texlive-latex-recommended, latex-cjk-chinese and
chromium); a test whose renderer is missing is skipped, saying which.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render.formats import write
from convgrad.result import Result

from .conftest import PROBLEMS, ROOT

# Outside programs, about half a minute: a plain `pytest` leaves them out, `pytest -m
# renderers` runs them (as CI does, after the suite).
pytestmark = [
    pytest.mark.renderers,
    pytest.mark.skipif("'renderers' not in config.getoption('markexpr') or "
                       "'not renderers' in config.getoption('markexpr')",
                       reason="the real renderers: pytest -m renderers"),
]

JS = ROOT / ".ci" / "js"
SCRIPTS = Path(__file__).parent / "js"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def node_with(package: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (CI installs it with npm)")
    if not (JS / "node_modules" / package).is_dir():
        pytest.skip(f"{package} is not installed: npm install --prefix .ci/js")
    return node


def node_env() -> dict[str, str]:
    return {**os.environ, "CONVGRAD_JS": str(JS)}


@pytest.fixture(scope="module")
def outputs():
    """Every problem's solve and explain, in English and Chinese: (name, markdown, fragment,
    document)."""
    found = []
    for problem in PROBLEMS:
        solved = run(load_problem(problem))
        for explain in (False, True):
            for lang in ("en", "zh"):
                name = f"{problem.stem}-{'explain' if explain else 'solve'}-{lang}"
                found.append((name, write(solved, "markdown", explain=explain, lang=lang),
                              write(solved, "latex", explain=explain, lang=lang,
                                    fragment=True),
                              write(solved, "latex", explain=explain, lang=lang)))
    return found


# --- KaTeX -----------------------------------------------------------------------------------

_INLINE = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$")


def markdown_math(text: str) -> list[tuple[str, bool]]:
    """Display blocks ($$ on their own lines) and inline $...$ of a Markdown text."""
    displays = re.findall(r"^\$\$\n(.*?)\n\$\$$", text, flags=re.S | re.M)
    rest = re.sub(r"^\$\$\n.*?\n\$\$$", "", text, flags=re.S | re.M)
    assert "$$" not in rest, "a $$ that is not alone on its line"
    return [(d, True) for d in displays] + [(m, False) for m in _INLINE.findall(rest)]


def latex_math(text: str) -> list[tuple[str, bool]]:
    r"""\[...\], align* environments and inline $...$ of a LaTeX body."""
    displays = re.findall(r"\\\[\n(.*?)\n\\\]", text, flags=re.S)
    aligns = re.findall(r"\\begin\{align\*\}.*?\\end\{align\*\}", text, flags=re.S)
    rest = re.sub(r"\\\[\n.*?\n\\\]|\\begin\{align\*\}.*?\\end\{align\*\}", "", text,
                  flags=re.S)
    return ([(d, True) for d in displays + aligns] +
            [(m, False) for m in _INLINE.findall(rest)])


def test_katex_renders_every_math_block(outputs):
    node = node_with("katex")
    blocks: list[tuple[str, bool]] = []
    where: list[str] = []
    for name, markdown, fragment, _ in outputs:
        for source, found in (("markdown", markdown_math(markdown)),
                              ("latex fragment", latex_math(fragment))):
            assert found, (name, source)
            blocks += found
            where += [f"{name} ({source})"] * len(found)
    done = subprocess.run([node, str(SCRIPTS / "katex_check.js")], input=json.dumps(blocks),
                          capture_output=True, text=True, env=node_env(), timeout=300,
                          check=True)
    failures = json.loads(done.stdout)
    assert not failures, [(where[f["index"]], f["message"], f["tex"][:200])
                          for f in failures[:5]]
    assert len(blocks) > 500


# --- pdflatex --------------------------------------------------------------------------------


def test_pdflatex_compiles_every_document(outputs, tmp_path: Path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base)")
    kpsewhich = shutil.which("kpsewhich")
    zh = kpsewhich is not None and subprocess.run(
        [kpsewhich, "c70gbsn.fd"], capture_output=True, text=True).stdout.strip() != ""

    def compile_one(item: tuple[str, str, str, str]) -> tuple[str, int, str]:
        name, _, _, document = item
        (tmp_path / f"{name}.tex").write_text(document, encoding="utf-8")
        done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error",
                               "-no-shell-escape", f"{name}.tex"], cwd=tmp_path,
                              capture_output=True, timeout=120)
        log = done.stdout.decode("utf-8", "replace")
        pdf = tmp_path / f"{name}.pdf"
        ok = done.returncode == 0 and pdf.exists() and pdf.stat().st_size > 1000
        return name, 0 if ok else 1, log[-2000:]

    chosen = [item for item in outputs if zh or not item[0].endswith("-zh")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(compile_one, chosen))
    failed = [(name, log) for name, code, log in results if code]
    assert not failed, failed[:2]
    if not zh:
        pytest.skip("the Chinese documents need the gbsn font (Debian: "
                    "latex-cjk-chinese-arphic-gbsn00lp); the English ones compiled")


@pytest.mark.parametrize("name", [
    pytest.param("learning rate \u03b7 = 0.1, \u03bb, \u03a9", id="greek"),
    pytest.param("done \u2713 \U0001f600 \u041f\u0440\u0438", id="emoji-cyrillic"),
    pytest.param("bell \x07 escape \x1b \x01", id="control"),
    pytest.param("\u7b2c\u4e09\u9898 \u3400 \u9d28 \ud55c", id="cjk"),
])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pdflatex_compiles_a_document_whatever_the_name(name: str, lang: str, tmp_path: Path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base)")
    problem = {"name": name, "input": "1 2; 3 4", "kernel": "1", "grad_output": "1 1; 1 1"}
    (tmp_path / "name.tex").write_text(write(run(load_problem(problem)), "latex", lang=lang),
                                       encoding="utf-8")
    done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error",
                           "-no-shell-escape", "name.tex"], cwd=tmp_path, capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout.decode("utf-8", "replace")[-2000:]


# --- Chromium --------------------------------------------------------------------------------


def open_page(tmp_path: Path, page: str, names: list[str]) -> dict:
    node = node_with("puppeteer-core")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (Debian: chromium)")
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    done = subprocess.run([node, str(SCRIPTS / "page_check.js"), str(path), json.dumps(names)],
                          capture_output=True, text=True, env={**node_env(), "CHROMIUM":
                                                               CHROMIUM}, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def shown_numbers(result: Result) -> set[str]:
    """Every number of `solve --json` as the page writes it: exact ones as fractions,
    floats to 6 significant figures."""
    doc = json.loads(result.to_json())
    doc.pop("conventions")  # words, not numbers: the page states them in its first section
    values = doc.get("exact", doc)
    out: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("name", "type"):
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            out.add(value)
        else:
            text = f"{float(value):.6g}"
            out.add("0" if text == "-0" else text)

    walk(values)
    return out


def test_the_page_points_at_the_entries_of_each_term(tmp_path: Path):
    solved = run(load_problem(ROOT / "problems" / "seed_worked_example.yaml"))
    report = open_page(tmp_path, write(solved, "html"), ["Y[1,1]", "dW[1,1]", "dX[2,3]"])
    assert report["requests"] == []
    # seeds/000, by hand: y11 is made of the top-left 2x2 window of X and all of W ...
    y11 = report["pointed"]["Y[1,1]"]
    assert set(y11["lit"]) == {"X[1,1]", "X[1,2]", "X[2,1]", "X[2,2]",
                               "W[1,1]", "W[1,2]", "W[2,1]", "W[2,2]"}
    assert y11["status"].endswith("= 3")
    # ... dL/dw11 of every dL/dy and the input each met, dL/dx23 of dL/dy12·w22 + dL/dy22·w12
    assert set(report["pointed"]["dW[1,1]"]["lit"]) == {
        "X[1,1]", "X[1,2]", "X[2,1]", "X[2,2]", "dY[1,1]", "dY[1,2]", "dY[2,1]", "dY[2,2]"}
    assert set(report["pointed"]["dX[2,3]"]["lit"]) == {"dY[1,2]", "dY[2,2]", "W[2,2]",
                                                        "W[1,2]"}
    for pointed in report["pointed"].values():
        assert set(pointed["lit"]) == set(pointed["from"].split())
    assert report["cleared"] is True


@pytest.mark.parametrize("problem", ["seed_worked_example", "sigmoid_bce",
                                     "network_seed004_cnn", "multichannel_relu_maxpool"])
def test_the_page_without_javascript_holds_every_number(problem, tmp_path: Path):
    path = ROOT / "problems" / f"{problem}.yaml"
    solved = run(load_problem(path))
    result = Result.from_run(solved)
    names = ["conv1.dW[1,1,1]"] if "network" in problem else []
    report = open_page(tmp_path, write(solved, "html"), names)
    assert report["requests"] == []
    tokens = set(re.findall(r"-?[0-9][0-9.e+\-/]*", report["text"]))
    missing = shown_numbers(result) - tokens
    assert not missing, sorted(missing)[:10]
    for pointed in report["pointed"].values():
        assert pointed and set(pointed["lit"]) == set(pointed["from"].split())


def test_the_walkthrough_page_goes_step_by_step(tmp_path: Path):
    solved = run(load_problem(ROOT / "problems" / "stride2_5x5.yaml"))
    report = open_page(tmp_path, write(solved, "html", explain=True), [])
    assert report["requests"] == []
    steps = report["steps"]
    assert steps["count"] >= 8
    assert steps["before"] == [0] and steps["after"] == [1] and steps["back"] == [0]
